//! `reboot`: reboots a host and waits until it is back, as
//! `ansible.builtin.reboot` (an action plugin in Ansible), step for step.
//!
//! The work is split between the module and the executor, which is the only
//! part that may close and open connections:
//!
//! - the probe reads the boot id (`boot_time_command`, by default
//!   `cat /proc/sys/kernel/random/boot_id`) and finds the shutdown command
//!   in `search_paths`, as the plugin's `find` does;
//! - [`RebootAction::compare`] is pure: it always plans a change (Ansible
//!   always reboots), with an apply script that starts
//!   `shutdown -r <minutes> <msg>` (or `reboot_command`) detached from the
//!   session (`setsid`, SIGHUP ignored, stdin from /dev/null, output to a
//!   file), so the exec
//!   returns before sshd goes away; it waits up to three seconds for the
//!   command to fail fast (a bad option), which then fails the task as in
//!   Ansible ("Reboot command failed. Error was: ...");
//! - the plan carries a [`Reconnect`]: the executor closes the host's
//!   connection, waits `post_reboot_delay`, connects again until the boot
//!   id differs (within `reboot_timeout`, each attempt within
//!   `connect_timeout`), then runs `test_command` until it succeeds; later
//!   tasks run on the new connection and probe after the reboot. The
//!   executor reports back through [`RebootAction::reconnected`], which
//!   writes Ansible's result (`rebooted`, `elapsed`, `changed`) or its
//!   timeout message. The executor knows nothing about reboots.
//!
//! In check mode there is no probe and nothing runs: the result is
//! Ansible's (`changed: true, rebooted: true, elapsed: 0`). A host with the
//! `local` connection is never rebooted (it would be this machine).
//!
//! `boot_time_command`, `test_command` and the arguments of
//! `reboot_command` are command lines the host's shell runs, as in Ansible;
//! every other value (the shutdown path, `msg`, search paths) goes through
//! [`crate::transport::quote::quote`]. This module never builds a shell
//! string from a value by hand.

use std::time::Duration;

use super::{
    Action, ApplyScript, ArgKind, ArgSpec, Args, Diff, Module, ModuleError, ModuleSpec, Plan, Reconnect,
    ReconnectStage, Reconnected, ResultMap, TaskContext,
};
use crate::transport::quote::quote;
use crate::transport::ExecOutput;

/// The `reboot` module.
pub struct Reboot;

/// Ansible's defaults.
const DEFAULT_REBOOT_TIMEOUT: i64 = 600;
const DEFAULT_TEST_COMMAND: &str = "whoami";
const DEFAULT_BOOT_TIME_COMMAND: &str = "cat /proc/sys/kernel/random/boot_id";
const DEFAULT_MESSAGE: &str = "Reboot initiated by Ansible";
const DEFAULT_SHUTDOWN: &str = "shutdown";
const DEFAULT_SEARCH_PATHS: &[&str] = &["/sbin", "/bin", "/usr/sbin", "/usr/bin", "/usr/local/sbin"];

/// First line of the probe's output.
const MARKER: &str = "stead-reboot";

/// Exit status of the apply script when the reboot command failed at once.
const COMMAND_FAILED: i32 = 3;

static SPEC: ModuleSpec = ModuleSpec::new(&[
    ArgSpec::new("reboot_timeout", ArgKind::Int),
    ArgSpec::new("connect_timeout", ArgKind::Int),
    ArgSpec::new("msg", ArgKind::Str),
    ArgSpec::new("pre_reboot_delay", ArgKind::Int),
    ArgSpec::new("post_reboot_delay", ArgKind::Int),
    ArgSpec::new("test_command", ArgKind::Str),
    ArgSpec::new("boot_time_command", ArgKind::Str),
    ArgSpec::new("reboot_command", ArgKind::Str),
    ArgSpec::new("search_paths", ArgKind::List),
]);

impl Module for Reboot {
    fn name(&self) -> &'static str {
        "reboot"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: &Args, ctx: &dyn TaskContext) -> Result<Box<dyn Action>, ModuleError> {
        Ok(Box::new(RebootAction::from_args(args, ctx.check_mode())?))
    }
}

