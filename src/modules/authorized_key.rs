//! `authorized_key`: SSH keys in a user's `authorized_keys`, as
//! `ansible.posix.authorized_key` edits the file, rule for rule.
//!
//! One probe reads the user's passwd entry (for the home, uid and gid), the
//! key file's path (through symlinks with `follow`) and the file itself. The
//! pure part ([`parse_key`], [`parse_options`], [`edit`]) is Ansible's
//! algorithm: lines are keyed by the key's base64 blob, a key whose type,
//! options or comment differ is replaced and moves after the existing keys,
//! new keys are appended in the order given, `exclusive` drops every other
//! line (comments too), and the file is rewritten only when that changes it.
//!
//! A write creates `~/.ssh` (0700, owned by the user) with `manage_dir`,
//! and replaces the file atomically, 0600 and owned by the user, only if it
//! is still what the probe read (see [`super::file_write`]). Keys from URLs
//! are refused: stead does not fetch from the host or the controller here.
//!
//! This module never builds a shell string by hand: every value goes
//! through [`crate::transport::quote::quote`].

use super::accounts::{passwd_lookup, tagged, Passwd};
use super::file_state::{self, parent_of, Attrs, FileKind, FileState, Probe};
use super::file_write::{Expect, WriteFile};
use super::mode::Mode;
use super::{
    Action, ApplyScript, ArgKind, ArgSpec, Args, Diff, Module, ModuleError, ModuleSpec, Plan, ResultMap, TaskContext,
};
use crate::transport::quote::quote;
use crate::transport::ExecOutput;

/// The `authorized_key` module.
pub struct AuthorizedKey;

/// The probe's first line.
const MARKER: &str = "stead-authorized-key";

static SPEC: ModuleSpec = ModuleSpec::new(&[
    ArgSpec::new("user", ArgKind::Str).required(),
    ArgSpec::new("key", ArgKind::Str).required(),
    ArgSpec::new("path", ArgKind::Str),
    ArgSpec::new("manage_dir", ArgKind::Bool),
    ArgSpec::new("state", ArgKind::Str).choices(&["present", "absent"]),
    ArgSpec::new("key_options", ArgKind::Str),
    ArgSpec::new("exclusive", ArgKind::Bool),
    ArgSpec::new("comment", ArgKind::Str),
    ArgSpec::new("validate_certs", ArgKind::Bool),
    ArgSpec::new("follow", ArgKind::Bool),
]);

/// Ansible's `VALID_SSH2_KEY_TYPES`.
const KEY_TYPES: &[&str] = &[
    "sk-ecdsa-sha2-nistp256@openssh.com",
    "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "webauthn-sk-ecdsa-sha2-nistp256@openssh.com",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp384-cert-v01@openssh.com",
    "ecdsa-sha2-nistp521",
    "ecdsa-sha2-nistp521-cert-v01@openssh.com",
    "sk-ssh-ed25519@openssh.com",
    "sk-ssh-ed25519-cert-v01@openssh.com",
    "ssh-ed25519",
    "ssh-ed25519-cert-v01@openssh.com",
    "ssh-dss",
    "ssh-rsa",
    "ssh-xmss@openssh.com",
    "ssh-xmss-cert-v01@openssh.com",
    "rsa-sha2-256",
    "rsa-sha2-512",
    "ssh-rsa-cert-v01@openssh.com",
    "rsa-sha2-256-cert-v01@openssh.com",
    "rsa-sha2-512-cert-v01@openssh.com",
    "ssh-dss-cert-v01@openssh.com",
];

impl Module for AuthorizedKey {
    fn name(&self) -> &'static str {
        "authorized_key"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: &Args, ctx: &dyn TaskContext) -> Result<Box<dyn Action>, ModuleError> {
        Ok(Box::new(KeyAction::new(args, ctx.check_mode())?))
    }
}

/// Key options in order, duplicates kept (Ansible's `keydict`).
pub type Options = Vec<(String, Option<String>)>;

/// One line of an `authorized_keys` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// A key.
    Key {
        /// Options before the type (`from="10.0.0.1",no-pty`).
        options: Options,
        /// `ssh-ed25519`, ...
        key_type: String,
        /// The base64 blob: the line's identity.
        blob: String,
        /// Everything after the blob, words joined by one space.
        comment: String,
    },
    /// A comment, blank or unparsable line, kept as it was.
    Raw(String),
}

