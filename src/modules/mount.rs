//! `mount`: fstab entries and mounted filesystems, as `ansible.posix.mount`
//! on Linux, rule for rule.
//!
//! One probe reads the fstab file and, from `/proc/self/mountinfo`, whether
//! (and from what) the path is mounted. The pure part ([`set_entry`],
//! [`unset_entry`], [`decide`]) follows Ansible: an entry is matched by its
//! mount point (escaped as fstab escapes it: `\040` for a space), only the
//! differing fields are rewritten, `boot: false` adds `noauto`; `mounted`
//! mounts or, when the entry changed, remounts; `absent` also unmounts and
//! removes the mount point; `remounted` always remounts.
//!
//! fstab is replaced atomically, and only if it is still what the probe
//! read. A failed mount puts the old fstab back. This module never builds a
//! shell string by hand: every value goes through
//! [`crate::transport::quote::quote`].

use super::file_state::{self, content_diff, sha256_hex, AttrChanges, FileState, Probe};
use super::file_write::WriteFile;
use super::{
    Action, ApplyScript, ArgKind, ArgSpec, Args, Diff, Module, ModuleError, ModuleSpec, Plan, ResultMap, TaskContext,
};
use crate::transport::quote::quote;
use crate::transport::ExecOutput;

/// The `mount` module.
pub struct Mount;

const STATES: &[&str] = &["absent", "absent_from_fstab", "mounted", "present", "unmounted", "remounted", "ephemeral"];

/// First line of the probe's mount section.
const MARKER: &str = "stead-mount";

static SPEC: ModuleSpec = ModuleSpec::new(&[
    ArgSpec::new("path", ArgKind::Str).required().aliases(&["name"]),
    ArgSpec::new("state", ArgKind::Str).required().choices(STATES),
    ArgSpec::new("src", ArgKind::Str),
    ArgSpec::new("fstype", ArgKind::Str),
    ArgSpec::new("opts", ArgKind::Str),
    ArgSpec::new("opts_no_log", ArgKind::Bool),
    ArgSpec::new("dump", ArgKind::Str),
    ArgSpec::new("passno", ArgKind::Str),
    ArgSpec::new("fstab", ArgKind::Str),
    ArgSpec::new("boot", ArgKind::Bool),
    ArgSpec::new("backup", ArgKind::Bool),
]);

/// What a task wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Not in fstab, not mounted, mount point removed.
    Absent,
    /// Not in fstab (mounts untouched).
    AbsentFromFstab,
    /// In fstab and mounted.
    Mounted,
    /// In fstab.
    Present,
    /// Not mounted (fstab untouched).
    Unmounted,
    /// Remounted, every run.
    Remounted,
    /// Mounted, fstab untouched.
    Ephemeral,
}

impl State {
    fn parse(s: &str) -> State {
        match s {
            "absent" => State::Absent,
            "absent_from_fstab" => State::AbsentFromFstab,
            "mounted" => State::Mounted,
            "present" => State::Present,
            "unmounted" => State::Unmounted,
            "remounted" => State::Remounted,
            _ => State::Ephemeral,
        }
    }
}

/// One fstab entry as the task wants it (unescaped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Device, UUID=…, or a directory.
    pub src: String,
    /// The mount point.
    pub path: String,
    /// Filesystem type.
    pub fstype: String,
    /// Options, comma-separated.
    pub opts: String,
    /// The dump field.
    pub dump: String,
    /// The fsck pass.
    pub passno: String,
}

/// fstab's escapes for a field (Ansible's `_escape_fstab`).
pub fn escape(field: &str) -> String {
    field.replace('\\', "\\134").replace(' ', "\\040").replace('&', "\\046")
}

impl Entry {
    fn escaped(&self) -> [String; 6] {
        [&self.src, &self.path, &self.fstype, &self.opts, &self.dump, &self.passno].map(|f| escape(f))
    }

    fn line(&self) -> String {
        self.escaped().join(" ") + "\n"
    }
}

fn lines_of(content: &str) -> Vec<String> {
    content.split_inclusive('\n').map(str::to_owned).collect()
}

