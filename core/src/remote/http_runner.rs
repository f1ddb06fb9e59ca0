//! [`HttpRunner`]: a [`FunctionRunner`] whose tasks run on a server's workers.

use async_trait::async_trait;

use super::config::HttpRunnerConfig;
use crate::runner::{FunctionRunner, Outputs, Task, TaskContext, TaskError};

/// Runs each task on a remote farm: submits it to a server's task service
/// (`POST /v1/tasks`), follows its events, and returns its outputs or error.
#[derive(Debug, Clone)]
pub struct HttpRunner {
    config: HttpRunnerConfig,
}

impl HttpRunner {
    /// A runner for the server of `config`; makes no request yet.
    pub fn new(config: HttpRunnerConfig) -> crate::Result<HttpRunner> {
        Ok(HttpRunner { config })
    }

    pub fn config(&self) -> &HttpRunnerConfig {
        &self.config
    }
}

#[async_trait]
impl FunctionRunner for HttpRunner {
    async fn run(&self, task: Task, ctx: TaskContext) -> Result<Outputs, TaskError> {
        let _ = (task, ctx);
        todo!()
    }
}
