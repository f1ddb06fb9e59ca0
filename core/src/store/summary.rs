//! A one-line description of what changed between two versions of a canvas,
//! for version histories.

use std::collections::HashMap;
use std::hash::Hash;

use crate::model::CanvasDocument;

/// E.g. "+2 nodes, 1 node changed, -1 edge"; "created" without a previous
/// version; "no content change" when only revision or timestamps moved.
pub fn change_summary(before: Option<&CanvasDocument>, after: &CanvasDocument) -> String {
    let Some(before) = before else {
        return created(after.nodes.len(), after.edges.len());
    };
    Changes {
        nodes: diff(&before.nodes, &after.nodes, |n| n.id.as_str()),
        edges: diff(&before.edges, &after.edges, |e| e.id.as_str()),
        groups: before.groups != after.groups,
        renamed: before.name != after.name,
        story: before.story != after.story,
        metadata: before.metadata != after.metadata,
        viewport: before.viewport != after.viewport,
    }
    .describe()
}

/// The summary of a version saved as a [`Delta`], in the words of
/// [`change_summary`].
#[cfg(feature = "sqlite")]
pub(super) fn of_delta(delta: &crate::delta::Delta) -> String {
    let (nodes, edges) = delta.counts();
    let diff = |c: crate::delta::Counts| Diff {
        added: c.added,
        removed: c.removed,
        changed: c.changed,
    };
    Changes {
        nodes: diff(nodes),
        edges: diff(edges),
        groups: delta.groups.is_some(),
        renamed: delta.name.is_some(),
        story: delta.story.is_some(),
        metadata: delta.metadata.is_some(),
        viewport: delta.viewport.is_some(),
    }
    .describe()
}

/// The summary of a first version.
pub(super) fn created(nodes: usize, edges: usize) -> String {
    format!("created with {nodes} nodes, {edges} edges")
}

/// What differs between two versions; [`change_summary`] and the
/// fingerprints (`super::fingerprint`) both fill it, so both describe a
/// change in the same words.
#[derive(Debug)]
pub(super) struct Changes {
    pub(super) nodes: Diff,
    pub(super) edges: Diff,
    pub(super) groups: bool,
    pub(super) renamed: bool,
    pub(super) story: bool,
    pub(super) metadata: bool,
    pub(super) viewport: bool,
}

impl Changes {
    pub(super) fn describe(&self) -> String {
        let (nodes, edges) = (&self.nodes, &self.edges);
        let mut parts = Vec::new();
        push(&mut parts, "+", nodes.added, "node");
        push(&mut parts, "-", nodes.removed, "node");
        if nodes.changed > 0 {
            parts.push(format!(
                "{} {} changed",
                nodes.changed,
                plural(nodes.changed, "node")
            ));
        }
        push(&mut parts, "+", edges.added, "edge");
        push(&mut parts, "-", edges.removed, "edge");
        if self.groups {
            parts.push("groups changed".into());
        }
        if self.renamed {
            parts.push("renamed".into());
        }
        if self.story {
            parts.push("story changed".into());
        }
        if self.metadata {
            parts.push("metadata changed".into());
        }
        if self.viewport && parts.is_empty() {
            parts.push("viewport moved".into());
        }
        if parts.is_empty() {
            "no content change".into()
        } else {
            parts.join(", ")
        }
    }
}

#[derive(Debug, Default)]
pub(super) struct Diff {
    added: usize,
    removed: usize,
    changed: usize,
}

/// Counts items added, removed and changed between two lists keyed by id.
/// Successive versions mostly keep their order, so equal prefixes and suffixes
/// are compared in step and only the part in between is matched by id.
pub(super) fn diff<'a, T: PartialEq, K: Eq + Hash>(
    before: &'a [T],
    after: &'a [T],
    id: impl Fn(&'a T) -> K,
) -> Diff {
    let mut d = Diff::default();
    let same_ids = |a: &'a T, b: &'a T| id(a) == id(b);
    let head = before
        .iter()
        .zip(after)
        .take_while(|(a, b)| same_ids(a, b))
        .count();
    let tail = before[head..]
        .iter()
        .rev()
        .zip(after[head..].iter().rev())
        .take_while(|(a, b)| same_ids(a, b))
        .count();
    let in_step = before[..head].iter().zip(&after[..head]).chain(
        before[before.len() - tail..]
            .iter()
            .zip(&after[after.len() - tail..]),
    );
    d.changed = in_step.filter(|(a, b)| a != b).count();
    let old_middle = &before[head..before.len() - tail];
    let new_middle = &after[head..after.len() - tail];
    if old_middle.is_empty() || new_middle.is_empty() {
        d.removed = old_middle.len();
        d.added = new_middle.len();
        return d;
    }
    let old: HashMap<K, &T> = old_middle.iter().map(|x| (id(x), x)).collect();
    let new: HashMap<K, &T> = new_middle.iter().map(|x| (id(x), x)).collect();
    d.added = new.keys().filter(|k| !old.contains_key(*k)).count();
    d.removed = old.keys().filter(|k| !new.contains_key(*k)).count();
    d.changed += new
        .iter()
        .filter(|(k, x)| old.get(*k).is_some_and(|o| o != *x))
        .count();
    d
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

#[cfg(test)]
mod tests {
    use super::diff;

    fn ids(d: &super::Diff) -> (usize, usize, usize) {
        (d.added, d.removed, d.changed)
    }

    #[test]
    fn diffs_by_id_in_step_and_out_of_order() {
        fn key(x: &(&'static str, i32)) -> &'static str {
            x.0
        }
        let before = [("a", 1), ("b", 1), ("c", 1), ("d", 1)];
        // Same order, one value changed.
        assert_eq!(
            ids(&diff(
                &before,
                &[("a", 1), ("b", 2), ("c", 1), ("d", 1)],
                key
            )),
            (0, 0, 1)
        );
        // One removed in the middle, one appended.
        assert_eq!(
            ids(&diff(
                &before,
                &[("a", 1), ("c", 1), ("d", 1), ("e", 1)],
                key
            )),
            (1, 1, 0)
        );
        // Reordered and changed: matched by id, not by place.
        assert_eq!(
            ids(&diff(
                &before,
                &[("d", 1), ("c", 2), ("b", 1), ("a", 1)],
                key
            )),
            (0, 0, 1)
        );
        // Everything new.
        assert_eq!(ids(&diff(&before, &[("x", 1)], key)), (1, 4, 0));
    }
}
