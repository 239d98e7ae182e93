//! Where one host stands in a play: a state machine over the play's step
//! tree (tasks, blocks with rescue and always), as Ansible's play iterator.
//!
//! The cursor hands out *segments*: a run of independent tasks (which the
//! host probes together), or "run the notified handlers". The executor runs
//! a segment and tells the cursor whether the host failed in it; the cursor
//! then moves to the next segment: the rest of the section, the rescue of
//! the innermost block that has one, its always, or the end.
//!
//! Pure: no host, no I/O, no variables. Every transition is unit-tested below.

use serde_json::{Map, Value as Json};

use crate::playbook::{Block, Step};

/// How a host takes a dynamic include: per included item, which body (task
/// file) runs and with which variables.
pub type IncludedItems = Vec<(usize, Map<String, Json>)>;

/// What a host runs next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Consecutive independent tasks (indices into the play's tasks).
    Tasks(Vec<usize>),
    /// The notified handlers (at the end of the play, or `meta: flush_handlers`).
    Handlers,
    /// A dynamic include (by id): the executor decides it for the host and
    /// answers with [`Cursor::enter_include`].
    Include(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Root,
    Body,
    Rescue,
    Always,
    /// The tasks of a dynamic include, once per item.
    Include,
}

#[derive(Debug)]
struct Frame<'p> {
    steps: &'p [Step],
    pos: usize,
    section: Section,
    block: Option<&'p Block>,
    /// In an always section entered because of a failure: it goes on after.
    failing: bool,
    /// In an include: each item's body (index into `bodies`) and variables,
    /// and the current item.
    items: IncludedItems,
    item: usize,
    bodies: &'p [Vec<Step>],
    /// Index, in the parent's list, of the block or include this frame is part of.
    entered_at: usize,
}

fn frame<'p>(steps: &'p [Step], section: Section, block: Option<&'p Block>, entered_at: usize) -> Frame<'p> {
    Frame { steps, pos: 0, section, block, failing: false, items: Vec::new(), item: 0, bodies: &[], entered_at }
}

/// Where a section sorts among its block's sections (Ansible's lockstep
/// runs body tasks, then rescue, then always).
fn rank(section: Section) -> usize {
    match section {
        Section::Root | Section::Body | Section::Include => 0,
        Section::Rescue => 1,
        Section::Always => 2,
    }
}

/// One host's position in a play.
#[derive(Debug)]
pub struct Cursor<'p> {
    stack: Vec<Frame<'p>>,
    /// The host failed (no rescue caught it).
    failed: bool,
    /// The final handler flush is still to come.
    handlers_pending: bool,
    /// Notified handlers run even after a failure (`--force-handlers`).
    force_handlers: bool,
    /// The body of the include just handed out (and where it stands), until
    /// it is entered.
    pending_include: Option<(&'p [Vec<Step>], usize)>,
    /// Where the last segment handed out stands in the tree (see
    /// [`Cursor::position`]).
    position: Vec<usize>,
}

