//! The audit trail (issue 11): one record per apply/plan, secrets masked,
//! content hashes, what changed per host; `stead audit` lists it. Every run
//! of the test builder writes to the test's own log (`Test::audit_log`).

use std::time::Duration;

use crate::support::{play, Sshd, Test};

const SECRET: &str = "hunter2-audit-5e1f";

fn records(test: &Test) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(test.audit_log()).unwrap_or_default();
    assert!(text.is_empty() || text.ends_with('\n'), "torn record:\n{text}");
    text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
}

fn sha256(bytes: &[u8]) -> String {
    stead::report::audit::sha256_hex(bytes)
}

fn motd_play() -> String {
    play(
        r#"
        - name: motd
          copy:
            content: "hello {{ who | default('world') }}\n"
            dest: "{{ root }}/motd"
        - name: maybe fail
          fail:
            msg: "asked to"
          when: fail_now | default(false) | bool
        "#,
    )
}

#[test]
fn every_run_appends_one_record_with_hashes_masked_secrets_and_changes() {
    let sshd = Sshd::start();
    let test = Test::new().host("web1", &sshd).unreachable_host("down").file("site.yml", motd_play());
    // Inside a git repository, the record names the commit.
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "init.defaultBranch=main"])
            .args(args)
            .current_dir(test.project())
            .output()
    };
    let commit = match git(&["init", "-q"]) {
        Ok(o) if o.status.success() => {
            git(&["add", "site.yml"]).unwrap();
            git(&["commit", "-q", "-m", "site"]).unwrap();
            let head = git(&["rev-parse", "HEAD"]).unwrap();
            Some(String::from_utf8_lossy(&head.stdout).trim().to_owned())
        }
        _ => None,
    };

    let plan = test.run_args(["plan", "site.yml", "--limit", "web1", "-e", &format!("db_password={SECRET} who=ops")]);
    plan.assert_status(0);
    let apply = test.run_args(["apply", "site.yml", "--diff"]);
    apply.assert_status(8);
    let failed = test.run_args(["apply", "site.yml", "--limit", "web1", "-e", "fail_now=true"]);
    failed.assert_status(4);

    let text = std::fs::read_to_string(test.audit_log()).unwrap();
    assert!(!text.contains(SECRET), "a secret in the audit log:\n{text}");
    let r = records(&test);
    assert_eq!(r.len(), 3, "{text}");

    let first = &r[0];
    assert_eq!(first["version"], 1);
    assert_eq!(first["command"], "plan");
    assert_eq!(first["check_mode"], true);
    assert_eq!(first["exit_status"], 0);
    assert!(first["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')), "{first}");
    assert!(first["user"].as_str().is_some_and(|u| !u.is_empty()));
    assert!(first["controller"].as_str().is_some_and(|c| !c.is_empty()));
    let argv: Vec<&str> = first["argv"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    assert!(argv.contains(&"db_password=******** who=ops"), "{argv:?}");
    assert!(argv.contains(&"plan") && argv.contains(&"--limit"), "{argv:?}");
    let playbook = std::fs::read(test.project().join("site.yml")).unwrap();
    assert_eq!(first["playbooks"], serde_json::json!([{"path": "site.yml", "sha256": sha256(&playbook)}]));
    let inventory = std::fs::read(test.project().join("inventory.yaml")).unwrap();
    assert_eq!(first["inventories"], serde_json::json!([{"path": "inventory.yaml", "sha256": sha256(&inventory)}]));
    if let Some(c) = &commit {
        assert_eq!(first["git_commit"], c.as_str(), "{first}");
    }
    assert_eq!(first["hosts"]["web1"]["changed"][0]["task"], "motd", "{first}");
    assert!(first["hosts"].get("down").is_none(), "--limit web1: {first}");

    // The real run: the diff is kept as its hash, the one the JSON report's diff has.
    let second = &r[1];
    assert_eq!((second["command"].as_str(), second["check_mode"].as_bool()), (Some("apply"), Some(false)));
    assert_eq!(second["exit_status"], 8);
    assert_eq!(second["hosts"]["down"]["unreachable"], true);
    let diff = apply.task("web1", "motd")["diff"].as_str().expect("diff").to_owned();
    assert_eq!(
        second["hosts"]["web1"]["changed"],
        serde_json::json!([{"play": "test play", "task": "motd", "diff_sha256": sha256(diff.as_bytes())}])
    );
    let third = &r[2];
    assert_eq!(third["exit_status"], 4);
    assert_eq!(third["hosts"]["web1"]["failed"], 1);
    assert_eq!(third["hosts"]["web1"]["changed"], serde_json::json!([]));

    // `stead audit` lists them, filtered; a torn last line is skipped with a warning.
    std::fs::OpenOptions::new()
        .append(true)
        .open(test.audit_log())
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"{\"version\":1,\"times"))
        .unwrap();
    let all = test.run_args(["audit"]);
    all.assert_status(0).assert_stderr_contains("skipped a record");
    assert_eq!(all.stdout.lines().count(), 3, "{}", all.stdout);
    assert!(
        all.stdout.lines().next().is_some_and(|l| l.contains("plan") && l.contains("web1: 1 would change (motd)")),
        "{}",
        all.stdout
    );
    let changed = test.run_args(["audit", "--changed", "--host", "web1", "--json"]);
    changed.assert_status(0);
    let shown: Vec<serde_json::Value> = changed.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(shown.len(), 2, "{}", changed.stdout);
    assert!(shown.iter().all(|s| s["hosts"].as_object().unwrap().keys().eq(["web1"])), "{}", changed.stdout);
    let down = test.run_args(["audit", "--host", "down"]);
    assert_eq!(down.stdout.lines().count(), 1, "{}", down.stdout);
    assert!(down.stdout.contains("down: unreachable"), "{}", down.stdout);
    let none = test.run_args(["audit", "--since", "2099-01-01"]);
    assert_eq!(none.stdout, "");
    let recent = test.run_args(["audit", "--since", "1h"]);
    assert_eq!(recent.stdout.lines().count(), 3);
    test.run_args(["audit", "--since", "yesterday-ish"]).assert_status(1).assert_stderr_contains("--since");
}

