//! One host running the segments of a play that the strategy hands it
//! (see [`super::play`]): probes of independent tasks sent together, apply
//! only where something differs, retries, results registered and reported.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value as Json};

use super::batch;
use super::cursor::{IncludedItems, Segment};
use super::events::{BackupMade, Event, EventSink, RemoteTrace, Status, TaskRecord};
use super::outcome::{self, UnitResult};
use super::plan_gate::{PlanKeys, TaskRun};
use super::vars::HostVars;
use crate::modules::{
    Action, Args, Control, ModuleError, Plan, Reconnect, ReconnectStage, Reconnected, ResultMap, TaskContext,
};
use crate::plan::{PlayPlan, RunOptions};
use crate::playbook::{find_local_file, Include, LoopExtras, Task};
use crate::template::{context, Templates};
use crate::transport::{lock, Become, Connection, ExecOutput, RemoteCommand, TransportError, MAX_SCRIPT_BYTES};

const NO_LOG: &str = "the output has been hidden due to the fact that 'no_log: true' was specified for this result";

/// How a host's play ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostEnd {
    /// Every task ran (some may have failed with ignore_errors).
    Done,
    /// A task failed: the host stops.
    Failed,
    /// The connection could not be made or was lost.
    Unreachable,
    /// Ctrl-C.
    Interrupted,
}

/// A lazily opened connection shared by the plays of one host.
pub struct Link {
    /// Inventory name.
    pub host: String,
    /// The open connection, once needed.
    pub conn: Option<Connection>,
    /// Facts gathered so far.
    pub facts: Map<String, Json>,
    /// set_fact / register values (they persist across plays, as in Ansible).
    pub runtime: Map<String, Json>,
    /// Remote execs of connections already closed (`meta: reset_connection`).
    pub closed_execs: u64,
}

/// Everything a host's walk needs.
pub struct HostRun<'a> {
    /// The play.
    pub play: &'a PlayPlan,
    /// Compiled templates.
    pub templates: &'a Templates,
    /// Run options.
    pub options: &'a RunOptions,
    /// Event sink.
    pub sink: Arc<dyn EventSink>,
    /// Set on Ctrl-C.
    pub interrupted: &'a AtomicBool,
    /// Inventory variables of the host.
    pub inventory_vars: Map<String, Json>,
    /// Connections of delegated tasks.
    pub delegates: &'a super::pool::Pool,
    /// The inventory (connection variables of delegation targets).
    pub inventory: &'a crate::inventory::Inventory,
    /// This host's task runs, named for a saved plan.
    pub plan_keys: std::sync::Mutex<PlanKeys>,
}

/// A connection a unit runs on: the host's own, or a delegate's.
enum Conn<'l> {
    Own(&'l Connection),
    Delegate(Arc<Connection>),
}

impl std::ops::Deref for Conn<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        match self {
            Conn::Own(c) => c,
            Conn::Delegate(c) => c,
        }
    }
}

/// One (task, item) to run.
struct Unit {
    item: Option<Json>,
    label: String,
    prepared: Prepared,
    probe: Option<String>,
    /// Bytes for the probe's stdin (a passphrase), see [`Action::probe_stdin`].
    probe_stdin: Vec<u8>,
    become_: Option<Become>,
    check: bool,
    /// `delegate_to`, rendered: another host's connection runs this unit.
    delegate: Option<String>,
    /// `export NAME=value` lines of the task's `environment`, put before
    /// its probe and apply scripts.
    env: String,
    /// The task is `no_log`: its scripts are never shown (`-vv`).
    no_log: bool,
}

/// One item a dynamic include includes: its label and the variables it
/// gives the included tasks.
struct IncludedItem {
    label: String,
    body: usize,
    params: Map<String, Json>,
}

/// Where a unit stands after `prepare`.
enum Prepared {
    /// `when` is false.
    Skipped,
    /// Ready to probe and compare.
    Ready(Box<dyn Action>),
    /// Its arguments could not be rendered or were refused.
    Broken(String),
}

struct Ctx<'a> {
    templates: &'a Templates,
    vars: minijinja::Value,
    check: bool,
    verbosity: u8,
    playbook_dir: &'a Path,
    role_dir: Option<&'a Path>,
}

impl TaskContext for Ctx<'_> {
    fn check_mode(&self) -> bool {
        self.check
    }
    fn verbosity(&self) -> u8 {
        self.verbosity
    }
    fn render(&self, source: &str, name: &str) -> Result<String, ModuleError> {
        self.templates.render_file(name, source, &self.vars).map_err(|e| ModuleError::Template(e.to_string()))
    }
    fn eval(&self, expr: &str) -> Result<Json, ModuleError> {
        self.templates.eval(expr, &self.vars).map_err(|e| ModuleError::Template(e.to_string()))
    }
    fn find_file(&self, name: &str, subdir: &str) -> Result<PathBuf, ModuleError> {
        find_local_file(self.playbook_dir, self.role_dir, name, subdir).ok_or_else(|| ModuleError::LocalFile {
            path: PathBuf::from(name),
            message: format!(
                "not found in {}/{subdir}/ or {}",
                self.playbook_dir.display(),
                self.playbook_dir.display()
            ),
        })
    }
}

fn status_of(changed: bool, failed: bool, skipped: bool) -> Status {
    if failed {
        Status::Failed
    } else if skipped {
        Status::Skipped
    } else if changed {
        Status::Changed
    } else {
        Status::Ok
    }
}

