//! Connectors: run a shell script on a host, with bytes on its stdin.
//!
//! A connector knows nothing of modules or playbooks. It offers one
//! operation, [`Connection::exec`], that runs a POSIX `sh` script (already
//! assembled from quoted words, see [`quote`]) and returns its exit status
//! and output. `ssh` keeps one multiplexed OpenSSH master per host; `local`
//! runs the same scripts with the local `sh`. Privilege escalation wraps the
//! script in `sudo -n` here, in one place.

mod local;
pub mod lock;
pub mod quote;
mod ssh;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

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
    /// Run as another user via `sudo -n` (or `su`).
    pub become_user: Option<Become>,
}

/// Privilege escalation for one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Become {
    /// Target user (`root` by default).
    pub user: String,
    /// `sudo` (default) or `su`.
    pub method: String,
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
    /// `sudo` wants a password; stead never types one.
    #[error("privilege escalation on {host} needs a password (stead runs `sudo -n`); allow NOPASSWD for this user or connect as the target user")]
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
    /// The become method's program is not on the host.
    #[error("privilege escalation on {host} failed: `{program}` is not installed there; install it or connect as the target user")]
    BecomeMissing {
        /// Destination.
        host: String,
        /// `sudo` or `su`.
        program: String,
    },
}

impl TransportError {
    /// Whether the connection works but privilege escalation does not: the
    /// tasks that need it fail, the host is still reachable.
    pub fn is_become(&self) -> bool {
        matches!(self, TransportError::BecomeNeedsPassword { .. } | TransportError::BecomeMissing { .. })
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
        let mut line = wrap_become(cmd);
        if let Some(lock) = locking {
            // Its own shell, before the script and outside privilege
            // escalation: exit 75 when busy, and the script does not run.
            line = format!("sh -c {} </dev/null && {line}", quote::quote(&lock.prelude()));
        }
        let out = match self {
            Connection::Ssh(c) => c.exec(&line, &cmd.stdin).await?,
            Connection::Local(c) => c.exec(&line, &cmd.stdin).await?,
        };
        if locking.is_some() {
            if let Some(holder) = lock::busy_holder(out.status, &out.stderr) {
                return Err(TransportError::Locked { host: self.host().to_owned(), holder });
            }
        }
        if let Some(b) = &cmd.become_user {
            if out.status == 1 && is_sudo_password_prompt(&out.stderr) {
                return Err(TransportError::BecomeNeedsPassword { host: self.host().to_owned() });
            }
            let program = if b.method == "su" { "su" } else { "sudo" };
            if out.status == 127 && is_missing_program(&out.stderr, program) {
                return Err(TransportError::BecomeMissing { host: self.host().to_owned(), program: program.into() });
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

/// The full command line handed to the remote login shell: `sh -c SCRIPT`,
/// wrapped in `sudo -n -u USER` when escalating.
fn wrap_become(cmd: &RemoteCommand) -> String {
    use quote::quote;
    let sh = format!("sh -c {}", quote(&cmd.script));
    match &cmd.become_user {
        None => sh,
        Some(b) if b.method == "su" => {
            format!("su {} -c {}", quote(&b.user), quote(&sh))
        }
        Some(b) => format!("sudo -n -H -u {} -- {}", quote(&b.user), sh),
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

fn is_sudo_password_prompt(stderr: &[u8]) -> bool {
    let text = String::from_utf8_lossy(stderr);
    text.contains("a password is required") || text.contains("a terminal is required")
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

    #[test]
    fn become_wraps_the_script_for_sudo_and_su() {
        let mut cmd = RemoteCommand { script: "id -u".into(), ..Default::default() };
        assert_eq!(wrap_become(&cmd), "sh -c 'id -u'");
        cmd.become_user = Some(Become { user: "app user".into(), method: "sudo".into() });
        assert_eq!(wrap_become(&cmd), "sudo -n -H -u 'app user' -- sh -c 'id -u'");
        cmd.become_user = Some(Become { user: "root".into(), method: "su".into() });
        assert_eq!(wrap_become(&cmd), "su root -c 'sh -c '\\''id -u'\\'''");
    }
}
