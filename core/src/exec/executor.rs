//! The executor: plans, checks and prepares runs of canvases, alone or in
//! batches, and explains what a run would do.

use std::collections::HashSet;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use rayon::ThreadPool;
use serde::{Deserialize, Serialize};
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

use super::decision::Decision;
use super::emitter::Emitter;
use super::engine::Engine;
use super::event::Reason;
use super::hub::RunHub;
use super::options::{Force, RunOptions};
use super::plan::{Plan, PlanOptions, Planner};
use super::run::{Batch, NodeCancels, Run, RunHandle};
use super::shared_work::SharedWork;
use super::stream::{EventSender, RunEvents};
use super::work::{Links, check, prepare};
use crate::cache::{MemoryCache, ResultCache};
use crate::canvas::Canvas;
use crate::content_key::ContentKey;
use crate::error::Result;
use crate::runner::FunctionRunner;

/// Why a node of a plan would run, or that it would not need to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
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
/// use std::sync::{Arc, Mutex};
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
/// // Runs read a shared canvas, so a start can be spawned on any runtime.
/// let canvas = Arc::new(Mutex::new(canvas));
/// let report = executor.start(&canvas, RunOptions::new()).await.unwrap().finish().await;
/// assert_eq!(report.outputs["a"]["text"], "HELLO");
///
/// // Nothing changed: the second run executes no task.
/// let again = executor.start(&canvas, RunOptions::new()).await.unwrap().finish().await;
/// assert_eq!((again.stats.executed, again.stats.cache_hits), (0, 1));
///
/// // An edit: lock, apply, unlock. Only the edited node runs again.
/// canvas.lock().unwrap().apply(vec![Op::set_properties("a", json!({"text": "bye"}))]).unwrap();
/// let started = tokio::spawn(executor.start(&canvas, RunOptions::new()));
/// let report = started.await.unwrap().unwrap().finish().await;
/// assert_eq!(report.outputs["a"]["text"], "BYE");
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct Executor {
    runner: Arc<dyn FunctionRunner>,
    cache: Arc<dyn ResultCache>,
    permits: Arc<Semaphore>,
    shared: Arc<SharedWork>,
    plan_pool: Option<Arc<ThreadPool>>,
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
            shared: Arc::default(),
            plan_pool: None,
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

    /// Plans on `pool` (hashing the nodes of a canvas just loaded on all
    /// its threads); without one, runs are planned on the thread that
    /// starts them. The executor never uses rayon's global pool.
    pub fn with_plan_pool(mut self, pool: Arc<ThreadPool>) -> Self {
        self.plan_pool = Some(pool);
        self
    }

    pub fn cache(&self) -> &Arc<dyn ResultCache> {
        &self.cache
    }

    /// Plans what `options` ask for, refusing targets that have no task and
    /// forced nodes that do not exist.
    fn plan_for(&self, canvas: &Canvas, options: &RunOptions) -> Result<Planner> {
        plan_for_checks(canvas, options)?;
        let plan_options = PlanOptions {
            targets: options.targets.clone(),
            quality: options.quality,
        };
        match &self.plan_pool {
            Some(pool) => Planner::with_pool(canvas, plan_options, pool.clone()),
            None => Planner::new(canvas, plan_options),
        }
    }

    /// Validates, plans and prepares a run of the shared `canvas`. Refuses
    /// before any task runs when the canvas has validation errors in what
    /// the run needs (`invalid_canvas`, with the report) or a function is
    /// unknown to the runner (`unknown_function`). The run does nothing until
    /// [`Run::finish`] is awaited.
    ///
    /// The future is `Send + 'static`: spawn it on any runtime. The canvas
    /// is locked only in synchronous steps (planning, then building the
    /// params of the steps that run), never across an await. If the canvas
    /// changes while the start looks the plan up in the cache, the start is
    /// refused with `stale_plan` rather than run a mix of two revisions:
    /// start again.
    pub fn start(
        &self,
        canvas: &Arc<Mutex<Canvas>>,
        options: RunOptions,
    ) -> impl Future<Output = Result<Run>> + Send + 'static {
        let executor = self.clone();
        let canvas = canvas.clone();
        async move {
            let plan = {
                let canvas = lock(&canvas);
                let planner = executor.plan_for(&canvas, &options)?;
                check(&canvas, planner.plan(), &options.targets, &*executor.runner)?;
                planner.shared_plan()
            };
            executor.start_plan(canvas, plan, options).await
        }
    }

    /// Makes every check [`Executor::start`] makes (targets, forced nodes,
    /// validation, functions) without preparing a run, so a caller can
    /// refuse before choosing where results go.
    pub fn check(&self, canvas: &Canvas, options: &RunOptions) -> Result<()> {
        let planner = self.plan_for(canvas, options)?;
        check(canvas, planner.plan(), &options.targets, &*self.runner)
    }

    /// Like [`Executor::start`], with a plan kept current by a [`Planner`]
    /// (its targets and quality are the run's; `options.targets` and
    /// `options.quality` are not used). A plan behind the canvas, when the
    /// future starts or after the cache lookup, is `stale_plan`: call
    /// [`Planner::replan`] and start again.
    pub fn start_planned(
        &self,
        canvas: &Arc<Mutex<Canvas>>,
        planner: &Planner,
        options: RunOptions,
    ) -> impl Future<Output = Result<Run>> + Send + 'static {
        let executor = self.clone();
        let canvas = canvas.clone();
        let options = RunOptions {
            targets: planner.options().targets.clone(),
            quality: planner.plan().quality,
            ..options
        };
        // The start outlives the borrow of the planner: it shares the plan,
        // which the planner copies only if it replans before the start is done.
        let plan = planner.shared_plan();
        async move {
            {
                let canvas = lock(&canvas);
                stale(&canvas, &plan)?;
                plan_for_checks(&canvas, &options)?;
                check(&canvas, &plan, &options.targets, &*executor.runner)?;
            }
            executor.start_plan(canvas, plan, options).await
        }
    }

    async fn start_plan(
        &self,
        canvas: Arc<Mutex<Canvas>>,
        plan: Arc<Plan>,
        options: RunOptions,
    ) -> Result<Run> {
        let (tx, rx) = mpsc::unbounded_channel();
        let run = self.prepare_run(&canvas, &plan, options, tx).await?;
        Ok(Run {
            events: Some(RunEvents::new(rx)),
            ..run
        })
    }

    /// Looks the checked `plan` up in the cache, then builds the work of the
    /// steps that run from the canvas, if it is still at the plan's revision.
    async fn prepare_run(
        &self,
        canvas: &Mutex<Canvas>,
        plan: &Plan,
        options: RunOptions,
        tx: EventSender,
    ) -> Result<Run> {
        // Params are built only for the steps that will run.
        let links = Links::of(plan);
        let decision = Decision::make(plan, &links, &options.force, &*self.cache).await;
        let mut works = {
            let canvas = lock(canvas);
            // The canvas was unlocked during the lookup: an edit then would
            // give params of one revision under keys of another.
            stale(&canvas, plan)?;
            prepare(&canvas, plan, &decision.runs)?
        };
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
        let emitter = Arc::new(emitter.publishing_to(publisher.transpose()?));
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
                shared: self.shared.clone(),
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
    /// a `run_id` given twice (`duplicate_id`). The future is
    /// `Send + 'static`, locking each canvas as [`Executor::start`] does.
    pub fn batch<'c>(
        &self,
        jobs: impl IntoIterator<Item = (&'c Arc<Mutex<Canvas>>, RunOptions)>,
    ) -> impl Future<Output = Result<Batch>> + Send + 'static {
        let executor = self.clone();
        let jobs: Vec<(Arc<Mutex<Canvas>>, RunOptions)> = jobs
            .into_iter()
            .map(|(canvas, options)| (canvas.clone(), options))
            .collect();
        async move {
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
                let plan = {
                    let canvas = lock(&canvas);
                    let planner = executor.plan_for(&canvas, &options)?;
                    check(&canvas, planner.plan(), &options.targets, &*executor.runner)?;
                    planner.shared_plan()
                };
                runs.push(
                    executor
                        .prepare_run(&canvas, &plan, options, tx.clone())
                        .await?,
                );
            }
            Ok(Batch {
                runs,
                events: Some(RunEvents::new(rx)),
            })
        }
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

/// Locks a shared canvas. A poisoned lock only means a panic elsewhere
/// while it was held; `apply` leaves the canvas whole either way.
pub(super) fn lock(canvas: &Mutex<Canvas>) -> MutexGuard<'_, Canvas> {
    canvas.lock().unwrap_or_else(|e| e.into_inner())
}

/// A plan behind (or of another) canvas would file new results under old keys.
fn stale(canvas: &Canvas, plan: &Plan) -> Result<()> {
    if plan.revision != canvas.revision() || plan.canvas_id != canvas.id() {
        return Err(crate::Error::StalePlan {
            plan_canvas: plan.canvas_id.clone(),
            plan_revision: plan.revision,
            canvas: canvas.id().to_owned(),
            revision: canvas.revision(),
        });
    }
    Ok(())
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
