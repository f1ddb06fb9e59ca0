//! Rendering: DOT, Mermaid and SVG are well-formed, escape whatever users
//! type, lay a canvas without positions out left to right, respect given
//! positions, and survive broken canvases.

use std::collections::BTreeMap;

use reelgraph::render::{self, LayoutMode, NodeBox, SvgOptions};
use reelgraph::{Canvas, Catalog, Op, Position};
use serde_json::{Value, json};

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
// A tiny XML well-formedness checker

/// Checks that `doc` is one well-formed XML element (plus optional prolog,
/// comments and white space): tags nest and match, attribute values are
/// quoted and free of `<`, attribute names are unique, every `&` starts a
/// known entity or a character reference, and no character XML forbids
/// appears. Returns the number of elements.
fn check_xml(doc: &str) -> Result<usize, String> {
    if let Some(c) = doc.chars().find(|&c| {
        (c.is_control() && !matches!(c, '\t' | '\n' | '\r')) || c == '\u{FFFE}' || c == '\u{FFFF}'
    }) {
        return Err(format!("forbidden character U+{:04X}", c as u32));
    }
    let bytes = doc.as_bytes();
    let mut stack: Vec<&str> = Vec::new();
    let mut elements = 0;
    let mut roots = 0;
    let mut i = 0;
    while i < doc.len() {
        let Some(lt) = doc[i..].find('<').map(|p| p + i) else {
            check_text(&doc[i..], !stack.is_empty())?;
            break;
        };
        check_text(&doc[i..lt], !stack.is_empty())?;
        let rest = &doc[lt..];
        if rest.starts_with("<!--") {
            let end = rest.find("-->").ok_or("unterminated comment")?;
            i = lt + end + 3;
            continue;
        }
        if rest.starts_with("<?") {
            let end = rest
                .find("?>")
                .ok_or("unterminated processing instruction")?;
            i = lt + end + 2;
            continue;
        }
        if rest.starts_with("<!") {
            return Err("unexpected markup declaration".into());
        }
        if let Some(close) = rest.strip_prefix("</") {
            let end = close.find('>').ok_or("unterminated end tag")?;
            let name = close[..end].trim_end();
            match stack.pop() {
                Some(open) if open == name => {}
                other => return Err(format!("</{name}> closes {other:?}")),
            }
            i = lt + 2 + end + 1;
            continue;
        }
        // A start tag.
        let mut j = lt + 1;
        let name_start = j;
        while j < doc.len() && is_name_byte(bytes[j]) {
            j += 1;
        }
        let name = &doc[name_start..j];
        if name.is_empty() || bytes[name_start].is_ascii_digit() || bytes[name_start] == b'-' {
            return Err(format!("bad tag name at byte {lt}"));
        }
        let mut attrs: Vec<&str> = Vec::new();
        loop {
            let ws = j;
            while j < doc.len() && bytes[j].is_ascii_whitespace() {
                j += 1;
            }
            if j >= doc.len() {
                return Err(format!("unterminated <{name}>"));
            }
            if doc[j..].starts_with("/>") {
                j += 2;
                if stack.is_empty() {
                    roots += 1;
                }
                break;
            }
            if bytes[j] == b'>' {
                j += 1;
                if stack.is_empty() {
                    roots += 1;
                }
                stack.push(name);
                break;
            }
            if ws == j {
                return Err(format!(
                    "attributes of <{name}> need white space between them"
                ));
            }
            let a = j;
            while j < doc.len() && is_name_byte(bytes[j]) {
                j += 1;
            }
            let attr = &doc[a..j];
            if attr.is_empty() {
                return Err(format!("bad attribute in <{name}> at byte {j}"));
            }
            if attrs.contains(&attr) {
                return Err(format!("duplicate attribute {attr} in <{name}>"));
            }
            attrs.push(attr);
            if bytes.get(j) != Some(&b'=') {
                return Err(format!("attribute {attr} of <{name}> has no value"));
            }
            j += 1;
            let quote = *bytes.get(j).ok_or("unterminated attribute")?;
            if quote != b'"' && quote != b'\'' {
                return Err(format!("attribute {attr} of <{name}> is not quoted"));
            }
            let end = doc[j + 1..]
                .find(quote as char)
                .ok_or("unterminated attribute value")?;
            let value = &doc[j + 1..j + 1 + end];
            if value.contains('<') {
                return Err(format!("`<` in attribute {attr} of <{name}>"));
            }
            check_entities(value)?;
            j += end + 2;
        }
        elements += 1;
        i = j;
    }
    if let Some(open) = stack.pop() {
        return Err(format!("<{open}> is never closed"));
    }
    if roots != 1 {
        return Err(format!("{roots} root elements"));
    }
    Ok(elements)
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b':' | b'-' | b'.')
}

