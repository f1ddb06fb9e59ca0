//! The plan as a canvas document: nodes and edges go through ops, so each is
//! checked by the rules an editor's ops meet; what does not fit a canvas's
//! limits (too deep, too long) is left out with a diagnostic.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::flatten::{Plan, PlannedNode};
use super::types::MAX_PROPERTIES;
use super::workflow::Workflow;
use super::{CATEGORY, Import, ImportStats};
use crate::Canvas;
use crate::catalog::{Catalog, NodeTypeSpec, check_value};
use crate::format::{Diagnostics, UniqueNames, cut_text, drop_deep, fits_depth};
use crate::limits::{MAX_LABEL_BYTES, MAX_VALUE_DEPTH};
use crate::model::{Edge, PortRef, check_id};
use crate::ops::Op;
use crate::report::{Diagnostic, Severity};

/// The depth a value may have inside `ui.comfyui.<field>`, and inside
/// `ui.comfyui.unmatched_widgets.<name>` (the `ui` object counts as a level).
const UI_FIELD_DEPTH: usize = MAX_VALUE_DEPTH - 2;
const UNMATCHED_DEPTH: usize = MAX_VALUE_DEPTH - 3;

/// Adds the planned nodes and edges to a canvas through ops, so every node and
/// every edge that passes is checked by the same rules as an editor's ops.
pub(super) fn build(
    catalog: &Catalog,
    wf: &Workflow,
    plan: Plan,
    type_names: &HashMap<String, String>,
    mut diags: Diagnostics,
) -> Import {
    let id = wf
        .id
        .clone()
        .filter(|id| check_id(id).is_ok())
        .unwrap_or_else(|| "comfyui-workflow".into());
    let mut canvas = Canvas::new(catalog.clone(), &id, "");
    let stats_reroutes = plan.reroutes;
    let stats_instances = plan.instances;
    let mut specs = Specs {
        catalog,
        by_name: HashMap::new(),
    };
    let mut uis = HashMap::with_capacity(plan.nodes.len());
    for node in plan.nodes {
        let type_name = type_names
            .get(&node.class)
            .cloned()
            .unwrap_or_else(|| node.class.clone());
        add_node(
            &mut canvas,
            &mut specs,
            node,
            &type_name,
            &mut uis,
            &mut diags,
        );
    }
    let mut failed = Vec::new();
    for edge in plan.edges {
        let source = PortRef::new(&edge.source.0, &edge.source.1);
        let target = PortRef::new(&edge.target.0, &edge.target.1);
        let op = Op::Connect {
            id: Some(edge.id.clone()),
            source: source.clone(),
            target: target.clone(),
        };
        if let Err(e) = canvas.apply(vec![op]) {
            let mut d = Diagnostic {
                severity: Severity::Error,
                code: e.code().into(),
                message: format!(
                    "link `{}` breaks a connection rule and is kept as it is: {e}",
                    edge.id
                ),
                node: Some(edge.target.0.clone()),
                edge: Some(edge.id.clone()),
                port: Some(edge.target.1.clone()),
                property: None,
                hint: e.hint(),
            };
            if matches!(e.code(), "duplicate_id" | "invalid_id") {
                d.message = format!("link `{}` cannot be an edge and is skipped: {e}", edge.id);
                diags.push_full(d);
                continue;
            }
            diags.push_full(d);
            failed.push(Edge {
                id: edge.id,
                source,
                target,
            });
        }
    }
    let mut doc = canvas.to_document();
    doc.revision = 0;
    doc.edges.extend(failed);
    for node in &mut doc.nodes {
        node.ui = uis.remove(&node.id);
    }
    let present: HashSet<&str> = doc.nodes.iter().map(|n| n.id.as_str()).collect();
    let mut group_ids = UniqueNames::default();
    let mut groups = Vec::with_capacity(plan.groups.len());
    for mut g in plan.groups {
        g.nodes.retain(|n| present.contains(n.as_str()));
        g.id = group_ids.claim(&g.id);
        g.label = g.label.map(|l| cut_text(&l, MAX_LABEL_BYTES));
        if let Some(Value::Object(ui)) = &mut g.ui
            && let Some(Value::Object(fields)) = ui.get_mut(CATEGORY)
        {
            fit_group_ui(&g.id, fields, &mut diags);
        }
        if check_id(&g.id).is_ok() {
            groups.push(g);
        }
    }
    doc.groups = groups;
    if let Some(v) = wf.viewport {
        doc.viewport = v;
    }
    let mut meta = wf.meta.clone();
    // The metadata object and `comfyui` are two levels.
    drop_deep(&mut meta, MAX_VALUE_DEPTH - 2, |field| {
        diags.push(
            Severity::Warning,
            "invalid_field",
            format!(
                "workflow field `{field}` is nested deeper than a canvas keeps ({MAX_VALUE_DEPTH} levels of metadata); it is left out of metadata.comfyui"
            ),
            "the workflow's own fields are kept for reference only; nothing else is lost",
        );
    });
    doc.metadata = Map::from_iter([(CATEGORY.to_owned(), Value::Object(meta))]);
    super::saved_types::store(catalog, &mut doc);
    let stats = ImportStats {
        nodes: doc.nodes.len(),
        edges: doc.edges.len(),
        reroutes: stats_reroutes,
        subgraph_instances: stats_instances,
    };
    Import {
        canvas: doc,
        diagnostics: diags.0,
        registered_types: Vec::new(),
        stats,
    }
}

