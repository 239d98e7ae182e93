//! `reboot` on rebootable Tier-B hosts (`Options { rebootable: true }`):
//! a reboot there is a simulation (hosts lack CAP_SYS_BOOT), in which the
//! host's sshd is killed and started again and its own boot id changes,
//! so both stead and Ansible's reboot plugin see a host go away and come
//! back. A reboot never reaches this machine or the run's other hosts.

use super::variants;
use crate::support::oracle::Engine;
use crate::support::testhosts::Options;
use crate::support::{assert_has_line, play, Test, TestHosts};

fn rebootable(options: Options) -> Options {
    Options { rebootable: true, ..options }
}

/// The listener pid of a host's sshd: changes only when it was restarted.
fn sshd_pid(hosts: &TestHosts, i: usize) -> String {
    hosts.sh(hosts.host(i), "cat /run/sshd.pid").trim().to_owned()
}

const MARKER_AND_REBOOT: &str = r#"
- name: marker
  copy: {dest: /etc/stead-reboot-marker, content: "before the reboot\n"}
- name: reboot
  reboot: {reboot_timeout: 60}
"#;

#[test]
fn reboot_waits_for_the_host_and_later_tasks_run_after_it() {
    for (engine, options) in variants() {
        let options = rebootable(options);
        let e = format!("{} {options:?}", engine.name());
        let Some(hosts) = TestHosts::up_with(1, options) else { return };
        let host = hosts.host(0);
        let boot = hosts.boot_id(host);
        let machine = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
        assert_ne!(boot, machine.trim(), "{e}: the host reads this machine's boot id");
        // The stat after the reboot is probed together with the reboot's
        // own probe: its answer must be taken again after the reboot.
        let site = play(&format!(
            "{}{MARKER_AND_REBOOT}{}",
            r#"
- name: stat before
  stat: {path: /proc/sys/kernel/random/boot_id, get_checksum: true}
  register: s1
"#,
            r#"
- name: stat after
  stat: {path: /proc/sys/kernel/random/boot_id, get_checksum: true}
  register: s2
- name: the marker is there
  command: cat /etc/stead-reboot-marker
  register: marker
  changed_when: false
- name: boot id after
  command: cat /proc/sys/kernel/random/boot_id
  register: after
  changed_when: false
- name: back, with a new boot
  assert:
    that:
      - marker.stdout == 'before the reboot'
      - after.stdout != 'BOOT'
      - s1.stat.checksum != s2.stat.checksum
"#
            .replace("BOOT", &boot)
        ));
        let test = Test::new()
            .engine(&engine)
            .testhost("h1", &hosts, host)
            .file("check.yml", play(MARKER_AND_REBOOT))
            .file("site.yml", site);

        // --check reboots nothing and changes nothing.
        let upper = hosts.upper_hash(host);
        let pid = sshd_pid(&hosts, 0);
        let check = test.run_args(["apply", "check.yml", "--check", "--detailed-exitcode"]);
        check.assert_status(2).assert_changed(2);
        assert_eq!(hosts.boot_id(host), boot, "{e}: --check rebooted");
        assert_eq!(sshd_pid(&hosts, 0), pid, "{e}: --check restarted sshd");
        assert_eq!(hosts.upper_hash(host), upper, "{e}: --check changed the host\n{}", hosts.upper_listing(host));

        let started = std::time::Instant::now();
        let real = test.run_args(["apply", "site.yml"]);
        real.assert_status(0).assert_changed(2);
        eprintln!("{e}: reboot run took {:?}", started.elapsed());
        let after = hosts.boot_id(host);
        assert_ne!(after, boot, "{e}: the boot id did not change");
        assert_ne!(sshd_pid(&hosts, 0), pid, "{e}: sshd was not restarted");
        assert_eq!(std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap(), machine, "{e}");
        // A second run reboots again: Ansible's reboot always reboots.
        test.run_args(["apply", "check.yml"]).assert_status(0).assert_changed(1);
        assert_ne!(hosts.boot_id(host), after, "{e}");
    }
}

#[test]
fn reboot_registers_ansibles_result() {
    for (engine, options) in variants().into_iter().filter(|(_, o)| !o.no_python) {
        let e = engine.name();
        let Some(hosts) = TestHosts::up_with(1, rebootable(options)) else { return };
        let test = Test::new().engine(&engine).testhost("h1", &hosts, hosts.host(0)).file(
            "site.yml",
            play(
                r#"
                - name: reboot
                  ansible.builtin.reboot:
                    msg: "it's $(maintenance)"
                    post_reboot_delay: 1
                    connect_timeout: 5
                    test_command: test -f /etc/hostname
                  register: r
                - name: result
                  assert:
                    that:
                      - r.rebooted
                      - r.changed
                      - r.elapsed >= 1
                      - r.elapsed < 60
                "#,
            ),
        );
        test.run_args(["apply", "site.yml"]).assert_status(0).assert_changed(1);
        assert!(!hosts.sh(hosts.host(0), "ls /").contains("maintenance"), "{e}");
    }
}

