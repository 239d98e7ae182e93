//! `nftables` on Tier-B hosts: each host's packet filter is its own network
//! namespace's (CONTRACT §7), so a ruleset stead loads there is real and
//! this machine's is never touched. The tests prove the rules work from
//! the controller's side: a port the play closes stops answering, the SSH
//! port keeps answering.

use super::converge;
use crate::support::testhosts::{Options, TestHost};
use crate::support::{play, play_vars, Outcome, Test, TestHosts};

/// A default-drop inbound table that keeps SSH (from the test subnet,
/// through a named set), ICMP rate-limited, and one raw rule.
const TABLE: &str = r#"
- name: inbound filter
  nftables:
    table: stead_filter
    family: inet
    sets:
      - name: admins
        type: ipv4_addr
        flags: [interval]
        elements: ["10.231.0.0/16"]
    chains:
      - name: input
        hook: input
        priority: 0
        policy: drop
        rules:
          - {ct_state: [established, related], action: accept}
          - {iifname: lo, action: accept}
          - {protocol: tcp, dport: 22, saddr: "@admins", action: accept, comment: ssh}
          - {protocol: icmp, icmp_type: echo-request, limit: 5/second, action: accept}
          - "tcp dport 8082 counter accept"
      - name: output
        hook: output
        policy: accept
"#;

/// Asserts a diff line `sign` + `text`, whatever the indentation between
/// (nft indents with tabs).
#[track_caller]
fn assert_diff_line(out: &Outcome, sign: char, text: &str) {
    assert!(
        out.stdout.lines().any(|l| l.strip_prefix(sign).is_some_and(|rest| rest.trim() == text)),
        "no diff line {sign}{text}\n{}",
        out.stdout
    );
}

fn ruleset(hosts: &TestHosts, host: &TestHost) -> String {
    hosts.sh(host, "nft -s list ruleset")
}

#[test]
fn nftables_closes_a_port_keeps_ssh_and_converges() {
    let Some(hosts) = TestHosts::up(1) else { return };
    let host = hosts.host(0);
    hosts.listen(host, 8081);
    // A table of someone else's (Docker's, fail2ban's) stays as it is.
    hosts.sh(
        host,
        "nft add table ip other && nft add chain ip other keep && nft add rule ip other keep tcp dport 9999 drop",
    );
    let other = hosts.sh(host, "nft -s list table ip other");
    let test = Test::new().testhost("h1", &hosts, host).file("site.yml", play(TABLE));

    let before = ruleset(&hosts, host);
    test.run_args(["plan", "site.yml", "--detailed-exitcode"]).assert_status(2).assert_changed(1);
    assert_eq!(ruleset(&hosts, host), before, "plan changed the ruleset");
    assert!(host.answers(8081), "plan closed the port");

    converge(&test, &hosts, 1);
    assert!(!host.answers(8081), "port 8081 still answers");
    assert!(host.answers(22), "the SSH port no longer answers");
    let table = hosts.sh(host, "nft -s list table inet stead_filter");
    for line in
        ["policy drop;", "ip saddr @admins tcp dport 22 accept comment \"ssh\"", "tcp dport 8082 counter accept"]
    {
        assert!(table.contains(line), "no `{line}` in\n{table}");
    }
    assert_eq!(hosts.sh(host, "nft -s list table ip other"), other, "another table changed");
}

#[test]
fn nftables_reports_a_hand_added_rule_as_drift_and_removes_it() {
    let Some(hosts) = TestHosts::up(1) else { return };
    let host = hosts.host(0);
    let test = Test::new().testhost("h1", &hosts, host).file("site.yml", play(TABLE));
    test.run_args(["apply", "site.yml"]).assert_status(0).assert_changed(1);
    hosts.sh(host, "nft add rule inet stead_filter input tcp dport 7777 accept");
    let drifted = ruleset(&hosts, host);
    let plan = test.run_args(["plan", "site.yml", "--detailed-exitcode"]);
    plan.assert_status(2).assert_changed(1);
    assert_diff_line(&plan, '-', "tcp dport 7777 accept");
    assert_eq!(ruleset(&hosts, host), drifted, "plan changed the ruleset");
    test.run_args(["apply", "site.yml"]).assert_status(0).assert_changed(1);
    assert!(!ruleset(&hosts, host).contains("7777"));
    test.run_args(["apply", "site.yml"]).assert_status(0).assert_changed(0);
}

