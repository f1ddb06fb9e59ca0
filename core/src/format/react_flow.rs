//! React Flow / Svelte Flow JSON, both ways.
//!
//! The shape is what `reactFlowInstance.toObject()` (and Svelte Flow's
//! equivalent) gives and what `setNodes` / `setEdges` / `setViewport` take:
//!
//! ```json
//! {
//!   "nodes": [{"id": "hero", "type": "character", "position": {"x": 0, "y": 0},
//!              "data": {"label": "Mara", "type_version": 1, "properties": {"name": "Mara"}},
//!              "width": 180, "selected": true}],
//!   "edges": [{"id": "e1", "source": "hero", "sourceHandle": "character",
//!              "target": "s1", "targetHandle": "characters"}],
//!   "viewport": {"x": 0, "y": 0, "zoom": 1},
//!   "reelgraph": {"id": "teaser", "name": "Teaser", "revision": 3, "groups": [], "metadata": {}}
//! }
//! ```
//!
//! **Nodes.** `id`, `type` (the reelgraph node type) and `position` map one
//! to one. reelgraph's own fields go in `data` under these keys:
//! - `data.label`: the node label (React Flow's default nodes show it);
//! - `data.type_version`: the node-type version the properties are written for;
//! - `data.properties`: the property values;
//! - `data.ui`: the node's `ui`, only when it cannot be spread (below).
//!
//! Everything else React Flow keeps on a node (`width`, `height`,
//! `measured`, `selected`, `dragging`, `style`, `className`, `parentId`,
//! `hidden`, `zIndex`, ...) is editor state, which reelgraph keeps in the
//! node's opaque `ui`. Export spreads a `ui` object onto the node; a `ui` that
//! is not an object, is an empty object, or has a key of its own named `id`,
//! `type`, `position` or `data`, goes to `data.ui` instead, so every `ui` round-trips
//! exactly. On import, `ui` is `data.ui` if present, else the node's other
//! fields; other keys an application put in `data` are kept in `ui.data`.
//!
//! **Edges.** `id`, `source`, `target`, and the port names as
//! `sourceHandle` / `targetHandle` (give your custom nodes' `<Handle>`s the
//! port names as ids). A canvas edge has no editor state, so an edge's other
//! fields (`type`, `animated`, `label`, `style`, `data`, ...) are kept in the
//! canvas metadata under `react_flow.edges.<edge id>` and put back on export.
//! An edge without a handle is connected to the node's only port on that
//! side; when there is no single port, it is left out with an `unknown_port`
//! diagnostic. An edge without an id gets `source.port->target.port` (cut to
//! 100 bytes), then `#2`, `#3`, ... for the next ones between the same ports;
//! ids the flow gives are never taken by a generated one.
//!
//! **Depth.** A value nested deeper than [`MAX_VALUE_DEPTH`], counted where it
//! lands (a property, a field of `ui` or `ui.data`, an edge's state in the
//! metadata, a metadata or group `ui` value), is left out with a warning
//! naming the node or edge and the field: `property_invalid` for a property,
//! `invalid_field` otherwise. So an import always reads back.
//!
//! **Canvas.** `viewport` is the canvas viewport. Canvas fields React Flow has
//! no place for (id, name, revision, timestamps, groups, metadata) travel in a
//! top-level `reelgraph` object, which React Flow ignores; without it an
//! import gets id `react-flow`.
//!
//! ```
//! use reelgraph::{Canvas, Catalog, Op};
//! use reelgraph::format::react_flow;
//! use serde_json::json;
//!
//! let mut canvas = Canvas::new(Catalog::builtin(), "teaser", "Teaser");
//! canvas.apply(vec![
//!     Op::add_node("hero", "character", json!({"name": "Mara"})),
//!     Op::add_node("s1", "shot", json!({"number": 1})),
//!     Op::connect(("hero", "character"), ("s1", "characters")),
//! ])?;
//! let flow = react_flow::export_canvas(&canvas);
//! let text = serde_json::to_string(&flow).unwrap();
//! assert!(text.contains(r#""sourceHandle":"character""#));
//!
//! let back = react_flow::import_json(canvas.catalog(), &text)?;
//! assert!(back.diagnostics.is_empty());
//! assert_eq!(back.canvas, canvas.to_document());
//! # Ok::<(), reelgraph::Error>(())
//! ```

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::canvas::{Canvas, now_rfc3339};
use crate::catalog::Catalog;
use crate::error::Result;
use crate::format::{Diagnostics, UniqueNames, cut_text, drop_deep, fits_depth};
use crate::limits::{MAX_LABEL_BYTES, MAX_VALUE_DEPTH, check_viewport};
use crate::model::{
    CANVAS_FORMAT, CanvasDocument, Edge, FORMAT_VERSION, Group, Node, PortRef, Position, Story,
    Viewport,
};
use crate::report::{Diagnostic, Severity};

