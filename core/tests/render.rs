//! Rendering: DOT, Mermaid and SVG are well-formed, escape whatever users
//! type, lay a canvas without positions out left to right, respect given
//! positions, and survive broken canvases.

use std::collections::BTreeMap;

use reelgraph::render::{self, LayoutMode, NodeBox, SvgOptions};
use reelgraph::{Canvas, Catalog, Op, Position};
use serde_json::{Value, json};

#[path = "support/markup.rs"]
mod markup;
use markup::{Tok, check_dot, check_mermaid, check_xml, dot_nodes, dot_tokens};

// ---------------------------------------------------------------------------
// Fixtures

/// An op from its JSON form (robust to optional fields the op may gain).
fn op(value: Value) -> Op {
    serde_json::from_value(value).expect("a valid op")
}

fn group(id: &str, label: &str, nodes: &[&str]) -> Op {
    op(json!({"op": "add_group", "id": id, "label": label, "nodes": nodes}))
}

fn labelled(id: &str, node_type: &str, label: &str, properties: Value) -> Op {
    let mut op = Op::add_node(id, node_type, properties);
    if let Op::AddNode { label: l, .. } = &mut op {
        *l = Some(label.into());
    }
    op
}

/// A small film, built with ops so every node sits at the origin:
/// characters → shots → image_gen → video_gen → effect → composite → edit →
/// export, with a group per act.
fn film() -> Canvas {
    let mut canvas = Canvas::new(Catalog::builtin(), "film", "Harbour Lights");
    let mut ops = vec![
        labelled(
            "mara",
            "character",
            "Mara",
            json!({"name": "Mara", "trigger_word": "mara_v2", "lora": "loras/mara.safetensors"}),
        ),
        labelled("jon", "character", "Jon", json!({"name": "Jon"})),
        labelled(
            "look",
            "style",
            "Night harbour",
            json!({"name": "Night harbour"}),
        ),
        labelled("act1", "act", "Act 1", json!({"number": 1})),
        labelled("act2", "act", "Act 2", json!({"number": 2})),
        Op::add_node(
            "sc1",
            "scene",
            json!({"number": 1, "heading": "EXT. PIER - NIGHT"}),
        ),
        Op::add_node("sc2", "scene", json!({"number": 2})),
        Op::connect(("act1", "act"), ("sc1", "act")),
        Op::connect(("act2", "act"), ("sc2", "act")),
        labelled(
            "edit",
            "edit",
            "Assembly",
            json!({"title": "Harbour Lights"}),
        ),
        labelled("export", "export", "Review", json!({})),
        Op::connect(("edit", "edl"), ("export", "edl")),
        labelled("grade", "effect", "Grade", json!({"effect": "color"})),
        labelled("comp", "composite", "Title over", json!({})),
    ];
    for (i, scene) in [(1, "sc1"), (2, "sc1"), (3, "sc2")] {
        let (shot, img, vid) = (format!("shot{i}"), format!("img{i}"), format!("vid{i}"));
        ops.extend([
            Op::add_node(
                &shot,
                "shot",
                json!({"number": i, "camera": "wide", "duration": 4.5}),
            ),
            Op::add_node(&img, "image_gen", json!({"width": 1344, "height": 768})),
            Op::add_node(&vid, "video_gen", json!({})),
            Op::connect((scene, "scene"), (&shot, "scene")),
            Op::connect(("mara", "character"), (&shot, "characters")),
            Op::connect(("look", "style"), (&shot, "style")),
            Op::connect((&shot, "shot"), (&img, "shot")),
            Op::connect((&img, "image"), (&vid, "image")),
            Op::connect((&shot, "shot"), ("edit", "shots")),
        ]);
    }
    ops.extend([
        Op::connect(("jon", "character"), ("shot3", "characters")),
        Op::connect(("vid1", "video"), ("grade", "media")),
        Op::connect(("grade", "media"), ("edit", "clips")),
        Op::connect(("vid2", "video"), ("comp", "background")),
        Op::connect(("img3", "image"), ("comp", "layers")),
        Op::connect(("comp", "image"), ("edit", "clips")),
        Op::connect(("vid3", "video"), ("edit", "clips")),
        group(
            "g1",
            "Act 1",
            &[
                "act1", "sc1", "shot1", "img1", "vid1", "shot2", "img2", "vid2",
            ],
        ),
        group("g2", "Act 2", &["act2", "sc2", "shot3", "img3", "vid3"]),
    ]);
    canvas.apply(ops).expect("the film applies");
    canvas
}

