//! Every flag, defined once (CONTRACT §1). Help text comes from here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Agentless configuration automation: Ansible playbooks, one fast binary.
#[derive(Debug, Parser)]
#[command(name = "stead", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run plays against hosts.
    Apply(RunArgs),
    /// Dry run with diffs: same as `apply --check --diff`. Never changes a host.
    Plan(RunArgs),
    /// Check playbooks and inventory statically; never contacts a host.
    Validate(ValidateArgs),
    /// Ad-hoc: run one module on the matching hosts.
    Exec(ExecArgs),
    /// Show the inventory.
    Inventory(InventoryArgs),
    /// Print gathered facts as JSON.
    Facts(FactsArgs),
    /// List the local audit trail of past apply and plan runs.
    Audit(AuditArgs),
    /// Find the backups runs made (`backup: true`) and put one back.
    #[command(subcommand)]
    Backups(BackupsCommand),
    /// The settings read from ansible.cfg and ANSIBLE_* variables.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Print a shell completion script, generated from this command line's definition.
    Completions(CompletionsArgs),
    /// Print the manual page (roff), generated from this command line's definition.
    Man(ManArgs),
    /// Ansible Vault: encrypt, decrypt, view, edit and rekey files, and encrypt strings.
    Vault(VaultCommand),
}

/// Options of completions.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell: bash (source it, or put it in /etc/bash_completion.d/stead), zsh (a file
    /// named _stead on $fpath), fish (~/.config/fish/completions/stead.fish).
    #[arg(value_enum)]
    pub shell: CompletionShell,
}

/// Shells that completions are generated for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompletionShell {
    /// GNU bash.
    Bash,
    /// Z shell.
    Zsh,
    /// fish.
    Fish,
}

/// Options of man.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write one page per command into DIR (stead.1, stead-apply.1, ...) instead of printing stead.1.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

/// Where vault passwords come from; every command that reads vaulted
/// files takes these. A password is never given on the command line.
#[derive(Debug, Args, Clone, Default)]
pub struct VaultArgs {
    /// A file holding the vault password, or an executable printing it (repeatable;
    /// also ANSIBLE_VAULT_PASSWORD_FILE and `vault_password_file` in ansible.cfg).
    #[arg(long = "vault-password-file", alias = "vault-pass-file", value_name = "PATH")]
    pub vault_password_file: Vec<PathBuf>,
    /// A labelled vault password: LABEL@FILE (a file or an executable) or LABEL@prompt
    /// (repeatable). The label picks the password for a `1.2;AES256;LABEL` vault first.
    #[arg(long = "vault-id", value_name = "LABEL@SOURCE")]
    pub vault_id: Vec<String>,
    /// Ask for the vault password on the terminal (no echo).
    #[arg(short = 'J', long = "ask-vault-pass", alias = "ask-vault-password")]
    pub ask_vault_pass: bool,
}

/// `stead vault ...`.
#[derive(Debug, Args)]
pub struct VaultCommand {
    /// What to do.
    #[command(subcommand)]
    pub action: VaultAction,
}

/// The vault actions (ansible-vault's).
#[derive(Debug, Subcommand)]
pub enum VaultAction {
    /// Encrypt files in place (or into --output); with no FILE, stdin to stdout.
    Encrypt(VaultEncryptArgs),
    /// Decrypt files in place (or into --output); with no FILE, stdin to stdout.
    Decrypt(VaultDecryptArgs),
    /// Print the plaintext of vault files.
    View(VaultFilesArgs),
    /// Decrypt a file into a private temporary file, run $EDITOR on it, encrypt it back.
    Edit(VaultFilesArgs),
    /// Encrypt vault files again with a new password.
    Rekey(VaultRekeyArgs),
    /// Encrypt a string as a `!vault |` YAML value (reads stdin when no STRING is given;
    /// prefer stdin: an argument is visible to other users in the process list).
    #[command(alias = "encrypt_string")]
    EncryptString(VaultEncryptStringArgs),
}

/// Options of vault encrypt.
#[derive(Debug, Args)]
pub struct VaultEncryptArgs {
    /// Files to encrypt (`-` is stdin).
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Write here instead of in place (`-` is stdout); only with one input.
    #[arg(long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// The vault id to encrypt with, when several are given.
    #[arg(long = "encrypt-vault-id", value_name = "LABEL")]
    pub encrypt_vault_id: Option<String>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub vault: VaultArgs,
}

