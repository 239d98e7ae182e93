//! The settings stead shares with Ansible: the subset of `ansible.cfg` and
//! of the `ANSIBLE_*` environment variables that applies to a stead run,
//! each with the value it ends up with and where that value came from.
//!
//! ansible.cfg is found as Ansible finds it: `$ANSIBLE_CONFIG` (a file, or a
//! folder holding `ansible.cfg`), then `./ansible.cfg` (skipped with a
//! warning when the working directory is world-writable), then
//! `~/.ansible.cfg`, then `/etc/ansible/ansible.cfg`; the first that exists
//! and can be read wins, and only that one is read. Precedence is Ansible's:
//! command-line flag > environment variable > ansible.cfg > default, and a
//! host's connection variables (`ansible_user`, `ansible_port`, ...) still
//! beat all of them for that host (the executor applies those).
//!
//! Every key of the sections stead reads is classified ([`catalog`]):
//! implemented, refused when its value would change what a run does (a
//! located [`ConfigError`]), or tuning-only (collected in
//! [`Settings::ignored`], for one warning line). A key Ansible does not know
//! is a warning with a did-you-mean. This module reads files and the
//! environment it is given; it never contacts a host and never prints.

pub mod ansible_keys;
pub mod catalog;
mod ini;

use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::{json, Value as Json};

use ansible_keys::ANSIBLE_KEYS;
use catalog::{Def, REFUSED, SECTIONS, SETTINGS};

/// stead's number of hosts in flight when nothing says (Ansible's is 5).
pub const DEFAULT_FORKS: usize = 50;
/// Ansible's default `ansible_managed` text.
pub const DEFAULT_MANAGED: &str = "Ansible managed";
/// Ansible's default ssh connect timeout, in seconds.
pub const DEFAULT_TIMEOUT: u64 = 10;

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Nothing set it.
    Default,
    /// A line of the ansible.cfg (line 0: the file as a whole).
    File {
        /// The file.
        path: PathBuf,
        /// The line (from 1).
        line: usize,
    },
    /// An environment variable.
    Env(String),
    /// A command-line flag.
    Flag(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("default"),
            Origin::File { path, line: 0 } => write!(f, "{}", path.display()),
            Origin::File { path, line } => write!(f, "{}:{line}", path.display()),
            Origin::Env(name) => write!(f, "env {name}"),
            Origin::Flag(flag) => f.write_str(flag),
        }
    }
}

/// One problem with a setting: where, what, and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where the value was written.
    pub origin: Origin,
    /// One sentence.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
}

impl Problem {
    fn new(origin: Origin, message: String, hint: Option<String>) -> Problem {
        Problem { origin, message, hint }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.origin, self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// Why the settings could not be read: every problem found, located.
#[derive(Debug, thiserror::Error)]
pub struct ConfigError(pub Vec<Problem>);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_slice() {
            [one] => write!(f, "{one}"),
            many => {
                write!(f, "{} problems with the configuration:", many.len())?;
                for p in many {
                    write!(f, "\n  {}", p.to_string().replace('\n', "\n  "))?;
                }
                Ok(())
            }
        }
    }
}

/// A value and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting<T> {
    /// The effective value.
    pub value: T,
    /// Where it came from.
    pub origin: Origin,
}

impl<T> Setting<T> {
    fn default(value: T) -> Setting<T> {
        Setting { value, origin: Origin::Default }
    }

    fn set(&mut self, value: T, flag: &str) {
        *self = Setting { value, origin: Origin::Flag(flag.to_owned()) };
    }

    /// Whether something other than the default set it.
    pub fn is_set(&self) -> bool {
        self.origin != Origin::Default
    }
}

/// `gathering`: when a play without `gather_facts:` gathers facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Gathering {
    /// Unless `gather_facts: false` (Ansible's default).
    #[default]
    Implicit,
    /// Only with `gather_facts: true`.
    Explicit,
    /// As implicit, and a host's facts are gathered once per run.
    Smart,
}

impl Gathering {
    /// Whether a play that does not say gathers facts.
    pub fn by_default(self) -> bool {
        self != Gathering::Explicit
    }

    fn name(self) -> &'static str {
        match self {
            Gathering::Implicit => "implicit",
            Gathering::Explicit => "explicit",
            Gathering::Smart => "smart",
        }
    }
}

/// Where roles and collections are searched (besides the playbook's folder).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchPaths {
    /// Role folders, in search order (`--roles-path`, `ANSIBLE_ROLES_PATH`,
    /// `roles_path`, Ansible's defaults).
    pub roles: Vec<PathBuf>,
    /// Folders holding `ansible_collections/` (`ANSIBLE_COLLECTIONS_PATH`,
    /// `collections_path`, Ansible's defaults).
    pub collections: Vec<PathBuf>,
}

/// The command-line flags that beat the configuration.
#[derive(Debug, Clone, Default)]
pub struct Flags {
    /// `-i` (when given, the configured inventory is not used).
    pub inventory: Vec<PathBuf>,
    /// `-f/--forks`.
    pub forks: Option<usize>,
    /// `-u/--user`.
    pub user: Option<String>,
    /// `-b/--become`.
    pub become_: bool,
    /// `--become-user`.
    pub become_user: Option<String>,
    /// `--accept-new-host-keys`.
    pub accept_new_host_keys: bool,
    /// `--force-handlers`.
    pub force_handlers: bool,
    /// `-K/--ask-become-pass`.
    pub ask_become_pass: bool,
    /// `--become-password-file`.
    pub become_password_file: Option<PathBuf>,
}