const SCRIPT: &str = "<script>alert(\"x\")</script>";

/// Ids, labels, names, categories and port names that try to break out of
/// every format.
fn hostile() -> Canvas {
    let catalog = Catalog::builtin();
    catalog
        .register_json(
            r#"{
            "type": "odd\"<type>", "category": "fx & \"more\" <b>", "title": "<Title> \"&\" 'x'",
            "inputs": [{"name": "in\"put<1>|x", "type": "image"}],
            "outputs": [{"name": "out|put\n2 {#35;}", "type": "image"}]
        }"#,
        )
        .expect("the odd type registers");
    let long_id = "🎬".repeat(32); // 128 bytes, the longest id allowed
    let ascii_id = "x".repeat(128);
    let mut canvas = Canvas::new(catalog, "c\"1", "\"A\" & <B>\nsecond line");
    canvas
        .apply(vec![
            labelled(
                "he said \"cut\"",
                "character",
                "Line one\nLine two \"quoted\" & <b>bold</b> \\ `tick` #35; %% end",
                json!({"name": SCRIPT, "description": "a & b < c > d"}),
            ),
            labelled(SCRIPT, "shot", "]]> <!-- -->", json!({"prompt": SCRIPT})),
            labelled("a&b;c#1|x", "odd\"<type>", "🎞️ émigré — 映画", json!({})),
            Op::add_node(&long_id, "image_gen", json!({})),
            Op::add_node(&ascii_id, "odd\"<type>", json!({})),
            Op::connect(("he said \"cut\"", "character"), (SCRIPT, "characters")),
            Op::connect((SCRIPT, "shot"), (&long_id, "shot")),
            Op::connect((&long_id, "image"), ("a&b;c#1|x", "in\"put<1>|x")),
            Op::connect(
                ("a&b;c#1|x", "out|put\n2 {#35;}"),
                (&ascii_id, "in\"put<1>|x"),
            ),
            group(
                "g\"<1>",
                "</g><script>\"&'",
                &["he said \"cut\"", SCRIPT, "a&b;c#1|x"],
            ),
        ])
        .expect("hostile ids are still valid ids");
    canvas
}

/// A document with an unknown node type, an edge to a node that does not
/// exist, an edge on a port the type does not have, and a group naming a
/// missing node.
fn broken() -> Canvas {
    let doc = json!({
        "format": "reelgraph.canvas", "format_version": 1, "id": "broken", "name": "Broken",
        "nodes": [
            {"id": "s1", "type": "shot", "type_version": 1, "position": {"x": 0, "y": 0},
             "properties": {"number": 1}},
            {"id": "m1", "type": "mystery_fx", "type_version": 3, "label": "Mystery",
             "position": {"x": 0, "y": 0}, "properties": {"strength": 0.5, "mode": "<x>"}},
            {"id": "img", "type": "image_gen", "type_version": 1, "position": {"x": 0, "y": 0}}
        ],
        "edges": [
            {"id": "e1", "source": {"node": "s1", "port": "shot"}, "target": {"node": "m1", "port": "in"}},
            {"id": "e2", "source": {"node": "m1", "port": "out"}, "target": {"node": "img", "port": "reference"}},
            {"id": "e3", "source": {"node": "ghost", "port": "image"}, "target": {"node": "img", "port": "mask"}},
            {"id": "e4", "source": {"node": "img", "port": "image"}, "target": {"node": "nowhere\n\"x\"", "port": "in"}},
            {"id": "e5", "source": {"node": "s1", "port": "no_such_port"}, "target": {"node": "img", "port": "shot"}}
        ],
        "groups": [{"id": "grp", "label": "Half there", "nodes": ["s1", "gone"]}]
    });
    Canvas::from_json(Catalog::builtin(), &doc.to_string()).expect("broken documents still load")
}

// ---------------------------------------------------------------------------
// Helpers

fn boxes(layout: &render::Layout) -> BTreeMap<&str, &NodeBox> {
    layout.nodes.iter().map(|b| (b.id.as_str(), b)).collect()
}

fn overlap(a: &NodeBox, b: &NodeBox) -> bool {
    a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height
}

