//! YAML as Ansible reads it: YAML 1.1 scalars (`yes` is true, `0644` is
//! octal), `<<` merge keys, duplicate keys (last wins, with a warning), and a
//! line and column on every node.
//!
//! Everything stead reads from disk (playbooks, inventories, vars files) goes
//! through [`load_file`] into a [`Node`] tree. Later stages turn nodes into
//! typed structures and keep the node's [`Location`] for their errors.

mod load;
mod node;

pub use load::{load_file, load_str, Loaded, YamlError};
pub use node::{Key, Location, Node, NodeKind};
