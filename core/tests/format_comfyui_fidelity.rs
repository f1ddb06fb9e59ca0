//! ComfyUI fidelity: what ComfyUI repairs on load is repaired the same way,
//! widgets get the names ComfyUI gives them, and an imported canvas survives
//! a save. Small crafted workflows, each with the result ComfyUI would give;
//! then the invariant and the round trip over the real-world set.

// In a test, a failed unwrap is a failed test with its reason printed.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use reelgraph::format::comfyui::{self, Import, ImportOptions, ObjectInfo};
use reelgraph::format::{Format, import_any};
use reelgraph::render::{SvgOptions, to_svg};
use reelgraph::{Canvas, Catalog};
use serde_json::{Value, json};

fn import(text: &str) -> (Catalog, Import) {
    let catalog = Catalog::builtin();
    let import = comfyui::import(&catalog, text).unwrap();
    (catalog, import)
}

fn prompt(catalog: &Catalog, import: &Import) -> comfyui::ApiPrompt {
    let canvas = Canvas::from_document(catalog.clone(), import.canvas.clone()).unwrap();
    comfyui::export_api_prompt(&canvas)
}

fn diag<'a>(import: &'a Import, code: &str, edge: &str) -> &'a reelgraph::Diagnostic {
    import
        .diagnostics
        .iter()
        .find(|d| d.code == code && d.edge.as_deref() == Some(edge))
        .unwrap_or_else(|| panic!("no {code} for link {edge}: {:#?}", import.diagnostics))
}

fn edges(import: &Import) -> Vec<(String, String, String, String, String)> {
    let mut e: Vec<_> = import
        .canvas
        .edges
        .iter()
        .map(|e| {
            (
                e.id.clone(),
                e.source.node.clone(),
                e.source.port.clone(),
                e.target.node.clone(),
                e.target.port.clone(),
            )
        })
        .collect();
    e.sort();
    e
}

fn e(id: &str, s: &str, sp: &str, t: &str, tp: &str) -> (String, String, String, String, String) {
    (id.into(), s.into(), sp.into(), t.into(), tp.into())
}

const LOADER: &str = r#"{"id": 1, "type": "CheckpointLoaderSimple", "pos": [0, 0],
  "outputs": [{"name": "MODEL", "type": "MODEL", "links": [1]},
              {"name": "CLIP", "type": "CLIP", "links": [2]},
              {"name": "VAE", "type": "VAE", "links": []}],
  "widgets_values": ["sd15.safetensors"]}"#;

#[test]
fn a_drifted_link_goes_to_the_input_that_names_it() {
    // Link 2 says slot 3, which node 2 does not have; its `clip` input (slot 0)
    // names link 2. ComfyUI connects it there.
    let text = format!(
        r#"{{"nodes": [{LOADER},
          {{"id": 2, "type": "CLIPTextEncode", "pos": [300, 0],
            "inputs": [{{"name": "clip", "type": "CLIP", "link": 2}}],
            "outputs": [{{"name": "CONDITIONING", "type": "CONDITIONING", "links": []}}],
            "widgets_values": ["a cat"]}}],
          "links": [[2, 1, 1, 2, 3, "CLIP"]]}}"#
    );
    let (catalog, import) = import(&text);
    assert_eq!(edges(&import), [e("2", "1", "CLIP", "2", "clip")]);
    let d = diag(&import, "repaired_link", "2");
    assert!(d.message.contains("slot 3") && d.message.contains("`clip`"));
    assert_eq!(d.severity.as_str(), "warning");
    let api = prompt(&catalog, &import);
    assert_eq!(api.prompt["2"]["inputs"]["clip"], json!(["1", 1]));
    assert_eq!(api.prompt["2"]["inputs"]["text"], "a cat");
}

