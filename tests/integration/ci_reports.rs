//! The reports a CI job or a scheduled run leaves behind (issue 11): JUnit
//! validated against the schema CI systems read, the streamed JSONL event
//! log (also of a killed run), and the Prometheus textfile.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{play, play_vars, Sshd, Test};

const SECRET: &str = "hunter2-s3cr3t-91c2";

/// Runs `xmllint` with `args`, or says why not. Under CI it must be there
/// (`.ci/run` installs libxml2-utils).
fn xmllint(args: &[&str]) -> Option<(bool, String, String)> {
    match Command::new("xmllint").args(args).output() {
        Ok(o) => Some((
            o.status.success(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )),
        Err(e) => {
            assert!(std::env::var_os("CI").is_none(), "xmllint is needed under CI: {e}");
            eprintln!("xmllint not available ({e}): JUnit schema checks skipped");
            None
        }
    }
}

fn xsd() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/integration/fixtures/junit.xsd")
}

/// Validates `file` against the JUnit schema and checks that every count
/// on `testsuites` and each `testsuite` is the count of what is inside.
/// Returns an XPath evaluator over the file, or None without xmllint.
fn validate_junit(file: &Path) -> Option<impl Fn(&str) -> String + '_> {
    let path = file.to_str().expect("utf-8 path");
    let (ok, _, err) = xmllint(&["--noout", "--schema", xsd().to_str().unwrap(), path])?;
    assert!(ok, "JUnit report does not validate:\n{err}\n{}", std::fs::read_to_string(file).unwrap());
    let xpath = move |expr: &str| {
        let (_, out, _) = xmllint(&["--xpath", expr, path]).expect("xmllint ran once");
        out.trim().to_owned()
    };
    let suites: usize = xpath("count(/testsuites/testsuite)").parse().unwrap();
    for (attr, inner) in [
        ("tests", "testcase"),
        ("failures", "testcase/failure"),
        ("errors", "testcase/error"),
        ("skipped", "testcase/skipped"),
    ] {
        let mut sum = 0;
        for i in 1..=suites {
            let declared: usize = xpath(&format!("string(/testsuites/testsuite[{i}]/@{attr})")).parse().unwrap();
            let counted: usize = xpath(&format!("count(/testsuites/testsuite[{i}]/{inner})")).parse().unwrap();
            assert_eq!(declared, counted, "testsuite[{i}]/@{attr}");
            sum += counted;
        }
        assert_eq!(xpath(&format!("string(/testsuites/@{attr})")), sum.to_string(), "testsuites/@{attr}");
    }
    Some(xpath)
}

#[test]
fn junit_of_a_drift_job_is_red_with_the_diff_and_matches_the_schema() {
    let sshd = Sshd::start();
    let test = Test::new().host("web1", &sshd).unreachable_host("down").file(
        "site.yml",
        play_vars(
            &format!("token: {SECRET}\n"),
            r#"
            - name: motd
              copy:
                content: "hello\n"
                dest: "{{ root }}/motd"
            - name: alive
              ping:
            - name: never
              ping:
              when: false
            - name: secret
              copy:
                content: "token={{ token }}\n"
                dest: "{{ root }}/secret.conf"
              no_log: true
            - name: broken
              fail:
                msg: "it broke"
            "#,
        ),
    );
    test.put("web1", "motd", "old\n");
    test.put("web1", "secret.conf", "token=old-secret-value\n");
    let out = test.run_args(["plan", "site.yml", "--report", "junit=junit.xml"]);
    out.assert_status(4 | 8);
    let file = test.project().join("junit.xml");
    let xml = std::fs::read_to_string(&file).expect("junit.xml written");
    assert!(!xml.contains(SECRET) && !xml.contains("old-secret-value"), "no_log diff in JUnit:\n{xml}");
    assert_eq!(test.read("web1", "motd"), "old\n", "plan changed nothing");

    let Some(xpath) = validate_junit(&file) else { return };
    let web = "/testsuites/testsuite[@name='web1']";
    assert_eq!(xpath(&format!("string({web}/@hostname)")), "web1");
    for (attr, n) in [("tests", "5"), ("failures", "2"), ("errors", "1"), ("skipped", "1")] {
        assert_eq!(xpath(&format!("string({web}/@{attr})")), n, "web1 @{attr}\n{xml}");
    }
    assert_eq!(xpath(&format!("string({web}/testcase[1]/@classname)")), "test play");
    assert_eq!(xpath(&format!("string({web}/testcase[1]/@name)")), "motd");
    let drift = xpath(&format!("string({web}/testcase[@name='motd']/failure)"));
    assert!(drift.lines().any(|l| l == "-old") && drift.lines().any(|l| l == "+hello"), "{xml}");
    assert_eq!(xpath(&format!("count({web}/testcase[@name='secret']/failure)")), "1", "{xml}");
    assert_eq!(xpath(&format!("count({web}/testcase[@name='never']/skipped)")), "1", "{xml}");
    assert_eq!(xpath(&format!("count({web}/testcase[@name='alive']/*)")), "0", "{xml}");
    assert_eq!(xpath(&format!("string({web}/testcase[@name='broken']/error/@message)")), "it broke", "{xml}");
    let down = "/testsuites/testsuite[@name='down']";
    assert_eq!(xpath(&format!("string({down}/testcase/@name)")), "connect to down", "{xml}");
    assert_eq!(xpath(&format!("string({down}/testcase/@classname)")), "test play", "{xml}");
    assert!(xpath(&format!("string({down}/testcase/error/@message)")).starts_with("unreachable"), "{xml}");
    assert_eq!(xpath("string(/testsuites/@errors)"), "2", "{xml}");
}

