//! Hostile input: execution. Runners that panic before their future exists,
//! cached results that do not fit the node, outputs too deep to read back,
//! caches that fail, and batches that reuse a run id.
#![allow(clippy::unwrap_used)]

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use reelgraph::cache::{CacheStats, MemoryCache, ResultCache};
use reelgraph::exec::{
    ContentKey, Executor, Force, PlanOptions, Planner, Reason, RunEvent, RunEventKind, RunOptions,
    RunReport, RunStatus, SkipReason,
};
use reelgraph::runner::{FunctionRunner, Outputs, Task, TaskContext, TaskError, TaskErrorKind};
use reelgraph::validate::MAX_VALUE_DEPTH;
use reelgraph::{Canvas, Catalog, Op, Quality};
use serde_json::{Value, json};

/// `step` joins its text with what arrives on `in`; its `fn` property
/// picks a misbehaviour of the [`Steps`] runner.
const TYPES: &str = r#"[
  {"type": "step", "category": "post", "title": "Step",
   "inputs": [{"name": "in", "type": "text", "multiple": true}],
   "outputs": [{"name": "out", "type": "text"}],
   "properties": [{"name": "text", "type": "text", "required": true},
                  {"name": "fn", "type": "text"},
                  {"name": "depth", "type": "integer"}],
   "task": {"function": "step",
            "params": {"text": {"property": "text"}, "fn": {"property": "fn"},
                       "depth": {"property": "depth"}, "in": {"input": "in"}}}}
]"#;

fn catalog() -> Catalog {
    let catalog = Catalog::builtin();
    catalog.register_json(TYPES).unwrap();
    catalog
}

/// A hand-written runner, as an embedder may write one: by the task's `fn`
/// param, "" joins text and inputs, "panic_in_run" panics in `run` itself
/// (before any future exists), "deep" returns `out` nested `depth` levels.
/// Held directly by the executor, not behind an `Arc`: the blanket impl
/// for `Arc<R>` calls `run` inside its own future.
#[derive(Debug, Default, Clone)]
struct Steps {
    calls: Arc<AtomicUsize>,
}

// Written out, not with `#[async_trait]`: that would move the body, and its
// panic, into the future.
impl FunctionRunner for Steps {
    fn run<'runner, 'future>(
        &'runner self,
        task: Task,
        _ctx: TaskContext,
    ) -> Pin<Box<dyn Future<Output = Result<Outputs, TaskError>> + Send + 'future>>
    where
        'runner: 'future,
        Self: 'future,
    {
        let behaviour = task.params.get("fn").and_then(Value::as_str).unwrap_or("");
        if behaviour == "panic_in_run" {
            panic!("runner gave up on {} before it began", task.node);
        }
        self.calls.fetch_add(1, Ordering::SeqCst);
        let out = if behaviour == "deep" {
            nested(task.params["depth"].as_u64().unwrap() as usize)
        } else {
            let text = task.params["text"].as_str().unwrap_or_default();
            let inputs: Vec<&str> = match task.params.get("in") {
                Some(Value::Array(items)) => {
                    items.iter().map(|v| v.as_str().unwrap_or("?")).collect()
                }
                _ => Vec::new(),
            };
            json!(format!("{text}({})", inputs.join(",")))
        };
        Box::pin(std::future::ready(Ok(Outputs::from_iter([(
            "out".to_owned(),
            out,
        )]))))
    }
}

/// A list nested `depth` levels around a number (`1` is level 0).
fn nested(depth: usize) -> Value {
    let mut value = json!(1);
    for _ in 0..depth {
        value = Value::Array(vec![value]);
    }
    value
}

