//! `apply`: ops are checked and applied one by one while a journal records
//! how to restore every change exactly (including positions in the ordered
//! maps); the first rejection rolls the journal back, so a failed apply leaves
//! the canvas as it was, byte for byte.

use std::sync::Arc;

use petgraph::Direction;
use petgraph::data::Build;
use petgraph::stable_graph::{EdgeIndex, NodeIndex};
use petgraph::visit::EdgeRef;
use serde_json::{Map, Value};

use super::connect::cycle;
use super::load::{migrate_properties, to_properties};
use super::{Canvas, Link, NodeEntry, Properties, now_rfc3339};
use crate::catalog::NodeTypeSpec;
use crate::error::{Error, Result};
use crate::event::Event;
use crate::model::{Group, PortRef, Position, check_id};
use crate::ops::{Applied, Op};
use crate::validate::value::{MAX_VALUE_DEPTH, check_value, too_deep};

/// Longest label, in bytes.
pub const MAX_LABEL_BYTES: usize = 1_024;

/// How to put back one change.
#[derive(Debug)]
enum Undo {
    NodeAdded(Arc<str>),
    NodeRemoved {
        index: usize,
        id: Arc<str>,
        entry: NodeEntry,
    },
    NodeChanged {
        id: Arc<str>,
        entry: Box<NodeEntry>,
    },
    EdgeAdded(Arc<str>),
    EdgeRemoved {
        index: usize,
        source: Arc<str>,
        target: Arc<str>,
        link: Link,
    },
    GroupAdded(String),
    GroupRemoved {
        index: usize,
        group: Group,
    },
    GroupChanged(Group),
}

impl Canvas {
    /// Applies ops atomically: all of them, or none. On success the revision
    /// goes up by one and the result carries the inverse ops and a change event.
    /// On failure the error names the op (`details.op_index`) and the canvas
    /// is unchanged.
    pub fn apply(&mut self, ops: impl Into<Vec<Op>>) -> Result<Applied> {
        let mut ops = ops.into();
        if ops.is_empty() {
            return Ok(Applied {
                revision: self.revision,
                inverse: Vec::new(),
                event: self.event(Vec::new(), self.updated_at.clone()),
            });
        }
        let mut journal = Vec::with_capacity(ops.len());
        let mut inverses = Vec::with_capacity(ops.len());
        for (index, op) in ops.iter_mut().enumerate() {
            match self.apply_one(op, &mut journal) {
                Ok(inverse) => inverses.push(inverse),
                Err(source) => {
                    self.rollback(journal);
                    return Err(Error::OpRejected {
                        index,
                        op: op.name(),
                        source: Box::new(source),
                    });
                }
            }
        }
        self.revision += 1;
        self.updated_at = now_rfc3339();
        let inverse = inverses.into_iter().rev().flatten().collect();
        Ok(Applied {
            revision: self.revision,
            inverse,
            event: self.event(ops, self.updated_at.clone()),
        })
    }

    fn event(&self, ops: Vec<Op>, ts: String) -> Event {
        Event::CanvasChanged {
            canvas_id: self.id.clone(),
            revision: self.revision,
            ts,
            ops,
        }
    }

