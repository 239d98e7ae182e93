//! `openssl_dhparam`: Diffie-Hellman parameters made on the host with its
//! own `openssl dhparam`, as `community.crypto.openssl_dhparam`'s openssl
//! backend decides it: kept while `openssl dhparam -check -text` reads
//! them, reports the requested size and prints no warning.
//!
//! Why it exists: parameters are slow to make and public; making them on
//! the host saves a transfer and matches what Ansible does. What it must
//! never do: leave a half-written file (temporary file, then rename), or
//! build a shell string from a value by hand.

use super::privatekey::FILE_REFUSED;
use super::Sections;
use crate::modules::file_state::{Attrs, FileKind, FileState};
use crate::modules::{
    Action, ApplyScript, ArgKind, ArgSpec, Args, Diff, Module, ModuleError, ModuleSpec, Plan, ResultMap, TaskContext,
};
use crate::transport::quote::quote;
use crate::transport::ExecOutput;

/// The `openssl_dhparam` module.
pub struct OpensslDhparam;

static SPEC: ModuleSpec = ModuleSpec::new(&[
    ArgSpec::new("path", ArgKind::Str).required(),
    ArgSpec::new("size", ArgKind::Int),
    ArgSpec::new("state", ArgKind::Str).choices(&["present", "absent"]),
    ArgSpec::new("force", ArgKind::Bool),
    ArgSpec::new("backup", ArgKind::Bool),
    ArgSpec::new("return_content", ArgKind::Bool),
    ArgSpec::new("mode", ArgKind::Mode),
    ArgSpec::new("owner", ArgKind::Str),
    ArgSpec::new("group", ArgKind::Str),
])
.refused(FILE_REFUSED);

impl Module for OpensslDhparam {
    fn name(&self) -> &'static str {
        "openssl_dhparam"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: &Args, _ctx: &dyn TaskContext) -> Result<Box<dyn Action>, ModuleError> {
        let size = args.opt_int("size")?.unwrap_or(4096);
        let size = u32::try_from(size)
            .ok()
            .filter(|s| *s >= 512)
            .ok_or_else(|| ModuleError::Arg { arg: "size".into(), message: format!("{size} is too small") })?;
        Ok(Box::new(DhparamAction {
            path: args.str("path")?,
            size,
            force: args.bool_or("force", false)?,
            present: args.choice_or("state", &["present", "absent"], "present")? == "present",
            backup: args.bool_or("backup", false)?,
            return_content: args.bool_or("return_content", false)?,
            attrs: Attrs::from_args(args)?,
        }))
    }
}

/// One `openssl_dhparam` task on one host.
#[derive(Debug)]
pub struct DhparamAction {
    path: String,
    size: u32,
    force: bool,
    present: bool,
    backup: bool,
    return_content: bool,
    attrs: Attrs,
}

/// The size the `-check -text` output reports, when it reports no warning
/// (community.crypto's openssl backend).
pub fn valid_size(text: &str) -> Option<u32> {
    if text.contains("WARNING") {
        return None;
    }
    let rest = text.split("Parameters:").nth(1)?;
    let inner = rest.trim_start().strip_prefix('(')?;
    inner.split(' ').next()?.parse().ok()
}

impl DhparamAction {
    fn result(&self) -> ResultMap {
        let mut r = ResultMap::new();
        r.insert("size".into(), self.size.into());
        r.insert("filename".into(), self.path.clone().into());
        r
    }
}

impl Action for DhparamAction {
    fn probe(&self) -> Option<String> {
        let p = quote(&self.path);
        let mut s = String::from(super::SH_LIB);
        s.push_str(&super::file_state_section("fs", &self.path));
        s.push_str(&format!(
            "if [ -f {p} ]; then\n  if t=$(openssl dhparam -check -text -noout -in {p} 2>&1); then \
             printf '%s\\n' \"$t\" | grep -e 'Parameters:' -e WARNING | blk dh; fi\nfi\n"
        ));
        if self.return_content {
            s.push_str(&format!("if [ -f {p} ]; then blk pem < {p}; fi\n"));
        }
        Some(s)
    }

    fn paths(&self) -> Option<Vec<String>> {
        Some(vec![self.path.clone()])
    }

    fn compare(&mut self, probe: Option<&ExecOutput>) -> Result<Plan, ModuleError> {
        let out = probe.ok_or_else(|| ModuleError::Probe("no probe output".into()))?;
        let sec = Sections::parse(&out.stdout)?;
        let st: FileState = sec.file_state("fs")?;
        if st.exists && st.kind != FileKind::File {
            return Err(ModuleError::failed(format!("{} exists and is not a regular file", self.path)));
        }
        let have = sec.text("dh").and_then(|t| valid_size(&t));
        let before = match have {
            Some(n) => vec![("size", n.to_string())],
            None if st.exists => vec![("state", "present (not valid DH parameters)".to_owned())],
            None => vec![("state", "absent".to_owned())],
        };
        if !self.present {
            let mut plan = if st.exists {
                Plan::change(ApplyScript { script: super::remove_script(&[&self.path]), stdin: Vec::new() })
                    .with_diff(Some(Diff::state(&self.path, &before, &[("state", "absent".to_owned())])))
            } else {
                Plan::ok()
            };
            plan.result = self.result();
            return Ok(plan);
        }
        if !st.parent_dir {
            let dir = crate::modules::file_state::parent_of(&self.path);
            return Err(ModuleError::failed(format!(
                "The directory {dir} does not exist or the file is not a directory"
            )));
        }
        let mut plan = if self.force || have != Some(self.size) {
            let body = format!("openssl dhparam -out \"$tmp\" {} 2>/dev/null\n", self.size);
            let mut script = super::generate_script(&self.path, &self.attrs, None, self.backup, &body);
            if self.return_content {
                script.push_str("blk pem < \"$d\"\n");
            }
            let mut after = vec![("size", self.size.to_string())];
            after.extend(crate::modules::file_state::new_path_attrs(&self.attrs, false).pairs().1);
            Plan::change(ApplyScript { script, stdin: Vec::new() })
                .with_diff(Some(Diff::state(&self.path, &before, &after)))
        } else {
            let mut plan = match super::fix_attrs_script(&self.path, &self.attrs, &st) {
                Some(script) => {
                    let (b, a) = self.attrs.changes(&st).pairs();
                    Plan::change(ApplyScript { script, stdin: Vec::new() })
                        .with_diff(Some(Diff::state(&self.path, &b, &a)))
                }
                None => Plan::ok(),
            };
            if let Some(pem) = sec.text("pem") {
                plan.result.insert("dhparams".into(), pem.into());
            }
            plan
        };
        let extra = std::mem::take(&mut plan.result);
        plan.result = self.result();
        plan.result.extend(extra);
        Ok(plan)
    }

    fn finish(&mut self, mut plan: Plan, out: &ExecOutput) -> Result<Plan, ModuleError> {
        if out.status != 0 {
            return Err(super::failed(out, plan.result));
        }
        let sec = Sections::parse(&out.stdout)?;
        if let Some(pem) = sec.text("pem") {
            plan.result.insert("dhparams".into(), pem.into());
        }
        if let Some(b) = sec.text("backup_file") {
            plan.result.insert("backup_file".into(), b.into());
        }
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_size_comes_from_the_check_output() {
        assert_eq!(valid_size("    DH Parameters: (1024 bit)\n"), Some(1024));
        assert_eq!(valid_size("    DH Parameters: (1024 bit)\nWARNING: p value is not prime\n"), None);
        assert_eq!(valid_size("garbage"), None);
    }
}
