//! A path's state on the host: one probe script, one parser, one typed value.
//!
//! The file modules (`file`, `copy`, `template`, `lineinfile`, `blockinfile`,
//! `stat`) all start by asking the same question: what is at this path? This
//! module asks it with one script that needs only POSIX sh and coreutils
//! (`stat -c`, `readlink`, `sha256sum`, `wc`, `cat`) and parses the answer
//! into a [`FileState`], so that each module's `compare` can decide, diff and
//! plan without a second round trip.
//!
//! # Probe output format
//!
//! Line-oriented, fixed ASCII keywords first, variable-length data
//! length-prefixed, file content last:
//!
//! ```text
//! stead-file-state 1
//! into-dir                  (copy/template: dest was a directory, probed dest/basename)
//! parent-dir                (the parent directory exists)
//! src-exists                (file state=link: the link source exists)
//! link N\n<N bytes>\n       (the path is a symlink; its target as readlink prints it)
//! stat HEXMODE UID GID SIZE MTIME ATIME CTIME INODE NLINK DEV USER GROUP
//! readable / writeable / executable   (access tests, when asked)
//! tree\n<HEXMODE UID GID USER GROUP>...\nend-tree   (distinct attributes below a directory)
//! unreadable                (a regular file the user cannot read)
//! sha256 HEX
//! checksum HEX              (the `stat` module's checksum_algorithm)
//! content N\n<N bytes>\n    (regular files up to the content limit)
//! end
//! ```
//!
//! Names with spaces or newlines and binary content are safe: nothing
//! variable is ever split on whitespace except the `stat` line, whose fields
//! are numbers and account names.
//!
//! This module never builds a shell string from a value by hand: every value
//! goes through [`quote`].

use crate::transport::quote::quote;
use crate::transport::ExecOutput;

use super::mode::Mode;
use super::{Args, ModuleError};

/// Regular files up to this size come back with their content.
pub const CONTENT_LIMIT: u64 = 256 * 1024;

/// What kind of object a path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FileKind {
    /// Nothing there.
    #[default]
    Absent,
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link (only when links are not followed).
    Link,
    /// A block device.
    Block,
    /// A character device.
    Char,
    /// A named pipe.
    Fifo,
    /// A socket.
    Socket,
}

impl FileKind {
    /// Decodes the file type bits of a raw `st_mode`.
    pub fn from_raw_mode(raw: u32) -> Self {
        match raw & 0o170000 {
            0o100000 => FileKind::File,
            0o040000 => FileKind::Dir,
            0o120000 => FileKind::Link,
            0o060000 => FileKind::Block,
            0o020000 => FileKind::Char,
            0o010000 => FileKind::Fifo,
            0o140000 => FileKind::Socket,
            _ => FileKind::Absent,
        }
    }

    /// Ansible's name for this state (`file`, `directory`, `link`, `absent`...).
    pub fn ansible_name(self) -> &'static str {
        match self {
            FileKind::Absent => "absent",
            FileKind::File => "file",
            FileKind::Dir => "directory",
            FileKind::Link => "link",
            FileKind::Block | FileKind::Char | FileKind::Fifo | FileKind::Socket => "special",
        }
    }
}

/// Attributes shared by the entries below a directory (`file recurse=true`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeEntry {
    /// Kind of the entries.
    pub kind: FileKind,
    /// Permission bits.
    pub mode: u32,
    /// Owner id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
    /// Owner name (`UNKNOWN` when the id has no name).
    pub owner: String,
    /// Group name.
    pub group: String,
}