fn is_skipped(line: &str) -> bool {
    line.trim().is_empty() || line.trim().starts_with('#')
}

/// A swap entry of another device does not match (several swaps share the
/// mount point `none`).
fn other_swap(fields: &[&str], src: Option<&str>) -> bool {
    fields.get(1) == Some(&"none") && fields.get(2) == Some(&"swap") && src.is_some_and(|s| fields[0] != s)
}

/// Ansible's `set_mount`: the new fstab text and whether it changed.
pub fn set_entry(content: &str, entry: &Entry, src_given: bool) -> (String, bool) {
    let want = entry.escaped();
    let mut out = String::new();
    let mut exists = false;
    let mut changed = false;
    for mut line in lines_of(content) {
        if !line.ends_with('\n') {
            line.push('\n');
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        if is_skipped(&line) || !(4..=6).contains(&fields.len()) {
            out.push_str(&line);
            continue;
        }
        if fields[1] != want[1] || other_swap(&fields, src_given.then_some(want[0].as_str())) {
            out.push_str(&line);
            continue;
        }
        exists = true;
        let mut current: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
        current.resize(6, "0".into());
        let mut differs = false;
        for i in [0, 2, 3, 4, 5] {
            if current[i] != want[i] {
                current[i] = want[i].clone();
                differs = true;
            }
        }
        if differs {
            changed = true;
            out.push_str(&(current.join(" ") + "\n"));
        } else {
            out.push_str(&line);
        }
    }
    if !exists {
        out.push_str(&entry.line());
        changed = true;
    }
    (out, changed)
}

/// Ansible's `unset_mount`: removes the six-field entries of `path`.
pub fn unset_entry(content: &str, path: &str, src: Option<&str>) -> (String, bool) {
    let name = escape(path);
    let mut out = String::new();
    let mut changed = false;
    for line in lines_of(content) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if is_skipped(&line) || fields.len() != 6 || fields[1] != name || other_swap(&fields, src) {
            out.push_str(&line);
            continue;
        }
        changed = true;
    }
    (out, changed)
}

/// What the host looks like, from the probe.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    /// The source of what is mounted at the path, if anything is.
    pub mounted_from: Option<String>,
    /// Whether the path exists.
    pub path_exists: bool,
}

/// The steps a task takes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Steps {
    /// The new fstab text, when it changes.
    pub fstab: Option<String>,
    /// Create the mount point.
    pub mkdir: bool,
    /// `mount` the path (per fstab, or ephemeral).
    pub mount: bool,
    /// Remount it.
    pub remount: bool,
    /// Unmount it.
    pub umount: bool,
    /// Remove the mount point.
    pub rmdir: bool,
    /// Whether the task reports a change.
    pub changed: bool,
}

/// Ansible's `main`: from the desired state and what is there to the steps.
pub fn decide(state: State, fstab: &str, entry: &Entry, src_given: bool, seen: &Observed) -> Result<Steps, String> {
    let mounted = seen.mounted_from.is_some();
    let mut s = Steps::default();
    match state {
        State::AbsentFromFstab | State::Absent => {
            let (text, changed) = unset_entry(fstab, &entry.path, src_given.then_some(entry.src.as_str()));
            s.changed = changed;
            if changed {
                s.fstab = Some(text);
                if state == State::Absent {
                    s.umount = mounted;
                    s.rmdir = seen.path_exists;
                }
            }
        }
        State::Unmounted => (s.umount, s.changed) = (mounted, mounted),
        State::Present => {
            let (text, changed) = set_entry(fstab, entry, src_given);
            s.changed = changed;
            s.fstab = changed.then_some(text);
        }
        State::Mounted => {
            let (text, changed) = set_entry(fstab, entry, src_given);
            s.mkdir = !seen.path_exists;
            s.fstab = changed.then_some(text);
            if mounted {
                s.remount = changed;
                s.changed = changed;
            } else {
                s.mount = true;
                s.changed = true;
            }
        }
        State::Ephemeral => {
            s.mkdir = !seen.path_exists;
            match &seen.mounted_from {
                None => (s.mount, s.changed) = (true, true),
                Some(from) if *from == entry.src => (s.remount, s.changed) = (true, true),
                Some(_) => {
                    return Err("Ephemeral mount point is already mounted with a different source than the \
                                specified one. Failing in order to prevent an unwanted unmount or override \
                                operation. Try replacing this command with a \"state: unmounted\" followed by \
                                a \"state: ephemeral\", or use a different destination path."
                        .into())
                }
            }
        }
        State::Remounted => (s.remount, s.changed) = (true, true),
    }
    Ok(s)
}

