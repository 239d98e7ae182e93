//! `template`: render a Jinja2 template on the controller and put the result
//! on the host, as Ansible's `ansible.builtin.template`.
//!
//! The template is found with [`TaskContext::find_file`] (beside the
//! playbook, in `templates/`, in the role) and rendered with the host's
//! variables by [`TaskContext::render`]; from there on it is exactly `copy`
//! with `content` (see [`super::copy::PutFile`]): one probe, a pure
//! SHA-256/attribute comparison, one atomic write with the text on stdin.
//!
//! This module never builds a shell string by hand: every value goes
//! through [`crate::transport::quote::quote`].

use super::copy::PutFile;
use super::{Action, ArgKind, ArgSpec, Args, Module, ModuleError, ModuleSpec, TaskContext};

/// The `template` module.
pub struct Template;

static SPEC: ModuleSpec = ModuleSpec::new(&[
    ArgSpec::new("src", ArgKind::Str).required(),
    ArgSpec::new("dest", ArgKind::Str).required(),
    ArgSpec::new("mode", ArgKind::Mode),
    ArgSpec::new("owner", ArgKind::Str),
    ArgSpec::new("group", ArgKind::Str),
    ArgSpec::new("backup", ArgKind::Bool),
    ArgSpec::new("force", ArgKind::Bool),
    ArgSpec::new("follow", ArgKind::Bool),
    ArgSpec::new("validate", ArgKind::Str),
]);

impl Module for Template {
    fn name(&self) -> &'static str {
        "template"
    }
    fn local_file(&self) -> Option<super::LocalFile> {
        Some(super::LocalFile { arg: "src", subdir: "templates", template: true })
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: &Args, ctx: &dyn TaskContext) -> Result<Box<dyn Action>, ModuleError> {
        let name = args.str("src")?;
        let dest = args.str("dest")?;
        let path = ctx.find_file(&name, "templates")?;
        // A vault-encrypted template is decrypted, as Ansible's loader does.
        let (bytes, vaulted) = super::read_local_file(&path, true)?;
        let source = String::from_utf8(bytes).map_err(|_| ModuleError::LocalFile {
            path: path.clone(),
            message: "the template is not UTF-8 text".into(),
        })?;
        let text = ctx.render(&source, &name)?;
        if vaulted {
            // What a vaulted template renders to is as secret as the template.
            crate::vault::mask::register(&text);
        }
        Ok(Box::new(PutFile::new(args, dest, text.into_bytes(), Some(name))?.in_check_mode(ctx.check_mode())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::file_write::testing::{run, FakeCtx, HOSTILE};
    use crate::transport::ExecOutput;
    use serde_json::json;

    fn args(v: serde_json::Value) -> Args {
        Args::new(&SPEC, v.as_object().unwrap().clone())
    }

    #[test]
    fn renders_and_diffs_against_the_remote_file() {
        let ctx = FakeCtx::default();
        ctx.add_file("templates/motd.j2", b"hello {{ who }}\n");
        let mut a = Template.prepare(&args(json!({"src": "motd.j2", "dest": "/etc/motd"})), &ctx).unwrap();
        let probe = b"stead-file-state 1\nparent-dir\nstat 81a4 0 0 6 1 1 1 1 1 1 root root\n\
             sha256 00\ncontent 6\nhello\n\nend\n";
        let plan = a.compare(Some(&ExecOutput { status: 0, stdout: probe.to_vec(), stderr: vec![] })).unwrap();
        assert!(plan.changed);
        assert_eq!(plan.apply.unwrap().stdin, b"hello world\n");
        assert!(plan.diff.unwrap().unified().contains("-hello\n+hello world\n"));
    }

    #[test]
    fn render_errors_and_missing_templates_fail_prepare() {
        let ctx = FakeCtx::default();
        ctx.add_file("templates/bad.j2", b"{{ missing }}");
        let e = Template.prepare(&args(json!({"src": "bad.j2", "dest": "/x"})), &ctx).err().unwrap();
        assert!(matches!(e, ModuleError::Template(_)));
        let e = Template.prepare(&args(json!({"src": "nope.j2", "dest": "/x"})), &ctx).err().unwrap();
        assert!(matches!(e, ModuleError::LocalFile { .. }));
    }

    #[test]
    fn real_template_into_hostile_path_is_idempotent() {
        let ctx = FakeCtx::default();
        ctx.add_file("templates/t.j2", b"hi {{ who }}\n");
        let dir = ctx.root().join(HOSTILE);
        std::fs::create_dir(&dir).unwrap();
        let dest = dir.join("out $(x).conf");
        let mut a = Template
            .prepare(&args(json!({"src": "t.j2", "dest": dest.to_str().unwrap(), "mode": "0600"})), &ctx)
            .unwrap();
        let out = run(&a.probe().unwrap(), b"");
        let plan = a.compare(Some(&out)).unwrap();
        assert!(plan.changed);
        let apply = plan.apply.clone().unwrap();
        let res = run(&apply.script, &apply.stdin);
        let plan = a.finish(plan, &res).unwrap();
        assert_eq!(plan.result["mode"], "0600");
        assert_eq!(std::fs::read(&dest).unwrap(), b"hi world\n");
        let out = run(&a.probe().unwrap(), b"");
        assert!(!a.compare(Some(&out)).unwrap().changed);
    }
}
