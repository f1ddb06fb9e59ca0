//! ComfyUI workflow import and API prompt export: small hand-made fixtures for
//! the edge cases, then the real-world set (the ComfyUI workflow templates,
//! fetched by `scripts/fetch-comfyui-workflows.sh`).

// In a test, a failed unwrap is a failed test with its reason printed.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use reelgraph::format::comfyui::{self, Import};
use reelgraph::{Canvas, CanvasDocument, Catalog, PropertyKind};
use serde_json::{Value, json};

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/comfyui")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn import(catalog: &Catalog, name: &str) -> Import {
    comfyui::import(catalog, &fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn codes(import: &Import) -> Vec<&str> {
    import.diagnostics.iter().map(|d| d.code.as_str()).collect()
}

fn node<'a>(doc: &'a CanvasDocument, id: &str) -> &'a reelgraph::Node {
    doc.nodes
        .iter()
        .find(|n| n.id == id)
        .unwrap_or_else(|| panic!("no node {id}"))
}

fn edge_set(doc: &CanvasDocument) -> HashSet<(String, String, String, String)> {
    doc.edges
        .iter()
        .map(|e| {
            (
                e.source.node.clone(),
                e.source.port.clone(),
                e.target.node.clone(),
                e.target.port.clone(),
            )
        })
        .collect()
}

fn e(s: &str, sp: &str, t: &str, tp: &str) -> (String, String, String, String) {
    (s.into(), sp.into(), t.into(), tp.into())
}

#[test]
fn v04_workflow_imports_with_types_properties_layout_and_groups() {
    let catalog = Catalog::builtin();
    let import = import(&catalog, "v04_basic.json");
    assert!(import.diagnostics.is_empty(), "{:#?}", import.diagnostics);
    let doc = &import.canvas;
    assert_eq!((doc.nodes.len(), doc.edges.len()), (8, 9));
    assert_eq!(import.stats.nodes, 8);
    assert_eq!(
        import.registered_types,
        [
            "CLIPTextEncode",
            "CheckpointLoaderSimple",
            "EmptyLatentImage",
            "KSampler",
            "Note",
            "SaveImage",
            "VAEDecode"
        ]
    );

    let ks = catalog.get("KSampler").unwrap();
    assert_eq!(ks.category, "comfyui");
    let inputs: Vec<(&str, Vec<&str>)> = ks
        .inputs
        .iter()
        .map(|i| (&*i.name, i.accepts.0.iter().map(|t| t.as_str()).collect()))
        .collect();
    assert_eq!(
        inputs,
        [
            ("model", vec!["model"]),
            ("positive", vec!["conditioning"]),
            ("negative", vec!["conditioning"]),
            ("latent_image", vec!["latent"])
        ]
    );
    assert_eq!(ks.outputs[0].data_type.as_str(), "latent");
    let vae = catalog.get("VAEDecode").unwrap();
    assert_eq!(vae.outputs[0].data_type.as_str(), "image");

    // No names in a 0.4 file: KSampler's come from the built-in table.
    let sampler = node(doc, "3");
    assert_eq!(sampler.properties["seed"], json!(156680208700286_u64));
    assert_eq!(sampler.properties["control_after_generate"], "randomize");
    assert_eq!(sampler.properties["cfg"], json!(8));
    assert_eq!(ks.property("seed").unwrap().kind, PropertyKind::Integer);
    assert_eq!(node(doc, "6").label.as_deref(), Some("Positive"));
    assert_eq!(node(doc, "6").position.x, 415.0);
    // The `{"0": w, "1": h}` size and the other node fields are kept in ui.
    let ui = &node(doc, "4").ui.as_ref().unwrap()["comfyui"];
    assert_eq!(ui["size"], json!({"0": 315, "1": 98}));
    assert_eq!(
        ui["properties"]["Node name for S&R"],
        "CheckpointLoaderSimple"
    );
    assert_eq!(
        node(doc, "2").ui.as_ref().unwrap()["comfyui"]["color"],
        "#432"
    );

    assert!(edge_set(doc).contains(&e("4", "CLIP", "6", "clip")));
    assert!(edge_set(doc).contains(&e("8", "IMAGE", "9", "images")));
    assert_eq!(doc.viewport.zoom, 0.5);
    assert_eq!(doc.viewport.x, 50.0);
    assert_eq!(doc.metadata["comfyui"]["version"], json!(0.4));

    let group = &doc.groups[0];
    assert_eq!(group.label.as_deref(), Some("Prompts"));
    assert_eq!(group.nodes, ["6", "7"]);

    // The document is a valid canvas whose edges all fit.
    let canvas = Canvas::from_document(catalog, import.canvas).unwrap();
    let report = canvas.validate();
    assert!(report.valid, "{:#?}", report.diagnostics);
}