    /// Applies one op, returning the ops that undo it. `op` is completed in
    /// place (a generated edge id) so the event replays exactly.
    fn apply_one(&mut self, op: &mut Op, journal: &mut Vec<Undo>) -> Result<Vec<Op>> {
        match op {
            Op::AddNode {
                id,
                node_type,
                type_version,
                label,
                position,
                properties,
                ui,
            } => {
                check_id(id)?;
                if self.nodes.contains_key(id.as_str()) {
                    return Err(Error::DuplicateId {
                        kind: "node",
                        id: id.clone(),
                    });
                }
                let spec = self
                    .catalog
                    .get(node_type)
                    .ok_or_else(|| Error::UnknownNodeType {
                        type_name: node_type.clone(),
                        known: self.catalog.type_names(),
                    })?;
                let mut props = properties.clone();
                match *type_version {
                    Some(v) if v > spec.version => {
                        return Err(Error::UnsupportedTypeVersion {
                            node: id.clone(),
                            type_name: node_type.clone(),
                            version: v,
                            supported: format!("has version {}", spec.version),
                        });
                    }
                    Some(v) if v < spec.version => {
                        migrate_properties(&spec, v, &mut props).map_err(|_| {
                            Error::UnsupportedTypeVersion {
                                node: id.clone(),
                                type_name: node_type.clone(),
                                version: v,
                                supported: format!(
                                    "has version {} and no migration path from {v}",
                                    spec.version
                                ),
                            }
                        })?;
                    }
                    _ => {}
                }
                check_label(label.as_deref())?;
                check_position(*position)?;
                check_ui(ui.as_ref())?;
                let props = checked_properties(id, &spec, props)?;
                let key: Arc<str> = Arc::from(id.as_str());
                let ix = self.graph.add_node(key.clone());
                self.nodes.insert(
                    key.clone(),
                    NodeEntry {
                        ix,
                        type_name: spec.type_name.clone(),
                        type_version: spec.version,
                        spec: Some(spec),
                        label: label.clone(),
                        position: *position,
                        properties: props,
                        ui: ui.clone(),
                    },
                );
                journal.push(Undo::NodeAdded(key));
                Ok(vec![Op::RemoveNode { id: id.clone() }])
            }

            Op::RemoveNode { id } => {
                let Some((index, key, entry)) = self
                    .nodes
                    .get_full(id.as_str())
                    .map(|(i, k, e)| (i, k.clone(), e.clone()))
                else {
                    return Err(Error::UnknownNode { node: id.clone() });
                };
                let mut inverse = vec![Op::AddNode {
                    id: id.clone(),
                    node_type: entry.type_name.to_string(),
                    type_version: Some(entry.type_version),
                    label: entry.label.clone(),
                    position: entry.position,
                    properties: entry.properties.to_map(),
                    ui: entry.ui.clone(),
                }];
                // Groups first, so the inverse re-adds edges before restoring groups.
                let mut group_inverse = Vec::new();
                for group in self.groups.values_mut() {
                    if group.nodes.iter().any(|n| n == id) {
                        group_inverse.push(Op::SetGroup {
                            id: group.id.clone(),
                            label: group.label.clone(),
                            nodes: group.nodes.clone(),
                            ui: group.ui.clone(),
                        });
                        journal.push(Undo::GroupChanged(group.clone()));
                        group.nodes.retain(|n| n != id);
                    }
                }
                let incident: Vec<EdgeIndex> = self
                    .graph
                    .inner()
                    .edges_directed(entry.ix, Direction::Incoming)
                    .chain(
                        self.graph
                            .inner()
                            .edges_directed(entry.ix, Direction::Outgoing),
                    )
                    .map(|e| e.id())
                    .collect();
                // Inverse connects in canvas order, so undo restores the same order.
                let mut removed_edges: Vec<(usize, Op)> = Vec::with_capacity(incident.len());
                for eix in incident {
                    let (pos, op) = self.remove_edge(eix, journal);
                    removed_edges.push((pos, op));
                }
                removed_edges.sort_by_key(|(pos, _)| *pos);
                inverse.extend(removed_edges.into_iter().map(|(_, op)| op));
                inverse.extend(group_inverse);
                self.graph.remove_node(entry.ix);
                self.nodes.shift_remove_index(index);
                journal.push(Undo::NodeRemoved {
                    index,
                    id: key,
                    entry,
                });
                Ok(inverse)
            }

            Op::SetProperties { id, properties } => {
                let (key, entry) = self.node_entry(id)?;
                let spec = self.spec_of(id, entry)?.clone();
                let mut props = entry.properties.clone();
                let mut inverse = Map::new();
                for (name, value) in properties.iter() {
                    let prop = spec.property(name).ok_or_else(|| Error::UnknownProperty {
                        type_name: spec.type_name.to_string(),
                        property: name.clone(),
                        known: spec.properties.iter().map(|p| p.name.to_string()).collect(),
                    })?;
                    let old = if value.is_null() {
                        match &prop.default {
                            Some(default) => props.set(prop.name.clone(), default.clone()),
                            None if prop.required => {
                                return Err(Error::property(
                                    id,
                                    name,
                                    "the property is required and cannot be unset",
                                    "give a value instead of null",
                                ));
                            }
                            None => props.remove(name),
                        }
                    } else {
                        check_value(id, name, prop, value)?;
                        props.set(prop.name.clone(), value.clone())
                    };
                    inverse.insert(name.clone(), old.unwrap_or(Value::Null));
                }
                self.replace_node(key, journal, |e| e.properties = props);
                Ok(vec![Op::SetProperties {
                    id: id.clone(),
                    properties: inverse,
                }])
            }

            Op::MoveNode { id, position } => {
                check_position(*position)?;
                let (key, entry) = self.node_entry(id)?;
                let old = entry.position;
                let new = *position;
                self.replace_node(key, journal, |e| e.position = new);
                Ok(vec![Op::MoveNode {
                    id: id.clone(),
                    position: old,
                }])
            }

            Op::SetLabel { id, label } => {
                check_label(label.as_deref())?;
                let (key, entry) = self.node_entry(id)?;
                let old = entry.label.clone();
                let new = label.clone();
                self.replace_node(key, journal, |e| e.label = new);
                Ok(vec![Op::SetLabel {
                    id: id.clone(),
                    label: old,
                }])
            }

            Op::SetUi { id, ui } => {
                check_ui(ui.as_ref())?;
                let (key, entry) = self.node_entry(id)?;
                let old = entry.ui.clone();
                let new = ui.clone();
                self.replace_node(key, journal, |e| e.ui = new);
                Ok(vec![Op::SetUi {
                    id: id.clone(),
                    ui: old,
                }])
            }

            Op::Connect { id, source, target } => {
                let ends = self.check_ends(source, target)?;
                let edge_id = match id {
                    Some(given) => {
                        check_id(given)?;
                        if self.edge_id_taken(given) {
                            return Err(Error::DuplicateId {
                                kind: "edge",
                                id: given.clone(),
                            });
                        }
                        given.clone()
                    }
                    None => self.fresh_edge_id(source, target),
                };
                let link = Link {
                    id: Arc::from(edge_id.as_str()),
                    source_port: ends.source_port,
                    target_port: ends.target_port,
                };
                let key = link.id.clone();
                let eix = self
                    .graph
                    .try_add_edge(ends.source, ends.target, link)
                    .map_err(|_| cycle(source, target))?;
                self.edges.insert(key.clone(), eix);
                journal.push(Undo::EdgeAdded(key));
                *id = Some(edge_id.clone());
                Ok(vec![Op::Disconnect { id: edge_id }])
            }

            Op::Disconnect { id } => {
                let Some(&eix) = self.edges.get(id.as_str()) else {
                    return Err(Error::UnknownEdge { edge: id.clone() });
                };
                let (_, inverse) = self.remove_edge(eix, journal);
                Ok(vec![inverse])
            }

            Op::AddGroup {
                id,
                label,
                nodes,
                ui,
            } => {
                check_id(id)?;
                if self.groups.contains_key(id.as_str()) {
                    return Err(Error::DuplicateId {
                        kind: "group",
                        id: id.clone(),
                    });
                }
                let group = self.checked_group(id, label, nodes, ui)?;
                self.groups.insert(id.clone(), group);
                journal.push(Undo::GroupAdded(id.clone()));
                Ok(vec![Op::RemoveGroup { id: id.clone() }])
            }

            Op::SetGroup {
                id,
                label,
                nodes,
                ui,
            } => {
                let Some(old) = self.groups.get(id.as_str()).cloned() else {
                    return Err(Error::UnknownGroup { group: id.clone() });
                };
                let group = self.checked_group(id, label, nodes, ui)?;
                self.groups.insert(id.clone(), group);
                let inverse = Op::SetGroup {
                    id: id.clone(),
                    label: old.label.clone(),
                    nodes: old.nodes.clone(),
                    ui: old.ui.clone(),
                };
                journal.push(Undo::GroupChanged(old));
                Ok(vec![inverse])
            }

            Op::RemoveGroup { id } => {
                let Some((index, _, group)) = self.groups.shift_remove_full(id.as_str()) else {
                    return Err(Error::UnknownGroup { group: id.clone() });
                };
                let inverse = Op::AddGroup {
                    id: group.id.clone(),
                    label: group.label.clone(),
                    nodes: group.nodes.clone(),
                    ui: group.ui.clone(),
                };
                journal.push(Undo::GroupRemoved { index, group });
                Ok(vec![inverse])
            }
        }
    }

