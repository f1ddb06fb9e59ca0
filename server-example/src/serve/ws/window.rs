//! The batch window, one for all connections: a single task that, a window
//! after the first message queued for anyone, sends out the canvases'
//! presence changes and wakes every connection that has messages waiting.
//!
//! Why one: with a timer per connection, ten thousand clients following a
//! run meant ten thousand timers armed and fired per event, and a wake-up
//! more per frame. One window also lets connections that got the same
//! messages send them at once.

use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::Shared;

#[derive(Debug, Default)]
pub struct Window {
    /// The writers to wake at the end of the window (each connection once).
    due: Mutex<Vec<Arc<Notify>>>,
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

    /// `writer` has messages waiting: wake it at the end of the window.
    pub fn wake_after(&self, writer: &Arc<Notify>) {
        let mut due = self.due.lock().unwrap_or_else(PoisonError::into_inner);
        due.push(writer.clone());
        if due.len() == 1 {
            self.opened.notify_one();
        }
    }

    /// Something other than a queue (presence) is due at the end of the window.
    pub fn open(&self) {
        self.opened.notify_one();
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
        loop {
            tokio::select! {
                () = self.opened.notified() => {}
                () = shutdown.cancelled() => return,
                () = gone.cancelled() => return,
            }
            tokio::select! {
                () = tokio::time::sleep(self.length) => {}
                () = shutdown.cancelled() => return,
                () = gone.cancelled() => return,
            }
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
            for writer in due {
                writer.notify_one();
            }
        }
    }
}
