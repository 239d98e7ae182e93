//! `ini_file`: options in sections of an INI file, as
//! `community.general.ini_file`, rule for rule.
//!
//! The probe fetches the file (through a symlink); [`do_ini`] is the
//! module's `do_ini` ported step by step over the same lines: Python's
//! text-mode reading (BOM dropped, `\r\n` read as `\n`), a missing final
//! newline added (and reported as a change), the fake sections at both
//! ends, the section found by `^\[\s*NAME\s*]` (and `section_has_values`),
//! the four passes of `state: present` (values already there, remaining
//! occurrences rewritten, the rest removed with `exclusive`, missing values
//! inserted after the section's last non-blank, non-comment line) and the
//! deletions of `state: absent`. The patterns are the module's, with
//! Python's semantics (see [`crate::pyregex`]).
//!
//! The new content is written atomically, and only if the file is still
//! what the probe read. This module never builds a shell string by hand:
//! every value goes through [`crate::transport::quote::quote`].

use serde_json::Value;

use crate::pyregex::{Flags, PyRegex};

use super::file_state::{self, content_diff, new_path_attrs, sha256_hex, Attrs, Probe};
use super::file_write::{self, Expect, WriteFile};
use super::lineinfile::{editable, failed_rc, EDIT_LIMIT};
use super::{Action, ApplyScript, ArgKind, ArgSpec, Args, Diff, Module, ModuleError, ModuleSpec, Plan, TaskContext};
use crate::transport::ExecOutput;

/// The `ini_file` module.
pub struct IniFile;

/// The module's fake section name (a commit hash no file uses).
const FAKE: &str = "ad01e11446efb704fcdbdb21f2c43757423d91c5";

static SPEC: ModuleSpec = ModuleSpec::new(&[
    ArgSpec::new("path", ArgKind::Str).required().aliases(&["dest"]),
    ArgSpec::new("section", ArgKind::Str),
    ArgSpec::new("section_has_values", ArgKind::List),
    ArgSpec::new("option", ArgKind::Str),
    ArgSpec::new("value", ArgKind::Str),
    ArgSpec::new("values", ArgKind::List),
    ArgSpec::new("backup", ArgKind::Bool),
    ArgSpec::new("state", ArgKind::Str).choices(&["present", "absent"]),
    ArgSpec::new("exclusive", ArgKind::Bool),
    ArgSpec::new("no_extra_spaces", ArgKind::Bool),
    ArgSpec::new("ignore_spaces", ArgKind::Bool),
    ArgSpec::new("allow_no_value", ArgKind::Bool),
    ArgSpec::new("modify_inactive_option", ArgKind::Bool),
    ArgSpec::new("create", ArgKind::Bool),
    ArgSpec::new("follow", ArgKind::Bool),
    ArgSpec::new("mode", ArgKind::Mode),
    ArgSpec::new("owner", ArgKind::Str),
    ArgSpec::new("group", ArgKind::Str),
])
.exclusive(&[("value", "values")])
.refused(&[
    ("attributes", "stead does not manage chattr attributes"),
    ("seuser", "stead does not manage SELinux contexts"),
    ("serole", "stead does not manage SELinux contexts"),
    ("setype", "stead does not manage SELinux contexts"),
    ("selevel", "stead does not manage SELinux contexts"),
    ("unsafe_writes", "stead always writes atomically"),
]);

/// An option's patterns: `match_opt` (commented-out lines too) and
/// `match_active_opt`.
#[derive(Debug, Clone)]
pub struct OptPatterns {
    any: PyRegex,
    active: PyRegex,
}

/// A match of an option line: whether it is commented out, and its value
/// (groups 2 and 8 of the module's pattern).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptMatch {
    /// `#` or `;`, or empty.
    pub comment: String,
    /// The value (the rest of the line).
    pub value: String,
}

impl OptPatterns {
    /// Compiles the patterns for `option`.
    pub fn new(option: &str) -> Result<Self, ModuleError> {
        let o = regex::escape(option);
        let c = |p: String| {
            PyRegex::new(&p, Flags::default())
                .map_err(|e| ModuleError::Arg { arg: "option".into(), message: e.to_string() })
        };
        Ok(OptPatterns {
            any: c(format!("^( |\t)*([#;]?)( |\t)*({o})( |\t)*(=|$)( |\t)*(.*)"))?,
            active: c(format!("^()()( |\t)*({o})( |\t)*(=|$)( |\t)*(.*)"))?,
        })
    }

