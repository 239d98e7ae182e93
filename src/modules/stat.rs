//! `stat`: report what is at a path, as Ansible's `ansible.builtin.stat`.
//! Never changes anything.
//!
//! One probe (see [`super::file_state`]) and a pure translation of the
//! [`FileState`] into Ansible's `stat` dictionary: `exists`, `path`, `mode`
//! (`'0644'`), `isdir`, `isreg`, `islnk`, `uid`, `gid`, `pw_name`, `gr_name`,
//! `size`, `mtime`, `checksum` (SHA-1 by default, via coreutils' `sha1sum`),
//! `lnk_target`, and more. This module never builds a shell string by hand:
//! every value goes through [`crate::transport::quote::quote`].

use serde_json::{json, Map, Value};

use super::file_state::{self, FileKind, FileState, Probe};
use super::{Action, ArgKind, ArgSpec, Args, Module, ModuleError, ModuleSpec, Plan, TaskContext};
use crate::transport::ExecOutput;

/// The `stat` module.
pub struct Stat;

/// Checksum algorithms, each with its coreutils `ALGOsum` tool.
const ALGORITHMS: &[&str] = &["md5", "sha1", "sha224", "sha256", "sha384", "sha512"];

static SPEC: ModuleSpec = ModuleSpec::new(&[
    ArgSpec::new("path", ArgKind::Str).required().aliases(&["dest", "name"]),
    ArgSpec::new("follow", ArgKind::Bool),
    ArgSpec::new("get_checksum", ArgKind::Bool),
    ArgSpec::new("checksum_algorithm", ArgKind::Str).aliases(&["checksum", "checksum_algo"]).choices(ALGORITHMS),
    ArgSpec::new("get_mime", ArgKind::Bool).aliases(&["mime", "mime_type", "mime-type"]),
    ArgSpec::new("get_attributes", ArgKind::Bool).aliases(&["attr", "attributes"]),
]);

impl Module for Stat {
    fn name(&self) -> &'static str {
        "stat"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: &Args, _ctx: &dyn TaskContext) -> Result<Box<dyn Action>, ModuleError> {
        let algorithm = args.choice_or("checksum_algorithm", ALGORITHMS, "sha1")?;
        let algorithm = ALGORITHMS.iter().copied().find(|a| *a == algorithm).unwrap_or("sha1");
        Ok(Box::new(StatAction {
            path: args.str("path")?,
            follow: args.bool_or("follow", false)?,
            checksum: args.bool_or("get_checksum", true)?.then_some(algorithm),
        }))
    }
}

/// One `stat` task on one host.
#[derive(Debug)]
pub struct StatAction {
    path: String,
    follow: bool,
    checksum: Option<&'static str>,
}

/// Ansible's `stat` dictionary for a probed path.
pub fn stat_dict(path: &str, st: &FileState) -> Map<String, Value> {
    let mut m = Map::new();
    if !st.exists {
        m.insert("exists".into(), false.into());
        return m;
    }
    let (readable, writeable, executable) = st.access.unwrap_or_default();
    let kind = st.kind;
    let fields = json!({
        "exists": true,
        "path": path,
        "mode": st.mode_string(),
        "isdir": kind == FileKind::Dir,
        "isreg": kind == FileKind::File,
        "islnk": kind == FileKind::Link,
        "isblk": kind == FileKind::Block,
        "ischr": kind == FileKind::Char,
        "isfifo": kind == FileKind::Fifo,
        "issock": kind == FileKind::Socket,
        "uid": st.uid,
        "gid": st.gid,
        "pw_name": st.owner,
        "gr_name": st.group,
        "size": st.size,
        "mtime": st.mtime,
        "atime": st.atime,
        "ctime": st.ctime,
        "inode": st.inode,
        "nlink": st.nlink,
        "dev": st.dev,
        "readable": readable,
        "writeable": writeable,
        "executable": executable,
        "isuid": st.mode & 0o4000 != 0,
        "isgid": st.mode & 0o2000 != 0,
        "rusr": st.mode & 0o400 != 0,
        "wusr": st.mode & 0o200 != 0,
        "xusr": st.mode & 0o100 != 0,
        "rgrp": st.mode & 0o040 != 0,
        "wgrp": st.mode & 0o020 != 0,
        "xgrp": st.mode & 0o010 != 0,
        "roth": st.mode & 0o004 != 0,
        "woth": st.mode & 0o002 != 0,
        "xoth": st.mode & 0o001 != 0,
    });
    if let Value::Object(f) = fields {
        m.extend(f);
    }
    if let Some(c) = &st.checksum {
        m.insert("checksum".into(), c.clone().into());
    }
    if let Some(t) = &st.link_target {
        m.insert("lnk_target".into(), t.clone().into());
    }
    m
}

