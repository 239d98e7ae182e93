//! `iptables`: one rule, a chain's policy, a flush or a user chain, as
//! `ansible.builtin.iptables`, rule for rule.
//!
//! The rule specification is built the way Ansible's `construct_rule`
//! builds it ([`construct_rule`]), option for option and in the same order,
//! so that `iptables -C` finds exactly the rules Ansible's module finds.
//! One probe per task runs what Ansible runs to decide (`-C` for a rule,
//! `-L` for a policy or a chain) and, for a change of the `filter` table,
//! the table as `iptables -S` prints it and the SSH connection as the host
//! sees it ([`super::peer`]). `compare` then decides as Ansible does, and
//! before it lets a change through, evaluates the table as it would be
//! afterwards ([`super::iptables_lockout`]): a change that would cut off
//! stead's SSH connection fails before it is applied, unless the host's
//! `stead_allow_lockout` is true. The apply runs the command Ansible runs
//! (`-A`, `-I`, `-D`, `-P`, `-F`, `-N`, `-X`).
//!
//! The module never builds a shell string by hand: every word of every
//! command goes through [`crate::transport::quote::quote`].

use super::iptables_lockout::{self, Rule, Table};
use super::peer::{self, ALLOW_LOCKOUT_VAR};
use crate::modules::{
    finish_with_stderr, Action, ApplyScript, ArgKind, ArgSpec, Args, Diff, Module, ModuleError, ModuleSpec, Plan,
    ResultMap, TaskContext,
};
use crate::transport::quote::quote;
use crate::transport::ExecOutput;

/// The `iptables` module.
pub struct Iptables;

const TABLES: &[&str] = &["filter", "nat", "mangle", "raw", "security"];
const LOG_LEVELS: &[&str] =
    &["0", "1", "2", "3", "4", "5", "6", "7", "emerg", "alert", "crit", "error", "warning", "notice", "info", "debug"];
const SET_FLAGS: &[&str] = &["src", "dst", "src,dst", "dst,src", "src,src", "dst,dst"];
const POLICIES: &[&str] = &["ACCEPT", "DROP", "QUEUE", "RETURN"];
const SYN: &[&str] = &["ignore", "match", "negate"];

/// The first word of every line of the probe's own output.
const MARKER: &str = "stead-iptables";

static SPEC: ModuleSpec = ModuleSpec::new(&[
    ArgSpec::new("table", ArgKind::Str).choices(TABLES),
    ArgSpec::new("state", ArgKind::Str).choices(&["absent", "present"]),
    ArgSpec::new("action", ArgKind::Str).choices(&["append", "insert"]),
    ArgSpec::new("ip_version", ArgKind::Str).choices(&["ipv4", "ipv6"]),
    ArgSpec::new("chain", ArgKind::Str),
    ArgSpec::new("rule_num", ArgKind::Str),
    ArgSpec::new("protocol", ArgKind::Str),
    ArgSpec::new("wait", ArgKind::Str),
    ArgSpec::new("source", ArgKind::Str),
    ArgSpec::new("to_source", ArgKind::Str),
    ArgSpec::new("destination", ArgKind::Str),
    ArgSpec::new("to_destination", ArgKind::Str),
    ArgSpec::new("match", ArgKind::List),
    ArgSpec::new("tcp_flags", ArgKind::Dict),
    ArgSpec::new("jump", ArgKind::Str),
    ArgSpec::new("gateway", ArgKind::Str),
    ArgSpec::new("log_prefix", ArgKind::Str),
    ArgSpec::new("log_level", ArgKind::Str).choices(LOG_LEVELS),
    ArgSpec::new("goto", ArgKind::Str),
    ArgSpec::new("in_interface", ArgKind::Str),
    ArgSpec::new("out_interface", ArgKind::Str),
    ArgSpec::new("fragment", ArgKind::Str),
    ArgSpec::new("set_counters", ArgKind::Str),
    ArgSpec::new("source_port", ArgKind::Str),
    ArgSpec::new("destination_port", ArgKind::Str),
    ArgSpec::new("destination_ports", ArgKind::List),
    ArgSpec::new("to_ports", ArgKind::Str),
    ArgSpec::new("set_dscp_mark", ArgKind::Str),
    ArgSpec::new("set_dscp_mark_class", ArgKind::Str),
    ArgSpec::new("comment", ArgKind::Str),
    ArgSpec::new("ctstate", ArgKind::List),
    ArgSpec::new("src_range", ArgKind::Str),
    ArgSpec::new("dst_range", ArgKind::Str),
    ArgSpec::new("match_set", ArgKind::Str),
    ArgSpec::new("match_set_flags", ArgKind::Str).choices(SET_FLAGS),
    ArgSpec::new("limit", ArgKind::Str),
    ArgSpec::new("limit_burst", ArgKind::Str),
    ArgSpec::new("uid_owner", ArgKind::Str),
    ArgSpec::new("gid_owner", ArgKind::Str),
    ArgSpec::new("reject_with", ArgKind::Str),
    ArgSpec::new("icmp_type", ArgKind::Str),
    ArgSpec::new("syn", ArgKind::Str).choices(SYN),
    ArgSpec::new("flush", ArgKind::Bool),
    ArgSpec::new("policy", ArgKind::Str).choices(POLICIES),
    ArgSpec::new("chain_management", ArgKind::Bool),
    ArgSpec::new("numeric", ArgKind::Bool),
])
.exclusive(&[("set_dscp_mark", "set_dscp_mark_class"), ("flush", "policy")]);

