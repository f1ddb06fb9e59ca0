//! API keys: `rg_` and 64 hex digits (256 random bits from the operating
//! system), stored only as their blake3 hash. A key this random needs no
//! slow password hash: nobody can guess one from its hash faster than by
//! guessing the key.
//!
//! Table `api_keys` in the server's database (module `api_keys`):
//! `id` (public, e.g. `key_3f9a0c1d2e4b5a69`), `name`, `hash` (32 bytes,
//! unique), `scopes` (space-separated), `created_at`, `revoked_at`,
//! `last_used_at` (written at most once a [`LAST_USED_STEP`]). The browser
//! sessions made with a key (`session_store`) live and die with it.
//!
//! Lookups are cached for [`CACHE_TTL`]: a key revoked through this
//! [`KeyStore`] stops working at once, one revoked by another process on
//! the same data directory (`reelgraph keys revoke`) within that time.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::session_store;
use crate::serve::api_error::ApiError;
use crate::serve::random::hex_token;
use crate::serve::registry::Scope;
use crate::serve::server_db::ServerDb;

/// The prefix of every key, so a leaked one is easy to recognise.
pub const KEY_PREFIX: &str = "rg_";

/// How long a key's lookup is reused.
pub const CACHE_TTL: Duration = Duration::from_secs(1);

const MIGRATIONS: &[&str] = &[
    "CREATE TABLE api_keys (
    id         TEXT PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL,
    hash       BLOB NOT NULL UNIQUE,
    scopes     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
)",
    "ALTER TABLE api_keys ADD COLUMN last_used_at TEXT",
];

/// How stale `last_used_at` may get: it is written only when older, so a
/// busy key costs one write a minute, not one a request.
pub const LAST_USED_STEP: Duration = Duration::from_secs(60);

/// Who made a request: the key that authenticated it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Principal {
    pub key_id: String,
    pub name: String,
    pub scopes: Vec<Scope>,
}

impl Principal {
    pub fn allows(&self, scope: Scope) -> bool {
        scope == Scope::Public || self.scopes.contains(&scope)
    }
}

/// A key as listed: everything but the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct KeyInfo {
    pub id: String,
    pub name: String,
    pub scopes: Vec<Scope>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339; none while the key works.
    pub revoked_at: Option<String>,
    /// RFC 3339, within a minute; none if never used.
    pub last_used_at: Option<String>,
}

/// What a revocation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revoke {
    /// The key is revoked now (or was already), its sessions ended.
    Revoked(KeyInfo),
    /// No key has this id.
    NotFound,
    /// It is the last admin key that works: nobody could manage keys after it.
    LastAdmin,
}

/// What a lookup of a presented key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Valid(Principal),
    Revoked,
    Unknown,
}

/// The API keys of one data directory.
#[derive(Debug, Clone)]
pub struct KeyStore {
    db: ServerDb,
    cache: Arc<RwLock<Cache>>,
}

/// Recent lookups by key hash, each with when it was made.
type Cache = HashMap<[u8; 32], (Instant, Lookup)>;

impl KeyStore {
    /// The key store of `db`, its table made if need be.
    pub fn open(db: ServerDb) -> reelgraph::Result<KeyStore> {
        db.migrate("api_keys", MIGRATIONS)?;
        db.migrate("sessions", session_store::MIGRATIONS)?;
        Ok(KeyStore {
            db,
            cache: Arc::default(),
        })
    }

    /// Makes a key; returns what is stored and the secret, which is shown
    /// once and never stored.
    pub fn create(&self, name: &str, scopes: &[Scope]) -> reelgraph::Result<(KeyInfo, String)> {
        self.db.blocking(|conn| create(conn, name, scopes))
    }

    /// How many keys there are, revoked ones included.
    pub fn count(&self) -> reelgraph::Result<u64> {
        self.db.blocking(|conn| {
            conn.query_row("SELECT count(*) FROM api_keys", [], |row| {
                row.get::<_, i64>(0)
            })
            .map(|n| u64::try_from(n).unwrap_or(0))
        })
    }

    /// Every key, oldest first.
    pub fn list(&self) -> reelgraph::Result<Vec<KeyInfo>> {
        self.db.blocking(list)
    }

