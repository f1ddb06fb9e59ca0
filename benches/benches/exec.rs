//! Benchmarks of planning and execution. Goals, on a 2-core machine, for
//! the generated 100,000-node, 200,000-edge canvas (shape: `reelgraph_benches`
//! crate docs) and a layered DAG of 100,000 nodes, with a no-op function:
//! plan + content keys ≤ 50 ms; re-plan
//! after one property edit ≤ 1 ms; executor overhead ≤ 5 µs per node; a
//! second, fully cached run of a 10,000-node canvas ≤ 20 ms; ≥ 1,000,000
//! events/s to one consumer.
//!
//! `cargo bench -p reelgraph-benches --bench exec` (a few minutes); one group:
//! `cargo bench -p reelgraph-benches --bench exec -- replan`.

use std::hint::black_box;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use reelgraph::cache::{MemoryCache, SqliteCache};
use reelgraph::exec::{
    Executor, PlanOptions, Planner, RunEventKind, RunOptions, RunStatus, ThreadPoolBuilder,
};
use reelgraph::runner::LocalRunner;
use reelgraph::{Canvas, Catalog, Op, Quality};
use reelgraph_benches::{
    BATCH, Dag, SEED, layered_dag, noop_runner, noop_step_runner, run_with_consumer,
};
use serde_json::json;
use tokio::runtime::Runtime;

const NODES: usize = 100_000;
const EDGES: usize = 200_000;
const CACHED_NODES: usize = 10_000;
/// Progress notes one task sends in the event-stream bench.
const EVENTS: usize = 1_000_000;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

fn plan(c: &mut Criterion, dag: &Dag, canvas: &mut Canvas) {
    let mut group = c.benchmark_group("plan");
    group
        .sample_size(20)
        .sampling_mode(SamplingMode::Flat)
        .measurement_time(Duration::from_secs(6));
    group.throughput(Throughput::Elements(canvas.node_count() as u64));
    let layered = layered_dag(100, 1_000, 2, SEED);
    // The planner's threads are the embedder's: one per core here.
    let pool = Arc::new(ThreadPoolBuilder::new().build().expect("a thread pool"));
    for (name, canvas) in [("100k_nodes", &*canvas), ("layered_100k_nodes", &layered)] {
        // A canvas keeps each node's own digest once worked out: this is
        // every plan after the first.
        group.bench_function(format!("plan_and_keys_{name}"), |b| {
            // The planner is dropped outside the timing: freeing is not planning.
            b.iter_with_large_drop(|| {
                Planner::new(canvas, PlanOptions::all(Quality::Draft)).expect("a plan")
            });
        });
        // The first plan of a canvas just loaded hashes every node's own
        // part: on the pool, and on the calling thread alone.
        let document = canvas.to_document();
        for (suffix, pool) in [("", Some(&pool)), ("_sequential", None)] {
            group.bench_function(format!("plan_and_keys_{name}_just_loaded{suffix}"), |b| {
                b.iter_batched(
                    || {
                        Canvas::from_document(canvas.catalog().clone(), document.clone())
                            .expect("loads")
                    },
                    |loaded| {
                        let options = PlanOptions::all(Quality::Draft);
                        let planner = match pool {
                            Some(pool) => Planner::with_pool(&loaded, options, pool.clone()),
                            None => Planner::new(&loaded, options),
                        };
                        (planner.expect("a plan"), loaded)
                    },
                    BatchSize::PerIteration,
                );
            });
        }
    }
    group.finish();

    // One property edit, re-planned; the edit is undone (and re-planned)
    // outside the timing. Three places: a leaf, a shot in the middle (its
    // images, videos, effects and what composites them), a character (all
    // its shots' cones).
    let mut group = c.benchmark_group("replan");
    group.measurement_time(Duration::from_secs(4));
    let (image, _) = dag.middle_image_gen();
    let edits = [
        (
            "export_path",
            last_of(dag, "export"),
            json!({"path": "renders/other.mp4"}),
        ),
        ("image_gen_seed", image, json!({"seed": 4242})),
        (
            "shot_prompt",
            middle_of(dag, "shot"),
            json!({"prompt": "a storm over the lighthouse"}),
        ),
        (
            "character_lora_weight",
            middle_of(dag, "character"),
            json!({"lora_weight": 0.55}),
        ),
    ];
    let mut planner = Planner::new(canvas, PlanOptions::all(Quality::Draft)).expect("a plan");
    for (name, node, props) in edits {
        let applied = canvas
            .apply(vec![Op::set_properties(&node, props.clone())])
            .expect("the edit applies");
        let before: Vec<_> = Planner::new(canvas, PlanOptions::all(Quality::Draft))
            .expect("a plan")
            .plan()
            .steps
            .iter()
            .map(|s| s.key)
            .collect();
        canvas.apply(applied.inverse).expect("the undo applies");
        let after = Planner::new(canvas, PlanOptions::all(Quality::Draft)).expect("a plan");
        let cone = after
            .plan()
            .steps
            .iter()
            .zip(&before)
            .filter(|(s, k)| s.key != **k)
            .count();
        eprintln!("replan/{name}: editing `{node}` changes {cone} task keys");
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let applied = canvas
                        .apply(vec![Op::set_properties(&node, props.clone())])
                        .expect("the edit applies");
                    let start = Instant::now();
                    black_box(planner.replan(canvas).expect("a plan"));
                    total += start.elapsed();
                    canvas.apply(applied.inverse).expect("the undo applies");
                    planner.replan(canvas).expect("a plan");
                }
                total
            });
        });
    }
    group.finish();
}

fn middle_of(dag: &Dag, type_name: &str) -> String {
    let nodes: Vec<usize> = (0..dag.node_count())
        .filter(|&i| dag.kind(i).type_name() == type_name)
        .collect();
    dag.id(nodes[nodes.len() / 2])
}