#[test]
fn a_reboot_that_never_comes_back_times_out_and_leaves_the_other_host_alone() {
    for (engine, options) in variants().into_iter().filter(|(_, o)| !o.no_python) {
        let e = engine.name();
        let Some(hosts) = TestHosts::up_with(2, rebootable(options)) else { return };
        let (h1, h2) = (hosts.host(0), hosts.host(1));
        hosts.sh(h1, "touch /run/testhosts-reboot-hangs");
        let boot2 = hosts.boot_id(h2);
        let test = Test::new().engine(&engine).testhost("h1", &hosts, h1).testhost("h2", &hosts, h2).file(
            "site.yml",
            play(
                r#"
                - name: reboot
                  reboot: {reboot_timeout: 4, connect_timeout: 2}
                - name: after
                  command: whoami
                "#,
            ),
        );
        let out = test.run_args(["apply", "site.yml"]);
        out.assert_status(4);
        // Ansible's plugin times out with this message too, but then fails
        // to remove its temporary directory on the host that never came
        // back, and that connection error replaces it.
        if engine == Engine::Stead {
            out.assert_output_contains("Timed out waiting for last boot time check (timeout=4)");
        } else {
            out.assert_output_contains("Failed to connect to the host via ssh");
        }
        assert_eq!(out.summary("failed"), 1, "{e}\n{}", out.stdout);
        assert_eq!(out.summary("unreachable"), 0, "{e}");
        assert_eq!(out.task_statuses("h2"), ["changed", "changed"], "{e}");
        assert_eq!(out.task_statuses("h1"), ["failed"], "{e}");
        assert_ne!(hosts.boot_id(h2), boot2, "{e}");
        // h1 never came back; once it may, its sshd is there again.
        hosts.sh(h1, "rm /run/testhosts-reboot-hangs");
    }
}

#[test]
fn a_reboot_that_does_not_change_the_boot_id_times_out_with_ansibles_message() {
    for (engine, options) in variants().into_iter().filter(|(_, o)| !o.no_python) {
        let e = engine.name();
        let Some(hosts) = TestHosts::up_with(1, rebootable(options)) else { return };
        let host = hosts.host(0);
        let boot = hosts.boot_id(host);
        let test = Test::new().engine(&engine).testhost("h1", &hosts, host).file(
            "site.yml",
            play(
                r#"
                - name: reboot
                  reboot: {reboot_command: /bin/true, reboot_timeout: 3}
                  register: r
                  ignore_errors: true
                - name: result
                  assert:
                    that:
                      - r.failed
                      - r.rebooted
                      - r.msg == 'Timed out waiting for last boot time check (timeout=3)'
                "#,
            ),
        );
        test.run_args(["apply", "site.yml"]).assert_status(0);
        assert_eq!(hosts.boot_id(host), boot, "{e}");
    }
}

#[test]
fn only_the_rebooted_host_goes_away() {
    for (engine, options) in variants().into_iter().filter(|(_, o)| !o.no_python) {
        let e = engine.name();
        let Some(hosts) = TestHosts::up_with(2, rebootable(options)) else { return };
        let (h1, h2) = (hosts.host(0), hosts.host(1));
        let (boot1, boot2) = (hosts.boot_id(h1), hosts.boot_id(h2));
        assert_ne!(boot1, boot2, "each host has a boot id of its own");
        let pid2 = sshd_pid(&hosts, 1);
        let test = Test::new().engine(&engine).testhost("h1", &hosts, h1).testhost("h2", &hosts, h2).file(
            "site.yml",
            play(
                r#"
                - name: reboot
                  reboot:
                  when: inventory_hostname == 'h1'
                - name: after
                  command: cat /proc/sys/kernel/random/boot_id
                  changed_when: false
                "#,
            ),
        );
        let out = test.run_args(["apply", "site.yml"]);
        out.assert_status(0).assert_changed(1);
        assert_eq!(out.task_statuses("h2"), ["skipped", "ok"], "{e}");
        assert_ne!(hosts.boot_id(h1), boot1, "{e}");
        assert_eq!(hosts.boot_id(h2), boot2, "{e}: h2 rebooted too");
        assert_eq!(sshd_pid(&hosts, 1), pid2, "{e}: h2's sshd was restarted");
    }
}

#[test]
fn reboot_plan_shows_the_reboot_and_a_missing_command_fails() {
    let Some(hosts) = TestHosts::up_with(1, rebootable(Options::default())) else { return };
    let host = hosts.host(0);
    let boot = hosts.boot_id(host);
    let test = Test::new().testhost("h1", &hosts, host).file(
        "site.yml",
        play(
            r#"
            - name: reboot
              reboot: {search_paths: [/nonexistent, /opt]}
            "#,
        ),
    );
    let plan = test.run_args(["plan", "site.yml", "--detailed-exitcode"]);
    plan.assert_status(2).assert_changed(1);
    assert_has_line(&plan, "-state: running");
    assert_has_line(&plan, "+state: rebooted");
    let out = test.run_args(["apply", "site.yml"]);
    out.assert_status(4);
    let failed = out.task("h1", "reboot");
    assert_eq!(
        failed["msg"], "Unable to find command \"shutdown\" in search paths: ['/nonexistent', '/opt']",
        "{failed}"
    );
    assert_eq!(hosts.boot_id(host), boot);
}
