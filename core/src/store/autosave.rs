//! Autosave: saves a dirty canvas after a quiet period, and at least every
//! `max_interval` while edits keep coming; flushes on close; never saves a
//! clean canvas; reports a `conflict` instead of overwriting.
//!
//! The saver is a future you run on your own runtime (the core never spawns
//! tasks behind your back):
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use std::sync::{Arc, Mutex};
//! use reelgraph::store::{autosave, AutosaveOptions, CanvasStore, MemoryStore};
//! use reelgraph::{Canvas, Catalog, Op};
//! use serde_json::json;
//!
//! let store = Arc::new(MemoryStore::new());
//! let canvas = Canvas::new(Catalog::builtin(), "reel", "Reel");
//! store.create(&canvas.to_document()).await?;
//! let canvas = Arc::new(Mutex::new(canvas));
//!
//! let (saver, task, mut events) = autosave(canvas.clone(), store.clone(), 0, AutosaveOptions::default());
//! let running = tokio::spawn(task);
//!
//! canvas.lock().unwrap().apply(vec![Op::add_node("s1", "shot", json!({"number": 1}))])?;
//! saver.touch();
//! saver.close();            // flushes the pending change
//! running.await.unwrap();
//! assert_eq!(store.get("reel").await?.revision, 1);
//! assert!(matches!(events.recv().await, Some(reelgraph::store::AutosaveEvent::Saved { revision: 1, .. })));
//! # Ok::<(), reelgraph::Error>(())
//! # });
//! ```

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};

use super::CanvasStore;
use crate::canvas::Canvas;
use crate::error::Error;
use crate::event::Timestamp;

/// When the autosaver saves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
pub struct AutosaveOptions {
    /// Save once no change has come for this long. Default 2 s.
    #[serde(rename = "quiet_period_ms", with = "crate::wire::millis")]
    #[cfg_attr(feature = "schema", schemars(with = "u64"))]
    pub quiet_period: Duration,
    /// While changes keep coming, save at least this often. Default 10 s.
    #[serde(rename = "max_interval_ms", with = "crate::wire::millis")]
    #[cfg_attr(feature = "schema", schemars(with = "u64"))]
    pub max_interval: Duration,
}

impl Default for AutosaveOptions {
    fn default() -> Self {
        AutosaveOptions {
            quiet_period: Duration::from_secs(2),
            max_interval: Duration::from_secs(10),
        }
    }
}

/// What the autosaver did, in the envelope of [`crate::event`]: `seq`
/// counts this autosaver's events from 0 without gaps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum AutosaveEvent {
    Saved {
        canvas_id: String,
        seq: u64,
        ts: Timestamp,
        revision: u64,
    },
    /// Someone else saved first. The autosaver stops saving this canvas
    /// until [`Autosaver::rebased`] says the conflict is resolved.
    Conflict {
        canvas_id: String,
        seq: u64,
        ts: Timestamp,
        expected: u64,
        current: u64,
    },
    /// A save failed for another reason; the change stays pending and is retried.
    Failed {
        canvas_id: String,
        seq: u64,
        ts: Timestamp,
        code: String,
        message: String,
    },
}

impl AutosaveEvent {
    /// The event's place in its autosaver's sequence.
    pub fn seq(&self) -> u64 {
        match self {
            AutosaveEvent::Saved { seq, .. }
            | AutosaveEvent::Conflict { seq, .. }
            | AutosaveEvent::Failed { seq, .. } => *seq,
        }
    }
}

#[derive(Debug)]
enum Message {
    /// A change, stamped when it happened (not when the task got to it).
    Touch(Instant),
    Rebased(u64, Instant),
    Close,
}

/// The handle that tells the autosaver about changes.
#[derive(Debug, Clone)]
pub struct Autosaver {
    tx: mpsc::UnboundedSender<Message>,
}

impl Autosaver {
    /// The canvas changed (call after each successful apply).
    pub fn touch(&self) {
        // A closed saver has flushed already; a late touch has nothing to do.
        let _ = self.tx.send(Message::Touch(Instant::now()));
    }

