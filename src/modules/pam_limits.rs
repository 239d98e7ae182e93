//! `pam_limits`: one limit in `/etc/security/limits.conf` (or another
//! file), as `community.general.pam_limits`, rule for rule.
//!
//! The probe fetches the file; [`edit`] is the module's loop over its lines,
//! ported as it is: comment lines (`#` in the first column), blank lines
//! and lines without four fields are kept byte for byte; every four-field
//! line is validated; the line of the same domain, type and item is
//! rewritten as `domain\ttype\titem\tvalue[\t#comment]\n` when its value
//! changes (with `use_max`/`use_min` deciding between the two values), and
//! a missing one is appended in the same form. A comment not given is taken
//! from the first data line that has one (with its newline), as the module
//! does.
//!
//! The new content is written atomically, and only if the file is still
//! what the probe read. This module never builds a shell string by hand:
//! every value goes through [`crate::transport::quote::quote`].

use super::file_state::{self, content_diff, sha256_hex, Probe};
use super::file_write::{self, WriteFile};
use super::lineinfile::{editable, EDIT_LIMIT};
use super::{Action, ArgKind, ArgSpec, Args, Module, ModuleError, ModuleSpec, Plan, TaskContext};
use crate::transport::ExecOutput;

/// The `pam_limits` module.
pub struct PamLimits;

/// Ansible's default file.
pub const LIMITS_CONF: &str = "/etc/security/limits.conf";

const ITEMS: &[&str] = &[
    "core",
    "data",
    "fsize",
    "memlock",
    "nofile",
    "rss",
    "stack",
    "cpu",
    "nproc",
    "as",
    "maxlogins",
    "maxsyslogins",
    "priority",
    "locks",
    "sigpending",
    "msgqueue",
    "nice",
    "rtprio",
    "chroot",
];
const TYPES: &[&str] = &["soft", "hard", "-"];

static SPEC: ModuleSpec = ModuleSpec::new(&[
    ArgSpec::new("domain", ArgKind::Str).required(),
    ArgSpec::new("limit_type", ArgKind::Str).required().choices(TYPES),
    ArgSpec::new("limit_item", ArgKind::Str).required().choices(ITEMS),
    ArgSpec::new("value", ArgKind::Str).required(),
    ArgSpec::new("use_max", ArgKind::Bool),
    ArgSpec::new("use_min", ArgKind::Bool),
    ArgSpec::new("backup", ArgKind::Bool),
    ArgSpec::new("dest", ArgKind::Str),
    ArgSpec::new("comment", ArgKind::Str),
]);

/// The limit a task asks for.
#[derive(Debug, Clone, Default)]
pub struct Limit {
    /// `*`, a user, `@group`...
    pub domain: String,
    /// `soft`, `hard` or `-`.
    pub limit_type: String,
    /// `nofile`, `nproc`...
    pub limit_item: String,
    /// The value.
    pub value: String,
    /// Keep the larger of the file's and the task's value.
    pub use_max: bool,
    /// Keep the smaller.
    pub use_min: bool,
    /// The comment (empty: keep or borrow one, as the module does).
    pub comment: String,
}

/// The result of [`edit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    /// The new content.
    pub content: String,
    /// Whether the module reports a change (content aside).
    pub changed: bool,
    /// Ansible's `msg`: the limit's line as it ends up.
    pub msg: String,
}

/// Python's `repr` of a string, for messages.
fn py_repr(s: &str) -> String {
    if s.contains('\'') && !s.contains('"') {
        format!("\"{}\"", s.replace('\\', "\\\\"))
    } else {
        format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
    }
}

fn is_unlimited(v: &str) -> bool {
    matches!(v, "unlimited" | "infinity" | "-1")
}

/// The module's `_assert_is_valid_value`.
pub fn check_value(item: &str, value: &str, prefix: &str) -> Result<(), String> {
    if item == "nice" || item == "priority" {
        if !value.trim().parse::<i64>().is_ok_and(|v| (-20..=19).contains(&v)) {
            return Err(format!(
                "{prefix} Value of {} for item {} is invalid. Value must be a number in the range -20 to 19 \
                 inclusive. Refer to the limits.conf(5) manual pages for more details.",
                py_repr(value),
                py_repr(item)
            ));
        }
    } else if !(is_unlimited(value) || (!value.is_empty() && value.chars().all(|c| c.is_ascii_digit()))) {
        return Err(format!(
            "{prefix} Value of {} for item {} is invalid. Value must either be 'unlimited', 'infinity' or -1, all \
             of which indicate no limit, or a limit of 0 or larger. Refer to the limits.conf(5) manual pages for \
             more details.",
            py_repr(value),
            py_repr(item)
        ));
    }
    Ok(())
}

fn int(v: &str) -> i64 {
    v.trim().parse().unwrap_or(0)
}

