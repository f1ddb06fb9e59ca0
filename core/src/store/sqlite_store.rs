//! A store in one SQLite database file (bundled SQLite): the embedded
//! default of the reference server.
//!
//! # Schema (version 2, kept in `PRAGMA user_version`)
//!
//! ```sql
//! CREATE TABLE canvases (
//!     id          TEXT PRIMARY KEY NOT NULL,
//!     name        TEXT NOT NULL,
//!     revision    INTEGER NOT NULL,  -- the current version
//!     updated_at  TEXT NOT NULL,     -- RFC 3339, when the current version was saved
//!     size        INTEGER NOT NULL,  -- bytes of the current version's document
//!     fingerprint BLOB               -- the current version's, for the next change summary
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
//! `canvases` holds what listing needs about each canvas's current version,
//! and which revision that is; `versions` holds every saved version's
//! document, the current one included, so each document is stored once. A
//! `get` reads the `versions` row that `canvases.revision` names.
//!
//! `canvases.fingerprint` is the current version's fingerprint (a hash per
//! node and per edge; see the `fingerprint` module): a save compares the new
//! document with it to write the change summary instead of reading and
//! parsing the document it replaces. It is a cache: when it is missing (a
//! database from schema 1), damaged, or `canvases.size` no longer matches
//! the stored document (the row was changed behind the store's back), the
//! save reads the previous document as it used to.
//!
//! Schema 1 also kept the current document in `canvases.document`; the
//! migration to 2 makes sure `versions` holds every current document (it
//! always did) and drops that column. Listing pages by id (`id > ?cursor ORDER BY id
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
//! writer gets a `storage` error. New databases get 8 KiB pages (see
//! `PAGE_SIZE`); the WAL is checkpointed at SQLite's default 1,000 pages.
//! Saves of deltas go through the journal (`sqlite_journal`) and are
//! committed in groups (`sqlite_group_commit`).
//!
//! Any number of connections may open the same new file at once: the busy
//! timeout is set first, the switch to WAL mode is retried while another
//! connection makes it, and the schema is created in one `BEGIN IMMEDIATE`
//! transaction (see the crate's `sqlite` module).
//!
//! # Read-only databases and damage
//!
//! A database that cannot be written (a read-only file or directory) opens
//! for reading only, as [`SqliteStore::open_read_only`] opens one on
//! purpose: reads work, and every change is refused with `storage` before
//! SQLite is asked. A damaged file (`SQLITE_CORRUPT`, `SQLITE_NOTADB`) is
//! `corrupt_document` naming the file.
//!
//! # Threads
//!
//! The store holds one connection behind a mutex, used from tokio's blocking
//! pool ([`tokio::task::spawn_blocking`]); the store must be used inside a
//! tokio runtime. One connection serialises this process's calls, which
//! costs little: SQLite runs one writer at a time anyway, and documents are
//! read whole. A pool of read connections would let reads overlap a long
//! write; it is not needed yet. A save encodes its document on the calling
//! thread before taking the connection; a large document that is read is
//! copied out of its row and parsed on two blocking threads once the
//! connection is free again.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::fingerprint::Fingerprint;
use super::sqlite_group_commit::Queue;
use super::sqlite_journal::{self as journal, Chain, DeltaRow};
use super::{
    CanvasStore, CanvasSummary, ListQuery, MAX_DOCUMENT_BYTES, Page, Prune, Read,
    UNREADABLE_PREVIOUS, VersionInfo, check_save, prepare, saved_now, summary,
};
use crate::canvas::Canvas;
use crate::delta::Delta;
use crate::error::{Error, Result};
use crate::model::{CanvasDocument, check_id};
use crate::sqlite_conn::{Setup, read_only_message, set_up_in_memory, sql_error};

/// How long a writer waits for another connection's write to finish.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The page size of a new database. An edit saved as a delta touches a few
/// pages (its `canvases` row, its `versions` row and that table's index),
/// each written whole to the WAL at the commit: 8 KiB pages keep that to
/// tens of kilobytes, where 32 KiB pages wrote about 100 KB per edit. A
/// whole document (a create, a replace, a snapshot every 100 edits) is a
/// chain of overflow pages, each its own WAL frame: twice the 4 KiB
/// default's size halves its system calls.
const PAGE_SIZE: i64 = 8 * 1024;

