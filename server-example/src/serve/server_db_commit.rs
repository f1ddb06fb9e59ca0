//! Group commit for the server's database: writes that arrive while the
//! connection is busy wait here, and the next drain runs them all in one
//! `IMMEDIATE` transaction, so they share one commit and one fsync. Each
//! caller gets its answer only after that commit. A write refused before
//! it wrote (every refusal of the task protocol is) takes nothing else
//! with it; one that failed after it wrote undoes the whole batch, and
//! every caller of the batch gets the error, so the database is as before.
//! The task queue and the run records write through it; the canvas store
//! commits its saves the same way (`reelgraph`'s
//! `store/sqlite_group_commit.rs`); this one carries refusals as answers
//! and knows which writes need no fsync.
//!
//! Durability: a batch made only of writes that need not outlive the
//! machine (heartbeats, progress reports) is committed with `synchronous =
//! NORMAL` (it survives the server's crash, not the machine's); everything
//! else with the server's `FULL`.

use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::{Connection, Transaction, TransactionBehavior};
use tokio::sync::oneshot;

use crate::serve::api_error::{ApiError, ApiResult};
use crate::serve::server_db::ServerDb;

/// What an operation needs of its commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// On disk before the caller hears of it (`synchronous = FULL`).
    Synced,
    /// Survives the server's crash, may be lost with the machine.
    ProcessCrash,
}

/// One operation waiting for the connection.
trait Job: Send {
    fn durability(&self) -> Durability;
    /// Runs the operation in `tx`; `true` when it answered an error.
    fn run(&mut self, tx: &Transaction<'_>) -> bool;
    /// Sends the answer; `failed` when the batch was not committed.
    fn answer(self: Box<Self>, failed: Option<&ApiError>);
}

type Work<T> = Box<dyn FnOnce(&Transaction<'_>) -> rusqlite::Result<ApiResult<T>> + Send>;

struct Pending<T> {
    work: Option<Work<T>>,
    durability: Durability,
    answer: Option<ApiResult<T>>,
    reply: oneshot::Sender<ApiResult<T>>,
    location: Arc<str>,
}

impl<T: Send> Job for Pending<T> {
    fn durability(&self) -> Durability {
        self.durability
    }

    fn run(&mut self, tx: &Transaction<'_>) -> bool {
        let Some(work) = self.work.take() else {
            return false;
        };
        let answer = work(tx).unwrap_or_else(|e| Err(storage(&self.location, &e.to_string())));
        let refused = answer.is_err();
        self.answer = Some(answer);
        refused
    }

    fn answer(self: Box<Self>, failed: Option<&ApiError>) {
        let answer = match (self.answer, failed) {
            (Some(answer), None) | (Some(answer @ Err(_)), Some(_)) => answer,
            (_, Some(failed)) => Err(failed.clone()),
            (None, None) => Err(storage(&self.location, "the operation was not run")),
        };
        let _ = self.reply.send(answer);
    }
}

#[derive(Default)]
struct Waiting {
    jobs: Vec<Box<dyn Job>>,
    /// A drain is on its way that will take the jobs pushed meanwhile.
    drain_due: bool,
}

/// Writes waiting for the server's connection.
#[derive(Clone)]
pub struct GroupCommit {
    db: ServerDb,
    waiting: Arc<Mutex<Waiting>>,
    location: Arc<str>,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit")
            .field("db", &self.db)
            .finish_non_exhaustive()
    }
}

impl GroupCommit {
    pub fn new(db: ServerDb) -> GroupCommit {
        let location = Arc::from(db.path().display().to_string());
        GroupCommit {
            db,
            waiting: Arc::default(),
            location,
        }
    }

    /// Runs `work` in the next batch and answers once that is committed.
    /// An `Err` answer (a refusal) is never committed with what it wrote:
    /// a refusal that wrote undoes its batch.
    pub async fn write<T: Send + 'static>(
        &self,
        durability: Durability,
        work: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<ApiResult<T>> + Send + 'static,
    ) -> ApiResult<T> {
        let (reply, answer) = oneshot::channel();
        let start_drain = {
            let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
            waiting.jobs.push(Box::new(Pending {
                work: Some(Box::new(work)),
                durability,
                answer: None,
                reply,
                location: Arc::clone(&self.location),
            }));
            !std::mem::replace(&mut waiting.drain_due, true)
        };
        if start_drain {
            let commit = self.clone();
            // Its result comes through `answer`; a panic drops the sender.
            drop(tokio::task::spawn_blocking(move || {
                commit.db.blocking(|conn| {
                    commit.drain(conn);
                    Ok(())
                })
            }));
        }
        answer.await.unwrap_or_else(|_| {
            Err(ApiError::new(
                "unavailable",
                "the database task did not finish; try again",
            ))
        })
    }

    /// Runs every waiting job in one transaction on `conn` (held).
    fn drain(&self, conn: &mut Connection) {
        let jobs = {
            let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
            waiting.drain_due = false;
            std::mem::take(&mut waiting.jobs)
        };
        if jobs.is_empty() {
            return;
        }
        // A relaxed batch whose pragma failed is committed with `FULL`.
        let relaxed = jobs
            .iter()
            .all(|job| job.durability() == Durability::ProcessCrash)
            && set_synchronous(conn, "NORMAL").is_ok();
        let committed = run_batch(conn, jobs, &self.location);
        if relaxed && let Err(e) = set_synchronous(conn, "FULL") {
            // The connection is the whole server's; its next user must not
            // commit without the fsync.
            tracing::error!(error = %e, "restoring synchronous = FULL failed");
        }
        if let Err(e) = committed {
            tracing::warn!(error = %e, "a batch of server database writes was not committed");
        }
    }
}

