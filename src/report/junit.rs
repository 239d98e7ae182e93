//! JUnit XML, shaped the way CI systems render it (Jenkins' junit plugin,
//! GitLab's test reports: the surefire / `junit-10.xsd` shape).
//!
//! - one `<testsuite>` per host (`name` and `hostname` = the host), one
//!   `<testcase>` per task result (`classname` = play, `name` = task);
//! - a task that would change in check mode is a `<failure>` whose body is
//!   the diff, so a drift job shows red with the diff;
//! - a failed task is an `<error>`; a skipped one `<skipped/>`; an
//!   unreachable host an `<error>` on a synthetic `connect` test case;
//! - a change in a real run passes, the diff in `<system-out>`; an ignored
//!   or rescued failure passes too (as Ansible's recap counts it), its
//!   message in `<system-out>`;
//! - `tests`, `failures`, `errors`, `skipped` and `time` on every
//!   `<testsuite>` and on `<testsuites>` are the counts of what is inside.
//!
//! It renders the report's records and never sees more: a `no_log` task's
//! diff and message were masked where the record was built.

use std::fmt::Write as _;

use super::json::{HostReport, Report, TaskEntry};
use crate::exec::Status;

/// What one test case says.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    /// Passed; optional output.
    Pass(Option<String>),
    /// `<failure>`: would change in check mode.
    Failure { message: String, body: String },
    /// `<error>`: failed, or unreachable.
    Error { kind: &'static str, message: String, body: String },
    /// `<skipped>`.
    Skipped(String),
}

struct Case {
    classname: String,
    name: String,
    time_ms: u64,
    verdict: Verdict,
}

/// Text content: XML's five special characters escaped, and the characters
/// XML 1.0 cannot carry at all (control characters but tab, newline and
/// carriage return; U+FFFE, U+FFFF) dropped, so host data never breaks
/// the document.
fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// An attribute value: as text, with newlines and tabs as character
/// references (a parser would turn them into spaces otherwise).
fn escape_attr(s: &str) -> String {
    escape_text(s).replace('\n', "&#10;").replace('\r', "&#13;").replace('\t', "&#9;")
}

fn first_line(s: &str) -> &str {
    s.lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim()
}