/// Ansible's module parameters that make the rule specification.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleParams {
    /// `wait`.
    pub wait: Option<String>,
    /// `protocol`.
    pub protocol: Option<String>,
    /// `source`.
    pub source: Option<String>,
    /// `destination`.
    pub destination: Option<String>,
    /// `match`.
    pub matches: Vec<String>,
    /// `tcp_flags`: `flags` and `flags_set`.
    pub tcp_flags: Option<TcpFlags>,
    /// `jump`.
    pub jump: Option<String>,
    /// `gateway`.
    pub gateway: Option<String>,
    /// `log_prefix`.
    pub log_prefix: Option<String>,
    /// `log_level`.
    pub log_level: Option<String>,
    /// `to_destination`.
    pub to_destination: Option<String>,
    /// `destination_ports`.
    pub destination_ports: Vec<String>,
    /// `to_source`.
    pub to_source: Option<String>,
    /// `goto`.
    pub goto: Option<String>,
    /// `in_interface`.
    pub in_interface: Option<String>,
    /// `out_interface`.
    pub out_interface: Option<String>,
    /// `fragment`.
    pub fragment: Option<String>,
    /// `set_counters`.
    pub set_counters: Option<String>,
    /// `source_port`.
    pub source_port: Option<String>,
    /// `destination_port`.
    pub destination_port: Option<String>,
    /// `to_ports`.
    pub to_ports: Option<String>,
    /// `set_dscp_mark`.
    pub set_dscp_mark: Option<String>,
    /// `set_dscp_mark_class`.
    pub set_dscp_mark_class: Option<String>,
    /// `syn`: ignore, match or negate.
    pub syn: String,
    /// `ctstate`.
    pub ctstate: Vec<String>,
    /// `src_range`.
    pub src_range: Option<String>,
    /// `dst_range`.
    pub dst_range: Option<String>,
    /// `match_set`.
    pub match_set: Option<String>,
    /// `match_set_flags`.
    pub match_set_flags: Option<String>,
    /// `limit`.
    pub limit: Option<String>,
    /// `limit_burst`.
    pub limit_burst: Option<String>,
    /// `uid_owner`.
    pub uid_owner: Option<String>,
    /// `gid_owner`.
    pub gid_owner: Option<String>,
    /// `reject_with`.
    pub reject_with: Option<String>,
    /// `icmp_type`.
    pub icmp_type: Option<String>,
    /// `ip_version` is ipv6 (`--icmpv6-type`).
    pub ipv6: bool,
    /// `comment`.
    pub comment: Option<String>,
}

fn param(rule: &mut Vec<String>, value: &Option<String>, flag: &str) {
    if let Some(v) = value {
        match v.strip_prefix('!') {
            Some(rest) => rule.extend(["!".to_owned(), flag.to_owned(), rest.to_owned()]),
            None => rule.extend([flag.to_owned(), v.clone()]),
        }
    }
}

fn match_flag(rule: &mut Vec<String>, value: Option<&str>, flag: &str, negatable: bool) {
    match value {
        Some("match") => rule.push(flag.to_owned()),
        Some("negate") if negatable => rule.extend(["!".to_owned(), flag.to_owned()]),
        _ => {}
    }
}

fn csv(rule: &mut Vec<String>, values: &[String], flag: &str) {
    if !values.is_empty() {
        rule.extend([flag.to_owned(), values.join(",")]);
    }
}

fn module(rule: &mut Vec<String>, given: bool, name: &str) {
    if given {
        rule.extend(["-m".to_owned(), name.to_owned()]);
    }
}

fn truthy(v: &Option<String>) -> bool {
    v.as_deref().is_some_and(|s| !s.is_empty())
}

