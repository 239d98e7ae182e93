//! The terminal reporter: plain lines (CI, pipes, NO_COLOR), progress bars
//! (a TTY), or quiet. It consumes executor events; it never decides anything.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;

use stead::exec::{Event, EventSink, RemoteTrace, Status, TaskRecord};
use stead::report::HostReport;

use super::args::OutputMode;
use super::live::Live;

/// How the terminal reporter behaves, resolved from `--output` and the environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Progress bars.
    Progress,
    /// Plain lines.
    Plain,
    /// Failures and the recap only.
    Quiet,
}

/// Resolves `--output auto` per CONTRACT §1.
pub fn resolve_style(mode: OutputMode) -> Style {
    match mode {
        OutputMode::Progress => Style::Progress,
        OutputMode::Plain => Style::Plain,
        OutputMode::Quiet => Style::Quiet,
        OutputMode::Auto => {
            let tty = std::io::stdout().is_terminal();
            if tty && std::env::var_os("CI").is_none() && std::env::var_os("NO_COLOR").is_none() {
                Style::Progress
            } else {
                Style::Plain
            }
        }
    }
}

/// Whether to use colors.
pub fn use_color() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// The terminal event sink.
pub struct Terminal {
    style: Style,
    color: bool,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    live: Option<Live>,
    current_task: Option<String>,
    /// Failures of held results printed the moment they happened (live
    /// display only), as (host, task): not printed again on replay.
    shown_early: std::collections::HashSet<(String, String)>,
}

