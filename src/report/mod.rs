//! Reports built from events: the per-host recap, the JSON report of
//! CONTRACT §6, JUnit XML for CI systems, and where each report goes.

mod json;
mod junit;
mod output;

pub use json::{Collector, HostReport, Report, Summary, TaskEntry, REPORT_VERSION};
pub use junit::to_junit;
pub use output::{write_atomic, write_file, Destination, Format, ReportError, ReportSpec};
