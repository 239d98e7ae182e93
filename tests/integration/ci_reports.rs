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
    for spec in ["junit=no-such-dir/junit.xml", "json=.", "jsonl=no-such-dir/events.jsonl", "prometheus=no/x.prom"] {
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

/// One sample of a metrics file: name, labels, value.
pub type Sample = (String, std::collections::BTreeMap<String, String>, f64);

/// Parses the Prometheus text format strictly enough for a test: every
/// family declared once with HELP and TYPE before its samples, label values
/// unescaped, values numbers.
#[track_caller]
pub fn parse_prometheus(text: &str) -> Vec<Sample> {
    let mut families: Vec<String> = Vec::new();
    let mut typed = String::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap().to_owned();
            assert!(!families.contains(&name), "family {name} declared twice:\n{text}");
            families.push(name);
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
            assert_eq!(Some(&name.to_owned()), families.last(), "TYPE without HELP:\n{text}");
            assert_eq!(kind, "gauge");
            typed = name.to_owned();
        } else {
            let (name, rest) = line.split_at(line.find(['{', ' ']).expect("sample name"));
            assert_eq!(name, typed, "sample outside its family:\n{text}");
            let mut labels = std::collections::BTreeMap::new();
            let mut rest = rest;
            if let Some(body) = rest.strip_prefix('{') {
                let mut chars = body.char_indices().peekable();
                let mut end = 0;
                while let Some((i, c)) = chars.next() {
                    if c == '}' {
                        end = i;
                        break;
                    }
                    if c == ',' {
                        continue;
                    }
                    let key_start = i;
                    let mut key_end = i;
                    for (j, c) in chars.by_ref() {
                        if c == '=' {
                            key_end = j;
                            break;
                        }
                    }
                    assert_eq!(chars.next().map(|(_, c)| c), Some('"'), "label value not quoted: {line}");
                    let mut value = String::new();
                    while let Some((_, c)) = chars.next() {
                        match c {
                            '\\' => match chars.next().map(|(_, c)| c) {
                                Some('n') => value.push('\n'),
                                Some(c @ ('\\' | '"')) => value.push(c),
                                other => panic!("bad escape {other:?} in {line}"),
                            },
                            '"' => break,
                            c => value.push(c),
                        }
                    }
                    labels.insert(body[key_start..key_end].to_owned(), value);
                }
                rest = &body[end + 1..];
            }
            let value: f64 = rest.trim().parse().unwrap_or_else(|e| panic!("value of {line}: {e}"));
            samples.push((name.to_owned(), labels, value));
        }
    }
    samples
}

/// The same file read by the Prometheus project's own Python parser
/// (`prometheus_client`), when it is installed (`.ci/run` installs it).
pub fn parse_with_prometheus_client(file: &Path) -> Option<Vec<Sample>> {
    let script = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for family in text_string_to_metric_families(open(sys.argv[1]).read()):
    assert family.type == "gauge", family
    for s in family.samples:
        out.append([s.name, s.labels, s.value])
print(json.dumps(out))
"#;
    let python = ["/usr/bin/python3", "python3"]
        .into_iter()
        .find(|p| Command::new(p).args(["-c", "import prometheus_client"]).output().is_ok_and(|o| o.status.success()));
    let Some(python) = python else {
        assert!(std::env::var_os("CI").is_none(), "python3-prometheus-client is needed under CI");
        eprintln!("prometheus_client not available: second parser skipped");
        return None;
    };
    let out = Command::new(python).args(["-c", script]).arg(file).output().expect("run python");
    assert!(out.status.success(), "prometheus_client rejects the file: {}", String::from_utf8_lossy(&out.stderr));
    let parsed: Vec<(String, std::collections::BTreeMap<String, String>, f64)> =
        serde_json::from_slice(&out.stdout).expect("parser output");
    Some(parsed)
}

pub fn metric(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    let want: std::collections::BTreeMap<String, String> =
        labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    samples
        .iter()
        .find(|(n, l, _)| n == name && *l == want)
        .map(|s| s.2)
        .unwrap_or_else(|| panic!("no sample {name}{want:?} in {samples:?}"))
}

