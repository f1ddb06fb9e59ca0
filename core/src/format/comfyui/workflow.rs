//! Reading a ComfyUI (LiteGraph) workflow into plain structs, leniently:
//! entries that cannot be read are skipped with a diagnostic, never a panic.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use super::json::Json;
use super::{Diagnostics, Severity};
use crate::error::{Error, Result};
use crate::model::{Position, Viewport};

/// The id LiteGraph gives the input boundary node inside a subgraph definition.
pub(super) const SUBGRAPH_INPUT_NODE: &str = "-10";
/// The id of the output boundary node inside a subgraph definition.
pub(super) const SUBGRAPH_OUTPUT_NODE: &str = "-20";

/// Node fields the importer maps itself; every other field goes to `ui.comfyui`.
const MAPPED_NODE_FIELDS: [&str; 8] = [
    "id",
    "type",
    "pos",
    "title",
    "inputs",
    "outputs",
    "widgets_values",
    "widgets_values_named",
];

#[derive(Debug)]
pub(super) struct Workflow {
    pub graph: Graph,
    pub subgraphs: HashMap<String, Subgraph>,
    /// Top-level fields other than nodes, links, groups and definitions.
    pub meta: Map<String, Value>,
    pub viewport: Option<Viewport>,
    pub id: Option<String>,
}

#[derive(Debug, Default)]
pub(super) struct Graph {
    pub nodes: Vec<WfNode>,
    pub links: Vec<WfLink>,
    pub groups: Vec<WfGroup>,
}

#[derive(Debug)]
pub(super) struct Subgraph {
    /// 1, 2, ... in definition order (0 is the top level).
    pub index: usize,
    pub name: String,
    pub graph: Graph,
    pub inputs: Vec<String>,
}

#[derive(Debug)]
pub(super) struct WfNode {
    pub id: String,
    pub class: String,
    pub title: Option<String>,
    pub pos: Position,
    pub size: Option<(f64, f64)>,
    pub mode: i64,
    pub inputs: Vec<Slot>,
    pub outputs: Vec<Slot>,
    pub widgets: Widgets,
    /// The other fields of the node object, kept for `ui.comfyui`.
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone)]
pub(super) enum Widgets {
    None,
    /// `widgets_values` as an array, with `widgets_values_named` when present.
    Positional {
        values: Vec<Value>,
        named: Option<Vec<(String, Value)>>,
    },
    /// `widgets_values` as an object (VHS nodes): the keys are the widget names.
    Named(Vec<(String, Value)>),
}

#[derive(Debug, Clone)]
pub(super) struct Slot {
    pub name: String,
    /// ComfyUI's type string (`IMAGE`, `INT,FLOAT`, `*`, ...).
    pub ty: String,
    /// The widget this input belongs to (`widget: {name}`).
    pub widget: Option<String>,
    /// For inputs: the link id the slot names.
    pub link: Option<String>,
}

#[derive(Debug, Clone)]
pub(super) struct WfLink {
    pub id: String,
    pub origin: String,
    pub origin_slot: usize,
    pub target: String,
    pub target_slot: usize,
}

#[derive(Debug)]
pub(super) struct WfGroup {
    pub id: Option<String>,
    pub title: Option<String>,
    pub bounding: Option<[f64; 4]>,
    pub extra: Map<String, Value>,
}

