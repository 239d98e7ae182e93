//! `get_url`: downloads a file over HTTP(S) (or `file://`) on the host, as
//! `ansible.builtin.get_url`.
//!
//! The probe finds the host's client (curl, else wget), the destination
//! (`dest/NAME` when `dest` is a directory, NAME from the URL) and, with
//! `checksum`, its digest with coreutils' `ALGOsum`; with a `ALGO:URL`
//! checksum it also reads the checksum file. The pure [`decide`] follows
//! Ansible: an existing file whose checksum matches is never downloaded
//! again, nor is an existing file when neither `checksum` nor `force` is
//! given. Otherwise the apply script downloads into a temporary file in the
//! destination's directory (or `tmp_dest`), checks the HTTP status, the
//! transfer (curl and wget fail a body shorter than its Content-Length) and
//! the checksum on the host, and only then renames it over the destination:
//! no half-written file is ever left behind. A download identical to the
//! existing file reports `changed: false`, as Ansible's.
//!
//! Credentials and headers travel on the apply script's stdin (see
//! [`super::http`]), never on a command line or in a result.

use serde_json::Value;

use super::file_state::{self, AttrChanges, Attrs, FileKind, FileState, Probe};
use super::file_write::{self, attr_commands};
use super::http::{self, Request, Tool};
use super::{
    Action, ApplyScript, ArgKind, ArgSpec, Args, Diff, Module, ModuleError, ModuleSpec, Plan, ResultMap, TaskContext,
};
use crate::transport::quote::quote;
use crate::transport::ExecOutput;

/// The `get_url` module.
pub struct GetUrl;

/// Exit status of the apply script when the server did not answer 200.
const REQUEST_FAILED: i32 = 5;
/// Exit status when the download does not match `checksum`.
const CHECKSUM_MISMATCH: i32 = 6;
/// Exit status when curl or wget failed (no connection, cut transfer...).
const TRANSFER_FAILED: i32 = 7;

/// Largest checksum file the probe reads.
const CHECKSUM_FILE_LIMIT: u64 = 1 << 20;

static SPEC: ModuleSpec = ModuleSpec::new(&[
    ArgSpec::new("url", ArgKind::Str).required(),
    ArgSpec::new("dest", ArgKind::Str).required(),
    ArgSpec::new("checksum", ArgKind::Str),
    ArgSpec::new("force", ArgKind::Bool).aliases(&["thirsty"]),
    ArgSpec::new("backup", ArgKind::Bool),
    ArgSpec::new("mode", ArgKind::Mode),
    ArgSpec::new("owner", ArgKind::Str),
    ArgSpec::new("group", ArgKind::Str),
    ArgSpec::new("headers", ArgKind::Dict),
    ArgSpec::new("url_username", ArgKind::Str).aliases(&["username"]),
    ArgSpec::new("url_password", ArgKind::Str).aliases(&["password"]),
    ArgSpec::new("force_basic_auth", ArgKind::Bool),
    ArgSpec::new("validate_certs", ArgKind::Bool),
    ArgSpec::new("timeout", ArgKind::Int),
    ArgSpec::new("tmp_dest", ArgKind::Str),
    ArgSpec::new("http_agent", ArgKind::Str),
    ArgSpec::new("use_proxy", ArgKind::Bool),
    ArgSpec::new("decompress", ArgKind::Bool),
    ArgSpec::new("use_netrc", ArgKind::Bool),
    ArgSpec::new("client_cert", ArgKind::Str),
    ArgSpec::new("client_key", ArgKind::Str),
])
.refused(&[
    ("ciphers", "curl and wget name TLS ciphers differently from Python; not supported"),
    ("unredirected_headers", "curl and wget cannot drop chosen headers on redirects; not supported"),
    ("use_gssapi", "GSSAPI/Kerberos authentication is not supported"),
    ("sha256sum", "removed from Ansible; use checksum: sha256:HEX"),
    ("attributes", "chattr attributes are not supported by stead's file modules"),
    ("seuser", "SELinux contexts are not supported"),
    ("serole", "SELinux contexts are not supported"),
    ("setype", "SELinux contexts are not supported"),
    ("selevel", "SELinux contexts are not supported"),
]);