fn check_text(text: &str, inside: bool) -> Result<(), String> {
    if !inside && !text.trim().is_empty() {
        return Err(format!("text outside the root element: {text:?}"));
    }
    if text.contains("]]>") {
        return Err("`]]>` in text".into());
    }
    check_entities(text)
}

fn check_entities(text: &str) -> Result<(), String> {
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        let after = &rest[amp + 1..];
        let end = after
            .find(';')
            .ok_or_else(|| format!("bare & in {text:?}"))?;
        let name = &after[..end];
        let ok = matches!(name, "amp" | "lt" | "gt" | "quot" | "apos")
            || name
                .strip_prefix("#x")
                .is_some_and(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_hexdigit()))
            || name
                .strip_prefix('#')
                .is_some_and(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_digit()));
        if !ok {
            return Err(format!("unknown entity &{name}; in {text:?}"));
        }
        rest = &after[end + 1..];
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// A DOT reader: enough of the grammar to check structure and find edges

#[derive(Debug, PartialEq)]
enum Tok {
    Id(String),
    Html(String),
    Punct(char),
    Arrow,
}

fn dot_tokens(dot: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = dot.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '"' {
            // DOT unescapes only \" ; the renderer also doubles backslashes.
            let mut s = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err("unterminated string".into()),
                    Some('"') => break,
                    Some('\\') if matches!(chars.get(i + 1), Some('"') | Some('\\')) => {
                        s.push(chars[i + 1]);
                        i += 2;
                    }
                    Some('\n') => return Err("raw newline in a quoted string".into()),
                    Some(&ch) => {
                        s.push(ch);
                        i += 1;
                    }
                }
            }
            i += 1;
            toks.push(Tok::Id(s));
        } else if c == '<' {
            let mut depth = 0;
            let start = i;
            loop {
                match chars.get(i) {
                    None => return Err("unterminated HTML string".into()),
                    Some('<') => depth += 1,
                    Some('>') => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            toks.push(Tok::Html(chars[start + 1..i].iter().collect()));
            i += 1;
        } else if c == '-' && chars.get(i + 1) == Some(&'>') {
            toks.push(Tok::Arrow);
            i += 2;
        } else if "{}[];,=:".contains(c) {
            toks.push(Tok::Punct(c));
            i += 1;
        } else if c.is_alphanumeric() || c == '_' || c == '.' || c == '#' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || matches!(chars[i], '_' | '.')) {
                i += 1;
            }
            toks.push(Tok::Id(chars[start..i].iter().collect()));
        } else {
            return Err(format!("unexpected character {c:?} in DOT"));
        }
    }
    Ok(toks)
}