    fn run(re: &PyRegex, line: &str) -> Option<OptMatch> {
        let m = re.search(line).ok()??;
        let g = |i: usize| m.groups.get(i).copied().flatten().map(|(a, b)| line[a..b].to_owned()).unwrap_or_default();
        Some(OptMatch { comment: g(2), value: g(8) })
    }

    /// `match_opt`.
    pub fn any(&self, line: &str) -> Option<OptMatch> {
        Self::run(&self.any, line)
    }

    /// `match_active_opt`.
    pub fn active(&self, line: &str) -> Option<OptMatch> {
        Self::run(&self.active, line)
    }
}

/// One `section_has_values` condition.
#[derive(Debug, Clone)]
pub struct Condition {
    /// The option.
    pub option: String,
    /// Its patterns.
    pub patterns: OptPatterns,
    /// Accepted values (empty: any).
    pub values: Vec<String>,
}

/// What a task asks for (the module's `do_ini` arguments).
#[derive(Debug, Clone)]
pub struct Ini {
    /// The section (`None`: before the first section).
    pub section: Option<String>,
    /// Conditions a matching section must meet.
    pub section_has_values: Option<Vec<Condition>>,
    /// The option and its patterns.
    pub option: Option<(String, OptPatterns)>,
    /// The values, deduplicated.
    pub values: Vec<String>,
    /// `state: present`.
    pub present: bool,
    /// `exclusive`.
    pub exclusive: bool,
    /// `no_extra_spaces`.
    pub no_extra_spaces: bool,
    /// `ignore_spaces`.
    pub ignore_spaces: bool,
    /// `allow_no_value`.
    pub allow_no_value: bool,
    /// `modify_inactive_option`.
    pub modify_inactive_option: bool,
}

/// The result of [`do_ini`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Whether the module reports a change.
    pub changed: bool,
    /// The new lines.
    pub lines: Vec<String>,
    /// Ansible's `msg`.
    pub msg: &'static str,
}

/// Python's text-mode `readlines` with `encoding="utf-8-sig"`.
pub fn read_lines(content: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(content);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    text.split_inclusive('\n').map(str::to_owned).collect()
}

fn section_matches(re: &PyRegex, line: &str) -> bool {
    re.is_match(line).unwrap_or(false)
}

fn check_section_has_values(conds: Option<&[Condition]>, lines: &[String]) -> bool {
    let Some(conds) = conds else { return true };
    conds.iter().all(|c| {
        lines.iter().any(|l| c.patterns.any(l).is_some_and(|m| c.values.is_empty() || c.values.contains(&m.value)))
    })
}

