//! The typed playbook: what the loader produces and the planner consumes.

use std::path::PathBuf;

use serde_json::Value as Json;

use crate::modules::Module;
use crate::yaml::Location;

/// A playbook file after loading and validation.
#[derive(Clone)]
pub struct Playbook {
    /// The file.
    pub path: PathBuf,
    /// Its folder (where `templates/`, `files/`, `group_vars/`, `roles/` are looked up).
    pub dir: PathBuf,
    /// Plays in order.
    pub plays: Vec<Play>,
}

/// One play.
#[derive(Clone)]
pub struct Play {
    /// `name:` (or the host pattern when absent).
    pub name: String,
    /// `hosts:` pattern.
    pub hosts: String,
    /// Where `hosts:` is written.
    pub hosts_loc: Location,
    /// Play variables (`vars:` then `vars_files:`, in order; values may be templated).
    pub vars: serde_json::Map<String, Json>,
    /// `become:`.
    pub become_: Option<bool>,
    /// `become_user:`.
    pub become_user: Option<String>,
    /// `become_method:`.
    pub become_method: Option<String>,
    /// `remote_user:`.
    pub remote_user: Option<String>,
    /// `gather_facts:` (default true).
    pub gather_facts: bool,
    /// Whether the play says `gather_facts:` (else `gathering` decides).
    pub gather_facts_given: bool,
    /// `gather_facts:` as a template, decided per host.
    pub gather_facts_template: Option<String>,
    /// `strategy:` (default linear).
    pub strategy: Strategy,
    /// `serial:` batch sizes, as written (numbers or `"N%"`); empty: one batch.
    pub serial: Vec<Json>,
    /// `order:` of the hosts.
    pub order: HostOrder,
    /// `any_errors_fatal:`: a failure on one host ends the play for all.
    pub any_errors_fatal: bool,
    /// `max_fail_percentage:` of a batch before the play ends for all.
    pub max_fail_percentage: Option<f64>,
    /// `force_handlers:` notified handlers run even after a failure.
    pub force_handlers: bool,
    /// `pre_tasks` + role tasks + `tasks` + `post_tasks`, imports inlined,
    /// blocks flattened in written order (body, rescue, always).
    pub tasks: Vec<Task>,
    /// The same tasks as Ansible nests them: the tree the executor walks
    /// (indices into `tasks`).
    pub steps: Vec<Step>,
    /// The dynamic includes of the tree, by `Step::Include::id`.
    pub includes: Vec<Include>,
    /// Handlers (play's and roles').
    pub handlers: Vec<Task>,
    /// Play-level tags, inherited by every task.
    pub tags: Vec<String>,
    /// Where the play starts.
    pub loc: Location,
}

/// How the hosts of a play move through it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Strategy {
    /// Every host finishes a step before any host starts the next.
    #[default]
    Linear,
    /// Each host at its own pace.
    Free,
}

/// `order:` of a play's hosts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HostOrder {
    /// As the inventory lists them.
    #[default]
    Inventory,
    /// The inventory's order reversed.
    ReverseInventory,
    /// By name.
    Sorted,
    /// By name, reversed.
    ReverseSorted,
    /// At random.
    Shuffle,
}

/// One step of a play: a task, or a block with its rescue and always parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// A task, by index into [`Play::tasks`].
    Task(usize),
    /// `block` / `rescue` / `always`.
    Block(Block),
    /// `include_tasks` / `include_role`: decided per host when reached
    /// (its `when`, `loop` and `vars`, by index into [`Play::includes`]),
    /// then its tasks run once per item.
    Include {
        /// Index into [`Play::includes`].
        id: usize,
        /// The included tasks: one body per file of [`Include::files`].
        bodies: Vec<Vec<Step>>,
    },
}

/// What a dynamic include decides per host. Its keywords apply to the
/// include itself, not to the included tasks, as in Ansible; only `vars`
/// (and the loop variable) reach them.
#[derive(Clone, Debug)]
pub struct Include {
    /// Shown as the task name.
    pub name: String,
    /// `include_tasks` or `include_role`.
    pub module: &'static str,
    /// The file name as written, when it is a template (`"{{ os }}.yml"`):
    /// rendered per host and item, it picks one of `files`.
    pub file_template: Option<String>,
    /// The task files found for it at load time, one per body.
    pub files: Vec<String>,
    /// Files a templated name matched that do not load as task lists (a
    /// playbook beside them, a vars file): named here with their first
    /// error, which a host that picks one of them fails with.
    pub unusable: Vec<(String, String)>,
    /// `when:` of the include (per item).
    pub when: Vec<String>,
    /// `tags:` of the include (with inherited ones): select the include.
    pub tags: Vec<String>,
    /// `vars:`: parameters of the included tasks (templated per item).
    pub vars: serde_json::Map<String, Json>,
    /// `loop:` / `with_items:` / `with_list:`.
    pub loop_items: Option<Json>,
    /// Flatten one level (`with_items`).
    pub loop_flatten: bool,
    /// `loop_control.loop_var`.
    pub loop_var: String,
    /// `loop_control.label`.
    pub loop_label: Option<String>,
    /// `loop_control` extras.
    pub loop_extras: LoopExtras,
    /// `ignore_errors:` (a failure of the include itself).
    pub ignore_errors: bool,
    /// `no_log:` (of the include's own result).
    pub no_log: bool,
    /// Where it is written.
    pub loc: Location,
}

