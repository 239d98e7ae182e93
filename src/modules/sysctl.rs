//! `sysctl`: a kernel setting in a sysctl file and, optionally, live, as
//! `ansible.posix.sysctl`, rule for rule.
//!
//! One probe reads the live value (`sysctl -e -n`) and the file. The pure
//! part ([`fix_lines`], [`decide`]) follows Ansible's algorithm: the file is
//! rewritten (every `key=value` line normalised, later duplicates dropped)
//! when the key's value in it differs, and a change reloads the file with
//! `sysctl -p`; `sysctl_set` also writes the live value with `sysctl -w`.
//! Values compare word by word, so `32768 60999` equals `32768\t60999`.
//!
//! The file is replaced atomically, and only if it is still what the probe
//! read (see [`super::file_write`]). This module never builds a shell string
//! by hand: every value goes through [`crate::transport::quote::quote`].

use super::file_state::{self, content_diff, sha256_hex, AttrChanges, FileState, Probe};
use super::file_write::WriteFile;
use super::{
    Action, ApplyScript, ArgKind, ArgSpec, Args, Diff, Module, ModuleError, ModuleSpec, Plan, ResultMap, TaskContext,
};
use crate::transport::quote::quote;
use crate::transport::ExecOutput;

/// The `sysctl` module.
pub struct Sysctl;

/// Ansible's default file.
const DEFAULT_FILE: &str = "/etc/sysctl.conf";

/// First line of the probe's live-value section.
const MARKER: &str = "stead-sysctl";

/// Exit status of the apply script when `sysctl -w` failed.
const SET_FAILED: i32 = 3;
/// Exit status of the apply script when `sysctl -p` failed.
const RELOAD_FAILED: i32 = 4;

static SPEC: ModuleSpec = ModuleSpec::new(&[
    ArgSpec::new("name", ArgKind::Str).required().aliases(&["key"]),
    ArgSpec::new("value", ArgKind::Str).aliases(&["val"]),
    ArgSpec::new("state", ArgKind::Str).choices(&["present", "absent"]),
    ArgSpec::new("reload", ArgKind::Bool),
    ArgSpec::new("sysctl_set", ArgKind::Bool),
    ArgSpec::new("ignoreerrors", ArgKind::Bool),
    ArgSpec::new("sysctl_file", ArgKind::Str),
]);

impl Module for Sysctl {
    fn name(&self) -> &'static str {
        "sysctl"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: &Args, _ctx: &dyn TaskContext) -> Result<Box<dyn Action>, ModuleError> {
        let name = args.str("name")?.trim().to_owned();
        let present = args.choice_or("state", &["present", "absent"], "present")? == "present";
        if name.is_empty() {
            return Err(ModuleError::failed("name cannot be blank"));
        }
        let value = args.opt_str("value")?.map(|v| parse_value(&v));
        if present {
            match &value {
                None => return Err(ModuleError::failed("value cannot be None")),
                Some(v) if v.is_empty() => return Err(ModuleError::failed("value cannot be blank")),
                Some(_) => {}
            }
        }
        Ok(Box::new(SysctlAction {
            name,
            value: value.unwrap_or_default(),
            present,
            reload: args.bool_or("reload", true)?,
            set_live: args.bool_or("sysctl_set", false)?,
            ignore_errors: args.bool_or("ignoreerrors", false)?,
            file: args.opt_str("sysctl_file")?.unwrap_or_else(|| DEFAULT_FILE.to_owned()),
        }))
    }
}

/// Ansible's `_parse_value`: boolean spellings become `1`/`0`, anything else
/// is trimmed.
pub fn parse_value(value: &str) -> String {
    match value.to_ascii_lowercase().as_str() {
        "y" | "yes" | "on" | "1" | "true" | "t" => "1".into(),
        "n" | "no" | "off" | "0" | "false" | "f" => "0".into(),
        _ => value.trim().to_owned(),
    }
}

/// Whether two values are equal word by word (Ansible's `_values_is_equal`).
pub fn values_equal(a: &str, b: &str) -> bool {
    a.split_whitespace().eq(b.split_whitespace())
}

fn is_setting(line: &str) -> bool {
    let line = line.trim();
    !line.is_empty() && !line.starts_with(['#', ';']) && line.contains('=')
}

fn split_setting(line: &str) -> (String, String) {
    let (k, v) = line.trim().split_once('=').unwrap_or((line, ""));
    (k.trim().to_owned(), v.trim().to_owned())
}

