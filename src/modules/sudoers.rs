//! `sudoers`: one sudo rule in a file of its own under `/etc/sudoers.d`, as
//! `community.general.sudoers` writes it: the file named `name`, mode
//! `0440`, one line `OWNER HOST=(RUNAS)NOEXEC:NOPASSWD:SETENV: CMD, CMD`.
//!
//! One probe finds `visudo` (as Ansible's `get_bin_path`: `PATH`, then the
//! sbin directories), checks the new rule with `visudo -c -f -` (Ansible
//! does so before comparing, so a broken rule fails in check mode too), and
//! reads the file. The pure part ([`rule`], [`file_path`]) builds the line;
//! a change is an atomic write whose temporary file `visudo -cf` must
//! accept before it replaces the old one (see [`super::file_write`]), so a
//! broken rule never reaches sudo. This module never builds a shell string
//! by hand: every value goes through [`crate::transport::quote::quote`].

use super::file_state::{self, content_diff, sha256_hex, Attrs, FileKind, FileState, Probe};
use super::file_write::{Expect, WriteFile};
use super::mode::Mode;
use super::{
    Action, ApplyScript, ArgKind, ArgSpec, Args, Diff, Module, ModuleError, ModuleSpec, Plan, ResultMap, TaskContext,
};
use crate::transport::quote::quote;
use crate::transport::ExecOutput;

/// The `sudoers` module.
pub struct Sudoers;

const MARKER: &str = "stead-sudoers";
/// The mode the community module gives every rule file.
const FILE_MODE: u32 = 0o440;

static SPEC: ModuleSpec = ModuleSpec::new(&[
    ArgSpec::new("name", ArgKind::Str).required(),
    ArgSpec::new("user", ArgKind::Str),
    ArgSpec::new("group", ArgKind::Str),
    ArgSpec::new("commands", ArgKind::List),
    ArgSpec::new("nopassword", ArgKind::Bool),
    ArgSpec::new("runas", ArgKind::Str),
    ArgSpec::new("host", ArgKind::Str),
    ArgSpec::new("setenv", ArgKind::Bool),
    ArgSpec::new("noexec", ArgKind::Bool),
    ArgSpec::new("sudoers_path", ArgKind::Str),
    ArgSpec::new("state", ArgKind::Str).choices(&["present", "absent"]),
    ArgSpec::new("validation", ArgKind::Str).choices(&["absent", "detect", "required"]),
])
.exclusive(&[("user", "group")]);

impl Module for Sudoers {
    fn name(&self) -> &'static str {
        "sudoers"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: &Args, _ctx: &dyn TaskContext) -> Result<Box<dyn Action>, ModuleError> {
        let present = args.choice_or("state", &["present", "absent"], "present")? == "present";
        let validation = args.choice_or("validation", &["absent", "detect", "required"], "detect")?;
        let path =
            file_path(&args.opt_str("sudoers_path")?.unwrap_or_else(|| "/etc/sudoers.d".into()), &args.str("name")?);
        let owner = match (args.opt_str("user")?, args.opt_str("group")?) {
            (Some(u), _) => Some(u),
            (None, Some(g)) => Some(format!("%{g}")),
            (None, None) => None,
        };
        let commands = args.str_list("commands")?;
        if present && !args.has("commands") {
            return Err(ModuleError::failed("state is present but all of the following are missing: commands"));
        }
        let content = match (&owner, present) {
            (Some(owner), true) => rule(&Rule {
                owner,
                host: &args.opt_str("host")?.unwrap_or_else(|| "ALL".into()),
                runas: args.opt_str("runas")?.as_deref(),
                noexec: args.bool_or("noexec", false)?,
                nopassword: args.bool_or("nopassword", true)?,
                setenv: args.bool_or("setenv", false)?,
                commands: &commands,
            }),
            (None, true) => return Err(ModuleError::failed("one of user or group is required with state=present")),
            (_, false) => String::new(),
        };
        Ok(Box::new(SudoersAction { path, present, validation, content, visudo: None }))
    }
}

