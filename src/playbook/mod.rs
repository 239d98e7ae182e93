//! Playbooks: YAML nodes → a typed, validated playbook.
//!
//! The loader checks everything that can be checked without a host and
//! reports every problem with `file:line:column`, the source line and a hint.

mod ast;
pub mod keywords;
mod kv;
mod load;

pub use ast::{Block, HostOrder, Include, LoopExtras, Play, Playbook, Retry, Step, Strategy, Task};
pub use load::{find_local_file, load, load_with, serial_size, ROLE_DEFAULTS_KEY};
