//! `stat`: report what is at a path, as Ansible's `ansible.builtin.stat`.
//! Never changes anything.
//!
//! One probe (see [`super::file_state`]) and a pure translation of the
//! [`FileState`] into Ansible's `stat` dictionary: `exists`, `path`, `mode`
//! (`'0644'`), `isdir`, `isreg`, `islnk`, `uid`, `gid`, `pw_name`, `gr_name`,
//! `size`, `mtime`, `checksum` (SHA-1 by default, via coreutils' `sha1sum`),
//! `lnk_target`, and more; with `get_mime` (the default) `mimetype` and
//! `charset` from `file`, with `get_attributes` (the default) `attributes`,
//! `attr_flags` and `version` from `lsattr`, as Ansible reads them. This
//! module never builds a shell string by hand: every value goes through
//! [`crate::transport::quote::quote`].

use serde_json::{json, Map, Value};

use super::file_state::{self, FileKind, FileState, Probe};
use super::{Action, ArgKind, ArgSpec, Args, Module, ModuleError, ModuleSpec, Plan, TaskContext};
use crate::transport::quote::quote;
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
            mime: args.bool_or("get_mime", true)?,
            attributes: args.bool_or("get_attributes", true)?,
        }))
    }
}

/// One `stat` task on one host.
#[derive(Debug)]
pub struct StatAction {
    path: String,
    follow: bool,
    checksum: Option<&'static str>,
    mime: bool,
    attributes: bool,
}

/// First word of the lines of the `file` / `lsattr` section.
const MARK: &str = "stead-stat";

/// Ansible's names of `lsattr` flags (`FILE_ATTRIBUTES`).
const ATTRIBUTE_NAMES: &[(char, &str)] = &[
    ('A', "noatime"),
    ('a', "append"),
    ('c', "compressed"),
    ('C', "nocow"),
    ('d', "nodump"),
    ('D', "dirsync"),
    ('e', "extents"),
    ('E', "encrypted"),
    ('h', "blocksize"),
    ('i', "immutable"),
    ('I', "indexed"),
    ('j', "journalled"),
    ('N', "inline"),
    ('s', "zero"),
    ('S', "synchronous"),
    ('t', "notail"),
    ('T', "blockroot"),
    ('u', "undelete"),
    ('X', "compressedraw"),
    ('Z', "compresseddirty"),
];

/// What `file` and `lsattr` said, as (key, output) pairs.
type Extras = Vec<(String, String)>;

/// Parses the `file` / `lsattr` section; returns it and the rest.
fn parse_extras(stdout: &[u8]) -> Result<(Extras, &[u8]), ModuleError> {
    let bad = || ModuleError::Probe("bad stat section".into());
    let mut rest = stdout;
    let mut found = Vec::new();
    loop {
        let end = rest.iter().position(|&b| b == b'\n').ok_or_else(bad)?;
        let line = String::from_utf8_lossy(&rest[..end]).into_owned();
        rest = &rest[end + 1..];
        let mut words = line.splitn(3, ' ');
        if words.next() != Some(MARK) {
            return Err(bad());
        }
        match (words.next(), words.next()) {
            (Some("end"), _) => return Ok((found, rest)),
            (Some(key), Some(len)) => {
                let len: usize = len.parse().map_err(|_| bad())?;
                if rest.len() < len + 1 {
                    return Err(bad());
                }
                found.push((key.to_owned(), String::from_utf8_lossy(&rest[..len]).into_owned()));
                rest = &rest[len + 1..];
            }
            _ => return Err(bad()),
        }
    }
}