/// The module's loop over the lines of `content` (`None`: no file yet).
pub fn edit(content: Option<&str>, want: &Limit, dest: &str) -> Result<Edit, String> {
    let mut changed = content.is_none();
    let mut out = String::new();
    let mut msg = String::new();
    let mut found = false;
    let mut new_comment = want.comment.clone();
    let mut new_value = want.value.clone();
    let value = want.value.as_str();
    for line in content.unwrap_or("").split_inclusive('\n') {
        if line.starts_with('#') {
            out.push_str(line);
            continue;
        }
        let squeezed = line.split_whitespace().collect::<Vec<_>>().join(" ");
        if squeezed.is_empty() {
            out.push_str(line);
            continue;
        }
        let data = squeezed.split('#').next().unwrap_or("").trim_end().to_owned();
        let old_comment = line.split_once('#').map(|(_, c)| c.to_owned()).unwrap_or_default();
        if new_comment.is_empty() {
            new_comment = old_comment;
        }
        let fields: Vec<&str> = data.split(' ').collect();
        let [line_domain, line_type, line_item, actual] = fields[..] else {
            out.push_str(line);
            continue;
        };
        check_value(line_item, actual, &format!("Invalid configuration found in '{dest}'."))?;
        if !(line_domain == want.domain && line_type == want.limit_type && line_item == want.limit_item) {
            out.push_str(line);
            continue;
        }
        found = true;
        if value == actual {
            msg = line.to_owned();
            out.push_str(line);
            continue;
        }
        // (The module tests the type, not the item, against nice/priority:
        // "unlimited" spellings always count.)
        let (actual_unlimited, value_unlimited) = (is_unlimited(actual), is_unlimited(value));
        if want.use_max {
            new_value = if actual_unlimited {
                actual.to_owned()
            } else if value_unlimited {
                value.to_owned()
            } else {
                int(value).max(int(actual)).to_string()
            };
        }
        if want.use_min {
            new_value = match (actual_unlimited, value_unlimited) {
                (true, true) => actual.to_owned(),
                (true, false) => value.to_owned(),
                (false, true) => actual.to_owned(),
                (false, false) => int(value).min(int(actual)).to_string(),
            };
        }
        if new_value != actual {
            changed = true;
            if !new_comment.is_empty() {
                new_comment = format!("\t#{new_comment}");
            }
            let new_limit =
                format!("{}\t{}\t{}\t{new_value}{new_comment}\n", want.domain, want.limit_type, want.limit_item);
            out.push_str(&new_limit);
            msg = new_limit;
        } else {
            msg = line.to_owned();
            out.push_str(line);
        }
    }
    if !found {
        changed = true;
        if !new_comment.is_empty() {
            new_comment = format!("\t#{new_comment}");
        }
        let new_limit =
            format!("{}\t{}\t{}\t{new_value}{new_comment}\n", want.domain, want.limit_type, want.limit_item);
        out.push_str(&new_limit);
        msg = new_limit;
    }
    Ok(Edit { content: out, changed, msg })
}

impl Module for PamLimits {
    fn name(&self) -> &'static str {
        "pam_limits"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: &Args, _ctx: &dyn TaskContext) -> Result<Box<dyn Action>, ModuleError> {
        let want = Limit {
            domain: args.str("domain")?,
            limit_type: args.choice_or("limit_type", TYPES, "")?,
            limit_item: args.choice_or("limit_item", ITEMS, "")?,
            value: args.str("value")?,
            use_max: args.bool_or("use_max", false)?,
            use_min: args.bool_or("use_min", false)?,
            comment: args.opt_str("comment")?.unwrap_or_default(),
        };
        Ok(Box::new(PamLimitsAction {
            want,
            dest: args.opt_str("dest")?.unwrap_or_else(|| LIMITS_CONF.to_owned()),
            backup: args.bool_or("backup", false)?,
        }))
    }
}

/// One `pam_limits` task on one host.
#[derive(Debug)]
pub struct PamLimitsAction {
    want: Limit,
    dest: String,
    backup: bool,
}

impl Action for PamLimitsAction {
    fn paths(&self) -> Option<Vec<String>> {
        Some(vec![self.dest.clone()])
    }

    fn saw_missing_parent(&self, probe: &ExecOutput) -> bool {
        file_state::parent_missing(&probe.stdout)
    }

    fn probe(&self) -> Option<String> {
        Some(Probe::new(&self.dest).content_limit(Some(EDIT_LIMIT)).access(true).script())
    }

