//! Would an iptables change cut off stead's SSH connection? A pure
//! evaluator of one table (as `iptables -t TABLE -S` prints it) against the
//! packets of [`super::peer::SshPeer::packets`].
//!
//! The packets walk the chains the kernel sends them through (`INPUT` for
//! arriving packets, `OUTPUT` for replies, in the `filter` table), rule by
//! rule, into user chains (`-j`, `-g`, `RETURN`) and down to the chain's
//! policy. Matches stead models: `-p`, `-s`/`-d` (CIDR, negated), `-i`/`-o`
//! (with `+` wildcards), `--dport`/`--sport` (tcp/udp matches),
//! `multiport`, `conntrack --ctstate`, `state --state`, `--syn`, `-f`,
//! `comment`. Any other match is [`Tri::Maybe`]: a rule that may match and
//! drops counts as a possible drop, one that may match and accepts is never
//! relied on.
//!
//! A change is refused when it makes a packet's fate worse than it is now
//! ([`worse`]): accepted before, dropped or maybe dropped after; maybe
//! dropped before, certainly dropped after. A host whose ruleset already
//! drops a packet is not blamed on the change that did not cause it.
//!
//! This file never reads or changes a ruleset on a host: it is given text.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::peer::{CtState, Direction, Lockout, Packet, Tri};

