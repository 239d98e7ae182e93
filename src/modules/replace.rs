//! `replace`: replace every match of a regular expression in a file, as
//! Ansible's `ansible.builtin.replace`, rule for rule.
//!
//! The probe fetches the file (following symlinks). The edit is pure
//! ([`edit`]): Python's `re.subn` with `re.MULTILINE` over the whole text,
//! or over the section that `after` / `before` select (themselves Python
//! patterns, matched with `re.DOTALL`), through [`crate::pyregex`], so
//! backreferences, lookaround and `\g<name>` behave as in Ansible.
//!
//! The new content is written atomically, and only if the file is still
//! what the probe read. This module never builds a shell string by hand:
//! every value goes through [`crate::transport::quote::quote`].

use super::file_state::{self, Attrs, Probe};
use super::lineinfile::{edit_plan, editable, failed_rc, EDIT_LIMIT};
use super::{Action, ArgKind, ArgSpec, Args, Module, ModuleError, ModuleSpec, Plan, ResultMap, TaskContext};
use crate::pyregex::{Flags, PyRegex, PyRegexError, Template};
use crate::transport::ExecOutput;

/// The `replace` module.
pub struct Replace;

/// Encodings stead reads and writes (Ansible takes any Python codec).
const ENCODINGS: &[&str] =
    &["utf-8", "utf8", "UTF-8", "UTF8", "latin-1", "latin1", "iso-8859-1", "ISO-8859-1", "ascii"];

static SPEC: ModuleSpec = ModuleSpec::new(&[
    ArgSpec::new("path", ArgKind::Str).required().aliases(&["dest", "destfile", "name"]),
    ArgSpec::new("regexp", ArgKind::Str).required(),
    ArgSpec::new("replace", ArgKind::Str),
    ArgSpec::new("after", ArgKind::Str),
    ArgSpec::new("before", ArgKind::Str),
    ArgSpec::new("backup", ArgKind::Bool),
    ArgSpec::new("validate", ArgKind::Str),
    ArgSpec::new("encoding", ArgKind::Str).choices(ENCODINGS),
    ArgSpec::new("mode", ArgKind::Mode),
    ArgSpec::new("owner", ArgKind::Str),
    ArgSpec::new("group", ArgKind::Str),
])
.refused(&[
    ("unsafe_writes", "stead always writes atomically (temporary file, then rename)"),
    ("attributes", "file attributes (chattr) are not supported yet"),
    ("seuser", "SELinux contexts are not supported"),
    ("serole", "SELinux contexts are not supported"),
    ("setype", "SELinux contexts are not supported"),
    ("selevel", "SELinux contexts are not supported"),
]);

/// How the file's bytes become text and back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// UTF-8 (Ansible's default).
    Utf8,
    /// ISO-8859-1: every byte is one character.
    Latin1,
    /// ASCII: UTF-8 restricted to 7 bits.
    Ascii,
}

impl Encoding {
    fn parse(name: &str) -> Encoding {
        match name.to_ascii_lowercase().as_str() {
            "latin-1" | "latin1" | "iso-8859-1" => Encoding::Latin1,
            "ascii" => Encoding::Ascii,
            _ => Encoding::Utf8,
        }
    }

    /// Decodes, or says why the file cannot be read as this encoding.
    pub fn decode(self, bytes: &[u8]) -> Result<String, String> {
        match self {
            Encoding::Latin1 => Ok(bytes.iter().map(|&b| char::from(b)).collect()),
            Encoding::Utf8 => String::from_utf8(bytes.to_vec()).map_err(|e| {
                format!("not valid UTF-8 (byte {}); set `encoding: latin-1`", e.utf8_error().valid_up_to())
            }),
            Encoding::Ascii => match bytes.iter().position(|b| !b.is_ascii()) {
                Some(i) => Err(format!("not ASCII (byte {i})")),
                None => Ok(String::from_utf8_lossy(bytes).into_owned()),
            },
        }
    }

    /// Encodes text that came from [`Encoding::decode`] and a replacement.
    pub fn encode(self, text: &str) -> Result<Vec<u8>, String> {
        match self {
            Encoding::Utf8 => Ok(text.as_bytes().to_vec()),
            Encoding::Latin1 => text
                .chars()
                .map(|c| u8::try_from(u32::from(c)).map_err(|_| format!("`{c}` cannot be written as latin-1")))
                .collect(),
            Encoding::Ascii => match text.chars().find(|c| !c.is_ascii()) {
                Some(c) => Err(format!("`{c}` cannot be written as ASCII")),
                None => Ok(text.as_bytes().to_vec()),
            },
        }
    }
}

/// The section `after`/`before` select, as Ansible builds it.
#[derive(Debug, Clone)]
pub struct Section {
    /// The combined pattern (also quoted in the message when it misses).
    pub pattern: String,
    regex: PyRegex,
}

