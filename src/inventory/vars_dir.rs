//! `group_vars/` and `host_vars/` directories, read as Ansible's
//! `host_group_vars` plugin reads them.
//!
//! For each group and host name we look, in this order, for `NAME`,
//! `NAME.yml`, `NAME.yaml`, `NAME.json` and take the first that exists. A
//! directory `NAME/` contributes all its files (recursively, sorted by name,
//! skipping hidden ones and backups `~`, only `.yml`/`.yaml`/`.json` or no
//! extension), later files overriding earlier ones. Files for names that are
//! neither a group nor a host are never read, as in Ansible.

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::error::InventoryError;
use super::{Inventory, Vars, IMPLICIT_LOCAL};
use crate::yaml::{self, NodeKind};

/// The variables one directory contributes.
#[derive(Debug, Clone, Default)]
pub(super) struct VarsDir {
    /// The directory holding `group_vars/` and `host_vars/`.
    pub dir: PathBuf,
    /// Group name → variables from `group_vars/`.
    pub groups: HashMap<String, Vars>,
    /// Host name → variables from `host_vars/`.
    pub hosts: HashMap<String, Vars>,
    /// Duplicate-key warnings from the files read.
    pub warnings: Vec<String>,
}

/// Extensions Ansible accepts for vars files (`""` is none).
const EXTENSIONS: [&str; 4] = ["", ".yml", ".yaml", ".json"];

/// Reads `dir/group_vars` and `dir/host_vars` for the groups and hosts of
/// `inv` (and the implicit localhost names).
pub(super) fn load(dir: &Path, inv: &Inventory) -> Result<VarsDir, InventoryError> {
    let mut out = VarsDir { dir: dir.to_path_buf(), ..VarsDir::default() };
    let group_names = inv.groups.iter().map(|g| g.name.as_str());
    out.groups = read_kind(&dir.join("group_vars"), group_names, &mut out.warnings)?;
    let host_names = inv
        .hosts
        .iter()
        .map(|h| h.name.as_str())
        .chain(IMPLICIT_LOCAL.into_iter().filter(|n| !inv.host_index.contains_key(*n)));
    out.hosts = read_kind(&dir.join("host_vars"), host_names, &mut out.warnings)?;
    Ok(out)
}

fn read_kind<'a>(
    base: &Path,
    names: impl Iterator<Item = &'a str>,
    warnings: &mut Vec<String>,
) -> Result<HashMap<String, Vars>, InventoryError> {
    let mut found = HashMap::new();
    if !base.is_dir() {
        return Ok(found);
    }
    let entries: HashSet<OsString> = list(base)?.into_iter().collect();
    for name in names {
        if name.is_empty() || name.contains('/') || name == "." || name == ".." {
            continue;
        }
        for ext in EXTENSIONS {
            let file_name = format!("{name}{ext}");
            if !entries.contains(std::ffi::OsStr::new(&file_name)) {
                continue;
            }
            let path = base.join(&file_name);
            let files = if path.is_dir() { dir_files(&path)? } else { vec![path] };
            let mut vars = Vars::new();
            for file in files {
                for (k, v) in read_file(&file, warnings)? {
                    vars.insert(k, v);
                }
            }
            found.insert(name.to_owned(), vars);
            break;
        }
    }
    Ok(found)
}

/// Entry names of a directory.
fn list(dir: &Path) -> Result<Vec<OsString>, InventoryError> {
    let read_err = |source| InventoryError::Read { path: dir.to_path_buf(), source };
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_err)? {
        names.push(entry.map_err(read_err)?.file_name());
    }
    names.sort();
    Ok(names)
}

/// The vars files of a `NAME/` directory, in the order they apply.
fn dir_files(dir: &Path) -> Result<Vec<PathBuf>, InventoryError> {
    let mut out = Vec::new();
    for name in list(dir)? {
        let text = name.to_string_lossy();
        if text.starts_with('.') || text.ends_with('~') {
            continue;
        }
        let path = dir.join(&name);
        let ext = path.extension().map(|e| format!(".{}", e.to_string_lossy())).unwrap_or_default();
        if path.is_dir() && ext.is_empty() {
            out.extend(dir_files(&path)?);
        } else if path.is_file() && EXTENSIONS.contains(&ext.as_str()) {
            out.push(path);
        }
    }
    Ok(out)
}

fn read_file(path: &Path, warnings: &mut Vec<String>) -> Result<Vars, InventoryError> {
    let loaded = yaml::load_file(path)?;
    warnings.extend(loaded.warnings);
    let root = loaded.root;
    match &root.kind {
        NodeKind::Null => Ok(Vars::new()),
        NodeKind::Map(_) => match root.to_json() {
            serde_json::Value::Object(map) => Ok(map),
            _ => Ok(Vars::new()),
        },
        _ => Err(InventoryError::Invalid {
            loc: root.loc.clone(),
            message: format!("a vars file must be a mapping of variable names to values, not {}", root.type_name()),
            hint: None,
        }),
    }
}
