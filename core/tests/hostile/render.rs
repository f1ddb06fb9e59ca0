//! Hostile input: render. Pictures of canvases whose text or positions are
//! extreme stay small, finite and well-formed.

#[path = "../support/markup.rs"]
pub(crate) mod markup;

use reelgraph::model::CanvasDocument;
use reelgraph::render::{self, LayoutMode, SvgOptions};
use reelgraph::{Canvas, Catalog};
use serde_json::{Value, json};

use markup::{check_dot, check_mermaid, check_xml};

/// The most bytes of one piece of user text a picture prints.
const TEXT_LIMIT: usize = render::MAX_TEXT_BYTES;

/// A canvas document from its JSON form, loaded with `from_document`.
fn load(doc: Value) -> Result<Canvas, reelgraph::Error> {
    let doc: CanvasDocument = serde_json::from_value(doc).expect("a document of the right shape");
    Canvas::from_document(Catalog::builtin(), doc)
}

fn document(nodes: Value, edges: Value, groups: Value) -> Value {
    let mut doc = json!({
        "format": "reelgraph.canvas", "format_version": 2, "id": "hostile", "name": "Hostile"
    });
    doc["nodes"] = nodes;
    doc["edges"] = edges;
    doc["groups"] = groups;
    doc
}

fn node(id: &str, node_type: &str, x: f64, y: f64) -> Value {
    json!({"id": id, "type": node_type, "type_version": 1, "position": {"x": x, "y": y}})
}

