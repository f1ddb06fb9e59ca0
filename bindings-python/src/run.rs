//! `Run`: one run going on in the background: wait for it (blocking or
//! `await`), read its events, cancel it or one node, look at its state.

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use reelgraph::exec::{Run, RunHandle, RunHub, RunReport};
use serde::Serialize;

use crate::convert;
use crate::errors::core_err;
use crate::events::PyRunEvents;
use crate::run_end::RunEnd;

/// A run started by `Executor.start`. It goes on whether or not anybody
/// waits: `run.wait()` blocks until it ends and returns its report (Ctrl-C
/// cancels the run and raises `KeyboardInterrupt`); `await run` does the
/// same in asyncio; `for event in run` (or `run.events()`, also with `async
/// for`) reads its events once each, in order.
#[pyclass(name = "Run", module = "reelgraph", frozen)]
#[derive(Debug)]
pub struct PyRun {
    id: String,
    handle: RunHandle,
    hub: RunHub,
    end: RunEnd<RunReport>,
    events: Py<PyRunEvents>,
}

impl PyRun {
    pub fn new(py: Python<'_>, mut run: Run, hub: RunHub) -> PyResult<Self> {
        let id = run.id().to_owned();
        let handle = run.handle();
        // A fresh run always has its stream.
        let stream = run.events().ok_or_else(|| {
            pyo3::exceptions::PyRuntimeError::new_err("the run's events were taken already")
        })?;
        let end = RunEnd::spawn(run.finish(), vec![handle.clone()])?;
        let events = Py::new(py, PyRunEvents::new(stream, Arc::new(end.clone())))?;
        Ok(PyRun {
            id,
            handle,
            hub,
            end,
            events,
        })
    }
}

#[pymethods]
impl PyRun {
    #[getter]
    fn id(&self) -> &str {
        &self.id
    }

    /// Whether the run has ended.
    #[getter]
    fn done(&self) -> bool {
        self.end.outcome().is_some()
    }

    /// The report once the run has ended, else None.
    #[getter]
    fn report(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        self.end
            .outcome()
            .map(|report| report_to_py(py, &report))
            .transpose()
    }

    /// Blocks until the run ends and returns its report (a `RunReport`, a
    /// dict equal to the core's JSON). With `timeout` (seconds) raises
    /// `TimeoutError` if the run goes on longer; the run is not cancelled.
    #[pyo3(signature = (timeout=None))]
    fn wait(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Py<PyAny>> {
        let report = self.end.wait(py, timeout)?;
        report_to_py(py, &report)
    }

    /// Cancels the run: running tasks are told (`ctx.cancelled`, and an
    /// asyncio cancel for coroutines), nothing new starts.
    fn cancel(&self) {
        self.handle.cancel();
    }

    /// Cancels one node; what depends on it is skipped, other branches go
    /// on. False when the run does not run such a node.
    fn cancel_node(&self, node: &str) -> bool {
        self.handle.cancel_node(node)
    }

    /// The run's state as its events so far tell it: a dict with `state`,
    /// `overall`, `counts` and `nodes`.
    fn snapshot(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let snapshot = self.hub.snapshot(&self.id).map_err(core_err)?;
        json_to_py(py, &snapshot)
    }

    /// The run's events (the same iterator every call).
    fn events(&self, py: Python<'_>) -> Py<PyRunEvents> {
        self.events.clone_ref(py)
    }

    fn __iter__(&self, py: Python<'_>) -> Py<PyRunEvents> {
        self.events.clone_ref(py)
    }

    fn __await__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.end
            .awaitable(py, report_to_py)?
            .call_method0("__await__")
    }

    /// Follows the run to its end with a progress bar (tqdm: overall, and
    /// the nodes running with theirs; plain lines on stderr with
    /// `tqdm=False`) and returns the report.
    #[pyo3(signature = (tqdm=true))]
    fn progress(slf: &Bound<'_, Self>, tqdm: bool) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let follow = py.import("reelgraph._progress")?.getattr("follow")?;
        Ok(follow.call1((slf, tqdm))?.unbind())
    }

    fn _repr_html_(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match self.end.outcome() {
            Some(report) => report_to_py(py, &report)?
                .bind(py)
                .call_method0("_repr_html_")
                .map(Bound::unbind),
            None => Ok(pyo3::types::PyString::new(
                py,
                &format!("<p>run <code>{}</code> is still going</p>", self.id),
            )
            .into_any()
            .unbind()),
        }
    }

    fn __repr__(&self) -> String {
        let state = match self.end.outcome() {
            Some(report) => format!("{:?}", report.status).to_lowercase(),
            None => "running".to_owned(),
        };
        format!("Run(id={:?}, {state})", self.id)
    }
}

/// A core value as plain Python data, through the core's serde.
pub fn json_to_py(py: Python<'_>, value: &impl Serialize) -> PyResult<Py<PyAny>> {
    convert::serialize(py, value).map(Bound::unbind)
}

/// A report as a `reelgraph.RunReport`: a dict of the core's JSON that
/// shows itself as a table in Jupyter.
pub fn report_to_py(py: Python<'_>, report: &RunReport) -> PyResult<Py<PyAny>> {
    static CLASS: PyOnceLock<Py<pyo3::types::PyType>> = PyOnceLock::new();
    let class = CLASS.import(py, "reelgraph._report", "RunReport")?;
    Ok(class.call1((json_to_py(py, report)?,))?.unbind())
}
