//! `ufw`: the state, default policies, logging and rules of the
//! Uncomplicated Firewall, as `community.general.ufw`.
//!
//! Ansible's module runs its commands and compares `ufw status verbose`
//! and the rules files' `### tuple` lines before and after. stead decides
//! before it changes anything, from one probe: `ufw status verbose`, the
//! tuple lines (the same `grep` of the same six files), `ufw --dry-run`
//! of the rule command (what Ansible's check mode compares), and the
//! configuration files (`/etc/ufw/ufw.conf`, `/etc/default/ufw`) for the
//! state, logging level and default policies. The apply runs the `ufw`
//! commands Ansible runs, in its order (state, default, rule, logging).
//!
//! Before a change that can cut off stead's SSH connection (enabling,
//! reloading, a default policy or a rule while ufw is, or becomes, active),
//! the probe also reads the live `iptables -S`/`ip6tables -S` and ufw's
//! rules files, and [`super::iptables_lockout`] walks the ruleset ufw
//! would load: the failure names the rule or policy, unless the host's
//! `stead_allow_lockout` is true.
//!
//! This module never builds a shell string by hand: every word goes
//! through [`crate::transport::quote::quote`].

use std::collections::BTreeMap;
use std::sync::OnceLock;

use regex::Regex;

use super::iptables_lockout::{self, Rule, Table};
use super::peer::{self, ALLOW_LOCKOUT_VAR};
use crate::modules::{
    finish_with_stderr, Action, ApplyScript, ArgKind, ArgSpec, Args, Diff, Module, ModuleError, ModuleSpec, Plan,
    ResultMap, TaskContext,
};
use crate::transport::quote::quote;
use crate::transport::ExecOutput;

/// The `ufw` module.
pub struct Ufw;

const STATES: &[&str] = &["enabled", "disabled", "reloaded", "reset"];
const DEFAULTS: &[&str] = &["allow", "deny", "reject"];
const LOGGING: &[&str] = &["full", "high", "low", "medium", "off", "on"];
const DIRECTIONS: &[&str] = &["in", "incoming", "out", "outgoing", "routed"];
const RULES: &[&str] = &["allow", "deny", "limit", "reject"];
const PROTOS: &[&str] = &["ah", "any", "esp", "ipv6", "tcp", "udp", "gre", "igmp", "vrrp"];

/// The first word of every line of the probe's own output.
const MARKER: &str = "stead-ufw";

/// The files Ansible greps for `### tuple` lines, in its order.
const USER_RULES: &[&str] = &[
    "/lib/ufw/user.rules",
    "/lib/ufw/user6.rules",
    "/etc/ufw/user.rules",
    "/etc/ufw/user6.rules",
    "/var/lib/ufw/user.rules",
    "/var/lib/ufw/user6.rules",
];

static SPEC: ModuleSpec = ModuleSpec::new(&[
    ArgSpec::new("state", ArgKind::Str).choices(STATES),
    ArgSpec::new("default", ArgKind::Str).aliases(&["policy"]).choices(DEFAULTS),
    ArgSpec::new("logging", ArgKind::Str).choices(LOGGING),
    ArgSpec::new("direction", ArgKind::Str).choices(DIRECTIONS),
    ArgSpec::new("delete", ArgKind::Bool),
    ArgSpec::new("route", ArgKind::Bool),
    ArgSpec::new("insert", ArgKind::Int),
    ArgSpec::new("insert_relative_to", ArgKind::Str).choices(&["zero"]),
    ArgSpec::new("rule", ArgKind::Str).choices(RULES),
    ArgSpec::new("interface", ArgKind::Str).aliases(&["if"]),
    ArgSpec::new("interface_in", ArgKind::Str).aliases(&["if_in"]),
    ArgSpec::new("interface_out", ArgKind::Str).aliases(&["if_out"]),
    ArgSpec::new("log", ArgKind::Bool),
    ArgSpec::new("from_ip", ArgKind::Str).aliases(&["from", "src"]),
    ArgSpec::new("from_port", ArgKind::Str),
    ArgSpec::new("to_ip", ArgKind::Str).aliases(&["dest", "to"]),
    ArgSpec::new("to_port", ArgKind::Str).aliases(&["port"]),
    ArgSpec::new("proto", ArgKind::Str).aliases(&["protocol"]).choices(PROTOS),
    ArgSpec::new("comment", ArgKind::Str),
])
.one_of(&[&["state", "default", "rule", "logging"]])
.exclusive(&[("proto", "logging"), ("direction", "interface_in"), ("direction", "interface_out")])
.refused(&[(
    "name",
    "application profiles (`app`) depend on the host's /etc/ufw/applications.d, which stead does not read \
     when it checks the rule against its SSH connection; write the profile's ports with `port` and `proto`",
)]);

