//! Services: `service` on a real SysV service inside a Tier-B host (its
//! own PID namespace: the daemon lives and dies there), and `systemd` on
//! unit files (systemd does not run in a Tier-B host, which systemctl
//! treats as a chroot, as in an image build).

use super::{converge, variants};
use crate::support::testhosts::TestHost;
use crate::support::{assert_has_line, play, Test, TestHosts};

/// A tiny LSB service: a shell loop that records each reload.
const INIT_SCRIPT: &str = r#"#!/bin/sh
### BEGIN INIT INFO
# Provides:          steadd
# Required-Start:    $local_fs
# Required-Stop:     $local_fs
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: stead test daemon
### END INIT INFO
PID=/run/steadd.pid
running() { [ -f "$PID" ] && kill -0 "$(cat "$PID")" 2>/dev/null; }
case "$1" in
  start) running || start-stop-daemon --start --background --make-pidfile --pidfile "$PID" \
           --startas /bin/sh -- -c 'trap "echo reload >> /run/steadd.reloads" HUP; while :; do sleep 1; done' ;;
  stop) start-stop-daemon --stop --oknodo --pidfile "$PID" --retry 5 && rm -f "$PID" ;;
  restart) "$0" stop && "$0" start ;;
  reload) running && kill -HUP "$(cat "$PID")" ;;
  status) if running; then echo "steadd is running"; else echo "steadd is not running"; exit 3; fi ;;
  *) echo "usage: $0 start|stop|restart|reload|status" >&2; exit 2 ;;
esac
"#;

/// Installs `steadd`'s init script in a host (not started, not enabled).
pub(super) fn install_service(hosts: &TestHosts, host: &TestHost) {
    hosts.sh(host, &format!("cat > /etc/init.d/steadd <<'EOF'\n{INIT_SCRIPT}EOF\nchmod 755 /etc/init.d/steadd"));
}

fn pid(hosts: &TestHosts, host: &TestHost) -> String {
    hosts.sh(host, "cat /run/steadd.pid 2>/dev/null || true").trim().to_owned()
}

fn running(hosts: &TestHosts, host: &TestHost) -> bool {
    hosts.exec(host, "/etc/init.d/steadd status").status.success()
}

#[test]
fn service_starts_and_enables_a_sysv_service() {
    for (engine, options) in variants() {
        let Some(hosts) = TestHosts::up_with(1, options) else { return };
        let host = hosts.host(0);
        install_service(&hosts, host);
        let test = Test::new()
            .engine(&engine)
            .testhost("h1", &hosts, host)
            .file("site.yml", play("- name: steadd up\n  service: {name: steadd, state: started, enabled: true}\n"));
        // The upper directory proves check mode: nothing written, nothing
        // started (a start writes /run, which is a tmpfs, so check it too).
        converge(&test, &hosts, 1);
        let e = format!("{} {options:?}", engine.name());
        assert!(running(&hosts, host), "{e}: steadd is not running");
        let links = hosts.sh(host, "ls /etc/rc2.d /etc/rc0.d");
        assert!(links.contains("S01steadd") && links.contains("K01steadd"), "{e}: {links}");
    }
}

#[test]
fn check_mode_starts_nothing_and_plan_shows_it() {
    let Some(hosts) = TestHosts::up(1) else { return };
    let host = hosts.host(0);
    install_service(&hosts, host);
    let test = Test::new()
        .testhost("h1", &hosts, host)
        .file("site.yml", play("- name: steadd up\n  service: {name: steadd, state: started}\n"));
    let plan = test.run_args(["plan", "site.yml", "--detailed-exitcode"]);
    plan.assert_status(2).assert_changed(1);
    assert_has_line(&plan, "-state: stopped");
    assert_has_line(&plan, "+state: started");
    assert!(!running(&hosts, host), "plan started the service");
}

