//! Undo and redo of a canvas's applies, kept beside the canvas (a canvas
//! itself records no history: a server applying many users' ops wants none).
//! Each successful apply leaves its inverse ops; undo applies them, and the
//! inverse of that undo becomes the redo.

use crate::canvas::{Applied, Canvas};
use crate::error::Result;
use crate::ops::Op;

/// The undo and redo stacks of one canvas's edits.
///
/// ```
/// use reelgraph::{Canvas, Catalog, History, Op};
/// use serde_json::json;
///
/// let mut canvas = Canvas::new(Catalog::builtin(), "c", "C");
/// let mut history = History::new();
/// history.apply(&mut canvas, vec![Op::add_node("shot_1", "shot", json!({}))])?;
/// assert_eq!(canvas.node_count(), 1);
///
/// history.undo(&mut canvas)?;
/// assert_eq!(canvas.node_count(), 0);
/// history.redo(&mut canvas)?;
/// assert_eq!(canvas.node_count(), 1);
/// assert!(history.redo(&mut canvas)?.is_none()); // nothing left to redo
/// # Ok::<(), reelgraph::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct History {
    undo: Vec<Vec<Op>>,
    redo: Vec<Vec<Op>>,
}

impl History {
    /// Empty stacks.
    pub fn new() -> Self {
        History::default()
    }

    /// Applies `ops` to `canvas` and records the apply; a new edit clears the redo stack.
    pub fn apply(&mut self, canvas: &mut Canvas, ops: impl Into<Vec<Op>>) -> Result<Applied> {
        let applied = canvas.apply(ops)?;
        self.record(applied.inverse.clone());
        Ok(applied)
    }

    /// Records an apply made elsewhere on the same canvas by its inverse ops
    /// (`Applied::inverse`, taken by value: a bulk apply's can be large). An
    /// empty apply (nothing changed) records nothing.
    pub fn record(&mut self, inverse: Vec<Op>) {
        if inverse.is_empty() {
            return;
        }
        self.redo.clear();
        self.undo.push(inverse);
    }

    /// Undoes the last recorded apply; `None` when there is nothing to undo.
    /// When the canvas refuses the inverse ops (it was changed without this
    /// history), the error is returned and both stacks stay as they were.
    pub fn undo(&mut self, canvas: &mut Canvas) -> Result<Option<Applied>> {
        let Some(ops) = self.undo.pop() else {
            return Ok(None);
        };
        match canvas.apply(ops.clone()) {
            Ok(applied) => {
                self.redo.push(applied.inverse.clone());
                Ok(Some(applied))
            }
            Err(e) => {
                self.undo.push(ops);
                Err(e)
            }
        }
    }

    /// Applies again the last undone apply; `None` when there is nothing to redo.
    pub fn redo(&mut self, canvas: &mut Canvas) -> Result<Option<Applied>> {
        let Some(ops) = self.redo.pop() else {
            return Ok(None);
        };
        match canvas.apply(ops.clone()) {
            Ok(applied) => {
                self.undo.push(applied.inverse.clone());
                Ok(Some(applied))
            }
            Err(e) => {
                self.redo.push(ops);
                Err(e)
            }
        }
    }

    /// How many applies can be undone.
    pub fn undo_len(&self) -> usize {
        self.undo.len()
    }

    /// How many undone applies can be redone.
    pub fn redo_len(&self) -> usize {
        self.redo.len()
    }

    /// Forgets both stacks (e.g. after the canvas was reloaded).
    pub fn clear(&mut self) {
        self.undo.clear();
        self.redo.clear();
    }
}
