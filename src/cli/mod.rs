//! The command line: turns arguments into library calls and outcomes into
//! output and exit status. Owns the terminal; the library never prints.

mod args;
mod backups;
mod live;
mod saved;
mod terminal;
mod vault;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use anyhow::{anyhow, bail, Context, Result};
use clap::{CommandFactory, Parser};
use serde_json::Value as Json;

use args::{Cli, Command, CommonRunArgs, ConfigCommand, InventoryOpt, RunArgs};
use stead::config::{Flags, Settings};
use stead::exec::{self, EventSink, Masked, Tee};
use stead::exit;
use stead::plan::{self, RunOptions, RunPlan};
use stead::report::{self, audit, Collector, Destination, Format, ReportSpec};
use terminal::{resolve_style, Terminal};

/// Runs the CLI and returns the exit status.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // Usage errors exit 1 (CONTRACT §2); --help and --version exit 0.
            return if e.use_stderr() { exit::INPUT_ERROR } else { exit::OK };
        }
    };
    match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            let mut text = format!("error: {e}");
            for cause in e.chain().skip(1) {
                text.push_str(&format!("\n  caused by: {cause}"));
            }
            // An error may quote a value (a template's, a command's output):
            // vaulted ones are masked here too.
            eprintln!("{}", stead::vault::mask::mask(&text));
            exit::INPUT_ERROR
        }
    }
}

