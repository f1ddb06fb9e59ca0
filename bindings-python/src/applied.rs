//! `Applied`: what an apply, undo or redo returns, converted when read.
//!
//! An apply of 100,000 ops returns 100,000 inverse ops and an event with
//! 100,000 ops; making Python dicts of them costs more than the apply
//! itself, so they are made only when a caller asks.

use pyo3::exceptions::PyKeyError;
use pyo3::prelude::*;

use crate::convert::{serialize, str_arg};

/// The core's `Applied`: `revision`, `inverse` (the ops that undo the
/// apply) and `event` (the `canvas_changed` event). `applied["inverse"]`
/// reads like the dict `to_dict()` returns.
#[pyclass(module = "reelgraph._native", name = "Applied", frozen)]
#[derive(Debug)]
pub struct PyApplied {
    inner: reelgraph::Applied,
}

impl From<reelgraph::Applied> for PyApplied {
    fn from(inner: reelgraph::Applied) -> Self {
        PyApplied { inner }
    }
}

#[pymethods]
impl PyApplied {
    /// The canvas revision after the change.
    #[getter]
    fn revision(&self) -> u64 {
        self.inner.revision
    }

    /// The ops that undo the change, in the order to apply them.
    #[getter]
    fn inverse<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        serialize(py, &self.inner.inverse)
    }

    /// The change event, as the core writes it.
    #[getter]
    fn event<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        serialize(py, &self.inner.event)
    }

    /// `{revision, inverse, event}`, as the core writes it.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        serialize(py, &self.inner)
    }

    fn __getitem__<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        match str_arg(key, "key")?.as_str() {
            "revision" => Ok(self.revision().into_pyobject(py)?.into_any()),
            "inverse" => self.inverse(py),
            "event" => self.event(py),
            other => Err(PyKeyError::new_err(format!(
                "Applied has `revision`, `inverse` and `event`, not `{other}`"
            ))),
        }
    }

    fn keys(&self) -> [&'static str; 3] {
        ["revision", "inverse", "event"]
    }

    fn __repr__(&self) -> String {
        format!(
            "<Applied revision {}: {} inverse ops>",
            self.inner.revision,
            self.inner.inverse.len()
        )
    }
}
