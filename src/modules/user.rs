//! `user`: a user account, as `ansible.builtin.user` manages it on Linux with
//! shadow-utils (`useradd`, `usermod`, `userdel`).
//!
//! One probe reads the account through NSS (`getent passwd`, `getent shadow`,
//! the groups listing it as a member, the requested groups, whether the home
//! directory exists). The pure [`decide`] follows Ansible's `User` class rule
//! for rule: which `useradd` / `usermod` / `userdel` options a run needs,
//! including `append`'s group arithmetic, the lock/unlock/`-p` interplay of
//! `password_lock` and `update_password`, dates of `expires`, and creating a
//! missing home directory from the skeleton for an existing account.
//!
//! The password hash is a secret. It never travels to the host in a script:
//! the apply script reads `name:hash` from its stdin and hands it to
//! `chpasswd -e`, so it is in no command line on either side (Ansible passes
//! it to `usermod -p`). The probe never sends the current hash back either:
//! the host prints only its SHA-256 (after Ansible's `lstrip('!')`), which
//! the controller compares with the hash of the requested one. Diffs and
//! results say that the password changes, never what it is.
//!
//! This module never builds a shell string by hand: every value goes
//! through [`crate::transport::quote::quote`], with `--` before the name.

use serde_json::Value;

use super::accounts::{all_tagged, group_lookup, passwd_lookup, require_tool, tagged, Group, Passwd};
use super::file_state::sha256_hex;
use super::group::local_refused;
use super::{
    Action, ApplyScript, ArgKind, ArgSpec, Args, Diff, Module, ModuleError, ModuleSpec, Plan, ResultMap, TaskContext,
};
use crate::transport::quote::quote;
use crate::transport::ExecOutput;

/// The `user` module.
pub struct User;

/// What Ansible registers instead of the password.
pub const NOT_LOGGING_PASSWORD: &str = "NOT_LOGGING_PASSWORD";

/// The probe's first line.
const MARKER: &str = "stead-user-probe";

static SPEC: ModuleSpec = ModuleSpec::new(&[
    ArgSpec::new("name", ArgKind::Str).required().aliases(&["user"]),
    ArgSpec::new("state", ArgKind::Str).choices(&["present", "absent"]),
    ArgSpec::new("uid", ArgKind::Int),
    ArgSpec::new("non_unique", ArgKind::Bool),
    ArgSpec::new("group", ArgKind::Str),
    ArgSpec::new("groups", ArgKind::List),
    ArgSpec::new("append", ArgKind::Bool),
    ArgSpec::new("comment", ArgKind::Str),
    ArgSpec::new("home", ArgKind::Str),
    ArgSpec::new("shell", ArgKind::Str),
    ArgSpec::new("password", ArgKind::Str),
    ArgSpec::new("password_lock", ArgKind::Bool),
    ArgSpec::new("update_password", ArgKind::Str).choices(&["always", "on_create"]),
    ArgSpec::new("force", ArgKind::Bool),
    ArgSpec::new("remove", ArgKind::Bool),
    ArgSpec::new("create_home", ArgKind::Bool).aliases(&["createhome"]),
    ArgSpec::new("move_home", ArgKind::Bool),
    ArgSpec::new("skeleton", ArgKind::Str),
    ArgSpec::new("system", ArgKind::Bool),
    ArgSpec::new("expires", ArgKind::Float),
    ArgSpec::new("local", ArgKind::Bool),
    ArgSpec::new("uid_min", ArgKind::Int),
    ArgSpec::new("uid_max", ArgKind::Int),
])
.refused(&[
    ("generate_ssh_key", SSH_KEYS),
    ("ssh_key_bits", SSH_KEYS),
    ("ssh_key_type", SSH_KEYS),
    ("ssh_key_file", SSH_KEYS),
    ("ssh_key_comment", SSH_KEYS),
    ("ssh_key_passphrase", SSH_KEYS),
    ("seuser", "SELinux user mappings (useradd -Z) are not managed by stead"),
    ("login_class", "login classes exist on the BSDs only; stead manages Linux accounts"),
    ("hidden", "hidden accounts exist on macOS only; stead manages Linux accounts"),
    ("profile", "RBAC profiles exist on Solaris/illumos only; stead manages Linux accounts"),
    ("authorization", "RBAC authorizations exist on Solaris/illumos only; stead manages Linux accounts"),
    ("role", "RBAC roles exist on Solaris/illumos only; stead manages Linux accounts"),
    ("password_expire_max", AGEING),
    ("password_expire_min", AGEING),
    ("password_expire_warn", AGEING),
    ("password_expire_account_disable", AGEING),
    ("umask", "the home directory's umask at creation (useradd -K UMASK=) is not implemented"),
]);

const SSH_KEYS: &str = "stead does not generate SSH key pairs in the user module; \
                        run ssh-keygen with `creates:` in a command task";
const AGEING: &str = "password ageing (chage) is not implemented; run chage in a command task";

impl Module for User {
    fn name(&self) -> &'static str {
        "user"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: &Args, ctx: &dyn TaskContext) -> Result<Box<dyn Action>, ModuleError> {
        Ok(Box::new(UserAction { desired: Desired::from_args(args)?, check_mode: ctx.check_mode(), creating: false }))
    }
}