fn dispatch(cli: Cli) -> Result<i32> {
    match cli.command {
        Command::Apply(a) => run_playbooks(a, false),
        Command::Plan(a) => run_playbooks(a, true),
        Command::Validate(v) => {
            let settings = settings(&Flags { inventory: v.inventory.inventory.clone(), ..Flags::default() })?;
            vault::install(&v.vault, &settings)?;
            let inventory = load_inventory(&default_inventory(&settings), &v.playbooks)?;
            let options = RunOptions {
                extra_vars: parse_extra_vars(&v.extra_vars)?,
                search: settings.search_paths(&v.roles_path),
                ..RunOptions::default()
            };
            let plan = compile(&v.playbooks, inventory, options)?;
            print_warnings(&plan);
            let tasks: usize = plan.plays.iter().map(|p| p.play.tasks.len()).sum();
            out(format!(
                "ok: {} playbook(s), {} play(s), {tasks} task(s) valid",
                plan.playbooks.len(),
                plan.plays.len()
            ));
            Ok(exit::OK)
        }
        Command::Exec(x) => {
            let yaml = format!(
                "- hosts: {}\n  gather_facts: false\n  tasks:\n    - name: {}\n      {}: {}\n",
                json_str(&x.pattern),
                json_str(format!("{} {}", x.module, x.args.clone().unwrap_or_default()).trim()),
                x.module,
                x.args.as_deref().map_or("{}".to_owned(), json_str),
            );
            let dir = tempfile::tempdir()?;
            let path = dir.path().join("exec.yml");
            std::fs::write(&path, yaml)?;
            let run = RunArgs {
                playbooks: vec![path],
                inventory: x.inventory,
                common: x.common,
                mode: x.mode,
                tags: vec![],
                skip_tags: vec![],
                report: vec![],
                detailed_exitcode: false,
                // The audit trail records apply and plan runs.
                audit_log: None,
                no_audit_log: true,
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
        Command::Inventory(i) => {
            let settings = settings(&Flags { inventory: i.inventory.inventory.clone(), ..Flags::default() })?;
            vault::install(&i.vault, &settings)?;
            let inventory = load_inventory(&default_inventory(&settings), &[])?;
            if let Some(host) = i.host {
                let vars =
                    inventory.host_json(&host).ok_or_else(|| anyhow!("host `{host}` is not in the inventory"))?;
                out(serde_json::to_string_pretty(&vars)?);
            } else if i.graph {
                out(inventory.graph().to_string());
            } else {
                out(serde_json::to_string_pretty(&inventory.list_json())?);
            }
            Ok(exit::OK)
        }
        Command::Facts(f) => facts(f),
        Command::Audit(x) => audit_list(x),
        Command::Backups(args::BackupsCommand::List(b)) => backups::list(b),
        Command::Backups(args::BackupsCommand::Restore(b)) => backups::restore(*b),
        Command::Config(ConfigCommand::Dump { json }) => config_dump(json),
        Command::Completions(c) => {
            let shell = match c.shell {
                args::CompletionShell::Bash => clap_complete::Shell::Bash,
                args::CompletionShell::Zsh => clap_complete::Shell::Zsh,
                args::CompletionShell::Fish => clap_complete::Shell::Fish,
            };
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "stead", &mut script);
            out_bytes(&script);
            Ok(exit::OK)
        }
        Command::Man(m) => {
            match m.out_dir {
                Some(dir) => {
                    clap_mangen::generate_to(Cli::command(), &dir)
                        .with_context(|| format!("writing manual pages into {}", dir.display()))?;
                }
                None => {
                    let mut page = Vec::new();
                    clap_mangen::Man::new(Cli::command()).render(&mut page)?;
                    out_bytes(&page);
                }
            }
            Ok(exit::OK)
        }
        Command::Vault(v) => vault::command(v),
    }
}

/// The run's become password, from `-K` or a password file (the flags are
/// already applied to the settings).
fn become_password(settings: &Settings) -> Result<Option<stead::transport::BecomePassword>> {
    vault::become_password(settings.become_ask_pass.value, settings.become_password_file.value.as_deref())
}

/// The effective settings (ansible.cfg, `ANSIBLE_*`, then the flags), with
/// their warnings printed: once per run.
fn settings(flags: &Flags) -> Result<Settings> {
    let env = |k: &str| std::env::var(k).ok();
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let mut settings = stead::config::load(&env, &cwd)?;
    settings.apply_flags(flags);
    for w in &settings.warnings {
        eprintln!("warning: {w}");
    }
    if let Some(line) = settings.ignored_line() {
        eprintln!("warning: {line}");
    }
    if let Some(note) = settings.host_key_note() {
        eprintln!("note: {note}");
    }
    Ok(settings)
}

/// The flags of a run that beat the configuration.
fn run_flags(common: &CommonRunArgs, inventory: &InventoryOpt, force_handlers: bool) -> Flags {
    Flags {
        inventory: inventory.inventory.clone(),
        forks: common.forks,
        user: common.user.clone(),
        become_: common.become_,
        become_user: common.become_user.clone(),
        accept_new_host_keys: common.accept_new_host_keys,
        force_handlers,
        ask_become_pass: common.ask_become_pass,
        become_password_file: common.become_password_file.clone(),
    }
}

/// `stead config dump`: every effective setting, its value and its origin.
fn config_dump(json: bool) -> Result<i32> {
    let settings = settings(&Flags::default())?;
    let shown = settings.shown();
    if json {
        let list: Vec<Json> = shown
            .iter()
            .map(|s| {
                serde_json::json!({
                    "name": s.name,
                    "value": s.value,
                    "origin": s.origin.to_string(),
                })
            })
            .collect();
        let ignored: Vec<Json> = settings
            .ignored
            .iter()
            .map(|(name, origin)| serde_json::json!({"name": name, "origin": origin.to_string()}))
            .collect();
        let doc = serde_json::json!({
            "config_file": settings.file.as_ref().map(|p| p.display().to_string()),
            "settings": list,
            "ignored": ignored,
        });
        out(serde_json::to_string_pretty(&doc)?);
        return Ok(exit::OK);
    }
    let file = settings.file.as_ref().map_or_else(|| "none".to_owned(), |p| p.display().to_string());
    out(format!("# config file: {file}"));
    for s in shown {
        out(format!("{}({}) = {}", s.name, s.origin, s.text));
    }
    Ok(exit::OK)
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).expect("strings serialize")
}

/// `-i`, else the configured `inventory`, else `./inventory.yaml` when present.
fn default_inventory(settings: &Settings) -> Vec<PathBuf> {
    if settings.inventory.value.is_empty() && Path::new("inventory.yaml").exists() {
        vec![PathBuf::from("inventory.yaml")]
    } else {
        settings.inventory.value.clone()
    }
}

