//! Patch status: what a host's package tools say about pending upgrades,
//! security fixes among them, the kernel it runs against the newest one
//! installed, and how old its package index is (docs/patches.md).
//!
//! This file is the pure half of [`super::patch_facts`]: the typed status
//! ([`PatchStatus`], the published JSON schema) and the parser of the
//! probe's output ([`parse`]). The probe only reads (`apt-get -s`,
//! `dnf -C`, `dpkg-query`, `rpm -q`, `stat`); it never refreshes an index,
//! so the age of the index is part of the answer.
//!
//! The host is not trusted: its output may be garbage or hostile. Parsing
//! never panics, never reads a line it does not understand as a package,
//! and says so in `warnings` instead of guessing; a tool that failed makes
//! the whole probe fail ([`parse`] returns an error) rather than report
//! "nothing pending".

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::debversion;

/// Prefix of every line the probe itself writes.
pub const MARK: &str = "stead-patches";

/// The latest time shown as a timestamp (9999-12-31T23:59:59Z); a host
/// that claims later gets a warning, not a timestamp.
const MAX_TIME: u64 = 253_402_300_799;

/// At most this many entries are kept from one host (a hostile host
/// cannot make the controller hold an unbounded list).
const MAX_ENTRIES: usize = 100_000;

/// One package with a pending upgrade.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// Package name (apt: `name` or `name:arch` for a foreign
    /// architecture; dnf: the name without the architecture).
    pub name: String,
    /// Architecture of the candidate (`all`, `amd64`, `noarch`, `x86_64`).
    pub arch: Option<String>,
    /// The installed version (`null` when the tool did not say).
    pub installed: Option<String>,
    /// The version the upgrade installs.
    pub candidate: String,
    /// The candidate comes from a security source: apt, a suite whose
    /// name ends in `-security`; dnf, a security advisory for the package.
    pub security: bool,
    /// Where the candidate comes from, as the tool names it (apt:
    /// `Label:version/suite` per source; dnf: the repository id).
    pub sources: Vec<String>,
}

/// The patch status of one host: the JSON schema of
/// `stead facts --patches` and of the report's per-host `patches` object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatchStatus {
    /// Whether stead can read patch status on this host (apt or dnf/yum found).
    pub supported: bool,
    /// Why not, when not supported.
    pub reason: Option<String>,
    /// The package tool read: `apt`, `dnf` or `yum`.
    pub manager: Option<String>,
    /// Packages with a pending upgrade, sorted by name.
    pub pending: Vec<Pending>,
    /// `pending.len()`; `null` when not supported.
    pub pending_count: Option<usize>,
    /// How many of them are security upgrades; `null` when not supported.
    pub security_count: Option<usize>,
    /// apt: upgrades that exist but `dist-upgrade` would not install
    /// (held with `apt-mark hold`, blocked by a dependency, or deferred by
    /// Ubuntu's phasing), by name; not counted in `pending`.
    pub kept_back: Vec<String>,
    /// A reboot is needed: the reboot-required flag file exists, or a newer
    /// kernel is installed than the one running.
    pub reboot_required: bool,
    /// `/var/run/reboot-required` (or `/run/reboot-required`) exists.
    pub reboot_required_file: bool,
    /// The packages listed in `reboot-required.pkgs`.
    pub reboot_required_packages: Vec<String>,
    /// `uname -r`.
    pub running_kernel: Option<String>,
    /// The newest installed kernel (as `uname -r` would name it), when
    /// kernel packages are installed.
    pub newest_kernel: Option<String>,
    /// `newest_kernel` is newer than `running_kernel`.
    pub newer_kernel_installed: bool,
    /// When the package index was last refreshed (RFC 3339, UTC): the
    /// newest `Release`/`InRelease` of apt's lists, dnf's `repomd.xml`.
    pub index_updated_at: Option<String>,
    /// Seconds since then, by the host's clock; `null` without an index.
    pub index_age_seconds: Option<u64>,
    /// The host's clock when probed (RFC 3339, UTC).
    pub checked_at: Option<String>,
    /// What the probe could not read or did not understand.
    pub warnings: Vec<String>,
}

/// The probe failed: a package tool exited with an error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ProbeFailed(pub String);

/// An RFC 3339 timestamp of a Unix time, if plausible.
fn timestamp(secs: u64) -> Option<String> {
    if secs > MAX_TIME {
        return None;
    }
    let t = UNIX_EPOCH.checked_add(Duration::from_secs(secs))?;
    Some(humantime::format_rfc3339_seconds(t).to_string())
}

/// Whether `s` may be a package name, version or architecture as the tools
/// print them: printable ASCII without spaces, brackets or parentheses.
fn token_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 256
        && s.bytes().all(|b| b.is_ascii_graphic() && !matches!(b, b'[' | b']' | b'(' | b')' | b',' | b'"' | b'\\'))
}

/// A source name as apt prints it: printable ASCII (spaces allowed), no
/// parentheses, brackets or commas.
fn source_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 512
        && s.bytes().all(|b| {
            (b.is_ascii_graphic() || b == b' ') && !matches!(b, b'[' | b']' | b'(' | b')' | b',' | b'"' | b'\\')
        })
}