#[test]
fn junit_of_a_real_run_passes_changes_and_keeps_their_diff() {
    let sshd = Sshd::start();
    let test = Test::new()
        .host("web1", &sshd)
        .file("site.yml", play("- name: motd\n  copy:\n    content: \"hello\\n\"\n    dest: \"{{ root }}/motd\"\n"));
    let out = test.run_args(["apply", "site.yml", "--report", "junit=junit.xml"]);
    out.assert_status(0);
    let file = test.project().join("junit.xml");
    let Some(xpath) = validate_junit(&file) else { return };
    assert_eq!(xpath("string(/testsuites/@failures)"), "0");
    assert!(xpath("string(//testcase[@name='motd']/system-out)").contains("+hello"));
}

#[test]
fn an_unwritable_report_stops_the_run_before_any_host_is_contacted() {
    let sshd = Sshd::start();
    let test = Test::new()
        .host("web1", &sshd)
        .file("site.yml", play("- name: motd\n  copy:\n    content: \"hello\\n\"\n    dest: \"{{ root }}/motd\"\n"));
    for spec in ["junit=no-such-dir/junit.xml", "json=."] {
        let out = test.run_args(["apply", "site.yml", "--report", spec]);
        out.assert_status(1).assert_stderr_contains("cannot write the");
        assert!(!test.exists("web1", "motd"), "{spec}: a host was changed");
    }
    let out = test.run_args(["apply", "site.yml", "--report", "xml=out.xml"]);
    out.assert_status(1).assert_stderr_contains("not supported");
}

/// Parses a JSONL event log: every line one complete JSON object.
#[track_caller]
fn parse_jsonl(text: &str) -> Vec<serde_json::Value> {
    assert!(text.is_empty() || text.ends_with('\n'), "the log ends in the middle of a line:\n{text}");
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}\n{text}")))
        .collect()
}

fn events<'a>(lines: &'a [serde_json::Value], kind: &str) -> Vec<&'a serde_json::Value> {
    lines.iter().filter(|l| l["event"] == kind).collect()
}

