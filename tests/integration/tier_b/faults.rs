//! Faults on real hosts (sshd in namespaces): what a run does when a host
//! dies under it. In each: the exit status per CONTRACT §2, the other hosts
//! finish, no partial or temporary file on the host, no ssh master or
//! control folder left on this machine.

use std::time::{Duration, Instant};

use crate::support::testhosts::TestHost;
use crate::support::{play, Test, TestHosts};

/// A project whose ansible.cfg puts the ssh masters' sockets in a folder
/// of the test, so that what is left there can be checked.
fn project(hosts: &TestHosts, tasks: &str) -> (Test, tempfile::TempDir) {
    let control = tempfile::Builder::new().prefix("stc-").tempdir_in("/tmp").unwrap();
    let mut test = Test::new().file("site.yml", play(tasks));
    for (i, h) in hosts.hosts().iter().enumerate() {
        test = test.testhost(&format!("h{}", i + 1), hosts, h);
    }
    let test = test.file("ansible.cfg", format!("[ssh_connection]\ncontrol_path_dir = {}\n", control.path().display()));
    (test, control)
}

/// Nothing left of the run's ssh masters: the control folder is empty.
#[track_caller]
fn no_master_left(control: &tempfile::TempDir) {
    let start = Instant::now();
    loop {
        let left: Vec<_> = std::fs::read_dir(control.path()).unwrap().collect();
        if left.is_empty() {
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "control folders left: {left:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Temporary files stead writes on a host (`.stead.XXXXXXXX` beside a
/// destination), anywhere under `dir`.
fn temp_files(hosts: &TestHosts, host: &TestHost, dir: &str) -> String {
    hosts.sh(host, &format!("find {dir} -name '.stead.*' 2>/dev/null || true"))
}

/// Starts the run in the background and waits until `ready` holds on the host.
fn start_and_wait(test: &Test, hosts: &TestHosts, host: &TestHost, ready: &str) -> std::process::Child {
    let child = test.spawn_args(["apply", "site.yml"]);
    let start = Instant::now();
    while !hosts.exec(host, ready).status.success() {
        assert!(start.elapsed() < Duration::from_secs(20), "the run never reached: {ready}");
        std::thread::sleep(Duration::from_millis(100));
    }
    child
}

fn wait(mut child: std::process::Child, limit: Duration) -> i32 {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("stead did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

const SLOW_THEN_WRITE: &str = r#"
- name: working
  shell: "touch /run/stead-fault-ready; sleep 3"
- name: write
  copy: {content: "done\n", dest: /srv/done}
"#;

#[test]
fn sshd_killed_mid_run_makes_that_host_unreachable_and_the_others_finish() {
    let Some(hosts) = TestHosts::up(2) else { return };
    let (h1, h2) = (hosts.host(0), hosts.host(1));
    let (test, control) = project(&hosts, SLOW_THEN_WRITE);
    let child = start_and_wait(&test, &hosts, h1, "test -e /run/stead-fault-ready");
    // Every sshd session of h1 (an sshd whose parent is sshd: not the
    // listener, whose end would end the host), by PID, inside h1.
    hosts.sh(
        h1,
        r#"for p in /proc/[0-9]*; do
             read -r c < $p/comm 2>/dev/null || continue
             case $c in sshd*) ;; *) continue;; esac
             s=$(cat $p/stat); s=${s##*) }; set -- $s
             read -r pc < /proc/$2/comm 2>/dev/null || continue
             case $pc in sshd*) kill -KILL ${p#/proc/};; esac
           done"#,
    );
    let status = wait(child, Duration::from_secs(60));
    assert_eq!(status, 8, "a lost host is unreachable (bit 8), nothing failed");
    assert_eq!(hosts.sh(h2, "cat /srv/done"), "done\n", "the other host finished");
    assert!(hosts.exec(h1, "test -e /srv/done").status.code() != Some(0), "h1 went on without its sshd?");
    assert_eq!(temp_files(&hosts, h1, "/srv"), "");
    no_master_left(&control);
}

#[test]
fn a_host_whose_network_goes_down_mid_task_is_unreachable_within_the_keepalive() {
    let Some(hosts) = TestHosts::up(2) else { return };
    let (h1, h2) = (hosts.host(0), hosts.host(1));
    let (test, control) = project(&hosts, SLOW_THEN_WRITE);
    // Keepalives every second, two missed: the loss shows within seconds.
    let test = test.host_var("h1", "ansible_ssh_extra_args", "-o ServerAliveInterval=1 -o ServerAliveCountMax=2");
    let started = Instant::now();
    let child = start_and_wait(&test, &hosts, h1, "test -e /run/stead-fault-ready");
    // The host's own end of its veth, in its own network namespace.
    hosts.sh(h1, "ip link set dev \"$(ls /sys/class/net | grep -v '^lo$' | head -1)\" down");
    let status = wait(child, Duration::from_secs(60));
    assert_eq!(status, 8);
    assert!(started.elapsed() < Duration::from_secs(30), "took {:?}", started.elapsed());
    assert_eq!(hosts.sh(h2, "cat /srv/done"), "done\n");
    no_master_left(&control);
}

#[test]
fn a_host_that_accepts_connections_but_never_answers_times_out_and_the_others_finish() {
    let Some(hosts) = TestHosts::up(2) else { return };
    let (h1, h2) = (hosts.host(0), hosts.host(1));
    // A listener that accepts and never says a word, inside h1.
    hosts.sh(
        h1,
        "setsid python3 -c 'import socket,time\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\ns.bind((\"0.0.0.0\",2222))\ns.listen(8)\nc=[]\nwhile True: c.append(s.accept())' </dev/null >/dev/null 2>&1 &",
    );
    let start = Instant::now();
    while !h1.answers(2222) {
        assert!(start.elapsed() < Duration::from_secs(10), "the silent listener did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (test, control) = project(&hosts, "- name: write\n  copy: {content: \"done\\n\", dest: /srv/done}\n");
    let test = test.host_var("h1", "ansible_port", 2222).host_var("h1", "ansible_ssh_timeout", 2);
    let started = Instant::now();
    let out = test.run_args(["apply", "site.yml"]);
    out.assert_status(8).assert_output_contains("h1");
    assert!(started.elapsed() < Duration::from_secs(20), "took {:?}", started.elapsed());
    assert_eq!(hosts.sh(h2, "cat /srv/done"), "done\n");
    no_master_left(&control);
}

#[test]
fn a_full_disk_fails_the_write_and_keeps_the_old_file_whole() {
    let Some(hosts) = TestHosts::up(1) else { return };
    let h1 = hosts.host(0);
    // A 64 KiB tmpfs, mounted in the host's own mount namespace only.
    hosts.sh(
        h1,
        "mkdir -p /srv/full && mount -t tmpfs -o size=64k tmpfs /srv/full && printf 'old\\n' > /srv/full/app.conf",
    );
    let big = "x".repeat(200 * 1024);
    let (test, control) = project(
        &hosts,
        "- name: too big\n  copy: {src: big.txt, dest: /srv/full/app.conf}\n- name: after\n  copy: {content: \"x\\n\", dest: /srv/after}\n",
    );
    test.write("big.txt", &big);
    let out = test.run_args(["apply", "site.yml"]);
    out.assert_status(4);
    let msg = out.task("h1", "too big")["msg"].as_str().unwrap_or_default().to_owned();
    assert!(msg.contains("No space left") || msg.contains("received"), "a clear reason: {msg}");
    assert_eq!(hosts.sh(h1, "cat /srv/full/app.conf"), "old\n", "the old file is whole");
    assert_eq!(temp_files(&hosts, h1, "/srv/full"), "", "no temporary file is left");
    assert!(hosts.exec(h1, "test -e /srv/after").status.code() != Some(0), "a failed host stops");
    no_master_left(&control);
}
