//! The `nftables` module's declared table, typed and rendered as nft text.
//!
//! A task declares sets, chains and rules; rules are structured mappings
//! (ports, addresses, interfaces, ct state, limit, log, counter, comment,
//! verdict) or raw nft rule text. This module turns the rendered arguments
//! into [`Table`] and prints it as one `table FAMILY NAME { ... }` block.
//!
//! The text need not be nft's canonical spelling: the probe lets nft itself
//! normalise it (see `nftables.rs`). What this module must guarantee is
//! that no value can add a statement of its own: every name, address, port
//! and string is checked against a strict alphabet before it is printed, and
//! strings are printed in double quotes that no value may contain.

use std::net::IpAddr;

use serde_json::Value;

use crate::modules::ModuleError;

/// An nft table family stead manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// IPv4 and IPv6.
    Inet,
    /// IPv4.
    Ip,
    /// IPv6.
    Ip6,
}

impl Family {
    /// The families `family:` accepts.
    pub const NAMES: &'static [&'static str] = &["inet", "ip", "ip6"];

    /// From its nft name.
    pub fn parse(name: &str) -> Option<Family> {
        match name {
            "inet" => Some(Family::Inet),
            "ip" => Some(Family::Ip),
            "ip6" => Some(Family::Ip6),
            _ => None,
        }
    }

    /// Its nft name.
    pub fn name(self) -> &'static str {
        match self {
            Family::Inet => "inet",
            Family::Ip => "ip",
            Family::Ip6 => "ip6",
        }
    }

    /// Whether packets of this address family pass its chains.
    pub fn carries(self, v6: bool) -> bool {
        match self {
            Family::Inet => true,
            Family::Ip => !v6,
            Family::Ip6 => v6,
        }
    }
}

/// A named set of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Set {
    /// Its name (`@name` in rules).
    pub name: String,
    /// Its element type (`ipv4_addr`, `inet_service`, ...).
    pub kind: String,
    /// Its flags (`interval`, `constant`, ...).
    pub flags: Vec<String>,
    /// Its elements.
    pub elements: Vec<String>,
}

/// A chain of the table: a base chain when it has a hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    /// Its name.
    pub name: String,
    /// `type filter hook input priority 0`, when it is a base chain.
    pub base: Option<BaseChain>,
    /// Its rules, as nft text, in order.
    pub rules: Vec<String>,
}

/// Where a base chain hooks into the packet path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseChain {
    /// `filter`, `nat` or `route`.
    pub kind: String,
    /// `input`, `output`, ...
    pub hook: String,
    /// A number or a standard priority name (`filter`, `raw`...).
    pub priority: String,
    /// `accept` or `drop`.
    pub policy: Option<String>,
}

/// The declared table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// Its family.
    pub family: Family,
    /// Its name.
    pub name: String,
    /// Its sets.
    pub sets: Vec<Set>,
    /// Its chains.
    pub chains: Vec<Chain>,
}

/// The keys a structured rule may have (the module's load-time spec lists
/// the same ones).
pub const RULE_KEYS: &[&str] = &[
    "protocol",
    "dport",
    "sport",
    "saddr",
    "daddr",
    "iifname",
    "oifname",
    "ct_state",
    "icmp_type",
    "limit",
    "limit_burst",
    "log",
    "log_prefix",
    "log_level",
    "counter",
    "comment",
    "action",
    "reject_with",
    "raw",
];

fn arg_error(arg: &str, message: impl Into<String>) -> ModuleError {
    ModuleError::Arg { arg: arg.to_owned(), message: message.into() }
}

/// A scalar as text (YAML may give numbers and booleans).
fn scalar(arg: &str, v: &Value) -> Result<String, ModuleError> {
    match v {
        Value::String(s) => Ok(s.trim().to_owned()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(arg_error(arg, format!("expected a string, got {other}"))),
    }
}

/// A scalar or a list of scalars (a comma-separated string counts as a list).
fn list(arg: &str, v: Option<&Value>) -> Result<Vec<String>, ModuleError> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items.iter().map(|i| scalar(arg, i)).collect(),
        Some(Value::String(s)) => Ok(s.split(',').map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()).collect()),
        Some(other) => Ok(vec![scalar(arg, other)?]),
    }
}

