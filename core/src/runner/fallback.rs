//! Quality fallback: a `resource` error tries again one tier lower.

use std::fmt;

use async_trait::async_trait;

use super::{FunctionRunner, Outputs, Task, TaskContext, TaskError, TaskErrorKind, TaskNote};
use crate::quality::Quality;

/// Middleware that answers a `resource` error (out of memory or capacity) by
/// running the task again one quality tier lower, when the node allows it
/// ([`Task::quality_fallback`]), down to a floor (default draft).
///
/// Before each lower try it reports [`TaskNote::QualityFallback`] with the
/// tiers and the error. The lower try gets its own idempotency key — the
/// original with `~` and the tier appended, e.g. `…~standard` — so a result
/// at the lower tier never answers for the higher one. Any other error, a
/// `resource` error from a node that does not allow fallback, or one at the
/// floor, is returned as it is; so is anything after `ctx.cancel` fired.
///
/// ```
/// use reelgraph::runner::{LocalRunner, QualityFallback};
/// use reelgraph::Quality;
///
/// let fallback = QualityFallback::new(LocalRunner::new()).with_floor(Quality::Standard);
/// assert_eq!(fallback.floor(), Quality::Standard);
/// ```
pub struct QualityFallback<R> {
    inner: R,
    floor: Quality,
}

impl<R: FunctionRunner> QualityFallback<R> {
    /// Wraps `inner`, falling back as low as draft.
    pub fn new(inner: R) -> Self {
        QualityFallback {
            inner,
            floor: Quality::Draft,
        }
    }

    /// Sets the lowest tier a task may fall back to.
    pub fn with_floor(mut self, floor: Quality) -> Self {
        self.floor = floor;
        self
    }

    /// The lowest tier a task may fall back to.
    pub fn floor(&self) -> Quality {
        self.floor
    }

    /// The tier to try after a `resource` error at `quality`, if any.
    fn next(&self, quality: Quality) -> Option<Quality> {
        quality.lower().filter(|lower| *lower >= self.floor)
    }
}

#[async_trait]
impl<R: FunctionRunner> FunctionRunner for QualityFallback<R> {
    async fn run(&self, task: Task, ctx: TaskContext) -> Result<Outputs, TaskError> {
        let base_key = task.idempotency_key.clone();
        let mut task = task;
        loop {
            let error = match self.inner.run(task.clone(), ctx.clone()).await {
                Ok(outputs) => return Ok(outputs),
                Err(error) => error,
            };
            let lower = (error.kind == TaskErrorKind::Resource
                && task.quality_fallback
                && !ctx.cancel.is_cancelled())
            .then(|| self.next(task.quality))
            .flatten();
            let Some(to) = lower else {
                return Err(error);
            };
            ctx.progress.note(TaskNote::QualityFallback {
                from: task.quality,
                to,
                error,
            });
            task.quality = to;
            task.idempotency_key = format!("{base_key}~{to}");
        }
    }

    fn knows(&self, function: &str) -> bool {
        self.inner.knows(function)
    }

    fn known_functions(&self) -> Option<Vec<String>> {
        self.inner.known_functions()
    }
}

impl<R: fmt::Debug> fmt::Debug for QualityFallback<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QualityFallback")
            .field("floor", &self.floor)
            .field("inner", &self.inner)
            .finish()
    }
}
