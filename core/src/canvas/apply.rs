//! `apply`: ops are checked and applied one by one while a journal records
//! how to restore every change exactly (including positions in the ordered
//! maps); the first rejection rolls the journal back, so a failed apply leaves
//! the canvas as it was, byte for byte.

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};

use petgraph::Direction;
use petgraph::data::Build;
use petgraph::stable_graph::NodeIndex;
use serde_json::{Map, Value};

use super::connect::cycle;
use super::load::{attach, migrate_properties, resolve_node, to_properties};
use super::{Canvas, Change, Detached, EdgeSlot, Link, NodeEntry, Properties, now_rfc3339};
use crate::catalog::{NodeTypeSpec, check_value, property_applies};
use crate::error::{Error, Result};
use crate::event::Event;
use crate::limits::{
    check_edge, check_metadata, check_node, check_position, check_text, check_ui, check_viewport,
};
use crate::model::{Edge, Group, PortRef, Story, Viewport, check_id};
use crate::ops::{Applied, Op};

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
        id: Arc<str>,
        edge: RemovedEdge,
    },
    GroupAdded(String),
    GroupRemoved {
        index: usize,
        group: Group,
    },
    GroupChanged(Group),
    CanvasChanged(Box<CanvasSettings>),
}

/// Canvas-level settings, as `set_canvas` found them.
#[derive(Debug)]
struct CanvasSettings {
    name: String,
    viewport: Viewport,
    story: Story,
    /// Only when the op replaced it: metadata can be large.
    metadata: Option<Map<String, Value>>,
}

