//! Canvas documents the store tests save, shared by the test crates that
//! include this file with `#[path]`.

use reelgraph::{Canvas, CanvasDocument, Catalog, Op};
use serde_json::json;

/// A document with `shots` shots, at revision 0.
pub fn doc(id: &str, name: &str, shots: usize) -> CanvasDocument {
    // Loading the catalogue takes a while in a debug build: once.
    static CATALOG: std::sync::OnceLock<Catalog> = std::sync::OnceLock::new();
    let catalog = CATALOG.get_or_init(Catalog::builtin).clone();
    let mut canvas = Canvas::new(catalog, id, name);
    let ops: Vec<Op> = (0..shots)
        .map(|i| Op::add_node(&format!("s{i}"), "shot", json!({"number": i + 1})))
        .collect();
    canvas.apply(ops).expect("shots apply");
    let mut d = canvas.to_document();
    d.revision = 0;
    d
}
