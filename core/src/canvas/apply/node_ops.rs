//! Node ops: add, remove, restore, move, label, editor state; and the
//! lookups every op on a node starts with.

use std::sync::{Arc, OnceLock};

use petgraph::Direction;
use serde_json::{Map, Value};

use super::super::load::{migrate_properties, resolve_node};
use super::super::{Canvas, NodeEntry, node_doc};
use super::journal::Undo;
use super::property_ops::checked_properties;
use crate::catalog::NodeTypeSpec;
use crate::error::{Error, Result};
use crate::limits::{check_node, check_position, check_text, check_ui};
use crate::model::{Node, Position, check_id};
use crate::ops::Op;

impl Canvas {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn add_node(
        &mut self,
        id: &str,
        node_type: &str,
        type_version: Option<u32>,
        label: Option<&str>,
        position: Position,
        properties: &Map<String, Value>,
        ui: Option<&Value>,
        journal: &mut Vec<Undo>,
    ) -> Result<Op> {
        check_id(id)?;
        if self.nodes.contains_key(id) {
            return Err(Error::DuplicateId {
                kind: "node",
                id: id.to_owned(),
            });
        }
        let (spec, index) =
            self.catalog
                .get_indexed(node_type)
                .ok_or_else(|| Error::UnknownNodeType {
                    type_name: node_type.to_owned(),
                    known: self.catalog.type_names(),
                })?;
        // Only an older type version needs its own copy of the values, to migrate.
        let migrated = match type_version {
            Some(v) if v > spec.version => {
                return Err(Error::UnsupportedTypeVersion {
                    node: id.to_owned(),
                    type_name: node_type.to_owned(),
                    version: v,
                    supported: format!("has version {}", spec.version),
                });
            }
            Some(v) if v < spec.version => {
                let mut props = properties.clone();
                migrate_properties(&spec, v, &mut props).map_err(|_| {
                    Error::UnsupportedTypeVersion {
                        node: id.to_owned(),
                        type_name: node_type.to_owned(),
                        version: v,
                        supported: format!(
                            "has version {} and no migration path from {v}",
                            spec.version
                        ),
                    }
                })?;
                Some(props)
            }
            _ => None,
        };
        check_label(label)?;
        check_position(position)?;
        check_ui(ui)?;
        let props = checked_properties(
            id,
            &spec,
            &index,
            migrated.as_ref().unwrap_or(properties),
            &mut self.spare_slots,
        )?;
        let key: Arc<str> = Arc::from(id);
        let ix = self.graph.add_node(key.clone());
        self.nodes.insert(
            key.clone(),
            NodeEntry {
                ix,
                type_name: spec.type_name.clone(),
                type_version: spec.version,
                spec: Some(spec),
                label: label.map(Box::from),
                position,
                properties: props,
                ui: ui.cloned().map(Box::new),
                own_digest: OnceLock::new(),
                values_checked: true,
            },
        );
        journal.push(Undo::NodeAdded(key));
        Ok(Op::RemoveNode { id: id.to_owned() })
    }

    /// Removes a node with its edges and memberships; pushes the ops that
    /// undo it, in the order to apply them.
    pub(super) fn remove_node(
        &mut self,
        id: &str,
        journal: &mut Vec<Undo>,
        inverse: &mut Vec<Op>,
    ) -> Result<()> {
        let Some((index, key, entry)) = self
            .nodes
            .get_full(id)
            .map(|(i, k, e)| (i, k.clone(), e.clone()))
        else {
            return Err(Error::UnknownNode {
                node: id.to_owned(),
            });
        };
        inverse.push(Op::RestoreNode {
            node: node_doc(&key, &entry),
            index: Some(index),
        });
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
        let restores = inverse.len();
        for position in incident {
            let restore = self.remove_edge_at(position, journal);
            inverse.push(restore);
        }
        inverse[restores..].reverse();
        inverse.extend(group_inverse);
        self.graph.remove_node(entry.ix);
        self.nodes.shift_remove_index(index);
        journal.push(Undo::NodeRemoved {
            index,
            id: key,
            entry,
        });
        Ok(())
    }

    pub(super) fn restore_node(
        &mut self,
        node: &Node,
        index: Option<usize>,
        journal: &mut Vec<Undo>,
    ) -> Result<Op> {
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
        Ok(Op::RemoveNode {
            id: node.id.clone(),
        })
    }

    pub(super) fn move_node(
        &mut self,
        id: &str,
        position: Position,
        journal: &mut Vec<Undo>,
    ) -> Result<Op> {
        check_position(position)?;
        let (key, entry) = self.node_entry(id)?;
        let old = entry.position;
        self.replace_node(key, false, journal, |e| e.position = position);
        Ok(Op::MoveNode {
            id: id.to_owned(),
            position: old,
        })
    }

    pub(super) fn set_label(
        &mut self,
        id: &str,
        label: Option<&str>,
        journal: &mut Vec<Undo>,
    ) -> Result<Op> {
        check_label(label)?;
        let (key, entry) = self.node_entry(id)?;
        let old = entry.label.as_deref().map(str::to_owned);
        let new = label.map(Box::from);
        self.replace_node(key, true, journal, |e| e.label = new);
        Ok(Op::SetLabel {
            id: id.to_owned(),
            label: old,
        })
    }

    pub(super) fn set_ui(
        &mut self,
        id: &str,
        ui: Option<&Value>,
        journal: &mut Vec<Undo>,
    ) -> Result<Op> {
        check_ui(ui)?;
        let (key, entry) = self.node_entry(id)?;
        let old = entry.ui.as_deref().cloned();
        let new = ui.cloned().map(Box::new);
        self.replace_node(key, false, journal, |e| e.ui = new);
        Ok(Op::SetUi {
            id: id.to_owned(),
            ui: old,
        })
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

    pub(super) fn node_entry(&self, id: &str) -> Result<(Arc<str>, &NodeEntry)> {
        self.nodes
            .get_key_value(id)
            .map(|(k, e)| (k.clone(), e))
            .ok_or_else(|| Error::UnknownNode {
                node: id.to_owned(),
            })
    }

    /// Changes a node in place, journalling it as it was. `content`: the
    /// change can alter what the node computes (not only layout or editor
    /// state), so the change log records it.
    pub(super) fn replace_node(
        &mut self,
        key: Arc<str>,
        content: bool,
        journal: &mut Vec<Undo>,
        change: impl FnOnce(&mut NodeEntry),
    ) {
        if let Some(entry) = self.nodes.get_mut(&key) {
            journal.push(Undo::NodeChanged {
                id: key,
                content,
                entry: Box::new(entry.clone()),
            });
            change(entry);
            entry.own_digest = OnceLock::new();
        }
    }
}

pub(super) fn check_label(label: Option<&str>) -> Result<()> {
    label.map_or(Ok(()), |l| check_text("label", l))
}
