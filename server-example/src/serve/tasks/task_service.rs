//! [`Tasks`]: the function-runner service. Checks what clients and workers
//! send, calls the [`TaskQueue`], publishes the events of each change
//! (task hub, long-poll wake-ups, metrics), and runs the lease reaper.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reelgraph::Error;
use reelgraph::event::Timestamp;
use reelgraph::remote::{
    ClaimRequest, Claimed, Completion, Failure, LeaseState, ProgressReport, TaskEvent, TaskRecord,
    TaskSubmission,
};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::queue::{Changed, Claim, Happened, Listed, Submitted, TaskFilter, TaskQueue};
use super::sqlite_queue::{SqliteQueue, token};
use super::task_hub::{TaskEvents, TaskHub, TaskItems};
use crate::serve::api_error::{ApiError, ApiResult};
use crate::serve::metrics::Metrics;
use crate::serve::server_db::ServerDb;

/// The longest a claim may ask to wait (`wait_ms`).
pub const MAX_WAIT: Duration = Duration::from_secs(30);
/// The most tasks one claim may lease (`max_tasks`).
pub const MAX_CLAIM: u32 = 64;
/// The most functions one claim may name.
pub const MAX_FUNCTIONS: usize = 64;
/// `priority` goes from `-MAX_PRIORITY` to `MAX_PRIORITY`.
pub const MAX_PRIORITY: i32 = 1000;
/// The most attempts a submission may ask for.
pub const MAX_ATTEMPTS: u32 = 100;
/// The longest name of a function or worker, or idempotency key.
const MAX_NAME: usize = 256;

/// The service's settings (the `--task-*` flags).
#[derive(Debug, Clone, Copy)]
pub struct TaskSettings {
    /// How long a claim, heartbeat or progress report leases a task.
    pub lease_for: Duration,
    /// Attempts before a task is dead, unless its submission says.
    pub max_attempts: u32,
    /// The longest the server holds a claim open, whatever `wait_ms` asks
    /// (a worker that gets no task just claims again).
    pub max_wait: Duration,
}

/// The function-runner service. Cheap to clone; clones share everything.
#[derive(Debug, Clone)]
pub struct Tasks {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    queue: Arc<dyn TaskQueue>,
    hub: TaskHub,
    /// Per function: wakes the claims waiting for it when a task is queued.
    wakers: Mutex<HashMap<String, Arc<Notify>>>,
    settings: TaskSettings,
    metrics: Metrics,
    /// Cancelled at shutdown: waiting claims answer at once.
    closing: CancellationToken,
}

impl Tasks {
    /// The service over the queue in the server's database.
    pub fn open(
        db: ServerDb,
        settings: TaskSettings,
        metrics: Metrics,
    ) -> reelgraph::Result<Tasks> {
        let queue = Arc::new(SqliteQueue::open(db)?);
        Ok(Tasks {
            inner: Arc::new(Inner {
                queue,
                hub: TaskHub::default(),
                wakers: Mutex::default(),
                settings,
                metrics,
                closing: CancellationToken::new(),
            }),
        })
    }

    pub fn settings(&self) -> TaskSettings {
        self.inner.settings
    }

    /// Submits a task, or answers the one its idempotency key names.
    pub async fn submit(&self, task: TaskSubmission) -> ApiResult<TaskRecord> {
        Ok(self.submit_new(task).await?.record)
    }

    /// [`Tasks::submit`], saying whether the task is new.
    pub async fn submit_new(&self, task: TaskSubmission) -> ApiResult<Submitted> {
        check_submission(&task)?;
        let id = format!(
            "tk_{}",
            token().map_err(|e| ApiError::new("server_error", e.to_string()))?
        );
        let changed = self
            .inner
            .queue
            .submit(id, task, self.inner.settings.max_attempts)
            .await?;
        Ok(self.publish(changed))
    }

    pub async fn get(&self, id: &str) -> ApiResult<TaskRecord> {
        self.inner.queue.get(id).await
    }

    pub async fn list(&self, filter: TaskFilter) -> ApiResult<Listed> {
        self.inner.queue.list(filter).await
    }

    /// Cancels a queued or leased task (a worker holding it is told at its
    /// next heartbeat); 409 `task_finished` when it ended.
    pub async fn cancel(&self, id: &str) -> ApiResult<TaskRecord> {
        let changed = self.inner.queue.cancel(id).await?;
        Ok(self.publish(changed))
    }