impl Line {
    /// The identity Ansible files the line under.
    fn id(&self) -> &str {
        match self {
            Line::Key { blob, .. } => blob,
            Line::Raw(text) => text,
        }
    }
}

/// Ansible's `parseoptions`: split on commas outside double or single quotes.
pub fn parse_options(options: &str) -> Options {
    // The segments of `re.split(r'((?:[^,"\']|"[^"]*"|\'[^\']*\')+)', s)`:
    // maximal runs of the pattern, and the text between them.
    let chars: Vec<char> = options.chars().collect();
    let mut matches: Vec<String> = Vec::new();
    let mut between: Vec<String> = Vec::new();
    let mut gap = String::new();
    let mut i = 0;
    while i < chars.len() {
        let mut run = String::new();
        while let Some(&c) = chars.get(i) {
            match c {
                ',' => break,
                '"' | '\'' => match chars[i + 1..].iter().position(|&d| d == c) {
                    Some(end) => {
                        run.extend(&chars[i..=i + 1 + end]);
                        i += end + 2;
                    }
                    None => break,
                },
                _ => {
                    run.push(c);
                    i += 1;
                }
            }
        }
        if run.is_empty() {
            gap.push(chars[i]);
            i += 1;
        } else {
            between.push(std::mem::take(&mut gap));
            matches.push(run);
        }
    }
    // Python's [1:-1] keeps the matches and the separators between them.
    let mut parts = Vec::new();
    for (n, m) in matches.into_iter().enumerate() {
        if n > 0 {
            parts.push(between[n].clone());
        }
        parts.push(m);
    }
    let mut out = Options::new();
    for part in parts {
        if let Some((k, v)) = part.split_once('=') {
            out.push((k.to_owned(), Some(v.to_owned())));
        } else if part != "," {
            out.push((part, None));
        }
    }
    out
}

/// Options as `keydict`s compare: the same values per name, in order, any
/// order between names.
fn options_equal(a: &Options, b: &Options) -> bool {
    fn group(o: &Options) -> std::collections::BTreeMap<&str, Vec<&Option<String>>> {
        let mut m: std::collections::BTreeMap<&str, Vec<&Option<String>>> = Default::default();
        for (k, v) in o {
            m.entry(k.as_str()).or_default().push(v);
        }
        m
    }
    group(a) == group(b)
}

fn same(a: &Line, b: &Line) -> bool {
    match (a, b) {
        (
            Line::Key { options: o1, key_type: t1, blob: b1, comment: c1 },
            Line::Key { options: o2, key_type: t2, blob: b2, comment: c2 },
        ) => b1 == b2 && t1 == t2 && c1 == c2 && options_equal(o1, o2),
        _ => false,
    }
}

/// Ansible's `parsekey`: `None` for a line with no known key type, a
/// `Raw` line for a comment.
pub fn parse_key(raw: &str) -> Option<Line> {
    let raw = raw.replace("\\#", "#");
    let parts: Vec<&str> = raw.split([' ', '\t', '\r', '\n']).filter(|p| !p.is_empty()).collect();
    if parts.first() == Some(&"#") {
        return Some(Line::Raw(raw));
    }
    let at = parts.iter().position(|p| KEY_TYPES.contains(p))?;
    let blob = parts.get(at + 1)?;
    let options = if at > 0 { parse_options(&parts[..at].join(" ")) } else { Options::new() };
    Some(Line::Key {
        options,
        key_type: parts[at].to_owned(),
        blob: (*blob).to_owned(),
        comment: parts[at + 2..].join(" "),
    })
}

/// Ansible's `serialize` of one line.
fn line_text(line: &Line) -> String {
    match line {
        Line::Raw(text) => text.clone(),
        Line::Key { options, key_type, blob, comment } => {
            let mut s = String::new();
            if !options.is_empty() {
                let opts: Vec<String> = options
                    .iter()
                    .map(|(k, v)| match v {
                        Some(v) => format!("{k}={v}"),
                        None => k.clone(),
                    })
                    .collect();
                s.push_str(&opts.join(","));
                s.push(' ');
            }
            s.push_str(&format!("{key_type} {blob} {comment}\n"));
            s
        }
    }
}

