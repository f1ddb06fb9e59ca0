//! `Worker`: serves a runner's functions to a server's task service: it
//! claims tasks, runs them with the runner (Python functions keep their
//! progress, cancellation and error mapping) and reports back.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use pyo3::prelude::*;
use reelgraph::remote::{Worker, WorkerConfig, WorkerStats};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::errors::core_err;
use crate::{convert, runner_arg, waiting};

/// Claims tasks of `runner`'s functions (or of `functions`) from the server
/// at `server` with an API key of the `run` scope, at most `concurrency` at
/// once, and runs them with `runner`. `name` shows in each task's attempts
/// (default `HOST-PID`); `claim_wait_ms` is how long one claim waits on the
/// server for work (default 20 s); after `stop()` running tasks get
/// `grace_ms` to finish (default 10 s) before they are cancelled and handed
/// back; `request_timeout_ms` bounds one request (default 30 s).
///
/// `run()` blocks until `stop()` (from another thread) or Ctrl-C;
/// `await run_async()` is the same on asyncio. A stopped worker stays
/// stopped: make a new one to serve again.
#[pyclass(name = "Worker", module = "reelgraph", frozen)]
#[derive(Debug)]
pub struct PyWorker {
    inner: Arc<Worker>,
    stop: CancellationToken,
    /// What the last run did, once it ended.
    stats: Arc<Mutex<WorkerStats>>,
}

#[pymethods]
impl PyWorker {
    #[new]
    #[pyo3(signature = (server, key, runner, *, concurrency=4, name=None, functions=None,
                        claim_wait_ms=None, grace_ms=None, request_timeout_ms=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        server: String,
        key: String,
        runner: &Bound<'_, PyAny>,
        concurrency: u32,
        name: Option<String>,
        functions: Option<Vec<String>>,
        claim_wait_ms: Option<u64>,
        grace_ms: Option<u64>,
        request_timeout_ms: Option<u64>,
    ) -> PyResult<Self> {
        let runner = runner_arg::runner(runner)?;
        let mut config = WorkerConfig::new(server, key).with_concurrency(concurrency);
        if let Some(name) = name {
            config = config.with_name(name);
        }
        if let Some(functions) = functions {
            config = config.with_functions(functions);
        }
        if let Some(ms) = claim_wait_ms {
            config = config.with_claim_wait(Duration::from_millis(ms));
        }
        if let Some(ms) = grace_ms {
            config = config.with_grace(Duration::from_millis(ms));
        }
        if let Some(ms) = request_timeout_ms {
            config = config.with_request_timeout(Duration::from_millis(ms));
        }
        Ok(PyWorker {
            inner: Arc::new(Worker::new(config, runner).map_err(core_err)?),
            stop: CancellationToken::new(),
            stats: Arc::default(),
        })
    }

    /// Serves tasks until `stop()` or Ctrl-C, with the GIL released; returns
    /// the stats. Ctrl-C stops the worker as `stop()` does, waits for it to
    /// hand its tasks back, and raises `KeyboardInterrupt`. A server that
    /// cannot be reached or refuses the key raises its error.
    fn run<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let mut running = Box::pin(self.spawn()?);
        let ended = match waiting::block_on(py, &mut running) {
            Ok(ended) => ended,
            Err(interrupt) => {
                self.stop.cancel();
                let _ = waiting::block_on_quietly(py, running)?;
                return Err(interrupt);
            }
        };
        convert::serialize(py, &ended.map_err(core_err)?)
    }

    /// `run()` for asyncio: awaiting gives the stats. Cancelling the
    /// awaiting task stops the worker.
    fn run_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let running = self.spawn()?;
        let stop = self.stop.clone();
        let running = async move {
            // Dropped unfinished when the awaiter gives up: the worker then
            // winds down on its own.
            let stop_on_drop = stop.drop_guard();
            let ended = running.await;
            stop_on_drop.disarm();
            ended
        };
        waiting::awaitable(py, running, |py, ended| {
            Ok(convert::serialize(py, &ended.map_err(core_err)?)?.unbind())
        })
    }

    /// Stops the worker: no more claims; running tasks get `grace_ms` to
    /// finish. `run()` returns once they are done or handed back. Also
    /// stops a `run()` that has not begun yet.
    fn stop(&self) {
        self.stop.cancel();
    }

    /// What the last run did (`{claimed, completed, failed, lost,
    /// returned}`), all zero before a run ended.
    #[getter]
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let stats = *self.stats.lock().unwrap_or_else(PoisonError::into_inner);
        convert::serialize(py, &stats)
    }

    fn __repr__(&self) -> String {
        format!(
            "Worker(name={:?}, functions={:?}, stopped={})",
            self.inner.name(),
            self.inner.functions(),
            if self.stop.is_cancelled() {
                "True"
            } else {
                "False"
            }
        )
    }
}

impl PyWorker {
    /// Starts a run on the binding's runtime, where it goes on to its end
    /// even when nobody waits for it any more (it hands its tasks back).
    fn spawn(
        &self,
    ) -> PyResult<impl Future<Output = reelgraph::Result<WorkerStats>> + Send + 'static> {
        let (worker, stop, stats) = (self.inner.clone(), self.stop.clone(), self.stats.clone());
        let handle: JoinHandle<reelgraph::Result<WorkerStats>> =
            waiting::runtime()?.spawn(async move {
                let ended = worker.run(stop).await;
                if let Ok(done) = &ended {
                    *stats.lock().unwrap_or_else(PoisonError::into_inner) = *done;
                }
                ended
            });
        Ok(async move {
            handle.await.unwrap_or_else(|e| {
                Err(reelgraph::Error::Internal {
                    message: format!("the worker stopped unexpectedly: {e}"),
                })
            })
        })
    }
}
