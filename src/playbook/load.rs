//! YAML nodes → a validated [`Playbook`].
//!
//! Everything that can be checked without a host is checked here, and all
//! problems are reported together: unknown keywords and modules (with "did
//! you mean"), unknown or mistyped arguments, Jinja syntax, missing template
//! files, and the classic YAML traps (`when: {{ x }}` read as a mapping,
//! `mode: 644` read as decimal).

use std::path::{Path, PathBuf};

use serde_json::Value as Json;

use super::ast::{Block, HostOrder, Include, LoopExtras, Play, Playbook, Retry, Step, Strategy, Task};
use super::keywords::{self, Place, NOT_IMPLEMENTED_HINT};
use super::kv;
use crate::config::SearchPaths;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::modules::{self, spec};
use crate::suggest::closest;
use crate::template::{is_template, Templates};
use crate::yaml::{self, Key, Location, Node, NodeKind};

/// Keywords a task include takes besides [`Place::Include`]'s: its own name.
const INCLUDE_KEYS: &[&str] =
    &["import_tasks", "include_tasks", "ansible.builtin.import_tasks", "ansible.builtin.include_tasks"];

/// Keywords that include a role.
const ROLE_INCLUDE_KEYS: &[&str] =
    &["import_role", "include_role", "ansible.builtin.import_role", "ansible.builtin.include_role"];

/// Which files of a role to read (`tasks_from` and friends); `None`: main.
#[derive(Default)]
struct RoleFiles {
    tasks: Option<String>,
    vars: Option<String>,
    defaults: Option<String>,
    handlers: Option<String>,
}

/// What a play, role entry, block or import hands down to the tasks inside
/// it, as Ansible's keyword inheritance does: the innermost value wins,
/// conditions and tags accumulate, variables layer under the task's own.
#[derive(Clone, Default)]
struct Inherited {
    tags: Vec<String>,
    when: Vec<String>,
    vars: serde_json::Map<String, Json>,
    become_: Option<bool>,
    become_user: Option<String>,
    become_method: Option<String>,
    ignore_errors: Option<bool>,
    no_log: Option<bool>,
    check_mode: Option<bool>,
    diff: Option<bool>,
    notify: Vec<String>,
    run_once: Option<bool>,
    ignore_unreachable: Option<bool>,
    delegate_to: Option<String>,
    /// Names that enclosing dynamic includes define (loop var, vars).
    scope_vars: Vec<String>,
    /// Conditions of enclosing dynamic includes (for the static check).
    include_guards: Vec<String>,
    /// Boolean keywords given as templates, decided per host at run time.
    templated: Vec<(String, String)>,
    /// `environment:` layers of the enclosing levels.
    environment: Vec<Json>,
    /// Inside the body of a block with a rescue.
    rescuable: bool,
}

/// A loaded task list before it is split into the flat task list and the
/// step tree.
enum Item {
    Task(Box<Task>),
    Block {
        name: Option<String>,
        body: Vec<Item>,
        rescue: Vec<Item>,
        always: Vec<Item>,
        loc: Location,
    },
    /// A dynamic include: one body per task file it may include.
    Include(Box<Include>, Vec<Vec<Item>>),
}

/// Moves the tasks of `items` into `tasks` (in written order) and the
/// dynamic includes into `includes`, and returns the tree of steps over
/// their indices.
fn flatten(items: Vec<Item>, tasks: &mut Vec<Task>, includes: &mut Vec<Include>) -> Vec<Step> {
    items
        .into_iter()
        .map(|item| match item {
            Item::Task(t) => {
                tasks.push(*t);
                Step::Task(tasks.len() - 1)
            }
            Item::Block { name, body, rescue, always, .. } => {
                let body = flatten(body, tasks, includes);
                let rescue = flatten(rescue, tasks, includes);
                let always = flatten(always, tasks, includes);
                Step::Block(Block { name, body, rescue, always })
            }
            Item::Include(include, bodies) => {
                includes.push(*include);
                let id = includes.len() - 1;
                let bodies = bodies.into_iter().map(|b| flatten(b, tasks, includes)).collect();
                Step::Include { id, bodies }
            }
        })
        .collect()
}

/// Loads and validates a playbook file, finding roles beside it only.
pub fn load(path: &Path, templates: &Templates) -> Result<(Playbook, Vec<String>), Diagnostics> {
    load_with(path, templates, &SearchPaths::default())
}

/// Loads and validates a playbook file. Warnings (duplicate keys) are
/// returned beside it.
pub fn load_with(
    path: &Path,
    templates: &Templates,
    search: &SearchPaths,
) -> Result<(Playbook, Vec<String>), Diagnostics> {
    let dir = path.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let mut loader = Loader {
        templates,
        diags: Vec::new(),
        warnings: Vec::new(),
        next_id: 0,
        in_handlers: false,
        include_chain: Vec::new(),
        search: search.clone(),
        playbook_dir: dir.clone(),
        role_vars: serde_json::Map::new(),
        role_defaults: serde_json::Map::new(),
        role_handlers: Vec::new(),
    };
    let plays = loader.playbook_file(path, 0);
    if loader.diags.is_empty() {
        Ok((Playbook { path: path.to_path_buf(), dir, plays }, loader.warnings))
    } else {
        Err(Diagnostics(loader.diags))
    }
}

struct Loader<'t> {
    templates: &'t Templates,
    diags: Vec<Diagnostic>,
    warnings: Vec<String>,
    next_id: usize,
    /// Loading a play's `handlers:` (where `listen` is allowed).
    in_handlers: bool,
    /// The task files being imported, outermost first (cycle detection).
    include_chain: Vec<PathBuf>,
    /// Where roles and collections are searched.
    search: SearchPaths,
    /// The playbook's folder.
    playbook_dir: PathBuf,
    /// What the roles of the play being loaded bring: vars (above play
    /// vars), defaults (below everything), handlers.
    role_vars: serde_json::Map<String, Json>,
    role_defaults: serde_json::Map<String, Json>,
    role_handlers: Vec<Item>,
}

fn yaml_diag(err: &yaml::YamlError) -> Diagnostic {
    match err {
        yaml::YamlError::Read { path, source } => {
            Diagnostic::new(&Location::synthetic(&path.display().to_string()), format!("cannot read file: {source}"))
        }
        yaml::YamlError::Syntax { path, line, column, detail } => {
            let loc = Location { file: std::sync::Arc::new(path.clone()), line: *line, column: *column };
            let first = detail.lines().next().unwrap_or("").trim_start_matches("error: ");
            Diagnostic::new(&loc, format!("YAML syntax error: {first}"))
                .hint("check the indentation and quoting on this line and the one above")
        }
        yaml::YamlError::Vault { path, line, column, error } => {
            let loc = Location { file: std::sync::Arc::new(path.clone()), line: *line, column: *column };
            Diagnostic::new(&loc, error.to_string()).maybe_hint(error.hint().map(str::to_owned))
        }
    }
}

