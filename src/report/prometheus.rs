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
use crate::modules::patch_status::PatchStatus;

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

/// Renders the patch status of a `stead facts --patches` run: its own
/// families only, none of a playbook run's, so the two can sit side by
/// side in one textfile directory without duplicate series. Every host of
/// the run has `stead_patches_unreachable`; a host whose status was read
/// has the rest, except what it could not say (no index: no age sample;
/// unsupported: `stead_patches_supported 0` and no counts).
pub fn to_prometheus_patches(report: &Report, finished_at: SystemTime) -> String {
    let mut out = String::new();
    let hosts = &report.hosts;
    let read: Vec<(&String, &PatchStatus)> =
        hosts.iter().filter_map(|(n, h)| h.patches.as_ref().map(|p| (n, p))).collect();
    let supported: Vec<(&String, &PatchStatus)> = read.iter().copied().filter(|(_, p)| p.supported).collect();
    let family = |out: &mut String,
                  name: &str,
                  help: &str,
                  rows: &[(&String, &PatchStatus)],
                  value: &dyn Fn(&PatchStatus) -> Option<String>| {
        let mut f = Family::start(out, name, help);
        for (host, p) in rows {
            if let Some(v) = value(p) {
                f.sample(name, &[("host", host)], v);
            }
        }
    };
    let mut f = Family::start(
        &mut out,
        "stead_patches_unreachable",
        "1 when the last patch status check could not reach the host (its other stead_patches samples are absent).",
    );
    for (host, h) in hosts {
        f.sample("stead_patches_unreachable", &[("host", host)], u8::from(h.unreachable));
    }
    let finished = seconds(finished_at);
    family(
        &mut out,
        "stead_patches_check_timestamp_seconds",
        "Unix time the patch status of this host was last read.",
        &read,
        &|_| Some(finished.clone()),
    );
    family(
        &mut out,
        "stead_patches_supported",
        "1 when stead can read patch status on this host (apt, or dnf/yum), else 0.",
        &read,
        &|p| Some(u8::from(p.supported).to_string()),
    );
    family(&mut out, "stead_patches_pending", "Packages with a pending upgrade.", &supported, &|p| {
        p.pending_count.map(|n| n.to_string())
    });
    family(
        &mut out,
        "stead_patches_security_pending",
        "Pending upgrades from a security source (apt: a -security suite; dnf: a security advisory).",
        &supported,
        &|p| p.security_count.map(|n| n.to_string()),
    );
    family(
        &mut out,
        "stead_reboot_required",
        "1 when the host needs a reboot: the reboot-required flag file, or a newer kernel installed than running.",
        &read,
        &|p| Some(u8::from(p.reboot_required).to_string()),
    );
    family(
        &mut out,
        "stead_package_index_age_seconds",
        "Age of the host's package index (apt lists, dnf metadata) by its own clock; absent when it has none.",
        &supported,
        &|p| p.index_age_seconds.map(|n| n.to_string()),
    );
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
            backups: vec![],
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

    #[test]
    fn patch_families_carry_counts_per_host_and_leave_out_what_is_unknown() {
        let status = |pending, security, age| PatchStatus {
            supported: true,
            pending_count: Some(pending),
            security_count: Some(security),
            index_age_seconds: age,
            reboot_required: pending > 1,
            ..PatchStatus::default()
        };
        let hosts = BTreeMap::from([
            ("web1".to_owned(), HostReport { patches: Some(status(2, 1, Some(60))), ..HostReport::default() }),
            ("web2".to_owned(), HostReport { patches: Some(status(0, 0, None)), ..HostReport::default() }),
            ("old".to_owned(), HostReport { patches: Some(PatchStatus::default()), ..HostReport::default() }),
            ("down".to_owned(), HostReport { unreachable: true, ..HostReport::default() }),
        ]);
        let report = Report {
            version: 1,
            stead_version: "0".into(),
            started_at: "2026-11-25T18:00:00Z".into(),
            duration_ms: 1,
            check_mode: false,
            playbooks: vec![],
            summary: Summary::default(),
            hosts,
            compliance: BTreeMap::new(),
        };
        let text = to_prometheus_patches(&report, UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000));
        let lines: Vec<&str> = text.lines().collect();
        for want in [
            "stead_patches_pending{host=\"web1\"} 2",
            "stead_patches_security_pending{host=\"web1\"} 1",
            "stead_reboot_required{host=\"web1\"} 1",
            "stead_package_index_age_seconds{host=\"web1\"} 60",
            "stead_patches_pending{host=\"web2\"} 0",
            "stead_reboot_required{host=\"web2\"} 0",
            "stead_patches_supported{host=\"old\"} 0",
            "stead_patches_unreachable{host=\"down\"} 1",
            "stead_patches_unreachable{host=\"web1\"} 0",
            "stead_patches_check_timestamp_seconds{host=\"web1\"} 1700000000.000",
        ] {
            assert!(lines.contains(&want), "no line {want}\n{text}");
        }
        for absent in [
            "stead_package_index_age_seconds{host=\"web2\"}",
            "stead_patches_pending{host=\"old\"}",
            "{host=\"down\"} 0",
        ] {
            assert!(!text.contains(absent), "{absent} in\n{text}");
        }
        assert!(!text.contains("stead_tasks") && !text.contains("stead_last_run"), "no run families:\n{text}");
    }
}
