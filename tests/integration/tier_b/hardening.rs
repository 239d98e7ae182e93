//! A hardening role written the way published ones are (insecure packages
//! removed, network sysctls, a service account with its key, fstab mount
//! options, a daemon's config with a handler that restarts it), converging
//! three Tier-B hosts in parallel; a re-run changes nothing; a change made
//! behind stead's back on one host is the only drift `plan` reports.

use super::variants;
use crate::support::apt_repo;
use crate::support::testhosts::TestHost;
use crate::support::{Test, TestHosts};

const DEFAULTS: &str = r#"
baseline_remove_packages: [hello, figlet]
baseline_sysctl:
  net.ipv4.conf.all.accept_redirects: 0
  net.ipv4.conf.all.send_redirects: 0
  net.ipv4.conf.all.log_martians: 1
  net.ipv4.tcp_syncookies: 1
baseline_service_user: svc-backup
baseline_service_key: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKT0pTLp61Ne2bxYBK5KExpSgi9/dzWkkc8ndlNZlR8S svc-backup@stead"
baseline_daemon_port: 8022
"#;

const TASKS: &str = r#"
- name: Remove insecure packages
  ansible.builtin.package:
    name: "{{ baseline_remove_packages }}"
    state: absent

- name: Network kernel settings
  ansible.posix.sysctl:
    name: "{{ item.key }}"
    value: "{{ item.value }}"
    sysctl_file: /etc/sysctl.d/90-baseline.conf
  loop: "{{ baseline_sysctl | dict2items }}"
  loop_control:
    label: "{{ item.key }}"

- name: Service group
  ansible.builtin.group:
    name: "{{ baseline_service_user }}"
    system: true

- name: Service account
  ansible.builtin.user:
    name: "{{ baseline_service_user }}"
    group: "{{ baseline_service_user }}"
    system: true
    shell: /usr/sbin/nologin
    home: "/var/lib/{{ baseline_service_user }}"

- name: Service account key
  ansible.posix.authorized_key:
    user: "{{ baseline_service_user }}"
    key: "{{ baseline_service_key }}"
    key_options: 'from="10.231.0.0/16",no-pty'

- name: Shared memory without exec
  ansible.posix.mount:
    path: /dev/shm
    src: tmpfs
    fstype: tmpfs
    opts: rw,nosuid,nodev,noexec
    state: mounted

- name: Daemon configuration
  ansible.builtin.copy:
    dest: /etc/steadd.conf
    content: |
      Port {{ baseline_daemon_port }}
      PermitRootLogin no
    mode: "0600"
  notify: Restart steadd

- name: Daemon running at boot
  ansible.builtin.service:
    name: steadd
    state: started
    enabled: true
"#;

const HANDLERS: &str = r#"
- name: Restart steadd
  ansible.builtin.service:
    name: steadd
    state: restarted
"#;

const SITE: &str = "- hosts: all\n  gather_facts: true\n  become: true\n  roles:\n    - baseline\n";

/// A host as a published role finds it: the legacy packages installed, the
/// daemon's init script in place but not running.
fn prepare(hosts: &TestHosts, host: &TestHost) {
    let repo = apt_repo::repo().expect("the test apt repository");
    repo.use_in(hosts, host);
    hosts.sh(host, "DEBIAN_FRONTEND=noninteractive apt-get install -y -q hello figlet >/dev/null");
    super::services::install_service(hosts, host);
}

fn project(engine: &crate::support::oracle::Engine, hosts: &TestHosts) -> Test {
    let mut test = Test::new()
        .engine(engine)
        .file("site.yml", SITE)
        .file("roles/baseline/defaults/main.yml", DEFAULTS)
        .file("roles/baseline/tasks/main.yml", TASKS)
        .file("roles/baseline/handlers/main.yml", HANDLERS);
    for (i, host) in hosts.hosts().iter().enumerate() {
        test = test.testhost(&format!("web{}", i + 1), hosts, host);
    }
    test
}

