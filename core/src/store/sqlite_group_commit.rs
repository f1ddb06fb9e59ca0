//! Group commit: saves that arrive while the connection is busy wait in a
//! queue, and the next save to get the connection writes them all in one
//! transaction, so many saves share one WAL sync. Each runs in its own
//! savepoint, so one that fails (a conflict) takes nothing else with it,
//! and each learns its result only after the commit: a save that returned
//! is as durable as the store's durability says.

use std::sync::{Mutex, PoisonError};

use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::oneshot;

use crate::error::{Error, Result};
use crate::sqlite_conn::sql_error;

type Work<T> = Box<dyn FnOnce(&Connection, &str) -> Result<T> + Send>;

struct Job<T> {
    work: Work<T>,
    reply: oneshot::Sender<Result<T>>,
}

/// Saves waiting for the connection.
pub(super) struct Queue<T>(Mutex<Vec<Job<T>>>);

impl<T> Default for Queue<T> {
    fn default() -> Self {
        Queue(Mutex::default())
    }
}

impl<T> std::fmt::Debug for Queue<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue").finish_non_exhaustive()
    }
}

impl<T: Send + 'static> Queue<T> {
    /// Queues `work`; its result comes once a [`Queue::drain`] committed it.
    pub(super) fn push(
        &self,
        work: impl FnOnce(&Connection, &str) -> Result<T> + Send + 'static,
    ) -> oneshot::Receiver<Result<T>> {
        let (reply, result) = oneshot::channel();
        self.jobs().push(Job {
            work: Box::new(work),
            reply,
        });
        result
    }

    fn jobs(&self) -> std::sync::MutexGuard<'_, Vec<Job<T>>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs every queued save in one transaction on `conn`, which the
    /// caller holds; nothing when another caller took them first.
    pub(super) fn drain(&self, conn: &mut Connection, location: &str) {
        let jobs = std::mem::take(&mut *self.jobs());
        if jobs.is_empty() {
            return;
        }
        let mut tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
            Ok(tx) => tx,
            Err(e) => {
                for job in jobs {
                    let _ = job.reply.send(Err(sql_error(location, &e)));
                }
                return;
            }
        };
        let mut done = Vec::with_capacity(jobs.len());
        for job in jobs {
            let result = match tx.savepoint() {
                Ok(savepoint) => {
                    // A savepoint dropped undoes this save's writes only.
                    let result = (job.work)(&savepoint, location);
                    result.and_then(|value| {
                        savepoint
                            .commit()
                            .map(|()| value)
                            .map_err(|e| sql_error(location, &e))
                    })
                }
                Err(e) => Err(sql_error(location, &e)),
            };
            done.push((job.reply, result));
        }
        let committed = tx.commit().map_err(|e| sql_error(location, &e));
        for (reply, result) in done {
            let result = match (&committed, result) {
                (Ok(()), result) => result,
                // Nothing of the batch was written.
                (Err(e), _) => Err(copy(e)),
            };
            let _ = reply.send(result);
        }
    }
}

fn copy(e: &Error) -> Error {
    match e {
        Error::Storage { message, path } => Error::Storage {
            message: message.clone(),
            path: path.clone(),
        },
        other => Error::Storage {
            message: other.to_string(),
            path: None,
        },
    }
}