    /// The events of task `id` from seq `since` on, ending after its final
    /// event. 404 for an unknown task.
    pub async fn subscribe(&self, id: &str, since: u64) -> ApiResult<TaskEvents> {
        let items = self.subscribe_items(id, since).await?;
        Ok(items.map(|item| item.value.clone()).boxed())
    }

    /// [`Tasks::subscribe`] as items shared by every subscriber, each
    /// serialised at most once per wire format (for WebSocket clients).
    pub async fn subscribe_items(&self, id: &str, since: u64) -> ApiResult<TaskItems> {
        self.inner
            .hub
            .subscribe(
                self.inner.queue.clone(),
                self.inner.closing.clone(),
                id,
                since,
            )
            .await
    }

    /// Leases up to `max_tasks` tasks of the claim's functions, waiting up
    /// to `wait_ms` (at most `max_wait`) for one to be queued.
    pub async fn claim(&self, request: ClaimRequest) -> ApiResult<Claimed> {
        check_claim(&request)?;
        self.inner.metrics.learn_functions(&request.functions);
        let started = Instant::now();
        let deadline = started + request.wait.min(self.inner.settings.max_wait);
        let claim = Claim {
            worker: request.worker,
            functions: request.functions,
            max_tasks: request.max_tasks,
            lease_for: self.inner.settings.lease_for,
        };
        let wakers: Vec<Arc<Notify>> = claim.functions.iter().map(|f| self.waker(f)).collect();
        loop {
            // Listening before looking: a task queued in between wakes us.
            let mut woken: Vec<Pin<Box<dyn Future<Output = ()> + Send + '_>>> =
                Vec::with_capacity(wakers.len());
            for waker in &wakers {
                let mut notified = Box::pin(waker.notified());
                notified.as_mut().enable();
                woken.push(notified);
            }
            let tasks = self.publish(self.inner.queue.claim(claim.clone()).await?);
            if !tasks.is_empty() || Instant::now() >= deadline || self.inner.closing.is_cancelled()
            {
                self.inner.metrics.record_claim_wait(started.elapsed());
                return Ok(Claimed { tasks });
            }
            tokio::select! {
                _ = futures_util::future::select_all(woken) => {}
                () = tokio::time::sleep_until(deadline.into()) => {}
                () = self.inner.closing.cancelled() => {}
            }
        }
    }

    pub async fn heartbeat(&self, lease: &str) -> ApiResult<LeaseState> {
        let changed = self
            .inner
            .queue
            .renew(lease, None, self.inner.settings.lease_for)
            .await?;
        Ok(self.publish(changed))
    }

    pub async fn progress(&self, lease: &str, report: ProgressReport) -> ApiResult<LeaseState> {
        if !(0.0..=1.0).contains(&report.progress) {
            return Err(Error::InvalidField {
                field: "progress",
                message: format!("{} is not a progress from 0 to 1", report.progress),
            }
            .into());
        }
        let changed = self
            .inner
            .queue
            .renew(lease, Some(report), self.inner.settings.lease_for)
            .await?;
        Ok(self.publish(changed))
    }

    pub async fn complete(&self, lease: &str, completion: Completion) -> ApiResult<TaskRecord> {
        let changed = self.inner.queue.complete(lease, completion.outputs).await?;
        self.publish(changed)
    }

    pub async fn fail(&self, lease: &str, failure: Failure) -> ApiResult<TaskRecord> {
        let changed = self.inner.queue.fail(lease, failure.error).await?;
        Ok(self.publish(changed))
    }

    /// Requeues (or dead-letters) the tasks whose lease ran out; claims do
    /// it too, so this only keeps records current when nobody claims.
    pub async fn expire(&self) -> ApiResult<()> {
        let changed = self.inner.queue.expire(Timestamp::now()).await?;
        self.publish(changed);
        Ok(())
    }