/// One rule of a chain, parsed from its `-A CHAIN ...` words (or the rule
/// specification stead is about to add).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The rule as `iptables -S` prints it (for messages).
    pub text: String,
    conds: Vec<Cond>,
    target: Target,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Cond {
    Proto(bool, String),
    Src(bool, Vec<String>),
    Dst(bool, Vec<String>),
    InIf(bool, String),
    OutIf(bool, String),
    Dport(bool, String),
    Sport(bool, String),
    Ports(bool, String),
    CtState(bool, Vec<String>),
    Syn(bool),
    Fragment(bool),
    /// `addrtype --src-type` (`true`) or `--dst-type`, with the types.
    AddrType(bool, bool, Vec<String>),
    /// A match stead does not model, by its words.
    Unknown(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    None,
    Accept,
    Drop,
    Return,
    Jump(String),
    Goto(String),
    /// A target that does not end the walk (`LOG`, `MARK`, ...).
    Continue(String),
}

/// Targets that let the packet go on to the next rule.
const NON_TERMINATING: &[&str] = &[
    "LOG",
    "NFLOG",
    "ULOG",
    "MARK",
    "CONNMARK",
    "TOS",
    "DSCP",
    "TTL",
    "HL",
    "CLASSIFY",
    "TEE",
    "AUDIT",
    "TRACE",
    "CT",
    "NOTRACK",
    "SET",
    "CHECKSUM",
    "TCPMSS",
    "SECMARK",
    "CONNSECMARK",
    "IDLETIMER",
    "LED",
];

/// Options that only configure a target (`-j REJECT --reject-with ...`),
/// each with one value.
const TARGET_OPTIONS: &[&str] = &[
    "--reject-with",
    "--log-prefix",
    "--log-level",
    "--to-destination",
    "--to-source",
    "--to-ports",
    "--set-dscp",
    "--set-dscp-class",
    "--gateway",
    "--set-mark",
    "--set-xmark",
    "--nflog-prefix",
    "--nflog-group",
    "--queue-num",
];

/// Flag options of targets, without a value.
const TARGET_FLAGS: &[&str] = &["--log-tcp-sequence", "--log-tcp-options", "--log-ip-options", "--log-uid", "--random"];

/// Matches whose options stead reads.
const MODELLED_MATCHES: &[&str] = &["tcp", "udp", "multiport", "conntrack", "state", "comment", "addrtype"];

impl Rule {
    /// Parses a rule from its words after `-A CHAIN` (or of a rule
    /// specification). `text` is kept for messages.
    pub fn parse(words: &[String], text: &str) -> Rule {
        let mut conds = Vec::new();
        let mut target = Target::None;
        let mut neg = false;
        let mut i = 0;
        let value = |i: usize| words.get(i + 1).cloned().unwrap_or_default();
        while i < words.len() {
            let w = words[i].as_str();
            let mut step = 2;
            match w {
                "!" => {
                    neg = true;
                    i += 1;
                    continue;
                }
                "-p" | "--protocol" => conds.push(Cond::Proto(neg, value(i).to_ascii_lowercase())),
                "-s" | "--source" | "--src" => conds.push(Cond::Src(neg, split_list(&value(i)))),
                "-d" | "--destination" | "--dst" => conds.push(Cond::Dst(neg, split_list(&value(i)))),
                "-i" | "--in-interface" => conds.push(Cond::InIf(neg, value(i))),
                "-o" | "--out-interface" => conds.push(Cond::OutIf(neg, value(i))),
                "--dport" | "--destination-port" => conds.push(Cond::Dport(neg, value(i))),
                "--sport" | "--source-port" => conds.push(Cond::Sport(neg, value(i))),
                "--dports" | "--destination-ports" => conds.push(Cond::Dport(neg, value(i))),
                "--sports" | "--source-ports" => conds.push(Cond::Sport(neg, value(i))),
                "--ports" => conds.push(Cond::Ports(neg, value(i))),
                "--ctstate" | "--state" => conds.push(Cond::CtState(neg, ct_states(&value(i)))),
                "--comment" => {}
                "--src-type" => conds.push(Cond::AddrType(neg, true, ct_states(&value(i)))),
                "--dst-type" => conds.push(Cond::AddrType(neg, false, ct_states(&value(i)))),
                "--syn" => {
                    conds.push(Cond::Syn(neg));
                    step = 1;
                }
                "-f" | "--fragment" => {
                    conds.push(Cond::Fragment(neg));
                    step = 1;
                }
                "-m" | "--match" => {
                    let m = value(i);
                    if !MODELLED_MATCHES.contains(&m.as_str()) {
                        conds.push(Cond::Unknown(format!("-m {m}")));
                    }
                }
                "-j" | "--jump" => target = target_of(&value(i), false),
                "-g" | "--goto" => target = target_of(&value(i), true),
                "-w" | "--wait" | "-W" | "--wait-interval" => {
                    step = if words.get(i + 1).is_some_and(|v| v.parse::<f64>().is_ok()) { 2 } else { 1 };
                }
                "-c" | "--set-counters" => {
                    step = 1 + words[i + 1..].iter().take(2).take_while(|v| v.parse::<u64>().is_ok()).count();
                }
                o if TARGET_OPTIONS.contains(&o) => {}
                o if TARGET_FLAGS.contains(&o) => step = 1,
                other => {
                    // An option of a match stead does not model, with its values.
                    let mut text = format!("{}{other}", if neg { "! " } else { "" });
                    step = 1;
                    while let Some(v) = words.get(i + step).filter(|v| !v.starts_with('-') && *v != "!") {
                        text.push(' ');
                        text.push_str(v);
                        step += 1;
                    }
                    conds.push(Cond::Unknown(text));
                }
            }
            neg = false;
            i += step;
        }
        conds.sort();
        Rule { text: text.to_owned(), conds, target }
    }

    /// Whether two rules mean the same (order of options, `-m tcp`, a
    /// `/32` and the case of states and protocols aside).
    pub fn same_as(&self, other: &Rule) -> bool {
        self.conds == other.conds && self.target == other.target
    }

    /// Whether two rules have the same target.
    pub fn same_target(&self, other: &Rule) -> bool {
        self.target == other.target
    }
}

fn split_list(v: &str) -> Vec<String> {
    let mut out: Vec<String> = v.split(',').map(normalise_addr).collect();
    out.sort();
    out
}

fn normalise_addr(a: &str) -> String {
    match parse_net(a) {
        Some((net, len)) => format!("{net}/{len}"),
        None => a.to_owned(),
    }
}

fn ct_states(v: &str) -> Vec<String> {
    let mut out: Vec<String> = v.split(',').map(|s| s.trim().to_ascii_uppercase()).collect();
    out.sort();
    out
}

fn target_of(name: &str, goto: bool) -> Target {
    match name {
        "ACCEPT" => Target::Accept,
        "DROP" | "REJECT" | "TARPIT" => Target::Drop,
        "RETURN" => Target::Return,
        n if NON_TERMINATING.contains(&n) => Target::Continue(n.to_owned()),
        n if goto => Target::Goto(n.to_owned()),
        // A user chain, or an unknown extension target: decided at walk
        // time, when the chains are known.
        n => Target::Jump(n.to_owned()),
    }
}

/// An address with an optional prefix length or dotted mask.
fn parse_net(s: &str) -> Option<(IpAddr, u8)> {
    let (addr, len) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (s, None),
    };
    let addr: IpAddr = addr.parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let len = match len {
        None => max,
        Some(l) => match l.parse::<u8>() {
            Ok(n) if n <= max => n,
            Ok(_) => return None,
            Err(_) => match l.parse::<IpAddr>().ok()? {
                IpAddr::V4(m) => {
                    let bits = u32::from(m);
                    if bits.leading_ones() + bits.trailing_zeros() != 32 {
                        return None;
                    }
                    bits.leading_ones() as u8
                }
                IpAddr::V6(_) => return None,
            },
        },
    };
    Some((mask(addr, len), len))
}

