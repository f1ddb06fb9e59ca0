//! Stacking the resilience middleware in the recommended order.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{
    CircuitBreaker, CircuitConfig, Circuits, FunctionRunner, Outputs, QualityFallback, Retry,
    RetryPolicy, Task, TaskContext, TaskError, Timeout,
};
use crate::quality::Quality;

/// Builds a resilient runner around any [`FunctionRunner`]: the middleware
/// you switch on, stacked in this order, outermost first:
///
/// 1. [`QualityFallback`] — a `resource` error is not retryable, so it passes
///    straight out of the retries; the lower tier then gets a fresh set of
///    retries of its own.
/// 2. [`Retry`] — retries `transient` and `timeout` errors with backoff.
/// 3. [`CircuitBreaker`] — sees every attempt, so a task's failed attempts
///    count one by one, and once the circuit opens, the task's remaining
///    retries fail at once without reaching the function.
/// 4. [`Timeout`] — innermost, so the limit is per attempt: a retry after a
///    timeout gets the full limit again, the stuck attempt is cancelled
///    before the next starts, and the breaker counts timeouts as failures.
///
/// Nothing is switched on by [`Resilience::new`]; each method adds a layer.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use std::time::Duration;
/// use reelgraph::runner::{
///     CircuitConfig, CircuitState, FunctionRunner, LocalRunner, Outputs, Resilience, RetryPolicy,
///     Task, TaskContext, TaskError,
/// };
/// use reelgraph::Quality;
/// use serde_json::json;
///
/// // Fails once with a passing error, then works.
/// let calls = Arc::new(AtomicU32::new(0));
/// let local = LocalRunner::new();
/// let seen = Arc::clone(&calls);
/// local.register("image.generate", move |task, _ctx| {
///     let first = seen.fetch_add(1, Ordering::SeqCst) == 0;
///     async move {
///         if first {
///             return Err(TaskError::transient("the worker is busy"));
///         }
///         Ok(Outputs::from_iter([("quality".to_owned(), json!(task.quality))]))
///     }
/// });
///
/// let runner = Resilience::new()
///     .retry(RetryPolicy::default().with_base(Duration::from_millis(1)))
///     .timeout(Duration::from_secs(300))
///     .timeout_for("video.generate", Duration::from_secs(1800))
///     .circuit_breaker(CircuitConfig::default())
///     .quality_fallback(true)
///     .wrap(local);
///
/// let task = Task {
///     run_id: "run".into(), node: "img".into(), node_type: "image".into(),
///     function: "image.generate".into(), params: Default::default(),
///     quality: Quality::High, quality_fallback: true,
///     idempotency_key: "key".into(), outputs: Arc::from([Arc::from("quality")]),
/// };
/// let outputs = runner.run(task, TaskContext::detached()).await.unwrap();
/// assert_eq!(outputs["quality"], json!("high"));
/// assert_eq!(calls.load(Ordering::SeqCst), 2);
/// let circuits = runner.circuits().unwrap();
/// assert_eq!(circuits.state("image.generate"), CircuitState::Closed);
///
/// // The executor takes any runner, e.g. as `Arc<dyn FunctionRunner>`.
/// let _shared: Arc<dyn FunctionRunner> = Arc::new(runner);
/// # });
/// ```
///
/// As JSON (every field optional; durations in milliseconds):
/// `{"retry": {"max_attempts": 5}, "timeout_ms": 300000, "timeouts_ms":
/// {"video.generate": 1800000}, "timeout_grace_ms": 1000, "circuit_breaker": {},
/// "quality_floor": "draft"}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
pub struct Resilience {
    /// Retries retryable errors; none: no retries.
    #[serde(skip_serializing_if = "Option::is_none")]
    retry: Option<RetryPolicy>,
    /// Every attempt's time limit.
    #[serde(
        rename = "timeout_ms",
        with = "crate::wire::option_millis",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "schema", schemars(with = "Option<u64>"))]
    timeout: Option<Duration>,
    /// Time limits of single functions, by function name.
    #[serde(
        rename = "timeouts_ms",
        with = "crate::wire::millis_map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    #[cfg_attr(feature = "schema", schemars(with = "BTreeMap<String, u64>"))]
    timeouts: BTreeMap<String, Duration>,
    /// How long a timed-out attempt may take to stop once told to.
    #[serde(
        rename = "timeout_grace_ms",
        with = "crate::wire::option_millis",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "schema", schemars(with = "Option<u64>"))]
    grace: Option<Duration>,
    /// A circuit breaker per function; none: no breaker.
    #[serde(rename = "circuit_breaker", skip_serializing_if = "Option::is_none")]
    breaker: Option<CircuitConfig>,
    /// Quality fallback, going no lower than this tier; none: no fallback.
    #[serde(rename = "quality_floor", skip_serializing_if = "Option::is_none")]
    fallback: Option<Quality>,
}

