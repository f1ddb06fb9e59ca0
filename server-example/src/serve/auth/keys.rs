//! API keys: `rg_` and 64 hex digits (256 random bits from the operating
//! system), stored only as their blake3 hash. A key this random needs no
//! slow password hash: nobody can guess one from its hash faster than by
//! guessing the key.
//!
//! Table `api_keys` in the server's database (module `api_keys`):
//! `id` (public, e.g. `key_3f9a0c1d2e4b5a69`), `name`, `hash` (32 bytes,
//! unique), `scopes` (space-separated), `created_at`, `revoked_at`.
//!
//! Lookups are cached for [`CACHE_TTL`]: a key revoked through this
//! [`KeyStore`] stops working at once, one revoked by another process on
//! the same data directory (`reelgraph keys revoke`) within that time.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;

use crate::serve::api_error::ApiError;
use crate::serve::random::hex_token;
use crate::serve::registry::Scope;
use crate::serve::server_db::ServerDb;

/// The prefix of every key, so a leaked one is easy to recognise.
pub const KEY_PREFIX: &str = "rg_";

/// How long a key's lookup is reused.
pub const CACHE_TTL: Duration = Duration::from_secs(1);

const MIGRATIONS: &[&str] = &["CREATE TABLE api_keys (
    id         TEXT PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL,
    hash       BLOB NOT NULL UNIQUE,
    scopes     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
)"];

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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct KeyInfo {
    pub id: String,
    pub name: String,
    pub scopes: Vec<Scope>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339; none while the key works.
    pub revoked_at: Option<String>,
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
    cache: Arc<RwLock<LookupCache>>,
}

/// Recent lookups by key hash, with when they were made.
type LookupCache = HashMap<[u8; 32], (Instant, Lookup)>;

impl KeyStore {
    /// The key store of `db`, its table made if need be.
    pub fn open(db: ServerDb) -> reelgraph::Result<KeyStore> {
        db.migrate("api_keys", MIGRATIONS)?;
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

    /// Revokes key `id`; false if there is no such key. Takes effect at once
    /// in this process.
    pub fn revoke(&self, id: &str) -> reelgraph::Result<bool> {
        let revoked = self.db.blocking(|conn| {
            conn.execute(
                "UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?2) WHERE id = ?1",
                rusqlite::params![id, now()],
            )
        })?;
        self.cache
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
        Ok(revoked > 0)
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

fn list(conn: &mut Connection) -> rusqlite::Result<Vec<KeyInfo>> {
    let mut statement = conn.prepare(
        "SELECT id, name, scopes, created_at, revoked_at FROM api_keys ORDER BY created_at, id",
    )?;
    let rows = statement.query_map([], |row| {
        Ok(KeyInfo {
            id: row.get(0)?,
            name: row.get(1)?,
            scopes: parse_scopes(&row.get::<_, String>(2)?),
            created_at: row.get(3)?,
            revoked_at: row.get(4)?,
        })
    })?;
    rows.collect()
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
        Some((key_id, name, scopes, None)) => Lookup::Valid(Principal {
            key_id,
            name,
            scopes: parse_scopes(&scopes),
        }),
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
        assert!(keys.revoke(&info.id).expect("revoked"));
        assert_eq!(
            keys.authenticate(&secret).await.expect("looked up"),
            Lookup::Revoked
        );
        assert!(!keys.revoke("key_none").expect("nothing to revoke"));
        assert!(keys.list().expect("listed")[0].revoked_at.is_some());
    }
}