/// One `mount` task on one host.
#[derive(Debug)]
pub struct MountAction {
    state: State,
    entry: Entry,
    src_given: bool,
    fstab: String,
    boot: bool,
    backup: bool,
    hide_opts: bool,
}

impl Module for Mount {
    fn name(&self) -> &'static str {
        "mount"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: &Args, _ctx: &dyn TaskContext) -> Result<Box<dyn Action>, ModuleError> {
        let state = State::parse(&args.choice_or("state", STATES, "mounted")?);
        let src = args.opt_str("src")?;
        let fstype = args.opt_str("fstype")?;
        if matches!(state, State::Mounted | State::Present | State::Ephemeral) && (src.is_none() || fstype.is_none()) {
            let missing: Vec<&str> = [("src", src.is_none()), ("fstype", fstype.is_none())]
                .iter()
                .filter(|(_, m)| *m)
                .map(|(n, _)| *n)
                .collect();
            return Err(ModuleError::failed(format!(
                "state is {} but all of the following are missing: {}",
                args.str("state")?,
                missing.join(", ")
            )));
        }
        let boot = args.bool_or("boot", true)?;
        let mut opts = args.opt_str("opts")?.unwrap_or_else(|| "defaults".into());
        if !boot && !opts.split(',').any(|o| o == "noauto") {
            opts.push_str(",noauto");
        }
        let entry = Entry {
            src: src.clone().unwrap_or_default(),
            path: args.str("path")?,
            fstype: fstype.unwrap_or_default(),
            opts,
            dump: args.opt_str("dump")?.unwrap_or_else(|| "0".into()),
            passno: args.opt_str("passno")?.unwrap_or_else(|| "0".into()),
        };
        Ok(Box::new(MountAction {
            state,
            entry,
            src_given: src.is_some(),
            fstab: args.opt_str("fstab")?.unwrap_or_else(|| "/etc/fstab".into()),
            boot,
            backup: args.bool_or("backup", false)?,
            hide_opts: args.bool_or("opts_no_log", false)?,
        }))
    }
}

/// Parses the mount section at the start of the probe's output.
fn parse_mount_section(stdout: &[u8]) -> Result<(Observed, &[u8]), ModuleError> {
    let bad = || ModuleError::Probe("bad mount section".into());
    let mut seen = Observed::default();
    let mut rest = stdout;
    loop {
        let end = rest.iter().position(|&b| b == b'\n').ok_or_else(bad)?;
        let line = String::from_utf8_lossy(&rest[..end]).into_owned();
        rest = &rest[end + 1..];
        match line.split_once(' ') {
            Some((MARKER, "exists")) => seen.path_exists = true,
            Some((MARKER, "end")) => return Ok((seen, rest)),
            Some((MARKER, info)) => {
                // A mountinfo line: fields after " - " are fstype, source.
                if let Some((_, after)) = info.split_once(" - ") {
                    let src = after.split(' ').nth(1).unwrap_or("");
                    seen.mounted_from = Some(unescape(src));
                }
            }
            _ => return Err(bad()),
        }
    }
}

