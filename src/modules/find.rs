//! `find`: files below directories that match conditions, as
//! `ansible.builtin.find`. Never changes anything (`changed: false`).
//!
//! One probe lists every path with GNU find(1) (`-printf`, NUL-separated
//! fields, so names with newlines are safe; with `follow`, `find -L` walks
//! and `stat` reports each entry's own `lstat`, as Ansible's `os.lstat`
//! does). The filters run on the controller, in pure code, with Python's
//! semantics: glob patterns as `fnmatch`, regular expressions and `contains`
//! through [`crate::pyregex`], age, size and mode. The walk order, the
//! `examined` count, `depth` and `limit` follow Ansible's `os.walk` (files
//! of a directory, then its subdirectories, then their contents).
//!
//! Only what needs the files' bytes runs on the host, in the same probe:
//! the checksum (`sha1sum`, or `checksum_algorithm`) and, with `contains`,
//! the content of regular files (up to [`CONTENT_LIMIT`] each; a candidate
//! file larger than that fails the task rather than being skipped
//! silently). When every pattern is a plain glob (`*`, `?`, literals), find's
//! `-name` narrows the files whose bytes are read; the controller checks
//! every pattern again.
//!
//! This module never builds a shell string by hand: every value goes
//! through [`crate::transport::quote::quote`].

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use super::mode::Mode;
use super::{Action, ArgKind, ArgSpec, Args, Module, ModuleError, ModuleSpec, Plan, TaskContext};
use crate::pyregex::{Flags, PyRegex};
use crate::transport::quote::quote;
use crate::transport::ExecOutput;

/// The `find` module.
pub struct Find;

/// A regular file's content travels for `contains` up to this size.
pub const CONTENT_LIMIT: u64 = 4 * 1024 * 1024;

/// Checksum algorithms, each with its coreutils `ALGOsum` tool.
const ALGORITHMS: &[&str] = &["md5", "sha1", "sha224", "sha256", "sha384", "sha512"];

static SPEC: ModuleSpec = ModuleSpec::new(&[
    ArgSpec::new("paths", ArgKind::List).required().aliases(&["name", "path"]),
    ArgSpec::new("patterns", ArgKind::List).aliases(&["pattern"]),
    ArgSpec::new("excludes", ArgKind::List).aliases(&["exclude"]),
    ArgSpec::new("contains", ArgKind::Str),
    ArgSpec::new("read_whole_file", ArgKind::Bool),
    ArgSpec::new("file_type", ArgKind::Str).choices(&["any", "directory", "file", "link"]),
    ArgSpec::new("age", ArgKind::Str),
    ArgSpec::new("age_stamp", ArgKind::Str).choices(&["atime", "ctime", "mtime"]),
    ArgSpec::new("size", ArgKind::Str),
    ArgSpec::new("recurse", ArgKind::Bool),
    ArgSpec::new("hidden", ArgKind::Bool),
    ArgSpec::new("follow", ArgKind::Bool),
    ArgSpec::new("get_checksum", ArgKind::Bool),
    ArgSpec::new("checksum_algorithm", ArgKind::Str).aliases(&["checksum", "checksum_algo"]).choices(ALGORITHMS),
    ArgSpec::new("use_regex", ArgKind::Bool),
    ArgSpec::new("depth", ArgKind::Int),
    ArgSpec::new("mode", ArgKind::Any),
    ArgSpec::new("exact_mode", ArgKind::Bool),
    ArgSpec::new("encoding", ArgKind::Str),
    ArgSpec::new("limit", ArgKind::Int),
]);

/// `file_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileType {
    /// Anything.
    Any,
    /// Directories.
    Directory,
    /// Regular files.
    File,
    /// Symbolic links.
    Link,
}

/// Which time `age` measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stamp {
    /// Access time.
    Atime,
    /// Status change time.
    Ctime,
    /// Modification time.
    Mtime,
}

/// How `contains` decodes a file (Python's `open(encoding=...)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// UTF-8, strict (also the default: the host's locale is UTF-8 for Ansible).
    Utf8,
    /// ISO-8859-1: every byte is a character.
    Latin1,
    /// ASCII, strict.
    Ascii,
}

/// The typed arguments: everything the pure filter needs.
#[derive(Debug, Clone)]
pub struct Query {
    /// The directories, as given.
    pub paths: Vec<String>,
    patterns: Vec<Matcher>,
    excludes: Vec<Matcher>,
    /// Plain globs for find's `-name`, when every pattern is one.
    name_globs: Option<Vec<String>>,
    contains: Option<PyRegex>,
    read_whole_file: bool,
    encoding: Option<(Encoding, String)>,
    /// `file_type`.
    pub file_type: FileType,
    age: Option<i64>,
    stamp: Stamp,
    size: Option<i64>,
    /// `recurse`.
    pub recurse: bool,
    hidden: bool,
    /// `follow`.
    pub follow: bool,
    /// The checksum tool's algorithm, when `get_checksum`.
    pub checksum: Option<&'static str>,
    /// `depth` (0 or unset: unlimited).
    pub depth: Option<u64>,
    mode: Option<u32>,
    exact_mode: bool,
    limit: Option<usize>,
}

#[derive(Debug, Clone)]
enum Matcher {
    Glob(PyRegex),
    Regex(PyRegex),
}

impl Matcher {
    fn matches(&self, name: &str) -> Result<bool, ModuleError> {
        let (Matcher::Glob(r) | Matcher::Regex(r)) = self;
        // Python's `re.match`: a match that starts at the beginning. A search
        // finds the leftmost match, so one at 0 exists exactly when it starts there.
        let found = r.search(name).map_err(|e| ModuleError::failed(e.to_string()))?;
        Ok(found.is_some_and(|m| m.span.0 == 0))
    }
}