    /// After a conflict: the canvas now builds on stored revision `revision`
    /// (e.g. it was reloaded and the user's ops re-applied); saving resumes.
    pub fn rebased(&self, revision: u64) {
        let _ = self.tx.send(Message::Rebased(revision, Instant::now()));
    }

    /// Saves what is pending and ends the task.
    pub fn close(&self) {
        let _ = self.tx.send(Message::Close);
    }
}

/// Creates an autosaver for `canvas`, which the store holds at
/// `stored_revision`. Returns the handle, the future to run, and the events.
/// The task also ends (after a flush) when every handle is dropped.
pub fn autosave(
    canvas: Arc<Mutex<Canvas>>,
    store: Arc<dyn CanvasStore>,
    stored_revision: u64,
    options: AutosaveOptions,
) -> (
    Autosaver,
    impl Future<Output = ()> + Send + 'static,
    mpsc::UnboundedReceiver<AutosaveEvent>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let (events_tx, events_rx) = mpsc::unbounded_channel();
    let state = SaverState {
        canvas,
        store,
        stored_revision,
        options,
        events: events_tx,
        seq: 0,
        conflicted: false,
    };
    (Autosaver { tx }, state.run(rx), events_rx)
}

struct SaverState {
    canvas: Arc<Mutex<Canvas>>,
    store: Arc<dyn CanvasStore>,
    stored_revision: u64,
    options: AutosaveOptions,
    events: mpsc::UnboundedSender<AutosaveEvent>,
    /// The next event's `seq`.
    seq: u64,
    conflicted: bool,
}

impl SaverState {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Message>) {
        // (first change since the last save, latest change)
        let mut pending: Option<(Instant, Instant)> = None;
        loop {
            let deadline = pending.map(|(first, last)| {
                (last + self.options.quiet_period).min(first + self.options.max_interval)
            });
            let message = match deadline {
                None => rx.recv().await,
                Some(at) => tokio::select! {
                    m = rx.recv() => m,
                    () = sleep_until(at) => {
                        if self.save().await {
                            pending = None;
                        } else {
                            // Retry after another quiet period, not in a tight loop.
                            let now = Instant::now();
                            pending = Some((now, now));
                        }
                        continue;
                    }
                },
            };
            match message {
                Some(Message::Touch(at)) => {
                    pending = Some(pending.map_or((at, at), |(first, _)| (first, at)));
                }
                Some(Message::Rebased(revision, at)) => {
                    self.stored_revision = revision;
                    self.conflicted = false;
                    pending = Some((at, at));
                }
                Some(Message::Close) | None => {
                    self.save().await;
                    return;
                }
            }
        }
    }

    /// Saves if the canvas is ahead of the store. Returns whether nothing is
    /// left pending.
    async fn save(&mut self) -> bool {
        if self.conflicted {
            return true;
        }
        let doc = {
            let canvas = self.canvas.lock().unwrap_or_else(|e| e.into_inner());
            if canvas.revision() == self.stored_revision {
                return true;
            }
            canvas.to_document()
        };
        let id = doc.id.clone();
        match self.store.save(&doc, self.stored_revision).await {
            Ok(info) => {
                self.stored_revision = info.revision;
                let (seq, ts) = self.stamp();
                self.emit(AutosaveEvent::Saved {
                    canvas_id: id,
                    seq,
                    ts,
                    revision: info.revision,
                });
                true
            }
            Err(Error::Conflict {
                expected, current, ..
            }) => {
                self.conflicted = true;
                let (seq, ts) = self.stamp();
                self.emit(AutosaveEvent::Conflict {
                    canvas_id: id,
                    seq,
                    ts,
                    expected,
                    current,
                });
                true
            }
            Err(e) => {
                let (seq, ts) = self.stamp();
                self.emit(AutosaveEvent::Failed {
                    canvas_id: id,
                    seq,
                    ts,
                    code: e.code().into(),
                    message: e.to_string(),
                });
                false
            }
        }
    }

    /// The next event's `seq` and `ts`.
    fn stamp(&mut self) -> (u64, Timestamp) {
        self.seq += 1;
        (self.seq - 1, Timestamp::now())
    }

    fn emit(&self, event: AutosaveEvent) {
        // Nobody listening is fine: events are information, not control.
        let _ = self.events.send(event);
    }
}