    /// The spec of a node, or why it has none.
    pub(crate) fn spec_of<'a>(
        &self,
        id: &str,
        entry: &'a NodeEntry,
    ) -> Result<&'a Arc<NodeTypeSpec>> {
        entry
            .spec
            .as_ref()
            .ok_or_else(|| match self.catalog.get(&entry.type_name) {
                None => Error::UnknownNodeType {
                    type_name: entry.type_name.to_string(),
                    known: self.catalog.type_names(),
                },
                Some(spec) => Error::UnsupportedTypeVersion {
                    node: id.to_owned(),
                    type_name: entry.type_name.to_string(),
                    version: entry.type_version,
                    supported: format!("has version {} and no migration path to it", spec.version),
                },
            })
    }

    fn node_entry(&self, id: &str) -> Result<(Arc<str>, &NodeEntry)> {
        self.nodes
            .get_key_value(id)
            .map(|(k, e)| (k.clone(), e))
            .ok_or_else(|| Error::UnknownNode {
                node: id.to_owned(),
            })
    }

    fn replace_node(
        &mut self,
        key: Arc<str>,
        journal: &mut Vec<Undo>,
        change: impl FnOnce(&mut NodeEntry),
    ) {
        if let Some(entry) = self.nodes.get_mut(&key) {
            journal.push(Undo::NodeChanged {
                id: key,
                entry: Box::new(entry.clone()),
            });
            change(entry);
        }
    }

    /// Removes a live edge, journals it, and returns its position and the op
    /// that restores it.
    fn remove_edge(&mut self, eix: EdgeIndex, journal: &mut Vec<Undo>) -> (usize, Op) {
        let (s, t) = self
            .graph
            .inner()
            .edge_endpoints(eix)
            .unwrap_or((NodeIndex::end(), NodeIndex::end()));
        let source = self.graph[s].clone();
        let target = self.graph[t].clone();
        let link = self.graph.remove_edge(eix).unwrap_or_else(unreachable_link);
        let index = self.edges.get_index_of(&*link.id).unwrap_or(usize::MAX);
        self.edges.shift_remove_index(index);
        let op = Op::Connect {
            id: Some(link.id.to_string()),
            source: PortRef::new(&*source, &*link.source_port),
            target: PortRef::new(&*target, &*link.target_port),
        };
        journal.push(Undo::EdgeRemoved {
            index,
            source,
            target,
            link,
        });
        (index, op)
    }

    fn edge_id_taken(&self, id: &str) -> bool {
        self.edges.contains_key(id) || self.detached.iter().any(|(e, _)| e.id == id)
    }

    /// `source.port->target.port`, made unique with a `#n` suffix if needed.
    fn fresh_edge_id(&self, source: &PortRef, target: &PortRef) -> String {
        let base = format!(
            "{}.{}->{}.{}",
            source.node, source.port, target.node, target.port
        );
        if !self.edge_id_taken(&base) {
            return base;
        }
        (2..)
            .map(|n| format!("{base}#{n}"))
            .find(|candidate| !self.edge_id_taken(candidate))
            .unwrap_or(base)
    }

    fn checked_group(
        &self,
        id: &str,
        label: &Option<String>,
        nodes: &[String],
        ui: &Option<Value>,
    ) -> Result<Group> {
        check_label(label.as_deref())?;
        check_ui(ui.as_ref())?;
        for (i, node) in nodes.iter().enumerate() {
            if !self.nodes.contains_key(node.as_str()) {
                return Err(Error::UnknownNode { node: node.clone() });
            }
            if nodes[..i].contains(node) {
                return Err(Error::InvalidField {
                    field: "nodes",
                    message: format!("group `{id}` lists node `{node}` twice"),
                });
            }
        }
        Ok(Group {
            id: id.to_owned(),
            label: label.clone(),
            nodes: nodes.to_vec(),
            ui: ui.clone(),
        })
    }

    /// Puts back every journaled change, newest first.
    fn rollback(&mut self, journal: Vec<Undo>) {
        for undo in journal.into_iter().rev() {
            match undo {
                Undo::NodeAdded(id) => {
                    if let Some(entry) = self.nodes.shift_remove(&id) {
                        self.graph.remove_node(entry.ix);
                    }
                }
                Undo::NodeRemoved {
                    index,
                    id,
                    mut entry,
                } => {
                    entry.ix = self.graph.add_node(id.clone());
                    self.nodes.shift_insert(index, id, entry);
                }
                Undo::NodeChanged { id, entry } => {
                    if let Some(slot) = self.nodes.get_mut(&id) {
                        *slot = *entry;
                    }
                }
                Undo::EdgeAdded(id) => {
                    if let Some(eix) = self.edges.shift_remove(&id) {
                        self.graph.remove_edge(eix);
                    }
                }
                Undo::EdgeRemoved {
                    index,
                    source,
                    target,
                    link,
                } => {
                    let s = self.nodes[&source].ix;
                    let t = self.nodes[&target].ix;
                    let key = link.id.clone();
                    // The edge existed before this apply, so it cannot close a cycle now.
                    if let Ok(eix) = self.graph.try_add_edge(s, t, link) {
                        self.edges.shift_insert(index, key, eix);
                    }
                }
                Undo::GroupAdded(id) => {
                    self.groups.shift_remove(&id);
                }
                Undo::GroupRemoved { index, group } => {
                    self.groups.shift_insert(index, group.id.clone(), group);
                }
                Undo::GroupChanged(group) => {
                    if let Some(slot) = self.groups.get_mut(&group.id) {
                        *slot = group;
                    }
                }
            }
        }
    }
}