/// Ansible's `construct_rule`, word for word and in its order.
pub fn construct_rule(p: &RuleParams) -> Vec<String> {
    let mut r = Vec::new();
    if truthy(&p.wait) {
        r.extend(["-w".to_owned(), p.wait.clone().unwrap_or_default()]);
    }
    param(&mut r, &p.protocol, "-p");
    param(&mut r, &p.source, "-s");
    param(&mut r, &p.destination, "-d");
    for m in &p.matches {
        param(&mut r, &Some(m.clone()), "-m");
    }
    if let Some((flags, set)) = &p.tcp_flags {
        r.extend(["--tcp-flags".to_owned(), flags.join(","), set.join(",")]);
    }
    param(&mut r, &p.jump, "-j");
    if p.jump.as_deref().is_some_and(|j| j.eq_ignore_ascii_case("tee")) {
        param(&mut r, &p.gateway, "--gateway");
    }
    param(&mut r, &p.log_prefix, "--log-prefix");
    param(&mut r, &p.log_level, "--log-level");
    param(&mut r, &p.to_destination, "--to-destination");
    module(&mut r, !p.destination_ports.is_empty(), "multiport");
    csv(&mut r, &p.destination_ports, "--dports");
    param(&mut r, &p.to_source, "--to-source");
    param(&mut r, &p.goto, "-g");
    param(&mut r, &p.in_interface, "-i");
    param(&mut r, &p.out_interface, "-o");
    param(&mut r, &p.fragment, "-f");
    param(&mut r, &p.set_counters, "-c");
    param(&mut r, &p.source_port, "--source-port");
    param(&mut r, &p.destination_port, "--destination-port");
    param(&mut r, &p.to_ports, "--to-ports");
    let not_dscp_jump = !p.jump.as_deref().is_some_and(|j| j.eq_ignore_ascii_case("dscp"));
    param(&mut r, &p.set_dscp_mark, "--set-dscp");
    if truthy(&p.set_dscp_mark) && not_dscp_jump {
        r.extend(["-j".to_owned(), "DSCP".to_owned()]);
    }
    param(&mut r, &p.set_dscp_mark_class, "--set-dscp-class");
    if truthy(&p.set_dscp_mark_class) && not_dscp_jump {
        r.extend(["-j".to_owned(), "DSCP".to_owned()]);
    }
    match_flag(&mut r, Some(p.syn.as_str()), "--syn", true);
    let has = |m: &str| p.matches.iter().any(|x| x == m);
    if has("conntrack") {
        csv(&mut r, &p.ctstate, "--ctstate");
    } else if has("state") {
        csv(&mut r, &p.ctstate, "--state");
    } else if !p.ctstate.is_empty() {
        module(&mut r, true, "conntrack");
        csv(&mut r, &p.ctstate, "--ctstate");
    }
    if has("iprange") {
        param(&mut r, &p.src_range, "--src-range");
        param(&mut r, &p.dst_range, "--dst-range");
    } else if truthy(&p.src_range) || truthy(&p.dst_range) {
        module(&mut r, true, "iprange");
        param(&mut r, &p.src_range, "--src-range");
        param(&mut r, &p.dst_range, "--dst-range");
    }
    if has("set") {
        param(&mut r, &p.match_set, "--match-set");
        r.extend(p.match_set_flags.clone());
    } else if truthy(&p.match_set) {
        module(&mut r, true, "set");
        param(&mut r, &p.match_set, "--match-set");
        r.extend(p.match_set_flags.clone());
    }
    module(&mut r, truthy(&p.limit) || truthy(&p.limit_burst), "limit");
    param(&mut r, &p.limit, "--limit");
    param(&mut r, &p.limit_burst, "--limit-burst");
    module(&mut r, truthy(&p.uid_owner), "owner");
    match_flag(&mut r, p.uid_owner.as_deref(), "--uid-owner", true);
    param(&mut r, &p.uid_owner, "--uid-owner");
    module(&mut r, truthy(&p.gid_owner), "owner");
    match_flag(&mut r, p.gid_owner.as_deref(), "--gid-owner", true);
    param(&mut r, &p.gid_owner, "--gid-owner");
    if p.jump.is_none() {
        if truthy(&p.reject_with) {
            r.extend(["-j".to_owned(), "REJECT".to_owned()]);
        }
        if truthy(&p.set_dscp_mark_class) || truthy(&p.set_dscp_mark) {
            r.extend(["-j".to_owned(), "DSCP".to_owned()]);
        }
    }
    param(&mut r, &p.reject_with, "--reject-with");
    param(&mut r, &p.icmp_type, if p.ipv6 { "--icmpv6-type" } else { "--icmp-type" });
    module(&mut r, truthy(&p.comment), "comment");
    param(&mut r, &p.comment, "--comment");
    r
}

/// What a task does, in the order Ansible's `main` decides it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// `flush: true`: always a change.
    Flush,
    /// `policy`: the chain's policy.
    Policy(String),
    /// `state: absent` and no rule: the chain (deleted with `chain_management`).
    ChainAbsent,
    /// `state: present` and no rule: the chain (created with `chain_management`).
    ChainPresent,
    /// A rule present (appended or inserted) or absent.
    Rule {
        /// `state: present`.
        present: bool,
        /// `action: insert`.
        insert: bool,
    },
}

/// One `iptables` task on one host.
#[derive(Debug)]
pub struct IptablesAction {
    bin: &'static str,
    table: String,
    chain: Option<String>,
    rule_num: Option<String>,
    /// The rule specification as the commands carry it (after `jump: LOG`
    /// is implied by the logging options).
    rule: Vec<String>,
    mode: Mode,
    chain_management: bool,
    wait: bool,
    allow_lockout: bool,
    check_mode: bool,
    result: ResultMap,
}

fn non_empty(args: &Args, name: &str) -> Result<Option<String>, ModuleError> {
    match args.opt_str(name)? {
        Some(s) if s.is_empty() => Err(ModuleError::Arg {
            arg: name.into(),
            message: "must not be empty (Ansible's module fails on it)".into(),
        }),
        other => Ok(other),
    }
}

fn non_empty_list(args: &Args, name: &str) -> Result<Vec<String>, ModuleError> {
    let list = args.str_list(name)?;
    if list.iter().any(String::is_empty) {
        return Err(ModuleError::Arg { arg: name.into(), message: "must not hold an empty item".into() });
    }
    Ok(list)
}

/// `tcp_flags`: the flags examined and those that must be set.
pub type TcpFlags = (Vec<String>, Vec<String>);

fn tcp_flags(args: &Args) -> Result<Option<TcpFlags>, ModuleError> {
    let Some(value) = args.get("tcp_flags") else { return Ok(None) };
    let map = value.as_object().ok_or_else(|| ModuleError::Arg {
        arg: "tcp_flags".into(),
        message: "must be a mapping with `flags` and `flags_set`".into(),
    })?;
    if map.is_empty() {
        return Ok(None);
    }
    if let Some(k) = map.keys().find(|k| *k != "flags" && *k != "flags_set") {
        return Err(ModuleError::Arg { arg: "tcp_flags".into(), message: format!("unknown key `{k}`") });
    }
    let sub = Args::from_map(map.clone());
    if !sub.has("flags") || !sub.has("flags_set") {
        return Err(ModuleError::Arg {
            arg: "tcp_flags".into(),
            message: "needs both `flags` and `flags_set` (Ansible's module fails without either)".into(),
        });
    }
    Ok(Some((sub.str_list("flags")?, sub.str_list("flags_set")?)))
}

