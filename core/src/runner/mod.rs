//! Function runners: what executes one node's task.
//!
//! A [`FunctionRunner`] takes a [`Task`] (function name, params, quality,
//! idempotency key) and a [`TaskContext`] (progress sink, cancellation token)
//! and returns the node's outputs or a typed [`TaskError`]. Resilience —
//! retries, timeouts, circuit breakers, quality fallback — is middleware that
//! wraps any runner and is itself a runner, so the pieces compose.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;

use crate::quality::Quality;

mod breaker;
mod fallback;
mod local;
pub(crate) mod outputs;
mod resilience;
mod retry;
mod timeout;

pub use breaker::{CircuitBreaker, CircuitConfig, CircuitStats, Circuits};
pub use fallback::QualityFallback;
pub use local::LocalRunner;
pub(crate) use local::{panic_message, panicked};
pub use resilience::{Resilience, Resilient};
pub use retry::{Retry, RetryPolicy};
pub use timeout::Timeout;

/// A node's outputs, by output port name.
pub type Outputs = Map<String, Value>;

/// One unit of work for a runner: a node's task with its inputs filled in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Task {
    /// The run this task belongs to.
    pub run_id: Arc<str>,
    /// The node the task is for (for messages and logs; results are keyed by
    /// content, not by node).
    pub node: Arc<str>,
    pub node_type: Arc<str>,
    /// The function to call, e.g. `image.generate`.
    pub function: Arc<str>,
    /// Parameters built from the node's properties, what upstream nodes
    /// provide, and the outputs of the nodes connected to its inputs.
    pub params: Map<String, Value>,
    pub quality: Quality,
    /// Whether a `resource` error may retry one tier lower.
    pub quality_fallback: bool,
    /// The same for every attempt at the same work: the node's content key
    /// (which covers the quality tier; a quality fallback appends `~tier`).
    /// A runner that sees a key it already finished may return the earlier
    /// result instead of working again.
    pub idempotency_key: String,
    /// The output ports the node declares; the outputs must name exactly these.
    pub outputs: Arc<[Arc<str>]>,
}

/// What a task can report while it runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum TaskNote {
    /// Work done so far, 0 to 1 (values outside are clamped by the sink).
    Progress {
        progress: f64,
        #[serde(skip_serializing_if = "Option::is_none")]
        message: Option<String>,
        /// The task reported a value outside 0..1 (or NaN), clamped here.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        clamped: bool,
    },
    /// An attempt failed with a retryable error; the next starts after `delay`.
    Retrying {
        attempt: u32,
        #[serde(with = "crate::wire::millis")]
        delay: Duration,
        error: TaskError,
    },
    /// A `resource` error at `from`: the task is tried again at `to`.
    QualityFallback {
        from: Quality,
        to: Quality,
        error: TaskError,
    },
    /// A circuit breaker changed state for a function.
    Circuit {
        function: Arc<str>,
        state: CircuitState,
    },
}

/// The state of a circuit breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum CircuitState {
    /// Calls go through.
    Closed,
    /// Calls fail at once without reaching the function.
    Open,
    /// A trial call goes through; its outcome closes or re-opens the circuit.
    HalfOpen,
}

/// Where a running task sends its notes. Cheap to clone; the executor turns
/// notes into run events.
#[derive(Clone)]
pub struct ProgressSink {
    target: Arc<dyn NoteTarget>,
    /// Which of the target's tasks this is.
    step: usize,
}

/// Takes the notes of many tasks, told apart by step: one per run, so a
/// task's sink costs no allocation.
pub(crate) trait NoteTarget: Send + Sync {
    fn note(&self, step: usize, note: TaskNote);
}

/// A callback as a note target.
struct Callback<F>(F);

impl<F: Fn(TaskNote) + Send + Sync> NoteTarget for Callback<F> {
    fn note(&self, _step: usize, note: TaskNote) {
        (self.0)(note);
    }
}

impl ProgressSink {
    /// A sink that calls `send` for every note.
    pub fn new(send: impl Fn(TaskNote) + Send + Sync + 'static) -> Self {
        ProgressSink {
            target: Arc::new(Callback(send)),
            step: 0,
        }
    }

    /// The sink of task `step` of a run whose notes go to `target`.
    pub(crate) fn for_step(target: Arc<dyn NoteTarget>, step: usize) -> Self {
        ProgressSink { target, step }
    }

    /// A sink that drops every note.
    pub fn discard() -> Self {
        ProgressSink::new(|_| {})
    }

    /// Reports progress; values outside 0..1 (or NaN) are clamped and logged.
    pub fn progress(&self, progress: f64, message: Option<&str>) {
        let clamped = if progress.is_nan() {
            0.0
        } else {
            progress.clamp(0.0, 1.0)
        };
        let out_of_range = clamped != progress || progress.is_nan();
        if out_of_range {
            tracing::warn!(progress, clamped, "task progress outside 0..1 was clamped");
        }
        self.note(TaskNote::Progress {
            progress: clamped,
            message: message.map(str::to_owned),
            clamped: out_of_range,
        });
    }

