//! `Batch`: several runs sharing one executor's cap and one event stream.

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::PyList;
use reelgraph::exec::{Batch, RunHub, RunReport};

use crate::errors::core_err;
use crate::events::PyRunEvents;
use crate::run::{json_to_py, report_to_py};
use crate::run_end::RunEnd;

/// Runs started by `Executor.batch`. `batch.wait()` (or `await batch`)
/// returns their reports in the order of the jobs; `batch.events()` reads
/// the events of all of them (tell them apart by `event.run_id`).
#[pyclass(name = "Batch", module = "reelgraph", frozen)]
#[derive(Debug)]
pub struct PyBatch {
    #[pyo3(get)]
    run_ids: Vec<String>,
    hub: RunHub,
    end: RunEnd<Vec<RunReport>>,
    events: Py<PyRunEvents>,
}

impl PyBatch {
    pub fn new(py: Python<'_>, mut batch: Batch, hub: RunHub) -> PyResult<Self> {
        let handles = batch.handles();
        let run_ids = handles.iter().map(|h| h.run_id().to_owned()).collect();
        let stream = batch.events().ok_or_else(|| {
            pyo3::exceptions::PyRuntimeError::new_err("the batch's events were taken already")
        })?;
        let end = RunEnd::spawn(batch.finish(), handles)?;
        let events = Py::new(py, PyRunEvents::new(stream, Arc::new(end.clone())))?;
        Ok(PyBatch {
            run_ids,
            hub,
            end,
            events,
        })
    }
}

#[pymethods]
impl PyBatch {
    /// Blocks until every run ends; their reports in the order of the jobs.
    #[pyo3(signature = (timeout=None))]
    fn wait(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Py<PyAny>> {
        let reports = self.end.wait(py, timeout)?;
        reports_to_py(py, &reports)
    }

    /// Cancels every run of the batch.
    fn cancel(&self) {
        self.end.cancel();
    }

    /// The state of one run of the batch (see `Run.snapshot`).
    fn snapshot(&self, py: Python<'_>, run_id: &str) -> PyResult<Py<PyAny>> {
        let snapshot = self.hub.snapshot(run_id).map_err(core_err)?;
        json_to_py(py, &snapshot)
    }

    fn events(&self, py: Python<'_>) -> Py<PyRunEvents> {
        self.events.clone_ref(py)
    }

    fn __iter__(&self, py: Python<'_>) -> Py<PyRunEvents> {
        self.events.clone_ref(py)
    }

    fn __await__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.end
            .awaitable(py, reports_to_py)?
            .call_method0("__await__")
    }

    fn __repr__(&self) -> String {
        format!("Batch(runs={})", self.run_ids.len())
    }
}

// A `&Vec`: `RunEnd::awaitable` hands over a reference to its outcome.
#[allow(clippy::ptr_arg)]
fn reports_to_py(py: Python<'_>, reports: &Vec<RunReport>) -> PyResult<Py<PyAny>> {
    let reports = reports
        .iter()
        .map(|report| report_to_py(py, report))
        .collect::<PyResult<Vec<_>>>()?;
    Ok(PyList::new(py, reports)?.into_any().unbind())
}
