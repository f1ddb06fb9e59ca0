//! Building a live canvas from a document: ids are checked, older node-type
//! versions migrated, and whatever cannot be live (unknown types, dangling or
//! cycle-closing edges) kept as loaded for validation to report.

use std::sync::{Arc, OnceLock};

use indexmap::IndexMap;
use serde_json::{Map, Value};

use super::changes::ChangeLog;
use super::{Canvas, Detached, EdgeSlot, Graph, IdMap, Link, Migrated, NodeEntry, Properties};
use crate::catalog::{Catalog, NodeTypeSpec};
use crate::error::{Error, Result};
use crate::limits::{check_canvas_fields, check_edge, check_group, check_node};
use crate::model::{CANVAS_FORMAT, CanvasDocument, Edge, FORMAT_VERSION, Node, Position};
use petgraph::stable_graph::EdgeIndex;

pub(super) fn load(catalog: Catalog, doc: CanvasDocument) -> Result<Canvas> {
    if doc.format != CANVAS_FORMAT {
        return Err(Error::WrongFormat { found: doc.format });
    }
    if doc.format_version > FORMAT_VERSION {
        return Err(Error::UnsupportedFormatVersion {
            found: doc.format_version,
            supported: FORMAT_VERSION,
        });
    }
    // Documents built in code skip `from_json`, which migrates parsed ones.
    let doc = doc.migrated()?;
    // The same limits as ops, so that a loaded canvas can always be written
    // and read back.
    check_canvas_fields(&doc)?;
    let mut graph = Graph::new();
    let mut nodes = IdMap::with_capacity_and_hasher(doc.nodes.len(), Default::default());
    let mut migrated = Vec::new();
    for node in doc.nodes {
        check_node(&node)?;
        if nodes.contains_key(node.id.as_str()) {
            return Err(Error::DuplicateId {
                kind: "node",
                id: node.id,
            });
        }
        let (id, entry, migration) = resolve_node(&catalog, &mut graph, node);
        migrated.extend(migration);
        nodes.insert(id, entry);
    }

    let mut edges = IdMap::with_capacity_and_hasher(doc.edges.len(), Default::default());
    for edge in doc.edges {
        check_edge(&edge)?;
        if edges.contains_key(edge.id.as_str()) {
            return Err(Error::DuplicateId {
                kind: "edge",
                id: edge.id,
            });
        }
        let id: Arc<str> = Arc::from(edge.id.as_str());
        let slot = attach(&mut graph, &nodes, edge);
        edges.insert(id, slot);
    }

    let mut groups = IndexMap::with_capacity(doc.groups.len());
    for group in doc.groups {
        check_group(&group)?;
        if groups.contains_key(&group.id) {
            return Err(Error::DuplicateId {
                kind: "group",
                id: group.id,
            });
        }
        groups.insert(group.id.clone(), group);
    }

    Ok(Canvas {
        catalog,
        id: doc.id.into(),
        name: doc.name,
        revision: doc.revision,
        created_at: doc.created_at,
        updated_at: doc.updated_at,
        updated_ms: 0,
        nodes,
        edges,
        groups,
        viewport: doc.viewport,
        story: doc.story,
        metadata: doc.metadata,
        graph,
        migrated,
        changes: ChangeLog::starting_at(doc.revision),
        spare_journal: Default::default(),
        spare_slots: Vec::new(),
    })
}

/// Makes a document node live: its spec when the type is known at a version
/// the catalogue can bring forward (migrating its properties), none otherwise,
/// in which case it is kept exactly as given.
pub(super) fn resolve_node(
    catalog: &Catalog,
    graph: &mut Graph,
    node: Node,
) -> (Arc<str>, NodeEntry, Option<Migrated>) {
    let id: Arc<str> = Arc::from(node.id);
    let mut properties = node.properties;
    let mut type_version = node.type_version;
    let mut migration = None;
    let spec = match catalog.get(&node.node_type) {
        Some(spec) if spec.version == type_version => Some(spec),
        Some(spec) if type_version < spec.version => {
            match migrate_properties(&spec, type_version, &mut properties) {
                Ok(()) => {
                    migration = Some(Migrated {
                        node: id.to_string(),
                        from_version: type_version,
                        to_version: spec.version,
                    });
                    type_version = spec.version;
                    Some(spec)
                }
                Err(_) => None,
            }
        }
        _ => None,
    };
    let type_name = spec
        .as_ref()
        .map_or_else(|| Arc::from(node.node_type), |s| s.type_name.clone());
    let properties = to_properties(spec.as_deref(), properties);
    let entry = node_entry(
        graph,
        &id,
        type_name,
        type_version,
        spec,
        properties,
        node.label,
        node.position,
        node.ui,
    );
    (id, entry, migration)
}