/// Checks brackets and HTML labels, and returns the (source, target) node
/// ids of every edge statement.
fn check_dot(dot: &str) -> Result<Vec<(String, String)>, String> {
    if !dot.starts_with("digraph ") {
        return Err("not a digraph".into());
    }
    for line in dot.lines() {
        let t = line.trim_end();
        if !(t.ends_with('{') || t.ends_with('}') || t.ends_with(';')) {
            return Err(format!("a statement broke across lines: {line:?}"));
        }
    }
    let toks = dot_tokens(dot)?;
    let mut stack = Vec::new();
    for t in &toks {
        match t {
            Tok::Punct(c @ ('{' | '[')) => stack.push(*c),
            Tok::Punct('}') if stack.pop() != Some('{') => return Err("unbalanced }".into()),
            Tok::Punct(']') if stack.pop() != Some('[') => return Err("unbalanced ]".into()),
            Tok::Html(html) => {
                check_xml(&format!("<label>{html}</label>"))
                    .map_err(|e| format!("HTML label: {e}"))?;
            }
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err("unclosed brackets".into());
    }
    let mut edges = Vec::new();
    for (k, t) in toks.iter().enumerate() {
        if *t != Tok::Arrow {
            continue;
        }
        // Back up over `node(:port(:compass))`.
        let mut s = k - 1;
        while s >= 2 && toks[s - 1] == Tok::Punct(':') {
            s -= 2;
        }
        let (Tok::Id(source), Some(Tok::Id(target))) = (&toks[s], toks.get(k + 1)) else {
            return Err("an edge without node ids".into());
        };
        edges.push((source.clone(), target.clone()));
    }
    Ok(edges)
}

/// The node ids of node statements: an id that starts a statement and is
/// followed by `[`.
fn dot_nodes(dot: &str) -> Vec<String> {
    let toks = dot_tokens(dot).expect("DOT tokenises");
    toks.windows(3)
        .filter_map(|w| match (&w[0], &w[1], &w[2]) {
            (Tok::Punct(';' | '{' | '}'), Tok::Id(id), Tok::Punct('['))
                if !["graph", "node", "edge"].contains(&id.as_str()) =>
            {
                Some(id.clone())
            }
            _ => None,
        })
        .collect()
}

// ---------------------------------------------------------------------------
// A Mermaid line checker

#[derive(Debug, Default)]
struct Mermaid {
    /// Node id to its decoded label.
    nodes: BTreeMap<String, String>,
    edges: Vec<(String, String, String)>,
    subgraphs: usize,
}

/// Every line must be one of the shapes the renderer writes, with quoted
/// text free of `"`, and ids of the form n0, n1, …
fn check_mermaid(text: &str) -> Result<Mermaid, String> {
    let mut lines = text.lines();
    if lines.next() != Some("---") {
        return Err("no front matter".into());
    }
    let title = lines.next().ok_or("no title")?;
    let title = title.strip_prefix("title: ").ok_or("no title line")?;
    serde_json::from_str::<String>(title)
        .map_err(|e| format!("title is not a quoted string: {e}"))?;
    if lines.next() != Some("---") || lines.next() != Some("flowchart LR") {
        return Err("no flowchart header".into());
    }
    let mut out = Mermaid::default();
    let mut depth = 0;
    for line in lines {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("subgraph g") {
            let (id, label) = rest.split_once("[\"").ok_or("bad subgraph")?;
            if !id.chars().all(|c| c.is_ascii_digit()) {
                return Err(format!("bad subgraph id in {t:?}"));
            }
            quoted(label.strip_suffix("\"]").ok_or("bad subgraph label")?)?;
            out.subgraphs += 1;
            depth += 1;
        } else if t == "end" {
            depth -= 1;
        } else if t.starts_with("classDef ")
            || t.starts_with("class ")
            || t.starts_with("linkStyle ")
        {
            if t.contains('"') || t.contains('<') {
                return Err(format!("odd style line {t:?}"));
            }
        } else if let Some((from, rest)) = t.split_once(" -->|\"") {
            let (label, to) = rest.split_once("\"| ").ok_or("bad edge")?;
            node_id(from)?;
            node_id(to)?;
            out.edges.push((from.into(), to.into(), quoted(label)?));
        } else if let Some((id, label)) = t.split_once("[\"") {
            node_id(id)?;
            let label = quoted(label.strip_suffix("\"]").ok_or("bad node label")?)?;
            if out.nodes.insert(id.into(), label).is_some() {
                return Err(format!("node {id} defined twice"));
            }
        } else {
            return Err(format!("unexpected line {t:?}"));
        }
    }
    if depth != 0 {
        return Err("unbalanced subgraph/end".into());
    }
    Ok(out)
}

fn node_id(id: &str) -> Result<(), String> {
    match id.strip_prefix('n') {
        Some(d) if !d.is_empty() && d.chars().all(|c| c.is_ascii_digit()) => Ok(()),
        _ => Err(format!("bad node id {id:?}")),
    }
}

/// Checks quoted label text and decodes its `#code;` entities and tags.
fn quoted(text: &str) -> Result<String, String> {
    if text.contains('"') {
        return Err(format!("raw quote in {text:?}"));
    }
    let plain = text
        .replace("<b>", "")
        .replace("</b>", "")
        .replace("<br/>", "\n")
        .replace("<small>", "")
        .replace("</small>", "");
    if plain.contains('<') || plain.contains('>') {
        return Err(format!("raw markup in {text:?}"));
    }
    let mut decoded = String::new();
    let mut rest = plain.as_str();
    while let Some(hash) = rest.find('#') {
        decoded.push_str(&rest[..hash]);
        let after = &rest[hash + 1..];
        let end = after
            .find(';')
            .ok_or_else(|| format!("bare # in {text:?}"))?;
        let code: u32 = after[..end]
            .parse()
            .map_err(|_| format!("bad entity in {text:?}"))?;
        decoded.push(char::from_u32(code).ok_or("bad code point")?);
        rest = &after[end + 1..];
    }
    decoded.push_str(rest);
    Ok(decoded)
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