#[test]
fn jsonl_log_has_every_event_in_order_with_no_log_masked() {
    let sshd = Sshd::start();
    let test = Test::new().host("web1", &sshd).unreachable_host("down").file(
        "site.yml",
        play_vars(
            &format!("token: {SECRET}\n"),
            r#"
            - name: motd
              copy:
                content: "hello\n"
                dest: "{{ root }}/motd"
              tags: [cis_1_1]
            - name: secret
              copy:
                content: "token={{ token }}\n"
                dest: "{{ root }}/secret.conf"
              no_log: true
            - name: say
              debug:
                msg: "said"
            "#,
        ),
    );
    test.put("web1", "secret.conf", "token=old-secret-value\n");
    let out = test.run_args(["apply", "site.yml", "--diff", "--report", "jsonl=events.jsonl"]);
    out.assert_status(8);
    let text = std::fs::read_to_string(test.project().join("events.jsonl")).expect("events.jsonl written");
    assert!(!text.contains(SECRET) && !text.contains("old-secret-value"), "no_log value in the event log:\n{text}");
    let lines = parse_jsonl(&text);
    for l in &lines {
        assert!(l["time"].is_string(), "every line has a time: {l}");
    }
    assert_eq!(lines.first().map(|l| &l["event"]), Some(&"run_start".into()), "{text}");
    assert_eq!(lines[0]["version"], 1);
    assert_eq!(lines[0]["check_mode"], false);
    assert_eq!(lines[0]["playbooks"], serde_json::json!(["site.yml"]));
    let play = events(&lines, "play_start");
    assert_eq!(play.len(), 1, "{text}");
    assert_eq!(play[0]["play"], "test play");
    assert_eq!(play[0]["hosts"].as_array().map(Vec::len), Some(2));

    // Each result comes after its task's start, on the same host.
    let position = |kind: &str, task: &str| {
        lines
            .iter()
            .position(|l| l["event"] == kind && l["host"] == "web1" && l["task"] == task)
            .unwrap_or_else(|| panic!("no {kind} of {task}:\n{text}"))
    };
    for task in ["motd", "secret", "say"] {
        assert!(position("task_start", task) < position("task_result", task), "{task}:\n{text}");
    }
    let motd = &lines[position("task_result", "motd")];
    assert_eq!(motd["status"], "changed");
    assert_eq!(motd["changed"], true);
    assert_eq!(motd["module"], "copy");
    assert_eq!(motd["play"], "test play");
    assert_eq!(motd["tags"], serde_json::json!(["cis_1_1"]));
    assert!(motd["diff"].as_str().is_some_and(|d| d.lines().any(|l| l == "+hello")), "{motd}");
    assert_eq!(lines[position("task_result", "say")]["msg"], "said");
    let secret = &lines[position("task_result", "secret")];
    assert_eq!(secret["status"], "changed", "{secret}");

    let unreachable = events(&lines, "unreachable");
    assert_eq!(unreachable.len(), 1, "{text}");
    assert_eq!(unreachable[0]["host"], "down");
    assert!(unreachable[0]["msg"].is_string());

    let recap = lines.last().unwrap();
    assert_eq!(recap["event"], "recap", "{text}");
    assert_eq!(recap["exit_status"], 8);
    assert_eq!(recap["summary"], out.report_json()["summary"]);
    assert_eq!(recap["hosts"]["down"]["unreachable"], true);
    assert_eq!(recap["hosts"]["web1"]["changed"], 2);
}

#[test]
fn a_killed_run_leaves_complete_jsonl_lines_for_what_happened() {
    let sshd = Sshd::start();
    let test = Test::new().host("web1", &sshd).file(
        "site.yml",
        play(
            r#"
            - name: first
              copy:
                content: "one\n"
                dest: "{{ root }}/first"
            - name: slow
              shell: sleep 10
            - name: never reached
              copy:
                content: "two\n"
                dest: "{{ root }}/second"
            "#,
        ),
    );
    let log = test.project().join("events.jsonl");
    let mut child = test.spawn_args(["apply", "site.yml", "--report", "jsonl=events.jsonl"]);
    // Follow the log while the run is in flight, as `tail -f` would: every
    // complete line read so far parses, until the slow task has started.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut seen_slow = false;
    while std::time::Instant::now() < deadline && !seen_slow {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let complete = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
        seen_slow = parse_jsonl(complete).iter().any(|l| l["event"] == "task_start" && l["task"] == "slow");
        if child.try_wait().expect("poll stead").is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // SIGKILL, to our own child by its handle: no chance to write anything more.
    child.kill().expect("kill stead");
    let _ = child.wait();
    assert!(seen_slow, "the slow task never showed up in the log");
    let text = std::fs::read_to_string(&log).unwrap();
    let lines = parse_jsonl(&text);
    let kinds: Vec<&str> = lines.iter().filter_map(|l| l["event"].as_str()).collect();
    assert_eq!(kinds.first(), Some(&"run_start"), "{text}");
    assert!(kinds.contains(&"play_start"), "{text}");
    let first = events(&lines, "task_result").into_iter().find(|l| l["task"] == "first").cloned();
    assert_eq!(first.map(|l| l["status"].clone()), Some("changed".into()), "{text}");
    assert!(!kinds.contains(&"recap"), "a killed run has no recap:\n{text}");
    assert!(!text.contains("never reached\",\"module"), "{text}");
    assert_eq!(test.read("web1", "first"), "one\n");
}

#[test]
fn jsonl_on_stdout_is_the_only_thing_on_stdout() {
    let sshd = Sshd::start();
    let test = Test::new().host("web1", &sshd).file("site.yml", play("- name: alive\n  ping:\n"));
    let out = test.run_args(["plan", "site.yml", "--report", "jsonl=-"]);
    out.assert_status(0);
    let lines = parse_jsonl(&out.stdout);
    assert_eq!(lines.last().map(|l| l["event"].clone()), Some("recap".into()), "{}", out.stdout);
    assert_eq!(lines[0]["check_mode"], true);
}
