//! Whether an nft table, as nft itself lists it in JSON (`nft -j list
//! table`), drops the packets of stead's SSH connection.
//!
//! Pure: the `nftables` module hands it the table it is about to load,
//! normalised by nft, and the [`Packet`]s of [`super::peer`]. Every base
//! chain of the table on the packet's path is walked rule by rule, through
//! `jump` and `goto`. A match stead models (addresses, ports, protocol,
//! interfaces, ct state) is decided; anything else (a rate limit, marks,
//! a match it does not know) is [`Tri::Maybe`]. The first rule that
//! certainly or possibly drops the packet before a certain accept is the
//! answer; so is a `drop` policy reached without one. Only drops count: an
//! accept in this table still leaves the packet to other tables, which this
//! change does not touch.
//!
//! It never errs on the side of letting a change through: what it cannot
//! read is treated as a possible drop.

use std::collections::HashMap;
use std::net::IpAddr;

use serde_json::Value;

use super::peer::{Direction, Lockout, Packet, Tri};

/// Jumps deeper than this are treated as possible drops (nft itself
/// refuses loops).
const MAX_DEPTH: usize = 16;

/// The table's parts the walk needs.
struct Table<'a> {
    family: String,
    chains: HashMap<&'a str, ChainInfo<'a>>,
    sets: HashMap<&'a str, &'a [Value]>,
}

struct ChainInfo<'a> {
    hook: Option<&'a str>,
    policy: Option<&'a str>,
    rules: Vec<&'a [Value]>,
}

/// How a walk through a chain ended.
enum Walk {
    /// Certainly accepted (by this table).
    Accept,
    /// Dropped, or possibly dropped, by this rule.
    Drop(Lockout),
    /// Fell off the end (or `return`): the policy or the caller decides.
    End,
}

fn parse(json: &Value) -> Table<'_> {
    let mut table = Table { family: String::new(), chains: HashMap::new(), sets: HashMap::new() };
    let items = json.get("nftables").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    for item in items {
        if let Some(t) = item.get("table") {
            table.family = t.get("family").and_then(Value::as_str).unwrap_or_default().to_owned();
        } else if let Some(c) = item.get("chain") {
            let Some(name) = c.get("name").and_then(Value::as_str) else { continue };
            table.chains.insert(
                name,
                ChainInfo {
                    hook: c.get("hook").and_then(Value::as_str),
                    policy: c.get("policy").and_then(Value::as_str),
                    rules: Vec::new(),
                },
            );
        } else if let Some(s) = item.get("set") {
            let Some(name) = s.get("name").and_then(Value::as_str) else { continue };
            let elems = s.get("elem").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
            table.sets.insert(name, elems);
        }
    }
    for item in items {
        let Some(r) = item.get("rule") else { continue };
        let chain = r.get("chain").and_then(Value::as_str).unwrap_or_default();
        let expr = r.get("expr").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        if let Some(c) = table.chains.get_mut(chain) {
            c.rules.push(expr);
        }
    }
    table
}

/// The first of `packets` the table drops (or may drop), if any.
pub fn check(json: &Value, packets: &[Packet]) -> Option<Lockout> {
    let table = parse(json);
    for packet in packets {
        let v6 = packet.saddr.is_ipv6();
        let carries = match table.family.as_str() {
            "inet" => true,
            "ip" => !v6,
            "ip6" => v6,
            _ => false,
        };
        if !carries {
            continue;
        }
        let hooks: &[&str] = match packet.direction {
            Direction::In => &["prerouting", "input"],
            Direction::Out => &["output", "postrouting"],
        };
        let mut names: Vec<&&str> = table.chains.keys().collect();
        names.sort();
        for name in names {
            let chain = &table.chains[*name];
            if !chain.hook.is_some_and(|h| hooks.contains(&h)) {
                continue;
            }
            match walk(&table, name, packet, 0, Tri::Yes) {
                Walk::Drop(lockout) => return Some(lockout),
                Walk::Accept => {}
                Walk::End if chain.policy == Some("drop") => {
                    return Some(Lockout {
                        packet: packet.clone(),
                        rule: format!("policy drop of chain {name}"),
                        certain: true,
                    });
                }
                Walk::End => {}
            }
        }
    }
    None
}

