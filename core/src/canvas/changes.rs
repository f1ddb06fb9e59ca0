//! Which nodes changed at which revision, so a planner can update its keys
//! for just those nodes and what lies downstream of them.

use std::sync::Arc;

/// Most entries kept; beyond that the log starts over and a planner older
/// than the restart plans from scratch. Bounded so a long editing session
/// costs nothing.
const MAX_ENTRIES: usize = 16_384;

/// One node whose content or incoming edges changed in an apply.
#[derive(Debug, Clone)]
pub(crate) struct Change {
    pub revision: u64,
    pub node: Arc<str>,
    /// Nodes or edges came or went: the shape of the graph changed, not only
    /// this node's content.
    pub structural: bool,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct ChangeLog {
    /// Every change after this revision is in `entries`.
    floor: u64,
    entries: Vec<Change>,
}

impl ChangeLog {
    /// A log that knows nothing before `revision`.
    pub fn starting_at(revision: u64) -> Self {
        ChangeLog {
            floor: revision,
            entries: Vec::new(),
        }
    }

    /// Records the changes of the apply that made `revision`. `at_least`:
    /// how many `changes` surely holds; when that many cannot fit, the log
    /// starts over at once, without reading them (a big apply's case).
    pub fn record(
        &mut self,
        revision: u64,
        at_least: usize,
        changes: impl IntoIterator<Item = Change>,
    ) {
        if self.entries.len() + at_least > MAX_ENTRIES {
            self.floor = revision;
            self.entries.clear();
            return;
        }
        for change in changes {
            if self.entries.len() == MAX_ENTRIES {
                self.floor = change.revision;
                self.entries.clear();
                // The rest of this revision's changes would be incomplete.
                return;
            }
            self.entries.push(change);
        }
    }

    /// The changes made after `revision`, or `None` when the log no longer
    /// reaches back that far.
    pub fn since(&self, revision: u64) -> Option<&[Change]> {
        if revision < self.floor {
            return None;
        }
        let start = self.entries.partition_point(|c| c.revision <= revision);
        Some(&self.entries[start..])
    }
}
