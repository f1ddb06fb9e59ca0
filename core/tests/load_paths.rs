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
            {"id": "img", "type": "image_gen", "type_version": 2},
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
                  {"id": "i", "type": "image_gen", "type_version": 2}],
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

#[test]
fn fields_twice_lists_out_of_shape_and_other_forms_get_the_same_answer() {
    let texts = [
        // A document field, a node field or a node's properties twice.
        r#"{"format": "reelgraph.canvas", "format_version": 2, "id": "c", "nodes": [], "nodes": []}"#,
        r#"{"format": "reelgraph.canvas", "format_version": 2, "id": "c",
            "nodes": [{"id": "s1", "id": "s2", "type": "shot", "type_version": 2}]}"#,
        r#"{"format": "reelgraph.canvas", "format_version": 2, "id": "c",
            "nodes": [{"id": "s1", "type": "shot", "type_version": 2,
                       "properties": {"number": 1}, "properties": {"number": 2}}]}"#,
        // Required fields missing: the document's, a node's, an edge's.
        r#"{"format": "reelgraph.canvas", "format_version": 2}"#,
        r#"{"format_version": 2, "id": "c"}"#,
        r#"{"format": "reelgraph.canvas", "format_version": 2, "id": "c",
            "nodes": [{"id": "s1", "type": "shot"}]}"#,
        r#"{"format": "reelgraph.canvas", "format_version": 2, "id": "c",
            "edges": [{"id": "e", "source": {"node": "a", "port": "x"}}]}"#,
        // Values of the wrong shape.
        r#"{"format": "reelgraph.canvas", "format_version": 2, "id": "c", "nodes": {}}"#,
        r#"{"format": "reelgraph.canvas", "format_version": 2, "id": "c",
            "nodes": [{"id": "s1", "type": "shot", "type_version": 2, "properties": null}]}"#,
        r#"{"format": "reelgraph.canvas", "format_version": 2, "id": "c",
            "nodes": [{"id": "s1", "type": "shot", "type_version": 2, "properties": []}]}"#,
        r#"{"format": "reelgraph.canvas", "format_version": 2, "id": "c",
            "nodes": [{"id": 1, "type": "shot", "type_version": 2}]}"#,
        r#"{"format": "reelgraph.canvas", "format_version": "2", "id": "c"}"#,
        // Lists in the place of objects, which serde's derive reads by position.
        r#"["reelgraph.canvas", 2, "c"]"#,
        r#"{"format": "reelgraph.canvas", "format_version": 2, "id": "c",
            "nodes": [["s1", "shot", 2]]}"#,
        r#"{"format": "reelgraph.canvas", "format_version": 2, "id": "c",
            "nodes": [{"id": "s1", "type": "shot", "type_version": 2, "position": [1, 2]}]}"#,
        // Nulls where a default is allowed, and nothing at all.
        r#"{"format": "reelgraph.canvas", "format_version": 2, "id": "c",
            "nodes": [{"id": "s1", "type": "shot", "type_version": 2, "label": null, "ui": null}]}"#,
        r#"{"format": "reelgraph.canvas", "format_version": 2, "id": "c", "nodes": [], "edges": []}"#,
        "",
        "null",
    ];
    for text in texts {
        let (one_pass, document_path) = both_paths(text);
        assert_eq!(one_pass, document_path, "text: {text}");
    }
}

#[test]
fn edges_read_before_or_after_the_nodes_or_without_them_are_kept_the_same_way() {
    let nodes = r#"[{"id": "s1", "type": "shot", "type_version": 2},
                    {"id": "i", "type": "image_gen", "type_version": 2}]"#;
    let edges = r#"[{"id": "e1", "source": {"node": "s1", "port": "shot"},
                     "target": {"node": "i", "port": "shot"}},
                    {"id": "e2", "source": {"node": "i", "port": "image"},
                     "target": {"node": "s1", "port": "shot"}}]"#;
    let head = r#""format": "reelgraph.canvas", "format_version": 2, "id": "c""#;
    let texts = [
        format!("{{{head}, \"nodes\": {nodes}, \"edges\": {edges}}}"),
        format!("{{\"edges\": {edges}, {head}, \"nodes\": {nodes}}}"),
        format!("{{\"edges\": {edges}, {head}}}"),
    ];
    let mut documents = Vec::new();
    for text in &texts {
        let (one_pass, document_path) = both_paths(text);
        assert_eq!(one_pass, document_path, "text: {text}");
        documents.push(one_pass.expect("loads")["document"]["edges"].clone());
    }
    assert_eq!(documents[0], documents[1]);
}