/// What the task asks for.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Desired {
    /// Login name.
    pub name: String,
    /// `state: present`.
    pub present: bool,
    /// Requested uid.
    pub uid: Option<u32>,
    /// `-o`.
    pub non_unique: bool,
    /// Primary group (name or gid).
    pub group: Option<String>,
    /// Supplementary groups: `None` when not given, empty for `groups: []`.
    pub groups: Option<Vec<String>>,
    /// Add `groups` to the current ones instead of replacing them.
    pub append: bool,
    /// GECOS.
    pub comment: Option<String>,
    /// Home directory.
    pub home: Option<String>,
    /// Login shell.
    pub shell: Option<String>,
    /// Crypt hash.
    pub password: Option<String>,
    /// `password_lock`.
    pub lock: Option<bool>,
    /// `update_password: always`.
    pub update_always: bool,
    /// `userdel -f`.
    pub force: bool,
    /// `userdel -r`.
    pub remove: bool,
    /// `useradd -m`, and create a missing home of an existing account.
    pub create_home: bool,
    /// `usermod -m` with a new `home`.
    pub move_home: bool,
    /// `useradd -k`.
    pub skeleton: Option<String>,
    /// `useradd -r`.
    pub system: bool,
    /// Seconds since the epoch; negative removes the expiry.
    pub expires: Option<f64>,
    /// `-K UID_MIN=` / `-K UID_MAX=`.
    pub uid_min: Option<i64>,
    /// See `uid_min`.
    pub uid_max: Option<i64>,
}

impl Desired {
    fn from_args(args: &Args) -> Result<Desired, ModuleError> {
        if args.bool_or("local", false)? {
            return Err(local_refused("luseradd"));
        }
        let uid = args
            .opt_int("uid")?
            .map(|u| {
                u32::try_from(u)
                    .map_err(|_| ModuleError::Arg { arg: "uid".into(), message: "must be 0 or more".into() })
            })
            .transpose()?;
        let groups = if args.has("groups") {
            // Ansible joins the list with commas and splits it again.
            let joined = args.str_list("groups")?.join(",");
            Some(joined.split(',').map(str::trim).filter(|g| !g.is_empty()).map(str::to_owned).collect())
        } else {
            None
        };
        Ok(Desired {
            name: args.str("name")?,
            present: args.choice_or("state", &["present", "absent"], "present")? == "present",
            uid,
            non_unique: args.bool_or("non_unique", false)?,
            group: args.opt_str("group")?,
            groups,
            append: args.bool_or("append", false)?,
            comment: args.opt_str("comment")?,
            home: args.opt_str("home")?,
            shell: args.opt_str("shell")?,
            password: args.opt_str("password")?,
            lock: if args.has("password_lock") { Some(args.bool_or("password_lock", false)?) } else { None },
            update_always: args.choice_or("update_password", &["always", "on_create"], "always")? == "always",
            force: args.bool_or("force", false)?,
            remove: args.bool_or("remove", false)?,
            create_home: args.bool_or("create_home", true)?,
            move_home: args.bool_or("move_home", false)?,
            skeleton: args.opt_str("skeleton")?,
            system: args.bool_or("system", false)?,
            expires: args.opt_float("expires")?,
            uid_min: args.opt_int("uid_min")?,
            uid_max: args.opt_int("uid_max")?,
        })
    }
}

/// The shadow entry, as far as the controller may see it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Shadow {
    /// The hash starts with `!`.
    pub locked: bool,
    /// SHA-256 of the hash without its leading `!`s.
    pub hash_sha256: String,
    /// Days since the epoch the account expires; `-1`: never.
    pub expire: i64,
}

/// The account as probed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct State {
    /// The passwd entry, when the account exists.
    pub passwd: Option<Passwd>,
    /// The shadow entry, when there is one.
    pub shadow: Option<Shadow>,
    /// Groups listing the user as a member.
    pub member_of: Vec<Group>,
    /// The `group` argument, resolved.
    pub group: Option<Group>,
    /// Each of `groups`, resolved (`None`: no such group).
    pub groups: Vec<Option<Group>>,
    /// A group carries the user's name (useradd then needs `-N`).
    pub name_group_exists: bool,
    /// The home directory (requested, else current) exists.
    pub home_exists: Option<bool>,
    /// Its parent directory exists.
    pub home_parent_exists: Option<bool>,
}

