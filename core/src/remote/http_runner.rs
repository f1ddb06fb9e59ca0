//! [`HttpRunner`]: a [`FunctionRunner`] whose tasks run on a server's workers.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use super::client::{Api, Backoff, CallError, Envelope};
use super::config::HttpRunnerConfig;
use super::wire::{TaskEvent, TaskRecord, TaskSubmission};
use crate::runner::{FunctionRunner, Outputs, ProgressSink, Task, TaskContext, TaskError};

/// Runs each task on a remote farm: submits it to a server's task service
/// (`POST /v1/tasks`), follows its events (reconnecting with
/// `Last-Event-ID` when the stream drops), relays its progress, and returns
/// its outputs or its error. A cancelled task is cancelled on the server
/// too, also when the cancel comes while its submit is in flight: the
/// runner waits for that request's answer (at most
/// [`HttpRunnerConfig::request_timeout`]) and cancels the task it made.
///
/// The task's idempotency key is the node's content key, so a retry, or a
/// run started again, finds the task already submitted instead of adding
/// one. A server that cannot be reached (down, 5xx, 429) is tried again for
/// [`HttpRunnerConfig::give_up_after`], then the task fails as `transient`:
/// wrap the runner in [`Resilience`](crate::runner::Resilience) for retries
/// and a circuit breaker. A refused key is `permanent`; a task the server
/// refuses is `invalid_input`.
///
/// ```no_run
/// # async fn example(canvas: std::sync::Arc<std::sync::Mutex<reelgraph::Canvas>>) -> reelgraph::Result<()> {
/// use reelgraph::exec::{Executor, RunOptions};
/// use reelgraph::remote::{HttpRunner, HttpRunnerConfig};
/// use reelgraph::runner::{Resilience, RetryPolicy};
///
/// let remote = HttpRunner::new(HttpRunnerConfig::new("http://farm.local:8080", "rg_..."))?;
/// let runner = Resilience::new().retry(RetryPolicy::default()).wrap(remote);
/// let run = Executor::new(runner).start(&canvas, RunOptions::default()).await?;
/// let report = run.finish().await;
/// # let _ = report; Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct HttpRunner {
    config: Arc<HttpRunnerConfig>,
    api: Api,
}

impl HttpRunner {
    /// A runner for the server of `config`; makes no request yet. Refuses
    /// a server URL that is not `http://`.
    pub fn new(config: HttpRunnerConfig) -> crate::Result<HttpRunner> {
        let api = Api::new(
            &config.server,
            &config.key,
            config.request_timeout,
            // Longer than the server's keep-alive period of event streams.
            config.request_timeout.max(Duration::from_secs(20)),
        )?;
        Ok(HttpRunner {
            config: Arc::new(config),
            api,
        })
    }

    pub fn config(&self) -> &HttpRunnerConfig {
        &self.config
    }

    /// Downloads a file that the farm's workers wrote into the server's
    /// results folder (`GET /v1/results/{path}`): `path` as a task's
    /// outputs name it, relative (`frames/3f2a_img_1a.png`), written to
    /// `to` with its folders made, under a temporary name first so `to`
    /// never holds half a file. A file the server does not have is
    /// `not_found`; a server that cannot be reached, or a file that
    /// cannot be written, is `io`.
    pub async fn download(&self, path: &str, to: &Path) -> crate::Result<()> {
        let mut segments = vec!["v1", "results"];
        segments.extend(path.split('/'));
        let bytes = match self.api.get_bytes(&segments).await {
            Ok(bytes) => bytes,
            Err(CallError::Refused { status: 404, .. }) => {
                return Err(crate::Error::NotFound {
                    kind: "result file",
                    id: path.to_owned(),
                });
            }
            Err(e) => {
                return Err(crate::Error::Io {
                    action: "download",
                    path: format!("{}/v1/results/{path}", self.api.server()),
                    message: e.to_string(),
                });
            }
        };
        write_whole(to, &bytes).map_err(|e| crate::Error::Io {
            action: "write",
            path: to.display().to_string(),
            message: e.to_string(),
        })
    }

    /// Submits, trying again while the server cannot be reached. A
    /// request once sent is answered (or times out) even when `cancel`
    /// fires meanwhile: it may have made the task, which the caller then
    /// cancels. Only the waits between tries end early.
    async fn submit(
        &self,
        submission: &TaskSubmission,
        cancel: &CancellationToken,
    ) -> Result<TaskRecord, TaskError> {
        let mut tries = Patience::new(self.config.give_up_after);
        loop {
            match self.api.post("/v1/tasks", submission, Duration::ZERO).await {
                Ok(record) => return Ok(record),
                Err(e) => tokio::select! {
                    again = tries.again(e, self.api.server()) => again?,
                    () = cancel.cancelled() => return Err(TaskError::cancelled()),
                },
            }
        }
    }