/// A node's entry, added to the graph; its values not yet checked.
#[allow(clippy::too_many_arguments)]
pub(super) fn node_entry(
    graph: &mut Graph,
    id: &Arc<str>,
    type_name: Arc<str>,
    type_version: u32,
    spec: Option<Arc<NodeTypeSpec>>,
    properties: Properties,
    label: Option<String>,
    position: Position,
    ui: Option<Value>,
) -> NodeEntry {
    NodeEntry {
        ix: graph.add_node(id.clone()),
        type_name,
        type_version,
        properties,
        spec,
        label: label.map(String::into_boxed_str),
        position,
        ui: ui.map(Box::new),
        own_digest: OnceLock::new(),
        values_checked: false,
    }
}

/// Puts a document edge into the graph when its ends exist and it closes no
/// cycle; otherwise keeps it aside with the reason. Ports are not checked
/// here: validation reports edges that do not fit their ports.
pub(super) fn attach(graph: &mut Graph, nodes: &IdMap<NodeEntry>, edge: Edge) -> EdgeSlot {
    let id = Arc::from(edge.id.as_str());
    let source = (edge.source.node.as_str(), edge.source.port.as_str());
    let target = (edge.target.node.as_str(), edge.target.port.as_str());
    match link_ends(graph, nodes, id, source, target) {
        Ok(ix) => EdgeSlot::Live(ix),
        Err(why) => EdgeSlot::Detached(Box::new((edge, why))),
    }
}

/// The graph edge `id` between two (node, port) ends, or why it must be kept
/// aside: an end missing, a self-loop, a cycle.
pub(super) fn link_ends(
    graph: &mut Graph,
    nodes: &IdMap<NodeEntry>,
    id: Arc<str>,
    (source_node, source_port): (&str, &str),
    (target_node, target_port): (&str, &str),
) -> std::result::Result<EdgeIndex, Detached> {
    let (Some(source), Some(target)) = (nodes.get(source_node), nodes.get(target_node)) else {
        return Err(Detached::Dangling);
    };
    if source.ix == target.ix {
        return Err(Detached::SelfLoop);
    }
    let link = Link {
        id,
        source_port: port_name(source.spec.as_deref(), source_port, false),
        target_port: port_name(target.spec.as_deref(), target_port, true),
    };
    graph
        .try_add_edge(source.ix, target.ix, link)
        .map_err(|_| Detached::Cycle)
}

/// Runs the spec's migration steps from `from` up to its current version.
/// Fails, changing nothing, when a step is missing.
pub(super) fn migrate_properties(
    spec: &NodeTypeSpec,
    from: u32,
    properties: &mut Map<String, Value>,
) -> Result<()> {
    let steps: Vec<_> = (from..spec.version)
        .map(|v| spec.migrations.iter().find(|m| m.from_version == v))
        .collect();
    if steps.iter().any(Option::is_none) {
        return Err(Error::UnsupportedTypeVersion {
            node: String::new(),
            type_name: spec.type_name.to_string(),
            version: from,
            supported: format!(
                "has version {} and no migration path from {from}",
                spec.version
            ),
        });
    }
    for step in steps.into_iter().flatten() {
        for (old, new) in &step.rename {
            if let Some(v) = properties.remove(old) {
                properties.insert(new.clone(), v);
            }
        }
        for gone in &step.remove {
            properties.remove(gone);
        }
        for (k, v) in &step.set_defaults {
            properties.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    Ok(())
}

/// Property values keyed by the spec's own name allocations where possible.
pub(super) fn to_properties<K: AsRef<str>>(
    spec: Option<&NodeTypeSpec>,
    entries: impl IntoIterator<Item = (K, Value)>,
) -> Properties {
    let entries = entries
        .into_iter()
        .map(|(k, v)| {
            let k = k.as_ref();
            let name = spec
                .and_then(|s| s.property(k))
                .map_or_else(|| Arc::from(k), |p| p.name.clone());
            (name, v)
        })
        .collect();
    Properties::from_sorted(entries)
}

fn port_name(spec: Option<&NodeTypeSpec>, port: &str, input: bool) -> Arc<str> {
    let shared = spec.and_then(|s| {
        if input {
            s.input(port).map(|p| p.name.clone())
        } else {
            s.output(port).map(|p| p.name.clone())
        }
    });
    shared.unwrap_or_else(|| Arc::from(port))
}
