//! `group`: a group account, as `ansible.builtin.group` manages it on Linux
//! with shadow-utils (`groupadd`, `groupmod`, `groupdel`).
//!
//! One probe (`getent group NAME`) and a pure [`decide`]: create the group
//! (with `gid`, `system`, `gid_min`/`gid_max`), change its gid, or delete it
//! (`force` deletes a user's primary group too). As in Ansible, an existing
//! group's `system` flag is never changed. The apply script ends by printing
//! the group's entry again, so the result reports the gid the system chose.
//!
//! This module never builds a shell string by hand: every value goes
//! through [`crate::transport::quote::quote`], with `--` before the name.

use serde_json::Value;

use super::accounts::{group_lookup, require_tool, tagged, Group};
use super::{
    Action, ApplyScript, ArgKind, ArgSpec, Args, Diff, Module, ModuleError, ModuleSpec, Plan, ResultMap, TaskContext,
};
use crate::transport::quote::quote;
use crate::transport::ExecOutput;

/// The `group` module.
pub struct GroupModule;

/// Probe/apply output tag of the group's entry.
const TAG: &str = "stead-group";

static SPEC: ModuleSpec = ModuleSpec::new(&[
    ArgSpec::new("name", ArgKind::Str).required(),
    ArgSpec::new("state", ArgKind::Str).choices(&["present", "absent"]),
    ArgSpec::new("gid", ArgKind::Int),
    ArgSpec::new("system", ArgKind::Bool),
    ArgSpec::new("non_unique", ArgKind::Bool),
    ArgSpec::new("force", ArgKind::Bool),
    ArgSpec::new("local", ArgKind::Bool),
    ArgSpec::new("gid_min", ArgKind::Int),
    ArgSpec::new("gid_max", ArgKind::Int),
]);

impl Module for GroupModule {
    fn name(&self) -> &'static str {
        "group"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: &Args, ctx: &dyn TaskContext) -> Result<Box<dyn Action>, ModuleError> {
        Ok(Box::new(GroupAction::new(args, ctx.check_mode())?))
    }
}

impl GroupAction {
    fn new(args: &Args, check_mode: bool) -> Result<GroupAction, ModuleError> {
        if args.bool_or("local", false)? {
            return Err(local_refused("lgroupadd"));
        }
        let gid =
            args.opt_int("gid")?.map(|g| u32::try_from(g).map_err(|_| bad("gid", "must be 0 or more"))).transpose()?;
        let non_unique = args.bool_or("non_unique", false)?;
        if non_unique && gid.is_none() {
            return Err(ModuleError::failed("non_unique is True but all of the following are missing: gid"));
        }
        Ok(GroupAction {
            desired: Desired {
                name: args.str("name")?,
                present: args.choice_or("state", &["present", "absent"], "present")? == "present",
                gid,
                system: args.bool_or("system", false)?,
                non_unique,
                force: args.bool_or("force", false)?,
                gid_min: args.opt_int("gid_min")?,
                gid_max: args.opt_int("gid_max")?,
            },
            check_mode,
        })
    }
}

fn bad(arg: &str, message: &str) -> ModuleError {
    ModuleError::Arg { arg: arg.into(), message: message.into() }
}

/// The refusal of `local: true`, shared with `user`.
pub fn local_refused(tool: &str) -> ModuleError {
    ModuleError::Arg {
        arg: "local".into(),
        message: format!(
            "stead manages accounts with shadow-utils only; `local: true` needs libuser's {tool}, \
             which stead does not drive (leave `local` out, or false)"
        ),
    }
}

/// What the task asks for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Desired {
    /// Group name.
    pub name: String,
    /// `state: present`.
    pub present: bool,
    /// Requested gid.
    pub gid: Option<u32>,
    /// Create as a system group.
    pub system: bool,
    /// Allow a duplicate gid.
    pub non_unique: bool,
    /// `groupdel -f`.
    pub force: bool,
    /// `-K GID_MIN=`.
    pub gid_min: Option<i64>,
    /// `-K GID_MAX=`.
    pub gid_max: Option<i64>,
}

/// What to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Nothing.
    None,
    /// `groupadd`.
    Add,
    /// `groupmod -g`.
    SetGid(u32),
    /// `groupdel`.
    Delete,
}

/// Ansible's `main`: from the group's current entry to the step.
pub fn decide(d: &Desired, current: Option<&Group>) -> Step {
    match (d.present, current) {
        (false, None) => Step::None,
        (false, Some(_)) => Step::Delete,
        (true, None) => Step::Add,
        (true, Some(g)) => match d.gid {
            Some(gid) if gid != g.gid => Step::SetGid(gid),
            _ => Step::None,
        },
    }
}

