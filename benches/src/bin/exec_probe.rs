//! One-shot timings of planning and execution on the generated canvas, to
//! see where time goes before the criterion runs: `cargo run --release -p
//! reelgraph-benches --bin exec_probe [nodes]`. `PLAN_ONLY=1` times plans
//! only; `LAYERED=1` uses the layered DAG of `step` nodes (with `START_ONLY=1`,
//! only the start of its runs); `CACHED=1` repeats the cached run.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use reelgraph::exec::{Executor, PlanOptions, Planner, RunOptions};
use reelgraph::{Canvas, Catalog, Op, Quality};
use reelgraph_benches::{
    BATCH, Dag, SEED, layered_dag, noop_runner, noop_step_runner, run_with_consumer,
};
use serde_json::json;

fn main() {
    if std::env::var_os("LAYERED").is_some() {
        return layered();
    }
    let nodes: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let catalog = Catalog::builtin();
    let dag = Dag::generate(nodes, nodes * 2, SEED);
    let mut canvas = dag.build(&catalog, BATCH);
    if std::env::var_os("PLAN_ONLY").is_some() {
        return time_plans(&canvas);
    }
    let t = Instant::now();
    let mut planner = Planner::new(&canvas, PlanOptions::all(Quality::Draft)).expect("plan");
    eprintln!(
        "plan: {:?} ({} steps, {} data)",
        t.elapsed(),
        planner.plan().steps.len(),
        planner.plan().data_nodes
    );
    let (shot, _) = dag.middle_image_gen();
    canvas
        .apply(vec![Op::set_properties(&shot, json!({"seed": 7}))])
        .expect("edit");
    let t = Instant::now();
    planner.replan(&canvas).expect("replan");
    eprintln!("replan after editing {shot}: {:?}", t.elapsed());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let executor = Executor::new(noop_runner()).with_concurrency(64);
    let canvas = Arc::new(Mutex::new(canvas));
    let t = Instant::now();
    let run = runtime
        .block_on(executor.start(&canvas, RunOptions::new()))
        .expect("start");
    eprintln!("start (validate, plan, prepare): {:?}", t.elapsed());
    let t = Instant::now();
    let report = runtime.block_on(run.finish());
    eprintln!("finish: {:?} {:?}", t.elapsed(), report.stats);
    for _ in 0..if std::env::var_os("CACHED").is_some() {
        30
    } else {
        1
    } {
        let t = Instant::now();
        let run = runtime
            .block_on(executor.start(&canvas, RunOptions::new()))
            .expect("start");
        let report = runtime.block_on(run.finish());
        eprintln!(
            "cached run: {:?} {:?}",
            t.elapsed(),
            report.stats.cache_hits
        );
    }
}

fn layered() {
    let t = Instant::now();
    let canvas = layered_dag(100, 1_000, 2, SEED);
    eprintln!("layered canvas: {:?}", t.elapsed());
    let t = Instant::now();
    let report = canvas.validate();
    eprintln!(
        "validate: {:?} ({} diagnostics)",
        t.elapsed(),
        report.diagnostics.len()
    );
    if std::env::var_os("PLAN_ONLY").is_some() {
        return time_plans(&canvas);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let canvas = Arc::new(Mutex::new(canvas));
    if std::env::var_os("START_ONLY").is_some() {
        let executor = Executor::new(noop_step_runner());
        for _ in 0..5 {
            let t = Instant::now();
            let run = runtime
                .block_on(executor.start(&canvas, RunOptions::new()))
                .expect("start");
            eprintln!("start {:?}", t.elapsed());
            drop(run);
        }
        return;
    }
    // As the criterion bench runs it: a memory cache, and a consumer
    // reading every event on another task.
    for _ in 0..5 {
        let executor = Executor::new(noop_step_runner())
            .with_cache(Arc::new(reelgraph::cache::MemoryCache::new(1 << 30)))
            .with_concurrency(64);
        let t = Instant::now();
        let (report, events) = runtime.block_on(run_with_consumer(&executor, &canvas));
        eprintln!(
            "run: {:?}, executed {}, {events} events",
            t.elapsed(),
            report.stats.executed
        );
        drop((report, executor));
    }
}

/// The first plan of the canvas (its own digests worked out), then the
/// mean of later ones.
fn time_plans(canvas: &Canvas) {
    let plan = || Planner::new(canvas, PlanOptions::all(Quality::Draft)).expect("plan");
    let t = Instant::now();
    drop(plan());
    eprintln!("first plan: {:?}", t.elapsed());
    let mut total = std::time::Duration::ZERO;
    for _ in 0..20 {
        let t = Instant::now();
        let planner = plan();
        total += t.elapsed();
        drop(planner);
    }
    eprintln!("later plans: {:?} each", total / 20);
}
