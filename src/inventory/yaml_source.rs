//! Ansible's YAML inventory format: top-level keys are groups (usually just
//! `all`), each a mapping of `hosts` (name → vars or nothing), `children`
//! (name → group, recursively) and `vars`.
//!
//! Stricter than Ansible on purpose: where Ansible warns and skips (an
//! unknown key in a group, a list where a mapping belongs), we stop with the
//! location, because a skipped key is a host that silently never gets
//! configured.

use std::path::Path;

use serde_json::Value;

use super::error::{did_you_mean, InventoryError};
use super::{range, Inventory};
use crate::yaml::{Key, Node, NodeKind};

/// The keys a group may have.
const GROUP_KEYS: [&str; 3] = ["hosts", "children", "vars"];

/// Reads a parsed YAML inventory file into `inv`.
pub(super) fn parse(inv: &mut Inventory, root: &Node, path: &Path) -> Result<(), InventoryError> {
    let entries = match &root.kind {
        NodeKind::Null => return Ok(()),
        NodeKind::Map(entries) => entries,
        _ => {
            return Err(InventoryError::Invalid {
                loc: root.loc.clone(),
                message: format!("a YAML inventory must be a mapping of group names, not {}", root.type_name()),
                hint: Some("start the file with `all:` and list hosts under `hosts:`".into()),
            })
        }
    };
    if let Some((key, node)) = entries.iter().find(|(k, _)| k.name == "plugin") {
        let name = node.to_json();
        if matches!(name.as_str(), Some("constructed" | "ansible.builtin.constructed")) {
            return super::constructed::apply(inv, entries);
        }
        return Err(InventoryError::Invalid {
            loc: key.loc.clone(),
            message: format!("the inventory plugin {name} is not supported (only `constructed` is)"),
            hint: Some(
                "write its hosts to a file with `ansible-inventory -i CONFIG --list > inventory.json` and pass that with -i".into(),
            ),
        });
    }
    for (key, node) in entries {
        group(inv, path, key, node, None)?;
    }
    Ok(())
}

fn group(
    inv: &mut Inventory,
    path: &Path,
    key: &Key,
    node: &Node,
    parent: Option<usize>,
) -> Result<(), InventoryError> {
    let g = inv.group_id(&key.name);
    if let Some(p) = parent {
        inv.add_child(p, g, &key.loc)?;
    }
    let entries = match &node.kind {
        NodeKind::Null => return Ok(()),
        NodeKind::Map(entries) => entries,
        _ => {
            return Err(InventoryError::Invalid {
                loc: node.loc.clone(),
                message: format!(
                    "group `{}` must be a mapping with `hosts`, `children` or `vars`, not {}",
                    key.name,
                    node.type_name()
                ),
                hint: None,
            })
        }
    };
    for (k, v) in entries {
        match k.name.as_str() {
            "hosts" => hosts(inv, path, &key.name, g, v)?,
            "children" => children(inv, path, &key.name, g, v)?,
            "vars" => vars(inv, &key.name, g, v)?,
            other => {
                return Err(InventoryError::UnknownKey {
                    loc: k.loc.clone(),
                    group: key.name.clone(),
                    key: other.to_owned(),
                    hint: Some(did_you_mean(other, GROUP_KEYS).unwrap_or_else(|| {
                        format!("list a host `{other}` under `hosts:`, or a group `{other}` under `children:`")
                    })),
                })
            }
        }
    }
    Ok(())
}

fn hosts(inv: &mut Inventory, path: &Path, group: &str, g: usize, node: &Node) -> Result<(), InventoryError> {
    match &node.kind {
        NodeKind::Null => Ok(()),
        NodeKind::Str(name) => {
            let key = Key { name: name.clone(), loc: node.loc.clone() };
            host(inv, path, g, &key, None)
        }
        NodeKind::Map(entries) => {
            for (key, vars) in entries {
                host(inv, path, g, key, Some(vars))?;
            }
            Ok(())
        }
        _ => Err(InventoryError::Invalid {
            loc: node.loc.clone(),
            message: format!("`hosts` of group `{group}` must be a mapping of host names, not {}", node.type_name()),
            hint: Some(
                "write each host as `name:` on its own line (no `-`), with its variables indented below it".into(),
            ),
        }),
    }
}

