//! Pictures of a canvas: Graphviz DOT, Mermaid and a standalone SVG, and the
//! layered layout behind them.
//!
//! All three read the canvas as it is, including what validation would
//! complain about: nodes of unknown types are drawn grey with the ports their
//! edges use, and an edge whose node does not exist ends at a dashed
//! "missing" placeholder, so a broken canvas still renders and shows what is
//! wrong. Output is deterministic: the same canvas gives the same bytes.
//!
//! Pictures stay small and finite whatever the canvas holds: every piece of
//! user text (a label, a name, an id, a type, port or property name, a
//! value) is cut to [`MAX_TEXT_BYTES`] at a character boundary, ending with
//! `…`, so a picture grows with the number of nodes, edges and groups, not
//! with the length of their text; and positions further out than
//! [`MAX_COORDINATE`] are drawn at that distance (see [`layout()`]).
//!
//! ```
//! use reelgraph::{Canvas, Catalog, Op, render};
//! use serde_json::json;
//!
//! let mut canvas = Canvas::new(Catalog::builtin(), "demo", "Demo");
//! canvas.apply(vec![
//!     Op::add_node("hero", "character", json!({"name": "Mara", "trigger_word": "mara_v2"})),
//!     Op::add_node("s1", "shot", json!({"number": 1, "camera": "wide"})),
//!     Op::connect(("hero", "character"), ("s1", "characters")),
//! ]).unwrap();
//!
//! let svg = render::to_svg(&canvas, &render::SvgOptions::default());
//! assert!(svg.starts_with("<svg"));
//! assert!(render::to_dot(&canvas).starts_with("digraph"));
//! assert!(render::to_mermaid(&canvas).contains("flowchart LR"));
//! ```

/// `write!` into a `String`, which cannot fail.
macro_rules! w {
    ($out:expr, $($arg:tt)*) => {{
        let _ = write!($out, $($arg)*);
    }};
}

mod dot;
mod layered;
mod layout;
mod mermaid;
mod svg;

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde_json::{Map, Value};

pub use dot::to_dot;
pub use layout::{Layout, LayoutMode, NodeBox, layout};
pub use mermaid::to_mermaid;
pub use svg::{SvgOptions, to_svg};

use crate::Canvas;
use crate::catalog::{NodeTypeSpec, PropertyKind};
use crate::model::Position;

/// The most bytes of one piece of user text a picture prints. Longer text
/// is cut at a character boundary and ends with `…` (within these bytes).
/// Escaping for the format comes after the cut.
pub const MAX_TEXT_BYTES: usize = 200;

/// The furthest from the origin a node is drawn, in canvas units, on either
/// axis. A position beyond it (up to `f64::MAX`, which JSON allows) is drawn
/// at this distance, on its side; positions within it are drawn as given.
/// Picture coordinates then stay finite and precise in every SVG viewer.
pub const MAX_COORDINATE: f64 = 1_000_000.0;

/// What a drawn node stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A node whose type the catalogue knows.
    Known,
    /// A node of a type the catalogue does not know.
    UnknownType,
    /// A placeholder for a node an edge names but the canvas lacks.
    Missing,
}

/// A port as drawn.
#[derive(Debug, Clone)]
pub(crate) struct PortView {
    pub name: String,
    /// The data type used for colour: the output type, or an input's first type.
    pub data_type: String,
    pub required: bool,
    /// Not declared by the node's type: only an edge names it.
    pub undeclared: bool,
}

/// A node as drawn, with everything the three formats need.
#[derive(Debug, Clone)]
pub(crate) struct NodeView {
    pub id: String,
    pub label: Option<String>,
    pub type_name: String,
    /// The type's title, or the type name when the type is unknown.
    pub title: String,
    pub category: String,
    pub kind: Kind,
    pub inputs: Vec<PortView>,
    pub outputs: Vec<PortView>,
    /// Key property values, `(name, value)`, already shortened to one line.
    pub properties: Vec<(String, String)>,
    pub position: Position,
}

