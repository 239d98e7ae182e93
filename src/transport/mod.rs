//! Connectors: run a shell script on a host, with bytes on its stdin.
//!
//! A connector knows nothing of modules or playbooks. It offers one
//! operation, [`Connection::exec`], that runs a POSIX `sh` script (already
//! assembled from quoted words, see [`quote`]) and returns its exit status
//! and output. `ssh` keeps one multiplexed OpenSSH master per host; `local`
//! runs the same scripts with the local `sh`. Privilege escalation wraps the
//! script here, in one place ([`wrap_become`]).
//!
//! ## Privilege escalation
//!
//! Without a password the wrapping is `sudo -n -H -u USER -- sh -c SCRIPT`
//! (`doas -n -u USER -- ...`, `su USER -c ...`): `-n` makes a sudo that
//! would prompt fail at once, and that failure is
//! [`TransportError::BecomeNeedsPassword`].
//!
//! With a become password (sudo only), the password must reach sudo and
//! nothing else: never a command line (a host's `ps` shows those), never a
//! file at rest, never the user's script. `sudo -S` would read it from
//! stdin, but only when it actually prompts (not under NOPASSWD, not with
//! cached credentials), so the line would then be left on the stdin that
//! also carries file content, and the script would read it. Instead the
//! command is one outer `sh` (the login user's) that:
//!
//! 1. reads the first line of stdin itself (`read -r`, which on a pipe
//!    reads byte by byte and so consumes exactly that line, leaving the
//!    script's own stdin untouched whatever sudo does);
//! 2. writes a tiny askpass helper, mode 0700 in a fresh 0700 `mktemp -d`
//!    directory (`$TMPDIR`, else `/tmp`, else `$HOME`, else `/dev/shm`:
//!    the first where the helper can be executed, since hardened hosts
//!    mount `/tmp` noexec), removed by a trap on every exit. The helper
//!    holds no secret: it prints `$STEAD_BECOME_PASS` from its environment;
//! 3. runs `sudo -A -H -u USER -- sh -c SCRIPT` with `STEAD_BECOME_PASS`
//!    and `SUDO_ASKPASS` set for sudo alone. SCRIPT is the outer shell's
//!    `$1`, so it is quoted once, as without a password, and a batch at
//!    [`MAX_SCRIPT_BYTES`] still fits the kernel's limit on one argument. sudo runs the helper as the
//!    login user; its `env_reset` keeps the variable out of the target
//!    command, and the script unsets it first in case a sudoers says
//!    `!env_reset`. A process's environment is readable only by its own
//!    user and root, unlike its arguments.
//!
//! The helper answers once. Asked a second time (sudo retries after a
//! wrong password), it fails and leaves a mark; sudo then gives up at once
//! instead of after `passwd_tries` slow attempts, and the outer shell
//! prints a line with a per-command random nonce that becomes
//! [`TransportError::BecomeWrongPassword`] (a script cannot forge it). A
//! sudo that asks only once (`passwd_tries=1`) and then fails saying
//! `incorrect password attempt` is the same failure.
//! No process ever reads a terminal, so nothing waits on a prompt.
//! `su` and `doas` read a password only from a terminal, which stead never
//! allocates: with a password they are refused at task time
//! ([`TransportError::BecomeUnsupported`]). The no-password path is the
//! same single command as before: no extra round trip in either case.

mod local;
pub mod lock;
pub mod quote;
mod ssh;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::vault::Secret;

pub use local::LocalConnection;
pub use ssh::{SshConnection, SshParams};

/// A script to run on the host.
#[derive(Debug, Clone, Default)]
pub struct RemoteCommand {
    /// POSIX sh source. Every value in it went through [`quote::quote`].
    pub script: String,
    /// Bytes for the script's stdin (file content travels here, never in
    /// the command line).
    pub stdin: Vec<u8>,
    /// Run as another user via `sudo` (or `su`, `doas`).
    pub become_user: Option<Become>,
}

/// Privilege escalation for one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Become {
    /// Target user (`root` by default).
    pub user: String,
    /// `sudo` (default), `su` or `doas`.
    pub method: String,
    /// The become password, when one was given (`ansible_become_password`,
    /// `-K`, a become password file).
    pub password: Option<BecomePassword>,
}

/// The become methods the transport implements.
pub const BECOME_METHODS: &[&str] = &["sudo", "su", "doas"];

