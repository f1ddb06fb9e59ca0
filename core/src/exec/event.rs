//! Run events: the envelope of [`crate::event`] (`type, run_id, seq, ts`),
//! the same in every language and on every wire. Events read back what
//! they write:
//!
//! ```
//! use reelgraph::exec::RunEvent;
//! let json = r#"{"run_id": "r1", "seq": 0, "ts": "2026-01-01T12:00:00.000Z",
//!     "type": "run_started", "canvas_id": "reel", "quality": "draft", "tasks": 3}"#;
//! let event: RunEvent = serde_json::from_str(json).unwrap();
//! assert_eq!(serde_json::to_value(&event).unwrap(), serde_json::from_str::<serde_json::Value>(json).unwrap());
//! // A field the event does not have is refused.
//! assert!(serde_json::from_str::<RunEvent>(&json.replace("\"tasks\"", "\"taks\"")).is_err());
//! ```

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use crate::event::Timestamp;

use crate::exec::ContentKey;
use crate::quality::Quality;
use crate::runner::{CircuitState, Outputs, TaskError};

/// Something that happened in a run. `seq` counts from 0 without gaps within
/// a run, so a consumer can tell it missed nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RunEvent {
    pub run_id: Arc<str>,
    pub seq: u64,
    pub ts: Timestamp,
    #[serde(flatten)]
    pub kind: RunEventKind,
}

/// What happened, tagged by `type`. Unknown fields are refused (the
/// envelope's own are taken by [`RunEvent`] first).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum RunEventKind {
    RunStarted {
        canvas_id: String,
        quality: Quality,
        /// Task nodes in the plan.
        tasks: usize,
    },
    /// The node's inputs are ready; it waits for a free slot.
    NodeQueued {
        node: Arc<str>,
        reason: Reason,
    },
    /// The node's result came from the cache.
    NodeCached {
        node: Arc<str>,
        key: ContentKey,
        overall: f64,
    },
    NodeStarted {
        node: Arc<str>,
        function: Arc<str>,
        quality: Quality,
    },
    NodeProgress {
        node: Arc<str>,
        progress: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
        overall: f64,
    },
    /// An attempt failed; the node is tried again after `delay_ms`, at
    /// `quality` (lower than before when this is a quality fallback).
    NodeRetrying {
        node: Arc<str>,
        attempt: u32,
        delay_ms: u64,
        quality: Quality,
        quality_fallback: bool,
        error: TaskError,
    },
    NodeCompleted {
        node: Arc<str>,
        outputs: Arc<Outputs>,
        #[serde(with = "crate::wire::millis")]
        #[cfg_attr(feature = "schema", schemars(with = "u64"))]
        duration_ms: Duration,
        overall: f64,
    },
    NodeFailed {
        node: Arc<str>,
        error: TaskError,
        overall: f64,
    },
    /// The node did not run, and why; `because` names the failed node.
    NodeSkipped {
        node: Arc<str>,
        reason: SkipReason,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        because: Option<Arc<str>>,
        overall: f64,
    },
    /// A circuit breaker around `function` changed state.
    CircuitChanged {
        function: Arc<str>,
        state: CircuitState,
    },
    RunCompleted {
        stats: RunStats,
    },
    RunFailed {
        error: TaskError,
        stats: RunStats,
    },
    RunCancelled {
        stats: RunStats,
    },
}

/// Why a node will run, or that it will not need to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Reason {
    /// No result has been produced for this content before.
    New,
    /// Its own properties (or type version or quality) changed since the last plan.
    PropertiesChanged,
    /// Something upstream changed since the last plan.
    UpstreamChanged,
    /// Asked to run even though a result is cached.
    Forced,
    /// A stored result was found but does not fit the node (other output
    /// ports, or nested too deep): it is not used, and the new result
    /// replaces it.
    CacheInvalid,
    /// The cache could not be read (its error is logged): the run goes on
    /// without it.
    CacheUnavailable,
    /// A stored result will be used.
    Cached,
    /// Nothing that runs needs it: what it feeds is cached (a partial run).
    NotNeeded,
}

/// Why a node did not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SkipReason {
    /// A node it depends on failed.
    UpstreamFailed,
    /// The run failed fast or was cancelled before the node started.
    RunStopped,
    /// The node, or one it depends on (`because`), was cancelled.
    Cancelled,
    /// Nothing that runs needs it: what it feeds is cached.
    NotNeeded,
}

/// Counts of one run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RunStats {
    /// Task nodes in the plan.
    pub tasks: usize,
    /// Tasks that ran to outputs.
    pub executed: usize,
    pub cache_hits: usize,
    pub cache_misses: usize,
    /// Tasks that ended with an error other than cancellation.
    pub failed: usize,
    /// Tasks cancelled while they ran.
    pub cancelled: usize,
    pub skipped: usize,
    pub retries: usize,
    /// Progress values outside 0..1 that were clamped.
    pub clamped_progress: usize,
    #[serde(with = "crate::wire::millis")]
    #[cfg_attr(feature = "schema", schemars(with = "u64"))]
    pub duration_ms: Duration,
}
