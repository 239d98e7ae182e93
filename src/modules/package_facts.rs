//! `package_facts`: the installed packages as `ansible_facts.packages`, as
//! `ansible.builtin.package_facts`, read with the package tools themselves
//! (`dpkg-query`, `rpm -qa`) rather than Python libraries.
//!
//! The shape is Ansible's: package name → list of installed instances, each
//! `{name, version, arch, ..., source}`. The task never changes the host;
//! the executor merges the facts into the host's `ansible_facts`.

use serde_json::{json, Map, Value};

use super::{Action, ArgKind, ArgSpec, Args, Module, ModuleError, ModuleSpec, Plan, ResultMap, TaskContext};
use crate::transport::ExecOutput;

/// The `package_facts` module.
pub struct PackageFacts;

static SPEC: ModuleSpec = ModuleSpec::new(&[
    ArgSpec::new("manager", ArgKind::List),
    ArgSpec::new("strategy", ArgKind::Str).choices(&["first", "all"]),
]);

/// Section line of the probe.
const MARK: &str = "stead-pkgs";

/// Ansible's other managers, which stead does not read.
const OTHERS: &[&str] = &["pacman", "pkg", "pkg5", "pkgng", "pkg_info", "openbsd_pkg", "portage", "apk"];

/// The managers stead reads, by Ansible's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Manager {
    /// dpkg's database (Ansible's `apt`).
    Apt,
    /// The rpm database (`rpm`, and its aliases dnf, dnf5, yum, zypper).
    Rpm,
}

/// The requested managers, in order, deduplicated; `auto` expands to all.
pub fn managers(requested: &[String]) -> Result<Vec<Manager>, ModuleError> {
    let mut out = Vec::new();
    let mut unsupported = Vec::new();
    let push = |m: Manager, out: &mut Vec<Manager>| {
        if !out.contains(&m) {
            out.push(m);
        }
    };
    for name in requested.iter().map(|m| m.to_ascii_lowercase()) {
        match name.as_str() {
            "auto" => {
                push(Manager::Apt, &mut out);
                push(Manager::Rpm, &mut out);
            }
            "apt" => push(Manager::Apt, &mut out),
            "rpm" | "dnf" | "dnf5" | "yum" | "zypper" => push(Manager::Rpm, &mut out),
            other if OTHERS.contains(&other) => {
                return Err(ModuleError::failed(format!(
                    "stead reads packages with apt (dpkg) and rpm only, not `{other}`"
                )))
            }
            other => unsupported.push(other.to_owned()),
        }
    }
    if !unsupported.is_empty() {
        return Err(ModuleError::failed(format!("Unsupported package managers requested: {}", unsupported.join(", "))));
    }
    Ok(out)
}

impl Module for PackageFacts {
    fn name(&self) -> &'static str {
        "package_facts"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn defines(&self, _args: &Map<String, Value>) -> Vec<String> {
        vec!["packages".into(), "ansible_facts".into()]
    }

    fn prepare(&self, args: &Args, _ctx: &dyn TaskContext) -> Result<Box<dyn Action>, ModuleError> {
        let mut requested = args.str_list("manager")?;
        if requested.is_empty() {
            requested.push("auto".into());
        }
        let all = args.choice_or("strategy", &["first", "all"], "first")? == "all";
        Ok(Box::new(PackageFactsAction { managers: managers(&requested)?, all }))
    }
}

/// One `package_facts` task on one host.
#[derive(Debug)]
pub struct PackageFactsAction {
    managers: Vec<Manager>,
    all: bool,
}

/// Adds one instance under its name.
fn add(packages: &mut Map<String, Value>, entry: Value) {
    let name = entry["name"].as_str().unwrap_or_default().to_owned();
    if let Value::Array(list) = packages.entry(name).or_insert_with(|| Value::Array(Vec::new())) {
        list.push(entry);
    }
}