/// One `Inst` line of `apt-get -s`:
/// `Inst NAME [INSTALLED] (CANDIDATE Label:ver/suite[, ...] [ARCH])[ []]`.
/// `None` for a line that does not have that shape. A new package (no
/// installed version) comes back with `installed: None`.
pub fn parse_inst(line: &str) -> Option<Pending> {
    let rest = line.strip_prefix("Inst ")?;
    let (name, rest) = rest.split_once(' ')?;
    if !token_ok(name) {
        return None;
    }
    let (installed, rest) = match rest.strip_prefix('[') {
        Some(r) => {
            let (v, r) = r.split_once("] ")?;
            if !token_ok(v) {
                return None;
            }
            (Some(v.to_owned()), r)
        }
        None => (None, rest),
    };
    let inner = rest.strip_prefix('(')?;
    let close = inner.find(')')?;
    let tail = inner[close + 1..].trim();
    if !(tail.is_empty() || tail == "[]" || tail.starts_with("[") && tail.ends_with(']')) {
        return None;
    }
    let inner = &inner[..close];
    let (body, arch) = match inner.rsplit_once(" [") {
        Some((b, a)) => (b, Some(a.strip_suffix(']')?)),
        None => (inner, None),
    };
    if arch.is_some_and(|a| !token_ok(a)) {
        return None;
    }
    let (candidate, sources) = match body.split_once(' ') {
        Some((c, s)) => (c, s),
        None => (body, ""),
    };
    if !token_ok(candidate) {
        return None;
    }
    let sources: Vec<String> =
        if sources.is_empty() { Vec::new() } else { sources.split(", ").map(|s| s.trim().to_owned()).collect() };
    if sources.iter().any(|s| !source_ok(s)) {
        return None;
    }
    let security = sources.iter().any(|s| apt_suite(s).ends_with("-security"));
    Some(Pending {
        name: name.to_owned(),
        arch: arch.map(str::to_owned),
        installed,
        candidate: candidate.to_owned(),
        security,
        sources,
    })
}

/// The suite (archive) of one apt source, `Label:version/suite`: what
/// follows the last `/`, or the whole text without one.
fn apt_suite(source: &str) -> &str {
    source.rsplit_once('/').map_or(source, |(_, s)| s)
}

/// A kernel package as dpkg names it (`linux-image-6.1.0-18-amd64`) →
/// the release `uname -r` prints for it; `None` for the meta packages
/// (`linux-image-amd64`) and the ones that are not a bootable image.
fn deb_kernel_release(package: &str) -> Option<&str> {
    let release = package.strip_prefix("linux-image-")?;
    let bootable = release.starts_with(|c: char| c.is_ascii_digit())
        && !["-dbg", "-dbgsym", "-unsigned"].iter().any(|s| release.ends_with(s));
    bootable.then_some(release)
}

/// A kernel found installed: the release (`uname -r` form) and the
/// package version, with the comparison of its package manager.
#[derive(Debug, Clone)]
struct Kernel {
    release: String,
    version: String,
}

/// The newest kernel, and whether it is newer than the running one.
fn newest_kernel(kernels: &[Kernel], running: Option<&str>, cmp: fn(&str, &str) -> Ordering) -> (Option<String>, bool) {
    // By release, as the boot loader sorts its kernels (grub's version
    // sort of the file names), then by package version.
    let newest = kernels.iter().max_by(|a, b| cmp(&a.release, &b.release).then_with(|| cmp(&a.version, &b.version)));
    let Some(newest) = newest else { return (None, false) };
    let newer = match running {
        None => false,
        Some(r) if r == newest.release => false,
        Some(r) => match kernels.iter().find(|k| k.release == r) {
            // The running one is a package: newer is a newer package (a
            // flavour of the same version, `-cloud-amd64`, is not).
            Some(current) => cmp(&newest.version, &current.version) == Ordering::Greater,
            // A kernel the package manager does not know (a custom build,
            // a container's host): compare the release strings.
            None => cmp(&newest.release, r) == Ordering::Greater,
        },
    };
    (Some(newest.release.clone()), newer)
}

