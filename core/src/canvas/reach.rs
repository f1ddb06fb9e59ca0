//! The walks of the graph's order: the cycle check of a new edge (does its
//! target already reach its source?) and the two cones an edge against the
//! order moves.
//!
//! Only nodes placed between the two ends in the order can be on a path
//! from the target to the source, so no walk leaves them. Walks use an
//! explicit stack and mark visited nodes in a short list, then a bitset.
//! The cost is linear in the nodes visited and their edges: at most those
//! between the two ends in the order (a cycle-closing connect on a
//! 100,000-node chain visits all), and none when the order already puts the
//! target after the source.

use petgraph::Direction;
use petgraph::stable_graph::NodeIndex;
use petgraph::visit::NodeIndexable;

use super::graph::{ClosesCycle, Graph, Successors};

/// Whether adding `source → target` would close a cycle.
pub(super) fn closes_cycle(graph: &Graph, source: NodeIndex, target: NodeIndex) -> bool {
    if source == target {
        return true;
    }
    if graph.position(target) > graph.position(source) {
        // The order already puts the target after the source.
        return false;
    }
    let limit = graph.position(source);
    walk(
        graph,
        target,
        Direction::Outgoing,
        |p| p < limit,
        source,
        |_| (),
    )
    .is_err()
}

/// The nodes the target reaches that are placed before the source (the
/// target included), or `ClosesCycle` when the source is among them.
pub(super) fn cone_ahead(
    graph: &Graph,
    source: NodeIndex,
    target: NodeIndex,
) -> Result<Vec<NodeIndex>, ClosesCycle> {
    let limit = graph.position(source);
    let mut cone = Vec::new();
    walk(
        graph,
        target,
        Direction::Outgoing,
        |p| p < limit,
        source,
        |ix| cone.push(ix),
    )?;
    Ok(cone)
}

/// The nodes that reach the source and are placed after the target (the
/// source included). Disjoint from `cone_ahead` when that found no cycle.
pub(super) fn cone_behind(graph: &Graph, source: NodeIndex, target: NodeIndex) -> Vec<NodeIndex> {
    let floor = graph.position(target);
    let mut cone = Vec::new();
    // Nothing placed after the target reaches it, so no stop is met.
    let _ = walk(
        graph,
        source,
        Direction::Incoming,
        |p| p > floor,
        NodeIndex::end(),
        |ix| cone.push(ix),
    );
    cone
}

/// Visits `start` and every node reachable from it along `direction`
/// through nodes whose position `within` accepts; `ClosesCycle` as soon as
/// an edge leads to `stop`.
fn walk(
    graph: &Graph,
    start: NodeIndex,
    direction: Direction,
    within: impl Fn(u32) -> bool,
    stop: NodeIndex,
    mut visit: impl FnMut(NodeIndex),
) -> Result<(), ClosesCycle> {
    let inner = graph.inner();
    let mut seen = Seen::new(inner.node_bound());
    seen.insert(start);
    visit(start);
    let mut stack = Vec::new();
    let mut node = start;
    loop {
        // Go on with the first new neighbour at once and stack the others:
        // along a path (a chain, most of a walk) nothing touches the stack.
        let mut first = None;
        let successors = match direction {
            Direction::Outgoing => graph.successors(node),
            Direction::Incoming => Successors::Many,
        };
        match successors {
            Successors::None => {}
            // A chain's step, written out: a shared closure for both arms
            // was not inlined and took longer than petgraph's list.
            Successors::One(next) => {
                if next == stop {
                    return Err(ClosesCycle);
                }
                if within(graph.position(next)) && seen.insert(next) {
                    visit(next);
                    first = Some(next);
                }
            }
            Successors::Many => {
                for next in inner.neighbors_directed(node, direction) {
                    if next == stop {
                        return Err(ClosesCycle);
                    }
                    if within(graph.position(next)) && seen.insert(next) {
                        visit(next);
                        if first.is_none() {
                            first = Some(next);
                        } else {
                            stack.push(next);
                        }
                    }
                }
            }
        }
        match first.or_else(|| stack.pop()) {
            Some(next) => node = next,
            None => return Ok(()),
        }
    }
}

/// Visited nodes: a short list while the walk is short (most are a few
/// nodes, and a bit per slot of a large canvas costs more to zero than
/// they take), a bitset once it is not.
struct Seen {
    few: [NodeIndex; Seen::FEW],
    len: usize,
    bits: Vec<u64>,
    node_bound: usize,
}

impl Seen {
    const FEW: usize = 64;

    fn new(node_bound: usize) -> Self {
        Seen {
            few: [NodeIndex::end(); Seen::FEW],
            len: 0,
            bits: Vec::new(),
            node_bound,
        }
    }

    /// Marks `node`; false when it was already marked.
    #[inline]
    fn insert(&mut self, node: NodeIndex) -> bool {
        if self.bits.is_empty() {
            return self.insert_few(node);
        }
        let (word, bit) = (node.index() / 64, 1u64 << (node.index() % 64));
        let new = self.bits[word] & bit == 0;
        self.bits[word] |= bit;
        new
    }

    /// `insert` while the list is short; it moves the list into the bitset
    /// when it is full.
    #[inline(never)]
    fn insert_few(&mut self, node: NodeIndex) -> bool {
        if self.few[..self.len].contains(&node) {
            return false;
        }
        if self.len < Self::FEW {
            self.few[self.len] = node;
            self.len += 1;
            return true;
        }
        self.bits = vec![0u64; self.node_bound.div_ceil(64)];
        for ix in self.few {
            self.bits[ix.index() / 64] |= 1 << (ix.index() % 64);
        }
        self.insert(node)
    }
}
