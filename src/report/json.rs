//! The JSON report, version 1 (CONTRACT §6). Field names are a published
//! interface: add fields, never rename or remove them without bumping
//! [`REPORT_VERSION`].

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::Serialize;

use crate::exec::{Event, EventSink, Status};
use crate::modules::patch_status::PatchStatus;

/// The report format version.
pub const REPORT_VERSION: u32 = 1;

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Format version.
    pub version: u32,
    /// stead's version.
    pub stead_version: String,
    /// RFC 3339 UTC start time.
    pub started_at: String,
    /// Wall time of the run.
    pub duration_ms: u64,
    /// Whether this was a dry run.
    pub check_mode: bool,
    /// Playbooks run.
    pub playbooks: Vec<String>,
    /// Totals over all hosts.
    pub summary: Summary,
    /// Per host, by name.
    pub hosts: BTreeMap<String, HostReport>,
    /// Per tag of the run's tasks, the hosts compliant, drifted and failed
    /// (see `report::compliance`).
    pub compliance: BTreeMap<String, super::TagCompliance>,
}

/// Totals, counted as Ansible's PLAY RECAP counts them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// Number of hosts.
    pub hosts: usize,
    /// Task results that succeeded, changed or not.
    pub ok: usize,
    /// Task results that changed something.
    pub changed: usize,
    /// Task results that failed (not ignored).
    pub failed: usize,
    /// Task results skipped.
    pub skipped: usize,
    /// Hosts unreachable.
    pub unreachable: usize,
    /// Failures let through by `ignore_errors` (also counted in `ok`).
    pub ignored: usize,
    /// Failures inside a block with a rescue (not counted in `failed`).
    pub rescued: usize,
}

/// One host's part of the report.
#[derive(Debug, Clone, Default, Serialize)]
pub struct HostReport {
    /// Whether the host could not be reached.
    pub unreachable: bool,
    /// Counts as in the summary.
    pub ok: usize,
    /// Changed results.
    pub changed: usize,
    /// Failed results.
    pub failed: usize,
    /// Skipped results.
    pub skipped: usize,
    /// Ignored failures.
    pub ignored: usize,
    /// Rescued failures.
    pub rescued: usize,
    /// Why it was unreachable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unreachable_msg: Option<String>,
    /// The play in which it was found unreachable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unreachable_play: Option<String>,
    /// Remote executions used on this host (the cost of the run).
    pub remote_execs: u64,
    /// Task results in order.
    pub tasks: Vec<TaskEntry>,
    /// The host's patch status (`stead facts --patches` only;
    /// docs/patches.md has the schema).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patches: Option<PatchStatus>,
}

/// One task result.
#[derive(Debug, Clone, Serialize)]
pub struct TaskEntry {
    /// Play name.
    pub play: String,
    /// Task name.
    pub task: String,
    /// Module.
    pub module: String,
    /// ok / changed / failed / skipped.
    pub status: Status,
    /// Unified diff, when something changed.
    pub diff: Option<String>,
    /// Message.
    pub msg: Option<String>,
    /// Duration.
    pub duration_ms: u64,
    /// Failure let through by ignore_errors.
    pub ignored: bool,
    /// Failure handled by a block's rescue.
    pub rescued: bool,
    /// Whether this was a handler.
    pub handler: bool,
    /// The task's tags (with inherited ones).
    pub tags: Vec<String>,
    /// Backups the task made (`backup: true`): file and backup path.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub backups: Vec<crate::exec::BackupMade>,
}

/// An event sink that builds the per-host counts and task lists.
#[derive(Default)]
pub struct Collector {
    hosts: Mutex<BTreeMap<String, HostReport>>,
}

impl EventSink for Collector {
    fn emit(&self, event: Event) {
        let mut hosts = self.hosts.lock().expect("collector lock");
        match event {
            Event::PlayStart { hosts: names, .. } => {
                for h in names {
                    hosts.entry(h).or_default();
                }
            }
            Event::TaskDone(r) => {
                let h = hosts.entry(r.host.clone()).or_default();
                // As Ansible's recap: an ignored failure is ok and ignored,
                // a rescued one only rescued.
                match (r.status, r.ignored, r.rescued) {
                    (Status::Failed, true, _) => {
                        h.ok += 1;
                        h.ignored += 1;
                        h.changed += usize::from(r.changed);
                    }
                    (Status::Failed, false, true) => h.rescued += 1,
                    (Status::Failed, false, false) => h.failed += 1,
                    (Status::Skipped, ..) => h.skipped += 1,
                    (Status::Changed, ..) => {
                        h.ok += 1;
                        h.changed += 1;
                    }
                    (Status::Ok, ..) => h.ok += 1,
                }
                h.tasks.push(TaskEntry {
                    play: r.play,
                    task: r.task,
                    module: r.module,
                    status: r.status,
                    diff: r.diff,
                    msg: r.msg,
                    duration_ms: r.duration_ms,
                    ignored: r.ignored,
                    rescued: r.rescued,
                    handler: r.handler,
                    tags: r.tags,
                    backups: r.backups,
                });
            }
            Event::Unreachable { host, play, msg } => {
                let h = hosts.entry(host).or_default();
                h.unreachable = true;
                h.unreachable_msg = Some(msg);
                h.unreachable_play = Some(play);
            }
            _ => {}
        }
    }
}

impl Collector {
    /// Per-host results so far.
    pub fn hosts(&self) -> BTreeMap<String, HostReport> {
        self.hosts.lock().expect("collector lock").clone()
    }

    /// Builds the final report.
    pub fn report(
        &self,
        started_at: std::time::SystemTime,
        duration_ms: u64,
        check_mode: bool,
        playbooks: Vec<String>,
        remote_execs: &std::collections::HashMap<String, u64>,
    ) -> Report {
        let mut hosts = self.hosts();
        let mut summary = Summary { hosts: hosts.len(), ..Summary::default() };
        for (name, h) in hosts.iter_mut() {
            h.remote_execs = remote_execs.get(name).copied().unwrap_or(0);
            summary.ok += h.ok;
            summary.changed += h.changed;
            summary.failed += h.failed;
            summary.skipped += h.skipped;
            summary.ignored += h.ignored;
            summary.rescued += h.rescued;
            summary.unreachable += usize::from(h.unreachable);
        }
        Report {
            version: REPORT_VERSION,
            stead_version: env!("CARGO_PKG_VERSION").to_owned(),
            started_at: humantime::format_rfc3339_seconds(started_at).to_string(),
            duration_ms,
            check_mode,
            playbooks,
            summary,
            compliance: super::compliance::by_tag(&hosts),
            hosts,
        }
    }
}
