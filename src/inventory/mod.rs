//! The inventory: which hosts exist, which groups they are in, and what
//! variables each one has — Ansible's model, read from Ansible's files.
//!
//! Reading is split by format (`yaml_source`, `ini`) and both write into
//! one [`Inventory`] through the same few builder methods, so a host that
//! appears in a YAML file and an INI file of the same directory is one host.
//! After all sources are read, `Inventory::reconcile` does what Ansible's
//! `reconcile_inventory` does: groups without a parent become children of
//! `all`, hosts in no group land in `ungrouped`, and each group gets its
//! depth (which orders variable precedence).
//!
//! Variables are merged on demand ([`Inventory::host_vars`]) in Ansible's
//! default `VARIABLE_PRECEDENCE`, lowest first:
//!
//! 1. inline vars of `all`, then of the host's other groups (ordered by depth,
//!    `ansible_group_priority`, name),
//! 2. `group_vars/all` beside the inventory, then beside the playbook,
//! 3. `group_vars/<group>` beside the inventory, then beside the playbook,
//! 4. inline host vars, then `host_vars/<host>` beside the inventory, then
//!    beside the playbook.
//!
//! This stage never contacts a host and never evaluates templates: values are
//! data, and `{{ ... }}` in them is left for the template stage.

pub mod connection;
mod constructed;
mod error;
mod ini;
mod literal;
mod output;
mod pattern;
mod range;
mod script;
mod source;
mod vars_dir;
mod yaml_source;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

pub use error::InventoryError;
pub use script::TIMEOUT_VAR as SCRIPT_TIMEOUT_VAR;

use crate::yaml::Location;
use vars_dir::VarsDir;

/// Variables as the rest of stead sees them.
type Vars = serde_json::Map<String, Value>;

/// Index of the `all` group.
const ALL: usize = 0;
/// Index of the `ungrouped` group.
const UNGROUPED: usize = 1;
/// Names that mean this machine when the inventory does not define them
/// (Ansible's implicit localhost, `C.LOCALHOST`).
const IMPLICIT_LOCAL: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// Hosts, groups and their variables, loaded from inventory sources.
///
/// Host order is the order in which hosts first appear in the sources, and
/// every list this type returns follows it.
#[derive(Debug, Clone)]
pub struct Inventory {
    hosts: Vec<Host>,
    host_index: HashMap<String, usize>,
    groups: Vec<Group>,
    group_index: HashMap<String, usize>,
    /// `group_vars/` and `host_vars/` beside the inventory sources.
    inventory_vars: Vec<VarsDir>,
    /// `group_vars/` and `host_vars/` beside playbooks, in the order added.
    playbook_vars: Vec<VarsDir>,
    /// Per group: every host in it or its descendants, in inventory order.
    members: Vec<Vec<usize>>,
    /// The `groups` magic variable, computed once.
    groups_var: Value,
    /// Non-fatal findings (duplicate YAML keys), each located.
    warnings: Vec<String>,
}

#[derive(Debug, Clone)]
struct Host {
    name: String,
    /// Inline vars from the inventory files (last definition wins).
    vars: Vars,
    /// Groups the host is listed in directly.
    groups: Vec<usize>,
    /// The file that first defined the host (`inventory_file`).
    source: PathBuf,
}

#[derive(Debug, Clone)]
struct Group {
    name: String,
    /// Inline vars from the inventory files.
    vars: Vars,
    /// Hosts listed directly in the group.
    hosts: Vec<usize>,
    children: Vec<usize>,
    parents: Vec<usize>,
    /// Longest path from `all` (which has depth 0).
    depth: usize,
}

impl Default for Inventory {
    /// An inventory with no hosts: only `all` and `ungrouped`, and the
    /// implicit localhost.
    fn default() -> Self {
        let mut inv = Inventory {
            hosts: Vec::new(),
            host_index: HashMap::new(),
            groups: Vec::new(),
            group_index: HashMap::new(),
            inventory_vars: Vec::new(),
            playbook_vars: Vec::new(),
            members: Vec::new(),
            groups_var: Value::Null,
            warnings: Vec::new(),
        };
        inv.group_id("all");
        inv.group_id("ungrouped");
        inv.link(ALL, UNGROUPED);
        inv.reconcile();
        inv
    }
}