/// A Python dict of lines keyed by identity: insertion order, a new value
/// for an existing key keeps its place.
#[derive(Debug, Default)]
struct Lines(Vec<(Line, usize)>);

impl Lines {
    fn get(&self, id: &str) -> Option<&Line> {
        self.0.iter().find(|(l, _)| l.id() == id).map(|(l, _)| l)
    }
    fn set(&mut self, line: Line, rank: usize) {
        match self.0.iter_mut().find(|(l, _)| l.id() == line.id()) {
            Some(slot) => *slot = (line, rank),
            None => self.0.push((line, rank)),
        }
    }
    fn remove(&mut self, id: &str) {
        self.0.retain(|(l, _)| l.id() != id);
    }
}

/// What the task asks for, parsed.
#[derive(Debug, Clone)]
pub struct Request {
    /// The keys, in order.
    pub keys: Vec<Line>,
    /// `state: present`.
    pub present: bool,
    /// Remove every other line.
    pub exclusive: bool,
}

/// Ansible's `enforce_state` on the file's text: the new text, or `None`
/// when nothing changes.
pub fn edit(existing: &str, req: &Request) -> Option<String> {
    let mut lines = Lines::default();
    for (rank, text) in existing.split_inclusive('\n').enumerate() {
        lines.set(parse_key(text).unwrap_or_else(|| Line::Raw(text.to_owned())), rank);
    }
    let max_rank = lines.0.len();
    let mut write = false;
    let mut to_exist: Vec<String> = Vec::new();
    for (rank, key) in req.keys.iter().enumerate() {
        let id = key.id().to_owned();
        let mut matched = false;
        let mut replace = false;
        if let Some(current) = lines.get(&id) {
            if !same(key, current) && req.present {
                replace = true;
            } else {
                matched = true;
            }
        }
        if req.present {
            to_exist.push(id.clone());
            if replace {
                lines.remove(&id);
                write = true;
            }
            if !matched {
                lines.set(key.clone(), max_rank + rank);
                write = true;
            }
        } else if matched {
            lines.remove(&id);
            write = true;
        }
    }
    if req.present && req.exclusive {
        let before = lines.0.len();
        lines.0.retain(|(l, _)| to_exist.iter().any(|id| id == l.id()));
        write |= lines.0.len() != before;
    }
    if !write {
        return None;
    }
    let mut ordered: Vec<&(Line, usize)> = lines.0.iter().collect();
    ordered.sort_by_key(|(_, rank)| *rank);
    let mut out = String::new();
    for (line, _) in ordered {
        // (Ansible would glue the next line to a last line without a newline.)
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(&line_text(line));
    }
    Some(out)
}

/// One `authorized_key` task on one host.
#[derive(Debug)]
pub struct KeyAction {
    user: String,
    key: String,
    path: Option<String>,
    manage_dir: bool,
    key_options: Option<String>,
    comment: Option<String>,
    validate_certs: bool,
    follow: bool,
    request: Request,
    check_mode: bool,
    /// Set by compare for the apply script.
    keyfile: String,
}

impl KeyAction {
    fn new(args: &Args, check_mode: bool) -> Result<KeyAction, ModuleError> {
        let key = args.str("key")?;
        if key.starts_with("http") {
            return Err(ModuleError::Arg {
                arg: "key".into(),
                message: "stead does not fetch keys from URLs; fetch them on the controller \
                          (for example with a `lookup('file', ...)` of a downloaded copy) and pass the keys as text"
                    .into(),
            });
        }
        let key_options = args.opt_str("key_options")?;
        let comment = args.opt_str("comment")?;
        let mut keys = Vec::new();
        for text in key.lines().filter(|l| !l.is_empty() && !l.starts_with('#')) {
            let mut parsed = match parse_key(text) {
                Some(k @ Line::Key { .. }) => k,
                _ => return Err(ModuleError::failed(format!("invalid key specified: {text}"))),
            };
            if let Line::Key { options, comment: c, .. } = &mut parsed {
                if let Some(o) = &key_options {
                    *options = parse_options(o);
                }
                if let Some(new) = &comment {
                    c.clone_from(new);
                }
            }
            keys.push(parsed);
        }
        let present = args.choice_or("state", &["present", "absent"], "present")? == "present";
        Ok(KeyAction {
            user: args.str("user")?,
            key,
            path: args.opt_str("path")?,
            manage_dir: args.bool_or("manage_dir", true)?,
            key_options,
            comment,
            validate_certs: args.bool_or("validate_certs", true)?,
            follow: args.bool_or("follow", false)?,
            request: Request { keys, present, exclusive: args.bool_or("exclusive", false)? },
            check_mode,
            keyfile: String::new(),
        })
    }

