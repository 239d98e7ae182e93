//! `hostname`: the host's name, as `ansible.builtin.hostname`.
//!
//! Ansible picks a strategy, and so does stead, the same way: `hostnamectl`
//! when systemd runs (`/run/systemd/system`), else the distribution's own
//! (Debian: `/etc/hostname` only, the live name untouched, exactly as
//! Ansible's `FileStrategy`; Alpine: `/etc/hostname`, then
//! `hostname -F /etc/hostname`). `use:` forces one: `systemd` and `debian`
//! (hostnamectl, as in Ansible), `alpine`. The other strategies drive tools
//! of other systems (RedHat's sysconfig, BSD rc.conf, macOS scutil) and are
//! refused when asked for.
//!
//! One probe reads the live name, `/etc/hostname` (through
//! [`super::file_state`], so the file is rewritten atomically and only if it
//! is still what was read) and, for systemd, `hostnamectl`'s static and
//! transient names. The decision is pure ([`decide`]). This module never
//! builds a shell string by hand: every value goes through
//! [`crate::transport::quote::quote`].

use serde_json::{json, Value};

use super::file_state::{self, FileKind, Probe};
use super::file_write::WriteFile;
use super::{Action, ApplyScript, ArgKind, ArgSpec, Args, Diff, Module, ModuleError, ModuleSpec, Plan, TaskContext};
use crate::transport::quote::quote;
use crate::transport::ExecOutput;

/// The `hostname` module.
pub struct Hostname;

const FILE: &str = "/etc/hostname";
const MARKER: &str = "stead-hostname 1";

/// Ansible's `use` choices.
const USES: &[&str] = &[
    "alpine", "debian", "freebsd", "generic", "macos", "macosx", "darwin", "openbsd", "openrc", "redhat", "sles",
    "solaris", "systemd",
];

static SPEC: ModuleSpec =
    ModuleSpec::new(&[ArgSpec::new("name", ArgKind::Str).required(), ArgSpec::new("use", ArgKind::Str).choices(USES)]);

/// How the name is read and set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// `/etc/hostname` only (Ansible's `FileStrategy`, Debian's default).
    File,
    /// `/etc/hostname`, then `hostname -F /etc/hostname`.
    Alpine,
    /// `hostnamectl`.
    Systemd,
}

impl Module for Hostname {
    fn name(&self) -> &'static str {
        "hostname"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: &Args, _ctx: &dyn TaskContext) -> Result<Box<dyn Action>, ModuleError> {
        let name = args.str("name")?;
        let forced = match args.opt_str("use")?.as_deref() {
            None => None,
            Some("systemd" | "debian") => Some(Strategy::Systemd),
            Some("alpine") => Some(Strategy::Alpine),
            Some(other) => {
                return Err(ModuleError::failed(format!(
                    "stead implements the hostname strategies systemd, debian and alpine (and picks one itself \
                     when `use` is not given), not `{other}`: it drives another system's tools"
                )))
            }
        };
        Ok(Box::new(HostnameAction { name, forced, strategy: None }))
    }
}

/// What the probe saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seen {
    /// systemd runs (`/run/systemd/system` exists).
    pub systemd: bool,
    /// The distribution (`debian`, `alpine`, or empty).
    pub distro: String,
    /// `hostname`'s answer.
    pub live: String,
    /// `hostnamectl`'s static and transient names, or its error.
    pub ctl: Option<Result<(String, String), String>>,
    /// The first line of `getent hosts <live name>`.
    pub hosts_line: String,
}

/// The strategy for a host: the forced one, else as Ansible chooses.
pub fn strategy(forced: Option<Strategy>, seen: &Seen) -> Result<Strategy, ModuleError> {
    if let Some(s) = forced {
        return Ok(s);
    }
    if seen.systemd {
        return Ok(Strategy::Systemd);
    }
    match seen.distro.as_str() {
        "debian" => Ok(Strategy::File),
        "alpine" => Ok(Strategy::Alpine),
        _ => Err(ModuleError::failed(
            "stead picks the hostname strategy itself on systemd, Debian and Alpine hosts only; set `use`",
        )),
    }
}

