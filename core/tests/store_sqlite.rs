//! The SQLite store beyond the conformance suite: schema versions, damaged
//! rows, literal name prefixes, size limits, and several connections.
#![cfg(feature = "sqlite")]

#[path = "support/documents.rs"]
mod documents;

use documents::doc;
use std::path::Path;
use std::sync::Arc;

use reelgraph::CanvasDocument;
use reelgraph::store::{CanvasStore, ListQuery, MAX_DOCUMENT_BYTES, SqliteStore};
use rusqlite::Connection;
use serde_json::json;

fn open() -> (tempfile::TempDir, std::path::PathBuf, SqliteStore) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("canvases.db");
    let store = SqliteStore::open(&path).expect("open");
    (dir, path, store)
}

/// A second connection, to look at or damage what the store wrote.
fn raw(path: &Path) -> Connection {
    let conn = Connection::open(path).expect("raw connection");
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .expect("busy timeout");
    conn
}

#[tokio::test]
async fn a_new_database_gets_the_schema_in_wal_mode() {
    let (_dir, path, store) = open();
    store.create(&doc("a", "A", 1)).await.expect("create");
    let conn = raw(&path);
    let version: u32 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .expect("user_version");
    assert_eq!(version, 3);
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .expect("journal_mode");
    assert_eq!(mode, "wal");
    let page_size: i64 = conn
        .pragma_query_value(None, "page_size", |r| r.get(0))
        .expect("page_size");
    assert_eq!(
        page_size,
        8 * 1024,
        "pages of a few edits, or a part of a document"
    );
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type IN ('table', 'index') ORDER BY name")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    for name in ["canvases", "canvases_by_name", "versions"] {
        assert!(tables.iter().any(|t| t == name), "{name} in {tables:?}");
    }
    let (revision, size): (i64, i64) = conn
        .query_row(
            "SELECT revision, size FROM canvases WHERE id = 'a'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("row");
    assert_eq!(revision, 0);
    assert_eq!(
        size,
        serde_json::to_string(&doc("a", "A", 1))
            .expect("json")
            .len() as i64
    );
    // Each document is stored once, in `versions`.
    let columns: Vec<String> = conn
        .prepare("SELECT name FROM pragma_table_info('canvases') ORDER BY cid")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(
        columns,
        [
            "id",
            "name",
            "revision",
            "updated_at",
            "size",
            "fingerprint",
            "journal_count",
            "journal_bytes"
        ]
    );
}

#[tokio::test]
async fn canvases_and_history_survive_reopening() {
    let (_dir, path, store) = open();
    let v0 = doc("keep", "Keep", 1);
    let mut v1 = doc("keep", "Kept", 2);
    v1.revision = 1;
    store.create(&v0).await.expect("create");
    store.save(&v1, 0).await.expect("save");
    drop(store);
    let store = SqliteStore::open(&path).expect("reopen: migrations are idempotent");
    assert_eq!(store.get("keep").await.expect("get"), v1);
    assert_eq!(store.get_revision("keep", 0).await.expect("v0"), v0);
    let history = store.history("keep").await.expect("history");
    assert_eq!(history[0].summary, "+1 node, renamed");
}

#[tokio::test]
async fn a_database_from_a_newer_reelgraph_is_refused() {
    let (_dir, path, store) = open();
    drop(store);
    raw(&path)
        .pragma_update(None, "user_version", 7)
        .expect("bump");
    let err = SqliteStore::open(&path).expect_err("newer schema");
    assert_eq!(err.code(), "storage");
    let message = err.to_string();
    assert!(
        message.contains("newer reelgraph") && message.contains("schema 7"),
        "{message}"
    );
    assert!(message.contains(&path.display().to_string()), "{message}");
}

#[tokio::test]
async fn a_file_that_is_not_a_database_is_corrupt_and_the_error_names_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("notes.db");
    std::fs::write(&path, "these are my notes, not a database".repeat(100)).expect("write");
    let err = SqliteStore::open(&path).expect_err("not a database");
    assert_eq!(err.code(), "corrupt_document");
    assert_eq!(err.details()["location"], json!(path.display().to_string()));
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
}

