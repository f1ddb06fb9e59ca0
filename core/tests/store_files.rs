//! The file store beyond the conformance suite: ids as file names, damaged
//! and foreign files, storage errors, size limits, and reopening.

#[path = "support/documents.rs"]
mod documents;

use documents::doc;
use std::path::{Path, PathBuf};

use reelgraph::CanvasDocument;
use reelgraph::store::{CanvasStore, FileStore, ListQuery, MAX_DOCUMENT_BYTES};
use serde_json::json;

fn open() -> (tempfile::TempDir, FileStore) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = FileStore::open(dir.path()).expect("open");
    (dir, store)
}

/// The current version file of a canvas whose id is a plain lowercase word
/// (its directory name is the id itself; see the `FileStore` layout).
fn current_file(root: &Path, id: &str, revision: u64) -> PathBuf {
    root.join("canvases")
        .join(id)
        .join("versions")
        .join(format!("{revision:020}.json"))
}

fn index_file(root: &Path, id: &str) -> PathBuf {
    root.join("canvases").join(id).join("index.json")
}

async fn all_ids(store: &FileStore) -> Vec<String> {
    let page = store.list(&ListQuery::first(1000)).await.expect("list");
    page.items.into_iter().map(|s| s.id).collect()
}

#[tokio::test]
async fn any_valid_id_round_trips_through_a_safe_file_name() {
    let (dir, store) = open();
    let long_ascii = "A".repeat(128);
    let long_utf8 = "é".repeat(64);
    let mut ids = vec![
        "teaser",
        "Teaser",
        "act 1/scene 2",
        "..",
        "~abc",
        "%41",
        "CON",
        "a\\b:c*d?e\"f<g>h|i",
        "🎬 final cut",
        long_ascii.as_str(),
        long_utf8.as_str(),
    ];
    for id in &ids {
        store.create(&doc(id, id, 1)).await.expect(id);
    }
    for id in &ids {
        assert_eq!(&store.get(id).await.expect(id).id, id);
    }
    ids.sort_unstable();
    assert_eq!(all_ids(&store).await, ids, "listed in id order");

    for entry in std::fs::read_dir(dir.path().join("canvases")).expect("read dir") {
        let name = entry
            .expect("entry")
            .file_name()
            .into_string()
            .expect("ASCII");
        assert!(
            name.len() <= 206,
            "{name} is too long for some file systems"
        );
        assert!(
            name.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_%~".contains(&b)),
            "{name} has a byte some file systems refuse"
        );
    }
    assert!(
        dir.path().join("canvases").join("teaser").is_dir(),
        "simple ids stay readable"
    );
}

#[tokio::test]
async fn ids_that_cannot_exist_are_not_found() {
    let (_dir, store) = open();
    for id in ["", " padded ", "line\nbreak"] {
        assert_eq!(store.get(id).await.expect_err("get").code(), "not_found");
        assert_eq!(
            store.history(id).await.expect_err("history").code(),
            "not_found"
        );
        assert_eq!(
            store.delete(id, None).await.expect_err("delete").code(),
            "not_found"
        );
    }
    let mut bad = doc("x", "x", 0);
    bad.id = "a\u{7}b".into();
    assert_eq!(
        store.create(&bad).await.expect_err("bad id").code(),
        "invalid_id"
    );
}

/// Replaces the current version file of canvas `id` with `bytes` and
/// returns its path.
async fn damage(store: &FileStore, root: &Path, id: &str, bytes: &[u8]) -> PathBuf {
    store.create(&doc(id, id, 2)).await.expect("create");
    let path = current_file(root, id, 0);
    assert!(path.exists(), "{} exists", path.display());
    std::fs::write(&path, bytes).expect("damage");
    path
}

#[track_caller]
fn assert_names(err: &reelgraph::Error, path: &Path) {
    let path = path.display().to_string();
    assert!(
        err.to_string().contains(&path),
        "the error names {path}: {err}"
    );
    assert_eq!(err.details()["location"], json!(path));
}