fn mask(addr: IpAddr, len: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let m = if len == 0 { 0 } else { u32::MAX << (32 - u32::from(len)) };
            IpAddr::V4((u32::from(a) & m).into())
        }
        IpAddr::V6(a) => {
            let m = if len == 0 { 0 } else { u128::MAX << (128 - u32::from(len)) };
            IpAddr::V6((u128::from(a) & m).into())
        }
    }
}

fn addr_in(addr: IpAddr, list: &[String]) -> Tri {
    let mut out = Tri::No;
    for item in list {
        match parse_net(item) {
            Some((net, len)) if net.is_ipv4() == addr.is_ipv4() => {
                if mask(addr, len) == net {
                    return Tri::Yes;
                }
            }
            Some(_) => {}
            // A host name: iptables resolved it when the rule was added.
            None => out = Tri::Maybe,
        }
    }
    out
}

fn port_in(port: u16, spec: &str) -> Tri {
    let mut out = Tri::No;
    for part in spec.split(',') {
        let (lo, hi) = match part.split_once(':') {
            Some((a, b)) => (a, b),
            None => (part, part),
        };
        let lo = if lo.is_empty() { Some(0) } else { lo.parse::<u16>().ok() };
        let hi = if hi.is_empty() { Some(u16::MAX) } else { hi.parse::<u16>().ok() };
        match (lo, hi) {
            (Some(lo), Some(hi)) if (lo..=hi).contains(&port) => return Tri::Yes,
            (Some(_), Some(_)) => {}
            // A service name.
            _ => out = Tri::Maybe,
        }
    }
    out
}

fn iface_is(iface: Option<&str>, pattern: &str) -> Tri {
    let Some(iface) = iface else { return Tri::Maybe };
    match pattern.strip_suffix('+') {
        Some(prefix) => Tri::from_bool(iface.starts_with(prefix)),
        None => Tri::from_bool(iface == pattern),
    }
}

fn with_neg(neg: bool, t: Tri) -> Tri {
    if neg {
        !t
    } else {
        t
    }
}

impl Cond {
    fn matches(&self, p: &Packet) -> Tri {
        match self {
            Cond::Proto(neg, proto) => {
                with_neg(*neg, Tri::from_bool(matches!(proto.as_str(), "tcp" | "6" | "all" | "0")))
            }
            Cond::Src(neg, list) => with_neg(*neg, addr_in(p.saddr, list)),
            Cond::Dst(neg, list) => with_neg(*neg, addr_in(p.daddr, list)),
            Cond::InIf(neg, pat) => with_neg(*neg, iface_is(p.iif.as_deref(), pat)),
            Cond::OutIf(neg, pat) => with_neg(*neg, iface_is(p.oif.as_deref(), pat)),
            Cond::Dport(neg, spec) => with_neg(*neg, port_in(p.dport, spec)),
            Cond::Sport(neg, spec) => with_neg(*neg, port_in(p.sport, spec)),
            Cond::Ports(neg, spec) => {
                let any = match (port_in(p.sport, spec), port_in(p.dport, spec)) {
                    (Tri::Yes, _) | (_, Tri::Yes) => Tri::Yes,
                    (Tri::No, Tri::No) => Tri::No,
                    _ => Tri::Maybe,
                };
                with_neg(*neg, any)
            }
            Cond::CtState(neg, states) => {
                let name = p.ct_state.name().to_ascii_uppercase();
                with_neg(*neg, Tri::from_bool(states.contains(&name)))
            }
            // The first packet of a new connection is a SYN; the others carry an ACK.
            Cond::Syn(neg) => with_neg(*neg, Tri::from_bool(p.ct_state == CtState::New)),
            Cond::Fragment(neg) => with_neg(*neg, Tri::No),
            Cond::AddrType(neg, src, types) => {
                // The host's own address is LOCAL; both ends are UNICAST.
                let local = (*src) == (p.direction == Direction::Out);
                let is = |t: &str| match t {
                    "UNICAST" => Tri::Yes,
                    "LOCAL" => Tri::from_bool(local),
                    "BROADCAST" | "MULTICAST" | "ANYCAST" | "BLACKHOLE" | "UNREACHABLE" | "PROHIBIT" | "NAT" => Tri::No,
                    _ => Tri::Maybe,
                };
                let any = types.iter().map(|t| is(t)).fold(Tri::No, |acc, t| match (acc, t) {
                    (Tri::Yes, _) | (_, Tri::Yes) => Tri::Yes,
                    (Tri::No, Tri::No) => Tri::No,
                    _ => Tri::Maybe,
                });
                with_neg(*neg, any)
            }
            Cond::Unknown(_) => Tri::Maybe,
        }
    }
}

