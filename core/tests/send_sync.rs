//! What an embedder may move or share across threads, checked when this
//! file compiles; starts and batches spawned on a multi-thread runtime; and a
//! canvas edited while a start looks its plan up in the cache; the planner's
//! thread pool.
#![allow(clippy::unwrap_used)]

use std::future::Future;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use reelgraph::cache::{CacheStats, MemoryCache, ResultCache, SqliteCache};
use reelgraph::exec::{
    Batch, Executor, Plan, PlanOptions, Planner, Run, RunEvents, RunHandle, RunOptions, RunReport,
    RunStatus, ThreadPoolBuilder,
};
use reelgraph::runner::{
    CircuitBreaker, Circuits, FunctionRunner, LocalRunner, Outputs, QualityFallback, Resilient,
    Retry, Timeout,
};
use reelgraph::store::{Autosaver, CanvasStore, FileStore, MemoryStore, SqliteStore};
use reelgraph::{Canvas, Catalog, ContentKey, Op, Quality};
use serde_json::json;
use tokio::sync::{Notify, oneshot};

fn send<T: Send>() {}
fn send_sync<T: Send + Sync>() {}
fn spawnable<F: Future + Send + 'static>(_: &F) {}

#[test]
fn what_a_binding_holds_across_threads_is_send_and_sync() {
    // A canvas moves between threads and is read from many at once (behind
    // an `RwLock`, or a mutex when edits are frequent: see docs/embedding.md).
    send_sync::<Canvas>();
    send_sync::<Arc<Mutex<Canvas>>>();
    send_sync::<Catalog>();
    // Runs and their parts.
    send::<Run>();
    send::<Batch>();
    send::<RunEvents>();
    send_sync::<RunHandle>();
    send_sync::<RunReport>();
    send_sync::<Executor>();
    send_sync::<Planner>();
    send_sync::<Plan>();
    // Stores, caches, the autosaver.
    send_sync::<MemoryStore>();
    send_sync::<FileStore>();
    send_sync::<SqliteStore>();
    send_sync::<Arc<dyn CanvasStore>>();
    send_sync::<MemoryCache>();
    send_sync::<SqliteCache>();
    send_sync::<Arc<dyn ResultCache>>();
    send_sync::<Autosaver>();
    // Runners and their middleware.
    send_sync::<LocalRunner>();
    send_sync::<Resilient>();
    send_sync::<Retry<LocalRunner>>();
    send_sync::<Timeout<LocalRunner>>();
    send_sync::<CircuitBreaker<LocalRunner>>();
    send_sync::<QualityFallback<LocalRunner>>();
    send_sync::<Circuits>();
    send_sync::<Arc<dyn FunctionRunner>>();
}

#[test]
fn start_and_batch_futures_are_send_and_static() {
    let canvas = shared(shout_canvas());
    let executor = Executor::new(upper_runner());
    let planner = Planner::new(&canvas.lock().unwrap(), PlanOptions::all(Quality::Draft)).unwrap();
    // Each future outlives the borrows it was made from.
    let start = executor.start(&canvas, RunOptions::new());
    let planned = executor.start_planned(&canvas, &planner, RunOptions::new());
    let batch = executor.batch([(&canvas, RunOptions::new())]);
    drop((executor, planner));
    spawnable(&start);
    spawnable(&planned);
    spawnable(&batch);
}

fn shared(canvas: Canvas) -> Arc<Mutex<Canvas>> {
    Arc::new(Mutex::new(canvas))
}

/// Two `shout` nodes: `a`, and `b` reading `a`.
fn shout_canvas() -> Canvas {
    let catalog = Catalog::builtin();
    catalog
        .register_json(
            r#"{"type": "shout", "category": "post", "title": "Shout",
                "inputs": [{"name": "in", "type": "text"}],
                "outputs": [{"name": "text", "type": "text"}],
                "properties": [{"name": "text", "type": "text"}],
                "task": {"function": "text.upper",
                         "params": {"text": {"property": "text"}, "in": {"input": "in"}}}}"#,
        )
        .unwrap();
    let mut canvas = Canvas::new(catalog, "c", "C");
    canvas
        .apply(vec![
            Op::add_node("a", "shout", json!({"text": "hello"})),
            Op::add_node("b", "shout", json!({"text": "and"})),
            Op::connect(("a", "text"), ("b", "in")),
        ])
        .unwrap();
    canvas
}

fn upper_runner() -> LocalRunner {
    let runner = LocalRunner::new();
    runner.register("text.upper", |task, _ctx| async move {
        let text = task.params["text"].as_str().unwrap_or_default();
        let upstream = task.params.get("in").and_then(|v| v.as_str()).unwrap_or("");
        let out = format!("{upstream}{}", text.to_uppercase());
        Ok(Outputs::from_iter([("text".to_owned(), json!(out))]))
    });
    runner
}

