//! One play on one batch of hosts: the strategy that decides when each
//! host runs its next segment (see [`super::cursor`]).
//!
//! - `linear`, Ansible's default: every host of the batch finishes a step
//!   before any host starts the next. A step is one segment per host: a run
//!   of independent tasks (no host can observe another inside it, so a run
//!   stays one round trip) or a handler flush. Results are shown grouped by
//!   task, one `TASK [...]` header each, as Ansible shows them.
//! - `free`: each host runs on at its own pace; output interleaves.
//!
//! At most `--forks` hosts run a segment at once. This module never talks
//! to a transport or a module itself: [`HostRun`] does.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard, Semaphore};

use super::cursor::{Cursor, Segment};
use super::events::{Event, EventSink};
use super::futures_join_all;
use super::host::{HostEnd, HostRun, Link};
use super::vars::HostVars;
use crate::modules::Control;
use crate::plan::{PlayPlan, RunPlan};
use crate::playbook::Strategy;

/// Holds a host's events during a linear step, so that the step's results
/// can be shown task by task across hosts. Task starts go through at once
/// (they drive the progress bar).
struct Buffer {
    inner: Arc<dyn EventSink>,
    events: Mutex<Vec<Event>>,
}

impl EventSink for Buffer {
    fn emit(&self, event: Event) {
        match event {
            // Task starts drive the progress display; traces are for now.
            Event::TaskStart { .. } | Event::Remote(_) => self.inner.emit(event),
            other => {
                self.inner.live(&other);
                self.events.lock().expect("buffer lock").push(other);
            }
        }
    }
}

impl Buffer {
    fn take(&self) -> VecDeque<Event> {
        std::mem::take(&mut *self.events.lock().expect("buffer lock")).into()
    }
}

/// One host in the play.
struct Slot<'a> {
    host: String,
    run: HostRun<'a>,
    link: OwnedMutexGuard<Link>,
    vars: HostVars,
    notified: BTreeSet<usize>,
    cursor: Cursor<'a>,
    /// Set when the host stopped for a reason other than a task failure.
    end: Option<HostEnd>,
    /// Stopped because another host's failure ended the play
    /// (`any_errors_fatal`, `max_fail_percentage`): failed, with no result.
    aborted: bool,
    /// The last segment failed on this host.
    last_failed: bool,
    /// Linear: the next segment and its position, while the host waits for
    /// hosts that are behind.
    pending: Option<(Segment, Vec<usize>)>,
    buffer: Option<Arc<Buffer>>,
}

impl Slot<'_> {
    /// Runs a segment; a `meta` task is carried out here, or left in
    /// `control` when it acts on every host of the play.
    async fn step(&mut self, segment: &Segment) -> Option<Control> {
        if let Segment::Include(id) = segment {
            let end = match self.run.decide_include(*id, &self.vars, &self.host) {
                Ok(items) => {
                    self.cursor.enter_include(items);
                    HostEnd::Done
                }
                Err(end) => end,
            };
            self.settle(end);
            return None;
        }
        self.vars.params = self.cursor.params();
        let end = match self.run.meta(segment, &mut self.vars, &self.host) {
            None => self.run.run_segment(segment, &mut self.link, &mut self.vars, &mut self.notified).await,
            Some(Err(end)) => end,
            Some(Ok(control)) => match control {
                Control::FlushHandlers => {
                    self.run.run_segment(&Segment::Handlers, &mut self.link, &mut self.vars, &mut self.notified).await
                }
                Control::EndHost => {
                    self.cursor.end();
                    HostEnd::Done
                }
                Control::ResetConnection => {
                    if let Some(conn) = self.link.conn.take() {
                        self.link.closed_execs += conn.exec_count();
                        conn.close().await;
                    }
                    HostEnd::Done
                }
                Control::Noop => HostEnd::Done,
                Control::EndPlay | Control::EndBatch | Control::ClearHostErrors => return Some(control),
            },
        };
        self.settle(end);
        None
    }

    /// Ends the host's play (`end_play`, `end_batch`, a fatal failure elsewhere).
    fn end(&mut self) {
        self.cursor.end();
        self.pending = None;
    }

    /// Moves the cursor on from how the last segment ended.
    fn settle(&mut self, end: HostEnd) {
        self.last_failed = end == HostEnd::Failed;
        match end {
            HostEnd::Done => {}
            HostEnd::Failed => self.cursor.fail(),
            other => self.end = Some(other),
        }
    }

    fn outcome(&self) -> HostEnd {
        match self.end {
            Some(end) => end,
            None if self.cursor.failed() || self.aborted => HostEnd::Failed,
            None => HostEnd::Done,
        }
    }
}

