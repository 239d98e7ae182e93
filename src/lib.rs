//! stead: agentless configuration automation.
//!
//! The crate is laid out as the pipeline a run goes through, top to bottom:
//!
//! 0. [`config`]: ansible.cfg and the `ANSIBLE_*` search paths; [`inputs`]:
//!    every input file read, with its hash.
//! 1. [`yaml`]: files → spanned YAML nodes (YAML 1.1, as Ansible reads it).
//! 2. [`inventory`]: hosts, groups, variables, host patterns.
//! 3. [`playbook`]: nodes → a typed, validated playbook (every module's
//!    arguments checked before any host is contacted).
//! 4. [`template`]: the Jinja2 environment (minijinja) with Ansible's filters.
//! 5. [`plan`]: playbook + inventory → a task graph per host.
//!    [`saved_plan`]: a dry run saved, and applied exactly (`plan --out`).
//! 6. [`exec`]: the scheduler that walks each host's graph and emits events.
//! 7. [`modules`]: what each task does: probe, compare, apply.
//! 8. [`transport`]: how commands reach a host (ssh, local), and quoting.
//! 9. [`report`]: events → recap, JSON and JUnit reports.
//!
//! [`vault`] (Ansible Vault files and `!vault` values, and the masking of
//! what they decrypt) is a leaf every stage may use; the YAML loader
//! decrypts with it.
//!
//! Imports flow one way: a later stage never calls an earlier one's caller.
//! The binary (`src/main.rs`, `src/cli/`) owns the terminal.

pub mod config;
pub mod diagnostic;
pub mod exec;
pub mod exit;
#[doc(hidden)]
pub mod fuzz;
pub mod inputs;
pub mod inventory;
pub mod modules;
pub mod plan;
pub mod playbook;
pub mod pyregex;
pub mod report;
pub mod saved_plan;
pub mod suggest;
pub mod template;
pub mod transport;
pub mod vault;
pub mod yaml;
