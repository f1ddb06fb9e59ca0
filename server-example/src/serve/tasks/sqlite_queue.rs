//! [`SqliteQueue`]: the task queue in the server's SQLite file.
//!
//! A task is one row: the columns a query needs (state, function,
//! priority, the current lease and when it ends) and the whole
//! [`TaskRecord`] as JSON. Every lease ever handed out is kept
//! (`task_leases`), so a late call under an old lease gets the right
//! refusal; every event is kept (`task_events`), so a subscriber can replay
//! a task's events after a restart. Operations run in the server's one
//! connection, many to a transaction ([`GroupCommit`]): claims are atomic,
//! and concurrent operations share one fsync.

use std::time::{Duration, UNIX_EPOCH};

use async_trait::async_trait;
use reelgraph::Error;
use reelgraph::event::Timestamp;
use reelgraph::remote::{
    LeaseState, LeasedTask, ProgressReport, TaskEvent, TaskRecord, TaskState, TaskSubmission,
};
use reelgraph::runner::{Outputs, TaskError, TaskErrorKind};
use rusqlite::types::Type;
use rusqlite::{OptionalExtension, Transaction, params};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::lifecycle::{self, Step};
use super::queue::{Changed, Claim, Happened, Listed, Submitted, TaskFilter, TaskQueue};
use crate::serve::api_error::{ApiError, ApiResult};
use crate::serve::random;
use crate::serve::server_db::ServerDb;
use crate::serve::server_db_commit::{Durability, GroupCommit};

/// The steps of the task tables; append, never edit one that shipped.
const MIGRATIONS: &[&str] = &["
CREATE TABLE tasks (
    -- Submission order: the queue's tie-break and the list's cursor.
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    function TEXT NOT NULL,
    state TEXT NOT NULL,
    priority INTEGER NOT NULL,
    idempotency_key TEXT UNIQUE,
    -- The last lease handed out, and when it ends (ms since the epoch).
    lease TEXT,
    lease_ends_ms INTEGER,
    -- The seq of the task's next event.
    next_event INTEGER NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX tasks_waiting ON tasks (function, priority DESC, seq) WHERE state = 'queued';
CREATE INDEX tasks_leased ON tasks (lease_ends_ms) WHERE state = 'leased';
CREATE INDEX tasks_by_state ON tasks (state, seq);
CREATE TABLE task_leases (
    lease TEXT PRIMARY KEY NOT NULL,
    task_id TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE task_events (
    task_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (task_id, seq)
) WITHOUT ROWID;
"];

/// The queue in the server's database. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SqliteQueue {
    db: ServerDb,
    commit: GroupCommit,
}

impl SqliteQueue {
    /// The queue in `db`, its tables made or brought up to date.
    pub fn open(db: ServerDb) -> reelgraph::Result<SqliteQueue> {
        db.migrate("tasks", MIGRATIONS)?;
        let commit = GroupCommit::new(db.clone());
        Ok(SqliteQueue { db, commit })
    }

    /// Runs `work` in the next group commit, committed with the others of
    /// its batch (a refusal changes nothing).
    async fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<ApiResult<T>> + Send + 'static,
    ) -> ApiResult<T> {
        self.commit.write(Durability::Synced, work).await
    }
}

/// A task's row, loaded to be changed.
#[derive(Debug)]
struct Row {
    record: TaskRecord,
    next_event: u64,
    lease: Option<String>,
    lease_ends_ms: Option<i64>,
}

impl Row {
    fn load(tx: &Transaction<'_>, id: &str) -> rusqlite::Result<Option<Row>> {
        tx.prepare_cached(
            "SELECT record, next_event, lease, lease_ends_ms FROM tasks WHERE id = ?1",
        )?
        .query_row([id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get(2)?,
                r.get(3)?,
            ))
        })
        .optional()?
        .map(|(record, next_event, lease, lease_ends_ms)| {
            Ok(Row {
                record: from_text(&record)?,
                next_event: u64::try_from(next_event).unwrap_or(0),
                lease,
                lease_ends_ms,
            })
        })
        .transpose()
    }

    /// Stores the row and the events a step made; returns them with the
    /// task's function.
    fn save(
        &self,
        tx: &Transaction<'_>,
        events: Vec<TaskEvent>,
    ) -> rusqlite::Result<Vec<Happened>> {
        tx.prepare_cached(
            "UPDATE tasks SET state = ?2, lease = ?3, lease_ends_ms = ?4, next_event = ?5, record = ?6
             WHERE id = ?1",
        )?
        .execute(params![
            self.record.id,
            state_name(self.record.state),
            self.lease,
            self.lease_ends_ms,
            i64::try_from(self.next_event).unwrap_or(i64::MAX),
            to_text(&self.record)?,
        ])?;
        store_events(tx, &self.record.function, events)
    }
}