/// Parses the probe's output.
pub fn parse_state(stdout: &str, d: &Desired) -> Result<State, ModuleError> {
    if stdout.lines().next() != Some(MARKER) {
        return Err(ModuleError::Probe("no user section".into()));
    }
    let bad = |what: &str, line: &str| ModuleError::Probe(format!("bad {what} `{line}`"));
    let passwd = tagged(stdout, "P").map(|l| Passwd::parse(l).ok_or_else(|| bad("passwd entry", l))).transpose()?;
    let shadow = match tagged(stdout, "S") {
        None => None,
        Some(l) => {
            let mut f = l.splitn(3, ' ');
            let (locked, sha, expire) = (f.next(), f.next(), f.next().unwrap_or("").trim());
            Some(Shadow {
                locked: locked == Some("1"),
                hash_sha256: sha.ok_or_else(|| bad("shadow summary", l))?.to_owned(),
                expire: if expire.is_empty() { -1 } else { expire.parse().map_err(|_| bad("expiry", l))? },
            })
        }
    };
    let group_of = |tag: &str| -> Result<Option<Group>, ModuleError> {
        tagged(stdout, tag).map(|l| Group::parse(l).ok_or_else(|| bad("group entry", l))).transpose()
    };
    let member_of = all_tagged(stdout, "M")
        .map(|l| Group::parse(l).ok_or_else(|| bad("group entry", l)))
        .collect::<Result<_, _>>()?;
    let n = d.groups.as_ref().map_or(0, Vec::len);
    let groups = (0..n).map(|i| group_of(&format!("G{i}"))).collect::<Result<_, _>>()?;
    let home = tagged(stdout, "H").map(|l| (l.starts_with('1'), l.ends_with('1')));
    Ok(State {
        passwd,
        shadow,
        member_of,
        group: group_of("PG")?,
        groups,
        name_group_exists: tagged(stdout, "N").is_some(),
        home_exists: home.map(|h| h.0),
        home_parent_exists: home.map(|h| h.1),
    })
}

