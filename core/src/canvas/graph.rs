//! The canvas graph and a topological order of its nodes, kept as edges
//! arrive (Pearce and Kelly's algorithm: an edge against the order moves
//! only the nodes between its ends that must move, and keeps the rest).
//!
//! The order is two plain arrays, so reading it takes no locks and no
//! interior mutability: a `&Graph` can be read from many threads at once.
//! The walks it needs are in `reach.rs`, with explicit stacks.
//!
//! Beside petgraph's lists, each node's only successor is kept in a compact
//! array: a walk along a chain (the long walks) then reads four bytes a
//! node instead of a node record and a 64-byte edge record.

use std::ops::Index;
use std::sync::Arc;

use petgraph::Direction;
use petgraph::stable_graph::{EdgeIndex, NodeIndex, StableDiGraph};

use super::Link;
use super::reach::{cone_ahead, cone_behind};

pub(crate) type Inner = StableDiGraph<Arc<str>, Link, u32>;

/// An edge refused because it would close a cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ClosesCycle;

/// Marks a removed node's place in `order`, until holes outnumber nodes.
fn hole() -> NodeIndex {
    NodeIndex::end()
}

/// A directed acyclic graph with its nodes in a topological order.
#[derive(Debug, Default)]
pub(crate) struct Graph {
    inner: Inner,
    /// Each live node's place in `order`, by node slot.
    position: Vec<u32>,
    /// Nodes in the order, with a hole where a removed node was.
    order: Vec<NodeIndex>,
    holes: usize,
    /// By node slot: the target of the node's only outgoing edge, or
    /// `NO_SUCCESSOR` / `MANY_SUCCESSORS`.
    successor: Vec<u32>,
}

const NO_SUCCESSOR: u32 = u32::MAX;
const MANY_SUCCESSORS: u32 = u32::MAX - 1;

/// A node's outgoing edges as the compact array tells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Successors {
    None,
    One(NodeIndex),
    /// More than one: read petgraph's list.
    Many,
}

impl Graph {
    pub fn new() -> Self {
        Graph::default()
    }

    pub fn with_capacity(nodes: usize, edges: usize) -> Self {
        Graph {
            inner: Inner::with_capacity(nodes, edges),
            position: Vec::with_capacity(nodes),
            order: Vec::with_capacity(nodes),
            holes: 0,
            successor: Vec::with_capacity(nodes),
        }
    }

    /// Room for `nodes` and `edges` more without growing.
    pub fn reserve(&mut self, nodes: usize, edges: usize) {
        self.inner.reserve_nodes(nodes);
        self.inner.reserve_edges(edges);
        self.position.reserve(nodes);
        self.order.reserve(nodes);
        self.successor.reserve(nodes);
    }

    pub fn inner(&self) -> &Inner {
        &self.inner
    }

    pub fn node_count(&self) -> usize {
        self.inner.node_count()
    }

    /// A node's place in the order: a node feeds only nodes placed after it.
    pub fn position(&self, ix: NodeIndex) -> u32 {
        self.position[ix.index()]
    }

    /// Where a node's outgoing edges lead, without reading petgraph's lists
    /// unless there are several.
    #[inline]
    pub fn successors(&self, ix: NodeIndex) -> Successors {
        match self.successor[ix.index()] {
            NO_SUCCESSOR => Successors::None,
            MANY_SUCCESSORS => Successors::Many,
            one => Successors::One(NodeIndex::new(one as usize)),
        }
    }

    /// Every node, each after the nodes that feed it.
    pub fn nodes_iter(&self) -> impl Iterator<Item = NodeIndex> + '_ {
        self.order.iter().copied().filter(|ix| *ix != hole())
    }

    /// Adds a node, placed after every other.
    pub fn add_node(&mut self, id: Arc<str>) -> NodeIndex {
        let ix = self.inner.add_node(id);
        if ix.index() >= self.position.len() {
            self.position.resize(ix.index() + 1, 0);
            self.successor.resize(ix.index() + 1, NO_SUCCESSOR);
        }
        self.successor[ix.index()] = NO_SUCCESSOR;
        self.position[ix.index()] = self.order.len() as u32;
        self.order.push(ix);
        ix
    }

    /// Removes a node and its edges.
    pub fn remove_node(&mut self, ix: NodeIndex) -> Option<Arc<str>> {
        // Callers remove a node's edges first; any left still go with it,
        // and the nodes they came from are counted again.
        let feeders: Vec<NodeIndex> = self
            .inner
            .neighbors_directed(ix, Direction::Incoming)
            .collect();
        let id = self.inner.remove_node(ix)?;
        for feeder in feeders {
            self.recount_successors(feeder);
        }
        let place = self.position(ix) as usize;
        self.order[place] = hole();
        self.holes += 1;
        while self.order.last() == Some(&hole()) {
            self.order.pop();
            self.holes -= 1;
        }
        if self.holes > self.order.len() / 2 {
            self.close_holes();
        }
        Some(id)
    }

    pub fn remove_edge(&mut self, eix: EdgeIndex) -> Option<Link> {
        let (source, _) = self.inner.edge_endpoints(eix)?;
        let link = self.inner.remove_edge(eix)?;
        if self.successor[source.index()] == MANY_SUCCESSORS {
            self.recount_successors(source);
        } else {
            self.successor[source.index()] = NO_SUCCESSOR;
        }
        Some(link)
    }

    /// Sets a node's successor entry from petgraph's list.
    fn recount_successors(&mut self, ix: NodeIndex) {
        let mut out = self.inner.neighbors_directed(ix, Direction::Outgoing);
        self.successor[ix.index()] = match (out.next(), out.next()) {
            (None, _) => NO_SUCCESSOR,
            (Some(one), None) => one.index() as u32,
            (Some(_), Some(_)) => MANY_SUCCESSORS,
        };
    }

    /// Adds `source → target`, moving nodes in the order when the target is
    /// placed before the source; refused, changing nothing, when the target
    /// already reaches the source (or is the source).
    pub fn try_add_edge(
        &mut self,
        source: NodeIndex,
        target: NodeIndex,
        link: Link,
    ) -> Result<EdgeIndex, ClosesCycle> {
        if source == target {
            return Err(ClosesCycle);
        }
        if self.position(target) < self.position(source) {
            // What the target reaches up to the source must move after
            // what reaches the source; nothing else moves.
            let ahead = cone_ahead(self, source, target)?;
            let behind = cone_behind(self, source, target);
            self.swap_places(behind, ahead);
        }
        let eix = self.inner.add_edge(source, target, link);
        let successor = &mut self.successor[source.index()];
        *successor = match *successor {
            NO_SUCCESSOR => target.index() as u32,
            _ => MANY_SUCCESSORS,
        };
        Ok(eix)
    }

    /// Puts `first` then `then` (each kept in its own order) into the places
    /// both hold now.
    fn swap_places(&mut self, mut first: Vec<NodeIndex>, mut then: Vec<NodeIndex>) {
        first.sort_unstable_by_key(|ix| self.position(*ix));
        then.sort_unstable_by_key(|ix| self.position(*ix));
        let mut places: Vec<u32> = first
            .iter()
            .chain(&then)
            .map(|ix| self.position(*ix))
            .collect();
        places.sort_unstable();
        for (place, ix) in places.into_iter().zip(first.into_iter().chain(then)) {
            self.order[place as usize] = ix;
            self.position[ix.index()] = place;
        }
    }

    /// Renumbers the order without its holes.
    fn close_holes(&mut self) {
        self.order.retain(|ix| *ix != hole());
        for (place, ix) in self.order.iter().enumerate() {
            self.position[ix.index()] = place as u32;
        }
        self.holes = 0;
    }
}

