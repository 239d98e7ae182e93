//! `lineinfile`: make sure one line is (or is not) in a text file, as
//! Ansible's `ansible.builtin.lineinfile`, rule for rule.
//!
//! The probe fetches the file (following symlinks); the edit itself is a pure
//! function over its lines ([`present`], [`absent`]) that follows Ansible's
//! algorithm: the last line matching `regexp` (or `search_string`) is
//! replaced, the first one with `firstmatch`; with `backrefs` and no match
//! nothing changes; otherwise the line goes after the last `insertafter`
//! match (or before `insertbefore`), at EOF when that does not match, unless
//! it is already there. Regular expressions are Python's (see
//! [`crate::pyregex`]): backreferences and lookaround work, and with
//! `backrefs` the `line` is a Python replacement template (`\1`, `\g<name>`).
//!
//! The new content is written atomically from stdin, and only if the file
//! is still what the probe read. This module never builds a shell string by
//! hand: every value goes through [`crate::transport::quote::quote`].

use crate::pyregex::{Flags, PyRegex, Template};

use super::file_state::{self, content_diff, new_path_attrs, sha256_hex, Attrs, FileKind, Probe};
use super::file_write::{self, Expect, WriteFile};
use super::{
    Action, ApplyScript, ArgKind, ArgSpec, Args, Diff, Module, ModuleError, ModuleSpec, Plan, ResultMap, TaskContext,
};
use crate::transport::ExecOutput;

/// Files up to this size can be edited (they are read whole by the probe).
pub const EDIT_LIMIT: u64 = 64 * 1024 * 1024;

/// The `lineinfile` module.
pub struct LineInFile;

static SPEC: ModuleSpec = ModuleSpec::new(&[
    ArgSpec::new("path", ArgKind::Str).required().aliases(&["dest", "destfile", "name"]),
    ArgSpec::new("state", ArgKind::Str).choices(&["present", "absent"]),
    ArgSpec::new("regexp", ArgKind::Str).aliases(&["regex"]),
    ArgSpec::new("search_string", ArgKind::Str),
    ArgSpec::new("line", ArgKind::Str).aliases(&["value"]),
    ArgSpec::new("insertafter", ArgKind::Str),
    ArgSpec::new("insertbefore", ArgKind::Str),
    ArgSpec::new("backrefs", ArgKind::Bool),
    ArgSpec::new("create", ArgKind::Bool),
    ArgSpec::new("backup", ArgKind::Bool),
    ArgSpec::new("firstmatch", ArgKind::Bool),
    ArgSpec::new("validate", ArgKind::Str),
    ArgSpec::new("mode", ArgKind::Mode),
    ArgSpec::new("owner", ArgKind::Str),
    ArgSpec::new("group", ArgKind::Str),
])
.exclusive(&[("insertbefore", "insertafter"), ("regexp", "search_string"), ("backrefs", "search_string")]);

/// Where a missing line goes.
#[derive(Debug, Clone)]
pub enum Insert {
    /// At the end (the default).
    Eof,
    /// At the beginning.
    Bof,
    /// After the last line matching (the first with `firstmatch`).
    After(PyRegex),
    /// Before the last line matching (the first with `firstmatch`).
    Before(PyRegex),
}

/// What identifies the line to replace or remove.
#[derive(Debug, Clone)]
pub enum Search {
    /// Only the exact line.
    Line,
    /// A regular expression.
    Regexp(PyRegex),
    /// A fixed string contained in the line.
    Fixed(Vec<u8>),
}

/// The result of an edit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    /// The new lines (each with its own line ending).
    pub lines: Vec<Vec<u8>>,
    /// Ansible's message: `line added`, `line replaced`, `2 line(s) removed`.
    pub msg: String,
    /// How many lines matched (`absent`).
    pub found: usize,
}

