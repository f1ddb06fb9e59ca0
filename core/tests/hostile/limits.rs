//! Hostile input: one set of limits (depth, finiteness, sizes) on every way
//! into a canvas, a writer that refuses what the reader would refuse, and
//! floats that read back bit-exactly.

use std::future::Future;
use std::sync::Arc;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use reelgraph::format::react_flow;
use reelgraph::model::{Node, Position, Viewport};
use reelgraph::store::{CanvasStore, FileStore, MAX_DOCUMENT_BYTES, MemoryStore, SqliteStore};
use reelgraph::validate::MAX_VALUE_DEPTH;
use reelgraph::{Canvas, CanvasDocument, Catalog, Op};
use serde_json::{Map, Value, json};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn block_on<F: Future>(f: F) -> F::Output {
    runtime().block_on(f)
}

/// A value nested `levels` deep: `[[...[1]...]]`.
fn nested(levels: usize) -> Value {
    (0..levels).fold(json!(1), |inner, _| json!([inner]))
}

fn shot(id: &str) -> Node {
    Node {
        id: id.into(),
        node_type: "shot".into(),
        type_version: 1,
        label: None,
        position: Position::default(),
        properties: Map::new(),
        ui: None,
    }
}

fn document(nodes: Vec<Node>) -> CanvasDocument {
    let mut doc = Canvas::new(Catalog::builtin(), "c", "C").to_document();
    doc.nodes = nodes;
    doc
}

fn restore(node: Node) -> Op {
    Op::RestoreNode { node, index: None }
}

/// A change that makes a document break one limit.
type Spoiler = Box<dyn Fn(&mut CanvasDocument)>;

// ---- every way in refuses the same things -------------------------------

#[test]
fn restore_node_keeps_the_limits_of_add_node() {
    let mut canvas = Canvas::new(Catalog::builtin(), "c", "C");
    let cases = [
        (
            Node {
                ui: Some(nested(MAX_VALUE_DEPTH + 1)),
                ..shot("deep_ui")
            },
            "invalid_field",
            "ui",
        ),
        (
            Node {
                position: Position::new(f64::NAN, 0.0),
                ..shot("nan")
            },
            "invalid_field",
            "position",
        ),
        (
            Node {
                label: Some("x".repeat(50_000)),
                ..shot("long_label")
            },
            "invalid_field",
            "label",
        ),
        (
            Node {
                properties: [("prompt".to_owned(), nested(120))].into_iter().collect(),
                ..shot("deep_prop")
            },
            "property_invalid",
            "prompt",
        ),
    ];
    for (node, code, field) in cases {
        let id = node.id.clone();
        let err = canvas.apply(vec![restore(node)]).expect_err(&id);
        assert_eq!(err.code(), code, "{id}: {err}");
        assert!(err.to_string().contains(field), "{id}: {err}");
        assert_eq!(canvas.node_count(), 0, "{id}: nothing applied");
    }
    // Within the limits it is restored.
    let fine = Node {
        ui: Some(nested(MAX_VALUE_DEPTH)),
        ..shot("fine")
    };
    canvas.apply(vec![restore(fine)]).expect("restore");
    assert_eq!(canvas.node_count(), 1);
}

