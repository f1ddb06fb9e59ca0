//! Edge ops: connect, disconnect, restore; and the removal of one edge that
//! `remove_node` shares.

use std::sync::Arc;

use petgraph::stable_graph::NodeIndex;

use super::super::connect::cycle;
use super::super::load::attach;
use super::super::{Canvas, Detached, EdgeSlot, Link};
use super::journal::{RemovedEdge, Undo};
use crate::error::{Error, Result};
use crate::limits::check_edge;
use crate::model::{Edge, PortRef, check_id};
use crate::ops::Op;

impl Canvas {
    /// Connects two ports; `id` is filled in when the op gave none, so the
    /// change event replays exactly.
    pub(super) fn connect(
        &mut self,
        id: &mut Option<String>,
        source: &PortRef,
        target: &PortRef,
        journal: &mut Vec<Undo>,
    ) -> Result<Op> {
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
        journal.push(Undo::EdgeAdded {
            id: key,
            target: Some(ends.target),
        });
        *id = Some(edge_id.clone());
        Ok(Op::Disconnect { id: edge_id })
    }

    pub(super) fn disconnect(&mut self, id: &str, journal: &mut Vec<Undo>) -> Result<Op> {
        let Some(position) = self.edges.get_index_of(id) else {
            return Err(Error::UnknownEdge {
                edge: id.to_owned(),
            });
        };
        Ok(self.remove_edge_at(position, journal))
    }

    pub(super) fn restore_edge(
        &mut self,
        edge: &Edge,
        index: Option<usize>,
        journal: &mut Vec<Undo>,
    ) -> Result<Op> {
        check_edge(edge)?;
        if self.edges.contains_key(edge.id.as_str()) {
            return Err(Error::DuplicateId {
                kind: "edge",
                id: edge.id.clone(),
            });
        }
        let key: Arc<str> = Arc::from(edge.id.as_str());
        let slot = attach(&mut self.graph, &self.nodes, edge.clone());
        let target = match &slot {
            EdgeSlot::Live(eix) => self.graph.inner().edge_endpoints(*eix).map(|(_, t)| t),
            EdgeSlot::Detached(_) => None,
        };
        let at = index.unwrap_or(self.edges.len()).min(self.edges.len());
        self.edges.shift_insert(at, key.clone(), slot);
        journal.push(Undo::EdgeAdded { id: key, target });
        Ok(Op::Disconnect {
            id: edge.id.clone(),
        })
    }

    /// Removes the edge at `position` in the edge order, journals it, and
    /// returns the op that puts it back there.
    pub(super) fn remove_edge_at(&mut self, position: usize, journal: &mut Vec<Undo>) -> Op {
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
        // Pushed piece by piece: `format!` costs more than the rest of a connect.
        let parts = [
            &*source.node,
            ".",
            &*source.port,
            "->",
            &*target.node,
            ".",
            &*target.port,
        ];
        let mut base = String::with_capacity(parts.iter().map(|p| p.len()).sum());
        for part in parts {
            base.push_str(part);
        }
        if !self.edge_id_taken(&base) {
            return base;
        }
        (2..)
            .map(|n| format!("{base}#{n}"))
            .find(|candidate| !self.edge_id_taken(candidate))
            .unwrap_or(base)
    }
}