/// A removed edge, as it was: live (ends by node id) or kept aside.
#[derive(Debug)]
enum RemovedEdge {
    Live {
        source: Arc<str>,
        target: Arc<str>,
        link: Link,
    },
    Detached(Box<(Edge, Detached)>),
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
        // Journal entries of ops that can change what a node computes.
        let mut content_entries = Vec::new();
        for (index, op) in ops.iter_mut().enumerate() {
            let start = journal.len();
            match self.apply_one(op, &mut journal) {
                Ok(inverse) => {
                    if op.changes_content() {
                        content_entries.extend(start..journal.len());
                    }
                    inverses.push(inverse)
                }
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
        let changes: Vec<Change> = content_entries
            .into_iter()
            .filter_map(|i| self.change_of(&journal[i]))
            .collect();
        self.changes.record(changes);
        let inverse = inverses.into_iter().rev().flatten().collect();
        Ok(Applied {
            revision: self.revision,
            inverse,
            event: self.event(ops, self.updated_at.clone()),
        })
    }

    /// The node a journaled change touched, as the change log records it.
    fn change_of(&self, undo: &Undo) -> Option<Change> {
        let (node, structural) = match undo {
            Undo::NodeAdded(id) => (id.clone(), true),
            Undo::NodeRemoved { id, .. } => (id.clone(), true),
            Undo::NodeChanged { id, .. } => (id.clone(), false),
            Undo::EdgeAdded(id) => match self.edges.get(id)? {
                EdgeSlot::Live(eix) => {
                    let (_, target) = self.graph.inner().edge_endpoints(*eix)?;
                    (self.graph[target].clone(), true)
                }
                EdgeSlot::Detached(d) => (Arc::from(d.0.target.node.as_str()), true),
            },
            Undo::EdgeRemoved { edge, .. } => match edge {
                RemovedEdge::Live { target, .. } => (target.clone(), true),
                RemovedEdge::Detached(d) => (Arc::from(d.0.target.node.as_str()), true),
            },
            Undo::GroupAdded(_)
            | Undo::GroupRemoved { .. }
            | Undo::GroupChanged(_)
            | Undo::CanvasChanged(_) => return None,
        };
        Some(Change {
            revision: self.revision,
            node,
            structural,
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
                        label: label.as_deref().map(Box::from),
                        position: *position,
                        properties: props,
                        ui: ui.clone().map(Box::new),
                        own_digest: OnceLock::new(),
                        values_checked: true,
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
                let mut inverse = vec![Op::RestoreNode {
                    node: super::node_doc(&key, &entry),
                    index: Some(index),
                }];
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
                // Highest position first, so every recorded position is the
                // edge's position before the op; undo restores them lowest first.
                let mut incident: Vec<usize> = self
                    .graph
                    .inner()
                    .edges_directed(entry.ix, Direction::Incoming)
                    .chain(
                        self.graph
                            .inner()
                            .edges_directed(entry.ix, Direction::Outgoing),
                    )
                    .filter_map(|e| self.edges.get_index_of(&*e.weight().id))
                    .collect();
                incident.sort_unstable_by(|a, b| b.cmp(a));
                let mut restores: Vec<Op> = incident
                    .into_iter()
                    .map(|position| self.remove_edge_at(position, journal))
                    .collect();
                restores.reverse();
                inverse.extend(restores);
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

            Op::RestoreNode { node, index } => {
                // Values are not re-checked against the catalogue (see the
                // op's docs), but the limits hold on every way in.
                check_node(node)?;
                if self.nodes.contains_key(node.id.as_str()) {
                    return Err(Error::DuplicateId {
                        kind: "node",
                        id: node.id.clone(),
                    });
                }
                let (key, entry, _) = resolve_node(&self.catalog, &mut self.graph, node.clone());
                let at = index.unwrap_or(self.nodes.len()).min(self.nodes.len());
                self.nodes.shift_insert(at, key.clone(), entry);
                journal.push(Undo::NodeAdded(key));
                Ok(vec![Op::RemoveNode {
                    id: node.id.clone(),
                }])
            }

            Op::SetProperties {
                id,
                properties,
                unset,
            } => {
                let (key, entry) = self.node_entry(id)?;
                let spec = self.spec_of(id, entry)?.clone();
                let mut props = entry.properties.clone();
                let mut inverse = Map::new();
                let mut inverse_unset = Vec::new();
                let mut record = |name: &str, old: Option<Value>| match old {
                    Some(v) => {
                        inverse.insert(name.to_owned(), v);
                    }
                    None => inverse_unset.push(name.to_owned()),
                };
                for name in unset.iter() {
                    if properties.contains_key(name) {
                        return Err(Error::InvalidField {
                            field: "unset",
                            message: format!("`{name}` is both set and unset"),
                        });
                    }
                    // Any name may be unset, so stale properties of a loaded
                    // document can be cleaned up.
                    record(name, props.remove(name));
                }
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
                                    "the property is required and cannot be reset",
                                    "give a value instead of null",
                                ));
                            }
                            None => props.remove(name),
                        }
                    } else {
                        check_value(id, name, prop, value)?;
                        props.set(prop.name.clone(), value.clone())
                    };
                    record(name, old);
                }
                // A property that starts to apply (say `radius` once `effect` is
                // `blur`) gets its default, as it would on a new node.
                let before = &entry.properties;
                let filled = fill_defaults(&spec, &mut props, |prop| {
                    !unset.iter().any(|u| *u == *prop.name)
                        && !property_applies(&spec, before, prop)
                });
                for name in filled {
                    if !inverse.contains_key(&*name) && !inverse_unset.iter().any(|u| *u == *name) {
                        inverse_unset.push(name.to_string());
                    }
                }
                props.shrink_to_fit();
                self.replace_node(key, journal, |e| e.properties = props);
                Ok(vec![Op::SetProperties {
                    id: id.clone(),
                    properties: inverse,
                    unset: inverse_unset,
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
                let old = entry.label.as_deref().map(str::to_owned);
                let new = label.as_deref().map(Box::from);
                self.replace_node(key, journal, |e| e.label = new);
                Ok(vec![Op::SetLabel {
                    id: id.clone(),
                    label: old,
                }])
            }

            Op::SetUi { id, ui } => {
                check_ui(ui.as_ref())?;
                let (key, entry) = self.node_entry(id)?;
                let old = entry.ui.as_deref().cloned();
                let new = ui.clone().map(Box::new);
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
                self.edges.insert(key.clone(), EdgeSlot::Live(eix));
                journal.push(Undo::EdgeAdded(key));
                *id = Some(edge_id.clone());
                Ok(vec![Op::Disconnect { id: edge_id }])
            }

            Op::Disconnect { id } => {
                let Some(position) = self.edges.get_index_of(id.as_str()) else {
                    return Err(Error::UnknownEdge { edge: id.clone() });
                };
                Ok(vec![self.remove_edge_at(position, journal)])
            }

            Op::RestoreEdge { edge, index } => {
                check_edge(edge)?;
                if self.edges.contains_key(edge.id.as_str()) {
                    return Err(Error::DuplicateId {
                        kind: "edge",
                        id: edge.id.clone(),
                    });
                }
                let key: Arc<str> = Arc::from(edge.id.as_str());
                let slot = attach(&mut self.graph, &self.nodes, edge.clone());
                let at = index.unwrap_or(self.edges.len()).min(self.edges.len());
                self.edges.shift_insert(at, key.clone(), slot);
                journal.push(Undo::EdgeAdded(key));
                Ok(vec![Op::Disconnect {
                    id: edge.id.clone(),
                }])
            }

            Op::AddGroup {
                id,
                index,
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
                let at = index.unwrap_or(self.groups.len()).min(self.groups.len());
                self.groups.shift_insert(at, id.clone(), group);
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

            Op::SetCanvas {
                name,
                viewport,
                story,
                metadata,
            } => {
                if let Some(name) = name {
                    check_text("name", name)?;
                }
                if let Some(v) = viewport {
                    check_viewport(v)?;
                }
                if story.is_some_and(|s| s.page_count == Some(0)) {
                    return Err(Error::InvalidField {
                        field: "story",
                        message: "page_count must be at least 1".into(),
                    });
                }
                if let Some(m) = metadata {
                    check_metadata(m)?;
                }
                let inverse = Op::SetCanvas {
                    name: name.as_ref().map(|_| self.name.clone()),
                    viewport: viewport.map(|_| self.viewport),
                    story: story.map(|_| self.story),
                    metadata: metadata.as_ref().map(|_| self.metadata.clone()),
                };
                journal.push(Undo::CanvasChanged(Box::new(CanvasSettings {
                    name: self.name.clone(),
                    viewport: self.viewport,
                    story: self.story,
                    metadata: metadata.as_ref().map(|_| self.metadata.clone()),
                })));
                if let Some(name) = name {
                    self.name = name.clone();
                }
                if let Some(v) = viewport {
                    self.viewport = *v;
                }
                if let Some(s) = story {
                    self.story = *s;
                }
                if let Some(m) = metadata {
                    self.metadata = m.clone();
                }
                Ok(vec![inverse])
            }

            Op::RemoveGroup { id } => {
                let Some((index, _, group)) = self.groups.shift_remove_full(id.as_str()) else {
                    return Err(Error::UnknownGroup { group: id.clone() });
                };
                let inverse = Op::AddGroup {
                    id: group.id.clone(),
                    index: Some(index),
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
                    supported: if entry.type_version > spec.version {
                        format!("has only version {}, which is older", spec.version)
                    } else {
                        format!("has version {} and no migration path from it", spec.version)
                    },
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
            entry.own_digest = OnceLock::new();
        }
    }

    /// Removes the edge at `position` in the edge order, journals it, and
    /// returns the op that puts it back there.
    fn remove_edge_at(&mut self, position: usize, journal: &mut Vec<Undo>) -> Op {
        let Some((id, slot)) = self.edges.shift_remove_index(position) else {
            // Positions come from the edge map itself.
            return Op::Disconnect { id: String::new() };
        };
        let edge = self.edge_doc(&slot);
        let removed = match slot {
            EdgeSlot::Live(eix) => {
                let (s, t) = self
                    .graph
                    .inner()
                    .edge_endpoints(eix)
                    .unwrap_or((NodeIndex::end(), NodeIndex::end()));
                let source = self.graph[s].clone();
                let target = self.graph[t].clone();
                match self.graph.remove_edge(eix) {
                    Some(link) => RemovedEdge::Live {
                        source,
                        target,
                        link,
                    },
                    None => RemovedEdge::Detached(Box::new((edge.clone(), Detached::Dangling))),
                }
            }
            EdgeSlot::Detached(d) => RemovedEdge::Detached(d),
        };
        journal.push(Undo::EdgeRemoved {
            index: position,
            id,
            edge: removed,
        });
        Op::RestoreEdge {
            edge,
            index: Some(position),
        }
    }

    fn edge_id_taken(&self, id: &str) -> bool {
        self.edges.contains_key(id)
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
        let mut seen = HashSet::with_capacity(nodes.len());
        for node in nodes {
            if !self.nodes.contains_key(node.as_str()) {
                return Err(Error::UnknownNode { node: node.clone() });
            }
            if !seen.insert(node.as_str()) {
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
                    if let Some(EdgeSlot::Live(eix)) = self.edges.shift_remove(&id) {
                        self.graph.remove_edge(eix);
                    }
                }
                Undo::EdgeRemoved { index, id, edge } => {
                    let slot = match edge {
                        RemovedEdge::Live {
                            source,
                            target,
                            link,
                        } => {
                            let s = self.nodes[&source].ix;
                            let t = self.nodes[&target].ix;
                            // The edge was live before this apply, so it cannot close a cycle now.
                            match self.graph.try_add_edge(s, t, link) {
                                Ok(eix) => EdgeSlot::Live(eix),
                                Err(_) => continue,
                            }
                        }
                        RemovedEdge::Detached(d) => EdgeSlot::Detached(d),
                    };
                    self.edges.shift_insert(index, id, slot);
                }
                Undo::GroupAdded(id) => {
                    self.groups.shift_remove(&id);
                }
                Undo::GroupRemoved { index, group } => {
                    self.groups.shift_insert(index, group.id.clone(), group);
                }
                Undo::CanvasChanged(old) => {
                    let CanvasSettings {
                        name,
                        viewport,
                        story,
                        metadata,
                    } = *old;
                    self.name = name;
                    self.viewport = viewport;
                    self.story = story;
                    if let Some(metadata) = metadata {
                        self.metadata = metadata;
                    }
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
    fill_defaults(spec, &mut props, |_| true);
    props.shrink_to_fit();
    Ok(props)
}

/// Gives every absent property that applies (and that `eligible` accepts)
/// its default. Properties that do not apply with the current settings (a
/// blur's `radius` on a colour grade) stay absent: documents carry only what
/// matters, and the default arrives when the property starts to apply.
/// Returns the names it filled.
fn fill_defaults(
    spec: &NodeTypeSpec,
    props: &mut Properties,
    eligible: impl Fn(&crate::catalog::PropertySpec) -> bool,
) -> Vec<Arc<str>> {
    let mut filled = Vec::new();
    // A default can make another property apply (`blur_kind: gaussian` under
    // `effect: blur`), so repeat until nothing changes; chains are short.
    loop {
        let before = filled.len();
        for prop in &spec.properties {
            if let Some(default) = &prop.default
                && props.get(&prop.name).is_none()
                && property_applies(spec, props, prop)
                && eligible(prop)
            {
                props.set(prop.name.clone(), default.clone());
                filled.push(prop.name.clone());
            }
        }
        if filled.len() == before {
            return filled;
        }
    }
}

fn check_label(label: Option<&str>) -> Result<()> {
    label.map_or(Ok(()), |l| check_text("label", l))
}
