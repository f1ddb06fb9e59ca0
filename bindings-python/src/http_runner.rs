//! `HttpRunner`: a runner whose tasks go to a server's task service, where
//! remote workers do them.

use std::sync::Arc;
use std::time::Duration;

use pyo3::prelude::*;
use reelgraph::remote::{HttpRunner, HttpRunnerConfig};

use crate::errors::core_err;

/// Sends each task of a run to the task service of the server at `server`
/// (its base URL, e.g. `http://farm.local:8080`), with an API key of the
/// `run` scope, and returns what a worker made of it. Taken wherever a
/// runner is (`Executor(HttpRunner(...))`). `priority` is every task's,
/// from -1000 to 1000; `request_timeout_ms` bounds one request (default 30
/// s); `give_up_after_ms` is how long a task keeps trying a server it
/// cannot reach before it fails as `transient` (default 60 s).
#[pyclass(name = "HttpRunner", module = "reelgraph", frozen)]
#[derive(Debug)]
pub struct PyHttpRunner {
    pub inner: Arc<HttpRunner>,
}

#[pymethods]
impl PyHttpRunner {
    #[new]
    #[pyo3(signature = (server, key, *, priority=0, request_timeout_ms=None, give_up_after_ms=None))]
    fn new(
        server: String,
        key: String,
        priority: i32,
        request_timeout_ms: Option<u64>,
        give_up_after_ms: Option<u64>,
    ) -> PyResult<Self> {
        let mut config = HttpRunnerConfig::new(server, key).with_priority(priority);
        if let Some(ms) = request_timeout_ms {
            config = config.with_request_timeout(Duration::from_millis(ms));
        }
        if let Some(ms) = give_up_after_ms {
            config = config.with_give_up_after(Duration::from_millis(ms));
        }
        Ok(PyHttpRunner {
            inner: Arc::new(HttpRunner::new(config).map_err(core_err)?),
        })
    }

    /// The server's base URL.
    #[getter]
    fn server(&self) -> String {
        self.inner.config().server.clone()
    }

    fn __repr__(&self) -> String {
        // The key stays out of reprs and logs.
        format!("HttpRunner(server={:?})", self.inner.config().server)
    }
}