    /// Follows the task's events to its end.
    async fn follow(&self, id: &str, progress: &ProgressSink) -> Result<Outputs, TaskError> {
        let path = format!("/v1/tasks/{id}/events");
        let mut after: Option<u64> = None;
        let mut tries = Patience::new(self.config.give_up_after);
        loop {
            let error = match self.api.events(&path, after).await {
                Ok(mut events) => loop {
                    match events.next().await {
                        Ok(Some(sse)) => {
                            tries.reset();
                            if sse.event == "error" {
                                return Err(stream_error(&sse.data, self.api.server()));
                            }
                            if let Some(seq) = sse.id.as_deref().and_then(|id| id.parse().ok()) {
                                after = Some(seq);
                            }
                            let Ok(event) = serde_json::from_str::<TaskEvent>(&sse.data) else {
                                // A kind of event this version does not know.
                                tracing::debug!(event = %sse.event, "skipped a task event");
                                continue;
                            };
                            if let Some(end) = relay(&event, progress) {
                                return end;
                            }
                        }
                        Ok(None) => {
                            break CallError::Unreachable(
                                "the event stream ended before the task did".into(),
                            );
                        }
                        Err(e) => break e,
                    }
                },
                Err(e) => e,
            };
            tracing::debug!(task = id, error = %error, "following the task again");
            tries.again(error, self.api.server()).await?;
        }
    }

    /// Cancels the task on the server: a few quick tries, then it is left
    /// to the server (its worker's next heartbeat would still run on).
    async fn cancel(&self, id: &str) {
        let path = format!("/v1/tasks/{id}/cancel");
        for _ in 0..3 {
            match self.api.send_empty(&path).await {
                Ok(_) => return,
                Err(CallError::Unreachable(_)) => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                // Finished already, or gone: nothing to cancel.
                Err(CallError::Refused { .. }) => return,
            }
        }
        tracing::warn!(task = id, "could not cancel the task on the server");
    }
}

#[async_trait]
impl FunctionRunner for HttpRunner {
    async fn run(&self, task: Task, ctx: TaskContext) -> Result<Outputs, TaskError> {
        let submission = TaskSubmission::for_task(task, self.config.priority);
        // Not raced with the cancel: a submit in flight could make a task
        // that nobody would cancel.
        let record = self.submit(&submission, &ctx.cancel).await?;
        if ctx.cancel.is_cancelled() {
            if !record.state.is_final() {
                self.cancel(&record.id).await;
            }
            return Err(TaskError::cancelled());
        }
        if let Some(end) = record.outcome() {
            return end;
        }
        tokio::select! {
            end = self.follow(&record.id, &ctx.progress) => end,
            () = ctx.cancel.cancelled() => {
                self.cancel(&record.id).await;
                Err(TaskError::cancelled())
            }
        }
    }

    /// A farm's functions are not known here: every function is taken, and
    /// one no worker serves waits in the queue.
    fn knows(&self, _function: &str) -> bool {
        true
    }
}

/// `bytes` into `to` by way of `to.partial`, its folders made.
fn write_whole(to: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut name = to.file_name().unwrap_or_default().to_owned();
    name.push(".partial");
    let partial = to.with_file_name(name);
    std::fs::write(&partial, bytes)?;
    std::fs::rename(&partial, to)
}

/// Passes progress on; the outcome when the event is the task's last.
fn relay(event: &TaskEvent, progress: &ProgressSink) -> Option<Result<Outputs, TaskError>> {
    if let TaskEvent::TaskProgress {
        progress: done,
        message,
        ..
    } = event
    {
        progress.progress(*done, message.as_deref());
    }
    event.outcome()
}

/// An `event: error` of the stream (the server's error body) as a task error.
fn stream_error(data: &str, server: &str) -> TaskError {
    match serde_json::from_str::<Envelope>(data) {
        Ok(envelope) => CallError::Refused {
            status: 500,
            body: envelope.error,
        }
        .to_task_error(server),
        Err(_) => TaskError::transient(format!("the task server {server} sent an error: {data}")),
    }
}

/// Tries again while the server cannot be reached, for up to a time limit
/// counted from the first failure since the last success.
struct Patience {
    limit: Duration,
    since: Option<Instant>,
    backoff: Backoff,
}

impl Patience {
    fn new(limit: Duration) -> Patience {
        Patience {
            limit,
            since: None,
            backoff: Backoff::new(Duration::from_secs(2)),
        }
    }

    fn reset(&mut self) {
        self.since = None;
        self.backoff.reset();
    }

    /// Waits before the next try; the task's error when there is none.
    async fn again(&mut self, error: CallError, server: &str) -> Result<(), TaskError> {
        let since = *self.since.get_or_insert_with(Instant::now);
        if !matches!(error, CallError::Unreachable(_)) || since.elapsed() >= self.limit {
            return Err(error.to_task_error(server));
        }
        self.backoff.wait().await;
        Ok(())
    }
}
