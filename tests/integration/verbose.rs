//! `-v` and `-vv`: every remote command told (host, purpose, exit status,
//! sizes), `-vv` with its script; a `no_log` task's script never shown.

use crate::support::{play_vars, Sshd, Test};

const SECRET: &str = "s3cret-value-never-printed";

fn project(sshd: &Sshd) -> Test {
    Test::new().host("web1", sshd).file(
        "site.yml",
        play_vars(
            &format!("token: {SECRET}"),
            r#"
            - name: write the motd
              copy: {dest: "{{ root }}/motd", content: "hello\n"}
            - name: say something visible
              command: echo visible-marker
            - name: use the token
              command: "echo {{ token }}"
              no_log: true
            - name: only with -v
              debug: {msg: "verbose detail", verbosity: 1}
            "#,
        ),
    )
}

#[test]
fn dash_v_tells_each_remote_command_once() {
    let sshd = Sshd::start();
    let test = project(&sshd);
    let quiet = test.run_args(["apply", "site.yml"]);
    quiet.assert_status(0).assert_stdout_lacks("remote [").assert_stdout_lacks("verbose detail");
    let run = test.run_args(["apply", "site.yml", "-v"]);
    run.assert_status(0).assert_stdout_contains("verbose detail");
    let traces: Vec<&str> = run.stdout.lines().filter(|l| l.starts_with("remote [web1] ")).collect();
    let execs = run.report_json()["hosts"]["web1"]["remote_execs"].as_u64().unwrap();
    assert_eq!(traces.len() as u64, execs, "one line per remote exec the report counts:\n{}", run.stdout);
    assert!(traces.iter().any(|l| l.contains("probe of ") && l.contains(": rc 0 in ")), "{traces:?}");
    assert!(traces.iter().any(|l| l.contains("apply: use the token: rc 0")), "{traces:?}");
    // -v names the commands; the scripts are for -vv.
    assert!(!run.stdout.contains("    | "), "{}", run.stdout);
}

#[test]
fn dash_vv_shows_the_scripts_but_never_a_no_log_one() {
    let sshd = Sshd::start();
    let test = project(&sshd);
    let run = test.run_args(["apply", "site.yml", "-vv"]);
    run.assert_status(0);
    let root = test.root("web1").display().to_string();
    assert!(run.stdout.contains(&format!("    | p={root}/motd")), "the probe shows its quoted path:\n{}", run.stdout);
    assert!(run.stdout.contains("    | ") && run.stdout.contains("visible-marker"), "{}", run.stdout);
    assert!(run.stdout.contains("    | (script hidden: no_log)"), "{}", run.stdout);
    for text in [&run.stdout, &run.stderr, &run.report_text()] {
        assert!(!text.contains(SECRET), "the no_log task's value leaked:\n{text}");
    }
}
