//! What a run costs: remote execs (from the JSON report) and wall time of
//! the real `stead` binary against a real local sshd (the integration
//! tests' fixture), for a playbook of 20 file-family tasks.
//!
//! ```text
//! cargo build --release && cargo bench --bench remote_execs
//! ```
//!
//! This is a measurement, not a test: it asserts only that the runs did
//! what the row says (everything changed, nothing changed, ...), and prints
//! a markdown table. See docs/performance.md.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

#[path = "../tests/integration/support/sshd.rs"]
#[allow(dead_code)]
mod sshd;

use sshd::Sshd;

/// Tasks in the playbook.
const TASKS: usize = 20;
/// Timed repetitions of the no-change rows; the median is reported.
const REPEATS: usize = 5;
/// Hosts of the parallel variant (all served by the same sshd).
const WIDE: usize = 5;
/// The managed file edited behind stead's back for rows (d) and (e).
const EDITED: &str = "etc/app.conf";

/// 20 independent file-family tasks (no `register` is read later, so the
/// task graph is one run). Paths are under the host's private `root`.
const PLAYBOOK: &str = r#"- name: bench
  hosts: all
  tasks:
    - name: t01 etc directory
      file: { path: "{{ root }}/etc", state: directory, mode: "0755" }
    - name: t02 app.d directory
      file: { path: "{{ root }}/etc/app.d", state: directory, mode: "0755" }
    - name: t03 motd
      copy: { content: "Welcome to {{ inventory_hostname }}\n", dest: "{{ root }}/etc/motd" }
    - name: t04 app.conf
      copy: { content: "name=app\nport=8080\n", dest: "{{ root }}/etc/app.conf", mode: "0644" }
    - name: t05 sshd_config root login
      lineinfile: { path: "{{ root }}/etc/sshd_config", line: "PermitRootLogin no", create: true }
    - name: t06 sshd_config passwords
      lineinfile: { path: "{{ root }}/etc/sshd_config", line: "PasswordAuthentication no", create: true }
    - name: t07 hosts block
      blockinfile: { path: "{{ root }}/etc/hosts", block: "10.0.0.1 db\n10.0.0.2 cache\n", create: true }
    - name: t08 app.ini
      template: { src: app.ini.j2, dest: "{{ root }}/etc/app.ini", mode: "0640" }
    - name: t09 stat motd
      stat: { path: "{{ root }}/etc/motd" }
    - name: t10 motd mode
      file: { path: "{{ root }}/etc/motd", state: file, mode: "0600" }
    - name: t11 app.d a
      copy: { content: "a=1\n", dest: "{{ root }}/etc/app.d/10-a.conf" }
    - name: t12 app.d b
      copy: { content: "b=2\n", dest: "{{ root }}/etc/app.d/20-b.conf" }
    - name: t13 limits
      lineinfile: { path: "{{ root }}/etc/limits.conf", line: "* soft nofile 65536", create: true }
    - name: t14 profile block
      blockinfile: { path: "{{ root }}/etc/profile", block: "export EDITOR=vi\n", create: true }
    - name: t15 app.d c
      template: { src: app.ini.j2, dest: "{{ root }}/etc/app.d/30-c.conf" }
    - name: t16 state directory
      file: { path: "{{ root }}/var/lib/app", state: directory, mode: "0755" }
    - name: t17 log directory
      file: { path: "{{ root }}/var/log/app", state: directory, mode: "0750" }
    - name: t18 stat app.conf
      stat: { path: "{{ root }}/etc/app.conf" }
    - name: t19 state file
      copy: { content: "ready\n", dest: "{{ root }}/var/lib/app/state" }
    - name: t20 stat state directory
      stat: { path: "{{ root }}/var/lib/app" }
"#;

const TEMPLATE: &str = "[app]\nhost={{ inventory_hostname }}\nlisten={{ ansible_port }}\n";

