//! The SSH connection stead runs over, as the host sees it, and the packets
//! a firewall change must keep passing so that stead (and the operator)
//! can still reach the host afterwards.
//!
//! The host's view comes from `$SSH_CONNECTION` (client address and port,
//! server address and port): behind NAT or a ProxyJump it names the address
//! the host really sees. Privilege escalation (`sudo`) drops the variable,
//! so the probe snippet walks up the process tree to the login shell that
//! still has it. The interface the client's packets arrive on is the one
//! the host routes replies through (`ip route get`).
//!
//! This module only describes the connection; each firewall module
//! evaluates its own ruleset against [`SshPeer::packets`]. It never reads
//! or changes a ruleset itself.

use std::net::IpAddr;

/// The first word of the probe snippet's line.
pub const MARKER: &str = "stead-ssh-peer";

/// The variable a task (or any scope) sets to `true` to apply a firewall
/// change that cuts off the SSH connection stead runs over.
pub const ALLOW_LOCKOUT_VAR: &str = "stead_allow_lockout";

/// A shell snippet that prints one line: `stead-ssh-peer CLIENT CPORT
/// SERVER SPORT DEV` (DEV `-` when unknown), or `stead-ssh-peer none` when
/// the script does not run under SSH (the `local` connection, outside any
/// SSH session).
pub fn probe_snippet() -> String {
    format!(
        r#"peer=${{SSH_CONNECTION-}}
pid=$$
while [ -z "$peer" ] && [ -n "$pid" ] && [ "$pid" -gt 1 ] 2>/dev/null; do
  peer=$(tr '\000' '\n' < /proc/$pid/environ 2>/dev/null | sed -n 's/^SSH_CONNECTION=//p')
  pid=$(sed -n 's/^PPid:[[:space:]]*//p' /proc/$pid/status 2>/dev/null)
done
if [ -n "$peer" ]; then
  set -- $peer
  dev=$(ip -o route get "$1" 2>/dev/null | sed -n 's/.* dev \([^ ]*\).*/\1/p')
  printf '{MARKER} %s %s %s %s %s\n' "$1" "$2" "$3" "$4" "${{dev:--}}"
else
  printf '{MARKER} none\n'
fi
"#
    )
}

/// The SSH connection as the host sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshPeer {
    /// The client's address (the controller, a jump host or a NAT gateway).
    pub client: IpAddr,
    /// The client's source port.
    pub client_port: u16,
    /// The host's address the client connected to.
    pub server: IpAddr,
    /// The host's SSH port.
    pub server_port: u16,
    /// The interface the client's packets arrive on, when known.
    pub interface: Option<String>,
}

/// Parses the snippet's line: `Ok(None)` when there is no SSH connection.
pub fn parse(line: &str) -> Result<Option<SshPeer>, String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    match words.as_slice() {
        [MARKER, "none"] => Ok(None),
        [MARKER, client, cport, server, sport, dev] => {
            let addr = |s: &str| s.parse::<IpAddr>().map_err(|_| format!("bad address `{s}` in SSH_CONNECTION"));
            let port = |s: &str| s.parse::<u16>().map_err(|_| format!("bad port `{s}` in SSH_CONNECTION"));
            Ok(Some(SshPeer {
                client: addr(client)?,
                client_port: port(cport)?,
                server: addr(server)?,
                server_port: port(sport)?,
                interface: (*dev != "-").then(|| (*dev).to_owned()),
            }))
        }
        _ => Err(format!("bad SSH connection line `{line}`")),
    }
}

/// Where a packet crosses the host's firewall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Arriving (prerouting and input hooks, the INPUT chain).
    In,
    /// Leaving (output and postrouting hooks, the OUTPUT chain).
    Out,
}

/// The connection-tracking state of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CtState {
    /// The first packet of a new connection (stead's next connection).
    New,
    /// A packet of the connection in use.
    Established,
}

impl CtState {
    /// The name firewalls use (`new`, `established`; upper case for iptables).
    pub fn name(self) -> &'static str {
        match self {
            CtState::New => "new",
            CtState::Established => "established",
        }
    }
}

/// One TCP packet of the SSH connection, as a firewall sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// Its direction.
    pub direction: Direction,
    /// Source address.
    pub saddr: IpAddr,
    /// Destination address.
    pub daddr: IpAddr,
    /// Source port.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// Connection-tracking state.
    pub ct_state: CtState,
    /// The input interface (arriving packets), when known.
    pub iif: Option<String>,
    /// The output interface (leaving packets), when known.
    pub oif: Option<String>,
}

impl Packet {
    /// A short description for error messages.
    pub fn describe(&self) -> String {
        let what = match (self.direction, self.ct_state) {
            (Direction::In, CtState::New) => "a new SSH connection",
            (Direction::In, CtState::Established) => "the current SSH connection's packets",
            (Direction::Out, _) => "the SSH server's replies",
        };
        format!("{what} ({} port {} → {} port {})", self.saddr, self.sport, self.daddr, self.dport)
    }
}

