//! `fetch`: copy a file from the host to the controller, as
//! `ansible.builtin.fetch`: into `dest/<inventory_hostname>/<src path>`, or
//! exactly `dest` with `flat`.
//!
//! The probe reads the host's file (its SHA-1 and MD5, with `sha1sum` and
//! `md5sum`); compare works out the controller path as Ansible does and
//! reads the local copy's SHA-1: the same checksum is "ok", nothing moves.
//! Otherwise the apply script is `cat` of the file: its bytes come back on
//! the apply's standard output (which has no size limit, unlike the
//! command line), and [`Action::finish`] checks them against the probed
//! checksum (`validate_checksum`) before writing them on the controller
//! atomically (a temporary file in the destination's directory, then a
//! rename). The executor skips the apply in check mode, so a dry run
//! writes nothing, on the host or here. No executor support is needed
//! beyond `finish`: the controller-side write is the finish of a read-only
//! remote script.
//!
//! This module never builds a shell string by hand: every value goes
//! through [`crate::transport::quote::quote`].

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::find::normpath;
use super::{
    Action, ApplyScript, ArgKind, ArgSpec, Args, Diff, Module, ModuleError, ModuleSpec, Plan, ResultMap, TaskContext,
};
use crate::transport::quote::quote;
use crate::transport::ExecOutput;

/// The `fetch` module.
pub struct Fetch;

const MARKER: &str = "stead-fetch 1";

static SPEC: ModuleSpec = ModuleSpec::new(&[
    ArgSpec::new("src", ArgKind::Str).required(),
    ArgSpec::new("dest", ArgKind::Str).required(),
    ArgSpec::new("flat", ArgKind::Bool),
    ArgSpec::new("fail_on_missing", ArgKind::Bool),
    ArgSpec::new("validate_checksum", ArgKind::Bool),
]);

impl Module for Fetch {
    fn name(&self) -> &'static str {
        "fetch"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: &Args, ctx: &dyn TaskContext) -> Result<Box<dyn Action>, ModuleError> {
        let text = |v: Value| match v {
            Value::String(s) => Some(s),
            _ => None,
        };
        // Ansible's `playbook_dir` is absolute; stead's is as the playbook
        // was named (empty for `site.yml`), so relative ones are taken from
        // the current directory here, never from `/`.
        let base = PathBuf::from(ctx.eval("playbook_dir").ok().and_then(text).unwrap_or_default());
        let base = if base.is_absolute() {
            base
        } else {
            std::env::current_dir()
                .map_err(|e| ModuleError::failed(format!("cannot find the current directory: {e}")))?
                .join(base)
        };
        let host = ctx.eval("inventory_hostname").ok().and_then(text).unwrap_or_default();
        Ok(Box::new(FetchAction {
            src: args.str("src")?,
            dest: args.str("dest")?,
            flat: args.bool_or("flat", false)?,
            fail_on_missing: args.bool_or("fail_on_missing", true)?,
            validate_checksum: args.bool_or("validate_checksum", true)?,
            base,
            host,
            remote: None,
            local: None,
        }))
    }
}

/// What the probe saw at `src`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote {
    /// The path after `~` expansion on the host.
    pub path: String,
    /// What is there.
    pub state: RemoteState,
}

/// The kind of thing at `src`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteState {
    /// Nothing.
    Missing,
    /// A directory.
    Dir,
    /// A file the login cannot read.
    Unreadable,
    /// A file, with its SHA-1 and (when `md5sum` exists) MD5.
    File {
        /// `sha1sum`.
        sha1: String,
        /// `md5sum`.
        md5: Option<String>,
    },
}

/// One `fetch` task on one host.
#[derive(Debug)]
pub struct FetchAction {
    src: String,
    dest: String,
    flat: bool,
    fail_on_missing: bool,
    validate_checksum: bool,
    base: PathBuf,
    host: String,
    remote: Option<Remote>,
    local: Option<String>,
}

/// Ansible's `path_dwim`: absolute and `~` paths as they are (`~`
/// expanded), others beside the playbook.
fn dwim(given: &str, base: &Path) -> String {
    if given.starts_with('/') {
        normpath(given)
    } else if let Some(rest) = given.strip_prefix('~') {
        let home = std::env::var("HOME").unwrap_or_default();
        normpath(&format!("{home}{rest}"))
    } else {
        normpath(&format!("{}/{given}", base.display()))
    }
}

fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The controller path a fetch writes: Ansible's layout rules. `is_dir`
/// tells whether a controller path is an existing directory.
pub fn local_dest(
    dest: &str,
    src: &str,
    flat: bool,
    host: &str,
    base: &Path,
    is_dir: &dyn Fn(&str) -> bool,
) -> Result<String, ModuleError> {
    if !flat {
        return Ok(normpath(&format!("{}/{host}/{src}", dwim(dest, base))));
    }
    let mut d = dest.to_owned();
    if is_dir(&d) && !d.ends_with('/') {
        return Err(ModuleError::failed(
            "dest is an existing directory, use a trailing slash if you want to fetch src into that directory",
        ));
    }
    if d.ends_with('/') {
        d = format!("{d}{}", basename(src));
        if is_dir(&d) {
            return Err(ModuleError::failed(format!(
                "calculated dest '{d}' is an existing directory, use another path that does not point to an existing directory"
            )));
        }
    }
    if !d.starts_with('/') {
        d = dwim(&d, base);
    }
    Ok(normpath(&d))
}

fn parse(stdout: &[u8]) -> Result<Remote, ModuleError> {
    let bad = || ModuleError::Probe("bad fetch probe output".into());
    let text = stdout;
    let mut pos = 0;
    let line = |pos: &mut usize| -> Result<String, ModuleError> {
        let rest = &text[*pos..];
        let end = rest.iter().position(|&b| b == b'\n').ok_or_else(bad)?;
        *pos += end + 1;
        Ok(String::from_utf8_lossy(&rest[..end]).into_owned())
    };
    if line(&mut pos)? != MARKER {
        return Err(bad());
    }
    let n: usize = line(&mut pos)?.strip_prefix("path ").and_then(|n| n.parse().ok()).ok_or_else(bad)?;
    if text.len() < pos + n + 1 {
        return Err(bad());
    }
    let path = String::from_utf8_lossy(&text[pos..pos + n]).into_owned();
    pos += n + 1;
    let state = match line(&mut pos)?.as_str() {
        "missing" => RemoteState::Missing,
        "dir" => RemoteState::Dir,
        "unreadable" => RemoteState::Unreadable,
        l => {
            let sha1 = l.strip_prefix("sha1 ").ok_or_else(bad)?.to_owned();
            let md5 = line(&mut pos).ok().and_then(|l| l.strip_prefix("md5 ").map(str::to_owned));
            RemoteState::File { sha1, md5 }
        }
    };
    Ok(Remote { path, state })
}

/// The SHA-1 of a controller file, as Ansible's `checksum()` (`None` when
/// it is missing or a directory).
fn local_sha1(path: &str) -> Option<String> {
    let p = Path::new(path);
    if p.is_dir() {
        return None;
    }
    std::fs::read(p).ok().map(|b| sha1_hex(&b))
}

impl FetchAction {
    fn failed_or_ignored(&self, msg: &str, fail: bool, remote: &str) -> Result<Plan, ModuleError> {
        let mut result = ResultMap::new();
        result.insert("changed".into(), false.into());
        result.insert("file".into(), remote.into());
        if fail {
            return Err(ModuleError::Failed { msg: msg.into(), result });
        }
        result.insert("msg".into(), msg.into());
        Ok(Plan { result, msg: Some(msg.into()), ..Plan::ok() })
    }
}

impl Action for FetchAction {
    fn paths(&self) -> Option<Vec<String>> {
        Some(vec![self.src.clone()])
    }

    fn probe(&self) -> Option<String> {
        Some(format!(
            "LC_ALL=C\nexport LC_ALL\np={}\nprintf '{MARKER}\\npath %s\\n%s\\n' \"${{#p}}\" \"$p\"\n\
             if [ -d \"$p\" ]; then printf 'dir\\n'\n\
             elif [ -e \"$p\" ]; then\n  \
             if [ -r \"$p\" ]; then\n    \
             h=$(sha1sum < \"$p\") || exit 1; printf 'sha1 %s\\n' \"${{h%% *}}\"\n    \
             if m=$(md5sum < \"$p\" 2>/dev/null); then printf 'md5 %s\\n' \"${{m%% *}}\"; fi\n  \
             else printf 'unreadable\\n'; fi\n\
             else printf 'missing\\n'; fi\n",
            super::find::host_path(&self.src)
        ))
    }

