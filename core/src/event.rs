//! Events: one envelope, tagged by `type`, the same in every language.

use serde::Serialize;

use crate::ops::Op;

/// Something that happened to a canvas.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Event {
    /// A canvas changed: `ops` replayed on revision `revision - 1` give revision `revision`.
    /// Ops carry the ids the canvas generated (e.g. edge ids).
    CanvasChanged {
        canvas_id: String,
        revision: u64,
        ts: String,
        ops: Vec<Op>,
    },
}
