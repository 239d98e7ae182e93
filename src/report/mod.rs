//! Reports built from events: the per-host recap, the JSON report of
//! CONTRACT §6 and JUnit XML for CI systems.

mod json;
mod junit;

pub use json::{Collector, HostReport, Report, Summary, TaskEntry, REPORT_VERSION};
pub use junit::to_junit;