#[test]
fn v1_links_as_objects_and_declared_widget_names() {
    let catalog = Catalog::builtin();
    let import = import(&catalog, "v1_links_objects.json");
    assert!(import.diagnostics.is_empty(), "{:#?}", import.diagnostics);
    let doc = &import.canvas;
    assert_eq!(doc.id, "7c6a0e1e-7a55-4a6c-9a0e-6d1f1f0f0a01");
    assert_eq!((doc.nodes.len(), doc.edges.len()), (4, 3));
    assert_eq!(
        node(doc, "1").properties["unet_name"],
        "flux1-dev.safetensors"
    );
    assert_eq!(node(doc, "1").properties["weight_dtype"], "default");
    // The seed's control value gets its own name and does not affect output.
    let noise = node(doc, "2");
    assert_eq!(noise.properties["noise_seed"], json!(1234));
    assert_eq!(noise.properties["control_after_generate"], "fixed");
    let spec = catalog.get("RandomNoise").unwrap();
    assert!(
        !spec
            .property("control_after_generate")
            .unwrap()
            .affects_output
    );
    // A widget input fed by a link is still a port.
    assert!(edge_set(doc).contains(&e("3", "FLOAT", "4", "guidance")));
    assert_eq!(node(doc, "4").properties["steps"], json!(28));

    let canvas = Canvas::from_document(catalog, import.canvas).unwrap();
    let api = comfyui::export_api_prompt(&canvas);
    assert_eq!(api.prompt.len(), 4);
    assert_eq!(
        api.prompt["2"],
        json!({"class_type": "RandomNoise", "inputs": {"noise_seed": 1234}})
    );
    // The link replaces the widget value.
    assert_eq!(api.prompt["4"]["inputs"]["guidance"], json!(["3", 0]));
    assert_eq!(api.prompt["4"]["inputs"]["steps"], json!(28));
}

#[test]
fn subgraphs_are_flattened_with_instance_ids_and_widget_values() {
    let catalog = Catalog::builtin();
    let import = import(&catalog, "subgraph.json");
    assert!(import.diagnostics.is_empty(), "{:#?}", import.diagnostics);
    let doc = &import.canvas;
    let mut ids: Vec<&str> = doc.nodes.iter().map(|n| n.id.as_str()).collect();
    ids.sort();
    // Two instances of a 3-node definition, plus 3 top-level nodes; the
    // unused definition is not imported.
    assert_eq!(
        ids,
        [
            "10", "11:1", "11:2", "11:3", "12", "13:1", "13:2", "13:3", "14"
        ]
    );
    assert_eq!(import.stats.subgraph_instances, 2);
    assert_eq!(
        edge_set(doc),
        HashSet::from([
            e("10", "IMAGE", "11:1", "image"),
            e("11:1", "IMAGE", "11:2", "image"),
            e("11:2", "IMAGE", "12", "images"),
            e("11:2", "IMAGE", "13:1", "image"),
            e("13:1", "IMAGE", "13:2", "image"),
            e("13:2", "IMAGE", "14", "images"),
        ])
    );
    // Each instance's widget value reaches the inner widget it feeds.
    assert_eq!(node(doc, "11:1").properties["scale_by"], json!(2.0));
    assert_eq!(node(doc, "13:1").properties["scale_by"], json!(4.0));
    assert_eq!(node(doc, "11:1").properties["upscale_method"], "lanczos");
    let group = doc.groups.iter().find(|g| g.id == "subgraph:11").unwrap();
    assert_eq!(group.label.as_deref(), Some("Upscale and sharpen"));
    assert_eq!(group.nodes, ["11:1", "11:2", "11:3"]);
    assert!(
        catalog
            .get("a1b2c3d4-0000-4000-8000-00000000beef")
            .is_none()
    );

    let canvas = Canvas::from_document(catalog, import.canvas).unwrap();
    let api = comfyui::export_api_prompt(&canvas);
    let mut keys: Vec<&String> = api.prompt.keys().collect();
    keys.sort();
    assert_eq!(keys, ["10", "11:1", "11:2", "12", "13:1", "13:2", "14"]);
    assert_eq!(api.prompt["12"]["inputs"]["images"], json!(["11:2", 0]));
    assert_eq!(api.left_out.len(), 2); // the two MarkdownNotes
}