/// The command of a step (without the trailing state report).
pub fn command(d: &Desired, step: &Step) -> Option<String> {
    let name = quote(&d.name);
    let mut words: Vec<String> = Vec::new();
    let tool = match step {
        Step::None => return None,
        Step::Add => {
            if let Some(gid) = d.gid {
                words.extend(["-g".into(), gid.to_string()]);
                if d.non_unique {
                    words.push("-o".into());
                }
            }
            if d.system {
                words.push("-r".into());
            }
            if let Some(min) = d.gid_min {
                words.extend(["-K".into(), quote(&format!("GID_MIN={min}")).into_owned()]);
            }
            if let Some(max) = d.gid_max {
                words.extend(["-K".into(), quote(&format!("GID_MAX={max}")).into_owned()]);
            }
            "groupadd"
        }
        Step::SetGid(gid) => {
            words.extend(["-g".into(), gid.to_string()]);
            if d.non_unique {
                words.push("-o".into());
            }
            "groupmod"
        }
        Step::Delete => {
            if d.force {
                words.push("-f".into());
            }
            "groupdel"
        }
    };
    let mut s = require_tool(tool);
    s.push_str(tool);
    for w in &words {
        s.push(' ');
        s.push_str(w);
    }
    s.push_str(&format!(" -- {name} || exit $?\n"));
    Some(s)
}

/// One `group` task on one host.
#[derive(Debug)]
pub struct GroupAction {
    desired: Desired,
    check_mode: bool,
}

/// The group's entry from probe or apply output.
fn parse_entry(out: &ExecOutput) -> Result<Option<Group>, ModuleError> {
    let text = out.stdout_text();
    if !text.lines().any(|l| l == "stead-group-probe") {
        return Err(ModuleError::Probe("no group section".into()));
    }
    match tagged(&text, TAG) {
        None => Ok(None),
        Some(line) => {
            Group::parse(line).map(Some).ok_or_else(|| ModuleError::Probe(format!("bad group entry `{line}`")))
        }
    }
}

impl GroupAction {
    fn probe_script(&self) -> String {
        format!("LC_ALL=C\nexport LC_ALL\nprintf 'stead-group-probe\\n'\n{}", group_lookup(TAG, &self.desired.name))
    }

    fn result(&self, entry: Option<&Group>, changed: bool) -> ResultMap {
        let d = &self.desired;
        let mut r = ResultMap::new();
        r.insert("name".into(), d.name.clone().into());
        r.insert("state".into(), if d.present { "present" } else { "absent" }.into());
        r.insert("changed".into(), changed.into());
        if let Some(g) = entry {
            r.insert("system".into(), d.system.into());
            r.insert("gid".into(), g.gid.into());
        }
        r
    }
}

fn state_lines(g: Option<&Group>, system: bool) -> Vec<(&'static str, String)> {
    match g {
        None => vec![("state", "absent".into())],
        Some(g) => {
            let mut v = vec![("state", "present".into()), ("gid", g.gid.to_string())];
            if system {
                v.push(("system", "true".into()));
            }
            v
        }
    }
}

impl Action for GroupAction {
    fn paths(&self) -> Option<Vec<String>> {
        Some(vec!["/etc/group".into(), "/etc/gshadow".into(), "/etc/passwd".into()])
    }

    fn probe(&self) -> Option<String> {
        Some(self.probe_script())
    }

    fn compare(&mut self, probe: Option<&ExecOutput>) -> Result<Plan, ModuleError> {
        let out = probe.ok_or_else(|| ModuleError::Probe("the group probe did not run".into()))?;
        let current = parse_entry(out)?;
        let d = &self.desired;
        let step = decide(d, current.as_ref());
        let Some(cmd) = command(d, &step) else {
            let mut plan = Plan::ok();
            plan.result = self.result(current.as_ref(), false);
            return Ok(plan);
        };
        let title = format!("group {}", d.name);
        let before = state_lines(current.as_ref(), false);
        let after = match &step {
            Step::Delete => state_lines(None, false),
            Step::SetGid(gid) => vec![("state", "present".into()), ("gid", gid.to_string())],
            _ => {
                let mut v = vec![("state", "present".into())];
                if let Some(gid) = d.gid {
                    v.push(("gid", gid.to_string()));
                }
                if d.system {
                    v.push(("system", "true".into()));
                }
                v
            }
        };
        let script = format!("LC_ALL=C\nexport LC_ALL\n{cmd}{}", self.probe_script());
        let mut plan = Plan::change(ApplyScript { script, stdin: Vec::new() });
        plan.diff = Some(Diff::state(&title, &before, &after));
        // Ansible's check mode stops before reporting anything but `changed`
        // when the group is created or deleted.
        plan.result = match (&step, self.check_mode) {
            (Step::Add | Step::Delete, true) => ResultMap::from_iter([("changed".to_owned(), Value::Bool(true))]),
            _ => self.result(current.as_ref(), true),
        };
        Ok(plan)
    }

