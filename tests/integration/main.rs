//! stead's integration tests: the real binary against real OpenSSH servers
//! (CONTRACT §7), one topic per file. `tier_b/` holds the tests that need
//! isolated hosts with their own /etc, packages, users and network.
//!
//! Every test starts its own `sshd` on 127.0.0.1 and an ephemeral port and
//! works in its own temporary directories, so tests run in parallel.

mod support;

mod audit;
mod backups;
mod bad_input;
mod ci_reports;
mod completions;
mod config;
mod control_flow;
mod faults;
mod fixture;
mod fuzz_corpus;
mod host_lock;
mod hosts;
mod inventory_scripts;
mod keywords;
mod live_terminal;
mod modules;
mod pending_handlers;
mod quoting;
mod recipes;
mod report;
mod saved_plans;
mod tier_b;
mod vault;
mod verbose;
