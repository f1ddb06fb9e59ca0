//! The run hub: runs by id, any number of subscribers to each with replay
//! from a `seq`, a status snapshot while a run goes, handles to cancel, and
//! finished reports kept for a while.
//!
//! An executor with a hub ([`crate::exec::Executor::with_hub`]) registers
//! each run it prepares and publishes its events there as it goes; other
//! producers can publish through [`RunHub::register`]. Nothing here spawns a
//! task or a thread: finished runs are forgotten when the hub is next used.

mod log;
mod snapshot;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

pub use log::{EventBatch, Subscription};
pub use snapshot::{Counts, NodeSnapshot, NodeState, RunSnapshot, RunState};

use self::log::EventLog;
use crate::error::{Error, Result};
use crate::exec::event::RunEvent;
use crate::exec::{RunHandle, RunReport};

/// How much a [`RunHub`] keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct HubOptions {
    /// Events of each run kept for replay (the newest; at least this many,
    /// in blocks of 256 growing to 4,096). A subscriber further behind than this loses its
    /// subscription.
    pub replay: usize,
    /// How long a finished run (its report, snapshot and events) stays.
    pub keep_finished: Duration,
    /// At most this many finished runs stay; the oldest go first.
    pub max_finished: usize,
}

impl Default for HubOptions {
    fn default() -> Self {
        HubOptions {
            replay: 16_384,
            keep_finished: Duration::from_secs(15 * 60),
            max_finished: 1_000,
        }
    }
}

impl HubOptions {
    pub fn new() -> Self {
        HubOptions::default()
    }
    pub fn replay(mut self, events: usize) -> Self {
        self.replay = events.max(1);
        self
    }
    pub fn keep_finished(mut self, time: Duration) -> Self {
        self.keep_finished = time;
        self
    }
    pub fn max_finished(mut self, runs: usize) -> Self {
        self.max_finished = runs;
        self
    }
}

/// Runs by id, with subscribers, snapshots and kept reports. Cheap to
/// clone; clones share everything. Nothing in it spawns a task or a thread.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use reelgraph::exec::{Executor, RunHub, RunOptions, RunState};
/// use reelgraph::runner::{LocalRunner, Outputs, TaskError};
/// use reelgraph::{Canvas, Catalog, Op};
/// use serde_json::json;
///
/// let catalog = Catalog::builtin();
/// catalog.register_json(r#"{"type": "shout", "category": "post", "title": "Shout",
///     "outputs": [{"name": "text", "type": "text"}],
///     "task": {"function": "text.upper"}}"#).unwrap();
/// let mut canvas = Canvas::new(catalog, "c", "C");
/// canvas.apply(vec![Op::add_node("a", "shout", json!({}))]).unwrap();
/// let runner = LocalRunner::new();
/// runner.register("text.upper", |_task, _ctx| async move {
///     Ok::<_, TaskError>(Outputs::from_iter([("text".to_owned(), json!("HI"))]))
/// });
///
/// let hub = RunHub::default();
/// let executor = Executor::new(runner).with_hub(hub.clone());
/// let canvas = std::sync::Arc::new(std::sync::Mutex::new(canvas));
/// let run = executor.start(&canvas, RunOptions::new().run_id("r1")).await.unwrap();
/// let mut events = hub.subscribe("r1", 0).unwrap();
/// run.finish().await;
///
/// // Read after the run ended: replayed from seq 0.
/// let mut seqs = Vec::new();
/// while let Some(event) = events.next().await.unwrap() {
///     seqs.push(event.seq);
/// }
/// assert_eq!(seqs, (0..seqs.len() as u64).collect::<Vec<_>>());
/// assert_eq!(hub.snapshot("r1").unwrap().state, RunState::Completed);
/// assert_eq!(hub.report("r1").unwrap().unwrap().outputs["a"]["text"], "HI");
/// # });
/// ```
#[derive(Debug, Clone, Default)]
pub struct RunHub {
    inner: Arc<HubInner>,
}

#[derive(Debug, Default)]
struct HubInner {
    options: HubOptions,
    runs: Mutex<Runs>,
}