/// What a path is on the host, as the probe saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileState {
    /// Whether something is there (following links when the probe did).
    pub exists: bool,
    /// What it is.
    pub kind: FileKind,
    /// Permission bits (`0o7777` at most).
    pub mode: u32,
    /// Owner name.
    pub owner: String,
    /// Group name.
    pub group: String,
    /// Owner id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, seconds since the epoch.
    pub mtime: i64,
    /// Access time.
    pub atime: i64,
    /// Status change time.
    pub ctime: i64,
    /// Inode number.
    pub inode: u64,
    /// Number of hard links.
    pub nlink: u64,
    /// Device number.
    pub dev: u64,
    /// When the path itself is a symlink: its target, as `readlink` prints it.
    pub link_target: Option<String>,
    /// SHA-256 of a regular file's content.
    pub sha256: Option<String>,
    /// The checksum the probe was asked for (`stat: checksum_algorithm`).
    pub checksum: Option<String>,
    /// A regular file's content, when it is at most the content limit.
    pub content: Option<Vec<u8>>,
    /// A regular file the user cannot read.
    pub unreadable: bool,
    /// Access tests that passed: readable, writeable, executable (`None`
    /// when none passed or none ran).
    pub access: Option<(bool, bool, bool)>,
    /// The given path was a directory and the probe looked at `path/basename`.
    pub into_dir: bool,
    /// The parent directory of the probed path exists.
    pub parent_dir: bool,
    /// The link source of `file state=link` exists.
    pub src_exists: bool,
    /// Distinct attributes of everything below a directory (when asked).
    pub tree: Vec<TreeEntry>,
    /// The backup an apply script made (apply output only).
    pub backup_file: Option<String>,
}

impl FileState {
    /// Whether the path itself is a symbolic link.
    pub fn is_link(&self) -> bool {
        self.link_target.is_some()
    }

    /// The mode as Ansible reports it: `'0644'`.
    pub fn mode_string(&self) -> String {
        mode_string(self.mode)
    }

    /// Content as text, when it was fetched and is UTF-8.
    pub fn text(&self) -> Option<&str> {
        self.content.as_deref().and_then(|c| std::str::from_utf8(c).ok())
    }
}

/// Formats permission bits as Ansible does: `'0644'`.
pub fn mode_string(mode: u32) -> String {
    format!("{mode:04o}")
}

/// The probe: which path, and what to read about it.
#[derive(Debug, Clone)]
pub struct Probe {
    path: String,
    follow: bool,
    content_limit: Option<u64>,
    sha256: bool,
    checksum: Option<&'static str>,
    into_dir: Option<String>,
    tree: bool,
    access: bool,
    link_src: Option<String>,
}

impl Probe {
    /// Probes `path`, following symlinks, with sha256 and content (up to
    /// [`CONTENT_LIMIT`]) of regular files.
    pub fn new(path: &str) -> Self {
        Probe {
            path: path.to_owned(),
            follow: true,
            content_limit: Some(CONTENT_LIMIT),
            sha256: true,
            checksum: None,
            into_dir: None,
            tree: false,
            access: false,
            link_src: None,
        }
    }

    /// Whether to report the link's target (`true`) or the link itself.
    pub fn follow(mut self, follow: bool) -> Self {
        self.follow = follow;
        self
    }

    /// Fetches content up to `limit` bytes (`None`: never).
    pub fn content_limit(mut self, limit: Option<u64>) -> Self {
        self.content_limit = limit;
        self
    }

    /// Whether to compute the SHA-256 of a regular file.
    pub fn sha256(mut self, on: bool) -> Self {
        self.sha256 = on;
        self
    }

    /// Also computes a checksum with coreutils' `ALGOsum` (`sha1`, `md5`...).
    pub fn checksum(mut self, algorithm: Option<&'static str>) -> Self {
        self.checksum = algorithm;
        self
    }

    /// When the path is a directory, probes `path/basename` instead.
    pub fn into_dir(mut self, basename: Option<String>) -> Self {
        self.into_dir = basename;
        self
    }

    /// Lists the distinct attributes of everything below a directory.
    pub fn tree(mut self, on: bool) -> Self {
        self.tree = on;
        self
    }

    /// Runs the access tests (`-r`, `-w`, `-x`).
    pub fn access(mut self, on: bool) -> Self {
        self.access = on;
        self
    }

    /// Tests whether `src` exists, relative to the path's directory.
    pub fn link_src(mut self, src: Option<String>) -> Self {
        self.link_src = src;
        self
    }

    /// The whole probe script.
    pub fn script(&self) -> String {
        let mut s = String::from(PRELUDE);
        s.push_str(&format!("p={}\n", quote(&self.path)));
        s.push_str("printf 'stead-file-state 1\\n'\n");
        let parent = quote_owned(&parent_of(&self.path));
        match &self.into_dir {
            Some(base) => s.push_str(&format!(
                "if [ -d \"$p\" ]; then p=\"$p\"/{}; printf 'into-dir\\nparent-dir\\n'; \
                 elif [ -d {parent} ]; then printf 'parent-dir\\n'; fi\n",
                quote(base)
            )),
            None => s.push_str(&format!("if [ -d {parent} ]; then printf 'parent-dir\\n'; fi\n")),
        }
        if let Some(src) = &self.link_src {
            s.push_str(&format!(
                "if (cd {parent} 2>/dev/null; [ -e {} ]); then printf 'src-exists\\n'; fi\n",
                quote(src)
            ));
        }
        s.push_str(&self.body());
        s
    }

