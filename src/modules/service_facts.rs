//! `service_facts`: the host's services as `ansible_facts.services`, as
//! Ansible's `ansible.builtin.service_facts` on Linux.
//!
//! One probe gathers what Ansible's two Linux scanners read: SysV's
//! `service --status-all` (when `service` exists and neither `chkconfig`
//! nor OpenRC does), then, where systemd runs, `systemctl list-units` and
//! `list-unit-files` (with each listed-only unit's `ActiveState`). Entries
//! keep Ansible's shape: `{name, state, status, source}`. Hosts whose
//! services only `chkconfig`, upstart or OpenRC list fail with a message
//! instead of an incomplete list. Never changes anything.

use serde_json::{Map, Value as Json};

use super::{Action, ArgSpec, Args, Module, ModuleError, ModuleSpec, Plan, TaskContext};
use crate::transport::ExecOutput;

/// The `service_facts` module.
pub struct ServiceFacts;

static SPEC: ModuleSpec = ModuleSpec::new(&[] as &[ArgSpec]);

const MARK: &str = "stead-services";

/// The probe: sections marked `MARK <kind>`.
const PROBE: &str = "LC_ALL=C\nexport LC_ALL\n\
have() { command -v \"$1\" >/dev/null 2>&1; }\n\
sysd=0\n\
if have systemctl && { [ -e /run/systemd/system ] || [ -e /dev/.run/systemd ] || [ -e /dev/.systemd ]; }; then sysd=1; fi\n\
if have service && ! have chkconfig && ! have rc-status; then\n  \
printf 'stead-services sysv\\n'\n  service --status-all </dev/null 2>/dev/null\n\
elif [ $sysd = 0 ] && { have chkconfig || have initctl || have rc-status; }; then printf 'stead-services unsupported\\n'\n\
fi\n\
if [ $sysd = 1 ]; then\n  \
printf 'stead-services units\\n'\n  systemctl list-units --no-pager --type service --all --plain 2>/dev/null\n  \
printf 'stead-services unit-files\\n'\n  systemctl list-unit-files --no-pager --type service --all 2>/dev/null\n  \
printf 'stead-services active\\n'\n  \
systemctl list-unit-files --no-pager --type service --all --no-legend 2>/dev/null | awk '{print $1}' | \
xargs -r systemctl show --property=Id,ActiveState -- 2>/dev/null\n\
fi\nprintf 'stead-services end\\n'\n";

impl Module for ServiceFacts {
    fn name(&self) -> &'static str {
        "service_facts"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn defines(&self, _args: &Map<String, Json>) -> Vec<String> {
        vec!["services".into(), "ansible_facts".into()]
    }

    fn prepare(&self, _args: &Args, _ctx: &dyn TaskContext) -> Result<Box<dyn Action>, ModuleError> {
        Ok(Box::new(ServiceFactsAction))
    }
}

/// One `service_facts` task on one host.
#[derive(Debug)]
pub struct ServiceFactsAction;

/// Systemd's unit states that Ansible reports as the status itself.
const BAD_STATES: &[&str] = &["not-found", "masked", "failed"];

fn entry(name: &str, state: &str, status: Option<&str>, source: &str) -> Json {
    let mut m = Map::new();
    m.insert("name".into(), name.into());
    m.insert("state".into(), state.into());
    if let Some(s) = status {
        m.insert("status".into(), s.into());
    }
    m.insert("source".into(), source.into());
    Json::Object(m)
}

