//! One conformance suite, run against every store: the semantics of
//! `CanvasStore` must not depend on where canvases are kept.

use std::sync::Arc;
use std::time::Duration;

use reelgraph::model::{Edge, Group, PortRef, StoryStructure};
use reelgraph::store::{
    CanvasStore, ListQuery, MAX_DOCUMENT_BYTES, MemoryStore, Prune, change_summary,
};
use reelgraph::{Canvas, CanvasDocument, Catalog, Op};
use serde_json::json;

/// A document with `n` shots at revision `revision`.
fn doc(id: &str, name: &str, shots: usize) -> CanvasDocument {
    let mut canvas = Canvas::new(Catalog::builtin(), id, name);
    if shots > 0 {
        let ops: Vec<Op> = (0..shots)
            .map(|i| Op::add_node(&format!("s{i}"), "shot", json!({"number": i + 1})))
            .collect();
        canvas.apply(ops).expect("shots apply");
    }
    canvas.to_document()
}

fn bump(mut d: CanvasDocument) -> CanvasDocument {
    d.revision += 1;
    d
}

pub async fn create_get_and_duplicate(store: &dyn CanvasStore) {
    let d = doc("c1", "First", 2);
    let info = store.create(&d).await.expect("create");
    assert_eq!(info.revision, d.revision);
    assert_eq!(store.get("c1").await.expect("get"), d);
    let err = store.create(&d).await.expect_err("second create");
    assert_eq!(err.code(), "duplicate_id");
    assert_eq!(
        store.get("missing").await.expect_err("missing").code(),
        "not_found"
    );
}

pub async fn save_checks_the_expected_revision(store: &dyn CanvasStore) {
    let d = doc("c2", "Second", 1);
    store.create(&d).await.expect("create");
    let v2 = bump(d.clone());
    store
        .save(&v2, d.revision)
        .await
        .expect("save on the current revision");
    let err = store
        .save(&bump(v2.clone()), d.revision)
        .await
        .expect_err("stale");
    assert_eq!(err.code(), "conflict");
    assert_eq!(
        err.details()["current"],
        json!(v2.revision),
        "the conflict names the current revision"
    );
    let err = store.save(&v2, v2.revision).await.expect_err("not above");
    assert_eq!(err.code(), "invalid_field");
    assert_eq!(
        store.get("c2").await.expect("get"),
        v2,
        "failed saves change nothing"
    );
    let err = store
        .save(&bump(doc("nope", "x", 0)), 0)
        .await
        .expect_err("missing");
    assert_eq!(err.code(), "not_found");
}

pub async fn two_writers_exactly_one_wins(store: Arc<dyn CanvasStore>) {
    let d = doc("race", "Race", 0);
    store.create(&d).await.expect("create");
    let mut tasks = Vec::new();
    for writer in 0..8 {
        let store = store.clone();
        let mut mine = bump(d.clone());
        mine.name = format!("writer {writer}");
        tasks.push(tokio::spawn(async move { store.save(&mine, 0).await }));
    }
    let mut wins = 0;
    for t in tasks {
        match t.await.expect("join") {
            Ok(_) => wins += 1,
            Err(e) => assert_eq!(e.code(), "conflict"),
        }
    }
    assert_eq!(wins, 1, "exactly one writer wins");
}

pub async fn revisions_and_history(store: &dyn CanvasStore) {
    let v1 = doc("h", "History", 1);
    store.create(&v1).await.expect("create");
    let mut v2 = bump(doc("h", "History", 3));
    v2.revision = v1.revision + 1;
    store.save(&v2, v1.revision).await.expect("save v2");
    let mut v3 = v2.clone();
    v3.revision += 1;
    v3.nodes.pop();
    store.save(&v3, v2.revision).await.expect("save v3");
    assert_eq!(store.get_revision("h", v1.revision).await.expect("v1"), v1);
    assert_eq!(store.get_revision("h", v2.revision).await.expect("v2"), v2);
    let history = store.history("h").await.expect("history");
    let revisions: Vec<u64> = history.iter().map(|v| v.revision).collect();
    assert_eq!(
        revisions,
        vec![v3.revision, v2.revision, v1.revision],
        "newest first"
    );
    assert_eq!(history[1].summary, "+2 nodes");
    assert_eq!(history[0].summary, "-1 node");
    assert!(
        history
            .iter()
            .all(|v| v.size_bytes > 0 && !v.saved_at.is_empty())
    );
    let err = store.get_revision("h", 999).await.expect_err("never saved");
    assert_eq!(err.code(), "not_found");

    assert_eq!(
        store.prune("h", Prune::KeepLast(2)).await.expect("prune"),
        1
    );
    assert_eq!(
        store
            .get_revision("h", v1.revision)
            .await
            .expect_err("pruned")
            .code(),
        "not_found"
    );
    assert_eq!(
        store
            .prune("h", Prune::OlderThan(Duration::ZERO))
            .await
            .expect("prune all old"),
        1
    );
    assert_eq!(
        store.history("h").await.expect("history").len(),
        1,
        "the current version stays"
    );
    assert_eq!(store.get("h").await.expect("current"), v3);
}

