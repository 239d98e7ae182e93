//! Ansible's connection variables (CONTRACT §3): which ones stead
//! implements, their older aliases, and the ones it refuses because it
//! cannot honour them (a password it would have to type, a connection
//! plugin it does not have). A refused variable stops the run before any
//! host is contacted, naming the host and the variable; none is ignored.

use serde_json::{Map, Value as Json};

/// Connection variables stead implements.
pub const SUPPORTED: &[&str] = &[
    "ansible_host",
    "ansible_port",
    "ansible_user",
    "ansible_connection",
    "ansible_ssh_private_key_file",
    "ansible_ssh_common_args",
    "ansible_ssh_extra_args",
    "ansible_ssh_timeout",
    "ansible_become",
    "ansible_become_user",
    "ansible_become_method",
    "ansible_become_password",
];

/// Older names Ansible still reads, and the name stead reads them as.
pub const ALIASES: &[(&str, &str)] = &[
    ("ansible_ssh_host", "ansible_host"),
    ("ansible_ssh_port", "ansible_port"),
    ("ansible_ssh_user", "ansible_user"),
    ("ansible_private_key_file", "ansible_ssh_private_key_file"),
    ("ansible_timeout", "ansible_ssh_timeout"),
    ("ansible_become_pass", "ansible_become_password"),
    ("ansible_sudo_pass", "ansible_become_password"),
];

/// Connection variables stead refuses, with the reason and what to do.
pub const REFUSED: &[(&str, &str)] = &[
    ("ansible_password", "stead never types a login password; use an ssh key or agent"),
    ("ansible_ssh_pass", "stead never types a login password; use an ssh key or agent"),
    ("ansible_ssh_password", "stead never types a login password; use an ssh key or agent"),
    ("ansible_become_exe", "stead runs `sudo`, `su` or `doas` from the PATH"),
    (
        "ansible_become_flags",
        "stead runs `sudo -H -u USER` (with `-n`, or `-A` given a password); other flags are not passed",
    ),
    ("ansible_ssh_executable", "stead runs the `ssh` on the PATH"),
    ("ansible_sftp_extra_args", "stead transfers files over the ssh session, not sftp"),
    ("ansible_scp_extra_args", "stead transfers files over the ssh session, not scp"),
    ("ansible_shell_type", "stead's scripts are POSIX sh"),
    ("ansible_shell_executable", "stead's scripts run with `sh`"),
    ("ansible_ssh_pipelining", "stead always sends its scripts over one session"),
    ("ansible_pipelining", "stead always sends its scripts over one session"),
];

/// The connection types stead has.
pub const CONNECTIONS: &[&str] = &["ssh", "local", "smart", "paramiko", "openssh"];

/// Renames aliases to the names stead reads (an explicit new name wins).
pub fn normalize(vars: &mut Map<String, Json>) {
    for (old, new) in ALIASES {
        if let Some(v) = vars.remove(*old) {
            vars.entry(*new).or_insert(v);
        }
    }
    // paramiko and smart are Ansible's other ssh flavours: OpenSSH here.
    if let Some(Json::String(c)) = vars.get("ansible_connection") {
        if matches!(c.as_str(), "smart" | "paramiko" | "openssh") {
            vars.insert("ansible_connection".into(), Json::from("ssh"));
        }
    }
}

fn is_template(v: &Json) -> bool {
    matches!(v, Json::String(s) if s.contains("{{") || s.contains("{%"))
}

/// Problems with a host's connection variables, one sentence each.
/// Templated values are checked once rendered, at connection time.
pub fn problems(vars: &Map<String, Json>) -> Vec<String> {
    let mut out = Vec::new();
    for (name, why) in REFUSED {
        if vars.contains_key(*name) {
            out.push(format!("`{name}` is not supported: {why}"));
        }
    }
    if let Some(v) = vars.get("ansible_connection").filter(|v| !is_template(v)) {
        let c = v.as_str().unwrap_or_default();
        if !CONNECTIONS.contains(&c) {
            out.push(format!("`ansible_connection: {c}` is not supported: stead connects with ssh or local"));
        }
    }
    for key in ["ansible_port", "ansible_ssh_port"] {
        if let Some(v) = vars.get(key).filter(|v| !is_template(v)) {
            if let Err(e) = port(v) {
                out.push(format!("`{key}`: {e}"));
            }
        }
    }
    out
}

/// A port number from a variable's value: 1 to 65535, nothing else.
pub fn port(v: &Json) -> Result<u16, String> {
    let text = match v {
        Json::Number(n) => n.to_string(),
        Json::String(s) => s.trim().to_owned(),
        other => return Err(format!("a port is a number, not {other}")),
    };
    match text.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(format!("`{text}` is not a port number (1 to 65535)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars(v: Json) -> Map<String, Json> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn passwords_and_unknown_connections_are_named() {
        let p = problems(&vars(json!({"ansible_password": "x", "ansible_connection": "winrm"})));
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].contains("ansible_password"));
        assert!(p[1].contains("winrm"));
    }

    #[test]
    fn invalid_ports_are_refused_not_turned_into_22() {
        for bad in [json!("abc"), json!(99999), json!(-1), json!("22 -oProxyCommand=x"), json!(0)] {
            let p = problems(&vars(json!({ "ansible_port": bad })));
            assert_eq!(p.len(), 1, "{bad}: {p:?}");
        }
        assert!(problems(&vars(json!({"ansible_port": "2222"}))).is_empty());
        assert!(problems(&vars(json!({"ansible_port": "{{ p }}"}))).is_empty(), "checked once rendered");
    }

    #[test]
    fn aliases_become_the_names_stead_reads() {
        let mut v = vars(json!({"ansible_ssh_host": "h", "ansible_ssh_port": 2, "ansible_connection": "smart"}));
        normalize(&mut v);
        assert_eq!(v["ansible_host"], "h");
        assert_eq!(v["ansible_port"], 2);
        assert_eq!(v["ansible_connection"], "ssh");
    }
}