/// One `ufw` task on one host.
#[derive(Debug)]
pub struct UfwAction {
    state: Option<String>,
    default: Option<(String, Option<String>)>,
    logging: Option<String>,
    /// The rule command's words after `ufw` (without `--dry-run`).
    rule: Option<Vec<String>>,
    /// The rule has a comment (needs ufw 0.35).
    comment: bool,
    /// Which addresses Ansible compares the dry run on (`4`, `6`, or both).
    family: Option<u8>,
    allow_lockout: bool,
    check_mode: bool,
}

fn ipv4_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"((25[0-5]|(2[0-4]|1{0,1}[0-9]){0,1}[0-9])\.){3,3}(25[0-5]|(2[0-4]|1{0,1}[0-9]){0,1}[0-9])")
            .expect("the IPv4 pattern")
    })
}

fn ipv6_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(concat!(
            r"(([0-9a-fA-F]{1,4}:){7,7}[0-9a-fA-F]{1,4}|([0-9a-fA-F]{1,4}:){1,7}:",
            r"|([0-9a-fA-F]{1,4}:){1,6}:[0-9a-fA-F]{1,4}|([0-9a-fA-F]{1,4}:){1,5}",
            r"(:[0-9a-fA-F]{1,4}){1,2}|([0-9a-fA-F]{1,4}:){1,4}(:[0-9a-fA-F]{1,4})",
            r"{1,3}|([0-9a-fA-F]{1,4}:){1,3}(:[0-9a-fA-F]{1,4}){1,4}|([0-9a-fA-F]",
            r"{1,4}:){1,2}(:[0-9a-fA-F]{1,4}){1,5}|[0-9a-fA-F]{1,4}:((:[0-9a-fA-F]",
            r"{1,4}){1,6})|:((:[0-9a-fA-F]{1,4}){1,7}|:)|fe80:(:[0-9a-fA-F]{0,4})",
            r"{0,4}%[0-9a-zA-Z]{1,}|::(ffff(:0{1,4}){0,1}:){0,1}((25[0-5]|(2[0-4]",
            r"|1{0,1}[0-9]){0,1}[0-9])\.){3,3}(25[0-5]|(2[0-4]|1{0,1}[0-9]){0,1}",
            r"[0-9])|([0-9a-fA-F]{1,4}:){1,4}:((25[0-5]|(2[0-4]|1{0,1}[0-9]){0,1}",
            r"[0-9])\.){3,3}(25[0-5]|(2[0-4]|1{0,1}[0-9]){0,1}[0-9]))"
        ))
        .expect("the IPv6 pattern")
    })
}

/// Python's `re.match`: a match at the start.
fn starts_with(re: &Regex, s: &str) -> bool {
    re.find(s).is_some_and(|m| m.start() == 0)
}

/// Ansible's `rule` command, word for word: `[route] [delete] [insert N]
/// RULE [DIRECTION] [on IF] [in on IF] [out on IF] [log] from A [port P]
/// to B [port P] [proto X] [comment C]`.
pub fn rule_words(args: &Args, rule: &str) -> Result<Vec<String>, ModuleError> {
    let mut w: Vec<String> = Vec::new();
    let route = args.bool_or("route", false)?;
    let delete = args.bool_or("delete", false)?;
    if route {
        w.push("route".into());
    }
    if delete {
        w.push("delete".into());
    }
    if let (Some(n), false) = (args.opt_int("insert")?, delete) {
        w.extend(["insert".into(), n.to_string()]);
    }
    w.push(rule.to_owned());
    let pair = |w: &mut Vec<String>, word: &str, name: &str| -> Result<(), ModuleError> {
        if let Some(v) = args.opt_str(name)?.filter(|v| !v.is_empty()) {
            w.extend(word.split(' ').filter(|s| !s.is_empty()).map(str::to_owned));
            w.push(v);
        }
        Ok(())
    };
    pair(&mut w, "", "direction")?;
    pair(&mut w, "on", "interface")?;
    pair(&mut w, "in on", "interface_in")?;
    pair(&mut w, "out on", "interface_out")?;
    if args.bool_or("log", false)? {
        w.push("log".into());
    }
    w.extend(["from".into(), args.opt_str("from_ip")?.unwrap_or_else(|| "any".into())]);
    pair(&mut w, "port", "from_port")?;
    w.extend(["to".into(), args.opt_str("to_ip")?.unwrap_or_else(|| "any".into())]);
    pair(&mut w, "port", "to_port")?;
    pair(&mut w, "proto", "proto")?;
    pair(&mut w, "comment", "comment")?;
    Ok(w)
}