impl Loader<'_> {
    fn err(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    fn read(&mut self, path: &Path) -> Option<Node> {
        match yaml::load_file(path) {
            Ok(loaded) => {
                self.warnings.extend(loaded.warnings);
                Some(loaded.root)
            }
            Err(e) => {
                self.err(yaml_diag(&e));
                None
            }
        }
    }

    fn playbook_file(&mut self, path: &Path, depth: usize) -> Vec<Play> {
        let Some(root) = self.read(path) else {
            return Vec::new();
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        let Some(items) = root.as_seq() else {
            self.err(
                Diagnostic::new(&root.loc, format!("a playbook is a list of plays, not {}", root.type_name()))
                    .hint("start each play with `- hosts: ...`"),
            );
            return Vec::new();
        };
        let mut plays = Vec::new();
        for item in items {
            if let Some(target) = item.get("import_playbook").or_else(|| item.get("ansible.builtin.import_playbook")) {
                match target.as_str() {
                    Some(p) if depth < 16 => plays.extend(self.playbook_file(&dir.join(p), depth + 1)),
                    _ => self.err(Diagnostic::new(&target.loc, "import_playbook takes a file name")),
                }
                continue;
            }
            if let Some(play) = self.play(item, dir) {
                plays.push(play);
            }
        }
        plays
    }

    /// Checks every key of `node` against the keywords of `place`: refuses
    /// Ansible keywords stead does not implement and unknown ones. `also`
    /// are extra keys handled by the caller.
    fn check_keys(&mut self, node: &Node, place: Place, also: &[&str]) {
        for (k, _) in node.as_map().unwrap_or_default() {
            let key = k.name.as_str();
            if place.implements(key) || also.contains(&key) {
                continue;
            }
            if place.is_ansible(key) {
                self.err(Diagnostic::new(&k.loc, keywords::not_implemented(place, key)).hint(NOT_IMPLEMENTED_HINT));
                continue;
            }
            let candidates = place.implemented().into_iter().chain(also.iter().copied());
            let hint = closest(key, candidates).map(|s| format!("did you mean `{s}`?"));
            let hint = hint.or_else(|| {
                (place == Place::Play && modules::lookup(key).is_some())
                    .then(|| "module calls belong in `tasks:`, not directly in the play".into())
            });
            self.err(Diagnostic::new(&k.loc, format!("unknown {} keyword `{key}`", place.noun())).maybe_hint(hint));
        }
    }

    /// `collections:` may only name collections whose modules stead has.
    fn check_collections(&mut self, node: Option<&Node>) {
        let Some(node) = node else { return };
        for (name, loc) in self.string_list_nodes(node) {
            if !keywords::KNOWN_COLLECTIONS.contains(&name.as_str()) {
                self.err(
                    Diagnostic::new(&loc, format!("collection `{name}` is not available in stead"))
                        .hint(format!("stead resolves modules of {}", keywords::KNOWN_COLLECTIONS.join(", "))),
                );
            }
        }
    }

    /// A `become_method` value: one the transport implements, or a template.
    fn become_method(&mut self, node: Option<&Node>) -> Option<String> {
        let node = node?;
        let text = self.scalar_text(node)?;
        if !is_template(&text) && !keywords::BECOME_METHODS.contains(&text.as_str()) {
            self.err(
                Diagnostic::new(&node.loc, format!("unknown or unsupported become_method `{text}`"))
                    .hint(format!("stead escalates with {}", keywords::BECOME_METHODS.join(" or "))),
            );
            return None;
        }
        Some(text)
    }

    /// The inheritable keywords of a play, role entry, block or import,
    /// layered over what the enclosing level hands down.
    fn inherit(&mut self, node: &Node, outer: &Inherited) -> Inherited {
        let mut inh = outer.clone();
        inh.tags.extend(self.string_list(node.get("tags")));
        inh.when.extend(self.conditions(node.get("when")));
        inh.vars.extend(self.vars_map(node.get("vars")));
        let mut t = std::mem::take(&mut inh.templated);
        inh.become_ = self.flag_at(node, "become", &mut t).or(outer.become_);
        inh.become_user =
            node.get("become_user").and_then(|n| self.scalar_text(n)).or_else(|| outer.become_user.clone());
        inh.become_method = self.become_method(node.get("become_method")).or_else(|| outer.become_method.clone());
        inh.ignore_errors = self.flag_at(node, "ignore_errors", &mut t).or(outer.ignore_errors);
        inh.no_log = self.flag_at(node, "no_log", &mut t).or(outer.no_log);
        inh.check_mode = self.flag_at(node, "check_mode", &mut t).or(outer.check_mode);
        inh.diff = self.flag_at(node, "diff", &mut t).or(outer.diff);
        inh.templated = t;
        inh.environment.extend(self.environment(node));
        inh.notify.extend(self.string_list(node.get("notify")));
        let flag = |l: &mut Self, key: &str| node.get(key).and_then(|n| l.bool_value(n));
        inh.run_once = flag(self, "run_once").or(outer.run_once);
        inh.ignore_unreachable = flag(self, "ignore_unreachable").or(outer.ignore_unreachable);
        inh.delegate_to =
            node.get("delegate_to").and_then(|n| self.scalar_text(n)).or_else(|| outer.delegate_to.clone());
        self.check_collections(node.get("collections"));
        inh
    }

    fn play(&mut self, node: &Node, dir: &Path) -> Option<Play> {
        if node.as_map().is_none() {
            self.err(Diagnostic::new(&node.loc, format!("a play is a mapping, not {}", node.type_name())));
            return None;
        }
        self.next_id = 0;
        self.check_keys(node, Place::Play, &[]);
        let Some(hosts_node) = node.get("hosts") else {
            self.err(Diagnostic::new(&node.loc, "this play has no `hosts:`").hint("add `hosts: all` or a group name"));
            return None;
        };
        let hosts = match &hosts_node.kind {
            NodeKind::Str(s) => s.clone(),
            NodeKind::Seq(items) => items.iter().filter_map(|i| self.scalar_text(i)).collect::<Vec<_>>().join(","),
            _ => {
                self.err(Diagnostic::new(&hosts_node.loc, "`hosts` must be a pattern string or a list"));
                String::new()
            }
        };
        let mut strategy = Strategy::Linear;
        if let Some(n) = node.get("strategy") {
            match self.scalar_text(n).as_deref() {
                Some("linear") => {}
                Some("free") => strategy = Strategy::Free,
                Some(s) => self.err(
                    Diagnostic::new(&n.loc, format!("unknown or unsupported strategy `{s}`"))
                        .hint(format!("stead runs {}", keywords::STRATEGIES.join(" or "))),
                ),
                None => {}
            }
        }
        let order = match node.get("order") {
            None => HostOrder::Inventory,
            Some(n) => match self.scalar_text(n).as_deref() {
                Some("inventory") => HostOrder::Inventory,
                Some("reverse_inventory") => HostOrder::ReverseInventory,
                Some("sorted") => HostOrder::Sorted,
                Some("reverse_sorted") => HostOrder::ReverseSorted,
                Some("shuffle") => HostOrder::Shuffle,
                other => {
                    self.err(
                        Diagnostic::new(&n.loc, format!("unknown order `{}`", other.unwrap_or_default()))
                            .hint("inventory, reverse_inventory, sorted, reverse_sorted or shuffle"),
                    );
                    HostOrder::Inventory
                }
            },
        };
        let serial = self.serial(node.get("serial"));
        let max_fail_percentage = node.get("max_fail_percentage").and_then(|n| match &n.kind {
            NodeKind::Int(i) if (0..=100).contains(i) => Some(*i as f64),
            NodeKind::Float(f) if (0.0..=100.0).contains(f) => Some(*f),
            _ => {
                self.err(Diagnostic::new(&n.loc, "`max_fail_percentage` takes a number from 0 to 100"));
                None
            }
        });
        let any_errors_fatal = node.get("any_errors_fatal").and_then(|n| self.bool_value(n)).unwrap_or(false);
        let force_handlers = node.get("force_handlers").and_then(|n| self.bool_value(n)).unwrap_or(false);
        // A play hands its tags and these keywords down to every task; its
        // become settings and vars have their own levels (see exec).
        let mut templated = Vec::new();
        let inh = Inherited {
            tags: self.string_list(node.get("tags")),
            ignore_errors: self.flag_at(node, "ignore_errors", &mut templated),
            ignore_unreachable: node.get("ignore_unreachable").and_then(|n| self.bool_value(n)),
            no_log: self.flag_at(node, "no_log", &mut templated),
            check_mode: self.flag_at(node, "check_mode", &mut templated),
            diff: self.flag_at(node, "diff", &mut templated),
            ..Inherited::default()
        };
        let play_become = self.flag_at(node, "become", &mut templated);
        let environment = self.environment(node).into_iter().collect();
        let inh = Inherited { templated, environment, ..inh };
        self.check_collections(node.get("collections"));
        let tags = inh.tags.clone();
        let mut vars = self.vars_map(node.get("vars"));
        if let Some(files) = node.get("vars_files") {
            for f in self.string_list_nodes(files) {
                let (name, loc) = f;
                if is_template(&name) {
                    self.err(
                        Diagnostic::new(&loc, "templated vars_files are not supported").hint("name the file literally"),
                    );
                    continue;
                }
                let path = dir.join(&name);
                if !path.exists() {
                    self.err(Diagnostic::new(
                        &loc,
                        format!("vars file `{name}` not found (looked in {})", dir.display()),
                    ));
                    continue;
                }
                if let Some(root) = self.read(&path) {
                    match root.to_json() {
                        Json::Object(m) => vars.extend(m),
                        Json::Null => {}
                        _ => self.err(Diagnostic::new(&root.loc, "a vars file must be a mapping")),
                    }
                }
            }
        }
        let mut items = Vec::new();
        let mut handler_items = Vec::new();
        self.role_vars.clear();
        self.role_defaults.clear();
        self.role_handlers.clear();
        if let Some(n) = node.get("pre_tasks") {
            items.extend(self.task_list(n, dir, &inh, None, 0));
        }
        if let Some(roles) = node.get("roles") {
            for role in roles.as_seq().unwrap_or_default() {
                let role_items = self.role_entry(role, dir, &inh);
                items.extend(role_items);
            }
        }
        for key in ["tasks", "post_tasks"] {
            if let Some(n) = node.get(key) {
                items.extend(self.task_list(n, dir, &inh, None, 0));
            }
        }
        if let Some(n) = node.get("handlers") {
            self.in_handlers = true;
            handler_items.extend(self.task_list(n, dir, &inh, None, 0));
            self.in_handlers = false;
        }
        // Role handlers come before the play's own, as roles load first.
        let mut all_handlers = std::mem::take(&mut self.role_handlers);
        all_handlers.extend(handler_items);
        let handler_items = all_handlers;
        vars.extend(std::mem::take(&mut self.role_vars));
        let role_defaults = std::mem::take(&mut self.role_defaults);
        let mut tasks = Vec::new();
        let mut includes = Vec::new();
        let steps = flatten(items, &mut tasks, &mut includes);
        if strategy == Strategy::Free {
            for t in tasks.iter().filter(|t| t.run_once) {
                self.err(
                    Diagnostic::new(&t.loc, "`run_once` needs the linear strategy; this play is `strategy: free`")
                        .hint("remove `strategy: free`, or `run_once` (each host then runs the task)"),
                );
            }
        }
        let mut handlers = Vec::new();
        self.refuse_handler_rescue(&handler_items);
        flatten(handler_items, &mut handlers, &mut Vec::new());
        // Role defaults rank below everything else: kept apart under a reserved key.
        if !role_defaults.is_empty() {
            vars.insert(ROLE_DEFAULTS_KEY.into(), Json::Object(role_defaults));
        }
        let mut gather_template = Vec::new();
        let gather_flag = self.flag_at(node, "gather_facts", &mut gather_template);
        let gather_facts_given = gather_flag.is_some();
        let gather_facts = gather_flag.unwrap_or(true);
        let gather_facts_template = gather_template.pop().map(|(_, t)| t);
        let name = node.get("name").and_then(Node::as_str).map_or_else(|| hosts.clone(), str::to_owned);
        Some(Play {
            name,
            hosts,
            hosts_loc: hosts_node.loc.clone(),
            vars,
            become_: play_become,
            become_user: node.get("become_user").and_then(|n| self.scalar_text(n)),
            become_method: self.become_method(node.get("become_method")),
            remote_user: node.get("remote_user").and_then(|n| self.scalar_text(n)),
            gather_facts,
            gather_facts_given,
            gather_facts_template,
            strategy,
            serial,
            order,
            any_errors_fatal,
            max_fail_percentage,
            force_handlers,
            tasks,
            steps,
            includes,
            handlers,
            tags,
            loc: node.loc.clone(),
        })
    }

    /// `serial:` a batch size, a percentage, or a list of them.
    fn serial(&mut self, node: Option<&Node>) -> Vec<Json> {
        let Some(node) = node else { return Vec::new() };
        let mut out = Vec::new();
        for item in one_or_many(node) {
            match &item.kind {
                NodeKind::Int(i) if *i >= 0 => out.push(Json::from(*i)),
                NodeKind::Str(s) if serial_size(&Json::String(s.clone()), 100).is_some() => {
                    out.push(Json::String(s.trim().to_owned()))
                }
                _ => self.err(
                    Diagnostic::new(&item.loc, "`serial` takes a number of hosts or a percentage such as \"30%\"")
                        .hint("or a list of them: [1, 5, \"20%\"]"),
                ),
            }
        }
        out
    }

    /// Handlers run one by one when notified; a block among them may group
    /// tasks but its rescue/always have no meaning stead implements there.
    fn refuse_handler_rescue(&mut self, items: &[Item]) {
        for item in items {
            match item {
                Item::Block { rescue, always, loc, body, .. } => {
                    if !rescue.is_empty() || !always.is_empty() {
                        self.err(
                            Diagnostic::new(loc, "`rescue`/`always` in a handler block are not supported")
                                .hint("move the block into the tasks and notify a plain handler"),
                        );
                    }
                    self.refuse_handler_rescue(body);
                }
                Item::Include(include, _) => self.err(
                    Diagnostic::new(&include.loc, format!("`{}` among handlers is not supported", include.module))
                        .hint("use import_tasks there: handlers run one task at a time"),
                ),
                Item::Task(_) => {}
            }
        }
    }

    /// An entry of a play's `roles:`.
    fn role_entry(&mut self, node: &Node, dir: &Path, outer: &Inherited) -> Vec<Item> {
        let (name, inh, role_vars) = match &node.kind {
            NodeKind::Str(s) => (s.clone(), outer.clone(), serde_json::Map::new()),
            NodeKind::Map(_) => {
                let Some(name) = node.get("role").or_else(|| node.get("name")).and_then(Node::as_str) else {
                    self.err(Diagnostic::new(&node.loc, "a role entry needs `role: NAME`"));
                    return Vec::new();
                };
                // Keywords apply to the role's tasks; any other key is a
                // role parameter (a variable of the role), as in Ansible.
                let mut params = serde_json::Map::new();
                for (k, v) in node.as_map().unwrap_or_default() {
                    let key = k.name.as_str();
                    if Place::Role.implements(key) {
                        continue;
                    }
                    if Place::Role.is_ansible(key) {
                        self.err(
                            Diagnostic::new(&k.loc, keywords::not_implemented(Place::Role, key))
                                .hint(NOT_IMPLEMENTED_HINT),
                        );
                        continue;
                    }
                    self.compile_node(v);
                    params.insert(key.to_owned(), v.to_json());
                }
                let mut inh = self.inherit(node, outer);
                // Role `vars:` are play-level variables in stead (see
                // docs/compatibility.md), not task vars.
                let mut rv = std::mem::take(&mut inh.vars);
                inh.vars = outer.vars.clone();
                rv.extend(params);
                (name.to_owned(), inh, rv)
            }
            _ => {
                self.err(Diagnostic::new(&node.loc, "a role entry is a name or a mapping"));
                return Vec::new();
            }
        };
        self.load_role(&name, &node.loc, dir, &inh, role_vars, &RoleFiles::default())
    }

    /// Finds a role as Ansible does: `roles/` beside the playbook, the roles
    /// path, the playbook's folder, a path; `ns.collection.role` in
    /// `ansible_collections/` beside the playbook and on the collections path.
    fn find_role(&self, name: &str, dir: &Path) -> Result<PathBuf, Vec<PathBuf>> {
        let mut candidates = Vec::new();
        let parts: Vec<&str> = name.split('.').collect();
        if parts.len() == 3 && !name.contains('/') {
            let rel = Path::new("ansible_collections").join(parts[0]).join(parts[1]).join("roles").join(parts[2]);
            candidates.push(self.playbook_dir.join("collections").join(&rel));
            for base in &self.search.collections {
                candidates.push(base.join(&rel));
            }
        }
        candidates.push(dir.join("roles").join(name));
        candidates.push(self.playbook_dir.join("roles").join(name));
        candidates.extend(self.search.roles.iter().map(|r| r.join(name)));
        candidates.push(self.playbook_dir.join(name));
        candidates.dedup();
        candidates
            .iter()
            .find(|p| p.join("tasks").is_dir() || p.join("meta").is_dir() || p.is_dir())
            .cloned()
            .ok_or(candidates)
    }

    /// Loads a role's defaults, vars, handlers (into the play) and returns
    /// its tasks.
    fn load_role(
        &mut self,
        name: &str,
        loc: &Location,
        dir: &Path,
        inh: &Inherited,
        params: serde_json::Map<String, Json>,
        from: &RoleFiles,
    ) -> Vec<Item> {
        let role_dir = match self.find_role(name, dir) {
            Ok(d) => d,
            Err(tried) => {
                let shown: Vec<String> = tried.iter().take(6).map(|p| p.display().to_string()).collect();
                self.err(
                    Diagnostic::new(loc, format!("role `{name}` not found"))
                        .hint(format!("looked in {}; add --roles-path or roles_path in ansible.cfg", shown.join(", "))),
                );
                return Vec::new();
            }
        };
        let file_in = |sub: &str, wanted: &Option<String>| -> Option<PathBuf> {
            match wanted {
                None => main_file(&role_dir.join(sub)),
                Some(n) => ["", ".yml", ".yaml"]
                    .iter()
                    .map(|ext| role_dir.join(sub).join(format!("{n}{ext}")))
                    .find(|p| p.is_file()),
            }
        };
        let missing = |l: &mut Self, sub: &str, wanted: &Option<String>| {
            if let Some(n) = wanted {
                l.err(Diagnostic::new(loc, format!("role `{name}` has no {sub}/{n}")));
            }
        };
        for (sub, wanted, defaults) in [("defaults", &from.defaults, true), ("vars", &from.vars, false)] {
            match file_in(sub, wanted) {
                Some(file) => {
                    if let Some(root) = self.read(&file) {
                        if let Json::Object(m) = root.to_json() {
                            if defaults {
                                self.role_defaults.extend(m);
                            } else {
                                self.role_vars.extend(m);
                            }
                        }
                    }
                }
                None => missing(self, sub, wanted),
            }
        }
        self.role_vars.extend(params);
        let mut tasks = Vec::new();
        match file_in("tasks", &from.tasks) {
            Some(file) => {
                if let Some(root) = self.read(&file) {
                    let tasks_dir = file.parent().unwrap_or(&role_dir).to_path_buf();
                    tasks = self.task_list(&root, &tasks_dir, inh, Some(&role_dir), 0);
                }
            }
            None => missing(self, "tasks", &from.tasks),
        }
        match file_in("handlers", &from.handlers) {
            Some(file) => {
                if let Some(root) = self.read(&file) {
                    let was = std::mem::replace(&mut self.in_handlers, true);
                    let handlers = self.task_list(&root, &role_dir.join("handlers"), inh, Some(&role_dir), 0);
                    self.in_handlers = was;
                    self.role_handlers.extend(handlers);
                }
            }
            None => missing(self, "handlers", &from.handlers),
        }
        tasks
    }

    /// `import_role` / `include_role`: the role's tasks at this place, with
    /// the task's keywords handed down.
    fn include_role(&mut self, item: &Node, key: &str, target: &Node, dir: &Path, inh: &Inherited) -> Vec<Item> {
        let dynamic = key.ends_with("include_role");
        self.check_keys(item, if dynamic { Place::Include } else { Place::Import }, ROLE_INCLUDE_KEYS);
        let mut name = None;
        let mut from = RoleFiles::default();
        for (k, v) in target.as_map().unwrap_or_default() {
            let text = self.scalar_text(v);
            match k.name.as_str() {
                "name" | "role" => name = text,
                "tasks_from" => from.tasks = text,
                "vars_from" => from.vars = text,
                "defaults_from" => from.defaults = text,
                "handlers_from" => from.handlers = text,
                "public" | "allow_duplicates" | "rolespec_validate" if self.bool_value(v) == Some(true) => {}
                other => self.err(
                    Diagnostic::new(&k.loc, format!("`{key}` option `{other}` is not implemented by stead"))
                        .hint(NOT_IMPLEMENTED_HINT),
                ),
            }
        }
        if let NodeKind::Str(s) = &target.kind {
            name = Some(s.clone());
        }
        let Some(name) = name else {
            self.err(Diagnostic::new(&target.loc, format!("`{key}` needs `name:` (the role)")));
            return Vec::new();
        };
        if is_template(&name)
            || [&from.tasks, &from.vars, &from.defaults, &from.handlers]
                .iter()
                .any(|f| f.as_deref().is_some_and(is_template))
        {
            self.err(
                Diagnostic::new(&target.loc, "templated role and file names are not supported yet")
                    .hint("name the role and its files literally"),
            );
            return Vec::new();
        }
        if dynamic {
            let (include, scope) = self.dynamic_include(item, key, inh);
            let body = self.load_role(&name, &target.loc, dir, &scope, serde_json::Map::new(), &from);
            let include = Include { files: vec![name.clone()], ..include };
            return vec![Item::Include(Box::new(include), vec![body])];
        }
        let inner = self.inherit(item, inh);
        self.load_role(&name, &target.loc, dir, &inner, serde_json::Map::new(), &from)
    }

    fn task_list(&mut self, node: &Node, dir: &Path, inh: &Inherited, role: Option<&Path>, depth: usize) -> Vec<Item> {
        if matches!(node.kind, NodeKind::Null) {
            return Vec::new();
        }
        let Some(items) = node.as_seq() else {
            self.err(
                Diagnostic::new(&node.loc, format!("a task list is a list, not {}", node.type_name()))
                    .hint("start each task with `- name: ...`"),
            );
            return Vec::new();
        };
        let mut tasks = Vec::new();
        for item in items {
            if let Some((key, target)) = INCLUDE_KEYS.iter().find_map(|k| item.get(k).map(|t| (*k, t))) {
                tasks.extend(self.include(item, key, target, dir, inh, role, depth));
                continue;
            }
            if let Some((key, target)) = ROLE_INCLUDE_KEYS.iter().find_map(|k| item.get(k).map(|t| (*k, t))) {
                tasks.extend(self.include_role(item, key, target, dir, inh));
                continue;
            }
            if let Some(block) = item.get("block") {
                self.check_keys(item, Place::Block, &[]);
                let inner = self.inherit(item, inh);
                let has_rescue = item.get("rescue").is_some_and(|n| !matches!(n.kind, NodeKind::Null));
                let body_inh = Inherited { rescuable: inh.rescuable || has_rescue, ..inner.clone() };
                let body = self.task_list(block, dir, &body_inh, role, depth + 1);
                let part = |l: &mut Self, key: &str| {
                    item.get(key).map(|n| l.task_list(n, dir, &inner, role, depth + 1)).unwrap_or_default()
                };
                let rescue = part(self, "rescue");
                let always = part(self, "always");
                let name = item.get("name").and_then(|n| self.scalar_text(n));
                tasks.push(Item::Block { name, body, rescue, always, loc: item.loc.clone() });
                continue;
            }
            if let Some(t) = self.task(item, inh, role) {
                tasks.push(Item::Task(Box::new(t)));
            }
        }
        tasks
    }

    /// `import_tasks` (the file's tasks, inlined, with the import's keywords
    /// handed down to them) or `include_tasks` (a dynamic include).
    #[allow(clippy::too_many_arguments)]
    fn include(
        &mut self,
        item: &Node,
        key: &str,
        target: &Node,
        dir: &Path,
        inh: &Inherited,
        role: Option<&Path>,
        depth: usize,
    ) -> Vec<Item> {
        let dynamic = key.ends_with("include_tasks");
        self.check_keys(item, if dynamic { Place::Include } else { Place::Import }, INCLUDE_KEYS);
        let file = match &target.kind {
            NodeKind::Str(s) => Some(s.strip_prefix("file=").unwrap_or(s).to_owned()),
            NodeKind::Map(_) => {
                for (k, _) in target.as_map().unwrap_or_default() {
                    if k.name != "file" {
                        self.err(
                            Diagnostic::new(&k.loc, format!("`{key}` takes `file`, not `{}`", k.name))
                                .maybe_hint((k.name == "apply").then(|| NOT_IMPLEMENTED_HINT.to_owned())),
                        );
                    }
                }
                target.get("file").and_then(Node::as_str).map(str::to_owned)
            }
            _ => None,
        };
        let Some(file) = file else {
            self.err(Diagnostic::new(&target.loc, format!("`{key}` takes a file name")));
            return Vec::new();
        };
        if is_template(&file) && !dynamic {
            self.err(
                Diagnostic::new(&target.loc, "import_tasks needs a literal file name")
                    .hint("name the file literally, or use include_tasks, which resolves it per host"),
            );
            return Vec::new();
        }
        // As Ansible: the including file's folder, the role's tasks/, the playbook's folder.
        let mut dirs = vec![dir.to_path_buf()];
        if let Some(r) = role {
            dirs.push(r.join("tasks"));
        }
        dirs.push(self.playbook_dir.clone());
        // A templated name is resolved per host at run time; every file it
        // could name is found and checked now, before any host is contacted.
        let found: Vec<(String, PathBuf)> = if is_template(&file) {
            match glob_for_template(&file) {
                Some(pattern) => template_candidates(&pattern, &dirs, &self.include_chain),
                None => {
                    self.err(
                        Diagnostic::new(&target.loc, format!("`{file}`: a templated include needs a literal part"))
                            .hint("for example \"setup-{{ ansible_os_family }}.yml\""),
                    );
                    return Vec::new();
                }
            }
        } else {
            dirs.iter().map(|d| d.join(&file)).find(|p| p.is_file()).map(|p| (file.clone(), p)).into_iter().collect()
        };
        if found.is_empty() {
            let tried: Vec<String> = dirs.iter().map(|d| d.join(&file).display().to_string()).collect();
            self.err(
                Diagnostic::new(&target.loc, format!("task file `{file}` not found"))
                    .hint(format!("looked for {}", tried.join(", "))),
            );
            return Vec::new();
        }
        let (include, inner) = if dynamic {
            let (include, scope) = self.dynamic_include(item, key, inh);
            let file_template = is_template(&file).then(|| file.clone());
            (Some(Include { file_template, ..include }), scope)
        } else {
            (None, self.inherit(item, inh))
        };
        let mut include = include;
        let templated = is_template(&file);
        let mut bodies = Vec::new();
        for (name, path) in &found {
            let canonical = path.canonicalize().unwrap_or_else(|_| path.clone());
            if self.include_chain.contains(&canonical) || depth > MAX_INCLUDE_DEPTH {
                let mut chain: Vec<String> = self.include_chain.iter().map(|p| p.display().to_string()).collect();
                chain.push(canonical.display().to_string());
                let what = if depth > MAX_INCLUDE_DEPTH {
                    format!("task files nested deeper than {MAX_INCLUDE_DEPTH}")
                } else {
                    "task files include each other in a cycle".to_owned()
                };
                self.err(Diagnostic::new(&target.loc, what).hint(format!("include chain: {}", chain.join(" -> "))));
                return Vec::new();
            }
            let before = self.diags.len();
            let body = match self.read(path) {
                Some(root) => {
                    let inner_dir = path.parent().unwrap_or(dir).to_path_buf();
                    self.include_chain.push(canonical);
                    let body = self.task_list(&root, &inner_dir, &inner, role, depth + 1);
                    self.include_chain.pop();
                    Some(body)
                }
                None => None,
            };
            // A file a templated name merely matched may be no task file at
            // all: it is left out, and a host that picks it fails then.
            if templated && self.diags.len() > before {
                let first = self.diags.drain(before..).next().map(|d| d.message).unwrap_or_default();
                if let Some(inc) = include.as_mut() {
                    inc.unusable.push((name.clone(), first));
                }
                continue;
            }
            match body {
                Some(body) => {
                    if let Some(inc) = include.as_mut() {
                        inc.files.push(name.clone());
                    }
                    bodies.push(body);
                }
                None => return Vec::new(),
            }
        }
        match include {
            Some(include) => vec![Item::Include(Box::new(include), bodies)],
            None => bodies.into_iter().flatten().collect(),
        }
    }

    /// The keywords of `include_tasks` / `include_role`, which apply to the
    /// include itself; and what its tasks inherit: the enclosing levels'
    /// keywords, plus the names the include defines for them.
    fn dynamic_include(&mut self, item: &Node, key: &str, inh: &Inherited) -> (Include, Inherited) {
        if self.in_handlers {
            self.err(
                Diagnostic::new(&item.loc, format!("`{key}` among handlers is not supported"))
                    .hint("use import_tasks there: handlers run one task at a time"),
            );
        }
        let (loop_items, loop_flatten, loop_var, loop_label, loop_extras) = self.loop_spec(item);
        let vars = self.vars_map(item.get("vars"));
        let mut tags = inh.tags.clone();
        tags.extend(self.string_list(item.get("tags")));
        let mut when = inh.when.clone();
        when.extend(self.conditions(item.get("when")));
        self.check_collections(item.get("collections"));
        let flag = |l: &mut Self, k: &str| item.get(k).and_then(|n| l.bool_value(n));
        let module = if key.ends_with("include_role") { "include_role" } else { "include_tasks" };
        let name = item.get("name").and_then(|n| self.scalar_text(n)).unwrap_or_else(|| module.to_owned());
        let mut scope = inh.clone();
        scope.scope_vars.extend(vars.keys().cloned());
        scope.include_guards.extend(when.iter().cloned());
        if loop_items.is_some() {
            scope.scope_vars.push(loop_var.clone());
            scope.scope_vars.extend(loop_extras.index_var.iter().cloned());
            scope.scope_vars.push("ansible_loop".into());
        }
        let include = Include {
            name,
            module,
            file_template: None,
            files: Vec::new(),
            unusable: Vec::new(),
            when,
            tags,
            vars,
            loop_items,
            loop_flatten,
            loop_var,
            loop_label,
            loop_extras,
            ignore_errors: flag(self, "ignore_errors").or(inh.ignore_errors).unwrap_or(false),
            no_log: flag(self, "no_log").or(inh.no_log).unwrap_or(false),
            loc: item.loc.clone(),
        };
        (include, scope)
    }

    fn task(&mut self, node: &Node, inh: &Inherited, role: Option<&Path>) -> Option<Task> {
        let Some(map) = node.as_map() else {
            self.err(Diagnostic::new(&node.loc, format!("a task is a mapping, not {}", node.type_name())));
            return None;
        };
        let mut module: Option<(&Key, &Node)> = None;
        let before = self.diags.len();
        let local_action = node.get("local_action").and_then(|n| self.local_action(n));
        if let Some((k, v)) = &local_action {
            module = Some((k, v));
        }
        for (k, v) in map {
            if k.name == "local_action" {
                continue;
            }
            if Place::Task.implements(&k.name) {
                if k.name == "listen" && !self.in_handlers {
                    self.err(
                        Diagnostic::new(&k.loc, "`listen` is a handler keyword")
                            .hint("move this task under `handlers:`, or notify it by name"),
                    );
                }
                continue;
            }
            if modules::lookup(&k.name).is_some() {
                if let Some((first, _)) = module {
                    self.err(
                        Diagnostic::new(
                            &k.loc,
                            format!("a task runs one module; `{}` and `{}` are both modules", first.name, k.name),
                        )
                        .hint("split them into two tasks"),
                    );
                } else {
                    module = Some((k, v));
                }
                continue;
            }
            if Place::Task.is_ansible(&k.name) {
                self.err(
                    Diagnostic::new(&k.loc, keywords::not_implemented(Place::Task, &k.name)).hint(NOT_IMPLEMENTED_HINT),
                );
                continue;
            }
            let candidates = modules::module_names().chain(Place::Task.implemented());
            let hint = closest(&k.name, candidates).map(|s| format!("did you mean `{s}`?"));
            let what = if k.name.contains('.') { "module" } else { "module or task keyword" };
            self.err(Diagnostic::new(&k.loc, format!("unknown {what} `{}`", k.name)).maybe_hint(hint));
        }
        let Some((module_key, module_node)) = module else {
            if self.diags.len() == before {
                self.err(
                    Diagnostic::new(&node.loc, "this task names no module")
                        .hint("add a module, e.g. `copy:` or `command:`"),
                );
            }
            return None;
        };
        let m = modules::lookup(&module_key.name).expect("checked above");
        let (args, arg_locs) = self.module_args(m, module_key, module_node, node.get("args"));
        let name = node.get("name").and_then(|n| self.scalar_text(n));
        if let Some(n) = &name {
            self.compile(n, &node.get("name").expect("present").loc);
        }
        let (loop_items, loop_flatten, loop_var, loop_label, loop_extras) = self.loop_spec(node);
        let mut all_tags = inh.tags.clone();
        all_tags.extend(self.string_list(node.get("tags")));
        let mut when = inh.when.clone();
        when.extend(self.conditions(node.get("when")));
        let mut vars = inh.vars.clone();
        vars.extend(self.vars_map(node.get("vars")));
        let mut notify = self.string_list(node.get("notify"));
        notify.extend(inh.notify.iter().cloned());
        self.check_collections(node.get("collections"));
        let id = self.next_id;
        self.next_id += 1;
        let flag = |l: &mut Self, key: &str| node.get(key).and_then(|n| l.bool_value(n));
        let retry = self.retry_spec(node);
        let mut templated = inh.templated.clone();
        let become_ = self.flag_at(node, "become", &mut templated).or(inh.become_);
        let ignore_errors = self.flag_at(node, "ignore_errors", &mut templated).or(inh.ignore_errors);
        let no_log = self.flag_at(node, "no_log", &mut templated).or(inh.no_log);
        let check_mode = self.flag_at(node, "check_mode", &mut templated).or(inh.check_mode);
        let diff = self.flag_at(node, "diff", &mut templated).or(inh.diff);
        Some(Task {
            id,
            name,
            module: m,
            module_written: module_key.name.clone(),
            args,
            when,
            loop_items,
            loop_flatten,
            loop_var,
            loop_label,
            register: node.get("register").and_then(|n| self.identifier(n, "register")),
            notify,
            listen: self.string_list(node.get("listen")),
            become_,
            become_user: node.get("become_user").and_then(|n| self.scalar_text(n)).or_else(|| inh.become_user.clone()),
            become_method: self.become_method(node.get("become_method")).or_else(|| inh.become_method.clone()),
            ignore_errors: ignore_errors.unwrap_or(false),
            ignore_unreachable: flag(self, "ignore_unreachable").or(inh.ignore_unreachable).unwrap_or(false),
            tags: all_tags,
            no_log: no_log.unwrap_or(false),
            changed_when: node.get("changed_when").map(|n| self.conditions(Some(n))),
            failed_when: node.get("failed_when").map(|n| self.conditions(Some(n))),
            check_mode,
            vars,
            retry,
            loop_extras,
            diff,
            templated_flags: templated,
            environment: {
                let mut env = inh.environment.clone();
                env.extend(self.environment(node));
                env
            },
            run_once: flag(self, "run_once").or(inh.run_once).unwrap_or(false),
            delegate_to: if local_action.is_some() {
                Some("localhost".to_owned())
            } else {
                node.get("delegate_to").and_then(|n| self.scalar_text(n)).or_else(|| inh.delegate_to.clone())
            },
            scope_vars: inh.scope_vars.clone(),
            include_guards: inh.include_guards.clone(),
            rescuable: inh.rescuable,
            role_dir: role.map(Path::to_path_buf),
            loc: node.loc.clone(),
            module_loc: module_key.loc.clone(),
            arg_locs,
        })
    }

    /// The module's arguments: a mapping, a `k=v` string, or free-form text.
    fn module_args(
        &mut self,
        m: &'static dyn modules::Module,
        key: &Key,
        value: &Node,
        extra: Option<&Node>,
    ) -> (serde_json::Map<String, Json>, Vec<(String, Location)>) {
        let spec = m.spec();
        let mut entries: Vec<(Key, Node)> = Vec::new();
        let synth = |name: &str, text: &str, loc: &Location| {
            (
                Key { name: name.to_owned(), loc: loc.clone() },
                Node { kind: NodeKind::Str(text.to_owned()), loc: loc.clone(), raw: None },
            )
        };
        match &value.kind {
            NodeKind::Map(map) => entries.extend(map.iter().cloned()),
            NodeKind::Null => {}
            NodeKind::Str(s) => {
                if let Some(free) = spec.free_form {
                    let known: Vec<&str> = spec.args.iter().map(|a| a.name).filter(|n| *n != free).collect();
                    let (pairs, cmd) = kv::split_free_form(s, &known);
                    for (k, v) in pairs {
                        entries.push(synth(&k, &v, &value.loc));
                    }
                    if !cmd.is_empty() {
                        entries.push(synth(free, &cmd, &value.loc));
                    }
                } else {
                    let (pairs, free) = kv::parse_kv(s);
                    if let Some(free) = free {
                        self.err(
                            Diagnostic::new(
                                &value.loc,
                                format!("`{}` takes `key=value` arguments; cannot read `{free}`", key.name),
                            )
                            .hint("write the arguments as a mapping, one per line"),
                        );
                    }
                    for (k, v) in pairs {
                        entries.push(synth(&k, &v, &value.loc));
                    }
                }
            }
            NodeKind::Bool(_) | NodeKind::Int(_) | NodeKind::Float(_) | NodeKind::Seq(_) => {
                if let Some(free) = spec.free_form {
                    entries.push((Key { name: free.to_owned(), loc: value.loc.clone() }, value.clone()));
                } else {
                    self.err(Diagnostic::new(
                        &value.loc,
                        format!("the arguments of `{}` must be a mapping, not {}", key.name, value.type_name()),
                    ));
                }
            }
        }
        if let Some(extra) = extra {
            match extra.as_map() {
                Some(map) => entries.extend(map.iter().cloned()),
                None => self.err(Diagnostic::new(&extra.loc, "`args` must be a mapping")),
            }
        }
        for issue in spec::check_node(spec, &entries) {
            let loc = issue.node.clone().unwrap_or_else(|| key.loc.clone());
            self.err(Diagnostic { loc, message: format!("{}: {}", key.name, issue.message), hint: issue.hint });
        }
        let mut out = serde_json::Map::new();
        let mut locs = Vec::new();
        for (k, v) in &entries {
            self.compile_node(v);
            out.insert(k.name.clone(), v.to_json());
            locs.push((k.name.clone(), v.loc.clone()));
        }
        (out, locs)
    }

    /// `local_action: MODULE ARGS` (or a mapping with `module:`): the module
    /// key and its arguments, as if written as a task of that module.
    fn local_action(&mut self, node: &Node) -> Option<(Key, Node)> {
        match &node.kind {
            NodeKind::Str(s) => {
                let (name, rest) = s.trim().split_once(char::is_whitespace).unwrap_or((s.trim(), ""));
                if modules::lookup(name).is_none() {
                    self.err(Diagnostic::new(&node.loc, format!("local_action: unknown module `{name}`")));
                    return None;
                }
                let key = Key { name: name.to_owned(), loc: node.loc.clone() };
                let value = Node { kind: NodeKind::Str(rest.trim().to_owned()), loc: node.loc.clone(), raw: None };
                Some((key, value))
            }
            NodeKind::Map(entries) => {
                let Some(name) = node.get("module").and_then(Node::as_str) else {
                    self.err(Diagnostic::new(&node.loc, "local_action needs `module:` (or `MODULE ARGS` as text)"));
                    return None;
                };
                if modules::lookup(name).is_none() {
                    self.err(Diagnostic::new(&node.loc, format!("local_action: unknown module `{name}`")));
                    return None;
                }
                let args: Vec<(Key, Node)> = entries.iter().filter(|(k, _)| k.name != "module").cloned().collect();
                let key = Key { name: name.to_owned(), loc: node.loc.clone() };
                Some((key, Node { kind: NodeKind::Map(args), loc: node.loc.clone(), raw: None }))
            }
            _ => {
                self.err(Diagnostic::new(&node.loc, "local_action takes `MODULE ARGS` or a mapping with `module:`"));
                None
            }
        }
    }

    /// `until` / `retries` / `delay`. `retries` alone retries until the task
    /// does not fail (ansible-core 2.16+); `delay` alone means nothing to
    /// Ansible and is refused here rather than ignored.
    fn retry_spec(&mut self, node: &Node) -> Option<Retry> {
        let until = node.get("until");
        let retries = node.get("retries");
        let delay = node.get("delay");
        if until.is_none() && retries.is_none() {
            if let Some(d) = delay {
                self.err(
                    Diagnostic::new(&d.loc, "`delay` without `until` or `retries` does nothing")
                        .hint("add `until:` (and `retries:`), or remove `delay`"),
                );
            }
            return None;
        }
        let number = |l: &mut Self, n: Option<&Node>, default: Json, what: &str| -> Json {
            let Some(n) = n else { return default };
            match &n.kind {
                NodeKind::Int(i) => Json::from(*i),
                NodeKind::Float(f) => Json::from(*f),
                NodeKind::Str(s) if is_template(s) => {
                    l.compile(s, &n.loc);
                    Json::String(s.clone())
                }
                NodeKind::Str(s) if s.trim().parse::<f64>().is_ok() => Json::String(s.trim().to_owned()),
                _ => {
                    l.err(Diagnostic::new(&n.loc, format!("`{what}` takes a number, not {}", n.type_name())));
                    default
                }
            }
        };
        let retries = number(self, retries, Json::from(3), "retries");
        let delay = number(self, delay, Json::from(5), "delay");
        Some(Retry { until: self.conditions(until), retries, delay })
    }

    /// `loop`/`with_items`/`with_list`, whether to flatten (with_items), and `loop_control`.
    fn loop_spec(&mut self, node: &Node) -> (Option<Json>, bool, String, Option<String>, LoopExtras) {
        let items = node.get("loop").or_else(|| node.get("with_items")).or_else(|| node.get("with_list"));
        let loop_items = items.map(|n| {
            if matches!(n.kind, NodeKind::Map(_)) {
                self.err(
                    Diagnostic::new(&n.loc, "`loop` takes a list or an expression, not a mapping")
                        .hint("to loop over a dict use `loop: \"{{ d | dict2items }}\"`; a bare {{ }} must be quoted"),
                );
            }
            self.compile_node(n);
            n.to_json()
        });
        // with_items flattens one level, as in Ansible.
        let flatten = node.get("loop").is_none() && node.get("with_items").is_some();
        let mut var = "item".to_owned();
        let mut label = None;
        let mut extras = LoopExtras { extended_allitems: true, ..LoopExtras::default() };
        if let Some(ctl) = node.get("loop_control") {
            if items.is_none() {
                self.err(Diagnostic::new(&ctl.loc, "`loop_control` without a loop does nothing").hint("add `loop:`"));
            }
            for (k, v) in ctl.as_map().unwrap_or_default() {
                match k.name.as_str() {
                    "loop_var" => var = self.scalar_text(v).unwrap_or(var),
                    "label" => label = self.scalar_text(v),
                    "index_var" => extras.index_var = self.identifier(v, "index_var"),
                    "extended" => extras.extended = self.bool_value(v).unwrap_or(false),
                    "extended_allitems" => extras.extended_allitems = self.bool_value(v).unwrap_or(true),
                    "pause" => match &v.kind {
                        NodeKind::Int(i) if *i >= 0 => extras.pause = *i as f64,
                        NodeKind::Float(f) if *f >= 0.0 => extras.pause = *f,
                        _ => self.err(Diagnostic::new(&v.loc, "`pause` takes a number of seconds")),
                    },
                    "break_when" => self.err(
                        Diagnostic::new(&k.loc, keywords::not_implemented(Place::Task, "loop_control.break_when"))
                            .hint(NOT_IMPLEMENTED_HINT),
                    ),
                    other => self.err(Diagnostic::new(&k.loc, format!("unknown loop_control key `{other}`"))),
                }
            }
        }
        (loop_items, flatten, var, label, extras)
    }

    fn conditions(&mut self, node: Option<&Node>) -> Vec<String> {
        let Some(node) = node else { return Vec::new() };
        let mut out = Vec::new();
        for item in one_or_many(node) {
            match &item.kind {
                NodeKind::Str(s) => {
                    if let Err(e) = self.templates.compile_expression(s) {
                        self.err(Diagnostic::new(&item.loc, e.to_string()));
                    }
                    out.push(s.clone());
                }
                NodeKind::Bool(b) => out.push(if *b { "true".into() } else { "false".into() }),
                NodeKind::Map(_) => self.err(
                    Diagnostic::new(
                        &item.loc,
                        "this condition was read as a mapping: a value that starts with `{` is YAML, not Jinja",
                    )
                    .hint("conditions are bare expressions: write `when: x` (or quote it: `when: \"{{ x }}\"`)"),
                ),
                _ => out.push(self.scalar_text(item).unwrap_or_default()),
            }
        }
        out
    }

    fn compile(&mut self, text: &str, loc: &Location) {
        if let Err(e) = self.templates.compile(text) {
            self.err(Diagnostic::new(loc, e.to_string()));
        }
    }

    fn compile_node(&mut self, node: &Node) {
        match &node.kind {
            NodeKind::Str(s) => self.compile(s, &node.loc),
            NodeKind::Seq(items) => items.iter().for_each(|i| self.compile_node(i)),
            NodeKind::Map(entries) => entries.iter().for_each(|(_, v)| self.compile_node(v)),
            _ => {}
        }
    }

    fn vars_map(&mut self, node: Option<&Node>) -> serde_json::Map<String, Json> {
        let Some(node) = node else {
            return serde_json::Map::new();
        };
        match &node.kind {
            NodeKind::Map(entries) => {
                entries.iter().for_each(|(_, v)| self.compile_node(v));
                entries.iter().map(|(k, v)| (k.name.clone(), v.to_json())).collect()
            }
            NodeKind::Null => serde_json::Map::new(),
            _ => {
                self.err(Diagnostic::new(&node.loc, format!("`vars` must be a mapping, not {}", node.type_name())));
                serde_json::Map::new()
            }
        }
    }

    fn scalar_text(&mut self, node: &Node) -> Option<String> {
        match &node.kind {
            NodeKind::Str(s) => Some(s.clone()),
            NodeKind::Int(i) => Some(i.to_string()),
            NodeKind::Float(f) => Some(f.to_string()),
            NodeKind::Bool(b) => Some(b.to_string()),
            NodeKind::Null => None,
            _ => {
                self.err(Diagnostic::new(&node.loc, format!("expected a single value, not {}", node.type_name())));
                None
            }
        }
    }

    fn identifier(&mut self, node: &Node, what: &str) -> Option<String> {
        let text = self.scalar_text(node)?;
        let ok = text.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            self.err(Diagnostic::new(&node.loc, format!("`{what}` needs a variable name, not `{text}`")));
            return None;
        }
        Some(text)
    }

    /// `environment:` of `node`: a mapping of variables (values may be
    /// templates), or a template that renders to one.
    fn environment(&mut self, node: &Node) -> Option<Json> {
        let n = node.get("environment")?;
        match &n.kind {
            NodeKind::Map(entries) => {
                for (k, v) in entries {
                    let ok = k.name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                        && k.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                    if !ok {
                        self.err(Diagnostic::new(&k.loc, format!("`{}` is not an environment variable name", k.name)));
                    }
                    self.compile_node(v);
                }
                Some(n.to_json())
            }
            NodeKind::Str(s) if is_template(s) => {
                self.compile(s, &n.loc);
                Some(n.to_json())
            }
            NodeKind::Null => None,
            _ => {
                self.err(
                    Diagnostic::new(&n.loc, format!("`environment` takes a mapping, not {}", n.type_name()))
                        .hint("environment: {NAME: value}"),
                );
                None
            }
        }
    }

    /// A boolean keyword of `node`: its value, or `None` when absent or a
    /// template (then recorded in `templated`, decided per host at run time,
    /// as Ansible templates `ignore_errors: "{{ ansible_check_mode }}"`). A
    /// fixed value here overrides a template handed down from outside.
    fn flag_at(&mut self, node: &Node, key: &str, templated: &mut Vec<(String, String)>) -> Option<bool> {
        let n = node.get(key)?;
        if let NodeKind::Str(s) = &n.kind {
            if is_template(s) {
                self.compile(s, &n.loc);
                templated.retain(|(k, _)| k != key);
                templated.push((key.to_owned(), s.clone()));
                return None;
            }
        }
        let value = self.bool_value(n);
        if value.is_some() {
            templated.retain(|(k, _)| k != key);
        }
        value
    }

    fn bool_value(&mut self, node: &Node) -> Option<bool> {
        match &node.kind {
            NodeKind::Bool(b) => Some(*b),
            NodeKind::Str(s) if spec::parse_bool(s).is_some() => spec::parse_bool(s),
            NodeKind::Int(i @ (0 | 1)) => Some(*i == 1),
            _ => {
                self.err(Diagnostic::new(&node.loc, format!("expected true or false, not {}", node.type_name())));
                None
            }
        }
    }

    fn string_list_nodes(&mut self, node: &Node) -> Vec<(String, Location)> {
        match &node.kind {
            NodeKind::Seq(items) => {
                items.iter().filter_map(|i| self.scalar_text(i).map(|s| (s, i.loc.clone()))).collect()
            }
            NodeKind::Null => Vec::new(),
            _ => self.scalar_text(node).map(|s| (s, node.loc.clone())).into_iter().collect(),
        }
    }

    fn string_list(&mut self, node: Option<&Node>) -> Vec<String> {
        let Some(node) = node else { return Vec::new() };
        let items = self.string_list_nodes(node);
        items
            .into_iter()
            .flat_map(|(s, _)| s.split(',').map(|p| p.trim().to_owned()).collect::<Vec<_>>())
            .filter(|s| !s.is_empty())
            .collect()
    }
}

