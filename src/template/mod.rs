//! The Jinja2 environment: minijinja configured as Ansible's templating.
//!
//! * Undefined variables are errors (strict), naming the variable.
//! * No auto-escaping, whatever the file extension; trailing newlines kept;
//!   `trim_blocks` on, as Ansible's `template` module.
//! * Every template string of a playbook is compiled once, at load time
//!   ([`Templates::compile`]), and evaluated per host from the cache.
//! * A string that is exactly one `{{ expression }}` evaluates to the
//!   expression's native value (a list stays a list), as in Ansible.
//!
//! The environment and the compiled sources live for the whole process
//! (leaked once, bounded by the size of the playbooks): this lets compiled
//! expressions be cached without self-referential types.

mod filters;

use std::collections::{HashMap, HashSet};
use std::sync::RwLock;

use minijinja::{Environment, Expression, Template, UndefinedBehavior, Value};
use serde_json::Value as Json;

/// Ansible's `omit` placeholder: an argument rendered to this is dropped.
pub const OMIT: &str = "__omit_place_holder__stead__";

/// A template failed to compile or render.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TemplateError {
    /// Jinja syntax error.
    #[error("template syntax error in `{source_text}`: {detail}")]
    Syntax {
        /// The template text.
        source_text: String,
        /// What minijinja said.
        detail: String,
    },
    /// A variable is not defined for this host.
    #[error("undefined variable `{name}` in `{source_text}`")]
    Undefined {
        /// The missing variable (best guess when minijinja cannot tell).
        name: String,
        /// The template text.
        source_text: String,
    },
    /// Any other rendering error (filter failure, type error).
    #[error("cannot render `{source_text}`: {detail}")]
    Render {
        /// The template text.
        source_text: String,
        /// What minijinja said.
        detail: String,
    },
}

enum Compiled {
    Expr(Expression<'static, 'static>),
    Text(Template<'static, 'static>),
}

/// The shared environment and the cache of compiled templates.
pub struct Templates {
    env: &'static Environment<'static>,
    cache: RwLock<HashMap<String, &'static Compiled>>,
}

impl Default for Templates {
    fn default() -> Self {
        Self::new()
    }
}

/// Whether a string contains Jinja syntax.
pub fn is_template(s: &str) -> bool {
    s.contains("{{") || s.contains("{%") || s.contains("{#")
}

/// If the whole string is one `{{ expr }}`, the expression.
fn single_expression(s: &str) -> Option<&str> {
    let inner = s.strip_prefix("{{")?.strip_suffix("}}")?;
    if inner.contains("{{") || inner.contains("}}") || inner.contains("{%") {
        return None;
    }
    Some(inner.trim())
}