/// Digest algorithms coreutils computes (`ALGOsum`).
const ALGORITHMS: &[&str] = &["md5", "sha1", "sha224", "sha256", "sha384", "sha512"];

/// The `checksum` argument, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checksum {
    /// `ALGO:HEX`.
    Value(&'static str, String),
    /// `ALGO:URL`: the hex digest is read from a checksum file.
    Url(&'static str, String),
}

impl Checksum {
    fn algorithm(&self) -> &'static str {
        match self {
            Checksum::Value(a, _) | Checksum::Url(a, _) => a,
        }
    }
}

/// Ansible's normalisation of a hex digest: non-word characters dropped,
/// lower case; it must then be hexadecimal.
pub fn normalise_digest(text: &str) -> Result<String, ModuleError> {
    let hex: String = text.chars().filter(|c| c.is_alphanumeric() || *c == '_').collect::<String>().to_lowercase();
    if hex.is_empty() || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(ModuleError::failed("The checksum format is invalid"));
    }
    Ok(hex)
}

/// Parses `checksum` as Ansible does.
pub fn parse_checksum(text: &str) -> Result<Option<Checksum>, ModuleError> {
    if text.is_empty() {
        return Ok(None);
    }
    let (algo, value) = text
        .split_once(':')
        .ok_or_else(|| ModuleError::failed("The checksum parameter has to be in format <algorithm>:<checksum>"))?;
    let algo = ALGORITHMS.iter().copied().find(|a| a.eq_ignore_ascii_case(algo)).ok_or_else(|| {
        ModuleError::failed(format!(
            "Unsupported hash algorithm: {algo} (stead verifies with coreutils: {})",
            ALGORITHMS.join(", ")
        ))
    })?;
    let scheme = value.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    if matches!(scheme.as_deref(), Some("http" | "https" | "ftp" | "file")) {
        return Ok(Some(Checksum::Url(algo, value.to_owned())));
    }
    Ok(Some(Checksum::Value(algo, normalise_digest(value)?)))
}

/// Ansible's reading of a checksum file: one bare digest, or `DIGEST NAME`
/// lines (`*NAME` and `./NAME` accepted) of which the one for `filename`.
pub fn digest_from_file(content: &str, filename: &str) -> Option<String> {
    let lines: Vec<&str> = content.lines().collect();
    if lines.len() == 1 && lines[0].split_whitespace().count() == 1 {
        return Some(lines[0].to_owned());
    }
    lines.iter().find_map(|line| {
        let (sum, name) = line.split_once(' ')?;
        let name = name.strip_prefix([' ', '*']).unwrap_or(name);
        (name.trim_start_matches(['.', '/']) == filename).then(|| sum.to_owned())
    })
}

impl Module for GetUrl {
    fn name(&self) -> &'static str {
        "get_url"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: &Args, _ctx: &dyn TaskContext) -> Result<Box<dyn Action>, ModuleError> {
        let mut request = Request::from_args(args, "url_username", "url_password")?;
        request.follow_redirects = true;
        request.no_cache = args.bool_or("force", false)?;
        let checksum = parse_checksum(&args.opt_str("checksum")?.unwrap_or_default())?;
        let dest = args.str("dest")?;
        if dest.is_empty() {
            return Err(ModuleError::Arg { arg: "dest".into(), message: "cannot be empty".into() });
        }
        // Validate the config once, so a bad header fails before any host.
        request.config(Tool::Curl)?;
        Ok(Box::new(GetUrlAction {
            filename: http::url_filename(&request.url),
            request,
            dest,
            checksum,
            force: args.bool_or("force", false)?,
            backup: args.bool_or("backup", false)?,
            attrs: Attrs::from_args(args)?,
            tmp_dest: args.opt_str("tmp_dest")?.filter(|s| !s.is_empty()),
            state: None,
        }))
    }
}

