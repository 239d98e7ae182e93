//! Argument specifications: what a module accepts, checked twice.
//!
//! At load time ([`check_node`]) every argument written in the playbook is
//! checked against the spec: unknown names (with a "did you mean" hint),
//! missing required ones, and the type of every literal value. Templated
//! values (`"{{ ... }}"`) are checked again at run time by [`crate::modules::Args`],
//! once rendered.

use crate::yaml::{Node, NodeKind};

/// The type an argument takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    /// Any scalar rendered as a string.
    Str,
    /// A boolean (Ansible's spellings: yes/no/true/false/on/off/1/0).
    Bool,
    /// An integer.
    Int,
    /// A number, integer or not (`expires: 1735689600.5`).
    Float,
    /// A file mode: octal (`0644`, `'0644'`) or symbolic (`u=rw,g=r,o=r`).
    Mode,
    /// A list (a comma-separated string is accepted too).
    List,
    /// A mapping.
    Dict,
    /// Anything (e.g. `debug: msg`).
    Any,
}

/// One argument of a module.
#[derive(Debug, Clone, Copy)]
pub struct ArgSpec {
    /// Ansible's name.
    pub name: &'static str,
    /// Other accepted names (Ansible's aliases, e.g. `path` for `dest`).
    pub aliases: &'static [&'static str],
    /// Its type.
    pub kind: ArgKind,
    /// Whether it must be given.
    pub required: bool,
    /// Allowed values, when it is an enumeration.
    pub choices: &'static [&'static str],
    /// Ansible's `suboptions`: the spec of a mapping argument, or of each
    /// mapping in a list argument, checked at load time like the module's
    /// own arguments (other list items, e.g. strings, are the module's to check).
    pub suboptions: Option<&'static ModuleSpec>,
    /// Values stead refuses, each with the reason (`return_content: true`
    /// of a private key): the load-time error says why.
    pub refused_values: &'static [(&'static str, &'static str)],
}

impl ArgSpec {
    /// An optional argument of the given kind.
    pub const fn new(name: &'static str, kind: ArgKind) -> Self {
        ArgSpec { name, aliases: &[], kind, required: false, choices: &[], suboptions: None, refused_values: &[] }
    }
    /// Marks the argument as required.
    pub const fn required(mut self) -> Self {
        self.required = true;
        self
    }
    /// Sets accepted aliases.
    pub const fn aliases(mut self, aliases: &'static [&'static str]) -> Self {
        self.aliases = aliases;
        self
    }
    /// Restricts the values.
    pub const fn choices(mut self, choices: &'static [&'static str]) -> Self {
        self.choices = choices;
        self
    }
    /// Checks its mapping (or each mapping in its list) against `spec`.
    pub const fn suboptions(mut self, spec: &'static ModuleSpec) -> Self {
        self.suboptions = Some(spec);
        self
    }
    /// Refuses values (as written, booleans as `true`/`false`), each with the reason.
    pub const fn refuse_values(mut self, values: &'static [(&'static str, &'static str)]) -> Self {
        self.refused_values = values;
        self
    }
    /// Whether `name` designates this argument.
    pub fn matches(&self, name: &str) -> bool {
        self.name == name || self.aliases.contains(&name)
    }
}