#[test]
fn from_document_refuses_what_cannot_be_written_and_read_back() {
    let catalog = Catalog::builtin();
    let mut nan = shot("a");
    nan.position = Position::new(0.0, f64::NAN);
    let mut deep_ui = shot("b");
    deep_ui.ui = Some(nested(200));
    let mut deep_prop = shot("p");
    deep_prop
        .properties
        .insert("prompt".into(), nested(MAX_VALUE_DEPTH + 1));
    let mut long_label = shot("l");
    long_label.label = Some("é".repeat(600));
    for (node, expect) in [
        (nan, "node `a`"),
        (deep_ui, "node `b`"),
        (deep_prop, "node `p`"),
        (long_label, "node `l`"),
    ] {
        let err = Canvas::from_document(catalog.clone(), document(vec![node])).expect_err(expect);
        assert!(
            ["invalid_field", "property_invalid"].contains(&err.code()),
            "{err}"
        );
        assert!(err.to_string().contains(expect), "{err}");
    }

    let canvas_level: Vec<(&str, Spoiler)> = vec![
        ("viewport", Box::new(|d| d.viewport.zoom = f64::INFINITY)),
        ("viewport", Box::new(|d| d.viewport.zoom = 0.0)),
        ("viewport", Box::new(|d| d.viewport.zoom = -5.0)),
        ("viewport", Box::new(|d| d.viewport.x = f64::NEG_INFINITY)),
        (
            "metadata",
            Box::new(|d| {
                d.metadata.insert("deep".into(), nested(MAX_VALUE_DEPTH));
            }),
        ),
        ("name", Box::new(|d| d.name = "n".repeat(50_000_000))),
        ("created_at", Box::new(|d| d.created_at = "t".repeat(2_000))),
        ("story", Box::new(|d| d.story.page_count = Some(0))),
    ];
    for (field, spoil) in canvas_level {
        let mut doc = document(vec![]);
        spoil(&mut doc);
        let err = Canvas::from_document(catalog.clone(), doc).expect_err(field);
        assert_eq!(err.code(), "invalid_field", "{field}: {err}");
        assert_eq!(err.details()["field"], json!(field), "{err}");
    }

    let mut long_port = document(vec![shot("a"), shot("b")]);
    long_port.edges.push(reelgraph::Edge {
        id: "e".into(),
        source: reelgraph::PortRef::new("a", "p".repeat(10_000)),
        target: reelgraph::PortRef::new("b", "characters"),
    });
    let err = Canvas::from_document(catalog.clone(), long_port).expect_err("long port");
    assert_eq!(err.details()["field"], json!("port"), "{err}");
}

#[test]
fn a_new_canvas_refuses_an_id_or_name_that_no_store_could_save() {
    let catalog = Catalog::builtin();
    for id in ["", " film", "film\n", "a\u{7}b", &"x".repeat(129)] {
        let err = Canvas::try_new(catalog.clone(), id, "Film").expect_err(id);
        assert_eq!(err.code(), "invalid_id", "{id:?}: {err}");
    }
    let err = Canvas::try_new(catalog.clone(), "film", &"n".repeat(1_025)).expect_err("name");
    assert_eq!(err.code(), "invalid_field", "{err}");
    assert_eq!(err.details()["field"], json!("name"), "{err}");

    // What try_new accepts at the edge of the limits, every store takes and
    // reads back.
    let longest = "x".repeat(128);
    let canvas = Canvas::try_new(catalog.clone(), &longest, &"n".repeat(1_024)).expect("valid");
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, store) in stores(dir.path()) {
        block_on(store.create(&canvas.to_document())).expect(name);
        let back = block_on(store.get(&longest)).expect(name);
        assert_eq!(back, canvas.to_document(), "{name}");
    }

    // `new`, for ids written in the program, panics rather than make one.
    let panic = std::panic::catch_unwind(|| Canvas::new(Catalog::builtin(), "", "Film"))
        .expect_err("an empty id panics");
    let message = panic.downcast_ref::<String>().expect("a message");
    assert!(message.contains("try_new"), "{message}");
}

#[test]
fn loading_text_refuses_oversized_documents_and_says_what_non_objects_are() {
    let catalog = Catalog::builtin();
    let huge = " ".repeat(MAX_DOCUMENT_BYTES + 1);
    let err = Canvas::from_json(catalog.clone(), &huge).expect_err("huge");
    assert_eq!(err.code(), "too_large");

    for (text, found) in [
        ("[1, 2]", "a JSON array"),
        ("  \"canvas\"", "a JSON string"),
        ("42", "a JSON number"),
        ("null", "JSON null"),
    ] {
        let err = Canvas::from_json(catalog.clone(), text).expect_err(text);
        assert_eq!(err.code(), "invalid_json", "{text}: {err}");
        let message = err.to_string();
        assert!(message.contains(found), "{text}: {message}");
        assert!(message.contains("reelgraph.canvas"), "{message}");
        assert!(err.hint().contains("one JSON object"), "{}", err.hint());
    }
    // Broken JSON is the parser's to describe, whatever it starts with.
    for broken in ["", "[1, 2", "nul"] {
        let err = Canvas::from_json(catalog.clone(), broken).expect_err(broken);
        assert_eq!(err.code(), "invalid_json");
        assert!(err.to_string().starts_with("invalid JSON"), "{err}");
    }
}

