//! `unarchive`: unpacks a tar (plain, gzip, bzip2, xz, zstd) or zip archive
//! into a directory on the host, as `ansible.builtin.unarchive`.
//!
//! The archive is a file on the host (`remote_src: true`) or on the
//! controller, sent on the apply script's stdin and checked (length and
//! SHA-256) before use. The apply script compares the archive with `dest`
//! the way Ansible does and unpacks only when they differ: for tar, `tar
//! --diff` and Ansible's list of the differences that count
//! ([`diff_pattern`]); for zip, every member's presence and content. Then it
//! gives every member the requested mode, owner and group, comparing each
//! one's attributes before and after so that `changed` is exact.
//!
//! Check mode follows Ansible: a tar archive is skipped ("does not support
//! check mode when using gtar"); a zip archive on the host is compared by the
//! probe, which runs the same comparison and changes nothing.

use serde_json::Value;

use super::file_state::{self, Attrs, Probe};
use super::file_write;
use super::{
    Action, ApplyScript, ArgKind, ArgSpec, Args, Module, ModuleError, ModuleSpec, Plan, ResultMap, TaskContext,
};
use crate::transport::quote::quote;
use crate::transport::ExecOutput;

/// The `unarchive` module.
pub struct Unarchive;

/// Exit status of the apply script when unpacking failed.
const UNPACK_FAILED: i32 = 5;

static SPEC: ModuleSpec = ModuleSpec::new(&[
    ArgSpec::new("src", ArgKind::Str).required(),
    ArgSpec::new("dest", ArgKind::Str).required(),
    ArgSpec::new("remote_src", ArgKind::Bool),
    ArgSpec::new("copy", ArgKind::Bool),
    ArgSpec::new("creates", ArgKind::Str),
    ArgSpec::new("list_files", ArgKind::Bool),
    ArgSpec::new("keep_newer", ArgKind::Bool),
    ArgSpec::new("exclude", ArgKind::List),
    ArgSpec::new("include", ArgKind::List),
    ArgSpec::new("extra_opts", ArgKind::List),
    ArgSpec::new("mode", ArgKind::Mode),
    ArgSpec::new("owner", ArgKind::Str),
    ArgSpec::new("group", ArgKind::Str),
    ArgSpec::new("decrypt", ArgKind::Bool),
])
.exclusive(&[("include", "exclude"), ("copy", "remote_src")])
.refused(&[
    ("validate_certs", "stead's unarchive does not download URLs; fetch the archive with get_url first"),
    ("io_buffer_size", "only used by Ansible's Python download of a URL src, which stead does not do"),
    ("attributes", "chattr attributes are not supported by stead's file modules"),
    ("seuser", "SELinux contexts are not supported"),
    ("serole", "SELinux contexts are not supported"),
    ("setype", "SELinux contexts are not supported"),
    ("selevel", "SELinux contexts are not supported"),
]);

/// The `tar --diff` lines that make an archive "not unarchived", as
/// Ansible's `TgzArchive.is_unarchived` filters them: owner and group
/// differences count only when running as root without `owner`/`group`,
/// mode differences only without `mode`.
pub fn diff_pattern(root: bool, owner: bool, group: bool, mode: bool) -> String {
    let mut alts = vec![
        ": Mod time differs$",
        ": Warning: Cannot stat: No such file or directory$",
        ": Invalid owner",
        ": Invalid group",
        ": Symlink differs$",
        ": Contents differ$",
        ": Size differs$",
    ];
    if root && !owner {
        alts.push(": Uid differs$");
    }
    if root && !group {
        alts.push(": Gid differs$");
    }
    if !mode {
        alts.push(": Mode differs$");
    }
    alts.join("|")
}

/// Ansible's bogus line for empty names (`--strip-components`), ignored.
const EMPTY_FILE: &str = ": : Warning: Cannot stat: No such file or directory$";

/// One `unarchive` task on one host.
#[derive(Debug)]
pub struct UnarchiveAction {
    src: String,
    /// The archive's bytes when it comes from the controller.
    local: Option<Vec<u8>>,
    dest: String,
    creates: Option<String>,
    list_files: bool,
    keep_newer: bool,
    exclude: Vec<String>,
    include: Vec<String>,
    extra_opts: Vec<String>,
    attrs: Attrs,
    check: bool,
}

