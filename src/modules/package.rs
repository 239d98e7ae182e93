//! `package`: the generic package module, as `ansible.builtin.package`: it
//! finds the host's package manager and acts through that manager's module
//! with the generic arguments (`name`, `state`).
//!
//! The manager is, in Ansible's order: the `use` argument, the
//! `ansible_package_use` variable, the gathered `ansible_facts.pkg_mgr`, and
//! else the host itself: the probe first says which of `apt-get`, `dnf`,
//! `yum` exists, then runs the chosen module's probe in the same round
//! trip. The dispatch lives here and nowhere else: the executor sees one
//! action. Only `apt` is a backend today; a host whose manager is another
//! fails with a message that says so.

use super::apt::{self, AptAction};
use super::{Action, ArgKind, ArgSpec, Args, Module, ModuleError, ModuleSpec, Plan, TaskContext};
use crate::transport::ExecOutput;

/// The `package` module.
pub struct Package;

static SPEC: ModuleSpec = ModuleSpec::new(&[
    ArgSpec::new("name", ArgKind::List).required(),
    ArgSpec::new("state", ArgKind::Str).required(),
    ArgSpec::new("use", ArgKind::Str),
]);

/// First line of the probe: the manager found.
const MARK: &str = "stead-pkg-mgr";

/// The package managers `package` knows, by the module that drives them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Manager {
    /// Debian's apt (`apt` module).
    Apt,
    /// dnf or yum (no stead module drives them yet).
    Rpm(&'static str),
}

/// A manager by its module name (`use`, `pkg_mgr`).
pub fn manager(name: &str) -> Result<Option<Manager>, ModuleError> {
    Ok(match name {
        "" | "auto" => None,
        "apt" => Some(Manager::Apt),
        "dnf" | "dnf5" => Some(Manager::Rpm("dnf")),
        "yum" => Some(Manager::Rpm("yum")),
        other => {
            return Err(ModuleError::failed(format!(
                "stead's package module drives apt only, not `{other}`: use that manager's own module"
            )))
        }
    })
}

impl Module for Package {
    fn name(&self) -> &'static str {
        "package"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: &Args, ctx: &dyn TaskContext) -> Result<Box<dyn Action>, ModuleError> {
        let mut chosen = manager(&args.opt_str("use")?.unwrap_or_else(|| "auto".into()))?;
        if chosen.is_none() {
            for expr in ["ansible_package_use | default('')", "(ansible_facts | default({})).pkg_mgr | default('')"] {
                let v = ctx.eval(expr)?;
                if let Some(name) = v.as_str().filter(|s| !s.is_empty() && *s != "auto") {
                    chosen = manager(name)?;
                    break;
                }
            }
        }
        let mut generic = serde_json::Map::new();
        for key in ["name", "state"] {
            if let Some(v) = args.get(key) {
                generic.insert(key.to_owned(), v.clone());
            }
        }
        let apt = AptAction::from_args(&Args::new(apt::spec(), generic), ctx.check_mode())?;
        Ok(Box::new(PackageAction { chosen, apt }))
    }
}

/// One `package` task on one host.
pub struct PackageAction {
    chosen: Option<Manager>,
    apt: AptAction,
}

fn rpm_unsupported(name: &str) -> ModuleError {
    ModuleError::failed(format!(
        "this host's package manager is {name}; stead's package module drives apt only (no {name} module yet)"
    ))
}

impl Action for PackageAction {
    fn paths(&self) -> Option<Vec<String>> {
        None
    }

    fn probe(&self) -> Option<String> {
        let inner = self.apt.probe().unwrap_or_default();
        Some(match self.chosen {
            Some(Manager::Apt) => format!("echo '{MARK} apt'\n(\n{inner})\n"),
            Some(Manager::Rpm(n)) => format!("echo '{MARK} {n}'\n"),
            None => format!(
                "if command -v apt-get >/dev/null 2>&1; then echo '{MARK} apt'; (\n{inner})\n\
                 elif command -v dnf >/dev/null 2>&1; then echo '{MARK} dnf'\n\
                 elif command -v yum >/dev/null 2>&1; then echo '{MARK} yum'\n\
                 else echo '{MARK} none'; fi\n"
            ),
        })
    }

    fn compare(&mut self, probe: Option<&ExecOutput>) -> Result<Plan, ModuleError> {
        let out = probe.ok_or_else(|| ModuleError::Probe("the package probe did not run".into()))?;
        let end = out.stdout.iter().position(|&b| b == b'\n').unwrap_or(out.stdout.len());
        let head = String::from_utf8_lossy(&out.stdout[..end]).into_owned();
        match head.strip_prefix(MARK).map(str::trim) {
            Some("apt") => {
                let rest = ExecOutput {
                    status: out.status,
                    stdout: out.stdout.get(end + 1..).unwrap_or_default().to_vec(),
                    stderr: out.stderr.clone(),
                };
                self.apt.compare(Some(&rest))
            }
            Some("dnf") => Err(rpm_unsupported("dnf")),
            Some("yum") => Err(rpm_unsupported("yum")),
            Some("none") => Err(ModuleError::failed(
                "Could not detect which package manager to use. Try gathering facts or setting the \"use\" option.",
            )),
            _ => Err(ModuleError::Probe(format!("bad package manager line {head:?}"))),
        }
    }

    fn finish(&mut self, plan: Plan, out: &ExecOutput) -> Result<Plan, ModuleError> {
        self.apt.finish(plan, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::file_write::testing::FakeCtx;
    use serde_json::json;

    fn prepare(v: serde_json::Value) -> Result<Box<dyn Action>, ModuleError> {
        Package.prepare(&Args::new(&SPEC, v.as_object().unwrap().clone()), &FakeCtx::default())
    }

    fn output(text: &str) -> ExecOutput {
        ExecOutput { status: 0, stdout: text.as_bytes().to_vec(), stderr: Vec::new() }
    }

    #[test]
    fn the_probe_picks_the_manager_and_apt_decides() {
        let mut a = prepare(json!({"name": "hello", "state": "present"})).unwrap();
        let probe = a.probe().unwrap();
        assert!(probe.contains("command -v apt-get") && probe.contains("dpkg-query"), "{probe}");
        let plan = a
            .compare(Some(&output(
                "stead-pkg-mgr apt\nstead-apt now 2\nstead-apt mtime 1\nstead-apt dpkg\nstead-apt policy\n\
                 hello:\n  Candidate: 2.10-3\n  Version table:\n     2.10-3 500\nstead-apt end\n",
            )))
            .unwrap();
        assert!(plan.changed);
        assert!(plan.apply.unwrap().script.contains("install -- hello=2.10-3"));
        let e = a.compare(Some(&output("stead-pkg-mgr dnf\n"))).err().unwrap().to_string();
        assert!(e.contains("dnf"), "{e}");
        let e = a.compare(Some(&output("stead-pkg-mgr none\n"))).err().unwrap().to_string();
        assert!(e.starts_with("Could not detect which package manager to use"), "{e}");
    }

    #[test]
    fn use_selects_the_backend_and_apt_checks_the_state() {
        let a = prepare(json!({"name": "hello", "state": "present", "use": "apt"})).unwrap();
        assert!(!a.probe().unwrap().contains("command -v dnf"));
        assert!(prepare(json!({"name": "x", "state": "present", "use": "pacman"})).is_err());
        let e = prepare(json!({"name": "x", "state": "installed"})).err().unwrap().to_string();
        assert!(e.contains("state"), "{e}");
    }
}