pub async fn list_pages_with_a_stable_order(store: &dyn CanvasStore) {
    for i in 0..25 {
        let name = if i % 2 == 0 {
            format!("Trailer {i}")
        } else {
            format!("Short {i}")
        };
        store
            .create(&doc(&format!("p{i:02}"), &name, 0))
            .await
            .expect("create");
    }
    let mut seen = Vec::new();
    let mut query = ListQuery::first(10);
    loop {
        let page = store.list(&query).await.expect("list");
        assert!(page.items.len() <= 10);
        seen.extend(page.items.iter().map(|s| s.id.clone()));
        match page.next_cursor {
            Some(cursor) => query.cursor = Some(cursor),
            None => break,
        }
    }
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(seen, sorted, "ids in order, none twice");
    assert_eq!(seen.iter().filter(|id| id.starts_with('p')).count(), 25);

    let trailers = store
        .list(&ListQuery {
            name_prefix: Some("Trailer".into()),
            limit: 1000,
            ..ListQuery::default()
        })
        .await
        .expect("filtered");
    assert_eq!(trailers.items.len(), 13);
    assert!(trailers.items.iter().all(|s| s.name.starts_with("Trailer")));
    assert!(trailers.next_cursor.is_none());
}

pub async fn delete_honours_the_revision(store: &dyn CanvasStore) {
    let d = doc("del", "Delete me", 0);
    store.create(&d).await.expect("create");
    let err = store
        .delete("del", Some(d.revision + 5))
        .await
        .expect_err("stale delete");
    assert_eq!(err.code(), "conflict");
    store.delete("del", Some(d.revision)).await.expect("delete");
    assert_eq!(
        store.get("del").await.expect_err("gone").code(),
        "not_found"
    );
    assert_eq!(
        store.history("del").await.expect_err("history gone").code(),
        "not_found"
    );
    assert_eq!(
        store.delete("del", None).await.expect_err("twice").code(),
        "not_found"
    );
    store.create(&d).await.expect("the id can be used again");
}

pub async fn a_fifty_megabyte_document_saves_and_loads(store: &dyn CanvasStore) {
    let mut big = doc("big", "Big", 3);
    big.metadata.insert(
        "notes".into(),
        json!("frame notes ".repeat(50_000_000 / 12)),
    );
    let info = store
        .create(&big)
        .await
        .expect("a 50 MB document is accepted");
    assert!(info.size_bytes > 50_000_000 && info.size_bytes < MAX_DOCUMENT_BYTES as u64);
    let loaded = store.get("big").await.expect("and loads");
    assert!(loaded == big, "the big document round-trips");
    drop(loaded);
    let created = big.revision;
    let mut next = big;
    next.revision += 1;
    let info = store.save(&next, created).await.expect("and saves again");
    assert_eq!(info.summary, "no content change");
    assert!(store.get_revision("big", created).await.is_ok());
}

pub async fn oversized_documents_are_refused(store: &dyn CanvasStore) {
    let mut d = doc("big", "Big", 0);
    d.metadata
        .insert("blob".into(), json!("x".repeat(MAX_DOCUMENT_BYTES)));
    let err = store.create(&d).await.expect_err("too large");
    assert_eq!(err.code(), "too_large");
    assert_eq!(
        store.get("big").await.expect_err("nothing stored").code(),
        "not_found"
    );
}

