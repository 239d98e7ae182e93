//! Which keywords stead implements where, and Ansible's full lists.
//!
//! Ansible's keywords (ansible-core's `playbook/*.py` attributes) fall in two
//! sets per place: the ones stead implements with Ansible's meaning, and the
//! ones it refuses at load time with a located error. Nothing is accepted and
//! then ignored. `tests/integration/keywords.rs` walks these lists: every
//! implemented keyword names the test that proves its behaviour, every
//! other one must be refused.

/// Keywords every Ansible object has (ansible-core's `Base`).
const BASE: &[&str] = &[
    "name",
    "connection",
    "port",
    "remote_user",
    "vars",
    "module_defaults",
    "environment",
    "no_log",
    "run_once",
    "ignore_errors",
    "ignore_unreachable",
    "check_mode",
    "diff",
    "any_errors_fatal",
    "throttle",
    "timeout",
    "debugger",
    "become",
    "become_method",
    "become_user",
    "become_flags",
    "become_exe",
];

/// The keywords a block, task, role entry and import share: each is
/// implemented, and inherited by the tasks inside.
const INHERITED: &[&str] = &[
    "name",
    "when",
    "tags",
    "vars",
    "become",
    "become_user",
    "become_method",
    "ignore_errors",
    "no_log",
    "check_mode",
    "diff",
    "collections",
    "run_once",
    "delegate_to",
    "environment",
    "ignore_unreachable",
];

/// The keywords of a play stead implements.
const PLAY_KEYWORDS: &[&str] = &[
    "name",
    "hosts",
    "vars",
    "vars_files",
    "become",
    "become_user",
    "become_method",
    "remote_user",
    "gather_facts",
    "tasks",
    "pre_tasks",
    "post_tasks",
    "handlers",
    "roles",
    "tags",
    "collections",
    "ignore_errors",
    "no_log",
    "check_mode",
    "diff",
    "strategy",
    "serial",
    "order",
    "any_errors_fatal",
    "max_fail_percentage",
    "force_handlers",
    "environment",
    "ignore_unreachable",
];

/// The keywords of `include_tasks` / `include_role` stead implements (they
/// apply to the include itself).
const INCLUDE_KEYWORDS: &[&str] =
    &["name", "when", "tags", "vars", "loop", "loop_control", "ignore_errors", "no_log", "collections"];

/// Where a keyword is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// A play.
    Play,
    /// A block.
    Block,
    /// A task (or handler).
    Task,
    /// An entry of a play's `roles:`.
    Role,
    /// `import_tasks` / `import_role` (static: keywords reach the tasks).
    Import,
    /// `include_tasks` / `include_role` (dynamic: keywords apply to the
    /// include itself).
    Include,
}

impl Place {
    /// Every place, for the keyword table.
    pub const ALL: [Place; 6] = [Place::Play, Place::Block, Place::Task, Place::Role, Place::Import, Place::Include];

    /// How messages name the place.
    pub fn noun(self) -> &'static str {
        match self {
            Place::Play => "play",
            Place::Block => "block",
            Place::Task => "task",
            Place::Role => "role entry",
            Place::Import => "import",
            Place::Include => "include",
        }
    }

    /// Ansible's keywords for this place (ansible-core 2.18).
    pub fn ansible(self) -> Vec<&'static str> {
        if self == Place::Include {
            // ansible-core's VALID_INCLUDE_KEYWORDS: anything else is an error there.
            return vec![
                "action",
                "args",
                "collections",
                "debugger",
                "ignore_errors",
                "loop",
                "loop_control",
                "name",
                "no_log",
                "register",
                "run_once",
                "tags",
                "timeout",
                "vars",
                "when",
            ];
        }
        let mut out: Vec<&str> = BASE.to_vec();
        let own: &[&str] = match self {
            Place::Play => &[
                "hosts",
                "tags",
                "collections",
                "gather_facts",
                "gather_subset",
                "gather_timeout",
                "fact_path",
                "vars_files",
                "vars_prompt",
                "roles",
                "handlers",
                "pre_tasks",
                "post_tasks",
                "tasks",
                "force_handlers",
                "max_fail_percentage",
                "serial",
                "strategy",
                "order",
            ],
            Place::Block => {
                &["when", "tags", "collections", "notify", "delegate_to", "delegate_facts", "block", "rescue", "always"]
            }
            Place::Task | Place::Import | Place::Include => &[
                "when",
                "tags",
                "collections",
                "notify",
                "delegate_to",
                "delegate_facts",
                "args",
                "action",
                "local_action",
                "async",
                "poll",
                "changed_when",
                "failed_when",
                "delay",
                "retries",
                "until",
                "loop",
                "loop_control",
                "register",
                "listen",
            ],
            Place::Role => &["when", "tags", "collections", "role", "delegate_to", "delegate_facts"],
        };
        out.extend_from_slice(own);
        out
    }

    /// The keywords stead implements here.
    pub fn implemented(self) -> Vec<&'static str> {
        let own: &[&str] = match self {
            Place::Play => return PLAY_KEYWORDS.to_vec(),
            Place::Include => return INCLUDE_KEYWORDS.to_vec(),
            Place::Import => &[],
            Place::Block => &["block", "rescue", "always", "notify"],
            Place::Role => &["role"],
            Place::Task => &[
                "loop",
                "loop_control",
                "register",
                "notify",
                "listen",
                "changed_when",
                "failed_when",
                "args",
                "until",
                "retries",
                "delay",
                "local_action",
            ],
        };
        INHERITED.iter().chain(own).copied().collect()
    }

    /// Whether `key` is implemented here.
    pub fn implements(self, key: &str) -> bool {
        self.implemented().contains(&key) || (matches!(self, Place::Task | Place::Include) && is_with_lookup(key))
    }

    /// Whether `key` is one of Ansible's keywords here (implemented or not).
    pub fn is_ansible(self, key: &str) -> bool {
        self.ansible().contains(&key)
            || (matches!(self, Place::Task | Place::Import | Place::Include) && key.starts_with("with_"))
    }
}

/// The `with_<lookup>` loops stead implements.
pub fn is_with_lookup(key: &str) -> bool {
    matches!(key, "with_items" | "with_list")
}

/// The `become_method`s the transport implements.
pub const BECOME_METHODS: &[&str] = crate::transport::BECOME_METHODS;

/// Collections whose modules stead resolves by their bare names.
pub const KNOWN_COLLECTIONS: &[&str] = &["ansible.builtin", "ansible.legacy", "ansible.posix", "community.general"];

/// Play strategies stead accepts (see docs/compatibility.md).
pub const STRATEGIES: &[&str] = &["linear", "free"];

/// The one sentence for an Ansible keyword stead refuses.
pub fn not_implemented(place: Place, key: &str) -> String {
    format!("`{key}` is an Ansible {} keyword that stead does not implement yet", place.noun())
}

/// The hint that goes with [`not_implemented`].
pub const NOT_IMPLEMENTED_HINT: &str =
    "remove it, or run this playbook with ansible-playbook; docs/compatibility.md lists what stead refuses";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn implemented_keywords_are_ansible_keywords() {
        for place in Place::ALL {
            for key in place.implemented() {
                assert!(place.is_ansible(key), "{key} is not an Ansible {} keyword", place.noun());
            }
        }
    }
}
