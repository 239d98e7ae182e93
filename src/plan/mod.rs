//! Planning: playbooks + inventory + options → what will run where.
//!
//! [`compile`] loads every playbook and the inventory, resolves each play's
//! hosts, builds each play's [`TaskGraph`], and runs the static checks that
//! need both (unknown host patterns, undefined variables, missing local
//! files). Nothing here contacts a host: if `compile` fails, the run stops
//! with exit status 1.

mod graph;

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value as Json;

pub use graph::{task_defines, task_expressions, task_templates, task_variables, Edge, EdgeKind, TaskGraph};

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::inventory::{Inventory, InventoryError};
use crate::playbook::{self, Play, Playbook, Task};
use crate::template::Templates;
use crate::yaml::Location;

/// Options that shape a run (the CLI fills them).
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// `--check`.
    pub check: bool,
    /// `--diff`.
    pub diff: bool,
    /// `--forks` (0 means the default, 50).
    pub forks: usize,
    /// `--extra-vars`, merged in order.
    pub extra_vars: serde_json::Map<String, Json>,
    /// `--tags`.
    pub tags: Vec<String>,
    /// `--skip-tags`.
    pub skip_tags: Vec<String>,
    /// `--limit`.
    pub limit: Option<String>,
    /// `--user`.
    pub user: Option<String>,
    /// `--become`.
    pub become_: bool,
    /// `--become-user`.
    pub become_user: Option<String>,
    /// `--accept-new-host-keys` (or `host_key_checking = False`).
    pub accept_new_host_keys: bool,
    /// `become_method` of the configuration (a play's, task's or host's wins).
    pub become_method: Option<String>,
    /// The run's become password (`-K`, `--become-password-file`,
    /// `become_password_file`); a host's `ansible_become_password` wins.
    pub become_password: Option<crate::transport::BecomePassword>,
    /// `private_key_file`: the key when `ansible_ssh_private_key_file` does not say.
    pub private_key_file: Option<PathBuf>,
    /// `remote_port`: the port when `ansible_port` does not say.
    pub remote_port: Option<u16>,
    /// `timeout`: ssh's ConnectTimeout when `ansible_ssh_timeout` does not say.
    pub connect_timeout: Option<std::time::Duration>,
    /// `ssh_args`, already split: given to ssh for every host.
    pub ssh_args: Vec<String>,
    /// `ssh_common_args`, split: when `ansible_ssh_common_args` does not say.
    pub ssh_common_args: Vec<String>,
    /// `ssh_extra_args`, split: when `ansible_ssh_extra_args` does not say.
    pub ssh_extra_args: Vec<String>,
    /// `control_path_dir`: where the ssh masters' sockets go (none: /tmp).
    pub control_path_dir: Option<PathBuf>,
    /// `gathering`: whether a play without `gather_facts:` gathers.
    pub gathering: crate::config::Gathering,
    /// `ansible_managed` (none: Ansible's default text).
    pub ansible_managed: Option<String>,
    /// `--shard K/N` (1-based K).
    pub shard: Option<(usize, usize)>,
    /// Where handlers notified but never run are kept between runs
    /// (`exec::pending`); none: not kept.
    pub pending_handlers: Option<PathBuf>,
    /// Who this run is, as a host's lock names it to another run.
    pub lock_holder: String,
    /// `--lock-wait`: seconds to wait for another run's host lock.
    pub lock_wait_secs: u64,
    /// `-v` count: 1 tells each remote command, 2 also shows its script;
    /// `debug: verbosity:` compares against it, as in Ansible.
    pub verbosity: u8,
    /// `--force-handlers`: notified handlers run even after a failure.
    pub force_handlers: bool,
    /// Where roles and collections are searched.
    pub search: crate::config::SearchPaths,
    /// Whether this run records a saved plan, or may make only the changes
    /// of one (`stead plan --out`, `stead apply PLAN`).
    pub saved_plan: crate::saved_plan::PlanGate,
}

/// Why a run could not be planned.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// Problems in playbooks (all of them, located).
    #[error("{0}")]
    Playbook(Diagnostics),
    /// The inventory could not be loaded.
    #[error("{0}")]
    Inventory(#[from] InventoryError),
}

/// One play, resolved.
pub struct PlayPlan {
    /// Its position among the run's plays (from 0).
    pub index: usize,
    /// The play.
    pub play: Arc<Play>,
    /// The folder of its playbook.
    pub playbook_dir: PathBuf,
    /// The hosts it runs on, in inventory order.
    pub hosts: Vec<String>,
    /// Its task graph.
    pub graph: TaskGraph,
    /// Which tasks the tag selection keeps (index = task index).
    pub selected: Vec<bool>,
    /// Which dynamic includes the tag selection keeps (index = include id).
    pub include_selected: Vec<bool>,
}