#[test]
fn a_stale_duplicate_is_dropped() {
    // Links 2 and 7 both go to 2.clip; the input names link 2.
    let text = format!(
        r#"{{"nodes": [{LOADER},
          {{"id": 2, "type": "CLIPTextEncode",
            "inputs": [{{"name": "clip", "type": "CLIP", "link": 2}}],
            "outputs": [{{"name": "CONDITIONING", "type": "CONDITIONING", "links": []}}],
            "widgets_values": ["a cat"]}}],
          "links": [[2, 1, 1, 2, 0, "CLIP"], [7, 1, 1, 2, 0, "CLIP"]]}}"#
    );
    let (_, import) = import(&text);
    assert_eq!(edges(&import), [e("2", "1", "CLIP", "2", "clip")]);
    assert!(
        diag(&import, "duplicate_edge", "7")
            .message
            .contains("names link `2`")
    );
}

#[test]
fn of_two_origins_the_prompt_wires_the_one_the_input_names() {
    // Two loaders feed 3.model in `links`; the input names link 5 (from node
    // 2), listed second. ComfyUI runs the sampler on node 2's model.
    let text = r#"{"nodes": [
        {"id": 1, "type": "UNETLoader", "outputs": [{"name": "MODEL", "type": "MODEL", "links": [4]}],
         "widgets_values": ["a.safetensors", "default"]},
        {"id": 2, "type": "UNETLoader", "outputs": [{"name": "MODEL", "type": "MODEL", "links": [5]}],
         "widgets_values": ["b.safetensors", "default"]},
        {"id": 3, "type": "ModelSamplingSD3", "inputs": [{"name": "model", "type": "MODEL", "link": 5}],
         "outputs": [{"name": "MODEL", "type": "MODEL", "links": []}], "widgets_values": [3]}],
      "links": [[4, 1, 0, 3, 0, "MODEL"], [5, 2, 0, 3, 0, "MODEL"]]}"#;
    let (catalog, import) = import(text);
    assert_eq!(edges(&import), [e("5", "2", "MODEL", "3", "model")]);
    diag(&import, "duplicate_edge", "4");
    let api = prompt(&catalog, &import);
    assert_eq!(
        api.prompt["3"]["inputs"],
        json!({"model": ["2", 0], "shift": 3})
    );
    assert_eq!(
        api.prompt["1"]["inputs"],
        json!({"unet_name": "a.safetensors", "weight_dtype": "default"})
    );
}

#[test]
fn a_link_drifted_into_a_wrong_typed_input_goes_to_the_named_one() {
    // A STRING output whose link says slot 1 (`clip`, a CLIP input) while the
    // node says its `text` input (slot 0) holds it; `clip` holds link 2.
    let text = format!(
        r#"{{"nodes": [{LOADER},
          {{"id": 3, "type": "PrimitiveStringMultiline",
            "outputs": [{{"name": "STRING", "type": "STRING", "links": [9]}}],
            "widgets_values": ["a dog"]}},
          {{"id": 2, "type": "CLIPTextEncode",
            "inputs": [{{"name": "text", "type": "STRING", "widget": {{"name": "text"}}, "link": 9}},
                       {{"name": "clip", "type": "CLIP", "link": 2}}],
            "outputs": [{{"name": "CONDITIONING", "type": "CONDITIONING", "links": []}}],
            "widgets_values": [""]}}],
          "links": [[2, 1, 1, 2, 1, "CLIP"], [9, 3, 0, 2, 1, "STRING"]]}}"#
    );
    let (catalog, import) = import(&text);
    assert_eq!(
        edges(&import),
        [
            e("2", "1", "CLIP", "2", "clip"),
            e("9", "3", "STRING", "2", "text")
        ]
    );
    assert!(
        diag(&import, "repaired_link", "9")
            .message
            .contains("`text`")
    );
    // No connection rule is broken: nothing else to report.
    assert_eq!(import.diagnostics.len(), 1, "{:#?}", import.diagnostics);
    let api = prompt(&catalog, &import);
    assert_eq!(
        api.prompt["2"]["inputs"],
        json!({"text": ["3", 0], "clip": ["1", 1]})
    );
    assert_eq!(api.prompt["3"]["inputs"], json!({"value": "a dog"}));
}