    fn result(&self, changed: bool) -> ResultMap {
        let mut r = ResultMap::new();
        let opt = |v: &Option<String>| v.clone().map_or(serde_json::Value::Null, Into::into);
        r.insert("user".into(), self.user.clone().into());
        r.insert("key".into(), self.key.clone().into());
        r.insert("path".into(), opt(&self.path));
        r.insert("manage_dir".into(), self.manage_dir.into());
        r.insert("state".into(), if self.request.present { "present" } else { "absent" }.into());
        r.insert("key_options".into(), opt(&self.key_options));
        r.insert("exclusive".into(), self.request.exclusive.into());
        r.insert("comment".into(), opt(&self.comment));
        r.insert("validate_certs".into(), self.validate_certs.into());
        r.insert("follow".into(), self.follow.into());
        r.insert("keyfile".into(), self.keyfile.clone().into());
        r.insert("changed".into(), changed.into());
        r
    }

    /// `~/.ssh`, or the directory of `path`.
    fn ssh_dir(&self, pw: &Passwd) -> String {
        match &self.path {
            Some(p) => parent_of(p),
            None => format!("{}/.ssh", pw.home),
        }
    }
}

/// Splits the probe's output: passwd entry, key file path, file state.
fn parse_probe(stdout: &[u8]) -> Result<(Option<Passwd>, String, FileState), ModuleError> {
    let bad = |what: &str| ModuleError::Probe(format!("authorized_key probe: {what}"));
    let marker = format!("{MARKER}\n");
    if !stdout.starts_with(marker.as_bytes()) {
        return Err(bad("no header"));
    }
    let head_end = stdout.windows(3).position(|w| w == b"\nK ").ok_or_else(|| bad("no key file"))? + 1;
    let head = String::from_utf8_lossy(&stdout[..head_end]).into_owned();
    let pw = tagged(&head, "P").map(|l| Passwd::parse(l).ok_or_else(|| bad("bad passwd entry"))).transpose()?;
    let rest = &stdout[head_end + 2..];
    let nl = rest.iter().position(|&b| b == b'\n').ok_or_else(|| bad("bad key file"))?;
    let len: usize =
        std::str::from_utf8(&rest[..nl]).ok().and_then(|n| n.parse().ok()).ok_or_else(|| bad("bad length"))?;
    let path_bytes = rest.get(nl + 1..nl + 1 + len).ok_or_else(|| bad("short path"))?;
    let path = String::from_utf8_lossy(path_bytes).into_owned();
    let st = file_state::parse(rest.get(nl + 2 + len..).ok_or_else(|| bad("no file state"))?)?;
    Ok((pw, path, st))
}

impl Action for KeyAction {
    fn paths(&self) -> Option<Vec<String>> {
        let path = self.path.clone()?;
        Some(vec!["/etc/passwd".into(), parent_of(&path), path])
    }

    fn probe(&self) -> Option<String> {
        let mut s = format!("LC_ALL=C\nexport LC_ALL\nprintf '%s\\n' {MARKER}\n");
        s.push_str(&passwd_lookup("P", &self.user));
        s.push_str(&format!("k={}\n", quote(self.path.as_deref().unwrap_or(""))));
        s.push_str(
            "if [ -z \"$k\" ] && [ -n \"$e\" ]; then\n  \
             h=$(printf '%s\\n' \"$e\" | cut -d: -f6); k=$h/.ssh/authorized_keys\nfi\n",
        );
        if self.follow {
            s.push_str(
                "if [ -n \"$k\" ]; then r=$(readlink -f -- \"$k\"; echo .); r=${r%?.}; [ -z \"$r\" ] || k=$r; fi\n",
            );
        }
        s.push_str("printf 'K %s\\n%s\\n' \"${#k}\" \"$k\"\nprintf 'stead-file-state 1\\n'\np=$k\n");
        s.push_str(&Probe::new("").body());
        Some(s)
    }