impl RebootAction {
    /// Typed arguments, with Ansible's defaults.
    pub fn from_args(args: &Args, check: bool) -> Result<Self, ModuleError> {
        // Ansible's `_check_delay`: negative delays are 0.
        let delay = |name: &str| -> Result<u64, ModuleError> { Ok(args.opt_int(name)?.unwrap_or(0).max(0) as u64) };
        let reboot_timeout = args.opt_int("reboot_timeout")?.unwrap_or(DEFAULT_REBOOT_TIMEOUT).max(0) as u64;
        let connect_timeout = match args.opt_int("connect_timeout")? {
            // Ansible only overrides the connection's timeout when it is set
            // and not 0.
            Some(t) if t > 0 => Some(t as u64),
            _ => None,
        };
        let boot_time_command = args
            .opt_str("boot_time_command")?
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| DEFAULT_BOOT_TIME_COMMAND.to_owned());
        let pre_reboot_delay = delay("pre_reboot_delay")?;
        let command = match args.opt_str("reboot_command")? {
            Some(line) => {
                let (bin, rest) = line.split_once(' ').unwrap_or((line.as_str(), ""));
                Command { bin: bin.to_owned(), args: rest.to_owned() }
            }
            None => {
                let msg = args.opt_str("msg")?.unwrap_or_else(|| DEFAULT_MESSAGE.to_owned());
                // Minutes, rounded down (`shutdown -r 0` below a minute).
                Command {
                    bin: DEFAULT_SHUTDOWN.to_owned(),
                    args: format!("-r {} {}", pre_reboot_delay / 60, quote(&msg)),
                }
            }
        };
        if command.bin.is_empty() {
            return Err(ModuleError::Arg { arg: "reboot_command".into(), message: "names no command".into() });
        }
        let search_paths = if args.has("search_paths") {
            args.str_list("search_paths")?
        } else {
            DEFAULT_SEARCH_PATHS.iter().map(|p| (*p).to_owned()).collect()
        };
        Ok(RebootAction {
            check,
            reboot_timeout,
            connect_timeout,
            post_reboot_delay: delay("post_reboot_delay")?,
            test_command: args.opt_str("test_command")?.unwrap_or_else(|| DEFAULT_TEST_COMMAND.to_owned()),
            boot_time_command,
            command,
            search_paths,
        })
    }
}

/// The reboot command: its program and its arguments (a command line).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Command {
    bin: String,
    args: String,
}

/// One `reboot` task on one host.
#[derive(Debug)]
pub struct RebootAction {
    check: bool,
    reboot_timeout: u64,
    connect_timeout: Option<u64>,
    post_reboot_delay: u64,
    test_command: String,
    boot_time_command: String,
    command: Command,
    search_paths: Vec<String>,
}

/// What the probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probed {
    /// The shutdown program's path, empty when not found.
    pub bin: String,
    /// The boot id (trimmed), when `boot_time_command` succeeded.
    pub boot_id: Result<String, String>,
}

/// Parses the probe's output: `stead-reboot LEN`, the path (LEN bytes) and
/// a newline, then the boot-id command's stdout; its exit status is the
/// probe's.
pub fn parse_probe(out: &ExecOutput) -> Result<Probed, ModuleError> {
    let bad = || ModuleError::Probe("bad reboot probe output".into());
    let stdout = &out.stdout;
    let end = stdout.iter().position(|&b| b == b'\n').ok_or_else(bad)?;
    let header = std::str::from_utf8(&stdout[..end]).map_err(|_| bad())?;
    let len: usize = header.strip_prefix(MARKER).and_then(|n| n.trim().parse().ok()).ok_or_else(bad)?;
    let rest = &stdout[end + 1..];
    if rest.len() < len + 1 {
        return Err(bad());
    }
    let bin = String::from_utf8_lossy(&rest[..len]).into_owned();
    let boot = String::from_utf8_lossy(&rest[len + 1..]).trim().to_owned();
    let boot_id = if out.status == 0 {
        Ok(boot)
    } else {
        Err(format!(
            "reboot: failed to get host boot time info, rc: {}, stdout: {}, stderr: {}",
            out.status,
            String::from_utf8_lossy(&rest[len + 1..]),
            out.stderr_text()
        ))
    };
    Ok(Probed { bin, boot_id })
}

/// Python's repr of a list of strings, as Ansible's messages show it.
fn py_list(items: &[String]) -> String {
    let items: Vec<String> =
        items.iter().map(|i| format!("'{}'", i.replace('\\', "\\\\").replace('\'', "\\'"))).collect();
    format!("[{}]", items.join(", "))
}

