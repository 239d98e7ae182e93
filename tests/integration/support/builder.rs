//! The fluent test builder: declare hosts and project files, run the real
//! `stead` binary, assert on what it printed and on the hosts' files.
//!
//! ```ignore
//! let sshd = Sshd::start();
//! let test = Test::new()
//!     .host("web1", &sshd)
//!     .file("site.yml", "- hosts: all\n  tasks: ...");
//! test.run_args(["apply", "site.yml"]).assert_status(0);
//! assert_eq!(test.read("web1", "motd"), "hello\n");
//! ```
//!
//! Every host gets a private managed root (a temporary directory), passed to
//! the playbook as the variable `root`. Several inventory hosts may point at
//! the same sshd: their roots keep them apart, which is how multi-host tests
//! run without a server per host.

use std::cell::Cell;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

use super::oracle::{self, Engine};
use super::sshd::{free_port, Sshd};
use super::tree;

/// The most one stead invocation may take before the test kills it: a
/// hang, not a slow run (the bundled hardening playbook's first apply on
/// three hosts installs packages and initialises restic repositories, which
/// on a loaded 2-core machine took over a minute).
const RUN_TIMEOUT: Duration = Duration::from_secs(180);

/// Subcommands that read an inventory.
const INVENTORY_COMMANDS: &[&str] = &["apply", "plan", "validate", "exec", "inventory", "facts"];

/// Subcommands that run tasks (and so take `--output` and `--report`).
const RUN_COMMANDS: &[&str] = &["apply", "plan"];

struct Host {
    name: String,
    vars: Vec<(String, Value)>,
    root: TempDir,
    /// The folder of its host lock, when it is this machine's sshd.
    _lock: Option<TempDir>,
}

/// One test project: inventory, playbooks, files, and the hosts' roots.
pub struct Test {
    project: TempDir,
    reports: TempDir,
    hosts: Vec<Host>,
    groups: Vec<(String, Vec<String>)>,
    args: Vec<String>,
    env: Vec<(String, String)>,
    runs: Cell<u32>,
    raw: bool,
    engine: Engine,
}

impl Default for Test {
    fn default() -> Self {
        Self::new()
    }
}

impl Test {
    /// An empty project in a fresh temporary directory.
    pub fn new() -> Test {
        Test {
            project: temp("stead-project-"),
            reports: temp("stead-reports-"),
            hosts: Vec::new(),
            groups: Vec::new(),
            args: Vec::new(),
            env: Vec::new(),
            runs: Cell::new(0),
            raw: false,
            engine: Engine::Stead,
        }
    }

    /// Runs `apply`/`plan` with this engine (see [`oracle::engines`]).
    pub fn engine(mut self, engine: &Engine) -> Test {
        self.engine = engine.clone();
        self
    }

    /// Adds an inventory host served by `sshd`, with its own managed root.
    pub fn host(self, name: &str, sshd: &Sshd) -> Test {
        self.host_with(name, sshd.host_vars())
    }

    /// Adds an inventory host that cannot be reached: 127.0.0.1 on a port
    /// that was just closed (never a non-loopback address).
    pub fn unreachable_host(self, name: &str) -> Test {
        self.host_with(name, unreachable_vars(free_port()))
    }

    /// Adds an inventory host with exactly these connection variables (plus
    /// `root`).
    pub fn host_with(mut self, name: &str, vars: Vec<(String, Value)>) -> Test {
        assert!(self.hosts.iter().all(|h| h.name != name), "host {name} declared twice");
        let root = temp("stead-root-");
        let mut vars = vars;
        vars.push(("root".into(), Value::String(root.path().display().to_string())));
        // Hosts served by this machine's sshd share its /run/lock: each gets
        // a lock file of its own, or the tests running at once would queue
        // on one lock (Tier-B hosts have their own /run).
        let loopback = vars.iter().any(|(k, v)| k == "ansible_host" && v == "127.0.0.1");
        let lock = (loopback && !vars.iter().any(|(k, _)| k == "stead_lock_file")).then(|| temp("stead-lock-"));
        if let Some(dir) = &lock {
            vars.push(("stead_lock_file".into(), Value::String(dir.path().join("stead.lock").display().to_string())));
        }
        self.hosts.push(Host { name: name.into(), vars, root, _lock: lock });
        self
    }

