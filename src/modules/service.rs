//! `service`: start, stop, restart, reload and enable services, as
//! Ansible's `ansible.builtin.service` on Linux, rule for rule.
//!
//! The probe finds the service manager the way Ansible's generic Linux
//! service does: systemd when `systemctl` exists and systemd runs (its
//! `/run/systemd/system` canaries, or PID 1 named systemd); otherwise the
//! SysV script `/etc/init.d/NAME`, run through `service` when present,
//! enabled with `update-rc.d` (Debian) or `chkconfig` (Red Hat). On systemd
//! hosts the decision is [`super::systemd`]'s, as Ansible hands the task to
//! its systemd module there.
//!
//! A SysV script's status follows Ansible's reading: exit 1–4 or 69 means
//! stopped, else a one-line output saying "stop"/"running"/"not running",
//! else exit 0 means running; `pattern` looks in `ps auxww` instead.
//! Started daemons get `/dev/null` as stdin and a file as output, never the
//! session's pipes, so a daemon cannot hold the connection open. This
//! module never builds a shell string by hand: every value goes through
//! [`crate::transport::quote::quote`].

use super::systemd::{self, Options, Seen, Wanted};
use super::{
    Action, ApplyScript, ArgKind, ArgSpec, Args, Diff, Module, ModuleError, ModuleSpec, Plan, ResultMap, TaskContext,
};
use crate::transport::quote::quote;
use crate::transport::ExecOutput;

/// The `service` module.
pub struct Service;

const USES: &[&str] = &["auto", "systemd", "sysvinit", "service"];

static SPEC: ModuleSpec = ModuleSpec::new(&[
    ArgSpec::new("name", ArgKind::Str).required(),
    ArgSpec::new("state", ArgKind::Str).choices(systemd::STATES),
    ArgSpec::new("enabled", ArgKind::Bool),
    ArgSpec::new("sleep", ArgKind::Int),
    ArgSpec::new("pattern", ArgKind::Str),
    ArgSpec::new("arguments", ArgKind::Str).aliases(&["args"]),
    ArgSpec::new("use", ArgKind::Str),
])
.one_of(&[&["state", "enabled"]])
.refused(&[("runlevel", "it applies to OpenRC's rc-update and BSD init, which stead does not drive")]);

/// What the SysV probe saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SysvSeen {
    /// `/etc/init.d/NAME` is a file.
    pub initscript: bool,
    /// Which of `update-rc.d`, `insserv`, `chkconfig`, `service` exist.
    pub tools: Vec<String>,
    /// The status command's exit status and output.
    pub status: (i32, String),
    /// `/etc/rc?.d/S??NAME` links exist.
    pub start_links: bool,
    /// `/etc/rc?.d/K??NAME` links exist.
    pub kill_links: bool,
    /// `chkconfig --list NAME` output.
    pub chkconfig: String,
    /// With `pattern`: whether `ps auxww` shows it.
    pub pattern_running: Option<bool>,
}

/// Ansible's `get_service_status` for a SysV script.
pub fn sysv_running(name: &str, seen: &SysvSeen) -> Option<bool> {
    if let Some(p) = seen.pattern_running {
        return Some(p);
    }
    let (rc, out) = (&seen.status.0, &seen.status.1);
    if [1, 2, 3, 4, 69].contains(rc) {
        return Some(false);
    }
    if out.matches('\n').count() <= 1 {
        let clean = out.to_lowercase().replace(&name.to_lowercase(), "");
        if clean.contains("stop") {
            return Some(false);
        } else if clean.contains("run") {
            return Some(!clean.contains("not "));
        } else if clean.contains("start") && !clean.contains("not ") {
            return Some(true);
        } else if [
            "could not access pid file",
            "is dead and pid file exists",
            "dead but subsys locked",
            "dead but pid file exists",
        ]
        .iter()
        .any(|s| clean.contains(s))
        {
            return Some(false);
        }
    }
    (*rc == 0).then_some(true)
}

/// The commands a SysV decision runs, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SysvDecision {
    /// Enablement commands (`update-rc.d NAME defaults`, `… enable`).
    pub enable: Vec<Vec<String>>,
    /// Service actions (`start`, `stop`, `reload`; a restart is stop+start).
    pub actions: Vec<&'static str>,
    /// Whether the task reports a change.
    pub changed: bool,
    /// Running before, as read.
    pub running: Option<bool>,
    /// Enabled before, as read.
    pub enabled: Option<bool>,
}