impl HostRun<'_> {
    /// Runs one remote command; with `-v` the sinks hear of it, and with
    /// `-vv` of the script `shown` gives (None: hidden by `no_log`).
    /// Without `-v` this is `conn.exec` and nothing more.
    async fn exec_traced(
        &self,
        conn: &Connection,
        cmd: &RemoteCommand,
        host: &str,
        what: impl FnOnce() -> String,
        shown: impl FnOnce() -> Option<String>,
    ) -> Result<ExecOutput, TransportError> {
        if self.options.verbosity == 0 {
            return conn.exec(cmd).await;
        }
        let started = Instant::now();
        let result = conn.exec(cmd).await;
        let script = shown();
        self.sink.emit(Event::Remote(RemoteTrace {
            host: host.to_owned(),
            what: what(),
            hidden: script.is_none() && self.options.verbosity >= 2,
            script: script.filter(|_| self.options.verbosity >= 2),
            script_bytes: cmd.script.len(),
            stdin_bytes: cmd.stdin.len(),
            become_user: cmd.become_user.as_ref().map(|b| b.user.clone()),
            outcome: result.as_ref().map(|o| o.status).map_err(|e| e.to_string()),
            duration_ms: started.elapsed().as_millis() as u64,
        }));
        result
    }

    fn become_for(&self, task: &Task, vars: &Map<String, Json>) -> Option<Become> {
        let play = &self.play.play;
        let var_bool = |k: &str| {
            vars.get(k).and_then(|v| v.as_bool().or_else(|| v.as_str().and_then(crate::modules::spec::parse_bool)))
        };
        let var_text = |k: &str| vars.get(k).and_then(|v| v.as_str().map(str::to_owned));
        let on = task.become_.or(play.become_).or_else(|| var_bool("ansible_become")).unwrap_or(self.options.become_);
        if !on {
            return None;
        }
        let user = task
            .become_user
            .clone()
            .or_else(|| play.become_user.clone())
            .or_else(|| var_text("ansible_become_user"))
            .or_else(|| self.options.become_user.clone())
            .unwrap_or_else(|| "root".into());
        // `become_user: "{{ app_user }}"` is rendered for the host.
        let render = |text: String| -> String {
            if crate::template::is_template(&text) {
                self.templates.render_str(&text, &context(vars)).map(|v| json_text(&v)).unwrap_or(text)
            } else {
                text
            }
        };
        let user = render(user);
        let method = task
            .become_method
            .clone()
            .or_else(|| play.become_method.clone())
            .or_else(|| var_text("ansible_become_method"))
            .or_else(|| self.options.become_method.clone())
            .map(render)
            .unwrap_or_else(|| "sudo".into());
        // A host's own password beats the run's (-K, a password file), as in
        // Ansible.
        let password = self.become_password_of(vars).or_else(|| self.options.become_password.clone());
        Some(Become { user, method, password })
    }

    /// The become password among a host's variables (`ansible_become_password`
    /// or its older names), rendered for it (`"{{ vault_sudo_password }}"`).
    fn become_password_of(&self, vars: &Map<String, Json>) -> Option<crate::transport::BecomePassword> {
        const NAMES: [&str; 3] = ["ansible_become_password", "ansible_become_pass", "ansible_sudo_pass"];
        let scalar = |v: &Json| match v {
            Json::String(s) if !s.is_empty() => Some(s.clone()),
            Json::Number(n) => Some(n.to_string()),
            _ => None,
        };
        let text = NAMES.iter().find_map(|k| vars.get(*k).and_then(scalar))?;
        let text = if crate::template::is_template(&text) {
            self.templates.render_str(&text, &context(vars)).map(|v| json_text(&v)).unwrap_or(text)
        } else {
            text
        };
        Some(crate::transport::BecomePassword::new(text))
    }

    /// The connection a unit runs on: its delegate's, or the host's own.
    async fn connection_for<'l>(&self, link: &'l mut Link, delegate: Option<&str>) -> Result<Conn<'l>, TransportError> {
        match delegate {
            Some(d) if d != link.host => {
                let vars = self.inventory.host_vars(d).ok_or_else(|| TransportError::Exec {
                    host: link.host.clone(),
                    detail: format!("delegate_to: `{d}` is not in the inventory"),
                })?;
                let vars = self.connection_vars(d, &vars)?;
                let play_user = self.play.play.remote_user.as_deref();
                Ok(Conn::Delegate(self.delegates.get(d, &vars, play_user, self.options).await?))
            }
            _ => Ok(Conn::Own(self.ensure_connected(link).await?)),
        }
    }

    /// The variables known before facts are gathered (a host's inventory
    /// variables, the play's, extra vars), resolved: what connection
    /// variables and a templated `gather_facts` are rendered with.
    fn before_facts(&self, host_vars: &Map<String, Json>) -> Result<Map<String, Json>, crate::template::TemplateError> {
        let mut all = host_vars.clone();
        let play_vars = self.play.play.vars.iter().filter(|(k, _)| *k != crate::playbook::ROLE_DEFAULTS_KEY);
        all.extend(play_vars.map(|(k, v)| (k.clone(), v.clone())));
        all.extend(self.options.extra_vars.clone());
        super::vars::resolve(&mut all, self.templates)?;
        Ok(all)
    }

    /// A host's connection variables with templated values rendered (with
    /// its inventory, play and extra variables), as Ansible templates
    /// `ansible_host: "{{ ... }}"`.
    fn connection_vars(&self, host: &str, vars: &Map<String, Json>) -> Result<Map<String, Json>, TransportError> {
        let templated: Vec<String> = vars
            .iter()
            .filter(|(k, v)| {
                k.starts_with("ansible_") && matches!(v, Json::String(s) if crate::template::is_template(s))
            })
            .map(|(k, _)| k.clone())
            .collect();
        if templated.is_empty() {
            return Ok(vars.clone());
        }
        let all = self.before_facts(vars).map_err(|e| TransportError::Connect {
            host: host.to_owned(),
            detail: format!("connection variables: {e}"),
        })?;
        let mut out = vars.clone();
        for k in templated {
            if let Some(v) = all.get(&k) {
                out.insert(k, v.clone());
            }
        }
        Ok(out)
    }

    async fn ensure_connected<'l>(&self, link: &'l mut Link) -> Result<&'l Connection, TransportError> {
        if link.conn.is_none() {
            let vars = self.connection_vars(&link.host, &self.inventory_vars)?;
            let mut conn =
                super::connect::open(&link.host, &vars, self.play.play.remote_user.as_deref(), self.options).await?;
            self.lock_host(&mut conn, &vars);
            link.conn = Some(conn);
        }
        Ok(link.conn.as_ref().expect("just connected"))
    }

    /// The first step of a host's play: facts (when the play gathers them
    /// and they are not known yet) and the play's variables.
    pub async fn setup(&self, link: &mut Link) -> Result<HostVars, HostEnd> {
        let play = &self.play.play;
        let host = link.host.clone();
        let gather = match &play.gather_facts_template {
            // `gathering = explicit`: only a play that says `gather_facts: true`.
            None if play.gather_facts_given => play.gather_facts,
            None => self.options.gathering.by_default(),
            Some(expr) => {
                let all = self.before_facts(&self.inventory_vars).unwrap_or_else(|_| self.inventory_vars.clone());
                match self.templates.render_str(expr, &context(&all)) {
                    Ok(Json::String(s)) => crate::modules::spec::parse_bool(&s).unwrap_or(false),
                    Ok(other) => crate::template::truthy(&other),
                    Err(e) => {
                        let record = self.record(&host, "Gathering Facts", "gather_facts", Instant::now());
                        let msg = Some(format!("`gather_facts: {expr}`: {e}"));
                        self.sink.emit(Event::TaskDone(TaskRecord { status: Status::Failed, msg, ..record }));
                        return Err(HostEnd::Failed);
                    }
                }
            }
        };
        if gather && link.facts.is_empty() {
            let started = Instant::now();
            let result = async {
                let conn = self.ensure_connected(link).await?;
                let cmd = RemoteCommand { script: super::facts::SCRIPT.into(), ..Default::default() };
                self.exec_traced(conn, &cmd, &host, || "gather facts".into(), || Some(cmd.script.clone())).await
            }
            .await;
            match result {
                Ok(out) => {
                    link.facts = super::facts::parse(&out.stdout_text());
                    self.sink.emit(Event::TaskDone(self.record(&host, "Gathering Facts", "gather_facts", started)));
                }
                Err(e) => return Err(self.unreachable(&host, e)),
            }
        }
        let mut vars = HostVars::new(
            self.inventory_vars.clone(),
            &link.facts,
            &play.vars,
            link.runtime.clone(),
            self.options.extra_vars.clone(),
        );
        vars.base.insert("ansible_check_mode".into(), Json::Bool(self.options.check));
        vars.base.insert("ansible_diff_mode".into(), Json::Bool(self.options.diff));
        let managed = self.options.ansible_managed.as_deref().unwrap_or(crate::config::DEFAULT_MANAGED);
        vars.base.entry("ansible_managed").or_insert_with(|| Json::from(managed));
        // Absolute, as Ansible gives it (a playbook named `site.yml` has an
        // empty directory otherwise, and `{{ playbook_dir }}/x` would be `/x`).
        let dir = &self.play.playbook_dir;
        let absolute = if dir.as_os_str().is_empty() {
            std::env::current_dir().unwrap_or_default()
        } else {
            std::path::absolute(dir).unwrap_or_else(|_| dir.clone())
        };
        vars.base.insert("playbook_dir".into(), Json::from(absolute.display().to_string()));
        vars.base.insert("play_hosts".into(), Json::from(self.play.hosts.clone()));
        vars.base.insert("ansible_play_hosts".into(), Json::from(self.play.hosts.clone()));
        if let Err(e) = vars.resolve_base(self.templates) {
            let record = self.record(&host, "play vars", "vars", Instant::now());
            self.sink.emit(Event::TaskDone(TaskRecord { status: Status::Failed, msg: Some(e.to_string()), ..record }));
            return Err(HostEnd::Failed);
        }
        Ok(vars)
    }

    /// When `segment` is a `meta` task: what it asks for, or the failure of
    /// its `when`. Unselected or skipped, it asks for nothing (`Noop`). A
    /// meta task leaves no result, as in Ansible.
    pub fn meta(&self, segment: &Segment, vars: &mut HostVars, host: &str) -> Option<Result<Control, HostEnd>> {
        let Segment::Tasks(tasks) = segment else { return None };
        let [t] = tasks.as_slice() else { return None };
        let task = &self.play.play.tasks[*t];
        let control = task.control()?;
        if !self.play.selected[*t] {
            return Some(Ok(Control::Noop));
        }
        match self.prepare(task, vars) {
            Ok(units) if units.iter().all(|u| matches!(u.prepared, Prepared::Skipped)) => Some(Ok(Control::Noop)),
            Ok(_) => Some(Ok(control)),
            Err(e) => {
                let name = self.task_name(task, vars);
                Some(Err(self.finish_task(task, host, &name, vars, e, Instant::now(), false)))
            }
        }
    }

    /// Decides a dynamic include for this host: its `when` and `loop`, and
    /// the variables each included item gives the tasks. Reports it as
    /// Ansible counts it: ok once per included item, skipped once when no
    /// item is included.
    pub fn decide_include(&self, id: usize, vars: &HostVars, host: &str) -> Result<IncludedItems, HostEnd> {
        let inc = &self.play.play.includes[id];
        if !self.play.include_selected[id] {
            return Ok(Vec::new());
        }
        let started = Instant::now();
        let record = |status: Status, msg: Option<String>, items: Vec<(String, Status)>| {
            let msg = if inc.no_log { msg.map(|_| NO_LOG.to_owned()) } else { msg };
            let r = self.record(host, &inc.name, inc.module, started);
            TaskRecord { status, msg, items, ignored: status == Status::Failed && inc.ignore_errors, ..r }
        };
        let decided = self.include_items(inc, vars);
        match decided {
            Ok(included) if included.is_empty() => {
                self.sink.emit(Event::TaskDone(record(Status::Skipped, None, Vec::new())));
                Ok(Vec::new())
            }
            Ok(included) => {
                let labels: Vec<(String, Status)> = if inc.loop_items.is_some() {
                    included.iter().map(|i| (i.label.clone(), Status::Ok)).collect()
                } else {
                    Vec::new()
                };
                // One result per included item, as Ansible's recap counts them.
                let n = included.len();
                for i in 0..n {
                    let items = if i == 0 { labels.clone() } else { Vec::new() };
                    self.sink.emit(Event::TaskDone(record(Status::Ok, None, items)));
                }
                Ok(included.into_iter().map(|i| (i.body, i.params)).collect())
            }
            Err(e) => {
                self.sink.emit(Event::TaskDone(record(Status::Failed, Some(e), Vec::new())));
                if inc.ignore_errors {
                    Ok(Vec::new())
                } else {
                    Err(HostEnd::Failed)
                }
            }
        }
    }

    /// The items a dynamic include includes on this host (its `when` holds
    /// for them), with the variables each gives the included tasks.
    fn include_items(&self, inc: &Include, vars: &HostVars) -> Result<Vec<IncludedItem>, String> {
        let base = vars.merged_raw();
        let base_ctx = context(&base);
        let items = loop_items(self.templates, inc.loop_items.as_ref(), inc.loop_flatten, &base_ctx)?;
        let all: Vec<Json> = items.iter().flatten().cloned().collect();
        let mut out = Vec::new();
        'items: for (index, item) in items.into_iter().enumerate() {
            let layer = match &item {
                Some(i) => loop_layer(&inc.loop_var, &inc.loop_extras, i, index, &all),
                None => Map::new(),
            };
            let ctx = minijinja::value::merge_maps([context(&layer), base_ctx.clone()]);
            for cond in &inc.when {
                if !self.templates.condition(cond, &ctx).map_err(|e| format!("condition `{cond}`: {e}"))? {
                    continue 'items;
                }
            }
            let mut params = layer;
            for (k, v) in &inc.vars {
                params.insert(k.clone(), self.templates.render_value(v, &ctx).map_err(|e| e.to_string())?);
            }
            let label = match (&item, &inc.loop_label) {
                (Some(_), Some(l)) => self.templates.render_str(l, &ctx).map(|v| json_text(&v)).unwrap_or_default(),
                (Some(i), None) => json_text(i),
                (None, _) => String::new(),
            };
            let body = match &inc.file_template {
                None => 0,
                Some(t) => {
                    let name = self.templates.render_str(t, &ctx).map(|v| json_text(&v)).map_err(|e| e.to_string())?;
                    if let Some((_, why)) = inc.unusable.iter().find(|(f, _)| *f == name) {
                        return Err(format!("`{t}` names `{name}`, which is not a usable task file: {why}"));
                    }
                    inc.files.iter().position(|f| *f == name).ok_or_else(|| {
                        format!(
                            "`{t}` names `{name}`, which is not one of the task files found for it: {}",
                            inc.files.join(", ")
                        )
                    })?
                }
            };
            out.push(IncludedItem { label, body, params });
        }
        Ok(out)
    }

    /// Runs one segment of the play (see [`super::cursor`]) on this host.
    pub async fn run_segment(
        &self,
        segment: &Segment,
        link: &mut Link,
        vars: &mut HostVars,
        notified: &mut BTreeSet<usize>,
    ) -> HostEnd {
        let play = &self.play.play;
        match segment {
            Segment::Tasks(tasks) => {
                let selected: Vec<usize> = tasks.iter().copied().filter(|t| self.play.selected[*t]).collect();
                if selected.is_empty() {
                    return HostEnd::Done;
                }
                self.run_tasks(&play.tasks, &selected, link, vars, notified, false).await
            }
            Segment::Include(id) => match self.decide_include(*id, vars, &link.host) {
                Ok(_) => HostEnd::Done,
                Err(end) => end,
            },
            Segment::Handlers => {
                // Definition order; a handler may notify another, which then
                // runs in this flush too (each handler at most once per flush).
                let mut ran = BTreeSet::new();
                while let Some(h) = notified.pop_first() {
                    if !ran.insert(h) {
                        continue;
                    }
                    match self.run_tasks(&play.handlers, &[h], link, vars, notified, true).await {
                        HostEnd::Done => {}
                        other => return other,
                    }
                }
                HostEnd::Done
            }
        }
    }

    /// Makes the host's own connection take the host lock on its first
    /// command, unless `stead_host_lock: false` says not to; the lock file
    /// is `stead_lock_file` (default [`lock::DEFAULT_PATH`]).
    fn lock_host(&self, conn: &mut Connection, vars: &Map<String, Json>) {
        let off = vars.get("stead_host_lock").is_some_and(|v| {
            v.as_bool() == Some(false) || v.as_str().and_then(crate::modules::spec::parse_bool) == Some(false)
        });
        if off {
            return;
        }
        let path = vars.get("stead_lock_file").and_then(Json::as_str).unwrap_or(lock::DEFAULT_PATH);
        conn.lock_host(lock::HostLock {
            path: path.to_owned(),
            holder: self.options.lock_holder.clone(),
            wait_secs: self.options.lock_wait_secs,
        });
    }

    fn unreachable(&self, host: &str, e: TransportError) -> HostEnd {
        // A host another run holds is reachable: refused, a failure.
        if let TransportError::Locked { holder, .. } = e {
            // Named by its inventory name, not the address ssh was given.
            let msg = TransportError::Locked { host: host.to_owned(), holder }.to_string();
            let record = self.record(host, "host lock", "lock", Instant::now());
            self.sink.emit(Event::TaskDone(TaskRecord { status: Status::Failed, msg: Some(msg), ..record }));
            return HostEnd::Failed;
        }
        self.sink.emit(Event::Unreachable {
            host: host.to_owned(),
            play: self.play.play.name.clone(),
            msg: e.to_string(),
        });
        HostEnd::Unreachable
    }

    /// A task record with the run's defaults (status ok, nothing to show).
    fn record(&self, host: &str, task: &str, module: &str, started: Instant) -> TaskRecord {
        TaskRecord {
            host: host.to_owned(),
            play: self.play.play.name.clone(),
            task: task.to_owned(),
            module: module.to_owned(),
            status: Status::Ok,
            changed: false,
            diff: None,
            msg: None,
            duration_ms: started.elapsed().as_millis() as u64,
            ignored: false,
            rescued: false,
            handler: false,
            items: vec![],
            show_diff: self.options.diff,
            show_msg: false,
            tags: vec![],
            backups: vec![],
        }
    }

    /// Prepares the units of a task: `when` and `loop` evaluated, args rendered.
    fn prepare(&self, task: &Task, vars: &HostVars) -> Result<Vec<Unit>, String> {
        let base = vars.for_task(task, self.templates).map_err(|e| e.to_string())?;
        // Serialised once per task; loop items are layered over it lazily.
        let base_ctx = context(&base);
        let items = loop_items(self.templates, task.loop_items.as_ref(), task.loop_flatten, &base_ctx)?;
        let mut units = Vec::new();
        let all_items: Vec<Json> = items.iter().flatten().cloned().collect();
        for (index, item) in items.into_iter().enumerate() {
            let ctx_value = match &item {
                None => base_ctx.clone(),
                Some(item) => {
                    let layer = loop_layer(&task.loop_var, &task.loop_extras, item, index, &all_items);
                    minijinja::value::merge_maps([context(&layer), base_ctx.clone()])
                }
            };
            let label = match (&item, &task.loop_label) {
                (Some(_), Some(l)) => {
                    self.templates.render_str(l, &ctx_value).map(|v| json_text(&v)).unwrap_or_default()
                }
                (Some(i), None) => json_text(i),
                (None, _) => String::new(),
            };
            let mut when_ok = true;
            for cond in &task.when {
                match self.templates.condition(cond, &ctx_value) {
                    Ok(true) => {}
                    Ok(false) => {
                        when_ok = false;
                        break;
                    }
                    Err(e) => return Err(format!("condition `{cond}`: {e}")),
                }
            }
            if !when_ok {
                units.push(Unit {
                    item,
                    label,
                    prepared: Prepared::Skipped,
                    probe: None,
                    probe_stdin: Vec::new(),
                    become_: None,
                    check: false,
                    delegate: None,
                    env: String::new(),
                    no_log: task.no_log,
                });
                continue;
            }
            let check = task.check_mode.unwrap_or(self.options.check);
            let become_ = self.become_for(task, &base);
            let prepared = self
                .templates
                .render_value(&Json::Object(task.args.clone()), &ctx_value)
                .map_err(|e| e.to_string())
                .and_then(|rendered| {
                    let Json::Object(map) = rendered else { unreachable!("object in, object out") };
                    let args = Args::new(task.module.spec(), map);
                    let ctx = Ctx {
                        templates: self.templates,
                        vars: ctx_value.clone(),
                        check,
                        verbosity: self.options.verbosity,
                        playbook_dir: &self.play.playbook_dir,
                        role_dir: task.role_dir.as_deref(),
                    };
                    task.module.prepare(&args, &ctx).map_err(|e| e.to_string())
                });
            let delegate = match &task.delegate_to {
                None => None,
                Some(d) => match self.templates.render_str(d, &ctx_value) {
                    Ok(v) => Some(json_text(&v)),
                    Err(e) => return Err(format!("delegate_to `{d}`: {e}")),
                },
            };
            // A delegated task escalates on the delegate: with its password
            // when its inventory gives one, as Ansible takes it.
            let mut become_ = become_;
            if let (Some(b), Some(d)) = (become_.as_mut(), delegate.as_deref()) {
                if let Some(p) = self.inventory.host_vars(d).and_then(|v| self.become_password_of(&v)) {
                    b.password = Some(p);
                }
            }
            let env = environment_lines(self.templates, &task.environment, &ctx_value)?;
            let probe = prepared.as_ref().ok().and_then(|a| a.probe()).map(|p| format!("{env}{p}"));
            let probe_stdin = prepared.as_ref().map(|a| a.probe_stdin()).unwrap_or_default();
            let prepared = match prepared {
                Ok(action) => Prepared::Ready(action),
                Err(e) => Prepared::Broken(e),
            };
            let no_log = task.no_log;
            units.push(Unit { item, label, prepared, probe, probe_stdin, become_, check, delegate, env, no_log });
        }
        Ok(units)
    }

    /// Runs the probes of `units[from..]` that have one, in as few execs as
    /// become settings allow, storing outputs by unit index.
    async fn probe_all(
        &self,
        link: &mut Link,
        units: &[(usize, usize)],
        all: &[Result<Vec<Unit>, String>],
        out: &mut HashMap<(usize, usize), ExecOutput>,
    ) -> Result<(), TransportError> {
        let wanted: Vec<&(usize, usize)> = units.iter().filter(|k| unit_at(all, **k).probe.is_some()).collect();
        let mut start = 0;
        while start < wanted.len() {
            let become_ = unit_at(all, *wanted[start]).become_.clone();
            let mut end = start;
            let delegate = unit_at(all, *wanted[start]).delegate.clone();
            while end < wanted.len()
                && unit_at(all, *wanted[end]).become_ == become_
                && unit_at(all, *wanted[end]).delegate == delegate
            {
                end += 1;
            }
            let group: Vec<(usize, usize)> = wanted[start..end].iter().map(|k| **k).collect();
            let scripts: Vec<String> =
                group.iter().map(|k| unit_at(all, *k).probe.clone().expect("filtered")).collect();
            let stdins: Vec<&[u8]> = group.iter().map(|k| unit_at(all, *k).probe_stdin.as_slice()).collect();
            // As few execs as the kernel's limit on one argument allows.
            for chunk in batch::chunks(&scripts, MAX_SCRIPT_BYTES) {
                let chunk_scripts: Vec<String> = chunk.clone().map(|i| scripts[i].clone()).collect();
                if chunk.len() == 1 && batch::quoted_len(&chunk_scripts[0]) > MAX_SCRIPT_BYTES {
                    // Too large to send at all: that task fails, the host stays.
                    let detail = format!(
                        "the probe script is {} bytes, more than the {MAX_SCRIPT_BYTES} one remote command may hold",
                        chunk_scripts[0].len()
                    );
                    out.insert(
                        group[chunk.start],
                        ExecOutput { status: 126, stdout: Vec::new(), stderr: detail.into() },
                    );
                    continue;
                }
                let (script, stdin, nonce) = batch::combine_with_stdin(&chunk_scripts, &stdins[chunk.clone()]);
                let host = link.host.clone();
                let conn = self.connection_for(link, delegate.as_deref()).await?;
                let cmd = RemoteCommand { script, stdin, become_user: become_.clone() };
                let what = || format!("probe of {} task(s)", chunk.len());
                // Each task's probe on its own, a `no_log` one hidden.
                let shown = || {
                    let parts = chunk.clone().map(|i| match unit_at(all, group[i]).no_log {
                        true => format!("# probe {}: hidden (no_log)\n", i + 1),
                        false => format!("# probe {}\n{}\n", i + 1, scripts[i].trim_end()),
                    });
                    let all_hidden = chunk.clone().all(|i| unit_at(all, group[i]).no_log);
                    (!all_hidden).then(|| parts.collect::<String>())
                };
                let output = match self.exec_traced(&conn, &cmd, &host, what, shown).await {
                    Ok(out) => out,
                    // The same outcome as in an apply: these tasks fail, the
                    // host is reachable.
                    Err(e) if e.is_become() => {
                        for i in chunk {
                            let stderr = e.to_string().into_bytes();
                            out.insert(group[i], ExecOutput { status: 1, stdout: Vec::new(), stderr });
                        }
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                let parts = batch::split(&output, &nonce, chunk_scripts.len())
                    .map_err(|detail| TransportError::Exec { host: link.host.clone(), detail })?;
                for (i, part) in chunk.zip(parts) {
                    out.insert(group[i], part);
                }
            }
            start = end;
        }
        Ok(())
    }

    /// Runs some tasks of a run (indices into `tasks`), sharing probes.
    async fn run_tasks(
        &self,
        tasks: &[Task],
        indices: &[usize],
        link: &mut Link,
        vars: &mut HostVars,
        notified: &mut BTreeSet<usize>,
        handlers: bool,
    ) -> HostEnd {
        let host = link.host.clone();
        // Keywords given as templates are decided for this host first.
        let resolved: Vec<Result<Cow<'_, Task>, String>> =
            indices.iter().map(|&i| self.resolve_flags(&tasks[i], vars)).collect();
        // Prepare every task of the run up front: they do not depend on each other.
        let mut prepared: Vec<Result<Vec<Unit>, String>> = resolved
            .iter()
            .map(|t| match t {
                Ok(task) => self.prepare(task, vars),
                Err(e) => Err(e.clone()),
            })
            .collect();
        let mut probes: HashMap<(usize, usize), ExecOutput> = HashMap::new();

        for (pos, &i) in indices.iter().enumerate() {
            if self.interrupted.load(Ordering::SeqCst) {
                return HostEnd::Interrupted;
            }
            let task: &Task = match &resolved[pos] {
                Ok(t) => t,
                Err(_) => &tasks[i],
            };
            let started = Instant::now();
            self.sink.emit(Event::TaskStart { host: host.clone(), task: task.display_name() });
            let name = self.task_name(task, vars);
            let run = self.plan_keys.lock().unwrap_or_else(|e| e.into_inner()).start(
                &self.options.saved_plan,
                &self.play.graph,
                &host,
                (self.play.index, &self.play.play.name, handlers, i),
                task,
                &name,
            );
            let n_units = match &prepared[pos] {
                Ok(units) => units.len(),
                Err(err) => {
                    let err = err.clone();
                    match self.finish_task(task, &host, &name, vars, err, started, handlers) {
                        HostEnd::Done => continue,
                        end => return end,
                    }
                }
            };
            let task_vars = vars.for_task(task, self.templates).unwrap_or_default();
            // A looped set_fact: each item sees what the items before it set.
            let accumulates = task.loop_items.is_some() && !task.module.defines(&task.args).is_empty();
            let mut results: Vec<UnitResult> = Vec::new();
            for u in 0..n_units {
                let key = (pos, u);
                if accumulates && u > 0 {
                    let mut so_far = vars.clone();
                    for r in &results {
                        so_far.runtime.extend(r.facts.clone());
                    }
                    if let (Ok(mut fresh), Ok(units)) = (self.prepare(task, &so_far), prepared[pos].as_mut()) {
                        if u < fresh.len() && u < units.len() {
                            std::mem::swap(&mut fresh[u], &mut units[u]);
                        }
                    }
                }
                if u > 0 && task.loop_extras.pause > 0.0 {
                    tokio::time::sleep(std::time::Duration::from_secs_f64(task.loop_extras.pause)).await;
                }
                let retry = match (&task.retry, &unit_at(&prepared, key).prepared) {
                    (Some(r), Prepared::Ready(_)) => match outcome::retry_budget(r, &task_vars, self.templates) {
                        Ok((runs, delay)) => Some((r, runs, delay)),
                        Err(e) => {
                            unit_at_mut(&mut prepared, key).prepared = Prepared::Broken(e);
                            None
                        }
                    },
                    _ => None,
                };
                let mut attempt = 0;
                let unit_result = loop {
                    attempt += 1;
                    let wants_probe = unit_at(&prepared, key).probe.is_some();
                    if wants_probe && !probes.contains_key(&key) {
                        // Probe this unit and every later one of the run not
                        // probed since the last change, together.
                        let rest: Vec<(usize, usize)> = (pos..indices.len())
                            .flat_map(|p| {
                                let len = prepared[p].as_ref().map_or(0, Vec::len);
                                (if p == pos { u } else { 0 }..len).map(move |x| (p, x))
                            })
                            .filter(|k| !probes.contains_key(k))
                            .collect();
                        if let Err(e) = self.probe_all(link, &rest, &prepared, &mut probes).await {
                            if !task.ignore_unreachable {
                                return self.unreachable(&host, e);
                            }
                            break Err(e);
                        }
                    }
                    let unit = unit_at_mut(&mut prepared, key);
                    let (result, applied) = match self.run_unit(link, unit, probes.get(&key), &run, u).await {
                        Ok(done) => done,
                        Err(e) if task.ignore_unreachable => break Err(e),
                        Err(e) => return self.unreachable(&host, e),
                    };
                    let (label, item) = (unit.label.clone(), unit.item.clone());
                    if applied {
                        // What this apply changed makes the probes of units
                        // touching related paths stale (all of them when it
                        // cannot say, like a command).
                        let changed = match &unit_at(&prepared, key).prepared {
                            Prepared::Ready(action) => action.paths(),
                            _ => None,
                        };
                        probes.retain(|k, probe| {
                            let Prepared::Ready(action) = &unit_at(&prepared, *k).prepared else { return false };
                            match (&changed, action.paths()) {
                                (Some(a), Some(b)) => {
                                    !action.saw_missing_parent(probe)
                                        && !a.iter().any(|x| b.iter().any(|y| crate::modules::paths_related(x, y)))
                                }
                                _ => false,
                            }
                        });
                    }
                    let mut r = outcome::evaluate(task, label, item, result, &task_vars, self.templates);
                    let Some((spec, runs, delay)) = retry else { break Ok(r) };
                    if runs <= 1 {
                        break Ok(r);
                    }
                    r.result.insert("attempts".into(), attempt.into());
                    if outcome::until_met(task, spec, &r, &task_vars, self.templates) {
                        break Ok(r);
                    }
                    if attempt >= runs {
                        // Ansible reports the retries, not the runs, when they run out.
                        r.result.insert("attempts".into(), (runs - 1).into());
                        r.failed = true;
                        r.result.insert("failed".into(), true.into());
                        break Ok(r);
                    }
                    self.sink
                        .emit(Event::Warning(format!("{host}: {name}: retrying ({} retries left)", runs - attempt)));
                    tokio::time::sleep(std::time::Duration::from_secs_f64(delay)).await;
                    // The next attempt sees the host as it is now.
                    probes.remove(&key);
                };
                match unit_result {
                    Ok(r) => results.push(r),
                    Err(e) => {
                        // `ignore_unreachable`: this task failed (ignored), the
                        // host goes on; the next task connects again.
                        if let Some(conn) = link.conn.take() {
                            link.closed_execs += conn.exec_count();
                            conn.close().await;
                        }
                        probes.clear();
                        let mut failed = UnitResult {
                            label: String::new(),
                            item: None,
                            result: ResultMap::new(),
                            changed: false,
                            failed: true,
                            skipped: false,
                            diff: None,
                            msg: Some(e.to_string()),
                            facts: Map::new(),
                        };
                        failed.result.insert("unreachable".into(), true.into());
                        failed.result.insert("msg".into(), e.to_string().into());
                        results.push(failed);
                        break;
                    }
                }
            }
            let end = self.finish_units(task, &host, &name, vars, results, started, handlers, notified);
            if end != HostEnd::Done {
                return end;
            }
        }
        HostEnd::Done
    }

    /// The task with its templated boolean keywords decided for this host
    /// (borrowed as it is when it has none).
    fn resolve_flags<'t>(&self, task: &'t Task, vars: &HostVars) -> Result<Cow<'t, Task>, String> {
        if task.templated_flags.is_empty() {
            return Ok(Cow::Borrowed(task));
        }
        let ctx = context(&vars.for_task(task, self.templates).map_err(|e| e.to_string())?);
        let mut t = task.clone();
        for (key, expr) in &task.templated_flags {
            let value = self.templates.render_str(expr, &ctx).map_err(|e| format!("`{key}: {expr}`: {e}"))?;
            let on = match &value {
                Json::String(s) => crate::modules::spec::parse_bool(s).unwrap_or(false),
                other => crate::template::truthy(other),
            };
            match key.as_str() {
                "ignore_errors" => t.ignore_errors = on,
                "no_log" => t.no_log = on,
                "check_mode" => t.check_mode = Some(on),
                "diff" => t.diff = Some(on),
                "become" => t.become_ = Some(on),
                _ => return Err(format!("`{key}` cannot be templated")),
            }
        }
        Ok(Cow::Owned(t))
    }

    /// The task's display name, rendered when it is a template.
    fn task_name(&self, task: &Task, vars: &HostVars) -> String {
        let name = task.display_name();
        if !crate::template::is_template(&name) {
            return name;
        }
        vars.for_task(task, self.templates)
            .ok()
            .and_then(|v| self.templates.render_str(&name, &context(&v)).ok())
            .map_or(name, |v| json_text(&v))
    }

    /// Compares one unit with its probe output and, unless in check mode,
    /// applies the plan. Returns the outcome and whether anything was applied
    /// (later probes of the run are then stale).
    async fn run_unit(
        &self,
        link: &mut Link,
        unit: &mut Unit,
        probe: Option<&ExecOutput>,
        run: &TaskRun<'_>,
        index: usize,
    ) -> Result<(Result<Plan, ModuleError>, bool), TransportError> {
        let action = match &mut unit.prepared {
            Prepared::Skipped => return Ok((Ok(Plan { skipped: true, ..Plan::ok() }), false)),
            Prepared::Broken(e) => return Ok((Err(ModuleError::failed(e.clone())), false)),
            Prepared::Ready(action) => action,
        };
        let plan = match action.compare(probe) {
            Ok(plan) => plan,
            Err(e) => return Ok((Err(e), false)),
        };
        if let Some(reconnect) = &plan.reconnect {
            // Checked in check mode too: the host would be this machine.
            if self.is_local(link) {
                return Ok((Err(ModuleError::failed(reconnect.refuse_local.clone())), false));
            }
            if unit.delegate.as_deref().is_some_and(|d| d != link.host) {
                let msg = "stead waits only for a task's own host to come back, not for a `delegate_to` host";
                return Ok((Err(ModuleError::failed(msg)), false));
            }
        }
        // A saved plan records this change, or refuses it when applying one.
        let gate = self.plan_keys.lock().unwrap_or_else(|e| e.into_inner()).unit(
            &self.options.saved_plan,
            &link.host,
            run,
            (index, &unit.label),
            unit.check,
            &plan,
            action.paths(),
        );
        if let Err(e) = gate {
            return Ok((Err(e), false));
        }
        if unit.check || plan.apply.is_none() {
            return Ok((Ok(plan), false));
        }
        let apply = plan.apply.clone().expect("checked above");
        let script = format!("{}{}", unit.env, apply.script);
        let cmd = RemoteCommand { script, stdin: apply.stdin, become_user: unit.become_.clone() };
        let out = {
            let host = link.host.clone();
            let conn = self.connection_for(link, unit.delegate.as_deref()).await?;
            let what = || match unit.label.as_str() {
                "" => format!("apply: {}", run.name),
                item => format!("apply: {} ({item})", run.name),
            };
            match self.exec_traced(&conn, &cmd, &host, what, || (!unit.no_log).then(|| cmd.script.clone())).await {
                Ok(out) => out,
                Err(e) if e.is_become() => return Ok((Err(ModuleError::failed(e.to_string())), false)),
                // The host may drop the connection as its reboot starts:
                // carry on and wait for it, as Ansible does.
                Err(_) if plan.reconnect.is_some() => ExecOutput { status: 0, stdout: Vec::new(), stderr: Vec::new() },
                Err(e) => return Err(e),
            }
        };
        let finished = match action.finish(plan, &out) {
            Ok(plan) => match plan.reconnect.clone() {
                Some(request) => {
                    let outcome = self.reconnect(link, &request, unit.become_.clone()).await;
                    action.reconnected(plan, &outcome)
                }
                None => Ok(plan),
            },
            Err(e) => Err(e),
        };
        Ok((finished, true))
    }

    /// Whether the host's connection is `local` (this machine).
    fn is_local(&self, link: &Link) -> bool {
        matches!(link.conn, Some(Connection::Local(_))) || super::connect::is_local(&self.inventory_vars)
    }

    /// After an apply that takes the host's connection down (a plan's
    /// [`Reconnect`]): closes the connection, waits, then connects again
    /// until the marker command's output changes, then until the test
    /// command succeeds, each stage within the request's timeout. Retries
    /// back off as Ansible's reboot does (1, 2, 4, 8, then 12 s, without
    /// its jitter). The new connection stays for the host's later tasks.
    async fn reconnect(&self, link: &mut Link, request: &Reconnect, become_: Option<Become>) -> Reconnected {
        let started = Instant::now();
        self.drop_connection(link).await;
        tokio::time::sleep(request.delay).await;
        for stage in [ReconnectStage::Marker, ReconnectStage::Test] {
            let script = match stage {
                ReconnectStage::Marker => &request.marker,
                ReconnectStage::Test => &request.test,
            };
            let cmd = RemoteCommand { script: script.clone(), stdin: Vec::new(), become_user: become_.clone() };
            let deadline = Instant::now() + request.timeout;
            let mut failures = 0;
            let mut last_error = String::new();
            loop {
                let remaining = deadline.saturating_duration_since(Instant::now());
                if remaining.is_zero() || self.interrupted.load(Ordering::SeqCst) {
                    return Reconnected::TimedOut { stage, last_error, elapsed: started.elapsed() };
                }
                match self.attempt(link, &cmd, request.connect_timeout, remaining).await {
                    Ok(out) => {
                        let text = out.stdout_text();
                        let text = text.trim();
                        match stage {
                            ReconnectStage::Marker if out.status != 0 => {
                                last_error = format!("rc {}: {}", out.status, out.stderr_text().trim());
                            }
                            ReconnectStage::Marker if text.is_empty() || text == request.previous => {
                                last_error = "boot time has not changed".into();
                            }
                            ReconnectStage::Test if out.status != 0 => {
                                last_error =
                                    format!("Test command failed: {} {}", out.stderr_text(), out.stdout_text());
                            }
                            _ => break,
                        }
                    }
                    Err(e) => {
                        last_error = e.to_string();
                        self.drop_connection(link).await;
                    }
                }
                let pause = backoff(failures);
                failures += 1;
                tokio::time::sleep(pause.min(deadline.saturating_duration_since(Instant::now()))).await;
            }
        }
        // The host is back: its next command takes the host lock again
        // (the reboot ended the old one; the waiting attempts take none).
        if let (Some(conn), Ok(vars)) = (link.conn.as_mut(), self.connection_vars(&link.host, &self.inventory_vars)) {
            self.lock_host(conn, &vars);
        }
        Reconnected::Back { elapsed: started.elapsed() }
    }

    /// One attempt of [`Self::reconnect`]: connects when needed (within
    /// `connect_timeout`), runs `cmd`, all within `remaining`.
    async fn attempt(
        &self,
        link: &mut Link,
        cmd: &RemoteCommand,
        connect_timeout: Option<Duration>,
        remaining: Duration,
    ) -> Result<ExecOutput, TransportError> {
        let timed_out =
            |what: &str| TransportError::Exec { host: link.host.clone(), detail: format!("{what} timed out") };
        if link.conn.is_none() {
            let mut vars = self.connection_vars(&link.host, &self.inventory_vars)?;
            if let Some(t) = connect_timeout {
                vars.remove("ansible_timeout");
                vars.insert("ansible_ssh_timeout".into(), Json::from(t.as_secs().to_string()));
            }
            let play_user = self.play.play.remote_user.as_deref();
            let open = super::connect::open(&link.host, &vars, play_user, self.options);
            let conn = tokio::time::timeout(remaining, open).await.map_err(|_| timed_out("connecting"))??;
            link.conn = Some(conn);
        }
        let conn = link.conn.as_ref().expect("just connected");
        tokio::time::timeout(remaining, conn.exec(cmd)).await.map_err(|_| timed_out("the command"))?
    }

    /// Closes the host's connection, if open (as `meta: reset_connection`).
    async fn drop_connection(&self, link: &mut Link) {
        if let Some(conn) = link.conn.take() {
            link.closed_execs += conn.exec_count();
            conn.close().await;
        }
    }

    /// Reports a task that could not be prepared (its arguments, `when` or
    /// `loop` failed to render): failed, registered as failed, no handlers.
    #[allow(clippy::too_many_arguments)]
    fn finish_task(
        &self,
        task: &Task,
        host: &str,
        name: &str,
        vars: &mut HostVars,
        error: String,
        started: Instant,
        handler: bool,
    ) -> HostEnd {
        let msg = if task.no_log { NO_LOG.to_owned() } else { error };
        let result = serde_json::json!({"failed": true, "changed": false, "msg": msg});
        if let Some(r) = &task.register {
            vars.runtime.insert(r.clone(), result.clone());
        }
        let record = self.record(host, name, task.module.name(), started);
        self.sink.emit(Event::TaskDone(TaskRecord {
            status: Status::Failed,
            msg: Some(msg),
            ignored: task.ignore_errors,
            rescued: !task.ignore_errors && task.rescuable,
            handler,
            tags: task.tags.clone(),
            ..record
        }));
        if task.ignore_errors {
            HostEnd::Done
        } else {
            if task.rescuable {
                set_failed_task(vars, task, name, result);
            }
            HostEnd::Failed
        }
    }

    /// Aggregates a task's unit results, registers, notifies, and emits the
    /// record.
    #[allow(clippy::too_many_arguments)]
    fn finish_units(
        &self,
        task: &Task,
        host: &str,
        name: &str,
        vars: &mut HostVars,
        results: Vec<UnitResult>,
        started: Instant,
        handler: bool,
        notified: &mut BTreeSet<usize>,
    ) -> HostEnd {
        let mut item_results = Vec::new();
        let mut items = Vec::new();
        let mut diffs = Vec::new();
        let mut msgs = Vec::new();
        let mut any_changed = false;
        let mut any_failed = false;
        let mut all_skipped = !results.is_empty();
        let mut facts = Map::new();
        let mut backups = Vec::new();
        // `set_fact` with `cacheable` marks its facts as host facts.
        let mut cacheable = false;
        // An unreachable host under `ignore_unreachable` is ignored like a failure.
        let unreachable = results.iter().any(|r| r.result.get("unreachable") == Some(&Json::Bool(true)));
        let ignore = task.ignore_errors || (unreachable && task.ignore_unreachable);
        for r in results {
            let UnitResult { label, item, mut result, changed, failed, skipped, diff, msg, facts: f } = r;
            facts.extend(f);
            cacheable |= result.remove("_ansible_facts_cacheable") == Some(Json::Bool(true));
            any_changed |= changed;
            any_failed |= failed;
            all_skipped &= skipped;
            if let Some(b) = backup_made(&result) {
                backups.push(b);
            }
            if let Some(d) = diff {
                if changed {
                    diffs.push(d.unified());
                }
            }
            let shown_msg = if failed { outcome::failure_text(&result).or(msg) } else { msg };
            if let Some(m) = shown_msg {
                msgs.push(if label.is_empty() { m } else { format!("({label}) {m}") });
            }
            if let Some(i) = item {
                result.insert(task.loop_var.clone(), i);
                items.push((label, status_of(changed, failed, skipped)));
            }
            item_results.push(Json::Object(result));
        }
        let registered = if task.loop_items.is_some() {
            let mut r = ResultMap::new();
            r.insert("results".into(), Json::Array(item_results));
            r.insert("changed".into(), any_changed.into());
            r.insert("failed".into(), any_failed.into());
            r.insert("skipped".into(), all_skipped.into());
            r.insert("msg".into(), if any_failed { "One or more items failed" } else { "All items completed" }.into());
            r
        } else {
            match item_results.pop() {
                Some(Json::Object(m)) => m,
                _ => ResultMap::new(),
            }
        };
        if !facts.is_empty() && !any_failed {
            vars.add_facts(facts, !task.module.is_local() || cacheable);
        }
        if let Some(r) = &task.register {
            vars.runtime.insert(r.clone(), Json::Object(registered.clone()));
        }
        if any_changed && !any_failed {
            // A handler may notify another handler, as in Ansible.
            let (edges, from) = if handler {
                (&self.play.graph.handler_notifies, &self.play.play.handlers)
            } else {
                (&self.play.graph.notifies, &self.play.play.tasks)
            };
            for (t, h) in edges {
                if from[*t].id == task.id {
                    notified.insert(*h);
                }
            }
        }
        let status = status_of(any_changed, any_failed, all_skipped);
        let diff = if task.diff == Some(false) || diffs.is_empty() {
            None
        } else if task.no_log {
            Some(NO_LOG.to_owned())
        } else {
            Some(diffs.join(""))
        };
        let msg = if task.no_log {
            Some(NO_LOG.to_owned())
        } else if msgs.is_empty() {
            None
        } else {
            Some(msgs.join("\n"))
        };
        let record = self.record(host, name, task.module.name(), started);
        let ignored = any_failed && ignore;
        self.sink.emit(Event::TaskDone(TaskRecord {
            status,
            changed: any_changed,
            diff,
            msg,
            ignored,
            rescued: any_failed && !ignored && task.rescuable,
            handler,
            items: if task.no_log { vec![] } else { items },
            show_diff: task.diff.unwrap_or(self.options.diff),
            show_msg: task.module.shows_message(),
            tags: task.tags.clone(),
            backups,
            ..record
        }));
        if any_failed && !ignore {
            if task.rescuable {
                let shown =
                    if task.no_log { serde_json::json!({"censored": NO_LOG}) } else { Json::Object(registered) };
                set_failed_task(vars, task, name, shown);
            }
            HostEnd::Failed
        } else {
            HostEnd::Done
        }
    }
}