    fn compare(&mut self, probe: Option<&ExecOutput>) -> Result<Plan, ModuleError> {
        let out = probe.ok_or_else(|| ModuleError::Probe("the authorized_key probe did not run".into()))?;
        let (pw, keyfile, st) = parse_probe(&out.stdout)?;
        let pw = match pw {
            Some(pw) => Some(pw),
            None if self.check_mode && self.path.is_some() => None,
            None if self.check_mode => {
                return Err(ModuleError::failed(
                    "Either user must exist or you must provide full path to key file in check mode",
                ))
            }
            None => {
                return Err(ModuleError::failed(format!(
                    "Failed to lookup user {u}: getpwnam(): name not found: '{u}'",
                    u = self.user
                )))
            }
        };
        self.keyfile = keyfile.clone();
        let existing = if st.exists && st.kind == FileKind::File {
            let bytes = st.content.clone().ok_or_else(|| {
                ModuleError::failed(format!("{keyfile} is too large or unreadable; stead does not edit it"))
            })?;
            String::from_utf8_lossy(&bytes).into_owned()
        } else {
            String::new()
        };
        let Some(new) = edit(&existing, &self.request) else {
            let mut plan = Plan::ok();
            plan.result = self.result(false);
            return Ok(plan);
        };
        let diff = Diff::file(&keyfile, &existing, &new);
        let apply = match &pw {
            // Check mode without the user (a path was given): nothing runs.
            None => ApplyScript::default(),
            Some(pw) => {
                let mut script = String::from("LC_ALL=C\nexport LC_ALL\n");
                let ids = format!("{}:{}", pw.uid, pw.gid);
                if self.manage_dir {
                    script.push_str(&format!(
                        "sd={}\n[ -d \"$sd\" ] || mkdir -m 0700 -- \"$sd\" || \
                         {{ printf 'Failed to create directory %s\\n' \"$sd\" >&2; exit 1; }}\n\
                         chown -- {} \"$sd\" && chmod 0700 -- \"$sd\" || exit 1\n",
                        quote(&self.ssh_dir(pw)),
                        quote(&ids)
                    ));
                }
                let attrs = Attrs {
                    mode: Some(Mode::Octal(0o600)),
                    mode_text: None,
                    owner: Some(pw.uid.to_string()),
                    group: Some(pw.gid.to_string()),
                };
                let write = WriteFile {
                    dest: &keyfile,
                    content: new.as_bytes(),
                    follow: false,
                    attrs: &attrs,
                    current: &st,
                    backup: false,
                    make_parents: true,
                    validate: None,
                    expect: Some(Expect::unchanged(&st)),
                }
                .apply();
                script.push_str(&write.as_step());
                ApplyScript { script, stdin: write.stdin }
            }
        };
        let mut plan = Plan::change(apply);
        plan.diff = Some(diff);
        plan.result = self.result(true);
        Ok(plan)
    }

