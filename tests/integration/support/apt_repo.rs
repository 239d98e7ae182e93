//! A local apt repository for Tier-B hosts, which have no route outside
//! their /24 (CONTRACT §7).
//!
//! Built once per test process on the controller, before any host of the
//! process comes up (each host's `/` is an overlay of this machine's, so the
//! directory is visible inside it): a few small real packages that this
//! machine does not have, fetched with `apt-get download` into a cache under
//! /var/tmp (so reruns do not download again), and two versions of a dummy
//! package built with `dpkg-deb` (for `state: latest` and `purge`), indexed
//! with `dpkg-scanpackages`. [`AptRepo::use_in`] makes a host's only source
//! `deb [trusted=yes] file:DIR ./` and runs `apt-get update` inside it.
//!
//! Nothing here installs or removes a package on this machine: downloads
//! only write into the cache directory.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use super::testhosts::{TestHost, TestHosts};

/// Real packages in the repository: small ones depending only on libc6,
/// and what the bundled hardening roles install (their dependencies that
/// this machine lacks included).
pub const REAL: &[&str] =
    &["hello", "figlet", "tree", "unattended-upgrades", "python3-distro-info", "auditd", "libauparse0", "restic"];
/// The dummy package, in versions 1.0 and 2.0, with a conffile.
pub const DUMMY: &str = "stead-dummy";
/// The dummy's conffile.
pub const DUMMY_CONF: &str = "/etc/stead-dummy.conf";

/// Bump when the repository's content changes.
const LAYOUT: &str = "v2";
const CACHE: &str = "/var/tmp/stead-apt-cache";

/// The repository.
#[derive(Debug)]
pub struct AptRepo {
    /// Its directory (`Packages` and the `.deb` files).
    pub dir: PathBuf,
}

/// The repository, built on first use; `None` (after saying why) when it
/// cannot be built here.
pub fn repo() -> Option<&'static AptRepo> {
    static REPO: OnceLock<Result<AptRepo, String>> = OnceLock::new();
    match REPO.get_or_init(build) {
        Ok(r) => Some(r),
        Err(e) => {
            assert!(std::env::var("CI").as_deref() != Ok("true"), "cannot build the test apt repository: {e}");
            eprintln!("skipped: cannot build the test apt repository: {e}");
            None
        }
    }
}

fn sh(script: &str, dir: &Path) -> Result<String, String> {
    let out = Command::new("sh").arg("-c").arg(script).current_dir(dir).output().map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!("{script}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
    }
}

