//! The canvas change feed: what `Canvases::apply`, `replace` and `delete`
//! publish, per canvas, to whoever follows it (WebSocket clients). Each
//! change is an `Arc<Encoded<..>>`, serialised once per wire format.
//!
//! A canvas's topic keeps its last [`RECENT`] changes, so a client that
//! reconnects with the last revision it saw gets what came after; when that
//! is older than what is kept, it is told to reload ([`Joined::resync`]).
//! Publishing never waits for a follower: a follower that lags behind the
//! broadcast's buffer learns it (`Lagged`) and must reload.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use reelgraph::Event;
use reelgraph::exec::Timestamp;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::serve::encoded::{Encoded, Format, Outgoing};
use axum::body::Bytes;

/// Changes kept per canvas for replay.
pub const RECENT: usize = 256;
/// Changes a follower may be behind before it lags.
const BUFFER: usize = 1024;

/// A change of a canvas as followers get it: the core's `canvas_changed`
/// event, or a notice that the canvas was replaced or deleted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum CanvasChange {
    /// Ops applied: the core's [`Event`] (`canvas_changed`).
    Changed(Event),
    /// The canvas was replaced or deleted: reload it (or forget it).
    Notice(CanvasNotice),
}

/// A change that is not a list of ops.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum CanvasNotice {
    /// The whole document was replaced (`PUT`): reload it.
    CanvasReplaced {
        canvas_id: String,
        seq: u64,
        revision: u64,
        ts: Timestamp,
    },
    /// The canvas was deleted.
    CanvasDeleted { canvas_id: String, ts: Timestamp },
}

/// One published change: its revision (none for a deletion) and its body.
#[derive(Debug)]
pub struct Change {
    pub revision: Option<u64>,
    pub body: Encoded<CanvasChange>,
}

impl Outgoing for Change {
    fn bytes(&self, format: Format) -> Bytes {
        self.body.bytes(format)
    }
}

/// What a follower gets when it joins a canvas's topic.
#[derive(Debug)]
pub struct Joined {
    /// Kept changes after the revision it asked for, oldest first.
    pub replay: Vec<Arc<Change>>,
    /// The revision asked for is older than what is kept: reload the canvas.
    pub resync: bool,
    /// Changes from now on.
    pub live: broadcast::Receiver<Arc<Change>>,
}

#[derive(Debug)]
struct Topic {
    recent: VecDeque<Arc<Change>>,
    sender: broadcast::Sender<Arc<Change>>,
}

impl Default for Topic {
    fn default() -> Topic {
        Topic {
            recent: VecDeque::new(),
            sender: broadcast::channel(BUFFER).0,
        }
    }
}

/// Every canvas's topic.
#[derive(Debug, Default)]
pub struct Feed {
    topics: Mutex<HashMap<String, Topic>>,
}

impl Feed {
    fn topics(&self) -> MutexGuard<'_, HashMap<String, Topic>> {
        self.topics.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Publishes the change an apply made.
    pub fn changed(&self, event: &Event) {
        let Event::CanvasChanged {
            canvas_id,
            revision,
            ops,
            ..
        } = event
        else {
            return;
        };
        // An apply of no ops changed nothing.
        if ops.is_empty() {
            return;
        }
        let id = canvas_id.clone();
        self.publish(&id, Some(*revision), CanvasChange::Changed(event.clone()));
    }

    /// Publishes that canvas `id` was replaced, now at `revision`.
    pub fn replaced(&self, id: &str, revision: u64) {
        let notice = CanvasNotice::CanvasReplaced {
            canvas_id: id.to_owned(),
            seq: revision,
            revision,
            ts: Timestamp::now(),
        };
        self.publish(id, Some(revision), CanvasChange::Notice(notice));
    }

    /// Publishes that canvas `id` was deleted, and forgets its changes.
    pub fn deleted(&self, id: &str) {
        let notice = CanvasNotice::CanvasDeleted {
            canvas_id: id.to_owned(),
            ts: Timestamp::now(),
        };
        let change = Arc::new(Change {
            revision: None,
            body: Encoded::new(CanvasChange::Notice(notice)),
        });
        if let Some(topic) = self.topics().remove(id) {
            let _ = topic.sender.send(change);
        }
    }