fn seconds(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

fn verdict(t: &TaskEntry, check_mode: bool) -> Verdict {
    let msg = t.msg.clone().unwrap_or_default();
    match t.status {
        Status::Failed if t.ignored || t.rescued => {
            let how = if t.ignored { "ignored" } else { "rescued" };
            Verdict::Pass(Some(format!("failed ({how}): {msg}")))
        }
        Status::Failed => Verdict::Error {
            kind: "failed",
            message: if msg.is_empty() { "failed".to_owned() } else { first_line(&msg).to_owned() },
            body: msg,
        },
        Status::Skipped => {
            Verdict::Skipped(if msg.is_empty() { "skipped".to_owned() } else { first_line(&msg).to_owned() })
        }
        Status::Changed if check_mode => Verdict::Failure {
            message: format!("would change ({})", t.module),
            body: t.diff.clone().unwrap_or_else(|| format!("would change; {} shows no diff", t.module)),
        },
        Status::Changed => Verdict::Pass(Some(t.diff.clone().unwrap_or_else(|| "changed".to_owned()))),
        Status::Ok => Verdict::Pass(t.msg.clone()),
    }
}

fn cases(host: &str, h: &HostReport, check_mode: bool) -> Vec<Case> {
    let mut out: Vec<Case> = h
        .tasks
        .iter()
        .map(|t| Case {
            classname: t.play.clone(),
            name: t.task.clone(),
            time_ms: t.duration_ms,
            verdict: verdict(t, check_mode),
        })
        .collect();
    if h.unreachable {
        let msg = h.unreachable_msg.clone().unwrap_or_default();
        out.push(Case {
            classname: h.unreachable_play.clone().unwrap_or_else(|| "stead".to_owned()),
            name: format!("connect to {host}"),
            time_ms: 0,
            verdict: Verdict::Error {
                kind: "unreachable",
                message: format!("unreachable: {}", first_line(&msg)),
                body: msg,
            },
        });
    }
    out
}

#[derive(Default, Clone, Copy)]
struct Counts {
    tests: usize,
    failures: usize,
    errors: usize,
    skipped: usize,
    time_ms: u64,
}

impl Counts {
    fn of(cases: &[Case]) -> Counts {
        let mut c = Counts { tests: cases.len(), ..Counts::default() };
        for case in cases {
            c.time_ms += case.time_ms;
            match case.verdict {
                Verdict::Failure { .. } => c.failures += 1,
                Verdict::Error { .. } => c.errors += 1,
                Verdict::Skipped(_) => c.skipped += 1,
                Verdict::Pass(_) => {}
            }
        }
        c
    }

    fn add(&mut self, o: Counts) {
        self.tests += o.tests;
        self.failures += o.failures;
        self.errors += o.errors;
        self.skipped += o.skipped;
        self.time_ms += o.time_ms;
    }

    fn attrs(&self, time_ms: u64) -> String {
        format!(
            "tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{}\"",
            self.tests,
            self.failures,
            self.errors,
            self.skipped,
            seconds(time_ms)
        )
    }
}

/// Renders a report as JUnit XML.
pub fn to_junit(report: &Report) -> String {
    // JUnit timestamps are local date-times without a zone; stead's are UTC.
    let timestamp = report.started_at.trim_end_matches('Z');
    let suites: Vec<(&String, Vec<Case>)> =
        report.hosts.iter().map(|(name, h)| (name, cases(name, h, report.check_mode))).collect();
    let mut total = Counts::default();
    for (_, c) in &suites {
        total.add(Counts::of(c));
    }
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let title = if report.check_mode { "stead plan" } else { "stead apply" };
    let _ = writeln!(out, "<testsuites name=\"{title}\" {}>", total.attrs(report.duration_ms));
    for (host, cases) in &suites {
        let counts = Counts::of(cases);
        let _ = writeln!(
            out,
            "  <testsuite name=\"{0}\" hostname=\"{0}\" timestamp=\"{1}\" {2}>",
            escape_attr(host),
            escape_attr(timestamp),
            counts.attrs(counts.time_ms)
        );
        for case in cases {
            let _ = write!(
                out,
                "    <testcase classname=\"{}\" name=\"{}\" time=\"{}\"",
                escape_attr(&case.classname),
                escape_attr(&case.name),
                seconds(case.time_ms)
            );
            match &case.verdict {
                Verdict::Pass(None) => out.push_str("/>\n"),
                Verdict::Pass(Some(text)) => {
                    let _ = writeln!(out, ">\n      <system-out>{}</system-out>\n    </testcase>", escape_text(text));
                }
                Verdict::Skipped(message) => {
                    let _ = writeln!(out, ">\n      <skipped message=\"{}\"/>\n    </testcase>", escape_attr(message));
                }
                Verdict::Failure { message, body } => {
                    let _ = writeln!(
                        out,
                        ">\n      <failure message=\"{}\" type=\"drift\">{}</failure>\n    </testcase>",
                        escape_attr(message),
                        escape_text(body)
                    );
                }
                Verdict::Error { kind, message, body } => {
                    let _ = writeln!(
                        out,
                        ">\n      <error message=\"{}\" type=\"{kind}\">{}</error>\n    </testcase>",
                        escape_attr(message),
                        escape_text(body)
                    );
                }
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::report::Summary;

    fn task(name: &str, status: Status) -> TaskEntry {
        TaskEntry {
            play: "harden".into(),
            task: name.into(),
            module: "copy".into(),
            status,
            diff: None,
            msg: None,
            duration_ms: 1500,
            ignored: false,
            rescued: false,
            handler: false,
            tags: vec![],
            backups: vec![],
        }
    }

    fn report(check_mode: bool) -> Report {
        let mut web = HostReport::default();
        web.tasks.push(TaskEntry {
            diff: Some("--- before\n+++ after\n-a\n+b <&>\n".into()),
            ..task("motd", Status::Changed)
        });
        web.tasks.push(task("ping", Status::Ok));
        web.tasks.push(task("never", Status::Skipped));
        web.tasks.push(TaskEntry { msg: Some("it broke\nbadly \u{1b}[2J".into()), ..task("boom", Status::Failed) });
        web.tasks.push(TaskEntry { msg: Some("meh".into()), ignored: true, ..task("shrug", Status::Failed) });
        let down = HostReport {
            unreachable: true,
            unreachable_msg: Some("ssh: connect to host 127.0.0.1 port 1: Connection refused".into()),
            unreachable_play: Some("harden".into()),
            ..HostReport::default()
        };
        Report {
            version: 1,
            stead_version: "0".into(),
            started_at: "2026-11-25T18:00:00Z".into(),
            duration_ms: 9000,
            check_mode,
            playbooks: vec![],
            summary: Summary::default(),
            compliance: BTreeMap::new(),
            hosts: BTreeMap::from([("web\"1".to_owned(), web), ("down".to_owned(), down)]),
        }
    }

    #[test]
    fn drift_in_check_mode_is_a_failure_with_the_diff() {
        let xml = to_junit(&report(true));
        assert!(
            xml.contains(
                "<testsuites name=\"stead plan\" tests=\"6\" failures=\"1\" errors=\"2\" skipped=\"1\" time=\"9.000\">"
            ),
            "{xml}"
        );
        assert!(xml.contains("name=\"web&quot;1\" hostname=\"web&quot;1\" timestamp=\"2026-11-25T18:00:00\" tests=\"5\" failures=\"1\" errors=\"1\" skipped=\"1\" time=\"7.500\""), "{xml}");
        assert!(xml.contains("<failure message=\"would change (copy)\" type=\"drift\">--- before\n+++ after\n-a\n+b &lt;&amp;&gt;\n</failure>"), "{xml}");
        assert!(xml.contains("<error message=\"it broke\" type=\"failed\">it broke\nbadly [2J</error>"), "{xml}");
        assert!(xml.contains("<testcase classname=\"harden\" name=\"connect to down\" time=\"0.000\">\n      <error message=\"unreachable: ssh: connect"), "{xml}");
        assert!(xml.contains("<skipped message=\"skipped\"/>"), "{xml}");
        assert!(xml.contains("<system-out>failed (ignored): meh</system-out>"), "{xml}");
        assert!(!xml.contains('\u{1b}'), "{xml}");
    }

    #[test]
    fn a_change_in_a_real_run_passes_with_the_diff_as_output() {
        let xml = to_junit(&report(false));
        assert!(xml.contains("failures=\"0\" errors=\"2\""), "{xml}");
        assert!(xml.contains("<system-out>--- before\n+++ after"), "{xml}");
        assert!(!xml.contains("<failure"), "{xml}");
    }

    #[test]
    fn attributes_keep_newlines_as_references() {
        assert_eq!(escape_attr("a\nb\t<\u{0}\u{FFFE}"), "a&#10;b&#9;&lt;");
    }
}
