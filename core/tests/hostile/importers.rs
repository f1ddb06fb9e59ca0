//! Hostile input: importers. Workflows that expand without end, shapes that
//! made an importer quadratic, ids that clash, wrong shapes, values nested so
//! deep that the document could not be read back, numbers that overflow, and
//! a bounded fuzz pass over both importers.

// In a test, a failed unwrap is a failed test with its reason printed.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use reelgraph::format::comfyui::{self, Import};
use reelgraph::format::react_flow;
use reelgraph::validate::MAX_VALUE_DEPTH;
use reelgraph::{Canvas, CanvasDocument, Catalog};
use serde_json::{Map, Value, json};

fn comfy(catalog: &Catalog, text: &str) -> Import {
    comfyui::import(catalog, text).unwrap_or_else(|e| panic!("{}: {e}", e.code()))
}

/// Nesting depth as the canvas counts it: a scalar is 0, `[1]` is 1.
fn depth(v: &Value) -> usize {
    match v {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// `levels` arrays and objects nested in turn around a number.
fn deep(levels: usize) -> Value {
    (0..levels).fold(json!(1), |v, i| {
        if i % 2 == 0 {
            json!([v])
        } else {
            json!({ "k": v })
        }
    })
}

/// Every value the canvas limits: property values and `ui` values at most
/// MAX_VALUE_DEPTH deep, and the metadata object too.
fn assert_within_depth(doc: &CanvasDocument) {
    for n in &doc.nodes {
        for (k, v) in &n.properties {
            assert!(depth(v) <= MAX_VALUE_DEPTH, "node {} property {k}", n.id);
        }
        if let Some(ui) = &n.ui {
            assert!(depth(ui) <= MAX_VALUE_DEPTH, "node {} ui", n.id);
        }
    }
    for g in &doc.groups {
        if let Some(ui) = &g.ui {
            assert!(depth(ui) <= MAX_VALUE_DEPTH, "group {} ui", g.id);
        }
    }
    let metadata = Value::Object(doc.metadata.clone());
    assert!(depth(&metadata) <= MAX_VALUE_DEPTH, "metadata");
}

/// The document reads back as itself, and loads as a canvas.
fn assert_reads_back(catalog: &Catalog, doc: &CanvasDocument) {
    let text = serde_json::to_string(doc).unwrap();
    let back = CanvasDocument::from_json(&text).unwrap_or_else(|e| panic!("reads back: {e}"));
    assert_eq!(&back, doc);
    Canvas::from_document(catalog.clone(), doc.clone()).unwrap();
}

fn assert_finite(doc: &CanvasDocument) {
    for n in &doc.nodes {
        assert!(
            n.position.x.is_finite() && n.position.y.is_finite(),
            "node {} at {:?}",
            n.id,
            n.position
        );
    }
    let v = doc.viewport;
    assert!(
        v.x.is_finite() && v.y.is_finite() && v.zoom.is_finite(),
        "{v:?}"
    );
}

// ---------------------------------------------------------------------------
// ComfyUI: subgraph bombs

/// A subgraph definition `name` with the given nodes and links.
fn definition(id: &str, name: &str, nodes: Vec<Value>, links: Vec<Value>) -> Value {
    let mut def = json!({"id": id, "name": name, "inputs": [], "outputs": [], "groups": []});
    def["nodes"] = Value::Array(nodes);
    def["links"] = Value::Array(links);
    def
}

/// Definitions `Bomb 1..=levels`, each instantiating the previous one 8 times;
/// `Bomb 0` holds `leaf`.
fn bomb_definitions(levels: usize, leaf: Vec<Value>, leaf_links: Vec<Value>) -> Vec<Value> {
    let mut defs = vec![definition("bomb-0", "Bomb 0", leaf, leaf_links)];
    for k in 1..=levels {
        let nodes = (1..=8)
            .map(|i| json!({"id": i, "type": format!("bomb-{}", k - 1), "pos": [i * 10, 0]}))
            .collect();
        defs.push(definition(
            &format!("bomb-{k}"),
            &format!("Bomb {k}"),
            nodes,
            vec![],
        ));
    }
    defs
}

#[test]
fn comfyui_subgraph_bomb_stops_at_the_node_cap() {
    // Bomb 7 expands to 8^7 = 2,097,152 nodes; Bomb 3 to 512.
    let defs = bomb_definitions(
        7,
        vec![json!({"id": 1, "type": "Leaf", "pos": [0, 0], "widgets_values": [1]})],
        vec![],
    );
    let wf = json!({
        "version": 0.4,
        "nodes": [
            {"id": 1, "type": "bomb-7", "pos": [0, 0]},
            {"id": 2, "type": "bomb-3", "pos": [0, 500]},
            {"id": 3, "type": "SaveImage", "pos": [0, 900]},
        ],
        "links": [],
        "definitions": {"subgraphs": defs},
    });
    let text = wf.to_string();
    assert!(text.len() < 4096, "{}", text.len());
    let catalog = Catalog::empty();
    let import = comfy(&catalog, &text);
    let doc = &import.canvas;
    assert!(
        doc.nodes.len() <= comfyui::MAX_EXPANDED_NODES + 3,
        "{}",
        doc.nodes.len()
    );
    // What fits is expanded; the bomb is left out whole, and said so.
    assert_eq!(doc.nodes.len(), 512 + 1);
    assert!(doc.nodes.iter().any(|n| n.id == "3"));
    assert!(doc.nodes.iter().any(|n| n.id == "2:8:8:8:1"));
    let refused: Vec<_> = import
        .diagnostics
        .iter()
        .filter(|d| d.code == "too_large")
        .collect();
    assert_eq!(refused.len(), 1, "{:#?}", import.diagnostics);
    assert!(
        refused[0].message.contains("Bomb 7"),
        "{}",
        refused[0].message
    );
    assert_eq!(refused[0].node.as_deref(), Some("1"));
    assert!(!refused[0].hint.is_empty());
    assert_reads_back(&catalog, doc);
}

#[test]
fn comfyui_subgraph_bomb_of_links_and_widget_values_is_bounded() {
    // Each leaf has 2,000 widget values and 1,000 links to nowhere; Bomb 4
    // has 4,096 leaves: 8 million values copied and 4 million dangling-link
    // diagnostics if expanded.
    let values: Vec<Value> = (0..2_000).map(|i| json!(i)).collect();
    let links: Vec<Value> = (0..1_000)
        .map(|i| json!([i + 1, 1, 0, 99, 0, "IMAGE"]))
        .collect();
    let defs = bomb_definitions(
        4,
        vec![json!({"id": 1, "type": "Leaf", "pos": [0, 0], "widgets_values": values})],
        links,
    );
    let wf = json!({
        "version": 0.4,
        "nodes": [{"id": 1, "type": "bomb-4", "pos": [0, 0]}],
        "links": [],
        "definitions": {"subgraphs": defs},
    });
    let catalog = Catalog::empty();
    let import = comfy(&catalog, &wf.to_string());
    let values: usize = import.canvas.nodes.iter().map(|n| n.properties.len()).sum();
    assert!(
        values <= comfyui::MAX_EXPANDED_WORK,
        "{values} widget values"
    );
    assert!(
        import.diagnostics.len() <= 10_000,
        "{} diagnostics",
        import.diagnostics.len()
    );
    let refused = import
        .diagnostics
        .iter()
        .find(|d| d.code == "too_large")
        .unwrap_or_else(|| panic!("{:#?}", &import.diagnostics[..10]));
    assert!(refused.message.contains("Bomb 4"), "{}", refused.message);
}

// ---------------------------------------------------------------------------
// Shapes that were quadratic

#[test]
fn comfyui_node_with_40000_widget_values_imports_every_value() {
    let values: Vec<Value> = (0..40_000).map(|i| json!(format!("v{i}"))).collect();
    let wf = json!({
        "version": 0.4,
        "nodes": [{"id": 1, "type": "ManyWidgets", "pos": [0, 0], "widgets_values": values}],
        "links": [],
    });
    let catalog = Catalog::empty();
    let import = comfy(&catalog, &wf.to_string());
    let node = &import.canvas.nodes[0];
    let ui = &node.ui.as_ref().unwrap()["comfyui"];
    let names = ui["widgets"].as_array().unwrap();
    assert_eq!(names.len(), 40_000);
    // Every value is kept, as a property or in ui (a type takes only so many
    // properties), under its name and in order.
    let unmatched = ui.get("unmatched_widgets").and_then(Value::as_object);
    for (i, name) in names.iter().enumerate() {
        let name = name.as_str().unwrap();
        let value = node
            .properties
            .get(name)
            .or_else(|| unmatched.and_then(|u| u.get(name)))
            .unwrap_or_else(|| panic!("widget {i} ({name}) is lost"));
        assert_eq!(value, &json!(format!("v{i}")));
    }
    let canvas = Canvas::from_document(catalog, import.canvas).unwrap();
    let api = comfyui::export_api_prompt(&canvas);
    assert_eq!(api.prompt["1"]["inputs"].as_object().unwrap().len(), 40_000);
}

#[test]
fn comfyui_many_repeated_names_and_groups_import() {
    // 5,000 inputs of one name, 5,000 groups of one id, 5,000 links into one
    // slot, a 5,000-reroute chain fanning out to 2,000 nodes.
    let inputs: Vec<Value> = (0..5_000)
        .map(|_| json!({"name": "image", "type": "IMAGE", "link": null}))
        .collect();
    let mut nodes = vec![
        json!({"id": 1, "type": "Many", "pos": [0, 0], "inputs": inputs,
               "outputs": [{"name": "IMAGE", "type": "IMAGE"}]}),
    ];
    let mut links = Vec::new();
    let reroutes = 5_000;
    for r in 0..reroutes {
        let id = 10 + r;
        nodes.push(json!({"id": id, "type": "Reroute", "pos": [r, 0],
                          "inputs": [{"name": "", "type": "*"}],
                          "outputs": [{"name": "", "type": "*"}]}));
        let from = if r == 0 { 1 } else { id - 1 };
        links.push(json!([id, from, 0, id, 0, "IMAGE"]));
    }
    let last = 10 + reroutes - 1;
    for t in 0..2_000 {
        let id = 100_000 + t;
        nodes.push(json!({"id": id, "type": "Sink", "pos": [t, 100],
                          "inputs": [{"name": "image", "type": "IMAGE"}]}));
        links.push(json!([id, last, 0, id, 0, "IMAGE"]));
    }
    for l in 0..5_000 {
        links.push(json!([200_000 + l, 1, 0, 1, 0, "IMAGE"]));
    }
    let groups: Vec<Value> = (0..5_000)
        .map(|_| json!({"id": 1, "title": "g", "bounding": [-10, -10, 20, 20]}))
        .collect();
    let wf = json!({"version": 0.4, "nodes": nodes, "links": links, "groups": groups});
    let catalog = Catalog::empty();
    let import = comfy(&catalog, &wf.to_string());
    let doc = &import.canvas;
    assert_eq!(doc.nodes.len(), 1 + 2_000);
    let sinks = doc
        .edges
        .iter()
        .filter(|e| e.source.node == "1" && e.target.node != "1")
        .count();
    assert_eq!(sinks, 2_000);
    assert_eq!(doc.groups.len(), 5_000);
    assert_eq!(doc.groups[4_999].id, "group:1#5000");
    assert!(doc.groups.iter().all(|g| g.nodes == ["1"]));
    let ports = &catalog.get("Many").unwrap().inputs;
    assert_eq!(ports[1].name.as_ref(), "image#2");
    assert_reads_back(&catalog, doc);
}

#[test]
fn react_flow_20000_generated_edge_ids_are_unique_and_in_order() {
    let edges: Vec<Value> = (0..20_000)
        .map(|_| {
            json!({"source": "hero", "sourceHandle": "character",
                        "target": "s1", "targetHandle": "characters"})
        })
        .collect();
    let flow = json!({
        "nodes": [
            {"id": "hero", "type": "character", "position": {"x": 0, "y": 0}, "data": {}},
            {"id": "s1", "type": "shot", "position": {"x": 300, "y": 0}, "data": {}},
        ],
        "edges": edges,
    });
    let catalog = Catalog::builtin();
    let import = react_flow::import_json(&catalog, &flow.to_string()).unwrap();
    let ids: Vec<&str> = import.canvas.edges.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids.len(), 20_000);
    let base = "hero.character->s1.characters";
    assert_eq!(ids[0], base);
    for (i, id) in ids.iter().enumerate().skip(1) {
        assert_eq!(*id, format!("{base}#{}", i + 1));
    }
}

#[test]
fn react_flow_a_generated_id_never_takes_a_later_explicit_one() {
    let flow = json!({
        "nodes": [
            {"id": "hero", "type": "character", "position": {"x": 0, "y": 0}, "data": {}},
            {"id": "s1", "type": "shot", "position": {"x": 300, "y": 0}, "data": {}},
            {"id": "s2", "type": "shot", "position": {"x": 300, "y": 200}, "data": {}},
        ],
        "edges": [
            {"source": "hero", "sourceHandle": "character", "target": "s1", "targetHandle": "characters"},
            {"source": "hero", "sourceHandle": "character", "target": "s1", "targetHandle": "characters"},
            {"id": "hero.character->s1.characters", "source": "hero", "sourceHandle": "character",
             "target": "s2", "targetHandle": "characters", "animated": true},
            {"id": "hero.character->s1.characters#2", "source": "hero", "sourceHandle": "character",
             "target": "s2", "targetHandle": "characters"},
        ],
    });
    let catalog = Catalog::builtin();
    let import = react_flow::import_json(&catalog, &flow.to_string())
        .unwrap_or_else(|e| panic!("{}: {e}", e.code()));
    let ids: Vec<(&str, &str)> = import
        .canvas
        .edges
        .iter()
        .map(|e| (e.id.as_str(), e.target.node.as_str()))
        .collect();
    assert_eq!(
        ids,
        [
            ("hero.character->s1.characters#3", "s1"),
            ("hero.character->s1.characters#4", "s1"),
            ("hero.character->s1.characters", "s2"),
            ("hero.character->s1.characters#2", "s2"),
        ]
    );
    // Edge state stays with the explicit edge.
    let state = &import.canvas.metadata["react_flow"]["edges"];
    assert_eq!(state.as_object().unwrap().len(), 1);
    assert_eq!(state["hero.character->s1.characters"]["animated"], true);
}

#[test]
fn react_flow_generated_edge_ids_are_valid_ids() {
    // Node ids of 128 bytes make `source.port->target.port` too long for an id.
    let (a, b) = ("a".repeat(128), "b".repeat(128));
    let flow = json!({
        "nodes": [
            {"id": a, "type": "character", "position": {"x": 0, "y": 0}, "data": {}},
            {"id": b, "type": "shot", "position": {"x": 300, "y": 0}, "data": {}},
        ],
        "edges": [
            {"source": a, "sourceHandle": "character", "target": b, "targetHandle": "characters"},
            {"source": a, "sourceHandle": "character", "target": b, "targetHandle": "characters"},
        ],
    });
    let catalog = Catalog::builtin();
    let import = react_flow::import_json(&catalog, &flow.to_string())
        .unwrap_or_else(|e| panic!("{}: {e}", e.code()));
    let ids: Vec<&str> = import.canvas.edges.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids.len(), 2);
    assert_ne!(ids[0], ids[1]);
    for id in ids {
        reelgraph::model::check_id(id).unwrap();
    }
}