/// rpm's version comparison (`rpmvercmp`): alternating digit and letter
/// segments, digits numerically, `~` before everything (even the end),
/// `^` after the end but before anything else.
pub fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    let sep = |c: u8| !c.is_ascii_alphanumeric() && c != b'~' && c != b'^';
    loop {
        while a.first().is_some_and(|c| sep(*c)) {
            a = &a[1..];
        }
        while b.first().is_some_and(|c| sep(*c)) {
            b = &b[1..];
        }
        match (a.first(), b.first()) {
            (Some(b'~'), Some(b'~')) => {
                a = &a[1..];
                b = &b[1..];
                continue;
            }
            (Some(b'~'), _) => return Ordering::Less,
            (_, Some(b'~')) => return Ordering::Greater,
            (Some(b'^'), Some(b'^')) => {
                a = &a[1..];
                b = &b[1..];
                continue;
            }
            (Some(b'^'), None) => return Ordering::Greater,
            (None, Some(b'^')) => return Ordering::Less,
            (Some(b'^'), _) => return Ordering::Less,
            (_, Some(b'^')) => return Ordering::Greater,
            (None, _) | (_, None) => break,
            _ => {}
        }
        let numeric = a[0].is_ascii_digit();
        let class = |c: &u8| if numeric { c.is_ascii_digit() } else { c.is_ascii_alphabetic() };
        let la = a.iter().take_while(|c| class(c)).count();
        let lb = b.iter().take_while(|c| class(c)).count();
        let (sa, sb) = (&a[..la], &b[..lb]);
        a = &a[la..];
        b = &b[lb..];
        if sb.is_empty() {
            // Segments of different kinds: a number is newer than letters.
            return if numeric { Ordering::Greater } else { Ordering::Less };
        }
        let order = if numeric {
            let trim = |s: &[u8]| -> usize { s.iter().take_while(|c| **c == b'0').count() };
            let (sa, sb) = (&sa[trim(sa)..], &sb[trim(sb)..]);
            sa.len().cmp(&sb.len()).then_with(|| sa.cmp(sb))
        } else {
            sa.cmp(sb)
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    match (a.is_empty(), b.is_empty()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        _ => Ordering::Greater,
    }
}

/// rpm's comparison of `[EPOCH:]VERSION[-RELEASE]`.
pub fn compare_evr(a: &str, b: &str) -> Ordering {
    fn split(s: &str) -> (u64, &str, &str) {
        let (epoch, rest) = match s.split_once(':') {
            Some((e, r)) if e.bytes().all(|c| c.is_ascii_digit()) => (e.parse().unwrap_or(0), r),
            _ => (0, s),
        };
        match rest.rsplit_once('-') {
            Some((v, r)) => (epoch, v, r),
            None => (epoch, rest, ""),
        }
    }
    let (ea, va, ra) = split(a);
    let (eb, vb, rb) = split(b);
    ea.cmp(&eb).then_with(|| rpmvercmp(va, vb)).then_with(|| rpmvercmp(ra, rb))
}

/// `name-[epoch:]version-release.arch` → (`name`, `arch`).
fn nevra_name_arch(s: &str) -> Option<(&str, &str)> {
    let (nvr, arch) = s.rsplit_once('.')?;
    let (nv, _release) = nvr.rsplit_once('-')?;
    let (name, _version) = nv.rsplit_once('-')?;
    (token_ok(name) && token_ok(arch) && !arch.contains('-')).then_some((name, arch))
}

/// The lines between `MARK begin NAME` and `MARK end NAME STATUS`, and
/// the status (`None` when the end line is missing or unreadable).
struct Block<'a> {
    lines: Vec<&'a str>,
    status: Option<i32>,
}

/// The probe output, split into its marked lines and blocks.
#[derive(Default)]
struct Probe<'a> {
    fields: Vec<(&'a str, &'a str)>,
    blocks: BTreeMap<&'a str, Block<'a>>,
}

fn split_probe(stdout: &str) -> Probe<'_> {
    let mut probe = Probe::default();
    let mut open: Option<(&str, Vec<&str>)> = None;
    for line in stdout.lines() {
        let marked = line.strip_prefix(MARK).and_then(|r| r.strip_prefix(' '));
        if let Some((name, lines)) = open.as_mut() {
            if let Some(end) = marked.and_then(|m| m.strip_prefix("end ")) {
                let (ended, status) = end.split_once(' ').unwrap_or((end, ""));
                if ended == *name {
                    let status = status.trim().parse().ok();
                    let (name, lines) = open.take().expect("open block");
                    probe.blocks.insert(name, Block { lines, status });
                    continue;
                }
            }
            if lines.len() < MAX_ENTRIES {
                lines.push(line);
            }
            continue;
        }
        let Some(marked) = marked else { continue };
        let (key, value) = marked.split_once(' ').unwrap_or((marked, ""));
        if key == "begin" {
            open = Some((value.trim(), Vec::new()));
        } else if probe.fields.len() < MAX_ENTRIES {
            probe.fields.push((key, value));
        }
    }
    // A block cut short: what arrived, and no status.
    if let Some((name, lines)) = open {
        probe.blocks.insert(name, Block { lines, status: None });
    }
    probe
}

impl<'a> Probe<'a> {
    fn first(&self, key: &str) -> Option<&'a str> {
        self.fields.iter().find(|(k, _)| *k == key).map(|(_, v)| v.trim()).filter(|v| !v.is_empty())
    }

    fn all(&self, key: &'a str) -> impl Iterator<Item = &'a str> + '_ {
        self.fields.iter().filter(move |(k, _)| *k == key).map(|(_, v)| *v)
    }

    /// A block's lines, or why it cannot be used.
    fn block(&self, name: &str, tool: &str, ok: &[i32], stderr: &str) -> Result<&[&'a str], ProbeFailed> {
        let Some(block) = self.blocks.get(name) else {
            return Err(ProbeFailed(format!("`{tool}` did not run (the probe's output is incomplete)")));
        };
        match block.status {
            Some(s) if ok.contains(&s) => Ok(&block.lines),
            Some(s) => {
                let why: Vec<String> = stderr.lines().filter(|l| !l.trim().is_empty()).take(5).map(printable).collect();
                let why = if why.is_empty() { String::new() } else { format!(": {}", why.join("; ")) };
                Err(ProbeFailed(format!("`{tool}` failed (exit {s}){why}")))
            }
            None => Err(ProbeFailed(format!("`{tool}` was cut short (the probe's output is incomplete)"))),
        }
    }
}