/// The schema this build writes; `MIGRATIONS[n]` takes a database from
/// version `n` to `n + 1`.
const SCHEMA_VERSION: u32 = 3;

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
    // 1 -> 2: each document once, in `versions`; fingerprints in `canvases`.
    // Saves always wrote the current document to both tables; should a
    // current version lack its row, it is kept from `canvases` first.
    "INSERT OR IGNORE INTO versions
        (canvas_id, revision, saved_at, saved_unix_ns, size, summary, document)
        SELECT id, revision, updated_at,
            CAST((julianday(updated_at) - 2440587.5) * 86400000000000.0 AS INTEGER),
            size, 'kept from the current document when the database was upgraded', document
        FROM canvases;
    ALTER TABLE canvases DROP COLUMN document;
    ALTER TABLE canvases ADD COLUMN fingerprint BLOB;",
    // 2 -> 3: the journal. A version is a whole document or the delta from
    // the version before; each canvas counts its deltas since its snapshot.
    "CREATE TABLE versions_3 (
        canvas_id     TEXT NOT NULL REFERENCES canvases (id) ON DELETE CASCADE,
        revision      INTEGER NOT NULL,
        saved_at      TEXT NOT NULL,
        saved_unix_ns INTEGER NOT NULL,
        size          INTEGER NOT NULL,
        summary       TEXT NOT NULL,
        document      TEXT,
        delta         TEXT,
        CHECK ((document IS NULL) <> (delta IS NULL)),
        PRIMARY KEY (canvas_id, revision)
    );
    INSERT INTO versions_3
        SELECT canvas_id, revision, saved_at, saved_unix_ns, size, summary, document, NULL
        FROM versions;
    DROP TABLE versions;
    ALTER TABLE versions_3 RENAME TO versions;
    ALTER TABLE canvases ADD COLUMN journal_count INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE canvases ADD COLUMN journal_bytes INTEGER NOT NULL DEFAULT 0;",
];

/// How each connection is set up: WAL mode with `synchronous = FULL` (a
/// save that returned is on disk), foreign keys for `ON DELETE CASCADE`.
const SETUP: Setup<'static> = Setup {
    busy_timeout: BUSY_TIMEOUT,
    page_size: Some(PAGE_SIZE),
    synchronous: "FULL",
    foreign_keys: true,
    migrations: &MIGRATIONS,
    newer: ("the database", "upgrade reelgraph to open it"),
};

/// What a save that returned survives; see [`SqliteStore::with_durability`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Durability {
    /// A power cut as well as a killed process: the WAL is fsynced at every
    /// commit (`synchronous = FULL`). The default.
    #[default]
    PowerCut,
    /// A killed process, but not a power cut or an OS crash, which may undo
    /// the last saves (never half of one: the database stays whole). The WAL
    /// is fsynced only at checkpoints (`synchronous = NORMAL`), which saves
    /// an fsync, often milliseconds, per save.
    ProcessCrash,
}

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
    /// Opened for reading only: changes are refused.
    read_only: bool,
    /// Deltas waiting to be written together.
    deltas: Queue<Option<VersionInfo>>,
}

impl SqliteStore {
    /// Opens (or creates) the database at `path` and brings its schema up
    /// to date. A database that cannot be written (a read-only file or
    /// directory) is opened read-only, as by [`SqliteStore::open_read_only`].
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore> {
        let location = path.as_ref().display().to_string();
        let (conn, read_only) = crate::sqlite_conn::open(path.as_ref(), &location, &SETUP)?;
        Ok(SqliteStore::with(conn, location, read_only))
    }