#[test]
fn a_node_reads_the_same_whichever_of_its_fields_come_before_its_properties() {
    let properties = r#""properties": {"prompt": "Mara", "number": 2, "zz_unknown": [1]}"#;
    let node = |fields: [&str; 3]| {
        format!(
            r#"{{"format": "reelgraph.canvas", "format_version": 2, "id": "c",
                "nodes": [{{"id": "s1", {}, {}, {}}}]}}"#,
            fields[0], fields[1], fields[2]
        )
    };
    let (shot, current) = (r#""type": "shot""#, r#""type_version": 2"#);
    let mut documents = Vec::new();
    for fields in [
        [shot, current, properties],
        [shot, properties, current],
        [properties, current, shot],
        [current, properties, shot],
    ] {
        let text = node(fields);
        let (one_pass, document_path) = both_paths(&text);
        assert_eq!(one_pass, document_path, "text: {text}");
        documents.push(one_pass.expect("loads")["document"].clone());
    }
    assert!(documents.windows(2).all(|w| w[0] == w[1]));
    // A newer type version (kept as loaded) and an older one (migrated),
    // each before and after the properties.
    for version in [r#""type_version": 9"#, r#""type_version": 1"#] {
        for fields in [[shot, version, properties], [properties, version, shot]] {
            let text = node(fields);
            let (one_pass, document_path) = both_paths(&text);
            assert!(one_pass.is_ok(), "loads: {text}");
            assert_eq!(one_pass, document_path, "text: {text}");
        }
    }
}

/// A document of `count` nodes of random built-in types, with property
/// values from their specs in shuffled order (some unknown), and edges
/// between random ports of random nodes: some fit, some do not, some
/// dangle or close cycles; in some documents an edge id is given twice.
/// The text lists the nodes before the edges, each node's type after its
/// properties.
fn generated(seed: u64, count: usize) -> String {
    use rand::rngs::SmallRng;
    use rand::seq::SliceRandom;
    use rand::{Rng, SeedableRng};

    let mut rng = SmallRng::seed_from_u64(seed);
    let mut types = Catalog::builtin().types();
    types.sort_by(|a, b| a.type_name.cmp(&b.type_name));
    let mut nodes = Vec::new();
    let mut picked = Vec::new();
    for n in 0..count {
        let spec = &types[rng.random_range(0..types.len())];
        let mut properties: Vec<(String, Value)> = spec
            .properties
            .iter()
            .filter_map(|p| Some((p.name.to_string(), p.default.clone()?)))
            .filter(|_| rng.random_bool(0.7))
            .collect();
        if rng.random_bool(0.1) {
            properties.push(("not_a_property".into(), json!([n, {"k": "v"}])));
        }
        properties.shuffle(&mut rng);
        let properties: String = properties
            .iter()
            .map(|(k, v)| format!("{}: {v}", Value::from(k.as_str())))
            .collect::<Vec<_>>()
            .join(", ");
        let id = format!("n{n}");
        nodes.push(format!(
            r#"{{"type": "{}", "type_version": {}, "properties": {{{properties}}}, "id": "{id}",
                "position": {{"x": {}, "y": -1.5}}}}"#,
            spec.type_name,
            spec.version,
            n as f64 * 0.25
        ));
        picked.push((id, spec.clone()));
    }
    let mut edges = Vec::new();
    for e in 0..count * 2 {
        let (source, from) = &picked[rng.random_range(0..picked.len())];
        let (target, to) = &picked[rng.random_range(0..picked.len())];
        let (Some(output), Some(input)) = (
            from.outputs
                .get(rng.random_range(0..from.outputs.len().max(1))),
            to.inputs.get(rng.random_range(0..to.inputs.len().max(1))),
        ) else {
            continue;
        };
        let target = if rng.random_bool(0.05) {
            "gone"
        } else {
            target.as_str()
        };
        let id = if seed % 7 == 3 && e == count {
            "e0".to_owned()
        } else {
            format!("e{e}")
        };
        edges.push(format!(
            r#"{{"id": "{id}", "source": {{"node": "{source}", "port": "{}"}},
                "target": {{"node": "{target}", "port": "{}"}}}}"#,
            output.name, input.name
        ));
    }
    format!(
        r#"{{"format": "reelgraph.canvas", "format_version": 2, "id": "g{seed}", "name": "G",
            "revision": 3, "nodes": [{}], "edges": [{}]}}"#,
        nodes.join(", "),
        edges.join(", ")
    )
}

#[test]
fn generated_documents_load_the_same_both_ways() {
    let mut loaded = 0;
    for seed in 0..40 {
        let text = generated(seed, 1 + seed as usize * 3);
        let (one_pass, document_path) = both_paths(&text);
        assert_eq!(one_pass, document_path, "seed {seed}");
        // The same document with its keys sorted (edges before nodes).
        let sorted: Value = serde_json::from_str(&text).expect("generated JSON parses");
        assert_eq!(same(&sorted), one_pass, "seed {seed}, keys sorted");
        loaded += usize::from(one_pass.is_ok());
    }
    // Refusals are the rarer case.
    assert!(loaded >= 30, "{loaded} of 40 loaded");
}