fn object(value: Value) -> Outputs {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

fn add(id: &str, text: &str) -> Op {
    Op::add_node(id, "step", json!({"text": text}))
}

fn link(from: &str, to: &str) -> Op {
    Op::connect((from, "out"), (to, "in"))
}

/// a → b → c, and d alone.
fn chain() -> Canvas {
    let mut canvas = Canvas::new(catalog(), "chain", "Chain");
    canvas
        .apply(vec![
            add("a", "A"),
            add("b", "B"),
            add("c", "C"),
            add("d", "D"),
            link("a", "b"),
            link("b", "c"),
        ])
        .unwrap();
    canvas
}

/// A canvas runs are started from: shared, locked only to read or edit it.
fn shared(canvas: Canvas) -> Arc<Mutex<Canvas>> {
    Arc::new(Mutex::new(canvas))
}

async fn run(
    executor: &Executor,
    canvas: &Arc<Mutex<Canvas>>,
    options: RunOptions,
) -> (RunReport, Vec<RunEvent>) {
    let mut run = executor.start(canvas, options).await.unwrap();
    let mut events = run.events().unwrap();
    let report = run.finish().await;
    let mut seen = Vec::new();
    while let Some(e) = events.next().await {
        seen.push(e);
    }
    (report, seen)
}

/// The content key of `node` in a full plan of `canvas` at `quality`.
fn key_of(canvas: &Canvas, node: &str) -> ContentKey {
    let planner = Planner::new(canvas, PlanOptions::all(Quality::Standard)).unwrap();
    planner.plan().step(node).unwrap().key
}

/// A reason as the wire spells it (so these tests name reasons that a
/// build may not have yet).
fn name(reason: Reason) -> String {
    serde_json::to_value(reason)
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned()
}

async fn explain(executor: &Executor, canvas: &Mutex<Canvas>) -> Vec<(String, String)> {
    let planner =
        Planner::new(&canvas.lock().unwrap(), PlanOptions::all(Quality::Standard)).unwrap();
    executor
        .explain(planner.plan(), &Force::None)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.node.to_string(), name(e.reason)))
        .collect()
}

fn queued(events: &[RunEvent]) -> Vec<(String, String)> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            RunEventKind::NodeQueued { node, reason } => Some((node.to_string(), name(*reason))),
            _ => None,
        })
        .collect()
}

// 1. A runner whose `run` panics before it returns a future.

#[tokio::test]
async fn a_runner_that_panics_in_run_fails_its_node_and_the_rest_goes_on() {
    let canvas = shared(chain());
    canvas
        .lock()
        .unwrap()
        .apply(vec![Op::set_properties("b", json!({"fn": "panic_in_run"}))])
        .unwrap();
    let runner = Steps::default();
    let executor = Executor::new(runner.clone());
    let (report, events) = run(&executor, &canvas, RunOptions::new()).await;

    assert_eq!(report.status, RunStatus::Failed);
    let error = &report.errors["b"];
    assert_eq!(error.kind, TaskErrorKind::Permanent);
    assert!(
        error
            .message
            .contains("runner gave up on b before it began")
            && error.message.contains("`step`"),
        "the report says what panicked: {error:?}"
    );
    assert!(!error.hint.is_empty());
    // `a` and `d` ran; `c` waits on `b` and is skipped.
    assert_eq!(runner.calls.load(Ordering::SeqCst), 2);
    assert_eq!(
        report.outputs.keys().map(|k| &**k).collect::<Vec<_>>(),
        ["a", "d"]
    );
    assert!(events.iter().any(|e| matches!(
        &e.kind,
        RunEventKind::NodeSkipped { node, reason: SkipReason::UpstreamFailed, because: Some(b), .. }
            if &**node == "c" && &**b == "b"
    )));
    assert!(matches!(
        events.last().unwrap().kind,
        RunEventKind::RunFailed { .. }
    ));
}

// 2. Cached outputs that do not match the node's ports.

