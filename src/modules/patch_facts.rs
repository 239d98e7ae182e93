//! `patch_facts`: the host's patch status as `ansible_facts.patch_status`
//! (a stead module; Ansible has none): pending upgrades and the security
//! ones among them, the running kernel against the newest installed, the
//! reboot-required flag, and the age of the package index. `stead facts
//! --patches` runs it on every matching host (docs/patches.md).
//!
//! One remote exec, POSIX sh and the package tools already on the host:
//! `apt-get -s dist-upgrade` (a simulation, with `Debug::NoLocking` so it
//! needs no lock and works without root, and its binary caches kept in
//! memory, so even `pkgcache.bin` is not rewritten) and `dpkg-query` on Debian and
//! Ubuntu; `dnf -C` / `yum -C` (cache only) and `rpm -q` elsewhere. It never
//! refreshes an index (`apt-get update`, `dnf makecache`), never installs
//! anything, never writes a file: how stale the index is, is part of the
//! answer. The script is a constant: no value of a playbook or the host
//! reaches it. The parsing is pure, in [`super::patch_status`].

use serde_json::{json, Map, Value};

use super::patch_status::{self, PatchStatus};
use super::{Action, ArgSpec, Args, Module, ModuleError, ModuleSpec, Plan, ResultMap, TaskContext};
use crate::transport::ExecOutput;

/// The `patch_facts` module.
pub struct PatchFacts;

static SPEC: ModuleSpec = ModuleSpec::new(&[] as &[ArgSpec]);

/// The fact it sets, under `ansible_facts`.
pub const FACT: &str = "patch_status";

/// The probe. Every line it writes itself starts with
/// [`patch_status::MARK`]; a tool's output sits between `begin NAME` and
/// `end NAME STATUS` lines (the end line after a newline of its own, so a
/// last line without one cannot swallow it).
pub const SCRIPT: &str = r#"LC_ALL=C
export LC_ALL
exec </dev/null
echo 'stead-patches version 1'
echo "stead-patches now $(date +%s)"
echo "stead-patches kernel $(uname -r)"
for f in /var/run/reboot-required /run/reboot-required; do
  if [ -e "$f" ]; then
    echo "stead-patches reboot-file $f"
    if [ -r "$f.pkgs" ]; then sed 's/^/stead-patches reboot-pkg /' "$f.pkgs"; fi
    break
  fi
done
if command -v apt-get >/dev/null 2>&1 && command -v dpkg-query >/dev/null 2>&1; then
  echo 'stead-patches manager apt'
  for f in /var/lib/apt/lists/*_Release /var/lib/apt/lists/*_InRelease; do
    if [ -f "$f" ]; then echo "stead-patches index $(stat -c %Y "$f")"; fi
  done
  dpkg-query -W -f '${db:Status-Status}\t${Package}\t${Version}\n' 'linux-image-*' 2>/dev/null | sed 's/^/stead-patches deb-kernel /'
  echo 'stead-patches begin simulate'
  apt-get -s -q -o Debug::NoLocking=1 -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= -o APT::Get::Show-User-Simulation-Note=false dist-upgrade
  rc=$?
  printf '\nstead-patches end simulate %s\n' "$rc"
elif command -v rpm >/dev/null 2>&1 && { command -v dnf || command -v yum; } >/dev/null 2>&1; then
  if command -v dnf >/dev/null 2>&1; then tool=dnf; else tool=yum; fi
  echo "stead-patches manager $tool"
  for f in /var/cache/dnf/*/repodata/repomd.xml /var/cache/libdnf5/*/repodata/repomd.xml /var/cache/yum/*/*/*/repomd.xml /var/cache/yum/*/*/repomd.xml; do
    if [ -f "$f" ]; then echo "stead-patches index $(stat -c %Y "$f")"; fi
  done
  rpm -q kernel-core kernel --qf 'stead-patches rpm-kernel %{EPOCH}\t%{VERSION}\t%{RELEASE}\t%{ARCH}\n' 2>/dev/null
  echo 'stead-patches begin installed'
  rpm -qa --qf '%{NAME}.%{ARCH}\t%{EPOCH}:%{VERSION}-%{RELEASE}\n'
  rc=$?
  printf '\nstead-patches end installed %s\n' "$rc"
  echo 'stead-patches begin check-update'
  "$tool" -q -C check-update
  rc=$?
  printf '\nstead-patches end check-update %s\n' "$rc"
  echo 'stead-patches begin security'
  "$tool" -q -C updateinfo list --security
  rc=$?
  printf '\nstead-patches end security %s\n' "$rc"
else
  echo 'stead-patches manager none'
fi
"#;

