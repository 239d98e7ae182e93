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