impl Resilience {
    /// No middleware yet: [`Resilience::wrap`] would return the runner as it is.
    pub fn new() -> Self {
        Resilience::default()
    }

    /// Retries retryable errors as `policy` says.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// Gives every attempt `limit` to finish.
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.timeout = Some(limit);
        self
    }

    /// Gives attempts at `function` their own limit (with no [`timeout`],
    /// only such functions have a limit).
    ///
    /// [`timeout`]: Resilience::timeout
    pub fn timeout_for(mut self, function: &str, limit: Duration) -> Self {
        self.timeouts.insert(function.to_owned(), limit);
        self
    }

    /// How long a timed-out attempt may take to stop once told to (default
    /// [`Timeout::DEFAULT_GRACE`]).
    pub fn timeout_grace(mut self, grace: Duration) -> Self {
        self.grace = Some(grace);
        self
    }

    /// Adds a circuit breaker per function following `config`.
    pub fn circuit_breaker(mut self, config: CircuitConfig) -> Self {
        self.breaker = Some(config);
        self
    }

    /// Switches quality fallback on (down to draft, or the floor set with
    /// [`Resilience::quality_floor`]) or off. It applies only to tasks whose
    /// node allows it.
    pub fn quality_fallback(mut self, enabled: bool) -> Self {
        self.fallback = enabled.then_some(self.fallback.unwrap_or(Quality::Draft));
        self
    }

    /// Switches quality fallback on, going no lower than `floor`.
    pub fn quality_floor(mut self, floor: Quality) -> Self {
        self.fallback = Some(floor);
        self
    }

    /// Stacks the chosen middleware around `inner` (see the order above).
    pub fn wrap(self, inner: impl FunctionRunner + 'static) -> Resilient {
        let mut runner: Arc<dyn FunctionRunner> = Arc::new(inner);
        if self.timeout.is_some() || !self.timeouts.is_empty() {
            let mut timeout = match self.timeout {
                Some(limit) => Timeout::new(runner, limit),
                None => Timeout::per_function(runner),
            };
            for (function, limit) in &self.timeouts {
                timeout = timeout.with_limit(function, *limit);
            }
            if let Some(grace) = self.grace {
                timeout = timeout.with_grace(grace);
            }
            runner = Arc::new(timeout);
        }
        let mut circuits = None;
        if let Some(config) = self.breaker {
            let breaker = CircuitBreaker::new(runner, config);
            circuits = Some(breaker.circuits().clone());
            runner = Arc::new(breaker);
        }
        if let Some(policy) = self.retry {
            runner = Arc::new(Retry::new(runner, policy));
        }
        if let Some(floor) = self.fallback {
            runner = Arc::new(QualityFallback::new(runner).with_floor(floor));
        }
        Resilient { runner, circuits }
    }
}

/// A runner wrapped by [`Resilience::wrap`]: a [`FunctionRunner`] itself,
/// with a handle on its circuit breaker's circuits.
#[derive(Clone)]
pub struct Resilient {
    runner: Arc<dyn FunctionRunner>,
    circuits: Option<Circuits>,
}

impl Resilient {
    /// The circuits of the circuit breaker, if one was added.
    pub fn circuits(&self) -> Option<&Circuits> {
        self.circuits.as_ref()
    }

    /// The stacked runner.
    pub fn runner(&self) -> &Arc<dyn FunctionRunner> {
        &self.runner
    }
}

#[async_trait]
impl FunctionRunner for Resilient {
    async fn run(&self, task: Task, ctx: TaskContext) -> Result<Outputs, TaskError> {
        self.runner.run(task, ctx).await
    }

    fn knows(&self, function: &str) -> bool {
        self.runner.knows(function)
    }

    fn known_functions(&self) -> Option<Vec<String>> {
        self.runner.known_functions()
    }
}

impl fmt::Debug for Resilient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resilient")
            .field("runner", &self.runner)
            .finish()
    }
}