/// Ansible's LinuxService `main` for a SysV service.
pub fn sysv_decide(
    name: &str,
    state: Option<&str>,
    enable: Option<bool>,
    seen: &SysvSeen,
) -> Result<SysvDecision, String> {
    let has = |t: &str| seen.tools.iter().any(|x| x == t);
    // Without systemd, Ansible needs the script and a tool that enables it,
    // whatever the task asks.
    let enabler = ["update-rc.d", "insserv", "chkconfig"].iter().any(|t| has(t));
    if !seen.initscript || !enabler {
        return Err(format!("Could not find the requested service {name}: host"));
    }
    let mut d = SysvDecision::default();
    if let Some(want) = enable {
        if has("update-rc.d") {
            let enabled = seen.start_links;
            d.enabled = Some(enabled);
            if enabled != want {
                d.changed = true;
                let tool = "update-rc.d".to_owned();
                if want && !seen.kill_links {
                    d.enable.push(vec![tool.clone(), name.to_owned(), "defaults".into()]);
                }
                d.enable.push(vec![tool, name.to_owned(), if want { "enable" } else { "disable" }.into()]);
            }
        } else if has("chkconfig") {
            if !seen.chkconfig.contains(name) {
                return Err(format!("service {name} does not support chkconfig"));
            }
            let word = if want { "on" } else { "off" };
            let done = seen.chkconfig.contains(&format!("3:{word}")) && seen.chkconfig.contains(&format!("5:{word}"));
            d.enabled = Some(if done { want } else { !want });
            if !done {
                d.changed = true;
                d.enable.push(vec!["chkconfig".into(), name.to_owned(), word.into()]);
            }
        } else {
            return Err("stead does not drive insserv; enable the service with update-rc.d or systemd".into());
        }
    }
    if let Some(state) = state {
        let running =
            sysv_running(name, seen).ok_or("failed determining service state, possible typo of service name?")?;
        d.running = Some(running);
        let action: &[&'static str] = match state {
            "started" if !running => &["start"],
            "stopped" if running => &["stop"],
            "reloaded" if !running => &["start"],
            "reloaded" => &["reload"],
            "restarted" => &["stop", "start"],
            _ => &[],
        };
        if !action.is_empty() {
            d.changed = true;
            d.actions.extend_from_slice(action);
        }
    }
    Ok(d)
}

/// One `service` task on one host.
#[derive(Debug)]
pub struct ServiceAction {
    name: String,
    state: Option<String>,
    enabled: Option<bool>,
    sleep: Option<i64>,
    pattern: Option<String>,
    arguments: Vec<String>,
    force: Option<&'static str>,
    /// Which manager the probe found (set by `compare`).
    manager: Option<&'static str>,
}

impl Module for Service {
    fn name(&self) -> &'static str {
        "service"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: &Args, _ctx: &dyn TaskContext) -> Result<Box<dyn Action>, ModuleError> {
        let used = args.opt_str("use")?.unwrap_or_else(|| "auto".into());
        let force = match used.as_str() {
            "auto" => None,
            "systemd" => Some("systemd"),
            "sysvinit" | "service" => Some("sysv"),
            other => {
                return Err(ModuleError::Arg {
                    arg: "use".into(),
                    message: format!("stead drives {} only, not `{other}`", USES.join(", ")),
                })
            }
        };
        let arguments = match args.opt_str("arguments")? {
            Some(a) => shell_words::split(&a)
                .map_err(|e| ModuleError::Arg { arg: "arguments".into(), message: e.to_string() })?,
            None => Vec::new(),
        };
        Ok(Box::new(ServiceAction {
            name: args.str("name")?,
            state: args.opt_str("state")?,
            enabled: args.has("enabled").then(|| args.bool_or("enabled", false)).transpose()?,
            sleep: args.opt_int("sleep")?,
            pattern: args.opt_str("pattern")?,
            arguments,
            force,
            manager: None,
        }))
    }
}

