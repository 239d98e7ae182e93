//! Saved plans (issue 13), on Tier-B hosts: `stead plan --out` leaves the
//! hosts untouched and writes no secret; `stead apply PLAN` applies exactly
//! the plan, refuses a host whose state drifted since (and only that
//! host), refuses a plan whose playbook changed before contacting any
//! host, and says which tasks a dry run could not predict.

use serde_json::Value;

use crate::support::testhosts::TestHost;
use crate::support::{play_vars, Test, TestHosts};

const SECRET: &str = "pl4n-s3cret-7f1e";
const EXTRA_SECRET: &str = "extra-v4lue-2b9c";

const VARS: &str = r#"
app_root: /srv/app
"#;

const TASKS: &str = r#"
- name: app directory
  file: {path: "{{ app_root }}", state: directory, mode: "0755"}
- name: motd
  copy: {dest: "{{ app_root }}/motd", content: "welcome to {{ inventory_hostname }}\n"}
- name: port
  lineinfile: {path: /etc/app.conf, line: "port=8080", create: true}
- name: token
  copy: {dest: "{{ app_root }}/token", content: "{{ api_token }}\n", mode: "0600"}
  no_log: true
- name: release
  command: cat /etc/hostname
  register: release
- name: release file
  copy: {dest: "{{ app_root }}/release", content: "{{ release.stdout | default('') }}\n"}
"#;

fn project(hosts: &TestHosts) -> Test {
    let mut test = Test::new().file("site.yml", play_vars(VARS, TASKS));
    for (i, host) in hosts.hosts().iter().enumerate() {
        test = test.testhost(&format!("h{}", i + 1), hosts, host);
    }
    test.host_var("h1", "api_token", SECRET).host_var("h2", "api_token", SECRET)
}

fn plan(test: &Test) -> Value {
    let out = test.run_args(["plan", "site.yml", "--out", "plan.json", "-e", &format!("extra={EXTRA_SECRET}")]);
    out.assert_status(0).assert_stderr_contains("Saved the plan to plan.json");
    let text = std::fs::read_to_string(test.project().join("plan.json")).expect("plan.json written");
    assert!(!text.contains(SECRET), "a no_log value is in the plan:\n{text}");
    assert!(!text.contains(EXTRA_SECRET), "an extra variable's value is in the plan:\n{text}");
    serde_json::from_str(&text).expect("the plan is JSON")
}

fn apply(test: &Test) -> crate::support::Outcome {
    test.run_args(["apply", "plan.json", "-e", &format!("extra={EXTRA_SECRET}")])
}

fn cat(hosts: &TestHosts, host: &TestHost, path: &str) -> String {
    hosts.sh(host, &format!("cat {path} 2>/dev/null || echo MISSING"))
}

