//! React Flow / Svelte Flow export and import: a realistic canvas with every
//! kind of data round-trips exactly; bad input gives diagnostics, not panics.

// In a test, a failed unwrap is a failed test with its reason printed.
#![allow(clippy::unwrap_used)]

use reelgraph::format::react_flow::{self, ReactFlow};
use reelgraph::{
    Canvas, CanvasDocument, Catalog, NodeTypeBuilder, Op, PortRef, Position, PropertyKind,
    PropertySpec, Viewport,
};
use serde_json::{Value, json};

fn catalog() -> Catalog {
    let catalog = Catalog::builtin();
    let mut layers = PropertySpec::new("layers", PropertyKind::List);
    layers.items = Some(Box::new(PropertySpec::new("", PropertyKind::Object)));
    catalog
        .register(
            NodeTypeBuilder::new("lut_grade", "post", "LUT grade")
                .input("image", &["image", "video"], true, false)
                .output("image", "image")
                .output("preview", "image")
                .property(PropertySpec::new("lut", PropertyKind::AssetRef))
                .property(PropertySpec::new("strength", PropertyKind::Float).range(0.0, 1.0))
                .property(PropertySpec::new("settings", PropertyKind::Object))
                .property(layers)
                .property(PropertySpec::new("enabled", PropertyKind::Boolean))
                .build(),
        )
        .unwrap();
    catalog
}

fn op(value: Value) -> Op {
    serde_json::from_value(value).unwrap()
}

/// A teaser canvas: story, assets, generation, post and a custom type; labels,
/// positions, nested properties, every shape of `ui`, groups, metadata.
fn teaser(catalog: &Catalog) -> Canvas {
    let mut canvas = Canvas::new(catalog.clone(), "teaser", "Teaser");
    let node = |id: &str,
                ty: &str,
                x: f64,
                y: f64,
                label: Option<&str>,
                props: Value,
                ui: Option<Value>| {
        op(
            json!({"op": "add_node", "id": id, "type": ty, "label": label,
                  "position": {"x": x, "y": y}, "properties": props, "ui": ui}),
        )
    };
    canvas
        .apply(vec![
            op(json!({"op": "set_canvas", "story": {"structure": "three_act", "page_count": 96}})),
            node("act1", "act", 0.0, 0.0, Some("Act I"), json!({"number": 1, "title": "Arrival"}), None),
            node("sc1", "scene", 200.0, 0.0, None, json!({"number": 1, "heading": "EXT. HARBOUR - DUSK"}),
                 Some(json!({"width": 220, "height": 96, "selected": true, "measured": {"width": 220, "height": 96}}))),
            node("mara", "character", 0.0, 200.0, Some("Mara"),
                 json!({"name": "Mara", "lora": "loras/mara_v2.safetensors", "lora_weight": 0.8,
                        "trigger_word": "mara_v2", "reference_images": ["refs/mara_1.png", "refs/mara_2.png"]}),
                 Some(json!({"style": {"background": "#fde"}, "className": "asset", "zIndex": 3}))),
            node("s1", "shot", 400.0, 100.0, Some("Shot 1 — wide"),
                 json!({"number": 1, "duration": 4.5, "prompt": "Mara walks along the pier, 35mm"}),
                 // Keys React Flow owns: kept in data.ui.
                 Some(json!({"type": "custom-shot", "data": {"collapsed": true}, "width": 300}))),
            node("img", "image_gen", 650.0, 100.0, None, json!({"seed": 42, "cfg_scale": 6.5, "width": 1024}),
                 Some(json!("compact"))),
            node("grade", "lut_grade", 900.0, 100.0, Some("Grade"),
                 json!({"lut": "luts/teal_orange.cube", "strength": 0.35, "enabled": true,
                        "settings": {"curve": [[0, 0], [0.5, 0.6], [1, 1]], "space": "ACEScg", "nested": {"a": null}},
                        "layers": [{"name": "base", "opacity": 1.0}, {"name": "glow", "opacity": 0.25}]}),
                 Some(json!(["weird", "but", "opaque"]))),
            node("up", "upscale", 1150.0, 100.0, None, json!({"factor": 2}), Some(json!({}))),
            Op::connect(("act1", "act"), ("sc1", "act")),
            Op::connect(("sc1", "scene"), ("s1", "scene")),
            Op::connect(("mara", "character"), ("s1", "characters")),
            op(json!({"op": "connect", "id": "shot->img", "source": {"node": "s1", "port": "shot"},
                      "target": {"node": "img", "port": "shot"}})),
            Op::connect(("img", "image"), ("grade", "image")),
            Op::connect(("grade", "preview"), ("up", "image")),
            op(json!({"op": "add_group", "id": "assets", "label": "Assets", "nodes": ["mara"],
                      "ui": {"color": "#3f789e"}})),
        ])
        .unwrap();
    canvas
}