impl Module for Iptables {
    fn name(&self) -> &'static str {
        "iptables"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: &Args, ctx: &dyn TaskContext) -> Result<Box<dyn Action>, ModuleError> {
        let table = args.choice_or("table", TABLES, "filter")?;
        let state = args.choice_or("state", &["absent", "present"], "present")?;
        let action = args.choice_or("action", &["append", "insert"], "append")?;
        let ip_version = args.choice_or("ip_version", &["ipv4", "ipv6"], "ipv4")?;
        let syn = args.choice_or("syn", SYN, "ignore")?;
        let flush = args.bool_or("flush", false)?;
        let chain_management = args.bool_or("chain_management", false)?;
        let policy = match args.opt_str("policy")? {
            Some(p) => Some(args.choice_or("policy", POLICIES, &p)?),
            None => None,
        };
        let log_level = match args.opt_str("log_level")? {
            Some(l) => Some(args.choice_or("log_level", LOG_LEVELS, &l)?),
            None => None,
        };
        let match_set_flags = match args.opt_str("match_set_flags")? {
            Some(f) => Some(args.choice_or("match_set_flags", SET_FLAGS, &f)?),
            None => None,
        };
        let chain = non_empty(args, "chain")?;
        if !flush && chain.is_none() {
            return Err(ModuleError::failed("flush is False but all of the following are missing: chain"));
        }
        let mut p = RuleParams {
            wait: args.opt_str("wait")?,
            protocol: non_empty(args, "protocol")?,
            source: non_empty(args, "source")?,
            destination: non_empty(args, "destination")?,
            matches: non_empty_list(args, "match")?,
            tcp_flags: tcp_flags(args)?,
            jump: non_empty(args, "jump")?,
            gateway: non_empty(args, "gateway")?,
            log_prefix: non_empty(args, "log_prefix")?,
            log_level,
            to_destination: non_empty(args, "to_destination")?,
            destination_ports: non_empty_list(args, "destination_ports")?,
            to_source: non_empty(args, "to_source")?,
            goto: non_empty(args, "goto")?,
            in_interface: non_empty(args, "in_interface")?,
            out_interface: non_empty(args, "out_interface")?,
            fragment: non_empty(args, "fragment")?,
            set_counters: non_empty(args, "set_counters")?,
            source_port: non_empty(args, "source_port")?,
            destination_port: non_empty(args, "destination_port")?,
            to_ports: non_empty(args, "to_ports")?,
            set_dscp_mark: non_empty(args, "set_dscp_mark")?,
            set_dscp_mark_class: non_empty(args, "set_dscp_mark_class")?,
            syn,
            ctstate: args.str_list("ctstate")?,
            src_range: non_empty(args, "src_range")?,
            dst_range: non_empty(args, "dst_range")?,
            match_set: non_empty(args, "match_set")?,
            match_set_flags,
            limit: non_empty(args, "limit")?,
            limit_burst: non_empty(args, "limit_burst")?,
            uid_owner: non_empty(args, "uid_owner")?,
            gid_owner: non_empty(args, "gid_owner")?,
            reject_with: non_empty(args, "reject_with")?,
            icmp_type: non_empty(args, "icmp_type")?,
            ipv6: ip_version == "ipv6",
            comment: non_empty(args, "comment")?,
        };
        if p.jump.as_deref().is_some_and(|j| j == "TEE" || j == "tee") && p.gateway.is_none() {
            let j = p.jump.clone().unwrap_or_default();
            return Err(ModuleError::failed(format!("jump is {j} but all of the following are missing: gateway")));
        }
        for dscp in ["set_dscp_mark", "set_dscp_mark_class"] {
            if args.has(dscp) && p.jump.is_none() {
                return Err(ModuleError::failed(format!("missing parameter(s) required by '{dscp}': jump")));
            }
        }
        let uses_set = p.matches.iter().any(|m| m == "set") || p.match_set.is_some();
        if uses_set && p.match_set_flags.is_none() {
            return Err(ModuleError::Arg {
                arg: "match_set_flags".into(),
                message: "is needed with `match_set` or `match: set` (Ansible's module fails without it)".into(),
            });
        }
        let rule_text = construct_rule(&p).join(" ");
        if p.log_prefix.is_some() || p.log_level.is_some() {
            match p.jump.as_deref() {
                None => p.jump = Some("LOG".into()),
                Some("LOG") => {}
                Some(_) => {
                    return Err(ModuleError::failed("Logging options can only be used with the LOG jump target."))
                }
            }
        }
        let present = state == "present";
        let mode = if flush {
            Mode::Flush
        } else if let Some(policy) = policy {
            Mode::Policy(policy)
        } else if !present && rule_text.is_empty() {
            Mode::ChainAbsent
        } else if present && rule_text.is_empty() {
            Mode::ChainPresent
        } else {
            Mode::Rule { present, insert: action == "insert" }
        };
        let mut result = ResultMap::new();
        result.insert("ip_version".into(), ip_version.clone().into());
        result.insert("table".into(), table.clone().into());
        result.insert("chain".into(), chain.clone().map_or(serde_json::Value::Null, Into::into));
        result.insert("flush".into(), flush.into());
        result.insert("rule".into(), rule_text.clone().into());
        result.insert("state".into(), state.into());
        result.insert("chain_management".into(), chain_management.into());
        let allow_lockout = ctx.eval_condition(&format!("{ALLOW_LOCKOUT_VAR} | default(false) | bool"))?;
        Ok(Box::new(IptablesAction {
            bin: if p.ipv6 { "ip6tables" } else { "iptables" },
            table,
            chain,
            rule_num: non_empty(args, "rule_num")?,
            rule: construct_rule(&p),
            mode,
            chain_management,
            wait: truthy(&p.wait),
            allow_lockout,
            check_mode: ctx.check_mode(),
            result,
        }))
    }
}