    fn compare(&mut self, probe: Option<&ExecOutput>) -> Result<Plan, ModuleError> {
        let st = file_state::parse_output(probe)?;
        let dest = self.dest.as_str();
        let is_file = st.exists && st.kind == file_state::FileKind::File;
        if is_file && st.access.is_some_and(|(_, w, _)| !w) {
            return Err(ModuleError::failed(format!("{dest} is not writable. Use sudo")));
        }
        if !is_file && (st.exists || !st.parent_dir) {
            return Err(ModuleError::failed(format!(
                "directory {} is not writable (check presence, access rights, use sudo)",
                file_state::parent_of(dest)
            )));
        }
        if self.want.use_max && self.want.use_min {
            return Err(ModuleError::failed("Cannot use use_min and use_max at the same time."));
        }
        check_value(&self.want.limit_item, &self.want.value, "").map_err(ModuleError::failed)?;
        let original = editable(dest, &st)?;
        let text = original.as_deref().map(String::from_utf8_lossy);
        let e = edit(text.as_deref(), &self.want, dest).map_err(ModuleError::failed)?;
        let new = e.content.as_bytes();
        let content_changed = original.as_deref() != Some(new);
        let mut plan = if content_changed || e.changed {
            let write = WriteFile { backup: self.backup, ..WriteFile::edit(dest, new, &st) };
            let diff = content_diff(dest, &st, new, &sha256_hex(new), &Default::default());
            let mut plan = Plan::change(write.apply()).with_diff(Some(diff));
            plan.changed = e.changed;
            plan
        } else {
            Plan::ok()
        };
        plan.result.insert("changed".into(), plan.changed.into());
        plan.result.insert("msg".into(), e.msg.into());
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

    fn limit(domain: &str, t: &str, item: &str, value: &str) -> Limit {
        Limit {
            domain: domain.into(),
            limit_type: t.into(),
            limit_item: item.into(),
            value: value.into(),
            ..Limit::default()
        }
    }

    #[test]
    fn appends_a_missing_limit_and_keeps_everything_else() {
        let text = "# limits\n\n*  soft  core  0\n";
        let e = edit(Some(text), &limit("joe", "hard", "nofile", "4096"), "/f").unwrap();
        assert_eq!(e.content, "# limits\n\n*  soft  core  0\njoe\thard\tnofile\t4096\n");
        assert!(e.changed);
        assert_eq!(e.msg, "joe\thard\tnofile\t4096\n");
    }

    #[test]
    fn rewrites_the_matching_line_with_its_comment_and_newline() {
        let text = "joe hard nofile 1024 # raised\n";
        let e = edit(Some(text), &limit("joe", "hard", "nofile", "4096"), "/f").unwrap();
        // The old comment keeps its newline: the module leaves a blank line.
        assert_eq!(e.content, "joe\thard\tnofile\t4096\t# raised\n\n");
        let same = edit(Some("joe hard nofile 4096\n"), &limit("joe", "hard", "nofile", "4096"), "/f").unwrap();
        assert!(!same.changed);
        assert_eq!(same.content, "joe hard nofile 4096\n");
    }

    #[test]
    fn use_max_and_use_min() {
        let mut l = limit("*", "soft", "nofile", "100");
        l.use_max = true;
        let e = edit(Some("* soft nofile 200\n"), &l, "/f").unwrap();
        assert!(!e.changed);
        l.use_max = false;
        l.use_min = true;
        let e = edit(Some("* soft nofile unlimited\n"), &l, "/f").unwrap();
        assert_eq!(e.content, "*\tsoft\tnofile\t100\n");
    }

    #[test]
    fn invalid_values_fail_with_the_modules_message() {
        let e = check_value("nofile", "lots", "").unwrap_err();
        assert!(e.starts_with(" Value of 'lots' for item 'nofile' is invalid."), "{e}");
        assert!(check_value("nice", "-21", "").is_err());
        assert!(check_value("nice", "-20", "").is_ok());
        let e = edit(Some("* soft nofile x\n"), &limit("a", "soft", "core", "1"), "/f").unwrap_err();
        assert!(e.starts_with("Invalid configuration found in '/f'. Value of 'x'"), "{e}");
    }

    #[test]
    fn real_probe_and_edit_on_a_hostile_path() {
        let ctx = FakeCtx::default();
        let dir = ctx.root().join(HOSTILE);
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("limits.conf");
        std::fs::write(&file, "# keep\n").unwrap();
        let args = json!({"domain": "@ops", "limit_type": "-", "limit_item": "nproc", "value": "512",
                          "dest": file.to_str().unwrap(), "comment": "ops"});
        let mut a = PamLimits.prepare(&Args::new(&SPEC, args.as_object().unwrap().clone()), &ctx).unwrap();
        let plan = a.compare(Some(&run(&a.probe().unwrap(), b""))).unwrap();
        assert!(plan.changed);
        let apply = plan.apply.clone().unwrap();
        a.finish(plan, &run(&apply.script, &apply.stdin)).unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "# keep\n@ops\t-\tnproc\t512\t#ops\n");
        assert!(!a.compare(Some(&run(&a.probe().unwrap(), b""))).unwrap().changed);
    }
}
