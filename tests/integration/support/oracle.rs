//! Runs a test's `apply`/`plan` with Ansible instead of stead, to check the
//! suite's expectations against the reference implementation.
//!
//! `STEAD_TEST_ORACLE=/path/to/ansible-playbook cargo test --test
//! integration modules` runs the same playbooks, inventories and hosts with
//! `ansible-playbook` (a small JSON callback of its own), maps Ansible's exit status to
//! CONTRACT §2 and its results to a CONTRACT §6 report. Assertions on
//! stead's own text output (diff lines, messages) are expected to differ;
//! host files, change counts and statuses must not.
//!
//! Scenarios that must match Ansible run under both engines in one test
//! (`for engine in oracle::engines()`): CI installs the oracle with
//! `scripts/oracle-setup` and fails a scenario whose oracle is missing.

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{json, Map, Value};

/// The `ansible-playbook` to use instead of stead for the whole suite, if
/// any (`STEAD_TEST_ORACLE`).
pub fn ansible_playbook() -> Option<String> {
    std::env::var("STEAD_TEST_ORACLE").ok().filter(|s| !s.is_empty())
}

/// The pinned ansible-playbook that `scripts/oracle-setup` installs, or the
/// one `STEAD_TEST_ORACLE` names.
pub fn installed() -> Option<String> {
    if let Some(bin) = ansible_playbook() {
        return Some(bin);
    }
    let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/oracle/bin/ansible-playbook");
    bin.is_file().then(|| bin.display().to_string())
}

/// The engines a scenario runs with: stead, then ansible-playbook when it
/// is installed. Under CI a missing oracle is a failure, not a skip.
pub fn engines() -> Vec<Engine> {
    let mut out = vec![Engine::Stead];
    match installed() {
        Some(bin) => out.push(Engine::Ansible(bin)),
        None if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("the Ansible oracle is missing under CI: run scripts/oracle-setup first")
        }
        None => eprintln!("note: oracle not installed (scripts/oracle-setup); running with stead only"),
    }
    out
}

/// Which program runs a test's playbooks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Engine {
    /// The stead binary under test.
    Stead,
    /// ansible-playbook at this path.
    Ansible(String),
}

impl Engine {
    /// A short name for assertion messages.
    pub fn name(&self) -> &'static str {
        match self {
            Engine::Stead => "stead",
            Engine::Ansible(_) => "ansible-playbook",
        }
    }
}

