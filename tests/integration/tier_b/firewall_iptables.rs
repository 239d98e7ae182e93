//! `iptables` on Tier-B hosts: rules, policies and chains in each host's
//! own network namespace (CONTRACT §7: never this machine's), checked with
//! `iptables -S` inside the host and with real connections from the
//! controller to the host's address; and the lock-out refusal.

use super::{converge, variants};
use crate::support::testhosts::TestHost;
use crate::support::{assert_has_line, play, Test, TestHosts};

const TASKS: &str = r#"
- name: ssh
  iptables: {chain: INPUT, protocol: tcp, destination_port: "22", jump: ACCEPT, comment: ssh in}
- name: established
  ansible.builtin.iptables: {chain: INPUT, ctstate: [ESTABLISHED, RELATED], jump: ACCEPT}
- name: close 8081
  iptables: {chain: INPUT, protocol: tcp, destination_port: "8081", jump: DROP}
- name: web chain
  iptables: {chain: web, chain_management: true}
- name: web rule
  iptables: {chain: web, protocol: tcp, destination_ports: ["80", "443"], jump: ACCEPT}
- name: loopback first
  iptables: {chain: INPUT, action: insert, rule_num: "1", in_interface: lo, jump: ACCEPT}
- name: log telnet
  iptables: {chain: INPUT, protocol: tcp, destination_port: "23", log_prefix: "telnet: ", log_level: info}
- name: drop the rest
  iptables: {chain: INPUT, policy: DROP}
- name: no forwarding
  iptables: {chain: FORWARD, policy: DROP}
- name: ssh over ipv6
  iptables: {chain: INPUT, ip_version: ipv6, protocol: tcp, destination_port: "22", jump: ACCEPT}
"#;

const RULES: &str = "-P INPUT DROP
-P FORWARD DROP
-P OUTPUT ACCEPT
-N web
-A INPUT -i lo -j ACCEPT
-A INPUT -p tcp -m tcp --dport 22 -m comment --comment \"ssh in\" -j ACCEPT
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A INPUT -p tcp -m tcp --dport 8081 -j DROP
-A INPUT -p tcp -m tcp --dport 23 -j LOG --log-prefix \"telnet: \" --log-level 6
-A web -p tcp -m multiport --dports 80,443 -j ACCEPT
";

fn rules(hosts: &TestHosts, host: &TestHost) -> String {
    hosts.sh(host, "iptables -S")
}

#[test]
fn iptables_keeps_rules_policies_and_chains() {
    for (engine, options) in variants() {
        let Some(hosts) = TestHosts::up_with(1, options) else { return };
        let host = hosts.host(0);
        let test = Test::new().engine(&engine).testhost("h1", &hosts, host).file("site.yml", play(TASKS));
        converge(&test, &hosts, 10);
        let e = format!("{} {options:?}", engine.name());
        assert_eq!(rules(&hosts, host), RULES, "{e}");
        assert_eq!(
            hosts.sh(host, "ip6tables -S"),
            "-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n",
            "{e}"
        );
    }
}

#[test]
fn iptables_closes_a_port_and_ssh_still_answers() {
    let Some(hosts) = TestHosts::up(1) else { return };
    let host = hosts.host(0);
    hosts.listen(host, 8081);
    let test = Test::new().testhost("h1", &hosts, host).file("site.yml", play(TASKS));
    test.run_args(["apply", "site.yml"]).assert_status(0).assert_changed(10);
    assert!(!host.answers(8081), "port 8081 still answers");
    assert!(host.answers(22), "ssh no longer answers");
    // A rule added by hand beside the managed ones survives the next run.
    hosts.sh(host, "iptables -A INPUT -p tcp --dport 9999 -j ACCEPT");
    test.run_args(["apply", "site.yml", "--detailed-exitcode"]).assert_status(0).assert_changed(0);
    assert!(rules(&hosts, host).contains("-A INPUT -p tcp -m tcp --dport 9999 -j ACCEPT\n"));
    // A managed rule deleted by hand is drift, and the next run restores it.
    hosts.sh(host, "iptables -D INPUT -p tcp --dport 8081 -j DROP");
    let plan = test.run_args(["plan", "site.yml", "--detailed-exitcode"]);
    plan.assert_status(2).assert_changed(1);
    assert_has_line(&plan, "+-A INPUT -p tcp -j DROP --destination-port 8081");
    test.run_args(["apply", "site.yml"]).assert_status(0).assert_changed(1);
    assert!(!host.answers(8081), "port 8081 answers again");
}

