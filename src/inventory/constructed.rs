//! Ansible's `constructed` inventory plugin: a YAML source that says
//! `plugin: constructed` adds variables (`compose`), groups from conditions
//! (`groups`) and groups from variable values (`keyed_groups`) to the hosts
//! the sources before it defined.
//!
//! The one place where the inventory stage evaluates Jinja: the expressions
//! see what Ansible's plugin sees, each host's inline inventory variables
//! (its groups' and its own, merged by depth) plus `inventory_hostname`,
//! `inventory_hostname_short` and `group_names`; `group_vars/` files are
//! not read here (Ansible's `use_vars_plugins`, refused). As in Ansible, an
//! expression that fails for a host is skipped for that host unless
//! `strict: true`, which makes it an error.

use serde_json::{Map, Value};

use super::error::InventoryError;
use super::Inventory;
use crate::template::Templates;
use crate::yaml::{Key, Location, Node, NodeKind};

/// The options stead implements.
const OPTIONS: [&str; 6] = ["plugin", "strict", "compose", "groups", "keyed_groups", "leading_separator"];
/// Options of Ansible's plugin that stead refuses, with the reason.
const REFUSED: [(&str, &str); 7] = [
    ("use_vars_plugins", "group_vars/ and host_vars/ are read after all sources, not during construction"),
    ("use_extra_vars", "extra vars are not part of inventory construction in stead"),
    ("cache", "stead keeps no inventory cache"),
    ("cache_plugin", "stead keeps no inventory cache"),
    ("cache_timeout", "stead keeps no inventory cache"),
    ("cache_connection", "stead keeps no inventory cache"),
    ("cache_prefix", "stead keeps no inventory cache"),
];
const KEYED_OPTIONS: [&str; 6] = ["key", "prefix", "separator", "default_value", "trailing_separator", "parent_group"];

fn invalid(loc: &Location, message: impl Into<String>, hint: Option<String>) -> InventoryError {
    InventoryError::Invalid { loc: loc.clone(), message: message.into(), hint }
}

/// One `keyed_groups` entry.
struct Keyed {
    loc: Location,
    key: String,
    prefix: String,
    separator: String,
    default_value: Option<String>,
    trailing_separator: Option<bool>,
    parent_group: Option<String>,
}

struct Config {
    strict: bool,
    leading_separator: bool,
    compose: Vec<(Key, String)>,
    groups: Vec<(Key, String)>,
    keyed: Vec<Keyed>,
}

