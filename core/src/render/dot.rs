//! Graphviz DOT: HTML-label nodes (heading, type, ports, key properties),
//! edges from output port to input port, colours by category and data type,
//! groups as clusters.

use std::fmt::Write;

use super::layout::DEFAULT_PROPERTIES;
use super::{Kind, NodeView, Scene, category_color, fit, one_line, type_color, xml_escape};
use crate::Canvas;

const FONT: &str = "Helvetica,Arial,sans-serif";

/// Group cluster colours: fill, border, label.
const CLUSTER_COLORS: [(&str, &str, &str); 6] = [
    ("#eef2ff", "#c7d2fe", "#3730a3"),
    ("#ecfdf5", "#a7f3d0", "#065f46"),
    ("#fff7ed", "#fed7aa", "#9a3412"),
    ("#fdf2f8", "#fbcfe8", "#9d174d"),
    ("#f0f9ff", "#bae6fd", "#075985"),
    ("#fefce8", "#fde68a", "#854d0e"),
];

/// The canvas as a Graphviz `digraph`, laid out left to right. Ports are
/// addressed as `"node":"o0"` (outputs) and `"node":"i0"` (inputs), by
/// position in the node's type, so any port name is safe.
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
/// let dot = render::to_dot(&canvas);
/// assert!(dot.contains(r#""hero":"o0":e -> "s1":"i1":w"#));
/// ```
pub fn to_dot(canvas: &Canvas) -> String {
    let scene = Scene::build(canvas, DEFAULT_PROPERTIES);
    let mut out = String::with_capacity(1024 + scene.nodes.len() * 700);
    w!(out, "digraph {} {{\n", quote(&scene.id));
    out.push_str("  graph [label=<<b>");
    let title = if scene.name.trim().is_empty() {
        &scene.id
    } else {
        &scene.name
    };
    xml_escape(title, &mut out);
    w!(
        out,
        "</b>>, labelloc=t, labeljust=l, fontsize=16, fontname=\"{FONT}\", rankdir=LR, \
         bgcolor=\"#f8fafc\", nodesep=0.3, ranksep=0.9, pad=0.3];\n"
    );
    w!(
        out,
        "  node [shape=plain, fontname=\"{FONT}\", fontsize=11];\n  edge [arrowsize=0.7, penwidth=1.4];\n"
    );

    let group_of = scene.group_of();
    for (g, group) in scene.groups.iter().enumerate() {
        let members = scene.placed_members(g, &group_of);
        if members.is_empty() {
            continue;
        }
        let (fill, border, ink) = CLUSTER_COLORS[g % CLUSTER_COLORS.len()];
        w!(
            out,
            "  subgraph {} {{\n    graph [label=<<b>",
            quote(&format!("cluster_{g}"))
        );
        xml_escape(group.heading(), &mut out);
        w!(
            out,
            "</b>>, tooltip={}, style=\"rounded,filled\", fillcolor=\"{fill}\", color=\"{border}\", \
             fontcolor=\"{ink}\", labeljust=l];\n",
            quote(&group.id)
        );
        for m in members {
            out.push_str("    ");
            node(&mut out, &scene.nodes[m]);
        }
        out.push_str("  }\n");
    }
    for (i, n) in scene.nodes.iter().enumerate() {
        if group_of[i].is_none() {
            out.push_str("  ");
            node(&mut out, n);
        }
    }
    for edge in &scene.edges {
        let (s, t) = (&scene.nodes[edge.source], &scene.nodes[edge.target]);
        let tooltip = format!(
            "{}.{} → {}.{} ({})",
            s.id,
            s.outputs[edge.source_port].name,
            t.id,
            t.inputs[edge.target_port].name,
            edge.data_type
        );
        w!(
            out,
            "  {}:\"o{}\":e -> {}:\"i{}\":w [id={}, color=\"{}\", tooltip={}];\n",
            quote(&s.id),
            edge.source_port,
            quote(&t.id),
            edge.target_port,
            quote(&edge.id),
            type_color(&edge.data_type),
            quote(&tooltip)
        );
    }
    out.push_str("}\n");
    out
}

/// A node statement with its HTML-like table label.
fn node(out: &mut String, n: &NodeView) {
    let (header, ink, sub) = match n.kind {
        Kind::Missing => ("#e2e8f0", "#334155", "#475569"),
        _ => (category_color(&n.category, n.kind), "#ffffff", "#e2e8f0"),
    };
    let border = if n.kind == Kind::Missing {
        "#94a3b8"
    } else {
        "#cbd5e1"
    };
    w!(
        out,
        "{} [tooltip={}, label=<<table border=\"1\" cellborder=\"0\" cellspacing=\"0\" cellpadding=\"3\" \
         color=\"{border}\" bgcolor=\"#ffffff\" style=\"rounded\">\
         <tr><td colspan=\"2\" align=\"left\" balign=\"left\" bgcolor=\"{header}\" cellpadding=\"5\">\
         <font color=\"{ink}\"><b>",
        quote(&n.id),
        quote(&format!("{} ({})", n.id, n.type_name))
    );
    xml_escape(&fit(&one_line(n.heading()), 260.0, 13.0), out);
    w!(
        out,
        "</b></font><br/><font color=\"{sub}\" point-size=\"9\">"
    );
    let subtitle = match n.kind {
        Kind::Missing => "missing node".to_owned(),
        Kind::UnknownType => format!("{} · unknown type", n.type_name),
        Kind::Known => n.type_name.clone(),
    };
    xml_escape(&fit(&subtitle, 260.0, 9.0), out);
    out.push_str("</font></td></tr>");
    for row in 0..n.rows() {
        out.push_str("<tr>");
        match n.inputs.get(row) {
            Some(p) => {
                w!(
                    out,
                    "<td port=\"i{row}\" align=\"left\"><font color=\"{}\">●</font> ",
                    type_color(&p.data_type)
                );
                port_text(out, &p.name, p.undeclared);
                out.push_str("</td>");
            }
            None => out.push_str("<td></td>"),
        }
        match n.outputs.get(row) {
            Some(p) => {
                w!(out, "<td port=\"o{row}\" align=\"right\">");
                port_text(out, &p.name, p.undeclared);
                w!(
                    out,
                    " <font color=\"{}\">●</font></td>",
                    type_color(&p.data_type)
                );
            }
            None => out.push_str("<td></td>"),
        }
        out.push_str("</tr>");
    }
    for (key, value) in &n.properties {
        out.push_str(
            "<tr><td colspan=\"2\" align=\"left\"><font point-size=\"9\" color=\"#64748b\">",
        );
        xml_escape(key, out);
        out.push_str("</font> <font point-size=\"9\">");
        xml_escape(&fit(value, 200.0, 9.0), out);
        out.push_str("</font></td></tr>");
    }
    out.push_str("</table>>];\n");
}

fn port_text(out: &mut String, name: &str, undeclared: bool) {
    if undeclared {
        out.push_str("<i>");
    }
    xml_escape(&fit(&one_line(name), 140.0, 11.0), out);
    if undeclared {
        out.push_str("</i>");
    }
}

/// A DOT double-quoted string. Inside quotes DOT only unescapes `\"`, so
/// backslashes are doubled (keeping distinct ids distinct and stopping a
/// trailing backslash from eating the closing quote), and control
/// characters are written as `\xNN` text.
pub(crate) fn quote(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(q, "\\x{:02x}", u32::from(c));
            }
            c => q.push(c),
        }
    }
    q.push('"');
    q
}
