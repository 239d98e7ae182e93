//! `nftables`: one named nft table (family, name) converged to a declared
//! set of sets, chains and rules. stead's own module (Ansible has none).
//!
//! The probe lists the table as it is (`nft -s list table`) and lets nft
//! normalise the declared one: it loads it into a scratch network namespace
//! (`unshare -n`, gone when the probe ends) and lists it back, as text for
//! the comparison and the diff and as JSON for the lock-out check. So raw
//! rule text and structured rules compare exactly as nft prints them, and a
//! syntax error shows up in `plan` without touching the host's ruleset.
//!
//! The apply is one `nft -f -` transaction on stdin that deletes and
//! refills this table only: other tables (Docker's, fail2ban's, a hand-kept
//! `inet filter` of another name) are never read or touched. Before a
//! change the declared ruleset is checked against stead's own SSH
//! connection ([`super::nft_lockout`]); a change that would cut it off
//! fails unless `stead_allow_lockout` is true.
//!
//! Counters are not compared (`-s`), so traffic never shows as drift.

use serde_json::Value;

use super::nft_rules::{self, Family, Table};
use super::peer::{self, SshPeer, ALLOW_LOCKOUT_VAR};
use super::NETFILTER_PATH;
use crate::modules::{
    finish_with_stderr, Action, ApplyScript, ArgKind, ArgSpec, Args, Diff, Module, ModuleError, ModuleSpec, Plan,
    ResultMap, TaskContext,
};
use crate::transport::quote::quote;
use crate::transport::ExecOutput;

/// The `nftables` module.
pub struct Nftables;

static RULE_SPEC: ModuleSpec = ModuleSpec::new(&[
    ArgSpec::new("protocol", ArgKind::List),
    ArgSpec::new("dport", ArgKind::List),
    ArgSpec::new("sport", ArgKind::List),
    ArgSpec::new("saddr", ArgKind::List),
    ArgSpec::new("daddr", ArgKind::List),
    ArgSpec::new("iifname", ArgKind::List),
    ArgSpec::new("oifname", ArgKind::List),
    ArgSpec::new("ct_state", ArgKind::List),
    ArgSpec::new("icmp_type", ArgKind::List),
    ArgSpec::new("limit", ArgKind::Str),
    ArgSpec::new("limit_burst", ArgKind::Int),
    ArgSpec::new("log", ArgKind::Bool),
    ArgSpec::new("log_prefix", ArgKind::Str),
    ArgSpec::new("log_level", ArgKind::Str),
    ArgSpec::new("counter", ArgKind::Bool),
    ArgSpec::new("comment", ArgKind::Str),
    ArgSpec::new("action", ArgKind::Str),
    ArgSpec::new("reject_with", ArgKind::Str),
    ArgSpec::new("raw", ArgKind::Str),
]);

static CHAIN_SPEC: ModuleSpec = ModuleSpec::new(&[
    ArgSpec::new("name", ArgKind::Str).required(),
    ArgSpec::new("type", ArgKind::Str).choices(&["filter", "nat", "route"]),
    ArgSpec::new("hook", ArgKind::Str).choices(&["prerouting", "input", "forward", "output", "postrouting"]),
    ArgSpec::new("priority", ArgKind::Str),
    ArgSpec::new("policy", ArgKind::Str).choices(&["accept", "drop"]),
    ArgSpec::new("rules", ArgKind::List).suboptions(&RULE_SPEC),
]);

static SET_SPEC: ModuleSpec = ModuleSpec::new(&[
    ArgSpec::new("name", ArgKind::Str).required(),
    ArgSpec::new("type", ArgKind::Str).required(),
    ArgSpec::new("flags", ArgKind::List),
    ArgSpec::new("elements", ArgKind::List),
]);

static SPEC: ModuleSpec = ModuleSpec::new(&[
    ArgSpec::new("table", ArgKind::Str).required().aliases(&["name"]),
    ArgSpec::new("family", ArgKind::Str).choices(Family::NAMES),
    ArgSpec::new("state", ArgKind::Str).choices(&["present", "absent"]),
    ArgSpec::new("sets", ArgKind::List).suboptions(&SET_SPEC),
    ArgSpec::new("chains", ArgKind::List).suboptions(&CHAIN_SPEC),
]);