/// The module's `do_ini` over the file's lines (`None`: no file).
pub fn do_ini(lines: Option<Vec<String>>, ini: &Ini) -> Result<Outcome, ModuleError> {
    let mut values = ini.values.clone();
    let mut ini_lines = lines.unwrap_or_default();
    let mut changed = false;
    if ini_lines.is_empty() {
        ini_lines.push("\n".into());
    }
    if let Some(last) = ini_lines.last_mut() {
        if !last.ends_with('\n') {
            last.push('\n');
            changed = true;
        }
    }
    ini_lines.insert(0, format!("[{FAKE}]"));
    ini_lines.push("[".into());
    let section = match ini.section.as_deref() {
        Some(s) if !s.is_empty() => s.to_owned(),
        _ => FAKE.to_owned(),
    };
    let fmt = |o: &str, v: &str| if ini.no_extra_spaces { format!("{o}={v}\n") } else { format!("{o} = {v}\n") };
    let section_re = PyRegex::new(&format!(r"^\[\s*{}\s*]", regex::escape(section.trim())), Flags::default())
        .map_err(|e| ModuleError::Arg { arg: "section".into(), message: e.to_string() })?;
    let blank_or_comment = PyRegex::new(r"^[ \t]*([#;].*)?$", Flags::default()).expect("valid pattern");
    let shv = ini.section_has_values.as_deref();

    let mut within = false;
    let (mut start, mut end) = (0, 0);
    for (index, line) in ini_lines.iter().enumerate() {
        if within && line.starts_with('[') {
            if check_section_has_values(shv, &ini_lines[start..index]) {
                end = index;
                break;
            }
            within = false;
            (start, end) = (0, 0);
        }
        if section_matches(&section_re, line) {
            within = true;
            start = index;
        }
    }
    let before = ini_lines[..start].to_vec();
    let mut sl = ini_lines[start..end].to_vec();
    let after = ini_lines[end..].to_vec();
    let mut changed_lines = vec![false; sl.len()];
    let mut msg = "OK";
    let mut no_value_present = false;

    let matcher = |line: &str| -> Option<OptMatch> {
        let (_, p) = ini.option.as_ref()?;
        if ini.modify_inactive_option {
            p.any(line)
        } else {
            p.active(line)
        }
    };
    let option = ini.option.as_ref().map(|(o, _)| o.as_str()).filter(|o| !o.is_empty());
    // The module's update_section_line.
    let update = |sl: &mut Vec<String>, changed_lines: &mut Vec<bool>, index: usize, newline: String| -> bool {
        let mut option_changed = None;
        if let (true, Some((_, p))) = (ini.ignore_spaces, &ini.option) {
            if let Some(old) = p.any(&sl[index]) {
                if old.comment.is_empty() {
                    option_changed = Some(Some(old.value) != p.any(&newline).map(|m| m.value));
                }
            }
        }
        let option_changed = option_changed.unwrap_or(sl[index] != newline);
        if option_changed {
            sl[index] = newline;
        }
        changed_lines[index] = true;
        option_changed
    };

    if ini.present {
        if let Some(o) = option {
            for index in 0..sl.len() {
                let Some(m) = matcher(&sl[index]) else { continue };
                if !values.is_empty() && values.contains(&m.value) {
                    let newline = if m.value.is_empty() && ini.allow_no_value {
                        no_value_present = true;
                        format!("{o}\n")
                    } else {
                        fmt(o, &m.value)
                    };
                    if update(&mut sl, &mut changed_lines, index, newline) {
                        changed = true;
                        msg = "option changed";
                    }
                    if let Some(i) = values.iter().position(|v| *v == m.value) {
                        values.remove(i);
                    }
                } else if values.is_empty() && ini.allow_no_value {
                    if update(&mut sl, &mut changed_lines, index, format!("{o}\n")) {
                        changed = true;
                        msg = "option changed";
                    }
                    no_value_present = true;
                    break;
                }
            }
        }
    }
    if ini.present && ini.exclusive && !ini.allow_no_value {
        if let (false, Some(o)) = (values.is_empty(), ini.option.as_ref().map(|(o, _)| o.as_str())) {
            for index in 0..sl.len() {
                if !changed_lines[index] && matcher(&sl[index]).is_some() {
                    let v = values.remove(0);
                    if update(&mut sl, &mut changed_lines, index, fmt(o, &v)) {
                        changed = true;
                        msg = "option changed";
                    }
                    if values.is_empty() {
                        break;
                    }
                }
            }
        }
        for index in (1..sl.len()).rev() {
            if !changed_lines[index] && matcher(&sl[index]).is_some() {
                sl.remove(index);
                changed_lines.remove(index);
                changed = true;
                msg = "option changed";
            }
        }
    }
    if ini.present {
        for index in (1..=sl.len()).rev() {
            if blank_or_comment.is_match(&sl[index - 1]).unwrap_or(false) {
                continue;
            }
            match option {
                Some(o) if !values.is_empty() => {
                    for v in values.iter().rev() {
                        sl.insert(index, fmt(o, v));
                        msg = "option added";
                        changed = true;
                    }
                }
                Some(o) if ini.allow_no_value && !no_value_present => {
                    sl.insert(index, format!("{o}\n"));
                    msg = "option added";
                    changed = true;
                }
                _ => {}
            }
            break;
        }
    } else if let Some((_, p)) = ini.option.as_ref().filter(|_| option.is_some()) {
        let kept: Vec<String> = if ini.exclusive {
            sl.iter().filter(|l| p.active(l).is_none()).cloned().collect()
        } else if !values.is_empty() {
            sl.iter().filter(|l| !p.active(l).is_some_and(|m| values.contains(&m.value))).cloned().collect()
        } else {
            sl.clone()
        };
        if kept != sl {
            changed = true;
            msg = "option changed";
            sl = kept;
        }
    } else if !sl.is_empty() {
        sl.clear();
        msg = "section removed";
        changed = true;
    }

    let mut out: Vec<String> = before.into_iter().chain(sl).chain(after).collect();
    if !out.is_empty() {
        out.remove(0);
    }
    out.pop();
    if !within && ini.present {
        out.push(format!("[{section}]\n"));
        msg = "section and option added";
        if let Some(conds) = shv.filter(|c| !c.is_empty()) {
            for c in conds {
                if Some(c.option.as_str()) != ini.option.as_ref().map(|(o, _)| o.as_str()) {
                    if !c.values.is_empty() {
                        out.extend(c.values.iter().map(|v| fmt(&c.option, v)));
                    } else if ini.allow_no_value {
                        out.push(format!("{}\n", c.option));
                    }
                } else if !ini.exclusive {
                    for v in &c.values {
                        if !values.contains(v) {
                            values.push(v.clone());
                        }
                    }
                }
            }
        }
        match option {
            Some(o) if !values.is_empty() => out.extend(values.iter().map(|v| fmt(o, v))),
            Some(o) if ini.allow_no_value => out.push(format!("{o}\n")),
            _ => msg = "only section added",
        }
        changed = true;
    }
    Ok(Outcome { changed, lines: out, msg })
}