/// Puts `{"video": 1}` under `d`'s key, as an older catalogue (or a hand
/// edit) might have left it, and checks the run treats it as a miss.
async fn a_cached_result_with_wrong_ports_runs_again(cache: Arc<dyn ResultCache>) {
    let canvas = shared(chain());
    let key = key_of(&canvas.lock().unwrap(), "d");
    cache
        .put(key, Arc::new(object(json!({"video": 1}))))
        .await
        .unwrap();
    let runner = Steps::default();
    let executor = Executor::new(runner.clone()).with_cache(cache.clone());

    let reasons = explain(&executor, &canvas).await;
    assert!(
        reasons.contains(&("d".to_owned(), "cache_invalid".to_owned())),
        "{reasons:?}"
    );

    let (report, events) = run(&executor, &canvas, RunOptions::new()).await;
    assert_eq!(report.status, RunStatus::Completed);
    assert_eq!(report.outputs["d"]["out"], "D()");
    assert_eq!((report.stats.executed, report.stats.cache_hits), (4, 0));
    assert_eq!(report.stats.cache_misses, 4);
    assert!(queued(&events).contains(&("d".to_owned(), "cache_invalid".to_owned())));

    // The fresh result replaced the bad one.
    let stored = cache.get(&key).await.unwrap().unwrap();
    assert_eq!(*stored, object(json!({"out": "D()"})));
    let (again, _) = run(&executor, &canvas, RunOptions::new()).await;
    assert_eq!((again.stats.executed, again.stats.cache_hits), (0, 4));
    assert_eq!(runner.calls.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn memory_cache_a_cached_result_with_wrong_ports_runs_again() {
    a_cached_result_with_wrong_ports_runs_again(Arc::new(MemoryCache::new(1 << 20))).await;
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn sqlite_cache_a_cached_result_with_wrong_ports_runs_again() {
    let dir = tempfile::tempdir().unwrap();
    let cache = reelgraph::cache::SqliteCache::open(dir.path().join("results.db")).unwrap();
    a_cached_result_with_wrong_ports_runs_again(Arc::new(cache)).await;
}

/// A row edited by hand to nest deeper than a value may: the right port,
/// but not a result the executor would have stored.
#[cfg(feature = "sqlite")]
#[tokio::test]
async fn sqlite_cache_a_row_nested_too_deep_runs_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("results.db");
    let cache = Arc::new(reelgraph::cache::SqliteCache::open(&path).unwrap());
    let canvas = shared(chain());
    let key = key_of(&canvas.lock().unwrap(), "d");
    cache
        .put(key, Arc::new(object(json!({"out": "x"}))))
        .await
        .unwrap();
    let deep = json!({"out": nested(MAX_VALUE_DEPTH + 8)}).to_string();
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute(
            "UPDATE results SET outputs = ?1 WHERE key = ?2",
            rusqlite::params![deep, &key.0[..]],
        )
        .unwrap();

    let executor = Executor::new(Steps::default()).with_cache(cache.clone());
    let reasons = explain(&executor, &canvas).await;
    assert!(
        reasons.contains(&("d".to_owned(), "cache_invalid".to_owned())),
        "{reasons:?}"
    );
    let (report, _) = run(&executor, &canvas, RunOptions::new()).await;
    assert_eq!(report.status, RunStatus::Completed);
    assert_eq!(report.outputs["d"]["out"], "D()");
    assert_eq!(
        *cache.get(&key).await.unwrap().unwrap(),
        object(json!({"out": "D()"}))
    );
}

// 3. Outputs nested deeper than a value may be.

#[tokio::test]
async fn outputs_nested_deeper_than_the_limit_fail_the_node_and_are_not_stored() {
    // Just past the limit, and past serde_json's own read limit of 128.
    for depth in [MAX_VALUE_DEPTH + 1, 200] {
        let canvas = shared(chain());
        canvas
            .lock()
            .unwrap()
            .apply(vec![Op::set_properties(
                "d",
                json!({"fn": "deep", "depth": depth}),
            )])
            .unwrap();
        let cache = Arc::new(MemoryCache::new(1 << 20));
        let executor = Executor::new(Steps::default()).with_cache(cache.clone());
        let (report, _) = run(&executor, &canvas, RunOptions::new()).await;
        assert_eq!(report.status, RunStatus::Failed, "depth {depth}");
        let error = &report.errors["d"];
        assert_eq!(error.kind, TaskErrorKind::Permanent);
        assert!(
            error.message.contains(&format!("{depth} levels"))
                && error.message.contains(&MAX_VALUE_DEPTH.to_string())
                && error.message.contains("`out`"),
            "says how deep and what the limit is: {error:?}"
        );
        let key = key_of(&canvas.lock().unwrap(), "d");
        assert!(cache.get(&key).await.unwrap().is_none());
        // The other branch completed and was stored.
        assert_eq!(report.outputs["c"]["out"], "C(B(A()))");
    }
}

#[tokio::test]
async fn outputs_at_the_limit_are_fine() {
    let canvas = shared(chain());
    canvas
        .lock()
        .unwrap()
        .apply(vec![Op::set_properties(
            "d",
            json!({"fn": "deep", "depth": MAX_VALUE_DEPTH}),
        )])
        .unwrap();
    let executor = Executor::new(Steps::default());
    let (report, _) = run(&executor, &canvas, RunOptions::new()).await;
    assert_eq!(report.status, RunStatus::Completed, "{:?}", report.errors);
    let (again, _) = run(&executor, &canvas, RunOptions::new()).await;
    assert_eq!(again.stats.cache_hits, 4);
}

/// A direct caller cannot store what could not be read back.
async fn a_put_refuses_outputs_nested_too_deep(cache: &dyn ResultCache) {
    let key = ContentKey([9; 32]);
    for depth in [MAX_VALUE_DEPTH + 1, 200] {
        let error = cache
            .put(key, Arc::new(object(json!({"frames": nested(depth)}))))
            .await
            .expect_err("refused");
        assert_eq!(error.code(), "invalid_field", "{error}");
        let message = error.to_string();
        assert!(
            message.contains("`frames`")
                && message.contains(&format!("{depth} levels"))
                && message.contains(&MAX_VALUE_DEPTH.to_string()),
            "{message}"
        );
        assert!(cache.get(&key).await.unwrap().is_none());
    }
    cache
        .put(
            key,
            Arc::new(object(json!({"frames": nested(MAX_VALUE_DEPTH)}))),
        )
        .await
        .unwrap();
    assert!(cache.get(&key).await.unwrap().is_some());
}

#[tokio::test]
async fn memory_cache_put_refuses_outputs_nested_too_deep() {
    a_put_refuses_outputs_nested_too_deep(&MemoryCache::new(1 << 20)).await;
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn sqlite_cache_put_refuses_outputs_nested_too_deep() {
    let dir = tempfile::tempdir().unwrap();
    let cache = reelgraph::cache::SqliteCache::open(dir.path().join("results.db")).unwrap();
    a_put_refuses_outputs_nested_too_deep(&cache).await;
}

// 4. A cache that fails.

/// Every call fails, as a damaged database file would.
#[derive(Debug, Default)]
struct BrokenCache {
    calls: AtomicUsize,
}

impl BrokenCache {
    fn error() -> reelgraph::Error {
        reelgraph::Error::Storage {
            message: "database disk image is malformed".into(),
            path: Some("results.db".into()),
        }
    }
}

#[async_trait]
impl ResultCache for BrokenCache {
    async fn get(&self, _key: &ContentKey) -> reelgraph::Result<Option<Arc<Outputs>>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Err(Self::error())
    }

    async fn get_many(&self, _keys: &[ContentKey]) -> reelgraph::Result<Vec<Option<Arc<Outputs>>>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Err(Self::error())
    }

    async fn put(&self, _key: ContentKey, _outputs: Arc<Outputs>) -> reelgraph::Result<()> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Err(Self::error())
    }

    fn stats(&self) -> CacheStats {
        CacheStats::default()
    }
}

