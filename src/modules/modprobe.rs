//! `modprobe`: a kernel module loaded or unloaded, and optionally made
//! persistent in `/etc/modules-load.d/` and `/etc/modprobe.d/`, as
//! `community.general.modprobe`, rule for rule.
//!
//! One probe reads whether the module is loaded (`/proc/modules`, or listed
//! in `/lib/modules/$(uname -r)/modules.builtin`: a built-in module counts
//! as loaded, as in Ansible), whether `modprobe` exists, and every regular
//! file of the two configuration directories. The pure part
//! ([`decide_live`], [`persist_present`], [`persist_absent`]) follows the
//! module's algorithm line for line, including how it writes files back:
//! a commented-out line gets a `#` in front, and a file it edits is joined
//! with `\n` after Python's `readlines`, so each edited line's newline is
//! doubled, exactly as the community module leaves it.
//!
//! `modprobe` is only needed when the module must be loaded or unloaded: a
//! module already loaded (or built in) with `state: present`, or not loaded
//! with `state: absent`, never runs it, so the persistent files can be
//! managed on a host without `kmod`. A kernel without loadable-module
//! support has no `/proc/modules`; stead reads that as "nothing loaded"
//! where Ansible fails (see docs/modules.md).
//!
//! This module never builds a shell string by hand: every value goes
//! through [`crate::transport::quote::quote`].

use std::collections::BTreeSet;

use crate::pyregex::{Flags, PyRegex};

use super::file_state::{sha256_hex, FileKind, FileState};
use super::file_write::{Expect, WriteFile};
use super::{
    Action, ApplyScript, ArgKind, ArgSpec, Args, Diff, Module, ModuleError, ModuleSpec, Plan, ResultMap, TaskContext,
};
use crate::transport::quote::quote;
use crate::transport::ExecOutput;

/// The `modprobe` module.
pub struct Modprobe;

/// Where module names to load at boot live.
pub const MODULES_LOAD: &str = "/etc/modules-load.d";
/// Where module options live.
pub const MODPROBE_D: &str = "/etc/modprobe.d";

const MARKER: &str = "stead-modprobe 1";
/// Exit status of the apply script when `modprobe` failed.
const MODPROBE_FAILED: i32 = 3;

static SPEC: ModuleSpec = ModuleSpec::new(&[
    ArgSpec::new("name", ArgKind::Str).required(),
    ArgSpec::new("state", ArgKind::Str).choices(&["present", "absent"]),
    ArgSpec::new("params", ArgKind::Str),
    ArgSpec::new("persistent", ArgKind::Str).choices(&["disabled", "present", "absent"]),
]);

impl Module for Modprobe {
    fn name(&self) -> &'static str {
        "modprobe"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: &Args, _ctx: &dyn TaskContext) -> Result<Box<dyn Action>, ModuleError> {
        let name = args.str("name")?;
        let params = args.opt_str("params")?.unwrap_or_default();
        let words = shell_words::split(&params)
            .map_err(|e| ModuleError::Arg { arg: "params".into(), message: e.to_string() })?;
        let persistent = match args.choice_or("persistent", &["disabled", "present", "absent"], "disabled")?.as_str() {
            "present" => Persistent::Present,
            "absent" => Persistent::Absent,
            _ => Persistent::Disabled,
        };
        Ok(Box::new(ModprobeAction {
            patterns: Patterns::new(&name)?,
            present: args.choice_or("state", &["present", "absent"], "present")? == "present",
            name,
            params,
            words,
            persistent,
            files_changed: false,
        }))
    }
}

/// The `persistent` argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persistent {
    /// Leave the files alone.
    Disabled,
    /// Load at boot, with the options.
    Present,
    /// Comment out the module and its options.
    Absent,
}

/// The module's three patterns. The name goes in unescaped, as Ansible
/// puts it (module names are `[A-Za-z0-9_-]`).
#[derive(Debug, Clone)]
pub struct Patterns {
    module: PyRegex,
    params: PyRegex,
}

