//! Where each node goes: the canvas's own positions when it has them, or a
//! layered left-to-right layout.
//!
//! Positions are finite but may be as large as `f64::MAX`. A coordinate
//! beyond [`MAX_COORDINATE`] is drawn at that distance on its side, so the
//! picture keeps a finite, non-empty extent and every node in it; nodes
//! within the bound keep their exact positions.
//!
//! The layered layout follows Sugiyama's scheme: a layer per node from the
//! longest path out of the sources (sources then move up next to their first
//! consumer), dummy vertices on every edge that spans more than one layer (so
//! long edges get a lane of their own instead of cutting through boxes; edges
//! from one port share one trunk), barycenter sweeps plus adjacent swaps to
//! order each layer, and vertical placement by repeated weighted isotonic
//! regression (each node pulled towards the ports it connects to, never
//! overlapping its neighbours). Every step is linear or `n log n` in nodes
//! plus edge segments.
//!
//! Groups make it compound: each group is laid out on its own, with a
//! terminal on its left border for every outside port that feeds it and one
//! on its right border for every member port that feeds outside; the canvas
//! is then laid out with each group as one box (groups keep the order they
//! were made in), and edges are stitched together from the pieces. So a
//! group's frame holds its members and nothing else.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use super::{Kind, MAX_COORDINATE, NodeView, Scene, text_width};
use crate::Canvas;
use crate::model::Position;
use crate::ops::Op;

/// Height of a node's header (heading and type name).
pub(crate) const HEADER: f64 = 38.0;
/// Height of one row of ports.
pub(crate) const ROW: f64 = 18.0;
/// Height of one line of property values.
pub(crate) const PROP_ROW: f64 = 15.0;
/// Vertical padding around the port rows.
pub(crate) const PAD: f64 = 8.0;
/// Property lines shown per node unless told otherwise.
pub(crate) const DEFAULT_PROPERTIES: usize = 3;
const MIN_WIDTH: f64 = 200.0;
const MAX_WIDTH: f64 = 264.0;
/// Space between a group frame and its members, above (room for the label) and below.
pub(crate) const GROUP_PAD_TOP: f64 = 34.0;
pub(crate) const GROUP_PAD_SIDE: f64 = 16.0;
pub(crate) const GROUP_PAD_BOTTOM: f64 = 16.0;

/// How nodes are placed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum LayoutMode {
    /// The canvas's positions when they mean something (not every node on the
    /// same point, as nodes added without a position are), else layered.
    #[default]
    Auto,
    /// The canvas's positions (top-left corners), as given; a coordinate
    /// beyond [`MAX_COORDINATE`] is held at that distance.
    Positions,
    /// A layered left-to-right layout, whatever the canvas's positions.
    Layered,
}

/// One node's box: top-left corner and size, in canvas units.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct NodeBox {
    pub id: String,
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
}

/// A node box for every node of a canvas, in canvas order.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Layout {
    pub nodes: Vec<NodeBox>,
    /// Whether the boxes come from the layered layout (not the canvas's positions).
    pub layered: bool,
}

impl Layout {
    /// The box of one node.
    pub fn node(&self, id: &str) -> Option<&NodeBox> {
        self.nodes.iter().find(|b| b.id == id)
    }

    /// `move_node` ops that give the canvas these positions: an editor's
    /// "tidy up" button, undoable like any other apply.
    ///
    /// ```
    /// use reelgraph::{Canvas, Catalog, Op, render};
    /// use serde_json::json;
    ///
    /// let mut canvas = Canvas::new(Catalog::builtin(), "c", "C");
    /// canvas.apply(vec![
    ///     Op::add_node("act", "act", json!({})),
    ///     Op::add_node("sc", "scene", json!({})),
    ///     Op::connect(("act", "act"), ("sc", "act")),
    /// ]).unwrap();
    /// let layout = render::layout(&canvas, render::LayoutMode::Auto);
    /// assert!(layout.layered);
    /// canvas.apply(layout.move_ops()).unwrap();
    /// assert!(canvas.node("sc").unwrap().position.x > canvas.node("act").unwrap().position.x);
    /// ```
    pub fn move_ops(&self) -> Vec<Op> {
        self.nodes
            .iter()
            .map(|b| Op::MoveNode {
                id: b.id.clone(),
                position: Position::new(b.x, b.y),
            })
            .collect()
    }
}

/// The boxes the SVG picture would draw, for editors and other renderers.
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
/// let layout = render::layout(&canvas, render::LayoutMode::Auto);
/// let (hero, s1) = (layout.node("hero").unwrap(), layout.node("s1").unwrap());
/// assert!(hero.x + hero.width < s1.x);
/// ```
pub fn layout(canvas: &Canvas, mode: LayoutMode) -> Layout {
    let scene = Scene::build(canvas, DEFAULT_PROPERTIES);
    let placed = place(&scene, mode);
    Layout {
        nodes: scene
            .nodes
            .iter()
            .zip(&placed.boxes)
            .filter(|(n, _)| n.kind != Kind::Missing)
            .map(|(n, r)| NodeBox {
                id: n.id.clone(),
                x: r.x,
                y: r.y,
                width: r.w,
                height: r.h,
            })
            .collect(),
        layered: placed.layered,
    }
}

/// A rectangle, top-left corner and size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Rect {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