/// A module's whole argument interface.
#[derive(Debug, Clone, Copy)]
pub struct ModuleSpec {
    /// The arguments.
    pub args: &'static [ArgSpec],
    /// The argument a free-form string fills (`command: ls -l` fills `cmd`).
    pub free_form: Option<&'static str>,
    /// Groups of arguments of which at least one must be given.
    pub one_of: &'static [&'static [&'static str]],
    /// Pairs that cannot be given together.
    pub exclusive: &'static [(&'static str, &'static str)],
    /// Whether any key is accepted (`set_fact`).
    pub free_keys: bool,
    /// Ansible's arguments that stead refuses, each with the reason: the
    /// load-time error says so instead of "unknown argument".
    pub refused: &'static [(&'static str, &'static str)],
}

impl ModuleSpec {
    /// A spec with these arguments and nothing else.
    pub const fn new(args: &'static [ArgSpec]) -> Self {
        ModuleSpec { args, free_form: None, one_of: &[], exclusive: &[], free_keys: false, refused: &[] }
    }
    /// Names the argument a free-form string fills.
    pub const fn free_form(mut self, arg: &'static str) -> Self {
        self.free_form = Some(arg);
        self
    }
    /// Requires at least one of each group.
    pub const fn one_of(mut self, groups: &'static [&'static [&'static str]]) -> Self {
        self.one_of = groups;
        self
    }
    /// Forbids pairs.
    pub const fn exclusive(mut self, pairs: &'static [(&'static str, &'static str)]) -> Self {
        self.exclusive = pairs;
        self
    }
    /// Names Ansible's arguments that stead refuses, with the reason.
    pub const fn refused(mut self, refused: &'static [(&'static str, &'static str)]) -> Self {
        self.refused = refused;
        self
    }
    /// Accepts any key.
    pub const fn free_keys(mut self) -> Self {
        self.free_keys = true;
        self
    }
}

impl ModuleSpec {
    /// Finds the spec of an argument by name or alias.
    pub fn arg(&self, name: &str) -> Option<&ArgSpec> {
        self.args.iter().find(|a| a.matches(name))
    }
}

/// An argument problem found while loading the playbook.
#[derive(Debug, Clone, PartialEq)]
pub struct ArgIssue {
    /// What is wrong, one sentence.
    pub message: String,
    /// How to fix it, when we can tell.
    pub hint: Option<String>,
    /// The offending node's location (line/column) when there is one.
    pub node: Option<crate::yaml::Location>,
}

/// Whether a string contains a Jinja expression or statement.
pub fn is_templated(s: &str) -> bool {
    s.contains("{{") || s.contains("{%")
}

/// Checks written arguments (name → node) against a spec.
pub fn check_node(spec: &ModuleSpec, args: &[(crate::yaml::Key, Node)]) -> Vec<ArgIssue> {
    let mut issues = Vec::new();
    for (key, value) in args {
        let Some(arg) = spec.arg(&key.name) else {
            if spec.free_keys {
                continue;
            }
            if let Some((name, reason)) = spec.refused.iter().find(|(n, _)| *n == key.name) {
                issues.push(ArgIssue {
                    message: format!("stead does not support the argument `{name}`: {reason}"),
                    hint: Some("remove it, or see docs/modules.md for what stead does instead".into()),
                    node: Some(key.loc.clone()),
                });
                continue;
            }
            let names: Vec<&str> = spec.args.iter().map(|a| a.name).collect();
            issues.push(ArgIssue {
                message: format!("unknown argument `{}`", key.name),
                hint: Some(match crate::suggest::closest(&key.name, names.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`? accepted: {}", names.join(", ")),
                    None => format!("accepted: {}", names.join(", ")),
                }),
                node: Some(key.loc.clone()),
            });
            continue;
        };
        if let Some(issue) = check_value(arg, value) {
            issues.push(issue);
        } else if let Some(sub) = arg.suboptions {
            issues.extend(check_suboptions(&key.name, sub, value));
        }
    }
    for arg in spec.args.iter().filter(|a| a.required) {
        if !args.iter().any(|(k, _)| arg.matches(&k.name)) {
            issues.push(ArgIssue {
                message: format!("missing required argument `{}`", arg.name),
                hint: None,
                node: None,
            });
        }
    }
    for group in spec.one_of {
        if !args.iter().any(|(k, _)| group.iter().any(|g| spec.arg(g).is_some_and(|a| a.matches(&k.name)))) {
            issues.push(ArgIssue {
                message: format!(
                    "one of {} is required",
                    group.iter().map(|g| format!("`{g}`")).collect::<Vec<_>>().join(", ")
                ),
                hint: None,
                node: None,
            });
        }
    }
    for (a, b) in spec.exclusive {
        let has = |n: &str| args.iter().any(|(k, _)| spec.arg(n).is_some_and(|s| s.matches(&k.name)));
        if has(a) && has(b) {
            issues.push(ArgIssue {
                message: format!("`{a}` and `{b}` cannot be used together"),
                hint: None,
                node: None,
            });
        }
    }
    issues
}

/// Checks the mapping, or each mapping of the list, in `value` against
/// `spec`; messages name where they are (`chains[0].rules[2]`).
fn check_suboptions(path: &str, spec: &ModuleSpec, value: &Node) -> Vec<ArgIssue> {
    let one = |path: String, node: &Node, entries: &[(crate::yaml::Key, Node)]| -> Vec<ArgIssue> {
        let loc = node.loc.clone();
        check_node(spec, entries)
            .into_iter()
            .map(|mut issue| {
                issue.message = match issue.message.strip_prefix("in `") {
                    Some(inner) => format!("in `{path}.{inner}"),
                    None => format!("in `{path}`: {}", issue.message),
                };
                issue.node = issue.node.or_else(|| Some(loc.clone()));
                issue
            })
            .collect()
    };
    match &value.kind {
        NodeKind::Map(entries) => one(path.to_owned(), value, entries),
        NodeKind::Seq(items) => items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| item.as_map().map(|entries| one(format!("{path}[{i}]"), item, entries)))
            .flatten()
            .collect(),
        _ => Vec::new(),
    }
}

fn check_value(arg: &ArgSpec, value: &Node) -> Option<ArgIssue> {
    let issue = |message: String, hint: Option<String>| Some(ArgIssue { message, hint, node: Some(value.loc.clone()) });
    if let NodeKind::Str(s) = &value.kind {
        if is_templated(s) {
            return None;
        }
    }
    if matches!(value.kind, NodeKind::Null) {
        return None;
    }
    for (refused, reason) in arg.refused_values {
        let text = match &value.kind {
            NodeKind::Bool(b) => Some(b.to_string()),
            NodeKind::Str(s) if arg.kind == ArgKind::Bool => parse_bool(s).map(|b| b.to_string()),
            NodeKind::Str(s) => Some(s.clone()),
            NodeKind::Int(i) => Some(i.to_string()),
            _ => None,
        };
        if text.as_deref() == Some(*refused) {
            return issue(
                format!("stead does not support `{}: {refused}`: {reason}", arg.name),
                Some("remove it, or see docs/modules.md for what stead does instead".into()),
            );
        }
    }
    match arg.kind {
        ArgKind::Any => None,
        ArgKind::Str => match &value.kind {
            NodeKind::Seq(_) | NodeKind::Map(_) => {
                issue(format!("`{}` must be a string, not {}", arg.name, value.type_name()), None)
            }
            _ => check_choices(arg, value),
        },
        ArgKind::Bool => match &value.kind {
            NodeKind::Bool(_) => None,
            NodeKind::Str(s) if parse_bool(s).is_some() => None,
            NodeKind::Int(0 | 1) => None,
            _ => issue(
                format!("`{}` must be a boolean, not {}", arg.name, value.type_name()),
                Some("use true or false".into()),
            ),
        },
        ArgKind::Int => match &value.kind {
            NodeKind::Int(_) => check_choices(arg, value),
            NodeKind::Str(s) if s.trim().parse::<i64>().is_ok() => check_choices(arg, value),
            _ => issue(format!("`{}` must be an integer, not {}", arg.name, value.type_name()), None),
        },
        ArgKind::Float => match &value.kind {
            NodeKind::Int(_) | NodeKind::Float(_) => None,
            NodeKind::Str(s) if s.trim().parse::<f64>().is_ok() => None,
            _ => issue(format!("`{}` must be a number, not {}", arg.name, value.type_name()), None),
        },
        ArgKind::Mode => check_mode(arg, value),
        ArgKind::List => match &value.kind {
            NodeKind::Map(_) => issue(format!("`{}` must be a list, not {}", arg.name, value.type_name()), None),
            _ => None,
        },
        ArgKind::Dict => match &value.kind {
            NodeKind::Map(_) => None,
            _ => issue(format!("`{}` must be a mapping, not {}", arg.name, value.type_name()), None),
        },
    }
}

fn check_choices(arg: &ArgSpec, value: &Node) -> Option<ArgIssue> {
    if arg.choices.is_empty() {
        return None;
    }
    let text = match &value.kind {
        NodeKind::Str(s) => s.clone(),
        NodeKind::Bool(b) => b.to_string(),
        NodeKind::Int(i) => i.to_string(),
        _ => return None,
    };
    if arg.choices.contains(&text.as_str()) {
        return None;
    }
    Some(ArgIssue {
        message: format!("`{}` must be one of {}, not `{text}`", arg.name, arg.choices.join(", ")),
        hint: crate::suggest::closest(&text, arg.choices.iter().copied()).map(|s| format!("did you mean `{s}`?")),
        node: Some(value.loc.clone()),
    })
}

fn check_mode(arg: &ArgSpec, value: &Node) -> Option<ArgIssue> {
    let issue =
        |message: String, hint: String| Some(ArgIssue { message, hint: Some(hint), node: Some(value.loc.clone()) });
    match &value.kind {
        NodeKind::Int(_) => {
            let raw = value.raw.as_deref().unwrap_or("");
            let is_octal_literal = raw.starts_with('0');
            if !is_octal_literal {
                return issue(
                    format!("`{}: {raw}` is read as the decimal number {raw}, not as an octal mode", arg.name),
                    format!("write `{}: '0{raw}'` (quoted, with a leading zero)", arg.name),
                );
            }
            None
        }
        NodeKind::Str(s) => match crate::modules::mode::Mode::parse(s) {
            Ok(_) => None,
            Err(e) => issue(
                format!("`{}`: {e}", arg.name),
                "use an octal mode such as '0644' or a symbolic one such as 'u=rw,g=r,o=r'".into(),
            ),
        },
        _ => issue(format!("`{}` must be a mode, not {}", arg.name, value.type_name()), "use '0644'".into()),
    }
}

/// Ansible's boolean spellings.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "yes" | "true" | "on" | "1" | "y" | "t" => Some(true),
        "no" | "false" | "off" | "0" | "n" | "f" | "" => Some(false),
        _ => None,
    }
}