/// A become password: shown as `********`, wiped when the last copy is
/// dropped, and registered with [`crate::vault::mask`] when made, so every
/// output of the run masks it.
#[derive(Clone)]
pub struct BecomePassword(Arc<Secret<String>>);

impl BecomePassword {
    /// Wraps a password, and registers it with the run's mask.
    pub fn new(password: String) -> Self {
        crate::vault::mask::register(&password);
        BecomePassword(Arc::new(Secret::new(password)))
    }

    /// The password; every call site is a place it leaves its box.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }
}

impl PartialEq for BecomePassword {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.expose() == other.expose()
    }
}

impl Eq for BecomePassword {}

impl std::fmt::Debug for BecomePassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BecomePassword({})", crate::vault::MASK)
    }
}

/// What a script printed and how it ended.
#[derive(Debug, Clone, Default)]
pub struct ExecOutput {
    /// Exit status (128 + signal when killed by a signal).
    pub status: i32,
    /// Standard output.
    pub stdout: Vec<u8>,
    /// Standard error.
    pub stderr: Vec<u8>,
}

impl ExecOutput {
    /// Standard output as text (lossy).
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    /// Standard error as text (lossy).
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// Why a host could not be talked to.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The SSH connection could not be set up.
    #[error("cannot connect to {host}: {detail}")]
    Connect {
        /// Destination.
        host: String,
        /// What ssh said.
        detail: String,
    },
    /// Running a command failed at the transport level (not a non-zero exit).
    #[error("lost connection to {host}: {detail}")]
    Exec {
        /// Destination.
        host: String,
        /// What went wrong.
        detail: String,
    },
    /// `sudo` (or `doas`) wants a password and none was given.
    #[error("privilege escalation on {host} needs a password and none was given: pass -K/--ask-become-pass or --become-password-file, set ansible_become_password for the host, or allow NOPASSWD for this user")]
    BecomeNeedsPassword {
        /// Destination.
        host: String,
    },
    /// Another stead run holds this host's lock (see [`lock`]).
    #[error("{host} is locked by another stead run: {holder}; try again when it ends, or wait for it with --lock-wait SECONDS")]
    Locked {
        /// Destination.
        host: String,
        /// Who holds the lock, as that run wrote it.
        holder: String,
    },
    /// The host's sudo refused the become password.
    #[error("privilege escalation on {host} failed: incorrect sudo password{detail}")]
    BecomeWrongPassword {
        /// Destination.
        host: String,
        /// sudo's own words, after `: ` (empty when it said nothing).
        detail: String,
    },
    /// A become method stead cannot run as asked.
    #[error("privilege escalation on {host} failed: {reason}")]
    BecomeUnsupported {
        /// Destination.
        host: String,
        /// Why, and what to do instead.
        reason: String,
    },
    /// The become method's program is not on the host.
    #[error("privilege escalation on {host} failed: `{program}` is not installed there; install it or connect as the target user")]
    BecomeMissing {
        /// Destination.
        host: String,
        /// `sudo`, `su` or `doas`.
        program: String,
    },
}

impl TransportError {
    /// Whether the connection works but privilege escalation does not: the
    /// tasks that need it fail, the host is still reachable.
    pub fn is_become(&self) -> bool {
        matches!(
            self,
            TransportError::BecomeNeedsPassword { .. }
                | TransportError::BecomeWrongPassword { .. }
                | TransportError::BecomeUnsupported { .. }
                | TransportError::BecomeMissing { .. }
        )
    }
}

/// An open connection to one host.
pub enum Connection {
    /// Over the system's OpenSSH client, multiplexed.
    Ssh(SshConnection),
    /// This machine, with `sh`.
    Local(LocalConnection),
}

/// Counts remote executions; the benchmark and the JSON report read it.
#[derive(Debug, Default)]
pub struct ExecCounter(AtomicU64);

