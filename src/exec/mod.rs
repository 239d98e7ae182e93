//! The executor: plays in order; within a play, every host walks its task
//! list in parallel (at most `--forks` at once, one tokio task per host);
//! events go to a sink.
//!
//! A failed or unreachable host stops on its own and drops out of later
//! plays; the others go on. Ctrl-C stops every host at its next task
//! boundary; connections are then closed so no ssh master outlives stead.

mod batch;
mod connect;
pub mod events;
mod facts;
mod host;
mod outcome;
mod vars;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::{Mutex, Semaphore};

pub use events::{Event, EventSink, Status, TaskRecord, Tee};
pub use host::HostEnd;

use crate::plan::RunPlan;
use host::{HostRun, Link};

/// How a run ended, per host.
#[derive(Debug, Clone, Default)]
pub struct RunOutcome {
    /// Hosts with a task failure.
    pub failed: HashSet<String>,
    /// Hosts that could not be reached.
    pub unreachable: HashSet<String>,
    /// Whether the run was interrupted.
    pub interrupted: bool,
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
    {
        let flag = interrupted.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                flag.store(true, Ordering::SeqCst);
            }
        });
    }
    let forks = if plan.options.forks == 0 { DEFAULT_FORKS } else { plan.options.forks };
    let semaphore = Arc::new(Semaphore::new(forks));
    let mut outcome = RunOutcome::default();
    let links: HashMap<String, Arc<Mutex<Link>>> = plan
        .all_hosts()
        .into_iter()
        .map(|h| {
            let link = Link { host: h.clone(), conn: None, facts: Default::default(), runtime: Default::default() };
            (h, Arc::new(Mutex::new(link)))
        })
        .collect();
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
        let tasks = play.selected.iter().filter(|s| **s).count();
        sink.emit(Event::PlayStart { name: play.play.name.clone(), hosts: hosts.clone(), tasks });
        let results = async {
            let mut set = Vec::new();
            for host in &hosts {
                let link = links[host].clone();
                let semaphore = semaphore.clone();
                let sink = sink.clone();
                let interrupted = interrupted.clone();
                let inventory_vars = plan.inventory.host_vars(host).unwrap_or_default();
                set.push(async move {
                    let _permit = semaphore.acquire().await.expect("semaphore open");
                    let mut link = link.lock().await;
                    let run = HostRun {
                        play,
                        templates: &plan.templates,
                        options: &plan.options,
                        sink: &sink,
                        interrupted: &interrupted,
                        inventory_vars,
                    };
                    let end = run.run(&mut link).await;
                    sink.emit(Event::HostDone { host: link.host.clone() });
                    (link.host.clone(), end)
                });
            }
            futures_join_all(set).await
        }
        .await;
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
        if let Some(conn) = link.conn.take() {
            outcome.remote_execs.insert(host, conn.exec_count());
            conn.close().await;
        }
    }
    outcome.interrupted |= interrupted.load(Ordering::SeqCst);
    outcome
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
