//! Module names → modules, including fully qualified collection names.

use super::Module;

/// Every module stead knows.
static MODULES: &[&dyn Module] = &[
    &super::apt::Apt,
    &super::apt_repository::AptRepository,
    &super::deb822_repository::Deb822Repository,
    &super::command::Command,
    &super::command::Shell,
    &super::raw::Raw,
    &super::reboot::Reboot,
    &super::control::Debug,
    &super::dnf::Dnf,
    &super::dnf::Yum,
    &super::control::SetFact,
    &super::control::Assert,
    &super::control::Fail,
    &super::control::Ping,
    &super::meta::Meta,
    &super::modprobe::Modprobe,
    &super::mount::Mount,
    &super::authorized_key::AuthorizedKey,
    &super::package::Package,
    &super::package_facts::PackageFacts,
    &super::pam_limits::PamLimits,
    &super::patch_facts::PatchFacts,
    &super::blockinfile::BlockInFile,
    &super::copy::Copy,
    &super::cron::Cron,
    &super::crypto::privatekey::OpensslPrivatekey,
    &super::crypto::csr::OpensslCsr,
    &super::crypto::certificate::X509Certificate,
    &super::crypto::certificate_info::X509CertificateInfo,
    &super::crypto::dhparam::OpensslDhparam,
    &super::crypto::openssh_keypair::OpensshKeypair,
    &super::fetch::Fetch,
    &super::file::File,
    &super::find::Find,
    &super::firewall::nftables::Nftables,
    &super::get_url::GetUrl,
    &super::getent::Getent,
    &super::group::GroupModule,
    &super::hostname::Hostname,
    &super::firewall::iptables::Iptables,
    &super::firewall::ufw::Ufw,
    &super::ini_file::IniFile,
    &super::lineinfile::LineInFile,
    &super::replace::Replace,
    &super::stat::Stat,
    &super::sudoers::Sudoers,
    &super::sysctl::Sysctl,
    &super::service::Service,
    &super::service_facts::ServiceFacts,
    &super::systemd::Systemd,
    &super::systemd::SystemdService,
    &super::template::Template,
    &super::timezone::Timezone,
    &super::unarchive::Unarchive,
    &super::uri::Uri,
    &super::user::User,
    &super::wait_for::WaitFor,
];

/// Collection prefixes accepted before a module name.
const PREFIXES: &[&str] =
    &["ansible.builtin.", "ansible.legacy.", "ansible.posix.", "community.general.", "community.crypto."];

/// Finds a module by bare or fully qualified name.
pub fn lookup(name: &str) -> Option<&'static dyn Module> {
    let bare = PREFIXES.iter().find_map(|p| name.strip_prefix(p)).unwrap_or(name);
    MODULES.iter().copied().find(|m| m.name() == bare)
}

/// The names of all modules, for hints.
pub fn module_names() -> impl Iterator<Item = &'static str> {
    MODULES.iter().map(|m| m.name())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/modules.md stays true: every module has a row in its table and
    /// a section (`systemd_service` is documented with `systemd`).
    #[test]
    fn every_module_is_documented() {
        let docs = include_str!("../../docs/modules.md");
        let headings: Vec<&str> = docs.lines().filter(|l| l.starts_with("## ")).collect();
        for name in module_names() {
            let documented_as = if name == "systemd_service" { "systemd" } else { name };
            let quoted = format!("`{documented_as}`");
            assert!(
                headings
                    .iter()
                    .any(|h| h.split_whitespace().any(|w| w == documented_as || w.trim_matches(',') == quoted)),
                "docs/modules.md has no section for `{name}`"
            );
            assert!(
                docs.contains(&format!("[{quoted}]")) || docs.contains(&format!("{quoted},")),
                "no table row for `{name}`"
            );
        }
    }

    #[test]
    fn qualified_names_find_the_module() {
        assert_eq!(lookup("ansible.builtin.copy").map(|m| m.name()), Some("copy"));
        assert_eq!(lookup("community.general.sudoers").map(|m| m.name()), Some("sudoers"));
        assert!(lookup("nope").is_none());
    }
}
