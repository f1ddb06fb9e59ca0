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
    let nodes = diff(&before.nodes, &after.nodes, |n| n.id.as_str());
    let edges = diff(&before.edges, &after.edges, |e| e.id.as_str());
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
    if before.groups != after.groups {
        parts.push("groups changed".into());
    }
    if before.name != after.name {
        parts.push("renamed".into());
    }
    if before.story != after.story {
        parts.push("story changed".into());
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

#[derive(Debug, Default)]
struct Diff {
    added: usize,
    removed: usize,
    changed: usize,
}

/// Counts items added, removed and changed between two lists keyed by id.
/// Successive versions mostly keep their order, so equal prefixes and suffixes
/// are compared in step and only the part in between is matched by id.
fn diff<'a, T: PartialEq>(before: &'a [T], after: &'a [T], id: impl Fn(&T) -> &str) -> Diff {
    let mut d = Diff::default();
    let same_ids = |a: &T, b: &T| id(a) == id(b);
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
    let old: HashMap<&str, &T> = old_middle.iter().map(|x| (id(x), x)).collect();
    let new: HashMap<&str, &T> = new_middle.iter().map(|x| (id(x), x)).collect();
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
        fn key<'a>(x: &'a (&'static str, i32)) -> &'a str {
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
