//! The `ssh` connection: the system's OpenSSH client, one multiplexed master
//! per host.
//!
//! We start the master ourselves (`ssh -M -f -N` with a control socket in a
//! short private directory) so that every option of the inventory
//! (`ansible_ssh_common_args`, `ansible_ssh_extra_args`, key file, port) reaches
//! ssh exactly as written, and the user's `~/.ssh/config`, agent and
//! `known_hosts` keep applying. Every command then runs over the native mux
//! protocol of the `openssh` crate, with no new TCP connection or
//! authentication. `ControlPersist` is short, so even a killed stead leaves no
//! master behind for long; normal runs close it explicitly.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use openssh::Session;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{local::exit_code, ExecCounter, ExecOutput, TransportError};

/// How to reach one host over SSH (from the inventory's connection variables).
#[derive(Debug, Clone, Default)]
pub struct SshParams {
    /// Address or ssh config alias (`ansible_host`, else the inventory name).
    pub host: String,
    /// `ansible_port`.
    pub port: Option<u16>,
    /// `ansible_user` / `--user`.
    pub user: Option<String>,
    /// `ansible_ssh_private_key_file`.
    pub private_key_file: Option<PathBuf>,
    /// `ansible_ssh_common_args` and `ansible_ssh_extra_args`, already split.
    pub extra_args: Vec<String>,
    /// `--accept-new-host-keys`: `StrictHostKeyChecking=accept-new` instead of `yes`.
    pub accept_new_host_keys: bool,
    /// Connection timeout.
    pub connect_timeout: Duration,
    /// Where the master's control socket goes (`control_path_dir`; created
    /// 0700 when missing); none: a private directory in /tmp.
    pub control_dir: Option<PathBuf>,
}

/// The longest control socket path ssh accepts (`sun_path` is 108 bytes on
/// Linux, 104 elsewhere; ssh adds a temporary suffix while binding).
const MAX_SOCKET_PATH: usize = 80;

/// An open multiplexed SSH connection.
pub struct SshConnection {
    pub(super) destination: String,
    session: Option<Session>,
    // Holds the control socket's directory; removed after the master stops.
    _control_dir: tempfile::TempDir,
    pub(super) counter: ExecCounter,
    /// The host lock its first command takes, if any.
    pub(super) lock: Option<super::lock::HostLock>,
    pub(super) lock_taken: std::sync::atomic::AtomicBool,
}

impl SshConnection {
    /// Starts the master connection and checks that it answers.
    pub async fn connect(params: &SshParams) -> Result<Self, TransportError> {
        let destination = params.host.clone();
        let connect_error = |detail: String| TransportError::Connect { host: destination.clone(), detail };
        // Socket paths must stay under 108 bytes: keep the directory short.
        let parent = match &params.control_dir {
            Some(dir) => {
                use std::os::unix::fs::DirBuilderExt;
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(dir)
                    .map_err(|e| connect_error(format!("cannot create control_path_dir {}: {e}", dir.display())))?;
                dir.clone()
            }
            None => PathBuf::from("/tmp"),
        };
        let control_dir = tempfile::Builder::new()
            .prefix("stead-")
            .tempdir_in(&parent)
            .map_err(|e| connect_error(format!("cannot create control directory in {}: {e}", parent.display())))?;
        let socket = control_dir.path().join("s");
        if socket.as_os_str().len() > MAX_SOCKET_PATH {
            return Err(connect_error(format!(
                "control_path_dir {} is too long for ssh's control socket ({} bytes, at most {MAX_SOCKET_PATH}): \
                 choose a shorter directory",
                parent.display(),
                socket.as_os_str().len()
            )));
        }
        let log = control_dir.path().join("log");
        let mut cmd = tokio::process::Command::new("ssh");
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        cmd.arg("-E").arg(&log).arg("-S").arg(&socket).args(["-M", "-f", "-N"]);
        let strict = if params.accept_new_host_keys { "accept-new" } else { "yes" };
        // ssh keeps the first value it is given for an option. These are
        // not the user's to change: host keys are checked, nothing prompts.
        cmd.arg("-o").arg(format!("StrictHostKeyChecking={strict}"));
        cmd.args(["-o", "BatchMode=yes"]);
        cmd.arg("-o").arg(format!("ConnectTimeout={}", params.connect_timeout.as_secs().max(1)));
        // The user's arguments come before our tunable defaults, so that
        // `-o ServerAliveInterval=5` in ansible_ssh_extra_args takes effect.
        cmd.args(&params.extra_args);
        cmd.args(["-o", "ControlPersist=30", "-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=3"]);
        if let Some(port) = params.port {
            cmd.arg("-p").arg(port.to_string());
        }
        if let Some(user) = &params.user {
            cmd.arg("-l").arg(user);
        }
        if let Some(key) = &params.private_key_file {
            cmd.arg("-i").arg(key).args(["-o", "IdentitiesOnly=yes"]);
        }
        cmd.arg("--").arg(&params.host);
        cmd.kill_on_drop(true);
        let status = tokio::time::timeout(params.connect_timeout + Duration::from_secs(5), cmd.status())
            .await
            .map_err(|_| connect_error("timed out".into()))?
            .map_err(|e| connect_error(format!("cannot run ssh: {e}")))?;
        if !status.success() {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            return Err(connect_error(explain_failure(&text, &params.host)));
        }
        let session = Session::resume_mux(socket.into_boxed_path(), Some(log.into_boxed_path()));
        Ok(SshConnection {
            destination: params.host.clone(),
            session: Some(session),
            _control_dir: control_dir,
            counter: ExecCounter::default(),
            lock: None,
            lock_taken: std::sync::atomic::AtomicBool::new(false),
        })
    }