/// Python's `fnmatch.translate`: `*`, `?`, `[seq]`, `[!seq]`; anything
/// else literal (a backslash too). Anchored at both ends.
pub fn fnmatch_regex(pattern: &str) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::from("(?s:");
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '*' => {
                while i < chars.len() && chars[i] == '*' {
                    i += 1;
                }
                out.push_str(".*");
            }
            '?' => out.push('.'),
            '[' => {
                let mut j = i;
                if j < chars.len() && chars[j] == '!' {
                    j += 1;
                }
                if j < chars.len() && chars[j] == ']' {
                    j += 1;
                }
                while j < chars.len() && chars[j] != ']' {
                    j += 1;
                }
                if j >= chars.len() {
                    out.push_str("\\[");
                    continue;
                }
                let mut stuff: String = chars[i..j].iter().collect();
                i = j + 1;
                stuff = stuff.replace('\\', "\\\\");
                let body = if let Some(rest) = stuff.strip_prefix('!') {
                    format!("^{rest}")
                } else if stuff.starts_with(['^', '[']) {
                    format!("\\{stuff}")
                } else {
                    stuff
                };
                // Characters the regex crate treats as set operators.
                let body = body.replace("&&", "\\&\\&").replace("~~", "\\~\\~").replace("--", "\\--");
                let body = body.replace("[", "\\[");
                out.push('[');
                out.push_str(&body);
                out.push(']');
            }
            c => {
                let mut buf = [0u8; 4];
                out.push_str(&fancy_regex::escape(c.encode_utf8(&mut buf)));
            }
        }
    }
    out.push_str(")\\Z");
    out
}

fn pattern_error(e: crate::pyregex::PyRegexError) -> ModuleError {
    ModuleError::failed(e.to_string())
}

/// Parses `age` (`-3d`, `2w`, `30`): seconds.
pub fn parse_age(text: &str) -> Option<i64> {
    parse_unit(text, &[('s', 1), ('m', 60), ('h', 3600), ('d', 86400), ('w', 604_800)])
}

/// Parses `size` (`10k`, `-1m`, `512`): bytes.
pub fn parse_size(text: &str) -> Option<i64> {
    parse_unit(text, &[('b', 1), ('k', 1 << 10), ('m', 1 << 20), ('g', 1 << 30), ('t', 1 << 40)])
}

fn parse_unit(text: &str, units: &[(char, i64)]) -> Option<i64> {
    let t = text.to_lowercase();
    let (digits, factor) = match t.chars().last() {
        Some(c) if c.is_ascii_alphabetic() => (&t[..t.len() - 1], units.iter().find(|(u, _)| *u == c)?.1),
        _ => (t.as_str(), 1),
    };
    let unsigned = digits.strip_prefix('-').unwrap_or(digits);
    if unsigned.is_empty() || !unsigned.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<i64>().ok()?.checked_mul(factor)
}

/// Whether a glob needs nothing but `*`, `?` and literals, so that find's
/// `-name` (C `fnmatch`) means what Python's `fnmatch` means.
fn plain_glob(p: &str) -> bool {
    !p.contains(['[', '\\'])
}

impl Module for Find {
    fn name(&self) -> &'static str {
        "find"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: &Args, _ctx: &dyn TaskContext) -> Result<Box<dyn Action>, ModuleError> {
        Ok(Box::new(FindAction { query: Query::from_args(args)? }))
    }
}

impl Query {
    /// Typed arguments, with Ansible's defaults and messages.
    pub fn from_args(args: &Args) -> Result<Query, ModuleError> {
        let use_regex = args.bool_or("use_regex", false)?;
        let mut patterns = args.str_list("patterns")?;
        if patterns.is_empty() {
            patterns.push(if use_regex { ".*" } else { "*" }.to_owned());
        }
        let excludes = args.str_list("excludes")?;
        let compile = |p: &String| -> Result<Matcher, ModuleError> {
            Ok(if use_regex {
                Matcher::Regex(PyRegex::new(p, Flags::default()).map_err(pattern_error)?)
            } else {
                Matcher::Glob(PyRegex::new(&fnmatch_regex(p), Flags::default()).map_err(pattern_error)?)
            })
        };
        let name_globs = (!use_regex && patterns.iter().all(|p| plain_glob(p))).then(|| patterns.clone());
        let age = match args.opt_str("age")? {
            None => None,
            Some(a) => Some(parse_age(&a).ok_or_else(|| failed_with("failed to process age", "age", &a))?),
        };
        let size = match args.opt_str("size")? {
            None => None,
            Some(s) => Some(parse_size(&s).ok_or_else(|| failed_with("failed to process size", "size", &s))?),
        };
        let limit = match args.opt_int("limit")? {
            Some(l) if l <= 0 => {
                return Err(ModuleError::failed(format!("limit cannot be {l} (use None for unlimited)")));
            }
            l => l.map(|l| l as usize),
        };
        let mode = match args.get("mode") {
            None => None,
            Some(Value::String(s)) if s.is_empty() => None,
            Some(Value::String(s)) => {
                let m = Mode::parse(s)
                    .map_err(|_| ModuleError::failed(format!("bad symbolic permission for mode: {s}")))?;
                Some(m.resolve(Some(0), false) & 0o7777)
            }
            Some(other) => {
                let kind = match other {
                    Value::Number(n) if n.is_f64() => "float",
                    Value::Number(_) => "int",
                    Value::Bool(_) => "bool",
                    Value::Array(_) => "list",
                    _ => "dict",
                };
                return Err(ModuleError::failed(format!(
                    "argument 'mode' is not a string and conversion is not allowed, value is of type {kind}"
                )));
            }
        };
        let encoding = match args.opt_str("encoding")? {
            None => None,
            Some(e) => {
                let norm = e.to_lowercase().replace('_', "-");
                let enc = match norm.as_str() {
                    "utf-8" | "utf8" | "u8" | "utf" => Encoding::Utf8,
                    "latin-1" | "latin1" | "iso-8859-1" | "iso8859-1" | "l1" | "8859" | "cp819" => Encoding::Latin1,
                    "ascii" | "us-ascii" | "646" => Encoding::Ascii,
                    _ => return Err(ModuleError::failed(format!("unknown encoding: {e}"))),
                };
                Some((enc, e))
            }
        };
        let algorithm = args.choice_or("checksum_algorithm", ALGORITHMS, "sha1")?;
        let algorithm = ALGORITHMS.iter().copied().find(|a| *a == algorithm).unwrap_or("sha1");
        let depth = args.opt_int("depth")?.filter(|d| *d != 0);
        Ok(Query {
            paths: args.str_list("paths")?,
            patterns: patterns.iter().map(compile).collect::<Result<_, _>>()?,
            excludes: excludes.iter().map(compile).collect::<Result<_, _>>()?,
            name_globs,
            contains: args
                .opt_str("contains")?
                .map(|c| PyRegex::new(&c, Flags::default()))
                .transpose()
                .map_err(pattern_error)?,
            read_whole_file: args.bool_or("read_whole_file", false)?,
            encoding,
            file_type: match args.choice_or("file_type", &["any", "directory", "file", "link"], "file")?.as_str() {
                "any" => FileType::Any,
                "directory" => FileType::Directory,
                "link" => FileType::Link,
                _ => FileType::File,
            },
            age,
            stamp: match args.choice_or("age_stamp", &["atime", "ctime", "mtime"], "mtime")?.as_str() {
                "atime" => Stamp::Atime,
                "ctime" => Stamp::Ctime,
                _ => Stamp::Mtime,
            },
            size,
            recurse: args.bool_or("recurse", false)?,
            hidden: args.bool_or("hidden", false)?,
            follow: args.bool_or("follow", false)?,
            checksum: args.bool_or("get_checksum", false)?.then_some(algorithm),
            depth: depth.map(|d| d.max(0) as u64),
            mode,
            exact_mode: args.bool_or("exact_mode", true)?,
            limit,
        })
    }

