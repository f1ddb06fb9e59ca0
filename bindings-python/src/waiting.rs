//! Waiting on the core from Python, both ways: blocking (the GIL released,
//! Ctrl-C still heard) and as an asyncio awaitable on the caller's loop.

use std::future::Future;
use std::time::Duration;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use pyo3::exceptions::PyRuntimeError;
use pyo3::exceptions::asyncio::CancelledError;
use pyo3::prelude::*;

use crate::errors::core_err;

/// The binding's runtime (made on first use, and again after a fork).
pub fn runtime() -> PyResult<Arc<tokio::runtime::Runtime>> {
    crate::runtime::runtime().map_err(core_err)
}

/// How often a blocking wait takes the GIL back to run signal handlers: short
/// enough that Ctrl-C feels immediate, long enough to cost nothing.
const SIGNAL_POLL: Duration = Duration::from_millis(50);

/// Runs `future` to its end on the binding's runtime with the GIL released.
/// Every [`SIGNAL_POLL`] the GIL is taken to run Python's signal handlers; an
/// exception they raise (`KeyboardInterrupt`) is returned, and `future` is
/// left unfinished for the caller to clean up after.
pub fn block_on<F>(py: Python<'_>, future: &mut std::pin::Pin<Box<F>>) -> PyResult<F::Output>
where
    F: Future + Send + ?Sized,
    F::Output: Send,
{
    let runtime = runtime()?;
    loop {
        let polled = py.detach(|| {
            runtime.block_on(async { tokio::time::timeout(SIGNAL_POLL, future.as_mut()).await })
        });
        match polled {
            Ok(output) => return Ok(output),
            Err(_elapsed) => py.check_signals()?,
        }
    }
}

/// Like [`block_on`], without hearing signals: for the short clean-up after
/// an interrupt (cancelling a run), which must not be interrupted again.
pub fn block_on_quietly<F: Future + Send>(py: Python<'_>, future: F) -> PyResult<F::Output>
where
    F::Output: Send,
{
    let runtime = runtime()?;
    Ok(py.detach(|| runtime.block_on(future)))
}

/// An asyncio future of the caller's running loop that `future`'s output,
/// made into a Python object by `convert`, resolves.
///
/// The wait happens on the loop's default executor (a thread Python owns, so
/// nothing outside Python takes the GIL to wake the loop, which would race
/// with the interpreter's exit); an awaiting task that is cancelled stops
/// the wait within [`SIGNAL_POLL`], so `asyncio.run` never hangs on it.
pub fn awaitable<'py, F, T, C>(
    py: Python<'py>,
    future: F,
    convert: C,
) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
    C: FnOnce(Python<'_>, T) -> PyResult<Py<PyAny>> + Send + 'static,
{
    let event_loop = py
        .import("asyncio")?
        .call_method0("get_running_loop")
        .map_err(|_| {
            PyRuntimeError::new_err(
                "no asyncio loop is running in this thread; await this from a coroutine \
                 (e.g. inside asyncio.run(...)), or use the blocking call without `_async`",
            )
        })?;
    let finishing: Finishing = Box::pin(async move {
        let output = future.await;
        Box::new(move |py: Python<'_>| convert(py, output)) as Finish
    });
    let wait = Py::new(
        py,
        BlockingWait {
            future: Mutex::new(Some(finishing)),
            abandoned: Arc::new(AtomicBool::new(false)),
        },
    )?;
    let abandon = Abandon(wait.get().abandoned.clone());
    let py_future = event_loop.call_method1("run_in_executor", (py.None(), wait))?;
    py_future.call_method1("add_done_callback", (abandon,))?;
    Ok(py_future)
}

/// An already resolved asyncio future of the caller's running loop.
pub fn ready<'py>(py: Python<'py>, value: Py<PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let future = py
        .import("asyncio")?
        .call_method0("get_running_loop")?
        .call_method0("create_future")?;
    future.call_method1("set_result", (value,))?;
    Ok(future)
}

type Finish = Box<dyn FnOnce(Python<'_>) -> PyResult<Py<PyAny>> + Send>;
type Finishing = std::pin::Pin<Box<dyn Future<Output = Finish> + Send>>;

/// The blocking half of [`awaitable`], called on an executor thread.
#[pyclass(frozen)]
struct BlockingWait {
    future: Mutex<Option<Finishing>>,
    abandoned: Arc<AtomicBool>,
}

impl std::fmt::Debug for BlockingWait {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BlockingWait")
    }
}

#[pymethods]
impl BlockingWait {
    fn __call__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let taken = self.future.lock().unwrap_or_else(|e| e.into_inner()).take();
        let Some(mut future) = taken else {
            return Err(PyRuntimeError::new_err("this wait was used already"));
        };
        let runtime = runtime()?;
        loop {
            let polled = py.detach(|| {
                runtime.block_on(async { tokio::time::timeout(SIGNAL_POLL, future.as_mut()).await })
            });
            match polled {
                Ok(finish) => return finish(py),
                Err(_elapsed) if self.abandoned.load(Ordering::Relaxed) => {
                    return Err(CancelledError::new_err("nobody awaits this any more"));
                }
                Err(_elapsed) => {}
            }
        }
    }
}

/// Tells the blocking half that its awaiter was cancelled.
#[pyclass(frozen)]
#[derive(Debug)]
struct Abandon(Arc<AtomicBool>);

#[pymethods]
impl Abandon {
    fn __call__(&self, future: &Bound<'_, PyAny>) -> PyResult<()> {
        if future.call_method0("cancelled")?.is_truthy()? {
            self.0.store(true, Ordering::Relaxed);
        }
        Ok(())
    }
}