impl Inventory {
    /// Loads inventory sources: YAML files, INI files, or directories of them
    /// (every file in the directory, recursively and sorted by name, skipping
    /// `group_vars/`, `host_vars/`, hidden files and Ansible's ignored
    /// extensions: `.md`, `.txt`, `~`, `.retry`, `.bak`, ...). An empty slice
    /// gives an empty inventory (only the implicit localhost).
    ///
    /// `group_vars/` and `host_vars/` beside each source (in the directory
    /// itself for a directory source) are read too.
    ///
    /// # Errors
    ///
    /// A missing or unreadable source, invalid YAML, or an inventory or vars
    /// file that does not have Ansible's structure; each names its
    /// `file:line:column` where known.
    pub fn load(sources: &[PathBuf]) -> Result<Inventory, InventoryError> {
        let mut inv = Inventory::default();
        let mut base_dirs: Vec<PathBuf> = Vec::new();
        for path in sources {
            source::load_source(&mut inv, path)?;
            let base = if path.is_dir() {
                path.clone()
            } else {
                match path.parent() {
                    Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                    _ => PathBuf::from("."),
                }
            };
            if !base_dirs.contains(&base) {
                base_dirs.push(base);
            }
        }
        inv.reconcile();
        for dir in base_dirs {
            let layer = vars_dir::load(&dir, &inv)?;
            inv.warnings.extend(layer.warnings.iter().cloned());
            inv.inventory_vars.push(layer);
        }
        Ok(inv)
    }

    /// Adds `group_vars/` and `host_vars/` found in `dir` (the playbook's
    /// folder); these take precedence over the inventory-adjacent ones, and a
    /// later call over an earlier one. Files are `group_vars/NAME.yml`,
    /// `.yaml`, `.json` or without extension, or a `group_vars/NAME/`
    /// directory of such files (merged in name order). A missing
    /// `group_vars/` or `host_vars/` is not an error. Adding the same
    /// directory twice has no further effect.
    ///
    /// # Errors
    ///
    /// An unreadable directory, invalid YAML, or a vars file that is not a
    /// mapping.
    pub fn add_vars_dir(&mut self, dir: &Path) -> Result<(), InventoryError> {
        let key = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        if self.playbook_vars.iter().any(|l| l.dir == key) {
            return Ok(());
        }
        let mut layer = vars_dir::load(dir, self)?;
        layer.dir = key;
        self.warnings.extend(layer.warnings.iter().cloned());
        self.playbook_vars.push(layer);
        Ok(())
    }

    /// Hosts matching an Ansible host pattern, in inventory order,
    /// deduplicated.
    ///
    /// Patterns: `all`, `*`, a host or group name, globs (`*.example.com`,
    /// `web*`), ranges (`h[1:3]`, `web[01:10]`), subscripts of a group
    /// (`web[0]`, `web[-1]`, `web[0:2]`, when `web` is a group), `~regex`
    /// (anchored at the start, as in Ansible), unions separated by commas or
    /// colons (`web,db`, `web:db`), `:&` intersection and `:!` / `!`
    /// exclusion (applied after all unions, so `!h3` alone means all but
    /// `h3`).
    ///
    /// A plain name that is neither a host nor a group is an
    /// [`InventoryError::UnknownPattern`] with a "did you mean" hint; a glob,
    /// range or regex that matches nothing gives `Ok` with no hosts.
    /// `localhost`, `127.0.0.1` and `::1` resolve to the implicit local host
    /// (`ansible_connection=local`) when the inventory does not define them,
    /// also when the inventory is empty; `all` never includes it.
    ///
    /// # Errors
    ///
    /// [`InventoryError::UnknownPattern`] as above;
    /// [`InventoryError::BadPattern`] for an invalid regex or range, or a
    /// subscript past the end of its group.
    pub fn select(&self, pattern: &str) -> Result<Vec<String>, InventoryError> {
        pattern::select(self, pattern)
    }

    /// Every variable of a host, merged in Ansible's precedence order (see the
    /// module documentation), plus the magic variables `inventory_hostname`,
    /// `inventory_hostname_short`, `group_names` (sorted, without `all`),
    /// `groups` (every group, `all` and `ungrouped` included, to its hosts),
    /// `inventory_file` and `inventory_dir`.
    ///
    /// `None` for an unknown host, except the implicit localhost names.
    pub fn host_vars(&self, host: &str) -> Option<serde_json::Map<String, Value>> {
        let mut vars = self.merged_vars(host)?;
        let index = self.host_index.get(host).copied();
        vars.insert("inventory_hostname".into(), host.into());
        vars.insert("inventory_hostname_short".into(), short_name(host).into());
        let group_names: Vec<Value> = match index {
            Some(h) => {
                let mut names: Vec<&str> =
                    self.host_groups(h).into_iter().map(|g| self.groups[g].name.as_str()).collect();
                names.sort_unstable();
                names.into_iter().map(Value::from).collect()
            }
            None => Vec::new(),
        };
        vars.insert("group_names".into(), Value::Array(group_names));
        vars.insert("groups".into(), self.groups_var.clone());
        if let Some(h) = index {
            let file = &self.hosts[h].source;
            let dir = file.parent().unwrap_or(Path::new(""));
            vars.insert("inventory_file".into(), file.display().to_string().into());
            vars.insert("inventory_dir".into(), dir.display().to_string().into());
        }
        Some(vars)
    }