/// Every effective setting of a run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The ansible.cfg read, if any.
    pub file: Option<PathBuf>,
    /// `inventory` (empty: none configured).
    pub inventory: Setting<Vec<PathBuf>>,
    /// `forks`.
    pub forks: Setting<usize>,
    /// `remote_user`.
    pub remote_user: Setting<Option<String>>,
    /// `remote_port`.
    pub remote_port: Setting<Option<u16>>,
    /// `private_key_file`.
    pub private_key_file: Setting<Option<PathBuf>>,
    /// `timeout` (seconds).
    pub timeout: Setting<u64>,
    /// `host_key_checking`.
    pub host_key_checking: Setting<bool>,
    /// `ssh_args`, split.
    pub ssh_args: Setting<Vec<String>>,
    /// `ssh_common_args`, split.
    pub ssh_common_args: Setting<Vec<String>>,
    /// `ssh_extra_args`, split.
    pub ssh_extra_args: Setting<Vec<String>>,
    /// `control_path_dir` (none: a private folder in /tmp).
    pub control_path_dir: Setting<Option<PathBuf>>,
    /// `become`.
    pub become_: Setting<bool>,
    /// `become_user`.
    pub become_user: Setting<String>,
    /// `become_method`.
    pub become_method: Setting<String>,
    /// `gathering`.
    pub gathering: Setting<Gathering>,
    /// `hash_behaviour` (always `replace`: `merge` is refused).
    pub hash_behaviour: Setting<String>,
    /// `force_handlers`.
    pub force_handlers: Setting<bool>,
    /// `ansible_managed`.
    pub ansible_managed: Setting<String>,
    /// `home`.
    pub home: Setting<PathBuf>,
    /// `roles_path`.
    pub roles_path: Setting<Vec<PathBuf>>,
    /// `collections_path`.
    pub collections_path: Setting<Vec<PathBuf>>,
    /// `vault_password_file`.
    pub vault_password_file: Setting<Option<PathBuf>>,
    /// `become_ask_pass`.
    pub become_ask_pass: Setting<bool>,
    /// `become_password_file`.
    pub become_password_file: Setting<Option<PathBuf>>,
    /// `vault_identity_list`: `LABEL@SOURCE` entries.
    pub vault_identity_list: Setting<Vec<String>>,
    /// `vault_encrypt_identity`.
    pub vault_encrypt_identity: Setting<Option<String>>,
    /// Tuning-only settings that were given, and where (one warning line).
    pub ignored: Vec<(String, Origin)>,
    /// Non-fatal findings: unknown keys, a skipped world-writable directory.
    pub warnings: Vec<String>,
}

/// Ansible's booleans (`yes`/`no`, `true`/`false`, `on`/`off`, `1`/`0`,
/// `y`/`n`, `t`/`f`, any case). Anything else is `None`: where Ansible
/// would silently read False, stead says so.
pub fn boolean(text: &str) -> Option<bool> {
    match text.trim().to_lowercase().as_str() {
        "y" | "yes" | "on" | "1" | "true" | "t" => Some(true),
        "n" | "no" | "off" | "0" | "false" | "f" => Some(false),
        _ => None,
    }
}

/// An integer as Ansible reads one (`5`, also `5.0`).
fn integer(text: &str) -> Option<i64> {
    let t = text.trim();
    t.parse::<i64>().ok().or_else(|| {
        let (whole, frac) = t.split_once('.')?;
        (frac.chars().all(|c| c == '0') && !whole.is_empty()).then(|| whole.parse().ok()).flatten()
    })
}

/// A string value as Ansible takes it from an ini file: surrounding quotes removed.
fn unquote(text: &str) -> &str {
    let t = text.trim();
    for q in ['"', '\''] {
        if t.len() >= 2 && t.starts_with(q) && t.ends_with(q) {
            return &t[1..t.len() - 1];
        }
    }
    t
}

/// Where a raw value came from, and the folder its relative paths are taken against.
struct Raw {
    text: String,
    origin: Origin,
    base: PathBuf,
}

/// What the settings are read from.
struct Sources<'a> {
    entries: Vec<ini::Entry>,
    path: Option<PathBuf>,
    env: &'a dyn Fn(&str) -> Option<String>,
    cwd: PathBuf,
}

impl Sources<'_> {
    fn env(&self, name: &str) -> Option<String> {
        (self.env)(name).filter(|v| !v.is_empty())
    }

    /// A setting's raw text: the last of its environment variables that is
    /// set, else the last of its keys in the file, as Ansible's loop does.
    fn raw(&self, def: &Def) -> Option<Raw> {
        let from_env = def.envs.iter().filter_map(|n| self.env(n).map(|v| (n, v))).next_back();
        if let Some((name, text)) = from_env {
            return Some(Raw { text, origin: Origin::Env((*name).to_owned()), base: self.cwd.clone() });
        }
        let path = self.path.as_ref()?;
        let base = path.parent().map_or_else(|| self.cwd.clone(), Path::to_path_buf);
        def.keys
            .iter()
            .filter_map(|(s, k)| self.entries.iter().find(|e| e.section == *s && e.key == *k))
            .next_back()
            .map(|e| Raw {
                text: e.value.clone(),
                origin: Origin::File { path: path.clone(), line: e.line },
                base: base.clone(),
            })
    }
}

fn def(name: &str) -> &'static Def {
    SETTINGS.iter().find(|d| d.name == name).expect("a setting of the catalog")
}

/// Expands `~` and `$VAR`/`${VAR}` as Ansible's path types do, and takes a
/// relative path against `base`.
fn resolve_path(text: &str, base: &Path, env: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    let mut out = String::new();
    let mut chars = text.trim().chars().peekable();
    while let Some(c) = chars.next() {
        if c != '$' {
            out.push(c);
            continue;
        }
        let braced = chars.peek() == Some(&'{');
        if braced {
            chars.next();
        }
        let mut name = String::new();
        while let Some(&n) = chars.peek() {
            if n.is_ascii_alphanumeric() || n == '_' {
                name.push(n);
                chars.next();
            } else {
                break;
            }
        }
        if braced && chars.peek() == Some(&'}') {
            chars.next();
        }
        match env(&name) {
            Some(v) if !name.is_empty() => out.push_str(&v),
            _ => {
                out.push('$');
                if braced {
                    out.push('{');
                }
                out.push_str(&name);
                if braced {
                    out.push('}');
                }
            }
        }
    }
    let home = env("HOME");
    let expanded = match (out.as_str(), &home) {
        ("~", Some(h)) => PathBuf::from(h),
        (p, Some(h)) if p.starts_with("~/") => Path::new(h).join(&p[2..]),
        (p, _) => PathBuf::from(p),
    };
    if expanded.is_absolute() {
        expanded
    } else {
        base.join(expanded)
    }
}