/// Stores a canvas and then replaces its current (and only) document with
/// `value`.
async fn damage(store: &SqliteStore, path: &Path, id: &str, value: rusqlite::types::Value) {
    store.create(&doc(id, id, 2)).await.expect("create");
    let changed = raw(path)
        .execute(
            "UPDATE versions SET document = ?2 WHERE canvas_id = ?1",
            rusqlite::params![id, value],
        )
        .expect("damage");
    assert_eq!(changed, 1);
}

fn text(s: &str) -> rusqlite::types::Value {
    rusqlite::types::Value::Text(s.to_owned())
}

#[track_caller]
fn assert_names(err: &reelgraph::Error, path: &Path, id: &str) {
    let message = err.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains(&format!("`{id}`")), "{message}");
}

#[tokio::test]
async fn damaged_documents_give_clear_errors() {
    let (_dir, path, store) = open();
    let full = serde_json::to_string(&doc("cut", "cut", 2)).expect("json");
    damage(&store, &path, "cut", text(&full[..full.len() / 2])).await;
    let err = store.get("cut").await.expect_err("truncated");
    assert_eq!(err.code(), "corrupt_document");
    assert_names(&err, &path, "cut");
    let err = store.get_revision("cut", 0).await.expect_err("truncated");
    assert_eq!(err.code(), "corrupt_document");

    damage(
        &store,
        &path,
        "bytes",
        rusqlite::types::Value::Blob(b"{\"format\": \"\xff\xfe\"}".to_vec()),
    )
    .await;
    let err = store.get("bytes").await.expect_err("not UTF-8");
    assert_eq!(err.code(), "corrupt_document");
    assert!(err.to_string().contains("UTF-8"), "{err}");
    assert_names(&err, &path, "bytes");

    damage(&store, &path, "flow", text(r#"{"nodes": [], "edges": []}"#)).await;
    assert_eq!(
        store.get("flow").await.expect_err("other format").code(),
        "wrong_format"
    );

    let mut newer = serde_json::to_value(doc("next", "next", 1)).expect("json");
    newer["format_version"] = json!(99);
    damage(&store, &path, "next", text(&newer.to_string())).await;
    let err = store.get("next").await.expect_err("newer");
    assert_eq!(err.code(), "unsupported_format_version");
    assert_eq!(err.details()["found"], json!(99));
}

#[tokio::test]
async fn one_corrupt_canvas_does_not_hide_the_others() {
    let (_dir, path, store) = open();
    for id in ["a-good", "c-good"] {
        store.create(&doc(id, id, 1)).await.expect("create");
    }
    damage(&store, &path, "b-bad", text("{\"format\": ")).await;
    let page = store.list(&ListQuery::first(10)).await.expect("list");
    let ids: Vec<&str> = page.items.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        ["a-good", "b-bad", "c-good"],
        "listing reads no documents"
    );
    for id in ["a-good", "c-good"] {
        assert_eq!(store.get(id).await.expect(id).id, id);
    }
    assert_eq!(
        store.get("b-bad").await.expect_err("bad").code(),
        "corrupt_document"
    );

    // Saving a good version over it restores it.
    let mut repaired = doc("b-bad", "b-bad", 1);
    repaired.revision = 1;
    let info = store.save(&repaired, 0).await.expect("save over it");
    assert_eq!(info.summary, "replaces an unreadable version");
    assert_eq!(store.get("b-bad").await.expect("repaired"), repaired);
}

#[tokio::test]
async fn a_row_holding_another_canvas_is_corrupt() {
    let (_dir, path, store) = open();
    store.create(&doc("one", "One", 0)).await.expect("create");
    let other = serde_json::to_string(&doc("two", "Two", 0)).expect("json");
    raw(&path)
        .execute(
            "UPDATE versions SET document = ?1 WHERE canvas_id = 'one'",
            [other],
        )
        .expect("swap");
    let err = store.get("one").await.expect_err("wrong canvas");
    assert_eq!(err.code(), "corrupt_document");
    assert!(err.to_string().contains("`two`"), "{err}");
}

#[tokio::test]
async fn name_prefixes_are_literal_not_like_patterns() {
    let (_dir, _path, store) = open();
    for (id, name) in [
        ("a", "100%"),
        ("b", "100x"),
        ("c", "a_b"),
        ("d", "axb"),
        ("e", "É"),
        ("f", "\u{10FFFF}x"),
        ("g", "Trailer"),
        ("h", "Trailes"),
    ] {
        store.create(&doc(id, name, 0)).await.expect("create");
    }
    for (prefix, expected) in [
        ("100%", vec!["a"]),
        ("a_", vec!["c"]),
        ("%", vec![]),
        ("É", vec!["e"]),
        ("\u{10FFFF}", vec!["f"]),
        ("Trailer", vec!["g"]),
        ("", vec!["a", "b", "c", "d", "e", "f", "g", "h"]),
    ] {
        let page = store
            .list(&ListQuery {
                name_prefix: Some(prefix.into()),
                ..ListQuery::default()
            })
            .await
            .expect("list");
        let ids: Vec<&str> = page.items.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, expected, "prefix {prefix:?}");
    }
}