#[test]
fn broken_links_and_entries_are_reported_not_fatal() {
    let catalog = Catalog::builtin();
    let import = import(&catalog, "broken_link.json");
    let doc = &import.canvas;
    assert_eq!(doc.nodes.len(), 3);
    assert_eq!(
        edge_set(doc),
        HashSet::from([e("1", "IMAGE", "2", "images")])
    );
    let c = codes(&import);
    // Two unreadable nodes, four unreadable links, one unreadable group.
    assert_eq!(
        c.iter().filter(|c| **c == "invalid_field").count(),
        7,
        "{c:?}"
    );
    // Link 2 goes to input slot 5 of node 2, whose only input names link 1:
    // stale, dropped.
    let find = |code: &str, edge: &str| {
        import
            .diagnostics
            .iter()
            .find(|d| d.code == code && d.edge.as_deref() == Some(edge))
            .unwrap_or_else(|| panic!("no {code} for link {edge}: {c:?}"))
    };
    assert!(find("dangling_edge", "2").message.contains("stale"));
    // Node 3's input names link 6, which does not exist; link 3 goes there
    // and no input names it, so the input takes it...
    assert!(find("repaired_link", "3").message.contains("`6`"));
    // ...but it comes from output slot 7 of a node with two outputs.
    let slot = find("unknown_port", "3");
    assert!(!slot.hint.is_empty());
    assert_eq!(c.iter().filter(|c| **c == "unknown_port").count(), 1);
}

#[test]
fn duplicate_ids_keep_the_first() {
    let catalog = Catalog::builtin();
    let import = import(&catalog, "duplicate_link_id.json");
    let doc = &import.canvas;
    assert_eq!(doc.nodes.len(), 3);
    assert_eq!(node(doc, "3").node_type, "MaskToImage");
    assert_eq!(
        edge_set(doc),
        HashSet::from([e("1", "IMAGE", "2", "images")])
    );
    let dup: Vec<_> = import
        .diagnostics
        .iter()
        .filter(|d| d.code == "duplicate_id")
        .collect();
    assert_eq!(dup.len(), 3, "{:#?}", import.diagnostics);
    assert_eq!(dup[0].node.as_deref(), Some("3"));
    assert_eq!(dup[1].edge.as_deref(), Some("2"));
    assert!(dup[1].message.contains("different ends"));
    assert!(dup[2].message.contains("same ends"));
}

#[test]
fn dangling_links_are_skipped_with_the_missing_node_named() {
    let catalog = Catalog::builtin();
    let import = import(&catalog, "dangling_link.json");
    // Link 3 also goes to 2.images, but the input names link 2: stale.
    assert!(import.canvas.edges.is_empty());
    assert!(
        import
            .diagnostics
            .iter()
            .any(|d| d.code == "duplicate_edge" && d.edge.as_deref() == Some("3"))
    );
    let dangling: Vec<_> = import
        .diagnostics
        .iter()
        .filter(|d| d.code == "dangling_edge")
        .collect();
    assert_eq!(dangling.len(), 2);
    assert!(dangling[0].message.contains("`99`"));
    assert!(dangling[1].message.contains("`98`"));
    // Input 2.images names link 2, which dangles: no edge, input left free.
    let canvas = Canvas::from_document(catalog, import.canvas).unwrap();
    assert_eq!(canvas.edge_count(), 0);
}

#[test]
fn reroute_chains_collapse_into_direct_edges() {
    let catalog = Catalog::builtin();
    let import = import(&catalog, "reroute_chain.json");
    let doc = &import.canvas;
    assert_eq!(import.stats.reroutes, 3);
    assert!(doc.nodes.iter().all(|n| n.node_type != "Reroute"));
    assert_eq!(doc.nodes.len(), 4);
    assert_eq!(
        edge_set(doc),
        HashSet::from([e("1", "VAE", "4", "vae"), e("1", "VAE", "5", "vae")])
    );
    assert!(catalog.get("Reroute").is_none());
    // The reroute with nothing upstream carries nothing.
    assert_eq!(codes(&import), ["dangling_edge"]);
    assert_eq!(import.diagnostics[0].edge.as_deref(), Some("5"));
}

#[test]
fn widget_names_come_from_named_values_declared_inputs_layouts_or_positions() {
    let catalog = Catalog::builtin();
    let import = import(&catalog, "widget_names.json");
    let doc = &import.canvas;
    let names = |id: &str| -> Vec<String> {
        let mut k: Vec<String> = node(doc, id).properties.keys().cloned().collect();
        k.sort();
        k
    };
    // Declared widget inputs, with the seed's control value.
    assert_eq!(
        names("1"),
        [
            "cfg",
            "control_after_generate",
            "denoise",
            "sampler_name",
            "scheduler",
            "seed",
            "steps"
        ]
    );
    // Same class, same number of values, no names of its own: the layout.
    assert_eq!(names("2"), names("1"));
    assert_eq!(node(doc, "2").properties["scheduler"], "karras");
    // widgets_values_named.
    assert_eq!(node(doc, "3").properties["image"], "hero.png");
    assert_eq!(node(doc, "3").properties["upload"], "image");
    // Nothing to go by: positions.
    assert_eq!(names("4"), ["widget_0", "widget_1", "widget_2"]);
    assert_eq!(names("7"), ["widget_0", "widget_1", "widget_2", "widget_3"]);
    // A dict of widget values names itself; object values are objects.
    assert_eq!(node(doc, "5").properties["frame_rate"], json!(24));
    let vhs = catalog.get("VHS_VideoCombine").unwrap();
    assert_eq!(
        vhs.property("videopreview").unwrap().kind,
        PropertyKind::Object
    );
    assert_eq!(
        vhs.property("pingpong").unwrap().kind,
        PropertyKind::Boolean
    );
    let crop = catalog.get("ImageCropV2").unwrap();
    assert_eq!(crop.property("crop").unwrap().kind, PropertyKind::Object);
    assert_eq!(node(doc, "6").properties["crop"]["width"], json!(640));
    // cfg was 7.5 on one node and 5 on the other: float.
    let ks = catalog.get("KSampler").unwrap();
    assert_eq!(ks.property("cfg").unwrap().kind, PropertyKind::Float);
    assert_eq!(ks.property("steps").unwrap().kind, PropertyKind::Integer);
    assert_eq!(
        node(doc, "1").ui.as_ref().unwrap()["comfyui"]["widgets"],
        json!([
            "seed",
            "control_after_generate",
            "steps",
            "cfg",
            "sampler_name",
            "scheduler",
            "denoise"
        ])
    );
}

