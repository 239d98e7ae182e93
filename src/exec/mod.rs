//! The executor: plays in order; within a play, the play's strategy
//! (`play.rs`) moves every host through its step tree (`cursor.rs`), at
//! most `--forks` hosts at once; one host's segment runs in `host.rs`;
//! events go to a sink.
//!
//! A failed or unreachable host stops on its own and drops out of later
//! plays; the others go on. Ctrl-C stops every host at its next task
//! boundary; connections are then closed so no ssh master outlives stead.

mod batch;
mod connect;
mod cursor;
pub mod events;
mod facts;
pub use facts::parse as parse_facts;
mod host;
mod outcome;
pub mod pending;
mod plan_gate;
mod play;
mod pool;
mod vars;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::{Mutex, Semaphore};

pub use events::{BackupMade, Event, EventSink, Masked, RemoteTrace, Status, TaskRecord, Tee};
pub use host::HostEnd;

use crate::plan::RunPlan;
use crate::playbook::HostOrder;
use host::Link;

/// How a run ended, per host.
#[derive(Debug, Clone, Default)]
pub struct RunOutcome {
    /// Hosts with a task failure.
    pub failed: HashSet<String>,
    /// Hosts that could not be reached.
    pub unreachable: HashSet<String>,
    /// Whether the run was interrupted (SIGINT or SIGTERM).
    pub interrupted: bool,
    /// Whether the interruption was SIGTERM (exit 143, not 130).
    pub terminated: bool,
    /// Remote executions per host (for the benchmark and the report).
    pub remote_execs: HashMap<String, u64>,
}

/// Default number of hosts in flight.
pub const DEFAULT_FORKS: usize = 50;

/// Runs a plan to the end. Builds its own tokio runtime; must not be called
/// from inside one. `interrupted` may be set from a signal handler.
pub fn run(plan: &RunPlan, sink: Arc<dyn EventSink>, interrupted: Arc<AtomicBool>) -> RunOutcome {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio runtime");
    runtime.block_on(run_async(plan, sink, interrupted))
}

async fn run_async(plan: &RunPlan, sink: Arc<dyn EventSink>, interrupted: Arc<AtomicBool>) -> RunOutcome {
    let terminated = Arc::new(AtomicBool::new(false));
    spawn_signal_watch(interrupted.clone(), terminated.clone(), sink.clone());
    let forks = if plan.options.forks == 0 { DEFAULT_FORKS } else { plan.options.forks };
    let semaphore = Arc::new(Semaphore::new(forks));
    let mut outcome = RunOutcome::default();
    let links: HashMap<String, Arc<Mutex<Link>>> = plan
        .all_hosts()
        .into_iter()
        .map(|h| {
            let link = Link {
                host: h.clone(),
                conn: None,
                facts: Default::default(),
                runtime: Default::default(),
                closed_execs: 0,
            };
            (h, Arc::new(Mutex::new(link)))
        })
        .collect();
    let delegates = pool::Pool::default();
    let pending = std::sync::Mutex::new(plan.options.pending_handlers.as_deref().map(|path| {
        let (store, note) = pending::Store::open(path);
        if let Some(note) = note {
            sink.emit(Event::Warning(note));
        }
        store
    }));
    for play in &plan.plays {
        if interrupted.load(Ordering::SeqCst) {
            break;
        }
        let hosts: Vec<String> = play
            .hosts
            .iter()
            .filter(|h| !outcome.failed.contains(*h) && !outcome.unreachable.contains(*h))
            .cloned()
            .collect();
        let hosts = ordered(hosts, play.play.order);
        let tasks = play.selected.iter().filter(|s| **s).count();
        sink.emit(Event::PlayStart { name: play.play.name.clone(), hosts: hosts.clone(), tasks });
        let ended = AtomicBool::new(false);
        let run = play::PlayRun {
            play,
            plan,
            sink: &sink,
            interrupted: &interrupted,
            forks: &semaphore,
            ended: &ended,
            delegates: &delegates,
            pending: &pending,
        };
        let mut results = Vec::new();
        for batch in batches(&hosts, &play.play.serial) {
            let ran = run.run(batch, &links).await;
            // A batch whose every host failed ends the play, as in Ansible.
            let all_failed = ran.iter().all(|(_, end)| matches!(end, HostEnd::Failed | HostEnd::Unreachable));
            results.extend(ran);
            if all_failed || ended.load(Ordering::SeqCst) || interrupted.load(Ordering::SeqCst) {
                break;
            }
        }
        for (host, end) in results {
            match end {
                HostEnd::Failed => {
                    outcome.failed.insert(host);
                }
                HostEnd::Unreachable => {
                    outcome.unreachable.insert(host);
                }
                HostEnd::Interrupted => outcome.interrupted = true,
                HostEnd::Done => {}
            }
        }
    }
    for (host, link) in links {
        let mut link = link.lock().await;
        let mut execs = link.closed_execs;
        if let Some(conn) = link.conn.take() {
            execs += conn.exec_count();
            conn.close().await;
        }
        if execs > 0 {
            outcome.remote_execs.insert(host, execs);
        }
    }
    for (host, execs) in delegates.close().await {
        *outcome.remote_execs.entry(host).or_default() += execs;
    }
    if let Some(store) = pending.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
        if let Err(e) = store.save() {
            sink.emit(Event::Warning(e));
        }
    }
    outcome.interrupted |= interrupted.load(Ordering::SeqCst);
    outcome.terminated = terminated.load(Ordering::SeqCst);
    outcome
}

