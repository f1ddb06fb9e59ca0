//! Making a graph's `links` table agree with its inputs, as ComfyUI does on
//! load: the link an input names (`inputs[i].link`) is the one that feeds
//! it. The table can disagree after nodes gained or lost inputs (slot
//! drift), when an extension left a stale duplicate, or when two links
//! claim one input.
//!
//! - A link named by an input of its target node goes to that input, whatever
//!   slot the table says (a `repaired_link` warning says when it moved).
//! - A link named by an input of another node goes to that node.
//! - A link no input names is dropped: `duplicate_edge` when the input it
//!   points at names another link, `dangling_edge` otherwise.
//! - An input naming a link that is not in the table takes the one link no
//!   input names that goes to it, if there is exactly one; otherwise it stays
//!   unconnected.
//!
//! Links to or from the boundary of a subgraph definition (`-10`, `-20`),
//! links to a node that does not exist, and links to an input with no `link`
//! field at all (hand-made files; LiteGraph always writes one, `null` when
//! unconnected), or to a node none of whose inputs has one, are left to the
//! flattener, which goes by `links`.

use std::collections::HashMap;

use super::workflow::Graph;
use super::{Diagnostics, Severity};

const HINT: &str = "open the workflow in ComfyUI and save it again to store the repaired links";

/// Repairs `graph.links` in place; `context` prefixes messages (`subgraph `x`: `).
pub(super) fn repair(graph: &mut Graph, context: &str, diags: &mut Diagnostics) {
    let link_at: HashMap<&str, usize> = graph
        .links
        .iter()
        .enumerate()
        .map(|(i, l)| (l.id.as_str(), i))
        .collect();
    // Link index -> (node index, input slot) of the input that names it.
    let mut claims: HashMap<usize, (usize, usize)> = HashMap::new();
    let mut unnamed_inputs: Vec<(usize, usize)> = Vec::new();
    // Inputs naming a link that is not in the table.
    let mut orphans: Vec<(usize, usize)> = Vec::new();
    for (ni, node) in graph.nodes.iter().enumerate() {
        for (k, input) in node.inputs.iter().enumerate() {
            let Some(link) = &input.link else { continue };
            let Some(&li) = link_at.get(link.as_str()) else {
                orphans.push((ni, k));
                continue;
            };
            if let Some(&(first, slot)) = claims.get(&li) {
                let holder = &graph.nodes[first];
                diags.push_edge(
                    Severity::Warning,
                    "duplicate_edge",
                    format!(
                        "{context}inputs `{}` of node `{}` and `{}` of node `{}` both name link `{link}`; the first keeps it and the second is left unconnected",
                        holder.inputs[slot].name, holder.id, input.name, node.id
                    ),
                    HINT,
                    link,
                );
                unnamed_inputs.push((ni, k));
                continue;
            }
            claims.insert(li, (ni, k));
        }
    }
    for (ni, k) in unnamed_inputs {
        graph.nodes[ni].inputs[k].link = None;
    }

    let node_at: HashMap<&str, usize> = graph
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.id.as_str(), i))
        .collect();

    // An input naming a missing link takes the one link no input names that
    // the table sends to it: the wire is still there.
    if !orphans.is_empty() {
        let mut offered: HashMap<(usize, usize), Vec<usize>> =
            orphans.iter().map(|&at| (at, Vec::new())).collect();
        for (li, link) in graph.links.iter().enumerate() {
            if !claims.contains_key(&li)
                && let Some(&ti) = node_at.get(link.target.as_str())
                && let Some(candidates) = offered.get_mut(&(ti, link.target_slot))
            {
                candidates.push(li);
            }
        }
        for (ni, k) in orphans {
            let node = &graph.nodes[ni];
            let input = &node.inputs[k];
            let named = input.link.clone().unwrap_or_default();
            match offered[&(ni, k)].as_slice() {
                &[li] => {
                    let link = &graph.links[li];
                    diags.push_edge(
                        Severity::Warning,
                        "repaired_link",
                        format!(
                            "{context}input `{}` of node `{}` names link `{named}`, which is not in `links`; link `{}`, which goes to it and no input names, is used",
                            input.name, node.id, link.id
                        ),
                        HINT,
                        &link.id,
                    );
                    claims.insert(li, (ni, k));
                }
                _ => diags.push_edge(
                    Severity::Warning,
                    "dangling_edge",
                    format!(
                        "{context}input `{}` of node `{}` names link `{named}`, which is not in `links`; the input is left unconnected",
                        input.name, node.id
                    ),
                    "reconnect the input in ComfyUI",
                    &named,
                ),
            }
        }
    }
    let mut keep = vec![true; graph.links.len()];
    let mut moves: Vec<(usize, usize, usize)> = Vec::new();
    for (li, link) in graph.links.iter().enumerate() {
        let target = node_at.get(link.target.as_str()).copied();
        match (claims.get(&li).copied(), target) {
            (Some((ni, k)), Some(ti)) if ni == ti && k == link.target_slot => {}
            (Some((ni, k)), _) => {
                let node = &graph.nodes[ni];
                let was = if target == Some(ni) {
                    format!("slot {}", link.target_slot)
                } else {
                    format!("node `{}` slot {}", link.target, link.target_slot)
                };
                diags.push_edge(
                    Severity::Warning,
                    "repaired_link",
                    format!(
                        "{context}link `{}` goes to {was} in `links`, but input `{}` (slot {k}) of node `{}` names it; it is connected there, as ComfyUI does",
                        link.id, node.inputs[k].name, node.id
                    ),
                    HINT,
                    &link.id,
                );
                moves.push((li, ni, k));
            }
            (None, Some(ti)) => {
                let node = &graph.nodes[ti];
                // An input with no `link` field says nothing: `links` decides.
                let silent = |k: usize| node.inputs.get(k).is_some_and(|i| !i.link_declared);
                if silent(link.target_slot) || !node.inputs.iter().any(|i| i.link_declared) {
                    continue;
                }
                let (code, why) = match node.inputs.get(link.target_slot) {
                    Some(input) => match &input.link {
                        Some(other) if link_at.contains_key(other.as_str()) => (
                            "duplicate_edge",
                            format!(
                                "input `{}` of node `{}` names link `{other}` instead",
                                input.name, node.id
                            ),
                        ),
                        Some(other) => (
                            "dangling_edge",
                            format!(
                                "input `{}` of node `{}` names link `{other}`, which is missing, and another link also goes there",
                                input.name, node.id
                            ),
                        ),
                        None => (
                            "dangling_edge",
                            format!("input `{}` of node `{}` names no link", input.name, node.id),
                        ),
                    },
                    None => (
                        "dangling_edge",
                        format!(
                            "node `{}` ({}) has {} inputs and none names it",
                            node.id,
                            node.class,
                            node.inputs.len()
                        ),
                    ),
                };
                diags.push_edge(
                    Severity::Warning,
                    code,
                    format!(
                        "{context}link `{}` to slot {} of node `{}` is stale: {why}; it is skipped, as ComfyUI does",
                        link.id, link.target_slot, link.target
                    ),
                    HINT,
                    &link.id,
                );
                keep[li] = false;
            }
            (None, None) => {}
        }
    }
    for (li, ni, k) in moves {
        let id = graph.nodes[ni].id.clone();
        let link = &mut graph.links[li];
        link.target = id;
        link.target_slot = k;
    }
    if keep.iter().any(|k| !k) {
        let mut i = 0;
        graph.links.retain(|_| {
            i += 1;
            keep[i - 1]
        });
    }
}
