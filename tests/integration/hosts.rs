//! Several inventory hosts at once: parallelism, unreachable hosts, drift
//! detection per host, host selection (CONTRACT §1, §2, §6).
//!
//! Several inventory hosts point at the same sshd; their `root` variables
//! keep their files apart.

use crate::support::{play, Sshd, Test};

const HELLO: &str = r#"
- name: hello
  copy:
    content: "hello {{ inventory_hostname }}\n"
    dest: "{{ root }}/hello"
"#;

#[test]
fn reachable_hosts_complete_when_one_host_is_unreachable() {
    let sshd = Sshd::start();
    let test =
        Test::new().host("web1", &sshd).host("web2", &sshd).unreachable_host("down").file("site.yml", play(HELLO));
    let out = test.run_args(["apply", "site.yml"]);
    out.assert_status(8);
    assert_eq!(test.read("web1", "hello"), "hello web1\n");
    assert_eq!(test.read("web2", "hello"), "hello web2\n");
    assert!(!test.exists("down", "hello"));

    let report = out.report_json();
    assert_eq!(report["hosts"]["down"]["unreachable"], true, "{report:#}");
    assert_eq!(report["hosts"]["web1"]["unreachable"], false, "{report:#}");
    assert_eq!(report["hosts"]["web2"]["unreachable"], false, "{report:#}");
    assert_eq!(report["summary"]["unreachable"], 1, "{report:#}");
    assert_eq!(report["summary"]["hosts"], 3, "{report:#}");
    assert_eq!(report["summary"]["changed"], 2, "{report:#}");
    out.assert_output_contains("down");
}

#[test]
fn failures_and_unreachable_hosts_combine_their_exit_bits() {
    let sshd = Sshd::start();
    let test = Test::new().host("web1", &sshd).host("web2", &sshd).unreachable_host("down").file(
        "site.yml",
        play(
            r#"
                - name: fail on web2
                  fail:
                    msg: planned failure
                  when: inventory_hostname == 'web2'
                - name: hello
                  copy:
                    content: "hello\n"
                    dest: "{{ root }}/hello"
                "#,
        ),
    );
    let out = test.run_args(["apply", "site.yml", "--detailed-exitcode"]);
    // changed (2) | failed (4) | unreachable (8)
    out.assert_status(14);
    assert!(test.exists("web1", "hello"));
    assert!(!test.exists("web2", "hello"));
    assert_eq!(out.summary("failed"), 1);
}

#[test]
fn hosts_run_their_tasks_at_the_same_time() {
    // Each host waits (bounded) until every host has arrived at the same
    // task: only possible if the hosts run concurrently.
    let sshd = Sshd::start();
    let barrier = tempfile::tempdir().unwrap();
    let mut test = Test::new();
    let names = ["h1", "h2", "h3", "h4"];
    for name in names {
        test = test.host(name, &sshd);
    }
    let test = test.file(
        "site.yml",
        play(&format!(
            r#"
            - name: rendezvous
              shell: |
                touch "{barrier}/{{{{ inventory_hostname }}}}"
                i=0
                while [ "$(ls "{barrier}" | wc -l)" -lt {n} ]; do
                  i=$((i + 1))
                  [ "$i" -gt 150 ] && exit 1
                  sleep 0.1
                done
                touch "{{{{ root }}}}/done"
            "#,
            barrier = barrier.path().display(),
            n = names.len(),
        )),
    );
    test.run_args(["apply", "site.yml"]).assert_status(0);
    for name in names {
        assert!(test.exists(name, "done"), "{name} did not pass the barrier");
    }
}

#[test]
fn forks_one_runs_hosts_one_after_the_other() {
    // The same rendezvous cannot complete with one host in flight: the
    // first host times out and fails. Pins that --forks is honoured (and
    // that the barrier above proves something).
    let sshd = Sshd::start();
    let barrier = tempfile::tempdir().unwrap();
    let test = Test::new().host("h1", &sshd).host("h2", &sshd).file(
        "site.yml",
        play(&format!(
            r#"
                - name: rendezvous
                  shell: |
                    touch "{barrier}/{{{{ inventory_hostname }}}}"
                    i=0
                    while [ "$(ls "{barrier}" | wc -l)" -lt 2 ]; do
                      i=$((i + 1))
                      [ "$i" -gt 10 ] && exit 1
                      sleep 0.1
                    done
                "#,
            barrier = barrier.path().display(),
        )),
    );
    let out = test.run_args(["apply", "site.yml", "--forks", "1"]);
    out.assert_status(4);
    assert_eq!(out.summary("failed"), 1, "only the first host times out");
}