impl Module for Unarchive {
    fn name(&self) -> &'static str {
        "unarchive"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: &Args, ctx: &dyn TaskContext) -> Result<Box<dyn Action>, ModuleError> {
        Ok(Box::new(UnarchiveAction::new(args, ctx)?))
    }
}

impl UnarchiveAction {
    /// The action for a task's arguments.
    pub fn new(args: &Args, ctx: &dyn TaskContext) -> Result<Self, ModuleError> {
        let src = args.str("src")?;
        let remote = match args.get("copy") {
            Some(_) => !args.bool_or("copy", true)?,
            None => args.bool_or("remote_src", false)?,
        };
        if src.contains("://") {
            return Err(ModuleError::Arg {
                arg: "src".into(),
                message: "stead's unarchive does not download URLs; fetch the archive with get_url first".into(),
            });
        }
        let local = if remote {
            None
        } else {
            let path = ctx.find_file(&src, "files")?;
            // A vault-encrypted archive is decrypted unless `decrypt: false`, as in Ansible.
            Some(super::read_local_file(&path, args.bool_or("decrypt", true)?)?.0)
        };
        Ok(UnarchiveAction {
            src,
            local,
            dest: args.str("dest")?,
            creates: args.opt_str("creates")?.filter(|s| !s.is_empty()),
            list_files: args.bool_or("list_files", false)?,
            keep_newer: args.bool_or("keep_newer", false)?,
            exclude: args.str_list("exclude")?.into_iter().map(|e| e.trim_end_matches('/').to_owned()).collect(),
            include: args.str_list("include")?,
            extra_opts: args.str_list("extra_opts")?,
            attrs: Attrs::from_args(args)?,
            check: ctx.check_mode(),
        })
    }
}

fn words(items: &[String]) -> String {
    items.iter().map(|i| format!(" {}", quote(i))).collect()
}