impl RebootAction {
    fn probe_script(&self) -> String {
        let mut s = String::new();
        if self.command.bin.starts_with('/') {
            s.push_str(&format!("stead_bin={}\n", quote(&self.command.bin)));
        } else {
            let dirs: Vec<String> = self.search_paths.iter().map(|p| quote(p).into_owned()).collect();
            s.push_str(&format!(
                "stead_bin=\nfor stead_d in {}; do\n  \
                 if [ -e \"$stead_d\"/{bin} ] || [ -L \"$stead_d\"/{bin} ]; then stead_bin=\"$stead_d\"/{bin}; break; fi\n\
                 done\n",
                if dirs.is_empty() { "''".to_owned() } else { dirs.join(" ") },
                bin = quote(&self.command.bin)
            ));
        }
        s.push_str(&format!(
            "printf '{MARKER} %s\\n%s\\n' \"$(printf %s \"$stead_bin\" | wc -c)\" \"$stead_bin\"\n\
             ( {}\n) </dev/null\n",
            self.boot_time_command
        ));
        s
    }

    /// The apply script: the reboot command started detached, and its exit
    /// status waited for a little, so that a command that fails at once
    /// fails the task.
    fn apply_script(&self, bin: &str) -> ApplyScript {
        let line = if self.command.args.is_empty() {
            quote(bin).into_owned()
        } else {
            format!("{} {}", quote(bin), self.command.args)
        };
        let inner = format!("{line}\necho $? >\"$1.rc\"\n");
        let script = format!(
            "stead_out=$(mktemp) || exit 1\n\
             if command -v setsid >/dev/null 2>&1; then stead_detach=setsid; else stead_detach=; fi\n\
             trap '' HUP\n\
             $stead_detach sh -c {} sh \"$stead_out\" </dev/null >\"$stead_out\" 2>\"$stead_out.err\" &\n\
             stead_i=0\n\
             while [ \"$stead_i\" -lt 30 ] && [ ! -s \"$stead_out.rc\" ]; do\n  \
             sleep 0.1 2>/dev/null || sleep 1\n  stead_i=$((stead_i + 1))\n\
             done\n\
             [ -s \"$stead_out.rc\" ] || exit 0\n\
             stead_rc=$(cat \"$stead_out.rc\")\n\
             if [ \"$stead_rc\" != 0 ]; then\n  \
             cat \"$stead_out\"\n  cat \"$stead_out.err\" >&2\n  rm -f \"$stead_out\" \"$stead_out.err\" \"$stead_out.rc\"\n  \
             exit {COMMAND_FAILED}\n\
             fi\n\
             rm -f \"$stead_out\" \"$stead_out.err\" \"$stead_out.rc\"\n",
            quote(&inner)
        );
        ApplyScript { script, stdin: Vec::new() }
    }

    fn reconnect(&self, previous: String) -> Reconnect {
        Reconnect {
            delay: Duration::from_secs(self.post_reboot_delay),
            timeout: Duration::from_secs(self.reboot_timeout),
            connect_timeout: self.connect_timeout.map(Duration::from_secs),
            marker: self.boot_time_command.clone(),
            previous,
            test: self.test_command.clone(),
            refuse_local: "Running reboot with local connection would reboot the control node.".into(),
        }
    }

    /// Pure: from what the probe found (`None` in check mode) to the plan.
    pub fn decide(&self, probed: Option<Probed>) -> Result<Plan, ModuleError> {
        let mut result = ResultMap::new();
        result.insert("changed".into(), true.into());
        result.insert("elapsed".into(), 0.into());
        result.insert("rebooted".into(), true.into());
        let diff = Some(Diff::state("host", &[("state", "running".into())], &[("state", "rebooted".into())]));
        let Some(probed) = probed else {
            // Check mode: Ansible returns at once, without touching the host.
            let mut plan = Plan::change(self.apply_script(&self.command.bin)).with_diff(diff);
            plan.result = result;
            plan.reconnect = Some(self.reconnect(String::new()));
            return Ok(plan);
        };
        let previous = probed.boot_id.map_err(|msg| {
            let mut result = ResultMap::new();
            result.insert("reboot".into(), false.into());
            ModuleError::Failed { msg, result }
        })?;
        if probed.bin.is_empty() {
            return Err(ModuleError::failed(format!(
                "Unable to find command \"{}\" in search paths: {}",
                self.command.bin,
                py_list(&self.search_paths)
            )));
        }
        let mut plan = Plan::change(self.apply_script(&probed.bin)).with_diff(diff);
        plan.result = result;
        plan.reconnect = Some(self.reconnect(previous));
        Ok(plan)
    }
}

