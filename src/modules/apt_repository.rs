//! `apt_repository`: a one-line `deb`/`deb-src` source, as
//! `ansible.builtin.apt_repository` manages it, rule for rule, so that the
//! same host is managed identically by both tools.
//!
//! One probe reads apt's source locations (`apt-config`, else the defaults)
//! and every file Ansible reads: `sources.list` and `sources.list.d/*.list`
//! (not hidden ones), named as Ansible's `glob` names them. The pure part replays
//! Ansible's `SourcesList`: every line is parsed into (valid, enabled,
//! source, comment) and written back in its normalised form; `present`
//! enables every matching line (commented out or not) or appends the line to
//! the file named after the URI ([`suggest_filename`]); `absent` removes the
//! enabled matching lines with Ansible's own index arithmetic. When anything
//! differs, Ansible rewrites *every* sources file in normalised form and
//! deletes the empty ones, and so does this module (only the files whose
//! bytes change are written). `update_cache` then runs `apt-get update`
//! with Ansible's retries, and restores the files when it keeps failing.
//!
//! Files are replaced atomically, and only if still what the probe read (see
//! [`super::file_write`]). `ppa:` repositories are refused: they need the
//! Launchpad API and a key server. This module never builds a shell string
//! by hand: every value goes through [`crate::transport::quote::quote`].

use std::collections::BTreeMap;

use super::file_state::{Attrs, FileKind, FileState};
use super::file_write::{Expect, WriteFile};
use super::{
    Action, ApplyScript, ArgKind, ArgSpec, Args, Diff, Module, ModuleError, ModuleSpec, Plan, ResultMap, TaskContext,
};
use crate::transport::quote::quote;
use crate::transport::ExecOutput;

/// The `apt_repository` module.
pub struct AptRepository;

/// First line of the probe's output.
const MARKER: &str = "stead-apt-sources";
/// Exit status of the apply script when `apt-get update` kept failing.
const UPDATE_FAILED: i32 = 3;

static SPEC: ModuleSpec = ModuleSpec::new(&[
    ArgSpec::new("repo", ArgKind::Str).required(),
    ArgSpec::new("state", ArgKind::Str).choices(&["present", "absent"]),
    ArgSpec::new("mode", ArgKind::Mode),
    ArgSpec::new("update_cache", ArgKind::Bool).aliases(&["update-cache"]),
    ArgSpec::new("update_cache_retries", ArgKind::Int),
    ArgSpec::new("update_cache_retry_max_delay", ArgKind::Int),
    ArgSpec::new("filename", ArgKind::Str),
    ArgSpec::new("install_python_apt", ArgKind::Bool),
    ArgSpec::new("validate_certs", ArgKind::Bool),
    ArgSpec::new("codename", ArgKind::Str),
]);

impl Module for AptRepository {
    fn name(&self) -> &'static str {
        "apt_repository"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: &Args, _ctx: &dyn TaskContext) -> Result<Box<dyn Action>, ModuleError> {
        let repo = args.str("repo")?;
        let present = args.choice_or("state", &["present", "absent"], "present")? == "present";
        // Only a ppa: line uses these; they are accepted and have no effect,
        // as in Ansible. stead needs no Python on the host.
        for unused in ["install_python_apt", "validate_certs"] {
            args.bool_or(unused, true)?;
        }
        args.opt_str("codename")?;
        if repo.is_empty() {
            return Err(ModuleError::failed("Please set argument 'repo' to a non-empty value"));
        }
        if repo.starts_with("ppa:") {
            return Err(ModuleError::failed(format!(
                "stead does not manage PPAs (`{repo}`): adding one needs the Launchpad API and a key server; \
                 write its deb line (and its key with deb822_repository signed_by) instead"
            )));
        }
        let (valid, enabled, source, _) = parse_line(&repo);
        if !valid || !enabled {
            return Err(ModuleError::failed(format!("Invalid repository string: {}", invalid_text(&repo))));
        }
        let retries = args.opt_int("update_cache_retries")?.unwrap_or(5);
        let max_delay = args.opt_int("update_cache_retry_max_delay")?.unwrap_or(12).max(0);
        let mode = args.opt_mode("mode")?;
        let mode_text = match (&mode, args.get("mode")) {
            (Some(super::mode::Mode::Symbolic(_)), Some(serde_json::Value::String(s))) => Some(s.clone()),
            _ => None,
        };
        Ok(Box::new(AptRepositoryAction {
            repo,
            source,
            present,
            filename: args.opt_str("filename")?,
            attrs: Attrs { mode, mode_text, owner: None, group: None },
            update: args.bool_or("update_cache", true)?.then_some((retries, max_delay)),
        }))
    }
}

