//! How much subgraph expansion may do. A definition may instantiate another
//! many times over, so a few kilobytes can describe millions of nodes: what
//! each top-level instance would add is computed before it is expanded, and
//! one that would take the import past a cap is left out whole.

use std::collections::HashMap;

use super::flatten::REROUTE;
use super::workflow::Workflow;

/// Deepest nesting of subgraph instances that is expanded.
pub(super) const MAX_SUBGRAPH_DEPTH: usize = 16;
/// Most nodes that subgraph instances add to one import, all together: a
/// hundred times the largest workflow of the ComfyUI templates, and about a
/// second of work.
pub const MAX_EXPANDED_NODES: usize = 25_000;
/// Most other work that subgraph instances add to one import, all together:
/// one unit per link, per group membership, per JSON value copied from a
/// node or group (widget values, editor state), and per 64 bytes of its text.
pub const MAX_EXPANDED_WORK: usize = 500_000;

/// What expanding a definition adds, nested instances included.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Cost {
    pub nodes: usize,
    pub work: usize,
}

impl Cost {
    fn plus(self, other: Cost) -> Cost {
        Cost {
            nodes: self.nodes.saturating_add(other.nodes),
            work: self.work.saturating_add(other.work),
        }
    }
}

#[derive(Debug)]
pub(super) struct Budget<'a> {
    wf: &'a Workflow,
    /// Costs by (definition id, levels that may still expand).
    costs: HashMap<(&'a str, usize), Cost>,
    /// What the admitted instances add.
    spent: Cost,
}

impl<'a> Budget<'a> {
    pub fn new(wf: &'a Workflow) -> Self {
        Budget {
            wf,
            costs: HashMap::new(),
            spent: Cost::default(),
        }
    }

    /// Books a top-level instance of definition `class` when it fits, or
    /// says why it does not.
    pub fn admit(&mut self, class: &'a str) -> Result<(), String> {
        let cost = self.cost(class, MAX_SUBGRAPH_DEPTH);
        let total = self.spent.plus(cost);
        if total.nodes <= MAX_EXPANDED_NODES && total.work <= MAX_EXPANDED_WORK {
            self.spent = total;
            return Ok(());
        }
        Err(if total.nodes > MAX_EXPANDED_NODES {
            format!(
                "would add {} nodes to the {} that subgraphs added so far, more than the {MAX_EXPANDED_NODES} an import takes",
                cost.nodes, self.spent.nodes
            )
        } else {
            format!(
                "would copy {} units of links, values and group entries, more than the {MAX_EXPANDED_WORK} an import takes",
                cost.work
            )
        })
    }

    /// What an instance of definition `class` adds when `levels` levels of
    /// nesting may still expand. Instances a definition makes of itself are
    /// counted as if expanded (they are not): an upper bound that does not
    /// depend on the path, so it can be remembered.
    fn cost(&mut self, class: &'a str, levels: usize) -> Cost {
        if levels == 0 {
            return Cost::default();
        }
        if let Some(&c) = self.costs.get(&(class, levels)) {
            return c;
        }
        let wf = self.wf;
        let Some(def) = wf.subgraphs.get(class) else {
            return Cost::default();
        };
        let graph = &def.graph;
        let mut inner = Cost::default();
        let mut own = Cost::default();
        for node in &graph.nodes {
            own.work = own.work.saturating_add(node.weight);
            if wf.subgraphs.contains_key(&node.class) {
                inner = inner.plus(self.cost(&node.class, levels - 1));
            } else if node.class != REROUTE {
                own.nodes += 1;
            }
        }
        let nodes = own.nodes.saturating_add(inner.nodes);
        let groups = graph.groups.iter().map(|g| g.weight).sum::<usize>();
        // Each of the level's groups, and the instance's own group, may hold
        // every node the level produces.
        let members = nodes.saturating_mul(graph.groups.len() + 1);
        let work = own
            .work
            .saturating_add(graph.links.len())
            .saturating_add(groups)
            .saturating_add(members)
            .saturating_add(inner.work);
        let cost = Cost { nodes, work };
        self.costs.insert((class, levels), cost);
        cost
    }
}