#[test]
fn broken_links_inside_a_subgraph_are_repaired_and_reported() {
    // Inside the definition: link 2 drifted (slot 4, named by `images`),
    // link 3 is a stale duplicate into the same input.
    let text = r#"{"nodes": [
        {"id": 1, "type": "LoadImage", "outputs": [{"name": "IMAGE", "type": "IMAGE", "links": [1]}],
         "widgets_values": ["a.png", "image"]},
        {"id": 2, "type": "sub-1", "inputs": [{"name": "image", "type": "IMAGE", "link": 1}], "outputs": []}],
      "links": [[1, 1, 0, 2, 0, "IMAGE"]],
      "definitions": {"subgraphs": [{"id": "sub-1", "name": "Invert and save",
        "inputs": [{"name": "image", "type": "IMAGE"}], "outputs": [],
        "nodes": [
          {"id": 10, "type": "ImageInvert", "inputs": [{"name": "image", "type": "IMAGE", "link": 1}],
           "outputs": [{"name": "IMAGE", "type": "IMAGE", "links": [2, 3]}]},
          {"id": 11, "type": "SaveImage", "inputs": [{"name": "images", "type": "IMAGE", "link": 2}],
           "widgets_values": ["out"]}],
        "links": [[1, -10, 0, 10, 0, "IMAGE"], [2, 10, 0, 11, 4, "IMAGE"], [3, 10, 0, 11, 0, "IMAGE"]]}]}}"#;
    let (catalog, import) = import(text);
    assert_eq!(
        edges(&import),
        [
            e("2:1", "1", "IMAGE", "2:10", "image"),
            e("2:2", "2:10", "IMAGE", "2:11", "images")
        ]
    );
    let repaired = diag(&import, "repaired_link", "2");
    assert!(repaired.message.starts_with("subgraph `Invert and save`: "));
    diag(&import, "duplicate_edge", "3");
    let api = prompt(&catalog, &import);
    assert_eq!(api.prompt["2:11"]["inputs"]["images"], json!(["2:10", 0]));
}

#[test]
fn an_input_naming_a_missing_link_takes_the_one_wire_that_goes_to_it() {
    let text = r#"{"nodes": [
        {"id": 1, "type": "LoadImage", "outputs": [{"name": "IMAGE", "type": "IMAGE", "links": [3]}],
         "widgets_values": ["a.png", "image"]},
        {"id": 2, "type": "SaveImage", "inputs": [{"name": "images", "type": "IMAGE", "link": 8}],
         "widgets_values": ["out"]}],
      "links": [[3, 1, 0, 2, 0, "IMAGE"]]}"#;
    let (_, import) = import(text);
    assert_eq!(edges(&import), [e("3", "1", "IMAGE", "2", "images")]);
    assert!(diag(&import, "repaired_link", "3").message.contains("`8`"));
}

#[test]
fn widgets_values_named_names_the_values_it_lists() {
    // The named map leaves out a display-only widget in the middle.
    let text = r#"{"nodes": [
        {"id": 1, "type": "CustomAudio", "outputs": [{"name": "AUDIO", "type": "AUDIO", "links": []}],
         "widgets_values": ["a.mp3", null, 0.5],
         "widgets_values_named": {"audio": "a.mp3", "gain": 0.5}}]}"#;
    let text = text.replace("]}]}", "]}], \"links\": []}");
    let (catalog, import) = import(&text);
    let node = &import.canvas.nodes[0];
    assert_eq!(node.properties["audio"], "a.mp3");
    assert_eq!(node.properties["gain"], 0.5);
    let api = prompt(&catalog, &import);
    assert_eq!(
        api.prompt["1"]["inputs"],
        json!({"audio": "a.mp3", "gain": 0.5})
    );
    assert!(api.diagnostics.is_empty());
}

