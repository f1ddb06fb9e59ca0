//! Connections and targets to measure, picked from a plan with the size of
//! the work they cause.

use std::fmt;

use reelgraph::{Canvas, Catalog, Op, PortRef};

use crate::BATCH;
use crate::dag::{Dag, Kind};

/// A connection to measure, with the size of the work a cycle check does for it.
#[derive(Debug, Clone)]
pub struct Probe {
    pub source: PortRef,
    pub target: PortRef,
    /// Topological positions between the ends (0 for a forward edge).
    pub window: usize,
    /// Nodes downstream of the target inside the window (what the forward
    /// search may visit before it meets the source).
    pub future_cone: usize,
    /// Nodes upstream of the source inside the window (searched only when the
    /// edge is accepted and the order must be repaired).
    pub past_cone: usize,
    pub closes_cycle: bool,
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{} -> {}.{} (window {} positions, future cone {}, past cone {}, {})",
            self.source.node,
            self.source.port,
            self.target.node,
            self.target.port,
            self.window,
            self.future_cone,
            self.past_cone,
            if self.closes_cycle {
                "closes a cycle"
            } else {
                "no cycle"
            }
        )
    }
}

impl Dag {
    /// Outgoing adjacency (targets by source).
    pub(crate) fn successors(&self) -> Vec<Vec<u32>> {
        let mut out = vec![Vec::new(); self.nodes.len()];
        for e in &self.edges {
            out[e.source as usize].push(e.target);
        }
        out
    }

    /// Incoming adjacency (sources by target).
    fn predecessors(&self) -> Vec<Vec<u32>> {
        (0..self.nodes.len())
            .map(|i| self.incoming(i).map(|e| self.edges[e].source).collect())
            .collect()
    }

    fn reach(adjacency: &[Vec<u32>], start: usize) -> Vec<bool> {
        let mut seen = vec![false; adjacency.len()];
        let mut stack = vec![start];
        seen[start] = true;
        while let Some(n) = stack.pop() {
            for &m in &adjacency[n] {
                if !seen[m as usize] {
                    seen[m as usize] = true;
                    stack.push(m as usize);
                }
            }
        }
        seen
    }

    fn port_taken(&self, node: usize, port: &str) -> bool {
        self.incoming(node).any(|e| self.edges[e].port == port)
    }

    fn probe(&self, source: usize, target: usize, port: &str, succ: &[Vec<u32>]) -> Probe {
        let below = Self::reach(succ, target);
        let closes_cycle = below[source];
        let (lo, hi) = (target.min(source), target.max(source));
        let future_cone = if source > target {
            (target..source).filter(|&i| below[i]).count()
        } else {
            0
        };
        let past_cone = if source > target {
            let above = Self::reach(&self.predecessors(), source);
            (target + 1..=source).filter(|&i| above[i]).count()
        } else {
            0
        };
        Probe {
            source: PortRef::new(self.id(source), self.kind(source).output()),
            target: PortRef::new(self.id(target), port),
            window: hi - lo,
            future_cone,
            past_cone,
            closes_cycle,
        }
    }

    /// `effect.media -> image_gen.reference` where the image_gen is the
    /// effect's grandparent (image_gen -> video_gen -> effect), mid-canvas.
    pub fn near_cycle(&self) -> Probe {
        let succ = self.successors();
        let mid = self.nodes.len() / 2;
        let found = (mid..self.nodes.len())
            .filter(|&i| self.kind(i) == Kind::ImageGen && !self.port_taken(i, "reference"))
            .find_map(|i| {
                let video = succ[i]
                    .iter()
                    .find(|&&v| self.kind(v as usize) == Kind::VideoGen)?;
                let effect = succ[*video as usize]
                    .iter()
                    .find(|&&f| self.kind(f as usize) == Kind::Effect)?;
                Some((*effect as usize, i))
            });
        let (source, target) = found.expect("an image_gen -> video_gen -> effect chain");
        self.probe(source, target, "reference", &succ)
    }

    /// The canvas's first image_gen with a free `reference` input.
    fn first_free_image_gen(&self) -> usize {
        (0..self.nodes.len())
            .find(|&i| self.kind(i) == Kind::ImageGen && !self.port_taken(i, "reference"))
            .expect("an image_gen")
    }