impl NodeView {
    /// The heading of the node: its label, or its type's title.
    pub fn heading(&self) -> &str {
        match &self.label {
            Some(l) if !l.trim().is_empty() => l,
            _ if self.kind == Kind::Missing => &self.id,
            _ => &self.title,
        }
    }

    /// Port rows: inputs on the left and outputs on the right share rows.
    pub fn rows(&self) -> usize {
        self.inputs.len().max(self.outputs.len())
    }
}

/// An edge as drawn: indices into the scene's nodes and their ports.
#[derive(Debug, Clone)]
pub(crate) struct EdgeView {
    pub id: String,
    pub source: usize,
    pub source_port: usize,
    pub target: usize,
    pub target_port: usize,
    pub data_type: String,
}

/// A group as drawn: its members as node indices, each once.
#[derive(Debug, Clone)]
pub(crate) struct GroupView {
    pub id: String,
    pub label: Option<String>,
    pub members: Vec<usize>,
}

impl GroupView {
    pub fn heading(&self) -> &str {
        match &self.label {
            Some(l) if !l.trim().is_empty() => l,
            _ => &self.id,
        }
    }
}

/// The canvas resolved for drawing: every edge end is a node index (missing
/// nodes become placeholders) and every port an index into its node's ports.
#[derive(Debug, Clone)]
pub(crate) struct Scene {
    /// The canvas id and name, cut like all user text.
    pub id: String,
    pub name: String,
    pub nodes: Vec<NodeView>,
    pub edges: Vec<EdgeView>,
    pub groups: Vec<GroupView>,
}

impl Scene {
    /// The canvas resolved for drawing, with every piece of user text cut
    /// to [`MAX_TEXT_BYTES`].
    pub fn build(canvas: &Canvas, max_properties: usize) -> Scene {
        let catalog = canvas.catalog();
        let mut specs: HashMap<String, Option<Arc<NodeTypeSpec>>> = HashMap::new();
        let mut nodes = Vec::with_capacity(canvas.node_count());
        let mut index: HashMap<String, usize> = HashMap::with_capacity(canvas.node_count());
        for node in canvas.nodes() {
            let spec = specs
                .entry(node.node_type.clone())
                .or_insert_with(|| catalog.get(&node.node_type))
                .clone();
            let properties = key_properties(&node.node_type, spec.as_deref(), &node.properties)
                .into_iter()
                .take(max_properties)
                .collect();
            let view = match spec {
                Some(spec) => NodeView {
                    title: clip(&spec.title).into_owned(),
                    category: clip(&spec.category).into_owned(),
                    kind: Kind::Known,
                    inputs: spec
                        .inputs
                        .iter()
                        .map(|p| PortView {
                            name: clip(&p.name).into_owned(),
                            data_type: p
                                .accepts
                                .0
                                .first()
                                .map_or(Cow::Borrowed("any"), |t| clip(t.as_str()))
                                .into_owned(),
                            required: p.required,
                            undeclared: false,
                        })
                        .collect(),
                    outputs: spec
                        .outputs
                        .iter()
                        .map(|p| PortView {
                            name: clip(&p.name).into_owned(),
                            data_type: clip(p.data_type.as_str()).into_owned(),
                            required: true,
                            undeclared: false,
                        })
                        .collect(),
                    properties,
                    id: clip_owned(node.id),
                    label: node.label.map(clip_owned),
                    type_name: clip_owned(node.node_type),
                    position: node.position,
                },
                None => NodeView {
                    title: clip(&node.node_type).into_owned(),
                    category: "unknown".to_owned(),
                    kind: Kind::UnknownType,
                    inputs: Vec::new(),
                    outputs: Vec::new(),
                    properties,
                    id: clip_owned(node.id),
                    label: node.label.map(clip_owned),
                    type_name: clip_owned(node.node_type),
                    position: node.position,
                },
            };
            index.insert(view.id.clone(), nodes.len());
            nodes.push(view);
        }

        let mut edges = Vec::with_capacity(canvas.edge_count());
        for edge in canvas.edges() {
            let source = node_index(&mut nodes, &mut index, &clip(&edge.source.node));
            let target = node_index(&mut nodes, &mut index, &clip(&edge.target.node));
            let (source_name, target_name) = (clip(&edge.source.port), clip(&edge.target.port));
            let declared_out = nodes[source]
                .outputs
                .iter()
                .position(|p| p.name == source_name);
            let declared_in = nodes[target]
                .inputs
                .iter()
                .position(|p| p.name == target_name);
            // The edge's data type: what the output declares, else what the input takes.
            let data_type = match (declared_out, declared_in) {
                (Some(o), _) => nodes[source].outputs[o].data_type.clone(),
                (None, Some(i)) => nodes[target].inputs[i].data_type.clone(),
                (None, None) => "any".to_owned(),
            };
            let source_port = declared_out.unwrap_or_else(|| {
                undeclared_port(&mut nodes[source].outputs, &source_name, &data_type)
            });
            let target_port = declared_in.unwrap_or_else(|| {
                undeclared_port(&mut nodes[target].inputs, &target_name, &data_type)
            });
            edges.push(EdgeView {
                id: clip_owned(edge.id),
                source,
                source_port,
                target,
                target_port,
                data_type,
            });
        }

        let groups = canvas
            .groups()
            .map(|g| {
                let mut members: Vec<usize> = Vec::with_capacity(g.nodes.len());
                let mut seen = HashSet::with_capacity(g.nodes.len());
                for id in &g.nodes {
                    if let Some(&i) = index.get(clip(id).as_ref())
                        && seen.insert(i)
                    {
                        members.push(i);
                    }
                }
                GroupView {
                    id: clip(&g.id).into_owned(),
                    label: g.label.as_deref().map(|l| clip(l).into_owned()),
                    members,
                }
            })
            .collect();

        Scene {
            id: clip(canvas.id()).into_owned(),
            name: clip(canvas.name()).into_owned(),
            nodes,
            edges,
            groups,
        }
    }

