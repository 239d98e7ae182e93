//! The local audit trail: every `apply` and `plan` appends one JSON record
//! to a JSONL file, so that "who changed what on which host, from which
//! commit" can be answered later without a server (docs/ci.md).
//!
//! - One record is one line, written with one `write` on a file opened
//!   with `O_APPEND`: records of concurrent runs never interleave.
//! - Secrets never enter it: `-e` values of keys that look secret and
//!   vault password files are masked in the command line ([`mask_argv`]),
//!   and diffs are kept only as their SHA-256 (a `no_log` diff was masked
//!   before it got here, so its hash is the hash of the censored text).
//! - Reading it back ([`read`]) skips a line that does not parse (a run
//!   killed mid-write, a disk that filled up) with a warning, never fails.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::json::Report;
use crate::exec::Status;

/// The record format version.
pub const AUDIT_VERSION: u32 = 1;

/// What a masked value is replaced with.
pub const MASK: &str = "********";

/// A file and the SHA-256 of its bytes (`null` when it could not be read).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileHash {
    /// Path as given (or found inside a given directory).
    pub path: String,
    /// Hex SHA-256 of the content.
    pub sha256: Option<String>,
}

/// One changed (or, in check mode, would-be changed) task on a host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangedTask {
    /// Play name.
    pub play: String,
    /// Task name.
    pub task: String,
    /// Hex SHA-256 of the diff, when there was one.
    pub diff_sha256: Option<String>,
}

/// One host's part of a record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostAudit {
    /// Whether it could not be reached.
    pub unreachable: bool,
    /// Failed task results.
    pub failed: usize,
    /// What changed (would change, in check mode), in order.
    pub changed: Vec<ChangedTask>,
    /// Backups made on the host (`backup: true`), in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backups: Vec<BackupEntry>,
}

/// A backup a run made: which task, of which file, and where the copy is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupEntry {
    /// Task name.
    pub task: String,
    /// The file.
    pub path: String,
    /// The copy of its previous version on the host.
    pub backup: String,
}

/// One run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Format version.
    pub version: u32,
    /// When the run started, RFC 3339 UTC.
    pub timestamp: String,
    /// Wall time of the run.
    pub duration_ms: u64,
    /// Who ran it.
    pub user: String,
    /// The machine it ran on.
    pub controller: String,
    /// The command line, secrets masked.
    pub argv: Vec<String>,
    /// `apply` or `plan`.
    pub command: String,
    /// Whether it was a dry run.
    pub check_mode: bool,
    /// Playbooks and their hashes.
    pub playbooks: Vec<FileHash>,
    /// Inventory files and their hashes.
    pub inventories: Vec<FileHash>,
    /// `git rev-parse HEAD` of the first playbook's directory, when it is
    /// inside a repository.
    pub git_commit: Option<String>,
    /// Per host.
    pub hosts: BTreeMap<String, HostAudit>,
    /// Exit status (CONTRACT §2).
    pub exit_status: i32,
}

/// Why the audit trail could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the audit log {}: {source}", .path.display())]
pub struct AuditError {
    /// The log.
    pub path: PathBuf,
    /// Cause.
    #[source]
    pub source: std::io::Error,
}

/// Hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Hashes files; a directory stands for the files under it (sorted,
/// hidden ones left out), as an inventory directory does.
pub fn hash_paths(paths: &[PathBuf]) -> Vec<FileHash> {
    fn walk(path: &Path, out: &mut Vec<FileHash>) {
        if path.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
                .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
                .unwrap_or_default();
            entries.sort();
            for e in entries {
                if !e.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')) {
                    walk(&e, out);
                }
            }
        } else {
            out.push(FileHash {
                path: path.display().to_string(),
                sha256: std::fs::read(path).ok().map(|b| sha256_hex(&b)),
            });
        }
    }
    let mut out = Vec::new();
    for p in paths {
        walk(p, &mut out);
    }
    out
}

/// Whether a variable name looks like it holds a secret.
pub fn looks_secret(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["pass", "secret", "token", "key", "credential", "auth", "private", "cert"].iter().any(|w| k.contains(w))
}

