//! Reading a ComfyUI (LiteGraph) workflow into plain structs, leniently:
//! entries that cannot be read are skipped with a diagnostic, never a panic.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use super::ordered_json::Json;
use super::{Diagnostics, Severity};
use crate::error::{Error, Result};
use crate::format::{UniqueNames, finite};
use crate::model::{Position, Viewport};

/// The id LiteGraph gives the input boundary node inside a subgraph definition.
pub(super) const SUBGRAPH_INPUT_NODE: &str = "-10";
/// The id of the output boundary node inside a subgraph definition.
pub(super) const SUBGRAPH_OUTPUT_NODE: &str = "-20";
/// Most input (and output) slots of a node that are read. No ComfyUI node
/// has more than a few dozen; node types look ports up by name one by one.
pub(super) const MAX_SLOTS: usize = 128;

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
    /// Read from an API prompt: no layout, no types.
    pub from_api: bool,
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
    /// What copying the node costs ([`Json::weight`] of the node object).
    pub weight: usize,
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
    /// The port name: `name` made unique and non-empty (`input_3`, `image#2`).
    pub port: String,
    /// ComfyUI's type string (`IMAGE`, `INT,FLOAT`, `*`, ...).
    pub ty: String,
    /// The widget this input belongs to (`widget: {name}`).
    pub widget: Option<String>,
    /// For inputs: the link id the slot names.
    pub link: Option<String>,
    /// For inputs: whether the slot has a `link` field at all (`null`
    /// included). Hand-made files may leave it out; then `links` decides.
    pub link_declared: bool,
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
    pub weight: usize,
}

/// Parses a workflow. Fails only when the text is not JSON or not a workflow.
pub(super) fn parse(text: &str, diags: &mut Diagnostics) -> Result<Workflow> {
    let root: Json = serde_json::from_str(text)?;
    let Some(entries) = root.as_object() else {
        return Err(not_a_workflow(format!(
            "the document is {}, expected an object with a `nodes` array",
            root.describe()
        )));
    };
    let nodes = match root.get("nodes") {
        Some(Json::Array(nodes)) => nodes,
        Some(other) => {
            return Err(not_a_workflow(format!(
                "`nodes` is {}, expected an array of node objects",
                other.describe()
            )));
        }
        None if super::api_import::is_api_prompt(entries) => {
            return Ok(super::api_import::workflow(entries, diags));
        }
        None => {
            return Err(not_a_workflow(
                "`nodes` is missing; a workflow lists its nodes in a `nodes` array".into(),
            ));
        }
    };
    let graph = parse_graph(&root, nodes, "", diags);

    let mut subgraphs = HashMap::new();
    let defs = match root.get("definitions") {
        None | Some(Json::Null) => &[][..],
        Some(d @ Json::Object(_)) => {
            array_field(d, "subgraphs", "definitions.subgraphs", "", diags)
        }
        Some(other) => {
            wrong_part(
                "definitions",
                other,
                "an object with `subgraphs`",
                "",
                diags,
            );
            &[]
        }
    };
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
        let nodes = array_field(def, "nodes", "nodes", &context, diags);
        let graph = parse_graph(def, nodes, &context, diags);
        let inputs = array_field(def, "inputs", "inputs", &context, diags)
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
        let v = viewport(ds);
        if v.is_none() {
            wrong_part(
                "extra.ds",
                ds,
                "{scale, offset: [x, y]} with a scale above 0",
                "",
                diags,
            );
        }
        v
    });
    let id = root.get("id").and_then(Json::as_id);
    Ok(Workflow {
        graph,
        subgraphs,
        meta,
        viewport,
        id,
        from_api: false,
    })
}

/// What the importer reads, for messages.
const FORMAT: &str = "a ComfyUI workflow";