/// Options of vault decrypt.
#[derive(Debug, Args)]
pub struct VaultDecryptArgs {
    /// Files to decrypt (`-` is stdin).
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Write here instead of in place (`-` is stdout); only with one input.
    #[arg(long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub vault: VaultArgs,
}

/// Options of vault view and edit.
#[derive(Debug, Args)]
pub struct VaultFilesArgs {
    /// Vault files.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub vault: VaultArgs,
}

/// Options of vault rekey.
#[derive(Debug, Args)]
pub struct VaultRekeyArgs {
    /// Vault files.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// The new password: a file, or an executable printing it.
    #[arg(long = "new-vault-password-file", value_name = "PATH", conflicts_with = "new_vault_id")]
    pub new_vault_password_file: Option<PathBuf>,
    /// The new labelled password: LABEL@FILE or LABEL@prompt.
    #[arg(long = "new-vault-id", value_name = "LABEL@SOURCE")]
    pub new_vault_id: Option<String>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub vault: VaultArgs,
}

/// Options of vault encrypt-string.
#[derive(Debug, Args)]
pub struct VaultEncryptStringArgs {
    /// Strings to encrypt (`-` reads stdin). With none, stdin is read.
    #[arg(value_name = "STRING")]
    pub strings: Vec<String>,
    /// The variable name of each STRING, in order (`NAME: !vault |`).
    #[arg(short = 'n', long = "name", value_name = "VAR")]
    pub names: Vec<String>,
    /// The variable name of the text read from stdin.
    #[arg(long = "stdin-name", value_name = "VAR")]
    pub stdin_name: Option<String>,
    /// Ask for the string on the terminal (no echo) instead.
    #[arg(short = 'p', long = "prompt", conflicts_with_all = ["strings", "stdin_name"])]
    pub prompt: bool,
    /// Write here instead of stdout.
    #[arg(long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// The vault id to encrypt with, when several are given.
    #[arg(long = "encrypt-vault-id", value_name = "LABEL")]
    pub encrypt_vault_id: Option<String>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub vault: VaultArgs,
}

/// `stead backups ...`.
#[derive(Debug, Subcommand)]
pub enum BackupsCommand {
    /// List the backups recorded in the audit trail, newest first.
    List(BackupsListArgs),
    /// Put a file back from one of its backups (atomically, with a diff; --check to preview).
    Restore(Box<BackupsRestoreArgs>),
}

/// Options of backups list.
#[derive(Debug, Args)]
pub struct BackupsListArgs {
    /// Only this host's backups.
    pub host: Option<String>,
    /// Only the backups of this file.
    pub path: Option<String>,
    /// Print them as JSON lines.
    #[arg(long)]
    pub json: bool,
    /// The audit log to read (default as for apply).
    #[arg(long = "audit-log", value_name = "PATH", env = "STEAD_AUDIT_LOG")]
    pub audit_log: Option<PathBuf>,
}

/// Options of backups restore.
#[derive(Debug, Args)]
pub struct BackupsRestoreArgs {
    /// The host (its inventory name).
    pub host: String,
    /// The file to put back.
    pub path: String,
    /// Which backup: its path or file name as `backups list` shows it (default: the newest).
    #[arg(long, value_name = "BACKUP")]
    pub at: Option<String>,
    /// The audit log to read, and to record the restore in (default as for apply).
    #[arg(long = "audit-log", value_name = "PATH", env = "STEAD_AUDIT_LOG")]
    pub audit_log: Option<PathBuf>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub inventory: InventoryOpt,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: CommonRunArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub mode: ModeArgs,
}

/// `stead config ...`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print every effective setting, its value and where it came from.
    Dump {
        /// Print them as one JSON document.
        #[arg(long)]
        json: bool,
    },
}

/// Options of audit.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only runs on this host (and only its part of each).
    #[arg(long, value_name = "HOST")]
    pub host: Option<String>,
    /// Only runs since this time: RFC 3339 (2026-12-01T08:00:00Z), a date, or an age (2h, 7days).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only runs in which something changed (or would have, in check mode).
    #[arg(long)]
    pub changed: bool,
    /// Print the matching records as JSON lines.
    #[arg(long)]
    pub json: bool,
    /// The audit log to read (default as for apply).
    #[arg(long = "audit-log", value_name = "PATH", env = "STEAD_AUDIT_LOG")]
    pub audit_log: Option<PathBuf>,
}

/// Output style.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputMode {
    /// Progress bars on a TTY; plain lines otherwise, under CI, or with NO_COLOR.
    Auto,
    /// Progress bars.
    Progress,
    /// One line per task result.
    Plain,
    /// Only errors and the recap.
    Quiet,
}

