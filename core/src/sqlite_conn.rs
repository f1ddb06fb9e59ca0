//! What the SQLite canvas store and the SQLite result cache share: setting
//! up a connection (safe while other connections open the same new file),
//! schema migrations by `user_version`, and errors that name the file.

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::{Connection, ErrorCode, MAIN_DB, OpenFlags, TransactionBehavior};

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

/// Opens the database file at `path` and sets it up: for reading and
/// writing, creating it if needed; or, when it cannot be written (a
/// read-only file or directory), for reading only. Returns the connection
/// and whether it is read-only.
pub(crate) fn open(path: &Path, location: &str, setup: &Setup<'_>) -> Result<(Connection, bool)> {
    // SQLite itself opens a file it may not write for reading only.
    let mut conn = Connection::open(path).map_err(|e| sql_error(location, &e))?;
    let mut read_only = conn
        .is_readonly(MAIN_DB)
        .map_err(|e| sql_error(location, &e))?;
    match configure(&mut conn, read_only, setup) {
        Ok(()) => {}
        // A writable file in a read-only directory opens, but its WAL and
        // journal files cannot be made: the first write fails.
        Err(Failed::Sql(e))
            if !read_only
                && matches!(
                    e.sqlite_error_code(),
                    Some(ErrorCode::ReadOnly | ErrorCode::CannotOpen)
                ) =>
        {
            drop(conn);
            conn = open_read_only(path, location, setup)?;
            read_only = true;
        }
        Err(e) => return Err(e.into_error(location)),
    }
    if read_only {
        tracing::warn!(
            path = location,
            "the database cannot be written; it is open for reading only"
        );
    }
    Ok((conn, read_only))
}

/// Opens the existing database file at `path` for reading only: it is never
/// created, changed or migrated, and must have the current schema.
pub(crate) fn open_read_only(path: &Path, location: &str, setup: &Setup<'_>) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI;
    let mut conn = Connection::open_with_flags(path, flags).map_err(|e| sql_error(location, &e))?;
    configure(&mut conn, true, setup).map_err(|e| e.into_error(location))?;
    Ok(conn)
}

/// Sets up a connection to a database in memory.
pub(crate) fn set_up_in_memory(
    conn: &mut Connection,
    location: &str,
    setup: &Setup<'_>,
) -> Result<()> {
    configure(conn, false, setup).map_err(|e| e.into_error(location))
}

/// Why setting up a connection failed: SQLite's own error (kept, to tell
/// a database that cannot be written), or a refusal of ours (`storage`).
enum Failed {
    Sql(rusqlite::Error),
    Refused(String),
}

impl From<rusqlite::Error> for Failed {
    fn from(e: rusqlite::Error) -> Failed {
        Failed::Sql(e)
    }
}

impl Failed {
    fn into_error(self, location: &str) -> Error {
        match self {
            Failed::Sql(e) => sql_error(location, &e),
            Failed::Refused(message) => Error::Storage {
                message,
                path: Some(location.to_owned()),
            },
        }
    }
}

/// Sets a connection up: waits for other connections for the busy timeout,
/// puts the database in WAL mode, and brings the schema up to date in one
/// `BEGIN IMMEDIATE` transaction, so that connections opening the same new
/// file at once take turns. A read-only connection changes nothing and
/// needs the current schema.
fn configure(conn: &mut Connection, read_only: bool, setup: &Setup<'_>) -> Result<(), Failed> {
    // First, so that every later step waits for other connections.
    conn.busy_timeout(setup.busy_timeout)?;
    if !read_only {
        if let Some(size) = setup.page_size {
            // Takes effect only in a new, empty database (before WAL mode
            // and the first table); an existing one keeps its page size.
            conn.pragma_update(None, "page_size", size)?;
        }
        use_wal(conn, setup.busy_timeout)?;
    }
    conn.pragma_update(None, "synchronous", setup.synchronous)?;
    if setup.foreign_keys {
        conn.pragma_update(None, "foreign_keys", "ON")?;
    }
    if read_only {
        check_schema(conn, setup)
    } else {
        migrate(conn, setup)
    }
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
fn migrate(conn: &mut Connection, setup: &Setup<'_>) -> Result<(), Failed> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found: u32 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
    check_not_newer(found, setup)?;
    let latest = setup.migrations.len() as u32;
    for step in &setup.migrations[found as usize..] {
        tx.execute_batch(step)?;
    }
    if found < latest {
        tx.pragma_update(None, "user_version", latest)?;
    }
    Ok(tx.commit()?)
}

/// A read-only database must have the current schema: it cannot be
/// migrated.
fn check_schema(conn: &Connection, setup: &Setup<'_>) -> Result<(), Failed> {
    let found: u32 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    check_not_newer(found, setup)?;
    let latest = setup.migrations.len() as u32;
    if found < latest {
        return Err(Failed::Refused(format!(
            "{} is read-only and has schema {found}, which this reelgraph reads only after upgrading it to {latest}; make the file and its directory writable and open it once to upgrade it",
            setup.newer.0
        )));
    }
    Ok(())
}

fn check_not_newer(found: u32, setup: &Setup<'_>) -> Result<(), Failed> {
    let latest = setup.migrations.len() as u32;
    if found > latest {
        return Err(Failed::Refused(format!(
            "{} was written by a newer reelgraph (schema {found}, this one reads up to {latest}); {}",
            setup.newer.0, setup.newer.1
        )));
    }
    Ok(())
}

/// A SQLite error as a reelgraph error naming the file: a damaged file (or
/// one that is not a database) is `corrupt_document`; anything else,
/// a read-only database included, is `storage`.
pub(crate) fn sql_error(location: &str, e: &rusqlite::Error) -> Error {
    let code = e.sqlite_error_code();
    let damaged = matches!(
        code,
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
    let message = if code == Some(ErrorCode::ReadOnly) {
        read_only_message(&e.to_string())
    } else {
        e.to_string()
    };
    Error::Storage {
        message,
        path: Some(location.to_owned()),
    }
}

/// What a change to a read-only database is told, after `lead` (what
/// happened).
pub(crate) fn read_only_message(lead: &str) -> String {
    format!(
        "{lead}: the database is read-only (its file or directory is not writable, or it was opened read-only); make the file and its directory writable and open it again"
    )
}