#[test]
fn an_interrupted_run_is_recorded_with_its_exit_status() {
    let sshd = Sshd::start();
    let test = Test::new().host("web1", &sshd).file(
        "site.yml",
        play("- name: started\n  shell: touch \"{{ root }}/started\"; sleep 3\n- name: later\n  ping:\n"),
    );
    let mut child = test.spawn_args(["apply", "site.yml"]);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !test.exists("web1", "started") && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    // SIGINT to our own child, by its PID.
    let sent = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(sent.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s.code();
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("stead did not stop after SIGINT");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status, Some(130));
    let r = records(&test);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0]["exit_status"], 130);
}

#[test]
fn the_audit_log_can_be_moved_or_turned_off_and_a_bad_one_stops_the_run_up_front() {
    let sshd = Sshd::start();
    let test = Test::new().host("web1", &sshd).file("site.yml", motd_play());
    test.run_args(["plan", "site.yml", "--no-audit-log"]).assert_status(0);
    assert!(!test.audit_log().exists(), "--no-audit-log wrote a record");
    test.run_args(["plan", "site.yml", "--audit-log", "logs/deep/audit.jsonl"]).assert_status(0);
    let moved = std::fs::read_to_string(test.project().join("logs/deep/audit.jsonl")).unwrap();
    assert_eq!(moved.lines().count(), 1);
    let listed = test.run_args(["audit", "--audit-log", "logs/deep/audit.jsonl"]);
    assert_eq!(listed.stdout.lines().count(), 1, "{}", listed.stdout);
    // A log that cannot be opened: exit 1, and no host was touched.
    std::fs::write(test.project().join("file"), "").unwrap();
    let bad = test.run_args(["apply", "site.yml", "--audit-log", "file/audit.jsonl"]);
    bad.assert_status(1).assert_stderr_contains("cannot write the audit log");
    assert!(!test.exists("web1", "motd"));
}