/// Inventory selection, shared by every subcommand.
#[derive(Debug, Args, Clone)]
pub struct InventoryOpt {
    /// YAML or INI inventory file, or a directory of them (repeatable).
    /// Default: inventory of ansible.cfg (or ANSIBLE_INVENTORY), else ./inventory.yaml when present.
    #[arg(short = 'i', long = "inventory", value_name = "PATH")]
    pub inventory: Vec<PathBuf>,
}

/// Options of apply and plan.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Playbooks to run, in order; for apply, or one saved plan (`stead plan --out`).
    #[arg(required = true, value_name = "PLAYBOOK")]
    pub playbooks: Vec<PathBuf>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub inventory: InventoryOpt,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: CommonRunArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub mode: ModeArgs,
    /// Only run tasks with these tags (comma-separated, repeatable).
    #[arg(short = 't', long = "tags", value_delimiter = ',')]
    pub tags: Vec<String>,
    /// Skip tasks with these tags.
    #[arg(long = "skip-tags", value_delimiter = ',')]
    pub skip_tags: Vec<String>,
    /// Write a report (repeatable): json=PATH (CONTRACT §6), junit=PATH (one testsuite per
    /// host; drift in check mode is a failure), jsonl=PATH (one JSON line per event, as it
    /// happens), prometheus=PATH (textfile metrics, written atomically). PATH `-` is stdout.
    #[arg(long = "report", value_name = "FORMAT=PATH")]
    pub report: Vec<String>,
    /// Set bit 2 of the exit code when anything changed (or would change).
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Append this run's record to this audit log. Default: $XDG_STATE_HOME/stead/audit.jsonl
    /// (~/.local/state/...), /var/log/stead/audit.jsonl as root.
    #[arg(long = "audit-log", value_name = "PATH", env = "STEAD_AUDIT_LOG")]
    pub audit_log: Option<PathBuf>,
    /// Where handlers notified but never run (a failed or interrupted run) are kept for the
    /// next run of the play. Default: pending-handlers.json in $XDG_STATE_HOME/stead
    /// (~/.local/state/...), /var/lib/stead as root.
    #[arg(long = "pending-handlers", value_name = "PATH", env = "STEAD_PENDING_HANDLERS")]
    pub pending_handlers: Option<PathBuf>,
    /// Keep no audit record of this run.
    #[arg(long = "no-audit-log")]
    pub no_audit_log: bool,
    /// Run only the K-th of N deterministic, disjoint slices of the hosts.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// Print the hosts each play would run on, and exit.
    #[arg(long)]
    pub list_hosts: bool,
    /// Print each play's tasks (the task graph and its independent runs), and exit.
    #[arg(long)]
    pub list_tasks: bool,
    /// Check the playbooks' syntax, and exit.
    #[arg(long)]
    pub syntax_check: bool,
    /// Run notified handlers even when a later task fails.
    #[arg(long)]
    pub force_handlers: bool,
    /// Extra role search path (also ANSIBLE_ROLES_PATH, roles_path in ansible.cfg); repeatable.
    #[arg(long = "roles-path", value_name = "PATH")]
    pub roles_path: Vec<PathBuf>,
    /// After the recap, the slowest tasks and hosts.
    #[arg(long)]
    pub profile: bool,
    /// After the recap, the compliance table: per tag, the hosts compliant, drifted and failed.
    #[arg(long)]
    pub compliance_summary: bool,
    /// plan only: save the plan to PATH; `stead apply PATH` then applies exactly it.
    #[arg(long = "out", value_name = "PATH")]
    pub out: Option<PathBuf>,
}

/// Dry run, diffs and output style, shared by apply, plan and exec.
#[derive(Debug, Args, Clone)]
pub struct ModeArgs {
    /// Dry run: report what would change, change nothing.
    #[arg(short = 'C', long)]
    pub check: bool,
    /// Show per-host diffs.
    #[arg(short = 'D', long)]
    pub diff: bool,
    /// Output style.
    #[arg(long, value_enum, default_value = "auto")]
    pub output: OutputMode,
}