/// The path of an edge: points from its output port to its input port, each
/// step straight (along a lane) or a horizontal-tangent cubic curve.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Route {
    pub points: Vec<(f64, f64)>,
    /// `straight[i]` is the kind of the step from `points[i]` to `points[i + 1]`.
    pub straight: Vec<bool>,
}

impl Route {
    fn from(p: (f64, f64)) -> Self {
        Route {
            points: vec![p],
            straight: Vec::new(),
        }
    }

    fn to(&mut self, p: (f64, f64), straight: bool) {
        if let Some(&last) = self.points.last() {
            if (last.0 - p.0).abs() < 0.01 && (last.1 - p.1).abs() < 0.01 {
                return;
            }
            self.straight.push(straight);
        }
        self.points.push(p);
    }

    fn translate(&mut self, dx: f64, dy: f64) {
        for p in &mut self.points {
            p.0 += dx;
            p.1 += dy;
        }
    }

    /// Continues with `next`, joining the two with a straight step when they
    /// meet at the same height (a group border) and a curve otherwise.
    fn append(&mut self, next: &Route) {
        let Some(&first) = next.points.first() else {
            return;
        };
        if let Some(&last) = self.points.last() {
            let level = (first.1 - last.1).abs() < 0.01 && first.0 >= last.0;
            self.to(first, level);
        } else {
            self.points.push(first);
        }
        self.points.extend_from_slice(&next.points[1..]);
        self.straight.extend_from_slice(&next.straight);
    }
}

/// Boxes for every scene node, a route per scene edge (empty: draw a direct
/// curve between the ports) and, per group, its frame when the layout made one.
#[derive(Debug, Clone)]
pub(crate) struct Placement {
    pub boxes: Vec<Rect>,
    pub routes: Vec<Route>,
    pub frames: Vec<Option<Rect>>,
    pub layered: bool,
}

/// The size of a node's box, from its heading, ports and property lines.
pub(crate) fn node_size(n: &NodeView) -> (f64, f64) {
    let rows = n.rows() as f64;
    let mut height = HEADER + PAD * 0.5 + rows * ROW;
    if !n.properties.is_empty() {
        height += 6.0 + n.properties.len() as f64 * PROP_ROW;
    }
    height += PAD;
    let heading = text_width(n.heading(), 13.0) * 1.08 + 28.0;
    let ports = (0..n.rows())
        .map(|i| {
            let w = |p: Option<&super::PortView>| p.map_or(0.0, |p| text_width(&p.name, 11.0));
            w(n.inputs.get(i)) + w(n.outputs.get(i)) + 52.0
        })
        .fold(0.0, f64::max);
    let width = heading.max(ports).clamp(MIN_WIDTH, MAX_WIDTH);
    (width.round(), height)
}

/// The vertical centre of port row `i`, from the top of its node.
pub(crate) fn port_y(i: usize) -> f64 {
    HEADER + PAD * 0.5 + ROW * (i as f64 + 0.5)
}

pub(crate) fn place(scene: &Scene, mode: LayoutMode) -> Placement {
    let sizes: Vec<(f64, f64)> = scene.nodes.iter().map(node_size).collect();
    let layered = match mode {
        LayoutMode::Layered => true,
        LayoutMode::Positions => false,
        LayoutMode::Auto => !has_positions(scene),
    };
    if layered {
        compound(scene, &sizes)
    } else {
        given(scene, &sizes)
    }
}

/// A position as drawn: each coordinate held within [`MAX_COORDINATE`].
fn drawn_at(p: Position) -> (f64, f64) {
    // NaN is not JSON, but a canvas built in code could hold it.
    let hold = |v: f64| {
        if v.is_nan() {
            0.0
        } else {
            v.clamp(-MAX_COORDINATE, MAX_COORDINATE)
        }
    };
    (hold(p.x), hold(p.y))
}

/// Whether the canvas's positions mean something: not every node drawn on one point.
fn has_positions(scene: &Scene) -> bool {
    let mut real = scene.nodes.iter().filter(|n| n.kind != Kind::Missing);
    let Some(first) = real.next() else {
        return false;
    };
    let first = drawn_at(first.position);
    let mut any_other = false;
    for n in real {
        any_other = true;
        if drawn_at(n.position) != first {
            return true;
        }
    }
    // A single node has nowhere better to be than where it is.
    !any_other
}

/// The canvas's own positions; placeholders for missing nodes sit next to a
/// node they connect to.
fn given(scene: &Scene, sizes: &[(f64, f64)]) -> Placement {
    let mut boxes: Vec<Rect> = scene
        .nodes
        .iter()
        .zip(sizes)
        .map(|(n, &(w, h))| {
            let (x, y) = drawn_at(n.position);
            Rect { x, y, w, h }
        })
        .collect();
    let bottom = scene
        .nodes
        .iter()
        .zip(&boxes)
        .filter(|(n, _)| n.kind != Kind::Missing)
        .map(|(_, r)| r.y + r.h)
        .fold(0.0, f64::max);
    let mut stacked = 0.0;
    for (i, n) in scene.nodes.iter().enumerate() {
        if n.kind != Kind::Missing {
            continue;
        }
        let anchor = scene.edges.iter().find_map(|e| {
            let (other, right_of) = if e.source == i {
                (e.target, false)
            } else if e.target == i {
                (e.source, true)
            } else {
                return None;
            };
            (scene.nodes[other].kind != Kind::Missing).then_some((other, right_of))
        });
        let (w, h) = sizes[i];
        let (x, y) = match anchor {
            Some((other, true)) => (boxes[other].x + boxes[other].w + 80.0, boxes[other].y),
            Some((other, false)) => (boxes[other].x - w - 80.0, boxes[other].y),
            None => {
                stacked += h + 24.0;
                (0.0, bottom + 36.0 + stacked - h)
            }
        };
        boxes[i] = Rect { x, y, w, h };
    }
    Placement {
        boxes,
        routes: vec![Route::default(); scene.edges.len()],
        frames: vec![None; scene.groups.len()],
        layered: false,
    }
}