    /// Whether the probe reads regular files' bytes (checksum or content).
    fn reads_files(&self) -> bool {
        self.checksum.is_some() || (self.contains.is_some() && self.file_type == FileType::File)
    }

    /// find's `-maxdepth`: Ansible's walk looks one level below the deepest
    /// it matches (those entries count as examined).
    fn maxdepth(&self) -> Option<u64> {
        if !self.recurse {
            Some(1)
        } else {
            self.depth.map(|d| d + 1)
        }
    }
}

fn failed_with(msg: &str, key: &str, value: &str) -> ModuleError {
    let mut result = super::ResultMap::new();
    result.insert(key.into(), value.into());
    ModuleError::Failed { msg: msg.into(), result }
}

/// One entry of the walk, from `find -printf` or `stat --printf`.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The path as find printed it.
    pub path: String,
    /// Whether it is a directory after following links (`os.walk`'s `dirs`).
    pub dir_followed: bool,
    /// The `ls -l` type letter of the entry itself (`-`, `d`, `l`, ...).
    pub kind: char,
    /// Permission bits.
    pub mode: u32,
    uid: u64,
    gid: u64,
    size: u64,
    mtime: f64,
    atime: f64,
    ctime: f64,
    inode: u64,
    nlink: u64,
    dev: u64,
    user: String,
    group: String,
}

/// Bytes the probe read from a regular file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileData {
    checksum: Option<String>,
    /// `None` when the file was larger than the limit.
    content: Option<Vec<u8>>,
    too_large: bool,
}

/// What the probe found below one of the paths.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Walk {
    /// Whether the path is a directory.
    pub is_dir: bool,
    /// Every entry, in find's order.
    pub entries: Vec<Entry>,
    /// find's complaints (`find: 'x': Permission denied`).
    pub errors: String,
    /// Checksums and content of regular files, by path.
    pub data: HashMap<String, FileData>,
}

/// The probe's whole output.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Listing {
    /// The host's clock, seconds since the epoch.
    pub now: f64,
    /// One walk per path, in order.
    pub walks: Vec<Walk>,
}

const MARKER: &str = "stead-find 1";

/// The `-printf` fields of one entry (find's own lstat), NUL-terminated.
const FIND_FIELDS: &str = "%M\\0%m\\0%U\\0%G\\0%s\\0%T@\\0%A@\\0%C@\\0%i\\0%n\\0%D\\0%u\\0%g\\0%p\\0";
/// The same fields from `stat --printf` (the entry's own lstat under `find -L`).
const STAT_FIELDS: &str = "%A\\0%a\\0%u\\0%g\\0%s\\0%.9Y\\0%.9X\\0%.9Z\\0%i\\0%h\\0%d\\0%U\\0%G\\0%n\\0";