#[test]
fn core_classes_are_named_from_the_built_in_table_without_editor_only_widgets() {
    // A 0.4 file: no names anywhere in it.
    let text = r#"{"version": 0.4, "nodes": [
        {"id": 3, "type": "KSampler", "inputs": [], "outputs": [{"name": "LATENT", "type": "LATENT", "links": []}],
         "widgets_values": [42, "randomize", 20, 7.5, "euler", "normal", 1]},
        {"id": 4, "type": "KSamplerAdvanced", "outputs": [],
         "widgets_values": ["enable", 7, "fixed", 30, 6, "euler", "karras", 0, 10000, "disable"]},
        {"id": 5, "type": "LoadImage", "outputs": [], "widgets_values": ["a.png", "image"]}],
      "links": []}"#;
    let (catalog, import) = import(text);
    let api = prompt(&catalog, &import);
    assert_eq!(
        api.prompt["3"]["inputs"],
        json!({"seed": 42, "steps": 20, "cfg": 7.5, "sampler_name": "euler",
               "scheduler": "normal", "denoise": 1})
    );
    assert_eq!(api.prompt["4"]["inputs"]["noise_seed"], 7);
    assert_eq!(
        api.prompt["4"]["inputs"]["return_with_leftover_noise"],
        "disable"
    );
    assert!(
        api.prompt["4"]["inputs"]
            .get("control_after_generate")
            .is_none()
    );
    assert_eq!(api.prompt["5"]["inputs"], json!({"image": "a.png"}));
    assert!(api.diagnostics.is_empty(), "{:#?}", api.diagnostics);
}

#[test]
fn object_info_names_custom_classes_and_guessed_names_are_warned() {
    let text = r#"{"nodes": [{"id": 1, "type": "MySampler", "outputs": [],
        "widgets_values": [5, "randomize", "slow"]}], "links": []}"#;
    // Without object_info: positional names, and the prompt says so.
    let (catalog, import) = import(text);
    let api = prompt(&catalog, &import);
    assert_eq!(api.prompt["1"]["inputs"]["widget_0"], 5);
    assert_eq!(api.diagnostics.len(), 1);
    assert_eq!(api.diagnostics[0].code, "guessed_widget_names");
    assert_eq!(api.diagnostics[0].node.as_deref(), Some("1"));

    let info = ObjectInfo::from_json(
        r#"{"MySampler": {"input": {"required": {
            "model": ["MODEL"],
            "seed": ["INT", {"control_after_generate": true}],
            "mode": [["fast", "slow"], {}]}},
          "input_order": {"required": ["model", "seed", "mode"]}}}"#,
    )
    .unwrap();
    let catalog = Catalog::builtin();
    let options = ImportOptions::default().object_info(info);
    let import = comfyui::import_with(&catalog, text, &options).unwrap();
    let api = prompt(&catalog, &import);
    assert_eq!(
        api.prompt["1"]["inputs"],
        json!({"seed": 5, "mode": "slow"})
    );
    assert!(api.diagnostics.is_empty());

    assert_eq!(
        ObjectInfo::from_json("[1]").unwrap_err().code(),
        "wrong_format"
    );
    assert_eq!(
        ObjectInfo::from_json("{").unwrap_err().code(),
        "invalid_json"
    );
}

#[test]
fn both_control_after_generate_encodings_are_read() {
    // Older files store the seed control as a boolean.
    let text = r#"{"nodes": [
        {"id": 1, "type": "KSampler", "outputs": [],
         "widgets_values": [1, true, 20, 8, "euler", "normal", 1]},
        {"id": 2, "type": "KSampler", "outputs": [],
         "widgets_values": [2, "fixed", 20, 8, "euler", "normal", 1]},
        {"id": 3, "type": "KSampler", "outputs": [],
         "widgets_values": [3, false, 20, 8, "euler", "normal", 1]}], "links": []}"#;
    let (catalog, import) = import(text);
    assert!(import.diagnostics.is_empty(), "{:#?}", import.diagnostics);
    let control = |i: usize| import.canvas.nodes[i].properties["control_after_generate"].clone();
    assert_eq!(
        [control(0), control(1), control(2)],
        [json!("randomize"), json!("fixed"), json!("fixed")]
    );
    let api = prompt(&catalog, &import);
    assert_eq!(api.prompt["1"]["inputs"]["steps"], 20);
    assert!(
        api.prompt["1"]["inputs"]
            .get("control_after_generate")
            .is_none()
    );
}

