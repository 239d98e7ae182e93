//! `command` and `shell`: run a program, always "changed" unless guarded by
//! `creates` / `removes`, as in Ansible.
//!
//! `command` splits its text into words (shell-like) and runs them without
//! a shell: every word is quoted with [`quote`]. `shell` hands its text to
//! `sh -c` as one quoted argument. In check mode the command does not run
//! and the task is reported skipped, unless a guard already says it would
//! not run.

use serde_json::Value as Json;

use super::spec::{ArgKind, ArgSpec};
use super::{Action, ApplyScript, Args, Module, ModuleError, ModuleSpec, Plan, ResultMap, TaskContext};
use crate::transport::quote::quote;
use crate::transport::ExecOutput;

static COMMAND_SPEC: ModuleSpec = ModuleSpec::new(&[
    ArgSpec::new("cmd", ArgKind::Str).aliases(&["_raw_params"]),
    ArgSpec::new("argv", ArgKind::List),
    ArgSpec::new("creates", ArgKind::Str),
    ArgSpec::new("removes", ArgKind::Str),
    ArgSpec::new("chdir", ArgKind::Str),
    ArgSpec::new("stdin", ArgKind::Str),
    ArgSpec::new("stdin_add_newline", ArgKind::Bool),
    ArgSpec::new("strip_empty_ends", ArgKind::Bool),
])
.free_form("cmd")
.one_of(&[&["cmd", "argv"]])
.exclusive(&[("cmd", "argv")])
.refused(&[
    ("warn", "Ansible removed it in 2.14 (ansible-core 2.18 refuses it too)"),
    (
        "executable",
        "with `command` it would replace the program itself; use `shell` with `executable` for another shell",
    ),
]);

static SHELL_SPEC: ModuleSpec = ModuleSpec::new(&[
    ArgSpec::new("cmd", ArgKind::Str).aliases(&["_raw_params"]).required(),
    ArgSpec::new("creates", ArgKind::Str),
    ArgSpec::new("removes", ArgKind::Str),
    ArgSpec::new("chdir", ArgKind::Str),
    ArgSpec::new("stdin", ArgKind::Str),
    ArgSpec::new("stdin_add_newline", ArgKind::Bool),
    ArgSpec::new("strip_empty_ends", ArgKind::Bool),
    ArgSpec::new("executable", ArgKind::Str),
])
.free_form("cmd")
.refused(&[("warn", "Ansible removed it in 2.14 (ansible-core 2.18 refuses it too)")]);

/// The `command` module.
pub struct Command;
/// The `shell` module.
pub struct Shell;

impl Module for Command {
    fn name(&self) -> &'static str {
        "command"
    }
    fn spec(&self) -> &'static ModuleSpec {
        &COMMAND_SPEC
    }
    fn prepare(&self, args: &Args, ctx: &dyn TaskContext) -> Result<Box<dyn Action>, ModuleError> {
        let words = match args.opt_str("cmd")? {
            Some(cmd) => shell_words::split(&cmd).map_err(|e| ModuleError::Arg {
                arg: "cmd".into(),
                message: format!("cannot split into words: {e}"),
            })?,
            None => args.str_list("argv")?,
        };
        if words.is_empty() {
            return Err(ModuleError::Arg { arg: "cmd".into(), message: "no command given".into() });
        }
        let display = words.join(" ");
        let line = words.iter().map(|w| quote(w).into_owned()).collect::<Vec<_>>().join(" ");
        Ok(Box::new(RunCommand::new(args, line, Json::from(display), ctx.check_mode())?))
    }
}

impl Module for Shell {
    fn name(&self) -> &'static str {
        "shell"
    }
    fn spec(&self) -> &'static ModuleSpec {
        &SHELL_SPEC
    }
    fn prepare(&self, args: &Args, ctx: &dyn TaskContext) -> Result<Box<dyn Action>, ModuleError> {
        let cmd = args.str("cmd")?;
        let shell = args.opt_str("executable")?.unwrap_or_else(|| "/bin/sh".into());
        let line = format!("{} -c {}", quote(&shell), quote(&cmd));
        Ok(Box::new(RunCommand::new(args, line, Json::from(cmd), ctx.check_mode())?))
    }
}

/// A command line ready to run, with its guards.
struct RunCommand {
    line: String,
    shown: Json,
    creates: Option<String>,
    removes: Option<String>,
    chdir: Option<String>,
    stdin: Option<Vec<u8>>,
    strip_empty_ends: bool,
    check: bool,
}

impl RunCommand {
    fn new(args: &Args, line: String, shown: Json, check: bool) -> Result<Self, ModuleError> {
        let stdin = match args.opt_str("stdin")? {
            Some(s) if args.bool_or("stdin_add_newline", true)? => Some(format!("{s}\n").into_bytes()),
            Some(s) => Some(s.into_bytes()),
            None => None,
        };
        Ok(RunCommand {
            line,
            shown,
            creates: args.opt_str("creates")?,
            removes: args.opt_str("removes")?,
            chdir: args.opt_str("chdir")?,
            stdin,
            strip_empty_ends: args.bool_or("strip_empty_ends", true)?,
            check,
        })
    }