fn last_of(dag: &Dag, type_name: &str) -> String {
    let node = (0..dag.node_count())
        .rev()
        .find(|&i| dag.kind(i).type_name() == type_name)
        .expect("a node of the type");
    dag.id(node)
}

/// Whole runs with no-op functions and an empty cache: validation,
/// planning, params, scheduling, events (read by a consumer), cache writes.
/// `layered`: 100 layers of 1,000 task nodes, each reading 2 of the layer
/// before (the executor's own cost); `catalogue`: the generated production
/// canvas, whose task params also gather upstream context.
fn execute(c: &mut Criterion, canvas: Canvas) {
    let runtime = runtime();
    let mut group = c.benchmark_group("execute");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .measurement_time(Duration::from_secs(20));
    let layered = Arc::new(Mutex::new(layered_dag(100, 1_000, 2, SEED)));
    let canvas = Arc::new(Mutex::new(canvas));
    let cases = [
        (
            "layered_100k_nodes_noop",
            &layered,
            noop_step_runner as fn() -> LocalRunner,
        ),
        (
            "catalogue_100k_nodes_noop",
            &canvas,
            noop_runner as fn() -> LocalRunner,
        ),
    ];
    for (name, canvas, runner) in cases {
        let nodes = canvas.lock().expect("the canvas").node_count();
        let tasks = Planner::new(
            &canvas.lock().expect("the canvas"),
            PlanOptions::all(Quality::Draft),
        )
        .expect("a plan")
        .plan()
        .steps
        .len();
        eprintln!("execute/{name}: {nodes} nodes, {tasks} tasks");
        group.throughput(Throughput::Elements(nodes as u64));
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let executor = Executor::new(runner())
                        .with_cache(Arc::new(MemoryCache::new(1 << 30)))
                        .with_concurrency(64);
                    let start = Instant::now();
                    let (report, events) = runtime.block_on(run_with_consumer(&executor, canvas));
                    total += start.elapsed();
                    black_box(events);
                    assert_eq!(report.stats.executed, tasks);
                    // Freeing the run's results and the cache is not timed.
                    drop((report, executor));
                }
                total
            });
        });
    }
    group.finish();
}

/// The second run of an unchanged 10k-node canvas: every task cached.
fn cached(c: &mut Criterion, catalog: &Catalog) {
    let runtime = runtime();
    let dag = Dag::generate(CACHED_NODES, CACHED_NODES * 2, SEED);
    let canvas = Arc::new(Mutex::new(dag.build(catalog, BATCH)));
    let mut group = c.benchmark_group("cached_run");
    group
        .measurement_time(Duration::from_secs(6))
        .sample_size(20);
    let dir = tempfile::tempdir().expect("a temp dir");
    let caches: [(&str, Arc<dyn reelgraph::cache::ResultCache>); 2] = [
        ("memory", Arc::new(MemoryCache::new(1 << 30))),
        (
            "sqlite",
            Arc::new(SqliteCache::open(dir.path().join("cache.sqlite")).expect("a cache")),
        ),
    ];
    for (name, cache) in caches {
        let executor = Executor::new(noop_runner()).with_cache(cache);
        let run_once = || {
            runtime.block_on(async {
                let run = executor
                    .start(&canvas, RunOptions::new())
                    .await
                    .expect("a run");
                run.finish().await
            })
        };
        let first = run_once();
        assert_eq!(first.status, RunStatus::Completed);
        group.bench_function(format!("{name}_10k_nodes"), |b| {
            b.iter(|| {
                let report = run_once();
                assert_eq!(report.stats.executed, 0);
                report
            });
        });
        // An editor or server keeps a planner per canvas: no plan from scratch.
        let planner = Planner::new(
            &canvas.lock().expect("the canvas"),
            PlanOptions::all(Quality::Standard),
        )
        .expect("a plan");
        group.bench_function(format!("{name}_10k_nodes_kept_planner"), |b| {
            b.iter(|| {
                let report = runtime.block_on(async {
                    let run = executor
                        .start_planned(&canvas, &planner, RunOptions::new())
                        .await
                        .expect("a run");
                    run.finish().await
                });
                assert_eq!(report.stats.executed, 0);
                report
            });
        });
    }
    group.finish();
}

/// One task sending a million progress notes while one consumer reads the
/// stream: what the event path (numbering, overall progress, channel)
/// carries per second.
fn events(c: &mut Criterion) {
    let runtime = runtime();
    let (canvas, runner) = reelgraph_benches::chatty(EVENTS);
    let executor = Executor::new(runner);
    let mut group = c.benchmark_group("events");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Elements(EVENTS as u64));
    group.bench_function("progress_events_to_one_consumer", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let mut run = executor
                    .start(&canvas, RunOptions::new().force_all())
                    .await
                    .expect("a run");
                let mut events = run.events().expect("events");
                let consumer = tokio::spawn(async move {
                    let mut progress = 0usize;
                    while let Some(event) = events.next().await {
                        if matches!(event.kind, RunEventKind::NodeProgress { .. }) {
                            progress += 1;
                        }
                    }
                    progress
                });
                run.finish().await;
                assert_eq!(consumer.await.expect("the consumer"), EVENTS);
            });
        });
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    let catalog = Catalog::builtin();
    let dag = Dag::generate(NODES, EDGES, SEED);
    let mut canvas = dag.build(&catalog, BATCH);
    eprintln!("canvas: {}", dag.summary());
    plan(c, &dag, &mut canvas);
    execute(c, canvas);
    cached(c, &catalog);
    events(c);
}

criterion_group!(exec, benches);
criterion_main!(exec);
