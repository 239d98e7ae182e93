//! The streamed event log (`--report jsonl=PATH`): one JSON object per
//! line per event, written with one `write` and flushed as it happens, so a
//! long run can be followed (`tail -f`) and a killed one still leaves every
//! line of what happened, each complete. The line schema is published in
//! docs/ci.md; fields may be added, none renamed or removed.
//!
//! It writes what the events carry and nothing else: `no_log` values were
//! masked where the record was built, as for every other report.

use std::io::Write;
use std::sync::Mutex;
use std::time::SystemTime;

use serde_json::{json, Value};

use super::json::{Report, REPORT_VERSION};
use super::output::{Destination, ReportError, ReportSpec};
use crate::exec::{Event, EventSink};

/// What the log's first line says about the run.
#[derive(Debug, Clone)]
pub struct RunMeta {
    /// When the run started.
    pub started_at: SystemTime,
    /// Whether it is a dry run.
    pub check_mode: bool,
    /// Playbooks, as named on the command line.
    pub playbooks: Vec<String>,
}

struct State {
    out: Box<dyn Write + Send>,
    /// The play running now (plays run one after the other).
    play: String,
    /// The first write error; nothing is written after it.
    error: Option<std::io::Error>,
}

/// An event sink that appends one JSON line per event.
pub struct EventLog {
    spec: ReportSpec,
    state: Mutex<State>,
}

fn now() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

impl EventLog {
    /// Creates (truncates) the log and writes its `run_start` line.
    pub fn create(spec: &ReportSpec, meta: &RunMeta) -> Result<EventLog, ReportError> {
        let out: Box<dyn Write + Send> = match &spec.dest {
            Destination::Stdout => Box::new(std::io::stdout()),
            Destination::File(path) => Box::new(std::fs::File::create(path).map_err(|source| ReportError::Io {
                format: spec.format,
                path: path.clone(),
                source,
            })?),
        };
        let log = EventLog { spec: spec.clone(), state: Mutex::new(State { out, play: String::new(), error: None }) };
        log.line(
            &mut log.state.lock().expect("event log lock"),
            json!({
                "event": "run_start",
                "time": now(),
                "version": REPORT_VERSION,
                "stead_version": env!("CARGO_PKG_VERSION"),
                "started_at": humantime::format_rfc3339_seconds(meta.started_at).to_string(),
                "check_mode": meta.check_mode,
                "playbooks": meta.playbooks,
            }),
        );
        log.finish_ok()?;
        Ok(log)
    }

    fn line(&self, state: &mut State, value: Value) {
        if state.error.is_some() {
            return;
        }
        let mut text = value.to_string();
        text.push('\n');
        // One write per line, then a flush: a reader never sees half a line
        // from a run that is still going, and a killed run loses none.
        if let Err(e) = state.out.write_all(text.as_bytes()).and_then(|()| state.out.flush()) {
            state.error = Some(e);
        }
    }

    /// Writes the closing `recap` line: the counts of the JSON report and
    /// the exit status the run ends with.
    pub fn recap(&self, report: &Report, exit_status: i32) {
        let hosts: serde_json::Map<String, Value> = report
            .hosts
            .iter()
            .map(|(name, h)| {
                (
                    name.clone(),
                    json!({
                        "unreachable": h.unreachable,
                        "ok": h.ok,
                        "changed": h.changed,
                        "failed": h.failed,
                        "skipped": h.skipped,
                        "ignored": h.ignored,
                        "rescued": h.rescued,
                    }),
                )
            })
            .collect();
        let mut state = self.state.lock().expect("event log lock");
        self.line(
            &mut state,
            json!({
                "event": "recap",
                "time": now(),
                "duration_ms": report.duration_ms,
                "check_mode": report.check_mode,
                "exit_status": exit_status,
                "summary": report.summary,
                "hosts": hosts,
            }),
        );
    }