/// A list argument's strings as Ansible converts `elements: str`.
fn str_items(v: Option<&Value>) -> Option<Vec<String>> {
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(if *b { "True" } else { "False" }.to_owned()),
        Value::Null => None,
        other => Some(other.to_string()),
    };
    match v? {
        Value::Array(items) => Some(items.iter().filter_map(text).collect()),
        Value::Null => None,
        other => text(other).map(|s| vec![s]),
    }
}

fn parse_conditions(v: Option<&Value>) -> Result<Option<Vec<Condition>>, ModuleError> {
    let bad = |m: &str| ModuleError::Arg { arg: "section_has_values".into(), message: m.to_owned() };
    let Some(v) = v.filter(|v| !v.is_null()) else { return Ok(None) };
    let Value::Array(items) = v else { return Err(bad("expected a list of mappings")) };
    let mut out = Vec::new();
    for item in items {
        let Value::Object(m) = item else { return Err(bad("each element must be a mapping")) };
        if let Some(k) = m.keys().find(|k| !["option", "value", "values"].contains(&k.as_str())) {
            return Err(bad(&format!("unknown key `{k}`")));
        }
        let option =
            str_items(m.get("option")).and_then(|v| v.into_iter().next()).ok_or_else(|| bad("`option` is required"))?;
        let value = str_items(m.get("value"));
        let values = str_items(m.get("values"));
        if value.is_some() && values.is_some() {
            return Err(bad("parameters are mutually exclusive: value|values"));
        }
        out.push(Condition {
            patterns: OptPatterns::new(&option)?,
            option,
            values: value.or(values).unwrap_or_default(),
        });
    }
    Ok(Some(out))
}

impl Module for IniFile {
    fn name(&self) -> &'static str {
        "ini_file"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: &Args, _ctx: &dyn TaskContext) -> Result<Box<dyn Action>, ModuleError> {
        let present = args.choice_or("state", &["present", "absent"], "present")? == "present";
        let allow_no_value = args.bool_or("allow_no_value", false)?;
        let value = args.opt_str("value")?;
        let list = str_items(args.get("values"));
        if present && !allow_no_value && value.is_none() && list.as_ref().is_none_or(Vec::is_empty) {
            return Err(ModuleError::failed(
                "Parameter 'value(s)' must be defined if state=present and allow_no_value=False.",
            ));
        }
        let mut values: Vec<String> = Vec::new();
        for v in value.map(|v| vec![v]).or(list).unwrap_or_default() {
            if !values.contains(&v) {
                values.push(v);
            }
        }
        let option = match args.opt_str("option")? {
            Some(o) => Some((o.clone(), OptPatterns::new(&o)?)),
            None => None,
        };
        Ok(Box::new(IniFileAction {
            path: args.str("path")?,
            ini: Ini {
                section: args.opt_str("section")?,
                section_has_values: parse_conditions(args.get("section_has_values"))?,
                option,
                values,
                present,
                exclusive: args.bool_or("exclusive", true)?,
                no_extra_spaces: args.bool_or("no_extra_spaces", false)?,
                ignore_spaces: args.bool_or("ignore_spaces", false)?,
                allow_no_value,
                modify_inactive_option: args.bool_or("modify_inactive_option", true)?,
            },
            create: args.bool_or("create", true)?,
            follow: args.bool_or("follow", false)?,
            backup: args.bool_or("backup", false)?,
            attrs: Attrs::from_args(args)?,
        }))
    }
}