#[test]
fn a_handler_restarts_the_service_only_when_its_config_changed() {
    let Some(hosts) = TestHosts::up(1) else { return };
    let host = hosts.host(0);
    install_service(&hosts, host);
    let site = r#"- hosts: all
  gather_facts: false
  tasks:
    - name: steadd up
      service: {name: steadd, state: started}
    - name: steadd config
      copy: {content: "{{ level }}\n", dest: /etc/steadd.conf}
      notify: restart steadd
  handlers:
    - name: restart steadd
      service: {name: steadd, state: restarted, sleep: 1}
"#;
    let test = Test::new().testhost("h1", &hosts, host).file("site.yml", site);
    test.run_args(["apply", "site.yml", "-e", "level=1"]).assert_status(0).assert_changed(3);
    let first = pid(&hosts, host);
    assert!(!first.is_empty() && running(&hosts, host));
    test.run_args(["apply", "site.yml", "-e", "level=1"]).assert_status(0).assert_changed(0);
    assert_eq!(pid(&hosts, host), first, "restarted without a change");
    test.run_args(["apply", "site.yml", "-e", "level=2"]).assert_status(0).assert_changed(2);
    let second = pid(&hosts, host);
    assert!(running(&hosts, host) && second != first, "not restarted: {first} → {second}");
}

#[test]
fn service_reloads_stops_and_fails_on_an_unknown_service() {
    let Some(hosts) = TestHosts::up(1) else { return };
    let host = hosts.host(0);
    install_service(&hosts, host);
    hosts.sh(host, "/etc/init.d/steadd start");
    let test = Test::new().testhost("h1", &hosts, host).file(
        "site.yml",
        play(
            r#"
            - name: reload
              service: {name: steadd, state: reloaded}
            - name: unknown
              service: {name: no-such-service, state: started}
              ignore_errors: true
            "#,
        ),
    );
    let out = test.run_args(["apply", "site.yml"]);
    out.assert_status(0);
    let unknown = out.task("h1", "unknown");
    assert_eq!(unknown["status"], "failed");
    let msg = unknown["msg"].as_str().unwrap_or("");
    assert!(msg.contains("Could not find the requested service no-such-service"), "{unknown}");
    // The daemon handles its HUP within a second.
    let reloads = hosts.sh(
        host,
        "for i in 1 2 3 4 5 6; do [ -s /run/steadd.reloads ] && break; sleep 0.5; done; cat /run/steadd.reloads",
    );
    assert_eq!(reloads, "reload\n");

    test.write("stop.yml", play("- name: stop\n  service: {name: steadd, state: stopped, enabled: false}\n"));
    test.run_args(["apply", "stop.yml"]).assert_status(0).assert_changed(1);
    assert!(!running(&hosts, host));
    assert!(!hosts.sh(host, "ls /etc/rc2.d").contains("S01steadd"), "still enabled");
    test.run_args(["apply", "stop.yml"]).assert_status(0).assert_changed(0);
}

#[test]
fn systemd_enables_and_masks_unit_files_where_systemd_is_offline() {
    for (engine, options) in variants() {
        let Some(hosts) = TestHosts::up_with(1, options) else { return };
        let host = hosts.host(0);
        let test = Test::new().engine(&engine).testhost("h1", &hosts, host).file(
            "site.yml",
            play(
                r#"
                - name: ssh not at boot
                  systemd: {name: ssh, enabled: false}
                - name: no apt timers
                  ansible.builtin.systemd_service: {name: apt-daily.timer, masked: true}
                - name: state needs a running systemd
                  systemd: {name: ssh, state: started}
                "#,
            ),
        );
        let real = converge(&test, &hosts, 2);
        let e = format!("{} {options:?}", engine.name());
        assert_eq!(hosts.sh(host, "systemctl is-enabled ssh || true").trim(), "disabled", "{e}");
        assert_eq!(hosts.sh(host, "readlink /etc/systemd/system/apt-daily.timer").trim(), "/dev/null", "{e}");
        assert_eq!(real.task("h1", "state needs a running systemd")["status"], "ok", "{e}");
    }
}

#[test]
fn facts_name_the_service_and_package_managers_as_ansible_does() {
    let mut seen = Vec::new();
    for engine in crate::support::oracle::engines() {
        let Some(hosts) = TestHosts::up(1) else { return };
        let test = Test::new().engine(&engine).testhost("h1", &hosts, hosts.host(0)).file(
            "site.yml",
            "- hosts: all\n  tasks:\n    - debug: {msg: \"managers {{ ansible_service_mgr }} {{ ansible_facts.pkg_mgr }}\"}\n",
        );
        let out = test.run_args(["apply", "site.yml"]);
        out.assert_status(0);
        let report = out.report_json();
        let msg = report["hosts"]["h1"]["tasks"]
            .as_array()
            .and_then(|t| {
                t.iter().find_map(|t| t["msg"].as_str().filter(|m| m.starts_with("managers")).map(str::to_owned))
            })
            .unwrap_or_else(|| panic!("no debug message: {report:#}"));
        seen.push(msg);
    }
    // PID 1 of a Tier-B host is its init, tini: Ansible names the service
    // manager after it.
    assert_eq!(seen[0], "managers tini apt");
    assert!(seen.iter().all(|m| *m == seen[0]), "stead and Ansible disagree: {seen:?}");
}