impl UnarchiveAction {
    /// The comparison (and, unless `dry`, the unpacking and attributes).
    pub fn script(&self, dry: bool) -> String {
        let mut s = String::from("LC_ALL=C\nexport LC_ALL\ndie() { printf '%s\\n' \"$*\" >&2; exit 1; }\n");
        s.push_str(&format!("d={}\n", quote(&self.dest)));
        s.push_str("[ -d \"$d\" ] || die \"dest '$d' must be an existing dir\"\n");
        s.push_str(
            "tmpsrc=\nlist=$(mktemp) || exit 1\nout=$(mktemp) || exit 1\nerr=$(mktemp) || exit 1\n\
             trap 'rm -f -- \"$list\" \"$out\" \"$err\" ${tmpsrc:+\"$tmpsrc\"}' EXIT\ntrap 'exit 1' HUP INT TERM\n",
        );
        match &self.local {
            Some(bytes) => {
                let sum = file_state::sha256_hex(bytes);
                s.push_str(&format!(
                    "tmpsrc=$(mktemp) || exit 1\nsrc=$tmpsrc\ncat > \"$src\"\n\
                     n=$(wc -c < \"$src\"); [ \"$((n + 0))\" -eq {len} ] || die \"received $((n + 0)) of {len} bytes of the archive\"\n\
                     h=$(sha256sum < \"$src\"); [ \"${{h%% *}}\" = {sum} ] || die 'the received archive does not match its checksum'\n",
                    len = bytes.len()
                ));
            }
            None => s.push_str(&format!(
                "src={}\n[ -e \"$src\" ] || die \"Source '$src' does not exist\"\n\
                 [ -r \"$src\" ] || die \"Source '$src' not readable\"\n",
                quote(&self.src)
            )),
        }
        s.push_str("[ -s \"$src\" ] || die \"Invalid archive '$src', the file is 0 bytes\"\n");
        s.push_str(
            "magic=$(head -c 6 -- \"$src\" | od -An -tx1 | tr -d ' \\n')\nflag=\n\
             case $magic in\n  504b0304* | 504b0506* | 504b0708*) kind=zip handler=ZipArchive ;;\n  \
             1f8b*) kind=tar flag=-z handler=TgzArchive ;;\n  425a68*) kind=tar flag=-j handler=TarArchive ;;\n  \
             fd377a585a00*) kind=tar flag=-J handler=TarArchive ;;\n  28b52ffd*) kind=tar flag=--zstd handler=TarArchive ;;\n  \
             *) kind=tar handler=TarArchive ;;\nesac\nprintf 'stead-unarchive handler %s\\n' \"$handler\"\n",
        );
        // (Ansible tries gzip before plain tar, and GNU tar reads bzip2, xz
        // and zstd as a plain tar: those are Ansible's `TarArchive`.)
        // Exclude patterns, as shell globs (fnmatch) held in variables.
        let mut filter = String::from("keep() {\n  case $1 in\n");
        for (i, pat) in self.exclude.iter().enumerate() {
            s.push_str(&format!("x{i}={}\n", quote(pat)));
            filter.push_str(&format!("    $x{i}) return 1 ;;\n"));
        }
        filter.push_str("  esac\n  return 0\n}\n");
        // Zip members are also kept only when they match an include.
        filter.push_str("keepz() {\n  keep \"$1\" || return 1\n");
        if !self.include.is_empty() {
            filter.push_str("  case $1 in\n");
            for (i, pat) in self.include.iter().enumerate() {
                s.push_str(&format!("i{i}={}\n", quote(pat)));
                filter.push_str(&format!("    $i{i}) return 0 ;;\n"));
            }
            filter.push_str("  esac\n  return 1\n");
        }
        filter.push_str("}\n");
        s.push_str(&filter);
        let excludes: String = self.exclude.iter().map(|e| format!(" {}", quote(&format!("--exclude={e}")))).collect();
        let includes = words(&self.include);
        let transformed = if self.extra_opts.is_empty() {
            String::new()
        } else {
            format!(" --show-transformed-names{}", words(&self.extra_opts))
        };
        let mut tar_attrs = String::new();
        if let Some(o) = &self.attrs.owner {
            tar_attrs.push_str(&format!(" {}", quote(&format!("--owner={o}"))));
        }
        if let Some(g) = &self.attrs.group {
            tar_attrs.push_str(&format!(" {}", quote(&format!("--group={g}"))));
        }
        if self.keep_newer {
            tar_attrs.push_str(" --keep-newer-files");
        }
        let pattern = |root| {
            quote(&diff_pattern(
                root,
                self.attrs.owner.is_some(),
                self.attrs.group.is_some(),
                self.attrs.mode.is_some(),
            ))
            .into_owned()
        };
        s.push_str(&format!(
            "need=0\nif [ \"$kind\" = tar ]; then\n  \
             command -v tar >/dev/null 2>&1 || die \"Unable to find required 'gtar' or 'tar' binary in the path\"\n  \
             tar --list --quoting-style=literal -C \"$d\" $flag{transformed}{excludes} -f \"$src\" --{includes} > \"$out\" 2>\"$err\" || \
             die \"Unable to list files in the archive: $(cat -- \"$err\")\"\n  \
             while IFS= read -r f; do f=${{f#/}}; if keep \"$f\"; then printf '%s\\n' \"$f\"; fi; done < \"$out\" > \"$list\"\n  \
             tar --diff -C \"$d\" $flag{transformed}{tar_attrs}{excludes} -f \"$src\" --{includes} > \"$out\" 2>&1\n  \
             if [ \"$(id -u)\" = 0 ]; then pat={root}; else pat={user}; fi\n  \
             if grep -E -e \"$pat\" -- \"$out\" | grep -v -E -e {empty} >/dev/null; then need=1; fi\n\
             else\n  \
             command -v unzip >/dev/null 2>&1 || die \"Unable to find required 'unzip' or 'zipinfo' binary in the path\"\n  \
             unzip -Z1 -- \"$src\" > \"$out\" 2>\"$err\" || die \"Unable to list files in the archive: $(cat -- \"$err\")\"\n  \
             while IFS= read -r f; do if keepz \"$f\"; then printf '%s\\n' \"$f\"; fi; done < \"$out\" > \"$list\"\n  \
             while IFS= read -r f; do\n    \
             case $f in\n      */) [ -d \"$d/$f\" ] || {{ need=1; break; }} ;;\n      \
             *) if [ -f \"$d/$f\" ] && unzip -p -- \"$src\" \"$f\" 2>/dev/null | cmp -s - \"$d/$f\"; then :; else need=1; break; fi ;;\n    \
             esac\n  done < \"$list\"\nfi\n",
            root = pattern(true),
            user = pattern(false),
            empty = quote(EMPTY_FILE),
        ));
        s.push_str("printf 'stead-unarchive need %s\\n' \"$need\"\n");
        if !dry {
            let zip_excludes =
                if self.exclude.is_empty() { String::new() } else { format!(" -x{}", words(&self.exclude)) };
            s.push_str(&format!(
                "if [ \"$need\" = 1 ]; then\n  \
                 if [ \"$kind\" = tar ]; then\n    \
                 set -- tar --extract -C \"$d\" $flag{transformed}{tar_attrs}{excludes} -f \"$src\" --{includes}\n  \
                 else\n    set -- unzip -o{extra} \"$src\"{includes}{zip_excludes} -d \"$d\"\n  fi\n  \
                 rc=0; \"$@\" > \"$out\" 2>\"$err\" || rc=$?\n  \
                 printf 'stead-unarchive rc %s\\n' \"$rc\"\n  \
                 c=\"$*\"; printf 'stead-unarchive cmd %s\\n%s\\n' \"${{#c}}\" \"$c\"\n  \
                 n=$(wc -c < \"$out\"); printf 'stead-unarchive out %s\\n' \"$((n + 0))\"; cat -- \"$out\"; printf '\\n'\n  \
                 n=$(wc -c < \"$err\"); printf 'stead-unarchive err %s\\n' \"$((n + 0))\"; cat -- \"$err\"; printf '\\n'\n  \
                 [ \"$rc\" = 0 ] || exit {UNPACK_FAILED}\nfi\n",
                extra = words(&self.extra_opts),
            ));
            if self.attrs.any() {
                s.push_str(&self.attrs_lines());
            }
        }
        s.push_str(
            "n=$(wc -c < \"$list\"); printf 'stead-unarchive files %s\\n' \"$((n + 0))\"; cat -- \"$list\"; printf '\\n'\n\
             p=$d\nprintf 'stead-file-state 1\\n'\n",
        );
        s.push_str(&Probe::new("").sha256(false).content_limit(None).body());
        s
    }