/// What the task does, decided from the destination's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Nothing: the file is there (and matches the checksum).
    Keep,
    /// The file is there and matches; only its attributes change.
    Attrs(AttrChanges),
    /// Download (and replace the file if the download differs).
    Download,
}

/// Ansible's rules: `exists` is a regular file at the destination,
/// `dest_digest` its digest with the checksum's algorithm.
pub fn decide(
    exists: bool,
    dest_digest: Option<&str>,
    want: Option<&str>,
    force: bool,
    attr_changes: AttrChanges,
) -> Decision {
    if !exists || force {
        return Decision::Download;
    }
    match want {
        Some(want) if dest_digest != Some(want) => Decision::Download,
        _ if attr_changes.is_empty() => Decision::Keep,
        _ => Decision::Attrs(attr_changes),
    }
}

/// One `get_url` task on one host.
#[derive(Debug)]
pub struct GetUrlAction {
    request: Request,
    dest: String,
    filename: String,
    checksum: Option<Checksum>,
    force: bool,
    backup: bool,
    attrs: Attrs,
    tmp_dest: Option<String>,
    /// The destination (resolved into a directory) and the probed state.
    state: Option<(String, FileState)>,
}

/// Probe lines that print `stead-checksum-file RC LEN` and the content.
fn checksum_file_lines(tool_url: &str) -> String {
    format!(
        "ck=$(if command -v curl >/dev/null 2>&1; then curl -sSfL --max-time 60 -- {u}; \
         else wget -q -O - -- {u}; fi 2>/dev/null | head -c {CHECKSUM_FILE_LIMIT}; echo .) && rc=0 || rc=$?\n\
         ck=${{ck%.}}\nprintf 'stead-checksum-file %s %s\\n%s\\n' \"$rc\" \"${{#ck}}\" \"$ck\"\n",
        u = quote(tool_url)
    )
}

/// Splits the checksum-file section off the probe's output.
fn parse_checksum_file(stdout: &[u8]) -> Result<(Option<String>, &[u8]), ModuleError> {
    let bad = || ModuleError::Probe("bad checksum-file section".into());
    let end = stdout.iter().position(|&b| b == b'\n').ok_or_else(bad)?;
    let header = std::str::from_utf8(&stdout[..end]).map_err(|_| bad())?;
    let mut f = header.split(' ');
    if f.next() != Some("stead-checksum-file") {
        return Err(bad());
    }
    let rc = f.next().ok_or_else(bad)?;
    let len: usize = f.next().and_then(|n| n.parse().ok()).ok_or_else(bad)?;
    let rest = &stdout[end + 1..];
    if rest.len() < len + 1 {
        return Err(bad());
    }
    let text = String::from_utf8_lossy(&rest[..len]).into_owned();
    Ok(((rc == "0").then_some(text), &rest[len + 1..]))
}

impl GetUrlAction {
    fn base_result(&self, dest: &str) -> ResultMap {
        let mut r = ResultMap::new();
        r.insert("dest".into(), dest.into());
        r.insert("url".into(), self.request.url.clone().into());
        r.insert("checksum_dest".into(), Value::Null);
        r.insert("checksum_src".into(), Value::Null);
        r.insert("elapsed".into(), 0.into());
        r
    }

