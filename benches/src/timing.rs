//! Timing and memory figures of a measured build.

use std::time::Duration;

/// One timed apply.
#[derive(Debug, Clone, Copy)]
pub struct BatchTiming {
    pub ops: usize,
    pub elapsed: Duration,
}

impl BatchTiming {
    pub fn per_op(&self) -> Duration {
        self.elapsed / u32::try_from(self.ops.max(1)).unwrap_or(u32::MAX)
    }
}

/// Median, 90th percentile and worst per-op time over batches.
pub fn per_op_stats(timings: &[BatchTiming]) -> (Duration, Duration, Duration) {
    let mut per_op: Vec<Duration> = timings.iter().map(BatchTiming::per_op).collect();
    per_op.sort_unstable();
    if per_op.is_empty() {
        return Default::default();
    }
    let at = |q: f64| per_op[((per_op.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.9), at(1.0))
}

pub fn memory_status() -> (u64, u64) {
    memory_status_of("self")
}

/// VmHWM and VmRSS in bytes of process `pid` (a number, or `self`); zeros
/// when `/proc` cannot be read.
pub fn memory_status_of(pid: &str) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .map_or(0, |kb| kb * 1024)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// CPU time (user and system) process `pid` (a number, or `self`) used so
/// far; zero when `/proc` cannot be read.
pub fn cpu_time_of(pid: &str) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name, which may hold spaces and ends
    // with the last `)`: utime and stime are the 12th and 13th of them.
    let ticks: u64 = stat
        .rsplit_once(')')
        .map(|(_, rest)| {
            rest.split_whitespace()
                .skip(11)
                .take(2)
                .filter_map(|t| t.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0);
    // Linux reports them in USER_HZ, 100 a second on every architecture.
    Duration::from_millis(ticks * 10)
}