/// Walks `chain`; `reached` says whether the packet certainly gets here.
fn walk(table: &Table, chain: &str, packet: &Packet, depth: usize, reached: Tri) -> Walk {
    let Some(info) = table.chains.get(chain) else {
        return Walk::Drop(Lockout { packet: packet.clone(), rule: format!("jump {chain}"), certain: false });
    };
    let mut reached = reached;
    for expr in &info.rules {
        let mut matched = Tri::Yes;
        let mut outcome = None;
        for e in *expr {
            if matched == Tri::No {
                break;
            }
            let Some((key, body)) = e.as_object().and_then(|o| o.iter().next()) else { continue };
            match key.as_str() {
                "match" => matched = matched.and(match_expr(table, body, packet)),
                "accept" | "drop" | "reject" | "jump" | "goto" | "return" | "continue" => {
                    outcome = Some((key.as_str(), body));
                    break;
                }
                // Ends the walk and may lose the packet (queue without a
                // listener, a NAT of the SSH port elsewhere).
                "queue" | "dnat" | "snat" | "masquerade" | "redirect" | "tproxy" | "fwd" | "dup" => {
                    outcome = Some(("queue", body));
                    break;
                }
                // Statements that do not decide the packet's fate.
                "counter" | "log" | "notrack" | "mangle" | "set" | "comment" => {}
                // A limit or quota lets some packets through and not others;
                // anything else stead does not model.
                _ => matched = matched.and(Tri::Maybe),
            }
        }
        if matched == Tri::No {
            continue;
        }
        let here = reached.and(matched);
        let rule = render(expr);
        match outcome {
            Some(("accept", _)) if here == Tri::Yes => return Walk::Accept,
            Some(("accept", _)) => reached = reached.and(Tri::Maybe),
            Some(("drop" | "reject" | "queue", _)) => {
                return Walk::Drop(Lockout { packet: packet.clone(), rule, certain: here == Tri::Yes });
            }
            Some((jump @ ("jump" | "goto"), body)) => {
                let target = body.get("target").and_then(Value::as_str).unwrap_or_default();
                if depth >= MAX_DEPTH {
                    return Walk::Drop(Lockout { packet: packet.clone(), rule, certain: false });
                }
                match walk(table, target, packet, depth + 1, here) {
                    Walk::Drop(l) => return Walk::Drop(l),
                    Walk::Accept if here == Tri::Yes => return Walk::Accept,
                    Walk::Accept => reached = reached.and(Tri::Maybe),
                    Walk::End if jump == "goto" && here == Tri::Yes => return Walk::End,
                    Walk::End => {}
                }
            }
            Some(("return", _)) if here == Tri::Yes => return Walk::End,
            Some(("return", _)) => reached = reached.and(Tri::Maybe),
            _ => {}
        }
    }
    Walk::End
}

/// A rule's JSON expressions, shortened for the error message.
fn render(expr: &[Value]) -> String {
    let text = expr.iter().map(Value::to_string).collect::<Vec<_>>().join(" ");
    let mut short: String = text.chars().take(200).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    short
}

/// What the packet has for a match's left-hand side, if stead models it.
enum Field {
    Addr(IpAddr),
    Port(u16),
    Text(String),
    /// The expression cannot hold for this packet (`udp dport` on TCP).
    Absent,
}

fn field(left: &Value, packet: &Packet) -> Option<Field> {
    let v6 = packet.saddr.is_ipv6();
    if let Some(p) = left.get("payload") {
        let proto = p.get("protocol").and_then(Value::as_str)?;
        let name = p.get("field").and_then(Value::as_str)?;
        return match (proto, name) {
            ("ip", _) if v6 => Some(Field::Absent),
            ("ip6", _) if !v6 => Some(Field::Absent),
            ("ip" | "ip6", "saddr") => Some(Field::Addr(packet.saddr)),
            ("ip" | "ip6", "daddr") => Some(Field::Addr(packet.daddr)),
            ("ip", "protocol") | ("ip6", "nexthdr") => Some(Field::Text("tcp".into())),
            ("tcp" | "th", "sport") => Some(Field::Port(packet.sport)),
            ("tcp" | "th", "dport") => Some(Field::Port(packet.dport)),
            ("tcp" | "th", _) => None,
            ("udp" | "sctp" | "dccp" | "udplite" | "icmp" | "icmpv6" | "esp" | "ah" | "gre", _) => Some(Field::Absent),
            _ => None,
        };
    }
    if let Some(m) = left.get("meta") {
        let key = m.get("key").and_then(Value::as_str)?;
        let iface = |name: &Option<String>| name.clone().map(Field::Text);
        return match key {
            "l4proto" => Some(Field::Text("tcp".into())),
            "nfproto" => Some(Field::Text(if v6 { "ipv6" } else { "ipv4" }.into())),
            "iifname" | "iif" if packet.direction == Direction::In => iface(&packet.iif),
            "oifname" | "oif" if packet.direction == Direction::Out => iface(&packet.oif),
            _ => None,
        };
    }
    if let Some(ct) = left.get("ct") {
        return match ct.get("key").and_then(Value::as_str)? {
            "state" => Some(Field::Text(packet.ct_state.name().into())),
            _ => None,
        };
    }
    None
}