/// A chain of subgraphs, each instance with a long id, nested `depth` deep.
fn nested(depth: usize) -> String {
    let long = |i: usize| format!("\"instance-{i}-{}\"", "x".repeat(40));
    let mut defs = Vec::new();
    for d in 0..depth {
        let inner = if d + 1 < depth {
            format!(
                r#"{{"id": {}, "type": "sub-{}", "outputs": []}}"#,
                long(d + 1),
                d + 1
            )
        } else {
            r#"{"id": 7, "type": "SaveImage", "widgets_values": ["deep"]}"#.to_owned()
        };
        defs.push(format!(
            r#"{{"id": "sub-{d}", "name": "level {d}", "inputs": [], "outputs": [], "nodes": [{inner}], "links": []}}"#
        ));
    }
    format!(
        r#"{{"nodes": [{{"id": {}, "type": "sub-0", "outputs": []}}], "links": [],
            "definitions": {{"subgraphs": [{}]}}}}"#,
        long(0),
        defs.join(",")
    )
}

#[test]
fn long_flattened_ids_are_hashed_never_dropped() {
    let text = nested(4);
    let (catalog, first) = import(&text);
    assert_eq!(first.canvas.nodes.len(), 1, "{:#?}", first.diagnostics);
    let id = &first.canvas.nodes[0].id;
    assert!(id.len() <= 128, "{id}");
    assert!(id.starts_with("instance-0-"), "{id}");
    assert!(first.diagnostics.is_empty(), "{:#?}", first.diagnostics);
    // Stable: the same file gives the same id.
    let (_, again) = import(&text);
    assert_eq!(&again.canvas.nodes[0].id, id);
    // The subgraph groups that hold it are kept too.
    assert!(
        first
            .canvas
            .groups
            .iter()
            .filter(|g| g.nodes.contains(id))
            .count()
            >= 4
    );
    let api = prompt(&catalog, &first);
    assert_eq!(api.prompt[id.as_str()]["inputs"]["filename_prefix"], "deep");
}

const API_PROMPT: &str = r#"{
  "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd15.safetensors"}},
  "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a cat", "clip": ["4", 1]},
        "_meta": {"title": "Positive"}},
  "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": ["4", 1]}},
  "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 512, "height": 512, "batch_size": 1}},
  "3": {"class_type": "KSampler", "inputs": {"seed": 42, "steps": 20, "cfg": 8,
        "sampler_name": "euler", "scheduler": "normal", "denoise": 1,
        "model": ["4", 0], "positive": ["6", 0], "negative": ["7", 0], "latent_image": ["5", 0]}},
  "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
  "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "ComfyUI", "images": ["8", 0]}}
}"#;

