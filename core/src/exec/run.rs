//! A prepared run, its handle for cancelling, a batch of runs, and the
//! report a run ends with.

use std::collections::BTreeMap;
use std::sync::Arc;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::engine::Engine;
use super::event::RunStats;
use super::stream::RunEvents;
use crate::runner::{Outputs, TaskError};

/// Cancels a run or one of its nodes. Cheap to clone.
#[derive(Debug, Clone)]
pub struct RunHandle {
    pub(super) id: Arc<str>,
    pub(super) cancel: CancellationToken,
    pub(super) nodes: Arc<NodeCancels>,
}

/// What cancelling one node needs: the steps that run, and a line to the
/// run's engine, which owns every task's token. Tokens are made when a task
/// starts, not one per step up front.
#[derive(Debug)]
pub(super) struct NodeCancels {
    /// Node id of each step, shared with the emitter.
    pub(super) nodes: Arc<[Arc<str>]>,
    /// Whether each step runs: only those can be cancelled one by one.
    pub(super) runs: Vec<bool>,
    pub(super) requests: mpsc::UnboundedSender<usize>,
}

impl RunHandle {
    pub fn run_id(&self) -> &str {
        &self.id
    }

    /// Cancels the whole run: running tasks are told and awaited, nothing
    /// new starts, and `run_cancelled` is the last event.
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// Cancels one node: a running task is told and ends as `cancelled`; one
    /// that has not started is skipped. What depends on it is skipped, other
    /// branches go on, and the run is not failed by it.
    /// Returns false when the run does not run such a node (unknown, a data
    /// node, or cached).
    pub fn cancel_node(&self, node: &str) -> bool {
        // A scan: cancelling is rare, and a map of every node would cost
        // each run more than all the scans it will see.
        let cancels = &self.nodes;
        let step =
            (0..cancels.nodes.len()).find(|&i| cancels.runs[i] && &*cancels.nodes[i] == node);
        match step {
            Some(step) => {
                // The engine is gone once the run has ended: nothing to stop.
                let _ = cancels.requests.send(step);
                true
            }
            None => false,
        }
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }
}

/// A prepared run. Take its events with [`Run::events`], then drive it with
/// [`Run::finish`] (events are buffered, so a consumer may also read them
/// after).
#[derive(Debug)]
pub struct Run {
    pub(super) id: Arc<str>,
    pub(super) events: Option<RunEvents>,
    pub(super) handle: RunHandle,
    pub(super) engine: Engine,
}

impl Run {
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The event stream; `None` after the first call.
    pub fn events(&mut self) -> Option<RunEvents> {
        self.events.take()
    }

    pub fn handle(&self) -> RunHandle {
        self.handle.clone()
    }

    /// Runs to the end and reports.
    pub async fn finish(self) -> RunReport {
        // A stream never taken can no longer be: nothing is sent down it.
        let Run { events, engine, .. } = self;
        drop(events);
        engine.drive().await
    }
}

/// Several runs sharing one cap and one event stream.
#[derive(Debug)]
pub struct Batch {
    pub(super) runs: Vec<Run>,
    pub(super) events: Option<RunEvents>,
}

impl Batch {
    pub fn events(&mut self) -> Option<RunEvents> {
        self.events.take()
    }

    pub fn handles(&self) -> Vec<RunHandle> {
        self.runs.iter().map(Run::handle).collect()
    }

    /// Runs every run to its end, concurrently; reports in the order given.
    pub async fn finish(self) -> Vec<RunReport> {
        futures_util::future::join_all(self.runs.into_iter().map(Run::finish)).await
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Completed,
    Failed,
    Cancelled,
}

/// The end of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RunReport {
    pub run_id: String,
    pub canvas_id: String,
    pub status: RunStatus,
    pub stats: RunStats,
    /// Outputs of every step that has them (run or cached), by node, in
    /// plan order.
    pub outputs: IndexMap<Arc<str>, Arc<Outputs>>,
    /// Errors of the nodes that failed, by node.
    pub errors: BTreeMap<String, TaskError>,
}
