//! The journal of one apply: how to put back each change, newest first, when
//! a later op is rejected; and which node each change touched, for the
//! change log.

use std::sync::Arc;

use petgraph::stable_graph::NodeIndex;
use serde_json::{Map, Value};

use super::super::{Canvas, Change, Detached, EdgeSlot, Graph, IdMap, Link, NodeEntry};
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
        /// What the node computes may have changed, not only its layout.
        content: bool,
        entry: Box<NodeEntry>,
    },
    EdgeAdded {
        id: Arc<str>,
        /// The node a live edge goes into, so that the change log need not
        /// look the edge up again (None: the edge was kept aside).
        target: Option<NodeIndex>,
    },
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

/// A journal's buffer, kept by the canvas between applies: most applies are
/// one op from an editor or a binding, and reusing it saves an allocation
/// each. A big apply's buffer is not kept, so memory stays small.
#[derive(Debug, Default)]
pub(in crate::canvas) struct SpareJournal(Vec<Undo>);

impl SpareJournal {
    const KEEP: usize = 64;

    /// An empty journal with room for `ops` changes.
    pub(super) fn take(&mut self, ops: usize) -> Vec<Undo> {
        let mut journal = std::mem::take(&mut self.0);
        journal.reserve(ops);
        journal
    }

    pub(super) fn put_back(&mut self, mut journal: Vec<Undo>) {
        if journal.capacity() <= Self::KEEP {
            journal.clear();
            self.0 = journal;
        }
    }
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

/// The changes a journal records, as the change log keeps them: the node
/// each change touched, skipping changes that cannot alter what a node
/// computes (layout, editor state, groups, canvas settings). Read after the
/// whole apply, so an edge added and removed again counts once: when an edge
/// was removed, each added edge is looked up; when none was, each is still
/// there, into the node it was added with.
pub(super) fn changes<'a>(
    edges: &'a IdMap<EdgeSlot>,
    graph: &'a Graph,
    revision: u64,
    journal: &'a [Undo],
    edge_removed: bool,
) -> impl Iterator<Item = Change> + 'a {
    journal.iter().filter_map(move |undo| {
        let (node, structural) = match undo {
            Undo::NodeAdded(id) => (id.clone(), true),
            Undo::NodeRemoved { id, .. } => (id.clone(), true),
            Undo::NodeChanged { id, content, .. } => {
                if !content {
                    return None;
                }
                (id.clone(), false)
            }
            // No edge was removed, so neither was this edge's target node.
            Undo::EdgeAdded {
                target: Some(target),
                ..
            } if !edge_removed => (graph[*target].clone(), true),
            Undo::EdgeAdded { id, .. } => match edges.get(id)? {
                EdgeSlot::Live(eix) => {
                    let (_, target) = graph.inner().edge_endpoints(*eix)?;
                    (graph[target].clone(), true)
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
            revision,
            node,
            structural,
        })
    })
}

/// Whether the journal removed an edge.
pub(super) fn edge_removed(journal: &[Undo]) -> bool {
    journal
        .iter()
        .any(|undo| matches!(undo, Undo::EdgeRemoved { .. }))
}

/// How many changes [`changes`] gives at least, counted without lookups:
/// the entries that always give one, and the added edges when none was
/// removed (then each is still there).
pub(super) fn sure_changes(journal: &[Undo], edge_removed: bool) -> usize {
    let (mut sure, mut added_edges) = (0, 0);
    for undo in journal {
        match undo {
            Undo::NodeAdded(_) | Undo::NodeRemoved { .. } | Undo::EdgeRemoved { .. } => sure += 1,
            Undo::NodeChanged { content, .. } => sure += usize::from(*content),
            Undo::EdgeAdded { .. } => added_edges += 1,
            Undo::GroupAdded(_)
            | Undo::GroupRemoved { .. }
            | Undo::GroupChanged(_)
            | Undo::CanvasChanged(_) => {}
        }
    }
    if edge_removed {
        sure
    } else {
        sure + added_edges
    }
}

