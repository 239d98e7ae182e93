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
    /// `pre_tasks` + role tasks + `tasks` + `post_tasks`, imports inlined.
    pub tasks: Vec<Task>,
    /// Handlers (play's and roles').
    pub handlers: Vec<Task>,
    /// Play-level tags, inherited by every task.
    pub tags: Vec<String>,
    /// Where the play starts.
    pub loc: Location,
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
    /// `ignore_errors:`.
    pub ignore_errors: bool,
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
    /// `run_once:`.
    pub run_once: bool,
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
    /// The name shown in output: `name:`, else `module` and its free-form text.
    pub fn display_name(&self) -> String {
        match &self.name {
            Some(n) => n.clone(),
            None => self.module.name().to_owned(),
        }
    }
}
