//! What the SQLite canvas store and the SQLite result cache share: setting
//! up a connection (safe while other connections open the same new file),
//! schema migrations by `user_version`, and errors that name the file.

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::{Connection, ErrorCode, TransactionBehavior};

use crate::error::{Error, Result};

/// How a database is set up on each connection.
pub(crate) struct Setup<'a> {
    /// How long a connection waits for another connection's write.
    pub(crate) busy_timeout: Duration,
    /// The page size of a new database; none for SQLite's default.
    pub(crate) page_size: Option<i64>,
    /// `PRAGMA synchronous`.
    pub(crate) synchronous: &'static str,
    pub(crate) foreign_keys: bool,
    /// `migrations[n]` takes a database from schema `n` to `n + 1`.
    pub(crate) migrations: &'a [&'a str],
    /// What the file is, and what to do about one from a newer build.
    pub(crate) newer: (&'a str, &'a str),
}

/// Opens the database file at `path`, creating it if needed, and sets it up.
pub(crate) fn open(path: &Path, location: &str, setup: &Setup<'_>) -> Result<Connection> {
    let mut conn = Connection::open(path).map_err(|e| sql_error(location, &e))?;
    configure(&mut conn, location, setup)?;
    Ok(conn)
}

/// Sets up a connection to a database in memory.
pub(crate) fn set_up_in_memory(
    conn: &mut Connection,
    location: &str,
    setup: &Setup<'_>,
) -> Result<()> {
    configure(conn, location, setup)
}

/// Sets a connection up: waits for other connections for the busy timeout,
/// puts the database in WAL mode, and brings the schema up to date in one
/// `BEGIN IMMEDIATE` transaction, so that connections opening the same new
/// file at once take turns.
fn configure(conn: &mut Connection, location: &str, setup: &Setup<'_>) -> Result<()> {
    let err = |e: rusqlite::Error| sql_error(location, &e);
    // First, so that every later step waits for other connections.
    conn.busy_timeout(setup.busy_timeout).map_err(err)?;
    if let Some(size) = setup.page_size {
        // Takes effect only in a new, empty database (before WAL mode and
        // the first table); an existing one keeps its page size.
        conn.pragma_update(None, "page_size", size).map_err(err)?;
    }
    use_wal(conn, setup.busy_timeout).map_err(err)?;
    conn.pragma_update(None, "synchronous", setup.synchronous)
        .map_err(err)?;
    if setup.foreign_keys {
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(err)?;
    }
    migrate(conn, location, setup)
}

/// Puts the database in WAL mode. Switching a new file takes its write lock
/// from inside a read, and SQLite refuses that at once ("database is
/// locked") while another connection switches it, without waiting: waiting
/// inside the read could deadlock. So this waits outside it and tries
/// again, until the switch is made (by either) or the busy timeout passes.
fn use_wal(conn: &Connection, timeout: Duration) -> rusqlite::Result<()> {
    const PAUSE: Duration = Duration::from_millis(2);
    let deadline = Instant::now() + timeout;
    loop {
        // An in-memory database answers "memory"; that is fine.
        match conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0))
        {
            Ok(_) => return Ok(()),
            Err(e)
                if e.sqlite_error_code() == Some(ErrorCode::DatabaseBusy)
                    && Instant::now() < deadline =>
            {
                std::thread::sleep(PAUSE);
            }
            Err(e) => return Err(e),
        }
    }
}

/// Brings the schema from the database's `user_version` up to the number of
/// migrations, in one transaction. A database from a newer build is refused
/// with `storage`.
fn migrate(conn: &mut Connection, location: &str, setup: &Setup<'_>) -> Result<()> {
    let latest = setup.migrations.len() as u32;
    let err = |e: rusqlite::Error| sql_error(location, &e);
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(err)?;
    let found: u32 = tx
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(err)?;
    if found > latest {
        return Err(Error::Storage {
            message: format!(
                "{} was written by a newer reelgraph (schema {found}, this one reads up to {latest}); {}",
                setup.newer.0, setup.newer.1
            ),
            path: Some(location.to_owned()),
        });
    }
    for step in &setup.migrations[found as usize..] {
        tx.execute_batch(step).map_err(err)?;
    }
    if found < latest {
        tx.pragma_update(None, "user_version", latest)
            .map_err(err)?;
    }
    tx.commit().map_err(err)
}

/// A SQLite error as a reelgraph error naming the file: a damaged file (or
/// one that is not a database) is `corrupt_document`; anything else is
/// `storage`.
pub(crate) fn sql_error(location: &str, e: &rusqlite::Error) -> Error {
    let damaged = matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase)
    ) || matches!(
        e,
        rusqlite::Error::InvalidColumnType(..)
            | rusqlite::Error::FromSqlConversionFailure(..)
            | rusqlite::Error::IntegralValueOutOfRange(..)
    );
    if damaged {
        return Error::Corrupt {
            location: location.to_owned(),
            message: format!(
                "{e}: the database file is damaged, or not a reelgraph database; restore it from a backup (or, for a result cache, delete it: that only costs recomputing)"
            ),
        };
    }
    Error::Storage {
        message: e.to_string(),
        path: Some(location.to_owned()),
    }
}
