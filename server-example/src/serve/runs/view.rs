//! The bodies of the run routes. What the core has a type for (options,
//! snapshots, reports, explanations, events) is the core's serde; these
//! only put the pieces together.

use std::sync::Arc;

use indexmap::IndexMap;
use reelgraph::exec::{Explanation, RunOptions, RunReport, RunSnapshot, RunState, Timestamp};
use reelgraph::runner::Outputs;
use serde::{Deserialize, Serialize};

/// One run as lists show it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct RunSummary {
    pub run_id: String,
    pub canvas_id: String,
    /// The revision of the canvas the run executes.
    pub revision: u64,
    pub state: RunState,
    pub options: RunOptions,
    pub created_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<Timestamp>,
}

/// `GET /v1/runs/{id}`: the run, where it stands, and its report once it ended.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct RunView {
    pub run: RunSummary,
    pub snapshot: RunSnapshot,
    pub report: Option<RunReport>,
}

/// `POST /v1/canvases/{id}/batches`: runs of the stored canvas, one per
/// options (variants: other targets, quality, forced nodes).
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    pub runs: Vec<RunOptions>,
}

/// The runs a batch started, in the order of the request.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct BatchStarted {
    pub runs: Vec<RunSummary>,
}

/// `POST /v1/canvases/{id}/explain`: what a run with these options would do.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Explained {
    pub canvas_id: String,
    pub revision: u64,
    pub steps: Vec<Explanation>,
}

/// `GET /v1/runs/{id}/outputs`: the report's outputs by node, in plan
/// order, once the run ended (its events carry them while it goes).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct RunOutputs {
    pub run_id: String,
    pub state: RunState,
    pub outputs: IndexMap<Arc<str>, Arc<Outputs>>,
}
