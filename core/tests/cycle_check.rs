//! The cycle check of a connect walks every node between its ends: on a long
//! chain, all of them. A refused connect must not overflow the stack (the
//! recursive walk it used did, at 100,000 nodes).

use reelgraph::{Canvas, Catalog, Op, PortRef};
use serde_json::json;

const LEN: usize = 100_000;

/// A chain r0 → r1 → … of a pass-through type.
fn chain() -> Canvas {
    let catalog = Catalog::builtin();
    catalog
        .register_json(
            r#"{"type": "relay", "category": "test", "title": "Relay",
                "inputs": [{"name": "in", "type": "any", "multiple": true}],
                "outputs": [{"name": "out", "type": "any"}]}"#,
        )
        .expect("a valid spec");
    let mut canvas = Canvas::new(catalog, "chain", "Chain");
    let mut ops = Vec::new();
    for i in 0..LEN {
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

fn port(node: &str, port: &str) -> PortRef {
    PortRef::new(node, port)
}

#[test]
fn a_cycle_closing_connect_on_a_long_chain_is_refused() {
    let mut canvas = chain();
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