// ---------------------------------------------------------------------------
// Compound layout: groups first, then the canvas with each group as one box.

/// Where a group's laid-out content sits inside its frame.
const INSET: (f64, f64) = (GROUP_PAD_SIDE, GROUP_PAD_TOP);

/// One group laid out on its own, with an entry terminal per outside output
/// port that feeds it and an exit terminal per member port that feeds outside.
#[derive(Debug)]
struct GroupLayout {
    members: Vec<usize>,
    solved: Solved,
    size: (f64, f64),
}

/// What a scene edge is made of.
#[derive(Debug, Clone, Copy, Default)]
struct Parts {
    /// Edge inside the source's group (to an exit, or to the target when both are inside).
    inner_source: Option<(usize, usize)>,
    top: Option<usize>,
    /// Edge inside the target's group, from an entry.
    inner_target: Option<(usize, usize)>,
    /// The exit and entry terminals used, as vertices of their groups' problems.
    exit: usize,
    entry: usize,
}

fn compound(scene: &Scene, sizes: &[(f64, f64)]) -> Placement {
    let group_of = scene.group_of();
    let n = scene.nodes.len();
    // Index of each node inside its group's problem.
    let mut local = vec![usize::MAX; n];
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); scene.groups.len()];
    for (v, g) in group_of.iter().enumerate() {
        if let Some(g) = *g {
            local[v] = members[g].len();
            members[g].push(v);
        }
    }

    // Group problems: members, then entry and exit terminals.
    let mut problems: Vec<Problem> = members
        .iter()
        .map(|m| Problem {
            size: m.iter().map(|&v| sizes[v]).collect(),
            pin: vec![Pin::Free; m.len()],
            fixed: vec![false; m.len()],
            edges: Vec::new(),
        })
        .collect();
    // Terminals by (group, outside or member node, output port): the vertex,
    // and for an exit the edge that leads to it.
    let mut entries: HashMap<(usize, usize, usize), usize> = HashMap::new();
    let mut exits: HashMap<(usize, usize, usize), (usize, usize)> = HashMap::new();
    let mut parts = vec![Parts::default(); scene.edges.len()];
    for (e, edge) in scene.edges.iter().enumerate() {
        let (s, t) = (edge.source, edge.target);
        let (gs, gt) = (group_of[s], group_of[t]);
        if let (Some(a), Some(b)) = (gs, gt)
            && a == b
        {
            let p = &mut problems[a];
            parts[e].inner_source = Some((a, p.edges.len()));
            p.edges.push(PEdge {
                s: local[s],
                s_port: edge.source_port,
                s_off: port_y(edge.source_port),
                t: local[t],
                t_off: port_y(edge.target_port),
            });
            continue;
        }
        if let Some(g) = gs {
            let p = &mut problems[g];
            let &mut (exit, inner) = exits.entry((g, s, edge.source_port)).or_insert_with(|| {
                let x = p.size.len();
                p.size.push((0.0, 0.0));
                p.pin.push(Pin::Last);
                p.fixed.push(false);
                p.edges.push(PEdge {
                    s: local[s],
                    s_port: edge.source_port,
                    s_off: port_y(edge.source_port),
                    t: x,
                    t_off: 0.0,
                });
                (x, p.edges.len() - 1)
            });
            parts[e].inner_source = Some((g, inner));
            parts[e].exit = exit;
        }
        if let Some(g) = gt {
            let p = &mut problems[g];
            let entry = *entries.entry((g, s, edge.source_port)).or_insert_with(|| {
                let x = p.size.len();
                p.size.push((0.0, 0.0));
                p.pin.push(Pin::First);
                p.fixed.push(false);
                x
            });
            parts[e].entry = entry;
            parts[e].inner_target = Some((g, p.edges.len()));
            p.edges.push(PEdge {
                s: entry,
                s_port: 0,
                s_off: 0.0,
                t: local[t],
                t_off: port_y(edge.target_port),
            });
        }
    }
    let groups: Vec<Option<GroupLayout>> = problems
        .iter()
        .zip(members)
        .map(|(p, m)| {
            (!m.is_empty()).then(|| {
                let solved = solve(p);
                let size = (
                    solved.width + 2.0 * GROUP_PAD_SIDE,
                    solved.height + GROUP_PAD_TOP + GROUP_PAD_BOTTOM,
                );
                GroupLayout {
                    members: m,
                    solved,
                    size,
                }
            })
        })
        .collect();

    // The top level: ungrouped nodes and group boxes, in canvas order of appearance.
    let mut item_of = vec![usize::MAX; n];
    let mut item_of_group = vec![usize::MAX; scene.groups.len()];
    // Groups (acts, sequences) keep the order they were made in.
    let mut top = Problem {
        size: Vec::new(),
        pin: Vec::new(),
        fixed: Vec::new(),
        edges: Vec::new(),
    };
    for v in 0..n {
        let item = match group_of[v] {
            Some(g) if item_of_group[g] != usize::MAX => item_of_group[g],
            Some(g) => {
                item_of_group[g] = top.size.len();
                top.size
                    .push(groups[g].as_ref().map_or((0.0, 0.0), |l| l.size));
                top.pin.push(Pin::Free);
                top.fixed.push(true);
                item_of_group[g]
            }
            None => {
                top.size.push(sizes[v]);
                top.pin.push(Pin::Free);
                top.fixed.push(false);
                top.size.len() - 1
            }
        };
        item_of[v] = item;
    }
    let terminal_y = |g: usize, x: usize| -> f64 {
        groups[g]
            .as_ref()
            .map_or(0.0, |l| INSET.1 + l.solved.boxes[x].y)
    };
    let mut top_keys: HashMap<(usize, usize, usize, u64), usize> = HashMap::new();
    for (e, edge) in scene.edges.iter().enumerate() {
        let (s, t) = (edge.source, edge.target);
        let (gs, gt) = (group_of[s], group_of[t]);
        if gs.is_some() && gs == gt {
            continue;
        }
        let (s_port, s_off) = match gs {
            Some(g) => (parts[e].exit, terminal_y(g, parts[e].exit)),
            None => (edge.source_port, port_y(edge.source_port)),
        };
        let t_off = match gt {
            Some(g) => terminal_y(g, parts[e].entry),
            None => port_y(edge.target_port),
        };
        // Edges that meet at the same two points are drawn once at the top.
        let key = (item_of[s], s_port, item_of[t], t_off.to_bits());
        let index = *top_keys.entry(key).or_insert_with(|| {
            top.edges.push(PEdge {
                s: item_of[s],
                s_port,
                s_off,
                t: item_of[t],
                t_off,
            });
            top.edges.len() - 1
        });
        parts[e].top = Some(index);
    }
    let solved = solve(&top);

    // Put the pieces together.
    let mut boxes = vec![
        Rect {
            x: 0.0,
            y: 0.0,
            w: 0.0,
            h: 0.0
        };
        n
    ];
    let mut frames = vec![None; scene.groups.len()];
    let mut origin = vec![(0.0, 0.0); scene.groups.len()];
    for (g, layout) in groups.iter().enumerate() {
        let Some(layout) = layout else { continue };
        let r = solved.boxes[item_of_group[g]];
        frames[g] = Some(r);
        origin[g] = (r.x + INSET.0, r.y + INSET.1);
        for (i, &v) in layout.members.iter().enumerate() {
            let b = layout.solved.boxes[i];
            boxes[v] = Rect {
                x: b.x + origin[g].0,
                y: b.y + origin[g].1,
                ..b
            };
        }
    }
    for v in 0..n {
        if group_of[v].is_none() {
            boxes[v] = solved.boxes[item_of[v]];
        }
    }
    let inner = |(g, i): (usize, usize)| -> Route {
        let mut r = groups[g]
            .as_ref()
            .map(|l| l.solved.routes[i].clone())
            .unwrap_or_default();
        r.translate(origin[g].0, origin[g].1);
        r
    };
    let routes = parts
        .iter()
        .map(|p| {
            let mut route = Route::default();
            if let Some(part) = p.inner_source {
                route.append(&inner(part));
            }
            if let Some(t) = p.top {
                route.append(&solved.routes[t]);
            }
            if let Some(part) = p.inner_target {
                route.append(&inner(part));
            }
            route
        })
        .collect();
    Placement {
        boxes,
        routes,
        frames,
        layered: true,
    }
}