    /// For each node, the first group that lists it.
    pub fn group_of(&self) -> Vec<Option<usize>> {
        let mut of = vec![None; self.nodes.len()];
        for (g, group) in self.groups.iter().enumerate() {
            for &m in &group.members {
                if of[m].is_none() {
                    of[m] = Some(g);
                }
            }
        }
        of
    }

    /// The members of group `g` that are drawn in it (a node listed by
    /// several groups is drawn in the first); `group_of` from [`Scene::group_of`].
    pub fn placed_members(&self, g: usize, group_of: &[Option<usize>]) -> Vec<usize> {
        self.groups[g]
            .members
            .iter()
            .copied()
            .filter(|&m| group_of[m] == Some(g))
            .collect()
    }

    /// The categories present, built-ins first in pipeline order, then the
    /// others sorted, then `unknown` and `missing`.
    pub fn categories(&self) -> Vec<(&str, Kind)> {
        let mut found: Vec<(&str, Kind)> = Vec::new();
        for n in &self.nodes {
            let key = (n.category.as_str(), n.kind);
            let key = match n.kind {
                Kind::Known => key,
                Kind::UnknownType => ("unknown", Kind::UnknownType),
                Kind::Missing => ("missing", Kind::Missing),
            };
            if !found.contains(&key) {
                found.push(key);
            }
        }
        found.sort_by(|a, b| category_rank(a).cmp(&category_rank(b)).then(a.0.cmp(b.0)));
        found
    }
}

/// Built-ins in pipeline order, then users' categories, then unknown and missing.
fn category_rank(c: &(&str, Kind)) -> usize {
    let builtins = CATEGORY_COLORS.len();
    match c.1 {
        Kind::UnknownType => builtins + 1,
        Kind::Missing => builtins + 2,
        Kind::Known => CATEGORY_COLORS
            .iter()
            .position(|(name, _, _)| *name == c.0)
            .unwrap_or(builtins),
    }
}

