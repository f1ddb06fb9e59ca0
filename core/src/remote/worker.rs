//! [`Worker`]: claims a server's tasks and runs them through a runner.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::config::{WorkerConfig, WorkerStats};
use crate::runner::FunctionRunner;

/// Takes tasks from a server's queue and runs them with a local runner.
#[derive(Debug)]
pub struct Worker {
    config: WorkerConfig,
    runner: Arc<dyn FunctionRunner>,
}

impl Worker {
    /// A worker for the server of `config`, running tasks with `runner`.
    pub fn new(config: WorkerConfig, runner: Arc<dyn FunctionRunner>) -> crate::Result<Worker> {
        Ok(Worker { config, runner })
    }

    /// Claims and runs tasks until `stop` is cancelled.
    pub async fn run(&self, stop: CancellationToken) -> crate::Result<WorkerStats> {
        let _ = (stop, &self.config, &self.runner);
        todo!()
    }
}
