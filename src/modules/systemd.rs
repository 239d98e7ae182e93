//! `systemd` / `systemd_service`: a unit's state, enablement and mask, as
//! Ansible's `ansible.builtin.systemd_service`, rule for rule.
//!
//! One probe runs the read-only queries Ansible runs (`systemctl show`,
//! `is-enabled`, `list-unit-files`, the SysV script and its `rc?.d`
//! links). The pure part ([`decide`]) follows Ansible's order: mask, then
//! enable, then state. When systemd is not running the target is treated
//! as Ansible treats a chroot: `show` answers nothing, so a state request
//! changes nothing and says why, while `enabled` and `masked` still work
//! on the unit files (as in an image build).
//!
//! The [`Unit`] probe and decision are shared with the `service` module,
//! which uses them on hosts that systemd manages. This module never builds
//! a shell string by hand: every value goes through
//! [`crate::transport::quote::quote`].

use std::collections::BTreeMap;

use serde_json::Value as Json;

use super::{
    Action, ApplyScript, ArgKind, ArgSpec, Args, Diff, Module, ModuleError, ModuleSpec, Plan, ResultMap, TaskContext,
};
use crate::transport::quote::quote;
use crate::transport::ExecOutput;

/// The `systemd` module (also `systemd_service`).
pub struct Systemd;

/// The name under which Ansible also ships it.
pub struct SystemdService;

/// The states a unit can be asked for.
pub const STATES: &[&str] = &["reloaded", "restarted", "started", "stopped"];

static SPEC: ModuleSpec = ModuleSpec::new(&[
    ArgSpec::new("name", ArgKind::Str).aliases(&["service", "unit"]),
    ArgSpec::new("state", ArgKind::Str).choices(STATES),
    ArgSpec::new("enabled", ArgKind::Bool),
    ArgSpec::new("force", ArgKind::Bool),
    ArgSpec::new("masked", ArgKind::Bool),
    ArgSpec::new("daemon_reload", ArgKind::Bool).aliases(&["daemon-reload"]),
    ArgSpec::new("daemon_reexec", ArgKind::Bool).aliases(&["daemon-reexec"]),
    ArgSpec::new("scope", ArgKind::Str).choices(&["system", "user", "global"]),
    ArgSpec::new("no_block", ArgKind::Bool),
])
.one_of(&[&["name", "daemon_reload", "daemon_reexec"]]);

/// Markers of the probe's sections.
const MARK: &str = "stead-systemd";

/// What a task asks of a unit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Wanted {
    /// `started`, `stopped`, `restarted`, `reloaded`.
    pub state: Option<String>,
    /// Enabled at boot.
    pub enabled: Option<bool>,
    /// Masked.
    pub masked: Option<bool>,
}

/// What the probe saw of a unit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seen {
    /// `systemctl show` properties (empty when systemd ignored the request).
    pub status: BTreeMap<String, String>,
    /// Whether `show` was ignored (a chroot, or systemd not running).
    pub offline: bool,
    /// `systemctl is-enabled`: exit status and output.
    pub is_enabled: (i32, String),
    /// `systemctl list-unit-files NAME` succeeded.
    pub in_unit_files: bool,
    /// `/etc/init.d/NAME` exists.
    pub initd: bool,
    /// `/etc/rc?.d/S??NAME` links exist.
    pub sysv_enabled: bool,
}

impl Seen {
    fn running(&self) -> bool {
        matches!(self.status.get("ActiveState").map(String::as_str), Some("active" | "activating"))
    }

    fn deactivating(&self) -> bool {
        self.status.get("ActiveState").map(String::as_str) == Some("deactivating")
    }
}

/// The systemctl verbs a task runs, in order, and what it reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decision {
    /// `mask`/`unmask`, `enable`/`disable`, `start`/`stop`/`restart`/`reload`.
    pub verbs: Vec<&'static str>,
    /// Whether the task reports a change.
    pub changed: bool,
    /// `enabled` as reported after the change.
    pub enabled: Option<bool>,
    /// `state` as reported.
    pub state: Option<String>,
    /// A warning, as Ansible prints.
    pub warning: Option<String>,
}

