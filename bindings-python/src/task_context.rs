//! What a Python runner function gets besides its params: progress,
//! cancellation, and what the task is.

use std::sync::Arc;

use pyo3::prelude::*;
use reelgraph::Quality;
use reelgraph::runner::{ProgressSink, Task};
use tokio_util::sync::CancellationToken;

/// The `ctx` of a runner function: `ctx.progress(fraction, message=None)`,
/// `ctx.cancelled` (poll it in long loops), and what the task is. Made for
/// every task, so it shares the task's strings rather than copying them.
#[pyclass(name = "TaskContext", module = "reelgraph", frozen)]
#[derive(Debug)]
pub struct PyTaskContext {
    progress: ProgressSink,
    cancel: CancellationToken,
    run_id: Arc<str>,
    node: Arc<str>,
    function: Arc<str>,
    quality: Quality,
    idempotency_key: String,
}

impl PyTaskContext {
    /// The context of `task`, which gives up its idempotency key.
    pub fn new(task: &mut Task, progress: ProgressSink, cancel: CancellationToken) -> Self {
        PyTaskContext {
            progress,
            cancel,
            run_id: task.run_id.clone(),
            node: task.node.clone(),
            function: task.function.clone(),
            quality: task.quality,
            idempotency_key: std::mem::take(&mut task.idempotency_key),
        }
    }
}

#[pymethods]
impl PyTaskContext {
    #[getter]
    fn run_id(&self) -> &str {
        &self.run_id
    }

    #[getter]
    fn node(&self) -> &str {
        &self.node
    }

    #[getter]
    fn function(&self) -> &str {
        &self.function
    }

    #[getter]
    fn quality(&self) -> &'static str {
        self.quality.as_str()
    }

    #[getter]
    fn idempotency_key(&self) -> &str {
        &self.idempotency_key
    }

    /// Reports work done so far, 0 to 1 (values outside are clamped and
    /// counted in the run's stats).
    #[pyo3(signature = (fraction, message=None))]
    fn progress(&self, fraction: f64, message: Option<&str>) {
        self.progress.progress(fraction, message);
    }

    /// True once the run or this node is cancelled: stop soon after.
    #[getter]
    fn cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    fn __repr__(&self) -> String {
        format!(
            "TaskContext(node={:?}, function={:?}, quality={:?}, cancelled={})",
            self.node,
            self.function,
            self.quality.as_str(),
            self.cancel.is_cancelled()
        )
    }
}