impl Module for Ufw {
    fn name(&self) -> &'static str {
        "ufw"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: &Args, ctx: &dyn TaskContext) -> Result<Box<dyn Action>, ModuleError> {
        let state = match args.opt_str("state")? {
            Some(s) => Some(args.choice_or("state", STATES, &s)?),
            None => None,
        };
        let direction = match args.opt_str("direction")? {
            Some(d) => Some(args.choice_or("direction", DIRECTIONS, &d)?),
            None => None,
        };
        if args.has("interface") && direction.is_none() {
            return Err(ModuleError::failed("missing parameter(s) required by 'interface': direction"));
        }
        let default = match args.opt_str("default")? {
            Some(d) => {
                let d = args.choice_or("default", DEFAULTS, &d)?;
                if !matches!(direction.as_deref(), None | Some("outgoing" | "incoming" | "routed")) {
                    return Err(ModuleError::failed(
                        "For default, direction must be one of \"outgoing\", \"incoming\" and \"routed\", or direction must not be specified.",
                    ));
                }
                Some((d, direction.clone()))
            }
            None => None,
        };
        let logging = match args.opt_str("logging")? {
            Some(l) => Some(args.choice_or("logging", LOGGING, &l)?),
            None => None,
        };
        let rule = match args.opt_str("rule")? {
            Some(r) => {
                let r = args.choice_or("rule", RULES, &r)?;
                if !matches!(direction.as_deref(), None | Some("in" | "out")) {
                    return Err(ModuleError::failed(
                        "For rules, direction must be one of \"in\" and \"out\", or direction must not be specified.",
                    ));
                }
                if !args.bool_or("route", false)? && args.has("interface_in") && args.has("interface_out") {
                    return Err(ModuleError::failed("Only route rules can combine interface_in and interface_out"));
                }
                if let Some(p) = args.opt_str("proto")? {
                    args.choice_or("proto", PROTOS, &p)?;
                }
                Some(rule_words(args, &r)?)
            }
            None => None,
        };
        let from = args.opt_str("from_ip")?.unwrap_or_else(|| "any".into());
        let to = args.opt_str("to_ip")?.unwrap_or_else(|| "any".into());
        let family = if starts_with(ipv4_re(), &from) || starts_with(ipv4_re(), &to) {
            Some(4)
        } else if starts_with(ipv6_re(), &from) || starts_with(ipv6_re(), &to) {
            Some(6)
        } else {
            None
        };
        Ok(Box::new(UfwAction {
            state,
            default,
            logging,
            comment: rule.is_some() && args.has("comment"),
            rule,
            family,
            allow_lockout: ctx.eval_condition(&format!("{ALLOW_LOCKOUT_VAR} | default(false) | bool"))?,
            check_mode: ctx.check_mode(),
        }))
    }
}

fn words(cmd: &[String]) -> String {
    cmd.iter().map(|w| quote(w).into_owned()).collect::<Vec<_>>().join(" ")
}

/// What the probe saw: each section's exit status and text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seen {
    sections: BTreeMap<String, (i32, String)>,
    peer: Option<String>,
}

impl Seen {
    fn text(&self, name: &str) -> &str {
        self.sections.get(name).map_or("", |(_, t)| t.as_str())
    }
    fn rc(&self, name: &str) -> i32 {
        self.sections.get(name).map_or(127, |(rc, _)| *rc)
    }
}

/// Parses the probe's output (`None`: ufw is not installed).
pub fn parse_probe(stdout: &[u8]) -> Result<Option<Seen>, ModuleError> {
    let text = String::from_utf8_lossy(stdout);
    let mut seen = Seen::default();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if let Some(body) = line.strip_prefix("| ").or_else(|| (line == "|").then_some("")) {
            if let Some(name) = &current {
                let entry = seen.sections.get_mut(name).expect("a section begun");
                entry.1.push_str(body);
                entry.1.push('\n');
            }
            continue;
        }
        if line.starts_with(peer::MARKER) {
            seen.peer = Some(line.to_owned());
            continue;
        }
        let Some(rest) = line.strip_prefix(MARKER).and_then(|r| r.strip_prefix(' ')) else { continue };
        let parts: Vec<&str> = rest.split(' ').collect();
        match parts.as_slice() {
            ["missing"] => return Ok(None),
            ["begin", name, rc] => {
                let rc = rc.parse().map_err(|_| ModuleError::Probe(format!("bad line `{line}`")))?;
                seen.sections.insert((*name).to_owned(), (rc, String::new()));
                current = Some((*name).to_owned());
            }
            ["end"] => return Ok(Some(seen)),
            _ => {}
        }
    }
    Err(ModuleError::Probe("the ufw probe's output is truncated".into()))
}

/// `KEY=value` or `KEY="value"` of a shell-style configuration file.
fn conf_value(text: &str, key: &str) -> Option<String> {
    text.lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix(key)?.strip_prefix('='))
        .map(|v| v.trim_matches('"').to_owned())
}

/// The policy word of `/etc/default/ufw` for a `default` value.
fn policy_word(value: &str) -> &'static str {
    match value {
        "allow" => "ACCEPT",
        "reject" => "REJECT",
        _ => "DROP",
    }
}

fn policy_key(direction: Option<&str>) -> &'static str {
    match direction {
        Some("outgoing") => "DEFAULT_OUTPUT_POLICY",
        Some("routed") => "DEFAULT_FORWARD_POLICY",
        _ => "DEFAULT_INPUT_POLICY",
    }
}

