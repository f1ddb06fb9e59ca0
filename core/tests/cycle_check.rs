//! The cycle check of a connect walks every node between its ends: on a long
//! chain, all of them. A refused connect must not overflow the stack (the
//! recursive walk it used did, at 100,000 nodes).

use reelgraph::{Canvas, Catalog, Op, PortRef};
use serde_json::json;

const LEN: usize = 100_000;

/// A chain r0 → r1 → … of `len` nodes of a pass-through type.
fn chain(len: usize) -> Canvas {
    let mut canvas = Canvas::new(relay_catalog(), "chain", "Chain");
    let mut ops = Vec::new();
    for i in 0..len {
        ops.push(Op::add_node(&format!("r{i}"), "relay", json!({})));
        if i > 0 {
            ops.push(Op::connect(
                (&format!("r{}", i - 1), "out"),
                (&format!("r{i}"), "in"),
            ));
        }
    }
    canvas.apply(ops).expect("a valid chain");
    canvas
}

fn relay_catalog() -> Catalog {
    let catalog = Catalog::builtin();
    catalog
        .register_json(
            r#"{"type": "relay", "category": "test", "title": "Relay",
                "inputs": [{"name": "in", "type": "any", "multiple": true}],
                "outputs": [{"name": "out", "type": "any"}]}"#,
        )
        .expect("a valid spec");
    catalog
}

fn port(node: &str, port: &str) -> PortRef {
    PortRef::new(node, port)
}

#[test]
fn a_cycle_closing_connect_on_a_long_chain_is_refused() {
    let mut canvas = chain(LEN);
    let last = format!("r{}", LEN - 1);
    assert_eq!(
        canvas
            .can_connect(&port(&last, "out"), &port("r0", "in"))
            .map_err(|e| e.code()),
        Err("cycle")
    );
    assert_eq!(
        canvas
            .apply(vec![Op::connect((&last, "out"), ("r0", "in"))])
            .map(|_| ())
            .map_err(|e| e.code()),
        Err("cycle")
    );
    // From the middle of the chain.
    assert_eq!(
        canvas
            .can_connect(&port("r70000", "out"), &port("r10", "in"))
            .map_err(|e| e.code()),
        Err("cycle")
    );
}

/// Nodes a chain's repair moves: enough that a recursive walk overflows the
/// stack of `small_stack`, few enough for a debug build.
const REPAIR_LEN: usize = 20_000;

/// Runs `work` on a thread with a modest stack: an edge that makes the
/// order move every node of a long chain must not need a deep one.
fn small_stack(work: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(512 * 1024)
        .spawn(work)
        .expect("a thread starts")
        .join()
        .expect("the work finishes");
}

/// A chain of `len` relays, then a node `head` placed last: an edge from
/// `head` into r0 goes against the order, which must move the whole chain
/// behind `head`.
fn chain_then_head(len: usize) -> Canvas {
    let mut canvas = chain(len);
    canvas
        .apply(vec![Op::add_node("head", "relay", json!({}))])
        .expect("a new node");
    canvas
}

/// Every edge of the canvas runs forward in its topological order.
fn assert_ordered(canvas: &Canvas) {
    let order = canvas.topological_order();
    assert_eq!(order.len(), canvas.node_count());
    let place: std::collections::HashMap<_, _> = order
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    for edge in canvas.edges() {
        assert!(
            place[edge.source.node.as_str()] < place[edge.target.node.as_str()],
            "edge {} runs against the order",
            edge.id
        );
    }
}

#[test]
fn a_connect_that_moves_a_long_chain_in_the_order_is_accepted() {
    small_stack(|| {
        let mut canvas = chain_then_head(REPAIR_LEN);
        canvas
            .apply(vec![Op::connect(("head", "out"), ("r0", "in"))])
            .expect("no cycle: head feeds the chain");
        assert_ordered(&canvas);
        assert_eq!(canvas.topological_order()[0], "head");
        // The moved order still refuses the cycle through the whole chain.
        let last = format!("r{}", REPAIR_LEN - 1);
        assert_eq!(
            canvas
                .can_connect(&port(&last, "out"), &port("head", "in"))
                .map_err(|e| e.code()),
            Err("cycle")
        );
    });
}

#[test]
fn a_loaded_edge_that_moves_a_long_chain_in_the_order_is_live() {
    small_stack(|| {
        let mut doc = chain_then_head(REPAIR_LEN).to_document();
        doc.edges.push(reelgraph::Edge {
            id: "head->r0".into(),
            source: PortRef::new("head", "out"),
            target: PortRef::new("r0", "in"),
        });
        let text = serde_json::to_string(&doc).expect("a document serialises");
        // Both load paths: the one-pass reader and the document path.
        for canvas in [
            Canvas::from_json(relay_catalog(), &text).expect("loads"),
            Canvas::from_document(relay_catalog(), doc).expect("loads"),
        ] {
            assert!(canvas.validate().diagnostics.is_empty());
            assert_ordered(&canvas);
        }
    });
}

#[test]
fn a_rejected_apply_puts_back_an_edge_that_moves_a_long_chain_in_the_order() {
    small_stack(|| {
        let mut canvas = chain_then_head(REPAIR_LEN);
        let last = format!("r{}", REPAIR_LEN - 1);
        let before = canvas.to_json();
        // The first two ops move r0 behind the chain; the third is refused,
        // and the rollback puts r0 → r1 back against the moved order.
        let refused = canvas
            .apply(vec![
                Op::Disconnect {
                    id: "r0.out->r1.in".into(),
                },
                Op::connect((&last, "out"), ("r0", "in")),
                Op::connect(("nowhere", "out"), ("r0", "in")),
            ])
            .expect_err("an unknown node");
        assert_eq!(refused.code(), "unknown_node");
        assert_eq!(canvas.to_json(), before);
        assert_ordered(&canvas);
    });
}