fn load_inventory(sources: &[PathBuf], playbooks: &[PathBuf]) -> Result<stead::inventory::Inventory> {
    let dirs: Vec<&Path> = playbooks.iter().map(|p| p.parent().unwrap_or(Path::new("."))).collect();
    let dirs: Vec<&Path> =
        dirs.into_iter().map(|d| if d.as_os_str().is_empty() { Path::new(".") } else { d }).collect();
    Ok(plan::load_inventory(sources, &dirs)?)
}

fn compile(playbooks: &[PathBuf], inventory: stead::inventory::Inventory, options: RunOptions) -> Result<RunPlan> {
    for p in playbooks {
        if !p.exists() {
            bail!("playbook {} not found", p.display());
        }
    }
    plan::compile(playbooks, inventory, options).map_err(|e| anyhow!("{e}"))
}

fn print_warnings(plan: &RunPlan) {
    for w in &plan.warnings {
        eprintln!("warning: {}", stead::vault::mask::mask(w));
    }
}

/// `-e` values: `k=v` words, a JSON/YAML mapping, or `@file`.
fn parse_extra_vars(values: &[String]) -> Result<serde_json::Map<String, Json>> {
    let mut out = serde_json::Map::new();
    for v in values {
        let (text, origin) = if let Some(file) = v.strip_prefix('@') {
            (
                stead::inputs::read_to_string(std::path::Path::new(file))
                    .with_context(|| format!("reading extra vars file {file}"))?,
                PathBuf::from(file),
            )
        } else {
            (v.clone(), PathBuf::from("--extra-vars"))
        };
        let trimmed = text.trim_start();
        if v.starts_with('@')
            || trimmed.starts_with('{')
            || trimmed.starts_with('[')
            || trimmed.contains(":\n")
            || trimmed.contains(": ") && !trimmed.contains('=')
        {
            let loaded = stead::yaml::load_str(&text, &origin).map_err(|e| anyhow!("{e}"))?;
            match loaded.root.to_json() {
                Json::Object(m) => out.extend(m),
                _ => bail!("extra vars `{v}` must be a mapping"),
            }
        } else {
            for word in shell_words::split(&text).map_err(|e| anyhow!("extra vars `{v}`: {e}"))? {
                let (k, val) =
                    word.split_once('=').ok_or_else(|| anyhow!("extra vars: expected key=value, got `{word}`"))?;
                out.insert(k.to_owned(), Json::String(val.to_owned()));
            }
        }
    }
    Ok(out)
}

fn run_options(common: &CommonRunArgs, check: bool, diff: bool, settings: &Settings) -> Result<RunOptions> {
    Ok(RunOptions {
        check,
        diff,
        extra_vars: parse_extra_vars(&common.extra_vars)?,
        limit: common.limit.clone(),
        verbosity: common.verbose,
        lock_holder: lock_holder(),
        lock_wait_secs: common.lock_wait,
        ..configured(settings)
    })
}

/// Who this run is, as a host's lock names it to another run: user,
/// machine, process and start time, and the command (never its arguments,
/// which may hold secrets).
pub(crate) fn lock_holder() -> String {
    let command = std::env::args().nth(1).unwrap_or_default();
    format!(
        "stead {command} by {}@{} (pid {}), since {}",
        audit::current_user(),
        audit::controller_hostname(),
        std::process::id(),
        humantime::format_rfc3339_seconds(SystemTime::now())
    )
}

/// The run options the settings give (flags already applied to them).
fn configured(s: &Settings) -> RunOptions {
    RunOptions {
        forks: s.forks.value,
        user: s.remote_user.value.clone(),
        become_: s.become_.value,
        // The defaults (root, sudo) stay the executor's last resort.
        become_user: s.become_user.is_set().then(|| s.become_user.value.clone()),
        become_method: s.become_method.is_set().then(|| s.become_method.value.clone()),
        accept_new_host_keys: !s.host_key_checking.value,
        force_handlers: s.force_handlers.value,
        private_key_file: s.private_key_file.value.clone(),
        remote_port: s.remote_port.value,
        connect_timeout: Some(std::time::Duration::from_secs(s.timeout.value)),
        ssh_args: s.ssh_args.value.clone(),
        ssh_common_args: s.ssh_common_args.value.clone(),
        ssh_extra_args: s.ssh_extra_args.value.clone(),
        control_path_dir: s.control_path_dir.value.clone(),
        gathering: s.gathering.value,
        ansible_managed: Some(s.ansible_managed.value.clone()),
        ..RunOptions::default()
    }
}

