//! `file`: make a path a file, a directory, a symlink, or nothing, with the
//! requested mode, owner and group, as Ansible's `ansible.builtin.file`.
//!
//! States: `file` (attributes of an existing file; a missing one is an
//! error), `directory` (created with its missing parents, each given the
//! requested attributes, as Ansible does; `recurse` applies them to the
//! whole tree), `absent`, `touch` (always changed), and `link` (`src`,
//! `force`). Without `state`, an existing path keeps its kind and a missing
//! one is an error (or a directory with `recurse`).
//!
//! One probe reads the path (and, with `recurse`, the distinct attributes
//! below it); `compare` is pure and yields one script. This module never
//! builds a shell string by hand: every value goes through
//! [`crate::transport::quote::quote`].

use super::file_state::{self, new_path_attrs, parent_of, Attrs, FileKind, FileState};
use super::file_write::{self, attr_commands, prelude, report_final_state};
use super::{
    Action, ApplyScript, ArgKind, ArgSpec, Args, Diff, Module, ModuleError, ModuleSpec, Plan, ResultMap, TaskContext,
};
use crate::transport::quote::quote;
use crate::transport::ExecOutput;

/// The `file` module.
pub struct File;

const STATES: &[&str] = &["file", "directory", "absent", "touch", "link"];

static SPEC: ModuleSpec = ModuleSpec::new(&[
    ArgSpec::new("path", ArgKind::Str).required().aliases(&["dest", "name"]),
    ArgSpec::new("state", ArgKind::Str).choices(STATES),
    ArgSpec::new("mode", ArgKind::Mode),
    ArgSpec::new("owner", ArgKind::Str),
    ArgSpec::new("group", ArgKind::Str),
    ArgSpec::new("recurse", ArgKind::Bool),
    ArgSpec::new("src", ArgKind::Str),
    ArgSpec::new("force", ArgKind::Bool),
    ArgSpec::new("follow", ArgKind::Bool),
    ArgSpec::new("modification_time", ArgKind::Str),
    ArgSpec::new("access_time", ArgKind::Str),
    ArgSpec::new("modification_time_format", ArgKind::Str),
    ArgSpec::new("access_time_format", ArgKind::Str),
]);

/// The requested state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    File,
    Directory,
    Absent,
    Touch,
    Link,
}

impl Module for File {
    fn name(&self) -> &'static str {
        "file"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: &Args, _ctx: &dyn TaskContext) -> Result<Box<dyn Action>, ModuleError> {
        let want = match args.opt_str("state")? {
            None => None,
            Some(_) => Some(match args.choice_or("state", STATES, "file")?.as_str() {
                "directory" => Want::Directory,
                "absent" => Want::Absent,
                "touch" => Want::Touch,
                "link" => Want::Link,
                _ => Want::File,
            }),
        };
        let recurse = args.bool_or("recurse", false)?;
        if recurse && !matches!(want, None | Some(Want::Directory)) {
            return Err(ModuleError::Arg {
                arg: "recurse".into(),
                message: "recurse option requires state to be 'directory'".into(),
            });
        }
        let time = |name: &str| -> Result<Option<String>, ModuleError> {
            let v = args.opt_str(name)?;
            match v.as_deref() {
                None | Some("preserve") | Some("now") => Ok(v),
                Some(other) => Err(ModuleError::Arg {
                    arg: name.into(),
                    message: format!("only `preserve` and `now` are supported, not `{other}`"),
                }),
            }
        };
        let (mtime, atime) = (time("modification_time")?, time("access_time")?);
        let preserve_times = mtime.as_deref() == Some("preserve") && atime.as_deref() == Some("preserve");
        let path = args.str("path")?;
        if path.is_empty() {
            return Err(ModuleError::Arg { arg: "path".into(), message: "must not be empty".into() });
        }
        Ok(Box::new(FileAction {
            path,
            want,
            attrs: Attrs::from_args(args)?,
            recurse,
            src: args.opt_str("src")?,
            force: args.bool_or("force", false)?,
            follow: args.bool_or("follow", true)?,
            preserve_times,
        }))
    }
}

/// One `file` task on one host.
#[derive(Debug)]
pub struct FileAction {
    path: String,
    want: Option<Want>,
    attrs: Attrs,
    recurse: bool,
    src: Option<String>,
    force: bool,
    follow: bool,
    /// `touch` keeps the times of an existing file (both times `preserve`).
    preserve_times: bool,
}