impl Patterns {
    /// Compiles the patterns for `name`.
    pub fn new(name: &str) -> Result<Self, ModuleError> {
        let compile = |p: String| {
            PyRegex::new(&p, Flags::default())
                .map_err(|e| ModuleError::Arg { arg: "name".into(), message: e.to_string() })
        };
        Ok(Patterns {
            module: compile(format!(r"^ *{name} *(?:[#;].*)?\n?\Z"))?,
            params: compile(format!(r"^options {name} (\w+=\S+) *(?:[#;].*)?\n?\Z"))?,
        })
    }

    fn is_module_line(&self, line: &str) -> bool {
        self.module.is_match(line).unwrap_or(false)
    }

    fn param_of(&self, line: &str) -> Option<String> {
        let m = self.params.search(line).ok()??;
        let (a, b) = m.groups.get(1).copied().flatten()?;
        Some(line[a..b].to_owned())
    }
}

/// A configuration file as the probe read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfFile {
    /// Its path.
    pub path: String,
    /// Its bytes.
    pub content: Vec<u8>,
    /// Permission bits, owner and group ids (kept when it is rewritten).
    pub mode: u32,
    /// Owner id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
}

impl ConfFile {
    /// Its lines as Python's text-mode `readlines` gives them (universal
    /// newlines: `\r\n` and `\r` read as `\n`), each with its newline.
    pub fn lines(&self) -> Vec<String> {
        python_lines(&String::from_utf8_lossy(&self.content))
    }
}

/// Python's text-mode `readlines`.
pub fn python_lines(text: &str) -> Vec<String> {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    text.split_inclusive('\n').map(str::to_owned).collect()
}

/// What the probe saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    /// In `/proc/modules` or built in.
    pub loaded: bool,
    /// Where `modprobe` is, if installed.
    pub modprobe: Option<String>,
    /// The search path (for the "not found" message).
    pub path_var: String,
    /// Regular files of `/etc/modules-load.d`.
    pub load_files: Vec<ConfFile>,
    /// Regular files of `/etc/modprobe.d`.
    pub option_files: Vec<ConfFile>,
}

/// The live step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Live {
    /// Nothing to do.
    None,
    /// `modprobe NAME PARAMS...`.
    Load,
    /// `modprobe -r NAME`.
    Unload,
}

/// Ansible's `main`: load when wanted and not loaded, unload when unwanted
/// and loaded.
pub fn decide_live(present: bool, loaded: bool) -> Live {
    match (present, loaded) {
        (true, false) => Live::Load,
        (false, true) => Live::Unload,
        _ => Live::None,
    }
}

/// The command of the live step (words, to be quoted).
pub fn live_command(live: Live, name: &str, params: &[String]) -> Option<Vec<String>> {
    match live {
        Live::None => None,
        Live::Load => {
            Some(["modprobe", "--", name].iter().map(|s| s.to_string()).chain(params.iter().cloned()).collect())
        }
        Live::Unload => Some(vec!["modprobe".into(), "-r".into(), "--".into(), name.into()]),
    }
}

/// Files to write: path → new content, in order (a later write of the same
/// path wins, as the module's successive `open(.., 'w')` do).
pub type Writes = Vec<(String, String)>;

fn set_write(writes: &mut Writes, path: String, content: String) {
    writes.retain(|(p, _)| *p != path);
    writes.push((path, content));
}

fn loaded_persistently(p: &Patterns, st: &State) -> bool {
    st.load_files.iter().any(|f| f.lines().iter().any(|l| p.is_module_line(l)))
}

/// The `options NAME k=v` settings of every file of `/etc/modprobe.d`.
pub fn permanent_params(p: &Patterns, st: &State) -> BTreeSet<String> {
    st.option_files.iter().flat_map(|f| f.lines()).filter_map(|l| p.param_of(&l)).collect()
}

fn params_is_set(p: &Patterns, st: &State, params: &str) -> bool {
    params.split_whitespace().map(str::to_owned).collect::<BTreeSet<_>>() == permanent_params(p, st)
}