/// A glob for the files a templated name may render to: each `{{ ... }}`
/// or `{% ... %}` becomes `*`. `None` when nothing literal is left (any
/// file would match).
fn glob_for_template(name: &str) -> Option<String> {
    let re = regex::Regex::new(r"\{\{.*?\}\}|\{%.*?%\}").expect("static pattern");
    let glob = re.replace_all(name, "*").into_owned();
    let literal = glob.replace('*', "");
    (!literal.is_empty() && literal != "." && !literal.ends_with('/')).then_some(glob)
}

/// Whether `name` matches a glob made of literal parts and `*` (which
/// does not cross a `/`).
fn glob_matches(glob: &str, name: &str) -> bool {
    let parts: Vec<&str> = glob.split('*').collect();
    if parts.len() == 1 {
        return glob == name;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !name.starts_with(first) || !name.ends_with(last) || name.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    !rest.contains('/')
}

/// Task files a templated include may name: every file matching the glob,
/// relative name first found in the search folders, files already being
/// included (the including file itself) left out.
fn template_candidates(glob: &str, dirs: &[PathBuf], chain: &[PathBuf]) -> Vec<(String, PathBuf)> {
    let mut out: Vec<(String, PathBuf)> = Vec::new();
    let (sub, pattern) = match glob.rsplit_once('/') {
        Some((sub, pattern)) => (sub, pattern),
        None => ("", glob),
    };
    if sub.contains('*') {
        return out;
    }
    for dir in dirs {
        let folder = dir.join(sub);
        let folder = if folder.as_os_str().is_empty() { PathBuf::from(".") } else { folder };
        let Ok(entries) = std::fs::read_dir(&folder) else { continue };
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .filter(|e| e.path().is_file())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| glob_matches(pattern, n) && !n.starts_with('.'))
            .collect();
        names.sort();
        for n in names {
            let rel = if sub.is_empty() { n.clone() } else { format!("{sub}/{n}") };
            let path = folder.join(&n);
            let canonical = path.canonicalize().unwrap_or_else(|_| path.clone());
            if out.iter().all(|(r, _)| *r != rel) && !chain.contains(&canonical) {
                out.push((rel, path));
            }
        }
    }
    out
}