impl Module for PatchFacts {
    fn name(&self) -> &'static str {
        "patch_facts"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn defines(&self, _args: &Map<String, Value>) -> Vec<String> {
        vec![FACT.into(), "ansible_facts".into()]
    }

    fn prepare(&self, _args: &Args, _ctx: &dyn TaskContext) -> Result<Box<dyn Action>, ModuleError> {
        Ok(Box::new(PatchFactsAction))
    }
}

/// One `patch_facts` task on one host.
#[derive(Debug)]
pub struct PatchFactsAction;

/// The one-line summary in the task's `msg`.
pub fn summary(s: &PatchStatus) -> String {
    if !s.supported {
        return format!("patch status not supported: {}", s.reason.as_deref().unwrap_or("unknown"));
    }
    let mut text = format!(
        "{} pending upgrade(s), {} security",
        s.pending_count.unwrap_or_default(),
        s.security_count.unwrap_or_default()
    );
    if s.reboot_required {
        text.push_str("; reboot required");
    }
    match s.index_age_seconds {
        Some(age) => text.push_str(&format!(
            "; package index {} old",
            humantime::format_duration(std::time::Duration::from_secs(age))
        )),
        None => text.push_str("; no package index"),
    }
    text
}

impl Action for PatchFactsAction {
    fn paths(&self) -> Option<Vec<String>> {
        // What the probe reads: an apply that touches them sends it again.
        Some(vec!["/var/lib/dpkg".into(), "/var/lib/apt".into(), "/var/lib/rpm".into(), "/var/cache".into()])
    }

    fn probe(&self) -> Option<String> {
        Some(SCRIPT.into())
    }

    fn compare(&mut self, probe: Option<&ExecOutput>) -> Result<Plan, ModuleError> {
        let out = probe.ok_or_else(|| ModuleError::Probe("the patch_facts probe did not run".into()))?;
        if out.status != 0 {
            let why: Vec<String> = out.stderr_text().lines().take(5).map(patch_status::printable).collect();
            return Err(ModuleError::failed(format!(
                "the patch probe failed (exit {}): {}",
                out.status,
                why.join("; ")
            )));
        }
        let status = patch_status::parse(&out.stdout_text(), &out.stderr_text())
            .map_err(|e| ModuleError::failed(format!("cannot read the patch status: {e}")))?;
        let mut result = ResultMap::new();
        result.insert("ansible_facts".into(), json!({ FACT: status }));
        Ok(Plan { result, msg: Some(summary(&status)), ..Plan::ok() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::file_write::testing::run;

    /// The probe runs for real on this machine with `sh`, reads, and
    /// parses; whatever this machine is, the answer is a status, not a panic.
    #[test]
    fn the_probe_runs_here_and_parses() {
        let out = run(SCRIPT, b"");
        assert_eq!(out.status, 0, "{}", out.stderr_text());
        let status = patch_status::parse(&out.stdout_text(), &out.stderr_text());
        if std::path::Path::new("/usr/bin/apt-get").exists() {
            let s = status.unwrap_or_else(|e| panic!("{e}\n{}", out.stdout_text()));
            assert!(s.supported);
            assert_eq!(s.manager.as_deref(), Some("apt"));
            assert_eq!(s.pending_count, Some(s.pending.len()));
            assert!(s.running_kernel.is_some());
            assert!(!summary(&s).is_empty());
        }
    }

    #[test]
    fn the_probe_never_refreshes_or_installs() {
        for word in [" update", " install ", "makecache", " -y", "rm ", "> /", ">/"] {
            let hits: Vec<&str> = SCRIPT
                .lines()
                .filter(|l| {
                    l.contains(word)
                        && !l.contains("check-update")
                        && !l.contains("updateinfo")
                        && !l.contains("/dev/null")
                })
                .collect();
            assert!(hits.is_empty(), "`{word}` in the probe: {hits:?}");
        }
        assert!(SCRIPT.contains("apt-get -s "), "apt-get only simulates");
        assert!(
            SCRIPT.contains("-q -C check-update") && SCRIPT.contains("-q -C updateinfo"),
            "dnf reads its cache only"
        );
    }

    #[test]
    fn summary_says_counts_reboot_and_index_age() {
        let s = PatchStatus {
            supported: true,
            pending_count: Some(2),
            security_count: Some(1),
            reboot_required: true,
            index_age_seconds: Some(7200),
            ..PatchStatus::default()
        };
        assert_eq!(summary(&s), "2 pending upgrade(s), 1 security; reboot required; package index 2h old");
        let none = PatchStatus { reason: Some("no tools".into()), ..PatchStatus::default() };
        assert_eq!(summary(&none), "patch status not supported: no tools");
    }
}