#[test]
fn merging_across_workflows_registers_a_union_as_a_new_version() {
    let catalog = Catalog::builtin();
    let first = import(&catalog, "v04_basic.json");
    let v1 = catalog.get("KSampler").unwrap();
    assert_eq!(v1.version, 1);
    // The same class with other widget names and more inputs.
    let second = import(&catalog, "widget_names.json");
    assert!(second.registered_types.contains(&"KSampler".to_string()));
    let v2 = catalog.get("KSampler").unwrap();
    assert_eq!(v2.version, 2);
    for input in &v1.inputs {
        assert!(v2.input(&input.name).is_some(), "{} kept", input.name);
    }
    assert!(v2.property("seed").is_some() && v2.property("denoise").is_some());
    // Output positions are kept, so slot indices stay right.
    assert_eq!(v1.outputs[0].name, v2.outputs[0].name);
    // Importing the first workflow again changes nothing.
    let again = import(&catalog, "v04_basic.json");
    assert!(
        again.registered_types.is_empty(),
        "{:?}",
        again.registered_types
    );
    // The earlier canvas still loads and validates against the newer types.
    let canvas = Canvas::from_document(catalog.clone(), first.canvas).unwrap();
    assert_eq!(canvas.migrations_applied().len(), 1);
    assert!(canvas.validate().valid, "{:#?}", canvas.validate());
}

#[test]
fn a_taken_type_name_is_registered_under_the_comfyui_prefix() {
    let catalog = Catalog::builtin();
    let text = r#"{"nodes": [{"id": 1, "type": "shot", "pos": [0, 0], "widgets_values": [1]}], "links": []}"#;
    let import = comfyui::import(&catalog, text).unwrap();
    assert_eq!(import.canvas.nodes[0].node_type, "comfyui.shot");
    assert_eq!(codes(&import), ["renamed_type"]);
    assert_eq!(catalog.get("shot").unwrap().category, "story");
    let canvas = Canvas::from_document(catalog, import.canvas).unwrap();
    let api = comfyui::export_api_prompt(&canvas);
    assert_eq!(api.prompt["1"]["class_type"], "shot");
}

#[test]
fn links_that_break_connection_rules_are_kept_and_reported() {
    let catalog = Catalog::builtin();
    // A loop, a self-loop, and two stale links into the self-looped input.
    let text = r#"{"nodes": [
        {"id": 1, "type": "A", "outputs": [{"name": "out", "type": "X", "links": [1]}], "inputs": [{"name": "in", "type": "X", "link": 3}]},
        {"id": 2, "type": "A", "outputs": [{"name": "out", "type": "X", "links": [2, 3]}], "inputs": [{"name": "in", "type": "X", "link": 1}]},
        {"id": 3, "type": "A", "outputs": [{"name": "out", "type": "X", "links": []}], "inputs": [{"name": "in", "type": "X", "link": 4}]}
      ],
      "links": [[1, 1, 0, 2, 0, "X"], [2, 2, 0, 3, 0, "X"], [3, 2, 0, 1, 0, "X"], [4, 3, 0, 3, 0, "X"], [5, 1, 0, 3, 0, "X"]]}"#;
    let import = comfyui::import(&catalog, text).unwrap();
    assert_eq!(import.canvas.edges.len(), 3);
    let mut c = codes(&import);
    c.sort();
    assert_eq!(
        c,
        ["cycle", "duplicate_edge", "duplicate_edge", "self_loop"],
        "{:#?}",
        import.diagnostics
    );
    let canvas = Canvas::from_document(catalog, import.canvas).unwrap();
    assert_eq!(canvas.edge_count(), 3);
    assert!(!canvas.validate().valid);
}

