//! A function runner that fails on purpose: scripted outcomes, a failure rate
//! drawn from a seeded RNG, added latency, and hangs that end only when the
//! task is cancelled. It records every call (key, quality, time, token,
//! outcome) so tests can count calls and completions per idempotency key.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use reelgraph::Quality;
use reelgraph::runner::{FunctionRunner, Outputs, Task, TaskContext, TaskError, TaskErrorKind};
use serde_json::json;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// What one call does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Succeeds (after the runner's latency).
    Ok,
    /// Fails with an error of this kind, message `injected <kind> #<call>`.
    Fail(TaskErrorKind),
    /// Never finishes; returns `cancelled` once its token is cancelled.
    Hang,
    /// Never finishes and ignores its token: only dropping it ends it.
    Stuck,
    /// Succeeds after this long (plus the runner's latency), unless cancelled.
    Slow(Duration),
}

/// How a recorded call ended, as the fault runner saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Still running, or dropped before it finished.
    Running,
    Completed,
    Failed(TaskErrorKind),
    /// The call noticed its token was cancelled and returned `cancelled`.
    SawCancel,
}

/// One call the runner received.
#[derive(Debug, Clone)]
pub struct Call {
    /// 1-based, over all functions.
    pub number: usize,
    pub function: Arc<str>,
    pub key: String,
    pub quality: Quality,
    pub at: Instant,
    pub token: CancellationToken,
    pub outcome: Outcome,
}

/// The fault-injecting runner. Clones share their script and their records.
#[derive(Debug, Clone)]
pub struct FaultRunner {
    state: Arc<Mutex<State>>,
}

#[derive(Debug)]
struct State {
    rng: SmallRng,
    failure_rate: f64,
    failure_kind: TaskErrorKind,
    latency: Duration,
    script: VecDeque<Step>,
    scripts: HashMap<String, VecDeque<Step>>,
    calls: Vec<Call>,
}

impl FaultRunner {
    /// Succeeds at once for every function, until told otherwise; `seed`
    /// seeds the failure rate's draws.
    pub fn new(seed: u64) -> Self {
        FaultRunner {
            state: Arc::new(Mutex::new(State {
                rng: SmallRng::seed_from_u64(seed),
                failure_rate: 0.0,
                failure_kind: TaskErrorKind::Transient,
                latency: Duration::ZERO,
                script: VecDeque::new(),
                scripts: HashMap::new(),
                calls: Vec::new(),
            })),
        }
    }

    /// Unscripted calls fail with `kind` with probability `rate`.
    pub fn with_failure_rate(self, rate: f64, kind: TaskErrorKind) -> Self {
        {
            let mut state = self.lock();
            state.failure_rate = rate;
            state.failure_kind = kind;
        }
        self
    }

    /// Every call takes this long before its step (cancellable).
    pub fn with_latency(self, latency: Duration) -> Self {
        self.lock().latency = latency;
        self
    }

    /// The next calls to any function follow `steps`, in order (after the
    /// function's own script, if it has one).
    pub fn script(self, steps: impl IntoIterator<Item = Step>) -> Self {
        self.lock().script.extend(steps);
        self
    }

    /// The next calls to `function` follow `steps`, in order.
    pub fn script_for(self, function: &str, steps: impl IntoIterator<Item = Step>) -> Self {
        self.lock()
            .scripts
            .entry(function.to_owned())
            .or_default()
            .extend(steps);
        self
    }

    /// Every call so far.
    pub fn log(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    pub fn calls(&self) -> usize {
        self.lock().calls.len()
    }

    pub fn calls_for(&self, function: &str) -> usize {
        self.lock()
            .calls
            .iter()
            .filter(|c| &*c.function == function)
            .count()
    }

    /// Calls per idempotency key.
    pub fn calls_per_key(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for call in &self.lock().calls {
            *counts.entry(call.key.clone()).or_default() += 1;
        }
        counts
    }

    /// Successful completions per idempotency key (keys with none left out).
    pub fn completions_per_key(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for call in &self.lock().calls {
            if call.outcome == Outcome::Completed {
                *counts.entry(call.key.clone()).or_default() += 1;
            }
        }
        counts
    }

    /// Calls that noticed their cancellation.
    pub fn saw_cancel(&self) -> usize {
        self.lock()
            .calls
            .iter()
            .filter(|c| c.outcome == Outcome::SawCancel)
            .count()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn set_outcome(&self, index: usize, outcome: Outcome) {
        self.lock().calls[index].outcome = outcome;
    }
}

#[async_trait]
impl FunctionRunner for FaultRunner {
    async fn run(&self, task: Task, ctx: TaskContext) -> Result<Outputs, TaskError> {
        let (index, step, latency) = {
            let mut state = self.lock();
            let scripted = state
                .scripts
                .get_mut(&*task.function)
                .and_then(VecDeque::pop_front)
                .or_else(|| state.script.pop_front());
            let step = match scripted {
                Some(step) => step,
                None => {
                    let rate = state.failure_rate;
                    if state.rng.random_bool(rate) {
                        Step::Fail(state.failure_kind)
                    } else {
                        Step::Ok
                    }
                }
            };
            let index = state.calls.len();
            state.calls.push(Call {
                number: index + 1,
                function: Arc::clone(&task.function),
                key: task.idempotency_key.clone(),
                quality: task.quality,
                at: Instant::now(),
                token: ctx.cancel.clone(),
                outcome: Outcome::Running,
            });
            (index, step, state.latency)
        };
        let cancelled = || {
            self.set_outcome(index, Outcome::SawCancel);
            Err(TaskError::cancelled())
        };
        if !latency.is_zero() && !sleep_unless_cancelled(&ctx.cancel, latency).await {
            return cancelled();
        }
        match step {
            Step::Ok => {}
            Step::Fail(kind) => {
                self.set_outcome(index, Outcome::Failed(kind));
                return Err(TaskError::new(
                    kind,
                    format!("injected {kind} #{}", index + 1),
                ));
            }
            Step::Hang => {
                ctx.cancel.cancelled().await;
                return cancelled();
            }
            Step::Stuck => std::future::pending::<()>().await,
            Step::Slow(d) => {
                if !sleep_unless_cancelled(&ctx.cancel, d).await {
                    return cancelled();
                }
            }
        }
        self.set_outcome(index, Outcome::Completed);
        Ok(Outputs::from_iter([
            ("key".to_owned(), json!(task.idempotency_key)),
            ("quality".to_owned(), json!(task.quality)),
        ]))
    }

    /// Knows every function but `missing`.
    fn knows(&self, function: &str) -> bool {
        function != "missing"
    }
}

/// Sleeps for `d`; false if `token` was cancelled first.
async fn sleep_unless_cancelled(token: &CancellationToken, d: Duration) -> bool {
    tokio::select! {
        () = token.cancelled() => false,
        () = tokio::time::sleep(d) => true,
    }
}