fn main() {
    // `cargo test --all-targets` runs harness-less benches without
    // `--bench`: stay out of the way there.
    if !std::env::args().any(|a| a == "--bench") {
        println!("remote_execs: skipped (run it with `cargo bench --bench remote_execs`)");
        return;
    }
    let Some(stead) = find_stead() else {
        eprintln!(
            "remote_execs: no stead binary under {}/{{release,debug}}.\n\
             Build it first: cargo build --release",
            target_dir().display()
        );
        std::process::exit(2);
    };
    println!("stead binary: {}", stead.display());

    let sshd = Sshd::start();
    let mut rows = Vec::new();

    // One host.
    let one = Project::new(&stead, &sshd, 1);
    let first = one.run("apply", 1);
    first.expect_changed_tasks(TASKS - 3); // the 3 stat tasks never change
    rows.push(first.row("(a) first apply, everything changes", 1));

    let second = one.run("apply", REPEATS);
    second.expect_changed_tasks(0);
    rows.push(second.row("(b) second apply, nothing changes", 1));

    let plan = one.run("plan", REPEATS);
    plan.expect_changed_tasks(0);
    rows.push(plan.row("(c) `plan` (check + diff), nothing changes", 1));

    one.edit(0, EDITED, "name=app\nport=9999\n");
    let drift = one.run("plan", 1);
    drift.expect_changed_tasks(1);
    rows.push(drift.row("(d) `plan` after editing one managed file", 1));

    let fix = one.run("apply", 1);
    fix.expect_changed_tasks(1);
    rows.push(fix.row("(e) apply after editing one managed file", 1));

    // Five hosts on the same sshd, each with its own root.
    let wide = Project::new(&stead, &sshd, WIDE);
    wide.run("apply", 1).expect_changed_tasks(TASKS - 3);
    let wide_second = wide.run("apply", REPEATS);
    wide_second.expect_changed_tasks(0);
    rows.push(wide_second.row("(b) second apply, 5 hosts", WIDE));

    println!();
    println!("| run | hosts | tasks/host | remote execs/host | execs/task | wall time |");
    println!("|---|---:|---:|---:|---:|---:|");
    for row in rows {
        println!("{row}");
    }

    // The floor under every exec: plain ssh on this machine, no stead.
    let fresh = median((0..REPEATS).map(|_| timed(|| assert!(sshd.run("true").status.success()))).collect());
    let mux = sshd.mux();
    let muxed = median((0..10).map(|_| timed(|| assert!(mux.run("true").status.success()))).collect());
    println!();
    println!("Baseline, plain ssh to the same sshd (median):");
    println!("- `ssh host true`, new connection: {} ms", fresh.as_millis());
    println!("- `ssh -S master host true`, over a mux master: {} ms", muxed.as_millis());
}

/// How long `f` takes.
fn timed(f: impl FnOnce()) -> Duration {
    let started = Instant::now();
    f();
    started.elapsed()
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// `$CARGO_TARGET_DIR`, or `target/` beside Cargo.toml.
fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                Path::new(env!("CARGO_MANIFEST_DIR")).join(dir)
            }
        }
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("target"),
    }
}

/// The release binary, else the debug one.
fn find_stead() -> Option<PathBuf> {
    let target = target_dir();
    ["release", "debug"].iter().map(|profile| target.join(profile).join("stead")).find(|p| p.is_file())
}

/// A project directory with an inventory of `hosts` hosts on one sshd.
struct Project<'a> {
    stead: &'a Path,
    dir: TempDir,
    roots: Vec<TempDir>,
    runs: std::cell::Cell<usize>,
}