#[tokio::test]
async fn a_truncated_file_is_corrupt_and_the_error_names_it() {
    let (dir, store) = open();
    let full = serde_json::to_string(&doc("cut", "cut", 2)).expect("json");
    let path = damage(
        &store,
        dir.path(),
        "cut",
        &full.as_bytes()[..full.len() / 2],
    )
    .await;
    let err = store.get("cut").await.expect_err("truncated");
    assert_eq!(err.code(), "corrupt_document");
    assert_names(&err, &path);
    assert!(!err.hint().is_empty());
}

#[tokio::test]
async fn invalid_utf8_is_corrupt_and_the_error_names_the_file() {
    let (dir, store) = open();
    let path = damage(
        &store,
        dir.path(),
        "bytes",
        b"{\"format\": \"reelgraph.canvas\", \"name\": \"\xff\xfe\"}",
    )
    .await;
    let err = store.get("bytes").await.expect_err("not UTF-8");
    assert_eq!(err.code(), "corrupt_document");
    assert_names(&err, &path);
    assert!(err.to_string().contains("UTF-8"), "{err}");
}

#[tokio::test]
async fn a_file_of_another_format_is_wrong_format() {
    let (dir, store) = open();
    damage(
        &store,
        dir.path(),
        "flow",
        br#"{"nodes": [], "edges": [], "viewport": {"x": 0, "y": 0, "zoom": 1}}"#,
    )
    .await;
    let err = store.get("flow").await.expect_err("React Flow JSON");
    assert_eq!(err.code(), "wrong_format");
}

#[tokio::test]
async fn a_newer_format_version_is_refused_not_half_read() {
    let (dir, store) = open();
    let mut newer = serde_json::to_value(doc("next", "next", 1)).expect("json");
    newer["format_version"] = json!(99);
    newer["nodes_v99"] = json!([]);
    damage(&store, dir.path(), "next", newer.to_string().as_bytes()).await;
    let err = store.get("next").await.expect_err("newer");
    assert_eq!(err.code(), "unsupported_format_version");
    assert_eq!(err.details()["found"], json!(99));
}

#[tokio::test]
async fn one_corrupt_canvas_does_not_hide_the_others() {
    let (dir, store) = open();
    for id in ["a-good", "c-good"] {
        store.create(&doc(id, id, 1)).await.expect("create");
    }
    // A damaged document: still listed (its index is sound), fails to load.
    let doc_path = damage(&store, dir.path(), "b-bad-doc", b"{\"format\": ").await;
    // A damaged index: not listed, fails to load, naming the index.
    store
        .create(&doc("d-bad-index", "d", 1))
        .await
        .expect("create");
    let index = index_file(dir.path(), "d-bad-index");
    std::fs::write(&index, b"[1, 2").expect("damage the index");

    assert_eq!(all_ids(&store).await, ["a-good", "b-bad-doc", "c-good"]);
    for id in ["a-good", "c-good"] {
        assert_eq!(store.get(id).await.expect(id).id, id);
    }
    let err = store.get("b-bad-doc").await.expect_err("bad doc");
    assert_eq!(err.code(), "corrupt_document");
    assert_names(&err, &doc_path);
    let err = store.get("d-bad-index").await.expect_err("bad index");
    assert_eq!(err.code(), "corrupt_document");
    assert_names(&err, &index);
    assert_eq!(
        store.history("d-bad-index").await.expect_err("bad").code(),
        "corrupt_document"
    );

    // The damaged canvas keeps its id until deleted; a delete without an
    // expected revision clears it.
    assert_eq!(
        store
            .create(&doc("d-bad-index", "d", 0))
            .await
            .expect_err("still there")
            .code(),
        "duplicate_id"
    );
    assert_eq!(
        store
            .delete("d-bad-index", Some(0))
            .await
            .expect_err("no revision to compare")
            .code(),
        "corrupt_document"
    );
    store.delete("d-bad-index", None).await.expect("delete");
    store
        .create(&doc("d-bad-index", "d", 0))
        .await
        .expect("recreate");
}

