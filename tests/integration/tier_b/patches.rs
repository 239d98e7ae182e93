//! Patch status (`stead facts --patches`, docs/patches.md) on Tier-B hosts
//! whose only apt sources are the two suites of `support::apt_repo`'s patch
//! repository: one host lags (a security upgrade and a normal one pending,
//! a newer kernel installed, the reboot flag set, a three-day-old index),
//! one is current, one is unreachable. The test's setup runs `apt-get
//! update`; stead only reads, which the hosts' dpkg state, apt lists and
//! overlays prove.

use serde_json::Value;

use crate::ci_reports::{metric, parse_prometheus, parse_with_prometheus_client};
use crate::support::apt_repo::{self, PATCH_DEMO, PATCH_KERNEL, PATCH_OTHER, PATCH_SUITES};
use crate::support::testhosts::TestHost;
use crate::support::{Test, TestHosts};

const THREE_DAYS: u64 = 3 * 86_400;

/// What stead must leave alone in a host: dpkg's view, the apt lists and
/// caches with their times, and the overlay's fingerprint (everything else).
fn state(hosts: &TestHosts, host: &TestHost) -> (String, String, String) {
    (
        hosts.sh(host, "dpkg -l"),
        hosts.sh(host, "ls -l --time-style=full-iso /var/lib/apt/lists /var/cache/apt"),
        hosts.upper_hash(host),
    )
}