/// Comments out the matching lines of each file; a file with a match is
/// written back as the module writes it (`'\n'.join(readlines())`).
fn comment_out(files: &[ConfFile], hit: impl Fn(&str) -> bool, writes: &mut Writes) {
    for f in files {
        let mut lines = f.lines();
        let mut changed = false;
        for line in &mut lines {
            if hit(line) {
                line.insert(0, '#');
                changed = true;
            }
        }
        if changed {
            set_write(writes, f.path.clone(), lines.join("\n"));
        }
    }
}

/// `persistent: present`: whether it changes anything, and the writes.
pub fn persist_present(p: &Patterns, st: &State, name: &str, params: &str) -> (bool, Writes) {
    let mut writes = Writes::new();
    let lp = loaded_persistently(p, st);
    let set = params_is_set(p, st, params);
    if lp && set {
        return (false, writes);
    }
    if !lp {
        set_write(&mut writes, format!("{MODULES_LOAD}/{name}.conf"), format!("{name}\n"));
    }
    if !set {
        comment_out(&st.option_files, |l| p.param_of(l).is_some(), &mut writes);
        let content: Vec<String> = params.split_whitespace().map(|w| format!("options {name} {w}")).collect();
        set_write(&mut writes, format!("{MODPROBE_D}/{name}.conf"), content.join("\n") + "\n");
    }
    (true, writes)
}

/// `persistent: absent`: whether it changes anything, and the writes.
pub fn persist_absent(p: &Patterns, st: &State) -> (bool, Writes) {
    let mut writes = Writes::new();
    let lp = loaded_persistently(p, st);
    let has_params = !permanent_params(p, st).is_empty();
    if lp {
        comment_out(&st.load_files, |l| p.is_module_line(l), &mut writes);
    }
    if has_params {
        comment_out(&st.option_files, |l| p.param_of(l).is_some(), &mut writes);
    }
    (lp || has_params, writes)
}

/// Parses the probe's output.
pub fn parse(stdout: &[u8]) -> Result<State, ModuleError> {
    let bad = |what: &str| ModuleError::Probe(format!("modprobe probe: {what}"));
    let mut st = State::default();
    let mut rest = stdout;
    let take_line = |rest: &mut &[u8]| -> Option<String> {
        let end = rest.iter().position(|&b| b == b'\n')?;
        let line = String::from_utf8_lossy(&rest[..end]).into_owned();
        *rest = &rest[end + 1..];
        Some(line)
    };
    if take_line(&mut rest).as_deref() != Some(MARKER) {
        return Err(bad("no header"));
    }
    let take_bytes = |rest: &mut &[u8], n: usize| -> Option<Vec<u8>> {
        if rest.len() < n + 1 {
            return None;
        }
        let v = rest[..n].to_vec();
        *rest = &rest[n + 1..];
        Some(v)
    };
    loop {
        let line = take_line(&mut rest).ok_or_else(|| bad("truncated"))?;
        let (word, arg) = line.split_once(' ').unwrap_or((line.as_str(), ""));
        match word {
            "end" => return Ok(st),
            "loaded" => st.loaded = true,
            "bin" => st.modprobe = Some(arg.to_owned()),
            "path" => st.path_var = arg.to_owned(),
            "file" => {
                // file DIR MODE UID GID PATHLEN CONTENTLEN
                let f: Vec<&str> = arg.split(' ').collect();
                let [dir, mode, uid, gid, plen, clen] = f[..] else { return Err(bad("file line")) };
                let num = |s: &str| s.parse::<usize>().map_err(|_| bad("file number"));
                let path = take_bytes(&mut rest, num(plen)?).ok_or_else(|| bad("file path"))?;
                let content = take_bytes(&mut rest, num(clen)?).ok_or_else(|| bad("file content"))?;
                let file = ConfFile {
                    path: String::from_utf8_lossy(&path).into_owned(),
                    content,
                    mode: u32::from_str_radix(mode, 8).map_err(|_| bad("mode"))?,
                    uid: uid.parse().map_err(|_| bad("uid"))?,
                    gid: gid.parse().map_err(|_| bad("gid"))?,
                };
                match dir {
                    "load" => st.load_files.push(file),
                    _ => st.option_files.push(file),
                }
            }
            _ => return Err(bad(&format!("unknown line `{line}`"))),
        }
    }
}