/// The index of a node, adding a "missing" placeholder for an id the canvas lacks.
fn node_index(nodes: &mut Vec<NodeView>, index: &mut HashMap<String, usize>, id: &str) -> usize {
    if let Some(&i) = index.get(id) {
        return i;
    }
    nodes.push(NodeView {
        id: id.to_owned(),
        label: None,
        type_name: "missing".to_owned(),
        title: "Missing node".to_owned(),
        category: "missing".to_owned(),
        kind: Kind::Missing,
        inputs: Vec::new(),
        outputs: Vec::new(),
        properties: Vec::new(),
        position: Position::default(),
    });
    index.insert(id.to_owned(), nodes.len() - 1);
    nodes.len() - 1
}

fn undeclared_port(ports: &mut Vec<PortView>, name: &str, data_type: &str) -> usize {
    if let Some(i) = ports.iter().position(|p| p.name == name) {
        return i;
    }
    ports.push(PortView {
        name: name.to_owned(),
        data_type: data_type.to_owned(),
        required: false,
        undeclared: true,
    });
    ports.len() - 1
}

// ---------------------------------------------------------------------------
// Key properties

/// The properties worth showing on a built-in node type, most telling first.
fn preferred_properties(type_name: &str) -> &'static [&'static str] {
    match type_name {
        "act" => &["number", "title", "duration"],
        "scene" => &["number", "heading", "time_of_day"],
        "shot" => &["number", "camera", "duration", "movement", "lens_mm"],
        "beat" => &["kind", "title", "page"],
        "character" => &["name", "trigger_word", "lora", "lora_weight"],
        "style" => &["name", "lora", "lora_weight", "prompt"],
        "location" => &["name", "time_of_day", "interior"],
        "prop" => &["name", "description"],
        "voice" => &["name", "voice_id", "language"],
        "prompt" => &["text", "negative_text"],
        "image_gen" => &["model", "size", "seed", "sampler"],
        "video_gen" => &["model", "duration", "fps", "seed"],
        "audio_gen" => &["mode", "text", "prompt", "genre", "emotion"],
        "upscale" => &["factor", "model"],
        "effect" => &["effect", "filter", "radius", "intensity"],
        "composite" => &["layers", "size"],
        "transition" => &["kind", "duration", "easing"],
        "combine_audio" => &["tracks", "normalize", "target_lufs"],
        "edit" => &["title", "fps", "edl_format"],
        "export" => &["format", "resolution", "codec", "path"],
        _ => &[],
    }
}

/// Key property values of a node as `(name, value)` lines: the type's
/// preferred ones first, then other short values in spec (or name) order.
pub(crate) fn key_properties(
    type_name: &str,
    spec: Option<&NodeTypeSpec>,
    props: &Map<String, Value>,
) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut used: Vec<&str> = Vec::new();
    let kind_of = |name: &str| spec.and_then(|s| s.property(name)).map(|p| p.kind);
    for &name in preferred_properties(type_name) {
        if name == "size" {
            let (w, h) = (props.get("width"), props.get("height"));
            if let (Some(Value::Number(w)), Some(Value::Number(h))) = (w, h) {
                out.push(("size".to_owned(), format!("{w} × {h}")));
                used.extend(["width", "height"]);
            }
            continue;
        }
        // The effect's own parameters only matter for the chosen effect.
        if type_name == "effect" && !effect_param_applies(props, name) {
            continue;
        }
        if let Some(text) = props.get(name).and_then(|v| short_value(v, kind_of(name))) {
            out.push((display_name(name), text));
            used.push(name);
        }
    }
    if type_name == "effect" {
        return out;
    }
    let others: Vec<&str> = match spec {
        Some(s) => s.properties.iter().map(|p| &*p.name).collect(),
        None => props.keys().map(String::as_str).collect(),
    };
    for name in others {
        if used.contains(&name) {
            continue;
        }
        let Some(value) = props.get(name) else {
            continue;
        };
        // Long prose (descriptions, prompts, notes) says little in one line.
        if matches!(value, Value::String(s) if s.chars().nth(48).is_some()) {
            continue;
        }
        if let Some(text) = short_value(value, kind_of(name)) {
            out.push((display_name(name), text));
        }
    }
    out
}

