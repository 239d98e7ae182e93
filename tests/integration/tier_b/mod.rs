//! Tests on Tier-B hosts (CONTRACT §7): root only, each test on hosts of
//! its own, checking the hosts' real state (packages, users, kernel
//! settings of their namespaces) after running the real `stead` binary.
//! Scenarios that Ansible has run under both engines (the oracle).

mod accounts;
mod become_password;
mod bundled_roles;
mod faults;
mod files;
mod filesystems;
mod firewall_iptables;
mod firewall_nftables;
mod firewall_ufw;
mod hardening;
mod host;
mod isolation;
mod kernel;
mod network;
mod packages;
mod patches;
mod reboot;
mod repos;
mod services;
mod text;
mod tls;

use crate::support::oracle::{self, Engine};
use crate::support::testhosts::Options;
use crate::support::{Outcome, Test, TestHosts};

/// The ways a module's main scenario runs: stead on a host with Python and
/// on one without any (targets need only sh), and the Ansible oracle.
pub fn variants() -> Vec<(Engine, Options)> {
    let mut out = vec![(Engine::Stead, Options::default())];
    // With STEAD_TEST_ORACLE the whole suite runs under Ansible, which needs
    // Python on the host.
    if oracle::ansible_playbook().is_none() {
        out.push((Engine::Stead, Options { no_python: true, ..Options::default() }));
    }
    out.extend(oracle::engines().into_iter().filter(|e| *e != Engine::Stead).map(|e| (e, Options::default())));
    out
}

/// Pins CONTRACT §5 on Tier-B hosts for the playbook as written: `--check`
/// (with `--detailed-exitcode`) reports `changed` tasks and leaves every
/// host's overlay byte-for-byte unchanged, the real run changes exactly as
/// many, and a second run changes nothing. Returns the real run.
#[track_caller]
pub fn converge(test: &Test, hosts: &TestHosts, changed: u64) -> Outcome {
    let before: Vec<String> = hosts.hosts().iter().map(|h| hosts.upper_hash(h)).collect();
    let listings: Vec<String> = hosts.hosts().iter().map(|h| hosts.upper_listing(h)).collect();
    let check = test.run_args(["apply", "site.yml", "--check", "--detailed-exitcode"]);
    check.assert_status(if changed > 0 { 2 } else { 0 }).assert_changed(changed);
    for (i, host) in hosts.hosts().iter().enumerate() {
        assert_eq!(
            before[i],
            hosts.upper_hash(host),
            "--check modified {}\nbefore:\n{}\nafter:\n{}\n{}",
            host.name,
            listings[i],
            hosts.upper_listing(host),
            check.stdout
        );
    }
    let real = test.run_args(["apply", "site.yml"]);
    real.assert_status(0).assert_changed(changed);
    let again = test.run_args(["apply", "site.yml", "--detailed-exitcode"]);
    again.assert_status(0).assert_changed(0);
    real
}