/// Python's `str.isspace`, as `strip()` and `split()` use it.
fn py_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

/// The text Ansible's `InvalidSource` carries: the line without its leading
/// `#` and its trailing comment.
fn invalid_text(line: &str) -> String {
    let mut line = line.trim_matches(py_space);
    line = line.strip_prefix('#').unwrap_or(line);
    match line.find('#') {
        Some(i) if i > 0 => line[..i].to_owned(),
        _ => line.to_owned(),
    }
}

/// Ansible's `SourcesList._parse`: (valid, enabled, source, comment). A
/// valid source has its whitespace collapsed.
pub fn parse_line(line: &str) -> (bool, bool, String, String) {
    let mut line = line.trim_matches(py_space);
    let mut enabled = true;
    if let Some(rest) = line.strip_prefix('#') {
        enabled = false;
        line = rest;
    }
    let mut comment = String::new();
    if let Some(i) = line.find('#').filter(|&i| i > 0) {
        comment = line[i + 1..].trim_matches(py_space).to_owned();
        line = &line[..i];
    }
    let mut source = line.trim_matches(py_space).to_owned();
    let mut valid = false;
    if !source.is_empty() {
        let chunks: Vec<&str> = source.split(py_space).filter(|c| !c.is_empty()).collect();
        if matches!(chunks[0], "deb" | "deb-src") {
            valid = true;
            source = chunks.join(" ");
        }
    }
    (valid, enabled, source, comment)
}

/// One line of a sources file, as Ansible keeps it: its original index
/// (Ansible's `n`, which goes stale after a removal), and its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    n: usize,
    valid: bool,
    enabled: bool,
    source: String,
    comment: String,
}

/// Splits text into lines as Python's universal newlines do.
fn py_lines(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        match rest.find(['\n', '\r']) {
            Some(i) => {
                out.push(&rest[..i]);
                let skip = if rest[i..].starts_with("\r\n") { 2 } else { 1 };
                rest = &rest[i + skip..];
            }
            None => {
                out.push(rest);
                rest = "";
            }
        }
    }
    out
}

/// Ansible's `load`: a file's content → its entries.
pub fn load(text: &str) -> Vec<Entry> {
    py_lines(text)
        .into_iter()
        .enumerate()
        .map(|(n, line)| {
            let (valid, enabled, source, comment) = parse_line(line);
            Entry { n, valid, enabled, source, comment }
        })
        .collect()
}

/// Ansible's `dump` of one file: every line in normalised form.
pub fn render(entries: &[Entry]) -> String {
    let mut out = String::new();
    for e in entries {
        if !e.enabled {
            out.push_str("# ");
        }
        out.push_str(&e.source);
        if !e.comment.is_empty() {
            out.push_str(" # ");
            out.push_str(&e.comment);
        }
        out.push('\n');
    }
    out
}

/// Ansible's `_suggest_filename`: `filename` + `.list`, else the source's
/// URI without options, scheme and credentials, every run of other
/// characters than ASCII letters and digits made one `_`.
pub fn suggest_filename(source: &str, filename: Option<&str>) -> Result<String, ModuleError> {
    if let Some(f) = filename {
        return Ok(format!("{f}.list"));
    }
    let options = regex::Regex::new(r"\[[^\]]+\]").expect("valid");
    let scheme = regex::Regex::new(r"\w+://").expect("valid");
    let line = options.replace_all(source, "");
    let line = scheme.replace_all(&line, "");
    let first = line
        .split(py_space)
        .find(|p| !p.is_empty() && !matches!(*p, "deb" | "deb-src"))
        .ok_or_else(|| ModuleError::failed(format!("Invalid repository string: {source} (no URI)")))?;
    let first = first.split_once('@').map_or(first, |(_, host)| host);
    let cleaned: String = first.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { ' ' }).collect();
    Ok(format!("{}.list", cleaned.split_whitespace().collect::<Vec<_>>().join("_")))
}

/// Python's `os.path.normpath` of an absolute path.
pub fn normpath(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    let lead = if path.starts_with("//") && !path.starts_with("///") { "//" } else { "/" };
    format!("{lead}{}", parts.join("/"))
}

