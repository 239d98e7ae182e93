//! `deb822_repository`: an apt source in deb822 format,
//! `/etc/apt/sources.list.d/<slug>.sources`, written byte for byte as
//! `ansible.builtin.deb822_repository` writes it: one field per argument
//! given, in the order of the arguments' names, booleans as `yes`/`no`,
//! lists joined by spaces, multi-line values (an inline `signed_by` key)
//! indented with `.` for blank lines.
//!
//! One probe reads the file (and, for `signed_by`, whether the value names
//! a file on the host, which Ansible then writes as a path). The pure part
//! ([`slug`], [`render`]) builds the content; a change is an atomic write
//! (see [`super::file_write`]), and the mode (default `0644`) is set as
//! Ansible's `set_mode_if_different` does. A `signed_by` URL would need a
//! download on the host: it is refused. This module never builds a shell
//! string by hand: every value goes through
//! [`crate::transport::quote::quote`].

use super::file_state::{self, content_diff, sha256_hex, AttrChanges, Attrs, FileKind, FileState, Probe};
use super::file_write::{Expect, WriteFile};
use super::mode::Mode;
use super::{
    Action, ApplyScript, ArgKind, ArgSpec, Args, Diff, Module, ModuleError, ModuleSpec, Plan, ResultMap, TaskContext,
};
use crate::transport::quote::quote;
use crate::transport::ExecOutput;

/// The `deb822_repository` module.
pub struct Deb822Repository;

const MARKER: &str = "stead-deb822";
const KEYRINGS: &str = "/etc/apt/keyrings";

/// The deb822 arguments, sorted by name as Ansible emits them, with their kind.
const FIELDS: &[(&str, ArgKind)] = &[
    ("allow_downgrade_to_insecure", ArgKind::Bool),
    ("allow_insecure", ArgKind::Bool),
    ("allow_weak", ArgKind::Bool),
    ("architectures", ArgKind::List),
    ("by_hash", ArgKind::Bool),
    ("check_date", ArgKind::Bool),
    ("check_valid_until", ArgKind::Bool),
    ("components", ArgKind::List),
    ("date_max_future", ArgKind::Int),
    ("enabled", ArgKind::Bool),
    ("inrelease_path", ArgKind::Str),
    ("languages", ArgKind::List),
    ("name", ArgKind::Str),
    ("pdiffs", ArgKind::Bool),
    ("signed_by", ArgKind::Str),
    ("suites", ArgKind::List),
    ("targets", ArgKind::List),
    ("trusted", ArgKind::Bool),
    ("types", ArgKind::List),
    ("uris", ArgKind::List),
];

static SPEC: ModuleSpec = ModuleSpec::new(&[
    ArgSpec::new("allow_downgrade_to_insecure", ArgKind::Bool),
    ArgSpec::new("allow_insecure", ArgKind::Bool),
    ArgSpec::new("allow_weak", ArgKind::Bool),
    ArgSpec::new("architectures", ArgKind::List),
    ArgSpec::new("by_hash", ArgKind::Bool),
    ArgSpec::new("check_date", ArgKind::Bool),
    ArgSpec::new("check_valid_until", ArgKind::Bool),
    ArgSpec::new("components", ArgKind::List),
    ArgSpec::new("date_max_future", ArgKind::Int),
    ArgSpec::new("enabled", ArgKind::Bool),
    ArgSpec::new("inrelease_path", ArgKind::Str),
    ArgSpec::new("languages", ArgKind::List),
    ArgSpec::new("name", ArgKind::Str).required(),
    ArgSpec::new("pdiffs", ArgKind::Bool),
    ArgSpec::new("signed_by", ArgKind::Str),
    ArgSpec::new("suites", ArgKind::List),
    ArgSpec::new("targets", ArgKind::List),
    ArgSpec::new("trusted", ArgKind::Bool),
    ArgSpec::new("types", ArgKind::List),
    ArgSpec::new("uris", ArgKind::List),
    ArgSpec::new("mode", ArgKind::Mode),
    ArgSpec::new("state", ArgKind::Str).choices(&["present", "absent"]),
]);

