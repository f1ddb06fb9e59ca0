//! Allocations per op-by-op apply, counted by a global allocator in this
//! test binary only: the library never counts. Bounds, not timings: each
//! is what the apply needs (values the canvas keeps, the inverse op, the
//! event), so a new needless allocation fails here.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use reelgraph::{Canvas, Catalog, Op};
use reelgraph_benches::{Dag, SEED};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// What `f` returns, and how many allocations it made.
fn counted<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let result = f();
    (result, ALLOCATIONS.load(Ordering::Relaxed) - before)
}

/// A canvas of the benches' shape, and a typical add_node (a shot with its
/// properties) under an id the canvas does not have.
fn canvas_and_shot() -> (Canvas, Op, usize) {
    let catalog = Catalog::builtin();
    let dag = Dag::generate(2_000, 4_000, SEED);
    let mut canvas = Canvas::new(catalog, "probe", "Probe");
    for op in dag.ops() {
        canvas.apply(vec![op]).expect("a valid op");
    }
    let shot = (0..2_000)
        .map(|n| dag.add_op(n))
        .find(|op| matches!(op, Op::AddNode { node_type, .. } if node_type == "shot"))
        .expect("the canvas has shots");
    let Op::AddNode {
        node_type,
        properties,
        ..
    } = shot
    else {
        unreachable!("add_op makes add_node ops")
    };
    let strings = properties.values().filter(|v| v.is_string()).count();
    let op = Op::AddNode {
        id: "probe_extra_node".into(),
        node_type,
        type_version: None,
        label: None,
        position: Default::default(),
        properties,
        ui: None,
    };
    (canvas, op, strings)
}

#[test]
fn add_node_allocates_only_what_it_keeps() {
    let (mut canvas, op, strings) = canvas_and_shot();
    // The fewest of a few tries: another test thread may allocate meanwhile.
    let count = (0..5)
        .map(|_| {
            let ops = vec![op.clone()];
            let (applied, count) = counted(|| canvas.apply(ops));
            let applied = applied.expect("a new node is accepted");
            canvas.apply(applied.inverse).expect("the inverse applies");
            count
        })
        .min()
        .expect("tries");
    eprintln!("add_node apply: {count} allocations ({strings} string values)");
    // Each string value is copied (the event keeps the op); then the values'
    // vector, the node's key, the inverse list, its share (an undo stack
    // keeps it) and its op, the event's canvas id and time: 8 more, give or
    // take the change log growing. The journal's buffer is the canvas's own.
    assert!(
        count <= strings + 8,
        "{count} allocations for {strings} string values"
    );
}
