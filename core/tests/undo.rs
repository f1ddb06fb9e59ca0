//! Undo and redo: for random edit sessions, applying the inverse ops of every
//! apply, newest first, gets back each earlier canvas exactly (order included), and replaying the
//! change events on a copy gets the same canvas as the original.

use reelgraph::{Canvas, CanvasDocument, Catalog, Event, Op, Position};
use serde_json::{Value, json};

/// A tiny deterministic generator, so failures reproduce from the seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Everything that must survive undo, order included (undo puts nodes,
/// edges and groups back where they were: edge order is layer order).
fn content(canvas: &Canvas) -> Value {
    let doc: CanvasDocument = canvas.to_document();
    json!({"nodes": doc.nodes, "edges": doc.edges, "groups": doc.groups})
}

/// A random op that is often valid and sometimes not.
fn random_op(rng: &mut Rng, canvas: &Canvas, n: &mut usize) -> Op {
    let ids: Vec<String> = canvas.nodes().map(|node| node.id).collect();
    let pick = |rng: &mut Rng| {
        ids.get(rng.below(ids.len().max(1)))
            .cloned()
            .unwrap_or_default()
    };
    match rng.below(9) {
        0 | 1 => {
            *n += 1;
            let (ty, props) = match rng.below(4) {
                0 => ("character", json!({"name": format!("C{n}")})),
                1 => ("shot", json!({"number": *n as u64})),
                2 => ("image_gen", json!({})),
                _ => ("effect", json!({"effect": "blur", "radius": 2.0})),
            };
            Op::add_node(&format!("n{n}"), ty, props)
        }
        2 => Op::RemoveNode { id: pick(rng) },
        3 => Op::MoveNode {
            id: pick(rng),
            position: Position::new(rng.below(1000) as f64, rng.below(1000) as f64),
        },
        4 => Op::SetLabel {
            id: pick(rng),
            label: Some(format!("label {}", rng.below(100))),
        },
        5 => Op::SetProperties {
            id: pick(rng),
            unset: Vec::new(),
            properties: json!({"number": rng.below(50), "radius": null})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        },
        6 => {
            let (src, tgt) = (pick(rng), pick(rng));
            let ports = [
                ("character", "characters"),
                ("shot", "shot"),
                ("image", "media"),
                ("media", "image"),
            ];
            let (sp, tp) = ports[rng.below(ports.len())];
            Op::connect((&src, sp), (&tgt, tp))
        }
        7 => {
            let edges: Vec<String> = canvas.edges().map(|e| e.id).collect();
            Op::Disconnect {
                id: edges
                    .get(rng.below(edges.len().max(1)))
                    .cloned()
                    .unwrap_or_default(),
            }
        }
        _ => Op::AddGroup {
            index: None,
            id: format!("g{}", rng.below(5)),
            label: None,
            nodes: vec![pick(rng)],
            ui: None,
        },
    }
}

#[test]
fn inverse_ops_undo_random_sessions_and_events_replay() {
    for seed in 1..=40u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut canvas = Canvas::new(Catalog::builtin(), "undo", "Undo");
        let mut replica = Canvas::new(Catalog::builtin(), "undo", "Undo");
        let mut history: Vec<(Value, Vec<Op>)> = Vec::new();
        let mut counter = 0;
        for _ in 0..120 {
            let batch: Vec<Op> = (0..1 + rng.below(3))
                .map(|_| random_op(&mut rng, &canvas, &mut counter))
                .collect();
            let before = content(&canvas);
            let json_before = canvas.to_json();
            match canvas.apply(batch) {
                Ok(applied) => {
                    let Event::CanvasChanged { ops, .. } = applied.event.clone() else {
                        panic!("apply yields a change event");
                    };
                    replica.apply(ops).expect("events replay on a replica");
                    history.push((before, applied.inverse.into_vec()));
                }
                Err(_) => assert_eq!(
                    canvas.to_json(),
                    json_before,
                    "seed {seed}: rejected apply changed the canvas"
                ),
            }
        }
        assert_eq!(
            content(&replica),
            content(&canvas),
            "seed {seed}: replica diverged"
        );
        assert!(
            history.len() > 10,
            "seed {seed}: the session should mostly succeed"
        );
        while let Some((before, inverse)) = history.pop() {
            canvas.apply(inverse).expect("inverse ops apply");
            assert_eq!(
                content(&canvas),
                before,
                "seed {seed}: undo did not restore the canvas"
            );
        }
        assert_eq!(canvas.node_count(), 0);
    }
}

#[test]
fn a_saved_canvas_loads_back_identically() {
    let mut canvas = Canvas::new(Catalog::builtin(), "rt", "Round trip");
    canvas
        .apply(vec![
            Op::add_node(
                "mara",
                "character",
                json!({"name": "Mara", "lora": "loras/mara.safetensors"}),
            ),
            Op::add_node("s1", "shot", json!({"number": 1})),
            Op::connect(("mara", "character"), ("s1", "characters")),
            Op::SetUi {
                id: "s1".into(),
                ui: Some(
                    json!({"selected": true, "color": "#ff0000", "nested": {"z": 1, "a": [1, 2]}}),
                ),
            },
        ])
        .expect("build");
    let text = canvas.to_json();
    let loaded = Canvas::from_json(Catalog::builtin(), &text).expect("load");
    assert_eq!(loaded.to_json(), text);
    let doc = CanvasDocument::from_json(&text).expect("document");
    assert_eq!(
        serde_json::to_string(&doc).expect("serialise"),
        text,
        "streamed and document forms agree"
    );
}