/// One table as `iptables -t TABLE -S` prints it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    /// Built-in chains' policies.
    pub policies: BTreeMap<String, String>,
    /// Every chain's rules, in order (user chains with no rules too).
    pub chains: BTreeMap<String, Vec<Rule>>,
}

impl Table {
    /// Parses `iptables -S` output. Lines it cannot split are an error.
    pub fn parse(text: &str) -> Result<Table, String> {
        let mut t = Table::default();
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let words = shell_words::split(line).map_err(|e| format!("cannot read `{line}`: {e}"))?;
            match words.as_slice() {
                [p, chain, policy] if p == "-P" => {
                    t.policies.insert(chain.clone(), policy.clone());
                    t.chains.entry(chain.clone()).or_default();
                }
                [n, chain] if n == "-N" => {
                    t.chains.entry(chain.clone()).or_default();
                }
                [a, chain, rest @ ..] if a == "-A" => {
                    let rule = Rule::parse(rest, line);
                    t.chains.entry(chain.clone()).or_default().push(rule);
                }
                _ => return Err(format!("cannot read `{line}`")),
            }
        }
        Ok(t)
    }

    /// Reads the `*filter` sections of `iptables-restore` input (ufw's
    /// rules files) into this table: `:CHAIN POLICY` declares a chain (and
    /// sets a built-in one's policy) and flushes it, as `iptables-restore
    /// --noflush` does; `-A` appends, `-I` inserts at the top.
    pub fn load_restore(&mut self, text: &str) -> Result<(), String> {
        let mut in_filter = false;
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(table) = line.strip_prefix('*') {
                in_filter = table == "filter";
                continue;
            }
            if !in_filter || line == "COMMIT" {
                continue;
            }
            if let Some(decl) = line.strip_prefix(':') {
                let mut parts = decl.split_whitespace();
                let chain = parts.next().unwrap_or_default().to_owned();
                match parts.next() {
                    Some(p) if p != "-" => {
                        self.policies.insert(chain.clone(), p.to_owned());
                    }
                    _ => {}
                }
                // A declared chain is flushed (iptables-restore --noflush).
                self.chains.insert(chain, Vec::new());
                continue;
            }
            let words = shell_words::split(line).map_err(|e| format!("cannot read `{line}`: {e}"))?;
            match words.as_slice() {
                [op, chain, rest @ ..] if op == "-A" || op == "-I" => {
                    let rule = Rule::parse(rest, &format!("-A {chain} {}", rest.join(" ")));
                    let rules = self.chains.entry(chain.clone()).or_default();
                    if op == "-A" {
                        rules.push(rule);
                    } else {
                        rules.insert(0, rule);
                    }
                }
                _ => return Err(format!("cannot read `{line}`")),
            }
        }
        Ok(())
    }

    /// A chain's rules, for changes (created empty when missing).
    pub fn chain_mut(&mut self, chain: &str) -> &mut Vec<Rule> {
        self.chains.entry(chain.to_owned()).or_default()
    }
}

/// What happens to a packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// It passes.
    Accept,
    /// It is (`certain`) or may be dropped, by this rule or policy.
    Drop {
        /// The rule's text, or `policy DROP of chain X`.
        rule: String,
        /// Whether it certainly is.
        certain: bool,
    },
}

impl Verdict {
    fn rank(&self) -> u8 {
        match self {
            Verdict::Accept => 0,
            Verdict::Drop { certain: false, .. } => 1,
            Verdict::Drop { certain: true, .. } => 2,
        }
    }
}

