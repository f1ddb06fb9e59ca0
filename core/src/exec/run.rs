//! The executor: runs a plan's steps through a function runner, as many at
//! once as its cap allows, with a result cache, one event stream, cancellation
//! and a failure policy.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use futures_util::stream::{FuturesUnordered, StreamExt};
use indexmap::IndexMap;
use serde::Serialize;
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

use super::event::{Reason, RunEvent, RunEventKind, RunStats, SkipReason, Timestamp};
use super::hub::{Publisher, RunHub};
use super::plan::{Plan, PlanOptions, Planner};
use super::prepare::{Links, Work, check, fill, prepare};
use crate::cache::{MemoryCache, ResultCache};
use crate::canvas::Canvas;
use crate::error::Result;
use crate::exec::ContentKey;
use crate::runner::{
    FunctionRunner, NoteTarget, Outputs, ProgressSink, Task, TaskContext, TaskError, TaskErrorKind,
    TaskNote, outputs, panic_message, panicked,
};
use crate::task::Quality;

/// What happens to the rest of a run when a node fails.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailurePolicy {
    /// Cancel what is running, skip the rest, fail the run.
    FailFast,
    /// Skip what depends on the failure; finish every other branch.
    #[default]
    ContinueIndependent,
}

/// Which nodes run even though their result is cached.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Force {
    #[default]
    None,
    All,
    Nodes(Vec<String>),
}

impl Force {
    fn covers(&self, node: &str) -> bool {
        match self {
            Force::None => false,
            Force::All => true,
            Force::Nodes(nodes) => nodes.iter().any(|n| n == node),
        }
    }
}

/// How to run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub quality: Quality,
    /// Nodes whose results are wanted (and what they need); empty: all.
    pub targets: Vec<String>,
    pub force: Force,
    pub failure_policy: FailurePolicy,
    /// Most tasks of this run at once, below the executor's own cap.
    pub concurrency: Option<usize>,
    /// The run's id; generated when absent.
    pub run_id: Option<String>,
}

impl RunOptions {
    pub fn new() -> Self {
        RunOptions::default()
    }
    pub fn quality(mut self, quality: Quality) -> Self {
        self.quality = quality;
        self
    }
    pub fn targets<S: Into<String>>(mut self, targets: impl IntoIterator<Item = S>) -> Self {
        self.targets = targets.into_iter().map(Into::into).collect();
        self
    }
    pub fn force<S: Into<String>>(mut self, nodes: impl IntoIterator<Item = S>) -> Self {
        self.force = Force::Nodes(nodes.into_iter().map(Into::into).collect());
        self
    }
    pub fn force_all(mut self) -> Self {
        self.force = Force::All;
        self
    }
    pub fn failure_policy(mut self, policy: FailurePolicy) -> Self {
        self.failure_policy = policy;
        self
    }
    pub fn concurrency(mut self, tasks: usize) -> Self {
        self.concurrency = Some(tasks.max(1));
        self
    }
    pub fn run_id(mut self, id: impl Into<String>) -> Self {
        self.run_id = Some(id.into());
        self
    }
}

/// Why a node of a plan would run, or that it would not need to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    pub node: Arc<str>,
    pub function: Arc<str>,
    pub key: ContentKey,
    pub reason: Reason,
}

/// Runs canvases. Cheap to clone; clones share the runner, the cache and
/// the concurrency cap, so runs started from one executor (a batch) never
/// exceed it together.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use reelgraph::exec::{Executor, RunOptions};
/// use reelgraph::runner::{LocalRunner, Outputs, TaskError};
/// use reelgraph::{Canvas, Catalog, Op};
/// use serde_json::json;
///
/// let catalog = Catalog::builtin();
/// catalog.register_json(r#"{
///     "type": "shout", "category": "post", "title": "Shout",
///     "outputs": [{"name": "text", "type": "text"}],
///     "properties": [{"name": "text", "type": "text"}],
///     "task": {"function": "text.upper", "params": {"text": {"property": "text"}}}
/// }"#).unwrap();
/// let mut canvas = Canvas::new(catalog, "c", "C");
/// canvas.apply(vec![Op::add_node("a", "shout", json!({"text": "hello"}))]).unwrap();
///
/// let runner = LocalRunner::new();
/// runner.register("text.upper", |task, _ctx| async move {
///     let text = task.params["text"].as_str().unwrap_or_default().to_uppercase();
///     Ok::<_, TaskError>(Outputs::from_iter([("text".to_owned(), json!(text))]))
/// });
/// let executor = Executor::new(runner);
/// let report = executor.start(&canvas, RunOptions::new()).await.unwrap().finish().await;
/// assert_eq!(report.outputs["a"]["text"], "HELLO");
///
/// // Nothing changed: the second run executes no task.
/// let again = executor.start(&canvas, RunOptions::new()).await.unwrap().finish().await;
/// assert_eq!((again.stats.executed, again.stats.cache_hits), (0, 1));
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct Executor {
    runner: Arc<dyn FunctionRunner>,
    cache: Arc<dyn ResultCache>,
    permits: Arc<Semaphore>,
    hub: Option<RunHub>,
}

/// Default cap of tasks at once.
pub const DEFAULT_CONCURRENCY: usize = 4;
/// Default budget of the in-memory result cache.
pub const DEFAULT_CACHE_BYTES: usize = 256 * 1024 * 1024;

impl Executor {
    /// An executor over `runner`, with an in-memory cache of
    /// [`DEFAULT_CACHE_BYTES`] and at most [`DEFAULT_CONCURRENCY`] tasks at once.
    pub fn new(runner: impl FunctionRunner + 'static) -> Self {
        Executor {
            runner: Arc::new(runner),
            cache: Arc::new(MemoryCache::new(DEFAULT_CACHE_BYTES)),
            permits: Arc::new(Semaphore::new(DEFAULT_CONCURRENCY)),
            hub: None,
        }
    }