#[derive(Debug, Default)]
struct Runs {
    by_id: HashMap<Arc<str>, Arc<RunEntry>>,
    /// Finished runs, oldest first, with when they finished.
    finished: VecDeque<(Arc<str>, Instant)>,
    /// Runs with live [`HeldRun`]s, and how many each has.
    holds: HashMap<Arc<str>, usize>,
    /// Held runs past their retention: forgotten when their last hold goes.
    overdue: Vec<Arc<str>>,
}

/// One run in the hub.
#[derive(Debug)]
struct RunEntry {
    log: Arc<EventLog>,
    handle: Option<RunHandle>,
    status: Mutex<Status>,
}

#[derive(Debug)]
struct Status {
    snapshot: RunSnapshot,
    report: Option<RunReport>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A poisoned lock only means a panic elsewhere; the data is whole.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl RunHub {
    pub fn new(options: HubOptions) -> Self {
        RunHub {
            inner: Arc::new(HubInner {
                options,
                runs: Mutex::default(),
            }),
        }
    }

    pub fn options(&self) -> &HubOptions {
        &self.inner.options
    }

    /// Adds run `run_id` and returns what publishes its events. `handle`
    /// makes [`RunHub::cancel`] and [`RunHub::cancel_node`] reach the run.
    /// An id the hub holds already (running, or finished and kept) is
    /// refused with `duplicate_id`.
    pub fn register(&self, run_id: &str, handle: Option<RunHandle>) -> Result<Publisher> {
        let id: Arc<str> = Arc::from(run_id);
        let entry = Arc::new(RunEntry {
            log: Arc::new(EventLog::new(id.clone(), self.inner.options.replay)),
            handle,
            status: Mutex::new(Status {
                snapshot: RunSnapshot::new(run_id),
                report: None,
            }),
        });
        let mut runs = self.runs();
        if runs.by_id.contains_key(run_id) {
            return Err(Error::DuplicateId {
                kind: "run",
                id: run_id.to_owned(),
            });
        }
        runs.by_id.insert(id.clone(), entry.clone());
        Ok(Publisher {
            hub: self.clone(),
            id,
            entry,
            open: Mutex::new(None),
            finished: false,
        })
    }

    /// The run's events from `seq` on (0: all of them, as long as the hub
    /// still holds them). Refused with `not_found` for a run the hub does
    /// not hold, and with `seq_dropped` when `seq` is older than the oldest
    /// event kept.
    pub fn subscribe(&self, run_id: &str, seq: u64) -> Result<Subscription> {
        Subscription::new(self.entry(run_id)?.log.clone(), seq)
    }

    /// Where the run stands now (while it runs, and after).
    pub fn snapshot(&self, run_id: &str) -> Result<RunSnapshot> {
        Ok(lock(&self.entry(run_id)?.status).snapshot.clone())
    }

    /// The run's report once it ended; `None` while it runs (or when it
    /// was dropped before its end).
    pub fn report(&self, run_id: &str) -> Result<Option<RunReport>> {
        Ok(lock(&self.entry(run_id)?.status).report.clone())
    }

    /// The oldest `seq` the hub still holds for the run, and the next one.
    pub fn seq_range(&self, run_id: &str) -> Result<(u64, u64)> {
        let entry = self.entry(run_id)?;
        Ok((entry.log.oldest(), entry.log.published()))
    }

    /// Cancels the run (see [`RunHandle::cancel`]); a run that ended, or
    /// one registered without a handle, is left as it is.
    pub fn cancel(&self, run_id: &str) -> Result<()> {
        if let Some(handle) = &self.entry(run_id)?.handle {
            handle.cancel();
        }
        Ok(())
    }

    /// Cancels one node of the run (see [`RunHandle::cancel_node`]).
    pub fn cancel_node(&self, run_id: &str, node: &str) -> Result<bool> {
        Ok(self
            .entry(run_id)?
            .handle
            .as_ref()
            .is_some_and(|h| h.cancel_node(node)))
    }

    /// Keeps the run (its snapshot, report and events) past the hub's
    /// retention until the returned guard is dropped: for whoever stores
    /// finished runs elsewhere, so that readers find a run in the hub until
    /// the store has it. Refused with `not_found` for a run the hub does
    /// not hold.
    pub fn hold(&self, run_id: &str) -> Result<HeldRun> {
        let mut runs = self.runs();
        let Some((id, _)) = runs.by_id.get_key_value(run_id) else {
            return Err(Error::NotFound {
                kind: "run",
                id: run_id.to_owned(),
            });
        };
        let id = id.clone();
        *runs.holds.entry(id.clone()).or_default() += 1;
        Ok(HeldRun {
            hub: self.clone(),
            id,
        })
    }

    /// Ids of the runs the hub holds, running or finished, in no order.
    pub fn run_ids(&self) -> Vec<String> {
        self.runs().by_id.keys().map(|id| id.to_string()).collect()
    }

    fn entry(&self, run_id: &str) -> Result<Arc<RunEntry>> {
        self.runs()
            .by_id
            .get(run_id)
            .cloned()
            .ok_or_else(|| Error::NotFound {
                kind: "run",
                id: run_id.to_owned(),
            })
    }

    /// The run table, with finished runs past their time forgotten.
    fn runs(&self) -> MutexGuard<'_, Runs> {
        let mut runs = lock(&self.inner.runs);
        let options = &self.inner.options;
        let now = Instant::now();
        while let Some((id, at)) = runs.finished.front() {
            let expired = now.saturating_duration_since(*at) >= options.keep_finished;
            if !expired && runs.finished.len() <= options.max_finished {
                break;
            }
            let id = id.clone();
            runs.finished.pop_front();
            if runs.holds.contains_key(&id) {
                runs.overdue.push(id);
            } else {
                runs.by_id.remove(&id);
            }
        }
        runs
    }
}

