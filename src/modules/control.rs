//! Controller-side modules: `debug`, `set_fact`, `assert`, `fail`. They never
//! contact the host; `ping` does, with the cheapest possible script.

use serde_json::Value as Json;

use super::spec::{ArgKind, ArgSpec};
use super::{Action, Args, Module, ModuleError, ModuleSpec, Plan, ResultMap, TaskContext};
use crate::transport::ExecOutput;

/// An action decided entirely at prepare time.
struct Decided(Option<Result<Plan, String>>);

impl Action for Decided {
    fn probe(&self) -> Option<String> {
        None
    }
    fn compare(&mut self, _probe: Option<&ExecOutput>) -> Result<Plan, ModuleError> {
        match self.0.take().expect("compare runs once") {
            Ok(plan) => Ok(plan),
            Err(msg) => Err(ModuleError::failed(msg)),
        }
    }
}

fn decided(plan: Plan) -> Box<dyn Action> {
    Box::new(Decided(Some(Ok(plan))))
}

fn value_text(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

static DEBUG_SPEC: ModuleSpec = ModuleSpec::new(&[
    ArgSpec::new("msg", ArgKind::Any),
    ArgSpec::new("var", ArgKind::Str),
    ArgSpec::new("verbosity", ArgKind::Int),
])
.exclusive(&[("msg", "var")]);

/// `debug`: print a message or a variable.
pub struct Debug;

impl Module for Debug {
    fn name(&self) -> &'static str {
        "debug"
    }
    fn expressions(&self, args: &serde_json::Map<String, Json>) -> Vec<String> {
        args.get("var").and_then(Json::as_str).map(str::to_owned).into_iter().collect()
    }
    fn tolerates_undefined(&self) -> bool {
        true
    }
    fn shows_message(&self) -> bool {
        true
    }
    fn spec(&self) -> &'static ModuleSpec {
        &DEBUG_SPEC
    }
    fn is_local(&self) -> bool {
        true
    }
    fn prepare(&self, args: &Args, ctx: &dyn TaskContext) -> Result<Box<dyn Action>, ModuleError> {
        let mut plan = Plan::ok();
        let threshold = args.opt_int("verbosity")?.unwrap_or(0);
        if threshold > i64::from(ctx.verbosity()) {
            plan.skipped = true;
            plan.result.insert("skipped_reason".into(), "Verbosity threshold not met.".into());
            return Ok(decided(plan));
        }
        if let Some(var) = args.opt_str("var")? {
            // Ansible prints an undefined variable instead of failing.
            let value = match ctx.eval(&var) {
                Ok(v) => v,
                Err(e) if e.to_string().contains("undefined") => Json::from("VARIABLE IS NOT DEFINED!"),
                Err(e) => return Err(e),
            };
            plan.msg = Some(format!("{var}: {}", serde_json::to_string_pretty(&value).unwrap_or_default()));
            plan.result.insert(var, value);
        } else {
            let msg = args.get("msg").cloned().unwrap_or_else(|| Json::from("Hello world!"));
            plan.msg = Some(value_text(&msg));
            plan.result.insert("msg".into(), msg);
        }
        Ok(decided(plan))
    }
}

static SET_FACT_SPEC: ModuleSpec = ModuleSpec::new(&[ArgSpec::new("cacheable", ArgKind::Bool)]).free_keys();

/// `set_fact`: set host variables for the rest of the run.
pub struct SetFact;

impl Module for SetFact {
    fn name(&self) -> &'static str {
        "set_fact"
    }
    fn defines(&self, args: &serde_json::Map<String, Json>) -> Vec<String> {
        let mut names: Vec<String> = args.keys().filter(|k| *k != "cacheable").cloned().collect();
        // Cacheable facts also change `ansible_facts` (unless literally false).
        let never = matches!(args.get("cacheable"), None | Some(Json::Bool(false)))
            || args.get("cacheable").and_then(Json::as_str).and_then(super::spec::parse_bool) == Some(false);
        if !never {
            names.push("ansible_facts".into());
        }
        names
    }
    fn spec(&self) -> &'static ModuleSpec {
        &SET_FACT_SPEC
    }
    fn is_local(&self) -> bool {
        true
    }
    fn prepare(&self, args: &Args, _ctx: &dyn TaskContext) -> Result<Box<dyn Action>, ModuleError> {
        let facts: ResultMap =
            args.all().iter().filter(|(k, _)| *k != "cacheable").map(|(k, v)| (k.clone(), v.clone())).collect();
        if facts.is_empty() {
            return Err(ModuleError::Arg { arg: "set_fact".into(), message: "no variables to set".into() });
        }
        let mut plan = Plan::ok();
        plan.result.insert("ansible_facts".into(), Json::Object(facts));
        plan.result.insert("_ansible_facts_cacheable".into(), args.bool_or("cacheable", false)?.into());
        Ok(decided(plan))
    }
}