/// Whether `after` is worse for the packet than `before`.
pub fn worse(before: &Verdict, after: &Verdict) -> bool {
    after.rank() > before.rank()
}

#[derive(Debug, Clone, Default)]
struct Walk {
    /// The first rule that may stop the packet, when it only may.
    maybe_drop: Option<String>,
    /// Whether a rule that may have accepted the packet was passed.
    maybe_accepted: bool,
}

const MAX_DEPTH: usize = 32;

impl Table {
    /// The packet's fate in the chain the kernel sends it through
    /// (`INPUT` or `OUTPUT`).
    pub fn verdict(&self, p: &Packet) -> Verdict {
        let chain = match p.direction {
            Direction::In => "INPUT",
            Direction::Out => "OUTPUT",
        };
        let mut w = Walk::default();
        let end = match self.walk(chain, p, &mut w, 0) {
            Some(v) => return v,
            None => self.policies.get(chain).map(String::as_str).unwrap_or("ACCEPT"),
        };
        if end == "ACCEPT" {
            accept(&w)
        } else {
            Verdict::Drop { rule: format!("policy {end} of chain {chain}"), certain: !w.maybe_accepted }
        }
    }

    /// Walks a chain: `Some` when a rule decides, `None` when the packet
    /// falls off its end (or returns).
    fn walk(&self, chain: &str, p: &Packet, w: &mut Walk, depth: usize) -> Option<Verdict> {
        let rules = self.chains.get(chain)?;
        for rule in rules {
            let m = rule.conds.iter().fold(Tri::Yes, |acc, c| acc.and(c.matches(p)));
            if m == Tri::No {
                continue;
            }
            let sure = m == Tri::Yes;
            let result = match &rule.target {
                Target::None | Target::Continue(_) => continue,
                Target::Accept => Some(Verdict::Accept),
                Target::Drop => Some(Verdict::Drop { rule: rule.text.clone(), certain: true }),
                Target::Return => None,
                Target::Jump(sub) | Target::Goto(sub) => {
                    if !self.chains.contains_key(sub) || depth >= MAX_DEPTH {
                        Some(Verdict::Drop { rule: rule.text.clone(), certain: false })
                    } else {
                        let mut inner = if sure { std::mem::take(w) } else { w.clone() };
                        let r = self.walk(sub, p, &mut inner, depth + 1);
                        if sure {
                            *w = inner;
                        } else {
                            w.maybe_drop = w.maybe_drop.take().or(inner.maybe_drop);
                            w.maybe_accepted |= inner.maybe_accepted;
                        }
                        match (r, &rule.target) {
                            (Some(v), _) => Some(v),
                            // Falling off a chain reached by goto returns from this one.
                            (None, Target::Goto(_)) => {
                                if sure {
                                    return None;
                                }
                                w.maybe_drop.get_or_insert_with(|| rule.text.clone());
                                continue;
                            }
                            (None, _) => continue,
                        }
                    }
                }
            };
            if sure {
                match result {
                    Some(Verdict::Accept) => return Some(accept(w)),
                    Some(Verdict::Drop { rule, certain }) => {
                        return Some(Verdict::Drop { rule, certain: certain && !w.maybe_accepted })
                    }
                    None => return None,
                }
            }
            match result {
                Some(Verdict::Accept) => w.maybe_accepted = true,
                // A RETURN that may happen skips rules that might have accepted.
                Some(Verdict::Drop { .. }) | None => {
                    w.maybe_drop.get_or_insert_with(|| rule.text.clone());
                }
            }
        }
        None
    }
}

fn accept(w: &Walk) -> Verdict {
    match &w.maybe_drop {
        Some(rule) => Verdict::Drop { rule: rule.clone(), certain: false },
        None => Verdict::Accept,
    }
}