/// The value the file gives `name` (its last setting), if any.
pub fn file_value(content: &str, name: &str) -> Option<String> {
    content.lines().filter(|l| is_setting(l)).map(split_setting).filter(|(k, _)| k == name).map(|(_, v)| v).next_back()
}

/// Ansible's `fix_lines` and `write_sysctl`: every line trimmed, settings
/// written `key=value`, a key's later settings dropped; `name` set to `value`
/// (or removed when `value` is `None`), appended when missing.
pub fn fix_lines(content: &str, name: &str, value: Option<&str>) -> String {
    let mut seen: Vec<String> = Vec::new();
    let mut out = String::new();
    for line in content.lines() {
        if !is_setting(line) {
            out.push_str(line.trim());
            out.push('\n');
            continue;
        }
        let (k, v) = split_setting(line);
        if seen.contains(&k) {
            continue;
        }
        seen.push(k.clone());
        if k == name {
            if let Some(value) = value {
                out.push_str(&format!("{k}={value}\n"));
            }
        } else {
            out.push_str(&format!("{k}={v}\n"));
        }
    }
    if let (Some(value), false) = (value, seen.iter().any(|k| k == name)) {
        out.push_str(&format!("{name}={value}\n"));
    }
    out
}

/// What a task has to do, decided from the probed values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Decision {
    /// Whether the task reports a change.
    pub changed: bool,
    /// Whether the file is rewritten.
    pub write_file: bool,
    /// Whether `sysctl -w` sets the live value.
    pub set_live: bool,
    /// Whether `sysctl -p` reloads the file.
    pub reload: bool,
}

/// Ansible's `process`: `file` and `live` are the key's current values in
/// the file and the kernel (`None`: absent, or unreadable).
pub fn decide(
    file: Option<&str>,
    live: Option<&str>,
    value: &str,
    present: bool,
    reload: bool,
    sysctl_set: bool,
) -> Decision {
    let mut d = Decision::default();
    match file {
        None if present => (d.changed, d.write_file) = (true, true),
        None => {}
        Some(f) if !present => (d.changed, d.write_file) = (!f.is_empty(), !f.is_empty()),
        Some(f) if f != value => (d.changed, d.write_file) = (true, true),
        Some(_) => d.changed = reload && !live.is_some_and(|l| values_equal(l, value)),
    }
    if sysctl_set && present {
        match live {
            None => d.changed = true,
            Some(l) if !values_equal(l, value) => (d.changed, d.set_live) = (true, true),
            Some(_) => {}
        }
    }
    d.reload = d.changed && reload;
    d
}

/// One `sysctl` task on one host.
#[derive(Debug)]
pub struct SysctlAction {
    name: String,
    value: String,
    present: bool,
    reload: bool,
    set_live: bool,
    ignore_errors: bool,
    file: String,
}

impl SysctlAction {
    fn flags(&self) -> &'static str {
        if self.ignore_errors {
            "-e "
        } else {
            ""
        }
    }

    /// Runs a sysctl command, failing with `code` when it fails or prints
    /// one of the errors Ansible treats as failures despite exit 0.
    fn sysctl_step(&self, args: &str, code: i32) -> String {
        format!(
            "err=$(sysctl {}{args} 2>&1 >/dev/null) && rc=0 || rc=$?\n\
             [ -z \"$err\" ] || printf '%s\\n' \"$err\" >&2\n\
             [ \"$rc\" -eq 0 ] || exit {code}\n\
             case $err in *'sysctl: setting key \"'*'\": Invalid argument'* | \
             *'sysctl: setting key \"'*'\": Read-only file system'*) exit {code} ;; esac\n",
            self.flags()
        )
    }

    fn apply_script(&self, d: Decision, write: Option<ApplyScript>) -> ApplyScript {
        let mut script = String::from("LC_ALL=C\nexport LC_ALL\n");
        let mut stdin = Vec::new();
        if let Some(w) = write {
            script.push_str(&w.as_step());
            stdin = w.stdin;
        }
        if d.set_live {
            let setting = format!("{}={}", self.name, self.value);
            script.push_str(&self.sysctl_step(&format!("-w -- {}", quote(&setting)), SET_FAILED));
        }
        if d.reload {
            script.push_str(&self.sysctl_step(&format!("-p -- {}", quote(&self.file)), RELOAD_FAILED));
        }
        ApplyScript { script, stdin }
    }
}