/// Node keys React Flow owns; a `ui` with one of them is not spread.
const RESERVED: [&str; 4] = ["id", "type", "position", "data"];
/// Canvas id of an import without a `reelgraph` object.
const DEFAULT_ID: &str = "react-flow";
/// Where edge editor state is kept in the canvas metadata.
const META_KEY: &str = "react_flow";
/// Longest generated edge id before its `#n`, in bytes (ids take 128).
const MAX_GENERATED_ID_BYTES: usize = 100;

/// A React Flow / Svelte Flow flow object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ReactFlow {
    pub nodes: Vec<FlowNode>,
    #[serde(default)]
    pub edges: Vec<FlowEdge>,
    #[serde(default)]
    pub viewport: Viewport,
    /// Canvas fields React Flow has no place for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reelgraph: Option<FlowCanvas>,
}

/// A React Flow node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct FlowNode {
    pub id: String,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub node_type: Option<String>,
    #[serde(default)]
    pub position: Position,
    #[serde(default)]
    pub data: Map<String, Value>,
    /// Every other field (`width`, `selected`, `style`, ...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A React Flow edge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct FlowEdge {
    #[serde(default)]
    pub id: String,
    pub source: String,
    #[serde(rename = "sourceHandle", default)]
    pub source_handle: Option<String>,
    pub target: String,
    #[serde(rename = "targetHandle", default)]
    pub target_handle: Option<String>,
    /// Every other field (`type`, `animated`, `label`, ...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The canvas fields of a flow object, under its `reelgraph` key.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct FlowCanvas {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub revision: u64,
    #[serde(default)]
    pub created_at: String,
    #[serde(default)]
    pub updated_at: String,
    #[serde(default)]
    pub groups: Vec<Group>,
    #[serde(default, skip_serializing_if = "Story::is_empty")]
    pub story: Story,
    #[serde(default)]
    pub metadata: Map<String, Value>,
}

/// What [`import`] made of a flow object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct FlowImport {
    /// The canvas document (load it with [`Canvas::from_document`]).
    pub canvas: CanvasDocument,
    /// Unknown node types, edges to missing nodes or ports, missing handles,
    /// edges that break connection rules, property values that do not fit.
    pub diagnostics: Vec<Diagnostic>,
}

/// A canvas as a flow object.
pub fn export_canvas(canvas: &Canvas) -> ReactFlow {
    export(&canvas.to_document())
}