/// Python's `socket.getfqdn()` from `getent hosts NAME`: the first name
/// with a dot among the canonical name and aliases, else the canonical name,
/// else the name itself.
pub fn fqdn(hosts_line: &str, name: &str) -> String {
    let names: Vec<&str> = hosts_line.split_whitespace().skip(1).collect();
    names.iter().find(|n| n.contains('.')).or(names.first()).map_or(name, |n| n).to_owned()
}

/// Ansible's `ansible_facts` for the new name.
pub fn facts(name: &str, fqdn: &str) -> Value {
    let domain = fqdn.split('.').skip(1).collect::<Vec<_>>().join(".");
    json!({
        "ansible_hostname": name.split('.').next().unwrap_or(name),
        "ansible_nodename": name,
        "ansible_fqdn": fqdn,
        "ansible_domain": domain,
    })
}

/// What to change: the permanent name, the current one, and the name the
/// diff shows as before (Ansible's `name_before`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Set the permanent name.
    pub permanent: bool,
    /// Set the current name.
    pub current: bool,
    /// The name before, as Ansible reports it.
    pub before: String,
}

/// Pure: Ansible's `update_current_and_permanent_hostname`.
pub fn decide(name: &str, current: &str, permanent: &str) -> Decision {
    Decision {
        permanent: permanent != name,
        current: current != name,
        before: if name != current { current } else { permanent }.to_owned(),
    }
}

/// One `hostname` task on one host.
#[derive(Debug)]
pub struct HostnameAction {
    name: String,
    forced: Option<Strategy>,
    strategy: Option<Strategy>,
}

fn parse_seen(stdout: &[u8]) -> Result<(Seen, &[u8]), ModuleError> {
    let bad = || ModuleError::Probe("bad hostname section".into());
    let mut seen = Seen::default();
    let mut pos = 0;
    let mut first = true;
    loop {
        let rest = &stdout[pos..];
        let end = rest.iter().position(|&b| b == b'\n').ok_or_else(bad)?;
        let line = String::from_utf8_lossy(&rest[..end]).into_owned();
        pos += end + 1;
        if first {
            if line != MARKER {
                return Err(bad());
            }
            first = false;
            continue;
        }
        let (key, value) = line.split_once(' ').unwrap_or((line.as_str(), ""));
        match key {
            "systemd" => seen.systemd = true,
            "distro" => seen.distro = value.to_owned(),
            "live" => seen.live = value.to_owned(),
            "hosts" => seen.hosts_line = value.to_owned(),
            "ctl" => {
                let (st, tr) = value.split_once('\t').unwrap_or((value, ""));
                seen.ctl = Some(Ok((st.to_owned(), tr.to_owned())));
            }
            "ctl-failed" => seen.ctl = Some(Err(value.to_owned())),
            "end" => break,
            _ => return Err(bad()),
        }
    }
    Ok((seen, &stdout[pos..]))
}

/// `getent hosts` for the live name, as a `fqdn` line the finish reads.
const FQDN_LINE: &str = "n=$(hostname 2>/dev/null || uname -n)\nprintf 'live %s\\n' \"$n\"\n\
    printf 'hosts %s\\n' \"$(getent hosts \"$n\" 2>/dev/null | head -n 1 | tr '\\t' ' ')\"\n";

impl Action for HostnameAction {
    fn paths(&self) -> Option<Vec<String>> {
        Some(vec![FILE.to_owned()])
    }

    fn probe(&self) -> Option<String> {
        let want = u8::from(self.forced == Some(Strategy::Systemd));
        let mut s = format!(
            "LC_ALL=C\nexport LC_ALL\nwant_ctl={want}\nprintf '{MARKER}\\n'\n\
             if [ -d /run/systemd/system ]; then printf 'systemd\\n'; fi\n\
             if [ -f /etc/debian_version ]; then printf 'distro debian\\n'; \
             elif [ -f /etc/alpine-release ]; then printf 'distro alpine\\n'; fi\n{FQDN_LINE}"
        );
        if self.forced == Some(Strategy::Systemd) || self.forced.is_none() {
            s.push_str(
                "if command -v hostnamectl >/dev/null 2>&1 && { [ -d /run/systemd/system ] || [ \"$want_ctl\" = 1 ]; }; then\n  \
                 st=$(hostnamectl --static status 2>&1) && tr=$(hostnamectl --transient status 2>&1) \
                 && printf 'ctl %s\\t%s\\n' \"$st\" \"$tr\" \
                 || printf 'ctl-failed %s\\n' \"$(printf '%s' \"$st $tr\" | tr '\\n' ' ')\"\n\
                 elif [ \"$want_ctl\" = 1 ]; then printf 'ctl-failed Failed to find required executable \"hostnamectl\"\\n'; fi\n",
            );
        }
        s.push_str("printf 'end\\n'\n");
        s.push_str(&Probe::new(FILE).script());
        Some(s)
    }