#[tokio::test]
async fn an_oversized_row_is_refused_without_loading_it() {
    let (_dir, path, store) = open();
    store.create(&doc("huge", "Huge", 0)).await.expect("create");
    raw(&path)
        .execute(
            "UPDATE versions SET document = CAST(zeroblob(?1) AS TEXT) WHERE canvas_id = 'huge'",
            [MAX_DOCUMENT_BYTES as i64 + 1],
        )
        .expect("grow");
    let err = store.get("huge").await.expect_err("too large");
    assert_eq!(err.code(), "too_large");
    assert_eq!(err.details()["size"], json!(MAX_DOCUMENT_BYTES + 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_connections_racing_exactly_one_wins() {
    let (_dir, path, first) = open();
    let second = SqliteStore::open(&path).expect("a second connection");
    let d = doc("race", "Race", 0);
    first.create(&d).await.expect("create");
    let stores: [Arc<dyn CanvasStore>; 2] = [Arc::new(first), Arc::new(second)];
    for round in 0..20u64 {
        let tasks: Vec<_> = (0..6)
            .map(|writer| {
                let store = stores[writer % 2].clone();
                let mut mine = d.clone();
                mine.revision = round + 1;
                mine.name = format!("writer {writer}");
                tokio::spawn(async move { store.save(&mine, round).await })
            })
            .collect();
        let mut wins = 0;
        for t in tasks {
            match t.await.expect("join") {
                Ok(_) => wins += 1,
                Err(e) => assert_eq!(e.code(), "conflict", "{e}"),
            }
        }
        assert_eq!(wins, 1, "round {round}");
    }
    assert_eq!(stores[1].history("race").await.expect("history").len(), 21);
}

#[tokio::test]
async fn the_in_memory_database_works_without_a_file() {
    let store = SqliteStore::open_in_memory().expect("open");
    let d = doc("m", "M", 1);
    store.create(&d).await.expect("create");
    assert_eq!(store.get("m").await.expect("get"), d);
}

/// Schema 1, as reelgraph 0.1 wrote it: the current document in both tables.
const SCHEMA_1: &str = "CREATE TABLE canvases (
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
    );
    PRAGMA user_version = 1;";

#[tokio::test]
async fn a_schema_1_database_is_upgraded_in_place() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("old.db");
    let v0 = doc("old", "Old", 1);
    let mut v1 = doc("old", "Older", 2);
    v1.revision = 1;
    let orphan = doc("orphan", "Orphan", 3);
    {
        let conn = raw(&path);
        conn.execute_batch(SCHEMA_1).expect("schema 1");
        let json = |d: &CanvasDocument| serde_json::to_string(d).expect("json");
        conn.execute(
            "INSERT INTO canvases VALUES ('old', 'Older', 1, '2025-01-02T03:04:05.678Z', ?1, ?2)",
            rusqlite::params![json(&v1).len() as i64, json(&v1)],
        )
        .expect("canvas");
        for (d, summary) in [
            (&v0, "created with 1 nodes, 0 edges"),
            (&v1, "+1 node, renamed"),
        ] {
            conn.execute(
                "INSERT INTO versions VALUES ('old', ?1, '2025-01-02T03:04:05.678Z', 1, ?2, ?3, ?4)",
                rusqlite::params![d.revision as i64, json(d).len() as i64, summary, json(d)],
            )
            .expect("version");
        }
        // A current version without its `versions` row, which 0.1 never
        // wrote: the upgrade keeps it from `canvases`.
        conn.execute(
            "INSERT INTO canvases VALUES ('orphan', 'Orphan', 0, '2025-01-02T03:04:05.678Z', ?1, ?2)",
            rusqlite::params![json(&orphan).len() as i64, json(&orphan)],
        )
        .expect("orphan");
    }

    let store = SqliteStore::open(&path).expect("opens and upgrades");
    let version: u32 = raw(&path)
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .expect("user_version");
    assert_eq!(version, 3);
    let page_size: i64 = raw(&path)
        .pragma_query_value(None, "page_size", |r| r.get(0))
        .expect("page_size");
    assert_eq!(page_size, 4096, "an existing database keeps its page size");
    assert_eq!(store.get("old").await.expect("current"), v1);
    assert_eq!(store.get_revision("old", 0).await.expect("v0"), v0);
    let history = store.history("old").await.expect("history");
    assert_eq!(history.len(), 2);
    assert_eq!(history[0].summary, "+1 node, renamed");
    assert_eq!(store.get("orphan").await.expect("kept"), orphan);
    let kept = &store.history("orphan").await.expect("history")[0];
    assert_eq!(kept.saved_at, "2025-01-02T03:04:05.678Z");
    let listed: Vec<String> = store
        .list(&ListQuery::first(10))
        .await
        .expect("list")
        .items
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(listed, ["Older", "Orphan"]);

    // Without a kept fingerprint, the first save reads the previous document.
    let mut v2 = v1.clone();
    v2.revision = 2;
    v2.nodes.pop();
    let info = store.save(&v2, 1).await.expect("save");
    assert_eq!(info.summary, "-1 node");
    assert_eq!(store.get("old").await.expect("v2"), v2);
    drop(store);
    SqliteStore::open(&path).expect("reopens without migrating again");
}

#[tokio::test]
async fn summaries_survive_a_lost_or_stale_fingerprint() {
    let (_dir, path, store) = open();
    let v0 = doc("fp", "Fp", 2);
    store.create(&v0).await.expect("create");
    let mut v1 = doc("fp", "Fp", 3);
    v1.revision = 1;
    // No fingerprint: the previous document is read.
    raw(&path)
        .execute("UPDATE canvases SET fingerprint = NULL", [])
        .expect("lose it");
    assert_eq!(store.save(&v1, 0).await.expect("save").summary, "+1 node");
    // A fingerprint of another document: `size` no longer matches the
    // stored document, so it is not trusted.
    let mut other = doc("fp", "Fp", 0);
    other.revision = 1;
    raw(&path)
        .execute(
            "UPDATE versions SET document = ?1 WHERE canvas_id = 'fp' AND revision = 1",
            [serde_json::to_string(&other).expect("json")],
        )
        .expect("replace behind the store's back");
    let mut v2 = doc("fp", "Fp", 1);
    v2.revision = 2;
    assert_eq!(store.save(&v2, 1).await.expect("save").summary, "+1 node");
    // A damaged one is not trusted either.
    raw(&path)
        .execute("UPDATE canvases SET fingerprint = CAST('rgfp' AS BLOB)", [])
        .expect("damage it");
    let mut v3 = v2.clone();
    v3.revision = 3;
    v3.name = "Renamed".into();
    assert_eq!(store.save(&v3, 2).await.expect("save").summary, "renamed");
}

#[tokio::test]
async fn a_large_damaged_document_gives_the_one_thread_error() {
    let (_dir, path, store) = open();
    let mut big = doc("large", "Large", 1);
    let template = big.nodes[0].clone();
    big.nodes = (0..6_000)
        .map(|i| {
            let mut n = template.clone();
            n.id = format!("shot-{i}");
            n.properties.insert(
                "prompt".into(),
                json!(format!("frame {i}, rain, neon, {}", "x".repeat(80))),
            );
            n
        })
        .collect();
    store.create(&big).await.expect("create");
    assert_eq!(store.get("large").await.expect("get"), big);
    let text = serde_json::to_string(&big).expect("json");
    assert!(text.len() > 1 << 20);
    let damaged = text.replacen("\"id\":\"shot-4000\"", "\"id\":4000", 1);
    raw(&path)
        .execute(
            "UPDATE versions SET document = ?1 WHERE canvas_id = 'large'",
            [&damaged],
        )
        .expect("damage");
    let err = store.get("large").await.expect_err("damaged");
    assert_eq!(err.code(), "corrupt_document");
    assert_names(&err, &path, "large");
    let expected = CanvasDocument::from_json(&damaged).expect_err("invalid");
    assert!(
        err.to_string()
            .contains(&expected.to_string().replace("invalid JSON: ", "")),
        "{err} / {expected}"
    );
}
