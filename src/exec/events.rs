//! What the executor tells the world. Reporters (terminal, JSON, JUnit)
//! consume these events; the executor knows nothing of how they are shown.

use serde::Serialize;

/// The status of one task on one host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Succeeded, nothing changed.
    Ok,
    /// Succeeded and changed the host (or would, in check mode).
    Changed,
    /// Failed.
    Failed,
    /// Did not run (`when` false, tags, check mode for commands).
    Skipped,
}

/// The outcome of one task on one host.
#[derive(Debug, Clone, Serialize)]
pub struct TaskRecord {
    /// Inventory host name.
    pub host: String,
    /// Play name.
    pub play: String,
    /// Task name as displayed.
    pub task: String,
    /// Module name (bare).
    pub module: String,
    /// Status.
    pub status: Status,
    /// The result changed the host; true for a changed task, and for a
    /// failed one that changed something first (a command that ran).
    pub changed: bool,
    /// Unified diff (with `--diff`, when something changes).
    pub diff: Option<String>,
    /// A message (debug output, failure reason).
    pub msg: Option<String>,
    /// Wall time of the task on this host.
    pub duration_ms: u64,
    /// A failure that `ignore_errors` let pass.
    pub ignored: bool,
    /// A failure inside a block with a rescue (counted `rescued`, not
    /// `failed`, as Ansible's recap counts it).
    pub rescued: bool,
    /// Whether the terminal shows `diff` (`--diff`, or the task's `diff:`).
    pub show_diff: bool,
    /// Whether the message is the point of the task (`debug`, `assert`):
    /// shown even on success.
    pub show_msg: bool,
    /// Whether this was a handler.
    pub handler: bool,
    /// Per-item statuses of a loop task (`item label`, status).
    pub items: Vec<(String, Status)>,
    /// The task's tags, with those it inherits (play, role, block, import).
    pub tags: Vec<String>,
    /// The backups this task made (`backup: true`), so they can be found
    /// again (`stead backups`).
    pub backups: Vec<BackupMade>,
}

/// A backup a task left on its host: the file and the copy of its previous
/// version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct BackupMade {
    /// The file that was changed.
    pub path: String,
    /// The copy of its previous version, beside it on the host.
    pub backup: String,
}

/// One remote command, told with `-v` so a person can see what stead sent
/// (with `-vv`, the script itself). Built only when asked for.
#[derive(Debug, Clone)]
pub struct RemoteTrace {
    /// Inventory host name.
    pub host: String,
    /// What it was for: `gather facts`, `probe of 3 tasks`, `apply: NAME`.
    pub what: String,
    /// The script as sent, before privilege escalation wraps it: only with
    /// `-vv`, and never for a `no_log` task (`hidden` says so).
    pub script: Option<String>,
    /// With `-vv`, the script is not shown because of `no_log` (it is
    /// never shown at any verbosity).
    pub hidden: bool,
    /// Length of the script.
    pub script_bytes: usize,
    /// Bytes sent on stdin (file contents travel there).
    pub stdin_bytes: usize,
    /// The user it ran as through privilege escalation, if any.
    pub become_user: Option<String>,
    /// The exit status, or what went wrong with the connection.
    pub outcome: Result<i32, String>,
    /// Wall time.
    pub duration_ms: u64,
}

/// Something that happened during a run.
#[derive(Debug, Clone)]
pub enum Event {
    /// A play starts.
    PlayStart {
        /// Its name.
        name: String,
        /// The hosts it runs on.
        hosts: Vec<String>,
        /// Number of selected tasks (for progress).
        tasks: usize,
    },
    /// A task starts on a host.
    TaskStart {
        /// Host.
        host: String,
        /// Task name.
        task: String,
    },
    /// A task finished on a host.
    TaskDone(TaskRecord),
    /// A host could not be reached; its remaining tasks do not run.
    Unreachable {
        /// Host.
        host: String,
        /// Play.
        play: String,
        /// Why.
        msg: String,
    },
    /// A remote command ran (only with `-v`; see [`RemoteTrace`]).
    Remote(RemoteTrace),
    /// A host finished a play.
    HostDone {
        /// Host.
        host: String,
    },
    /// Something worth telling that is not a task result.
    Warning(String),
}

/// A consumer of events. Called from many tasks at once: implementations
/// synchronise internally.
///
/// The linear strategy holds each host's results of a step so they can be
/// shown task by task across hosts. A held event is offered at once to
/// [`EventSink::live`] (for sinks that record as things happen, like the
/// JSONL log) and delivered later, in display order, to
/// [`EventSink::replay`]. Every other event goes to [`EventSink::emit`]
/// alone. A sink that shows results implements `emit` only; one that records
/// them as they happen implements `live` and ignores `replay`.
pub trait EventSink: Send + Sync {
    /// Receives one event, as it happens and in display order.
    fn emit(&self, event: Event);

