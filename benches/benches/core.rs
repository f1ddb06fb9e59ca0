//! Benchmarks of the core on a generated 100,000-node, 200,000-edge canvas
//! (shape: `reelgraph_benches` crate docs). Goals, on a 2-core machine:
//! apply ≤ 2 µs per op, a cycle-closing connect ≤ 50 µs, another connect
//! ≤ 5 µs, validate ≤ 50 ms, JSON ≥ 200 MB/s each way. Op by op: one
//! `add_node` on the big canvas ≤ 1.5 µs, one connect ≤ 1 µs, and a
//! 10,000-node canvas built one op per apply from JSON text, then validated
//! and ordered, ≤ 45 ms.
//!
//! `cargo bench -p reelgraph-benches` (a few minutes); one group:
//! `cargo bench -p reelgraph-benches -- connect`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use reelgraph::{Canvas, CanvasDocument, Catalog, Op, Quality};
use reelgraph_benches::{BATCH, Dag, Probe, SEED, relay_chain};

const NODES: usize = 100_000;
const EDGES: usize = 200_000;

struct Fixture {
    catalog: Catalog,
    dag: Dag,
    canvas: Canvas,
}

fn fixture() -> Fixture {
    let catalog = Catalog::builtin();
    let dag = Dag::generate(NODES, EDGES, SEED);
    let canvas = dag.build(&catalog, BATCH);
    eprintln!("canvas: {}", dag.summary());
    Fixture {
        catalog,
        dag,
        canvas,
    }
}

fn connect_op(probe: &Probe) -> Op {
    Op::Connect {
        id: None,
        source: probe.source.clone(),
        target: probe.target.clone(),
    }
}

fn build(c: &mut Criterion, f: &Fixture) {
    let mut group = c.benchmark_group("build");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(8));

    // The whole canvas, BATCH ops per apply. Per op = time / elements.
    let ops = f.dag.op_count();
    group.throughput(Throughput::Elements(ops as u64));
    group.bench_function(format!("apply_all_{ops}_ops_in_batches_of_{BATCH}"), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let batches: Vec<Vec<Op>> = f.dag.batches(BATCH).collect();
                let mut canvas = Canvas::new(f.catalog.clone(), "bench", "Bench");
                let start = Instant::now();
                for batch in batches {
                    black_box(canvas.apply(batch).expect("a valid batch"));
                }
                total += start.elapsed();
            }
            total
        });
    });

    // One batch (the last scenes: every node type) on a canvas of ~99k nodes;
    // undone with its inverse outside the timing.
    let mut batches: Vec<Vec<Op>> = f.dag.batches(BATCH).collect();
    let last = batches.pop().expect("batches");
    let mut canvas = Canvas::new(f.catalog.clone(), "bench", "Bench");
    for batch in batches {
        canvas.apply(batch).expect("a valid batch");
    }
    group.throughput(Throughput::Elements(last.len() as u64));
    group
        .sampling_mode(SamplingMode::Auto)
        .measurement_time(Duration::from_secs(4));
    group.bench_function(
        format!(
            "apply_last_{}_ops_at_{}_nodes",
            last.len(),
            canvas.node_count()
        ),
        |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let ops = last.clone();
                    let start = Instant::now();
                    let applied = canvas.apply(ops).expect("a valid batch");
                    total += start.elapsed();
                    canvas.apply(applied.inverse).expect("the inverse applies");
                }
                total
            });
        },
    );
    group.finish();
}