/// Options shared by apply, plan and exec.
#[derive(Debug, Args, Clone)]
pub struct CommonRunArgs {
    /// Ansible host pattern limiting the hosts.
    #[arg(short = 'l', long)]
    pub limit: Option<String>,
    /// Hosts in flight at once [default: forks of ansible.cfg, else 50].
    #[arg(short = 'f', long)]
    pub forks: Option<usize>,
    /// Extra variables: k=v, a JSON/YAML string, or @file.yaml; repeatable.
    #[arg(short = 'e', long = "extra-vars", value_name = "VARS")]
    pub extra_vars: Vec<String>,
    /// Connection user.
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Escalate privileges (sudo; -n unless a become password is given).
    #[arg(short = 'b', long = "become")]
    pub become_: bool,
    /// User to become.
    #[arg(long)]
    pub become_user: Option<String>,
    /// Ask for the become (sudo) password once, on the terminal (no echo). A host's
    /// ansible_become_password wins.
    #[arg(
        short = 'K',
        long = "ask-become-pass",
        alias = "ask-become-password",
        conflicts_with = "become_password_file"
    )]
    pub ask_become_pass: bool,
    /// A file holding the become password (surrounding whitespace dropped), or an executable printing it
    /// (also ANSIBLE_BECOME_PASSWORD_FILE and `become_password_file` in ansible.cfg).
    #[arg(long = "become-password-file", alias = "become-pass-file", value_name = "PATH")]
    pub become_password_file: Option<PathBuf>,
    /// Accept host keys of hosts never seen before (default: strict checking).
    #[arg(long)]
    pub accept_new_host_keys: bool,
    /// When another stead run holds a host's lock, wait up to SECS for it (default: refuse
    /// that host at once, naming the holder).
    #[arg(long = "lock-wait", value_name = "SECS", default_value_t = 0)]
    pub lock_wait: u64,
    /// More output: -v tells each remote command (host, purpose, exit status, time, sizes);
    /// -vv also prints its script (never a no_log task's; vault values masked).
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub vault: VaultArgs,
}

/// Options of validate.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Playbooks to check.
    #[arg(required = true, value_name = "PLAYBOOK")]
    pub playbooks: Vec<PathBuf>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub inventory: InventoryOpt,
    /// Extra variables (they count as defined).
    #[arg(short = 'e', long = "extra-vars", value_name = "VARS")]
    pub extra_vars: Vec<String>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub vault: VaultArgs,
    /// Extra role search path (also ANSIBLE_ROLES_PATH, roles_path in ansible.cfg); repeatable.
    #[arg(long = "roles-path", value_name = "PATH")]
    pub roles_path: Vec<PathBuf>,
}

/// Options of exec.
#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Host pattern.
    pub pattern: String,
    /// Module name.
    #[arg(short = 'm', long = "module-name", default_value = "command")]
    pub module: String,
    /// Module arguments (`k=v ...` or free-form text).
    #[arg(short = 'a', long = "args")]
    pub args: Option<String>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub inventory: InventoryOpt,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: CommonRunArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub mode: ModeArgs,
}

/// Options of inventory.
#[derive(Debug, Args)]
pub struct InventoryArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub inventory: InventoryOpt,
    /// Print all hosts and groups as JSON (like ansible-inventory --list).
    #[arg(long, group = "what")]
    pub list: bool,
    /// Print the group tree.
    #[arg(long, group = "what")]
    pub graph: bool,
    /// Print one host's variables as JSON (vaulted values masked).
    #[arg(long, group = "what", value_name = "NAME")]
    pub host: Option<String>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub vault: VaultArgs,
}

/// Options of facts.
#[derive(Debug, Args)]
pub struct FactsArgs {
    /// Host pattern.
    pub pattern: String,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub inventory: InventoryOpt,
    /// Accept host keys of hosts never seen before.
    #[arg(long)]
    pub accept_new_host_keys: bool,
    /// Connection user.
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Escalate privileges (sudo -n), e.g. for dnf's system cache when connecting as another user.
    #[arg(short = 'b', long = "become")]
    pub become_: bool,
    /// Ask for the become (sudo) password once, on the terminal (no echo).
    #[arg(
        short = 'K',
        long = "ask-become-pass",
        alias = "ask-become-password",
        conflicts_with = "become_password_file"
    )]
    pub ask_become_pass: bool,
    /// A file holding the become password, or an executable printing it.
    #[arg(long = "become-password-file", alias = "become-pass-file", value_name = "PATH")]
    pub become_password_file: Option<PathBuf>,
    /// Print each host's patch status instead (pending upgrades, security ones, reboot, index age; read only).
    #[arg(long)]
    pub patches: bool,
    /// With --patches: write a report (repeatable): json=PATH (the run's report with a `patches` object per host)
    /// or prometheus=PATH (patch gauges per host, for node_exporter's textfile collector).
    #[arg(long = "report", value_name = "FORMAT=PATH", requires = "patches")]
    pub report: Vec<String>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub vault: VaultArgs,
}
