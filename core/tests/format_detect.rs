//! `format::detect` and `format::import_any`: a file's format told from its
//! content, the way the command line, a server upload or a binding's
//! `load(path)` read canvases.

use reelgraph::format::{Format, detect, import_any, react_flow};
use reelgraph::{Canvas, Catalog, Op};
use serde_json::json;

fn teaser() -> Canvas {
    let mut canvas = Canvas::new(Catalog::builtin(), "teaser", "Teaser");
    canvas
        .apply(vec![
            Op::add_node("mara", "character", json!({"name": "Mara"})),
            Op::add_node("shot_1", "shot", json!({"prompt": "rain"})),
            Op::connect(("mara", "character"), ("shot_1", "characters")),
        ])
        .expect("apply");
    canvas
}

#[test]
fn each_format_is_told_from_its_content_and_imported() {
    let catalog = Catalog::builtin();
    let canvas = teaser();
    let native = canvas.to_json();
    let flow = serde_json::to_string(&react_flow::export_canvas(&canvas)).expect("flow");
    let workflow = include_str!("fixtures/comfyui/v04_basic.json");

    for (text, format) in [
        (native.as_str(), Format::Native),
        (flow.as_str(), Format::ReactFlow),
        (workflow, Format::ComfyuiWorkflow),
    ] {
        assert_eq!(detect(text).expect("detect"), format);
        let imported = import_any(&catalog, text, None).expect("import");
        assert_eq!(imported.format, format);
        let loaded = Canvas::from_document(catalog.clone(), imported.canvas).expect("load");
        assert!(loaded.node_count() > 0, "{format}");
    }
    let imported = import_any(&catalog, &native, None).expect("native");
    assert_eq!(imported.canvas, canvas.to_document());
    assert!(imported.diagnostics.is_empty());
}

#[test]
fn a_named_format_is_used_as_given() {
    let catalog = Catalog::builtin();
    let flow = serde_json::to_string(&react_flow::export_canvas(&teaser())).expect("flow");
    // Read as native, a flow object has no `format`: the native reader says so.
    let err = import_any(&catalog, &flow, Some(Format::Native)).expect_err("as native");
    assert_eq!(err.code(), "wrong_format");
    let ok = import_any(&catalog, &flow, Some(Format::ReactFlow)).expect("as flow");
    assert_eq!(ok.format, Format::ReactFlow);
}

#[test]
fn an_api_prompt_is_recognised_and_imported_with_a_note() {
    let prompt = r#"{"3": {"class_type": "KSampler", "inputs": {"seed": 1}},
                     "4": {"class_type": "CheckpointLoaderSimple", "inputs": {}}}"#;
    assert_eq!(detect(prompt).expect("detect"), Format::ComfyuiApi);
    let imported = import_any(&Catalog::builtin(), prompt, None).expect("api");
    assert_eq!(imported.format, Format::ComfyuiApi);
    assert_eq!(imported.canvas.nodes.len(), 2);
    assert_eq!(imported.diagnostics[0].code, "no_layout");
}

#[test]
fn unknown_input_says_what_it_is() {
    for (text, found) in [
        ("[1, 2]", "a JSON array"),
        ("\"canvas\"", "a JSON string"),
        ("12.5", "a JSON number"),
        ("true", "a JSON boolean"),
        ("null", "JSON null"),
        ("{}", "an empty JSON object"),
        (r#"{"shots": [], "title": "x"}"#, "`shots`, `title`"),
        // Some values have a class_type, one does not: not an API prompt.
        (
            r#"{"3": {"class_type": "KSampler"}, "4": {"inputs": {}}}"#,
            "`3`, `4`",
        ),
        (r#"{"3": {"class_type": 7}}"#, "`3`"),
    ] {
        let err = detect(text).expect_err(text);
        assert_eq!(err.code(), "unknown_format", "{text}: {err}");
        assert!(err.to_string().contains(found), "{text}: {err}");
        assert_eq!(
            err.details()["found"].as_str().map(|f| f.contains(found)),
            Some(true)
        );
        assert!(!err.hint().is_empty());
    }
    for broken in ["", "{", "{\"nodes\": [}", "nul", "[1, 2"] {
        let err = detect(broken).expect_err(broken);
        assert_eq!(err.code(), "invalid_json", "{broken:?}: {err}");
    }
}