fn parse_shard(s: &str) -> Result<(usize, usize)> {
    let (k, n) = s.split_once('/').ok_or_else(|| anyhow!("--shard takes K/N, e.g. 1/3"))?;
    let (k, n): (usize, usize) = (k.trim().parse()?, n.trim().parse()?);
    if n == 0 || k == 0 || k > n {
        bail!("--shard {s}: K must be between 1 and N");
    }
    Ok((k, n))
}

fn run_playbooks(a: RunArgs, is_plan: bool) -> Result<i32> {
    let settings = settings(&run_flags(&a.common, &a.inventory, a.force_handlers))?;
    vault::install(&a.common.vault, &settings)?;
    if !is_plan && a.playbooks.len() == 1 && stead::saved_plan::SavedPlan::is_plan_file(&a.playbooks[0]) {
        return saved::apply(a, &settings);
    }
    if a.out.is_some() && !is_plan {
        bail!("--out saves a plan: use `stead plan ... --out PATH`, then `stead apply PATH`");
    }
    let check = a.mode.check || is_plan;
    let diff = a.mode.diff || is_plan;
    let mut options = run_options(&a.common, check, diff, &settings)?;
    options.become_password = become_password(&settings)?;
    options.tags = a.tags.clone();
    options.skip_tags = a.skip_tags.clone();
    options.shard = a.shard.as_deref().map(parse_shard).transpose()?;
    options.pending_handlers = a.pending_handlers.clone().or_else(default_pending_path);
    options.search = settings.search_paths(&a.roles_path);
    let reports = ReportSpec::parse_all(&a.report)?;
    let inventories = default_inventory(&settings);
    let inventory = load_inventory(&inventories, &a.playbooks)?;
    let mut plan = compile(&a.playbooks, inventory, options)?;
    print_warnings(&plan);
    if a.syntax_check {
        for p in &a.playbooks {
            out(format!("playbook: {}", p.display()));
        }
        return Ok(exit::OK);
    }
    if a.list_hosts || a.list_tasks {
        print_listing(&plan, a.list_hosts, a.list_tasks);
        return Ok(exit::OK);
    }
    let saving = a.out.as_deref().map(|path| saved::Saving::start(path, &mut plan)).transpose()?;
    let command = if is_plan { "plan" } else { "apply" };
    let run = execute(&a, &plan, command, &reports, &Refused::default(), &inventories)?;
    if let Some(saving) = saving {
        saving.finish(&a, &plan, &run.outcome, &inventories)?;
    }
    Ok(run.code)
}

/// What [`execute`] leaves: the exit status and the run's outcome.
struct Executed {
    code: i32,
    outcome: exec::RunOutcome,
}

/// Hosts left out of a run before it starts (a saved plan's drift check):
/// reported failed or unreachable, with the reason, and counted in the exit
/// status as such.
#[derive(Default)]
struct Refused {
    /// Host → why it is refused (a failed task "saved plan" of its own).
    failed: Vec<(String, String)>,
    /// Host → why it could not be checked.
    unreachable: Vec<(String, String)>,
}

