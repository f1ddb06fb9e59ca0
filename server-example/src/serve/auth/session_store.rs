//! Browser sessions kept in the server's database. A session id and its
//! CSRF token are random 256-bit values; only their BLAKE3 hashes are
//! stored, so a copy of the database opens no session.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, params};

use crate::serve::random::hex_token;

/// The table's steps (`ServerDb::migrate`, module `sessions`).
pub const MIGRATIONS: &[&str] = &[
    "CREATE TABLE sessions (
    id_hash    BLOB PRIMARY KEY,
    key_id     TEXT NOT NULL,
    csrf_hash  BLOB NOT NULL,
    expires_at INTEGER NOT NULL
)",
    "CREATE INDEX sessions_by_key ON sessions (key_id)",
];

/// A session just made: the values go to the browser once.
#[derive(Debug)]
pub struct NewSession {
    pub id: String,
    pub csrf_token: String,
    /// Seconds since the Unix epoch.
    pub expires_at: i64,
}

/// A live session, found by its id.
#[derive(Debug)]
pub struct Session {
    pub key_id: String,
    csrf_hash: blake3::Hash,
}

impl Session {
    /// Whether `token` is this session's CSRF token (in constant time).
    pub fn csrf_matches(&self, token: &str) -> bool {
        blake3::hash(token.as_bytes()) == self.csrf_hash
    }
}

/// Starts a session for `key_id`, and drops sessions that have expired.
pub fn create(conn: &Connection, key_id: &str, ttl: Duration) -> rusqlite::Result<NewSession> {
    let now = unix_now();
    conn.execute("DELETE FROM sessions WHERE expires_at <= ?1", params![now])?;
    let random = || hex_token(32).map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()));
    let session = NewSession {
        id: random()?,
        csrf_token: random()?,
        expires_at: now.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX)),
    };
    conn.execute(
        "INSERT INTO sessions (id_hash, key_id, csrf_hash, expires_at) VALUES (?1, ?2, ?3, ?4)",
        params![
            hash(&session.id),
            key_id,
            hash(&session.csrf_token),
            session.expires_at
        ],
    )?;
    Ok(session)
}

/// The session with this id, unless it has expired.
pub fn find(conn: &Connection, id: &str) -> rusqlite::Result<Option<Session>> {
    conn.query_row(
        "SELECT key_id, csrf_hash FROM sessions WHERE id_hash = ?1 AND expires_at > ?2",
        params![hash(id), unix_now()],
        |row| {
            let csrf: [u8; 32] = row.get(1)?;
            Ok(Session {
                key_id: row.get(0)?,
                csrf_hash: blake3::Hash::from_bytes(csrf),
            })
        },
    )
    .optional()
}

/// Ends one session.
pub fn delete(conn: &Connection, id: &str) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM sessions WHERE id_hash = ?1", params![hash(id)])?;
    Ok(())
}

/// Ends every session of a key (it was revoked).
pub fn delete_for_key(conn: &Connection, key_id: &str) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM sessions WHERE key_id = ?1", params![key_id])?;
    Ok(())
}

fn hash(value: &str) -> [u8; 32] {
    *blake3::hash(value.as_bytes()).as_bytes()
}

fn unix_now() -> i64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    i64::try_from(secs).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let conn = Connection::open_in_memory().expect("an in-memory database");
        for step in MIGRATIONS {
            conn.execute(step, []).expect("the sessions table");
        }
        conn
    }

    #[test]
    fn a_session_is_found_by_its_id_and_knows_its_token() {
        let conn = db();
        let new = create(&conn, "key_1", Duration::from_secs(60)).expect("a session");
        let session = find(&conn, &new.id).expect("a query").expect("the session");
        assert_eq!(session.key_id, "key_1");
        assert!(session.csrf_matches(&new.csrf_token));
        assert!(!session.csrf_matches(&new.id));
        assert!(find(&conn, &new.csrf_token).expect("a query").is_none());
    }

    #[test]
    fn expired_deleted_and_revoked_sessions_are_gone() {
        let conn = db();
        let expired = create(&conn, "key_1", Duration::ZERO).expect("a session");
        assert!(find(&conn, &expired.id).expect("a query").is_none());

        let ended = create(&conn, "key_1", Duration::from_secs(60)).expect("a session");
        delete(&conn, &ended.id).expect("a delete");
        assert!(find(&conn, &ended.id).expect("a query").is_none());

        let revoked = create(&conn, "key_2", Duration::from_secs(60)).expect("a session");
        delete_for_key(&conn, "key_2").expect("a delete");
        assert!(find(&conn, &revoked.id).expect("a query").is_none());
    }

    #[test]
    fn only_hashes_are_stored() {
        let conn = db();
        let new = create(&conn, "key_1", Duration::from_secs(60)).expect("a session");
        let stored: Vec<u8> = conn
            .query_row("SELECT id_hash FROM sessions", [], |row| row.get(0))
            .expect("a row");
        assert_ne!(stored, new.id.as_bytes());
        assert_eq!(stored, hash(&new.id));
    }
}