    /// Sends any note.
    pub fn note(&self, note: TaskNote) {
        self.target.note(self.step, note);
    }
}

impl fmt::Debug for ProgressSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProgressSink")
    }
}

/// What a runner gets besides the task itself.
#[derive(Debug, Clone)]
pub struct TaskContext {
    pub progress: ProgressSink,
    /// Cancelled when the run or this node is cancelled; a function should
    /// stop soon after and return [`TaskErrorKind::Cancelled`].
    pub cancel: CancellationToken,
}

impl TaskContext {
    /// A context that discards progress and is never cancelled (for tests and
    /// one-off calls).
    pub fn detached() -> Self {
        TaskContext {
            progress: ProgressSink::discard(),
            cancel: CancellationToken::new(),
        }
    }
}

/// How a task failed, which decides what happens next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TaskErrorKind {
    /// A passing failure (network, a busy worker): worth retrying.
    Transient,
    /// Out of memory or capacity: may work at a lower quality tier.
    Resource,
    /// The params are wrong: retrying cannot help; fix the canvas.
    InvalidInput,
    /// The function failed for good.
    Permanent,
    /// The run or the node was cancelled.
    Cancelled,
    /// The task took longer than its time limit.
    Timeout,
}

impl TaskErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskErrorKind::Transient => "transient",
            TaskErrorKind::Resource => "resource",
            TaskErrorKind::InvalidInput => "invalid_input",
            TaskErrorKind::Permanent => "permanent",
            TaskErrorKind::Cancelled => "cancelled",
            TaskErrorKind::Timeout => "timeout",
        }
    }

    /// Whether trying the same task again may succeed.
    pub fn is_retryable(self) -> bool {
        matches!(self, TaskErrorKind::Transient | TaskErrorKind::Timeout)
    }
}

impl fmt::Display for TaskErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a task did not produce outputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[error("{kind}: {message}")]
pub struct TaskError {
    pub kind: TaskErrorKind,
    pub message: String,
    /// What to do about it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hint: String,
    /// More for whoever debugs the function, such as the traceback of a
    /// Python exception or the stack of a JavaScript error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
}

impl TaskError {
    pub fn new(kind: TaskErrorKind, message: impl Into<String>) -> Self {
        TaskError {
            kind,
            message: message.into(),
            hint: String::new(),
            details: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = hint.into();
        self
    }

    /// Attaches what a binding caught with the failure (a traceback, a stack).
    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    pub fn transient(message: impl Into<String>) -> Self {
        TaskError::new(TaskErrorKind::Transient, message)
    }
    pub fn resource(message: impl Into<String>) -> Self {
        TaskError::new(TaskErrorKind::Resource, message)
    }
    pub fn invalid_input(message: impl Into<String>) -> Self {
        TaskError::new(TaskErrorKind::InvalidInput, message)
    }
    pub fn permanent(message: impl Into<String>) -> Self {
        TaskError::new(TaskErrorKind::Permanent, message)
    }
    pub fn cancelled() -> Self {
        TaskError::new(TaskErrorKind::Cancelled, "cancelled")
    }
    pub fn timeout(after: Duration) -> Self {
        TaskError::new(
            TaskErrorKind::Timeout,
            format!("no result after {}", humantime::format_duration(after)),
        )
        .with_hint("raise the timeout for this function, or check the worker is not stuck")
    }
}

/// Executes one task. Implementations: [`LocalRunner`] (in-process
/// functions), and middleware that wraps another runner.
#[async_trait]
pub trait FunctionRunner: Send + Sync + fmt::Debug {
    /// Runs `task` to its outputs or a typed error. A runner must return
    /// [`TaskErrorKind::Cancelled`] soon after `ctx.cancel` fires.
    async fn run(&self, task: Task, ctx: TaskContext) -> Result<Outputs, TaskError>;

    /// Whether this runner can execute `function`. The executor checks every
    /// function of a plan before any task starts. Runners that cannot tell
    /// (a remote pool) answer `true`.
    fn knows(&self, function: &str) -> bool {
        let _ = function;
        true
    }

    /// Every function this runner knows, sorted, when it can list them: an
    /// `unknown_function` error names them. `None` (the default) for runners
    /// that cannot tell.
    fn known_functions(&self) -> Option<Vec<String>> {
        None
    }
}

#[async_trait]
impl<R: FunctionRunner + ?Sized> FunctionRunner for Arc<R> {
    async fn run(&self, task: Task, ctx: TaskContext) -> Result<Outputs, TaskError> {
        (**self).run(task, ctx).await
    }
    fn knows(&self, function: &str) -> bool {
        (**self).knows(function)
    }
    fn known_functions(&self) -> Option<Vec<String>> {
        (**self).known_functions()
    }
}