/// Node types by name, with their properties by name: a node with many
/// widgets looks each up once, in constant time.
struct Specs<'c> {
    catalog: &'c Catalog,
    by_name: HashMap<String, Option<TypeProperties>>,
}

type TypeProperties = (Arc<NodeTypeSpec>, HashMap<Arc<str>, usize>);

impl Specs<'_> {
    fn get(&mut self, type_name: &str) -> Option<&TypeProperties> {
        if !self.by_name.contains_key(type_name) {
            let found = self.catalog.get(type_name).map(|spec| {
                let at = spec
                    .properties
                    .iter()
                    .enumerate()
                    .map(|(i, p)| (p.name.clone(), i))
                    .collect();
                (spec, at)
            });
            self.by_name.insert(type_name.to_owned(), found);
        }
        self.by_name.get(type_name).and_then(Option::as_ref)
    }
}

/// Drops what is too deep from a group's `ui.comfyui`: single widget values
/// of a subgraph instance, else whole fields.
fn fit_group_ui(group: &str, fields: &mut Map<String, Value>, diags: &mut Diagnostics) {
    let mut said = |what: String| {
        diags.push(
            Severity::Warning,
            "invalid_field",
            format!(
                "{what} of group `{group}` is nested deeper than a canvas keeps ({MAX_VALUE_DEPTH} levels of ui); it is left out of its ui.comfyui"
            ),
            "editor state only: nothing that runs is lost",
        );
    };
    if let Some(Value::Object(widgets)) = fields.get_mut("widgets") {
        drop_deep(widgets, UNMATCHED_DEPTH, |name| {
            said(format!("widget value `{name}`"));
        });
    }
    drop_deep(fields, UI_FIELD_DEPTH, |field| {
        said(format!("field `{field}`"))
    });
}