/// Ansible's check of a rule's dry run: a change unless every line says
/// "Skipping", or the tuple lines (of the rule's address family) are the
/// same as the rules files'.
pub fn rule_changes(pre_rules: &str, dry: &str, family: Option<u8>) -> bool {
    let lines: Vec<&str> = dry.lines().collect();
    let skipping = lines.iter().filter(|l| l.contains("Skipping")).count();
    if skipping > 0 && skipping == lines.len() {
        return false;
    }
    let tuples = |t: &str| t.lines().filter(|l| l.starts_with("### tuple")).map(str::to_owned).collect::<Vec<_>>();
    let (pre, dry) = (tuples(pre_rules), tuples(dry));
    let only = |v: &[String], re: &Regex| v.iter().filter(|l| re.is_match(l)).cloned().collect::<Vec<_>>();
    match family {
        Some(4) => only(&pre, ipv4_re()) != only(&dry, ipv4_re()),
        Some(6) => only(&pre, ipv6_re()) != only(&dry, ipv6_re()),
        _ => pre != dry,
    }
}

/// The built-in chains' jumps into ufw's chains, as ufw-init adds them.
const HOOKS: &[(&str, &[&str])] = &[
    (
        "INPUT",
        &["before-logging-input", "before-input", "after-input", "after-logging-input", "reject-input", "track-input"],
    ),
    (
        "OUTPUT",
        &[
            "before-logging-output",
            "before-output",
            "after-output",
            "after-logging-output",
            "reject-output",
            "track-output",
        ],
    ),
];

impl UfwAction {
    fn probe_script(&self) -> String {
        let mut s = format!(
            "LC_ALL=C\nLANG=C\nexport LC_ALL LANG\n\
             if ! command -v ufw >/dev/null 2>&1; then printf '{MARKER} missing\\n'; exit 0; fi\n\
             section() {{\n  n=$1; shift\n  out=$(\"$@\" 2>&1) && rc=0 || rc=$?\n  \
             printf '{MARKER} begin %s %s\\n' \"$n\" \"$rc\"\n  \
             [ -z \"$out\" ] || printf '%s\\n' \"$out\" | sed 's/^/| /'\n}}\n\
             section version ufw --version\nsection status ufw status verbose\n\
             section conf cat /etc/ufw/ufw.conf\nsection defaults cat /etc/default/ufw\n\
             section rules grep -h '^### tuple' {}\n",
            USER_RULES.join(" ")
        );
        if let Some(rule) = &self.rule {
            let mut dry = vec!["ufw".to_owned(), "--dry-run".to_owned()];
            dry.extend(rule.iter().cloned());
            s.push_str(&format!("section dry {}\n", words(&dry)));
        }
        if self.may_lock_out() {
            s.push_str(&peer::probe_snippet());
            s.push_str(
                "section ipt4 iptables -S\nsection ipt6 ip6tables -S\n\
                 for f in before after user before6 after6 user6; do section \"file-$f\" cat /etc/ufw/$f.rules; done\n",
            );
        }
        s.push_str(&format!("printf '{MARKER} end\\n'\n"));
        s
    }

    /// Whether the task can change the packet filter in a way that drops.
    fn may_lock_out(&self) -> bool {
        !self.allow_lockout
            && (matches!(self.state.as_deref(), Some("enabled" | "reloaded"))
                || self.default.is_some()
                || self.rule.is_some())
    }