/// Parses the probe's output (see [`super::patch_facts`] for the script)
/// and its stderr (warnings of the tools).
pub fn parse(stdout: &str, stderr: &str) -> Result<PatchStatus, ProbeFailed> {
    let probe = split_probe(stdout);
    if probe.first("version") != Some("1") {
        return Err(ProbeFailed("the patch probe printed nothing stead understands".into()));
    }
    let mut status = PatchStatus { running_kernel: probe.first("kernel").map(str::to_owned), ..PatchStatus::default() };
    let now = probe.first("now").and_then(|n| n.parse::<u64>().ok());
    status.checked_at = now.and_then(timestamp);
    status.reboot_required_file = probe.first("reboot-file").is_some();
    status.reboot_required_packages = probe
        .all("reboot-pkg")
        .map(str::trim)
        .filter(|p| token_ok(p))
        .map(str::to_owned)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let manager = probe.first("manager").unwrap_or("none");
    let kernels = match manager {
        "apt" => {
            (status.pending, status.kept_back) = apt_pending(&probe, stderr, &mut status.warnings)?;
            apt_kernels(&probe)
        }
        "dnf" | "yum" => {
            status.pending = dnf_pending(&probe, manager, stderr, &mut status.warnings)?;
            rpm_kernels(&probe)
        }
        _ => {
            status.reason = Some("neither apt-get (with dpkg) nor dnf/yum (with rpm) was found on the host".into());
            status.reboot_required = status.reboot_required_file;
            return Ok(status);
        }
    };
    status.supported = true;
    status.manager = Some(manager.to_owned());
    status.pending_count = Some(status.pending.len());
    status.security_count = Some(status.pending.iter().filter(|p| p.security).count());
    let cmp = if manager == "apt" { debversion::compare } else { compare_evr };
    let (newest, newer) = newest_kernel(&kernels, status.running_kernel.as_deref(), cmp);
    status.newest_kernel = newest;
    status.newer_kernel_installed = newer;
    status.reboot_required = status.reboot_required_file || status.newer_kernel_installed;
    index_age(&probe, now, &mut status);
    Ok(status)
}

/// The index's newest mtime and its age by the host's clock.
fn index_age(probe: &Probe<'_>, now: Option<u64>, status: &mut PatchStatus) {
    let newest = probe.all("index").filter_map(|m| m.trim().parse::<u64>().ok()).max();
    match newest {
        None => status.warnings.push(
            "no package index found: the package lists were never downloaded (apt-get update / dnf makecache)".into(),
        ),
        Some(t) if t > MAX_TIME => status.warnings.push(format!("the package index has an implausible time ({t})")),
        Some(t) => {
            status.index_updated_at = timestamp(t);
            match now {
                Some(now) if now >= t => status.index_age_seconds = Some(now - t),
                Some(_) => status.warnings.push("the package index is newer than the host's clock".into()),
                None => status.warnings.push("the host's clock could not be read".into()),
            }
        }
    }
}

/// A line of a tool's text, safe to show: at most 300 characters, control
/// characters (a hostile host's terminal escapes) escaped.
pub fn printable(line: &str) -> String {
    line.trim()
        .chars()
        .take(300)
        .flat_map(|c| if c.is_control() { c.escape_default().collect() } else { vec![c] })
        .collect()
}

/// Warnings the tools printed on stderr (`W: ...`), at most a few.
fn tool_warnings(stderr: &str, warnings: &mut Vec<String>) {
    for line in stderr.lines().map(str::trim).filter(|l| l.starts_with("W: ")).take(10) {
        warnings.push(printable(line));
    }
}

/// The packages apt lists under a "kept back" (held, or blocked by a
/// dependency) or "deferred due to phasing" (Ubuntu's phased updates)
/// heading: upgrades that exist but `dist-upgrade` would not install.
fn apt_kept_back(lines: &[&str]) -> Vec<String> {
    let mut kept = BTreeSet::new();
    let mut inside = false;
    for line in lines {
        if let Some(names) = line.strip_prefix("  ") {
            if inside {
                kept.extend(names.split_whitespace().filter(|n| token_ok(n)).map(str::to_owned).take(MAX_ENTRIES));
            }
            continue;
        }
        inside = line.starts_with("The following")
            && (line.ends_with("kept back:") || line.ends_with("deferred due to phasing:"));
    }
    kept.into_iter().collect()
}

fn apt_pending(
    probe: &Probe<'_>,
    stderr: &str,
    warnings: &mut Vec<String>,
) -> Result<(Vec<Pending>, Vec<String>), ProbeFailed> {
    let lines = probe.block("simulate", "apt-get -s dist-upgrade", &[0], stderr)?;
    tool_warnings(stderr, warnings);
    let kept_back = apt_kept_back(lines);
    let mut pending = BTreeMap::new();
    let mut new = 0;
    let mut unreadable = 0;
    for line in lines.iter().filter(|l| l.starts_with("Inst ")) {
        match parse_inst(line) {
            Some(p) if p.installed.is_some() => {
                pending.insert(p.name.clone(), p);
            }
            Some(_) => new += 1,
            None => unreadable += 1,
        }
    }
    if new > 0 {
        warnings.push(format!("the upgrade would also install {new} new package(s) (not counted as pending)"));
    }
    if unreadable > 0 {
        warnings.push(format!("{unreadable} line(s) of apt-get's output not understood (not counted)"));
    }
    Ok((pending.into_values().collect(), kept_back))
}

