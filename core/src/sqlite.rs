//! What the SQLite canvas store and the SQLite result cache share: schema
//! migrations by `user_version`, and errors that name the file.

use rusqlite::{Connection, TransactionBehavior};

use crate::error::{Error, Result};

/// Brings the schema from the database's `user_version` up to the number of
/// `migrations` (`migrations[n]` takes a database from version `n` to
/// `n + 1`), in one transaction. A database from a newer build is refused
/// with `storage`; `newer` is (what the file is, what to do about it).
pub(crate) fn migrate(
    conn: &mut Connection,
    location: &str,
    migrations: &[&str],
    newer: (&str, &str),
) -> Result<()> {
    let latest = migrations.len() as u32;
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
                newer.0, newer.1
            ),
            path: Some(location.to_owned()),
        });
    }
    for step in &migrations[found as usize..] {
        tx.execute_batch(step).map_err(err)?;
    }
    if found < latest {
        tx.pragma_update(None, "user_version", latest)
            .map_err(err)?;
    }
    tx.commit().map_err(err)
}

/// A SQLite error as a `storage` error naming the file.
pub(crate) fn sql_error(location: &str, e: &rusqlite::Error) -> Error {
    Error::Storage {
        message: e.to_string(),
        path: Some(location.to_owned()),
    }
}