/// The ansible.cfg Ansible would read, and warnings about the search.
pub fn find_file(env: &dyn Fn(&str) -> Option<String>, cwd: &Path) -> (Option<PathBuf>, Vec<String>) {
    let mut warnings = Vec::new();
    let mut candidates: Vec<PathBuf> = Vec::new();
    let from_env = env("ANSIBLE_CONFIG").filter(|p| !p.is_empty()).map(|p| {
        let p = resolve_path(&p, cwd, env);
        if p.is_dir() {
            p.join("ansible.cfg")
        } else {
            p
        }
    });
    if let Some(p) = &from_env {
        candidates.push(p.clone());
    }
    let here = cwd.join("ansible.cfg");
    let world_writable = {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(cwd).map(|m| m.permissions().mode() & 0o002 != 0).unwrap_or(false)
    };
    if world_writable && here.exists() {
        warnings.push(format!(
            "{} is ignored: its directory is world-writable (as Ansible does; set ANSIBLE_CONFIG to use it)",
            here.display()
        ));
    } else {
        candidates.push(here);
    }
    if let Some(h) = env("HOME") {
        candidates.push(Path::new(&h).join(".ansible.cfg"));
    }
    candidates.push(PathBuf::from("/etc/ansible/ansible.cfg"));
    let found = candidates.into_iter().find(|p| p.is_file() && std::fs::File::open(p).is_ok());
    if let Some(p) = &from_env {
        if found.as_ref() != Some(p) {
            warnings.push(format!(
                "ANSIBLE_CONFIG names {}, which cannot be read; using {}",
                p.display(),
                found.as_ref().map_or_else(|| "no ansible.cfg".to_owned(), |f| f.display().to_string())
            ));
        }
    }
    (found, warnings)
}

/// Finds the ansible.cfg, reads it and the environment: the effective
/// settings, or every problem with them.
pub fn load(env: &dyn Fn(&str) -> Option<String>, cwd: &Path) -> Result<Settings, ConfigError> {
    let (path, warnings) = find_file(env, cwd);
    let text = match &path {
        // Read as an input of the run: a saved plan notices when it changes.
        Some(p) => Some(crate::inputs::read_to_string(p).map_err(|e| {
            ConfigError(vec![Problem::new(
                Origin::File { path: p.clone(), line: 0 },
                format!("cannot be read: {e}"),
                None,
            )])
        })?),
        None => None,
    };
    let mut settings = from_text(path.as_deref().zip(text.as_deref()), env, cwd)?;
    settings.warnings.splice(0..0, warnings);
    Ok(settings)
}