impl ServiceAction {
    fn sysv_probe(&self) -> String {
        let mut s = String::from(
            "for t in update-rc.d insserv chkconfig service; do\n  \
             if command -v \"$t\" >/dev/null 2>&1; then printf 'stead-service tool %s\\n' \"$t\"; fi\ndone\n\
             if [ -f /etc/init.d/\"$n\" ]; then printf 'stead-service initscript\\n'; fi\n\
             for l in /etc/rc?.d/S??\"$n\"; do if [ -e \"$l\" ]; then printf 'stead-service start-links\\n'; break; fi; done\n\
             for l in /etc/rc?.d/K??\"$n\"; do if [ -e \"$l\" ]; then printf 'stead-service kill-links\\n'; break; fi; done\n\
             if command -v chkconfig >/dev/null 2>&1; then\n  \
             c=$(chkconfig --list \"$n\" 2>&1 | head -n 1); printf 'stead-service chkconfig %s\\n' \"$c\"\nfi\n",
        );
        if self.state.is_some() {
            // The status command may start nothing, but give it no session
            // pipes all the same.
            s.push_str(&format!(
                "t=$(mktemp) || exit 1\n\
                 if command -v service >/dev/null 2>&1; then service \"$n\" status {args} </dev/null >\"$t\" 2>/dev/null\n\
                 elif [ -x /etc/init.d/\"$n\" ]; then /etc/init.d/\"$n\" status {args} </dev/null >\"$t\" 2>/dev/null\n\
                 else false; fi && rc=0 || rc=$?\n\
                 out=$(cat -- \"$t\"); rm -f -- \"$t\"\n\
                 printf 'stead-service status %s %s\\n%s\\n' \"$rc\" \"${{#out}}\" \"$out\"\n",
                args = self.quoted_arguments()
            ));
        }
        if let Some(p) = &self.pattern {
            s.push_str(&format!(
                "if P={} ps auxww | P={} awk 'index($0, ENVIRON[\"P\"]) && !index($0, \"pattern=\") {{ f = 1 }} END {{ exit !f }}'; \
                 then printf 'stead-service pattern 1\\n'; else printf 'stead-service pattern 0\\n'; fi\n",
                quote(p),
                quote(p)
            ));
        }
        s.push_str("printf 'stead-service end\\n'\n");
        s
    }

    fn quoted_arguments(&self) -> String {
        self.arguments.iter().map(|a| quote(a).into_owned()).collect::<Vec<_>>().join(" ")
    }

    fn sysv_script(&self, d: &SysvDecision) -> ApplyScript {
        let mut s = format!(
            "LC_ALL=C\nexport LC_ALL\nn={}\nfail() {{ printf '%s\\n' \"$*\" >&2; exit 1; }}\n\
             run() {{\n  t=$(mktemp) || fail 'cannot create a temporary file'\n  \
             if command -v setsid >/dev/null 2>&1; then setsid \"$@\" </dev/null >\"$t\" 2>&1; else \"$@\" </dev/null >\"$t\" 2>&1; fi\n  \
             r=$?; out=$(cat -- \"$t\"); rm -f -- \"$t\"; return $r\n}}\n",
            quote(&self.name)
        );
        for cmd in &d.enable {
            let words: Vec<String> = cmd.iter().map(|w| quote(w).into_owned()).collect();
            s.push_str(&format!("run {} || fail \"$out\"\n", words.join(" ")));
        }
        let args = self.quoted_arguments();
        let control =
            "if command -v service >/dev/null 2>&1; then set -- service \"$n\"; else set -- /etc/init.d/\"$n\"; fi\n";
        if !d.actions.is_empty() {
            s.push_str(control);
        }
        let restart = d.actions == ["stop", "start"];
        for (i, action) in d.actions.iter().enumerate() {
            if restart && i == 1 {
                if let Some(secs) = self.sleep.filter(|s| *s > 0) {
                    s.push_str(&format!("sleep {secs}\n"));
                }
                // A failed stop of a stopped service does not fail a restart.
                s.push_str(&format!("run \"$@\" {action} {args} || fail \"$out\"\n"));
            } else if restart {
                s.push_str(&format!("run \"$@\" {action} {args} || :\n"));
            } else {
                s.push_str(&format!("run \"$@\" {action} {args} || fail \"$out\"\n"));
            }
        }
        ApplyScript { script: s, stdin: Vec::new() }
    }
}