#[tokio::test]
async fn a_save_over_a_damaged_version_restores_the_canvas() {
    let (dir, store) = open();
    let path = damage(&store, dir.path(), "fix", b"garbage").await;
    assert_eq!(
        store.get("fix").await.expect_err("damaged").code(),
        "corrupt_document"
    );
    let mut repaired = doc("fix", "fix", 1);
    repaired.revision = 1;
    let info = store.save(&repaired, 0).await.expect("save over it");
    assert_eq!(info.summary, "replaces an unreadable version");
    assert_eq!(store.get("fix").await.expect("repaired"), repaired);
    assert!(path.exists(), "the damaged version stays in the history");
}

#[tokio::test]
async fn a_stray_file_is_not_a_canvas() {
    let (dir, store) = open();
    store.create(&doc("real", "Real", 0)).await.expect("create");
    let canvases = dir.path().join("canvases");
    std::fs::write(canvases.join(".DS_Store"), b"x").expect("stray");
    std::fs::create_dir(canvases.join("Not Encoded")).expect("stray dir");
    std::fs::write(canvases.join("real").join("notes.txt"), b"x").expect("stray");
    assert_eq!(all_ids(&store).await, ["real"]);
    assert_eq!(store.get("real").await.expect("get").name, "Real");
}

#[tokio::test]
async fn a_document_copied_to_the_wrong_place_is_corrupt() {
    let (dir, store) = open();
    store.create(&doc("one", "One", 0)).await.expect("create");
    store.create(&doc("two", "Two", 0)).await.expect("create");
    std::fs::copy(
        current_file(dir.path(), "one", 0),
        current_file(dir.path(), "two", 0),
    )
    .expect("copy");
    let err = store.get("two").await.expect_err("wrong canvas");
    assert_eq!(err.code(), "corrupt_document");
    assert!(err.to_string().contains("`one`"), "{err}");
}

/// The 50 MB round trip is in the conformance suite; here, what only the
/// file store promises about it: the listed size is the size of the file.
#[tokio::test]
async fn the_listed_size_of_a_fifty_megabyte_document_is_its_file_size() {
    let (dir, store) = open();
    let mut big = doc("big", "Big", 3);
    big.metadata.insert(
        "notes".into(),
        json!("frame notes ".repeat(50_000_000 / 12)),
    );
    store
        .create(&big)
        .await
        .expect("a 50 MB document is accepted");
    assert_eq!(
        store.list(&ListQuery::first(1)).await.expect("list").items[0].size_bytes,
        std::fs::metadata(current_file(dir.path(), "big", 0))
            .expect("file")
            .len()
    );
}

#[tokio::test]
async fn an_oversized_file_is_refused_before_it_is_read() {
    let (dir, store) = open();
    store.create(&doc("huge", "Huge", 0)).await.expect("create");
    // A sparse file: large on paper, nothing to read into memory.
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(current_file(dir.path(), "huge", 0))
        .expect("open");
    file.set_len(MAX_DOCUMENT_BYTES as u64 + 1).expect("grow");
    let err = store.get("huge").await.expect_err("too large");
    assert_eq!(err.code(), "too_large");
    assert_eq!(err.details()["limit"], json!(MAX_DOCUMENT_BYTES));
}

#[tokio::test]
async fn storage_errors_name_the_path_and_change_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let not_a_dir = dir.path().join("file");
    std::fs::write(&not_a_dir, b"x").expect("file");
    let err = FileStore::open(&not_a_dir).expect_err("a file is not a store");
    assert_eq!(err.code(), "storage");
    assert!(
        err.to_string().contains(&not_a_dir.display().to_string()),
        "{err}"
    );

    let store = FileStore::open(dir.path().join("store")).expect("open");
    store
        .create(&doc("stuck", "Stuck", 1))
        .await
        .expect("create");
    // The versions directory turned into a file: every write fails.
    let versions = dir.path().join("store/canvases/stuck/versions");
    std::fs::rename(&versions, dir.path().join("moved")).expect("move");
    std::fs::write(&versions, b"x").expect("block");
    let mut next = doc("stuck", "Stuck", 2);
    next.revision = 1;
    let err = store.save(&next, 0).await.expect_err("cannot write");
    assert_eq!(err.code(), "storage");
    assert!(err.to_string().contains("versions"), "{err}");
    assert_eq!(
        store.history("stuck").await.expect("history").len(),
        1,
        "the failed save is not in the history"
    );
}

