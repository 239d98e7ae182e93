//! `getent`: read a name-service database into the facts
//! `getent_<database>`, as `ansible.builtin.getent` does. Never changes
//! anything.
//!
//! The probe is the `getent` command itself; [`facts`] turns its output
//! into Ansible's shape: each line split (on `:` for passwd, shadow, group
//! and gshadow, on whitespace otherwise, or on `split`), the first field the
//! key, the rest its list; a key seen twice holds a list of those lists.
//! Exit statuses 1-3 carry Ansible's messages; with `fail_key: false` a
//! missing key is set to null instead of failing.
//!
//! This module never builds a shell string by hand: every value goes
//! through [`crate::transport::quote::quote`].

use serde_json::{Map, Value};

use super::{Action, ArgKind, ArgSpec, Args, Module, ModuleError, ModuleSpec, Plan, TaskContext};
use crate::transport::quote::quote;
use crate::transport::ExecOutput;

/// The `getent` module.
pub struct Getent;

/// Databases whose fields are separated by colons.
const COLON: &[&str] = &["passwd", "shadow", "group", "gshadow"];

static SPEC: ModuleSpec = ModuleSpec::new(&[
    ArgSpec::new("database", ArgKind::Str).required(),
    ArgSpec::new("key", ArgKind::Str),
    ArgSpec::new("split", ArgKind::Str),
    ArgSpec::new("fail_key", ArgKind::Bool),
    ArgSpec::new("service", ArgKind::Str),
]);

impl Module for Getent {
    fn name(&self) -> &'static str {
        "getent"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn defines(&self, args: &Map<String, Value>) -> Vec<String> {
        match args.get("database") {
            Some(Value::String(db)) if !crate::modules::spec::is_templated(db) => vec![format!("getent_{db}")],
            _ => Vec::new(),
        }
    }

    fn prepare(&self, args: &Args, _ctx: &dyn TaskContext) -> Result<Box<dyn Action>, ModuleError> {
        let database = args.str("database")?;
        let split = args.opt_str("split")?;
        if split.as_deref() == Some("") {
            return Err(ModuleError::Arg { arg: "split".into(), message: "empty separator".into() });
        }
        Ok(Box::new(GetentAction {
            database,
            key: args.opt_str("key")?,
            split,
            fail_key: args.bool_or("fail_key", true)?,
            service: args.opt_str("service")?,
        }))
    }
}

/// One `getent` task on one host.
#[derive(Debug)]
pub struct GetentAction {
    database: String,
    key: Option<String>,
    split: Option<String>,
    fail_key: bool,
    service: Option<String>,
}

/// Ansible's parse of `getent` output into `{key: [fields...]}`.
pub fn facts(out: &str, split: Option<&str>) -> Map<String, Value> {
    let mut db = Map::new();
    let mut seen: std::collections::HashMap<String, usize> = Default::default();
    for line in out.lines() {
        let record: Vec<&str> = match split {
            Some(sep) => line.split(sep).collect(),
            None => line.split_whitespace().collect(),
        };
        let Some((first, rest)) = record.split_first() else { continue };
        let rest = Value::from(rest.iter().map(|f| Value::from(*f)).collect::<Vec<_>>());
        let key = (*first).to_owned();
        match seen.get_mut(&key) {
            None => {
                db.insert(key.clone(), rest);
                seen.insert(key, 1);
            }
            Some(n) => {
                let slot = db.entry(key).or_insert(Value::Null);
                if *n == 1 {
                    *slot = Value::Array(vec![slot.take()]);
                }
                if let Value::Array(items) = slot {
                    items.push(rest);
                }
                *n += 1;
            }
        }
    }
    db
}

impl Action for GetentAction {
    fn paths(&self) -> Option<Vec<String>> {
        Some(vec![format!("/etc/{}", self.database)])
    }

    fn probe(&self) -> Option<String> {
        let mut cmd = String::from("getent");
        if let Some(s) = &self.service {
            cmd.push_str(&format!(" -s {}", quote(s)));
        }
        cmd.push_str(&format!(" -- {}", quote(&self.database)));
        if let Some(k) = &self.key {
            cmd.push_str(&format!(" {}", quote(k)));
        }
        Some(format!("if command -v getent >/dev/null 2>&1; then {cmd}; else exit 127; fi\n"))
    }

