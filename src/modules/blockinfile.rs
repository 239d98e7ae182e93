//! `blockinfile`: keep a block of lines between two marker lines in a text
//! file, as Ansible's `ansible.builtin.blockinfile`.
//!
//! The probe fetches the file; [`edit`] is a pure function that follows
//! Ansible's algorithm: an existing marked block is replaced in place (or
//! removed), otherwise the block goes after the last line matching
//! `insertafter` (or before `insertbefore`), at EOF when that does not match.
//! A pattern with the `(?m)` flag is searched in the whole file, as Ansible
//! does for `re.MULTILINE`.
//!
//! Writing goes through the same atomic, content-on-stdin script as
//! `lineinfile` ([`super::lineinfile`]). This module never builds a shell
//! string by hand: every value goes through
//! [`crate::transport::quote::quote`].

use crate::pyregex::PyRegex;

use super::file_state::{self, Attrs, Probe};
use super::file_write;
use super::lineinfile::{compile, edit_plan, editable, failed_rc, EDIT_LIMIT};
use super::{Action, ArgKind, ArgSpec, Args, Module, ModuleError, ModuleSpec, Plan, TaskContext};
use crate::transport::ExecOutput;

/// The `blockinfile` module.
pub struct BlockInFile;

static SPEC: ModuleSpec = ModuleSpec::new(&[
    ArgSpec::new("path", ArgKind::Str).required().aliases(&["dest", "destfile", "name"]),
    ArgSpec::new("state", ArgKind::Str).choices(&["present", "absent"]),
    ArgSpec::new("marker", ArgKind::Str),
    ArgSpec::new("block", ArgKind::Str).aliases(&["content"]),
    ArgSpec::new("insertafter", ArgKind::Str),
    ArgSpec::new("insertbefore", ArgKind::Str),
    ArgSpec::new("create", ArgKind::Bool),
    ArgSpec::new("backup", ArgKind::Bool),
    ArgSpec::new("validate", ArgKind::Str),
    ArgSpec::new("marker_begin", ArgKind::Str),
    ArgSpec::new("marker_end", ArgKind::Str),
    ArgSpec::new("append_newline", ArgKind::Bool),
    ArgSpec::new("prepend_newline", ArgKind::Bool),
    ArgSpec::new("mode", ArgKind::Mode),
    ArgSpec::new("owner", ArgKind::Str),
    ArgSpec::new("group", ArgKind::Str),
])
.exclusive(&[("insertbefore", "insertafter")]);

/// Where a new block goes.
#[derive(Debug, Clone)]
pub enum Place {
    /// At the end (the default).
    Eof,
    /// At the beginning.
    Bof,
    /// After the last line matching.
    After(PyRegex),
    /// Before the last line matching.
    Before(PyRegex),
}

/// The desired block.
#[derive(Debug, Clone)]
pub struct Block {
    /// Whether the block should be there (`state=present` and a non-empty block).
    pub present: bool,
    /// The block's text.
    pub text: Vec<u8>,
    /// The opening marker line (without newline).
    pub begin: Vec<u8>,
    /// The closing marker line.
    pub end: Vec<u8>,
    /// Where it goes when it is not there yet.
    pub place: Place,
    /// Ensure a blank line before the block.
    pub prepend_newline: bool,
    /// Ensure a blank line after the block.
    pub append_newline: bool,
}