fn opt_scalar(arg: &str, v: Option<&Value>) -> Result<Option<String>, ModuleError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => scalar(arg, v).map(Some),
    }
}

/// A string kept as written (a log prefix's trailing space matters).
fn opt_text(arg: &str, v: Option<&Value>) -> Result<Option<String>, ModuleError> {
    match v {
        Some(Value::String(s)) => Ok(Some(s.clone())),
        other => opt_scalar(arg, other),
    }
}

fn truthy(arg: &str, v: Option<&Value>) -> Result<bool, ModuleError> {
    match v {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => {
            let s = scalar(arg, other)?;
            crate::modules::spec::parse_bool(&s).ok_or_else(|| arg_error(arg, format!("`{s}` is not a boolean")))
        }
    }
}

/// A name nft accepts unquoted (tables, chains, sets, types, flags).
pub fn identifier(arg: &str, s: &str) -> Result<String, ModuleError> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(s.to_owned())
    } else {
        Err(arg_error(
            arg,
            format!("`{s}` is not a valid nft name (letters, digits, `_`, `-`, starting with a letter)"),
        ))
    }
}

/// A string printed in double quotes: no quote, backslash or line break.
fn quoted(arg: &str, s: &str) -> Result<String, ModuleError> {
    if s.chars().any(|c| c == '"' || c == '\\' || c.is_control()) || s.len() > 128 {
        return Err(arg_error(
            arg,
            format!("`{s}` cannot contain quotes, backslashes or control characters (at most 128 bytes)"),
        ));
    }
    Ok(format!("\"{s}\""))
}

/// An interface name or an nft wildcard (`eth*`).
fn interface(arg: &str, s: &str) -> Result<String, ModuleError> {
    let ok = !s.is_empty()
        && s.len() <= 16
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '*' | '@' | ':'));
    if ok {
        quoted(arg, s)
    } else {
        Err(arg_error(arg, format!("`{s}` is not an interface name")))
    }
}

/// A port, a range (`8000-8080`) or a service name.
fn port(arg: &str, s: &str) -> Result<String, ModuleError> {
    let number = |p: &str| p.parse::<u16>().is_ok();
    let name = |p: &str| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    let ok = match s.split_once('-') {
        Some((a, b)) if number(a) && number(b) => a.parse::<u16>().ok() <= b.parse::<u16>().ok(),
        _ => number(s) || (name(s) && s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())),
    };
    if ok {
        Ok(s.to_owned())
    } else {
        Err(arg_error(arg, format!("`{s}` is not a port, a port range such as 8000-8080, or a service name")))
    }
}

/// One side of an address match: a literal (address, CIDR, range) or a set.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Addr {
    /// `10.0.0.0/8`, `fd00::1`, `10.0.0.1-10.0.0.9`; `true` when IPv6.
    Literal(String, bool),
    /// `@name`.
    Set(String),
}

fn address(arg: &str, s: &str) -> Result<Addr, ModuleError> {
    if let Some(set) = s.strip_prefix('@') {
        return Ok(Addr::Set(identifier(arg, set)?));
    }
    let bad = || arg_error(arg, format!("`{s}` is not an address, a CIDR, an address range or `@set`"));
    let one = |a: &str| a.parse::<IpAddr>().map_err(|_| bad());
    let v6 = if let Some((a, len)) = s.split_once('/') {
        let ip = one(a)?;
        let max = if ip.is_ipv6() { 128 } else { 32 };
        if len.parse::<u8>().map_or(true, |l| l > max) {
            return Err(bad());
        }
        ip.is_ipv6()
    } else if let Some((a, b)) = s.split_once('-') {
        let (a, b) = (one(a)?, one(b)?);
        if a.is_ipv6() != b.is_ipv6() {
            return Err(bad());
        }
        a.is_ipv6()
    } else {
        one(s)?.is_ipv6()
    };
    Ok(Addr::Literal(s.to_owned(), v6))
}

/// `x` or `{ x, y }`.
fn one_or_set(items: &[String]) -> String {
    match items {
        [one] => one.clone(),
        many => format!("{{ {} }}", many.join(", ")),
    }
}

