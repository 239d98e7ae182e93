//! Apply scripts shared by the file modules: atomic writes, attributes,
//! backups, and reading what an apply script reports back.
//!
//! A write never puts file content on a command line: the script reads it
//! from its stdin into a temporary file created with `mktemp` in the
//! destination's own directory, gives that file its mode, owner and group,
//! optionally validates it, keeps a backup of the old file
//! (`dest.PID.YYYY-MM-DD@HH:MM:SS~`, as Ansible names it), and renames it
//! over the destination. A `trap` removes the temporary file on any failure.
//!
//! A lost connection must never leave part of a file in place of the real
//! one: when the controller, its ssh session or the master dies mid-transfer,
//! the remote `cat` simply sees end of input. So before the rename the script
//! checks that the temporary file has exactly the length and SHA-256 the
//! controller sent; anything else aborts, the trap removes the temporary file
//! and the destination keeps its old content. The content and its checksum
//! are one value ([`WriteFile::content`]), so no caller can skip the check.
//! Every script ends by printing the final state in the probe format of
//! [`super::file_state`], so results report the real mode and owner.
//!
//! This module never builds a shell string from a value by hand: every value
//! goes through [`quote`].

use serde_json::Value;

use crate::transport::quote::quote;
use crate::transport::ExecOutput;

use super::file_state::{self, mode_string, AttrChanges, Attrs, FileKind, FileState, Probe};
use super::{ModuleError, Plan, ResultMap};

/// What the destination must still look like when the write happens
/// (edits computed from the probed content must not clobber a newer file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// The file did not exist.
    Absent,
    /// The file had this SHA-256.
    Sha256(String),
}

impl Expect {
    /// The destination must still be what the probe saw: the same content,
    /// or still absent.
    pub fn unchanged(current: &FileState) -> Expect {
        match (&current.sha256, current.exists) {
            (Some(sum), true) => Expect::Sha256(sum.clone()),
            _ => Expect::Absent,
        }
    }
}

/// An atomic replacement of a file's content.
#[derive(Debug, Clone)]
pub struct WriteFile<'a> {
    /// The path to write.
    pub dest: &'a str,
    /// The new content; it travels on the script's stdin and is verified
    /// (length and SHA-256) on the host before it replaces `dest`.
    pub content: &'a [u8],
    /// Write through a symlink to its target instead of replacing the link.
    pub follow: bool,
    /// Requested attributes.
    pub attrs: &'a Attrs,
    /// The probed state of `dest` (to keep an existing file's mode and owner).
    pub current: &'a FileState,
    /// Keep the previous version.
    pub backup: bool,
    /// Create missing parent directories.
    pub make_parents: bool,
    /// A command that must accept the new file (`%s` is its path).
    pub validate: Option<&'a str>,
    /// Refuse to write when the file changed since it was probed.
    pub expect: Option<Expect>,
}

/// Opening lines of every apply script: strict mode, byte semantics, `die`,
/// and `d` set to the destination (resolved through a symlink with `follow`).
pub(crate) fn prelude(dest: &str, follow: bool) -> String {
    let mut s = String::from(file_state::PRELUDE);
    s.push_str("die() { printf '%s\\n' \"$*\" >&2; exit 1; }\n");
    s.push_str(&format!("d={}\n", quote(dest)));
    if follow {
        s.push_str(
            "if [ -L \"$d\" ]; then\n  t=$(readlink -f -- \"$d\"; echo .); t=${t%?.}\n  \
             [ -n \"$t\" ] || die \"cannot resolve the symlink $d\"\n  d=$t\nfi\n",
        );
    }
    s
}

/// Closing lines: report the final state of `$d` (of its target with `follow`).
pub(crate) fn report_final_state(follow: bool) -> String {
    let mut s = String::from("p=$d\nprintf 'stead-file-state 1\\n'\n");
    s.push_str(&Probe::new("").follow(follow).sha256(false).content_limit(None).body());
    s
}

/// No attributes requested: an existing file keeps its mode and owner.
pub const KEEP_ATTRS: Attrs = Attrs { mode: None, mode_text: None, owner: None, group: None };