/// What the role guarantees, read from a host.
fn assert_hardened(hosts: &TestHosts, host: &TestHost, engine: &str) {
    let e = format!("{engine} on {}", host.name);
    for p in ["hello", "figlet"] {
        // Removed (a package's configuration files may stay, as apt keeps them).
        let state = apt_repo::dpkg_state(hosts, host, p);
        assert!(state == "not-installed" || state.starts_with("config-files"), "{e}: {p} is {state}");
    }
    assert_eq!(hosts.sh(host, "cat /proc/sys/net/ipv4/conf/all/accept_redirects").trim(), "0", "{e}");
    assert_eq!(hosts.sh(host, "cat /proc/sys/net/ipv4/conf/all/log_martians").trim(), "1", "{e}");
    let passwd = hosts.sh(host, "getent passwd svc-backup");
    assert!(passwd.trim_end().ends_with(":/var/lib/svc-backup:/usr/sbin/nologin"), "{e}: {passwd}");
    let keys = hosts.sh(host, "cat /var/lib/svc-backup/.ssh/authorized_keys");
    assert!(keys.starts_with("from=\"10.231.0.0/16\",no-pty ssh-ed25519 "), "{e}: {keys}");
    let shm = hosts.sh(host, "grep ' /dev/shm ' /proc/mounts");
    assert!(shm.contains("noexec"), "{e}: {shm}");
    assert!(hosts.sh(host, "cat /etc/fstab").contains("tmpfs /dev/shm tmpfs rw,nosuid,nodev,noexec 0 0"), "{e}");
    assert!(hosts.exec(host, "/etc/init.d/steadd status").status.success(), "{e}: steadd is not running");
    assert!(hosts.sh(host, "ls /etc/rc2.d").contains("S01steadd"), "{e}: steadd not enabled");
}

#[test]
fn a_hardening_role_converges_three_hosts_and_plan_finds_the_one_that_drifted() {
    for (engine, options) in variants() {
        let Some(hosts) = TestHosts::up_with(3, options) else { return };
        if apt_repo::repo().is_none() {
            return;
        }
        for host in hosts.hosts() {
            prepare(&hosts, host);
        }
        let e = format!("{} {options:?}", engine.name());
        let test = project(&engine, &hosts);

        // First run, the three hosts in parallel: every task changes
        // something (the sysctl loop counts once), the handler runs.
        let first = test.run_args(["apply", "site.yml"]);
        first.assert_status(0);
        for name in ["web1", "web2", "web3"] {
            let changed = first.changed_tasks(name);
            assert!(changed.len() >= 9, "{e}: {name} changed only {changed:?}\n{}", first.stdout);
            assert!(changed.iter().any(|t| t == "Restart steadd"), "{e}: the handler did not run on {name}");
        }
        for host in hosts.hosts() {
            assert_hardened(&hosts, host, &e);
        }

        // Converged: nothing to do, no handler.
        test.run_args(["apply", "site.yml", "--detailed-exitcode"]).assert_status(0).assert_changed(0);

        // Behind stead's back on web2 only: a redirect setting and the
        // daemon's config.
        let drifted = hosts.host(1);
        hosts.sh(drifted, "echo 1 > /proc/sys/net/ipv4/conf/all/accept_redirects && echo 'Port 22' > /etc/steadd.conf");
        let uppers: Vec<String> = hosts.hosts().iter().map(|h| hosts.upper_hash(h)).collect();
        let plan = test.run_args(["plan", "site.yml", "--detailed-exitcode"]);
        plan.assert_status(2);
        assert!(plan.changed_tasks("web1").is_empty(), "{e}: web1 drifted?\n{}", plan.stdout);
        assert!(plan.changed_tasks("web3").is_empty(), "{e}: web3 drifted?\n{}", plan.stdout);
        let web2 = plan.changed_tasks("web2");
        for task in ["Network kernel settings", "Daemon configuration", "Restart steadd"] {
            assert!(web2.iter().any(|t| t == task), "{e}: plan misses {task:?} on web2: {web2:?}");
        }
        if engine == crate::support::oracle::Engine::Stead {
            let diff = plan.task("web2", "Daemon configuration")["diff"].as_str().unwrap_or("").to_owned();
            assert!(diff.contains("-Port 22") && diff.contains("+Port 8022"), "{e}: {diff}");
        }
        for (i, host) in hosts.hosts().iter().enumerate() {
            assert_eq!(hosts.upper_hash(host), uppers[i], "{e}: plan changed {}", host.name);
        }

        // Applying repairs web2 alone.
        let repair = test.run_args(["apply", "site.yml"]);
        repair.assert_status(0);
        assert!(repair.changed_tasks("web1").is_empty() && repair.changed_tasks("web3").is_empty(), "{e}");
        assert_hardened(&hosts, drifted, &e);
        if options.no_python {
            assert!(!hosts.exec(drifted, "command -v python3").status.success());
        }
    }
}
