//! Modules: what a task does to a host.
//!
//! A module is four things, kept apart so that most of its logic is pure and
//! unit-tested without a host (see `docs/architecture.md`):
//!
//! 1. an argument spec ([`ModuleSpec`]), checked when the playbook loads;
//! 2. [`Module::prepare`]: rendered arguments → typed arguments and an [`Action`];
//! 3. [`Action::probe`]: one shell script that reads the current state;
//! 4. [`Action::compare`]: pure, probe output → a [`Plan`] (changed?, diff,
//!    and the one script that would apply the change).
//!
//! Check mode stops after `compare`, so it is correct by construction. The
//! executor runs the apply script and hands its output to [`Action::finish`].
//!
//! A module never builds a shell string from a value by hand: every value
//! goes through [`crate::transport::quote::quote`]. A module never talks to
//! the transport itself: it returns scripts; the executor runs them.

pub mod accounts;
pub mod apt;
pub mod apt_repository;
pub mod args;
pub mod authorized_key;
pub mod blockinfile;
pub mod command;
pub mod control;
pub mod copy;
pub mod cron;
pub mod crypto;
pub mod deb822_repository;
pub mod debversion;
pub mod diff;
pub mod dnf;
pub mod fetch;
pub mod file;
pub mod file_state;
pub mod file_write;
pub mod find;
pub mod firewall;
pub mod get_url;
pub mod getent;
pub mod group;
pub mod hostname;
pub mod http;
pub mod ini_file;
pub mod lineinfile;
pub mod meta;
pub mod mode;
pub mod modprobe;
pub mod mount;
pub mod package;
pub mod package_facts;
pub mod pam_limits;
pub mod patch_facts;
pub mod patch_status;
pub mod raw;
pub mod reboot;
pub mod registry;
pub mod replace;
pub mod service;
pub mod service_facts;
pub mod spec;
pub mod stat;
pub mod sudoers;
pub mod sysctl;
pub mod systemd;
pub mod template;
pub mod timezone;
pub mod unarchive;
pub mod uri;
pub mod user;
pub mod wait_for;

use std::path::PathBuf;
use std::time::Duration;

pub use args::Args;
pub use diff::Diff;
pub use meta::Control;
pub use registry::{lookup, module_names};
pub use spec::{ArgKind, ArgSpec, ModuleSpec};

use crate::transport::ExecOutput;

/// JSON object of a task's result (what `register` stores).
pub type ResultMap = serde_json::Map<String, serde_json::Value>;

/// A module failed while preparing, comparing or finishing.
#[derive(Debug, thiserror::Error)]
pub enum ModuleError {
    /// An argument has a bad value once rendered.
    #[error("argument `{arg}`: {message}")]
    Arg {
        /// The argument.
        arg: String,
        /// What is wrong.
        message: String,
    },
    /// A local file the task needs (copy `src`, template) cannot be read.
    #[error("cannot read {path}: {message}")]
    LocalFile {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// A template failed to render.
    #[error("{0}")]
    Template(String),
    /// The probe's output could not be understood.
    #[error("unexpected probe output: {0}")]
    Probe(String),
    /// The task failed on the host, with Ansible's result fields.
    #[error("{msg}")]
    Failed {
        /// The message.
        msg: String,
        /// Result fields (rc, stdout, stderr, ...), registered even on failure.
        result: ResultMap,
    },
}

/// Reads a controller-side source file, decrypting a vault-encrypted one
/// unless `decrypt` is false (Ansible's `decrypt:` of copy and unarchive).
/// The flag says whether it was decrypted.
pub fn read_local_file(path: &std::path::Path, decrypt: bool) -> Result<(Vec<u8>, bool), ModuleError> {
    let read = if decrypt {
        crate::vault::read_local(path)
    } else {
        crate::inputs::read(path).map(|b| (b, false)).map_err(Into::into)
    };
    read.map_err(|e| {
        let hint = match &e {
            crate::vault::LocalFileError::Vault(v) => v.hint().map(|h| format!(" ({h})")).unwrap_or_default(),
            crate::vault::LocalFileError::Io(_) => String::new(),
        };
        ModuleError::LocalFile { path: path.to_path_buf(), message: format!("{e}{hint}") }
    })
}

impl ModuleError {
    /// A failure with a message and no other result fields.
    pub fn failed(msg: impl Into<String>) -> Self {
        ModuleError::Failed { msg: msg.into(), result: ResultMap::new() }
    }
}

/// The usual `finish` of an apply script that prints its own failure
/// message: exit 0 keeps the plan; anything else fails with the script's
/// stderr as the message and `rc` in the result.
pub fn finish_with_stderr(plan: Plan, out: &ExecOutput) -> Result<Plan, ModuleError> {
    if out.status == 0 {
        return Ok(plan);
    }
    let mut result = plan.result;
    result.insert("rc".into(), out.status.into());
    Err(ModuleError::Failed { msg: out.stderr_text().trim().to_owned(), result })
}

/// What the task may use from its surroundings while preparing.
pub trait TaskContext {
    /// Whether this is a dry run.
    fn check_mode(&self) -> bool;
    /// How verbose the run is (the `-v` count, as Ansible's).
    fn verbosity(&self) -> u8 {
        0
    }
    /// Renders a template text with the host's variables (the `template` module).
    fn render(&self, source: &str, name: &str) -> Result<String, ModuleError>;
    /// Evaluates a Jinja expression with the host's variables (`debug: var=`, `assert: that=`).
    fn eval(&self, expr: &str) -> Result<serde_json::Value, ModuleError>;
    /// Evaluates a condition like `when:` does.
    fn eval_condition(&self, expr: &str) -> Result<bool, ModuleError> {
        Ok(crate::template::truthy(&self.eval(expr)?))
    }
    /// Finds a local file a task names (`copy: src`, `template: src`): beside
    /// the playbook, in `files/` or `templates/`, and in the role's folders.
    fn find_file(&self, name: &str, subdir: &str) -> Result<PathBuf, ModuleError>;
}

/// A file on the controller that a task reads (`copy: src`, `template: src`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalFile {
    /// The argument that names it.
    pub arg: &'static str,
    /// The folder of a role or playbook it is searched in (`files`, `templates`).
    pub subdir: &'static str,
    /// Whether it is a Jinja template (its syntax and variables are checked).
    pub template: bool,
}

