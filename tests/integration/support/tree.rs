//! Fingerprints of directory trees, to prove that `--check` leaves a host
//! byte-for-byte unchanged.

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use sha2::{Digest, Sha256};

/// sha256 over every entry below `root`, in sorted order: relative path,
/// type, permission bits, and the bytes of files or the target of links.
pub fn hash(root: &Path) -> String {
    let mut hasher = Sha256::new();
    walk(root, root, &mut hasher);
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// A readable listing of the same information (for failure messages).
pub fn listing(root: &Path) -> String {
    let mut out = String::new();
    list(root, root, &mut out);
    out
}

fn entries(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    entries
}

fn walk(root: &Path, dir: &Path, hasher: &mut Sha256) {
    for path in entries(dir) {
        let meta = path.symlink_metadata().expect("stat tree entry");
        let rel = path.strip_prefix(root).expect("below root");
        hasher.update(rel.as_os_str().as_bytes());
        hasher.update([0]);
        hasher.update((meta.permissions().mode() & 0o7777).to_le_bytes());
        if meta.file_type().is_symlink() {
            hasher.update(b"L");
            let target = std::fs::read_link(&path).expect("read link");
            hasher.update(target.as_os_str().as_bytes());
        } else if meta.is_dir() {
            hasher.update(b"D");
            walk(root, &path, hasher);
        } else {
            hasher.update(b"F");
            let bytes = std::fs::read(&path).expect("read tree file");
            hasher.update((bytes.len() as u64).to_le_bytes());
            hasher.update(&bytes);
        }
        hasher.update([0]);
    }
}

fn list(root: &Path, dir: &Path, out: &mut String) {
    for path in entries(dir) {
        let meta = path.symlink_metadata().expect("stat tree entry");
        let rel = path.strip_prefix(root).expect("below root");
        let mode = meta.permissions().mode() & 0o7777;
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&path).expect("read link");
            out.push_str(&format!("{mode:04o} {} -> {}\n", rel.display(), target.display()));
        } else if meta.is_dir() {
            out.push_str(&format!("{mode:04o} {}/\n", rel.display()));
            list(root, &path, out);
        } else {
            let len = meta.len();
            out.push_str(&format!("{mode:04o} {} ({len} bytes)\n", rel.display()));
        }
    }
}

/// Permission bits of `path` (symlinks not followed).
pub fn mode(path: &Path) -> u32 {
    path.symlink_metadata().unwrap_or_else(|e| panic!("stat {}: {e}", path.display())).permissions().mode() & 0o7777
}
