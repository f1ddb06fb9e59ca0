//! A time limit per task.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use async_trait::async_trait;

use super::{FunctionRunner, Outputs, Task, TaskContext, TaskError};

/// Middleware that fails a task with `timeout` when it has no result within
/// its limit: a default for every function, with overrides per function.
///
/// The inner runner gets a child of `ctx.cancel`. When the limit passes, the
/// child is cancelled, so the inner work is told to stop (a remote runner can
/// send its cancel request); the inner runner then has a short grace period
/// (default 1 s) to wind down before it is dropped. The `timeout` error comes
/// at most that grace period after the limit, whatever the inner runner does.
/// The same holds when `ctx.cancel` fires: the result is `cancelled` at most
/// the grace period later, even if the inner runner ignores its token.
///
/// ```
/// use std::time::Duration;
/// use reelgraph::runner::{LocalRunner, Timeout};
///
/// let timeout = Timeout::new(LocalRunner::new(), Duration::from_secs(60))
///     .with_limit("video.generate", Duration::from_secs(600));
/// assert_eq!(timeout.limit_for("video.generate"), Some(Duration::from_secs(600)));
/// assert_eq!(timeout.limit_for("image.generate"), Some(Duration::from_secs(60)));
/// ```
pub struct Timeout<R> {
    inner: R,
    default: Option<Duration>,
    limits: BTreeMap<String, Duration>,
    grace: Duration,
}

impl<R: FunctionRunner> Timeout<R> {
    /// The grace period the inner runner has to stop after its token is
    /// cancelled, unless [`Timeout::with_grace`] sets another.
    pub const DEFAULT_GRACE: Duration = Duration::from_secs(1);

    /// Wraps `inner`, giving every task `default` to finish.
    pub fn new(inner: R, default: Duration) -> Self {
        Timeout {
            inner,
            default: Some(default),
            limits: BTreeMap::new(),
            grace: Self::DEFAULT_GRACE,
        }
    }

    /// Wraps `inner` with no default limit: only the functions given one
    /// with [`Timeout::with_limit`] have one.
    pub fn per_function(inner: R) -> Self {
        Timeout {
            inner,
            default: None,
            limits: BTreeMap::new(),
            grace: Self::DEFAULT_GRACE,
        }
    }

    /// Gives tasks calling `function` their own limit.
    pub fn with_limit(mut self, function: &str, limit: Duration) -> Self {
        self.limits.insert(function.to_owned(), limit);
        self
    }

    /// Sets how long the inner runner may take to stop once told to;
    /// `Duration::ZERO` polls it once more and then drops it.
    pub fn with_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// The limit for tasks calling `function`, if they have one.
    pub fn limit_for(&self, function: &str) -> Option<Duration> {
        self.limits.get(function).copied().or(self.default)
    }
}

#[async_trait]
impl<R: FunctionRunner> FunctionRunner for Timeout<R> {
    async fn run(&self, task: Task, ctx: TaskContext) -> Result<Outputs, TaskError> {
        let Some(limit) = self.limit_for(&task.function) else {
            return self.inner.run(task, ctx).await;
        };
        let child = ctx.cancel.child_token();
        // Also tells the inner work to stop if this future is dropped.
        let stop_inner = child.clone().drop_guard();
        let inner_ctx = TaskContext {
            progress: ctx.progress.clone(),
            cancel: child.clone(),
        };
        let work = self.inner.run(task, inner_ctx);
        tokio::pin!(work);
        let error = tokio::select! {
            biased;
            result = &mut work => {
                stop_inner.disarm();
                return result;
            }
            () = ctx.cancel.cancelled() => TaskError::cancelled(),
            () = tokio::time::sleep(limit) => TaskError::timeout(limit),
        };
        child.cancel();
        // Let the inner work see its token and wind down; its result, if it
        // still has one, is too late to count.
        let _late = tokio::time::timeout(self.grace, work).await;
        Err(error)
    }

    fn knows(&self, function: &str) -> bool {
        self.inner.knows(function)
    }

    fn known_functions(&self) -> Option<Vec<String>> {
        self.inner.known_functions()
    }
}

impl<R: fmt::Debug> fmt::Debug for Timeout<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeout")
            .field("default", &self.default)
            .field("limits", &self.limits)
            .field("grace", &self.grace)
            .field("inner", &self.inner)
            .finish()
    }
}