fn store_events(
    tx: &Transaction<'_>,
    function: &str,
    events: Vec<TaskEvent>,
) -> rusqlite::Result<Vec<Happened>> {
    let mut insert =
        tx.prepare_cached("INSERT INTO task_events (task_id, seq, body) VALUES (?1, ?2, ?3)")?;
    for event in &events {
        insert.execute(params![
            event.task_id(),
            i64::try_from(event.seq()).unwrap_or(i64::MAX),
            to_text(event)?,
        ])?;
    }
    Ok(events
        .into_iter()
        .map(|event| Happened {
            function: function.to_owned(),
            event,
        })
        .collect())
}

/// What a lease names, once checked.
enum Held {
    /// The task's current lease, not expired.
    Current(Row),
    /// The last lease of a task cancelled while it was held.
    Cancelled(Row),
}

/// The task `lease` names, or the protocol's refusal.
fn held(tx: &Transaction<'_>, lease: &str, now_ms: i64) -> rusqlite::Result<ApiResult<Held>> {
    let task_id: Option<String> = tx
        .prepare_cached("SELECT task_id FROM task_leases WHERE lease = ?1")?
        .query_row([lease], |r| r.get(0))
        .optional()?;
    let Some(row) = task_id.map(|id| Row::load(tx, &id)).transpose()?.flatten() else {
        return Ok(Err(Error::NotFound {
            kind: "lease",
            id: lease.to_owned(),
        }
        .into()));
    };
    let state = row.record.state;
    let details = json!({"lease": lease, "task_id": row.record.id, "state": state});
    let last = row.lease.as_deref() == Some(lease);
    if state == TaskState::Cancelled && last {
        return Ok(Ok(Held::Cancelled(row)));
    }
    if state.is_final() {
        return Ok(Err(ApiError::new(
            "task_finished",
            format!(
                "task `{}` has ended ({}); nothing more is taken for it",
                row.record.id,
                state_name(state)
            ),
        )
        .with_details(details)));
    }
    if last && state == TaskState::Leased {
        if row.lease_ends_ms.is_some_and(|ends| ends <= now_ms) {
            return Ok(Err(ApiError::new(
                "lease_expired",
                format!("lease `{lease}` on task `{}` has expired", row.record.id),
            )
            .with_details(details)));
        }
        return Ok(Ok(Held::Current(row)));
    }
    if state == TaskState::Leased {
        return Ok(Err(ApiError::new(
            "lease_lost",
            format!(
                "task `{}` is leased to another worker now; lease `{lease}` is over",
                row.record.id
            ),
        )
        .with_details(details)));
    }
    Ok(Err(ApiError::new(
        "lease_expired",
        format!(
            "lease `{lease}` on task `{}` is over; the task is back in the queue",
            row.record.id
        ),
    )
    .with_details(details)))
}