    /// The part that reports on `$p` and ends with `end` (apply scripts
    /// reuse it to report the final state).
    pub(crate) fn body(&self) -> String {
        let mut s = String::new();
        s.push_str(
            "if [ -L \"$p\" ]; then\n  t=$(readlink -- \"$p\"; echo .); t=${t%?.}\n  \
             printf 'link %s\\n%s\\n' \"${#t}\" \"$t\"\nfi\n",
        );
        let (exists, stat, regular) = if self.follow {
            ("[ -e \"$p\" ]", "stat -L", "[ -f \"$p\" ]")
        } else {
            ("[ -e \"$p\" ] || [ -L \"$p\" ]", "stat", "[ -f \"$p\" ] && [ ! -L \"$p\" ]")
        };
        s.push_str(&format!("if {exists}; then\n"));
        s.push_str(&format!("  printf 'stat '\n  {stat} -c '%f %u %g %s %Y %X %Z %i %h %d %U %G' -- \"$p\"\n"));
        if self.access {
            for (test, word) in [("-r", "readable"), ("-w", "writeable"), ("-x", "executable")] {
                s.push_str(&format!("  if [ {test} \"$p\" ]; then printf '{word}\\n'; fi\n"));
            }
        }
        if self.tree {
            s.push_str(
                "  if [ -d \"$p\" ]; then\n    case $p in -*) fp=./$p ;; *) fp=$p ;; esac\n    \
                 printf 'tree\\n'\n    \
                 find \"$fp/\" ! -type l -exec stat -c '%f %u %g %U %G' {} + | sort -u\n    \
                 printf 'end-tree\\n'\n  fi\n",
            );
        }
        let wants_data = self.sha256 || self.checksum.is_some() || self.content_limit.is_some();
        if wants_data {
            s.push_str(&format!("  if {regular}; then\n"));
            s.push_str("    if [ ! -r \"$p\" ]; then printf 'unreadable\\n'\n    else\n");
            if self.sha256 {
                s.push_str("      h=$(sha256sum < \"$p\"); printf 'sha256 %s\\n' \"${h%% *}\"\n");
            }
            if let Some(algo) = self.checksum {
                s.push_str(&format!(
                    "      h=$({}sum < \"$p\"); printf 'checksum %s\\n' \"${{h%% *}}\"\n",
                    quote(algo)
                ));
            }
            if let Some(limit) = self.content_limit {
                s.push_str(&format!(
                    "      n=$(wc -c < \"$p\"); n=$((n))\n      \
                     if [ \"$n\" -le {limit} ]; then printf 'content %s\\n' \"$n\"; \
                     head -c \"$n\" -- \"$p\"; printf '\\n'; fi\n"
                ));
            }
            s.push_str("    fi\n  fi\n");
        }
        s.push_str("fi\nprintf 'end\\n'\n");
        s
    }
}

/// The start of every script: stop on the first error, byte semantics.
pub(crate) const PRELUDE: &str = "set -e\nLC_ALL=C\nexport LC_ALL\n";

fn quote_owned(s: &str) -> String {
    quote(s).into_owned()
}

/// The directory part of a path, as `dirname` computes it.
/// Whether a file-state probe's output says the parent directory is
/// missing (the probe ran, and printed no `parent-dir` line).
pub fn parent_missing(stdout: &[u8]) -> bool {
    let text = String::from_utf8_lossy(stdout);
    text.starts_with("stead-file-state") && !text.lines().any(|l| l == "parent-dir")
}

/// The parent directory of a path, as `dirname` prints it.
pub fn parent_of(path: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return if path.is_empty() { ".".into() } else { "/".into() };
    }
    match trimmed.rfind('/') {
        None => ".".into(),
        Some(i) => {
            let dir = trimmed[..i].trim_end_matches('/');
            if dir.is_empty() {
                "/".into()
            } else {
                dir.to_owned()
            }
        }
    }
}