/// Parses the probe's sections into Ansible's `services` mapping.
pub fn parse(text: &str) -> Result<Map<String, Json>, String> {
    let mut services = Map::new();
    let mut section = "";
    let mut active: Vec<(String, String)> = Vec::new();
    let mut files: Vec<(String, String)> = Vec::new();
    let mut id: Option<String> = None;
    for line in text.lines() {
        if let Some(kind) = line.strip_prefix(MARK).map(str::trim) {
            if kind == "unsupported" {
                return Err("stead's service_facts reads systemd and SysV (`service --status-all`) only; this host \
                            lists its services with chkconfig, upstart or OpenRC"
                    .into());
            }
            section = match kind {
                "sysv" => "sysv",
                "units" => "units",
                "unit-files" => "unit-files",
                "active" => "active",
                _ => "",
            };
            continue;
        }
        match section {
            "sysv" => {
                // `[ + ]  name` or `[ - ]  name`; `[ ? ]` is left out.
                let t = line.trim_start();
                let state = match t.get(..5) {
                    Some("[ + ]") => "running",
                    Some("[ - ]") => "stopped",
                    _ => continue,
                };
                let name = t[5..].trim_start();
                if t[5..].starts_with(char::is_whitespace) && !name.is_empty() {
                    services.insert(name.to_owned(), entry(name, state, None, "sysv"));
                }
            }
            "units" if line.contains(".service") => {
                let fields: Vec<&str> = line.split_whitespace().collect();
                if fields.len() < 4 {
                    continue;
                }
                let status =
                    BAD_STATES.iter().find(|b| fields[..fields.len() - 1].contains(b)).copied().unwrap_or(fields[2]);
                let state = if fields[3] == "running" { "running" } else { "stopped" };
                services.insert(fields[0].to_owned(), entry(fields[0], state, Some(status), "systemd"));
            }
            "unit-files" if line.contains(".service") => {
                let mut f = line.split_whitespace();
                match (f.next(), f.next()) {
                    (Some(n), Some(s)) => files.push((n.to_owned(), s.to_owned())),
                    _ => return Err(format!("Malformed output discovered from systemd list-unit-files: {line}")),
                }
            }
            "active" => {
                if let Some(v) = line.strip_prefix("Id=") {
                    id = Some(v.to_owned());
                } else if let (Some(v), Some(n)) = (line.strip_prefix("ActiveState="), &id) {
                    active.push((n.clone(), v.to_owned()));
                }
            }
            _ => {}
        }
    }
    for (name, status) in files {
        match services.get_mut(&name) {
            None => {
                let state = active.iter().find(|(n, _)| *n == name).map_or("unknown", |(_, s)| s.as_str());
                services.insert(name.clone(), entry(&name, state, Some(&status), "systemd"));
            }
            Some(Json::Object(m)) => {
                let bad = m.get("status").and_then(Json::as_str).is_some_and(|s| BAD_STATES.contains(&s));
                if !bad {
                    m.insert("status".into(), status.into());
                }
            }
            Some(_) => {}
        }
    }
    Ok(services)
}

impl Action for ServiceFactsAction {
    fn probe(&self) -> Option<String> {
        Some(PROBE.to_owned())
    }

    fn compare(&mut self, probe: Option<&ExecOutput>) -> Result<Plan, ModuleError> {
        let out = probe.ok_or_else(|| ModuleError::Probe("the service_facts probe did not run".into()))?;
        let services = parse(&out.stdout_text()).map_err(ModuleError::failed)?;
        let mut plan = Plan::ok();
        if services.is_empty() {
            plan.skipped = true;
            plan.msg = Some(
                "Failed to find any services. This can be due to privileges or some other configuration issue.".into(),
            );
            return Ok(plan);
        }
        let mut facts = Map::new();
        facts.insert("services".into(), Json::Object(services));
        plan.result.insert("ansible_facts".into(), Json::Object(facts));
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysv_and_systemd_listings_parse_into_ansibles_shape() {
        let text = "stead-services sysv\n [ + ]  dbus\n [ - ]  postgresql\n [ ? ]  hwclock.sh\n\
                    stead-services units\n\
                    ssh.service loaded active running OpenBSD Secure Shell server\n\
                    gone.service not-found inactive dead gone.service\n\
                    stead-services unit-files\nssh.service enabled enabled\ncron.service disabled enabled\n\
                    gone.service enabled enabled\n\
                    stead-services active\nId=cron.service\nActiveState=inactive\n\nstead-services end\n";
        let s = parse(text).unwrap();
        assert_eq!(s["dbus"], serde_json::json!({"name": "dbus", "state": "running", "source": "sysv"}));
        assert_eq!(s["postgresql"]["state"], "stopped");
        assert!(!s.contains_key("hwclock.sh"));
        assert_eq!(
            s["ssh.service"],
            serde_json::json!({"name": "ssh.service", "state": "running", "status": "enabled", "source": "systemd"})
        );
        assert_eq!(s["cron.service"]["state"], "inactive");
        assert_eq!(s["gone.service"]["status"], "not-found", "a bad state is kept");
    }

    #[test]
    fn other_init_systems_are_refused() {
        assert!(parse("stead-services unsupported\nstead-services end\n").unwrap_err().contains("chkconfig"));
    }
}
