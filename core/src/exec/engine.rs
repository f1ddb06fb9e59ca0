//! The engine: drives a prepared run's steps through the runner, as many at
//! once as its cap allows, with cancellation and a failure policy.

use std::collections::BTreeMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::Poll;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

use super::decision::Decision;
use super::emitter::Emitter;
use super::event::{RunEventKind, RunStats, SkipReason};
use super::options::{FailurePolicy, RunOptions};
use super::run::{RunHandle, RunReport, RunStatus};
use super::shared_work::{SharedWork, Turn};
use super::work::{Links, Work, fill};
use crate::cache::ResultCache;
use crate::quality::Quality;
use crate::runner::{
    FunctionRunner, Outputs, ProgressSink, Task, TaskContext, TaskError, TaskErrorKind, outputs,
    panic_message, panicked,
};

/// Everything a run needs, owned.
#[derive(Debug)]
pub(super) struct Engine {
    pub(super) canvas_id: String,
    pub(super) quality: Quality,
    pub(super) works: Vec<Work>,
    pub(super) options: RunOptions,
    pub(super) runner: Arc<dyn FunctionRunner>,
    pub(super) cache: Arc<dyn ResultCache>,
    pub(super) permits: Arc<Semaphore>,
    /// Keys being executed by this executor's runs, shared between them.
    pub(super) shared: Arc<SharedWork>,
    pub(super) handle: RunHandle,
    /// Steps whose cancellation [`RunHandle::cancel_node`] asked for.
    pub(super) node_cancels: mpsc::UnboundedReceiver<usize>,
    pub(super) emitter: Arc<Emitter>,
    pub(super) decision: Decision,
    pub(super) links: Links,
}

/// Where a step stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for this many steps that run.
    Waiting(usize),
    Running,
    Done,
    Failed,
    Skipped,
}

/// What a finished task hands back to the loop.
struct Finished {
    step: usize,
    result: Result<Arc<Outputs>, TaskError>,
    /// From the start of the work; none when it never got a slot.
    took: Option<Duration>,
}

/// What woke the run's loop.
enum Wake {
    RunCancelled,
    NodeCancelled(usize),
    Finished(Finished),
}

/// How long a cancelled run waits for running tasks to stop before it drops them.
const CANCEL_GRACE: Duration = Duration::from_secs(5);

