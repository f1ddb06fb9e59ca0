//! [`Worker`]: claims a server's tasks and runs them through a runner.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::client::{Api, Backoff, CallError};
use super::config::{WorkerConfig, WorkerStats};
use super::lease::{Lost, ProgressFeed, keep_lease, report};
use super::wire::{ClaimRequest, Claimed, Completion, Failure, LeasedTask, ProgressReport};
use crate::runner::{
    FunctionRunner, ProgressSink, Task, TaskContext, TaskError, TaskErrorKind, TaskNote,
};

/// The most tasks one claim may ask for, and so the most a worker runs.
const MAX_CONCURRENCY: u32 = 64;

/// Takes tasks from a server's queue and runs them with a local runner,
/// as many at once as its concurrency allows.
///
/// Each task is claimed under a lease that the worker renews with
/// heartbeats (every third of the lease) and progress reports (at most
/// every [`PROGRESS_EVERY`](super::lease::PROGRESS_EVERY)). A heartbeat
/// answering `cancel` fires the task's `ctx.cancel`; a lease the server
/// took back (it expired, or the task ended elsewhere) stops the task's
/// work and drops its result. A server that cannot be reached is tried
/// again with backoff: the worker keeps going.
///
/// ```no_run
/// # async fn example() -> reelgraph::Result<()> {
/// use std::sync::Arc;
/// use reelgraph::remote::{Worker, WorkerConfig};
/// use reelgraph::runner::LocalRunner;
/// use tokio_util::sync::CancellationToken;
///
/// let runner = LocalRunner::new();
/// // runner.register("image.generate", ...);
/// let worker = Worker::new(
///     WorkerConfig::new("http://farm.local:8080", "rg_...").with_concurrency(2),
///     Arc::new(runner),
/// )?;
/// let stop = CancellationToken::new();
/// let stats = worker.run(stop.clone()).await?; // until stop.cancel()
/// println!("{} tasks completed", stats.completed);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Worker {
    config: WorkerConfig,
    name: String,
    functions: Vec<String>,
    runner: Arc<dyn FunctionRunner>,
    api: Api,
}

impl Worker {
    /// A worker for the server of `config`, running tasks with `runner`.
    /// Refuses a worker with no functions to claim (none configured and
    /// none the runner lists), a concurrency outside 1 to 64, or a server
    /// URL that is not `http://`. Makes no request yet.
    pub fn new(config: WorkerConfig, runner: Arc<dyn FunctionRunner>) -> crate::Result<Worker> {
        let functions = match &config.functions {
            Some(functions) => functions.clone(),
            None => runner.known_functions().unwrap_or_default(),
        };
        if functions.is_empty() {
            return Err(crate::Error::InvalidField {
                field: "functions",
                message: "the worker has no functions to claim tasks of: name them in `functions` \
                          (or register some with the runner)"
                    .into(),
            });
        }
        if !(1..=MAX_CONCURRENCY).contains(&config.concurrency) {
            return Err(crate::Error::InvalidField {
                field: "concurrency",
                message: format!(
                    "{} tasks at once: give 1 to {MAX_CONCURRENCY}",
                    config.concurrency
                ),
            });
        }
        let api = Api::new(
            &config.server,
            &config.key,
            config.request_timeout,
            config.request_timeout + config.claim_wait,
        )?;
        let name = config.name.clone().unwrap_or_else(default_name);
        Ok(Worker {
            config,
            name,
            functions,
            runner,
            api,
        })
    }

    /// The name shown in the attempts of the tasks it claims.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The functions it claims tasks of.
    pub fn functions(&self) -> &[String] {
        &self.functions
    }

