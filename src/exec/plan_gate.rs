//! The executor's side of saved plans ([`crate::saved_plan`]): it names
//! every run of a task and every unit (loop item) of it, so that a plan's
//! changes can be found again; in a dry run that saves its plan it records
//! each change and each task the dry run cannot predict; when a saved plan
//! is applied it refuses, before anything runs, a change the plan does not
//! have. It never decides whether a task changes anything: modules do.

use std::collections::HashMap;

use crate::modules::{ModuleError, Plan};
use crate::plan::TaskGraph;
use crate::playbook::Task;
use crate::saved_plan::{fingerprint, PlanGate, PlannedChange, Unpredictable};

/// Shown for a diff under `no_log`.
const MASKED: &str = "the diff has been hidden due to the fact that 'no_log: true' was specified for this result";

/// One host's task runs in one play: how often each task ran, and which
/// runs a dry run could not predict.
#[derive(Debug, Default)]
pub struct PlanKeys {
    runs: HashMap<(bool, usize), usize>,
    /// Task (handler?, index) → its name, for the reason of its dependants.
    unpredictable: HashMap<(bool, usize), String>,
}

/// One run of one task on one host.
pub struct TaskRun<'a> {
    /// The play (its index and name).
    pub play: (usize, &'a str),
    /// Whether the task is a handler.
    pub handler: bool,
    /// Its index in the play's tasks (or handlers).
    pub index: usize,
    /// The task.
    pub task: &'a Task,
    /// Its name as shown.
    pub name: &'a str,
    /// The run's key, `p0/t3#1` (see [`crate::saved_plan::PlannedChange::key`]).
    pub key: String,
}

impl PlanKeys {
    /// Starts the next run of a task: its key. In a dry run that saves its
    /// plan, a task that uses what an unpredictable task did (its `register`,
    /// its `set_fact`, a handler it notifies) is unpredictable too.
    pub fn start<'a>(
        &mut self,
        gate: &PlanGate,
        graph: &TaskGraph,
        host: &str,
        run: (usize, &'a str, bool, usize),
        task: &'a Task,
        name: &'a str,
    ) -> TaskRun<'a> {
        let (play_index, play, handler, index) = run;
        let count = self.runs.entry((handler, index)).or_insert(0);
        *count += 1;
        let key = format!("p{play_index}/{}{index}#{count}", if handler { "h" } else { "t" });
        let run = TaskRun { play: (play_index, play), handler, index, task, name, key };
        if let PlanGate::Record(recorder) = gate {
            if let Some(cause) = self.cause(graph, handler, index) {
                let reason = format!("it uses what `{cause}` does, which a dry run cannot predict");
                self.mark(&run, reason, |u| recorder.unpredictable(host, u));
            } else if reads_check_mode(task) {
                let reason = "it reads `ansible_check_mode`: a dry run does not show what it does".to_owned();
                self.mark(&run, reason, |u| recorder.unpredictable(host, u));
            }
        }
        run
    }

    /// The unpredictable task this one depends on, if any.
    fn cause(&self, graph: &TaskGraph, handler: bool, index: usize) -> Option<String> {
        let from_task = |t: &usize| self.unpredictable.get(&(false, *t)).cloned();
        if handler {
            graph.notifies.iter().filter(|(_, h)| *h == index).find_map(|(t, _)| from_task(t)).or_else(|| {
                graph
                    .handler_notifies
                    .iter()
                    .filter(|(_, h)| *h == index)
                    .find_map(|(g, _)| self.unpredictable.get(&(true, *g)).cloned())
            })
        } else {
            graph.edges.iter().filter(|e| e.to == index).find_map(|e| from_task(&e.from))
        }
    }

    fn mark(&mut self, run: &TaskRun, reason: String, record: impl FnOnce(Unpredictable)) {
        self.unpredictable.insert((run.handler, run.index), run.name.to_owned());
        record(Unpredictable { key: run.key.clone(), play: run.play.1.to_owned(), task: run.name.to_owned(), reason });
    }

    /// After a unit's compare, before its apply: records the change (a dry
    /// run that saves its plan), or refuses it when it is not in the plan
    /// being applied. `check` is the unit's check mode; `paths` what it
    /// touches.
    #[allow(clippy::too_many_arguments)]
    pub fn unit(
        &mut self,
        gate: &PlanGate,
        host: &str,
        run: &TaskRun,
        unit: (usize, &str),
        check: bool,
        plan: &Plan,
        paths: Option<Vec<String>>,
    ) -> Result<(), ModuleError> {
        let (unit_index, label) = unit;
        let unit_key = format!("{}/{unit_index}", run.key);
        match gate {
            PlanGate::Off => Ok(()),
            PlanGate::Record(recorder) => {
                if plan.unpredictable {
                    let reason = plan.msg.clone().unwrap_or_else(|| "a dry run cannot predict it".into());
                    self.mark(run, reason, |u| recorder.unpredictable(host, u));
                } else if !check {
                    let reason = "`check_mode: false`: it ran in the dry run, and runs again when applied".into();
                    self.mark(run, reason, |u| recorder.unpredictable(host, u));
                }
                if check && !plan.skipped && (plan.changed || plan.apply.is_some()) {
                    let item = (!label.is_empty()).then(|| label.to_owned());
                    let module = run.task.module.name();
                    let diff = match (&plan.diff, run.task.no_log, run.task.diff) {
                        (_, _, Some(false)) | (None, _, _) => None,
                        (Some(_), true, _) => Some(MASKED.to_owned()),
                        (Some(d), false, _) => Some(d.unified()),
                    };
                    recorder.change(
                        host,
                        PlannedChange {
                            key: unit_key,
                            play: run.play.1.to_owned(),
                            task: run.name.to_owned(),
                            resource: resource(plan, paths, label, run.name),
                            fingerprint: fingerprint(module, item.as_deref(), plan),
                            item,
                            module: module.to_owned(),
                            diff,
                        },
                    );
                }
                Ok(())
            }
            PlanGate::Enforce(guard) => {
                if check || plan.apply.is_none() || guard.allows(host, &unit_key) {
                    return Ok(());
                }
                Err(ModuleError::failed(format!(
                    "refused: this change ({}) is not in the saved plan {}; the host changed since the plan was \
                     made, make a new plan",
                    resource(plan, paths, label, run.name),
                    guard.path.display()
                )))
            }
        }
    }
}