#[test]
fn iptables_diff_shows_the_rule_and_the_policy() {
    let Some(hosts) = TestHosts::up(1) else { return };
    let host = hosts.host(0);
    let before = rules(&hosts, host);
    let test = Test::new().testhost("h1", &hosts, host).file("site.yml", play(TASKS));
    let plan = test.run_args(["plan", "site.yml"]);
    plan.assert_status(0);
    assert_has_line(&plan, "+-A INPUT -p tcp -j ACCEPT --destination-port 22 -m comment --comment 'ssh in'");
    assert_has_line(&plan, "+-I INPUT 1 -j ACCEPT -i lo");
    assert_has_line(&plan, "-policy: ACCEPT");
    assert_has_line(&plan, "+policy: DROP");
    assert_has_line(&plan, "+chain: present");
    assert_eq!(rules(&hosts, host), before, "plan changed the ruleset");
}

#[test]
fn iptables_removes_rules_flushes_and_deletes_chains() {
    let Some(hosts) = TestHosts::up(1) else { return };
    let host = hosts.host(0);
    hosts.sh(
        host,
        "iptables -A INPUT -p tcp --dport 8081 -j DROP && iptables -A INPUT -p udp --dport 53 -j ACCEPT \
         && iptables -N old && iptables -N scratch && iptables -A scratch -p tcp --dport 1 -j DROP",
    );
    let tasks = r#"
- name: rule gone
  iptables: {chain: INPUT, protocol: tcp, destination_port: "8081", jump: DROP, state: absent}
- name: chain gone
  iptables: {chain: old, state: absent, chain_management: true}
"#;
    let test = Test::new().testhost("h1", &hosts, host).file("site.yml", play(tasks));
    converge(&test, &hosts, 2);
    assert_eq!(
        rules(&hosts, host),
        "-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n-N scratch\n\
         -A INPUT -p udp -m udp --dport 53 -j ACCEPT\n-A scratch -p tcp -m tcp --dport 1 -j DROP\n"
    );
    // A flush always reports a change, as in Ansible.
    test.write("flush.yml", play("- name: flush scratch\n  iptables: {chain: scratch, flush: true}\n"));
    for _ in 0..2 {
        test.run_args(["apply", "flush.yml"]).assert_status(0).assert_changed(1);
    }
    assert!(rules(&hosts, host).contains("-N scratch\n-A INPUT -p udp"), "{}", rules(&hosts, host));
    assert!(!rules(&hosts, host).contains("-A scratch"));
}

#[test]
fn iptables_refuses_to_lock_out_ssh_unless_allowed() {
    let Some(hosts) = TestHosts::up(1) else { return };
    let host = hosts.host(0);
    let before = rules(&hosts, host);
    let tasks = "- name: drop everything\n  iptables: {chain: INPUT, policy: DROP}\n";
    let test = Test::new().testhost("h1", &hosts, host).file("site.yml", play(tasks));
    // The dry run warns: earlier tasks of a play may open the SSH port first.
    let plan = test.run_args(["plan", "site.yml"]);
    plan.assert_status(0).assert_changed(1);
    let warned = plan.task("h1", "drop everything");
    assert!(warned["msg"].as_str().unwrap_or("").starts_with("a real run fails here"), "{warned}");
    let out = test.run_args(["apply", "site.yml"]);
    out.assert_status(4);
    let task = out.task("h1", "drop everything");
    let msg = task["msg"].as_str().unwrap_or("");
    assert!(msg.contains("refusing a firewall change that would cut off stead's SSH connection"), "{task}");
    assert!(msg.contains("policy DROP of chain INPUT") && msg.contains("stead_allow_lockout"), "{msg}");
    assert_eq!(rules(&hosts, host), before, "the refused change was applied");
    // Deliberately: the change is applied (last, this host is cut off; the
    // harness tears it down through its namespaces, not ssh).
    test.write(
        "allowed.yml",
        play(
            "- name: drop everything\n  iptables: {chain: INPUT, policy: DROP}\n  vars: {stead_allow_lockout: true}\n",
        ),
    );
    test.run_args(["apply", "allowed.yml"]).assert_status(0).assert_changed(1);
    assert!(rules(&hosts, host).starts_with("-P INPUT DROP\n"));
    assert!(!host.answers(22), "ssh still answers a new connection");
}
