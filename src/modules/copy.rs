//! `copy`: put a file on the host, from a local file (`src`) or from text
//! (`content`), as Ansible's `ansible.builtin.copy`.
//!
//! The probe reads the destination (following a directory destination to
//! `dest/basename(src)`, as Ansible does); `compare` checks the SHA-256 of the
//! desired bytes against the remote one, then mode, owner and group. A change
//! is one atomic write (see [`super::file_write`]) with the content on stdin;
//! attribute-only changes are a `chmod`/`chown` script.
//!
//! With `remote_src: true` the source is a file on the host: one probe
//! reads it and the destination, and the write copies it on the host
//! (checked against the probed size and SHA-256 before the rename).
//!
//! [`PutFile`] is shared with `template`, which differs only in where the
//! bytes come from. This module never builds a shell string by hand: every
//! value goes through [`crate::transport::quote::quote`].

use serde_json::Value;

use super::file_state::{
    self, basename_of, content_diff, new_path_attrs, parent_of, sha256_hex, Attrs, FileKind, Probe,
};
use super::file_write::{self, WriteFile};
use super::{Action, ApplyScript, ArgKind, ArgSpec, Args, Diff, Module, ModuleError, ModuleSpec, Plan, TaskContext};
use crate::transport::ExecOutput;

/// The `copy` module.
pub struct Copy;

static SPEC: ModuleSpec = ModuleSpec::new(&[
    ArgSpec::new("src", ArgKind::Str),
    ArgSpec::new("content", ArgKind::Any),
    ArgSpec::new("dest", ArgKind::Str).required(),
    ArgSpec::new("mode", ArgKind::Mode),
    ArgSpec::new("owner", ArgKind::Str),
    ArgSpec::new("group", ArgKind::Str),
    ArgSpec::new("backup", ArgKind::Bool),
    ArgSpec::new("force", ArgKind::Bool).aliases(&["thirsty"]),
    ArgSpec::new("follow", ArgKind::Bool),
    ArgSpec::new("validate", ArgKind::Str),
    ArgSpec::new("decrypt", ArgKind::Bool),
    ArgSpec::new("remote_src", ArgKind::Bool),
])
.one_of(&[&["src", "content"]])
.exclusive(&[("src", "content")]);

impl Module for Copy {
    fn name(&self) -> &'static str {
        "copy"
    }
    fn local_file(&self) -> Option<super::LocalFile> {
        Some(super::LocalFile { arg: "src", subdir: "files", template: false })
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: &Args, ctx: &dyn TaskContext) -> Result<Box<dyn Action>, ModuleError> {
        let dest = args.str("dest")?;
        if args.bool_or("remote_src", false)? {
            if args.get("content").is_some() {
                return Err(ModuleError::Arg {
                    arg: "remote_src".into(),
                    message: "cannot be used with content; give src, a path on the host".into(),
                });
            }
            let src = args.str("src")?;
            if src.is_empty() {
                return Err(ModuleError::Arg { arg: "src".into(), message: "must not be empty".into() });
            }
            let put = PutFile::new(args, dest, Vec::new(), Some(src.clone()))?;
            return Ok(Box::new(
                PutFile { remote: Some(RemoteSource { path: src, size: 0 }), ..put }.in_check_mode(ctx.check_mode()),
            ));
        }
        let (content, src) = match args.get("content") {
            Some(value) => {
                if dest.ends_with('/') {
                    return Err(ModuleError::Arg {
                        arg: "dest".into(),
                        message: "can not use content with a dir as dest".into(),
                    });
                }
                (content_bytes(value), None)
            }
            None => {
                let name = args.str("src")?;
                let path = ctx.find_file(&name, "files")?;
                if path.is_dir() {
                    return Err(ModuleError::Arg {
                        arg: "src".into(),
                        message: format!("`{name}` is a directory; stead copies single files only"),
                    });
                }
                // A vault-encrypted source is decrypted unless `decrypt: false`, as in Ansible.
                let (bytes, _) = super::read_local_file(&path, args.bool_or("decrypt", true)?)?;
                (bytes, Some(name))
            }
        };
        Ok(Box::new(PutFile::new(args, dest, content, src)?.in_check_mode(ctx.check_mode())))
    }
}