fn unreachable_link() -> Link {
    // Edge indices come from the edge map, which mirrors the graph.
    Link {
        id: Arc::from(""),
        source_port: Arc::from(""),
        target_port: Arc::from(""),
    }
}

/// Validates given property values and fills in defaults.
fn checked_properties(
    id: &str,
    spec: &NodeTypeSpec,
    given: Map<String, Value>,
) -> Result<Properties> {
    for (name, value) in &given {
        let prop = spec.property(name).ok_or_else(|| Error::UnknownProperty {
            type_name: spec.type_name.to_string(),
            property: name.clone(),
            known: spec.properties.iter().map(|p| p.name.to_string()).collect(),
        })?;
        if !value.is_null() {
            check_value(id, name, prop, value)?;
        }
    }
    let mut props = to_properties(
        Some(spec),
        given.into_iter().filter(|(_, v)| !v.is_null()).collect(),
    );
    for prop in &spec.properties {
        if let Some(default) = &prop.default {
            if props.get(&prop.name).is_none() {
                props.set(prop.name.clone(), default.clone());
            }
        }
    }
    Ok(props)
}

fn check_label(label: Option<&str>) -> Result<()> {
    match label {
        Some(l) if l.len() > MAX_LABEL_BYTES => Err(Error::InvalidField {
            field: "label",
            message: format!(
                "the label is {} bytes long, more than {MAX_LABEL_BYTES}",
                l.len()
            ),
        }),
        _ => Ok(()),
    }
}

fn check_position(p: Position) -> Result<()> {
    if p.x.is_finite() && p.y.is_finite() {
        Ok(())
    } else {
        Err(Error::InvalidField {
            field: "position",
            message: "position coordinates must be finite numbers".into(),
        })
    }
}

fn check_ui(ui: Option<&Value>) -> Result<()> {
    match ui {
        Some(v) if too_deep(v, MAX_VALUE_DEPTH) => Err(Error::InvalidField {
            field: "ui",
            message: format!("ui is nested deeper than {MAX_VALUE_DEPTH} levels"),
        }),
        _ => Ok(()),
    }
}