/// The backup a unit's result names (`backup_file`, Ansible's key), with
/// the file it is a backup of (`dest`, or `path` for lineinfile and its kin).
fn backup_made(result: &ResultMap) -> Option<BackupMade> {
    let backup = result.get("backup_file")?.as_str().filter(|b| !b.is_empty())?;
    let path = result.get("dest").or_else(|| result.get("path"))?.as_str()?;
    Some(BackupMade { path: path.to_owned(), backup: backup.to_owned() })
}

/// The pause after the `failures`-th failed attempt of a reconnect:
/// Ansible's reboot backoff (1, 2, 4, 8, then 12 s), without its jitter.
fn backoff(failures: u32) -> Duration {
    Duration::from_secs(2u64.saturating_pow(failures).min(12))
}

/// A failure a rescue will handle sets `ansible_failed_task` and
/// `ansible_failed_result` for the rest of the play, as Ansible does.
fn set_failed_task(vars: &mut HostVars, task: &Task, name: &str, result: Json) {
    vars.runtime.insert("ansible_failed_task".into(), failed_task_value(task, name));
    vars.runtime.insert("ansible_failed_result".into(), result);
}

/// What `ansible_failed_task` holds: the task's name, action and the
/// keywords that matter there (Ansible serialises the whole task).
fn failed_task_value(task: &Task, name: &str) -> Json {
    serde_json::json!({
        "name": name,
        "action": task.module_written,
        "args": if task.no_log { Json::Object(Map::new()) } else { Json::Object(task.args.clone()) },
        "tags": task.tags,
        "when": task.when,
    })
}