/// Masks one `-e` value: `k=v` words keep the key and lose a secret
/// value; a JSON/YAML document that names a secret-looking key is masked
/// whole (its values cannot be told apart safely); `@file` stays.
fn mask_extra_vars(value: &str) -> String {
    let trimmed = value.trim_start();
    if value.starts_with('@') {
        return value.to_owned();
    }
    if trimmed.starts_with('{') || trimmed.starts_with('[') || trimmed.contains(':') {
        let words = value.split(|c: char| !(c.is_alphanumeric() || c == '_'));
        return if words.into_iter().any(looks_secret) { MASK.to_owned() } else { value.to_owned() };
    }
    value
        .split(' ')
        .map(|w| match w.split_once('=') {
            Some((k, _)) if looks_secret(k) => format!("{k}={MASK}"),
            _ => w.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The command line with secrets masked: `-e`/`--extra-vars` values of
/// secret-looking keys, and the value of every option that names a vault
/// password file or a password.
pub fn mask_argv(argv: &[String]) -> Vec<String> {
    const EXTRA: &[&str] = &["-e", "--extra-vars"];
    let secret_option = |o: &str| o.starts_with("--") && (o.contains("vault-pass") || o.contains("password"));
    let mut out = Vec::with_capacity(argv.len());
    let mut next: Option<bool> = None; // Some(true): extra vars; Some(false): secret option value
    for a in argv {
        if let Some(extra) = next.take() {
            out.push(if extra { mask_extra_vars(a) } else { MASK.to_owned() });
            continue;
        }
        if EXTRA.contains(&a.as_str()) {
            next = Some(true);
            out.push(a.clone());
        } else if let Some((opt, v)) = a.split_once('=').filter(|(o, _)| o.starts_with("--")) {
            if opt == "--extra-vars" {
                out.push(format!("{opt}={}", mask_extra_vars(v)));
            } else if secret_option(opt) {
                out.push(format!("{opt}={MASK}"));
            } else {
                out.push(a.clone());
            }
        } else if let Some(v) = a.strip_prefix("-e").filter(|v| !v.is_empty() && !a.starts_with("--")) {
            // `-ek=v` and `-e=k=v` (the parser drops the `=`).
            let (eq, v) = v.strip_prefix('=').map_or(("", v), |v| ("=", v));
            out.push(format!("-e{eq}{}", mask_extra_vars(v)));
        } else if secret_option(a) {
            // A flag like `--ask-vault-pass` takes no value: nothing follows to hide.
            next = (!a.starts_with("--ask")).then_some(false);
            out.push(a.clone());
        } else {
            out.push(a.clone());
        }
    }
    out
}

/// Who runs stead: `$USER`, `$LOGNAME`, else `id -un`.
pub fn current_user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok()
        .filter(|u| !u.is_empty())
        .or_else(|| {
            let out = std::process::Command::new("id").arg("-un").output().ok()?;
            Some(String::from_utf8_lossy(&out.stdout).trim().to_owned()).filter(|u| !u.is_empty())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

/// This machine's host name.
pub fn controller_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Whether stead runs as root (the owner of `/proc/self` is the effective user).
pub fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// The commit checked out at `dir`, when it is inside a git repository.
pub fn git_commit(dir: &Path) -> Option<String> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["rev-parse", "--verify", "-q", "HEAD"])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let commit = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (out.status.success() && !commit.is_empty()).then_some(commit)
}

/// Per-host audit entries of a finished run.
pub fn hosts_of(report: &Report) -> BTreeMap<String, HostAudit> {
    report
        .hosts
        .iter()
        .map(|(name, h)| {
            let changed = h
                .tasks
                .iter()
                .filter(|t| {
                    t.status == Status::Changed || (t.status == Status::Failed && t.ignored && t.diff.is_some())
                })
                .map(|t| ChangedTask {
                    play: t.play.clone(),
                    task: t.task.clone(),
                    diff_sha256: t.diff.as_deref().map(|d| sha256_hex(d.as_bytes())),
                })
                .collect();
            let backups = h
                .tasks
                .iter()
                .flat_map(|t| {
                    t.backups.iter().map(|b| BackupEntry {
                        task: t.task.clone(),
                        path: b.path.clone(),
                        backup: b.backup.clone(),
                    })
                })
                .collect();
            (name.clone(), HostAudit { unreachable: h.unreachable, failed: h.failed, changed, backups })
        })
        .collect()
}

/// The default log: `/var/log/stead/audit.jsonl` for root, else
/// `$XDG_STATE_HOME/stead/audit.jsonl` (`~/.local/state` when unset).
pub fn default_path(is_root: bool, env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    if is_root {
        return Some(PathBuf::from("/var/log/stead/audit.jsonl"));
    }
    let state = match env("XDG_STATE_HOME").filter(|s| Path::new(s).is_absolute()) {
        Some(s) => PathBuf::from(s),
        None => PathBuf::from(env("HOME").filter(|h| !h.is_empty())?).join(".local/state"),
    };
    Some(state.join("stead/audit.jsonl"))
}

/// Opens the log for appending (creating it and its directory, private to
/// the user): done before the run, so an unusable log is found up front.
pub fn open(path: &Path) -> Result<std::fs::File, AuditError> {
    use std::os::unix::fs::OpenOptionsExt;
    let err = |source| AuditError { path: path.to_owned(), source };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    std::fs::OpenOptions::new().append(true).create(true).mode(0o600).open(path).map_err(err)
}

/// Appends one record as one line, with one `write`.
pub fn append(file: &mut std::fs::File, path: &Path, record: &AuditRecord) -> Result<(), AuditError> {
    let mut line = serde_json::to_string(record).expect("audit records serialize");
    line.push('\n');
    let err = |source| AuditError { path: path.to_owned(), source };
    let n = file.write(line.as_bytes()).map_err(err)?;
    if n != line.len() {
        return Err(err(std::io::Error::new(std::io::ErrorKind::WriteZero, "short write: the disk may be full")));
    }
    Ok(())
}

/// Reads every record, skipping lines that do not parse (each with a
/// warning naming its line). A missing log has no records.
pub fn read(path: &Path) -> Result<(Vec<AuditRecord>, Vec<String>), AuditError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((vec![], vec![])),
        Err(source) => return Err(AuditError { path: path.to_owned(), source }),
    };
    let mut records = Vec::new();
    let mut warnings = Vec::new();
    for (i, line) in bytes.split(|b| *b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<AuditRecord>(line) {
            Ok(r) => records.push(r),
            Err(e) => {
                warnings.push(format!("{}:{}: skipped a record that does not parse ({e})", path.display(), i + 1))
            }
        }
    }
    Ok((records, warnings))
}

/// Which records `stead audit` lists.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only records that ran on this host (and only its part of them).
    pub host: Option<String>,
    /// Only records at or after this RFC 3339 time.
    pub since: Option<std::time::SystemTime>,
    /// Only records in which something changed (on `host`, if given).
    pub changed: bool,
}