/// Every directory `mkdir` must create for `path`, outermost first, as
/// Ansible walks them (each gets the requested attributes).
fn ancestors(path: &str) -> Vec<String> {
    let absolute = path.starts_with('/');
    let mut out = Vec::new();
    let mut cur = String::new();
    for part in path.trim_matches('/').split('/') {
        cur = format!("{cur}/{part}");
        out.push(if absolute { cur.clone() } else { cur.trim_start_matches('/').to_owned() });
    }
    out
}

fn fail(msg: String, path: &str) -> ModuleError {
    let mut result = ResultMap::new();
    result.insert("path".into(), path.into());
    ModuleError::Failed { msg, result }
}

fn state_pairs(kind: &str, extra: Vec<(&'static str, String)>) -> Vec<(&'static str, String)> {
    let mut v = vec![("state", kind.to_owned())];
    v.extend(extra);
    v
}

impl FileAction {
    fn probe_follows(&self) -> bool {
        self.follow && !matches!(self.want, Some(Want::Absent | Want::Link))
    }

    fn plan(&self, script: String, diff: Diff) -> Plan {
        let mut plan = Plan::change(ApplyScript { script, stdin: Vec::new() }).with_diff(Some(diff));
        plan.result.insert("path".into(), self.path.as_str().into());
        plan.result.insert("changed".into(), true.into());
        plan
    }

    fn ok(&self, st: &FileState) -> Plan {
        let mut plan = Plan::ok();
        plan.result.insert("path".into(), self.path.as_str().into());
        plan.result.insert("changed".into(), false.into());
        file_write::fill_state(&mut plan.result, st);
        plan
    }

    /// Attribute changes on an existing path (and its tree with `recurse`).
    fn attrs_plan(&self, st: &FileState, no_deref: bool) -> Plan {
        let changes = self.attrs.changes(st);
        let tree = self.recurse && self.attrs.tree_differs(&st.tree);
        if changes.is_empty() && !tree {
            return self.ok(st);
        }
        let mut s = prelude(&self.path, false);
        // With a trailing slash, a symlink to the directory is followed.
        let target = if self.recurse { "\"$d/\"" } else { "\"$d\"" };
        s.push_str(&attr_commands(target, &self.attrs, &changes, self.recurse, no_deref));
        s.push_str(&report_final_state(self.follow));
        let (mut before, mut after) = changes.pairs();
        if tree {
            before.push(("recursive", "differs".into()));
            after.push(("recursive", "applied".into()));
        }
        let mut plan = self.plan(s, Diff::state(&self.path, &before, &after));
        file_write::fill_state(&mut plan.result, st);
        plan
    }

    fn directory(&self, st: &FileState) -> Result<Plan, ModuleError> {
        let path = &self.path;
        if st.exists && st.kind == FileKind::Dir {
            return Ok(self.attrs_plan(st, false));
        }
        if st.exists || st.is_link() {
            let kind = if st.is_link() && !st.exists { "link" } else { st.kind.ansible_name() };
            return Err(fail(format!("{path} already exists as a {kind}"), path));
        }
        let mode = self.attrs.target_mode(None, true);
        let new_attrs = new_path_attrs(&self.attrs, true);
        let mut s = prelude(path, false);
        for dir in ancestors(path) {
            let q = quote(&dir);
            // Another run may create the same parent at the same moment
            // (hosts sharing a filesystem); that is not a failure, as it is
            // not in Ansible. Any other error is mkdir's own message.
            s.push_str(&format!("if [ ! -d {q} ]; then\n  mkdir -- {q} 2>/dev/null || [ -d {q} ] || mkdir -- {q}\n"));
            if let Some(m) = mode {
                s.push_str(&format!("  chmod 0{m:04o} -- {q}\n"));
            }
            if let Some(o) = &self.attrs.owner {
                s.push_str(&format!("  chown -- {} {q}\n", quote(o)));
            }
            if let Some(g) = &self.attrs.group {
                s.push_str(&format!("  chgrp -- {} {q}\n", quote(g)));
            }
            s.push_str("fi\n");
        }
        s.push_str(&report_final_state(true));
        let (_, after) = new_attrs.pairs();
        Ok(self.plan(s, Diff::state(path, &state_pairs("absent", vec![]), &state_pairs("directory", after))))
    }

    fn absent(&self, st: &FileState) -> Result<Plan, ModuleError> {
        let path = &self.path;
        if !st.exists && !st.is_link() {
            return Ok(self.ok(st));
        }
        if path.trim_end_matches('/').is_empty() {
            return Err(fail("refusing to remove /".into(), path));
        }
        let before = if st.is_link() { "link" } else { st.kind.ansible_name() };
        let mut s = prelude(path, false);
        s.push_str("rm -rf -- \"$d\"\n");
        s.push_str(&report_final_state(false));
        Ok(self.plan(s, Diff::state(path, &state_pairs(before, vec![]), &state_pairs("absent", vec![]))))
    }

    fn touch(&self, st: &FileState) -> Result<Plan, ModuleError> {
        let path = &self.path;
        if !st.exists && !st.parent_dir {
            return Err(fail(
                format!("Error, could not touch target: directory {} does not exist", parent_of(path)),
                path,
            ));
        }
        let changes = if st.exists { self.attrs.changes(st) } else { new_path_attrs(&self.attrs, false) };
        if st.exists && self.preserve_times {
            // Only attributes can change; with none to change, the file is as wanted.
            return Ok(self.attrs_plan(st, false));
        }
        let mut s = prelude(path, false);
        s.push_str("touch -- \"$d\"\n");
        s.push_str(&attr_commands("\"$d\"", &self.attrs, &changes, false, false));
        s.push_str(&report_final_state(self.follow));
        let before = if st.exists { st.kind.ansible_name() } else { "absent" };
        let (b, a) = if st.exists { changes.pairs() } else { (Vec::new(), changes.pairs().1) };
        let after = if st.exists { "touched" } else { "file" };
        Ok(self.plan(s, Diff::state(path, &state_pairs(before, b), &state_pairs(after, a))))
    }

    fn link(&self, st: &FileState) -> Result<Plan, ModuleError> {
        let path = &self.path;
        let src = match (&self.src, &st.link_target) {
            (Some(s), _) => s.clone(),
            (None, Some(t)) => t.clone(),
            (None, None) => return Err(fail("src option is required when state is 'link'".into(), path)),
        };
        if !self.force && !st.src_exists {
            let absrc = if src.starts_with('/') { src.clone() } else { format!("{}/{src}", parent_of(path)) };
            return Err(fail(
                format!("src file does not exist, use \"force=yes\" if you really want to create the link: {absrc}"),
                path,
            ));
        }
        if st.link_target.as_deref() == Some(src.as_str()) {
            let mut plan = self.attrs_plan(st, true);
            plan.result.insert("src".into(), src.into());
            return Ok(plan);
        }
        let mut s = prelude(path, false);
        let before = match st.kind {
            FileKind::Link => "link",
            FileKind::Absent => "absent",
            FileKind::Dir if self.force => {
                s.push_str("rmdir -- \"$d\" || die \"the directory $d is not empty, refusing to convert it\"\n");
                "directory"
            }
            FileKind::Dir => {
                return Err(fail(format!("refusing to convert from directory to symlink for {path}"), path))
            }
            _ if self.force => st.kind.ansible_name(),
            other => {
                return Err(fail(
                    format!("refusing to convert from {} to symlink for {path}", other.ansible_name()),
                    path,
                ))
            }
        };
        s.push_str(&format!("ln -sfn -- {} \"$d\"\n", quote(&src)));
        if let Some(o) = &self.attrs.owner {
            s.push_str(&format!("chown -h -- {} \"$d\"\n", quote(o)));
        }
        if let Some(g) = &self.attrs.group {
            s.push_str(&format!("chgrp -h -- {} \"$d\"\n", quote(g)));
        }
        s.push_str(&report_final_state(false));
        let mut before_pairs = state_pairs(before, vec![]);
        if let Some(t) = &st.link_target {
            before_pairs.push(("src", t.clone()));
        }
        let mut plan = self.plan(s, Diff::state(path, &before_pairs, &state_pairs("link", vec![("src", src.clone())])));
        plan.result.insert("src".into(), src.into());
        Ok(plan)
    }
}

impl Action for FileAction {
    fn saw_missing_parent(&self, probe: &ExecOutput) -> bool {
        super::file_state::parent_missing(&probe.stdout)
    }
    fn paths(&self) -> Option<Vec<String>> {
        Some(vec![self.path.clone()])
    }
    fn probe(&self) -> Option<String> {
        let is_link = self.want == Some(Want::Link);
        Some(
            file_state::Probe::new(&self.path)
                .follow(self.probe_follows())
                .sha256(false)
                .content_limit(None)
                .tree(self.recurse)
                .link_src(if is_link { self.src.clone() } else { None })
                .script(),
        )
    }

    fn compare(&mut self, probe: Option<&ExecOutput>) -> Result<Plan, ModuleError> {
        let st = file_state::parse_output(probe)?;
        let path = &self.path;
        let want = match self.want {
            Some(w) => w,
            None if st.is_link() && (!st.exists || st.kind == FileKind::Link) => {
                return Ok(self.attrs_plan(&st, true));
            }
            None if st.exists => match st.kind {
                FileKind::Dir => Want::Directory,
                FileKind::File => Want::File,
                _ => return Ok(self.attrs_plan(&st, false)),
            },
            None if self.recurse => Want::Directory,
            None => Want::File,
        };
        match want {
            Want::File => {
                if st.exists && st.kind == FileKind::File {
                    return Ok(self.attrs_plan(&st, false));
                }
                let kind = if st.kind == FileKind::Absent && st.is_link() { "absent" } else { st.kind.ansible_name() };
                Err(fail(format!("file ({path}) is {kind}, cannot continue"), path))
            }
            Want::Directory => self.directory(&st),
            Want::Absent => self.absent(&st),
            Want::Touch => self.touch(&st),
            Want::Link => self.link(&st),
        }
    }

    fn finish(&mut self, plan: Plan, out: &ExecOutput) -> Result<Plan, ModuleError> {
        let (mut plan, st) = file_write::finish(plan, out)?;
        if let Some(st) = st {
            file_write::fill_state(&mut plan.result, &st);
        }
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::file_write::testing::{run, FakeCtx, HOSTILE};
    use serde_json::{json, Value};
    use std::os::unix::fs::PermissionsExt;

    fn prepare(v: Value) -> Box<dyn Action> {
        File.prepare(&Args::new(&SPEC, v.as_object().unwrap().clone()), &FakeCtx::default()).unwrap()
    }

    fn canned(s: &str) -> ExecOutput {
        ExecOutput { status: 0, stdout: s.as_bytes().to_vec(), stderr: vec![] }
    }

    const DIR: &str = "stead-file-state 1\nparent-dir\nstat 41ed 0 0 4096 1 1 1 1 1 1 root root\nend\n";
    const FILE: &str = "stead-file-state 1\nparent-dir\nstat 81a4 0 0 1 1 1 1 1 1 1 root root\nend\n";
    const NONE: &str = "stead-file-state 1\nparent-dir\nend\n";

    #[test]
    fn ancestors_like_ansible() {
        assert_eq!(ancestors("/a/b"), vec!["/a", "/a/b"]);
        assert_eq!(ancestors("a/b/"), vec!["a", "a/b"]);
    }

    #[test]
    fn directory_states() {
        let mut a = prepare(json!({"path": "/srv/x", "state": "directory", "mode": "0755"}));
        assert!(!a.compare(Some(&canned(DIR))).unwrap().changed);
        let plan = a.compare(Some(&canned(NONE))).unwrap();
        assert!(plan.changed);
        let d = plan.diff.unwrap();
        assert_eq!(d.before, "state: absent\n");
        assert_eq!(d.after, "state: directory\nmode: 0755\n");
        let e = a.compare(Some(&canned(FILE))).unwrap_err();
        assert!(e.to_string().contains("already exists as a file"));
    }

    #[test]
    fn file_state_needs_an_existing_file() {
        let mut a = prepare(json!({"path": "/x", "state": "file", "owner": "bob"}));
        let e = a.compare(Some(&canned(NONE))).unwrap_err();
        assert_eq!(e.to_string(), "file (/x) is absent, cannot continue");
        let plan = a.compare(Some(&canned(FILE))).unwrap();
        assert!(plan.changed);
        assert!(plan.apply.unwrap().script.contains("chown -- bob \"$d\""));
        // Default state: the current one.
        let mut a = prepare(json!({"path": "/x", "mode": "0644"}));
        assert!(!a.compare(Some(&canned(FILE))).unwrap().changed);
        assert!(a.compare(Some(&canned(NONE))).is_err());
    }

    #[test]
    fn absent_and_touch() {
        let mut a = prepare(json!({"path": "/x y", "state": "absent"}));
        assert!(!a.compare(Some(&canned(NONE))).unwrap().changed);
        let plan = a.compare(Some(&canned(DIR))).unwrap();
        assert!(plan.apply.unwrap().script.contains("d='/x y'\nrm -rf -- \"$d\""));
        let mut a = prepare(json!({"path": "/x", "state": "touch"}));
        assert!(a.compare(Some(&canned(FILE))).unwrap().changed);
    }

    #[test]
    fn link_states() {
        let link = "stead-file-state 1\nparent-dir\nsrc-exists\nlink 4\n/tgt\n\
                    stat a1ff 0 0 4 1 1 1 1 1 1 root root\nend\n";
        let mut a = prepare(json!({"path": "/l", "state": "link", "src": "/tgt"}));
        assert!(!a.compare(Some(&canned(link))).unwrap().changed);
        let mut a = prepare(json!({"path": "/l", "state": "link", "src": "/other"}));
        let missing_src = link.replace("src-exists\n", "");
        let e = a.compare(Some(&canned(&missing_src))).unwrap_err();
        assert!(e.to_string().contains("src file does not exist"));
        let mut a = prepare(json!({"path": "/l", "state": "link", "src": "/other", "force": true}));
        let plan = a.compare(Some(&canned(link))).unwrap();
        assert!(plan.apply.unwrap().script.contains("ln -sfn -- /other \"$d\""));
        let file = FILE.replace("parent-dir\n", "parent-dir\nsrc-exists\n");
        let mut a = prepare(json!({"path": "/l", "state": "link", "src": "/tgt"}));
        let e = a.compare(Some(&canned(&file))).unwrap_err();
        assert!(e.to_string().contains("refusing to convert from file"));
    }

    #[test]
    fn recurse_compares_the_tree() {
        let tree = "stead-file-state 1\nparent-dir\nstat 41ed 0 0 4096 1 1 1 1 1 1 root root\n\
                    tree\n41ed 0 0 root root\n81a4 0 0 root root\nend-tree\nend\n";
        let mut a = prepare(json!({"path": "/d", "state": "directory", "recurse": true, "mode": "u=rwX,go=rX"}));
        assert!(!a.compare(Some(&canned(tree))).unwrap().changed);
        let mut a = prepare(json!({"path": "/d", "recurse": true, "owner": "bob"}));
        let plan = a.compare(Some(&canned(tree))).unwrap();
        assert!(plan.changed);
        assert!(plan.apply.unwrap().script.contains("chown -R -h -- bob \"$d/\""));
    }

    fn converge(v: Value) -> (Plan, Plan) {
        let mut a = prepare(v);
        let out = run(&a.probe().unwrap(), b"");
        assert_eq!(out.status, 0, "{}", out.stderr_text());
        let plan = a.compare(Some(&out)).unwrap();
        let first = match plan.apply.clone() {
            Some(apply) => {
                let res = run(&apply.script, &apply.stdin);
                a.finish(plan, &res).unwrap()
            }
            None => plan,
        };
        let out = run(&a.probe().unwrap(), b"");
        (first, a.compare(Some(&out)).unwrap())
    }

    #[test]
    fn real_directory_link_and_absent_in_a_hostile_path() {
        let ctx = FakeCtx::default();
        let base = ctx.root().join(HOSTILE);
        let dir = base.join("a b/c'd");
        let dir_s = dir.to_str().unwrap();
        let (first, second) = converge(json!({"path": dir_s, "state": "directory", "mode": "0750"}));
        assert!(first.changed && !second.changed);
        assert_eq!(first.result["mode"], "0750");
        for d in [&base, &dir] {
            let mode = std::fs::metadata(d).unwrap().permissions().mode() & 0o7777;
            assert_eq!(mode, 0o750, "every created directory gets the mode");
        }
        std::fs::write(dir.join("f"), b"x").unwrap();
        let (first, second) =
            converge(json!({"path": base.to_str().unwrap(), "recurse": true, "mode": "u=rwX,g=rX,o="}));
        assert!(first.changed && !second.changed);
        let mode = std::fs::metadata(dir.join("f")).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o640);

        let link = base.join("li\nnk");
        let link_s = link.to_str().unwrap();
        let (first, second) = converge(json!({"path": link_s, "state": "link", "src": "a b"}));
        assert!(first.changed && !second.changed, "{:?}", second.diff);
        assert_eq!(std::fs::read_link(&link).unwrap().to_str(), Some("a b"));

        let (first, second) = converge(json!({"path": link_s, "state": "touch"}));
        assert!(first.changed && second.changed, "touch always changes");

        let (first, second) = converge(json!({"path": dir_s, "state": "absent"}));
        assert!(first.changed && !second.changed);
        assert!(!dir.exists());
        assert!(!std::path::Path::new("pwned").exists());
    }
}