#[test]
fn polymorphic_outputs_are_any_and_feed_typed_inputs() {
    let catalog = Catalog::builtin();
    let text = r#"{"nodes": [
        {"id": 1, "type": "Switch", "outputs": [{"name": "output", "type": "IMAGE", "links": [1]}]},
        {"id": 2, "type": "Switch", "outputs": [{"name": "output", "type": "LATENT", "links": [2]}]},
        {"id": 3, "type": "SaveImage", "inputs": [{"name": "images", "type": "IMAGE", "link": 1}]},
        {"id": 4, "type": "VAEDecode", "inputs": [{"name": "samples", "type": "LATENT", "link": 2}]}
      ],
      "links": [[1, 1, 0, 3, 0, "IMAGE"], [2, 2, 0, 4, 0, "LATENT"]]}"#;
    let import = comfyui::import(&catalog, text).unwrap();
    assert!(import.diagnostics.is_empty(), "{:#?}", import.diagnostics);
    assert_eq!(
        catalog.get("Switch").unwrap().outputs[0].data_type.as_str(),
        "any"
    );
    // SaveImage still accepts only images (plus `any` outputs).
    let save = catalog.get("SaveImage").unwrap();
    assert_eq!(save.inputs[0].accepts.0.len(), 1);
    let canvas = Canvas::from_document(catalog, import.canvas).unwrap();
    assert!(canvas.validate().valid);
}

#[test]
fn bad_documents_are_errors_with_codes() {
    let catalog = Catalog::builtin();
    for (text, code) in [
        ("{", "invalid_json"),
        ("[]", "wrong_format"),
        (r#"{"links": []}"#, "wrong_format"),
        (r#"{"nodes": 5}"#, "wrong_format"),
    ] {
        let err = comfyui::import(&catalog, text).unwrap_err();
        assert_eq!(err.code(), code, "{text}");
    }
    // Weird but readable: nothing to import, no panic.
    let import = comfyui::import(
        &catalog,
        r#"{"nodes": [], "links": {"a": 1}, "groups": "x"}"#,
    )
    .unwrap();
    assert!(import.canvas.nodes.is_empty());
}

#[test]
fn bypassed_and_muted_nodes_are_left_out_of_the_prompt() {
    let catalog = Catalog::builtin();
    let text = r#"{"nodes": [
        {"id": 1, "type": "LoadImage", "outputs": [{"name": "IMAGE", "type": "IMAGE", "links": [1]}], "widgets_values": ["a.png", "image"]},
        {"id": 2, "type": "ImageInvert", "mode": 4, "inputs": [{"name": "image", "type": "IMAGE", "link": 1}], "outputs": [{"name": "IMAGE", "type": "IMAGE", "links": [2]}]},
        {"id": 3, "type": "SaveImage", "inputs": [{"name": "images", "type": "IMAGE", "link": 2}], "widgets_values": ["out"]},
        {"id": 4, "type": "SaveImage", "mode": 2, "inputs": [{"name": "images", "type": "IMAGE", "link": null}], "widgets_values": ["muted"]},
        {"id": 5, "type": "PrimitiveNode", "outputs": [{"name": "STRING", "type": "STRING", "links": [3], "widget": {"name": "filename_prefix"}}], "widgets_values": ["out"]}
      ],
      "links": [[1, 1, 0, 2, 0, "IMAGE"], [2, 2, 0, 3, 0, "IMAGE"], [3, 5, 0, 3, 1, "STRING"]]}"#;
    // Node 3 has one input listed, which names link 2: link 3 is stale.
    let import = comfyui::import(&catalog, text).unwrap();
    let canvas = Canvas::from_document(catalog, import.canvas).unwrap();
    let api = comfyui::export_api_prompt(&canvas);
    let mut keys: Vec<&String> = api.prompt.keys().collect();
    keys.sort();
    assert_eq!(keys, ["1", "3"]);
    // The link from the bypassed node passes through to its input.
    assert_eq!(api.prompt["3"]["inputs"]["images"], json!(["1", 0]));
    assert_eq!(api.prompt["3"]["inputs"]["filename_prefix"], "out");
    // LoadImage's upload button is editor-only.
    assert_eq!(api.prompt["1"]["inputs"], json!({"image": "a.png"}));
    assert!(api.diagnostics.is_empty(), "{:#?}", api.diagnostics);
    let reasons: BTreeMap<&str, &str> = api
        .left_out
        .iter()
        .map(|l| (l.node.as_str(), l.reason))
        .collect();
    assert_eq!(
        reasons,
        BTreeMap::from([("2", "bypassed"), ("4", "muted"), ("5", "editor_only")])
    );
}

// ---------------------------------------------------------------------------
// The real-world set.