// ---------------------------------------------------------------------------
// One layered layout problem.

/// Sweeps of the ordering and of the vertical placement.
const ORDER_SWEEPS: usize = 12;
const PLACE_SWEEPS: usize = 8;
const TRANSPOSE_PASSES: usize = 6;
/// Vertex pairs with more edge pairs than this are not compared by transpose.
const PAIR_LIMIT: usize = 4096;

/// Terminals sit in the first or last layer of a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pin {
    Free,
    First,
    Last,
}

/// A graph to lay out: vertex sizes, pins, and edges between port offsets.
/// Vertices marked `fixed` keep their relative (input) order within a layer.
#[derive(Debug)]
struct Problem {
    size: Vec<(f64, f64)>,
    pin: Vec<Pin>,
    fixed: Vec<bool>,
    edges: Vec<PEdge>,
}

/// An edge from `s` (output port `s_port`, `s_off` below its top) to `t`.
/// Edges from the same port share their dummy vertices.
#[derive(Debug, Clone, Copy)]
struct PEdge {
    s: usize,
    s_port: usize,
    s_off: f64,
    t: usize,
    t_off: f64,
}

/// A solved problem: boxes from (0, 0) and a route per edge.
#[derive(Debug)]
struct Solved {
    boxes: Vec<Rect>,
    routes: Vec<Route>,
    width: f64,
    height: f64,
}