/// A module: the name it answers to, its spec, and how to prepare a task.
pub trait Module: Sync + Send {
    /// Short name (`copy`); the registry also accepts `ansible.builtin.copy`.
    fn name(&self) -> &'static str;
    /// Arguments, for load-time validation.
    fn spec(&self) -> &'static ModuleSpec;
    /// Whether this module runs entirely on the controller (debug, set_fact):
    /// such tasks never contact the host.
    fn is_local(&self) -> bool {
        false
    }
    /// The controller-side file a task of this module reads, if any (which
    /// argument names it, where it is searched): the planner checks it
    /// exists before any host is contacted, and reads a template's
    /// variables into the task graph.
    fn local_file(&self) -> Option<LocalFile> {
        None
    }
    /// The variables a task of this module defines for later tasks
    /// (`set_fact` keys), from its arguments as written.
    fn defines(&self, _args: &serde_json::Map<String, serde_json::Value>) -> Vec<String> {
        Vec::new()
    }
    /// Bare Jinja expressions among its arguments (`assert: that`,
    /// `debug: var`): the task graph and the static check read them.
    fn expressions(&self, _args: &serde_json::Map<String, serde_json::Value>) -> Vec<String> {
        Vec::new()
    }
    /// Whether its own expressions may name undefined variables (`debug:
    /// var` prints `VARIABLE IS NOT DEFINED!`): the static check then
    /// leaves them alone.
    fn tolerates_undefined(&self) -> bool {
        false
    }
    /// Whether its message is the point of the task (`debug`, `assert`):
    /// the terminal shows it even when the task succeeds.
    fn shows_message(&self) -> bool {
        false
    }
    /// A task of this module that acts on the play rather than on a host
    /// (`meta`) names what it asks for; the executor runs such a task as a
    /// step of its own and carries the control out. `args` are as written.
    fn control(&self, _args: &serde_json::Map<String, serde_json::Value>) -> Option<Control> {
        None
    }
    /// Typed arguments (rendered) → an action for one host.
    fn prepare(&self, args: &Args, ctx: &dyn TaskContext) -> Result<Box<dyn Action>, ModuleError>;
}

/// One task on one host, between prepare and finish.
pub trait Action: Send {
    /// The script that reads the current state, or `None` when the module
    /// needs no remote state (debug, set_fact, an unguarded command).
    fn probe(&self) -> Option<String>;
    /// Bytes the probe reads on its stdin (a passphrase it needs to read a
    /// key): never put in the probe's text, which a remote `ps` shows.
    /// The probe must read exactly these bytes (`head -c N`), no more.
    fn probe_stdin(&self) -> Vec<u8> {
        Vec::new()
    }
    /// Pure: from the probe's output (when there was a probe) to a plan.
    fn compare(&mut self, probe: Option<&ExecOutput>) -> Result<Plan, ModuleError>;
    /// The paths on the host this unit reads or changes, so that after an
    /// apply only the probes of units touching a related path (the same, a
    /// parent or a child) are sent again. `None`: unknown (a command may
    /// change anything), and every later probe of the run is sent again.
    fn paths(&self) -> Option<Vec<String>> {
        None
    }
    /// Whether this unit's probe saw a missing parent directory: any apply
    /// may then have created it (`mkdir -p` elsewhere), so the probe is
    /// sent again after every change.
    fn saw_missing_parent(&self, _probe: &ExecOutput) -> bool {
        false
    }
    /// After an apply whose plan asked for a [`Reconnect`]: how waiting for
    /// the host went, turned into the task's result. The default keeps the
    /// plan when the host came back and fails otherwise.
    fn reconnected(&mut self, plan: Plan, outcome: &Reconnected) -> Result<Plan, ModuleError> {
        match outcome {
            Reconnected::Back { .. } => Ok(plan),
            Reconnected::TimedOut { stage, .. } => {
                Err(ModuleError::failed(format!("timed out waiting for the host ({stage:?})")))
            }
        }
    }
    /// Interprets the apply script's output. The default: exit 0 means done.
    fn finish(&mut self, plan: Plan, out: &ExecOutput) -> Result<Plan, ModuleError> {
        if out.status == 0 {
            Ok(plan)
        } else {
            let mut result = plan.result;
            result.insert("rc".into(), out.status.into());
            result.insert("stderr".into(), out.stderr_text().into());
            let detail = out.stderr_text();
            Err(ModuleError::Failed { msg: format!("apply failed (exit {}): {}", out.status, detail.trim()), result })
        }
    }
}