impl Query {
    /// The probe script.
    pub fn script(&self) -> String {
        let mut s = String::from("LC_ALL=C\nexport LC_ALL\n");
        s.push_str(&format!("printf '{MARKER}\\n'\nprintf 'now %s\\n' \"$(date +%s.%N)\"\n"));
        let maxdepth = self.maxdepth().map(|d| format!(" -maxdepth {d}")).unwrap_or_default();
        let (opt, walk) = if self.follow {
            ("-L ", format!("-printf 'r\\0%y\\0' -exec stat --printf={} -- {{}} \\;", quote(STAT_FIELDS)))
        } else {
            ("", format!("-printf 'r\\0%Y\\0{FIND_FIELDS}'"))
        };
        for path in &self.paths {
            s.push_str(&format!("p={}\n", host_path(path)));
            s.push_str("if [ -d \"$p\" ]; then\n  printf 'dir\\n'\n");
            s.push_str(&format!(
                "  {{ e=$(find {opt}\"$p\" -mindepth 1{maxdepth} {walk} 2>&1 >&3); }} 3>&1\n  printf 'x\\0'\n"
            ));
            if self.reads_files() {
                let names = match &self.name_globs {
                    Some(globs) => {
                        let any: Vec<String> = globs.iter().map(|g| format!("-name {}", quote(g))).collect();
                        format!(" \\( {} \\)", any.join(" -o "))
                    }
                    None => String::new(),
                };
                let regular = if self.follow { "-xtype f" } else { "-type f" };
                let mut each = String::from("for f do printf 'c\\0%s\\0' \"$f\"; ");
                if let Some(algo) = self.checksum {
                    each.push_str(&format!("h=$({algo}sum < \"$f\") && printf 'k%s\\0' \"${{h%% *}}\"; "));
                }
                if self.contains.is_some() && self.file_type == FileType::File {
                    each.push_str(&format!(
                        "if [ -r \"$f\" ]; then n=$(wc -c < \"$f\"); n=$((n)); \
                         if [ \"$n\" -le {CONTENT_LIMIT} ]; then printf 'b%s\\0' \"$n\"; head -c \"$n\" -- \"$f\"; \
                         else printf 'B\\0'; fi; fi; "
                    ));
                }
                each.push_str("done");
                s.push_str(&format!(
                    "  {{ e2=$(find {opt}\"$p\" -mindepth 1{maxdepth} {regular}{names} -exec sh -c {} sh {{}} + 2>&1 >&3); }} 3>&1\n",
                    quote(&each)
                ));
            } else {
                s.push_str("  e2=\n");
            }
            s.push_str("  printf 'x\\0'\n  e=\"$e$e2\"\n  printf 'errors %s\\n%s\\n' \"${#e}\" \"$e\"\n");
            s.push_str("else printf 'notdir\\n'; fi\n");
        }
        s
    }
}

/// A path for the host's shell: `~` and `~/...` are the login's home, as
/// Ansible's `type='path'` expands them on the host.
pub(crate) fn host_path(path: &str) -> String {
    if path == "~" {
        "\"$HOME\"".into()
    } else if let Some(rest) = path.strip_prefix("~/") {
        format!("\"$HOME\"/{}", quote(rest))
    } else {
        quote(path).into_owned()
    }
}

struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

fn bad(what: &str) -> ModuleError {
    ModuleError::Probe(format!("find probe: {what}"))
}

impl<'a> Cursor<'a> {
    fn line(&mut self) -> Result<&'a str, ModuleError> {
        let rest = &self.data[self.pos..];
        let end = rest.iter().position(|&b| b == b'\n').ok_or_else(|| bad("truncated line"))?;
        self.pos += end + 1;
        std::str::from_utf8(&rest[..end]).map_err(|_| bad("header is not text"))
    }
    fn field(&mut self) -> Result<&'a [u8], ModuleError> {
        let rest = &self.data[self.pos..];
        let end = rest.iter().position(|&b| b == 0).ok_or_else(|| bad("truncated field"))?;
        self.pos += end + 1;
        Ok(&rest[..end])
    }
    fn text(&mut self) -> Result<String, ModuleError> {
        Ok(String::from_utf8_lossy(self.field()?).into_owned())
    }
    fn bytes(&mut self, n: usize) -> Result<&'a [u8], ModuleError> {
        let rest = &self.data[self.pos..];
        if rest.len() < n {
            return Err(bad("truncated content"));
        }
        self.pos += n;
        Ok(&rest[..n])
    }
    fn peek(&self) -> Option<u8> {
        self.data.get(self.pos).copied()
    }
}

fn num<T: std::str::FromStr>(cur: &mut Cursor<'_>, what: &str) -> Result<T, ModuleError> {
    cur.text()?.parse().map_err(|_| bad(&format!("bad {what}")))
}

fn account(name: String, id: u64) -> String {
    // find prints the number when the id has no name; stat prints UNKNOWN.
    if name == "UNKNOWN" || name == id.to_string() {
        String::new()
    } else {
        name
    }
}