/// A canvas document as a flow object.
pub fn export(doc: &CanvasDocument) -> ReactFlow {
    let nodes = doc.nodes.iter().map(export_node).collect();
    let edge_ui = doc
        .metadata
        .get(META_KEY)
        .and_then(|m| m.get("edges"))
        .and_then(Value::as_object);
    let edges = doc
        .edges
        .iter()
        .map(|e| FlowEdge {
            id: e.id.clone(),
            source: e.source.node.clone(),
            source_handle: Some(e.source.port.clone()),
            target: e.target.node.clone(),
            target_handle: Some(e.target.port.clone()),
            extra: edge_ui
                .and_then(|m| m.get(&e.id))
                .and_then(Value::as_object)
                .map(|o| {
                    o.iter()
                        .filter(|(k, _)| !is_edge_key(k))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect();
    ReactFlow {
        nodes,
        edges,
        viewport: doc.viewport,
        reelgraph: Some(FlowCanvas {
            id: doc.id.clone(),
            name: doc.name.clone(),
            revision: doc.revision,
            created_at: doc.created_at.clone(),
            updated_at: doc.updated_at.clone(),
            groups: doc.groups.clone(),
            story: doc.story,
            metadata: doc.metadata.clone(),
        }),
    }
}

fn is_edge_key(k: &str) -> bool {
    matches!(
        k,
        "id" | "source" | "sourceHandle" | "target" | "targetHandle"
    )
}

fn export_node(node: &Node) -> FlowNode {
    let mut data = Map::new();
    if let Some(label) = &node.label {
        data.insert("label".into(), Value::String(label.clone()));
    }
    data.insert("type_version".into(), Value::from(node.type_version));
    data.insert("properties".into(), Value::Object(node.properties.clone()));
    let mut extra = Map::new();
    match &node.ui {
        Some(Value::Object(ui))
            if !ui.is_empty() && !ui.keys().any(|k| RESERVED.contains(&k.as_str())) =>
        {
            extra = ui.clone();
        }
        Some(ui) => {
            data.insert("ui".into(), ui.clone());
        }
        None => {}
    }
    FlowNode {
        id: node.id.clone(),
        node_type: Some(node.node_type.clone()),
        position: node.position,
        data,
        extra,
    }
}

/// Reads a flow object from JSON text (see [`import`]).
pub fn import_json(catalog: &Catalog, text: &str) -> Result<FlowImport> {
    let flow: ReactFlow = serde_json::from_str(text)?;
    import(catalog, flow)
}

/// Reads a flow object into a canvas document. Fails (`invalid_id`,
/// `duplicate_id`, `invalid_field`) only when the document could not be
/// loaded at all; everything else is kept as far as it goes and reported in
/// [`FlowImport::diagnostics`]: nodes of unknown types are kept (as a loaded
/// canvas keeps them), edges to missing nodes are kept and reported as
/// `dangling_edge`, edges with a handle that cannot be resolved are left out.
pub fn import(catalog: &Catalog, flow: ReactFlow) -> Result<FlowImport> {
    let mut diags = Diagnostics::default();
    let canvas_info = flow.reelgraph.unwrap_or_else(|| {
        let now = now_rfc3339();
        FlowCanvas {
            id: DEFAULT_ID.into(),
            created_at: now.clone(),
            updated_at: now,
            ..FlowCanvas::default()
        }
    });
    let mut metadata = canvas_info.metadata;
    // Metadata values sit one level down in the metadata object.
    drop_deep(&mut metadata, MAX_VALUE_DEPTH - 1, |key| {
        diags.push(
            Severity::Warning,
            "invalid_field",
            format!(
                "metadata field `{key}` is nested deeper than a canvas keeps ({MAX_VALUE_DEPTH} levels); it is left out"
            ),
            "flatten the value; lists and objects may nest at most 32 levels",
        );
    });
    let mut groups = canvas_info.groups;
    for g in &mut groups {
        if g.ui
            .as_ref()
            .is_some_and(|ui| !fits_depth(ui, MAX_VALUE_DEPTH))
        {
            g.ui = None;
            diags.push(
                Severity::Warning,
                "invalid_field",
                format!(
                    "the ui of group `{}` is nested deeper than a canvas keeps ({MAX_VALUE_DEPTH} levels); it is left out",
                    g.id
                ),
                "keep editor state flatter",
            );
        }
    }
    let mut nodes = Vec::with_capacity(flow.nodes.len());
    for n in flow.nodes {
        nodes.push(import_node(catalog, n, &mut diags));
    }
    let types: HashMap<&str, &str> = nodes
        .iter()
        .map(|n: &Node| (n.id.as_str(), n.node_type.as_str()))
        .collect();

    // Explicit ids first, so a generated one never takes an id a later edge names.
    let mut edge_ids = UniqueNames::default();
    for e in &flow.edges {
        if !e.id.is_empty() {
            edge_ids.reserve(&e.id);
        }
    }
    let mut edges = Vec::with_capacity(flow.edges.len());
    let mut edge_ui = Map::new();
    for e in flow.edges {
        let source_port = handle(catalog, &types, &e, false, &mut diags);
        let target_port = handle(catalog, &types, &e, true, &mut diags);
        let (Some(source_port), Some(target_port)) = (source_port, target_port) else {
            continue;
        };
        let id = if e.id.is_empty() {
            edge_ids.claim(&generated_id(&format!(
                "{}.{source_port}->{}.{target_port}",
                e.source, e.target
            )))
        } else {
            e.id
        };
        let mut extra = e.extra;
        // Kept at metadata.react_flow.edges.<id>.<field>: four levels down.
        drop_deep(&mut extra, MAX_VALUE_DEPTH - 4, |field| {
            diags.push_edge(
                Severity::Warning,
                "invalid_field",
                format!(
                    "field `{field}` of edge `{id}` is nested deeper than a canvas keeps ({MAX_VALUE_DEPTH} levels of metadata); it is left out"
                ),
                "keep edge state flatter",
                &id,
            );
        });
        if !extra.is_empty() {
            edge_ui.insert(id.clone(), Value::Object(extra));
        }
        edges.push(Edge {
            id,
            source: PortRef::new(e.source, source_port),
            target: PortRef::new(e.target, target_port),
        });
    }
    // Edge state of this flow replaces whatever the metadata held before.
    let rf = metadata
        .entry(META_KEY)
        .or_insert_with(|| Value::Object(Map::new()));
    match rf {
        Value::Object(m) if edge_ui.is_empty() => {
            m.remove("edges");
        }
        Value::Object(m) => {
            m.insert("edges".into(), Value::Object(edge_ui));
        }
        _ => {}
    }
    if metadata
        .get(META_KEY)
        .and_then(Value::as_object)
        .is_some_and(Map::is_empty)
    {
        metadata.remove(META_KEY);
    }

    let doc = CanvasDocument {
        format: CANVAS_FORMAT.into(),
        format_version: FORMAT_VERSION,
        id: canvas_info.id,
        name: canvas_info.name,
        revision: canvas_info.revision,
        created_at: canvas_info.created_at,
        updated_at: canvas_info.updated_at,
        nodes,
        edges,
        groups,
        viewport: match check_viewport(&flow.viewport) {
            Ok(()) => flow.viewport,
            Err(e) => {
                diags.push(
                    Severity::Warning,
                    "invalid_field",
                    format!("{e}; the default viewport is used"),
                    "give a zoom above 0",
                );
                Viewport::default()
            }
        },
        story: canvas_info.story,
        metadata,
    };
    // Loading checks ids; validation reports what does not fit.
    let canvas = Canvas::from_document(catalog.clone(), doc.clone())?;
    let by_id: HashMap<&str, &Node> = doc.nodes.iter().map(|n| (n.id.as_str(), n)).collect();
    for d in canvas.validate().diagnostics {
        let relevant = match d.code.as_str() {
            "unknown_node_type"
            | "unsupported_type_version"
            | "unknown_property"
            | "dangling_edge"
            | "unknown_port"
            | "type_mismatch"
            | "input_occupied"
            | "cycle" => true,
            // A value that is set and does not fit; not a required one left unset.
            "property_invalid" => d.node.as_deref().is_some_and(|node| {
                let name = d.property.as_deref().unwrap_or_default();
                by_id
                    .get(node)
                    .is_some_and(|n| n.properties.keys().any(|k| name.starts_with(k.as_str())))
            }),
            _ => false,
        };
        if relevant {
            diags.push_full(d);
        }
    }
    Ok(FlowImport {
        canvas: doc,
        diagnostics: diags.0,
    })
}

fn import_node(catalog: &Catalog, n: FlowNode, diags: &mut Diagnostics) -> Node {
    let node_type = n.node_type.unwrap_or_else(|| "default".into());
    let mut data = n.data;
    let label = match data.remove("label") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.len() > MAX_LABEL_BYTES => {
            diags.push_node(
                Severity::Warning,
                "invalid_field",
                format!(
                    "data.label of node `{}` is {} bytes long, more than a label takes ({MAX_LABEL_BYTES}); it is cut short",
                    n.id,
                    s.len()
                ),
                "give the node a shorter label",
                &n.id,
            );
            Some(cut_text(&s, MAX_LABEL_BYTES))
        }
        Some(Value::String(s)) => Some(s),
        Some(other) => {
            diags.push_node(
                Severity::Warning,
                "invalid_field",
                format!(
                    "data.label of node `{}` is not text; it is kept in ui.data.label",
                    n.id
                ),
                "give the label as a string",
                &n.id,
            );
            data.insert("label".into(), other);
            None
        }
    };
    let type_version = match data.remove("type_version") {
        Some(v) => match v.as_u64().and_then(|v| u32::try_from(v).ok()) {
            Some(v) if v > 0 => v,
            _ => {
                diags.push_node(
                    Severity::Warning,
                    "invalid_field",
                    format!(
                        "data.type_version of node `{}` is not a version number; the type's current version is assumed",
                        n.id
                    ),
                    "give type_version as a whole number from 1",
                    &n.id,
                );
                current_version(catalog, &node_type)
            }
        },
        None => current_version(catalog, &node_type),
    };
    let properties = match data.remove("properties") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(mut p)) => {
            drop_deep(&mut p, MAX_VALUE_DEPTH, |name| {
                diags.push_full(Diagnostic {
                    severity: Severity::Warning,
                    code: "property_invalid".into(),
                    message: format!(
                        "property `{name}` of node `{}` is nested deeper than {MAX_VALUE_DEPTH} levels; it is dropped",
                        n.id
                    ),
                    node: Some(n.id.clone()),
                    edge: None,
                    port: None,
                    property: Some(name.to_owned()),
                    hint: "flatten the value; lists and objects may nest at most 32 levels".into(),
                });
            });
            p
        }
        Some(other) => {
            diags.push_node(
                Severity::Warning,
                "invalid_field",
                format!("data.properties of node `{}` is not an object; it is kept in ui.data.properties", n.id),
                "give properties as an object of name: value",
                &n.id,
            );
            data.insert("properties".into(), other);
            Map::new()
        }
    };
    let mut too_deep = |what: String| {
        diags.push_node(
            Severity::Warning,
            "invalid_field",
            format!(
                "{what} of node `{}` is nested deeper than a canvas keeps ({MAX_VALUE_DEPTH} levels of ui); it is left out",
                n.id
            ),
            "keep editor state flatter; lists and objects may nest at most 32 levels",
            &n.id,
        );
    };
    let given_ui = match data.remove("ui") {
        Some(Value::Object(mut fields)) => {
            drop_deep(&mut fields, MAX_VALUE_DEPTH - 1, |k| {
                too_deep(format!("field `{k}` of data.ui"));
            });
            Some(Value::Object(fields))
        }
        Some(ui) if !fits_depth(&ui, MAX_VALUE_DEPTH) => {
            too_deep("data.ui".to_owned());
            None
        }
        other => other,
    };
    // Fields spread onto the node land in `ui`, data keys in `ui.data`.
    let mut extra = n.extra;
    drop_deep(&mut extra, MAX_VALUE_DEPTH - 1, |k| {
        too_deep(format!("field `{k}`"));
    });
    drop_deep(&mut data, MAX_VALUE_DEPTH - 2, |k| {
        too_deep(format!("field `data.{k}`"));
    });
    let mut ui = match given_ui {
        Some(ui) => Some(ui),
        None if extra.is_empty() => None,
        None => Some(Value::Object(Map::new())),
    };
    // Other fields and other data keys join the ui object.
    if !extra.is_empty() || !data.is_empty() {
        match &mut ui {
            Some(Value::Object(obj)) => {
                for (k, v) in extra {
                    obj.entry(k).or_insert(v);
                }
                if !data.is_empty() {
                    let slot = obj
                        .entry("data")
                        .or_insert_with(|| Value::Object(Map::new()));
                    if let Value::Object(d) = slot {
                        for (k, v) in data {
                            d.entry(k).or_insert(v);
                        }
                    }
                }
            }
            None => {
                ui = Some(Value::Object(Map::from_iter([(
                    "data".to_owned(),
                    Value::Object(data),
                )])));
            }
            Some(_) => diags.push_node(
                Severity::Warning,
                "invalid_field",
                format!(
                    "node `{}` has a data.ui that is not an object; its other React Flow fields are dropped",
                    n.id
                ),
                "keep editor state in an object",
                &n.id,
            ),
        }
    }
    Node {
        id: n.id,
        node_type,
        type_version,
        label,
        position: n.position,
        properties,
        ui,
    }
}

/// A generated edge id that is a valid id: no control characters, no
/// surrounding space, short enough for a `#n` to follow.
fn generated_id(base: &str) -> String {
    let mut id: String = base.chars().filter(|c| !c.is_control()).collect();
    if id.len() > MAX_GENERATED_ID_BYTES {
        let mut cut = MAX_GENERATED_ID_BYTES;
        while !id.is_char_boundary(cut) {
            cut -= 1;
        }
        id.truncate(cut);
    }
    let id = id.trim();
    if id.is_empty() {
        "edge".into()
    } else {
        id.to_owned()
    }
}

fn current_version(catalog: &Catalog, node_type: &str) -> u32 {
    catalog.get(node_type).map_or(1, |s| s.version)
}

/// The port an edge end names; a missing handle means the node's only port
/// on that side.
fn handle(
    catalog: &Catalog,
    types: &HashMap<&str, &str>,
    e: &FlowEdge,
    input: bool,
    diags: &mut Diagnostics,
) -> Option<String> {
    let (node, given) = if input {
        (&e.target, &e.target_handle)
    } else {
        (&e.source, &e.source_handle)
    };
    if let Some(h) = given.as_ref().filter(|h| !h.is_empty()) {
        return Some(h.clone());
    }
    let side = if input {
        "targetHandle"
    } else {
        "sourceHandle"
    };
    let edge = if e.id.is_empty() {
        format!("{}->{}", e.source, e.target)
    } else {
        e.id.clone()
    };
    let Some(ty) = types.get(node.as_str()) else {
        diags.push_edge(
            Severity::Error,
            "dangling_edge",
            format!(
                "edge `{edge}` has no {side} and node `{node}` does not exist; the edge is left out"
            ),
            "connect edges to existing nodes, with the port names as handles",
            &edge,
        );
        return None;
    };
    let ports: Vec<String> = catalog
        .get(ty)
        .map(|s| {
            if input {
                s.inputs.iter().map(|p| p.name.to_string()).collect()
            } else {
                s.outputs.iter().map(|p| p.name.to_string()).collect()
            }
        })
        .unwrap_or_default();
    if let [only] = ports.as_slice() {
        return Some(only.clone());
    }
    diags.push_full(Diagnostic {
        severity: Severity::Error,
        code: "unknown_port".into(),
        message: format!(
            "edge `{edge}` has no {side}, and node `{node}` ({ty}) has {} {} ports; the edge is left out",
            ports.len(),
            if input { "input" } else { "output" }
        ),
        node: Some(node.clone()),
        edge: Some(edge.clone()),
        port: None,
        property: None,
        hint: if ports.is_empty() {
            "this node has no ports on that side".into()
        } else {
            format!("set {side} to one of: {}", ports.join(", "))
        },
    });
    None
}