/// Watches for SIGINT and SIGTERM. The first one stops every host at its
/// next task boundary (connections are then closed as usual) and says so;
/// a second one exits at once, with the signal's status.
fn spawn_signal_watch(interrupted: Arc<AtomicBool>, terminated: Arc<AtomicBool>, sink: Arc<dyn EventSink>) {
    tokio::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) else {
            return;
        };
        let mut seen = 0;
        loop {
            let is_term = tokio::select! {
                _ = int.recv() => false,
                _ = term.recv() => true,
            };
            seen += 1;
            if is_term {
                terminated.store(true, Ordering::SeqCst);
            }
            let code =
                if terminated.load(Ordering::SeqCst) { crate::exit::TERMINATED } else { crate::exit::INTERRUPTED };
            if seen > 1 {
                std::process::exit(code);
            }
            interrupted.store(true, Ordering::SeqCst);
            let name = if is_term { "SIGTERM" } else { "SIGINT" };
            sink.emit(Event::Warning(format!(
                "{name}: stopping after the tasks in flight; send it again to exit at once"
            )));
        }
    });
}

/// The play's hosts in the order its `order:` asks for.
fn ordered(mut hosts: Vec<String>, order: HostOrder) -> Vec<String> {
    match order {
        HostOrder::Inventory => {}
        HostOrder::ReverseInventory => hosts.reverse(),
        HostOrder::Sorted => hosts.sort(),
        HostOrder::ReverseSorted => {
            hosts.sort();
            hosts.reverse();
        }
        HostOrder::Shuffle => {
            use std::hash::{BuildHasher, Hasher};
            let mut seed = std::collections::hash_map::RandomState::new().build_hasher().finish() | 1;
            for i in (1..hosts.len()).rev() {
                // xorshift64: a fresh order each run is all `shuffle` promises.
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                hosts.swap(i, (seed % (i as u64 + 1)) as usize);
            }
        }
    }
    hosts
}

/// The `serial` batches of `hosts`: each size in turn, the last repeated.
fn batches<'h>(hosts: &'h [String], serial: &[serde_json::Value]) -> Vec<&'h [String]> {
    let total = hosts.len();
    let mut out = Vec::new();
    let mut start = 0;
    let mut sizes = serial.iter().map(|v| crate::playbook::serial_size(v, total).unwrap_or(total));
    let mut last = total;
    while start < total {
        let size = sizes.next().unwrap_or(last);
        last = size;
        let size = if size == 0 { total } else { size };
        let end = (start + size).min(total);
        out.push(&hosts[start..end]);
        start = end;
    }
    out
}

/// Polls futures concurrently on the current task (hosts share the runtime's
/// worker threads; borrowing the plan keeps this simpler than `spawn`).
async fn futures_join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut pinned: Vec<std::pin::Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, fut) in pinned.iter_mut().enumerate() {
            if outputs[i].is_none() {
                match fut.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => outputs[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().map(|o| o.expect("all ready")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("h{i}")).collect()
    }

    #[test]
    fn serial_batches_follow_numbers_percentages_and_lists() {
        let hosts = names(5);
        let sizes = |serial: serde_json::Value| -> Vec<usize> {
            let list = match serial {
                serde_json::Value::Array(a) => a,
                other => vec![other],
            };
            batches(&hosts, &list).iter().map(|b| b.len()).collect()
        };
        assert_eq!(sizes(serde_json::json!(2)), vec![2, 2, 1]);
        assert_eq!(sizes(serde_json::json!("40%")), vec![2, 2, 1]);
        assert_eq!(sizes(serde_json::json!("10%")), vec![1, 1, 1, 1, 1], "at least one host");
        assert_eq!(sizes(serde_json::json!([1, "50%"])), vec![1, 2, 2]);
        assert_eq!(sizes(serde_json::json!(0)), vec![5]);
        assert_eq!(batches(&hosts, &[]).len(), 1);
    }

    #[test]
    fn order_sorts_reverses_and_shuffles() {
        let hosts = vec!["b".to_owned(), "c".to_owned(), "a".to_owned()];
        assert_eq!(ordered(hosts.clone(), HostOrder::Sorted), vec!["a", "b", "c"]);
        assert_eq!(ordered(hosts.clone(), HostOrder::ReverseSorted), vec!["c", "b", "a"]);
        assert_eq!(ordered(hosts.clone(), HostOrder::ReverseInventory), vec!["a", "c", "b"]);
        let mut shuffled = ordered(hosts.clone(), HostOrder::Shuffle);
        shuffled.sort();
        assert_eq!(shuffled, vec!["a", "b", "c"]);
    }
}
