//! A standalone SVG picture of a canvas: rounded node boxes with a header in
//! their category's colour, ports with dots coloured by data type, a few key
//! property values, Bézier edges coloured by data type, group frames behind
//! the nodes, and a legend. No external fonts, scripts or images.

use std::fmt::Write;

use super::layout::{
    GROUP_PAD_BOTTOM, GROUP_PAD_SIDE, GROUP_PAD_TOP, HEADER, LayoutMode, PAD, PROP_ROW, Placement,
    ROW, Rect, place, port_y,
};
use super::{
    Kind, MAX_COORDINATE, NodeView, Num, OTHER_TYPE_COLOR, Scene, TYPE_COLORS, category_color, fit,
    one_line, text_width, type_color, xml_escape,
};
use crate::Canvas;
use serde::{Deserialize, Serialize};

/// What to draw and how. Start from [`SvgOptions::default`] and change what
/// you need:
///
/// ```
/// use reelgraph::render::{LayoutMode, SvgOptions};
///
/// let options = SvgOptions::default()
///     .layout(LayoutMode::Layered)
///     .properties(2)
///     .legend(false);
/// assert_eq!(options.properties, 2);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct SvgOptions {
    /// Where nodes go; by default the canvas's positions when it has them.
    pub layout: LayoutMode,
    /// Most property lines shown per node (0 for none). Default 3.
    pub properties: usize,
    /// Draw the title (canvas name and counts) above the picture. Default true.
    pub title: bool,
    /// Draw the legend of categories and data types. Default true.
    pub legend: bool,
    /// Empty space around the content, in canvas units. Default 32.
    pub margin: f64,
}

impl Default for SvgOptions {
    fn default() -> Self {
        SvgOptions {
            layout: LayoutMode::Auto,
            properties: super::layout::DEFAULT_PROPERTIES,
            title: true,
            legend: true,
            margin: 32.0,
        }
    }
}

impl SvgOptions {
    pub fn layout(mut self, layout: LayoutMode) -> Self {
        self.layout = layout;
        self
    }
    pub fn properties(mut self, lines: usize) -> Self {
        self.properties = lines;
        self
    }
    pub fn title(mut self, on: bool) -> Self {
        self.title = on;
        self
    }
    pub fn legend(mut self, on: bool) -> Self {
        self.legend = on;
        self
    }
    pub fn margin(mut self, margin: f64) -> Self {
        self.margin = if margin.is_finite() {
            margin.max(0.0)
        } else {
            0.0
        };
        self
    }
}

/// The canvas as an SVG document (UTF-8 text, no XML declaration needed).
///
/// ```
/// use reelgraph::{Canvas, Catalog, Op, render};
/// use serde_json::json;
///
/// let mut canvas = Canvas::new(Catalog::builtin(), "c", "Pilot <draft>");
/// canvas.apply(vec![
///     Op::add_node("s1", "shot", json!({"number": 1, "camera": "close_up"})),
///     Op::add_node("img", "image_gen", json!({})),
///     Op::connect(("s1", "shot"), ("img", "shot")),
/// ]).unwrap();
/// let svg = render::to_svg(&canvas, &render::SvgOptions::default());
/// assert!(svg.contains("Pilot &lt;draft&gt;"));
/// assert!(svg.trim_end().ends_with("</svg>"));
/// ```
pub fn to_svg(canvas: &Canvas, options: &SvgOptions) -> String {
    let scene = Scene::build(canvas, options.properties);
    let placed = place(&scene, options.layout);
    let fallback_title = scene.id.clone();
    Picture {
        scene: &scene,
        boxes: &placed.boxes,
        placed: &placed,
        options,
        title: if scene.name.trim().is_empty() {
            fallback_title
        } else {
            scene.name.clone()
        },
    }
    .draw()
}

const FONT: &str =
    "Inter, system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif";
const RADIUS: f64 = 9.0;

/// Group frame colours: fill, stroke, label.
const GROUP_COLORS: [(&str, &str, &str); 6] = [
    ("#eef2ff", "#c7d2fe", "#3730a3"),
    ("#ecfdf5", "#a7f3d0", "#065f46"),
    ("#fff7ed", "#fed7aa", "#9a3412"),
    ("#fdf2f8", "#fbcfe8", "#9d174d"),
    ("#f0f9ff", "#bae6fd", "#075985"),
    ("#fefce8", "#fde68a", "#854d0e"),
];