/// A block: its keywords are already inherited by its tasks at load time;
/// what remains is the control flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    /// `name:` of the block, for messages.
    pub name: Option<String>,
    /// The tasks that run first.
    pub body: Vec<Step>,
    /// Run when a task of `body` fails; success clears the failure.
    pub rescue: Vec<Step>,
    /// Run after `body` (and `rescue`) whatever happened.
    pub always: Vec<Step>,
}

/// `until` / `retries` / `delay` of a task (values may be templated).
#[derive(Clone, Debug)]
pub struct Retry {
    /// Conditions that end the retries (all must hold); empty: "not failed".
    pub until: Vec<String>,
    /// Retries after the first attempt (Ansible's default with `until`: 3).
    pub retries: Json,
    /// Seconds between attempts (default 5).
    pub delay: Json,
}

/// `loop_control` beyond the loop variable and label.
#[derive(Clone, Debug, Default)]
pub struct LoopExtras {
    /// `index_var`: the 0-based index under this name.
    pub index_var: Option<String>,
    /// `extended`: `ansible_loop` with index, first, last, length, ...
    pub extended: bool,
    /// `extended_allitems` (default true): `ansible_loop.allitems` too.
    pub extended_allitems: bool,
    /// `pause`: seconds between items.
    pub pause: f64,
}

/// One task (or handler) with validated keywords and arguments.
#[derive(Clone)]
pub struct Task {
    /// Position in the play (tasks then handlers), unique within the play.
    pub id: usize,
    /// `name:`.
    pub name: Option<String>,
    /// The module.
    pub module: &'static dyn Module,
    /// The module name as written (`ansible.builtin.copy`).
    pub module_written: String,
    /// Arguments as written (values may be templated); aliases not yet resolved.
    pub args: serde_json::Map<String, Json>,
    /// `when:` conditions (all must hold).
    pub when: Vec<String>,
    /// `loop:` / `with_items:` (templated value).
    pub loop_items: Option<Json>,
    /// Flatten the list one level before looping (`with_items`).
    pub loop_flatten: bool,
    /// `loop_control.loop_var` (default `item`).
    pub loop_var: String,
    /// `loop_control.label`.
    pub loop_label: Option<String>,
    /// `register:`.
    pub register: Option<String>,
    /// `notify:` handler names or topics.
    pub notify: Vec<String>,
    /// Handler `listen:` topics.
    pub listen: Vec<String>,
    /// `become:` (None: inherit the play's).
    pub become_: Option<bool>,
    /// `become_user:`.
    pub become_user: Option<String>,
    /// `become_method:` (None: the play's, then `ansible_become_method`).
    pub become_method: Option<String>,
    /// `ignore_errors:`.
    pub ignore_errors: bool,
    /// `ignore_unreachable:`: a lost connection fails this task (ignored),
    /// and the host goes on.
    pub ignore_unreachable: bool,
    /// `tags:` (with the play's and import's).
    pub tags: Vec<String>,
    /// `no_log:`.
    pub no_log: bool,
    /// `changed_when:` conditions.
    pub changed_when: Option<Vec<String>>,
    /// `failed_when:` conditions.
    pub failed_when: Option<Vec<String>>,
    /// `check_mode:` override.
    pub check_mode: Option<bool>,
    /// `vars:` of the task.
    pub vars: serde_json::Map<String, Json>,
    /// `until` / `retries` / `delay`, when retried.
    pub retry: Option<Retry>,
    /// `loop_control` extras.
    pub loop_extras: LoopExtras,
    /// `diff:` override (None: the run's `--diff`).
    pub diff: Option<bool>,
    /// Boolean keywords given as templates (`ignore_errors`, `no_log`,
    /// `check_mode`, `diff`, `become`): decided per host before the task
    /// runs, overriding the fields above.
    pub templated_flags: Vec<(String, String)>,
    /// `environment:` layers, outermost first (play, role, block, task):
    /// mappings or templates of mappings, rendered per host and item.
    pub environment: Vec<Json>,
    /// `run_once:`: runs on the first host of the batch, its result given
    /// to every host.
    pub run_once: bool,
    /// `delegate_to:` (templated): the host whose connection runs the task.
    pub delegate_to: Option<String>,
    /// Variables that enclosing dynamic includes define for this task (their
    /// loop variables and `vars`), for the static undefined-variable check.
    pub scope_vars: Vec<String>,
    /// The `when` of enclosing dynamic includes: decided at the include, not
    /// per task; the static check reads them as guards.
    pub include_guards: Vec<String>,
    /// Inside the body of a block that has a `rescue` (at any depth): a
    /// failure here is counted `rescued`, not `failed`, as Ansible counts it.
    pub rescuable: bool,
    /// Directory of the role the task came from, for `files/` and `templates/` lookups.
    pub role_dir: Option<PathBuf>,
    /// Where the task starts.
    pub loc: Location,
    /// Where the module key is written.
    pub module_loc: Location,
    /// Where each argument's value is written (by name as written).
    pub arg_locs: Vec<(String, Location)>,
}

impl Task {
    /// Where an argument is written, else where the module is.
    pub fn arg_loc(&self, name: &str) -> &Location {
        self.arg_locs.iter().find(|(n, _)| n == name).map_or(&self.module_loc, |(_, l)| l)
    }
}

impl Task {
    /// What this task asks of the executor when it is a `meta` task.
    pub fn control(&self) -> Option<crate::modules::Control> {
        self.module.control(&self.args)
    }

    /// The name shown in output: `name:`, else `module` and its free-form text.
    pub fn display_name(&self) -> String {
        match &self.name {
            Some(n) => n.clone(),
            None => self.module.name().to_owned(),
        }
    }
}
