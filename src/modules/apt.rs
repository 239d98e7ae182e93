//! `apt`: Debian packages present, absent or at their latest version, as
//! `ansible.builtin.apt`, without python-apt on the host.
//!
//! One probe reads what the decision needs with the system's own read-only
//! tools: `dpkg-query -W` for the named packages (status and version),
//! `apt-cache policy` for their candidate and available versions, the
//! cache's age (the mtime of apt's update-success stamp, else of the lists
//! directory, as Ansible), a `.deb`'s fields with `dpkg-deb -f`, and for a
//! bare `autoremove`/`autoclean` and for `upgrade` apt-get's own simulation
//! (`-s`, which runs the resolver, never dpkg). The pure
//! part ([`decide_install`], [`decide_remove`]) follows Ansible's
//! `package_status`/`install`/`remove` rule for rule; check mode stops
//! there, so it never runs the installer. A real run is one script: clean,
//! update the cache, then ONE `apt-get install` (or `remove`) for the
//! whole list, with `DEBIAN_FRONTEND=noninteractive`.
//!
//! Every package name, version, path and option reaches the host through
//! [`crate::transport::quote::quote`], after `--` where apt accepts it.

use std::collections::BTreeMap;

use super::debversion::{self, glob_match};
use super::{
    Action, ApplyScript, ArgKind, ArgSpec, Args, Diff, Module, ModuleError, ModuleSpec, Plan, ResultMap, TaskContext,
};
use crate::transport::quote::quote;
use crate::transport::ExecOutput;

/// The `apt` module.
pub struct Apt;

/// Ansible's default `dpkg_options`.
pub const DPKG_OPTIONS: &str = "force-confdef,force-confold";
/// What apt-get prints when an install changed nothing.
const APT_GET_ZERO: &str = "\n0 upgraded, 0 newly installed, 0 to remove";
/// Prefix of the probe's section lines and of the apply's marker lines.
const MARK: &str = "stead-apt";

/// Exit statuses of the apply script, one per step.
const CLEAN_FAILED: i32 = 10;
const UPDATE_FAILED: i32 = 11;
const MAIN_FAILED: i32 = 12;
const POLICY_FAILED: i32 = 13;

const STATES: &[&str] = &["absent", "build-dep", "fixed", "latest", "present"];

static SPEC: ModuleSpec = ModuleSpec::new(&[
    ArgSpec::new("name", ArgKind::List).aliases(&["pkg", "package"]),
    ArgSpec::new("state", ArgKind::Str).choices(STATES),
    ArgSpec::new("update_cache", ArgKind::Bool).aliases(&["update-cache"]),
    ArgSpec::new("update_cache_retries", ArgKind::Int),
    ArgSpec::new("update_cache_retry_max_delay", ArgKind::Int),
    ArgSpec::new("cache_valid_time", ArgKind::Int),
    ArgSpec::new("purge", ArgKind::Bool),
    ArgSpec::new("deb", ArgKind::Str),
    ArgSpec::new("default_release", ArgKind::Str).aliases(&["default-release"]),
    ArgSpec::new("install_recommends", ArgKind::Bool).aliases(&["install-recommends"]),
    ArgSpec::new("force", ArgKind::Bool),
    ArgSpec::new("dpkg_options", ArgKind::Str),
    ArgSpec::new("autoremove", ArgKind::Bool),
    ArgSpec::new("autoclean", ArgKind::Bool),
    ArgSpec::new("fail_on_autoremove", ArgKind::Bool),
    ArgSpec::new("policy_rc_d", ArgKind::Int),
    ArgSpec::new("only_upgrade", ArgKind::Bool),
    ArgSpec::new("force_apt_get", ArgKind::Bool),
    ArgSpec::new("clean", ArgKind::Bool),
    ArgSpec::new("allow_unauthenticated", ArgKind::Bool).aliases(&["allow-unauthenticated"]),
    ArgSpec::new("allow_downgrade", ArgKind::Bool).aliases(&[
        "allow-downgrade",
        "allow_downgrades",
        "allow-downgrades",
    ]),
    ArgSpec::new("allow_change_held_packages", ArgKind::Bool),
    ArgSpec::new("lock_timeout", ArgKind::Int),
    ArgSpec::new("upgrade", ArgKind::Str).choices(&["dist", "full", "no", "safe", "yes"]),
])
.one_of(&[&["autoremove", "deb", "name", "update_cache", "upgrade"]])
.exclusive(&[("deb", "name"), ("deb", "upgrade"), ("name", "upgrade")]);

impl Module for Apt {
    fn name(&self) -> &'static str {
        "apt"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: &Args, ctx: &dyn TaskContext) -> Result<Box<dyn Action>, ModuleError> {
        Ok(Box::new(AptAction::from_args(args, ctx.check_mode())?))
    }
}

/// The spec, for modules that dispatch to `apt` (`package`).
pub fn spec() -> &'static ModuleSpec {
    &SPEC
}

/// What the task wants of the named packages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Installed, any version (or the pinned one).
    Present,
    /// Installed, with `--fix-broken`.
    Fixed,
    /// Installed at the candidate version.
    Latest,
    /// Not installed (or purged).
    Absent,
}

/// One `name[:arch][=version|>=version]` of the `name` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PkgSpec {
    /// As written (trimmed).
    pub text: String,
    /// The name, with its `:arch` when given.
    pub name: String,
    /// `=` or `>=`, with the version (a glob for `=`).
    pub version: Option<(Cmp, String)>,
}

/// A version constraint's operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    /// `=`: the version matches the glob.
    Eq,
    /// `>=`: at least this version.
    Ge,
}

/// Ansible's `package_split`: the first `=` or `>=` separates the version.
pub fn split_spec(text: &str) -> Result<PkgSpec, String> {
    let text = text.trim().to_owned();
    if text.matches('=').count() > 1 {
        return Err(format!("invalid package spec: {text}"));
    }
    let (name, version) = match text.split_once('=') {
        Some((n, v)) if n.ends_with('>') => (n[..n.len() - 1].to_owned(), Some((Cmp::Ge, v.to_owned()))),
        Some((n, v)) => (n.to_owned(), Some((Cmp::Eq, v.to_owned()))),
        None => (text.clone(), None),
    };
    Ok(PkgSpec { text, name, version })
}

/// Options that shape apt-get's command line.
#[derive(Debug, Clone, Default)]
pub struct Options {
    purge: bool,
    force: bool,
    autoremove: bool,
    fail_on_autoremove: bool,
    install_recommends: Option<bool>,
    allow_unauthenticated: bool,
    allow_downgrade: bool,
    allow_change_held_packages: bool,
    only_upgrade: bool,
    dpkg_options: String,
    default_release: Option<String>,
    lock_timeout: i64,
    policy_rc_d: Option<i64>,
}

/// `update_cache` / `cache_valid_time`, with the retry policy.
#[derive(Debug, Clone, Copy)]
struct Update {
    valid_time: i64,
    retries: i64,
    max_delay: i64,
}

/// One dpkg row of a probed package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpkgRow {
    /// Name without architecture.
    pub name: String,
    /// Architecture (`amd64`, `all`).
    pub arch: String,
    /// dpkg's status word (`installed`, `config-files`, `not-installed`, ...).
    pub status: String,
    /// Version (empty when never installed).
    pub version: String,
}

/// What `apt-cache policy` says of a package.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// The candidate version (`None`: `(none)`, a virtual package).
    pub candidate: Option<String>,
    /// Every version in the version table, as listed (highest first).
    pub versions: Vec<String>,
}

