//! Kernel settings: `sysctl`, on the per-namespace `net.*` keys of Tier-B
//! hosts only (CONTRACT §7), checked in the host's file and live kernel.

use super::{converge, variants};
use crate::support::{assert_has_line, play, Test, TestHosts};

const FILE: &str = "/etc/sysctl.d/90-stead-test.conf";

const TASKS: &str = r#"
- name: forwarding
  sysctl:
    name: net.ipv4.ip_forward
    value: "1"
    sysctl_file: /etc/sysctl.d/90-stead-test.conf
- name: redirects
  sysctl:
    name: net.ipv4.conf.all.accept_redirects
    value: 0
    sysctl_file: /etc/sysctl.d/90-stead-test.conf
- name: port range, live only
  ansible.posix.sysctl:
    name: net.ipv4.ip_local_port_range
    value: "20000   40000"
    sysctl_file: /etc/sysctl.d/91-stead-test.conf
    sysctl_set: true
    reload: false
"#;

#[test]
fn sysctl_writes_the_file_and_the_live_value() {
    for (engine, options) in variants() {
        let Some(hosts) = TestHosts::up_with(1, options) else { return };
        let host = hosts.host(0);
        hosts.sh(host, &format!("printf '# managed\\nnet.ipv4.ip_forward = 0\\n' > {FILE}"));
        let test = Test::new().engine(&engine).testhost("h1", &hosts, host).file("site.yml", play(TASKS));
        converge(&test, &hosts, 3);
        let e = format!("{} {options:?}", engine.name());
        assert_eq!(
            hosts.sh(host, &format!("cat {FILE}")),
            "# managed\nnet.ipv4.ip_forward=1\nnet.ipv4.conf.all.accept_redirects=0\n",
            "{e}"
        );
        assert_eq!(hosts.sh(host, "cat /proc/sys/net/ipv4/ip_forward").trim(), "1", "{e}");
        assert_eq!(hosts.sh(host, "cat /proc/sys/net/ipv4/conf/all/accept_redirects").trim(), "0", "{e}");
        assert_eq!(hosts.sh(host, "cat /proc/sys/net/ipv4/ip_local_port_range").trim(), "20000\t40000", "{e}");
        // The file keeps the value as written; the kernel compares word by word.
        assert_eq!(
            hosts.sh(host, "cat /etc/sysctl.d/91-stead-test.conf"),
            "net.ipv4.ip_local_port_range=20000   40000\n",
            "{e}"
        );
    }
}

#[test]
fn sysctl_reloads_a_live_value_changed_behind_its_back_and_shows_it() {
    let Some(hosts) = TestHosts::up(1) else { return };
    let host = hosts.host(0);
    let test = Test::new().testhost("h1", &hosts, host).file("site.yml", play(TASKS));
    test.run_args(["apply", "site.yml"]).assert_status(0);
    // (Not ip_forward: the kernel resets accept_redirects when it changes.)
    hosts.sh(host, "echo 1 > /proc/sys/net/ipv4/conf/all/accept_redirects");
    let plan = test.run_args(["plan", "site.yml", "--detailed-exitcode"]);
    plan.assert_status(2).assert_changed(1);
    assert_has_line(&plan, "-value: 1");
    assert_has_line(&plan, "+value: 0");
    let live = "cat /proc/sys/net/ipv4/conf/all/accept_redirects";
    assert_eq!(hosts.sh(host, live).trim(), "1", "plan changed the host");
    test.run_args(["apply", "site.yml"]).assert_status(0).assert_changed(1);
    assert_eq!(hosts.sh(host, live).trim(), "0");
}

#[test]
fn sysctl_diff_shows_the_file_change() {
    let Some(hosts) = TestHosts::up(1) else { return };
    let test = Test::new().testhost("h1", &hosts, hosts.host(0)).file("site.yml", play(TASKS));
    let out = test.run_args(["plan", "site.yml"]);
    out.assert_status(0);
    assert_has_line(&out, "+net.ipv4.ip_forward=1");
    assert_has_line(&out, "+net.ipv4.ip_local_port_range=20000   40000");
}

#[test]
fn sysctl_removes_a_key_and_fails_on_a_read_only_one() {
    let Some(hosts) = TestHosts::up(1) else { return };
    let host = hosts.host(0);
    hosts.sh(host, &format!("printf 'net.ipv4.ip_forward=1\\nnet.core.somaxconn=512\\n' > {FILE}"));
    let test = Test::new().testhost("h1", &hosts, host).file(
        "site.yml",
        play(&format!(
            r#"
            - name: gone
              sysctl: {{name: net.ipv4.ip_forward, state: absent, sysctl_file: {FILE}}}
            - name: read-only outside the namespace
              sysctl: {{name: kernel.kptr_restrict, value: 1, sysctl_file: /etc/sysctl.d/92-k.conf}}
            "#
        )),
    );
    let out = test.run_args(["apply", "site.yml"]);
    out.assert_status(4);
    assert_eq!(hosts.sh(host, &format!("cat {FILE}")), "net.core.somaxconn=512\n");
    let failed = out.task("h1", "read-only outside the namespace");
    assert_eq!(failed["status"], "failed");
    assert!(failed["msg"].as_str().unwrap_or("").contains("Failed to reload sysctl"), "{failed}");
}
