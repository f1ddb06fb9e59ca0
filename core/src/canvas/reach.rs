//! The cycle check of a new edge: does its target already reach its source?
//!
//! Only nodes placed before the source in the maintained topological order
//! can be on such a path, so the search never leaves them. It marks visited
//! nodes in a short list, then a bitset; petgraph's own check collects
//! every visited node into a `BTreeMap` and recurses per node. The
//! cost is linear in the nodes visited, at most those between the two ends
//! in the order (a cycle-closing connect on a 100,000-node chain visits all).

use petgraph::Direction;
use petgraph::stable_graph::NodeIndex;
use petgraph::visit::NodeIndexable;

use super::Graph;

/// Whether adding `source → target` would close a cycle.
pub(super) fn closes_cycle(graph: &Graph, source: NodeIndex, target: NodeIndex) -> bool {
    if source == target {
        return true;
    }
    let limit = graph.get_position(source);
    if graph.get_position(target) > limit {
        // The order already puts the target after the source.
        return false;
    }
    let inner = graph.inner();
    let mut seen = Seen::Few(Vec::new());
    let mut stack = vec![target];
    while let Some(node) = stack.pop() {
        for next in inner.neighbors_directed(node, Direction::Outgoing) {
            if next == source {
                return true;
            }
            if seen.insert(next, inner.node_bound()) && graph.get_position(next) < limit {
                stack.push(next);
            }
        }
    }
    false
}

/// Visited nodes: a short list while the walk is short (most are a few
/// nodes, and a bit per slot of a large canvas costs more to zero than
/// they take), a bitset once it is not.
enum Seen {
    Few(Vec<NodeIndex>),
    Many(Vec<u64>),
}

impl Seen {
    const FEW: usize = 64;

    /// Marks `node`; false when it was already marked.
    fn insert(&mut self, node: NodeIndex, node_bound: usize) -> bool {
        if let Seen::Few(list) = self {
            if list.contains(&node) {
                return false;
            }
            if list.len() < Self::FEW {
                list.push(node);
                return true;
            }
            let mut bits = vec![0u64; node_bound.div_ceil(64)];
            for ix in list.iter() {
                bits[ix.index() / 64] |= 1 << (ix.index() % 64);
            }
            *self = Seen::Many(bits);
        }
        let Seen::Many(bits) = self else {
            unreachable!("a short list became a bitset above")
        };
        let (word, bit) = (node.index() / 64, 1u64 << (node.index() % 64));
        let new = bits[word] & bit == 0;
        bits[word] |= bit;
        new
    }
}
