//! Where the memory of a large canvas goes, counted by a global allocator
//! (bytes requested from malloc; malloc's own headers and free space are the
//! gap to RSS).
//!
//! `cargo run --release -p reelgraph-benches --bin memory_breakdown [nodes]`
//!
//! 1. the canvas with its nodes only (add_node ops), per node;
//! 2. per node type: what one more node costs (its id and stored
//!    properties; the node tables have room, so they do not grow);
//! 3. the edges (connect ops on that canvas), per edge.

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use reelgraph::{Canvas, Catalog, Op};
use reelgraph_benches::{BATCH, Dag, Kind, SEED, memory_status};

#[derive(Debug)]
struct Counting;

static LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);
static LIVE_BLOCKS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        LIVE_BLOCKS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract for `alloc` is passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
        LIVE_BLOCKS.fetch_sub(1, Ordering::Relaxed);
        // SAFETY: as for `dealloc`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE_BYTES.fetch_add(new_size, Ordering::Relaxed);
        LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: as for `realloc`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn live() -> (i64, i64) {
    (
        LIVE_BYTES.load(Ordering::Relaxed) as i64,
        LIVE_BLOCKS.load(Ordering::Relaxed) as i64,
    )
}

fn apply_all(canvas: &mut Canvas, ops: impl Iterator<Item = Op>) {
    let mut batch = Vec::with_capacity(BATCH);
    for op in ops {
        batch.push(op);
        if batch.len() == BATCH {
            canvas.apply(std::mem::take(&mut batch)).expect("valid ops");
        }
    }
    if !batch.is_empty() {
        canvas.apply(batch).expect("valid ops");
    }
}

fn main() {
    let nodes: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let edges = 2 * nodes;
    let catalog = Catalog::builtin();
    let dag = Dag::generate(nodes, edges, SEED);

    let (b0, n0) = live();
    let mut canvas = Canvas::new(catalog, "bench", "Benchmark canvas");
    apply_all(&mut canvas, (0..nodes).map(|i| dag.add_op(i)));
    let (b1, n1) = live();
    let node_bytes = b1 - b0;
    println!(
        "nodes only: {:.1} MiB in {} blocks = {:.0} bytes/node, {:.1} blocks/node",
        node_bytes as f64 / 1048576.0,
        n1 - n0,
        node_bytes as f64 / nodes as f64,
        (n1 - n0) as f64 / nodes as f64
    );

    // One more node of each kind: its id and properties.
    let mut by_kind: BTreeMap<Kind, Vec<usize>> = BTreeMap::new();
    for i in 0..nodes {
        by_kind.entry(dag.kind(i)).or_default().push(i);
    }
    println!();
    println!(
        "{:<14} {:>7} {:>11} {:>10} {:>8} {:>12}",
        "type", "nodes", "bytes/node", "blocks", "props", "share/node"
    );
    let mut variable_total = 0.0;
    for (kind, members) in &by_kind {
        let sample: Vec<usize> = members.iter().copied().take(64).collect();
        let (mut bytes, mut blocks, mut props) = (0i64, 0i64, 0usize);
        for &i in &sample {
            // The op's own heap is freed inside apply: count it back.
            let (m0, k0) = live();
            let mut op = dag.add_op(i);
            let Op::AddNode { id, .. } = &mut op else {
                unreachable!("add_op makes an add_node op")
            };
            id.push_str("_extra");
            let (m1, k1) = live();
            bytes += m1 - m0;
            blocks += k1 - k0;
            let new_id = id.clone();
            let (before, before_blocks) = live();
            drop(canvas.apply(vec![op]).expect("a valid node"));
            let (after, after_blocks) = live();
            bytes += after - before;
            blocks += after_blocks - before_blocks;
            props += canvas.node(&new_id).map_or(0, |n| n.properties.len());
            let remove = Op::RemoveNode { id: new_id };
            canvas.apply(vec![remove]).expect("remove the extra node");
        }
        let n = sample.len() as f64;
        let per = bytes as f64 / n;
        let share = per * members.len() as f64 / nodes as f64;
        variable_total += share;
        println!(
            "{:<14} {:>7} {:>11.0} {:>10.1} {:>8.1} {:>12.0}",
            kind.type_name(),
            members.len(),
            per,
            blocks as f64 / n,
            props as f64 / n,
            share
        );
    }
    println!(
        "ids + properties: {:.0} bytes/node; node tables (map, graph, order): {:.0} bytes/node",
        variable_total,
        node_bytes as f64 / nodes as f64 - variable_total
    );

    let (b2, n2) = live();
    apply_all(&mut canvas, (0..edges).map(|e| dag.connect_op(e)));
    let (b3, n3) = live();
    let mean_id = canvas.edges().map(|e| e.id.len()).sum::<usize>() as f64 / edges as f64;
    println!();
    println!(
        "edges: {:.1} MiB in {} blocks = {:.0} bytes/edge ({:.0} bytes/node), {:.2} blocks/edge; mean edge id {:.1} bytes",
        (b3 - b2) as f64 / 1048576.0,
        n3 - n2,
        (b3 - b2) as f64 / edges as f64,
        (b3 - b2) as f64 / nodes as f64,
        (n3 - n2) as f64 / edges as f64,
        mean_id
    );
    let (hwm, rss) = memory_status();
    let (b4, n4) = live();
    println!();
    println!(
        "canvas total: {:.0} bytes/node requested in {:.1} blocks/node; process VmRSS {:.0} bytes/node, VmHWM {:.0} bytes/node",
        (b4 - b0) as f64 / nodes as f64,
        (n4 - n0) as f64 / nodes as f64,
        rss as f64 / nodes as f64,
        hwm as f64 / nodes as f64
    );
    std::hint::black_box(&canvas);
}