    fn compare(&mut self, probe: Option<&ExecOutput>) -> Result<Plan, ModuleError> {
        let out = probe.ok_or_else(|| ModuleError::Probe("the getent probe did not run".into()))?;
        let tree = format!("getent_{}", self.database);
        let split = self.split.clone().or_else(|| COLON.contains(&self.database.as_str()).then(|| ":".to_owned()));
        let mut plan = Plan::ok();
        let set = |plan: &mut Plan, db: Map<String, Value>| {
            let facts = Map::from_iter([(tree.clone(), Value::Object(db))]);
            plan.result.insert("ansible_facts".into(), Value::Object(facts));
            plan.result.insert("changed".into(), false.into());
        };
        let msg = match out.status {
            0 => {
                set(&mut plan, facts(&out.stdout_text(), split.as_deref()));
                return Ok(plan);
            }
            1 => "Missing arguments, or database unknown.",
            2 => {
                let msg = "One or more supplied key could not be found in the database.";
                if !self.fail_key {
                    let key = self.key.clone().unwrap_or_default();
                    set(&mut plan, Map::from_iter([(key, Value::Null)]));
                    plan.result.insert("msg".into(), msg.into());
                    return Ok(plan);
                }
                msg
            }
            3 => "Enumeration not supported on this database.",
            127 => "Failed to find required executable \"getent\" in paths",
            _ => "Unexpected failure!",
        };
        Err(ModuleError::failed(msg))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::file_write::testing::run;
    use serde_json::json;

    fn action(v: Value) -> Box<dyn Action> {
        let ctx = crate::modules::file_write::testing::FakeCtx::default();
        Getent.prepare(&Args::new(&SPEC, v.as_object().unwrap().clone()), &ctx).unwrap()
    }

    #[test]
    fn output_parses_into_ansibles_shape() {
        let db = facts("root:x:0:0:root:/root:/bin/bash\n", Some(":"));
        assert_eq!(Value::Object(db), json!({"root": ["x", "0", "0", "root", "/root", "/bin/bash"]}));
        let db = facts("127.0.0.1  localhost\n::1 localhost ip6-localhost\n127.0.0.1 other\n", None);
        assert_eq!(
            Value::Object(db),
            json!({"127.0.0.1": [["localhost"], ["other"]], "::1": ["localhost", "ip6-localhost"]})
        );
        assert_eq!(facts("a::b\n", Some(":"))["a"], json!(["", "b"]));
    }

    #[test]
    fn defines_the_fact_of_a_literal_database() {
        let args = json!({"database": "passwd"}).as_object().unwrap().clone();
        assert_eq!(Getent.defines(&args), ["getent_passwd"]);
        let args = json!({"database": "{{ db }}"}).as_object().unwrap().clone();
        assert!(Getent.defines(&args).is_empty());
    }

    #[test]
    fn real_getent_on_this_machine() {
        let mut a = action(json!({"database": "passwd", "key": "root"}));
        let plan = a.compare(Some(&run(&a.probe().unwrap(), b""))).unwrap();
        assert_eq!(plan.result["ansible_facts"]["getent_passwd"]["root"][1], "0");
        let mut a = action(json!({"database": "group", "key": "no such 'group' $(touch pwned)"}));
        let e = a.compare(Some(&run(&a.probe().unwrap(), b""))).unwrap_err().to_string();
        assert_eq!(e, "One or more supplied key could not be found in the database.");
        let mut a = action(json!({"database": "group", "key": "nope", "fail_key": false}));
        let plan = a.compare(Some(&run(&a.probe().unwrap(), b""))).unwrap();
        assert_eq!(plan.result["ansible_facts"], json!({"getent_group": {"nope": null}}));
        let mut a = action(json!({"database": "no-such-db"}));
        let e = a.compare(Some(&run(&a.probe().unwrap(), b""))).unwrap_err().to_string();
        assert_eq!(e, "Missing arguments, or database unknown.");
        assert!(!std::path::Path::new("pwned").exists());
    }
}