impl SshPeer {
    /// The packets a change must let through: a new connection from the
    /// same client (stead reconnects, the operator logs in), the current
    /// connection's packets, and the server's replies.
    pub fn packets(&self) -> Vec<Packet> {
        let inbound = |ct_state| Packet {
            direction: Direction::In,
            saddr: self.client,
            daddr: self.server,
            sport: self.client_port,
            dport: self.server_port,
            ct_state,
            iif: self.interface.clone(),
            oif: None,
        };
        let reply = Packet {
            direction: Direction::Out,
            saddr: self.server,
            daddr: self.client,
            sport: self.server_port,
            dport: self.client_port,
            ct_state: CtState::Established,
            iif: None,
            oif: self.interface.clone(),
        };
        vec![inbound(CtState::New), inbound(CtState::Established), reply]
    }
}

/// Three-valued truth, for rule matches that stead cannot always decide
/// (a rate limit, a match it does not model): a firewall evaluator treats
/// `Maybe` pessimistically for drops and optimistically never.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tri {
    /// Certainly matches.
    Yes,
    /// Certainly does not.
    No,
    /// Cannot tell.
    Maybe,
}

impl Tri {
    /// Both must hold.
    pub fn and(self, other: Tri) -> Tri {
        match (self, other) {
            (Tri::No, _) | (_, Tri::No) => Tri::No,
            (Tri::Yes, Tri::Yes) => Tri::Yes,
            _ => Tri::Maybe,
        }
    }
    /// From a definite answer.
    pub fn from_bool(b: bool) -> Tri {
        if b {
            Tri::Yes
        } else {
            Tri::No
        }
    }
}

impl std::ops::Not for Tri {
    type Output = Tri;
    /// The opposite (`!=`).
    fn not(self) -> Tri {
        match self {
            Tri::Yes => Tri::No,
            Tri::No => Tri::Yes,
            Tri::Maybe => Tri::Maybe,
        }
    }
}

/// Why a change is refused: which packet the new ruleset drops (or may
/// drop), and the rule (or chain policy) that does it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lockout {
    /// The packet.
    pub packet: Packet,
    /// The rule as the firewall prints it, or `policy drop of chain X`.
    pub rule: String,
    /// Whether the rule certainly matches (`false`: it may, stead cannot tell).
    pub certain: bool,
}

impl Lockout {
    /// The task's failure message, with the escape hatch.
    pub fn message(&self, peer: &SshPeer) -> String {
        let how = if self.certain { "drops" } else { "may drop" };
        format!(
            "refusing a firewall change that would cut off stead's SSH connection (from {} to port {}): `{}` {how} {}; \
             allow the SSH port first, or set `{ALLOW_LOCKOUT_VAR}: true` on the task if losing the connection is intended",
            peer.client,
            peer.server_port,
            self.rule,
            self.packet.describe()
        )
    }
}

/// What a per-rule firewall module (iptables, ufw) does with a lock-out it
/// found: the real run fails before the apply; a dry run only warns (in
/// the task's `msg` and `warnings`), since the play's earlier tasks, not
/// applied in a dry run, may yet open the SSH port.
pub fn refuse_or_warn(
    plan: &mut crate::modules::Plan,
    why: String,
    check_mode: bool,
) -> Result<(), crate::modules::ModuleError> {
    if !check_mode {
        return Err(crate::modules::ModuleError::failed(why));
    }
    let warning = format!("a real run fails here unless earlier tasks change the ruleset: {why}");
    plan.result.insert("warnings".into(), vec![serde_json::Value::from(warning.clone())].into());
    plan.msg = Some(warning);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peer_line_parses_with_and_without_an_interface() {
        let peer = parse("stead-ssh-peer 10.231.5.1 40022 10.231.5.10 22 eth0").unwrap().unwrap();
        assert_eq!(peer.client.to_string(), "10.231.5.1");
        assert_eq!((peer.client_port, peer.server_port), (40022, 22));
        assert_eq!(peer.interface.as_deref(), Some("eth0"));
        let v6 = parse("stead-ssh-peer fd00::1 5 fd00::2 2222 -").unwrap().unwrap();
        assert_eq!(v6.interface, None);
        assert_eq!(parse("stead-ssh-peer none").unwrap(), None);
        assert!(parse("stead-ssh-peer 1.2.3.4").is_err());
        assert!(parse("stead-ssh-peer x 1 y 2 -").is_err());
    }

    #[test]
    fn the_packets_cover_a_new_connection_the_current_one_and_replies() {
        let peer = parse("stead-ssh-peer 10.0.0.1 40000 10.0.0.2 22 eth0").unwrap().unwrap();
        let p = peer.packets();
        assert_eq!(p.len(), 3);
        assert_eq!((p[0].dport, p[0].ct_state, p[0].direction), (22, CtState::New, Direction::In));
        assert_eq!(p[1].ct_state, CtState::Established);
        assert_eq!((p[2].sport, p[2].direction, p[2].oif.as_deref()), (22, Direction::Out, Some("eth0")));
    }

    #[test]
    fn tri_state_logic() {
        assert_eq!(Tri::Yes.and(Tri::Maybe), Tri::Maybe);
        assert_eq!(Tri::Maybe.and(Tri::No), Tri::No);
        assert_eq!(!Tri::Maybe, Tri::Maybe);
        assert_eq!(!Tri::from_bool(true), Tri::No);
    }
}
