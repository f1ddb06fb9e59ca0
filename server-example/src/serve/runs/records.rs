//! Runs in the server's database: a row from the start of each run, and
//! its snapshot, report and events once it ended, so a restart finds every
//! finished run and can replay its events.

use reelgraph::Error;
use reelgraph::exec::{RunEvent, RunReport, RunSnapshot, RunState, Timestamp};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::view::RunSummary;
use crate::serve::api_error::ApiResult;
use crate::serve::server_db::ServerDb;
use crate::serve::server_db_commit::{Durability, GroupCommit};

/// The steps of the runs table; append, never edit one that shipped.
const MIGRATIONS: &[&str] = &["
CREATE TABLE runs (
    -- Order of creation: lists go newest first and page by it.
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    canvas_id TEXT NOT NULL,
    revision INTEGER NOT NULL,
    state TEXT NOT NULL,
    -- The run's files, relative to the data directory.
    dir TEXT NOT NULL,
    options TEXT NOT NULL,
    created_at TEXT NOT NULL,
    ended_at TEXT,
    snapshot TEXT,
    report TEXT,
    events TEXT
);
CREATE INDEX runs_by_canvas ON runs (canvas_id, seq);
"];

/// A run as stored.
#[derive(Debug)]
pub struct Stored {
    pub summary: RunSummary,
    pub snapshot: Option<RunSnapshot>,
    pub report: Option<RunReport>,
}

/// How a run ended, to store.
#[derive(Debug)]
pub struct Ended<'a> {
    pub snapshot: &'a RunSnapshot,
    pub report: &'a RunReport,
    pub events: &'a [RunEvent],
}

/// Which runs a list wants.
#[derive(Debug, Default)]
pub struct RunFilter {
    pub canvas_id: Option<String>,
    pub state: Option<RunState>,
    /// Only runs created before the one with this `seq` (the cursor).
    pub before: Option<i64>,
    pub limit: u32,
}

#[derive(Debug, Clone)]
pub struct Records {
    db: ServerDb,
    /// Starts and ends of runs arrive together; each batch of them shares
    /// one commit and one fsync, where one fsync each under the
    /// connection's lock made every run start queue behind the others.
    commit: GroupCommit,
}

/// A summary's columns, as stored.
type Row = (String, String, u64, String, String, String, Option<String>);
const ROW: &str = "id, canvas_id, revision, state, options, created_at, ended_at";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
    ))
}

impl Records {
    /// Adds the table when missing. Runs that were going when the server
    /// stopped without winding them down are marked abandoned: their
    /// process is gone and no report will come.
    pub fn open(db: ServerDb) -> reelgraph::Result<Self> {
        db.migrate("runs", MIGRATIONS)?;
        let (abandoned, pending, running) = (
            name(RunState::Abandoned),
            name(RunState::Pending),
            name(RunState::Running),
        );
        let now = Timestamp::now().to_string();
        db.blocking(|conn| {
            conn.execute(
                "UPDATE runs SET state = ?1, ended_at = ?2 WHERE state IN (?3, ?4)",
                params![abandoned, now, pending, running],
            )
        })?;
        let commit = GroupCommit::new(db.clone());
        Ok(Records { db, commit })
    }

