//! JUnit XML: one test suite per host, one test case per task result.

use super::json::Report;
use crate::exec::Status;

fn escape(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .map(|c| match c {
            '&' => "&amp;".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&apos;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

/// Renders a report as JUnit XML.
pub fn to_junit(report: &Report) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let total: usize = report.hosts.values().map(|h| h.tasks.len() + usize::from(h.unreachable)).sum();
    out.push_str(&format!(
        "<testsuites name=\"stead\" tests=\"{total}\" failures=\"{}\" time=\"{:.3}\">\n",
        report.summary.failed + report.summary.unreachable,
        report.duration_ms as f64 / 1000.0
    ));
    for (host, h) in &report.hosts {
        let failures = h.failed + usize::from(h.unreachable);
        out.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" skipped=\"{}\">\n",
            escape(host),
            h.tasks.len() + usize::from(h.unreachable),
            h.skipped
        ));
        if h.unreachable {
            out.push_str(&format!(
                "    <testcase classname=\"{0}\" name=\"connect\"><failure message=\"unreachable\">{1}</failure></testcase>\n",
                escape(host),
                escape(h.unreachable_msg.as_deref().unwrap_or(""))
            ));
        }
        for t in &h.tasks {
            let name = format!("{}: {}", t.play, t.task);
            out.push_str(&format!(
                "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\">",
                escape(host),
                escape(&name),
                t.duration_ms as f64 / 1000.0
            ));
            match t.status {
                Status::Failed if !t.ignored && !t.rescued => out.push_str(&format!(
                    "<failure message=\"{}\">{}</failure>",
                    escape(t.msg.as_deref().unwrap_or("failed").lines().next().unwrap_or("")),
                    escape(t.msg.as_deref().unwrap_or(""))
                )),
                Status::Skipped => out.push_str("<skipped/>"),
                Status::Changed => {
                    if let Some(d) = &t.diff {
                        out.push_str(&format!("<system-out>{}</system-out>", escape(d)));
                    }
                }
                _ => {}
            }
            out.push_str("</testcase>\n");
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}