fn match_expr(table: &Table, body: &Value, packet: &Packet) -> Tri {
    let op = body.get("op").and_then(Value::as_str).unwrap_or("==");
    let (Some(left), Some(right)) = (body.get("left"), body.get("right")) else { return Tri::Maybe };
    let Some(value) = field(left, packet) else { return Tri::Maybe };
    if matches!(value, Field::Absent) {
        return Tri::No;
    }
    let member = contains(table, right, &value);
    match op {
        "==" | "in" => member,
        "!=" => !member,
        "<" | ">" | "<=" | ">=" => match (&value, right.as_u64()) {
            (Field::Port(p), Some(r)) => {
                let (p, r) = (u64::from(*p), r);
                Tri::from_bool(match op {
                    "<" => p < r,
                    ">" => p > r,
                    "<=" => p <= r,
                    _ => p >= r,
                })
            }
            _ => Tri::Maybe,
        },
        _ => Tri::Maybe,
    }
}

/// Whether `right` (a value, a prefix, a range, an anonymous or named set,
/// or ct state flags) holds the packet's value.
fn contains(table: &Table, right: &Value, value: &Field) -> Tri {
    if let Some(name) = right.as_str().and_then(|s| s.strip_prefix('@')) {
        return match table.sets.get(name) {
            Some(elems) => any(table, elems, value),
            None => Tri::Maybe,
        };
    }
    if let Some(items) = right.get("set").and_then(Value::as_array) {
        return any(table, items, value);
    }
    if let Some(items) = right.as_array() {
        return any(table, items, value);
    }
    one(right, value)
}

fn any(table: &Table, items: &[Value], value: &Field) -> Tri {
    let mut result = Tri::No;
    for item in items {
        // A set element may carry a timeout or comment: `{"elem": {"val": ...}}`.
        let item = item.get("elem").and_then(|e| e.get("val")).unwrap_or(item);
        match contains(table, item, value) {
            Tri::Yes => return Tri::Yes,
            Tri::Maybe => result = Tri::Maybe,
            Tri::No => {}
        }
    }
    result
}

fn one(right: &Value, value: &Field) -> Tri {
    match value {
        Field::Addr(addr) => {
            if let Some(p) = right.get("prefix") {
                let base = p.get("addr").and_then(Value::as_str).and_then(|a| a.parse::<IpAddr>().ok());
                let len = p.get("len").and_then(Value::as_u64);
                return match (base, len) {
                    (Some(base), Some(len)) => Tri::from_bool(in_prefix(*addr, base, len as u32)),
                    _ => Tri::Maybe,
                };
            }
            if let Some([a, b]) = right.get("range").and_then(Value::as_array).map(Vec::as_slice) {
                let parse = |v: &Value| v.as_str().and_then(|s| s.parse::<IpAddr>().ok());
                return match (parse(a), parse(b)) {
                    (Some(a), Some(b)) => Tri::from_bool(a <= *addr && *addr <= b),
                    _ => Tri::Maybe,
                };
            }
            match right.as_str().and_then(|s| s.parse::<IpAddr>().ok()) {
                Some(a) => Tri::from_bool(a == *addr),
                None => Tri::Maybe,
            }
        }
        Field::Port(port) => {
            if let Some([a, b]) = right.get("range").and_then(Value::as_array).map(Vec::as_slice) {
                return match (a.as_u64(), b.as_u64()) {
                    (Some(a), Some(b)) => Tri::from_bool(a <= u64::from(*port) && u64::from(*port) <= b),
                    _ => Tri::Maybe,
                };
            }
            match right.as_u64() {
                Some(p) => Tri::from_bool(p == u64::from(*port)),
                None => Tri::Maybe,
            }
        }
        Field::Text(text) => match right.as_str() {
            Some(r) if r.ends_with('*') => Tri::from_bool(text.starts_with(r.trim_end_matches('*'))),
            Some(r) => Tri::from_bool(r == text || (text == "tcp" && r == "6")),
            None if text == "tcp" => Tri::from_bool(right.as_u64() == Some(6)),
            None => Tri::Maybe,
        },
        Field::Absent => Tri::No,
    }
}

