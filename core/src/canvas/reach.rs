//! The cycle check of a new edge: does its target already reach its source?
//!
//! Only nodes placed before the source in the maintained topological order
//! can be on such a path, so the search never leaves them. It marks visited
//! nodes in a bitset, one bit per graph slot; petgraph's own check collects
//! every visited node into a `BTreeMap`, which was most of its cost. The
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
    let mut seen = vec![0u64; inner.node_bound().div_ceil(64)];
    let mut stack = vec![target];
    while let Some(node) = stack.pop() {
        for next in inner.neighbors_directed(node, Direction::Outgoing) {
            if next == source {
                return true;
            }
            let (word, bit) = (next.index() / 64, 1u64 << (next.index() % 64));
            if seen[word] & bit != 0 {
                continue;
            }
            seen[word] |= bit;
            if graph.get_position(next) < limit {
                stack.push(next);
            }
        }
    }
    false
}
