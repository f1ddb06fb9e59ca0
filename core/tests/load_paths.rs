//! `Canvas::from_json` reads a current document in one pass and falls back
//! to the document path (`CanvasDocument::from_json`, then
//! `Canvas::from_document`) for the rest. Both must give the same canvas, or
//! the same error, for every document.

use reelgraph::{Canvas, CanvasDocument, Catalog};
use serde_json::{Value, json};

/// The canvas `from_json` gives, as (document, report, order, migrations),
/// next to the one the document path gives; or both errors.
fn both_paths(text: &str) -> (Result<Value, String>, Result<Value, String>) {
    let catalog = Catalog::builtin();
    let seen = |canvas: reelgraph::Result<Canvas>| match canvas {
        Ok(c) => Ok(json!({
            "document": serde_json::from_str::<Value>(&c.to_json()).expect("its JSON parses"),
            "report": serde_json::to_value(c.validate()).expect("a report serialises"),
            "order": c.topological_order(),
            "migrated": c.migrations_applied(),
        })),
        Err(e) => Err(format!("{}: {e}", e.code())),
    };
    let one_pass = seen(Canvas::from_json(catalog.clone(), text));
    let document_path =
        seen(CanvasDocument::from_json(text).and_then(|doc| Canvas::from_document(catalog, doc)));
    (one_pass, document_path)
}

fn same(doc: &Value) -> Result<Value, String> {
    let (one_pass, document_path) = both_paths(&doc.to_string());
    assert_eq!(one_pass, document_path, "document: {doc:#}");
    one_pass
}

fn header(nodes: &Value, edges: &Value) -> Value {
    json!({
        "format": "reelgraph.canvas", "format_version": 2, "id": "c", "name": "C",
        "revision": 4, "nodes": nodes, "edges": edges,
    })
}

#[test]
fn the_demo_canvas_loads_the_same_both_ways() {
    let text = include_str!("../../examples/short-film/canvas.json");
    let (one_pass, document_path) = both_paths(text);
    assert!(one_pass.is_ok());
    assert_eq!(one_pass, document_path);
}

#[test]
fn whatever_a_loaded_canvas_keeps_aside_is_kept_the_same_way() {
    let doc = json!({
        // Edges before nodes, and fields in no particular order.
        "edges": [
            {"target": {"node": "img", "port": "shot"}, "id": "e1",
             "source": {"node": "s1", "port": "shot"}},
            {"id": "dangling", "source": {"node": "gone", "port": "shot"},
             "target": {"node": "img", "port": "shot"}},
            {"id": "self", "source": {"node": "s1", "port": "shot"},
             "target": {"node": "s1", "port": "shot"}},
            {"id": "back", "source": {"node": "img", "port": "image"},
             "target": {"node": "s1", "port": "shot"}},
            {"id": "odd\u{e9}", "source": {"node": "mystery", "port": "out"},
             "target": {"node": "img", "port": "reference"}}
        ],
        "nodes": [
            {"properties": {"prompt": "Mara looks up", "number": 1, "zz_unknown": [1, {"a": null}]},
             "type_version": 2, "type": "shot", "id": "s1", "label": "Opening",
             "position": {"y": -2.5, "x": 1e3}, "ui": {"collapsed": true}},
            {"id": "img", "type": "image_gen", "type_version": 1},
            {"id": "mystery", "type": "not_a_type", "type_version": 9,
             "properties": {"b": 1, "a": "two"}}
        ],
        "format_version": 2, "format": "reelgraph.canvas", "id": "c",
        "groups": [{"id": "g", "nodes": ["s1", "nobody"], "label": "G"}],
        "metadata": {"app": {"v": [1, 2]}},
        "story": {"structure": "three_act"},
        "viewport": {"x": 1.0, "y": 2.0, "zoom": 0.5}
    });
    let loaded = same(&doc).expect("loads");
    let codes: Vec<&str> = loaded["report"]["diagnostics"]
        .as_array()
        .expect("a list of diagnostics")
        .iter()
        .map(|d| d["code"].as_str().expect("a code"))
        .collect();
    for code in ["dangling_edge", "self_loop", "cycle", "unknown_node_type"] {
        assert!(codes.contains(&code), "{code} in {codes:?}");
    }
}

