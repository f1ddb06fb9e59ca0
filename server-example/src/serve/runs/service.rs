//! The server's runs: starts runs and batches of stored canvases on one
//! executor (the demo functions, a result cache, the run hub), drives them
//! to their end, and answers for them from the hub while they are kept
//! there and from the database after.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reelgraph::cache::SqliteCache;
use reelgraph::exec::{
    Executor, HeldRun, PlanOptions, Planner, RunHub, RunOptions, RunState, Subscription, Timestamp,
};
use reelgraph::runner::{CircuitConfig, FunctionRunner, Resilience, RetryPolicy};
use reelgraph::store::CanvasStore;
use reelgraph::{Canvas, Catalog, Error};
use serde_json::json;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::task::TaskTracker;

use super::driver;
use super::folders::Folders;
use super::records::{Records, RunFilter, Stored};
use super::remote_runner::RemoteRunner;
use super::view::{Explained, RunSummary, RunView};
use crate::serve::api_error::{ApiError, ApiResult};
use crate::serve::metrics::Metrics;
use crate::serve::server_db::ServerDb;
use crate::serve::tasks::Tasks;

/// Cheap to clone; clones share everything.
#[derive(Debug, Clone)]
pub struct Runs {
    inner: Arc<Inner>,
}

struct Inner {
    executor: Executor,
    hub: RunHub,
    /// Counts each run's tasks, cache lookups and breakers for `/metrics`.
    metrics: Metrics,
    catalog: Catalog,
    store: Arc<dyn CanvasStore>,
    folders: Folders,
    records: Records,
    /// The tasks that drive runs to their end and store them.
    drivers: TaskTracker,
    /// A permit per run going; a driver gives its run's back at the end.
    active: Arc<Semaphore>,
    max_active: usize,
    closing: AtomicBool,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runs")
            .field("folders", &self.folders)
            .field("closing", &self.closing)
            .finish_non_exhaustive()
    }
}

/// The most runs one batch may start.
pub const MAX_BATCH: usize = 64;

/// Why a run id may not name a folder.
const RUN_ID_RULE: &str = "1 to 128 letters, digits, `-`, `_` or `.`, not starting with `.`";

impl Runs {
    /// Runs of canvases from `store`, with files under `data_dir`, records
    /// in `db` (the server's database), published in `hub`. Their tasks run
    /// in-process with the demo functions, or on the workers of `remote`
    /// (the server's task service) when given; at most `max_active` at once.
    #[allow(clippy::too_many_arguments)]
    pub fn open(
        data_dir: &std::path::Path,
        db: ServerDb,
        catalog: Catalog,
        store: Arc<dyn CanvasStore>,
        hub: RunHub,
        metrics: Metrics,
        remote: Option<Tasks>,
        max_active: usize,
    ) -> reelgraph::Result<Self> {
        let io = |e: std::io::Error| Error::Storage {
            message: format!("the run folders: {e}"),
            path: Some(data_dir.display().to_string()),
        };
        let folders = Folders::open(data_dir).map_err(io)?;
        let records = Records::open(db)?;
        let cache = SqliteCache::open(data_dir.join("cache.sqlite"))?;
        // As the command line does: retries of passing errors, a time limit
        // per attempt, a breaker per function, a quality fallback.
        let functions: Arc<dyn FunctionRunner> = match remote {
            Some(tasks) => Arc::new(RemoteRunner::new(tasks)),
            None => Arc::new(reelgraph_demo::runner(folders.results())),
        };
        let runner = Resilience::new()
            .retry(RetryPolicy::default())
            .timeout(Duration::from_secs(300))
            .circuit_breaker(CircuitConfig::default())
            .quality_fallback(true)
            .wrap(functions);
        let executor = Executor::new(runner)
            .with_cache(Arc::new(cache))
            .with_hub(hub.clone());
        Ok(Runs {
            inner: Arc::new(Inner {
                executor,
                hub,
                metrics,
                catalog,
                store,
                folders,
                records,
                drivers: TaskTracker::new(),
                active: Arc::new(Semaphore::new(max_active)),
                max_active,
                closing: AtomicBool::new(false),
            }),
        })
    }

    pub(super) fn hub(&self) -> &RunHub {
        &self.inner.hub
    }

    pub(super) fn folders(&self) -> &Folders {
        &self.inner.folders
    }

    pub(super) fn records(&self) -> &Records {
        &self.inner.records
    }

