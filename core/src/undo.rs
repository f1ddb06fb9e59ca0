//! Undo and redo of a canvas's applies, for editors and bindings.
//!
//! Every successful [`Canvas::apply`] returns the ops that undo it; an
//! [`UndoStack`] keeps them. Undoing applies them (a change like any other:
//! the revision goes up, an event goes out) and keeps that apply's own
//! inverse for redo. A new apply through the stack clears what could be
//! redone. The stack and the returned `Applied` share each inverse.

use crate::canvas::{Applied, Canvas};
use crate::error::Result;
use crate::ops::{Op, SharedOps};

/// The inverse ops of the applies made through it, newest last.
///
/// ```
/// use reelgraph::{Canvas, Catalog, Op, UndoStack};
/// use serde_json::json;
///
/// let mut canvas = Canvas::new(Catalog::builtin(), "c", "C");
/// let mut history = UndoStack::default();
/// history.apply(&mut canvas, vec![Op::add_node("s1", "shot", json!({}))])?;
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
pub struct UndoStack {
    undo: Vec<SharedOps>,
    redo: Vec<SharedOps>,
}

impl UndoStack {
    /// [`Canvas::apply`], keeping the inverse for [`undo`](Self::undo). An
    /// apply that changes nothing (no ops) or fails leaves the stack as it was.
    pub fn apply(&mut self, canvas: &mut Canvas, ops: impl Into<Vec<Op>>) -> Result<Applied> {
        let ops = ops.into();
        if ops.is_empty() {
            return canvas.apply(ops);
        }
        let applied = canvas.apply(ops)?;
        self.undo.push(applied.inverse.clone());
        self.redo.clear();
        Ok(applied)
    }

    /// Undoes the newest apply not undone yet; `None` when there is none.
    /// When the canvas was changed since in a way the inverse no longer fits
    /// (an apply that did not go through this stack), the error is the
    /// apply's and the stack keeps the entry.
    pub fn undo(&mut self, canvas: &mut Canvas) -> Result<Option<Applied>> {
        Self::step(canvas, &mut self.undo, &mut self.redo)
    }

    /// Applies again the newest undone apply; `None` when there is none.
    pub fn redo(&mut self, canvas: &mut Canvas) -> Result<Option<Applied>> {
        Self::step(canvas, &mut self.redo, &mut self.undo)
    }

    /// Whether [`undo`](Self::undo) has an apply to undo.
    pub fn can_undo(&self) -> bool {
        !self.undo.is_empty()
    }

    /// Whether [`redo`](Self::redo) has an apply to redo.
    pub fn can_redo(&self) -> bool {
        !self.redo.is_empty()
    }

    /// Forgets every entry (e.g. after the canvas was reloaded).
    pub fn clear(&mut self) {
        self.undo.clear();
        self.redo.clear();
    }

    fn step(
        canvas: &mut Canvas,
        from: &mut Vec<SharedOps>,
        to: &mut Vec<SharedOps>,
    ) -> Result<Option<Applied>> {
        let Some(ops) = from.pop() else {
            return Ok(None);
        };
        // Moved out when the caller no longer holds the `Applied` that made
        // them; a rejection hands them back to keep the entry.
        match canvas.apply_or_return(ops.into_vec()) {
            Ok(applied) => {
                to.push(applied.inverse.clone());
                Ok(Some(applied))
            }
            Err((e, ops)) => {
                from.push(ops.into());
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Catalog;
    use serde_json::json;

    #[test]
    fn the_stack_keeps_the_inverse_the_apply_returned_not_a_copy() {
        let mut canvas = Canvas::new(Catalog::builtin(), "c", "C");
        let mut history = UndoStack::default();
        let applied = history
            .apply(&mut canvas, vec![Op::add_node("s1", "shot", json!({}))])
            .expect("applies");
        let kept = history.undo.last().expect("an entry");
        assert_eq!(kept.as_ptr(), applied.inverse.as_ptr());
        let undone = history
            .undo(&mut canvas)
            .expect("applies")
            .expect("an entry");
        let kept = history.redo.last().expect("an entry");
        assert_eq!(kept.as_ptr(), undone.inverse.as_ptr());
    }

    #[test]
    fn an_undo_that_no_longer_fits_fails_and_keeps_its_entry() {
        let mut canvas = Canvas::new(Catalog::builtin(), "c", "C");
        let mut history = UndoStack::default();
        history
            .apply(&mut canvas, vec![Op::add_node("s1", "shot", json!({}))])
            .expect("applies");
        // Removed behind the stack's back: its inverse (remove s1) cannot apply.
        canvas
            .apply(vec![Op::RemoveNode { id: "s1".into() }])
            .expect("applies");
        let revision = canvas.revision();
        assert_eq!(
            history
                .undo(&mut canvas)
                .expect_err("the undo cannot apply")
                .code(),
            "unknown_node"
        );
        assert_eq!(canvas.revision(), revision);
        assert!(history.can_undo() && !history.can_redo());
    }

    #[test]
    fn a_new_apply_clears_redo_and_an_empty_one_is_not_kept() {
        let mut canvas = Canvas::new(Catalog::builtin(), "c", "C");
        let mut history = UndoStack::default();
        history
            .apply(&mut canvas, vec![Op::add_node("a", "shot", json!({}))])
            .expect("applies");
        history.undo(&mut canvas).expect("applies");
        assert!(history.can_redo());
        history
            .apply(&mut canvas, Vec::<Op>::new())
            .expect("applies");
        assert!(history.can_redo() && !history.can_undo());
        history
            .apply(&mut canvas, vec![Op::add_node("b", "shot", json!({}))])
            .expect("applies");
        assert!(!history.can_redo());
        assert_eq!(
            history
                .undo(&mut canvas)
                .expect("applies")
                .map(|a| a.revision),
            Some(4)
        );
        assert!(history.undo(&mut canvas).expect("applies").is_none());
    }
}
