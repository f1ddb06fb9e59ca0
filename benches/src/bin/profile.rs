//! Runs one workload in a loop, for a profiler (`perf record`, `valgrind
//! --tool=callgrind`), and prints the time of each run.
//!
//! `cargo run --release -p reelgraph-benches --bin profile -- WORKLOAD [RUNS] [NODES]`
//!
//! WORKLOAD: build, op_by_op (one apply per op through an `UndoStack`, as
//! the bindings apply, then validate and order), one_apply (every op in one
//! apply on an empty canvas), validate, to_json, parse_document, parse_canvas, load
//! (document → canvas only), skip_json (one pass of serde_json that reads
//! and ignores the whole text: the cost of `CanvasDocument::from_json`'s
//! header pass), parse_validate (`Canvas::from_json` then `validate`, as an
//! editor opens a canvas), task_previews, task_preview_deep, chain_cycle
//! (`can_connect` closing a cycle on a chain of NODES nodes, 1,000 times a run).

use std::hint::black_box;
use std::time::{Duration, Instant};

use reelgraph::{Canvas, CanvasDocument, Catalog, Op, Quality, UndoStack};
use reelgraph_benches::{BATCH, Dag, SEED, relay_chain};
use serde::Deserialize;
use serde::de::IgnoredAny;

fn main() {
    let mut args = std::env::args().skip(1);
    let workload = args.next().unwrap_or_else(|| "validate".into());
    let runs: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let nodes: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);

    if workload == "chain_cycle" {
        return chain_cycle(runs, nodes);
    }
    let catalog = Catalog::builtin();
    let dag = Dag::generate(nodes, 2 * nodes, SEED);
    let canvas = dag.build(&catalog, BATCH);
    // Only what the workload needs, so that a profile of the whole process
    // is mostly the workload.
    let text = if workload.starts_with("parse") || workload == "load" || workload == "skip_json" {
        canvas.to_json()
    } else {
        String::new()
    };
    let deep = if workload == "task_preview_deep" {
        dag.deepest_export().0
    } else {
        String::new()
    };

    // The ops of each run, made before the loop so a run only applies them.
    let mut op_runs: Vec<Vec<Op>> = if workload == "op_by_op" || workload == "one_apply" {
        (0..runs).map(|_| dag.ops().collect()).collect()
    } else {
        Vec::new()
    };

    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        match workload.as_str() {
            "build" => {
                black_box(dag.build(&catalog, BATCH));
            }
            "op_by_op" => {
                let mut canvas = Canvas::new(catalog.clone(), "profile", "Profile");
                let mut history = UndoStack::default();
                for op in op_runs.pop().expect("ops for each run") {
                    black_box(history.apply(&mut canvas, vec![op]).expect("a valid op"));
                }
                assert!(canvas.validate().diagnostics.is_empty());
                black_box(canvas.topological_order());
            }
            "one_apply" => {
                let mut canvas = Canvas::new(catalog.clone(), "profile", "Profile");
                let ops = op_runs.pop().expect("ops for each run");
                black_box(canvas.apply(ops).expect("valid ops"));
            }
            "validate" => {
                black_box(canvas.validate());
            }
            "to_json" => {
                black_box(canvas.to_json());
            }
            "parse_document" => {
                black_box(CanvasDocument::from_json(&text).expect("parses"));
            }
            "parse_canvas" => {
                black_box(Canvas::from_json(catalog.clone(), &text).expect("loads"));
            }
            "parse_validate" => {
                let canvas = Canvas::from_json(catalog.clone(), &text).expect("loads");
                let report = canvas.validate();
                assert!(report.diagnostics.is_empty());
                black_box((canvas, report));
            }
            "skip_json" => {
                let mut de = serde_json::Deserializer::from_str(&text);
                black_box(IgnoredAny::deserialize(&mut de).expect("valid JSON"));
            }
            "load" => {
                let doc = CanvasDocument::from_json(&text).expect("parses");
                let start = Instant::now();
                black_box(Canvas::from_document(catalog.clone(), doc).expect("loads"));
                times.push(start.elapsed());
                continue;
            }
            "task_previews" => {
                black_box(canvas.task_previews(Quality::Draft));
            }
            "task_preview_deep" => {
                black_box(canvas.task_preview(&deep, Quality::Draft).expect("a task"));
            }
            other => panic!("unknown workload {other}"),
        }
        times.push(start.elapsed());
    }
    report(&workload, nodes, times);
}

/// The cycle check alone: a chain has no generated canvas to build.
fn chain_cycle(runs: usize, nodes: usize) {
    let (canvas, source, target) = relay_chain(nodes);
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        for _ in 0..1_000 {
            let refused = canvas.can_connect(black_box(&source), black_box(&target));
            assert!(black_box(refused).is_err());
        }
        times.push(start.elapsed());
    }
    report("chain_cycle", nodes, times);
}

fn report(workload: &str, nodes: usize, mut times: Vec<Duration>) {
    times.sort_unstable();
    let median = times
        .get(times.len() / 2)
        .copied()
        .unwrap_or(Duration::ZERO);
    println!(
        "{workload} on {nodes} nodes: runs {}, min {:?}, median {:?}",
        times.len(),
        times.first().copied().unwrap_or(Duration::ZERO),
        median
    );
}
