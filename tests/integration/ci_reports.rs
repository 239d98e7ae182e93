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
