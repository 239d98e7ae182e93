//! Which Ansible settings stead implements, which it refuses, and why.
//!
//! Every setting of [`super::ansible_keys::ANSIBLE_KEYS`] falls in exactly
//! one of three groups: implemented ([`SETTINGS`], each wired into the run),
//! refused ([`REFUSED`]: a value that would change what a run does and that
//! stead cannot honour stops the run, naming the file and line), or tuning
//! (every other one: it only tunes Ansible's own machinery, and is ignored
//! with one warning line per run). A unit test keeps the tables honest.

/// One setting stead implements.
#[derive(Debug)]
pub struct Def {
    /// The name `stead config dump` shows (the ini key).
    pub name: &'static str,
    /// `(section, key)` it is read from; a later one wins, as in Ansible.
    pub keys: &'static [(&'static str, &'static str)],
    /// Environment variables; a later one wins, as in Ansible.
    pub envs: &'static [&'static str],
    /// The command-line flag that beats them, if any.
    pub flag: Option<&'static str>,
    /// What it does in stead (docs/configuration.md says the same).
    pub effect: &'static str,
}

const D: &str = "defaults";
const SSH: &str = "ssh_connection";
const PE: &str = "privilege_escalation";

/// The settings stead implements, in `stead config dump` order.
pub const SETTINGS: &[Def] = &[
    Def {
        name: "inventory",
        keys: &[(D, "inventory")],
        envs: &["ANSIBLE_INVENTORY"],
        flag: Some("-i"),
        effect: "inventory sources (comma-separated) when no -i is given",
    },
    Def {
        name: "forks",
        keys: &[(D, "forks")],
        envs: &["ANSIBLE_FORKS"],
        flag: Some("--forks"),
        effect: "hosts in flight at once",
    },
    Def {
        name: "remote_user",
        keys: &[(D, "remote_user")],
        envs: &["ANSIBLE_REMOTE_USER"],
        flag: Some("--user"),
        effect: "login user when neither ansible_user nor the play's remote_user says",
    },
    Def {
        name: "remote_port",
        keys: &[(D, "remote_port")],
        envs: &["ANSIBLE_REMOTE_PORT"],
        flag: None,
        effect: "ssh port when ansible_port does not say",
    },
    Def {
        name: "private_key_file",
        keys: &[(D, "private_key_file")],
        envs: &["ANSIBLE_PRIVATE_KEY_FILE"],
        flag: None,
        effect: "ssh key (ssh -i) when ansible_ssh_private_key_file does not say",
    },
    Def {
        name: "timeout",
        keys: &[(D, "timeout"), (SSH, "timeout")],
        envs: &["ANSIBLE_TIMEOUT", "ANSIBLE_SSH_TIMEOUT"],
        flag: None,
        effect: "ssh ConnectTimeout in seconds when ansible_ssh_timeout does not say",
    },
    Def {
        name: "host_key_checking",
        keys: &[(D, "host_key_checking"), (SSH, "host_key_checking")],
        envs: &["ANSIBLE_HOST_KEY_CHECKING", "ANSIBLE_SSH_HOST_KEY_CHECKING"],
        flag: Some("--accept-new-host-keys"),
        effect: "False: as --accept-new-host-keys (new hosts' keys recorded, a changed key still refused)",
    },
    Def {
        name: "ssh_args",
        keys: &[(SSH, "ssh_args")],
        envs: &["ANSIBLE_SSH_ARGS"],
        flag: None,
        effect: "arguments given to ssh for every host, split as a shell would (shlex), before the common args",
    },
    Def {
        name: "ssh_common_args",
        keys: &[(SSH, "ssh_common_args")],
        envs: &["ANSIBLE_SSH_COMMON_ARGS"],
        flag: None,
        effect: "ssh arguments when ansible_ssh_common_args does not say",
    },
    Def {
        name: "ssh_extra_args",
        keys: &[(SSH, "ssh_extra_args")],
        envs: &["ANSIBLE_SSH_EXTRA_ARGS"],
        flag: None,
        effect: "ssh arguments when ansible_ssh_extra_args does not say",
    },
    Def {
        name: "control_path_dir",
        keys: &[(SSH, "control_path_dir")],
        envs: &["ANSIBLE_SSH_CONTROL_PATH_DIR"],
        flag: None,
        effect: "directory (created 0700) that holds the ssh masters' sockets",
    },
    Def {
        name: "become",
        keys: &[(PE, "become")],
        envs: &["ANSIBLE_BECOME"],
        flag: Some("--become"),
        effect: "escalate privileges unless the play, task or ansible_become says otherwise",
    },
    Def {
        name: "become_user",
        keys: &[(PE, "become_user")],
        envs: &["ANSIBLE_BECOME_USER"],
        flag: Some("--become-user"),
        effect: "user to become unless the play, task or ansible_become_user says otherwise",
    },
    Def {
        name: "become_method",
        keys: &[(PE, "become_method")],
        envs: &["ANSIBLE_BECOME_METHOD"],
        flag: None,
        effect: "sudo, su or doas, unless the play, task or ansible_become_method says otherwise",
    },
    Def {
        name: "gathering",
        keys: &[(D, "gathering")],
        envs: &["ANSIBLE_GATHERING"],
        flag: None,
        effect: "explicit: plays gather facts only with `gather_facts: true`; implicit, smart: unless `false`",
    },
    Def {
        name: "hash_behaviour",
        keys: &[(D, "hash_behaviour")],
        envs: &["ANSIBLE_HASH_BEHAVIOUR"],
        flag: None,
        effect: "replace (dictionaries of a higher layer replace lower ones); merge is refused",
    },
    Def {
        name: "force_handlers",
        keys: &[(D, "force_handlers")],
        envs: &["ANSIBLE_FORCE_HANDLERS"],
        flag: Some("--force-handlers"),
        effect: "notified handlers run even when a later task fails",
    },
    Def {
        name: "ansible_managed",
        keys: &[(D, "ansible_managed")],
        envs: &[],
        flag: None,
        effect: "the value of the `ansible_managed` template variable",
    },
    Def {
        name: "home",
        keys: &[(D, "home")],
        envs: &["ANSIBLE_HOME"],
        flag: None,
        effect: "base of the default roles and collections paths",
    },
    Def {
        name: "roles_path",
        keys: &[(D, "roles_path")],
        envs: &["ANSIBLE_ROLES_PATH"],
        flag: Some("--roles-path"),
        effect: "role folders (colon-separated), after those of --roles-path",
    },
    Def {
        name: "collections_path",
        keys: &[(D, "collections_paths"), (D, "collections_path")],
        envs: &["ANSIBLE_COLLECTIONS_PATHS", "ANSIBLE_COLLECTIONS_PATH"],
        flag: None,
        effect: "folders holding ansible_collections/ (colon-separated)",
    },
    Def {
        name: "vault_password_file",
        keys: &[(D, "vault_password_file")],
        envs: &["ANSIBLE_VAULT_PASSWORD_FILE"],
        flag: Some("--vault-password-file"),
        effect: "a vault password file (or an executable printing it), tried after the command line's",
    },
    Def {
        name: "become_ask_pass",
        keys: &[(PE, "become_ask_pass")],
        envs: &["ANSIBLE_BECOME_ASK_PASS"],
        flag: Some("-K"),
        effect: "True: ask for the become password once, as -K does (a --become-password-file flag wins)",
    },
    Def {
        name: "become_password_file",
        keys: &[(D, "become_password_file")],
        envs: &["ANSIBLE_BECOME_PASSWORD_FILE"],
        flag: Some("--become-password-file"),
        effect: "a file holding the become password (or an executable printing it), when neither -K nor \
                 --become-password-file is given",
    },
    Def {
        name: "vault_identity_list",
        keys: &[(D, "vault_identity_list")],
        envs: &["ANSIBLE_VAULT_IDENTITY_LIST"],
        flag: Some("--vault-id"),
        effect: "vault ids (LABEL@SOURCE, comma-separated), tried before the command line's",
    },
    Def {
        name: "vault_encrypt_identity",
        keys: &[(D, "vault_encrypt_identity")],
        envs: &["ANSIBLE_VAULT_ENCRYPT_IDENTITY"],
        flag: Some("--encrypt-vault-id"),
        effect: "the vault id stead vault encrypts with when several are given",
    },
];