fn multi_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn a_start_spawned_on_a_multi_thread_runtime_runs_to_its_report() {
    let runtime = multi_thread();
    let canvas = shared(shout_canvas());
    let executor = Executor::new(upper_runner());
    let report = runtime.block_on(async {
        let started = tokio::spawn(executor.start(&canvas, RunOptions::new()));
        let mut run = started.await.unwrap().unwrap();
        let mut events = run.events().unwrap();
        let reading = tokio::spawn(async move {
            let mut n = 0;
            while events.next().await.is_some() {
                n += 1;
            }
            n
        });
        let report = tokio::spawn(run.finish()).await.unwrap();
        assert!(reading.await.unwrap() > 0);
        report
    });
    assert_eq!(report.status, RunStatus::Completed);
    assert_eq!(report.outputs["b"]["text"], "HELLOAND");
}

#[test]
fn a_batch_spawned_on_a_multi_thread_runtime_runs_every_run() {
    let runtime = multi_thread();
    let first = shared(shout_canvas());
    let second = shared(shout_canvas());
    second
        .lock()
        .unwrap()
        .apply(vec![Op::set_properties("a", json!({"text": "bye"}))])
        .unwrap();
    let executor = Executor::new(upper_runner());
    let reports = runtime.block_on(async {
        let batch = tokio::spawn(executor.batch([
            (&first, RunOptions::new().run_id("one")),
            (&second, RunOptions::new().run_id("two")),
        ]));
        let batch = batch.await.unwrap().unwrap();
        tokio::spawn(batch.finish()).await.unwrap()
    });
    let outputs: Vec<_> = reports
        .iter()
        .map(|r| (r.run_id.as_str(), r.outputs["b"]["text"].clone()))
        .collect();
    assert_eq!(
        outputs,
        [("one", json!("HELLOAND")), ("two", json!("BYEAND"))]
    );
}

/// A memory cache whose lookups wait until the test lets them go, and
/// say when one has begun.
#[derive(Debug)]
struct GatedCache {
    inner: MemoryCache,
    looking: Mutex<Option<oneshot::Sender<()>>>,
    go: Notify,
}

impl GatedCache {
    fn new() -> (Arc<Self>, oneshot::Receiver<()>) {
        let (tx, rx) = oneshot::channel();
        let cache = GatedCache {
            inner: MemoryCache::new(1 << 20),
            looking: Mutex::new(Some(tx)),
            go: Notify::new(),
        };
        (Arc::new(cache), rx)
    }
}

#[async_trait]
impl ResultCache for GatedCache {
    async fn get(&self, key: &ContentKey) -> reelgraph::Result<Option<Arc<Outputs>>> {
        self.inner.get(key).await
    }

    async fn get_many(&self, keys: &[ContentKey]) -> reelgraph::Result<Vec<Option<Arc<Outputs>>>> {
        if let Some(looking) = self.looking.lock().unwrap().take() {
            let _ = looking.send(());
        }
        self.go.notified().await;
        self.inner.get_many(keys).await
    }

    async fn put(&self, key: ContentKey, outputs: Arc<Outputs>) -> reelgraph::Result<()> {
        self.inner.put(key, outputs).await
    }

    fn stats(&self) -> CacheStats {
        self.inner.stats()
    }
}

/// Starts with `start` on a canvas that is edited while the start looks the
/// plan up; returns the start's outcome.
fn edited_during_lookup(
    start: impl FnOnce(
        &Executor,
        &Arc<Mutex<Canvas>>,
    ) -> tokio::task::JoinHandle<reelgraph::Result<Run>>,
) -> reelgraph::Result<Run> {
    let runtime = multi_thread();
    let canvas = shared(shout_canvas());
    let (cache, looking) = GatedCache::new();
    let executor = Executor::new(upper_runner()).with_cache(cache.clone());
    runtime.block_on(async {
        let started = start(&executor, &canvas);
        looking.await.unwrap();
        // The start holds no lock while it waits for the cache.
        canvas
            .lock()
            .unwrap()
            .apply(vec![Op::set_properties("a", json!({"text": "changed"}))])
            .unwrap();
        cache.go.notify_one();
        started.await.unwrap()
    })
}