    pub(super) async fn exec(&self, line: &str, stdin: &[u8]) -> Result<ExecOutput, TransportError> {
        self.counter.bump();
        let exec_error = |detail: String| TransportError::Exec { host: self.destination.clone(), detail };
        let session = self.session.as_ref().expect("session is open until close");
        let mut child = session
            .raw_command(line)
            .stdin(openssh::Stdio::piped())
            .stdout(openssh::Stdio::piped())
            .stderr(openssh::Stdio::piped())
            .spawn()
            .await
            .map_err(|e| exec_error(e.to_string()))?;
        if let Some(mut pipe) = child.stdin().take() {
            let input = stdin.to_vec();
            // A script that does not read stdin closes it early: not an error.
            tokio::spawn(async move {
                let _ = pipe.write_all(&input).await;
                let _ = pipe.shutdown().await;
            });
        }
        // Read both pipes ourselves: the crate's `wait_with_output` drops
        // them when the command's status is one it turns into an error.
        let read = |pipe: Option<openssh::ChildStdout>| async move {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf).await;
            }
            buf
        };
        let read_err = |pipe: Option<openssh::ChildStderr>| async move {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf).await;
            }
            buf
        };
        let (stdout, stderr) = tokio::join!(read(child.stdout().take()), read_err(child.stderr().take()));
        let status = match child.wait().await {
            Ok(status) => exit_code(&status),
            // The crate reports exit status 127 ("command not found") and a
            // process killed by a signal as errors; both are the user
            // command's outcome, never a lost connection.
            Err(openssh::Error::Remote(e)) if e.kind() == std::io::ErrorKind::NotFound => 127,
            Err(openssh::Error::RemoteProcessTerminated) => -1,
            Err(e) => return Err(exec_error(e.to_string())),
        };
        if (status == 255 && stdout.is_empty()) || status == -1 {
            // ssh's own failure code, or a command ended by a signal (its
            // session may have died with the connection): check whether the
            // master is gone, which makes the host unreachable.
            if let Err(e) = session.check().await {
                return Err(exec_error(e.to_string()));
            }
        }
        Ok(ExecOutput { status, stdout, stderr })
    }

    /// Stops the master connection.
    pub async fn close(mut self) {
        if let Some(session) = self.session.take() {
            let _ = session.close().await;
        }
    }
}

/// What ssh's own output says, in one sentence with a hint: a changed host
/// key and an unknown one both end in "Host key verification failed.", and
/// they call for very different actions.
fn explain_failure(log: &str, host: &str) -> String {
    if log.contains("REMOTE HOST IDENTIFICATION HAS CHANGED") {
        return format!(
            "the host key of {host} has CHANGED since it was recorded in known_hosts: someone may be intercepting \
             the connection, or the host was reinstalled; if you know the change is expected, remove the old key \
             with `ssh-keygen -R {host}` and connect again"
        );
    }
    if log.contains("Host key verification failed") {
        return format!(
            "the host key of {host} is not in known_hosts (strict checking): check and record it with a first \
             `ssh {host}`, or pass --accept-new-host-keys to record keys of hosts never seen before"
        );
    }
    log.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("ssh failed").trim().to_owned()
}
