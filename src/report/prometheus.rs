//! Prometheus textfile metrics (`--report prometheus=PATH`) for
//! node_exporter's textfile collector, so a scheduled run can be graphed
//! and alerted on (docs/ci.md has the metrics and an alert rule).
//!
//! The text exposition format, version 0.0.4: each family's `# HELP` and
//! `# TYPE` lines, then its samples, all together; label values escaped
//! (`\\`, `\"`, `\n`). The file is written atomically by the caller
//! ([`super::write_atomic`]), so the collector never reads half a file.
//! Like every report it renders records whose `no_log` values are masked;
//! and it carries no values at all, only names and counts.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use super::json::{HostReport, Report, TaskEntry};
use crate::exec::Status;

/// A label value in the exposition format.
fn escape_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// A task result that found the host not as declared: it changed it, or
/// would have in check mode. Handlers react to changes; they are not drift.
fn drifted(t: &TaskEntry) -> bool {
    t.status == Status::Changed && !t.handler
}

struct Family<'a> {
    out: &'a mut String,
}

impl Family<'_> {
    fn start<'a>(out: &'a mut String, name: &str, help: &str) -> Family<'a> {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} gauge");
        Family { out }
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape_label(v))).collect();
        let _ = writeln!(self.out, "{name}{{{}}} {value}", labels.join(","));
    }
}

fn seconds(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    format!("{}.{:03}", d.as_secs(), d.subsec_millis())
}

/// Per tag of a host's tasks, how many of them drifted (0 for a tag whose
/// tasks all were as declared, so its series does not vanish).
fn drift_by_tag(h: &HostReport) -> BTreeMap<&str, usize> {
    let mut by_tag = BTreeMap::new();
    for t in &h.tasks {
        for tag in &t.tags {
            *by_tag.entry(tag.as_str()).or_insert(0) += usize::from(drifted(t));
        }
    }
    by_tag
}

/// Renders the metrics of a finished run.
pub fn to_prometheus(report: &Report, finished_at: SystemTime, exit_status: i32) -> String {
    let mut out = String::new();
    let hosts = &report.hosts;
    let each = |out: &mut String, name: &str, help: &str, value: &dyn Fn(&HostReport) -> String| {
        let mut f = Family::start(out, name, help);
        for (host, h) in hosts {
            f.sample(name, &[("host", host)], value(h));
        }
    };
    let finished = seconds(finished_at);
    each(&mut out, "stead_last_run_timestamp_seconds", "Unix time the last stead run on this host ended.", &|_| {
        finished.clone()
    });
    let duration = format!("{}.{:03}", report.duration_ms / 1000, report.duration_ms % 1000);
    each(&mut out, "stead_run_duration_seconds", "Wall time of the last stead run on this host.", &|_| {
        duration.clone()
    });
    each(&mut out, "stead_check_mode", "1 when the last run was a dry run (plan, --check), else 0.", &|_| {
        u8::from(report.check_mode).to_string()
    });

    let name = "stead_tasks";
    let mut f = Family::start(
        &mut out,
        name,
        "Task results of the last run by state, counted as Ansible's recap (ok includes changed; unreachable is 1 for an unreachable host).",
    );
    for (host, h) in hosts {
        for (state, n) in [
            ("ok", h.ok),
            ("changed", h.changed),
            ("failed", h.failed),
            ("skipped", h.skipped),
            ("unreachable", usize::from(h.unreachable)),
        ] {
            f.sample(name, &[("host", host), ("state", state)], n);
        }
    }

    each(
        &mut out,
        "stead_drifted_tasks",
        "Tasks of the last run that found the host not as declared: would change (check mode) or changed it.",
        &|h| h.tasks.iter().filter(|t| drifted(t)).count().to_string(),
    );

    let name = "stead_drifted_tasks_by_tag";
    let mut f = Family::start(&mut out, name, "Drifted tasks of the last run, per tag (with inherited tags).");
    for (host, h) in hosts {
        for (tag, n) in drift_by_tag(h) {
            f.sample(name, &[("host", host), ("tag", tag)], n);
        }
    }

    let name = "stead_last_run_exit_status";
    let f = Family::start(&mut out, name, "Exit status of the last stead run (CONTRACT section 2: a bit set).");
    let _ = writeln!(f.out, "{name} {exit_status}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Summary;

    fn task(status: Status, tags: &[&str]) -> TaskEntry {
        TaskEntry {
            play: "p".into(),
            task: "t".into(),
            module: "copy".into(),
            status,
            diff: None,
            msg: None,
            duration_ms: 1,
            ignored: false,
            rescued: false,
            handler: false,
            tags: tags.iter().map(|t| t.to_string()).collect(),
        }
    }

    #[test]
    fn families_are_grouped_and_labels_escaped() {
        let web = HostReport {
            ok: 3,
            changed: 2,
            tasks: vec![
                task(Status::Changed, &["cis_1", "ssh"]),
                task(Status::Ok, &["cis_2"]),
                TaskEntry { handler: true, ..task(Status::Changed, &["ssh"]) },
            ],
            ..HostReport::default()
        };
        let report = Report {
            version: 1,
            stead_version: "0".into(),
            started_at: "2026-11-25T18:00:00Z".into(),
            duration_ms: 1234,
            check_mode: true,
            playbooks: vec![],
            summary: Summary::default(),
            compliance: BTreeMap::new(),
            hosts: BTreeMap::from([("we\"b\\1\n".to_owned(), web)]),
        };
        let text = to_prometheus(&report, UNIX_EPOCH + std::time::Duration::from_millis(1_700_000_000_250), 2);
        let h = r#"host="we\"b\\1\n""#;
        for line in [
            format!("stead_last_run_timestamp_seconds{{{h}}} 1700000000.250"),
            format!("stead_run_duration_seconds{{{h}}} 1.234"),
            format!("stead_check_mode{{{h}}} 1"),
            format!("stead_tasks{{{h},state=\"changed\"}} 2"),
            format!("stead_tasks{{{h},state=\"unreachable\"}} 0"),
            format!("stead_drifted_tasks{{{h}}} 1"),
            format!("stead_drifted_tasks_by_tag{{{h},tag=\"cis_1\"}} 1"),
            format!("stead_drifted_tasks_by_tag{{{h},tag=\"cis_2\"}} 0"),
            format!("stead_drifted_tasks_by_tag{{{h},tag=\"ssh\"}} 1"),
            "stead_last_run_exit_status 2".to_owned(),
            "# TYPE stead_drifted_tasks gauge".to_owned(),
        ] {
            assert!(text.lines().any(|l| l == line), "no line {line}\n{text}");
        }
        // Every sample follows its own family's TYPE line.
        let mut family = String::new();
        for l in text.lines() {
            if let Some(rest) = l.strip_prefix("# TYPE ") {
                family = rest.split(' ').next().unwrap().to_owned();
            } else if !l.starts_with('#') {
                let name = l.split(['{', ' ']).next().unwrap();
                assert_eq!(name, family, "{text}");
            }
        }
    }
}
