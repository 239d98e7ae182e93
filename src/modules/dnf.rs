//! `dnf` and `yum` (which Ansible 2.18 redirects to `dnf`): argument
//! validation only, so that a playbook written for several distributions
//! loads, its rpm tasks are checked like any other (names, types, choices,
//! with file:line:col), and they are skipped by their `when:` on Debian
//! hosts. A task that does run fails with a message saying stead does not
//! manage rpm packages yet: it never pretends to have done anything.

use super::{Action, ArgKind, ArgSpec, Args, Module, ModuleError, ModuleSpec, TaskContext};

/// The `dnf` module.
pub struct Dnf;
/// The `yum` module (Ansible's redirect to `dnf`).
pub struct Yum;

static SPEC: ModuleSpec = ModuleSpec::new(&[
    ArgSpec::new("name", ArgKind::List).aliases(&["pkg"]),
    ArgSpec::new("state", ArgKind::Str).choices(&["absent", "installed", "latest", "present", "removed"]),
    ArgSpec::new("list", ArgKind::Str),
    ArgSpec::new("update_cache", ArgKind::Bool).aliases(&["expire-cache"]),
    ArgSpec::new("allow_downgrade", ArgKind::Bool),
    ArgSpec::new("allowerasing", ArgKind::Bool),
    ArgSpec::new("autoremove", ArgKind::Bool),
    ArgSpec::new("best", ArgKind::Bool),
    ArgSpec::new("nobest", ArgKind::Bool),
    ArgSpec::new("bugfix", ArgKind::Bool),
    ArgSpec::new("cacheonly", ArgKind::Bool),
    ArgSpec::new("conf_file", ArgKind::Str),
    ArgSpec::new("disable_excludes", ArgKind::Str),
    ArgSpec::new("disable_gpg_check", ArgKind::Bool),
    ArgSpec::new("disable_plugin", ArgKind::List),
    ArgSpec::new("disablerepo", ArgKind::List),
    ArgSpec::new("download_only", ArgKind::Bool),
    ArgSpec::new("download_dir", ArgKind::Str),
    ArgSpec::new("enable_plugin", ArgKind::List),
    ArgSpec::new("enablerepo", ArgKind::List),
    ArgSpec::new("exclude", ArgKind::List),
    ArgSpec::new("installroot", ArgKind::Str),
    ArgSpec::new("install_repoquery", ArgKind::Bool),
    ArgSpec::new("install_weak_deps", ArgKind::Bool),
    ArgSpec::new("releasever", ArgKind::Str),
    ArgSpec::new("security", ArgKind::Bool),
    ArgSpec::new("skip_broken", ArgKind::Bool),
    ArgSpec::new("update_only", ArgKind::Bool),
    ArgSpec::new("validate_certs", ArgKind::Bool),
    ArgSpec::new("sslverify", ArgKind::Bool),
    ArgSpec::new("lock_timeout", ArgKind::Int),
    ArgSpec::new("use_backend", ArgKind::Str).choices(&["auto", "dnf", "yum", "yum4", "dnf4", "dnf5"]),
])
.one_of(&[&["name", "list", "update_cache"]])
.exclusive(&[("name", "list"), ("best", "nobest")]);

fn refuse(module: &str) -> ModuleError {
    ModuleError::failed(format!(
        "stead does not manage rpm packages yet: `{module}` tasks are validated but cannot run; \
         guard them with `when: ansible_facts.os_family == 'RedHat'` or use the `apt` module on Debian hosts"
    ))
}

impl Module for Dnf {
    fn name(&self) -> &'static str {
        "dnf"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, _args: &Args, _ctx: &dyn TaskContext) -> Result<Box<dyn Action>, ModuleError> {
        Err(refuse("dnf"))
    }
}

impl Module for Yum {
    fn name(&self) -> &'static str {
        "yum"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, _args: &Args, _ctx: &dyn TaskContext) -> Result<Box<dyn Action>, ModuleError> {
        Err(refuse("yum"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::file_write::testing::FakeCtx;
    use crate::modules::spec::check_node;

    #[test]
    fn arguments_are_checked_and_a_run_is_refused() {
        let load = |t: &str| crate::yaml::load_str(t, std::path::Path::new("t.yml")).unwrap().root;
        let doc = load("name: [httpd]\nstate: installed\nenablerepo: epel\n");
        assert!(check_node(&SPEC, doc.as_map().unwrap()).is_empty());
        let doc = load("name: httpd\nstate: instaled\n");
        let issues = check_node(&SPEC, doc.as_map().unwrap());
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert!(issues[0].message.contains("must be one of"));
        let e = Dnf.prepare(&Args::default(), &FakeCtx::default()).err().unwrap().to_string();
        assert!(e.starts_with("stead does not manage rpm packages yet"), "{e}");
    }
}