fn effect_param_applies(props: &Map<String, Value>, name: &str) -> bool {
    let effect = props
        .get("effect")
        .and_then(Value::as_str)
        .unwrap_or("blur");
    match name {
        "effect" => true,
        "radius" => effect == "blur",
        "filter" | "intensity" => effect == "filter",
        _ => false,
    }
}

fn display_name(name: &str) -> String {
    one_line(&clip(name)).replace('_', " ")
}

/// A value as short one-line text, or None when there is nothing to show.
fn short_value(value: &Value, kind: Option<PropertyKind>) -> Option<String> {
    let text = match value {
        Value::Null => return None,
        Value::Bool(b) => if *b { "yes" } else { "no" }.to_owned(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => format_float(f),
            _ => n.to_string(),
        },
        Value::String(s) if s.trim().is_empty() => return None,
        Value::String(s) if kind == Some(PropertyKind::AssetRef) => {
            clip(s.rsplit(['/', '\\']).next().unwrap_or(s)).into_owned()
        }
        Value::String(s) => clip(s).into_owned(),
        Value::Array(items) if items.is_empty() => return None,
        Value::Array(items) if items.len() == 1 => "1 item".to_owned(),
        Value::Array(items) => format!("{} items", items.len()),
        Value::Object(map) if map.is_empty() => return None,
        Value::Object(map) => format!("{} fields", map.len()),
    };
    Some(one_line(&text).into_owned())
}

fn format_float(f: f64) -> String {
    let s = format!("{f:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_owned()
    } else {
        s.to_owned()
    }
}

// ---------------------------------------------------------------------------
// Colours

/// Category colours: a strong one for headers (white text reads well on it)
/// and a pale tint for fills behind dark text (Graphviz, Mermaid).
const CATEGORY_COLORS: [(&str, &str, &str); 5] = [
    ("story", "#6d28d9", "#ede9fe"),
    ("assets", "#0f766e", "#ccfbf1"),
    ("generation", "#1d4ed8", "#dbeafe"),
    ("post", "#c2410c", "#ffedd5"),
    ("output", "#be123c", "#ffe4e6"),
];

/// Colours for users' own categories, picked by a stable hash of the name.
const MORE_COLORS: [(&str, &str); 6] = [
    ("#4d7c0f", "#ecfccb"),
    ("#a16207", "#fef9c3"),
    ("#0369a1", "#e0f2fe"),
    ("#9d174d", "#fce7f3"),
    ("#4338ca", "#e0e7ff"),
    ("#15803d", "#dcfce7"),
];

/// Strong and pale colour of a category.
fn category_colors(category: &str, kind: Kind) -> (&'static str, &'static str) {
    match kind {
        Kind::UnknownType => ("#64748b", "#f1f5f9"),
        Kind::Missing => ("#94a3b8", "#f8fafc"),
        Kind::Known => CATEGORY_COLORS
            .iter()
            .find(|(name, _, _)| *name == category)
            .map_or_else(
                || MORE_COLORS[(fnv1a(category) % MORE_COLORS.len() as u64) as usize],
                |&(_, strong, tint)| (strong, tint),
            ),
    }
}

/// Header colour of a node.
pub(crate) fn category_color(category: &str, kind: Kind) -> &'static str {
    category_colors(category, kind).0
}

/// Fill colour behind dark text.
pub(crate) fn category_tint(category: &str, kind: Kind) -> &'static str {
    category_colors(category, kind).1
}

/// Data types with their own edge colour, in legend order.
pub(crate) const TYPE_COLORS: [(&str, &str); 14] = [
    ("act", "#7c3aed"),
    ("scene", "#a855f7"),
    ("shot", "#db2777"),
    ("character", "#0d9488"),
    ("location", "#65a30d"),
    ("style", "#d97706"),
    ("prop", "#a16207"),
    ("voice", "#0891b2"),
    ("text", "#ca8a04"),
    ("image", "#2563eb"),
    ("video", "#9333ea"),
    ("audio", "#059669"),
    ("mask", "#475569"),
    ("edl", "#dc2626"),
];

/// Grey for data types without a colour of their own.
pub(crate) const OTHER_TYPE_COLOR: &str = "#94a3b8";

