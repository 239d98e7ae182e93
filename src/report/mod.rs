//! Reports built from events: the per-host recap, the JSON report of
//! CONTRACT §6, JUnit XML for CI systems, the streamed JSONL event log, Prometheus textfile metrics, the audit trail, and where each report goes.

pub mod audit;
mod compliance;
mod json;
mod jsonl;
mod junit;
mod output;
mod profile;
mod prometheus;

pub use compliance::{by_tag as compliance_by_tag, render as render_compliance, TagCompliance};
pub use json::{Collector, HostReport, Report, Summary, TaskEntry, REPORT_VERSION};
pub use jsonl::{EventLog, RunMeta};
pub use junit::to_junit;
pub use output::{write_atomic, write_file, Destination, Format, ReportError, ReportSpec};
pub use profile::render as render_profile;
pub use prometheus::{to_prometheus, to_prometheus_patches};