    /// Registers every run in `hub` as it is prepared and publishes its
    /// events and report there (a `run_id` the hub holds is refused with
    /// `duplicate_id`).
    pub fn with_hub(mut self, hub: RunHub) -> Self {
        self.hub = Some(hub);
        self
    }

    /// Uses `cache` for results (e.g. a [`crate::cache::SqliteCache`] shared
    /// by processes).
    pub fn with_cache(mut self, cache: Arc<dyn ResultCache>) -> Self {
        self.cache = cache;
        self
    }

    /// At most `tasks` tasks at once across every run of this executor.
    pub fn with_concurrency(mut self, tasks: usize) -> Self {
        self.permits = Arc::new(Semaphore::new(tasks.max(1)));
        self
    }

    pub fn cache(&self) -> &Arc<dyn ResultCache> {
        &self.cache
    }

    /// Validates, plans and prepares a run of `canvas`. Refuses before any
    /// task runs when the canvas has validation errors in what the run needs
    /// (`invalid_canvas`, with the report) or a function is unknown to the
    /// runner (`unknown_function`). The run does nothing until
    /// [`Run::finish`] is awaited.
    pub async fn start(&self, canvas: &Canvas, options: RunOptions) -> Result<Run> {
        let planner = plan_for(canvas, &options)?;
        self.start_plan(canvas, planner.plan(), options).await
    }

    /// Makes every check [`Executor::start`] makes (targets, forced nodes,
    /// validation, functions) without preparing a run, so a caller can
    /// refuse before choosing where results go.
    pub fn check(&self, canvas: &Canvas, options: &RunOptions) -> Result<()> {
        let planner = plan_for(canvas, options)?;
        check(canvas, planner.plan(), &options.targets, &*self.runner)
    }

    /// Like [`Executor::start`], with a plan kept current by a [`Planner`]
    /// (its targets and quality are the run's; `options.targets` and
    /// `options.quality` are not used).
    pub async fn start_planned(
        &self,
        canvas: &Canvas,
        planner: &Planner,
        options: RunOptions,
    ) -> Result<Run> {
        let options = RunOptions {
            targets: planner.options().targets.clone(),
            quality: planner.plan().quality,
            ..options
        };
        // A plan behind the canvas would file new results under old keys.
        if planner.plan().revision != canvas.revision() || planner.plan().canvas_id != canvas.id() {
            return Err(crate::Error::StalePlan {
                plan_canvas: planner.plan().canvas_id.clone(),
                plan_revision: planner.plan().revision,
                canvas: canvas.id().to_owned(),
                revision: canvas.revision(),
            });
        }
        plan_for_checks(canvas, &options)?;
        self.start_plan(canvas, planner.plan(), options).await
    }

    async fn start_plan(&self, canvas: &Canvas, plan: &Plan, options: RunOptions) -> Result<Run> {
        let (tx, rx) = mpsc::unbounded_channel();
        let run = self.prepare_run(canvas, plan, options, tx).await?;
        Ok(Run {
            events: Some(RunEvents::new(rx)),
            ..run
        })
    }

    async fn prepare_run(
        &self,
        canvas: &Canvas,
        plan: &Plan,
        options: RunOptions,
        tx: EventSender,
    ) -> Result<Run> {
        check(canvas, plan, &options.targets, &*self.runner)?;
        // Params are built only for the steps that will run.
        let links = Links::of(plan);
        let decision = Decision::make(plan, &links, &options.force, &*self.cache).await;
        let mut works = prepare(canvas, plan, &decision.runs)?;
        for (work, reason) in works.iter_mut().zip(&decision.reasons) {
            work.reason = *reason;
        }
        let id: Arc<str> = Arc::from(options.run_id.clone().unwrap_or_else(new_run_id));
        let (requests, node_cancels) = mpsc::unbounded_channel();
        let nodes: Arc<[Arc<str>]> = works.iter().map(|w| w.node.clone()).collect();
        let handle = RunHandle {
            id: id.clone(),
            cancel: CancellationToken::new(),
            nodes: Arc::new(NodeCancels {
                nodes: nodes.clone(),
                runs: decision.runs.clone(),
                requests,
            }),
        };
        let publisher = self
            .hub
            .as_ref()
            .map(|hub| hub.register(&id, Some(handle.clone())));
        let emitter = Emitter::new(id.clone(), tx, nodes, plan.quality);
        emitter.lock().publisher = publisher.transpose()?;
        let emitter = Arc::new(emitter);
        Ok(Run {
            id,
            events: None,
            handle: handle.clone(),
            engine: Engine {
                canvas_id: plan.canvas_id.clone(),
                quality: plan.quality,
                works,
                options,
                runner: self.runner.clone(),
                cache: self.cache.clone(),
                permits: self.permits.clone(),
                handle,
                node_cancels,
                emitter,
                decision,
                links,
            },
        })
    }

