//! Memory held by a 100,000-node canvas, and the per-apply timings of building it.
//!
//! `cargo run --release -p reelgraph-benches --bin memory [nodes] [edges]`
//!
//! Prints VmHWM (peak RSS) and VmRSS from /proc/self/status before and after
//! building, and bytes per node. The generator's plan is compact (about 20
//! bytes per node and edge) and ops are made one batch at a time, so the peak
//! is essentially the canvas.

use std::hint::black_box;

use reelgraph::Catalog;
use reelgraph_benches::{BATCH, Dag, SEED, memory_status, per_op_stats};

fn main() {
    let mut args = std::env::args().skip(1);
    let nodes: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let edges: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(2 * nodes);

    let catalog = Catalog::builtin();
    let (hwm_start, rss_start) = memory_status();
    let dag = Dag::generate(nodes, edges, SEED);
    let (hwm_plan, rss_plan) = memory_status();
    let (canvas, timings) = dag.build_timed(&catalog, BATCH);
    let (hwm_built, rss_built) = memory_status();
    assert_eq!(canvas.node_count(), nodes);
    assert_eq!(canvas.edge_count(), edges);

    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    let per_node = |b: u64| b as f64 / nodes as f64;
    println!("{}", dag.summary());
    println!();
    println!(
        "start:        VmHWM {:8.1} MiB  VmRSS {:8.1} MiB",
        mib(hwm_start),
        mib(rss_start)
    );
    println!(
        "plan made:    VmHWM {:8.1} MiB  VmRSS {:8.1} MiB",
        mib(hwm_plan),
        mib(rss_plan)
    );
    println!(
        "canvas built: VmHWM {:8.1} MiB  VmRSS {:8.1} MiB",
        mib(hwm_built),
        mib(rss_built)
    );
    println!(
        "peak RSS of the process / node:      {:7.0} bytes",
        per_node(hwm_built)
    );
    println!(
        "RSS held by the canvas / node:       {:7.0} bytes  (VmRSS after build - after plan)",
        per_node(rss_built.saturating_sub(rss_plan))
    );
    println!(
        "peak growth while building / node:   {:7.0} bytes  (VmHWM after build - VmRSS after plan)",
        per_node(hwm_built.saturating_sub(rss_plan))
    );

    let (median, p90, max) = per_op_stats(&timings);
    let total: std::time::Duration = timings.iter().map(|t| t.elapsed).sum();
    println!();
    println!(
        "build: {} applies of {BATCH} ops, {:.3} s in apply; per op: median {:?}, p90 {:?}, max {:?}, mean {:?}",
        timings.len(),
        total.as_secs_f64(),
        median,
        p90,
        max,
        total / u32::try_from(dag.op_count()).unwrap_or(u32::MAX),
    );
    black_box(&canvas);
}
