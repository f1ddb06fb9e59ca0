//! The SQLite store's journal: saving an apply writes its [`Delta`] (a few
//! hundred bytes) instead of the whole document, and reading a version
//! replays the deltas after the nearest whole document before it (a
//! snapshot). A save writes a snapshot instead once a canvas has
//! [`MAX_CHAIN`] deltas since its last one, or their bytes pass the
//! document's own size, so a read replays at most that much.

use rusqlite::{Connection, OptionalExtension, params};

use super::sqlite_store::{Stored, from_sql, to_sql as sql_revision, unix_ns};
use super::{MAX_DOCUMENT_BYTES, VersionInfo, check_save, saved_now};
use crate::delta::Delta;
use crate::error::{Error, Result};
use crate::model::CanvasDocument;
use crate::sqlite_conn::sql_error;

/// Most deltas between two snapshots of a canvas.
pub(super) const MAX_CHAIN: i64 = 100;

/// A delta as a save writes it, made on the caller's thread.
#[derive(Debug)]
pub(super) struct DeltaRow {
    pub id: String,
    pub expected: u64,
    pub revision: u64,
    pub name: Option<String>,
    pub size_change: i64,
    pub summary: String,
    pub json: String,
}

/// Writes `row` in the caller's transaction: `None`, with nothing written,
/// when a snapshot is due instead.
pub(super) fn write(
    conn: &Connection,
    location: &str,
    row: &DeltaRow,
) -> Result<Option<VersionInfo>> {
    let err = |e: rusqlite::Error| sql_error(location, &e);
    let current = conn
        .prepare_cached(
            "SELECT revision, size, journal_count, journal_bytes FROM canvases WHERE id = ?1",
        )
        .map_err(err)?
        .query_row([&row.id], |r| {
            Ok((
                from_sql(r.get(0)?),
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })
        .optional()
        .map_err(err)?;
    check_save(current.map(|c| c.0), &row.id, row.revision, row.expected)?;
    let Some((_, size, count, bytes)) = current else {
        unreachable!("check_save refuses a missing canvas")
    };
    if row.expected.checked_add(1) != Some(row.revision) {
        return Err(Error::InvalidField {
            field: "revision",
            message: format!(
                "the change is to revision {}, which does not follow the current {}; save the whole document",
                row.revision, row.expected
            ),
        });
    }
    let len = row.json.len() as i64;
    if count >= MAX_CHAIN || bytes + len > size {
        return Ok(None);
    }
    let new_size = size + row.size_change;
    if new_size > MAX_DOCUMENT_BYTES as i64 {
        return Err(Error::TooLarge {
            size: usize::try_from(new_size).unwrap_or(usize::MAX),
            limit: MAX_DOCUMENT_BYTES,
        });
    }
    let (saved, saved_at) = saved_now();
    let revision = sql_revision(row.revision)?;
    let changed = conn
        .prepare_cached(
            "UPDATE canvases SET name = coalesce(?3, name), revision = ?4, updated_at = ?5,
                size = ?6, fingerprint = NULL, journal_count = journal_count + 1,
                journal_bytes = journal_bytes + ?7
             WHERE id = ?1 AND revision = ?2",
        )
        .map_err(err)?
        .execute(params![
            row.id,
            sql_revision(row.expected)?,
            row.name,
            revision,
            saved_at,
            new_size,
            len
        ])
        .map_err(err)?;
    if changed != 1 {
        return Err(Error::Conflict {
            id: row.id.clone(),
            expected: row.expected,
            current: current.map_or(0, |c| c.0),
        });
    }
    conn.prepare_cached(
        "INSERT INTO versions (canvas_id, revision, saved_at, saved_unix_ns, size, summary, delta)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .map_err(err)?
    .execute(params![
        row.id,
        revision,
        saved_at,
        unix_ns(saved),
        new_size,
        row.summary,
        row.json
    ])
    .map_err(err)?;
    Ok(Some(VersionInfo {
        revision: row.revision,
        saved_at,
        size_bytes: from_sql(new_size),
        summary: row.summary.clone(),
    }))
}

/// The nearest snapshot before a revision (the columns `read_document` reads).
pub(super) const SNAPSHOT_BEFORE: &str = "SELECT revision, octet_length(document),
        CASE WHEN octet_length(document) <= ?3 THEN document END, 1, 0
    FROM versions WHERE canvas_id = ?1 AND revision < ?2 AND document IS NOT NULL
    ORDER BY revision DESC LIMIT 1";

/// A version stored as deltas: the snapshot before it and the deltas from
/// there on, as read; parsed once the connection is free.
pub(super) struct Chain {
    pub base: Stored,
    pub deltas: Vec<(u64, String)>,
    pub revision: u64,
    pub location: String,
}

/// The deltas after revision `base` up to `revision`, oldest first.
pub(super) fn read_deltas(
    conn: &Connection,
    location: &str,
    id: &str,
    base: u64,
    revision: u64,
) -> Result<Vec<(u64, String)>> {
    let err = |e: rusqlite::Error| sql_error(location, &e);
    let mut stmt = conn
        .prepare_cached(
            "SELECT revision, delta FROM versions
             WHERE canvas_id = ?1 AND revision > ?2 AND revision <= ?3 ORDER BY revision",
        )
        .map_err(err)?;
    let rows = stmt
        .query_map(
            params![id, sql_revision(base)?, sql_revision(revision)?],
            |r| Ok((from_sql(r.get(0)?), r.get::<_, Option<String>>(1)?)),
        )
        .map_err(err)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(err)?;
    rows.into_iter()
        .map(|(revision, delta)| {
            delta.map(|d| (revision, d)).ok_or_else(|| Error::Corrupt {
                location: format!("{location} (canvas `{id}`, revision {revision})"),
                message: "a whole version follows the snapshot a later change is based on".into(),
            })
        })
        .collect()
}

impl Chain {
    pub(super) async fn parse(self, id: &str) -> Result<CanvasDocument> {
        let Chain {
            base,
            deltas,
            revision,
            location,
        } = self;
        let doc = base.parse(id).await?;
        replay(doc, &deltas, revision, &location)
    }

    pub(super) fn parse_here(self, id: &str) -> Result<CanvasDocument> {
        let doc = self.base.parse_here(id)?;
        replay(doc, &self.deltas, self.revision, &self.location)
    }
}

/// `doc` brought forward by `deltas` to `revision`.
fn replay(
    mut doc: CanvasDocument,
    deltas: &[(u64, String)],
    revision: u64,
    location: &str,
) -> Result<CanvasDocument> {
    for (at, text) in deltas {
        let corrupt = |message: String| Error::Corrupt {
            location: format!("{location}, the change to revision {at}"),
            message,
        };
        let delta: Delta = serde_json::from_str(text).map_err(|e| corrupt(e.to_string()))?;
        if delta.revision != *at {
            return Err(corrupt(format!("it holds revision {}", delta.revision)));
        }
        delta.apply_to(&mut doc).map_err(corrupt)?;
    }
    if doc.revision != revision {
        return Err(Error::Corrupt {
            location: location.to_owned(),
            message: format!(
                "its changes end at revision {}, not {revision}",
                doc.revision
            ),
        });
    }
    Ok(doc)
}