#[test]
fn a_canvas_edited_while_a_start_looks_up_its_plan_is_refused_as_stale_plan() {
    let refused = edited_during_lookup(|executor, canvas| {
        tokio::spawn(executor.start(canvas, RunOptions::new()))
    })
    .expect_err("a run of two revisions is refused");
    assert_eq!(refused.code(), "stale_plan");
    assert_eq!(
        refused.details(),
        json!({"plan_canvas": "c", "plan_revision": 1, "canvas": "c", "revision": 2})
    );
}

#[test]
fn a_canvas_edited_while_a_planned_start_looks_up_its_plan_is_refused_as_stale_plan() {
    let refused = edited_during_lookup(|executor, canvas| {
        let planner =
            Planner::new(&canvas.lock().unwrap(), PlanOptions::all(Quality::Standard)).unwrap();
        tokio::spawn(executor.start_planned(canvas, &planner, RunOptions::new()))
    })
    .expect_err("a run of two revisions is refused");
    assert_eq!(refused.code(), "stale_plan");
}

#[test]
fn a_planner_replanned_while_a_planned_start_holds_its_plan_keeps_both_apart() {
    let runtime = multi_thread();
    let canvas = shared(shout_canvas());
    let executor = Executor::new(upper_runner());
    let mut planner =
        Planner::new(&canvas.lock().unwrap(), PlanOptions::all(Quality::Standard)).unwrap();
    let start = executor.start_planned(&canvas, &planner, RunOptions::new());
    canvas
        .lock()
        .unwrap()
        .apply(vec![Op::set_properties("a", json!({"text": "moved on"}))])
        .unwrap();
    let replanned = planner.replan(&canvas.lock().unwrap()).unwrap().revision;
    assert_eq!(replanned, 2);
    // The start still has the plan of revision 1: refused, not mixed.
    let refused = runtime.block_on(start).expect_err("a stale plan");
    assert_eq!(refused.details()["plan_revision"], 1);
    // The replanned planner starts a run of revision 2.
    let report = runtime.block_on(async {
        let run = executor.start_planned(&canvas, &planner, RunOptions::new());
        run.await.unwrap().finish().await
    });
    assert_eq!(report.outputs["a"]["text"], "MOVED ON");
}

#[test]
fn a_start_takes_the_canvas_as_it_is_when_the_future_first_runs() {
    // The future plans when it is first polled, not when it is made: an
    // edit in between is part of the run.
    let runtime = multi_thread();
    let canvas = shared(shout_canvas());
    let executor = Executor::new(upper_runner());
    let start = executor.start(&canvas, RunOptions::new());
    canvas
        .lock()
        .unwrap()
        .apply(vec![Op::set_properties("a", json!({"text": "later"}))])
        .unwrap();
    let report = runtime.block_on(async { start.await.unwrap().finish().await });
    assert_eq!(report.outputs["a"]["text"], "LATER");
}

/// Enough shots and frames that a first plan hashes in parallel when it may.
fn many_frames(id: &str) -> Canvas {
    let mut canvas = Canvas::new(Catalog::builtin(), id, "Many");
    let mut ops = Vec::new();
    for i in 0..1_500 {
        let (shot, frame) = (format!("s{i}"), format!("f{i}"));
        ops.push(Op::add_node(
            &shot,
            "shot",
            json!({"number": i + 1, "prompt": format!("shot {i}")}),
        ));
        ops.push(Op::add_node(&frame, "image_gen", json!({"seed": i})));
        ops.push(Op::connect(
            (shot.as_str(), "shot"),
            (frame.as_str(), "shot"),
        ));
    }
    canvas.apply(ops).unwrap();
    canvas
}

#[test]
fn the_planner_hashes_on_the_pool_it_is_given_and_never_on_rayons_global_pool() {
    let keys = |planner: Planner| -> Vec<(String, ContentKey)> {
        let plan = planner.into_plan();
        plan.steps
            .iter()
            .map(|s| (s.node.to_string(), s.key))
            .collect()
    };
    let pool = Arc::new(ThreadPoolBuilder::new().num_threads(2).build().unwrap());
    let pooled = keys(
        Planner::with_pool(&many_frames("a"), PlanOptions::all(Quality::Draft), pool).unwrap(),
    );
    let alone = keys(Planner::new(&many_frames("a"), PlanOptions::all(Quality::Draft)).unwrap());
    assert_eq!(pooled.len(), 1_500);
    assert_eq!(pooled, alone);
    // An executor without a pool plans on the calling thread too.
    let canvas = shared(many_frames("b"));
    let executor = Executor::new(LocalRunner::new());
    let _ = executor.check(&canvas.lock().unwrap(), &RunOptions::new());
    // Rayon's global pool can still be built: nothing above started it.
    ThreadPoolBuilder::new()
        .num_threads(1)
        .build_global()
        .expect("the global pool was never started");
}