/// Parses the live-value section at the start of the probe's output;
/// returns the value (`None` when sysctl failed) and the rest.
fn parse_live(stdout: &[u8]) -> Result<(Option<String>, &[u8]), ModuleError> {
    let bad = || ModuleError::Probe("bad sysctl section".into());
    let end = stdout.iter().position(|&b| b == b'\n').ok_or_else(bad)?;
    let header = std::str::from_utf8(&stdout[..end]).map_err(|_| bad())?;
    let mut fields = header.split(' ');
    if fields.next() != Some(MARKER) {
        return Err(bad());
    }
    match fields.next() {
        Some("missing") => Err(ModuleError::failed("Failed to find required executable \"sysctl\" in paths")),
        Some(rc) => {
            let len: usize = fields.next().and_then(|n| n.parse().ok()).ok_or_else(bad)?;
            let rest = &stdout[end + 1..];
            if rest.len() < len + 1 {
                return Err(bad());
            }
            let value = String::from_utf8_lossy(&rest[..len]).into_owned();
            Ok(((rc == "0").then_some(value), &rest[len + 1..]))
        }
        None => Err(bad()),
    }
}

impl Action for SysctlAction {
    fn paths(&self) -> Option<Vec<String>> {
        Some(vec![self.file.clone(), format!("/proc/sys/{}", self.name.replace('.', "/"))])
    }

    fn probe(&self) -> Option<String> {
        let mut s = format!(
            "if command -v sysctl >/dev/null 2>&1; then\n  \
             v=$(LC_ALL=C sysctl -e -n -- {} 2>/dev/null) && rc=0 || rc=$?\n  \
             LC_ALL=C; printf '{MARKER} %s %s\\n%s\\n' \"$rc\" \"${{#v}}\" \"$v\"\n\
             else printf '{MARKER} missing\\n'; exit 0; fi\n",
            quote(&self.name)
        );
        s.push_str(&Probe::new(&self.file).script());
        Some(s)
    }

    fn compare(&mut self, probe: Option<&ExecOutput>) -> Result<Plan, ModuleError> {
        let out = probe.ok_or_else(|| ModuleError::Probe("the sysctl probe did not run".into()))?;
        if out.status != 0 {
            return Err(ModuleError::failed(format!("cannot read {}: {}", self.file, out.stderr_text().trim())));
        }
        let (live, rest) = parse_live(&out.stdout)?;
        let st: FileState = file_state::parse(rest)?;
        let content = if st.exists && st.kind == file_state::FileKind::File {
            let bytes = st.content.clone().ok_or_else(|| {
                ModuleError::failed(format!("{} is too large or unreadable; stead does not edit it", self.file))
            })?;
            Some(String::from_utf8_lossy(&bytes).into_owned())
        } else {
            None
        };
        let text = content.as_deref().unwrap_or("");
        let current = file_value(text, &self.name);
        let d = decide(current.as_deref(), live.as_deref(), &self.value, self.present, self.reload, self.set_live);

        let mut diffs = Vec::new();
        let write = if d.write_file {
            let new = fix_lines(text, &self.name, self.present.then_some(self.value.as_str()));
            let write = WriteFile::edit(&self.file, new.as_bytes(), &st).apply();
            diffs.push(content_diff(
                &self.file,
                &st,
                new.as_bytes(),
                &sha256_hex(new.as_bytes()),
                &AttrChanges::default(),
            ));
            Some(write)
        } else {
            None
        };
        // The file's diff says it all when the file changes; otherwise the
        // live value's.
        let live_after = self.present && (d.set_live || d.reload);
        if diffs.is_empty() && live_after && !live.as_deref().is_some_and(|l| values_equal(l, &self.value)) {
            let before = live.clone().unwrap_or_default().split_whitespace().collect::<Vec<_>>().join(" ");
            diffs.push(Diff::state(
                &format!("sysctl {}", self.name),
                &[("value", before)],
                &[("value", self.value.clone())],
            ));
        }
        let mut plan = if d.changed { Plan::change(self.apply_script(d, write)) } else { Plan::ok() };
        plan.diff = diffs.into_iter().next();
        plan.result = ResultMap::new();
        plan.result.insert("changed".into(), d.changed.into());
        Ok(plan)
    }

