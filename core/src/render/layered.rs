//! One layered layout problem, solved by Sugiyama's scheme (see
//! [`layout`](super::layout) for the steps): vertices with sizes and pins,
//! edges between port offsets, in; a box per vertex and a route per edge, out.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::layout::{Rect, Route};

/// Sweeps of the ordering and of the vertical placement.
const ORDER_SWEEPS: usize = 12;
const PLACE_SWEEPS: usize = 8;
const TRANSPOSE_PASSES: usize = 6;
/// Vertex pairs with more edge pairs than this are not compared by transpose.
const PAIR_LIMIT: usize = 4096;

/// Terminals sit in the first or last layer of a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Pin {
    Free,
    First,
    Last,
}

/// A graph to lay out: vertex sizes, pins, and edges between port offsets.
/// Vertices marked `fixed` keep their relative (input) order within a layer.
#[derive(Debug)]
pub(super) struct Problem {
    pub(super) size: Vec<(f64, f64)>,
    pub(super) pin: Vec<Pin>,
    pub(super) fixed: Vec<bool>,
    pub(super) edges: Vec<PEdge>,
}

/// An edge from `s` (output port `s_port`, `s_off` below its top) to `t`.
/// Edges from the same port share their dummy vertices.
#[derive(Debug, Clone, Copy)]
pub(super) struct PEdge {
    pub(super) s: usize,
    pub(super) s_port: usize,
    pub(super) s_off: f64,
    pub(super) t: usize,
    pub(super) t_off: f64,
}

/// A solved problem: boxes from (0, 0) and a route per edge.
#[derive(Debug)]
pub(super) struct Solved {
    pub(super) boxes: Vec<Rect>,
    pub(super) routes: Vec<Route>,
    pub(super) width: f64,
    pub(super) height: f64,
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

pub(super) fn solve(p: &Problem) -> Solved {
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