/// Parses the probe's output.
pub fn parse(stdout: &[u8], paths: usize) -> Result<Listing, ModuleError> {
    let mut cur = Cursor { data: stdout, pos: 0 };
    if cur.line()? != MARKER {
        return Err(bad("missing header"));
    }
    let now = cur.line()?.strip_prefix("now ").and_then(|n| n.parse().ok()).ok_or_else(|| bad("bad clock"))?;
    let mut listing = Listing { now, walks: Vec::new() };
    for _ in 0..paths {
        let mut walk = Walk::default();
        match cur.line()? {
            "notdir" => {
                listing.walks.push(walk);
                continue;
            }
            "dir" => walk.is_dir = true,
            other => return Err(bad(&format!("unexpected `{other}`"))),
        }
        loop {
            match cur.field()? {
                b"x" => break,
                b"r" => {}
                _ => return Err(bad("expected an entry")),
            }
            let followed = cur.text()?;
            let symbolic = cur.text()?;
            let mode = u32::from_str_radix(&cur.text()?, 8).map_err(|_| bad("bad mode"))?;
            let uid: u64 = num(&mut cur, "uid")?;
            let gid: u64 = num(&mut cur, "gid")?;
            let size = num(&mut cur, "size")?;
            let mtime = num(&mut cur, "mtime")?;
            let atime = num(&mut cur, "atime")?;
            let ctime = num(&mut cur, "ctime")?;
            let inode = num(&mut cur, "inode")?;
            let nlink = num(&mut cur, "nlink")?;
            let dev = num(&mut cur, "dev")?;
            let user = account(cur.text()?, uid);
            let group = account(cur.text()?, gid);
            let path = cur.text()?;
            walk.entries.push(Entry {
                path,
                dir_followed: followed == "d",
                kind: symbolic.chars().next().unwrap_or('?'),
                mode,
                uid,
                gid,
                size,
                mtime,
                atime,
                ctime,
                inode,
                nlink,
                dev,
                user,
                group,
            });
        }
        loop {
            match cur.field()? {
                b"x" => break,
                b"c" => {}
                _ => return Err(bad("expected file data")),
            }
            let path = cur.text()?;
            let mut data = FileData::default();
            while let Some(tag) = cur.peek() {
                match tag {
                    b'k' => data.checksum = Some(cur.text()?[1..].to_owned()),
                    b'B' => {
                        cur.field()?;
                        data.too_large = true;
                    }
                    b'b' => {
                        let n: usize = cur.text()?[1..].parse().map_err(|_| bad("bad content length"))?;
                        data.content = Some(cur.bytes(n)?.to_vec());
                    }
                    _ => break,
                }
            }
            walk.data.insert(path, data);
        }
        let header = cur.line()?;
        let n: usize =
            header.strip_prefix("errors ").and_then(|n| n.parse().ok()).ok_or_else(|| bad("bad errors header"))?;
        let text = cur.bytes(n)?;
        cur.bytes(1)?;
        walk.errors = String::from_utf8_lossy(text).into_owned();
        listing.walks.push(walk);
    }
    Ok(listing)
}

/// Python's `posixpath.normpath`.
pub fn normpath(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let initial = if path.starts_with("//") && !path.starts_with("///") {
        "//"
    } else if path.starts_with('/') {
        "/"
    } else {
        ""
    };
    let mut parts: Vec<&str> = Vec::new();
    for comp in path.split('/') {
        match comp {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            ".." if !initial.is_empty() => {}
            c => parts.push(c),
        }
    }
    let joined = format!("{initial}{}", parts.join("/"));
    if joined.is_empty() {
        ".".into()
    } else {
        joined
    }
}

fn parent_key(path: &str) -> &str {
    path.rfind('/').map_or("", |i| &path[..i])
}

/// Python's `str(OSError)` for find's usual complaints.
fn python_error(message: &str, path: &str) -> String {
    let errno = match message {
        "Permission denied" => "[Errno 13] ",
        "No such file or directory" => "[Errno 2] ",
        "Operation not permitted" => "[Errno 1] ",
        "Too many levels of symbolic links" => "[Errno 40] ",
        _ => "",
    };
    format!("{errno}{message}: '{path}'")
}

/// find's stderr → `skipped_paths` entries (`find: 'PATH': MESSAGE`).
fn walk_errors(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("find: ")?;
            let rest = rest.strip_prefix(['\'', '‘'])?;
            let end = rest.rfind(['\'', '’'])?;
            let path = &rest[..end];
            let message = rest[end..].trim_start_matches(['\'', '’']).trim_start_matches(':').trim();
            Some((normpath(path), python_error(message, &normpath(path))))
        })
        .collect()
}

fn decode(bytes: &[u8], encoding: Encoding) -> Option<String> {
    match encoding {
        Encoding::Utf8 => String::from_utf8(bytes.to_vec()).ok(),
        Encoding::Latin1 => Some(bytes.iter().map(|&b| b as char).collect()),
        Encoding::Ascii => bytes.is_ascii().then(|| String::from_utf8_lossy(bytes).into_owned()),
    }
}

/// Python's universal newlines: `\r\n` and `\r` read as `\n`.
fn universal_newlines(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\r', "\n")
}

