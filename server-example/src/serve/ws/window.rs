//! The batch window, one for all connections: a single task that sends out
//! the canvases' presence changes and then every waiting connection's
//! frame, itself when the socket takes it at once, else by waking the
//! connection's writer.
//!
//! A window closes at most once per `--ws-batch-window`: at once when a
//! message comes after a quiet spell (no window closed within the last
//! length), else one length after the last one closed. So frames stay at
//! most one per window per connection, as with a window that always waits,
//! but a lone message (a progress tick, an answer to `subscribe`) does not
//! wait a window for nothing. Fan-out p99 at 10,000 clients and 10 events
//! a second: see `docs/ops/load.md`.
//!
//! Why one: with a timer per connection, ten thousand clients following a
//! run meant ten thousand timers armed and fired per event, and a wake-up
//! more per frame. One window also lets connections that got the same
//! messages send them at once.

use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::Shared;
use super::client::Client;

/// Frames a window's sender sends before it lets the other tasks of its
/// thread run.
const SENDS_PER_TURN: usize = 1024;

#[derive(Debug, Default)]
pub struct Window {
    /// The connections to send to at the end of the window (each once).
    due: Mutex<Vec<Arc<Client>>>,
    /// Something is waiting for the end of a window.
    opened: Arc<Notify>,
    started: OnceLock<()>,
    /// Ends the task when the server's state goes without a shutdown
    /// (an embedder that drops its router).
    gone: CancellationToken,
}

impl Drop for Window {
    fn drop(&mut self) {
        self.gone.cancel();
    }
}

impl Window {
    /// Starts the window's task (once); it ends with the server's shutdown.
    pub fn start(shared: &Arc<Shared>, length: Duration) {
        if shared.window.started.set(()).is_err() {
            return;
        }
        let task = Task {
            shared: Arc::downgrade(shared),
            opened: shared.window.opened.clone(),
            stop: [shared.shutdown.clone(), shared.window.gone.clone()],
            length,
        };
        tokio::spawn(task.run());
    }

    /// `client` has messages waiting: send them at the end of the window.
    pub fn send_after(&self, client: &Arc<Client>) {
        let mut due = self.due.lock().unwrap_or_else(PoisonError::into_inner);
        due.push(client.clone());
        if due.len() == 1 {
            self.opened.notify_one();
        }
    }

    /// Every client of `clients` has its first messages waiting: one lock
    /// and one wake for all. A publisher that queues for many connections
    /// (a run's feed) hands them over together, so that a window closing
    /// at once does not split them over two frames.
    pub fn send_all_after(&self, clients: Vec<Arc<Client>>) {
        if clients.is_empty() {
            return;
        }
        let mut due = self.due.lock().unwrap_or_else(PoisonError::into_inner);
        let opens = due.is_empty();
        due.extend(clients);
        if opens {
            self.opened.notify_one();
        }
    }

    /// Something other than a queue (presence) is due at the end of the window.
    pub fn open(&self) {
        self.opened.notify_one();
    }

    fn has_work(&self) -> bool {
        !self
            .due
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty()
    }
}

struct Task {
    /// Weak: the task must not keep the server's state alive.
    shared: Weak<Shared>,
    opened: Arc<Notify>,
    stop: [CancellationToken; 2],
    length: Duration,
}

impl Task {
    async fn run(self) {
        let [shutdown, gone] = &self.stop;
        let mut last_closed: Option<Instant> = None;
        loop {
            tokio::select! {
                () = self.opened.notified() => {}
                () = shutdown.cancelled() => return,
                () = gone.cancelled() => return,
            }
            match self.shared.upgrade() {
                // A wake left by messages a closed window sent already: it
                // must not count as a window closing.
                Some(shared) if !shared.window.has_work() && !shared.presence.has_changes() => {
                    continue;
                }
                Some(_) => {}
                None => return,
            }
            if let Some(closes) = last_closed.map(|closed| closed + self.length)
                && closes > Instant::now()
            {
                tokio::select! {
                    () = tokio::time::sleep_until(closes) => {}
                    () = shutdown.cancelled() => return,
                    () = gone.cancelled() => return,
                }
            }
            last_closed = Some(Instant::now());
            let Some(shared) = self.shared.upgrade() else {
                return;
            };
            // Presence first: its messages join this window's frames.
            shared.presence.flush();
            let due = std::mem::take(
                &mut *shared
                    .window
                    .due
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner),
            );
            drop(shared);
            // A task of its own, so that the next window starts on time.
            // One task for all: split into tasks of 512 over both threads,
            // the sends took the cores from the clients reading on the same
            // machine (fan-out p99 268-274 ms against 212-233 ms with one
            // task). Outside tokio's budget of I/O per poll, which would
            // refuse every write after the first 128 until the task yields.
            tokio::spawn(tokio::task::unconstrained(async move {
                for (sent, client) in due.into_iter().enumerate() {
                    client.send_due();
                    if sent % SENDS_PER_TURN == SENDS_PER_TURN - 1 {
                        tokio::task::yield_now().await;
                    }
                }
            }));
        }
    }
}