    /// The download script for `tool` into `dest`; `want` is the digest to verify.
    fn download_script(&self, tool: Tool, dest: &str, st: &FileState, want: Option<&str>) -> String {
        let algo = self.checksum.as_ref().map(Checksum::algorithm);
        let mut s = file_write::prelude(dest, false);
        s.push_str(http::NEWLINE);
        s.push_str("dir=$(dirname -- \"$d\"; echo .); dir=${dir%?.}\n");
        s.push_str("[ -d \"$dir\" ] || die \"Destination $dir does not exist\"\n");
        match &self.tmp_dest {
            Some(t) => s.push_str(&format!(
                "td={}\nif [ ! -d \"$td\" ]; then if [ -e \"$td\" ]; then die \"$td is a file but should be a directory.\"; \
                 else die \"$td directory does not exist.\"; fi; fi\n",
                quote(t)
            )),
            None => s.push_str("td=$dir\n"),
        }
        s.push_str(
            "out=$(mktemp -- \"$td/.stead-get_url.XXXXXXXX\") || die \"cannot create a temporary file in $td\"\n\
             cfg=$(mktemp) || die 'cannot create a temporary file'\nhdr=$(mktemp) || die 'cannot create a temporary file'\n\
             trap 'rm -f -- \"$out\" \"$cfg\" \"$hdr\"' EXIT\ntrap 'exit 1' HUP INT TERM\n\
             cat > \"$cfg\"\nt0=$(date +%s)\n",
        );
        s.push_str(&self.request.fetch_lines(tool));
        s.push_str(
            "printf 'stead-get_url elapsed %s\\n' \"$(( $(date +%s) - t0 ))\"\n\
             reason=$(sed -n 's/^ *HTTP\\/[0-9.]* [0-9]* *//p' \"$hdr\" | tail -n 1 | tr -d '\\r')\n\
             printf 'stead-get_url status %s\\n' \"$code\"\nprintf 'stead-get_url reason %s\\n' \"$reason\"\n",
        );
        // file:// has no HTTP status; curl then reports 000 and its exit status says it all.
        let is_file = self.request.url.to_ascii_lowercase().starts_with("file:/");
        s.push_str(&format!(
            "if [ \"$rc\" -ne 0 ] && [ \"$code\" = 000 ]; then exit {TRANSFER_FAILED}; fi\n\
             if [ \"$code\" != 200 ] && {}; then exit {REQUEST_FAILED}; fi\n\
             if [ \"$rc\" -ne 0 ]; then exit {TRANSFER_FAILED}; fi\n",
            if is_file { "false" } else { "true" }
        ));
        s.push_str(
            "n=$(wc -c < \"$out\"); printf 'stead-get_url size %s\\n' \"$((n + 0))\"\n\
             h=$(sha1sum < \"$out\"); printf 'stead-get_url checksum_src %s\\n' \"${h%% *}\"\n\
             if [ -f \"$d\" ]; then h=$(sha1sum < \"$d\"); printf 'stead-get_url checksum_dest %s\\n' \"${h%% *}\"; fi\n",
        );
        if let (Some(algo), Some(want)) = (algo, want) {
            s.push_str(&format!(
                "h=$({algo}sum < \"$out\"); h=${{h%% *}}\nif [ \"$h\" != {w} ]; then \
                 printf 'The checksum for %s did not match %s; it was %s.\\n' \"$out\" {w} \"$h\" >&2; \
                 exit {CHECKSUM_MISMATCH}; fi\n",
                w = quote(want)
            ));
        }
        s.push_str("if [ -f \"$d\" ] && cmp -s -- \"$out\" \"$d\"; then\n  printf 'stead-get_url same\\n'\n");
        // Unchanged content: only the requested attributes that differ.
        s.push_str(&attr_commands("\"$d\"", &self.attrs, &self.attrs.changes(st), false, false));
        s.push_str("else\n");
        let keeps = st.exists && st.kind == FileKind::File;
        let current_mode = keeps.then_some(st.mode);
        match self.attrs.target_mode(current_mode, false).or(current_mode) {
            Some(m) => s.push_str(&format!("  chmod 0{m:04o} -- \"$out\"\n")),
            None => s.push_str("  chmod \"$(printf '%o' $((0666 & ~$(umask))))\" -- \"$out\"\n"),
        }
        if keeps {
            s.push_str(&format!("  chown -- {} \"$out\" 2>/dev/null || :\n", quote(&format!("{}:{}", st.uid, st.gid))));
        }
        if let Some(o) = &self.attrs.owner {
            s.push_str(&format!("  chown -- {} \"$out\"\n", quote(o)));
        }
        if let Some(g) = &self.attrs.group {
            s.push_str(&format!("  chgrp -- {} \"$out\"\n", quote(g)));
        }
        if self.backup {
            s.push_str(
                "  if [ -f \"$d\" ]; then b=\"$d.$$.$(date +%Y-%m-%d@%H:%M:%S)~\"; cp -p -- \"$d\" \"$b\"; \
                 printf 'stead-get_url backup %s\\n' \"$b\"; fi\n",
            );
        }
        s.push_str("  mv -f -- \"$out\" \"$d\"\n  printf 'stead-get_url moved\\n'\nfi\n");
        s.push_str("h=$(md5sum < \"$d\"); printf 'stead-get_url md5sum %s\\n' \"${h%% *}\"\n");
        s.push_str(&file_write::report_final_state(false));
        s
    }
}