/// The last component of a path, as `basename` computes it.
pub fn basename_of(path: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return if path.is_empty() { String::new() } else { "/".into() };
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed).to_owned()
}

/// Reads a probe's output, failing with the probe's stderr when it failed.
pub fn parse_output(out: Option<&ExecOutput>) -> Result<FileState, ModuleError> {
    parse(probe_stdout(out)?)
}

/// The stdout of a probe that ran and succeeded.
fn probe_stdout(out: Option<&ExecOutput>) -> Result<&[u8], ModuleError> {
    let out = out.ok_or_else(|| ModuleError::Probe("the file probe did not run".into()))?;
    if out.status != 0 {
        return Err(ModuleError::failed(format!(
            "cannot read the file's state (exit {}): {}",
            out.status,
            out.stderr_text().trim()
        )));
    }
    Ok(&out.stdout)
}

struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn line(&mut self) -> Result<&'a str, ModuleError> {
        let rest = &self.data[self.pos..];
        let end = rest.iter().position(|&b| b == b'\n').ok_or_else(|| bad("output ends in the middle of a line"))?;
        self.pos += end + 1;
        std::str::from_utf8(&rest[..end]).map_err(|_| bad("a header line is not text"))
    }

    fn bytes(&mut self, n: usize) -> Result<&'a [u8], ModuleError> {
        let rest = &self.data[self.pos..];
        if rest.len() < n + 1 || rest[n] != b'\n' {
            return Err(bad("a length-prefixed field is truncated"));
        }
        self.pos += n + 1;
        Ok(&rest[..n])
    }
}

fn bad(msg: &str) -> ModuleError {
    ModuleError::Probe(msg.to_owned())
}

fn num<T: std::str::FromStr>(field: Option<&str>, what: &str) -> Result<T, ModuleError> {
    field.and_then(|f| f.parse().ok()).ok_or_else(|| ModuleError::Probe(format!("bad {what} in the stat line")))
}

/// Parses the probe's (or an apply script's) standard output.
pub fn parse(stdout: &[u8]) -> Result<FileState, ModuleError> {
    parse_from(&mut Cursor { data: stdout, pos: 0 })
}

/// Parses the output of two probes run one after the other (copy's
/// `remote_src` probes its source, then its destination).
pub fn parse_pair(out: Option<&ExecOutput>) -> Result<(FileState, FileState), ModuleError> {
    let mut cur = Cursor { data: probe_stdout(out)?, pos: 0 };
    let first = parse_from(&mut cur)?;
    Ok((first, parse_from(&mut cur)?))
}

fn parse_from(cur: &mut Cursor<'_>) -> Result<FileState, ModuleError> {
    let mut st = FileState::default();
    // An apply script reports its backup before the state.
    loop {
        let line = cur.line()?;
        if let Some(n) = line.strip_prefix("backup ") {
            let n = n.parse().map_err(|_| bad("bad backup length"))?;
            st.backup_file = Some(String::from_utf8_lossy(cur.bytes(n)?).into_owned());
        } else if line == "stead-file-state 1" {
            break;
        } else {
            return Err(ModuleError::Probe(format!("expected the stead-file-state header, got `{line}`")));
        }
    }
    loop {
        let line = cur.line()?;
        let (key, value) = line.split_once(' ').unwrap_or((line, ""));
        match key {
            "end" => break,
            "into-dir" => st.into_dir = true,
            "parent-dir" => st.parent_dir = true,
            "src-exists" => st.src_exists = true,
            "unreadable" => st.unreadable = true,
            "readable" | "writeable" | "executable" => {
                let a = st.access.get_or_insert((false, false, false));
                match key {
                    "readable" => a.0 = true,
                    "writeable" => a.1 = true,
                    _ => a.2 = true,
                }
            }
            "link" => {
                let n = value.parse().map_err(|_| bad("bad link length"))?;
                st.link_target = Some(String::from_utf8_lossy(cur.bytes(n)?).into_owned());
            }
            "stat" => parse_stat(value, &mut st)?,
            "sha256" => st.sha256 = Some(value.to_owned()),
            "checksum" => st.checksum = Some(value.to_owned()),
            "content" => {
                let n = value.parse().map_err(|_| bad("bad content length"))?;
                st.content = Some(cur.bytes(n)?.to_vec());
            }
            "tree" => loop {
                let entry = cur.line()?;
                if entry == "end-tree" {
                    break;
                }
                st.tree.push(parse_tree_entry(entry)?);
            },
            other => {
                return Err(ModuleError::Probe(format!("unknown line `{other}`")));
            }
        }
    }
    Ok(st)
}