const STYLE: &str = "text{font-family:Inter,system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif;fill:#1e293b}\
.bg{fill:#f8fafc}\
.shadow{fill:#0f172a;fill-opacity:.07}\
.body{fill:#fff;stroke:#cbd5e1;stroke-width:1}\
.missing .body{stroke:#94a3b8;stroke-dasharray:5 4}\
.h{font-size:13px;font-weight:600;fill:#fff}\
.t{font-size:10.5px;fill:#fff;fill-opacity:.82}\
.missing .h,.missing .t{fill:#334155}\
.p{font-size:11px;fill:#334155}\
.o{text-anchor:end}\
.u{font-style:italic;fill:#64748b}\
.k{font-size:10.5px;fill:#64748b}\
.v{fill:#1e293b}\
.rule{stroke:#e2e8f0;stroke-width:1}\
.dot{stroke:#fff;stroke-width:1.5}\
.ring{fill:#fff;stroke-width:2}\
.edge{fill:none;stroke-width:1.8;stroke-linecap:round;stroke-opacity:.85}\
.frame{stroke-width:1.2;fill-opacity:.75}\
.gl{font-size:13px;font-weight:650}\
.gn{font-size:11px;fill:#64748b}\
.title{font-size:20px;font-weight:700;fill:#0f172a}\
.meta{font-size:12px;fill:#64748b}\
.lg{font-size:12px;fill:#334155}\
.lh{font-size:11px;font-weight:600;fill:#64748b;letter-spacing:.04em}";

/// `write!` into a String, which cannot fail.
struct Picture<'a> {
    scene: &'a Scene,
    boxes: &'a [Rect],
    placed: &'a Placement,
    options: &'a SvgOptions,
    title: String,
}

/// Axis-aligned bounds that grow.
#[derive(Debug, Clone, Copy)]
struct Bounds {
    x0: f64,
    y0: f64,
    x1: f64,
    y1: f64,
}

impl Bounds {
    fn empty() -> Self {
        Bounds {
            x0: f64::INFINITY,
            y0: f64::INFINITY,
            x1: f64::NEG_INFINITY,
            y1: f64::NEG_INFINITY,
        }
    }
    fn add(&mut self, x: f64, y: f64) {
        if x.is_finite() && y.is_finite() {
            self.x0 = self.x0.min(x);
            self.y0 = self.y0.min(y);
            self.x1 = self.x1.max(x);
            self.y1 = self.y1.max(y);
        }
    }
    fn add_rect(&mut self, r: Rect) {
        self.add(r.x, r.y);
        self.add(r.x + r.w, r.y + r.h);
    }
    fn is_empty(&self) -> bool {
        self.x0 > self.x1
    }
}

/// Header text laid out left to right, wrapping at `wrap`.
struct Flow {
    out: String,
    x: f64,
    y: f64,
    wrap: f64,
}

impl Flow {
    /// One legend row of colour chips (or line swatches) and names.
    fn row<S: AsRef<str>>(&mut self, heading: &str, items: &[(S, &str)], chips: bool) {
        self.y += 8.0;
        w!(
            self.out,
            "<text class=\"lh\" x=\"{}\" y=\"{}\">{heading}</text>\n",
            Num(self.x),
            Num(self.y + 11.0)
        );
        let start = self.x + 52.0;
        let mut cx = start;
        for (label, color) in items {
            let label = fit(label.as_ref(), 160.0, 12.0);
            let advance = 22.0 + text_width(&label, 12.0) + 18.0;
            if cx > start && cx + advance > self.wrap {
                cx = start;
                self.y += 20.0;
            }
            let (x, y) = (Num(cx), Num(self.y));
            if chips {
                w!(
                    self.out,
                    "<rect x=\"{x}\" y=\"{y}\" width=\"14\" height=\"14\" rx=\"3.5\" fill=\"{color}\"/>"
                );
            } else {
                w!(
                    self.out,
                    "<path d=\"M{x} {}h16\" stroke=\"{color}\" stroke-width=\"3\" stroke-linecap=\"round\"/>",
                    Num(self.y + 7.0)
                );
            }
            w!(
                self.out,
                "<text class=\"lg\" x=\"{}\" y=\"{}\">",
                Num(cx + 22.0),
                Num(self.y + 11.0)
            );
            xml_escape(&label, &mut self.out);
            self.out.push_str("</text>\n");
            cx += advance;
        }
        self.y += 20.0;
    }
}