/// Parses the declared sets.
pub fn parse_sets(v: Option<&Value>) -> Result<Vec<Set>, ModuleError> {
    let Some(Value::Array(items)) = v else {
        return match v {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(_) => Err(arg_error("sets", "must be a list of mappings")),
        };
    };
    items
        .iter()
        .map(|item| {
            let m = item.as_object().ok_or_else(|| arg_error("sets", "each set must be a mapping"))?;
            let name = identifier("sets.name", &opt_scalar("sets.name", m.get("name"))?.unwrap_or_default())?;
            let kind = identifier("sets.type", &opt_scalar("sets.type", m.get("type"))?.unwrap_or_default())?;
            let flags = list("sets.flags", m.get("flags"))?
                .iter()
                .map(|f| identifier("sets.flags", f))
                .collect::<Result<_, _>>()?;
            let elements = list("sets.elements", m.get("elements"))?
                .into_iter()
                .map(|e| {
                    if e.is_empty()
                        || e.chars().any(|c| matches!(c, '{' | '}' | ';' | ',' | '"' | '#') || c.is_control())
                    {
                        Err(arg_error("sets.elements", format!("`{e}` is not a set element")))
                    } else {
                        Ok(e)
                    }
                })
                .collect::<Result<_, _>>()?;
            Ok(Set { name, kind, flags, elements })
        })
        .collect()
}

/// Parses the declared chains; rules are rendered against `family` and `sets`.
pub fn parse_chains(v: Option<&Value>, family: Family, sets: &[Set]) -> Result<Vec<Chain>, ModuleError> {
    let items = match v {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(arg_error("chains", "must be a list of mappings")),
    };
    let names: Vec<String> =
        items.iter().filter_map(|c| c.get("name").and_then(Value::as_str).map(str::to_owned)).collect();
    items
        .iter()
        .map(|item| {
            let m = item.as_object().ok_or_else(|| arg_error("chains", "each chain must be a mapping"))?;
            let name = identifier("chains.name", &opt_scalar("chains.name", m.get("name"))?.unwrap_or_default())?;
            let hook = opt_scalar("chains.hook", m.get("hook"))?;
            let base = match hook {
                None => {
                    for key in ["type", "priority", "policy"] {
                        if m.get(key).is_some_and(|v| !v.is_null()) {
                            return Err(arg_error(
                                &format!("chains.{key}"),
                                format!("chain `{name}` has `{key}` but no `hook`: only base chains have them"),
                            ));
                        }
                    }
                    None
                }
                Some(hook) => {
                    let hooks = ["prerouting", "input", "forward", "output", "postrouting"];
                    if !hooks.contains(&hook.as_str()) {
                        return Err(arg_error("chains.hook", format!("`{hook}` must be one of {}", hooks.join(", "))));
                    }
                    let kind = opt_scalar("chains.type", m.get("type"))?.unwrap_or_else(|| "filter".into());
                    if !["filter", "nat", "route"].contains(&kind.as_str()) {
                        return Err(arg_error("chains.type", format!("`{kind}` must be filter, nat or route")));
                    }
                    let priority = opt_scalar("chains.priority", m.get("priority"))?.unwrap_or_else(|| "0".into());
                    let named = ["raw", "mangle", "dstnat", "filter", "security", "srcnat"];
                    let numeric = priority.parse::<i32>().is_ok();
                    let offset = named.iter().any(|n| {
                        priority.strip_prefix(n).is_some_and(|rest| {
                            let rest = rest.replace(' ', "");
                            rest.is_empty() || rest.strip_prefix(['+', '-']).is_some_and(|d| d.parse::<u16>().is_ok())
                        })
                    });
                    if !numeric && !offset {
                        return Err(arg_error(
                            "chains.priority",
                            format!(
                                "`{priority}` must be a number or a standard priority such as `filter` or `filter - 5`"
                            ),
                        ));
                    }
                    let policy = opt_scalar("chains.policy", m.get("policy"))?;
                    if let Some(p) = &policy {
                        if p != "accept" && p != "drop" {
                            return Err(arg_error("chains.policy", format!("`{p}` must be accept or drop")));
                        }
                    }
                    Some(BaseChain { kind, hook, priority, policy })
                }
            };
            let rules = match m.get("rules") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(rules)) => {
                    let mut out = Vec::new();
                    for rule in rules {
                        out.extend(render_rule(rule, family, sets, &names)?);
                    }
                    out
                }
                Some(_) => {
                    return Err(arg_error("chains.rules", format!("the rules of chain `{name}` must be a list")))
                }
            };
            Ok(Chain { name, base, rules })
        })
        .collect()
}

