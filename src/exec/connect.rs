//! From a host's variables to an open connection (CONTRACT §3 names).

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Map, Value as Json};

use crate::plan::RunOptions;
use crate::transport::{Connection, LocalConnection, SshConnection, SshParams, TransportError, CONNECT_TIMEOUT};

fn text(vars: &Map<String, Json>, key: &str) -> Option<String> {
    match vars.get(key)? {
        Json::String(s) if !s.is_empty() => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Whether the host uses the `local` connection.
pub fn is_local(vars: &Map<String, Json>) -> bool {
    text(vars, "ansible_connection").as_deref() == Some("local")
}

/// The SSH parameters of a host.
pub fn ssh_params(host: &str, vars: &Map<String, Json>, play_user: Option<&str>, options: &RunOptions) -> SshParams {
    let mut extra_args = Vec::new();
    for key in ["ansible_ssh_common_args", "ansible_ssh_extra_args"] {
        if let Some(args) = text(vars, key) {
            extra_args.extend(
                shell_words::split(&args).unwrap_or_else(|_| args.split_whitespace().map(str::to_owned).collect()),
            );
        }
    }
    SshParams {
        host: text(vars, "ansible_host").unwrap_or_else(|| host.to_owned()),
        port: text(vars, "ansible_port").and_then(|p| p.parse().ok()),
        user: text(vars, "ansible_user").or_else(|| play_user.map(str::to_owned)).or_else(|| options.user.clone()),
        private_key_file: text(vars, "ansible_ssh_private_key_file").map(|p| PathBuf::from(expand_home(&p))),
        extra_args,
        accept_new_host_keys: options.accept_new_host_keys,
        connect_timeout: text(vars, "ansible_ssh_timeout")
            .and_then(|t| t.parse().ok())
            .map(Duration::from_secs)
            .unwrap_or(CONNECT_TIMEOUT),
    }
}

fn expand_home(p: &str) -> String {
    match (p.strip_prefix("~/"), std::env::var("HOME")) {
        (Some(rest), Ok(home)) => format!("{home}/{rest}"),
        _ => p.to_owned(),
    }
}

/// Opens the connection a host's variables ask for.
pub async fn open(
    host: &str,
    vars: &Map<String, Json>,
    play_user: Option<&str>,
    options: &RunOptions,
) -> Result<Connection, TransportError> {
    if is_local(vars) {
        return Ok(Connection::Local(LocalConnection::new()));
    }
    let params = ssh_params(host, vars, play_user, options);
    Ok(Connection::Ssh(SshConnection::connect(&params).await?))
}