    /// Starts several runs — many canvases, or variants of one — that share
    /// this executor's cap and one event stream (tell them apart by `run_id`).
    /// Any refusal refuses the whole batch before anything runs, including
    /// a `run_id` given twice (`duplicate_id`).
    pub async fn batch<'c>(
        &self,
        jobs: impl IntoIterator<Item = (&'c Canvas, RunOptions)>,
    ) -> Result<Batch> {
        let jobs: Vec<(&Canvas, RunOptions)> = jobs.into_iter().collect();
        // Events are told apart by run id alone.
        let mut ids = HashSet::new();
        for (_, options) in &jobs {
            if let Some(id) = &options.run_id
                && !ids.insert(id.as_str())
            {
                return Err(crate::Error::DuplicateId {
                    kind: "run",
                    id: id.clone(),
                });
            }
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let mut runs = Vec::new();
        for (canvas, options) in jobs {
            let planner = plan_for(canvas, &options)?;
            runs.push(
                self.prepare_run(canvas, planner.plan(), options, tx.clone())
                    .await?,
            );
        }
        Ok(Batch {
            runs,
            events: Some(RunEvents::new(rx)),
        })
    }

    /// Why each step of `plan` would run, that its result is cached, or
    /// that a run of the plan's targets would not need it: what a run with
    /// the same cache would do. A stored result that does not fit its node
    /// is [`Reason::CacheInvalid`]; a cache that fails makes every step
    /// looked up [`Reason::CacheUnavailable`] rather than an error.
    pub async fn explain(&self, plan: &Plan, force: &Force) -> Result<Vec<Explanation>> {
        let links = Links::of(plan);
        let decision = Decision::make(plan, &links, force, &*self.cache).await;
        Ok(plan
            .steps
            .iter()
            .enumerate()
            .map(|(i, step)| Explanation {
                node: step.node.clone(),
                function: step.function.clone(),
                key: step.key,
                reason: if !decision.wanted[i] {
                    Reason::NotNeeded
                } else if decision.results[i].is_some() {
                    Reason::Cached
                } else {
                    decision.reasons[i]
                },
            })
            .collect())
    }
}

/// Plans what `options` ask for, refusing targets that have no task and
/// forced nodes that do not exist.
fn plan_for(canvas: &Canvas, options: &RunOptions) -> Result<Planner> {
    plan_for_checks(canvas, options)?;
    Planner::new(
        canvas,
        PlanOptions {
            targets: options.targets.clone(),
            quality: options.quality,
        },
    )
}

/// Targets must be task nodes, forced nodes must exist.
fn plan_for_checks(canvas: &Canvas, options: &RunOptions) -> Result<()> {
    let forced = match &options.force {
        Force::Nodes(nodes) => nodes.as_slice(),
        Force::None | Force::All => &[],
    };
    for node in options.targets.iter().chain(forced) {
        let Some(found) = canvas.node(node) else {
            return Err(crate::Error::UnknownNode { node: node.clone() });
        };
        let has_task = canvas
            .catalog()
            .get(&found.node_type)
            .is_some_and(|spec| spec.task.is_some());
        if !has_task {
            return Err(crate::Error::NoTask {
                node: node.clone(),
                type_name: found.node_type,
            });
        }
    }
    Ok(())
}

fn new_run_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        "run-{:x}-{n}",
        (nanos as u64) ^ u64::from(std::process::id()).rotate_left(32)
    )
}

/// Cancels a run or one of its nodes. Cheap to clone.
#[derive(Debug, Clone)]
pub struct RunHandle {
    id: Arc<str>,
    cancel: CancellationToken,
    nodes: Arc<NodeCancels>,
}

/// What cancelling one node needs: the steps that run, and a line to the
/// run's engine, which owns every task's token. Tokens are made when a task
/// starts, not one per step up front.
#[derive(Debug)]
struct NodeCancels {
    /// Node id of each step, shared with the emitter.
    nodes: Arc<[Arc<str>]>,
    /// Whether each step runs: only those can be cancelled one by one.
    runs: Vec<bool>,
    requests: mpsc::UnboundedSender<usize>,
}

impl RunHandle {
    pub fn run_id(&self) -> &str {
        &self.id
    }

    /// Cancels the whole run: running tasks are told and awaited, nothing
    /// new starts, and `run_cancelled` is the last event.
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// Cancels one node: a running task is told and ends as `cancelled`; one
    /// that has not started is skipped. What depends on it is skipped, other
    /// branches go on, and the run is not failed by it.
    /// Returns false when the run does not run such a node (unknown, a data
    /// node, or cached).
    pub fn cancel_node(&self, node: &str) -> bool {
        // A scan: cancelling is rare, and a map of every node would cost
        // each run more than all the scans it will see.
        let cancels = &self.nodes;
        let step =
            (0..cancels.nodes.len()).find(|&i| cancels.runs[i] && &*cancels.nodes[i] == node);
        match step {
            Some(step) => {
                // The engine is gone once the run has ended: nothing to stop.
                let _ = cancels.requests.send(step);
                true
            }
            None => false,
        }
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }
}

/// A prepared run. Take its events with [`Run::events`], then drive it with
/// [`Run::finish`] (events are buffered, so a consumer may also read them
/// after).
#[derive(Debug)]
pub struct Run {
    id: Arc<str>,
    events: Option<RunEvents>,
    handle: RunHandle,
    engine: Engine,
}

impl Run {
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The event stream; `None` after the first call.
    pub fn events(&mut self) -> Option<RunEvents> {
        self.events.take()
    }

    pub fn handle(&self) -> RunHandle {
        self.handle.clone()
    }

    /// Runs to the end and reports.
    pub async fn finish(self) -> RunReport {
        self.engine.drive().await
    }
}

/// Several runs sharing one cap and one event stream.
#[derive(Debug)]
pub struct Batch {
    runs: Vec<Run>,
    events: Option<RunEvents>,
}

impl Batch {
    pub fn events(&mut self) -> Option<RunEvents> {
        self.events.take()
    }

    pub fn handles(&self) -> Vec<RunHandle> {
        self.runs.iter().map(Run::handle).collect()
    }

    /// Runs every run to its end, concurrently; reports in the order given.
    pub async fn finish(self) -> Vec<RunReport> {
        futures_util::future::join_all(self.runs.into_iter().map(Run::finish)).await
    }
}

/// A run's events, in `seq` order. Ends after the run's last event.
#[derive(Debug)]
pub struct RunEvents {
    rx: mpsc::UnboundedReceiver<Sent>,
    /// The rest of a batch received.
    batch: std::vec::IntoIter<RunEvent>,
}

impl RunEvents {
    fn new(rx: mpsc::UnboundedReceiver<Sent>) -> Self {
        RunEvents {
            rx,
            batch: Vec::new().into_iter(),
        }
    }

    pub async fn next(&mut self) -> Option<RunEvent> {
        std::future::poll_fn(|cx| self.poll_event(cx)).await
    }

    /// Events already sent, without waiting.
    pub fn try_next(&mut self) -> Option<RunEvent> {
        loop {
            if let Some(event) = self.batch.next() {
                return Some(event);
            }
            match self.rx.try_recv().ok()? {
                Sent::One(event) => return Some(event),
                Sent::Many(events) => self.batch = events.into_iter(),
            }
        }
    }

    fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<Option<RunEvent>> {
        loop {
            if let Some(event) = self.batch.next() {
                return Poll::Ready(Some(event));
            }
            match std::task::ready!(self.rx.poll_recv(cx)) {
                None => return Poll::Ready(None),
                Some(Sent::One(event)) => return Poll::Ready(Some(event)),
                Some(Sent::Many(events)) => self.batch = events.into_iter(),
            }
        }
    }
}

impl futures_core::Stream for RunEvents {
    type Item = RunEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<RunEvent>> {
        self.poll_event(cx)
    }
}

/// What goes down the event channel: events are held back while the
/// engine has more to do and sent together when it is about to wait (or
/// [`FLUSH_EVERY`] have gathered), so a consumer is woken once per batch
/// rather than once per event. Notes from tasks go at once.
#[derive(Debug)]
enum Sent {
    One(RunEvent),
    Many(Vec<RunEvent>),
}

type EventSender = mpsc::UnboundedSender<Sent>;

/// The most events held back before they are sent anyway.
const FLUSH_EVERY: usize = 256;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Completed,
    Failed,
    Cancelled,
}

/// The end of a run.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub run_id: String,
    pub canvas_id: String,
    pub status: RunStatus,
    pub stats: RunStats,
    /// Outputs of every step that has them (run or cached), by node, in
    /// plan order.
    pub outputs: IndexMap<Arc<str>, Arc<Outputs>>,
    /// Errors of the nodes that failed, by node.
    pub errors: BTreeMap<String, TaskError>,
}

/// Sends events with gapless `seq`s and overall progress. Notes from tasks
/// arrive on other threads, so numbering and sending happen under one lock:
/// the stream order is the `seq` order. After the last event it is closed and
/// drops whatever a straggling task still reports.
#[derive(Debug)]
struct Emitter {
    run_id: Arc<str>,
    /// Node id of each step, for task notes.
    nodes: Arc<[Arc<str>]>,
    /// The run's quality tier.
    quality: Quality,
    /// Steps whose result was made at a lower tier than asked, or built on
    /// one: passed on, not stored.
    degraded: Vec<AtomicBool>,
    state: Mutex<EmitState>,
}

#[derive(Debug)]
struct EmitState {
    seq: u64,
    tx: Option<EventSender>,
    /// The hub's copy of the stream, when the executor has a hub.
    publisher: Option<Publisher>,
    /// Events numbered but not sent yet.
    pending: Vec<RunEvent>,
    total: usize,
    done: usize,
    partial: Vec<f64>,
    partial_sum: f64,
    retries: usize,
    clamped: usize,
    /// The tier each step fell back to, if it did.
    fallen_to: HashMap<usize, Quality>,
}

impl EmitState {
    fn overall(&self) -> f64 {
        if self.total == 0 {
            return 1.0;
        }
        ((self.done as f64 + self.partial_sum) / self.total as f64).clamp(0.0, 1.0)
    }
}