    /// Expires leases every fraction of the lease time and refreshes the
    /// queue depth, on the current runtime, until [`Tasks::close`].
    pub fn spawn_reaper(&self) -> tokio::task::JoinHandle<()> {
        let tasks = self.clone();
        let every = (self.inner.settings.lease_for / 4)
            .clamp(Duration::from_millis(50), Duration::from_secs(1));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    () = tasks.inner.closing.cancelled() => return,
                }
                if let Err(e) = tasks.expire().await {
                    tracing::warn!(error = %e.body.message, "expiring task leases failed");
                }
                tasks.inner.hub.prune();
                tasks.prune_wakers();
                match tasks.inner.queue.depth().await {
                    Ok(depth) => tasks.inner.metrics.set_queue_depth(&depth),
                    Err(e) => {
                        tracing::warn!(error = %e.body.message, "reading the queue depth failed")
                    }
                }
            }
        })
    }

    /// Stops the reaper and answers waiting claims (at shutdown).
    pub fn close(&self) {
        self.inner.closing.cancel();
    }

    fn waker(&self, function: &str) -> Arc<Notify> {
        let mut wakers = self
            .inner
            .wakers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        wakers.entry(function.to_owned()).or_default().clone()
    }

    fn prune_wakers(&self) {
        self.inner
            .wakers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|_, waker| Arc::strong_count(waker) > 1);
    }

    /// Hands a change's events out: metrics, waiting claims, subscribers.
    fn publish<T>(&self, changed: Changed<T>) -> T {
        for Happened { function, event } in changed.events {
            self.inner.metrics.record_task_event(&function, &event);
            if matches!(
                event,
                TaskEvent::TaskQueued { .. } | TaskEvent::TaskRequeued { .. }
            ) {
                let waker = self
                    .inner
                    .wakers
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get(&function)
                    .cloned();
                if let Some(waker) = waker {
                    waker.notify_waiters();
                }
            }
            self.inner.hub.publish(event);
        }
        changed.value
    }
}

fn invalid(field: &'static str, message: String) -> ApiError {
    Error::InvalidField { field, message }.into()
}

fn check_name(field: &'static str, name: &str) -> ApiResult<()> {
    // Characters, as the JSON Schema's `maxLength` counts them.
    if name.trim().is_empty() || name.chars().count() > MAX_NAME {
        return Err(invalid(
            field,
            format!("`{field}` must be 1 to {MAX_NAME} characters, not blank"),
        ));
    }
    Ok(())
}

fn check_submission(task: &TaskSubmission) -> ApiResult<()> {
    check_name("function", &task.function)?;
    if let Some(key) = &task.idempotency_key {
        check_name("idempotency_key", key)?;
    }
    if !(-MAX_PRIORITY..=MAX_PRIORITY).contains(&task.priority) {
        return Err(invalid(
            "priority",
            format!(
                "{} is not a priority from -{MAX_PRIORITY} to {MAX_PRIORITY}",
                task.priority
            ),
        ));
    }
    if let Some(n) = task.max_attempts
        && !(1..=MAX_ATTEMPTS).contains(&n)
    {
        return Err(invalid(
            "max_attempts",
            format!("{n} is not a number of attempts from 1 to {MAX_ATTEMPTS}"),
        ));
    }
    if let Some(outputs) = &task.outputs {
        for (i, name) in outputs.iter().enumerate() {
            check_name("outputs", name)?;
            if outputs[..i].contains(name) {
                return Err(invalid("outputs", format!("`{name}` is named twice")));
            }
        }
    }
    Ok(())
}

fn check_claim(claim: &ClaimRequest) -> ApiResult<()> {
    check_name("worker", &claim.worker)?;
    if claim.functions.is_empty() || claim.functions.len() > MAX_FUNCTIONS {
        return Err(invalid(
            "functions",
            format!(
                "a claim names 1 to {MAX_FUNCTIONS} functions, not {}",
                claim.functions.len()
            ),
        ));
    }
    for function in &claim.functions {
        check_name("functions", function)?;
    }
    if !(1..=MAX_CLAIM).contains(&claim.max_tasks) {
        return Err(invalid(
            "max_tasks",
            format!(
                "{} is not a number of tasks from 1 to {MAX_CLAIM}",
                claim.max_tasks
            ),
        ));
    }
    if claim.wait > MAX_WAIT {
        return Err(invalid(
            "wait_ms",
            format!(
                "{} ms is longer than a claim may wait ({} ms)",
                claim.wait.as_millis(),
                MAX_WAIT.as_millis()
            ),
        ));
    }
    Ok(())
}
