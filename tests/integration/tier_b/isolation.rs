//! The Tier-B hosts themselves: what a playbook does inside one never
//! reaches this machine's kernel settings, mounts, modules or network, and
//! the hosts behave as separate machines.

use crate::support::{play, Test, TestHosts};

/// Capabilities a host's sshd (and so every task) must lack: loading
/// modules, rebooting, setting the clock, raw I/O, audit and MAC control.
const DROPPED_CAPS: &[(u32, &str)] = &[
    (16, "sys_module"),
    (17, "sys_rawio"),
    (22, "sys_boot"),
    (25, "sys_time"),
    (30, "audit_control"),
    (32, "mac_override"),
    (33, "mac_admin"),
    (34, "syslog"),
];

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[test]
fn hardening_tasks_inside_a_host_leave_this_machine_unchanged() {
    let Some(hosts) = TestHosts::up(1) else { return };
    let host = hosts.host(0);
    let kptr = read("/proc/sys/kernel/kptr_restrict");
    let ttl = read("/proc/sys/net/ipv4/ip_default_ttl");
    let modules = read("/proc/modules");
    let mounts = read("/proc/self/mounts");
    let test = Test::new().testhost("h1", &hosts, host).file(
        "site.yml",
        play(
            r#"
            - name: kernel setting
              command: sysctl -w kernel.kptr_restrict=1
              ignore_errors: true
            - name: hide processes
              command: mount -o remount,hidepid=2 /proc
            - name: load a module
              shell: modprobe dummy || insmod /nonexistent.ko
              ignore_errors: true
            - name: network setting of the namespace
              command: sysctl -w net.ipv4.ip_default_ttl=77
            - name: shared memory
              command: mount -o remount,nosuid,nodev,noexec /dev/shm
            "#,
        ),
    );
    let out = test.run_args(["apply", "site.yml"]);
    out.assert_status(0);
    assert_eq!(out.task("h1", "kernel setting")["status"], "failed", "{}", out.stdout);

    assert_eq!(read("/proc/sys/kernel/kptr_restrict"), kptr, "kernel.kptr_restrict of this machine changed");
    assert_eq!(read("/proc/sys/net/ipv4/ip_default_ttl"), ttl, "this machine's own ip_default_ttl changed");
    assert_eq!(read("/proc/modules"), modules, "this machine's loaded modules changed");
    assert_eq!(read("/proc/self/mounts"), mounts, "this machine's mounts changed");

    // The changes happened, inside the host only.
    assert_eq!(hosts.sh(host, "cat /proc/sys/net/ipv4/ip_default_ttl").trim(), "77");
    assert!(hosts.sh(host, "grep ' /proc ' /proc/mounts").contains("hidepid"));
    assert!(hosts.sh(host, "grep ' /dev/shm ' /proc/mounts").contains("noexec"));
}

#[test]
fn a_hosts_sshd_lacks_the_capabilities_that_reach_the_whole_kernel() {
    let Some(hosts) = TestHosts::up(1) else { return };
    let status = hosts.sh(hosts.host(0), "grep CapBnd /proc/self/status");
    let bits = u64::from_str_radix(status.split_whitespace().nth(1).expect("CapBnd value"), 16).expect("hex");
    for (bit, name) in DROPPED_CAPS {
        assert_eq!(bits & (1 << bit), 0, "cap_{name} is in the bounding set: {status}");
    }
}

#[test]
fn hosts_are_separate_machines_on_their_own_network() {
    let Some(hosts) = TestHosts::up(2) else { return };
    let (a, b) = (hosts.host(0), hosts.host(1));
    assert_eq!(hosts.sh(a, "hostname").trim(), "host1");
    assert_eq!(hosts.sh(b, "hostname").trim(), "host2");
    // Their own PID namespace: PID 1 is the host's init.
    assert!(hosts.sh(a, "cat /proc/1/cmdline").starts_with("tini"));
    // One host's /etc is not the other's, nor this machine's.
    hosts.sh(a, "echo only-a > /etc/stead-isolation");
    assert!(!hosts.exec(b, "test -e /etc/stead-isolation").status.success());
    assert!(!std::path::Path::new("/etc/stead-isolation").exists());
    // Only the run's /24 is routable; nothing else has a route.
    let routes = hosts.sh(a, "ip -4 route show");
    assert_eq!(routes.lines().count(), 1, "routes: {routes}");
    assert!(routes.starts_with(&format!("{}.0/24 ", a.ip.rsplit_once('.').unwrap().0)), "routes: {routes}");
    assert!(!hosts.exec(a, "ip route get 192.0.2.1").status.success(), "a host can route outside its /24");
    // But they reach each other.
    let banner = hosts.sh(a, &format!("bash -c 'exec 3<>/dev/tcp/{}/22 && head -c 4 <&3'", b.ip));
    assert_eq!(banner, "SSH-");
}

#[test]
fn a_host_without_python_has_no_interpreter() {
    let Some(hosts) =
        TestHosts::up_with(1, crate::support::testhosts::Options { no_python: true, ..Default::default() })
    else {
        return;
    };
    let out = hosts.exec(hosts.host(0), "command -v python3 || command -v python || ls /usr/bin/python*");
    assert!(!out.status.success(), "python on a no-python host: {}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn a_run_whose_owner_was_killed_is_removed_by_the_next() {
    if TestHosts::up(1).is_none() {
        return;
    }
    // A run owned by a process that then dies, as a killed test run leaves.
    let mut owner = std::process::Command::new("sleep").arg("60").spawn().expect("start sleep");
    let out = std::process::Command::new("bash")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/testhosts"))
        .args(["up", "--owner", &owner.id().to_string(), "1"])
        .output()
        .expect("run scripts/testhosts");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stale = std::path::PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let bridge = format!("stead-br{}", stale.display().to_string().rsplit("run-").next().unwrap());
    assert!(stale.join("hosts").exists());
    owner.kill().expect("kill the owner");
    owner.wait().expect("reap the owner");

    let _next = TestHosts::up(1).expect("Tier-B hosts");
    assert!(!stale.exists(), "the stale run {} is still there", stale.display());
    let link = std::process::Command::new("ip").args(["link", "show", &bridge]).output().expect("run ip");
    assert!(!link.status.success(), "the stale run's bridge {bridge} is still there");
}
