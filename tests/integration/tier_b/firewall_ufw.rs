//! `ufw` on Tier-B hosts: the package is installed inside the host only
//! (its `.deb` fetched once into the controller's cache, never installed
//! here), and ufw drives the host's own network namespace. Checked with
//! `ufw status verbose`, `iptables -S` inside the host and connections from
//! the controller; and the lock-out refusal.

use super::converge;
use crate::support::oracle;
use crate::support::testhosts::TestHost;
use crate::support::{assert_has_line, play, Test, TestHosts};

const UFW_DEBS: &str = "/var/tmp/stead-apt-cache/ufw-debs";

/// Installs ufw in the host; false (test skipped) when it cannot be fetched.
fn install_ufw(hosts: &TestHosts, host: &TestHost) -> bool {
    let Some(dir) = crate::support::apt_repo::downloaded(UFW_DEBS, &["ufw"]) else { return false };
    hosts.sh(host, &format!("dpkg -i {dir}/ufw_*.deb >/dev/null 2>&1 || exit 1; command -v ufw >/dev/null"));
    true
}

const TASKS: &str = r#"
- name: ssh
  community.general.ufw: {rule: allow, port: "22", proto: tcp, comment: ssh in}
- name: close 8081
  ufw: {rule: deny, port: "8081", proto: tcp}
- name: enable
  ufw: {state: enabled}
- name: reject the rest
  ufw: {default: reject, direction: incoming}
- name: more logging
  ufw: {logging: medium}
"#;

fn status(hosts: &TestHosts, host: &TestHost) -> String {
    hosts.sh(host, "LANG=C ufw status verbose")
}

#[test]
fn ufw_rules_state_default_and_logging() {
    // ufw is a Python program: no python-less variant.
    for engine in oracle::engines() {
        let Some(hosts) = TestHosts::up(1) else { return };
        let host = hosts.host(0);
        if !install_ufw(&hosts, host) {
            return;
        }
        let test = Test::new().engine(&engine).testhost("h1", &hosts, host).file("site.yml", play(TASKS));
        converge(&test, &hosts, 5);
        let e = engine.name();
        let st = status(&hosts, host);
        assert!(st.starts_with("Status: active\nLogging: on (medium)\n"), "{e}: {st}");
        assert!(st.contains("Default: reject (incoming), allow (outgoing)"), "{e}: {st}");
        assert!(st.contains("22/tcp                     ALLOW IN    Anywhere                   # ssh in"), "{e}: {st}");
        assert!(st.contains("8081/tcp                   DENY IN     Anywhere"), "{e}: {st}");
        let rules = hosts.sh(host, "iptables -S ufw-user-input");
        assert!(rules.contains("-A ufw-user-input -p tcp -m tcp --dport 22 -j ACCEPT"), "{e}: {rules}");
        assert!(rules.contains("-A ufw-user-input -p tcp -m tcp --dport 8081 -j DROP"), "{e}: {rules}");
    }
}

#[test]
fn ufw_closes_a_port_keeps_hand_rules_inserts_deletes_and_sees_drift() {
    let Some(hosts) = TestHosts::up(1) else { return };
    let host = hosts.host(0);
    if !install_ufw(&hosts, host) {
        return;
    }
    hosts.listen(host, 8081);
    let test = Test::new().testhost("h1", &hosts, host).file("site.yml", play(TASKS));
    let out = test.run_args(["apply", "site.yml"]);
    out.assert_status(0).assert_changed(5);
    assert!(!host.answers(8081), "port 8081 still answers");
    assert!(host.answers(22), "ssh no longer answers");
    // A rule added by hand survives the next run.
    hosts.sh(host, "ufw allow 9999/tcp >/dev/null");
    test.run_args(["apply", "site.yml", "--detailed-exitcode"]).assert_status(0).assert_changed(0);
    assert!(status(&hosts, host).contains("9999/tcp"));
    // A managed rule deleted by hand is drift.
    hosts.sh(host, "ufw delete deny 8081/tcp >/dev/null");
    let plan = test.run_args(["plan", "site.yml", "--detailed-exitcode"]);
    plan.assert_status(2).assert_changed(1);
    assert_has_line(&plan, "+rule: ufw deny from any to any port 8081 proto tcp");
    test.run_args(["apply", "site.yml"]).assert_status(0).assert_changed(1);
    // insert puts a rule first; delete takes one away.
    test.write(
        "more.yml",
        play(
            "- name: first\n  ufw: {rule: allow, port: \"80\", proto: tcp, insert: 1}\n\
             - name: gone\n  ufw: {rule: allow, port: \"9999\", proto: tcp, delete: true}\n",
        ),
    );
    test.run_args(["apply", "more.yml"]).assert_status(0).assert_changed(2);
    test.run_args(["apply", "more.yml"]).assert_status(0).assert_changed(0);
    let numbered = hosts.sh(host, "LANG=C ufw status numbered");
    assert!(numbered.contains("[ 1] 80/tcp"), "{numbered}");
    assert!(!numbered.contains("9999"), "{numbered}");
}

#[test]
fn ufw_refuses_to_lock_out_ssh_unless_allowed() {
    let Some(hosts) = TestHosts::up(1) else { return };
    let host = hosts.host(0);
    if !install_ufw(&hosts, host) {
        return;
    }
    let test =
        Test::new().testhost("h1", &hosts, host).file("site.yml", play("- name: enable\n  ufw: {state: enabled}\n"));
    let out = test.run_args(["apply", "site.yml"]);
    out.assert_status(4);
    let task = out.task("h1", "enable");
    let msg = task["msg"].as_str().unwrap_or("");
    assert!(msg.contains("refusing a firewall change that would cut off stead's SSH connection"), "{task}");
    assert!(msg.contains("policy DROP of chain INPUT"), "{msg}");
    assert!(status(&hosts, host).starts_with("Status: inactive"), "the refused change was applied");
    // Deliberately (last: the host is cut off; teardown does not use ssh).
    test.write("allowed.yml", play("- name: enable\n  ufw: {state: enabled}\n  vars: {stead_allow_lockout: true}\n"));
    test.run_args(["apply", "allowed.yml"]).assert_status(0).assert_changed(1);
    assert!(status(&hosts, host).starts_with("Status: active"));
    assert!(!host.answers(22), "ssh still answers a new connection");
}