    /// The stored canvas, current revision.
    async fn canvas(&self, id: &str) -> reelgraph::Result<Canvas> {
        let doc = self.inner.store.get(id).await?;
        Canvas::from_document(self.inner.catalog.clone(), doc)
    }

    fn refuse_when_closing(&self) -> ApiResult<()> {
        if self.inner.closing.load(Ordering::SeqCst) {
            return Err(ApiError::new(
                "unavailable",
                "the server is shutting down and starts no more runs",
            ));
        }
        Ok(())
    }

    /// Room for `runs` more runs, or `unavailable` while the server runs as
    /// many as it may: a flood of starts cannot take every core and all
    /// the memory, and a client is told to come back.
    fn reserve(&self, runs: usize) -> ApiResult<OwnedSemaphorePermit> {
        let asked = u32::try_from(runs).unwrap_or(u32::MAX);
        self.inner
            .active
            .clone()
            .try_acquire_many_owned(asked)
            .map_err(|_| {
                let limit = self.inner.max_active;
                ApiError::new(
                    "unavailable",
                    format!(
                        "the server runs at most {limit} runs at once (--max-active-runs) and has no room for {runs} more: start again when one has ended"
                    ),
                )
                .with_details(json!({"reason": "active_runs", "limit": limit, "retry_after": 1}))
            })
    }

    /// A run id given in the options must name one folder and be new.
    async fn check_run_id(&self, options: &RunOptions) -> ApiResult<()> {
        let Some(id) = &options.run_id else {
            return Ok(());
        };
        let plain = id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !plain || id.is_empty() || id.len() > 128 || id.starts_with('.') {
            return Err(Error::InvalidField {
                field: "run_id",
                message: format!("`{id}` is not a run id: use {RUN_ID_RULE}"),
            }
            .into());
        }
        if self.inner.records.exists(id).await? {
            return Err(Error::DuplicateId {
                kind: "run",
                id: id.clone(),
            }
            .into());
        }
        Ok(())
    }

    /// Starts a run of the stored revision of canvas `canvas_id`; refusals
    /// (unknown canvas, targets or functions, an invalid canvas) come
    /// before anything runs.
    pub async fn start(&self, canvas_id: &str, options: RunOptions) -> ApiResult<RunSummary> {
        self.refuse_when_closing()?;
        self.check_run_id(&options).await?;
        let room = self.reserve(1)?;
        let canvas = self.canvas(canvas_id).await?;
        let revision = canvas.revision();
        let canvas = Arc::new(Mutex::new(canvas));
        let mut run = self.inner.executor.start(&canvas, options.clone()).await?;
        // Held until its driver stored it, so a read never finds it in neither place.
        let held = self.inner.hub.hold(run.id()).ok();
        self.inner.metrics.follow_run(&self.inner.hub, run.id());
        let summary = self.record(run.id(), canvas_id, revision, options).await?;
        let events = run.events();
        let handle = run.handle();
        let driven = driver::drive(self.clone(), run.finish(), events, held);
        self.inner.drivers.spawn(async move {
            driven.await;
            drop(room);
        });
        // A shutdown that began meanwhile did not see this run.
        if self.inner.closing.load(Ordering::SeqCst) {
            handle.cancel();
        }
        Ok(summary)
    }

    /// Starts one run of the stored canvas per options, sharing the
    /// executor's cap; any refusal refuses them all before anything runs.
    pub async fn batch(
        &self,
        canvas_id: &str,
        variants: Vec<RunOptions>,
    ) -> ApiResult<Vec<RunSummary>> {
        self.refuse_when_closing()?;
        if variants.is_empty() || variants.len() > MAX_BATCH {
            return Err(Error::InvalidField {
                field: "runs",
                message: format!("a batch has 1 to {MAX_BATCH} runs, not {}", variants.len()),
            }
            .into());
        }
        for options in &variants {
            self.check_run_id(options).await?;
        }
        let room = self.reserve(variants.len())?;
        let canvas = self.canvas(canvas_id).await?;
        let revision = canvas.revision();
        let canvas = Arc::new(Mutex::new(canvas));
        let jobs = variants.iter().map(|options| (&canvas, options.clone()));
        let mut batch = self.inner.executor.batch(jobs).await?;
        let handles = batch.handles();
        let held: Vec<HeldRun> = handles
            .iter()
            .filter_map(|h| self.inner.hub.hold(h.run_id()).ok())
            .collect();
        let mut started = Vec::with_capacity(handles.len());
        for (handle, options) in handles.iter().zip(variants) {
            self.inner
                .metrics
                .follow_run(&self.inner.hub, handle.run_id());
            started.push(
                self.record(handle.run_id(), canvas_id, revision, options)
                    .await?,
            );
        }
        let events = batch.events();
        let driven = driver::drive_batch(self.clone(), batch.finish(), events, held);
        self.inner.drivers.spawn(async move {
            driven.await;
            drop(room);
        });
        if self.inner.closing.load(Ordering::SeqCst) {
            handles.iter().for_each(|h| h.cancel());
        }
        Ok(started)
    }

