//! The `local` connection: the same scripts, run by this machine's `sh`.

use std::process::Stdio;

use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use super::{ExecCounter, ExecOutput, TransportError};

/// Runs scripts on this machine.
#[derive(Debug, Default)]
pub struct LocalConnection {
    pub(super) counter: ExecCounter,
}

impl LocalConnection {
    /// A new local connection.
    pub fn new() -> Self {
        Self::default()
    }

    pub(super) async fn exec(&self, line: &str, stdin: &[u8]) -> Result<ExecOutput, TransportError> {
        self.counter.bump();
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(line)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| exec_error(e.to_string()))?;
        let mut pipe = child.stdin.take().expect("stdin is piped");
        let input = stdin.to_vec();
        let writer = tokio::spawn(async move {
            // A script that does not read its stdin closes the pipe early: not an error.
            let _ = pipe.write_all(&input).await;
        });
        let out = child.wait_with_output().await.map_err(|e| exec_error(e.to_string()))?;
        let _ = writer.await;
        Ok(ExecOutput { status: exit_code(&out.status), stdout: out.stdout, stderr: out.stderr })
    }
}

fn exec_error(detail: String) -> TransportError {
    TransportError::Exec { host: "localhost".into(), detail }
}

/// Exit code, or 128 + signal number as a shell reports it.
pub(super) fn exit_code(status: &std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}
