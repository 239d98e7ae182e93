//! `stead plan --out PLAN` and `stead apply PLAN`: the command-line side of
//! saved plans. The rules (what is recorded, what counts as drift, what an
//! applied plan may change) are the library's, in `stead::saved_plan`; this
//! file turns them into the two commands and their messages.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::SystemTime;

use anyhow::{bail, Context, Result};

use super::args::RunArgs;
use super::{compile, configured, execute, load_inventory, parse_extra_vars, print_warnings, Refused};
use stead::config::Settings;
use stead::exec::{self, Event, EventSink, Status, TaskRecord};
use stead::exit;
use stead::plan::{RunOptions, RunPlan};
use stead::report::{Collector, ReportSpec};
use stead::saved_plan::verify::{new_salt, Inputs};
use stead::saved_plan::{Guard, HostStatus, PlanGate, Recorder, RunSpec, SavedPlan, SavedPlanError, FORMAT, VERSION};

/// A dry run that writes its plan when it ends.
pub struct Saving {
    path: PathBuf,
    recorder: Arc<Recorder>,
}

impl Saving {
    /// Makes `plan` record its changes. The plan file's folder must be
    /// writable: that is found before any host is contacted.
    pub fn start(path: &Path, plan: &mut RunPlan) -> Result<Saving> {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        tempfile::NamedTempFile::new_in(dir)
            .with_context(|| format!("--out {}: cannot write a file in {}", path.display(), dir.display()))?;
        let recorder = Arc::new(Recorder::default());
        plan.options.saved_plan = PlanGate::Record(recorder.clone());
        Ok(Saving { path: path.to_path_buf(), recorder })
    }

    /// Writes the plan: what every host would change, and the hashes of
    /// every input the run read.
    pub fn finish(self, a: &RunArgs, plan: &RunPlan, outcome: &exec::RunOutcome, inventory: &[PathBuf]) -> Result<()> {
        if outcome.interrupted {
            eprintln!("The run was interrupted: no plan was saved.");
            return Ok(());
        }
        let mut hosts = self.recorder.take();
        for host in plan.all_hosts() {
            let status = if outcome.unreachable.contains(&host) {
                HostStatus::Unreachable
            } else if outcome.failed.contains(&host) {
                HostStatus::Failed
            } else {
                HostStatus::Ok
            };
            hosts.entry(host).or_default().status = status;
        }
        let run = RunSpec {
            playbooks: a.playbooks.clone(),
            inventory: inventory.to_vec(),
            limit: a.common.limit.clone(),
            tags: a.tags.clone(),
            skip_tags: a.skip_tags.clone(),
            user: a.common.user.clone(),
            become_: a.common.become_,
            become_user: a.common.become_user.clone(),
            shard: plan.options.shard,
            force_handlers: a.force_handlers,
            roles_path: a.roles_path.clone(),
            extra_vars: a.common.extra_vars.len(),
        };
        let saved = SavedPlan {
            format: FORMAT.into(),
            version: VERSION,
            created_at: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
            stead_version: env!("CARGO_PKG_VERSION").into(),
            run,
            inputs: Inputs::of(stead::inputs::snapshot(), &plan.inventory, &plan.options.extra_vars, new_salt()),
            hosts,
        };
        saved.write(&self.path)?;
        let changed_hosts = saved.hosts.values().filter(|h| !h.changes.is_empty()).count();
        eprintln!(
            "Saved the plan to {}: {} change(s) on {changed_hosts} host(s). Apply exactly this plan with: stead apply {}",
            self.path.display(),
            saved.change_count(),
            self.path.display()
        );
        Ok(())
    }
}

