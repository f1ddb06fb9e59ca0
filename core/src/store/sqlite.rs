//! A store in one SQLite database file (bundled SQLite): the embedded
//! default of the reference server.
//!
//! # Schema (version 1, kept in `PRAGMA user_version`)
//!
//! ```sql
//! CREATE TABLE canvases (
//!     id         TEXT PRIMARY KEY NOT NULL,
//!     name       TEXT NOT NULL,
//!     revision   INTEGER NOT NULL,
//!     updated_at TEXT NOT NULL,     -- RFC 3339, when the current version was saved
//!     size       INTEGER NOT NULL,  -- bytes of `document`
//!     document   TEXT NOT NULL      -- the current version's canvas JSON
//! );
//! CREATE INDEX canvases_by_name ON canvases (name, id);
//! CREATE TABLE versions (
//!     canvas_id     TEXT NOT NULL REFERENCES canvases (id) ON DELETE CASCADE,
//!     revision      INTEGER NOT NULL,
//!     saved_at      TEXT NOT NULL,
//!     saved_unix_ns INTEGER NOT NULL,  -- for pruning by age
//!     size          INTEGER NOT NULL,
//!     summary       TEXT NOT NULL,
//!     document      TEXT NOT NULL,
//!     PRIMARY KEY (canvas_id, revision)
//! );
//! ```
//!
//! `canvases` holds the current version of each canvas (listing reads it
//! without touching history); `versions` holds every saved version, the
//! current one included. Listing pages by id (`id > ?cursor ORDER BY id
//! LIMIT n + 1`) and filters names by a range (`name >= ?prefix AND name <
//! ?next`, where `next` is the prefix with its last character incremented),
//! so user text never reaches a `LIKE` pattern. Opening a database runs the
//! migrations from its `user_version` up to the current schema in one
//! transaction, and refuses a database from a newer reelgraph.
//!
//! # Transactions and processes
//!
//! Every change is one `BEGIN IMMEDIATE` transaction: the write lock is taken
//! before the current revision is read, so the read-check-write of a save
//! cannot interleave with another writer's — in this process or another one
//! sharing the file. The update itself is also conditional (`UPDATE ...
//! WHERE id = ? AND revision = ?`, and the changed-row count is checked).
//! The database runs in WAL mode with `synchronous = FULL` (a save that
//! returned is on disk) and a busy timeout of ten seconds, after which a waiting
//! writer gets a `storage` error.
//!
//! # Threads
//!
//! The store holds one connection behind a mutex, used from tokio's blocking
//! pool ([`tokio::task::spawn_blocking`]); the store must be used inside a
//! tokio runtime. One connection serialises this process's calls, which
//! costs little: SQLite runs one writer at a time anyway, and documents are
//! read whole. A pool of read connections would let reads overlap a long
//! write; it is not needed yet.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::{
    CanvasStore, CanvasSummary, ListQuery, MAX_DOCUMENT_BYTES, Page, Prune, VersionInfo,
    change_summary, check_save, decode, encode, saved_now,
};
use crate::error::{Error, Result};
use crate::model::{CanvasDocument, check_id};

/// How long a writer waits for another connection's write to finish.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The schema this build writes; `MIGRATIONS[n]` takes a database from
/// version `n` to `n + 1`.
const SCHEMA_VERSION: u32 = 1;

const MIGRATIONS: [&str; SCHEMA_VERSION as usize] = [
    // 0 -> 1: canvases and their versions.
    "CREATE TABLE canvases (
        id         TEXT PRIMARY KEY NOT NULL,
        name       TEXT NOT NULL,
        revision   INTEGER NOT NULL,
        updated_at TEXT NOT NULL,
        size       INTEGER NOT NULL,
        document   TEXT NOT NULL
    );
    CREATE INDEX canvases_by_name ON canvases (name, id);
    CREATE TABLE versions (
        canvas_id     TEXT NOT NULL REFERENCES canvases (id) ON DELETE CASCADE,
        revision      INTEGER NOT NULL,
        saved_at      TEXT NOT NULL,
        saved_unix_ns INTEGER NOT NULL,
        size          INTEGER NOT NULL,
        summary       TEXT NOT NULL,
        document      TEXT NOT NULL,
        PRIMARY KEY (canvas_id, revision)
    );",
];

