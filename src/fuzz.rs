//! Entry points for fuzzing: each takes arbitrary bytes and must return
//! without panicking, whatever they hold. The fuzz targets in `fuzz/`
//! (cargo-fuzz, run time-boxed in CI by `scripts/fuzz-smoke`) call them, and
//! `tests/integration/fuzz_corpus.rs` replays the committed corpus and every
//! crash ever found through them on stable Rust.
//!
//! What they cover is what stead reads from someone it does not fully
//! trust: playbooks, inventories and templates (their authors make
//! mistakes), and above all what a host prints (a hostile or broken host
//! must not crash the controller or make it misreport).
//!
//! Not part of the public interface.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::Value as Json;

use crate::modules::{registry, Args, ModuleError, TaskContext};
use crate::template::Templates;
use crate::transport::ExecOutput;

/// One template environment for every input (it caches and keeps what it
/// compiles).
fn templates() -> &'static Templates {
    static T: OnceLock<Templates> = OnceLock::new();
    T.get_or_init(Templates::new)
}

/// A private folder for inputs that must be files, made once per process.
fn scratch() -> &'static Path {
    static D: OnceLock<PathBuf> = OnceLock::new();
    D.get_or_init(|| {
        let dir = tempfile::Builder::new().prefix("stead-fuzz-").tempdir().expect("a temporary folder");
        #[allow(deprecated)]
        dir.into_path()
    })
}

fn scratch_file(name: &str, data: &[u8]) -> Option<PathBuf> {
    let path = scratch().join(name);
    std::fs::write(&path, data).ok()?;
    Some(path)
}

/// The YAML loader (playbooks, vars files and YAML inventories all go through it).
pub fn yaml(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = crate::yaml::load_str(text, Path::new("fuzz.yml"));
    }
}

/// A playbook, loaded and validated as `stead validate` does.
pub fn playbook(data: &[u8]) {
    if let Some(path) = scratch_file("site.yml", data) {
        let _ = crate::playbook::load(&path, templates());
    }
}

/// An inventory file: INI when the first byte is even, else YAML.
pub fn inventory(data: &[u8]) {
    let Some((first, rest)) = data.split_first() else { return };
    let name = if first % 2 == 0 { "hosts.ini" } else { "hosts.yaml" };
    if let Some(path) = scratch_file(name, rest) {
        if let Ok(inv) = crate::inventory::Inventory::load(&[path]) {
            let _ = inv.list_json();
            let _ = inv.select("all:!web*:&db");
        }
    }
}

/// A template text, rendered with a few variables (short: a template's
/// author can make it run long on purpose, which is not a crash).
pub fn template(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if text.len() > 512 {
        return;
    }
    let Json::Object(vars) = serde_json::json!({
        "name": "web1", "items": [1, 2, 3], "nested": {"a": {"b": "c"}}, "text": "a b c",
    }) else {
        return;
    };
    let ctx = crate::template::context(&vars);
    let _ = templates().render_str(text, &ctx);
}

