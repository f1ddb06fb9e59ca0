//! [`SharedWork`]: one execution of a content key at a time per executor.
//!
//! Runs that start together often need the same work (the same canvas run
//! twice, two variants sharing upstream nodes). Each would miss the cache,
//! because the result is stored only when the first of them finishes, and
//! run the function again. Here the first task of a key leads; the others
//! follow: they wait for the leader's result instead of running. A leader
//! that fails, is cancelled or makes a degraded result hands nothing on, and
//! its followers try again (one of them leads).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::watch;

use crate::content_key::ContentKey;
use crate::runner::Outputs;

/// What a leader hands its followers: `Some` outputs, or `None` when they
/// have to make them themselves.
type Handed = Option<Option<Arc<Outputs>>>;

/// The keys being executed, each with the channel its result goes out on
/// once a follower asks for one: most keys have none, and a channel is a
/// sizeable allocation per task.
#[derive(Debug, Default)]
pub(crate) struct SharedWork {
    /// Keys are BLAKE3 hashes already: foldhash, not SipHash.
    leading: Mutex<HashMap<ContentKey, Option<watch::Sender<Handed>>, foldhash::fast::RandomState>>,
}

/// A task's part in the work of its key.
pub(crate) enum Turn {
    /// Nobody executes the key: this task does.
    Lead(Leader),
    /// Another task executes it: wait with [`Follower::result`].
    Follow(Follower),
}

impl SharedWork {
    pub(crate) fn join(self: &Arc<Self>, key: ContentKey) -> Turn {
        let mut leading = self.leading.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(sender) = leading.get_mut(&key) {
            let sender = sender.get_or_insert_with(|| watch::channel(None).0);
            return Turn::Follow(Follower {
                result: sender.subscribe(),
            });
        }
        leading.insert(key, None);
        Turn::Lead(Leader {
            work: Arc::clone(self),
            key,
            ended: false,
        })
    }
}

/// The task that executes a key. Dropping it without [`Leader::hand_on`]
/// (a cancelled or panicking task) tells the followers to go on themselves.
pub(crate) struct Leader {
    work: Arc<SharedWork>,
    key: ContentKey,
    ended: bool,
}

impl Leader {
    /// Ends the lead, handing `outputs` (or nothing) to the followers.
    pub(crate) fn hand_on(mut self, outputs: Option<Arc<Outputs>>) {
        self.end(outputs);
    }

    fn end(&mut self, outputs: Option<Arc<Outputs>>) {
        if std::mem::replace(&mut self.ended, true) {
            return;
        }
        // Out of the table first: a task joining after this leads anew
        // (and finds the result in the cache).
        let sender = self
            .work
            .leading
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.key)
            .flatten();
        // No follower, or none left, is fine.
        if let Some(sender) = sender {
            let _ = sender.send(Some(outputs));
        }
    }
}

impl Drop for Leader {
    fn drop(&mut self) {
        self.end(None);
    }
}

/// A task waiting for a leader's result.
pub(crate) struct Follower {
    result: watch::Receiver<Handed>,
}

impl Follower {
    /// The leader's outputs, or `None` when the task has to execute after
    /// all (join again: a new leader may have started meanwhile).
    pub(crate) async fn result(mut self) -> Option<Arc<Outputs>> {
        match self.result.wait_for(Option::is_some).await {
            Ok(handed) => handed.clone().flatten(),
            // The leader went without a word.
            Err(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> ContentKey {
        ContentKey([byte; 32])
    }

    fn outputs(text: &str) -> Arc<Outputs> {
        Arc::new(Outputs::from_iter([(
            "out".to_owned(),
            serde_json::json!(text),
        )]))
    }

    #[tokio::test]
    async fn followers_get_the_leader_s_outputs_and_the_key_is_free_after() {
        let work = Arc::new(SharedWork::default());
        let Turn::Lead(leader) = work.join(key(1)) else {
            panic!("the first task leads")
        };
        let Turn::Follow(follower) = work.join(key(1)) else {
            panic!("the second follows")
        };
        assert!(
            matches!(work.join(key(2)), Turn::Lead(_)),
            "another key leads"
        );
        leader.hand_on(Some(outputs("a")));
        assert_eq!(follower.result().await, Some(outputs("a")));
        assert!(
            matches!(work.join(key(1)), Turn::Lead(_)),
            "the key is free again"
        );
    }

    #[tokio::test]
    async fn a_leader_that_goes_without_a_result_sends_followers_on_themselves() {
        let work = Arc::new(SharedWork::default());
        let Turn::Lead(leader) = work.join(key(1)) else {
            panic!("the first task leads")
        };
        let Turn::Follow(follower) = work.join(key(1)) else {
            panic!("the second follows")
        };
        drop(leader);
        assert_eq!(follower.result().await, None);
        let Turn::Lead(failed) = work.join(key(1)) else {
            panic!("a new leader")
        };
        let Turn::Follow(follower) = work.join(key(1)) else {
            panic!("a follower")
        };
        failed.hand_on(None);
        assert_eq!(follower.result().await, None);
    }
}