/// `stead apply PLAN`: checks the inputs, checks every host against its
/// plan in a dry run, then applies the hosts that still match, allowing
/// only the planned changes.
/// The configuration applies as for any run (the ansible.cfg read is one
/// of the plan's inputs, so a changed one makes the plan stale).
pub fn apply(a: RunArgs, settings: &Settings) -> Result<i32> {
    let path = a.playbooks[0].clone();
    let saved = SavedPlan::read(&path)?;
    let spec = &saved.run;
    refuse_overrides(&a, spec)?;
    let from_settings = configured(settings);
    let options = RunOptions {
        check: true,
        diff: true,
        extra_vars: parse_extra_vars(&a.common.extra_vars)?,
        tags: spec.tags.clone(),
        skip_tags: spec.skip_tags.clone(),
        limit: spec.limit.clone(),
        user: spec.user.clone().or(from_settings.user.clone()),
        become_: spec.become_ || from_settings.become_,
        become_user: spec.become_user.clone().or(from_settings.become_user.clone()),
        shard: spec.shard,
        force_handlers: spec.force_handlers || from_settings.force_handlers,
        search: settings.search_paths(&spec.roles_path),
        saved_plan: PlanGate::Off,
        verbosity: a.common.verbose,
        lock_holder: super::lock_holder(),
        lock_wait_secs: a.common.lock_wait,
        pending_handlers: a.pending_handlers.clone().or_else(super::default_pending_path),
        become_password: super::become_password(settings)?,
        ..from_settings
    };
    let reports = ReportSpec::parse_all(&a.report)?;
    let inventory = load_inventory(&spec.inventory, &spec.playbooks)?;
    let mut plan = compile(&spec.playbooks, inventory, options)?;
    print_warnings(&plan);
    let stale = saved.inputs.changes_since(&plan.inventory, &plan.options.extra_vars);
    if !stale.is_empty() {
        return Err(SavedPlanError::Stale { path, changes: stale.join("\n") }.into());
    }
    for r in &reports {
        r.check()?;
    }
    // Each task a dry run cannot predict, once, with the hosts it runs on.
    let mut unpredictable: std::collections::BTreeMap<(&str, &str), usize> = Default::default();
    for u in saved.hosts.values().flat_map(|h| &h.unpredictable) {
        *unpredictable.entry((u.task.as_str(), u.reason.as_str())).or_default() += 1;
    }
    for ((task, reason), hosts) in unpredictable {
        eprintln!("note: task `{task}` ({hosts} host(s)) cannot be predicted by a dry run ({reason}): it runs as the playbook says");
    }

    // The same dry run again: each host must find exactly its planned changes.
    eprintln!(
        "Checking {} host(s) against the saved plan {} (made {}, {} change(s))...",
        plan.all_hosts().len(),
        path.display(),
        saved.created_at,
        saved.change_count()
    );
    let recorder = Arc::new(Recorder::default());
    plan.options.saved_plan = PlanGate::Record(recorder.clone());
    let check_run = exec::run(&plan, Arc::new(Collector::default()), Arc::new(AtomicBool::new(false)));
    if check_run.terminated {
        return Ok(exit::TERMINATED);
    }
    if check_run.interrupted {
        return Ok(exit::INTERRUPTED);
    }
    let now = recorder.take();
    let mut refused = Refused::default();
    for host in plan.all_hosts() {
        if check_run.unreachable.contains(&host) {
            let why = "unreachable while checking it against the saved plan: nothing was applied to it";
            refused.unreachable.push((host, why.into()));
            continue;
        }
        let planned = saved.hosts.get(&host).cloned().unwrap_or_default();
        if let Some(drift) = planned.drift(&now.get(&host).cloned().unwrap_or_default()) {
            let why = format!("refused: the host drifted since the plan was made: {drift}. Nothing was applied to it.");
            eprintln!("{host}: {why}");
            refused.failed.push((host, why));
        }
    }
    let left_out: Vec<&String> = refused.failed.iter().chain(&refused.unreachable).map(|(h, _)| h).collect();
    for play in &mut plan.plays {
        play.hosts.retain(|h| !left_out.contains(&h));
    }

    // Apply what still holds (a dry run again with --check), planned changes only.
    plan.options.check = a.mode.check;
    plan.options.diff = a.mode.diff;
    plan.options.saved_plan = PlanGate::Enforce(Arc::new(Guard::new(&path, &saved)));
    Ok(execute(&a, &plan, "apply", &reports, &refused, &spec.inventory)?.code)
}

/// The options a saved plan fixes cannot be given again (the inventory
/// may, when it is the plan's).
fn refuse_overrides(a: &RunArgs, spec: &RunSpec) -> Result<()> {
    // The plan's own inventory may be named again.
    let other_inventory = !a.inventory.inventory.is_empty() && a.inventory.inventory != spec.inventory;
    let given = [
        (other_inventory, "-i/--inventory (another than the plan's)"),
        (a.common.limit.is_some(), "-l/--limit"),
        (!a.tags.is_empty(), "-t/--tags"),
        (!a.skip_tags.is_empty(), "--skip-tags"),
        (a.common.user.is_some(), "-u/--user"),
        (a.common.become_, "-b/--become"),
        (a.common.become_user.is_some(), "--become-user"),
        (a.shard.is_some(), "--shard"),
        (a.force_handlers, "--force-handlers"),
        (!a.roles_path.is_empty(), "--roles-path"),
        (a.out.is_some(), "--out"),
        (a.list_hosts || a.list_tasks || a.syntax_check, "--list-hosts/--list-tasks/--syntax-check"),
    ];
    if let Some((_, flag)) = given.iter().find(|(on, _)| *on) {
        bail!(
            "{flag} cannot be given with a saved plan: `stead apply PLAN` runs with the options the plan was made \
             with; make a new plan to change them"
        );
    }
    Ok(())
}

/// Reports the hosts a saved plan left out before the run: a refused host
/// as one failed task, a host that could not be checked as unreachable.
pub fn report_refused(
    sink: &dyn EventSink,
    plan: &RunPlan,
    failed: &[(String, String)],
    unreachable: &[(String, String)],
) {
    let play = plan.plays.first().map(|p| p.play.name.clone()).unwrap_or_default();
    for (host, why) in failed {
        sink.emit(Event::TaskDone(TaskRecord {
            host: host.clone(),
            play: play.clone(),
            task: "saved plan".into(),
            module: "saved_plan".into(),
            status: Status::Failed,
            changed: false,
            diff: None,
            msg: Some(why.clone()),
            duration_ms: 0,
            ignored: false,
            rescued: false,
            show_diff: false,
            show_msg: true,
            handler: false,
            items: vec![],
            tags: vec![],
            backups: vec![],
        }));
    }
    for (host, why) in unreachable {
        sink.emit(Event::Unreachable { host: host.clone(), play: play.clone(), msg: why.clone() });
    }
}