fn host(inv: &mut Inventory, path: &Path, g: usize, key: &Key, vars: Option<&Node>) -> Result<(), InventoryError> {
    let vars = match vars.map(|n| (n, &n.kind)) {
        None | Some((_, NodeKind::Null)) => serde_json::Map::new(),
        Some((_, NodeKind::Map(entries))) => entries.iter().map(|(k, v)| (k.name.clone(), v.to_json())).collect(),
        Some((node, _)) => {
            return Err(InventoryError::Invalid {
                loc: node.loc.clone(),
                message: format!(
                    "host `{}` must map to its variables (a mapping) or to nothing, not {}",
                    key.name,
                    node.type_name()
                ),
                hint: Some("write variables as `name: value` lines indented below the host".into()),
            })
        }
    };
    add_hosts(inv, path, g, key, vars)
}

/// Adds the host(s) a key stands for (ranges expanded, `:port` split off)
/// to group `g` with `vars`. Shared with the INI reader.
pub(super) fn add_hosts(
    inv: &mut Inventory,
    path: &Path,
    g: usize,
    key: &Key,
    mut vars: serde_json::Map<String, Value>,
) -> Result<(), InventoryError> {
    let (name, port) = range::split_port(&key.name);
    if name.is_empty() {
        return Err(InventoryError::Invalid {
            loc: key.loc.clone(),
            message: "a host name is empty".into(),
            hint: None,
        });
    }
    let names = if range::has_range(&name) {
        range::expand(&name).map_err(|reason| InventoryError::Range {
            loc: key.loc.clone(),
            name: key.name.clone(),
            reason,
        })?
    } else {
        vec![name]
    };
    if let Some(port) = port {
        vars.insert("ansible_port".into(), port.into());
    }
    for name in names {
        let h = inv.host_id(&name, path);
        inv.add_to_group(h, g);
        for (k, v) in &vars {
            inv.hosts[h].vars.insert(k.clone(), v.clone());
        }
    }
    Ok(())
}

fn children(inv: &mut Inventory, path: &Path, group_name: &str, g: usize, node: &Node) -> Result<(), InventoryError> {
    match &node.kind {
        NodeKind::Null => Ok(()),
        NodeKind::Str(name) => {
            let key = Key { name: name.clone(), loc: node.loc.clone() };
            let null = Node { kind: NodeKind::Null, loc: node.loc.clone(), raw: None };
            group(inv, path, &key, &null, Some(g))
        }
        NodeKind::Map(entries) => {
            for (key, child) in entries {
                group(inv, path, key, child, Some(g))?;
            }
            Ok(())
        }
        _ => Err(InventoryError::Invalid {
            loc: node.loc.clone(),
            message: format!(
                "`children` of group `{group_name}` must be a mapping of group names, not {}",
                node.type_name()
            ),
            hint: Some("write each child group as `name:` on its own line (no `-`)".into()),
        }),
    }
}

fn vars(inv: &mut Inventory, group_name: &str, g: usize, node: &Node) -> Result<(), InventoryError> {
    match &node.kind {
        NodeKind::Null => Ok(()),
        NodeKind::Map(entries) => {
            for (k, v) in entries {
                inv.groups[g].vars.insert(k.name.clone(), v.to_json());
            }
            Ok(())
        }
        _ => Err(InventoryError::Invalid {
            loc: node.loc.clone(),
            message: format!("`vars` of group `{group_name}` must be a mapping, not {}", node.type_name()),
            hint: Some("write variables as `name: value` lines".into()),
        }),
    }
}
