//! Shared helpers for the reelgraph benchmarks.