/// What the probe saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seen {
    /// `iptables --version`'s line.
    pub version: String,
    /// The exit status of `-C`.
    pub check: Option<i32>,
    /// The exit status of `-L CHAIN`, its first line and its errors.
    pub list: Option<(i32, String, String)>,
    /// `-S` of the table: exit status and lines.
    pub rules: Option<(i32, String)>,
    /// The SSH connection's line.
    pub peer: Option<String>,
}

/// Parses the probe's output.
pub fn parse_probe(stdout: &[u8]) -> Result<Option<Seen>, ModuleError> {
    let text = String::from_utf8_lossy(stdout);
    let mut seen = Seen::default();
    let mut end = false;
    let (mut head, mut err, mut rules) = (String::new(), String::new(), String::new());
    let mut list_rc = None;
    for line in text.lines() {
        if line.starts_with(peer::MARKER) {
            seen.peer = Some(line.to_owned());
            continue;
        }
        let Some(rest) = line.strip_prefix(MARKER).and_then(|r| r.strip_prefix(' ')) else { continue };
        let (kind, value) = rest.split_once(' ').unwrap_or((rest, ""));
        let rc = || value.trim().parse::<i32>().map_err(|_| ModuleError::Probe(format!("bad line `{line}`")));
        match kind {
            "missing" => return Ok(None),
            "version" => seen.version = value.to_owned(),
            "check" => seen.check = Some(rc()?),
            "list" => list_rc = Some(rc()?),
            "head" if head.is_empty() => head = value.to_owned(),
            "head" => {}
            "err" => {
                err.push_str(value);
                err.push('\n');
            }
            "rule" => {
                rules.push_str(value);
                rules.push('\n');
            }
            "rules" => seen.rules = Some((rc()?, std::mem::take(&mut rules))),
            "end" => end = true,
            _ => {}
        }
    }
    if !end {
        return Err(ModuleError::Probe("the iptables probe's output is truncated".into()));
    }
    seen.list = list_rc.map(|rc| (rc, head, err.trim_end().to_owned()));
    Ok(Some(seen))
}

/// The numeric version in `iptables v1.8.9 (nf_tables)`.
fn version_at_least(line: &str, want: (u32, u32, u32)) -> bool {
    let Some(v) = line.split('v').nth(1) else { return true };
    let nums: Vec<u32> =
        v.split(|c: char| !c.is_ascii_digit()).take_while(|s| !s.is_empty()).map(|s| s.parse().unwrap_or(0)).collect();
    let get = |i: usize| nums.get(i).copied().unwrap_or(0);
    (get(0), get(1), get(2)) >= want
}

fn words(cmd: &[String]) -> String {
    cmd.iter().map(|w| quote(w).into_owned()).collect::<Vec<_>>().join(" ")
}

impl IptablesAction {
    fn base(&self, op: &str) -> Vec<String> {
        let mut cmd = vec![self.bin.to_owned(), "-t".into(), self.table.clone(), op.into()];
        cmd.extend(self.chain.clone());
        cmd
    }

    fn command(&self, op: &str, with_rule: bool) -> Vec<String> {
        let mut cmd = self.base(op);
        if op == "-I" {
            cmd.extend(self.rule_num.clone());
        }
        if with_rule {
            cmd.extend(self.rule.iter().cloned());
        }
        cmd
    }

    fn chain_name(&self) -> &str {
        self.chain.as_deref().unwrap_or("")
    }

    /// Whether this change is checked against the SSH connection.
    fn guards(&self) -> bool {
        self.table == "filter" && !matches!(self.mode, Mode::ChainAbsent | Mode::ChainPresent)
    }

    /// The table as it would be after the change: one candidate, or several
    /// when stead cannot tell which rule `-D` removes.
    fn after(&self, before: &Table) -> Vec<Table> {
        let chain = self.chain_name().to_owned();
        let mut after = before.clone();
        let rule = Rule::parse(&self.rule, &format!("-A {chain} {}", self.rule.join(" ")));
        match &self.mode {
            Mode::Flush if self.chain.is_none() => after.chains.values_mut().for_each(Vec::clear),
            Mode::Flush => after.chain_mut(&chain).clear(),
            Mode::Policy(p) => {
                after.policies.insert(chain, p.clone());
            }
            Mode::Rule { present: true, insert } => {
                let rules = after.chain_mut(&chain);
                let at = if *insert {
                    let n = self.rule_num.as_deref().and_then(|n| n.trim().parse::<usize>().ok()).unwrap_or(1);
                    n.saturating_sub(1).min(rules.len())
                } else {
                    rules.len()
                };
                rules.insert(at, rule);
            }
            Mode::Rule { present: false, .. } => {
                let rules = before.chains.get(&chain).cloned().unwrap_or_default();
                let candidates: Vec<usize> = match rules.iter().position(|r| r.same_as(&rule)) {
                    Some(i) => vec![i],
                    None => (0..rules.len()).filter(|&i| rules[i].same_target(&rule)).collect(),
                };
                return candidates
                    .into_iter()
                    .map(|i| {
                        let mut t = before.clone();
                        t.chain_mut(&chain).remove(i);
                        t
                    })
                    .collect();
            }
            Mode::ChainAbsent | Mode::ChainPresent => {}
        }
        vec![after]
    }

