//! `timezone`: the host's time zone, as `community.general.timezone`.
//!
//! Ansible's choice, made the same way: `timedatectl` when it runs (systemd
//! is up), else, on Debian (`dpkg-reconfigure` present), `/etc/timezone`
//! (its first zone line replaced, other zone lines dropped), the
//! `/etc/localtime` symlink (`ln -sf`) and `dpkg-reconfigure tzdata`. The
//! current zone is read as Ansible reads it ([`current_zone`]): the file's
//! zone, and when that is already the wanted one, the symlink's (or `n/a`
//! when `/etc/localtime` is a copy that differs from the zone file).
//!
//! `hwclock` is refused: it writes the hardware clock (`hwclock --systohc`),
//! which is the machine's, not a test host's, and stead has no way to test it.
//!
//! `/etc/timezone` is rewritten atomically and only if it is still what the
//! probe read. This module never builds a shell string by hand: every value
//! goes through [`crate::transport::quote::quote`].

use super::file_state::{self, FileKind, Probe};
use super::file_write::WriteFile;
use super::{Action, ApplyScript, ArgKind, ArgSpec, Args, Diff, Module, ModuleError, ModuleSpec, Plan, TaskContext};
use crate::transport::quote::quote;
use crate::transport::ExecOutput;

/// The `timezone` module.
pub struct Timezone;

const FILE: &str = "/etc/timezone";
const MARKER: &str = "stead-timezone 1";
const HWCLOCK: &str = "it sets the hardware clock (hwclock --systohc), which belongs to the whole machine; \
    stead leaves it alone and has no way to test it";

static SPEC: ModuleSpec = ModuleSpec::new(&[ArgSpec::new("name", ArgKind::Str).required()])
    .refused(&[("hwclock", HWCLOCK), ("rtc", HWCLOCK)]);

impl Module for Timezone {
    fn name(&self) -> &'static str {
        "timezone"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: &Args, _ctx: &dyn TaskContext) -> Result<Box<dyn Action>, ModuleError> {
        Ok(Box::new(TimezoneAction { name: args.str("name")? }))
    }
}

/// What `/etc/localtime` is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Localtime {
    /// A symlink to an existing file, with its target as `readlink` prints it.
    Link(String),
    /// A symlink whose target is missing.
    Broken,
    /// A file (or nothing): whether it has the bytes of the wanted zone file.
    Copy(bool),
}

/// What the probe saw, besides `/etc/timezone`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// `timedatectl` runs; its `Time zone:` value.
    pub timedatectl: Option<String>,
    /// `dpkg-reconfigure` exists (Debian's way).
    pub debian: bool,
    /// `/usr/share/zoneinfo/NAME` is a file.
    pub zone_exists: bool,
    /// `/etc/localtime`.
    pub localtime: Localtime,
}

/// Ansible's regexp for `/etc/timezone`: a line's leading word.
fn zone_of_line(line: &str) -> Option<&str> {
    if line.starts_with(|c: char| !c.is_whitespace()) {
        line.split_whitespace().next()
    } else {
        None
    }
}

/// The zone `/etc/timezone` names (`n/a` when none).
pub fn file_zone(content: Option<&str>) -> String {
    content.and_then(|c| c.lines().find_map(zone_of_line)).unwrap_or("n/a").to_owned()
}

/// Pure: Ansible's `NosystemdTimezone.get('name')`.
pub fn current_zone(file: &str, localtime: &Localtime, planned: &str) -> String {
    if file != planned {
        return file.to_owned();
    }
    match localtime {
        Localtime::Link(target) => {
            let zone = ["/usr/share/zoneinfo/", "/etc/zoneinfo/"]
                .iter()
                .filter_map(|p| target.find(p).map(|i| &target[i + p.len()..]))
                .next();
            match zone {
                Some(z) if z != planned => z.to_owned(),
                Some(_) => file.to_owned(),
                None => "n/a".into(),
            }
        }
        Localtime::Broken => "n/a".into(),
        Localtime::Copy(true) => file.to_owned(),
        Localtime::Copy(false) => "n/a".into(),
    }
}

/// Ansible's `_edit_file`: the first zone line becomes `NAME`, the other
/// zone lines go; the count of removed lines for the message.
pub fn edit(content: &str, name: &str) -> (String, usize) {
    let lines: Vec<&str> = content.split_inclusive('\n').collect();
    let matched: Vec<usize> = (0..lines.len()).filter(|&i| zone_of_line(lines[i]).is_some()).collect();
    let at = matched.first().copied().unwrap_or(0);
    let mut out: Vec<String> =
        lines.iter().enumerate().filter(|(i, _)| !matched.contains(i)).map(|(_, l)| (*l).to_owned()).collect();
    out.insert(at.min(out.len()), format!("{name}\n"));
    (out.concat(), matched.len())
}

/// One `timezone` task on one host.
#[derive(Debug)]
pub struct TimezoneAction {
    name: String,
}

fn abort(msg: &str) -> ModuleError {
    ModuleError::failed(format!("Error message:\n{msg}"))
}