    /// Makes a key, for a handler (on the blocking pool).
    pub async fn create_async(
        &self,
        name: String,
        scopes: Vec<Scope>,
    ) -> Result<(KeyInfo, String), ApiError> {
        self.db.call(move |conn| create(conn, &name, &scopes)).await
    }

    /// A page of keys, oldest first: up to `limit` after the cursor
    /// position `after`, and the position of the last if more follow.
    pub async fn page(
        &self,
        after: Option<String>,
        limit: u32,
    ) -> Result<(Vec<KeyInfo>, Option<String>), ApiError> {
        self.db
            .call(move |conn| page(conn, after.as_deref(), limit))
            .await
    }

    /// Revokes key `id` and ends its sessions, unless it is the last admin
    /// key. Takes effect at once in this process.
    pub fn revoke(&self, id: &str) -> reelgraph::Result<Revoke> {
        let outcome = self.db.blocking(|conn| revoke(conn, id))?;
        self.forget();
        Ok(outcome)
    }

    /// [`KeyStore::revoke`], for a handler.
    pub async fn revoke_async(&self, id: String) -> Result<Revoke, ApiError> {
        let outcome = self.db.call(move |conn| revoke(conn, &id)).await?;
        self.forget();
        Ok(outcome)
    }

    fn forget(&self) {
        self.cache
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }

    /// Who `secret` is, if anyone.
    pub async fn authenticate(&self, secret: &str) -> Result<Lookup, ApiError> {
        if !looks_like_key(secret) {
            return Ok(Lookup::Unknown);
        }
        let hash = *blake3::hash(secret.as_bytes()).as_bytes();
        if let Some((at, lookup)) = self
            .cache
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&hash)
            && at.elapsed() < CACHE_TTL
        {
            return Ok(lookup.clone());
        }
        let lookup = self.db.call(move |conn| find(conn, &hash)).await?;
        if lookup != Lookup::Unknown {
            let mut cache = self
                .cache
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            cache.retain(|_, (at, _)| at.elapsed() < CACHE_TTL);
            cache.insert(hash, (Instant::now(), lookup.clone()));
        }
        Ok(lookup)
    }
}

fn looks_like_key(secret: &str) -> bool {
    secret
        .strip_prefix(KEY_PREFIX)
        .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn create(conn: &Connection, name: &str, scopes: &[Scope]) -> rusqlite::Result<(KeyInfo, String)> {
    let random =
        |bytes| hex_token(bytes).map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()));
    let secret = format!("{KEY_PREFIX}{}", random(32)?);
    let mut scopes = scopes.to_vec();
    scopes.sort();
    scopes.dedup();
    let info = KeyInfo {
        id: format!("key_{}", random(8)?),
        name: name.to_owned(),
        scopes,
        created_at: now(),
        revoked_at: None,
        last_used_at: None,
    };
    conn.execute(
        "INSERT INTO api_keys (id, name, hash, scopes, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        rusqlite::params![
            info.id,
            info.name,
            blake3::hash(secret.as_bytes()).as_bytes().as_slice(),
            scope_text(&info.scopes),
            info.created_at
        ],
    )?;
    Ok((info, secret))
}

const KEY_COLUMNS: &str = "id, name, scopes, created_at, revoked_at, last_used_at";

fn key_info(row: &rusqlite::Row<'_>) -> rusqlite::Result<KeyInfo> {
    Ok(KeyInfo {
        id: row.get(0)?,
        name: row.get(1)?,
        scopes: parse_scopes(&row.get::<_, String>(2)?),
        created_at: row.get(3)?,
        revoked_at: row.get(4)?,
        last_used_at: row.get(5)?,
    })
}

fn list(conn: &mut Connection) -> rusqlite::Result<Vec<KeyInfo>> {
    let mut statement = conn.prepare(&format!(
        "SELECT {KEY_COLUMNS} FROM api_keys ORDER BY rowid"
    ))?;
    let rows = statement.query_map([], key_info)?;
    rows.collect()
}