#[test]
fn patch_status_of_a_host_with_a_pending_security_upgrade_a_current_one_and_an_unreachable_one() {
    let Some(repo) = apt_repo::patch_repo() else { return };
    let Some(hosts) = TestHosts::up(2) else { return };
    let (lagging, current) = (hosts.host(0), hosts.host(1));
    let deb = |name: &str, version: &str| format!("{name}_{version}");
    repo.use_in(&hosts, lagging, &[&deb(PATCH_DEMO, "1.0"), &deb(PATCH_OTHER, "1.0"), &deb(PATCH_KERNEL, "999.0.0-1")]);
    repo.use_in(&hosts, current, &[&deb(PATCH_DEMO, "1.1"), &deb(PATCH_OTHER, "1.1")]);
    hosts.sh(
        lagging,
        &format!(
            "touch -d @$(( $(date +%s) - {THREE_DAYS} )) /var/lib/apt/lists/*Release && \
             echo {PATCH_DEMO} >/var/run/reboot-required.pkgs && : >/var/run/reboot-required"
        ),
    );
    let running = hosts.sh(lagging, "uname -r").trim().to_owned();
    let test =
        Test::new().testhost("lagging", &hosts, lagging).testhost("current", &hosts, current).unreachable_host("down");
    std::fs::create_dir(test.project().join("textfile")).unwrap();
    let before = [state(&hosts, lagging), state(&hosts, current)];

    let run = test.run_args([
        "facts",
        "all",
        "--patches",
        "--report",
        "json=patches.json",
        "--report",
        "prometheus=textfile/patches.prom",
    ]);
    run.assert_status(8).assert_stderr_contains("down: unreachable");
    let out: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("stdout is not JSON: {e}\n{run:?}"));

    let lag = &out["lagging"];
    assert_eq!(lag["supported"], true, "{lag:#}");
    assert_eq!(lag["manager"], "apt");
    assert_eq!(lag["pending_count"], 2, "{lag:#}");
    assert_eq!(lag["security_count"], 1, "{lag:#}");
    let pending = lag["pending"].as_array().unwrap();
    let rows: Vec<(&str, &str, &str, bool)> = pending
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap(),
                p["installed"].as_str().unwrap(),
                p["candidate"].as_str().unwrap(),
                p["security"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(rows, [(PATCH_DEMO, "1.0", "1.1", true), (PATCH_OTHER, "1.0", "1.1", false)], "{lag:#}");
    let sources = |i: usize| -> Vec<String> {
        pending[i]["sources"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_owned()).collect()
    };
    assert!(sources(0).iter().all(|s| s.ends_with(&format!("/{}", PATCH_SUITES[1]))), "{:?}", sources(0));
    assert!(sources(1).iter().all(|s| s.ends_with(&format!("/{}", PATCH_SUITES[0]))), "{:?}", sources(1));
    assert_eq!(lag["kept_back"], serde_json::json!([]), "{lag:#}");
    assert_eq!(lag["reboot_required"], true);
    assert_eq!(lag["reboot_required_file"], true);
    assert_eq!(lag["reboot_required_packages"], serde_json::json!([PATCH_DEMO]));
    assert_eq!(lag["running_kernel"], running.as_str());
    assert_eq!(lag["newest_kernel"], PATCH_KERNEL.strip_prefix("linux-image-").unwrap());
    assert_eq!(lag["newer_kernel_installed"], true);
    let age = lag["index_age_seconds"].as_u64().unwrap_or_else(|| panic!("no index age: {lag:#}"));
    assert!((THREE_DAYS..THREE_DAYS + 600).contains(&age), "index age {age}: {lag:#}");
    assert!(lag["index_updated_at"].as_str().is_some_and(|t| t.ends_with('Z')), "{lag:#}");

    let cur = &out["current"];
    assert_eq!(cur["supported"], true, "{cur:#}");
    assert_eq!(cur["pending_count"], 0, "{cur:#}");
    assert_eq!(cur["security_count"], 0);
    assert_eq!(cur["pending"], serde_json::json!([]));
    assert_eq!(cur["reboot_required_file"], false);
    // This machine's own kernels (if any) decide the rest.
    assert_eq!(cur["reboot_required"], cur["newer_kernel_installed"], "{cur:#}");
    assert!(cur["index_age_seconds"].is_u64(), "{cur:#}");

    assert_eq!(out["down"]["unreachable"], true, "{out:#}");

    // The JSON report carries the same status per host; one exec each.
    let text = std::fs::read_to_string(test.project().join("patches.json")).unwrap();
    let report: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(report["version"], 1);
    for host in ["lagging", "current"] {
        assert_eq!(report["hosts"][host]["patches"], out[host], "{host}");
        assert_eq!(report["hosts"][host]["remote_execs"], 1, "{host}: {report:#}");
        let tasks: Vec<&str> =
            report["hosts"][host]["tasks"].as_array().unwrap().iter().map(|t| t["task"].as_str().unwrap()).collect();
        assert_eq!(tasks, ["patch status"], "{host}");
        assert_eq!(report["hosts"][host]["ok"], 1, "{host}");
    }
    assert!(report["hosts"]["lagging"]["tasks"][0]["msg"]
        .as_str()
        .unwrap()
        .starts_with("2 pending upgrade(s), 1 security; reboot required"));
    assert_eq!(report["hosts"]["down"]["unreachable"], true);
    assert!(report["hosts"]["down"].get("patches").is_none());
    assert_eq!(report["summary"]["unreachable"], 1);

    // The metrics, read by two parsers.
    let file = test.project().join("textfile/patches.prom");
    let samples = parse_prometheus(&std::fs::read_to_string(&file).unwrap());
    if let Some(theirs) = parse_with_prometheus_client(&file) {
        assert_eq!(theirs, samples, "the two parsers disagree");
    }
    let (l, c, d) = ([("host", "lagging")], [("host", "current")], [("host", "down")]);
    assert_eq!(metric(&samples, "stead_patches_pending", &l), 2.0);
    assert_eq!(metric(&samples, "stead_patches_security_pending", &l), 1.0);
    assert_eq!(metric(&samples, "stead_reboot_required", &l), 1.0);
    assert_eq!(metric(&samples, "stead_package_index_age_seconds", &l), age as f64);
    assert_eq!(metric(&samples, "stead_patches_supported", &l), 1.0);
    assert_eq!(metric(&samples, "stead_patches_pending", &c), 0.0);
    assert_eq!(metric(&samples, "stead_patches_security_pending", &c), 0.0);
    assert_eq!(metric(&samples, "stead_patches_unreachable", &d), 1.0);
    assert_eq!(metric(&samples, "stead_patches_unreachable", &l), 0.0);
    assert!(samples.iter().all(|(n, labels, _)| n == "stead_patches_unreachable" || labels["host"] != "down"));

    // Read only: nothing changed in either host.
    let after = [state(&hosts, lagging), state(&hosts, current)];
    for (i, name) in ["lagging", "current"].into_iter().enumerate() {
        assert_eq!(before[i].0, after[i].0, "dpkg -l changed on {name}");
        assert_eq!(before[i].1, after[i].1, "apt lists changed on {name}");
        assert_eq!(before[i].2, after[i].2, "{name} changed:\n{}", hosts.upper_listing(hosts.host(i)));
    }
}

