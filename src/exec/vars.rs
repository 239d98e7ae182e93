//! A host's variables, layered in Ansible's precedence order (lowest first):
//! role defaults, inventory, facts, play vars, set_fact/register, task vars,
//! extra vars. Templated values inside variables are resolved lazily as
//! Ansible does, by rendering them against the merged set.

use serde_json::{Map, Value as Json};

use crate::playbook::{Task, ROLE_DEFAULTS_KEY};
use crate::template::{context, is_template, TemplateError, Templates, OMIT};

/// The variable layers of one host in one play.
#[derive(Debug, Clone, Default)]
pub struct HostVars {
    /// Role defaults + inventory vars + facts + play vars, resolved.
    pub base: Map<String, Json>,
    /// Facts set by `set_fact` and results stored by `register`, this run.
    pub runtime: Map<String, Json>,
    /// Extra vars (highest precedence).
    pub extra: Map<String, Json>,
    /// What the enclosing dynamic includes give their tasks (their `vars`
    /// and loop variables), above task vars as Ansible's include params.
    pub params: Map<String, Json>,
}

fn has_template(v: &Json) -> bool {
    match v {
        Json::String(s) => is_template(s),
        Json::Array(a) => a.iter().any(has_template),
        Json::Object(m) => m.values().any(has_template),
        _ => false,
    }
}

/// Renders templated values of `vars` against `vars` itself, a few passes
/// deep (a variable may refer to another templated variable).
pub fn resolve(vars: &mut Map<String, Json>, templates: &Templates) -> Result<(), TemplateError> {
    for _ in 0..MAX_DEPTH {
        let pending: Vec<String> = vars.iter().filter(|(_, v)| has_template(v)).map(|(k, _)| k.clone()).collect();
        if pending.is_empty() {
            return Ok(());
        }
        let ctx = context(vars);
        let mut progressed = false;
        let mut last_err = None;
        for key in pending {
            match templates.render_value(&vars[&key], &ctx) {
                Ok(v) => {
                    progressed |= v != vars[&key];
                    vars.insert(key, v);
                }
                Err(e) => last_err = Some(e),
            }
        }
        if !progressed {
            if let Some(e) = last_err {
                return Err(e);
            }
            break;
        }
    }
    // Still templated after every pass, and naming a variable that is
    // itself still templated: the variables refer to each other in a loop.
    // Saying so beats printing a literal `{{ a }}` into a file.
    let pending: Vec<String> = vars.iter().filter(|(_, v)| has_template(v)).map(|(k, _)| k.clone()).collect();
    for key in &pending {
        let text = match &vars[key] {
            Json::String(s) => s.clone(),
            other => other.to_string(),
        };
        let uses = templates.variables(&text);
        if let Some(other) = pending.iter().find(|p| uses.contains(*p)) {
            return Err(TemplateError::Render {
                source_text: text,
                detail: format!(
                    "variables `{key}` and `{other}` refer to each other in a loop (or nest deeper than {MAX_DEPTH})"
                ),
            });
        }
    }
    Ok(())
}

/// How many times a variable may refer to another templated one.
const MAX_DEPTH: usize = 8;

impl HostVars {
    /// Builds the layers of a host for a play.
    pub fn new(
        inventory_vars: Map<String, Json>,
        facts: &Map<String, Json>,
        play_vars: &Map<String, Json>,
        runtime: Map<String, Json>,
        extra: Map<String, Json>,
    ) -> Self {
        let mut base = Map::new();
        if let Some(Json::Object(defaults)) = play_vars.get(ROLE_DEFAULTS_KEY) {
            base.extend(defaults.clone());
        }
        base.extend(inventory_vars);
        if !facts.is_empty() {
            for (k, v) in facts {
                base.insert(format!("ansible_{k}"), v.clone());
            }
            base.insert("ansible_facts".into(), Json::Object(facts.clone()));
        }
        base.extend(play_vars.iter().filter(|(k, _)| *k != ROLE_DEFAULTS_KEY).map(|(k, v)| (k.clone(), v.clone())));
        base.insert("omit".into(), Json::from(OMIT));
        HostVars { base, runtime, extra, params: Map::new() }
    }

