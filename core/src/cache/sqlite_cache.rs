//! Results in a SQLite database file (bundled SQLite), so another process —
//! or the next run of this one — reuses what was computed.
//!
//! # Schema (version 1, kept in `PRAGMA user_version`)
//!
//! ```sql
//! CREATE TABLE results (
//!     key          BLOB PRIMARY KEY NOT NULL,  -- the 32-byte content key
//!     outputs      TEXT NOT NULL,              -- the outputs, a JSON object
//!     size         INTEGER NOT NULL,           -- bytes of `outputs`, plus 32 for the key
//!     created_ns   INTEGER NOT NULL,           -- when stored, ns since the Unix epoch
//!     last_used_ns INTEGER NOT NULL            -- when last stored or read (see below)
//! );
//! CREATE INDEX results_by_last_use ON results (last_used_ns);
//! CREATE TABLE totals (                        -- one row, kept by triggers on `results`
//!     id      INTEGER PRIMARY KEY CHECK (id = 1),
//!     entries INTEGER NOT NULL,
//!     bytes   INTEGER NOT NULL
//! );
//! ```
//!
//! `totals` lets a put check the byte budget, and [`ResultCache::stats`]
//! report the file's size, without summing the table; the triggers keep it
//! right whichever process (or hand-run SQL) changes `results`. Last-use
//! stamps are wall-clock nanoseconds, but never less than one above the
//! newest stamp in the file, so they stay unique and ordered when two uses
//! share a clock tick or the clock steps back: eviction follows use order
//! exactly.
//!
//! # Reads write
//!
//! A lookup refreshes the last-use stamp of what it finds, so it is a write
//! transaction (`BEGIN IMMEDIATE`, waiting up to ten seconds for another
//! connection's write, then a `storage` error); `get_many` does all its
//! lookups in one. The database runs in WAL mode with `synchronous =
//! NORMAL`: a crashed process loses nothing, a power cut may lose the last
//! few results, which only means computing them again.
//!
//! # Threads
//!
//! One connection behind a mutex, used from tokio's blocking pool
//! ([`tokio::task::spawn_blocking`]); the cache must be used inside a tokio
//! runtime.

use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

use super::{CacheStats, ResultCache, entry_size, storable};
use crate::content_key::ContentKey;
use crate::error::Result;
use crate::runner::Outputs;
use crate::sqlite_conn::{Setup, set_up_in_memory, sql_error};

/// How long a writer waits for another connection's write to finish.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The schema this build writes; `MIGRATIONS[n]` takes a database from
/// version `n` to `n + 1`.
const SCHEMA_VERSION: u32 = 1;

const MIGRATIONS: [&str; SCHEMA_VERSION as usize] = [
    // 0 -> 1: results, and their totals kept by triggers.
    "CREATE TABLE results (
        key          BLOB PRIMARY KEY NOT NULL,
        outputs      TEXT NOT NULL,
        size         INTEGER NOT NULL,
        created_ns   INTEGER NOT NULL,
        last_used_ns INTEGER NOT NULL
    );
    CREATE INDEX results_by_last_use ON results (last_used_ns);
    CREATE TABLE totals (
        id      INTEGER PRIMARY KEY CHECK (id = 1),
        entries INTEGER NOT NULL,
        bytes   INTEGER NOT NULL
    );
    INSERT INTO totals (id, entries, bytes) VALUES (1, 0, 0);
    CREATE TRIGGER results_inserted AFTER INSERT ON results BEGIN
        UPDATE totals SET entries = entries + 1, bytes = bytes + NEW.size;
    END;
    CREATE TRIGGER results_deleted AFTER DELETE ON results BEGIN
        UPDATE totals SET entries = entries - 1, bytes = bytes - OLD.size;
    END;
    CREATE TRIGGER results_resized AFTER UPDATE OF size ON results BEGIN
        UPDATE totals SET bytes = bytes - OLD.size + NEW.size;
    END;",
];

/// How each connection is set up. WAL mode with `synchronous = NORMAL`: a
/// lost result is only work to redo; NORMAL spares an fsync per lookup,
/// and WAL keeps the file sound either way.
const SETUP: Setup<'static> = Setup {
    busy_timeout: BUSY_TIMEOUT,
    page_size: None,
    synchronous: "NORMAL",
    foreign_keys: false,
    migrations: &MIGRATIONS,
    newer: (
        "the result cache",
        "upgrade reelgraph, or use another cache file (deleting a cache loses nothing but the time to recompute)",
    ),
};