    fn compare(&mut self, probe: Option<&ExecOutput>) -> Result<Plan, ModuleError> {
        let out = probe.ok_or_else(|| ModuleError::Probe("the hostname probe did not run".into()))?;
        if out.status != 0 {
            return Err(ModuleError::failed(format!("cannot read the hostname: {}", out.stderr_text().trim())));
        }
        let (seen, rest) = parse_seen(&out.stdout)?;
        let st = file_state::parse(rest)?;
        let strategy = strategy(self.forced, &seen)?;
        self.strategy = Some(strategy);
        let file_name = || -> Result<String, ModuleError> {
            if !st.exists || st.kind != FileKind::File {
                return Ok(String::new());
            }
            let bytes = st
                .content
                .as_ref()
                .ok_or_else(|| ModuleError::failed(format!("failed to read hostname: {FILE} is too large")))?;
            Ok(String::from_utf8_lossy(bytes).trim().to_owned())
        };
        let (current, permanent) = match strategy {
            Strategy::File | Strategy::Alpine => {
                let p = file_name()?;
                (p.clone(), p)
            }
            Strategy::Systemd => match &seen.ctl {
                Some(Ok((st, tr))) => (tr.trim().to_owned(), st.trim().to_owned()),
                Some(Err(e)) => return Err(ModuleError::failed(format!("Command failed rc=1, out=, err={e}"))),
                None => return Err(ModuleError::failed("Command failed rc=1, out=, err=hostnamectl did not run")),
            },
        };
        if strategy == Strategy::Systemd && self.name.chars().count() > 64 {
            return Err(ModuleError::failed(
                "name cannot be longer than 64 characters on systemd servers, try a shorter name",
            ));
        }
        let d = decide(&self.name, &current, &permanent);
        let changed = d.permanent || d.current;
        let fqdn = fqdn(&seen.hosts_line, &seen.live);
        let mut plan = if changed {
            let mut script = String::from("LC_ALL=C\nexport LC_ALL\n");
            let mut stdin = Vec::new();
            let q = quote(&self.name);
            match strategy {
                Strategy::File | Strategy::Alpine => {
                    let content = format!("{}\n", self.name);
                    let w = WriteFile::edit(FILE, content.as_bytes(), &st).apply();
                    script.push_str(&w.as_step());
                    stdin = w.stdin;
                    if strategy == Strategy::Alpine {
                        script.push_str("hostname -F /etc/hostname || exit 3\n");
                    }
                }
                Strategy::Systemd => {
                    if d.permanent {
                        script.push_str(&format!("hostnamectl --pretty --static set-hostname -- {q} || exit 3\n"));
                    }
                    if d.current {
                        script.push_str(&format!("hostnamectl --transient set-hostname -- {q} || exit 3\n"));
                    }
                }
            }
            script.push_str(FQDN_LINE);
            Plan::change(ApplyScript { script, stdin })
        } else {
            Plan::ok()
        };
        if changed {
            plan.diff = Some(Diff::state("hostname", &[("hostname", d.before)], &[("hostname", self.name.clone())]));
        }
        plan.result.insert("changed".into(), changed.into());
        plan.result.insert("name".into(), self.name.clone().into());
        plan.result.insert("ansible_facts".into(), facts(&self.name, &fqdn));
        Ok(plan)
    }

