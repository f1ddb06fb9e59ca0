//! Latencies and outcomes of one kind of request, and the report line.

use std::fmt;
use std::time::Duration;

/// What one client saw of one kind of request.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    /// Latency of every request that got an answer, in microseconds.
    latencies_us: Vec<u32>,
    pub errors: u64,
    /// The first error, as an example for the report.
    pub first_error: Option<String>,
}

impl Tally {
    pub fn ok(&mut self, took: Duration) {
        self.latencies_us
            .push(u32::try_from(took.as_micros()).unwrap_or(u32::MAX));
    }

    pub fn error(&mut self, took: Duration, what: impl FnOnce() -> String) {
        self.ok(took);
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(what());
        }
    }

    pub fn merge(&mut self, other: Tally) {
        self.latencies_us.extend(other.latencies_us);
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }

    pub fn summary(mut self, elapsed: Duration) -> Summary {
        self.latencies_us.sort_unstable();
        let at = |q: f64| -> Duration {
            if self.latencies_us.is_empty() {
                return Duration::ZERO;
            }
            let i = ((self.latencies_us.len() - 1) as f64 * q).round() as usize;
            Duration::from_micros(u64::from(self.latencies_us[i]))
        };
        Summary {
            requests: self.latencies_us.len() as u64,
            errors: self.errors,
            per_second: self.latencies_us.len() as f64 / elapsed.as_secs_f64(),
            p50: at(0.50),
            p95: at(0.95),
            p99: at(0.99),
            max: at(1.0),
            first_error: self.first_error,
        }
    }
}

/// Figures of one kind of request over the whole run.
#[derive(Debug)]
pub struct Summary {
    pub requests: u64,
    pub errors: u64,
    pub per_second: f64,
    pub p50: Duration,
    pub p95: Duration,
    pub p99: Duration,
    pub max: Duration,
    pub first_error: Option<String>,
}

impl Summary {
    pub const HEADER: &'static str =
        "kind        requests    errors     req/s   p50 ms   p95 ms   p99 ms   max ms";
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        write!(
            f,
            "{:>8} {:>9} {:>9.0} {:>8.2} {:>8.2} {:>8.2} {:>8.2}",
            self.requests,
            self.errors,
            self.per_second,
            ms(self.p50),
            ms(self.p95),
            ms(self.p99),
            ms(self.max)
        )
    }
}