#[tokio::test]
async fn a_store_from_a_newer_reelgraph_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    drop(FileStore::open(dir.path()).expect("open"));
    std::fs::write(
        dir.path().join("reelgraph-store.json"),
        br#"{"store": "reelgraph.files", "layout": 2}"#,
    )
    .expect("marker");
    let err = FileStore::open(dir.path()).expect_err("newer layout");
    assert_eq!(err.code(), "storage");
    assert!(err.to_string().contains("newer reelgraph"), "{err}");
}

#[tokio::test]
async fn canvases_and_history_survive_reopening() {
    let dir = tempfile::tempdir().expect("temp dir");
    let v0 = doc("keep", "Keep", 1);
    let mut v1 = doc("keep", "Kept", 2);
    v1.revision = 1;
    {
        let store = FileStore::open(dir.path()).expect("open");
        store.create(&v0).await.expect("create");
        store.save(&v1, 0).await.expect("save");
    }
    let store = FileStore::open(dir.path()).expect("reopen");
    assert_eq!(store.get("keep").await.expect("get"), v1);
    assert_eq!(store.get_revision("keep", 0).await.expect("v0"), v0);
    let history = store.history("keep").await.expect("history");
    assert_eq!(history[0].summary, "+1 node, renamed");
    let page = store
        .list(&ListQuery {
            name_prefix: Some("Kep".into()),
            ..ListQuery::default()
        })
        .await
        .expect("list");
    assert_eq!(page.items.len(), 1, "listed under its new name");
}

