//! `Autosaver`: saves a canvas to a store after a quiet period, at least
//! every so often while edits keep coming, and on close.

use std::sync::Mutex;

use pyo3::prelude::*;
use pyo3::types::PyList;
use reelgraph::store::{AutosaveEvent, AutosaveOptions, Autosaver, autosave};
use serde_json::json;
use tokio::sync::mpsc;

use crate::canvas::PyCanvas;
use crate::convert;
use crate::errors::core_err;
use crate::run_end::RunEnd;
use crate::stores::PyCanvasStore;

/// Saves `canvas` to `store` (which holds it at `stored_revision`, by
/// default the canvas's revision now) once no change came for
/// `quiet_period_ms`, and at least every `max_interval_ms` while changes
/// keep coming. Call `touch()` after each apply; `close()` (or leaving a
/// `with` block) saves what is pending. A conflict stops saving until
/// `rebased(revision)`; `events()` says what happened.
#[pyclass(name = "Autosaver", module = "reelgraph", frozen)]
#[derive(Debug)]
pub struct PyAutosaver {
    saver: Autosaver,
    events: Mutex<mpsc::UnboundedReceiver<AutosaveEvent>>,
    end: RunEnd<()>,
}

#[pymethods]
impl PyAutosaver {
    #[new]
    #[pyo3(signature = (canvas, store, stored_revision=None, quiet_period_ms=2000, max_interval_ms=10000))]
    fn new(
        canvas: &PyCanvas,
        store: &PyCanvasStore,
        stored_revision: Option<u64>,
        quiet_period_ms: u64,
        max_interval_ms: u64,
    ) -> PyResult<Self> {
        let options: AutosaveOptions = reelgraph::from_value(json!({
            "quiet_period_ms": quiet_period_ms,
            "max_interval_ms": max_interval_ms,
        }))
        .map_err(core_err)?;
        let stored_revision = stored_revision.unwrap_or_else(|| canvas.lock().revision());
        let (saver, task, events) = autosave(
            canvas.inner.clone(),
            store.inner.clone(),
            stored_revision,
            options,
        );
        Ok(PyAutosaver {
            saver,
            events: Mutex::new(events),
            end: RunEnd::spawn(task, Vec::new())?,
        })
    }

    /// The canvas changed: call after each successful apply.
    fn touch(&self) {
        self.saver.touch();
    }

    /// After a conflict: the canvas now builds on stored `revision`.
    fn rebased(&self, revision: u64) {
        self.saver.rebased(revision);
    }

    /// Saves what is pending and stops; blocks until that save is done.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        self.saver.close();
        self.end.wait(py, None).map(drop)
    }

    /// What the autosaver did since the last call: dicts of the core's
    /// autosave events (`saved`, `conflict`, `failed`).
    fn events<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        let mut events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        while let Ok(event) = events.try_recv() {
            list.append(convert::serialize(py, &event)?)?;
        }
        Ok(list)
    }

    fn __enter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }
}
