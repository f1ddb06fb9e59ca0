//! A circuit breaker per function.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::{
    CircuitState, FunctionRunner, Outputs, Task, TaskContext, TaskError, TaskErrorKind, TaskNote,
};

/// When a [`CircuitBreaker`] opens and how long it stays open. Defaults: open
/// after 5 consecutive failures, for 30 s.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct CircuitConfig {
    /// Consecutive failures of a function that open its circuit; 0 counts as
    /// 1. Default 5.
    pub failure_threshold: u32,
    /// How long an open circuit refuses calls before it lets a trial call
    /// through. Default 30 s.
    #[serde(rename = "cooldown_ms", with = "crate::wire::millis")]
    #[cfg_attr(feature = "schema", schemars(with = "u64"))]
    pub cooldown: Duration,
}

impl Default for CircuitConfig {
    fn default() -> Self {
        CircuitConfig {
            failure_threshold: 5,
            cooldown: Duration::from_secs(30),
        }
    }
}

impl CircuitConfig {
    /// Sets the consecutive failures that open a circuit.
    pub fn with_failure_threshold(mut self, failure_threshold: u32) -> Self {
        self.failure_threshold = failure_threshold;
        self
    }

    /// Sets how long an open circuit refuses calls.
    pub fn with_cooldown(mut self, cooldown: Duration) -> Self {
        self.cooldown = cooldown;
        self
    }

    /// Whether an error of `kind` counts as a failure of the function.
    ///
    /// `transient`, `timeout`, `resource` and `permanent` say something about
    /// the function's health and count. `invalid_input` (the caller's params
    /// are wrong) and `cancelled` (the caller stopped) say nothing about it:
    /// they neither count nor reset the count, and a half-open trial that ends
    /// with one of them leaves the circuit half-open for the next call to try.
    pub fn counts(kind: TaskErrorKind) -> bool {
        match kind {
            TaskErrorKind::Transient
            | TaskErrorKind::Timeout
            | TaskErrorKind::Resource
            | TaskErrorKind::Permanent => true,
            TaskErrorKind::InvalidInput | TaskErrorKind::Cancelled => false,
        }
    }

    fn threshold(&self) -> u32 {
        self.failure_threshold.max(1)
    }
}

/// One function's circuit, for programs and dashboards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct CircuitStats {
    pub state: CircuitState,
    /// Failures since the last success (see [`CircuitConfig::counts`]).
    pub consecutive_failures: u32,
    /// Calls refused without reaching the function.
    pub short_circuited: u64,
    /// Times the circuit opened (re-opening after a failed trial included).
    pub opened: u64,
}

/// The circuits of every function a [`CircuitBreaker`] has seen. Cheap to
/// clone: clones share the same circuits, so a program can keep one to watch
/// a breaker that has been wrapped in more middleware.
#[derive(Clone)]
pub struct Circuits {
    shared: Arc<Shared>,
}

struct Shared {
    config: CircuitConfig,
    table: Mutex<HashMap<Arc<str>, Circuit>>,
}

struct Circuit {
    state: CircuitState,
    consecutive_failures: u32,
    /// When an open circuit lets a trial through.
    retry_at: Instant,
    /// Whether a half-open circuit's trial call is running.
    trial_in_flight: bool,
    /// Changes with every state change; outcomes of calls admitted in an
    /// earlier generation do not move the circuit.
    generation: u64,
    short_circuited: u64,
    opened: u64,
}

impl Circuit {
    fn new() -> Self {
        Circuit {
            state: CircuitState::Closed,
            consecutive_failures: 0,
            retry_at: Instant::now(),
            trial_in_flight: false,
            generation: 0,
            short_circuited: 0,
            opened: 0,
        }
    }

    fn stats(&self) -> CircuitStats {
        CircuitStats {
            state: self.state,
            consecutive_failures: self.consecutive_failures,
            short_circuited: self.short_circuited,
            opened: self.opened,
        }
    }

    fn set(&mut self, state: CircuitState) {
        self.state = state;
        self.generation += 1;
        self.trial_in_flight = state == CircuitState::HalfOpen;
    }
}

/// How a call through the breaker ended, as the breaker sees it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Success,
    Failure,
    Neutral,
}

/// A call let through; finished with its outcome, or dropped (neutral).
struct Ticket<'a> {
    circuits: &'a Circuits,
    function: Arc<str>,
    generation: u64,
    trial: bool,
    finished: bool,
}

