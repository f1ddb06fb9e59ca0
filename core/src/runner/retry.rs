//! Retry with exponential backoff and full jitter.

use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::{FunctionRunner, Outputs, Task, TaskContext, TaskError, TaskNote};

/// How [`Retry`] tries again: how many attempts in all, and how long it waits
/// between them.
///
/// Before retry `k` (0 for the first retry) it waits a random time in
/// `[0, min(cap, base · 2^k)]` ("full jitter"), so that many tasks failing at
/// once do not come back at once. Defaults: 3 attempts, 200 ms base, 10 s cap,
/// no seed (the jitter differs per process).
///
/// ```
/// use std::time::Duration;
/// use reelgraph::runner::RetryPolicy;
///
/// let policy = RetryPolicy::default()
///     .with_max_attempts(5)
///     .with_base(Duration::from_millis(100))
///     .with_cap(Duration::from_secs(2));
/// assert_eq!(policy.ceiling(0), Duration::from_millis(100));
/// assert_eq!(policy.ceiling(3), Duration::from_millis(800));
/// assert_eq!(policy.ceiling(10), Duration::from_secs(2));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts in all, the first included; 0 counts as 1. Default 3.
    pub max_attempts: u32,
    /// The longest wait before the first retry; doubles per retry. Default 200 ms.
    #[serde(rename = "base_ms", with = "crate::wire::millis")]
    #[cfg_attr(feature = "schema", schemars(with = "u64"))]
    pub base: Duration,
    /// No wait is longer than this. Default 10 s.
    #[serde(rename = "cap_ms", with = "crate::wire::millis")]
    #[cfg_attr(feature = "schema", schemars(with = "u64"))]
    pub cap: Duration,
    /// Seeds the jitter so that the waits repeat exactly (for tests). `None`
    /// (the default) seeds it differently in every process.
    pub seed: Option<u64>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            base: Duration::from_millis(200),
            cap: Duration::from_secs(10),
            seed: None,
        }
    }
}

impl RetryPolicy {
    /// Sets the number of attempts in all, the first included.
    pub fn with_max_attempts(mut self, max_attempts: u32) -> Self {
        self.max_attempts = max_attempts;
        self
    }

    /// Sets the longest wait before the first retry.
    pub fn with_base(mut self, base: Duration) -> Self {
        self.base = base;
        self
    }

    /// Sets the longest wait of all.
    pub fn with_cap(mut self, cap: Duration) -> Self {
        self.cap = cap;
        self
    }

    /// Seeds the jitter, so the waits are the same on every run.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// The longest wait before retry `retry` (0 for the first retry):
    /// `min(cap, base · 2^retry)`.
    pub fn ceiling(&self, retry: u32) -> Duration {
        2u32.checked_pow(retry)
            .and_then(|factor| self.base.checked_mul(factor))
            .map_or(self.cap, |d| d.min(self.cap))
    }

    fn attempts(&self) -> u32 {
        self.max_attempts.max(1)
    }
}

/// Middleware that runs a task again when it fails with a retryable error
/// ([`TaskErrorKind::is_retryable`](super::TaskErrorKind::is_retryable):
/// `transient`, `timeout`), waiting with exponential backoff and full jitter
/// between attempts (see [`RetryPolicy`]).
///
/// Before each wait it reports [`TaskNote::Retrying`] with the number of the
/// attempt that failed (from 1), the wait, and the error. Any other error, or
/// the error of the last attempt, is returned as it is. When `ctx.cancel`
/// fires — before an attempt or during a wait — it stops at once and returns
/// `cancelled`. A task that succeeded is never run again.
pub struct Retry<R> {
    inner: R,
    policy: RetryPolicy,
    rng: Mutex<SmallRng>,
}

impl<R: FunctionRunner> Retry<R> {
    /// Wraps `inner`, retrying as `policy` says.
    pub fn new(inner: R, policy: RetryPolicy) -> Self {
        let seed = policy
            .seed
            .unwrap_or_else(|| RandomState::new().hash_one(std::process::id()));
        Retry {
            inner,
            policy,
            rng: Mutex::new(SmallRng::seed_from_u64(seed)),
        }
    }

    /// The policy this middleware follows.
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// The wait before retry `retry` (0 for the first): uniform in
    /// `[0, ceiling(retry)]`.
    fn delay(&self, retry: u32) -> Duration {
        let ceiling = u64::try_from(self.policy.ceiling(retry).as_nanos()).unwrap_or(u64::MAX);
        let mut rng = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
        Duration::from_nanos(rng.random_range(0..=ceiling))
    }
}

#[async_trait]
impl<R: FunctionRunner> FunctionRunner for Retry<R> {
    async fn run(&self, task: Task, ctx: TaskContext) -> Result<Outputs, TaskError> {
        let attempts = self.policy.attempts();
        let mut attempt = 1;
        loop {
            if ctx.cancel.is_cancelled() {
                return Err(TaskError::cancelled());
            }
            let error = match self.inner.run(task.clone(), ctx.clone()).await {
                Ok(outputs) => return Ok(outputs),
                Err(error) => error,
            };
            if !error.kind.is_retryable() || attempt >= attempts {
                return Err(error);
            }
            if ctx.cancel.is_cancelled() {
                return Err(TaskError::cancelled());
            }
            let delay = self.delay(attempt - 1);
            ctx.progress.note(TaskNote::Retrying {
                attempt,
                delay,
                error,
            });
            tokio::select! {
                biased;
                () = ctx.cancel.cancelled() => return Err(TaskError::cancelled()),
                () = tokio::time::sleep(delay) => {}
            }
            attempt += 1;
        }
    }

    fn knows(&self, function: &str) -> bool {
        self.inner.knows(function)
    }

    fn known_functions(&self) -> Option<Vec<String>> {
        self.inner.known_functions()
    }
}

impl<R: fmt::Debug> fmt::Debug for Retry<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Retry")
            .field("policy", &self.policy)
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceiling_doubles_then_stays_at_the_cap_without_overflow() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.ceiling(0), Duration::from_millis(200));
        assert_eq!(policy.ceiling(1), Duration::from_millis(400));
        assert_eq!(policy.ceiling(5), Duration::from_millis(6400));
        assert_eq!(policy.ceiling(6), Duration::from_secs(10));
        assert_eq!(policy.ceiling(40), Duration::from_secs(10));
        assert_eq!(policy.ceiling(u32::MAX), Duration::from_secs(10));
        let huge = RetryPolicy::default()
            .with_base(Duration::MAX)
            .with_cap(Duration::MAX);
        assert_eq!(huge.ceiling(1), Duration::MAX);
    }

    #[test]
    fn zero_attempts_still_runs_once() {
        assert_eq!(RetryPolicy::default().with_max_attempts(0).attempts(), 1);
    }
}