/// Ansible's unit-file states that mean "systemd knows this unit".
const KNOWN_STATES: &[&str] = &[
    "enabled",
    "enabled-runtime",
    "linked",
    "linked-runtime",
    "masked",
    "masked-runtime",
    "static",
    "indirect",
    "disabled",
    "generated",
    "transient",
];

/// Ansible's `main` for one unit: the verbs to run, in order.
pub fn decide(unit: &str, want: &Wanted, seen: &Seen, system_scope: bool) -> Result<Decision, String> {
    let mut is_systemd = false;
    if !seen.offline && !seen.status.is_empty() {
        let load = seen.status.get("LoadState").map(String::as_str);
        is_systemd = load.is_some_and(|l| l != "not-found");
        let masked = load == Some("masked");
        if is_systemd && !masked {
            if let Some(err) = seen.status.get("LoadError") {
                return Err(format!("Error loading unit file '{unit}': {err}"));
            }
        }
    } else if KNOWN_STATES.contains(&seen.is_enabled.1.trim()) || seen.in_unit_files {
        is_systemd = true;
    }
    let found = is_systemd || seen.initd;
    let missing = || format!("Could not find the requested service {unit}: host");
    let mut d = Decision::default();
    if let Some(want_masked) = want.masked {
        let masked = seen.is_enabled.1.trim() == "masked";
        if masked != want_masked {
            d.changed = true;
            d.verbs.push(if want_masked { "mask" } else { "unmask" });
        }
    }
    if let Some(want_enabled) = want.enabled {
        if !found {
            return Err(missing());
        }
        let out = seen.is_enabled.1.trim();
        let enabled = match seen.is_enabled.0 {
            0 => !matches!(out, "enabled-runtime" | "indirect" | "alias"),
            1 => system_scope && seen.initd && !out.ends_with("disabled") && seen.sysv_enabled,
            _ => false,
        };
        d.enabled = Some(enabled);
        if enabled != want_enabled {
            d.changed = true;
            d.verbs.push(if want_enabled { "enable" } else { "disable" });
            d.enabled = Some(want_enabled);
        }
    }
    if let Some(state) = &want.state {
        if !found {
            return Err(missing());
        }
        d.state = Some(state.clone());
        if seen.status.contains_key("ActiveState") {
            let verb = match state.as_str() {
                "started" => (!seen.running()).then_some("start"),
                "stopped" => (seen.running() || seen.deactivating()).then_some("stop"),
                other => {
                    d.state = Some("started".into());
                    Some(if !seen.running() {
                        "start"
                    } else if other == "restarted" {
                        "restart"
                    } else {
                        "reload"
                    })
                }
            };
            if let Some(v) = verb {
                d.changed = true;
                d.verbs.push(v);
            }
        } else if seen.offline {
            d.warning = Some(
                "Target is a chroot or systemd is offline. This can lead to false positives or prevent the init \
                 system tools from working."
                    .into(),
            );
        } else {
            return Err("Service is in unknown state".into());
        }
    }
    Ok(d)
}

/// Parses `systemctl show` output (`Key=Value` lines; values may span
/// lines for `ExecStart={ ... }`, which Ansible joins).
pub fn parse_show(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut multi: Option<(String, String)> = None;
    for line in text.lines() {
        if let Some((k, mut v)) = multi.take() {
            v.push('\n');
            v.push_str(line);
            if line.trim_end().ends_with('}') {
                out.insert(k, v);
            } else {
                multi = Some((k, v));
            }
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        if v.trim_start().starts_with('{') && !v.trim_end().ends_with('}') {
            multi = Some((k.to_owned(), v.to_owned()));
        } else {
            out.insert(k.to_owned(), v.to_owned());
        }
    }
    out
}

/// A systemctl invocation's flags for a scope.
pub fn scope_flag(scope: &str) -> &'static str {
    match scope {
        "user" => " --user",
        "global" => " --global",
        _ => "",
    }
}