    /// All host names, in inventory order (the implicit localhost is not one).
    pub fn hosts(&self) -> Vec<String> {
        self.hosts.iter().map(|h| h.name.clone()).collect()
    }

    /// All group names, `all` and `ungrouped` first, then in the order the
    /// sources define them.
    pub fn groups(&self) -> Vec<String> {
        self.groups.iter().map(|g| g.name.clone()).collect()
    }

    /// Non-fatal findings while loading (duplicate YAML keys), each starting
    /// with its `file:line:column`.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// `stead inventory --list`: JSON in the shape of `ansible-inventory
    /// --list`: `_meta.hostvars` (each host's merged variables, without magic
    /// variables; hosts without variables left out), `all.children`, and per
    /// group its direct `hosts` and `children`, sorted by name, empty keys and
    /// empty groups left out. Object keys are sorted, as Ansible prints them.
    pub fn list_json(&self) -> Value {
        output::list_json(self)
    }

    /// `stead inventory --graph`: the group tree as `ansible-inventory
    /// --graph` draws it (`@all:`, `  |--@web:`, `  |  |--web1`), children and
    /// hosts sorted by name. Lines are joined by `\n`, without a trailing
    /// newline.
    pub fn graph(&self) -> String {
        output::graph(self)
    }

    /// `stead inventory --host NAME`: that host's merged variables as a JSON
    /// object with sorted keys (no magic variables, as Ansible prints it).
    /// `None` for an unknown host, except the implicit localhost names.
    pub fn host_json(&self, host: &str) -> Option<Value> {
        self.merged_vars(host).map(|vars| output::sorted(Value::Object(vars)))
    }

    // ---- building (used by the format readers) ----

    /// The group named `name`, created when new.
    fn group_id(&mut self, name: &str) -> usize {
        if let Some(&g) = self.group_index.get(name) {
            return g;
        }
        let g = self.groups.len();
        self.groups.push(Group {
            name: name.to_owned(),
            vars: Vars::new(),
            hosts: Vec::new(),
            children: Vec::new(),
            parents: Vec::new(),
            depth: 0,
        });
        self.group_index.insert(name.to_owned(), g);
        g
    }

    /// The host named `name`, created (and first defined by `source`) when new.
    fn host_id(&mut self, name: &str, source: &Path) -> usize {
        if let Some(&h) = self.host_index.get(name) {
            return h;
        }
        let h = self.hosts.len();
        self.hosts.push(Host {
            name: name.to_owned(),
            vars: Vars::new(),
            groups: Vec::new(),
            source: std::path::absolute(source).unwrap_or_else(|_| source.to_path_buf()),
        });
        self.host_index.insert(name.to_owned(), h);
        h
    }

    /// Lists `host` directly in `group`.
    fn add_to_group(&mut self, host: usize, group: usize) {
        if !self.hosts[host].groups.contains(&group) {
            self.hosts[host].groups.push(group);
            self.groups[group].hosts.push(host);
        }
    }

    /// Makes `child` a child of `parent`, refusing loops.
    fn add_child(&mut self, parent: usize, child: usize, loc: &Location) -> Result<(), InventoryError> {
        if child == ALL || child == parent || self.is_ancestor(child, parent) {
            return Err(InventoryError::Cycle {
                loc: loc.clone(),
                parent: self.groups[parent].name.clone(),
                child: self.groups[child].name.clone(),
            });
        }
        self.link(parent, child);
        Ok(())
    }

    fn link(&mut self, parent: usize, child: usize) {
        if !self.groups[parent].children.contains(&child) {
            self.groups[parent].children.push(child);
            self.groups[child].parents.push(parent);
        }
    }

    /// Whether `ancestor` is `group` or above it.
    fn is_ancestor(&self, ancestor: usize, group: usize) -> bool {
        let mut stack = vec![group];
        let mut seen = vec![false; self.groups.len()];
        while let Some(g) = stack.pop() {
            if g == ancestor {
                return true;
            }
            if !std::mem::replace(&mut seen[g], true) {
                stack.extend(&self.groups[g].parents);
            }
        }
        false
    }