impl Module for Nftables {
    fn name(&self) -> &'static str {
        "nftables"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: &Args, ctx: &dyn TaskContext) -> Result<Box<dyn Action>, ModuleError> {
        let family = args.choice_or("family", Family::NAMES, "inet")?;
        let family = Family::parse(&family).unwrap_or(Family::Inet);
        let name = nft_rules::identifier("table", &args.str("table")?)?;
        let present = args.choice_or("state", &["present", "absent"], "present")? == "present";
        let sets = nft_rules::parse_sets(args.get("sets"))?;
        let chains = nft_rules::parse_chains(args.get("chains"), family, &sets)?;
        let table = Table { family, name, sets, chains };
        if !present && (!table.sets.is_empty() || !table.chains.is_empty()) {
            return Err(ModuleError::failed("`state: absent` removes the whole table: drop `sets` and `chains`"));
        }
        let allow = ctx.eval(&format!("{ALLOW_LOCKOUT_VAR} | default(false)"))?;
        Ok(Box::new(NftablesAction { table, present, allow_lockout: crate::template::truthy(&allow) }))
    }
}

/// One `nftables` task on one host.
#[derive(Debug)]
pub struct NftablesAction {
    table: Table,
    present: bool,
    allow_lockout: bool,
}

/// The probe's reading.
#[derive(Debug, PartialEq)]
struct Reading {
    peer: Option<SshPeer>,
    /// The table as it is (`None`: absent).
    current: Option<String>,
    /// The declared table as nft prints it, and its JSON.
    desired: Option<(String, Value)>,
}

const NO_NFT: &str = "stead-nft-missing";
const CURRENT: &str = "stead-nft-current";
const DESIRED: &str = "stead-nft-desired";
const JSON: &str = "stead-nft-json";

impl NftablesAction {
    fn spec(&self) -> String {
        format!("{} {}", self.table.family.name(), self.table.name)
    }

    fn parse(&self, out: &ExecOutput) -> Result<Reading, ModuleError> {
        let text = out.stdout_text();
        let bad = |what: &str| ModuleError::Probe(format!("nftables: {what}"));
        let (peer_line, rest) = text.split_once('\n').ok_or_else(|| bad("no SSH line"))?;
        let peer = peer::parse(peer_line).map_err(|e| bad(&e))?;
        if rest.starts_with(NO_NFT) {
            if self.present {
                return Err(ModuleError::failed(
                    "`nft` is not installed on the host: install the nftables package first",
                ));
            }
            return Ok(Reading { peer, current: None, desired: None });
        }
        let (current_rc, current, after) = section(rest, CURRENT, DESIRED).ok_or_else(|| bad("no current table"))?;
        let current = match current_rc {
            0 => Some(current),
            _ if current.contains("No such file or directory") => None,
            _ => return Err(ModuleError::failed(format!("nft list table {} failed: {}", self.spec(), current.trim()))),
        };
        if !self.present {
            return Ok(Reading { peer, current, desired: None });
        }
        let (rc, body, _) = section(after, DESIRED, "\u{0}").ok_or_else(|| bad("no declared table"))?;
        if rc != 0 {
            return Err(ModuleError::failed(format!(
                "nft refused the declared table {}: {}",
                self.spec(),
                body.trim()
            )));
        }
        let (listing, json) = body.split_once(&format!("\n{JSON}\n")).ok_or_else(|| bad("no JSON listing"))?;
        let json: Value = serde_json::from_str(json.trim()).map_err(|e| bad(&format!("bad JSON listing: {e}")))?;
        Ok(Reading { peer, current, desired: Some((normalise(listing), json)) })
    }
}

/// The body of section `start` (`start RC` line, then text up to the line
/// that starts with `next`), its rc, and what follows.
fn section<'a>(text: &'a str, start: &str, next: &str) -> Option<(i32, String, &'a str)> {
    let rest = text.strip_prefix(start)?.strip_prefix(' ')?;
    let (rc, rest) = rest.split_once('\n')?;
    let rc = rc.trim().parse().ok()?;
    let (body, after) = match rest.find(&format!("\n{next}")) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, ""),
    };
    Some((rc, normalise(body), after))
}

/// Listing text with one trailing newline.
fn normalise(text: &str) -> String {
    let trimmed = text.trim_end();
    if trimmed.is_empty() {
        String::new()
    } else {
        format!("{trimmed}\n")
    }
}