impl Action for GetUrlAction {
    fn paths(&self) -> Option<Vec<String>> {
        Some(vec![self.dest.clone()])
    }

    fn probe(&self) -> Option<String> {
        let mut s = String::from(http::DETECT);
        if let Some(Checksum::Url(_, url)) = &self.checksum {
            s.push_str(&checksum_file_lines(url));
        }
        let probe = Probe::new(&self.dest)
            .sha256(false)
            .content_limit(None)
            .checksum(self.checksum.as_ref().map(Checksum::algorithm))
            .into_dir(Some(self.filename.clone()));
        s.push_str(&probe.script());
        Some(s)
    }

    fn compare(&mut self, probe: Option<&ExecOutput>) -> Result<Plan, ModuleError> {
        let out = probe.ok_or_else(|| ModuleError::Probe("the get_url probe did not run".into()))?;
        if out.status != 0 {
            return Err(ModuleError::failed(format!("cannot read {}: {}", self.dest, out.stderr_text().trim())));
        }
        let (tool, rest) = http::parse_tool(&out.stdout)?;
        let (want, rest) = match &self.checksum {
            None => (None, rest),
            Some(Checksum::Value(_, hex)) => (Some(hex.clone()), rest),
            Some(Checksum::Url(_, url)) => {
                let (file, rest) = parse_checksum_file(rest)?;
                let file = file.ok_or_else(|| ModuleError::failed(format!("Request failed: cannot read {url}")))?;
                let digest = digest_from_file(&file, &self.filename).ok_or_else(|| {
                    ModuleError::failed(format!("Unable to find a checksum for file '{}' in '{url}'", self.filename))
                })?;
                (Some(normalise_digest(&digest)?), rest)
            }
        };
        let st = file_state::parse(rest)?;
        let dest = if st.into_dir {
            format!("{}/{}", self.dest.trim_end_matches('/'), self.filename)
        } else {
            self.dest.clone()
        };
        let mut result = self.base_result(&dest);
        let exists = st.exists && st.kind == FileKind::File;
        if st.exists && !exists {
            return Err(ModuleError::Failed { msg: format!("Destination {dest} is not a regular file"), result });
        }
        let decision = decide(exists, st.checksum.as_deref(), want.as_deref(), self.force, self.attrs.changes(&st));
        self.state = Some((dest.clone(), st.clone()));
        let plan = match decision {
            Decision::Keep => {
                file_write::fill_state(&mut result, &st);
                result.insert("msg".into(), "file already exists".into());
                Plan { result, msg: Some("file already exists".into()), ..Plan::ok() }
            }
            Decision::Attrs(changes) => {
                let (before, after) = changes.pairs();
                let script = file_write::attrs_script(&dest, false, &self.attrs, &changes, false, false);
                result.insert("msg".into(), "file already exists but file attributes changed".into());
                let mut plan = Plan::change(ApplyScript { script, stdin: Vec::new() });
                plan.diff = Some(Diff::state(&dest, &before, &after));
                plan.result = result;
                plan
            }
            Decision::Download => {
                let tool = tool.ok_or_else(|| {
                    ModuleError::failed("neither curl nor wget is installed on the host: get_url needs one of them")
                })?;
                let config = self.request.config(tool)?;
                let script = self.download_script(tool, &dest, &st, want.as_deref());
                let before = if exists {
                    let sum = st.checksum.as_ref().map_or("present".to_owned(), |c| {
                        format!("{}:{c}", self.checksum.as_ref().map_or("", Checksum::algorithm))
                    });
                    vec![("content", sum)]
                } else {
                    vec![("state", "absent".to_owned())]
                };
                let mut after = vec![("url", self.request.url.clone())];
                if let (Some(c), Some(w)) = (&self.checksum, &want) {
                    after.push(("content", format!("{}:{w}", c.algorithm())));
                }
                let mut plan = Plan::change(ApplyScript { script, stdin: config.into_bytes() });
                plan.diff = Some(Diff::state(&dest, &before, &after));
                plan.result = result;
                plan
            }
        };
        Ok(plan)
    }