/// A backup found in the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FoundBackup {
    /// When the run that made it started.
    pub timestamp: String,
    /// The host it is on.
    pub host: String,
    /// The file it is a backup of.
    pub path: String,
    /// The backup's path on the host.
    pub backup: String,
    /// The task that made it.
    pub task: String,
}

/// The backups the records' runs made, newest first, optionally only on
/// `host` and of `path`. Dry runs make none.
pub fn backups(records: &[AuditRecord], host: Option<&str>, path: Option<&str>) -> Vec<FoundBackup> {
    let mut found = Vec::new();
    // Records are appended in time order: walk them backwards, newest first.
    for r in records.iter().rev().filter(|r| !r.check_mode) {
        for (h, a) in r.hosts.iter().filter(|(h, _)| host.is_none_or(|want| want == h.as_str())) {
            for b in a.backups.iter().rev().filter(|b| path.is_none_or(|p| p == b.path)) {
                found.push(FoundBackup {
                    timestamp: r.timestamp.clone(),
                    host: h.clone(),
                    path: b.path.clone(),
                    backup: b.backup.clone(),
                    task: b.task.clone(),
                });
            }
        }
    }
    found
}

impl Filter {
    /// The records that pass, narrowed to `host` when one is given.
    pub fn apply(&self, records: Vec<AuditRecord>) -> Vec<AuditRecord> {
        records
            .into_iter()
            .filter(|r| self.since.is_none_or(|since| humantime::parse_rfc3339(&r.timestamp).is_ok_and(|t| t >= since)))
            .filter_map(|mut r| {
                if let Some(h) = &self.host {
                    let mine = r.hosts.remove(h)?;
                    r.hosts = BTreeMap::from([(h.clone(), mine)]);
                }
                (!self.changed || r.hosts.values().any(|h| !h.changed.is_empty())).then_some(r)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<String> {
        s.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn secrets_are_masked_in_the_command_line() {
        let masked = mask_argv(&args(&[
            "stead",
            "apply",
            "site.yml",
            "-e",
            "db_password=hunter2 user=bob",
            "-eapi_token=abc",
            "-e=db_password=x",
            "--extra-vars={\"secret\": \"x\"}",
            "-e",
            "{\"region\": \"eu\"}",
            "-e",
            "@vars.yml",
            "--vault-password-file",
            "/run/vault-pass",
            "--vault-password-file=/x",
            "--ask-vault-pass",
            "-l",
            "web",
        ]));
        assert_eq!(
            masked,
            args(&[
                "stead",
                "apply",
                "site.yml",
                "-e",
                "db_password=******** user=bob",
                "-eapi_token=********",
                "-e=db_password=********",
                "--extra-vars=********",
                "-e",
                "{\"region\": \"eu\"}",
                "-e",
                "@vars.yml",
                "--vault-password-file",
                "********",
                "--vault-password-file=********",
                "--ask-vault-pass",
                "-l",
                "web",
            ])
        );
    }

    #[test]
    fn default_path_follows_xdg_and_root() {
        let env = |k: &str| match k {
            "HOME" => Some("/home/u".to_owned()),
            "XDG_STATE_HOME" => Some("/st".to_owned()),
            _ => None,
        };
        assert_eq!(default_path(true, &env), Some("/var/log/stead/audit.jsonl".into()));
        assert_eq!(default_path(false, &env), Some("/st/stead/audit.jsonl".into()));
        let home_only = |k: &str| (k == "HOME").then(|| "/home/u".to_owned());
        assert_eq!(default_path(false, &home_only), Some("/home/u/.local/state/stead/audit.jsonl".into()));
        assert_eq!(default_path(false, &|_| None), None);
    }

    fn record(ts: &str, host: &str, changed: bool) -> AuditRecord {
        AuditRecord {
            version: AUDIT_VERSION,
            timestamp: ts.into(),
            duration_ms: 1,
            user: "u".into(),
            controller: "c".into(),
            argv: vec![],
            command: "apply".into(),
            check_mode: false,
            playbooks: vec![],
            inventories: vec![],
            git_commit: None,
            hosts: BTreeMap::from([(
                host.to_owned(),
                HostAudit {
                    changed: if changed {
                        vec![ChangedTask { play: "p".into(), task: "t".into(), diff_sha256: None }]
                    } else {
                        vec![]
                    },
                    ..HostAudit::default()
                },
            )]),
            exit_status: 0,
        }
    }

    #[test]
    fn records_append_read_back_and_a_torn_tail_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("deep/audit.jsonl");
        let mut f = open(&path).unwrap();
        append(&mut f, &path, &record("2026-01-01T00:00:00Z", "a", true)).unwrap();
        append(&mut f, &path, &record("2026-06-01T00:00:00Z", "b", false)).unwrap();
        f.write_all(b"{\"version\":1,\"timesta").unwrap();
        let (records, warnings) = read(&path).unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("audit.jsonl:3"), "{warnings:?}");

        let since = humantime::parse_rfc3339("2026-03-01T00:00:00Z").unwrap();
        let f = Filter { since: Some(since), ..Filter::default() };
        assert_eq!(f.apply(records.clone()).len(), 1);
        let f = Filter { changed: true, ..Filter::default() };
        assert_eq!(f.apply(records.clone())[0].hosts.keys().collect::<Vec<_>>(), ["a"]);
        let f = Filter { host: Some("b".into()), changed: true, ..Filter::default() };
        assert!(f.apply(records).is_empty());
    }
}