impl Index<NodeIndex> for Graph {
    type Output = Arc<str>;

    fn index(&self, ix: NodeIndex) -> &Arc<str> {
        &self.inner[ix]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(id: &str) -> Link {
        Link {
            id: id.into(),
            source_port: "out".into(),
            target_port: "in".into(),
        }
    }

    fn ids(graph: &Graph) -> Vec<String> {
        graph.nodes_iter().map(|ix| graph[ix].to_string()).collect()
    }

    #[test]
    fn removed_nodes_leave_the_order_of_the_rest_and_their_places_are_reused() {
        let mut graph = Graph::new();
        let nodes: Vec<_> = (0..8)
            .map(|i| graph.add_node(format!("n{i}").into()))
            .collect();
        // Enough removals that the holes are closed.
        for &ix in &nodes[1..6] {
            graph.remove_node(ix);
        }
        assert_eq!(ids(&graph), ["n0", "n6", "n7"]);
        assert_eq!(graph.order.len(), 3);
        // A new node takes a free slot and goes last; an edge from it into
        // n0 swaps the two places and moves nothing else.
        let late = graph.add_node("late".into());
        graph
            .try_add_edge(late, nodes[0], link("late->n0"))
            .expect("no cycle");
        assert_eq!(ids(&graph), ["late", "n6", "n7", "n0"]);
        assert_eq!(
            graph.try_add_edge(nodes[0], late, link("n0->late")),
            Err(ClosesCycle)
        );
        for ix in graph.nodes_iter() {
            assert_eq!(graph.order[graph.position(ix) as usize], ix);
        }
    }

    /// What petgraph's list says of a node's outgoing edges.
    fn listed(graph: &Graph, ix: NodeIndex) -> Successors {
        let targets: Vec<NodeIndex> = graph
            .inner
            .neighbors_directed(ix, Direction::Outgoing)
            .collect();
        match targets[..] {
            [] => Successors::None,
            [one] => Successors::One(one),
            _ => Successors::Many,
        }
    }

    #[test]
    fn the_successor_array_agrees_with_the_edge_lists_through_adds_and_removals() {
        let mut graph = Graph::new();
        let mut nodes: Vec<NodeIndex> = Vec::new();
        let mut edges: Vec<EdgeIndex> = Vec::new();
        let mut seed = 0x2545_F491_4F6C_DD1D_u64;
        let mut next = |n: usize| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (seed >> 33) as usize % n
        };
        for round in 0..4000 {
            match next(8) {
                0 | 1 => nodes.push(graph.add_node(format!("n{round}").into())),
                // Parallel edges included: two ports may join the same nodes.
                2..=4 if nodes.len() >= 2 => {
                    let (a, b) = (nodes[next(nodes.len())], nodes[next(nodes.len())]);
                    if let Ok(eix) = graph.try_add_edge(a, b, link(&format!("e{round}"))) {
                        edges.push(eix);
                    }
                }
                5 | 6 if !edges.is_empty() => {
                    let eix = edges.swap_remove(next(edges.len()));
                    graph.remove_edge(eix).expect("a live edge");
                }
                // With its edges still attached: they go with it.
                7 if !nodes.is_empty() => {
                    let ix = nodes.swap_remove(next(nodes.len()));
                    graph.remove_node(ix).expect("a live node");
                    edges.retain(|e| graph.inner.edge_endpoints(*e).is_some());
                }
                _ => {}
            }
            for &ix in &nodes {
                assert_eq!(graph.successors(ix), listed(&graph, ix), "round {round}");
            }
        }
        assert!(
            nodes
                .iter()
                .any(|ix| graph.successors(*ix) == Successors::Many),
            "the test reaches nodes with several successors"
        );
    }
}
