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
//! - `meta.json`: the counts, the seed and the catalogue's node types used.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use reelgraph::{Catalog, Op};
use reelgraph_benches::{BATCH, Dag, SEED};
use serde_json::json;

const NODES: usize = 10_000;
const EDGES: usize = 20_000;
const BIG_NODES: usize = 33_334;
const BIG_EDGES: usize = 66_666;

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
        "types": types,
    });
    write(
        &dir,
        "meta.json",
        &serde_json::to_string_pretty(&meta).expect("meta serialises"),
    );
    println!(
        "wrote ops.json ({} ops), canvas.json, ops-100k.json and meta.json to {}",
        ops.len(),
        dir.display()
    );
}

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    fs::write(&path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}