    /// Lines giving every member (and every top folder) the requested
    /// attributes; `attrs 1` is printed when one of them changed.
    fn attrs_lines(&self) -> String {
        let mut cmds = String::new();
        if let Some(text) = &self.attrs.mode_text {
            cmds.push_str(&format!("chmod {} -- \"$t\"; ", quote(&file_write::chmod_symbolic(text))));
        } else if let Some(m) = self.attrs.target_mode(None, false) {
            cmds.push_str(&format!("chmod 0{m:04o} -- \"$t\"; "));
        }
        if let Some(o) = &self.attrs.owner {
            cmds.push_str(&format!("chown -h -- {} \"$t\"; ", quote(o)));
        }
        if let Some(g) = &self.attrs.group {
            cmds.push_str(&format!("chgrp -h -- {} \"$t\"; ", quote(g)));
        }
        format!(
            "attrs=0\n{{ cat -- \"$list\"; sed -n 's|^\\([^/]*\\)/.*|\\1|p' \"$list\" | sort -u; }} > \"$out\"\n\
             while IFS= read -r f; do\n  f=${{f%/}}; [ -n \"$f\" ] || continue; t=\"$d/$f\"\n  \
             [ -e \"$t\" ] || [ -L \"$t\" ] || continue\n  \
             if [ -L \"$t\" ]; then m0=$(stat -c '%u %g' -- \"$t\"); else m0=$(stat -c '%a %u %g' -- \"$t\"); fi\n  \
             if [ -L \"$t\" ]; then :; else {cmds}fi\n  \
             if [ -L \"$t\" ]; then m1=$(stat -c '%u %g' -- \"$t\"); else m1=$(stat -c '%a %u %g' -- \"$t\"); fi\n  \
             [ \"$m0\" = \"$m1\" ] || attrs=1\ndone < \"$out\"\nprintf 'stead-unarchive attrs %s\\n' \"$attrs\"\n"
        )
    }
}

