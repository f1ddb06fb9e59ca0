//! Where each node goes: the canvas's own positions when it has them, or a
//! layered left-to-right layout.
//!
//! Positions are finite but may be as large as `f64::MAX`. A coordinate
//! beyond [`MAX_COORDINATE`] is drawn at that distance on its side, so the
//! picture keeps a finite, non-empty extent and every node in it; nodes
//! within the bound keep their exact positions.
//!
//! The layered layout (solved in `layered.rs`) follows Sugiyama's scheme: a
//! layer per node from the longest path out of the sources (sources then
//! move up next to their first consumer), dummy vertices on every edge that
//! spans more than one layer (so long edges get a lane of their own instead
//! of cutting through boxes; edges from one port share one trunk),
//! barycenter sweeps plus adjacent swaps to order each layer, and vertical
//! placement by repeated weighted isotonic
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

use std::collections::HashMap;

use super::layered::{PEdge, Pin, Problem, Solved, solve};
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
    pub(super) fn from(p: (f64, f64)) -> Self {
        Route {
            points: vec![p],
            straight: Vec::new(),
        }
    }

    pub(super) fn to(&mut self, p: (f64, f64), straight: bool) {
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
