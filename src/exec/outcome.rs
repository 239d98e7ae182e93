//! From what a module returned to the result Ansible would register: the
//! `changed`/`failed`/`skipped` flags, `changed_when` and `failed_when`
//! (each a list that must hold as a whole, as Ansible ANDs them), and the
//! `until` test of a retried task.
//!
//! Pure: variables in, result out. Nothing here talks to a host or emits an
//! event, so every rule is unit-tested below.

use serde_json::{Map, Value as Json};

use crate::modules::{Diff, ModuleError, Plan, ResultMap};
use crate::playbook::{Retry, Task};
use crate::template::{context, Templates};

/// One (task, item) result, as registered and reported.
#[derive(Debug, Clone)]
pub struct UnitResult {
    /// The loop item's label ("" without a loop).
    pub label: String,
    /// The loop item.
    pub item: Option<Json>,
    /// The fields `register` stores.
    pub result: ResultMap,
    /// Changed (after `changed_when`).
    pub changed: bool,
    /// Failed (after `failed_when`).
    pub failed: bool,
    /// Did not run.
    pub skipped: bool,
    /// What changed.
    pub diff: Option<Diff>,
    /// The module's message.
    pub msg: Option<String>,
    /// `ansible_facts` the module returned.
    pub facts: Map<String, Json>,
}

/// The message shown for a failed result: its `msg`, with the exit status
/// and the end of stderr when the result has them (a failed command said
/// only "non-zero return code" before). The registered `msg` stays Ansible's.
pub fn failure_text(result: &ResultMap) -> Option<String> {
    let mut out = match result.get("msg")? {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    };
    if let Some(rc) = result.get("rc").and_then(Json::as_i64).filter(|rc| *rc != 0) {
        out.push_str(&format!(" (rc {rc})"));
    }
    if let Some(err) = result.get("stderr").and_then(Json::as_str).map(str::trim).filter(|e| !e.is_empty()) {
        if !out.contains(err) {
            let lines: Vec<&str> = err.lines().collect();
            let tail = &lines[lines.len().saturating_sub(10)..];
            out.push_str(&format!("\nstderr: {}", tail.join("\n")));
        }
    }
    Some(out)
}

/// Evaluates `conditions` as one list: all must hold.
fn all_hold(conditions: &[String], ctx: &minijinja::Value, templates: &Templates) -> Result<bool, String> {
    for c in conditions {
        match templates.condition(c, ctx) {
            Ok(true) => {}
            Ok(false) => return Ok(false),
            Err(e) => return Err(format!("condition `{c}`: {e}")),
        }
    }
    Ok(true)
}

/// The variables a task's result conditions see: the task's own, the loop
/// item, and the result under the `register` name.
fn result_context(task: &Task, vars: &Map<String, Json>, item: &Option<Json>, result: &ResultMap) -> minijinja::Value {
    let mut layer = Map::new();
    if let Some(r) = &task.register {
        layer.insert(r.clone(), Json::Object(result.clone()));
    }
    if let Some(i) = item {
        layer.insert(task.loop_var.clone(), i.clone());
    }
    minijinja::value::merge_maps([context(&layer), context(vars)])
}