/// A `run_once` task of one step: who ran it, who takes its result, and
/// the runner's variables before, to see what it registered or set.
struct RunOnce {
    runner: usize,
    followers: Vec<usize>,
    before: serde_json::Map<String, serde_json::Value>,
}

impl RunOnce {
    /// Gives the followers what the runner's task registered and set, and
    /// its failure (they go to their rescue, or stop, as the runner does).
    fn share(self, slots: &mut [Slot<'_>]) {
        let runner = &slots[self.runner];
        let changed: Vec<(String, serde_json::Value)> = runner
            .vars
            .runtime
            .iter()
            .filter(|(k, v)| self.before.get(*k) != Some(*v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let failed = runner.last_failed;
        for f in self.followers {
            let s = &mut slots[f];
            s.vars.runtime.extend(changed.iter().cloned());
            if failed {
                s.cursor.fail();
            }
        }
    }
}

/// Everything a play needs from the run.
pub(super) struct PlayRun<'a> {
    /// The play.
    pub play: &'a PlayPlan,
    /// The whole plan (templates, options, inventory).
    pub plan: &'a RunPlan,
    /// Where events go.
    pub sink: &'a Arc<dyn EventSink>,
    /// Set on Ctrl-C.
    pub interrupted: &'a AtomicBool,
    /// `--forks`.
    pub forks: &'a Semaphore,
    /// Set by `meta: end_play`: later batches of the play do not run.
    pub ended: &'a AtomicBool,
    /// Connections of delegated tasks.
    pub delegates: &'a super::pool::Pool,
    /// Handlers earlier runs left pending, and those this one leaves.
    pub pending: &'a std::sync::Mutex<Option<super::pending::Store>>,
}

impl PlayRun<'_> {
    /// Runs the play on `hosts` (one batch) and says how each ended.
    pub async fn run(
        &self,
        hosts: &[String],
        links: &HashMap<String, Arc<AsyncMutex<Link>>>,
    ) -> Vec<(String, HostEnd)> {
        let linear = self.play.play.strategy == Strategy::Linear;
        let mut slots = Vec::new();
        for host in hosts {
            let buffer = linear.then(|| Arc::new(Buffer { inner: self.sink.clone(), events: Mutex::new(Vec::new()) }));
            let sink: Arc<dyn EventSink> = match &buffer {
                Some(b) => b.clone(),
                None => self.sink.clone(),
            };
            let run = HostRun {
                play: self.play,
                templates: &self.plan.templates,
                options: &self.plan.options,
                sink,
                interrupted: self.interrupted,
                inventory_vars: self.plan.inventory.host_vars(host).unwrap_or_default(),
                delegates: self.delegates,
                inventory: &self.plan.inventory,
                plan_keys: Default::default(),
            };
            slots.push(Slot {
                host: host.clone(),
                run,
                link: links[host].clone().lock_owned().await,
                vars: HostVars::default(),
                notified: BTreeSet::new(),
                cursor: Cursor::new(
                    &self.play.play.steps,
                    self.plan.options.force_handlers || self.play.play.force_handlers,
                ),
                end: None,
                aborted: false,
                last_failed: false,
                pending: None,
                buffer,
            });
        }
        // Facts and play variables: the first step of every host.
        let setups = slots.iter_mut().map(|s| async move {
            let _permit = self.forks.acquire().await.expect("semaphore open");
            match s.run.setup(&mut s.link).await {
                Ok(vars) => s.vars = vars,
                Err(end) => s.end = Some(end),
            }
        });
        futures_join_all(setups.collect()).await;
        self.take_pending(&mut slots);
        let all: Vec<usize> = (0..slots.len()).collect();
        self.flush(&mut slots, &[(all, None)]);
        if linear {
            self.linear(&mut slots).await;
        } else {
            self.free(&mut slots).await;
        }
        self.leave_pending(&slots);
        slots
            .into_iter()
            .map(|mut s| {
                s.link.runtime = std::mem::take(&mut s.vars.runtime);
                self.sink.emit(Event::HostDone { host: s.host.clone() });
                let end = s.outcome();
                (s.host, end)
            })
            .collect()
    }

    fn pending_key(&self) -> String {
        super::pending::play_key(&self.play.playbook_dir, self.play.index, &self.play.play.name)
    }

    /// Notifies, on each host, the handlers an earlier run of this play
    /// notified but never ran, and says so.
    fn take_pending(&self, slots: &mut [Slot<'_>]) {
        let guard = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let Some(store) = guard.as_ref() else { return };
        let key = self.pending_key();
        let handlers = &self.play.play.handlers;
        for s in slots.iter_mut().filter(|s| s.end.is_none()) {
            let names = store.pending(&key, &s.host);
            if names.is_empty() {
                continue;
            }
            let (mut found, mut gone) = (Vec::new(), Vec::new());
            for name in &names {
                match handlers.iter().position(|h| h.display_name() == *name) {
                    Some(i) => {
                        s.notified.insert(i);
                        found.push(name.as_str());
                    }
                    None => gone.push(name.as_str()),
                }
            }
            if !found.is_empty() {
                self.sink.emit(Event::Warning(format!(
                    "{}: running handlers an earlier run notified but never ran (it failed or was interrupted): {}",
                    s.host,
                    found.join(", ")
                )));
            }
            if !gone.is_empty() {
                self.sink.emit(Event::Warning(format!(
                    "{}: handlers an earlier run left pending are no longer in the play, dropped: {}",
                    s.host,
                    gone.join(", ")
                )));
            }
        }
    }

    /// Records, per host, the handlers this play notified but never ran
    /// (a real run only: a dry run changes nothing a handler would follow).
    fn leave_pending(&self, slots: &[Slot<'_>]) {
        if self.plan.options.check {
            return;
        }
        let mut guard = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let Some(store) = guard.as_mut() else { return };
        let key = self.pending_key();
        for s in slots {
            let names = s.notified.iter().map(|i| self.play.play.handlers[*i].display_name()).collect();
            store.set(&key, &s.host, names);
        }
    }

    fn split(&self) -> impl Fn(&[usize]) -> Vec<Vec<usize>> + '_ {
        |indices: &[usize]| self.play.graph.split_into_runs(indices)
    }

    async fn linear(&self, slots: &mut [Slot<'_>]) {
        let split = self.split();
        loop {
            if self.interrupted.load(Ordering::SeqCst) {
                for s in slots.iter_mut().filter(|s| s.end.is_none()) {
                    s.end = Some(HostEnd::Interrupted);
                }
                return;
            }
            // Every host holds its next segment; only the hosts furthest
            // behind run it now, the others wait for them (lockstep).
            for s in slots.iter_mut() {
                if s.end.is_some() {
                    s.pending = None;
                } else if s.pending.is_none() {
                    s.pending = s.cursor.next(&split).map(|seg| (seg, s.cursor.position().to_vec()));
                }
            }
            let Some(lowest) = slots.iter().filter_map(|s| s.pending.as_ref().map(|(_, p)| p.clone())).min() else {
                return;
            };
            let segments: Vec<Option<Segment>> = slots
                .iter_mut()
                .map(|s| match &s.pending {
                    Some((_, p)) if *p == lowest => s.pending.take().map(|(seg, _)| seg),
                    _ => None,
                })
                .collect();
            // Hosts on the same segment are shown together, task by task.
            let mut groups: Vec<(Vec<usize>, Option<Segment>)> = Vec::new();
            for (i, segment) in segments.iter().enumerate() {
                let Some(segment) = segment else { continue };
                match groups.iter_mut().find(|(_, s)| s.as_ref() == Some(segment)) {
                    Some((members, _)) => members.push(i),
                    None => groups.push((vec![i], Some(segment.clone()))),
                }
            }
            // A `run_once` task runs on the first host of its group only; the
            // others take its result afterwards.
            let once: Vec<RunOnce> = groups
                .iter()
                .filter(|(_, seg)| self.is_run_once(seg.as_ref()))
                .map(|(members, _)| RunOnce {
                    runner: members[0],
                    followers: members[1..].to_vec(),
                    before: slots[members[0]].vars.runtime.clone(),
                })
                .collect();
            let followers: Vec<usize> = once.iter().flat_map(|o| o.followers.iter().copied()).collect();
            let steps = slots.iter_mut().zip(segments).enumerate().filter_map(|(i, (s, segment))| {
                let segment = segment.filter(|_| !followers.contains(&i))?;
                Some(async move {
                    let _permit = self.forks.acquire().await.expect("semaphore open");
                    s.step(&segment).await
                })
            });
            let controls: Vec<Control> = futures_join_all(steps.collect()).await.into_iter().flatten().collect();
            for o in once {
                o.share(slots);
            }
            self.flush(slots, &groups);
            for control in controls {
                self.play_control(slots, control);
            }
            self.check_failures(slots);
        }
    }

    fn is_run_once(&self, segment: Option<&Segment>) -> bool {
        matches!(segment, Some(Segment::Tasks(t)) if t.len() == 1 && self.play.play.tasks[t[0]].run_once)
    }

    /// Whether the failures so far end the play for every host of the
    /// batch: any failure with `any_errors_fatal`, more than
    /// `max_fail_percentage` of the batch otherwise.
    fn failures_end_play(&self, failed: usize, total: usize) -> bool {
        let play = &self.play.play;
        failed > 0
            && (play.any_errors_fatal
                || play.max_fail_percentage.is_some_and(|max| failed as f64 * 100.0 / total as f64 > max))
    }

    fn check_failures(&self, slots: &mut [Slot<'_>]) {
        let failed = slots.iter().filter(|s| matches!(s.outcome(), HostEnd::Failed | HostEnd::Unreachable)).count();
        if !self.failures_end_play(failed, slots.len()) {
            return;
        }
        self.ended.store(true, Ordering::SeqCst);
        for s in slots.iter_mut().filter(|s| s.outcome() == HostEnd::Done) {
            s.aborted = true;
            s.end();
        }
    }

    /// A `meta` task that acts on every host of the batch.
    fn play_control(&self, slots: &mut [Slot<'_>], control: Control) {
        match control {
            Control::EndPlay => {
                self.ended.store(true, Ordering::SeqCst);
                slots.iter_mut().for_each(Slot::end);
            }
            Control::EndBatch => slots.iter_mut().for_each(Slot::end),
            Control::ClearHostErrors => slots.iter_mut().for_each(|s| s.cursor.clear_failure()),
            _ => {}
        }
    }

    async fn free(&self, slots: &mut [Slot<'_>]) {
        let split = &self.split();
        let batch_ended = &AtomicBool::new(false);
        let failed = &std::sync::atomic::AtomicUsize::new(0);
        let total = slots.len();
        let hosts = slots.iter_mut().map(|s| async move {
            let mut controls = Vec::new();
            while s.end.is_none() {
                if self.interrupted.load(Ordering::SeqCst) {
                    s.end = Some(HostEnd::Interrupted);
                    break;
                }
                if batch_ended.load(Ordering::SeqCst) {
                    s.aborted |= self.ended.load(Ordering::SeqCst) && s.outcome() == HostEnd::Done;
                    s.cursor.end();
                }
                let Some(segment) = s.cursor.next(split) else { break };
                let _permit = self.forks.acquire().await.expect("semaphore open");
                let was_done = s.outcome() == HostEnd::Done;
                if let Some(control) = s.step(&segment).await {
                    if matches!(control, Control::EndPlay | Control::EndBatch) {
                        batch_ended.store(true, Ordering::SeqCst);
                    }
                    controls.push(control);
                }
                if was_done && s.outcome() != HostEnd::Done {
                    let now = failed.fetch_add(1, Ordering::SeqCst) + 1;
                    if self.failures_end_play(now, total) {
                        self.ended.store(true, Ordering::SeqCst);
                        batch_ended.store(true, Ordering::SeqCst);
                    }
                }
            }
            controls
        });
        let controls: Vec<Control> = futures_join_all(hosts.collect()).await.into_iter().flatten().collect();
        for control in controls {
            self.play_control(slots, control);
        }
    }

    /// Emits the buffered events of each group of hosts, task by task: the
    /// first result of every host, then the second, and so on.
    fn flush(&self, slots: &mut [Slot<'_>], groups: &[(Vec<usize>, Option<Segment>)]) {
        for (members, _) in groups {
            let mut queues: Vec<VecDeque<Event>> =
                members.iter().filter_map(|i| slots[*i].buffer.as_ref().map(|b| b.take())).collect();
            while queues.iter().any(|q| !q.is_empty()) {
                for q in queues.iter_mut() {
                    while let Some(event) = q.pop_front() {
                        let done = matches!(event, Event::TaskDone(_));
                        self.sink.replay(event);
                        if done {
                            break;
                        }
                    }
                }
            }
        }
    }
}