/// One `ini_file` task on one host.
#[derive(Debug)]
pub struct IniFileAction {
    path: String,
    ini: Ini,
    create: bool,
    follow: bool,
    backup: bool,
    attrs: Attrs,
}

impl Action for IniFileAction {
    fn paths(&self) -> Option<Vec<String>> {
        Some(vec![self.path.clone()])
    }

    fn saw_missing_parent(&self, probe: &ExecOutput) -> bool {
        file_state::parent_missing(&probe.stdout)
    }

    fn probe(&self) -> Option<String> {
        Some(Probe::new(&self.path).content_limit(Some(EDIT_LIMIT)).script())
    }

    fn compare(&mut self, probe: Option<&ExecOutput>) -> Result<Plan, ModuleError> {
        let st = file_state::parse_output(probe)?;
        let path = self.path.as_str();
        let original = editable(path, &st)?;
        if original.is_none() && !self.create {
            return Err(failed_rc(257, format!("Destination {path} does not exist!")));
        }
        let out = do_ini(original.as_deref().map(read_lines), &self.ini)?;
        let new = out.lines.concat();
        let changes = if st.exists { self.attrs.changes(&st) } else { new_path_attrs(&self.attrs, false) };
        let mut plan = if out.changed {
            let write = WriteFile {
                dest: path,
                content: new.as_bytes(),
                follow: self.follow,
                attrs: &self.attrs,
                current: &st,
                backup: self.backup,
                make_parents: true,
                validate: None,
                expect: Some(Expect::unchanged(&st)),
            };
            let diff = content_diff(path, &st, new.as_bytes(), &sha256_hex(new.as_bytes()), &changes);
            Plan::change(write.apply()).with_diff(Some(diff))
        } else if st.exists && !changes.is_empty() {
            let (before, after) = changes.pairs();
            Plan::change(ApplyScript {
                script: file_write::attrs_script(path, true, &self.attrs, &changes, false, false),
                stdin: Vec::new(),
            })
            .with_diff(Some(Diff::state(path, &before, &after)))
        } else {
            Plan::ok()
        };
        plan.result.insert("changed".into(), plan.changed.into());
        plan.result.insert("msg".into(), out.msg.into());
        plan.result.insert("path".into(), path.into());
        Ok(plan)
    }