impl ExecCounter {
    /// Adds one.
    pub fn bump(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    /// The count so far.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl Connection {
    /// Makes this connection lock its host on its first command (only a
    /// host's own connection does, never one a task is delegated to).
    pub fn lock_host(&mut self, lock: lock::HostLock) {
        if let Connection::Ssh(c) = self {
            c.lock = Some(lock);
        }
    }

    /// Runs one script on the host.
    pub async fn exec(&self, cmd: &RemoteCommand) -> Result<ExecOutput, TransportError> {
        let locking = match self {
            Connection::Ssh(c) => c.lock.as_ref().filter(|_| !c.lock_taken.swap(true, Ordering::SeqCst)),
            Connection::Local(_) => None,
        };
        let host = || self.host().to_owned();
        let mut wrapped =
            wrap_become(cmd).map_err(|reason| TransportError::BecomeUnsupported { host: host(), reason })?;
        if let Some(lock) = locking {
            // Its own shell, before the script and outside privilege
            // escalation, reading nothing of stdin: exit 75 when busy, and
            // the script does not run.
            wrapped.line = format!("sh -c {} </dev/null && {}", quote::quote(&lock.prelude()), wrapped.line);
        }
        // With a password, its line goes first on stdin; the outer shell
        // reads exactly that line (see the module's doc).
        let stdin: std::borrow::Cow<'_, [u8]> = match &wrapped.password {
            None => std::borrow::Cow::Borrowed(&cmd.stdin),
            Some(p) => {
                let mut bytes = Vec::with_capacity(p.len() + 1 + cmd.stdin.len());
                bytes.extend_from_slice(p.as_bytes());
                bytes.push(b'\n');
                bytes.extend_from_slice(&cmd.stdin);
                std::borrow::Cow::Owned(bytes)
            }
        };
        let result = match self {
            Connection::Ssh(c) => c.exec(&wrapped.line, &stdin).await,
            Connection::Local(c) => c.exec(&wrapped.line, &stdin).await,
        };
        if let std::borrow::Cow::Owned(mut bytes) = stdin {
            bytes.iter_mut().for_each(|b| *b = 0);
        }
        let mut out = result?;
        if locking.is_some() {
            if let Some(holder) = lock::busy_holder(out.status, &out.stderr) {
                return Err(TransportError::Locked { host: host(), holder });
            }
        }
        if let Some(b) = &cmd.become_user {
            if let Some(nonce) = &wrapped.denied_nonce {
                if let Some(detail) = take_denied(&mut out.stderr, nonce) {
                    return Err(TransportError::BecomeWrongPassword { host: host(), detail });
                }
            }
            if out.status == 1 && is_password_prompt(&out.stderr) {
                return Err(TransportError::BecomeNeedsPassword { host: host() });
            }
            let program = program_of(&b.method);
            if out.status == 127 && is_missing_program(&out.stderr, program) {
                return Err(TransportError::BecomeMissing { host: host(), program: program.into() });
            }
        }
        Ok(out)
    }

    /// Number of remote executions so far on this connection.
    pub fn exec_count(&self) -> u64 {
        match self {
            Connection::Ssh(c) => c.counter.get(),
            Connection::Local(c) => c.counter.get(),
        }
    }

    /// The host this connection talks to.
    pub fn host(&self) -> &str {
        match self {
            Connection::Ssh(c) => &c.destination,
            Connection::Local(_) => "localhost",
        }
    }

    /// Closes the connection (stops the ssh master).
    pub async fn close(self) {
        if let Connection::Ssh(c) = self {
            c.close().await;
        }
    }
}

/// The largest script sent in one remote command, as quoted for `sh -c`:
/// Linux refuses a single argument over 128 KiB, and the command line
/// carries some wrapping (`sudo`, `su`) around it.
pub const MAX_SCRIPT_BYTES: usize = 100 * 1024;

/// Default time allowed to establish a connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A command line ready for the remote login shell.
struct Wrapped<'a> {
    /// The line itself (never holds a password).
    line: String,
    /// The password to send as stdin's first line.
    password: Option<&'a str>,
    /// The nonce of the wrong-password mark, with a password.
    denied_nonce: Option<String>,
}

/// The environment variable the askpass helper reads the password from.
const PASS_VAR: &str = "STEAD_BECOME_PASS";

/// The outer shell of a sudo with a password (see the module's doc).
/// `@NONCE@` and `@SUDO@` are filled in by [`wrap_become`].
const ASKPASS_SHELL: &str = r#"umask 077
IFS= read -r STEAD_BECOME_PASS || { echo 'stead: the become password did not arrive' >&2; exit 1; }
d=
for t in "${TMPDIR:-/tmp}" /tmp "$HOME" /dev/shm; do
  [ -d "$t" ] || continue
  d=$(mktemp -d "$t/.stead-become.XXXXXXXX" 2>/dev/null) || { d=; continue; }
  printf '%s\n' '#!/bin/sh' '[ "$1" = --check ] && exit 0' 'if [ -e "$0.used" ]; then : >"$0.denied"; exit 1; fi' ': >"$0.used"' 'printf "%s\n" "$STEAD_BECOME_PASS"' >"$d/askpass" && chmod 700 "$d/askpass" && "$d/askpass" --check && break
  rm -rf "$d"; d=