/// What the script reported.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Ansible's handler class name.
    pub handler: String,
    /// The archive and dest differed.
    pub need: bool,
    /// An attribute was changed.
    pub attrs: bool,
    /// Members, as listed.
    pub files: Vec<String>,
    /// `extract_results`: command, exit status, output, errors.
    pub extract: Option<(String, i64, String, String)>,
}

/// Parses the script's output (up to the final state of `dest`).
pub fn parse_report(stdout: &[u8]) -> Result<(Report, Option<file_state::FileState>), ModuleError> {
    let bad = |w: &str| ModuleError::Probe(format!("bad unarchive output: {w}"));
    let mut r = Report::default();
    let mut pos = 0;
    let mut cmd = String::new();
    let mut rc = 0;
    let mut out = String::new();
    let mut err = String::new();
    let mut extracted = false;
    while pos < stdout.len() {
        let rest = &stdout[pos..];
        if rest.starts_with(b"stead-file-state 1\n") {
            return Ok((finish_report(r, extracted, cmd, rc, out, err), file_state::parse(rest).ok()));
        }
        let end = rest.iter().position(|&b| b == b'\n').ok_or_else(|| bad("unterminated line"))?;
        let line = String::from_utf8_lossy(&rest[..end]).into_owned();
        pos += end + 1;
        let Some(field) = line.strip_prefix("stead-unarchive ") else { continue };
        let (k, v) = field.split_once(' ').unwrap_or((field, ""));
        let section = |pos: &mut usize| -> Result<String, ModuleError> {
            let n: usize = v.parse().map_err(|_| bad("length"))?;
            let data = stdout.get(*pos..*pos + n).ok_or_else(|| bad("truncated"))?;
            *pos += n + 1;
            Ok(String::from_utf8_lossy(data).into_owned())
        };
        match k {
            "handler" => r.handler = v.to_owned(),
            "need" => r.need = v == "1",
            "attrs" => r.attrs = v == "1",
            "rc" => {
                rc = v.parse().unwrap_or(-1);
                extracted = true;
            }
            "cmd" => cmd = section(&mut pos)?,
            "out" => out = section(&mut pos)?,
            "err" => err = section(&mut pos)?,
            "files" => r.files = section(&mut pos)?.lines().map(str::to_owned).collect(),
            _ => {}
        }
    }
    Ok((finish_report(r, extracted, cmd, rc, out, err), None))
}

fn finish_report(mut r: Report, extracted: bool, cmd: String, rc: i64, out: String, err: String) -> Report {
    if extracted {
        r.extract = Some((cmd, rc, out, err));
    }
    r
}

impl UnarchiveAction {
    fn result(&self, report: &Report, state: Option<&file_state::FileState>) -> ResultMap {
        let mut r = ResultMap::new();
        r.insert("handler".into(), report.handler.clone().into());
        r.insert("dest".into(), self.dest.clone().into());
        r.insert("src".into(), self.src.clone().into());
        if let Some((cmd, rc, out, err)) = &report.extract {
            r.insert("extract_results".into(), serde_json::json!({"cmd": cmd, "rc": rc, "out": out, "err": err}));
        }
        if self.list_files {
            r.insert("files".into(), Value::from(report.files.clone()));
        }
        if let Some(st) = state {
            file_write::fill_state(&mut r, st);
        }
        r
    }
}

impl Action for UnarchiveAction {
    fn paths(&self) -> Option<Vec<String>> {
        let mut p = vec![self.dest.clone()];
        if self.local.is_none() {
            p.push(self.src.clone());
        }
        p.extend(self.creates.clone());
        Some(p)
    }

