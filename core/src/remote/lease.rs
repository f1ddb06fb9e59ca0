//! A worker's side of a lease: keeping it (heartbeats, progress) while the
//! task runs, and reporting the task's end under it.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::watch;
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;

use super::client::{Api, Backoff, CallError};
use super::wire::{Heartbeat, LeaseState, ProgressReport};

/// Progress goes to the server at most this often (the latest report wins).
pub(crate) const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// How soon a heartbeat the server did not get is sent again.
const RETRY_AFTER: Duration = Duration::from_millis(500);

/// Why a worker lets a task go.
#[derive(Debug)]
pub(crate) enum Lost {
    /// The server refused a call under the lease (`lease_lost`,
    /// `lease_expired`, `task_finished`, ...).
    Refused(CallError),
    /// The server could not be reached until the lease ran out.
    Unreachable(CallError),
}

impl fmt::Display for Lost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Lost::Refused(e) => write!(f, "the server refused the lease: {e}"),
            Lost::Unreachable(e) => {
                write!(f, "the server was unreachable until the lease ran out: {e}")
            }
        }
    }
}

/// The task's progress as the function reports it, and what of it the
/// server has.
pub(crate) struct ProgressFeed {
    latest: watch::Receiver<Option<ProgressReport>>,
    sent: Option<ProgressReport>,
}

impl ProgressFeed {
    pub fn new(latest: watch::Receiver<Option<ProgressReport>>) -> ProgressFeed {
        ProgressFeed { latest, sent: None }
    }

    fn unsent(&self) -> Option<ProgressReport> {
        let latest = self.latest.borrow().clone();
        if latest == self.sent { None } else { latest }
    }

    /// Sends the last report if the server does not have it yet (once the
    /// task ended, so its events show all its progress before its end).
    pub async fn flush(&mut self, api: &Api, lease: &str) {
        if let Some(report) = self.unsent() {
            let path = format!("{lease}/progress");
            if api
                .post::<_, LeaseState>(&path, &report, Duration::ZERO)
                .await
                .is_ok()
            {
                self.sent = Some(report);
            }
        }
    }
}

/// Renews the lease until the server refuses it: a heartbeat every third
/// of the lease, progress as it comes (throttled). An answer with `cancel`
/// fires `cancel` and sets `cancelled_by_server`; heartbeats go on until
/// the task stops. Returns only when the lease is lost.
pub(crate) async fn keep_lease(
    api: &Api,
    lease: &str,
    mut lease_for: Duration,
    feed: &mut ProgressFeed,
    cancel: &CancellationToken,
    cancelled_by_server: &AtomicBool,
) -> Lost {
    let heartbeat = format!("{lease}/heartbeat");
    let report = format!("{lease}/progress");
    let mut last_sent = Instant::now();
    let mut next_beat = last_sent + beat_every(lease_for);
    let mut progress_open = true;
    let mut renewed_at = Instant::now();
    loop {
        let mut pending = None;
        tokio::select! {
            () = sleep_until(next_beat) => {}
            changed = feed.latest.changed(), if progress_open => {
                if changed.is_err() {
                    progress_open = false;
                    continue;
                }
                sleep_until((last_sent + PROGRESS_EVERY).min(next_beat)).await;
                pending = feed.unsent();
            }
        }
        let answer = match &pending {
            Some(body) => {
                api.post::<_, LeaseState>(&report, body, Duration::ZERO)
                    .await
            }
            None => {
                api.post::<_, LeaseState>(&heartbeat, &Heartbeat {}, Duration::ZERO)
                    .await
            }
        };
        last_sent = Instant::now();
        match answer {
            Ok(state) => {
                if pending.is_some() {
                    feed.sent = pending;
                }
                renewed_at = last_sent;
                lease_for = state.lease_for;
                next_beat = last_sent + beat_every(lease_for);
                if state.cancel && !cancelled_by_server.swap(true, Ordering::Relaxed) {
                    tracing::info!(lease, "the task was cancelled on the server");
                    cancel.cancel();
                }
            }
            Err(e @ CallError::Unreachable(_)) => {
                if last_sent >= renewed_at + lease_for {
                    return Lost::Unreachable(e);
                }
                tracing::warn!(lease, error = %e, "heartbeat not delivered; trying again");
                next_beat = last_sent + RETRY_AFTER.min(beat_every(lease_for));
            }
            Err(e) => return Lost::Refused(e),
        }
    }
}

fn beat_every(lease_for: Duration) -> Duration {
    (lease_for / 3).max(Duration::from_millis(50))
}

/// Sends the end of an attempt (`complete` or `fail`), trying again while
/// the server cannot be reached, up to `deadline` (when the lease is over
/// and the task back in the queue anyway).
pub(crate) async fn report<B: Serialize>(
    api: &Api,
    path: &str,
    body: &B,
    deadline: Instant,
) -> Result<(), Lost> {
    let mut backoff = Backoff::new(Duration::from_secs(1));
    loop {
        match api.send(path, body).await {
            Ok(()) => return Ok(()),
            Err(e @ CallError::Refused { .. }) => return Err(Lost::Refused(e)),
            Err(e) if Instant::now() >= deadline => return Err(Lost::Unreachable(e)),
            Err(e) => {
                tracing::warn!(path, error = %e, "could not report the task's end; trying again");
                backoff.wait().await;
            }
        }
    }
}