#[tokio::test]
async fn name_prefixes_are_literal() {
    let (_dir, store) = open();
    for (id, name) in [
        ("a", "100%"),
        ("b", "100x"),
        ("c", "a_b"),
        ("d", "axb"),
        ("e", "É"),
    ] {
        store.create(&doc(id, name, 0)).await.expect("create");
    }
    for (prefix, expected) in [
        ("100%", vec!["a"]),
        ("a_", vec!["c"]),
        ("É", vec!["e"]),
        ("", vec!["a", "b", "c", "d", "e"]),
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
async fn summaries_survive_a_lost_stale_or_damaged_fingerprint() {
    let (dir, store) = open();
    let fingerprint = dir
        .path()
        .join("canvases")
        .join("fp")
        .join("fingerprint.bin");
    store.create(&doc("fp", "Fp", 2)).await.expect("create");
    assert!(fingerprint.exists(), "a create keeps the fingerprint");

    // Lost: the previous document is read.
    std::fs::remove_file(&fingerprint).expect("lose it");
    let mut v1 = doc("fp", "Fp", 3);
    v1.revision = 1;
    assert_eq!(store.save(&v1, 0).await.expect("save").summary, "+1 node");
    assert!(fingerprint.exists(), "a save keeps the fingerprint");

    // Stale: the version file was edited by hand, keeping its size. Its
    // modification time tells, so the edited document is compared.
    let mut edited = v1.clone();
    edited.nodes[0].properties.insert("number".into(), json!(9));
    let path = current_file(dir.path(), "fp", 1);
    let text = serde_json::to_string(&edited).expect("json");
    assert_eq!(
        text.len() as u64,
        std::fs::metadata(&path).expect("stat").len()
    );
    // File times may be as coarse as a scheduler tick.
    std::thread::sleep(std::time::Duration::from_millis(50));
    std::fs::write(&path, text).expect("edit");
    let mut v2 = v1.clone();
    v2.revision = 2;
    assert_eq!(
        store.save(&v2, 1).await.expect("save").summary,
        "1 node changed",
        "compared with the edited version, not the saved one"
    );

    // Damaged: its checksum fails, so the previous document is read.
    let mut bytes = std::fs::read(&fingerprint).expect("read");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    std::fs::write(&fingerprint, bytes).expect("damage");
    let mut v3 = v2.clone();
    v3.revision = 3;
    v3.name = "Renamed".into();
    assert_eq!(store.save(&v3, 2).await.expect("save").summary, "renamed");

    // A fingerprint that another version left (a save that died before its
    // index was written) is not this version's.
    let kept = std::fs::read(&fingerprint).expect("read");
    let mut v4 = v3.clone();
    v4.revision = 4;
    v4.nodes.pop();
    store.save(&v4, 3).await.expect("save");
    std::fs::write(&fingerprint, kept).expect("an older fingerprint");
    let mut v5 = v4.clone();
    v5.revision = 5;
    assert_eq!(
        store.save(&v5, 4).await.expect("save").summary,
        "no content change"
    );
    let history: Vec<String> = store
        .history("fp")
        .await
        .expect("history")
        .into_iter()
        .map(|v| v.summary)
        .collect();
    assert_eq!(
        history,
        [
            "no content change",
            "-1 node",
            "renamed",
            "1 node changed",
            "+1 node",
            "created with 2 nodes, 0 edges"
        ]
    );
}

/// A document of about 1.4 MB, mostly nodes: large enough to be written and
/// read on two threads.
fn large(id: &str) -> CanvasDocument {
    let mut d = doc(id, "Large", 1);
    let template = d.nodes[0].clone();
    d.nodes = (0..6_000)
        .map(|i| {
            let mut n = template.clone();
            n.id = format!("shot-{i}");
            n.position.x = f64::from(i) * 1.5;
            n.properties.insert(
                "prompt".into(),
                json!(format!(
                    "a slow push-in on frame {i}, rain, neon, \"quoted\" words"
                )),
            );
            n
        })
        .collect();
    d
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_documents_load_as_one_thread_loads_them() {
    let (dir, store) = open();
    let big = large("large");
    let text = serde_json::to_string(&big).expect("json");
    assert!(text.len() > 1 << 20, "{} bytes", text.len());
    store.create(&big).await.expect("create");
    assert_eq!(
        std::fs::read_to_string(current_file(dir.path(), "large", 0)).expect("read"),
        text,
        "the file holds serde_json's bytes"
    );
    assert_eq!(store.get("large").await.expect("get"), big);
    assert_eq!(store.get_revision("large", 0).await.expect("v0"), big);

    // Damage in one node: the error is the one-thread parse's, naming the file.
    let path = current_file(dir.path(), "large", 0);
    let damaged = text.replacen("\"id\":\"shot-4000\"", "\"id\":4000", 1);
    std::fs::write(&path, &damaged).expect("damage");
    let err = store.get("large").await.expect_err("damaged");
    assert_eq!(err.code(), "corrupt_document");
    assert_names(&err, &path);
    let expected = CanvasDocument::from_json(&damaged).expect_err("invalid");
    assert!(
        err.to_string()
            .contains(&expected.to_string().replace("invalid JSON: ", "")),
        "{err} / {expected}"
    );

    // A large document of format version 1 is migrated as a small one is.
    let mut old: serde_json::Value = serde_json::from_str(&text).expect("json");
    old["format_version"] = json!(1);
    old["metadata"] = json!({"structure": "three_act"});
    let old = old.to_string();
    std::fs::write(&path, &old).expect("version 1");
    let loaded = store.get("large").await.expect("migrated");
    assert_eq!(loaded, CanvasDocument::from_json(&old).expect("migrates"));
    assert_eq!(loaded.format_version, 2);
    assert!(loaded.story.structure.is_some());
}