/// Python's `os.path.join(sudoers_path, name)`.
pub fn file_path(dir: &str, name: &str) -> String {
    if name.starts_with('/') {
        name.to_owned()
    } else if dir.is_empty() || dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// The parts of a rule.
#[derive(Debug, Clone, Copy)]
pub struct Rule<'a> {
    /// `user`, or `%group`.
    pub owner: &'a str,
    /// `host`.
    pub host: &'a str,
    /// `runas`.
    pub runas: Option<&'a str>,
    /// `noexec`.
    pub noexec: bool,
    /// `nopassword`.
    pub nopassword: bool,
    /// `setenv`.
    pub setenv: bool,
    /// `commands`.
    pub commands: &'a [String],
}

/// The line the community module writes.
pub fn rule(r: &Rule<'_>) -> String {
    format!(
        "{} {}={}{}{}{} {}\n",
        r.owner,
        r.host,
        r.runas.map(|u| format!("({u})")).unwrap_or_default(),
        if r.noexec { "NOEXEC:" } else { "" },
        if r.nopassword { "NOPASSWD:" } else { "" },
        if r.setenv { "SETENV:" } else { "" },
        r.commands.join(", ")
    )
}

/// One `sudoers` task on one host.
#[derive(Debug)]
pub struct SudoersAction {
    path: String,
    present: bool,
    validation: String,
    content: String,
    /// visudo's path on the host, once probed.
    visudo: Option<String>,
}

/// The probe's visudo section: found?, its path, the check's status, stdout and stderr.
#[derive(Debug, Default)]
struct Check {
    visudo: Option<String>,
    rc: i32,
    stdout: String,
    stderr: String,
}

fn parse_check(stdout: &[u8]) -> Result<(Check, &[u8]), ModuleError> {
    let bad = || ModuleError::Probe("bad visudo section".into());
    let mut pos = 0;
    let mut line = || -> Result<String, ModuleError> {
        let rest = &stdout[pos..];
        let end = rest.iter().position(|&b| b == b'\n').ok_or_else(bad)?;
        pos += end + 1;
        Ok(String::from_utf8_lossy(&rest[..end]).into_owned())
    };
    let header = line()?;
    let mut f = header.split(' ');
    if f.next() != Some(MARKER) {
        return Err(bad());
    }
    let mut check = Check::default();
    match f.next() {
        Some("none") => return Ok((check, &stdout[pos..])),
        Some("skip") => return Ok((check, &stdout[pos..])),
        Some("found") => {}
        _ => return Err(bad()),
    }
    let lens: Vec<usize> = f.map(|n| n.parse().map_err(|_| bad())).collect::<Result<_, _>>()?;
    let [rc, a, b, c] = lens[..] else { return Err(bad()) };
    check.rc = i32::try_from(rc).map_err(|_| bad())?;
    let mut field = |n: usize| -> Result<String, ModuleError> {
        let rest = &stdout[pos..];
        if rest.len() < n + 1 {
            return Err(bad());
        }
        pos += n + 1;
        Ok(String::from_utf8_lossy(&rest[..n]).into_owned())
    };
    check.visudo = Some(field(a)?);
    check.stdout = field(b)?;
    check.stderr = field(c)?;
    Ok((check, &stdout[pos..]))
}

impl Action for SudoersAction {
    fn paths(&self) -> Option<Vec<String>> {
        Some(vec![self.path.clone()])
    }

    fn probe(&self) -> Option<String> {
        let mut s = String::from("LC_ALL=C\nexport LC_ALL\n");
        if self.present && self.validation != "absent" {
            s.push_str(&format!(
                "v=$(command -v visudo 2>/dev/null) || v=\n\
                 for d in /sbin /usr/sbin /usr/local/sbin; do [ -n \"$v\" ] || ! [ -x \"$d/visudo\" ] || v=$d/visudo; done\n\
                 if [ -z \"$v\" ]; then printf '{MARKER} none\\n'; else\n  \
                 c={content}\n  \
                 o=$(printf '%s' \"$c\" | \"$v\" -c -f - 2>/dev/null; r=$?; echo .; exit $r) && rc=0 || rc=$?\n  \
                 e=$(printf '%s' \"$c\" | \"$v\" -c -f - 2>&1 >/dev/null; echo .) || :\n  \
                 printf '{MARKER} found %s %s %s %s\\n' \"$rc\" \"${{#v}}\" \"$((${{#o}} - 1))\" \"$((${{#e}} - 1))\"\n  \
                 printf '%s\\n%s\\n%s\\n' \"$v\" \"${{o%.}}\" \"${{e%.}}\"\nfi\n",
                content = quote(&self.content)
            ));
        } else {
            s.push_str(&format!("printf '{MARKER} skip\\n'\n"));
        }
        s.push_str(&Probe::new(&self.path).script());
        Some(s)
    }

