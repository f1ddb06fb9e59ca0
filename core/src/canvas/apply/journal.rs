//! The journal of one apply: how to put back each change, newest first, when
//! a later op is rejected; and which node each change touched, for the
//! change log.

use std::sync::Arc;

use petgraph::data::Build;
use serde_json::{Map, Value};

use super::super::{Canvas, Change, Detached, EdgeSlot, Link, NodeEntry};
use crate::model::{Edge, Group, Story, Viewport};

/// How to put back one change.
#[derive(Debug)]
pub(super) enum Undo {
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
pub(super) struct CanvasSettings {
    pub name: String,
    pub viewport: Viewport,
    pub story: Story,
    /// Only when the op replaced it: metadata can be large.
    pub metadata: Option<Map<String, Value>>,
}

/// A removed edge, as it was: live (ends by node id) or kept aside.
#[derive(Debug)]
pub(super) enum RemovedEdge {
    Live {
        source: Arc<str>,
        target: Arc<str>,
        link: Link,
    },
    Detached(Box<(Edge, Detached)>),
}

impl Canvas {
    /// The node a journaled change touched, as the change log records it.
    pub(super) fn change_of(&self, undo: &Undo) -> Option<Change> {
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

    /// Puts back every journaled change, newest first.
    pub(super) fn rollback(&mut self, journal: Vec<Undo>) {
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