fn set_synchronous(conn: &Connection, level: &str) -> rusqlite::Result<()> {
    conn.pragma_update(None, "synchronous", level)
}

/// Runs `jobs` in one transaction and answers each; the error when the
/// batch was not committed.
fn run_batch(
    conn: &mut Connection,
    mut jobs: Vec<Box<dyn Job>>,
    location: &str,
) -> Result<(), String> {
    let failed = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Err(e) => Some(storage(location, &e.to_string())),
        Ok(tx) => {
            let mut spoiled = false;
            for job in &mut jobs {
                let before = tx.total_changes();
                // An error that wrote, or that made SQLite roll back.
                spoiled = job.run(&tx) && (tx.total_changes() != before || tx.is_autocommit());
                if spoiled {
                    break;
                }
            }
            if spoiled {
                drop(tx);
                Some(storage(
                    location,
                    "another write committed with this one failed, so neither was; try again",
                ))
            } else {
                tx.commit().err().map(|e| storage(location, &e.to_string()))
            }
        }
    };
    let message = failed.as_ref().map(|e| e.body.message.clone());
    for job in jobs {
        job.answer(failed.as_ref());
    }
    message.map_or(Ok(()), Err)
}

fn storage(location: &str, message: &str) -> ApiError {
    reelgraph::Error::Storage {
        message: message.to_owned(),
        path: Some(location.to_owned()),
    }
    .into()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::serve::server_db::FILE;

    fn open() -> (tempfile::TempDir, ServerDb) {
        let dir = tempfile::tempdir().expect("a temp dir");
        let db = ServerDb::open(&dir.path().join(FILE)).expect("opens");
        db.blocking(|conn| conn.execute_batch("CREATE TABLE t (x INTEGER NOT NULL)"))
            .expect("a table");
        (dir, db)
    }

    /// Holds the connection for a moment, so the writes started meanwhile
    /// wait and are committed in one batch.
    fn hold(db: &ServerDb) -> std::thread::JoinHandle<()> {
        let (held, is_held) = std::sync::mpsc::channel();
        let db = db.clone();
        let holder = std::thread::spawn(move || {
            db.blocking(|_| {
                held.send(()).expect("the test waits");
                std::thread::sleep(Duration::from_millis(300));
                Ok(())
            })
            .expect("held");
        });
        is_held.recv().expect("the connection is held");
        holder
    }

    fn insert(x: i64) -> impl FnOnce(&Transaction<'_>) -> rusqlite::Result<ApiResult<()>> {
        move |tx| {
            tx.execute("INSERT INTO t (x) VALUES (?1)", [x])?;
            Ok(Ok(()))
        }
    }

    fn rows(db: &ServerDb) -> Vec<i64> {
        db.blocking(|conn| {
            conn.prepare("SELECT x FROM t ORDER BY x")?
                .query_map([], |r| r.get(0))?
                .collect()
        })
        .expect("reads")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_refusal_in_a_batch_changes_nothing_and_spares_the_others() {
        let (_dir, db) = open();
        let commit = GroupCommit::new(db.clone());
        let holder = hold(&db);
        let (one, refused, two) = tokio::join!(
            commit.write(Durability::Synced, insert(1)),
            commit.write(Durability::Synced, |_| Ok(Err::<(), _>(ApiError::new(
                "task_finished",
                "refused"
            )))),
            commit.write(Durability::Synced, insert(2)),
        );
        holder.join().expect("the holder");
        one.expect("committed");
        two.expect("committed");
        assert_eq!(refused.expect_err("refused").body.code, "task_finished");
        assert_eq!(rows(&db), [1, 2]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_operation_failing_after_it_wrote_fails_its_whole_batch() {
        let (_dir, db) = open();
        let commit = GroupCommit::new(db.clone());
        let holder = hold(&db);
        let (one, spoiler) = tokio::join!(
            commit.write(Durability::Synced, insert(1)),
            commit.write(Durability::Synced, |tx| {
                tx.execute("INSERT INTO t (x) VALUES (3)", [])?;
                // NOT NULL: fails after the row above was written.
                tx.execute("INSERT INTO t (x) VALUES (NULL)", [])?;
                Ok(Ok(()))
            }),
        );
        holder.join().expect("the holder");
        assert_eq!(one.expect_err("undone with its batch").body.code, "storage");
        assert_eq!(spoiler.expect_err("its own error").body.code, "storage");
        assert!(rows(&db).is_empty(), "nothing of the batch is kept");
        // The queue goes on.
        commit
            .write(Durability::Synced, insert(4))
            .await
            .expect("committed");
        assert_eq!(rows(&db), [4]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_of_heartbeats_relaxes_the_sync_for_itself_only() {
        let (_dir, db) = open();
        let commit = GroupCommit::new(db.clone());
        let seen = commit
            .write(Durability::ProcessCrash, |tx| {
                let level: i64 = tx.pragma_query_value(None, "synchronous", |r| r.get(0))?;
                Ok(Ok(level))
            })
            .await
            .expect("committed");
        assert_eq!(seen, 1, "NORMAL while the batch ran");
        let after: i64 = db
            .blocking(|conn| conn.pragma_query_value(None, "synchronous", |r| r.get(0)))
            .expect("reads");
        assert_eq!(after, 2, "FULL again for everything else");
    }
}