impl Ticket<'_> {
    /// Records the outcome; returns the state the circuit moved to, if it did.
    fn finish(mut self, outcome: Outcome) -> Option<CircuitState> {
        self.finished = true;
        self.circuits
            .record(&self.function, self.generation, outcome)
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        // A trial whose caller went away must not keep the circuit half-open
        // with every later call refused.
        if !self.finished && self.trial {
            self.circuits
                .record(&self.function, self.generation, Outcome::Neutral);
        }
    }
}

impl Circuits {
    /// Empty circuits (every function closed) following `config`.
    pub fn new(config: CircuitConfig) -> Self {
        Circuits {
            shared: Arc::new(Shared {
                config,
                table: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The configuration the circuits follow.
    pub fn config(&self) -> &CircuitConfig {
        &self.shared.config
    }

    /// The state of `function`'s circuit (closed for a function not seen yet).
    /// An open circuit whose cooldown has passed reports open until the next
    /// call arrives and becomes its trial.
    pub fn state(&self, function: &str) -> CircuitState {
        self.table()
            .get(function)
            .map_or(CircuitState::Closed, |c| c.state)
    }

    /// Every seen function's circuit, by function name.
    pub fn stats(&self) -> BTreeMap<String, CircuitStats> {
        self.table()
            .iter()
            .map(|(function, circuit)| (function.to_string(), circuit.stats()))
            .collect()
    }

    fn table(&self) -> MutexGuard<'_, HashMap<Arc<str>, Circuit>> {
        self.shared
            .table
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Lets a call through (with the state the circuit moved to, if it did)
    /// or refuses it.
    fn admit(&self, function: &Arc<str>) -> Result<(Ticket<'_>, Option<CircuitState>), TaskError> {
        let now = Instant::now();
        let mut table = self.table();
        let circuit = table
            .entry(Arc::clone(function))
            .or_insert_with(Circuit::new);
        let (trial, changed) = match circuit.state {
            CircuitState::Closed => (false, None),
            CircuitState::Open if now >= circuit.retry_at => {
                circuit.set(CircuitState::HalfOpen);
                (true, Some(CircuitState::HalfOpen))
            }
            CircuitState::HalfOpen if !circuit.trial_in_flight => {
                circuit.trial_in_flight = true;
                (true, None)
            }
            CircuitState::Open | CircuitState::HalfOpen => {
                circuit.short_circuited += 1;
                return Err(refusal(function, circuit, now));
            }
        };
        let generation = circuit.generation;
        drop(table);
        let ticket = Ticket {
            circuits: self,
            function: Arc::clone(function),
            generation,
            trial,
            finished: false,
        };
        Ok((ticket, changed))
    }

    fn record(&self, function: &str, generation: u64, outcome: Outcome) -> Option<CircuitState> {
        let mut table = self.table();
        let circuit = table.get_mut(function)?;
        if circuit.generation != generation {
            return None;
        }
        match (outcome, circuit.state) {
            (Outcome::Success, state) => {
                circuit.consecutive_failures = 0;
                (state != CircuitState::Closed).then(|| {
                    circuit.set(CircuitState::Closed);
                    CircuitState::Closed
                })
            }
            (Outcome::Failure, state) => {
                circuit.consecutive_failures = circuit.consecutive_failures.saturating_add(1);
                let opens = state == CircuitState::HalfOpen
                    || circuit.consecutive_failures >= self.shared.config.threshold();
                (opens && state != CircuitState::Open).then(|| {
                    circuit.set(CircuitState::Open);
                    circuit.retry_at = Instant::now() + self.shared.config.cooldown;
                    circuit.opened += 1;
                    CircuitState::Open
                })
            }
            (Outcome::Neutral, CircuitState::HalfOpen) => {
                circuit.trial_in_flight = false;
                None
            }
            (Outcome::Neutral, _) => None,
        }
    }
}

/// The error for a call an open (or busy half-open) circuit refuses.
fn refusal(function: &str, circuit: &Circuit, now: Instant) -> TaskError {
    let message = if circuit.state == CircuitState::Open {
        let wait = circuit.retry_at.saturating_duration_since(now);
        // Whole milliseconds, rounded up, read better than nanoseconds.
        let wait = Duration::from_millis(
            u64::try_from(wait.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX),
        );
        format!(
            "the circuit for `{function}` is open after {} consecutive failures; \
             calls fail at once until a trial call in {}",
            circuit.consecutive_failures,
            humantime::format_duration(wait)
        )
    } else {
        format!(
            "the circuit for `{function}` is half-open and its trial call is still running; \
             other calls fail at once until the trial succeeds"
        )
    };
    TaskError::transient(message).with_hint(
        "the function keeps failing: check the service or worker behind it; \
         the circuit closes again when a trial call succeeds",
    )
}

/// Middleware that stops calling a function that keeps failing.
///
/// Each function has a circuit. Closed, calls go through; after
/// [`CircuitConfig::failure_threshold`] consecutive failures (see
/// [`CircuitConfig::counts`] for which errors count) it opens. Open, calls
/// fail at once with a `transient` error that names the function and when it
/// tries again, without reaching the inner runner. After the cooldown the next
/// call is a trial (half-open) while other calls still fail at once; the
/// trial's success closes the circuit, its failure opens it for another
/// cooldown. Only calls admitted in the circuit's current state move it: a
/// call that started before the circuit opened and fails afterwards changes
/// nothing.
///
/// Every change is reported as [`TaskNote::Circuit`] to the task that caused
/// it: the failure that opened the circuit, the call that became the trial,
/// the trial that closed or re-opened it.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// use std::sync::Arc;
/// use std::time::Duration;
/// use reelgraph::runner::{
///     CircuitBreaker, CircuitConfig, CircuitState, FunctionRunner, LocalRunner, Outputs, Task,
///     TaskContext, TaskError,
/// };
/// use reelgraph::Quality;
///
/// let local = LocalRunner::new();
/// local.register("flaky", |_task, _ctx| async { Err::<Outputs, _>(TaskError::transient("busy")) });
/// let breaker = CircuitBreaker::new(local, CircuitConfig::default().with_failure_threshold(2));
/// let task = Task {
///     run_id: "run".into(), node: "n".into(), node_type: "t".into(), function: "flaky".into(),
///     params: Default::default(), quality: Quality::Draft, quality_fallback: false,
///     idempotency_key: "k".into(), outputs: Arc::from([]),
/// };
/// for _ in 0..3 {
///     let _ = breaker.run(task.clone(), TaskContext::detached()).await;
/// }
/// assert_eq!(breaker.state("flaky"), CircuitState::Open);
/// let stats = &breaker.stats()["flaky"];
/// assert_eq!((stats.opened, stats.short_circuited), (1, 1));
/// # });
/// ```
pub struct CircuitBreaker<R> {
    inner: R,
    circuits: Circuits,
}

impl<R: FunctionRunner> CircuitBreaker<R> {
    /// Wraps `inner` with fresh circuits following `config`.
    pub fn new(inner: R, config: CircuitConfig) -> Self {
        CircuitBreaker::with_circuits(inner, Circuits::new(config))
    }

    /// Wraps `inner` with existing circuits, shared with whoever else holds
    /// them (several runners for the same functions, or a watcher).
    pub fn with_circuits(inner: R, circuits: Circuits) -> Self {
        CircuitBreaker { inner, circuits }
    }

    /// A handle on the circuits, to watch them after this breaker is wrapped.
    pub fn circuits(&self) -> &Circuits {
        &self.circuits
    }

    /// The state of `function`'s circuit; see [`Circuits::state`].
    pub fn state(&self, function: &str) -> CircuitState {
        self.circuits.state(function)
    }

    /// Every seen function's circuit; see [`Circuits::stats`].
    pub fn stats(&self) -> BTreeMap<String, CircuitStats> {
        self.circuits.stats()
    }
}

#[async_trait]
impl<R: FunctionRunner> FunctionRunner for CircuitBreaker<R> {
    async fn run(&self, task: Task, ctx: TaskContext) -> Result<Outputs, TaskError> {
        let function = Arc::clone(&task.function);
        let note = |state: Option<CircuitState>| {
            if let Some(state) = state {
                ctx.progress.note(TaskNote::Circuit {
                    function: Arc::clone(&function),
                    state,
                });
            }
        };
        let (ticket, changed) = self.circuits.admit(&function)?;
        note(changed);
        let result = self.inner.run(task, ctx.clone()).await;
        let outcome = match &result {
            Ok(_) => Outcome::Success,
            Err(e) if CircuitConfig::counts(e.kind) => Outcome::Failure,
            Err(_) => Outcome::Neutral,
        };
        note(ticket.finish(outcome));
        result
    }

    fn knows(&self, function: &str) -> bool {
        self.inner.knows(function)
    }

    fn known_functions(&self) -> Option<Vec<String>> {
        self.inner.known_functions()
    }
}

impl fmt::Debug for Circuits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Circuits")
            .field("config", &self.shared.config)
            .field("stats", &self.stats())
            .finish()
    }
}

impl<R: fmt::Debug> fmt::Debug for CircuitBreaker<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("circuits", &self.circuits)
            .field("inner", &self.inner)
            .finish()
    }
}