impl<'a> WriteFile<'a> {
    /// The plain edit of a file a probe read: through a symlink, keeping
    /// its attributes, no backup, parents required, and refused when the
    /// file changed since `current` was read. Adjust fields with `..`.
    pub fn edit(dest: &'a str, content: &'a [u8], current: &'a FileState) -> WriteFile<'a> {
        WriteFile {
            dest,
            content,
            follow: true,
            attrs: &KEEP_ATTRS,
            current,
            backup: false,
            make_parents: false,
            validate: None,
            expect: Some(Expect::unchanged(current)),
        }
    }
}

impl super::ApplyScript {
    /// The script as one step of a larger script: in a subshell (its
    /// `exit` and traps stay inside), quiet, the whole script stopping
    /// when it fails. Its stdin is the larger script's.
    pub fn as_step(&self) -> String {
        format!("(\n{}\n) >/dev/null || exit 1\n", self.script)
    }
}

impl WriteFile<'_> {
    /// The apply script with the content on its stdin.
    pub fn apply(&self) -> super::ApplyScript {
        super::ApplyScript { script: self.script(), stdin: self.content.to_vec() }
    }

    /// The script alone; it expects exactly [`WriteFile::content`] on stdin.
    pub fn script(&self) -> String {
        self.script_filled("cat > \"$tmp\"\n", &received_check(self.content))
    }

    /// The script that fills the new file from `src`, a file on the host
    /// (copy's `remote_src`), instead of stdin; it is renamed over `dest`
    /// only if it is still the `len` bytes with the SHA-256 that were probed.
    pub fn script_from_host(&self, src: &str, len: u64, sha256: &str) -> String {
        let fill = format!("cat -- {} > \"$tmp\"\n", quote(src));
        let check = format!(
            "n=$(wc -c < \"$tmp\")\nh=$(sha256sum < \"$tmp\")\n\
             if [ \"$((n + 0))\" -ne {len} ] || [ \"${{h%% *}}\" != {sum} ]; then \
             die {msg}; fi\n",
            sum = quote(sha256),
            msg = quote(&format!("{src} changed since it was read; {} left unchanged, run again", self.dest)),
        );
        self.script_filled(&fill, &check)
    }

    fn script_filled(&self, fill: &str, check: &str) -> String {
        let mut s = prelude(self.dest, self.follow);
        s.push_str("dir=$(dirname -- \"$d\"; echo .); dir=${dir%?.}\n");
        if self.make_parents {
            s.push_str("mkdir -p -- \"$dir\"\n");
        }
        s.push_str("[ -d \"$dir\" ] || die \"Destination directory $dir does not exist\"\n");
        match &self.expect {
            None => {}
            Some(Expect::Absent) => {
                s.push_str("if [ -e \"$d\" ]; then die \"$d appeared since it was read; run again\"; fi\n")
            }
            Some(Expect::Sha256(sum)) => s.push_str(&format!(
                "h=$(sha256sum < \"$d\")\n[ \"${{h%% *}}\" = {} ] || \
                 die \"$d changed since it was read; run again\"\n",
                quote(sum)
            )),
        }
        s.push_str(
            "tmp=$(mktemp -- \"$dir/.stead.XXXXXXXX\") || \
             die \"cannot create a temporary file in $dir\"\n\
             trap 'rm -f -- \"$tmp\"' EXIT\ntrap 'exit 1' HUP INT TERM\n",
        );
        s.push_str(fill);
        s.push_str(check);
        // An existing file (seen through its link when following) keeps its
        // mode and owner unless the task sets them; a new one gets the
        // default mode a plain `open` would give it, not mktemp's 0600.
        let keeps =
            self.current.exists && self.current.kind == FileKind::File && (self.follow || !self.current.is_link());
        let current_mode = keeps.then_some(self.current.mode);
        match self.attrs.target_mode(current_mode, false).or(current_mode) {
            Some(m) => s.push_str(&format!("chmod 0{m:04o} -- \"$tmp\"\n")),
            None => s.push_str("chmod \"$(printf '%o' $((0666 & ~$(umask))))\" -- \"$tmp\"\n"),
        }
        if keeps && (self.attrs.owner.is_none() || self.attrs.group.is_none()) {
            let ids = format!("{}:{}", self.current.uid, self.current.gid);
            s.push_str(&format!("chown -- {} \"$tmp\" 2>/dev/null || :\n", quote(&ids)));
        }
        if let Some(o) = &self.attrs.owner {
            s.push_str(&format!("chown -- {} \"$tmp\"\n", quote(o)));
        }
        if let Some(g) = &self.attrs.group {
            s.push_str(&format!("chgrp -- {} \"$tmp\"\n", quote(g)));
        }
        if let Some(v) = self.validate {
            s.push_str(&format!("if ! {} >&2; then die \"failed to validate\"; fi\n", validate_command(v)));
        }
        if self.backup {
            s.push_str(
                "b=\nif [ -f \"$d\" ]; then\n  b=\"$d.$$.$(date +%Y-%m-%d@%H:%M:%S)~\"\n  \
                 cp -p -- \"$d\" \"$b\"\nfi\n",
            );
        }
        s.push_str("mv -f -- \"$tmp\" \"$d\"\ntrap - EXIT\n");
        if self.backup {
            s.push_str("if [ -n \"$b\" ]; then printf 'backup %s\\n%s\\n' \"${#b}\" \"$b\"; fi\n");
        }
        s.push_str(&report_final_state(false));
        s
    }
}