impl Engine {
    pub(super) async fn drive(mut self) -> RunReport {
        let started = Instant::now();
        let n = self.works.len();
        self.emitter.emit(RunEventKind::RunStarted {
            canvas_id: self.canvas_id.clone(),
            quality: self.quality,
            tasks: n,
        });
        let mut stats = RunStats {
            tasks: n,
            ..RunStats::default()
        };

        let Decision {
            mut results,
            wanted,
            runs,
            looked_up,
            ..
        } = std::mem::take(&mut self.decision);
        let mut states = vec![State::Done; n];
        for i in 0..n {
            let work = &self.works[i];
            if !wanted[i] {
                states[i] = State::Skipped;
                self.emitter
                    .finish_step(i, |overall| RunEventKind::NodeSkipped {
                        node: work.node.clone(),
                        reason: SkipReason::NotNeeded,
                        because: None,
                        overall,
                    });
            } else if runs[i] {
                if looked_up[i] {
                    stats.cache_misses += 1;
                }
                states[i] =
                    State::Waiting(self.links.after(i).iter().filter(|&&a| runs[a]).count());
            } else {
                stats.cache_hits += 1;
                self.emitter
                    .finish_step(i, |overall| RunEventKind::NodeCached {
                        node: work.node.clone(),
                        key: work.key,
                        overall,
                    });
            }
        }

        let mut params: Vec<_> = self
            .works
            .iter_mut()
            .map(|w| std::mem::take(&mut w.params))
            .collect();
        let mut errors: BTreeMap<String, TaskError> = BTreeMap::new();
        let mut in_flight = FuturesUnordered::new();
        // The token of each task in flight: the engine tells them when the
        // run stops or their node is cancelled.
        let mut tokens: Vec<Option<CancellationToken>> = vec![None; n];
        let limit = self.options.concurrency.unwrap_or(usize::MAX);
        let mut ready: std::collections::VecDeque<usize> =
            (0..n).filter(|&i| states[i] == State::Waiting(0)).collect();
        for &i in &ready {
            self.queued(i);
        }
        let mut stopped: Option<RunStatus> = None;
        // The first node to fail, for the run's error.
        let mut first_failure: Option<(String, TaskError)> = None;

        // One waiter for the whole run, not one per completed task.
        let cancel_token = self.handle.cancel.clone();
        let run_cancelled = cancel_token.cancelled();
        tokio::pin!(run_cancelled);
        loop {
            while let Ok(step) = self.node_cancels.try_recv() {
                self.cancel_step(step, &tokens, &mut states, &mut stats, &mut errors);
            }
            while stopped.is_none() && in_flight.len() < limit {
                let Some(i) = ready.pop_front() else { break };
                // A step cancelled while it stood in line is settled already.
                if states[i] != State::Waiting(0) {
                    continue;
                }
                states[i] = State::Running;
                // Each step runs once: its params move into its task.
                let params = std::mem::take(&mut params[i]);
                let token = CancellationToken::new();
                tokens[i] = Some(token.clone());
                in_flight.push(self.task(i, params, &results, token));
            }
            if in_flight.is_empty() {
                break;
            }
            let wake = std::future::poll_fn(|cx| {
                if run_cancelled.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Wake::RunCancelled);
                }
                if let Poll::Ready(Some(step)) = self.node_cancels.poll_recv(cx) {
                    return Poll::Ready(Wake::NodeCancelled(step));
                }
                if let Poll::Ready(Some(finished)) = in_flight.poll_next_unpin(cx) {
                    return Poll::Ready(Wake::Finished(finished));
                }
                // Nothing to do until a task finishes: send what is held
                // back before waiting.
                self.emitter.flush();
                Poll::Pending
            })
            .await;
            let finished = match wake {
                Wake::RunCancelled => {
                    stopped = Some(RunStatus::Cancelled);
                    break;
                }
                Wake::NodeCancelled(step) => {
                    self.cancel_step(step, &tokens, &mut states, &mut stats, &mut errors);
                    continue;
                }
                Wake::Finished(finished) => finished,
            };
            tokens[finished.step] = None;
            let Finished { step, result, took } = finished;
            match result {
                Ok(outputs) => {
                    stats.executed += 1;
                    states[step] = State::Done;
                    let work = &self.works[step];
                    self.emitter
                        .finish_step(step, |overall| RunEventKind::NodeCompleted {
                            node: work.node.clone(),
                            outputs: outputs.clone(),
                            duration_ms: took.unwrap_or_default(),
                            overall,
                        });
                    results[step] = Some(outputs);
                    for &d in self.links.dependents(step) {
                        if let State::Waiting(k) = &mut states[d] {
                            *k -= 1;
                            if *k == 0 {
                                self.queued(d);
                                ready.push_back(d);
                            }
                        }
                    }
                }
                Err(error) => {
                    let failure = error.kind != TaskErrorKind::Cancelled;
                    if failure && first_failure.is_none() {
                        first_failure = Some((self.works[step].node.to_string(), error.clone()));
                    }
                    self.settle_error(
                        step,
                        error,
                        took.is_some(),
                        stopped.is_some(),
                        &mut states,
                        &mut stats,
                        &mut errors,
                    );
                    let fail_fast = self.options.failure_policy == FailurePolicy::FailFast;
                    if fail_fast && failure && stopped.is_none() {
                        stopped = Some(RunStatus::Failed);
                        self.handle.cancel.cancel();
                    }
                }
            }
            // A stopped run (cancelled, or failing fast) waits for its
            // running tasks below, with a grace period.
            if stopped.is_some() {
                break;
            }
        }

        if stopped.is_some() {
            // Tell running tasks, give them a moment to stop, then drop them:
            // no task of this run outlives it.
            self.handle.cancel.cancel();
            for token in tokens.iter().flatten() {
                token.cancel();
            }
            let drain = async {
                loop {
                    self.emitter.flush();
                    let Some(Finished { step, result, took }) = in_flight.next().await else {
                        break;
                    };
                    // A task that finished anyway is not used: the run has moved on.
                    let error = result.err().unwrap_or_else(TaskError::cancelled);
                    self.settle_error(
                        step,
                        error,
                        took.is_some(),
                        true,
                        &mut states,
                        &mut stats,
                        &mut errors,
                    );
                }
            };
            if tokio::time::timeout(CANCEL_GRACE, drain).await.is_err() {
                tracing::warn!(run = %self.handle.id, "tasks ignored cancellation; they were dropped");
            }
            for (i, state) in states.iter_mut().enumerate() {
                match state {
                    State::Running => {
                        // It ignored the token past the grace period and was dropped.
                        *state = State::Failed;
                        stats.cancelled += 1;
                        let error = TaskError::cancelled().with_hint(
                            "the task did not stop within the grace period after cancellation and was dropped",
                        );
                        errors.insert(self.works[i].node.to_string(), error.clone());
                        self.emitter
                            .finish_step(i, |overall| RunEventKind::NodeFailed {
                                node: self.works[i].node.clone(),
                                error,
                                overall,
                            });
                    }
                    State::Waiting(_) => {
                        *state = State::Skipped;
                        self.emitter
                            .finish_step(i, |overall| RunEventKind::NodeSkipped {
                                node: self.works[i].node.clone(),
                                reason: SkipReason::RunStopped,
                                because: None,
                                overall,
                            });
                    }
                    State::Done | State::Failed | State::Skipped => {}
                }
            }
        }
        stats.skipped = states.iter().filter(|s| **s == State::Skipped).count();
        stats.duration_ms = started.elapsed();

        let status = match stopped {
            Some(RunStatus::Cancelled) => RunStatus::Cancelled,
            _ if stats.failed > 0 => RunStatus::Failed,
            _ => RunStatus::Completed,
        };
        let first_error = first_failure;
        self.emitter.close(|retries, clamped| {
            stats.retries = retries;
            stats.clamped_progress = clamped;
            match status {
                RunStatus::Completed => RunEventKind::RunCompleted { stats },
                RunStatus::Cancelled => RunEventKind::RunCancelled { stats },
                RunStatus::Failed => RunEventKind::RunFailed {
                    error: match first_error {
                        Some((node, error)) => TaskError::new(
                            error.kind,
                            format!(
                                "{} node(s) failed; the first was `{node}`: {}",
                                stats.failed, error.message
                            ),
                        )
                        .with_hint(error.hint),
                        None => TaskError::permanent("the run failed"),
                    },
                    stats,
                },
            }
        });
        let outputs = self
            .works
            .iter()
            .zip(results)
            .filter_map(|(w, r)| Some((w.node.clone(), r?)))
            .collect();
        let report = RunReport {
            run_id: self.handle.id.to_string(),
            canvas_id: self.canvas_id,
            status,
            stats,
            outputs,
            errors,
        };
        self.emitter.publish_report(&report);
        report
    }

    fn queued(&self, step: usize) {
        let work = &self.works[step];
        self.emitter.emit(RunEventKind::NodeQueued {
            node: work.node.clone(),
            reason: work.reason,
        });
    }

    /// Cancels one step at [`RunHandle::cancel_node`]'s request: a task in
    /// flight is told; a step not started yet is skipped, with what depends
    /// on it.
    fn cancel_step(
        &self,
        step: usize,
        tokens: &[Option<CancellationToken>],
        states: &mut [State],
        stats: &mut RunStats,
        errors: &mut BTreeMap<String, TaskError>,
    ) {
        match states[step] {
            State::Running => {
                if let Some(token) = &tokens[step] {
                    token.cancel();
                }
            }
            State::Waiting(_) => {
                self.settle_error(
                    step,
                    TaskError::cancelled(),
                    false,
                    false,
                    states,
                    stats,
                    errors,
                );
            }
            State::Done | State::Failed | State::Skipped => {}
        }
    }

    /// Records a step that ended without outputs: cancelled before it
    /// started (skipped), cancelled while running, or failed; what depends
    /// on it is skipped.
    #[allow(clippy::too_many_arguments)]
    fn settle_error(
        &self,
        step: usize,
        error: TaskError,
        started: bool,
        run_stopped: bool,
        states: &mut [State],
        stats: &mut RunStats,
        errors: &mut BTreeMap<String, TaskError>,
    ) {
        let node = self.works[step].node.clone();
        let cancelled = error.kind == TaskErrorKind::Cancelled;
        if cancelled && !started {
            states[step] = State::Skipped;
            let reason = if run_stopped {
                SkipReason::RunStopped
            } else {
                SkipReason::Cancelled
            };
            self.emitter
                .finish_step(step, |overall| RunEventKind::NodeSkipped {
                    node,
                    reason,
                    because: None,
                    overall,
                });
        } else {
            if cancelled {
                stats.cancelled += 1;
            } else {
                stats.failed += 1;
            }
            states[step] = State::Failed;
            errors.insert(node.to_string(), error.clone());
            self.emitter
                .finish_step(step, |overall| RunEventKind::NodeFailed {
                    node,
                    error,
                    overall,
                });
        }
        let reason = if cancelled {
            SkipReason::Cancelled
        } else {
            SkipReason::UpstreamFailed
        };
        self.skip_downstream(step, reason, states);
    }

    /// Marks everything downstream of a step that ended without outputs skipped.
    fn skip_downstream(&self, failed: usize, reason: SkipReason, states: &mut [State]) {
        let mut stack: Vec<usize> = self.links.dependents(failed).to_vec();
        while let Some(d) = stack.pop() {
            if !matches!(states[d], State::Waiting(_)) {
                continue;
            }
            states[d] = State::Skipped;
            self.emitter
                .finish_step(d, |overall| RunEventKind::NodeSkipped {
                    node: self.works[d].node.clone(),
                    reason,
                    because: Some(self.works[failed].node.clone()),
                    overall,
                });
            stack.extend_from_slice(self.links.dependents(d));
        }
    }

    /// The future of one task: wait for a slot, run, check the outputs,
    /// store them.
    fn task(
        &self,
        step: usize,
        params: serde_json::Map<String, serde_json::Value>,
        results: &[Option<Arc<Outputs>>],
        token: CancellationToken,
    ) -> impl Future<Output = Finished> + Send + 'static {
        let work = &self.works[step];
        let mut params = params;
        let upstream_degraded = self
            .links
            .after(step)
            .iter()
            .any(|&a| self.emitter.degraded[a].load(Ordering::Relaxed));
        for input in &work.inputs {
            let value = input.value(results);
            if !value.is_null() {
                params.insert(input.name.clone(), value);
            }
        }
        if work.nested_inputs {
            let sources: Vec<(&str, &Outputs)> = self
                .links
                .after(step)
                .iter()
                .filter_map(|&a| Some((&*self.works[a].node, &**results[a].as_ref()?)))
                .collect();
            fill(&mut params, &sources);
        }
        let task = Task {
            run_id: self.handle.id.clone(),
            node: work.node.clone(),
            node_type: work.node_type.clone(),
            function: work.function.clone(),
            params,
            quality: self.quality,
            quality_fallback: work.quality_fallback,
            idempotency_key: work.key.to_hex(),
            outputs: work.outputs.clone(),
        };
        let emitter = self.emitter.clone();
        let runner = self.runner.clone();
        let cache = self.cache.clone();
        let permits = self.permits.clone();
        let shared = self.shared.clone();
        let key = work.key;
        let quality = self.quality;
        async move {
            let not_started = || Finished {
                step,
                result: Err(TaskError::cancelled()),
                took: None,
            };
            // Another task (of this run or another) executing the same key
            // hands its result on; this one executes only when none does.
            let waiting = Instant::now();
            let leader = loop {
                let follower = match shared.join(key) {
                    Turn::Lead(leader) => break leader,
                    Turn::Follow(follower) => follower,
                };
                let handed = tokio::select! {
                    biased;
                    () = token.cancelled() => return not_started(),
                    handed = follower.result() => handed,
                };
                if let Some(outputs) = handed {
                    emitter.emit(RunEventKind::NodeStarted {
                        node: task.node.clone(),
                        function: task.function.clone(),
                        quality,
                    });
                    return Finished {
                        step,
                        result: Ok(outputs),
                        took: Some(waiting.elapsed()),
                    };
                }
            };
            // A free slot is taken at once; only a task that has to wait
            // for one also waits for its cancellation.
            let permit = match permits.clone().try_acquire_owned() {
                Ok(permit) => Ok(permit),
                Err(tokio::sync::TryAcquireError::Closed) => permits.acquire_owned().await,
                Err(tokio::sync::TryAcquireError::NoPermits) => tokio::select! {
                    biased;
                    () = token.cancelled() => return not_started(),
                    permit = permits.acquire_owned() => permit,
                },
            };
            // A slot freed by a cancelled task may reach a cancelled waiter.
            if token.is_cancelled() {
                return not_started();
            }
            let Ok(_permit) = permit else {
                let error = TaskError::permanent("the executor was shut down");
                return Finished {
                    step,
                    result: Err(error),
                    took: None,
                };
            };
            // Durations count from here: waiting for a slot is not work.
            let started = Instant::now();
            let finished = |result| Finished {
                step,
                result,
                took: Some(started.elapsed()),
            };
            emitter.emit(RunEventKind::NodeStarted {
                node: task.node.clone(),
                function: task.function.clone(),
                quality,
            });
            let ctx = TaskContext {
                progress: ProgressSink::for_step(emitter.clone(), step),
                cancel: token.clone(),
            };
            let declared = task.outputs.clone();
            let function = task.function.clone();
            // Through the trait object, not `Arc`'s own impl, which would box
            // the future once more. A runner may panic in `run` itself,
            // before there is a future to guard.
            let begun =
                std::panic::catch_unwind(AssertUnwindSafe(|| runner.as_ref().run(task, ctx)));
            let result = match begun {
                Ok(future) => match AssertUnwindSafe(future).catch_unwind().await {
                    Ok(result) => result,
                    Err(payload) => Err(panicked(&*payload)),
                },
                Err(payload) => Err(TaskError::permanent(format!(
                    "the runner panicked before it started function `{function}`: {}",
                    panic_message(&*payload)
                ))
                .with_hint(
                    "this is a bug in the runner's `run`; fix it, the rest of the run is unaffected",
                )),
            };
            let result = result.and_then(|outputs| {
                outputs::check(&function, &declared, &outputs)?;
                Ok(outputs)
            });
            let result = match result {
                // A task that finished after its cancellation still counts
                // as cancelled: the run has moved on.
                Ok(_) if token.is_cancelled() => Err(TaskError::cancelled()),
                Ok(outputs) => {
                    let outputs = Arc::new(outputs);
                    let degraded = &emitter.degraded[step];
                    let is_degraded = upstream_degraded || degraded.load(Ordering::Relaxed);
                    degraded.store(is_degraded, Ordering::Relaxed);
                    // A result made at a lower tier than asked is passed on
                    // but not stored: the next run tries the asked tier again.
                    if !is_degraded && let Err(e) = cache.put(key, outputs.clone()).await {
                        tracing::warn!(error = %e, "could not store a result in the cache");
                    }
                    // Like the cache, followers get only the asked tier.
                    leader.hand_on((!is_degraded).then(|| outputs.clone()));
                    Ok(outputs)
                }
                Err(e) => Err(e),
            };
            finished(result)
        }
    }
}
