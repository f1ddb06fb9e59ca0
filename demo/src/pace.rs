//! `demo.pace`: a long task that reports progress at a steady rate, the way
//! a video model reports its denoising steps. The load generator's
//! `ws-fanout` scenario runs it to have progress events to fan out.

use std::time::Duration;

use reelgraph::runner::{Outputs, TaskError};
use serde_json::json;

use crate::job::Job;

/// At most an hour of steps at the slowest pace.
const MAX_STEPS: f64 = 100_000.0;
const MAX_INTERVAL_MS: f64 = 60_000.0;

/// Reports progress `steps` times, `interval_ms` apart, and stops at the
/// first step after a cancel. Writes no file.
pub(crate) fn pace(job: &Job<'_>) -> Result<Outputs, TaskError> {
    let steps = job.number_in("steps", 10.0, 1.0, MAX_STEPS)?.round() as u64;
    let interval = job.number_in("interval_ms", 100.0, 1.0, MAX_INTERVAL_MS)?;
    let interval = Duration::from_secs_f64(interval / 1000.0);
    for step in 1..=steps {
        // Sleeps in slices so a cancel is seen within 50 ms.
        let mut left = interval;
        while !left.is_zero() {
            job.check()?;
            let slice = left.min(Duration::from_millis(50));
            std::thread::sleep(slice);
            left -= slice;
        }
        job.step(step as f64 / steps as f64, "step")?;
    }
    Ok(job.outputs("done", json!({"steps": steps, "demo": true})))
}
