//! The JSON report (CONTRACT §6) and `no_log` (CONTRACT §5).

use crate::support::{play, play_vars, Sshd, Test};

#[test]
fn json_report_has_the_contract_shape() {
    let sshd = Sshd::start();
    let test = Test::new().host("web1", &sshd).file(
        "site.yml",
        play(
            r#"
            - name: motd
              copy:
                content: "hello\n"
                dest: "{{ root }}/motd"
            - name: say
              debug:
                msg: hi
            - name: never
              ping:
              when: false
            "#,
        ),
    );
    test.put("web1", "motd", "old\n");
    let out = test.run_args(["apply", "site.yml", "--diff"]);
    out.assert_status(0);
    let r = out.report_json();

    assert_eq!(r["version"], 1, "{r:#}");
    assert_eq!(r["stead_version"], env!("CARGO_PKG_VERSION"), "{r:#}");
    let started = r["started_at"].as_str().expect("started_at is a string");
    assert!(
        regex::Regex::new(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$").unwrap().is_match(started),
        "started_at is RFC 3339: {started}"
    );
    assert!(r["duration_ms"].is_u64(), "{r:#}");
    assert_eq!(r["check_mode"], false, "{r:#}");
    assert_eq!(r["playbooks"], serde_json::json!(["site.yml"]), "{r:#}");
    // Fields may be added (§6); these must be there with these values. `ok`
    // counts changed results too, as in Ansible's recap.
    for (key, n) in [("hosts", 1), ("ok", 2), ("changed", 1), ("failed", 0), ("skipped", 1), ("unreachable", 0)] {
        assert_eq!(r["summary"][key], n, "summary.{key}: {r:#}");
    }

    let host = &r["hosts"]["web1"];
    assert_eq!(host["unreachable"], false, "{r:#}");
    assert_eq!(host["ok"], 2, "{r:#}");
    assert_eq!(host["changed"], 1, "{r:#}");
    assert_eq!(host["failed"], 0, "{r:#}");
    assert_eq!(host["skipped"], 1, "{r:#}");
    let tasks = host["tasks"].as_array().expect("tasks is an array");
    assert_eq!(tasks.len(), 3, "{r:#}");
    for task in tasks {
        for key in ["play", "task", "module", "status", "diff", "msg", "duration_ms"] {
            assert!(task.get(key).is_some(), "task lacks {key}: {task:#}");
        }
        assert_eq!(task["play"], "test play", "{task:#}");
        assert!(task["duration_ms"].is_u64(), "{task:#}");
    }
    let statuses: Vec<_> =
        tasks.iter().map(|t| (t["task"].clone(), t["module"].clone(), t["status"].clone())).collect();
    assert_eq!(
        statuses,
        vec![
            ("motd".into(), "copy".into(), "changed".into()),
            ("say".into(), "debug".into(), "ok".into()),
            ("never".into(), "ping".into(), "skipped".into()),
        ],
        "{r:#}"
    );
    let diff = tasks[0]["diff"].as_str().expect("copy's diff is a string");
    assert!(diff.lines().any(|l| l == "-old"), "{diff}");
    assert!(diff.lines().any(|l| l == "+hello"), "{diff}");
}

#[test]
fn json_report_of_a_check_run_says_so_and_counts_would_be_changes() {
    let sshd = Sshd::start();
    let test = Test::new().host("web1", &sshd).file(
        "site.yml",
        play(
            r#"
            - name: motd
              copy:
                content: "hello\n"
                dest: "{{ root }}/motd"
            "#,
        ),
    );
    let out = test.run_args(["plan", "site.yml"]);
    out.assert_status(0);
    let r = out.report_json();
    assert_eq!(r["check_mode"], true, "{r:#}");
    assert_eq!(r["summary"]["changed"], 1, "{r:#}");
    assert_eq!(out.task("web1", "motd")["status"], "changed");
    assert!(!test.exists("web1", "motd"));
}

#[test]
fn json_report_records_failed_tasks_with_their_message() {
    let sshd = Sshd::start();
    let test = Test::new().host("web1", &sshd).file(
        "site.yml",
        play(
            r#"
            - name: broken
              fail:
                msg: "it broke"
            "#,
        ),
    );
    let out = test.run_args(["apply", "site.yml"]);
    out.assert_status(4);
    let r = out.report_json();
    assert_eq!(r["summary"]["failed"], 1, "{r:#}");
    assert_eq!(r["summary"]["ok"], 0, "{r:#}");
    assert_eq!(r["hosts"]["web1"]["failed"], 1, "{r:#}");
    let task = out.task("web1", "broken");
    assert_eq!(task["status"], "failed", "{task:#}");
    assert!(task["msg"].as_str().is_some_and(|m| m.contains("it broke")), "{task:#}");
}

#[test]
fn handlers_count_like_tasks_and_a_loop_is_one_result() {
    let sshd = Sshd::start();
    let test = Test::new().host("web1", &sshd).file(
        "site.yml",
        format!(
            "{}  handlers:\n    - name: reload\n      command: touch \"{{{{ root }}}}/reloaded\"\n",
            play(
                r#"
                - name: files
                  copy:
                    content: "{{ item }}\n"
                    dest: "{{ root }}/{{ item }}"
                  loop: [a, b, c]
                  notify: reload
                "#,
            )
        ),
    );
    let out = test.run_args(["apply", "site.yml"]);
    out.assert_status(0);
    assert!(test.exists("web1", "reloaded"), "handler ran");
    for f in ["a", "b", "c"] {
        assert_eq!(test.read("web1", f), format!("{f}\n"));
    }
    let r = out.report_json();
    assert_eq!(r["summary"]["changed"], 2, "loop task + handler: {r:#}");
    assert_eq!(r["summary"]["ok"], 2, "{r:#}");
    assert_eq!(r["hosts"]["web1"]["tasks"].as_array().map(Vec::len), Some(2), "{r:#}");

    // Nothing changes the second time, so the handler is not notified.
    let again = test.run_args(["apply", "site.yml"]);
    again.assert_status(0).assert_changed(0);
}

#[test]
fn report_can_go_to_a_second_file_and_both_agree() {
    let sshd = Sshd::start();
    let test = Test::new().host("web1", &sshd).file("site.yml", play("- name: alive\n  ping:\n"));
    let out = test.run_args(["apply", "site.yml", "--report", "json=extra.json"]);
    out.assert_status(0);
    let extra: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(test.project().join("extra.json")).unwrap()).unwrap();
    assert_eq!(extra["summary"], out.report_json()["summary"]);
}