    fn finish(&mut self, mut plan: Plan, out: &ExecOutput) -> Result<Plan, ModuleError> {
        let (dest, _) = self.state.clone().unwrap_or_else(|| (self.dest.clone(), FileState::default()));
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (head, tail) = match text.find("stead-file-state 1\n") {
            Some(i) => (&text[..i], Some(&out.stdout[i..])),
            None => (text.as_str(), None),
        };
        let mut moved = false;
        let mut same = false;
        let mut status = None;
        let mut reason = String::new();
        let mut size = 0u64;
        for line in head.lines() {
            let Some(rest) = line.strip_prefix("stead-get_url ") else { continue };
            let (k, v) = rest.split_once(' ').unwrap_or((rest, ""));
            match k {
                "moved" => moved = true,
                "same" => same = true,
                "status" => status = v.parse::<i64>().ok(),
                "reason" => reason = v.to_owned(),
                "size" => size = v.parse().unwrap_or(0),
                "elapsed" => {
                    plan.result.insert("elapsed".into(), v.parse::<i64>().unwrap_or(0).into());
                }
                "checksum_src" | "checksum_dest" | "md5sum" => {
                    plan.result.insert(k.into(), v.into());
                }
                "backup" => {
                    plan.result.insert("backup_file".into(), v.into());
                }
                _ => {}
            }
        }
        if let Some(code) = status.filter(|c| *c != 0) {
            plan.result.insert("status_code".into(), code.into());
        }
        if out.status != 0 {
            let stderr = out.stderr_text();
            let stderr = stderr.trim();
            let mut result = plan.result;
            let msg = match out.status {
                REQUEST_FAILED => {
                    result.insert("response".into(), format!("HTTP Error {}: {reason}", status.unwrap_or(0)).into());
                    "Request failed".to_owned()
                }
                CHECKSUM_MISMATCH => stderr.to_owned(),
                TRANSFER_FAILED => format!("Request failed: {stderr}"),
                _ if stderr.is_empty() => format!("apply failed (exit {})", out.status),
                _ => stderr.to_owned(),
            };
            result.insert("msg".into(), msg.clone().into());
            return Err(ModuleError::Failed { msg, result });
        }
        if let Some(st) = tail.and_then(|t| file_state::parse(t).ok()) {
            file_write::fill_state(&mut plan.result, &st);
        }
        if moved || same {
            // A download: changed when the file was replaced or its attributes set.
            let (_, st) = self.state.clone().unwrap_or_default();
            plan.changed = moved || !self.attrs.changes(&st).is_empty();
            let msg = if status == Some(200) { format!("OK ({size} bytes)") } else { String::new() };
            plan.result.insert("msg".into(), msg.into());
            if !plan.changed {
                plan.diff = None;
            }
        }
        plan.result.insert("dest".into(), dest.into());
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::file_write::testing::{run, FakeCtx, HOSTILE};
    use crate::modules::mode::Mode;
    use serde_json::json;

    fn prepare(args: Value) -> Box<dyn Action> {
        let ctx = FakeCtx::default();
        GetUrl.prepare(&Args::new(&SPEC, args.as_object().unwrap().clone()), &ctx).unwrap()
    }

    #[test]
    fn checksums_parse_as_in_ansible() {
        assert_eq!(parse_checksum("sha256:AB-CD ef").unwrap(), Some(Checksum::Value("sha256", "abcdef".into())));
        assert_eq!(parse_checksum("sha1:http://h/SUMS").unwrap(), Some(Checksum::Url("sha1", "http://h/SUMS".into())));
        assert_eq!(parse_checksum("").unwrap(), None);
        assert!(parse_checksum("sha256").unwrap_err().to_string().contains("<algorithm>:<checksum>"));
        assert!(parse_checksum("sha256:xyz").unwrap_err().to_string().contains("invalid"));
        assert!(parse_checksum("blake2b:00").unwrap_err().to_string().contains("Unsupported"));
    }

    #[test]
    fn checksum_files_are_read_as_in_ansible() {
        assert_eq!(digest_from_file("abc\n", "x").as_deref(), Some("abc"));
        let sums = "111  a.tar.gz\n222 *b.tar.gz\n333  ./c.tar.gz\n";
        assert_eq!(digest_from_file(sums, "b.tar.gz").as_deref(), Some("222"));
        assert_eq!(digest_from_file(sums, "c.tar.gz").as_deref(), Some("333"));
        assert_eq!(digest_from_file(sums, "a.tar.gz").as_deref(), Some("111"));
        assert_eq!(digest_from_file(sums, "d"), None);
    }

    #[test]
    fn decisions_follow_ansible() {
        let none = AttrChanges::default;
        assert_eq!(decide(false, None, None, false, none()), Decision::Download);
        assert_eq!(decide(true, None, None, false, none()), Decision::Keep);
        assert_eq!(decide(true, Some("aa"), Some("aa"), false, none()), Decision::Keep);
        assert_eq!(decide(true, Some("aa"), Some("bb"), false, none()), Decision::Download);
        assert_eq!(decide(true, Some("aa"), Some("aa"), true, none()), Decision::Download);
        let mode = AttrChanges { mode: Some((0o644, 0o600)), ..AttrChanges::default() };
        assert_eq!(decide(true, Some("aa"), Some("aa"), false, mode.clone()), Decision::Attrs(mode));
    }

    /// A local source file for `file://` downloads (curl supports them).
    fn source(ctx: &FakeCtx, content: &[u8]) -> String {
        ctx.add_file("src/data.bin", content);
        format!("file://{}", ctx.root().join("src/data.bin").display())
    }

    fn have_curl() -> bool {
        std::process::Command::new("sh").args(["-c", "command -v curl"]).output().is_ok_and(|o| o.status.success())
    }

    fn step(action: &mut Box<dyn Action>) -> Plan {
        let probe = run(&action.probe().unwrap(), b"");
        assert_eq!(probe.status, 0, "{}", probe.stderr_text());
        let plan = action.compare(Some(&probe)).unwrap();
        match plan.apply.clone() {
            Some(apply) => {
                let out = run(&apply.script, &apply.stdin);
                action.finish(plan, &out).unwrap_or_else(|e| panic!("{e}: {}", out.stderr_text()))
            }
            None => plan,
        }
    }

    #[test]
    fn downloads_into_a_hostile_directory_verify_and_converge() {
        if !have_curl() {
            return;
        }
        let ctx = FakeCtx::default();
        let url = source(&ctx, b"payload\n");
        let dir = ctx.root().join(HOSTILE);
        std::fs::create_dir_all(&dir).unwrap();
        let dest = dir.join("f.bin").display().to_string();
        let sum = file_state::sha256_hex(b"payload\n");
        let args = json!({"url": url, "dest": dest, "checksum": format!("sha256:{sum}"), "mode": "0600"});
        let mut a = prepare(args.clone());
        let plan = step(&mut a);
        assert!(plan.changed);
        assert_eq!(plan.result["mode"], "0600");
        assert_eq!(std::fs::read(&dest).unwrap(), b"payload\n");
        assert!(!ctx.root().join("pwned").exists());
        // Nothing left behind but the file.
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        // Second run: the checksum matches, no download.
        let mut a = prepare(args);
        let plan = step(&mut a);
        assert!(!plan.changed && plan.apply.is_none(), "{:?}", plan.result);
        assert_eq!(plan.result["msg"], "file already exists");
    }

    #[test]
    fn a_checksum_mismatch_leaves_no_file() {
        if !have_curl() {
            return;
        }
        let ctx = FakeCtx::default();
        let url = source(&ctx, b"payload\n");
        let dest = ctx.root().join("out.bin").display().to_string();
        let mut a = prepare(json!({"url": url, "dest": dest, "checksum": format!("sha256:{}", "0".repeat(64))}));
        let probe = run(&a.probe().unwrap(), b"");
        let plan = a.compare(Some(&probe)).unwrap();
        let apply = plan.apply.clone().unwrap();
        let out = run(&apply.script, &apply.stdin);
        let err = a.finish(plan, &out).unwrap_err().to_string();
        assert!(err.contains("did not match"), "{err}");
        assert!(!std::path::Path::new(&dest).exists());
        assert_eq!(std::fs::read_dir(ctx.root()).unwrap().count(), 1, "only src/ remains");
    }

    #[test]
    fn a_directory_dest_gets_the_url_name_and_force_compares_content() {
        if !have_curl() {
            return;
        }
        let ctx = FakeCtx::default();
        let url = source(&ctx, b"one\n");
        let dest = ctx.root().join("d");
        std::fs::create_dir(&dest).unwrap();
        let args = json!({"url": url, "dest": dest.display().to_string(), "force": true, "backup": true});
        let plan = step(&mut prepare(args.clone()));
        assert!(plan.changed);
        assert_eq!(std::fs::read(dest.join("data.bin")).unwrap(), b"one\n");
        // Forced again, same content: downloaded, compared, unchanged.
        let plan = step(&mut prepare(args.clone()));
        assert!(!plan.changed, "{:?}", plan.result);
        // New content: replaced, with a backup.
        ctx.add_file("src/data.bin", b"two\n");
        let plan = step(&mut prepare(args));
        assert!(plan.changed);
        assert!(plan.result.contains_key("backup_file"), "{:?}", plan.result);
        assert_eq!(std::fs::read(dest.join("data.bin")).unwrap(), b"two\n");
    }

    #[test]
    fn secrets_stay_off_the_script_and_out_of_the_result() {
        let mut a =
            prepare(json!({"url": "http://h/x", "dest": "/tmp/x", "url_password": "s3cret", "url_username": "u"}));
        let probe = ExecOutput {
            status: 0,
            stdout: b"stead-http-tool curl\nstead-file-state 1\nparent-dir\nend\n".to_vec(),
            stderr: vec![],
        };
        let plan = a.compare(Some(&probe)).unwrap();
        let apply = plan.apply.clone().unwrap();
        assert!(!apply.script.contains("s3cret"));
        assert!(String::from_utf8_lossy(&apply.stdin).contains("s3cret"));
        assert!(!serde_json::to_string(&plan.result).unwrap().contains("s3cret"));
        assert!(!format!("{:?}", plan.diff).contains("s3cret"));
        // Attribute-only change when the checksum matches.
        let _ = Mode::Octal(0);
    }
}
