//! Saved plans: review a dry run, then apply exactly what was reviewed.
//!
//! `stead plan ... --out PLAN.json` records, per host, every change the dry
//! run found (with a fingerprint of the change: what it would turn the
//! probed state from and into), the tasks a dry run cannot predict, and the
//! hashes of every input file, of the resolved inventory and of the extra
//! variables. `stead apply PLAN.json` then
//!
//! 1. stops before contacting any host when an input changed ([`verify`]);
//! 2. runs the plan again as a dry run and refuses each host whose changes
//!    differ from the saved ones ([`HostPlan::drift`]);
//! 3. applies the other hosts with a [`Guard`]: a change that is not in the
//!    plan fails its task instead of running.
//!
//! A plan file never holds a secret: `no_log` results are masked where they
//! are recorded, extra variables are kept only as a salted hash (the apply
//! is given them again), and vault values are not stored (the apply reads
//! them again from their sources).

mod record;
pub mod verify;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use record::{fingerprint, Recorder};

/// The `format` field of a plan file.
pub const FORMAT: &str = "stead-plan";
/// The version of the plan file layout.
pub const VERSION: u32 = 1;

/// Why a plan file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SavedPlanError {
    /// The file could not be read or written.
    #[error("plan file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a stead plan of a version this stead reads.
    #[error("plan file {path}: {detail}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// An input changed since the plan was made.
    #[error("the saved plan {path} no longer matches its inputs; make a new plan:\n{changes}")]
    Stale {
        /// The plan file.
        path: PathBuf,
        /// One line per changed input.
        changes: String,
    },
}

/// A plan file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedPlan {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`VERSION`].
    pub version: u32,
    /// When the plan was made (RFC 3339).
    pub created_at: String,
    /// The stead that made it.
    pub stead_version: String,
    /// What to run: the options the plan was made with.
    pub run: RunSpec,
    /// The hashes of everything the plan was computed from.
    pub inputs: verify::Inputs,
    /// Per host, what the dry run found.
    pub hosts: BTreeMap<String, HostPlan>,
}

/// The options of the planned run, as given on the command line (paths
/// relative to the directory stead ran in).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSpec {
    /// Playbooks.
    pub playbooks: Vec<PathBuf>,
    /// Inventory sources (empty: the default).
    pub inventory: Vec<PathBuf>,
    /// `--limit`.
    pub limit: Option<String>,
    /// `--tags`.
    pub tags: Vec<String>,
    /// `--skip-tags`.
    pub skip_tags: Vec<String>,
    /// `--user`.
    pub user: Option<String>,
    /// `--become`.
    #[serde(rename = "become")]
    pub become_: bool,
    /// `--become-user`.
    pub become_user: Option<String>,
    /// `--shard K/N`.
    pub shard: Option<(usize, usize)>,
    /// `--force-handlers`.
    pub force_handlers: bool,
    /// `--roles-path`.
    pub roles_path: Vec<PathBuf>,
    /// How many `--extra-vars` values were given (their content is not kept).
    pub extra_vars: usize,
}

/// How a host's dry run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum HostStatus {
    /// Every task ran.
    #[default]
    Ok,
    /// A task failed: the plan stops there for this host.
    Failed,
    /// The host could not be reached: nothing is planned for it.
    Unreachable,
}

/// What the dry run found on one host.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostPlan {
    /// How its dry run ended.
    pub status: HostStatus,
    /// The changes, in the order they would be made.
    pub changes: Vec<PlannedChange>,
    /// Tasks a dry run cannot predict: they run as the playbook says.
    pub unpredictable: Vec<Unpredictable>,
}

/// One change of one task (one loop item) on one host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedChange {
    /// Which run of which task, and which item: `p0/t3#1/0` is play 0, task
    /// 3, its first run on this host, item 0.
    pub key: String,
    /// Play name.
    pub play: String,
    /// Task name.
    pub task: String,
    /// The loop item's label, when looped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    /// Module.
    pub module: String,
    /// What it changes (a path, a package, a unit...), for messages.
    pub resource: String,
    /// SHA-256 of the change: the state before and after as the module
    /// computed them from the probe (see [`fingerprint`]).
    pub fingerprint: String,
    /// The diff, as `--diff` shows it (masked under `no_log`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
}

/// A task the dry run could not predict (an unguarded command, or one that
/// uses such a task's result).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unpredictable {
    /// The task's run (`p0/t3#1`), every item included.
    pub key: String,
    /// Play name.
    pub play: String,
    /// Task name.
    pub task: String,
    /// Why a dry run cannot tell.
    pub reason: String,
}

/// Where a host's state no longer matches its plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    /// Task name.
    pub task: String,
    /// What drifted.
    pub resource: String,
    /// How.
    pub why: String,
}

impl std::fmt::Display for Drift {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "task `{}` ({}): {}", self.task, self.resource, self.why)
    }
}