/// Expected counts by the documented rule, computed straight from the JSON:
/// nodes are every node of the workflow and of every subgraph instance
/// (recursively) except Reroutes and instance nodes; edges are the links that
/// end at such a node's input and carry data from such a node's output.
struct Counter<'a> {
    defs: HashMap<String, &'a Value>,
    nodes: usize,
    edges: usize,
}

fn id_of(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

/// (id, origin, origin slot, target, target slot) of the graph's readable links, first id wins.
fn links_of(graph: &Value) -> Vec<(String, String, usize, String, usize)> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for l in graph["links"].as_array().into_iter().flatten() {
        let f = |i: usize, k: &str| if l.is_array() { l.get(i) } else { l.get(k) };
        let (Some(id), Some(o), Some(os), Some(t), Some(ts)) = (
            f(0, "id").and_then(id_of),
            f(1, "origin_id").and_then(id_of),
            f(2, "origin_slot").and_then(Value::as_u64),
            f(3, "target_id").and_then(id_of),
            f(4, "target_slot").and_then(Value::as_u64),
        ) else {
            continue;
        };
        if seen.insert(id.clone()) {
            out.push((id, o, os as usize, t, ts as usize));
        }
    }
    out
}

impl<'a> Counter<'a> {
    /// Counts one graph; `boundary[i]` says whether subgraph input i carries
    /// data from a real node. Returns the same for the graph's outputs.
    fn graph(&mut self, graph: &'a Value, boundary: &[bool], depth: usize) -> Vec<bool> {
        let mut nodes: HashMap<String, &Value> = HashMap::new();
        for n in graph["nodes"].as_array().into_iter().flatten() {
            if let (Some(id), Some(_)) = (id_of(&n["id"]), n["type"].as_str()) {
                nodes.entry(id).or_insert(n);
            }
        }
        let links = links_of(graph);
        let link_at: HashMap<&str, usize> = links
            .iter()
            .enumerate()
            .map(|(i, l)| (l.0.as_str(), i))
            .collect();
        // The link input `k` of node `n` names, if it is in the table.
        let input_link = |n: &Value, k: usize| {
            id_of(&n["inputs"][k]["link"]).and_then(|l| link_at.get(l.as_str()).copied())
        };
        let mut instance_out: HashMap<String, Vec<bool>> = HashMap::new();
        // Instances first (in file order), so their outputs are known.
        let mut order: Vec<&String> = nodes.keys().collect();
        order.sort_by_key(|id| {
            graph["nodes"]
                .as_array()
                .and_then(|a| a.iter().position(|n| id_of(&n["id"]).as_ref() == Some(*id)))
        });
        let mut kinds: HashMap<&str, &str> = HashMap::new();
        for id in &order {
            let class = nodes[*id]["type"].as_str().unwrap_or_default();
            kinds.insert(id.as_str(), class);
            if class != "Reroute" && !self.defs.contains_key(class) {
                self.nodes += 1;
            }
        }
        let def_ids: HashSet<String> = self.defs.keys().cloned().collect();
        // Resolving needs instance outputs, which need their inputs resolved:
        // iterate until nothing changes (graphs are small and acyclic).
        let resolves = |li: usize,
                        instance_out: &HashMap<String, Vec<bool>>,
                        links: &[(String, String, usize, String, usize)]|
         -> bool {
            let mut li = li;
            for _ in 0..links.len() + 1 {
                let (_, o, os, _, _) = &links[li];
                if o == "-10" && depth > 0 {
                    return boundary.get(*os).copied().unwrap_or(false);
                }
                let Some(n) = nodes.get(o) else { return false };
                let class = kinds[o.as_str()];
                if class == "Reroute" {
                    match input_link(n, 0) {
                        Some(up) => li = up,
                        None => return false,
                    }
                    continue;
                }
                if def_ids.contains(class) {
                    return instance_out
                        .get(o)
                        .and_then(|v| v.get(*os).copied())
                        .unwrap_or(false);
                }
                return *os < n["outputs"].as_array().map_or(0, Vec::len);
            }
            false
        };
        let instances: Vec<&String> = order
            .iter()
            .copied()
            .filter(|id| self.defs.contains_key(kinds[id.as_str()]))
            .collect();
        let mut pending: Vec<&String> = instances.clone();
        while !pending.is_empty() && depth < 16 {
            let before = pending.len();
            pending.retain(|id| {
                let inst = nodes[*id];
                let def = self.defs[kinds[id.as_str()]];
                // Inputs are ready when no link into the instance starts at a pending instance.
                let feeding: Vec<usize> = (0..inst["inputs"].as_array().map_or(0, Vec::len))
                    .filter_map(|k| input_link(inst, k))
                    .collect();
                let blocked = feeding.iter().any(|&i| {
                    let o = &links[i].1;
                    self.defs
                        .contains_key(kinds.get(o.as_str()).copied().unwrap_or(""))
                        && !instance_out.contains_key(o)
                });
                if blocked {
                    return true;
                }
                let inst_inputs = inst["inputs"].as_array().cloned().unwrap_or_default();
                let def_inputs: Vec<bool> = def["inputs"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| {
                        let slot = inst_inputs.iter().position(|s| s["name"] == p["name"]);
                        slot.and_then(|k| input_link(inst, k))
                            .is_some_and(|li| resolves(li, &instance_out, &links))
                    })
                    .collect();
                let out = self.graph(def, &def_inputs, depth + 1);
                instance_out.insert((*id).clone(), out);
                false
            });
            if pending.len() == before {
                break;
            }
        }
        let mut outputs = Vec::new();
        for (li, (_, _, _, t, ts)) in links.iter().enumerate() {
            if t == "-20" && depth > 0 && !nodes.contains_key(t) {
                if outputs.len() <= *ts {
                    outputs.resize(ts + 1, false);
                }
                outputs[*ts] = resolves(li, &instance_out, &links);
                continue;
            }
        }
        // The input's own `link` decides which link feeds it (first claim wins).
        let mut claimed = HashSet::new();
        for id in &order {
            let class = kinds[id.as_str()];
            if class == "Reroute" || self.defs.contains_key(class) {
                continue;
            }
            let n = nodes[*id];
            for k in 0..n["inputs"].as_array().map_or(0, Vec::len) {
                if let Some(li) = input_link(n, k)
                    && claimed.insert(li)
                    && resolves(li, &instance_out, &links)
                {
                    self.edges += 1;
                }
            }
        }
        outputs
    }
}