#[test]
fn service_facts_list_sysv_services_as_ansible_does() {
    let mut seen = Vec::new();
    for (engine, options) in variants() {
        let Some(hosts) = TestHosts::up_with(1, options) else { return };
        let host = hosts.host(0);
        install_service(&hosts, host);
        hosts.sh(host, "/etc/init.d/steadd start");
        let test = Test::new().engine(&engine).testhost("h1", &hosts, host).file(
            "site.yml",
            play(
                r#"
                - service_facts:
                - name: steadd
                  debug: {msg: "steadd {{ ansible_facts.services.steadd }}"}
                "#,
            ),
        );
        let before = hosts.upper_hash(host);
        let out = test.run_args(["apply", "site.yml", "--detailed-exitcode"]);
        out.assert_status(0).assert_changed(0);
        assert_eq!(hosts.upper_hash(host), before, "service_facts changed the host");
        seen.push(out.task("h1", "steadd")["msg"].as_str().unwrap_or("").to_owned());
    }
    assert!(seen[0].contains("'state': 'running'") || seen[0].contains("\"state\": \"running\""), "{seen:?}");
    let normalise = |s: &str| s.replace('"', "'");
    assert!(seen.iter().all(|m| normalise(m) == normalise(&seen[0])), "stead and Ansible disagree: {seen:?}");
}

#[test]
fn raw_runs_its_text_in_the_shell_and_is_skipped_in_check_mode() {
    for (engine, options) in variants() {
        let Some(hosts) = TestHosts::up_with(1, options) else { return };
        let host = hosts.host(0);
        let test = Test::new().engine(&engine).testhost("h1", &hosts, host).file(
            "site.yml",
            play("- name: raw\n  raw: echo \"$((6 * 7))\" > /etc/stead-raw && cat /etc/stead-raw\n  register: r\n- debug: {var: r.stdout}\n"),
        );
        let e = format!("{} {options:?}", engine.name());
        let before = hosts.upper_hash(host);
        let check = test.run_args(["apply", "site.yml", "--check"]);
        check.assert_status(0);
        assert_eq!(check.task("h1", "raw")["status"], "skipped", "{e}");
        assert_eq!(hosts.upper_hash(host), before, "{e}: --check ran the raw command");
        let out = test.run_args(["apply", "site.yml"]);
        out.assert_status(0).assert_changed(1);
        assert_eq!(hosts.sh(host, "cat /etc/stead-raw"), "42\n", "{e}");
        // raw always reports a change, as in Ansible.
        test.run_args(["apply", "site.yml"]).assert_status(0).assert_changed(1);
    }
}

#[test]
fn systemd_plan_shows_enablement_and_mask_changes() {
    let Some(hosts) = TestHosts::up(1) else { return };
    let host = hosts.host(0);
    let test = Test::new().testhost("h1", &hosts, host).file(
        "site.yml",
        play(
            r#"
            - name: ssh not at boot
              systemd: {name: ssh, enabled: false}
            - name: no apt timer
              systemd: {name: apt-daily.timer, masked: true}
            "#,
        ),
    );
    let before = hosts.upper_hash(host);
    let plan = test.run_args(["plan", "site.yml", "--detailed-exitcode"]);
    plan.assert_status(2).assert_changed(2);
    assert_has_line(&plan, "-enabled: yes");
    assert_has_line(&plan, "+enabled: no");
    assert_has_line(&plan, "-masked: no");
    assert_has_line(&plan, "+masked: yes");
    assert_eq!(hosts.upper_hash(host), before, "plan changed the host");
    assert_eq!(hosts.sh(host, "systemctl is-enabled ssh || true").trim(), "enabled");
}
