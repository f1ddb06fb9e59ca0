//! Writes the production canvas of the benches as JSON, so that the Python
//! and Node benchmarks (and their plain-language baselines) read exactly the
//! canvas the Rust benches build.
//!
//! `cargo run --release -p reelgraph-benches --bin export_canvas -- [DIR]`
//!
//! DIR (default `target/bench-canvas`) receives:
//! - `ops.json`: the ops that build the 10,000-node / 20,000-edge canvas, in
//!   build order (each node, then its incoming edges), as one JSON array;
//! - `canvas.json`: the native document of that canvas;
//! - `ops-100k.json`: 100,000 ops (33,334 nodes, 66,666 edges) of a canvas
//!   made the same way, for the cost of one big `apply`;
//! - `steps.json` and `step-type.json`: a layered canvas of 10,000 no-op
//!   `step` tasks (10 layers of 1,000, each reading 2 of the layer before)
//!   and its node type, for the cost of running functions of the binding's
//!   language (`rust_reference` times the same run with a Rust function);
//! - `meta.json`: the counts, the seed and the catalogue's node types used.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use reelgraph::{Catalog, Op};
use reelgraph_benches::{BATCH, Dag, SEED, STEP_TYPE, layered_dag};
use serde_json::json;

const NODES: usize = 10_000;
const EDGES: usize = 20_000;
const BIG_NODES: usize = 33_334;
const BIG_EDGES: usize = 66_666;
/// Layers and width of the no-op run's canvas.
const STEP_LAYERS: usize = 10;
const STEP_WIDTH: usize = 1_000;

fn main() {
    let dir = std::env::args()
        .nth(1)
        .map_or_else(|| PathBuf::from("target/bench-canvas"), PathBuf::from);
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));

    let catalog = Catalog::builtin();
    let dag = Dag::generate(NODES, EDGES, SEED);
    let ops: Vec<Op> = dag.ops().collect();
    write(
        &dir,
        "ops.json",
        &serde_json::to_string(&ops).expect("ops serialise"),
    );
    let canvas = dag.build(&catalog, BATCH);
    write(&dir, "canvas.json", &canvas.to_json());

    let big = Dag::generate(BIG_NODES, BIG_EDGES, SEED);
    let big_ops: Vec<Op> = big.ops().collect();
    assert_eq!(big_ops.len(), 100_000);
    write(
        &dir,
        "ops-100k.json",
        &serde_json::to_string(&big_ops).expect("ops serialise"),
    );

    let steps = layered_dag(STEP_LAYERS, STEP_WIDTH, 2, SEED);
    write(&dir, "steps.json", &steps.to_json());
    write(&dir, "step-type.json", STEP_TYPE);

    let types: BTreeSet<&str> = (0..dag.node_count())
        .map(|i| dag.kind(i).type_name())
        .collect();
    let meta = json!({
        "seed": SEED,
        "nodes": dag.node_count(),
        "edges": dag.edge_count(),
        "ops": ops.len(),
        "big_nodes": big.node_count(),
        "big_edges": big.edge_count(),
        "big_ops": big_ops.len(),
        "steps": steps.node_count(),
        "types": types,
    });
    write(
        &dir,
        "meta.json",
        &serde_json::to_string_pretty(&meta).expect("meta serialises"),
    );
    println!(
        "wrote ops.json ({} ops), canvas.json, ops-100k.json, steps.json, step-type.json and meta.json to {}",
        ops.len(),
        dir.display()
    );
}

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    fs::write(&path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}