/// The result of one unit: the module's outcome, then `changed_when` and
/// `failed_when` (not on a skipped result), as Ansible orders them.
pub fn evaluate(
    task: &Task,
    label: String,
    item: Option<Json>,
    outcome: Result<Plan, ModuleError>,
    vars: &Map<String, Json>,
    templates: &Templates,
) -> UnitResult {
    let mut facts = Map::new();
    let (mut result, mut changed, mut failed, skipped, diff, msg) = match outcome {
        Ok(plan) => {
            let mut r = plan.result;
            if let Some(Json::Object(f)) = r.get("ansible_facts") {
                facts = f.clone();
            }
            if let Some(m) = &plan.msg {
                r.entry("msg").or_insert_with(|| Json::from(m.clone()));
            }
            (r, plan.changed, false, plan.skipped, plan.diff, plan.msg)
        }
        Err(ModuleError::Failed { msg, result }) => {
            // A failure may still have changed the host (a command ran).
            let changed = result.get("changed") == Some(&Json::Bool(true));
            (result, changed, true, false, None, Some(msg))
        }
        Err(e) => (ResultMap::new(), false, true, false, None, Some(e.to_string())),
    };
    result.insert("changed".into(), changed.into());
    result.insert("failed".into(), failed.into());
    if skipped {
        result.insert("skipped".into(), true.into());
    }
    if failed {
        result.entry("msg").or_insert_with(|| Json::from(msg.clone().unwrap_or_default()));
    }
    if !skipped && (task.changed_when.is_some() || task.failed_when.is_some()) {
        if let Some(conds) = &task.changed_when {
            match all_hold(conds, &result_context(task, vars, &item, &result), templates) {
                Ok(v) => changed = v,
                Err(e) => {
                    failed = true;
                    result.insert("msg".into(), Json::from(e));
                }
            }
            result.insert("changed".into(), changed.into());
        }
        if let Some(conds) = &task.failed_when {
            match all_hold(conds, &result_context(task, vars, &item, &result), templates) {
                Ok(v) => {
                    failed = v;
                    result.insert("failed_when_result".into(), v.into());
                }
                Err(e) => {
                    failed = true;
                    result.insert("msg".into(), Json::from(e));
                }
            }
        }
        result.insert("failed".into(), failed.into());
    }
    UnitResult { label, item, result, changed, failed, skipped, diff, msg, facts }
}

/// How often a retried task runs at most, and the seconds between runs.
pub fn retry_budget(retry: &Retry, vars: &Map<String, Json>, templates: &Templates) -> Result<(u64, f64), String> {
    let number = |v: &Json, what: &str| -> Result<f64, String> {
        let v = match v {
            Json::String(s) => templates.render_str(s, &context(vars)).map_err(|e| format!("`{what}`: {e}"))?,
            other => other.clone(),
        };
        match &v {
            Json::Number(n) => n.as_f64().ok_or_else(|| format!("`{what}` is not a number: {v}")),
            Json::String(s) => s.trim().parse().map_err(|_| format!("`{what}` is not a number: {s}")),
            _ => Err(format!("`{what}` is not a number: {v}")),
        }
    };
    let retries = number(&retry.retries, "retries")?.max(0.0) as u64;
    let delay = number(&retry.delay, "delay")?;
    Ok((retries + 1, if delay < 0.0 { 1.0 } else { delay }))
}