/// Compiles a Python regular expression (no flags, as Ansible's
/// `re.compile(regexp)`).
pub fn compile(arg: &str, pattern: &str) -> Result<PyRegex, ModuleError> {
    PyRegex::new(pattern, Flags::default())
        .map_err(|e| ModuleError::Arg { arg: arg.to_owned(), message: e.to_string() })
}

/// A failed search (a pattern that exhausted its backtracking budget).
fn search_failed(e: crate::pyregex::PyRegexError) -> ModuleError {
    ModuleError::failed(e.to_string())
}

/// What a regular expression sees of a line: its text without the `\n`.
fn text_of(line: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(body(line))
}

fn is_match(re: &PyRegex, line: &[u8]) -> Result<bool, ModuleError> {
    re.is_match(&text_of(line)).map_err(search_failed)
}

/// Splits content into lines, each keeping its `\n` (Python's `readlines`).
pub fn readlines(content: &[u8]) -> Vec<Vec<u8>> {
    content.split_inclusive(|&b| b == b'\n').map(<[u8]>::to_vec).collect()
}

/// A line without its trailing `\n` (what regular expressions see, so that
/// `$` matches before the newline as in Python).
fn body(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\n").unwrap_or(line)
}

/// A line without any trailing `\r` and `\n` (Python's `rstrip(b'\r\n')`).
fn rstrip(line: &[u8]) -> &[u8] {
    let end = line.iter().rposition(|&b| b != b'\r' && b != b'\n').map_or(0, |p| p + 1);
    &line[..end]
}

fn ends_with_newline(line: &[u8]) -> bool {
    matches!(line.last(), Some(b'\n' | b'\r'))
}