/// Every kind of change is worded in the history as `change_summary` words
/// it, on a small canvas and on one large enough to be fingerprinted on a
/// second thread.
pub async fn summaries_describe_each_change(store: &dyn CanvasStore) {
    type Change = fn(&mut CanvasDocument);
    let edge = |id: &str, from: &str, to: &str| Edge {
        id: id.into(),
        source: PortRef::new(from, "shot"),
        target: PortRef::new(to, "shot"),
    };
    let steps: Vec<(&str, Change)> = vec![
        ("1 node changed", |d| d.nodes[1].position.x += 5.0),
        ("+2 nodes", |d| {
            let mut extra = d.nodes[0].clone();
            extra.position.x = 0.0;
            extra.id = "x1".into();
            d.nodes.push(extra.clone());
            extra.id = "x2".into();
            d.nodes.insert(1, extra);
        }),
        ("no content change", |d| d.nodes.reverse()),
        ("no content change", |d| {
            d.nodes[0].position.x = -0.0;
            d.updated_at = "later".into();
        }),
        ("renamed, metadata changed", |d| {
            d.name = "Renamed".into();
            d.metadata
                .insert("note".into(), json!({"a": [1, 2.5, null]}));
        }),
        ("viewport moved", |d| d.viewport.zoom = 0.5),
        ("story changed", |d| {
            d.story.structure = Some(StoryStructure::SevenPoint)
        }),
        ("groups changed", |d| {
            d.groups.push(Group {
                id: "g1".into(),
                label: Some("Act one".into()),
                nodes: vec!["s0".into()],
                ui: None,
            });
        }),
        ("-1 node, 1 node changed", |d| {
            d.nodes.retain(|n| n.id != "x1");
            d.nodes[0].properties.insert("number".into(), json!(99));
        }),
        ("+2100 nodes", |d| {
            let template = d.nodes[0].clone();
            for i in 0..2100 {
                let mut n = template.clone();
                n.id = format!("big{i}");
                n.position.y = f64::from(i);
                d.nodes.push(n);
            }
        }),
        ("1 node changed", |d| {
            d.nodes[1000]
                .properties
                .insert("camera".into(), json!("close-up"));
        }),
        ("+1 node, -1 node", |d| {
            d.nodes[1500].id = "renumbered".into()
        }),
        ("-2100 nodes", |d| {
            d.nodes
                .retain(|n| !n.id.starts_with("big") && n.id != "renumbered")
        }),
    ];
    let mut current = doc("sum", "Summaries", 3);
    // Edges too: one added, then one removed.
    let info = store.create(&current).await.expect("create");
    assert_eq!(info.summary, "created with 3 nodes, 0 edges");
    let mut expected = vec![info.summary];
    let mut edges: Vec<(&str, CanvasDocument)> = Vec::new();
    let mut next = bump(current.clone());
    next.edges.push(edge("e1", "s0", "s1"));
    edges.push(("+1 edge", next.clone()));
    let mut next = bump(next);
    next.edges.clear();
    edges.push(("-1 edge", next));
    for (words, next) in edges {
        let info = store.save(&next, current.revision).await.expect("save");
        assert_eq!(info.summary, words);
        expected.push(info.summary);
        current = next;
    }
    for (words, change) in steps {
        let mut next = bump(current.clone());
        change(&mut next);
        let info = store.save(&next, current.revision).await.expect(words);
        assert_eq!(info.summary, words);
        assert_eq!(info.summary, change_summary(Some(&current), &next));
        expected.push(info.summary);
        current = next;
    }
    assert_eq!(store.get("sum").await.expect("current"), current);
    let history: Vec<String> = store
        .history("sum")
        .await
        .expect("history")
        .into_iter()
        .rev()
        .map(|v| v.summary)
        .collect();
    assert_eq!(history, expected);
}