#[test]
fn escaped_ids_and_names_read_as_their_text() {
    let text = r#"{"format": "reelgraph.canvas", "format_version": 2, "id": "c",
        "nodes": [{"id": "s\u0031", "type": "sh\u006ft", "type_version": 2,
                   "properties": {"n\u0075mber": 3, "prompt": "a \"quoted\" line"}},
                  {"id": "i", "type": "image_gen", "type_version": 1}],
        "edges": [{"id": "e\u00e9", "source": {"node": "s1", "port": "sh\u006ft"},
                   "target": {"node": "i", "port": "shot"}}]}"#;
    let (one_pass, document_path) = both_paths(text);
    assert_eq!(one_pass, document_path);
    let loaded = one_pass.expect("loads");
    assert_eq!(loaded["document"]["nodes"][0]["properties"]["number"], 3);
    assert_eq!(loaded["document"]["edges"][0]["source"]["port"], "shot");
}

#[test]
fn older_documents_and_node_types_are_migrated_the_same_way() {
    let doc = json!({
        "format": "reelgraph.canvas", "format_version": 1, "id": "c",
        "metadata": {"structure": "three_act", "page_count": 90},
        "nodes": [{"id": "s1", "type": "shot", "type_version": 1,
                   "properties": {"framing": "close_up", "length": 2.5}}]
    });
    let loaded = same(&doc).expect("loads");
    assert_eq!(loaded["migrated"][0]["node"], "s1");
    let mut current = doc.clone();
    current["format_version"] = json!(2);
    current
        .as_object_mut()
        .expect("an object")
        .remove("metadata");
    let loaded = same(&current).expect("loads");
    assert_eq!(loaded["migrated"][0]["from_version"], 1);
}

#[test]
fn every_refusal_is_the_document_paths_own() {
    let shot = |id: &str| json!({"id": id, "type": "shot", "type_version": 2});
    let long = "p".repeat(200);
    let cases = [
        header(&json!([shot("s1"), shot("s1")]), &json!([])),
        header(&json!([shot(" s1")]), &json!([])),
        header(
            &json!([shot("s1"), shot("s2")]),
            &json!([
                {"id": "e", "source": {"node": "s1", "port": "shot"}, "target": {"node": "s2", "port": "x"}},
                {"id": "e", "source": {"node": "s2", "port": "shot"}, "target": {"node": "s1", "port": "x"}}
            ]),
        ),
        header(
            &json!([shot("s1")]),
            &json!([{"id": "e", "source": {"node": "s1", "port": long}, "target": {"node": "s1", "port": "x"}}]),
        ),
        header(
            &json!([{"id": "s1", "type": "shot", "type_version": 2, "extra": 1}]),
            &json!([]),
        ),
        header(
            &json!([{"id": "s1", "type": "shot", "type_version": 2, "label": "x".repeat(5000)}]),
            &json!([]),
        ),
        json!({"format": "reelgraph.canvas", "format_version": 3, "id": "c"}),
        json!({"format": "other", "format_version": 2, "id": "c"}),
        json!({"format": "reelgraph.canvas", "format_version": 2, "id": "c", "groups": [{"id": "g"}, {"id": "g"}]}),
        json!({"format": "reelgraph.canvas", "format_version": 2, "id": "c", "viewport": {"x": 0, "y": 0, "zoom": 0}}),
    ];
    for doc in &cases {
        assert!(same(doc).is_err(), "refused: {doc}");
    }
    // Text that no `json!` value can be: a key given twice, a field twice,
    // trailing characters.
    let texts = [
        r#"{"format": "reelgraph.canvas", "format_version": 2, "id": "c",
            "nodes": [{"id": "s1", "type": "shot", "type_version": 2,
                       "properties": {"prompt": "a", "prompt": "b"}}]}"#,
        r#"{"format": "reelgraph.canvas", "format_version": 2, "id": "c",
            "nodes": [{"id": "s1", "type": "shot", "type_version": 2,
                       "properties": {"prompt": {"k": 1, "k": 2}}}]}"#,
        r#"{"format": "reelgraph.canvas", "format_version": 2, "id": "c", "id": "d"}"#,
        r#"{"format": "reelgraph.canvas", "format_version": 2, "id": "c"} x"#,
    ];
    for text in texts {
        let (one_pass, document_path) = both_paths(text);
        assert!(one_pass.is_err(), "refused: {text}");
        assert_eq!(one_pass, document_path);
    }
}