/// Keeps one run in its [`RunHub`] past the hub's retention while it lives
/// (see [`RunHub::hold`]).
#[derive(Debug)]
pub struct HeldRun {
    hub: RunHub,
    id: Arc<str>,
}

impl Drop for HeldRun {
    fn drop(&mut self) {
        let mut runs = lock(&self.hub.inner.runs);
        let Some(count) = runs.holds.get_mut(&self.id) else {
            return;
        };
        *count -= 1;
        if *count > 0 {
            return;
        }
        runs.holds.remove(&self.id);
        if let Some(at) = runs.overdue.iter().position(|id| *id == self.id) {
            runs.overdue.swap_remove(at);
            runs.by_id.remove(&self.id);
        }
    }
}

/// Publishes one run's events to a [`RunHub`]. Dropping it before
/// [`Publisher::finish`] ends the run's stream as abandoned.
#[derive(Debug)]
pub struct Publisher {
    hub: RunHub,
    id: Arc<str>,
    entry: Arc<RunEntry>,
    /// The log's block in writing (only the publisher takes this lock).
    open: Mutex<Option<Arc<log::Block>>>,
    finished: bool,
}

impl Publisher {
    /// Appends events, in `seq` order from 0 without gaps: each costs the
    /// same however many subscribers there are.
    pub fn publish(&self, events: &[RunEvent]) {
        self.fold(events);
        self.entry
            .log
            .publish(&mut lock(&self.open), events.iter().cloned());
    }

    /// As [`Publisher::publish`], moving the events into the log rather
    /// than copying them; `events` is left empty.
    pub(crate) fn publish_owned(&self, events: &mut Vec<RunEvent>) {
        self.fold(events);
        self.entry
            .log
            .publish(&mut lock(&self.open), events.drain(..));
    }

    fn fold(&self, events: &[RunEvent]) {
        let mut status = lock(&self.entry.status);
        for event in events {
            status.snapshot.see(event);
        }
    }

    /// The run ended with `report`: subscribers read to the last event and
    /// end; the report is kept for the hub's retention.
    pub fn finish(mut self, report: RunReport) {
        lock(&self.entry.status).report = Some(report);
        self.close();
    }

    fn close(&mut self) {
        self.finished = true;
        self.entry.log.close();
        let mut runs = self.hub.runs();
        runs.finished.push_back((self.id.clone(), Instant::now()));
        drop(runs);
        // Forget what is past its time or count now, not at the next call.
        drop(self.hub.runs());
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        if !self.finished {
            lock(&self.entry.status).snapshot.abandon();
            self.close();
        }
    }
}