/// Applies of every kind, each saved with `save_delta`: every version reads
/// back as the canvas was, with the size and summary of its document; a
/// stale revision is a conflict; pruning keeps what is left readable.
pub async fn deltas_save_every_version(store: &dyn CanvasStore) {
    let mut canvas = Canvas::new(Catalog::builtin(), "deltas", "Deltas");
    store.create(&canvas.to_document()).await.expect("create");
    let mut versions = vec![canvas.to_document()];
    let mut undo = Vec::new();
    for step in 0..260_usize {
        let before = canvas.revision();
        let (applied, delta) = canvas
            .apply_recorded(journal_ops(&canvas, step, &undo))
            .expect("the ops apply");
        undo = applied.inverse.into_vec();
        let delta = delta.expect("a change");
        let info = store
            .save_delta(&canvas, &delta, before)
            .await
            .expect("the delta saves");
        let doc = canvas.to_document();
        assert_eq!(info.revision, doc.revision);
        assert_eq!(
            info.size_bytes,
            canvas.to_json().len() as u64,
            "step {step}"
        );
        assert_eq!(
            info.summary,
            change_summary(versions.last(), &doc),
            "step {step}"
        );
        versions.push(doc);
    }
    assert_eq!(
        store.get("deltas").await.expect("current"),
        canvas.to_document()
    );
    for version in versions.iter().step_by(7) {
        assert_eq!(
            &store
                .get_revision("deltas", version.revision)
                .await
                .expect("a version"),
            version
        );
    }
    let history = store.history("deltas").await.expect("history");
    assert_eq!(history.len(), versions.len());
    let listed = store.list(&ListQuery::first(10)).await.expect("list");
    assert_eq!(
        listed.items[0].size_bytes,
        canvas.to_json().len() as u64,
        "the listing's size is the document's"
    );

    // Stale: a conflict naming the current revision, and nothing written.
    let current = canvas.revision();
    let mut stale = Canvas::from_document(Catalog::builtin(), canvas.to_document()).expect("loads");
    let (_, delta) = stale
        .apply_recorded(vec![Op::SetCanvas {
            name: Some("Stale".into()),
            viewport: None,
            story: None,
            metadata: None,
        }])
        .expect("applies");
    let err = store
        .save_delta(&stale, &delta.expect("a change"), current - 1)
        .await
        .expect_err("stale");
    assert_eq!(err.code(), "conflict");
    assert_eq!(err.details()["current"], json!(current));
    assert_eq!(
        store.get("deltas").await.expect("current"),
        canvas.to_document()
    );

    // Pruning leaves every kept version readable.
    store
        .prune("deltas", Prune::KeepLast(5))
        .await
        .expect("prune");
    let kept = store.history("deltas").await.expect("history");
    assert_eq!(kept.len(), 5);
    for info in kept {
        let version = &versions[usize::try_from(info.revision).expect("small")];
        assert_eq!(
            &store
                .get_revision("deltas", info.revision)
                .await
                .expect("a kept version"),
            version
        );
    }
}

/// The ops of step `step`: nodes added, moved, changed, connected,
/// disconnected, removed, groups and canvas settings; every ninth step
/// undoes the step before (nodes and edges put back in their places).
fn journal_ops(canvas: &Canvas, step: usize, undo: &[Op]) -> Vec<Op> {
    let nodes: Vec<reelgraph::Node> = canvas.nodes().collect();
    let pick = |i: usize| nodes.get(i % nodes.len().max(1)).map(|n| n.id.clone());
    let ops = match step % 9 {
        0 | 1 if nodes.len() < 40 => {
            let (shot, hero) = (format!("s{step}"), format!("c{step}"));
            vec![
                Op::add_node(&shot, "shot", json!({"number": step + 1})),
                Op::add_node(&hero, "character", json!({"name": format!("Hero {step}")})),
                Op::connect((hero.as_str(), "character"), (shot.as_str(), "characters")),
            ]
        }
        2 => pick(step).map_or_else(Vec::new, |id| {
            vec![Op::MoveNode {
                id,
                position: reelgraph::Position::new(step as f64, -(step as f64)),
            }]
        }),
        3 => nodes
            .iter()
            .find(|n| n.node_type == "shot")
            .map(|n| vec![Op::set_properties(&n.id, json!({"number": step + 1000}))])
            .unwrap_or_default(),
        4 => canvas
            .edges()
            .next()
            .map(|e| vec![Op::Disconnect { id: e.id }])
            .unwrap_or_default(),
        5 => pick(nodes.len() / 2)
            .map(|id| vec![Op::RemoveNode { id }])
            .unwrap_or_default(),
        6 => pick(step).map_or_else(Vec::new, |id| {
            vec![Op::AddGroup {
                id: format!("g{step}"),
                index: Some(0),
                label: Some(format!("Group {step}")),
                nodes: vec![id],
                ui: None,
            }]
        }),
        7 => vec![Op::SetCanvas {
            name: Some(format!("Deltas {step}")),
            viewport: None,
            story: None,
            metadata: Some(serde_json::Map::from_iter([(
                "step".to_owned(),
                json!(step),
            )])),
        }],
        8 => undo.to_vec(),
        _ => pick(step).map_or_else(Vec::new, |id| {
            vec![Op::SetLabel {
                id,
                label: Some(format!("label {step}")),
            }]
        }),
    };
    if ops.is_empty() {
        return vec![Op::SetCanvas {
            name: Some(format!("Deltas {step}")),
            viewport: None,
            story: None,
            metadata: None,
        }];
    }
    ops
}