/// What a run does to the account.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Decision {
    /// `useradd`, `usermod` or `userdel`, with its options (quoted words;
    /// the name is added last), or nothing.
    pub command: Option<(&'static str, Vec<String>)>,
    /// The hash (with `!` when locking) to set with `chpasswd -e`.
    pub password: Option<String>,
    /// Create the parents of the new home first (useradd cannot).
    pub make_home_parent: bool,
    /// Create the missing home directory of an account (from the skeleton).
    pub create_home_dir: Option<String>,
    /// Before/after lines of the diff.
    pub before: Vec<(&'static str, String)>,
    /// See `before`.
    pub after: Vec<(&'static str, String)>,
}

impl Decision {
    /// Whether anything changes.
    pub fn changed(&self) -> bool {
        self.command.is_some() || self.password.is_some() || self.create_home_dir.is_some()
    }
}

/// `expires` (seconds) as days since the epoch.
fn expire_days(seconds: f64) -> i64 {
    (seconds / 86_400.0).floor() as i64
}

/// Days since the epoch as `YYYY-MM-DD` (Howard Hinnant's civil_from_days).
pub fn date_of_days(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

fn expiry_text(days: i64) -> String {
    if days < 0 {
        "never".into()
    } else {
        date_of_days(days)
    }
}

fn word(s: &str) -> String {
    quote(s).into_owned()
}

fn missing_group(g: &str) -> ModuleError {
    ModuleError::failed(format!("Group {g} does not exist"))
}

/// Ansible's `lstrip('!')`, hashed as the probe hashes the current one.
fn stripped_sha(hash: &str) -> String {
    sha256_hex(hash.trim_start_matches('!').as_bytes())
}

/// Ansible's create / modify / remove, as one pure decision. In
/// `check_mode`, as in Ansible, a creation is reported before its groups are
/// looked at (a group an earlier task would create does not fail it).
pub fn decide(d: &Desired, st: &State, check_mode: bool) -> Result<Decision, ModuleError> {
    let mut out = Decision::default();
    match (&st.passwd, d.present) {
        (None, false) => {}
        (Some(pw), false) => {
            let mut args = Vec::new();
            if d.force {
                args.push("-f".into());
            }
            if d.remove {
                args.push("-r".into());
            }
            out.command = Some(("userdel", args));
            out.before.push(("state", "present".into()));
            if d.remove {
                out.before.push(("home", pw.home.clone()));
            }
            out.after.push(("state", "absent".into()));
        }
        (None, true) => create(d, st, check_mode, &mut out)?,
        (Some(pw), true) => modify(d, st, pw, &mut out)?,
    }
    Ok(out)
}

fn create(d: &Desired, st: &State, check_mode: bool, out: &mut Decision) -> Result<(), ModuleError> {
    let mut a: Vec<String> = Vec::new();
    out.before.push(("state", "absent".into()));
    out.after.push(("state", "present".into()));
    if let Some(uid) = d.uid {
        a.extend(["-u".into(), uid.to_string()]);
        if d.non_unique {
            a.push("-o".into());
        }
        out.after.push(("uid", uid.to_string()));
    }
    if let Some(g) = &d.group {
        if st.group.is_none() && !check_mode {
            return Err(missing_group(g));
        }
        a.extend(["-g".into(), word(g)]);
        out.after.push(("group", g.clone()));
    } else if st.name_group_exists {
        a.push("-N".into());
    }
    if let Some(groups) = d.groups.as_ref().filter(|g| !g.is_empty()) {
        let mut unique: Vec<&String> = Vec::new();
        for (g, found) in groups.iter().zip(&st.groups) {
            if found.is_none() && !check_mode {
                return Err(missing_group(g));
            }
            if !unique.contains(&g) {
                unique.push(g);
            }
        }
        let list = unique.iter().map(|g| g.as_str()).collect::<Vec<_>>().join(",");
        a.extend(["-G".into(), word(&list)]);
        out.after.push(("groups", list));
    }
    if let Some(c) = &d.comment {
        a.extend(["-c".into(), word(c)]);
        out.after.push(("comment", c.clone()));
    }
    if let Some(h) = &d.home {
        out.make_home_parent = d.create_home && st.home_parent_exists == Some(false);
        a.extend(["-d".into(), word(h)]);
        out.after.push(("home", h.clone()));
    }
    if let Some(s) = &d.shell {
        a.extend(["-s".into(), word(s)]);
        out.after.push(("shell", s.clone()));
    }
    if let Some(e) = d.expires {
        let days = expire_days(e);
        a.extend(["-e".into(), if days < 0 { "''".into() } else { date_of_days(days) }]);
        out.after.push(("expires", expiry_text(days)));
    }
    if let Some(p) = &d.password {
        let locked = d.lock == Some(true);
        out.password = Some(if locked { format!("!{p}") } else { p.clone() });
        out.after.push(("password", hidden(locked)));
    }
    if d.create_home {
        a.push("-m".into());
        if let Some(k) = &d.skeleton {
            a.extend(["-k".into(), word(k)]);
        }
    } else {
        a.push("-M".into());
    }
    if d.system {
        a.push("-r".into());
        out.after.push(("system", "true".into()));
    }
    if let Some(min) = d.uid_min {
        a.extend(["-K".into(), word(&format!("UID_MIN={min}"))]);
    }
    if let Some(max) = d.uid_max {
        a.extend(["-K".into(), word(&format!("UID_MAX={max}"))]);
    }
    out.command = Some(("useradd", a));
    Ok(())
}

fn hidden(locked: bool) -> String {
    if locked {
        "(hidden, locked)".into()
    } else {
        "(hidden)".into()
    }
}

fn modify(d: &Desired, st: &State, pw: &Passwd, out: &mut Decision) -> Result<(), ModuleError> {
    let mut a: Vec<String> = Vec::new();
    let change = |out: &mut Decision, field: &'static str, before: String, after: String| {
        out.before.push((field, before));
        out.after.push((field, after));
    };
    if let Some(uid) = d.uid.filter(|u| *u != pw.uid) {
        a.extend(["-u".into(), uid.to_string()]);
        if d.non_unique {
            a.push("-o".into());
        }
        change(out, "uid", pw.uid.to_string(), uid.to_string());
    }
    if let Some(g) = &d.group {
        let group = st.group.as_ref().ok_or_else(|| missing_group(g))?;
        if group.gid != pw.gid {
            a.extend(["-g".into(), group.gid.to_string()]);
            change(out, "group", pw.gid.to_string(), format!("{} ({})", group.gid, group.name));
        }
    }
    if let Some(groups) = &d.groups {
        let current: Vec<&str> = st.member_of.iter().map(|g| g.name.as_str()).collect();
        let mut wanted: Vec<&str> = Vec::new();
        for (g, found) in groups.iter().zip(&st.groups) {
            let found = found.as_ref().ok_or_else(|| missing_group(g))?;
            if !wanted.contains(&found.name.as_str()) {
                wanted.push(&found.name);
            }
        }
        let needed = if groups.is_empty() {
            !current.is_empty() && !d.append
        } else {
            let missing = wanted.iter().any(|w| !current.contains(w));
            let extra = current.iter().any(|c| !wanted.contains(c));
            if d.append {
                missing
            } else {
                missing || extra
            }
        };
        if needed {
            if d.append {
                a.push("-a".into());
            }
            let list = wanted.join(",");
            a.extend(["-G".into(), word(&list)]);
            let mut after: Vec<&str> = if d.append { current.clone() } else { Vec::new() };
            after.extend(wanted.iter().filter(|w| !after.contains(w)).collect::<Vec<_>>());
            change(out, "groups", current.join(","), after.join(","));
        }
    }
    if let Some(c) = d.comment.as_ref().filter(|c| **c != pw.comment) {
        a.extend(["-c".into(), word(c)]);
        change(out, "comment", pw.comment.clone(), c.clone());
    }
    if let Some(h) = d.home.as_ref().filter(|h| **h != pw.home) {
        a.extend(["-d".into(), word(h)]);
        if d.move_home {
            a.push("-m".into());
        }
        change(out, "home", pw.home.clone(), h.clone());
    }
    if let Some(s) = d.shell.as_ref().filter(|s| **s != pw.shell) {
        a.extend(["-s".into(), word(s)]);
        change(out, "shell", pw.shell.clone(), s.clone());
    }
    if let Some(e) = d.expires {
        // No shadow entry reads as 0, an empty field as -1 (Ansible's getspnam).
        let current = st.shadow.as_ref().map_or(0, |s| s.expire);
        let days = expire_days(e);
        let needed = if days < 0 { current >= 0 } else { current < 0 || current != days };
        if needed {
            a.extend(["-e".into(), if days < 0 { "''".into() } else { date_of_days(days) }]);
            change(out, "expires", expiry_text(current), expiry_text(days));
        }
    }
    let locked_now = st.shadow.as_ref().is_some_and(|s| s.locked);
    let current_sha = st.shadow.as_ref().map_or_else(|| stripped_sha(""), |s| s.hash_sha256.clone());
    let mut lock_flag = match d.lock {
        Some(true) if !locked_now => Some("-L"),
        Some(false) if locked_now => Some("-U"),
        _ => None,
    };
    if let Some(p) = d.password.as_ref().filter(|p| d.update_always && stripped_sha(p) != current_sha) {
        // `-p` replaces -L/-U; a lock travels as the hash's leading `!`.
        lock_flag = None;
        let locked = d.lock == Some(true);
        out.password = Some(if locked { format!("!{p}") } else { p.clone() });
        change(out, "password", hidden(locked_now), format!("{} (changed)", hidden(locked)));
    }
    if let Some(flag) = lock_flag {
        a.push(flag.into());
        change(out, "locked", locked_now.to_string(), (flag == "-L").to_string());
    }
    if !a.is_empty() {
        out.command = Some(("usermod", a));
    }
    let home = d.home.clone().unwrap_or_else(|| pw.home.clone());
    if d.create_home && st.home_exists == Some(false) {
        change(out, "home directory", format!("{home} (missing)"), format!("{home} (created)"));
        out.create_home_dir = Some(home);
    }
    Ok(())
}

/// One `user` task on one host.
#[derive(Debug)]
pub struct UserAction {
    desired: Desired,
    check_mode: bool,
    /// The account did not exist when probed.
    creating: bool,
}

impl UserAction {
    fn probe_script(&self) -> String {
        let d = &self.desired;
        let mut s = format!("LC_ALL=C\nexport LC_ALL\nprintf '%s\\n' {MARKER}\n");
        s.push_str(&passwd_lookup("P", &d.name));
        s.push_str(&format!(
            "pe=$e\npw=\nx=\ns=$(getent shadow -- {n} 2>/dev/null | head -n 1) || s=\n\
             case ${{s%%:*}} in {n}) r=${{s#*:}}; pw=${{r%%:*}}; x=$(printf '%s\\n' \"$s\" | cut -d: -f8) ;; *) s= ;; esac\n\
             pf=$(printf '%s\\n' \"$pe\" | cut -d: -f2)\n\
             [ ${{#pf}} -le 1 ] || {{ pw=$pf; s=1; }}\n\
             if [ -n \"$s\" ]; then\n  l=0; case $pw in '!'*) l=1 ;; esac\n  \
             while :; do case $pw in '!'*) pw=${{pw#!}} ;; *) break ;; esac; done\n  \
             h=$(printf '%s' \"$pw\" | sha256sum); printf 'S %s %s %s\\n' \"$l\" \"${{h%% *}}\" \"$x\"\nfi\n\
             pw=\n",
            n = quote(&d.name)
        ));
        if d.present {
            s.push_str(&format!(
                "getent group 2>/dev/null | u={} awk -F: '{{ n = split($4, m, \",\"); \
                 for (i = 1; i <= n; i++) if (m[i] == ENVIRON[\"u\"]) {{ print \"M \" $0; break }} }}'\n",
                quote(&d.name)
            ));
            if let Some(g) = &d.group {
                s.push_str(&group_lookup("PG", g));
            } else {
                s.push_str(&group_lookup("N", &d.name));
            }
            for (i, g) in d.groups.iter().flatten().enumerate() {
                s.push_str(&group_lookup(&format!("G{i}"), g));
            }
            s.push_str(&format!(
                "hd={}\n[ -n \"$hd\" ] || hd=$(printf '%s\\n' \"$pe\" | cut -d: -f6)\n\
                 if [ -n \"$hd\" ]; then\n  a=0; [ -e \"$hd\" ] && a=1\n  \
                 b=0; [ -d \"$(dirname -- \"$hd\")\" ] && b=1\n  printf 'H %s %s\\n' \"$a\" \"$b\"\nfi\n",
                quote(d.home.as_deref().unwrap_or(""))
            ));
        }
        s
    }

    fn apply_script(&self, dec: &Decision) -> ApplyScript {
        let d = &self.desired;
        let n = quote(&d.name);
        let mut s = String::from("LC_ALL=C\nexport LC_ALL\n");
        if dec.make_home_parent {
            if let Some(h) = &d.home {
                s.push_str(&format!("mkdir -p -- \"$(dirname -- {})\" || exit 1\n", quote(h)));
            }
        }
        if let Some((tool, args)) = &dec.command {
            s.push_str(&require_tool(tool));
            s.push_str(tool);
            for a in args {
                s.push(' ');
                s.push_str(a);
            }
            s.push_str(&format!(" -- {n} || exit $?\n"));
        }
        let mut stdin = Vec::new();
        if let Some(p) = &dec.password {
            s.push_str(&require_tool("chpasswd"));
            s.push_str("chpasswd -e || exit $?\n");
            stdin = format!("{}:{p}\n", d.name).into_bytes();
        }
        if let Some(home) = &dec.create_home_dir {
            let skel = d.skeleton.clone().unwrap_or_else(|| "/etc/skel".into());
            s.push_str(&format!(
                "h={}\nk={}\nids=$(getent passwd -- {n} | cut -d: -f3,4)\n\
                 if [ ! -e \"$h\" ]; then\n  \
                 if [ -e \"$k\" ] && [ \"$k\" != /dev/null ]; then\n    \
                 mkdir -p -- \"$(dirname -- \"$h\")\" && cp -R -P -- \"$k\" \"$h\" || exit 1\n  \
                 else mkdir -p -- \"$h\" || exit 1; fi\n  \
                 if [ -f /etc/login.defs ]; then\n    \
                 m=$(awk '$1 == \"HOME_MODE\" && $2 ~ /^[0-9]+$/ && NF == 2 {{ print \"H\" $2; exit }} \
                 $1 == \"UMASK\" && $2 ~ /^[0-9]+$/ && NF == 2 {{ u = $2 }} END {{ if (u != \"\") print \"U\" u }}' \
                 /etc/login.defs | head -n 1)\n    \
                 case $m in H*) m=${{m#H}} ;; U*) m=$(printf '%o' $(( 0777 & ~0${{m#U}} ))) ;; *) m=755 ;; esac\n    \
                 chmod \"0$m\" -- \"$h\" || exit 1\n  fi\n  \
                 find \"$h\" ! -type l -exec chown -- \"$ids\" {{}} + || exit 1\nfi\n",
                quote(home),
                quote(&skel),
            ));
        }
        s.push_str(&format!("printf '%s\\n' {MARKER}\n"));
        s.push_str(&passwd_lookup("P", &d.name));
        ApplyScript { script: s, stdin }
    }

    /// Ansible's registered result.
    fn result(&self, pw: Option<&Passwd>, created: bool, changed: bool) -> ResultMap {
        let d = &self.desired;
        let mut r = ResultMap::new();
        r.insert("name".into(), d.name.clone().into());
        r.insert("state".into(), if d.present { "present" } else { "absent" }.into());
        r.insert("changed".into(), changed.into());
        if !d.present {
            if changed {
                r.insert("force".into(), d.force.into());
                r.insert("remove".into(), d.remove.into());
            }
            return r;
        }
        if created {
            r.insert("system".into(), d.system.into());
            r.insert("create_home".into(), d.create_home.into());
        } else {
            r.insert("append".into(), d.append.into());
            r.insert("move_home".into(), d.move_home.into());
        }
        if d.password.is_some() {
            r.insert("password".into(), NOT_LOGGING_PASSWORD.into());
        }
        if let Some(pw) = pw {
            r.insert("uid".into(), pw.uid.into());
            r.insert("group".into(), pw.gid.into());
            r.insert("comment".into(), pw.comment.clone().into());
            r.insert("home".into(), pw.home.clone().into());
            r.insert("shell".into(), pw.shell.clone().into());
            if let Some(g) = &d.groups {
                r.insert("groups".into(), g.join(",").into());
            }
        }
        r
    }
}

impl Action for UserAction {
    fn paths(&self) -> Option<Vec<String>> {
        let home = self.desired.home.clone()?;
        Some(vec!["/etc/passwd".into(), "/etc/shadow".into(), "/etc/group".into(), "/etc/gshadow".into(), home])
    }

    fn probe(&self) -> Option<String> {
        Some(self.probe_script())
    }

    fn compare(&mut self, probe: Option<&ExecOutput>) -> Result<Plan, ModuleError> {
        let out = probe.ok_or_else(|| ModuleError::Probe("the user probe did not run".into()))?;
        if out.status != 0 {
            return Err(ModuleError::failed(format!("cannot read the account: {}", out.stderr_text().trim())));
        }
        let st = parse_state(&out.stdout_text(), &self.desired)?;
        let dec = decide(&self.desired, &st, self.check_mode)?;
        let creating = st.passwd.is_none();
        self.creating = creating;
        if !dec.changed() {
            let mut plan = Plan::ok();
            plan.result = self.result(st.passwd.as_ref(), false, false);
            return Ok(plan);
        }
        let mut plan = Plan::change(self.apply_script(&dec));
        plan.diff = Some(Diff::state(&format!("user {}", self.desired.name), &dec.before, &dec.after));
        // Ansible's check mode reports only `changed` for a creation or removal.
        plan.result = if self.check_mode && (creating || !self.desired.present) {
            ResultMap::from_iter([("changed".to_owned(), Value::Bool(true))])
        } else {
            self.result(st.passwd.as_ref(), creating, true)
        };
        Ok(plan)
    }

    fn finish(&mut self, plan: Plan, out: &ExecOutput) -> Result<Plan, ModuleError> {
        let err = out.stderr_text();
        if out.status != 0 {
            let mut result = ResultMap::new();
            result.insert("name".into(), self.desired.name.clone().into());
            result.insert("rc".into(), out.status.into());
            result.insert("stderr".into(), err.clone().into());
            let msg = if err.trim().is_empty() { format!("exit {}", out.status) } else { err.trim().to_owned() };
            return Err(ModuleError::Failed { msg, result });
        }
        let text = out.stdout_text();
        let pw = tagged(&text, "P").and_then(Passwd::parse);
        let mut plan = plan;
        plan.result = self.result(pw.as_ref(), self.creating, true);
        if !err.trim().is_empty() {
            plan.result.insert("stderr".into(), err.into());
        }
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::file_write::testing::run;
    use serde_json::json;

    fn desired(v: serde_json::Value) -> Desired {
        Desired::from_args(&Args::new(&SPEC, v.as_object().unwrap().clone())).unwrap()
    }

    fn pw(line: &str) -> Passwd {
        Passwd::parse(line).unwrap()
    }

    fn group(name: &str, gid: u32) -> Group {
        Group { name: name.into(), gid, members: vec![] }
    }

    const HASH: &str = "$6$salt$hash";

    fn existing() -> State {
        State {
            passwd: Some(pw("alice:x:1001:1001:Alice:/home/alice:/bin/bash")),
            shadow: Some(Shadow { locked: false, hash_sha256: stripped_sha(HASH), expire: -1 }),
            member_of: vec![group("adm", 4)],
            home_exists: Some(true),
            home_parent_exists: Some(true),
            ..State::default()
        }
    }

    #[test]
    fn dates_are_utc_days() {
        assert_eq!(date_of_days(0), "1970-01-01");
        assert_eq!(date_of_days(expire_days(1_735_689_600.0)), "2025-01-01");
        assert_eq!(date_of_days(expire_days(951_782_400.0)), "2000-02-29");
        assert_eq!(expire_days(-1.0), -1);
    }

    #[test]
    fn a_service_account_is_created_as_ansible_does() {
        let d = desired(json!({
            "name": "svc", "system": true, "group": "svc", "shell": "/usr/sbin/nologin",
            "home": "/srv/svc/home", "comment": "the service", "groups": "adm, users",
        }));
        let st = State {
            group: Some(group("svc", 990)),
            groups: vec![Some(group("adm", 4)), Some(group("users", 100))],
            home_parent_exists: Some(false),
            ..State::default()
        };
        let dec = decide(&d, &st, false).unwrap();
        let (tool, args) = dec.command.clone().unwrap();
        assert_eq!(tool, "useradd");
        assert_eq!(args.join(" "), "-g svc -G adm,users -c 'the service' -d /srv/svc/home -s /usr/sbin/nologin -m -r");
        assert!(dec.make_home_parent);
        // Without `group`, a group named after the user means -N.
        let d = desired(json!({"name": "bob", "create_home": false}));
        let st = State { name_group_exists: true, ..State::default() };
        assert_eq!(decide(&d, &st, false).unwrap().command.unwrap().1, ["-N", "-M"]);
        // A missing group fails even in check mode.
        let d = desired(json!({"name": "bob", "groups": ["nope"]}));
        let st = State { groups: vec![None], ..State::default() };
        assert_eq!(decide(&d, &st, false).unwrap_err().to_string(), "Group nope does not exist");
        assert!(decide(&d, &st, true).unwrap().changed());
    }

    #[test]
    fn groups_with_and_without_append() {
        let st = State { groups: vec![Some(group("docker", 999))], ..existing() };
        let d = desired(json!({"name": "alice", "groups": ["docker"], "append": true}));
        let dec = decide(&d, &st, false).unwrap();
        assert_eq!(dec.command.unwrap().1, ["-a", "-G", "docker"]);
        assert!(dec.after.contains(&("groups", "adm,docker".into())), "{:?}", dec.after);
        let d = desired(json!({"name": "alice", "groups": ["docker"]}));
        assert_eq!(decide(&d, &st, false).unwrap().command.unwrap().1, ["-G", "docker"]);
        // Already a member: append has nothing to do; replace removes adm.
        let st = State { member_of: vec![group("adm", 4), group("docker", 999)], ..st };
        let d = desired(json!({"name": "alice", "groups": ["docker"], "append": true}));
        assert!(!decide(&d, &st, false).unwrap().changed());
        // groups: [] removes every supplementary group unless appending.
        let d = desired(json!({"name": "alice", "groups": []}));
        assert_eq!(decide(&d, &st, false).unwrap().command.unwrap().1, ["-G", "''"]);
        let d = desired(json!({"name": "alice", "groups": [], "append": true}));
        assert!(!decide(&d, &st, false).unwrap().changed());
    }

    #[test]
    fn password_lock_and_update_password() {
        let st = existing();
        let d = desired(json!({"name": "alice", "password": HASH}));
        assert!(!decide(&d, &st, false).unwrap().changed());
        let d = desired(json!({"name": "alice", "password": "$6$other$x"}));
        let dec = decide(&d, &st, false).unwrap();
        assert_eq!(dec.password.as_deref(), Some("$6$other$x"));
        assert!(dec.command.is_none());
        let shown = format!("{:?}{:?}", dec.before, dec.after);
        assert!(!shown.contains("other") && shown.contains("(hidden) (changed)"), "{shown}");
        let d = desired(json!({"name": "alice", "password": "$6$other$x", "update_password": "on_create"}));
        assert!(!decide(&d, &st, false).unwrap().changed());
        // Lock alone is -L; with a new hash it is the hash's `!`.
        let d = desired(json!({"name": "alice", "password_lock": true}));
        assert_eq!(decide(&d, &st, false).unwrap().command.unwrap().1, ["-L"]);
        let d = desired(json!({"name": "alice", "password_lock": true, "password": "$6$other$x"}));
        let dec = decide(&d, &st, false).unwrap();
        assert_eq!((dec.command, dec.password.as_deref()), (None, Some("!$6$other$x")));
        // A locked account with the same hash: converged; unlock is -U.
        let st = State { shadow: Some(Shadow { locked: true, ..st.shadow.clone().unwrap() }), ..st };
        let d = desired(json!({"name": "alice", "password_lock": true, "password": HASH}));
        assert!(!decide(&d, &st, false).unwrap().changed());
        let d = desired(json!({"name": "alice", "password_lock": false}));
        assert_eq!(decide(&d, &st, false).unwrap().command.unwrap().1, ["-U"]);
    }

    #[test]
    fn expiry_home_and_removal() {
        let st = existing();
        let d = desired(json!({"name": "alice", "expires": 1_735_689_600}));
        assert_eq!(decide(&d, &st, false).unwrap().command.unwrap().1, ["-e", "2025-01-01"]);
        let st2 = State { shadow: Some(Shadow { expire: 20089, ..st.shadow.clone().unwrap() }), ..st.clone() };
        assert!(!decide(&d, &st2, false).unwrap().changed());
        let d = desired(json!({"name": "alice", "expires": -1}));
        assert!(!decide(&d, &st, false).unwrap().changed());
        assert_eq!(decide(&d, &st2, false).unwrap().command.unwrap().1, ["-e", "''"]);
        // An existing account's missing home is created (Ansible's default).
        let st3 = State { home_exists: Some(false), ..st.clone() };
        let d = desired(json!({"name": "alice"}));
        assert_eq!(decide(&d, &st3, false).unwrap().create_home_dir.as_deref(), Some("/home/alice"));
        let d = desired(json!({"name": "alice", "create_home": false}));
        assert!(!decide(&d, &st3, false).unwrap().changed());
        let d = desired(json!({"name": "alice", "home": "/srv/alice", "move_home": true}));
        assert_eq!(decide(&d, &st, false).unwrap().command.unwrap().1, ["-d", "/srv/alice", "-m"]);
        let d = desired(json!({"name": "alice", "state": "absent", "remove": true, "force": true}));
        assert_eq!(decide(&d, &st, false).unwrap().command.unwrap(), ("userdel", vec!["-f".into(), "-r".into()]));
        assert!(!decide(&d, &State::default(), false).unwrap().changed());
    }

    #[test]
    fn local_and_refused_arguments() {
        let e = Desired::from_args(&Args::new(&SPEC, json!({"name": "x", "local": true}).as_object().unwrap().clone()));
        assert!(e.unwrap_err().to_string().contains("luseradd"));
        assert!(SPEC.refused.iter().any(|(n, _)| *n == "generate_ssh_key"));
    }

    #[test]
    fn real_probe_reads_root_without_sending_its_hash() {
        let mut a = UserAction {
            desired: desired(json!({"name": "root", "groups": ["root"]})),
            check_mode: false,
            creating: false,
        };
        let out = run(&a.probe().unwrap(), b"");
        assert_eq!(out.status, 0, "{}", out.stderr_text());
        let text = out.stdout_text();
        let st = parse_state(&text, &a.desired).unwrap();
        assert_eq!(st.passwd.as_ref().unwrap().uid, 0);
        assert_eq!(st.groups[0].as_ref().unwrap().gid, 0);
        assert_eq!(st.home_exists, Some(true));
        if let Ok(shadow) = std::fs::read_to_string("/etc/shadow") {
            let hash = shadow.lines().find_map(|l| l.strip_prefix("root:")).unwrap().split(':').next().unwrap();
            if hash.len() > 3 {
                assert!(!text.contains(hash), "the probe printed root's hash");
            }
        }
        let plan = a.compare(Some(&out)).unwrap();
        assert_eq!(plan.result["uid"], 0);
        // A hostile name is one word and matches nothing.
        let a = UserAction {
            desired: desired(json!({"name": "x' $(touch pwned) `y`"})),
            check_mode: false,
            creating: false,
        };
        let out = run(&a.probe().unwrap(), b"");
        assert_eq!(parse_state(&out.stdout_text(), &a.desired).unwrap().passwd, None);
        assert!(!std::path::Path::new("pwned").exists());
    }

    #[test]
    fn the_apply_script_carries_no_hash() {
        let a = UserAction {
            desired: desired(json!({"name": "alice", "password": "$6$secret$x", "shell": "/bin/sh"})),
            check_mode: false,
            creating: false,
        };
        let dec = decide(&a.desired, &existing(), false).unwrap();
        let apply = a.apply_script(&dec);
        assert!(!apply.script.contains("secret"), "{}", apply.script);
        assert_eq!(apply.stdin, b"alice:$6$secret$x\n");
        assert!(apply.script.contains("usermod -s /bin/sh -- alice"), "{}", apply.script);
    }
}