/// One declared rule as nft text: raw text as written, a structured rule
/// rendered (two rules when its addresses are both IPv4 and IPv6 in an
/// `inet` table).
pub fn render_rule(rule: &Value, family: Family, sets: &[Set], chains: &[String]) -> Result<Vec<String>, ModuleError> {
    let m = match rule {
        Value::String(raw) => return raw_rule(raw).map(|r| vec![r]),
        Value::Object(m) => m,
        _ => return Err(arg_error("rules", "each rule must be nft text or a mapping")),
    };
    if let Some(key) = m.keys().find(|k| !RULE_KEYS.contains(&k.as_str())) {
        let hint = crate::suggest::closest(key, RULE_KEYS.iter().copied())
            .map(|s| format!(" (did you mean `{s}`?)"))
            .unwrap_or_default();
        return Err(arg_error("rules", format!("unknown rule key `{key}`{hint}")));
    }
    if let Some(raw) = opt_scalar("rules.raw", m.get("raw"))? {
        if let Some(other) = m.keys().find(|k| *k != "raw") {
            return Err(arg_error("rules.raw", format!("a raw rule cannot also have `{other}`: write it in the text")));
        }
        return raw_rule(&raw).map(|r| vec![r]);
    }

    let mut head = Vec::new();
    for (key, nft) in [("iifname", "iifname"), ("oifname", "oifname")] {
        let names = list(key, m.get(key))?.iter().map(|n| interface(key, n)).collect::<Result<Vec<_>, _>>()?;
        if !names.is_empty() {
            head.push(format!("{nft} {}", one_or_set(&names)));
        }
    }

    let protocols = list("protocol", m.get("protocol"))?;
    for p in &protocols {
        let known = ["tcp", "udp", "sctp", "dccp", "udplite", "icmp", "icmpv6", "esp", "ah", "gre"];
        if !known.contains(&p.as_str()) {
            return Err(arg_error("protocol", format!("`{p}` must be one of {}", known.join(", "))));
        }
    }
    let dports = list("dport", m.get("dport"))?.iter().map(|p| port("dport", p)).collect::<Result<Vec<_>, _>>()?;
    let sports = list("sport", m.get("sport"))?.iter().map(|p| port("sport", p)).collect::<Result<Vec<_>, _>>()?;
    let icmp_types = list("icmp_type", m.get("icmp_type"))?
        .iter()
        .map(|t| identifier("icmp_type", t))
        .collect::<Result<Vec<_>, _>>()?;
    let mut l4 = Vec::new();
    let ported = ["tcp", "udp", "sctp", "dccp", "udplite"];
    if !dports.is_empty() || !sports.is_empty() {
        if protocols.is_empty() || protocols.iter().any(|p| !ported.contains(&p.as_str())) {
            return Err(arg_error("dport", "ports need `protocol` tcp, udp, sctp, dccp or udplite"));
        }
        let prefix = match protocols.as_slice() {
            [one] => one.clone(),
            many => {
                l4.push(format!("meta l4proto {}", one_or_set(many)));
                "th".into()
            }
        };
        if !sports.is_empty() {
            l4.push(format!("{prefix} sport {}", one_or_set(&sports)));
        }
        if !dports.is_empty() {
            l4.push(format!("{prefix} dport {}", one_or_set(&dports)));
        }
    } else if !icmp_types.is_empty() {
        let proto = match protocols.as_slice() {
            [p] if p == "icmp" || p == "icmpv6" => p.clone(),
            _ => return Err(arg_error("icmp_type", "needs `protocol: icmp` or `protocol: icmpv6`")),
        };
        l4.push(format!("{proto} type {}", one_or_set(&icmp_types)));
    } else if !protocols.is_empty() {
        l4.push(format!("meta l4proto {}", one_or_set(&protocols)));
    }
    let l4_family = match protocols.as_slice() {
        [p] if p == "icmp" => Some(false),
        [p] if p == "icmpv6" => Some(true),
        _ => None,
    };

    let ct_states = list("ct_state", m.get("ct_state"))?;
    for s in &ct_states {
        if !["new", "established", "related", "invalid", "untracked"].contains(&s.as_str()) {
            return Err(arg_error(
                "ct_state",
                format!("`{s}` must be new, established, related, invalid or untracked"),
            ));
        }
    }
    let mut tail = Vec::new();
    if !ct_states.is_empty() {
        tail.push(format!("ct state {}", one_or_set(&ct_states)));
    }
    if let Some(rate) = opt_scalar("limit", m.get("limit"))? {
        let ok = rate.split_once('/').is_some_and(|(n, per)| {
            n.trim().parse::<u32>().is_ok() && ["second", "minute", "hour", "day", "week"].contains(&per.trim())
        });
        if !ok {
            return Err(arg_error("limit", format!("`{rate}` must be a rate such as 10/second or 5/minute")));
        }
        let mut limit = format!("limit rate {}", rate.replace(' ', ""));
        if let Some(burst) = opt_scalar("limit_burst", m.get("limit_burst"))? {
            let n: u32 = burst.parse().map_err(|_| arg_error("limit_burst", format!("`{burst}` is not a number")))?;
            limit.push_str(&format!(" burst {n} packets"));
        }
        tail.push(limit);
    } else if m.contains_key("limit_burst") {
        return Err(arg_error("limit_burst", "needs `limit`"));
    }
    if truthy("counter", m.get("counter"))? {
        tail.push("counter".into());
    }
    let log_prefix = opt_text("log_prefix", m.get("log_prefix"))?;
    let log_level = opt_scalar("log_level", m.get("log_level"))?;
    if truthy("log", m.get("log"))? || log_prefix.is_some() || log_level.is_some() {
        let mut log = String::from("log");
        if let Some(p) = &log_prefix {
            log.push_str(&format!(" prefix {}", quoted("log_prefix", p)?));
        }
        if let Some(l) = &log_level {
            let levels = ["emerg", "alert", "crit", "err", "warn", "notice", "info", "debug", "audit"];
            if !levels.contains(&l.as_str()) {
                return Err(arg_error("log_level", format!("`{l}` must be one of {}", levels.join(", "))));
            }
            log.push_str(&format!(" level {l}"));
        }
        tail.push(log);
    }
    let action = opt_scalar("action", m.get("action"))?
        .ok_or_else(|| arg_error("action", "a structured rule needs `action` (accept, drop, reject, jump CHAIN...)"))?;
    let verdict = verdict(&action, opt_scalar("reject_with", m.get("reject_with"))?, chains)?;
    tail.push(verdict);
    if let Some(c) = opt_text("comment", m.get("comment"))? {
        tail.push(format!("comment {}", quoted("comment", &c)?));
    }

    let saddr = list("saddr", m.get("saddr"))?.iter().map(|a| address("saddr", a)).collect::<Result<Vec<_>, _>>()?;
    let daddr = list("daddr", m.get("daddr"))?.iter().map(|a| address("daddr", a)).collect::<Result<Vec<_>, _>>()?;
    let set_v6 = |name: &str| -> Result<bool, ModuleError> {
        let set = sets
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| arg_error("saddr", format!("set `@{name}` is not declared in `sets`")))?;
        match set.kind.as_str() {
            "ipv4_addr" => Ok(false),
            "ipv6_addr" => Ok(true),
            other => Err(arg_error("saddr", format!("set `@{name}` holds {other}, not addresses"))),
        }
    };
    let split = |addrs: &[Addr]| -> Result<(Vec<String>, Vec<String>), ModuleError> {
        let (mut v4, mut v6) = (Vec::new(), Vec::new());
        for a in addrs {
            match a {
                Addr::Literal(text, false) => v4.push(text.clone()),
                Addr::Literal(text, true) => v6.push(text.clone()),
                Addr::Set(name) => {
                    if set_v6(name)? {
                        v6.push(format!("@{name}"))
                    } else {
                        v4.push(format!("@{name}"))
                    }
                }
            }
        }
        Ok((v4, v6))
    };
    let (s4, s6) = split(&saddr)?;
    let (d4, d6) = split(&daddr)?;
    let mut out = Vec::new();
    for (v6, s, d, proto) in [(false, &s4, &d4, "ip"), (true, &s6, &d6, "ip6")] {
        let wants_addresses = !saddr.is_empty() || !daddr.is_empty();
        // A side written for the other family only rules this family out.
        if (!saddr.is_empty() && s.is_empty()) || (!daddr.is_empty() && d.is_empty()) {
            continue;
        }
        if wants_addresses && !family.carries(v6) {
            return Err(arg_error(
                "saddr",
                format!("{} addresses cannot match in a `{}` table", if v6 { "IPv6" } else { "IPv4" }, family.name()),
            ));
        }
        if wants_addresses && l4_family.is_some_and(|f| f != v6) {
            continue;
        }
        let mut words = head.clone();
        if !s.is_empty() {
            words.push(format!("{proto} saddr {}", addr_set(s)));
        }
        if !d.is_empty() {
            words.push(format!("{proto} daddr {}", addr_set(d)));
        }
        words.extend(l4.iter().cloned());
        words.extend(tail.iter().cloned());
        out.push(words.join(" "));
        if !wants_addresses {
            break;
        }
    }
    if out.is_empty() {
        return Err(arg_error("saddr", "`saddr` and `daddr` have no address family in common"));
    }
    Ok(out)
}