#[test]
fn a_realistic_canvas_round_trips_exactly() {
    let catalog = catalog();
    let canvas = teaser(&catalog);
    let original: CanvasDocument = canvas.to_document();
    let flow = react_flow::export_canvas(&canvas);
    let text = serde_json::to_string_pretty(&flow).unwrap();

    let back = react_flow::import_json(&catalog, &text).unwrap();
    assert!(back.diagnostics.is_empty(), "{:#?}", back.diagnostics);
    assert_eq!(back.canvas, original);
    // And the document is a working canvas again.
    let again = Canvas::from_document(catalog, back.canvas).unwrap();
    assert_eq!(again.to_json(), canvas.to_json());
}

#[test]
fn the_export_has_react_flows_shape() {
    let catalog = catalog();
    let flow: Value = serde_json::to_value(react_flow::export_canvas(&teaser(&catalog))).unwrap();
    let node = |id: &str| {
        flow["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["id"] == id)
            .unwrap()
            .clone()
    };

    let sc1 = node("sc1");
    assert_eq!(sc1["type"], "scene");
    assert_eq!(sc1["position"], json!({"x": 200.0, "y": 0.0}));
    assert_eq!(sc1["data"]["type_version"], 1);
    assert_eq!(sc1["data"]["properties"]["heading"], "EXT. HARBOUR - DUSK");
    // Editor state sits where React Flow reads it.
    assert_eq!(sc1["width"], 220);
    assert_eq!(sc1["selected"], true);
    assert!(sc1["data"].get("ui").is_none());
    assert_eq!(node("mara")["data"]["label"], "Mara");
    assert_eq!(node("mara")["className"], "asset");
    // ui with React Flow's own keys, or not an object: data.ui.
    assert_eq!(node("s1")["type"], "shot");
    assert_eq!(node("s1")["data"]["ui"]["type"], "custom-shot");
    assert_eq!(node("img")["data"]["ui"], "compact");

    let edge = flow["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == "shot->img")
        .unwrap();
    assert_eq!(
        edge,
        &json!({"id": "shot->img", "source": "s1", "sourceHandle": "shot", "target": "img", "targetHandle": "shot"})
    );
    assert_eq!(flow["viewport"], json!({"x": 0.0, "y": 0.0, "zoom": 1.0}));
    assert_eq!(flow["reelgraph"]["id"], "teaser");
    assert_eq!(flow["reelgraph"]["groups"][0]["id"], "assets");
}

#[test]
fn state_react_flow_adds_is_kept() {
    let catalog = catalog();
    let mut flow = react_flow::export_canvas(&teaser(&catalog));
    // The editor moves and selects a node, styles an edge, pans.
    let n = flow.nodes.iter_mut().find(|n| n.id == "up").unwrap();
    n.position = Position::new(1200.0, 140.0);
    n.extra.insert("dragging".into(), json!(false));
    n.data.insert("collapsed".into(), json!(true));
    flow.edges[0].extra.insert("animated".into(), json!(true));
    flow.edges[0]
        .extra
        .insert("type".into(), json!("smoothstep"));
    flow.viewport = Viewport {
        x: -120.0,
        y: 40.0,
        zoom: 0.75,
    };
    let edge_id = flow.edges[0].id.clone();

    let back = react_flow::import(&catalog, flow).unwrap();
    assert!(back.diagnostics.is_empty(), "{:#?}", back.diagnostics);
    let up = back.canvas.nodes.iter().find(|n| n.id == "up").unwrap();
    assert_eq!(up.position, Position::new(1200.0, 140.0));
    assert_eq!(
        up.ui,
        Some(json!({"dragging": false, "data": {"collapsed": true}}))
    );
    assert_eq!(back.canvas.viewport.zoom, 0.75);
    assert_eq!(
        back.canvas.metadata["react_flow"]["edges"][&edge_id],
        json!({"animated": true, "type": "smoothstep"})
    );

    // Exported again, the edge state is back on the edge and stays stable.
    let flow2 = react_flow::export(&back.canvas);
    assert_eq!(flow2.edges[0].extra["type"], "smoothstep");
    let back2 = react_flow::import(&catalog, flow2).unwrap();
    assert_eq!(back2.canvas, back.canvas);
}

#[test]
fn a_plain_react_flow_object_imports() {
    let catalog = Catalog::builtin();
    let text = r#"{
      "nodes": [
        {"id": "hero", "type": "character", "position": {"x": 10, "y": 20}, "data": {"label": "Mara", "properties": {"name": "Mara"}}},
        {"id": "s1", "type": "shot", "position": {"x": 300, "y": 20}, "data": {}}
      ],
      "edges": [{"id": "e1", "source": "hero", "target": "s1", "targetHandle": "characters"}]
    }"#;
    let back = react_flow::import_json(&catalog, text).unwrap();
    assert!(back.diagnostics.is_empty(), "{:#?}", back.diagnostics);
    assert_eq!(back.canvas.id, "react-flow");
    // No sourceHandle: the character node has one output.
    assert_eq!(
        back.canvas.edges[0].source,
        PortRef::new("hero", "character")
    );
    assert_eq!(back.canvas.nodes[0].type_version, 1);
    assert!(
        Canvas::from_document(catalog, back.canvas)
            .unwrap()
            .validate()
            .valid
    );
}

#[test]
fn bad_input_gives_codes_not_panics() {
    let catalog = Catalog::builtin();
    let text = r#"{
      "nodes": [
        {"id": "a", "type": "no_such_type", "position": {"x": 0, "y": 0}, "data": {}},
        {"id": "hero", "type": "character", "position": {"x": 0, "y": 0}, "data": {"properties": {"name": 7}}},
        {"id": "s1", "type": "shot", "position": {"x": 0, "y": 0}, "data": {"type_version": "x", "label": 5}},
        {"id": "img", "type": "image_gen", "position": {"x": 0, "y": 0}, "data": {}}
      ],
      "edges": [
        {"id": "to-missing", "source": "hero", "sourceHandle": "character", "target": "ghost", "targetHandle": "in"},
        {"id": "no-handle", "source": "hero", "target": "img"},
        {"id": "bad-port", "source": "hero", "sourceHandle": "character", "target": "s1", "targetHandle": "nope"},
        {"id": "mismatch", "source": "hero", "sourceHandle": "character", "target": "img", "targetHandle": "reference"},
        {"id": "no-node", "source": "ghost", "target": "s1", "targetHandle": "scene"}
      ]
    }"#;
    let back = react_flow::import_json(&catalog, text).unwrap();
    let found: Vec<(&str, Option<&str>, Option<&str>)> = back
        .diagnostics
        .iter()
        .map(|d| (d.code.as_str(), d.node.as_deref(), d.edge.as_deref()))
        .collect();
    for expected in [
        ("invalid_field", Some("s1"), None),
        ("unknown_port", Some("img"), Some("no-handle")),
        ("dangling_edge", None, Some("no-node")),
        ("unknown_node_type", Some("a"), None),
        ("property_invalid", Some("hero"), None),
        ("type_mismatch", Some("img"), Some("mismatch")),
        ("unknown_port", Some("s1"), Some("bad-port")),
        ("dangling_edge", None, Some("to-missing")),
    ] {
        assert!(found.contains(&expected), "{expected:?} in {found:#?}");
    }
    // Unknown types are kept; edges with resolvable ends are kept.
    assert_eq!(back.canvas.nodes.len(), 4);
    let ids: Vec<&str> = back.canvas.edges.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["to-missing", "bad-port", "mismatch"]);
    assert!(back.diagnostics.iter().all(|d| !d.hint.is_empty()));

    for (text, code) in [
        ("{", "invalid_json"),
        (r#"{"nodes": {}}"#, "invalid_json"),
        (
            r#"{"nodes": [{"id": "a", "position": {"x": "left"}}]}"#,
            "invalid_json",
        ),
        (r#"{"nodes": [{"id": "a"}, {"id": "a"}]}"#, "duplicate_id"),
        (r#"{"nodes": [{"id": ""}]}"#, "invalid_id"),
        (
            r#"{"nodes": [], "edges": [{"id": "e", "source": "a", "sourceHandle": "x", "target": "b", "targetHandle": "y"}, {"id": "e", "source": "a", "sourceHandle": "x", "target": "b", "targetHandle": "y"}]}"#,
            "duplicate_id",
        ),
    ] {
        let err = react_flow::import_json(&catalog, text).unwrap_err();
        assert_eq!(err.code(), code, "{text}");
    }
}

#[test]
fn flow_objects_are_plain_serde_types() {
    let flow: ReactFlow = serde_json::from_value(json!({"nodes": []})).unwrap();
    assert!(flow.edges.is_empty() && flow.reelgraph.is_none());
    assert_eq!(flow.viewport, Viewport::default());
}