/// `export` lines for a task's `environment` layers (outermost first, inner
/// names winning), every value quoted.
fn environment_lines(templates: &Templates, layers: &[Json], ctx: &minijinja::Value) -> Result<String, String> {
    let mut vars: Map<String, Json> = Map::new();
    for layer in layers {
        match templates.render_value(layer, ctx).map_err(|e| format!("environment: {e}"))? {
            Json::Object(m) => vars.extend(m),
            Json::Null => {}
            other => return Err(format!("`environment` must be a mapping, got {other}")),
        }
    }
    let mut out = String::new();
    for (name, value) in vars {
        let ok = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            return Err(format!("`{name}` is not an environment variable name"));
        }
        out.push_str(&format!("export {name}={}\n", crate::transport::quote::quote(&json_text(&value))));
    }
    Ok(out)
}

/// The items of a `loop` (rendered; flattened one level for `with_items`),
/// or one `None` without a loop.
fn loop_items(
    templates: &Templates,
    spec: Option<&Json>,
    flatten: bool,
    ctx: &minijinja::Value,
) -> Result<Vec<Option<Json>>, String> {
    let Some(spec) = spec else { return Ok(vec![None]) };
    let value = templates.render_value(spec, ctx).map_err(|e| e.to_string())?;
    let list = match value {
        Json::Array(items) => items,
        Json::Null => vec![],
        other => return Err(format!("`loop` needs a list, got {other}")),
    };
    let list: Vec<Json> = if flatten {
        list.into_iter()
            .flat_map(|i| match i {
                Json::Array(inner) => inner,
                other => vec![other],
            })
            .collect()
    } else {
        list
    };
    Ok(list.into_iter().map(Some).collect())
}