fn expected_counts(wf: &Value) -> (usize, usize) {
    let mut defs = HashMap::new();
    for d in wf["definitions"]["subgraphs"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if let Some(id) = id_of(&d["id"]) {
            defs.entry(id).or_insert(d);
        }
    }
    let mut c = Counter {
        defs,
        nodes: 0,
        edges: 0,
    };
    c.graph(wf, &[], 0);
    (c.nodes, c.edges)
}

#[test]
fn fixtures_match_the_counting_rule() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/comfyui");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names.len(), 8);
    for name in names {
        let text = fixture(&name);
        let wf: Value = serde_json::from_str(&text).unwrap();
        let import = comfyui::import(&Catalog::builtin(), &text).unwrap();
        assert_eq!(
            (import.canvas.nodes.len(), import.canvas.edges.len()),
            expected_counts(&wf),
            "{name}"
        );
    }
}

fn workflows_dir() -> PathBuf {
    match std::env::var_os("REELGRAPH_COMFYUI_WORKFLOWS") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../target/comfyui-workflows/comfyui_workflow_templates_json/templates"),
    }
}

/// A workflow, by shape: an object with a `nodes` array and a `links` array.
fn is_workflow(v: &Value) -> bool {
    v.get("nodes").is_some_and(Value::is_array) && v.get("links").is_some_and(Value::is_array)
}