fn parse_stat(value: &str, st: &mut FileState) -> Result<(), ModuleError> {
    let mut f = value.split(' ');
    let raw = u32::from_str_radix(f.next().unwrap_or(""), 16).map_err(|_| bad("bad mode in the stat line"))?;
    st.exists = true;
    st.kind = FileKind::from_raw_mode(raw);
    st.mode = raw & 0o7777;
    st.uid = num(f.next(), "uid")?;
    st.gid = num(f.next(), "gid")?;
    st.size = num(f.next(), "size")?;
    st.mtime = num(f.next(), "mtime")?;
    st.atime = num(f.next(), "atime")?;
    st.ctime = num(f.next(), "ctime")?;
    st.inode = num(f.next(), "inode")?;
    st.nlink = num(f.next(), "nlink")?;
    st.dev = num(f.next(), "device")?;
    st.owner = f.next().ok_or_else(|| bad("no owner in the stat line"))?.to_owned();
    st.group = f.collect::<Vec<_>>().join(" ");
    Ok(())
}

fn parse_tree_entry(line: &str) -> Result<TreeEntry, ModuleError> {
    let mut f = line.split(' ');
    let raw = u32::from_str_radix(f.next().unwrap_or(""), 16).map_err(|_| bad("bad mode in a tree line"))?;
    Ok(TreeEntry {
        kind: FileKind::from_raw_mode(raw),
        mode: raw & 0o7777,
        uid: num(f.next(), "uid")?,
        gid: num(f.next(), "gid")?,
        owner: f.next().unwrap_or("").to_owned(),
        group: f.collect::<Vec<_>>().join(" "),
    })
}

/// Whether `want` (a name or a numeric id) designates this account.
pub fn account_matches(want: &str, name: &str, id: u32) -> bool {
    want == name || want.parse::<u32>().is_ok_and(|w| w == id)
}

/// The common file attributes a task asks for: `mode`, `owner`, `group`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attrs {
    /// Requested mode.
    pub mode: Option<Mode>,
    /// The mode as written, for `chmod -R` with a symbolic mode.
    pub mode_text: Option<String>,
    /// Requested owner (name or uid).
    pub owner: Option<String>,
    /// Requested group (name or gid).
    pub group: Option<String>,
}

/// `key: value` lines of a state diff (see [`super::Diff::state`]).
pub type StatePairs = Vec<(&'static str, String)>;

/// Attribute differences: `(before, after)` for each attribute that changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttrChanges {
    /// Mode before and after.
    pub mode: Option<(u32, u32)>,
    /// Owner before and after.
    pub owner: Option<(String, String)>,
    /// Group before and after.
    pub group: Option<(String, String)>,
}

impl AttrChanges {
    /// Whether nothing changes.
    pub fn is_empty(&self) -> bool {
        self.mode.is_none() && self.owner.is_none() && self.group.is_none()
    }

    /// `(before, after)` key/value pairs for [`super::Diff::state`].
    pub fn pairs(&self) -> (StatePairs, StatePairs) {
        let mut before = Vec::new();
        let mut after = Vec::new();
        if let Some((b, a)) = self.mode {
            before.push(("mode", mode_string(b)));
            after.push(("mode", mode_string(a)));
        }
        if let Some((b, a)) = &self.owner {
            before.push(("owner", b.clone()));
            after.push(("owner", a.clone()));
        }
        if let Some((b, a)) = &self.group {
            before.push(("group", b.clone()));
            after.push(("group", a.clone()));
        }
        (before, after)
    }

    /// A short summary for diff headers: `mode 0600, owner root`.
    pub fn summary(&self) -> (String, String) {
        let (before, after) = self.pairs();
        let join =
            |v: Vec<(&str, String)>| v.into_iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ");
        (join(before), join(after))
    }
}