    fn skipped(&self, msg: String) -> Plan {
        let mut result = ResultMap::new();
        result.insert("cmd".into(), self.shown.clone());
        result.insert("rc".into(), 0.into());
        result.insert("stdout".into(), "".into());
        result.insert("stdout_lines".into(), Json::Array(vec![]));
        result.insert("stderr".into(), "".into());
        result.insert("stderr_lines".into(), Json::Array(vec![]));
        Plan { msg: Some(msg), result, ..Plan::ok() }
    }
}

/// Probe output: one line per guard, `1` when the path exists.
fn guard_script(creates: Option<&str>, removes: Option<&str>) -> String {
    let test = |p: &str| format!("if [ -e {} ]; then echo 1; else echo 0; fi", quote(p));
    [creates.map(test), removes.map(test)].into_iter().flatten().collect::<Vec<_>>().join("\n")
}

impl Action for RunCommand {
    fn probe(&self) -> Option<String> {
        if self.creates.is_none() && self.removes.is_none() {
            return None;
        }
        // As in Ansible, a relative guard path is relative to `chdir`.
        let resolve = |p: &Option<String>| match (p, &self.chdir) {
            (Some(p), Some(dir)) if !p.starts_with('/') => Some(format!("{}/{p}", dir.trim_end_matches('/'))),
            (p, _) => p.clone(),
        };
        Some(guard_script(resolve(&self.creates).as_deref(), resolve(&self.removes).as_deref()))
    }

    fn compare(&mut self, probe: Option<&ExecOutput>) -> Result<Plan, ModuleError> {
        if let Some(out) = probe {
            let text = out.stdout_text();
            let mut answers = text.lines();
            if let Some(path) = &self.creates {
                if answers.next() == Some("1") {
                    return Ok(self.skipped(format!("Did not run command since '{path}' exists")));
                }
            }
            if let Some(path) = &self.removes {
                if answers.next() == Some("0") {
                    return Ok(self.skipped(format!("Did not run command since '{path}' does not exist")));
                }
            }
        }
        if self.check && self.creates.is_none() && self.removes.is_none() {
            // Ansible: an unguarded command cannot be predicted, so check mode skips it.
            let mut plan = self.skipped("Command would have run if not in check mode".into());
            plan.skipped = true;
            plan.unpredictable = true;
            return Ok(plan);
        }
        let script = match &self.chdir {
            Some(dir) => format!("cd {} || exit 1\n{}", quote(dir), self.line),
            None => self.line.clone(),
        };
        let stdin = self.stdin.clone().unwrap_or_default();
        let mut plan = Plan::change(ApplyScript { script, stdin });
        plan.result.insert("cmd".into(), self.shown.clone());
        Ok(plan)
    }

    fn finish(&mut self, mut plan: Plan, out: &ExecOutput) -> Result<Plan, ModuleError> {
        let strip = |s: String| {
            if self.strip_empty_ends {
                s.trim_end_matches('\n').to_owned()
            } else {
                s
            }
        };
        let stdout = strip(out.stdout_text());
        let stderr = strip(out.stderr_text());
        let lines = |s: &str| Json::Array(s.lines().map(Json::from).collect());
        plan.result.insert("rc".into(), out.status.into());
        plan.result.insert("stdout_lines".into(), lines(&stdout));
        plan.result.insert("stderr_lines".into(), lines(&stderr));
        plan.result.insert("stdout".into(), stdout.into());
        plan.result.insert("stderr".into(), stderr.into());
        if out.status != 0 {
            // The command ran: Ansible reports it changed, failed or not.
            plan.result.insert("changed".into(), true.into());
            return Err(ModuleError::Failed { msg: "non-zero return code".into(), result: plan.result });
        }
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(stdout: &str) -> ExecOutput {
        ExecOutput { status: 0, stdout: stdout.as_bytes().to_vec(), stderr: vec![] }
    }

    fn run(creates: Option<&str>) -> RunCommand {
        RunCommand {
            line: "touch /x".into(),
            shown: "touch /x".into(),
            creates: creates.map(str::to_owned),
            removes: None,
            chdir: Some("/tmp/a b".into()),
            stdin: None,
            strip_empty_ends: true,
            check: false,
        }
    }

    #[test]
    fn unguarded_command_has_no_probe_and_always_changes() {
        let mut r = run(None);
        assert!(r.probe().is_none());
        let plan = r.compare(None).unwrap();
        assert!(plan.changed);
        assert!(plan.apply.unwrap().script.starts_with("cd '/tmp/a b' || exit 1"));
    }

    #[test]
    fn creates_guard_skips_when_path_exists() {
        let mut r = run(Some("/x"));
        assert!(r.probe().unwrap().contains("[ -e /x ]"));
        assert!(!r.compare(Some(&out("1\n"))).unwrap().changed);
        assert!(r.compare(Some(&out("0\n"))).unwrap().changed);
    }

    #[test]
    fn non_zero_exit_fails_with_rc_registered() {
        let mut r = run(None);
        let plan = r.compare(None).unwrap();
        let err = r.finish(plan, &ExecOutput { status: 3, stdout: b"o\n".to_vec(), stderr: vec![] }).unwrap_err();
        match err {
            ModuleError::Failed { result, .. } => {
                assert_eq!(result["rc"], 3);
                assert_eq!(result["stdout"], "o");
            }
            other => panic!("{other}"),
        }
    }
}
