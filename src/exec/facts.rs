//! `gather_facts`: a minimal fact set from one remote exec (hostname, OS
//! family, distribution, kernel, architecture, user, and the service and
//! package managers as Ansible names them), with POSIX sh only.

use serde_json::{json, Map, Value as Json};

/// The script that prints the raw facts.
pub const SCRIPT: &str = "echo \"hostname=$(hostname 2>/dev/null || uname -n)\"\n\
echo \"system=$(uname -s)\"\n\
echo \"kernel=$(uname -r)\"\n\
echo \"machine=$(uname -m)\"\n\
echo \"user=$(id -un)\"\n\
echo \"uid=$(id -u)\"\n\
if [ -r /etc/os-release ]; then sed 's/^/os_/' /etc/os-release; fi\n\
echo \"proc1=$(cat /proc/1/comm 2>/dev/null)\"\n\
if [ -L /sbin/init ]; then echo \"sbin_init=$(readlink /sbin/init)\"; fi\n\
if command -v systemctl >/dev/null 2>&1 && { [ -e /run/systemd/system ] || [ -e /dev/.run/systemd ] || [ -e /dev/.systemd ]; }; then echo systemd_booted=1; fi\n\
if command -v initctl >/dev/null 2>&1 && [ -d /etc/init ]; then echo upstart=1; fi\n\
for p in /sbin/openrc /etc/init.d /etc/dinit.d /run/ostree-booted /usr/bin/dpkg /usr/bin/rpm; do if [ -e \"$p\" ]; then echo \"exists=$p\"; fi; done\n\
for p in /usr/bin/rpm-ostree /usr/bin/yum /usr/bin/dnf-3 /usr/bin/dnf5 /usr/bin/apt-get /usr/bin/zypper /usr/sbin/urpmi /usr/bin/pacman /bin/opkg /usr/pkg/bin/pkgin /opt/local/bin/pkgin /opt/tools/bin/pkgin /opt/local/bin/port /usr/local/bin/brew /opt/homebrew/bin/brew /sbin/apk /usr/sbin/pkg /usr/sbin/swlist /usr/bin/emerge /usr/sbin/pkgadd /usr/bin/pkg /usr/bin/xbps-install /usr/local/sbin/pkg /usr/bin/swupd /usr/sbin/sorcery /usr/bin/installp; do if [ -e \"$p\" ]; then echo \"pkg=$p\"; fi; done\n\
for p in /usr/bin/dnf /usr/bin/microdnf; do if [ -e \"$p\" ]; then echo \"rh_dnf=$(readlink -f \"$p\")\"; break; fi; done";

/// Parses the script's output into `ansible_facts` keys (without the `ansible_` prefix).
pub fn parse(stdout: &str) -> Map<String, Json> {
    let mut raw = std::collections::HashMap::new();
    let mut listed: Vec<(String, String)> = Vec::new();
    for line in stdout.lines() {
        if let Some((k, v)) = line.split_once('=') {
            if matches!(k, "pkg" | "exists") {
                listed.push((k.to_owned(), v.to_owned()));
                continue;
            }
            raw.insert(k.to_owned(), v.trim().trim_matches('"').trim_matches('\'').to_owned());
        }
    }
    let exists = |p: &str| listed.iter().any(|(k, v)| k == "exists" && v == p);
    let pkg_paths: Vec<&str> = listed.iter().filter(|(k, _)| k == "pkg").map(|(_, v)| v.as_str()).collect();
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
        "service_mgr": service_mgr(&get("proc1"), raw.get("sbin_init").map(String::as_str), &get("system"), &raw, &exists),
        "pkg_mgr": pkg_mgr(&family, &pkg_paths, raw.get("rh_dnf").map(String::as_str), &exists),
    });
    match facts {
        Json::Object(m) => m,
        _ => unreachable!("built as an object"),
    }
}