/// Runs a compiled plan with the terminal, the reports and the audit trail.
fn execute(
    a: &RunArgs,
    plan: &RunPlan,
    command: &str,
    reports: &[ReportSpec],
    refused: &Refused,
    inventories: &[PathBuf],
) -> Result<Executed> {
    let check = plan.options.check;
    // An unwritable report is found before any host is contacted.
    for r in reports {
        r.check()?;
    }
    let mut audit_log = open_audit_log(a)?;
    // A report on stdout replaces the terminal output entirely, so that
    // stdout stays one parseable document.
    let report_on_stdout = reports.iter().any(|r| r.dest == Destination::Stdout);
    let playbooks: Vec<String> = plan.playbooks.iter().map(|p| p.display().to_string()).collect();
    let started_at = SystemTime::now();
    let started = Instant::now();
    let meta = report::RunMeta { started_at, check_mode: check, playbooks: playbooks.clone() };
    let event_log = match reports.iter().find(|r| r.format == Format::Jsonl) {
        Some(spec) => Some(Arc::new(report::EventLog::create(spec, &meta)?)),
        None => None,
    };
    let terminal = Arc::new(Terminal::new(resolve_style(a.mode.output)));
    let collector = Arc::new(Collector::default());
    let mut sinks: Vec<Arc<dyn EventSink>> = vec![collector.clone()];
    if !report_on_stdout {
        sinks.push(terminal.clone());
    }
    if let Some(log) = &event_log {
        sinks.push(log.clone());
    }
    // Every sink sees the events through the mask: no decrypted value reaches
    // the terminal, a report or the audit trail.
    let sink = Arc::new(Masked(Arc::new(Tee(sinks))));
    saved::report_refused(sink.as_ref(), plan, &refused.failed, &refused.unreachable);
    let interrupted = Arc::new(AtomicBool::new(false));
    let outcome = exec::run(plan, sink, interrupted);
    let report =
        collector.report(started_at, started.elapsed().as_millis() as u64, check, playbooks, &outcome.remote_execs);
    if !report_on_stdout {
        terminal.recap(&report.hosts);
        if a.profile {
            out(report::render_profile(&report));
        }
        if a.compliance_summary {
            out(report::render_compliance(&report.compliance));
        }
    }
    let code = if outcome.terminated {
        exit::TERMINATED
    } else if outcome.interrupted {
        exit::INTERRUPTED
    } else {
        exit::status(
            report.summary.changed > 0,
            !outcome.failed.is_empty() || !refused.failed.is_empty(),
            !outcome.unreachable.is_empty() || !refused.unreachable.is_empty(),
            a.detailed_exitcode,
        )
    };
    if let Some((path, file)) = &mut audit_log {
        let record = audit::AuditRecord {
            version: audit::AUDIT_VERSION,
            timestamp: report.started_at.clone(),
            duration_ms: report.duration_ms,
            user: audit::current_user(),
            controller: audit::controller_hostname(),
            argv: audit::mask_argv(&std::env::args_os().map(|a| a.to_string_lossy().into_owned()).collect::<Vec<_>>()),
            command: command.to_owned(),
            check_mode: check,
            playbooks: audit::hash_paths(&plan.playbooks),
            inventories: audit::hash_paths(inventories),
            git_commit: audit::git_commit(playbook_dir(&plan.playbooks)),
            hosts: audit::hosts_of(&report),
            exit_status: code,
        };
        // The run is over: a record that cannot be written is reported,
        // and the run's own status stands.
        if let Err(e) = audit::append(file, path, &record) {
            eprintln!("warning: {e}");
        }
    }
    for spec in reports {
        match spec.format {
            Format::Json => report::write_file(spec, &(serde_json::to_string_pretty(&report)? + "\n"))?,
            Format::Junit => report::write_file(spec, &report::to_junit(&report))?,
            Format::Prometheus => report::write_atomic(spec, &report::to_prometheus(&report, SystemTime::now(), code))?,
            Format::Jsonl => {}
        }
    }
    if let Some(log) = &event_log {
        log.recap(&report, code);
        log.finish()?;
    }
    Ok(Executed { code, outcome })
}