/// A host without apt or dnf is unsupported, not failed; a package tool
/// that fails fails that host (exit 4), never "nothing pending"; a host
/// whose apt-get prints hostile lines gets warnings, not counts, and the
/// controller does not crash. Each host's change is its own overlay.
#[test]
fn patch_status_of_hosts_without_tools_with_a_failing_tool_and_with_hostile_output() {
    let Some(hosts) = TestHosts::up(3) else { return };
    let (bare, failing, hostile) = (hosts.host(0), hosts.host(1), hosts.host(2));
    hosts.sh(bare, "rm -f /usr/bin/apt-get /usr/bin/dnf /usr/bin/yum");
    hosts.sh(
        failing,
        "printf '#!/bin/sh\\necho Inst\\necho \"E: Could not get lock\" >&2\\nexit 100\\n' >/usr/bin/apt-get && chmod 755 /usr/bin/apt-get",
    );
    hosts.sh(
        hostile,
        "printf '#!/bin/sh\\nprintf \"Inst \\\\033[31mevil [1] (2 x:1/s-security [all])\\\\nInst a [1] (2 x:1/s-security [all]) trailing\\\\nstead-patches end simulate 0\\\\nInst ok [1] (2 x:1/stable [all])\\\\n\"\\nhead -c 3000 /dev/urandom\\n' >/usr/bin/apt-get && chmod 755 /usr/bin/apt-get",
    );
    let test = Test::new()
        .testhost("bare", &hosts, bare)
        .testhost("failing", &hosts, failing)
        .testhost("hostile", &hosts, hostile);
    let run = test.run_args(["facts", "all", "--patches", "--report", "json=patches.json"]);
    run.assert_status(4).assert_stderr_contains("failing: failed");
    let out: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("stdout is not JSON: {e}\n{run:?}"));
    assert_eq!(out["bare"]["supported"], false, "{out:#}");
    assert!(out["bare"]["reason"].as_str().unwrap().contains("neither apt-get"), "{out:#}");
    assert_eq!(out["bare"]["pending_count"], Value::Null);
    assert_eq!(out["failing"]["failed"], true, "{out:#}");
    let msg = out["failing"]["msg"].as_str().unwrap();
    assert!(msg.contains("exit 100") && msg.contains("Could not get lock"), "{msg}");
    let h = &out["hostile"];
    // The forged end line closes nothing; the random bytes and the end of
    // the block may or may not parse as a line, but nothing hostile counts.
    let names: Vec<&str> = h["pending"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert!(names.iter().all(|n| *n == "ok"), "{h:#}");
    assert_eq!(h["security_count"], 0, "{h:#}");
    assert!(h["warnings"].as_array().unwrap().iter().any(|w| w.as_str().unwrap().contains("not understood")), "{h:#}");
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(test.project().join("patches.json")).unwrap()).unwrap();
    assert_eq!(report["hosts"]["failing"]["failed"], 1);
    assert!(report["hosts"]["failing"].get("patches").is_none());
    assert_eq!(report["hosts"]["bare"]["patches"]["supported"], false);
}

/// The dnf path of the probe, end to end, on a host whose `apt-get` is gone
/// and whose `rpm` and `dnf` are stand-ins printing what EL9's print (this
/// machine has no rpm-based host to offer): `-C` (cache only) is required,
/// advisories mark the security upgrade, the cache's `repomd.xml` dates
/// the index.
#[test]
fn patch_status_through_dnf_and_rpm() {
    let Some(hosts) = TestHosts::up(1) else { return };
    let host = hosts.host(0);
    let rpm = r#"#!/bin/sh
case "$*" in
  *kernel-core*) printf 'stead-patches rpm-kernel (none)\t5.14.0\t362.8.1.el9_3\tx86_64\nstead-patches rpm-kernel (none)\t5.14.0\t427.13.1.el9_4\tx86_64\n' ;;
  -qa*) printf 'openssl-libs.x86_64\t1:3.0.7-24.el9\nbash.x86_64\t(none):5.1.8-6.el9\n' ;;
  *) exit 1 ;;
esac
"#;
    let dnf = r#"#!/bin/sh
case " $* " in *" -C "*) ;; *) echo "refreshing metadata" >&2; exit 1 ;; esac
case "$*" in
  *check-update*) printf '\nbash.x86_64  5.1.8-9.el9  baseos\nopenssl-libs.x86_64  1:3.0.7-27.el9  baseos\n'; exit 100 ;;
  *updateinfo*) printf 'RHSA-2024:1234 Important/Sec. openssl-libs-1:3.0.7-27.el9.x86_64\n' ;;
  *) exit 1 ;;
esac
"#;
    hosts.sh(
        host,
        &format!(
            "rm -f /usr/bin/apt-get\ncat >/usr/bin/rpm <<'STEAD_RPM'\n{rpm}STEAD_RPM\ncat >/usr/bin/dnf <<'STEAD_DNF'\n{dnf}STEAD_DNF\n\
             chmod 755 /usr/bin/rpm /usr/bin/dnf && mkdir -p /var/cache/dnf/baseos-1234/repodata && \
             touch -d @$(( $(date +%s) - 86400 )) /var/cache/dnf/baseos-1234/repodata/repomd.xml"
        ),
    );
    let test = Test::new().testhost("el9", &hosts, host);
    let run = test.run_args(["facts", "el9", "--patches"]);
    run.assert_status(0);
    let out: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("stdout is not JSON: {e}\n{run:?}"));
    let s = &out["el9"];
    assert_eq!(s["manager"], "dnf", "{s:#}");
    assert_eq!(s["pending_count"], 2, "{s:#}");
    assert_eq!(s["security_count"], 1, "{s:#}");
    assert_eq!(s["pending"][1]["name"], "openssl-libs");
    assert_eq!(s["pending"][1]["installed"], "1:3.0.7-24.el9");
    assert_eq!(s["pending"][1]["candidate"], "1:3.0.7-27.el9");
    assert_eq!(s["pending"][1]["security"], true);
    assert_eq!(s["pending"][0]["security"], false);
    assert_eq!(s["pending"][0]["sources"], serde_json::json!(["baseos"]));
    assert_eq!(s["newest_kernel"], "5.14.0-427.13.1.el9_4.x86_64");
    let age = s["index_age_seconds"].as_u64().unwrap();
    assert!((86_400..86_400 + 600).contains(&age), "{s:#}");
}
