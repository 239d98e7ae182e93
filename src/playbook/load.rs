//! YAML nodes → a validated [`Playbook`].
//!
//! Everything that can be checked without a host is checked here, and all
//! problems are reported together: unknown keywords and modules (with "did
//! you mean"), unknown or mistyped arguments, Jinja syntax, missing template
//! files, and the classic YAML traps (`when: {{ x }}` read as a mapping,
//! `mode: 644` read as decimal).

use std::path::{Path, PathBuf};

use serde_json::Value as Json;

use super::ast::{Play, Playbook, Task};
use super::kv;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::modules::{self, spec};
use crate::suggest::closest;
use crate::template::{is_template, Templates};
use crate::yaml::{self, Key, Location, Node, NodeKind};

const PLAY_KEYWORDS: &[&str] = &[
    "name",
    "hosts",
    "vars",
    "vars_files",
    "become",
    "become_user",
    "become_method",
    "gather_facts",
    "tasks",
    "pre_tasks",
    "post_tasks",
    "handlers",
    "roles",
    "tags",
    "remote_user",
    "collections",
    "any_errors_fatal",
    "ignore_errors",
    "no_log",
    "environment",
    "strategy",
    "order",
];

const TASK_KEYWORDS: &[&str] = &[
    "name",
    "when",
    "loop",
    "with_items",
    "with_list",
    "loop_control",
    "register",
    "notify",
    "listen",
    "become",
    "become_user",
    "become_method",
    "ignore_errors",
    "tags",
    "no_log",
    "changed_when",
    "failed_when",
    "check_mode",
    "vars",
    "args",
    "run_once",
    "environment",
    "diff",
    "collections",
];