    /// Why the change would cut off the SSH connection (or cannot be
    /// checked), if it would.
    fn lockout(&self, seen: &Seen) -> Result<Option<String>, ModuleError> {
        if self.allow_lockout || !self.guards() {
            return Ok(None);
        }
        let line = seen.peer.as_deref().ok_or_else(|| ModuleError::Probe("no SSH connection line".into()))?;
        let Some(mut peer) = peer::parse(line).map_err(ModuleError::Probe)? else { return Ok(None) };
        for addr in [&mut peer.client, &mut peer.server] {
            if let std::net::IpAddr::V6(v6) = addr {
                if let Some(v4) = v6.to_ipv4_mapped() {
                    *addr = v4.into();
                }
            }
        }
        // ip6tables cannot touch an IPv4 connection, nor iptables an IPv6 one.
        if peer.client.is_ipv6() != (self.bin == "ip6tables") {
            return Ok(None);
        }
        let refuse = |why: String| {
            format!(
                "refusing a firewall change stead cannot check against its SSH connection: {why}; \
                 set `{ALLOW_LOCKOUT_VAR}: true` to apply it anyway"
            )
        };
        let (rc, text) = seen.rules.clone().unwrap_or((1, String::new()));
        if rc != 0 {
            return Ok(Some(refuse(format!("`{} -t filter -S` failed: {}", self.bin, text.trim()))));
        }
        let before = match Table::parse(&text) {
            Ok(t) => t,
            Err(e) => return Ok(Some(refuse(e))),
        };
        let packets = peer.packets();
        Ok(self
            .after(&before)
            .iter()
            .find_map(|after| iptables_lockout::lockout(&before, after, &packets))
            .map(|l| l.message(&peer)))
    }

    fn label(&self) -> String {
        match &self.chain {
            Some(c) => format!("{} {} {c}", self.bin, self.table),
            None => format!("{} {}", self.bin, self.table),
        }
    }

    fn change(&self, cmd: Option<Vec<String>>, diff: Option<Diff>) -> Plan {
        let apply =
            cmd.map(|c| ApplyScript { script: format!("LC_ALL=C\nexport LC_ALL\n{}\n", words(&c)), stdin: Vec::new() });
        Plan { changed: true, apply, diff, ..Plan::default() }
    }
}

impl Action for IptablesAction {
    fn paths(&self) -> Option<Vec<String>> {
        Some(vec![super::NETFILTER_PATH.into()])
    }

    fn probe(&self) -> Option<String> {
        let bin = self.bin;
        let mut s = format!(
            "LC_ALL=C\nexport LC_ALL\nif ! command -v {bin} >/dev/null 2>&1; then printf '{MARKER} missing\\n'; exit 0; fi\n\
             printf '{MARKER} version %s\\n' \"$({bin} --version 2>/dev/null | head -n 1)\"\n"
        );
        let list = |s: &mut String| {
            let mut cmd = self.base("-L");
            cmd.push("--numeric".into());
            s.push_str(&format!(
                "out=$({} 2>&1) && rc=0 || rc=$?\n\
                 printf '{MARKER} list %s\\n' \"$rc\"\n\
                 if [ \"$rc\" -eq 0 ]; then k=head; else k=err; fi\n\
                 printf '%s\\n' \"$out\" | sed \"s/^/{MARKER} $k /\"\n",
                words(&cmd)
            ));
        };
        match &self.mode {
            Mode::Rule { .. } => s.push_str(&format!(
                "{} >/dev/null 2>&1 && rc=0 || rc=$?\nprintf '{MARKER} check %s\\n' \"$rc\"\n",
                words(&self.command("-C", true))
            )),
            Mode::Policy(_) | Mode::ChainAbsent | Mode::ChainPresent => list(&mut s),
            Mode::Flush => {}
        }
        if self.guards() && !self.allow_lockout {
            s.push_str(&peer::probe_snippet());
            s.push_str(&format!(
                "out=$({bin} -t filter -S 2>&1) && rc=0 || rc=$?\n\
                 printf '%s\\n' \"$out\" | sed 's/^/{MARKER} rule /'\nprintf '{MARKER} rules %s\\n' \"$rc\"\n"
            ));
        }
        s.push_str(&format!("printf '{MARKER} end\\n'\n"));
        Some(s)
    }