impl HostPlan {
    /// How `now` (the same dry run, made again) differs from this plan:
    /// the first change that is new, gone, or computed from another state.
    /// Unpredictable tasks are not compared.
    pub fn drift(&self, now: &HostPlan) -> Option<Drift> {
        let saved: BTreeMap<&str, &PlannedChange> = self.changes.iter().map(|c| (c.key.as_str(), c)).collect();
        let fresh: BTreeMap<&str, &PlannedChange> = now.changes.iter().map(|c| (c.key.as_str(), c)).collect();
        let exempt: BTreeSet<&str> = self.unpredictable.iter().map(|u| u.key.as_str()).collect();
        let drift = |c: &PlannedChange, why: &str| Drift {
            task: c.task.clone(),
            resource: c.resource.clone(),
            why: why.to_owned(),
        };
        for c in &self.changes {
            match fresh.get(c.key.as_str()) {
                None => {
                    return Some(drift(c, "the plan changes it, but now it needs no change: the host changed since"))
                }
                Some(n) if n.fingerprint != c.fingerprint => {
                    return Some(drift(c, "the state it was planned from changed since the plan was made"))
                }
                Some(_) => {}
            }
        }
        for c in &now.changes {
            if !saved.contains_key(c.key.as_str()) && !exempt.contains(task_key(&c.key)) {
                return Some(drift(c, "it needs a change now that the plan does not have"));
            }
        }
        None
    }
}

/// The task part of a change's key (`p0/t3#1` of `p0/t3#1/0`).
pub fn task_key(unit_key: &str) -> &str {
    unit_key.rsplit_once('/').map_or(unit_key, |(task, _)| task)
}

/// What `stead apply PLAN` may change on each host: the planned changes,
/// and anything an unpredictable task does.
#[derive(Debug, Default)]
pub struct Guard {
    /// The plan file (for messages).
    pub path: PathBuf,
    allowed: BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)>,
}

impl Guard {
    /// The guard of a plan.
    pub fn new(path: &Path, plan: &SavedPlan) -> Self {
        let allowed = plan
            .hosts
            .iter()
            .map(|(host, h)| {
                let changes = h.changes.iter().map(|c| c.key.clone()).collect();
                let free = h.unpredictable.iter().map(|u| u.key.clone()).collect();
                (host.clone(), (changes, free))
            })
            .collect();
        Guard { path: path.to_path_buf(), allowed }
    }

    /// Whether the plan allows this change (`unit_key` as in
    /// [`PlannedChange::key`]) on this host.
    pub fn allows(&self, host: &str, unit_key: &str) -> bool {
        self.allowed
            .get(host)
            .is_some_and(|(changes, free)| changes.contains(unit_key) || free.contains(task_key(unit_key)))
    }
}

/// How a run takes part in a saved plan.
#[derive(Debug, Clone, Default)]
pub enum PlanGate {
    /// An ordinary run.
    #[default]
    Off,
    /// A dry run whose changes are recorded.
    Record(std::sync::Arc<Recorder>),
    /// A real run that may make only the planned changes.
    Enforce(std::sync::Arc<Guard>),
}