/// Everything needed to run.
pub struct RunPlan {
    /// Playbook paths as given.
    pub playbooks: Vec<PathBuf>,
    /// Plays in order.
    pub plays: Vec<PlayPlan>,
    /// The inventory.
    pub inventory: Arc<Inventory>,
    /// Compiled templates.
    pub templates: Arc<Templates>,
    /// The options.
    pub options: RunOptions,
    /// Non-fatal findings (duplicate keys, empty plays).
    pub warnings: Vec<String>,
}

impl RunPlan {
    /// Every host of every play, deduplicated, in first-seen order.
    pub fn all_hosts(&self) -> Vec<String> {
        let mut seen = HashSet::new();
        self.plays.iter().flat_map(|p| p.hosts.iter()).filter(|h| seen.insert((*h).clone())).cloned().collect()
    }
}

/// Loads the inventory (with `group_vars`/`host_vars` beside the playbooks).
pub fn load_inventory(sources: &[PathBuf], playbook_dirs: &[&Path]) -> Result<Inventory, InventoryError> {
    let mut inventory = Inventory::load(sources)?;
    for dir in playbook_dirs {
        inventory.add_vars_dir(dir)?;
    }
    Ok(inventory)
}

/// Loads and checks everything; contacts no host.
pub fn compile(playbook_paths: &[PathBuf], inventory: Inventory, options: RunOptions) -> Result<RunPlan, PlanError> {
    let templates = Arc::new(Templates::new());
    let mut diags = Vec::new();
    let mut warnings: Vec<String> = inventory.warnings().to_vec();
    let mut books: Vec<Playbook> = Vec::new();
    for path in playbook_paths {
        match playbook::load_with(path, &templates, &options.search) {
            Ok((book, w)) => {
                warnings.extend(w);
                books.push(book);
            }
            Err(Diagnostics(d)) => diags.extend(d),
        }
    }
    if !diags.is_empty() {
        return Err(PlanError::Playbook(Diagnostics(diags)));
    }
    let limit: Option<HashSet<String>> = match &options.limit {
        Some(pattern) => Some(inventory.select(pattern)?.into_iter().collect()),
        None => None,
    };
    let in_shard = |h: &str| options.shard.is_none_or(|(k, n)| (fnv1a(h) % n as u64) as usize == k - 1);
    let mut plays = Vec::new();
    for book in &books {
        for play in &book.plays {
            let hosts = match inventory.select(&play.hosts) {
                Ok(h) => h,
                Err(e) => {
                    diags.push(
                        Diagnostic::new(
                            &play.hosts_loc,
                            format!("host pattern `{}`: {}", play.hosts, first_line(&e.to_string())),
                        )
                        .maybe_hint(hint_of(&e.to_string())),
                    );
                    continue;
                }
            };
            let hosts: Vec<String> = hosts
                .into_iter()
                .filter(|h| limit.as_ref().is_none_or(|l| l.contains(h)))
                .filter(|h| in_shard(h))
                .collect();
            if hosts.is_empty() {
                warnings.push(format!("{}: play `{}` matches no hosts; skipping it", play.hosts_loc, play.name));
            }
            check_connection_vars(&hosts, &inventory, &mut diags);
            check_variables(play, &hosts, &inventory, &options, &templates, &mut diags);
            check_local_files(play, &book.dir, &templates, &mut diags);
            let graph = TaskGraph::build(play, &templates, &book.dir);
            let selected = play.tasks.iter().map(|t| tag_selected(t, &options)).collect();
            let include_selected = play.includes.iter().map(|i| tags_selected(&i.tags, &options)).collect();
            plays.push(PlayPlan {
                index: plays.len(),
                play: Arc::new(play.clone()),
                playbook_dir: book.dir.clone(),
                hosts,
                graph,
                selected,
                include_selected,
            });
        }
    }
    if !diags.is_empty() {
        return Err(PlanError::Playbook(Diagnostics(diags)));
    }
    Ok(RunPlan {
        playbooks: playbook_paths.to_vec(),
        plays,
        inventory: Arc::new(inventory),
        templates,
        options,
        warnings,
    })
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").to_owned()
}

fn hint_of(s: &str) -> Option<String> {
    s.lines().find_map(|l| l.trim().strip_prefix("hint:").map(|h| h.trim().to_owned()))
}

/// Whether `--tags` / `--skip-tags` keep a task (Ansible's rules for `always` and `never`).
pub fn tag_selected(task: &Task, options: &RunOptions) -> bool {
    tags_selected(&task.tags, options)
}

