//! `stead backups list` and `stead backups restore`: the backups that runs
//! made (`backup: true`) are recorded in the audit trail with host, file and
//! backup path; these commands find them again and put one back.
//!
//! A restore is an ordinary run of one `copy` task with `remote_src` (the
//! backup is already on the host): atomic, idempotent, with a diff, a dry
//! run under `--check`, and itself recorded in the audit trail. It keeps a
//! backup of the version it replaces, so a restore can be undone the same
//! way. It never deletes a backup.

use anyhow::{anyhow, bail, Result};
use stead::exit;
use stead::report::audit::{self, FoundBackup};

use super::args::{BackupsListArgs, BackupsRestoreArgs, RunArgs};
use super::{default_audit_path, json_str, out, run_playbooks};

fn records(log: Option<std::path::PathBuf>) -> Result<Vec<audit::AuditRecord>> {
    let path = log
        .or_else(default_audit_path)
        .ok_or_else(|| anyhow!("no audit log: neither XDG_STATE_HOME nor HOME is set (use --audit-log PATH)"))?;
    let (records, warnings) = audit::read(&path)?;
    for w in warnings {
        eprintln!("warning: {w}");
    }
    Ok(records)
}

/// `stead backups list [HOST] [PATH]`.
pub fn list(a: BackupsListArgs) -> Result<i32> {
    let found = audit::backups(&records(a.audit_log)?, a.host.as_deref(), a.path.as_deref());
    for b in &found {
        if a.json {
            out(serde_json::to_string(b)?);
        } else {
            out(format!("{}  {}  {}  {}  ({})", b.timestamp, b.host, b.path, b.backup, b.task));
        }
    }
    if found.is_empty() && !a.json {
        eprintln!("no backups recorded (only runs with `backup: true` that changed a file make them)");
    }
    Ok(exit::OK)
}

/// The backup `--at` names (its path, or its file name), else the newest.
fn pick<'a>(found: &'a [FoundBackup], at: Option<&str>) -> Option<&'a FoundBackup> {
    match at {
        None => found.first(),
        Some(at) => found.iter().find(|b| b.backup == at || b.backup.rsplit('/').next() == Some(at)),
    }
}

/// `stead backups restore HOST PATH [--at BACKUP]`.
pub fn restore(a: BackupsRestoreArgs) -> Result<i32> {
    let found = audit::backups(&records(a.audit_log.clone())?, Some(&a.host), Some(&a.path));
    if found.is_empty() {
        bail!("no backup of {} on {} is recorded in the audit trail (see `stead backups list`)", a.path, a.host);
    }
    let Some(backup) = pick(&found, a.at.as_deref()) else {
        let known: Vec<&str> = found.iter().map(|b| b.backup.as_str()).collect();
        bail!(
            "--at {}: not a recorded backup of {} on {}; recorded: {}",
            a.at.unwrap_or_default(),
            a.path,
            a.host,
            known.join(", ")
        );
    };
    let yaml = format!(
        "- hosts: {}\n  gather_facts: false\n  tasks:\n    - name: {}\n      copy:\n        src: {}\n        dest: {}\n        remote_src: true\n        backup: true\n",
        json_str(&a.host),
        json_str(&format!("restore {} from {}", backup.path, backup.backup)),
        json_str(&backup.backup),
        json_str(&backup.path),
    );
    let dir = tempfile::tempdir()?;
    let playbook = dir.path().join("restore.yml");
    std::fs::write(&playbook, yaml)?;
    let mut mode = a.mode;
    // A restore always shows what it puts back.
    mode.diff = true;
    let run = RunArgs {
        playbooks: vec![playbook],
        inventory: a.inventory,
        common: a.common,
        mode,
        tags: vec![],
        skip_tags: vec![],
        report: vec![],
        detailed_exitcode: false,
        audit_log: a.audit_log,
        no_audit_log: false,
        pending_handlers: None,
        shard: None,
        list_hosts: false,
        list_tasks: false,
        syntax_check: false,
        force_handlers: false,
        roles_path: vec![],
        out: None,
        compliance_summary: false,
        profile: false,
    };
    run_playbooks(run, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(backup: &str) -> FoundBackup {
        FoundBackup {
            timestamp: String::new(),
            host: "web1".into(),
            path: "/etc/motd".into(),
            backup: backup.into(),
            task: "t".into(),
        }
    }

    #[test]
    fn at_names_a_backup_by_path_or_file_name_and_the_newest_is_the_default() {
        let list = [found("/etc/motd.2.2026-12-02@10:00:00~"), found("/etc/motd.1.2026-12-01@09:00:00~")];
        assert_eq!(pick(&list, None), Some(&list[0]));
        assert_eq!(pick(&list, Some("motd.1.2026-12-01@09:00:00~")), Some(&list[1]));
        assert_eq!(pick(&list, Some("/etc/motd.1.2026-12-01@09:00:00~")), Some(&list[1]));
        assert_eq!(pick(&list, Some("motd.3")), None);
    }
}