fn text(node: &Node) -> Option<String> {
    match node.to_json() {
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn boolean(node: &Node, name: &str) -> Result<bool, InventoryError> {
    match node.to_json() {
        Value::Bool(b) => Ok(b),
        Value::String(s) => crate::modules::spec::parse_bool(&s)
            .ok_or_else(|| invalid(&node.loc, format!("`{name}` must be a boolean"), None)),
        _ => Err(invalid(&node.loc, format!("`{name}` must be a boolean"), None)),
    }
}

fn expressions(node: &Node, name: &str) -> Result<Vec<(Key, String)>, InventoryError> {
    match &node.kind {
        NodeKind::Null => Ok(Vec::new()),
        NodeKind::Map(entries) => entries
            .iter()
            .map(|(k, v)| {
                let expr = text(v).ok_or_else(|| {
                    invalid(&v.loc, format!("`{name}.{}` must be a Jinja expression (a string)", k.name), None)
                })?;
                Ok((k.clone(), expr))
            })
            .collect(),
        _ => Err(invalid(&node.loc, format!("`{name}` must be a mapping of names to expressions"), None)),
    }
}

fn parse(entries: &[(Key, Node)]) -> Result<Config, InventoryError> {
    let mut config =
        Config { strict: false, leading_separator: true, compose: Vec::new(), groups: Vec::new(), keyed: Vec::new() };
    for (key, node) in entries {
        match key.name.as_str() {
            "plugin" => {}
            "strict" => config.strict = boolean(node, "strict")?,
            "leading_separator" => config.leading_separator = boolean(node, "leading_separator")?,
            "compose" => config.compose = expressions(node, "compose")?,
            "groups" => config.groups = expressions(node, "groups")?,
            "keyed_groups" => {
                let items = match &node.kind {
                    NodeKind::Null => &[][..],
                    NodeKind::Seq(items) => items,
                    _ => return Err(invalid(&node.loc, "`keyed_groups` must be a list", None)),
                };
                for item in items {
                    config.keyed.push(keyed(item)?);
                }
            }
            other => {
                if let Some((_, reason)) = REFUSED.iter().find(|(n, _)| *n == other) {
                    return Err(invalid(
                        &key.loc,
                        format!("stead does not support the constructed option `{other}`: {reason}"),
                        None,
                    ));
                }
                let hint =
                    crate::suggest::closest(other, OPTIONS.iter().copied()).map(|s| format!("did you mean `{s}`?"));
                return Err(invalid(&key.loc, format!("unknown constructed option `{other}`"), hint));
            }
        }
    }
    Ok(config)
}

fn keyed(item: &Node) -> Result<Keyed, InventoryError> {
    let NodeKind::Map(entries) = &item.kind else {
        return Err(invalid(&item.loc, "a `keyed_groups` entry must be a mapping with `key`", None));
    };
    let mut k = Keyed {
        loc: item.loc.clone(),
        key: String::new(),
        prefix: String::new(),
        separator: "_".into(),
        default_value: None,
        trailing_separator: None,
        parent_group: None,
    };
    for (key, node) in entries {
        let value = || text(node).ok_or_else(|| invalid(&node.loc, format!("`{}` must be a string", key.name), None));
        match key.name.as_str() {
            "key" => k.key = value()?,
            "prefix" => k.prefix = value()?,
            "separator" => k.separator = value()?,
            "default_value" => k.default_value = Some(value()?),
            "trailing_separator" => k.trailing_separator = Some(boolean(node, "trailing_separator")?),
            "parent_group" => k.parent_group = Some(value()?),
            other => {
                let hint = crate::suggest::closest(other, KEYED_OPTIONS.iter().copied())
                    .map(|s| format!("did you mean `{s}`?"));
                return Err(invalid(&key.loc, format!("unknown `keyed_groups` option `{other}`"), hint));
            }
        }
    }
    if k.key.is_empty() {
        return Err(invalid(&item.loc, "a `keyed_groups` entry needs `key`", None));
    }
    if k.default_value.is_some() && k.trailing_separator.is_some() {
        return Err(invalid(&item.loc, "`default_value` and `trailing_separator` cannot be used together", None));
    }
    Ok(k)
}

/// What a host's expressions see.
fn host_view(inv: &Inventory, h: usize) -> Map<String, Value> {
    let name = inv.hosts[h].name.clone();
    let mut vars = inv.merged_vars(&name).unwrap_or_default();
    let short = name.split('.').next().unwrap_or(&name).to_owned();
    let mut groups: Vec<String> =
        inv.host_groups(h).into_iter().map(|g| inv.groups[g].name.clone()).filter(|g| g != "all").collect();
    groups.sort();
    vars.insert("inventory_hostname".into(), name.into());
    vars.insert("inventory_hostname_short".into(), short.into());
    vars.insert("group_names".into(), groups.into());
    vars
}

/// Ansible's `to_safe_group_name` as constructed groups get it: every
/// character that is not a word character, and a leading digit, becomes `_`.
fn safe_group_name(name: &str) -> String {
    name.chars()
        .enumerate()
        .map(|(i, c)| if c.is_alphanumeric() && !(i == 0 && c.is_ascii_digit()) || c == '_' { c } else { '_' })
        .collect()
}

/// A composed value as Ansible's (non-native) templating leaves it: a lone
/// variable keeps its number or boolean; otherwise numbers become text and
/// `none` the empty string, while booleans, lists and mappings survive
/// (Ansible reads them back from their text).
fn as_ansible_composes(expr: &str, value: Value, vars: &Map<String, Value>) -> Value {
    let lone = expr.trim();
    let is_name = !lone.is_empty() && lone.chars().all(|c| c.is_alphanumeric() || c == '_');
    if is_name && vars.get(lone).is_some_and(|v| v.is_number() || v.is_boolean()) {
        return value;
    }
    match value {
        Value::Null => Value::String(String::new()),
        Value::Number(n) => Value::String(n.to_string()),
        other => other,
    }
}

fn scalar_name(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Applies a constructed source to the hosts defined so far.
pub(super) fn apply(inv: &mut Inventory, entries: &[(Key, Node)]) -> Result<(), InventoryError> {
    let config = parse(entries)?;
    let templates = Templates::new();
    inv.reconcile();
    for h in 0..inv.hosts.len() {
        let host = inv.hosts[h].name.clone();
        let vars = host_view(inv, h);
        let view = crate::template::context(&vars);
        let mut composed = Vec::new();
        for (key, expr) in &config.compose {
            match templates.eval(expr, &view) {
                Ok(value) => composed.push((key.name.clone(), as_ansible_composes(expr, value, &vars))),
                Err(e) if config.strict => {
                    return Err(invalid(&key.loc, format!("could not set `{}` for host {host}: {e}", key.name), None));
                }
                Err(_) => {}
            }
        }
        for (name, value) in composed {
            inv.hosts[h].vars.insert(name, value);
        }
        let view = crate::template::context(&host_view(inv, h));
        let mut joins: Vec<(String, Option<String>)> = Vec::new();
        for (key, condition) in &config.groups {
            match templates.condition(condition, &view) {
                Ok(true) => joins.push((safe_group_name(&key.name), None)),
                Ok(false) => {}
                Err(e) if config.strict => {
                    return Err(invalid(
                        &key.loc,
                        format!("could not add host {host} to group `{}`: {e}", key.name),
                        None,
                    ));
                }
                Err(_) => {}
            }
        }
        for k in &config.keyed {
            let value = match templates.eval(&k.key, &view) {
                Ok(v) => v,
                Err(e) if config.strict => {
                    return Err(invalid(
                        &k.loc,
                        format!("could not make a group for host {host} from `{}`: {e}", k.key),
                        None,
                    ));
                }
                Err(_) => continue,
            };
            let empty_with_default = value == Value::String(String::new()) && k.default_value.is_some();
            if !crate::template::truthy(&value) && !empty_with_default {
                if config.strict && value != Value::Array(Vec::new()) && value != Value::Object(Map::new()) {
                    return Err(invalid(&k.loc, format!("`{}` is empty for host {host}", k.key), None));
                }
                continue;
            }
            let or_default = |name: String| match (&k.default_value, name.is_empty()) {
                (Some(d), true) => d.clone(),
                _ => name,
            };
            let bare: Vec<String> = match &value {
                Value::Array(items) => items.iter().map(|i| or_default(scalar_name(i))).collect(),
                Value::Object(map) => map
                    .iter()
                    .map(|(name, v)| {
                        let v = scalar_name(v);
                        match (&k.default_value, v.is_empty(), k.trailing_separator) {
                            (Some(d), true, _) => format!("{name}{}{d}", k.separator),
                            (None, true, Some(false)) => name.clone(),
                            _ => format!("{name}{}{v}", k.separator),
                        }
                    })
                    .collect(),
                Value::String(_) | Value::Number(_) | Value::Bool(_) => vec![or_default(scalar_name(&value))],
                _ => return Err(invalid(&k.loc, format!("`{}` must give a string, a list or a mapping", k.key), None)),
            };
            let parent = match &k.parent_group {
                Some(p) => match templates.render_str(p, &view) {
                    Ok(v) => Some(safe_group_name(&scalar_name(&v))),
                    Err(e) if config.strict => {
                        return Err(invalid(&k.loc, format!("could not make parent group `{p}`: {e}"), None));
                    }
                    Err(_) => continue,
                },
                None => None,
            };
            let sep = if k.prefix.is_empty() && !config.leading_separator { "" } else { k.separator.as_str() };
            for name in bare {
                joins.push((safe_group_name(&format!("{}{sep}{name}", k.prefix)), parent.clone()));
            }
        }
        for (group, parent) in joins {
            let g = inv.group_id(&group);
            inv.add_to_group(h, g);
            if let Some(parent) = parent {
                let p = inv.group_id(&parent);
                if p != g && !inv.is_ancestor(g, p) {
                    inv.link(p, g);
                }
            }
        }
    }
    inv.reconcile();
    Ok(())
}