/// Ansible's `_expand_path`: a name with a `/` is used as it is, else it
/// goes into apt's sources directory.
pub fn expand_path(name: &str, parts_dir: &str) -> String {
    if name.contains('/') {
        name.to_owned()
    } else {
        normpath(&format!("{parts_dir}/{name}"))
    }
}

/// The sources files as Ansible holds them: (its key for the file, entries),
/// in the order it read them.
pub type Sources = Vec<(String, Vec<Entry>)>;

/// Ansible's `_add_valid_source`: enables every matching line, else appends
/// the source to `file`. Returns the file appended to, if any.
pub fn add_source(files: &mut Sources, source: &str, file: &str) -> Option<String> {
    let mut found = false;
    for (_, entries) in files.iter_mut() {
        for e in entries.iter_mut().filter(|e| e.valid && e.source == source) {
            e.enabled = true;
            found = true;
        }
    }
    if found {
        return None;
    }
    let at = match files.iter().position(|(k, _)| k == file) {
        Some(i) => i,
        None => {
            files.push((file.to_owned(), Vec::new()));
            files.len() - 1
        }
    };
    let entries = &mut files[at].1;
    entries.push(Entry {
        n: entries.len(),
        valid: true,
        enabled: true,
        source: source.to_owned(),
        comment: String::new(),
    });
    Some(file.to_owned())
}

/// Ansible's `_remove_valid_source`, replayed exactly: while iterating over
/// a file's lines, each enabled match is popped *by its original index*, so
/// after a first removal a second match in the same file takes its
/// neighbour, as Ansible's does.
pub fn remove_source(files: &mut Sources, source: &str) -> Result<(), ModuleError> {
    for (_, entries) in files.iter_mut() {
        let mut i = 0;
        while i < entries.len() {
            let e = entries[i].clone();
            i += 1;
            if e.valid && e.enabled && e.source == source {
                if e.n >= entries.len() {
                    return Err(ModuleError::failed("pop index out of range"));
                }
                entries.remove(e.n);
            }
        }
    }
    Ok(())
}

/// Ansible's `dump`: every file with lines, by key.
pub fn dump(files: &Sources) -> BTreeMap<String, String> {
    files.iter().filter(|(_, e)| !e.is_empty()).map(|(k, e)| (k.clone(), render(e))).collect()
}

/// One file as the probe saw it.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    /// Ansible's key for it (the path as its glob spells it).
    pub key: String,
    /// Its state (for the write's mode, owner and checksum guard).
    pub state: FileState,
    /// Its bytes.
    pub content: Vec<u8>,
}

/// What the probe found.
#[derive(Debug, Clone, Default)]
pub struct Probed {
    /// `Dir::Etc::sourcelist`.
    pub list: String,
    /// `Dir::Etc::sourceparts`, with apt's trailing slash.
    pub parts: String,
    /// The files, in the order read.
    pub files: Vec<Seen>,
}

/// What happens to one real path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileOp {
    /// New content.
    Write {
        /// The file's lines, normalised.
        content: String,
        /// A line was appended to it (the `mode` applies).
        new_repo: bool,
    },
    /// The file is deleted (it has no lines left).
    Remove,
}

/// The outcome of the pure replay.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Whether Ansible's before/after dumps differ.
    pub changed: bool,
    /// Keys that appear (Ansible's `sources_added`).
    pub added: Vec<String>,
    /// Keys that disappear (`sources_removed`).
    pub removed: Vec<String>,
    /// Per real path, the last operation Ansible's `save` does on it.
    pub ops: Vec<(String, FileOp)>,
}

/// Pure: the probed files and the request → what Ansible's run does.
pub fn decide(probed: &Probed, source: &str, present: bool, filename: Option<&str>) -> Result<Outcome, ModuleError> {
    let before: Sources =
        probed.files.iter().map(|f| (f.key.clone(), load(&String::from_utf8_lossy(&f.content)))).collect();
    let mut after = before.clone();
    let mut new_repo = None;
    if present {
        let file = expand_path(&suggest_filename(source, filename)?, &probed.parts);
        new_repo = add_source(&mut after, source, &file);
    } else {
        remove_source(&mut after, source)?;
    }
    let (b, a) = (dump(&before), dump(&after));
    let mut out = Outcome { changed: b != a, ..Outcome::default() };
    if !out.changed {
        return Ok(out);
    }
    out.added = a.keys().filter(|k| !b.contains_key(*k)).cloned().collect();
    out.removed = b.keys().filter(|k| !a.contains_key(*k)).cloned().collect();
    for (key, entries) in &after {
        let real = normpath(key);
        let op = if entries.is_empty() {
            FileOp::Remove
        } else {
            FileOp::Write { content: render(entries), new_repo: new_repo.as_deref() == Some(key.as_str()) }
        };
        match out.ops.iter_mut().find(|(p, _)| *p == real) {
            Some(slot) => slot.1 = op,
            None => out.ops.push((real, op)),
        }
    }
    Ok(out)
}

