//! Ansible's INI inventory format.
//!
//! ```ini
//! web1 ansible_host=10.0.0.1      # before any section: group `ungrouped`
//! [web]
//! web[01:03].example.com http_port=8080
//! [web:vars]
//! ansible_user=deploy
//! [prod:children]
//! web
//! ```
//!
//! Host lines are split like a shell line (Python's `shlex`, `#` starts a
//! comment), and every value goes through Python's `literal_eval` (see
//! [`literal`](super::literal)), exactly as Ansible's `ini` plugin does, so
//! `x="True"` on a host line is a boolean while `x="True"` in `[g:vars]` is a
//! string. As in Ansible, `[g:vars]` and `[g:children]` may only name groups
//! that some source declares with a `[g]` or `[g:children]` section.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use super::error::{did_you_mean, InventoryError};
use super::literal::literal;
use super::{yaml_source, Inventory, UNGROUPED};
use crate::yaml::{Key, Location};

#[derive(Clone, Copy, PartialEq)]
enum Section {
    Hosts,
    Vars,
    Children,
}

/// Reads an INI inventory file into `inv`.
pub(super) fn parse(inv: &mut Inventory, text: &str, path: &Path) -> Result<(), InventoryError> {
    let file = Arc::new(path.to_path_buf());
    let at = |line: usize, column: usize| Location { file: file.clone(), line, column };
    // Groups that exist for sure: from earlier sources, or declared here.
    let mut declared: HashSet<String> = inv.groups.iter().map(|g| g.name.clone()).collect();
    // References to groups that must be declared by the end of the file.
    let mut pending: Vec<(String, Location, &'static str)> = Vec::new();
    let mut section = Section::Hosts;
    let mut group = UNGROUPED;
    let mut group_name = "ungrouped".to_owned();

    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let loc = at(n + 1, raw.len() - raw.trim_start().len() + 1);
        if line.starts_with('[') {
            let (name, kind) = header(line).ok_or_else(|| InventoryError::Invalid {
                loc: loc.clone(),
                message: format!("`{line}` is not a valid section header"),
                hint: Some("a section is `[group]`, `[group:vars]` or `[group:children]`, without spaces".into()),
            })?;
            section = match kind {
                None | Some("hosts") => Section::Hosts,
                Some("vars") => Section::Vars,
                Some("children") => Section::Children,
                Some(other) => {
                    return Err(InventoryError::Invalid {
                        loc,
                        message: format!("section `{line}` has the unknown type `{other}`"),
                        hint: Some(
                            did_you_mean(other, ["vars", "children"])
                                .unwrap_or_else(|| "use `:vars` or `:children`".into()),
                        ),
                    })
                }
            };
            if section == Section::Vars {
                if !declared.contains(name) {
                    pending.push((name.to_owned(), loc, "vars"));
                }
            } else {
                declared.insert(name.to_owned());
            }
            group = inv.group_id(name);
            group_name = name.to_owned();
            continue;
        }
        match section {
            Section::Hosts => host_line(inv, path, group, line, &loc)?,
            Section::Vars => {
                let Some((key, value)) = line.split_once('=') else {
                    return Err(InventoryError::Invalid {
                        loc,
                        message: format!("expected `name=value` in `[{group_name}:vars]`, found `{line}`"),
                        hint: None,
                    });
                };
                inv.groups[group].vars.insert(key.trim().to_owned(), literal(value.trim()));
            }
            Section::Children => {
                let name = line.split('#').next().unwrap_or_default().split_whitespace().next().unwrap_or_default();
                if name.is_empty() {
                    continue;
                }
                if !declared.contains(name) {
                    pending.push((name.to_owned(), loc.clone(), "children"));
                }
                let child = inv.group_id(name);
                inv.add_child(group, child, &loc)?;
            }
        }
    }

    if let Some((name, loc, kind)) = pending.into_iter().find(|(name, ..)| !declared.contains(name)) {
        let known = declared.iter().map(String::as_str).filter(|g| *g != name);
        let hint = did_you_mean(&name, known).unwrap_or_else(|| {
            if kind == "vars" {
                format!("declare the group with a `[{name}]` section listing its hosts")
            } else {
                format!("declare the group with a `[{name}]` section (it may be empty)")
            }
        });
        return Err(InventoryError::UndefinedGroup { loc, group: name, hint: Some(hint) });
    }
    Ok(())
}