/// mountinfo's octal escapes (`\040`) back to characters.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 3 < bytes.len() && bytes[i + 1..i + 4].iter().all(|b| (b'0'..=b'7').contains(b)) {
            let v = bytes[i + 1..i + 4].iter().fold(0u32, |acc, b| acc * 8 + u32::from(b - b'0'));
            out.push(u8::try_from(v).unwrap_or(b'?'));
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl MountAction {
    fn mount_command(&self, remount: bool) -> String {
        let mut cmd = String::from("mount");
        if remount {
            cmd.push_str(" -o ");
            if self.state == State::Remounted && self.entry.opts != "defaults" {
                cmd.push_str(&quote(&format!("remount,{}", self.entry.opts)));
            } else {
                cmd.push_str("remount");
            }
        }
        if self.state == State::Ephemeral {
            cmd.push_str(&format!(" -t {}", quote(&self.entry.fstype)));
            if self.entry.opts != "defaults" {
                cmd.push_str(&format!(" -o {}", quote(&self.entry.opts)));
            }
            cmd.push_str(&format!(" -- {}", quote(&self.entry.src)));
        } else if self.fstab != "/etc/fstab" {
            cmd.push_str(&format!(" -T {}", quote(&self.fstab)));
        }
        if self.state != State::Ephemeral {
            cmd.push_str(" --");
        }
        cmd.push_str(&format!(" {}", quote(&self.entry.path)));
        cmd
    }

    fn apply_script(&self, steps: &Steps, write: Option<ApplyScript>, had_fstab: bool) -> ApplyScript {
        let mut s = format!(
            "LC_ALL=C\nexport LC_ALL\nfail() {{ printf '%s\\n' \"$*\" >&2; exit 1; }}\nP={}\nF={}\n",
            quote(&self.entry.path),
            quote(&self.fstab)
        );
        let mut stdin = Vec::new();
        if steps.mkdir {
            s.push_str("mkdir -p -- \"$P\" || fail \"Error making dir $P\"\n");
        }
        // A failed mount puts the old fstab back, as Ansible does.
        let keep_old = steps.fstab.is_some() && self.state == State::Mounted;
        let restore = match (keep_old, had_fstab) {
            (false, _) => "",
            (true, true) => "mv -f -- \"$old\" \"$F\"\n",
            (true, false) => "rm -f -- \"$F\"\n",
        };
        if keep_old && had_fstab {
            s.push_str(
                "old=$(mktemp -- \"$F.stead-old.XXXXXXXX\") || fail \"cannot save $F\"\n\
                 cp -p -- \"$F\" \"$old\" || fail \"cannot save $F\"\n",
            );
        }
        if let Some(w) = write {
            s.push_str(&format!("(\n{}\n) >/dev/null || {{ {}exit 1; }}\n", w.script, restore.replace('\n', "; ")));
            stdin = w.stdin;
        }
        if steps.umount {
            s.push_str("out=$(umount -- \"$P\" 2>&1) || fail \"Error unmounting $P: $out\"\n");
        }
        if steps.rmdir {
            s.push_str("[ ! -e \"$P\" ] || rmdir -- \"$P\" || fail \"Error rmdir $P\"\n");
        }
        if steps.mount {
            s.push_str(&format!(
                "if ! out=$({} 2>&1); then\n{restore}fail \"Error mounting $P: $out\"\nfi\n",
                self.mount_command(false)
            ));
        }
        if steps.remount {
            let fallback = if self.state == State::Remounted && self.entry.opts != "defaults" {
                "fail 'Options were specified with remounted, but the remount command failed. Failing in order \
                 to prevent an unexpected mount result. Try replacing this command with a \"state: unmounted\" \
                 followed by a \"state: mounted\" using the full desired mount options instead.'"
                    .to_owned()
            } else {
                format!(
                    "out=$(umount -- \"$P\" 2>&1 && {} 2>&1) || {{\n{restore}fail \"Error mounting $P: $out\"\n}}",
                    self.mount_command(false)
                )
            };
            s.push_str(&format!("if ! {} >/dev/null 2>&1; then\n{fallback}\nfi\n", self.mount_command(true)));
        }
        if keep_old && had_fstab {
            s.push_str("rm -f -- \"$old\"\n");
        }
        ApplyScript { script: s, stdin }
    }

    fn result(&self, changed: bool) -> ResultMap {
        let mut r = ResultMap::new();
        r.insert("changed".into(), changed.into());
        r.insert("name".into(), self.entry.path.clone().into());
        if self.src_given {
            r.insert("src".into(), self.entry.src.clone().into());
        }
        if !self.entry.fstype.is_empty() {
            r.insert("fstype".into(), self.entry.fstype.clone().into());
        }
        let opts = if self.hide_opts { "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER".into() } else { self.entry.opts.clone() };
        r.insert("opts".into(), opts.into());
        r.insert("dump".into(), self.entry.dump.clone().into());
        r.insert("passno".into(), self.entry.passno.clone().into());
        r.insert("fstab".into(), self.fstab.clone().into());
        r.insert("boot".into(), if self.boot { "yes" } else { "no" }.into());
        r.insert("backup_file".into(), "".into());
        r
    }
}

