//! The inputs of a saved plan: the hashes it records when it is made, and
//! the check that they still hold before `stead apply PLAN` contacts a host.
//! It compares hashes only; it never stores a file's content or an extra
//! variable's value.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use crate::inputs::{current_hash, sha256_hex};
use crate::inventory::Inventory;

/// What a plan was computed from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inputs {
    /// Every controller-side file the dry run read (playbooks, task and
    /// vars files, inventories, templates, `copy` sources): path → SHA-256.
    pub files: BTreeMap<PathBuf, String>,
    /// SHA-256 of the resolved inventory: its groups, hosts and every
    /// host's variables (a dynamic inventory's answer included).
    pub inventory: String,
    /// Salted SHA-256 of the extra variables, `None` when none were given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_vars: Option<String>,
    /// The salt (random per plan), so equal values in two plans do not
    /// show as equal hashes.
    pub salt: String,
}

impl Inputs {
    /// The inputs of a run that read `files`.
    pub fn of(
        files: BTreeMap<PathBuf, String>,
        inventory: &Inventory,
        extra_vars: &Map<String, Json>,
        salt: String,
    ) -> Inputs {
        let extra_vars = (!extra_vars.is_empty()).then(|| extra_vars_hash(&salt, extra_vars));
        Inputs { files, inventory: inventory_hash(inventory), extra_vars, salt }
    }

    /// What changed since: one line per file, and for the inventory and the
    /// extra variables. Empty when nothing did.
    pub fn changes_since(&self, inventory: &Inventory, extra_vars: &Map<String, Json>) -> Vec<String> {
        let mut out = Vec::new();
        for (path, hash) in &self.files {
            match current_hash(path) {
                None => out.push(format!("  {}: gone", path.display())),
                Some(now) if &now != hash => out.push(format!("  {}: changed", path.display())),
                Some(_) => {}
            }
        }
        if inventory_hash(inventory) != self.inventory {
            out.push("  the inventory: its hosts, groups or variables changed".into());
        }
        let now = (!extra_vars.is_empty()).then(|| extra_vars_hash(&self.salt, extra_vars));
        match (&self.extra_vars, now) {
            (None, None) => {}
            (Some(_), None) => out.push(
                "  --extra-vars: the plan was made with extra variables; give the same -e values again \
                 (a plan does not keep them)"
                    .into(),
            ),
            (None, Some(_)) => out.push("  --extra-vars: the plan was made without extra variables".into()),
            (Some(a), Some(b)) if *a != b => out.push("  --extra-vars: not the values the plan was made with".into()),
            (Some(_), Some(_)) => {}
        }
        out
    }
}

/// A random salt (16 bytes from the kernel, as hex).
pub fn new_salt() -> String {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    let read = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    if read.is_err() {
        // No urandom: the time still makes plans differ.
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        bytes = nanos.to_le_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn extra_vars_hash(salt: &str, vars: &Map<String, Json>) -> String {
    let text = serde_json::to_string(&Json::Object(vars.clone())).expect("JSON serialises");
    sha256_hex(format!("{salt}\n{text}").as_bytes())
}

fn inventory_hash(inventory: &Inventory) -> String {
    let hosts: Map<String, Json> =
        inventory.hosts().into_iter().map(|h| (h.clone(), inventory.host_json(&h).unwrap_or(Json::Null))).collect();
    let all = serde_json::json!({"list": inventory.list_json(), "hosts": hosts});
    sha256_hex(serde_json::to_string(&all).expect("JSON serialises").as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inventory(text: &str) -> Inventory {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inv.yaml");
        std::fs::write(&path, text).unwrap();
        Inventory::load(&[path]).unwrap()
    }

    #[test]
    fn a_changed_file_inventory_or_extra_vars_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("site.yml");
        std::fs::write(&file, "- hosts: all\n").unwrap();
        let inv = inventory("all:\n  hosts:\n    h1:\n      a: 1\n");
        let extra: Map<String, Json> = [("v".to_owned(), Json::from("secret"))].into_iter().collect();
        let files = [(file.clone(), sha256_hex(b"- hosts: all\n"))].into();
        let inputs = Inputs::of(files, &inv, &extra, new_salt());
        assert!(inputs.changes_since(&inv, &extra).is_empty());
        let text = serde_json::to_string(&inputs).unwrap();
        assert!(!text.contains("secret"), "{text}");

        std::fs::write(&file, "- hosts: web\n").unwrap();
        let other_inv = inventory("all:\n  hosts:\n    h1:\n      a: 2\n");
        let changes = inputs.changes_since(&other_inv, &Map::new()).join("\n");
        assert!(changes.contains("site.yml: changed"), "{changes}");
        assert!(changes.contains("the inventory"), "{changes}");
        assert!(changes.contains("give the same -e values again"), "{changes}");
        std::fs::remove_file(&file).unwrap();
        let wrong: Map<String, Json> = [("v".to_owned(), Json::from("other"))].into_iter().collect();
        let changes = inputs.changes_since(&inv, &wrong).join("\n");
        assert!(changes.contains("site.yml: gone"), "{changes}");
        assert!(changes.contains("not the values"), "{changes}");
    }

    #[test]
    fn salts_differ() {
        assert_ne!(new_salt(), new_salt());
        assert_eq!(new_salt().len(), 32);
    }
}
