//! What a `runner` argument may be: a `LocalRunner` or an `HttpRunner`.

use std::sync::Arc;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use reelgraph::runner::FunctionRunner;

use crate::http_runner::PyHttpRunner;
use crate::runner::PyLocalRunner;

/// The core runner behind `runner`, or a `TypeError` naming the argument.
pub fn runner(runner: &Bound<'_, PyAny>) -> PyResult<Arc<dyn FunctionRunner>> {
    if let Ok(local) = runner.cast::<PyLocalRunner>() {
        return Ok(Arc::new(local.get().inner.clone()));
    }
    if let Ok(http) = runner.cast::<PyHttpRunner>() {
        return Ok(http.get().inner.clone());
    }
    Err(PyTypeError::new_err(format!(
        "argument 'runner': expected a LocalRunner or an HttpRunner, got {}",
        runner.get_type().name()?
    )))
}