// ---------------------------------------------------------------------------
// ComfyUI: wrong shapes

#[test]
fn comfyui_wrong_shapes_name_the_field_and_what_was_found() {
    let catalog = Catalog::empty();
    for (text, field, found) in [
        ("[]", "document", "an array"),
        ("5", "document", "a number"),
        (r#""nodes""#, "document", "a string"),
        ("null", "document", "null"),
        ("{}", "nodes", "missing"),
        (r#"{"nodes": {}}"#, "nodes", "an object"),
        (r#"{"nodes": 5}"#, "nodes", "a number"),
        (r#"{"nodes": "x"}"#, "nodes", "a string"),
        (r#"{"nodes": null}"#, "nodes", "null"),
        (r#"{"nodes": true, "links": []}"#, "nodes", "a boolean"),
    ] {
        let err = comfyui::import(&catalog, text).unwrap_err();
        assert_eq!(err.code(), "wrong_format", "{text}");
        let message = err.to_string();
        assert!(message.contains(field), "{text}: {message}");
        assert!(message.contains(found), "{text}: {message}");
        assert!(message.contains("ComfyUI"), "{text}: {message}");
        assert!(!message.contains("reelgraph canvas"), "{text}: {message}");
        let hint = err.hint();
        assert!(hint.contains("ComfyUI"), "{text}: {hint}");
        assert!(err.details()["found"].is_string(), "{text}");
    }

    // Parts of a workflow in the wrong shape are skipped, and said so.
    for (text, field, found) in [
        (r#"{"nodes": [], "links": {"a": 1}}"#, "links", "an object"),
        (r#"{"nodes": [], "groups": "x"}"#, "groups", "a string"),
        (
            r#"{"nodes": [], "definitions": []}"#,
            "definitions",
            "an array",
        ),
        (
            r#"{"nodes": [], "definitions": {"subgraphs": 3}}"#,
            "definitions.subgraphs",
            "a number",
        ),
        (
            r#"{"nodes": [], "definitions": {"subgraphs": [{"id": "s", "nodes": {}}]}}"#,
            "nodes",
            "an object",
        ),
        (
            r#"{"nodes": [], "extra": {"ds": 4}}"#,
            "extra.ds",
            "a number",
        ),
    ] {
        let import = comfy(&catalog, text);
        let d = import
            .diagnostics
            .iter()
            .find(|d| d.code == "invalid_field")
            .unwrap_or_else(|| panic!("{text}: {:#?}", import.diagnostics));
        assert!(d.message.contains(field), "{text}: {}", d.message);
        assert!(d.message.contains(found), "{text}: {}", d.message);
        assert!(!d.hint.is_empty());
    }
}

// ---------------------------------------------------------------------------
// Nesting depth

#[test]
fn comfyui_deep_values_are_dropped_and_the_rest_imports() {
    for levels in [40, 120] {
        let wf = json!({
            "version": 0.4,
            "nodes": [
                {"id": 1, "type": "Deep", "pos": [0, 0], "size": [100, 100],
                 "widgets_values": ["kept", deep(levels)],
                 "properties": deep(levels), "flags": {"collapsed": false}},
                {"id": 2, "type": "sub", "pos": [0, 300], "widgets_values": [deep(levels)],
                 "inputs": [{"name": "v", "type": "INT", "widget": {"name": "v"}}],
                 "color": deep(levels)},
            ],
            "links": [],
            "groups": [{"id": 1, "title": "g", "bounding": [-10, -10, 500, 500],
                        "color": "#fff", "font": deep(levels)}],
            "definitions": {"subgraphs": [{
                "id": "sub", "name": "Sub", "inputs": [{"name": "v"}], "outputs": [],
                "nodes": [{"id": 1, "type": "Inner", "pos": [0, 0], "widgets_values": [deep(levels)],
                           "inputs": [{"name": "v", "type": "INT", "widget": {"name": "v"}, "link": 1}],
                           "extra": deep(levels)}],
                "links": [{"id": 1, "origin_id": -10, "origin_slot": 0, "target_id": 1,
                           "target_slot": 0, "type": "INT"}],
                "groups": [{"id": 1, "bounding": [0, 0, 10, 10], "deep": deep(levels)}],
            }]},
            "extra": {"ds": {"scale": 1, "offset": [0, 0]}, "deep": deep(levels)},
            "config": deep(levels),
        });
        let catalog = Catalog::empty();
        let import = comfy(&catalog, &wf.to_string());
        let doc = &import.canvas;
        assert_within_depth(doc);
        assert_reads_back(&catalog, doc);

        // What fits is kept.
        let n1 = doc.nodes.iter().find(|n| n.id == "1").unwrap();
        assert_eq!(n1.properties["widget_0"], "kept");
        assert_eq!(
            n1.ui.as_ref().unwrap()["comfyui"]["flags"],
            json!({"collapsed": false})
        );
        assert!(doc.nodes.iter().any(|n| n.id == "2:1"));
        assert_eq!(doc.metadata["comfyui"]["version"], json!(0.4));
        // What does not is named.
        let named = |node: &str, what: &str| {
            import.diagnostics.iter().any(|d| {
                d.node.as_deref() == Some(node)
                    && d.message.contains(what)
                    && matches!(d.code.as_str(), "property_invalid" | "invalid_field")
                    && d.severity == reelgraph::Severity::Warning
            })
        };
        assert!(
            named("1", "widget_1"),
            "{levels}: {:#?}",
            import.diagnostics
        );
        assert!(
            named("1", "properties"),
            "{levels}: {:#?}",
            import.diagnostics
        );
        assert!(named("2:1", "extra"), "{levels}: {:#?}", import.diagnostics);
        assert!(
            import
                .diagnostics
                .iter()
                .any(|d| d.code == "property_invalid" && d.property.as_deref() == Some("widget_1")),
            "{:#?}",
            import.diagnostics
        );
        assert!(
            import
                .diagnostics
                .iter()
                .any(|d| d.message.contains("config")),
            "{:#?}",
            import.diagnostics
        );
    }
}

#[test]
fn react_flow_deep_values_are_dropped_and_the_rest_imports() {
    for levels in [40, 120] {
        let flow = json!({
            "nodes": [
                {"id": "hero", "type": "character", "position": {"x": 0, "y": 0},
                 "data": {"label": "Mara", "properties": {"name": "Mara", "description": deep(levels)},
                          "mine": deep(levels), "also": 1},
                 "style": deep(levels), "width": 180},
                {"id": "s1", "type": "shot", "position": {"x": 300, "y": 0},
                 "data": {"ui": deep(levels)}},
            ],
            "edges": [
                {"id": "e1", "source": "hero", "sourceHandle": "character",
                 "target": "s1", "targetHandle": "characters", "data": deep(levels), "animated": true},
            ],
            "reelgraph": {
                "id": "deep", "name": "Deep",
                "groups": [{"id": "g", "nodes": ["hero"], "ui": deep(levels)}],
                "metadata": {"kept": 1, "deep": deep(levels)},
            },
        });
        let catalog = Catalog::builtin();
        let import = react_flow::import_json(&catalog, &flow.to_string())
            .unwrap_or_else(|e| panic!("{levels}: {}: {e}", e.code()));
        let doc = &import.canvas;
        assert_within_depth(doc);
        assert_reads_back(&catalog, doc);

        let hero = doc.nodes.iter().find(|n| n.id == "hero").unwrap();
        assert_eq!(hero.properties["name"], "Mara");
        assert_eq!(hero.ui.as_ref().unwrap()["width"], 180);
        assert_eq!(hero.ui.as_ref().unwrap()["data"]["also"], 1);
        assert_eq!(doc.metadata["kept"], 1);
        assert_eq!(doc.metadata["react_flow"]["edges"]["e1"]["animated"], true);
        assert_eq!(doc.edges.len(), 1);
        let named = |node: Option<&str>, what: &str| {
            import.diagnostics.iter().any(|d| {
                d.node.as_deref() == node
                    && d.message.contains(what)
                    && d.severity == reelgraph::Severity::Warning
            })
        };
        assert!(
            import
                .diagnostics
                .iter()
                .any(|d| d.code == "property_invalid"
                    && d.node.as_deref() == Some("hero")
                    && d.property.as_deref() == Some("description")),
            "{levels}: {:#?}",
            import.diagnostics
        );
        for (node, what) in [
            (Some("hero"), "style"),
            (Some("hero"), "mine"),
            (Some("s1"), "ui"),
            (None, "e1"),
            (None, "deep"),
            (None, "`g`"),
        ] {
            assert!(
                named(node, what),
                "{levels}: {node:?} {what}: {:#?}",
                import.diagnostics
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Numbers that overflow

#[test]
fn comfyui_huge_positions_and_sizes_stay_finite() {
    let wf = json!({
        "version": 0.4,
        "nodes": [
            {"id": 1, "type": "A", "pos": [1e308, -1e308], "size": [1e308, 1e308]},
            {"id": 2, "type": "sub", "pos": [1e308, -1e308], "size": [-1e308, 1e308]},
        ],
        "links": [],
        "groups": [{"id": 1, "bounding": [1e308, -1e308, 1e308, 1e308]}],
        "definitions": {"subgraphs": [{
            "id": "sub", "name": "Sub", "inputs": [], "outputs": [],
            "nodes": [
                {"id": 1, "type": "B", "pos": [-1e308, 1e308], "size": [1e308, 1e308]},
                {"id": 2, "type": "B", "pos": [1e308, -1e308]},
                {"id": 3, "type": "sub2", "pos": [1e308, 1e308]},
            ],
            "links": [],
        }, {
            "id": "sub2", "name": "Sub 2", "inputs": [], "outputs": [],
            "nodes": [
                {"id": 1, "type": "C", "pos": [-1e308, -1e308]},
                {"id": 2, "type": "C", "pos": [1e308, 1e308]},
            ],
            "links": [],
        }]},
        "extra": {"ds": {"scale": 4, "offset": [1e308, -1e308]}},
    });
    let catalog = Catalog::empty();
    let import = comfy(&catalog, &wf.to_string());
    let doc = &import.canvas;
    assert_eq!(doc.nodes.len(), 5, "{:#?}", import.diagnostics);
    assert_finite(doc);
    assert_reads_back(&catalog, doc);
}

#[test]
fn react_flow_huge_positions_stay_finite() {
    let flow = json!({
        "nodes": [
            {"id": "a", "type": "character", "position": {"x": 1e308, "y": -1e308},
             "width": 1e308, "height": -1e308, "data": {}},
            {"id": "b", "type": "shot", "position": {"x": -1e308, "y": 1e308}, "data": {}},
        ],
        "edges": [],
        "viewport": {"x": 1e308, "y": -1e308, "zoom": 2},
    });
    let catalog = Catalog::builtin();
    let import = react_flow::import_json(&catalog, &flow.to_string()).unwrap();
    assert_finite(&import.canvas);
    assert_reads_back(&catalog, &import.canvas);
}

// ---------------------------------------------------------------------------
// Bounded fuzzing

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/comfyui")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

const COMFYUI_FIXTURES: [&str; 8] = [
    "broken_link.json",
    "dangling_link.json",
    "duplicate_link_id.json",
    "reroute_chain.json",
    "subgraph.json",
    "v04_basic.json",
    "v1_links_objects.json",
    "widget_names.json",
];

fn react_flow_sample() -> String {
    json!({
        "nodes": [
            {"id": "hero", "type": "character", "position": {"x": 0, "y": 0},
             "data": {"label": "Mara", "type_version": 1, "properties": {"name": "Mara"}},
             "width": 180, "selected": true, "measured": {"width": 180, "height": 60}},
            {"id": "s1", "type": "shot", "position": {"x": 300, "y": 0},
             "data": {"properties": {"number": 1}, "ui": {"collapsed": true}}},
            {"id": "img", "type": "image_gen", "position": {"x": 600, "y": 0}, "data": {}},
            {"id": "x", "type": "no_such_type", "position": {"x": 0, "y": 200}, "data": {"extra": [1, 2]}},
        ],
        "edges": [
            {"id": "e1", "source": "hero", "sourceHandle": "character",
             "target": "s1", "targetHandle": "characters", "animated": true},
            {"source": "s1", "sourceHandle": "shot", "target": "img", "targetHandle": "shot"},
            {"source": "hero", "target": "img"},
        ],
        "viewport": {"x": 10, "y": 20, "zoom": 1.5},
        "reelgraph": {"id": "sample", "name": "Sample", "revision": 3,
                      "groups": [{"id": "g", "nodes": ["hero", "s1"], "label": "Cast"}],
                      "metadata": {"owner": "me"}},
    })
    .to_string()
}

/// One change to a document.
#[derive(Debug, Clone)]
enum Mutation {
    /// Cut the text at this fraction of its length.
    Truncate(f64),
    /// Replace the byte at this fraction of the text.
    FlipByte(f64, u8),
    /// Copy the value at one place over the value at another (by index of
    /// the values in document order).
    Duplicate(usize, usize),
    /// Wrap the value at this place in this many arrays or objects.
    Nest(usize, usize),
    /// Replace the value at this place with a huge or odd number.
    Number(usize, f64),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (0.0..1.0f64).prop_map(Mutation::Truncate),
        (0.0..1.0f64, any::<u8>()).prop_map(|(at, b)| Mutation::FlipByte(at, b)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Duplicate(a, b)),
        (any::<usize>(), 1..126usize).prop_map(|(a, n)| Mutation::Nest(a, n)),
        (
            any::<usize>(),
            prop_oneof![
                Just(1e308),
                Just(-1e308),
                Just(f64::MAX),
                Just(f64::MIN_POSITIVE),
                Just(-0.0),
                Just(9.007_199_254_740_993e15),
                Just(1.5),
                Just(-1.0),
            ],
        )
            .prop_map(|(a, n)| Mutation::Number(a, n)),
    ]
}

/// The values of a document, each by its path from the root.
fn places(v: &Value, at: &mut Vec<Key>, out: &mut Vec<Vec<Key>>) {
    out.push(at.clone());
    match v {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                at.push(Key::Index(i));
                places(item, at, out);
                at.pop();
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                at.push(Key::Name(k.clone()));
                places(item, at, out);
                at.pop();
            }
        }
        _ => {}
    }
}

#[derive(Debug, Clone)]
enum Key {
    Index(usize),
    Name(String),
}

fn at<'a>(v: &'a mut Value, path: &[Key]) -> &'a mut Value {
    path.iter().fold(v, |v, key| match (v, key) {
        (Value::Array(items), Key::Index(i)) => &mut items[*i],
        (Value::Object(map), Key::Name(k)) => map.get_mut(k).unwrap(),
        _ => unreachable!("paths come from the same value"),
    })
}

/// Applies the mutations in turn; structural ones to the text as JSON when it
/// still parses.
fn mutate(text: &str, mutations: &[Mutation]) -> String {
    let mut text = text.to_owned();
    for m in mutations {
        match m {
            Mutation::Truncate(f) => {
                let mut cut = (text.len() as f64 * f) as usize;
                while !text.is_char_boundary(cut) {
                    cut -= 1;
                }
                text.truncate(cut);
            }
            Mutation::FlipByte(f, b) => {
                let mut bytes = text.into_bytes();
                if !bytes.is_empty() {
                    let i = ((bytes.len() as f64 * f) as usize).min(bytes.len() - 1);
                    bytes[i] = *b;
                }
                text = String::from_utf8_lossy(&bytes).into_owned();
            }
            Mutation::Duplicate(..) | Mutation::Nest(..) | Mutation::Number(..) => {
                let Ok(mut v) = serde_json::from_str::<Value>(&text) else {
                    continue;
                };
                let mut all = Vec::new();
                places(&v, &mut Vec::new(), &mut all);
                match m {
                    Mutation::Duplicate(a, b) => {
                        let from = at(&mut v, &all[a % all.len()]).clone();
                        let to = &all[b % all.len()];
                        // Not into its own subtree: that would only grow it.
                        *at(&mut v, to) = from;
                    }
                    Mutation::Nest(a, n) => {
                        let slot = at(&mut v, &all[a % all.len()]);
                        let mut inner = slot.take();
                        for i in 0..*n {
                            inner = if i % 2 == 0 {
                                json!([inner])
                            } else {
                                Value::Object(Map::from_iter([("k".to_owned(), inner)]))
                            };
                        }
                        *slot = inner;
                    }
                    Mutation::Number(a, n) => {
                        *at(&mut v, &all[a % all.len()]) = json!(n);
                    }
                    _ => {}
                }
                text = v.to_string();
            }
        }
    }
    text
}

/// What every import must give: a result or a coded error, never a panic; a
/// result reads back as itself and loads, or is refused with a code.
fn check_document(catalog: &Catalog, doc: &CanvasDocument) -> Result<(), TestCaseError> {
    let text = serde_json::to_string(doc).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let back = CanvasDocument::from_json(&text)
        .map_err(|e| TestCaseError::fail(format!("does not read back: {e}")))?;
    prop_assert_eq!(&back, doc);
    if let Err(e) = Canvas::from_document(catalog.clone(), doc.clone()) {
        prop_assert!(!e.code().is_empty());
    }
    Ok(())
}

#[test]
fn fuzzed_documents_import_or_fail_with_a_code() {
    let comfy_inputs: Vec<String> = COMFYUI_FIXTURES.iter().map(|f| fixture(f)).collect();
    let flow_input = react_flow_sample();
    let mut runner = TestRunner::new(Config {
        cases: 800,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (
        0..=COMFYUI_FIXTURES.len(),
        proptest::collection::vec(mutation(), 1..4),
    );
    runner
        .run(&strategy, |(which, mutations)| {
            if which == COMFYUI_FIXTURES.len() {
                let text = mutate(&flow_input, &mutations);
                let catalog = Catalog::builtin();
                match react_flow::import_json(&catalog, &text) {
                    Ok(import) => check_document(&catalog, &import.canvas)?,
                    Err(e) => prop_assert!(!e.code().is_empty()),
                }
            } else {
                let text = mutate(&comfy_inputs[which], &mutations);
                let catalog = Catalog::empty();
                match comfyui::import(&catalog, &text) {
                    Ok(import) => {
                        check_document(&catalog, &import.canvas)?;
                        if let Ok(canvas) = Canvas::from_document(catalog.clone(), import.canvas) {
                            let _ = comfyui::export_api_prompt(&canvas);
                        }
                    }
                    Err(e) => prop_assert!(!e.code().is_empty()),
                }
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn react_flow_long_labels_are_cut_and_a_bad_viewport_replaced_so_the_import_loads() {
    let catalog = Catalog::builtin();
    let long = "é".repeat(20_000);
    for zoom in [json!(0), json!(-5), json!(1.0)] {
        let flow = json!({
            "nodes": [{"id": "a", "type": "shot", "position": {"x": 0, "y": 0},
                       "data": {"label": long}}],
            "edges": [],
            "viewport": {"x": 0, "y": 0, "zoom": zoom}
        });
        let import = react_flow::import_json(&catalog, &flow.to_string()).expect("import");
        let label = import.canvas.nodes[0].label.as_deref().expect("label");
        assert!(
            label.len() <= 1_024 && long.starts_with(label),
            "cut at a char boundary"
        );
        assert!(import.diagnostics.iter().any(|d| d.code == "invalid_field"
            && d.node.as_deref() == Some("a")
            && d.message.contains("cut short")));
        let viewport_warned = import
            .diagnostics
            .iter()
            .any(|d| d.message.contains("default viewport"));
        assert_eq!(viewport_warned, zoom != json!(1.0), "zoom {zoom}");
        assert!(import.canvas.viewport.zoom > 0.0);
        assert_reads_back(&catalog, &import.canvas);
        Canvas::from_document(catalog.clone(), import.canvas).expect("loads");
    }
}