#[test]
fn prometheus_textfile_counts_drift_per_host_and_tag_and_is_replaced_atomically() {
    let sshd = Sshd::start();
    let test = Test::new().host("web1", &sshd).unreachable_host("down").file(
        "site.yml",
        play(
            r#"
            - name: motd
              copy:
                content: "hello\n"
                dest: "{{ root }}/motd"
              tags: [cis_1_1, banner]
            - name: alive
              ping:
              tags: [cis_1_2]
            - name: never
              ping:
              when: false
            "#,
        ),
    );
    std::fs::create_dir(test.project().join("textfile")).unwrap();
    let file = test.project().join("textfile/stead.prom");
    let before = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    let read = |spec_run: &crate::support::Outcome| {
        let text = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("no metrics file: {e}\n{}\n{}", spec_run.stdout, spec_run.stderr));
        let samples = parse_prometheus(&text);
        if let Some(theirs) = parse_with_prometheus_client(&file) {
            assert_eq!(theirs, samples, "the two parsers disagree on\n{text}");
        }
        samples
    };

    let plan = test.run_args(["plan", "site.yml", "--report", "prometheus=textfile/stead.prom"]);
    plan.assert_status(8);
    let m = read(&plan);
    let web = [("host", "web1")];
    assert_eq!(metric(&m, "stead_drifted_tasks", &web), 1.0);
    assert_eq!(metric(&m, "stead_drifted_tasks_by_tag", &[("host", "web1"), ("tag", "cis_1_1")]), 1.0);
    assert_eq!(metric(&m, "stead_drifted_tasks_by_tag", &[("host", "web1"), ("tag", "banner")]), 1.0);
    assert_eq!(metric(&m, "stead_drifted_tasks_by_tag", &[("host", "web1"), ("tag", "cis_1_2")]), 0.0);
    assert_eq!(metric(&m, "stead_check_mode", &web), 1.0);
    for (state, n) in [("ok", 2.0), ("changed", 1.0), ("failed", 0.0), ("skipped", 1.0), ("unreachable", 0.0)] {
        assert_eq!(metric(&m, "stead_tasks", &[("host", "web1"), ("state", state)]), n, "{state}");
    }
    assert_eq!(metric(&m, "stead_tasks", &[("host", "down"), ("state", "unreachable")]), 1.0);
    assert_eq!(metric(&m, "stead_drifted_tasks", &[("host", "down")]), 0.0);
    assert_eq!(metric(&m, "stead_last_run_exit_status", &[]), 8.0);
    let stamp = metric(&m, "stead_last_run_timestamp_seconds", &web);
    assert!(stamp >= before.floor() && stamp < before + 120.0, "timestamp {stamp}, test started {before}");
    assert!(metric(&m, "stead_run_duration_seconds", &web) >= 0.0);
    assert!(!test.exists("web1", "motd"), "plan changed nothing");

    // A real run corrects the drift (and counts what it changed); the next
    // finds none. Each run replaces the whole file, leaving no temporary.
    let apply = test.run_args(["apply", "site.yml", "--limit", "web1", "--report", "prometheus=textfile/stead.prom"]);
    apply.assert_status(0);
    let m = read(&apply);
    assert_eq!(metric(&m, "stead_drifted_tasks", &web), 1.0);
    assert_eq!(metric(&m, "stead_check_mode", &web), 0.0);
    assert!(m.iter().all(|(_, l, _)| l.get("host").is_none_or(|h| h == "web1")), "{m:?}");
    let again = test.run_args(["plan", "site.yml", "--limit", "web1", "--report", "prometheus=textfile/stead.prom"]);
    again.assert_status(0);
    let m = read(&again);
    assert_eq!(metric(&m, "stead_drifted_tasks", &web), 0.0);
    assert_eq!(metric(&m, "stead_drifted_tasks_by_tag", &[("host", "web1"), ("tag", "cis_1_1")]), 0.0);
    let names: Vec<String> = std::fs::read_dir(test.project().join("textfile"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["stead.prom"]);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o644);
}

