//! A run's state folded from its events: counts, each node's state and
//! overall progress. The hub keeps one per run; a consumer of a run's own
//! event stream can fold one too (the command line does, for its bars and
//! summary).

use std::sync::Arc;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::exec::event::{RunEvent, RunEventKind, SkipReason, Timestamp};
use crate::runner::{TaskError, TaskErrorKind};

/// Where a run stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RunState {
    /// Prepared; no event yet.
    #[default]
    Pending,
    Running,
    Completed,
    Failed,
    Cancelled,
    /// The run was dropped before it ended: no report will come.
    Abandoned,
}

impl RunState {
    /// Whether the run is over (no more events will come).
    pub fn is_over(self) -> bool {
        !matches!(self, RunState::Pending | RunState::Running)
    }
}

/// Where a node of a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum NodeState {
    /// Its inputs are ready; it waits for a free slot.
    Queued,
    Running,
    Completed,
    Cached,
    /// Ended with an error other than cancellation.
    Failed,
    /// Cancelled while it ran or waited for a slot.
    Cancelled,
    Skipped,
}

/// One node of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct NodeSnapshot {
    pub state: NodeState,
    /// The function, once the node started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<Arc<str>>,
    /// The node's own progress, 0 to 1.
    pub progress: f64,
    /// When its task first started (waiting for a slot is not running).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<Timestamp>,
    /// The `seq` of the event that ended it: the order nodes ended in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_seq: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<TaskError>,
    /// Why it was skipped, and the node that caused it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_reason: Option<SkipReason>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub because: Option<Arc<str>>,
}

impl NodeSnapshot {
    fn new(state: NodeState) -> Self {
        NodeSnapshot {
            state,
            function: None,
            progress: 0.0,
            started_at: None,
            ended_at: None,
            ended_seq: None,
            error: None,
            skip_reason: None,
            because: None,
        }
    }
}

/// How many nodes are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Counts {
    /// Task nodes in the plan.
    pub tasks: usize,
    pub queued: usize,
    pub running: usize,
    /// Ran to outputs.
    pub executed: usize,
    pub cached: usize,
    pub failed: usize,
    pub cancelled: usize,
    pub skipped: usize,
    /// Attempts tried again (including quality fallbacks).
    pub retries: usize,
}

impl Counts {
    /// Nodes that ended, one way or another.
    pub fn done(&self) -> usize {
        self.executed + self.cached + self.failed + self.cancelled + self.skipped
    }

    fn slot(&mut self, state: NodeState) -> &mut usize {
        match state {
            NodeState::Queued => &mut self.queued,
            NodeState::Running => &mut self.running,
            NodeState::Completed => &mut self.executed,
            NodeState::Cached => &mut self.cached,
            NodeState::Failed => &mut self.failed,
            NodeState::Cancelled => &mut self.cancelled,
            NodeState::Skipped => &mut self.skipped,
        }
    }
}

/// A run's state as its events tell it: what [`crate::exec::RunHub::snapshot`]
/// returns while the run goes and after it ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct RunSnapshot {
    pub run_id: String,
    /// Empty until `run_started`.
    pub canvas_id: String,
    pub state: RunState,
    /// Events folded in so far: the `seq` the next event will have.
    pub next_seq: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<Timestamp>,
    /// Overall progress, 0 to 1, as the latest event that carries it said.
    pub overall: f64,
    pub counts: Counts,
    /// Each node an event named, in the order they were first named.
    pub nodes: IndexMap<Arc<str>, NodeSnapshot>,
}

impl RunSnapshot {
    /// The state of run `run_id` before any event.
    pub fn new(run_id: impl Into<String>) -> Self {
        RunSnapshot {
            run_id: run_id.into(),
            canvas_id: String::new(),
            state: RunState::Pending,
            next_seq: 0,
            started_at: None,
            ended_at: None,
            overall: 0.0,
            counts: Counts::default(),
            nodes: IndexMap::new(),
        }
    }