    /// Claims and runs tasks until `stop` is cancelled; then claims no more,
    /// gives running tasks [`WorkerConfig::grace`] to finish, cancels those
    /// still going and hands them back to the queue. Fails (after the same
    /// wind-down) only when the server refuses the worker: a wrong key, a
    /// key without the `run` scope, or a claim it cannot take.
    pub async fn run(&self, stop: CancellationToken) -> crate::Result<WorkerStats> {
        let shared = Arc::new(Shared {
            api: self.api.clone(),
            runner: self.runner.clone(),
            counts: Counts::default(),
            stopping: CancellationToken::new(),
        });
        let slots = Arc::new(Semaphore::new(self.config.concurrency as usize));
        let mut running = JoinSet::new();
        let mut backoff = Backoff::new(Duration::from_secs(5));
        let refused = loop {
            while running.try_join_next().is_some() {}
            let mut permits = tokio::select! {
                permit = slots.clone().acquire_owned() => vec![permit.expect("the slots are never closed")],
                () = stop.cancelled() => break None,
            };
            while let Ok(permit) = slots.clone().try_acquire_owned() {
                permits.push(permit);
            }
            let claim = ClaimRequest {
                worker: self.name.clone(),
                functions: self.functions.clone(),
                max_tasks: u32::try_from(permits.len()).unwrap_or(MAX_CONCURRENCY),
                wait: self.config.claim_wait,
            };
            let claimed = tokio::select! {
                claimed = self.api.post::<_, Claimed>("/v1/workers/claim", &claim, claim.wait) => claimed,
                () = stop.cancelled() => break None,
            };
            match claimed {
                Ok(claimed) => {
                    backoff.reset();
                    for leased in claimed.tasks {
                        shared.counts.claimed.fetch_add(1, Ordering::Relaxed);
                        tracing::info!(task = %leased.task_id, function = %leased.function, attempt = leased.attempt, "claimed");
                        running.spawn(attempt(shared.clone(), leased, permits.pop()));
                    }
                }
                Err(e @ CallError::Refused { .. }) => break Some(e),
                Err(e) => {
                    tracing::warn!(server = self.api.server(), error = %e, "cannot claim tasks; trying again");
                    tokio::select! {
                        () = backoff.wait() => {}
                        () = stop.cancelled() => break None,
                    }
                }
            }
        };
        // Running tasks get the grace period, then are cancelled.
        let drained = tokio::time::timeout(self.config.grace, async {
            while running.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            shared.stopping.cancel();
            while running.join_next().await.is_some() {}
        }
        let stats = shared.counts.stats();
        match refused {
            None => Ok(stats),
            Some(e) => Err(crate::Error::Runtime {
                what: "the worker".into(),
                message: format!(
                    "{} refused its claim: {e}. {}",
                    self.api.server(),
                    e.to_task_error(self.api.server()).hint
                ),
            }),
        }
    }
}

/// What every attempt of a worker shares.
struct Shared {
    api: Api,
    runner: Arc<dyn FunctionRunner>,
    counts: Counts,
    /// Cancelled when the grace period after `stop` is over.
    stopping: CancellationToken,
}

#[derive(Default)]
struct Counts {
    claimed: AtomicU64,
    completed: AtomicU64,
    failed: AtomicU64,
    lost: AtomicU64,
    returned: AtomicU64,
}

impl Counts {
    fn stats(&self) -> WorkerStats {
        let get = |n: &AtomicU64| n.load(Ordering::Relaxed);
        WorkerStats {
            claimed: get(&self.claimed),
            completed: get(&self.completed),
            failed: get(&self.failed),
            lost: get(&self.lost),
            returned: get(&self.returned),
        }
    }
}

/// Runs one leased task to its report. The permit holds the worker's slot.
async fn attempt(shared: Arc<Shared>, leased: LeasedTask, _slot: Option<OwnedSemaphorePermit>) {
    let lease = format!("/v1/workers/leases/{}", leased.lease);
    let cancel = shared.stopping.child_token();
    let cancelled_by_server = AtomicBool::new(false);
    let (progress_tx, progress_rx) = watch::channel(None::<ProgressReport>);
    let ctx = TaskContext {
        progress: ProgressSink::new(move |note| {
            if let TaskNote::Progress {
                progress, message, ..
            } = note
            {
                progress_tx.send_replace(Some(ProgressReport { progress, message }));
            }
        }),
        cancel: cancel.clone(),
    };
    let lease_for = leased.lease_for;
    let task_id = leased.task_id.clone();
    let task = task_of(leased);
    let mut feed = ProgressFeed::new(progress_rx);
    let result = tokio::select! {
        result = shared.runner.run(task, ctx) => result,
        lost = keep_lease(&shared.api, &lease, lease_for, &mut feed, &cancel, &cancelled_by_server) => {
            cancel.cancel();
            return was_lost(&shared, &task_id, &lost);
        }
    };
    feed.flush(&shared.api, &lease).await;
    let deadline = Instant::now() + lease_for;
    let sent = match result {
        Ok(outputs) => {
            match report(
                &shared.api,
                &format!("{lease}/complete"),
                &Completion { outputs },
                deadline,
            )
            .await
            {
                // Outputs of the wrong shape: the server failed the task
                // itself (`invalid_input`), as a local run would.
                Err(Lost::Refused(e)) if e.code() == Some("invalid_outputs") => {
                    shared.counts.failed.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(task = %task_id, error = %e, "outputs refused; the task failed");
                    Ok(())
                }
                Ok(()) => {
                    shared.counts.completed.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(task = %task_id, "completed");
                    Ok(())
                }
                other => other,
            }
        }
        Err(error) => {
            let error = if cancelled_by_server.load(Ordering::Relaxed) {
                TaskError::cancelled()
            } else if shared.stopping.is_cancelled() && error.kind == TaskErrorKind::Cancelled {
                shared.counts.returned.fetch_add(1, Ordering::Relaxed);
                // Retryable, so the task goes back to the queue.
                TaskError::transient("the worker stopped before the task finished")
                    .with_hint("another worker takes the task")
            } else {
                error
            };
            fail(&shared, &lease, error, deadline).await
        }
    };
    if let Err(lost) = sent {
        was_lost(&shared, &task_id, &lost);
    }
}

async fn fail(
    shared: &Shared,
    lease: &str,
    error: TaskError,
    deadline: Instant,
) -> Result<(), Lost> {
    tracing::info!(kind = %error.kind, message = %error.message, "failed");
    report(
        &shared.api,
        &format!("{lease}/fail"),
        &Failure { error },
        deadline,
    )
    .await?;
    shared.counts.failed.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

fn was_lost(shared: &Shared, task_id: &str, lost: &Lost) {
    shared.counts.lost.fetch_add(1, Ordering::Relaxed);
    tracing::warn!(task = task_id, reason = %lost, "lease lost; the task's result is dropped");
}

/// The runner's view of a leased task: the run and node it is for, as
/// the submitter said; the task id stands for either one left out.
fn task_of(leased: LeasedTask) -> Task {
    let id: Arc<str> = Arc::from(leased.task_id);
    Task {
        run_id: leased.run_id.map_or_else(|| id.clone(), Arc::from),
        node: leased.node.map_or_else(|| id.clone(), Arc::from),
        node_type: Arc::from(leased.function.as_str()),
        function: Arc::from(leased.function),
        params: leased.params,
        quality: leased.quality,
        // A lower tier is the submitter's call, not the worker's.
        quality_fallback: false,
        idempotency_key: leased.idempotency_key.unwrap_or_else(|| id.to_string()),
        outputs: leased
            .outputs
            .unwrap_or_default()
            .into_iter()
            .map(Arc::from)
            .collect(),
    }
}

/// `HOST-PID`.
fn default_name() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "worker".into());
    format!("{host}-{}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::LocalRunner;

    #[test]
    fn a_worker_needs_functions_and_a_concurrency_it_can_claim() {
        let config = || WorkerConfig::new("http://127.0.0.1:9", "rg_key");
        let none = Worker::new(config(), Arc::new(LocalRunner::new())).expect_err("no functions");
        assert_eq!(none.code(), "invalid_field");
        let zero = Worker::new(
            config()
                .with_functions(["image.generate"])
                .with_concurrency(0),
            Arc::new(LocalRunner::new()),
        )
        .expect_err("no slots");
        assert!(zero.to_string().contains("concurrency"), "{zero}");
        let runner = LocalRunner::new();
        runner.register("text.upper", |_task, _ctx| async {
            Ok(crate::runner::Outputs::new())
        });
        let worker = Worker::new(config().with_name("w1"), Arc::new(runner)).expect("a worker");
        assert_eq!(
            (worker.name(), worker.functions()),
            ("w1", &["text.upper".to_owned()][..])
        );
    }
}