    /// An event that happened now but is held for display; it comes again
    /// through [`EventSink::replay`].
    fn live(&self, _event: &Event) {}

    /// A held event, in display order, that [`EventSink::live`] saw already.
    fn replay(&self, event: Event) {
        self.emit(event)
    }
}

/// Sends every event to several sinks.
pub struct Tee(pub Vec<std::sync::Arc<dyn EventSink>>);

impl EventSink for Tee {
    fn emit(&self, event: Event) {
        for sink in &self.0 {
            sink.emit(event.clone());
        }
    }

    fn live(&self, event: &Event) {
        for sink in &self.0 {
            sink.live(event);
        }
    }

    fn replay(&self, event: Event) {
        for sink in &self.0 {
            sink.replay(event.clone());
        }
    }
}

/// Hides every vault-decrypted value (see [`crate::vault::mask`]) in the
/// events it passes on. The binary puts it in front of every sink, so the
/// terminal, the reports built from the events (JSON, JUnit, JSONL,
/// Prometheus) and the audit trail never see a decrypted value, whichever
/// task, template or error put it in the text.
pub struct Masked(pub std::sync::Arc<dyn EventSink>);

/// An event with every registered secret replaced by `********`.
pub fn mask_event(event: Event) -> Event {
    use crate::vault::mask::mask_in_place as m;
    if !crate::vault::mask::any() {
        return event;
    }
    match event {
        Event::PlayStart { mut name, mut hosts, tasks } => {
            m(&mut name);
            hosts.iter_mut().for_each(m);
            Event::PlayStart { name, hosts, tasks }
        }
        Event::TaskStart { mut host, mut task } => {
            m(&mut host);
            m(&mut task);
            Event::TaskStart { host, task }
        }
        Event::TaskDone(mut r) => {
            for s in [&mut r.host, &mut r.play, &mut r.task, &mut r.module] {
                m(s);
            }
            r.diff.iter_mut().chain(r.msg.iter_mut()).for_each(m);
            r.items.iter_mut().for_each(|(label, _)| m(label));
            r.tags.iter_mut().for_each(m);
            for b in &mut r.backups {
                m(&mut b.path);
                m(&mut b.backup);
            }
            Event::TaskDone(r)
        }
        Event::Unreachable { mut host, mut play, mut msg } => {
            for s in [&mut host, &mut play, &mut msg] {
                m(s);
            }
            Event::Unreachable { host, play, msg }
        }
        Event::HostDone { mut host } => {
            m(&mut host);
            Event::HostDone { host }
        }
        Event::Remote(mut t) => {
            m(&mut t.host);
            m(&mut t.what);
            t.script.iter_mut().for_each(m);
            if let Err(e) = &mut t.outcome {
                m(e);
            }
            Event::Remote(t)
        }
        Event::Warning(mut w) => {
            m(&mut w);
            Event::Warning(w)
        }
    }
}

impl EventSink for Masked {
    fn emit(&self, event: Event) {
        self.0.emit(mask_event(event));
    }

    fn live(&self, event: &Event) {
        self.0.live(&mask_event(event.clone()));
    }

    fn replay(&self, event: Event) {
        self.0.replay(mask_event(event));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    struct Keep(Mutex<Vec<Event>>);

    impl EventSink for Keep {
        fn emit(&self, event: Event) {
            self.0.lock().unwrap().push(event);
        }
    }

    #[test]
    fn a_masked_sink_never_sees_a_vaulted_value() {
        crate::vault::mask::register("events-mask-secret");
        let keep = Arc::new(Keep(Mutex::new(Vec::new())));
        let sink = Masked(keep.clone());
        sink.emit(Event::TaskDone(TaskRecord {
            host: "h".into(),
            play: "p".into(),
            task: "use events-mask-secret".into(),
            module: "debug".into(),
            status: Status::Failed,
            changed: false,
            diff: Some("+pw=events-mask-secret\n".into()),
            msg: Some("stderr: events-mask-secret".into()),
            duration_ms: 0,
            ignored: false,
            rescued: false,
            show_diff: true,
            show_msg: true,
            handler: false,
            items: vec![("events-mask-secret".into(), Status::Ok)],
            tags: vec![],
            backups: vec![],
        }));
        sink.emit(Event::Warning("w events-mask-secret".into()));
        let seen = format!("{:?}", keep.0.lock().unwrap());
        assert!(!seen.contains("events-mask-secret"), "{seen}");
        assert!(seen.contains("use ********"), "{seen}");
    }
}
