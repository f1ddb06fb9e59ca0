//! `apply`: ops are checked and applied one by one while a journal records
//! how to restore every change exactly (including positions in the ordered
//! maps); the first rejection rolls the journal back, so a failed apply leaves
//! the canvas as it was, byte for byte. Each op has its own function, in a
//! file by what it changes: nodes, properties, edges, groups, the canvas.

mod canvas_ops;
mod edge_ops;
mod group_ops;
mod journal;
mod node_ops;
mod property_ops;
mod record;

use serde::{Deserialize, Serialize};

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{Canvas, now_rfc3339_at};
use crate::delta::Delta;
use crate::error::{Error, Result};
use crate::event::{Event, Timestamp};
use crate::ops::{Op, SharedOps};
pub(super) use journal::SpareJournal;
use journal::Undo;

/// What a successful [`Canvas::apply`] returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Applied {
    /// The canvas revision after the change.
    pub revision: u64,
    /// Ops that undo the change, in the order to apply them.
    // Shared with the `UndoStack` that made the apply, if one did.
    pub inverse: SharedOps,
    /// The change, for collaborators and autosavers.
    pub event: Event,
}

impl Canvas {
    /// Applies ops atomically: all of them, or none. On success the revision
    /// goes up by one and the result carries the inverse ops and a change event.
    /// An empty list changes nothing: the revision stays, and its event, with
    /// no ops, repeats the current revision. On failure the error names the
    /// op (`details.op_index`) and the canvas is unchanged.
    pub fn apply(&mut self, ops: impl Into<Vec<Op>>) -> Result<Applied> {
        let ops = ops.into();
        if ops.is_empty() {
            return Ok(self.nothing_applied());
        }
        match self.apply_journaled(ops) {
            Ok((applied, journal)) => {
                self.spare_journal.put_back(journal);
                Ok(applied)
            }
            Err((e, _)) => Err(e),
        }
    }

    /// [`Canvas::apply`] that gives the ops back when rejected, so an undo
    /// stack keeps its entry without a copy.
    pub(crate) fn apply_or_return(&mut self, ops: Vec<Op>) -> Result<Applied, (Error, Vec<Op>)> {
        if ops.is_empty() {
            return Ok(self.nothing_applied());
        }
        let (applied, journal) = self.apply_journaled(ops)?;
        self.spare_journal.put_back(journal);
        Ok(applied)
    }

    /// [`Canvas::apply`], and what the apply changed as a [`Delta`] of the
    /// document (none when `ops` is empty and nothing changed): what a store
    /// that keeps a journal writes instead of the whole document.
    ///
    /// ```
    /// use reelgraph::{Canvas, Catalog, Op};
    /// use serde_json::json;
    ///
    /// let mut canvas = Canvas::new(Catalog::builtin(), "demo", "Demo");
    /// let mut doc = canvas.to_document();
    /// let (_, delta) = canvas
    ///     .apply_recorded(vec![Op::add_node("s1", "shot", json!({"number": 1}))])
    ///     .unwrap();
    /// delta.unwrap().apply_to(&mut doc).unwrap();
    /// assert_eq!(doc, canvas.to_document());
    /// ```
    pub fn apply_recorded(&mut self, ops: impl Into<Vec<Op>>) -> Result<(Applied, Option<Delta>)> {
        let ops = ops.into();
        if ops.is_empty() {
            return Ok((self.nothing_applied(), None));
        }
        let before = record::Before::of(self);
        let (applied, journal) = self.apply_journaled(ops).map_err(|(e, _)| e)?;
        let delta = record::delta(self, before, &journal);
        self.spare_journal.put_back(journal);
        Ok((applied, Some(delta)))
    }

    fn nothing_applied(&self) -> Applied {
        Applied {
            revision: self.revision,
            inverse: SharedOps::default(),
            // Nothing changed: the event repeats the current revision.
            event: self.event(Vec::new(), self.updated_ts()),
        }
    }