    /// Sets (or replaces) one variable of a declared host.
    pub fn host_var(mut self, host: &str, key: &str, value: impl Into<Value>) -> Test {
        let value = value.into();
        let vars = &mut self.host_mut(host).vars;
        match vars.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value,
            None => vars.push((key.into(), value)),
        }
        self
    }

    /// Sets several variables of a declared host.
    pub fn host_vars<K: Into<String>, V: Into<Value>>(
        mut self,
        host: &str,
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Test {
        for (k, v) in vars {
            let k: String = k.into();
            self = self.host_var(host, &k, v);
        }
        self
    }

    /// Declares an inventory group of already declared hosts.
    pub fn group(mut self, name: &str, hosts: &[&str]) -> Test {
        for h in hosts {
            assert!(self.hosts.iter().any(|x| x.name == *h), "group {name}: unknown host {h}");
        }
        self.groups.push((name.into(), hosts.iter().map(|h| h.to_string()).collect()));
        self
    }

    /// Writes a file into the project directory (parents created). Writing
    /// `inventory.yaml` replaces the generated inventory.
    pub fn file(self, path: &str, contents: impl AsRef<[u8]>) -> Test {
        self.write(path, contents);
        self
    }

    /// The default arguments of [`Test::run`].
    pub fn args<S: Into<String>>(mut self, args: impl IntoIterator<Item = S>) -> Test {
        self.args = args.into_iter().map(Into::into).collect();
        self
    }

    /// Runs stead with exactly the given arguments: no `-i`, `--output` or
    /// `--report` added (the inventory file is still written).
    pub fn raw(mut self) -> Test {
        self.raw = true;
        self
    }

    /// An extra environment variable for every run.
    pub fn env(mut self, key: &str, value: &str) -> Test {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Writes (or overwrites) a project file at any time, e.g. between runs.
    pub fn write(&self, path: &str, contents: impl AsRef<[u8]>) {
        let full = self.project.path().join(path);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent).expect("create project subdirectory");
        }
        std::fs::write(&full, contents).expect("write project file");
    }

    /// The project directory (stead's working directory).
    pub fn project(&self) -> &Path {
        self.project.path()
    }

    /// Where this test's runs keep pending handlers (`STEAD_PENDING_HANDLERS`,
    /// set for every run, so no test writes to /var/lib or the home directory).
    pub fn pending_handlers(&self) -> PathBuf {
        self.reports.path().join("pending-handlers.json")
    }

    /// The audit log every run of this test appends to (`STEAD_AUDIT_LOG`,
    /// set for every run, so no test writes to /var/log or the home directory;
    /// a test's own `.env("STEAD_AUDIT_LOG", ..)` overrides it).
    pub fn audit_log(&self) -> PathBuf {
        self.reports.path().join("audit.jsonl")
    }

    /// The managed root of `host`.
    pub fn root(&self, host: &str) -> &Path {
        self.host_ref(host).root.path()
    }

    /// `root(host)/rel`.
    pub fn path(&self, host: &str, rel: &str) -> PathBuf {
        self.root(host).join(rel)
    }

    /// Reads a file under a host's root as text.
    pub fn read(&self, host: &str, rel: &str) -> String {
        let path = self.path(host, rel);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
    }

    /// Whether a path exists under a host's root (symlinks not followed).
    pub fn exists(&self, host: &str, rel: &str) -> bool {
        self.path(host, rel).symlink_metadata().is_ok()
    }

    /// Creates a file under a host's root (parents created), as the state a
    /// test starts from.
    pub fn put(&self, host: &str, rel: &str, contents: impl AsRef<[u8]>) {
        let path = self.path(host, rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create host subdirectory");
        }
        std::fs::write(&path, contents).expect("write host file");
    }

    /// The sha256 of a host's whole root tree (paths, bytes, modes, link
    /// targets).
    pub fn tree_hash(&self, host: &str) -> String {
        tree::hash(self.root(host))
    }

    /// Runs stead with the arguments given to [`Test::args`].
    pub fn run(&self) -> Outcome {
        assert!(!self.args.is_empty(), "Test::run without .args(..)");
        self.run_args(self.args.clone())
    }

    /// Runs the real `stead` binary with `args` in the project directory,
    /// without a TTY, with `CI=true`. For `apply` and `plan` it adds
    /// `--output plain` and a JSON report (read it with
    /// [`Outcome::report_json`]); every command that reads an inventory gets
    /// `-i inventory.yaml` unless the arguments name one.
    pub fn run_args<S: Into<String>>(&self, args: impl IntoIterator<Item = S>) -> Outcome {
        self.run_args_env(&[], args)
    }

    /// [`Test::run_args`] with extra environment variables for this run only.
    pub fn run_args_env<S: Into<String>>(&self, env: &[(&str, &str)], args: impl IntoIterator<Item = S>) -> Outcome {
        let mut args: Vec<String> = args.into_iter().map(Into::into).collect();
        self.write_inventory();
        let sub = args.first().cloned().unwrap_or_default();
        let names_inventory = args.iter().any(|a| a == "-i" || a == "--inventory" || a.starts_with("--inventory="));
        if INVENTORY_COMMANDS.contains(&sub.as_str())
            && !self.raw
            && !names_inventory
            && self.project.path().join("inventory.yaml").exists()
        {
            args.extend(["-i".into(), "inventory.yaml".into()]);
        }
        let mut report = None;
        if RUN_COMMANDS.contains(&sub.as_str()) && !self.raw {
            let n = self.runs.get() + 1;
            self.runs.set(n);
            let path = self.reports.path().join(format!("run-{n}.json"));
            args.extend(["--output".into(), "plain".into()]);
            args.push("--report".into());
            args.push(format!("json={}", path.display()));
            report = Some(path);
        }
        let oracle_bin = match &self.engine {
            Engine::Ansible(bin) => Some(bin.clone()),
            Engine::Stead => oracle::ansible_playbook(),
        };
        if let (Some(bin), Some(report)) = (oracle_bin, &report) {
            let (status, stdout, stderr) = oracle::run(&bin, self.project.path(), &args, &self.env, report);
            return Outcome {
                command: format!("ansible-playbook (oracle for: stead {})", args.join(" ")),
                status,
                stdout,
                stderr,
                report: Some(report.clone()),
            };
        }
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_stead"));
        cmd.args(&args)
            .current_dir(self.project.path())
            .env("CI", "true")
            .env("NO_COLOR", "1")
            .env("STEAD_AUDIT_LOG", self.audit_log())
            .env("STEAD_PENDING_HANDLERS", self.pending_handlers())
            .env_remove("STEAD_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let command = format!("stead {}", args.join(" "));
        let (status, stdout, stderr) = run_with_timeout(cmd, RUN_TIMEOUT, &command);
        Outcome { command, status, stdout, stderr, report }
    }

    /// Starts the real `stead` binary with exactly `args` (plus `-i
    /// inventory.yaml`) and returns at once, for tests that interrupt or kill
    /// it. Output goes to files in the reports directory.
    pub fn spawn_args<S: Into<String>>(&self, args: impl IntoIterator<Item = S>) -> std::process::Child {
        let mut args: Vec<String> = args.into_iter().map(Into::into).collect();
        self.write_inventory();
        args.extend(["-i".into(), "inventory.yaml".into(), "--output".into(), "plain".into()]);
        let n = self.runs.get() + 1;
        self.runs.set(n);
        let out = std::fs::File::create(self.reports.path().join(format!("spawn-{n}.out"))).expect("create out file");
        let err = std::fs::File::create(self.reports.path().join(format!("spawn-{n}.err"))).expect("create err file");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_stead"));
        cmd.args(&args)
            .current_dir(self.project.path())
            .env("CI", "true")
            .env("NO_COLOR", "1")
            .env("STEAD_AUDIT_LOG", self.audit_log())
            .env("STEAD_PENDING_HANDLERS", self.pending_handlers())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd.spawn().expect("start stead")
    }

    /// The generated `inventory.yaml`, unless the test wrote its own.
    fn write_inventory(&self) {
        if self.hosts.is_empty() {
            return;
        }
        let path = self.project.path().join("inventory.yaml");
        if path.exists() && !self.generated_inventory(&path) {
            return;
        }
        std::fs::write(&path, self.inventory_yaml()).expect("write inventory.yaml");
    }

    fn generated_inventory(&self, path: &Path) -> bool {
        std::fs::read_to_string(path).map(|s| s.starts_with(GENERATED)).unwrap_or(false)
    }

    /// The inventory as YAML. Values are written as JSON scalars, which are
    /// valid YAML flow scalars and keep their types.
    pub fn inventory_yaml(&self) -> String {
        let mut out = String::from(GENERATED);
        out.push_str("all:\n  hosts:\n");
        for host in &self.hosts {
            out.push_str(&format!("    {}:\n", host.name));
            for (k, v) in &host.vars {
                out.push_str(&format!("      {k}: {v}\n"));
            }
        }
        if !self.groups.is_empty() {
            out.push_str("  children:\n");
            for (group, hosts) in &self.groups {
                out.push_str(&format!("    {group}:\n      hosts:\n"));
                for h in hosts {
                    out.push_str(&format!("        {h}: {{}}\n"));
                }
            }
        }
        out
    }

    fn host_ref(&self, name: &str) -> &Host {
        self.hosts.iter().find(|h| h.name == name).unwrap_or_else(|| panic!("no host {name} declared"))
    }

    fn host_mut(&mut self, name: &str) -> &mut Host {
        self.hosts.iter_mut().find(|h| h.name == name).unwrap_or_else(|| panic!("no host {name} declared"))
    }
}

