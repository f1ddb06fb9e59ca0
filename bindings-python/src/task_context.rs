//! What a Python runner function gets besides its params: progress,
//! cancellation, and what the task is.

use pyo3::prelude::*;
use reelgraph::runner::{ProgressSink, Task};
use tokio_util::sync::CancellationToken;

/// The `ctx` of a runner function: `ctx.progress(fraction, message=None)`,
/// `ctx.cancelled` (poll it in long loops), and what the task is.
#[pyclass(name = "TaskContext", module = "reelgraph", frozen)]
#[derive(Debug)]
pub struct PyTaskContext {
    progress: ProgressSink,
    cancel: CancellationToken,
    #[pyo3(get)]
    run_id: String,
    #[pyo3(get)]
    node: String,
    #[pyo3(get)]
    function: String,
    #[pyo3(get)]
    quality: String,
    #[pyo3(get)]
    idempotency_key: String,
}

impl PyTaskContext {
    pub fn new(task: &Task, progress: ProgressSink, cancel: CancellationToken) -> Self {
        PyTaskContext {
            progress,
            cancel,
            run_id: task.run_id.to_string(),
            node: task.node.to_string(),
            function: task.function.to_string(),
            quality: task.quality.as_str().to_owned(),
            idempotency_key: task.idempotency_key.clone(),
        }
    }
}

#[pymethods]
impl PyTaskContext {
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
            self.quality,
            self.cancel.is_cancelled()
        )
    }
}