/// Whether something with these tags runs under `--tags` / `--skip-tags`.
pub fn tags_selected(tags: &[String], options: &RunOptions) -> bool {
    let tags: HashSet<&str> = tags.iter().map(String::as_str).collect();
    if options.skip_tags.iter().any(|s| tags.contains(s.as_str()) || (s == "all")) {
        return false;
    }
    if tags.contains("never") && !options.tags.iter().any(|t| tags.contains(t.as_str())) {
        return false;
    }
    if options.tags.is_empty() || options.tags.iter().any(|t| t == "all") {
        return true;
    }
    if tags.contains("always") {
        return true;
    }
    options.tags.iter().any(|t| {
        tags.contains(t.as_str()) || (t == "tagged" && !tags.is_empty()) || (t == "untagged" && tags.is_empty())
    })
}

/// Names that are always defined (magic variables, facts, Jinja globals).
const MAGIC: &[&str] = &[
    "inventory_hostname",
    "inventory_hostname_short",
    "group_names",
    "groups",
    "hostvars",
    "play_hosts",
    "ansible_play_hosts",
    "ansible_play_hosts_all",
    "ansible_play_batch",
    "ansible_check_mode",
    "ansible_diff_mode",
    "ansible_managed",
    "ansible_facts",
    "omit",
    "playbook_dir",
    "inventory_dir",
    "inventory_file",
    "role_path",
    "role_name",
    "ansible_version",
    "ansible_run_tags",
    "ansible_skip_tags",
    "ansible_loop",
    "ansible_loop_var",
    "loop",
    "lookup",
    "query",
    "q",
    "range",
    "dict",
    "namespace",
    "lipsum",
    "cycler",
    "joiner",
    "now",
    "true",
    "false",
    "none",
    "True",
    "False",
    "None",
    "environment",
];

/// Connection variables stead cannot honour, or that are invalid (a port
/// that is no port), for every host a play runs on.
fn check_connection_vars(hosts: &[String], inventory: &Inventory, diags: &mut Vec<Diagnostic>) {
    for host in hosts {
        let Some(mut vars) = inventory.host_vars(host) else { continue };
        crate::inventory::connection::normalize(&mut vars);
        let file = vars.get("inventory_file").and_then(Json::as_str).unwrap_or("inventory").to_owned();
        for problem in crate::inventory::connection::problems(&vars) {
            let message = format!("host `{host}`: {problem}");
            if !diags.iter().any(|d| d.message == message) {
                diags.push(Diagnostic::new(&Location::synthetic(&file), message));
            }
        }
    }
}

/// Undefined variables that no host, play, task or earlier task could define.
fn check_variables(
    play: &Play,
    hosts: &[String],
    inventory: &Inventory,
    options: &RunOptions,
    templates: &Templates,
    diags: &mut Vec<Diagnostic>,
) {
    let mut known: BTreeSet<String> = MAGIC.iter().map(|s| (*s).to_owned()).collect();
    known.extend(play.vars.keys().cloned());
    if let Some(Json::Object(d)) = play.vars.get(playbook::ROLE_DEFAULTS_KEY) {
        known.extend(d.keys().cloned());
    }
    known.extend(options.extra_vars.keys().cloned());
    // A variable defined for at least one host may be used (the run fails on the others).
    for host in hosts {
        if let Some(vars) = inventory.host_vars(host) {
            known.extend(vars.keys().cloned());
        }
    }
    for task in play.tasks.iter().chain(&play.handlers) {
        known.extend(task_defines(task).into_iter().map(|(n, _)| n));
    }
    for task in play.tasks.iter().chain(&play.handlers) {
        // A task guarded by `when: x is defined` (or never run: `when:
        // false`) may use what its guard tests: checked when it renders.
        if task.when.iter().chain(&task.include_guards).any(|c| guards_undefined(c) || c.trim() == "false") {
            continue;
        }
        let mut local = known.clone();
        local.insert(task.loop_var.clone());
        local.extend(task.scope_vars.iter().cloned());
        local.extend(task.vars.keys().cloned());
        let mut reported = HashSet::new();
        let check = |src: &str,
                     vars: HashSet<String>,
                     loc: &Location,
                     diags: &mut Vec<Diagnostic>,
                     reported: &mut HashSet<String>| {
            if guards_undefined(src) {
                return;
            }
            let mut missing: Vec<_> =
                vars.into_iter().filter(|v| !local.contains(v) && !v.starts_with("ansible_")).collect();
            missing.sort();
            for name in missing {
                if reported.insert(name.clone()) {
                    let candidates: Vec<&str> = local.iter().map(String::as_str).collect();
                    let hint = crate::suggest::closest(&name, candidates.iter().copied())
                        .map(|s| format!("did you mean `{s}`?"))
                        .unwrap_or_else(|| "define it in vars, group_vars/host_vars, or with -e".into());
                    diags.push(
                        Diagnostic::new(loc, format!("undefined variable `{name}` in task `{}`", task.display_name()))
                            .hint(hint),
                    );
                }
            }
        };
        for (arg, value) in &task.args {
            for src in graph::strings_in(value) {
                check(&src, templates.variables(&src), task.arg_loc(arg), diags, &mut reported);
            }
        }
        for src in task_templates(task) {
            check(&src, templates.variables(&src), &task.module_loc, diags, &mut reported);
        }
        let own = if task.module.tolerates_undefined() { task.module.expressions(&task.args) } else { Vec::new() };
        for expr in graph::task_expressions(task).into_iter().filter(|e| !own.contains(e)) {
            check(&expr, templates.expression_variables(&expr), &task.loc, diags, &mut reported);
        }
    }
}