fn all_formats(canvas: &Canvas) -> (String, String, String) {
    (
        render::to_svg(canvas, &SvgOptions::default()),
        render::to_dot(canvas),
        render::to_mermaid(canvas),
    )
}

// ---------------------------------------------------------------------------
// Tests

#[test]
fn film_renders_well_formed_in_all_three_formats() {
    let canvas = film();
    let (svg, dot, mermaid) = all_formats(&canvas);

    check_xml(&svg).unwrap_or_else(|e| panic!("SVG is not well-formed: {e}"));
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\""));
    assert_eq!(
        svg.matches("<g class=\"node\"").count(),
        canvas.node_count()
    );
    assert_eq!(
        svg.matches("<path class=\"edge\"").count(),
        canvas.edge_count()
    );
    assert_eq!(svg.matches("<rect class=\"frame\"").count(), 2);
    assert!(svg.contains(">Harbour Lights</text>"), "the title is drawn");
    assert!(
        !svg.contains("@import") && !svg.contains("url("),
        "no external resources"
    );

    let dot_edges = check_dot(&dot).unwrap_or_else(|e| panic!("DOT is broken: {e}\n{dot}"));
    let mut expected: Vec<(String, String)> = canvas
        .edges()
        .map(|e| (e.source.node, e.target.node))
        .collect();
    let mut found = dot_edges;
    expected.sort();
    found.sort();
    assert_eq!(found, expected, "every edge appears once in DOT");
    assert_eq!(dot.matches("subgraph \"cluster_").count(), 2);

    let m = check_mermaid(&mermaid).unwrap_or_else(|e| panic!("Mermaid is broken: {e}"));
    assert_eq!(m.nodes.len(), canvas.node_count());
    assert_eq!(m.edges.len(), canvas.edge_count());
    assert_eq!(m.subgraphs, 2);
    assert!(
        m.edges
            .iter()
            .any(|(_, _, l)| l == "character → characters")
    );
    assert!(m.nodes.values().any(|l| l.starts_with("Mara\ncharacter")));
}

