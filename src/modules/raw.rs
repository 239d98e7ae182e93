//! `raw`: run a command line as it is, as Ansible's `ansible.builtin.raw`.
//!
//! Ansible uses `raw` where nothing else works yet (bootstrapping Python,
//! network devices). The text reaches the remote shell unchanged, which is
//! the whole point of the module and the one place where a playbook's
//! value is not quoted: the user wrote shell, and shell is what runs. With
//! `executable`, the text is passed (quoted) to that shell's `-c`. A raw
//! command always reports a change, fails on a non-zero exit status, and
//! is skipped in check mode, as in Ansible.

use serde_json::Value as Json;

use super::spec::{ArgKind, ArgSpec};
use super::{Action, ApplyScript, Args, Module, ModuleError, ModuleSpec, Plan, TaskContext};
use crate::transport::quote::quote;
use crate::transport::ExecOutput;

/// The `raw` module.
pub struct Raw;

static SPEC: ModuleSpec = ModuleSpec::new(&[
    ArgSpec::new("free_form", ArgKind::Str).aliases(&["_raw_params", "cmd"]).required(),
    ArgSpec::new("executable", ArgKind::Str),
])
.free_form("free_form");

impl Module for Raw {
    fn name(&self) -> &'static str {
        "raw"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: &Args, ctx: &dyn TaskContext) -> Result<Box<dyn Action>, ModuleError> {
        let text = args.str("free_form")?;
        let script = match args.opt_str("executable")? {
            Some(shell) => format!("{} -c {}", quote(&shell), quote(&text)),
            None => text,
        };
        Ok(Box::new(RawAction { script, check: ctx.check_mode() }))
    }
}

/// One `raw` task on one host.
#[derive(Debug)]
pub struct RawAction {
    script: String,
    check: bool,
}

impl Action for RawAction {
    fn probe(&self) -> Option<String> {
        None
    }

    fn compare(&mut self, _probe: Option<&ExecOutput>) -> Result<Plan, ModuleError> {
        if self.check {
            return Ok(Plan {
                skipped: true,
                unpredictable: true,
                msg: Some("raw commands do not run in check mode".into()),
                ..Plan::ok()
            });
        }
        Ok(Plan::change(ApplyScript { script: self.script.clone(), stdin: Vec::new() }))
    }

    fn finish(&mut self, mut plan: Plan, out: &ExecOutput) -> Result<Plan, ModuleError> {
        let stdout = out.stdout_text();
        let stderr = out.stderr_text();
        let lines = |s: &str| Json::Array(s.lines().map(Json::from).collect());
        plan.result.insert("rc".into(), out.status.into());
        plan.result.insert("stdout_lines".into(), lines(&stdout));
        plan.result.insert("stderr_lines".into(), lines(&stderr));
        plan.result.insert("stdout".into(), stdout.into());
        plan.result.insert("stderr".into(), stderr.into());
        plan.result.insert("changed".into(), true.into());
        if out.status != 0 {
            return Err(ModuleError::Failed { msg: "non-zero return code".into(), result: plan.result });
        }
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::file_write::testing::FakeCtx;

    fn action(v: serde_json::Value) -> Box<dyn Action> {
        Raw.prepare(&Args::new(&SPEC, v.as_object().unwrap().clone()), &FakeCtx::default()).unwrap()
    }

    #[test]
    fn the_text_runs_as_written_or_through_the_given_shell() {
        let mut a = action(serde_json::json!({"free_form": "echo $HOME | tr a-z A-Z"}));
        let plan = a.compare(None).unwrap();
        assert_eq!(plan.apply.clone().unwrap().script, "echo $HOME | tr a-z A-Z");
        let out = ExecOutput { status: 2, stdout: b"x\n".to_vec(), stderr: vec![] };
        let e = a.finish(plan, &out).unwrap_err();
        assert_eq!(e.to_string(), "non-zero return code");
        let mut a = action(serde_json::json!({"free_form": "echo 'it''s'", "executable": "/bin/bash"}));
        let script = a.compare(None).unwrap().apply.unwrap().script;
        assert_eq!(script, format!("/bin/bash -c {}", quote("echo 'it''s'")));
    }
}