impl Templates {
    /// A new environment with Ansible's filters and tests.
    pub fn new() -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        let syntax = minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .keep_trailing_newline(true)
            .build()
            .expect("default delimiters are valid");
        env.set_syntax(syntax);
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        minijinja_contrib::add_to_environment(&mut env);
        filters::register(&mut env);
        Templates { env: Box::leak(Box::new(env)), cache: RwLock::new(HashMap::new()) }
    }

    /// The compiled form of `source` under `key`, compiling (and leaking, see
    /// the module docs) it on first use.
    fn cached(
        &self,
        key: &str,
        source: &str,
        compile: impl FnOnce(&'static str) -> Result<Compiled, minijinja::Error>,
    ) -> Result<&'static Compiled, minijinja::Error> {
        let cached = self.cache.read().expect("cache lock").get(key).copied();
        if let Some(c) = cached {
            return Ok(c);
        }
        let leaked: &'static str = Box::leak(source.to_owned().into_boxed_str());
        let compiled: &'static Compiled = Box::leak(Box::new(compile(leaked)?));
        self.cache.write().expect("cache lock").insert(key.to_owned(), compiled);
        Ok(compiled)
    }

    fn compiled(&self, src: &str) -> Result<&'static Compiled, TemplateError> {
        self.cached(src, src, |leaked| {
            Ok(match single_expression(leaked) {
                Some(expr) => Compiled::Expr(self.env.compile_expression(expr)?),
                None => Compiled::Text(self.env.template_from_str(leaked)?),
            })
        })
        .map_err(|e| TemplateError::Syntax { source_text: src.to_owned(), detail: detail(&e) })
    }

    /// Compiles a template string (or checks a bare expression with
    /// [`Templates::compile_expression`]); errors are syntax errors.
    pub fn compile(&self, src: &str) -> Result<(), TemplateError> {
        if is_template(src) {
            self.compiled(src)?;
        }
        Ok(())
    }

    /// Compiles a bare expression (`when:`, `that:`, `var:`).
    pub fn compile_expression(&self, expr: &str) -> Result<(), TemplateError> {
        self.compiled(&wrap_expression(expr)).map(|_| ())
    }

    /// Top-level variable names a template string refers to.
    pub fn variables(&self, src: &str) -> HashSet<String> {
        match self.compiled(src) {
            Ok(Compiled::Expr(e)) => e.undeclared_variables(false),
            Ok(Compiled::Text(t)) => t.undeclared_variables(false),
            Err(_) => HashSet::new(),
        }
    }

    /// Top-level variable names a bare expression refers to.
    pub fn expression_variables(&self, expr: &str) -> HashSet<String> {
        self.variables(&wrap_expression(expr))
    }

    /// Renders a string: native value for a single `{{ expr }}`, text otherwise.
    pub fn render_str(&self, src: &str, ctx: &Value) -> Result<Json, TemplateError> {
        if !is_template(src) {
            return Ok(Json::String(src.to_owned()));
        }
        let result = match self.compiled(src)? {
            Compiled::Expr(e) => e.eval(ctx.clone()).and_then(|v| to_json(&v)),
            Compiled::Text(t) => t.render(ctx.clone()).map(Json::String),
        };
        result.map_err(|e| self.render_error(src, &e, ctx))
    }

    /// Renders every string inside a JSON value (arguments, vars).
    pub fn render_value(&self, value: &Json, ctx: &Value) -> Result<Json, TemplateError> {
        Ok(match value {
            Json::String(s) => self.render_str(s, ctx)?,
            Json::Array(items) => {
                Json::Array(items.iter().map(|i| self.render_value(i, ctx)).collect::<Result<_, _>>()?)
            }
            Json::Object(map) => {
                let mut out = serde_json::Map::new();
                for (k, v) in map {
                    let v = self.render_value(v, ctx)?;
                    if v != Json::String(OMIT.to_owned()) {
                        out.insert(k.clone(), v);
                    }
                }
                Json::Object(out)
            }
            other => other.clone(),
        })
    }

    /// Evaluates a bare expression (`when:`, `that:`) to a value.
    pub fn eval(&self, expr: &str, ctx: &Value) -> Result<Json, TemplateError> {
        self.render_str(&wrap_expression(expr), ctx)
    }

    /// Evaluates a condition to a boolean (Jinja truthiness; the strings
    /// "false"/"no" are false, as Ansible's conditionals treat them).
    pub fn condition(&self, expr: &str, ctx: &Value) -> Result<bool, TemplateError> {
        let v = self.eval(expr, ctx)?;
        Ok(match &v {
            Json::String(s) => !matches!(s.trim().to_ascii_lowercase().as_str(), "" | "false" | "no" | "off" | "0"),
            other => truthy(other),
        })
    }

    /// Compiles a template file without rendering it; on a syntax error,
    /// returns the line and message.
    pub fn compile_file(&self, name: &str, source: &str) -> Result<(), (usize, String)> {
        self.compiled_file(name, source).map(|_| ()).map_err(|e| (e.line().unwrap_or(1), detail(&e)))
    }

    fn compiled_file(&self, name: &str, source: &str) -> Result<&'static Compiled, minijinja::Error> {
        self.cached(&format!("{{# file:{name} #}}{source}"), source, |leaked| {
            let name: &'static str = Box::leak(name.to_owned().into_boxed_str());
            Ok(Compiled::Text(self.env.template_from_named_str(name, leaked)?))
        })
    }

    /// Renders a template file (the `template` module), compiled once per text.
    pub fn render_file(&self, name: &str, source: &str, ctx: &Value) -> Result<String, TemplateError> {
        let compiled = self
            .compiled_file(name, source)
            .map_err(|e| TemplateError::Syntax { source_text: name.to_owned(), detail: detail(&e) })?;
        match compiled {
            Compiled::Text(t) => t.render(ctx.clone()).map_err(|e| self.render_error(name, &e, ctx)),
            Compiled::Expr(_) => unreachable!("files are compiled as templates"),
        }
    }

    fn render_error(&self, src: &str, err: &minijinja::Error, ctx: &Value) -> TemplateError {
        if err.kind() == minijinja::ErrorKind::UndefinedError {
            let missing = self
                .variables(src)
                .into_iter()
                .filter(|name| ctx.get_attr(name).map_or(true, |v| v.is_undefined()))
                .min();
            if let Some(name) = missing {
                return TemplateError::Undefined { name, source_text: src.to_owned() };
            }
            return TemplateError::Undefined { name: undefined_detail(err), source_text: src.to_owned() };
        }
        TemplateError::Render { source_text: src.to_owned(), detail: detail(err) }
    }
}