    /// The ruleset ufw would have after the task, for one address family
    /// (`None`: ufw is not active afterwards).
    fn after_table(&self, seen: &Seen, v6: bool, active: bool) -> Result<Option<Table>, String> {
        let enabling = matches!(self.state.as_deref(), Some("enabled" | "reloaded"));
        let disabling = matches!(self.state.as_deref(), Some("disabled" | "reset"));
        if disabling || !(active || enabling) {
            return Ok(None);
        }
        let sfx = if v6 { "6" } else { "" };
        let prefix = if v6 { "ufw6-" } else { "ufw-" };
        let live = Table::parse(seen.text(if v6 { "ipt6" } else { "ipt4" }))?;
        let mut t = if active && self.state.as_deref() != Some("reloaded") {
            live
        } else {
            // What ufw-init loads: its files, hooked into the built-in chains.
            let mut t = live;
            t.chains.retain(|name, _| !name.starts_with(prefix));
            let hooked = |r: &Rule| r.text.contains(&format!(" -j {prefix}"));
            for (chain, _) in HOOKS {
                t.chain_mut(chain).retain(|r| !hooked(r));
            }
            for f in ["before", "after", "user"] {
                t.load_restore(seen.text(&format!("file-{f}{sfx}")))?;
            }
            // What ufw-init adds around the files (ufw-init-functions).
            let defaults = seen.text("defaults");
            for (dir, key) in [("input", "DEFAULT_INPUT_POLICY"), ("output", "DEFAULT_OUTPUT_POLICY")] {
                let policy = conf_value(defaults, key).unwrap_or_else(|| "ACCEPT".into());
                let mut add = |chain: String, words: &[&str]| {
                    let words: Vec<String> = words.iter().map(|w| (*w).to_owned()).collect();
                    let text = format!("-A {chain} {}", words.join(" "));
                    let rules = t.chain_mut(&chain);
                    if !words.is_empty() {
                        rules.push(Rule::parse(&words, &text));
                    }
                };
                add(format!("{prefix}user-{dir}"), &[]);
                add(format!("{prefix}before-{dir}"), &["-j", &format!("{prefix}user-{dir}")]);
                add(format!("{prefix}skip-to-policy-{dir}"), &["-j", &policy]);
                if policy == "REJECT" {
                    add(format!("{prefix}reject-{dir}"), &["-j", "REJECT"]);
                }
            }
            // (Chains ufw makes itself, not in its files, hold only what
            // the default policies put there.)
            for (chain, hooks) in HOOKS {
                let targets: Vec<String> =
                    hooks.iter().map(|h| format!("{prefix}{h}")).filter(|c| t.chains.contains_key(c)).collect();
                let rules = t.chain_mut(chain);
                for (i, target) in targets.into_iter().enumerate() {
                    let text = format!("-A {chain} -j {target}");
                    rules.insert(i, Rule::parse(&["-j".to_owned(), target], &text));
                }
            }
            for (chain, key) in [("INPUT", "DEFAULT_INPUT_POLICY"), ("OUTPUT", "DEFAULT_OUTPUT_POLICY")] {
                let p = conf_value(defaults, key).unwrap_or_else(|| "ACCEPT".into());
                t.policies.insert(chain.to_owned(), if p == "ACCEPT" { p } else { "DROP".into() });
            }
            t
        };
        if let Some((value, direction)) = &self.default {
            let chain = match direction.as_deref() {
                Some("outgoing") => Some("OUTPUT"),
                Some("routed") => None,
                _ => Some("INPUT"),
            };
            if let Some(chain) = chain {
                let p = if value == "allow" { "ACCEPT" } else { "DROP" };
                t.policies.insert(chain.to_owned(), p.to_owned());
            }
        }
        if self.rule.is_some() {
            // The dry run prints the user rules files as they would be.
            let mut dry = Table::default();
            let text = seen.text("dry");
            let sections: Vec<&str> = text.split("*filter").skip(1).collect();
            let section = sections.iter().find(|s| s.contains(&format!(":{prefix}user-input")));
            if let Some(section) = section {
                dry.load_restore(&format!("*filter{section}"))?;
                for (name, rules) in dry.chains {
                    if name.starts_with(&format!("{prefix}user-")) {
                        t.chains.insert(name, rules);
                    }
                }
            }
        }
        Ok(Some(t))
    }

    fn lockout(&self, seen: &Seen, active: bool) -> Result<Option<String>, ModuleError> {
        if !self.may_lock_out() {
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
        let v6 = peer.client.is_ipv6();
        let refuse = |why: String| {
            format!(
                "refusing a firewall change stead cannot check against its SSH connection: {why}; \
                 set `{ALLOW_LOCKOUT_VAR}: true` to apply it anyway"
            )
        };
        let before = match Table::parse(seen.text(if v6 { "ipt6" } else { "ipt4" })) {
            Ok(t) => t,
            Err(e) => return Ok(Some(refuse(e))),
        };
        let after = match self.after_table(seen, v6, active) {
            Ok(Some(t)) => t,
            Ok(None) => return Ok(None),
            Err(e) => return Ok(Some(refuse(e))),
        };
        Ok(iptables_lockout::lockout(&before, &after, &peer.packets()).map(|l| l.message(&peer)))
    }
}

impl Action for UfwAction {
    fn paths(&self) -> Option<Vec<String>> {
        Some(vec!["/etc/ufw".into(), "/etc/default/ufw".into(), super::NETFILTER_PATH.into()])
    }

    fn probe(&self) -> Option<String> {
        Some(self.probe_script())
    }