impl SavedPlan {
    /// Reads a plan file.
    pub fn read(path: &Path) -> Result<SavedPlan, SavedPlanError> {
        let text = std::fs::read_to_string(path).map_err(|source| SavedPlanError::Io { path: path.into(), source })?;
        let format = |detail: String| SavedPlanError::Format { path: path.into(), detail };
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| format(format!("not a stead plan (invalid JSON: {e})")))?;
        match value.get("format").and_then(|f| f.as_str()) {
            Some(FORMAT) => {}
            _ => return Err(format(format!("not a stead plan (no \"format\": \"{FORMAT}\")"))),
        }
        match value.get("version").and_then(|v| v.as_u64()) {
            Some(v) if v == u64::from(VERSION) => {}
            other => {
                return Err(format(format!(
                    "plan format version {} is not the {VERSION} this stead reads; make the plan again with this stead",
                    other.map_or("(none)".to_owned(), |v| v.to_string())
                )))
            }
        }
        serde_json::from_value(value).map_err(|e| format(format!("malformed plan: {e}")))
    }

    /// Whether a file is a stead plan (its JSON names the format), so that
    /// `stead apply FILE` knows a plan from a playbook.
    pub fn is_plan_file(path: &Path) -> bool {
        let Ok(text) = std::fs::read_to_string(path) else { return false };
        let head = text.trim_start();
        head.starts_with('{')
            && serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .is_some_and(|v| v.get("format").and_then(|f| f.as_str()) == Some(FORMAT))
    }

    /// Writes the plan atomically (a temporary file renamed over `path`),
    /// readable by its owner only: it holds diffs.
    pub fn write(&self, path: &Path) -> Result<(), SavedPlanError> {
        let io = |source| SavedPlanError::Io { path: path.into(), source };
        // A plan is shared (a CI artifact, a pull request): a decrypted
        // vault value never appears in it.
        let mut doc = serde_json::to_value(self).expect("a plan serialises");
        crate::vault::mask::mask_json(&mut doc);
        let text = serde_json::to_string_pretty(&doc).expect("a plan serialises") + "\n";
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
        use std::io::Write;
        tmp.write_all(text.as_bytes()).map_err(io)?;
        tmp.as_file().sync_all().map_err(io)?;
        tmp.persist(path).map_err(|e| io(e.error))?;
        Ok(())
    }

    /// Every planned change, over all hosts.
    pub fn change_count(&self) -> usize {
        self.hosts.values().map(|h| h.changes.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(key: &str, fp: &str) -> PlannedChange {
        PlannedChange {
            key: key.into(),
            play: "p".into(),
            task: format!("task {key}"),
            item: None,
            module: "copy".into(),
            resource: "/etc/motd".into(),
            fingerprint: fp.into(),
            diff: None,
        }
    }

    fn host(changes: Vec<PlannedChange>) -> HostPlan {
        HostPlan { status: HostStatus::Ok, changes, unpredictable: vec![] }
    }

    #[test]
    fn the_same_changes_are_no_drift() {
        let saved = host(vec![change("p0/t1#1/0", "a"), change("p0/t2#1/0", "b")]);
        assert_eq!(saved.drift(&saved.clone()), None);
    }

    #[test]
    fn a_changed_fingerprint_a_gone_change_and_a_new_one_are_drift() {
        let saved = host(vec![change("p0/t1#1/0", "a")]);
        let other_state = saved.drift(&host(vec![change("p0/t1#1/0", "z")])).unwrap();
        assert!(other_state.why.contains("planned from changed"), "{other_state}");
        assert_eq!(other_state.resource, "/etc/motd");
        let gone = saved.drift(&host(vec![])).unwrap();
        assert!(gone.why.contains("needs no change"), "{gone}");
        let new = saved.drift(&host(vec![change("p0/t1#1/0", "a"), change("p0/t5#1/0", "c")])).unwrap();
        assert!(new.why.contains("does not have"), "{new}");
        assert_eq!(new.task, "task p0/t5#1/0");
    }

    #[test]
    fn an_unpredictable_task_may_change_anything() {
        let mut saved = host(vec![]);
        saved.unpredictable.push(Unpredictable {
            key: "p0/t5#1".into(),
            play: "p".into(),
            task: "run it".into(),
            reason: "command".into(),
        });
        assert_eq!(saved.drift(&host(vec![change("p0/t5#1/3", "c")])), None);
        let plan = SavedPlan {
            format: FORMAT.into(),
            version: VERSION,
            created_at: String::new(),
            stead_version: String::new(),
            run: RunSpec::default(),
            inputs: verify::Inputs::default(),
            hosts: [("h1".to_owned(), saved), ("h2".to_owned(), host(vec![change("p0/t1#1/0", "a")]))].into(),
        };
        let guard = Guard::new(Path::new("plan.json"), &plan);
        assert!(guard.allows("h1", "p0/t5#1/7"));
        assert!(!guard.allows("h1", "p0/t1#1/0"));
        assert!(guard.allows("h2", "p0/t1#1/0"));
        assert!(!guard.allows("h2", "p0/t1#2/0"), "a second run of the task is another change");
        assert!(!guard.allows("h3", "p0/t1#1/0"), "a host not in the plan changes nothing");
    }

    #[test]
    fn a_plan_file_round_trips_and_other_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.json");
        let plan = SavedPlan {
            format: FORMAT.into(),
            version: VERSION,
            created_at: "2026-12-01T00:00:00Z".into(),
            stead_version: "0".into(),
            run: RunSpec { playbooks: vec!["site.yml".into()], ..RunSpec::default() },
            inputs: verify::Inputs::default(),
            hosts: [("h1".to_owned(), host(vec![change("p0/t1#1/0", "a")]))].into(),
        };
        plan.write(&path).unwrap();
        assert!(SavedPlan::is_plan_file(&path));
        let back = SavedPlan::read(&path).unwrap();
        assert_eq!(back.hosts, plan.hosts);
        assert_eq!(back.run, plan.run);
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);

        std::fs::write(&path, "- hosts: all\n").unwrap();
        assert!(!SavedPlan::is_plan_file(&path));
        std::fs::write(&path, r#"{"format": "stead-plan", "version": 99}"#).unwrap();
        let err = SavedPlan::read(&path).unwrap_err().to_string();
        assert!(err.contains("version 99"), "{err}");
        std::fs::write(&path, "{not json").unwrap();
        assert!(SavedPlan::read(&path).is_err());
    }
}
