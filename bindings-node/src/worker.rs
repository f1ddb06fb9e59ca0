//! `Worker`: serves a runner's functions to a server's task service: it
//! claims tasks, runs them with the runner (JavaScript functions keep their
//! progress, `AbortSignal` and error mapping) and reports back.

use std::sync::{Arc, Mutex, PoisonError};

use napi::Env;
use napi::bindgen_prelude::{Either, PromiseRaw, Unknown};
use napi_derive::napi;
use reelgraph::remote::{WorkerConfig, WorkerStats};
use tokio_util::sync::CancellationToken;

use crate::convert::{string_arg, to_text};
use crate::errors::js;
use crate::http_runner::HttpRunner;
use crate::runner::LocalRunner;
use crate::runner_arg::runner_of;

#[napi]
#[derive(Debug)]
pub struct Worker {
    inner: Arc<reelgraph::remote::Worker>,
    /// Cancelled by `stop()`, for good: a stopped worker stays stopped.
    stop: CancellationToken,
    /// What the last run did, once it ended.
    stats: Arc<Mutex<WorkerStats>>,
}

#[napi]
impl Worker {
    /// A worker with the core's `WorkerConfig` (JSON text: `{server, key,
    /// name, functions, concurrency, claim_wait_ms, grace_ms,
    /// request_timeout_ms}`) running tasks with `runner`.
    #[napi(constructor)]
    pub fn new(
        config_json: Unknown<'_>,
        runner: Either<&LocalRunner, &HttpRunner>,
    ) -> napi::Result<Self> {
        let config: WorkerConfig = js(reelgraph::from_json(&string_arg(config_json, "options")?))?;
        Ok(Worker {
            inner: Arc::new(js(reelgraph::remote::Worker::new(
                config,
                runner_of(runner),
            ))?),
            stop: CancellationToken::new(),
            stats: Arc::default(),
        })
    }

    /// Serves tasks until `stop()`; resolves to the stats (JSON text) once
    /// running tasks are done or handed back.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn run<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, String>> {
        let (worker, stop, stats) = (self.inner.clone(), self.stop.clone(), self.stats.clone());
        env.spawn_future(async move {
            let done = js(worker.run(stop).await)?;
            *stats.lock().unwrap_or_else(PoisonError::into_inner) = done;
            to_text(&done)
        })
    }

    /// No more claims; running tasks get the grace period to finish. Also
    /// stops a `run()` that has not begun yet.
    #[napi]
    pub fn stop(&self) {
        self.stop.cancel();
    }

    /// What the last run did (JSON text of `WorkerStats`), all zero before
    /// a run ended.
    #[napi]
    pub fn stats_json(&self) -> napi::Result<String> {
        to_text(&*self.stats.lock().unwrap_or_else(PoisonError::into_inner))
    }
}