impl Action for StatAction {
    fn saw_missing_parent(&self, probe: &ExecOutput) -> bool {
        super::file_state::parent_missing(&probe.stdout)
    }
    fn paths(&self) -> Option<Vec<String>> {
        Some(vec![self.path.clone()])
    }
    fn probe(&self) -> Option<String> {
        Some(
            Probe::new(&self.path)
                .follow(self.follow)
                .sha256(false)
                .content_limit(None)
                .checksum(self.checksum)
                .access(true)
                .script(),
        )
    }

    fn compare(&mut self, probe: Option<&ExecOutput>) -> Result<Plan, ModuleError> {
        let st = file_state::parse_output(probe)?;
        let mut plan = Plan::ok();
        plan.result.insert("changed".into(), false.into());
        plan.result.insert("stat".into(), Value::Object(stat_dict(&self.path, &st)));
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::file_write::testing::{run, FakeCtx, HOSTILE};

    fn prepare(v: Value) -> Box<dyn Action> {
        Stat.prepare(&Args::new(&SPEC, v.as_object().unwrap().clone()), &FakeCtx::default()).unwrap()
    }

    #[test]
    fn canned_file_and_missing_path() {
        let mut a = prepare(json!({"path": "/etc/passwd"}));
        let probe = b"stead-file-state 1\nparent-dir\n\
            stat 81a4 0 0 10 100 200 300 7 1 2049 root root\nreadable\nchecksum abc\nend\n";
        let plan = a.compare(Some(&ExecOutput { status: 0, stdout: probe.to_vec(), stderr: vec![] })).unwrap();
        assert!(!plan.changed && plan.apply.is_none());
        let stat = &plan.result["stat"];
        assert_eq!(stat["mode"], "0644");
        assert_eq!(stat["isreg"], true);
        assert_eq!(stat["checksum"], "abc");
        assert_eq!(stat["pw_name"], "root");
        assert_eq!(stat["readable"], true);
        assert_eq!(stat["writeable"], false);
        let plan = a
            .compare(Some(&ExecOutput { status: 0, stdout: b"stead-file-state 1\nend\n".to_vec(), stderr: vec![] }))
            .unwrap();
        assert_eq!(plan.result["stat"], json!({"exists": false}));
    }

    #[test]
    fn probe_quotes_the_path_and_asks_for_sha1() {
        let a = prepare(json!({"path": "/a b/$(x)"}));
        let script = a.probe().unwrap();
        assert!(script.contains("p='/a b/$(x)'"));
        assert!(script.contains("sha1sum"));
        let a = prepare(json!({"path": "/x", "get_checksum": false}));
        assert!(!a.probe().unwrap().contains("sum <"));
    }

    #[test]
    fn real_stat_of_a_hostile_link() {
        let ctx = FakeCtx::default();
        let dir = ctx.root().join(HOSTILE);
        std::fs::create_dir(&dir).unwrap();
        // Multi-byte names: lengths in the probe output are bytes.
        let file = dir.join("fé ü");
        std::fs::write(&file, b"abc").unwrap();
        let link = dir.join("l\nk");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        let link_s = link.to_str().unwrap();

        let mut a = prepare(json!({"path": link_s}));
        let out = run(&a.probe().unwrap(), b"");
        assert_eq!(out.status, 0, "{}", out.stderr_text());
        let stat = a.compare(Some(&out)).unwrap().result["stat"].clone();
        assert_eq!(stat["islnk"], true);
        assert_eq!(stat["lnk_target"], file.to_str().unwrap());

        let mut a = prepare(json!({"path": link_s, "follow": true}));
        let out = run(&a.probe().unwrap(), b"");
        let stat = a.compare(Some(&out)).unwrap().result["stat"].clone();
        assert_eq!(stat["isreg"], true);
        assert_eq!(stat["size"], 3);
        assert_eq!(stat["checksum"], "a9993e364706816aba3e25717850c26c9cd0d89d", "sha1 of abc");
    }
}
