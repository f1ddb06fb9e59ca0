//! What an apply changed, as a [`Delta`] of the document: read from the
//! apply's journal, whose first entry for a node, an edge or the canvas's
//! settings holds it as it was, and from the canvas after the apply.

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::super::{Canvas, node_doc};
use super::journal::{CanvasSettings, RemovedEdge, Undo};
use crate::delta::{Delta, Touched, json_len};
use crate::model::{Edge, PortRef};

/// What a delta needs from before the apply.
#[derive(Debug, Clone, Copy)]
pub(super) struct Before {
    header_len: usize,
}

impl Before {
    pub(super) fn of(canvas: &Canvas) -> Before {
        Before {
            header_len: canvas.header_json_len(),
        }
    }
}

/// The first time an apply touched a node or an edge: its id and the length
/// of its JSON then (none when it was not there).
struct First {
    id: Arc<str>,
    len_before: Option<usize>,
}

pub(super) fn delta(canvas: &Canvas, before: Before, journal: &[Undo]) -> Delta {
    let (mut nodes, mut edges) = (Vec::new(), Vec::new());
    let (mut seen_nodes, mut seen_edges) = (HashSet::new(), HashSet::new());
    let first = |list: &mut Vec<First>, seen: &mut HashSet<Arc<str>>, id: &Arc<str>, len| {
        if seen.insert(id.clone()) {
            list.push(First {
                id: id.clone(),
                len_before: len,
            });
        }
    };
    let mut groups = false;
    let mut settings: Option<&CanvasSettings> = None;
    let mut metadata_before: Option<&Map<String, Value>> = None;
    for undo in journal {
        match undo {
            Undo::NodeAdded(id) => first(&mut nodes, &mut seen_nodes, id, None),
            Undo::NodeRemoved { id, entry, .. } => {
                let len = (!seen_nodes.contains(id)).then(|| json_len(&node_doc(id, entry)));
                first(&mut nodes, &mut seen_nodes, id, len);
            }
            Undo::NodeChanged { id, entry, .. } => {
                let len = (!seen_nodes.contains(id)).then(|| json_len(&node_doc(id, entry)));
                first(&mut nodes, &mut seen_nodes, id, len);
            }
            Undo::EdgeAdded { id, .. } => first(&mut edges, &mut seen_edges, id, None),
            Undo::EdgeRemoved { id, edge, .. } => {
                let len = (!seen_edges.contains(id)).then(|| json_len(&removed_edge(id, edge)));
                first(&mut edges, &mut seen_edges, id, len);
            }
            Undo::GroupAdded(_) | Undo::GroupRemoved { .. } | Undo::GroupChanged(_) => {
                groups = true;
            }
            Undo::CanvasChanged(old) => {
                settings.get_or_insert(old);
                if metadata_before.is_none() {
                    metadata_before = old.metadata.as_ref();
                }
            }
        }
    }

    let mut size_change = canvas.header_json_len() as i64 - before.header_len as i64;
    let (nodes, change) = touched(&nodes, canvas.nodes.len(), |id| {
        let index = canvas.nodes.get_index_of(id)?;
        Some((index, node_doc(id, &canvas.nodes[index])))
    });
    size_change += change;
    let (edges, change) = touched(&edges, canvas.edges.len(), |id| {
        let index = canvas.edges.get_index_of(id)?;
        Some((index, canvas.edge_doc(&canvas.edges[index])))
    });
    size_change += change;
    Delta {
        revision: canvas.revision,
        updated_at: canvas.updated_at.clone(),
        nodes,
        edges,
        groups: groups.then(|| canvas.groups.values().cloned().collect()),
        name: settings
            .filter(|s| s.name != canvas.name)
            .map(|_| canvas.name.clone()),
        viewport: settings
            .filter(|s| s.viewport != canvas.viewport)
            .map(|_| canvas.viewport),
        story: settings
            .filter(|s| s.story != canvas.story)
            .map(|_| canvas.story),
        metadata: metadata_before
            .filter(|m| **m != canvas.metadata)
            .map(|_| canvas.metadata.clone()),
        size_change,
    }
}

/// The touched items as they are now, and how many bytes their list's JSON
/// grew: each item's length, and a comma between two items.
fn touched<T: serde::Serialize>(
    firsts: &[First],
    count_after: usize,
    now: impl Fn(&str) -> Option<(usize, T)>,
) -> (Vec<Touched<T>>, i64) {
    let mut change = 0_i64;
    let mut count_before = count_after as i64;
    let list = firsts
        .iter()
        .map(|f| {
            let after = now(&f.id);
            let len_after = after.as_ref().map(|(_, item)| json_len(item));
            change += len_after.unwrap_or(0) as i64 - f.len_before.unwrap_or(0) as i64;
            count_before += i64::from(f.len_before.is_some()) - i64::from(len_after.is_some());
            Touched {
                id: f.id.to_string(),
                existed: f.len_before.is_some(),
                after,
            }
        })
        .collect();
    let commas = |count: i64| count.max(1) - 1;
    (
        list,
        change + commas(count_after as i64) - commas(count_before),
    )
}

fn removed_edge(id: &str, edge: &RemovedEdge) -> Edge {
    match edge {
        RemovedEdge::Live {
            source,
            target,
            link,
        } => Edge {
            id: id.to_owned(),
            source: PortRef::new(&**source, &*link.source_port),
            target: PortRef::new(&**target, &*link.target_port),
        },
        RemovedEdge::Detached(d) => d.0.clone(),
    }
}
