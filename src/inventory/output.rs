//! What `stead inventory --list` and `--graph` print, in the shapes of
//! `ansible-inventory --list` and `--graph`, so that scripts written against
//! Ansible's output keep working.
//!
//! As Ansible does: `--list` keeps the order in which the sources list
//! children and hosts (`all` first has `ungrouped`) and sorts object keys;
//! `--graph` sorts groups and hosts by name.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{Inventory, ALL};

/// See [`Inventory::list_json`].
pub(super) fn list_json(inv: &Inventory) -> Value {
    let mut out: BTreeMap<String, Value> = BTreeMap::new();
    let mut seen = vec![false; inv.groups.len()];
    list_group(inv, ALL, &mut out, &mut seen);
    let hostvars: Map<String, Value> = inv
        .hosts
        .iter()
        .filter_map(|h| {
            let vars = inv.merged_vars(&h.name)?;
            (!vars.is_empty()).then(|| (h.name.clone(), Value::Object(vars)))
        })
        .collect();
    let mut meta = Map::new();
    meta.insert("hostvars".into(), Value::Object(hostvars));
    out.insert("_meta".into(), Value::Object(meta));
    sorted(Value::Object(out.into_iter().collect()))
}

fn list_group(inv: &Inventory, g: usize, out: &mut BTreeMap<String, Value>, seen: &mut [bool]) {
    let group = &inv.groups[g];
    let mut entry = Map::new();
    let children = inv.groups[g].children.clone();
    if !children.is_empty() {
        let names = children.iter().map(|&c| Value::from(inv.groups[c].name.as_str())).collect();
        entry.insert("children".into(), Value::Array(names));
    }
    if g != ALL {
        let hosts = &inv.groups[g].hosts;
        if !hosts.is_empty() {
            entry.insert("hosts".into(), hosts.iter().map(|&h| Value::from(inv.hosts[h].name.as_str())).collect());
        }
    }
    for c in children {
        if !std::mem::replace(&mut seen[c], true) {
            list_group(inv, c, out, seen);
        }
    }
    if !entry.is_empty() {
        out.insert(group.name.clone(), Value::Object(entry));
    }
}

/// See [`Inventory::graph`].
pub(super) fn graph(inv: &Inventory) -> String {
    let mut lines = Vec::new();
    graph_group(inv, ALL, 0, &mut lines);
    lines.join("\n")
}

fn graph_group(inv: &Inventory, g: usize, depth: usize, lines: &mut Vec<String>) {
    lines.push(graph_line(&format!("@{}:", inv.groups[g].name), depth));
    for c in sorted_children(inv, g) {
        graph_group(inv, c, depth + 1, lines);
    }
    if g != ALL {
        for host in sorted_hosts(inv, g) {
            lines.push(graph_line(host, depth + 1));
        }
    }
}

fn graph_line(name: &str, depth: usize) -> String {
    if depth == 0 {
        name.to_owned()
    } else {
        format!("{}--{name}", "  |".repeat(depth))
    }
}

fn sorted_children(inv: &Inventory, g: usize) -> Vec<usize> {
    let mut children = inv.groups[g].children.clone();
    children.sort_by(|&a, &b| inv.groups[a].name.cmp(&inv.groups[b].name));
    children
}

/// Hosts listed directly in the group, by name.
fn sorted_hosts(inv: &Inventory, g: usize) -> Vec<&str> {
    let mut hosts: Vec<&str> = inv.groups[g].hosts.iter().map(|&h| inv.hosts[h].name.as_str()).collect();
    hosts.sort_unstable();
    hosts
}

/// `value` with the keys of every object sorted (Python's `sort_keys=True`).
pub(super) fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let sorted: BTreeMap<String, Value> = map.into_iter().map(|(k, v)| (k, sorted(v))).collect();
            Value::Object(sorted.into_iter().collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}