/// `[name]`, `[name:type]`, optionally followed by a `#` comment.
fn header(line: &str) -> Option<(&str, Option<&str>)> {
    let close = line.find(']')?;
    let rest = line[close + 1..].trim_start();
    if !rest.is_empty() && !rest.starts_with('#') {
        return None;
    }
    let inner = &line[1..close];
    let (name, kind) = match inner.split_once(':') {
        Some((name, kind)) => (name, Some(kind)),
        None => (inner, None),
    };
    let name_ok = !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c == '[');
    let kind_ok = kind.is_none_or(|k| !k.is_empty() && k.chars().all(|c| c.is_alphanumeric() || c == '_'));
    (name_ok && kind_ok).then_some((name, kind))
}

fn host_line(inv: &mut Inventory, path: &Path, group: usize, line: &str, loc: &Location) -> Result<(), InventoryError> {
    let tokens = shlex(line).map_err(|reason| InventoryError::Invalid {
        loc: loc.clone(),
        message: format!("cannot split the host line: {reason}"),
        hint: Some("close every quote, or escape it with a backslash".into()),
    })?;
    let Some((name, rest)) = tokens.split_first() else {
        return Ok(());
    };
    let mut vars = serde_json::Map::new();
    for token in rest {
        let Some((k, v)) = token.split_once('=') else {
            return Err(InventoryError::Invalid {
                loc: loc.clone(),
                message: format!("expected `name=value` after host `{name}`, found `{token}`"),
                hint: Some("quote values with spaces: `name='a b'`".into()),
            });
        };
        vars.insert(k.to_owned(), literal(v));
    }
    let key = Key { name: name.clone(), loc: loc.clone() };
    yaml_source::add_hosts(inv, path, group, &key, vars)
}

/// Python's `shlex.split(line, comments=True)`: POSIX quoting, backslash
/// escapes, `#` outside quotes ends the line.
fn shlex(line: &str) -> Result<Vec<String>, &'static str> {
    let mut tokens = Vec::new();
    let mut token = String::new();
    let mut in_token = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_token {
                    tokens.push(std::mem::take(&mut token));
                    in_token = false;
                }
            }
            '#' => break,
            '\\' => {
                token.push(chars.next().ok_or("no character after the last backslash")?);
                in_token = true;
            }
            '\'' => {
                in_token = true;
                loop {
                    match chars.next().ok_or("a single quote is not closed")? {
                        '\'' => break,
                        c => token.push(c),
                    }
                }
            }
            '"' => {
                in_token = true;
                loop {
                    match chars.next().ok_or("a double quote is not closed")? {
                        '"' => break,
                        '\\' => match chars.next().ok_or("a double quote is not closed")? {
                            c @ ('"' | '\\') => token.push(c),
                            c => {
                                token.push('\\');
                                token.push(c);
                            }
                        },
                        c => token.push(c),
                    }
                }
            }
            c => {
                token.push(c);
                in_token = true;
            }
        }
    }
    if in_token {
        tokens.push(token);
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shlex_splits_like_python() {
        assert_eq!(shlex(r#"web1 a='x y' b="q\"r" c=d\ e # note"#).unwrap(), ["web1", "a=x y", "b=q\"r", "c=d e"]);
        assert_eq!(shlex("h x=1#c").unwrap(), ["h", "x=1"]);
        assert_eq!(shlex("h x=''").unwrap(), ["h", "x="]);
        assert!(shlex("h x='open").is_err());
    }

    #[test]
    fn section_headers_parse_and_reject_spaces() {
        assert_eq!(header("[web]"), Some(("web", None)));
        assert_eq!(header("[web:vars] # c"), Some(("web", Some("vars"))));
        assert_eq!(header("[web servers]"), None);
        assert_eq!(header("[web"), None);
    }
}
