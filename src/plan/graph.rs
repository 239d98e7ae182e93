//! The task graph of a play: tasks in written order, with edges where one
//! task's outcome feeds another, and the runs of independent tasks that the
//! executor may probe together in one remote exec.

use std::collections::{BTreeSet, HashSet};
use std::ops::Range;
use std::path::Path;

use serde_json::Value as Json;

use crate::playbook::{Play, Task};
use crate::template::Templates;

/// Why one task depends on an earlier one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EdgeKind {
    /// The later task reads a variable the earlier one `register`s.
    Register(String),
    /// The later task reads a variable the earlier one sets with `set_fact`.
    SetFact(String),
}

/// A dependency between two tasks of a play (indices into `play.tasks`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    /// The task whose outcome is used.
    pub from: usize,
    /// The task that uses it.
    pub to: usize,
    /// What links them.
    pub kind: EdgeKind,
}

/// The graph of one play.
#[derive(Debug, Clone, Default)]
pub struct TaskGraph {
    /// Data edges between tasks.
    pub edges: Vec<Edge>,
    /// `notify` edges: (task index, handler index).
    pub notifies: Vec<(usize, usize)>,
    /// `notify` edges between handlers: (handler index, handler index).
    pub handler_notifies: Vec<(usize, usize)>,
    /// Consecutive independent tasks, as index ranges over `play.tasks`.
    pub runs: Vec<Range<usize>>,
}

/// Every string inside a JSON value.
pub fn strings_in(v: &Json) -> Vec<String> {
    match v {
        Json::String(s) => vec![s.clone()],
        Json::Array(a) => a.iter().flat_map(strings_in).collect(),
        Json::Object(m) => m.values().flat_map(strings_in).collect(),
        _ => vec![],
    }
}

/// Every template string a task evaluates.
pub fn task_templates(task: &Task) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(v: &Json, out: &mut Vec<String>) {
        match v {
            Json::String(s) => out.push(s.clone()),
            Json::Array(a) => a.iter().for_each(|i| walk(i, out)),
            Json::Object(m) => m.values().for_each(|i| walk(i, out)),
            _ => {}
        }
    }
    walk(&Json::Object(task.args.clone()), &mut out);
    walk(&Json::Object(task.vars.clone()), &mut out);
    if let Some(l) = &task.loop_items {
        walk(l, &mut out);
    }
    if let Some(n) = &task.name {
        out.push(n.clone());
    }
    out
}

/// Every bare expression a task evaluates (`when`, `changed_when`,
/// `failed_when`, `until`, and the module's own, such as `assert: that`).
pub fn task_expressions(task: &Task) -> Vec<String> {
    let mut out = task.when.clone();
    out.extend(task.changed_when.iter().flatten().cloned());
    out.extend(task.failed_when.iter().flatten().cloned());
    out.extend(task.retry.iter().flat_map(|r| r.until.iter().cloned()));
    out.extend(task.module.expressions(&task.args));
    out
}

/// The top-level variables a task reads, in its arguments and keywords and,
/// for a `template` whose source is named literally, in the template file.
pub fn task_variables(task: &Task, templates: &Templates, playbook_dir: &Path) -> BTreeSet<String> {
    let mut vars = BTreeSet::new();
    for t in task_templates(task) {
        vars.extend(templates.variables(&t));
    }
    for e in task_expressions(task) {
        vars.extend(templates.expression_variables(&e));
    }
    if let Some(text) = local_template_text(task, playbook_dir) {
        vars.extend(templates.variables(&text));
    }
    vars
}

/// The text of the controller-side template a task renders, when its name
/// is literal and the file is found.
fn local_template_text(task: &Task, playbook_dir: &Path) -> Option<String> {
    let file = task.module.local_file().filter(|f| f.template)?;
    let Json::String(name) = task.args.get(file.arg)? else { return None };
    if crate::template::is_template(name) {
        return None;
    }
    let path = crate::playbook::find_local_file(playbook_dir, task.role_dir.as_deref(), name, file.subdir)?;
    String::from_utf8(crate::vault::read_local(&path).ok()?.0).ok()
}

/// The variables a task defines for later tasks.
pub fn task_defines(task: &Task) -> Vec<(String, EdgeKind)> {
    let mut out = Vec::new();
    if let Some(r) = &task.register {
        out.push((r.clone(), EdgeKind::Register(r.clone())));
    }
    for k in task.module.defines(&task.args) {
        out.push((k.clone(), EdgeKind::SetFact(k)));
    }
    out
}

impl TaskGraph {
    /// Splits consecutive task indices (one list of a block or of the play)
    /// where they cross from one run into another.
    pub fn split_into_runs(&self, indices: &[usize]) -> Vec<Vec<usize>> {
        let run_of = |i: usize| self.runs.iter().position(|r| r.contains(&i));
        let mut out: Vec<Vec<usize>> = Vec::new();
        let mut current = None;
        for &i in indices {
            let run = run_of(i);
            match out.last_mut() {
                Some(last) if current == run && last.last().is_some_and(|p| p + 1 == i) => last.push(i),
                _ => out.push(vec![i]),
            }
            current = run;
        }
        out
    }

    /// Builds the graph of a play.
    pub fn build(play: &Play, templates: &Templates, playbook_dir: &Path) -> TaskGraph {
        let uses: Vec<BTreeSet<String>> =
            play.tasks.iter().map(|t| task_variables(t, templates, playbook_dir)).collect();
        let mut edges = Vec::new();
        for (to, used) in uses.iter().enumerate() {
            for (from, task) in play.tasks.iter().enumerate().take(to) {
                for (name, kind) in task_defines(task) {
                    if used.contains(&name) {
                        edges.push(Edge { from, to, kind });
                    }
                }
            }
        }
        let notified_by = |tasks: &[Task]| {
            let mut out = Vec::new();
            for (i, task) in tasks.iter().enumerate() {
                for n in &task.notify {
                    for (h, handler) in play.handlers.iter().enumerate() {
                        if handler.name.as_deref() == Some(n.as_str()) || handler.listen.contains(n) {
                            out.push((i, h));
                        }
                    }
                }
            }
            out
        };
        let notifies = notified_by(&play.tasks);
        let handler_notifies = notified_by(&play.handlers);
        let mut runs = Vec::new();
        let mut start = 0;
        let incoming: Vec<HashSet<usize>> =
            (0..play.tasks.len()).map(|to| edges.iter().filter(|e| e.to == to).map(|e| e.from).collect()).collect();
        for (i, from_set) in incoming.iter().enumerate() {
            // A task that acts on the play (`meta`) is a step of its own.
            // So is one that runs once for all hosts or on another host's connection.
            let alone = |t: &Task| t.control().is_some() || t.run_once || t.delegate_to.is_some();
            let barrier = alone(&play.tasks[i]) || (i > 0 && alone(&play.tasks[i - 1]));
            let depends_inside = from_set.iter().any(|from| *from >= start);
            if (depends_inside || barrier) && i > start {
                runs.push(start..i);
                start = i;
            }
        }
        if start < play.tasks.len() {
            runs.push(start..play.tasks.len());
        }
        TaskGraph { edges, notifies, handler_notifies, runs }
    }
}
