//! One task run by a Python function: the call, its result or exception as
//! the core's outputs or task error, and coroutines on the function loop.
//!
//! Every call happens on a thread of the call queue ([`crate::call_queue`]),
//! which holds the GIL only while Python code runs, so the runtime's workers
//! never wait for the GIL. A plain function runs there to its end; an
//! `async def` function's coroutine is handed to the function loop
//! ([`crate::function_loop`]).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use pyo3::exceptions::PyTimeoutError;
use pyo3::exceptions::asyncio::CancelledError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyType};
use reelgraph::runner::{Outputs, Task, TaskContext, TaskError, TaskErrorKind};
use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::task_context::PyTaskContext;
use crate::{call_queue, convert, function_loop};

/// How long a cancelled coroutine may take to finish its clean-up before the
/// task ends as `cancelled` anyway.
const COROUTINE_GRACE: Duration = Duration::from_secs(1);

/// A registered Python function and the name it was registered under.
#[derive(Debug)]
pub struct PyFunction {
    pub name: String,
    pub callable: Py<PyAny>,
}

type Outcome = Result<Outputs, TaskError>;

/// What calling the function gave: outputs or an error at once, or a
/// coroutine running on the function loop.
enum Started {
    Done(Outcome),
    Coroutine {
        result: oneshot::Receiver<Outcome>,
        future: Py<PyAny>,
    },
}

/// Runs `task` with `function`: what the core's local runner calls.
pub async fn call(function: Arc<PyFunction>, mut task: Task, ctx: TaskContext) -> Outcome {
    let cancel = ctx.cancel.clone();
    let (tx, mut starting) = oneshot::channel();
    let queued = call_queue::submit(Box::new(move |py| {
        let started = match py {
            Some(py) => start(py, &function, &mut task, ctx),
            None => Started::Done(Err(exiting())),
        };
        // Nobody waits when the task was cancelled meanwhile; the waiter
        // that took over cancels a coroutine.
        let _ = tx.send(started);
    }));
    if let Err(err) = queued {
        return Err(TaskError::permanent(format!(
            "no thread could be started to call the function: {err}"
        ))
        .with_hint("the process has too many threads; run fewer tasks at once"));
    }
    let started = tokio::select! {
        started = &mut starting => started.unwrap_or_else(|_| Started::Done(Err(lost()))),
        // A plain function cannot be stopped from outside; it sees
        // `ctx.cancelled` itself. The task is over either way, but a
        // coroutine the call hands over meanwhile is cancelled too.
        () = cancel.cancelled() => {
            tokio::spawn(async move {
                if let Ok(Started::Coroutine { future, .. }) = starting.await {
                    cancel_coroutine(future).await;
                }
            });
            return Err(TaskError::cancelled());
        }
    };
    let (mut result, future) = match started {
        Started::Done(outcome) => return outcome,
        Started::Coroutine { result, future } => (result, future),
    };
    tokio::select! {
        outcome = &mut result => outcome.unwrap_or_else(|_| Err(lost())),
        () = cancel.cancelled() => {
            cancel_coroutine(future).await;
            let _ = tokio::time::timeout(COROUTINE_GRACE, result).await;
            Err(TaskError::cancelled())
        }
    }
}

/// Cancels a coroutine's asyncio task on the function loop.
async fn cancel_coroutine(future: Py<PyAny>) {
    let cancelling = tokio::task::spawn_blocking(move || {
        Python::try_attach(|py| drop(future.bind(py).call_method0("cancel")));
    });
    let _ = cancelling.await;
}

fn exiting() -> TaskError {
    TaskError::cancelled().with_hint("the Python interpreter is shutting down")
}

fn lost() -> TaskError {
    TaskError::permanent("the function's coroutine ended without a result")
        .with_hint("the function loop stopped; run the canvas again")
}

/// Calls the function with `(params, ctx)` and looks at what came back.
fn start(py: Python<'_>, function: &PyFunction, task: &mut Task, ctx: TaskContext) -> Started {
    let called = convert::serialize(py, &task.params).and_then(|params| {
        let ctx = PyTaskContext::new(task, ctx.progress, ctx.cancel);
        function.callable.bind(py).call1((params, ctx))
    });
    let returned = match called {
        Ok(returned) => returned,
        Err(err) => return Started::Done(Err(task_error(py, &function.name, &err))),
    };
    // A dict is the usual answer, and no coroutine.
    let is_coroutine =
        !returned.is_instance_of::<PyDict>() && is_coroutine(py, &returned).unwrap_or(false);
    if !is_coroutine {
        return Started::Done(outputs(&function.name, &returned));
    }
    match submit(py, &function.name, &returned) {
        Ok((result, future)) => Started::Coroutine { result, future },
        Err(err) => Started::Done(Err(task_error(py, &function.name, &err))),
    }
}