    /// Ansible's `reconcile_inventory`, plus the caches that depend on group
    /// membership. Run once after all sources are read.
    fn reconcile(&mut self) {
        for g in 0..self.groups.len() {
            if g != ALL && self.groups[g].parents.is_empty() {
                self.link(ALL, g);
            }
        }
        self.groups[UNGROUPED].hosts.clear();
        for h in 0..self.hosts.len() {
            self.hosts[h].groups.retain(|&g| g != UNGROUPED);
            if self.hosts[h].groups.iter().all(|&g| g == ALL) {
                self.hosts[h].groups.push(UNGROUPED);
                self.groups[UNGROUPED].hosts.push(h);
            }
        }
        let mut depths = vec![None; self.groups.len()];
        for g in 0..self.groups.len() {
            let depth = self.depth(g, &mut depths);
            self.groups[g].depth = depth;
        }
        self.members = (0..self.groups.len()).map(|g| self.collect_members(g)).collect();
        let groups_var: serde_json::Map<String, Value> = self
            .groups
            .iter()
            .enumerate()
            .map(|(g, group)| {
                let hosts = self.members[g].iter().map(|&h| Value::from(self.hosts[h].name.as_str())).collect();
                (group.name.clone(), Value::Array(hosts))
            })
            .collect();
        self.groups_var = Value::Object(groups_var);
    }

    fn depth(&self, g: usize, memo: &mut Vec<Option<usize>>) -> usize {
        if let Some(d) = memo[g] {
            return d;
        }
        let d = self.groups[g].parents.clone().into_iter().map(|p| self.depth(p, memo) + 1).max().unwrap_or(0);
        memo[g] = Some(d);
        d
    }

    /// Every host in `group` or its descendants, in inventory order.
    fn collect_members(&self, group: usize) -> Vec<usize> {
        if group == ALL {
            return (0..self.hosts.len()).collect();
        }
        let mut hit = vec![false; self.hosts.len()];
        let mut seen = vec![false; self.groups.len()];
        let mut stack = vec![group];
        while let Some(g) = stack.pop() {
            if std::mem::replace(&mut seen[g], true) {
                continue;
            }
            for &h in &self.groups[g].hosts {
                hit[h] = true;
            }
            stack.extend(&self.groups[g].children);
        }
        (0..self.hosts.len()).filter(|&h| hit[h]).collect()
    }

    // ---- reading variables ----

    /// The host's groups and their ancestors, without `all`, in precedence
    /// order (lowest first): depth, then `ansible_group_priority`, then name.
    fn host_groups(&self, host: usize) -> Vec<usize> {
        let mut seen = vec![false; self.groups.len()];
        let mut stack = self.hosts[host].groups.clone();
        let mut out = Vec::new();
        while let Some(g) = stack.pop() {
            if std::mem::replace(&mut seen[g], true) {
                continue;
            }
            if g != ALL {
                out.push(g);
            }
            stack.extend(&self.groups[g].parents);
        }
        out.sort_by(|&a, &b| {
            let (a, b) = (&self.groups[a], &self.groups[b]);
            (a.depth, priority(a), &a.name).cmp(&(b.depth, priority(b), &b.name))
        });
        out
    }

    /// The host's variables without magic variables; `None` for an unknown
    /// host that is not an implicit localhost name.
    fn merged_vars(&self, host: &str) -> Option<Vars> {
        let index = match self.host_index.get(host) {
            Some(&h) => Some(h),
            None if IMPLICIT_LOCAL.contains(&host) => None,
            None => return None,
        };
        let groups = index.map(|h| self.host_groups(h)).unwrap_or_default();
        let layers = || self.inventory_vars.iter().chain(&self.playbook_vars);
        let mut out = Vars::new();
        merge(&mut out, &self.groups[ALL].vars);
        for &g in &groups {
            merge(&mut out, &self.groups[g].vars);
        }
        for layer in layers() {
            if let Some(vars) = layer.groups.get("all") {
                merge(&mut out, vars);
            }
        }
        for layer in layers() {
            for &g in &groups {
                if let Some(vars) = layer.groups.get(&self.groups[g].name) {
                    merge(&mut out, vars);
                }
            }
        }
        match index {
            Some(h) => merge(&mut out, &self.hosts[h].vars),
            None => {
                out.insert("ansible_connection".into(), "local".into());
            }
        }
        for layer in layers() {
            if let Some(vars) = layer.hosts.get(host) {
                merge(&mut out, vars);
            }
        }
        Some(out)
    }
}

/// Ansible's `combine_vars` with the default `hash_behaviour = replace`.
fn merge(into: &mut Vars, from: &Vars) {
    for (k, v) in from {
        into.insert(k.clone(), v.clone());
    }
}

/// A group's `ansible_group_priority` (default 1), from its inline vars.
fn priority(group: &Group) -> i64 {
    match group.vars.get("ansible_group_priority") {
        Some(Value::Number(n)) => n.as_i64().unwrap_or(1),
        Some(Value::String(s)) => s.trim().parse().unwrap_or(1),
        _ => 1,
    }
}

/// `inventory_hostname_short`: up to the first dot, but an IP address whole.
fn short_name(host: &str) -> &str {
    if host.parse::<std::net::IpAddr>().is_ok() {
        host
    } else {
        host.split('.').next().unwrap_or(host)
    }
}