done
[ -n "$d" ] || { echo 'stead: no directory on the host can hold the askpass helper' >&2; exit 1; }
trap 'rm -rf "$d"' EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
STEAD_BECOME_PASS=$STEAD_BECOME_PASS SUDO_ASKPASS=$d/askpass @SUDO@
rc=$?
if [ -e "$d/askpass.denied" ]; then echo '@NONCE@' >&2
elif [ "$rc" -ne 0 ] && [ -e "$d/askpass.used" ]; then echo '@NONCE@-asked' >&2
fi
exit $rc
"#;

/// The full command line handed to the remote login shell: `sh -c SCRIPT`,
/// wrapped for the become method; an error says why a become cannot run.
fn wrap_become(cmd: &RemoteCommand) -> Result<Wrapped<'_>, String> {
    use quote::quote;
    let sh = format!("sh -c {}", quote(&cmd.script));
    let Some(b) = &cmd.become_user else {
        return Ok(Wrapped { line: sh, password: None, denied_nonce: None });
    };
    let plain = |line: String| Ok(Wrapped { line, password: None, denied_nonce: None });
    let needs_terminal = |m: &str| {
        format!(
            "become_method {m} with a password needs a terminal on the host, which stead never allocates (so that \
             nothing can wait on a prompt); use become_method sudo, or allow {m} without a password"
        )
    };
    match (b.method.as_str(), &b.password) {
        ("su", None) => plain(format!("su {} -c {}", quote(&b.user), quote(&sh))),
        ("doas", None) => plain(format!("doas -n -u {} -- {sh}", quote(&b.user))),
        ("sudo", None) => plain(format!("sudo -n -H -u {} -- {sh}", quote(&b.user))),
        ("su" | "doas", Some(_)) => Err(needs_terminal(&b.method)),
        ("sudo", Some(p)) => {
            let password = p.expose();
            if password.contains(['\n', '\r', '\0']) {
                return Err("the become password holds a line break or a NUL byte, which sudo cannot take".into());
            }
            // The script is the outer shell's `$1`, quoted once (quoted
            // inside the outer script it would be quoted twice, and a large
            // batch would pass the kernel's limit on one argument). It drops
            // the variable first, should a sudoers keep the caller's
            // environment (`!env_reset`).
            let sudo = format!("sudo -A -H -u {} -- sh -c \"unset {PASS_VAR}\n$1\"", quote(&b.user));
            let nonce = denied_nonce();
            let outer = ASKPASS_SHELL.replace("@SUDO@", &sudo).replace("@NONCE@", &nonce);
            Ok(Wrapped {
                line: format!("sh -c {} sh {}", quote(&outer), quote(&cmd.script)),
                password: Some(password),
                denied_nonce: Some(nonce),
            })
        }
        (other, _) => Err(format!(
            "unknown or unsupported become_method `{other}`: stead escalates with {}",
            BECOME_METHODS.join(", ")
        )),
    }
}

/// A random mark for one command's wrong-password line.
fn denied_nonce() -> String {
    let mut bytes = [0u8; 12];
    if getrandom::fill(&mut bytes).is_err() {
        // No randomness: a mark from the clock and the address space.
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
        bytes[..8].copy_from_slice(&h.finish().to_le_bytes());
    }
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("stead-become-denied-{hex}")
}

/// When stderr says the password was wrong: removes the marks and returns
/// sudo's own last words (`: sudo: 1 incorrect password attempt`). Wrong
/// is the helper asked twice (`NONCE`), or asked once by a sudo that then
/// failed saying so (`NONCE-asked`: a sudoers with `passwd_tries=1`).
fn take_denied(stderr: &mut Vec<u8>, nonce: &str) -> Option<String> {
    let asked = format!("{nonce}-asked");
    let text = String::from_utf8_lossy(stderr).into_owned();
    let is_mark = |l: &str| l.trim() == nonce || l.trim() == asked;
    if !text.lines().any(is_mark) {
        return None;
    }
    // Every other byte stays as it was (a batch's framing lives in it).
    *stderr = text.split_inclusive('\n').filter(|l| !is_mark(l)).collect::<String>().into_bytes();
    let kept: Vec<&str> = text.lines().filter(|l| !is_mark(l)).collect();
    let denied = text.lines().any(|l| l.trim() == nonce)
        || kept.iter().any(|l| l.starts_with("sudo:") && l.contains("incorrect password attempt"));
    if !denied {
        return None;
    }
    let said =
        kept.iter().rev().map(|l| l.trim()).find(|l| {
            l.contains("incorrect password") || l.starts_with("sudo:") && !l.contains("unable to resolve host")
        });
    Some(said.map(|l| format!(": {l}")).unwrap_or_default())
}