    fn compare(&mut self, probe: Option<&ExecOutput>) -> Result<Plan, ModuleError> {
        let out = probe.ok_or_else(|| ModuleError::Probe("the ufw probe did not run".into()))?;
        let Some(seen) = parse_probe(&out.stdout)? else {
            return Err(ModuleError::failed("Failed to find required executable \"ufw\" in paths"));
        };
        if seen.rc("status") != 0 {
            return Err(ModuleError::failed(seen.text("status").trim().to_owned()));
        }
        let status = seen.text("status");
        let active = status.contains(" active");
        let conf = seen.text("conf");
        let defaults = seen.text("defaults");
        let mut cmds: Vec<Vec<String>> = Vec::new();
        let mut before: Vec<(&str, String)> = Vec::new();
        let mut after: Vec<(&str, String)> = Vec::new();
        let mut changed = false;
        let ufw = |rest: &[&str]| std::iter::once("ufw").chain(rest.iter().copied()).map(str::to_owned).collect();
        if let Some(state) = &self.state {
            let (change, verb) = match state.as_str() {
                "enabled" => (!active, "enable"),
                "disabled" => (active, "disable"),
                "reloaded" => (true, "reload"),
                _ => (true, "reset"),
            };
            if change {
                changed = true;
                cmds.push(ufw(&["-f", verb]));
                before.push(("state", if active { "active" } else { "inactive" }.into()));
                after.push(("state", state.clone()));
            }
        }
        if let Some((value, direction)) = &self.default {
            let key = policy_key(direction.as_deref());
            let current = conf_value(defaults, key).unwrap_or_default();
            if current != policy_word(value) {
                changed = true;
                let mut cmd: Vec<String> = ufw(&["default", value]);
                cmd.extend(direction.clone());
                cmds.push(cmd);
                let what = direction.clone().unwrap_or_else(|| "incoming".into());
                before.push(("default", format!("{} ({what})", current.to_lowercase())));
                after.push(("default", format!("{} ({what})", policy_word(value).to_lowercase())));
            }
        }
        if let Some(rule) = &self.rule {
            if self.comment {
                let v = seen.text("version");
                let caps = Regex::new(r"(?m)^ufw.+?(\d+)\.(\d+)")
                    .expect("pattern")
                    .captures(v)
                    .map(|c| (c[1].parse::<u32>().unwrap_or(0), c[2].parse::<u32>().unwrap_or(0)));
                if caps.is_some_and(|(maj, min)| maj == 0 && min < 35) {
                    return Err(ModuleError::failed("`comment` needs ufw 0.35 or later"));
                }
            }
            if seen.rc("dry") != 0 {
                return Err(ModuleError::failed(seen.text("dry").trim().to_owned()));
            }
            if rule_changes(seen.text("rules"), seen.text("dry"), self.family) {
                changed = true;
                cmds.push(std::iter::once("ufw".to_owned()).chain(rule.iter().cloned()).collect());
                let line = format!("ufw {}", words(rule));
                if rule.iter().any(|w| w == "delete") {
                    before.push(("rule", line));
                } else {
                    after.push(("rule", line));
                }
            }
        }
        if let Some(value) = &self.logging {
            let level = conf_value(conf, "LOGLEVEL").unwrap_or_else(|| "off".into());
            let change = match value.as_str() {
                "off" => level != "off",
                "on" => level == "off",
                v => v != level,
            };
            if change {
                changed = true;
                cmds.push(ufw(&["logging", value]));
                before.push(("logging", level));
                after.push(("logging", value.clone()));
            }
        }
        let mut result = ResultMap::new();
        result.insert("commands".into(), cmds.iter().map(|c| serde_json::Value::from(c.join(" "))).collect());
        result.insert("changed".into(), changed.into());
        if !changed {
            return Ok(Plan { result, ..Plan::ok() });
        }
        let script = format!(
            "LC_ALL=C\nLANG=C\nexport LC_ALL LANG\n{}",
            cmds.iter().map(|c| format!("{} >/dev/null || exit $?\n", words(c))).collect::<String>()
        );
        let mut plan = Plan::change(ApplyScript { script, stdin: Vec::new() })
            .with_diff(Some(Diff::state("ufw", &before, &after)));
        plan.result = result;
        if let Some(why) = self.lockout(&seen, active)? {
            super::peer::refuse_or_warn(&mut plan, why, self.check_mode)?;
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
        Ufw.prepare(&Args::new(&SPEC, v.as_object().unwrap().clone()), &FakeCtx::default())
    }

    #[test]
    fn the_rule_command_is_ansibles() {
        let a = prepare(json!({"rule": "allow", "port": "22", "proto": "tcp", "comment": "ssh in", "direction": "in",
                               "interface": "eth0", "from": "10.0.0.0/8"}))
        .unwrap();
        let probe = a.probe().unwrap();
        assert!(
            probe.contains(
                "section dry ufw --dry-run allow in on eth0 from 10.0.0.0/8 to any port 22 proto tcp comment 'ssh in'\n"
            ),
            "{probe}"
        );
        let a = prepare(json!({"rule": "deny", "port": "8081", "delete": true, "insert": 1, "route": true})).unwrap();
        assert!(a.probe().unwrap().contains("ufw --dry-run route delete deny from any to any port 8081\n"));
        let a = prepare(json!({"rule": "deny", "port": "8081", "insert": 2})).unwrap();
        assert!(a.probe().unwrap().contains("ufw --dry-run insert 2 deny from any to any port 8081\n"));
    }

    #[test]
    fn arguments_are_checked_as_ansible_checks_them() {
        let e = |v: Value| prepare(v).err().unwrap().to_string();
        assert!(e(json!({"rule": "allow", "interface": "eth0"})).contains("required by 'interface'"));
        assert!(e(json!({"rule": "allow", "direction": "incoming"})).contains("For rules"));
        assert!(e(json!({"default": "deny", "direction": "in"})).contains("For default"));
        assert!(e(json!({"rule": "allow", "interface_in": "a", "interface_out": "b"})).contains("Only route"));
    }

    #[test]
    fn the_dry_run_decides_as_in_ansibles_check_mode() {
        let pre =
            "### tuple ### allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in\n### tuple ### allow tcp 22 ::/0 any ::/0 in\n";
        assert!(!rule_changes(pre, "Skipping adding existing rule\nSkipping adding existing rule (v6)\n", None));
        let dry = format!("*filter\n{pre}### tuple ### deny tcp 80 0.0.0.0/0 any 0.0.0.0/0 in\nCOMMIT\n");
        assert!(rule_changes(pre, &dry, None));
        assert!(!rule_changes(pre, &format!("*filter\n{pre}COMMIT\n"), None));
        // An IPv4 rule compares the IPv4 tuples only.
        assert!(!rule_changes(pre, "### tuple ### allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in\n", Some(4)));
    }

    fn seen(sections: &[(&str, &str)], peer: &str) -> String {
        let mut s = String::new();
        for (name, text) in sections {
            s.push_str(&format!("stead-ufw begin {name} 0\n"));
            for l in text.lines() {
                s.push_str(&format!("| {l}\n"));
            }
        }
        format!("{s}{peer}\nstead-ufw end\n")
    }

    const PEER: &str = "stead-ssh-peer 10.231.5.1 40022 10.231.5.10 22 eth0";
    const BEFORE: &str = "*filter\n:ufw-before-input - [0:0]\n:ufw-not-local - [0:0]\n\
        -A ufw-before-input -i lo -j ACCEPT\n\
        -A ufw-before-input -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n\
        -A ufw-before-input -j ufw-not-local\n\
        -A ufw-not-local -m addrtype --dst-type LOCAL -j RETURN\n-A ufw-not-local -j DROP\n\
        -A ufw-before-input -j ufw-user-input\nCOMMIT\n";
    const USER: &str = "*filter\n:ufw-user-input - [0:0]\n### RULES ###\nCOMMIT\n";
    const OPEN: &str = "-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n";

    fn out(s: &str) -> ExecOutput {
        ExecOutput { status: 0, stdout: s.as_bytes().to_vec(), stderr: Vec::new() }
    }

    #[test]
    fn enabling_without_an_ssh_rule_is_refused() {
        let mut a = prepare(json!({"state": "enabled"})).unwrap();
        let probe = |user: &str| {
            seen(
                &[
                    ("status", "Status: inactive"),
                    ("conf", "ENABLED=no\nLOGLEVEL=low\n"),
                    ("defaults", "DEFAULT_INPUT_POLICY=\"DROP\"\nDEFAULT_OUTPUT_POLICY=\"ACCEPT\"\n"),
                    ("ipt4", OPEN),
                    ("file-before", BEFORE),
                    ("file-user", user),
                    ("file-after", "*filter\nCOMMIT\n"),
                ],
                PEER,
            )
        };
        let e = a.compare(Some(&out(&probe(USER)))).err().unwrap().to_string();
        assert!(e.contains("policy DROP of chain INPUT"), "{e}");
        let allowed = USER.replace("### RULES ###", "### RULES ###\n-A ufw-user-input -p tcp --dport 22 -j ACCEPT");
        let p = a.compare(Some(&out(&probe(&allowed)))).unwrap();
        assert!(p.changed);
        assert_eq!(p.apply.unwrap().script.lines().last(), Some("ufw -f enable >/dev/null || exit $?"));
        assert!(p.diff.unwrap().unified().contains("+state: enabled"));
    }

    #[test]
    fn defaults_and_logging_compare_with_the_configuration() {
        let mut a = prepare(json!({"default": "deny", "direction": "outgoing"})).unwrap();
        let probe = seen(
            &[("status", "Status: inactive"), ("defaults", "DEFAULT_OUTPUT_POLICY=\"ACCEPT\"\n"), ("conf", "")],
            PEER,
        );
        let p = a.compare(Some(&out(&probe))).unwrap();
        assert!(p.apply.unwrap().script.contains("ufw default deny outgoing"));
        let mut a = prepare(json!({"logging": "on"})).unwrap();
        let probe = seen(&[("status", "Status: inactive"), ("conf", "LOGLEVEL=low\n")], PEER);
        assert!(!a.compare(Some(&out(&probe))).unwrap().changed);
    }
}

#[cfg(test)]
mod real_ruleset {
    //! The ruleset an active ufw 0.36 loads (`iptables -S` on a Tier-B
    //! host, `ufw allow 22/tcp`, default deny incoming), walked by the
    //! lock-out evaluator.