/// The settings from an ansible.cfg's text (when there is one) and the
/// environment.
pub fn from_text(
    file: Option<(&Path, &str)>,
    env: &dyn Fn(&str) -> Option<String>,
    cwd: &Path,
) -> Result<Settings, ConfigError> {
    let entries = match file {
        Some((path, text)) => ini::parse(text, path).map_err(ConfigError)?,
        None => Vec::new(),
    };
    let src = Sources { entries, path: file.map(|(p, _)| p.to_path_buf()), env, cwd: cwd.to_path_buf() };
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    let mut ignored = Vec::new();
    classify(&src, &mut problems, &mut warnings, &mut ignored);

    macro_rules! typed {
        ($name:literal, $default:expr, |$raw:ident| $parse:expr, $expected:literal) => {{
            match src.raw(def($name)) {
                None => Setting::default($default),
                Some($raw) => match $parse {
                    Some(value) => Setting { value, origin: $raw.origin.clone() },
                    None => {
                        invalid(&mut problems, &$raw, $name, $expected);
                        Setting::default($default)
                    }
                },
            }
        }};
    }
    let split_args = |raw: &Raw| shell_words::split(&raw.text).ok();
    let inventory = typed!(
        "inventory",
        Vec::new(),
        |r| Some(
            r.text
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(|p| resolve_path(unquote(p), &r.base, env))
                .collect()
        ),
        "comma-separated inventory paths"
    );
    let forks = typed!(
        "forks",
        DEFAULT_FORKS,
        |r| integer(&r.text).filter(|n| *n >= 1).map(|n| n as usize),
        "a whole number of at least 1"
    );
    let remote_user = typed!(
        "remote_user",
        None,
        |r| Some(Some(unquote(&r.text).to_owned()).filter(|u| !u.is_empty())),
        "a user name"
    );
    let remote_port = typed!(
        "remote_port",
        None,
        |r| integer(&r.text).filter(|p| (1..=65535).contains(p)).map(|p| Some(p as u16)),
        "a port number (1 to 65535)"
    );
    let private_key_file =
        typed!("private_key_file", None, |r| Some(Some(resolve_path(unquote(&r.text), &r.base, env))), "a path");
    let timeout = typed!(
        "timeout",
        DEFAULT_TIMEOUT,
        |r| integer(&r.text).filter(|n| *n >= 1).map(|n| n as u64),
        "a whole number of seconds, at least 1"
    );
    let host_key_checking = typed!("host_key_checking", true, |r| boolean(&r.text), "a boolean (True or False)");
    let ssh_args = typed!("ssh_args", Vec::new(), |r| split_args(&r), "arguments quoted as a shell would");
    let ssh_common_args =
        typed!("ssh_common_args", Vec::new(), |r| split_args(&r), "arguments quoted as a shell would");
    let ssh_extra_args = typed!("ssh_extra_args", Vec::new(), |r| split_args(&r), "arguments quoted as a shell would");
    let control_path_dir = typed!(
        "control_path_dir",
        None,
        // A string in Ansible's ssh plugin, taken against the working directory.
        |r| Some(Some(resolve_path(unquote(&r.text), cwd, env))),
        "a directory"
    );
    let become_ = typed!("become", false, |r| boolean(&r.text), "a boolean (True or False)");
    let become_user = typed!(
        "become_user",
        "root".to_owned(),
        |r| Some(unquote(&r.text).to_owned()).filter(|u| !u.is_empty()),
        "a user name"
    );
    let become_method = typed!(
        "become_method",
        "sudo".to_owned(),
        |r| Some(unquote(&r.text).to_owned()).filter(|m| m == "sudo" || m == "su"),
        "sudo or su (stead's become methods)"
    );
    let gathering = typed!(
        "gathering",
        Gathering::Implicit,
        |r| match unquote(&r.text) {
            "implicit" => Some(Gathering::Implicit),
            "explicit" => Some(Gathering::Explicit),
            "smart" => Some(Gathering::Smart),
            _ => None,
        },
        "implicit, explicit or smart"
    );
    let hash_behaviour = match src.raw(def("hash_behaviour")) {
        None => Setting::default("replace".to_owned()),
        Some(r) => match unquote(&r.text) {
            "replace" => Setting { value: "replace".to_owned(), origin: r.origin },
            "merge" => {
                problems.push(Problem::new(
                    r.origin.clone(),
                    "`hash_behaviour` = `merge` is not supported: stead's variable layers replace a dictionary \
                     as a whole, as Ansible's default `replace` does"
                        .into(),
                    Some(
                        "remove it and merge where you need it with the `combine` filter \
                         (`{{ a | combine(b, recursive=true) }}`), as Ansible recommends"
                            .into(),
                    ),
                ));
                Setting::default("replace".to_owned())
            }
            _ => {
                invalid(&mut problems, &r, "hash_behaviour", "replace or merge");
                Setting::default("replace".to_owned())
            }
        },
    };
    let force_handlers = typed!("force_handlers", false, |r| boolean(&r.text), "a boolean (True or False)");
    // Ansible substitutes `{file}`, `{host}`, `{uid}` and strftime's `%`
    // codes in it; stead does not, so a text with them is refused.
    let ansible_managed = typed!(
        "ansible_managed",
        DEFAULT_MANAGED.to_owned(),
        |r| Some(unquote(&r.text).to_owned()).filter(|t| !t.contains(['{', '%'])),
        "a plain text (stead does not substitute {file}, {host}, {uid} or strftime % codes)"
    );
    let home_dir = env("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/"));
    let home = typed!(
        "home",
        home_dir.join(".ansible"),
        |r| Some(resolve_path(unquote(&r.text), &r.base, env)),
        "a directory"
    );
    let pathspec = |r: &Raw| -> Vec<PathBuf> {
        r.text.split(':').map(str::trim).filter(|p| !p.is_empty()).map(|p| resolve_path(p, &r.base, env)).collect()
    };
    let h = home.value.clone();
    let roles_path = typed!(
        "roles_path",
        vec![h.join("roles"), PathBuf::from("/usr/share/ansible/roles"), PathBuf::from("/etc/ansible/roles")],
        |r| Some(pathspec(&r)),
        "colon-separated folders"
    );
    let collections_path = typed!(
        "collections_path",
        vec![h.join("collections"), PathBuf::from("/usr/share/ansible/collections")],
        |r| Some(pathspec(&r)),
        "colon-separated folders"
    );
    let vault_password_file = typed!(
        "vault_password_file",
        None,
        |r| Some(Some(unquote(&r.text)).filter(|p| !p.is_empty()).map(|p| resolve_path(p, &r.base, env))),
        "a path"
    );
    let become_ask_pass = typed!("become_ask_pass", false, |r| boolean(&r.text), "a boolean (True or False)");
    let become_password_file = typed!(
        "become_password_file",
        None,
        |r| Some(Some(unquote(&r.text)).filter(|p| !p.is_empty()).map(|p| resolve_path(p, &r.base, env))),
        "a path"
    );
    let vault_identity_list = typed!(
        "vault_identity_list",
        Vec::new(),
        |r| Some(r.text.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()),
        "comma-separated LABEL@SOURCE entries"
    );
    let vault_encrypt_identity = typed!(
        "vault_encrypt_identity",
        None,
        |r| Some(Some(unquote(&r.text).to_owned()).filter(|s| !s.is_empty())),
        "a vault id label"
    );
    if !problems.is_empty() {
        // In the file's order, then the environment's.
        problems.sort_by_key(|p| match &p.origin {
            Origin::File { line, .. } => (0, *line),
            _ => (1, 0),
        });
        return Err(ConfigError(problems));
    }
    Ok(Settings {
        file: src.path.clone(),
        inventory,
        forks,
        remote_user,
        remote_port,
        private_key_file,
        timeout,
        host_key_checking,
        ssh_args,
        ssh_common_args,
        ssh_extra_args,
        control_path_dir,
        become_,
        become_user,
        become_method,
        gathering,
        hash_behaviour,
        force_handlers,
        ansible_managed,
        home,
        roles_path,
        collections_path,
        vault_password_file,
        become_ask_pass,
        become_password_file,
        vault_identity_list,
        vault_encrypt_identity,
        ignored,
        warnings,
    })
}

fn invalid(problems: &mut Vec<Problem>, raw: &Raw, name: &str, expected: &str) {
    problems.push(Problem::new(
        raw.origin.clone(),
        format!("`{name}` = `{}`: {expected}", raw.text),
        Some(format!("write {expected}, or remove it to use the default")),
    ));
}