fn connect(c: &mut Criterion, f: &mut Fixture) {
    let mut group = c.benchmark_group("connect");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    let cycles = [
        ("near_cycle", f.dag.near_cycle()),
        ("far_cycle", f.dag.far_cycle()),
    ];
    let forward = f.dag.forward_edge();
    let back = f.dag.far_back_edge();
    for (name, probe) in &cycles {
        eprintln!("{name}: {probe}");
    }
    eprintln!("forward: {forward}");
    eprintln!("far_back_edge: {back}");

    let canvas = &mut f.canvas;
    for (name, probe) in &cycles {
        let err = canvas
            .can_connect(&probe.source, &probe.target)
            .expect_err("a cycle");
        assert_eq!(err.code(), "cycle");
        group.bench_function(format!("can_connect/{name}"), |b| {
            b.iter(|| canvas.can_connect(black_box(&probe.source), black_box(&probe.target)));
        });
        // A failed apply changes nothing, so it can be repeated.
        let op = connect_op(probe);
        group.bench_function(format!("apply_rejected/{name}"), |b| {
            b.iter_batched(
                || vec![op.clone()],
                |ops| canvas.apply(ops),
                BatchSize::SmallInput,
            );
        });
    }

    canvas
        .can_connect(&forward.source, &forward.target)
        .expect("a forward edge is accepted");
    group.bench_function("can_connect/forward", |b| {
        b.iter(|| canvas.can_connect(black_box(&forward.source), black_box(&forward.target)));
    });
    let op = connect_op(&forward);
    group.bench_function("apply/forward_connect_only", |b| {
        b.iter_custom(|iters| time_apply_then_undo(canvas, &op, iters));
    });
    group.bench_function("apply/forward_connect_then_disconnect_pair", |b| {
        b.iter_batched(
            || vec![op.clone()],
            |ops| {
                let applied = canvas.apply(ops).expect("a forward edge is accepted");
                canvas.apply(applied.inverse).expect("disconnect")
            },
            BatchSize::SmallInput,
        );
    });

    // Accepted, but needs the order repaired; applying it would change the
    // order for good, so only the check is repeated.
    canvas
        .can_connect(&back.source, &back.target)
        .expect("no cycle");
    group.bench_function("can_connect/far_back_edge_no_cycle", |b| {
        b.iter(|| canvas.can_connect(black_box(&back.source), black_box(&back.target)));
    });
    group.finish();
}

/// A 10,000-node, 20,000-edge canvas built the way an editor or a binding
/// sends it: each op its own JSON text and its own apply; then validated and
/// put in order, as a run would start.
/// `iters` applies of `op`, each undone by its inverse; only the applies
/// are timed, so the canvas is the same for every one.
fn time_apply_then_undo(canvas: &mut Canvas, op: &Op, iters: u64) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let ops = vec![op.clone()];
        let start = Instant::now();
        let applied = canvas.apply(ops);
        total += start.elapsed();
        let applied = applied.expect("the op is accepted");
        canvas
            .apply(applied.inverse)
            .expect("its inverse undoes it");
    }
    total
}

fn build_op_by_op(c: &mut Criterion, f: &Fixture) {
    let dag = Dag::generate(10_000, 20_000, SEED);
    let texts: Vec<String> = dag
        .ops()
        .map(|op| serde_json::to_string(&op).expect("ops serialise"))
        .collect();
    let mut group = c.benchmark_group("build");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(6))
        .throughput(Throughput::Elements(texts.len() as u64));
    group.bench_function(
        "one_op_per_apply_from_json_10k_nodes_20k_edges_then_validate_and_order",
        |b| {
            b.iter_with_large_drop(|| {
                let mut canvas = Canvas::new(f.catalog.clone(), "bench", "Bench");
                for text in &texts {
                    let ops = Op::parse_list(black_box(text)).expect("a valid op");
                    canvas.apply(ops).expect("a valid op");
                }
                let report = canvas.validate();
                assert!(report.diagnostics.is_empty());
                let order = canvas.topological_order();
                (canvas, report, order)
            });
        },
    );
    group.finish();
}

/// One add_node on the big canvas, undone outside the timing.
fn add_node(c: &mut Criterion, f: &mut Fixture) {
    let mut group = c.benchmark_group("apply_one");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    // A typical node of the generated canvas (a shot, with its properties),
    // under an id the canvas does not have.
    let Op::AddNode {
        node_type,
        properties,
        ..
    } = f.dag.add_op(NODES / 2)
    else {
        unreachable!("add_op makes add_node ops")
    };
    let op = Op::AddNode {
        id: "bench_extra_node".into(),
        node_type,
        type_version: None,
        label: None,
        position: Default::default(),
        properties,
        ui: None,
    };
    let canvas = &mut f.canvas;
    group.bench_function(format!("add_node_at_{NODES}_nodes"), |b| {
        b.iter_custom(|iters| time_apply_then_undo(canvas, &op, iters));
    });
    group.finish();
}