    use super::super::iptables_lockout::{lockout, Table, Verdict};
    use super::super::peer;

    const ACTIVE: &str = r#"-P INPUT DROP
-P FORWARD DROP
-P OUTPUT ACCEPT
-N ufw-before-logging-input
-N ufw-reject-input
-N ufw-track-input
-N ufw-before-logging-output
-N ufw-after-output
-N ufw-after-logging-output
-N ufw-reject-output
-N ufw-user-output
-A INPUT -j ufw-before-logging-input
-A INPUT -j ufw-before-input
-A INPUT -j ufw-after-input
-A INPUT -j ufw-after-logging-input
-A INPUT -j ufw-reject-input
-A INPUT -j ufw-track-input
-A OUTPUT -j ufw-before-logging-output
-A OUTPUT -j ufw-before-output
-A OUTPUT -j ufw-after-output
-A OUTPUT -j ufw-after-logging-output
-A OUTPUT -j ufw-reject-output
-A OUTPUT -j ufw-track-output
-A ufw-after-input -p udp -m udp --dport 137 -j ufw-skip-to-policy-input
-A ufw-after-input -p tcp -m tcp --dport 139 -j ufw-skip-to-policy-input
-A ufw-after-input -m addrtype --dst-type BROADCAST -j ufw-skip-to-policy-input
-A ufw-after-logging-input -m limit --limit 3/min --limit-burst 10 -j LOG --log-prefix "[UFW BLOCK] "
-A ufw-before-input -i lo -j ACCEPT
-A ufw-before-input -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A ufw-before-input -m conntrack --ctstate INVALID -j ufw-logging-deny
-A ufw-before-input -m conntrack --ctstate INVALID -j DROP
-A ufw-before-input -p icmp -m icmp --icmp-type 8 -j ACCEPT
-A ufw-before-input -p udp -m udp --sport 67 --dport 68 -j ACCEPT
-A ufw-before-input -j ufw-not-local
-A ufw-before-input -d 224.0.0.251/32 -p udp -m udp --dport 5353 -j ACCEPT
-A ufw-before-input -j ufw-user-input
-A ufw-before-output -o lo -j ACCEPT
-A ufw-before-output -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A ufw-before-output -j ufw-user-output
-A ufw-logging-deny -m conntrack --ctstate INVALID -m limit --limit 3/min --limit-burst 10 -j RETURN
-A ufw-logging-deny -m limit --limit 3/min --limit-burst 10 -j LOG --log-prefix "[UFW BLOCK] "
-A ufw-not-local -m addrtype --dst-type LOCAL -j RETURN
-A ufw-not-local -m addrtype --dst-type MULTICAST -j RETURN
-A ufw-not-local -m addrtype --dst-type BROADCAST -j RETURN
-A ufw-not-local -m limit --limit 3/min --limit-burst 10 -j ufw-logging-deny
-A ufw-not-local -j DROP
-A ufw-skip-to-policy-input -j DROP
-A ufw-skip-to-policy-output -j ACCEPT
-A ufw-track-output -p tcp -m conntrack --ctstate NEW -j ACCEPT
-A ufw-track-output -p udp -m conntrack --ctstate NEW -j ACCEPT
-A ufw-user-input -p tcp -m tcp --dport 22 -j ACCEPT
-A ufw-user-limit -m limit --limit 3/min -j LOG --log-prefix "[UFW LIMIT BLOCK] "
-A ufw-user-limit -j REJECT --reject-with icmp-port-unreachable
-A ufw-user-limit-accept -j ACCEPT
"#;

