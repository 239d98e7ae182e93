//! The settings stead shares with Ansible: `ansible.cfg` and the
//! `ANSIBLE_*` variables that name where roles and collections live.
//!
//! ansible.cfg is found as Ansible finds it: `$ANSIBLE_CONFIG`, then
//! `./ansible.cfg`, then `~/.ansible.cfg`, then `/etc/ansible/ansible.cfg`;
//! the first that exists wins. Only the keys stead uses are read; the
//! others are left to Ansible. This module reads files and the environment
//! it is given; it never contacts a host.

use std::path::{Path, PathBuf};

/// Where roles and collections are searched (besides the playbook's folder).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchPaths {
    /// Role folders, in search order (`--roles-path`, `ANSIBLE_ROLES_PATH`,
    /// `roles_path`, Ansible's defaults).
    pub roles: Vec<PathBuf>,
    /// Folders holding `ansible_collections/` (`ANSIBLE_COLLECTIONS_PATH`,
    /// `collections_path`, Ansible's defaults).
    pub collections: Vec<PathBuf>,
}

/// The `[defaults]` keys of an ansible.cfg that stead reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnsibleCfg {
    /// The file it came from.
    pub path: Option<PathBuf>,
    /// `roles_path`.
    pub roles_path: Option<String>,
    /// `collections_path` (or the older `collections_paths`).
    pub collections_path: Option<String>,
    /// `inventory`.
    pub inventory: Option<String>,
    /// `vault_password_file` (a file, or an executable printing the password).
    pub vault_password_file: Option<String>,
    /// `vault_identity_list`: `LABEL@SOURCE` entries, comma-separated.
    pub vault_identity_list: Option<String>,
    /// `vault_encrypt_identity`: the label new vaults are encrypted with.
    pub vault_encrypt_identity: Option<String>,
}

/// Reads the `[defaults]` section of an ansible.cfg text (INI, `;` and `#`
/// comments, `key = value` or `key: value`).
pub fn parse_cfg(text: &str) -> AnsibleCfg {
    let mut cfg = AnsibleCfg::default();
    let mut in_defaults = false;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            in_defaults = section.trim() == "defaults";
            continue;
        }
        if !in_defaults {
            continue;
        }
        let Some((key, value)) = line.split_once(['=', ':']) else { continue };
        let value = value.trim().to_owned();
        match key.trim() {
            "roles_path" => cfg.roles_path = Some(value),
            "collections_path" | "collections_paths" => cfg.collections_path = Some(value),
            "inventory" => cfg.inventory = Some(value),
            "vault_password_file" => cfg.vault_password_file = Some(value),
            "vault_identity_list" => cfg.vault_identity_list = Some(value),
            "vault_encrypt_identity" => cfg.vault_encrypt_identity = Some(value),
            _ => {}
        }
    }
    cfg
}

/// Finds and reads the ansible.cfg Ansible would use.
pub fn load_cfg(env: &dyn Fn(&str) -> Option<String>, cwd: &Path) -> AnsibleCfg {
    let home = env("HOME").map(PathBuf::from);
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(p) = env("ANSIBLE_CONFIG").filter(|p| !p.is_empty()) {
        candidates.push(PathBuf::from(p));
    }
    candidates.push(cwd.join("ansible.cfg"));
    if let Some(h) = &home {
        candidates.push(h.join(".ansible.cfg"));
    }
    candidates.push(PathBuf::from("/etc/ansible/ansible.cfg"));
    for path in candidates {
        if let Ok(text) = std::fs::read_to_string(&path) {
            return AnsibleCfg { path: Some(path), ..parse_cfg(&text) };
        }
    }
    AnsibleCfg::default()
}

/// The default vault password file, as Ansible finds it:
/// `ANSIBLE_VAULT_PASSWORD_FILE`, else `vault_password_file` of ansible.cfg
/// (`~` expanded, a relative path taken against the ansible.cfg's folder).
pub fn default_vault_password_file(env: &dyn Fn(&str) -> Option<String>, cfg: &AnsibleCfg) -> Option<PathBuf> {
    let home = env("HOME").map(PathBuf::from);
    if let Some(p) = env("ANSIBLE_VAULT_PASSWORD_FILE").filter(|p| !p.is_empty()) {
        return Some(match (p.strip_prefix("~/"), &home) {
            (Some(rest), Some(h)) => h.join(rest),
            _ => PathBuf::from(p),
        });
    }
    let value = cfg.vault_password_file.as_deref().filter(|v| !v.is_empty())?;
    let base = cfg.path.as_deref().and_then(Path::parent).unwrap_or(Path::new("."));
    path_list(value, base, home.as_deref()).into_iter().next()
}