/// What a save records as its change summary when the version it replaces
/// cannot be read.
const UNREADABLE_PREVIOUS: &str = "replaces an unreadable version";

/// Canvases in a SQLite database, with every saved version.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use reelgraph::store::{CanvasStore, SqliteStore};
/// use reelgraph::{Canvas, Catalog};
///
/// let store = SqliteStore::open_in_memory()?;
/// let canvas = Canvas::new(Catalog::builtin(), "teaser", "Teaser");
/// store.create(&canvas.to_document()).await?;
/// assert_eq!(store.get("teaser").await?.name, "Teaser");
/// # Ok::<(), reelgraph::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    conn: Mutex<Connection>,
    /// The database path (or `:memory:`), for error messages.
    location: String,
}

impl SqliteStore {
    /// Opens (or creates) the database at `path` and brings its schema up
    /// to date.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore> {
        let location = path.as_ref().display().to_string();
        let conn = Connection::open(path.as_ref()).map_err(|e| sql_error(&location, &e))?;
        SqliteStore::setup(conn, location)
    }

    /// A database in memory, gone when the store is dropped.
    pub fn open_in_memory() -> Result<SqliteStore> {
        let location = ":memory:".to_owned();
        let conn = Connection::open_in_memory().map_err(|e| sql_error(&location, &e))?;
        SqliteStore::setup(conn, location)
    }

    fn setup(mut conn: Connection, location: String) -> Result<SqliteStore> {
        let err = |e: rusqlite::Error| sql_error(&location, &e);
        conn.busy_timeout(BUSY_TIMEOUT).map_err(err)?;
        // An in-memory database answers "memory"; that is fine.
        let _mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(err)?;
        migrate(&mut conn, &location)?;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                conn: Mutex::new(conn),
                location,
            }),
        })
    }

    /// Runs `work` on the connection, off the async threads. A panic in it
    /// is a bug and is passed on as a panic.
    async fn run<T, F>(&self, work: F) -> Result<T>
    where
        F: FnOnce(&mut Connection, &str) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let inner = self.inner.clone();
        let task = tokio::task::spawn_blocking(move || {
            // A panic mid-transaction drops the transaction, which rolls it
            // back: the connection is still sound.
            let mut conn = inner.conn.lock().unwrap_or_else(PoisonError::into_inner);
            work(&mut conn, &inner.location)
        });
        match task.await {
            Ok(result) => result,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => Err(Error::Storage {
                message: format!("the storage task did not finish: {e}"),
                path: Some(self.inner.location.clone()),
            }),
        }
    }
}

/// Brings the schema from the database's `user_version` up to
/// [`SCHEMA_VERSION`], in one transaction.
fn migrate(conn: &mut Connection, location: &str) -> Result<()> {
    let err = |e: rusqlite::Error| sql_error(location, &e);
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(err)?;
    let found: u32 = tx
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(err)?;
    if found > SCHEMA_VERSION {
        return Err(Error::Storage {
            message: format!(
                "the database was written by a newer reelgraph (schema {found}, this one reads up to {SCHEMA_VERSION}); upgrade reelgraph to open it"
            ),
            path: Some(location.to_owned()),
        });
    }
    for step in &MIGRATIONS[found as usize..] {
        tx.execute_batch(step).map_err(err)?;
    }
    if found < SCHEMA_VERSION {
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(err)?;
    }
    tx.commit().map_err(err)
}

fn sql_error(location: &str, e: &rusqlite::Error) -> Error {
    Error::Storage {
        message: e.to_string(),
        path: Some(location.to_owned()),
    }
}

fn not_found(id: &str) -> Error {
    Error::NotFound {
        kind: "canvas",
        id: id.to_owned(),
    }
}

fn revision_not_found(id: &str, revision: u64) -> Error {
    Error::NotFound {
        kind: "revision",
        id: format!("{id}@{revision}"),
    }
}