impl Section {
    /// `after(?P<subsection>.*?)before`, `after(?P<subsection>.*)` or
    /// `(?P<subsection>.*)before`, with DOTALL; `None` without either.
    pub fn new(after: Option<&str>, before: Option<&str>) -> Result<Option<Section>, PyRegexError> {
        let pattern = match (after.filter(|a| !a.is_empty()), before.filter(|b| !b.is_empty())) {
            (Some(a), Some(b)) => format!("{a}(?P<subsection>.*?){b}"),
            (Some(a), None) => format!("{a}(?P<subsection>.*)"),
            (None, Some(b)) => format!("(?P<subsection>.*){b}"),
            (None, None) => return Ok(None),
        };
        let regex = PyRegex::new(&pattern, Flags { dotall: true, ..Flags::default() })?;
        Ok(Some(Section { pattern, regex }))
    }
}

/// What [`edit`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The text changes: new text and the number of replacements.
    Replaced(String, usize),
    /// Nothing matched, or the replacements gave the same text.
    Unchanged,
    /// `after`/`before` did not match.
    NoSection(String),
}

/// Ansible's edit: `re.subn` over the text or its section.
pub fn edit(
    text: &str,
    regexp: &PyRegex,
    template: &Template,
    section: Option<&Section>,
) -> Result<Outcome, PyRegexError> {
    let (start, end) = match section {
        None => (0, text.len()),
        Some(s) => match s.regex.search(text)? {
            Some(m) => m.named("subsection").unwrap_or((0, 0)),
            None => return Ok(Outcome::NoSection(s.pattern.clone())),
        },
    };
    let part = &text[start..end];
    let (replaced, count) = regexp.subn(part, template)?;
    if count == 0 || replaced == part {
        return Ok(Outcome::Unchanged);
    }
    Ok(Outcome::Replaced(format!("{}{replaced}{}", &text[..start], &text[end..]), count))
}

/// One `replace` task on one host.
#[derive(Debug)]
pub struct ReplaceAction {
    path: String,
    regexp: PyRegex,
    template: Template,
    section: Option<Section>,
    backup: bool,
    validate: Option<String>,
    encoding: Encoding,
    attrs: Attrs,
}

fn arg_error(arg: &str, e: PyRegexError) -> ModuleError {
    ModuleError::Arg { arg: arg.into(), message: e.to_string() }
}

impl Module for Replace {
    fn name(&self) -> &'static str {
        "replace"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: &Args, _ctx: &dyn TaskContext) -> Result<Box<dyn Action>, ModuleError> {
        let regexp = PyRegex::new(&args.str("regexp")?, Flags { multiline: true, ..Flags::default() })
            .map_err(|e| arg_error("regexp", e))?;
        let template =
            Template::parse(&args.opt_str("replace")?.unwrap_or_default()).map_err(|e| arg_error("replace", e))?;
        let section = Section::new(args.opt_str("after")?.as_deref(), args.opt_str("before")?.as_deref())
            .map_err(|e| arg_error("after", e))?;
        let validate = args.opt_str("validate")?;
        super::file_write::check_validate(validate.as_deref())?;
        let encoding = args.choice_or("encoding", ENCODINGS, "utf-8")?;
        Ok(Box::new(ReplaceAction {
            path: args.str("path")?,
            regexp,
            template,
            section,
            backup: args.bool_or("backup", false)?,
            validate,
            encoding: Encoding::parse(&encoding),
            attrs: Attrs::from_args(args)?,
        }))
    }
}

impl Action for ReplaceAction {
    fn paths(&self) -> Option<Vec<String>> {
        Some(vec![self.path.clone()])
    }

    fn probe(&self) -> Option<String> {
        Some(Probe::new(&self.path).content_limit(Some(EDIT_LIMIT)).script())
    }

    fn compare(&mut self, probe: Option<&ExecOutput>) -> Result<Plan, ModuleError> {
        let st = file_state::parse_output(probe)?;
        let path = self.path.as_str();
        let Some(bytes) = editable(path, &st)? else {
            return Err(failed_rc(257, format!("Path {path} does not exist !")));
        };
        let text = self
            .encoding
            .decode(&bytes)
            .map_err(|why| ModuleError::failed(format!("Unable to read the contents of {path}: {why}")))?;
        let outcome = edit(&text, &self.regexp, &self.template, self.section.as_ref())
            .map_err(|e| ModuleError::failed(format!("Unable to process replace due to error: {e}")))?;
        let (new, msg) = match outcome {
            Outcome::Replaced(new, n) => (Some(new), format!("{n} replacements made")),
            Outcome::Unchanged => (None, String::new()),
            Outcome::NoSection(pattern) => {
                // Ansible stops here: no attribute changes either.
                let mut plan = Plan::ok();
                plan.result = ResultMap::new();
                plan.result.insert("rc".into(), 0.into());
                plan.result.insert("changed".into(), false.into());
                plan.result.insert(
                    "msg".into(),
                    format!("Pattern for before/after params did not match the given file: {pattern}").into(),
                );
                return Ok(plan);
            }
        };
        let new_bytes = match &new {
            Some(t) => {
                self.encoding.encode(t).map_err(|why| ModuleError::failed(format!("cannot write {path}: {why}")))?
            }
            None => bytes.clone(),
        };
        let mut plan = edit_plan(
            path,
            &st,
            new.is_some(),
            &new_bytes,
            msg,
            &self.attrs,
            self.backup,
            false,
            self.validate.as_deref(),
        );
        plan.result.insert("rc".into(), 0.into());
        Ok(plan)
    }