fn parse_sysv(stdout: &[u8]) -> Result<SysvSeen, ModuleError> {
    let text = String::from_utf8_lossy(stdout);
    let mut seen = SysvSeen::default();
    let mut lines = text.split('\n');
    while let Some(line) = lines.next() {
        let Some(rest) = line.strip_prefix("stead-service ") else {
            continue;
        };
        let (kind, value) = rest.split_once(' ').unwrap_or((rest, ""));
        match kind {
            "tool" => seen.tools.push(value.to_owned()),
            "initscript" => seen.initscript = true,
            "start-links" => seen.start_links = true,
            "kill-links" => seen.kill_links = true,
            "chkconfig" => seen.chkconfig = value.to_owned(),
            "pattern" => seen.pattern_running = Some(value == "1"),
            "status" => {
                let (rc, len) = value.split_once(' ').unwrap_or(("1", "0"));
                let len: usize = len.parse().unwrap_or(0);
                let mut out = String::new();
                // A host that claims more than it sent (or a length beyond
                // any output) ends the field where its lines end.
                while out.len() < len {
                    let Some(next) = lines.next() else {
                        return Err(ModuleError::Probe("the service probe output is truncated".into()));
                    };
                    if !out.is_empty() {
                        out.push('\n');
                    }
                    out.push_str(next);
                }
                if len == 0 {
                    lines.next();
                }
                seen.status = (rc.parse().unwrap_or(1), out);
            }
            "end" => return Ok(seen),
            _ => {}
        }
    }
    Err(ModuleError::Probe("the service probe output is truncated".into()))
}

impl Action for ServiceAction {
    fn probe(&self) -> Option<String> {
        let detect = match self.force {
            Some("systemd") => "true".to_owned(),
            Some(_) => "false".to_owned(),
            None => "command -v systemctl >/dev/null 2>&1 && { [ -e /run/systemd/system ] || [ -e /dev/.run/systemd ] \
                     || [ -e /dev/.systemd ] || grep -q systemd /proc/1/comm 2>/dev/null; }"
                .to_owned(),
        };
        Some(format!(
            "n={}\nif {detect}; then\nprintf 'stead-service systemd\\n'\n{}else\nprintf 'stead-service sysv\\n'\n{}fi\n",
            quote(&self.name),
            systemd::probe_script(&self.name, "system"),
            self.sysv_probe()
        ))
    }

    fn compare(&mut self, probe: Option<&ExecOutput>) -> Result<Plan, ModuleError> {
        let out = probe.ok_or_else(|| ModuleError::Probe("the service probe did not run".into()))?;
        if out.status != 0 {
            return Err(ModuleError::failed(format!("cannot query the service: {}", out.stderr_text().trim())));
        }
        let (first, rest) = out.stdout.split_at(out.stdout.iter().position(|&b| b == b'\n').map_or(0, |p| p + 1));
        match first {
            b"stead-service systemd\n" => {
                self.manager = Some("systemd");
                let seen: Seen = systemd::parse_probe(rest)?;
                let want = Wanted { state: self.state.clone(), enabled: self.enabled, masked: None };
                let d = systemd::decide(&self.name, &want, &seen, true).map_err(ModuleError::failed)?;
                let opts = Options { scope: "system".into(), ..Options::default() };
                Ok(Plan {
                    changed: d.changed,
                    diff: systemd::diff(&self.name, &seen, &d),
                    apply: systemd::apply_script(&self.name, &d, &opts),
                    result: systemd::result(&self.name, &seen, &d),
                    msg: d.warning.clone(),
                    skipped: false,
                    reconnect: None,
                    unpredictable: false,
                })
            }
            b"stead-service sysv\n" => {
                self.manager = Some("sysv");
                let seen = parse_sysv(rest)?;
                let d =
                    sysv_decide(&self.name, self.state.as_deref(), self.enabled, &seen).map_err(ModuleError::failed)?;
                let mut result = ResultMap::new();
                result.insert("name".into(), self.name.clone().into());
                result.insert("changed".into(), d.changed.into());
                if let Some(state) = &self.state {
                    let after = if state == "stopped" { "stopped" } else { "started" };
                    result.insert("state".into(), after.into());
                }
                if let Some(e) = self.enabled {
                    result.insert("enabled".into(), e.into());
                }
                let mut before = Vec::new();
                let mut after = Vec::new();
                if let (Some(e), Some(want)) = (d.enabled, self.enabled) {
                    if e != want {
                        before.push(("enabled", yes_no(e)));
                        after.push(("enabled", yes_no(want)));
                    }
                }
                if let (Some(r), false) = (d.running, d.actions.is_empty()) {
                    before.push(("state", if r { "started" } else { "stopped" }.to_owned()));
                    let verb = match self.state.as_deref() {
                        Some("restarted") => "restarted",
                        Some("reloaded") if r => "reloaded",
                        Some("stopped") => "stopped",
                        _ => "started",
                    };
                    after.push(("state", verb.to_owned()));
                }
                let diff = (!before.is_empty()).then(|| Diff::state(&self.name, &before, &after));
                let apply = d.changed.then(|| self.sysv_script(&d));
                Ok(Plan {
                    changed: d.changed,
                    diff,
                    apply,
                    result,
                    msg: None,
                    skipped: false,
                    reconnect: None,
                    unpredictable: false,
                })
            }
            _ => Err(ModuleError::Probe("the service probe printed no manager".into())),
        }
    }

