//! The server's own SQLite file, `server.sqlite` in the data directory:
//! API keys and whatever else a module keeps that is not a canvas
//! (canvases are in the core's `SqliteStore`, `canvases.sqlite`).
//!
//! To add a table: give your module a list of migrations and call
//! [`ServerDb::migrate`] with your module's name at start (in `mod.rs`,
//! before the state is built). Each module's tables have their own schema
//! version (table `schema_versions`), so modules never renumber each
//! other's steps; append steps, never edit one that has shipped.
//!
//! ```ignore
//! const MIGRATIONS: &[&str] = &["CREATE TABLE runs (id TEXT PRIMARY KEY NOT NULL, ...)"];
//! db.migrate("runs", MIGRATIONS)?;
//! let count = db.call(|conn| conn.query_row("SELECT count(*) FROM runs", [], |r| r.get::<_, i64>(0))).await?;
//! ```

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use super::api_error::ApiError;

/// One connection to the server's database, shared by the whole server.
#[derive(Debug, Clone)]
pub struct ServerDb {
    conn: Arc<Mutex<Connection>>,
    path: Arc<Path>,
}

/// The database's file name in the data directory.
pub const FILE: &str = "server.sqlite";

impl ServerDb {
    /// Opens (or creates) the database at `path`: WAL mode, foreign keys on,
    /// `synchronous = FULL` (a change that returned is on disk).
    pub fn open(path: &Path) -> reelgraph::Result<ServerDb> {
        let fail = |e: rusqlite::Error| storage(path, &e);
        let conn = Connection::open(path).map_err(fail)?;
        conn.busy_timeout(Duration::from_secs(10)).map_err(fail)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(fail)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(fail)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(fail)?;
        // Room for every statement the queue, runs and keys run often, so
        // none is parsed again per call.
        conn.set_prepared_statement_cache_capacity(64);
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS schema_versions (
                module  TEXT PRIMARY KEY NOT NULL,
                version INTEGER NOT NULL
            )",
        )
        .map_err(fail)?;
        Ok(ServerDb {
            conn: Arc::new(Mutex::new(conn)),
            path: Arc::from(path),
        })
    }

    /// Brings `module`'s tables up to date: runs the steps of `migrations`
    /// after the last one this database ran, in one transaction. Refuses a
    /// database a newer server wrote.
    pub fn migrate(&self, module: &str, migrations: &[&str]) -> reelgraph::Result<()> {
        self.blocking(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let done: Option<i64> = tx
                .query_row(
                    "SELECT version FROM schema_versions WHERE module = ?1",
                    [module],
                    |row| row.get(0),
                )
                .optional()?;
            let done = usize::try_from(done.unwrap_or(0)).unwrap_or(usize::MAX);
            if done > migrations.len() {
                return Err(rusqlite::Error::ToSqlConversionFailure(
                    format!(
                        "the `{module}` tables are at version {done}, newer than this server's {}: run a newer reelgraph",
                        migrations.len()
                    )
                    .into(),
                ));
            }
            for step in &migrations[done..] {
                tx.execute_batch(step)?;
            }
            tx.execute(
                "INSERT INTO schema_versions (module, version) VALUES (?1, ?2)
                 ON CONFLICT (module) DO UPDATE SET version = excluded.version",
                rusqlite::params![module, migrations.len() as i64],
            )?;
            tx.commit()
        })
    }

    /// Runs `work` on the connection on this thread: for start-up and the
    /// command line, where no runtime waits.
    pub fn blocking<T>(
        &self,
        work: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> reelgraph::Result<T> {
        let mut conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        work(&mut conn).map_err(|e| storage(&self.path, &e))
    }

    /// Runs `work` on the connection on tokio's blocking pool: for handlers.
    pub async fn call<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, ApiError> {
        let db = self.clone();
        match tokio::task::spawn_blocking(move || db.blocking(work)).await {
            Ok(result) => result.map_err(ApiError::from),
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => Err(ApiError::new(
                "unavailable",
                format!("the database task did not finish: {e}"),
            )),
        }
    }

    pub fn path(&self) -> PathBuf {
        self.path.to_path_buf()
    }
}

/// A database failure as the core's `storage` error, naming the file.
fn storage(path: &Path, error: &rusqlite::Error) -> reelgraph::Error {
    reelgraph::Error::Storage {
        message: error.to_string(),
        path: Some(path.display().to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_run_once_per_module_and_newer_databases_are_refused() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join(FILE);
        let db = ServerDb::open(&path).expect("opens");
        let steps = ["CREATE TABLE a (x INTEGER)", "CREATE TABLE b (y INTEGER)"];
        db.migrate("one", &steps[..1]).expect("first step");
        db.migrate("one", &steps).expect("second step only");
        db.migrate("two", &["CREATE TABLE c (z INTEGER)"])
            .expect("another module");
        drop(db);
        let db = ServerDb::open(&path).expect("opens again");
        db.migrate("one", &steps).expect("nothing to do");
        let error = db
            .migrate("one", &steps[..1])
            .expect_err("a newer database");
        assert_eq!(error.code(), "storage");
        assert!(error.to_string().contains("newer"), "{error}");
    }
}