#[test]
fn duplicate_keys_are_refused_at_every_depth_of_every_value() {
    let catalog = Catalog::builtin();
    let base = serde_json::to_string(&document(vec![])).expect("json");
    let with_node = |node: &str| base.replace("\"nodes\":[]", &format!("\"nodes\":[{node}]"));
    let cases = [
        with_node(
            r#"{"id":"s","type":"shot","type_version":1,"properties":{"prompt":"a","prompt":"b"}}"#,
        ),
        with_node(
            r#"{"id":"s","type":"shot","type_version":1,"properties":{"camera":{"lens":1,"lens":2}}}"#,
        ),
        with_node(r#"{"id":"s","type":"shot","type_version":1,"ui":{"a":[{"x":1,"x":1}]}}"#),
        base.replace("\"metadata\":{}", r#""metadata":{"k":1,"k":2}"#),
    ];
    for text in &cases {
        let err = Canvas::from_json(catalog.clone(), text).expect_err(text);
        assert_eq!(err.code(), "invalid_json", "{err}");
        assert!(err.to_string().contains("duplicate key"), "{err}");
    }
    for ops in [
        r#"{"op":"add_node","id":"s","type":"shot","properties":{"prompt":"a","prompt":"b"}}"#,
        r#"[{"op":"set_properties","id":"s","properties":{"prompt":"a","prompt":"b"}}]"#,
        r#"{"op":"set_ui","id":"s","ui":{"k":{"z":1,"z":2}}}"#,
        r#"{"op":"set_canvas","metadata":{"k":1,"k":1}}"#,
    ] {
        let err = Op::parse_list(ops).expect_err(ops);
        assert_eq!(err.code(), "invalid_json", "{err}");
        assert!(err.to_string().contains("duplicate key"), "{err}");
    }
    // Equal keys in different objects are fine.
    let ok =
        with_node(r#"{"id":"s","type":"shot","type_version":1,"ui":{"a":{"x":1},"b":{"x":1}}}"#);
    Canvas::from_json(catalog, &ok).expect("distinct objects");
}

// ---- stores acknowledge only what they can read back ---------------------

/// Each store with its name.
type Stores = Vec<(&'static str, Arc<dyn CanvasStore>)>;

fn stores(dir: &std::path::Path) -> Stores {
    vec![
        ("memory", Arc::new(MemoryStore::new())),
        (
            "files",
            Arc::new(FileStore::open(dir.join("files")).expect("file store")),
        ),
        (
            "sqlite",
            Arc::new(SqliteStore::open(dir.join("canvases.db")).expect("sqlite store")),
        ),
    ]
}

#[test]
fn every_store_refuses_a_document_its_reader_would_refuse_and_keeps_the_last_good_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spoilers: Vec<(&str, Spoiler)> = vec![
        (
            "infinite zoom",
            Box::new(|d| d.viewport.zoom = f64::INFINITY),
        ),
        (
            "NaN position",
            Box::new(|d| d.nodes[0].position.x = f64::NAN),
        ),
        (
            "deep metadata",
            Box::new(|d| {
                d.metadata.insert("m".into(), nested(130));
            }),
        ),
        ("deep ui", Box::new(|d| d.nodes[0].ui = Some(nested(127)))),
        (
            "deep property",
            Box::new(|d| {
                d.nodes[0].properties.insert("prompt".into(), nested(126));
            }),
        ),
        (
            "long label",
            Box::new(|d| d.nodes[0].label = Some("x".repeat(4096))),
        ),
    ];
    block_on(async {
        for (store_name, store) in stores(dir.path()) {
            let good = document(vec![shot("s")]);
            store.create(&good).await.expect("create");
            for (what, spoil) in &spoilers {
                let mut bad = good.clone();
                bad.revision += 1;
                spoil(&mut bad);
                let err = store
                    .save(&bad, good.revision)
                    .await
                    .expect_err(&format!("{store_name}: {what}"));
                assert!(
                    ["invalid_field", "property_invalid"].contains(&err.code()),
                    "{store_name}: {what}: {err}"
                );
                let mut created = bad.clone();
                created.id = "fresh".into();
                created.revision = 0;
                let err = store.create(&created).await.expect_err(what);
                assert!(
                    ["invalid_field", "property_invalid"].contains(&err.code()),
                    "{store_name}: create {what}: {err}"
                );
                assert_eq!(
                    store.get("c").await.expect("the good version reads back"),
                    good,
                    "{store_name}: {what}"
                );
                assert_eq!(
                    store.get("fresh").await.expect_err("never created").code(),
                    "not_found"
                );
            }
        }
    });
}

/// A document with every kind of number and nesting the limits allow, and
/// some they do not.
fn arbitrary_document() -> impl Strategy<Value = CanvasDocument> {
    let float = any::<f64>();
    let leaf = prop_oneof![
        float.prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        "[a-zé\"\\\\\u{1F600}\u{0}-\u{1f}]{0,12}".prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
    ];
    let value = (leaf, 0usize..40).prop_map(|(leaf, depth)| {
        (0..depth).fold(leaf, |inner, i| {
            if i % 2 == 0 {
                json!([inner])
            } else {
                json!({ "k": inner })
            }
        })
    });
    let node = (
        "[a-z]{1,8}",
        (float, float),
        proptest::option::of(value.clone()),
        proptest::collection::vec(("[a-z_]{1,6}", value.clone()), 0..4),
        proptest::option::of("[ -~]{0,40}"),
    )
        .prop_map(|(id, (x, y), ui, properties, label)| Node {
            id,
            node_type: "shot".into(),
            type_version: 1,
            label,
            position: Position::new(x, y),
            properties: properties.into_iter().collect(),
            ui,
        });
    (
        proptest::collection::vec(node, 0..6),
        (float, float, float),
        proptest::collection::vec(("[a-z]{1,4}", value), 0..3),
    )
        .prop_map(|(nodes, (x, y, zoom), metadata)| {
            let mut doc = document(Vec::new());
            let mut seen = std::collections::HashSet::new();
            doc.nodes = nodes
                .into_iter()
                .filter(|n| seen.insert(n.id.clone()))
                .collect();
            doc.viewport = Viewport { x, y, zoom };
            doc.metadata = metadata.into_iter().collect();
            doc
        })
}

/// Every store, in a folder that lives as long as the first value, and a
/// runtime to drive them from a property test.
fn stores_and_runtime() -> (tempfile::TempDir, Stores, tokio::runtime::Runtime) {
    let dir = tempfile::tempdir().expect("tempdir");
    let stores = stores(dir.path());
    (dir, stores, runtime())
}

/// The exact bytes, so `-0.0` and `0.0` (equal as numbers) differ.
fn text(doc: &CanvasDocument) -> String {
    serde_json::to_string(doc).expect("json")
}

#[test]
fn property_anything_a_store_acknowledges_reads_back_bit_for_bit() {
    let (_dir, stores, runtime) = stores_and_runtime();
    let mut runner = TestRunner::new(Config {
        cases: 96,
        ..Config::default()
    });
    let round = std::cell::Cell::new(0u32);
    runner
        .run(&arbitrary_document(), |mut doc| {
            round.set(round.get() + 1);
            doc.id = format!("c{}", round.get());
            let loads = Canvas::from_document(Catalog::builtin(), doc.clone());
            for (name, store) in &stores {
                let saved = runtime.block_on(store.create(&doc));
                // A store takes exactly what a canvas can be loaded from.
                prop_assert_eq!(saved.is_ok(), loads.is_ok(), "{}: {:?}", name, saved);
                if saved.is_ok() {
                    let back = runtime
                        .block_on(store.get(&doc.id))
                        .map_err(|e| TestCaseError::fail(format!("{name}: get: {e}")))?;
                    prop_assert_eq!(text(&back), text(&doc), "{}", name);
                }
            }
            if let Ok(canvas) = loads {
                let again = Canvas::from_json(Catalog::builtin(), &canvas.to_json())
                    .map_err(|e| TestCaseError::fail(format!("reload: {e}")))?;
                prop_assert_eq!(again.to_json(), canvas.to_json());
            }
            Ok(())
        })
        .expect("property");
}

#[test]
fn property_every_finite_f64_round_trips_through_every_store_and_format() {
    let (_dir, stores, runtime) = stores_and_runtime();
    let catalog = Catalog::builtin();
    // Random bit patterns cover subnormals, huge exponents and long mantissas.
    let float = any::<u64>()
        .prop_map(f64::from_bits)
        .prop_filter("finite", |f| f.is_finite());
    let mut runner = TestRunner::new(Config {
        cases: 64,
        ..Config::default()
    });
    let round = std::cell::Cell::new(0u32);
    runner
        .run(&proptest::collection::vec(float, 16), |floats: Vec<f64>| {
            round.set(round.get() + 1);
            let mut canvas = Canvas::new(catalog.clone(), &format!("f{}", round.get()), "floats");
            let ops: Vec<Op> = floats
                .chunks(4)
                .enumerate()
                .map(|(i, f)| {
                    let mut op = Op::add_node(
                        &format!("n{i}"),
                        "image_gen",
                        json!({"cfg_scale": 1.0 + f[2].abs() % 20.0}),
                    );
                    if let Op::AddNode { position, ui, .. } = &mut op {
                        *position = Position::new(f[0], f[1]);
                        *ui = Some(json!({"f": f[3]}));
                    }
                    op
                })
                .collect();
            canvas
                .apply(ops)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let doc = canvas.to_document();
            let bits = |d: &CanvasDocument| -> Vec<u64> {
                d.nodes
                    .iter()
                    .flat_map(|n| {
                        [
                            n.position.x,
                            n.position.y,
                            n.properties["cfg_scale"].as_f64().unwrap_or(f64::NAN),
                            n.ui.as_ref()
                                .and_then(|u| u["f"].as_f64())
                                .unwrap_or(f64::NAN),
                        ]
                    })
                    .map(f64::to_bits)
                    .collect()
            };
            let want = bits(&doc);

            let reread = CanvasDocument::from_json(&canvas.to_json())
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(bits(&reread), want.clone(), "native JSON");

            let flow = serde_json::to_string(&react_flow::export(&doc)).expect("flow");
            let imported = react_flow::import_json(&catalog, &flow)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(bits(&imported.canvas), want.clone(), "React Flow");

            for (name, store) in &stores {
                runtime
                    .block_on(store.create(&doc))
                    .map_err(|e| TestCaseError::fail(format!("{name}: {e}")))?;
                let back = runtime
                    .block_on(store.get(&doc.id))
                    .map_err(|e| TestCaseError::fail(format!("{name}: {e}")))?;
                prop_assert_eq!(bits(&back), want.clone(), "{}", name);
            }
            Ok(())
        })
        .expect("property");
}

#[test]
fn a_float_that_once_came_back_one_ulp_off_now_keeps_its_content_key() {
    let catalog = Catalog::builtin();
    let mut canvas = Canvas::new(catalog.clone(), "c", "C");
    canvas
        .apply(vec![Op::add_node(
            "img",
            "image_gen",
            json!({"cfg_scale": 21.971899945097178_f64}),
        )])
        .expect("add");
    let reloaded = Canvas::from_json(catalog, &canvas.to_json()).expect("reload");
    assert_eq!(
        reloaded.to_document().nodes[0].properties["cfg_scale"]
            .as_f64()
            .map(f64::to_bits),
        Some(21.971899945097178_f64.to_bits())
    );
    let plan = |c: &Canvas| {
        reelgraph::exec::Planner::new(
            c,
            reelgraph::exec::PlanOptions::all(reelgraph::Quality::Draft),
        )
        .expect("plan")
        .plan()
        .steps
        .iter()
        .map(|s| s.key)
        .collect::<Vec<_>>()
    };
    assert_eq!(plan(&reloaded), plan(&canvas));
}

#[test]
fn a_migration_may_not_set_a_value_deeper_than_a_load_accepts() {
    let catalog = Catalog::builtin();
    let deep = nested(MAX_VALUE_DEPTH + 1);
    let spec = json!({
        "type": "deep_migration", "version": 2, "category": "test", "title": "Deep",
        "properties": [{"name": "tag", "type": "text"}],
        "migrations": [{"from_version": 1, "set_defaults": {"tag": deep}}]
    });
    let err = catalog
        .register_json(&spec.to_string())
        .expect_err("deep set_defaults");
    assert_eq!(err.code(), "invalid_spec");
    assert!(err.to_string().contains("nested deeper"), "{err}");
}