/// Whether a retried task may stop after this attempt: its `until`
/// conditions hold (without `until`: it did not fail).
pub fn until_met(
    task: &Task,
    retry: &Retry,
    unit: &UnitResult,
    vars: &Map<String, Json>,
    templates: &Templates,
) -> bool {
    if retry.until.is_empty() {
        return !unit.failed;
    }
    all_hold(&retry.until, &result_context(task, vars, &unit.item, &unit.result), templates).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(yaml: &str) -> Task {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("site.yml");
        std::fs::write(&path, format!("- hosts: all\n  tasks:\n    - {}\n", yaml.replace('\n', "\n      "))).unwrap();
        let templates = Templates::new();
        let (pb, _) = crate::playbook::load(&path, &templates).unwrap_or_else(|e| panic!("{e:?}"));
        pb.plays[0].tasks[0].clone()
    }

    fn done(rc: i64) -> Result<Plan, ModuleError> {
        let mut result = ResultMap::new();
        result.insert("rc".into(), rc.into());
        if rc == 0 {
            Ok(Plan { changed: true, result, ..Plan::ok() })
        } else {
            Err(ModuleError::Failed { msg: "non-zero return code".into(), result })
        }
    }

    #[test]
    fn failed_when_list_must_hold_as_a_whole() {
        // Regression: the list used to be ORed.
        let t = task("command: x\nregister: r\nfailed_when:\n  - r.rc != 0\n  - r.rc != 2");
        let tpl = Templates::new();
        let vars = Map::new();
        assert!(!evaluate(&t, String::new(), None, done(2), &vars, &tpl).failed, "rc 2: second condition false");
        assert!(evaluate(&t, String::new(), None, done(1), &vars, &tpl).failed, "rc 1: both hold");
        assert!(!evaluate(&t, String::new(), None, done(0), &vars, &tpl).failed);
    }

    #[test]
    fn failed_when_overrides_the_module_both_ways_and_changed_when_decides_changed() {
        let t = task("command: x\nregister: r\nchanged_when: false\nfailed_when: r.rc == 0");
        let tpl = Templates::new();
        let ok = evaluate(&t, String::new(), None, done(0), &Map::new(), &tpl);
        assert!(ok.failed && !ok.changed);
        assert_eq!(ok.result["failed_when_result"], true);
        let rescued = evaluate(&t, String::new(), None, done(3), &Map::new(), &tpl);
        assert!(!rescued.failed, "a failing command that failed_when accepts is not failed");
    }

    #[test]
    fn a_condition_that_cannot_render_fails_the_task_with_its_text() {
        let t = task("command: x\nchanged_when: nope.attr");
        let r = evaluate(&t, String::new(), None, done(0), &Map::new(), &Templates::new());
        assert!(r.failed);
        assert!(r.result["msg"].as_str().unwrap().contains("nope.attr"), "{:?}", r.result);
    }

    /// Issue 12: a failed command showed only "non-zero return code".
    #[test]
    fn a_failure_message_carries_the_exit_status_and_stderr() {
        let t = task("command: x");
        let mut result = ResultMap::new();
        result.insert("rc".into(), 2.into());
        result.insert("stderr".into(), "ls: cannot access '/nope'\n".into());
        let r = evaluate(
            &t,
            String::new(),
            None,
            Err(ModuleError::Failed { msg: "non-zero return code".into(), result }),
            &Map::new(),
            &Templates::new(),
        );
        let text = failure_text(&r.result).unwrap();
        assert_eq!(text, "non-zero return code (rc 2)\nstderr: ls: cannot access '/nope'");
        assert_eq!(r.result["msg"], "non-zero return code", "the registered msg is Ansible's");
    }

    #[test]
    fn skipped_results_skip_the_result_conditions() {
        let t = task("command: x\nfailed_when: true");
        let skipped = Ok(Plan { skipped: true, ..Plan::ok() });
        let r = evaluate(&t, String::new(), None, skipped, &Map::new(), &Templates::new());
        assert!(r.skipped && !r.failed);
    }

    #[test]
    fn until_defaults_to_not_failed_and_sees_the_registered_result() {
        let tpl = Templates::new();
        let t = task("command: x\nregister: r\nuntil: r.rc == 0\nretries: 2\ndelay: 0");
        let retry = t.retry.clone().unwrap();
        assert_eq!(retry_budget(&retry, &Map::new(), &tpl).unwrap(), (3, 0.0));
        let r1 = evaluate(&t, String::new(), None, done(1), &Map::new(), &tpl);
        assert!(!until_met(&t, &retry, &r1, &Map::new(), &tpl));
        let r0 = evaluate(&t, String::new(), None, done(0), &Map::new(), &tpl);
        assert!(until_met(&t, &retry, &r0, &Map::new(), &tpl));

        let t = task("command: x\nretries: 1");
        let retry = t.retry.clone().unwrap();
        assert_eq!(retry.until, Vec::<String>::new());
        assert!(!until_met(
            &t,
            &retry,
            &evaluate(&t, String::new(), None, done(1), &Map::new(), &tpl),
            &Map::new(),
            &tpl
        ));
    }

    #[test]
    fn until_alone_retries_three_times_five_seconds_apart() {
        let t = task("command: x\nregister: r\nuntil: r is success");
        let (runs, delay) = retry_budget(t.retry.as_ref().unwrap(), &Map::new(), &Templates::new()).unwrap();
        assert_eq!((runs, delay), (4, 5.0));
    }
}