    fn finish(&mut self, plan: Plan, out: &ExecOutput) -> Result<Plan, ModuleError> {
        let (mut plan, st) = super::file_write::finish(plan, out)?;
        if let Some(b) = st.and_then(|s| s.backup_file) {
            plan.result.insert("backup_file".into(), b.into());
        }
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::file_write::testing::{run, FakeCtx, HOSTILE};
    use serde_json::{json, Value};

    fn ml(p: &str) -> PyRegex {
        PyRegex::new(p, Flags { multiline: true, ..Flags::default() }).unwrap()
    }

    fn t(s: &str) -> Template {
        Template::parse(s).unwrap()
    }

    #[test]
    fn replaces_every_match_with_backreferences() {
        let text = "PermitRootLogin yes\n#PermitRootLogin yes\nX11Forwarding yes\n";
        let out = edit(text, &ml(r"^(PermitRootLogin|X11Forwarding) yes$"), &t(r"\1 no"), None).unwrap();
        assert_eq!(out, Outcome::Replaced("PermitRootLogin no\n#PermitRootLogin yes\nX11Forwarding no\n".into(), 2));
        assert_eq!(edit(text, &ml("^Nope"), &t("x"), None).unwrap(), Outcome::Unchanged);
        // A replacement that gives the same text is no change.
        assert_eq!(edit(text, &ml("yes"), &t("yes"), None).unwrap(), Outcome::Unchanged);
    }

    #[test]
    fn after_and_before_limit_the_section() {
        let text = "a=1\n[x]\na=1\n[y]\na=1\n";
        let sec = Section::new(Some(r"\[x\]"), Some(r"\[y\]")).unwrap();
        let out = edit(text, &ml("^a=1$"), &t("a=2"), sec.as_ref()).unwrap();
        assert_eq!(out, Outcome::Replaced("a=1\n[x]\na=2\n[y]\na=1\n".into(), 1));
        let sec = Section::new(Some(r"\[y\]"), None).unwrap();
        let out = edit(text, &ml("^a=1$"), &t("a=3"), sec.as_ref()).unwrap();
        assert_eq!(out, Outcome::Replaced("a=1\n[x]\na=1\n[y]\na=3\n".into(), 1));
        let sec = Section::new(Some("nope"), None).unwrap();
        assert_eq!(
            edit(text, &ml("a"), &t("b"), sec.as_ref()).unwrap(),
            Outcome::NoSection("nope(?P<subsection>.*)".into())
        );
    }

    #[test]
    fn encodings_round_trip() {
        let latin = b"caf\xe9\n".to_vec();
        let text = Encoding::Latin1.decode(&latin).unwrap();
        assert_eq!(text, "caf\u{e9}\n");
        assert_eq!(Encoding::Latin1.encode(&text).unwrap(), latin);
        assert!(Encoding::Utf8.decode(&latin).unwrap_err().contains("latin-1"));
    }

    fn prepare(v: Value) -> Box<dyn Action> {
        Replace.prepare(&Args::new(&SPEC, v.as_object().unwrap().clone()), &FakeCtx::default()).unwrap()
    }

    #[test]
    fn real_edit_with_backup_is_idempotent() {
        let ctx = FakeCtx::default();
        let dir = ctx.root().join(HOSTILE);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("sshd_config");
        std::fs::write(&path, "PasswordAuthentication yes\nUsePAM yes\n").unwrap();
        let mut a = prepare(json!({
            "path": path.to_str().unwrap(), "regexp": r"^(?P<k>PasswordAuthentication)\s+yes$",
            "replace": r"\g<k> no", "backup": true,
        }));
        let out = run(&a.probe().unwrap(), b"");
        let plan = a.compare(Some(&out)).unwrap();
        assert!(plan.changed);
        assert_eq!(plan.result["msg"], "1 replacements made");
        assert!(plan.diff.clone().unwrap().unified().contains("+PasswordAuthentication no\n"));
        let apply = plan.apply.clone().unwrap();
        let res = run(&apply.script, &apply.stdin);
        let plan = a.finish(plan, &res).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "PasswordAuthentication no\nUsePAM yes\n");
        let backup = plan.result["backup_file"].as_str().unwrap();
        assert_eq!(std::fs::read_to_string(backup).unwrap(), "PasswordAuthentication yes\nUsePAM yes\n");
        let again = a.compare(Some(&run(&a.probe().unwrap(), b""))).unwrap();
        assert!(!again.changed);
        assert_eq!(again.result["msg"], "");
    }

    #[test]
    fn a_missing_file_fails_as_in_ansible() {
        let mut a = prepare(json!({"path": "/nonexistent/x", "regexp": "a"}));
        let probe = ExecOutput { status: 0, stdout: b"stead-file-state 1\nend\n".to_vec(), stderr: vec![] };
        let e = a.compare(Some(&probe)).unwrap_err();
        assert_eq!(e.to_string(), "Path /nonexistent/x does not exist !");
    }
}