impl Action for MountAction {
    fn paths(&self) -> Option<Vec<String>> {
        Some(vec![self.fstab.clone(), self.entry.path.clone()])
    }

    fn probe(&self) -> Option<String> {
        let mut s = format!(
            "P={}\nexport P\nif [ -e \"$P\" ]; then printf '{MARKER} exists\\n'; fi\n\
             if [ -r /proc/self/mountinfo ]; then\n  \
             M=$(printf '%s' \"$P\" | sed 's/\\\\/\\\\134/g; s/ /\\\\040/g; s/\t/\\\\011/g')\n  \
             M=$M awk '$5 == ENVIRON[\"M\"] {{ print \"{MARKER} \" $0 }}' /proc/self/mountinfo | tail -n 1\n\
             fi\nprintf '{MARKER} end\\n'\n",
            quote(&self.entry.path)
        );
        s.push_str(&Probe::new(&self.fstab).script());
        Some(s)
    }

    fn compare(&mut self, probe: Option<&ExecOutput>) -> Result<Plan, ModuleError> {
        let out = probe.ok_or_else(|| ModuleError::Probe("the mount probe did not run".into()))?;
        if out.status != 0 {
            return Err(ModuleError::failed(format!("cannot read {}: {}", self.fstab, out.stderr_text().trim())));
        }
        let (seen, rest) = parse_mount_section(&out.stdout)?;
        let st: FileState = file_state::parse(rest)?;
        let old = if st.exists {
            st.content.clone().ok_or_else(|| ModuleError::failed(format!("cannot read {}", self.fstab)))?
        } else {
            Vec::new()
        };
        let text = String::from_utf8_lossy(&old).into_owned();
        let steps = decide(self.state, &text, &self.entry, self.src_given, &seen).map_err(ModuleError::failed)?;

        let mut diff = None;
        let write = steps.fstab.as_ref().map(|new| {
            diff = Some(if self.hide_opts {
                Diff::state(&self.fstab, &[("entry", "(hidden: opts_no_log)".into())], &[("entry", "(changed)".into())])
            } else {
                content_diff(&self.fstab, &st, new.as_bytes(), &sha256_hex(new.as_bytes()), &AttrChanges::default())
            });
            WriteFile { backup: self.backup, make_parents: true, ..WriteFile::edit(&self.fstab, new.as_bytes(), &st) }
                .apply()
        });
        if diff.is_none() && (steps.mount || steps.umount || steps.remount) {
            let now = if seen.mounted_from.is_some() { "yes" } else { "no" };
            let after = if steps.umount {
                "no"
            } else if steps.remount {
                "yes (remounted)"
            } else {
                "yes"
            };
            diff = Some(Diff::state(&self.entry.path, &[("mounted", now.into())], &[("mounted", after.into())]));
        }
        let mut plan =
            if steps.changed { Plan::change(self.apply_script(&steps, write, st.exists)) } else { Plan::ok() };
        plan.diff = diff;
        plan.result = self.result(steps.changed);
        Ok(plan)
    }