/// Lines that abort unless `$tmp` holds exactly `content`: a transfer cut
/// short (lost connection, killed controller) ends `cat` early, and such a
/// file must never be renamed over the destination.
fn received_check(content: &[u8]) -> String {
    let len = content.len();
    let sum = file_state::sha256_hex(content);
    format!(
        "n=$(wc -c < \"$tmp\")\n[ \"$((n + 0))\" -eq {len} ] || \
         die \"received $((n + 0)) of {len} bytes (connection lost?); $d left unchanged\"\n\
         h=$(sha256sum < \"$tmp\")\n[ \"${{h%% *}}\" = {sum} ] || \
         die \"the received content does not match its checksum; $d left unchanged\"\n"
    )
}

/// A script that changes the attributes of an existing path.
///
/// `recurse` applies them to everything below a directory too; `no_deref`
/// changes a symlink's own owner rather than its target's.
pub fn attrs_script(
    dest: &str,
    follow: bool,
    attrs: &Attrs,
    changes: &AttrChanges,
    recurse: bool,
    no_deref: bool,
) -> String {
    let mut s = prelude(dest, follow);
    s.push_str(&attr_commands("\"$d\"", attrs, changes, recurse, no_deref));
    s.push_str(&report_final_state(false));
    s
}

/// `chmod`/`chown`/`chgrp` lines for `target` (a fixed shell word such as
/// `"$d"`). With `recurse`, every requested attribute is applied to the
/// whole tree; otherwise only the ones in `changes`.
pub fn attr_commands(target: &str, attrs: &Attrs, changes: &AttrChanges, recurse: bool, no_deref: bool) -> String {
    let mut s = String::new();
    if recurse {
        if let Some(text) = &attrs.mode_text {
            s.push_str(&format!("chmod -R {} -- {target}\n", quote(&chmod_symbolic(text))));
        } else if let Some(m) = attrs.target_mode(None, true) {
            s.push_str(&format!("chmod -R 0{m:04o} -- {target}\n"));
        }
        if let Some(o) = &attrs.owner {
            s.push_str(&format!("chown -R -h -- {} {target}\n", quote(o)));
        }
        if let Some(g) = &attrs.group {
            s.push_str(&format!("chgrp -R -h -- {} {target}\n", quote(g)));
        }
        return s;
    }
    let h = if no_deref { "-h " } else { "" };
    if let Some((_, m)) = changes.mode {
        s.push_str(&format!("chmod 0{m:04o} -- {target}\n"));
    }
    if let Some((_, o)) = &changes.owner {
        s.push_str(&format!("chown {h}-- {} {target}\n", quote(o)));
    }
    if let Some((_, g)) = &changes.group {
        s.push_str(&format!("chgrp {h}-- {} {target}\n", quote(g)));
    }
    s
}