/// Whether two host paths can affect each other: the same path, or one
/// inside the other.
pub fn paths_related(a: &str, b: &str) -> bool {
    let a = a.trim_end_matches('/');
    let b = b.trim_end_matches('/');
    let inside = |outer: &str, inner: &str| inner.strip_prefix(outer).is_some_and(|rest| rest.starts_with('/'));
    a == b || inside(a, b) || inside(b, a) || a.is_empty() || b.is_empty()
}

/// A script that changes the host.
#[derive(Debug, Clone, Default)]
pub struct ApplyScript {
    /// POSIX sh; every value quoted.
    pub script: String,
    /// Bytes for its stdin (file content).
    pub stdin: Vec<u8>,
}

/// What the executor does after an apply that takes the host's connection
/// down (`reboot`): it closes the host's connection, waits `delay`, then
/// connects again (each attempt within `connect_timeout`) and runs `marker`
/// until its output (trimmed) is not empty and differs from `previous`,
/// then runs `test` until it exits 0, each stage within `timeout`. Later
/// tasks use the new connection, and their probes are taken after it. The
/// executor knows nothing else of the module: it reports back through
/// [`Action::reconnected`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reconnect {
    /// Wait before the first attempt (`post_reboot_delay`).
    pub delay: Duration,
    /// How long each stage may take (`reboot_timeout`).
    pub timeout: Duration,
    /// The timeout of one connection attempt; `None`: the host's own.
    pub connect_timeout: Option<Duration>,
    /// A shell command whose output changes when the host is back (the boot id).
    pub marker: String,
    /// Its output (trimmed) before the apply.
    pub previous: String,
    /// A shell command that must succeed once the marker changed.
    pub test: String,
    /// The failure when the host's connection is `local` (the "host" is this
    /// machine): the apply then never runs, in check mode too.
    pub refuse_local: String,
}

/// Which stage of a [`Reconnect`] ran out of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReconnectStage {
    /// Waiting for the marker to change.
    Marker,
    /// Waiting for the test command to succeed.
    Test,
}

/// How waiting for a host after a [`Reconnect`] apply went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reconnected {
    /// The marker changed and the test command succeeded.
    Back {
        /// From the end of the apply.
        elapsed: Duration,
    },
    /// A stage ran out of time.
    TimedOut {
        /// Which one.
        stage: ReconnectStage,
        /// The last attempt's error, for the report.
        last_error: String,
        /// From the end of the apply.
        elapsed: Duration,
    },
}

/// The decision for one task on one host.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Whether the host changes (or would, in check mode).
    pub changed: bool,
    /// What changes, for `--diff`.
    pub diff: Option<Diff>,
    /// The script to run when not in check mode; `None` when nothing to do.
    pub apply: Option<ApplyScript>,
    /// Fields of the registered result (`stat`, `msg`, `ansible_facts`, ...).
    pub result: ResultMap,
    /// A message for the report (debug's `msg`).
    pub msg: Option<String>,
    /// The task did not run (command in check mode, `creates` satisfied...).
    pub skipped: bool,
    /// After the apply, wait for the host to come back (`reboot`).
    pub reconnect: Option<Reconnect>,
    /// In check mode: the module cannot tell what a real run would do (an
    /// unguarded command, `uri`, `wait_for`), so it was skipped. A saved
    /// plan lets such a task, and the tasks that use its result, run as
    /// the playbook says.
    pub unpredictable: bool,
}

impl Plan {
    /// Nothing to do.
    pub fn ok() -> Self {
        Plan::default()
    }
    /// A change, with the script that makes it.
    pub fn change(apply: ApplyScript) -> Self {
        Plan { changed: true, apply: Some(apply), ..Plan::default() }
    }
    /// Adds a diff.
    pub fn with_diff(mut self, diff: Option<Diff>) -> Self {
        self.diff = diff;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::paths_related;

    #[test]
    fn related_paths_are_the_same_a_parent_or_a_child() {
        assert!(paths_related("/etc/ssh", "/etc/ssh/"));
        assert!(paths_related("/etc/ssh", "/etc/ssh/sshd_config"));
        assert!(paths_related("/etc/ssh/sshd_config", "/etc"));
        assert!(!paths_related("/etc/ssh", "/etc/sshd"));
        assert!(!paths_related("/a/b", "/a/c"));
        assert!(paths_related("/", "/anything"));
    }
}