    fn packets() -> Vec<peer::Packet> {
        peer::parse("stead-ssh-peer 10.231.5.1 40022 10.231.5.10 22 eth0").unwrap().unwrap().packets()
    }

    #[test]
    fn ufw_with_ssh_allowed_accepts_every_ssh_packet() {
        let t = Table::parse(ACTIVE).unwrap();
        for p in packets() {
            assert_eq!(t.verdict(&p), Verdict::Accept, "{}", p.describe());
        }
    }

    #[test]
    fn deleting_the_ssh_rule_locks_out_and_limit_may() {
        let before = Table::parse(ACTIVE).unwrap();
        let mut after = before.clone();
        after.chain_mut("ufw-user-input").clear();
        let l = lockout(&before, &after, &packets()).unwrap();
        assert!(l.certain && l.rule == "policy DROP of chain INPUT", "{l:?}");
        // `ufw limit 22/tcp`: the rate limit may reject a new connection.
        let limited = ACTIVE.replace(
            "-A ufw-user-input -p tcp -m tcp --dport 22 -j ACCEPT\n",
            "-A ufw-user-input -p tcp -m tcp --dport 22 -m conntrack --ctstate NEW -m recent --set --name DEFAULT --mask 255.255.255.255 --rsource\n\
             -A ufw-user-input -p tcp -m tcp --dport 22 -m conntrack --ctstate NEW -m recent --update --seconds 30 --hitcount 6 --name DEFAULT --mask 255.255.255.255 --rsource -j ufw-user-limit\n\
             -A ufw-user-input -p tcp -m tcp --dport 22 -j ufw-user-limit-accept\n",
        );
        let limited = Table::parse(&limited).unwrap();
        let l = lockout(&before, &limited, &packets()).unwrap();
        assert!(!l.certain && l.rule.contains("--hitcount 6"), "{l:?}");
        assert_eq!(limited.verdict(&packets()[1]), Verdict::Accept);
    }
}