fn undefined_detail(err: &minijinja::Error) -> String {
    err.detail().map_or_else(|| "an attribute".to_owned(), str::to_owned)
}

fn detail(err: &minijinja::Error) -> String {
    match err.detail() {
        Some(d) => format!("{d} ({})", err.kind()),
        None => err.kind().to_string(),
    }
}

/// `when: x` is a bare expression; Ansible also tolerates `when: "{{ x }}"`.
fn wrap_expression(expr: &str) -> String {
    let e = expr.trim();
    if single_expression(e).is_some() {
        e.to_owned()
    } else {
        format!("{{{{ {e} }}}}")
    }
}

/// Converts a minijinja value to JSON (undefined is an error).
fn to_json(v: &Value) -> Result<Json, minijinja::Error> {
    if v.is_undefined() {
        return Err(minijinja::Error::new(minijinja::ErrorKind::UndefinedError, "value is undefined"));
    }
    serde_json::to_value(v).map_err(|e| minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e.to_string()))
}

/// Builds a template context from variables.
pub fn context(vars: &serde_json::Map<String, Json>) -> Value {
    Value::from(minijinja::value::Serde(vars))
}

/// Jinja/Python truthiness of a value (`when:` conditions).
pub fn truthy(value: &Json) -> bool {
    match value {
        Json::Null => false,
        Json::Bool(b) => *b,
        Json::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Json::String(s) => !s.is_empty(),
        Json::Array(a) => !a.is_empty(),
        Json::Object(o) => !o.is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx(v: Json) -> Value {
        context(v.as_object().unwrap())
    }

    #[test]
    fn single_expression_keeps_native_type() {
        let t = Templates::new();
        let c = ctx(json!({"xs": [1, 2]}));
        assert_eq!(t.render_str("{{ xs }}", &c).unwrap(), json!([1, 2]));
        assert_eq!(t.render_str("n={{ xs | length }}", &c).unwrap(), json!("n=2"));
    }

    #[test]
    fn text_around_one_expression_stays_text() {
        let t = Templates::new();
        let c = ctx(json!({"x": "a"}));
        assert_eq!(t.render_str("{{ x }}\n", &c).unwrap(), json!("a\n"));
    }

    #[test]
    fn undefined_variable_is_named() {
        let t = Templates::new();
        let err = t.render_str("hello {{ who }}", &ctx(json!({}))).unwrap_err();
        assert!(matches!(&err, TemplateError::Undefined { name, .. } if name == "who"), "{err}");
    }

    #[test]
    fn conditions_and_defined_tests() {
        let t = Templates::new();
        let c = ctx(json!({"a": 1, "s": "false"}));
        assert!(t.condition("a == 1", &c).unwrap());
        assert!(!t.condition("b is defined", &c).unwrap());
        assert!(!t.condition("s", &c).unwrap());
        assert!(t.condition("{{ a > 0 }}", &c).unwrap());
    }

    #[test]
    fn trailing_newline_is_kept_and_nothing_is_escaped() {
        let t = Templates::new();
        let out = t.render_file("x.html.j2", "<b>{{ v }}</b>\n", &ctx(json!({"v": "&"}))).unwrap();
        assert_eq!(out, "<b>&</b>\n");
    }

    #[test]
    fn omit_drops_the_argument() {
        let t = Templates::new();
        let c = ctx(json!({"omit": OMIT}));
        let v = t.render_value(&json!({"a": "{{ omit }}", "b": 1}), &c).unwrap();
        assert_eq!(v, json!({"b": 1}));
    }
}