    fn compare(&mut self, probe: Option<&ExecOutput>) -> Result<Plan, ModuleError> {
        let out = probe.ok_or_else(|| ModuleError::Probe("the fetch probe did not run".into()))?;
        if out.status != 0 {
            return Err(ModuleError::failed(format!("cannot read {}: {}", self.src, out.stderr_text().trim())));
        }
        let remote = parse(&out.stdout)?;
        let (sha1, md5) = match &remote.state {
            RemoteState::Missing => {
                return self.failed_or_ignored(
                    "the remote file does not exist, not transferring, ignored",
                    self.fail_on_missing,
                    &remote.path,
                )
            }
            RemoteState::Dir if self.fail_on_missing => {
                return self.failed_or_ignored(
                    "remote file is a directory, fetch cannot work on directories",
                    true,
                    &remote.path,
                )
            }
            RemoteState::Dir => {
                return self.failed_or_ignored(
                    "remote file is a directory, fetch cannot work on directories, not transferring, ignored",
                    false,
                    &remote.path,
                )
            }
            RemoteState::Unreadable => {
                return self.failed_or_ignored(
                    &format!("file is not readable: {}", remote.path),
                    self.fail_on_missing,
                    &remote.path,
                )
            }
            RemoteState::File { sha1, md5 } => (sha1.clone(), md5.clone()),
        };
        let dest = local_dest(&self.dest, &remote.path, self.flat, &self.host, &self.base, &|p| Path::new(p).is_dir())?;
        let local = local_sha1(&dest);
        self.remote = Some(remote.clone());
        self.local = Some(dest.clone());
        let mut plan = if local.as_deref() == Some(sha1.as_str()) {
            let mut plan = Plan::ok();
            plan.result = json!({"changed": false, "md5sum": md5, "file": remote.path, "dest": dest, "checksum": sha1})
                .as_object()
                .cloned()
                .unwrap_or_default();
            plan
        } else {
            let script = format!("p={}\nexec cat -- \"$p\"\n", quote(&remote.path));
            let mut plan = Plan::change(ApplyScript { script, stdin: Vec::new() });
            plan.diff = Some(Diff::state(
                &format!("{}:{} -> {dest}", self.host, remote.path),
                &[("checksum", local.unwrap_or_else(|| "(absent)".into()))],
                &[("checksum", sha1.clone())],
            ));
            plan.result = json!({
                "changed": true, "md5sum": md5, "dest": dest, "remote_md5sum": null,
                "checksum": sha1, "remote_checksum": sha1,
            })
            .as_object()
            .cloned()
            .unwrap_or_default();
            plan
        };
        plan.result.insert("changed".into(), plan.changed.into());
        Ok(plan)
    }

    fn finish(&mut self, mut plan: Plan, out: &ExecOutput) -> Result<Plan, ModuleError> {
        let (Some(remote), Some(dest)) = (&self.remote, &self.local) else {
            return Err(ModuleError::Probe("fetch finished before it compared".into()));
        };
        if out.status != 0 {
            return Err(ModuleError::failed(format!(
                "Failed to fetch the file: {} (exit {}): {}",
                remote.path,
                out.status,
                out.stderr_text().trim()
            )));
        }
        let RemoteState::File { sha1, .. } = &remote.state else {
            return Err(ModuleError::Probe("fetch applied without a remote file".into()));
        };
        let got = sha1_hex(&out.stdout);
        if self.validate_checksum && &got != sha1 {
            let mut result = ResultMap::new();
            for (k, v) in [
                ("file", json!(remote.path)),
                ("dest", json!(dest)),
                ("checksum", json!(got)),
                ("remote_checksum", json!(sha1)),
                ("remote_md5sum", Value::Null),
            ] {
                result.insert(k.into(), v);
            }
            return Err(ModuleError::Failed { msg: "checksum mismatch".into(), result });
        }
        write_atomically(Path::new(dest), &out.stdout)
            .map_err(|e| ModuleError::failed(format!("Failed to fetch the file: {e}")))?;
        plan.result.insert("checksum".into(), got.into());
        if &sha1_hex(&out.stdout) != sha1 {
            // Changed between the probe and the copy; the MD5 is of the old bytes.
            plan.result.insert("md5sum".into(), Value::Null);
        }
        Ok(plan)
    }
}

/// Writes `data` to `dest` on the controller: parents made, a temporary file
/// in the same directory, the old file's mode kept (0644 for a new one),
/// then a rename over `dest`.
fn write_atomically(dest: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let dir = dest.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mode = std::fs::metadata(dest).map(|m| m.permissions().mode() & 0o7777).unwrap_or(0o644);
    let mut tmp = tempfile::Builder::new().prefix(".stead-fetch").tempfile_in(dir)?;
    tmp.write_all(data)?;
    tmp.as_file().sync_all()?;
    tmp.as_file().set_permissions(std::fs::Permissions::from_mode(mode))?;
    tmp.persist(dest).map_err(|e| e.error)?;
    Ok(())
}