#[test]
fn nftables_runs_without_python_and_removes_its_table() {
    let Some(hosts) = TestHosts::up_with(1, Options { no_python: true, ..Options::default() }) else { return };
    let host = hosts.host(0);
    let test = Test::new().testhost("h1", &hosts, host).file("site.yml", play(TABLE));
    converge(&test, &hosts, 1);
    let absent = play("- nftables: {table: stead_filter, state: absent}\n");
    let test = test.file("site.yml", absent);
    let plan = test.run_args(["plan", "site.yml"]);
    plan.assert_status(0).assert_changed(1);
    assert_diff_line(&plan, '-', "type filter hook input priority filter; policy drop;");
    converge(&test, &hosts, 1);
    assert!(!ruleset(&hosts, host).contains("stead_filter"));
}

#[test]
fn nftables_refuses_a_ruleset_that_cuts_off_ssh() {
    let Some(hosts) = TestHosts::up(1) else { return };
    let host = hosts.host(0);
    let closed = r#"
- name: web only
  nftables:
    table: stead_filter
    chains:
      - name: input
        hook: input
        policy: drop
        rules:
          - {ct_state: [established, related], action: accept}
          - {protocol: tcp, dport: [80, 443], action: accept}
"#;
    let test = Test::new().testhost("h1", &hosts, host).file("site.yml", play(closed));
    for command in ["plan", "apply"] {
        let out = test.run_args([command, "site.yml"]);
        out.assert_status(4);
        let task = out.task("h1", "web only");
        assert_eq!(task["status"], "failed", "{command}: {task}");
        let msg = task["msg"].as_str().unwrap_or_default();
        assert!(msg.contains("policy drop of chain input") && msg.contains("stead_allow_lockout"), "{msg}");
        assert!(!ruleset(&hosts, host).contains("stead_filter"), "{command} loaded the table");
    }
    // Said to be intended: the table loads (the established connection
    // survives it; a new one would not).
    let test = test.file("site.yml", play_vars("stead_allow_lockout: true", closed));
    test.run_args(["apply", "site.yml"]).assert_status(0).assert_changed(1);
    assert!(ruleset(&hosts, host).contains("tcp dport { 80, 443 } accept"));
    assert!(!host.answers(22), "a new SSH connection still gets through");
}

#[test]
fn nftables_shows_nft_errors_in_plan_without_touching_the_host() {
    let Some(hosts) = TestHosts::up(1) else { return };
    let host = hosts.host(0);
    let test = Test::new().testhost("h1", &hosts, host).file(
        "site.yml",
        play("- name: typo\n  nftables: {table: t, chains: [{name: c, rules: ['tcp dportt 22 accept']}]}\n"),
    );
    let before = ruleset(&hosts, host);
    let out = test.run_args(["plan", "site.yml"]);
    out.assert_status(4);
    let msg = out.task("h1", "typo")["msg"].as_str().unwrap_or_default().to_owned();
    assert!(msg.contains("nft refused the declared table inet t") && msg.contains("dportt"), "{msg}");
    assert_eq!(ruleset(&hosts, host), before);
}

/// The other way users keep a firewall: the whole `/etc/nftables.conf`,
/// written only when `nft -c` accepts it, loaded by a handler.
#[test]
fn nftables_conf_is_validated_before_it_is_written_and_loaded_by_a_handler() {
    let Some(hosts) = TestHosts::up(1) else { return };
    let host = hosts.host(0);
    let site = |rule: &str| {
        format!(
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: ruleset\n      copy:\n        dest: /etc/nftables.conf\n        \
             content: |\n          table inet kept {{\n            chain input {{\n              type filter hook input priority 0; policy accept;\n              \
             {rule}\n            }}\n          }}\n        validate: nft -c -f %s\n      notify: load\n  handlers:\n    - name: load\n      \
             command: nft -f /etc/nftables.conf\n"
        )
    };
    let original = hosts.sh(host, "cat /etc/nftables.conf");
    let test = Test::new().testhost("h1", &hosts, host).file("site.yml", site("tcp dportt 8081 drop"));
    let out = test.run_args(["apply", "site.yml"]);
    out.assert_status(4);
    assert_eq!(hosts.sh(host, "cat /etc/nftables.conf"), original, "an invalid ruleset was written");

    hosts.listen(host, 8081);
    let test = test.file("site.yml", site("tcp dport 8081 drop"));
    test.run_args(["apply", "site.yml"]).assert_status(0).assert_changed(2);
    assert!(!host.answers(8081), "the handler did not load the ruleset");
    assert!(ruleset(&hosts, host).contains("tcp dport 8081 drop"));
    test.run_args(["apply", "site.yml"]).assert_status(0).assert_changed(0);
}
