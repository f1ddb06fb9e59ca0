//! `task_previews` shares context channels from one node to the next; it must
//! give exactly what a preview of each node on its own gives.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use reelgraph::{Canvas, Catalog, Op, PortRef, PropertyKind, Quality};
use serde_json::{Value, json};

/// Texts drawn for properties: repeats, blanks and list-like text, so
/// channels meet values the same as ones already there.
const TEXTS: [&str; 6] = [
    "mara",
    "noir",
    "",
    "  ",
    "rain, night",
    "loras/a.safetensors",
];

/// A random canvas of built-in node types: each node gets random property
/// values and random edges from nodes added before it.
fn random_canvas(seed: u64, nodes: usize) -> Canvas {
    let catalog = Catalog::builtin();
    let mut types = catalog.types();
    types.sort_by(|a, b| a.type_name.cmp(&b.type_name));
    let mut canvas = Canvas::new(catalog, "c", "C");
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut added: Vec<(String, usize)> = Vec::new();
    for i in 0..nodes {
        let at = rng.random_range(0..types.len());
        let spec = &types[at];
        let id = format!("n{i}");
        canvas
            .apply(vec![Op::add_node(&id, &spec.type_name, json!({}))])
            .expect("a node without properties is accepted");
        for prop in &spec.properties {
            if rng.random_bool(0.3) {
                continue;
            }
            let value = match prop.kind {
                PropertyKind::Text | PropertyKind::AssetRef => {
                    json!(TEXTS[rng.random_range(0..TEXTS.len())])
                }
                // One seed has integers beyond 2^53, where "the same" is no
                // longer an equivalence and channels are worked out by walking.
                PropertyKind::Integer if seed == 3 && rng.random_bool(0.02) => {
                    json!(9_007_199_254_740_993_u64)
                }
                PropertyKind::Integer => json!(rng.random_range(1..4)),
                // Whole floats and integers compare the same in channels:
                // the one met first is kept.
                PropertyKind::Float => match rng.random_range(0..3) {
                    0 => json!(1.0),
                    1 => json!(1),
                    _ => json!(0.5),
                },
                PropertyKind::Boolean => json!(rng.random_bool(0.5)),
                _ => continue,
            };
            // A value the property refuses is left out.
            let _ = canvas.apply(vec![Op::set_properties(&id, json!({&*prop.name: value}))]);
        }
        for input in &spec.inputs {
            let wanted = if input.multiple {
                rng.random_range(0..5)
            } else {
                rng.random_range(0..2)
            };
            let mut made = 0;
            // Most random pairs have types that do not fit: try a few.
            for _ in 0..40 {
                if made == wanted || added.is_empty() {
                    break;
                }
                let (source, source_type) = &added[rng.random_range(0..added.len())];
                let outputs = &types[*source_type].outputs;
                if outputs.is_empty() {
                    continue;
                }
                let output = &outputs[rng.random_range(0..outputs.len())];
                let (from, to) = (
                    PortRef::new(source, &*output.name),
                    PortRef::new(&id, &*input.name),
                );
                if canvas.can_connect(&from, &to).is_ok() {
                    canvas
                        .apply(vec![Op::Connect {
                            id: None,
                            source: from,
                            target: to,
                        }])
                        .expect("a connect can_connect accepts");
                    made += 1;
                }
            }
        }
        added.push((id, at));
    }
    canvas
}

#[test]
fn previews_of_the_whole_canvas_are_those_of_each_node_alone() {
    // The longest loras, trigger_words and shots lists met.
    let mut longest = [0usize; 3];
    for seed in 0..4 {
        let canvas = random_canvas(seed, 400);
        let order = canvas.topological_order();
        for quality in [Quality::Draft, Quality::Standard] {
            let alone: Vec<_> = order
                .iter()
                .filter_map(|id| canvas.task_preview(id, quality).ok())
                .collect();
            let all = canvas.task_previews(quality);
            assert!(
                all.len() > 50,
                "seed {seed}: the canvas has tasks to preview"
            );
            for (channel, most) in ["loras", "trigger_words", "shots"].iter().zip(&mut longest) {
                for preview in &all {
                    let values = preview.params.get(*channel).and_then(Value::as_array);
                    *most = (*most).max(values.map_or(0, Vec::len));
                }
            }
            assert_eq!(all, alone, "seed {seed}, {quality:?}");
        }
    }
    // Context was read, and shots joined from several upstream nodes.
    assert!(
        longest[0] > 0 && longest[1] > 0 && longest[2] > 1,
        "{longest:?}"
    );
}