/// Sorts every key of the file and every `ANSIBLE_*` variable Ansible
/// knows into implemented (nothing to do here), refused (a problem),
/// tuning (ignored) and unknown (a warning).
fn classify(
    src: &Sources,
    problems: &mut Vec<Problem>,
    warnings: &mut Vec<String>,
    ignored: &mut Vec<(String, Origin)>,
) {
    let implemented = |s: &str, k: &str| SETTINGS.iter().any(|d| d.keys.contains(&(s, k)));
    let refused = |s: &str, k: &str| REFUSED.iter().find(|r| r.section == s && r.key == k);
    let refuse = |problems: &mut Vec<Problem>, r: &catalog::Refused, origin: Origin, value: &str| {
        problems.push(Problem::new(
            origin,
            format!("`{}` = `{value}` is not supported by stead", r.key),
            Some(format!("{}; or remove it", r.why)),
        ));
    };
    let mut tuning_sections: Vec<&str> = Vec::new();
    if let Some(path) = &src.path {
        for e in &src.entries {
            let origin = Origin::File { path: path.clone(), line: e.line };
            if implemented(&e.section, &e.key) {
                continue;
            }
            if let Some(r) = refused(&e.section, &e.key) {
                if !(r.accepts)(&e.value) {
                    refuse(problems, r, origin, &e.value);
                }
                continue;
            }
            if !SECTIONS.contains(&e.section.as_str()) {
                if !tuning_sections.contains(&e.section.as_str()) {
                    tuning_sections.push(&e.section);
                    ignored.push((format!("[{}]", e.section), origin));
                }
                continue;
            }
            if ANSIBLE_KEYS.iter().any(|(s, k, _)| *s == e.section && *k == e.key) {
                ignored.push((e.key.clone(), origin));
                continue;
            }
            let elsewhere: Vec<&str> =
                ANSIBLE_KEYS.iter().filter(|(_, k, _)| *k == e.key).map(|(s, _, _)| *s).collect();
            if let Some(section) = elsewhere.first() {
                warnings.push(format!(
                    "{origin}: Ansible reads `{}` from [{section}], not [{}]: this line has no effect",
                    e.key, e.section
                ));
                continue;
            }
            let candidates = ANSIBLE_KEYS.iter().filter(|(s, _, _)| *s == e.section).map(|(_, k, _)| *k);
            let hint = crate::suggest::closest(&e.key, candidates)
                .map(|k| format!("; did you mean `{k}`?"))
                .unwrap_or_default();
            warnings.push(format!("{origin}: `{}` is not an Ansible setting of [{}]{hint}", e.key, e.section));
        }
    }
    let implemented_env = |n: &str| SETTINGS.iter().any(|d| d.envs.contains(&n));
    for r in REFUSED {
        for name in r.envs {
            if let Some(v) = src.env(name) {
                if !(r.accepts)(&v) {
                    refuse(problems, r, Origin::Env((*name).to_owned()), &v);
                }
            }
        }
    }
    let mut seen: Vec<&str> = Vec::new();
    for (_, _, envs) in ANSIBLE_KEYS {
        for name in envs.iter().filter(|n| n.starts_with("ANSIBLE_")) {
            let is_refused = REFUSED.iter().any(|r| r.envs.contains(name));
            if implemented_env(name) || is_refused || seen.contains(name) || *name == "ANSIBLE_CONFIG" {
                continue;
            }
            seen.push(name);
            if src.env(name).is_some() {
                ignored.push(((*name).to_owned(), Origin::Env((*name).to_owned())));
            }
        }
    }
}

/// One line of `stead config dump`.
#[derive(Debug, Clone, PartialEq)]
pub struct Shown {
    /// The setting's name.
    pub name: &'static str,
    /// Its value, as JSON.
    pub value: Json,
    /// Its value as text (lists joined as they are written).
    pub text: String,
    /// Where it came from.
    pub origin: Origin,
}

fn paths_text(paths: &[PathBuf], sep: &str) -> String {
    paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(sep)
}

fn path_json(paths: &[PathBuf]) -> Json {
    Json::from(paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>())
}

