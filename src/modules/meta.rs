//! `meta`: tasks that act on the play rather than on a host
//! (`flush_handlers`, `end_host`, `end_play`, `end_batch`, `noop`,
//! `clear_host_errors`, `reset_connection`).
//!
//! The module only names the [`Control`]; the executor carries it out
//! (the strategy for play-wide ones). A meta task never contacts a host
//! and counts in no recap, as in Ansible. Its argument is read as written:
//! Ansible does not template it either.

use serde_json::{Map, Value as Json};

use super::spec::{ArgKind, ArgSpec};
use super::{Action, Args, Module, ModuleError, ModuleSpec, Plan, TaskContext};
use crate::transport::ExecOutput;

/// What a `meta` task asks of the executor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Run the notified handlers now.
    FlushHandlers,
    /// This host stops the play here, without failing (no handlers).
    EndHost,
    /// Every host stops the play here.
    EndPlay,
    /// Every host of the current `serial` batch stops here.
    EndBatch,
    /// Failed hosts of the play are no longer failed.
    ClearHostErrors,
    /// Close the host's connection; the next task opens a new one.
    ResetConnection,
    /// Nothing.
    Noop,
}

/// The actions stead implements, by Ansible's names.
const ACTIONS: &[(&str, Control)] = &[
    ("flush_handlers", Control::FlushHandlers),
    ("end_host", Control::EndHost),
    ("end_play", Control::EndPlay),
    ("end_batch", Control::EndBatch),
    ("clear_host_errors", Control::ClearHostErrors),
    ("reset_connection", Control::ResetConnection),
    ("noop", Control::Noop),
];

const NAMES: &[&str] =
    &["flush_handlers", "end_host", "end_play", "end_batch", "clear_host_errors", "reset_connection", "noop"];

static META_SPEC: ModuleSpec =
    ModuleSpec::new(&[ArgSpec::new("free_form", ArgKind::Str).required().choices(NAMES)]).free_form("free_form");

/// `meta`.
pub struct Meta;

impl Module for Meta {
    fn name(&self) -> &'static str {
        "meta"
    }
    fn spec(&self) -> &'static ModuleSpec {
        &META_SPEC
    }
    fn is_local(&self) -> bool {
        true
    }
    fn control(&self, args: &Map<String, Json>) -> Option<Control> {
        let name = args.get("free_form")?.as_str()?;
        ACTIONS.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
    }
    fn prepare(&self, _args: &Args, _ctx: &dyn TaskContext) -> Result<Box<dyn Action>, ModuleError> {
        Ok(Box::new(NoAction))
    }
}

struct NoAction;

impl Action for NoAction {
    fn probe(&self) -> Option<String> {
        None
    }
    fn compare(&mut self, _probe: Option<&ExecOutput>) -> Result<Plan, ModuleError> {
        Ok(Plan::ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_name_maps_to_its_control() {
        for (name, control) in ACTIONS {
            let mut args = Map::new();
            args.insert("free_form".into(), Json::from(*name));
            assert_eq!(Meta.control(&args), Some(*control));
        }
        assert_eq!(NAMES.len(), ACTIONS.len());
    }
}