/// Parses the probe: the sections of the managers found, in order; with
/// `all: false` only the first.
pub fn parse(stdout: &str, all: bool) -> Result<Map<String, Value>, ModuleError> {
    let mut packages = Map::new();
    let mut found = 0;
    let mut section = "";
    let mut native = String::new();
    for line in stdout.lines() {
        if let Some(rest) = line.strip_prefix(MARK).and_then(|r| r.strip_prefix(' ')) {
            let mut words = rest.split(' ');
            section = match words.next() {
                Some("apt") => "apt",
                Some("rpm") => "rpm",
                _ => "",
            };
            if !section.is_empty() {
                found += 1;
                native = words.next().unwrap_or("").to_owned();
            }
            if found > 1 && !all {
                section = "";
            }
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        match section {
            "apt" if f.len() == 5 => {
                let [status, name, version, arch, category] = [f[0], f[1], f[2], f[3], f[4]];
                if matches!(status, "not-installed" | "config-files" | "") {
                    continue;
                }
                // apt's cache names foreign-architecture packages `name:arch`.
                let key = if arch == native || arch == "all" { name.to_owned() } else { format!("{name}:{arch}") };
                add(
                    &mut packages,
                    json!({"name": key, "version": version, "arch": arch, "category": category, "source": "apt"}),
                );
            }
            "rpm" if f.len() == 5 => {
                let epoch = f[3].parse::<i64>().ok();
                add(
                    &mut packages,
                    json!({"name": f[0], "version": f[1], "release": f[2], "epoch": epoch, "arch": f[4], "source": "rpm"}),
                );
            }
            _ => {}
        }
    }
    if found == 0 {
        return Err(ModuleError::failed(
            "Could not detect a supported package manager from the following list: apt, rpm, \
             or the required tools are not installed.",
        ));
    }
    Ok(packages)
}

impl Action for PackageFactsAction {
    fn paths(&self) -> Option<Vec<String>> {
        // The package databases: an apply that touches them sends this
        // probe again (a package task has no paths, so it always does).
        Some(vec!["/var/lib/dpkg".into(), "/var/lib/rpm".into()])
    }

    fn probe(&self) -> Option<String> {
        let mut s = String::from("LC_ALL=C\nexport LC_ALL\n");
        for m in &self.managers {
            s.push_str(match m {
                Manager::Apt => {
                    "if command -v dpkg-query >/dev/null 2>&1 && { command -v apt-get || command -v apt; } >/dev/null 2>&1; then\n  \
                     echo \"stead-pkgs apt $(dpkg --print-architecture)\"\n  \
                     dpkg-query -W -f '${db:Status-Status}\\t${Package}\\t${Version}\\t${Architecture}\\t${Section}\\n'\n\
                     fi\n"
                }
                Manager::Rpm => {
                    "if command -v rpm >/dev/null 2>&1; then\n  \
                     echo 'stead-pkgs rpm'\n  \
                     rpm -qa --qf '%{NAME}\\t%{VERSION}\\t%{RELEASE}\\t%{EPOCH}\\t%{ARCH}\\n'\n\
                     fi\n"
                }
            });
        }
        Some(s)
    }

    fn compare(&mut self, probe: Option<&ExecOutput>) -> Result<Plan, ModuleError> {
        let out = probe.ok_or_else(|| ModuleError::Probe("the package_facts probe did not run".into()))?;
        if out.status != 0 {
            return Err(ModuleError::failed(format!("Unable to list packages: {}", out.stderr_text().trim())));
        }
        let packages = parse(&out.stdout_text(), self.all)?;
        let mut result = ResultMap::new();
        result.insert("ansible_facts".into(), json!({ "packages": packages }));
        Ok(Plan { result, ..Plan::ok() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::file_write::testing::run;

    #[test]
    fn dpkg_rows_become_ansibles_shape() {
        let text = "stead-pkgs apt amd64\ninstalled\tbc\t1.07\tamd64\tmath\nconfig-files\told\t1\tamd64\tmisc\n\
                    installed\tlibc6\t2.36\ti386\tlibs\ninstalled\tlibc6\t2.36\tamd64\tlibs\ninstalled\ttzdata\t2024\tall\tlocalization\n";
        let p = parse(text, false).unwrap();
        assert_eq!(
            p["bc"],
            json!([{"name": "bc", "version": "1.07", "arch": "amd64", "category": "math", "source": "apt"}])
        );
        assert!(!p.contains_key("old"));
        assert_eq!(p["libc6:i386"][0]["arch"], "i386");
        assert_eq!(p["libc6"][0]["arch"], "amd64");
        assert_eq!(p["tzdata"][0]["arch"], "all");
    }

    #[test]
    fn strategy_first_stops_at_the_first_manager_found() {
        let text =
            "stead-pkgs apt amd64\ninstalled\tbc\t1\tamd64\tmath\nstead-pkgs rpm\nbash\t5.1\t2.el9\t(none)\tx86_64\n";
        assert!(!parse(text, false).unwrap().contains_key("bash"));
        let all = parse(text, true).unwrap();
        assert_eq!(
            all["bash"][0],
            json!({"name": "bash", "version": "5.1", "release": "2.el9", "epoch": null, "arch": "x86_64", "source": "rpm"})
        );
        assert!(parse("", false).unwrap_err().to_string().starts_with("Could not detect a supported package manager"));
    }

    #[test]
    fn managers_expand_and_refuse() {
        assert_eq!(managers(&["auto".into()]).unwrap(), [Manager::Apt, Manager::Rpm]);
        assert_eq!(managers(&["yum".into(), "rpm".into()]).unwrap(), [Manager::Rpm]);
        assert!(managers(&["pacman".into()]).unwrap_err().to_string().contains("apt (dpkg) and rpm only"));
        assert_eq!(managers(&["nope".into()]).unwrap_err().to_string(), "Unsupported package managers requested: nope");
    }

    #[test]
    fn the_probe_reads_this_machines_packages() {
        let a = PackageFactsAction { managers: vec![Manager::Apt], all: false };
        let out = run(&a.probe().unwrap(), b"");
        assert_eq!(out.status, 0, "{}", out.stderr_text());
        if out.stdout_text().starts_with(MARK) {
            let p = parse(&out.stdout_text(), false).unwrap();
            assert!(p.contains_key("dpkg"), "dpkg is installed wherever dpkg-query is");
        }
    }
}