/// Requeues or buries every leased task whose lease ended by `now`.
fn expire_due(
    tx: &Transaction<'_>,
    now: Timestamp,
) -> rusqlite::Result<(Vec<TaskRecord>, Vec<Happened>)> {
    let ids: Vec<String> = tx
        .prepare_cached(
            "SELECT id FROM tasks WHERE state = 'leased' AND lease_ends_ms <= ?1 ORDER BY seq",
        )?
        .query_map([millis(now)], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut records = Vec::new();
    let mut happened = Vec::new();
    for id in ids {
        let Some(mut row) = Row::load(tx, &id)? else {
            continue;
        };
        let mut next = row.next_event;
        let mut step = Step::new(&mut row.record, &mut next, now);
        step.expire();
        let events = step.events;
        row.next_event = next;
        happened.extend(row.save(tx, events)?);
        records.push(row.record);
    }
    Ok((records, happened))
}

#[async_trait]
impl TaskQueue for SqliteQueue {
    async fn submit(
        &self,
        id: String,
        task: TaskSubmission,
        max_attempts: u32,
    ) -> ApiResult<Changed<Submitted>> {
        self.write(move |tx| {
            if let Some(key) = &task.idempotency_key {
                let known: Option<(String, String)> = tx
                    .prepare_cached(
                        "SELECT function, record FROM tasks WHERE idempotency_key = ?1",
                    )?
                    .query_row([key], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?;
                if let Some((function, record)) = known {
                    let record: TaskRecord = from_text(&record)?;
                    if record.state.ended_without_result() {
                        // Work that ended without a result runs again when
                        // submitted again: the old task lets go of its key.
                        tx.prepare_cached(
                            "UPDATE tasks SET idempotency_key = NULL WHERE id = ?1",
                        )?
                        .execute([&record.id])?;
                    } else if function != task.function {
                        return Ok(Err(ApiError::new(
                            "idempotency_conflict",
                            format!(
                                "idempotency key `{key}` names task `{}` of function `{function}`, not `{}`",
                                record.id, task.function
                            ),
                        )
                        .with_details(json!({"task_id": record.id, "function": function}))));
                    } else {
                        return Ok(Ok(Changed {
                            value: Submitted {
                                record,
                                created: false,
                            },
                            events: Vec::new(),
                        }));
                    }
                }
            }
            let (record, event) = lifecycle::submitted(id, task, max_attempts, Timestamp::now());
            tx.prepare_cached(
                "INSERT INTO tasks (id, function, state, priority, idempotency_key, next_event, record)
                 VALUES (?1, ?2, 'queued', ?3, ?4, 1, ?5)",
            )?
            .execute(params![
                record.id,
                record.function,
                record.priority,
                record.idempotency_key,
                to_text(&record)?,
            ])?;
            let events = store_events(tx, &record.function, vec![event])?;
            Ok(Ok(Changed {
                value: Submitted {
                    record,
                    created: true,
                },
                events,
            }))
        })
        .await
    }

    async fn claim(&self, claim: Claim) -> ApiResult<Changed<Vec<LeasedTask>>> {
        self.write(move |tx| {
            let now = Timestamp::now();
            let (_, mut happened) = expire_due(tx, now)?;
            let marks = vec!["?"; claim.functions.len()].join(", ");
            let sql = format!(
                "SELECT id FROM tasks WHERE state = 'queued' AND function IN ({marks})
                 ORDER BY priority DESC, seq LIMIT {}",
                claim.max_tasks
            );
            let ids: Vec<String> = tx
                .prepare_cached(&sql)?
                .query_map(rusqlite::params_from_iter(&claim.functions), |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let ends = millis(now).saturating_add(duration_ms(claim.lease_for));
            let mut leased = Vec::with_capacity(ids.len());
            for id in ids {
                let Some(mut row) = Row::load(tx, &id)? else {
                    continue;
                };
                let lease = format!("ls_{}", token()?);
                let mut next = row.next_event;
                let mut step = Step::new(&mut row.record, &mut next, now);
                leased.push(step.lease(&claim.worker, lease.clone(), claim.lease_for));
                let events = step.events;
                row.next_event = next;
                tx.prepare_cached("INSERT INTO task_leases (lease, task_id) VALUES (?1, ?2)")?
                    .execute(params![lease, id])?;
                row.lease = Some(lease);
                row.lease_ends_ms = Some(ends);
                happened.extend(row.save(tx, events)?);
            }
            Ok(Ok(Changed {
                value: leased,
                events: happened,
            }))
        })
        .await
    }

    async fn renew(
        &self,
        lease: &str,
        progress: Option<ProgressReport>,
        lease_for: Duration,
    ) -> ApiResult<Changed<LeaseState>> {
        let lease = lease.to_owned();
        // A heartbeat or progress lost with the machine is harmless: the
        // lease ends a little earlier, or the progress shows the last one.
        self.commit
            .write(Durability::ProcessCrash, move |tx| {
                let now = Timestamp::now();
                let mut row = match held(tx, &lease, millis(now))? {
                    Ok(Held::Current(row)) => row,
                    // The usual rhythm: the worker heartbeats calmly until it
                    // has stopped and reported the cancel.
                    Ok(Held::Cancelled(_)) => {
                        return Ok(Ok(Changed {
                            value: LeaseState {
                                cancel: true,
                                lease_for,
                            },
                            events: Vec::new(),
                        }));
                    }
                    Err(refusal) => return Ok(Err(refusal)),
                };
                let mut next = row.next_event;
                let mut step = Step::new(&mut row.record, &mut next, now);
                if let Some(report) = progress {
                    step.progress(report);
                }
                let events = step.events;
                row.next_event = next;
                row.lease_ends_ms = Some(millis(now).saturating_add(duration_ms(lease_for)));
                let events = row.save(tx, events)?;
                Ok(Ok(Changed {
                    value: LeaseState {
                        cancel: false,
                        lease_for,
                    },
                    events,
                }))
            })
            .await
    }

    async fn complete(
        &self,
        lease: &str,
        outputs: Outputs,
    ) -> ApiResult<Changed<Result<TaskRecord, ApiError>>> {
        let lease = lease.to_owned();
        self.write(move |tx| {
            let now = Timestamp::now();
            let mut row = match held(tx, &lease, millis(now))? {
                Ok(Held::Current(row)) => row,
                Ok(Held::Cancelled(row)) => return Ok(Err(finished(&row.record))),
                Err(refusal) => return Ok(Err(refusal)),
            };
            let wrong = lifecycle::check_outputs(row.record.outputs_declared.as_deref(), &outputs);
            let mut next = row.next_event;
            let mut step = Step::new(&mut row.record, &mut next, now);
            let refusal = match wrong {
                Ok(()) => {
                    step.complete(outputs);
                    None
                }
                Err(wrong) => {
                    step.fail(wrong.task_error());
                    Some(
                        ApiError::new(
                            "invalid_outputs",
                            format!(
                                "the outputs do not name the task's declared ports: missing {:?}, not declared {:?}; the task failed",
                                wrong.missing, wrong.unexpected
                            ),
                        )
                        .with_details(json!({
                            "task_id": step.record.id,
                            "missing": wrong.missing,
                            "unexpected": wrong.unexpected,
                        })),
                    )
                }
            };
            let events = step.events;
            row.next_event = next;
            let events = row.save(tx, events)?;
            Ok(Ok(Changed {
                value: match refusal {
                    Some(refusal) => Err(refusal),
                    None => Ok(row.record),
                },
                events,
            }))
        })
        .await
    }

    async fn fail(&self, lease: &str, error: TaskError) -> ApiResult<Changed<TaskRecord>> {
        let lease = lease.to_owned();
        self.write(move |tx| {
            let now = Timestamp::now();
            let mut row = match held(tx, &lease, millis(now))? {
                Ok(Held::Current(row)) => row,
                // The worker stopped as it was told: nothing more to do.
                Ok(Held::Cancelled(row)) if error.kind == TaskErrorKind::Cancelled => {
                    return Ok(Ok(Changed {
                        value: row.record,
                        events: Vec::new(),
                    }));
                }
                Ok(Held::Cancelled(row)) => return Ok(Err(finished(&row.record))),
                Err(refusal) => return Ok(Err(refusal)),
            };
            let mut next = row.next_event;
            let mut step = Step::new(&mut row.record, &mut next, now);
            step.fail(error);
            let events = step.events;
            row.next_event = next;
            let events = row.save(tx, events)?;
            Ok(Ok(Changed {
                value: row.record,
                events,
            }))
        })
        .await
    }

    async fn cancel(&self, id: &str) -> ApiResult<Changed<TaskRecord>> {
        let id = id.to_owned();
        self.write(move |tx| {
            let Some(mut row) = Row::load(tx, &id)? else {
                return Ok(Err(not_found(&id)));
            };
            if row.record.state.is_final() {
                return Ok(Err(finished(&row.record)));
            }
            let mut next = row.next_event;
            let mut step = Step::new(&mut row.record, &mut next, Timestamp::now());
            step.cancel();
            let events = step.events;
            row.next_event = next;
            let events = row.save(tx, events)?;
            Ok(Ok(Changed {
                value: row.record,
                events,
            }))
        })
        .await
    }

    async fn expire(&self, now: Timestamp) -> ApiResult<Changed<Vec<TaskRecord>>> {
        self.write(move |tx| {
            let (value, events) = expire_due(tx, now)?;
            Ok(Ok(Changed { value, events }))
        })
        .await
    }

    async fn get(&self, id: &str) -> ApiResult<TaskRecord> {
        let id = id.to_owned();
        self.db
            .call(move |conn| {
                let record: Option<String> = conn
                    .prepare_cached("SELECT record FROM tasks WHERE id = ?1")?
                    .query_row([&id], |r| r.get(0))
                    .optional()?;
                match record {
                    Some(text) => Ok(Ok(from_text(&text)?)),
                    None => Ok(Err(not_found(&id))),
                }
            })
            .await?
    }

    async fn list(&self, filter: TaskFilter) -> ApiResult<Listed> {
        self.db
            .call(move |conn| {
                let mut statement = conn.prepare_cached(
                    "SELECT seq, record FROM tasks
                     WHERE (?1 IS NULL OR state = ?1) AND (?2 IS NULL OR function = ?2)
                       AND (?3 IS NULL OR seq < ?3)
                     ORDER BY seq DESC LIMIT ?4",
                )?;
                let rows: Vec<(i64, String)> = statement
                    .query_map(
                        params![
                            filter.state.map(state_name),
                            filter.function,
                            filter.before,
                            i64::from(filter.limit) + 1,
                        ],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )?
                    .collect::<rusqlite::Result<_>>()?;
                let more = rows.len() > filter.limit as usize;
                let rows = &rows[..rows.len().min(filter.limit as usize)];
                let items = rows
                    .iter()
                    .map(|(_, text)| from_text(text))
                    .collect::<rusqlite::Result<Vec<TaskRecord>>>()?;
                Ok(Listed {
                    items,
                    next: if more {
                        rows.last().map(|(seq, _)| *seq)
                    } else {
                        None
                    },
                })
            })
            .await
    }

    async fn events(&self, id: &str, from: u64) -> ApiResult<Vec<TaskEvent>> {
        let id = id.to_owned();
        self.db
            .call(move |conn| {
                let known: Option<i64> = conn
                    .prepare_cached("SELECT seq FROM tasks WHERE id = ?1")?
                    .query_row([&id], |r| r.get(0))
                    .optional()?;
                if known.is_none() {
                    return Ok(Err(not_found(&id)));
                }
                let mut statement = conn.prepare_cached(
                    "SELECT body FROM task_events WHERE task_id = ?1 AND seq >= ?2 ORDER BY seq",
                )?;
                let bodies: Vec<String> = statement
                    .query_map(params![id, i64::try_from(from).unwrap_or(i64::MAX)], |r| {
                        r.get(0)
                    })?
                    .collect::<rusqlite::Result<_>>()?;
                let events = bodies
                    .iter()
                    .map(|body| from_text(body))
                    .collect::<rusqlite::Result<Vec<TaskEvent>>>()?;
                Ok(Ok(events))
            })
            .await?
    }

    async fn depth(&self) -> ApiResult<Vec<(String, u64)>> {
        self.db
            .call(|conn| {
                conn.prepare_cached(
                    "SELECT function, count(*) FROM tasks WHERE state = 'queued' GROUP BY function",
                )?
                .query_map([], |r| {
                    Ok((r.get(0)?, u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0)))
                })?
                .collect()
            })
            .await
    }
}

fn not_found(id: &str) -> ApiError {
    Error::NotFound {
        kind: "task",
        id: id.to_owned(),
    }
    .into()
}

fn finished(record: &TaskRecord) -> ApiError {
    ApiError::new(
        "task_finished",
        format!(
            "task `{}` has ended ({}); nothing more is taken for it",
            record.id,
            state_name(record.state)
        ),
    )
    .with_details(json!({"task_id": record.id, "state": record.state}))
}

/// The state as the wire and the `state` column spell it.
pub fn state_name(state: TaskState) -> &'static str {
    match state {
        TaskState::Queued => "queued",
        TaskState::Leased => "leased",
        TaskState::Completed => "completed",
        TaskState::Failed => "failed",
        TaskState::Cancelled => "cancelled",
        TaskState::Dead => "dead",
    }
}

fn millis(at: Timestamp) -> i64 {
    at.0.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn duration_ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// A random token for a task or lease id.
pub fn token() -> rusqlite::Result<String> {
    random::hex_token(12).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

fn to_text<T: Serialize>(value: &T) -> rusqlite::Result<String> {
    serde_json::to_string(value).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

fn from_text<T: DeserializeOwned>(text: &str) -> rusqlite::Result<T> {
    serde_json::from_str(text)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, Type::Text, Box::new(e)))
}