/// First line of a generated inventory, so a test's own is never clobbered.
const GENERATED: &str = "# generated by the stead test builder\n";

/// Connection variables for 127.0.0.1 on `port`, where nothing is expected
/// to answer.
pub fn unreachable_vars(port: u16) -> Vec<(String, Value)> {
    vec![
        ("ansible_host".into(), "127.0.0.1".into()),
        ("ansible_port".into(), port.into()),
        ("ansible_ssh_common_args".into(), "-o UserKnownHostsFile=/dev/null -o IdentitiesOnly=yes -F /dev/null".into()),
    ]
}

/// What one run printed and how it ended.
#[derive(Debug)]
pub struct Outcome {
    /// The command line, for failure messages.
    pub command: String,
    /// Exit status (-1 when killed by a signal).
    pub status: i32,
    /// Standard output (lossy UTF-8).
    pub stdout: String,
    /// Standard error (lossy UTF-8).
    pub stderr: String,
    report: Option<PathBuf>,
}

impl Outcome {
    fn context(&self) -> String {
        format!(
            "command: {}\nstatus: {}\n--- stdout ---\n{}\n--- stderr ---\n{}\n",
            self.command, self.status, self.stdout, self.stderr
        )
    }

    /// Asserts the exit status.
    #[track_caller]
    pub fn assert_status(&self, code: i32) -> &Outcome {
        assert_eq!(self.status, code, "unexpected exit status\n{}", self.context());
        self
    }