/// Issue 11: rule tags read as a compliance table, in the JSON report and
/// after the recap with `--compliance-summary`.
#[test]
fn compliance_by_tag_in_the_json_report_and_after_the_recap() {
    let (one, two) = (Sshd::start(), Sshd::start());
    let test = Test::new().host("web1", &one).host("web2", &two).unreachable_host("down").file(
        "site.yml",
        play(
            r#"
            - name: banner
              copy: {content: "authorized use only\n", dest: "{{ root }}/issue"}
              tags: [cis_1_7]
            - name: ssh config
              copy: {content: "PermitRootLogin no\n", dest: "{{ root }}/sshd_config"}
              tags: [cis_5_2, ssh]
            - name: web2 breaks
              fail: {msg: broken}
              when: inventory_hostname == 'web2'
              tags: [ssh]
            "#,
        ),
    );
    test.put("web1", "issue", "authorized use only\n");
    test.put("web1", "sshd_config", "PermitRootLogin no\n");
    let out = test.run_args(["plan", "site.yml", "--compliance-summary"]);
    out.assert_status(12);
    let c = &out.report_json()["compliance"];
    assert_eq!(c["cis_1_7"]["compliant"], serde_json::json!(["web1"]), "{c}");
    assert_eq!(c["cis_1_7"]["drifted"], serde_json::json!(["web2"]), "{c}");
    assert_eq!(c["cis_1_7"]["failed"], serde_json::json!(["down"]), "{c}");
    assert_eq!(c["ssh"]["failed"], serde_json::json!(["down", "web2"]), "{c}");
    assert_eq!(c["cis_5_2"]["drifted"], serde_json::json!(["web2"]), "{c}");
    let table = out.stdout.split("COMPLIANCE BY TAG").nth(1).expect("the table after the recap").to_owned();
    assert!(out.stdout.find("PLAY RECAP") < out.stdout.find("COMPLIANCE BY TAG"), "{}", out.stdout);
    let row = |tag: &str| {
        let line = table.lines().find(|l| l.starts_with(tag)).unwrap_or_else(|| panic!("no {tag} row:\n{table}"));
        line.split_whitespace().collect::<Vec<_>>().join(" ")
    };
    assert_eq!(row("cis_1_7"), "cis_1_7 1/3 1 1 drifted: web2 failed: down");
    assert_eq!(row("ssh"), "ssh 1/3 0 2 failed: down, web2");
    let plain = test.run_args(["plan", "site.yml"]);
    plain.assert_stdout_lacks("COMPLIANCE BY TAG");
}

/// Issue 11: `--profile` lists the slowest task and host after the recap.
#[test]
fn profile_names_the_slowest_task_and_host() {
    let (one, two) = (Sshd::start(), Sshd::start());
    let test = Test::new().host("web1", &one).host("web2", &two).file(
        "site.yml",
        play(
            r#"
            - name: quick
              ping:
            - name: slow on web2
              command: "sleep {{ '0.8' if inventory_hostname == 'web2' else '0.1' }}"
            "#,
        ),
    );
    let out = test.run_args(["apply", "site.yml", "--profile"]);
    out.assert_status(0);
    let profile = out.stdout.split("PROFILE\n").nth(1).expect("a profile after the recap").to_owned();
    assert!(out.stdout.find("PLAY RECAP") < out.stdout.find("PROFILE"), "{}", out.stdout);
    let lines: Vec<&str> = profile.lines().map(str::trim).collect();
    assert!(lines[1].contains("slow on web2  (2 host(s); web2 0.8"), "{profile}");
    let hosts = lines.iter().position(|l| l.starts_with("slowest hosts")).expect("hosts section");
    assert!(lines[hosts + 1].ends_with("web2"), "{profile}");
    test.run_args(["apply", "site.yml"]).assert_stdout_lacks("PROFILE");
}

#[test]
fn facts_patches_refuses_reports_it_cannot_write_before_contacting_a_host() {
    let test = Test::new().unreachable_host("down");
    let plain = test.run_args(["facts", "all", "--report", "json=r.json"]);
    plain.assert_status(1).assert_stderr_contains("--patches");
    for (spec, why) in [
        ("junit=j.xml", "json and prometheus reports only"),
        ("jsonl=e.jsonl", "json and prometheus reports only"),
        ("json=-", "stdout carries the patch status itself"),
        ("prometheus=no-such-dir/p.prom", "no-such-dir"),
    ] {
        let run = test.run_args(["facts", "all", "--patches", "--report", spec]);
        run.assert_status(1).assert_stderr_contains(why).assert_stderr_lacks("unreachable");
    }
    assert!(!test.project().join("r.json").exists() && !test.project().join("j.xml").exists());
}