/// Parses the probe's output.
pub fn parse_probe(stdout: &[u8]) -> Result<Probed, ModuleError> {
    let bad = |what: &str| ModuleError::Probe(format!("apt sources: {what}"));
    let mut pos = 0;
    let line = |pos: &mut usize| -> Result<String, ModuleError> {
        let rest = &stdout[*pos..];
        let end = rest.iter().position(|&b| b == b'\n').ok_or_else(|| bad("truncated"))?;
        *pos += end + 1;
        Ok(String::from_utf8_lossy(&rest[..end]).into_owned())
    };
    let bytes = |pos: &mut usize, n: usize| -> Result<Vec<u8>, ModuleError> {
        let rest = &stdout[*pos..];
        if rest.len() < n + 1 || rest[n] != b'\n' {
            return Err(bad("truncated field"));
        }
        *pos += n + 1;
        Ok(rest[..n].to_vec())
    };
    let header = line(&mut pos)?;
    match header.strip_prefix(MARKER) {
        Some(" ok") => {}
        Some(" no-apt") => return Err(ModuleError::failed("Module apt_repository is not supported on target.")),
        _ => return Err(bad("no header")),
    }
    let len = |s: &str| s.parse::<usize>().map_err(|_| bad("bad length"));
    let n = len(&line(&mut pos)?)?;
    let list = String::from_utf8_lossy(&bytes(&mut pos, n)?).into_owned();
    let n = len(&line(&mut pos)?)?;
    let parts = String::from_utf8_lossy(&bytes(&mut pos, n)?).into_owned();
    let mut files = Vec::new();
    loop {
        let l = line(&mut pos)?;
        if l == "done" {
            break;
        }
        // file PATHLEN RAWMODE UID GID
        let f: Vec<&str> = l.split(' ').collect();
        if f.len() != 5 || f[0] != "file" {
            return Err(bad("bad file line"));
        }
        let key = String::from_utf8_lossy(&bytes(&mut pos, len(f[1])?)?).into_owned();
        let raw = u32::from_str_radix(f[2], 16).map_err(|_| bad("bad mode"))?;
        let mut state = FileState {
            exists: true,
            kind: FileKind::from_raw_mode(raw),
            mode: raw & 0o7777,
            uid: f[3].parse().map_err(|_| bad("bad uid"))?,
            gid: f[4].parse().map_err(|_| bad("bad gid"))?,
            ..FileState::default()
        };
        loop {
            let l = line(&mut pos)?;
            let (k, v) = l.split_once(' ').unwrap_or((&l, ""));
            match k {
                "link" => state.link_target = Some(String::from_utf8_lossy(&bytes(&mut pos, len(v)?)?).into_owned()),
                "sha256" => state.sha256 = Some(v.to_owned()),
                "content" => {
                    let content = bytes(&mut pos, len(v)?)?;
                    files.push(Seen { key: key.clone(), state: state.clone(), content });
                    break;
                }
                _ => return Err(bad("unknown line")),
            }
        }
    }
    Ok(Probed { list, parts, files })
}