    fn finish(&mut self, plan: Plan, out: &ExecOutput) -> Result<Plan, ModuleError> {
        let (mut plan, st) = file_write::finish(plan, out)?;
        if let Some(b) = st.and_then(|s| s.backup_file) {
            plan.result.insert("backup_file".into(), b.into());
        }
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::file_write::testing::{run, FakeCtx, HOSTILE};
    use serde_json::json;

    fn ini(section: Option<&str>, option: &str, values: &[&str]) -> Ini {
        Ini {
            section: section.map(str::to_owned),
            section_has_values: None,
            option: Some((option.to_owned(), OptPatterns::new(option).unwrap())),
            values: values.iter().map(|v| v.to_string()).collect(),
            present: true,
            exclusive: true,
            no_extra_spaces: false,
            ignore_spaces: false,
            allow_no_value: false,
            modify_inactive_option: true,
        }
    }

    fn apply(text: Option<&str>, i: &Ini) -> (String, bool, &'static str) {
        let o = do_ini(text.map(|t| read_lines(t.as_bytes())), i).unwrap();
        (o.lines.concat(), o.changed, o.msg)
    }

    #[test]
    fn a_new_file_starts_with_a_blank_line_as_in_ansible() {
        assert_eq!(
            apply(None, &ini(Some("main"), "a", &["1"])),
            ("\n[main]\na = 1\n".into(), true, "section and option added")
        );
        assert_eq!(apply(None, &ini(None, "a", &["1"])), ("a = 1\n\n".into(), true, "option added"));
    }

    #[test]
    fn options_change_in_place_and_commented_ones_are_reused() {
        let text = "[main]\n# a = 0\nb = 2\n\n[other]\na = 5\n";
        assert_eq!(
            apply(Some(text), &ini(Some("main"), "a", &["1"])),
            ("[main]\na = 1\nb = 2\n\n[other]\na = 5\n".into(), true, "option changed")
        );
        let mut i = ini(Some("main"), "a", &["1"]);
        i.modify_inactive_option = false;
        assert_eq!(apply(Some(text), &i).0, "[main]\n# a = 0\nb = 2\na = 1\n\n[other]\na = 5\n");
        assert!(!apply(Some("[main]\na = 1\n"), &ini(Some("main"), "a", &["1"])).1);
        // A missing final newline is added, and counts as a change.
        assert_eq!(
            apply(Some("[main]\na = 1"), &ini(Some("main"), "a", &["1"])),
            ("[main]\na = 1\n".into(), true, "OK")
        );
    }

    #[test]
    fn repeated_values_and_exclusive() {
        let text = "[s]\nv = 1\nv = 2\nv = 3\n";
        let i = ini(Some("s"), "v", &["3", "4"]);
        assert_eq!(apply(Some(text), &i).0, "[s]\nv = 4\nv = 3\n");
        let mut i = ini(Some("s"), "v", &["3", "4"]);
        i.exclusive = false;
        assert_eq!(apply(Some(text), &i).0, "[s]\nv = 1\nv = 2\nv = 3\nv = 4\n");
    }

    #[test]
    fn absent_removes_options_or_sections() {
        let text = "[s]\na = 1\nb = 2\n[t]\nc = 3\n";
        let mut i = ini(Some("s"), "a", &[]);
        i.present = false;
        assert_eq!(apply(Some(text), &i), ("[s]\nb = 2\n[t]\nc = 3\n".into(), true, "option changed"));
        i.option = None;
        assert_eq!(apply(Some(text), &i), ("[t]\nc = 3\n".into(), true, "section removed"));
    }

    #[test]
    fn no_value_options_and_ignore_spaces() {
        let mut i = ini(Some("mysqld"), "skip-name-resolve", &[]);
        i.allow_no_value = true;
        assert_eq!(apply(Some("[mysqld]\nuser = x\n"), &i).0, "[mysqld]\nuser = x\nskip-name-resolve\n");
        let mut i = ini(Some("s"), "a", &["1"]);
        i.ignore_spaces = true;
        assert!(!apply(Some("[s]\na=1\n"), &i).1);
    }

    #[test]
    fn section_has_values_picks_the_section() {
        let text = "[peer]\nname = a\nip = 1\n[peer]\nname = b\nip = 2\n";
        let mut i = ini(Some("peer"), "ip", &["9"]);
        i.section_has_values = Some(vec![Condition {
            option: "name".into(),
            patterns: OptPatterns::new("name").unwrap(),
            values: vec!["b".into()],
        }]);
        assert_eq!(apply(Some(text), &i).0, "[peer]\nname = a\nip = 1\n[peer]\nname = b\nip = 9\n");
    }

    #[test]
    fn real_probe_and_edit_on_a_hostile_path() {
        let ctx = FakeCtx::default();
        let file = ctx.root().join(HOSTILE).join("new dir").join("x.ini");
        let args =
            json!({"path": file.to_str().unwrap(), "section": "s", "option": "k", "value": "v $(x)", "mode": "0600"});
        let mut a = IniFile.prepare(&Args::new(&SPEC, args.as_object().unwrap().clone()), &ctx).unwrap();
        let plan = a.compare(Some(&run(&a.probe().unwrap(), b""))).unwrap();
        assert!(plan.changed);
        let apply = plan.apply.clone().unwrap();
        let res = run(&apply.script, &apply.stdin);
        a.finish(plan, &res).unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "\n[s]\nk = v $(x)\n");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
        assert!(!a.compare(Some(&run(&a.probe().unwrap(), b""))).unwrap().changed);
    }
}
