//! The SQLite store's journal: deltas between snapshots, replay on read,
//! group commit of many canvases' saves, and damage in a delta.

#![cfg(feature = "sqlite")]

use std::path::Path;
use std::sync::Arc;

use reelgraph::store::{CanvasStore, SqliteStore};
use reelgraph::{Canvas, Catalog, Op, Position};
use rusqlite::Connection;
use serde_json::json;

/// A canvas of `shots` shots, stored.
async fn stored(store: &SqliteStore, id: &str, shots: usize) -> Canvas {
    let mut canvas = Canvas::new(Catalog::builtin(), id, id);
    let ops: Vec<Op> = (0..shots)
        .map(|i| Op::add_node(&format!("s{i}"), "shot", json!({"number": i + 1})))
        .collect();
    canvas.apply(ops).expect("shots apply");
    store.create(&canvas.to_document()).await.expect("create");
    canvas
}

/// Moves node `s{n % shots}` and saves the delta.
async fn move_and_save(store: &SqliteStore, canvas: &mut Canvas, n: usize) {
    let before = canvas.revision();
    let id = format!("s{}", n % canvas.node_count());
    let (_, delta) = canvas
        .apply_recorded(vec![Op::MoveNode {
            id,
            position: Position::new(n as f64, 1.0),
        }])
        .expect("applies");
    store
        .save_delta(canvas, &delta.expect("a change"), before)
        .await
        .expect("saves");
}

/// `(revision, whole)` of every stored version of canvas `id`.
fn rows(path: &Path, id: &str) -> Vec<(i64, bool)> {
    Connection::open(path)
        .expect("raw connection")
        .prepare("SELECT revision, document IS NOT NULL FROM versions WHERE canvas_id = ?1 ORDER BY revision")
        .expect("prepare")
        .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
}

#[tokio::test]
async fn edits_are_deltas_between_snapshots_and_read_back_after_reopening() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("canvases.db");
    let store = SqliteStore::open(&path).expect("opens");
    let mut canvas = stored(&store, "film", 40).await;
    for n in 0..250 {
        move_and_save(&store, &mut canvas, n).await;
    }
    let rows = rows(&path, "film");
    assert_eq!(rows.len(), 251);
    let snapshots: Vec<i64> = rows.iter().filter(|r| r.1).map(|r| r.0).collect();
    assert_eq!(snapshots[0], 1, "the canvas as created is whole");
    assert!(
        snapshots.len() >= 3 && snapshots.len() < 125,
        "mostly deltas, a snapshot every 100 at most: {snapshots:?}"
    );
    let longest = snapshots
        .windows(2)
        .map(|w| w[1] - w[0] - 1)
        .chain(std::iter::once(251 - snapshots[snapshots.len() - 1]))
        .max();
    assert!(longest <= Some(100), "{snapshots:?}");

    drop(store);
    let store = SqliteStore::open(&path).expect("opens again");
    assert_eq!(
        store.get("film").await.expect("current"),
        canvas.to_document()
    );
}

#[tokio::test]
async fn a_large_delta_of_a_small_canvas_is_saved_whole() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("canvases.db");
    let store = SqliteStore::open(&path).expect("opens");
    let mut canvas = stored(&store, "tiny", 1).await;
    let before = canvas.revision();
    let (_, delta) = canvas
        .apply_recorded(vec![Op::set_properties(
            "s0",
            json!({"prompt": "rain ".repeat(400)}),
        )])
        .expect("applies");
    store
        .save_delta(&canvas, &delta.expect("a change"), before)
        .await
        .expect("saves");
    assert_eq!(rows(&path, "tiny"), [(1, true), (2, true)]);
    assert_eq!(
        store.get("tiny").await.expect("current"),
        canvas.to_document()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_saves_of_many_canvases_commit_together_and_a_stale_one_alone_fails() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(SqliteStore::open(dir.path().join("canvases.db")).expect("opens"));
    let mut tasks = Vec::new();
    for c in 0..32 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut canvas = stored(&store, &format!("c{c}"), 10).await;
            for n in 0..20 {
                move_and_save(&store, &mut canvas, n).await;
                if n % 5 == 0 {
                    // A writer that lost the race: refused, nothing written.
                    let mut stale = Canvas::from_document(Catalog::builtin(), canvas.to_document())
                        .expect("loads");
                    let (_, delta) = stale
                        .apply_recorded(vec![Op::RemoveNode { id: "s0".into() }])
                        .expect("applies");
                    let err = store
                        .save_delta(&stale, &delta.expect("a change"), canvas.revision() - 1)
                        .await
                        .expect_err("stale");
                    assert_eq!(err.code(), "conflict");
                }
            }
            canvas
        }));
    }
    for task in tasks {
        let canvas = task.await.expect("the task finishes");
        assert_eq!(
            store.get(canvas.id()).await.expect("current"),
            canvas.to_document()
        );
        assert_eq!(store.history(canvas.id()).await.expect("history").len(), 21);
    }
}

#[tokio::test]
async fn a_damaged_delta_is_a_corrupt_document_naming_its_revision() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("canvases.db");
    let store = SqliteStore::open(&path).expect("opens");
    let mut canvas = stored(&store, "film", 10).await;
    for n in 0..3 {
        move_and_save(&store, &mut canvas, n).await;
    }
    Connection::open(&path)
        .expect("raw connection")
        .execute(
            "UPDATE versions SET delta = '{\"revision\": 3}' WHERE canvas_id = 'film' AND revision = 3",
            [],
        )
        .expect("damage");
    let err = store.get("film").await.expect_err("damaged");
    assert_eq!(err.code(), "corrupt_document");
    assert!(err.to_string().contains("revision 3"), "{err}");
    assert_eq!(
        store
            .get_revision("film", 2)
            .await
            .expect("before the damage")
            .revision,
        2
    );
}