    /// Asserts that standard output contains `needle`.
    #[track_caller]
    pub fn assert_stdout_contains(&self, needle: &str) -> &Outcome {
        assert!(self.stdout.contains(needle), "stdout lacks {needle:?}\n{}", self.context());
        self
    }

    /// Asserts that standard output does not contain `needle`.
    #[track_caller]
    pub fn assert_stdout_lacks(&self, needle: &str) -> &Outcome {
        assert!(!self.stdout.contains(needle), "stdout contains {needle:?}\n{}", self.context());
        self
    }

    /// Asserts that standard error contains `needle`.
    #[track_caller]
    pub fn assert_stderr_contains(&self, needle: &str) -> &Outcome {
        assert!(self.stderr.contains(needle), "stderr lacks {needle:?}\n{}", self.context());
        self
    }

    /// Asserts that standard error does not contain `needle`.
    #[track_caller]
    pub fn assert_stderr_lacks(&self, needle: &str) -> &Outcome {
        assert!(!self.stderr.contains(needle), "stderr contains {needle:?}\n{}", self.context());
        self
    }

    /// Asserts that stdout or stderr contains `needle`.
    #[track_caller]
    pub fn assert_output_contains(&self, needle: &str) -> &Outcome {
        assert!(
            self.stdout.contains(needle) || self.stderr.contains(needle),
            "neither stdout nor stderr contains {needle:?}\n{}",
            self.context()
        );
        self
    }