/// The probe: apt's locations and every file Ansible reads.
pub fn probe_script() -> String {
    format!(
        "LC_ALL=C\nexport LC_ALL\n\
         if ! command -v apt-config >/dev/null 2>&1; then printf '{MARKER} no-apt\\n'; exit 0; fi\n\
         SL=/etc/apt/sources.list SP=/etc/apt/sources.list.d/\n\
         eval \"$(apt-config shell SL Dir::Etc::sourcelist/f SP Dir::Etc::sourceparts/d)\"\n\
         printf '{MARKER} ok\\n%s\\n%s\\n%s\\n%s\\n' \"${{#SL}}\" \"$SL\" \"${{#SP}}\" \"$SP\"\n\
         one() {{\n  \
           [ -f \"$1\" ] && [ -r \"$1\" ] || return 0\n  \
           printf 'file %s %s\\n%s\\n' \"${{#1}}\" \"$(stat -L -c '%f %u %g' -- \"$1\")\" \"$1\"\n  \
           if [ -L \"$1\" ]; then t=$(readlink -- \"$1\"; echo .); t=${{t%?.}}; printf 'link %s\\n%s\\n' \"${{#t}}\" \"$t\"; fi\n  \
           h=$(sha256sum < \"$1\"); printf 'sha256 %s\\n' \"${{h%% *}}\"\n  \
           n=$(wc -c < \"$1\"); printf 'content %s\\n' \"$((n))\"; cat -- \"$1\"; printf '\\n'\n\
         }}\n\
         one \"$SL\"\n\
         D=$SP; while [ \"${{D%/}}\" != \"$D\" ] && [ -n \"${{D%/}}\" ]; do D=${{D%/}}; done\n\
         for f in \"$D\"/*.list; do one \"$f\"; done\n\
         printf 'done\\n'\n"
    )
}

/// One `apt_repository` task on one host.
#[derive(Debug)]
pub struct AptRepositoryAction {
    repo: String,
    source: String,
    present: bool,
    filename: Option<String>,
    attrs: Attrs,
    /// `update_cache`: (retries, max delay).
    update: Option<(i64, i64)>,
}

impl AptRepositoryAction {
    /// The apply script: keep the old files, write or remove each, update
    /// the cache with retries, and restore the old files when that fails.
    fn apply_script(&self, probed: &Probed, ops: &[(String, FileOp)]) -> ApplyScript {
        let mut script = String::from(
            "LC_ALL=C\nexport LC_ALL\nbk=$(mktemp -d) || exit 1\ntrap 'rm -rf -- \"$bk\"' EXIT\n\
             trap 'exit 1' HUP INT TERM\ncat > \"$bk/in\" || exit 1\n",
        );
        let mut stdin = Vec::new();
        let mut restore = String::from("restore() {\n");
        for (i, (path, _)) in ops.iter().enumerate() {
            let p = quote(path);
            script.push_str(&format!("if [ -e {p} ]; then cp -p -- {p} \"$bk/{i}\" || exit 1; fi\n"));
            restore
                .push_str(&format!("  if [ -e \"$bk/{i}\" ]; then cat -- \"$bk/{i}\" > {p}; else rm -f -- {p}; fi\n"));
        }
        restore.push_str("  :\n}\n");
        script.push_str(&restore);
        let absent = FileState::default();
        for (path, op) in ops {
            let seen = probed.files.iter().find(|f| normpath(&f.key) == *path);
            let current = seen.map_or(&absent, |f| &f.state);
            match op {
                FileOp::Write { content, new_repo } => {
                    let default = Attrs::default();
                    let write = WriteFile {
                        dest: path,
                        content: content.as_bytes(),
                        follow: true,
                        attrs: if *new_repo { &self.attrs } else { &default },
                        current,
                        backup: false,
                        make_parents: true,
                        validate: None,
                        expect: Some(match seen.and_then(|f| f.state.sha256.clone()) {
                            Some(sum) => Expect::Sha256(sum),
                            None => Expect::Absent,
                        }),
                    }
                    .apply();
                    // Each write reads its own slice of the stdin.
                    script.push_str(&format!(
                        "tail -c +{} \"$bk/in\" | head -c {} | (\n{}\n) >/dev/null || {{ restore; exit 1; }}\n",
                        stdin.len() + 1,
                        write.stdin.len(),
                        write.script
                    ));
                    stdin.extend(write.stdin);
                }
                FileOp::Remove => {
                    script.push_str(&format!("rm -f -- {} || {{ restore; exit 1; }}\n", quote(path)));
                }
            }
        }
        if let Some((retries, max_delay)) = self.update {
            script.push_str(&format!(
                "n=0\nuntil [ {retries} -gt 0 ] && apt-get update -q -o APT::Update::Error-Mode=any \
                 >\"$bk/out\" 2>&1; do\n  \
                 n=$((n + 1))\n  \
                 if [ \"$n\" -ge {retries} ]; then cat \"$bk/out\" >&2; \
                 restore; exit {UPDATE_FAILED}; fi\n  \
                 d=$((1 << (n - 1))); [ \"$d\" -le {max_delay} ] || d={max_delay}\n  sleep \"$d\"\n\
                 done\n"
            ));
        }
        ApplyScript { script, stdin }
    }
}