/// The colour of a data type (edges and port dots).
pub(crate) fn type_color(data_type: &str) -> &'static str {
    TYPE_COLORS
        .iter()
        .find(|(t, _)| *t == data_type)
        .map_or(OTHER_TYPE_COLOR, |(_, c)| c)
}

/// 64-bit FNV-1a: a stable hash for picking colours (std's hasher is seeded).
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

// ---------------------------------------------------------------------------
// Text

// Canvas node ids are never cut, so they stay unique in every picture.
const _: () = assert!(crate::model::MAX_ID_BYTES < MAX_TEXT_BYTES);

/// `text` cut to [`MAX_TEXT_BYTES`] at a character boundary, with `…` at the
/// end when cut.
pub(crate) fn clip(text: &str) -> Cow<'_, str> {
    if text.len() <= MAX_TEXT_BYTES {
        return Cow::Borrowed(text);
    }
    let mut end = MAX_TEXT_BYTES - '…'.len_utf8();
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}…", &text[..end]))
}

/// [`clip`] for text the caller owns: no copy when it is short enough.
pub(crate) fn clip_owned(text: String) -> String {
    match clip(&text) {
        Cow::Borrowed(_) => text,
        Cow::Owned(cut) => cut,
    }
}

/// Text on one line: control characters (newlines, tabs, NUL) become spaces,
/// and non-characters that XML refuses are dropped.
pub(crate) fn one_line(s: &str) -> Cow<'_, str> {
    if s.chars().all(|c| !c.is_control() && !is_noncharacter(c)) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.chars()
            .filter(|c| !is_noncharacter(*c))
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect(),
    )
}

fn is_noncharacter(c: char) -> bool {
    matches!(c as u32, 0xFFFE | 0xFFFF | 0xFDD0..=0xFDEF)
}

/// Approximate advance of one character in ems, for a sans-serif UI font.
fn char_em(c: char) -> f64 {
    match c {
        'i' | 'l' | 'j' | '.' | ',' | '\'' | '!' | '|' | ':' | ';' | 'I' | ' ' => 0.28,
        'f' | 't' | 'r' | '(' | ')' | '[' | ']' | '-' | '/' | '"' => 0.36,
        'm' | 'w' | 'M' | 'W' | '@' | '%' => 0.86,
        'A'..='Z' | '#' | '&' | '_' | '×' | '→' => 0.66,
        c if c.is_ascii() => 0.55,
        // Accented Latin and similar: about as wide as ASCII letters.
        c if (c as u32) < 0x2E80 => 0.6,
        // CJK, emoji and other wide characters.
        _ => 1.05,
    }
}

/// Approximate width of `text` at `size` pixels.
pub(crate) fn text_width(text: &str, size: f64) -> f64 {
    text.chars().map(char_em).sum::<f64>() * size
}

/// `text` cut to fit `max` pixels at `size`, with an ellipsis when cut.
pub(crate) fn fit(text: &str, max: f64, size: f64) -> Cow<'_, str> {
    if text_width(text, size) <= max {
        return Cow::Borrowed(text);
    }
    let budget = max - char_em('…') * size;
    let mut width = 0.0;
    let mut end = 0;
    for (i, c) in text.char_indices() {
        width += char_em(c) * size;
        if width > budget {
            break;
        }
        end = i + c.len_utf8();
    }
    Cow::Owned(format!("{}…", text[..end].trim_end()))
}

/// Escapes text for XML content and attribute values (both quote kinds).
pub(crate) fn xml_escape(text: &str, out: &mut String) {
    for c in one_line(text).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// A coordinate written with at most one decimal and never as `-0`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Num(pub f64);

impl std::fmt::Display for Num {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tenths = (self.0 * 10.0).round();
        if tenths == 0.0 || !tenths.is_finite() {
            f.write_str("0")
        } else if tenths % 10.0 == 0.0 {
            write!(f, "{}", tenths / 10.0)
        } else {
            write!(f, "{:.1}", tenths / 10.0)
        }
    }
}