/// Ansible's `state=present`. `line` is the literal line; `template` the
/// backrefs replacement when `backrefs` is on.
pub fn present(
    mut lines: Vec<Vec<u8>>,
    search: &Search,
    line: &[u8],
    template: Option<&Template>,
    insert: &Insert,
    firstmatch: bool,
) -> Result<Edit, ModuleError> {
    let mut index0: Option<usize> = None;
    let mut index1: Option<usize> = None;
    // The matching line's text and match, for `backrefs`.
    let mut caps: Option<(String, crate::pyregex::Match)> = None;
    let mut matched = false;
    let lines_ro = lines.clone();
    match search {
        Search::Regexp(re) => {
            for (i, cur) in lines_ro.iter().enumerate() {
                let text = text_of(cur);
                if let Some(m) = re.search(&text).map_err(search_failed)? {
                    index0 = Some(i);
                    caps = Some((text.into_owned(), m));
                    matched = true;
                    if firstmatch {
                        break;
                    }
                }
            }
        }
        Search::Fixed(s) => {
            for (i, cur) in lines_ro.iter().enumerate() {
                if contains(cur, s) {
                    index0 = Some(i);
                    matched = true;
                    if firstmatch {
                        break;
                    }
                }
            }
        }
        Search::Line => {}
    }
    if !matched {
        for (i, cur) in lines_ro.iter().enumerate() {
            if rstrip(cur) == line {
                index0 = Some(i);
            } else {
                match insert {
                    Insert::After(re) if is_match(re, cur)? => {
                        index1 = Some(i + 1);
                        if firstmatch {
                            break;
                        }
                    }
                    Insert::Before(re) if is_match(re, cur)? => {
                        index1 = Some(i);
                        if firstmatch {
                            break;
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    let with_nl = |l: &[u8]| {
        let mut v = l.to_vec();
        v.push(b'\n');
        v
    };
    let mut msg = String::new();
    if let Some(i0) = index0 {
        let mut new_line = match (template, &caps) {
            (Some(t), Some((text, m))) => t.expand(text, m).map_err(search_failed)?.into_bytes(),
            _ => line.to_vec(),
        };
        if !new_line.ends_with(b"\n") {
            new_line.push(b'\n');
        }
        if lines[i0] != new_line {
            lines[i0] = new_line;
            msg = "line replaced".into();
        }
    } else if template.is_some() {
        // backrefs without a match: generating the line is not safe.
    } else if matches!(insert, Insert::Bof) {
        lines.insert(0, with_nl(line));
        msg = "line added".into();
    } else if matches!(insert, Insert::Eof) || index1.is_none() {
        if lines.last().is_some_and(|l| !ends_with_newline(l)) {
            lines.push(b"\n".to_vec());
        }
        lines.push(with_nl(line));
        msg = "line added".into();
    } else if let (Insert::After(_), Some(i1)) = (insert, index1) {
        if lines.len() == i1 {
            if rstrip(&lines[i1 - 1]) != line {
                lines.push(with_nl(line));
                msg = "line added".into();
            }
        } else if rstrip(&lines[i1]) != line {
            lines.insert(i1, with_nl(line));
            msg = "line added".into();
        }
    } else if let Some(i1) = index1 {
        lines.insert(i1, with_nl(line));
        msg = "line added".into();
    }
    Ok(Edit { lines, msg, found: 0 })
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

/// Ansible's `state=absent`: removes every matching line.
pub fn absent(lines: Vec<Vec<u8>>, search: &Search, line: Option<&[u8]>) -> Result<Edit, ModuleError> {
    let before = lines.len();
    let mut kept = Vec::with_capacity(lines.len());
    for cur in lines {
        let hit = match search {
            Search::Regexp(re) => is_match(re, &cur)?,
            Search::Fixed(s) => contains(&cur, s),
            Search::Line => line.is_some_and(|l| rstrip(&cur) == l),
        };
        if !hit {
            kept.push(cur);
        }
    }
    let found = before - kept.len();
    Ok(Edit { lines: kept, msg: if found > 0 { format!("{found} line(s) removed") } else { String::new() }, found })
}

/// One `lineinfile` task on one host.
#[derive(Debug)]
pub struct LineInFileAction {
    path: String,
    present: bool,
    search: Search,
    line: Option<String>,
    /// With `backrefs`: `line` as a Python replacement template.
    backrefs: Option<Template>,
    insert: Insert,
    create: bool,
    backup: bool,
    firstmatch: bool,
    validate: Option<String>,
    attrs: Attrs,
}

impl Module for LineInFile {
    fn name(&self) -> &'static str {
        "lineinfile"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: &Args, _ctx: &dyn TaskContext) -> Result<Box<dyn Action>, ModuleError> {
        let present = args.choice_or("state", &["present", "absent"], "present")? == "present";
        let regexp = args.opt_str("regexp")?;
        let search_string = args.opt_str("search_string")?;
        let line = args.opt_str("line")?;
        let backrefs = args.bool_or("backrefs", false)?;
        let search = match (&regexp, &search_string) {
            (Some(r), _) => Search::Regexp(compile("regexp", r)?),
            (None, Some(s)) => Search::Fixed(s.clone().into_bytes()),
            (None, None) => Search::Line,
        };
        let failed = |msg: &str| Err(ModuleError::failed(msg));
        if present {
            if backrefs && regexp.is_none() {
                return failed("regexp is required with backrefs=true");
            }
            if line.is_none() {
                return failed("line is required with state=present");
            }
        } else if regexp.is_none() && search_string.is_none() && line.is_none() {
            return failed("one of line, search_string, or regexp is required with state=absent");
        }
        let insert = match (args.opt_str("insertafter")?, args.opt_str("insertbefore")?) {
            (Some(a), _) if a == "EOF" => Insert::Eof,
            (Some(a), _) if a == "BOF" => Insert::Bof,
            (Some(a), _) => Insert::After(compile("insertafter", &a)?),
            (None, Some(b)) if b == "BOF" => Insert::Bof,
            (None, Some(b)) => Insert::Before(compile("insertbefore", &b)?),
            (None, None) => Insert::Eof,
        };
        let validate = args.opt_str("validate")?;
        file_write::check_validate(validate.as_deref())?;
        let backrefs = match (&line, backrefs && present) {
            (Some(l), true) => {
                Some(Template::parse(l).map_err(|e| ModuleError::Arg { arg: "line".into(), message: e.to_string() })?)
            }
            _ => None,
        };
        Ok(Box::new(LineInFileAction {
            path: args.str("path")?,
            present,
            search,
            line,
            backrefs,
            insert,
            create: args.bool_or("create", false)?,
            backup: args.bool_or("backup", false)?,
            firstmatch: args.bool_or("firstmatch", false)?,
            validate,
            attrs: Attrs::from_args(args)?,
        }))
    }
}

/// Reads the probed file for an edit: its lines, or the reason it cannot be
/// edited. `Ok(None)` means the file does not exist.
pub(crate) fn editable(path: &str, st: &file_state::FileState) -> Result<Option<Vec<u8>>, ModuleError> {
    if st.exists && st.kind == FileKind::Dir {
        return Err(failed_rc(256, format!("Path {path} is a directory !")));
    }
    if !st.exists {
        return Ok(None);
    }
    if st.unreadable {
        return Err(ModuleError::failed(format!(
            "cannot read {path} (permission denied; does the task need `become`?)"
        )));
    }
    match &st.content {
        Some(c) => Ok(Some(c.clone())),
        None => Err(ModuleError::failed(format!(
            "{path} is larger than {EDIT_LIMIT} bytes or not a regular file; stead does not edit it"
        ))),
    }
}

/// A failure with Ansible's `rc`.
pub(crate) fn failed_rc(rc: i32, msg: String) -> ModuleError {
    let mut result = ResultMap::new();
    result.insert("rc".into(), rc.into());
    result.insert("msg".into(), msg.clone().into());
    ModuleError::Failed { msg, result }
}

/// The plan of a text edit: write the new content if it differs, then fix
/// attributes; `msg` gets Ansible's attribute suffix.
#[allow(clippy::too_many_arguments)]
pub(crate) fn edit_plan(
    path: &str,
    st: &file_state::FileState,
    content_changed: bool,
    new: &[u8],
    mut msg: String,
    attrs: &Attrs,
    backup: bool,
    create_parents: bool,
    validate: Option<&str>,
) -> Plan {
    let changes = if st.exists { attrs.changes(st) } else { new_path_attrs(attrs, false) };
    if st.exists && !changes.is_empty() {
        if !msg.is_empty() {
            msg.push_str(" and ");
        }
        msg.push_str("ownership, perms or SE linux context changed");
    }
    let mut plan = if content_changed {
        let sha = sha256_hex(new);
        let write = WriteFile {
            dest: path,
            content: new,
            follow: true,
            attrs,
            current: st,
            backup,
            make_parents: create_parents,
            validate,
            expect: Some(Expect::unchanged(st)),
        };
        Plan::change(write.apply()).with_diff(Some(content_diff(path, st, new, &sha, &changes)))
    } else if !changes.is_empty() {
        let (before, after) = changes.pairs();
        Plan::change(ApplyScript {
            script: file_write::attrs_script(path, true, attrs, &changes, false, false),
            stdin: Vec::new(),
        })
        .with_diff(Some(Diff::state(path, &before, &after)))
    } else {
        Plan::ok()
    };
    plan.result.insert("changed".into(), plan.changed.into());
    plan.result.insert("msg".into(), msg.into());
    plan
}

impl Action for LineInFileAction {
    fn saw_missing_parent(&self, probe: &ExecOutput) -> bool {
        super::file_state::parent_missing(&probe.stdout)
    }
    fn paths(&self) -> Option<Vec<String>> {
        Some(vec![self.path.clone()])
    }
    fn probe(&self) -> Option<String> {
        Some(Probe::new(&self.path).content_limit(Some(EDIT_LIMIT)).script())
    }

    fn compare(&mut self, probe: Option<&ExecOutput>) -> Result<Plan, ModuleError> {
        let st = file_state::parse_output(probe)?;
        let path = self.path.as_str();
        let original = editable(path, &st)?;
        let edit = if self.present {
            if original.is_none() && !self.create {
                return Err(failed_rc(257, format!("Destination {path} does not exist !")));
            }
            let line = self.line.as_deref().unwrap_or_default();
            present(
                readlines(original.as_deref().unwrap_or_default()),
                &self.search,
                line.as_bytes(),
                self.backrefs.as_ref(),
                &self.insert,
                self.firstmatch,
            )?
        } else {
            let Some(content) = &original else {
                let mut plan = Plan::ok();
                plan.result.insert("changed".into(), false.into());
                plan.result.insert("msg".into(), "file not present".into());
                return Ok(plan);
            };
            absent(readlines(content), &self.search, self.line.as_deref().map(str::as_bytes))?
        };
        // Every edit that changes the text says so in its message.
        let content_changed = !edit.msg.is_empty();
        let mut plan = edit_plan(
            path,
            &st,
            content_changed,
            &edit.lines.concat(),
            edit.msg,
            &self.attrs,
            self.backup,
            self.create,
            self.validate.as_deref(),
        );
        plan.result.insert("backup".into(), "".into());
        if !self.present {
            plan.result.insert("found".into(), edit.found.into());
        }
        Ok(plan)
    }

    fn finish(&mut self, plan: Plan, out: &ExecOutput) -> Result<Plan, ModuleError> {
        let (mut plan, st) = file_write::finish(plan, out)?;
        if let Some(b) = st.and_then(|s| s.backup_file) {
            plan.result.insert("backup".into(), b.clone().into());
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

    fn text(lines: &[Vec<u8>]) -> String {
        String::from_utf8(lines.concat()).unwrap()
    }

    fn re(p: &str) -> PyRegex {
        compile("regexp", p).unwrap()
    }

    fn add(content: &str, search: &Search, line: &str, insert: &Insert) -> Edit {
        present(readlines(content.as_bytes()), search, line.as_bytes(), None, insert, false).unwrap()
    }

    #[test]
    fn last_regexp_match_is_replaced() {
        let e = add("a=1\nb=2\na=3\n", &Search::Regexp(re("^a=")), "a=9", &Insert::Eof);
        assert_eq!(text(&e.lines), "a=1\nb=2\na=9\n");
        assert_eq!(e.msg, "line replaced");
    }

    #[test]
    fn firstmatch_replaces_the_first() {
        let e =
            present(readlines(b"a=1\na=3\n"), &Search::Regexp(re("^a=")), b"a=9", None, &Insert::Eof, true).unwrap();
        assert_eq!(text(&e.lines), "a=9\na=3\n");
    }

    #[test]
    fn present_line_is_ok_and_missing_line_goes_to_eof() {
        let e = add("x\ny\n", &Search::Line, "y", &Insert::Eof);
        assert_eq!(e.msg, "");
        let e = add("x\ny", &Search::Line, "z", &Insert::Eof);
        assert_eq!(text(&e.lines), "x\ny\nz\n");
        assert_eq!(e.msg, "line added");
    }

    #[test]
    fn dollar_matches_before_the_newline_as_in_python() {
        let e = add(
            "PermitRootLogin yes\n",
            &Search::Regexp(re("^PermitRootLogin yes$")),
            "PermitRootLogin no",
            &Insert::Eof,
        );
        assert_eq!(text(&e.lines), "PermitRootLogin no\n");
    }

    #[test]
    fn insertafter_and_insertbefore() {
        let content = "[a]\nx\n[b]\ny\n";
        let e = add(content, &Search::Line, "new", &Insert::After(re(r"^\[a\]")));
        assert_eq!(text(&e.lines), "[a]\nnew\nx\n[b]\ny\n");
        let e = add(content, &Search::Line, "new", &Insert::Before(re(r"^\[b\]")));
        assert_eq!(text(&e.lines), "[a]\nx\nnew\n[b]\ny\n");
        let e = add(content, &Search::Line, "new", &Insert::Bof);
        assert_eq!(text(&e.lines), "new\n[a]\nx\n[b]\ny\n");
        // No match for insertafter: EOF.
        let e = add(content, &Search::Line, "new", &Insert::After(re("^nope")));
        assert_eq!(text(&e.lines), "[a]\nx\n[b]\ny\nnew\n");
        // Already right after the anchor: nothing to do.
        let e = add("[a]\nnew\n", &Search::Line, "new", &Insert::After(re(r"^\[a\]")));
        assert_eq!(e.msg, "");
        // A regexp that does not match falls back to insertafter.
        let e = add(content, &Search::Regexp(re("^z=")), "z=1", &Insert::After(re(r"^\[a\]")));
        assert_eq!(text(&e.lines), "[a]\nz=1\nx\n[b]\ny\n");
    }

    #[test]
    fn backrefs_expand_python_groups_and_do_nothing_without_a_match() {
        let search = Search::Regexp(re(r"^(?P<key>\w+)=(\d+)$"));
        let t = Template::parse(r"\g<key>=\2$0").unwrap();
        let e = present(readlines(b"port=22\n"), &search, br"\g<key>=\2$0", Some(&t), &Insert::Eof, false).unwrap();
        assert_eq!(text(&e.lines), "port=22$0\n");
        let t = Template::parse(r"\1").unwrap();
        let e = present(readlines(b"nothing here\n"), &search, b"x", Some(&t), &Insert::Eof, false).unwrap();
        assert_eq!(text(&e.lines), "nothing here\n");
        assert_eq!(e.msg, "");
    }

    #[test]
    fn absent_removes_every_match() {
        let e = absent(readlines(b"a\nb\na\n"), &Search::Line, Some(b"a")).unwrap();
        assert_eq!(text(&e.lines), "b\n");
        assert_eq!((e.found, e.msg.as_str()), (2, "2 line(s) removed"));
        let e = absent(readlines(b"a=1\nb\n"), &Search::Fixed(b"=".to_vec()), None).unwrap();
        assert_eq!(text(&e.lines), "b\n");
    }

    #[test]
    fn invalid_regex_is_a_clear_argument_error() {
        let e = compile("regexp", "(unclosed").unwrap_err().to_string();
        assert!(e.contains("regexp") && e.contains("(unclosed"), "{e}");
    }

    /// Issue 6: lookaround and backreferences were refused (the `regex`
    /// crate has neither); Ansible's regexps are Python's.
    #[test]
    fn lookaround_and_backreferences_match_as_in_python() {
        let e = add("a=a\nb=c\n", &Search::Regexp(re(r"^(\w)=\1$")), "same", &Insert::Eof);
        assert_eq!(text(&e.lines), "same\nb=c\n");
        let e = add("x 1\n#x 2\n", &Search::Regexp(re(r"^(?!#)x \d")), "x 9", &Insert::Eof);
        assert_eq!(text(&e.lines), "x 9\n#x 2\n");
    }

    fn prepare(v: Value) -> Box<dyn Action> {
        LineInFile.prepare(&Args::new(&SPEC, v.as_object().unwrap().clone()), &FakeCtx::default()).unwrap()
    }

    fn canned(body: &[u8]) -> ExecOutput {
        ExecOutput { status: 0, stdout: body.to_vec(), stderr: Vec::new() }
    }

    #[test]
    fn compare_on_canned_probes() {
        let probe = b"stead-file-state 1\nparent-dir\nstat 81a4 0 0 4 1 1 1 1 1 1 root root\n\
            sha256 aa\ncontent 4\na=1\n\nend\n";
        let mut a = prepare(json!({"dest": "/etc/x", "regexp": "^a=", "line": "a=1"}));
        let plan = a.compare(Some(&canned(probe))).unwrap();
        assert!(!plan.changed);
        assert_eq!(plan.result["msg"], "");

        let mut a = prepare(json!({"path": "/etc/$(x) y", "regexp": "^a=", "line": "a=2"}));
        let plan = a.compare(Some(&canned(probe))).unwrap();
        assert!(plan.changed);
        assert_eq!(plan.result["msg"], "line replaced");
        assert!(plan.diff.unwrap().unified().contains("-a=1\n+a=2\n"));
        let apply = plan.apply.unwrap();
        assert_eq!(apply.stdin, b"a=2\n");
        assert!(apply.script.contains("d='/etc/$(x) y'"), "{}", apply.script);
        assert!(apply.script.contains("= aa ] ||"), "checks the file is unchanged");

        let mut a = prepare(json!({"path": "/etc/x", "line": "a=1", "mode": "0600"}));
        let plan = a.compare(Some(&canned(probe))).unwrap();
        assert!(plan.changed);
        assert_eq!(plan.result["msg"], "ownership, perms or SE linux context changed");
    }

    #[test]
    fn missing_file_fails_unless_create() {
        let probe = b"stead-file-state 1\nparent-dir\nend\n";
        let mut a = prepare(json!({"path": "/etc/x", "line": "a"}));
        let e = a.compare(Some(&canned(probe))).unwrap_err();
        assert!(e.to_string().contains("does not exist !"));
        let mut a = prepare(json!({"path": "/etc/x", "line": "a", "create": true}));
        let plan = a.compare(Some(&canned(probe))).unwrap();
        assert!(plan.changed);
        assert_eq!(plan.apply.unwrap().stdin, b"a\n");
        let mut a = prepare(json!({"path": "/etc/x", "line": "a", "state": "absent"}));
        let plan = a.compare(Some(&canned(probe))).unwrap();
        assert!(!plan.changed);
        assert_eq!(plan.result["msg"], "file not present");
    }

    #[test]
    fn a_directory_is_refused() {
        let probe = b"stead-file-state 1\nparent-dir\nstat 41ed 0 0 4096 1 1 1 1 1 1 root root\nend\n";
        let mut a = prepare(json!({"path": "/etc", "line": "a"}));
        let e = a.compare(Some(&canned(probe))).unwrap_err();
        assert!(e.to_string().contains("is a directory !"));
    }

    #[test]
    fn real_edit_with_create_backup_and_symlink_is_idempotent() {
        let ctx = FakeCtx::default();
        let dir = ctx.root().join(HOSTILE);
        let target = dir.join("real file");
        let link = ctx.root().join("link");
        let path = dir.join("sub dir/new'file");
        for (p, args) in [
            (path.to_str().unwrap(), json!({"line": "x=1", "create": true, "mode": "0640"})),
            (link.to_str().unwrap(), json!({"regexp": "^b=", "line": "b=2", "backup": true})),
        ] {
            if p.ends_with("link") {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&target, b"a=1\nb=1").unwrap();
                std::os::unix::fs::symlink(&target, &link).unwrap();
            }
            let mut v = args.clone();
            v["path"] = p.into();
            let mut a = prepare(v);
            let out = run(&a.probe().unwrap(), b"");
            assert_eq!(out.status, 0, "{}", out.stderr_text());
            let plan = a.compare(Some(&out)).unwrap();
            assert!(plan.changed);
            let apply = plan.apply.clone().unwrap();
            let res = run(&apply.script, &apply.stdin);
            let plan = a.finish(plan, &res).unwrap();
            let out = run(&a.probe().unwrap(), b"");
            let again = a.compare(Some(&out)).unwrap();
            assert!(!again.changed, "{:?}", again.diff);
            if p.ends_with("link") {
                assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
                assert_eq!(std::fs::read(&target).unwrap(), b"a=1\nb=2\n");
                let b = plan.result["backup_file"].as_str().unwrap();
                assert_eq!(std::fs::read(b).unwrap(), b"a=1\nb=1");
            } else {
                assert_eq!(std::fs::read(&path).unwrap(), b"x=1\n");
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(&path).unwrap().permissions().mode();
                assert_eq!(mode & 0o7777, 0o640);
            }
        }
    }
}
