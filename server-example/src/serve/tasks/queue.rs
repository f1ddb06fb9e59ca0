//! [`TaskQueue`]: where tasks wait, and the protocol's operations on them.
//!
//! The server keeps its queue in its SQLite file
//! ([`SqliteQueue`](super::sqlite_queue::SqliteQueue)). The trait is shaped
//! so that a queue shared by many servers, in PostgreSQL, can implement it
//! without changing the protocol:
//! - each operation is atomic on the rows it names (one transaction, which
//!   may hold other operations: a group commit), and makes its state change with [`Step`](super::lifecycle::Step), so every queue
//!   means the same by `fail` or `expire`;
//! - [`TaskQueue::claim`] picks the queued tasks of the given functions,
//!   highest priority first, then oldest, and leases them in the same
//!   transaction. SQLite gets atomicity from its one writer; PostgreSQL
//!   would `SELECT ... ORDER BY priority DESC, seq LIMIT n FOR UPDATE SKIP
//!   LOCKED`, so two workers never get the same task and never wait on
//!   each other's rows;
//! - leases are named by tokens and end at a wall-clock time kept with the
//!   task, so any server can check or expire them, and a restart keeps them;
//! - events are stored with the change that made them (seq per task,
//!   gapless), and returned to the caller, who publishes them. A server
//!   that shares the queue with others would publish them to its peers as
//!   well (PostgreSQL `NOTIFY`), which is also how their long-polls wake.
//!
//! Refusals are the protocol's: 404 for an unknown task or lease, 409
//! `lease_lost`, `lease_expired` or `task_finished`, 409
//! `idempotency_conflict`.

use std::time::Duration;

use async_trait::async_trait;
use reelgraph::event::Timestamp;
use reelgraph::remote::{LeaseState, LeasedTask, ProgressReport, TaskEvent, TaskRecord, TaskState};
use reelgraph::runner::{Outputs, TaskError};

use crate::serve::api_error::{ApiError, ApiResult};

/// What an operation changed: its answer and the events it stored, in the
/// order it stored them.
#[derive(Debug)]
pub struct Changed<T> {
    pub value: T,
    pub events: Vec<Happened>,
}

/// An event with the function of its task (for wake-ups and metrics).
#[derive(Debug, Clone)]
pub struct Happened {
    pub function: String,
    pub event: TaskEvent,
}

/// A submission's answer: the task, and whether this call made it (an
/// idempotency key may name one submitted before).
#[derive(Debug)]
pub struct Submitted {
    pub record: TaskRecord,
    pub created: bool,
}

/// A claim as the queue takes it (checked by the service).
#[derive(Debug, Clone)]
pub struct Claim {
    pub worker: String,
    pub functions: Vec<String>,
    pub max_tasks: u32,
    pub lease_for: Duration,
}

/// Which tasks a list wants, newest first.
#[derive(Debug, Clone, Default)]
pub struct TaskFilter {
    pub state: Option<TaskState>,
    pub function: Option<String>,
    /// Only tasks submitted before the one at this position (the cursor).
    pub before: Option<i64>,
    pub limit: u32,
}

/// A page of tasks and where the next one starts.
#[derive(Debug)]
pub struct Listed {
    pub items: Vec<TaskRecord>,
    pub next: Option<i64>,
}

/// The queue of the function-runner service (see the module docs).
#[async_trait]
pub trait TaskQueue: Send + Sync + std::fmt::Debug {
    /// Stores a new task (`queued`, event seq 0) with `id`, or answers the
    /// task of the same idempotency key: as it is when it has the same
    /// function, 409 `idempotency_conflict` when not. A task that ended
    /// without a result (failed, cancelled, dead) lets go of its key, and
    /// the submission makes a new task.
    async fn submit(
        &self,
        id: String,
        task: reelgraph::remote::TaskSubmission,
        max_attempts: u32,
    ) -> ApiResult<Changed<Submitted>>;

    /// Expires what is due, then leases up to `max_tasks` queued tasks of
    /// `functions`, highest priority first, then oldest; none when none is
    /// queued (the caller waits and asks again).
    async fn claim(&self, claim: Claim) -> ApiResult<Changed<Vec<LeasedTask>>>;

    /// A heartbeat (no progress) or a progress report under `lease`:
    /// extends the lease by `lease_for`. Under the last lease of a task
    /// cancelled meanwhile, answers `cancel: true`.
    async fn renew(
        &self,
        lease: &str,
        progress: Option<ProgressReport>,
        lease_for: Duration,
    ) -> ApiResult<Changed<LeaseState>>;

    /// Completes the task of `lease`. Outputs that do not name exactly the
    /// declared ports fail the attempt as `invalid_input`; the answer is
    /// then the 422 `invalid_outputs` (in `value`, with the events of the
    /// failure).
    async fn complete(
        &self,
        lease: &str,
        outputs: Outputs,
    ) -> ApiResult<Changed<Result<TaskRecord, ApiError>>>;

    /// Ends the attempt of `lease` with `error` (see
    /// [`Step::fail`](super::lifecycle::Step::fail)); a `cancelled` failure
    /// under the last lease of a cancelled task acknowledges the cancel.
    async fn fail(&self, lease: &str, error: TaskError) -> ApiResult<Changed<TaskRecord>>;

    /// Cancels a queued or leased task; 409 `task_finished` when it ended.
    async fn cancel(&self, id: &str) -> ApiResult<Changed<TaskRecord>>;

    /// Puts back (or dead-letters) every task whose lease ended before `now`.
    async fn expire(&self, now: Timestamp) -> ApiResult<Changed<Vec<TaskRecord>>>;

    async fn get(&self, id: &str) -> ApiResult<TaskRecord>;

    async fn list(&self, filter: TaskFilter) -> ApiResult<Listed>;

    /// The stored events of task `id` from seq `from` on, in order.
    async fn events(&self, id: &str, from: u64) -> ApiResult<Vec<TaskEvent>>;

    /// How many tasks are queued, by function (functions with none left out).
    async fn depth(&self) -> ApiResult<Vec<(String, u64)>>;
}