    fn probe(&self) -> Option<String> {
        let mut s = String::new();
        if let Some(c) = &self.creates {
            s.push_str(&format!("if [ -e {} ]; then printf 'stead-unarchive creates\\n'; exit 0; fi\n", quote(c)));
        }
        // In check mode, a zip archive on the host is compared read-only.
        if self.check && self.local.is_none() {
            s.push_str(&self.script(true));
        } else {
            s.push_str("printf 'stead-unarchive ready\\n'\n");
        }
        Some(s)
    }

    fn compare(&mut self, probe: Option<&ExecOutput>) -> Result<Plan, ModuleError> {
        let out = probe.ok_or_else(|| ModuleError::Probe("the unarchive probe did not run".into()))?;
        if out.stdout.starts_with(b"stead-unarchive creates\n") {
            let msg = format!("skipped, since {} exists", self.creates.clone().unwrap_or_default());
            let mut result = ResultMap::new();
            result.insert("msg".into(), msg.clone().into());
            return Ok(Plan { skipped: true, msg: Some(msg), result, ..Plan::ok() });
        }
        if self.check {
            let skip = |msg: &str| {
                let mut result = ResultMap::new();
                result.insert("msg".into(), msg.into());
                Ok(Plan { skipped: true, unpredictable: true, msg: Some(msg.into()), result, ..Plan::ok() })
            };
            if self.local.is_some() {
                // The archive would have to be uploaded to compare it.
                return skip(
                    "stead does not upload a controller archive in check mode; run without --check to compare",
                );
            }
            if out.status != 0 {
                return Err(ModuleError::failed(out.stderr_text().trim().to_owned()));
            }
            let (report, state) = parse_report(&out.stdout)?;
            if report.handler != "ZipArchive" {
                return skip("remote module (unarchive) does not support check mode when using gtar");
            }
            let mut plan = Plan { changed: report.need, result: self.result(&report, state.as_ref()), ..Plan::ok() };
            if report.need {
                plan.diff = Some(super::Diff::state(
                    &self.dest,
                    &[("archive", "differs".to_owned())],
                    &[("archive", format!("unpacked from {}", self.src))],
                ));
            }
            return Ok(plan);
        }
        let script = self.script(false);
        let stdin = self.local.clone().unwrap_or_default();
        Ok(Plan { apply: Some(ApplyScript { script, stdin }), ..Plan::ok() })
    }