#[test]
fn a_saved_plan_is_applied_exactly_once_and_never_after_drift_or_an_edit() {
    let Some(hosts) = TestHosts::up(2) else { return };
    let (h1, h2) = (hosts.host(0), hosts.host(1));
    let test = project(&hosts);

    // The plan: every change per host, the unpredictable command, no host touched.
    let before: Vec<String> = hosts.hosts().iter().map(|h| hosts.upper_hash(h)).collect();
    let saved = plan(&test);
    for (i, h) in hosts.hosts().iter().enumerate() {
        assert_eq!(before[i], hosts.upper_hash(h), "stead plan --out changed {}", h.name);
    }
    for name in ["h1", "h2"] {
        let changes: Vec<&str> =
            saved["hosts"][name]["changes"].as_array().unwrap().iter().map(|c| c["task"].as_str().unwrap()).collect();
        assert_eq!(changes, ["app directory", "motd", "port", "token", "release file"], "{name}: {saved}");
        let motd = &saved["hosts"][name]["changes"][1];
        assert_eq!(motd["resource"], "/srv/app/motd");
        assert!(motd["diff"].as_str().unwrap().contains(&format!("+welcome to {name}")), "{motd}");
        assert_eq!(motd["fingerprint"].as_str().unwrap().len(), 64);
        let unpredictable: Vec<&str> = saved["hosts"][name]["unpredictable"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["task"].as_str().unwrap())
            .collect();
        assert_eq!(unpredictable, ["release", "release file"], "{name}");
    }
    assert!(saved["inputs"]["files"]["site.yml"].is_string(), "{}", saved["inputs"]);
    assert!(saved["inputs"]["extra_vars"].is_string());

    // Without the extra variables it was made with: refused before any host.
    let out = test.run_args(["apply", "plan.json"]);
    out.assert_status(1).assert_stderr_contains("give the same -e values again");
    // Options the plan fixes cannot be changed.
    test.run_args(["apply", "plan.json", "-l", "h1"]).assert_status(1).assert_stderr_contains("-l/--limit");

    // Applied: exactly the plan, on both hosts; the unpredictable tasks said so first.
    let out = apply(&test);
    out.assert_status(0).assert_stderr_contains("cannot be predicted by a dry run");
    out.assert_stderr_contains("Checking 2 host(s) against the saved plan plan.json");
    for (name, host) in [("h1", h1), ("h2", h2)] {
        assert_eq!(cat(&hosts, host, "/srv/app/motd"), format!("welcome to {name}\n"));
        assert_eq!(cat(&hosts, host, "/etc/app.conf"), "port=8080\n");
        assert_eq!(cat(&hosts, host, "/srv/app/token"), format!("{SECRET}\n"));
        let hostname = hosts.sh(host, "cat /etc/hostname");
        assert_eq!(cat(&hosts, host, "/srv/app/release"), hostname, "the unpredictable task's result was used");
        assert_eq!(
            out.changed_tasks(name),
            ["app directory", "motd", "port", "token", "release", "release file"],
            "{name}"
        );
    }
    // A plan is good once: the hosts no longer need its changes.
    let again = apply(&test);
    again.assert_status(4).assert_output_contains("needs no change");
    assert!(again.changed_tasks("h1").is_empty() && again.changed_tasks("h2").is_empty());

    // Drift on one host after the plan: that host is refused, the other applied.
    for host in [h1, h2] {
        hosts.sh(host, "cd /srv/app && rm -f motd token release /etc/app.conf");
    }
    plan(&test);
    hosts.sh(h2, "echo 'edited by hand' > /srv/app/motd");
    let h2_before = hosts.upper_hash(h2);
    let out = apply(&test);
    out.assert_status(4);
    out.assert_output_contains("h2: refused: the host drifted since the plan was made: task `motd` (/srv/app/motd)");
    assert_eq!(cat(&hosts, h1, "/srv/app/motd"), "welcome to h1\n", "the other host is applied");
    assert_eq!(cat(&hosts, h2, "/srv/app/motd"), "edited by hand\n");
    assert_eq!(cat(&hosts, h2, "/etc/app.conf"), "MISSING\n", "nothing is applied to a refused host");
    assert_eq!(hosts.upper_hash(h2), h2_before);
    let report = out.report_json();
    assert_eq!(report["hosts"]["h2"]["failed"], 1, "{report}");
    assert_eq!(out.task("h2", "saved plan")["status"], "failed");

    // An edited playbook: the plan stops before contacting any host.
    plan(&test);
    test.write("site.yml", play_vars(VARS, &TASKS.replace("port=8080", "port=9090")));
    let before: Vec<String> = hosts.hosts().iter().map(|h| hosts.upper_hash(h)).collect();
    let out = apply(&test);
    out.assert_status(1)
        .assert_stderr_contains("no longer matches its inputs")
        .assert_stderr_contains("site.yml: changed");
    for (i, h) in hosts.hosts().iter().enumerate() {
        assert_eq!(before[i], hosts.upper_hash(h), "a stale plan touched {}", h.name);
    }
}

#[test]
fn a_plan_file_that_is_not_a_plan_or_is_from_another_version_is_refused() {
    let test = Test::new().file("plan.json", r#"{"format": "stead-plan", "version": 0, "hosts": {}}"#);
    let out = test.run_args(["apply", "plan.json"]);
    out.assert_status(1).assert_stderr_contains("plan format version 0");
    test.write("plan.json", r#"{"format": "stead-plan", "version": 1}"#);
    test.run_args(["apply", "plan.json"]).assert_status(1).assert_stderr_contains("malformed plan");
    test.write("site.yml", "- hosts: all\n  tasks: []\n");
    test.run_args(["apply", "site.yml", "--out", "p.json"]).assert_status(1).assert_stderr_contains("use `stead plan");
    let out = test.run_args(["plan", "site.yml", "--out", "/nonexistent-dir/p.json"]);
    out.assert_status(1).assert_stderr_contains("cannot write a file in /nonexistent-dir");
}
