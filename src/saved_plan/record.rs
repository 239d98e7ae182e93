//! What a dry run that saves its plan writes down, host by host, as the
//! executor goes: the changes with their fingerprints, and the tasks it
//! cannot predict. The executor calls it; it never decides anything.

use std::collections::BTreeMap;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use super::{HostPlan, HostStatus, PlannedChange, Unpredictable};
use crate::modules::Plan;

/// Collects the plan of every host of a dry run.
#[derive(Debug, Default)]
pub struct Recorder {
    hosts: Mutex<BTreeMap<String, HostPlan>>,
}

impl Recorder {
    /// A change found on `host`.
    pub fn change(&self, host: &str, change: PlannedChange) {
        self.with(host, |h| h.changes.push(change));
    }

    /// A task of `host` that the dry run cannot predict (recorded once per
    /// task run).
    pub fn unpredictable(&self, host: &str, task: Unpredictable) {
        self.with(host, |h| {
            if !h.unpredictable.iter().any(|u| u.key == task.key) {
                h.unpredictable.push(task);
            }
        });
    }

    /// How `host`'s dry run ended (every host of the run gets an entry,
    /// with no changes when none were found).
    pub fn status(&self, host: &str, status: HostStatus) {
        self.with(host, |h| h.status = status);
    }

    /// Everything recorded.
    pub fn take(&self) -> BTreeMap<String, HostPlan> {
        std::mem::take(&mut *self.hosts.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn with(&self, host: &str, f: impl FnOnce(&mut HostPlan)) {
        let mut hosts = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
        f(hosts.entry(host.to_owned()).or_default());
    }
}

/// The fingerprint of a change: SHA-256 over whether it changes, the item
/// and the module's diff (its headers and the whole before and after
/// text, not the shortened rendering). The diff is what the module computed
/// from the probed state, so the same state gives the same fingerprint,
/// while volatile details of a probe (a file's access time) do not count.
/// A module that reports no diff is fingerprinted by what it would do.
pub fn fingerprint(module: &str, item: Option<&str>, plan: &Plan) -> String {
    // Over the masked text: a plan file is shared, and a hash of a short
    // secret in a known line could be guessed back. The secret's own
    // source file is an input whose hash the plan checks.
    use crate::vault::mask::mask;
    let mut h = Sha256::new();
    let mut field = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    field(module.as_bytes());
    field(mask(item.unwrap_or("")).as_bytes());
    field(&[u8::from(plan.changed), u8::from(plan.apply.is_some())]);
    match &plan.diff {
        Some(d) => {
            for part in [&d.before_header, &d.after_header, &d.before, &d.after] {
                field(mask(part).as_bytes());
            }
        }
        None => field(mask(plan.msg.as_deref().unwrap_or("")).as_bytes()),
    }
    let digest = h.finalize();
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::{ApplyScript, Diff};

    #[test]
    fn the_fingerprint_follows_the_state_not_the_script() {
        let plan = |before: &str, script: &str| {
            Plan::change(ApplyScript { script: script.into(), stdin: vec![] }).with_diff(Some(Diff::file(
                "/etc/motd",
                before,
                "new\n",
            )))
        };
        let a = fingerprint("copy", None, &plan("old\n", "mv a b"));
        assert_eq!(a, fingerprint("copy", None, &plan("old\n", "mv c d")), "a temporary name is not state");
        assert_ne!(a, fingerprint("copy", None, &plan("older\n", "mv a b")));
        assert_ne!(a, fingerprint("copy", Some("x"), &plan("old\n", "mv a b")));
        assert_ne!(a, fingerprint("template", None, &plan("old\n", "mv a b")));
        assert_eq!(a.len(), 64);
    }

    #[test]
    fn every_host_gets_its_plan() {
        let r = Recorder::default();
        r.status("h2", HostStatus::Unreachable);
        let u = Unpredictable { key: "p0/t1#1".into(), play: "p".into(), task: "t".into(), reason: "r".into() };
        r.unpredictable("h1", u.clone());
        r.unpredictable("h1", u);
        let hosts = r.take();
        assert_eq!(hosts["h1"].unpredictable.len(), 1);
        assert_eq!(hosts["h2"].status, HostStatus::Unreachable);
        assert!(r.take().is_empty());
    }
}