/// Schedules a coroutine on the function loop; its outcome arrives on the
/// returned channel. Also returns its `concurrent.futures.Future` (to cancel).
fn submit(
    py: Python<'_>,
    name: &str,
    coroutine: &Bound<'_, PyAny>,
) -> PyResult<(oneshot::Receiver<Outcome>, Py<PyAny>)> {
    let event_loop = function_loop::get(py)?;
    let future = py
        .import("asyncio")?
        .call_method1("run_coroutine_threadsafe", (coroutine, event_loop))?;
    let (tx, rx) = oneshot::channel();
    let done = CoroutineDone {
        name: name.to_owned(),
        tx: Mutex::new(Some(tx)),
    };
    future.call_method1("add_done_callback", (done,))?;
    Ok((rx, future.unbind()))
}

/// The done-callback of a coroutine's future: sends its outcome on.
#[pyclass(frozen)]
#[derive(Debug)]
struct CoroutineDone {
    name: String,
    tx: Mutex<Option<oneshot::Sender<Outcome>>>,
}

#[pymethods]
impl CoroutineDone {
    fn __call__(&self, future: &Bound<'_, PyAny>) {
        let py = future.py();
        let outcome = match future.call_method0("result") {
            Ok(returned) => outputs(&self.name, &returned),
            Err(err) => Err(task_error(py, &self.name, &err)),
        };
        let tx = self.tx.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(tx) = tx {
            // The task may have ended already (cancelled): nobody waits.
            let _ = tx.send(outcome);
        }
    }
}

/// What the function returned, as outputs: a dict by output port name.
fn outputs(name: &str, returned: &Bound<'_, PyAny>) -> Outcome {
    if !returned.is_instance_of::<PyDict>() {
        let type_name = returned
            .get_type()
            .name()
            .map_or_else(|_| "an object".to_owned(), |n| n.to_string());
        return Err(TaskError::permanent(format!(
            "the function `{name}` returned {type_name}, not a dict of outputs"
        ))
        .with_hint(
            "return a dict with one entry per output port of the node, e.g. {\"image\": {...}}",
        ));
    }
    match convert::to_value(returned, "outputs") {
        Ok(Value::Object(outputs)) => Ok(outputs),
        Ok(_) => Err(TaskError::permanent(format!(
            "the function `{name}` returned outputs that are not a JSON object"
        ))),
        Err(err) => Err(TaskError::permanent(format!(
            "the function `{name}` returned outputs that cannot be stored: {err}"
        ))
        .with_hint("return JSON values only: str, int, float (finite), bool, None, list, dict")),
    }
}

/// A Python exception raised by the function as a task error: the kind its
/// class names (see `reelgraph.FunctionError`), else `permanent` with the
/// traceback in the details.
fn task_error(py: Python<'_>, name: &str, err: &PyErr) -> TaskError {
    let value = err.value(py);
    if let Ok(base) = function_error_class(py)
        && value.is_instance(base).unwrap_or(false)
    {
        let kind = value
            .getattr("kind")
            .and_then(|k| k.extract::<String>())
            .ok()
            .and_then(|k| reelgraph::from_value::<TaskErrorKind>(Value::String(k)).ok())
            .unwrap_or(TaskErrorKind::Permanent);
        let hint = value
            .getattr("hint")
            .and_then(|h| h.extract::<String>())
            .unwrap_or_default();
        return TaskError::new(kind, value.to_string()).with_hint(hint);
    }
    if err.is_instance_of::<CancelledError>(py) {
        return TaskError::cancelled();
    }
    if err.is_instance_of::<PyTimeoutError>(py) {
        return TaskError::new(TaskErrorKind::Timeout, value.to_string())
            .with_hint("raise the time limit of the call that timed out, or retry later");
    }
    let exception = value
        .get_type()
        .name()
        .map_or_else(|_| "Exception".to_owned(), |n| n.to_string());
    TaskError::permanent(format!("{exception}: {value}"))
        .with_hint(format!(
            "the function `{name}` raised {exception}; fix it (the traceback is in the details), \
             or raise reelgraph.TransientError for a failure worth retrying"
        ))
        .with_details(json!({"exception": exception, "traceback": traceback(py, err)}))
}

fn traceback(py: Python<'_>, err: &PyErr) -> String {
    let formatted = py.import("traceback").and_then(|tb| {
        tb.call_method1(
            "format_exception",
            (err.get_type(py), err.value(py), err.traceback(py)),
        )
    });
    formatted
        .and_then(|lines| lines.extract::<Vec<String>>())
        .map(|lines| lines.concat())
        .unwrap_or_default()
}

fn is_coroutine(py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<bool> {
    static ISCOROUTINE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    ISCOROUTINE
        .import(py, "asyncio", "iscoroutine")?
        .call1((value,))?
        .is_truthy()
}

fn function_error_class(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    static CLASS: PyOnceLock<Py<PyType>> = PyOnceLock::new();
    CLASS.import(py, "reelgraph._function_errors", "FunctionError")
}
