//! The Rust side of the bindings' cost rows: the same work as the Python and
//! Node benches, done from Rust, on the files `export_canvas` wrote.
//!
//! `cargo run --release -p reelgraph-benches --bin rust_reference -- [DIR] [RUNS]`
//!
//! Prints one JSON object of medians in seconds:
//! - `apply_100k`: one `apply` of the 100,000 ops of `ops-100k.json` on an
//!   empty canvas (the ops already parsed; parsing and cloning not timed);
//! - `run_steps`: a run of the 10,000 no-op `step` tasks of `steps.json` with
//!   a Rust function, on a fresh executor set up as the bindings set theirs
//!   up: default settings and a run hub, which keeps every event for
//!   `events()` (from `start` to the report; loading not timed);
//! - `run_steps_without_hub`: the same run on an executor without a hub.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reelgraph::exec::{Executor, RunHub, RunOptions, RunStatus};
use reelgraph::{Canvas, Catalog, Op};
use reelgraph_benches::noop_step_runner;
use serde_json::json;

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .map_or_else(|| PathBuf::from("target/bench-canvas"), PathBuf::from);
    let runs: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(7);

    let ops: Vec<Op> = serde_json::from_str(&read(&dir, "ops-100k.json")).expect("the ops parse");
    let apply = median(runs, || {
        let mut canvas = Canvas::new(Catalog::builtin(), "bench", "Benchmark canvas");
        let batch = ops.clone();
        let start = Instant::now();
        canvas.apply(batch).expect("the ops apply");
        let elapsed = start.elapsed();
        drop(canvas);
        elapsed
    });

    let catalog = Catalog::builtin();
    catalog
        .register_json(&read(&dir, "step-type.json"))
        .expect("the step type registers");
    let steps = Canvas::from_json(catalog, &read(&dir, "steps.json")).expect("the steps load");
    let tasks = steps.node_count();
    let steps = Arc::new(Mutex::new(steps));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let run_steps = |hub: bool| {
        median(runs, || {
            let executor = Executor::new(noop_step_runner());
            let executor = if hub {
                executor.with_hub(RunHub::default())
            } else {
                executor
            };
            let start = Instant::now();
            let report = runtime.block_on(async {
                let run = executor
                    .start(&steps, RunOptions::new())
                    .await
                    .expect("the run starts");
                run.finish().await
            });
            let elapsed = start.elapsed();
            assert_eq!(report.status, RunStatus::Completed);
            elapsed
        })
    };
    let run = run_steps(true);
    let run_without_hub = run_steps(false);

    let out = json!({
        "apply_100k": apply.as_secs_f64(),
        "ops": ops.len(),
        "run_steps": run.as_secs_f64(),
        "run_steps_without_hub": run_without_hub.as_secs_f64(),
        "tasks": tasks,
        "runs": runs,
    });
    println!("{out}");
}

fn median(runs: usize, mut once: impl FnMut() -> Duration) -> Duration {
    let mut times: Vec<Duration> = (0..runs.max(1)).map(|_| once()).collect();
    times.sort_unstable();
    times[times.len() / 2]
}

fn read(dir: &Path, name: &str) -> String {
    let path = dir.join(name);
    fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e} (run `make bench-canvas` first)",
            path.display()
        )
    })
}