/// Replaces a result in place. An upsert, not `INSERT OR REPLACE`: REPLACE
/// deletes without firing delete triggers, which would skew `totals`.
const UPSERT: &str = "INSERT INTO results (key, outputs, size, created_ns, last_used_ns)
    VALUES (?1, ?2, ?3, ?4, ?5)
    ON CONFLICT (key) DO UPDATE SET outputs = excluded.outputs, size = excluded.size,
        created_ns = excluded.created_ns, last_used_ns = excluded.last_used_ns";

/// Results in a SQLite database that any number of processes can share.
///
/// Unbounded unless given a budget with [`SqliteCache::with_max_bytes`].
/// A stored row that no longer parses is reported as a miss (with a
/// `tracing` warning) and deleted, so the node simply runs again; a put of
/// outputs nested too deep to parse back is refused.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use std::sync::Arc;
///
/// use reelgraph::cache::{ResultCache, SqliteCache};
/// use reelgraph::ContentKey;
/// use serde_json::json;
///
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("results.db");
/// let key = ContentKey([7; 32]);
/// let outputs = json!({"image": "frames/shot_1.png"}).as_object().cloned().unwrap();
///
/// let cache = SqliteCache::open(&path)?.with_max_bytes(512 * 1024 * 1024);
/// cache.put(key, Arc::new(outputs.clone())).await?;
/// drop(cache);
///
/// // Another process (or a later run) opening the same file finds it.
/// let reopened = SqliteCache::open(&path)?;
/// assert_eq!(reopened.get(&key).await?.as_deref(), Some(&outputs));
/// assert_eq!(reopened.stats().entries, 1);
/// # Ok::<(), reelgraph::Error>(())
/// # }).unwrap();
/// ```
pub struct SqliteCache {
    db: Arc<Db>,
    max_bytes: Option<u64>,
    hits: AtomicU64,
    misses: AtomicU64,
    evictions: AtomicU64,
}

#[derive(Debug)]
struct Db {
    conn: Mutex<Connection>,
    /// The database path (or `:memory:`), for messages.
    location: String,
    /// The file's totals as of this cache's latest transaction (other
    /// processes change them too). Written while `conn` is held, so a
    /// slower call never overwrites a later call's totals.
    totals: Mutex<Totals>,
}

/// The `totals` row.
#[derive(Debug, Clone, Copy, Default)]
struct Totals {
    entries: u64,
    bytes: u64,
}

impl SqliteCache {
    /// Opens (or creates) the cache database at `path` and brings its
    /// schema up to date. A file written by a newer reelgraph is refused
    /// with a `storage` error.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteCache> {
        let location = path.as_ref().display().to_string();
        // A file that cannot be written opens read-only; every lookup then
        // fails with `storage`, saying so (a run goes on without the cache).
        let (conn, _read_only) = crate::sqlite_conn::open(path.as_ref(), &location, &SETUP)?;
        SqliteCache::setup(conn, location)
    }

    /// A cache in memory, gone when dropped: the SQLite cache without a
    /// file, for tests and one-off runs.
    pub fn open_in_memory() -> Result<SqliteCache> {
        let location = ":memory:".to_owned();
        let mut conn = Connection::open_in_memory().map_err(|e| sql_error(&location, &e))?;
        set_up_in_memory(&mut conn, &location, &SETUP)?;
        SqliteCache::setup(conn, location)
    }

    /// Keeps the file's results within `max_bytes` (sized as in
    /// [`CacheStats::bytes`]): a put that goes over deletes the results
    /// used longest ago, by any process sharing the file, until the total
    /// fits.
    /// A result larger than the whole budget is not stored. A file already
    /// over budget shrinks at its next put.
    pub fn with_max_bytes(mut self, max_bytes: usize) -> SqliteCache {
        self.max_bytes = Some(max_bytes as u64);
        self
    }

    fn setup(conn: Connection, location: String) -> Result<SqliteCache> {
        let totals = read_totals(&conn).map_err(|e| sql_error(&location, &e))?;
        Ok(SqliteCache {
            db: Arc::new(Db {
                conn: Mutex::new(conn),
                location,
                totals: Mutex::new(totals),
            }),
            max_bytes: None,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
        })
    }

    /// Runs `work` on the connection, off the async threads, and records
    /// the totals it read. A panic in it is a bug and is passed on as a
    /// panic.
    async fn run<T, F>(&self, work: F) -> Result<T>
    where
        F: FnOnce(&mut Connection, &str) -> Result<(T, Totals)> + Send + 'static,
        T: Send + 'static,
    {
        let db = self.db.clone();
        let task = move || {
            // A panic mid-transaction drops the transaction, which rolls it
            // back: the connection is still sound.
            let mut conn = db.conn.lock().unwrap_or_else(PoisonError::into_inner);
            let (value, totals) = work(&mut conn, &db.location)?;
            *db.totals.lock().unwrap_or_else(PoisonError::into_inner) = totals;
            Ok(value)
        };
        crate::store::blocking(task, Some(&self.db.location)).await
    }
}