/// Adds a node through an op; its `ui` goes into `uis` by node id.
fn add_node(
    canvas: &mut Canvas,
    specs: &mut Specs<'_>,
    node: PlannedNode,
    type_name: &str,
    uis: &mut HashMap<String, Value>,
    diags: &mut Diagnostics,
) {
    let Some((spec, at)) = specs.get(type_name) else {
        diags.push_node(
            Severity::Error,
            "unknown_node_type",
            format!(
                "node `{}` ({}) has no registered type and is skipped",
                node.id, node.class
            ),
            "see the invalid_spec diagnostic of its class",
            &node.id,
        );
        return;
    };
    let mut properties = Map::new();
    let mut unmatched = Map::new();
    let mut not_in_type: (usize, Option<String>) = (0, None);
    let dropped = |diags: &mut Diagnostics, name: &str| {
        diags.push_full(Diagnostic {
            severity: Severity::Warning,
            code: "property_invalid".into(),
            message: format!(
                "widget `{name}` of node `{}` is nested deeper than a canvas keeps ({MAX_VALUE_DEPTH} levels, counted where it would be kept); it is dropped",
                node.id
            ),
            node: Some(node.id.clone()),
            edge: None,
            port: None,
            property: Some(name.to_owned()),
            hint: "flatten the value in ComfyUI; API export cannot send it".into(),
        });
    };
    for (name, value) in node.widgets.names.iter().zip(node.widgets.values) {
        if value.is_null() {
            continue;
        }
        if !fits_depth(&value, MAX_VALUE_DEPTH) {
            dropped(diags, name);
            continue;
        }
        let Some(&i) = at.get(name.as_str()) else {
            if fits_depth(&value, UNMATCHED_DEPTH) {
                not_in_type.0 += 1;
                not_in_type.1.get_or_insert_with(|| name.clone());
                unmatched.insert(name.clone(), value);
            } else {
                dropped(diags, name);
            }
            continue;
        };
        if let Err(e) = check_value(&node.id, name, &spec.properties[i], &value) {
            if !fits_depth(&value, UNMATCHED_DEPTH) {
                dropped(diags, name);
                continue;
            }
            diags.push_full(Diagnostic {
                severity: Severity::Warning,
                code: "property_invalid".into(),
                message: format!(
                    "widget `{name}` of node `{}` does not fit its property ({e}); it is kept in ui.comfyui.unmatched_widgets",
                    node.id
                ),
                node: Some(node.id.clone()),
                edge: None,
                port: None,
                property: Some(name.clone()),
                hint: "an earlier workflow gave this widget values of another kind; API export still sends the value".into(),
            });
            unmatched.insert(name.clone(), value);
            continue;
        }
        properties.insert(name.clone(), value);
    }
    if let (count, Some(first)) = not_in_type {
        // One diagnostic for the node, however many widgets it has.
        diags.push_full(Diagnostic {
            severity: Severity::Warning,
            code: "property_invalid".into(),
            message: format!(
                "type `{type_name}` has no property for {count} widget{} of node `{}` (`{first}`{}; a type takes at most {}); {} kept in ui.comfyui.unmatched_widgets",
                if count == 1 { "" } else { "s" },
                node.id,
                if count == 1 { "" } else { ", ..." },
                MAX_PROPERTIES,
                if count == 1 { "it is" } else { "they are" },
            ),
            node: Some(node.id.clone()),
            edge: None,
            port: None,
            property: Some(first),
            hint: "API export still sends these values".into(),
        });
    }
    let mut ui = node.extra;
    drop_deep(&mut ui, UI_FIELD_DEPTH, |field| {
        diags.push_node(
            Severity::Warning,
            "invalid_field",
            format!(
                "field `{field}` of node `{}` is nested deeper than a canvas keeps ({MAX_VALUE_DEPTH} levels of ui); it is left out of ui.comfyui",
                node.id
            ),
            "editor state only: nothing that runs is lost",
            &node.id,
        );
    });
    if let Some(mode) = node.mode {
        ui.insert("mode".into(), json!(mode));
    }
    if !node.widgets.names.is_empty() {
        let names = node.widgets.names.into_iter().map(Value::String).collect();
        ui.insert("widgets".into(), Value::Array(names));
    }
    if type_name != node.class {
        ui.insert("class_type".into(), json!(node.class));
    }
    if !unmatched.is_empty() {
        ui.insert("unmatched_widgets".into(), Value::Object(unmatched));
    }
    let label = node.title.map(|title| {
        if title.len() > MAX_LABEL_BYTES {
            diags.push_node(
                Severity::Warning,
                "invalid_field",
                format!(
                    "the title of node `{}` is {} bytes long, more than a label takes ({MAX_LABEL_BYTES}); it is cut short",
                    node.id,
                    title.len()
                ),
                "give the node a shorter title",
                &node.id,
            );
        }
        cut_text(&title, MAX_LABEL_BYTES)
    });
    let op = Op::AddNode {
        id: node.id.clone(),
        node_type: type_name.to_owned(),
        type_version: None,
        label,
        position: node.position,
        properties,
        // Added to the document afterwards: it fits (see above), and the
        // canvas would copy it twice.
        ui: None,
    };
    match canvas.apply(vec![op]) {
        Ok(_) => {
            let ui = Value::Object(Map::from_iter([(CATEGORY.to_owned(), Value::Object(ui))]));
            uis.insert(node.id, ui);
        }
        Err(e) => diags.push_node(
            Severity::Error,
            e.code(),
            format!(
                "node `{}` ({}) could not be added and is skipped: {e}",
                node.id, node.class
            ),
            &e.hint(),
            &node.id,
        ),
    }
}