    fn finish(&mut self, plan: Plan, out: &ExecOutput) -> Result<Plan, ModuleError> {
        let err = out.stderr_text();
        let msg = match out.status {
            0 => return Ok(plan),
            SET_FAILED => format!("setting {} failed: {}", self.name, err.trim()),
            RELOAD_FAILED => format!("Failed to reload sysctl: {}", err.trim()),
            _ => format!("Failed to write {}: {}", self.file, err.trim()),
        };
        let mut result = plan.result;
        result.insert("rc".into(), out.status.into());
        Err(ModuleError::Failed { msg, result })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::file_write::testing::{run, FakeCtx};
    use serde_json::{json, Value};

    #[test]
    fn values_parse_and_compare_as_in_ansible() {
        assert_eq!(parse_value("yes"), "1");
        assert_eq!(parse_value("False"), "0");
        assert_eq!(parse_value(" 32768 60999 "), "32768 60999");
        assert!(values_equal("32768\t60999\n", "32768 60999"));
        assert!(!values_equal("1", "1 2"));
    }

    #[test]
    fn fix_lines_normalises_replaces_and_appends() {
        let text = "# comment\n net.a = 1\nnet.b=2\nnet.a=3\n\n; other\n";
        assert_eq!(file_value(text, "net.a").as_deref(), Some("3"));
        assert_eq!(fix_lines(text, "net.a", Some("9")), "# comment\nnet.a=9\nnet.b=2\n\n; other\n");
        assert_eq!(fix_lines(text, "net.a", None), "# comment\nnet.b=2\n\n; other\n");
        assert_eq!(fix_lines("net.b=2", "net.c", Some("1")), "net.b=2\nnet.c=1\n");
    }

    #[test]
    fn decisions_follow_ansibles_process() {
        // Missing from the file: written and reloaded.
        let d = decide(None, Some("0"), "1", true, true, false);
        assert_eq!(d, Decision { changed: true, write_file: true, set_live: false, reload: true });
        // In the file, but the kernel differs: reload only.
        let d = decide(Some("1"), Some("0"), "1", true, true, false);
        assert_eq!(d, Decision { changed: true, write_file: false, set_live: false, reload: true });
        // Converged.
        assert_eq!(decide(Some("1"), Some("1"), "1", true, true, false), Decision::default());
        // Without reload, the kernel is only looked at with sysctl_set.
        assert_eq!(decide(Some("1"), Some("0"), "1", true, false, false), Decision::default());
        let d = decide(Some("1"), Some("0"), "1", true, false, true);
        assert_eq!(d, Decision { changed: true, write_file: false, set_live: true, reload: false });
        // Absent: removed from the file; already absent: nothing.
        let d = decide(Some("1"), Some("1"), "", false, true, false);
        assert!(d.changed && d.write_file && d.reload);
        assert_eq!(decide(None, Some("1"), "", false, true, true), Decision::default());
    }

    fn prepare(v: Value) -> Result<Box<dyn Action>, ModuleError> {
        Sysctl.prepare(&Args::new(&SPEC, v.as_object().unwrap().clone()), &FakeCtx::default())
    }

    #[test]
    fn present_needs_a_value() {
        let e = prepare(json!({"name": "net.x"})).err().unwrap().to_string();
        assert_eq!(e, "value cannot be None");
        assert!(prepare(json!({"name": "net.x", "state": "absent"})).is_ok());
    }

    #[test]
    fn real_probe_and_edit_of_a_file_with_hostile_name() {
        let ctx = FakeCtx::default();
        let file = ctx.root().join("sysctl $(x) 'q'.conf");
        std::fs::write(&file, "# keep\nnet.core.somaxconn = 128\n").unwrap();
        // reload off: the test must not touch this machine's kernel.
        let mut a = prepare(json!({
            "name": "net.core.somaxconn", "value": "4096", "reload": false,
            "sysctl_file": file.to_str().unwrap(),
        }))
        .unwrap();
        let out = run(&a.probe().unwrap(), b"");
        assert_eq!(out.status, 0, "{}", out.stderr_text());
        let plan = a.compare(Some(&out)).unwrap();
        assert!(plan.changed);
        let diff = plan.diff.clone().unwrap().unified();
        assert!(diff.contains("-net.core.somaxconn = 128\n+net.core.somaxconn=4096\n"), "{diff}");
        let apply = plan.apply.clone().unwrap();
        assert!(!apply.script.contains("sysctl -p") && !apply.script.contains("-w"), "{}", apply.script);
        let res = run(&apply.script, &apply.stdin);
        a.finish(plan, &res).unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "# keep\nnet.core.somaxconn=4096\n");
        let again = a.compare(Some(&run(&a.probe().unwrap(), b""))).unwrap();
        assert!(!again.changed);
    }
}