#[test]
fn hostile_text_is_escaped_in_all_three_formats() {
    let canvas = hostile();
    let (svg, dot, mermaid) = all_formats(&canvas);

    check_xml(&svg).unwrap_or_else(|e| panic!("SVG is not well-formed: {e}\n{svg}"));
    assert!(!svg.contains("<script"), "a script tag got through to SVG");
    assert!(!svg.contains("<b>"), "markup in a label got through to SVG");
    assert!(
        svg.contains("&lt;script&gt;"),
        "the script text is shown, escaped"
    );
    assert!(svg.contains("émigré") && svg.contains("映画") && svg.contains("🎬"));
    assert!(svg.contains("&quot;A&quot; &amp; &lt;B&gt; second line"));
    assert_eq!(
        svg.matches("<g class=\"node\"").count(),
        canvas.node_count()
    );

    let edges = check_dot(&dot).unwrap_or_else(|e| panic!("DOT is broken: {e}\n{dot}"));
    assert_eq!(edges.len(), canvas.edge_count());
    // Inside quotes `<` is plain DOT text; inside HTML labels it would be markup.
    let html = dot_tokens(&dot).expect("DOT tokenises");
    assert!(
        html.iter()
            .all(|t| !matches!(t, Tok::Html(h) if h.contains("<script") || h.contains("<b>bold"))),
        "markup got through to a DOT HTML label"
    );
    assert!(dot.contains(r#""<script>alert(\"x\")</script>" [tooltip="#));
    let mut ids: Vec<String> = canvas.nodes().map(|n| n.id).collect();
    let mut declared = dot_nodes(&dot);
    ids.sort();
    declared.sort();
    assert_eq!(declared, ids, "node ids survive quoting exactly");
    for (source, target) in &edges {
        assert!(ids.contains(source) && ids.contains(target));
    }

    let m = check_mermaid(&mermaid).unwrap_or_else(|e| panic!("Mermaid is broken: {e}\n{mermaid}"));
    assert!(!mermaid.contains("<script") && !mermaid.contains(SCRIPT));
    assert_eq!(m.nodes.len(), canvas.node_count());
    assert_eq!(m.edges.len(), canvas.edge_count());
    // The escaping is faithful: decoded labels read as the user wrote them.
    assert!(m.nodes.values().any(|l| l.starts_with(
        "Line one Line two \"quoted\" & <b>bold</b> \\ `tick` #35; %% end\ncharacter"
    )));
    assert!(
        m.edges
            .iter()
            .any(|(_, _, l)| l == "out|put 2 {#35;} → in\"put<1>|x")
    );
    assert!(
        !mermaid.contains("he said"),
        "Mermaid ids never come from canvas ids"
    );
}

#[test]
fn a_canvas_without_positions_is_laid_out_left_to_right() {
    let canvas = film();
    assert!(canvas.nodes().all(|n| n.position == Position::default()));
    let layout = render::layout(&canvas, LayoutMode::Auto);
    assert!(layout.layered);
    assert_eq!(layout.nodes.len(), canvas.node_count());
    let b = boxes(&layout);
    for edge in canvas.edges() {
        let (s, t) = (b[edge.source.node.as_str()], b[edge.target.node.as_str()]);
        assert!(
            t.x > s.x + s.width,
            "{} must sit right of {} (x {} vs {}+{})",
            edge.target.node,
            edge.source.node,
            t.x,
            s.x,
            s.width
        );
    }
    for (i, a) in layout.nodes.iter().enumerate() {
        assert!(a.width > 0.0 && a.height > 0.0);
        for other in &layout.nodes[i + 1..] {
            assert!(!overlap(a, other), "{} overlaps {}", a.id, other.id);
        }
    }
    // Group frames hold their members and nobody else.
    for g in canvas.groups() {
        let members: Vec<&NodeBox> = g.nodes.iter().map(|id| b[id.as_str()]).collect();
        let frame = NodeBox {
            id: g.id.clone(),
            x: members.iter().map(|m| m.x).fold(f64::INFINITY, f64::min),
            y: members.iter().map(|m| m.y).fold(f64::INFINITY, f64::min),
            width: 0.0,
            height: 0.0,
        };
        let right = members.iter().map(|m| m.x + m.width).fold(0.0, f64::max);
        let bottom = members.iter().map(|m| m.y + m.height).fold(0.0, f64::max);
        let frame = NodeBox {
            width: right - frame.x,
            height: bottom - frame.y,
            ..frame
        };
        for other in layout.nodes.iter().filter(|n| !g.nodes.contains(&n.id)) {
            assert!(
                !overlap(&frame, other),
                "{} sits inside group {}",
                other.id,
                g.id
            );
        }
    }
    // Acts keep the order they were made in.
    assert!(b["act1"].y < b["act2"].y);
}

#[test]
fn layout_ops_store_the_automatic_layout_in_the_canvas() {
    let mut canvas = film();
    let layout = render::layout(&canvas, LayoutMode::Auto);
    canvas.apply(layout.move_ops()).expect("move ops apply");
    let again = render::layout(&canvas, LayoutMode::Auto);
    assert!(!again.layered, "the canvas now has positions of its own");
    assert_eq!(again.nodes, layout.nodes);
}

#[test]
fn given_positions_are_respected() {
    let mut canvas = film();
    let ops: Vec<Op> = canvas
        .nodes()
        .enumerate()
        .map(|(i, n)| {
            let position = Position::new(-500.0 + 37.5 * i as f64, 300.0 * (i % 4) as f64);
            op(json!({"op": "move_node", "id": n.id, "position": position}))
        })
        .collect();
    canvas.apply(ops).expect("moves apply");
    let layout = render::layout(&canvas, LayoutMode::Auto);
    assert!(!layout.layered);
    for (node, b) in canvas.nodes().zip(&layout.nodes) {
        assert_eq!(node.id, b.id);
        assert_eq!((b.x, b.y), (node.position.x, node.position.y));
    }
    let svg = render::to_svg(&canvas, &SvgOptions::default());
    assert!(svg.contains("transform=\"translate(-500 0)\""));
    assert!(svg.contains("transform=\"translate(-462.5 300)\""));

    // Layered on request, whatever the canvas says.
    let forced = render::layout(&canvas, LayoutMode::Layered);
    assert!(forced.layered);
    assert_ne!(forced.nodes, layout.nodes);
}

#[test]
fn a_single_node_at_the_origin_stays_there() {
    let mut canvas = Canvas::new(Catalog::builtin(), "one", "One");
    canvas
        .apply(vec![Op::add_node("s", "shot", json!({}))])
        .expect("applies");
    let layout = render::layout(&canvas, LayoutMode::Auto);
    assert_eq!((layout.nodes[0].x, layout.nodes[0].y), (0.0, 0.0));
}

#[test]
fn broken_canvases_render_with_placeholders() {
    let canvas = broken();
    let (svg, dot, mermaid) = all_formats(&canvas);
    check_xml(&svg).unwrap_or_else(|e| panic!("SVG is not well-formed: {e}"));
    // Three canvas nodes plus two placeholders for the missing ends.
    assert_eq!(svg.matches("<g class=\"node\"").count(), 3);
    assert_eq!(svg.matches("<g class=\"node missing\"").count(), 2);
    assert!(svg.contains("mystery_fx · unknown type"));
    assert!(svg.contains(">ghost</text>"));
    assert_eq!(svg.matches("<path class=\"edge\"").count(), 5);

    let edges = check_dot(&dot).unwrap_or_else(|e| panic!("DOT is broken: {e}\n{dot}"));
    assert_eq!(edges.len(), 5);
    assert!(edges.contains(&("ghost".into(), "img".into())));
    assert!(edges.contains(&("img".into(), "nowhere\\x0a\"x\"".into())));

    let m = check_mermaid(&mermaid).unwrap_or_else(|e| panic!("Mermaid is broken: {e}"));
    assert_eq!(m.nodes.len(), 5);
    assert_eq!(m.edges.len(), 5);
    assert!(m.edges.iter().any(|(_, _, l)| l == "no_such_port → shot"));

    for mode in [LayoutMode::Auto, LayoutMode::Positions, LayoutMode::Layered] {
        let svg = render::to_svg(&canvas, &SvgOptions::default().layout(mode));
        check_xml(&svg).unwrap_or_else(|e| panic!("{mode:?}: {e}"));
        assert_eq!(render::layout(&canvas, mode).nodes.len(), 3);
    }
}

#[test]
fn empty_canvases_render() {
    let canvas = Canvas::new(Catalog::builtin(), "empty", "");
    let (svg, dot, mermaid) = all_formats(&canvas);
    check_xml(&svg).expect("well-formed");
    assert!(
        svg.contains(">empty</text>"),
        "an unnamed canvas shows its id"
    );
    assert_eq!(check_dot(&dot).expect("valid DOT"), vec![]);
    assert!(
        check_mermaid(&mermaid)
            .expect("valid Mermaid")
            .nodes
            .is_empty()
    );
    assert!(render::layout(&canvas, LayoutMode::Auto).nodes.is_empty());
}

#[test]
fn output_is_deterministic() {
    let canvas = film();
    let reloaded = Canvas::from_json(Catalog::builtin(), &canvas.to_json()).expect("reloads");
    for c in [&canvas, &reloaded] {
        assert_eq!(
            render::to_svg(c, &SvgOptions::default()),
            render::to_svg(&canvas, &SvgOptions::default())
        );
        assert_eq!(render::to_dot(c), render::to_dot(&canvas));
        assert_eq!(render::to_mermaid(c), render::to_mermaid(&canvas));
    }
}

#[test]
fn svg_options_change_the_picture() {
    let canvas = film();
    let full = render::to_svg(&canvas, &SvgOptions::default());
    let bare = render::to_svg(
        &canvas,
        &SvgOptions::default()
            .title(false)
            .legend(false)
            .properties(0),
    );
    check_xml(&bare).expect("well-formed");
    assert!(full.contains(">NODES</text>") && !bare.contains(">NODES</text>"));
    assert!(full.contains(">trigger word<") && !bare.contains(">trigger word<"));
    assert!(!bare.contains(">Harbour Lights</text>"));
    assert!(bare.len() < full.len());
}

#[test]
fn long_text_is_cut_with_an_ellipsis() {
    let mut canvas = Canvas::new(Catalog::builtin(), "long", "Long");
    let label = "An extraordinarily long shot label that cannot possibly fit in one node header";
    canvas
        .apply(vec![labelled(
            "s",
            "shot",
            label,
            json!({"camera": "over_the_shoulder"}),
        )])
        .expect("applies");
    let svg = render::to_svg(&canvas, &SvgOptions::default());
    assert!(!svg.contains(&format!(">{label}<")));
    assert!(svg.contains("An extraordinarily long"));
    assert!(svg.contains("…</text>"));
    // The full label is still there for a tooltip.
    assert!(svg.contains(&format!("<title>{label} — s (shot)</title>")));
}
