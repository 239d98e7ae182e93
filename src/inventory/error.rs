//! Everything that can go wrong while reading an inventory or resolving a
//! host pattern.
//!
//! Each message is one sentence that starts with where the problem is
//! (`file:line:column`, or the pattern), followed by a `hint:` line when we
//! can say how to fix it. Errors never print variable values: inventories
//! hold secrets (`ansible_become_password`).

use std::path::PathBuf;

use crate::yaml::{Location, YamlError};

/// An inventory could not be loaded, or a host pattern not resolved.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    /// A YAML file (inventory or vars file) is not valid YAML.
    #[error(transparent)]
    Yaml(#[from] YamlError),

    /// A source named on the command line does not exist.
    #[error("{}: inventory source not found\nhint: pass a YAML or INI inventory file, or a directory of them, with -i", path.display())]
    NotFound {
        /// The path as given.
        path: PathBuf,
    },

    /// A file or directory could not be read.
    #[error("{}: cannot read inventory: {source}", path.display())]
    Read {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },

    /// An inventory script failed, timed out, or printed something that is
    /// not Ansible's script JSON.
    #[error("{}: {message}\nhint: an inventory script prints Ansible's JSON for --list (groups, _meta.hostvars) and --host NAME", path.display())]
    Script {
        /// The script (or JSON file).
        path: PathBuf,
        /// What went wrong, with the script's stderr.
        message: String,
    },

    /// A group of a YAML inventory has a key other than `hosts`, `children`, `vars`.
    #[error("{loc}: unknown key `{key}` in group `{group}`; a group has only `hosts`, `children` and `vars`{}", hint_line(.hint))]
    UnknownKey {
        /// Where the key is.
        loc: Location,
        /// The group it is in.
        group: String,
        /// The key.
        key: String,
        /// A "did you mean" or how to fix it.
        hint: Option<String>,
    },

    /// An INI section refers to a group that no source defines.
    #[error("{loc}: group `{group}` is not defined{}", hint_line(.hint))]
    UndefinedGroup {
        /// Where the reference is.
        loc: Location,
        /// The group name.
        group: String,
        /// A "did you mean" or how to fix it.
        hint: Option<String>,
    },

    /// A host range (`web[01:03]`) is malformed.
    #[error("{loc}: bad host range in `{name}`: {reason}")]
    Range {
        /// Where the host name is.
        loc: Location,
        /// The host name as written.
        name: String,
        /// What is wrong with it.
        reason: String,
    },

    /// Making `child` a child of `parent` would make a group its own ancestor.
    #[error("{loc}: group `{child}` cannot be a child of `{parent}`: that makes a loop of groups")]
    Cycle {
        /// Where the child is listed.
        loc: Location,
        /// The parent group.
        parent: String,
        /// The child group.
        child: String,
    },

    /// Any other structural problem in an inventory or vars file.
    #[error("{loc}: {message}{}", hint_line(.hint))]
    Invalid {
        /// Where the problem is.
        loc: Location,
        /// What is wrong, one sentence without the location.
        message: String,
        /// How to fix it, when we can tell.
        hint: Option<String>,
    },

    /// A plain name in a host pattern is neither a host nor a group.
    #[error("host pattern `{pattern}`: no host or group is named `{name}`{}", hint_line(.hint))]
    UnknownPattern {
        /// The whole pattern.
        pattern: String,
        /// The name that matched nothing.
        name: String,
        /// A "did you mean" when a host or group has a close name.
        hint: Option<String>,
    },

    /// A host pattern cannot be evaluated (bad regex, subscript out of range).
    #[error("host pattern `{pattern}`: {reason}")]
    BadPattern {
        /// The whole pattern.
        pattern: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// `\nhint: ...` when there is a hint, else nothing.
fn hint_line(hint: &Option<String>) -> String {
    hint.as_ref().map(|h| format!("\nhint: {h}")).unwrap_or_default()
}

/// "did you mean `x`?" for `word` among `candidates`.
pub(super) fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    crate::suggest::closest(word, candidates).map(|c| format!("did you mean `{c}`?"))
}
