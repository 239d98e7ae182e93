//! `gather_facts`: a minimal fact set from one remote exec (hostname, OS
//! family, distribution, kernel, architecture, user), with POSIX sh only.

use serde_json::{json, Map, Value as Json};

/// The script that prints the raw facts.
pub const SCRIPT: &str = "echo \"hostname=$(hostname 2>/dev/null || uname -n)\"\n\
echo \"system=$(uname -s)\"\n\
echo \"kernel=$(uname -r)\"\n\
echo \"machine=$(uname -m)\"\n\
echo \"user=$(id -un)\"\n\
echo \"uid=$(id -u)\"\n\
if [ -r /etc/os-release ]; then sed 's/^/os_/' /etc/os-release; fi";

/// Parses the script's output into `ansible_facts` keys (without the `ansible_` prefix).
pub fn parse(stdout: &str) -> Map<String, Json> {
    let mut raw = std::collections::HashMap::new();
    for line in stdout.lines() {
        if let Some((k, v)) = line.split_once('=') {
            raw.insert(k.to_owned(), v.trim().trim_matches('"').trim_matches('\'').to_owned());
        }
    }
    let get = |k: &str| raw.get(k).cloned().unwrap_or_default();
    let id = get("os_ID");
    let like = get("os_ID_LIKE");
    let family = os_family(&id, &like);
    let distribution = match id.as_str() {
        "debian" => "Debian".to_owned(),
        "ubuntu" => "Ubuntu".to_owned(),
        "centos" => "CentOS".to_owned(),
        "rhel" => "RedHat".to_owned(),
        "fedora" => "Fedora".to_owned(),
        "rocky" => "Rocky".to_owned(),
        "almalinux" => "AlmaLinux".to_owned(),
        "alpine" => "Alpine".to_owned(),
        "arch" => "Archlinux".to_owned(),
        "" => get("system"),
        other => capitalize(other),
    };
    let version = get("os_VERSION_ID");
    let hostname = get("hostname");
    let short = hostname.split('.').next().unwrap_or("").to_owned();
    let facts = json!({
        "hostname": short,
        "nodename": hostname,
        "fqdn": hostname,
        "system": get("system"),
        "kernel": get("kernel"),
        "architecture": get("machine"),
        "machine": get("machine"),
        "user_id": get("user"),
        "user_uid": get("uid").parse::<i64>().unwrap_or(-1),
        "os_family": family,
        "distribution": distribution,
        "distribution_version": version,
        "distribution_major_version": version.split('.').next().unwrap_or(""),
        "distribution_release": get("os_VERSION_CODENAME"),
    });
    match facts {
        Json::Object(m) => m,
        _ => unreachable!("built as an object"),
    }
}

fn os_family(id: &str, like: &str) -> String {
    let ids: Vec<&str> = std::iter::once(id).chain(like.split_whitespace()).collect();
    for i in ids {
        match i {
            "debian" | "ubuntu" => return "Debian".into(),
            "rhel" | "fedora" | "centos" | "rocky" | "almalinux" => return "RedHat".into(),
            "alpine" => return "Alpine".into(),
            "arch" => return "Archlinux".into(),
            "suse" | "opensuse" | "sles" => return "Suse".into(),
            _ => {}
        }
    }
    if id.is_empty() {
        "Unknown".into()
    } else {
        capitalize(id)
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_os_release_gives_debian_family() {
        let f = parse("hostname=web1.example.com\nsystem=Linux\nos_ID=debian\nos_VERSION_ID=\"12\"\nos_VERSION_CODENAME=bookworm\n");
        assert_eq!(f["os_family"], "Debian");
        assert_eq!(f["distribution"], "Debian");
        assert_eq!(f["distribution_major_version"], "12");
        assert_eq!(f["hostname"], "web1");
    }
}