/// Templates that test for definedness or supply a default are not checked statically.
fn guards_undefined(src: &str) -> bool {
    let compact: String = src.split_whitespace().collect::<Vec<_>>().join(" ");
    ["is defined", "is not defined", "is undefined", "default(", "|d(", "| d(", "omit", "mandatory"]
        .iter()
        .any(|g| compact.contains(g))
}

/// Literal `src:` files of copy/template must exist before any host is contacted.
fn check_local_files(play: &Play, playbook_dir: &Path, templates: &Templates, diags: &mut Vec<Diagnostic>) {
    for task in play.tasks.iter().chain(&play.handlers) {
        let Some(file) = task.module.local_file() else { continue };
        let subdir = file.subdir;
        let Some(Json::String(src)) = task.args.get(file.arg) else {
            continue;
        };
        if crate::template::is_template(src) {
            continue;
        }
        match playbook::find_local_file(playbook_dir, task.role_dir.as_deref(), src, subdir) {
            None => diags.push(
                Diagnostic::new(task.arg_loc(file.arg), format!("{} source `{src}` not found", task.module.name()))
                    .hint(format!("looked in {}/{subdir}/ and {}/", playbook_dir.display(), playbook_dir.display())),
            ),
            Some(path) if file.template => {
                if let Err(d) = check_template_file(&path, templates) {
                    diags.push(d);
                }
            }
            Some(path) => {
                // A vaulted source that will not open stops the run here,
                // before any host is contacted.
                let decrypt = !matches!(task.args.get("decrypt"), Some(Json::Bool(false)));
                if decrypt {
                    if let Err(d) = check_vaulted_file(&path) {
                        diags.push(d);
                    }
                }
            }
        }
    }
}

/// A vault-encrypted source file opens with the given passwords.
fn check_vaulted_file(path: &Path) -> Result<(), Diagnostic> {
    let mut head = [0u8; 16];
    let n = std::fs::File::open(path).and_then(|mut f| std::io::Read::read(&mut f, &mut head)).unwrap_or(0);
    if !crate::vault::is_encrypted(&head[..n]) {
        return Ok(());
    }
    crate::vault::read_local(path).map(|_| ()).map_err(|e| vault_file_diag(path, e))
}

fn vault_file_diag(path: &Path, e: crate::vault::LocalFileError) -> Diagnostic {
    let loc = Location { file: Arc::new(path.to_path_buf()), line: 1, column: 1 };
    match e {
        crate::vault::LocalFileError::Vault(v) => {
            Diagnostic::new(&loc, v.to_string()).maybe_hint(v.hint().map(str::to_owned))
        }
        crate::vault::LocalFileError::Io(e) => {
            Diagnostic::new(&Location::synthetic(&path.display().to_string()), format!("cannot read: {e}"))
        }
    }
}

/// Compiles a template file once, reporting a syntax error at its line.
fn check_template_file(path: &Path, templates: &Templates) -> Result<(), Diagnostic> {
    let (bytes, _) = crate::vault::read_local(path).map_err(|e| vault_file_diag(path, e))?;
    let text = String::from_utf8(bytes).map_err(|_| {
        Diagnostic::new(&Location::synthetic(&path.display().to_string()), "cannot read template: it is not UTF-8 text")
    })?;
    templates.compile_file(&path.display().to_string(), &text).map_err(|(line, msg)| {
        let loc = Location { file: Arc::new(path.to_path_buf()), line: line.max(1), column: 1 };
        Diagnostic::new(&loc, format!("template syntax error: {msg}"))
    })
}

/// A stable hash for sharding (FNV-1a, 64-bit).
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// A placeholder location for values from the command line.
pub fn cli_location() -> Location {
    Location::synthetic("command line")
}