    /// Adds the facts a task returned as variables for later tasks. Facts
    /// a module read from the host (`package_facts`), and `set_fact` with
    /// `cacheable`, also join `ansible_facts`, as Ansible's fact cache does.
    pub fn add_facts(&mut self, facts: Map<String, Json>, host_facts: bool) {
        if host_facts {
            let mut all = match self.runtime.get("ansible_facts").or_else(|| self.base.get("ansible_facts")) {
                Some(Json::Object(m)) => m.clone(),
                _ => Map::new(),
            };
            all.extend(facts.clone());
            self.runtime.insert("ansible_facts".into(), Json::Object(all));
        }
        self.runtime.extend(facts);
    }

    /// Resolves the templated values of the base layer once.
    pub fn resolve_base(&mut self, templates: &Templates) -> Result<(), TemplateError> {
        let mut all = self.merged_raw();
        resolve(&mut all, templates)?;
        for (k, v) in all {
            if self.base.contains_key(&k) && !self.runtime.contains_key(&k) && !self.extra.contains_key(&k) {
                self.base.insert(k, v);
            }
        }
        Ok(())
    }

    /// The variables outside any task: every layer but task vars.
    pub fn merged_raw(&self) -> Map<String, Json> {
        let mut all = self.base.clone();
        all.extend(self.runtime.clone());
        all.extend(self.params.clone());
        all.extend(self.extra.clone());
        all
    }

    /// The variables a task sees (task vars rendered and layered in).
    pub fn for_task(&self, task: &Task, templates: &Templates) -> Result<Map<String, Json>, TemplateError> {
        let mut all = self.base.clone();
        all.extend(self.runtime.clone());
        if !task.vars.is_empty() {
            let ctx = context(&{
                let mut c = all.clone();
                c.extend(self.extra.clone());
                c
            });
            for (k, v) in &task.vars {
                all.insert(k.clone(), templates.render_value(v, &ctx)?);
            }
        }
        all.extend(self.params.clone());
        all.extend(self.extra.clone());
        Ok(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_facts_join_ansible_facts_and_set_fact_does_not() {
        let obj = |v: Json| v.as_object().unwrap().clone();
        let gathered = obj(serde_json::json!({"os_family": "Debian"}));
        let mut vars = HostVars::new(Map::new(), &gathered, &Map::new(), Map::new(), Map::new());
        vars.add_facts(obj(serde_json::json!({"packages": {"bc": []}})), true);
        vars.add_facts(obj(serde_json::json!({"mine": 1})), false);
        let all = vars.merged_raw();
        assert_eq!(all["ansible_facts"], serde_json::json!({"os_family": "Debian", "packages": {"bc": []}}));
        assert_eq!(all["packages"], serde_json::json!({"bc": []}));
        assert_eq!(all["mine"], 1);
    }

    /// Issue 12: variables that refer to each other printed a literal `{{ a }}`.
    #[test]
    fn variables_in_a_loop_are_an_error_naming_them() {
        let mut vars = serde_json::json!({"a": "{{ b }}", "b": "{{ a }}", "c": "ok"}).as_object().unwrap().clone();
        let err = resolve(&mut vars, &Templates::new()).unwrap_err().to_string();
        assert!(err.contains("refer to each other"), "{err}");
    }

    #[test]
    fn chains_of_variables_resolve() {
        let mut vars = serde_json::json!({"a": "{{ b }}-x", "b": "{{ c }}", "c": "v"}).as_object().unwrap().clone();
        resolve(&mut vars, &Templates::new()).unwrap();
        assert_eq!(vars["a"], "v-x");
    }
}