/// Keys in the order they were made (rowid); a cursor position is a rowid.
fn page(
    conn: &mut Connection,
    after: Option<&str>,
    limit: u32,
) -> rusqlite::Result<(Vec<KeyInfo>, Option<String>)> {
    let after: i64 = after.and_then(|p| p.parse().ok()).unwrap_or(0);
    let mut statement = conn.prepare(&format!(
        "SELECT {KEY_COLUMNS}, rowid FROM api_keys WHERE rowid > ?1 ORDER BY rowid LIMIT ?2"
    ))?;
    let mut rows: Vec<(KeyInfo, i64)> = statement
        .query_map(rusqlite::params![after, i64::from(limit) + 1], |row| {
            Ok((key_info(row)?, row.get(6)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let last = rows
        .last()
        .filter(|_| more)
        .map(|(_, rowid)| rowid.to_string());
    Ok((rows.into_iter().map(|(info, _)| info).collect(), last))
}

fn revoke(conn: &mut Connection, id: &str) -> rusqlite::Result<Revoke> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let key = tx
        .query_row(
            &format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = ?1"),
            [id],
            key_info,
        )
        .optional()?;
    let Some(mut key) = key else {
        return Ok(Revoke::NotFound);
    };
    if key.revoked_at.is_none() && key.scopes.contains(&Scope::Admin) {
        let admins: Vec<String> = tx
            .prepare("SELECT scopes FROM api_keys WHERE revoked_at IS NULL AND id != ?1")?
            .query_map([id], |row| row.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        if !admins
            .iter()
            .any(|scopes| parse_scopes(scopes).contains(&Scope::Admin))
        {
            return Ok(Revoke::LastAdmin);
        }
    }
    let at = key.revoked_at.get_or_insert_with(now).clone();
    tx.execute(
        "UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?2) WHERE id = ?1",
        rusqlite::params![id, at],
    )?;
    session_store::delete_for_key(&tx, id)?;
    tx.commit()?;
    Ok(Revoke::Revoked(key))
}

/// The key with this id, as a session's lookup needs it.
pub fn find_by_id(conn: &Connection, id: &str) -> rusqlite::Result<Lookup> {
    let row = conn
        .query_row(
            "SELECT name, scopes, revoked_at FROM api_keys WHERE id = ?1",
            [id],
            |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, Option<String>>(2)?,
                ))
            },
        )
        .optional()?;
    Ok(match row {
        None => Lookup::Unknown,
        Some((_, _, Some(_))) => Lookup::Revoked,
        Some((name, scopes, None)) => Lookup::Valid(Principal {
            key_id: id.to_owned(),
            name,
            scopes: parse_scopes(&scopes),
        }),
    })
}

/// Notes that key `id` was used, unless that was noted less than a
/// [`LAST_USED_STEP`] ago.
fn touch(conn: &Connection, id: &str) -> rusqlite::Result<()> {
    let now = std::time::SystemTime::now();
    let stale = now.checked_sub(LAST_USED_STEP).unwrap_or(now);
    conn.execute(
        "UPDATE api_keys SET last_used_at = ?2 WHERE id = ?1 AND (last_used_at IS NULL OR last_used_at < ?3)",
        rusqlite::params![
            id,
            humantime::format_rfc3339_seconds(now).to_string(),
            humantime::format_rfc3339_seconds(stale).to_string()
        ],
    )?;
    Ok(())
}

fn find(conn: &mut Connection, hash: &[u8; 32]) -> rusqlite::Result<Lookup> {
    let row = conn
        .query_row(
            "SELECT id, name, scopes, revoked_at FROM api_keys WHERE hash = ?1",
            [hash.as_slice()],
            |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, Option<String>>(3)?,
                ))
            },
        )
        .optional()?;
    Ok(match row {
        None => Lookup::Unknown,
        Some((_, _, _, Some(_))) => Lookup::Revoked,
        Some((key_id, name, scopes, None)) => {
            touch(conn, &key_id)?;
            Lookup::Valid(Principal {
                key_id,
                name,
                scopes: parse_scopes(&scopes),
            })
        }
    })
}

