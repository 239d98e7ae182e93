//! The live display, seen the way a person sees it: stead runs in a real
//! terminal (a tmux pane, 160×50), the pane is captured while the play is in
//! flight and again at the end, and the captures must show what the
//! terminal reporter promises: one overall bar with tasks and hosts done,
//! a line per host in flight with its task, a failure printed the moment it
//! happens, and at the end the recap with no bar left behind.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const HOSTS: usize = 8;

/// A private tmux server, on its own socket; killed (it alone) on drop.
pub(crate) struct Pane {
    socket: std::path::PathBuf,
}

impl Pane {
    /// Starts `command` in a new detached session, or None without tmux
    /// (a failure under CI, where .ci/run installs it).
    pub(crate) fn start(dir: &Path, command: &str) -> Option<Pane> {
        let socket = dir.join("tmux.sock");
        let started = Command::new("tmux")
            .arg("-S")
            .arg(&socket)
            .args(["-f", "/dev/null", "new-session", "-d", "-x", "160", "-y", "50", "-s", "live", command])
            .current_dir(dir)
            .env_remove("TMUX")
            .status();
        match started {
            Ok(status) => {
                assert!(status.success(), "tmux new-session failed");
                Some(Pane { socket })
            }
            Err(e) => {
                assert!(std::env::var_os("CI").is_none(), "tmux is needed under CI: {e}");
                eprintln!("tmux not available ({e}): the live display is not checked");
                None
            }
        }
    }

    /// What the pane shows now (with `escapes`, its color codes too).
    pub(crate) fn capture(&self, escapes: bool) -> String {
        let mut cmd = Command::new("tmux");
        cmd.arg("-S").arg(&self.socket).args(["capture-pane", "-p", "-t", "live"]);
        if escapes {
            cmd.arg("-e");
        }
        let out = cmd.output().expect("tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Captures until `done` holds for a capture; panics after `limit`.
    pub(crate) fn wait_for(&self, limit: Duration, what: &str, done: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.capture(false);
            if done(&screen) {
                return screen;
            }
            assert!(start.elapsed() < limit, "waited {limit:?} for {what}; the pane shows:\n{screen}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Pane {
    /// Types `text` into the pane as it is, then Enter.
    pub(crate) fn type_line(&self, text: &str) {
        let run = |args: &[&str]| {
            let status = Command::new("tmux").arg("-S").arg(&self.socket).args(args).status().expect("tmux send-keys");
            assert!(status.success(), "tmux send-keys failed");
        };
        run(&["send-keys", "-t", "live", "-l", text]);
        run(&["send-keys", "-t", "live", "Enter"]);
    }
}

impl Drop for Pane {
    fn drop(&mut self) {
        let _ = Command::new("tmux").arg("-S").arg(&self.socket).arg("kill-server").status();
    }
}

#[test]
fn a_terminal_shows_the_bar_the_hosts_in_flight_failures_as_they_happen_and_then_the_recap() {
    let dir = tempfile::tempdir().unwrap();
    let mut inv = String::from("all:\n  hosts:\n");
    for i in 1..=HOSTS {
        let root = dir.path().join(format!("root/h{i}"));
        inv.push_str(&format!("    h{i}:\n      ansible_connection: local\n      root: {}\n", root.display()));
    }
    std::fs::write(dir.path().join("inventory.yaml"), inv).unwrap();
    let play = r#"- name: Live display
  hosts: all
  gather_facts: false
  tasks:
    - name: Make the root
      file: {path: "{{ root }}", state: directory}
    - name: Break one host
      fail: {msg: "h2 is broken on purpose"}
      when: inventory_hostname == "h2"
    - name: Take a while
      command: sleep 3
    - name: Write the motd
      copy: {dest: "{{ root }}/motd", content: "hi\n"}
"#;
    std::fs::write(dir.path().join("site.yml"), play).unwrap();
    let command = format!(
        "env -u CI -u NO_COLOR STEAD_AUDIT_LOG={audit} {bin} apply site.yml -i inventory.yaml --forks {HOSTS}; echo \"stead exited $?\"; sleep 60",
        audit = dir.path().join("audit.jsonl").display(),
        bin = env!("CARGO_BIN_EXE_stead"),
    );
    let Some(pane) = Pane::start(dir.path(), &command) else { return };

    let mid = pane.wait_for(Duration::from_secs(20), "the hosts in flight on their slow task", |s| {
        s.matches(": Take a while").count() >= 4
    });
    let bar = mid.lines().find(|l| l.contains(" tasks ")).unwrap_or_else(|| panic!("no overall bar:\n{mid}"));
    assert!(bar.contains(&format!("/{} tasks", HOSTS * 4)), "the bar counts every host's tasks: {bar}");
    assert!(bar.contains("ETA") && bar.contains(&format!("hosts 0/{HOSTS} done")), "{bar}");
    assert!(
        mid.contains("failed: [h2]") && mid.contains("h2 is broken on purpose"),
        "the failure shows while the others still run:\n{mid}"
    );
    // Six lines for the hosts in flight: five named (h2 with its failure),
    // the sixth counting the rest.
    let in_flight = mid.lines().filter(|l| l.starts_with("  h") && l.ends_with(": Take a while")).count();
    assert_eq!(in_flight, 4, "{mid}");
    assert!(mid.contains("  h2: failed at Break one host"), "{mid}");
    assert!(mid.contains("... and 3 more hosts"), "{mid}");
    let bar_line = mid.lines().position(|l| l.contains(" tasks ")).unwrap();
    let fatal_line = mid.lines().position(|l| l.contains("failed: [h2]")).unwrap();
    assert!(fatal_line < bar_line, "results print above the bar:\n{mid}");

    let end = pane.wait_for(Duration::from_secs(30), "the end of the run", |s| s.contains("stead exited"));
    assert!(end.contains("stead exited 4"), "a failed host sets exit bit 4:\n{end}");
    assert!(end.contains("PLAY RECAP"), "{end}");
    for i in (1..=HOSTS).filter(|&i| i != 2) {
        assert!(end.lines().any(|l| l.starts_with(&format!("h{i} ")) && l.contains("failed=0")), "h{i}:\n{end}");
    }
    assert!(!end.contains(&format!("/{} tasks", HOSTS * 4)), "no bar is left behind:\n{end}");
    assert!(!end.lines().any(|l| l.starts_with("  h")), "no in-flight line is left behind:\n{end}");
    assert!(!end.contains("more hosts"), "no in-flight line is left behind:\n{end}");
    let colored = pane.capture(true);
    assert!(colored.contains("\u{1b}[31m"), "failures are red on a terminal");
}