/// Python's `bytes.splitlines(keepends=True)`: `\n`, `\r\n` and `\r` end lines.
pub fn splitlines(data: &[u8]) -> Vec<Vec<u8>> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < data.len() {
        match data[i] {
            b'\n' => {
                lines.push(data[start..=i].to_vec());
                start = i + 1;
            }
            b'\r' => {
                let end = if data.get(i + 1) == Some(&b'\n') { i + 1 } else { i };
                lines.push(data[start..=end].to_vec());
                i = end;
                start = end + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if start < data.len() {
        lines.push(data[start..].to_vec());
    }
    lines
}

fn is_multiline(re: &PyRegex) -> bool {
    let p = re.as_str();
    p.strip_prefix("(?")
        .and_then(|rest| rest.split_once(')'))
        .is_some_and(|(flags, _)| !flags.contains(':') && flags.contains('m'))
}

fn body(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\n").unwrap_or(line)
}

/// Applies the block to a file's content (`None`: the file does not exist).
/// Returns the new content.
pub fn edit(original: Option<&[u8]>, block: &Block) -> Result<Vec<u8>, ModuleError> {
    let original_bytes = original.unwrap_or_default();
    let mut lines = splitlines(original_bytes);
    let nl = |mut v: Vec<u8>| {
        v.push(b'\n');
        v
    };
    let marker0 = nl(block.begin.clone());
    let marker1 = nl(block.end.clone());
    let blocklines: Vec<Vec<u8>> = if block.present && !block.text.is_empty() {
        let mut text = block.text.clone();
        if !text.ends_with(b"\n") {
            text.push(b'\n');
        }
        let mut v = vec![marker0.clone()];
        v.extend(splitlines(&text));
        v.push(marker1.clone());
        v
    } else {
        Vec::new()
    };
    let mut n0 = None;
    let mut n1 = None;
    for (i, line) in lines.iter().enumerate() {
        if *line == marker0 {
            n0 = Some(i);
        }
        if *line == marker1 {
            n1 = Some(i);
        }
    }
    let mut n0 = match (n0, n1) {
        (Some(a), Some(b)) if a < b => {
            lines.drain(a..=b);
            a
        }
        (Some(a), Some(b)) => {
            lines.drain(b..=a);
            b
        }
        _ => match &block.place {
            Place::After(re) | Place::Before(re) => {
                let after = matches!(block.place, Place::After(_));
                let mut found = None;
                let failed = |e: crate::pyregex::PyRegexError| ModuleError::failed(e.to_string());
                if is_multiline(re) {
                    let text = String::from_utf8_lossy(original_bytes);
                    if let Some(m) = re.search(&text).map_err(failed)? {
                        let upto = if after { m.span.1 } else { m.span.0 };
                        found = Some(text[..upto].matches('\n').count());
                    }
                } else {
                    for (i, line) in lines.iter().enumerate() {
                        if re.is_match(&String::from_utf8_lossy(body(line))).map_err(failed)? {
                            found = Some(i);
                        }
                    }
                }
                match found {
                    None => lines.len(),
                    Some(i) if after => i + 1,
                    Some(i) => i,
                }
            }
            Place::Bof => 0,
            Place::Eof => lines.len(),
        },
    };
    n0 = n0.min(lines.len());
    if n0 > 0 && !lines[n0 - 1].ends_with(b"\n") {
        lines[n0 - 1].push(b'\n');
    }
    if block.prepend_newline && block.present && n0 != 0 && lines[n0 - 1] != b"\n" {
        lines.insert(n0, b"\n".to_vec());
        n0 += 1;
    }
    let count = blocklines.len();
    lines.splice(n0..n0, blocklines);
    if block.append_newline && block.present {
        let after = n0 + count;
        if after < lines.len() && lines[after] != b"\n" {
            lines.insert(after, b"\n".to_vec());
        }
    }
    Ok(lines.concat())
}

/// One `blockinfile` task on one host.
#[derive(Debug)]
pub struct BlockInFileAction {
    path: String,
    block: Block,
    create: bool,
    backup: bool,
    validate: Option<String>,
    attrs: Attrs,
}

impl Module for BlockInFile {
    fn name(&self) -> &'static str {
        "blockinfile"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: &Args, _ctx: &dyn TaskContext) -> Result<Box<dyn Action>, ModuleError> {
        let present = args.choice_or("state", &["present", "absent"], "present")? == "present";
        let marker = args.opt_str("marker")?.unwrap_or_else(|| "# {mark} ANSIBLE MANAGED BLOCK".into());
        let begin = args.opt_str("marker_begin")?.unwrap_or_else(|| "BEGIN".into());
        let end = args.opt_str("marker_end")?.unwrap_or_else(|| "END".into());
        let place = match (args.opt_str("insertafter")?, args.opt_str("insertbefore")?) {
            (Some(a), _) if a == "EOF" => Place::Eof,
            (Some(a), _) => Place::After(compile("insertafter", &a)?),
            (None, Some(b)) if b == "BOF" => Place::Bof,
            (None, Some(b)) => Place::Before(compile("insertbefore", &b)?),
            (None, None) => Place::Eof,
        };
        let validate = args.opt_str("validate")?;
        file_write::check_validate(validate.as_deref())?;
        Ok(Box::new(BlockInFileAction {
            path: args.str("path")?,
            block: Block {
                present,
                text: args.opt_str("block")?.unwrap_or_default().into_bytes(),
                begin: marker.replace("{mark}", &begin).into_bytes(),
                end: marker.replace("{mark}", &end).into_bytes(),
                place,
                prepend_newline: args.bool_or("prepend_newline", false)?,
                append_newline: args.bool_or("append_newline", false)?,
            },
            create: args.bool_or("create", false)?,
            backup: args.bool_or("backup", false)?,
            validate,
            attrs: Attrs::from_args(args)?,
        }))
    }
}

impl Action for BlockInFileAction {
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
        if original.is_none() && !self.create {
            return Err(failed_rc(257, format!("Path {path} does not exist !")));
        }
        if original.is_none() && !self.block.present {
            let mut plan = Plan::ok();
            plan.result.insert("changed".into(), false.into());
            plan.result.insert("msg".into(), format!("File {path} not present").into());
            return Ok(plan);
        }
        let new = edit(original.as_deref(), &self.block)?;
        let (changed, msg) = match &original {
            Some(o) if *o == new => (false, ""),
            None => (true, "File created"),
            Some(_) if !self.block.present || self.block.text.is_empty() => (true, "Block removed"),
            Some(_) => (true, "Block inserted"),
        };
        Ok(edit_plan(
            path,
            &st,
            changed,
            &new,
            msg.to_owned(),
            &self.attrs,
            self.backup,
            self.create,
            self.validate.as_deref(),
        ))
    }

    fn finish(&mut self, plan: Plan, out: &ExecOutput) -> Result<Plan, ModuleError> {
        let (mut plan, st) = file_write::finish(plan, out)?;
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

    fn block(text: &str, place: Place) -> Block {
        Block {
            present: true,
            text: text.as_bytes().to_vec(),
            begin: b"# BEGIN ANSIBLE MANAGED BLOCK".to_vec(),
            end: b"# END ANSIBLE MANAGED BLOCK".to_vec(),
            place,
            prepend_newline: false,
            append_newline: false,
        }
    }

    fn s(v: Vec<u8>) -> String {
        String::from_utf8(v).unwrap()
    }

    const B: &str = "# BEGIN ANSIBLE MANAGED BLOCK\n";
    const E: &str = "# END ANSIBLE MANAGED BLOCK\n";

    #[test]
    fn block_goes_to_eof_and_is_replaced_in_place() {
        let out = s(edit(Some(b"a\nb"), &block("x\ny", Place::Eof)).unwrap());
        assert_eq!(out, format!("a\nb\n{B}x\ny\n{E}"));
        let again = s(edit(Some(out.as_bytes()), &block("x\ny", Place::Eof)).unwrap());
        assert_eq!(again, out, "idempotent");
        let changed = s(edit(Some(out.as_bytes()), &block("z", Place::Bof)).unwrap());
        assert_eq!(changed, format!("a\nb\n{B}z\n{E}"), "replaced where it is");
    }

    #[test]
    fn insertafter_insertbefore_and_bof() {
        let re = |p| compile("insertafter", p).unwrap();
        let orig = b"[a]\n1\n[b]\n2\n";
        let out = s(edit(Some(orig), &block("x", Place::After(re(r"^\[a\]$")))).unwrap());
        assert_eq!(out, format!("[a]\n{B}x\n{E}1\n[b]\n2\n"));
        let out = s(edit(Some(orig), &block("x", Place::Before(re(r"^\[b\]")))).unwrap());
        assert_eq!(out, format!("[a]\n1\n{B}x\n{E}[b]\n2\n"));
        let out = s(edit(Some(orig), &block("x", Place::Bof)).unwrap());
        assert_eq!(out, format!("{B}x\n{E}[a]\n1\n[b]\n2\n"));
        let out = s(edit(Some(orig), &block("x", Place::After(re("^nope")))).unwrap());
        assert_eq!(out, format!("[a]\n1\n[b]\n2\n{B}x\n{E}"));
        let out = s(edit(Some(orig), &block("x", Place::After(re(r"(?m)^1$")))).unwrap());
        assert_eq!(out, format!("[a]\n1\n{B}x\n{E}[b]\n2\n"));
    }

    #[test]
    fn absent_or_empty_block_removes_it() {
        let orig = format!("a\n{B}x\n{E}b\n");
        let mut b = block("", Place::Eof);
        assert_eq!(s(edit(Some(orig.as_bytes()), &b).unwrap()), "a\nb\n");
        b.text = b"x".to_vec();
        b.present = false;
        assert_eq!(s(edit(Some(orig.as_bytes()), &b).unwrap()), "a\nb\n");
    }

    #[test]
    fn blank_lines_around_the_block() {
        let mut b = block("x", Place::After(compile("i", "^a").unwrap()));
        b.prepend_newline = true;
        b.append_newline = true;
        assert_eq!(s(edit(Some(b"a\nc\n"), &b).unwrap()), format!("a\n\n{B}x\n{E}\nc\n"));
    }

    #[test]
    fn splitlines_like_python() {
        assert_eq!(
            splitlines(b"a\r\nb\rc\nd"),
            vec![b"a\r\n".to_vec(), b"b\r".to_vec(), b"c\n".to_vec(), b"d".to_vec()]
        );
    }

    fn prepare(v: Value) -> Box<dyn Action> {
        BlockInFile.prepare(&Args::new(&SPEC, v.as_object().unwrap().clone()), &FakeCtx::default()).unwrap()
    }

    #[test]
    fn compare_on_canned_probes() {
        let content = format!("a\n{B}x\n{E}");
        let probe = format!(
            "stead-file-state 1\nparent-dir\nstat 81a4 0 0 1 1 1 1 1 1 1 root root\n\
             sha256 bb\ncontent {}\n{content}\nend\n",
            content.len()
        );
        let out = ExecOutput { status: 0, stdout: probe.into_bytes(), stderr: vec![] };
        let mut a = prepare(json!({"path": "/f", "block": "x"}));
        let plan = a.compare(Some(&out)).unwrap();
        assert!(!plan.changed);
        let mut a = prepare(json!({"path": "/f 'q'", "block": "y", "marker": "// {mark}"}));
        let plan = a.compare(Some(&out)).unwrap();
        assert!(plan.changed);
        assert_eq!(plan.result["msg"], "Block inserted");
        assert!(plan.apply.unwrap().script.contains(r"d='/f '\''q'\'''"));
        let mut a = prepare(json!({"path": "/f", "state": "absent"}));
        let plan = a.compare(Some(&out)).unwrap();
        assert_eq!(plan.result["msg"], "Block removed");
        assert!(plan.diff.unwrap().unified().contains("-x\n"));
        let missing =
            ExecOutput { status: 0, stdout: b"stead-file-state 1\nparent-dir\nend\n".to_vec(), stderr: vec![] };
        let mut a = prepare(json!({"path": "/f", "block": "x"}));
        assert!(a.compare(Some(&missing)).is_err());
    }

    #[test]
    fn real_block_in_a_hostile_path_is_idempotent() {
        let ctx = FakeCtx::default();
        let path = ctx.root().join(HOSTILE).join("new\nfile $(x)");
        let mut a = prepare(json!({
            "path": path.to_str().unwrap(),
            "block": "line 1\nline 2\n",
            "create": true,
            "mode": "0600",
        }));
        let out = run(&a.probe().unwrap(), b"");
        assert_eq!(out.status, 0, "{}", out.stderr_text());
        let plan = a.compare(Some(&out)).unwrap();
        assert_eq!(plan.result["msg"], "File created");
        let apply = plan.apply.clone().unwrap();
        let res = run(&apply.script, &apply.stdin);
        a.finish(plan, &res).unwrap();
        assert_eq!(s(std::fs::read(&path).unwrap()), format!("{B}line 1\nline 2\n{E}"));
        let out = run(&a.probe().unwrap(), b"");
        assert!(!a.compare(Some(&out)).unwrap().changed);
    }
}