/// The default vault ids, put before those of the command line as Ansible
/// does: `ANSIBLE_VAULT_IDENTITY_LIST`, else `vault_identity_list`.
pub fn default_vault_ids(env: &dyn Fn(&str) -> Option<String>, cfg: &AnsibleCfg) -> Vec<String> {
    let list = env("ANSIBLE_VAULT_IDENTITY_LIST").or_else(|| cfg.vault_identity_list.clone()).unwrap_or_default();
    list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

/// The label to encrypt with when `--encrypt-vault-id` is not given:
/// `ANSIBLE_VAULT_ENCRYPT_IDENTITY`, else `vault_encrypt_identity`.
pub fn default_encrypt_vault_id(env: &dyn Fn(&str) -> Option<String>, cfg: &AnsibleCfg) -> Option<String> {
    env("ANSIBLE_VAULT_ENCRYPT_IDENTITY").or_else(|| cfg.vault_encrypt_identity.clone()).filter(|s| !s.is_empty())
}

/// A colon-separated path list, `~` expanded, relative entries taken
/// against `base` (the ansible.cfg's folder, as Ansible does).
fn path_list(text: &str, base: &Path, home: Option<&Path>) -> Vec<PathBuf> {
    text.split(':')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| match (p.strip_prefix("~/"), home) {
            (Some(rest), Some(h)) => h.join(rest),
            _ if Path::new(p).is_absolute() => PathBuf::from(p),
            _ => base.join(p),
        })
        .collect()
}

/// The search paths, from the command line, the environment and ansible.cfg,
/// in Ansible's precedence order.
pub fn search_paths(
    roles_flag: &[PathBuf],
    env: &dyn Fn(&str) -> Option<String>,
    cfg: &AnsibleCfg,
    cwd: &Path,
) -> SearchPaths {
    let home = env("HOME").map(PathBuf::from);
    let cfg_dir = cfg.path.as_deref().and_then(Path::parent).unwrap_or(cwd).to_path_buf();
    let mut roles: Vec<PathBuf> = roles_flag.to_vec();
    match (env("ANSIBLE_ROLES_PATH"), &cfg.roles_path) {
        (Some(p), _) => roles.extend(path_list(&p, cwd, home.as_deref())),
        (None, Some(p)) => roles.extend(path_list(p, &cfg_dir, home.as_deref())),
        (None, None) => roles.extend(path_list(
            "~/.ansible/roles:/usr/share/ansible/roles:/etc/ansible/roles",
            cwd,
            home.as_deref(),
        )),
    }
    let collections = match (env("ANSIBLE_COLLECTIONS_PATH"), &cfg.collections_path) {
        (Some(p), _) => path_list(&p, cwd, home.as_deref()),
        (None, Some(p)) => path_list(p, &cfg_dir, home.as_deref()),
        (None, None) => path_list("~/.ansible/collections:/usr/share/ansible/collections", cwd, home.as_deref()),
    };
    SearchPaths { roles, collections }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_vault_password_file_comes_from_the_environment_then_ansible_cfg() {
        let cfg = AnsibleCfg {
            path: Some(PathBuf::from("/proj/ansible.cfg")),
            vault_password_file: Some("secrets/pw".into()),
            ..AnsibleCfg::default()
        };
        let none = |_: &str| None;
        assert_eq!(default_vault_password_file(&none, &cfg), Some(PathBuf::from("/proj/secrets/pw")));
        let env = |k: &str| (k == "ANSIBLE_VAULT_PASSWORD_FILE").then(|| "/run/pw".to_owned());
        assert_eq!(default_vault_password_file(&env, &cfg), Some(PathBuf::from("/run/pw")));
        assert_eq!(default_vault_password_file(&none, &AnsibleCfg::default()), None);
        assert_eq!(
            parse_cfg("[defaults]\nvault_password_file = ~/.pw\n").vault_password_file.as_deref(),
            Some("~/.pw")
        );
    }

    #[test]
    fn reads_the_defaults_section_only() {
        let cfg = parse_cfg(
            "# comment\n[defaults]\nroles_path = ./roles:~/more\ninventory: hosts.ini\n[ssh_connection]\nroles_path = no\n",
        );
        assert_eq!(cfg.roles_path.as_deref(), Some("./roles:~/more"));
        assert_eq!(cfg.inventory.as_deref(), Some("hosts.ini"));
    }

    #[test]
    fn flag_then_environment_then_cfg_then_defaults() {
        let cwd = Path::new("/work/p");
        let env_with = |roles: Option<&'static str>| {
            move |k: &str| match k {
                "HOME" => Some("/home/u".to_owned()),
                "ANSIBLE_ROLES_PATH" => roles.map(str::to_owned),
                _ => None,
            }
        };
        let cfg = AnsibleCfg {
            path: Some(PathBuf::from("/work/p/ansible.cfg")),
            roles_path: Some("r1:~/r2".into()),
            ..AnsibleCfg::default()
        };
        let flag = vec![PathBuf::from("/flag")];
        let p = search_paths(&flag, &env_with(Some("/env1:/env2")), &cfg, cwd);
        assert_eq!(p.roles, vec![PathBuf::from("/flag"), PathBuf::from("/env1"), PathBuf::from("/env2")]);
        let p = search_paths(&[], &env_with(None), &cfg, cwd);
        assert_eq!(p.roles, vec![PathBuf::from("/work/p/r1"), PathBuf::from("/home/u/r2")]);
        let p = search_paths(&[], &env_with(None), &AnsibleCfg::default(), cwd);
        assert_eq!(p.roles[0], PathBuf::from("/home/u/.ansible/roles"));
        assert_eq!(p.collections[0], PathBuf::from("/home/u/.ansible/collections"));
    }
}
