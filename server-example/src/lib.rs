//! The reference HTTP server of reelgraph (`reelgraph serve`), as a library
//! so that tests can build its router in-process (`serve::app`).

pub mod serve;