    fn compare(&mut self, probe: Option<&ExecOutput>) -> Result<Plan, ModuleError> {
        let out = probe.ok_or_else(|| ModuleError::Probe("the iptables probe did not run".into()))?;
        let Some(seen) = parse_probe(&out.stdout)? else {
            return Err(ModuleError::failed(format!("Failed to find required executable {} in paths", self.bin)));
        };
        if self.wait && !version_at_least(&seen.version, (1, 6, 0)) {
            return Err(ModuleError::failed(format!(
                "`wait` needs iptables 1.6.0 or later; the host has `{}`",
                seen.version
            )));
        }
        let label = self.label();
        let plan = match &self.mode {
            Mode::Flush => {
                let diff = Diff::state(&label, &[("rules", "as they are".into())], &[("rules", "flushed".into())]);
                self.change(Some(self.command("-F", false)), Some(diff))
            }
            Mode::Policy(want) => {
                let (rc, head, err) = seen.list.clone().unwrap_or_default();
                if rc != 0 {
                    return Err(ModuleError::failed(err));
                }
                let current = head
                    .split("(policy ")
                    .nth(1)
                    .map(|r| r.chars().take_while(char::is_ascii_uppercase).collect::<String>())
                    .filter(|p| !p.is_empty())
                    .ok_or_else(|| ModuleError::failed("Can't detect current policy"))?;
                if current == *want {
                    Plan::ok()
                } else {
                    let mut cmd = self.command("-P", false);
                    cmd.push(want.clone());
                    let diff = Diff::state(&label, &[("policy", current)], &[("policy", want.clone())]);
                    self.change(Some(cmd), Some(diff))
                }
            }
            Mode::ChainAbsent | Mode::ChainPresent => {
                let exists = seen.list.as_ref().is_some_and(|l| l.0 == 0);
                let want = self.mode == Mode::ChainPresent;
                if exists == want {
                    Plan::ok()
                } else if !self.chain_management {
                    // Ansible reports the change and makes none.
                    self.change(None, None)
                } else {
                    let (b, a) = if want { ("absent", "present") } else { ("present", "absent") };
                    let diff = Diff::state(&label, &[("chain", b.into())], &[("chain", a.into())]);
                    self.change(Some(self.command(if want { "-N" } else { "-X" }, false)), Some(diff))
                }
            }
            Mode::Rule { present, insert } => {
                let is_present = seen.check == Some(0);
                if is_present == *present {
                    Plan::ok()
                } else {
                    let op = match (present, insert) {
                        (false, _) => "-D",
                        (true, true) => "-I",
                        (true, false) => "-A",
                    };
                    let cmd = self.command(op, true);
                    let line = if op == "-D" {
                        format!("-A {}\n", words(&cmd[4..]))
                    } else {
                        format!("{}\n", words(&cmd[3..]))
                    };
                    let diff = if *present { Diff::file(&label, "", &line) } else { Diff::file(&label, &line, "") };
                    self.change(Some(cmd), Some(diff))
                }
            }
        };
        let mut plan = plan;
        plan.result = self.result.clone();
        plan.result.insert("changed".into(), plan.changed.into());
        if plan.apply.is_some() {
            if let Some(why) = self.lockout(&seen)? {
                super::peer::refuse_or_warn(&mut plan, why, self.check_mode)?;
            }
        }
        Ok(plan)
    }