    /// Applies a non-empty list of ops; the journal says what changed. A
    /// rejection gives the ops back.
    fn apply_journaled(
        &mut self,
        mut ops: Vec<Op>,
    ) -> Result<(Applied, Vec<Undo>), (Error, Vec<Op>)> {
        let mut journal = self.spare_journal.take(ops.len());
        let mut inverse = Vec::with_capacity(ops.len());
        self.reserve_for(&ops);
        for index in 0..ops.len() {
            let start = inverse.len();
            match self.apply_one(&mut ops[index], &mut journal, &mut inverse) {
                // Reversed here and all together below: the inverses of the
                // last op come first, each op's in their own order.
                Ok(()) => inverse[start..].reverse(),
                Err(source) => {
                    self.rollback(journal);
                    let error = Error::OpRejected {
                        index,
                        op: ops[index].name(),
                        source: Box::new(source),
                    };
                    return Err((error, ops));
                }
            }
        }
        self.revision += 1;
        self.touch();
        let edge_removed = journal::edge_removed(&journal);
        let at_least = journal::sure_changes(&journal, edge_removed);
        let changes = journal::changes(
            &self.edges,
            &self.graph,
            self.revision,
            &journal,
            edge_removed,
        );
        self.changes.record(self.revision, at_least, changes);
        inverse.reverse();
        let applied = Applied {
            revision: self.revision,
            inverse: inverse.into(),
            event: self.event(ops, self.updated_ts()),
        };
        Ok((applied, journal))
    }

    /// Makes room for the nodes and edges a big apply adds, so that building
    /// a canvas in one apply does not grow (and copy) its tables again and
    /// again. Small applies skip the count.
    fn reserve_for(&mut self, ops: &[Op]) {
        const WORTH_COUNTING: usize = 256;
        if ops.len() < WORTH_COUNTING {
            return;
        }
        let (mut nodes, mut edges) = (0, 0);
        for op in ops {
            match op {
                Op::AddNode { .. } | Op::RestoreNode { .. } => nodes += 1,
                Op::Connect { .. } | Op::RestoreEdge { .. } => edges += 1,
                _ => {}
            }
        }
        self.nodes.reserve(nodes);
        self.edges.reserve(edges);
        self.graph.reserve(nodes, edges);
    }

    /// Sets `updated_at` to now. Applies come faster than milliseconds
    /// pass, so the text is written only when the millisecond changed.
    fn touch(&mut self) {
        let now = SystemTime::now();
        let ms = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        if ms == 0 || ms != self.updated_ms {
            self.updated_at = now_rfc3339_at(now);
            self.updated_ms = ms;
        }
    }

    /// `updated_at` as a timestamp: the millisecond an apply wrote, else
    /// the loaded text.
    fn updated_ts(&self) -> Timestamp {
        if self.updated_ms != 0 {
            return Timestamp(UNIX_EPOCH + Duration::from_millis(self.updated_ms));
        }
        Timestamp::parse(&self.updated_at).unwrap_or_else(Timestamp::now)
    }

    fn event(&self, ops: Vec<Op>, ts: Timestamp) -> Event {
        // A canvas's revisions are its events' sequence: gapless from 1.
        Event::CanvasChanged {
            canvas_id: self.id.clone(),
            seq: self.revision,
            revision: self.revision,
            ts,
            ops,
        }
    }

    /// Applies one op and pushes the ops that undo it. `op` is completed in
    /// place (a generated edge id) so the event replays exactly.
    fn apply_one(
        &mut self,
        op: &mut Op,
        journal: &mut Vec<Undo>,
        inverse: &mut Vec<Op>,
    ) -> Result<()> {
        let undo = match op {
            Op::AddNode {
                id,
                node_type,
                type_version,
                label,
                position,
                properties,
                ui,
            } => self.add_node(
                id,
                node_type,
                *type_version,
                label.as_deref(),
                *position,
                properties,
                ui.as_ref(),
                journal,
            ),
            Op::RemoveNode { id } => return self.remove_node(id, journal, inverse),
            Op::RestoreNode { node, index } => self.restore_node(node, *index, journal),
            Op::SetProperties {
                id,
                properties,
                unset,
            } => self.set_properties(id, properties, unset, journal),
            Op::MoveNode { id, position } => self.move_node(id, *position, journal),
            Op::SetLabel { id, label } => self.set_label(id, label.as_deref(), journal),
            Op::SetUi { id, ui } => self.set_ui(id, ui.as_ref(), journal),
            Op::Connect { id, source, target } => self.connect(id, source, target, journal),
            Op::Disconnect { id } => self.disconnect(id, journal),
            Op::RestoreEdge { edge, index } => self.restore_edge(edge, *index, journal),
            Op::AddGroup {
                id,
                index,
                label,
                nodes,
                ui,
            } => self.add_group(id, *index, label, nodes, ui, journal),
            Op::SetGroup {
                id,
                label,
                nodes,
                ui,
            } => self.set_group(id, label, nodes, ui, journal),
            Op::RemoveGroup { id } => self.remove_group(id, journal),
            Op::SetCanvas {
                name,
                viewport,
                story,
                metadata,
            } => self.set_canvas(
                name.as_deref(),
                *viewport,
                *story,
                metadata.as_ref(),
                journal,
            ),
        }?;
        inverse.push(undo);
        Ok(())
    }
}