/// Adds Ansible's `mimetype`/`charset` and `attributes`/`attr_flags`/
/// `version` keys to an existing path's dictionary.
fn add_extras(m: &mut Map<String, Value>, extras: &[(String, String)], mime: bool, attributes: bool) {
    if mime {
        let (mut mimetype, mut charset) = ("unknown".to_owned(), "unknown".to_owned());
        if let Some((_, out)) = extras.iter().find(|(k, _)| k == "mime") {
            // `PATH: text/plain; charset=us-ascii`
            if let Some((kind, set)) = out.rsplit_once(':').and_then(|(_, v)| v.split_once(';')) {
                mimetype = kind.trim().to_owned();
                charset = set.split_once('=').map_or("", |(_, c)| c).trim().to_owned();
            }
        }
        m.insert("mimetype".into(), mimetype.into());
        m.insert("charset".into(), charset.into());
    }
    if attributes {
        let (mut version, mut flags) = (Value::Null, String::new());
        if let Some((_, out)) = extras.iter().find(|(k, _)| k == "attr") {
            let words: Vec<&str> = out.split_whitespace().collect();
            if words.len() >= 2 {
                version = words[0].into();
                flags = words[1].replace('-', "");
            }
        }
        let names: Vec<Value> = flags
            .chars()
            .filter_map(|c| ATTRIBUTE_NAMES.iter().find(|(f, _)| *f == c).map(|(_, n)| Value::from(*n)))
            .collect();
        m.insert("version".into(), version);
        m.insert("attributes".into(), names.into());
        m.insert("attr_flags".into(), flags.into());
    }
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
        // `file` and `lsattr` as Ansible runs them, on the path as given.
        let mut s = format!("LC_ALL=C\nexport LC_ALL\nq={}\n", quote(&self.path));
        let tool = |key: &str, cmd: &str| {
            format!(
                "if [ -e \"$q\" ] && command -v {} >/dev/null 2>&1 && o=$({cmd} -- \"$q\" 2>/dev/null); then \
                 printf '{MARK} {key} %s\\n%s\\n' \"${{#o}}\" \"$o\"; fi\n",
                cmd.split(' ').next().unwrap_or(cmd)
            )
        };
        if self.mime {
            s.push_str(&tool("mime", "file --mime-type --mime-encoding"));
        }
        if self.attributes {
            s.push_str(&tool("attr", "lsattr -vd"));
        }
        s.push_str(&format!("printf '{MARK} end\\n'\n"));
        s.push_str(
            &Probe::new(&self.path)
                .follow(self.follow)
                .sha256(false)
                .content_limit(None)
                .checksum(self.checksum)
                .access(true)
                .script(),
        );
        Some(s)
    }

    fn compare(&mut self, probe: Option<&ExecOutput>) -> Result<Plan, ModuleError> {
        let out = probe.ok_or_else(|| ModuleError::Probe("the stat probe did not run".into()))?;
        if out.status != 0 {
            return file_state::parse_output(Some(out)).map(|_| Plan::ok());
        }
        let (extras, rest) = parse_extras(&out.stdout)?;
        let st = file_state::parse(rest)?;
        let mut dict = stat_dict(&self.path, &st);
        if st.exists {
            add_extras(&mut dict, &extras, self.mime, self.attributes);
        }
        let mut plan = Plan::ok();
        plan.result.insert("changed".into(), false.into());
        plan.result.insert("stat".into(), Value::Object(dict));
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
        let probe = b"stead-stat mime 38\n/etc/passwd: text/plain; charset=utf-8\n\
            stead-stat attr 28\n1234 --------------e------- \nstead-stat end\n\
            stead-file-state 1\nparent-dir\n\
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
        assert_eq!((stat["mimetype"].as_str(), stat["charset"].as_str()), (Some("text/plain"), Some("utf-8")));
        assert_eq!(stat["attributes"], json!(["extents"]));
        assert_eq!((stat["attr_flags"].as_str(), stat["version"].as_str()), (Some("e"), Some("1234")));
        let missing = b"stead-stat end\nstead-file-state 1\nend\n".to_vec();
        let plan = a.compare(Some(&ExecOutput { status: 0, stdout: missing, stderr: vec![] })).unwrap();
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