#[test]
fn an_api_prompt_imports_laid_out_and_exports_as_it_was() {
    let (catalog, import) = import(API_PROMPT);
    assert_eq!(import.canvas.nodes.len(), 7);
    assert_eq!(import.canvas.edges.len(), 9);
    assert_eq!(
        import
            .diagnostics
            .iter()
            .map(|d| d.code.as_str())
            .collect::<Vec<_>>(),
        ["no_layout"]
    );
    let node = |id: &str| import.canvas.nodes.iter().find(|n| n.id == id).unwrap();
    assert_eq!(node("6").label.as_deref(), Some("Positive"));
    assert_eq!(node("3").properties["sampler_name"], "euler");
    // Layered left to right: each step of the chain sits right of the one before.
    let x = |id: &str| node(id).position.x;
    assert!(x("4") < x("6") && x("6") < x("3") && x("3") < x("8") && x("8") < x("9"));
    // Exported again, the prompt is the one read (titles in `_meta`).
    let api = prompt(&catalog, &import);
    let mut expected: Value = serde_json::from_str(API_PROMPT).unwrap();
    for (id, entry) in expected.as_object_mut().unwrap() {
        assert_eq!(api.prompt[id.as_str()]["inputs"], entry["inputs"], "{id}");
        assert_eq!(api.prompt[id.as_str()]["class_type"], entry["class_type"]);
    }
    assert_eq!(api.prompt["6"]["_meta"]["title"], "Positive");
    assert_eq!(api.prompt.len(), 7);
    assert!(api.diagnostics.is_empty());

    // Into a catalogue that knows the classes from a workflow, the output
    // names and types are that workflow's: nothing is widened.
    let catalog = Catalog::builtin();
    let text = format!(r#"{{"nodes": [{LOADER}], "links": []}}"#);
    comfyui::import(&catalog, &text).unwrap();
    let before = catalog.get("CheckpointLoaderSimple").unwrap();
    let again = comfyui::import(&catalog, API_PROMPT).unwrap();
    let after = catalog.get("CheckpointLoaderSimple").unwrap();
    assert_eq!(before.version, after.version);
    assert!(
        again
            .canvas
            .edges
            .iter()
            .any(|e| e.source.node == "4" && e.source.port == "CLIP")
    );
    let api = prompt(&catalog, &again);
    assert_eq!(api.prompt["6"]["inputs"]["clip"], json!(["4", 1]));
    round_trip(API_PROMPT).unwrap();
}

/// What a canvas gives: validation, the API prompt and the SVG picture.
fn outputs(canvas: &Canvas) -> (Value, Value, String) {
    let api = comfyui::export_api_prompt(canvas);
    (
        serde_json::to_value(canvas.validate()).unwrap(),
        serde_json::to_value(&api.prompt).unwrap(),
        to_svg(canvas, &SvgOptions::default()),
    )
}

/// Import, then save and load into a fresh catalogue: the loaded canvas
/// validates, exports and renders as the imported one did.
fn round_trip(text: &str) -> Result<(), String> {
    let catalog = Catalog::builtin();
    let import = comfyui::import(&catalog, text).map_err(|e| e.to_string())?;
    let before =
        Canvas::from_document(catalog, import.canvas.clone()).map_err(|e| e.to_string())?;
    let saved = serde_json::to_string(&import.canvas).unwrap();
    let fresh = Catalog::builtin();
    let loaded = import_any(&fresh, &saved, None).map_err(|e| e.to_string())?;
    if loaded.format != Format::Native {
        return Err(format!("read back as {}", loaded.format));
    }
    let after = Canvas::from_document(fresh, loaded.canvas).map_err(|e| e.to_string())?;
    let (b, a) = (outputs(&before), outputs(&after));
    if b.0 != a.0 {
        return Err(format!("validation differs:\n{:#}\n{:#}", b.0, a.0));
    }
    if b.1 != a.1 {
        return Err("the API prompt differs".into());
    }
    if b.2 != a.2 {
        return Err("the SVG differs".into());
    }
    Ok(())
}

#[test]
fn an_imported_canvas_survives_a_save() {
    let text = format!(
        r#"{{"nodes": [{LOADER},
          {{"id": 2, "type": "CLIPTextEncode",
            "inputs": [{{"name": "clip", "type": "CLIP", "link": 2}}],
            "outputs": [{{"name": "CONDITIONING", "type": "CONDITIONING", "links": []}}],
            "widgets_values": ["a cat"]}}],
          "links": [[2, 1, 1, 2, 0, "CLIP"]]}}"#
    );
    round_trip(&text).unwrap();
    // Without the carried types the fresh catalogue knows none of them.
    let (_, import) = import(&text);
    let mut doc = import.canvas.clone();
    doc.metadata.remove(comfyui::NODE_TYPES_KEY);
    let canvas = Canvas::from_document(Catalog::builtin(), doc).unwrap();
    assert!(
        canvas
            .validate()
            .diagnostics
            .iter()
            .any(|d| d.code == "unknown_node_type")
    );
    // A document carrying something that is not a spec is refused clearly.
    let mut doc = import.canvas;
    doc.metadata
        .insert(comfyui::NODE_TYPES_KEY.into(), json!(r#"[{"type": 1}]"#));
    let err = comfyui::restore_types(&Catalog::builtin(), &doc).unwrap_err();
    assert_eq!(err.code(), "invalid_field");
    doc.metadata
        .insert(comfyui::NODE_TYPES_KEY.into(), json!([]));
    let err = comfyui::restore_types(&Catalog::builtin(), &doc).unwrap_err();
    assert_eq!(err.code(), "invalid_field");
}

#[test]
fn validate_of_an_imported_canvas_reports_doubly_fed_inputs() {
    let text = format!(
        r#"{{"nodes": [{LOADER},
          {{"id": 2, "type": "CLIPTextEncode",
            "inputs": [{{"name": "clip", "type": "CLIP", "link": 2}}],
            "outputs": [{{"name": "CONDITIONING", "type": "CONDITIONING", "links": []}}],
            "widgets_values": ["a cat"]}}],
          "links": [[2, 1, 1, 2, 0, "CLIP"]]}}"#
    );
    let (_, import) = import(&text);
    let mut doc = import.canvas;
    let mut extra = doc.edges[0].clone();
    extra.id = "99".into();
    doc.edges.push(extra);
    let saved = serde_json::to_string(&doc).unwrap();
    let catalog = Catalog::builtin();
    let loaded = import_any(&catalog, &saved, None).unwrap();
    let canvas = Canvas::from_document(catalog, loaded.canvas).unwrap();
    let report = canvas.validate();
    assert!(!report.valid);
    assert!(
        report
            .diagnostics
            .iter()
            .any(|d| d.code == "duplicate_edge" || d.code == "input_occupied"),
        "{:#?}",
        report.diagnostics
    );
}