/// Parses a workflow. Fails only when the text is not JSON or not a workflow.
pub(super) fn parse(text: &str, diags: &mut Diagnostics) -> Result<Workflow> {
    let root: Json = serde_json::from_str(text)?;
    let Some(entries) = root.as_object() else {
        return Err(not_a_workflow("the document is not a JSON object"));
    };
    let Some(nodes) = root.get("nodes").and_then(Json::as_array) else {
        let api_prompt =
            !entries.is_empty() && entries.iter().all(|(_, v)| v.get("class_type").is_some());
        return Err(not_a_workflow(if api_prompt {
            "this is a ComfyUI API prompt (`{id: {class_type, inputs}}`), not an editor workflow; export the workflow from the editor (Save, not Export (API))"
        } else {
            "there is no `nodes` array"
        }));
    };
    let links = root.get("links").unwrap_or(&Json::Null);
    let groups = root.get("groups").unwrap_or(&Json::Null);
    let graph = parse_graph(nodes, links, groups, "", diags);

    let mut subgraphs = HashMap::new();
    let defs = root
        .get("definitions")
        .and_then(|d| d.get("subgraphs"))
        .and_then(Json::as_array)
        .unwrap_or_default();
    for (i, def) in defs.iter().enumerate() {
        let Some(id) = def.get("id").and_then(Json::as_id) else {
            diags.push(
                Severity::Warning,
                "invalid_field",
                format!("subgraph definition {i} has no id and is ignored"),
                "give every subgraph definition an `id`",
            );
            continue;
        };
        let name = def
            .get("name")
            .and_then(Json::as_str)
            .unwrap_or(&id)
            .to_owned();
        let context = format!("subgraph `{name}`: ");
        let graph = parse_graph(
            def.get("nodes")
                .and_then(Json::as_array)
                .unwrap_or_default(),
            def.get("links").unwrap_or(&Json::Null),
            def.get("groups").unwrap_or(&Json::Null),
            &context,
            diags,
        );
        let inputs = def
            .get("inputs")
            .and_then(Json::as_array)
            .unwrap_or_default()
            .iter()
            .map(|p| {
                p.get("name")
                    .and_then(Json::as_str)
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect();
        if subgraphs.contains_key(&id) {
            diags.push(
                Severity::Warning,
                "duplicate_id",
                format!("subgraph definition `{id}` is defined twice; the first is used"),
                "remove the second definition",
            );
            continue;
        }
        subgraphs.insert(
            id,
            Subgraph {
                index: subgraphs.len() + 1,
                name,
                graph,
                inputs,
            },
        );
    }

    let mut meta = Map::new();
    for (k, v) in entries {
        if !matches!(k.as_str(), "nodes" | "links" | "groups" | "definitions") {
            meta.insert(k.clone(), v.to_value());
        }
    }
    let viewport = root.get("extra").and_then(|e| e.get("ds")).and_then(|ds| {
        let zoom = ds.get("scale").and_then(Json::as_f64)?;
        let (x, y) = pair(ds.get("offset")?)?;
        (zoom.is_finite() && zoom > 0.0).then_some(Viewport {
            x: x * zoom,
            y: y * zoom,
            zoom,
        })
    });
    let id = root.get("id").and_then(Json::as_id);
    Ok(Workflow {
        graph,
        subgraphs,
        meta,
        viewport,
        id,
    })
}

fn not_a_workflow(why: &str) -> Error {
    Error::WrongFormat {
        found: format!("not a ComfyUI workflow: {why}"),
    }
}

fn parse_graph(
    nodes: &[Json],
    links: &Json,
    groups: &Json,
    context: &str,
    diags: &mut Diagnostics,
) -> Graph {
    let mut graph = Graph::default();
    let mut node_ids = HashSet::new();
    for (i, raw) in nodes.iter().enumerate() {
        let Some(node) = parse_node(raw) else {
            diags.push(
                Severity::Warning,
                "invalid_field",
                format!("{context}nodes[{i}] has no usable `id` and `type` and is skipped"),
                "every node needs an `id` (number or string) and a `type` (its class name)",
            );
            continue;
        };
        if !node_ids.insert(node.id.clone()) {
            diags.push_node(
                Severity::Warning,
                "duplicate_id",
                format!(
                    "{context}node id `{}` appears twice; the second node ({}) is skipped",
                    node.id, node.class
                ),
                "give every node its own id",
                &node.id,
            );
            continue;
        }
        graph.nodes.push(node);
    }

    let mut link_ids: HashMap<String, usize> = HashMap::new();
    for (i, raw) in links.as_array().unwrap_or_default().iter().enumerate() {
        let Some(link) = parse_link(raw) else {
            diags.push(
                Severity::Warning,
                "invalid_field",
                format!("{context}links[{i}] is not a readable link and is skipped"),
                "a link is [id, origin_id, origin_slot, target_id, target_slot, type] or an object with those fields",
            );
            continue;
        };
        if let Some(&first) = link_ids.get(&link.id) {
            let same = {
                let f: &WfLink = &graph.links[first];
                f.origin == link.origin
                    && f.origin_slot == link.origin_slot
                    && f.target == link.target
                    && f.target_slot == link.target_slot
            };
            diags.push_edge(
                Severity::Warning,
                "duplicate_id",
                format!(
                    "{context}link id `{}` appears twice{}; the first is used",
                    link.id,
                    if same {
                        " with the same ends"
                    } else {
                        " with different ends"
                    }
                ),
                "give every link its own id",
                &link.id,
            );
            continue;
        }
        link_ids.insert(link.id.clone(), graph.links.len());
        graph.links.push(link);
    }

    for node in &graph.nodes {
        for input in &node.inputs {
            let Some(link) = &input.link else { continue };
            if !link_ids.contains_key(link) {
                diags.push_edge(
                    Severity::Warning,
                    "dangling_edge",
                    format!(
                        "{context}input `{}` of node `{}` names link `{link}`, which is not in `links`; the input is left unconnected",
                        input.name, node.id
                    ),
                    "reconnect the input in ComfyUI",
                    link,
                );
            }
        }
    }

    for (i, raw) in groups.as_array().unwrap_or_default().iter().enumerate() {
        let Some(entries) = raw.as_object() else {
            diags.push(
                Severity::Warning,
                "invalid_field",
                format!("{context}groups[{i}] is not an object and is skipped"),
                "a group is {title, bounding: [x, y, width, height]}",
            );
            continue;
        };
        let bounding = raw.get("bounding").and_then(|b| {
            let b = b.as_array()?;
            let v: Vec<f64> = b.iter().filter_map(Json::as_f64).collect();
            (v.len() == 4 && b.len() == 4).then(|| [v[0], v[1], v[2], v[3]])
        });
        let mut extra = Map::new();
        for (k, v) in entries {
            if !matches!(k.as_str(), "id" | "title") {
                extra.insert(k.clone(), v.to_value());
            }
        }
        graph.groups.push(WfGroup {
            id: raw.get("id").and_then(Json::as_id),
            title: raw.get("title").and_then(Json::as_str).map(str::to_owned),
            bounding,
            extra,
        });
    }
    graph
}

fn parse_node(raw: &Json) -> Option<WfNode> {
    let entries = raw.as_object()?;
    let id = raw.get("id").and_then(Json::as_id)?;
    let class = raw.get("type").and_then(Json::as_str)?.to_owned();
    if class.is_empty() {
        return None;
    }
    let pos = raw
        .get("pos")
        .and_then(pair)
        .map_or_else(Position::default, |(x, y)| Position::new(x, y));
    let size = raw.get("size").and_then(pair);
    let mode = raw
        .get("mode")
        .and_then(Json::as_f64)
        .map_or(0, |m| m as i64);
    let inputs = slots(raw.get("inputs"), true);
    let outputs = slots(raw.get("outputs"), false);
    let widgets = match raw.get("widgets_values") {
        Some(Json::Array(values)) => Widgets::Positional {
            values: values.iter().map(Json::to_value).collect(),
            named: raw
                .get("widgets_values_named")
                .and_then(Json::as_object)
                .map(|entries| {
                    entries
                        .iter()
                        .map(|(k, v)| (k.clone(), v.to_value()))
                        .collect()
                }),
        },
        Some(Json::Object(entries)) => Widgets::Named(
            entries
                .iter()
                .map(|(k, v)| (k.clone(), v.to_value()))
                .collect(),
        ),
        _ => Widgets::None,
    };
    let mut extra = Map::new();
    for (k, v) in entries {
        if !MAPPED_NODE_FIELDS.contains(&k.as_str()) {
            extra.insert(k.clone(), v.to_value());
        }
    }
    Some(WfNode {
        id,
        class,
        title: raw.get("title").and_then(Json::as_str).map(str::to_owned),
        pos,
        size,
        mode,
        inputs,
        outputs,
        widgets,
        extra,
    })
}

fn slots(raw: Option<&Json>, input: bool) -> Vec<Slot> {
    raw.and_then(Json::as_array)
        .unwrap_or_default()
        .iter()
        .map(|s| Slot {
            name: s
                .get("name")
                .and_then(Json::as_str)
                .unwrap_or_default()
                .to_owned(),
            ty: match s.get("type") {
                Some(Json::String(t)) => t.clone(),
                // Old workflows write a converted combo's options as the type.
                Some(Json::Array(_)) => "COMBO".into(),
                _ => "*".into(),
            },
            widget: s
                .get("widget")
                .and_then(|w| w.get("name"))
                .and_then(Json::as_str)
                .map(str::to_owned),
            link: if input {
                s.get("link").and_then(Json::as_id)
            } else {
                None
            },
        })
        .collect()
}

fn parse_link(raw: &Json) -> Option<WfLink> {
    match raw {
        Json::Array(items) => Some(WfLink {
            id: items.first()?.as_id()?,
            origin: items.get(1)?.as_id()?,
            origin_slot: items.get(2)?.as_index()?,
            target: items.get(3)?.as_id()?,
            target_slot: items.get(4)?.as_index()?,
        }),
        Json::Object(_) => Some(WfLink {
            id: raw.get("id")?.as_id()?,
            origin: raw.get("origin_id")?.as_id()?,
            origin_slot: raw.get("origin_slot")?.as_index()?,
            target: raw.get("target_id")?.as_id()?,
            target_slot: raw.get("target_slot")?.as_index()?,
        }),
        _ => None,
    }
}

/// `[x, y]`, or the `{"0": x, "1": y}` that old LiteGraph wrote for typed arrays.
fn pair(raw: &Json) -> Option<(f64, f64)> {
    let (x, y) = match raw {
        Json::Array(items) if items.len() >= 2 => (items[0].as_f64()?, items[1].as_f64()?),
        Json::Object(_) => (raw.get("0")?.as_f64()?, raw.get("1")?.as_f64()?),
        _ => return None,
    };
    (x.is_finite() && y.is_finite()).then_some((x, y))
}
