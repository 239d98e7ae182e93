//! Handlers a run notified but never ran (a later task failed, the run was
//! interrupted), kept on the controller so the next run of the same play
//! runs them, and says so. Ansible loses them: its next run sees no change,
//! so the restart a config change called for never happens.
//!
//! The store is one JSON file (`pending-handlers.json` beside the audit
//! log, or `--pending-handlers PATH`), keyed by play (its playbook folder,
//! position and name) and host, holding handler names. It is read at the
//! start of a run and written, atomically, at its end. A dry run reads it
//! (its plan shows the handlers) but never writes it. A file that cannot be
//! read is a warning, never a failed run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// What the file holds: play key → host → handler names.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingHandlers {
    /// Format version.
    pub version: u32,
    /// Per play, per host.
    pub plays: BTreeMap<String, BTreeMap<String, Vec<String>>>,
}

/// The store of one run: what was read, and what the run leaves.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    data: PendingHandlers,
    changed: bool,
}

impl Store {
    /// Reads the store at `path` (none yet: empty). A file that does not
    /// parse is kept aside as `PATH.corrupt` and the store starts empty;
    /// the message says so.
    pub fn open(path: &Path) -> (Store, Option<String>) {
        let empty = |note| (Store { path: path.to_owned(), data: PendingHandlers::default(), changed: false }, note);
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return empty(None),
            Err(e) => return empty(Some(format!("cannot read the pending handlers {}: {e}", path.display()))),
        };
        match serde_json::from_str::<PendingHandlers>(&text) {
            Ok(data) => (Store { path: path.to_owned(), data, changed: false }, None),
            Err(e) => {
                let aside = path.with_extension("json.corrupt");
                let _ = std::fs::rename(path, &aside);
                empty(Some(format!(
                    "the pending handlers {} do not parse ({e}); moved to {}, starting without",
                    path.display(),
                    aside.display()
                )))
            }
        }
    }

    /// The handlers pending for `host` in `play`.
    pub fn pending(&self, play: &str, host: &str) -> Vec<String> {
        self.data.plays.get(play).and_then(|h| h.get(host)).cloned().unwrap_or_default()
    }

    /// Records what `host` leaves pending in `play` (nothing: its entry goes).
    pub fn set(&mut self, play: &str, host: &str, handlers: Vec<String>) {
        let hosts = self.data.plays.entry(play.to_owned()).or_default();
        let before = hosts.get(host).cloned().unwrap_or_default();
        if before == handlers {
            if hosts.is_empty() {
                self.data.plays.remove(play);
            }
            return;
        }
        if handlers.is_empty() {
            hosts.remove(host);
        } else {
            hosts.insert(host.to_owned(), handlers);
        }
        if hosts.is_empty() {
            self.data.plays.remove(play);
        }
        self.changed = true;
    }

    /// Writes the store when something changed (atomically: a temporary
    /// file renamed over it).
    pub fn save(&mut self) -> Result<(), String> {
        if !self.changed {
            return Ok(());
        }
        self.data.version = 1;
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let fail = |e: std::io::Error| format!("cannot write the pending handlers {}: {e}", self.path.display());
        std::fs::create_dir_all(&dir).map_err(fail)?;
        let mut tmp = tempfile::NamedTempFile::new_in(&dir).map_err(fail)?;
        let text = serde_json::to_string_pretty(&self.data).expect("serialises") + "\n";
        std::io::Write::write_all(&mut tmp, text.as_bytes()).map_err(fail)?;
        tmp.persist(&self.path).map_err(|e| fail(e.error))?;
        self.changed = false;
        Ok(())
    }
}

/// The key of a play: its playbook's folder, its position and its name.
pub fn play_key(playbook_dir: &Path, index: usize, name: &str) -> String {
    let dir = std::fs::canonicalize(playbook_dir).unwrap_or_else(|_| playbook_dir.to_owned());
    format!("{}#{index}:{name}", dir.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_handlers_survive_a_save_and_clear_when_run() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/pending-handlers.json");
        let (mut store, note) = Store::open(&path);
        assert!(note.is_none());
        store.set("p#0:web", "web1", vec!["restart sshd".into()]);
        store.save().unwrap();
        let (mut again, _) = Store::open(&path);
        assert_eq!(again.pending("p#0:web", "web1"), ["restart sshd"]);
        assert!(again.pending("p#0:web", "web2").is_empty());
        again.set("p#0:web", "web1", vec![]);
        again.save().unwrap();
        assert!(Store::open(&path).0.data.plays.is_empty());
    }

    #[test]
    fn a_corrupt_file_is_set_aside_with_a_note() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pending-handlers.json");
        std::fs::write(&path, "{not json").unwrap();
        let (store, note) = Store::open(&path);
        assert!(store.data.plays.is_empty());
        assert!(note.unwrap().contains("do not parse"));
        assert!(dir.path().join("pending-handlers.json.corrupt").exists());
    }
}
