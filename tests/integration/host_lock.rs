//! Two runs against one host at once: the second refuses that host, naming
//! the holder, or waits for it with `--lock-wait`; other hosts are not held
//! up; the lock goes with the run (no holder process is left on the host).

use std::time::{Duration, Instant};

use crate::support::{play, Sshd, Test};

/// Processes of this machine whose command line names `needle` (the lock
/// holders of a test carry its lock path in theirs).
fn processes_naming(needle: &str) -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| std::fs::read(e.ok()?.path().join("cmdline")).ok())
        .filter(|c| String::from_utf8_lossy(c).contains(needle))
        .count()
}

fn wait_until(limit: Duration, what: &str, done: impl Fn() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "waited {limit:?} for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_second_run_refuses_or_waits_for_a_locked_host_and_the_lock_goes_with_the_run() {
    let (one, two) = (Sshd::start(), Sshd::start());
    let locks = tempfile::tempdir().unwrap();
    let lock = locks.path().join("web1.lock").display().to_string();
    let test = Test::new()
        .host("web1", &one)
        .host("web2", &two)
        .host_var("web1", "stead_lock_file", lock.as_str())
        .file("slow.yml", play("- name: hold\n  command: sleep 4\n  when: inventory_hostname == 'web1'\n"))
        .file("quick.yml", play("- name: mark\n  copy: {content: \"x\\n\", dest: \"{{ root }}/mark\"}\n"));
    let mut first = test.spawn_args(["apply", "slow.yml", "-l", "web1"]);
    wait_until(Duration::from_secs(10), "the first run to take the lock", || {
        std::path::Path::new(&format!("{lock}.holder")).exists()
    });

    let refused = test.run_args(["apply", "quick.yml"]);
    refused.assert_status(4).assert_stdout_contains("web1 is locked by another stead run: stead apply by ");
    refused.assert_stdout_contains(&format!("(pid {})", first.id()));
    assert!(!test.exists("web1", "mark"), "the locked host was changed");
    assert!(test.exists("web2", "mark"), "the other host waits for nobody");
    assert_eq!(refused.report_json()["hosts"]["web1"]["unreachable"], false, "locked is not unreachable");

    let started = Instant::now();
    let waited = test.run_args(["apply", "quick.yml", "--lock-wait", "30"]);
    waited.assert_status(0);
    assert!(test.exists("web1", "mark"), "after waiting, the host is applied");
    assert!(started.elapsed() >= Duration::from_secs(1), "it waited for the first run");
    assert_eq!(first.wait().unwrap().code(), Some(0));

    // The lock goes with the run: no holder is left on the host, and a new
    // run takes the host at once.
    wait_until(Duration::from_secs(5), "the lock holders to exit", || processes_naming(&lock) == 0);
    test.run_args(["apply", "quick.yml"]).assert_status(0);

    // `stead_host_lock: false` opts a host out.
    let mut again = test.spawn_args(["apply", "slow.yml", "-l", "web1"]);
    std::thread::sleep(Duration::from_millis(1500));
    let unlocked = Test::new()
        .host("web1", &one)
        .host_var("web1", "stead_lock_file", lock.as_str())
        .host_var("web1", "stead_host_lock", false)
        .file("quick.yml", play("- name: mark\n  copy: {content: \"y\\n\", dest: \"{{ root }}/mark\"}\n"));
    unlocked.run_args(["apply", "quick.yml"]).assert_status(0);
    assert_eq!(again.wait().unwrap().code(), Some(0));
}