#[test]
fn plan_reports_drift_only_for_the_host_whose_file_was_edited() {
    let sshd = Sshd::start();
    let test = Test::new().host("web1", &sshd).host("web2", &sshd).file("site.yml", play(HELLO));
    test.run_args(["apply", "site.yml"]).assert_status(0);

    let clean = test.run_args(["plan", "site.yml", "--detailed-exitcode"]);
    clean.assert_status(0).assert_changed(0);

    test.put("web2", "hello", "edited by hand\n");
    let before = (test.tree_hash("web1"), test.tree_hash("web2"));
    let drift = test.run_args(["plan", "site.yml", "--detailed-exitcode"]);
    drift.assert_status(2).assert_changed(1);
    assert_eq!(before, (test.tree_hash("web1"), test.tree_hash("web2")), "plan modified a host");
    crate::support::assert_has_line(&drift, "-edited by hand");
    crate::support::assert_has_line(&drift, "+hello web2");
    drift.assert_stdout_lacks("+hello web1");

    let web1 = drift.task("web1", "hello");
    let web2 = drift.task("web2", "hello");
    assert_eq!(web1["status"], "ok", "{web1:#}");
    assert!(web1["diff"].is_null() || web1["diff"] == "", "web1 has no drift: {web1:#}");
    assert_eq!(web2["status"], "changed", "{web2:#}");
    assert!(web2["diff"].as_str().is_some_and(|d| d.contains("-edited by hand")), "{web2:#}");
}

#[test]
fn limit_selects_hosts_by_pattern() {
    let sshd = Sshd::start();
    let test = Test::new()
        .host("web1", &sshd)
        .host("web2", &sshd)
        .host("db1", &sshd)
        .group("web", &["web1", "web2"])
        .file("site.yml", play(HELLO));
    test.run_args(["apply", "site.yml", "--limit", "web:!web2"]).assert_status(0).assert_changed(1);
    assert!(test.exists("web1", "hello"));
    assert!(!test.exists("web2", "hello"));
    assert!(!test.exists("db1", "hello"));
}

#[test]
fn play_hosts_pattern_selects_a_group() {
    let sshd = Sshd::start();
    let test = Test::new().host("web1", &sshd).host("db1", &sshd).group("web", &["web1"]).file(
        "site.yml",
        format!(
            "- hosts: web\n  gather_facts: false\n  tasks:\n{}",
            HELLO.trim_start_matches('\n').lines().map(|l| format!("    {l}\n")).collect::<String>()
        ),
    );
    test.run_args(["apply", "site.yml"]).assert_status(0);
    assert!(test.exists("web1", "hello"));
    assert!(!test.exists("db1", "hello"));
}

#[test]
fn inventory_list_shows_hosts_groups_and_vars_without_connecting() {
    let sshd = Sshd::start();
    let test = Test::new().host("web1", &sshd).unreachable_host("down").group("web", &["web1"]);
    let out = test.run_args(["inventory", "--list"]);
    out.assert_status(0);
    let json: serde_json::Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("inventory --list is not JSON: {e}\n{}", out.stdout));
    let text = json.to_string();
    assert!(text.contains("web1") && text.contains("down"), "{json:#}");
    assert!(
        json["web"]["hosts"].as_array().is_some_and(|h| h.iter().any(|x| x == "web1")),
        "group web lists web1 (Ansible's --list shape): {json:#}"
    );
    assert_eq!(json["_meta"]["hostvars"]["web1"]["ansible_port"], sshd.port(), "{json:#}");
}

#[test]
fn inventory_yaml_in_the_working_directory_is_the_default() {
    let sshd = Sshd::start();
    let test = Test::new().host("web1", &sshd).file("site.yml", play(HELLO)).raw();
    test.run_args(["apply", "site.yml", "--output", "plain"]).assert_status(0);
    assert_eq!(test.read("web1", "hello"), "hello web1\n");
}

#[test]
fn exec_runs_one_module_on_the_matching_hosts() {
    let sshd = Sshd::start();
    let test = Test::new().host("web1", &sshd).host("web2", &sshd).group("web", &["web1"]);
    test.run_args(["exec", "web", "-m", "copy", "-a", "content=adhoc dest={{ root }}/adhoc"]).assert_status(0);
    assert_eq!(test.read("web1", "adhoc"), "adhoc");
    assert!(!test.exists("web2", "adhoc"));
}