/// One `modprobe` task on one host.
#[derive(Debug)]
pub struct ModprobeAction {
    name: String,
    present: bool,
    params: String,
    words: Vec<String>,
    persistent: Persistent,
    patterns: Patterns,
    files_changed: bool,
}

/// The shell loop that says `loaded` when the module is in `/proc/modules`
/// or built in (`$m`: the name with `_` for `-` and a space; `$b`:
/// `/NAME.ko`).
const LOADED_CHECK: &str = "\
if [ -r /proc/modules ]; then
  while IFS= read -r l; do case $l in (\"$m\"*) printf 'loaded\\n'; break ;; esac; done < /proc/modules
fi
f=/lib/modules/$(uname -r)/modules.builtin
if [ -r \"$f\" ]; then
  while IFS= read -r l || [ -n \"$l\" ]; do
    l=${l%\"${l##*[![:space:]]}\"}
    case $l in (*\"$b\") printf 'loaded\\n'; break ;; esac
  done < \"$f\"
fi
";

impl ModprobeAction {
    fn vars(&self) -> String {
        format!(
            "m={}\nb={}\n",
            quote(&format!("{} ", self.name.replace('-', "_"))),
            quote(&format!("/{}.ko", self.name))
        )
    }

    fn result(&self, changed: bool) -> ResultMap {
        let mut r = ResultMap::new();
        r.insert("changed".into(), changed.into());
        r.insert("name".into(), self.name.clone().into());
        r.insert("params".into(), self.params.clone().into());
        r.insert("state".into(), if self.present { "present" } else { "absent" }.into());
        r
    }

    fn write_script(&self, st: &State, path: &str, content: &str) -> ApplyScript {
        let current = st.load_files.iter().chain(&st.option_files).find(|f| f.path == path);
        let fs = match current {
            Some(f) => FileState {
                exists: true,
                kind: FileKind::File,
                mode: f.mode,
                uid: f.uid,
                gid: f.gid,
                ..FileState::default()
            },
            None => FileState::default(),
        };
        WriteFile {
            make_parents: true,
            expect: Some(match current {
                Some(f) => Expect::Sha256(sha256_hex(&f.content)),
                None => Expect::Absent,
            }),
            ..WriteFile::edit(path, content.as_bytes(), &fs)
        }
        .apply()
    }
}

/// A readable rendering of the state for `--diff`: whether the module is
/// loaded, then each touched file's lines prefixed by its path.
fn render(loaded: bool, files: &[(String, Option<String>)]) -> String {
    let mut s = format!("loaded: {}\n", if loaded { "yes" } else { "no" });
    for (path, content) in files {
        match content {
            None => s.push_str(&format!("{path}: (absent)\n")),
            Some(c) => {
                for line in c.split_inclusive('\n') {
                    s.push_str(&format!("{path}: {}\n", line.trim_end_matches('\n')));
                }
            }
        }
    }
    s
}

impl Action for ModprobeAction {
    fn paths(&self) -> Option<Vec<String>> {
        Some(vec![MODULES_LOAD.into(), MODPROBE_D.into(), "/proc/modules".into()])
    }

    fn probe(&self) -> Option<String> {
        let mut s = String::from("LC_ALL=C\nexport LC_ALL\n");
        s.push_str(&self.vars());
        s.push_str(&format!("printf '{MARKER}\\n'\n"));
        s.push_str(LOADED_CHECK);
        s.push_str(
            "if c=$(command -v modprobe 2>/dev/null); then printf 'bin %s\\n' \"$c\"; fi\n\
             printf 'path %s\\n' \"$PATH\"\n",
        );
        for (tag, dir) in [("load", MODULES_LOAD), ("options", MODPROBE_D)] {
            s.push_str(&format!(
                "for f in {dir}/* {dir}/.[!.]* {dir}/..?*; do\n  \
                 [ -f \"$f\" ] && [ -r \"$f\" ] || continue\n  \
                 n=$(wc -c < \"$f\"); n=$((n))\n  \
                 printf 'file {tag} %s %s\\n%s\\n' \"$(stat -L -c '%a %u %g' -- \"$f\")\" \"${{#f}} $n\" \"$f\"\n  \
                 cat -- \"$f\"; printf '\\n'\n\
                 done\n"
            ));
        }
        s.push_str("printf 'end\\n'\n");
        Some(s)
    }

    fn compare(&mut self, probe: Option<&ExecOutput>) -> Result<Plan, ModuleError> {
        let out = probe.ok_or_else(|| ModuleError::Probe("the modprobe probe did not run".into()))?;
        if out.status != 0 {
            return Err(ModuleError::failed(format!("cannot read the module state: {}", out.stderr_text().trim())));
        }
        let st = parse(&out.stdout)?;
        let live = decide_live(self.present, st.loaded);
        if live != Live::None && st.modprobe.is_none() {
            let msg = format!("Failed to find required executable \"modprobe\" in paths: {}", st.path_var);
            return Err(ModuleError::Failed { msg, result: self.result(false) });
        }
        let (files_changed, writes) = match self.persistent {
            Persistent::Disabled => (false, Writes::new()),
            Persistent::Present => persist_present(&self.patterns, &st, &self.name, &self.params),
            Persistent::Absent => persist_absent(&self.patterns, &st),
        };
        self.files_changed = files_changed;
        let changed = live != Live::None || files_changed;
        if !changed {
            let mut plan = Plan::ok();
            plan.result = self.result(false);
            return Ok(plan);
        }
        let mut script = String::from("LC_ALL=C\nexport LC_ALL\n");
        let mut stdin = Vec::new();
        if let Some(cmd) = live_command(live, &self.name, &self.words) {
            let words: Vec<String> = cmd.iter().map(|w| quote(w).into_owned()).collect();
            script.push_str(&format!("{} || exit {MODPROBE_FAILED}\n", words.join(" ")));
        }
        let mut before_files = Vec::new();
        let mut after_files = Vec::new();
        for (path, content) in &writes {
            let current = st.load_files.iter().chain(&st.option_files).find(|f| f.path == *path);
            if current.is_some_and(|f| f.content == content.as_bytes()) {
                continue;
            }
            let w = self.write_script(&st, path, content);
            script.push_str(&format!("head -c {} | (\n{}\n) >/dev/null || exit 1\n", w.stdin.len(), w.script));
            stdin.extend_from_slice(&w.stdin);
            before_files.push((path.clone(), current.map(|f| String::from_utf8_lossy(&f.content).into_owned())));
            after_files.push((path.clone(), Some(content.clone())));
        }
        if live == Live::Load {
            script.push_str(&self.vars());
            script.push_str(&format!("r=$(\n{LOADED_CHECK})\n[ -n \"$r\" ] || printf 'not-loaded\\n'\n"));
        }
        let after_loaded = match live {
            Live::None => st.loaded,
            Live::Load => true,
            Live::Unload => false,
        };
        let mut plan = Plan::change(ApplyScript { script, stdin });
        plan.diff = Some(Diff {
            before_header: format!("before: modprobe {}", self.name),
            after_header: format!("after: modprobe {}", self.name),
            before: render(st.loaded, &before_files),
            after: render(after_loaded, &after_files),
        });
        plan.result = self.result(true);
        Ok(plan)
    }

    fn finish(&mut self, mut plan: Plan, out: &ExecOutput) -> Result<Plan, ModuleError> {
        match out.status {
            0 => {
                // Loaded without error but not in the kernel (a blacklist or
                // an `install` line): Ansible reports no change for it.
                if out.stdout_text().lines().any(|l| l == "not-loaded") && !self.files_changed {
                    plan.changed = false;
                    plan.result.insert("changed".into(), false.into());
                }
                Ok(plan)
            }
            MODPROBE_FAILED => {
                let err = out.stderr_text();
                let mut result = self.result(false);
                result.insert("rc".into(), 1.into());
                result.insert("stdout".into(), out.stdout_text().into());
                result.insert("stderr".into(), err.clone().into());
                Err(ModuleError::Failed { msg: err.trim_end().to_owned(), result })
            }
            n => {
                let mut result = self.result(false);
                result.insert("rc".into(), n.into());
                Err(ModuleError::Failed {
                    msg: format!("Failed to write the module's files: {}", out.stderr_text().trim()),
                    result,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::file_write::testing::{run, FakeCtx};
    use serde_json::json;

    fn file(path: &str, content: &str) -> ConfFile {
        ConfFile { path: path.into(), content: content.as_bytes().to_vec(), mode: 0o644, uid: 0, gid: 0 }
    }

    fn pats() -> Patterns {
        Patterns::new("dummy").unwrap()
    }

    #[test]
    fn load_and_unload_commands() {
        assert_eq!(decide_live(true, false), Live::Load);
        assert_eq!(decide_live(true, true), Live::None);
        assert_eq!(decide_live(false, true), Live::Unload);
        assert_eq!(decide_live(false, false), Live::None);
        let params = shell_words::split("numdummies=2 'x=a b'").unwrap();
        assert_eq!(
            live_command(Live::Load, "dummy", &params).unwrap(),
            ["modprobe", "--", "dummy", "numdummies=2", "x=a b"]
        );
        assert_eq!(live_command(Live::Unload, "dummy", &params).unwrap(), ["modprobe", "-r", "--", "dummy"]);
        assert_eq!(live_command(Live::None, "dummy", &params), None);
    }

    #[test]
    fn persistent_present_writes_both_files_and_comments_old_options() {
        let st = State {
            load_files: vec![file("/etc/modules-load.d/modules.conf", "# boot\n")],
            option_files: vec![file("/etc/modprobe.d/old.conf", "options dummy numdummies=1\nblacklist x\n")],
            ..State::default()
        };
        let (changed, writes) = persist_present(&pats(), &st, "dummy", "numdummies=2");
        assert!(changed);
        assert_eq!(
            writes,
            vec![
                ("/etc/modules-load.d/dummy.conf".to_owned(), "dummy\n".to_owned()),
                // The module's '\n'.join over lines that keep their newline.
                ("/etc/modprobe.d/old.conf".to_owned(), "#options dummy numdummies=1\n\nblacklist x\n".to_owned()),
                ("/etc/modprobe.d/dummy.conf".to_owned(), "options dummy numdummies=2\n".to_owned()),
            ]
        );
        // Converged: the module line and exactly the options are there.
        let st = State {
            load_files: vec![file("/etc/modules-load.d/dummy.conf", "dummy\n")],
            option_files: vec![
                file("/etc/modprobe.d/old.conf", "#options dummy numdummies=1\n\nblacklist x\n"),
                file("/etc/modprobe.d/dummy.conf", "options dummy numdummies=2\n"),
            ],
            ..State::default()
        };
        assert_eq!(persist_present(&pats(), &st, "dummy", "numdummies=2"), (false, vec![]));
        // No params and no options anywhere: no options file.
        let st = State { load_files: vec![file("/etc/modules-load.d/x.conf", " dummy # c\n")], ..State::default() };
        assert_eq!(persist_present(&pats(), &st, "dummy", ""), (false, vec![]));
    }

    #[test]
    fn persistent_absent_comments_out() {
        let st = State {
            load_files: vec![
                file("/etc/modules-load.d/dummy.conf", "dummy\n"),
                file("/etc/modules-load.d/o.conf", "loop\n"),
            ],
            option_files: vec![file("/etc/modprobe.d/dummy.conf", "options dummy numdummies=2\noptions dummy a=b\n")],
            ..State::default()
        };
        let (changed, writes) = persist_absent(&pats(), &st);
        assert!(changed);
        assert_eq!(
            writes,
            vec![
                ("/etc/modules-load.d/dummy.conf".to_owned(), "#dummy\n".to_owned()),
                (
                    "/etc/modprobe.d/dummy.conf".to_owned(),
                    "#options dummy numdummies=2\n\n#options dummy a=b\n".to_owned()
                ),
            ]
        );
        let st = State {
            load_files: vec![file("/etc/modules-load.d/dummy.conf", "#dummy\n")],
            option_files: vec![file("/etc/modprobe.d/dummy.conf", "#options dummy numdummies=2\n")],
            ..State::default()
        };
        assert_eq!(persist_absent(&pats(), &st), (false, vec![]));
    }

    #[test]
    fn probe_output_parses() {
        let out =
            b"stead-modprobe 1\nloaded\nbin /sbin/modprobe\npath /bin\nfile load 644 0 0 4 6\n/a/b\ndummy\n\nend\n";
        let st = parse(out).unwrap();
        assert!(st.loaded);
        assert_eq!(st.modprobe.as_deref(), Some("/sbin/modprobe"));
        assert_eq!(st.load_files, vec![file("/a/b", "dummy\n")]);
    }

    fn action(v: serde_json::Value) -> Box<dyn Action> {
        Modprobe.prepare(&Args::new(&SPEC, v.as_object().unwrap().clone()), &FakeCtx::default()).unwrap()
    }

    #[test]
    fn loading_without_modprobe_fails_with_ansibles_message() {
        let mut a = action(json!({"name": "dummy"}));
        let out =
            ExecOutput { status: 0, stdout: b"stead-modprobe 1\npath /usr/bin:/bin\nend\n".to_vec(), stderr: vec![] };
        let e = a.compare(Some(&out)).err().unwrap().to_string();
        assert_eq!(e, "Failed to find required executable \"modprobe\" in paths: /usr/bin:/bin");
        // Unloading a module that is not loaded needs no modprobe.
        let mut a = action(json!({"name": "dummy", "state": "absent"}));
        assert!(!a.compare(Some(&out)).unwrap().changed);
    }

    /// The real probe runs here: it only reads this machine's
    /// /proc/modules, modules.builtin and the two directories.
    #[test]
    fn real_probe_reads_this_machine() {
        let a = action(json!({"name": "stead_no_such_module $(x) 'q'"}));
        let out = run(&a.probe().unwrap(), b"");
        assert_eq!(out.status, 0, "{}", out.stderr_text());
        let st = parse(&out.stdout).unwrap();
        assert!(!st.loaded);
    }

    /// The write half of an apply script, run on a temporary directory
    /// (the live step and the real directories are never touched).
    #[test]
    fn real_writes_on_a_hostile_path() {
        let ctx = FakeCtx::default();
        let dir = ctx.root().join("mod $(x) 'q'");
        std::fs::create_dir_all(&dir).unwrap();
        let old = dir.join("old.conf");
        std::fs::write(&old, "options dummy numdummies=1\n").unwrap();
        let p = old.to_str().unwrap().to_owned();
        let st = State { option_files: vec![file(&p, "options dummy numdummies=1\n")], ..State::default() };
        let a = ModprobeAction {
            name: "dummy".into(),
            present: true,
            params: String::new(),
            words: vec![],
            persistent: Persistent::Absent,
            patterns: pats(),
            files_changed: false,
        };
        let (_, writes) = persist_absent(&a.patterns, &st);
        let w = a.write_script(&st, &writes[0].0, &writes[0].1);
        let res = run(&format!("head -c {} | (\n{}\n) >/dev/null || exit 1\n", w.stdin.len(), w.script), &w.stdin);
        assert_eq!(res.status, 0, "{}", res.stderr_text());
        assert_eq!(std::fs::read_to_string(&old).unwrap(), "#options dummy numdummies=1\n");
    }
}