    /// Writes the row of a run that is about to go.
    async fn record(
        &self,
        run_id: &str,
        canvas_id: &str,
        revision: u64,
        options: RunOptions,
    ) -> ApiResult<RunSummary> {
        let summary = RunSummary {
            run_id: run_id.to_owned(),
            canvas_id: canvas_id.to_owned(),
            revision,
            state: RunState::Running,
            options: RunOptions {
                run_id: Some(run_id.to_owned()),
                ..options
            },
            created_at: Timestamp::now(),
            ended_at: None,
        };
        self.inner.records.insert(&summary).await?;
        Ok(summary)
    }

    /// What a run with `options` would do to canvas `canvas_id`, node by node.
    pub async fn explain(&self, canvas_id: &str, options: &RunOptions) -> ApiResult<Explained> {
        let canvas = self.canvas(canvas_id).await?;
        let planner = Planner::new(
            &canvas,
            PlanOptions {
                targets: options.targets.clone(),
                quality: options.quality,
            },
        )?;
        let steps = self
            .inner
            .executor
            .explain(planner.plan(), &options.force)
            .await?;
        Ok(Explained {
            canvas_id: canvas.id().to_owned(),
            revision: canvas.revision(),
            steps,
        })
    }

    /// The run, where it stands, and its report once it ended.
    pub async fn view(&self, run_id: &str) -> ApiResult<RunView> {
        let mut stored = self.stored(run_id).await?;
        let hub = &self.inner.hub;
        // The hub is ahead of the table while it holds the run.
        let live = hub
            .snapshot(run_id)
            .and_then(|snapshot| Ok((snapshot, hub.report(run_id)?)));
        let (snapshot, report) = match live {
            Ok((snapshot, report)) => (snapshot, report.or(stored.report)),
            Err(_) => {
                // Let go after the row was read (the hub lets a run go only
                // once its end is stored): the row has its end now.
                if stored.snapshot.is_none() {
                    stored = self.stored(run_id).await?;
                }
                (
                    stored
                        .snapshot
                        .unwrap_or_else(|| reelgraph::exec::RunSnapshot::new(run_id)),
                    stored.report,
                )
            }
        };
        let mut summary = stored.summary;
        summary.state = snapshot.state;
        summary.ended_at = snapshot.ended_at;
        Ok(RunView {
            run: summary,
            snapshot,
            report,
        })
    }

    pub(super) async fn stored(&self, run_id: &str) -> ApiResult<Stored> {
        self.inner
            .records
            .get(run_id)
            .await?
            .ok_or_else(|| not_found("run", run_id))
    }

    pub async fn list(&self, filter: RunFilter) -> ApiResult<(Vec<RunSummary>, Option<i64>)> {
        self.inner.records.list(filter).await
    }

    /// Cancels the run; false when it had ended already.
    pub async fn cancel(&self, run_id: &str) -> ApiResult<bool> {
        self.stored(run_id).await?;
        let live = self
            .inner
            .hub
            .snapshot(run_id)
            .is_ok_and(|s| !s.state.is_over());
        if live {
            self.inner.hub.cancel(run_id)?;
        }
        Ok(live)
    }

    /// Cancels one node of a running run: `Ok(false)` when the run ended,
    /// `not_found` (kind `node`) when the run does not execute such a node.
    pub async fn cancel_node(&self, run_id: &str, node: &str) -> ApiResult<bool> {
        self.stored(run_id).await?;
        let live = self
            .inner
            .hub
            .snapshot(run_id)
            .is_ok_and(|s| !s.state.is_over());
        if !live {
            return Ok(false);
        }
        if self.inner.hub.cancel_node(run_id, node)? {
            Ok(true)
        } else {
            Err(not_found("node", node))
        }
    }