fn build() -> Result<AptRepo, String> {
    // The hosts start as copies of this machine: the tests install these.
    for p in REAL.iter().chain([&DUMMY]) {
        let out = Command::new("dpkg-query").args(["-W", "-f", "${db:Status-Status}", p]).output();
        if out.is_ok_and(|o| o.stdout.starts_with(b"installed")) {
            return Err(format!("{p} is installed on this machine; the package tests install it in their hosts"));
        }
    }
    let dir = PathBuf::from(format!("{CACHE}/repo-{LAYOUT}"));
    if dir.join("Packages").is_file() {
        return Ok(AptRepo { dir });
    }
    let debs = PathBuf::from(format!("{CACHE}/debs"));
    std::fs::create_dir_all(&debs).map_err(|e| e.to_string())?;
    let missing: Vec<&str> = REAL
        .iter()
        .copied()
        .filter(|p| {
            !std::fs::read_dir(&debs)
                .into_iter()
                .flatten()
                .flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with(&format!("{p}_")))
        })
        .collect();
    if !missing.is_empty() {
        let names = missing.join(" ");
        if sh(&format!("apt-get download {names}"), &debs).is_err() {
            // No package lists on this machine: fetch them into the cache,
            // leaving this machine's own lists alone.
            let opts =
                format!("-o Dir::State::Lists={CACHE}/lists -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache=");
            sh(&format!("mkdir -p {CACHE}/lists/partial && apt-get {opts} update -q"), &debs)?;
            sh(&format!("apt-get {opts} download {names}"), &debs)?;
        }
    }
    let tmp = PathBuf::from(format!("{CACHE}/repo-{LAYOUT}.tmp{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| e.to_string())?;
    sh(&format!("cp {}/*.deb .", debs.display()), &tmp)?;
    for version in ["1.0", "2.0"] {
        build_dummy(&tmp, version)?;
    }
    let index = "if command -v dpkg-scanpackages >/dev/null; then dpkg-scanpackages --multiversion . /dev/null; \
                 else apt-ftparchive packages .; fi >Packages 2>/dev/null && chmod -R a+rX .";
    sh(index, &tmp)?;
    match std::fs::rename(&tmp, &dir) {
        Ok(()) => {}
        // Another test process built it first.
        Err(_) if dir.join("Packages").is_file() => {
            let _ = std::fs::remove_dir_all(&tmp);
        }
        Err(e) => return Err(format!("rename {}: {e}", tmp.display())),
    }
    Ok(AptRepo { dir })
}

fn build_dummy(repo: &Path, version: &str) -> Result<(), String> {
    let root = repo.join(format!("build-{version}"));
    std::fs::create_dir_all(root.join("DEBIAN")).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(root.join("etc")).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(root.join("usr/share/stead-dummy")).map_err(|e| e.to_string())?;
    let control = format!(
        "Package: {DUMMY}\nVersion: {version}\nArchitecture: all\nMaintainer: stead tests <tests@localhost>\n\
         Section: misc\nPriority: optional\nDescription: stead's test package\n"
    );
    let write = |rel: &str, text: &str| std::fs::write(root.join(rel), text).map_err(|e| e.to_string());
    write("DEBIAN/control", &control)?;
    write("DEBIAN/conffiles", &format!("{DUMMY_CONF}\n"))?;
    write(&DUMMY_CONF[1..], "setting=1\n")?;
    write("usr/share/stead-dummy/version", &format!("{version}\n"))?;
    sh(
        &format!("dpkg-deb --root-owner-group --build build-{version} {DUMMY}_{version}_all.deb >/dev/null && rm -rf build-{version}"),
        repo,
    )?;
    Ok(())
}

impl AptRepo {
    /// Makes the repository a host's only apt source and updates its lists
    /// (inside the host only).
    pub fn use_in(&self, hosts: &TestHosts, host: &TestHost) {
        hosts.sh(
            host,
            &format!(
                "rm -f /etc/apt/sources.list && rm -rf /etc/apt/sources.list.d && mkdir /etc/apt/sources.list.d && \
                 echo 'deb [trusted=yes] file:{} ./' >/etc/apt/sources.list.d/stead-test.list && \
                 apt-get update -q >/dev/null",
                self.dir.display()
            ),
        );
    }

    /// The version of a package in the repository (from its index).
    pub fn version(&self, package: &str) -> String {
        let index = std::fs::read_to_string(self.dir.join("Packages")).unwrap_or_default();
        let mut name = "";
        for line in index.lines() {
            if let Some(n) = line.strip_prefix("Package: ") {
                name = n;
            }
            if let (Some(v), true) = (line.strip_prefix("Version: "), name == package) {
                return v.to_owned();
            }
        }
        panic!("{package} is not in the test repository");
    }
}

/// A package this machine has installed that nothing installed depends
/// on, so a host can remove it; with its version.
pub fn removable_base_package() -> Option<(String, String)> {
    for p in ["bc", "time", "lsof", "strace"] {
        let status =
            Command::new("dpkg-query").args(["-W", "-f", "${db:Status-Status} ${Version}", p]).output().ok()?;
        let text = String::from_utf8_lossy(&status.stdout).into_owned();
        let Some(version) = text.strip_prefix("installed ") else { continue };
        let rdeps = Command::new("apt-cache").args(["rdepends", "--installed", p]).output().ok()?;
        let lines = String::from_utf8_lossy(&rdeps.stdout).lines().count();
        // "NAME" and "Reverse Depends:" only.
        if lines <= 2 {
            return Some((p.to_owned(), version.to_owned()));
        }
    }
    None
}

/// dpkg's status word and version of a package inside a host
/// (`not-installed` when dpkg does not know it).
pub fn dpkg_state(hosts: &TestHosts, host: &TestHost, package: &str) -> String {
    let out = hosts.exec(host, &format!("dpkg-query -W -f '${{db:Status-Status}} ${{Version}}' {package} 2>/dev/null"));
    let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if text.is_empty() {
        "not-installed".into()
    } else {
        text
    }
}

/// `.deb` files of this machine's package lists (not installed anywhere),
/// fetched once with `apt-get download` into `dir` under the cache, for
/// tests that install them inside a host with `dpkg -i`. `None` (after
/// saying why) when they cannot be fetched; a failure under CI.
pub fn downloaded(dir: &'static str, packages: &[&str]) -> Option<&'static str> {
    static FETCHED: std::sync::Mutex<Vec<(&'static str, Result<(), String>)>> = std::sync::Mutex::new(Vec::new());
    let mut fetched = FETCHED.lock().unwrap_or_else(|e| e.into_inner());
    if !fetched.iter().any(|(d, _)| *d == dir) {
        let have = |p: &str| {
            std::fs::read_dir(dir)
                .into_iter()
                .flatten()
                .flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with(&format!("{p}_")))
        };
        let result = if packages.iter().all(|p| have(p)) {
            Ok(())
        } else {
            std::fs::create_dir_all(dir).map_err(|e| e.to_string()).and_then(|()| {
                let out = Command::new("apt-get")
                    .arg("download")
                    .args(packages)
                    .current_dir(dir)
                    .output()
                    .map_err(|e| e.to_string())?;
                if out.status.success() {
                    Ok(())
                } else {
                    Err(String::from_utf8_lossy(&out.stderr).into_owned())
                }
            })
        };
        fetched.push((dir, result));
    }
    match fetched.iter().find(|(d, _)| *d == dir).map(|(_, r)| r) {
        Some(Ok(())) => Some(dir),
        Some(Err(e)) => {
            assert!(std::env::var("CI").as_deref() != Ok("true"), "cannot fetch {packages:?}: {e}");
            eprintln!("skipped: cannot fetch {packages:?}: {e}");
            None
        }
        None => None,
    }
}

/// The repository of the patch status tests (`tier_b/patches.rs`): two
/// flat apt repositories with `Release` files of their own, so apt knows
/// their suites. `main` (suite `stead-stable`) holds
/// [`PATCH_DEMO`] 1.0 and [`PATCH_OTHER`] 1.0 and 1.1; `security` (suite
/// `stead-security`) holds [`PATCH_DEMO`] 1.1. The `.deb` files (and a
/// fake kernel package, [`PATCH_KERNEL`], in no index) are built with
/// `dpkg-deb`. Nothing is installed on this machine.
#[derive(Debug)]
pub struct PatchRepo {
    /// Its directory: `main/`, `security/` and the `.deb` files in `debs/`.
    pub dir: PathBuf,
}

/// A package whose pending upgrade comes from the security suite.
pub const PATCH_DEMO: &str = "stead-patch-demo";
/// A package whose pending upgrade comes from the normal suite.
pub const PATCH_OTHER: &str = "stead-patch-other";
/// A kernel image package newer than any running kernel, named as Debian
/// names them, `linux-image-RELEASE`.
pub const PATCH_KERNEL: &str = "linux-image-999.0.0-stead-test";
/// The suites of [`PatchRepo`].
pub const PATCH_SUITES: [&str; 2] = ["stead-stable", "stead-security"];

/// The patch repository, built on first use (before the test's hosts come
/// up); `None` (after saying why) when it cannot be built here.
pub fn patch_repo() -> Option<&'static PatchRepo> {
    static REPO: OnceLock<Result<PatchRepo, String>> = OnceLock::new();
    match REPO.get_or_init(build_patch_repo) {
        Ok(r) => Some(r),
        Err(e) => {
            assert!(std::env::var("CI").as_deref() != Ok("true"), "cannot build the patch test repository: {e}");
            eprintln!("skipped: cannot build the patch test repository: {e}");
            None
        }
    }
}

fn build_patch_repo() -> Result<PatchRepo, String> {
    use sha2::{Digest, Sha256};
    for p in [PATCH_DEMO, PATCH_OTHER, PATCH_KERNEL] {
        let out = Command::new("dpkg-query").args(["-W", "-f", "${db:Status-Status}", p]).output();
        if out.is_ok_and(|o| o.stdout.starts_with(b"installed")) {
            return Err(format!("{p} is installed on this machine; the patch tests install it in their hosts"));
        }
    }
    let dir = PathBuf::from(format!("{CACHE}/patches-v1"));
    if dir.join("security/Release").is_file() {
        return Ok(PatchRepo { dir });
    }
    let tmp = PathBuf::from(format!("{CACHE}/patches-v1.tmp{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    for sub in ["debs", "main", "security"] {
        std::fs::create_dir_all(tmp.join(sub)).map_err(|e| e.to_string())?;
    }
    let debs = tmp.join("debs");
    for (name, version) in [
        (PATCH_DEMO, "1.0"),
        (PATCH_DEMO, "1.1"),
        (PATCH_OTHER, "1.0"),
        (PATCH_OTHER, "1.1"),
        (PATCH_KERNEL, "999.0.0-1"),
    ] {
        let root = debs.join(format!("build-{name}-{version}"));
        std::fs::create_dir_all(root.join("DEBIAN")).map_err(|e| e.to_string())?;
        std::fs::create_dir_all(root.join(format!("usr/share/{name}"))).map_err(|e| e.to_string())?;
        let control = format!(
            "Package: {name}\nVersion: {version}\nArchitecture: all\nMaintainer: stead tests <tests@localhost>\n\
             Section: misc\nPriority: optional\nDescription: stead's patch status test package\n"
        );
        std::fs::write(root.join("DEBIAN/control"), control).map_err(|e| e.to_string())?;
        std::fs::write(root.join(format!("usr/share/{name}/version")), format!("{version}\n"))
            .map_err(|e| e.to_string())?;
        sh(
            &format!(
                "dpkg-deb --root-owner-group --build {0} {name}_{version}_all.deb >/dev/null && rm -rf {0}",
                root.display()
            ),
            &debs,
        )?;
    }
    let suites = [
        ("main", PATCH_SUITES[0], "stead-test", &[(PATCH_DEMO, "1.0"), (PATCH_OTHER, "1.0"), (PATCH_OTHER, "1.1")][..]),
        ("security", PATCH_SUITES[1], "stead-test-security", &[(PATCH_DEMO, "1.1")][..]),
    ];
    for (sub, suite, label, packages) in suites {
        let d = tmp.join(sub);
        for (name, version) in packages {
            let file = format!("{name}_{version}_all.deb");
            std::fs::copy(debs.join(&file), d.join(&file)).map_err(|e| e.to_string())?;
        }
        let index = "if command -v dpkg-scanpackages >/dev/null; then dpkg-scanpackages --multiversion . /dev/null; \
                     else apt-ftparchive packages .; fi >Packages 2>/dev/null";
        sh(index, &d)?;
        let packages = std::fs::read(d.join("Packages")).map_err(|e| e.to_string())?;
        let release = format!(
            "Origin: stead-test\nLabel: {label}\nSuite: {suite}\nCodename: {suite}\nVersion: 1.0\n\
             Date: Sat, 01 Nov 2025 00:00:00 UTC\nArchitectures: all amd64 arm64\nComponents: main\n\
             Description: stead patch status tests\nSHA256:\n {:x} {} Packages\n",
            Sha256::digest(&packages),
            packages.len()
        );
        std::fs::write(d.join("Release"), release).map_err(|e| e.to_string())?;
    }
    sh("chmod -R a+rX .", &tmp)?;
    match std::fs::rename(&tmp, &dir) {
        Ok(()) => {}
        Err(_) if dir.join("security/Release").is_file() => {
            let _ = std::fs::remove_dir_all(&tmp);
        }
        Err(e) => return Err(format!("rename {}: {e}", tmp.display())),
    }
    Ok(PatchRepo { dir })
}

impl PatchRepo {
    /// Inside a host: installs `debs` (`NAME_VERSION`) with `dpkg -i`, makes
    /// the two suites its only apt sources, and updates its lists (the
    /// test's setup does; stead's probe never does).
    pub fn use_in(&self, hosts: &TestHosts, host: &TestHost, debs: &[&str]) {
        let files: Vec<String> = debs.iter().map(|d| format!("{}/debs/{d}_all.deb", self.dir.display())).collect();
        hosts.sh(
            host,
            &format!(
                "dpkg -i {} >/dev/null && \
                 rm -f /etc/apt/sources.list && rm -rf /etc/apt/sources.list.d && mkdir /etc/apt/sources.list.d && \
                 echo 'deb [trusted=yes] file:{1}/main ./' >/etc/apt/sources.list.d/stead-main.list && \
                 echo 'deb [trusted=yes] file:{1}/security ./' >/etc/apt/sources.list.d/stead-security.list && \
                 apt-get update -q >/dev/null",
                files.join(" "),
                self.dir.display()
            ),
        );
    }
}