    /// Opens the existing database at `path` for reading only: `get`,
    /// `get_revision`, `list` and `history` work, and every change fails
    /// with `storage`, saying the database is read-only. The file is never
    /// created or changed, and its schema must be this build's (open it
    /// once with [`SqliteStore::open`] to upgrade an older one). For
    /// backups, and for files this process may read but should not write.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use reelgraph::store::{CanvasStore, SqliteStore};
    /// use reelgraph::{Canvas, Catalog};
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("canvases.db");
    /// let canvas = Canvas::new(Catalog::builtin(), "teaser", "Teaser");
    /// SqliteStore::open(&path)?.create(&canvas.to_document()).await?;
    ///
    /// let backup = SqliteStore::open_read_only(&path)?;
    /// assert_eq!(backup.get("teaser").await?.name, "Teaser");
    /// let err = backup.save(&canvas.to_document(), 0).await.unwrap_err();
    /// assert_eq!(err.code(), "storage");
    /// # Ok::<(), reelgraph::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<SqliteStore> {
        let location = path.as_ref().display().to_string();
        let conn = crate::sqlite_conn::open_read_only(path.as_ref(), &location, &SETUP)?;
        Ok(SqliteStore::with(conn, location, true))
    }

    /// A database in memory, gone when the store is dropped.
    pub fn open_in_memory() -> Result<SqliteStore> {
        let location = ":memory:".to_owned();
        let mut conn = Connection::open_in_memory().map_err(|e| sql_error(&location, &e))?;
        set_up_in_memory(&mut conn, &location, &SETUP)?;
        Ok(SqliteStore::with(conn, location, false))
    }

    /// The store with saves as durable as `durability` says (the default is
    /// [`Durability::PowerCut`]). For a server that acknowledges many small
    /// edits a second and accepts losing the last ones on a power cut.
    ///
    /// ```
    /// use reelgraph::store::{Durability, SqliteStore};
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// let store = SqliteStore::open(dir.path().join("canvases.db"))?
    ///     .with_durability(Durability::ProcessCrash)?;
    /// # Ok::<(), reelgraph::Error>(())
    /// ```
    pub fn with_durability(self, durability: Durability) -> Result<SqliteStore> {
        let value = match durability {
            Durability::PowerCut => "FULL",
            Durability::ProcessCrash => "NORMAL",
        };
        let conn = self
            .inner
            .conn
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        conn.pragma_update(None, "synchronous", value)
            .map_err(|e| sql_error(&self.inner.location, &e))?;
        drop(conn);
        Ok(self)
    }

    /// Whether the store was opened read-only (see
    /// [`SqliteStore::open_read_only`]).
    pub fn is_read_only(&self) -> bool {
        self.inner.read_only
    }

    fn with(conn: Connection, location: String, read_only: bool) -> SqliteStore {
        SqliteStore {
            inner: Arc::new(Inner {
                conn: Mutex::new(conn),
                location,
                read_only,
                deltas: Queue::default(),
            }),
        }
    }

    /// Refuses a change to a read-only database before SQLite is asked.
    fn check_writable(&self) -> Result<()> {
        if self.inner.read_only {
            return Err(Error::Storage {
                message: read_only_message("nothing was changed"),
                path: Some(self.inner.location.clone()),
            });
        }
        Ok(())
    }

    /// Saves `doc` whole. `known_summary` is what changed since the last
    /// version when the caller knows it (a delta due as a snapshot); else
    /// it is taken from the fingerprints, which after deltas means reading
    /// the current version back through its journal.
    async fn save_whole(
        &self,
        doc: &CanvasDocument,
        expected_revision: u64,
        known_summary: Option<String>,
    ) -> Result<VersionInfo> {
        self.check_writable()?;
        // The blocking work gets the JSON and the fingerprint, not a copy of
        // the document.
        let (text, fingerprint) = prepare(doc)?;
        let (id, name, revision) = (doc.id.clone(), doc.name.clone(), doc.revision);
        self.run(move |conn, location| {
            let err = |e: rusqlite::Error| sql_error(location, &e);
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(err)?;
            let current = current_revision(&tx, location, &id)?;
            check_save(current, &id, revision, expected_revision)?;
            let (sql_revision, expected) = (to_sql(revision)?, to_sql(expected_revision)?);
            let summary = match known_summary {
                Some(summary) => summary,
                None => match current_fingerprint(&tx, location, &id)? {
                    Some(previous) => fingerprint.summary_since(&previous),
                    None => UNREADABLE_PREVIOUS.to_owned(),
                },
            };
            let (saved, saved_at) = saved_now();
            let size = text.len() as i64;
            let fingerprint = fingerprint.to_bytes(&[revision, text.len() as u64]);
            let changed = tx
                .execute(
                    "UPDATE canvases SET name = ?3, revision = ?4, updated_at = ?5, size = ?6,
                        fingerprint = ?7, journal_count = 0, journal_bytes = 0
                     WHERE id = ?1 AND revision = ?2",
                    params![id, expected, name, sql_revision, saved_at, size, fingerprint],
                )
                .map_err(err)?;
            if changed != 1 {
                // The immediate transaction makes this unreachable; if it
                // ever is reached, nothing was written.
                return Err(Error::Conflict {
                    id: id.clone(),
                    expected: expected_revision,
                    current: current.unwrap_or_default(),
                });
            }
            tx.execute(
                "INSERT INTO versions (canvas_id, revision, saved_at, saved_unix_ns, size, summary, document)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![id, sql_revision, saved_at, unix_ns(saved), size, summary, text],
            )
            .map_err(err)?;
            tx.commit().map_err(err)?;
            Ok(VersionInfo {
                revision,
                saved_at,
                size_bytes: text.len() as u64,
                summary,
            })
        })
        .await
    }

    /// Runs `work` on the connection, off the async threads. A panic in it
    /// is a bug and is passed on as a panic.
    async fn run<T, F>(&self, work: F) -> Result<T>
    where
        F: FnOnce(&mut Connection, &str) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let inner = self.inner.clone();
        let task = move || {
            // A panic mid-transaction drops the transaction, which rolls it
            // back: the connection is still sound.
            let mut conn = inner.conn.lock().unwrap_or_else(PoisonError::into_inner);
            work(&mut conn, &inner.location)
        };
        super::blocking(task, Some(&self.inner.location)).await
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