impl<'p> Cursor<'p> {
    /// At the start of `steps` (a play's tree).
    pub fn new(steps: &'p [Step], force_handlers: bool) -> Cursor<'p> {
        Cursor {
            stack: vec![frame(steps, Section::Root, None, 0)],
            failed: false,
            handlers_pending: true,
            force_handlers,
            pending_include: None,
            position: Vec::new(),
        }
    }

    /// Whether the host failed for good (it runs nothing more, handlers aside).
    pub fn failed(&self) -> bool {
        self.failed
    }

    /// Ends the host's play now (`meta: end_host`, `end_play`,
    /// `end_batch`): no more tasks, and no handler flush, as in Ansible.
    pub fn end(&mut self) {
        self.stack.clear();
        self.handlers_pending = false;
    }

    /// The next segment, or `None` when the host is done with the play.
    /// `split` cuts consecutive task indices into runs of independent tasks.
    pub fn next(&mut self, split: &dyn Fn(&[usize]) -> Vec<Vec<usize>>) -> Option<Segment> {
        loop {
            let Some(top) = self.stack.last_mut() else {
                let flush = self.handlers_pending && (!self.failed || self.force_handlers);
                self.handlers_pending = false;
                self.position = vec![usize::MAX];
                return flush.then_some(Segment::Handlers);
            };
            if top.pos < top.steps.len() {
                let at = top.pos;
                match &top.steps[top.pos] {
                    Step::Block(b) => {
                        top.pos += 1;
                        self.stack.push(frame(&b.body, Section::Body, Some(b), at));
                        continue;
                    }
                    Step::Include { id, bodies } => {
                        top.pos += 1;
                        self.pending_include = Some((bodies, at));
                        self.position = self.path(at);
                        return Some(Segment::Include(*id));
                    }
                    Step::Task(_) => {}
                }
                let mut indices = Vec::new();
                for step in &top.steps[top.pos..] {
                    match step {
                        Step::Task(t) => indices.push(*t),
                        _ => break,
                    }
                }
                let first = split(&indices).into_iter().next().unwrap_or_else(|| vec![indices[0]]);
                top.pos += first.len().max(1);
                self.position = self.path(at);
                return Some(Segment::Tasks(first));
            }
            // The section ended without a failure; an include goes on with
            // its next item.
            if top.section == Section::Include && top.item + 1 < top.items.len() {
                top.item += 1;
                top.pos = 0;
                top.steps = &top.bodies[top.items[top.item].0];
                continue;
            }
            let done = self.stack.pop().expect("a frame is on the stack");
            match (done.section, done.block) {
                (Section::Body | Section::Rescue, Some(b)) => {
                    self.enter_always(b, false, done.entered_at);
                }
                (Section::Always, Some(_)) if done.failing => self.fail(),
                _ => {}
            }
        }
    }

    fn enter_always(&mut self, block: &'p Block, failing: bool, at: usize) -> bool {
        if block.always.is_empty() {
            return false;
        }
        self.stack.push(Frame { failing, ..frame(&block.always, Section::Always, Some(block), at) });
        true
    }

    /// The tree path of a segment starting at `start` in the top frame:
    /// for each enclosing block or include, its index in its parent, the
    /// section and the item; then `start`.
    fn path(&self, start: usize) -> Vec<usize> {
        let mut p = Vec::new();
        for f in self.stack.iter().skip(1) {
            p.extend([f.entered_at, rank(f.section), f.item]);
        }
        p.push(start);
        p
    }

    /// Where the last segment handed out stands: hosts whose positions
    /// compare lower are behind. The linear strategy runs the hosts that
    /// are furthest behind first and lets the others wait, so hosts meet
    /// again after a rescue, as Ansible's lockstep does.
    pub fn position(&self) -> &[usize] {
        &self.position
    }

    /// Answers a [`Segment::Include`]: for each item, which of its bodies
    /// (task files) runs, with the item's variables; none when the include
    /// was skipped.
    pub fn enter_include(&mut self, items: IncludedItems) {
        let Some((bodies, at)) = self.pending_include.take() else { return };
        let Some(first) = items.first().map(|(b, _)| *b) else { return };
        let Some(body) = bodies.get(first) else { return };
        self.stack.push(Frame { items, bodies, ..frame(body, Section::Include, None, at) });
    }

    /// The variables the enclosing includes give their tasks now (outer
    /// first, inner winning).
    pub fn params(&self) -> Map<String, Json> {
        let mut out = Map::new();
        for f in self.stack.iter().filter(|f| f.section == Section::Include) {
            if let Some((_, vars)) = f.items.get(f.item) {
                out.extend(vars.clone());
            }
        }
        out
    }

    /// The host failed in the last segment: go to the rescue of the
    /// innermost block that has one (through the always sections on the
    /// way), or end the host.
    pub fn fail(&mut self) {
        self.pending_include = None;
        while let Some(top) = self.stack.pop() {
            if top.section == Section::Include {
                continue;
            }
            let Some(b) = top.block else { break };
            match top.section {
                Section::Body if !b.rescue.is_empty() => {
                    self.stack.push(frame(&b.rescue, Section::Rescue, Some(b), top.entered_at));
                    return;
                }
                Section::Body | Section::Rescue => {
                    if self.enter_always(b, true, top.entered_at) {
                        return;
                    }
                }
                Section::Always | Section::Root | Section::Include => {}
            }
        }
        self.stack.clear();
        self.failed = true;
    }

    /// `meta: clear_host_errors`: a failed host runs on, from where it is.
    pub fn clear_failure(&mut self) {
        self.failed = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(body: Vec<Step>, rescue: Vec<Step>, always: Vec<Step>) -> Step {
        Step::Block(Block { name: None, body, rescue, always })
    }

    /// Every task is its own run (the graph splits nothing here).
    fn one_by_one(indices: &[usize]) -> Vec<Vec<usize>> {
        indices.iter().map(|i| vec![*i]).collect()
    }

    fn together(indices: &[usize]) -> Vec<Vec<usize>> {
        vec![indices.to_vec()]
    }

    /// Walks the cursor, failing the segments that contain a task in `fails`.
    fn walk(steps: &[Step], fails: &[usize], force: bool) -> (Vec<Segment>, bool) {
        let mut c = Cursor::new(steps, force);
        let mut seen = Vec::new();
        while let Some(seg) = c.next(&one_by_one) {
            let failed = matches!(&seg, Segment::Tasks(t) if t.iter().any(|i| fails.contains(i)));
            seen.push(seg);
            if failed {
                c.fail();
            }
        }
        (seen, c.failed())
    }

    fn tasks(list: &[&[usize]]) -> Vec<Segment> {
        let mut out: Vec<Segment> = list.iter().map(|t| Segment::Tasks(t.to_vec())).collect();
        out.push(Segment::Handlers);
        out
    }

    #[test]
    fn consecutive_tasks_come_as_the_runs_of_the_graph() {
        let steps = vec![Step::Task(0), Step::Task(1), block(vec![Step::Task(2)], vec![], vec![]), Step::Task(3)];
        let mut c = Cursor::new(&steps, false);
        assert_eq!(c.next(&together), Some(Segment::Tasks(vec![0, 1])));
        assert_eq!(c.next(&together), Some(Segment::Tasks(vec![2])));
        assert_eq!(c.next(&together), Some(Segment::Tasks(vec![3])));
        assert_eq!(c.next(&together), Some(Segment::Handlers));
        assert_eq!(c.next(&together), None);
    }

    #[test]
    fn a_failure_in_the_body_runs_rescue_then_always_and_goes_on() {
        let steps =
            vec![block(vec![Step::Task(0), Step::Task(1)], vec![Step::Task(2)], vec![Step::Task(3)]), Step::Task(4)];
        assert_eq!(walk(&steps, &[0], false), (tasks(&[&[0], &[2], &[3], &[4]]), false));
        assert_eq!(walk(&steps, &[], false), (tasks(&[&[0], &[1], &[3], &[4]]), false));
    }

    #[test]
    fn without_rescue_always_runs_and_the_host_fails() {
        let steps = vec![block(vec![Step::Task(0)], vec![], vec![Step::Task(1)]), Step::Task(2)];
        assert_eq!(walk(&steps, &[0], false), (vec![Segment::Tasks(vec![0]), Segment::Tasks(vec![1])], true));
    }

    #[test]
    fn a_failing_rescue_runs_always_and_fails_the_host() {
        let steps = vec![block(vec![Step::Task(0)], vec![Step::Task(1)], vec![Step::Task(2)]), Step::Task(3)];
        let (seen, failed) = walk(&steps, &[0, 1], false);
        assert_eq!(seen, vec![Segment::Tasks(vec![0]), Segment::Tasks(vec![1]), Segment::Tasks(vec![2])]);
        assert!(failed);
    }

    #[test]
    fn an_inner_failure_goes_through_inner_always_to_the_outer_rescue() {
        let inner = block(vec![Step::Task(0)], vec![], vec![Step::Task(1)]);
        let steps = vec![block(vec![inner, Step::Task(2)], vec![Step::Task(3)], vec![]), Step::Task(4)];
        assert_eq!(walk(&steps, &[0], false), (tasks(&[&[0], &[1], &[3], &[4]]), false));
    }

    #[test]
    fn a_failing_always_fails_the_host() {
        let steps = vec![block(vec![Step::Task(0)], vec![], vec![Step::Task(1)]), Step::Task(2)];
        assert_eq!(walk(&steps, &[1], false), (vec![Segment::Tasks(vec![0]), Segment::Tasks(vec![1])], true));
    }

    #[test]
    fn force_handlers_flushes_after_a_failure() {
        let steps = vec![Step::Task(0), Step::Task(1)];
        assert_eq!(walk(&steps, &[0], true), (vec![Segment::Tasks(vec![0]), Segment::Handlers], true));
    }

    #[test]
    fn end_stops_the_tasks_and_the_handlers() {
        let steps = vec![Step::Task(0), Step::Task(1)];
        let mut c = Cursor::new(&steps, false);
        assert_eq!(c.next(&one_by_one), Some(Segment::Tasks(vec![0])));
        c.end();
        assert_eq!(c.next(&one_by_one), None);
        assert!(!c.failed());
    }

    fn vars(item: &str) -> Map<String, Json> {
        let mut m = Map::new();
        m.insert("item".into(), Json::from(item));
        m
    }

    #[test]
    fn an_include_runs_its_tasks_once_per_item_with_that_items_variables() {
        let steps = vec![Step::Include { id: 0, bodies: vec![vec![Step::Task(0), Step::Task(1)]] }, Step::Task(2)];
        let mut c = Cursor::new(&steps, false);
        assert_eq!(c.next(&together), Some(Segment::Include(0)));
        c.enter_include(vec![(0, vars("a")), (0, vars("b"))]);
        let mut seen = Vec::new();
        while let Some(seg) = c.next(&together) {
            seen.push((seg, c.params().get("item").cloned()));
        }
        let a = Some(Json::from("a"));
        let b = Some(Json::from("b"));
        assert_eq!(
            seen,
            vec![
                (Segment::Tasks(vec![0, 1]), a),
                (Segment::Tasks(vec![0, 1]), b),
                (Segment::Tasks(vec![2]), None),
                (Segment::Handlers, None),
            ]
        );
    }

    #[test]
    fn a_skipped_include_runs_nothing_and_a_failure_inside_reaches_the_rescue() {
        let inc = Step::Include { id: 0, bodies: vec![vec![Step::Task(0)]] };
        let steps = vec![block(vec![inc], vec![Step::Task(1)], vec![]), Step::Task(2)];
        let mut c = Cursor::new(&steps, false);
        assert_eq!(c.next(&together), Some(Segment::Include(0)));
        c.enter_include(vec![]);
        assert_eq!(c.next(&together), Some(Segment::Tasks(vec![2])));

        let mut c = Cursor::new(&steps, false);
        c.next(&together);
        c.enter_include(vec![(0, vars("a")), (0, vars("b"))]);
        assert_eq!(c.next(&together), Some(Segment::Tasks(vec![0])));
        c.fail();
        assert_eq!(c.next(&together), Some(Segment::Tasks(vec![1])), "the block's rescue");
        assert!(c.params().is_empty(), "the include's variables end with it");
    }

    #[test]
    fn each_item_of_an_include_runs_the_body_it_chose() {
        let steps = vec![Step::Include { id: 0, bodies: vec![vec![Step::Task(0)], vec![Step::Task(1)]] }];
        let mut c = Cursor::new(&steps, false);
        assert_eq!(c.next(&together), Some(Segment::Include(0)));
        c.enter_include(vec![(1, vars("b")), (0, vars("a"))]);
        assert_eq!(c.next(&together), Some(Segment::Tasks(vec![1])));
        assert_eq!(c.next(&together), Some(Segment::Tasks(vec![0])));
        assert_eq!(c.next(&together), Some(Segment::Handlers));
    }

    #[test]
    fn positions_order_body_before_rescue_before_always_and_later_steps() {
        let steps =
            vec![block(vec![Step::Task(0), Step::Task(1)], vec![Step::Task(2)], vec![Step::Task(3)]), Step::Task(4)];
        let mut ok = Cursor::new(&steps, false);
        let mut bad = Cursor::new(&steps, false);
        ok.next(&one_by_one);
        bad.next(&one_by_one);
        assert_eq!(ok.position(), bad.position());
        bad.fail();
        ok.next(&one_by_one); // task 1, in the body
        bad.next(&one_by_one); // task 2, the rescue
        assert!(ok.position() < bad.position(), "body tasks run before rescue ones");
        ok.next(&one_by_one); // task 3, always
        assert!(bad.position() < ok.position(), "rescue runs before always");
        bad.next(&one_by_one); // task 3, always
        assert_eq!(ok.position(), bad.position(), "the hosts meet again");
        ok.next(&one_by_one);
        bad.next(&one_by_one);
        assert_eq!(ok.position(), bad.position());
    }

    #[test]
    fn clear_failure_lets_a_failed_host_count_as_done() {
        let steps = vec![Step::Task(0)];
        let mut c = Cursor::new(&steps, false);
        c.next(&one_by_one);
        c.fail();
        assert!(c.failed());
        c.clear_failure();
        assert!(!c.failed());
    }
}