impl Module for Deb822Repository {
    fn name(&self) -> &'static str {
        "deb822_repository"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: &Args, _ctx: &dyn TaskContext) -> Result<Box<dyn Action>, ModuleError> {
        let name = args.str("name")?;
        let present = args.choice_or("state", &["present", "absent"], "present")? == "present";
        let mut fields = Vec::new();
        for (key, kind) in FIELDS {
            let value = match (kind, args.get(key)) {
                (_, None | Some(serde_json::Value::Null)) if *key == "types" => Some("deb".to_owned()),
                (_, None | Some(serde_json::Value::Null)) => None,
                (ArgKind::Bool, Some(_)) => Some(if args.bool_or(key, false)? { "yes" } else { "no" }.to_owned()),
                (ArgKind::Int, Some(_)) => args.opt_int(key)?.map(|i| i.to_string()),
                (ArgKind::List, Some(_)) => {
                    let items = args.str_list(key)?;
                    if *key == "types" {
                        if let Some(bad) = items.iter().find(|t| !matches!(t.as_str(), "deb" | "deb-src")) {
                            return Err(ModuleError::Arg {
                                arg: "types".into(),
                                message: format!("must be one of deb, deb-src, not `{bad}`"),
                            });
                        }
                    }
                    Some(items.join(" "))
                }
                (_, Some(_)) => args.opt_str(key)?,
            };
            if let Some(v) = value {
                fields.push((*key, v));
            }
        }
        let signed_by = args.opt_str("signed_by")?;
        Ok(Box::new(Deb822Action {
            slug: slug(&name),
            present,
            fields,
            signed_by,
            mode: args.opt_mode("mode")?.unwrap_or(Mode::Octal(0o644)),
            probed_signed_file: false,
        }))
    }
}

/// Whether Python's `urlparse` sees a scheme (`https:`, `file:`) in `v`.
pub fn has_url_scheme(v: &str) -> bool {
    match v.find(':') {
        Some(i) if i > 0 => {
            let head = &v[..i];
            head.starts_with(|c: char| c.is_ascii_alphabetic())
                && head.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        }
        _ => false,
    }
}

/// Ansible's slug of the name: lower case, runs of `_` and spaces made
/// one `-`, anything but `a-z0-9-` dropped.
pub fn slug(name: &str) -> String {
    let lower = name.to_lowercase();
    let mut dashed = String::new();
    let mut in_run = false;
    for c in lower.chars() {
        if c == '_' || c.is_whitespace() {
            if !in_run {
                dashed.push('-');
            }
            in_run = true;
        } else {
            dashed.push(c);
            in_run = false;
        }
    }
    dashed.chars().filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-').collect()
}