/// Ansible's `service_mgr` fact (Linux): PID 1's name, unless it is a
/// generic `init` or a shell; then systemd, upstart, OpenRC, SysV init.
fn service_mgr(
    proc1: &str,
    sbin_init: Option<&str>,
    system: &str,
    raw: &std::collections::HashMap<String, String>,
    exists: &dyn Fn(&str) -> bool,
) -> String {
    let mut name = (!proc1.is_empty()).then(|| proc1.to_owned()).or_else(|| sbin_init.map(str::to_owned));
    if let Some(n) = &name {
        let base = n.rsplit('/').next().unwrap_or(n).trim().to_owned();
        name = (base != "init" && !base.ends_with("sh")).then_some(base);
    }
    if let Some(n) = name {
        return match n.as_str() {
            "procd" => "openwrt_init",
            "runit-init" => "runit",
            "svscan" => "svc",
            "openrc-init" => "openrc",
            other => other,
        }
        .to_owned();
    }
    if system == "Linux" {
        let systemd_offline = sbin_init.is_some_and(|t| t.ends_with("systemd"));
        if raw.contains_key("systemd_booted") {
            return "systemd".into();
        } else if raw.contains_key("upstart") {
            return "upstart".into();
        } else if exists("/sbin/openrc") {
            return "openrc".into();
        } else if systemd_offline {
            return "systemd".into();
        } else if exists("/etc/init.d") {
            return "sysvinit".into();
        } else if exists("/etc/dinit.d") {
            return "dinit".into();
        }
    }
    "service".into()
}

/// Ansible's `pkg_mgr` fact: the last known package manager found, with
/// the distribution family's default where several are installed.
fn pkg_mgr(family: &str, found: &[&str], rh_dnf: Option<&str>, exists: &dyn Fn(&str) -> bool) -> String {
    const KNOWN: &[(&str, &str)] = &[
        ("/usr/bin/rpm-ostree", "atomic_container"),
        ("/usr/bin/yum", "dnf"),
        ("/usr/bin/dnf-3", "dnf"),
        ("/usr/bin/dnf5", "dnf5"),
        ("/usr/bin/apt-get", "apt"),
        ("/usr/bin/zypper", "zypper"),
        ("/usr/sbin/urpmi", "urpmi"),
        ("/usr/bin/pacman", "pacman"),
        ("/bin/opkg", "opkg"),
        ("/usr/pkg/bin/pkgin", "pkgin"),
        ("/opt/local/bin/pkgin", "pkgin"),
        ("/opt/tools/bin/pkgin", "pkgin"),
        ("/opt/local/bin/port", "macports"),
        ("/usr/local/bin/brew", "homebrew"),
        ("/opt/homebrew/bin/brew", "homebrew"),
        ("/sbin/apk", "apk"),
        ("/usr/sbin/pkg", "pkgng"),
        ("/usr/sbin/swlist", "swdepot"),
        ("/usr/bin/emerge", "portage"),
        ("/usr/sbin/pkgadd", "svr4pkg"),
        ("/usr/bin/pkg", "pkg5"),
        ("/usr/bin/xbps-install", "xbps"),
        ("/usr/local/sbin/pkg", "pkgng"),
        ("/usr/bin/swupd", "swupd"),
        ("/usr/sbin/sorcery", "sorcery"),
        ("/usr/bin/installp", "installp"),
    ];
    let mut name =
        KNOWN.iter().filter(|(p, _)| found.contains(p)).map(|(_, n)| *n).next_back().unwrap_or("unknown").to_owned();
    if family == "RedHat" {
        name = if exists("/run/ostree-booted") {
            "atomic_container".into()
        } else {
            match rh_dnf {
                Some("/usr/bin/dnf5") => "dnf5".into(),
                Some(_) => "dnf".into(),
                None => "unknown".into(),
            }
        };
    } else if family == "Debian" && name != "apt" {
        name = "apt".into();
    }
    if name == "apt" && exists("/usr/bin/rpm") && !exists("/usr/bin/dpkg") {
        name = "apt_rpm".into();
    }
    name
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
        assert_eq!(f["pkg_mgr"], "apt", "Debian's default even with nothing found");
        assert_eq!(f["service_mgr"], "service");
    }

    #[test]
    fn service_and_package_managers_are_named_as_ansible_names_them() {
        let f = parse("system=Linux\nos_ID=debian\nproc1=systemd\npkg=/usr/bin/apt-get\nexists=/usr/bin/dpkg\n");
        assert_eq!((f["service_mgr"].as_str(), f["pkg_mgr"].as_str()), (Some("systemd"), Some("apt")));
        // A container's own PID 1 is taken as its service manager.
        assert_eq!(parse("system=Linux\nproc1=tini\n")["service_mgr"], "tini");
        // A shell or a generic init is not.
        let f = parse("system=Linux\nproc1=bash\nexists=/etc/init.d\n");
        assert_eq!(f["service_mgr"], "sysvinit");
        let f = parse("system=Linux\nproc1=init\nsystemd_booted=1\n");
        assert_eq!(f["service_mgr"], "systemd");
        let f = parse("system=Linux\nos_ID=rocky\npkg=/usr/bin/yum\nrh_dnf=/usr/bin/dnf-3\n");
        assert_eq!(f["pkg_mgr"], "dnf");
    }
}
