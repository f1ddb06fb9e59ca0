//! Bodies of the function-runner protocol (see the module docs).
//!
//! A task is submitted once ([`TaskSubmission`]), waits in the queue
//! (`queued`), is claimed by a worker ([`ClaimRequest`] → [`Claimed`]) which
//! holds it under a lease: one attempt, named by its lease token. The worker
//! renews the lease with heartbeats ([`Heartbeat`] → [`LeaseState`]),
//! reports progress, and ends the attempt with a [`Completion`] or a
//! [`Failure`]. A lease that expires puts the task back in the queue; after
//! `max_attempts` attempts a task is `dead` (kept with its history). A
//! completed task never runs again, and anything sent under a lease that is
//! no longer current is refused.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::event::Timestamp;
use crate::quality::Quality;
use crate::runner::{Outputs, TaskError};

/// `POST /v1/tasks`: work for a function, to be done by some worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct TaskSubmission {
    /// The function to call, e.g. `image.generate`: 1 to 256 characters,
    /// not blank.
    #[cfg_attr(
        feature = "schema",
        schemars(length(min = 1, max = 256), pattern(r"\S"))
    )]
    pub function: String,
    #[serde(default)]
    pub params: Map<String, Value>,
    #[serde(default)]
    pub quality: Quality,
    /// Submitting again with the same key (and the same function) answers
    /// the task already submitted, finished or not, instead of a new one.
    /// An `HttpRunner` sends the node's content key. 1 to 256 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "schema",
        schemars(length(min = 1, max = 256), pattern(r"\S"))
    )]
    pub idempotency_key: Option<String>,
    /// Higher first; tasks of equal priority in submission order.
    /// From -1000 to 1000.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(range(min = -1000, max = 1000)))]
    pub priority: i32,
    /// The output ports a completion must name exactly, each once; when
    /// left out, any object of outputs is taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "schema",
        schemars(inner(length(min = 1, max = 256), pattern(r"\S")), extend("uniqueItems" = true))
    )]
    pub outputs: Option<Vec<String>>,
    /// Attempts before the task is dead-lettered; the server's default
    /// when left out. From 1 to 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 100)))]
    pub max_attempts: Option<u32>,
    /// The run the task is for, when a run submitted it. The server keeps
    /// it and hands it to the worker, whose function sees it as its
    /// context's `run_id`; it decides nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// The node the task is for, when a run submitted it (as `run_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

impl TaskSubmission {
    /// What a runner submits for a run's task: its function, params and
    /// quality, the node's content key as idempotency key (a retry, or the
    /// run started again, finds the task already submitted), its output
    /// ports, and the run and node it is for.
    pub fn for_task(task: crate::runner::Task, priority: i32) -> TaskSubmission {
        TaskSubmission {
            function: task.function.to_string(),
            params: task.params,
            quality: task.quality,
            idempotency_key: Some(task.idempotency_key),
            priority,
            outputs: Some(task.outputs.iter().map(|p| p.to_string()).collect()),
            max_attempts: None,
            run_id: Some(task.run_id.to_string()),
            node: Some(task.node.to_string()),
        }
    }
}

/// Where a task is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    /// Waiting for a worker.
    Queued,
    /// A worker holds it under a lease.
    Leased,
    Completed,
    /// Failed with an error that retrying cannot fix (`invalid_input`,
    /// `permanent`, `resource`).
    Failed,
    Cancelled,
    /// Every attempt failed or expired; kept with its history.
    Dead,
}

impl TaskState {
    /// Whether the task will never change again.
    pub fn is_final(self) -> bool {
        !matches!(self, TaskState::Queued | TaskState::Leased)
    }

    /// Whether the task ended with no outputs (failed, cancelled or dead):
    /// its idempotency key is free again, and a submission under it makes
    /// a new task.
    pub fn ended_without_result(self) -> bool {
        self.is_final() && self != TaskState::Completed
    }
}

/// How one attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    Completed,
    Failed,
    /// The worker stopped sending heartbeats.
    Expired,
    Cancelled,
}

impl TaskRecord {
    /// The task's result when it ended: its outputs, or the error that
    /// ended it (`cancelled` for a cancelled task). `None` while it waits
    /// or runs.
    pub fn outcome(&self) -> Option<Result<Outputs, TaskError>> {
        match self.state {
            TaskState::Queued | TaskState::Leased => None,
            TaskState::Completed => Some(Ok(self.outputs.clone().unwrap_or_default())),
            TaskState::Cancelled => Some(Err(TaskError::cancelled())),
            TaskState::Failed | TaskState::Dead => {
                Some(Err(self.error.clone().unwrap_or_else(|| {
                    TaskError::permanent(format!("task {} ended without an error", self.id))
                })))
            }
        }
    }
}

