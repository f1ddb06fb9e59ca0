//! Mermaid `flowchart LR`: nodes with heading and type, edges labelled
//! `output → input`, a class per category, subgraphs for groups.
//!
//! Mermaid ids are strict, so nodes are `n0, n1, …` and groups `g0, g1, …`
//! in canvas order; all text goes inside double quotes with every character
//! Mermaid could read as syntax written as a `#code;` entity.

use std::fmt::Write;

use super::layout::DEFAULT_PROPERTIES;
use super::{Kind, Scene, category_color, category_tint, one_line, type_color};
use crate::Canvas;

/// The canvas as a Mermaid flowchart, titled with the canvas name.
///
/// ```
/// use reelgraph::{Canvas, Catalog, Op, render};
/// use serde_json::json;
///
/// let mut canvas = Canvas::new(Catalog::builtin(), "c", "C");
/// canvas.apply(vec![
///     Op::add_node("hero", "character", json!({"name": "Mara"})),
///     Op::add_node("s1", "shot", json!({})),
///     Op::connect(("hero", "character"), ("s1", "characters")),
/// ]).unwrap();
/// let mermaid = render::to_mermaid(&canvas);
/// assert!(mermaid.contains(r#"n0 -->|"character → characters"| n1"#));
/// ```
pub fn to_mermaid(canvas: &Canvas) -> String {
    let scene = Scene::build(canvas, DEFAULT_PROPERTIES);
    let mut out = String::with_capacity(512 + scene.nodes.len() * 120);
    let title = if scene.name.trim().is_empty() {
        &scene.id
    } else {
        &scene.name
    };
    // A JSON string is a valid YAML double-quoted scalar.
    let title = serde_json::to_string(one_line(title).as_ref()).unwrap_or_default();
    w!(out, "---\ntitle: {title}\n---\nflowchart LR\n");

    let group_of = scene.group_of();
    for (g, group) in scene.groups.iter().enumerate() {
        let members = scene.placed_members(g, &group_of);
        if members.is_empty() {
            continue;
        }
        w!(out, "  subgraph g{g}[\"");
        escape(group.heading(), &mut out);
        out.push_str("\"]\n");
        for m in members {
            out.push_str("    ");
            node(&mut out, &scene, m);
        }
        out.push_str("  end\n");
    }
    for (i, group) in group_of.iter().enumerate() {
        if group.is_none() {
            out.push_str("  ");
            node(&mut out, &scene, i);
        }
    }

    for edge in &scene.edges {
        let (s, t) = (&scene.nodes[edge.source], &scene.nodes[edge.target]);
        w!(out, "  n{} -->|\"", edge.source);
        escape(&s.outputs[edge.source_port].name, &mut out);
        out.push_str(" → ");
        escape(&t.inputs[edge.target_port].name, &mut out);
        w!(out, "\"| n{}\n", edge.target);
    }

    // One class per category, named after it where the name allows.
    let mut class_names: Vec<String> = Vec::new();
    for (category, kind) in scene.categories() {
        let mut name = match kind {
            Kind::Known => format!("cat_{}", safe_name(category)),
            Kind::UnknownType => "unknown_type".to_owned(),
            Kind::Missing => "missing_node".to_owned(),
        };
        if class_names.contains(&name) {
            name = format!("{name}_{}", class_names.len());
        }
        let stroke = category_color(category, kind);
        let fill = category_tint(category, kind);
        let dash = if kind == Kind::Missing {
            ",stroke-dasharray:5 4"
        } else {
            ""
        };
        w!(
            out,
            "  classDef {name} fill:{fill},stroke:{stroke},color:#0f172a,stroke-width:1.5px{dash}\n"
        );
        let members: Vec<String> = scene
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| match kind {
                Kind::Known => n.kind == Kind::Known && n.category == category,
                other => n.kind == other,
            })
            .map(|(i, _)| format!("n{i}"))
            .collect();
        w!(out, "  class {} {name}\n", members.join(","));
        class_names.push(name);
    }

    // Edge colours by data type, one linkStyle per colour in first-use order.
    let mut colors: Vec<(&str, Vec<String>)> = Vec::new();
    for (e, edge) in scene.edges.iter().enumerate() {
        let color = type_color(&edge.data_type);
        match colors.iter_mut().find(|(c, _)| *c == color) {
            Some((_, list)) => list.push(e.to_string()),
            None => colors.push((color, vec![e.to_string()])),
        }
    }
    for (color, list) in colors {
        w!(
            out,
            "  linkStyle {} stroke:{color},stroke-width:1.5px\n",
            list.join(",")
        );
    }
    out
}

fn node(out: &mut String, scene: &Scene, i: usize) {
    let n = &scene.nodes[i];
    w!(out, "n{i}[\"<b>");
    escape(n.heading(), out);
    out.push_str("</b><br/><small>");
    match n.kind {
        Kind::Known => {
            escape(&n.type_name, out);
            if n.label.as_deref().is_some_and(|l| !l.trim().is_empty()) {
                out.push_str(" · ");
                escape(&n.title, out);
            }
        }
        Kind::UnknownType => {
            escape(&n.type_name, out);
            out.push_str(" · unknown type");
        }
        Kind::Missing => out.push_str("missing node"),
    }
    out.push_str("</small>\"]\n");
}

/// Text for inside a double-quoted Mermaid label: letters, digits, spaces,
/// harmless punctuation and non-ASCII pass through; everything else
/// (quotes, `#`, `<`, `&`, `|`, `\`, brackets, …) becomes a `#code;` entity.
fn escape(text: &str, out: &mut String) {
    for c in one_line(text).chars() {
        let plain = c.is_ascii_alphanumeric()
            || matches!(
                c,
                ' ' | '-' | '_' | '.' | ',' | ':' | '/' | '(' | ')' | '+' | '!' | '?' | '@' | '\''
            )
            || !c.is_ascii();
        if plain {
            out.push(c);
        } else {
            w!(out, "#{};", u32::from(c));
        }
    }
}

/// ASCII letters, digits and `_` only, for class names.
fn safe_name(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}