/// `content` as bytes: text as is, anything else as JSON (as Ansible does).
fn content_bytes(value: &Value) -> Vec<u8> {
    match value {
        Value::String(s) => s.clone().into_bytes(),
        other => other.to_string().into_bytes(),
    }
}

/// Puts given bytes at a path: the action behind `copy` and `template`.
#[derive(Debug)]
pub struct PutFile {
    /// Destination as given (already joined with the basename when it ended in `/`).
    dest: String,
    /// When the destination is a directory, write `dest/this`.
    into_dir: Option<String>,
    content: Vec<u8>,
    sha256: String,
    attrs: Attrs,
    backup: bool,
    force: bool,
    follow: bool,
    make_parents: bool,
    validate: Option<String>,
    src: Option<String>,
    /// The final path (known after compare).
    path: String,
    /// Dry run: a missing parent directory may be created by an earlier task.
    check: bool,
    /// `remote_src`: the bytes are those of this file on the host.
    remote: Option<RemoteSource>,
}

/// The source of a `remote_src` copy; its size is known after the probe.
#[derive(Debug)]
struct RemoteSource {
    path: String,
    size: u64,
}

impl PutFile {
    /// Prepares a write of `content` to `dest`; `src` is the local name the
    /// bytes came from (its basename is used when `dest` is a directory).
    pub fn new(args: &Args, dest: String, content: Vec<u8>, src: Option<String>) -> Result<Self, ModuleError> {
        if dest.is_empty() {
            return Err(ModuleError::Arg { arg: "dest".into(), message: "must not be empty".into() });
        }
        let validate = args.opt_str("validate")?;
        file_write::check_validate(validate.as_deref())?;
        let base = src.as_deref().map(basename_of);
        let (dest, into_dir, make_parents) = match (&base, dest.ends_with('/')) {
            (Some(b), true) => (format!("{dest}{b}"), None, true),
            (base, _) => (dest, base.clone(), false),
        };
        Ok(PutFile {
            path: dest.clone(),
            dest,
            into_dir,
            sha256: sha256_hex(&content),
            content,
            attrs: Attrs::from_args(args)?,
            backup: args.bool_or("backup", false)?,
            force: args.bool_or("force", true)?,
            follow: args.bool_or("follow", false)?,
            make_parents,
            validate,
            src,
            check: false,
            remote: None,
        })
    }

    /// Marks a dry run: a missing parent directory is then reported as a
    /// change (an earlier task of the play may create it) instead of a failure.
    pub fn in_check_mode(mut self, check: bool) -> Self {
        self.check = check;
        self
    }
}

impl Action for PutFile {
    fn saw_missing_parent(&self, probe: &ExecOutput) -> bool {
        super::file_state::parent_missing(&probe.stdout)
    }
    fn paths(&self) -> Option<Vec<String>> {
        Some(vec![self.dest.clone()])
    }
    fn probe(&self) -> Option<String> {
        let dest = Probe::new(&self.dest).into_dir(self.into_dir.clone()).script();
        Some(match &self.remote {
            Some(r) => format!("{}{dest}", Probe::new(&r.path).script()),
            None => dest,
        })
    }