    fn finish(&mut self, plan: Plan, out: &ExecOutput) -> Result<Plan, ModuleError> {
        finish_with_stderr(plan, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::file_write::testing::FakeCtx;
    use serde_json::{json, Value};

    fn prepare(v: Value) -> Result<Box<dyn Action>, ModuleError> {
        Iptables.prepare(&Args::new(&SPEC, v.as_object().unwrap().clone()), &FakeCtx::default())
    }

    fn rule(v: Value) -> String {
        let a = prepare(v).unwrap();
        let probe = a.probe().unwrap();
        probe.lines().find(|l| l.contains(" -C ")).unwrap_or("").to_owned()
    }

    fn out(stdout: &str) -> ExecOutput {
        ExecOutput { status: 0, stdout: stdout.as_bytes().to_vec(), stderr: Vec::new() }
    }

    #[test]
    fn the_rule_is_built_in_ansibles_order() {
        let p = RuleParams {
            protocol: Some("tcp".into()),
            source: Some("!10.0.0.0/8".into()),
            jump: Some("ACCEPT".into()),
            destination_port: Some("22".into()),
            ctstate: vec!["NEW".into(), "ESTABLISHED".into()],
            comment: Some("ssh in".into()),
            syn: "match".into(),
            ..RuleParams::default()
        };
        assert_eq!(
            construct_rule(&p).join(" "),
            "-p tcp ! -s 10.0.0.0/8 -j ACCEPT --destination-port 22 --syn -m conntrack --ctstate NEW,ESTABLISHED \
             -m comment --comment ssh in"
        );
        let p = RuleParams {
            matches: vec!["state".into()],
            ctstate: vec!["RELATED".into()],
            destination_ports: vec!["80".into(), "443".into()],
            reject_with: Some("tcp-reset".into()),
            limit: Some("5/min".into()),
            uid_owner: Some("!1000".into()),
            syn: "ignore".into(),
            ..RuleParams::default()
        };
        assert_eq!(
            construct_rule(&p).join(" "),
            "-m state -m multiport --dports 80,443 --state RELATED -m limit --limit 5/min -m owner ! --uid-owner 1000 \
             -j REJECT --reject-with tcp-reset"
        );
    }

    #[test]
    fn the_probe_checks_the_rule_with_every_word_quoted() {
        let c = rule(json!({"chain": "INPUT", "protocol": "tcp", "destination_port": "8081", "jump": "DROP",
                            "comment": "it's $(x)", "wait": "5"}));
        assert_eq!(
            c,
            "iptables -t filter -C INPUT -w 5 -p tcp -j DROP --destination-port 8081 -m comment --comment 'it'\\''s $(x)' >/dev/null 2>&1 && rc=0 || rc=$?"
        );
        let c = rule(json!({"chain": "INPUT", "log_prefix": "in: ", "ip_version": "ipv6"}));
        assert!(c.starts_with("ip6tables -t filter -C INPUT -j LOG --log-prefix 'in: '"), "{c}");
    }

    #[test]
    fn arguments_are_checked_as_ansible_checks_them() {
        let e = |v: Value| prepare(v).err().unwrap().to_string();
        assert_eq!(e(json!({"protocol": "tcp"})), "flush is False but all of the following are missing: chain");
        assert_eq!(
            e(json!({"chain": "INPUT", "log_prefix": "x", "jump": "DROP"})),
            "Logging options can only be used with the LOG jump target."
        );
        assert!(e(json!({"chain": "INPUT", "jump": "TEE"})).contains("gateway"));
        assert!(e(json!({"chain": "INPUT", "match_set": "s"})).contains("match_set_flags"));
        assert!(e(json!({"chain": "INPUT", "source": ""})).contains("empty"));
        assert!(prepare(json!({"flush": true})).is_ok());
    }

    const PEER: &str = "stead-ssh-peer 10.231.5.1 40022 10.231.5.10 22 eth0\n";
    const OPEN: &str =
        "stead-iptables rule -P INPUT ACCEPT\nstead-iptables rule -P OUTPUT ACCEPT\nstead-iptables rules 0\n";

    #[test]
    fn a_rule_is_appended_when_missing_and_left_alone_when_present() {
        let mut a =
            prepare(json!({"chain": "INPUT", "protocol": "tcp", "destination_port": "8081", "jump": "DROP"})).unwrap();
        let p = a.compare(Some(&out(&format!("stead-iptables check 1\n{PEER}{OPEN}stead-iptables end\n")))).unwrap();
        assert!(p.changed);
        assert_eq!(
            p.apply.unwrap().script,
            "LC_ALL=C\nexport LC_ALL\niptables -t filter -A INPUT -p tcp -j DROP --destination-port 8081\n"
        );
        assert!(p.diff.unwrap().unified().contains("+-A INPUT -p tcp -j DROP --destination-port 8081\n"));
        let p = a.compare(Some(&out("stead-iptables check 0\nstead-iptables end\n"))).unwrap();
        assert!(!p.changed && p.apply.is_none());
        assert_eq!(p.result["rule"], "-p tcp -j DROP --destination-port 8081");
    }

    #[test]
    fn a_change_that_locks_out_ssh_is_refused() {
        let mut a = prepare(json!({"chain": "INPUT", "policy": "DROP"})).unwrap();
        let probe = format!(
            "stead-iptables list 0\nstead-iptables head Chain INPUT (policy ACCEPT)\n{PEER}{OPEN}stead-iptables end\n"
        );
        let e = a.compare(Some(&out(&probe))).err().unwrap().to_string();
        assert!(e.contains("policy DROP of chain INPUT") && e.contains("stead_allow_lockout"), "{e}");
        // With an SSH rule in place, the same change is fine and shows the policy.
        let safe = probe.replace(
            "stead-iptables rules 0",
            "stead-iptables rule -A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\nstead-iptables rules 0",
        );
        let p = a.compare(Some(&out(&safe))).unwrap();
        let d = p.diff.unwrap().unified();
        assert!(d.contains("-policy: ACCEPT\n+policy: DROP\n"), "{d}");
        // Without SSH (the local connection) there is nothing to protect.
        let local = probe.replace(PEER, "stead-ssh-peer none\n");
        assert!(a.compare(Some(&out(&local))).unwrap().changed);
        // Deleting the SSH rule under policy DROP is refused too.
        let mut d = prepare(json!({"chain": "INPUT", "protocol": "tcp", "destination_port": "22", "jump": "ACCEPT",
                                   "state": "absent"}))
        .unwrap();
        let probe = format!(
            "stead-iptables check 0\n{PEER}stead-iptables rule -P INPUT DROP\n\
             stead-iptables rule -A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\nstead-iptables rules 0\nstead-iptables end\n"
        );
        assert!(d.compare(Some(&out(&probe))).is_err());
    }

    #[test]
    fn ip6tables_cannot_lock_out_an_ipv4_connection() {
        let mut a = prepare(json!({"chain": "INPUT", "policy": "DROP", "ip_version": "ipv6"})).unwrap();
        let probe = format!(
            "stead-iptables list 0\nstead-iptables head Chain INPUT (policy ACCEPT)\n{PEER}{OPEN}stead-iptables end\n"
        );
        assert!(a.compare(Some(&out(&probe))).unwrap().changed);
        // An insert lands at its position, ahead of the drop it precedes.
        let mut i = prepare(json!({"chain": "INPUT", "action": "insert", "rule_num": "2", "protocol": "tcp",
                                   "destination_port": "22", "jump": "DROP"}))
        .unwrap();
        let probe = format!(
            "stead-iptables check 1\n{PEER}stead-iptables rule -P INPUT DROP\n\
             stead-iptables rule -A INPUT -i lo -j ACCEPT\nstead-iptables rule -A INPUT -p tcp --dport 22 -j ACCEPT\n\
             stead-iptables rules 0\nstead-iptables end\n"
        );
        let e = i.compare(Some(&out(&probe))).err().unwrap().to_string();
        assert!(e.contains("-A INPUT -p tcp --destination-port 22 -j DROP") || e.contains("drops"), "{e}");
    }

    #[test]
    fn chains_are_managed_only_with_chain_management() {
        let listing = |rc: i32| out(&format!("stead-iptables list {rc}\nstead-iptables end\n"));
        let mut a = prepare(json!({"chain": "web"})).unwrap();
        let p = a.compare(Some(&listing(1))).unwrap();
        assert!(p.changed && p.apply.is_none());
        let mut a = prepare(json!({"chain": "web", "chain_management": true})).unwrap();
        let p = a.compare(Some(&listing(1))).unwrap();
        assert!(p.apply.unwrap().script.contains("iptables -t filter -N web"));
        assert!(!a.compare(Some(&listing(0))).unwrap().changed);
        let mut a = prepare(json!({"chain": "web", "chain_management": true, "state": "absent"})).unwrap();
        assert!(a.compare(Some(&listing(0))).unwrap().apply.unwrap().script.contains("-X web"));
    }

    #[test]
    fn versions_compare_numerically() {
        assert!(version_at_least("iptables v1.8.9 (nf_tables)", (1, 6, 0)));
        assert!(!version_at_least("iptables v1.4.21", (1, 6, 0)));
    }
}
