//! Rendered arguments with typed accessors, checked against the spec again
//! at run time (a templated value is only known then).

use serde_json::Value;

use super::mode::Mode;
use super::spec::{parse_bool, ModuleSpec};
use super::ModuleError;

/// A task's arguments after templating, keyed by canonical name (aliases resolved).
#[derive(Debug, Clone, Default)]
pub struct Args {
    values: serde_json::Map<String, Value>,
}

impl Args {
    /// Builds args from rendered values, resolving aliases to canonical names.
    pub fn new(spec: &ModuleSpec, rendered: serde_json::Map<String, Value>) -> Self {
        let mut values = serde_json::Map::new();
        for (name, value) in rendered {
            let canonical = spec.arg(&name).map_or(name.clone(), |a| a.name.to_owned());
            values.insert(canonical, value);
        }
        Args { values }
    }

    /// Builds args directly (tests).
    pub fn from_map(values: serde_json::Map<String, Value>) -> Self {
        Args { values }
    }

    fn bad(arg: &str, message: impl Into<String>) -> ModuleError {
        ModuleError::Arg { arg: arg.to_owned(), message: message.into() }
    }

    /// The raw value, if given and not null.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.get(name).filter(|v| !v.is_null())
    }

    /// Whether the argument was given.
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// An optional string (numbers and booleans are rendered as text).
    pub fn opt_str(&self, name: &str) -> Result<Option<String>, ModuleError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(Value::Bool(b)) => Ok(Some(if *b { "True" } else { "False" }.to_owned())),
            Some(other) => Err(Self::bad(name, format!("expected a string, got {other}"))),
        }
    }

    /// A required string.
    pub fn str(&self, name: &str) -> Result<String, ModuleError> {
        self.opt_str(name)?.ok_or_else(|| Self::bad(name, "is required"))
    }

    /// A boolean with a default.
    pub fn bool_or(&self, name: &str, default: bool) -> Result<bool, ModuleError> {
        match self.get(name) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(Value::Number(n)) if n.as_i64() == Some(0) => Ok(false),
            Some(Value::Number(n)) if n.as_i64() == Some(1) => Ok(true),
            Some(Value::String(s)) => {
                parse_bool(s).ok_or_else(|| Self::bad(name, format!("expected a boolean, got `{s}`")))
            }
            Some(other) => Err(Self::bad(name, format!("expected a boolean, got {other}"))),
        }
    }

    /// An optional integer.
    pub fn opt_int(&self, name: &str) -> Result<Option<i64>, ModuleError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| Self::bad(name, "expected an integer")),
            Some(Value::String(s)) => {
                s.trim().parse().map(Some).map_err(|_| Self::bad(name, format!("expected an integer, got `{s}`")))
            }
            Some(other) => Err(Self::bad(name, format!("expected an integer, got {other}"))),
        }
    }

    /// An optional number (an integer is accepted).
    pub fn opt_float(&self, name: &str) -> Result<Option<f64>, ModuleError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Number(n)) => n.as_f64().map(Some).ok_or_else(|| Self::bad(name, "expected a number")),
            Some(Value::String(s)) => {
                s.trim().parse().map(Some).map_err(|_| Self::bad(name, format!("expected a number, got `{s}`")))
            }
            Some(other) => Err(Self::bad(name, format!("expected a number, got {other}"))),
        }
    }

    /// An optional file mode.
    pub fn opt_mode(&self, name: &str) -> Result<Option<Mode>, ModuleError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Number(n)) => {
                let i = n.as_i64().ok_or_else(|| Self::bad(name, "expected a mode"))?;
                Mode::from_int(i).map(Some).map_err(|e| Self::bad(name, e.to_string()))
            }
            Some(Value::String(s)) => Mode::parse(s).map(Some).map_err(|e| Self::bad(name, e.to_string())),
            Some(other) => Err(Self::bad(name, format!("expected a mode, got {other}"))),
        }
    }

    /// A list of strings (a comma-separated string is split, as in Ansible).
    pub fn str_list(&self, name: &str) -> Result<Vec<String>, ModuleError> {
        match self.get(name) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    other => Ok(other.to_string()),
                })
                .collect(),
            Some(Value::String(s)) => Ok(s.split(',').map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()).collect()),
            Some(other) => Err(Self::bad(name, format!("expected a list, got {other}"))),
        }
    }

    /// A choice among fixed values, with a default.
    pub fn choice_or(&self, name: &str, choices: &[&str], default: &str) -> Result<String, ModuleError> {
        let value = self.opt_str(name)?.unwrap_or_else(|| default.to_owned());
        if choices.contains(&value.as_str()) {
            Ok(value)
        } else {
            Err(Self::bad(name, format!("must be one of {}, not `{value}`", choices.join(", "))))
        }
    }

    /// All values (for modules like set_fact that take free keys).
    pub fn all(&self) -> &serde_json::Map<String, Value> {
        &self.values
    }
}