/// Shows control characters of host data (a file's content in a diff, a
/// command's stderr) as `\x1b` escapes, so that they cannot drive the
/// terminal; tabs stay.
fn visible(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && c != '\t' && c != '\n' {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

fn paint(color: bool, code: &str, text: &str) -> String {
    if color {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_owned()
    }
}

impl Terminal {
    /// A reporter with this style. Whether a task's diff is shown is the
    /// executor's decision (`--diff` or the task's `diff:`), carried by each
    /// record.
    pub fn new(style: Style) -> Self {
        Terminal { style, color: use_color(), state: Mutex::new(State::default()) }
    }

    fn line(&self, state: &State, text: &str) {
        match &state.live {
            Some(live) => live.println(text),
            None => {
                // A closed pipe (e.g. `| head`) is not an error worth a panic.
                let _ = writeln!(std::io::stdout().lock(), "{text}");
            }
        }
    }

    fn record(&self, state: &mut State, r: &TaskRecord) {
        if self.style == Style::Quiet && r.status != Status::Failed {
            return;
        }
        if self.style == Style::Plain && state.current_task.as_deref() != Some(&r.task) {
            state.current_task = Some(r.task.clone());
            let title = if r.handler { "RUNNING HANDLER" } else { "TASK" };
            self.line(state, &format!("\n{title} [{}]", r.task));
        }
        let (word, code) = match (r.status, r.ignored, r.rescued) {
            (Status::Ok, ..) => ("ok", "32"),
            (Status::Changed, ..) => ("changed", "33"),
            (Status::Skipped, ..) => ("skipping", "36"),
            (Status::Failed, true, _) => ("failed (ignored)", "31"),
            (Status::Failed, false, true) => ("failed (rescued)", "31"),
            (Status::Failed, false, false) => ("failed", "31"),
        };
        let mut text = format!("{}: [{}]", paint(self.color, code, word), r.host);
        if self.style != Style::Plain {
            text.push_str(&format!(" {}", r.task));
        }
        for (label, _) in &r.items {
            text.push_str(&format!("\n    item: {label}"));
        }
        if let Some(msg) = &r.msg {
            if r.status == Status::Failed || r.show_msg {
                for l in visible(msg).lines() {
                    text.push_str(&format!("\n    {l}"));
                }
            }
        }
        self.line(state, &text);
        if r.show_diff && self.style != Style::Quiet {
            if let Some(diff) = &r.diff {
                let diff = visible(diff);
                let colored: Vec<String> = diff
                    .lines()
                    .map(|l| {
                        if l.starts_with('+') && !l.starts_with("+++") {
                            paint(self.color, "32", l)
                        } else if l.starts_with('-') && !l.starts_with("---") {
                            paint(self.color, "31", l)
                        } else {
                            l.to_owned()
                        }
                    })
                    .collect();
                self.line(state, &colored.join("\n"));
            }
        }
    }

    /// Prints the recap table.
    pub fn recap(&self, hosts: &std::collections::BTreeMap<String, HostReport>) {
        let mut state = self.state.lock().expect("terminal lock");
        if let Some(live) = state.live.take() {
            live.finish();
        }
        let width = hosts.keys().map(String::len).max().unwrap_or(4).max(4);
        let mut out = String::from("\nPLAY RECAP\n");
        for (name, h) in hosts {
            let name_code = if h.failed > 0 || h.unreachable {
                "31"
            } else if h.changed > 0 {
                "33"
            } else {
                "32"
            };
            out.push_str(&format!(
                "{} : ok={:<4} changed={:<4} unreachable={:<4} failed={:<4} skipped={:<4} rescued={:<4} ignored={}\n",
                paint(self.color, name_code, &format!("{name:<width$}")),
                h.ok,
                h.changed,
                u8::from(h.unreachable),
                h.failed,
                h.skipped,
                h.rescued,
                h.ignored
            ));
        }
        let _ = write!(std::io::stdout().lock(), "{out}");
    }
}

impl Terminal {
    /// What an event changes in the live display: counts and hosts in
    /// flight. Held events come here as they happen (see [`EventSink::live`]).
    fn track(&self, state: &mut State, event: &Event) {
        let Some(live) = &mut state.live else { return };
        match event {
            Event::TaskStart { host, task } => live.task_started(host, task),
            Event::TaskDone(r) if r.module != "gather_facts" => {
                live.task_done();
                if r.status == Status::Failed && !r.ignored && !r.rescued {
                    live.task_failed(&r.host, &r.task);
                }
            }
            Event::HostDone { host } | Event::Unreachable { host, .. } => live.host_done(host),
            _ => {}
        }
    }

    /// What an event prints, in display order.
    fn show(&self, state: &mut State, event: Event) {
        match event {
            Event::PlayStart { name, hosts, tasks } => {
                if let Some(live) = state.live.take() {
                    live.finish();
                }
                state.current_task = None;
                state.shown_early.clear();
                if self.style != Style::Quiet {
                    self.line(state, &format!("\nPLAY [{name}] ({} hosts)", hosts.len()));
                }
                if self.style == Style::Progress {
                    state.live = Some(Live::start(hosts.len(), tasks));
                }
            }
            Event::TaskDone(r) => {
                if !state.shown_early.remove(&(r.host.clone(), r.task.clone())) {
                    self.record(state, &r)
                }
            }
            Event::Unreachable { host, msg, .. } => {
                let text = format!("{}: [{host}]: UNREACHABLE! {msg}", paint(self.color, "31", "fatal"));
                self.line(state, &text);
            }
            Event::Warning(w) => {
                let text = format!("{}: {w}", paint(self.color, "35", "warning"));
                match &state.live {
                    Some(live) => live.println(&text),
                    None => eprintln!("{text}"),
                }
            }
            Event::Remote(t) => {
                let text = trace_text(&t);
                self.line(state, &text);
            }
            Event::TaskStart { .. } | Event::HostDone { .. } => {}
        }
    }
}

impl EventSink for Terminal {
    fn emit(&self, event: Event) {
        let mut state = self.state.lock().expect("terminal lock");
        self.track(&mut state, &event);
        self.show(&mut state, event);
    }

    fn live(&self, event: &Event) {
        let mut state = self.state.lock().expect("terminal lock");
        self.track(&mut state, event);
        // On the live display a failure cannot wait for the step to end.
        if let (Some(_), Event::TaskDone(r)) = (&state.live, event) {
            if r.status == Status::Failed {
                self.record(&mut state, r);
                state.shown_early.insert((r.host.clone(), r.task.clone()));
            }
        }
    }

    fn replay(&self, event: Event) {
        let mut state = self.state.lock().expect("terminal lock");
        self.show(&mut state, event);
    }
}

/// A remote command as `-v` shows it, with its script under `-vv`.
fn trace_text(t: &RemoteTrace) -> String {
    let outcome = match &t.outcome {
        Ok(rc) => format!("rc {rc}"),
        Err(e) => format!("failed: {e}"),
    };
    let become_ = t.become_user.as_deref().map(|u| format!(", as {u}")).unwrap_or_default();
    let mut text = format!(
        "remote [{}] {}: {outcome} in {} ms (script {} B, stdin {} B{become_})",
        t.host, t.what, t.duration_ms, t.script_bytes, t.stdin_bytes
    );
    if t.hidden {
        text.push_str("\n    | (script hidden: no_log)");
    } else if let Some(script) = &t.script {
        for l in visible(script).lines() {
            text.push_str(&format!("\n    | {l}"));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::visible;

    /// Issue 12: diffs printed raw escape bytes from the host.
    #[test]
    fn control_bytes_from_a_host_are_shown_not_sent_to_the_terminal() {
        assert_eq!(visible("a\u{1b}[2Jb\tc\n"), "a\\x1b[2Jb\tc\n");
        assert_eq!(visible("bell\u{7}"), "bell\\x07");
    }
}