#[test]
fn exec_against_an_unreachable_host_exits_8() {
    let test = Test::new().unreachable_host("down");
    test.run_args(["exec", "all", "-m", "ping"]).assert_status(8).assert_output_contains("down");
}

#[test]
fn unknown_host_key_is_refused_unless_accept_new_host_keys() {
    let sshd = Sshd::start();
    let empty_known_hosts = tempfile::NamedTempFile::new().unwrap();
    let args =
        format!("-o UserKnownHostsFile={} -o IdentitiesOnly=yes -F /dev/null", empty_known_hosts.path().display());
    let test = Test::new()
        .host("web1", &sshd)
        .host_var("web1", "ansible_ssh_common_args", args.as_str())
        .file("site.yml", play(HELLO));

    let out = test.run_args(["apply", "site.yml"]);
    out.assert_status(8);
    assert!(!test.exists("web1", "hello"), "nothing may run on a host whose key is unknown");
    assert_eq!(std::fs::read_to_string(empty_known_hosts.path()).unwrap(), "", "strict: no key recorded");

    let out = test.run_args(["apply", "site.yml", "--accept-new-host-keys"]);
    out.assert_status(0);
    assert_eq!(test.read("web1", "hello"), "hello web1\n");
    assert!(!std::fs::read_to_string(empty_known_hosts.path()).unwrap().is_empty(), "the new key is recorded");
}

#[test]
fn remote_user_of_the_play_is_the_ssh_login() {
    // Without `ansible_user`, the play's `remote_user` is who ssh logs in as:
    // a user the server does not accept makes the host unreachable.
    let sshd = Sshd::start();
    let vars: Vec<_> = sshd.host_vars().into_iter().filter(|(k, _)| k != "ansible_user").collect();
    let site = |user: &str| {
        format!(
            "- hosts: all\n  gather_facts: false\n  remote_user: {user}\n  tasks:\n    - copy: {{content: \"x\\n\", dest: \"{{{{ root }}}}/f\"}}\n"
        )
    };
    let test = Test::new().host_with("web1", vars).file("site.yml", site("nosuchuser-stead"));
    test.run_args(["apply", "site.yml"]).assert_status(8);
    assert!(!test.exists("web1", "f"));
    test.write("site.yml", site(&crate::support::sshd::current_user()));
    test.run_args(["apply", "site.yml"]).assert_status(0);
    assert_eq!(test.read("web1", "f"), "x\n");
}

#[test]
fn templated_connection_variables_are_rendered() {
    let sshd = Sshd::start();
    let mut vars = sshd.host_vars();
    for (k, v) in vars.iter_mut() {
        if k == "ansible_port" {
            *v = "{{ real_port }}".into();
        }
        if k == "ansible_host" {
            *v = "{{ '127.0.0.' ~ last_octet }}".into();
        }
    }
    let test = Test::new()
        .host_with("web1", vars)
        .host_var("web1", "real_port", sshd.port())
        .host_var("web1", "last_octet", 1)
        .file("site.yml", play("- copy: {content: \"x\\n\", dest: \"{{ root }}/f\"}\n"));
    test.run_args(["apply", "site.yml"]).assert_status(0);
    assert_eq!(test.read("web1", "f"), "x\n");
}

/// Issue 12: an unknown and a changed host key both said "Host key
/// verification failed."; the changed one must say so, loudly.
#[test]
fn a_changed_host_key_is_named_as_changed_and_an_unknown_one_as_unknown() {
    let sshd = Sshd::start();
    let other = tempfile::tempdir().unwrap();
    let key = other.path().join("k");
    let status = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(status.success());
    let known = other.path().join("known_hosts");
    let pubkey = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    std::fs::write(&known, format!("[127.0.0.1]:{} {pubkey}", sshd.port())).unwrap();
    let args = format!("-o UserKnownHostsFile={} -o IdentitiesOnly=yes -F /dev/null", known.display());
    let test = Test::new()
        .host("web1", &sshd)
        .host_var("web1", "ansible_ssh_common_args", args.as_str())
        .file("site.yml", play(HELLO));
    let out = test.run_args(["apply", "site.yml", "--accept-new-host-keys"]);
    out.assert_status(8).assert_output_contains("CHANGED").assert_output_contains("ssh-keygen -R");
    assert!(!test.exists("web1", "hello"));

    std::fs::write(&known, "").unwrap();
    let out = test.run_args(["apply", "site.yml"]);
    out.assert_status(8).assert_output_contains("not in known_hosts").assert_output_contains("--accept-new-host-keys");
}