    fn compare(&mut self, probe: Option<&ExecOutput>) -> Result<Plan, ModuleError> {
        let out = probe.ok_or_else(|| ModuleError::Probe("the sudoers probe did not run".into()))?;
        if out.status != 0 {
            return Err(ModuleError::failed(format!("cannot read {}: {}", self.path, out.stderr_text().trim())));
        }
        let (check, rest) = parse_check(&out.stdout)?;
        let st: FileState = file_state::parse(rest)?;
        let mut plan = if !self.present {
            if st.exists {
                let before = String::from_utf8_lossy(st.content.as_deref().unwrap_or_default()).into_owned();
                Plan::change(ApplyScript { script: format!("rm -f -- {}\n", quote(&self.path)), stdin: Vec::new() })
                    .with_diff(Some(Diff::file(&self.path, &before, "")))
            } else {
                Plan::ok()
            }
        } else {
            if self.validation != "absent" {
                match &check.visudo {
                    None if self.validation == "required" => {
                        return Err(ModuleError::failed(
                            "Failed to find required executable \"visudo\" in paths: \
                             PATH:/sbin:/usr/sbin:/usr/local/sbin",
                        ))
                    }
                    Some(_) if check.rc != 0 => {
                        let text = if check.stdout.is_empty() { &check.stderr } else { &check.stdout };
                        let mut result = ResultMap::new();
                        result.insert("stdout".into(), check.stdout.clone().into());
                        result.insert("stderr".into(), check.stderr.clone().into());
                        return Err(ModuleError::Failed {
                            msg: format!("Failed to validate sudoers rule:\n{text}"),
                            result,
                        });
                    }
                    _ => {}
                }
                self.visudo = check.visudo.clone();
            }
            let sum = sha256_hex(self.content.as_bytes());
            let matches = st.exists && st.sha256.as_deref() == Some(sum.as_str()) && st.mode & 0o777 == FILE_MODE;
            if matches {
                Plan::ok()
            } else {
                if st.exists && (st.kind != FileKind::File || st.sha256.is_none()) {
                    return Err(ModuleError::failed(format!("{} is not a readable regular file", self.path)));
                }
                let attrs = Attrs { mode: Some(Mode::Octal(FILE_MODE)), ..Attrs::default() };
                let changes = if st.exists { attrs.changes(&st) } else { Default::default() };
                let validate = self.visudo.as_ref().map(|v| format!("{} -cf %s", shell_words::quote(v)));
                let write = WriteFile {
                    dest: &self.path,
                    content: self.content.as_bytes(),
                    follow: true,
                    attrs: &attrs,
                    current: &st,
                    backup: false,
                    make_parents: false,
                    validate: validate.as_deref(),
                    expect: Some(match (&st.sha256, st.exists) {
                        (Some(s), true) => Expect::Sha256(s.clone()),
                        _ => Expect::Absent,
                    }),
                }
                .apply();
                Plan::change(write).with_diff(Some(content_diff(
                    &self.path,
                    &st,
                    self.content.as_bytes(),
                    &sum,
                    &changes,
                )))
            }
        };
        plan.result.insert("changed".into(), plan.changed.into());
        Ok(plan)
    }

