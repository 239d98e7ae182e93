//! Firewall modules: each converges one part of the host's packet filter
//! and, before it changes anything, proves the new rules keep the SSH
//! connection stead runs over ([`peer`]).

pub mod iptables;
pub mod iptables_lockout;
pub mod nft_lockout;
pub mod nft_rules;
pub mod nftables;
pub mod peer;
pub mod ufw;

/// The path every firewall module reports as what it touches: they all
/// change the same kernel ruleset, so a firewall change makes every later
/// firewall task probe again.
pub const NETFILTER_PATH: &str = "/proc/net/netfilter";
