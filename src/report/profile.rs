//! `--profile`: where a run's time went, from the finished report. The
//! slowest tasks (their time summed over the hosts, with the slowest host)
//! and the slowest hosts (the sum of their task times). It only reads the
//! report.

use std::collections::BTreeMap;

use super::json::Report;

/// How many tasks and hosts the profile lists.
pub const PROFILE_ROWS: usize = 10;

/// One task's time over the hosts.
struct TaskTime {
    task: String,
    total_ms: u64,
    hosts: usize,
    slowest: String,
    slowest_ms: u64,
}

/// The profile as printed after the recap.
pub fn render(report: &Report) -> String {
    // In first-seen order; a task is its play and name.
    let mut tasks: Vec<TaskTime> = Vec::new();
    let mut index: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    let mut hosts: Vec<(&str, u64)> = Vec::new();
    for (host, h) in &report.hosts {
        let mut host_total = 0;
        for t in &h.tasks {
            host_total += t.duration_ms;
            let i = *index.entry((&t.play, &t.task)).or_insert_with(|| {
                tasks.push(TaskTime {
                    task: t.task.clone(),
                    total_ms: 0,
                    hosts: 0,
                    slowest: String::new(),
                    slowest_ms: 0,
                });
                tasks.len() - 1
            });
            let entry = &mut tasks[i];
            entry.total_ms += t.duration_ms;
            entry.hosts += 1;
            if entry.slowest.is_empty() || t.duration_ms > entry.slowest_ms {
                entry.slowest = host.clone();
                entry.slowest_ms = t.duration_ms;
            }
        }
        hosts.push((host, host_total));
    }
    // Slowest first; ties keep the run's order (tasks) or the name order (hosts).
    tasks.sort_by_key(|t| std::cmp::Reverse(t.total_ms));
    hosts.sort_by_key(|(_, total)| std::cmp::Reverse(*total));
    let mut out = String::from("\nPROFILE\nslowest tasks (time summed over hosts; the slowest host)\n");
    for t in tasks.iter().take(PROFILE_ROWS) {
        out.push_str(&format!(
            "  {:>8}  {}  ({} host(s); {} {})\n",
            secs(t.total_ms),
            t.task,
            t.hosts,
            t.slowest,
            secs(t.slowest_ms)
        ));
    }
    out.push_str("slowest hosts (sum of their task times)\n");
    for (host, total) in hosts.iter().take(PROFILE_ROWS) {
        out.push_str(&format!("  {:>8}  {host}\n", secs(*total)));
    }
    out.push_str(&format!("total wall time {}\n", secs(report.duration_ms)));
    out
}

fn secs(ms: u64) -> String {
    format!("{}.{:02}s", ms / 1000, (ms % 1000) / 10)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::Status;
    use crate::report::{HostReport, Summary, TaskEntry};

    fn task(name: &str, ms: u64) -> TaskEntry {
        TaskEntry {
            play: "p".into(),
            task: name.into(),
            module: "command".into(),
            status: Status::Ok,
            diff: None,
            msg: None,
            duration_ms: ms,
            ignored: false,
            rescued: false,
            handler: false,
            tags: vec![],
            backups: vec![],
        }
    }

    #[test]
    fn the_slowest_tasks_and_hosts_come_first() {
        let hosts = [
            ("web1".to_owned(), HostReport { tasks: vec![task("fast", 10), task("slow", 1500)], ..Default::default() }),
            ("web2".to_owned(), HostReport { tasks: vec![task("fast", 30), task("slow", 2500)], ..Default::default() }),
        ]
        .into();
        let report = Report {
            version: 1,
            stead_version: "0".into(),
            started_at: String::new(),
            duration_ms: 2600,
            check_mode: false,
            playbooks: vec![],
            summary: Summary::default(),
            compliance: BTreeMap::new(),
            hosts,
        };
        let text = render(&report);
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        assert_eq!(lines[3], "4.00s  slow  (2 host(s); web2 2.50s)", "{text}");
        assert_eq!(lines[4], "0.04s  fast  (2 host(s); web2 0.03s)", "{text}");
        assert_eq!(lines[6], "2.53s  web2", "{text}");
        assert_eq!(lines[7], "1.51s  web1", "{text}");
        assert!(text.ends_with("total wall time 2.60s\n"), "{text}");
    }
}