    fn finish(&mut self, plan: Plan, out: &ExecOutput) -> Result<Plan, ModuleError> {
        if out.status != 0 {
            let mut result = ResultMap::new();
            result.insert("name".into(), self.desired.name.clone().into());
            result.insert("rc".into(), out.status.into());
            let err = out.stderr_text();
            result.insert("stderr".into(), err.clone().into());
            return Err(ModuleError::Failed { msg: err.trim().to_owned(), result });
        }
        let entry = parse_entry(out)?;
        let mut plan = plan;
        plan.result = self.result(entry.as_ref(), true);
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn desired(v: serde_json::Value) -> Result<GroupAction, ModuleError> {
        GroupAction::new(&Args::new(&SPEC, v.as_object().unwrap().clone()), false)
    }

    fn g(name: &str, gid: u32) -> Group {
        Group { name: name.into(), gid, members: vec![] }
    }

    #[test]
    fn decisions_follow_ansible() {
        let d = Desired { name: "web".into(), present: true, gid: Some(2000), ..Desired::default() };
        assert_eq!(decide(&d, None), Step::Add);
        assert_eq!(decide(&d, Some(&g("web", 2000))), Step::None);
        assert_eq!(decide(&d, Some(&g("web", 1999))), Step::SetGid(2000));
        // An existing group's system flag is left alone; no gid asked: nothing.
        let d = Desired { name: "web".into(), present: true, system: true, ..Desired::default() };
        assert_eq!(decide(&d, Some(&g("web", 1999))), Step::None);
        let d = Desired { name: "web".into(), ..Desired::default() };
        assert_eq!(decide(&d, None), Step::None);
        assert_eq!(decide(&d, Some(&g("web", 1))), Step::Delete);
    }

    #[test]
    fn commands_quote_and_end_options() {
        let d = Desired {
            name: "we ird'$(x)".into(),
            present: true,
            gid: Some(2000),
            non_unique: true,
            system: true,
            gid_min: Some(100),
            ..Desired::default()
        };
        let c = command(&d, &Step::Add).unwrap();
        assert!(c.ends_with("groupadd -g 2000 -o -r -K GID_MIN=100 -- 'we ird'\\''$(x)' || exit $?\n"), "{c}");
        let d = Desired { force: true, ..d };
        assert!(command(&d, &Step::Delete).unwrap().contains("groupdel -f -- "));
    }

    #[test]
    fn bad_combinations_fail_in_prepare() {
        let e = desired(json!({"name": "x", "non_unique": true})).err().unwrap().to_string();
        assert!(e.contains("missing: gid"), "{e}");
        let e = desired(json!({"name": "x", "local": true})).err().unwrap().to_string();
        assert!(e.contains("libuser"), "{e}");
    }

    #[test]
    fn compare_on_canned_probe_output() {
        let mut a = desired(json!({"name": "web", "gid": 2000})).unwrap();
        let out = |s: &str| ExecOutput { status: 0, stdout: s.as_bytes().to_vec(), stderr: vec![] };
        let plan = a.compare(Some(&out("stead-group-probe\nstead-group web:x:1999:alice\n"))).unwrap();
        assert!(plan.changed);
        let diff = plan.diff.unwrap().unified();
        assert!(diff.contains("-gid: 1999\n+gid: 2000\n"), "{diff}");
        assert!(plan.apply.unwrap().script.contains("groupmod -g 2000 -- web || exit $?\n"));
        let plan = a.compare(Some(&out("stead-group-probe\nstead-group web:x:2000:\n"))).unwrap();
        assert!(!plan.changed);
        assert_eq!(plan.result["gid"], 2000);
        assert!(a.compare(Some(&out("garbage\n"))).is_err());
    }

    #[test]
    fn real_probe_reads_this_machines_root_group() {
        let mut a = desired(json!({"name": "root"})).unwrap();
        let out = crate::modules::file_write::testing::run(&a.probe().unwrap(), b"");
        let plan = a.compare(Some(&out)).unwrap();
        assert!(!plan.changed);
        assert_eq!(plan.result["gid"], 0);
        let mut a = desired(json!({"name": "no such 'group' $(touch pwned)", "state": "absent"})).unwrap();
        let out = crate::modules::file_write::testing::run(&a.probe().unwrap(), b"");
        assert!(!a.compare(Some(&out)).unwrap().changed);
        assert!(!std::path::Path::new("pwned").exists());
    }
}