/// The probe script for one unit (sections marked for [`parse_probe`]).
pub fn probe_script(unit: &str, scope: &str) -> String {
    let s = scope_flag(scope);
    format!(
        "LC_ALL=C\nexport LC_ALL\nu={u}\nprintf '{MARK} 1\\n'\n\
         if ! command -v systemctl >/dev/null 2>&1; then printf '{MARK} no-systemctl\\n'; exit 0; fi\n\
         out=$(systemctl{s} show -- \"$u\" 2>&1) && rc=0 || rc=$?\n\
         printf '{MARK} show %s %s\\n%s\\n' \"$rc\" \"${{#out}}\" \"$out\"\n\
         out=$(systemctl{s} is-enabled -- \"$u\" 2>/dev/null) && rc=0 || rc=$?\n\
         printf '{MARK} is-enabled %s %s\\n%s\\n' \"$rc\" \"${{#out}}\" \"$out\"\n\
         if systemctl{s} list-unit-files -- \"$u\" >/dev/null 2>&1; then printf '{MARK} unit-file\\n'; fi\n\
         if [ -e /etc/init.d/\"$u\" ]; then printf '{MARK} initd\\n'; fi\n\
         for l in /etc/rc?.d/S??\"$u\"; do if [ -e \"$l\" ]; then printf '{MARK} sysv-enabled\\n'; break; fi; done\n\
         printf '{MARK} end\\n'\n",
        u = quote(unit)
    )
}

/// Whether systemctl said it ignored a request (Ansible's
/// `request_was_ignored`).
fn ignored(text: &str) -> bool {
    !text.contains('=') && (text.contains("ignoring request") || text.contains("ignoring command"))
}

/// Parses [`probe_script`]'s output.
pub fn parse_probe(stdout: &[u8]) -> Result<Seen, ModuleError> {
    let bad = |what: &str| ModuleError::Probe(format!("bad systemd probe output ({what})"));
    let mut seen = Seen::default();
    let mut rest = stdout;
    let mut line = || -> Result<String, ModuleError> {
        let end = rest.iter().position(|&b| b == b'\n').ok_or_else(|| bad("truncated"))?;
        let l = String::from_utf8_lossy(&rest[..end]).into_owned();
        rest = &rest[end + 1..];
        Ok(l)
    };
    if line()? != format!("{MARK} 1") {
        return Err(bad("header"));
    }
    loop {
        let l = line()?;
        let words: Vec<&str> = l.splitn(4, ' ').collect();
        match words.get(1).copied() {
            Some("no-systemctl") => {
                return Err(ModuleError::failed("Failed to find required executable \"systemctl\" in paths"))
            }
            Some(kind @ ("show" | "is-enabled")) => {
                let rc: i32 = words.get(2).and_then(|w| w.parse().ok()).ok_or_else(|| bad("status"))?;
                let len: usize = words.get(3).and_then(|w| w.parse().ok()).ok_or_else(|| bad("length"))?;
                let mut text = Vec::new();
                while text.len() < len {
                    if !text.is_empty() {
                        text.push(b'\n');
                    }
                    text.extend_from_slice(line()?.as_bytes());
                }
                if len == 0 {
                    line()?;
                }
                let text = String::from_utf8_lossy(&text).into_owned();
                if kind == "show" {
                    if rc == 0 && !ignored(&text) {
                        seen.status = parse_show(&text);
                    } else {
                        seen.offline = ignored(&text);
                    }
                } else {
                    seen.is_enabled = (rc, text);
                }
            }
            Some("unit-file") => seen.in_unit_files = true,
            Some("initd") => seen.initd = true,
            Some("sysv-enabled") => seen.sysv_enabled = true,
            Some("end") => return Ok(seen),
            _ => return Err(bad("section")),
        }
    }
}