/// A keyword value that may be one item or a list of them.
fn one_or_many(node: &Node) -> Vec<&Node> {
    match &node.kind {
        NodeKind::Seq(items) => items.iter().collect(),
        _ => vec![node],
    }
}

/// The size of a `serial` batch out of `total` hosts: a number as it is, a
/// percentage of the hosts rounded down but at least one (as Ansible).
pub fn serial_size(value: &Json, total: usize) -> Option<usize> {
    match value {
        Json::Number(n) => n.as_u64().map(|n| n as usize),
        Json::String(s) => {
            let s = s.trim();
            if let Some(pct) = s.strip_suffix('%') {
                let pct: f64 = pct.trim().parse().ok()?;
                if !(0.0..=100.0).contains(&pct) {
                    return None;
                }
                Some(((pct * total as f64 / 100.0) as usize).max(1))
            } else {
                s.parse().ok()
            }
        }
        _ => None,
    }
}

/// How deep task files may import each other.
const MAX_INCLUDE_DEPTH: usize = 32;

/// The reserved play-vars key under which role defaults are kept.
pub const ROLE_DEFAULTS_KEY: &str = "__stead_role_defaults__";

/// Finds a local file a task names (`copy: src`, `template: src`), as
/// Ansible searches: the role's `SUBDIR/` and folder, then the playbook's
/// `SUBDIR/` and folder. Absolute paths are taken as they are.
pub fn find_local_file(playbook_dir: &Path, role_dir: Option<&Path>, name: &str, subdir: &str) -> Option<PathBuf> {
    let p = Path::new(name);
    if p.is_absolute() {
        return p.exists().then(|| p.to_path_buf());
    }
    let mut candidates = Vec::new();
    if let Some(role) = role_dir {
        candidates.push(role.join(subdir).join(p));
        candidates.push(role.join(p));
    }
    candidates.push(playbook_dir.join(subdir).join(p));
    candidates.push(playbook_dir.join(p));
    candidates.into_iter().find(|c| c.exists())
}