pub(super) fn unix_ns(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// SQLite integers are signed; revisions above `i64::MAX` cannot be stored.
pub(super) fn to_sql(revision: u64) -> Result<i64> {
    i64::try_from(revision).map_err(|_| Error::InvalidField {
        field: "revision",
        message: format!(
            "{revision} is above {}, the largest this store keeps",
            i64::MAX
        ),
    })
}

pub(super) fn from_sql(value: i64) -> u64 {
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

/// A document as read from its row (see [`Read`]: a large one is parsed
/// once the connection is free), with the row it came from.
pub(super) struct Stored {
    read: Read,
    /// The database, canvas and revision, for errors.
    location: String,
    pub(super) revision: u64,
}

impl Stored {
    /// The document, checked to be the canvas and revision of its row.
    pub(super) async fn parse(self, id: &str) -> Result<CanvasDocument> {
        let doc = self.read.parse().await?;
        check_row(&self.location, &doc, id, self.revision)?;
        Ok(doc)
    }

    /// The same, parsed on this thread.
    pub(super) fn parse_here(self, id: &str) -> Result<CanvasDocument> {
        let doc = self.read.parse_here()?;
        check_row(&self.location, &doc, id, self.revision)?;
        Ok(doc)
    }
}

fn check_row(location: &str, doc: &CanvasDocument, id: &str, revision: u64) -> Result<()> {
    if doc.id != id || doc.revision != revision {
        return Err(Error::Corrupt {
            location: location.to_owned(),
            message: format!("it holds canvas `{}` at revision {}", doc.id, doc.revision),
        });
    }
    Ok(())
}

/// A stored version as read: a whole document, or deltas after one.
enum Version {
    Whole(Stored),
    Chain(Chain),
}

impl Version {
    async fn parse(self, id: &str) -> Result<CanvasDocument> {
        match self {
            Version::Whole(stored) => stored.parse(id).await,
            Version::Chain(chain) => chain.parse(id).await,
        }
    }

    fn parse_here(self, id: &str) -> Result<CanvasDocument> {
        match self {
            Version::Whole(stored) => stored.parse_here(id),
            Version::Chain(chain) => chain.parse_here(id),
        }
    }
}

/// A stored version, read as [`read_document`] reads one; a version kept
/// as a delta is read with the snapshot before it and the deltas since.
fn read_version(
    conn: &Connection,
    location: &str,
    sql: &str,
    params: impl rusqlite::Params,
    id: &str,
) -> Result<Option<Version>> {
    let Some(found) = read_document(conn, location, sql, params, id)? else {
        return Ok(None);
    };
    let revision = match found {
        Found::Whole(stored) => return Ok(Some(Version::Whole(*stored))),
        Found::Delta(revision) => revision,
    };
    let base = read_document(
        conn,
        location,
        journal::SNAPSHOT_BEFORE,
        params![id, to_sql(revision)?, MAX_DOCUMENT_BYTES as i64],
        id,
    )?;
    let Some(Found::Whole(base)) = base else {
        return Err(Error::Corrupt {
            location: format!("{location} (canvas `{id}`, revision {revision})"),
            message: "it is a change with no whole version before it".into(),
        });
    };
    let deltas = journal::read_deltas(conn, location, id, base.revision, revision)?;
    Ok(Some(Version::Chain(Chain {
        base: *base,
        deltas,
        revision,
        location: format!("{location} (canvas `{id}`, revision {revision})"),
    })))
}

/// What a `versions` row holds: a document, or a delta (at a revision).
enum Found {
    Whole(Box<Stored>),
    Delta(u64),
}

/// A stored document, read only if it is within [`MAX_DOCUMENT_BYTES`].
/// The SQL must select the revision, the document's size in bytes, the
/// document (`NULL` when over the limit, so it is never loaded), whether
/// the `versions` row was found, and whether it is a delta; no row at all
/// is none. A small document is parsed where SQLite holds it, without a
/// copy.
fn read_document(
    conn: &Connection,
    location: &str,
    sql: &str,
    params: impl rusqlite::Params,
    id: &str,
) -> Result<Option<Found>> {
    let err = |e: rusqlite::Error| sql_error(location, &e);
    let mut stmt = conn.prepare_cached(sql).map_err(err)?;
    let mut rows = stmt.query(params).map_err(err)?;
    let Some(row) = rows.next().map_err(err)? else {
        return Ok(None);
    };
    let revision = from_sql(row.get(0).map_err(err)?);
    let where_ = || format!("{location} (canvas `{id}`, revision {revision})");
    let found: bool = row.get(3).map_err(err)?;
    if !found {
        return Err(Error::Corrupt {
            location: where_(),
            message: "the current version has no row in `versions`".into(),
        });
    }
    let delta: Option<bool> = row.get(4).map_err(err)?;
    if delta == Some(true) {
        return Ok(Some(Found::Delta(revision)));
    }
    let value = row.get_ref(2).map_err(err)?;
    let bytes = value.as_bytes_or_null().map_err(|e| Error::Storage {
        message: e.to_string(),
        path: Some(location.to_owned()),
    })?;
    let Some(bytes) = bytes else {
        let size: Option<i64> = row.get(1).map_err(err)?;
        return Err(Error::TooLarge {
            size: size.map_or(usize::MAX, |s| usize::try_from(s).unwrap_or(usize::MAX)),
            limit: MAX_DOCUMENT_BYTES,
        });
    };
    let text = std::str::from_utf8(bytes).map_err(|e| Error::Corrupt {
        location: where_(),
        message: format!(
            "it is not UTF-8 text (invalid byte at offset {})",
            e.valid_up_to()
        ),
    })?;
    let location = where_();
    Ok(Some(Found::Whole(Box::new(Stored {
        read: Read::of(&location, text)?,
        location,
        revision,
    }))))
}

const GET_CURRENT: &str = "SELECT c.revision, octet_length(v.document),
        CASE WHEN octet_length(v.document) <= ?2 THEN v.document END,
        v.canvas_id IS NOT NULL, v.delta IS NOT NULL
    FROM canvases c LEFT JOIN versions v ON v.canvas_id = c.id AND v.revision = c.revision
    WHERE c.id = ?1";

const GET_VERSION: &str = "SELECT revision, octet_length(document),
        CASE WHEN octet_length(document) <= ?3 THEN document END, 1, delta IS NOT NULL
    FROM versions WHERE canvas_id = ?1 AND revision = ?2";

/// The current version's fingerprint: the kept one if it still matches the
/// stored document, else taken from that document; none if it cannot be
/// read.
fn current_fingerprint(conn: &Connection, location: &str, id: &str) -> Result<Option<Fingerprint>> {
    let err = |e: rusqlite::Error| sql_error(location, &e);
    let kept = conn
        .prepare_cached(
            "SELECT c.revision, c.size, c.fingerprint, octet_length(v.document)
             FROM canvases c LEFT JOIN versions v ON v.canvas_id = c.id AND v.revision = c.revision
             WHERE c.id = ?1",
        )
        .map_err(err)?
        .query_row([id], |row| {
            let (revision, size): (i64, i64) = (row.get(0)?, row.get(1)?);
            let stored: Option<i64> = row.get(3)?;
            let bytes = row.get_ref(2)?.as_blob_or_null().ok().flatten();
            Ok(bytes
                .filter(|_| stored == Some(size))
                .and_then(|b| Fingerprint::from_bytes(b, &[from_sql(revision), from_sql(size)])))
        })
        .optional()
        .map_err(err)?
        .flatten();
    if kept.is_some() {
        return Ok(kept);
    }
    let previous = read_version(
        conn,
        location,
        GET_CURRENT,
        params![id, MAX_DOCUMENT_BYTES as i64],
        id,
    );
    Ok(
        match previous.and_then(|p| p.map(|p| p.parse_here(id)).transpose()) {
            Ok(Some(previous)) => Some(Fingerprint::of(&previous)),
            Ok(None) | Err(_) => None,
        },
    )
}

/// Writes version `revision` of canvas `id`, kept as a delta, as a whole
/// document in its row.
fn make_whole(conn: &Connection, location: &str, id: &str, revision: u64) -> Result<()> {
    let doc = read_version(
        conn,
        location,
        GET_VERSION,
        params![id, to_sql(revision)?, MAX_DOCUMENT_BYTES as i64],
        id,
    )?
    .ok_or_else(|| revision_not_found(id, revision))?
    .parse_here(id)?;
    let (text, _) = prepare(&doc)?;
    conn.execute(
        "UPDATE versions SET document = ?3, delta = NULL WHERE canvas_id = ?1 AND revision = ?2",
        params![id, to_sql(revision)?, text],
    )
    .map_err(|e| sql_error(location, &e))?;
    Ok(())
}

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
        self.check_writable()?;
        let (text, fingerprint) = prepare(doc)?;
        let revision = to_sql(doc.revision)?;
        let summary = summary::created(doc.nodes.len(), doc.edges.len());
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
            let fingerprint = fingerprint.to_bytes(&[from_sql(revision), from_sql(size)]);
            tx.execute(
                "INSERT INTO canvases (id, name, revision, updated_at, size, fingerprint)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![id, name, revision, saved_at, size, fingerprint],
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
        let stored = self
            .run({
                let id = id.clone();
                move |conn, location| {
                    read_version(
                        conn,
                        location,
                        GET_CURRENT,
                        params![id, MAX_DOCUMENT_BYTES as i64],
                        &id,
                    )?
                    .ok_or_else(|| not_found(&id))
                }
            })
            .await?;
        stored.parse(&id).await
    }

    async fn get_revision(&self, id: &str, revision: u64) -> Result<CanvasDocument> {
        let Ok(sql_revision) = i64::try_from(revision) else {
            return Err(revision_not_found(id, revision));
        };
        if check_id(id).is_err() {
            return Err(revision_not_found(id, revision));
        }
        let id = id.to_owned();
        let stored = self
            .run({
                let id = id.clone();
                move |conn, location| {
                    read_version(
                        conn,
                        location,
                        GET_VERSION,
                        params![id, sql_revision, MAX_DOCUMENT_BYTES as i64],
                        &id,
                    )?
                    .ok_or_else(|| revision_not_found(&id, revision))
                }
            })
            .await?;
        stored.parse(&id).await
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
        self.save_whole(doc, expected_revision, None).await
    }

    async fn save_delta(
        &self,
        canvas: &Canvas,
        delta: &Delta,
        expected_revision: u64,
    ) -> Result<VersionInfo> {
        self.check_writable()?;
        let summary = summary::of_delta(delta);
        let row = DeltaRow {
            id: canvas.id().to_owned(),
            expected: expected_revision,
            revision: delta.revision,
            name: delta.name.clone(),
            size_change: delta.size_change,
            summary: summary.clone(),
            json: serde_json::to_string(delta)?,
        };
        let (written, start_drain) = self
            .inner
            .deltas
            .push(move |conn, location| journal::write(conn, location, &row));
        if start_drain {
            let inner = self.inner.clone();
            let drained = super::blocking(
                move || {
                    let mut conn = inner.conn.lock().unwrap_or_else(PoisonError::into_inner);
                    inner.deltas.drain(&mut conn, &inner.location);
                    Ok(())
                },
                Some(&self.inner.location),
            )
            .await;
            if let Err(e) = drained {
                // The drain never ran (the runtime is shutting down).
                self.inner.deltas.drain_lost();
                return Err(e);
            }
        }
        let written = written.await.map_err(|_| Error::Storage {
            message: "the save stopped before it was written; nothing was saved, try again".into(),
            path: Some(self.inner.location.clone()),
        })??;
        match written {
            Some(info) => Ok(info),
            // A snapshot is due: the whole document.
            None => {
                self.save_whole(&canvas.to_document(), expected_revision, Some(summary))
                    .await
            }
        }
    }

    async fn delete(&self, id: &str, expected_revision: Option<u64>) -> Result<()> {
        if check_id(id).is_err() {
            return Err(not_found(id));
        }
        self.check_writable()?;
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
        self.check_writable()?;
        let id = id.to_owned();
        self.run(move |conn, location| {
            let err = |e: rusqlite::Error| sql_error(location, &e);
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(err)?;
            let current = current_revision(&tx, location, &id)?.ok_or_else(|| not_found(&id))?;
            let rows = tx
                .prepare_cached(
                    "SELECT revision, delta IS NOT NULL, saved_unix_ns FROM versions
                     WHERE canvas_id = ?1 ORDER BY revision",
                )
                .map_err(err)?
                .query_map([&id], |r| {
                    Ok((
                        from_sql(r.get(0)?),
                        r.get::<_, bool>(1)?,
                        r.get::<_, i64>(2)?,
                    ))
                })
                .map_err(err)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(err)?;
            let doomed: Vec<bool> = match policy {
                Prune::KeepLast(n) => {
                    let keep = n.max(1);
                    (0..rows.len()).map(|i| i + keep < rows.len()).collect()
                }
                Prune::OlderThan(age) => {
                    let cutoff = SystemTime::now().checked_sub(age).map(unix_ns);
                    rows.iter()
                        .map(|&(revision, _, saved)| {
                            revision != current && cutoff.is_some_and(|c| saved < c)
                        })
                        .collect()
                }
            };
            // A kept delta whose version before goes becomes whole first.
            for (i, &(revision, delta, _)) in rows.iter().enumerate() {
                if delta && !doomed[i] && i > 0 && doomed[i - 1] {
                    make_whole(&tx, location, &id, revision)?;
                }
            }
            let mut delete = tx
                .prepare_cached("DELETE FROM versions WHERE canvas_id = ?1 AND revision = ?2")
                .map_err(err)?;
            let mut removed = 0;
            for (&(revision, _, _), _) in rows.iter().zip(&doomed).filter(|(_, d)| **d) {
                removed += delete
                    .execute(params![id, to_sql(revision)?])
                    .map_err(err)?;
            }
            drop(delete);
            tx.commit().map_err(err)?;
            Ok(removed)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::{Durability, PoisonError, SqliteStore, prefix_upper_bound};

    fn synchronous(store: &SqliteStore) -> i64 {
        let conn = store
            .inner
            .conn
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        conn.query_row("PRAGMA synchronous", [], |row| row.get(0))
            .expect("the pragma")
    }

    #[test]
    fn durability_sets_when_the_wal_is_synced() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let store = SqliteStore::open(dir.path().join("c.db")).expect("opens");
        assert_eq!(synchronous(&store), 2, "FULL by default");
        let store = store
            .with_durability(Durability::ProcessCrash)
            .expect("set");
        assert_eq!(synchronous(&store), 1, "NORMAL");
        let store = store.with_durability(Durability::PowerCut).expect("set");
        assert_eq!(synchronous(&store), 2);
    }

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