const SECRET: &str = "hunter2-s3cr3t-7f3a";
const VISIBLE: &str = "visible-value-4242";

#[test]
fn no_log_values_appear_in_no_output_and_no_report() {
    let sshd = Sshd::start();
    let test = Test::new().host("web1", &sshd).file(
        "site.yml",
        play_vars(
            &format!("token: {SECRET}\nshown: {VISIBLE}\n"),
            r#"
            - name: control, not secret
              debug:
                msg: "{{ shown }}"
            - name: write secret
              copy:
                content: "token={{ token }}\n"
                dest: "{{ root }}/secret.conf"
              no_log: true
            - name: print secret
              debug:
                msg: "{{ token }}"
              no_log: true
            - name: run with secret
              shell: echo "{{ token }}"; echo "{{ token }}" >&2
              no_log: true
            - name: fail with secret
              fail:
                msg: "bad {{ token }}"
              no_log: true
            "#,
        ),
    );
    test.put("web1", "secret.conf", "token=old-value\n");
    let out = test.run_args(["apply", "site.yml", "--diff"]);
    out.assert_status(4);
    // The control proves the test would see a leaked value.
    out.assert_stdout_contains(VISIBLE);
    assert!(out.report_text().contains("fail with secret"), "report written");
    assert_eq!(test.read("web1", "secret.conf"), format!("token={SECRET}\n"));

    out.assert_stdout_lacks(SECRET).assert_stderr_lacks(SECRET);
    assert!(!out.report_text().contains(SECRET), "no_log value in the JSON report:\n{}", out.report_text());
    out.assert_stdout_lacks("old-value");
    assert!(!out.report_text().contains("old-value"), "no_log diff in the report");
    assert_eq!(out.task("web1", "fail with secret")["status"], "failed");
}

#[test]
fn no_log_also_hides_values_in_check_mode_diffs() {
    let sshd = Sshd::start();
    let test = Test::new().host("web1", &sshd).file(
        "site.yml",
        play_vars(
            &format!("token: {SECRET}\n"),
            r#"
            - name: write secret
              copy:
                content: "token={{ token }}\n"
                dest: "{{ root }}/secret.conf"
              no_log: true
            "#,
        ),
    );
    let out = test.run_args(["plan", "site.yml"]);
    out.assert_status(0);
    out.assert_stdout_lacks(SECRET).assert_stderr_lacks(SECRET);
    assert!(!out.report_text().contains(SECRET), "{}", out.report_text());
    assert_eq!(out.task("web1", "write secret")["status"], "changed");
}

#[test]
fn json_report_on_stdout_is_the_only_thing_on_stdout() {
    let sshd = Sshd::start();
    let test = Test::new().raw().host("web1", &sshd).file("site.yml", play("- name: fails\n  fail:\n    msg: boom\n"));
    let out = test.run_args(["apply", "site.yml", "-i", "inventory.yaml", "--report", "json=-"]);
    out.assert_status(4);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).expect("stdout is one JSON document");
    assert_eq!(report["summary"]["failed"], 1, "{report:#}");
}