fn apt_kernels(probe: &Probe<'_>) -> Vec<Kernel> {
    probe
        .all("deb-kernel")
        .filter_map(|line| {
            let mut f = line.split('\t');
            let (status, package, version) = (f.next()?, f.next()?, f.next()?);
            let release = deb_kernel_release(package)?;
            (status == "installed" && token_ok(release) && token_ok(version))
                .then(|| Kernel { release: release.to_owned(), version: version.to_owned() })
        })
        .collect()
}

fn rpm_kernels(probe: &Probe<'_>) -> Vec<Kernel> {
    probe
        .all("rpm-kernel")
        .filter_map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            let [epoch, version, release, arch] = f[..] else { return None };
            if ![version, release, arch].iter().all(|t| token_ok(t)) {
                return None;
            }
            let epoch = if epoch.bytes().all(|b| b.is_ascii_digit()) && !epoch.is_empty() { epoch } else { "0" };
            Some(Kernel {
                release: format!("{version}-{release}.{arch}"),
                version: format!("{epoch}:{version}-{release}"),
            })
        })
        .collect()
}

/// `rpm -qa` rows (`name.arch\tepoch:version-release`) → installed versions.
fn rpm_installed<'a>(lines: &[&'a str]) -> BTreeMap<&'a str, String> {
    let mut out = BTreeMap::new();
    for line in lines {
        let Some((na, evr)) = line.split_once('\t') else { continue };
        // rpm prints `(none)` for a package without an epoch.
        let evr = evr.strip_prefix("(none):").or_else(|| evr.strip_prefix("0:")).unwrap_or(evr);
        if token_ok(na) && token_ok(evr) {
            out.insert(na, evr.to_owned());
        }
    }
    out
}