/// Addresses: a set reference alone stays bare, literals go in braces when several.
fn addr_set(items: &[String]) -> String {
    match items {
        [one] => one.clone(),
        many if many.iter().any(|a| a.starts_with('@')) => many.join(" "),
        many => one_or_set(many),
    }
}

fn verdict(action: &str, reject_with: Option<String>, chains: &[String]) -> Result<String, ModuleError> {
    let mut words = action.split_whitespace();
    let first = words.next().unwrap_or_default();
    let target = words.next();
    if words.next().is_some() {
        return Err(arg_error("action", format!("`{action}` is not a verdict")));
    }
    if reject_with.is_some() && first != "reject" {
        return Err(arg_error("reject_with", "only applies to `action: reject`"));
    }
    match (first, target) {
        ("accept" | "drop" | "return" | "continue", None) => Ok(first.to_owned()),
        ("reject", None) => match reject_with {
            None => Ok("reject".into()),
            Some(with) => {
                let kinds = [
                    "tcp reset",
                    "icmpx port-unreachable",
                    "icmpx admin-prohibited",
                    "icmpx host-unreachable",
                    "icmpx no-route",
                    "icmp port-unreachable",
                    "icmp admin-prohibited",
                    "icmp host-unreachable",
                    "icmpv6 port-unreachable",
                    "icmpv6 admin-prohibited",
                ];
                let with = with.split_whitespace().collect::<Vec<_>>().join(" ");
                if kinds.contains(&with.as_str()) {
                    Ok(format!("reject with {with}"))
                } else {
                    Err(arg_error("reject_with", format!("`{with}` must be one of {}", kinds.join(", "))))
                }
            }
        },
        ("jump" | "goto", Some(chain)) => {
            if chains.iter().any(|c| c == chain) {
                Ok(format!("{first} {chain}"))
            } else {
                Err(arg_error("action", format!("`{first} {chain}`: chain `{chain}` is not declared in this table")))
            }
        }
        _ => Err(arg_error(
            "action",
            format!("`{action}` must be accept, drop, reject, return, continue, `jump CHAIN` or `goto CHAIN`"),
        )),
    }
}