/// apt-get's errors and warnings as python-apt's `FetchFailedException`
/// words them (`E:Failed to fetch …, W:…`), else its whole stderr.
fn fetch_errors(stderr: &str) -> String {
    let lines: Vec<String> = stderr
        .lines()
        .filter_map(|l| {
            let (kind, text) = l.split_once(": ")?;
            matches!(kind, "E" | "W").then(|| format!("{kind}:{text}"))
        })
        .collect();
    match (lines.is_empty(), stderr.trim()) {
        (true, "") => "unknown reason".into(),
        (true, all) => all.to_owned(),
        (false, _) => lines.join(", "),
    }
}

/// The `--diff`: each file that changes, before and after.
fn diff_of(probed: &Probed, ops: &[(String, FileOp)]) -> Option<Diff> {
    let changes: Vec<(String, String, String)> = ops
        .iter()
        .filter_map(|(path, op)| {
            let before = probed
                .files
                .iter()
                .find(|f| normpath(&f.key) == *path)
                .map(|f| String::from_utf8_lossy(&f.content).into_owned());
            let after = match op {
                FileOp::Write { content, .. } => Some(content.clone()),
                FileOp::Remove => None,
            };
            (before != after).then(|| (path.clone(), before.unwrap_or_default(), after.unwrap_or_default()))
        })
        .collect();
    match changes.as_slice() {
        [] => None,
        [(path, b, a)] => Some(Diff::file(path, b, a)),
        many => {
            let side = |f: &dyn Fn(&(String, String, String)) -> &String| {
                many.iter().map(|c| format!("==> {} <==\n{}", c.0, f(c))).collect::<String>()
            };
            Some(Diff {
                before_header: "before: apt sources".into(),
                after_header: "after: apt sources".into(),
                before: side(&|c| &c.1),
                after: side(&|c| &c.2),
            })
        }
    }
}

impl Action for AptRepositoryAction {
    fn paths(&self) -> Option<Vec<String>> {
        Some(vec!["/etc/apt".into()])
    }

    fn probe(&self) -> Option<String> {
        Some(probe_script())
    }

    fn compare(&mut self, probe: Option<&ExecOutput>) -> Result<Plan, ModuleError> {
        let out = probe.ok_or_else(|| ModuleError::Probe("the apt sources probe did not run".into()))?;
        if out.status != 0 {
            return Err(ModuleError::failed(format!("cannot read the apt sources: {}", out.stderr_text().trim())));
        }
        let probed = parse_probe(&out.stdout)?;
        let outcome = decide(&probed, &self.source, self.present, self.filename.as_deref())?;
        // Only the files whose bytes change are written (Ansible rewrites
        // them all with the same bytes).
        let ops: Vec<(String, FileOp)> = outcome
            .ops
            .iter()
            .filter(|(path, op)| {
                let seen = probed.files.iter().find(|f| normpath(&f.key) == *path);
                match (op, seen) {
                    (FileOp::Remove, seen) => seen.is_some(),
                    (FileOp::Write { content, .. }, Some(f)) => f.content != content.as_bytes(),
                    (FileOp::Write { .. }, None) => true,
                }
            })
            .cloned()
            .collect();
        let mut plan = if outcome.changed {
            Plan::change(self.apply_script(&probed, &ops)).with_diff(diff_of(&probed, &ops))
        } else {
            Plan::ok()
        };
        let r = &mut plan.result;
        r.insert("repo".into(), self.repo.clone().into());
        r.insert("state".into(), if self.present { "present" } else { "absent" }.into());
        r.insert("sources_added".into(), outcome.added.clone().into());
        r.insert("sources_removed".into(), outcome.removed.clone().into());
        r.insert("changed".into(), outcome.changed.into());
        Ok(plan)
    }