    pub async fn insert(&self, run: &RunSummary) -> ApiResult<()> {
        let values = (
            run.run_id.clone(),
            run.canvas_id.clone(),
            run.revision,
            name(run.state),
            format!("runs/{}", run.run_id),
            json(&run.options)?,
            run.created_at.to_string(),
        );
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO runs (id, canvas_id, revision, state, dir, options, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    values.0, values.1, values.2, values.3, values.4, values.5, values.6
                ],
            )
        })
        .await
    }

    /// Stores how the run ended, in one statement: a run is stored whole
    /// or stays as it was.
    pub async fn finish(&self, ended: &Ended<'_>) -> ApiResult<()> {
        let id = ended.report.run_id.clone();
        let state = name(ended.snapshot.state);
        let ended_at = ended
            .snapshot
            .ended_at
            .unwrap_or_else(Timestamp::now)
            .to_string();
        let snapshot = json(ended.snapshot)?;
        let report = json(ended.report)?;
        let events = json(ended.events)?;
        self.write(move |tx| {
            tx.execute(
                "UPDATE runs SET state = ?2, ended_at = ?3, snapshot = ?4, report = ?5,
                        events = ?6
                 WHERE id = ?1",
                params![id, state, ended_at, snapshot, report, events],
            )
        })
        .await
    }

    /// Runs one statement in the next group commit; it returns once the
    /// batch is on disk.
    async fn write(
        &self,
        statement: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<usize> + Send + 'static,
    ) -> ApiResult<()> {
        self.commit
            .write(Durability::Synced, move |tx| statement(tx).map(|_| Ok(())))
            .await
    }

    pub async fn get(&self, id: &str) -> ApiResult<Option<Stored>> {
        let id = id.to_owned();
        let found = self
            .db
            .call(move |conn| {
                conn.query_row(
                    &format!("SELECT {ROW}, snapshot, report FROM runs WHERE id = ?1"),
                    [&id],
                    |r| {
                        Ok((
                            row(r)?,
                            r.get::<_, Option<String>>(7)?,
                            r.get::<_, Option<String>>(8)?,
                        ))
                    },
                )
                .optional()
            })
            .await?;
        let Some((summary, snapshot, report)) = found else {
            return Ok(None);
        };
        Ok(Some(Stored {
            summary: summary_of(summary)?,
            snapshot: snapshot.as_deref().map(parse).transpose()?,
            report: report.as_deref().map(parse).transpose()?,
        }))
    }

    /// The run's stored events: `None` for a run the table does not hold,
    /// empty for one that has not ended (its events are in the hub).
    pub async fn events(&self, id: &str) -> ApiResult<Option<Vec<RunEvent>>> {
        let id = id.to_owned();
        let events = self
            .db
            .call(move |conn| {
                conn.query_row("SELECT events FROM runs WHERE id = ?1", [&id], |r| {
                    r.get::<_, Option<String>>(0)
                })
                .optional()
            })
            .await?;
        Ok(match events {
            None => None,
            Some(None) => Some(Vec::new()),
            Some(Some(text)) => Some(parse(&text)?),
        })
    }

    pub async fn exists(&self, id: &str) -> ApiResult<bool> {
        let id = id.to_owned();
        let found = self
            .db
            .call(move |conn| {
                conn.query_row("SELECT 1 FROM runs WHERE id = ?1", [&id], |_| Ok(()))
                    .optional()
            })
            .await?;
        Ok(found.is_some())
    }

    /// Runs newest first, and the cursor of the next page when there is one.
    pub async fn list(&self, filter: RunFilter) -> ApiResult<(Vec<RunSummary>, Option<i64>)> {
        let state = filter.state.map(name);
        let limit = filter.limit as usize;
        let rows = self
            .db
            .call(move |conn| {
                let mut statement = conn.prepare_cached(&format!(
                    "SELECT {ROW}, seq FROM runs
                     WHERE (?1 IS NULL OR canvas_id = ?1) AND (?2 IS NULL OR state = ?2)
                       AND (?3 IS NULL OR seq < ?3)
                     ORDER BY seq DESC LIMIT ?4"
                ))?;
                // One more than asked: whether there is a next page.
                let rows = statement.query_map(
                    params![
                        filter.canvas_id,
                        state,
                        filter.before,
                        i64::from(filter.limit) + 1
                    ],
                    |r| Ok((row(r)?, r.get::<_, i64>(7)?)),
                )?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?;
        let more = rows.len() > limit;
        let mut runs = Vec::with_capacity(limit);
        let mut last = None;
        for (summary, seq) in rows.into_iter().take(limit) {
            runs.push(summary_of(summary)?);
            last = Some(seq);
        }
        Ok((runs, if more { last } else { None }))
    }
}

fn summary_of(
    (run_id, canvas_id, revision, state, options, created_at, ended_at): Row,
) -> reelgraph::Result<RunSummary> {
    Ok(RunSummary {
        run_id,
        canvas_id,
        revision,
        state: serde_json::from_value(serde_json::Value::String(state))
            .map_err(|e| corrupt(&e.to_string()))?,
        options: parse(&options)?,
        created_at: time(&created_at)?,
        ended_at: ended_at.as_deref().map(time).transpose()?,
    })
}

/// A run state's wire name (`running`), as stored.
fn name(state: RunState) -> String {
    match serde_json::to_value(state) {
        Ok(serde_json::Value::String(s)) => s,
        _ => format!("{state:?}").to_lowercase(),
    }
}

fn json<T: Serialize + ?Sized>(value: &T) -> reelgraph::Result<String> {
    serde_json::to_string(value).map_err(|e| Error::Internal {
        message: format!("a run could not be written as JSON: {e}"),
    })
}

fn parse<T: DeserializeOwned>(text: &str) -> reelgraph::Result<T> {
    serde_json::from_str(text).map_err(|e| corrupt(&e.to_string()))
}

fn time(text: &str) -> reelgraph::Result<Timestamp> {
    Timestamp::parse(text).ok_or_else(|| corrupt(&format!("`{text}` is not a time")))
}

fn corrupt(message: &str) -> Error {
    Error::Corrupt {
        location: "the runs table of the server database".into(),
        message: message.to_owned(),
    }
}
