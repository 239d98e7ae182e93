//! The recipes in `contrib/` (issue 11), checked as far as this machine
//! can: the systemd units pass `systemd-analyze verify`; the CI files parse,
//! and the stead commands they run are run here, for real, as their job
//! would run them (the GitHub workflow's plan and apply steps in order;
//! every GitLab and Kubernetes shard, whose host lists must be disjoint and
//! together complete).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn contrib(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib").join(rel)
}

fn yaml(rel: &str) -> Value {
    let path = contrib(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    stead::yaml::load_str(&text, &path).unwrap_or_else(|e| panic!("{e}")).root.to_json()
}

/// A project of `hosts` local hosts whose play writes a file per host.
fn project(hosts: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut inv = String::from("all:\n  hosts:\n");
    for i in 1..=hosts {
        let root = dir.path().join(format!("root/h{i}"));
        inv.push_str(&format!("    h{i}:\n      ansible_connection: local\n      root: {}\n", root.display()));
    }
    std::fs::write(dir.path().join("inventory.yaml"), inv).unwrap();
    let play = "- hosts: all\n  gather_facts: false\n  tasks:\n    - file: {path: \"{{ root }}\", state: directory}\n    - copy: {dest: \"{{ root }}/motd\", content: \"hi\\n\"}\n";
    std::fs::write(dir.path().join("site.yml"), play).unwrap();
    dir
}

/// Runs a recipe's shell line in `dir` with stead on PATH; returns (status, stdout, stderr).
fn sh(dir: &Path, line: &str, env: &[(&str, String)]) -> (i32, String, String) {
    let bin = Path::new(env!("CARGO_BIN_EXE_stead")).parent().unwrap().to_path_buf();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(line).current_dir(dir).env("PATH", path).env("STEAD_AUDIT_LOG", dir.join("audit.jsonl"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("sh");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

/// The hosts `--list-hosts` prints.
fn listed(stdout: &str) -> BTreeSet<String> {
    stdout.lines().filter(|l| l.starts_with("    ")).map(|l| l.trim().to_owned()).collect()
}

/// Asserts that the shards' host lists are disjoint and cover every host.
fn assert_partition(shards: &[BTreeSet<String>], hosts: usize) {
    let mut all = BTreeSet::new();
    for (i, s) in shards.iter().enumerate() {
        assert!(!s.is_empty(), "shard {} is empty: {shards:?}", i + 1);
        for h in s {
            assert!(all.insert(h.clone()), "{h} is in two shards: {shards:?}");
        }
    }
    let expected: BTreeSet<String> = (1..=hosts).map(|i| format!("h{i}")).collect();
    assert_eq!(all, expected, "the shards miss hosts");
}

#[test]
fn the_systemd_units_verify() {
    let dir = tempfile::tempdir().unwrap();
    let mut units = Vec::new();
    for entry in std::fs::read_dir(contrib("systemd")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        // The units name the installed binary; verify needs one that exists.
        let text = text.replace("/usr/local/bin/stead", env!("CARGO_BIN_EXE_stead"));
        let copy = dir.path().join(path.file_name().unwrap());
        std::fs::write(&copy, text).unwrap();
        units.push(copy);
    }
    assert_eq!(units.len(), 4, "two services and their timers");
    for unit in units.iter().filter(|u| u.extension().is_some_and(|e| e == "service")) {
        let text = std::fs::read_to_string(unit).unwrap();
        let exec = text.lines().find_map(|l| l.strip_prefix("ExecStart=")).expect("ExecStart");
        let args: Vec<&str> = exec.split_whitespace().skip(1).collect();
        // The command line parses (clap) and names a real subcommand.
        assert!(["plan", "apply"].contains(&args[0]), "{exec}");
    }
    match Command::new("systemd-analyze").arg("verify").args(&units).output() {
        Ok(out) => assert!(
            out.status.success() && out.stderr.is_empty(),
            "systemd-analyze verify: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => {
            assert!(std::env::var_os("CI").is_none(), "systemd-analyze is needed under CI: {e}");
            eprintln!("systemd-analyze not available ({e}): units not verified");
        }
    }
}

#[test]
fn the_github_workflow_plans_then_applies_exactly_the_plan() {
    let wf = yaml("github-actions/stead.yml");
    assert_eq!(wf["jobs"]["apply"]["needs"], "plan");
    assert_eq!(wf["jobs"]["apply"]["environment"], "production");
    let runs = |job: &str| -> Vec<String> {
        wf["jobs"][job]["steps"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|s| s["run"].as_str().map(str::to_owned))
            .collect()
    };
    let dir = project(2);
    for line in runs("plan") {
        let (status, _, err) = sh(dir.path(), &line, &[]);
        assert_eq!(status, 0, "{line}: {err}");
    }
    assert!(dir.path().join("plan.json").exists() && dir.path().join("plan.xml").exists());
    assert!(!dir.path().join("root/h1/motd").exists(), "the plan job changed a host");
    for line in runs("apply") {
        let (status, _, err) = sh(dir.path(), &line, &[]);
        assert_eq!(status, 0, "{line}: {err}");
        assert!(err.contains("against the saved plan"), "{err}");
    }
    assert_eq!(std::fs::read_to_string(dir.path().join("root/h2/motd")).unwrap(), "hi\n");
}

#[test]
fn the_gitlab_matrix_shards_cover_every_host_once() {
    let ci = yaml("gitlab-ci/.gitlab-ci.yml");
    let job = &ci["drift"];
    assert_eq!(job["allow_failure"]["exit_codes"], serde_json::json!([2]), "drift is a warning");
    let shards: Vec<String> = job["parallel"]["matrix"][0]["SHARD"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect();
    let script = job["script"][0].as_str().unwrap().to_owned();
    let hosts = 23;
    let dir = project(hosts);
    let mut lists = Vec::new();
    for shard in &shards {
        let env = [("SHARD", shard.clone())];
        let (status, out, err) = sh(dir.path(), &format!("{script} --list-hosts"), &env);
        assert_eq!(status, 0, "{err}");
        lists.push(listed(&out));
        // The job itself: drift (exit 2) on a fresh fleet, and its JUnit report.
        let (status, _, err) = sh(dir.path(), &script, &env);
        assert_eq!(status, 2, "{script} with SHARD={shard}: {err}");
        assert!(dir.path().join("junit.xml").exists());
    }
    assert_partition(&lists, hosts);
}

#[test]
fn the_kubernetes_indexed_job_shards_cover_every_host_once() {
    let job = yaml("kubernetes/stead-drift-job.yaml");
    assert_eq!(job["spec"]["completionMode"], "Indexed");
    let completions = job["spec"]["completions"].as_u64().unwrap();
    let container = &job["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["command"], serde_json::json!(["sh", "-c"]));
    let line = container["args"][0].as_str().unwrap().to_owned();
    assert!(line.contains(&format!("/{completions}\"")), "completions and the N of --shard differ: {line}");
    let hosts = 17;
    let dir = project(hosts);
    std::fs::create_dir(dir.path().join("reports")).unwrap();
    let line = line.replace("/reports/", &format!("{}/reports/", dir.path().display()));
    let mut lists = Vec::new();
    for index in 0..completions {
        let env = [("JOB_COMPLETION_INDEX", index.to_string())];
        let (status, out, err) = sh(dir.path(), &format!("{line} --list-hosts"), &env);
        assert_eq!(status, 0, "{err}");
        lists.push(listed(&out));
        let (status, _, err) = sh(dir.path(), &line, &env);
        assert_eq!(status, 0, "index {index}: {err}");
        assert!(dir.path().join(format!("reports/drift-{index}.json")).exists());
    }
    assert_partition(&lists, hosts);
}