fn not_a_workflow(found: String) -> Error {
    Error::WrongShape {
        format: FORMAT,
        found,
        hint: "import a workflow saved by the ComfyUI editor (Save, not Export (API)): an object with `nodes`, `links` and `groups` arrays",
    }
}

/// The viewport of `extra.ds` (`{scale, offset}`); LiteGraph's offset is in
/// canvas units, reelgraph's in screen pixels.
fn viewport(ds: &Json) -> Option<Viewport> {
    let zoom = ds.get("scale").and_then(Json::as_f64)?;
    let (x, y) = pair(ds.get("offset")?)?;
    (zoom.is_finite() && zoom > 0.0).then_some(Viewport {
        x: finite(x * zoom),
        y: finite(y * zoom),
        zoom,
    })
}

/// Reports a part of the workflow that is not in the shape it should be.
fn wrong_part(field: &str, found: &Json, expected: &str, context: &str, diags: &mut Diagnostics) {
    diags.push(
        Severity::Warning,
        "invalid_field",
        format!(
            "{context}`{field}` is {}, expected {expected}; it is left out",
            found.describe()
        ),
        "open the workflow in the ComfyUI editor and save it again",
    );
}

/// The array under `key` of `parent`: empty when absent or null, and empty
/// with a warning when it is something else.
fn array_field<'a>(
    parent: &'a Json,
    key: &str,
    field: &str,
    context: &str,
    diags: &mut Diagnostics,
) -> &'a [Json] {
    match parent.get(key) {
        Some(Json::Array(items)) => items,
        None | Some(Json::Null) => &[],
        Some(other) => {
            wrong_part(field, other, "an array", context, diags);
            &[]
        }
    }
}

/// The nodes, links and groups of the workflow or of a subgraph definition.
fn parse_graph(parent: &Json, nodes: &[Json], context: &str, diags: &mut Diagnostics) -> Graph {
    let mut graph = Graph::default();
    let mut node_ids = HashSet::new();
    for (i, raw) in nodes.iter().enumerate() {
        let Some(node) = parse_node(raw, context, diags) else {
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

    let links = array_field(parent, "links", "links", context, diags);
    let mut link_ids: HashMap<String, usize> = HashMap::new();
    for (i, raw) in links.iter().enumerate() {
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

    super::link_repair::repair(&mut graph, context, diags);

    let groups = array_field(parent, "groups", "groups", context, diags);
    for (i, raw) in groups.iter().enumerate() {
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
            weight: raw.weight(),
        });
    }
    graph
}

fn parse_node(raw: &Json, context: &str, diags: &mut Diagnostics) -> Option<WfNode> {
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
    let mut inputs = slots(raw.get("inputs"), true);
    let mut outputs = slots(raw.get("outputs"), false);
    for (slots, side) in [(&mut inputs, "inputs"), (&mut outputs, "outputs")] {
        if slots.len() > MAX_SLOTS {
            diags.push_node(
                Severity::Warning,
                "too_large",
                format!(
                    "{context}node `{id}` ({class}) has {} {side}, more than the {MAX_SLOTS} a node type takes; the first {MAX_SLOTS} are kept and links to the others are skipped",
                    slots.len()
                ),
                "no ComfyUI node has that many slots; check how the workflow was made",
                &id,
            );
            slots.truncate(MAX_SLOTS);
        }
    }
    name_ports(&mut inputs, "input");
    name_ports(&mut outputs, "output");
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
        weight: raw.weight(),
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
            port: String::new(),
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
            link_declared: input && s.get("link").is_some(),
        })
        .collect()
}

/// Gives each slot a unique, non-empty port name (`input_3`, `image#2`).
pub(super) fn name_ports(slots: &mut [Slot], fallback: &str) {
    let mut names = UniqueNames::default();
    for (k, s) in slots.iter_mut().enumerate() {
        s.port = if s.name.trim().is_empty() {
            names.claim(&format!("{fallback}_{k}"))
        } else {
            names.claim(&s.name)
        };
    }
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