/// All three pictures of a canvas, each checked for well-formedness.
fn pictures(canvas: &Canvas) -> [(&'static str, String); 3] {
    let svg = render::to_svg(canvas, &SvgOptions::default());
    check_xml(&svg).unwrap_or_else(|e| panic!("SVG is not well-formed: {e}"));
    let dot = render::to_dot(canvas);
    check_dot(&dot).unwrap_or_else(|e| panic!("DOT is broken: {e}"));
    let mermaid = render::to_mermaid(canvas);
    check_mermaid(&mermaid).unwrap_or_else(|e| panic!("Mermaid is broken: {e}"));
    [("svg", svg), ("dot", dot), ("mermaid", mermaid)]
}

/// What a picture may weigh: a fixed part (header, legend, styles) and a
/// part per node, edge and group, whatever the length of their text.
fn size_bound(canvas: &Canvas) -> usize {
    let items = canvas.node_count() + canvas.edge_count() + canvas.groups().count();
    10_000 + 8_000 * items
}

/// The longest prefix of `text` that fits `limit` bytes with an ellipsis
/// after it, cut at a char boundary.
fn clipped(text: &str, limit: usize) -> &str {
    let room = limit - '…'.len_utf8();
    let end = text
        .char_indices()
        .map(|(i, c)| i + c.len_utf8())
        .take_while(|&end| end <= room)
        .last()
        .unwrap_or(0);
    &text[..end]
}

fn xml_escaped(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Text that is long, wide (multi-byte) and full of characters every format
/// must escape.
fn huge_text(bytes: usize) -> String {
    let unit = "<映&\"🎬'é>\\|#;";
    unit.repeat(bytes / unit.len() + 1)
}

#[test]
fn huge_user_text_is_cut_and_the_pictures_stay_small() {
    let huge = huge_text(2 << 20);
    let catalog_type = json!({
        "type": "hostile_type", "category": huge, "title": huge,
        "inputs": [{"name": "input", "type": huge}],
        "outputs": [{"name": "output", "type": "image"}]
    });
    // Each case puts the text in one place a picture prints.
    let cases: Vec<(&str, Value)> = vec![
        ("node label", {
            let mut n = node("n", "shot", 0.0, 0.0);
            n["label"] = json!(huge);
            document(json!([n]), json!([]), json!([]))
        }),
        ("canvas name", {
            let mut d = document(json!([node("n", "shot", 0.0, 0.0)]), json!([]), json!([]));
            d["name"] = json!(huge);
            d
        }),
        (
            "group label",
            document(
                json!([node("n", "shot", 0.0, 0.0)]),
                json!([]),
                json!([{"id": "g", "label": huge, "nodes": ["n"]}]),
            ),
        ),
        (
            "unknown node type",
            document(json!([node("n", &huge, 0.0, 0.0)]), json!([]), json!([])),
        ),
        ("property value", {
            let mut n = node("n", "character", 0.0, 0.0);
            n["properties"] = json!({"name": huge, "trigger_word": huge});
            document(json!([n]), json!([]), json!([]))
        }),
        ("property name", {
            let mut n = node("n", "mystery", 0.0, 0.0);
            n["properties"] = json!({huge.clone(): 1});
            document(json!([n]), json!([]), json!([]))
        }),
        (
            "port names",
            document(
                json!([
                    node("a", "shot", 0.0, 0.0),
                    node("b", "image_gen", 0.0, 0.0)
                ]),
                json!([{"id": "e", "source": {"node": "a", "port": huge},
                        "target": {"node": "b", "port": huge}}]),
                json!([]),
            ),
        ),
        (
            "missing node id",
            document(
                json!([node("a", "shot", 0.0, 0.0)]),
                json!([
                    {"id": "e1", "source": {"node": "a", "port": "shot"},
                     "target": {"node": huge, "port": "in"}},
                    {"id": "e2", "source": {"node": format!("{huge}x"), "port": "out"},
                     "target": {"node": "a", "port": "scene"}}
                ]),
                json!([]),
            ),
        ),
    ];
    let mut drawn = 0;
    for (place, doc) in cases {
        let canvas = match load(doc) {
            Ok(canvas) => canvas,
            // Loading may refuse text this long; then there is nothing to draw.
            Err(e) => {
                assert!(
                    ["invalid_field", "invalid_id", "too_large"].contains(&e.code()),
                    "{place}: refused with an unexpected code {}",
                    e.code()
                );
                continue;
            }
        };
        drawn += 1;
        for (format, picture) in pictures(&canvas) {
            assert!(
                picture.len() < size_bound(&canvas),
                "{place}: the {format} picture is {} bytes",
                picture.len()
            );
        }
        // SVG prints every one of these places (Mermaid and DOT leave some out).
        let svg = render::to_svg(&canvas, &SvgOptions::default());
        assert!(svg.contains('…'), "{place}: the SVG shows no cut");
    }

    // A user type whose title, category and input type are huge.
    let catalog = Catalog::builtin();
    if catalog.register_json(&catalog_type.to_string()).is_ok() {
        let doc = document(
            json!([
                node("a", "image_gen", 0.0, 0.0),
                node("b", "hostile_type", 0.0, 0.0)
            ]),
            json!([{"id": "e", "source": {"node": "a", "port": "image"},
                    "target": {"node": "b", "port": "input"}}]),
            json!([]),
        );
        let doc: CanvasDocument = serde_json::from_value(doc).expect("a document");
        let canvas = Canvas::from_document(catalog, doc).expect("loads");
        drawn += 1;
        for (format, picture) in pictures(&canvas) {
            assert!(
                picture.len() < size_bound(&canvas),
                "user type: the {format} picture is {} bytes",
                picture.len()
            );
        }
    }
    assert!(drawn > 0, "at least one hostile canvas must load and draw");
}

#[test]
fn a_1024_byte_wide_label_is_cut_on_a_char_boundary_and_stays_escaped() {
    // 12 bytes a unit: 4 + 3 + 1 + 2 + 1 + 1; 85 units and one clapper: 1,024 bytes.
    let label = format!("{}🎬", "🎬映<é&\"".repeat(85));
    assert_eq!(label.len(), 1024);
    assert!(TEXT_LIMIT < label.len(), "the limit must cut this label");
    let mut n = node("n", "shot", 0.0, 0.0);
    n["label"] = json!(label);
    let canvas =
        load(document(json!([n]), json!([]), json!([]))).expect("a 1,024-byte label loads");
    let prefix = clipped(&label, TEXT_LIMIT);
    // The limit falls inside a character here, so the cut must step back.
    assert!(!label.is_char_boundary(TEXT_LIMIT - '…'.len_utf8()));
    let longer = &label[..prefix.len()
        + label[prefix.len()..]
            .chars()
            .next()
            .map_or(0, char::len_utf8)];

    let [(_, svg), (_, dot), (_, mermaid)] = pictures(&canvas);
    // The tooltip holds the label as far as the limit allows.
    assert!(
        svg.contains(&format!(
            "<title>{}… — n (shot)</title>",
            xml_escaped(prefix)
        )),
        "the SVG tooltip is not the cut label"
    );
    assert!(!svg.contains(&xml_escaped(longer)));
    assert!(!svg.contains("<é"), "a raw `<` got through to SVG");

    let m = check_mermaid(&mermaid).expect("valid Mermaid");
    let shown = &m.nodes["n0"];
    assert!(
        shown.starts_with(&format!("{prefix}…\nshot")),
        "the Mermaid label is not the cut label: {shown:?}"
    );

    assert!(dot.contains('…'), "DOT shows the cut");
    assert!(!dot.contains("<é"), "a raw `<` got through to DOT");
}

// ---------------------------------------------------------------------------
// Extreme positions

/// The viewBox of an SVG picture.
pub(crate) fn view_box(svg: &str) -> [f64; 4] {
    let start = svg.find("viewBox=\"").expect("a viewBox") + 9;
    let end = start + svg[start..].find('"').expect("a closed viewBox");
    let numbers: Vec<f64> = svg[start..end]
        .split(' ')
        .map(|n| n.parse().expect("a number"))
        .collect();
    numbers.try_into().expect("four numbers")
}

/// The translations of the drawn nodes, in drawing order.
fn node_origins(svg: &str) -> Vec<(f64, f64)> {
    svg.match_indices("<g class=\"node\" transform=")
        .map(|(i, _)| {
            let rest = &svg[i..];
            let start = rest.find("translate(").expect("a translation") + 10;
            let end = start + rest[start..].find(')').expect("closed");
            let (x, y) = rest[start..end].split_once(' ').expect("x and y");
            (x.parse().expect("x"), y.parse().expect("y"))
        })
        .collect()
}

#[test]
fn extreme_positions_give_a_finite_picture_with_every_node() {
    let max = f64::MAX;
    let cases: Vec<(&str, Vec<(f64, f64)>)> = vec![
        ("one node at MAX", vec![(max, max)]),
        ("one node at -MAX", vec![(-max, -max)]),
        ("MAX and -MAX", vec![(max, max), (-max, -max)]),
        ("1e308 on both axes", vec![(1e308, 0.0), (0.0, 1e308)]),
        (
            "huge and normal",
            vec![(10.0, 20.0), (max, -max), (-1e308, 1e308), (300.0, -0.0)],
        ),
        (
            "far out, close together",
            vec![(1e20, 1e20), (1e20 + 1e5, 1e20)],
        ),
    ];
    for (case, positions) in cases {
        let nodes: Vec<Value> = positions
            .iter()
            .enumerate()
            .map(|(i, &(x, y))| node(&format!("n{i}"), "shot", x, y))
            .collect();
        let canvas = load(document(Value::Array(nodes), json!([]), json!([]))).expect("loads");
        for mode in [LayoutMode::Auto, LayoutMode::Positions] {
            let svg = render::to_svg(&canvas, &SvgOptions::default().layout(mode));
            check_xml(&svg).unwrap_or_else(|e| panic!("{case}: SVG is not well-formed: {e}"));
            let [x0, y0, w, h] = view_box(&svg);
            assert!(
                [x0, y0, w, h].iter().all(|v| v.is_finite()) && w > 0.0 && h > 0.0,
                "{case} ({mode:?}): viewBox {x0} {y0} {w} {h}"
            );
            let origins = node_origins(&svg);
            assert_eq!(
                origins.len(),
                positions.len(),
                "{case}: every node is drawn"
            );
            for (x, y) in origins {
                assert!(
                    x >= x0 && x <= x0 + w && y >= y0 && y <= y0 + h,
                    "{case} ({mode:?}): node at {x} {y} is outside viewBox {x0} {y0} {w} {h}"
                );
            }
            let layout = render::layout(&canvas, mode);
            assert!(
                layout.nodes.iter().all(|b| [b.x, b.y, b.width, b.height]
                    .iter()
                    .all(|v| v.is_finite())
                    && b.x.abs() <= render::MAX_COORDINATE
                    && b.y.abs() <= render::MAX_COORDINATE),
                "{case} ({mode:?}): {:?}",
                layout.nodes
            );
        }
    }

    // Normal positions among huge ones stay where they are.
    let canvas = load(document(
        json!([node("a", "shot", 10.0, 20.0), node("b", "shot", max, -max)]),
        json!([]),
        json!([]),
    ))
    .expect("loads");
    let layout = render::layout(&canvas, LayoutMode::Positions);
    let a = layout.node("a").expect("a");
    assert_eq!((a.x, a.y), (10.0, 20.0));
    let b = layout.node("b").expect("b");
    assert_eq!(
        (b.x, b.y),
        (render::MAX_COORDINATE, -render::MAX_COORDINATE)
    );
    let svg = render::to_svg(&canvas, &SvgOptions::default());
    assert!(svg.contains("transform=\"translate(10 20)\""));
}

#[test]
fn an_extreme_margin_keeps_the_view_box_finite() {
    let canvas = load(document(
        json!([node("n", "shot", 0.0, 0.0)]),
        json!([]),
        json!([]),
    ))
    .expect("loads");
    let mut options = SvgOptions::default();
    options.margin = f64::MAX;
    let [x0, y0, w, h] = view_box(&render::to_svg(&canvas, &options));
    assert!([x0, y0, w, h].iter().all(|v| v.is_finite()) && w > 0.0 && h > 0.0);
}