/// Ansible's field name of an argument.
pub fn field_name(key: &str) -> String {
    match key {
        "name" => "X-Repolib-Name".into(),
        "uris" => "URIs".into(),
        _ => key
            .split('_')
            .map(|w| {
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_ascii_uppercase().to_string() + &c.as_str().to_ascii_lowercase())
                    .unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join("-"),
    }
}

/// Ansible's `format_multiline`: a newline, then every line stripped
/// (blank ones as `.`) and indented by four spaces.
pub fn multiline(v: &str) -> String {
    let lines: Vec<String> =
        v.trim().lines().map(|l| format!("    {}", if l.trim().is_empty() { "." } else { l.trim() })).collect();
    format!("\n{}", lines.join("\n"))
}

/// The file Ansible's `Deb822.dump` writes for these fields.
pub fn render(fields: &[(&str, String)]) -> String {
    let mut out = String::new();
    for (key, value) in fields {
        let value = if value.contains('\n') { multiline(value) } else { value.clone() };
        let name = field_name(key);
        if value.is_empty() || value.starts_with('\n') {
            out.push_str(&format!("{name}:{value}\n"));
        } else {
            out.push_str(&format!("{name}: {value}\n"));
        }
    }
    out
}

/// One `deb822_repository` task on one host.
#[derive(Debug)]
pub struct Deb822Action {
    slug: String,
    present: bool,
    fields: Vec<(&'static str, String)>,
    signed_by: Option<String>,
    mode: Mode,
    probed_signed_file: bool,
}

impl Deb822Action {
    fn dest(&self) -> String {
        format!("/etc/apt/sources.list.d/{}.sources", self.slug)
    }

    fn key_file(&self, ext: &str) -> String {
        format!("{KEYRINGS}/{}.{ext}", self.slug)
    }
}

impl Action for Deb822Action {
    fn paths(&self) -> Option<Vec<String>> {
        Some(vec![self.dest(), KEYRINGS.into()])
    }

    fn probe(&self) -> Option<String> {
        let test = |p: &str| format!("if [ -f {} ]; then printf ' 1'; else printf ' 0'; fi\n", quote(p));
        let mut s = format!("printf '{MARKER}'\n");
        s.push_str(&test(self.signed_by.as_deref().unwrap_or("")));
        s.push_str(&test(&self.key_file("asc")));
        s.push_str(&test(&self.key_file("gpg")));
        s.push_str("printf '\\n'\n");
        s.push_str(&Probe::new(&self.dest()).follow(false).script());
        Some(s)
    }

    fn compare(&mut self, probe: Option<&ExecOutput>) -> Result<Plan, ModuleError> {
        let out = probe.ok_or_else(|| ModuleError::Probe("the deb822 probe did not run".into()))?;
        if out.status != 0 {
            return Err(ModuleError::failed(format!("cannot read {}: {}", self.dest(), out.stderr_text().trim())));
        }
        let end = out.stdout.iter().position(|&b| b == b'\n').ok_or_else(|| ModuleError::Probe("no header".into()))?;
        let header = String::from_utf8_lossy(&out.stdout[..end]).into_owned();
        let flags: Vec<bool> = header
            .strip_prefix(MARKER)
            .ok_or_else(|| ModuleError::Probe("bad header".into()))?
            .split_whitespace()
            .map(|f| f == "1")
            .collect();
        let [signed_file, asc, gpg] = flags[..] else { return Err(ModuleError::Probe("bad header".into())) };
        self.probed_signed_file = signed_file;
        let st: FileState = file_state::parse(&out.stdout[end + 1..])?;
        let dest = self.dest();
        let mut result = ResultMap::new();
        result.insert("dest".into(), dest.clone().into());

        if !self.present {
            let mut script = String::new();
            let mut diffs_before = String::new();
            if st.exists || st.is_link() {
                script.push_str(&format!("rm -f -- {}\n", quote(&dest)));
                diffs_before.push_str(&String::from_utf8_lossy(st.content.as_deref().unwrap_or_default()));
            }
            for (ext, there) in [("asc", asc), ("gpg", gpg)] {
                if there {
                    script.push_str(&format!("rm -f -- {}\n", quote(&self.key_file(ext))));
                }
            }
            result.insert("repo".into(), serde_json::Value::Null);
            result.insert("key_filename".into(), self.key_file("gpg").into());
            let mut plan = if script.is_empty() {
                Plan::ok()
            } else {
                Plan::change(ApplyScript { script, stdin: Vec::new() }).with_diff(Some(Diff::file(
                    &dest,
                    &diffs_before,
                    "",
                )))
            };
            result.insert("changed".into(), plan.changed.into());
            plan.result = result;
            return Ok(plan);
        }

        let mut fields = self.fields.clone();
        let mut key_filename = serde_json::Value::Null;
        if let Some(v) = &self.signed_by {
            if signed_file {
                key_filename = v.clone().into();
            } else if has_url_scheme(v) {
                return Err(ModuleError::failed(format!(
                    "Could not fetch signed_by key: stead does not download keys (`{v}`); \
                     give the key's text or a path on the host"
                )));
            }
            // Either way the field holds the value as given.
            if let Some(f) = fields.iter_mut().find(|(k, _)| *k == "signed_by") {
                f.1 = v.clone();
            }
        }
        let content = render(&fields);
        let sum = sha256_hex(content.as_bytes());
        let is_file = st.exists && st.kind == FileKind::File && !st.is_link();
        let same = is_file && st.sha256.as_deref() == Some(sum.as_str());
        let attrs = Attrs { mode: Some(self.mode.clone()), mode_text: None, owner: None, group: None };
        let mode_change = if is_file { attrs.changes(&st) } else { file_state::new_path_attrs(&attrs, false) };
        let mut plan = if !same {
            let write = WriteFile {
                dest: &dest,
                content: content.as_bytes(),
                follow: false,
                attrs: &attrs,
                current: &st,
                backup: false,
                make_parents: false,
                validate: None,
                expect: Some(match (&st.sha256, st.exists) {
                    (Some(s), true) => Expect::Sha256(s.clone()),
                    _ => Expect::Absent,
                }),
            }
            .apply();
            let changes = if is_file { mode_change } else { AttrChanges::default() };
            Plan::change(write).with_diff(Some(content_diff(&dest, &st, content.as_bytes(), &sum, &changes)))
        } else if let Some((before, after)) = mode_change.mode {
            let script = format!("chmod 0{after:04o} -- {}\n", quote(&dest));
            let (b, a) = mode_change.pairs();
            debug_assert_ne!(before, after);
            Plan::change(ApplyScript { script, stdin: Vec::new() }).with_diff(Some(Diff::state(&dest, &b, &a)))
        } else {
            Plan::ok()
        };
        result.insert("repo".into(), content.into());
        result.insert("key_filename".into(), key_filename);
        result.insert("changed".into(), plan.changed.into());
        plan.result = result;
        Ok(plan)
    }

    fn finish(&mut self, plan: Plan, out: &ExecOutput) -> Result<Plan, ModuleError> {
        if out.status == 0 {
            return Ok(plan);
        }
        let mut result = plan.result;
        result.insert("rc".into(), out.status.into());
        Err(ModuleError::Failed { msg: out.stderr_text().trim().to_owned(), result })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::file_write::testing::{run, FakeCtx};
    use serde_json::{json, Value};

    #[test]
    fn slugs_and_field_names_follow_ansible() {
        assert_eq!(slug("Stead Local_Repo"), "stead-local-repo");
        assert_eq!(slug("  Docker CE (stable)!"), "-docker-ce-stable");
        assert_eq!(field_name("allow_downgrade_to_insecure"), "Allow-Downgrade-To-Insecure");
        assert_eq!(field_name("inrelease_path"), "Inrelease-Path");
        assert_eq!(field_name("uris"), "URIs");
        assert!(has_url_scheme("https://example.org/key.asc"));
        assert!(!has_url_scheme("/etc/apt/keyrings/x.gpg"));
        assert!(!has_url_scheme("-----BEGIN PGP PUBLIC KEY BLOCK-----\nVersion: x\n"));
    }

    fn prepare(v: Value) -> Box<dyn Action> {
        Deb822Repository.prepare(&Args::new(&SPEC, v.as_object().unwrap().clone()), &FakeCtx::default()).unwrap()
    }

    #[test]
    fn content_is_in_ansibles_field_order_and_format() {
        let fields = vec![
            ("components", "main".to_owned()),
            ("date_max_future", "10".to_owned()),
            ("enabled", "no".to_owned()),
            ("name", "Example".to_owned()),
            (
                "signed_by",
                "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n  abc\n-----END PGP PUBLIC KEY BLOCK-----\n".to_owned(),
            ),
            ("suites", "bookworm bookworm-updates".to_owned()),
            ("types", "deb".to_owned()),
            ("uris", "https://a.example/debian".to_owned()),
        ];
        assert_eq!(
            render(&fields),
            "Components: main\nDate-Max-Future: 10\nEnabled: no\nX-Repolib-Name: Example\nSigned-By:\n    \
             -----BEGIN PGP PUBLIC KEY BLOCK-----\n    .\n    abc\n    -----END PGP PUBLIC KEY BLOCK-----\n\
             Suites: bookworm bookworm-updates\nTypes: deb\nURIs: https://a.example/debian\n"
        );
        assert_eq!(render(&[("components", String::new())]), "Components:\n");
    }

    #[test]
    fn real_probe_decides_and_a_url_key_is_refused() {
        // The destination is fixed under /etc/apt: only read it, never
        // write here (this machine's /etc is not the test's).
        let mut a = prepare(json!({"name": "stead-unit-test-never-exists", "uris": "file:/x", "suites": "./"}));
        let out = run(&a.probe().unwrap(), b"");
        assert_eq!(out.status, 0, "{}", out.stderr_text());
        let plan = a.compare(Some(&out)).unwrap();
        assert!(plan.changed);
        assert_eq!(
            plan.result["repo"],
            "X-Repolib-Name: stead-unit-test-never-exists\nSuites: ./\nTypes: deb\nURIs: file:/x\n"
        );
        let diff = plan.diff.unwrap().unified();
        assert!(diff.contains("+URIs: file:/x"), "{diff}");
        let mut a = prepare(json!({"name": "k", "signed_by": "https://example.org/key.asc"}));
        let out = run(&a.probe().unwrap(), b"");
        let e = a.compare(Some(&out)).err().unwrap().to_string();
        assert!(e.contains("does not download"), "{e}");
        let mut a = prepare(json!({"name": "stead-unit-test-never-exists", "state": "absent"}));
        let plan = a.compare(Some(&run(&a.probe().unwrap(), b""))).unwrap();
        assert!(!plan.changed);
    }
}