/// One edge segment between adjacent layers, with the port offsets (from the
/// top of each vertex) at its two ends.
#[derive(Debug, Clone, Copy)]
struct Seg {
    left: usize,
    right: usize,
    left_off: f64,
    right_off: f64,
}

/// The working state of one layered layout. Vertices `0..n` are the
/// problem's; the rest are dummies on edges that span several layers.
#[derive(Debug)]
struct Layered {
    n: usize,
    fixed: Vec<bool>,
    layer: Vec<usize>,
    height: Vec<f64>,
    width: Vec<f64>,
    segs: Vec<Seg>,
    /// Segment indices per vertex, arriving from the left and leaving to the right.
    lefts: Vec<Vec<usize>>,
    rights: Vec<Vec<usize>>,
    /// Dummy vertices of each edge, left to right; None for a back edge.
    chains: Vec<Option<Vec<usize>>>,
    layers: Vec<Vec<usize>>,
    pos: Vec<usize>,
    y: Vec<f64>,
}

fn solve(p: &Problem) -> Solved {
    let n = p.size.len();
    if n == 0 {
        return Solved {
            boxes: Vec::new(),
            routes: Vec::new(),
            width: 0.0,
            height: 0.0,
        };
    }
    let mut l = Layered::new(p);
    l.order();
    l.place_vertically();
    l.finish(p)
}

impl Layered {
    fn new(p: &Problem) -> Self {
        let n = p.size.len();
        let pairs: Vec<(usize, usize)> = p.edges.iter().map(|e| (e.s, e.t)).collect();
        let rank = ranks(n, &pairs);
        let layer = layers(n, &pairs, &rank, &p.pin);
        let mut this = Layered {
            n,
            fixed: p.fixed.clone(),
            height: p.size.iter().map(|s| s.1).collect(),
            width: p.size.iter().map(|s| s.0).collect(),
            layer,
            segs: Vec::with_capacity(p.edges.len()),
            lefts: vec![Vec::new(); n],
            rights: vec![Vec::new(); n],
            chains: vec![None; p.edges.len()],
            layers: Vec::new(),
            pos: Vec::new(),
            y: Vec::new(),
        };
        // Edges from one port share a trunk of dummies out to their farthest
        // target; each edge leaves the trunk in the layer before its target.
        let mut by_port: Vec<(usize, usize, usize)> = p
            .edges
            .iter()
            .enumerate()
            .filter(|(_, e)| this.layer[e.s] < this.layer[e.t])
            .map(|(i, e)| (e.s, e.s_port, i))
            .collect();
        by_port.sort_unstable();
        for run in by_port.chunk_by(|a, b| (a.0, a.1) == (b.0, b.1)) {
            let first = p.edges[run[0].2];
            let (s, s_off) = (first.s, first.s_off);
            let far = run
                .iter()
                .map(|&(_, _, i)| this.layer[p.edges[i].t])
                .max()
                .unwrap_or(0);
            let mut trunk = Vec::new();
            let mut prev = s;
            let mut prev_off = s_off;
            for l in this.layer[s] + 1..far {
                let d = this.add_dummy(l);
                this.add_seg(prev, d, prev_off, 0.0);
                trunk.push(d);
                prev = d;
                prev_off = 0.0;
            }
            for &(_, _, i) in run {
                let e = p.edges[i];
                let hops = this.layer[e.t] - this.layer[s] - 1;
                let chain = trunk[..hops].to_vec();
                let (from, from_off) = chain.last().map_or((s, s_off), |&d| (d, 0.0));
                this.add_seg(from, e.t, from_off, e.t_off);
                this.chains[i] = Some(chain);
            }
        }
        let depth = this.layer.iter().copied().max().map_or(0, |m| m + 1);
        this.layers = vec![Vec::new(); depth];
        // Start from topological order (input order among peers).
        let mut by_rank: Vec<usize> = (0..n).collect();
        by_rank.sort_by_key(|&v| rank[v]);
        for v in by_rank.into_iter().chain(n..this.layer.len()) {
            this.layers[this.layer[v]].push(v);
        }
        this.pos = vec![0; this.layer.len()];
        this.renumber();
        this
    }

    fn add_dummy(&mut self, layer: usize) -> usize {
        self.layer.push(layer);
        self.height.push(0.0);
        self.width.push(0.0);
        self.lefts.push(Vec::new());
        self.rights.push(Vec::new());
        self.layer.len() - 1
    }

    fn add_seg(&mut self, left: usize, right: usize, left_off: f64, right_off: f64) {
        let s = self.segs.len();
        self.segs.push(Seg {
            left,
            right,
            left_off,
            right_off,
        });
        self.rights[left].push(s);
        self.lefts[right].push(s);
    }

    fn renumber(&mut self) {
        for layer in &self.layers {
            for (i, &v) in layer.iter().enumerate() {
                self.pos[v] = i;
            }
        }
    }

    fn is_fixed(&self, v: usize) -> bool {
        v < self.n && self.fixed[v]
    }

    /// Where along its vertex a port sits, as a fraction of the vertex's height.
    fn frac(&self, v: usize, off: f64) -> f64 {
        if self.height[v] > 0.0 {
            (off / self.height[v]).clamp(0.0, 0.999)
        } else {
            0.5
        }
    }