fn unix_ns(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// SQLite integers are signed; revisions above `i64::MAX` cannot be stored.
fn to_sql(revision: u64) -> Result<i64> {
    i64::try_from(revision).map_err(|_| Error::InvalidField {
        field: "revision",
        message: format!(
            "{revision} is above {}, the largest this store keeps",
            i64::MAX
        ),
    })
}

fn from_sql(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// The smallest string above every string that starts with `prefix`; none
/// if there is no such bound (empty prefix, or only `char::MAX`s).
/// UTF-8 orders like code points, so `prefix <= s < next` holds exactly for
/// the strings `s` that start with `prefix`.
fn prefix_upper_bound(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = (u32::from(last) + 1..=u32::from(char::MAX)).find_map(char::from_u32);
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// A stored document, read only if it is within [`MAX_DOCUMENT_BYTES`].
/// The SQL must select the revision, the document's size in bytes, and the
/// document (`NULL` when over the limit, so it is never loaded).
fn read_document(
    conn: &Connection,
    location: &str,
    sql: &str,
    params: impl rusqlite::Params,
    id: &str,
) -> Result<Option<CanvasDocument>> {
    let row = conn
        .query_row(sql, params, |row| {
            let revision: i64 = row.get(0)?;
            let size: i64 = row.get(1)?;
            let text = row.get_ref(2)?.as_bytes_or_null()?.map(<[u8]>::to_vec);
            Ok((revision, size, text))
        })
        .optional()
        .map_err(|e| sql_error(location, &e))?;
    let Some((revision, size, text)) = row else {
        return Ok(None);
    };
    let revision = from_sql(revision);
    let Some(bytes) = text else {
        return Err(Error::TooLarge {
            size: usize::try_from(size).unwrap_or(usize::MAX),
            limit: MAX_DOCUMENT_BYTES,
        });
    };
    let where_ = format!("{location} (canvas `{id}`, revision {revision})");
    let text = String::from_utf8(bytes).map_err(|e| Error::Corrupt {
        location: where_.clone(),
        message: format!(
            "it is not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ),
    })?;
    let doc = decode(&where_, &text)?;
    if doc.id != id || doc.revision != revision {
        return Err(Error::Corrupt {
            location: where_,
            message: format!("it holds canvas `{}` at revision {}", doc.id, doc.revision),
        });
    }
    Ok(Some(doc))
}

const GET_CURRENT: &str = "SELECT revision, octet_length(document),
        CASE WHEN octet_length(document) <= ?2 THEN document END
    FROM canvases WHERE id = ?1";

const GET_VERSION: &str = "SELECT revision, octet_length(document),
        CASE WHEN octet_length(document) <= ?3 THEN document END
    FROM versions WHERE canvas_id = ?1 AND revision = ?2";

fn current_revision(conn: &Connection, location: &str, id: &str) -> Result<Option<u64>> {
    conn.query_row("SELECT revision FROM canvases WHERE id = ?1", [id], |row| {
        row.get::<_, i64>(0)
    })
    .optional()
    .map(|r| r.map(from_sql))
    .map_err(|e| sql_error(location, &e))
}

#[async_trait]
impl CanvasStore for SqliteStore {
    async fn create(&self, doc: &CanvasDocument) -> Result<VersionInfo> {
        let text = encode(doc)?;
        let revision = to_sql(doc.revision)?;
        let summary = change_summary(None, doc);
        let (id, name) = (doc.id.clone(), doc.name.clone());
        self.run(move |conn, location| {
            let err = |e: rusqlite::Error| sql_error(location, &e);
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(err)?;
            if current_revision(&tx, location, &id)?.is_some() {
                return Err(Error::DuplicateId {
                    kind: "canvas",
                    id,
                });
            }
            let (saved, saved_at) = saved_now();
            let size = text.len() as i64;
            tx.execute(
                "INSERT INTO canvases (id, name, revision, updated_at, size, document)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![id, name, revision, saved_at, size, text],
            )
            .map_err(err)?;
            tx.execute(
                "INSERT INTO versions (canvas_id, revision, saved_at, saved_unix_ns, size, summary, document)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![id, revision, saved_at, unix_ns(saved), size, summary, text],
            )
            .map_err(err)?;
            tx.commit().map_err(err)?;
            Ok(VersionInfo {
                revision: from_sql(revision),
                saved_at,
                size_bytes: text.len() as u64,
                summary,
            })
        })
        .await
    }

    async fn get(&self, id: &str) -> Result<CanvasDocument> {
        if check_id(id).is_err() {
            return Err(not_found(id));
        }
        let id = id.to_owned();
        self.run(move |conn, location| {
            read_document(
                conn,
                location,
                GET_CURRENT,
                params![id, MAX_DOCUMENT_BYTES as i64],
                &id,
            )?
            .ok_or_else(|| not_found(&id))
        })
        .await
    }

    async fn get_revision(&self, id: &str, revision: u64) -> Result<CanvasDocument> {
        let Ok(sql_revision) = i64::try_from(revision) else {
            return Err(revision_not_found(id, revision));
        };
        if check_id(id).is_err() {
            return Err(revision_not_found(id, revision));
        }
        let id = id.to_owned();
        self.run(move |conn, location| {
            read_document(
                conn,
                location,
                GET_VERSION,
                params![id, sql_revision, MAX_DOCUMENT_BYTES as i64],
                &id,
            )?
            .ok_or_else(|| revision_not_found(&id, revision))
        })
        .await
    }

    async fn list(&self, query: &ListQuery) -> Result<Page> {
        let limit = query.page_size();
        let after = query.cursor.clone().unwrap_or_default();
        let prefix = query.name_prefix.clone().unwrap_or_default();
        let upper = prefix_upper_bound(&prefix);
        self.run(move |conn, location| {
            let err = |e: rusqlite::Error| sql_error(location, &e);
            // Without a prefix the id index gives pages in order. With one, the
            // name index finds the matches (SQLite's planner would walk the id
            // index and test every row, which is slow for a rare prefix); the
            // matches are then sorted by id.
            let sql = if prefix.is_empty() {
                "SELECT id, name, revision, updated_at, size FROM canvases
                 WHERE id > ?1 AND name >= ?2 AND (?3 IS NULL OR name < ?3)
                 ORDER BY id LIMIT ?4"
            } else {
                "SELECT id, name, revision, updated_at, size FROM canvases INDEXED BY canvases_by_name
                 WHERE name >= ?2 AND (?3 IS NULL OR name < ?3) AND id > ?1
                 ORDER BY id LIMIT ?4"
            };
            let mut stmt = conn.prepare_cached(sql).map_err(err)?;
            let mut items = stmt
                .query_map(params![after, prefix, upper, (limit + 1) as i64], |row| {
                    Ok(CanvasSummary {
                        id: row.get(0)?,
                        name: row.get(1)?,
                        revision: from_sql(row.get(2)?),
                        updated_at: row.get(3)?,
                        size_bytes: from_sql(row.get(4)?),
                    })
                })
                .map_err(err)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(err)?;
            let more = items.len() > limit;
            items.truncate(limit);
            Ok(Page::new(items, more))
        })
        .await
    }

    async fn save(&self, doc: &CanvasDocument, expected_revision: u64) -> Result<VersionInfo> {
        let text = encode(doc)?;
        let doc = doc.clone();
        self.run(move |conn, location| {
            let err = |e: rusqlite::Error| sql_error(location, &e);
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(err)?;
            let current = current_revision(&tx, location, &doc.id)?;
            check_save(current, &doc, expected_revision)?;
            let (revision, expected) = (to_sql(doc.revision)?, to_sql(expected_revision)?);
            let previous = read_document(
                &tx,
                location,
                GET_CURRENT,
                params![doc.id, MAX_DOCUMENT_BYTES as i64],
                &doc.id,
            );
            let summary = match previous {
                Ok(Some(previous)) => change_summary(Some(&previous), &doc),
                Ok(None) | Err(_) => UNREADABLE_PREVIOUS.to_owned(),
            };
            let (saved, saved_at) = saved_now();
            let size = text.len() as i64;
            let changed = tx
                .execute(
                    "UPDATE canvases SET name = ?3, revision = ?4, updated_at = ?5, size = ?6, document = ?7
                     WHERE id = ?1 AND revision = ?2",
                    params![doc.id, expected, doc.name, revision, saved_at, size, text],
                )
                .map_err(err)?;
            if changed != 1 {
                // The immediate transaction makes this unreachable; if it
                // ever is reached, nothing was written.
                return Err(Error::Conflict {
                    id: doc.id.clone(),
                    expected: expected_revision,
                    current: current.unwrap_or_default(),
                });
            }
            tx.execute(
                "INSERT INTO versions (canvas_id, revision, saved_at, saved_unix_ns, size, summary, document)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![doc.id, revision, saved_at, unix_ns(saved), size, summary, text],
            )
            .map_err(err)?;
            tx.commit().map_err(err)?;
            Ok(VersionInfo {
                revision: doc.revision,
                saved_at,
                size_bytes: text.len() as u64,
                summary,
            })
        })
        .await
    }

    async fn delete(&self, id: &str, expected_revision: Option<u64>) -> Result<()> {
        if check_id(id).is_err() {
            return Err(not_found(id));
        }
        let id = id.to_owned();
        self.run(move |conn, location| {
            let err = |e: rusqlite::Error| sql_error(location, &e);
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(err)?;
            let current = current_revision(&tx, location, &id)?.ok_or_else(|| not_found(&id))?;
            if let Some(expected) = expected_revision
                && current != expected
            {
                return Err(Error::Conflict {
                    id,
                    expected,
                    current,
                });
            }
            tx.execute("DELETE FROM versions WHERE canvas_id = ?1", [&id])
                .map_err(err)?;
            tx.execute("DELETE FROM canvases WHERE id = ?1", [&id])
                .map_err(err)?;
            tx.commit().map_err(err)
        })
        .await
    }

    async fn history(&self, id: &str) -> Result<Vec<VersionInfo>> {
        if check_id(id).is_err() {
            return Err(not_found(id));
        }
        let id = id.to_owned();
        self.run(move |conn, location| {
            let err = |e: rusqlite::Error| sql_error(location, &e);
            let mut stmt = conn
                .prepare_cached(
                    "SELECT revision, saved_at, size, summary FROM versions
                     WHERE canvas_id = ?1 ORDER BY revision DESC",
                )
                .map_err(err)?;
            let versions = stmt
                .query_map([&id], |row| {
                    Ok(VersionInfo {
                        revision: from_sql(row.get(0)?),
                        saved_at: row.get(1)?,
                        size_bytes: from_sql(row.get(2)?),
                        summary: row.get(3)?,
                    })
                })
                .map_err(err)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(err)?;
            // A canvas always has its current version in the history.
            if versions.is_empty() {
                return Err(not_found(&id));
            }
            Ok(versions)
        })
        .await
    }

    async fn prune(&self, id: &str, policy: Prune) -> Result<usize> {
        if check_id(id).is_err() {
            return Err(not_found(id));
        }
        let id = id.to_owned();
        self.run(move |conn, location| {
            let err = |e: rusqlite::Error| sql_error(location, &e);
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(err)?;
            let current = current_revision(&tx, location, &id)?.ok_or_else(|| not_found(&id))?;
            let removed = match policy {
                Prune::KeepLast(n) => tx.execute(
                    "DELETE FROM versions WHERE canvas_id = ?1 AND revision NOT IN
                        (SELECT revision FROM versions WHERE canvas_id = ?1
                         ORDER BY revision DESC LIMIT ?2)",
                    params![id, i64::try_from(n.max(1)).unwrap_or(i64::MAX)],
                ),
                Prune::OlderThan(age) => match SystemTime::now().checked_sub(age) {
                    None => Ok(0),
                    Some(cutoff) => tx.execute(
                        "DELETE FROM versions WHERE canvas_id = ?1 AND revision <> ?2
                            AND saved_unix_ns < ?3",
                        params![id, to_sql(current)?, unix_ns(cutoff)],
                    ),
                },
            }
            .map_err(err)?;
            tx.commit().map_err(err)?;
            Ok(removed)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::prefix_upper_bound;

    #[test]
    fn prefix_bounds_cover_exactly_the_prefixed_names() {
        assert_eq!(prefix_upper_bound(""), None);
        assert_eq!(prefix_upper_bound("Trailer").as_deref(), Some("Trailes"));
        assert_eq!(
            prefix_upper_bound("a\u{D7FF}").as_deref(),
            Some("a\u{E000}")
        );
        assert_eq!(prefix_upper_bound("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_upper_bound("\u{10FFFF}"), None);
        for (prefix, name, inside) in [
            ("100%", "100%", true),
            ("100%", "100% done", true),
            ("100%", "100x", false),
            ("a_", "ab", false),
            ("é", "éa", true),
            ("é", "ê", false),
            ("Trailer", "Trailers", true),
            ("Trailer", "Trailes", false),
        ] {
            let upper = prefix_upper_bound(prefix).expect("bounded");
            let by_range = name >= prefix && name < upper.as_str();
            assert_eq!(by_range, inside, "{prefix:?} / {name:?}");
            assert_eq!(name.starts_with(prefix), inside);
        }
    }
}