/// Whether a task's templates or conditions read `ansible_check_mode`: it
/// then does something else in a dry run, by design.
fn reads_check_mode(task: &Task) -> bool {
    let mut texts = crate::plan::task_templates(task);
    texts.extend(crate::plan::task_expressions(task));
    texts.extend(task.include_guards.iter().cloned());
    texts.extend(task.templated_flags.iter().map(|(_, expr)| expr.clone()));
    texts.iter().any(|t| t.contains("ansible_check_mode"))
}

/// What a change is about, for messages: the paths it touches, else the
/// subject of its diff, else the loop item, else the task.
fn resource(plan: &Plan, paths: Option<Vec<String>>, label: &str, task: &str) -> String {
    if let Some(p) = paths.filter(|p| !p.is_empty() && p.iter().all(|x| !x.is_empty())) {
        return p.join(", ");
    }
    if let Some(d) = &plan.diff {
        let subject = d.before_header.strip_prefix("before: ").unwrap_or(&d.before_header).trim();
        if !subject.is_empty() && subject != "before" {
            return subject.to_owned();
        }
    }
    if !label.is_empty() {
        return label.to_owned();
    }
    task.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::{ApplyScript, Diff};
    use crate::saved_plan::{Guard, HostPlan, HostStatus, Recorder, SavedPlan, FORMAT, VERSION};
    use std::sync::Arc;

    fn task() -> Task {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("site.yml");
        let yaml = "- hosts: all\n  tasks:\n    - name: write motd\n      copy: {content: new, dest: /etc/motd}\n";
        std::fs::write(&path, yaml).unwrap();
        let templates = crate::template::Templates::new();
        let (pb, _) = crate::playbook::load(&path, &templates).unwrap_or_else(|e| panic!("{e:?}"));
        pb.plays[0].tasks[0].clone()
    }

    fn change() -> Plan {
        Plan::change(ApplyScript { script: "true".into(), stdin: vec![] }).with_diff(Some(Diff::file(
            "/etc/motd",
            "old\n",
            "new\n",
        )))
    }

    #[test]
    fn a_dry_run_records_changes_and_what_it_cannot_predict() {
        let recorder = Arc::new(Recorder::default());
        let gate = PlanGate::Record(recorder.clone());
        let graph = TaskGraph {
            edges: vec![crate::plan::Edge { from: 0, to: 1, kind: crate::plan::EdgeKind::Register("r".into()) }],
            ..TaskGraph::default()
        };
        let t = task();
        let mut keys = PlanKeys::default();
        let run = keys.start(&gate, &graph, "h1", (0, "play", false, 0), &t, "run it");
        assert_eq!(run.key, "p0/t0#1");
        let skipped = Plan { skipped: true, unpredictable: true, msg: Some("would have run".into()), ..Plan::ok() };
        keys.unit(&gate, "h1", &run, (0, ""), true, &skipped, None).unwrap();
        let next = keys.start(&gate, &graph, "h1", (0, "play", false, 1), &t, "use it");
        keys.unit(&gate, "h1", &next, (0, "a"), true, &change(), Some(vec!["/etc/motd".into()])).unwrap();
        let again = keys.start(&gate, &graph, "h1", (0, "play", false, 0), &t, "run it");
        assert_eq!(again.key, "p0/t0#2", "a second run of a task has its own key");

        let hosts = recorder.take();
        let h1 = &hosts["h1"];
        assert_eq!(h1.unpredictable.len(), 2);
        assert_eq!(h1.unpredictable[0].reason, "would have run");
        assert!(h1.unpredictable[1].reason.contains("`run it`"), "{:?}", h1.unpredictable[1]);
        assert_eq!(h1.changes.len(), 1);
        let c = &h1.changes[0];
        assert_eq!((c.key.as_str(), c.resource.as_str(), c.item.as_deref()), ("p0/t1#1/0", "/etc/motd", Some("a")));
        assert!(c.diff.as_deref().unwrap().contains("+new"), "{c:?}");
    }

    #[test]
    fn a_task_that_reads_ansible_check_mode_is_unpredictable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("site.yml");
        let yaml = "- hosts: all\n  tasks:\n    - copy: {content: x, dest: /x}\n      when: not ansible_check_mode\n    - copy: {content: x, dest: /y}\n";
        std::fs::write(&path, yaml).unwrap();
        let (pb, _) = crate::playbook::load(&path, &crate::template::Templates::new()).unwrap();
        let recorder = Arc::new(Recorder::default());
        let gate = PlanGate::Record(recorder.clone());
        let mut keys = PlanKeys::default();
        let graph = TaskGraph::default();
        keys.start(&gate, &graph, "h1", (0, "p", false, 0), &pb.plays[0].tasks[0], "guarded");
        keys.start(&gate, &graph, "h1", (0, "p", false, 1), &pb.plays[0].tasks[1], "plain");
        let h1 = recorder.take().remove("h1").unwrap();
        assert_eq!(h1.unpredictable.len(), 1, "{h1:?}");
        assert!(h1.unpredictable[0].reason.contains("ansible_check_mode"));
    }

    #[test]
    fn an_applied_plan_refuses_a_change_it_does_not_have() {
        let mut planned = HostPlan { status: HostStatus::Ok, ..HostPlan::default() };
        let recorder = Recorder::default();
        let t = task();
        let mut keys = PlanKeys::default();
        let run = keys.start(&PlanGate::Off, &TaskGraph::default(), "h1", (0, "play", false, 2), &t, "write motd");
        let rec_gate = PlanGate::Record(Arc::new(recorder));
        keys.unit(&rec_gate, "h1", &run, (0, ""), true, &change(), None).unwrap();
        if let PlanGate::Record(r) = &rec_gate {
            planned = r.take().remove("h1").unwrap();
        }
        let plan = SavedPlan {
            format: FORMAT.into(),
            version: VERSION,
            created_at: String::new(),
            stead_version: String::new(),
            run: Default::default(),
            inputs: Default::default(),
            hosts: [("h1".to_owned(), planned)].into(),
        };
        let gate = PlanGate::Enforce(Arc::new(Guard::new(std::path::Path::new("plan.json"), &plan)));
        let mut fresh = PlanKeys::default();
        let run = fresh.start(&gate, &TaskGraph::default(), "h1", (0, "play", false, 2), &t, "write motd");
        assert!(fresh.unit(&gate, "h1", &run, (0, ""), false, &change(), None).is_ok());
        let err = fresh.unit(&gate, "h2", &run, (0, ""), false, &change(), None).unwrap_err().to_string();
        assert!(err.contains("not in the saved plan plan.json"), "{err}");
        assert!(err.contains("/etc/motd"), "{err}");
        assert!(fresh.unit(&gate, "h2", &run, (0, ""), false, &Plan::ok(), None).is_ok(), "no change, no refusal");
    }
}