/// The probe's findings.
#[derive(Debug, Clone, Default)]
pub struct Probed {
    /// The host's clock (seconds).
    pub now: i64,
    /// The apt cache's mtime (seconds, 0 when there is none).
    pub cache_mtime: i64,
    /// dpkg's native architecture (apt-cache names native packages bare).
    pub native_arch: String,
    /// dpkg's rows for the named packages.
    pub dpkg: Vec<DpkgRow>,
    /// Policies by name as asked (a name apt does not know has none).
    pub policy: BTreeMap<String, Policy>,
    /// The `.deb` files' fields: (path, package, version, architecture), or why it could not be read.
    pub debs: Vec<Result<(String, String, String), String>>,
    /// Lines of the `apt-get -s` simulation (autoremove, autoclean, upgrade).
    pub simulated: Vec<String>,
}

/// Ansible's `package_status` for one spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// Installed (any version).
    pub installed: bool,
    /// The installed version, when installed.
    pub installed_version: Option<String>,
    /// Installed and matching the version constraint.
    pub version_ok: bool,
    /// The version apt would install to satisfy the spec, if one differs
    /// from the installed one. `Some("")`: a virtual package, apt decides.
    pub installable: Option<String>,
    /// dpkg still has files of it (installed, or configuration left).
    pub has_files: bool,
}

fn bare_name(name: &str) -> (&str, Option<&str>) {
    match name.split_once(':') {
        Some((n, a)) => (n, Some(a)),
        None => (name, None),
    }
}

/// Ansible's `package_status`: `Err` when apt knows no such package and
/// the task installs (Ansible's message).
pub fn status(spec: &PkgSpec, probed: &Probed, installing: bool) -> Result<Status, String> {
    let (name, arch) = bare_name(&spec.name);
    let rows: Vec<&DpkgRow> =
        probed.dpkg.iter().filter(|r| r.name == name && arch.is_none_or(|a| a == r.arch)).collect();
    let installed_row = rows.iter().find(|r| r.status == "installed");
    let has_files = rows.iter().any(|r| !matches!(r.status.as_str(), "not-installed" | ""));
    // apt-cache names a package of the native architecture without it.
    let policy = probed.policy.get(&spec.name).or_else(|| match arch {
        Some(a) if a == probed.native_arch => probed.policy.get(name),
        _ => None,
    });
    let Some(policy) = policy else {
        if installing {
            return Err(format!("No package matching '{}' is available", spec.name));
        }
        let installed_version = installed_row.map(|r| r.version.clone());
        // apt does not know it (no list has it), but dpkg may: remove it.
        let version_ok = installed_version.as_deref().is_some_and(|v| version_matches(spec, v));
        return Ok(Status {
            installed: installed_row.is_some(),
            installed_version,
            version_ok,
            installable: None,
            has_files,
        });
    };
    if policy.candidate.is_none() && policy.versions.is_empty() && installed_row.is_none() {
        // A virtual package: apt chooses what provides it.
        return Ok(Status {
            installed: false,
            installed_version: None,
            version_ok: false,
            installable: Some(String::new()),
            has_files,
        });
    }
    let best = match &spec.version {
        Some((Cmp::Eq, glob)) => policy.versions.iter().find(|v| glob_match(glob, v)).cloned(),
        _ => policy.candidate.clone(),
    };
    let Some(row) = installed_row else {
        return Ok(Status {
            installed: false,
            installed_version: None,
            version_ok: false,
            installable: best,
            has_files,
        });
    };
    let current = row.version.clone();
    let version_ok = version_matches(spec, &current);
    let installable = best.filter(|b| *b != current).filter(|b| match &spec.version {
        Some((Cmp::Eq, glob)) => glob_match(glob, b),
        Some((Cmp::Ge, min)) => debversion::compare(b, min).is_ge(),
        None => true,
    });
    Ok(Status { installed: true, installed_version: Some(current), version_ok, installable, has_files: true })
}

fn version_matches(spec: &PkgSpec, installed: &str) -> bool {
    match &spec.version {
        Some((Cmp::Eq, glob)) => glob_match(glob, installed),
        Some((Cmp::Ge, min)) => debversion::compare(installed, min).is_ge(),
        None => true,
    }
}

/// One package the task installs, upgrades or removes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The operand given to apt-get (`hello=2.10-3`).
    pub operand: String,
    /// The package's name.
    pub name: String,
    /// Its state before (`absent`, a version, `config-files`).
    pub before: String,
    /// Its state after (a version, `absent`, `purged`).
    pub after: String,
}

