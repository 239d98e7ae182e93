//! From a host's variables to an open connection (CONTRACT §3 names).
//!
//! The variables arrive rendered (templated connection variables are
//! resolved by the caller) and with Ansible's aliases normalised
//! ([`crate::inventory::connection`]); a bad port is an error, never 22.

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
pub fn ssh_params(
    host: &str,
    vars: &Map<String, Json>,
    play_user: Option<&str>,
    options: &RunOptions,
) -> Result<SshParams, TransportError> {
    let port = match vars.get("ansible_port") {
        None | Some(Json::Null) => None,
        Some(v) => Some(
            crate::inventory::connection::port(v)
                .map_err(|e| TransportError::Connect { host: host.to_owned(), detail: format!("ansible_port: {e}") })?,
        ),
    };
    // As Ansible builds the command: the configuration's `ssh_args`, then
    // the common and extra args (a host's variables beat the configuration's).
    let mut extra_args = options.ssh_args.clone();
    for (key, configured) in
        [("ansible_ssh_common_args", &options.ssh_common_args), ("ansible_ssh_extra_args", &options.ssh_extra_args)]
    {
        match text(vars, key) {
            Some(args) => extra_args.extend(
                shell_words::split(&args).unwrap_or_else(|_| args.split_whitespace().map(str::to_owned).collect()),
            ),
            None => extra_args.extend(configured.iter().cloned()),
        }
    }
    Ok(SshParams {
        host: text(vars, "ansible_host").unwrap_or_else(|| host.to_owned()),
        port: port.or(options.remote_port),
        user: text(vars, "ansible_user").or_else(|| play_user.map(str::to_owned)).or_else(|| options.user.clone()),
        private_key_file: text(vars, "ansible_ssh_private_key_file")
            .map(|p| PathBuf::from(expand_home(&p)))
            .or_else(|| options.private_key_file.clone()),
        extra_args,
        accept_new_host_keys: options.accept_new_host_keys,
        connect_timeout: text(vars, "ansible_ssh_timeout")
            .and_then(|t| t.parse().ok())
            .map(Duration::from_secs)
            .or(options.connect_timeout)
            .unwrap_or(CONNECT_TIMEOUT),
        control_dir: options.control_path_dir.clone(),
    })
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
    let mut vars = vars.clone();
    crate::inventory::connection::normalize(&mut vars);
    if let Some(problem) = crate::inventory::connection::problems(&vars).into_iter().next() {
        return Err(TransportError::Connect { host: host.to_owned(), detail: problem });
    }
    if is_local(&vars) {
        return Ok(Connection::Local(LocalConnection::new()));
    }
    let params = ssh_params(host, &vars, play_user, options)?;
    Ok(Connection::Ssh(SshConnection::connect(&params).await?))
}