/// Ansible's symbolic mode as `chmod` takes it: a clause without a "who"
/// means `a` (chmod would otherwise apply the umask).
pub fn chmod_symbolic(text: &str) -> String {
    text.trim()
        .split(',')
        .map(|clause| if clause.starts_with(['+', '-', '=']) { format!("a{clause}") } else { clause.to_owned() })
        .collect::<Vec<_>>()
        .join(",")
}

/// The `validate` command as quoted words, `%s` standing for the temporary file.
fn validate_command(template: &str) -> String {
    let words =
        shell_words::split(template).unwrap_or_else(|_| template.split_whitespace().map(str::to_owned).collect());
    words
        .iter()
        .map(|w| {
            if !w.contains("%s") {
                return quote(w).into_owned();
            }
            w.split("%s")
                .map(|piece| if piece.is_empty() { String::new() } else { quote(piece).into_owned() })
                .collect::<Vec<_>>()
                .join("\"$tmp\"")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Checks a `validate` argument as Ansible does.
pub fn check_validate(validate: Option<&str>) -> Result<(), ModuleError> {
    match validate {
        Some(v) if !v.contains("%s") => Err(ModuleError::Arg {
            arg: "validate".into(),
            message: format!("must contain %s (the file to check): `{v}`"),
        }),
        Some(v) if shell_words::split(v).is_err() => {
            Err(ModuleError::Arg { arg: "validate".into(), message: format!("unbalanced quotes in `{v}`") })
        }
        _ => Ok(()),
    }
}

/// Interprets an apply script's output: a failure carries the script's
/// stderr; a success returns the final state it reported (if it did).
pub fn finish(plan: Plan, out: &ExecOutput) -> Result<(Plan, Option<FileState>), ModuleError> {
    if out.status != 0 {
        let mut result = plan.result;
        result.insert("rc".into(), out.status.into());
        result.insert("stderr".into(), out.stderr_text().into());
        let detail = out.stderr_text();
        let detail = detail.trim();
        return Err(ModuleError::Failed {
            msg: if detail.is_empty() { format!("apply failed (exit {})", out.status) } else { detail.to_owned() },
            result,
        });
    }
    let state = file_state::parse(&out.stdout).ok();
    Ok((plan, state))
}

/// Adds a path's attributes to a result, as Ansible's file modules report them.
pub fn fill_state(result: &mut ResultMap, st: &FileState) {
    if !st.exists && !st.is_link() {
        result.insert("state".into(), "absent".into());
        return;
    }
    let kind = if st.is_link() && st.kind == FileKind::Link { "link" } else { st.kind.ansible_name() };
    result.insert("state".into(), kind.into());
    if st.exists {
        result.insert("mode".into(), mode_string(st.mode).into());
        result.insert("owner".into(), st.owner.clone().into());
        result.insert("group".into(), st.group.clone().into());
        result.insert("uid".into(), st.uid.into());
        result.insert("gid".into(), st.gid.into());
        result.insert("size".into(), st.size.into());
    }
    if let Some(b) = &st.backup_file {
        result.insert("backup_file".into(), Value::String(b.clone()));
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Runs scripts with the local `sh`, as the `local` connection would.

    use std::io::Write;
    use std::path::{Path, PathBuf};
    use std::process::{Command, Stdio};

    use crate::modules::{ModuleError, TaskContext};
    use crate::transport::ExecOutput;

    /// Runs `script` with `sh -c`, feeding `stdin`.
    pub fn run(script: &str, stdin: &[u8]) -> ExecOutput {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("sh runs");
        let mut pipe = child.stdin.take().unwrap();
        let input = stdin.to_vec();
        let writer = std::thread::spawn(move || {
            let _ = pipe.write_all(&input);
        });
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap();
        ExecOutput { status: out.status.code().unwrap_or(128), stdout: out.stdout, stderr: out.stderr }
    }

    /// A directory name full of shell syntax: spaces, quotes, `$(x)`, a newline.
    pub const HOSTILE: &str = "we ird 'q' \"dq\" $(touch pwned) `x`\nline";

    /// A task context over a temporary directory: `find_file(name, sub)` is
    /// `root/sub/name`; `render` replaces `{{ who }}` with `world`.
    #[derive(Debug)]
    pub struct FakeCtx {
        dir: tempfile::TempDir,
    }

    impl Default for FakeCtx {
        fn default() -> Self {
            FakeCtx { dir: tempfile::tempdir().unwrap() }
        }
    }

    impl FakeCtx {
        /// The temporary directory.
        pub fn root(&self) -> &Path {
            self.dir.path()
        }

        /// Creates a local file (and its directories).
        pub fn add_file(&self, rel: &str, content: &[u8]) {
            let path = self.dir.path().join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content).unwrap();
        }
    }

    impl TaskContext for FakeCtx {
        fn check_mode(&self) -> bool {
            false
        }
        fn render(&self, source: &str, _name: &str) -> Result<String, ModuleError> {
            if source.contains("{{ missing }}") {
                return Err(ModuleError::Template("undefined variable `missing`".into()));
            }
            Ok(source.replace("{{ who }}", "world"))
        }
        fn eval(&self, _expr: &str) -> Result<serde_json::Value, ModuleError> {
            Ok(serde_json::Value::Null)
        }
        fn find_file(&self, name: &str, subdir: &str) -> Result<PathBuf, ModuleError> {
            let path = self.dir.path().join(subdir).join(name);
            if path.exists() {
                Ok(path)
            } else {
                Err(ModuleError::LocalFile { path, message: "not found".into() })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{run, HOSTILE};
    use super::*;
    use crate::modules::mode::Mode;

    /// A write of `content` to `dest` with nothing else asked.
    fn plain<'a>(dest: &'a str, content: &'a [u8], attrs: &'a Attrs, current: &'a FileState) -> WriteFile<'a> {
        WriteFile {
            dest,
            content,
            follow: false,
            attrs,
            current,
            backup: false,
            make_parents: false,
            validate: None,
            expect: None,
        }
    }

    #[test]
    fn symbolic_modes_get_an_explicit_who() {
        assert_eq!(chmod_symbolic("+x,u=rw"), "a+x,u=rw");
    }

    #[test]
    fn validate_quotes_words_and_substitutes_the_temp_file() {
        assert_eq!(validate_command("visudo -cf %s"), "visudo -cf \"$tmp\"".to_owned());
        assert_eq!(validate_command("sh -c 'test -s %s' x"), "sh -c 'test -s '\"$tmp\" x".to_owned());
        assert!(check_validate(Some("true")).is_err());
        assert!(check_validate(Some("visudo -cf %s")).is_ok());
    }

    #[test]
    fn atomic_write_into_a_hostile_path_with_backup() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join(HOSTILE);
        std::fs::create_dir(&dir).unwrap();
        let dest = dir.join("f 'x'.conf");
        std::fs::write(&dest, b"old\n").unwrap();
        let dest_s = dest.to_str().unwrap();
        let attrs = Attrs { mode: Some(Mode::Octal(0o600)), ..Attrs::default() };
        let current = FileState { exists: true, kind: FileKind::File, mode: 0o644, ..FileState::default() };
        let w = WriteFile {
            dest: dest_s,
            content: b"new\n\0binary",
            follow: true,
            attrs: &attrs,
            current: &current,
            backup: true,
            make_parents: false,
            validate: Some("test -s %s"),
            expect: None,
        };
        let out = run(&w.script(), w.content);
        assert_eq!(out.status, 0, "{}", out.stderr_text());
        assert_eq!(std::fs::read(&dest).unwrap(), b"new\n\0binary");
        let (_, st) = finish(Plan::ok(), &out).unwrap();
        let st = st.unwrap();
        assert_eq!(st.mode, 0o600);
        let backup = st.backup_file.unwrap();
        assert!(backup.starts_with(dest_s) && backup.ends_with('~'), "{backup}");
        assert_eq!(std::fs::read(&backup).unwrap(), b"old\n");
        // Nothing else left behind: no temp file, nothing from `$(touch pwned)`.
        let names: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(names.len(), 2);
        assert!(!std::path::Path::new("pwned").exists());
    }

    #[test]
    fn failed_validation_leaves_the_file_and_no_temp_file() {
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("f");
        std::fs::write(&dest, b"old\n").unwrap();
        let attrs = Attrs::default();
        let current = FileState::default();
        let w = WriteFile {
            dest: dest.to_str().unwrap(),
            content: b"new\n",
            follow: false,
            attrs: &attrs,
            current: &current,
            backup: false,
            make_parents: false,
            validate: Some("false %s"),
            expect: None,
        };
        let out = run(&w.script(), b"new\n");
        let err = finish(Plan::ok(), &out).unwrap_err().to_string();
        assert!(err.contains("failed to validate"), "{err}");
        assert_eq!(std::fs::read(&dest).unwrap(), b"old\n");
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_changed_file_is_not_clobbered() {
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("f");
        std::fs::write(&dest, b"newer\n").unwrap();
        let attrs = Attrs::default();
        let current = FileState::default();
        let w = WriteFile {
            dest: dest.to_str().unwrap(),
            content: b"x\n",
            follow: true,
            attrs: &attrs,
            current: &current,
            backup: false,
            make_parents: false,
            validate: None,
            expect: Some(Expect::Sha256("0".repeat(64))),
        };
        let out = run(&w.script(), b"x\n");
        assert_ne!(out.status, 0);
        assert!(out.stderr_text().contains("changed since it was read"));
        assert_eq!(std::fs::read(&dest).unwrap(), b"newer\n");
    }

    #[test]
    fn missing_directory_is_a_clear_error() {
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("nope/f");
        let attrs = Attrs::default();
        let current = FileState::default();
        let w = plain(dest.to_str().unwrap(), b"x", &attrs, &current);
        let out = run(&w.script(), b"x");
        assert!(out.stderr_text().contains("does not exist"));
        let w = WriteFile { make_parents: true, ..w };
        let out = run(&w.script(), b"x");
        assert_eq!(out.status, 0, "{}", out.stderr_text());
        assert_eq!(std::fs::read(&dest).unwrap(), b"x");
    }

    /// Issue 12: a lost connection mid-copy replaced the destination with the
    /// part that had arrived. The remote `cat` sees end of input early; the
    /// length check must stop the rename.
    #[test]
    fn truncated_transfer_leaves_the_old_file_and_no_temp_file() {
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("big.bin");
        std::fs::write(&dest, b"old content\n").unwrap();
        let content: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let attrs = Attrs::default();
        let current = FileState { exists: true, kind: FileKind::File, mode: 0o644, ..FileState::default() };
        let w = plain(dest.to_str().unwrap(), &content, &attrs, &current);
        let out = run(&w.script(), &content[..70_000]);
        assert_ne!(out.status, 0);
        assert!(out.stderr_text().contains("received 70000 of 200000 bytes"), "{}", out.stderr_text());
        assert_eq!(std::fs::read(&dest).unwrap(), b"old content\n");
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1, "temporary file left behind");
        // The whole content goes through.
        let out = run(&w.apply().script, &w.apply().stdin);
        assert_eq!(out.status, 0, "{}", out.stderr_text());
        assert_eq!(std::fs::read(&dest).unwrap(), content);
    }

    /// Same length, other bytes: the checksum catches what the length cannot.
    #[test]
    fn corrupted_transfer_of_the_right_length_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("f");
        std::fs::write(&dest, b"old\n").unwrap();
        let attrs = Attrs::default();
        let current = FileState::default();
        let w = plain(dest.to_str().unwrap(), b"new!\n", &attrs, &current);
        let out = run(&w.script(), b"evil\n");
        assert!(out.stderr_text().contains("does not match its checksum"), "{}", out.stderr_text());
        assert_eq!(std::fs::read(&dest).unwrap(), b"old\n");
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);
    }
}