impl Action for RebootAction {
    fn probe(&self) -> Option<String> {
        // Ansible's check mode never runs a command on the host.
        (!self.check).then(|| self.probe_script())
    }

    fn compare(&mut self, probe: Option<&ExecOutput>) -> Result<Plan, ModuleError> {
        match probe {
            None if self.check => self.decide(None),
            None => Err(ModuleError::Probe("the reboot probe did not run".into())),
            Some(out) => self.decide(Some(parse_probe(out)?)),
        }
    }

    fn finish(&mut self, plan: Plan, out: &ExecOutput) -> Result<Plan, ModuleError> {
        if out.status == 0 {
            return Ok(plan);
        }
        let msg = if out.status == COMMAND_FAILED {
            format!("Reboot command failed. Error was: '{}, {}'", out.stdout_text().trim(), out.stderr_text().trim())
        } else {
            format!("cannot start the reboot command: {}", out.stderr_text().trim())
        };
        let mut result = ResultMap::new();
        result.insert("rebooted".into(), false.into());
        result.insert("elapsed".into(), 0.into());
        Err(ModuleError::Failed { msg, result })
    }

    fn reconnected(&mut self, mut plan: Plan, outcome: &Reconnected) -> Result<Plan, ModuleError> {
        match outcome {
            Reconnected::Back { elapsed } => {
                plan.result.insert("elapsed".into(), elapsed.as_secs().into());
                Ok(plan)
            }
            Reconnected::TimedOut { stage, elapsed, .. } => {
                let desc = match stage {
                    ReconnectStage::Marker => "last boot time check",
                    ReconnectStage::Test => "post-reboot test command",
                };
                let mut result = ResultMap::new();
                result.insert("rebooted".into(), true.into());
                result.insert("elapsed".into(), elapsed.as_secs().into());
                Err(ModuleError::Failed {
                    msg: format!("Timed out waiting for {desc} (timeout={})", self.reboot_timeout),
                    result,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::file_write::testing::{run, HOSTILE};
    use serde_json::{json, Value};

    fn action_with(v: Value, check: bool) -> RebootAction {
        let Value::Object(map) = v else { panic!("an object") };
        RebootAction::from_args(&Args::new(&SPEC, map), check).unwrap()
    }

    fn action(v: Value) -> RebootAction {
        action_with(v, false)
    }

    fn out(status: i32, stdout: &str) -> ExecOutput {
        ExecOutput { status, stdout: stdout.as_bytes().to_vec(), stderr: b"oops".to_vec() }
    }

    #[test]
    fn the_plan_reboots_with_shutdown_and_asks_for_a_reconnect() {
        let a = action(json!({"msg": "bye $(now)", "pre_reboot_delay": 150, "post_reboot_delay": -3,
                               "reboot_timeout": 5, "connect_timeout": 2}));
        let plan = a.decide(Some(Probed { bin: "/sbin/shutdown".into(), boot_id: Ok("id-1".into()) })).unwrap();
        assert!(plan.changed);
        let script = &plan.apply.as_ref().unwrap().script;
        assert!(script.contains("/sbin/shutdown -r 2 '\\''bye $(now)'\\''"), "{script}");
        let r = plan.reconnect.unwrap();
        assert_eq!(r.previous, "id-1");
        assert_eq!(r.delay, Duration::ZERO);
        assert_eq!(r.timeout, Duration::from_secs(5));
        assert_eq!(r.connect_timeout, Some(Duration::from_secs(2)));
        assert_eq!((r.marker.as_str(), r.test.as_str()), (DEFAULT_BOOT_TIME_COMMAND, "whoami"));
        assert_eq!(plan.result["rebooted"], true);
    }

    #[test]
    fn a_missing_command_and_a_failing_boot_id_fail_with_ansibles_messages() {
        let a = action(json!({"search_paths": ["/nowhere", "/x"]}));
        let err = a.decide(Some(Probed { bin: String::new(), boot_id: Ok("id".into()) })).unwrap_err();
        assert_eq!(err.to_string(), "Unable to find command \"shutdown\" in search paths: ['/nowhere', '/x']");
        let probed = parse_probe(&out(1, "stead-reboot 0\n\n")).unwrap();
        let err = a.decide(Some(probed)).unwrap_err();
        assert_eq!(err.to_string(), "reboot: failed to get host boot time info, rc: 1, stdout: , stderr: oops");
    }

    #[test]
    fn check_mode_probes_nothing_and_reports_ansibles_result() {
        let mut a = action_with(json!({}), true);
        assert!(a.probe().is_none());
        let plan = a.compare(None).unwrap();
        assert!(plan.changed);
        assert_eq!(Value::Object(plan.result), json!({"changed": true, "elapsed": 0, "rebooted": true}));
    }

    #[test]
    fn a_timeout_names_the_stage_as_ansible_does() {
        let mut a = action(json!({"reboot_timeout": 7}));
        let plan = a.decide(Some(Probed { bin: "/sbin/shutdown".into(), boot_id: Ok("id".into()) })).unwrap();
        let e = Duration::from_secs(8);
        let err = a
            .reconnected(
                plan.clone(),
                &Reconnected::TimedOut { stage: ReconnectStage::Marker, last_error: "x".into(), elapsed: e },
            )
            .unwrap_err();
        assert_eq!(err.to_string(), "Timed out waiting for last boot time check (timeout=7)");
        let err = a
            .reconnected(
                plan.clone(),
                &Reconnected::TimedOut { stage: ReconnectStage::Test, last_error: "x".into(), elapsed: e },
            )
            .unwrap_err();
        assert_eq!(err.to_string(), "Timed out waiting for post-reboot test command (timeout=7)");
        let done = a.reconnected(plan, &Reconnected::Back { elapsed: Duration::from_secs(3) }).unwrap();
        assert_eq!(done.result["elapsed"], 3);
    }

    #[test]
    fn the_real_probe_finds_the_command_and_reads_the_boot_id_on_a_hostile_path() {
        let dir = tempfile::tempdir().unwrap();
        let bins = dir.path().join(HOSTILE);
        std::fs::create_dir_all(&bins).unwrap();
        let script = "#!/bin/sh\nprintf '%s|' \"$0\" \"$@\" > \"$(dirname \"$0\")/ran\"\nexit 0\n";
        for name in ["shutdown", "it's$(x)"] {
            let fake = bins.join(name);
            std::fs::write(&fake, script).unwrap();
            std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        }
        let paths = vec![dir.path().join("none").display().to_string(), bins.display().to_string()];
        let a = action(json!({"search_paths": paths, "msg": "it's $(x)", "boot_time_command": "echo ' id-8 '"}));
        let probed = parse_probe(&run(&a.probe_script(), b"")).unwrap();
        let shutdown = bins.join("shutdown").display().to_string();
        assert_eq!(probed, Probed { bin: shutdown.clone(), boot_id: Ok("id-8".into()) });
        // The apply runs it detached with the quoted message, and waits for it.
        let done = run(&a.apply_script(&probed.bin).script, b"");
        assert_eq!(done.status, 0, "{}", done.stderr_text());
        assert_eq!(std::fs::read_to_string(bins.join("ran")).unwrap(), format!("{shutdown}|-r|0|it's $(x)|"));

        // `reboot_command` splits at the first space: a program, then a
        // command line.
        let a = action(json!({"search_paths": paths, "reboot_command": "it's$(x) now 'or never'"}));
        assert_eq!(a.command, Command { bin: "it's$(x)".into(), args: "now 'or never'".into() });
        let probed = parse_probe(&run(&a.probe_script(), b"")).unwrap();
        let program = bins.join("it's$(x)").display().to_string();
        assert_eq!(probed.bin, program);
        assert_eq!(run(&a.apply_script(&probed.bin).script, b"").status, 0);
        assert_eq!(std::fs::read_to_string(bins.join("ran")).unwrap(), format!("{program}|now|or never|"));
        assert!(!dir.path().join("pwned").exists() && !std::path::Path::new("pwned").exists());

        // Not found: an empty path.
        let a = action(json!({"search_paths": [dir.path().join("none").display().to_string()]}));
        assert_eq!(parse_probe(&run(&a.probe_script(), b"")).unwrap().bin, "");
    }

    #[test]
    fn a_reboot_command_that_fails_at_once_fails_the_task() {
        let mut a = action(json!({"reboot_command": "/bin/sh -c 'echo out; echo err >&2; exit 2'"}));
        let apply = a.apply_script("/bin/sh");
        let done = run(&apply.script, b"");
        assert_eq!(done.status, COMMAND_FAILED);
        let plan = a.decide(Some(Probed { bin: "/bin/sh".into(), boot_id: Ok("id".into()) })).unwrap();
        let err = a.finish(plan, &done).unwrap_err();
        assert_eq!(err.to_string(), "Reboot command failed. Error was: 'out, err'");
    }
}