fn parse_seen(stdout: &[u8]) -> Result<(Seen, &[u8]), ModuleError> {
    let bad = || ModuleError::Probe("bad timezone section".into());
    let mut seen = Seen { timedatectl: None, debian: false, zone_exists: false, localtime: Localtime::Copy(false) };
    let mut pos = 0;
    let mut first = true;
    loop {
        let rest = &stdout[pos..];
        let end = rest.iter().position(|&b| b == b'\n').ok_or_else(bad)?;
        let line = String::from_utf8_lossy(&rest[..end]).into_owned();
        pos += end + 1;
        if std::mem::take(&mut first) {
            if line != MARKER {
                return Err(bad());
            }
            continue;
        }
        let (key, value) = line.split_once(' ').unwrap_or((line.as_str(), ""));
        match key {
            "timedatectl" => {
                // `Time zone: Europe/Paris (CET, +0100)`
                let zone = value
                    .split_once(':')
                    .map(|(_, v)| v.split_whitespace().next().unwrap_or("").to_owned())
                    .unwrap_or_default();
                seen.timedatectl = Some(zone);
            }
            "debian" => seen.debian = true,
            "zone" => seen.zone_exists = true,
            "link" => seen.localtime = Localtime::Link(value.to_owned()),
            "broken" => seen.localtime = Localtime::Broken,
            "same" => seen.localtime = Localtime::Copy(true),
            "end" => break,
            _ => return Err(bad()),
        }
    }
    Ok((seen, &stdout[pos..]))
}

impl Action for TimezoneAction {
    fn paths(&self) -> Option<Vec<String>> {
        Some(vec![FILE.to_owned(), "/etc/localtime".to_owned()])
    }

    fn probe(&self) -> Option<String> {
        let zone = quote(&format!("/usr/share/zoneinfo/{}", self.name)).into_owned();
        let mut s = format!(
            "LC_ALL=C\nexport LC_ALL\nprintf '{MARKER}\\n'\n\
             if command -v timedatectl >/dev/null 2>&1 && timedatectl >/dev/null 2>&1; then\n  \
             printf 'timedatectl %s\\n' \"$(timedatectl status | grep -E '^[[:space:]]*Time ?zone[[:space:]]*:' | head -n 1)\"\nfi\n\
             if command -v dpkg-reconfigure >/dev/null 2>&1; then printf 'debian\\n'; fi\n\
             if [ -f {zone} ]; then printf 'zone\\n'; fi\n\
             if [ -L /etc/localtime ]; then\n  \
             if [ -e /etc/localtime ]; then printf 'link %s\\n' \"$(readlink /etc/localtime)\"; else printf 'broken\\n'; fi\n\
             elif cmp -s /etc/localtime {zone} 2>/dev/null; then printf 'same\\n'; fi\n\
             printf 'end\\n'\n"
        );
        s.push_str(&Probe::new(FILE).script());
        Some(s)
    }

    fn compare(&mut self, probe: Option<&ExecOutput>) -> Result<Plan, ModuleError> {
        let out = probe.ok_or_else(|| ModuleError::Probe("the timezone probe did not run".into()))?;
        if out.status != 0 {
            return Err(ModuleError::failed(format!("cannot read the time zone: {}", out.stderr_text().trim())));
        }
        let (seen, rest) = parse_seen(&out.stdout)?;
        let st = file_state::parse(rest)?;
        if !seen.zone_exists {
            return Err(abort(&format!("given timezone \"{}\" is not available", self.name)));
        }
        let name = quote(&self.name).into_owned();
        let (before, apply, msg) = if let Some(zone) = &seen.timedatectl {
            let script = format!("timedatectl set-timezone -- {name}\n");
            (zone.clone(), ApplyScript { script, stdin: Vec::new() }, None)
        } else if seen.debian {
            let content = if st.exists && st.kind == FileKind::File {
                let bytes = st.content.as_ref().ok_or_else(|| {
                    abort(&format!("tried to configure name using a file \"{FILE}\", but could not read it"))
                })?;
                Some(String::from_utf8_lossy(bytes).into_owned())
            } else {
                None
            };
            let before = current_zone(&file_zone(content.as_deref()), &seen.localtime, &self.name);
            let (new, removed) = edit(content.as_deref().unwrap_or(""), &self.name);
            let w = WriteFile::edit(FILE, new.as_bytes(), &st).apply();
            let zone = quote(&format!("/usr/share/zoneinfo/{}", self.name)).into_owned();
            let script = format!(
                "LC_ALL=C\nexport LC_ALL\n{}\
                 ln -sf {zone} /etc/localtime || exit 3\n\
                 DEBIAN_FRONTEND=noninteractive dpkg-reconfigure --frontend noninteractive tzdata >/dev/null || exit 3\n",
                w.as_step()
            );
            (
                before,
                ApplyScript { script, stdin: w.stdin },
                Some(format!("Added 1 line and deleted {removed} line(s) on {FILE}")),
            )
        } else {
            return Err(abort(
                "stead sets the time zone with timedatectl (systemd running) or, on Debian, with /etc/timezone, \
                 /etc/localtime and dpkg-reconfigure; this host has neither",
            ));
        };
        let changed = before != self.name;
        let mut plan = if changed { Plan::change(apply) } else { Plan::ok() };
        if changed {
            plan.diff = Some(Diff::state("timezone", &[("name", before.clone())], &[("name", self.name.clone())]));
            if let Some(m) = msg {
                plan.result.insert("msg".into(), m.into());
            }
        }
        plan.result.insert("changed".into(), changed.into());
        plan.result
            .insert("diff".into(), serde_json::json!({"before": {"name": before}, "after": {"name": self.name}}));
        Ok(plan)
    }

