//! `Canvas`: a canvas shared with runs as `Arc<Mutex<reelgraph::Canvas>>`.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use pyo3::prelude::*;
use reelgraph::Op;

use crate::catalog::{PyCatalog, or_builtin};
use crate::convert::{JsonArg, serialize};
use crate::errors::core_err;

/// A canvas: nodes and edges, changed only by ops.
#[pyclass(module = "reelgraph._native", name = "Canvas", frozen)]
#[derive(Debug)]
pub struct PyCanvas {
    /// Shared with runs, which lock it only for one synchronous step.
    pub inner: Arc<Mutex<reelgraph::Canvas>>,
}

impl PyCanvas {
    fn wrap(canvas: reelgraph::Canvas) -> Self {
        PyCanvas {
            inner: Arc::new(Mutex::new(canvas)),
        }
    }

    /// The canvas, locked. A panic elsewhere cannot leave it half changed
    /// (`apply` changes nothing when it fails), so a poisoned lock is taken back.
    pub fn lock(&self) -> MutexGuard<'_, reelgraph::Canvas> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[pymethods]
impl PyCanvas {
    /// An empty canvas; `catalog` defaults to the built-in catalogue.
    #[new]
    #[pyo3(signature = (id, name, catalog = None))]
    fn new(id: &str, name: &str, catalog: Option<&PyCatalog>) -> PyResult<Self> {
        reelgraph::Canvas::try_new(or_builtin(catalog), id, name)
            .map(PyCanvas::wrap)
            .map_err(core_err)
    }

    /// Reads a canvas from its JSON document text.
    #[staticmethod]
    #[pyo3(signature = (text, catalog = None))]
    fn from_json(py: Python<'_>, text: &str, catalog: Option<&PyCatalog>) -> PyResult<Self> {
        let catalog = or_builtin(catalog);
        py.detach(|| reelgraph::Canvas::from_json(catalog, text))
            .map(PyCanvas::wrap)
            .map_err(core_err)
    }

    #[getter]
    fn id(&self) -> String {
        self.lock().id().to_owned()
    }

    #[getter]
    fn name(&self) -> String {
        self.lock().name().to_owned()
    }

    #[getter]
    fn revision(&self) -> u64 {
        self.lock().revision()
    }

    /// The canvas document as JSON text.
    fn to_json(&self, py: Python<'_>) -> String {
        py.detach(|| self.lock().to_json())
    }

    /// The canvas document as a dict.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let canvas = py.detach(|| serde_json::to_value(&*self.lock()));
        serialize(py, &canvas.map_err(|e| core_err(e.into()))?)
    }

    /// Applies ops atomically (a list of op dicts, one op dict, or JSON text)
    /// and returns the core's `Applied`: `{revision, inverse, event}`.
    fn apply<'py>(&self, py: Python<'py>, ops: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let ops = parse_ops(ops)?;
        let applied = py.detach(|| self.lock().apply(ops)).map_err(core_err)?;
        serialize(py, &applied)
    }

    fn __repr__(&self) -> String {
        let canvas = self.lock();
        format!(
            "<Canvas {:?} {:?}: {} nodes, {} edges, revision {}>",
            canvas.id(),
            canvas.name(),
            canvas.node_count(),
            canvas.edge_count(),
            canvas.revision()
        )
    }
}

/// Ops from JSON text, a list of op dicts or one op dict.
fn parse_ops(ops: &Bound<'_, PyAny>) -> PyResult<Vec<Op>> {
    match JsonArg::extract(ops, "ops")? {
        JsonArg::Text(text) => Op::parse_list(&text),
        JsonArg::Value(value @ serde_json::Value::Array(_)) => reelgraph::from_value(value),
        JsonArg::Value(one) => reelgraph::from_value(one).map(|op| vec![op]),
    }
    .map_err(core_err)
}
