//! Group commit: saves that arrive while the connection is busy wait in a
//! queue, and the next save to get the connection writes them all in one
//! transaction, so many saves share one WAL sync. A save refused before it
//! writes (a conflict) takes nothing else with it; one that fails after it
//! wrote undoes the whole batch, so nothing is ever half-written. Each save
//! learns its result only after the commit: a save that returned is as
//! durable as the store's durability says. (Savepoints would also isolate
//! a failure half-way, but cost a copy of every page a save touches.)
//!
//! Only the save that finds no drain due starts one: when each save sent
//! its own drain, every waiting save took the connection in turn, most of
//! them to find the queue empty, and reads queued behind them all.

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
pub(super) struct Queue<T>(Mutex<Waiting<T>>);

struct Waiting<T> {
    jobs: Vec<Job<T>>,
    /// A drain is on its way that will take the jobs pushed meanwhile.
    drain_due: bool,
}

impl<T> Default for Queue<T> {
    fn default() -> Self {
        Queue(Mutex::new(Waiting {
            jobs: Vec::new(),
            drain_due: false,
        }))
    }
}

impl<T> std::fmt::Debug for Queue<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue").finish_non_exhaustive()
    }
}

impl<T: Send + 'static> Queue<T> {
    /// Queues `work`; its result comes once a [`Queue::drain`] committed it.
    /// `true` with it when no drain is due: the caller must start one.
    pub(super) fn push(
        &self,
        work: impl FnOnce(&Connection, &str) -> Result<T> + Send + 'static,
    ) -> (oneshot::Receiver<Result<T>>, bool) {
        let (reply, result) = oneshot::channel();
        let mut waiting = self.waiting();
        waiting.jobs.push(Job {
            work: Box::new(work),
            reply,
        });
        (result, !std::mem::replace(&mut waiting.drain_due, true))
    }

    /// Lets the next push start a drain: the one due never ran.
    pub(super) fn drain_lost(&self) {
        self.waiting().drain_due = false;
    }

    fn waiting(&self) -> std::sync::MutexGuard<'_, Waiting<T>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs every queued save in one transaction on `conn`, which the
    /// caller holds; nothing when another caller took them first.
    pub(super) fn drain(&self, conn: &mut Connection, location: &str) {
        let jobs = {
            let mut waiting = self.waiting();
            waiting.drain_due = false;
            std::mem::take(&mut waiting.jobs)
        };
        if jobs.is_empty() {
            return;
        }
        let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
            Ok(tx) => tx,
            Err(e) => {
                for job in jobs {
                    let _ = job.reply.send(Err(sql_error(location, &e)));
                }
                return;
            }
        };
        let mut done = Vec::with_capacity(jobs.len());
        let mut jobs = jobs.into_iter();
        let mut undone = false;
        for job in jobs.by_ref() {
            let before = tx.total_changes();
            let result = (job.work)(&tx, location);
            // A save refused before it wrote (a conflict) leaves the batch as
            // it was; one that failed half-way undoes the whole batch.
            undone = result.is_err() && tx.total_changes() != before;
            done.push((job.reply, result));
            if undone {
                break;
            }
        }
        let committed = if undone {
            drop(tx);
            Err(Error::Storage {
                message:
                    "another save written with this one failed, so neither was saved; try again"
                        .into(),
                path: Some(location.to_owned()),
            })
        } else {
            tx.commit().map_err(|e| sql_error(location, &e))
        };
        let never_ran = jobs.map(|job| {
            let result = Err(copy(committed.as_ref().err().unwrap_or(&Error::Storage {
                message: "the save was not run".into(),
                path: None,
            })));
            (job.reply, result)
        });
        for (reply, result) in done.into_iter().chain(never_ran) {
            let result = match (&committed, result) {
                (Ok(()), result) | (Err(_), result @ Err(_)) => result,
                // Nothing of the batch was written.
                (Err(e), Ok(_)) => Err(copy(e)),
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
