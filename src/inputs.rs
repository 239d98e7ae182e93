//! The controller-side files a run reads, each with the SHA-256 of what was
//! read: playbooks, task and vars files, inventories, templates, `copy`
//! sources. A saved plan (`stead plan --out`) records this list, and
//! `stead apply PLAN` reads every file again and stops before contacting any
//! host when one of them changed (see [`crate::saved_plan`]).
//!
//! Every read of a user's input file goes through [`read`] or
//! [`read_to_string`], so the list is complete by construction. The list
//! lives for the process: one stead process is one run. It holds hashes and
//! paths only, never content, so a secret in a file never stays in memory
//! because of it.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sha2::{Digest, Sha256};

static READ: Mutex<BTreeMap<PathBuf, String>> = Mutex::new(BTreeMap::new());

/// Reads a file and records its hash.
pub fn read(path: &Path) -> io::Result<Vec<u8>> {
    let bytes = std::fs::read(path)?;
    record(path, &bytes);
    Ok(bytes)
}

/// Reads a UTF-8 file and records its hash.
pub fn read_to_string(path: &Path) -> io::Result<String> {
    let bytes = read(path)?;
    String::from_utf8(bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Records the hash of a file read some other way (an inventory script, run
/// rather than read, is recorded by its own bytes).
pub fn record(path: &Path, bytes: &[u8]) {
    let key = normalise(path);
    let mut read = READ.lock().unwrap_or_else(|e| e.into_inner());
    read.insert(key, sha256_hex(bytes));
}

/// Every file read so far, path → SHA-256 (hex).
pub fn snapshot() -> BTreeMap<PathBuf, String> {
    READ.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// The hex SHA-256 of some bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The hash a file has now, or `None` when it cannot be read.
pub fn current_hash(path: &Path) -> Option<String> {
    std::fs::read(path).ok().map(|b| sha256_hex(&b))
}

/// A path as the plan stores it: relative to the working directory when it
/// lies inside it (a CI job applies in another checkout of the same
/// repository), absolute otherwise; `.` and `..` components resolved
/// lexically.
fn normalise(path: &Path) -> PathBuf {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let absolute = if path.is_absolute() { path.to_path_buf() } else { cwd.join(path) };
    let mut clean = PathBuf::new();
    for part in absolute.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                clean.pop();
            }
            other => clean.push(other),
        }
    }
    match clean.strip_prefix(&cwd) {
        Ok(rel) if !rel.as_os_str().is_empty() => rel.to_path_buf(),
        _ => clean,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_file_is_listed_with_its_hash() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vars.yml");
        std::fs::write(&path, "a: 1\n").unwrap();
        assert_eq!(read_to_string(&path).unwrap(), "a: 1\n");
        let listed = snapshot();
        let hash = listed.get(&normalise(&path)).expect("listed");
        assert_eq!(hash, &sha256_hex(b"a: 1\n"));
        assert_eq!(current_hash(&path).as_ref(), Some(hash));
    }

    #[test]
    fn paths_inside_the_working_directory_are_relative() {
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(normalise(&cwd.join("a/./b/../c.yml")), PathBuf::from("a/c.yml"));
        assert_eq!(normalise(Path::new("x/../y.yml")), PathBuf::from("y.yml"));
        assert_eq!(normalise(Path::new("/etc/hosts")), PathBuf::from("/etc/hosts"));
    }
}
