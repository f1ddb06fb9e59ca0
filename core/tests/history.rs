//! `History`: undo and redo stacks over a canvas's applies.

use reelgraph::{Canvas, Catalog, History, Op};
use serde_json::json;

fn canvas() -> Canvas {
    Canvas::new(Catalog::builtin(), "h", "History")
}

#[test]
fn undo_and_redo_walk_back_and_forth_and_a_new_edit_clears_redo() -> reelgraph::Result<()> {
    let mut canvas = canvas();
    let mut history = History::new();
    let empty = canvas.to_json();
    history.apply(&mut canvas, vec![Op::add_node("a", "shot", json!({}))])?;
    let one = canvas.to_document().nodes;
    history.apply(&mut canvas, vec![Op::add_node("b", "shot", json!({}))])?;
    assert_eq!((history.undo_len(), history.redo_len()), (2, 0));

    history.undo(&mut canvas)?;
    assert_eq!(canvas.to_document().nodes, one);
    history.undo(&mut canvas)?;
    assert_eq!(canvas.node_count(), 0);
    assert!(history.undo(&mut canvas)?.is_none());
    assert_eq!((history.undo_len(), history.redo_len()), (0, 2));
    // Undo is an apply: the revision goes on up, the content is as it was.
    assert_eq!(canvas.revision(), 4);
    assert_ne!(canvas.to_json(), empty);

    history.redo(&mut canvas)?;
    assert_eq!(canvas.to_document().nodes, one);
    history.apply(&mut canvas, vec![Op::add_node("c", "shot", json!({}))])?;
    assert_eq!(history.redo_len(), 0, "a new edit drops what was undone");
    assert!(history.redo(&mut canvas)?.is_none());
    Ok(())
}

#[test]
fn an_empty_apply_is_not_recorded() -> reelgraph::Result<()> {
    let mut canvas = canvas();
    let mut history = History::new();
    history.apply(&mut canvas, Vec::new())?;
    assert_eq!(history.undo_len(), 0);
    Ok(())
}

#[test]
fn an_undo_the_canvas_refuses_keeps_both_stacks() -> reelgraph::Result<()> {
    let mut canvas = canvas();
    let mut history = History::new();
    history.apply(&mut canvas, vec![Op::add_node("a", "shot", json!({}))])?;
    // Changed behind the history's back: the inverse (remove `a`) no longer applies.
    canvas.apply(vec![Op::RemoveNode { id: "a".into() }])?;
    let before = canvas.to_json();

    let err = history
        .undo(&mut canvas)
        .expect_err("the canvas no longer has `a`");
    assert_eq!(err.code(), "unknown_node");
    assert_eq!(canvas.to_json(), before);
    assert_eq!((history.undo_len(), history.redo_len()), (1, 0));
    Ok(())
}
