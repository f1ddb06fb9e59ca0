//! Shared helpers for the reelgraph benchmarks: a deterministic generator of
//! large, valid production canvases.
//!
//! [`Dag::generate`] plans a layered random DAG of built-in node types with an
//! exact number of nodes and edges, scene by scene, the way a canvas grows in
//! an editor:
//!
//! ```text
//! layer 0  act, character (+ its voice), location, style, prop
//! layer 1  scene            <- act
//! layer 2  shot             <- scene, location, style, characters (1-4), props (0-3)
//! layer 3  prompt (25 %)    <- shot, style
//! layer 4  image_gen        <- shot, prompt?, reference? (previous shot's image, 10 %)
//!          audio_gen (50 %) <- voice, shot
//! layer 5  video_gen        <- image_gen.image, shot
//! layer 6  effect           <- video_gen.video
//! layer 7  upscale (50 %)   <- effect.media
//! layer 8  composite        <- background (upscale or effect), layers (random
//!                              image/video outputs, half from the same scene,
//!                              half from anywhere earlier in the canvas)
//! layer 9  combine_audio    <- the scene's audio_gen tracks
//!          edit             <- the scene's composites (clips), combine_audio (audio), shots
//! layer 10 export           <- edit.edl
//! ```
//!
//! Every edge is type-correct, single inputs get one edge, every required
//! property and input is set, so the canvas validates with no diagnostics.
//! The edges above are the structural ones; the rest of the edge budget goes
//! to the `multiple` inputs `composite.layers`, `shot.characters`, `shot.props`
//! and `edit.shots`. Nodes are added in scene order and each node's incoming
//! edges right after it, so every edge points forward in insertion order and
//! the canvas's topological positions equal the node indexes used here.
//!
//! The plan is compact (a few bytes per node and edge); ops are materialised on
//! demand, so a process holding the plan holds little beyond the canvas.
//!
//! ```
//! use reelgraph::Catalog;
//! use reelgraph_benches::Dag;
//!
//! let dag = Dag::generate(2_000, 4_000, 7);
//! let canvas = dag.build(&Catalog::builtin(), 1_000);
//! assert_eq!((canvas.node_count(), canvas.edge_count()), (2_000, 4_000));
//! assert!(canvas.validate().diagnostics.is_empty());
//! ```
//!
//! Files: `dag.rs` (the plan and what is built from it), `plan.rs` (planning
//! scene by scene), `probes.rs` (connections and targets to measure),
//! `summary.rs` (the shape in numbers), `timing.rs` (per-op times, memory, CPU time)
//! and `runners.rs` (no-op runners and a layered canvas for the executor).

mod dag;
mod plan;
mod probes;
mod runners;
mod summary;
mod timing;

pub use dag::{Dag, Kind};
pub use probes::{Probe, relay_chain};
pub use runners::{
    STEP_TYPE, chatty, layered_dag, noop_runner, noop_step_runner, run_with_consumer,
};
pub use summary::Summary;
pub use timing::{BatchTiming, cpu_time_of, memory_status, memory_status_of, per_op_stats};

/// The seed every benchmark uses.
pub const SEED: u64 = 0x5EED_F11A;
/// Ops per `apply` when building.
pub const BATCH: usize = 1_000;

#[cfg(test)]
mod tests {
    use reelgraph::{Canvas, Catalog, Op};

    use super::*;

    fn small() -> (Dag, Canvas) {
        let dag = Dag::generate(5_000, 10_000, 11);
        let canvas = dag.build(&Catalog::builtin(), BATCH);
        (dag, canvas)
    }

    #[test]
    fn exact_counts_and_a_clean_report() {
        let (dag, canvas) = small();
        assert_eq!((dag.node_count(), dag.edge_count()), (5_000, 10_000));
        assert_eq!((canvas.node_count(), canvas.edge_count()), (5_000, 10_000));
        let report = canvas.validate();
        assert!(
            report.diagnostics.is_empty(),
            "{:?}",
            &report.diagnostics[..3.min(report.diagnostics.len())]
        );
    }

    #[test]
    fn same_seed_same_ops_other_seed_other_ops() {
        let a: Vec<Op> = Dag::generate(1_000, 2_000, 3).ops().collect();
        let b: Vec<Op> = Dag::generate(1_000, 2_000, 3).ops().collect();
        let c: Vec<Op> = Dag::generate(1_000, 2_000, 4).ops().collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn insertion_order_is_the_topological_order() {
        let (dag, canvas) = small();
        let ids: Vec<String> = (0..dag.node_count()).map(|i| dag.id(i)).collect();
        assert_eq!(canvas.topological_order(), ids);
    }

    #[test]
    fn probes_do_what_they_say() {
        let (dag, canvas) = small();
        for probe in [dag.near_cycle(), dag.far_cycle()] {
            assert!(probe.closes_cycle, "{probe}");
            let err = canvas
                .can_connect(&probe.source, &probe.target)
                .expect_err("a cycle");
            assert_eq!(err.code(), "cycle", "{probe}");
        }
        for probe in [dag.forward_edge(), dag.far_back_edge()] {
            assert!(!probe.closes_cycle, "{probe}");
            canvas
                .can_connect(&probe.source, &probe.target)
                .unwrap_or_else(|e| panic!("{probe}: {e}"));
        }
    }

    #[test]
    fn too_few_edges_are_refused() {
        let result = std::panic::catch_unwind(|| Dag::generate(1_000, 1_000, 1));
        assert!(result.is_err());
    }
}