impl Attrs {
    /// Reads `mode`, `owner` and `group` from a task's arguments.
    pub fn from_args(args: &Args) -> Result<Self, ModuleError> {
        let mode = args.opt_mode("mode")?;
        let mode_text = match (&mode, args.get("mode")) {
            (Some(Mode::Symbolic(_)), Some(serde_json::Value::String(s))) => Some(s.clone()),
            _ => None,
        };
        Ok(Attrs {
            mode,
            mode_text,
            owner: args.opt_str("owner")?.filter(|s| !s.is_empty()),
            group: args.opt_str("group")?.filter(|s| !s.is_empty()),
        })
    }

    /// Whether any attribute is requested.
    pub fn any(&self) -> bool {
        self.mode.is_some() || self.owner.is_some() || self.group.is_some()
    }

    /// The permission bits to set, given the current ones (if any).
    pub fn target_mode(&self, current: Option<u32>, is_dir: bool) -> Option<u32> {
        self.mode.as_ref().map(|m| m.resolve(current, is_dir))
    }

    /// What differs between the request and an existing path.
    pub fn changes(&self, st: &FileState) -> AttrChanges {
        let is_dir = st.kind == FileKind::Dir;
        let mut c = AttrChanges::default();
        // A symlink's own mode means nothing, and a dangling one has none.
        if !matches!(st.kind, FileKind::Link | FileKind::Absent) {
            if let Some(want) = self.target_mode(Some(st.mode), is_dir) {
                if want != st.mode {
                    c.mode = Some((st.mode, want));
                }
            }
        }
        if let Some(o) = &self.owner {
            if !account_matches(o, &st.owner, st.uid) {
                c.owner = Some((st.owner.clone(), o.clone()));
            }
        }
        if let Some(g) = &self.group {
            if !account_matches(g, &st.group, st.gid) {
                c.group = Some((st.group.clone(), g.clone()));
            }
        }
        c
    }

    /// Whether any entry of a probed tree differs from the request.
    pub fn tree_differs(&self, tree: &[TreeEntry]) -> bool {
        tree.iter().any(|e| {
            let mode_differs = self.target_mode(Some(e.mode), e.kind == FileKind::Dir).is_some_and(|m| m != e.mode);
            let owner_differs = self.owner.as_ref().is_some_and(|o| !account_matches(o, &e.owner, e.uid));
            let group_differs = self.group.as_ref().is_some_and(|g| !account_matches(g, &e.group, e.gid));
            mode_differs || owner_differs || group_differs
        })
    }
}

/// The `--diff` of a content change: a unified diff of text, or the
/// SHA-256 sums when either side is binary or too large to fetch.
/// Attribute changes are named in the headers.
pub fn content_diff(path: &str, st: &FileState, new: &[u8], new_sha256: &str, attrs: &AttrChanges) -> super::Diff {
    let before = if st.exists && st.kind == FileKind::File {
        st.content.as_deref().map(std::str::from_utf8)
    } else {
        Some(Ok(""))
    };
    let mut diff = match (before, std::str::from_utf8(new)) {
        (Some(Ok(before)), Ok(after)) => super::Diff::file(path, before, after),
        _ => {
            let old = match &st.sha256 {
                Some(sum) if st.exists => format!("sha256:{sum}"),
                _ => "absent".to_owned(),
            };
            super::Diff::state(path, &[("content", old)], &[("content", format!("sha256:{new_sha256}"))])
        }
    };
    if !attrs.is_empty() {
        let (before, after) = attrs.summary();
        if st.exists {
            diff.before_header.push_str(&format!(" ({before})"));
        }
        diff.after_header.push_str(&format!(" ({after})"));
    }
    diff
}

/// Attributes a new path will get, as changes from nothing (for the
/// after-side of diffs; the before-side of these pairs is meaningless).
pub fn new_path_attrs(attrs: &Attrs, is_dir: bool) -> AttrChanges {
    AttrChanges {
        mode: attrs.target_mode(None, is_dir).map(|m| (0, m)),
        owner: attrs.owner.clone().map(|o| (String::new(), o)),
        group: attrs.group.clone().map(|g| (String::new(), g)),
    }
}