/// The script that runs the decided verbs (and `daemon-reload` first when
/// asked), failing with Ansible's message for the first that fails.
pub fn apply_script(unit: &str, d: &Decision, opts: &Options) -> Option<ApplyScript> {
    if d.verbs.is_empty() && !opts.daemon_reload && !opts.daemon_reexec {
        return None;
    }
    let s = scope_flag(&opts.scope);
    let mut script = format!("LC_ALL=C\nexport LC_ALL\nu={}\n", quote(unit));
    script.push_str("fail() { printf '%s\\n' \"$*\" >&2; exit 1; }\n");
    if opts.daemon_reload {
        script.push_str(&format!(
            "out=$(systemctl{s} daemon-reload 2>&1) || fail \"failure $? during daemon-reload: $out\"\n"
        ));
    }
    if opts.daemon_reexec {
        script.push_str(&format!(
            "out=$(systemctl{s} daemon-reexec 2>&1) || fail \"failure $? during daemon-reexec: $out\"\n"
        ));
    }
    for verb in &d.verbs {
        let force =
            if opts.force && matches!(*verb, "enable" | "mask" | "disable" | "unmask") { " --force" } else { "" };
        let no_block =
            if opts.no_block && matches!(*verb, "start" | "stop" | "restart" | "reload") { " --no-block" } else { "" };
        let msg = match *verb {
            "mask" | "unmask" => format!("Failed to {verb} the service ($u): $out"),
            "enable" | "disable" => format!("Unable to {verb} service $u: $out"),
            _ => format!("Unable to {verb} service $u: $out"),
        };
        // A started daemon must not hold the session's output open.
        script.push_str(&format!(
            "t=$(mktemp) || fail 'cannot create a temporary file'\n\
             if systemctl{s}{force}{no_block} {verb} -- \"$u\" </dev/null >\"$t\" 2>&1; then rm -f -- \"$t\"; \
             else out=$(cat -- \"$t\"); rm -f -- \"$t\"; fail \"{msg}\"; fi\n"
        ));
    }
    Some(ApplyScript { script, stdin: Vec::new() })
}

/// systemctl options that do not change what is decided.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `system`, `user` or `global`.
    pub scope: String,
    /// `--force` for enable/mask.
    pub force: bool,
    /// `--no-block` for state changes.
    pub no_block: bool,
    /// Run `daemon-reload` first.
    pub daemon_reload: bool,
    /// Run `daemon-reexec` first.
    pub daemon_reexec: bool,
}

/// A readable before/after of what changes.
pub fn diff(unit: &str, seen: &Seen, d: &Decision) -> Option<Diff> {
    if !d.changed {
        return None;
    }
    let mut before = Vec::new();
    let mut after = Vec::new();
    for verb in &d.verbs {
        let (key, old, new) = match *verb {
            "mask" => ("masked", "no", "yes"),
            "unmask" => ("masked", "yes", "no"),
            "enable" => ("enabled", "no", "yes"),
            "disable" => ("enabled", "yes", "no"),
            "start" => ("state", "stopped", "started"),
            "stop" => ("state", "started", "stopped"),
            "restart" => ("state", "started", "restarted"),
            _ => ("state", "started", "reloaded"),
        };
        let old = if key == "state" {
            seen.status.get("ActiveState").cloned().unwrap_or_else(|| old.to_owned())
        } else {
            old.to_owned()
        };
        before.push((key, old));
        after.push((key, new.to_owned()));
    }
    Some(Diff::state(unit, &before, &after))
}

/// One `systemd` task on one host.
#[derive(Debug)]
pub struct SystemdAction {
    unit: Option<String>,
    want: Wanted,
    opts: Options,
}

fn prepare(args: &Args) -> Result<Box<dyn Action>, ModuleError> {
    let unit = args.opt_str("name")?;
    let want = Wanted {
        state: args.opt_str("state")?,
        enabled: args.has("enabled").then(|| args.bool_or("enabled", false)).transpose()?,
        masked: args.has("masked").then(|| args.bool_or("masked", false)).transpose()?,
    };
    if unit.is_none() && (want.state.is_some() || want.enabled.is_some() || want.masked.is_some()) {
        return Err(ModuleError::failed("missing parameter(s) required by 'state', 'enabled', 'masked': name"));
    }
    let opts = Options {
        scope: args.choice_or("scope", &["system", "user", "global"], "system")?,
        force: args.bool_or("force", false)?,
        no_block: args.bool_or("no_block", false)?,
        daemon_reload: args.bool_or("daemon_reload", false)?,
        daemon_reexec: args.bool_or("daemon_reexec", false)?,
    };
    if opts.scope == "global" && want.state.is_some() {
        return Err(ModuleError::failed("Cannot use 'state' with scope 'global'"));
    }
    Ok(Box::new(SystemdAction { unit, want, opts }))
}

