//! Dynamic inventory: an executable `-i` source run as Ansible runs an
//! inventory script, and JSON in that script format read from a file (what
//! `ansible-inventory --list` writes, the bridge from cloud plugins).
//!
//! The format: top-level keys are groups, each either a list of host names
//! or a mapping of `hosts` (a list), `vars` (a mapping) and `children` (a
//! list of group names); `_meta.hostvars` maps hosts to their variables.
//! Without `_meta`, the script is asked once per host (`--host NAME`), as
//! Ansible does.
//!
//! A script runs with a timeout ([`timeout`]); a non-zero exit, output that
//! is not that JSON, or a timeout stops the run before any host is
//! contacted, with the script's stderr. Where Ansible skips an unknown key
//! in a group, this module stops with an error: a key it skipped would be a
//! host that silently never gets configured.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use super::error::InventoryError;
use super::Inventory;

/// The variable that sets how long a script may run, in seconds.
pub const TIMEOUT_VAR: &str = "STEAD_INVENTORY_SCRIPT_TIMEOUT";

/// How long an inventory script may run (default 60 s).
pub fn timeout() -> Duration {
    let secs = std::env::var(TIMEOUT_VAR).ok().and_then(|v| v.trim().parse::<f64>().ok()).filter(|s| *s > 0.0);
    Duration::from_secs_f64(secs.unwrap_or(60.0))
}

/// Whether Ansible's script plugin takes this file: executable, or
/// starting with `#!`. Files named as YAML, JSON or INI are read as such
/// even when executable (Ansible would try to run them first and fall back).
pub(super) fn is_script(path: &Path, text: &[u8]) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let ext = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase());
    if matches!(ext.as_deref(), Some("yml" | "yaml" | "json" | "ini")) {
        return false;
    }
    let executable = std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0);
    executable || text.starts_with(b"#!")
}

fn script_error(path: &Path, message: impl Into<String>) -> InventoryError {
    InventoryError::Script { path: path.to_path_buf(), message: message.into() }
}

/// Runs `path` with `args` and returns its stdout.
fn run(path: &Path, args: &[&str]) -> Result<Vec<u8>, InventoryError> {
    let shown = format!("{} {}", path.display(), args.join(" "));
    // A bare relative name would be looked up in $PATH.
    let program = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut child = Command::new(&program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            let fix =
                if e.kind() == std::io::ErrorKind::PermissionDenied { " (make it executable: chmod +x)" } else { "" };
            script_error(path, format!("cannot run `{shown}`: {e}{fix}"))
        })?;
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let out = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    let err = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });
    let limit = timeout();
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() >= limit => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(script_error(
                    path,
                    format!(
                        "`{shown}` did not finish within {} s (set {TIMEOUT_VAR} to allow longer)",
                        limit.as_secs_f64()
                    ),
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(script_error(path, format!("waiting for `{shown}`: {e}"))),
        }
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = String::from_utf8_lossy(&err.join().unwrap_or_default()).trim().to_owned();
    if !status.success() {
        let code = status.code().map_or_else(|| "a signal".to_owned(), |c| format!("status {c}"));
        let detail = if stderr.is_empty() { String::new() } else { format!(": {stderr}") };
        return Err(script_error(path, format!("`{shown}` exited with {code}{detail}")));
    }
    Ok(stdout)
}

fn parse_json(path: &Path, what: &str, bytes: &[u8]) -> Result<Value, InventoryError> {
    serde_json::from_slice(bytes).map_err(|e| script_error(path, format!("{what} is not JSON: {e}")))
}

/// Runs an inventory script and reads its groups and hosts into `inv`.
pub(super) fn load(inv: &mut Inventory, path: &Path) -> Result<(), InventoryError> {
    let list = parse_json(path, "the output of --list", &run(path, &["--list"])?)?;
    read(inv, path, &list, &|host| {
        let vars = parse_json(path, &format!("the output of --host {host}"), &run(path, &["--host", host])?)?;
        Ok(vars)
    })
}

/// Whether a parsed JSON or YAML file is in the script format rather than
/// the YAML inventory format: it has `_meta`, as `ansible-inventory --list`
/// always writes. (A YAML inventory with `hosts:` written as a list stays a
/// YAML inventory, and gets that format's located error.)
pub(super) fn is_script_format(doc: &Value) -> bool {
    doc.as_object().is_some_and(|groups| groups.contains_key("_meta"))
}

