//! `serve --runner remote`: the server's own runs hand their tasks to its
//! task service, in-process (no HTTP hop), and workers anywhere claim them.
//! What a run sees is what an `HttpRunner` client sees: the same
//! submission (idempotent by content key), progress and outcome.

use async_trait::async_trait;
use futures_util::StreamExt;
use reelgraph::remote::{TaskEvent, TaskSubmission};
use reelgraph::runner::{FunctionRunner, Outputs, Task, TaskContext, TaskError};

use crate::serve::api_error::ApiError;
use crate::serve::tasks::Tasks;

/// A runner whose tasks go to the server's task service.
#[derive(Debug, Clone)]
pub struct RemoteRunner {
    tasks: Tasks,
}

impl RemoteRunner {
    pub fn new(tasks: Tasks) -> RemoteRunner {
        RemoteRunner { tasks }
    }
}

#[async_trait]
impl FunctionRunner for RemoteRunner {
    async fn run(&self, task: Task, ctx: TaskContext) -> Result<Outputs, TaskError> {
        // The task service frees the key of work that ended without a
        // result, so submitting it again runs it again.
        let record = self
            .tasks
            .submit(TaskSubmission::for_task(task, 0))
            .await
            .map_err(task_error)?;
        if let Some(end) = record.outcome() {
            return end;
        }
        let mut events = self
            .tasks
            .subscribe(&record.id, 0)
            .await
            .map_err(task_error)?;
        loop {
            tokio::select! {
                event = events.next() => {
                    let Some(event) = event else {
                        // The service is closing (shutdown): the task stays
                        // queued, and a run started again finds it.
                        return Err(TaskError::transient("the task service closed before the task ended"));
                    };
                    if let TaskEvent::TaskProgress { progress, message, .. } = &*event {
                        ctx.progress.progress(*progress, message.as_deref());
                    }
                    if let Some(end) = event.outcome() {
                        return end;
                    }
                }
                () = ctx.cancel.cancelled() => {
                    // A task that ended meanwhile has nothing to cancel.
                    if let Err(e) = self.tasks.cancel(&record.id).await {
                        tracing::debug!(task = %record.id, error = %e.body.message, "task not cancelled");
                    }
                    return Err(TaskError::cancelled());
                }
            }
        }
    }

    /// Any function: a task no worker serves waits in the queue.
    fn knows(&self, _function: &str) -> bool {
        true
    }
}

/// The service's refusal as the task's error: its own failure is worth a
/// retry, a refused submission is not.
fn task_error(error: ApiError) -> TaskError {
    let failed = if error.status.is_server_error() {
        TaskError::transient(error.body.message)
    } else {
        TaskError::invalid_input(format!(
            "the task service refused the task ({}): {}",
            error.body.code, error.body.message
        ))
    };
    failed.with_hint(error.body.hint)
}