/// SHA-1 (FIPS 180-4), hex: Ansible's `checksum` of a fetched file.
pub fn sha1_hex(data: &[u8]) -> String {
    use sha1::Digest;
    sha1::Sha1::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::file_write::testing::{run, HOSTILE};

    fn action(src: &str, dest: &str, flat: bool, base: &Path) -> FetchAction {
        FetchAction {
            src: src.into(),
            dest: dest.into(),
            flat,
            fail_on_missing: true,
            validate_checksum: true,
            base: base.to_owned(),
            host: "h1".into(),
            remote: None,
            local: None,
        }
    }

    #[test]
    fn sha1_matches_known_vectors() {
        assert_eq!(sha1_hex(b""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        assert_eq!(sha1_hex(b"abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
        let long = vec![b'a'; 1000];
        let out = run("head -c 1000 /dev/zero | tr '\\0' a | sha1sum", b"");
        assert_eq!(sha1_hex(&long), String::from_utf8_lossy(&out.stdout)[..40]);
    }

    #[test]
    fn destinations_follow_ansibles_layout() {
        let base = Path::new("/play");
        let no_dirs = |_: &str| false;
        let d = |dest: &str, src: &str, flat: bool| local_dest(dest, src, flat, "h1", base, &no_dirs);
        assert_eq!(d("backups", "/etc/hostname", false).unwrap(), "/play/backups/h1/etc/hostname");
        assert_eq!(d("/srv/b/", "/etc//x", false).unwrap(), "/srv/b/h1/etc/x");
        assert_eq!(d("out/", "/etc/hostname", true).unwrap(), "/play/out/hostname");
        assert_eq!(d("/tmp/one", "/etc/hostname", true).unwrap(), "/tmp/one");
        let dirs = |p: &str| p == "/srv/d";
        let e = local_dest("/srv/d", "/etc/x", true, "h1", base, &dirs).unwrap_err();
        assert!(e.to_string().starts_with("dest is an existing directory"), "{e}");
    }

    #[test]
    fn missing_and_directories_fail_or_are_ignored_as_in_ansible() {
        let mut a = action("/nope", "/tmp", false, Path::new("/"));
        let out = |s: &str| ExecOutput { status: 0, stdout: s.as_bytes().to_vec(), stderr: vec![] };
        let e = a.compare(Some(&out("stead-fetch 1\npath 5\n/nope\nmissing\n"))).unwrap_err();
        assert_eq!(e.to_string(), "the remote file does not exist, not transferring, ignored");
        a.fail_on_missing = false;
        let plan = a.compare(Some(&out("stead-fetch 1\npath 5\n/nope\nmissing\n"))).unwrap();
        assert!(!plan.changed);
        assert_eq!(plan.result["file"], "/nope");
        let plan = a.compare(Some(&out("stead-fetch 1\npath 5\n/nope\ndir\n"))).unwrap();
        assert!(plan.result["msg"].as_str().unwrap().ends_with("not transferring, ignored"));
    }

    #[test]
    fn real_fetch_of_a_hostile_file_is_idempotent_and_validated() {
        let dir = tempfile::tempdir().unwrap();
        let remote_dir = dir.path().join(HOSTILE);
        std::fs::create_dir(&remote_dir).unwrap();
        let src = remote_dir.join("f $(x)");
        std::fs::write(&src, b"bin\0ary\ncontent").unwrap();
        let local = dir.path().join("local");
        let mut a = action(src.to_str().unwrap(), local.to_str().unwrap(), false, dir.path());
        let probe = run(&a.probe().unwrap(), b"");
        assert_eq!(probe.status, 0, "{}", probe.stderr_text());
        let plan = a.compare(Some(&probe)).unwrap();
        assert!(plan.changed);
        let want = format!("{}/h1{}", local.display(), src.display());
        assert_eq!(plan.result["dest"], want.as_str());
        let apply = plan.apply.clone().unwrap();
        let out = run(&apply.script, b"");
        let plan = a.finish(plan, &out).unwrap();
        assert_eq!(std::fs::read(&want).unwrap(), b"bin\0ary\ncontent");
        assert_eq!(plan.result["checksum"], sha1_hex(b"bin\0ary\ncontent"));
        assert_eq!(plan.result["md5sum"].as_str().unwrap().len(), 32);
        let again = a.compare(Some(&run(&a.probe().unwrap(), b""))).unwrap();
        assert!(!again.changed && again.apply.is_none());
        // The file changes between the probe and the copy: refused, nothing written.
        std::fs::write(&want, b"old").unwrap();
        let plan = a.compare(Some(&run(&a.probe().unwrap(), b""))).unwrap();
        std::fs::write(&src, b"newer").unwrap();
        let out = run(&plan.apply.clone().unwrap().script, b"");
        let e = a.finish(plan, &out).unwrap_err();
        assert_eq!(e.to_string(), "checksum mismatch");
        assert_eq!(std::fs::read(&want).unwrap(), b"old");
    }
}