    fn compare(&mut self, probe: Option<&ExecOutput>) -> Result<Plan, ModuleError> {
        let st = match &mut self.remote {
            None => file_state::parse_output(probe)?,
            Some(remote) => {
                let (src, st) = file_state::parse_pair(probe)?;
                let path = &remote.path;
                if !src.exists {
                    return Err(ModuleError::failed(format!("Source {path} not found")));
                }
                if src.kind == FileKind::Dir {
                    return Err(ModuleError::failed(format!(
                        "remote_src: `{path}` is a directory; stead copies single files only"
                    )));
                }
                if src.unreadable {
                    return Err(ModuleError::failed(format!(
                        "cannot read {path} (permission denied; does the task need `become`?)"
                    )));
                }
                self.sha256 = src.sha256.clone().ok_or_else(|| ModuleError::Probe(format!("no checksum of {path}")))?;
                // A source too large to read back is compared and diffed by checksum.
                self.content = src.content.clone().unwrap_or_default();
                remote.size = src.size;
                st
            }
        };
        if st.into_dir {
            let base = self.into_dir.as_deref().unwrap_or_default();
            self.path = format!("{}/{base}", self.dest.trim_end_matches('/'));
        }
        let path = self.path.as_str();
        let mut plan = Plan::ok();
        plan.result.insert("dest".into(), path.into());
        if let Some(src) = &self.src {
            plan.result.insert("src".into(), src.as_str().into());
        }
        if st.exists && st.kind == FileKind::Dir {
            return Err(ModuleError::failed(format!("dest `{path}` is a directory; give a file path")));
        }
        if !st.parent_dir && !self.make_parents {
            let msg = format!("Destination directory {} does not exist", parent_of(path));
            if !self.check {
                return Err(ModuleError::failed(msg));
            }
            // stead plan shows the whole picture: the file would be created
            // once an earlier task has made its directory (a real run still fails
            // here if none does). Ansible fails the dry run instead.
            let mut plan = Plan { changed: true, ..Plan::ok() };
            plan.result.insert("dest".into(), path.into());
            plan.diff = Some(Diff::file(path, "", &String::from_utf8_lossy(&self.content)));
            plan.msg = Some(format!("{msg} yet; it would be written once it does"));
            return Ok(plan);
        }
        if st.exists && !self.force {
            file_write::fill_state(&mut plan.result, &st);
            plan.result.insert("changed".into(), false.into());
            return Ok(plan);
        }
        if st.unreadable {
            return Err(ModuleError::failed(format!(
                "cannot read {path} to compare it (permission denied; does the task need `become`?)"
            )));
        }
        let replace_link = st.is_link() && !self.follow;
        let same_content = st.exists
            && st.kind == FileKind::File
            && st.sha256.as_deref() == Some(self.sha256.as_str())
            && !replace_link;
        if same_content {
            let changes = self.attrs.changes(&st);
            file_write::fill_state(&mut plan.result, &st);
            if changes.is_empty() {
                plan.result.insert("changed".into(), false.into());
                return Ok(plan);
            }
            let (before, after) = changes.pairs();
            let script = file_write::attrs_script(path, true, &self.attrs, &changes, false, false);
            let mut change = Plan::change(ApplyScript { script, stdin: Vec::new() })
                .with_diff(Some(Diff::state(path, &before, &after)));
            change.result = plan.result;
            change.result.insert("changed".into(), true.into());
            return Ok(change);
        }
        let writes_over_file = st.exists && st.kind == FileKind::File && !replace_link;
        let changes = if writes_over_file { self.attrs.changes(&st) } else { new_path_attrs(&self.attrs, false) };
        let diff = match &self.remote {
            Some(r) if self.content.len() as u64 != r.size => {
                let old = match &st.sha256 {
                    Some(sum) if writes_over_file => format!("sha256:{sum}"),
                    _ => "absent".to_owned(),
                };
                Diff::state(path, &[("content", old)], &[("content", format!("sha256:{}", self.sha256))])
            }
            _ => content_diff(path, &st, &self.content, &self.sha256, &changes),
        };
        let write = WriteFile {
            dest: path,
            content: &self.content,
            follow: self.follow,
            attrs: &self.attrs,
            current: &st,
            backup: self.backup,
            make_parents: self.make_parents,
            validate: self.validate.as_deref(),
            expect: None,
        };
        let apply = match &self.remote {
            Some(r) => ApplyScript { script: write.script_from_host(&r.path, r.size, &self.sha256), stdin: Vec::new() },
            None => write.apply(),
        };
        let mut change = Plan::change(apply).with_diff(Some(diff));
        change.result = plan.result;
        if writes_over_file {
            file_write::fill_state(&mut change.result, &st);
        }
        change.result.insert("changed".into(), true.into());
        Ok(change)
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
    use serde_json::json;

    fn args(v: Value) -> Args {
        Args::new(&SPEC, v.as_object().unwrap().clone())
    }

    fn canned(body: &[u8]) -> ExecOutput {
        ExecOutput { status: 0, stdout: body.to_vec(), stderr: Vec::new() }
    }

    fn prepare(v: Value) -> Box<dyn Action> {
        Copy.prepare(&args(v), &FakeCtx::default()).unwrap()
    }

    #[test]
    fn file_modules_are_registered_under_both_names() {
        for name in ["copy", "template", "file", "lineinfile", "blockinfile", "stat"] {
            assert_eq!(crate::modules::lookup(name).map(|m| m.name()), Some(name));
            let fq = format!("ansible.builtin.{name}");
            assert!(crate::modules::lookup(&fq).is_some(), "{fq}");
        }
    }

    const HELLO_SHA: &str = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";

    #[test]
    fn same_content_and_mode_is_ok() {
        let mut a = prepare(json!({"content": "hello\n", "dest": "/etc/motd", "mode": "0644"}));
        let probe = format!(
            "stead-file-state 1\nparent-dir\nstat 81a4 0 0 6 1 1 1 1 1 1 root root\n\
             sha256 {HELLO_SHA}\ncontent 6\nhello\n\nend\n"
        );
        let plan = a.compare(Some(&canned(probe.as_bytes()))).unwrap();
        assert!(!plan.changed);
        assert!(plan.apply.is_none());
        assert_eq!(plan.result["mode"], "0644");
        assert_eq!(plan.result["dest"], "/etc/motd");
    }

    #[test]
    fn mode_only_change_is_a_chmod_with_a_state_diff() {
        let mut a = prepare(json!({"content": "hello\n", "dest": "/etc/motd", "mode": "0600"}));
        let probe = format!(
            "stead-file-state 1\nparent-dir\nstat 81a4 0 0 6 1 1 1 1 1 1 root root\n\
             sha256 {HELLO_SHA}\ncontent 6\nhello\n\nend\n"
        );
        let plan = a.compare(Some(&canned(probe.as_bytes()))).unwrap();
        assert!(plan.changed);
        let apply = plan.apply.unwrap();
        assert!(apply.script.contains("chmod 00600 -- \"$d\""));
        assert!(apply.stdin.is_empty());
        let diff = plan.diff.unwrap();
        assert_eq!((diff.before.as_str(), diff.after.as_str()), ("mode: 0644\n", "mode: 0600\n"));
    }

    #[test]
    fn new_content_is_a_unified_diff_and_content_travels_on_stdin() {
        let dest = "/tmp/x y/$(rm -rf ~)'.conf";
        let mut a = prepare(json!({"content": "new\n", "dest": dest, "backup": true}));
        let probe = b"stead-file-state 1\nparent-dir\nstat 81a4 0 0 4 1 1 1 1 1 1 root root\n\
             sha256 00\ncontent 4\nold\n\nend\n";
        let plan = a.compare(Some(&canned(probe))).unwrap();
        assert!(plan.changed);
        let diff = plan.diff.unwrap().unified();
        assert!(diff.contains("-old\n+new\n"), "{diff}");
        let apply = plan.apply.unwrap();
        assert_eq!(apply.stdin, b"new\n");
        assert!(!apply.script.contains("new\n"), "content is never in the script");
        assert!(apply.script.contains(r"d='/tmp/x y/$(rm -rf ~)'\''.conf'"), "{}", apply.script);
        // The existing file's mode is kept.
        assert!(apply.script.contains("chmod 00644 -- \"$tmp\""));
    }

    #[test]
    fn force_false_leaves_an_existing_file() {
        let mut a = prepare(json!({"content": "new\n", "dest": "/f", "force": false}));
        let probe = b"stead-file-state 1\nparent-dir\nstat 81a4 0 0 4 1 1 1 1 1 1 root root\n\
             sha256 00\nend\n";
        assert!(!a.compare(Some(&canned(probe))).unwrap().changed);
    }

    #[test]
    fn missing_parent_directory_fails_a_real_run() {
        let mut a = prepare(json!({"content": "x", "dest": "/nope/f"}));
        let err = a.compare(Some(&canned(b"stead-file-state 1\nend\n"))).unwrap_err();
        assert!(err.to_string().contains("/nope does not exist"), "{err}");
    }

    #[test]
    fn missing_parent_directory_is_a_pending_change_in_check_mode() {
        let mut a = PutFile::new(&args(json!({"dest": "/nope/f"})), "/nope/f".into(), b"x".to_vec(), None)
            .unwrap()
            .in_check_mode(true);
        let plan = a.compare(Some(&canned(b"stead-file-state 1\nend\n"))).unwrap();
        assert!(plan.changed && plan.apply.is_none());
        assert!(plan.diff.unwrap().unified().contains("+x"));
    }

    #[test]
    fn a_symlink_is_replaced_unless_follow() {
        let probe = format!(
            "stead-file-state 1\nparent-dir\nlink 6\n/a/b/c\nstat 81a4 0 0 6 1 1 1 1 1 1 root root\n\
             sha256 {HELLO_SHA}\ncontent 6\nhello\n\nend\n"
        );
        let mut a = prepare(json!({"content": "hello\n", "dest": "/l"}));
        assert!(a.compare(Some(&canned(probe.as_bytes()))).unwrap().changed);
        let mut a = prepare(json!({"content": "hello\n", "dest": "/l", "follow": true}));
        assert!(!a.compare(Some(&canned(probe.as_bytes()))).unwrap().changed);
    }

    #[test]
    fn binary_content_diffs_by_checksum() {
        let mut a = prepare(json!({"content": "x", "dest": "/f"}));
        let probe = b"stead-file-state 1\nparent-dir\nstat 81a4 0 0 1 1 1 1 1 1 1 root root\n\
             sha256 ab\ncontent 1\n\xff\nend\n";
        let diff = a.compare(Some(&canned(probe))).unwrap().diff.unwrap();
        assert_eq!(diff.before, "content: sha256:ab\n");
    }

    #[test]
    fn content_with_a_directory_dest_is_refused() {
        let e = Copy.prepare(&args(json!({"content": "x", "dest": "/etc/"})), &FakeCtx::default()).err().unwrap();
        assert!(e.to_string().contains("dir as dest"));
    }

    /// Runs probe → compare → apply → probe → compare with the local `sh`.
    fn converge(action: &mut dyn Action) -> (Plan, Plan) {
        let out = run(&action.probe().unwrap(), b"");
        assert_eq!(out.status, 0, "{}", out.stderr_text());
        let plan = action.compare(Some(&out)).unwrap();
        let first = match &plan.apply {
            Some(apply) => {
                let res = run(&apply.script, &apply.stdin);
                action.finish(plan, &res).unwrap()
            }
            None => plan,
        };
        let out = run(&action.probe().unwrap(), b"");
        let second = action.compare(Some(&out)).unwrap();
        (first, second)
    }

    #[test]
    fn real_copy_from_src_into_a_hostile_directory_is_idempotent() {
        let ctx = FakeCtx::default();
        ctx.add_file("files/app.conf", b"key = value\n");
        let dir = ctx.root().join(HOSTILE);
        std::fs::create_dir(&dir).unwrap();
        let dest = dir.to_str().unwrap().to_owned();
        let mut a = Copy.prepare(&args(json!({"src": "app.conf", "dest": dest, "mode": "u=rw,g=r,o="})), &ctx).unwrap();
        let (first, second) = converge(a.as_mut());
        assert!(first.changed);
        assert_eq!(first.result["mode"], "0640");
        assert!(first.result["dest"].as_str().unwrap().ends_with("/app.conf"));
        assert!(!second.changed, "{:?}", second.diff);
        assert_eq!(std::fs::read(dir.join("app.conf")).unwrap(), b"key = value\n");
    }

    #[test]
    fn real_large_binary_file_is_compared_by_checksum() {
        let ctx = FakeCtx::default();
        let big: Vec<u8> = (0..400_000u32).map(|i| (i % 251) as u8).collect();
        ctx.add_file("files/blob", &big);
        let dest = ctx.root().join("out/");
        std::fs::create_dir(&dest).unwrap();
        let mut a = Copy.prepare(&args(json!({"src": "blob", "dest": dest.to_str().unwrap()})), &ctx).unwrap();
        let (first, second) = converge(a.as_mut());
        assert!(first.changed);
        assert!(!second.changed);
        assert_eq!(std::fs::read(dest.join("blob")).unwrap(), big);
    }
}
