//! Counts that describe a generated canvas.

use std::collections::BTreeMap;
use std::fmt;

use crate::dag::Dag;

#[derive(Debug, Clone)]
pub struct Summary {
    pub nodes: usize,
    pub edges: usize,
    pub scenes: usize,
    pub by_type: BTreeMap<&'static str, usize>,
    pub by_port: BTreeMap<String, usize>,
    /// Longest path, in edges.
    pub longest_path: usize,
    pub max_in_degree: usize,
    pub max_out_degree: usize,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} nodes, {} edges, {} scenes; longest path {} edges; max in-degree {}, max out-degree {}",
            self.nodes,
            self.edges,
            self.scenes,
            self.longest_path,
            self.max_in_degree,
            self.max_out_degree
        )?;
        let types: Vec<String> = self
            .by_type
            .iter()
            .map(|(t, n)| format!("{t} {n}"))
            .collect();
        writeln!(f, "nodes: {}", types.join(", "))?;
        let ports: Vec<String> = self
            .by_port
            .iter()
            .map(|(p, n)| format!("{p} {n}"))
            .collect();
        write!(f, "edges into: {}", ports.join(", "))
    }
}

impl Dag {
    /// Counts that describe the shape.
    pub fn summary(&self) -> Summary {
        let mut nodes = BTreeMap::new();
        for n in &self.nodes {
            *nodes.entry(n.kind.type_name()).or_insert(0) += 1;
        }
        let mut ports = BTreeMap::new();
        for e in &self.edges {
            let t = self.nodes[e.target as usize].kind.type_name();
            *ports.entry(format!("{t}.{}", e.port)).or_insert(0) += 1;
        }
        // Longest path, in edges: nodes are in topological order.
        let mut depth = vec![0usize; self.nodes.len()];
        for e in &self.edges {
            let d = depth[e.source as usize] + 1;
            let t = &mut depth[e.target as usize];
            *t = (*t).max(d);
        }
        let max_in = (0..self.nodes.len())
            .map(|i| self.incoming(i).len())
            .max()
            .unwrap_or(0);
        let succ = self.successors();
        let max_out = succ.iter().map(Vec::len).max().unwrap_or(0);
        Summary {
            nodes: self.nodes.len(),
            edges: self.edges.len(),
            scenes: nodes.get("scene").copied().unwrap_or(0),
            by_type: nodes,
            by_port: ports,
            longest_path: depth.into_iter().max().unwrap_or(0),
            max_in_degree: max_in,
            max_out_degree: max_out,
        }
    }
}
