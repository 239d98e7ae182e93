//! Inventory sources: which files a `-i PATH` stands for, and which reader
//! (YAML or INI) each file gets.
//!
//! A directory is read the way Ansible reads one: every entry, sorted by
//! name, recursively, skipping hidden entries, `group_vars`, `host_vars`,
//! `vars_plugins` and Ansible's `INVENTORY_IGNORE_EXTS` (`.md`, `.txt`, `~`,
//! `.retry`, `.bak`, `.orig`, `.cfg`, ...). The format of a file comes from
//! its extension; without a known one we try YAML and fall back to INI, as
//! Ansible's plugin chain does. An executable file (or one starting with
//! `#!`) is an inventory script, run by [`script`].

use std::path::Path;

use super::error::InventoryError;
use super::{ini, script, yaml_source, Inventory};
use crate::yaml::{self, NodeKind};

/// Ansible's `INVENTORY_IGNORE_EXTS` (ansible-core 2.19+, which reads `.ini`).
const IGNORED_ENDINGS: [&str; 12] =
    [".pyc", ".pyo", ".swp", ".bak", "~", ".rpm", ".md", ".txt", ".rst", ".orig", ".cfg", ".retry"];

/// Reads one `-i` source (a file or a directory) into `inv`.
pub(super) fn load_source(inv: &mut Inventory, path: &Path) -> Result<(), InventoryError> {
    let meta = std::fs::metadata(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            InventoryError::NotFound { path: path.to_path_buf() }
        } else {
            InventoryError::Read { path: path.to_path_buf(), source }
        }
    })?;
    if meta.is_dir() {
        load_dir(inv, path)
    } else {
        load_file(inv, path)
    }
}

fn ignored(name: &str) -> bool {
    name.starts_with('.')
        || matches!(name, "group_vars" | "host_vars" | "vars_plugins")
        || IGNORED_ENDINGS.iter().any(|e| name.ends_with(e))
}

fn load_dir(inv: &mut Inventory, dir: &Path) -> Result<(), InventoryError> {
    let read_err = |source| InventoryError::Read { path: dir.to_path_buf(), source };
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_err)? {
        entries.push(entry.map_err(read_err)?.path());
    }
    entries.sort();
    for path in entries {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if ignored(&name) {
            continue;
        }
        if path.is_dir() {
            load_dir(inv, &path)?;
        } else {
            load_file(inv, &path)?;
        }
    }
    Ok(())
}

fn load_file(inv: &mut Inventory, path: &Path) -> Result<(), InventoryError> {
    let bytes =
        crate::inputs::read(path).map_err(|source| InventoryError::Read { path: path.to_path_buf(), source })?;
    if script::is_script(path, &bytes) {
        return script::load(inv, path);
    }
    let text = String::from_utf8(bytes).map_err(|e| InventoryError::Read {
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
    })?;
    let ext = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase());
    match ext.as_deref() {
        Some("yml" | "yaml" | "json") => {
            let loaded = yaml::load_str(&text, path)?;
            inv.warnings.extend(loaded.warnings);
            read_yaml(inv, &loaded.root, path)
        }
        Some("ini") => ini::parse(inv, &text, path),
        _ => match yaml::load_str(&text, path) {
            Ok(loaded) if matches!(loaded.root.kind, NodeKind::Map(_)) => {
                inv.warnings.extend(loaded.warnings);
                read_yaml(inv, &loaded.root, path)
            }
            Ok(_) => ini::parse(inv, &text, path),
            Err(e @ yaml::YamlError::Vault { .. }) => Err(e.into()),
            Err(yaml_err) => match ini::parse(inv, &text, path) {
                Ok(()) => Ok(()),
                Err(ini_err) if looks_like_ini(&text) => Err(ini_err),
                Err(_) => Err(yaml_err.into()),
            },
        },
    }
}

/// A YAML or JSON document: Ansible's YAML inventory format, or the script
/// format (what `ansible-inventory --list` writes).
fn read_yaml(inv: &mut Inventory, root: &crate::yaml::Node, path: &Path) -> Result<(), InventoryError> {
    let doc = root.to_json();
    if script::is_script_format(&doc) {
        script::read(inv, path, &doc, &|_| Ok(serde_json::Value::Null))
    } else {
        yaml_source::parse(inv, root, path)
    }
}

/// Whether the first meaningful line is an INI section header.
fn looks_like_ini(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with(';'))
        .is_some_and(|l| l.starts_with('['))
}