    fn finish_ok(&self) -> Result<(), ReportError> {
        let mut state = self.state.lock().expect("event log lock");
        match state.error.take() {
            // A reader that went away from stdout chose to stop reading.
            Some(e) if self.spec.dest == Destination::Stdout && e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            Some(source) => Err(ReportError::Io {
                format: self.spec.format,
                path: match &self.spec.dest {
                    Destination::File(p) => p.clone(),
                    Destination::Stdout => "-".into(),
                },
                source,
            }),
            None => Ok(()),
        }
    }

    /// The first write error of the run, if there was one.
    pub fn finish(&self) -> Result<(), ReportError> {
        self.finish_ok()
    }
}

/// Held events are written when they happen ([`EventSink::live`]), not
/// when the terminal shows them.
impl EventSink for EventLog {
    fn emit(&self, event: Event) {
        self.write_event(&event);
    }

    fn live(&self, event: &Event) {
        self.write_event(event);
    }

    fn replay(&self, _event: Event) {}
}

impl EventLog {
    fn write_event(&self, event: &Event) {
        let mut state = self.state.lock().expect("event log lock");
        let value = match event.clone() {
            Event::PlayStart { name, hosts, tasks } => {
                state.play = name.clone();
                json!({"event": "play_start", "time": now(), "play": name, "hosts": hosts, "tasks": tasks})
            }
            Event::TaskStart { host, task } => {
                json!({"event": "task_start", "time": now(), "play": state.play, "host": host, "task": task})
            }
            Event::TaskDone(r) => {
                let items: Vec<Value> =
                    r.items.iter().map(|(label, status)| json!({"item": label, "status": status})).collect();
                json!({
                    "event": "task_result",
                    "time": now(),
                    "play": r.play,
                    "host": r.host,
                    "task": r.task,
                    "module": r.module,
                    "status": r.status,
                    "changed": r.changed,
                    "diff": r.diff,
                    "msg": r.msg,
                    "duration_ms": r.duration_ms,
                    "ignored": r.ignored,
                    "rescued": r.rescued,
                    "handler": r.handler,
                    "tags": r.tags,
                    "items": items,
                })
            }
            Event::Unreachable { host, play, msg } => {
                json!({"event": "unreachable", "time": now(), "play": play, "host": host, "msg": msg})
            }
            Event::HostDone { host } => json!({"event": "host_done", "time": now(), "play": state.play, "host": host}),
            Event::Warning(msg) => json!({"event": "warning", "time": now(), "msg": msg}),
            // Traces are for the terminal (-v); the log keeps results.
            Event::Remote(_) => return,
        };
        self.line(&mut state, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::{Status, TaskRecord};

    #[test]
    fn every_event_is_one_complete_json_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        let spec: ReportSpec = format!("jsonl={}", path.display()).parse().unwrap();
        let meta = RunMeta { started_at: SystemTime::now(), check_mode: true, playbooks: vec!["site.yml".into()] };
        let log = EventLog::create(&spec, &meta).unwrap();
        log.emit(Event::PlayStart { name: "p\n1".into(), hosts: vec!["web1".into()], tasks: 1 });
        log.emit(Event::TaskStart { host: "web1".into(), task: "t".into() });
        log.emit(Event::TaskDone(TaskRecord {
            host: "web1".into(),
            play: "p\n1".into(),
            task: "t".into(),
            module: "copy".into(),
            status: Status::Changed,
            changed: true,
            diff: Some("-a\n+b\n".into()),
            msg: None,
            duration_ms: 3,
            ignored: false,
            rescued: false,
            show_diff: true,
            show_msg: false,
            handler: false,
            items: vec![("x".into(), Status::Changed)],
            tags: vec!["cis_1.1".into()],
            backups: vec![],
        }));
        // Written already, before the run ends.
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert!(text.ends_with('\n'));
        let kinds: Vec<&str> = lines.iter().map(|l| l["event"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["run_start", "play_start", "task_start", "task_result"]);
        assert_eq!(lines[0]["check_mode"], true);
        assert_eq!(lines[2]["play"], "p\n1");
        assert_eq!(lines[3]["diff"], "-a\n+b\n");
        assert_eq!(lines[3]["items"][0]["status"], "changed");
        assert_eq!(lines[3]["tags"][0], "cis_1.1");
        log.finish().unwrap();
    }
}