/// The program a become method runs.
fn program_of(method: &str) -> &'static str {
    match method {
        "su" => "su",
        "doas" => "doas",
        _ => "sudo",
    }
}

/// The shell's "not found" for `program` itself (bash, dash and busybox
/// spellings), as opposed to a command the script runs.
fn is_missing_program(stderr: &[u8], program: &str) -> bool {
    let text = String::from_utf8_lossy(stderr);
    text.lines().next().is_some_and(|first| {
        first.contains(&format!("{program}: command not found")) || first.contains(&format!("{program}: not found"))
    })
}

/// What `sudo -n` and `doas -n` say when they would have to prompt.
fn is_password_prompt(stderr: &[u8]) -> bool {
    let text = String::from_utf8_lossy(stderr);
    text.contains("a password is required")
        || text.contains("a terminal is required")
        || text.contains("doas: Authorization required")
        || text.contains("doas: Authentication required")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_become_program_is_told_from_a_missing_command() {
        assert!(is_missing_program(b"bash: line 1: sudo: command not found\n", "sudo"));
        assert!(is_missing_program(b"sh: 1: sudo: not found\n", "sudo"));
        assert!(!is_missing_program(b"sh: 1: nft: not found\n", "sudo"));
    }

    fn line(cmd: &RemoteCommand) -> String {
        wrap_become(cmd).expect("wraps").line
    }

    fn become_(user: &str, method: &str, password: Option<&str>) -> Option<Become> {
        Some(Become {
            user: user.into(),
            method: method.into(),
            password: password.map(|p| BecomePassword::new(p.into())),
        })
    }

    #[test]
    fn become_wraps_the_script_for_sudo_su_and_doas() {
        let mut cmd = RemoteCommand { script: "id -u".into(), ..Default::default() };
        assert_eq!(line(&cmd), "sh -c 'id -u'");
        cmd.become_user = become_("app user", "sudo", None);
        assert_eq!(line(&cmd), "sudo -n -H -u 'app user' -- sh -c 'id -u'");
        cmd.become_user = become_("root", "su", None);
        assert_eq!(line(&cmd), "su root -c 'sh -c '\\''id -u'\\'''");
        cmd.become_user = become_("root", "doas", None);
        assert_eq!(line(&cmd), "doas -n -u root -- sh -c 'id -u'");
    }

    #[test]
    fn a_become_password_is_never_on_the_command_line() {
        let cmd = RemoteCommand {
            script: "id -u".into(),
            become_user: become_("root", "sudo", Some("pw-on-line-9f3")),
            ..Default::default()
        };
        let w = wrap_become(&cmd).expect("wraps");
        assert!(!w.line.contains("pw-on-line-9f3"), "{}", w.line);
        assert!(w.line.contains("sudo -A -H -u root"), "{}", w.line);
        assert_eq!(w.password, Some("pw-on-line-9f3"));
        assert!(w.line.contains(w.denied_nonce.as_deref().expect("a nonce")));
    }

    #[test]
    fn a_batch_at_the_limit_fits_one_argument_with_a_password_too() {
        // Quotes are what quoting multiplies.
        let script = "printf '%s' 'a'\n".repeat(MAX_SCRIPT_BYTES / 32);
        assert!(quote::quote(&script).len() <= MAX_SCRIPT_BYTES);
        let cmd = RemoteCommand { script, become_user: become_("root", "sudo", Some("pw-xyz")), ..Default::default() };
        let w = wrap_become(&cmd).expect("wraps");
        assert!(w.line.len() < 128 * 1024, "{} bytes", w.line.len());
    }

    #[test]
    fn su_and_doas_with_a_password_and_unknown_methods_are_refused() {
        for method in ["su", "doas"] {
            let cmd = RemoteCommand { become_user: become_("root", method, Some("pw-xyz")), ..Default::default() };
            let err = wrap_become(&cmd).err().expect("refused");
            assert!(err.contains("needs a terminal") && err.contains("sudo"), "{err}");
        }
        let cmd = RemoteCommand { become_user: become_("root", "runas", None), ..Default::default() };
        assert!(wrap_become(&cmd).err().expect("refused").contains("runas"));
        let cmd = RemoteCommand { become_user: become_("root", "sudo", Some("a\nb")), ..Default::default() };
        assert!(wrap_become(&cmd).is_err());
    }

    #[test]
    fn the_wrong_password_mark_is_taken_out_with_sudos_words() {
        let nonce = "stead-become-denied-00ff";
        let mut err = b"sudo: unable to resolve host h1\nSorry, try again.\nsudo: no password was provided\nsudo: 1 incorrect password attempt\nstead-become-denied-00ff\n".to_vec();
        assert_eq!(take_denied(&mut err, nonce).as_deref(), Some(": sudo: 1 incorrect password attempt"));
        assert!(!String::from_utf8_lossy(&err).contains(nonce));
        let mut other = b"stead-become-denied-11aa\n".to_vec();
        assert_eq!(take_denied(&mut other, nonce), None);
        // Asked once, then sudo gave up (passwd_tries=1).
        let mut once = b"sudo: 1 incorrect password attempt\nstead-become-denied-00ff-asked\n".to_vec();
        assert_eq!(take_denied(&mut once, nonce).as_deref(), Some(": sudo: 1 incorrect password attempt"));
        // Asked once, right, and the script failed: its own output, no mark left.
        let mut failed = b"cp: cannot stat\nstead-become-denied-00ff-asked\n".to_vec();
        assert_eq!(take_denied(&mut failed, nonce), None);
        assert_eq!(failed, b"cp: cannot stat\n");
    }

    /// The outer shell, run for real with a fake `sudo` that asks its
    /// askpass helper as the real one does: the password reaches the
    /// helper and not the script, the script's stdin keeps its exact
    /// bytes, nothing is left in the temporary directory, and a rejected
    /// password is marked.
    #[test]
    fn the_askpass_shell_feeds_sudo_and_leaves_stdin_and_tmp_clean() {
        use std::io::Write;
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let bin = dir.path().join("bin");
        let tmp = dir.path().join("tmp");
        std::fs::create_dir(&bin).expect("bin");
        std::fs::create_dir(&tmp).expect("tmp");
        // `sudo -A -H -u USER -- sh -c SCRIPT`, accepting "right-pw".
        let fake = r#"#!/bin/sh
p=$("$SUDO_ASKPASS" 'Password: ')
if [ "$p" != right-pw ]; then
  echo 'Sorry, try again.' >&2
  "$SUDO_ASKPASS" 'Password: ' >/dev/null || echo 'sudo: no password was provided' >&2
  echo 'sudo: 1 incorrect password attempt' >&2
  exit 1
fi
shift 5
unset SUDO_ASKPASS
exec "$@"
"#;
        let sudo = bin.join("sudo");
        std::fs::write(&sudo, fake).expect("write");
        std::fs::set_permissions(&sudo, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let run = |pw: &str| {
            let cmd = RemoteCommand {
                script: "printf 'env=%s\\n' \"${STEAD_BECOME_PASS-unset}\"; od -An -c".into(),
                become_user: become_("root", "sudo", Some(pw)),
                ..Default::default()
            };
            let w = wrap_become(&cmd).expect("wraps");
            let mut child = std::process::Command::new("sh")
                .arg("-c")
                .arg(&w.line)
                .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
                .env("TMPDIR", &tmp)
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("sh");
            let mut stdin = child.stdin.take().expect("stdin");
            stdin.write_all(format!("{pw}\nA\\b\n").as_bytes()).expect("write");
            drop(stdin);
            (child.wait_with_output().expect("wait"), w.denied_nonce.expect("nonce"))
        };
        let (out, nonce) = run("right-pw");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
        assert!(stdout.starts_with("env=unset\n"), "{stdout}");
        let bytes: Vec<&str> = stdout.lines().skip(1).flat_map(str::split_whitespace).collect();
        assert_eq!(bytes, ["A", "\\", "b", "\\n"], "{stdout}");
        assert!(!String::from_utf8_lossy(&out.stderr).contains(&nonce));
        let (out, nonce) = run("wrong-pw");
        assert_eq!(out.status.code(), Some(1));
        let mut stderr = out.stderr.clone();
        assert_eq!(
            take_denied(&mut stderr, &nonce).as_deref(),
            Some(": sudo: 1 incorrect password attempt"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stdout.is_empty());
        assert_eq!(std::fs::read_dir(&tmp).expect("tmp").count(), 0, "the helper is removed");
    }
}