/// One attempt at a task: which worker held it and how it ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct TaskAttempt {
    /// From 1.
    pub attempt: u32,
    pub worker: String,
    pub leased_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<Timestamp>,
    /// `None` while the attempt runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<AttemptOutcome>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<TaskError>,
}

/// A task as the server keeps it (`GET /v1/tasks/{id}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct TaskRecord {
    /// `tk_` and random characters.
    pub id: String,
    pub function: String,
    pub params: Map<String, Value>,
    pub quality: Quality,
    pub priority: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outputs_declared: Option<Vec<String>>,
    pub state: TaskState,
    pub max_attempts: u32,
    /// Oldest first.
    pub attempts: Vec<TaskAttempt>,
    /// The last progress a worker reported for the current attempt, 0 to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<f64>,
    /// Set when `completed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outputs: Option<Outputs>,
    /// Set when `failed`, `dead` or `cancelled`: the error that ended it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<TaskError>,
    /// The run the task is for, as submitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// The node the task is for, as submitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// `POST /v1/workers/claim`: a worker asks for up to `max_tasks` tasks of
/// the functions it serves, waiting up to `wait_ms` when none is queued.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ClaimRequest {
    /// The worker's name, shown in each attempt (e.g. `host-1234`): 1 to
    /// 256 characters, not blank.
    #[cfg_attr(
        feature = "schema",
        schemars(length(min = 1, max = 256), pattern(r"\S"))
    )]
    pub worker: String,
    /// 1 to 64 function names.
    #[cfg_attr(
        feature = "schema",
        schemars(
            length(min = 1, max = 64),
            inner(length(min = 1, max = 256), pattern(r"\S"))
        )
    )]
    pub functions: Vec<String>,
    /// From 1 to 64.
    #[serde(default = "one")]
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 64)))]
    pub max_tasks: u32,
    /// Long-poll time in ms, at most 30000 (30 s); 0 answers at once.
    #[serde(default, rename = "wait_ms", with = "crate::wire::millis")]
    #[cfg_attr(feature = "schema", schemars(with = "u64", range(max = 30_000)))]
    pub wait: Duration,
}

fn one() -> u32 {
    1
}

/// The answer to a claim: the tasks now leased to the worker (none when
/// the wait ran out).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Claimed {
    pub tasks: Vec<LeasedTask>,
}

/// One task leased to a worker: what to call, and the lease to report under.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct LeasedTask {
    pub task_id: String,
    /// `ls_` and random characters: names this attempt in every later call
    /// (`/v1/workers/leases/{lease}/...`).
    pub lease: String,
    pub attempt: u32,
    pub function: String,
    pub params: Map<String, Value>,
    pub quality: Quality,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outputs: Option<Vec<String>>,
    /// The run the task is for, when a run submitted it: a worker's
    /// function sees it as its context's `run_id` (the task id otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// The node the task is for, when a run submitted it: the context's
    /// `node` (the task id otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// The lease ends this long after the claim unless a heartbeat renews it.
    #[serde(rename = "lease_ms", with = "crate::wire::millis")]
    #[cfg_attr(feature = "schema", schemars(with = "u64"))]
    pub lease_for: Duration,
}

/// `POST /v1/workers/leases/{lease}/heartbeat`: the worker is still at it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Heartbeat {}

/// The answer to a heartbeat or a progress report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct LeaseState {
    /// The task was cancelled: stop, and report a `cancelled` failure.
    pub cancel: bool,
    /// The lease now ends this long from now.
    #[serde(rename = "lease_ms", with = "crate::wire::millis")]
    #[cfg_attr(feature = "schema", schemars(with = "u64"))]
    pub lease_for: Duration,
}

/// `POST /v1/workers/leases/{lease}/progress` (also renews the lease).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ProgressReport {
    /// 0 to 1.
    #[cfg_attr(feature = "schema", schemars(range(min = 0.0, max = 1.0)))]
    pub progress: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// `POST /v1/workers/leases/{lease}/complete`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Completion {
    pub outputs: Outputs,
}