fn scope_text(scopes: &[Scope]) -> String {
    scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

fn parse_scopes(text: &str) -> Vec<Scope> {
    text.split_whitespace().filter_map(Scope::parse).collect()
}

fn now() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, KeyStore) {
        let dir = tempfile::tempdir().expect("a temp dir");
        let db = ServerDb::open(&dir.path().join("server.sqlite")).expect("opens");
        (dir, KeyStore::open(db).expect("the table"))
    }

    #[tokio::test]
    async fn a_key_is_stored_as_a_hash_and_found_by_its_secret() {
        let (dir, keys) = store();
        let (info, secret) = keys
            .create("ci", &[Scope::Write, Scope::Read])
            .expect("created");
        assert!(looks_like_key(&secret), "{secret}");
        assert_eq!(info.scopes, vec![Scope::Read, Scope::Write]);
        let file = std::fs::read(dir.path().join("server.sqlite")).expect("the file");
        let stored = file.windows(secret.len()).any(|w| w == secret.as_bytes());
        assert!(!stored, "the secret is in the database file");
        match keys.authenticate(&secret).await.expect("looked up") {
            Lookup::Valid(principal) => {
                assert_eq!(principal.key_id, info.id);
                assert!(principal.allows(Scope::Write) && !principal.allows(Scope::Admin));
            }
            other => panic!("{other:?}"),
        }
        let wrong = format!("{KEY_PREFIX}{}", "0".repeat(64));
        assert_eq!(
            keys.authenticate(&wrong).await.expect("looked up"),
            Lookup::Unknown
        );
        assert_eq!(
            keys.authenticate("rg_short").await.expect("looked up"),
            Lookup::Unknown
        );
    }

    #[tokio::test]
    async fn a_revoked_key_stops_working_at_once() {
        let (_dir, keys) = store();
        let (info, secret) = keys.create("ci", &[Scope::Read]).expect("created");
        assert!(matches!(
            keys.authenticate(&secret).await,
            Ok(Lookup::Valid(_))
        ));
        assert!(matches!(keys.revoke(&info.id), Ok(Revoke::Revoked(_))));
        assert_eq!(
            keys.authenticate(&secret).await.expect("looked up"),
            Lookup::Revoked
        );
        assert_eq!(
            keys.revoke("key_none").expect("nothing to revoke"),
            Revoke::NotFound
        );
        assert!(keys.list().expect("listed")[0].revoked_at.is_some());
    }

    #[test]
    fn the_last_admin_key_stays() {
        let (_dir, keys) = store();
        let (first, _) = keys.create("admin", &[Scope::Admin]).expect("created");
        assert_eq!(keys.revoke(&first.id).expect("refused"), Revoke::LastAdmin);
        let (second, _) = keys
            .create("admin 2", &[Scope::Admin, Scope::Read])
            .expect("created");
        assert!(matches!(keys.revoke(&first.id), Ok(Revoke::Revoked(_))));
        assert_eq!(keys.revoke(&second.id).expect("refused"), Revoke::LastAdmin);
        // Revoking again is no error, and keeps the first time.
        let Ok(Revoke::Revoked(again)) = keys.revoke(&first.id) else {
            panic!("a revoked key revokes again");
        };
        assert_eq!(again.revoked_at, keys.list().expect("listed")[0].revoked_at);
    }

    #[tokio::test]
    async fn pages_follow_creation_order() {
        let (_dir, keys) = store();
        let ids: Vec<String> = (0..5)
            .map(|i| {
                keys.create(&format!("k{i}"), &[Scope::Read])
                    .expect("created")
                    .0
                    .id
            })
            .collect();
        let (first, next) = keys.page(None, 2).await.expect("a page");
        assert_eq!(
            first.iter().map(|k| &k.id).collect::<Vec<_>>(),
            [&ids[0], &ids[1]]
        );
        let (second, next) = keys.page(next, 3).await.expect("a page");
        assert_eq!(
            second.iter().map(|k| &k.id).collect::<Vec<_>>(),
            [&ids[2], &ids[3], &ids[4]]
        );
        assert_eq!(next, None);
    }

    #[tokio::test]
    async fn use_is_noted_at_most_once_a_step() {
        let (_dir, keys) = store();
        let (_, secret) = keys.create("ci", &[Scope::Read]).expect("created");
        assert_eq!(keys.list().expect("listed")[0].last_used_at, None);
        keys.authenticate(&secret).await.expect("looked up");
        let used = keys.list().expect("listed")[0].last_used_at.clone();
        assert!(used.is_some());
        keys.forget();
        keys.authenticate(&secret).await.expect("looked up");
        assert_eq!(keys.list().expect("listed")[0].last_used_at, used);
    }
}