/// Loads and validates a playbook file. Warnings (duplicate keys) are
/// returned beside it.
pub fn load(path: &Path, templates: &Templates) -> Result<(Playbook, Vec<String>), Diagnostics> {
    let mut loader = Loader { templates, diags: Vec::new(), warnings: Vec::new(), next_id: 0 };
    let dir = path.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf);
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

    fn play(&mut self, node: &Node, dir: &Path) -> Option<Play> {
        let Some(map) = node.as_map() else {
            self.err(Diagnostic::new(&node.loc, format!("a play is a mapping, not {}", node.type_name())));
            return None;
        };
        self.next_id = 0;
        for (k, _) in map {
            if !PLAY_KEYWORDS.contains(&k.name.as_str()) {
                let hint = closest(&k.name, PLAY_KEYWORDS.iter().copied()).map(|s| format!("did you mean `{s}`?"));
                let hint = hint.or_else(|| {
                    modules::lookup(&k.name).map(|_| "module calls belong in `tasks:`, not directly in the play".into())
                });
                self.err(Diagnostic::new(&k.loc, format!("unknown play keyword `{}`", k.name)).maybe_hint(hint));
            }
        }
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
        let tags = self.string_list(node.get("tags"));
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
        let mut tasks = Vec::new();
        let mut handlers = Vec::new();
        let mut role_defaults = serde_json::Map::new();
        if let Some(n) = node.get("pre_tasks") {
            tasks.extend(self.task_list(n, dir, &tags, None, 0));
        }
        if let Some(roles) = node.get("roles") {
            for role in roles.as_seq().unwrap_or_default() {
                self.role(role, dir, &tags, &mut tasks, &mut handlers, &mut vars, &mut role_defaults);
            }
        }
        for key in ["tasks", "post_tasks"] {
            if let Some(n) = node.get(key) {
                tasks.extend(self.task_list(n, dir, &tags, None, 0));
            }
        }
        if let Some(n) = node.get("handlers") {
            handlers.extend(self.task_list(n, dir, &tags, None, 0));
        }
        // Role defaults rank below everything else: kept apart under a reserved key.
        if !role_defaults.is_empty() {
            vars.insert(ROLE_DEFAULTS_KEY.into(), Json::Object(role_defaults));
        }
        let gather_facts = match node.get("gather_facts") {
            Some(n) => self.bool_value(n).unwrap_or(true),
            None => true,
        };
        let name = node.get("name").and_then(Node::as_str).map_or_else(|| hosts.clone(), str::to_owned);
        Some(Play {
            name,
            hosts,
            hosts_loc: hosts_node.loc.clone(),
            vars,
            become_: node.get("become").and_then(|n| self.bool_value(n)),
            become_user: node.get("become_user").and_then(|n| self.scalar_text(n)),
            become_method: node.get("become_method").and_then(|n| self.scalar_text(n)),
            remote_user: node.get("remote_user").and_then(|n| self.scalar_text(n)),
            gather_facts,
            tasks,
            handlers,
            tags,
            loc: node.loc.clone(),
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn role(
        &mut self,
        node: &Node,
        dir: &Path,
        tags: &[String],
        tasks: &mut Vec<Task>,
        handlers: &mut Vec<Task>,
        vars: &mut serde_json::Map<String, Json>,
        defaults: &mut serde_json::Map<String, Json>,
    ) {
        let (name, extra_tags, role_vars) = match &node.kind {
            NodeKind::Str(s) => (s.clone(), Vec::new(), serde_json::Map::new()),
            NodeKind::Map(_) => {
                let Some(name) = node.get("role").or_else(|| node.get("name")).and_then(Node::as_str) else {
                    self.err(Diagnostic::new(&node.loc, "a role entry needs `role: NAME`"));
                    return;
                };
                let mut rv = serde_json::Map::new();
                for (k, v) in node.as_map().unwrap_or_default() {
                    match k.name.as_str() {
                        "role" | "name" | "tags" => {}
                        "vars" => rv.extend(self.vars_map(Some(v))),
                        other => {
                            rv.insert(other.to_owned(), v.to_json());
                        }
                    }
                }
                (name.to_owned(), self.string_list(node.get("tags")), rv)
            }
            _ => {
                self.err(Diagnostic::new(&node.loc, "a role entry is a name or a mapping"));
                return;
            }
        };
        let candidates = [dir.join("roles").join(&name), PathBuf::from("roles").join(&name)];
        let Some(role_dir) = candidates.iter().find(|p| p.is_dir()).cloned() else {
            self.err(Diagnostic::new(
                &node.loc,
                format!("role `{name}` not found (looked in {})", dir.join("roles").display()),
            ));
            return;
        };
        let mut all_tags = tags.to_vec();
        all_tags.extend(extra_tags);
        for (sub, target) in [("defaults", &mut *defaults), ("vars", &mut *vars)] {
            if let Some(file) = main_file(&role_dir.join(sub)) {
                if let Some(root) = self.read(&file) {
                    if let Json::Object(m) = root.to_json() {
                        target.extend(m);
                    }
                }
            }
        }
        vars.extend(role_vars);
        if let Some(file) = main_file(&role_dir.join("tasks")) {
            if let Some(root) = self.read(&file) {
                tasks.extend(self.task_list(&root, &role_dir.join("tasks"), &all_tags, Some(&role_dir), 0));
            }
        }
        if let Some(file) = main_file(&role_dir.join("handlers")) {
            if let Some(root) = self.read(&file) {
                handlers.extend(self.task_list(&root, &role_dir.join("handlers"), &all_tags, Some(&role_dir), 0));
            }
        }
    }

    fn task_list(&mut self, node: &Node, dir: &Path, tags: &[String], role: Option<&Path>, depth: usize) -> Vec<Task> {
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
            let import =
                ["import_tasks", "include_tasks", "ansible.builtin.import_tasks", "ansible.builtin.include_tasks"]
                    .iter()
                    .find_map(|k| item.get(k));
            if let Some(target) = import {
                let Some(file) = target.as_str().or_else(|| target.get("file").and_then(Node::as_str)) else {
                    self.err(Diagnostic::new(&target.loc, "import_tasks takes a file name"));
                    continue;
                };
                if is_template(file) || depth > 16 {
                    self.err(Diagnostic::new(
                        &target.loc,
                        "dynamic includes are not supported; name the file literally",
                    ));
                    continue;
                }
                let mut inner_tags = tags.to_vec();
                inner_tags.extend(self.string_list(item.get("tags")));
                let when = self.conditions(item.get("when"));
                let path = dir.join(file);
                if !path.exists() {
                    self.err(Diagnostic::new(
                        &target.loc,
                        format!("task file `{file}` not found (looked in {})", dir.display()),
                    ));
                    continue;
                }
                if let Some(root) = self.read(&path) {
                    let inner_dir = path.parent().unwrap_or(dir).to_path_buf();
                    for mut t in self.task_list(&root, &inner_dir, &inner_tags, role, depth + 1) {
                        t.when.splice(0..0, when.iter().cloned());
                        tasks.push(t);
                    }
                }
                continue;
            }
            if let Some(block) = item.get("block") {
                // A block without rescue/always: its tasks inherit its keywords.
                for (k, _) in item.as_map().unwrap_or_default() {
                    if matches!(k.name.as_str(), "rescue" | "always") {
                        self.err(
                            Diagnostic::new(&k.loc, format!("`{}` is not supported yet", k.name))
                                .hint("split the block into plain tasks with ignore_errors/when"),
                        );
                    }
                }
                let mut inner_tags = tags.to_vec();
                inner_tags.extend(self.string_list(item.get("tags")));
                let when = self.conditions(item.get("when"));
                let become_ = item.get("become").and_then(|n| self.bool_value(n));
                let become_user = item.get("become_user").and_then(|n| self.scalar_text(n));
                for mut t in self.task_list(block, dir, &inner_tags, role, depth + 1) {
                    t.when.splice(0..0, when.iter().cloned());
                    t.become_ = t.become_.or(become_);
                    t.become_user = t.become_user.or_else(|| become_user.clone());
                    tasks.push(t);
                }
                continue;
            }
            if let Some(t) = self.task(item, tags, role) {
                tasks.push(t);
            }
        }
        tasks
    }

    fn task(&mut self, node: &Node, tags: &[String], role: Option<&Path>) -> Option<Task> {
        let Some(map) = node.as_map() else {
            self.err(Diagnostic::new(&node.loc, format!("a task is a mapping, not {}", node.type_name())));
            return None;
        };
        let mut module: Option<(&Key, &Node)> = None;
        let before = self.diags.len();
        for (k, v) in map {
            if TASK_KEYWORDS.contains(&k.name.as_str()) {
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
            let candidates = modules::module_names().chain(TASK_KEYWORDS.iter().copied());
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
        let (loop_items, loop_flatten, loop_var, loop_label) = self.loop_spec(node);
        let mut all_tags = tags.to_vec();
        all_tags.extend(self.string_list(node.get("tags")));
        let id = self.next_id;
        self.next_id += 1;
        let flag = |l: &mut Self, key: &str| node.get(key).and_then(|n| l.bool_value(n));
        Some(Task {
            id,
            name,
            module: m,
            module_written: module_key.name.clone(),
            args,
            when: self.conditions(node.get("when")),
            loop_items,
            loop_flatten,
            loop_var,
            loop_label,
            register: node.get("register").and_then(|n| self.identifier(n, "register")),
            notify: self.string_list(node.get("notify")),
            listen: self.string_list(node.get("listen")),
            become_: flag(self, "become"),
            become_user: node.get("become_user").and_then(|n| self.scalar_text(n)),
            ignore_errors: flag(self, "ignore_errors").unwrap_or(false),
            tags: all_tags,
            no_log: flag(self, "no_log").unwrap_or(false),
            changed_when: node.get("changed_when").map(|n| self.conditions(Some(n))),
            failed_when: node.get("failed_when").map(|n| self.conditions(Some(n))),
            check_mode: flag(self, "check_mode"),
            vars: self.vars_map(node.get("vars")),
            run_once: flag(self, "run_once").unwrap_or(false),
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

    /// `loop`/`with_items`/`with_list`, whether to flatten (with_items), and `loop_control`.
    fn loop_spec(&mut self, node: &Node) -> (Option<Json>, bool, String, Option<String>) {
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
        if let Some(ctl) = node.get("loop_control") {
            for (k, v) in ctl.as_map().unwrap_or_default() {
                match k.name.as_str() {
                    "loop_var" => var = self.scalar_text(v).unwrap_or(var),
                    "label" => label = self.scalar_text(v),
                    "index_var" | "pause" | "extended" => {}
                    other => self.err(Diagnostic::new(&k.loc, format!("unknown loop_control key `{other}`"))),
                }
            }
        }
        (loop_items, flatten, var, label)
    }

    fn conditions(&mut self, node: Option<&Node>) -> Vec<String> {
        let Some(node) = node else { return Vec::new() };
        let items: Vec<&Node> = match &node.kind {
            NodeKind::Seq(items) => items.iter().collect(),
            _ => vec![node],
        };
        let mut out = Vec::new();
        for item in items {
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