    fn finish(&mut self, mut plan: Plan, out: &ExecOutput) -> Result<Plan, ModuleError> {
        let (report, state) = parse_report(&out.stdout).unwrap_or_default();
        let mut result = self.result(&report, state.as_ref());
        match out.status {
            0 => {
                plan.changed = report.need || report.attrs;
                if plan.changed {
                    plan.diff = Some(super::Diff::state(
                        &self.dest,
                        &[("archive", if report.need { "differs" } else { "unpacked" }.to_owned())],
                        &[("archive", format!("unpacked from {}", self.src))],
                    ));
                }
                result.insert("changed".into(), plan.changed.into());
                plan.result = result;
                Ok(plan)
            }
            UNPACK_FAILED => {
                let msg = format!("failed to unpack {} to {}", self.src, self.dest);
                result.insert("msg".into(), msg.clone().into());
                Err(ModuleError::Failed { msg, result })
            }
            _ => {
                let err = out.stderr_text();
                let msg = if err.trim().is_empty() {
                    format!("unarchive failed (exit {})", out.status)
                } else {
                    err.trim().to_owned()
                };
                result.insert("msg".into(), msg.clone().into());
                Err(ModuleError::Failed { msg, result })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::file_write::testing::{run, FakeCtx, HOSTILE};
    use serde_json::json;
    use std::process::Command;

    #[test]
    fn diff_lines_count_as_ansible_counts_them() {
        let p = diff_pattern(true, false, false, false);
        assert!(p.contains("Uid differs") && p.contains("Mode differs"));
        let p = diff_pattern(true, true, true, true);
        assert!(!p.contains("Uid differs") && !p.contains("Gid differs") && !p.contains("Mode differs"));
        assert!(!diff_pattern(false, false, false, false).contains("Uid"));
    }

    fn action(ctx: &FakeCtx, args: Value, check: bool) -> UnarchiveAction {
        let args = Args::new(&SPEC, args.as_object().unwrap().clone());
        let mut a = UnarchiveAction::new(&args, ctx).unwrap();
        a.check = check;
        a
    }

    fn apply(a: &mut UnarchiveAction) -> Result<Plan, ModuleError> {
        let probe = run(&a.probe().unwrap(), b"");
        let plan = a.compare(Some(&probe))?;
        match plan.apply.clone() {
            Some(ap) => {
                let out = run(&ap.script, &ap.stdin);
                a.finish(plan, &out)
            }
            None => Ok(plan),
        }
    }

    #[test]
    fn a_tarball_unpacks_converges_and_restores_a_changed_file() {
        let ctx = FakeCtx::default();
        let root = ctx.root();
        std::fs::create_dir_all(root.join("tree/app")).unwrap();
        std::fs::write(root.join("tree/app/a.txt"), "a\n").unwrap();
        std::fs::write(root.join("tree/app/b.txt"), "b\n").unwrap();
        let tgz = root.join("files/app.tar.gz");
        std::fs::create_dir_all(tgz.parent().unwrap()).unwrap();
        let ok =
            Command::new("tar").arg("-czf").arg(&tgz).arg("-C").arg(root.join("tree")).arg("app").status().unwrap();
        assert!(ok.success());
        let dest = root.join(HOSTILE);
        std::fs::create_dir_all(&dest).unwrap();
        let args = json!({"src": "app.tar.gz", "dest": dest.display().to_string(), "list_files": true, "mode": "u=rwX,g=rX,o="});
        let plan = apply(&mut action(&ctx, args.clone(), false)).unwrap();
        assert!(plan.changed, "{:?}", plan.result);
        assert_eq!(plan.result["handler"], "TgzArchive");
        let mut files: Vec<String> = serde_json::from_value(plan.result["files"].clone()).unwrap();
        files.sort();
        assert_eq!(files, ["app/", "app/a.txt", "app/b.txt"]);
        assert_eq!(std::fs::read_to_string(dest.join("app/a.txt")).unwrap(), "a\n");
        let plan = apply(&mut action(&ctx, args.clone(), false)).unwrap();
        assert!(!plan.changed, "{:?}", plan.result);
        std::fs::write(dest.join("app/b.txt"), "changed\n").unwrap();
        let plan = apply(&mut action(&ctx, args.clone(), false)).unwrap();
        assert!(plan.changed);
        assert_eq!(std::fs::read_to_string(dest.join("app/b.txt")).unwrap(), "b\n");
        // Check mode skips tar, as Ansible.
        let plan = apply(&mut action(&ctx, args, true)).unwrap();
        assert!(plan.skipped);
        assert!(!root.join("pwned").exists());
    }

    #[test]
    fn a_zip_on_the_host_is_compared_in_check_mode() {
        if Command::new("sh")
            .args(["-c", "command -v unzip && command -v zip"])
            .output()
            .map_or(true, |o| !o.status.success())
        {
            return;
        }
        let ctx = FakeCtx::default();
        let root = ctx.root();
        std::fs::create_dir_all(root.join("tree/z")).unwrap();
        std::fs::write(root.join("tree/z/one.txt"), "1\n").unwrap();
        let zip = root.join("a.zip");
        let ok = Command::new("sh")
            .arg("-c")
            .arg(format!("cd '{}' && zip -qr '{}' z", root.join("tree").display(), zip.display()))
            .status()
            .unwrap();
        assert!(ok.success());
        let dest = root.join("out");
        std::fs::create_dir_all(&dest).unwrap();
        let args = json!({"src": zip.display().to_string(), "dest": dest.display().to_string(), "remote_src": true});
        let plan = apply(&mut action(&ctx, args.clone(), true)).unwrap();
        assert!(plan.changed && plan.apply.is_none());
        assert!(!dest.join("z").exists());
        assert!(apply(&mut action(&ctx, args.clone(), false)).unwrap().changed);
        assert!(!apply(&mut action(&ctx, args.clone(), true)).unwrap().changed);
        assert!(!apply(&mut action(&ctx, args, false)).unwrap().changed);
    }
}