    fn finish(&mut self, mut plan: Plan, out: &ExecOutput) -> Result<Plan, ModuleError> {
        let err = out.stderr_text();
        match out.status {
            0 => {
                let text = String::from_utf8_lossy(&out.stdout);
                let field = |key: &str| text.lines().find_map(|l| l.strip_prefix(key)).map(str::to_owned);
                if let (Some(live), Some(hosts)) = (field("live "), field("hosts ")) {
                    plan.result.insert("ansible_facts".into(), facts(&self.name, &fqdn(&hosts, &live)));
                }
                Ok(plan)
            }
            3 => Err(ModuleError::failed(format!("Command failed rc=1, out=, err={}", err.trim()))),
            _ => Err(ModuleError::failed(format!("failed to update hostname: {}", err.trim()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::file_write::testing::FakeCtx;

    fn prepare(v: Value) -> Result<Box<dyn Action>, ModuleError> {
        Hostname.prepare(&Args::new(&SPEC, v.as_object().unwrap().clone()), &FakeCtx::default())
    }

    fn probe_out(seen: &str, file: Option<&str>) -> ExecOutput {
        let mut s = format!("{MARKER}\n{seen}end\nstead-file-state 1\nparent-dir\n");
        if let Some(f) = file {
            s.push_str(&format!(
                "stat 81a4 0 0 {} 1 1 1 1 1 1 root root\nsha256 abc\ncontent {}\n{f}\n",
                f.len(),
                f.len()
            ));
        }
        s.push_str("end\n");
        ExecOutput { status: 0, stdout: s.into_bytes(), stderr: vec![] }
    }

    #[test]
    fn decisions_and_names_before_follow_ansible() {
        assert_eq!(decide("new", "old", "old"), Decision { permanent: true, current: true, before: "old".into() });
        assert_eq!(decide("new", "new", "old"), Decision { permanent: true, current: false, before: "old".into() });
        assert!(!decide("x", "x", "x").permanent);
        assert_eq!(fqdn("127.0.1.1 web1.example.com web1", "web1"), "web1.example.com");
        assert_eq!(fqdn("", "web1"), "web1");
        assert_eq!(facts("web1.example.com", "web1.example.com")["ansible_hostname"], "web1");
        assert_eq!(facts("a", "a.b.c")["ansible_domain"], "b.c");
    }

    #[test]
    fn debian_without_systemd_writes_the_file_only() {
        let mut a = prepare(json!({"name": "web1"})).unwrap();
        let plan = a.compare(Some(&probe_out("distro debian\nlive box\nhosts \n", Some("old\n")))).unwrap();
        assert!(plan.changed);
        let script = &plan.apply.as_ref().unwrap().script;
        assert!(!script.contains("hostname -F") && !script.contains("hostnamectl"), "{script}");
        assert_eq!(plan.apply.as_ref().unwrap().stdin, b"web1\n");
        let diff = plan.diff.unwrap().unified();
        assert!(diff.contains("-hostname: old") && diff.contains("+hostname: web1"), "{diff}");
        let plan = a.compare(Some(&probe_out("distro debian\nlive box\nhosts \n", Some(" web1 \n")))).unwrap();
        assert!(!plan.changed);
        assert_eq!(plan.result["ansible_facts"]["ansible_nodename"], "web1");
    }

    #[test]
    fn alpine_sets_the_live_name_and_systemd_uses_hostnamectl() {
        let mut a = prepare(json!({"name": "web1", "use": "alpine"})).unwrap();
        let plan = a.compare(Some(&probe_out("distro debian\nlive box\nhosts \n", None))).unwrap();
        assert!(plan.apply.unwrap().script.contains("hostname -F /etc/hostname"));
        let mut a = prepare(json!({"name": "we b'1", "use": "systemd"})).unwrap();
        assert!(a.probe().unwrap().contains("want_ctl=1"));
        let plan = a.compare(Some(&probe_out("live box\nctl box\tbox\nhosts \n", None))).unwrap();
        let script = plan.apply.unwrap().script;
        assert!(script.contains("hostnamectl --pretty --static set-hostname -- 'we b'\\''1'"), "{script}");
        let e = a.compare(Some(&probe_out("live box\nctl-failed no dbus\n", None))).unwrap_err();
        assert!(e.to_string().contains("no dbus"));
        assert!(prepare(json!({"name": "x", "use": "redhat"})).is_err());
        let mut a = prepare(json!({"name": "x"})).unwrap();
        assert!(a.compare(Some(&probe_out("live box\n", None))).is_err(), "unknown distribution");
    }
}