    fn finish(&mut self, plan: Plan, out: &ExecOutput) -> Result<Plan, ModuleError> {
        super::finish_with_stderr(plan, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, opts: &str) -> Entry {
        Entry {
            src: "tmpfs".into(),
            path: path.into(),
            fstype: "tmpfs".into(),
            opts: opts.into(),
            dump: "0".into(),
            passno: "0".into(),
        }
    }

    #[test]
    fn set_entry_appends_rewrites_and_keeps_the_rest() {
        let fstab = "# comment\nUUID=1 / ext4 defaults 0 1\n";
        let (text, changed) = set_entry(fstab, &entry("/srv/my data", "nodev"), true);
        assert!(changed);
        assert_eq!(text, "# comment\nUUID=1 / ext4 defaults 0 1\ntmpfs /srv/my\\040data tmpfs nodev 0 0\n");
        assert_eq!(set_entry(&text, &entry("/srv/my data", "nodev"), true), (text.clone(), false));
        let (again, changed) = set_entry(&text, &entry("/srv/my data", "nodev,noexec"), true);
        assert!(changed);
        assert!(again.ends_with("tmpfs /srv/my\\040data tmpfs nodev,noexec 0 0\n"), "{again}");
        // A four-field line counts, its missing fields as 0.
        let (_, changed) = set_entry("tmpfs /t tmpfs defaults\n", &entry("/t", "defaults"), true);
        assert!(!changed);
    }

    #[test]
    fn unset_entry_removes_only_six_field_lines_of_the_path() {
        let fstab = "tmpfs /t tmpfs defaults 0 0\ntmpfs /u tmpfs defaults 0 0\n/dev/sdb none swap sw 0 0\n";
        assert_eq!(
            unset_entry(fstab, "/t", None),
            ("tmpfs /u tmpfs defaults 0 0\n/dev/sdb none swap sw 0 0\n".into(), true)
        );
        assert!(!unset_entry(fstab, "/nope", None).1);
        // Swaps are told apart by their device.
        assert!(!unset_entry(fstab, "none", Some("/dev/sdc")).1);
    }

    #[test]
    fn decisions_follow_ansible() {
        let e = entry("/t", "defaults");
        let not_mounted = Observed { mounted_from: None, path_exists: false };
        let s = decide(State::Mounted, "", &e, true, &not_mounted).unwrap();
        assert!(s.changed && s.mkdir && s.mount && s.fstab.is_some() && !s.remount);
        let mounted = Observed { mounted_from: Some("tmpfs".into()), path_exists: true };
        let fstab = e.line();
        let s = decide(State::Mounted, &fstab, &e, true, &mounted).unwrap();
        assert_eq!(s, Steps::default());
        let s = decide(State::Mounted, &fstab, &entry("/t", "noexec"), true, &mounted).unwrap();
        assert!(s.changed && s.remount && !s.mount);
        let s = decide(State::Absent, &fstab, &e, false, &mounted).unwrap();
        assert!(s.changed && s.umount && s.rmdir && s.fstab == Some(String::new()));
        assert_eq!(decide(State::Unmounted, "", &e, false, &not_mounted).unwrap(), Steps::default());
        assert!(decide(State::Remounted, "", &e, false, &mounted).unwrap().changed);
        let other = Observed { mounted_from: Some("/dev/sda".into()), path_exists: true };
        assert!(decide(State::Ephemeral, "", &e, true, &other).is_err());
    }

    #[test]
    fn mountinfo_escapes_are_undone() {
        assert_eq!(unescape("/srv/my\\040data"), "/srv/my data");
        assert_eq!(escape("a b&c\\"), "a\\040b\\046c\\134");
    }

    #[test]
    fn the_probe_finds_a_mount_point_in_mountinfo() {
        let a = MountAction {
            state: State::Mounted,
            entry: entry("/proc", "defaults"),
            src_given: true,
            fstab: "/nonexistent/fstab".into(),
            boot: true,
            backup: false,
            hide_opts: false,
        };
        let out = crate::modules::file_write::testing::run(&a.probe().unwrap(), b"");
        assert_eq!(out.status, 0, "{}", out.stderr_text());
        let (seen, _) = parse_mount_section(&out.stdout).unwrap();
        assert!(seen.path_exists);
        assert_eq!(seen.mounted_from.as_deref(), Some("proc"), "{}", String::from_utf8_lossy(&out.stdout));
    }
}