/// A setting stead refuses when its value would change what a run does.
#[derive(Debug)]
pub struct Refused {
    /// Its section.
    pub section: &'static str,
    /// Its key.
    pub key: &'static str,
    /// Its environment variables.
    pub envs: &'static [&'static str],
    /// Whether a value is one stead already behaves as (Ansible's default,
    /// or stead's fixed behaviour): those are accepted silently.
    pub accepts: fn(&str) -> bool,
    /// Why it is refused and what to do instead.
    pub why: &'static str,
}

fn is_false(v: &str) -> bool {
    super::boolean(v) == Some(false)
}

fn is_true(v: &str) -> bool {
    super::boolean(v) == Some(true)
}

fn is_empty(v: &str) -> bool {
    v.trim().is_empty() || v.trim() == "[]"
}

fn is_zero(v: &str) -> bool {
    v.trim() == "0"
}

/// Refused settings (when their value is not accepted).
pub const REFUSED: &[Refused] = &[
    Refused {
        section: D,
        key: "any_errors_fatal",
        envs: &["ANSIBLE_ANY_ERRORS_FATAL"],
        accepts: is_false,
        why: "set `any_errors_fatal: true` on the plays instead",
    },
    Refused {
        section: D,
        key: "ask_pass",
        envs: &["ANSIBLE_ASK_PASS"],
        accepts: is_false,
        why: "stead never types a login password; use an ssh key or agent",
    },
    Refused {
        section: D,
        key: "ask_sudo_pass",
        envs: &["ANSIBLE_ASK_SUDO_PASS"],
        accepts: is_false,
        why: "set become_ask_pass in [privilege_escalation] or give -K/--ask-become-pass instead",
    },
    Refused {
        section: D,
        key: "ask_vault_pass",
        envs: &["ANSIBLE_ASK_VAULT_PASS"],
        accepts: is_false,
        why: "give --ask-vault-pass on the command line",
    },
    Refused {
        section: D,
        key: "vault_identity",
        envs: &["ANSIBLE_VAULT_IDENTITY"],
        accepts: |v| v.trim() == "default",
        why: "vault ids are not read from the configuration",
    },
    Refused {
        section: D,
        key: "vault_id_match",
        envs: &["ANSIBLE_VAULT_ID_MATCH"],
        accepts: is_false,
        why: "vault ids are not read from the configuration",
    },
    Refused {
        section: D,
        key: "vault_encrypt_salt",
        envs: &["ANSIBLE_VAULT_ENCRYPT_SALT"],
        accepts: is_empty,
        why: "stead always encrypts with a random salt",
    },
    Refused {
        section: D,
        key: "connection_password_file",
        envs: &["ANSIBLE_CONNECTION_PASSWORD_FILE"],
        accepts: is_empty,
        why: "stead never types a login password; use an ssh key or agent",
    },
    Refused {
        section: D,
        key: "error_on_undefined_vars",
        envs: &["ANSIBLE_ERROR_ON_UNDEFINED_VARS"],
        accepts: is_true,
        why: "stead always stops on an undefined variable; give it a default (`| default(...)`)",
    },
    Refused {
        section: D,
        key: "error_on_missing_handler",
        envs: &["ANSIBLE_ERROR_ON_MISSING_HANDLER"],
        accepts: is_true,
        why: "stead always refuses a notify that names no handler",
    },
    Refused {
        section: D,
        key: "invalid_task_attribute_failed",
        envs: &["ANSIBLE_INVALID_TASK_ATTRIBUTE_FAILED"],
        accepts: is_true,
        why: "stead always refuses an unknown task keyword",
    },
    Refused {
        section: D,
        key: "inject_facts_as_vars",
        envs: &["ANSIBLE_INJECT_FACT_VARS"],
        accepts: is_true,
        why: "stead always gives facts as ansible_* variables too",
    },
    Refused {
        section: D,
        key: "executable",
        envs: &["ANSIBLE_EXECUTABLE"],
        accepts: |v| matches!(v.trim(), "/bin/sh" | "sh"),
        why: "stead's scripts run with `sh`",
    },
    Refused {
        section: D,
        key: "jinja2_extensions",
        envs: &["ANSIBLE_JINJA2_EXTENSIONS"],
        accepts: is_empty,
        why: "stead's templates have Ansible's filters and tests, no Jinja2 extensions",
    },
    Refused {
        section: D,
        key: "jinja2_native",
        envs: &["ANSIBLE_JINJA2_NATIVE"],
        accepts: is_false,
        why: "stead keeps the type of a lone `{{ expr }}` and renders everything else as text",
    },
    Refused {
        section: D,
        key: "module_name",
        envs: &[],
        accepts: |v| v.trim() == "command",
        why: "`stead exec` runs `command` unless -m names a module; give -m",
    },
    Refused {
        section: D,
        key: "module_args",
        envs: &["ANSIBLE_MODULE_ARGS"],
        accepts: is_empty,
        why: "give the arguments with -a",
    },
    Refused {
        section: D,
        key: "no_log",
        envs: &["ANSIBLE_NO_LOG"],
        accepts: is_false,
        why: "set `no_log: true` on the plays or tasks instead",
    },
    Refused {
        section: D,
        key: "precedence",
        envs: &["ANSIBLE_PRECEDENCE"],
        accepts: is_empty,
        why: "stead layers variables in Ansible's default order only",
    },
    Refused {
        section: D,
        key: "private_role_vars",
        envs: &["ANSIBLE_PRIVATE_ROLE_VARS"],
        accepts: is_false,
        why: "role variables are visible to the whole play, as Ansible's default",
    },
    Refused {
        section: D,
        key: "playbook_vars_root",
        envs: &["ANSIBLE_PLAYBOOK_VARS_ROOT"],
        accepts: |v| v.trim() == "top",
        why: "stead reads group_vars/host_vars beside the playbooks and inventory only",
    },
    Refused {
        section: D,
        key: "strategy",
        envs: &["ANSIBLE_STRATEGY"],
        accepts: |v| v.trim() == "linear",
        why: "set `strategy:` on the plays instead",
    },
    Refused {
        section: D,
        key: "su",
        envs: &["ANSIBLE_SU"],
        accepts: is_false,
        why: "set become_method = su in [privilege_escalation] instead",
    },
    Refused {
        section: D,
        key: "sudo_user",
        envs: &["ANSIBLE_SUDO_USER"],
        accepts: is_empty,
        why: "set become_user in [privilege_escalation] instead",
    },
    Refused {
        section: D,
        key: "sudo_exe",
        envs: &["ANSIBLE_SUDO_EXE"],
        accepts: |v| is_empty(v) || v.trim() == "sudo",
        why: "stead runs the `sudo` of the PATH",
    },
    Refused {
        section: D,
        key: "sudo_flags",
        envs: &["ANSIBLE_SUDO_FLAGS"],
        accepts: is_empty,
        why: "stead runs `sudo -H -u USER` (with -n, or -A given a password); other flags are not passed",
    },
    Refused {
        section: D,
        key: "task_timeout",
        envs: &["ANSIBLE_TASK_TIMEOUT"],
        accepts: is_zero,
        why: "a default task timeout is not implemented",
    },
    Refused {
        section: D,
        key: "transport",
        envs: &["ANSIBLE_TRANSPORT"],
        accepts: |v| matches!(v.trim(), "ssh" | "smart" | "openssh"),
        why: "stead connects with ssh; set `ansible_connection: local` on the hosts that need it",
    },
    Refused {
        section: D,
        key: "duplicate_dict_key",
        envs: &["ANSIBLE_DUPLICATE_YAML_DICT_KEY"],
        accepts: |v| v.trim() == "warn",
        why: "stead warns about a duplicate YAML key and keeps the last",
    },
    Refused {
        section: D,
        key: "allow_unsafe_lookups",
        envs: &[],
        accepts: is_false,
        why: "stead never templates the result of a lookup",
    },
    Refused {
        section: D,
        key: "hostfile",
        envs: &[],
        accepts: is_empty,
        why: "the old name of `inventory`: rename it",
    },
    Refused {
        section: PE,
        key: "become_exe",
        envs: &["ANSIBLE_BECOME_EXE", "ANSIBLE_SUDO_EXE", "ANSIBLE_SU_EXE"],
        accepts: |v| is_empty(v) || matches!(v.trim(), "sudo" | "su" | "doas"),
        why: "stead runs the `sudo`, `su` or `doas` of the PATH",
    },
    Refused {
        section: PE,
        key: "become_flags",
        envs: &["ANSIBLE_BECOME_FLAGS", "ANSIBLE_SUDO_FLAGS", "ANSIBLE_SU_FLAGS"],
        accepts: is_empty,
        why: "stead runs `sudo -H -u USER` (with -n, or -A given a password); other flags are not passed",
    },
    Refused {
        section: PE,
        key: "become_allow_same_user",
        envs: &["ANSIBLE_BECOME_ALLOW_SAME_USER"],
        accepts: is_false,
        why: "not implemented",
    },
    Refused {
        section: SSH,
        key: "retries",
        envs: &["ANSIBLE_SSH_RETRIES"],
        accepts: is_zero,
        why: "stead does not retry a failed connection: the host is reported unreachable (exit bit 8)",
    },
    Refused {
        section: "connection",
        key: "retries",
        envs: &[],
        accepts: is_zero,
        why: "stead does not retry a failed connection: the host is reported unreachable (exit bit 8)",
    },
    Refused {
        section: SSH,
        key: "ssh_executable",
        envs: &["ANSIBLE_SSH_EXECUTABLE"],
        accepts: |v| v.trim() == "ssh",
        why: "stead runs the `ssh` of the PATH",
    },
    Refused {
        section: SSH,
        key: "scp_extra_args",
        envs: &["ANSIBLE_SCP_EXTRA_ARGS"],
        accepts: is_empty,
        why: "stead transfers files over the ssh session, not scp",
    },
    Refused {
        section: SSH,
        key: "sftp_extra_args",
        envs: &["ANSIBLE_SFTP_EXTRA_ARGS"],
        accepts: is_empty,
        why: "stead transfers files over the ssh session, not sftp",
    },
    Refused {
        section: SSH,
        key: "pkcs11_provider",
        envs: &["ANSIBLE_PKCS11_PROVIDER"],
        accepts: is_empty,
        why: "pass `-o PKCS11Provider=...` in ssh_args instead",
    },
    Refused {
        section: "tags",
        key: "run",
        envs: &["ANSIBLE_RUN_TAGS"],
        accepts: is_empty,
        why: "give -t/--tags on the command line",
    },
    Refused {
        section: "tags",
        key: "skip",
        envs: &["ANSIBLE_SKIP_TAGS"],
        accepts: is_empty,
        why: "give --skip-tags on the command line",
    },
    Refused {
        section: "diff",
        key: "always",
        envs: &["ANSIBLE_DIFF_ALWAYS"],
        accepts: is_false,
        why: "give -D/--diff on the command line (stead plan always shows diffs)",
    },
];