/// Where an edge starts, and the segments that take it to its end.
type EdgePath = ((f64, f64), Vec<Segment>);

/// A curve segment of an edge: cubic, or straight along a lane.
enum Segment {
    Curve((f64, f64), (f64, f64), (f64, f64)),
    Line(f64, f64),
}

impl Picture<'_> {
    fn draw(&self) -> String {
        let frames = self.frames();
        let paths: Vec<EdgePath> = (0..self.scene.edges.len())
            .map(|e| self.edge_path(e))
            .collect();

        let mut content = Bounds::empty();
        for r in self.boxes {
            content.add_rect(*r);
        }
        for (_, r) in &frames {
            content.add_rect(*r);
        }
        for ((x, y), segments) in &paths {
            content.add(*x, *y);
            for s in segments {
                match s {
                    Segment::Curve(a, b, c) => {
                        content.add(a.0, a.1);
                        content.add(b.0, b.1);
                        content.add(c.0, c.1);
                    }
                    Segment::Line(x, y) => content.add(*x, *y),
                }
            }
        }
        if content.is_empty() {
            content = Bounds {
                x0: 0.0,
                y0: 0.0,
                x1: 320.0,
                y1: 120.0,
            };
        }

        let mut header = String::new();
        let header_height = self.header(&mut header, content);
        // The field is public, so the builder's check may have been skipped.
        let margin = if self.options.margin.is_finite() {
            self.options.margin.clamp(0.0, MAX_COORDINATE)
        } else {
            0.0
        };
        let x0 = content.x0 - margin;
        let y0 = content.y0 - header_height - margin;
        let width = (content.x1 - content.x0).max(self.header_width(content)) + 2.0 * margin;
        let height = content.y1 - content.y0 + header_height + 2.0 * margin;

        let mut out = String::with_capacity(4096 + self.scene.nodes.len() * 1800);
        w!(
            out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"{} {} {} {}\" width=\"{}\" height=\"{}\" font-family=\"{FONT}\">\n",
            Num(x0),
            Num(y0),
            Num(width),
            Num(height),
            Num(width),
            Num(height)
        );
        out.push_str("<title>");
        xml_escape(&self.title, &mut out);
        out.push_str("</title>\n<style>");
        out.push_str(STYLE);
        out.push_str("</style>\n");
        w!(
            out,
            "<rect class=\"bg\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/>\n",
            Num(x0),
            Num(y0),
            Num(width),
            Num(height)
        );
        out.push_str(&header);

        out.push_str("<g class=\"groups\">\n");
        for (g, r) in &frames {
            self.frame(&mut out, *g, *r);
        }
        out.push_str("</g>\n<g class=\"edges\">\n");
        for (e, (start, segments)) in paths.iter().enumerate() {
            self.edge(&mut out, e, *start, segments);
        }
        out.push_str("</g>\n<g class=\"nodes\">\n");
        for i in 0..self.scene.nodes.len() {
            self.node(&mut out, i);
        }
        out.push_str("</g>\n</svg>\n");
        out
    }

    // ---- header: title and legend ------------------------------------------

    fn legend_categories(&self) -> Vec<(String, &'static str)> {
        self.scene
            .categories()
            .into_iter()
            .map(|(name, kind)| {
                let label = match kind {
                    Kind::Known => name.to_owned(),
                    Kind::UnknownType => "unknown type".to_owned(),
                    Kind::Missing => "missing node".to_owned(),
                };
                (label, category_color(name, kind))
            })
            .collect()
    }

    fn legend_types(&self) -> Vec<(&'static str, &'static str)> {
        let mut present: Vec<(&str, &str)> = TYPE_COLORS
            .iter()
            .filter(|(t, _)| self.scene.edges.iter().any(|e| e.data_type == *t))
            .copied()
            .collect();
        if self
            .scene
            .edges
            .iter()
            .any(|e| type_color(&e.data_type) == OTHER_TYPE_COLOR)
        {
            present.push(("other", OTHER_TYPE_COLOR));
        }
        present
    }

    /// The width the header flows in: the content's, but never cramped.
    fn header_width(&self, content: Bounds) -> f64 {
        if !self.options.title && !self.options.legend {
            return 0.0;
        }
        (content.x1 - content.x0).max(560.0)
    }

    /// Writes the title and legend above `content`; returns their height.
    fn header(&self, out: &mut String, content: Bounds) -> f64 {
        let mut flow = Flow {
            out: String::new(),
            x: content.x0,
            y: 0.0,
            wrap: content.x0 + self.header_width(content),
        };
        if self.options.title {
            w!(
                flow.out,
                "<text class=\"title\" x=\"{}\" y=\"20\">",
                Num(flow.x)
            );
            let room = self.header_width(content);
            xml_escape(&fit(&one_line(&self.title), room, 20.0), &mut flow.out);
            let nodes = self
                .scene
                .nodes
                .iter()
                .filter(|n| n.kind != Kind::Missing)
                .count();
            let edges = self.scene.edges.len();
            w!(
                flow.out,
                "</text>\n<text class=\"meta\" x=\"{}\" y=\"40\">{nodes} node{} · {edges} edge{}",
                Num(flow.x),
                plural(nodes),
                plural(edges)
            );
            let groups = self.scene.groups.len();
            if groups > 0 {
                w!(flow.out, " · {groups} group{}", plural(groups));
            }
            flow.out.push_str("</text>\n");
            flow.y = 54.0;
        }
        if self.options.legend && !self.scene.nodes.is_empty() {
            flow.row("NODES", &self.legend_categories(), true);
            let types = self.legend_types();
            if !types.is_empty() {
                flow.row("DATA", &types, false);
            }
        }
        if flow.y == 0.0 {
            return 0.0;
        }
        let height = flow.y + 14.0;
        // The header was laid out from 0; move it to sit above the content.
        w!(
            out,
            "<g class=\"header\" transform=\"translate(0 {})\">\n{}</g>\n",
            Num(content.y0 - height),
            flow.out
        );
        height
    }

    // ---- groups ---------------------------------------------------------------

    /// A frame per group with members: the layout's, or the members' bounds
    /// plus padding.
    fn frames(&self) -> Vec<(usize, Rect)> {
        self.scene
            .groups
            .iter()
            .enumerate()
            .filter_map(|(g, group)| {
                if let Some(r) = self.placed.frames.get(g).copied().flatten() {
                    return Some((g, r));
                }
                let mut b = Bounds::empty();
                for &m in &group.members {
                    b.add_rect(self.boxes[m]);
                }
                (!b.is_empty()).then_some((
                    g,
                    Rect {
                        x: b.x0 - GROUP_PAD_SIDE,
                        y: b.y0 - GROUP_PAD_TOP,
                        w: b.x1 - b.x0 + 2.0 * GROUP_PAD_SIDE,
                        h: b.y1 - b.y0 + GROUP_PAD_TOP + GROUP_PAD_BOTTOM,
                    },
                ))
            })
            .collect()
    }

    fn frame(&self, out: &mut String, g: usize, r: Rect) {
        let group = &self.scene.groups[g];
        let (fill, stroke, ink) = GROUP_COLORS[g % GROUP_COLORS.len()];
        out.push_str("<g class=\"group\"><title>");
        xml_escape(&group.id, out);
        w!(
            out,
            "</title><rect class=\"frame\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"14\" fill=\"{fill}\" stroke=\"{stroke}\"/>",
            Num(r.x),
            Num(r.y),
            Num(r.w),
            Num(r.h)
        );
        let count = group.members.len();
        let note = format!("{count} node{}", plural(count));
        let room = r.w - 28.0 - text_width(&note, 11.0) - 12.0;
        let label = fit(&one_line(group.heading()), room.max(24.0), 13.0 * 1.06).into_owned();
        w!(
            out,
            "<text class=\"gl\" x=\"{}\" y=\"{}\" fill=\"{ink}\" style=\"fill:{ink}\">",
            Num(r.x + 14.0),
            Num(r.y + 22.0)
        );
        xml_escape(&label, out);
        // Right-aligned: estimated text widths vary with the viewer's font, so
        // the count never starts where the label is guessed to end.
        w!(
            out,
            "</text><text class=\"gn\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{note}</text></g>\n",
            Num(r.x + r.w - 14.0),
            Num(r.y + 22.0)
        );
    }

    // ---- edges ----------------------------------------------------------------

    /// The start point and segments of an edge's curve.
    fn edge_path(&self, e: usize) -> EdgePath {
        let edge = &self.scene.edges[e];
        let route = &self.placed.routes[e];
        let (points, straight): (Vec<(f64, f64)>, Vec<bool>) = if route.points.len() >= 2 {
            (route.points.clone(), route.straight.clone())
        } else {
            let (s, t) = (self.boxes[edge.source], self.boxes[edge.target]);
            let start = (s.x + s.w, s.y + port_y(edge.source_port));
            let end = (t.x, t.y + port_y(edge.target_port));
            (vec![start, end], vec![false])
        };
        let segments = points
            .windows(2)
            .zip(straight)
            .map(|(pair, straight)| {
                let (p, q) = (pair[0], pair[1]);
                if straight {
                    return Segment::Line(q.0, q.1);
                }
                let dx = q.0 - p.0;
                let pull = if dx >= 24.0 {
                    dx * 0.5
                } else {
                    // Backwards or stacked: loop out and back in.
                    60.0 + dx.abs() * 0.25 + (q.1 - p.1).abs() * 0.1
                };
                Segment::Curve((p.0 + pull, p.1), (q.0 - pull, q.1), q)
            })
            .collect();
        (points[0], segments)
    }

    fn edge(&self, out: &mut String, e: usize, start: (f64, f64), segments: &[Segment]) {
        let edge = &self.scene.edges[e];
        let color = type_color(&edge.data_type);
        w!(
            out,
            "<path class=\"edge\" stroke=\"{color}\" d=\"M{} {}",
            Num(start.0),
            Num(start.1)
        );
        for s in segments {
            match s {
                Segment::Curve(a, b, c) => w!(
                    out,
                    "C{} {} {} {} {} {}",
                    Num(a.0),
                    Num(a.1),
                    Num(b.0),
                    Num(b.1),
                    Num(c.0),
                    Num(c.1)
                ),
                Segment::Line(x, y) => w!(out, "L{} {}", Num(*x), Num(*y)),
            }
        }
        out.push_str("\"><title>");
        let (s, t) = (
            &self.scene.nodes[edge.source],
            &self.scene.nodes[edge.target],
        );
        let text = format!(
            "{}.{} → {}.{} ({})",
            s.id,
            s.outputs[edge.source_port].name,
            t.id,
            t.inputs[edge.target_port].name,
            edge.data_type
        );
        xml_escape(&text, out);
        out.push_str("</title></path>\n");
    }

    // ---- nodes ----------------------------------------------------------------

    fn node(&self, out: &mut String, i: usize) {
        let n = &self.scene.nodes[i];
        let r = self.boxes[i];
        let color = category_color(&n.category, n.kind);
        let class = match n.kind {
            Kind::Missing => "node missing",
            _ => "node",
        };
        w!(
            out,
            "<g class=\"{class}\" transform=\"translate({} {})\"><title>",
            Num(r.x),
            Num(r.y)
        );
        xml_escape(&node_tooltip(n), out);
        out.push_str("</title>");
        w!(
            out,
            "<rect class=\"shadow\" y=\"2\" width=\"{w}\" height=\"{h}\" rx=\"{RADIUS}\"/>\
             <rect class=\"body\" width=\"{w}\" height=\"{h}\" rx=\"{RADIUS}\"/>",
            w = Num(r.w),
            h = Num(r.h)
        );
        let header_fill = if n.kind == Kind::Missing {
            "#e2e8f0"
        } else {
            color
        };
        w!(
            out,
            "<path d=\"M0 {HEADER}V{RADIUS}A{RADIUS} {RADIUS} 0 0 1 {RADIUS} 0H{}A{RADIUS} {RADIUS} 0 0 1 {} {RADIUS}V{HEADER}Z\" fill=\"{header_fill}\"/>",
            Num(r.w - RADIUS),
            Num(r.w)
        );
        let room = r.w - 24.0;
        out.push_str("<text class=\"h\" x=\"12\" y=\"17\">");
        xml_escape(&fit(&one_line(n.heading()), room, 13.0 * 1.08), out);
        out.push_str("</text><text class=\"t\" x=\"12\" y=\"31\">");
        xml_escape(&fit(&subtitle(n), room, 10.5), out);
        out.push_str("</text>");

        for row in 0..n.rows() {
            let y = port_y(row);
            let both = n.inputs.get(row).is_some() && n.outputs.get(row).is_some();
            let room = if both { r.w / 2.0 - 18.0 } else { r.w - 30.0 };
            if let Some(p) = n.inputs.get(row) {
                port_dot(out, 0.0, y, &p.data_type, p.required);
                port_name(out, 12.0, y, &p.name, room, false, p.undeclared);
            }
            if let Some(p) = n.outputs.get(row) {
                port_dot(out, r.w, y, &p.data_type, true);
                port_name(out, r.w - 12.0, y, &p.name, room, true, p.undeclared);
            }
        }

        if !n.properties.is_empty() {
            let top = HEADER + PAD * 0.5 + n.rows() as f64 * ROW + 3.0;
            w!(
                out,
                "<path class=\"rule\" d=\"M10 {}H{}\"/>",
                Num(top),
                Num(r.w - 10.0)
            );
            // Values share one column after the widest key, with a margin for
            // fonts wider than the estimate.
            let key_w = n
                .properties
                .iter()
                .map(|(key, _)| text_width(&fit(key, room * 0.45, 10.5), 10.5))
                .fold(0.0, f64::max)
                * 1.15
                + 8.0;
            for (k, (key, value)) in n.properties.iter().enumerate() {
                let y = top + 3.0 + PROP_ROW * (k as f64 + 0.5) + 3.5;
                let key = fit(key, room * 0.45, 10.5);
                let value = fit(value, room - key_w, 10.5);
                w!(out, "<text class=\"k\" x=\"12\" y=\"{}\">", Num(y));
                xml_escape(&key, out);
                w!(out, "<tspan class=\"v\" x=\"{}\">", Num(12.0 + key_w));
                xml_escape(&value, out);
                out.push_str("</tspan></text>");
            }
        }
        out.push_str("</g>\n");
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The small line under a node's heading.
fn subtitle(n: &NodeView) -> String {
    let type_name = one_line(&n.type_name);
    match n.kind {
        Kind::Missing => "missing node".to_owned(),
        Kind::UnknownType => format!("{type_name} · unknown type"),
        Kind::Known if n.label.as_deref().is_some_and(|l| !l.trim().is_empty()) => {
            format!("{type_name} · {}", one_line(&n.title))
        }
        Kind::Known => type_name.into_owned(),
    }
}

fn node_tooltip(n: &NodeView) -> String {
    let mut s = format!("{} ({})", n.id, n.type_name);
    if let Some(label) = &n.label {
        s = format!("{label} — {s}");
    }
    s
}

fn port_dot(out: &mut String, x: f64, y: f64, data_type: &str, filled: bool) {
    let color = type_color(data_type);
    if filled {
        w!(
            out,
            "<circle class=\"dot\" cx=\"{}\" cy=\"{}\" r=\"4.5\" fill=\"{color}\"/>",
            Num(x),
            Num(y)
        );
    } else {
        w!(
            out,
            "<circle class=\"ring\" cx=\"{}\" cy=\"{}\" r=\"3.6\" stroke=\"{color}\"/>",
            Num(x),
            Num(y)
        );
    }
}

fn port_name(
    out: &mut String,
    x: f64,
    y: f64,
    name: &str,
    room: f64,
    output: bool,
    undeclared: bool,
) {
    let class = match (output, undeclared) {
        (false, false) => "p",
        (true, false) => "p o",
        (false, true) => "p u",
        (true, true) => "p o u",
    };
    w!(
        out,
        "<text class=\"{class}\" x=\"{}\" y=\"{}\">",
        Num(x),
        Num(y + 3.8)
    );
    xml_escape(&fit(&one_line(name), room, 11.0), out);
    out.push_str("</text>");
}