impl Emitter {
    fn new(run_id: Arc<str>, tx: EventSender, nodes: Arc<[Arc<str>]>, quality: Quality) -> Self {
        let total = nodes.len();
        Emitter {
            run_id,
            degraded: (0..total).map(|_| AtomicBool::new(false)).collect(),
            nodes,
            quality,
            state: Mutex::new(EmitState {
                seq: 0,
                tx: Some(tx),
                publisher: None,
                pending: Vec::new(),
                total,
                done: 0,
                partial: vec![0.0; total],
                partial_sum: 0.0,
                retries: 0,
                clamped: 0,
                fallen_to: HashMap::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, EmitState> {
        // A poisoned lock only means a panic elsewhere; the counters are fine.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Numbers an event and holds it back until the next flush.
    fn send(&self, state: &mut EmitState, kind: RunEventKind) {
        if state.tx.is_none() {
            return;
        }
        let event = RunEvent {
            run_id: self.run_id.clone(),
            seq: state.seq,
            ts: Timestamp::now(),
            kind,
        };
        state.seq += 1;
        state.pending.push(event);
        if state.pending.len() >= FLUSH_EVERY {
            Self::flush_locked(state);
        }
    }

    /// Sends an event now: for notes from tasks, which come while the
    /// engine may be waiting.
    fn send_now(&self, state: &mut EmitState, kind: RunEventKind) {
        self.send(state, kind);
        Self::flush_locked(state);
    }

    fn flush_locked(state: &mut EmitState) {
        let Some(tx) = &state.tx else { return };
        if let Some(publisher) = &state.publisher {
            publisher.publish(&state.pending);
        }
        let sent = match state.pending.len() {
            0 => return,
            1 => Sent::One(state.pending.pop().expect("one event")),
            _ => Sent::Many(std::mem::replace(
                &mut state.pending,
                Vec::with_capacity(FLUSH_EVERY),
            )),
        };
        // The consumer may have dropped the stream; the run goes on.
        let _ = tx.send(sent);
    }

    /// Sends the events held back.
    fn flush(&self) {
        Self::flush_locked(&mut self.lock());
    }

    fn emit(&self, kind: RunEventKind) {
        let mut state = self.lock();
        self.send(&mut state, kind);
    }

    /// Emits the event that finishes step `step`, with overall progress.
    fn finish_step(&self, step: usize, kind: impl FnOnce(f64) -> RunEventKind) {
        let mut state = self.lock();
        state.done += 1;
        let partial = std::mem::take(&mut state.partial[step]);
        state.partial_sum -= partial;
        let overall = state.overall();
        self.send(&mut state, kind(overall));
    }

    fn progress(
        &self,
        step: usize,
        node: &Arc<str>,
        progress: f64,
        message: Option<String>,
        clamped: bool,
    ) {
        let mut state = self.lock();
        if clamped {
            state.clamped += 1;
        }
        let before = std::mem::replace(&mut state.partial[step], progress);
        state.partial_sum += progress - before;
        let overall = state.overall();
        self.send_now(
            &mut state,
            RunEventKind::NodeProgress {
                node: node.clone(),
                progress,
                message,
                overall,
            },
        );
    }

    /// Sends the last event and closes the stream.
    fn close(&self, kind: impl FnOnce(usize, usize) -> RunEventKind) {
        let mut state = self.lock();
        let (retries, clamped) = (state.retries, state.clamped);
        self.send(&mut state, kind(retries, clamped));
        Self::flush_locked(&mut state);
        state.tx = None;
    }
}

/// Everything a run needs, owned.
#[derive(Debug)]
struct Engine {
    canvas_id: String,
    quality: Quality,
    works: Vec<Work>,
    options: RunOptions,
    runner: Arc<dyn FunctionRunner>,
    cache: Arc<dyn ResultCache>,
    permits: Arc<Semaphore>,
    handle: RunHandle,
    /// Steps whose cancellation [`RunHandle::cancel_node`] asked for.
    node_cancels: mpsc::UnboundedReceiver<usize>,
    emitter: Arc<Emitter>,
    decision: Decision,
    links: Links,
}

/// What a run does with each step, decided before it starts.
#[derive(Debug, Default)]
struct Decision {
    /// Cached outputs, by step.
    results: Vec<Option<Arc<Outputs>>>,
    /// A target, or feeds a step that runs.
    wanted: Vec<bool>,
    /// Wanted and not cached (or forced).
    runs: Vec<bool>,
    /// Its key was looked up (not forced).
    looked_up: Vec<bool>,
    /// Why each step runs, if it does.
    reasons: Vec<Reason>,
}

/// What looking a step's key up found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lookup {
    /// Forced: not looked up.
    Skipped,
    Hit,
    Miss,
    /// A stored result that does not fit the node: a miss.
    Invalid,
    /// The cache failed: a miss.
    Failed,
}

impl Decision {
    /// Looks every unforced key up at once (one round trip for a database)
    /// and decides, from the last step back, what runs. Cached outputs are
    /// checked as fresh ones are; one that does not fit its node is a miss,
    /// and so is every lookup of a cache that fails: neither fails a run.
    async fn make(plan: &Plan, links: &Links, force: &Force, cache: &dyn ResultCache) -> Decision {
        let mut lookups: Vec<Lookup> = plan
            .steps
            .iter()
            .map(|s| {
                if force.covers(&s.node) {
                    Lookup::Skipped
                } else {
                    Lookup::Miss
                }
            })
            .collect();
        let keys: Vec<ContentKey> = plan
            .steps
            .iter()
            .zip(&lookups)
            .filter(|(_, l)| **l != Lookup::Skipped)
            .map(|(s, _)| s.key)
            .collect();
        let mut results: Vec<Option<Arc<Outputs>>> = vec![None; plan.steps.len()];
        let found = if keys.is_empty() {
            Ok(Vec::new())
        } else {
            cache.get_many(&keys).await
        };
        match found {
            Ok(found) => {
                let mut found = found.into_iter();
                for (i, step) in plan.steps.iter().enumerate() {
                    if lookups[i] == Lookup::Skipped {
                        continue;
                    }
                    let Some(outputs) = found.next().flatten() else {
                        continue;
                    };
                    match outputs::check(&step.function, &step.outputs, &outputs) {
                        Ok(()) => {
                            lookups[i] = Lookup::Hit;
                            results[i] = Some(outputs);
                        }
                        Err(problem) => {
                            tracing::warn!(
                                node = %step.node,
                                key = %step.key.short(),
                                problem = %problem.message,
                                "a cached result does not fit its node; the node runs again"
                            );
                            lookups[i] = Lookup::Invalid;
                        }
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "result cache lookup failed; running without it");
                for lookup in &mut lookups {
                    if *lookup == Lookup::Miss {
                        *lookup = Lookup::Failed;
                    }
                }
            }
        }
        let (wanted, runs) = wanted_and_runs(plan, links, force, |i| results[i].is_some());
        let reasons = plan
            .steps
            .iter()
            .zip(&lookups)
            .map(|(step, lookup)| match lookup {
                Lookup::Skipped => Reason::Forced,
                Lookup::Invalid => Reason::CacheInvalid,
                Lookup::Failed => Reason::CacheUnavailable,
                Lookup::Hit | Lookup::Miss => step.reason,
            })
            .collect();
        Decision {
            results,
            wanted,
            runs,
            looked_up: lookups.iter().map(|l| *l != Lookup::Skipped).collect(),
            reasons,
        }
    }
}

/// Decides from the last step back which steps a run wants and which it
/// runs. A step is wanted when it is a target (every step is, when the plan
/// has none), forced, or feeds a step that runs; it runs when it is wanted
/// and has no result.
fn wanted_and_runs(
    plan: &Plan,
    links: &Links,
    force: &Force,
    has_result: impl Fn(usize) -> bool,
) -> (Vec<bool>, Vec<bool>) {
    let n = plan.steps.len();
    let target = |node: &str| plan.targets.is_empty() || plan.targets.iter().any(|t| t == node);
    let mut runs = vec![false; n];
    let mut wanted = vec![false; n];
    for i in (0..n).rev() {
        let node = &plan.steps[i].node;
        wanted[i] =
            target(node) || force.covers(node) || links.dependents(i).iter().any(|&d| runs[d]);
        runs[i] = wanted[i] && !has_result(i);
    }
    (wanted, runs)
}

/// Where a step stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for this many steps that run.
    Waiting(usize),
    Running,
    Done,
    Failed,
    Skipped,
}

/// What a finished task hands back to the loop.
struct Finished {
    step: usize,
    result: std::result::Result<Arc<Outputs>, TaskError>,
    /// From the start of the work; none when it never got a slot.
    took: Option<Duration>,
}

/// What woke the run's loop.
enum Wake {
    RunCancelled,
    NodeCancelled(usize),
    Finished(Finished),
}

/// How long a cancelled run waits for running tasks to stop before it drops them.
const CANCEL_GRACE: Duration = Duration::from_secs(5);

impl Engine {
    async fn drive(mut self) -> RunReport {
        let started = Instant::now();
        let n = self.works.len();
        self.emitter.emit(RunEventKind::RunStarted {
            canvas_id: self.canvas_id.clone(),
            quality: self.quality,
            tasks: n,
        });
        let mut stats = RunStats {
            tasks: n,
            ..RunStats::default()
        };

        let Decision {
            mut results,
            wanted,
            runs,
            looked_up,
            ..
        } = std::mem::take(&mut self.decision);
        let mut states = vec![State::Done; n];
        for i in 0..n {
            let work = &self.works[i];
            if !wanted[i] {
                states[i] = State::Skipped;
                self.emitter
                    .finish_step(i, |overall| RunEventKind::NodeSkipped {
                        node: work.node.clone(),
                        reason: SkipReason::NotNeeded,
                        because: None,
                        overall,
                    });
            } else if runs[i] {
                if looked_up[i] {
                    stats.cache_misses += 1;
                }
                states[i] =
                    State::Waiting(self.links.after(i).iter().filter(|&&a| runs[a]).count());
            } else {
                stats.cache_hits += 1;
                self.emitter
                    .finish_step(i, |overall| RunEventKind::NodeCached {
                        node: work.node.clone(),
                        key: work.key,
                        overall,
                    });
            }
        }

        let mut params: Vec<_> = self
            .works
            .iter_mut()
            .map(|w| std::mem::take(&mut w.params))
            .collect();
        let mut errors: BTreeMap<String, TaskError> = BTreeMap::new();
        let mut in_flight = FuturesUnordered::new();
        // The token of each task in flight: the engine tells them when the
        // run stops or their node is cancelled.
        let mut tokens: Vec<Option<CancellationToken>> = vec![None; n];
        let limit = self.options.concurrency.unwrap_or(usize::MAX);
        let mut ready: std::collections::VecDeque<usize> =
            (0..n).filter(|&i| states[i] == State::Waiting(0)).collect();
        for &i in &ready {
            self.queued(i);
        }
        let mut stopped: Option<RunStatus> = None;
        // The first node to fail, for the run's error.
        let mut first_failure: Option<(String, TaskError)> = None;

        // One waiter for the whole run, not one per completed task.
        let cancel_token = self.handle.cancel.clone();
        let run_cancelled = cancel_token.cancelled();
        tokio::pin!(run_cancelled);
        loop {
            while let Ok(step) = self.node_cancels.try_recv() {
                self.cancel_step(step, &tokens, &mut states, &mut stats, &mut errors);
            }
            while stopped.is_none() && in_flight.len() < limit {
                let Some(i) = ready.pop_front() else { break };
                // A step cancelled while it stood in line is settled already.
                if states[i] != State::Waiting(0) {
                    continue;
                }
                states[i] = State::Running;
                // Each step runs once: its params move into its task.
                let params = std::mem::take(&mut params[i]);
                let token = CancellationToken::new();
                tokens[i] = Some(token.clone());
                in_flight.push(self.task(i, params, &results, token));
            }
            if in_flight.is_empty() {
                break;
            }
            let wake = std::future::poll_fn(|cx| {
                if run_cancelled.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Wake::RunCancelled);
                }
                if let Poll::Ready(Some(step)) = self.node_cancels.poll_recv(cx) {
                    return Poll::Ready(Wake::NodeCancelled(step));
                }
                if let Poll::Ready(Some(finished)) = in_flight.poll_next_unpin(cx) {
                    return Poll::Ready(Wake::Finished(finished));
                }
                // Nothing to do until a task finishes: send what is held
                // back before waiting.
                self.emitter.flush();
                Poll::Pending
            })
            .await;
            let finished = match wake {
                Wake::RunCancelled => {
                    stopped = Some(RunStatus::Cancelled);
                    break;
                }
                Wake::NodeCancelled(step) => {
                    self.cancel_step(step, &tokens, &mut states, &mut stats, &mut errors);
                    continue;
                }
                Wake::Finished(finished) => finished,
            };
            tokens[finished.step] = None;
            let Finished { step, result, took } = finished;
            match result {
                Ok(outputs) => {
                    stats.executed += 1;
                    states[step] = State::Done;
                    let work = &self.works[step];
                    self.emitter
                        .finish_step(step, |overall| RunEventKind::NodeCompleted {
                            node: work.node.clone(),
                            outputs: outputs.clone(),
                            duration_ms: took.unwrap_or_default(),
                            overall,
                        });
                    results[step] = Some(outputs);
                    for &d in self.links.dependents(step) {
                        if let State::Waiting(k) = &mut states[d] {
                            *k -= 1;
                            if *k == 0 {
                                self.queued(d);
                                ready.push_back(d);
                            }
                        }
                    }
                }
                Err(error) => {
                    let failure = error.kind != TaskErrorKind::Cancelled;
                    if failure && first_failure.is_none() {
                        first_failure = Some((self.works[step].node.to_string(), error.clone()));
                    }
                    self.settle_error(
                        step,
                        error,
                        took.is_some(),
                        stopped.is_some(),
                        &mut states,
                        &mut stats,
                        &mut errors,
                    );
                    let fail_fast = self.options.failure_policy == FailurePolicy::FailFast;
                    if fail_fast && failure && stopped.is_none() {
                        stopped = Some(RunStatus::Failed);
                        self.handle.cancel.cancel();
                    }
                }
            }
            // A stopped run (cancelled, or failing fast) waits for its
            // running tasks below, with a grace period.
            if stopped.is_some() {
                break;
            }
        }

        if stopped.is_some() {
            // Tell running tasks, give them a moment to stop, then drop them:
            // no task of this run outlives it.
            self.handle.cancel.cancel();
            for token in tokens.iter().flatten() {
                token.cancel();
            }
            let drain = async {
                loop {
                    self.emitter.flush();
                    let Some(Finished { step, result, took }) = in_flight.next().await else {
                        break;
                    };
                    // A task that finished anyway is not used: the run has moved on.
                    let error = result.err().unwrap_or_else(TaskError::cancelled);
                    self.settle_error(
                        step,
                        error,
                        took.is_some(),
                        true,
                        &mut states,
                        &mut stats,
                        &mut errors,
                    );
                }
            };
            if tokio::time::timeout(CANCEL_GRACE, drain).await.is_err() {
                tracing::warn!(run = %self.handle.id, "tasks ignored cancellation; they were dropped");
            }
            for (i, state) in states.iter_mut().enumerate() {
                match state {
                    State::Running => {
                        // It ignored the token past the grace period and was dropped.
                        *state = State::Failed;
                        stats.cancelled += 1;
                        let error = TaskError::cancelled().with_hint(
                            "the task did not stop within the grace period after cancellation and was dropped",
                        );
                        errors.insert(self.works[i].node.to_string(), error.clone());
                        self.emitter
                            .finish_step(i, |overall| RunEventKind::NodeFailed {
                                node: self.works[i].node.clone(),
                                error,
                                overall,
                            });
                    }
                    State::Waiting(_) => {
                        *state = State::Skipped;
                        self.emitter
                            .finish_step(i, |overall| RunEventKind::NodeSkipped {
                                node: self.works[i].node.clone(),
                                reason: SkipReason::RunStopped,
                                because: None,
                                overall,
                            });
                    }
                    State::Done | State::Failed | State::Skipped => {}
                }
            }
        }
        stats.skipped = states.iter().filter(|s| **s == State::Skipped).count();
        stats.duration_ms = started.elapsed();

        let status = match stopped {
            Some(RunStatus::Cancelled) => RunStatus::Cancelled,
            _ if stats.failed > 0 => RunStatus::Failed,
            _ => RunStatus::Completed,
        };
        let first_error = first_failure;
        self.emitter.close(|retries, clamped| {
            stats.retries = retries;
            stats.clamped_progress = clamped;
            match status {
                RunStatus::Completed => RunEventKind::RunCompleted { stats },
                RunStatus::Cancelled => RunEventKind::RunCancelled { stats },
                RunStatus::Failed => RunEventKind::RunFailed {
                    error: match first_error {
                        Some((node, error)) => TaskError::new(
                            error.kind,
                            format!(
                                "{} node(s) failed; the first was `{node}`: {}",
                                stats.failed, error.message
                            ),
                        )
                        .with_hint(error.hint),
                        None => TaskError::permanent("the run failed"),
                    },
                    stats,
                },
            }
        });
        let outputs = self
            .works
            .iter()
            .zip(results)
            .filter_map(|(w, r)| Some((w.node.clone(), r?)))
            .collect();
        let report = RunReport {
            run_id: self.handle.id.to_string(),
            canvas_id: self.canvas_id,
            status,
            stats,
            outputs,
            errors,
        };
        if let Some(publisher) = self.emitter.lock().publisher.take() {
            publisher.finish(report.clone());
        }
        report
    }

    fn queued(&self, step: usize) {
        let work = &self.works[step];
        self.emitter.emit(RunEventKind::NodeQueued {
            node: work.node.clone(),
            reason: work.reason,
        });
    }

    /// Cancels one step at [`RunHandle::cancel_node`]'s request: a task in
    /// flight is told; a step not started yet is skipped, with what depends
    /// on it.
    fn cancel_step(
        &self,
        step: usize,
        tokens: &[Option<CancellationToken>],
        states: &mut [State],
        stats: &mut RunStats,
        errors: &mut BTreeMap<String, TaskError>,
    ) {
        match states[step] {
            State::Running => {
                if let Some(token) = &tokens[step] {
                    token.cancel();
                }
            }
            State::Waiting(_) => {
                self.settle_error(
                    step,
                    TaskError::cancelled(),
                    false,
                    false,
                    states,
                    stats,
                    errors,
                );
            }
            State::Done | State::Failed | State::Skipped => {}
        }
    }

    /// Records a step that ended without outputs: cancelled before it
    /// started (skipped), cancelled while running, or failed; what depends
    /// on it is skipped.
    #[allow(clippy::too_many_arguments)]
    fn settle_error(
        &self,
        step: usize,
        error: TaskError,
        started: bool,
        run_stopped: bool,
        states: &mut [State],
        stats: &mut RunStats,
        errors: &mut BTreeMap<String, TaskError>,
    ) {
        let node = self.works[step].node.clone();
        let cancelled = error.kind == TaskErrorKind::Cancelled;
        if cancelled && !started {
            states[step] = State::Skipped;
            let reason = if run_stopped {
                SkipReason::RunStopped
            } else {
                SkipReason::Cancelled
            };
            self.emitter
                .finish_step(step, |overall| RunEventKind::NodeSkipped {
                    node,
                    reason,
                    because: None,
                    overall,
                });
        } else {
            if cancelled {
                stats.cancelled += 1;
            } else {
                stats.failed += 1;
            }
            states[step] = State::Failed;
            errors.insert(node.to_string(), error.clone());
            self.emitter
                .finish_step(step, |overall| RunEventKind::NodeFailed {
                    node,
                    error,
                    overall,
                });
        }
        let reason = if cancelled {
            SkipReason::Cancelled
        } else {
            SkipReason::UpstreamFailed
        };
        self.skip_downstream(step, reason, states);
    }

    /// Marks everything downstream of a step that ended without outputs skipped.
    fn skip_downstream(&self, failed: usize, reason: SkipReason, states: &mut [State]) {
        let mut stack: Vec<usize> = self.links.dependents(failed).to_vec();
        while let Some(d) = stack.pop() {
            if !matches!(states[d], State::Waiting(_)) {
                continue;
            }
            states[d] = State::Skipped;
            self.emitter
                .finish_step(d, |overall| RunEventKind::NodeSkipped {
                    node: self.works[d].node.clone(),
                    reason,
                    because: Some(self.works[failed].node.clone()),
                    overall,
                });
            stack.extend_from_slice(self.links.dependents(d));
        }
    }

    /// The future of one task: wait for a slot, run, check the outputs,
    /// store them.
    fn task(
        &self,
        step: usize,
        params: serde_json::Map<String, serde_json::Value>,
        results: &[Option<Arc<Outputs>>],
        token: CancellationToken,
    ) -> impl Future<Output = Finished> + Send + 'static {
        let work = &self.works[step];
        let mut params = params;
        let upstream_degraded = self
            .links
            .after(step)
            .iter()
            .any(|&a| self.emitter.degraded[a].load(Ordering::Relaxed));
        for input in &work.inputs {
            let value = input.value(results);
            if !value.is_null() {
                params.insert(input.name.clone(), value);
            }
        }
        if work.nested_inputs {
            let sources: Vec<(&str, &Outputs)> = self
                .links
                .after(step)
                .iter()
                .filter_map(|&a| Some((&*self.works[a].node, &**results[a].as_ref()?)))
                .collect();
            fill(&mut params, &sources);
        }
        let task = Task {
            run_id: self.handle.id.clone(),
            node: work.node.clone(),
            node_type: work.node_type.clone(),
            function: work.function.clone(),
            params,
            quality: self.quality,
            quality_fallback: work.quality_fallback,
            idempotency_key: work.key.to_hex(),
            outputs: work.outputs.clone(),
        };
        let emitter = self.emitter.clone();
        let runner = self.runner.clone();
        let cache = self.cache.clone();
        let permits = self.permits.clone();
        let key = work.key;
        let quality = self.quality;
        async move {
            let not_started = || Finished {
                step,
                result: Err(TaskError::cancelled()),
                took: None,
            };
            // A free slot is taken at once; only a task that has to wait
            // for one also waits for its cancellation.
            let permit = match permits.clone().try_acquire_owned() {
                Ok(permit) => Ok(permit),
                Err(tokio::sync::TryAcquireError::Closed) => permits.acquire_owned().await,
                Err(tokio::sync::TryAcquireError::NoPermits) => tokio::select! {
                    biased;
                    () = token.cancelled() => return not_started(),
                    permit = permits.acquire_owned() => permit,
                },
            };
            // A slot freed by a cancelled task may reach a cancelled waiter.
            if token.is_cancelled() {
                return not_started();
            }
            let Ok(_permit) = permit else {
                let error = TaskError::permanent("the executor was shut down");
                return Finished {
                    step,
                    result: Err(error),
                    took: None,
                };
            };
            // Durations count from here: waiting for a slot is not work.
            let started = Instant::now();
            let finished = |result| Finished {
                step,
                result,
                took: Some(started.elapsed()),
            };
            emitter.emit(RunEventKind::NodeStarted {
                node: task.node.clone(),
                function: task.function.clone(),
                quality,
            });
            let ctx = TaskContext {
                progress: ProgressSink::for_step(emitter.clone(), step),
                cancel: token.clone(),
            };
            let declared = task.outputs.clone();
            let function = task.function.clone();
            // Through the trait object, not `Arc`'s own impl, which would box
            // the future once more. A runner may panic in `run` itself,
            // before there is a future to guard.
            let begun =
                std::panic::catch_unwind(AssertUnwindSafe(|| runner.as_ref().run(task, ctx)));
            let result = match begun {
                Ok(future) => match AssertUnwindSafe(future).catch_unwind().await {
                    Ok(result) => result,
                    Err(payload) => Err(panicked(&*payload)),
                },
                Err(payload) => Err(TaskError::permanent(format!(
                    "the runner panicked before it started function `{function}`: {}",
                    panic_message(&*payload)
                ))
                .with_hint(
                    "this is a bug in the runner's `run`; fix it, the rest of the run is unaffected",
                )),
            };
            let result = result.and_then(|outputs| {
                outputs::check(&function, &declared, &outputs)?;
                Ok(outputs)
            });
            let result = match result {
                // A task that finished after its cancellation still counts
                // as cancelled: the run has moved on.
                Ok(_) if token.is_cancelled() => Err(TaskError::cancelled()),
                Ok(outputs) => {
                    let outputs = Arc::new(outputs);
                    let degraded = &emitter.degraded[step];
                    let is_degraded = upstream_degraded || degraded.load(Ordering::Relaxed);
                    degraded.store(is_degraded, Ordering::Relaxed);
                    // A result made at a lower tier than asked is passed on
                    // but not stored: the next run tries the asked tier again.
                    if !is_degraded && let Err(e) = cache.put(key, outputs.clone()).await {
                        tracing::warn!(error = %e, "could not store a result in the cache");
                    }
                    Ok(outputs)
                }
                Err(e) => Err(e),
            };
            finished(result)
        }
    }
}

/// Turns tasks' notes into run events.
impl NoteTarget for Emitter {
    fn note(&self, step: usize, note: TaskNote) {
        let node = &self.nodes[step];
        match note {
            TaskNote::Progress {
                progress,
                message,
                clamped,
            } => self.progress(step, node, progress, message, clamped),
            TaskNote::Retrying {
                attempt,
                delay,
                error,
            } => {
                let mut state = self.lock();
                let quality = state.fallen_to.get(&step).copied().unwrap_or(self.quality);
                state.retries += 1;
                self.send_now(
                    &mut state,
                    RunEventKind::NodeRetrying {
                        node: node.clone(),
                        attempt,
                        delay_ms: u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                        quality,
                        quality_fallback: false,
                        error,
                    },
                );
            }
            TaskNote::QualityFallback { to, error, .. } => {
                self.degraded[step].store(true, Ordering::Relaxed);
                let mut state = self.lock();
                state.fallen_to.insert(step, to);
                state.retries += 1;
                self.send_now(
                    &mut state,
                    RunEventKind::NodeRetrying {
                        node: node.clone(),
                        attempt: 0,
                        delay_ms: 0,
                        quality: to,
                        quality_fallback: true,
                        error,
                    },
                );
            }
            TaskNote::Circuit { function, state } => {
                let mut emit_state = self.lock();
                self.send_now(
                    &mut emit_state,
                    RunEventKind::CircuitChanged { function, state },
                );
            }
        }
    }
}
