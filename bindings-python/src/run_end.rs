//! The end of a run (or a batch of runs) that goes on the binding's runtime:
//! waited for blocking, with a time limit and Ctrl-C, or awaited.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use pyo3::exceptions::PyTimeoutError;
use pyo3::prelude::*;
use reelgraph::exec::RunHandle;
use tokio::sync::watch;

use crate::waiting;

/// How long a run interrupted by Ctrl-C may take to wind down before the
/// interrupt is raised anyway (its tasks are told at once; only a function
/// that ignores its cancellation takes long).
const WIND_DOWN: Duration = Duration::from_secs(30);

/// The outcome `T` of work spawned on the runtime, and the handles that
/// cancel it. Cheap to clone.
#[derive(Debug, Clone)]
pub struct RunEnd<T> {
    done: watch::Receiver<Option<Arc<T>>>,
    handles: Arc<[RunHandle]>,
}

impl<T: Send + Sync + 'static> RunEnd<T> {
    /// Spawns `finish` on the binding's runtime: the work goes on whether or
    /// not anybody waits for it.
    pub fn spawn(
        finish: impl Future<Output = T> + Send + 'static,
        handles: Vec<RunHandle>,
    ) -> PyResult<Self> {
        let (tx, done) = watch::channel(None);
        waiting::runtime()?.spawn(async move {
            let outcome = finish.await;
            tx.send_replace(Some(Arc::new(outcome)));
        });
        Ok(RunEnd {
            done,
            handles: handles.into(),
        })
    }

    /// The outcome, once the work has ended.
    pub fn outcome(&self) -> Option<Arc<T>> {
        self.done.borrow().clone()
    }

    pub fn cancel(&self) {
        self.handles.iter().for_each(RunHandle::cancel);
    }

    /// Blocks until the end, or `timeout` seconds (`TimeoutError`; the work
    /// goes on). A `KeyboardInterrupt` cancels the work, waits for it to
    /// wind down, and is raised.
    pub fn wait(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Arc<T>> {
        let limit = timeout
            .map(Duration::try_from_secs_f64)
            .transpose()
            .map_err(|_| {
                pyo3::exceptions::PyValueError::new_err(
                    "argument 'timeout': expected a number of seconds, at least 0, or None",
                )
            })?;
        let mut done = self.done.clone();
        let mut ended = Box::pin(async move {
            let ended = done.wait_for(Option::is_some);
            let seen = match limit {
                Some(limit) => match tokio::time::timeout(limit, ended).await {
                    Ok(seen) => seen,
                    Err(_) => return Waited::TimedOut,
                },
                None => ended.await,
            };
            match seen.ok().and_then(|outcome| outcome.clone()) {
                Some(outcome) => Waited::Ended(outcome),
                None => Waited::Lost,
            }
        });
        match waiting::block_on(py, &mut ended) {
            Ok(Waited::Ended(outcome)) => Ok(outcome),
            Ok(Waited::TimedOut) => Err(PyTimeoutError::new_err(format!(
                "the run is still going after {} s; wait again, or cancel it",
                timeout.unwrap_or_default()
            ))),
            Ok(Waited::Lost) => Err(lost()),
            Err(interrupt) => {
                self.stop(py);
                Err(interrupt)
            }
        }
    }

    /// Cancels the work and waits (without hearing signals) until it ends.
    pub fn stop(&self, py: Python<'_>) {
        self.cancel();
        let mut done = self.done.clone();
        // Without a runtime there is nothing running to wait for.
        let _ = waiting::block_on_quietly(py, async move {
            let _ = tokio::time::timeout(WIND_DOWN, done.wait_for(Option::is_some)).await;
        });
    }

    /// An asyncio future of the caller's loop resolved with the outcome,
    /// made into Python by `convert`.
    pub fn awaitable<'py>(
        &self,
        py: Python<'py>,
        convert: fn(Python<'_>, &T) -> PyResult<Py<PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mut done = self.done.clone();
        let ended = async move {
            done.wait_for(Option::is_some)
                .await
                .ok()
                .and_then(|outcome| outcome.clone())
        };
        waiting::awaitable(
            py,
            ended,
            move |py, outcome: Option<Arc<T>>| match outcome {
                Some(outcome) => convert(py, &outcome),
                None => Err(pyo3::exceptions::PyRuntimeError::new_err(
                    "the run's task was lost (the runtime shut down); start the run again",
                )),
            },
        )
    }
}

/// How a blocking wait ended.
enum Waited<T> {
    Ended(Arc<T>),
    TimedOut,
    Lost,
}

/// The task driving the work ended without an outcome (it panicked, or the
/// runtime shut down).
fn lost() -> PyErr {
    pyo3::exceptions::PyRuntimeError::new_err(
        "the run's task ended without a report (see the log); start the run again",
    )
}

/// Work that a Ctrl-C during event iteration stops.
pub trait Stop: Send + Sync {
    fn stop(&self, py: Python<'_>);
}

impl<T: Send + Sync + 'static> Stop for RunEnd<T> {
    fn stop(&self, py: Python<'_>) {
        RunEnd::stop(self, py);
    }
}