    fn finish(&mut self, plan: Plan, out: &ExecOutput) -> Result<Plan, ModuleError> {
        let err = out.stderr_text();
        let msg = match out.status {
            0 => return Ok(plan),
            UPDATE_FAILED => format!(
                "Failed to update apt cache after {} retries: {}",
                self.update.map_or(0, |u| u.0),
                fetch_errors(&err)
            ),
            _ => err.trim().to_owned(),
        };
        let mut result: ResultMap = plan.result;
        result.insert("rc".into(), out.status.into());
        Err(ModuleError::Failed { msg, result })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::file_write::testing::{run, FakeCtx, HOSTILE};
    use serde_json::{json, Value};

    #[test]
    fn lines_parse_and_render_as_ansible_writes_them() {
        let text = "#deb   http://a/debian  bookworm main   # old one\n\n## note\nfoo#bar\n  deb-src http://b x\n#\n";
        let entries = load(text);
        assert_eq!(
            render(&entries),
            "# deb http://a/debian bookworm main # old one\n\n# # note\nfoo # bar\ndeb-src http://b x\n# \n"
        );
        assert_eq!(parse_line("deb\thttp://a  x # c"), (true, true, "deb http://a x".into(), "c".into()));
        assert!(!parse_line("debx http://a").0);
        assert_eq!(load("a\r\nb\rc").len(), 3);
    }

    #[test]
    fn file_names_follow_ansible() {
        let s = |src: &str| suggest_filename(src, None).unwrap();
        assert_eq!(
            s("deb [trusted=yes] file:/var/tmp/stead-apt-cache/repo-v1 ./"),
            "file_var_tmp_stead_apt_cache_repo_v1.list"
        );
        assert_eq!(s("deb http://user:pw@deb.example.org/debian bookworm main"), "deb_example_org_debian.list");
        assert_eq!(
            s("deb-src [arch=amd64 signed-by=/k.gpg] https://dl.example.com/x/ stable main"),
            "dl_example_com_x.list"
        );
        assert_eq!(suggest_filename("deb http://a b", Some("mine")).unwrap(), "mine.list");
        assert!(suggest_filename("deb", None).is_err());
        assert_eq!(expand_path("x.list", "/etc/apt/sources.list.d/"), "/etc/apt/sources.list.d/x.list");
        assert_eq!(expand_path("/opt/x.list", "/etc/apt/sources.list.d/"), "/opt/x.list");
        assert_eq!(normpath("/etc/apt/sources.list.d//x.list"), "/etc/apt/sources.list.d/x.list");
    }

    fn probed(files: &[(&str, &str)]) -> Probed {
        Probed {
            list: "/etc/apt/sources.list".into(),
            parts: "/etc/apt/sources.list.d/".into(),
            files: files
                .iter()
                .map(|(k, c)| Seen {
                    key: (*k).into(),
                    state: FileState { exists: true, kind: FileKind::File, mode: 0o644, ..FileState::default() },
                    content: c.as_bytes().to_vec(),
                })
                .collect(),
        }
    }

    #[test]
    fn present_enables_a_commented_line_or_appends_a_new_file() {
        let p =
            probed(&[("/etc/apt/sources.list", "#deb  http://a/d  x main\n"), ("/etc/apt/sources.list.d/e.list", "")]);
        let o = decide(&p, "deb http://a/d x main", true, None).unwrap();
        assert!(o.changed);
        assert_eq!(
            o.ops,
            vec![
                (
                    "/etc/apt/sources.list".into(),
                    FileOp::Write { content: "deb http://a/d x main\n".into(), new_repo: false }
                ),
                ("/etc/apt/sources.list.d/e.list".into(), FileOp::Remove),
            ]
        );
        let o = decide(&p, "deb http://b/d x main", true, None).unwrap();
        assert_eq!(o.added, vec!["/etc/apt/sources.list.d/b_d.list".to_owned()]);
        assert_eq!(
            o.ops[2],
            (
                "/etc/apt/sources.list.d/b_d.list".into(),
                FileOp::Write { content: "deb http://b/d x main\n".into(), new_repo: true }
            )
        );
        // Already there (whitespace aside): nothing to do, nothing rewritten.
        let p = probed(&[("/etc/apt/sources.list", "deb  http://a/d x   main\n\n\n")]);
        assert_eq!(decide(&p, "deb http://a/d x main", true, None).unwrap(), Outcome::default());
    }

    #[test]
    fn a_new_line_for_an_existing_file_is_appended() {
        let p = probed(&[("/etc/apt/sources.list.d/b_d.list", "deb http://other x\n")]);
        let o = decide(&p, "deb http://b/d x main", true, None).unwrap();
        let content = "deb http://other x\ndeb http://b/d x main\n".to_owned();
        assert_eq!(o.ops, vec![("/etc/apt/sources.list.d/b_d.list".into(), FileOp::Write { content, new_repo: true })]);
        assert!(o.added.is_empty());
    }

    #[test]
    fn absent_removes_with_ansibles_index_arithmetic() {
        let p = probed(&[("/etc/apt/sources.list.d/a.list", "deb http://a x\n# deb http://a x\n")]);
        let o = decide(&p, "deb http://a x", false, None).unwrap();
        assert_eq!(o.removed, Vec::<String>::new());
        assert_eq!(o.ops[0].1, FileOp::Write { content: "# deb http://a x\n".into(), new_repo: false });
        // The only line: the file goes.
        let p = probed(&[("/etc/apt/sources.list.d/a.list", "deb http://a x\n")]);
        let o = decide(&p, "deb http://a x", false, None).unwrap();
        assert_eq!(o.removed, vec!["/etc/apt/sources.list.d/a.list".to_owned()]);
        assert_eq!(o.ops[0].1, FileOp::Remove);
        // Two enabled matches: the second pop takes the line after the
        // second match (Ansible's stale index).
        let p = probed(&[("/etc/apt/sources.list", "deb http://a x\nc1\ndeb http://a x\nc2\n")]);
        let o = decide(&p, "deb http://a x", false, None).unwrap();
        assert_eq!(o.ops[0].1, FileOp::Write { content: "c1\ndeb http://a x\n".into(), new_repo: false });
        assert!(!decide(&p, "deb http://zzz x", false, None).unwrap().changed);
    }

    fn prepare(v: Value) -> Result<Box<dyn Action>, ModuleError> {
        AptRepository.prepare(&Args::new(&SPEC, v.as_object().unwrap().clone()), &FakeCtx::default())
    }

    #[test]
    fn ppa_and_bad_lines_are_refused() {
        let e = prepare(json!({"repo": "ppa:deadsnakes/ppa"})).err().unwrap().to_string();
        assert!(e.contains("Launchpad"), "{e}");
        let e = prepare(json!({"repo": "#deb http://a x"})).err().unwrap().to_string();
        assert_eq!(e, "Invalid repository string: deb http://a x");
        let e = prepare(json!({"repo": "rpm http://a x"})).err().unwrap().to_string();
        assert_eq!(e, "Invalid repository string: rpm http://a x");
        let e = prepare(json!({"repo": ""})).err().unwrap().to_string();
        assert_eq!(e, "Please set argument 'repo' to a non-empty value");
    }

    #[test]
    fn real_probe_and_apply_in_a_hostile_directory() {
        let ctx = FakeCtx::default();
        let root = ctx.root().join(HOSTILE);
        let parts = root.join("sources.list.d");
        std::fs::create_dir_all(&parts).unwrap();
        std::fs::write(root.join("sources.list"), "#deb   http://a/d x main   # keep\n").unwrap();
        std::fs::write(parts.join("empty.list"), "").unwrap();
        std::fs::write(parts.join(".hidden.list"), "deb http://h x\n").unwrap();
        let mut a = prepare(json!({"repo": "deb http://b/d x main", "update_cache": false, "mode": "0600"})).unwrap();
        let script = a.probe().unwrap();
        // Replace apt-config's answer with the test's directories.
        let script = script.replace(
            "eval \"$(apt-config shell SL Dir::Etc::sourcelist/f SP Dir::Etc::sourceparts/d)\"",
            &format!(
                "SL={}; SP={}/",
                quote(root.join("sources.list").to_str().unwrap()),
                quote(parts.to_str().unwrap())
            ),
        );
        let out = run(&script, b"");
        assert_eq!(out.status, 0, "{}", out.stderr_text());
        let p = parse_probe(&out.stdout).unwrap();
        assert_eq!(p.files.len(), 2, "hidden files are not read: {p:?}");
        let plan = a.compare(Some(&out)).unwrap();
        assert!(plan.changed);
        let diff = plan.diff.clone().unwrap().unified();
        assert!(diff.contains("+# deb http://a/d x main # keep"), "{diff}");
        let apply = plan.apply.clone().unwrap();
        let res = run(&apply.script, &apply.stdin);
        assert_eq!(res.status, 0, "{}", res.stderr_text());
        a.finish(plan, &res).unwrap();
        assert_eq!(std::fs::read_to_string(root.join("sources.list")).unwrap(), "# deb http://a/d x main # keep\n");
        assert!(!parts.join("empty.list").exists());
        let new = parts.join("b_d.list");
        assert_eq!(std::fs::read_to_string(&new).unwrap(), "deb http://b/d x main\n");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&new).unwrap().permissions().mode() & 0o777, 0o600);
        let again = a.compare(Some(&run(&script, b""))).unwrap();
        assert!(!again.changed);
    }
}