/// The variables a loop item adds: the loop variable, `ansible_loop_var`,
/// `index_var` and, with `extended`, `ansible_loop` as Ansible fills it.
fn loop_layer(loop_var: &str, extras: &LoopExtras, item: &Json, index: usize, all: &[Json]) -> Map<String, Json> {
    let mut layer = Map::new();
    layer.insert(loop_var.to_owned(), item.clone());
    layer.insert("ansible_loop_var".into(), Json::from(loop_var.to_owned()));
    if let Some(var) = &extras.index_var {
        layer.insert(var.clone(), Json::from(index));
        layer.insert("ansible_index_var".into(), Json::from(var.clone()));
    }
    if extras.extended {
        let len = all.len();
        let mut info = serde_json::json!({
            "index": index + 1,
            "index0": index,
            "revindex": len - index,
            "revindex0": len - index - 1,
            "first": index == 0,
            "last": index + 1 == len,
            "length": len,
        });
        if extras.extended_allitems {
            info["allitems"] = Json::Array(all.to_vec());
        }
        if index > 0 {
            info["previtem"] = all[index - 1].clone();
        }
        if index + 1 < len {
            info["nextitem"] = all[index + 1].clone();
        }
        layer.insert("ansible_loop".into(), info);
    }
    layer
}

fn json_text(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn unit_at(all: &[Result<Vec<Unit>, String>], (task, unit): (usize, usize)) -> &Unit {
    &all[task].as_ref().expect("only prepared tasks have units")[unit]
}

fn unit_at_mut(all: &mut [Result<Vec<Unit>, String>], (task, unit): (usize, usize)) -> &mut Unit {
    &mut all[task].as_mut().expect("only prepared tasks have units")[unit]
}

#[cfg(test)]
mod tests {
    use super::backoff;
    use std::time::Duration;

    #[test]
    fn reconnect_attempts_back_off_as_ansibles_reboot_does() {
        let secs: Vec<u64> = (0..7).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 12, 12, 12]);
        assert_eq!(backoff(u32::MAX), Duration::from_secs(12));
    }
}