/// Sections whose keys stead classifies one by one; any other section
/// (colors, galaxy, inventory plugins, callbacks, ...) only tunes Ansible.
pub const SECTIONS: &[&str] = &["defaults", "ssh_connection", "privilege_escalation", "connection"];

#[cfg(test)]
mod tests {
    use super::super::ansible_keys::ANSIBLE_KEYS;
    use super::*;

    fn known(section: &str, key: &str) -> bool {
        ANSIBLE_KEYS.iter().any(|(s, k, _)| *s == section && *k == key)
    }

    #[test]
    fn every_implemented_or_refused_key_is_an_ansible_key() {
        for def in SETTINGS {
            for (s, k) in def.keys {
                assert!(known(s, k), "[{s}] {k} of {}", def.name);
            }
        }
        for r in REFUSED {
            assert!(!SECTIONS.contains(&r.section) || known(r.section, r.key), "[{}] {}", r.section, r.key);
            assert!(
                !SETTINGS.iter().any(|d| d.keys.contains(&(r.section, r.key))),
                "[{}] {} is both implemented and refused",
                r.section,
                r.key
            );
        }
    }

    #[test]
    fn docs_configuration_md_names_every_implemented_and_refused_key() {
        let docs = include_str!("../../docs/configuration.md");
        for def in SETTINGS {
            assert!(docs.contains(&format!("| `{}` |", def.name)), "{} is not in docs/configuration.md", def.name);
        }
        for r in REFUSED {
            assert!(docs.contains(&format!("| `{}` | [{}]", r.key, r.section)), "[{}] {}", r.section, r.key);
        }
    }

    #[test]
    fn accepted_values_are_what_stead_already_does() {
        let find = |k: &str| REFUSED.iter().find(|r| r.key == k).unwrap();
        assert!((find("any_errors_fatal").accepts)("False"));
        assert!(!(find("any_errors_fatal").accepts)("yes"));
        assert!((find("strategy").accepts)("linear"));
        assert!(!(find("strategy").accepts)("free"));
        assert!((find("vault_encrypt_salt").accepts)(""));
        assert!(!(find("vault_encrypt_salt").accepts)("pepper"));
    }
}
