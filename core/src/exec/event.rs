//! Run events: one envelope (`type, run_id, seq, ts`), the same in every
//! language and on every wire.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize, Serializer};

use crate::exec::ContentKey;
use crate::quality::Quality;
use crate::runner::{CircuitState, Outputs, TaskError};

/// Something that happened in a run. `seq` counts from 0 without gaps within
/// a run, so a consumer can tell it missed nothing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunEvent {
    pub run_id: Arc<str>,
    pub seq: u64,
    pub ts: Timestamp,
    #[serde(flatten)]
    pub kind: RunEventKind,
}

/// What happened, tagged by `type`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
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
        #[serde(skip_serializing_if = "Option::is_none")]
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
        #[serde(serialize_with = "as_millis")]
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
        #[serde(skip_serializing_if = "Option::is_none")]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
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

/// A wall-clock instant, written as RFC 3339 with milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(pub SystemTime);

impl Timestamp {
    pub fn now() -> Self {
        Timestamp(SystemTime::now())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&humantime::format_rfc3339_millis(self.0))
    }
}

fn as_millis<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