    // ---- ordering ---------------------------------------------------------

    fn order(&mut self) {
        let mut best = self.crossings();
        let mut best_layers = self.layers.clone();
        for sweep in 0..ORDER_SWEEPS {
            if best == 0 {
                break;
            }
            let down = sweep % 2 == 0;
            let range: Vec<usize> = if down {
                (1..self.layers.len()).collect()
            } else {
                (0..self.layers.len().saturating_sub(1)).rev().collect()
            };
            for l in range {
                self.reorder(l, down);
            }
            let c = self.crossings();
            if c < best {
                best = c;
                best_layers.clone_from(&self.layers);
            }
        }
        self.layers = best_layers;
        self.renumber();
        self.transpose();
    }

    /// Swaps neighbours in a layer while that removes crossings, or keeps
    /// them and puts the two back in input order (so that, say, Act 1 stays
    /// above Act 2 when nothing is gained the other way round).
    fn transpose(&mut self) {
        for _ in 0..TRANSPOSE_PASSES {
            let mut changed = false;
            for l in 0..self.layers.len() {
                for i in 1..self.layers[l].len() {
                    let (u, v) = (self.layers[l][i - 1], self.layers[l][i]);
                    let (kept, swapped) = (self.pair_crossings(u, v), self.pair_crossings(v, u));
                    if self.is_fixed(u) && self.is_fixed(v) {
                        continue;
                    }
                    let in_order = v < self.n && u < self.n && v < u;
                    if swapped < kept || (swapped == kept && in_order) {
                        self.layers[l].swap(i - 1, i);
                        self.pos[u] = i;
                        self.pos[v] = i - 1;
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
    }

    /// Crossings between the edges of `u` and of `v` when `u` sits above `v`.
    fn pair_crossings(&self, u: usize, v: usize) -> u64 {
        let key = |s: usize, left: bool| {
            let seg = self.segs[s];
            let (other, off) = if left {
                (seg.left, seg.left_off)
            } else {
                (seg.right, seg.right_off)
            };
            self.pos[other] as f64 + self.frac(other, off)
        };
        let mut count = 0;
        for (list_u, list_v, left) in [
            (&self.lefts[u], &self.lefts[v], true),
            (&self.rights[u], &self.rights[v], false),
        ] {
            if list_u.len() * list_v.len() > PAIR_LIMIT {
                continue;
            }
            for &a in list_u {
                let ka = key(a, left);
                count += list_v.iter().filter(|&&b| key(b, left) < ka).count() as u64;
            }
        }
        count
    }

    /// Sorts one layer by the barycenters of its neighbours in the layer
    /// before (`down`) or after it; a vertex without such neighbours keeps its place.
    fn reorder(&mut self, l: usize, down: bool) {
        let mut keys: Vec<(f64, usize, usize)> = self.layers[l]
            .iter()
            .map(|&v| {
                let list = if down {
                    &self.lefts[v]
                } else {
                    &self.rights[v]
                };
                let bary = if list.is_empty() {
                    self.pos[v] as f64
                } else {
                    list.iter()
                        .map(|&s| {
                            let seg = self.segs[s];
                            let (other, off) = if down {
                                (seg.left, seg.left_off)
                            } else {
                                (seg.right, seg.right_off)
                            };
                            self.pos[other] as f64 + self.frac(other, off)
                        })
                        .sum::<f64>()
                        / list.len() as f64
                };
                (bary, self.pos[v], v)
            })
            .collect();
        keys.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let mut order: Vec<usize> = keys.iter().map(|k| k.2).collect();
        // Fixed vertices take the slots they landed on, in input order.
        let mut fixed: Vec<usize> = order
            .iter()
            .copied()
            .filter(|&v| self.is_fixed(v))
            .collect();
        if fixed.len() > 1 {
            fixed.sort_unstable();
            let mut next = fixed.into_iter();
            for slot in order.iter_mut() {
                if self.is_fixed(*slot) {
                    *slot = next.next().unwrap_or(*slot);
                }
            }
        }
        for (i, v) in order.into_iter().enumerate() {
            self.layers[l][i] = v;
            self.pos[v] = i;
        }
    }

    /// Edge crossings between all adjacent layers (port positions included).
    fn crossings(&mut self) -> u64 {
        self.renumber();
        let mut by_layer: Vec<Vec<(f64, f64)>> = vec![Vec::new(); self.layers.len()];
        for seg in &self.segs {
            by_layer[self.layer[seg.left]].push((
                self.pos[seg.left] as f64 + self.frac(seg.left, seg.left_off),
                self.pos[seg.right] as f64 + self.frac(seg.right, seg.right_off),
            ));
        }
        let mut total = 0;
        let mut scratch = Vec::new();
        for mut pairs in by_layer {
            pairs.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
            let mut rights: Vec<f64> = pairs.into_iter().map(|p| p.1).collect();
            scratch.clear();
            scratch.resize(rights.len(), 0.0);
            total += inversions(&mut rights, &mut scratch);
        }
        total
    }

    // ---- vertical placement ----------------------------------------------

    /// Space to leave below vertex `a` when `b` follows it in a layer.
    fn gap(&self, a: usize, b: usize) -> f64 {
        match (self.height[a] > 0.0, self.height[b] > 0.0) {
            (true, true) => 28.0,
            (false, false) => 8.0,
            _ => 16.0,
        }
    }

    fn place_vertically(&mut self) {
        self.y = vec![0.0; self.layer.len()];
        for l in 0..self.layers.len() {
            let layer = &self.layers[l];
            let mut y = 0.0;
            for (i, &v) in layer.iter().enumerate() {
                self.y[v] = y;
                y += self.height[v];
                if let Some(&next) = layer.get(i + 1) {
                    y += self.gap(v, next);
                }
            }
            for &v in layer {
                self.y[v] -= y / 2.0;
            }
        }
        let last = self.layers.len().saturating_sub(1);
        for _ in 0..PLACE_SWEEPS {
            for l in 1..self.layers.len() {
                self.align(l, Side::Left);
            }
            for l in (0..last).rev() {
                self.align(l, Side::Right);
            }
        }
        for _ in 0..2 {
            for l in 0..self.layers.len() {
                self.align(l, Side::Both);
            }
        }
    }

    /// Moves the vertices of one layer as close as they can get to the ports
    /// they connect to, in the least-squares sense, keeping their order and gaps.
    fn align(&mut self, l: usize, side: Side) {
        let layer = &self.layers[l];
        let mut targets = Vec::with_capacity(layer.len());
        let mut weights = Vec::with_capacity(layer.len());
        let mut offsets = Vec::with_capacity(layer.len());
        let mut offset = 0.0;
        for (i, &v) in layer.iter().enumerate() {
            let mut sum = 0.0;
            let mut count = 0usize;
            if side != Side::Right {
                for &s in &self.lefts[v] {
                    let seg = self.segs[s];
                    sum += self.y[seg.left] + seg.left_off - seg.right_off;
                    count += 1;
                }
            }
            if side != Side::Left {
                for &s in &self.rights[v] {
                    let seg = self.segs[s];
                    sum += self.y[seg.right] + seg.right_off - seg.left_off;
                    count += 1;
                }
            }
            let (desired, weight) = if count == 0 {
                (self.y[v], 0.25)
            } else {
                // Dummies weigh more so that long edges run straight.
                let w = if v >= self.n { 2.0 } else { 1.0 };
                (sum / count as f64, w * count as f64)
            };
            offsets.push(offset);
            targets.push(desired - offset);
            weights.push(weight);
            offset += self.height[v];
            if let Some(&next) = layer.get(i + 1) {
                offset += self.gap(v, next);
            }
        }
        let solved = isotonic(&targets, &weights);
        for (i, &v) in self.layers[l].iter().enumerate() {
            self.y[v] = solved[i] + offsets[i];
        }
    }

    // ---- columns and routes ------------------------------------------------

    fn finish(self, p: &Problem) -> Solved {
        let depth = self.layers.len();
        let mut col_w = vec![0.0f64; depth];
        for v in 0..self.n {
            col_w[self.layer[v]] = col_w[self.layer[v]].max(self.width[v]);
        }
        let mut segs_after = vec![0usize; depth];
        for seg in &self.segs {
            segs_after[self.layer[seg.left]] += 1;
        }
        let mut col_x = vec![0.0; depth];
        let mut x = 0.0;
        for l in 0..depth {
            col_x[l] = x;
            if l + 1 < depth {
                let room = (segs_after[l] as f64).sqrt();
                // Terminal columns (group borders) need less room than node columns.
                x += col_w[l]
                    + if col_w[l] > 0.0 && col_w[l + 1] > 0.0 {
                        (96.0 + room * 10.0).min(220.0)
                    } else {
                        (40.0 + room * 6.0).min(120.0)
                    };
            } else {
                x += col_w[l];
            }
        }
        let top = (0..self.n)
            .map(|v| self.y[v])
            .chain(self.y[self.n..].iter().copied())
            .fold(f64::INFINITY, f64::min);
        let top = if top.is_finite() { top } else { 0.0 };
        let bottom = (0..self.layer.len())
            .map(|v| self.y[v] + self.height[v])
            .fold(f64::NEG_INFINITY, f64::max);
        let boxes: Vec<Rect> = (0..self.n)
            .map(|v| Rect {
                x: col_x[self.layer[v]],
                y: self.y[v] - top,
                w: self.width[v],
                h: self.height[v],
            })
            .collect();
        let routes = p
            .edges
            .iter()
            .zip(&self.chains)
            .map(|(e, chain)| {
                let (s, t) = (boxes[e.s], boxes[e.t]);
                let start = (s.x + s.w, s.y + e.s_off);
                let end = (t.x, t.y + e.t_off);
                let mut route = Route::from(start);
                let Some(dummies) = chain else {
                    route.to(end, false);
                    return route;
                };
                // Leave at the column's edge, so curves never start inside it.
                let l = self.layer[e.s];
                route.to((col_x[l] + col_w[l], start.1), true);
                for &d in dummies {
                    let l = self.layer[d];
                    let y = self.y[d] - top;
                    route.to((col_x[l], y), false);
                    route.to((col_x[l] + col_w[l], y), true);
                }
                route.to(end, false);
                route
            })
            .collect();
        Solved {
            boxes,
            routes,
            width: x,
            height: if bottom.is_finite() {
                bottom - top
            } else {
                0.0
            },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Left,
    Right,
    Both,
}

/// A topological rank per vertex: Kahn's algorithm, lowest index first; a
/// cycle (possible only among edges the canvas keeps detached, or between
/// groups) is broken at its lowest vertex.
fn ranks(n: usize, edges: &[(usize, usize)]) -> Vec<usize> {
    let mut indeg = vec![0usize; n];
    let mut outs: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &(s, t) in edges {
        outs[s].push(t);
        indeg[t] += 1;
    }
    let mut rank = vec![usize::MAX; n];
    let mut ready: BinaryHeap<Reverse<usize>> =
        (0..n).filter(|&v| indeg[v] == 0).map(Reverse).collect();
    let mut next = 0;
    let mut scan = 0;
    while next < n {
        let v = match ready.pop() {
            Some(Reverse(v)) if rank[v] == usize::MAX => v,
            Some(_) => continue,
            None => {
                while rank[scan] != usize::MAX {
                    scan += 1;
                }
                scan
            }
        };
        rank[v] = next;
        next += 1;
        for &t in &outs[v] {
            indeg[t] = indeg[t].saturating_sub(1);
            if indeg[t] == 0 && rank[t] == usize::MAX {
                ready.push(Reverse(t));
            }
        }
    }
    rank
}

/// A layer per vertex: the longest path from a source along edges that run
/// forward in `rank`, then every source moved right to just before its
/// nearest consumer (inputs sit next to what uses them). Terminals pinned
/// first or last get a layer of their own at that end.
fn layers(n: usize, edges: &[(usize, usize)], rank: &[usize], pin: &[Pin]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&v| rank[v]);
    let mut ins: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut outs: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &(s, t) in edges {
        if rank[s] < rank[t] && pin[s] == Pin::Free && pin[t] == Pin::Free {
            ins[t].push(s);
            outs[s].push(t);
        }
    }
    let mut layer = vec![0usize; n];
    for &v in &order {
        layer[v] = ins[v].iter().map(|&u| layer[u] + 1).max().unwrap_or(0);
    }
    for &v in order.iter().rev() {
        if ins[v].is_empty()
            && let Some(nearest) = outs[v].iter().map(|&t| layer[t]).min()
        {
            layer[v] = nearest.saturating_sub(1).max(layer[v]);
        }
    }
    let shift = usize::from(pin.contains(&Pin::First));
    let last = (0..n)
        .filter(|&v| pin[v] == Pin::Free)
        .map(|v| layer[v] + shift)
        .max()
        .unwrap_or(0);
    for v in 0..n {
        layer[v] = match pin[v] {
            Pin::Free => layer[v] + shift,
            Pin::First => 0,
            Pin::Last => last + 1,
        };
    }
    layer
}

/// Counts inversions of `items` (pairs i < j with items[i] > items[j]) by
/// merge sort, sorting `items` as it goes.
fn inversions(items: &mut [f64], scratch: &mut [f64]) -> u64 {
    let len = items.len();
    if len < 2 {
        return 0;
    }
    let mid = len / 2;
    let mut count = {
        let (left, right) = items.split_at_mut(mid);
        let (sl, sr) = scratch.split_at_mut(mid);
        inversions(left, sl) + inversions(right, sr)
    };
    let (mut i, mut j, mut k) = (0, mid, 0);
    while i < mid && j < len {
        if items[j] < items[i] {
            scratch[k] = items[j];
            count += (mid - i) as u64;
            j += 1;
        } else {
            scratch[k] = items[i];
            i += 1;
        }
        k += 1;
    }
    scratch[k..k + mid - i].copy_from_slice(&items[i..mid]);
    k += mid - i;
    scratch[k..k + len - j].copy_from_slice(&items[j..len]);
    items.copy_from_slice(&scratch[..len]);
    count
}

/// Weighted isotonic regression (pool adjacent violators): the non-decreasing
/// sequence closest to `targets` in weighted least squares.
fn isotonic(targets: &[f64], weights: &[f64]) -> Vec<f64> {
    // Blocks of (weighted sum, total weight, length).
    let mut blocks: Vec<(f64, f64, usize)> = Vec::with_capacity(targets.len());
    for (&t, &w) in targets.iter().zip(weights) {
        blocks.push((t * w, w, 1));
        while blocks.len() > 1 {
            let (s2, w2, n2) = blocks[blocks.len() - 1];
            let (s1, w1, n1) = blocks[blocks.len() - 2];
            if s1 / w1 <= s2 / w2 {
                break;
            }
            blocks.pop();
            let last = blocks.len() - 1;
            blocks[last] = (s1 + s2, w1 + w2, n1 + n2);
        }
    }
    let mut out = Vec::with_capacity(targets.len());
    for (s, w, len) in blocks {
        out.extend(std::iter::repeat_n(s / w, len));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isotonic_pools_violators() {
        let out = isotonic(&[1.0, 3.0, 2.0, 4.0], &[1.0, 1.0, 1.0, 1.0]);
        assert_eq!(out, vec![1.0, 2.5, 2.5, 4.0]);
    }

    #[test]
    fn inversions_count_crossings() {
        let mut items = [3.0, 1.0, 2.0, 0.0];
        let mut scratch = [0.0; 4];
        assert_eq!(inversions(&mut items, &mut scratch), 5);
        assert_eq!(items, [0.0, 1.0, 2.0, 3.0]);
    }
}