/// The directory of the first playbook (`.` for a bare name).
fn playbook_dir(playbooks: &[PathBuf]) -> &Path {
    match playbooks.first().and_then(|p| p.parent()) {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// `pending-handlers.json` in `/var/lib/stead` for root, else in
/// `$XDG_STATE_HOME/stead` (`~/.local/state/stead`).
pub(crate) fn default_pending_path() -> Option<PathBuf> {
    let dir = if audit::is_root() {
        PathBuf::from("/var/lib/stead")
    } else {
        let state = std::env::var_os("XDG_STATE_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))?;
        state.join("stead")
    };
    Some(dir.join("pending-handlers.json"))
}

fn default_audit_path() -> Option<PathBuf> {
    audit::default_path(audit::is_root(), &|k| std::env::var(k).ok())
}

/// Opens the audit log before any host is contacted. One named with
/// `--audit-log` / `STEAD_AUDIT_LOG` must work (exit 1 otherwise); the
/// default one is skipped with a warning when it cannot be used.
fn open_audit_log(a: &RunArgs) -> Result<Option<(PathBuf, std::fs::File)>> {
    if a.no_audit_log {
        return Ok(None);
    }
    if let Some(path) = &a.audit_log {
        let file = audit::open(path).context("--audit-log / STEAD_AUDIT_LOG (or --no-audit-log)")?;
        return Ok(Some((path.clone(), file)));
    }
    let Some(path) = default_audit_path() else {
        eprintln!("warning: no audit log (neither XDG_STATE_HOME nor HOME is set); this run is not recorded");
        return Ok(None);
    };
    match audit::open(&path) {
        Ok(file) => Ok(Some((path, file))),
        Err(e) => {
            eprintln!("warning: {e}; this run is not recorded (--audit-log PATH, or --no-audit-log)");
            Ok(None)
        }
    }
}

/// `--since`: RFC 3339, a date, or an age back from now.
fn parse_since(s: &str) -> Result<SystemTime> {
    let s = s.trim();
    if let Ok(t) = humantime::parse_rfc3339_weak(s.trim_end_matches('Z')) {
        return Ok(t);
    }
    if let Ok(t) = humantime::parse_rfc3339_weak(&format!("{s}T00:00:00")) {
        return Ok(t);
    }
    let age = humantime::parse_duration(s)
        .map_err(|_| anyhow!("--since {s}: expected a time (2026-12-01T08:00:00Z), a date, or an age (2h, 7days)"))?;
    SystemTime::now().checked_sub(age).ok_or_else(|| anyhow!("--since {s}: too far back"))
}

fn audit_list(x: args::AuditArgs) -> Result<i32> {
    let path = x
        .audit_log
        .or_else(default_audit_path)
        .ok_or_else(|| anyhow!("no audit log: neither XDG_STATE_HOME nor HOME is set (use --audit-log PATH)"))?;
    let (records, warnings) = audit::read(&path)?;
    for w in warnings {
        eprintln!("warning: {w}");
    }
    let filter =
        audit::Filter { host: x.host, since: x.since.as_deref().map(parse_since).transpose()?, changed: x.changed };
    for r in filter.apply(records) {
        if x.json {
            out(serde_json::to_string(&r)?);
            continue;
        }
        let hosts: Vec<String> = r
            .hosts
            .iter()
            .map(|(name, h)| {
                if h.unreachable {
                    format!("{name}: unreachable")
                } else if h.changed.is_empty() && h.failed == 0 {
                    format!("{name}: ok")
                } else {
                    let verb = if r.check_mode { "would change" } else { "changed" };
                    let tasks: Vec<&str> = h.changed.iter().map(|c| c.task.as_str()).collect();
                    let mut s = format!("{name}: {} {verb}", h.changed.len());
                    if !tasks.is_empty() {
                        s.push_str(&format!(" ({})", tasks.join(", ")));
                    }
                    if h.failed > 0 {
                        s.push_str(&format!(", {} failed", h.failed));
                    }
                    s
                }
            })
            .collect();
        let playbooks: Vec<&str> = r.playbooks.iter().map(|p| p.path.as_str()).collect();
        let commit = r.git_commit.as_deref().map(|c| format!(" @{}", &c[..c.len().min(12)])).unwrap_or_default();
        out(format!(
            "{}  {:<5} exit {:<3} {}@{}  {}{commit}  {}",
            r.timestamp,
            r.command,
            r.exit_status,
            r.user,
            r.controller,
            playbooks.join(","),
            hosts.join("; ")
        ));
    }
    Ok(exit::OK)
}

fn print_listing(plan: &RunPlan, hosts: bool, tasks: bool) {
    let mut out = String::new();
    for p in &plan.plays {
        out.push_str(&format!("\nplay: {} (hosts: {})\n", p.play.name, p.hosts.len()));
        if hosts {
            for h in &p.hosts {
                out.push_str(&format!("    {h}\n"));
            }
        }
        if tasks {
            for (n, run) in p.graph.runs.iter().enumerate() {
                out.push_str(&format!("  run {} (probed together):\n", n + 1));
                for i in run.clone() {
                    let t = &p.play.tasks[i];
                    let mark = if p.selected[i] { " " } else { "-" };
                    let deps: Vec<String> = p
                        .graph
                        .edges
                        .iter()
                        .filter(|e| e.to == i)
                        .map(|e| format!("#{} ({:?})", e.from + 1, e.kind))
                        .collect();
                    let tags = if t.tags.is_empty() { String::new() } else { format!(" tags=[{}]", t.tags.join(",")) };
                    let deps = if deps.is_empty() { String::new() } else { format!(" after {}", deps.join(", ")) };
                    out.push_str(&format!(
                        "   {mark}#{} {} [{}]{tags}{deps}\n",
                        i + 1,
                        t.display_name(),
                        t.module.name()
                    ));
                }
            }
            for h in &p.play.handlers {
                out.push_str(&format!("  handler: {} [{}]\n", h.display_name(), h.module.name()));
            }
        }
    }
    let _ = std::io::stdout().lock().write_all(out.as_bytes());
}

fn facts(f: args::FactsArgs) -> Result<i32> {
    if f.patches {
        return patches(f);
    }
    let yaml = format!(
        "- hosts: {}\n  gather_facts: true\n  tasks:\n    - name: facts\n      debug:\n        var: ansible_facts\n",
        json_str(&f.pattern)
    );
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("facts.yml");
    std::fs::write(&path, yaml)?;
    let plan = facts_plan(&f, path)?;
    let collector = Arc::new(Collector::default());
    let outcome = exec::run(&plan, Arc::new(Masked(collector.clone())), Arc::new(AtomicBool::new(false)));
    let mut all = serde_json::Map::new();
    for (host, h) in collector.hosts() {
        let facts = h
            .tasks
            .iter()
            .find(|t| t.task == "facts")
            .and_then(|t| t.msg.as_deref())
            .and_then(|m| m.strip_prefix("ansible_facts: "))
            .and_then(|j| serde_json::from_str::<Json>(j).ok())
            .unwrap_or(Json::Null);
        all.insert(host, facts);
    }
    out(serde_json::to_string_pretty(&Json::Object(all))?);
    Ok(exit::status(false, !outcome.failed.is_empty(), !outcome.unreachable.is_empty(), false))
}

/// The plan of a `stead facts` playbook: the settings, vault and become
/// password of the facts flags, and the inventory they name.
fn facts_plan(f: &args::FactsArgs, path: PathBuf) -> Result<stead::plan::RunPlan> {
    let settings = settings(&Flags {
        inventory: f.inventory.inventory.clone(),
        user: f.user.clone(),
        become_: f.become_,
        accept_new_host_keys: f.accept_new_host_keys,
        ask_become_pass: f.ask_become_pass,
        become_password_file: f.become_password_file.clone(),
        ..Flags::default()
    })?;
    vault::install(&f.vault, &settings)?;
    let inventory = load_inventory(&default_inventory(&settings), &[])?;
    let options = RunOptions { become_password: become_password(&settings)?, ..configured(&settings) };
    compile(&[path], inventory, options)
}

/// `stead facts --patches`: the `patch_facts` probe on every matching host
/// (one remote exec each), printed as one JSON object by host name; the
/// reports carry the same status per host (docs/patches.md).
fn patches(f: args::FactsArgs) -> Result<i32> {
    const READ: &str = "patch status";
    const SHOW: &str = "patch status as JSON";
    let reports = ReportSpec::parse_all(&f.report)?;
    for r in &reports {
        if r.dest == Destination::Stdout {
            bail!("--report {}=-: stdout carries the patch status itself; give the report a file", r.format);
        }
        if !matches!(r.format, Format::Json | Format::Prometheus) {
            bail!("--report {}: stead facts --patches writes json and prometheus reports only", r.format);
        }
        r.check()?;
    }
    let yaml = format!(
        "- hosts: {}\n  gather_facts: false\n  tasks:\n    - name: {READ}\n      patch_facts: {{}}\n    \
         - name: {SHOW}\n      debug:\n        var: ansible_facts.patch_status\n",
        json_str(&f.pattern)
    );
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("patches.yml");
    std::fs::write(&path, yaml)?;
    let plan = facts_plan(&f, path)?;
    let collector = Arc::new(Collector::default());
    let started_at = SystemTime::now();
    let started = Instant::now();
    let outcome = exec::run(&plan, Arc::new(Masked(collector.clone())), Arc::new(AtomicBool::new(false)));
    let mut report =
        collector.report(started_at, started.elapsed().as_millis() as u64, false, vec![], &outcome.remote_execs);
    let mut all = serde_json::Map::new();
    for (host, h) in report.hosts.iter_mut() {
        let shown = h
            .tasks
            .iter()
            .find(|t| t.task == SHOW)
            .and_then(|t| t.msg.as_deref())
            .and_then(|m| m.strip_prefix("ansible_facts.patch_status: "))
            .and_then(|j| serde_json::from_str::<stead::modules::patch_status::PatchStatus>(j).ok());
        let entry = match shown {
            Some(status) => {
                let json = serde_json::to_value(&status)?;
                h.patches = Some(status);
                json
            }
            None if h.unreachable => {
                let msg = h.unreachable_msg.clone().unwrap_or_default();
                eprintln!("{host}: unreachable: {msg}");
                serde_json::json!({"unreachable": true, "msg": msg})
            }
            None => {
                let msg = h.tasks.iter().find(|t| t.task == READ).and_then(|t| t.msg.clone()).unwrap_or_default();
                eprintln!("{host}: failed: {msg}");
                serde_json::json!({"failed": true, "msg": msg})
            }
        };
        all.insert(host.clone(), entry);
        // The helper task only carried the status here; the report has it
        // as `patches`, so it leaves the task list and the counts.
        let removed = h.tasks.iter().filter(|t| t.task == SHOW && t.status == exec::Status::Ok).count();
        h.tasks.retain(|t| t.task != SHOW);
        h.ok = h.ok.saturating_sub(removed);
        report.summary.ok = report.summary.ok.saturating_sub(removed);
    }
    out(serde_json::to_string_pretty(&Json::Object(all))?);
    let code = if outcome.terminated {
        exit::TERMINATED
    } else if outcome.interrupted {
        exit::INTERRUPTED
    } else {
        exit::status(false, !outcome.failed.is_empty(), !outcome.unreachable.is_empty(), false)
    };
    for spec in &reports {
        match spec.format {
            Format::Json => report::write_file(spec, &(serde_json::to_string_pretty(&report)? + "\n"))?,
            Format::Prometheus => {
                report::write_atomic(spec, &report::to_prometheus_patches(&report, SystemTime::now()))?
            }
            // Refused before the run.
            Format::Junit | Format::Jsonl => {}
        }
    }
    Ok(code)
}

/// Prints a line on stdout. A closed pipe (`stead inventory --list | head`)
/// ends the program quietly, as it does for other Unix tools, instead of
/// the panic `println!` would raise.
/// Writes bytes to stdout as they are; a closed pipe (`| head`) ends the
/// process quietly, as [`out`].
fn out_bytes(bytes: &[u8]) {
    use std::io::Write;
    if let Err(e) = std::io::stdout().lock().write_all(bytes) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
    }
}

fn out(text: String) {
    use std::io::Write;
    let text = stead::vault::mask::mask(&text);
    if let Err(e) = writeln!(std::io::stdout().lock(), "{text}") {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
    }
}