    /// The cycle-closing connect with the widest window in the canvas: over
    /// every image_gen with a free `reference`, the image output furthest
    /// downstream of it (in topological position), back into that
    /// `reference` (layer 8 or 7 back to layer 4). Image_gens have the widest
    /// reach of the types that can be the target of a cycle here.
    pub fn far_cycle(&self) -> Probe {
        let succ = self.successors();
        let mut stamp = vec![u32::MAX; self.nodes.len()];
        let mut best: Option<(usize, usize)> = None;
        let mut stack = Vec::new();
        for (epoch, target) in (0..self.nodes.len())
            .filter(|&i| self.kind(i) == Kind::ImageGen && !self.port_taken(i, "reference"))
            .enumerate()
        {
            let epoch = epoch as u32;
            let mut furthest = None;
            stack.push(target as u32);
            stamp[target] = epoch;
            while let Some(n) = stack.pop() {
                for &m in &succ[n as usize] {
                    if stamp[m as usize] != epoch {
                        stamp[m as usize] = epoch;
                        stack.push(m);
                        if self.kind(m as usize).outputs_image() {
                            furthest = furthest.max(Some(m as usize));
                        }
                    }
                }
            }
            if let Some(source) = furthest
                && best.is_none_or(|(s, t)| source - target > s - t)
            {
                best = Some((source, target));
            }
        }
        let (source, target) = best.expect("an image_gen with a downstream image");
        self.probe(source, target, "reference", &succ)
    }

    /// A back edge over the whole canvas that does not close a cycle (the last
    /// composite, not downstream of the first image_gen, into its `reference`):
    /// accepted, but the topological order must be repaired.
    pub fn far_back_edge(&self) -> Probe {
        let succ = self.successors();
        let target = self.first_free_image_gen();
        let below = Self::reach(&succ, target);
        let source = (0..self.nodes.len())
            .rev()
            .find(|&i| !below[i] && self.kind(i) == Kind::Composite)
            .expect("an unrelated composite");
        self.probe(source, target, "reference", &succ)
    }

    /// A forward edge (the common case): a mid-canvas image_gen as one more
    /// layer of the last composite.
    pub fn forward_edge(&self) -> Probe {
        let succ = self.successors();
        let target = (0..self.nodes.len())
            .rev()
            .find(|&i| self.kind(i) == Kind::Composite)
            .expect("a composite");
        let taken: Vec<u32> = self
            .incoming(target)
            .map(|e| self.edges[e].source)
            .collect();
        let source = (self.nodes.len() / 2..target)
            .find(|&i| self.kind(i) == Kind::ImageGen && !taken.contains(&(i as u32)))
            .expect("an image_gen");
        self.probe(source, target, "layers", &succ)
    }

    /// The node with the most upstream nodes among the exports (the deepest
    /// layer), and that count (itself excluded).
    pub fn deepest_export(&self) -> (String, usize) {
        let pred = self.predecessors();
        let (node, upstream) = (0..self.nodes.len())
            .filter(|&i| self.kind(i) == Kind::Export)
            .map(|i| (i, Self::reach(&pred, i).iter().filter(|&&b| b).count() - 1))
            .max_by_key(|&(i, n)| (n, std::cmp::Reverse(i)))
            .expect("an export");
        (self.id(node), upstream)
    }

    /// An image_gen in the middle of the canvas and its upstream count.
    pub fn middle_image_gen(&self) -> (String, usize) {
        let pred = self.predecessors();
        let node = (self.nodes.len() / 2..self.nodes.len())
            .find(|&i| self.kind(i) == Kind::ImageGen)
            .expect("an image_gen");
        let upstream = Self::reach(&pred, node).iter().filter(|&&b| b).count() - 1;
        (self.id(node), upstream)
    }
}

/// A chain of `len` nodes of a registered pass-through type (`any` in, `any`
/// out) and the connect from its last node to its first: a cycle check that
/// must walk the whole chain. Shows how the check scales with the nodes it
/// visits; the generated canvas never gives it more than a few dozen.
pub fn relay_chain(len: usize) -> (Canvas, PortRef, PortRef) {
    let catalog = Catalog::builtin();
    catalog
        .register_json(
            r#"{"type": "relay", "category": "bench", "title": "Relay",
                "inputs": [{"name": "in", "type": "any", "multiple": true}],
                "outputs": [{"name": "out", "type": "any"}]}"#,
        )
        .expect("a valid spec");
    let mut canvas = Canvas::new(catalog, "chain", "Chain");
    let mut ops = Vec::with_capacity(2 * len);
    for i in 0..len {
        ops.push(Op::add_node(
            &format!("r{i}"),
            "relay",
            serde_json::json!({}),
        ));
        if i > 0 {
            ops.push(Op::connect(
                (&format!("r{}", i - 1), "out"),
                (&format!("r{i}"), "in"),
            ));
        }
    }
    for batch in ops.chunks(BATCH) {
        canvas.apply(batch.to_vec()).expect("a valid chain");
    }
    (
        canvas,
        PortRef::new(format!("r{}", len - 1), "out"),
        PortRef::new("r0", "in"),
    )
}