impl Module for Systemd {
    fn name(&self) -> &'static str {
        "systemd"
    }
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }
    fn prepare(&self, args: &Args, _ctx: &dyn TaskContext) -> Result<Box<dyn Action>, ModuleError> {
        prepare(args)
    }
}

impl Module for SystemdService {
    fn name(&self) -> &'static str {
        "systemd_service"
    }
    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }
    fn prepare(&self, args: &Args, _ctx: &dyn TaskContext) -> Result<Box<dyn Action>, ModuleError> {
        prepare(args)
    }
}

/// Ansible's result for a decided unit.
pub fn result(unit: &str, seen: &Seen, d: &Decision) -> ResultMap {
    let mut r = ResultMap::new();
    r.insert("name".into(), unit.into());
    r.insert("changed".into(), d.changed.into());
    r.insert("status".into(), Json::Object(seen.status.iter().map(|(k, v)| (k.clone(), v.clone().into())).collect()));
    if let Some(e) = d.enabled {
        r.insert("enabled".into(), e.into());
    }
    if let Some(s) = &d.state {
        r.insert("state".into(), s.clone().into());
    }
    if let Some(w) = &d.warning {
        r.insert("warnings".into(), vec![Json::from(w.clone())].into());
    }
    r
}

impl Action for SystemdAction {
    fn probe(&self) -> Option<String> {
        self.unit.as_deref().map(|u| probe_script(u, &self.opts.scope))
    }

    fn compare(&mut self, probe: Option<&ExecOutput>) -> Result<Plan, ModuleError> {
        let Some(unit) = self.unit.clone() else {
            // Only daemon-reload / daemon-reexec: run every time, as Ansible.
            let d = Decision::default();
            let mut plan = Plan { apply: apply_script("", &d, &self.opts), ..Plan::ok() };
            plan.result.insert("changed".into(), false.into());
            return Ok(plan);
        };
        let out = probe.ok_or_else(|| ModuleError::Probe("the systemd probe did not run".into()))?;
        if out.status != 0 {
            return Err(ModuleError::failed(format!("cannot query systemd: {}", out.stderr_text().trim())));
        }
        let seen = parse_probe(&out.stdout)?;
        let d = decide(&unit, &self.want, &seen, self.opts.scope == "system").map_err(ModuleError::failed)?;
        let plan = Plan {
            changed: d.changed,
            diff: diff(&unit, &seen, &d),
            apply: apply_script(&unit, &d, &self.opts),
            result: result(&unit, &seen, &d),
            msg: d.warning.clone(),
            skipped: false,
            reconnect: None,
            unpredictable: false,
        };
        Ok(plan)
    }