    /// The run's events from `seq` on: from the hub while it holds the run,
    /// else from the table.
    pub async fn events(&self, run_id: &str, seq: u64) -> ApiResult<Events> {
        match self.inner.hub.subscribe(run_id, seq) {
            Ok(live) => Ok(Events::Live(live)),
            Err(Error::NotFound { .. }) => {
                let stored = self
                    .inner
                    .records
                    .events(run_id)
                    .await?
                    .ok_or_else(|| not_found("run", run_id))?;
                let start = usize::try_from(seq).unwrap_or(usize::MAX);
                Ok(Events::Stored(stored.into_iter().skip(start).collect()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The run's events from `seq` on while the hub holds the run; `None`
    /// when it does not (or no longer holds `seq`).
    pub fn live_events(&self, run_id: &str, seq: u64) -> Option<Subscription> {
        self.inner.hub.subscribe(run_id, seq).ok()
    }

    /// Refuses new runs (503 `unavailable`) and cancels every run that
    /// goes: their tasks are told to stop, and each run ends `cancelled`.
    pub fn cancel_all(&self) {
        self.inner.closing.store(true, Ordering::SeqCst);
        for id in self.inner.hub.run_ids() {
            let _ = self.inner.hub.cancel(&id);
        }
    }

    /// [`Runs::cancel_all`], then waits until every run has ended and been
    /// stored. The server awaits it before the process exits.
    pub async fn shutdown(&self) {
        self.cancel_all();
        self.inner.drivers.close();
        self.inner.drivers.wait().await;
    }
}

fn not_found(kind: &'static str, id: &str) -> ApiError {
    Error::NotFound {
        kind,
        id: id.to_owned(),
    }
    .into()
}

/// A run's events for a stream.
#[derive(Debug)]
pub enum Events {
    Live(Subscription),
    Stored(Vec<reelgraph::exec::RunEvent>),
}

#[cfg(test)]
mod tests {
    use super::*;
    use reelgraph::exec::{HubOptions, RunEvent, RunEventKind};
    use reelgraph::store::MemoryStore;

    fn runs(data: &std::path::Path, hub: RunHub) -> Runs {
        let db = ServerDb::open(&data.join("server.sqlite")).expect("database");
        Runs::open(
            data,
            db,
            Catalog::builtin(),
            Arc::new(MemoryStore::new()),
            hub,
            Metrics::new(),
            None,
            16,
        )
        .expect("runs")
    }

    fn progress(seq: u64) -> RunEvent {
        RunEvent {
            run_id: "r1".into(),
            seq,
            ts: Timestamp::now(),
            kind: RunEventKind::NodeProgress {
                node: "img".into(),
                progress: 0.5,
                message: None,
                overall: 0.5,
            },
        }
    }

    #[tokio::test]
    async fn events_the_hub_dropped_are_refused_with_the_oldest_held() {
        let data = tempfile::tempdir().expect("temp dir");
        // A log that keeps its newest block only: 256 events, then 512.
        let hub = RunHub::new(HubOptions::new().replay(1));
        let runs = runs(data.path(), hub.clone());
        let publisher = hub.register("r1", None).expect("register");
        let events: Vec<RunEvent> = (0..1_000).map(progress).collect();
        publisher.publish(&events);
        let (oldest, _) = hub.seq_range("r1").expect("range");
        assert!(oldest > 0);

        let error = runs.events("r1", 0).await.expect_err("event 0 was dropped");
        assert_eq!((error.status.as_u16(), error.code()), (410, "seq_dropped"));
        assert_eq!(error.body.details["oldest"], oldest);
        let Ok(Events::Live(mut from_oldest)) = runs.events("r1", oldest).await else {
            panic!("the oldest held event can be followed");
        };
        let first = from_oldest
            .next()
            .await
            .expect("an event")
            .expect("not ended");
        assert_eq!(first.seq, oldest);
    }

    #[tokio::test]
    async fn a_run_neither_held_nor_stored_is_not_found() {
        let data = tempfile::tempdir().expect("temp dir");
        let runs = runs(data.path(), RunHub::default());
        let error = runs.events("nope", 0).await.expect_err("no such run");
        assert_eq!((error.status.as_u16(), error.code()), (404, "not_found"));
        assert_eq!(error.body.details["kind"], "run");
    }
}