fn in_prefix(addr: IpAddr, base: IpAddr, len: u32) -> bool {
    match (addr, base) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len.min(32)) };
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let mask = if len == 0 { 0 } else { u128::MAX << (128 - len.min(128)) };
            u128::from(a) & mask == u128::from(b) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::firewall::peer;
    use serde_json::json;

    fn packets() -> Vec<Packet> {
        peer::parse("stead-ssh-peer 10.231.7.1 40000 10.231.7.10 22 eth0").unwrap().unwrap().packets()
    }

    fn table(chains: Value, rules: Value) -> Value {
        let mut items = vec![json!({"table": {"family": "inet", "name": "filter"}})];
        items.extend(chains.as_array().unwrap().iter().map(|c| json!({ "chain": c })));
        items.push(json!({"set": {"name": "admins", "elem": [{"prefix": {"addr": "10.231.7.0", "len": 24}}]}}));
        for (chain, expr) in rules.as_array().unwrap().iter().map(|r| (r[0].clone(), r[1].clone())) {
            items.push(json!({"rule": {"chain": chain, "expr": expr}}));
        }
        json!({ "nftables": items })
    }

    fn input(policy: &str) -> Value {
        json!([{"name": "input", "hook": "input", "policy": policy}, {"name": "output", "hook": "output", "policy": "accept"}, {"name": "ssh"}])
    }

    fn tcp_dport(port: Value) -> Value {
        json!({"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": port}})
    }

    #[test]
    fn default_drop_with_the_ssh_port_open_keeps_the_connection() {
        let t = table(input("drop"), json!([["input", [tcp_dport(json!({"set": [22, 80]})), {"accept": null}]]]));
        assert_eq!(check(&t, &packets()), None);
    }

    #[test]
    fn default_drop_without_the_ssh_port_cuts_it_off() {
        let t = table(input("drop"), json!([["input", [tcp_dport(json!(80)), {"accept": null}]]]));
        let l = check(&t, &packets()).unwrap();
        assert_eq!(l.rule, "policy drop of chain input");
        assert!(l.certain);
    }

    #[test]
    fn established_only_keeps_the_current_connection_but_not_a_new_one() {
        let ct = json!({"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}});
        let t = table(input("drop"), json!([["input", [ct, {"accept": null}]]]));
        let l = check(&t, &packets()).unwrap();
        assert_eq!(l.packet.ct_state, peer::CtState::New);
    }

    #[test]
    fn a_drop_of_the_client_address_is_found_and_other_addresses_are_not() {
        let saddr = |r: Value| json!({"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": r}});
        let t = table(
            input("accept"),
            json!([["input", [saddr(json!({"prefix": {"addr": "10.231.0.0", "len": 16}})), {"drop": null}]]]),
        );
        assert!(check(&t, &packets()).unwrap().certain);
        let t = table(input("accept"), json!([["input", [saddr(json!("192.168.0.1")), {"drop": null}]]]));
        assert_eq!(check(&t, &packets()), None);
        let t = table(input("drop"), json!([["input", [saddr(json!("@admins")), {"accept": null}]]]));
        assert_eq!(check(&t, &packets()), None);
        let ip6 =
            json!({"match": {"op": "==", "left": {"payload": {"protocol": "ip6", "field": "saddr"}}, "right": "::/0"}});
        let t = table(input("accept"), json!([["input", [ip6, {"drop": null}]]]));
        assert_eq!(check(&t, &packets()), None);
    }

    #[test]
    fn a_rule_stead_cannot_decide_counts_as_a_possible_drop() {
        let mark = json!({"match": {"op": "==", "left": {"meta": {"key": "mark"}}, "right": 1}});
        let t = table(input("accept"), json!([["input", [mark, {"drop": null}]]]));
        let l = check(&t, &packets()).unwrap();
        assert!(!l.certain);
        // A rate-limited accept may not accept: the policy drop after it may apply.
        let t = table(
            input("drop"),
            json!([["input", [tcp_dport(json!(22)), {"limit": {"rate": 5, "per": "minute"}}, {"accept": null}]]]),
        );
        let l = check(&t, &packets()).unwrap();
        assert_eq!(l.rule, "policy drop of chain input");
    }

    #[test]
    fn jumps_are_followed_and_interfaces_compared() {
        let iif = |name: &str| json!({"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": name}});
        let t = table(
            input("drop"),
            json!([["input", [iif("eth*"), {"jump": {"target": "ssh"}}]], ["ssh", [tcp_dport(json!(22)), {"accept": null}]]]),
        );
        assert_eq!(check(&t, &packets()), None);
        let t = table(input("drop"), json!([["input", [iif("lo"), {"accept": null}]]]));
        assert!(check(&t, &packets()).is_some());
        let t = table(
            input("accept"),
            json!([["input", [{"jump": {"target": "ssh"}}]], ["ssh", [tcp_dport(json!(22)), {"reject": null}]]]),
        );
        assert!(check(&t, &packets()).unwrap().certain);
    }

    #[test]
    fn replies_are_checked_in_output_chains() {
        let sport =
            json!({"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "sport"}}, "right": 22}});
        let chains = json!([{"name": "output", "hook": "output", "policy": "accept"}]);
        let t = table(chains, json!([["output", [sport, {"drop": null}]]]));
        let l = check(&t, &packets()).unwrap();
        assert_eq!(l.packet.direction, Direction::Out);
    }
}