/// Runs stead-style `args` (`apply`/`plan`) with Ansible in `project`,
/// writes a CONTRACT §6 report to `report`, returns (status, stdout, stderr).
pub fn run(
    playbook_bin: &str,
    project: &Path,
    args: &[String],
    env: &[(String, String)],
    report: &Path,
) -> (i32, String, String) {
    let mut ansible = vec![];
    let mut check = args[0] == "plan";
    let mut diff = args[0] == "plan";
    let mut detailed = false;
    let mut it = args[1..].iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--check" | "-C" => check = true,
            "--diff" | "-D" => diff = true,
            "--detailed-exitcode" => detailed = true,
            "--output" | "--report" => {
                it.next();
            }
            "-l" | "--limit" | "-f" | "--forks" | "-i" | "--inventory" | "-e" => {
                ansible.push(a.clone());
                ansible.push(it.next().cloned().unwrap_or_default());
            }
            _ => ansible.push(a.clone()),
        }
    }
    if check {
        ansible.push("--check".into());
    }
    if diff {
        ansible.push("--diff".into());
    }
    let out = Command::new(playbook_bin)
        .args(&ansible)
        .current_dir(project)
        .env("ANSIBLE_STDOUT_CALLBACK", "steadjson")
        .env("ANSIBLE_CALLBACK_PLUGINS", write_callback(report))
        .env("ANSIBLE_HOST_KEY_CHECKING", "True")
        .env("ANSIBLE_PYTHON_INTERPRETER", "/usr/bin/python3")
        .env("ANSIBLE_NOCOLOR", "1")
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .output()
        .expect("run ansible-playbook");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    // community.crypto results hold RSA moduli, integers too large for
    // serde_json's f64: read them as strings.
    let huge = regex::Regex::new(r"([:\[,]\s*)(-?\d{300,})").unwrap();
    let parseable = huge.replace_all(&stdout, "$1\"$2\"");
    let Ok(result) = serde_json::from_str::<Value>(&parseable) else {
        // No JSON: Ansible stopped before running (a parse error).
        return (1, stdout, stderr);
    };
    let mut hosts = Map::new();
    let mut changed_any = false;
    for play in result["plays"].as_array().into_iter().flatten() {
        let play_name = play["play"]["name"].clone();
        for task in play["tasks"].as_array().into_iter().flatten() {
            for (host, r) in task["hosts"].as_object().into_iter().flatten() {
                let status = if r["unreachable"] == true {
                    None
                } else if r["failed"] == true {
                    Some("failed")
                } else if r["skipped"] == true {
                    Some("skipped")
                } else if r["changed"] == true {
                    Some("changed")
                } else {
                    Some("ok")
                };
                let entry = hosts.entry(host.clone()).or_insert_with(|| json!({"unreachable": false, "tasks": []}));
                let Some(status) = status else {
                    entry["unreachable"] = json!(true);
                    continue;
                };
                entry["tasks"].as_array_mut().unwrap().push(json!({
                    "play": play_name,
                    "task": task["task"]["name"],
                    "module": r["action"].as_str().map(|a| a.trim_start_matches("ansible.builtin.")),
                    "status": status,
                    "diff": r.get("diff").cloned().unwrap_or(Value::Null).to_string(),
                    "msg": r.get("msg").cloned().unwrap_or(Value::Null),
                    "duration_ms": 0,
                }));
            }
        }
    }
    let mut summary = json!({"hosts": 0, "ok": 0, "changed": 0, "failed": 0, "skipped": 0, "unreachable": 0, "rescued": 0, "ignored": 0});
    let (mut failed_any, mut unreachable_any) = (false, false);
    for (host, s) in result["stats"].as_object().into_iter().flatten() {
        let entry = hosts.entry(host.clone()).or_insert_with(|| json!({"unreachable": false, "tasks": []}));
        for (ours, theirs) in [
            ("ok", "ok"),
            ("changed", "changed"),
            ("failed", "failures"),
            ("skipped", "skipped"),
            ("rescued", "rescued"),
            ("ignored", "ignored"),
        ] {
            let n = s[theirs].as_u64().unwrap_or(0);
            entry[ours] = json!(n);
            summary[ours] = json!(summary[ours].as_u64().unwrap() + n);
        }
        if s["unreachable"].as_u64().unwrap_or(0) > 0 {
            entry["unreachable"] = json!(true);
            unreachable_any = true;
            summary["unreachable"] = json!(summary["unreachable"].as_u64().unwrap() + 1);
        }
        failed_any |= s["failures"].as_u64().unwrap_or(0) > 0;
        changed_any |= s["changed"].as_u64().unwrap_or(0) > 0;
        summary["hosts"] = json!(summary["hosts"].as_u64().unwrap() + 1);
    }
    let report_json = json!({
        "version": 1,
        "stead_version": env!("CARGO_PKG_VERSION"),
        "started_at": "1970-01-01T00:00:00Z",
        "duration_ms": 0,
        "check_mode": check,
        "playbooks": ansible.iter().filter(|a| a.ends_with(".yml")).collect::<Vec<_>>(),
        "summary": summary,
        "hosts": hosts,
    });
    std::fs::write(report, serde_json::to_string_pretty(&report_json).unwrap()).unwrap();
    let mut status = 0;
    if detailed && changed_any {
        status |= 2;
    }
    if failed_any {
        status |= 4;
    }
    if unreachable_any {
        status |= 8;
    }
    (status, stdout, stderr)
}

/// A stdout callback printing plays, per-host results and stats as JSON
/// (the `json` callback lives in a collection that may not be installed).
const CALLBACK: &str = r#"
import json
from ansible.plugins.callback import CallbackBase

class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'stdout'
    CALLBACK_NAME = 'steadjson'

    def __init__(self):
        super().__init__()
        self.plays = []

    def v2_playbook_on_play_start(self, play):
        self.plays.append({'play': {'name': play.get_name()}, 'tasks': []})

    def _start(self, task):
        # stead's report names a role's task without Ansible's "role : " prefix.
        name = task.get_name()
        if task._role and task.name:
            name = name.split(' : ', 1)[-1]
        self.plays[-1]['tasks'].append({'task': {'name': name}, 'hosts': {}})

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._start(task)

    def v2_playbook_on_handler_task_start(self, task):
        self._start(task)

    def _record(self, result, **extra):
        r = dict(result._result)
        r.update(extra)
        r['action'] = result._task.action
        self.plays[-1]['tasks'][-1]['hosts'][result._host.get_name()] = r

    def v2_runner_on_ok(self, result, **kwargs):
        self._record(result)

    def v2_runner_on_failed(self, result, ignore_errors=False, **kwargs):
        self._record(result, failed=True)

    def v2_runner_on_skipped(self, result, **kwargs):
        self._record(result, skipped=True)

    def v2_runner_on_unreachable(self, result, **kwargs):
        self._record(result, unreachable=True)

    def v2_playbook_on_stats(self, stats):
        hosts = sorted(stats.processed.keys())
        out = {'plays': self.plays, 'stats': {h: stats.summarize(h) for h in hosts}}
        print(json.dumps(out, default=str))
"#;

/// Writes the callback plugin beside the report; returns its directory.
fn write_callback(report: &Path) -> std::path::PathBuf {
    let dir = report.with_extension("callback");
    std::fs::create_dir_all(&dir).expect("create the callback directory");
    std::fs::write(dir.join("steadjson.py"), CALLBACK).expect("write the callback");
    dir
}