    fn publish(&self, id: &str, revision: Option<u64>, body: CanvasChange) {
        let change = Arc::new(Change {
            revision,
            body: Encoded::new(body),
        });
        let mut topics = self.topics();
        let topic = topics.entry(id.to_owned()).or_default();
        if topic.recent.len() == RECENT {
            topic.recent.pop_front();
        }
        topic.recent.push_back(change.clone());
        // No follower is no error.
        let _ = topic.sender.send(change);
    }

    /// Follows canvas `id`, which is at `current` (or later), from after
    /// revision `since`: the kept changes after it, then every new one.
    pub fn join(&self, id: &str, since: u64, current: u64) -> Joined {
        let mut topics = self.topics();
        let topic = topics.entry(id.to_owned()).or_default();
        let replay: Vec<Arc<Change>> = topic
            .recent
            .iter()
            .filter(|c| c.revision.is_some_and(|r| r > since))
            .cloned()
            .collect();
        let first_kept = replay.first().and_then(|c| c.revision);
        // Changes after `since` happened that are no longer kept: from the
        // canvas's revision (nothing kept after it) or the gap before the
        // first kept one.
        let resync = since > current.max(topic.recent.back().and_then(|c| c.revision).unwrap_or(0))
            || match first_kept {
                Some(first) => first > since + 1,
                None => current > since,
            };
        Joined {
            replay,
            resync,
            live: topic.sender.subscribe(),
        }
    }
}

#[cfg(test)]
mod tests {
    use reelgraph::{Canvas, Catalog, Op};
    use serde_json::json;

    use super::*;

    fn edits(feed: &Feed, canvas: &mut Canvas, n: usize) {
        for i in 0..n {
            let applied = canvas
                .apply(vec![Op::add_node(
                    &format!("s{}", canvas.revision() + 1),
                    "shot",
                    json!({"number": i + 1}),
                )])
                .expect("an op that applies");
            feed.changed(&applied.event);
        }
    }

    #[test]
    fn a_follower_gets_what_came_after_its_revision() {
        let feed = Feed::default();
        let mut canvas = Canvas::new(Catalog::builtin(), "c", "C");
        edits(&feed, &mut canvas, 3);
        let joined = feed.join("c", 1, 3);
        assert!(!joined.resync);
        let revisions: Vec<_> = joined.replay.iter().map(|c| c.revision).collect();
        assert_eq!(revisions, [Some(2), Some(3)]);
        let up_to_date = feed.join("c", 3, 3);
        assert!(!up_to_date.resync && up_to_date.replay.is_empty());
    }

    #[test]
    fn a_revision_older_than_what_is_kept_asks_for_a_reload() {
        let feed = Feed::default();
        let mut canvas = Canvas::new(Catalog::builtin(), "c", "C");
        edits(&feed, &mut canvas, RECENT + 2);
        assert!(feed.join("c", 1, canvas.revision()).resync);
        assert!(!feed.join("c", 2, canvas.revision()).resync);
        // Nothing kept (a restart): any older revision asks for a reload.
        assert!(feed.join("other", 4, 5).resync);
        // A revision the canvas never had.
        assert!(feed.join("other", 9, 5).resync);
        assert!(!feed.join("other", 5, 5).resync);
    }

    #[test]
    fn followers_get_new_changes_and_the_deletion() {
        let feed = Feed::default();
        let mut canvas = Canvas::new(Catalog::builtin(), "c", "C");
        let mut joined = feed.join("c", 0, 0);
        edits(&feed, &mut canvas, 1);
        feed.replaced("c", 2);
        feed.deleted("c");
        let kinds: Vec<_> = std::iter::from_fn(|| joined.live.try_recv().ok())
            .map(|c| serde_json::to_value(&c.body.value).expect("JSON")["type"].clone())
            .collect();
        assert_eq!(
            kinds,
            ["canvas_changed", "canvas_replaced", "canvas_deleted"]
        );
        // Deleted: its changes are gone.
        assert!(feed.join("c", 0, 0).replay.is_empty());
    }
}