impl Query {
    fn name_matches(&self, name: &str) -> Result<bool, ModuleError> {
        for p in &self.patterns {
            if p.matches(name)? {
                for e in &self.excludes {
                    if e.matches(name)? {
                        return Ok(false);
                    }
                }
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn age_ok(&self, e: &Entry, now: f64) -> bool {
        let Some(age) = self.age else { return true };
        let t = match self.stamp {
            Stamp::Atime => e.atime,
            Stamp::Ctime => e.ctime,
            Stamp::Mtime => e.mtime,
        };
        let elapsed = now - t;
        if age >= 0 {
            elapsed >= age as f64
        } else {
            elapsed <= age.unsigned_abs() as f64
        }
    }

    fn size_ok(&self, e: &Entry) -> bool {
        match self.size {
            None => true,
            Some(s) if s >= 0 => e.size >= s as u64,
            Some(s) => e.size <= s.unsigned_abs(),
        }
    }

    fn mode_ok(&self, e: &Entry) -> bool {
        match self.mode {
            None => true,
            Some(m) if self.exact_mode => e.mode == m,
            Some(m) => e.mode & m != 0,
        }
    }

    fn content_ok(&self, e: &Entry, walk: &Walk) -> Result<bool, ModuleError> {
        let Some(re) = &self.contains else { return Ok(true) };
        let Some(data) = walk.data.get(&e.path) else { return Ok(false) };
        if data.too_large {
            return Err(ModuleError::failed(format!(
                "{}: stead reads the files `contains` searches through its probe, up to {CONTENT_LIMIT} bytes each; \
                 this one is larger (narrow `patterns` or `size`)",
                normpath(&e.path)
            )));
        }
        let Some(bytes) = &data.content else { return Ok(false) };
        let (encoding, name) = match &self.encoding {
            Some((e, n)) => (*e, n.clone()),
            None => (Encoding::Utf8, "None (default determined by the Python built-in function \"open\")".into()),
        };
        let text = decode(bytes, encoding).ok_or_else(|| {
            ModuleError::failed(format!(
                "Failed to read the file {} due to an encoding error. current encoding: {name}",
                normpath(&e.path)
            ))
        })?;
        let text = universal_newlines(&text);
        let err = |e: crate::pyregex::PyRegexError| ModuleError::failed(e.to_string());
        if self.read_whole_file {
            return re.is_match(&text).map_err(err);
        }
        for line in text.split_inclusive('\n') {
            if re.search(line).map_err(err)?.is_some_and(|m| m.span.0 == 0) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Whether an entry is a result, by Ansible's rules for its `file_type`.
    fn selects(&self, e: &Entry, name: &str, now: f64, walk: &Walk) -> Result<bool, ModuleError> {
        let common =
            |q: &Query| -> Result<bool, ModuleError> { Ok(q.name_matches(name)? && q.age_ok(e, now) && q.mode_ok(e)) };
        Ok(match (self.file_type, e.kind) {
            (FileType::Any, kind) => common(self)? && (kind != '-' || self.size_ok(e)),
            (FileType::Directory, 'd') => common(self)?,
            (FileType::File, '-') => {
                self.name_matches(name)?
                    && self.age_ok(e, now)
                    && self.size_ok(e)
                    && self.content_ok(e, walk)?
                    && self.mode_ok(e)
            }
            (FileType::Link, 'l') => common(self)?,
            _ => false,
        })
    }

    /// Pure: the probe's listing → Ansible's result.
    pub fn evaluate(&self, listing: &Listing) -> Result<Map<String, Value>, ModuleError> {
        let mut files: Vec<Value> = Vec::new();
        let mut skipped = Map::new();
        let mut looked = 0u64;
        let mut warned = false;
        let mut limited = false;
        for (path, walk) in self.paths.iter().zip(&listing.walks) {
            if !walk.is_dir {
                skipped.insert(path.clone(), format!("'{path}' is not a directory").into());
                warned = true;
                continue;
            }
            for (p, msg) in walk_errors(&walk.errors) {
                skipped.insert(p, msg.into());
            }
            let mut children: HashMap<&str, Vec<&Entry>> = HashMap::new();
            for e in &walk.entries {
                children.entry(parent_key(&e.path)).or_default().push(e);
            }
            let root = path.trim_end_matches('/');
            // os.walk, top-down: a directory's files, then its subdirectories;
            // then each subdirectory (a link only when following).
            let mut stack: Vec<(&str, u64)> = vec![(root, 0)];
            'walk: while let Some((dir, level)) = stack.pop() {
                let kids = children.get(dir).map(Vec::as_slice).unwrap_or(&[]);
                looked += kids.len() as u64;
                let ordered: Vec<&Entry> = kids
                    .iter()
                    .filter(|e| !e.dir_followed)
                    .chain(kids.iter().filter(|e| e.dir_followed))
                    .copied()
                    .collect();
                let mut descend = true;
                for e in &ordered {
                    let depth = level + 1;
                    if self.depth.is_some_and(|d| depth > d) {
                        descend = false;
                        continue;
                    }
                    let name = e.path.rsplit('/').next().unwrap_or(&e.path);
                    if name.starts_with('.') && !self.hidden {
                        continue;
                    }
                    if self.selects(e, name, listing.now, walk)? {
                        files.push(Value::Object(self.entry_dict(e, walk)));
                    }
                    if self.limit == Some(files.len()) {
                        limited = true;
                        break 'walk;
                    }
                }
                if !self.recurse {
                    break;
                }
                if descend {
                    let subdirs: Vec<&Entry> =
                        ordered.iter().filter(|e| e.dir_followed && (self.follow || e.kind != 'l')).copied().collect();
                    for e in subdirs.iter().rev() {
                        stack.push((e.path.as_str(), level + 1));
                    }
                }
            }
            if limited {
                break;
            }
        }
        let msg = if warned {
            "Not all paths examined, check warnings for details"
        } else if limited {
            "Limit of matches reached"
        } else {
            "All paths examined"
        };
        let mut r = Map::new();
        r.insert("changed".into(), false.into());
        r.insert("matched".into(), files.len().into());
        r.insert("files".into(), Value::Array(files));
        r.insert("examined".into(), looked.into());
        r.insert("skipped_paths".into(), Value::Object(skipped));
        r.insert("msg".into(), msg.into());
        Ok(r)
    }

    fn entry_dict(&self, e: &Entry, walk: &Walk) -> Map<String, Value> {
        let m = e.mode;
        let fields = json!({
            "path": normpath(&e.path),
            "mode": format!("{:04o}", m & 0o7777),
            "isdir": e.kind == 'd',
            "ischr": e.kind == 'c',
            "isblk": e.kind == 'b',
            "isreg": e.kind == '-',
            "isfifo": e.kind == 'p',
            "islnk": e.kind == 'l',
            "issock": e.kind == 's',
            "uid": e.uid,
            "gid": e.gid,
            "size": e.size,
            "inode": e.inode,
            "dev": e.dev,
            "nlink": e.nlink,
            "atime": e.atime,
            "mtime": e.mtime,
            "ctime": e.ctime,
            "gr_name": e.group,
            "pw_name": e.user,
            "wusr": m & 0o200 != 0,
            "rusr": m & 0o400 != 0,
            "xusr": m & 0o100 != 0,
            "wgrp": m & 0o020 != 0,
            "rgrp": m & 0o040 != 0,
            "xgrp": m & 0o010 != 0,
            "woth": m & 0o002 != 0,
            "roth": m & 0o004 != 0,
            "xoth": m & 0o001 != 0,
            "isuid": m & 0o4000 != 0,
            "isgid": m & 0o2000 != 0,
        });
        let Value::Object(mut d) = fields else { unreachable!("an object literal") };
        if e.kind == '-' && matches!(self.file_type, FileType::Any | FileType::File) && self.checksum.is_some() {
            if let Some(sum) = walk.data.get(&e.path).and_then(|d| d.checksum.clone()) {
                d.insert("checksum".into(), sum.into());
            }
        }
        d
    }
}

/// One `find` task on one host.
#[derive(Debug)]
pub struct FindAction {
    query: Query,
}

impl Action for FindAction {
    fn paths(&self) -> Option<Vec<String>> {
        Some(self.query.paths.clone())
    }

    fn probe(&self) -> Option<String> {
        Some(self.query.script())
    }

    fn compare(&mut self, probe: Option<&ExecOutput>) -> Result<Plan, ModuleError> {
        let out = probe.ok_or_else(|| ModuleError::Probe("the find probe did not run".into()))?;
        if out.status != 0 {
            return Err(ModuleError::failed(format!(
                "find failed (exit {}): {}",
                out.status,
                out.stderr_text().trim()
            )));
        }
        let listing = parse(&out.stdout, self.query.paths.len())?;
        let mut plan = Plan::ok();
        plan.result = self.query.evaluate(&listing)?;
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::file_write::testing::{run, FakeCtx, HOSTILE};

    fn query(v: Value) -> Result<Query, ModuleError> {
        Query::from_args(&Args::new(&SPEC, v.as_object().unwrap().clone()))
    }

    fn entry(path: &str, kind: char, dir_followed: bool, size: u64, mtime: f64) -> Entry {
        Entry {
            path: path.into(),
            dir_followed,
            kind,
            mode: if kind == 'd' { 0o755 } else { 0o644 },
            uid: 0,
            gid: 0,
            size,
            mtime,
            atime: mtime,
            ctime: mtime,
            inode: 1,
            nlink: 1,
            dev: 1,
            user: "root".into(),
            group: "root".into(),
        }
    }

    fn listing(entries: Vec<Entry>) -> Listing {
        Listing { now: 1000.0, walks: vec![Walk { is_dir: true, entries, ..Walk::default() }] }
    }

    fn paths(r: &Map<String, Value>) -> Vec<String> {
        r["files"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap().to_owned()).collect()
    }

    #[test]
    fn fnmatch_follows_python() {
        let m = |p: &str, s: &str| {
            Matcher::Glob(PyRegex::new(&fnmatch_regex(p), Flags::default()).unwrap()).matches(s).unwrap()
        };
        assert!(m("*.conf", "a.conf") && !m("*.conf", "a.conf.bak") && m("*", ".hidden"));
        assert!(m("a?c", "abc") && !m("a?c", "ac"));
        assert!(m("[ab]x", "bx") && !m("[!ab]x", "bx") && m("[!ab]x", "cx"));
        assert!(m("[", "[") && m("a\\b", "a\\b") && m("[]]", "]"));
        assert!(m("x.(y)+", "x.(y)+") && !m("x.(y)+", "xa(y)+"));
        assert!(m("[a-c]", "b") && !m("[a-c]", "d"));
    }

    #[test]
    fn units_and_bad_values() {
        assert_eq!(parse_age("2d"), Some(172_800));
        assert_eq!(parse_age("-1H"), Some(-3600));
        assert_eq!(parse_size("10k"), Some(10_240));
        assert_eq!(parse_size("x"), None);
        assert_eq!(parse_age("1y"), None);
        let e = query(json!({"paths": "/x", "age": "1y"})).unwrap_err();
        assert_eq!(e.to_string(), "failed to process age");
        let e = query(json!({"paths": "/x", "limit": 0})).unwrap_err();
        assert_eq!(e.to_string(), "limit cannot be 0 (use None for unlimited)");
        let e = query(json!({"paths": "/x", "mode": 420})).unwrap_err();
        assert!(e.to_string().contains("is not a string"), "{e}");
        assert!(query(json!({"paths": "/x", "encoding": "klingon"})).is_err());
    }

    #[test]
    fn walk_order_depth_hidden_and_examined_follow_os_walk() {
        let entries = vec![
            entry("/r/sub", 'd', true, 0, 0.0),
            entry("/r/sub/deep", 'd', true, 0, 0.0),
            entry("/r/sub/deep/z.txt", '-', false, 1, 0.0),
            entry("/r/sub/b.txt", '-', false, 1, 0.0),
            entry("/r/a.txt", '-', false, 1, 0.0),
            entry("/r/.h.txt", '-', false, 1, 0.0),
            entry("/r/.git", 'd', true, 0, 0.0),
            entry("/r/.git/c.txt", '-', false, 1, 0.0),
        ];
        let l = listing(entries);
        let q = query(json!({"paths": "/r", "patterns": "*.txt"})).unwrap();
        let r = q.evaluate(&l).unwrap();
        assert_eq!(paths(&r), ["/r/a.txt"]);
        assert_eq!(r["examined"], 4);
        let q = query(json!({"paths": ["/r/"], "patterns": "*.txt", "recurse": true})).unwrap();
        let r = q.evaluate(&l).unwrap();
        // Hidden directories are walked; only hidden names are left out.
        assert_eq!(paths(&r), ["/r/a.txt", "/r/sub/b.txt", "/r/sub/deep/z.txt", "/r/.git/c.txt"]);
        assert_eq!(r["examined"], 8);
        let q = query(json!({"paths": "/r", "recurse": true, "depth": 1, "hidden": true, "file_type": "any"})).unwrap();
        let r = q.evaluate(&l).unwrap();
        assert_eq!(paths(&r), ["/r/a.txt", "/r/.h.txt", "/r/sub", "/r/.git"]);
        let q = query(json!({"paths": "/r", "recurse": true, "limit": 2, "patterns": "*.txt"})).unwrap();
        let r = q.evaluate(&l).unwrap();
        assert_eq!(paths(&r), ["/r/a.txt", "/r/sub/b.txt"]);
        assert_eq!(r["msg"], "Limit of matches reached");
    }

    #[test]
    fn filters_regex_excludes_age_size_mode() {
        let mut old = entry("/r/old.log", '-', false, 5000, 100.0);
        old.mode = 0o600;
        let l = listing(vec![old, entry("/r/new.log", '-', false, 10, 990.0), entry("/r/x.tmp", '-', false, 1, 0.0)]);
        let f = |v: Value| paths(&query(v).unwrap().evaluate(&l).unwrap());
        assert_eq!(
            f(json!({"paths": "/r", "patterns": "^.*\\.log$", "use_regex": true})),
            ["/r/old.log", "/r/new.log"]
        );
        assert_eq!(f(json!({"paths": "/r", "patterns": "*", "excludes": "*.tmp,new*"})), ["/r/old.log"]);
        assert_eq!(f(json!({"paths": "/r", "age": "5m"})), ["/r/old.log", "/r/x.tmp"]);
        assert_eq!(f(json!({"paths": "/r", "age": "-1m"})), ["/r/new.log"]);
        assert_eq!(f(json!({"paths": "/r", "size": "1k"})), ["/r/old.log"]);
        assert_eq!(f(json!({"paths": "/r", "mode": "0600"})), ["/r/old.log"]);
        assert_eq!(f(json!({"paths": "/r", "mode": "g+r", "exact_mode": false})), ["/r/new.log", "/r/x.tmp"]);
        // Python's re.match is anchored at the start only.
        assert_eq!(f(json!({"paths": "/r", "patterns": "old", "use_regex": true})), ["/r/old.log"]);
    }

    #[test]
    fn a_missing_path_is_skipped_with_ansibles_words() {
        let q = query(json!({"paths": ["/nope"]})).unwrap();
        let r = q.evaluate(&Listing { now: 0.0, walks: vec![Walk::default()] }).unwrap();
        assert_eq!(r["skipped_paths"], json!({"/nope": "'/nope' is not a directory"}));
        assert_eq!(r["msg"], "Not all paths examined, check warnings for details");
        assert_eq!(r["matched"], 0);
        let errs = walk_errors("find: '/r/locked': Permission denied\n");
        assert_eq!(errs, [("/r/locked".to_owned(), "[Errno 13] Permission denied: '/r/locked'".to_owned())]);
    }

    #[test]
    fn normpath_is_pythons() {
        assert_eq!(normpath("/a//b/./c/"), "/a/b/c");
        assert_eq!(normpath("a/../../b"), "../b");
        assert_eq!(normpath("//x"), "//x");
        assert_eq!(normpath("/.."), "/");
    }

    fn run_find(v: Value) -> Map<String, Value> {
        let q = query(v).unwrap();
        let out = run(&q.script(), b"");
        assert_eq!(out.status, 0, "{}", out.stderr_text());
        q.evaluate(&parse(&out.stdout, q.paths.len()).unwrap()).unwrap()
    }

    #[test]
    fn real_probe_on_a_hostile_tree() {
        let ctx = FakeCtx::default();
        let root = ctx.root().join(HOSTILE);
        std::fs::create_dir_all(root.join("sub\ndir")).unwrap();
        std::fs::write(root.join("a b.conf"), "x = 1\nthe needle\n").unwrap();
        std::fs::write(root.join("sub\ndir").join("c.conf"), "no\n").unwrap();
        std::fs::write(root.join("other.txt"), "needle\n").unwrap();
        std::os::unix::fs::symlink("sub\ndir", root.join("link")).unwrap();
        let r0 = root.to_str().unwrap();
        let r = run_find(json!({"paths": r0, "patterns": "*.conf", "recurse": true, "get_checksum": true}));
        let mut got = paths(&r);
        got.sort();
        assert_eq!(got, [format!("{r0}/a b.conf"), format!("{r0}/sub\ndir/c.conf")]);
        assert_eq!(r["examined"], 5);
        let a =
            r["files"].as_array().unwrap().iter().find(|f| f["path"].as_str().unwrap().ends_with("a b.conf")).unwrap();
        assert_eq!(a["size"], 17);
        assert_eq!(a["checksum"].as_str().unwrap().len(), 40);
        assert_eq!(a["isreg"], true);
        let r = run_find(json!({"paths": r0, "contains": "needle", "recurse": true}));
        let mut got = paths(&r);
        got.sort();
        assert_eq!(got, [format!("{r0}/other.txt")], "line by line, re.match is anchored");
        let r = run_find(json!({"paths": r0, "contains": "needle", "read_whole_file": true}));
        assert_eq!(paths(&r).len(), 2);
        let r = run_find(json!({"paths": r0, "file_type": "link"}));
        assert_eq!(paths(&r), [format!("{r0}/link")]);
        assert_eq!(r["files"][0]["islnk"], true);
        // Following the link walks the directory twice, and reports the link itself.
        let r = run_find(
            json!({"paths": r0, "recurse": true, "follow": true, "file_type": "any", "patterns": "*.conf,link"}),
        );
        let mut got = paths(&r);
        got.sort();
        assert_eq!(
            got,
            [
                format!("{r0}/a b.conf"),
                format!("{r0}/link"),
                format!("{r0}/link/c.conf"),
                format!("{r0}/sub\ndir/c.conf")
            ]
        );
        let link =
            r["files"].as_array().unwrap().iter().find(|f| f["path"].as_str().unwrap().ends_with("/link")).unwrap();
        assert_eq!(link["islnk"], true);
        let r = run_find(json!({"paths": [format!("{r0}/nope"), r0]}));
        assert_eq!(r["skipped_paths"].as_object().unwrap().len(), 1);
        assert_eq!(r["matched"], 2);
    }
}
