//! Faults during a run against a real sshd: whatever dies mid-way, a file on
//! the host is the old one or the new one, never a part (CONTRACT §5).

use std::time::{Duration, Instant};

use crate::support::{play, Sshd, Test};

const HOST: &str = "web1";

/// Temporary files of the atomic write (`.stead.XXXXXXXX`) under `dir`.
fn temp_files(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(".stead."))
                .collect()
        })
        .unwrap_or_default()
}

/// Issue 12: killing the controller mid-copy of a large file used to leave
/// the part that had arrived in place of the destination. Now the host
/// checks length and checksum before the rename.
#[test]
fn killed_controller_mid_copy_leaves_the_old_file_not_a_truncated_one() {
    let sshd = Sshd::start();
    let old: Vec<u8> = b"the old content\n".repeat(1000);
    let new: Vec<u8> = (0..96u32 * 1024 * 1024 / 4).flat_map(|i| i.to_le_bytes()).collect();
    let test = Test::new()
        .host(HOST, &sshd)
        .file("big.bin", &new)
        .file("site.yml", play("- copy: {src: big.bin, dest: \"{{ root }}/big.bin\"}\n"));
    test.put(HOST, "big.bin", &old);
    let root = test.root(HOST).to_path_buf();

    let mut child = test.spawn_args(["apply", "site.yml"]);
    // Wait for the transfer to start (its temporary file appears), then kill
    // stead (our own child, by its handle) while the content is in flight.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut killed_mid_transfer = false;
    while Instant::now() < deadline {
        if !temp_files(&root).is_empty() {
            child.kill().expect("kill stead");
            killed_mid_transfer = true;
            break;
        }
        if child.try_wait().expect("poll stead").is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let _ = child.kill();
    let _ = child.wait();
    // The remote script sees end of input and must give up on its own.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !temp_files(&root).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(temp_files(&root), Vec::<String>::new(), "temporary file left on the host");
    let now = std::fs::read(root.join("big.bin")).expect("destination still exists");
    assert!(
        now == old || now == new,
        "destination is neither the old nor the new file: {} bytes (old {}, new {})",
        now.len(),
        old.len(),
        new.len()
    );
    assert!(killed_mid_transfer, "the copy finished before stead could be killed; the test proved nothing");
    assert_eq!(now, old, "stead was killed mid-transfer, so the old file must remain");
}

/// Sends `signal` to our own child, by its PID.
fn send(child: &std::process::Child, signal: &str) {
    let status = std::process::Command::new("kill").args([signal, &child.id().to_string()]).status().expect("run kill");
    assert!(status.success(), "kill {signal} failed");
}

fn wait_for(path: &std::path::Path, limit: Duration) {
    let deadline = Instant::now() + limit;
    while !path.exists() {
        assert!(Instant::now() < deadline, "{} never appeared", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn wait_exit(child: &mut std::process::Child, limit: Duration) -> Option<i32> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("poll stead") {
            return status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("stead did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

const SLOW: &str = r#"
- name: slow
  shell: touch "{{ root }}/started"; sleep 2
- name: later
  copy: {content: "x\n", dest: "{{ root }}/later"}
"#;

/// Issue 12: stead had no SIGTERM handling (a cancelled CI job).
#[test]
fn sigterm_stops_at_the_next_task_and_exits_143() {
    let sshd = Sshd::start();
    let test = Test::new().host(HOST, &sshd).file("site.yml", play(SLOW));
    let mut child = test.spawn_args(["apply", "site.yml"]);
    wait_for(&test.path(HOST, "started"), Duration::from_secs(20));
    send(&child, "-TERM");
    assert_eq!(wait_exit(&mut child, Duration::from_secs(20)), Some(143));
    assert!(!test.exists(HOST, "later"), "a task ran after SIGTERM");
}

#[test]
fn a_second_signal_exits_at_once() {
    let sshd = Sshd::start();
    let slower = SLOW.replace("sleep 2", "sleep 20");
    let test = Test::new().host(HOST, &sshd).file("site.yml", play(&slower));
    let mut child = test.spawn_args(["apply", "site.yml"]);
    wait_for(&test.path(HOST, "started"), Duration::from_secs(20));
    let sent = Instant::now();
    send(&child, "-INT");
    std::thread::sleep(Duration::from_millis(200));
    send(&child, "-INT");
    assert_eq!(wait_exit(&mut child, Duration::from_secs(10)), Some(130));
    assert!(sent.elapsed() < Duration::from_secs(5), "the second signal did not exit at once");
}

#[test]
fn two_hundred_hosts_with_one_in_ten_dead_finish_with_the_right_recap() {
    let mut test = Test::new().file(
        "site.yml",
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: mark\n      copy: {content: \"up\\n\", dest: \"{{ root }}/mark\"}\n",
    );
    for i in 0..200 {
        let name = format!("h{i:03}");
        test = if i % 10 == 7 {
            test.unreachable_host(&name)
        } else {
            test.host_with(&name, vec![("ansible_connection".into(), "local".into())])
        };
    }
    let started = std::time::Instant::now();
    let out = test.run_args(["apply", "site.yml"]);
    out.assert_status(8);
    let report = out.report_json();
    let hosts = report["hosts"].as_object().unwrap();
    assert_eq!(hosts.len(), 200);
    let unreachable: Vec<&String> = hosts.iter().filter(|(_, h)| h["unreachable"] == true).map(|(n, _)| n).collect();
    assert_eq!(unreachable.len(), 20, "{unreachable:?}");
    assert!(unreachable.iter().all(|n| n.ends_with('7')), "{unreachable:?}");
    for (name, h) in hosts.iter().filter(|(_, h)| h["unreachable"] != true) {
        assert_eq!((h["changed"].as_u64(), h["failed"].as_u64()), (Some(1), Some(0)), "{name}");
        assert_eq!(test.read(name, "mark"), "up\n", "{name}");
    }
    assert!(out.stdout.contains("h007 ") && out.stdout.contains("unreachable=1"), "{}", out.stdout);
    eprintln!("200 hosts, 20 dead: {:?}", started.elapsed());
}