/// The modules whose probe and apply output is fed to them, with
/// arguments that prepare: `(module, arguments as JSON)`.
const MODULES: &[(&str, &str)] = &[
    ("copy", r#"{"content": "x\n", "dest": "/etc/motd", "backup": true}"#),
    ("copy", r#"{"src": "/etc/a", "dest": "/etc/b", "remote_src": true}"#),
    ("file", r#"{"path": "/etc/x", "state": "directory", "mode": "0755"}"#),
    ("file", r#"{"path": "/etc/x", "state": "absent"}"#),
    ("file", r#"{"path": "/etc/x", "src": "/etc/y", "state": "link"}"#),
    ("file", r#"{"path": "/etc/x", "state": "touch"}"#),
    ("lineinfile", r#"{"path": "/etc/x", "regexp": "^a=", "line": "a=1", "backup": true}"#),
    ("blockinfile", r#"{"path": "/etc/x", "block": "a\nb"}"#),
    ("replace", r#"{"path": "/etc/x", "regexp": "(a)b", "replace": "\\1c"}"#),
    ("stat", r#"{"path": "/etc/x", "get_mime": true}"#),
    ("find", r#"{"paths": "/etc", "patterns": "*.conf"}"#),
    ("apt", r#"{"name": ["curl", "jq"], "state": "present"}"#),
    ("apt", r#"{"upgrade": "dist"}"#),
    ("package_facts", r#"{}"#),
    ("service_facts", r#"{}"#),
    ("patch_facts", r#"{}"#),
    ("service", r#"{"name": "ssh", "state": "started", "enabled": true}"#),
    ("systemd", r#"{"name": "ssh", "state": "restarted", "daemon_reload": true}"#),
    ("sysctl", r#"{"name": "net.ipv4.ip_forward", "value": "1"}"#),
    ("user", r#"{"name": "app", "groups": ["adm"], "shell": "/bin/sh"}"#),
    ("group", r#"{"name": "app", "gid": 1234}"#),
    ("authorized_key", r#"{"user": "app", "key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ3 u@h"}"#),
    ("cron", r#"{"name": "job", "minute": "5", "job": "true"}"#),
    ("mount", r#"{"path": "/mnt/x", "src": "tmpfs", "fstype": "tmpfs", "state": "mounted"}"#),
    ("hostname", r#"{"name": "web1"}"#),
    ("timezone", r#"{"name": "Europe/Paris"}"#),
    ("modprobe", r#"{"name": "dummy", "state": "present"}"#),
    ("apt_repository", r#"{"repo": "deb http://deb.example/ stable main"}"#),
    ("get_url", r#"{"url": "http://example.test/f", "dest": "/tmp/f"}"#),
    ("uri", r#"{"url": "http://example.test/", "return_content": true}"#),
    ("ini_file", r#"{"path": "/etc/x.ini", "section": "s", "option": "o", "value": "v"}"#),
    ("pam_limits", r#"{"domain": "*", "limit_type": "soft", "limit_item": "nofile", "value": 1024}"#),
    ("sudoers", r#"{"name": "app", "user": "app", "commands": "ALL"}"#),
    ("getent", r#"{"database": "passwd", "key": "root"}"#),
    ("openssl_privatekey", r#"{"path": "/etc/k.pem"}"#),
    ("x509_certificate_info", r#"{"path": "/etc/c.pem"}"#),
    ("iptables", r#"{"chain": "INPUT", "protocol": "tcp", "destination_port": "22", "jump": "ACCEPT"}"#),
    (
        "nftables",
        r#"{"table": "f", "chains": [{"name": "i", "hook": "input", "policy": "drop", "rules": [{"protocol": "tcp", "dport": 22, "action": "accept"}]}]}"#,
    ),
    ("ufw", r#"{"rule": "allow", "port": "22", "proto": "tcp"}"#),
    ("reboot", r#"{}"#),
    ("command", r#"{"cmd": "true"}"#),
];

/// A context that renders nothing and finds no local file.
struct Ctx {
    check: bool,
}

impl TaskContext for Ctx {
    fn check_mode(&self) -> bool {
        self.check
    }
    fn render(&self, source: &str, _name: &str) -> Result<String, ModuleError> {
        Ok(source.to_owned())
    }
    fn eval(&self, _expr: &str) -> Result<Json, ModuleError> {
        Ok(Json::Null)
    }
    fn find_file(&self, name: &str, _subdir: &str) -> Result<PathBuf, ModuleError> {
        Err(ModuleError::LocalFile { path: PathBuf::from(name), message: "not found".into() })
    }
}

/// What a hostile or broken host prints: the first byte picks a module of
/// [`MODULES`] (and check mode), the rest is split at the first NUL into
/// the probe's stdout and the apply script's stdout (its exit status and
/// stderr come from the bytes too). The module parses both.
pub fn host_output(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else { return };
    let (name, args) = MODULES[usize::from(pick) % MODULES.len()];
    let Some(module) = registry::lookup(name) else { return };
    let Ok(Json::Object(args)) = serde_json::from_str::<Json>(args) else { return };
    let ctx = Ctx { check: pick & 0x80 != 0 };
    let Ok(mut action) = module.prepare(&Args::new(module.spec(), args), &ctx) else { return };
    let (probe, apply) = match rest.iter().position(|&b| b == 0) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    let status = |bytes: &[u8]| i32::from(bytes.first().copied().unwrap_or(0) % 4);
    let out = ExecOutput { status: 0, stdout: probe.to_vec(), stderr: Vec::new() };
    let _ = action.probe();
    let _ = action.saw_missing_parent(&out);
    if let Ok(plan) = action.compare(Some(&out)) {
        let _ = plan.diff.as_ref().map(|d| d.unified());
        if plan.apply.is_some() {
            let finished = ExecOutput { status: status(apply), stdout: apply.to_vec(), stderr: apply.to_vec() };
            let _ = action.finish(plan, &finished);
        }
    }
}

/// The parsers of fact-like output that no module's compare calls directly:
/// the first byte picks one.
pub fn parsers(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else { return };
    let text = String::from_utf8_lossy(rest);
    match pick % 6 {
        0 => drop(crate::exec::parse_facts(&text)),
        1 => drop(crate::modules::patch_status::parse(&text, "")),
        2 => drop(crate::modules::service_facts::parse(&text)),
        3 => drop(crate::modules::package_facts::parse(&text, pick & 0x80 != 0)),
        4 => drop(crate::modules::file_state::parse(rest)),
        _ => drop(crate::modules::systemd::parse_show(&text)),
    }
}

/// An entry point: arbitrary bytes in, never a panic.
pub type Target = fn(&[u8]);

/// Every entry point by name, for the corpus replay.
pub const TARGETS: &[(&str, Target)] = &[
    ("yaml", yaml),
    ("playbook", playbook),
    ("inventory", inventory),
    ("template", template),
    ("host_output", host_output),
    ("parsers", parsers),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_module_of_the_table_prepares_with_its_arguments() {
        let mut broken = Vec::new();
        for (name, args) in MODULES {
            let module = registry::lookup(name).unwrap_or_else(|| panic!("{name} is not a module"));
            let Json::Object(map) = serde_json::from_str::<Json>(args).unwrap() else { panic!("{name}") };
            if let Err(e) = module.prepare(&Args::new(module.spec(), map), &Ctx { check: false }) {
                broken.push(format!("{name} {args}: {e:?}"));
            }
        }
        assert!(broken.is_empty(), "{}", broken.join("\n"));
    }
}