/// The first packet whose fate `after` makes worse than `before`, as a
/// lock-out.
pub fn lockout(before: &Table, after: &Table, packets: &[Packet]) -> Option<Lockout> {
    packets.iter().find_map(|p| {
        let (b, a) = (before.verdict(p), after.verdict(p));
        match a {
            Verdict::Drop { rule, certain } if worse(&b, &Verdict::Drop { rule: String::new(), certain }) => {
                Some(Lockout { packet: p.clone(), rule, certain })
            }
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::super::peer;
    use super::*;

    fn packets() -> Vec<Packet> {
        peer::parse("stead-ssh-peer 10.231.5.1 40022 10.231.5.10 22 eth0").unwrap().unwrap().packets()
    }

    fn table(text: &str) -> Table {
        Table::parse(text).unwrap()
    }

    fn verdicts(text: &str) -> Vec<Verdict> {
        let t = table(text);
        packets().iter().map(|p| t.verdict(p)).collect()
    }

    const OPEN: &str = "-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n";

    #[test]
    fn an_open_table_accepts_everything() {
        assert!(verdicts(OPEN).iter().all(|v| *v == Verdict::Accept));
    }

    #[test]
    fn policy_drop_without_an_ssh_rule_drops_the_inbound_packets() {
        let v = verdicts("-P INPUT DROP\n-P OUTPUT ACCEPT\n");
        assert_eq!(v[0], Verdict::Drop { rule: "policy DROP of chain INPUT".into(), certain: true });
        assert_eq!(v[2], Verdict::Accept);
    }

    #[test]
    fn output_policy_drop_cuts_the_replies_unless_established_is_accepted() {
        let v = verdicts("-P INPUT ACCEPT\n-P OUTPUT DROP\n");
        assert_eq!(v[0], Verdict::Accept);
        assert_eq!(v[2], Verdict::Drop { rule: "policy DROP of chain OUTPUT".into(), certain: true });
        let v = verdicts("-P OUTPUT DROP\n-A OUTPUT -m conntrack --ctstate ESTABLISHED -j ACCEPT\n");
        assert_eq!(v[2], Verdict::Accept);
        let v = verdicts("-P OUTPUT DROP\n-A OUTPUT -p tcp -m tcp --sport 22 -o eth0 -j ACCEPT\n");
        assert_eq!(v[2], Verdict::Accept);
    }

    #[test]
    fn an_ssh_accept_rule_keeps_policy_drop_safe() {
        let t =
            "-P INPUT DROP\n-A INPUT -i lo -j ACCEPT\n-A INPUT -s 10.231.5.0/24 -p tcp -m tcp --dport 22 -j ACCEPT\n";
        assert!(verdicts(t).iter().all(|v| *v == Verdict::Accept));
        // Established only: the new connection is dropped, the current one passes.
        let t = "-P INPUT DROP\n-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n";
        let v = verdicts(t);
        assert!(matches!(v[0], Verdict::Drop { certain: true, .. }));
        assert_eq!(v[1], Verdict::Accept);
        // multiport and state.
        let t = "-P INPUT DROP\n-A INPUT -p tcp -m multiport --dports 80,20:25 -m state --state NEW,ESTABLISHED -j ACCEPT\n";
        assert!(verdicts(t).iter().all(|v| *v == Verdict::Accept));
    }

    #[test]
    fn drop_rules_match_by_address_port_interface_and_negation() {
        let drops = |rule: &str| {
            let v = verdicts(&format!("{OPEN}-A INPUT {rule}\n"));
            v[0].clone()
        };
        assert!(matches!(drops("-p tcp -m tcp --dport 22 -j DROP"), Verdict::Drop { certain: true, .. }));
        assert_eq!(drops("-p tcp -m tcp --dport 8081 -j DROP"), Verdict::Accept);
        assert_eq!(drops("-p udp -m udp --dport 22 -j DROP"), Verdict::Accept);
        assert_eq!(drops("-s 192.168.0.0/16 -j DROP"), Verdict::Accept);
        assert!(matches!(drops("! -s 192.168.0.0/16 -j DROP"), Verdict::Drop { certain: true, .. }));
        assert!(matches!(drops("-s 10.231.5.1/255.255.255.0 -j REJECT --reject-with tcp-reset"), Verdict::Drop { .. }));
        assert_eq!(drops("-i lo -j DROP"), Verdict::Accept);
        assert!(matches!(drops("-i eth+ -j DROP"), Verdict::Drop { certain: true, .. }));
        assert_eq!(drops("-p tcp --syn -m tcp --dport 8000:9000 -j DROP"), Verdict::Accept);
        // An unmodelled match may drop.
        assert_eq!(
            drops("-p tcp -m recent --update --seconds 60 -j DROP"),
            Verdict::Drop { rule: "-A INPUT -p tcp -m recent --update --seconds 60 -j DROP".into(), certain: false }
        );
        // Ansible's spelling of the same rules.
        let words: Vec<String> =
            ["-p", "tcp", "--destination-port", "22", "-j", "DROP"].iter().map(|s| s.to_string()).collect();
        let mut t = table(OPEN);
        t.chain_mut("INPUT").push(Rule::parse(&words, "x"));
        assert!(matches!(t.verdict(&packets()[0]), Verdict::Drop { certain: true, .. }));
    }

    #[test]
    fn user_chains_return_and_goto() {
        let t = "-P INPUT DROP\n-N ssh\n-A INPUT -p tcp -j ssh\n-A ssh -p tcp --dport 22 -j ACCEPT\n-A ssh -j RETURN\n";
        assert_eq!(verdicts(t)[0], Verdict::Accept);
        let t = "-P INPUT DROP\n-N web\n-A INPUT -p tcp -j web\n-A INPUT -p tcp --dport 22 -j ACCEPT\n-A web -p tcp --dport 80 -j ACCEPT\n";
        assert_eq!(verdicts(t)[0], Verdict::Accept);
        // A goto's chain falling off its end takes the policy of INPUT.
        let t = "-P INPUT DROP\n-N web\n-A INPUT -p tcp -g web\n-A INPUT -p tcp --dport 22 -j ACCEPT\n";
        assert!(matches!(verdicts(t)[0], Verdict::Drop { certain: true, .. }));
        // A jump to an unknown target may drop.
        let t = format!("{OPEN}-A INPUT -j NFQUEUE --queue-num 1\n");
        assert!(matches!(verdicts(&t)[0], Verdict::Drop { certain: false, .. }));
        // LOG goes on.
        let t = format!("{OPEN}-A INPUT -j LOG --log-prefix \"in: \"\n");
        assert_eq!(verdicts(&t)[0], Verdict::Accept);
    }

    #[test]
    fn maybe_matches_never_accept_and_only_maybe_drop() {
        let t = "-P INPUT DROP\n-A INPUT -m limit --limit 5/min -j ACCEPT\n";
        assert_eq!(verdicts(t)[0], Verdict::Drop { rule: "policy DROP of chain INPUT".into(), certain: false });
    }

    #[test]
    fn only_a_change_for_the_worse_is_a_lockout() {
        let before = table(OPEN);
        let after = table("-P INPUT DROP\n-P OUTPUT ACCEPT\n");
        let l = lockout(&before, &after, &packets()).unwrap();
        assert!(l.certain && l.rule == "policy DROP of chain INPUT");
        assert_eq!(lockout(&after, &after, &packets()), None);
        let maybe = table(&format!("{OPEN}-A INPUT -m recent --rcheck -j DROP\n"));
        assert!(lockout(&maybe, &after, &packets()).is_some());
        assert_eq!(lockout(&maybe, &maybe, &packets()), None);
    }

    #[test]
    fn restore_files_load_and_addrtype_matches() {
        let mut t = table("-P INPUT DROP\n");
        t.load_restore(
            "*filter\n:ufw-not-local - [0:0]\n:ufw-user-input - [0:0]\n# c\n\
             -A ufw-not-local -m addrtype --dst-type LOCAL -j RETURN\n-A ufw-not-local -j DROP\n\
             -A ufw-user-input -p tcp --dport 22 -j ACCEPT\nCOMMIT\n*nat\n-A POSTROUTING -j DROP\nCOMMIT\n",
        )
        .unwrap();
        t.chain_mut("INPUT").push(Rule::parse(&["-j".into(), "ufw-not-local".into()], "a"));
        t.chain_mut("INPUT").push(Rule::parse(&["-j".into(), "ufw-user-input".into()], "b"));
        assert_eq!(t.verdict(&packets()[0]), Verdict::Accept);
        assert!(!t.chains.contains_key("POSTROUTING"));
    }

    #[test]
    fn rules_compare_across_spellings() {
        let s = |w: &[&str]| Rule::parse(&w.iter().map(|s| s.to_string()).collect::<Vec<_>>(), "");
        let printed = s(&["-s", "10.0.0.1/32", "-p", "tcp", "-m", "tcp", "--dport", "22", "-j", "ACCEPT"]);
        let ansible = s(&["-p", "tcp", "-s", "10.0.0.1", "--destination-port", "22", "-j", "ACCEPT"]);
        assert!(printed.same_as(&ansible));
        assert!(!printed.same_as(&s(&["-p", "tcp", "-j", "ACCEPT"])));
        assert!(s(&["-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT"]).same_as(&s(&[
            "-m",
            "conntrack",
            "--ctstate",
            "related,established",
            "-j",
            "ACCEPT"
        ])));
    }
}