    fn finish(&mut self, plan: Plan, out: &ExecOutput) -> Result<Plan, ModuleError> {
        if out.status == 0 {
            return Ok(plan);
        }
        let mut result = plan.result;
        result.insert("rc".into(), out.status.into());
        let err = out.stderr_text();
        let msg = if err.contains("failed to validate") {
            format!("Failed to validate sudoers rule:\n{}", err.trim())
        } else {
            err.trim().to_owned()
        };
        Err(ModuleError::Failed { msg, result })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::file_write::testing::{run, FakeCtx, HOSTILE};
    use serde_json::{json, Value};

    #[test]
    fn rules_are_written_as_the_community_module_does() {
        let cmds = vec!["/usr/bin/true".to_owned(), "/bin/ls".to_owned()];
        let r = Rule {
            owner: "alice",
            host: "ALL",
            runas: Some("root"),
            noexec: false,
            nopassword: true,
            setenv: false,
            commands: &cmds,
        };
        assert_eq!(rule(&r), "alice ALL=(root)NOPASSWD: /usr/bin/true, /bin/ls\n");
        let r = Rule { owner: "%ops", runas: None, noexec: true, nopassword: false, setenv: true, ..r };
        assert_eq!(rule(&r), "%ops ALL=NOEXEC:SETENV: /usr/bin/true, /bin/ls\n");
        assert_eq!(file_path("/etc/sudoers.d", "x"), "/etc/sudoers.d/x");
        assert_eq!(file_path("/etc/sudoers.d/", "x"), "/etc/sudoers.d/x");
        assert_eq!(file_path("/etc/sudoers.d", "/opt/y"), "/opt/y");
    }

    fn prepare(v: Value) -> Result<Box<dyn Action>, ModuleError> {
        Sudoers.prepare(&Args::new(&SPEC, v.as_object().unwrap().clone()), &FakeCtx::default())
    }

    #[test]
    fn present_needs_commands_and_an_owner() {
        let e = prepare(json!({"name": "x", "user": "a"})).err().unwrap().to_string();
        assert_eq!(e, "state is present but all of the following are missing: commands");
        let e = prepare(json!({"name": "x", "commands": "ALL"})).err().unwrap().to_string();
        assert!(e.contains("user or group"), "{e}");
        assert!(prepare(json!({"name": "x", "state": "absent"})).is_ok());
    }

    #[test]
    fn real_probe_write_and_validation_in_a_hostile_directory() {
        let ctx = FakeCtx::default();
        let dir = ctx.root().join(HOSTILE);
        std::fs::create_dir_all(&dir).unwrap();
        let dir = dir.to_str().unwrap();
        let mut a = prepare(json!({"name": "50-a b", "user": "nobody", "commands": ["/usr/bin/true"],
            "sudoers_path": dir}))
        .unwrap();
        let out = run(&a.probe().unwrap(), b"");
        assert_eq!(out.status, 0, "{}", out.stderr_text());
        let plan = a.compare(Some(&out)).unwrap();
        assert!(plan.changed);
        let apply = plan.apply.clone().unwrap();
        let res = run(&apply.script, &apply.stdin);
        assert_eq!(res.status, 0, "{}", res.stderr_text());
        a.finish(plan, &res).unwrap();
        let file = format!("{dir}/50-a b");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "nobody ALL=NOPASSWD: /usr/bin/true\n");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o440);
        assert!(!a.compare(Some(&run(&a.probe().unwrap(), b""))).unwrap().changed);
        // A rule visudo rejects fails before anything is written.
        if std::path::Path::new("/usr/sbin/visudo").exists() {
            let mut bad = prepare(json!({"name": "50-a b", "user": "nobody", "commands": ["relative"],
                "sudoers_path": dir}))
            .unwrap();
            let e = bad.compare(Some(&run(&bad.probe().unwrap(), b""))).err().unwrap().to_string();
            assert!(e.starts_with("Failed to validate sudoers rule:"), "{e}");
            assert_eq!(std::fs::read_to_string(&file).unwrap(), "nobody ALL=NOPASSWD: /usr/bin/true\n");
        }
        let mut gone = prepare(json!({"name": "50-a b", "state": "absent", "sudoers_path": dir})).unwrap();
        let plan = gone.compare(Some(&run(&gone.probe().unwrap(), b""))).unwrap();
        let apply = plan.apply.clone().unwrap();
        assert_eq!(run(&apply.script, b"").status, 0);
        assert!(!std::path::Path::new(&file).exists());
    }
}
