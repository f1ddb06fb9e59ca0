//! A one-line description of what changed between two versions of a canvas,
//! for version histories.

use std::collections::HashMap;

use crate::model::CanvasDocument;

/// E.g. "+2 nodes, 1 node changed, -1 edge"; "created" without a previous
/// version; "no content change" when only revision or timestamps moved.
pub fn change_summary(before: Option<&CanvasDocument>, after: &CanvasDocument) -> String {
    let Some(before) = before else {
        return format!(
            "created with {} nodes, {} edges",
            after.nodes.len(),
            after.edges.len()
        );
    };
    let mut parts = Vec::new();
    let old_nodes: HashMap<&str, _> = before.nodes.iter().map(|n| (n.id.as_str(), n)).collect();
    let new_nodes: HashMap<&str, _> = after.nodes.iter().map(|n| (n.id.as_str(), n)).collect();
    let added = new_nodes
        .keys()
        .filter(|k| !old_nodes.contains_key(*k))
        .count();
    let removed = old_nodes
        .keys()
        .filter(|k| !new_nodes.contains_key(*k))
        .count();
    let changed = new_nodes
        .iter()
        .filter(|(k, n)| old_nodes.get(*k).is_some_and(|o| o != *n))
        .count();
    let old_edges: HashMap<&str, _> = before.edges.iter().map(|e| (e.id.as_str(), e)).collect();
    let new_edges: HashMap<&str, _> = after.edges.iter().map(|e| (e.id.as_str(), e)).collect();
    let edges_added = new_edges
        .keys()
        .filter(|k| !old_edges.contains_key(*k))
        .count();
    let edges_removed = old_edges
        .keys()
        .filter(|k| !new_edges.contains_key(*k))
        .count();
    push(&mut parts, "+", added, "node");
    push(&mut parts, "-", removed, "node");
    if changed > 0 {
        parts.push(format!("{changed} {} changed", plural(changed, "node")));
    }
    push(&mut parts, "+", edges_added, "edge");
    push(&mut parts, "-", edges_removed, "edge");
    if before.groups != after.groups {
        parts.push("groups changed".into());
    }
    if before.name != after.name {
        parts.push("renamed".into());
    }
    if before.metadata != after.metadata {
        parts.push("metadata changed".into());
    }
    if before.viewport != after.viewport && parts.is_empty() {
        parts.push("viewport moved".into());
    }
    if parts.is_empty() {
        "no content change".into()
    } else {
        parts.join(", ")
    }
}

fn push(parts: &mut Vec<String>, sign: &str, n: usize, noun: &str) {
    if n > 0 {
        parts.push(format!("{sign}{n} {}", plural(n, noun)));
    }
}

fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        noun.to_owned()
    } else {
        format!("{noun}s")
    }
}