static ASSERT_SPEC: ModuleSpec = ModuleSpec::new(&[
    ArgSpec::new("that", ArgKind::List).required(),
    ArgSpec::new("fail_msg", ArgKind::Any).aliases(&["msg"]),
    ArgSpec::new("success_msg", ArgKind::Any),
    ArgSpec::new("quiet", ArgKind::Bool),
]);

/// `assert`: fail unless every condition holds.
pub struct Assert;

impl Module for Assert {
    fn name(&self) -> &'static str {
        "assert"
    }
    fn expressions(&self, args: &serde_json::Map<String, Json>) -> Vec<String> {
        match args.get("that") {
            Some(Json::Array(items)) => items.iter().filter_map(|i| i.as_str().map(str::to_owned)).collect(),
            Some(Json::String(s)) => vec![s.clone()],
            _ => Vec::new(),
        }
    }
    fn shows_message(&self) -> bool {
        true
    }
    fn spec(&self) -> &'static ModuleSpec {
        &ASSERT_SPEC
    }
    fn is_local(&self) -> bool {
        true
    }
    fn prepare(&self, args: &Args, ctx: &dyn TaskContext) -> Result<Box<dyn Action>, ModuleError> {
        let conditions = match args.get("that") {
            Some(Json::Array(items)) => items.iter().map(value_text).collect(),
            Some(Json::Bool(b)) => vec![b.to_string()],
            Some(other) => vec![value_text(other)],
            None => Vec::new(),
        };
        for cond in &conditions {
            if !ctx.eval_condition(cond)? {
                let msg = args.get("fail_msg").map(value_text).unwrap_or_else(|| "Assertion failed".into());
                let mut result = ResultMap::new();
                result.insert("assertion".into(), cond.clone().into());
                result.insert("evaluated_to".into(), false.into());
                return Err(ModuleError::Failed { msg, result });
            }
        }
        let mut plan = Plan::ok();
        let msg = args.get("success_msg").map(value_text).unwrap_or_else(|| "All assertions passed".into());
        // `quiet` keeps the message out of the output, not the result.
        if !args.bool_or("quiet", false)? {
            plan.msg = Some(msg.clone());
        }
        plan.result.insert("msg".into(), msg.into());
        Ok(decided(plan))
    }
}

static FAIL_SPEC: ModuleSpec = ModuleSpec::new(&[ArgSpec::new("msg", ArgKind::Any)]);

/// `fail`: stop this host with a message.
pub struct Fail;

impl Module for Fail {
    fn name(&self) -> &'static str {
        "fail"
    }
    fn spec(&self) -> &'static ModuleSpec {
        &FAIL_SPEC
    }
    fn is_local(&self) -> bool {
        true
    }
    fn prepare(&self, args: &Args, _ctx: &dyn TaskContext) -> Result<Box<dyn Action>, ModuleError> {
        let msg = args.get("msg").map(value_text).unwrap_or_else(|| "Failed as requested from task".into());
        Ok(Box::new(Decided(Some(Err(msg)))))
    }
}

static PING_SPEC: ModuleSpec = ModuleSpec::new(&[ArgSpec::new("data", ArgKind::Str)]);

/// `ping`: prove the host runs our scripts.
pub struct Ping;

struct PingAction {
    data: String,
}

impl Module for Ping {
    fn name(&self) -> &'static str {
        "ping"
    }
    fn spec(&self) -> &'static ModuleSpec {
        &PING_SPEC
    }
    fn prepare(&self, args: &Args, _ctx: &dyn TaskContext) -> Result<Box<dyn Action>, ModuleError> {
        Ok(Box::new(PingAction { data: args.opt_str("data")?.unwrap_or_else(|| "pong".into()) }))
    }
}

impl Action for PingAction {
    fn probe(&self) -> Option<String> {
        Some("echo pong".into())
    }
    fn compare(&mut self, probe: Option<&ExecOutput>) -> Result<Plan, ModuleError> {
        if self.data == "crash" {
            return Err(ModuleError::failed("boom"));
        }
        match probe {
            Some(out) if out.status == 0 && out.stdout_text().trim() == "pong" => {
                let mut plan = Plan::ok();
                plan.result.insert("ping".into(), self.data.clone().into());
                Ok(plan)
            }
            Some(out) => Err(ModuleError::failed(format!("the host did not answer: {}", out.stderr_text().trim()))),
            None => Err(ModuleError::Probe("no probe output".into())),
        }
    }
}