    /// Folds in the next event of the run.
    ///
    /// ```
    /// use reelgraph::exec::{RunEvent, RunSnapshot, RunState};
    /// let mut snapshot = RunSnapshot::new("r1");
    /// let started: RunEvent = serde_json::from_str(r#"{"run_id": "r1", "seq": 0,
    ///     "ts": "2026-01-01T12:00:00.000Z", "type": "run_started",
    ///     "canvas_id": "reel", "quality": "draft", "tasks": 3}"#).unwrap();
    /// snapshot.see(&started);
    /// assert_eq!((snapshot.state, snapshot.counts.tasks, snapshot.next_seq), (RunState::Running, 3, 1));
    /// ```
    pub fn see(&mut self, event: &RunEvent) {
        self.next_seq = event.seq + 1;
        match &event.kind {
            RunEventKind::RunStarted {
                canvas_id, tasks, ..
            } => {
                self.canvas_id.clone_from(canvas_id);
                self.counts.tasks = *tasks;
                self.state = RunState::Running;
                self.started_at = Some(event.ts);
            }
            RunEventKind::NodeQueued { node, .. } => {
                self.node(node, NodeState::Queued);
            }
            RunEventKind::NodeStarted { node, function, .. } => {
                let n = self.node(node, NodeState::Running);
                n.function = Some(function.clone());
                n.started_at.get_or_insert(event.ts);
            }
            RunEventKind::NodeProgress {
                node,
                progress,
                overall,
                ..
            } => {
                if let Some(n) = self.nodes.get_mut(node) {
                    n.progress = *progress;
                }
                self.overall = *overall;
            }
            RunEventKind::NodeRetrying { node, .. } => {
                self.counts.retries += 1;
                if let Some(n) = self.nodes.get_mut(node) {
                    n.progress = 0.0;
                }
            }
            RunEventKind::NodeCompleted { node, overall, .. } => {
                self.end(event, node, NodeState::Completed, *overall);
            }
            RunEventKind::NodeCached { node, overall, .. } => {
                self.end(event, node, NodeState::Cached, *overall);
            }
            RunEventKind::NodeFailed {
                node,
                error,
                overall,
            } => {
                let state = if error.kind == TaskErrorKind::Cancelled {
                    NodeState::Cancelled
                } else {
                    NodeState::Failed
                };
                self.end(event, node, state, *overall).error = Some(error.clone());
            }
            RunEventKind::NodeSkipped {
                node,
                reason,
                because,
                overall,
            } => {
                let n = self.end(event, node, NodeState::Skipped, *overall);
                n.skip_reason = Some(*reason);
                n.because.clone_from(because);
            }
            RunEventKind::CircuitChanged { .. } => {}
            RunEventKind::RunCompleted { .. } => self.close(event, RunState::Completed),
            RunEventKind::RunFailed { .. } => self.close(event, RunState::Failed),
            RunEventKind::RunCancelled { .. } => self.close(event, RunState::Cancelled),
        }
    }

    /// The run was dropped before its last event.
    pub(crate) fn abandon(&mut self) {
        if !self.state.is_over() {
            self.state = RunState::Abandoned;
            self.ended_at = Some(Timestamp::now());
        }
    }

    /// The node moved to `state`; counts follow.
    fn node(&mut self, node: &Arc<str>, state: NodeState) -> &mut NodeSnapshot {
        let counts = &mut self.counts;
        let n = self
            .nodes
            .entry(node.clone())
            .and_modify(|n| *counts.slot(n.state) -= 1)
            .or_insert_with(|| NodeSnapshot::new(state));
        n.state = state;
        *counts.slot(state) += 1;
        n
    }

    fn end(
        &mut self,
        event: &RunEvent,
        node: &Arc<str>,
        state: NodeState,
        overall: f64,
    ) -> &mut NodeSnapshot {
        self.overall = overall;
        let n = self.node(node, state);
        n.ended_at = Some(event.ts);
        n.ended_seq = Some(event.seq);
        if state == NodeState::Completed {
            n.progress = 1.0;
        }
        n
    }

    fn close(&mut self, event: &RunEvent, state: RunState) {
        self.state = state;
        self.ended_at = Some(event.ts);
        if state == RunState::Completed {
            self.overall = 1.0;
        }
    }

    /// The function a node ran, or `""` before it started.
    pub fn function(&self, node: &str) -> &str {
        self.nodes
            .get(node)
            .and_then(|n| n.function.as_deref())
            .unwrap_or("")
    }

    /// Whether the node's task started.
    pub fn was_started(&self, node: &str) -> bool {
        self.nodes.get(node).is_some_and(|n| n.started_at.is_some())
    }

    /// Whether the node was cancelled (while it ran or waited for a slot).
    pub fn was_cancelled(&self, node: &str) -> bool {
        self.nodes
            .get(node)
            .is_some_and(|n| n.state == NodeState::Cancelled)
    }

    /// Nodes cancelled while their task ran, in the order they ended.
    pub fn stopped(&self) -> Vec<&str> {
        self.ended_where(|_, n| n.state == NodeState::Cancelled && n.started_at.is_some())
    }

    /// Nodes that never started because the run stopped or something they
    /// need was cancelled (cancelled while waiting first, then skipped), in
    /// the order they ended.
    pub fn not_started(&self) -> Vec<&str> {
        let mut nodes =
            self.ended_where(|_, n| n.state == NodeState::Cancelled && n.started_at.is_none());
        nodes.extend(self.ended_where(|this, n| {
            n.state == NodeState::Skipped
                && (matches!(
                    n.skip_reason,
                    Some(SkipReason::RunStopped | SkipReason::Cancelled)
                ) || n.because.as_deref().is_some_and(|b| this.was_cancelled(b)))
        }));
        nodes
    }

    fn ended_where(&self, keep: impl Fn(&Self, &NodeSnapshot) -> bool) -> Vec<&str> {
        let mut nodes: Vec<(u64, &str)> = self
            .nodes
            .iter()
            .filter(|(_, n)| keep(self, n))
            .map(|(id, n)| (n.ended_seq.unwrap_or(u64::MAX), &**id))
            .collect();
        nodes.sort_unstable();
        nodes.into_iter().map(|(_, id)| id).collect()
    }
}