/// Raw nft rule text: one rule, on one line.
fn raw_rule(raw: &str) -> Result<String, ModuleError> {
    let raw = raw.trim();
    if raw.is_empty() || raw.contains(['\n', '\r', ';']) || raw.starts_with('#') {
        return Err(arg_error(
            "rules",
            format!("raw rule `{raw}` must be one non-empty rule on one line, without `;`"),
        ));
    }
    let depth = raw.chars().try_fold(0i32, |d, c| {
        let d = d + i32::from(c == '{') - i32::from(c == '}');
        (d >= 0).then_some(d)
    });
    if depth != Some(0) {
        return Err(arg_error("rules", format!("raw rule `{raw}` has unbalanced braces")));
    }
    Ok(raw.to_owned())
}

impl Table {
    /// The table as one nft block.
    pub fn render(&self) -> String {
        let mut out = format!("table {} {} {{\n", self.family.name(), self.name);
        for set in &self.sets {
            out.push_str(&format!("\tset {} {{\n\t\ttype {}\n", set.name, set.kind));
            if !set.flags.is_empty() {
                out.push_str(&format!("\t\tflags {}\n", set.flags.join(", ")));
            }
            if !set.elements.is_empty() {
                out.push_str(&format!("\t\telements = {{ {} }}\n", set.elements.join(", ")));
            }
            out.push_str("\t}\n");
        }
        for chain in &self.chains {
            out.push_str(&format!("\tchain {} {{\n", chain.name));
            if let Some(b) = &chain.base {
                out.push_str(&format!("\t\ttype {} hook {} priority {};", b.kind, b.hook, b.priority));
                if let Some(p) = &b.policy {
                    out.push_str(&format!(" policy {p};"));
                }
                out.push('\n');
            }
            for rule in &chain.rules {
                out.push_str(&format!("\t\t{rule}\n"));
            }
            out.push_str("\t}\n");
        }
        out.push_str("}\n");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(v: Value) -> Result<Vec<String>, ModuleError> {
        let sets = parse_sets(Some(&json!([
            {"name": "trusted", "type": "ipv4_addr", "flags": ["interval"], "elements": ["10.0.0.0/8"]},
            {"name": "trusted6", "type": "ipv6_addr"},
            {"name": "ports", "type": "inet_service"}
        ])))
        .unwrap();
        render_rule(&v, Family::Inet, &sets, &["input".into(), "extra".into()])
    }

    #[test]
    fn structured_rules_render_as_nft_text() {
        assert_eq!(
            rule(json!({"protocol": "tcp", "dport": [22, "8000-8080"], "action": "accept", "comment": "ssh"})).unwrap(),
            ["tcp dport { 22, 8000-8080 } accept comment \"ssh\""]
        );
        assert_eq!(
            rule(json!({"ct_state": "established,related", "action": "accept"})).unwrap(),
            ["ct state { established, related } accept"]
        );
        assert_eq!(
            rule(json!({"iifname": "lo", "counter": true, "action": "accept"})).unwrap(),
            ["iifname \"lo\" counter accept"]
        );
        assert_eq!(
            rule(json!({"protocol": ["tcp", "udp"], "dport": 53, "saddr": "@trusted", "action": "accept"})).unwrap(),
            ["ip saddr @trusted meta l4proto { tcp, udp } th dport 53 accept"]
        );
        assert_eq!(
            rule(json!({"protocol": "icmp", "icmp_type": "echo-request", "limit": "5/second", "limit_burst": 10, "action": "accept"}))
                .unwrap(),
            ["icmp type echo-request limit rate 5/second burst 10 packets accept"]
        );
        assert_eq!(
            rule(json!({"protocol": "tcp", "dport": 23, "log_prefix": "telnet: ", "action": "reject", "reject_with": "tcp reset"}))
                .unwrap(),
            ["tcp dport 23 log prefix \"telnet: \" reject with tcp reset"]
        );
        assert_eq!(rule(json!({"action": "jump extra"})).unwrap(), ["jump extra"]);
        assert_eq!(rule(json!("ip saddr 1.2.3.4 drop")).unwrap(), ["ip saddr 1.2.3.4 drop"]);
        assert_eq!(rule(json!({"raw": "tcp dport 1 drop"})).unwrap(), ["tcp dport 1 drop"]);
    }

    #[test]
    fn mixed_address_families_become_one_rule_each() {
        assert_eq!(
            rule(json!({"saddr": ["10.0.0.0/8", "fd00::/8", "192.168.1.1"], "protocol": "tcp", "dport": 22, "action": "accept"}))
                .unwrap(),
            ["ip saddr { 10.0.0.0/8, 192.168.1.1 } tcp dport 22 accept", "ip6 saddr fd00::/8 tcp dport 22 accept"]
        );
        assert_eq!(
            rule(json!({"saddr": "10.0.0.1", "daddr": "fd00::1", "action": "drop"})).unwrap_err().to_string(),
            "argument `saddr`: `saddr` and `daddr` have no address family in common"
        );
        let sets = parse_sets(None).unwrap();
        let err = render_rule(&json!({"saddr": "fd00::1", "action": "drop"}), Family::Ip, &sets, &[]).unwrap_err();
        assert!(err.to_string().contains("IPv6 addresses cannot match in a `ip` table"), "{err}");
    }

    #[test]
    fn values_that_could_add_statements_are_refused() {
        let bad = [
            json!({"comment": "x\" drop", "action": "accept"}),
            json!({"iifname": "lo\"; drop", "action": "accept"}),
            json!({"protocol": "tcp", "dport": "22; drop", "action": "accept"}),
            json!({"saddr": "10.0.0.1 drop", "action": "accept"}),
            json!({"saddr": "10.0.0.0/33", "action": "accept"}),
            json!({"action": "accept; flush ruleset"}),
            json!({"action": "jump nowhere"}),
            json!({"saddr": "@missing", "action": "accept"}),
            json!({"saddr": "@ports", "action": "accept"}),
            json!({"dport": 22, "action": "accept"}),
            json!({"protocol": "tcp", "dport": "9-1", "action": "accept"}),
            json!({"protocol": "icmp", "icmp_type": "echo request", "action": "accept"}),
            json!({"limit": "fast", "action": "accept"}),
            json!({"dprot": 22, "action": "accept"}),
            json!({"raw": "tcp dport 1 drop", "comment": "x"}),
            json!("tcp dport 1 drop\nflush ruleset"),
            json!("tcp dport { 1, 2 drop"),
            json!({"protocol": "tcp"}),
            json!({"reject_with": "tcp reset", "action": "drop"}),
        ];
        for v in bad {
            assert!(rule(v.clone()).is_err(), "{v} was accepted: {:?}", rule(v.clone()));
        }
        assert!(rule(json!({"dprot": 22, "action": "accept"}))
            .unwrap_err()
            .to_string()
            .contains("did you mean `dport`"));
    }

    #[test]
    fn a_table_renders_sets_base_chains_and_rules() {
        let v = json!([
            {"name": "input", "hook": "input", "priority": "filter", "policy": "drop",
             "rules": [{"ct_state": ["established", "related"], "action": "accept"}, {"action": "jump extra"}]},
            {"name": "extra", "rules": ["tcp dport 9000 drop"]}
        ]);
        let sets = parse_sets(Some(&json!([{"name": "ok", "type": "ipv4_addr", "elements": ["10.1.1.1"]}]))).unwrap();
        let chains = parse_chains(Some(&v), Family::Inet, &sets).unwrap();
        let table = Table { family: Family::Inet, name: "filter".into(), sets, chains };
        assert_eq!(
            table.render(),
            "table inet filter {\n\tset ok {\n\t\ttype ipv4_addr\n\t\telements = { 10.1.1.1 }\n\t}\n\
             \tchain input {\n\t\ttype filter hook input priority filter; policy drop;\n\
             \t\tct state { established, related } accept\n\t\tjump extra\n\t}\n\
             \tchain extra {\n\t\ttcp dport 9000 drop\n\t}\n}\n"
        );
        for bad in [
            json!([{"name": "x", "policy": "drop"}]),
            json!([{"name": "x", "hook": "inbound"}]),
            json!([{"name": "x", "hook": "input", "priority": "high"}]),
            json!([{"name": "x", "hook": "input", "policy": "reject"}]),
            json!([{"name": "1x"}]),
        ] {
            assert!(parse_chains(Some(&bad), Family::Inet, &[]).is_err(), "{bad}");
        }
        assert!(parse_chains(
            Some(&json!([{"name": "x", "hook": "input", "priority": "filter - 5"}])),
            Family::Inet,
            &[]
        )
        .is_ok());
    }
}
