//! Per-caller rate limits: one GCRA bucket per API key, and one per client
//! IP for requests that bring no valid key (so guessing keys is limited too).

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota};

/// Who a bucket belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Caller {
    /// An API key, by its id (sessions count against the key they were made with).
    Key(String),
    /// A request without a valid key, by its client address.
    Ip(IpAddr),
}

/// The limiter of a running server; `None` quota means limits are off.
#[derive(Debug)]
pub struct RateLimits {
    limiter: Option<DefaultKeyedRateLimiter<Caller>>,
    checks: AtomicU32,
}

/// Idle buckets are dropped every this many checks, so one bucket per client
/// address cannot grow the map without bound.
const SWEEP_EVERY: u32 = 4096;

impl RateLimits {
    /// `per_second` requests a second on average, up to `burst` at once;
    /// `per_second == 0` turns limits off.
    pub fn new(per_second: u32, burst: u32) -> Self {
        let limiter = NonZeroU32::new(per_second).map(|rate| {
            let burst = NonZeroU32::new(burst).unwrap_or(rate);
            DefaultKeyedRateLimiter::keyed(Quota::per_second(rate).allow_burst(burst))
        });
        RateLimits {
            limiter,
            checks: AtomicU32::new(0),
        }
    }

    /// Takes one request from `caller`'s bucket, or says how long to wait.
    pub fn check(&self, caller: &Caller) -> Result<(), Duration> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            limiter.retain_recent();
        }
        limiter
            .check_key(caller)
            .map_err(|not_until| not_until.wait_time_from(limiter.clock().now()))
    }
}

/// The `Retry-After` value: whole seconds, rounded up, at least 1.
pub fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_allowed_then_refused_with_a_wait() {
        let limits = RateLimits::new(1, 2);
        let key = Caller::Key("k1".into());
        assert!(limits.check(&key).is_ok());
        assert!(limits.check(&key).is_ok());
        let wait = limits
            .check(&key)
            .expect_err("the third request is over the burst");
        assert!(wait <= Duration::from_secs(1));
        // Another caller has a bucket of its own.
        assert!(limits.check(&Caller::Ip([127, 0, 0, 1].into())).is_ok());
    }

    #[test]
    fn zero_rate_turns_limits_off() {
        let limits = RateLimits::new(0, 0);
        let key = Caller::Key("k1".into());
        assert!((0..100).all(|_| limits.check(&key).is_ok()));
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_secs(2)), 2);
        assert_eq!(retry_after_secs(Duration::from_millis(2500)), 3);
    }
}
