//! The live display of a play on a TTY: one overall bar (tasks done of the
//! play's total, tasks per second, ETA, hosts done), and below it the hosts
//! in flight with the task each is running, at most [`SLOTS`] lines. Result
//! lines print above it as they come. It draws; it decides nothing.

use std::collections::BTreeMap;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

/// How many hosts in flight are shown, one line each; more are counted on
/// the last line.
pub const SLOTS: usize = 6;

/// One play's display.
pub struct Live {
    multi: MultiProgress,
    overall: ProgressBar,
    slots: Vec<ProgressBar>,
    /// Host → its current task, for the hosts in flight.
    in_flight: BTreeMap<String, String>,
    hosts: usize,
    hosts_done: usize,
}

impl Live {
    /// The display of a play of `hosts` hosts and `tasks` selected tasks.
    pub fn start(hosts: usize, tasks: usize) -> Live {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stdout());
        let overall = multi.add(ProgressBar::new((hosts * tasks) as u64));
        overall.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} tasks  {rate}  ETA {eta}  {msg}",
            )
            .expect("static template")
            .with_key("rate", |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{:.1}/s", state.per_sec());
            }),
        );
        overall.enable_steady_tick(Duration::from_millis(120));
        let slots = (0..hosts.min(SLOTS))
            .map(|_| {
                let slot = multi.add(ProgressBar::new_spinner());
                slot.set_style(ProgressStyle::with_template("  {wide_msg}").expect("static template"));
                slot
            })
            .collect();
        let live = Live { multi, overall, slots, in_flight: BTreeMap::new(), hosts, hosts_done: 0 };
        live.redraw();
        live
    }

    /// Prints a line above the bars.
    pub fn println(&self, text: &str) {
        // A closed terminal is not worth a panic.
        let _ = self.multi.println(text);
    }

    /// A host started a task.
    pub fn task_started(&mut self, host: &str, task: &str) {
        self.in_flight.insert(host.to_owned(), task.to_owned());
        self.redraw();
    }

    /// A task failed on a host: its line says so until the host goes on
    /// (a rescue) or is done.
    pub fn task_failed(&mut self, host: &str, task: &str) {
        self.in_flight.insert(host.to_owned(), format!("failed at {task}"));
        self.redraw();
    }

    /// A task result arrived.
    pub fn task_done(&self) {
        self.overall.inc(1);
    }

    /// A host finished the play (or was found unreachable).
    pub fn host_done(&mut self, host: &str) {
        if self.in_flight.remove(host).is_some() || self.hosts_done < self.hosts {
            self.hosts_done = (self.hosts_done + 1).min(self.hosts);
        }
        self.redraw();
    }

    /// Clears the display (the recap or the next play comes next).
    pub fn finish(self) {
        for slot in &self.slots {
            slot.finish_and_clear();
        }
        self.overall.finish_and_clear();
        let _ = self.multi.clear();
    }

    fn redraw(&self) {
        self.overall.set_message(format!("hosts {}/{} done", self.hosts_done, self.hosts));
        let lines = slot_lines(&self.in_flight, self.slots.len());
        for (slot, line) in self.slots.iter().zip(lines) {
            slot.set_message(line);
        }
    }
}

/// The lines of the in-flight slots: one host each, the last one counting
/// the hosts that do not fit; empty lines for idle slots.
fn slot_lines(in_flight: &BTreeMap<String, String>, slots: usize) -> Vec<String> {
    let mut lines: Vec<String> = in_flight.iter().map(|(h, t)| format!("{h}: {t}")).collect();
    if lines.len() > slots && slots > 0 {
        let hidden = lines.len() - (slots - 1);
        lines.truncate(slots - 1);
        lines.push(format!("... and {hidden} more hosts"));
    }
    lines.resize(slots, String::new());
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_that_do_not_fit_are_counted_on_the_last_line() {
        let in_flight: BTreeMap<String, String> =
            (1..=8).map(|i| (format!("web{i}"), "Install packages".to_owned())).collect();
        let lines = slot_lines(&in_flight, 3);
        assert_eq!(lines, ["web1: Install packages", "web2: Install packages", "... and 6 more hosts"]);
        let few: BTreeMap<String, String> = [("db".to_owned(), "ping".to_owned())].into();
        assert_eq!(slot_lines(&few, 3), ["db: ping", "", ""]);
    }
}