fn chain(c: &mut Criterion) {
    let mut group = c.benchmark_group("connect");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    for len in [1_000, 10_000, 100_000] {
        let (mut canvas, source, target) = relay_chain(len);
        assert_eq!(
            canvas.can_connect(&source, &target).map_err(|e| e.code()),
            Err("cycle")
        );
        group.bench_function(format!("can_connect/chain_cycle_{len}_nodes"), |b| {
            b.iter(|| canvas.can_connect(black_box(&source), black_box(&target)));
        });
        let op = Op::Connect {
            id: None,
            source: source.clone(),
            target: target.clone(),
        };
        group.bench_function(format!("apply_rejected/chain_cycle_{len}_nodes"), |b| {
            b.iter_batched(
                || vec![op.clone()],
                |ops| canvas.apply(ops),
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();
}

fn validate(c: &mut Criterion, f: &Fixture) {
    let report = f.canvas.validate();
    assert!(
        report.diagnostics.is_empty(),
        "the generated canvas is clean"
    );
    let mut group = c.benchmark_group("validate");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    group.bench_function(format!("validate_{NODES}_nodes"), |b| {
        b.iter_with_large_drop(|| f.canvas.validate());
    });
    group.finish();
}

fn json(c: &mut Criterion, f: &Fixture) {
    let text = f.canvas.to_json();
    eprintln!("canvas JSON: {} bytes", text.len());
    let mut group = c.benchmark_group("json");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(6))
        .throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("to_json", |b| {
        b.iter_with_large_drop(|| f.canvas.to_json());
    });
    group.bench_function("CanvasDocument::from_json", |b| {
        b.iter_with_large_drop(|| CanvasDocument::from_json(black_box(&text)).expect("parses"));
    });
    group.bench_function("Canvas::from_json", |b| {
        b.iter_with_large_drop(|| {
            Canvas::from_json(f.catalog.clone(), black_box(&text)).expect("loads")
        });
    });
    group.finish();
}

/// A 10,000-node production canvas opened from its JSON and validated, as an
/// editor or a run does first.
fn load_and_validate(c: &mut Criterion, f: &Fixture) {
    let dag = Dag::generate(10_000, 20_000, SEED);
    let text = dag.build(&f.catalog, BATCH).to_json();
    let mut group = c.benchmark_group("json");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("Canvas::from_json_then_validate_10k_nodes", |b| {
        b.iter_with_large_drop(|| {
            let canvas = Canvas::from_json(f.catalog.clone(), black_box(&text)).expect("loads");
            let report = canvas.validate();
            assert!(report.diagnostics.is_empty());
            (canvas, report)
        });
    });
    group.finish();
}

fn task(c: &mut Criterion, f: &Fixture) {
    let mut group = c.benchmark_group("task");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for (name, (node, upstream)) in [
        ("deepest_export", f.dag.deepest_export()),
        ("mid_image_gen", f.dag.middle_image_gen()),
    ] {
        eprintln!("task_preview/{name}: {node}, {upstream} upstream nodes");
        f.canvas
            .task_preview(&node, Quality::Draft)
            .expect("a task");
        group.bench_function(format!("task_preview/{name}"), |b| {
            b.iter_with_large_drop(|| f.canvas.task_preview(black_box(&node), Quality::Draft));
        });
    }

    let small = Dag::generate(10_000, 20_000, SEED);
    let canvas = small.build(&f.catalog, BATCH);
    let count = canvas.task_previews(Quality::Draft).len();
    eprintln!("task_previews: {count} previews on 10,000 nodes");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5))
        .throughput(Throughput::Elements(count as u64));
    group.bench_function("task_previews_draft_10k_nodes", |b| {
        b.iter_with_large_drop(|| canvas.task_previews(Quality::Draft));
    });
    group.finish();
}

fn all(c: &mut Criterion) {
    let mut f = fixture();
    build(c, &f);
    build_op_by_op(c, &f);
    add_node(c, &mut f);
    connect(c, &mut f);
    chain(c);
    validate(c, &f);
    json(c, &f);
    load_and_validate(c, &f);
    task(c, &f);
}

criterion_group! {
    name = benches;
    config = Criterion::default();
    targets = all
}
criterion_main!(benches);
