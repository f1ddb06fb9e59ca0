//! What one apply changed, as parts of the document: the nodes and edges it
//! touched as they are after it (with their places in the canvas order),
//! the canvas-level fields it changed, and how many bytes the document's
//! JSON grew. A store that keeps a journal writes this instead of the whole
//! document, and brings a stored document forward with [`Delta::apply_to`].
//! That needs no catalogue, so node types registered at run time and since
//! forgotten never stop a journal from being read.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::model::{CanvasDocument, Edge, Group, Node, Story, Viewport};

/// The change one [`crate::Canvas::apply_recorded`] made, from revision
/// `revision - 1` to `revision`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Delta {
    /// The revision the change made.
    pub revision: u64,
    pub updated_at: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<Touched<Node>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub edges: Vec<Touched<Edge>>,
    /// Every group, when any group changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<Group>>,
    /// The canvas-level fields, each only when it changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub viewport: Option<Viewport>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub story: Option<Story>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
    /// How many bytes the document's JSON grew (negative when it shrank).
    pub size_change: i64,
}

/// A node or an edge an apply touched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, bound(deserialize = "T: Deserialize<'de>"))]
pub struct Touched<T> {
    pub id: String,
    /// Whether it was there before the apply.
    pub existed: bool,
    /// Its place in the canvas order after the apply, and what it is then;
    /// none when the apply removed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<(usize, T)>,
}

impl Delta {
    /// Brings `doc`, at revision `revision - 1`, to this delta's revision.
    /// A document it does not fit (another revision, a place past the end
    /// of a list) is left unchanged and the error says why.
    pub fn apply_to(&self, doc: &mut CanvasDocument) -> Result<(), String> {
        if doc.revision.checked_add(1) != Some(self.revision) {
            return Err(format!(
                "a change to revision {} does not follow revision {}",
                self.revision, doc.revision
            ));
        }
        let (mut nodes, mut edges) = (doc.nodes.clone(), doc.edges.clone());
        place(&mut nodes, &self.nodes, |n| &n.id)?;
        place(&mut edges, &self.edges, |e| &e.id)?;
        (doc.nodes, doc.edges) = (nodes, edges);
        doc.revision = self.revision;
        doc.updated_at.clone_from(&self.updated_at);
        if let Some(groups) = &self.groups {
            doc.groups.clone_from(groups);
        }
        if let Some(name) = &self.name {
            doc.name.clone_from(name);
        }
        if let Some(viewport) = self.viewport {
            doc.viewport = viewport;
        }
        if let Some(story) = self.story {
            doc.story = story;
        }
        if let Some(metadata) = &self.metadata {
            doc.metadata.clone_from(metadata);
        }
        Ok(())
    }

    /// How many nodes and edges it added, removed and changed.
    pub fn counts(&self) -> (Counts, Counts) {
        (Counts::of(&self.nodes), Counts::of(&self.edges))
    }
}

/// How many items a delta added, removed and changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub added: usize,
    pub removed: usize,
    pub changed: usize,
}

impl Counts {
    fn of<T>(touched: &[Touched<T>]) -> Counts {
        let mut counts = Counts::default();
        for t in touched {
            match (t.existed, t.after.is_some()) {
                (false, true) => counts.added += 1,
                (true, false) => counts.removed += 1,
                (true, true) => counts.changed += 1,
                (false, false) => {}
            }
        }
        counts
    }
}

/// Takes the touched items out of `list` and puts those still there back at
/// their places. Untouched items keep their order (the canvas's maps shift
/// on insert and remove), so inserting by ascending place rebuilds the list.
fn place<T: Clone>(
    list: &mut Vec<T>,
    touched: &[Touched<T>],
    id: impl Fn(&T) -> &String,
) -> Result<(), String> {
    let ids: HashSet<&str> = touched.iter().map(|t| t.id.as_str()).collect();
    list.retain(|item| !ids.contains(id(item).as_str()));
    let mut placed: Vec<&(usize, T)> = touched.iter().filter_map(|t| t.after.as_ref()).collect();
    placed.sort_by_key(|(index, _)| *index);
    for (index, item) in placed {
        if *index > list.len() {
            return Err(format!(
                "a change puts `{}` at place {index} of a list of {}",
                id(item),
                list.len()
            ));
        }
        list.insert(*index, item.clone());
    }
    Ok(())
}

/// The length of `value`'s JSON, counted without building it.
pub(crate) fn json_len(value: &impl Serialize) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Writing plain data to a counter cannot fail.
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}