impl Action for NftablesAction {
    fn paths(&self) -> Option<Vec<String>> {
        Some(vec![NETFILTER_PATH.into()])
    }

    fn probe(&self) -> Option<String> {
        let spec = self.spec();
        let mut script = format!("LC_ALL=C\nexport LC_ALL\n{}", peer::probe_snippet());
        script.push_str(&format!(
            "command -v nft >/dev/null 2>&1 || {{ echo {NO_NFT}; exit 0; }}\n\
             cur=$(nft -s list table {spec} 2>&1) && rc=0 || rc=$?\n\
             printf '{CURRENT} %s\\n%s\\n' \"$rc\" \"$cur\"\n"
        ));
        if self.present {
            let list =
                format!("nft -f - && nft -s list table {spec} && printf '\\n{JSON}\\n' && nft -j -s list table {spec}");
            script.push_str(&format!(
                "desired={}\n\
                 if command -v unshare >/dev/null 2>&1; then\n\
                 \x20 new=$(printf '%s' \"$desired\" | unshare -n sh -c {} 2>&1) && rc=0 || rc=$?\n\
                 else new='unshare (util-linux) is missing: stead needs it to normalise the declared table'; rc=127; fi\n\
                 printf '{DESIRED} %s\\n%s\\n' \"$rc\" \"$new\"\n",
                quote(&self.table.render()),
                quote(&list)
            ));
        }
        Some(script)
    }

    fn compare(&mut self, probe: Option<&ExecOutput>) -> Result<Plan, ModuleError> {
        let out = probe.ok_or_else(|| ModuleError::Probe("nftables needs its probe".into()))?;
        let reading = self.parse(out)?;
        let mut result = ResultMap::new();
        result.insert("table".into(), self.table.name.clone().into());
        result.insert("family".into(), self.table.family.name().into());
        let spec = self.spec();
        let label = format!("nftables table {spec}");
        let plan = match (&reading.current, &reading.desired) {
            (None, None) => Plan::ok(),
            (Some(current), None) => Plan::change(ApplyScript {
                script: format!("LC_ALL=C\nexport LC_ALL\nnft delete table {spec}\n"),
                stdin: Vec::new(),
            })
            .with_diff(Some(Diff::file(&label, current, ""))),
            (current, Some((desired, json))) => {
                if current.as_deref() == Some(desired.as_str()) {
                    Plan::ok()
                } else {
                    if let (Some(peer), false) = (&reading.peer, self.allow_lockout) {
                        if let Some(lockout) = super::nft_lockout::check(json, &peer.packets()) {
                            return Err(ModuleError::Failed { msg: lockout.message(peer), result });
                        }
                    }
                    let stdin = format!("add table {spec}\ndelete table {spec}\n{}", self.table.render());
                    Plan::change(ApplyScript {
                        script: "LC_ALL=C\nexport LC_ALL\nnft -f -\n".into(),
                        stdin: stdin.into_bytes(),
                    })
                    .with_diff(Some(Diff::file(
                        &label,
                        current.as_deref().unwrap_or(""),
                        desired,
                    )))
                }
            }
        };
        Ok(Plan { result, ..plan })
    }