// ---------------------------------------------------------------------------
// The real-world set.

fn workflows() -> Option<Vec<(String, String)>> {
    let dir = match std::env::var_os("REELGRAPH_COMFYUI_WORKFLOWS") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../target/comfyui-workflows/comfyui_workflow_templates_json/templates"),
    };
    if !dir.is_dir() {
        if std::env::var_os("CI").is_some() {
            panic!("the ComfyUI workflow set is missing at {}", dir.display());
        }
        eprintln!("NOTE: the ComfyUI workflow set is missing; run `make test-data`");
        return None;
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    Some(
        files
            .into_iter()
            .filter_map(|p| {
                let text = std::fs::read_to_string(&p).unwrap();
                let v: Value = serde_json::from_str(&text).ok()?;
                (v.get("nodes").is_some_and(Value::is_array)
                    && v.get("links").is_some_and(Value::is_array))
                .then(|| (p.file_name().unwrap().to_string_lossy().into_owned(), text))
            })
            .collect(),
    )
}

fn id_of(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

const EDITOR_ONLY: [&str; 5] = ["Note", "MarkdownNote", "PrimitiveNode", "Reroute", "Label"];

/// For every top-level input whose own `link` comes (through reroutes) from
/// a plain node that runs: (target, input name, source, slot) as the file says.
fn linked_inputs(wf: &Value) -> Vec<(String, String, String, u64)> {
    let subgraphs: Vec<String> = wf["definitions"]["subgraphs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| id_of(&d["id"]))
        .collect();
    let nodes: Vec<&Value> = wf["nodes"].as_array().unwrap().iter().collect();
    let node = |id: &str| {
        nodes
            .iter()
            .find(|n| id_of(&n["id"]).as_deref() == Some(id))
    };
    let link = |id: &str| {
        wf["links"].as_array().unwrap().iter().find_map(|l| {
            let f = |i: usize, k: &str| if l.is_array() { &l[i] } else { &l[k] };
            (id_of(f(0, "id")).as_deref() == Some(id))
                .then(|| (id_of(f(1, "origin_id")), f(2, "origin_slot").as_u64()))
        })
    };
    let runs = |n: &Value| {
        let class = n["type"].as_str().unwrap_or_default();
        n["mode"].as_i64().unwrap_or(0) == 0
            && !EDITOR_ONLY.contains(&class)
            && !subgraphs.iter().any(|s| s == class)
    };
    let mut out = Vec::new();
    for n in &nodes {
        if !runs(n) {
            continue;
        }
        let inputs = n["inputs"].as_array().cloned().unwrap_or_default();
        for input in &inputs {
            let name = input["name"].as_str().unwrap_or_default();
            let same_name = inputs.iter().filter(|i| i["name"] == input["name"]).count();
            if name.is_empty() || same_name > 1 {
                continue;
            }
            let mut at = id_of(&input["link"]);
            let mut found = None;
            for _ in 0..64 {
                let Some((Some(origin), Some(slot))) = at.as_deref().and_then(link) else {
                    break;
                };
                let Some(o) = node(&origin) else { break };
                if o["type"] == "Reroute" {
                    at = id_of(&o["inputs"][0]["link"]);
                    continue;
                }
                let outputs = o["outputs"].as_array().map_or(0, Vec::len) as u64;
                if runs(o) && slot < outputs {
                    found = Some((origin, slot));
                }
                break;
            }
            if let Some((origin, slot)) = found {
                out.push((id_of(&n["id"]).unwrap(), name.to_owned(), origin, slot));
            }
        }
    }
    out
}

#[test]
fn real_world_prompts_wire_what_each_input_names_and_survive_a_save() {
    let Some(set) = workflows() else { return };
    let mut failures = Vec::new();
    let (mut checked, mut guessed, mut prompts_guessing) = (0, 0, 0);
    for (name, text) in &set {
        let wf: Value = serde_json::from_str(text).unwrap();
        let (catalog, import) = import(text);
        let api = prompt(&catalog, &import);
        guessed += api.diagnostics.len();
        prompts_guessing += usize::from(!api.diagnostics.is_empty());
        for (target, input, source, slot) in linked_inputs(&wf) {
            checked += 1;
            let got = &api.prompt[target.as_str()]["inputs"][input.as_str()];
            if *got != json!([source, slot]) {
                failures.push(format!(
                    "{name}: {target}.{input} is {got}, the file's link says [{source}, {slot}]"
                ));
            }
        }
        if let Err(e) = round_trip(text) {
            failures.push(format!("{name}: round trip: {e}"));
        }
    }
    println!("{checked} linked inputs checked in {} workflows", set.len());
    println!("{guessed} nodes in {prompts_guessing} prompts send guessed widget names");
    assert!(checked > 0);
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn inputs_without_a_link_field_leave_links_to_decide() {
    // Hand-made files may leave `link` out of inputs (LiteGraph writes
    // `null`): then the `links` table is all there is, and it is kept.
    let text = r#"{"nodes": [
        {"id": 1, "type": "LoadImage", "outputs": [{"name": "IMAGE", "type": "IMAGE"}],
         "widgets_values": ["a.png", "image"]},
        {"id": 2, "type": "SaveImage", "inputs": [{"name": "images", "type": "IMAGE"}],
         "widgets_values": ["out"]}],
      "links": [[3, 1, 0, 2, 0, "IMAGE"]]}"#;
    let (_, import) = import(text);
    assert_eq!(edges(&import), [e("3", "1", "IMAGE", "2", "images")]);
    assert!(import.diagnostics.is_empty(), "{:#?}", import.diagnostics);
}