impl<'a> Project<'a> {
    fn new(stead: &'a Path, sshd: &Sshd, hosts: usize) -> Project<'a> {
        let dir = temp("stead-bench-project-");
        let mut inventory = String::from("all:\n  hosts:\n");
        let mut roots = Vec::new();
        for h in 0..hosts {
            let root = temp("stead-bench-root-");
            inventory.push_str(&format!("    {}:\n", host_name(h)));
            let mut vars = sshd.host_vars();
            vars.push(("root".into(), root.path().display().to_string().into()));
            for (k, v) in vars {
                // JSON scalars are valid YAML flow scalars.
                inventory.push_str(&format!("      {k}: {v}\n"));
            }
            roots.push(root);
        }
        std::fs::write(dir.path().join("inventory.yaml"), inventory).expect("write inventory");
        std::fs::write(dir.path().join("site.yml"), PLAYBOOK).expect("write playbook");
        std::fs::create_dir_all(dir.path().join("templates")).expect("create templates/");
        std::fs::write(dir.path().join("templates/app.ini.j2"), TEMPLATE).expect("write template");
        Project { stead, dir, roots, runs: std::cell::Cell::new(0) }
    }

    /// Overwrites a managed file of host `h` behind stead's back.
    fn edit(&self, h: usize, rel: &str, contents: &str) {
        std::fs::write(self.roots[h].path().join(rel), contents).expect("edit a managed file");
    }

    /// Runs `stead <sub> site.yml` `times` times; keeps the last report and
    /// every wall time.
    fn run(&self, sub: &str, times: usize) -> Measured {
        let mut walls = Vec::new();
        let mut report = Value::Null;
        for _ in 0..times {
            let n = self.runs.get() + 1;
            self.runs.set(n);
            let path = self.dir.path().join(format!("report-{n}.json"));
            let started = Instant::now();
            let out = Command::new(self.stead)
                .args([sub, "site.yml", "-i", "inventory.yaml", "--output", "plain", "--no-audit-log", "--report"])
                .arg(format!("json={}", path.display()))
                .current_dir(self.dir.path())
                .env("CI", "true")
                .env("NO_COLOR", "1")
                .env_remove("STEAD_LOG")
                .stdin(Stdio::null())
                .output()
                .expect("run stead");
            walls.push(started.elapsed());
            assert!(
                out.status.success(),
                "stead {sub} failed ({})\n--- stdout ---\n{}\n--- stderr ---\n{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            let text = std::fs::read_to_string(&path).expect("read the JSON report");
            report = serde_json::from_str(&text).expect("the report is JSON");
        }
        Measured { report, walls, hosts: self.roots.len() }
    }
}

/// The outcome of one row's runs.
struct Measured {
    report: Value,
    walls: Vec<Duration>,
    hosts: usize,
}

impl Measured {
    fn host(&self, h: usize) -> &Value {
        &self.report["hosts"][host_name(h)]
    }

    /// Task results of host `h`, without the fact gathering record.
    fn tasks(&self, h: usize) -> Vec<&Value> {
        self.host(h)["tasks"]
            .as_array()
            .expect("tasks in the report")
            .iter()
            .filter(|t| t["module"] != "gather_facts")
            .collect()
    }

    fn execs(&self, h: usize) -> u64 {
        self.host(h)["remote_execs"].as_u64().expect("remote_execs in the report")
    }

    /// Every host reports `n` changed tasks and no failure.
    fn expect_changed_tasks(&self, n: usize) {
        for h in 0..self.hosts {
            let tasks = self.tasks(h);
            assert_eq!(tasks.len(), TASKS, "task results of {}", host_name(h));
            let statuses: Vec<&str> = tasks.iter().map(|t| t["status"].as_str().unwrap_or("?")).collect();
            assert!(statuses.iter().all(|s| *s == "ok" || *s == "changed"), "{statuses:?}");
            assert_eq!(statuses.iter().filter(|s| **s == "changed").count(), n, "{statuses:?}");
        }
    }

    fn row(&self, what: &str, hosts: usize) -> String {
        let execs: Vec<u64> = (0..hosts).map(|h| self.execs(h)).collect();
        let (lo, hi) = (execs.iter().min().copied().unwrap_or(0), execs.iter().max().copied().unwrap_or(0));
        let per_host = if lo == hi { lo.to_string() } else { format!("{lo}–{hi}") };
        let tasks = self.tasks(0).len();
        let per_task = hi as f64 / tasks as f64;
        let mut walls = self.walls.clone();
        walls.sort();
        let median = walls[walls.len() / 2];
        let wall = if walls.len() == 1 {
            format!("{} ms (1 run)", median.as_millis())
        } else {
            format!(
                "{} ms (median of {}, {}–{})",
                median.as_millis(),
                walls.len(),
                walls[0].as_millis(),
                walls[walls.len() - 1].as_millis()
            )
        };
        format!("| {what} | {hosts} | {tasks} | {per_host} | {per_task:.2} | {wall} |")
    }
}

fn host_name(h: usize) -> String {
    format!("web{}", h + 1)
}

fn temp(prefix: &str) -> TempDir {
    tempfile::Builder::new().prefix(prefix).tempdir().expect("create a temporary directory")
}
