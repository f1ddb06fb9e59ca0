//! Run events in Python: typed `Event` objects over the core's events, and
//! the iterator over a run's (or a batch's) stream, blocking or async.

use std::sync::{Arc, OnceLock};

use pyo3::exceptions::{PyAttributeError, PyStopAsyncIteration};
use pyo3::prelude::*;
use reelgraph::exec::{RunEvent, RunEvents};
use serde_json::Value;

use crate::run_end::Stop;
use crate::{convert, waiting};

/// One run event: `event.type`, `event.seq`, `event.run_id`, `event.ts` and
/// the fields of its type as attributes (`event.node`, `event.progress`,
/// `event.outputs`, ...); `event.to_dict()` is the core's JSON of it.
#[pyclass(name = "Event", module = "reelgraph", frozen)]
#[derive(Debug)]
pub struct PyEvent {
    event: RunEvent,
    /// The event as JSON, made when first asked for.
    json: OnceLock<Value>,
}

impl PyEvent {
    fn json(&self) -> &Value {
        self.json.get_or_init(|| {
            // Every event serialises (the core's own tests hold it to that).
            serde_json::to_value(&self.event).unwrap_or(Value::Null)
        })
    }

    fn field(&self, name: &str) -> Option<&Value> {
        self.json().get(name)
    }
}

#[pymethods]
impl PyEvent {
    #[getter]
    fn r#type(&self) -> &str {
        self.field("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    #[getter]
    fn seq(&self) -> u64 {
        self.event.seq
    }

    #[getter]
    fn run_id(&self) -> &str {
        &self.event.run_id
    }

    /// The time of the event, as the core writes it (RFC 3339, UTC).
    #[getter]
    fn ts(&self) -> &str {
        self.field("ts").and_then(Value::as_str).unwrap_or_default()
    }

    /// The node the event is about, or None for run-level events.
    #[getter]
    fn node(&self) -> Option<&str> {
        self.field("node").and_then(Value::as_str)
    }

    fn __getattr__(&self, py: Python<'_>, name: &str) -> PyResult<Py<PyAny>> {
        match self.field(name) {
            Some(value) => convert::serialize(py, value).map(Bound::unbind),
            None => Err(PyAttributeError::new_err(format!(
                "a `{}` event has no field `{name}`; see event.to_dict() for the fields it has",
                self.r#type()
            ))),
        }
    }

    /// The event as the core's JSON (a dict), the same in every language.
    fn to_dict(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        convert::serialize(py, self.json()).map(Bound::unbind)
    }

    fn __repr__(&self) -> String {
        match self.node() {
            Some(node) => format!(
                "Event(type={:?}, seq={}, node={node:?})",
                self.r#type(),
                self.event.seq
            ),
            None => format!("Event(type={:?}, seq={})", self.r#type(), self.event.seq),
        }
    }
}

impl From<RunEvent> for PyEvent {
    fn from(event: RunEvent) -> Self {
        PyEvent {
            event,
            json: OnceLock::new(),
        }
    }
}

/// A run's events in `seq` order, to the last: `for event in run.events()`
/// blocks between events; `async for event in run.events()` awaits them.
/// Both read the one stream, so each event comes out once. A Ctrl-C while a
/// blocking loop waits cancels the run.
#[pyclass(name = "RunEvents", module = "reelgraph", frozen)]
pub struct PyRunEvents {
    stream: Arc<tokio::sync::Mutex<RunEvents>>,
    end: Arc<dyn Stop>,
}

impl std::fmt::Debug for PyRunEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RunEvents")
    }
}

impl PyRunEvents {
    pub fn new(stream: RunEvents, end: Arc<dyn Stop>) -> Self {
        PyRunEvents {
            stream: Arc::new(tokio::sync::Mutex::new(stream)),
            end,
        }
    }
}

#[pymethods]
impl PyRunEvents {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<PyEvent>> {
        // Events come in batches: those already here are taken without
        // releasing the GIL.
        if let Ok(mut stream) = self.stream.try_lock()
            && let Some(event) = stream.try_next()
        {
            return Ok(Some(event.into()));
        }
        let stream = self.stream.clone();
        let mut next = Box::pin(async move { stream.lock().await.next().await });
        match waiting::block_on(py, &mut next) {
            Ok(event) => Ok(event.map(PyEvent::from)),
            Err(interrupt) => {
                self.end.stop(py);
                Err(interrupt)
            }
        }
    }

    fn __aiter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __anext__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        if let Ok(mut stream) = self.stream.try_lock()
            && let Some(event) = stream.try_next()
        {
            return waiting::ready(py, Py::new(py, PyEvent::from(event))?.into_any());
        }
        let stream = self.stream.clone();
        let next = async move { stream.lock().await.next().await };
        waiting::awaitable(py, next, |py, event: Option<RunEvent>| match event {
            Some(event) => Ok(Py::new(py, PyEvent::from(event))?.into_any()),
            None => Err(PyStopAsyncIteration::new_err(())),
        })
    }
}