    fn finish(&mut self, plan: Plan, out: &ExecOutput) -> Result<Plan, ModuleError> {
        if out.status == 0 {
            return Ok(plan);
        }
        let mut result = plan.result;
        result.insert("rc".into(), out.status.into());
        let detail = out.stderr_text().trim().to_owned();
        let msg = if detail.is_empty() {
            format!("the {} command failed", self.manager.unwrap_or("service"))
        } else {
            detail
        };
        Err(ModuleError::Failed { msg, result })
    }
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(rc: i32, out: &str) -> SysvSeen {
        SysvSeen {
            initscript: true,
            tools: vec!["update-rc.d".into(), "service".into()],
            status: (rc, out.into()),
            ..SysvSeen::default()
        }
    }

    #[test]
    fn sysv_status_is_read_as_ansible_reads_it() {
        assert_eq!(sysv_running("x", &seen(3, "")), Some(false));
        assert_eq!(sysv_running("x", &seen(0, "x is running.")), Some(true));
        assert_eq!(sysv_running("x", &seen(0, "x is not running")), Some(false));
        assert_eq!(sysv_running("x", &seen(0, "")), Some(true));
        assert_eq!(sysv_running("x", &seen(5, "")), None);
        // The name itself is not a keyword: "stopwatch is up" is not "stop".
        assert_eq!(sysv_running("stopwatch", &seen(0, "stopwatch up")), Some(true));
    }

    #[test]
    fn sysv_decisions_enable_then_act() {
        let d = sysv_decide("x", Some("started"), Some(true), &seen(3, "")).unwrap();
        assert_eq!(
            d.enable,
            vec![
                vec!["update-rc.d".to_owned(), "x".into(), "defaults".into()],
                vec!["update-rc.d".into(), "x".into(), "enable".into()]
            ]
        );
        assert_eq!(d.actions, vec!["start"]);
        let mut s = seen(0, "x is running");
        s.start_links = true;
        assert!(!sysv_decide("x", Some("started"), Some(true), &s).unwrap().changed);
        assert_eq!(sysv_decide("x", Some("restarted"), None, &s).unwrap().actions, vec!["stop", "start"]);
        assert_eq!(sysv_decide("x", Some("reloaded"), None, &s).unwrap().actions, vec!["reload"]);
        let d = sysv_decide("x", None, Some(false), &s).unwrap();
        assert_eq!(d.enable, vec![vec!["update-rc.d".to_owned(), "x".into(), "disable".into()]]);
        let none = SysvSeen::default();
        assert!(sysv_decide("x", Some("started"), None, &none).unwrap_err().contains("Could not find"));
    }

    #[test]
    fn sysv_probe_output_parses() {
        let text = "stead-service tool update-rc.d\nstead-service initscript\nstead-service start-links\n\
                    stead-service status 0 13\nx is running.\nstead-service end\n";
        let s = parse_sysv(text.as_bytes()).unwrap();
        assert_eq!(s.status, (0, "x is running.".into()));
        assert!(s.initscript && s.start_links && !s.kill_links);
    }
}