fn dnf_pending(
    probe: &Probe<'_>,
    tool: &str,
    stderr: &str,
    warnings: &mut Vec<String>,
) -> Result<Vec<Pending>, ProbeFailed> {
    // check-update: 0 nothing pending, 100 updates pending.
    let updates = probe.block("check-update", &format!("{tool} check-update"), &[0, 100], stderr)?;
    let installed = rpm_installed(probe.block("installed", "rpm -qa", &[0], stderr)?);
    let security: BTreeSet<(&str, &str)> =
        match probe.block("security", &format!("{tool} updateinfo list --security"), &[0], stderr) {
            Ok(lines) => lines.iter().flat_map(|l| l.split_whitespace()).filter_map(nevra_name_arch).collect(),
            Err(e) => {
                warnings.push(format!("security advisories unknown: {e}"));
                BTreeSet::new()
            }
        };
    let mut pending = BTreeMap::new();
    let mut unreadable = 0;
    for line in updates {
        let line = line.trim_end();
        // Obsoletes follow, in another layout; they are not upgrades.
        if line.starts_with("Obsoleting") {
            break;
        }
        if line.trim().is_empty() || line.starts_with(' ') || line.starts_with("Last metadata") {
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        let parsed = match f[..] {
            [na, candidate, repo] if token_ok(na) && token_ok(candidate) && token_ok(repo) => {
                na.rsplit_once('.').filter(|(n, a)| !n.is_empty() && !a.is_empty()).map(|(name, arch)| Pending {
                    name: name.to_owned(),
                    arch: Some(arch.to_owned()),
                    installed: installed.get(na).cloned(),
                    candidate: candidate.to_owned(),
                    security: security.contains(&(name, arch)),
                    sources: vec![repo.to_owned()],
                })
            }
            _ => None,
        };
        match parsed {
            Some(p) => {
                pending.insert(format!("{}.{}", p.name, p.arch.as_deref().unwrap_or("")), p);
            }
            None => unreadable += 1,
        }
    }
    if unreadable > 0 {
        warnings.push(format!("{unreadable} line(s) of {tool}'s output not understood (not counted)"));
    }
    tool_warnings(stderr, warnings);
    Ok(pending.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "stead-patches version 1\nstead-patches now 1764633600\nstead-patches kernel 6.1.0-18-amd64\n";

    fn apt(extra: &str, simulate: &str, status: i32) -> String {
        format!(
            "{HEAD}stead-patches manager apt\n{extra}stead-patches begin simulate\n{simulate}stead-patches end simulate {status}\n"
        )
    }

    /// Real `apt-get -s dist-upgrade` output of a Debian 12 host.
    const BOOKWORM: &str = "Reading package lists...\nBuilding dependency tree...\nReading state information...\n\
Calculating upgrade...\nThe following packages will be upgraded:\n  bash libssl3 libgcrypt20\n\
3 upgraded, 1 newly installed, 0 to remove and 0 not upgraded.\n\
Inst bash [5.2.15-2+b8] (5.2.15-2+b13 Debian:12.15/oldstable [amd64])\n\
Inst libgcrypt20 [1.10.1-3] (1.10.1-3+deb12u1 Debian:12.15/oldstable, Debian-Security:12/oldstable-security [amd64])\n\
Inst libssl3 [3.0.19-1~deb12u2] (3.0.22-1~deb12u2 Debian-Security:12/oldstable-security [amd64]) []\n\
Inst linux-image-6.1.0-20-amd64 (6.1.85-1 Debian-Security:12/oldstable-security [amd64])\n\
Conf bash (5.2.15-2+b13 Debian:12.15/oldstable [amd64])\n";

    #[test]
    fn apt_inst_lines_give_versions_sources_and_security() {
        let s = parse(&apt("", BOOKWORM, 0), "").unwrap();
        assert!(s.supported);
        assert_eq!(s.manager.as_deref(), Some("apt"));
        let names: Vec<&str> = s.pending.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["bash", "libgcrypt20", "libssl3"]);
        assert_eq!(s.pending_count, Some(3));
        assert_eq!(s.security_count, Some(2));
        let gcrypt = &s.pending[1];
        assert_eq!(gcrypt.installed.as_deref(), Some("1.10.1-3"));
        assert_eq!(gcrypt.candidate, "1.10.1-3+deb12u1");
        assert_eq!(gcrypt.arch.as_deref(), Some("amd64"));
        assert_eq!(gcrypt.sources, ["Debian:12.15/oldstable", "Debian-Security:12/oldstable-security"]);
        assert!(gcrypt.security);
        assert!(!s.pending[0].security);
        assert!(s.warnings.iter().any(|w| w.contains("1 new package")), "{:?}", s.warnings);
        assert_eq!(s.checked_at.as_deref(), Some("2025-12-02T00:00:00Z"));
    }

    #[test]
    fn kept_back_and_phased_upgrades_are_named_not_counted() {
        let text = "Calculating upgrade...\nThe following packages have been kept back:\n  linux-image-amd64 \
                    libfoo\n  \u{1b}[31mevil bar\nThe following upgrades have been deferred due to phasing:\n  \
                    snapd\nThe following packages will be upgraded:\n  bash\n\
                    Inst bash [1] (2 Debian:12/stable [amd64])\n";
        let s = parse(&apt("", text, 0), "").unwrap();
        assert_eq!(s.kept_back, ["bar", "libfoo", "linux-image-amd64", "snapd"]);
        assert_eq!(s.pending_count, Some(1));
        let e = parse(&apt("", "", 100), "E: \u{1b}]0;owned\u{7}bad\n").unwrap_err();
        assert!(!e.0.contains('\u{1b}') && e.0.contains("\\u{1b}"), "{e}");
    }

    #[test]
    fn security_is_a_suite_ending_in_dash_security_and_nothing_else() {
        let inst = |sources: &str| parse_inst(&format!("Inst p [1] (2 {sources} [all])")).unwrap().security;
        assert!(inst("Ubuntu:22.04/jammy-updates, Ubuntu:22.04/jammy-security"));
        assert!(inst("UbuntuESM:22.04/jammy-infra-security"));
        assert!(inst("stead-test:1.0/stead-security"));
        assert!(!inst("Debian-Security:12/oldstable"), "the label is not the suite");
        assert!(!inst("security:1/stable"));
        assert!(!inst("x:1/stable-security-backports"));
        assert!(!inst("x:1/security"));
        // A source without a version: `Label/suite` or a bare suite.
        assert!(inst("stead-security"));
        let local = parse_inst("Inst stead-patch-demo [1.0] (1.1 localhost [all])").unwrap();
        assert_eq!(local.sources, ["localhost"]);
        assert!(!local.security);
    }

    #[test]
    fn garbage_and_hostile_output_never_panics_nor_counts() {
        let lines = [
            "Inst",
            "Inst ",
            "Inst x",
            "Inst x [",
            "Inst x [1",
            "Inst x [1] ",
            "Inst x [1] (",
            "Inst x [1] (2",
            "Inst x [1] (2 [amd64]",
            "Inst x [1] (2 a:1/b-security [amd64]) trailing words",
            "Inst x y [1] (2 a:1/b [amd64])",
            "Inst \u{1b}[31mx [1] (2 a:1/b-security [amd64])",
            "Inst x [1\u{0}] (2 a:1/b-security [amd64])",
            "Inst x [1] (2 a:1/b-secur\nity [amd64])",
            "Inst x [1] (2 a:1/\u{7}b-security [amd64])",
            "Inst ))) [((] (]] [[ [)",
            "Inst x [1] (2 \u{202e}a:1/b-security [amd64])",
            "Inst é [1] (2 a:1/b [amd64])",
        ];
        for l in lines {
            let p = parse_inst(l);
            assert!(p.is_none(), "{l:?} → {p:?}");
        }
        let garbage = lines.join("\n") + "\n";
        let s = parse(&apt("", &garbage, 0), "").unwrap();
        assert!(s.pending.is_empty(), "{:?}", s.pending);
        assert!(s.warnings.iter().any(|w| w.contains("not understood")), "{:?}", s.warnings);
        // Random bytes and truncations of a real probe.
        let real = apt("stead-patches index 1764630000\n", BOOKWORM, 0);
        for cut in 0..real.len() {
            if real.is_char_boundary(cut) {
                let _ = parse(&real[..cut], "");
            }
        }
        let mut seed = 0x2545_f491_u64;
        for _ in 0..300 {
            let bytes: Vec<u8> = (0..200)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    let alphabet = b"Inst stead-patches begin end simulate [](), -:/security 0123\n\t";
                    alphabet[(seed % alphabet.len() as u64) as usize]
                })
                .collect();
            let text = String::from_utf8_lossy(&bytes);
            let _ = parse(&format!("{HEAD}stead-patches manager apt\n{text}"), "");
            let _ = parse(&format!("{HEAD}stead-patches manager dnf\n{text}"), &text);
        }
        let weird = "stead-patches version 1\nstead-patches now 99999999999999999999999\nstead-patches manager apt\n\
                     stead-patches index 18446744073709551615\nstead-patches begin simulate\nstead-patches end simulate 0\n";
        let s = parse(weird, "").unwrap();
        assert_eq!(s.checked_at, None);
        assert_eq!(s.index_age_seconds, None);
        assert!(s.warnings.iter().any(|w| w.contains("implausible")), "{:?}", s.warnings);
    }

    #[test]
    fn a_failed_or_cut_short_tool_fails_the_probe_instead_of_reporting_nothing_pending() {
        let e = parse(&apt("", "", 100), "E: Could not open lock file\nE: second\n").unwrap_err();
        assert_eq!(e.0, "`apt-get -s dist-upgrade` failed (exit 100): E: Could not open lock file; E: second");
        let cut =
            format!("{HEAD}stead-patches manager apt\nstead-patches begin simulate\nInst bash [1] (2 a:1/b [amd64])\n");
        assert!(parse(&cut, "").unwrap_err().0.contains("cut short"));
        let missing = format!("{HEAD}stead-patches manager apt\n");
        assert!(parse(&missing, "").unwrap_err().0.contains("did not run"));
        assert!(parse("", "").is_err());
        assert!(parse("hello\n", "").is_err());
        // A forged end line for another block does not close this one.
        let forged = apt("", "stead-patches end other 0\nInst a [1] (2 x:1/s-security [all])\n", 0);
        assert_eq!(parse(&forged, "").unwrap().security_count, Some(1));
    }

    #[test]
    fn index_age_reboot_flag_and_kernels() {
        let extra = "stead-patches index 1764630000\nstead-patches index 1764000000\nstead-patches index junk\n\
                     stead-patches reboot-file /var/run/reboot-required\nstead-patches reboot-pkg linux-base\n\
                     stead-patches reboot-pkg linux-base\nstead-patches reboot-pkg bad name\n\
                     stead-patches deb-kernel installed\tlinux-image-6.1.0-18-amd64\t6.1.76-1\n\
                     stead-patches deb-kernel installed\tlinux-image-6.1.0-20-amd64\t6.1.85-1\n\
                     stead-patches deb-kernel config-files\tlinux-image-6.1.0-30-amd64\t6.1.99-1\n\
                     stead-patches deb-kernel installed\tlinux-image-amd64\t6.1.85-1\n\
                     stead-patches deb-kernel installed\tlinux-image-6.1.0-21-amd64-dbg\t6.1.90-1\n";
        let s = parse(&apt(extra, "", 0), "W: Some index files failed to download\n").unwrap();
        assert_eq!(s.pending_count, Some(0));
        assert_eq!(s.index_age_seconds, Some(3600));
        assert_eq!(s.index_updated_at.as_deref(), Some("2025-12-01T23:00:00Z"));
        assert!(s.reboot_required_file);
        assert_eq!(s.reboot_required_packages, ["linux-base"]);
        assert_eq!(s.running_kernel.as_deref(), Some("6.1.0-18-amd64"));
        assert_eq!(s.newest_kernel.as_deref(), Some("6.1.0-20-amd64"));
        assert!(s.newer_kernel_installed);
        assert!(s.reboot_required);
        assert_eq!(s.warnings, ["W: Some index files failed to download"]);

        // Running the newest: no reboot; no index: a warning, no age.
        let extra = "stead-patches deb-kernel installed\tlinux-image-6.1.0-18-amd64\t6.1.76-1\n";
        let s = parse(&apt(extra, "", 0), "").unwrap();
        assert!(!s.reboot_required && !s.newer_kernel_installed);
        assert_eq!(s.index_age_seconds, None);
        assert!(s.warnings[0].starts_with("no package index"), "{:?}", s.warnings);

        // A kernel dpkg does not know (a container's): release strings compared.
        let k = |release: &str, version: &str| Kernel { release: release.into(), version: version.into() };
        let kernels = [k("999.0.0-stead", "999.0")];
        assert_eq!(
            newest_kernel(&kernels, Some("6.18.44-fc-v657"), debversion::compare),
            (Some("999.0.0-stead".into()), true)
        );
        assert!(!newest_kernel(&[k("5.10.0-1-amd64", "5.10")], Some("6.1.0-1-amd64"), debversion::compare).1);
        assert_eq!(newest_kernel(&[], Some("6.1.0"), debversion::compare), (None, false));
        // Another flavour of the running version is not a newer kernel.
        let flavours = [k("6.1.0-18-amd64", "6.1.76-1"), k("6.1.0-18-cloud-amd64", "6.1.76-1")];
        assert!(!newest_kernel(&flavours, Some("6.1.0-18-amd64"), debversion::compare).1);
        // Ubuntu's ABI numbers compare as numbers.
        let ubuntu = [k("5.15.0-91-generic", "5.15.0-91.101"), k("5.15.0-101-generic", "5.15.0-101.111")];
        assert_eq!(
            newest_kernel(&ubuntu, Some("5.15.0-91-generic"), debversion::compare),
            (Some("5.15.0-101-generic".into()), true)
        );
    }

    #[test]
    fn a_host_without_apt_or_dnf_is_unsupported_not_an_error() {
        let s = parse(&format!("{HEAD}stead-patches manager none\n"), "").unwrap();
        assert!(!s.supported);
        assert!(s.reason.unwrap().contains("neither apt-get"));
        assert_eq!(s.pending_count, None);
        assert_eq!(s.security_count, None);
        let json = serde_json::to_value(parse(&format!("{HEAD}stead-patches manager none\n"), "").unwrap()).unwrap();
        assert_eq!(json["supported"], false);
        assert_eq!(json["pending_count"], serde_json::Value::Null);
    }

    fn dnf(check: &str, check_status: i32, security: &str, security_status: i32) -> String {
        format!(
            "{HEAD}stead-patches manager dnf\nstead-patches index 1764630000\n\
             stead-patches rpm-kernel 0\t5.14.0\t362.8.1.el9_3\tx86_64\n\
             stead-patches rpm-kernel (none)\t5.14.0\t427.13.1.el9_4\tx86_64\n\
             stead-patches begin installed\nopenssl-libs.x86_64\t1:3.0.7-24.el9\nbash.x86_64\t(none):5.1.8-6.el9\n\
             kernel.x86_64\t(none):5.14.0-362.8.1.el9_3\nstead-patches end installed 0\n\
             stead-patches begin check-update\n{check}stead-patches end check-update {check_status}\n\
             stead-patches begin security\n{security}stead-patches end security {security_status}\n"
        )
    }

    #[test]
    fn dnf_check_update_and_security_advisories() {
        let check = "\nbash.x86_64                 5.1.8-9.el9                 baseos\n\
                     openssl-libs.x86_64   1:3.0.7-27.el9   baseos\n\
                     kernel.x86_64   5.14.0-427.13.1.el9_4   baseos\n\
                     a line that is not a package\n\
                     Obsoleting Packages\ngrub2-tools.x86_64  1:2.06-70.el9  baseos\n    grub2-tools.x86_64 1:2.06-61.el9 @anaconda\n";
        let security = "RHSA-2024:1234 Important/Sec. openssl-libs-1:3.0.7-25.el9_3.x86_64\n\
                        RHSA-2024:2000 Important/Sec. kernel-5.14.0-427.13.1.el9_4.x86_64\n";
        let s = parse(&dnf(check, 100, security, 0), "").unwrap();
        assert_eq!(s.manager.as_deref(), Some("dnf"));
        let got: Vec<(&str, Option<&str>, &str, bool)> = s
            .pending
            .iter()
            .map(|p| (p.name.as_str(), p.installed.as_deref(), p.candidate.as_str(), p.security))
            .collect();
        assert_eq!(
            got,
            [
                ("bash", Some("5.1.8-6.el9"), "5.1.8-9.el9", false),
                ("kernel", Some("5.14.0-362.8.1.el9_3"), "5.14.0-427.13.1.el9_4", true),
                ("openssl-libs", Some("1:3.0.7-24.el9"), "1:3.0.7-27.el9", true),
            ]
        );
        assert_eq!(s.pending[0].sources, ["baseos"]);
        assert_eq!(s.security_count, Some(2));
        assert!(s.warnings.iter().any(|w| w.contains("1 line(s)")), "{:?}", s.warnings);
        assert_eq!(s.running_kernel.as_deref(), Some("6.1.0-18-amd64"));
        assert_eq!(s.newest_kernel.as_deref(), Some("5.14.0-427.13.1.el9_4.x86_64"));

        // Nothing pending (exit 0); check-update failing (exit 1) fails the probe.
        assert_eq!(parse(&dnf("", 0, "", 0), "").unwrap().pending_count, Some(0));
        let e = parse(&dnf("", 1, "", 0), "Error: Cache-only enabled but no cache for 'baseos'\n").unwrap_err();
        assert!(e.0.contains("dnf check-update` failed (exit 1): Error: Cache-only"), "{e}");
        // Advisories unreadable: pending still counted, security unknown said.
        let s = parse(&dnf(check, 100, "", 1), "").unwrap();
        assert_eq!(s.pending_count, Some(3));
        assert!(s.warnings.iter().any(|w| w.starts_with("security advisories unknown")), "{:?}", s.warnings);
    }

    #[test]
    fn rpm_version_comparison_matches_rpmvercmp() {
        use Ordering::*;
        for (a, b, want) in [
            ("1.0", "1.0", Equal),
            ("1.0", "2.0", Less),
            ("2.0.1", "2.0", Greater),
            ("1.0a", "1.0", Greater),
            ("10", "9", Greater),
            ("010", "10", Equal),
            ("1.0~rc1", "1.0", Less),
            ("1.0~rc1", "1.0~rc2", Less),
            ("1.0^", "1.0", Greater),
            ("1.0^git1", "1.0.1", Less),
            ("a", "1", Less),
            ("1_0", "1.0", Equal),
            ("5.14.0", "5.14.0", Equal),
        ] {
            assert_eq!(rpmvercmp(a, b), want, "{a} vs {b}");
            assert_eq!(rpmvercmp(b, a), want.reverse(), "{b} vs {a}");
        }
        assert_eq!(compare_evr("1:1.0-1", "2.0-1"), Greater);
        assert_eq!(compare_evr("0:5.14.0-427.el9", "5.14.0-362.el9"), Greater);
        assert_eq!(nevra_name_arch("openssl-libs-1:3.0.7-25.el9_3.x86_64"), Some(("openssl-libs", "x86_64")));
        assert_eq!(nevra_name_arch("Important/Sec."), None);
        assert_eq!(nevra_name_arch("RHSA-2024:1234"), None);
    }
}