/// Runs the whole suite against a fresh store from `make`.
#[macro_export]
macro_rules! conformance_suite {
    ($name:ident, $make:expr) => {
        mod $name {
            use super::*;

            #[tokio::test]
            async fn create_get_and_duplicate() {
                let s = $make;
                super::create_get_and_duplicate(&s).await;
            }
            #[tokio::test]
            async fn save_checks_the_expected_revision() {
                let s = $make;
                super::save_checks_the_expected_revision(&s).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn two_writers_exactly_one_wins() {
                let s: Arc<dyn CanvasStore> = Arc::new($make);
                super::two_writers_exactly_one_wins(s).await;
            }
            #[tokio::test]
            async fn revisions_and_history() {
                let s = $make;
                super::revisions_and_history(&s).await;
            }
            #[tokio::test]
            async fn list_pages_with_a_stable_order() {
                let s = $make;
                super::list_pages_with_a_stable_order(&s).await;
            }
            #[tokio::test]
            async fn delete_honours_the_revision() {
                let s = $make;
                super::delete_honours_the_revision(&s).await;
            }
            #[tokio::test]
            async fn a_fifty_megabyte_document_saves_and_loads() {
                let s = $make;
                super::a_fifty_megabyte_document_saves_and_loads(&s).await;
            }
            #[tokio::test]
            async fn oversized_documents_are_refused() {
                let s = $make;
                super::oversized_documents_are_refused(&s).await;
            }
            #[tokio::test]
            async fn deltas_save_every_version() {
                let s = $make;
                super::deltas_save_every_version(&s).await;
            }
            #[tokio::test]
            async fn summaries_describe_each_change() {
                let s = $make;
                super::summaries_describe_each_change(&s).await;
            }
        }
    };
}

conformance_suite!(memory, MemoryStore::new());
conformance_suite!(
    files,
    InTempDir::new(|dir| reelgraph::store::FileStore::open(dir))
);
#[cfg(feature = "sqlite")]
conformance_suite!(
    sqlite,
    InTempDir::new(|dir| reelgraph::store::SqliteStore::open(dir.join("canvases.db")))
);

/// A store opened in a fresh temporary directory, removed with the store.
struct InTempDir<S> {
    store: S,
    _dir: tempfile::TempDir,
}

impl<S> InTempDir<S> {
    fn new(open: impl FnOnce(&std::path::Path) -> reelgraph::Result<S>) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = open(dir.path()).expect("open the store");
        InTempDir { store, _dir: dir }
    }
}

#[async_trait::async_trait]
impl<S: CanvasStore> CanvasStore for InTempDir<S> {
    async fn create(
        &self,
        doc: &CanvasDocument,
    ) -> reelgraph::Result<reelgraph::store::VersionInfo> {
        self.store.create(doc).await
    }
    async fn get(&self, id: &str) -> reelgraph::Result<CanvasDocument> {
        self.store.get(id).await
    }
    async fn get_revision(&self, id: &str, revision: u64) -> reelgraph::Result<CanvasDocument> {
        self.store.get_revision(id, revision).await
    }
    async fn list(&self, query: &ListQuery) -> reelgraph::Result<reelgraph::store::Page> {
        self.store.list(query).await
    }
    async fn save(
        &self,
        doc: &CanvasDocument,
        expected_revision: u64,
    ) -> reelgraph::Result<reelgraph::store::VersionInfo> {
        self.store.save(doc, expected_revision).await
    }
    async fn save_delta(
        &self,
        canvas: &Canvas,
        delta: &reelgraph::Delta,
        expected_revision: u64,
    ) -> reelgraph::Result<reelgraph::store::VersionInfo> {
        self.store
            .save_delta(canvas, delta, expected_revision)
            .await
    }
    async fn delete(&self, id: &str, expected_revision: Option<u64>) -> reelgraph::Result<()> {
        self.store.delete(id, expected_revision).await
    }
    async fn history(&self, id: &str) -> reelgraph::Result<Vec<reelgraph::store::VersionInfo>> {
        self.store.history(id).await
    }
    async fn prune(&self, id: &str, policy: Prune) -> reelgraph::Result<usize> {
        self.store.prune(id, policy).await
    }
}