/// The SHA-256 of bytes, as `sha256sum` prints it.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(stdout: &[u8]) -> ExecOutput {
        ExecOutput { status: 0, stdout: stdout.to_vec(), stderr: Vec::new() }
    }

    #[test]
    fn parses_a_regular_file_with_binary_content() {
        let mut raw = b"stead-file-state 1\nparent-dir\n\
            stat 81a4 0 0 5 1700000000 1700000001 1700000002 42 1 2049 root wheel\n\
            sha256 abc\ncontent 5\n"
            .to_vec();
        raw.extend_from_slice(b"a\n\0\xffb\nend\n");
        let st = parse_output(Some(&out(&raw))).unwrap();
        assert!(st.exists && st.parent_dir);
        assert_eq!(st.kind, FileKind::File);
        assert_eq!(st.mode_string(), "0644");
        assert_eq!((st.owner.as_str(), st.group.as_str()), ("root", "wheel"));
        assert_eq!((st.size, st.mtime, st.inode, st.dev), (5, 1_700_000_000, 42, 2049));
        assert_eq!(st.content.as_deref(), Some(&b"a\n\0\xffb"[..]));
        assert_eq!(st.sha256.as_deref(), Some("abc"));
    }

    #[test]
    fn parses_a_link_whose_target_has_a_newline() {
        let raw = b"stead-file-state 1\nlink 5\na\nb c\nend\n";
        let st = parse(raw).unwrap();
        assert!(!st.exists);
        assert_eq!(st.link_target.as_deref(), Some("a\nb c"));
    }

    #[test]
    fn parses_tree_and_backup_and_access() {
        let raw = b"backup 4\nx\ny~\nstead-file-state 1\n\
            stat 41ed 0 0 4096 1 2 3 4 5 6 root root\nreadable\nexecutable\n\
            tree\n41ed 0 0 root root\n81a4 1000 1000 me me\nend-tree\nend\n";
        let st = parse(raw).unwrap();
        assert_eq!(st.backup_file.as_deref(), Some("x\ny~"));
        assert_eq!(st.kind, FileKind::Dir);
        assert_eq!(st.access, Some((true, false, true)));
        assert_eq!(st.tree.len(), 2);
        assert_eq!(st.tree[1].kind, FileKind::File);
        assert_eq!(st.tree[1].owner, "me");
    }

    #[test]
    fn truncated_output_is_an_error() {
        assert!(parse(b"stead-file-state 1\ncontent 10\nabc").is_err());
        assert!(parse(b"stead-file-state 1\nstat 81a4 0 0\n").is_err());
        assert!(parse(b"hello\n").is_err());
        assert!(parse(b"stead-file-state 1\n").is_err());
    }

    #[test]
    fn failed_probe_reports_stderr() {
        let o = ExecOutput { status: 1, stdout: vec![], stderr: b"permission denied".to_vec() };
        let e = parse_output(Some(&o)).unwrap_err().to_string();
        assert!(e.contains("permission denied"), "{e}");
    }

    #[test]
    fn dirname_and_basename() {
        assert_eq!(parent_of("/etc/motd"), "/etc");
        assert_eq!(parent_of("/motd"), "/");
        assert_eq!(parent_of("motd"), ".");
        assert_eq!(parent_of("a//b/"), "a");
        assert_eq!(parent_of("/"), "/");
        assert_eq!(basename_of("/etc/motd"), "motd");
        assert_eq!(basename_of("dir/"), "dir");
    }

    #[test]
    fn probe_script_quotes_the_path() {
        let s = Probe::new("/tmp/a b'$(reboot)").script();
        assert!(s.contains(r"p='/tmp/a b'\''$(reboot)'"), "{s}");
        assert!(s.contains(r"if [ -d /tmp ]"), "{s}");
    }

    #[test]
    fn attributes_compare_names_and_ids() {
        let st = FileState {
            exists: true,
            kind: FileKind::File,
            mode: 0o644,
            owner: "root".into(),
            group: "root".into(),
            ..FileState::default()
        };
        let attrs = Attrs {
            mode: Some(Mode::Octal(0o644)),
            mode_text: None,
            owner: Some("0".into()),
            group: Some("root".into()),
        };
        assert!(attrs.changes(&st).is_empty());
        let attrs = Attrs { mode: Some(Mode::parse("g+w").unwrap()), owner: Some("bob".into()), ..Attrs::default() };
        let c = attrs.changes(&st);
        assert_eq!(c.mode, Some((0o644, 0o664)));
        assert_eq!(c.owner, Some(("root".into(), "bob".into())));
        assert_eq!(c.summary().1, "mode 0664, owner bob");
    }
}