    fn finish(&mut self, plan: Plan, out: &ExecOutput) -> Result<Plan, ModuleError> {
        super::finish_with_stderr(plan, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen_show(active: &str, is_enabled: &str) -> Seen {
        let mut status = BTreeMap::new();
        status.insert("LoadState".into(), "loaded".into());
        status.insert("ActiveState".into(), active.into());
        Seen { status, is_enabled: (if is_enabled == "enabled" { 0 } else { 1 }, is_enabled.into()), ..Seen::default() }
    }

    fn want(state: Option<&str>, enabled: Option<bool>) -> Wanted {
        Wanted { state: state.map(str::to_owned), enabled, masked: None }
    }

    #[test]
    fn state_and_enablement_follow_ansible() {
        let d = decide("ssh", &want(Some("started"), Some(true)), &seen_show("inactive", "disabled"), true).unwrap();
        assert_eq!(d.verbs, vec!["enable", "start"]);
        assert!(d.changed);
        let d = decide("ssh", &want(Some("started"), Some(true)), &seen_show("active", "enabled"), true).unwrap();
        assert_eq!(d, Decision { enabled: Some(true), state: Some("started".into()), ..Decision::default() });
        let d = decide("ssh", &want(Some("restarted"), None), &seen_show("active", "enabled"), true).unwrap();
        assert_eq!(d.verbs, vec!["restart"]);
        let d = decide("ssh", &want(Some("reloaded"), None), &seen_show("inactive", "enabled"), true).unwrap();
        assert_eq!((d.verbs, d.state.as_deref()), (vec!["start"], Some("started")));
        let d = decide("ssh", &want(Some("stopped"), None), &seen_show("deactivating", "enabled"), true).unwrap();
        assert_eq!(d.verbs, vec!["stop"]);
    }

    #[test]
    fn offline_systemd_enables_files_and_warns_on_state() {
        let seen = Seen { offline: true, is_enabled: (1, "disabled".into()), ..Seen::default() };
        let d = decide("ssh", &want(Some("started"), Some(true)), &seen, true).unwrap();
        assert_eq!(d.verbs, vec!["enable"]);
        assert!(d.warning.unwrap().contains("chroot"));
        let seen = Seen { offline: true, is_enabled: (1, "masked".into()), ..Seen::default() };
        let d = decide("ssh", &Wanted { masked: Some(true), ..Wanted::default() }, &seen, true).unwrap();
        assert!(!d.changed);
    }

    #[test]
    fn unknown_units_and_load_errors_fail() {
        let mut status = BTreeMap::new();
        status.insert("LoadState".into(), "not-found".into());
        let seen = Seen { status, is_enabled: (1, String::new()), ..Seen::default() };
        let e = decide("nope", &want(Some("started"), None), &seen, true).unwrap_err();
        assert_eq!(e, "Could not find the requested service nope: host");
        let mut status = BTreeMap::new();
        status.insert("LoadState".into(), "error".into());
        status.insert("LoadError".into(), "bad unit".into());
        let e = decide("x", &want(None, Some(true)), &Seen { status, ..Seen::default() }, true).unwrap_err();
        assert!(e.starts_with("Error loading unit file 'x'"));
    }

    #[test]
    fn probe_output_parses_including_multiline_values() {
        let show = "Id=ssh.service\nExecStart={ path=/usr/sbin/sshd ;\n argv[]=/usr/sbin/sshd -D }\nActiveState=active";
        let text = format!(
            "{MARK} 1\n{MARK} show 0 {}\n{show}\n{MARK} is-enabled 0 7\nenabled\n{MARK} unit-file\n{MARK} initd\n{MARK} end\n",
            show.len()
        );
        let seen = parse_probe(text.as_bytes()).unwrap();
        assert_eq!(seen.status["ActiveState"], "active");
        assert!(seen.status["ExecStart"].contains("argv[]"));
        assert_eq!(seen.is_enabled, (0, "enabled".into()));
        assert!(seen.in_unit_files && seen.initd && !seen.offline);
        let text = format!(
            "{MARK} 1\n{MARK} show 0 42\nRunning in chroot, ignoring command 'show'\n{MARK} is-enabled 1 0\n\n{MARK} end\n"
        );
        let seen = parse_probe(text.as_bytes()).unwrap();
        assert!(seen.offline && seen.status.is_empty());
    }

    #[test]
    fn the_apply_script_quotes_the_unit_and_keeps_daemons_off_the_session() {
        let d = Decision { verbs: vec!["enable", "start"], changed: true, ..Decision::default() };
        let s = apply_script("a b$(x)", &d, &Options { scope: "system".into(), ..Options::default() }).unwrap();
        assert!(s.script.contains("u='a b$(x)'"), "{}", s.script);
        assert!(s.script.contains("systemctl enable -- \"$u\" </dev/null >\"$t\""), "{}", s.script);
    }
}