/// One argument as a shell would need it written (quoted only when it must be).
fn shell_word(arg: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_=/.,:@%+".contains(c);
    if !arg.is_empty() && arg.chars().all(plain) {
        arg.to_owned()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// Whether a setting's value must never be shown.
fn is_secret(name: &str) -> bool {
    // A password file's path is not a secret; what it holds is never read
    // here. Nor is whether to ask for one.
    let n = name.to_lowercase();
    (n.contains("pass") || n.contains("secret")) && !n.ends_with("_file") && !n.ends_with("_ask_pass")
}

impl Settings {
    /// Applies the command-line flags, which beat everything else.
    pub fn apply_flags(&mut self, flags: &Flags) {
        if !flags.inventory.is_empty() {
            self.inventory.set(flags.inventory.clone(), "-i");
        }
        if let Some(n) = flags.forks {
            self.forks.set(n, "--forks");
        }
        if let Some(u) = &flags.user {
            self.remote_user.set(Some(u.clone()), "--user");
        }
        if flags.become_ {
            self.become_.set(true, "--become");
        }
        if let Some(u) = &flags.become_user {
            self.become_user.set(u.clone(), "--become-user");
        }
        if flags.accept_new_host_keys {
            self.host_key_checking.set(false, "--accept-new-host-keys");
        }
        if flags.force_handlers {
            self.force_handlers.set(true, "--force-handlers");
        }
        if flags.ask_become_pass {
            self.become_ask_pass.set(true, "-K");
        }
        if let Some(path) = &flags.become_password_file {
            self.become_password_file.set(Some(path.clone()), "--become-password-file");
            // The flag names the source: a configured prompt gives way.
            if !flags.ask_become_pass && self.become_ask_pass.value {
                self.become_ask_pass.set(false, "--become-password-file");
            }
        }
    }

    /// The role and collection search paths: `--roles-path` first, then
    /// the configured ones.
    pub fn search_paths(&self, roles_flag: &[PathBuf]) -> SearchPaths {
        let mut roles = roles_flag.to_vec();
        roles.extend(self.roles_path.value.iter().cloned());
        SearchPaths { roles, collections: self.collections_path.value.clone() }
    }

    /// The one warning line about tuning-only settings, if any was given.
    pub fn ignored_line(&self) -> Option<String> {
        if self.ignored.is_empty() {
            return None;
        }
        let names: Vec<String> = self
            .ignored
            .iter()
            .map(|(name, origin)| match origin {
                Origin::File { line, .. } => format!("{name} (line {line})"),
                _ => name.clone(),
            })
            .collect();
        let file = self.file.as_ref().map(|p| format!(" of {}", p.display())).unwrap_or_default();
        Some(format!("ignoring settings that only tune Ansible itself{file}: {}", names.join(", ")))
    }

    /// The note `host_key_checking = False` calls for, once per run.
    pub fn host_key_note(&self) -> Option<String> {
        match &self.host_key_checking {
            Setting { value: false, origin: origin @ (Origin::File { .. } | Origin::Env(_)) } => Some(format!(
                "host_key_checking = False ({origin}): connecting as with --accept-new-host-keys: the keys of hosts \
                 never seen before are recorded in known_hosts, a changed key is still refused"
            )),
            _ => None,
        }
    }

    /// Every effective setting, in a stable order, secrets masked.
    pub fn shown(&self) -> Vec<Shown> {
        let opt = |v: &Option<String>| v.clone().map_or(Json::Null, Json::from);
        let opt_text = |v: &Option<String>| v.clone().unwrap_or_default();
        let path_opt = |v: &Option<PathBuf>| v.as_ref().map(|p| p.display().to_string());
        let args = |v: &[String]| v.iter().map(|a| shell_word(a)).collect::<Vec<_>>().join(" ");
        let mut out = vec![
            (
                "inventory",
                path_json(&self.inventory.value),
                paths_text(&self.inventory.value, ","),
                &self.inventory.origin,
            ),
            ("forks", json!(self.forks.value), self.forks.value.to_string(), &self.forks.origin),
            ("remote_user", opt(&self.remote_user.value), opt_text(&self.remote_user.value), &self.remote_user.origin),
            (
                "remote_port",
                self.remote_port.value.map_or(Json::Null, Json::from),
                self.remote_port.value.map(|p| p.to_string()).unwrap_or_default(),
                &self.remote_port.origin,
            ),
            (
                "private_key_file",
                opt(&path_opt(&self.private_key_file.value)),
                opt_text(&path_opt(&self.private_key_file.value)),
                &self.private_key_file.origin,
            ),
            ("timeout", json!(self.timeout.value), self.timeout.value.to_string(), &self.timeout.origin),
            (
                "host_key_checking",
                json!(self.host_key_checking.value),
                if self.host_key_checking.value { "True" } else { "False" }.to_owned(),
                &self.host_key_checking.origin,
            ),
            ("ssh_args", json!(self.ssh_args.value), args(&self.ssh_args.value), &self.ssh_args.origin),
            (
                "ssh_common_args",
                json!(self.ssh_common_args.value),
                args(&self.ssh_common_args.value),
                &self.ssh_common_args.origin,
            ),
            (
                "ssh_extra_args",
                json!(self.ssh_extra_args.value),
                args(&self.ssh_extra_args.value),
                &self.ssh_extra_args.origin,
            ),
            (
                "control_path_dir",
                opt(&path_opt(&self.control_path_dir.value)),
                opt_text(&path_opt(&self.control_path_dir.value)),
                &self.control_path_dir.origin,
            ),
            (
                "become",
                json!(self.become_.value),
                if self.become_.value { "True" } else { "False" }.to_owned(),
                &self.become_.origin,
            ),
            ("become_user", json!(self.become_user.value), self.become_user.value.clone(), &self.become_user.origin),
            (
                "become_method",
                json!(self.become_method.value),
                self.become_method.value.clone(),
                &self.become_method.origin,
            ),
            (
                "gathering",
                json!(self.gathering.value.name()),
                self.gathering.value.name().to_owned(),
                &self.gathering.origin,
            ),
            (
                "hash_behaviour",
                json!(self.hash_behaviour.value),
                self.hash_behaviour.value.clone(),
                &self.hash_behaviour.origin,
            ),
            (
                "force_handlers",
                json!(self.force_handlers.value),
                if self.force_handlers.value { "True" } else { "False" }.to_owned(),
                &self.force_handlers.origin,
            ),
            (
                "ansible_managed",
                json!(self.ansible_managed.value),
                self.ansible_managed.value.clone(),
                &self.ansible_managed.origin,
            ),
            (
                "home",
                json!(self.home.value.display().to_string()),
                self.home.value.display().to_string(),
                &self.home.origin,
            ),
            (
                "roles_path",
                path_json(&self.roles_path.value),
                paths_text(&self.roles_path.value, ":"),
                &self.roles_path.origin,
            ),
            (
                "collections_path",
                path_json(&self.collections_path.value),
                paths_text(&self.collections_path.value, ":"),
                &self.collections_path.origin,
            ),
            (
                "vault_password_file",
                opt(&path_opt(&self.vault_password_file.value)),
                opt_text(&path_opt(&self.vault_password_file.value)),
                &self.vault_password_file.origin,
            ),
            (
                "become_ask_pass",
                json!(self.become_ask_pass.value),
                if self.become_ask_pass.value { "True" } else { "False" }.to_owned(),
                &self.become_ask_pass.origin,
            ),
            (
                "become_password_file",
                opt(&path_opt(&self.become_password_file.value)),
                opt_text(&path_opt(&self.become_password_file.value)),
                &self.become_password_file.origin,
            ),
            (
                "vault_identity_list",
                json!(self.vault_identity_list.value),
                self.vault_identity_list.value.join(","),
                &self.vault_identity_list.origin,
            ),
            (
                "vault_encrypt_identity",
                opt(&self.vault_encrypt_identity.value),
                opt_text(&self.vault_encrypt_identity.value),
                &self.vault_encrypt_identity.origin,
            ),
        ]
        .into_iter()
        .map(|(name, value, text, origin)| Shown { name, value, text, origin: origin.clone() })
        .collect::<Vec<_>>();
        for s in &mut out {
            if is_secret(s.name) {
                s.value = Json::from("********");
                s.text = "********".into();
            }
        }
        debug_assert_eq!(out.len(), SETTINGS.len());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k: &str| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
                .or_else(|| (k == "HOME").then(|| "/home/u".to_owned()))
        }
    }

    fn load_text(text: &str, env: &[(&'static str, &'static str)]) -> Result<Settings, ConfigError> {
        let env: &'static [(&str, &str)] = Box::leak(env.to_vec().into_boxed_slice());
        from_text(Some((Path::new("/work/p/ansible.cfg"), text)), &env_of(env), Path::new("/work/p"))
    }

    fn file(line: usize) -> Origin {
        Origin::File { path: PathBuf::from("/work/p/ansible.cfg"), line }
    }

    #[test]
    fn defaults_when_nothing_is_set() {
        let s = from_text(None, &env_of(&[]), Path::new("/work/p")).unwrap();
        assert_eq!(s.forks, Setting { value: 50, origin: Origin::Default });
        assert_eq!(s.timeout.value, 10);
        assert!(s.host_key_checking.value);
        assert_eq!(s.become_user.value, "root");
        assert_eq!(s.roles_path.value[0], PathBuf::from("/home/u/.ansible/roles"));
        assert_eq!(s.collections_path.value[0], PathBuf::from("/home/u/.ansible/collections"));
        assert!(s.inventory.value.is_empty());
        assert!(s.ignored_line().is_none() && s.warnings.is_empty());
        assert_eq!(s.shown().len(), SETTINGS.len());
    }

    #[test]
    fn the_file_is_read_with_types_paths_and_lines() {
        let s = load_text(
            "[defaults]\nforks = 7\ninventory = hosts.ini, /abs/inv\nremote_user = deploy\n\
             private_key_file = ~/.ssh/k\ntimeout = 3\nhost_key_checking = no\n\
             roles_path = r1:~/r2\n\
             [ssh_connection]\nssh_args = -o \"ProxyCommand=nc %h %p\" -C\ncontrol_path_dir = ~/.cp\n\
             [privilege_escalation]\nbecome = Yes\nbecome_user = app\n",
            &[],
        )
        .unwrap();
        assert_eq!(s.forks, Setting { value: 7, origin: file(2) });
        assert_eq!(s.inventory.value, vec![PathBuf::from("/work/p/hosts.ini"), PathBuf::from("/abs/inv")]);
        assert_eq!(s.remote_user.value.as_deref(), Some("deploy"));
        assert_eq!(s.private_key_file.value, Some(PathBuf::from("/home/u/.ssh/k")));
        assert_eq!(s.timeout, Setting { value: 3, origin: file(6) });
        assert_eq!(s.host_key_checking, Setting { value: false, origin: file(7) });
        assert_eq!(s.roles_path.value, vec![PathBuf::from("/work/p/r1"), PathBuf::from("/home/u/r2")]);
        assert_eq!(s.ssh_args.value, vec!["-o", "ProxyCommand=nc %h %p", "-C"]);
        assert_eq!(s.control_path_dir.value, Some(PathBuf::from("/home/u/.cp")));
        assert_eq!(s.become_, Setting { value: true, origin: file(13) });
        assert_eq!(s.become_user.value, "app");
        assert!(s.host_key_note().unwrap().contains("/work/p/ansible.cfg:7"));
    }

    #[test]
    fn booleans_as_ansible_spells_them() {
        for (text, want) in [("yes", true), ("On", true), ("1", true), ("TRUE", true), ("t", true)] {
            assert_eq!(boolean(text), Some(want), "{text}");
        }
        for (text, want) in [("no", false), ("OFF", false), ("0", false), ("False", false), ("n", false)] {
            assert_eq!(boolean(text), Some(want), "{text}");
        }
        assert_eq!(boolean("nope"), None);
        let e = load_text("[defaults]\nhost_key_checking = nope\n", &[]).unwrap_err();
        assert!(e.to_string().starts_with("/work/p/ansible.cfg:2: `host_key_checking` = `nope`"), "{e}");
    }

    #[test]
    fn a_bad_integer_is_a_located_error() {
        let e = load_text("[defaults]\n\nforks = ten\ntimeout = 0\n", &[]).unwrap_err();
        assert_eq!(e.0.len(), 2, "{e}");
        assert_eq!(e.0[0].origin, file(3));
        assert!(e.0[0].message.contains("`forks` = `ten`: a whole number"), "{e}");
        assert_eq!(e.0[1].origin, file(4));
        let e = load_text("", &[("ANSIBLE_FORKS", "many")]).unwrap_err();
        assert!(e.to_string().starts_with("env ANSIBLE_FORKS: `forks` = `many`"), "{e}");
        assert_eq!(load_text("[defaults]\nforks = 5.0\n", &[]).unwrap().forks.value, 5);
        let e = load_text("[ssh_connection]\nssh_args = -o \"ProxyCommand=nc\n", &[]).unwrap_err();
        assert_eq!(e.0[0].origin, file(2), "{e}");
        assert!(e.0[0].message.contains("quoted as a shell would"), "{e}");
        let s = load_text("[ssh_connection]\nssh_args = -o 'ProxyCommand=nc %h %p' -C\n", &[]).unwrap();
        let shown = s.shown().into_iter().find(|s| s.name == "ssh_args").unwrap();
        assert_eq!(shown.text, "-o 'ProxyCommand=nc %h %p' -C");
    }

    #[test]
    fn become_password_settings_and_their_flags() {
        let text = "[defaults]\nbecome_password_file = pw\n[privilege_escalation]\nbecome_ask_pass = True\n";
        let s = load_text(text, &[]).unwrap();
        assert!(s.become_ask_pass.value);
        assert_eq!(s.become_password_file.value, Some(PathBuf::from("/work/p/pw")));
        // A --become-password-file flag names the source: the configured prompt gives way.
        let mut flagged = s.clone();
        flagged.apply_flags(&Flags { become_password_file: Some("other".into()), ..Flags::default() });
        assert!(!flagged.become_ask_pass.value);
        assert_eq!(flagged.become_password_file.value, Some(PathBuf::from("other")));
        let env = load_text("", &[("ANSIBLE_BECOME_PASSWORD_FILE", "/e/pw")]).unwrap();
        assert_eq!(env.become_password_file.origin, Origin::Env("ANSIBLE_BECOME_PASSWORD_FILE".into()));
        let mut asked = load_text("", &[]).unwrap();
        asked.apply_flags(&Flags { ask_become_pass: true, ..Flags::default() });
        assert!(asked.become_ask_pass.value);
        let shown = asked.shown().into_iter().find(|s| s.name == "become_ask_pass").unwrap();
        assert_eq!(shown.text, "True", "not masked: it is no secret");
    }

    #[test]
    fn env_beats_file_and_flag_beats_env() {
        let text = "[defaults]\nforks = 7\nremote_user = file\n[privilege_escalation]\nbecome_user = f\n";
        let mut s = load_text(text, &[("ANSIBLE_FORKS", "9"), ("ANSIBLE_REMOTE_USER", "env")]).unwrap();
        assert_eq!(s.forks, Setting { value: 9, origin: Origin::Env("ANSIBLE_FORKS".into()) });
        assert_eq!(s.remote_user.value.as_deref(), Some("env"));
        assert_eq!(s.become_user.origin, file(5));
        s.apply_flags(&Flags { forks: Some(3), user: Some("flag".into()), ..Flags::default() });
        assert_eq!(s.forks, Setting { value: 3, origin: Origin::Flag("--forks".into()) });
        assert_eq!(s.remote_user.value.as_deref(), Some("flag"));
        assert_eq!(s.become_user.origin, file(5), "no --become-user: the file's stays");
        // The later of two environment variables (and of two keys) wins, as in Ansible.
        let s = load_text("[defaults]\ntimeout = 4\n[ssh_connection]\ntimeout = 6\n", &[]).unwrap();
        assert_eq!(s.timeout, Setting { value: 6, origin: file(4) });
        let s = load_text("", &[("ANSIBLE_TIMEOUT", "4"), ("ANSIBLE_SSH_TIMEOUT", "8")]).unwrap();
        assert_eq!(s.timeout.origin, Origin::Env("ANSIBLE_SSH_TIMEOUT".into()));
        // Environment paths are taken against the working directory.
        let s = load_text("", &[("ANSIBLE_ROLES_PATH", "/env1:rel")]).unwrap();
        assert_eq!(
            s.search_paths(&[PathBuf::from("/flag")]).roles,
            ["/flag", "/env1", "/work/p/rel"].map(PathBuf::from)
        );
    }

    #[test]
    fn the_first_file_found_wins() {
        let dir = tempfile::tempdir().unwrap();
        let (cwd, home, other) = (dir.path().join("cwd"), dir.path().join("home"), dir.path().join("other"));
        for d in [&cwd, &home, &other] {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(home.join(".ansible.cfg"), "[defaults]\nforks = 2\n").unwrap();
        let env_home = home.display().to_string();
        let env = |config: Option<String>| {
            let h = env_home.clone();
            move |k: &str| match k {
                "HOME" => Some(h.clone()),
                "ANSIBLE_CONFIG" => config.clone(),
                _ => None,
            }
        };
        assert_eq!(load(&env(None), &cwd).unwrap().forks.value, 2, "~/.ansible.cfg");
        std::fs::write(cwd.join("ansible.cfg"), "[defaults]\nforks = 3\n").unwrap();
        let s = load(&env(None), &cwd).unwrap();
        assert_eq!((s.forks.value, s.file.clone()), (3, Some(cwd.join("ansible.cfg"))), "./ansible.cfg first");
        std::fs::write(other.join("ansible.cfg"), "[defaults]\nforks = 4\n").unwrap();
        assert_eq!(load(&env(Some(other.join("ansible.cfg").display().to_string())), &cwd).unwrap().forks.value, 4);
        assert_eq!(load(&env(Some(other.display().to_string())), &cwd).unwrap().forks.value, 4, "a folder");
        let s = load(&env(Some("/nonexistent/x.cfg".into())), &cwd).unwrap();
        assert_eq!(s.forks.value, 3);
        assert!(s.warnings[0].contains("ANSIBLE_CONFIG names /nonexistent/x.cfg"), "{:?}", s.warnings);
        // Only the first file is read: keys of the others do not mix in.
        std::fs::write(cwd.join("ansible.cfg"), "[defaults]\ntimeout = 5\n").unwrap();
        assert_eq!(load(&env(None), &cwd).unwrap().forks.origin, Origin::Default);
    }

    #[test]
    fn refused_tuning_and_unknown_keys() {
        let e = load_text(
            "[defaults]\nstrategy = free\nany_errors_fatal = False\nhash_behaviour = merge\n",
            &[("ANSIBLE_STRATEGY", "linear"), ("ANSIBLE_NO_LOG", "true")],
        )
        .unwrap_err();
        let text = e.to_string();
        assert_eq!(e.0.len(), 3, "{text}");
        assert!(text.contains("/work/p/ansible.cfg:2: `strategy` = `free` is not supported"), "{text}");
        assert!(text.contains("/work/p/ansible.cfg:4: `hash_behaviour` = `merge` is not supported"), "{text}");
        assert!(text.contains("combine"), "{text}");
        assert!(text.contains("env ANSIBLE_NO_LOG: `no_log` = `true`"), "{text}");
        let s = load_text(
            "[defaults]\nstdout_callback = yaml\nnocows = 1\nforsk = 3\nbecome = true\n[colors]\nok = blue\n\
             [ssh_connection]\npipelining = True\n",
            &[("ANSIBLE_NOCOLOR", "1"), ("NO_COLOR", "1")],
        )
        .unwrap();
        let line = s.ignored_line().unwrap();
        assert_eq!(
            line,
            "ignoring settings that only tune Ansible itself of /work/p/ansible.cfg: stdout_callback (line 2), \
             nocows (line 3), [colors] (line 7), pipelining (line 9), ANSIBLE_NOCOLOR"
        );
        assert_eq!(s.warnings.len(), 2, "{:?}", s.warnings);
        assert!(s.warnings[0].contains(":4: `forsk` is not an Ansible setting of [defaults]; did you mean `forks`?"));
        assert!(s.warnings[1].contains(":5: Ansible reads `become` from [privilege_escalation], not [defaults]"));
        let e = load_text("[defaults]\nansible_managed = Managed: {file} on %Y-%m-%d\n", &[]).unwrap_err();
        assert!(e.to_string().contains("does not substitute {file}"), "{e}");
    }

    #[test]
    fn secrets_are_never_shown() {
        assert!(is_secret("become_password") && is_secret("vault_secret"));
        // A password file's path is shown; its content is never read here.
        assert!(!is_secret("private_key_file") && !is_secret("vault_password_file"));
        assert!(!is_secret("become_ask_pass") && !is_secret("become_password_file"));
    }
}