/// `POST /v1/workers/leases/{lease}/fail`. A retryable kind (`transient`,
/// `timeout`) puts the task back in the queue while attempts remain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Failure {
    pub error: TaskError,
}

/// Something that happened to a task: the events of `GET
/// /v1/tasks/{id}/events` (SSE) and of a WebSocket task subscription. `seq`
/// counts from 0 per task, gapless.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum TaskEvent {
    TaskQueued {
        task_id: String,
        seq: u64,
        ts: Timestamp,
    },
    TaskLeased {
        task_id: String,
        seq: u64,
        ts: Timestamp,
        worker: String,
        attempt: u32,
    },
    TaskProgress {
        task_id: String,
        seq: u64,
        ts: Timestamp,
        progress: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// An attempt ended without a result and the task went back in the queue.
    TaskRequeued {
        task_id: String,
        seq: u64,
        ts: Timestamp,
        attempt: u32,
        outcome: AttemptOutcome,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<TaskError>,
    },
    TaskCompleted {
        task_id: String,
        seq: u64,
        ts: Timestamp,
        outputs: Outputs,
    },
    TaskFailed {
        task_id: String,
        seq: u64,
        ts: Timestamp,
        error: TaskError,
    },
    TaskCancelled {
        task_id: String,
        seq: u64,
        ts: Timestamp,
    },
    TaskDead {
        task_id: String,
        seq: u64,
        ts: Timestamp,
        error: TaskError,
    },
}

impl TaskEvent {
    pub fn task_id(&self) -> &str {
        match self {
            TaskEvent::TaskQueued { task_id, .. }
            | TaskEvent::TaskLeased { task_id, .. }
            | TaskEvent::TaskProgress { task_id, .. }
            | TaskEvent::TaskRequeued { task_id, .. }
            | TaskEvent::TaskCompleted { task_id, .. }
            | TaskEvent::TaskFailed { task_id, .. }
            | TaskEvent::TaskCancelled { task_id, .. }
            | TaskEvent::TaskDead { task_id, .. } => task_id,
        }
    }

    pub fn seq(&self) -> u64 {
        match self {
            TaskEvent::TaskQueued { seq, .. }
            | TaskEvent::TaskLeased { seq, .. }
            | TaskEvent::TaskProgress { seq, .. }
            | TaskEvent::TaskRequeued { seq, .. }
            | TaskEvent::TaskCompleted { seq, .. }
            | TaskEvent::TaskFailed { seq, .. }
            | TaskEvent::TaskCancelled { seq, .. }
            | TaskEvent::TaskDead { seq, .. } => *seq,
        }
    }

    /// The task's result when this is its final event (as
    /// [`TaskRecord::outcome`]).
    pub fn outcome(&self) -> Option<Result<Outputs, TaskError>> {
        match self {
            TaskEvent::TaskCompleted { outputs, .. } => Some(Ok(outputs.clone())),
            TaskEvent::TaskFailed { error, .. } | TaskEvent::TaskDead { error, .. } => {
                Some(Err(error.clone()))
            }
            TaskEvent::TaskCancelled { .. } => Some(Err(TaskError::cancelled())),
            _ => None,
        }
    }

    /// Whether no event follows this one.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            TaskEvent::TaskCompleted { .. }
                | TaskEvent::TaskFailed { .. }
                | TaskEvent::TaskCancelled { .. }
                | TaskEvent::TaskDead { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_claim_reads_its_defaults_and_refuses_unknown_fields() {
        let claim: ClaimRequest =
            serde_json::from_value(json!({"worker": "w1", "functions": ["image.generate"]}))
                .expect("a minimal claim");
        assert_eq!((claim.max_tasks, claim.wait), (1, Duration::ZERO));
        let wrong = json!({"worker": "w1", "functions": [], "lease": 5});
        assert!(serde_json::from_value::<ClaimRequest>(wrong).is_err());
    }

    #[test]
    fn task_events_round_trip_with_their_envelope() {
        let event = TaskEvent::TaskProgress {
            task_id: "tk_1".into(),
            seq: 3,
            ts: Timestamp::now(),
            progress: 0.5,
            message: Some("half".into()),
        };
        let json = serde_json::to_value(&event).expect("serialises");
        assert_eq!(json["type"], "task_progress");
        assert_eq!(json["seq"], 3);
        let back: TaskEvent = serde_json::from_value(json).expect("reads back");
        assert_eq!((back, event.is_final()), (event, false));
    }
}