/// Reads the script format into `inv`; `host_vars` asks for one host's
/// variables when there is no `_meta.hostvars`.
pub(super) fn read(
    inv: &mut Inventory,
    path: &Path,
    doc: &Value,
    host_vars: &dyn Fn(&str) -> Result<Value, InventoryError>,
) -> Result<(), InventoryError> {
    let groups = doc.as_object().ok_or_else(|| script_error(path, "the inventory JSON must be an object of groups"))?;
    let mut hosts_seen: Vec<String> = Vec::new();
    for (name, data) in groups {
        if name == "_meta" {
            continue;
        }
        let g = inv.group_id(name);
        let (hosts, vars, children) = match data {
            Value::Array(hosts) => (Some(hosts), None, None),
            Value::Object(m) => {
                if let Some(key) = m.keys().find(|k| !["hosts", "vars", "children"].contains(&k.as_str())) {
                    return Err(script_error(
                        path,
                        format!("group `{name}` has the key `{key}`; a group has only `hosts`, `vars` and `children`"),
                    ));
                }
                let list = |key: &str| match m.get(key) {
                    None | Some(Value::Null) => Ok(None),
                    Some(Value::Array(items)) => Ok(Some(items)),
                    Some(other) => Err(script_error(path, format!("`{name}.{key}` must be a list, not {other}"))),
                };
                let vars = match m.get("vars") {
                    None | Some(Value::Null) => None,
                    Some(Value::Object(v)) => Some(v),
                    Some(other) => {
                        return Err(script_error(path, format!("`{name}.vars` must be a mapping, not {other}")))
                    }
                };
                (list("hosts")?, vars, list("children")?)
            }
            Value::Null => (None, None, None),
            other => {
                return Err(script_error(path, format!("group `{name}` must be a list or a mapping, not {other}")))
            }
        };
        for host in hosts.into_iter().flatten() {
            let host = name_of(path, name, "hosts", host)?;
            let h = inv.host_id(&host, path);
            inv.add_to_group(h, g);
            if !hosts_seen.contains(&host) {
                hosts_seen.push(host);
            }
        }
        for child in children.into_iter().flatten() {
            let child = name_of(path, name, "children", child)?;
            let c = inv.group_id(&child);
            let loc = crate::yaml::Location { file: std::sync::Arc::new(path.to_path_buf()), line: 1, column: 1 };
            inv.add_child(g, c, &loc)?;
        }
        if let Some(vars) = vars {
            for (k, v) in vars {
                inv.groups[g].vars.insert(k.clone(), v.clone());
            }
        }
    }
    let meta = groups.get("_meta").and_then(|m| m.get("hostvars"));
    for host in &hosts_seen {
        let vars = match meta {
            Some(hostvars) => hostvars.get(host).cloned().unwrap_or(Value::Null),
            None => host_vars(host)?,
        };
        let vars: Map<String, Value> = match vars {
            Value::Null => Map::new(),
            Value::Object(m) => m,
            other => {
                return Err(script_error(
                    path,
                    format!("the variables of host `{host}` must be a mapping, not {other}"),
                ))
            }
        };
        let h = inv.host_id(host, path);
        for (k, v) in vars {
            inv.hosts[h].vars.insert(k, v);
        }
    }
    Ok(())
}

fn name_of(path: &Path, group: &str, key: &str, v: &Value) -> Result<String, InventoryError> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Ok(s.trim().to_owned()),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(script_error(path, format!("`{group}.{key}` holds {other}, not a name"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn load(doc: Value) -> Result<Inventory, InventoryError> {
        let mut inv = Inventory::default();
        read(&mut inv, Path::new("inv.sh"), &doc, &|host| Ok(json!({ "asked": host })))?;
        inv.reconcile();
        Ok(inv)
    }

    #[test]
    fn groups_hosts_children_and_meta_hostvars_are_read() {
        let inv = load(json!({
            "web": {"hosts": ["w1", "w2"], "vars": {"http_port": 80}},
            "db": ["d1"],
            "prod": {"children": ["web", "db"]},
            "_meta": {"hostvars": {"w1": {"ansible_host": "10.0.0.1"}}}
        }))
        .unwrap();
        assert_eq!(inv.hosts(), ["w1", "w2", "d1"]);
        assert_eq!(inv.select("prod").unwrap(), ["w1", "w2", "d1"]);
        let w1 = inv.host_vars("w1").unwrap();
        assert_eq!(w1["ansible_host"], "10.0.0.1");
        assert_eq!(w1["http_port"], 80);
        assert!(!inv.host_vars("w2").unwrap().contains_key("asked"));
    }

    #[test]
    fn without_meta_each_host_is_asked() {
        let inv = load(json!({"all": {"hosts": ["a"]}})).unwrap();
        assert_eq!(inv.host_vars("a").unwrap()["asked"], "a");
    }

    #[test]
    fn unknown_keys_and_bad_shapes_are_errors() {
        for doc in [
            json!({"web": {"host": ["a"]}}),
            json!({"web": {"hosts": "a"}}),
            json!({"web": 3}),
            json!({"web": {"vars": [1]}}),
            json!({"web": ["a"], "_meta": {"hostvars": {"a": [1]}}}),
            json!(["a"]),
        ] {
            assert!(load(doc.clone()).is_err(), "{doc} was accepted");
        }
        let err = load(json!({"web": {"host": ["a"]}})).unwrap_err().to_string();
        assert!(err.contains("group `web` has the key `host`"), "{err}");
    }

    #[test]
    fn the_script_format_is_told_from_the_yaml_format() {
        assert!(is_script_format(&json!({"_meta": {}, "all": {"children": ["ungrouped"]}})));
        assert!(!is_script_format(&json!({"all": {"hosts": ["a"]}})));
        assert!(!is_script_format(&json!({"all": {"hosts": {"a": null}}})));
    }
}