    fn finish(&mut self, plan: Plan, out: &ExecOutput) -> Result<Plan, ModuleError> {
        finish_with_stderr(plan, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(present: bool) -> NftablesAction {
        let chains = serde_json::json!([{"name": "input", "hook": "input", "policy": "drop", "rules": [
            {"protocol": "tcp", "dport": 22, "action": "accept"}]}]);
        let chains =
            if present { nft_rules::parse_chains(Some(&chains), Family::Inet, &[]).unwrap() } else { Vec::new() };
        NftablesAction {
            table: Table { family: Family::Inet, name: "filter".into(), sets: Vec::new(), chains },
            present,
            allow_lockout: false,
        }
    }

    const LISTING: &str = "table inet filter {\n\tchain input {\n\t\ttype filter hook input priority filter; policy drop;\n\t\ttcp dport 22 accept\n\t}\n}";

    fn json(dport: u16) -> String {
        format!(
            r#"{{"nftables": [{{"table": {{"family": "inet", "name": "filter"}}}}, {{"chain": {{"family": "inet", "table": "filter", "name": "input", "hook": "input", "policy": "drop"}}}}, {{"rule": {{"chain": "input", "expr": [{{"match": {{"op": "==", "left": {{"payload": {{"protocol": "tcp", "field": "dport"}}}}, "right": {dport}}}}}, {{"accept": null}}]}}}}]}}"#
        )
    }

    fn out(text: String) -> ExecOutput {
        ExecOutput { status: 0, stdout: text.into_bytes(), stderr: Vec::new() }
    }

    const PEER: &str = "stead-ssh-peer 10.231.9.1 50000 10.231.9.10 22 eth0";

    #[test]
    fn an_absent_table_is_created_and_an_equal_one_left_alone() {
        let mut a = action(true);
        let probe = format!(
            "{PEER}\n{CURRENT} 1\nError: No such file or directory\nlist table inet filter\n{DESIRED} 0\n{LISTING}\n\n{JSON}\n{}\n",
            json(22)
        );
        let plan = a.compare(Some(&out(probe))).unwrap();
        assert!(plan.changed);
        let stdin = String::from_utf8(plan.apply.unwrap().stdin).unwrap();
        assert!(stdin.starts_with("add table inet filter\ndelete table inet filter\ntable inet filter {"), "{stdin}");
        assert!(plan.diff.unwrap().unified().contains("+\t\ttcp dport 22 accept"));

        let probe = format!("{PEER}\n{CURRENT} 0\n{LISTING}\n{DESIRED} 0\n{LISTING}\n\n{JSON}\n{}\n", json(22));
        let plan = a.compare(Some(&out(probe))).unwrap();
        assert!(!plan.changed && plan.apply.is_none());
    }

    #[test]
    fn a_change_that_cuts_off_ssh_is_refused_unless_allowed() {
        let mut a = action(true);
        let probe = format!(
            "{PEER}\n{CURRENT} 1\nNo such file or directory\n{DESIRED} 0\n{LISTING}\n\n{JSON}\n{}\n",
            json(2222)
        );
        let err = a.compare(Some(&out(probe.clone()))).unwrap_err().to_string();
        assert!(err.contains("policy drop of chain input") && err.contains(ALLOW_LOCKOUT_VAR), "{err}");
        a.allow_lockout = true;
        assert!(a.compare(Some(&out(probe.clone()))).unwrap().changed);
        let mut local = action(true);
        let probe = probe.replacen(PEER, "stead-ssh-peer none", 1);
        assert!(local.compare(Some(&out(probe))).unwrap().changed);
    }

    #[test]
    fn nft_errors_and_missing_tools_are_reported() {
        let mut a = action(true);
        let probe = format!("{PEER}\n{CURRENT} 1\nNo such file or directory\n{DESIRED} 1\nError: syntax error\n");
        assert!(a
            .compare(Some(&out(probe)))
            .unwrap_err()
            .to_string()
            .contains("nft refused the declared table inet filter: Error: syntax error"));
        let probe = format!("{PEER}\n{CURRENT} 1\nError: Operation not permitted\n{DESIRED} 0\n");
        assert!(a.compare(Some(&out(probe))).unwrap_err().to_string().contains("Operation not permitted"));
        let probe = format!("{PEER}\n{NO_NFT}\n");
        assert!(a.compare(Some(&out(probe.clone()))).unwrap_err().to_string().contains("install the nftables package"));
        assert!(!action(false).compare(Some(&out(probe))).unwrap().changed);
    }

    #[test]
    fn absent_deletes_the_table_only_when_it_exists() {
        let mut a = action(false);
        let plan = a.compare(Some(&out(format!("{PEER}\n{CURRENT} 0\n{LISTING}\n")))).unwrap();
        assert_eq!(plan.apply.unwrap().script, "LC_ALL=C\nexport LC_ALL\nnft delete table inet filter\n");
        let plan = a.compare(Some(&out(format!("{PEER}\n{CURRENT} 1\nNo such file or directory\n")))).unwrap();
        assert!(!plan.changed);
    }

    #[test]
    fn the_rule_spec_lists_every_rule_key() {
        let names: Vec<&str> = RULE_SPEC.args.iter().map(|a| a.name).collect();
        assert_eq!(names, nft_rules::RULE_KEYS);
    }
}