impl Canvas {
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
                Undo::NodeChanged { id, entry, .. } => {
                    if let Some(slot) = self.nodes.get_mut(&id) {
                        *slot = *entry;
                    }
                }
                Undo::EdgeAdded { id, .. } => {
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::model::{Edge, PortRef, Position};
    use crate::{Canvas, Catalog, Op};

    /// `(node, structural)` of every change after `revision`.
    fn changes(canvas: &Canvas, revision: u64) -> Vec<(String, bool)> {
        canvas
            .changes_since(revision)
            .expect("the log reaches back")
            .iter()
            .map(|c| (c.node.to_string(), c.structural))
            .collect()
    }

    #[test]
    fn the_change_log_records_what_can_change_a_result_and_nothing_else() {
        let mut canvas = Canvas::new(Catalog::builtin(), "c", "C");
        canvas
            .apply(vec![
                Op::add_node("hero", "character", json!({"name": "Mara"})),
                Op::add_node("s1", "shot", json!({"number": 1})),
            ])
            .expect("applies");
        assert_eq!(
            changes(&canvas, 0),
            [("hero".into(), true), ("s1".into(), true)]
        );

        // Layout, editor state, groups and canvas settings: no change.
        canvas
            .apply(vec![
                Op::MoveNode {
                    id: "s1".into(),
                    position: Position { x: 5.0, y: 5.0 },
                },
                Op::SetUi {
                    id: "s1".into(),
                    ui: Some(json!({"color": "red"})),
                },
                Op::AddGroup {
                    id: "g".into(),
                    index: None,
                    label: None,
                    nodes: vec!["s1".into()],
                    ui: None,
                },
                Op::SetCanvas {
                    name: Some("D".into()),
                    viewport: None,
                    story: None,
                    metadata: None,
                },
            ])
            .expect("applies");
        assert_eq!(changes(&canvas, 1), []);

        // Content: the node itself, not the graph's shape.
        canvas
            .apply(vec![
                Op::set_properties("s1", json!({"prompt": "rain"})),
                Op::SetLabel {
                    id: "hero".into(),
                    label: Some("Mara".into()),
                },
            ])
            .expect("applies");
        assert_eq!(
            changes(&canvas, 2),
            [("s1".into(), false), ("hero".into(), false)]
        );

        // An edge changes its target's inputs; a removed node takes its
        // edges (their targets) with it.
        canvas
            .apply(vec![Op::connect(
                ("hero", "character"),
                ("s1", "characters"),
            )])
            .expect("applies");
        assert_eq!(changes(&canvas, 3), [("s1".into(), true)]);
        canvas
            .apply(vec![Op::RemoveNode { id: "hero".into() }])
            .expect("applies");
        assert_eq!(
            changes(&canvas, 4),
            [("s1".into(), true), ("hero".into(), true)]
        );
    }

    /// A character node connected into a shot.
    fn hero_into_shot() -> Vec<Op> {
        vec![
            Op::add_node("hero", "character", json!({"name": "Mara"})),
            Op::add_node("s1", "shot", json!({"number": 1})),
            Op::connect(("hero", "character"), ("s1", "characters")),
        ]
    }

    #[test]
    fn an_edge_added_and_removed_in_one_apply_counts_once() {
        let mut canvas = Canvas::new(Catalog::builtin(), "c", "C");
        let mut ops = hero_into_shot();
        ops.push(Op::Disconnect {
            id: "hero.character->s1.characters".into(),
        });
        canvas.apply(ops).expect("applies");
        assert_eq!(
            changes(&canvas, 0),
            [
                ("hero".into(), true),
                ("s1".into(), true),
                ("s1".into(), true)
            ]
        );
    }

    #[test]
    fn a_restored_edge_changes_its_target_live_or_kept_aside() {
        let mut canvas = Canvas::new(Catalog::builtin(), "c", "C");
        canvas.apply(hero_into_shot()).expect("applies");
        let removed = canvas
            .apply(vec![Op::Disconnect {
                id: "hero.character->s1.characters".into(),
            }])
            .expect("applies");
        canvas.apply(removed.inverse).expect("restores");
        assert_eq!(changes(&canvas, 2), [("s1".into(), true)]);

        // Into a node that is not there: kept aside, still a change of it.
        canvas
            .apply(vec![Op::RestoreEdge {
                edge: Edge {
                    id: "e".into(),
                    source: PortRef::new("hero", "character"),
                    target: PortRef::new("ghost", "characters"),
                },
                index: None,
            }])
            .expect("applies");
        assert_eq!(changes(&canvas, 3), [("ghost".into(), true)]);
    }

    #[test]
    fn an_apply_with_more_changes_than_the_log_keeps_starts_it_over() {
        let mut canvas = Canvas::new(Catalog::builtin(), "c", "C");
        canvas
            .apply(vec![Op::add_node("first", "prop", json!({"name": "P"}))])
            .expect("applies");
        // More changes than the log keeps (16,384); an edge is removed, so
        // the added ones are looked up one by one.
        let mut ops: Vec<Op> = (0..8_192)
            .map(|i| Op::add_node(&format!("c{i}"), "character", json!({"name": "M"})))
            .collect();
        ops.push(Op::add_node("s", "shot", json!({"number": 1})));
        ops.extend(
            (0..8_192)
                .map(|i| Op::connect((&format!("c{i}") as &str, "character"), ("s", "characters"))),
        );
        ops.push(Op::Disconnect {
            id: "c0.character->s.characters".into(),
        });
        canvas.apply(ops).expect("applies");
        assert!(canvas.changes_since(2).expect("starts at 2").is_empty());
        assert!(canvas.changes_since(1).is_none());

        // Sure changes alone overflow it: the same outcome.
        let ops: Vec<Op> = (0..16_385)
            .map(|i| Op::add_node(&format!("p{i}"), "prop", json!({"name": "P"})))
            .collect();
        canvas.apply(ops).expect("applies");
        assert!(canvas.changes_since(3).expect("starts at 3").is_empty());
        assert!(canvas.changes_since(2).is_none());

        // Exactly as many as it keeps: all kept.
        let mut canvas = Canvas::new(Catalog::builtin(), "c", "C");
        let ops: Vec<Op> = (0..16_384)
            .map(|i| Op::add_node(&format!("p{i}"), "prop", json!({"name": "P"})))
            .collect();
        canvas.apply(ops).expect("applies");
        assert_eq!(canvas.changes_since(0).expect("kept").len(), 16_384);

        // As many, with an edge added and removed again: it counts once,
        // so all are kept.
        let mut canvas = Canvas::new(Catalog::builtin(), "c", "C");
        let mut ops: Vec<Op> = (0..8_192)
            .map(|i| Op::add_node(&format!("c{i}"), "character", json!({"name": "M"})))
            .collect();
        ops.push(Op::add_node("s", "shot", json!({"number": 1})));
        ops.extend(
            (0..8_191)
                .map(|i| Op::connect((&format!("c{i}") as &str, "character"), ("s", "characters"))),
        );
        ops.push(Op::Disconnect {
            id: "c0.character->s.characters".into(),
        });
        canvas.apply(ops).expect("applies");
        assert_eq!(canvas.changes_since(0).expect("kept").len(), 16_384);
    }
}