#[test]
fn real_world_workflows_import_with_counts_preserved() {
    let dir = workflows_dir();
    if !dir.is_dir() {
        let note = format!(
            "the ComfyUI workflow set is missing at {}; run scripts/fetch-comfyui-workflows.sh (or set REELGRAPH_COMFYUI_WORKFLOWS)",
            dir.display()
        );
        if std::env::var_os("CI").is_some() {
            panic!("{note}");
        }
        eprintln!("\n**********\nNOTE: {note}.\nOnly the small fixture tests ran.\n**********\n");
        return;
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();

    // One catalogue for the whole set: classes met again are merged.
    let catalog = Catalog::builtin();
    let (mut workflows, mut nodes, mut edges, mut exported) = (0, 0, 0, 0);
    let (mut reroutes, mut instances) = (0, 0);
    let mut by_code: BTreeMap<String, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut total = Duration::ZERO;
    let mut slowest = (Duration::ZERO, String::new());
    let mut docs = Vec::new();
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(path).unwrap();
        let value: Value = serde_json::from_str(&text).unwrap();
        if !is_workflow(&value) {
            continue;
        }
        workflows += 1;
        let started = Instant::now();
        let import = match comfyui::import(&catalog, &text) {
            Ok(import) => import,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        let took = started.elapsed();
        total += took;
        if took > slowest.0 {
            slowest = (took, name.clone());
        }
        let expected = expected_counts(&value);
        let got = (import.canvas.nodes.len(), import.canvas.edges.len());
        if got != expected {
            failures.push(format!(
                "{name}: (nodes, edges) {got:?}, expected {expected:?}"
            ));
        }
        nodes += got.0;
        edges += got.1;
        reroutes += import.stats.reroutes;
        instances += import.stats.subgraph_instances;
        for d in &import.diagnostics {
            *by_code.entry(d.code.clone()).or_default() += 1;
        }
        match Canvas::from_document(catalog.clone(), import.canvas.clone()) {
            Ok(canvas) => {
                let api = comfyui::export_api_prompt(&canvas);
                if api.prompt.len() + api.left_out.len() != canvas.node_count() {
                    failures.push(format!("{name}: export does not account for every node"));
                }
                // Every link of the prompt points at an entry of the prompt.
                for (id, entry) in &api.prompt {
                    for (input, v) in entry["inputs"].as_object().unwrap() {
                        if let Some([Value::String(src), Value::Number(_)]) =
                            v.as_array().map(Vec::as_slice)
                            && !api.prompt.contains_key(src)
                        {
                            failures.push(format!("{name}: {id}.{input} reads missing {src}"));
                        }
                    }
                }
                exported += api.prompt.len();
            }
            Err(e) => failures.push(format!("{name}: the document does not load: {e}")),
        }
        docs.push((name, import));
    }

    // Merging is sound: every canvas still loads against the final catalogue,
    // and no edge stops fitting its ports (beyond those reported at import).
    let mut broken_later = 0;
    for (name, import) in &docs {
        let reported: HashSet<&str> = import
            .diagnostics
            .iter()
            .filter_map(|d| d.edge.as_deref())
            .collect();
        let canvas = Canvas::from_document(catalog.clone(), import.canvas.clone()).unwrap();
        for d in canvas.validate().diagnostics {
            let edge_problem = matches!(d.code.as_str(), "type_mismatch" | "unknown_port");
            if d.code == "unknown_node_type"
                || d.code == "unsupported_type_version"
                || (edge_problem && !d.edge.as_deref().is_some_and(|e| reported.contains(e)))
            {
                broken_later += 1;
                failures.push(format!("{name}: after all imports: {}", d.message));
            }
        }
    }

    println!("\nComfyUI workflow set: {}", dir.display());
    println!("  files            {}", files.len());
    println!("  workflows        {workflows} (the rest are index/metadata files)");
    println!("  nodes            {nodes}");
    println!("  edges            {edges}");
    println!("  reroutes         {reroutes} collapsed");
    println!("  subgraphs        {instances} instances expanded");
    println!("  exported         {exported} API prompt entries");
    println!(
        "  node types       {}",
        catalog
            .types()
            .iter()
            .filter(|t| t.category == "comfyui")
            .count()
    );
    println!("  diagnostics      {}", by_code.values().sum::<usize>());
    for (code, n) in &by_code {
        println!("    {code:<18} {n}");
    }
    println!("  import time      {total:?} in total");
    println!("  slowest          {:?} {}", slowest.0, slowest.1);
    assert_eq!(broken_later, 0);
    assert!(workflows > 0, "no workflow in {}", dir.display());
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Every value of every fixture, replaced in turn by values of the wrong
/// shape: the import gives a result or an error, never a panic, and what it
/// gives loads as a canvas.
#[test]
fn mangled_workflows_never_panic() {
    fn paths(v: &Value, at: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
        out.push(at.clone());
        match v {
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    at.push(i.to_string());
                    paths(item, at, out);
                    at.pop();
                }
            }
            Value::Object(map) => {
                for (k, item) in map {
                    at.push(k.clone());
                    paths(item, at, out);
                    at.pop();
                }
            }
            _ => {}
        }
    }
    fn slot<'a>(v: &'a mut Value, path: &[String]) -> &'a mut Value {
        path.iter().fold(v, |v, key| match v {
            Value::Array(items) => &mut items[key.parse::<usize>().unwrap()],
            Value::Object(map) => map.get_mut(key).unwrap(),
            _ => unreachable!(),
        })
    }
    let wrong = [
        json!(null),
        json!(-1),
        json!(1e300),
        json!("x"),
        json!([]),
        json!({}),
        json!([[1, 2, 3, 4, 5, 6]]),
    ];
    let mut runs = 0;
    for name in [
        "v04_basic.json",
        "subgraph.json",
        "reroute_chain.json",
        "widget_names.json",
    ] {
        let original: Value = serde_json::from_str(&fixture(name)).unwrap();
        let mut all = Vec::new();
        paths(&original, &mut Vec::new(), &mut all);
        for path in all.iter().filter(|p| !p.is_empty()) {
            for w in &wrong {
                let mut v = original.clone();
                *slot(&mut v, path) = w.clone();
                let catalog = Catalog::empty();
                if let Ok(import) = comfyui::import(&catalog, &v.to_string()) {
                    let canvas = Canvas::from_document(catalog, import.canvas)
                        .unwrap_or_else(|e| panic!("{name} at {path:?} = {w}: {e}"));
                    let _ = comfyui::export_api_prompt(&canvas);
                }
                runs += 1;
            }
        }
    }
    assert!(runs > 1000, "{runs}");
}