    fn finish(&mut self, plan: Plan, out: &ExecOutput) -> Result<Plan, ModuleError> {
        if out.status == 0 {
            return Ok(plan);
        }
        let mut result = plan.result;
        result.insert("rc".into(), out.status.into());
        let err = out.stderr_text();
        Err(ModuleError::Failed { msg: format!("Failed to write {}: {}", self.keyfile, err.trim()), result })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::file_write::testing::{run, HOSTILE};
    use serde_json::json;

    const K1: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK1 alice@laptop";
    const K2: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ2 bob@desk";

    fn req(keys: &[&str], present: bool, exclusive: bool) -> Request {
        Request { keys: keys.iter().map(|k| parse_key(k).unwrap()).collect(), present, exclusive }
    }

    #[test]
    fn options_split_outside_quotes() {
        let o = parse_options(r#"no-port-forwarding,from="10.0.1.1,10.0.1.2",command="echo 'a,b'""#);
        assert_eq!(
            o,
            vec![
                ("no-port-forwarding".into(), None),
                ("from".into(), Some("\"10.0.1.1,10.0.1.2\"".into())),
                ("command".into(), Some("\"echo 'a,b'\"".into())),
            ]
        );
        assert!(options_equal(&parse_options("a,b=1"), &parse_options("b=1,a")));
        assert!(!options_equal(&parse_options("a"), &parse_options("a,a")));
    }

    #[test]
    fn keys_parse_with_options_and_comments() {
        let k = parse_key(r#"from="10.0.0.1" ssh-ed25519 AAAA the  comment"#).unwrap();
        assert_eq!(line_text(&k), "from=\"10.0.0.1\" ssh-ed25519 AAAA the comment\n");
        // Ansible writes a trailing space when there is no comment.
        assert_eq!(line_text(&parse_key("ssh-rsa BBBB").unwrap()), "ssh-rsa BBBB \n");
        assert_eq!(parse_key("# note\n"), Some(Line::Raw("# note\n".into())));
        assert_eq!(parse_key("not a key"), None);
        assert_eq!(parse_key("ssh-rsa"), None);
    }

    #[test]
    fn edits_follow_ansibles_enforce_state() {
        let file = format!("# keep\n{K2}\n");
        // Added after the existing lines; then converged.
        let new = edit(&file, &req(&[K1], true, false)).unwrap();
        assert_eq!(new, format!("# keep\n{K2}\n{K1}\n"));
        assert_eq!(edit(&new, &req(&[K1], true, false)), None);
        // Other options: replaced, and moved to the end.
        let with_opts = parse_key(&format!("no-pty {K2}")).unwrap();
        let r = Request { keys: vec![with_opts], present: true, exclusive: false };
        assert_eq!(edit(&new, &r).unwrap(), format!("# keep\n{K1}\nno-pty {K2}\n"));
        // Exclusive drops every other line, comments included.
        assert_eq!(edit(&new, &req(&[K1], true, true)).unwrap(), format!("{K1}\n"));
        assert_eq!(edit(&format!("{K1}\n"), &req(&[K1], true, true)), None);
        // Absent removes the key whatever its options.
        assert_eq!(edit(&format!("no-pty {K2}\n{K1}\n"), &req(&[K2], false, false)).unwrap(), format!("{K1}\n"));
        assert_eq!(edit(&format!("{K1}\n"), &req(&[K2], false, false)), None);
        // A last line without a newline is not glued to the next one.
        assert_eq!(edit("# end", &req(&[K1], true, false)).unwrap(), format!("# end\n{K1}\n"));
    }

    fn action(v: serde_json::Value) -> Result<KeyAction, ModuleError> {
        KeyAction::new(&Args::new(&SPEC, v.as_object().unwrap().clone()), false)
    }

    #[test]
    fn urls_and_bad_keys_are_refused() {
        let e = action(json!({"user": "a", "key": "https://github.com/a.keys"})).unwrap_err().to_string();
        assert!(e.contains("does not fetch keys from URLs"), "{e}");
        let e = action(json!({"user": "a", "key": "nonsense"})).unwrap_err().to_string();
        assert_eq!(e, "invalid key specified: nonsense");
        let a = action(json!({"user": "a", "key": format!("{K1}\n# c\n\n{K2}"), "key_options": "no-pty"})).unwrap();
        assert_eq!(a.request.keys.len(), 2);
    }

    #[test]
    fn real_probe_and_write_in_a_hostile_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join(HOSTILE);
        std::fs::create_dir(&dir).unwrap();
        let file = dir.join("authorized_keys");
        std::fs::write(&file, format!("{K2}\n")).unwrap();
        let me = String::from_utf8(std::process::Command::new("id").arg("-un").output().unwrap().stdout).unwrap();
        let mut a = action(json!({
            "user": me.trim(), "key": K1, "path": file.to_str().unwrap(), "manage_dir": false, "exclusive": true,
            "key_options": "from=\"10.0.0.1\",no-pty",
        }))
        .unwrap();
        let out = run(&a.probe().unwrap(), b"");
        assert_eq!(out.status, 0, "{}", out.stderr_text());
        let plan = a.compare(Some(&out)).unwrap();
        assert!(plan.changed);
        let diff = plan.diff.clone().unwrap().unified();
        assert!(diff.contains(&format!("-{K2}\n+from=\"10.0.0.1\",no-pty {K1}\n")), "{diff}");
        let apply = plan.apply.clone().unwrap();
        let res = run(&apply.script, &apply.stdin);
        a.finish(plan, &res).unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), format!("from=\"10.0.0.1\",no-pty {K1}\n"));
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
        let again = a.compare(Some(&run(&a.probe().unwrap(), b""))).unwrap();
        assert!(!again.changed);
        assert_eq!(again.result["keyfile"], file.to_str().unwrap());
        assert!(!std::path::Path::new("pwned").exists());
    }
}