#[tokio::test]
async fn a_failing_cache_is_a_miss_with_a_note_not_a_failed_run() {
    let canvas = shared(chain());
    let cache = Arc::new(BrokenCache::default());
    let runner = Steps::default();
    let executor = Executor::new(runner.clone()).with_cache(cache.clone());

    // Explain says what the run will do instead of failing.
    let reasons = explain(&executor, &canvas).await;
    assert_eq!(reasons.len(), 4);
    assert!(
        reasons.iter().all(|(_, r)| r == "cache_unavailable"),
        "{reasons:?}"
    );

    let (report, events) = run(&executor, &canvas, RunOptions::new()).await;
    assert_eq!(report.status, RunStatus::Completed, "{:?}", report.errors);
    assert_eq!(report.stats.executed, 4);
    assert_eq!(report.stats.cache_misses, 4);
    assert_eq!(runner.calls.load(Ordering::SeqCst), 4);
    let notes = queued(&events);
    assert_eq!(notes.len(), 4);
    assert!(
        notes.iter().all(|(_, r)| r == "cache_unavailable"),
        "{notes:?}"
    );
    // One lookup for the run, one per explain, and a put per result.
    assert_eq!(cache.calls.load(Ordering::SeqCst), 1 + 1 + 4);
    // Forced steps are not looked up, so nothing is noted for them.
    let (forced, events) = run(&executor, &canvas, RunOptions::new().force_all()).await;
    assert_eq!(forced.status, RunStatus::Completed);
    assert!(queued(&events).iter().all(|(_, r)| r == "forced"));
}

// 5. Batches and run ids.

#[tokio::test]
async fn a_batch_that_gives_one_run_id_twice_is_refused_before_anything_runs() {
    let canvas = shared(chain());
    let other = shared(chain());
    let runner = Steps::default();
    let executor = Executor::new(runner.clone());
    let refused = executor
        .batch([
            (&canvas, RunOptions::new().run_id("nightly")),
            (&other, RunOptions::new().run_id("other")),
            (
                &other,
                RunOptions::new().quality(Quality::Draft).run_id("nightly"),
            ),
        ])
        .await
        .expect_err("refused");
    assert_eq!(refused.code(), "duplicate_id");
    assert_eq!(refused.details(), json!({"kind": "run", "id": "nightly"}));
    assert!(refused.to_string().contains("`nightly`"), "{refused}");
    assert_eq!(runner.calls.load(Ordering::SeqCst), 0);

    // Distinct ids, or none, are fine.
    let batch = executor
        .batch([
            (&canvas, RunOptions::new().run_id("nightly")),
            (&other, RunOptions::new()),
            (&other, RunOptions::new()),
        ])
        .await
        .unwrap();
    let reports = batch.finish().await;
    assert!(reports.iter().all(|r| r.status == RunStatus::Completed));
}