fn main_file(dir: &Path) -> Option<PathBuf> {
    ["main.yml", "main.yaml", "main"].iter().map(|f| dir.join(f)).find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_text(files: &[(&str, &str)]) -> Result<Playbook, Diagnostics> {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        load(&dir.path().join("site.yml"), &Templates::new()).map(|(pb, _)| pb)
    }

    #[test]
    fn become_keywords_are_inherited_by_tasks() {
        let site = "- hosts: all\n  roles:\n    - role: r\n      become: true\n      become_user: app\n  tasks:\n    \
                    - block:\n        - ping:\n        - ping:\n          become_user: other\n      become: true\n      \
                    become_method: su\n    - import_tasks: inc.yml\n      become: false\n";
        let pb = load_text(&[("site.yml", site), ("inc.yml", "- ping:\n"), ("roles/r/tasks/main.yml", "- ping:\n")])
            .unwrap_or_else(|e| panic!("{e:?}"));
        let t = &pb.plays[0].tasks;
        let got: Vec<_> = t.iter().map(|t| (t.become_, t.become_user.as_deref(), t.become_method.as_deref())).collect();
        assert_eq!(
            got,
            vec![
                (Some(true), Some("app"), None),
                (Some(true), None, Some("su")),
                (Some(true), Some("other"), Some("su")),
                (Some(false), None, None),
            ]
        );
    }

    #[test]
    fn an_unknown_become_method_is_refused_where_it_is_written() {
        let err = load_text(&[("site.yml", "- hosts: all\n  tasks:\n    - ping:\n      become_method: runas\n")])
            .err()
            .expect("refused");
        let d = &err.0[0];
        assert_eq!((d.loc.line, d.loc.column), (4, 22));
        assert!(d.message.contains("runas"), "{}", d.message);
    }

    #[test]
    fn blocks_become_a_tree_over_the_flat_task_list() {
        let site = "- hosts: all\n  tasks:\n    - ping:\n    - block:\n        - ping:\n      rescue:\n        - ping:\n      \
                    always:\n        - ping:\n";
        let pb = load_text(&[("site.yml", site)]).unwrap_or_else(|e| panic!("{e:?}"));
        let play = &pb.plays[0];
        assert_eq!(play.tasks.len(), 4);
        assert_eq!(
            play.steps,
            vec![
                Step::Task(0),
                Step::Block(Block {
                    name: None,
                    body: vec![Step::Task(1)],
                    rescue: vec![Step::Task(2)],
                    always: vec![Step::Task(3)],
                }),
            ]
        );
        let rescuable: Vec<bool> = play.tasks.iter().map(|t| t.rescuable).collect();
        assert_eq!(rescuable, vec![false, true, false, false]);
    }

    #[test]
    fn templated_include_names_become_globs() {
        assert_eq!(glob_for_template("setup-{{ ansible_os_family }}.yml").as_deref(), Some("setup-*.yml"));
        assert_eq!(glob_for_template("{{ item }}.yml").as_deref(), Some("*.yml"));
        assert_eq!(glob_for_template("{{ x }}"), None, "nothing literal: any file would match");
        assert!(glob_matches("setup-*.yml", "setup-Debian.yml"));
        assert!(!glob_matches("setup-*.yml", "setup-Debian.yaml"));
        assert!(!glob_matches("setup-*.yml", "main.yml"));
        assert!(glob_matches("*-*.yml", "a-b.yml"));
        assert!(glob_matches("a.yml", "a.yml") && !glob_matches("a.yml", "b.yml"));
    }

    #[test]
    fn an_include_cycle_is_reported_with_its_chain() {
        let err = load_text(&[
            ("site.yml", "- hosts: all\n  tasks:\n    - import_tasks: a.yml\n"),
            ("a.yml", "- import_tasks: b.yml\n"),
            ("b.yml", "- import_tasks: a.yml\n"),
        ])
        .err()
        .expect("refused");
        let d = &err.0[0];
        assert!(d.message.contains("cycle"), "{}", d.message);
        let hint = d.hint.as_deref().unwrap_or("");
        assert!(hint.contains("a.yml -> ") && hint.contains("b.yml -> "), "{hint}");
    }
}