fn read_totals(conn: &Connection) -> rusqlite::Result<Totals> {
    // The row exists from the first migration on; should someone delete
    // it, counting from zero beats failing every run.
    let row = conn
        .query_row(
            "SELECT entries, bytes FROM totals WHERE id = 1",
            [],
            |row| Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?)),
        )
        .optional()?;
    Ok(row.map_or_else(Totals::default, |(entries, bytes)| Totals {
        entries: from_sql(entries),
        bytes: from_sql(bytes),
    }))
}

fn from_sql(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

fn to_sql(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// The next last-use stamp: now, or one above the newest stamp in the file
/// if that is later (see the module docs).
fn next_stamp(tx: &Transaction<'_>, now: i64) -> rusqlite::Result<i64> {
    // `SELECT max(column)` alone is answered from the index, without a scan.
    let newest: Option<i64> = tx.query_row("SELECT max(last_used_ns) FROM results", [], |row| {
        row.get(0)
    })?;
    Ok(newest.map_or(now, |newest| now.max(newest.saturating_add(1))))
}

/// Outputs from the `outputs` column, or what is wrong with it.
fn parse_outputs(value: ValueRef<'_>) -> Result<Outputs, String> {
    let bytes = value
        .as_bytes()
        .map_err(|_| format!("it holds {}, not JSON text", value.data_type()))?;
    serde_json::from_slice(bytes).map_err(|e| format!("it is not a JSON object: {e}"))
}

/// Looks up every key in one transaction, refreshing the stamps of hits and
/// deleting rows that do not parse; returns the totals after, too.
fn lookup(
    conn: &mut Connection,
    location: &str,
    keys: &[ContentKey],
) -> Result<(Vec<Option<Arc<Outputs>>>, Totals)> {
    let err = |e: rusqlite::Error| sql_error(location, &e);
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(err)?;
    let mut stamp = next_stamp(&tx, now_ns()).map_err(err)?;
    let mut found = Vec::with_capacity(keys.len());
    {
        // Finding a row and refreshing its stamp is one statement: one
        // search of the table per key, not two.
        let mut touch = tx
            .prepare_cached("UPDATE results SET last_used_ns = ?2 WHERE key = ?1 RETURNING outputs")
            .map_err(err)?;
        let mut delete = tx
            .prepare_cached("DELETE FROM results WHERE key = ?1")
            .map_err(err)?;
        for key in keys {
            let row = touch
                .query_row(params![&key.0[..], stamp], |row| {
                    Ok(parse_outputs(row.get_ref(0)?))
                })
                .optional()
                .map_err(err)?;
            match row {
                None => found.push(None),
                Some(Ok(outputs)) => {
                    stamp = stamp.saturating_add(1);
                    found.push(Some(Arc::new(outputs)));
                }
                Some(Err(problem)) => {
                    // A damaged row must not fail a run: the node runs
                    // again and its put stores a sound row.
                    tracing::warn!(
                        key = %key,
                        cache = location,
                        problem = %problem,
                        "dropped a corrupt cached result; the node will run again"
                    );
                    delete.execute([&key.0[..]]).map_err(err)?;
                    found.push(None);
                }
            }
        }
    }
    let totals = read_totals(&tx).map_err(err)?;
    tx.commit().map_err(err)?;
    Ok((found, totals))
}

/// Stores one result and evicts down to the budget, in one transaction.
/// Returns how many results were evicted, and the totals after.
fn store(
    conn: &mut Connection,
    location: &str,
    key: ContentKey,
    text: &str,
    max_bytes: Option<u64>,
) -> Result<(u64, Totals)> {
    let err = |e: rusqlite::Error| sql_error(location, &e);
    let size = entry_size(text.len());
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(err)?;
    let mut evicted = 0;
    if max_bytes.is_some_and(|max| size > max) {
        // Not stored; what the key held before goes, so a later get never
        // returns what this put replaced.
        tracing::debug!(key = %key.short(), size, ?max_bytes, "result larger than the whole cache; not cached");
        tx.execute("DELETE FROM results WHERE key = ?1", [&key.0[..]])
            .map_err(err)?;
    } else {
        let now = now_ns();
        let stamp = next_stamp(&tx, now).map_err(err)?;
        tx.execute(UPSERT, params![&key.0[..], text, to_sql(size), now, stamp])
            .map_err(err)?;
        if let Some(max) = max_bytes {
            evicted = evict(&tx, max, &key).map_err(err)?;
        }
    }
    let totals = read_totals(&tx).map_err(err)?;
    tx.commit().map_err(err)?;
    Ok((evicted, totals))
}

/// Deletes the least recently used results other than `keep` until the
/// total is within `max_bytes`; returns how many went.
fn evict(tx: &Transaction<'_>, max_bytes: u64, keep: &ContentKey) -> rusqlite::Result<u64> {
    let mut excess = read_totals(tx)?.bytes.saturating_sub(max_bytes);
    if excess == 0 {
        return Ok(0);
    }
    // Victims are chosen first and deleted after: deleting under an open
    // cursor on the same table is best avoided.
    let mut victims: Vec<Vec<u8>> = Vec::new();
    {
        let mut oldest = tx.prepare_cached(
            "SELECT key, size FROM results WHERE key <> ?1 ORDER BY last_used_ns",
        )?;
        let mut rows = oldest.query([&keep.0[..]])?;
        while excess > 0 {
            let Some(row) = rows.next()? else { break };
            victims.push(row.get(0)?);
            excess = excess.saturating_sub(from_sql(row.get(1)?));
        }
    }
    let mut delete = tx.prepare_cached("DELETE FROM results WHERE key = ?1")?;
    for key in &victims {
        delete.execute([key])?;
    }
    Ok(victims.len() as u64)
}

#[async_trait]
impl ResultCache for SqliteCache {
    async fn get(&self, key: &ContentKey) -> Result<Option<Arc<Outputs>>> {
        let mut found = self.get_many(std::slice::from_ref(key)).await?;
        Ok(found.pop().flatten())
    }

    /// All lookups in one blocking call and one transaction.
    async fn get_many(&self, keys: &[ContentKey]) -> Result<Vec<Option<Arc<Outputs>>>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let keys = keys.to_vec();
        let found = self
            .run(move |conn, location| lookup(conn, location, &keys))
            .await?;
        let hits = found.iter().filter(|f| f.is_some()).count() as u64;
        let misses = found.len() as u64 - hits;
        self.hits.fetch_add(hits, Ordering::Relaxed);
        self.misses.fetch_add(misses, Ordering::Relaxed);
        Ok(found)
    }

    async fn put(&self, key: ContentKey, outputs: Arc<Outputs>) -> Result<()> {
        storable(&outputs)?;
        let text = serde_json::to_string(&*outputs)?;
        let max_bytes = self.max_bytes;
        let evicted = self
            .run(move |conn, location| store(conn, location, key, &text, max_bytes))
            .await?;
        self.evictions.fetch_add(evicted, Ordering::Relaxed);
        Ok(())
    }

    /// `entries` and `bytes` are the whole file's, as of this cache's
    /// latest call (other processes may have changed them since); `hits`,
    /// `misses` and `evictions` count this cache's own calls.
    fn stats(&self) -> CacheStats {
        let totals = *self
            .db
            .totals
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        CacheStats {
            entries: totals.entries,
            bytes: totals.bytes,
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
        }
    }
}

impl fmt::Debug for SqliteCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteCache")
            .field("location", &self.db.location)
            .field("max_bytes", &self.max_bytes)
            .field("stats", &self.stats())
            .finish()
    }
}
