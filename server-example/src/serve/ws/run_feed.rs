//! One hub subscription per run for every connection that follows it live.
//!
//! Why: with a subscription per connection, ten thousand followers of a run
//! meant ten thousand tasks woken one after another for every event (the
//! hub passes a wake on from subscriber to subscriber), and the last of
//! them got the event a long queue of task switches later. The feed reads
//! the run's events once, makes each into an item once, and puts it into
//! every follower's outbox in one pass, handing the followers to the batch
//! window together (a window that closes at once then sends to them all).
//!
//! A follower joins when it has had every event before the feed's next
//! one: a subscription that replays older events (`since`) reads them on
//! its own first, then joins. A follower that is ahead of the feed (it
//! read events the feed has not handed out yet) joins at once, and the
//! feed skips for it what it had. Each follower's events stay in `seq`
//! order, without gaps or repeats.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use reelgraph::exec::{RunEvent, Subscription};
use tokio::sync::oneshot;

use super::client::Client;
use super::outbox::Pushed;
use super::topics::run_fell_behind;
use crate::serve::encoded::{Encoded, Outgoing};

/// The feeds of the runs someone follows, by run id.
#[derive(Debug, Default)]
pub struct RunFeeds {
    runs: Mutex<HashMap<String, Weak<RunFeed>>>,
}

/// Runs with followers and forgotten ones, before the map is swept.
const SWEEP_AT: usize = 64;

impl RunFeeds {
    /// The feed of run `id`, shared while someone follows it.
    pub fn of(&self, id: &str) -> Arc<RunFeed> {
        let mut runs = self.runs.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(feed) = runs.get(id).and_then(Weak::upgrade) {
            return feed;
        }
        if runs.len() >= SWEEP_AT {
            runs.retain(|_, feed| feed.strong_count() > 0);
        }
        let feed = Arc::new(RunFeed {
            id: id.to_owned(),
            items: RunItems::default(),
            followers: Mutex::default(),
        });
        runs.insert(id.to_owned(), Arc::downgrade(&feed));
        feed
    }
}

/// One run's followers and the items made of its events.
#[derive(Debug)]
pub struct RunFeed {
    id: String,
    items: RunItems,
    followers: Mutex<Followers>,
}

#[derive(Debug, Default)]
struct Followers {
    /// The `seq` of the next event the feed hands out; `None` while no task
    /// reads the run for the feed.
    next: Option<u64>,
    by_number: HashMap<u64, Follower>,
    numbered: u64,
}

#[derive(Debug)]
struct Follower {
    client: Arc<Client>,
    /// The `seq` of the next event this follower is to get.
    next: u64,
    /// Dropped when the feed lets the follower go (the run's events ended,
    /// or the client is too slow).
    _following: oneshot::Sender<()>,
}

/// A follower's place in a feed: leaves the feed when dropped.
#[derive(Debug)]
pub struct Following {
    feed: Arc<RunFeed>,
    number: u64,
    let_go: oneshot::Receiver<()>,
}

impl Following {
    /// Waits until the feed lets this follower go: the run's events have
    /// all gone out, or the client became too slow.
    pub async fn until_let_go(&mut self) {
        let _ = (&mut self.let_go).await;
    }
}

impl Drop for Following {
    fn drop(&mut self) {
        self.feed.lock().by_number.remove(&self.number);
    }
}

impl RunFeed {
    /// The item of `event`, made once for every follower.
    pub fn item(&self, event: &RunEvent) -> Arc<dyn Outgoing> {
        self.items.item(event)
    }

    /// Joins the feed with `client`, whose next event is `next`, reading
    /// the run from `subscribe` when no task reads it yet. `None` when the
    /// feed is ahead of the client (it handed out events the client has
    /// not had): the client reads on by itself and asks again.
    pub fn join(
        self: &Arc<Self>,
        client: &Arc<Client>,
        next: u64,
        subscribe: impl FnOnce(u64) -> Option<Subscription>,
    ) -> Option<Following> {
        let mut followers = self.lock();
        match followers.next {
            Some(feed_next) if feed_next > next => return None,
            Some(_) => {}
            None => {
                let subscription = subscribe(next)?;
                followers.next = Some(next);
                tokio::spawn(self.clone().read(subscription));
            }
        }
        let (following, let_go) = oneshot::channel();
        followers.numbered += 1;
        let number = followers.numbered;
        followers.by_number.insert(
            number,
            Follower {
                client: client.clone(),
                next,
                _following: following,
            },
        );
        Some(Following {
            feed: self.clone(),
            number,
            let_go,
        })
    }

    /// Hands out the run's events until they end or no one follows.
    async fn read(self: Arc<Self>, mut subscription: Subscription) {
        loop {
            match subscription.next_batch().await {
                Ok(Some(batch)) => {
                    let items: Vec<(u64, Arc<dyn Outgoing>)> = batch
                        .iter()
                        .map(|event| (event.seq, self.items.item(event)))
                        .collect();
                    let next = subscription.next_seq();
                    let mut followers = self.lock();
                    let mut due = Vec::new();
                    followers.by_number.retain(|_, follower| {
                        for (seq, item) in &items {
                            if *seq < follower.next {
                                continue;
                            }
                            match follower.client.outbox.push(item.clone()) {
                                Pushed::First => due.push(follower.client.clone()),
                                Pushed::Queued => {}
                                Pushed::Full => return false,
                            }
                            follower.next = seq + 1;
                        }
                        true
                    });
                    if let Some(shared) = due.first().map(|client| client.shared.clone()) {
                        shared.window.send_all_after(due);
                    }
                    followers.next = Some(next);
                    if followers.by_number.is_empty() {
                        // The next follower starts a new read where it is.
                        followers.next = None;
                        return;
                    }
                }
                Ok(None) => {
                    let mut followers = self.lock();
                    followers.next = None;
                    followers.by_number.clear();
                    return;
                }
                // Fallen behind what the hub keeps (the feed never waits
                // for a client, so only a stalled server gets here).
                Err(_) => {
                    let mut followers = self.lock();
                    followers.next = None;
                    for (_, follower) in followers.by_number.drain() {
                        follower.client.send(run_fell_behind(&self.id));
                    }
                    return;
                }
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, Followers> {
        self.followers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// A run's recent events as items, by `seq`, without gaps: the feed and
/// followers that read older events by themselves share them.
#[derive(Debug, Default)]
struct RunItems {
    items: Mutex<VecDeque<Arc<Encoded<RunEvent>>>>,
}

/// Items kept per run: followers at most this far apart share them.
const KEPT: usize = 4096;

impl RunItems {
    /// The item of `event`: the one made already, or a new one kept for
    /// the followers after this one.
    fn item(&self, event: &RunEvent) -> Arc<dyn Outgoing> {
        let mut items = self.items.lock().unwrap_or_else(PoisonError::into_inner);
        let first = items.front().map_or(event.seq, |item| item.value.seq);
        let next = first + items.len() as u64;
        if (first..next).contains(&event.seq)
            && let Some(item) = usize::try_from(event.seq - first)
                .ok()
                .and_then(|i| items.get(i))
        {
            return item.clone();
        }
        let item = Arc::new(Encoded::new(event.clone()));
        if event.seq < first {
            // Older than what is kept: made for this follower alone.
            return item;
        }
        if event.seq != next {
            items.clear();
        } else if items.len() == KEPT {
            items.pop_front();
        }
        items.push_back(item.clone());
        item
    }
}