    /// The JSON report this run wrote (apply and plan always write one).
    #[track_caller]
    pub fn report_json(&self) -> Value {
        let path = self.report.as_ref().unwrap_or_else(|| panic!("this command writes no report\n{}", self.context()));
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("no JSON report at {}: {e}\n{}", path.display(), self.context()));
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("the JSON report is not JSON: {e}\n{text}\n{}", self.context()))
    }

    /// The raw text of the JSON report.
    pub fn report_text(&self) -> String {
        self.report.as_ref().and_then(|p| std::fs::read_to_string(p).ok()).unwrap_or_default()
    }

    /// `summary.<key>` of the JSON report.
    #[track_caller]
    pub fn summary(&self, key: &str) -> u64 {
        let report = self.report_json();
        report["summary"][key]
            .as_u64()
            .unwrap_or_else(|| panic!("report has no numeric summary.{key}: {report:#}\n{}", self.context()))
    }

    /// Asserts `summary.changed` of the JSON report.
    #[track_caller]
    pub fn assert_changed(&self, n: u64) -> &Outcome {
        let changed = self.summary("changed");
        assert_eq!(changed, n, "summary.changed\nreport: {:#}\n{}", self.report_json(), self.context());
        self
    }

    /// The status of every task result for `host` in the report, in order.
    #[track_caller]
    pub fn task_statuses(&self, host: &str) -> Vec<String> {
        let report = self.report_json();
        report["hosts"][host]["tasks"]
            .as_array()
            .unwrap_or_else(|| panic!("report has no tasks for {host}: {report:#}"))
            .iter()
            .map(|t| t["status"].as_str().unwrap_or("?").to_owned())
            .collect()
    }

    /// The names of the tasks that changed (or would, in check mode) on
    /// `host`, in report order.
    pub fn changed_tasks(&self, host: &str) -> Vec<String> {
        self.report_json()["hosts"][host]["tasks"]
            .as_array()
            .map(|tasks| {
                tasks
                    .iter()
                    .filter(|t| t["status"] == "changed")
                    .map(|t| t["task"].as_str().unwrap_or("").to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The report entry of the task named `task` on `host`.
    #[track_caller]
    pub fn task(&self, host: &str, task: &str) -> Value {
        let report = self.report_json();
        report["hosts"][host]["tasks"]
            .as_array()
            .and_then(|tasks| tasks.iter().find(|t| t["task"] == task).cloned())
            .unwrap_or_else(|| panic!("no task {task:?} for {host} in report: {report:#}"))
    }
}

fn temp(prefix: &str) -> TempDir {
    tempfile::Builder::new().prefix(prefix).tempdir().expect("create a temporary directory")
}

/// Runs `cmd` to completion, killing it (its own child only) after `limit`.
fn run_with_timeout(mut cmd: Command, limit: Duration, what: &str) -> (i32, String, String) {
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    let mut out = child.stdout.take().expect("piped stdout");
    let mut err = child.stderr.take().expect("piped stderr");
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = out.read_to_end(&mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = err.read_to_end(&mut buf);
        buf
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for stead") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let stdout = String::from_utf8_lossy(&out_reader.join().expect("stdout reader")).into_owned();
    let stderr = String::from_utf8_lossy(&err_reader.join().expect("stderr reader")).into_owned();
    (status.code().unwrap_or(-1), stdout, stderr)
}