    fn finish(&mut self, plan: Plan, out: &ExecOutput) -> Result<Plan, ModuleError> {
        let err = out.stderr_text();
        match out.status {
            0 => Ok(plan),
            3 => Err(abort(&format!("setting the time zone failed: {}", err.trim()))),
            _ => Err(abort(&format!(
                "tried to configure name using a file \"{FILE}\", but could not write to it: {}",
                err.trim()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::file_write::testing::FakeCtx;
    use serde_json::{json, Value};

    fn prepare(v: Value) -> Box<dyn Action> {
        Timezone.prepare(&Args::new(&SPEC, v.as_object().unwrap().clone()), &FakeCtx::default()).unwrap()
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
    fn the_current_zone_is_read_as_ansible_reads_it() {
        assert_eq!(file_zone(Some("# c\n  x\nEurope/Paris junk\nUTC\n")), "#");
        assert_eq!(file_zone(Some("Europe/Paris\n")), "Europe/Paris");
        assert_eq!(file_zone(None), "n/a");
        let link = |t: &str| Localtime::Link(t.into());
        assert_eq!(current_zone("Etc/UTC", &link("/usr/share/zoneinfo/Etc/UTC"), "Europe/Paris"), "Etc/UTC");
        assert_eq!(current_zone("Europe/Paris", &link("/usr/share/zoneinfo/Etc/UTC"), "Europe/Paris"), "Etc/UTC");
        assert_eq!(
            current_zone("Europe/Paris", &link("../usr/share/zoneinfo/Europe/Paris"), "Europe/Paris"),
            "Europe/Paris"
        );
        assert_eq!(current_zone("Europe/Paris", &link("/opt/tz"), "Europe/Paris"), "n/a");
        assert_eq!(current_zone("Europe/Paris", &Localtime::Broken, "Europe/Paris"), "n/a");
        assert_eq!(current_zone("Europe/Paris", &Localtime::Copy(true), "Europe/Paris"), "Europe/Paris");
    }

    #[test]
    fn edit_replaces_the_first_zone_line_and_drops_the_others() {
        assert_eq!(edit("Etc/UTC\n", "Europe/Paris"), ("Europe/Paris\n".into(), 1));
        assert_eq!(edit("", "Europe/Paris"), ("Europe/Paris\n".into(), 0));
        assert_eq!(edit("  indented\nA\nB\n", "Z"), ("  indented\nZ\n".into(), 2));
    }

    #[test]
    fn debian_plan_diff_and_refusals() {
        let mut a = prepare(json!({"name": "Europe/Paris"}));
        let probe = a.probe().unwrap();
        assert!(probe.contains("[ -f /usr/share/zoneinfo/Europe/Paris ]"), "{probe}");
        let seen = "debian\nzone\nlink /usr/share/zoneinfo/Etc/UTC\n";
        let plan = a.compare(Some(&probe_out(seen, Some("Etc/UTC\n")))).unwrap();
        assert!(plan.changed);
        let diff = plan.diff.clone().unwrap().unified();
        assert!(diff.contains("-name: Etc/UTC") && diff.contains("+name: Europe/Paris"), "{diff}");
        let apply = plan.apply.unwrap();
        assert_eq!(apply.stdin, b"Europe/Paris\n");
        assert!(apply.script.contains("ln -sf /usr/share/zoneinfo/Europe/Paris /etc/localtime"), "{}", apply.script);
        assert_eq!(plan.result["msg"], "Added 1 line and deleted 1 line(s) on /etc/timezone");
        let seen = "debian\nzone\nlink /usr/share/zoneinfo/Europe/Paris\n";
        assert!(!a.compare(Some(&probe_out(seen, Some("Europe/Paris\n")))).unwrap().changed);
        let e = a.compare(Some(&probe_out("debian\n", None))).unwrap_err();
        assert_eq!(e.to_string(), "Error message:\ngiven timezone \"Europe/Paris\" is not available");
        let plan = a.compare(Some(&probe_out("timedatectl Time zone: Etc/UTC (UTC, +0000)\nzone\n", None))).unwrap();
        assert!(plan.apply.unwrap().script.contains("timedatectl set-timezone -- Europe/Paris"));
        assert!(SPEC.refused.iter().any(|(n, _)| *n == "hwclock"));
    }
}