/// Ansible's `install`: the operands of the one `apt-get install`, or its
/// failure message. `upgrade` is `state: latest`.
pub fn decide_install(
    specs: &[PkgSpec],
    probed: &Probed,
    upgrade: bool,
    only_upgrade: bool,
) -> Result<Vec<Change>, String> {
    let mut out = Vec::new();
    for spec in specs {
        let st = status(spec, probed, true)?;
        if !st.installed && only_upgrade {
            continue;
        }
        if !st.version_ok && st.installable.is_none() {
            return Err(format!("no available installation candidate for {}", spec.text));
        }
        let before = st.installed_version.clone().unwrap_or_else(|| "absent".into());
        let needed = (!st.installed && !only_upgrade) || upgrade || !st.version_ok;
        match (&st.installable, needed) {
            (Some(v), true) => {
                let (operand, after) = match (v.as_str(), &spec.version) {
                    ("", Some(_)) => (spec.text.clone(), spec.text.clone()),
                    ("", None) => (spec.name.clone(), "installed".to_owned()),
                    (v, _) => (format!("{}={v}", spec.name), v.to_owned()),
                };
                out.push(Change { operand, name: spec.name.clone(), before, after });
            }
            // Ansible's legacy case: a glob matching both the installed and
            // a newer version installs the pin as written.
            (Some(_), false) if st.version_ok && matches!(spec.version, Some((Cmp::Eq, _))) => {
                let after = spec.version.as_ref().map(|(_, v)| v.clone()).unwrap_or_default();
                out.push(Change { operand: spec.text.clone(), name: spec.name.clone(), before, after });
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Ansible's `remove`: the packages to remove (or purge).
pub fn decide_remove(specs: &[PkgSpec], probed: &Probed, purge: bool) -> Vec<Change> {
    let mut out = Vec::new();
    for spec in specs {
        let Ok(st) = status(spec, probed, false) else { continue };
        if st.version_ok || (st.has_files && purge) {
            let before = st.installed_version.clone().unwrap_or_else(|| "config-files".into());
            let after = if purge { "purged" } else { "absent" }.to_owned();
            out.push(Change { operand: spec.text.clone(), name: spec.name.clone(), before, after });
        }
    }
    out
}

/// Parses the probe's output.
pub fn parse_probe(stdout: &str) -> Result<Probed, ModuleError> {
    let mut p = Probed::default();
    let mut section = "";
    let mut current: Option<String> = None;
    let mut in_table = false;
    for line in stdout.lines() {
        if let Some(rest) = line.strip_prefix(MARK).and_then(|r| r.strip_prefix(' ')) {
            let mut words = rest.split(' ');
            let head = words.next().unwrap_or("");
            match head {
                "missing" => {
                    return Err(ModuleError::failed("Failed to find required executable \"apt-get\" in paths"))
                }
                "now" => p.now = words.next().and_then(|n| n.parse().ok()).unwrap_or(0),
                "mtime" => p.cache_mtime = words.next().and_then(|n| n.parse().ok()).unwrap_or(0),
                "arch" => p.native_arch = words.next().unwrap_or("").to_owned(),
                "deb-error" => p.debs.push(Err(words.collect::<Vec<_>>().join(" "))),
                _ => {}
            }
            section = match head {
                "dpkg" => "dpkg",
                "policy" => "policy",
                "deb" => "deb",
                "simulate" => "simulate",
                _ => "",
            };
            continue;
        }
        match section {
            "dpkg" => {
                let f: Vec<&str> = line.split('\t').collect();
                if f.len() == 4 {
                    p.dpkg.push(DpkgRow {
                        name: f[0].into(),
                        arch: f[1].into(),
                        status: f[2].into(),
                        version: f[3].into(),
                    });
                }
            }
            "policy" => {
                if !line.starts_with(' ') && line.ends_with(':') {
                    let name = line.trim_end_matches(':').to_owned();
                    p.policy.insert(name.clone(), Policy::default());
                    current = Some(name);
                    in_table = false;
                    continue;
                }
                let Some(pol) = current.as_ref().and_then(|n| p.policy.get_mut(n)) else { continue };
                let t = line.trim();
                if let Some(c) = t.strip_prefix("Candidate:") {
                    let c = c.trim();
                    pol.candidate = (c != "(none)").then(|| c.to_owned());
                } else if t.starts_with("Version table:") {
                    in_table = true;
                } else if in_table && (line.starts_with("     ") || line.starts_with(" *** ")) && line.len() > 5 {
                    // Version lines are indented 5 (or ` *** `); their
                    // sources are indented 8.
                    if !line[5..].starts_with(' ') {
                        if let Some(v) = line[5..].split_whitespace().next() {
                            pol.versions.push(v.to_owned());
                        }
                    }
                }
            }
            "deb" => {
                let f: Vec<&str> = line.split('\t').collect();
                if f.len() == 4 {
                    p.debs.push(Ok((f[1].into(), f[2].into(), f[3].into())));
                    // The installed state of the deb's package, too.
                }
            }
            "simulate" => p.simulated.push(line.to_owned()),
            _ => {}
        }
    }
    Ok(p)
}

/// What the task does besides packages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cleanup {
    Autoremove,
    Autoclean,
}

/// One `apt` task on one host.
#[derive(Debug)]
pub struct AptAction {
    specs: Vec<PkgSpec>,
    state: State,
    opts: Options,
    update: Option<Update>,
    clean: bool,
    cleanup: Option<Cleanup>,
    /// `upgrade`: apt-get's command for it (`dist-upgrade`, `upgrade --with-new-pkgs`).
    upgrade: Option<&'static str>,
    debs: Vec<String>,
    check_mode: bool,
    // Decided by compare, read by finish.
    mtime_before: i64,
    update_runs: bool,
    changed_by_output: Option<&'static str>,
    operation: &'static str,
}

impl AptAction {
    /// Builds the action from `apt`'s arguments (also used by `package`).
    pub fn from_args(args: &Args, check_mode: bool) -> Result<Self, ModuleError> {
        let state = match args.choice_or("state", STATES, "present")?.as_str() {
            "absent" => State::Absent,
            "latest" => State::Latest,
            "fixed" => State::Fixed,
            "build-dep" => {
                return Err(ModuleError::failed(
                    "stead does not support state=build-dep: whether build dependencies are missing \
                     cannot be read from dpkg's database; install them by name",
                ))
            }
            _ => State::Present,
        };
        let mut specs = Vec::new();
        for text in args.str_list("name")? {
            if text.trim() == "*" {
                return Err(ModuleError::failed(
                    "stead does not expand `name: '*'`: use `upgrade: yes` to upgrade every package",
                ));
            }
            let spec = split_spec(&text).map_err(ModuleError::failed)?;
            if spec.name.contains(['*', '?', '[', ']', '!']) {
                return Err(ModuleError::failed(format!(
                    "stead does not expand package name patterns (`{}`): name the packages",
                    spec.name
                )));
            }
            if spec.name.is_empty() || spec.name.starts_with('-') {
                return Err(ModuleError::failed(format!("invalid package name `{}`", spec.name)));
            }
            specs.push(spec);
        }
        let debs =
            match args.opt_str("deb")? {
                None => Vec::new(),
                Some(d) if d.contains("://") => return Err(ModuleError::failed(
                    "stead does not download `deb` URLs: fetch the file to the host first (get_url) and give its path",
                )),
                Some(d) => d.split(',').map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()).collect(),
            };
        if !debs.is_empty() && state != State::Present {
            return Err(ModuleError::failed("deb only supports state=present"));
        }
        let valid_time = args.opt_int("cache_valid_time")?.unwrap_or(0);
        let update = (args.bool_or("update_cache", false)? || valid_time != 0).then_some(Update {
            valid_time,
            retries: args.opt_int("update_cache_retries")?.unwrap_or(5).max(1),
            max_delay: args.opt_int("update_cache_retry_max_delay")?.unwrap_or(12).max(0),
        });
        let dpkg_options = args.opt_str("dpkg_options")?.unwrap_or_else(|| DPKG_OPTIONS.into());
        // Ansible's `upgrade` modes, always with apt-get (see docs).
        let upgrade = match args.choice_or("upgrade", &["dist", "full", "no", "safe", "yes"], "no")?.as_str() {
            "dist" | "full" => Some("dist-upgrade"),
            "safe" | "yes" => Some("upgrade --with-new-pkgs"),
            _ => None,
        };
        let cleanup = if specs.is_empty() && debs.is_empty() && upgrade.is_none() {
            if args.bool_or("autoclean", false)? {
                Some(Cleanup::Autoclean)
            } else if args.bool_or("autoremove", false)? {
                Some(Cleanup::Autoremove)
            } else {
                None
            }
        } else {
            None
        };
        Ok(AptAction {
            specs,
            state,
            opts: Options {
                purge: args.bool_or("purge", false)?,
                force: args.bool_or("force", false)?,
                autoremove: args.bool_or("autoremove", false)?,
                fail_on_autoremove: args.bool_or("fail_on_autoremove", false)?,
                install_recommends: args
                    .get("install_recommends")
                    .map(|_| args.bool_or("install_recommends", false))
                    .transpose()?,
                allow_unauthenticated: args.bool_or("allow_unauthenticated", false)?,
                allow_downgrade: args.bool_or("allow_downgrade", false)?,
                allow_change_held_packages: args.bool_or("allow_change_held_packages", false)?,
                only_upgrade: args.bool_or("only_upgrade", false)?,
                dpkg_options,
                default_release: args.opt_str("default_release")?.filter(|r| !r.is_empty()),
                lock_timeout: args.opt_int("lock_timeout")?.unwrap_or(60),
                policy_rc_d: args.opt_int("policy_rc_d")?,
            },
            update,
            clean: args.bool_or("clean", false)?,
            cleanup,
            upgrade,
            debs,
            check_mode,
            mtime_before: 0,
            update_runs: false,
            changed_by_output: None,
            operation: "install",
        })
    }

    /// `-o Dpkg::Options::=--x` for each of `dpkg_options`, quoted.
    fn dpkg_flags(&self) -> String {
        self.opts
            .dpkg_options
            .split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(|o| format!(" -o {}", quote(&format!("Dpkg::Options::=--{o}"))))
            .collect()
    }

    fn lock_flag(&self) -> String {
        format!(" -o {}", quote(&format!("DPkg::Lock::Timeout={}", self.opts.lock_timeout.max(0))))
    }

    /// The one `apt-get install` for `operands`.
    fn install_command(&self, operands: &[String]) -> String {
        let o = &self.opts;
        let mut cmd = format!("apt-get -y -q{}", self.dpkg_flags());
        push_flags(
            &mut cmd,
            &[
                (o.only_upgrade, "--only-upgrade"),
                (self.state == State::Fixed, "--fix-broken"),
                (o.force, "--force-yes"),
                (o.autoremove, "--auto-remove"),
                (o.fail_on_autoremove, "--no-remove"),
                (o.allow_unauthenticated, "--allow-unauthenticated"),
                (o.allow_downgrade, "--allow-downgrades"),
                (o.allow_change_held_packages, "--allow-change-held-packages"),
            ],
        );
        if let Some(r) = &o.default_release {
            cmd.push_str(&format!(" -t {}", quote(r)));
        }
        match o.install_recommends {
            Some(true) => cmd.push_str(" -o APT::Install-Recommends=yes"),
            Some(false) => cmd.push_str(" -o APT::Install-Recommends=no"),
            None => {}
        }
        cmd.push_str(&self.lock_flag());
        cmd.push_str(" install --");
        for op in operands {
            cmd.push(' ');
            cmd.push_str(&quote(op));
        }
        cmd
    }

    fn remove_command(&self, operands: &[String]) -> String {
        let o = &self.opts;
        let mut cmd = format!("apt-get -q -y{}", self.dpkg_flags());
        push_flags(
            &mut cmd,
            &[
                (o.purge, "--purge"),
                (o.force, "--force-yes"),
                (o.autoremove, "--auto-remove"),
                (o.allow_change_held_packages, "--allow-change-held-packages"),
            ],
        );
        cmd.push_str(&self.lock_flag());
        cmd.push_str(" remove --");
        for op in operands {
            cmd.push(' ');
            cmd.push_str(&quote(op));
        }
        cmd
    }

    /// Ansible's `upgrade` with apt-get; `simulate` for the probe.
    fn upgrade_command(&self, what: &str, simulate: bool) -> String {
        let o = &self.opts;
        let mut cmd = if simulate {
            "apt-get -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= -s -q -y".to_owned()
        } else {
            format!("apt-get -y{}", self.dpkg_flags())
        };
        push_flags(
            &mut cmd,
            &[
                (o.force, "--force-yes"),
                (o.fail_on_autoremove, "--no-remove"),
                (o.allow_unauthenticated, "--allow-unauthenticated"),
                (o.allow_downgrade, "--allow-downgrades"),
            ],
        );
        if !simulate {
            cmd.push_str(&self.lock_flag());
        }
        cmd.push(' ');
        cmd.push_str(what);
        if o.autoremove {
            cmd.push_str(" --auto-remove");
        }
        if let Some(r) = &o.default_release {
            cmd.push_str(&format!(" -t {}", quote(r)));
        }
        cmd
    }

    fn cleanup_command(&self, op: Cleanup) -> String {
        let o = &self.opts;
        let mut cmd = format!("apt-get -y{}", self.dpkg_flags());
        if o.purge {
            cmd.push_str(" --purge");
        }
        if o.force {
            cmd.push_str(" --force-yes");
        }
        cmd.push_str(&self.lock_flag());
        cmd.push_str(match op {
            Cleanup::Autoremove => " autoremove",
            Cleanup::Autoclean => " autoclean",
        });
        cmd
    }

    /// The names asked of dpkg and apt-cache.
    fn query_names(&self) -> Vec<String> {
        self.specs.iter().map(|s| s.name.clone()).collect()
    }

    /// The apply script: policy-rc.d, clean, update, then `main`.
    fn apply_script(&self, main: Option<String>) -> ApplyScript {
        let mut s = String::from(
            "DEBIAN_FRONTEND=noninteractive DEBIAN_PRIORITY=critical LC_ALL=C LANG=C LANGUAGE=C\n\
             export DEBIAN_FRONTEND DEBIAN_PRIORITY LC_ALL LANG LANGUAGE\n",
        );
        s.push_str(&format!("stead_apt_mtime() {{\n{}}}\n", mtime_script("  ")));
        s.push_str("steps() {\n");
        if self.clean {
            s.push_str(&format!("  apt-get clean || return {CLEAN_FAILED}\n"));
        }
        if self.update_runs {
            let u = self.update.expect("update_runs implies update");
            s.push_str(&format!(
                "  n=0 delay=1\n  \
                 until apt-get update -q{lock}; do\n    \
                 n=$((n + 1)); [ \"$n\" -ge {retries} ] && return {UPDATE_FAILED}\n    \
                 [ \"$delay\" -gt {max} ] && delay={max}\n    \
                 sleep \"$delay\"; delay=$((delay * 2))\n  \
                 done\n  \
                 echo \"{MARK} mtime $(stead_apt_mtime)\"\n",
                lock = self.lock_flag(),
                retries = u.retries,
                max = u.max_delay,
            ));
        }
        if let Some(main) = main {
            s.push_str(&format!(
                "  {main} && rc=0 || rc=$?\n  echo \"{MARK} rc $rc\"\n  [ \"$rc\" -eq 0 ] || return {MAIN_FAILED}\n"
            ));
        }
        s.push_str("  return 0\n}\n");
        match self.opts.policy_rc_d {
            None => s.push_str("steps\n"),
            Some(code) => s.push_str(&format!(
                "prc=/usr/sbin/policy-rc.d bk=\n\
                 if [ -e \"$prc\" ]; then bk=$(mktemp -d) && mv \"$prc\" \"$bk/\" || exit {POLICY_FAILED}; fi\n\
                 printf '#!/bin/sh\\nexit %d\\n' {code} >\"$prc\" && chmod 0755 \"$prc\" || exit {POLICY_FAILED}\n\
                 steps && st=0 || st=$?\n\
                 if [ -n \"$bk\" ]; then mv \"$bk/policy-rc.d\" \"$prc\" && rmdir \"$bk\" || exit {POLICY_FAILED}\n\
                 else rm -f \"$prc\" || exit {POLICY_FAILED}; fi\n\
                 exit \"$st\"\n"
            )),
        }
        ApplyScript { script: s, stdin: Vec::new() }
    }
}

/// Prints the apt cache's mtime as Ansible's `get_cache_mtime` reads it.
fn mtime_script(indent: &str) -> String {
    format!(
        "{indent}if [ -e /var/lib/apt/periodic/update-success-stamp ]; then stat -c %Y /var/lib/apt/periodic/update-success-stamp\n\
         {indent}elif [ -e /var/lib/apt/lists ]; then stat -c %Y /var/lib/apt/lists\n\
         {indent}else echo 0; fi\n"
    )
}

/// The packages an `apt-get -s` run would change, from its `Inst` and
/// `Remv` lines (`Inst name [old] (new release [arch])`, `Remv name [old]`).
pub fn simulated_changes(lines: &[String]) -> Vec<Change> {
    let mut out = Vec::new();
    for line in lines {
        let (remove, rest) = match (line.strip_prefix("Inst "), line.strip_prefix("Remv ")) {
            (Some(r), _) => (false, r),
            (_, Some(r)) => (true, r),
            _ => continue,
        };
        let mut words = rest.split_whitespace();
        let Some(name) = words.next() else { continue };
        let rest: Vec<&str> = words.collect();
        let old = rest.first().filter(|w| w.starts_with('[')).map(|w| w.trim_matches(['[', ']']).to_owned());
        let new = rest.iter().find(|w| w.starts_with('(')).map(|w| w.trim_start_matches('(').to_owned());
        let before = old.unwrap_or_else(|| "absent".into());
        let after = if remove { "absent".to_owned() } else { new.unwrap_or_else(|| "installed".into()) };
        out.push(Change { operand: String::new(), name: name.to_owned(), before, after });
    }
    out
}

/// The diff of the packages a task changes.
fn changes_diff(changes: &[Change]) -> Option<Diff> {
    if changes.is_empty() {
        return None;
    }
    let before: Vec<(&str, String)> = changes.iter().map(|c| (c.name.as_str(), c.before.clone())).collect();
    let after: Vec<(&str, String)> = changes.iter().map(|c| (c.name.as_str(), c.after.clone())).collect();
    Some(Diff::state("packages", &before, &after))
}

/// The apply's stdout without stead's marker lines, and the markers.
fn split_markers(stdout: &str) -> (String, BTreeMap<String, String>) {
    let mut text = String::new();
    let mut marks = BTreeMap::new();
    for line in stdout.split_inclusive('\n') {
        match line.trim_end().strip_prefix(MARK).and_then(|r| r.strip_prefix(' ')) {
            Some(rest) => {
                let (k, v) = rest.split_once(' ').unwrap_or((rest, ""));
                marks.insert(k.to_owned(), v.to_owned());
            }
            None => text.push_str(line),
        }
    }
    (text, marks)
}

impl Action for AptAction {
    fn paths(&self) -> Option<Vec<String>> {
        // Packages write anywhere.
        None
    }

    fn probe(&self) -> Option<String> {
        let mut s = format!(
            "LC_ALL=C LANG=C LANGUAGE=C\nexport LC_ALL LANG LANGUAGE\n\
             if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-query >/dev/null 2>&1; then\n  \
             echo '{MARK} missing'; exit 0\nfi\n\
             echo \"{MARK} now $(date +%s)\"\n\
             echo \"{MARK} arch $(dpkg --print-architecture)\"\n\
             echo \"{MARK} mtime $(\n{})\"\n",
            mtime_script("  ")
        );
        let names = self.query_names();
        let operands: String = names.iter().map(|n| format!(" {}", quote(n))).collect();
        s.push_str(&format!("echo '{MARK} dpkg'\n"));
        if !names.is_empty() {
            s.push_str(&format!(
                "dpkg-query -W -f '${{Package}}\\t${{Architecture}}\\t${{db:Status-Status}}\\t${{Version}}\\n' --{operands} 2>/dev/null\n"
            ));
        }
        for deb in &self.debs {
            let q = quote(deb);
            s.push_str(&format!(
                "echo '{MARK} deb'\n\
                 if f=$(dpkg-deb -f -- {q} Package Version Architecture 2>&1); then\n  \
                 p=$(printf '%s\\n' \"$f\" | sed -n 's/^Package: //p')\n  \
                 v=$(printf '%s\\n' \"$f\" | sed -n 's/^Version: //p')\n  \
                 a=$(printf '%s\\n' \"$f\" | sed -n 's/^Architecture: //p')\n  \
                 printf 'deb\\t%s\\t%s\\t%s\\n' \"$p\" \"$v\" \"$a\"\n  \
                 echo '{MARK} dpkg'\n  \
                 dpkg-query -W -f '${{Package}}\\t${{Architecture}}\\t${{db:Status-Status}}\\t${{Version}}\\n' -- \"$p\" 2>/dev/null\n\
                 else echo \"{MARK} deb-error $(printf '%s' \"$f\" | tr '\\n' ' ')\"; fi\n"
            ));
        }
        s.push_str(&format!("echo '{MARK} policy'\n"));
        if !names.is_empty() {
            let release = self.opts.default_release.as_ref().map(|r| format!(" -t {}", quote(r))).unwrap_or_default();
            // An empty cache file name: apt-cache builds its cache in memory
            // and never writes /var/cache/apt, so the probe changes nothing.
            s.push_str(&format!(
                "apt-cache -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache={release} policy --{operands} 2>/dev/null\n"
            ));
        }
        if let Some(what) = self.upgrade {
            s.push_str(&format!("echo '{MARK} simulate'\n{} 2>&1\n", self.upgrade_command(what, true)));
        }
        if let Some(op) = self.cleanup {
            s.push_str(&format!(
                "echo '{MARK} simulate'\napt-get -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= -s -q {} 2>&1\n",
                if op == Cleanup::Autoremove { "autoremove" } else { "autoclean" }
            ));
        }
        s.push_str(&format!("echo '{MARK} end'\n"));
        Some(s)
    }

    fn compare(&mut self, probe: Option<&ExecOutput>) -> Result<Plan, ModuleError> {
        let mut plan = self.decide(probe)?;
        // `clean` runs even when nothing else does (not a change then, as
        // in Ansible).
        if self.clean && plan.apply.is_none() {
            plan.apply = Some(self.apply_script(None));
        }
        Ok(plan)
    }

    fn finish(&mut self, mut plan: Plan, out: &ExecOutput) -> Result<Plan, ModuleError> {
        let (stdout, marks) = split_markers(&out.stdout_text());
        let stderr = out.stderr_text();
        let mut result = plan.result.clone();
        if let Some(m) = marks.get("mtime").and_then(|m| m.parse::<i64>().ok()) {
            if result.contains_key("cache_updated") {
                result.insert("cache_updated".into(), (m != self.mtime_before).into());
                result.insert("cache_update_time".into(), m.into());
            }
            if self.operation == "update" {
                plan.changed = m != self.mtime_before;
            }
        }
        let rc: i64 = marks.get("rc").and_then(|r| r.parse().ok()).unwrap_or(i64::from(out.status));
        if out.status != 0 {
            result.insert("stdout".into(), stdout.clone().into());
            result.insert("stderr".into(), stderr.clone().into());
            result.insert("rc".into(), rc.into());
            let msg = match out.status {
                CLEAN_FAILED => "apt-get clean failed".to_owned(),
                UPDATE_FAILED => format!(
                    "Failed to update apt cache after {} retries: {}",
                    self.update.map_or(1, |u| u.retries),
                    stderr.trim()
                ),
                POLICY_FAILED => "Failed to create or restore /usr/sbin/policy-rc.d".to_owned(),
                _ if self.operation == "remove" => {
                    let names: Vec<String> = self.specs.iter().map(|s| format!("'{}'", s.text)).collect();
                    format!("'apt-get remove {}' failed: {}", names.join(" "), stderr.trim())
                }
                _ => format!("'apt-get {}' failed: {}", self.upgrade.unwrap_or(self.operation), stderr.trim()),
            };
            return Err(ModuleError::Failed { msg, result });
        }
        if let Some(needle) = self.changed_by_output {
            plan.changed = if needle.is_empty() { !stdout.contains(APT_GET_ZERO) } else { stdout.contains(needle) };
        }
        if marks.contains_key("rc") || self.operation == "clean" {
            result.insert("stdout".into(), stdout.clone().into());
            result.insert("stderr".into(), stderr.into());
        }
        if self.operation == "clean" || self.operation == "upgrade" {
            result.insert("msg".into(), stdout.into());
        }
        plan.result = result;
        Ok(plan)
    }
}

impl AptAction {
    fn decide(&mut self, probe: Option<&ExecOutput>) -> Result<Plan, ModuleError> {
        let out = probe.ok_or_else(|| ModuleError::Probe("the apt probe did not run".into()))?;
        if out.status != 0 {
            return Err(ModuleError::failed(format!("cannot read the package state: {}", out.stderr_text().trim())));
        }
        let probed = parse_probe(&out.stdout_text())?;
        self.mtime_before = probed.cache_mtime;
        let update_due = self.update.is_some_and(|u| probed.cache_mtime + u.valid_time < probed.now);
        self.update_runs = update_due;
        let mut result = ResultMap::new();
        let cache_keys = |result: &mut ResultMap, updated: bool| {
            result.insert("cache_updated".into(), updated.into());
            result.insert("cache_update_time".into(), probed.cache_mtime.into());
        };

        // `clean` alone: always a change, as in Ansible.
        if self.clean && self.specs.is_empty() && self.debs.is_empty() && self.upgrade.is_none() {
            self.operation = "clean";
            self.update_runs = false;
            let mut plan = Plan::change(self.apply_script(None));
            plan.result = result;
            return Ok(plan);
        }
        // Only the cache: changed when it is (or would be) updated.
        if self.specs.is_empty() && self.debs.is_empty() && self.cleanup.is_none() && self.upgrade.is_none() {
            self.operation = "update";
            cache_keys(&mut result, update_due);
            let mut plan = if update_due { Plan::change(self.apply_script(None)) } else { Plan::ok() };
            plan.diff = update_due.then(|| {
                Diff::state(
                    "apt cache",
                    &[("updated", probed.cache_mtime.to_string())],
                    &[("updated", "now".to_owned())],
                )
            });
            plan.result = result;
            return Ok(plan);
        }
        if let Some(what) = self.upgrade {
            self.operation = "upgrade";
            let changes = simulated_changes(&probed.simulated);
            if changes.is_empty() && !update_due {
                return Ok(Plan::ok());
            }
            // After a cache update the simulation is stale: apt-get's own
            // output decides.
            self.changed_by_output = Some("");
            let mut plan = Plan::change(self.apply_script(Some(self.upgrade_command(what, false))));
            plan.changed = !changes.is_empty();
            plan.diff = changes_diff(&changes);
            return Ok(plan);
        }
        if let Some(op) = self.cleanup {
            let (word, marker) = match op {
                Cleanup::Autoremove => ("autoremove", "Remv "),
                Cleanup::Autoclean => ("autoclean", "Del "),
            };
            self.operation = word;
            let lines: Vec<String> = probed.simulated.iter().filter(|l| l.starts_with(marker)).cloned().collect();
            if lines.is_empty() && !update_due {
                return Ok(Plan { result, ..Plan::ok() });
            }
            self.changed_by_output =
                Some(if op == Cleanup::Autoremove { "The following packages will be REMOVED" } else { "Del " });
            let mut plan = Plan::change(self.apply_script(Some(self.cleanup_command(op))));
            plan.changed = !lines.is_empty();
            plan.diff = (!lines.is_empty()).then(|| Diff {
                before_header: format!("before: apt-get {word}"),
                after_header: format!("after: apt-get {word}"),
                before: lines.iter().map(|l| format!("{l}\n")).collect(),
                after: String::new(),
            });
            plan.result = result;
            return Ok(plan);
        }
        if !self.debs.is_empty() {
            return self.compare_debs(&probed, update_due);
        }

        if self.state == State::Absent {
            self.operation = "remove";
            let changes = decide_remove(&self.specs, &probed, self.opts.purge);
            if changes.is_empty() {
                let apply = update_due.then(|| self.apply_script(None));
                return Ok(Plan { apply, ..Plan::ok() });
            }
            let operands: Vec<String> = changes.iter().map(|c| c.operand.clone()).collect();
            let mut plan = Plan::change(self.apply_script(Some(self.remove_command(&operands))));
            plan.diff = changes_diff(&changes);
            return Ok(plan);
        }

        self.operation = "install";
        let upgrade = self.state == State::Latest;
        // After a cache update the lists may know more than the probe saw:
        // a name apt did not know yet, or a newer candidate.
        let after_update = update_due && !self.check_mode;
        let changes = match decide_install(&self.specs, &probed, upgrade, self.opts.only_upgrade) {
            Ok(c) => c,
            Err(_) if after_update => Vec::new(),
            Err(msg) => {
                cache_keys(&mut result, update_due);
                return Err(ModuleError::Failed { msg, result });
            }
        };
        let mut operands: Vec<String> = changes.iter().map(|c| c.operand.clone()).collect();
        if after_update {
            // Ask apt-get for every spec it might still have to act on;
            // its output says whether it did.
            for spec in &self.specs {
                let decided = changes.iter().any(|c| c.name == spec.name);
                let known = status(spec, &probed, true).ok();
                let settled = known.as_ref().is_some_and(|s| s.installed && s.version_ok && !upgrade);
                let skipped = self.opts.only_upgrade && known.as_ref().is_some_and(|s| !s.installed);
                if !(decided || settled || skipped) {
                    operands.push(spec.text.clone());
                }
            }
            if operands.len() > changes.len() {
                self.changed_by_output = Some("");
            }
        }
        // Virtual packages: apt-get decides, its output tells.
        if changes.iter().any(|c| c.after == "installed") {
            self.changed_by_output = Some("");
        }
        cache_keys(&mut result, update_due);
        if operands.is_empty() {
            let mut plan =
                if update_due { Plan { apply: Some(self.apply_script(None)), ..Plan::ok() } } else { Plan::ok() };
            plan.result = result;
            return Ok(plan);
        }
        let mut plan = Plan::change(self.apply_script(Some(self.install_command(&operands))));
        plan.changed = !changes.is_empty();
        plan.diff = changes_diff(&changes);
        plan.result = result;
        Ok(plan)
    }

    fn compare_debs(&mut self, probed: &Probed, update_due: bool) -> Result<Plan, ModuleError> {
        self.operation = "install";
        let mut changes = Vec::new();
        let mut operands = Vec::new();
        for (path, deb) in self.debs.iter().zip(&probed.debs) {
            let (name, version, _arch) = match deb {
                Ok(d) => d.clone(),
                Err(e) => return Err(ModuleError::failed(format!("Unable to install package: {e}"))),
            };
            let installed =
                probed.dpkg.iter().find(|r| r.name == name && r.status == "installed").map(|r| r.version.clone());
            if let Some(cur) = &installed {
                match debversion::compare(&version, cur) {
                    std::cmp::Ordering::Equal => continue,
                    std::cmp::Ordering::Less if !(self.opts.allow_downgrade || self.opts.force) => {
                        return Err(ModuleError::failed(format!(
                            "A later version is already installed: {name} {cur} (the file has {version})"
                        )))
                    }
                    _ => {}
                }
            }
            // apt-get takes a file operand only when it contains a slash.
            let operand = if path.contains('/') { path.clone() } else { format!("./{path}") };
            operands.push(operand.clone());
            changes.push(Change {
                operand,
                name,
                before: installed.unwrap_or_else(|| "absent".into()),
                after: version,
            });
        }
        let mut result = ResultMap::new();
        result.insert("cache_updated".into(), update_due.into());
        result.insert("cache_update_time".into(), probed.cache_mtime.into());
        if operands.is_empty() {
            let mut plan =
                if update_due { Plan { apply: Some(self.apply_script(None)), ..Plan::ok() } } else { Plan::ok() };
            plan.result = result;
            return Ok(plan);
        }
        let mut plan = Plan::change(self.apply_script(Some(self.install_command(&operands))));
        plan.diff = changes_diff(&changes);
        plan.result = result;
        Ok(plan)
    }
}

/// Appends ` FLAG` for every flag whose condition holds.
fn push_flags(cmd: &mut String, flags: &[(bool, &str)]) {
    for (on, flag) in flags {
        if *on {
            cmd.push(' ');
            cmd.push_str(flag);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::file_write::testing::run;
    use serde_json::{json, Value};

    fn action(v: Value) -> Result<AptAction, ModuleError> {
        AptAction::from_args(&Args::new(&SPEC, v.as_object().unwrap().clone()), false)
    }

    fn probed(rows: &[(&str, &str, &str)], policy: &[(&str, Option<&str>, &[&str])]) -> Probed {
        Probed {
            now: 1000,
            cache_mtime: 900,
            dpkg: rows
                .iter()
                .map(|(n, s, v)| DpkgRow {
                    name: (*n).into(),
                    arch: "amd64".into(),
                    status: (*s).into(),
                    version: (*v).into(),
                })
                .collect(),
            policy: policy
                .iter()
                .map(|(n, c, vs)| {
                    (
                        (*n).to_owned(),
                        Policy {
                            candidate: c.map(str::to_owned),
                            versions: vs.iter().map(|v| (*v).to_owned()).collect(),
                        },
                    )
                })
                .collect(),
            ..Probed::default()
        }
    }

    fn specs(names: &[&str]) -> Vec<PkgSpec> {
        names.iter().map(|n| split_spec(n).unwrap()).collect()
    }

    #[test]
    fn specs_split_as_package_split() {
        let s = split_spec(" foo=1.2* ").unwrap();
        assert_eq!((s.name.as_str(), s.version), ("foo", Some((Cmp::Eq, "1.2*".into()))));
        let s = split_spec("foo>=2").unwrap();
        assert_eq!((s.name.as_str(), s.version), ("foo", Some((Cmp::Ge, "2".into()))));
        assert_eq!(split_spec("foo:i386").unwrap().name, "foo:i386");
        assert_eq!(split_spec("a=1=2").unwrap_err(), "invalid package spec: a=1=2");
    }

    #[test]
    fn probe_output_parses() {
        let text = "stead-apt now 1000\nstead-apt mtime 900\nstead-apt dpkg\n\
                    bc\tamd64\tinstalled\t1.07.1-3+b1\nstead-apt policy\n\
                    bc:\n  Installed: 1.07.1-3+b1\n  Candidate: 1.07.1-3+b1\n  Version table:\n \
                    *** 1.07.1-3+b1 500\n        500 http://x bookworm/main amd64 Packages\n        100 /var/lib/dpkg/status\n\
                    hello:\n  Installed: (none)\n  Candidate: 2.10-3\n  Version table:\n     2.10-3 500\n     2.9-1 100\n\
                    mta:\n  Installed: (none)\n  Candidate: (none)\n  Version table:\nstead-apt end\n";
        let p = parse_probe(text).unwrap();
        assert_eq!((p.now, p.cache_mtime), (1000, 900));
        assert_eq!(p.dpkg[0].version, "1.07.1-3+b1");
        assert_eq!(p.policy["bc"].versions, vec!["1.07.1-3+b1"]);
        assert_eq!(
            p.policy["hello"],
            Policy { candidate: Some("2.10-3".into()), versions: vec!["2.10-3".into(), "2.9-1".into()] }
        );
        assert_eq!(p.policy["mta"], Policy::default());
        assert!(parse_probe("stead-apt missing\n").is_err());
    }

    #[test]
    fn install_decisions_follow_ansible() {
        let p = probed(
            &[("bc", "installed", "1.0"), ("old", "config-files", "")],
            &[
                ("bc", Some("1.1"), &["1.1", "1.0"]),
                ("hello", Some("2.10-3"), &["2.10-3", "2.9"]),
                ("old", Some("3"), &["3"]),
                ("mta", None, &[]),
            ],
        );
        // present: only what is missing, pinned to the candidate.
        let c = decide_install(&specs(&["bc", "hello"]), &p, false, false).unwrap();
        assert_eq!(
            c,
            vec![Change {
                operand: "hello=2.10-3".into(),
                name: "hello".into(),
                before: "absent".into(),
                after: "2.10-3".into()
            }]
        );
        // latest: bc is upgraded too.
        let c = decide_install(&specs(&["bc", "hello"]), &p, true, false).unwrap();
        assert_eq!(c.iter().map(|c| c.operand.as_str()).collect::<Vec<_>>(), ["bc=1.1", "hello=2.10-3"]);
        // A pin: the highest matching version; the installed one satisfies it.
        let c = decide_install(&specs(&["hello=2.9*"]), &p, false, false).unwrap();
        assert_eq!(c[0].operand, "hello=2.9");
        assert!(decide_install(&specs(&["bc=1.0"]), &p, false, false).unwrap().is_empty());
        // A pin to another version changes it.
        assert_eq!(decide_install(&specs(&["bc=1.1"]), &p, false, false).unwrap()[0].operand, "bc=1.1");
        // only_upgrade skips what is not installed.
        assert_eq!(decide_install(&specs(&["bc", "hello"]), &p, true, true).unwrap().len(), 1);
        // config-files only is not installed.
        assert_eq!(decide_install(&specs(&["old"]), &p, false, false).unwrap()[0].before, "absent");
        // Unknown and unavailable.
        assert_eq!(
            decide_install(&specs(&["nope"]), &p, false, false).unwrap_err(),
            "No package matching 'nope' is available"
        );
        assert_eq!(
            decide_install(&specs(&["hello=9*"]), &p, false, false).unwrap_err(),
            "no available installation candidate for hello=9*"
        );
        // Virtual: apt decides.
        assert_eq!(decide_install(&specs(&["mta"]), &p, false, false).unwrap()[0].operand, "mta");
        // >=: satisfied by the installed version.
        assert!(decide_install(&specs(&["bc>=0.9"]), &p, false, false).unwrap().is_empty());
    }

    #[test]
    fn remove_decisions_follow_ansible() {
        let p = probed(&[("bc", "installed", "1.0"), ("old", "config-files", "")], &[("bc", Some("1.0"), &["1.0"])]);
        let c = decide_remove(&specs(&["bc", "old", "nope"]), &p, false);
        assert_eq!(
            c,
            vec![Change { operand: "bc".into(), name: "bc".into(), before: "1.0".into(), after: "absent".into() }]
        );
        let c = decide_remove(&specs(&["bc", "old"]), &p, true);
        assert_eq!(
            c.iter().map(|c| (c.name.as_str(), c.after.as_str())).collect::<Vec<_>>(),
            [("bc", "purged"), ("old", "purged")]
        );
        // A version that is not installed is not removed.
        assert!(decide_remove(&specs(&["bc=2*"]), &p, false).is_empty());
    }

    fn probe_text(p: &str) -> ExecOutput {
        ExecOutput { status: 0, stdout: p.as_bytes().to_vec(), stderr: Vec::new() }
    }

    #[test]
    fn one_apt_get_call_for_a_list_with_quoted_operands_and_default_options() {
        let mut a = action(json!({"name": ["hello", "figlet"], "install_recommends": false})).unwrap();
        let out = probe_text(
            "stead-apt now 10\nstead-apt mtime 5\nstead-apt dpkg\nstead-apt policy\n\
             hello:\n  Candidate: 2.10-3\n  Version table:\n     2.10-3 500\n\
             figlet:\n  Candidate: 2.2.5-3+b1\n  Version table:\n     2.2.5-3+b1 500\nstead-apt end\n",
        );
        let plan = a.compare(Some(&out)).unwrap();
        assert!(plan.changed);
        let script = plan.apply.unwrap().script;
        assert_eq!(script.matches("apt-get ").count(), 1, "{script}");
        assert!(
            script.contains(
                "apt-get -y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
                 -o APT::Install-Recommends=no -o DPkg::Lock::Timeout=60 install -- hello=2.10-3 figlet=2.2.5-3+b1"
            ),
            "{script}"
        );
        assert!(script.contains("DEBIAN_FRONTEND=noninteractive"));
        let diff = plan.diff.unwrap().unified();
        assert!(diff.contains("-hello: absent\n") && diff.contains("+hello: 2.10-3\n"), "{diff}");
        assert_eq!(plan.result["cache_updated"], false);
    }

    #[test]
    fn cache_valid_time_compares_with_the_cache_mtime() {
        let text = "stead-apt now 1000\nstead-apt mtime 900\nstead-apt dpkg\nstead-apt policy\nstead-apt end\n";
        let mut fresh = action(json!({"update_cache": true, "cache_valid_time": 200})).unwrap();
        let plan = fresh.compare(Some(&probe_text(text))).unwrap();
        assert!(!plan.changed && plan.apply.is_none());
        assert_eq!(plan.result["cache_update_time"], 900);
        let mut stale = action(json!({"update_cache": true, "cache_valid_time": 50})).unwrap();
        let plan = stale.compare(Some(&probe_text(text))).unwrap();
        assert!(plan.changed);
        assert!(plan.apply.as_ref().unwrap().script.contains("apt-get update -q"));
        // The update ran and the lists' mtime moved: changed.
        let done = ExecOutput { status: 0, stdout: b"stead-apt mtime 1001\n".to_vec(), stderr: Vec::new() };
        let plan = stale.finish(plan, &done).unwrap();
        assert!(plan.changed);
        assert_eq!(
            (plan.result["cache_updated"].clone(), plan.result["cache_update_time"].clone()),
            (json!(true), json!(1001))
        );
    }

    #[test]
    fn clean_runs_even_when_nothing_is_installed_and_arch_qualified_names_resolve() {
        let text = "stead-apt now 10\nstead-apt arch amd64\nstead-apt mtime 5\nstead-apt dpkg\n\
                    bc\tamd64\tinstalled\t1.0\nstead-apt policy\nbc:\n  Candidate: 1.0\n  Version table:\n *** 1.0 100\nstead-apt end\n";
        let mut a = action(json!({"name": "bc:amd64", "clean": true})).unwrap();
        let plan = a.compare(Some(&probe_text(text))).unwrap();
        assert!(!plan.changed);
        assert!(plan.apply.unwrap().script.contains("apt-get clean"));
        let mut foreign = action(json!({"name": "bc:i386"})).unwrap();
        let e = foreign.compare(Some(&probe_text(text))).err().unwrap().to_string();
        assert_eq!(e, "No package matching 'bc:i386' is available");
    }

    #[test]
    fn upgrade_is_decided_from_apt_gets_simulation() {
        let lines: Vec<String> = [
            "Inst stead-dummy [1.0] (2.0 localhost [all])",
            "Inst newdep (3 localhost [amd64])",
            "Remv old [0.9]",
            "Conf stead-dummy (2.0 localhost [all])",
        ]
        .iter()
        .map(|l| (*l).to_owned())
        .collect();
        let c = simulated_changes(&lines);
        let view: Vec<(&str, &str, &str)> =
            c.iter().map(|c| (c.name.as_str(), c.before.as_str(), c.after.as_str())).collect();
        assert_eq!(view, [("stead-dummy", "1.0", "2.0"), ("newdep", "absent", "3"), ("old", "0.9", "absent")]);
        let mut a = action(json!({"upgrade": "dist", "autoremove": true})).unwrap();
        assert!(a.probe().unwrap().contains("-s -q -y dist-upgrade --auto-remove"));
        let text = "stead-apt now 10\nstead-apt mtime 9\nstead-apt dpkg\nstead-apt policy\nstead-apt simulate\n\
                    Inst stead-dummy [1.0] (2.0 localhost [all])\nstead-apt end\n";
        let plan = a.compare(Some(&probe_text(text))).unwrap();
        assert!(plan.changed);
        assert!(plan.apply.unwrap().script.contains("-o DPkg::Lock::Timeout=60 dist-upgrade --auto-remove"));
        let quiet =
            "stead-apt now 10\nstead-apt mtime 9\nstead-apt simulate\n0 upgraded, 0 newly installed\nstead-apt end\n";
        let mut a = action(json!({"upgrade": "yes"})).unwrap();
        assert!(!a.compare(Some(&probe_text(quiet))).unwrap().changed);
    }

    #[test]
    fn unsupported_requests_are_refused_with_a_reason() {
        for (args, want) in [
            (json!({"name": "*", "state": "latest"}), "upgrade: yes"),
            (json!({"name": "lib*"}), "patterns"),
            (json!({"deb": "https://x/y.deb"}), "get_url"),
            (json!({"name": "x", "state": "build-dep"}), "build-dep"),
            (json!({"deb": "/x.deb", "state": "absent"}), "deb only supports state=present"),
        ] {
            let e = action(args).err().unwrap().to_string();
            assert!(e.contains(want), "{e}");
        }
    }

    /// The apply script for real, with a stand-in `apt-get` on PATH that
    /// logs its arguments: one call, every operand intact.
    #[test]
    fn the_apply_script_calls_apt_get_once_with_every_operand_intact() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let fake = dir.path().join("apt-get");
        std::fs::write(
            &fake,
            format!(
                "#!/bin/sh\nprintf '%s\\n' \"$DEBIAN_FRONTEND\" \"$@\" >>{}\necho '1 upgraded, 0 newly installed, 0 to remove'\n",
                quote(log.to_str().unwrap())
            ),
        )
        .unwrap();
        std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let hostile = "x'; touch pwned; '$(touch pwned2)";
        let mut a = action(json!({"name": [hostile, "tree"], "state": "latest"})).unwrap();
        let probe = format!(
            "stead-apt now 10\nstead-apt mtime 5\nstead-apt dpkg\ntree\tamd64\tinstalled\t1.0\nstead-apt policy\n\
             {hostile}:\n  Candidate: 1\n  Version table:\n     1 500\n\
             tree:\n  Candidate: 2.1.0-1\n  Version table:\n     2.1.0-1 500\n *** 1.0 100\nstead-apt end\n"
        );
        let plan = a.compare(Some(&probe_text(&probe))).unwrap();
        let apply = plan.apply.clone().unwrap();
        let script = format!(
            "cd {} && PATH={}:$PATH\n{}",
            quote(dir.path().to_str().unwrap()),
            quote(dir.path().to_str().unwrap()),
            apply.script
        );
        let out = run(&script, b"");
        assert_eq!(out.status, 0, "{}", out.stderr_text());
        let args: Vec<String> = std::fs::read_to_string(&log).unwrap().lines().map(str::to_owned).collect();
        assert_eq!(args[0], "noninteractive");
        assert_eq!(args.iter().filter(|a| *a == "install").count(), 1, "{args:?}");
        assert_eq!(&args[args.len() - 3..], ["--", &format!("{hostile}=1"), "tree=2.1.0-1"]);
        assert!(!dir.path().join("pwned").exists() && !dir.path().join("pwned2").exists());
        let done = a.finish(plan, &out).unwrap();
        assert!(done.changed);
        assert!(done.result["stdout"].as_str().unwrap().contains("1 upgraded"));
        assert!(!done.result["stdout"].as_str().unwrap().contains("stead-apt"));
    }

    #[test]
    fn the_probe_runs_with_hostile_names_and_reads_nothing_it_was_not_asked() {
        // Read-only tools only; a name full of shell syntax stays one operand.
        let a = action(json!({"name": ["hello$(touch pwned)", "bc"], "deb": null})).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let out = run(&format!("cd {} && {}", quote(dir.path().to_str().unwrap()), a.probe().unwrap()), b"");
        assert_eq!(out.status, 0, "{}", out.stderr_text());
        assert!(!dir.path().join("pwned").exists());
        let p = parse_probe(&out.stdout_text()).unwrap();
        assert!(p.now > 0);
        if p.dpkg.iter().any(|r| r.name == "bc") {
            assert!(p.policy.contains_key("bc"));
        }
        assert!(!p.policy.contains_key("hello$(touch pwned)"));
    }
}
