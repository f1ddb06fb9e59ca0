//! Reading a ComfyUI API prompt (`{"<id>": {"class_type", "inputs",
//! "_meta"}}`, what Export (API) saves and `/prompt` runs) as a workflow
//! with no layout: an input whose value is `["<node id>", <slot>]` naming a
//! node of the prompt is a link, every other input a widget of that name.
//! The prompt says nothing of types or output names: an output is named as
//! the catalogue's type of that class names its slot (`output_<slot>`
//! otherwise), and its type is `*` unless that type says more.

use std::collections::{HashMap, HashSet};

use serde_json::Map;

use super::ordered_json::Json;
use super::types::input_types;
use super::workflow::{Graph, Slot, WfLink, WfNode, Widgets, Workflow, name_ports};
use super::{CATEGORY, Diagnostics, Severity};
use crate::catalog::Catalog;
use crate::model::{DataType, Position};

/// Whether a document is an API prompt: a non-empty object whose every
/// entry has a `class_type`.
pub(super) fn is_api_prompt(entries: &[(String, Json)]) -> bool {
    !entries.is_empty() && entries.iter().all(|(_, v)| v.get("class_type").is_some())
}

/// The prompt as a one-level workflow whose nodes all sit at the origin.
pub(super) fn workflow(entries: &[(String, Json)], diags: &mut Diagnostics) -> Workflow {
    let ids: HashSet<&str> = entries.iter().map(|(id, _)| id.as_str()).collect();
    let mut graph = Graph::default();
    let mut seen = HashSet::new();
    let mut wanted_outputs: HashMap<String, usize> = HashMap::new();
    for (id, entry) in entries {
        let Some(class) = entry
            .get("class_type")
            .and_then(Json::as_str)
            .filter(|c| !c.is_empty())
        else {
            diags.push_node(
                Severity::Warning,
                "invalid_field",
                format!("prompt entry `{id}` has no class name in `class_type` and is skipped"),
                "every entry needs a `class_type` string",
                id,
            );
            continue;
        };
        if !seen.insert(id.as_str()) {
            diags.push_node(
                Severity::Warning,
                "duplicate_id",
                format!("prompt entry `{id}` appears twice; the second is skipped"),
                "give every entry its own id",
                id,
            );
            continue;
        }
        let mut inputs = Vec::new();
        let mut widgets = Vec::new();
        for (name, value) in entry
            .get("inputs")
            .and_then(Json::as_object)
            .unwrap_or_default()
        {
            match as_link(value, &ids) {
                Some((origin, slot)) => {
                    let link = (graph.links.len() + 1).to_string();
                    graph.links.push(WfLink {
                        id: link.clone(),
                        origin: origin.clone(),
                        origin_slot: slot,
                        target: id.clone(),
                        target_slot: inputs.len(),
                    });
                    let wanted = wanted_outputs.entry(origin).or_default();
                    *wanted = (*wanted).max(slot + 1);
                    inputs.push(Slot {
                        name: name.clone(),
                        port: String::new(),
                        ty: "*".into(),
                        widget: None,
                        link: Some(link),
                        link_declared: true,
                    });
                }
                None => widgets.push((name.clone(), value.to_value())),
            }
        }
        name_ports(&mut inputs, "input");
        let mut extra = Map::new();
        if let Some(meta) = entry.get("_meta") {
            extra.insert("_meta".into(), meta.to_value());
        }
        graph.nodes.push(WfNode {
            id: id.clone(),
            class: class.to_owned(),
            title: entry
                .get("_meta")
                .and_then(|m| m.get("title"))
                .and_then(Json::as_str)
                .filter(|t| *t != class)
                .map(str::to_owned),
            pos: Position::default(),
            size: None,
            mode: 0,
            inputs,
            outputs: Vec::new(),
            widgets: if widgets.is_empty() {
                Widgets::None
            } else {
                Widgets::Named(widgets)
            },
            extra,
            weight: entry.weight(),
        });
    }
    for node in &mut graph.nodes {
        let count = wanted_outputs.get(&node.id).copied().unwrap_or(0);
        node.outputs = (0..count)
            .map(|k| Slot {
                name: String::new(),
                port: format!("output_{k}"),
                ty: "*".into(),
                widget: None,
                link: None,
                link_declared: false,
            })
            .collect();
    }
    diags.push(
        Severity::Warning,
        "no_layout",
        "the file is a ComfyUI API prompt, which has no layout: the nodes are laid out in layers, and output names and types are not known".into(),
        "import the workflow saved by the ComfyUI editor (Save) to keep its layout, groups and types",
    );
    Workflow {
        graph,
        subgraphs: HashMap::new(),
        meta: Map::from_iter([("format".to_owned(), "api_prompt".into())]),
        viewport: None,
        id: None,
        from_api: true,
    }
}

/// `["<node id>", <slot>]` naming a node of the prompt.
fn as_link(value: &Json, ids: &HashSet<&str>) -> Option<(String, usize)> {
    let [origin, slot] = value.as_array()? else {
        return None;
    };
    let origin = origin.as_id()?;
    let slot = slot.as_index()?;
    ids.contains(origin.as_str()).then_some((origin, slot))
}

/// Names outputs and gives ports their types after the catalogue's type of
/// the class, where an earlier import registered one: the slot a prompt
/// names stays the slot the type has, and the type is not widened to `any`.
pub(super) fn adopt_types(wf: &mut Workflow, catalog: &Catalog) {
    for node in &mut wf.graph.nodes {
        let Some(spec) = catalog.get(&node.class).filter(|s| s.category == CATEGORY) else {
            continue;
        };
        for (k, slot) in node.outputs.iter_mut().enumerate() {
            if let Some(output) = spec.outputs.get(k) {
                slot.port = output.name.to_string();
                slot.name = slot.port.clone();
                slot.ty = comfy_name(std::slice::from_ref(&output.data_type));
            }
        }
        for slot in &mut node.inputs {
            if let Some(input) = spec.input(&slot.port) {
                slot.ty = comfy_name(&input.accepts.0);
            }
        }
        // Two names may now clash (a type with `output_3` at slot 1).
        let ports: HashSet<&str> = node.outputs.iter().map(|s| s.port.as_str()).collect();
        if ports.len() != node.outputs.len() {
            for (k, slot) in node.outputs.iter_mut().enumerate() {
                slot.name = format!("output_{k}");
            }
            name_ports(&mut node.outputs, "output");
        }
    }
}

/// A ComfyUI type name that maps back to exactly these data types (the
/// upper-case names do, `*` otherwise).
fn comfy_name(types: &[DataType]) -> String {
    let name = types
        .iter()
        .map(|t| match t.as_str() {
            "text" => "STRING".to_owned(),
            "integer" => "INT".to_owned(),
            other => other.to_uppercase(),
        })
        .collect::<Vec<_>>()
        .join(",");
    if input_types(&name) == types {
        name
    } else {
        "*".into()
    }
}
