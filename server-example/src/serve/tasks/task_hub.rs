//! [`TaskHub`]: task events for whoever follows a task (SSE, WebSocket, the
//! server's own remote runner), live from memory and replayed from the
//! queue.
//!
//! The queue stores each event with the change that made it and only then
//! is it published here, so the store always holds every event published.
//! A subscription listens first and reads the store second; it hands out
//! events by seq and, when the live channel skips one (out of order or
//! lagging), reads what it missed from the store. So each subscriber gets
//! every event once, in order, from any seq, also after a restart.
//!
//! A live event is one shared [`TaskItem`] for all its subscribers, so a
//! WebSocket serialises it once per wire format, not once per client.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use futures_util::stream::{self, BoxStream, StreamExt};
use reelgraph::remote::TaskEvent;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::queue::TaskQueue;
use crate::serve::api_error::ApiResult;
use crate::serve::encoded::Encoded;

/// Events a live channel holds for a slow subscriber before it lags (and
/// catches up from the store).
const CHANNEL_CAPACITY: usize = 256;

/// Live channels of the tasks someone follows. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct TaskHub {
    channels: Arc<Mutex<HashMap<String, broadcast::Sender<TaskItem>>>>,
}

/// A task event with its bytes in each wire format, made on first use.
pub type TaskItem = Arc<Encoded<Arc<TaskEvent>>>;

/// A subscription's events, in seq order; ends after the final event (or
/// when the server shuts down).
pub type TaskEvents = BoxStream<'static, Arc<TaskEvent>>;

/// [`TaskEvents`] as shared items, for WebSocket clients.
pub type TaskItems = BoxStream<'static, TaskItem>;

fn item(event: TaskEvent) -> TaskItem {
    Arc::new(Encoded::new(Arc::new(event)))
}

impl TaskHub {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, broadcast::Sender<TaskItem>>> {
        self.channels.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Hands stored events to the task's subscribers. A final event closes
    /// the channel (its subscribers still get it).
    pub fn publish(&self, event: TaskEvent) {
        let mut channels = self.lock();
        let id = event.task_id();
        let Some(sender) = channels.get(id) else {
            return;
        };
        let last = event.is_final();
        let id = id.to_owned();
        // No receiver left is not an error: the channel goes below.
        let _ = sender.send(item(event));
        if last || sender.receiver_count() == 0 {
            channels.remove(&id);
        }
    }

    /// Drops the channels nobody listens to any more.
    pub fn prune(&self) {
        self.lock().retain(|_, sender| sender.receiver_count() > 0);
    }

    /// Every event of task `id` from seq `since` on: stored ones first,
    /// then live ones; ends after the final event. 404 for an unknown task.
    pub async fn subscribe(
        &self,
        queue: Arc<dyn TaskQueue>,
        closing: CancellationToken,
        id: &str,
        since: u64,
    ) -> ApiResult<TaskItems> {
        let live = self
            .lock()
            .entry(id.to_owned())
            .or_insert_with(|| broadcast::channel(CHANNEL_CAPACITY).0)
            .subscribe();
        let stored = match queue.events(id, since).await {
            Ok(stored) => stored,
            Err(e) => {
                drop(live);
                self.prune();
                return Err(e);
            }
        };
        let follow = Follow {
            queue,
            id: id.to_owned(),
            live,
            next: since,
            backlog: stored.into_iter().map(item).collect(),
            ended: false,
            closing,
        };
        Ok(stream::unfold(follow, Follow::next_event).boxed())
    }
}

/// Where a subscription stands.
struct Follow {
    queue: Arc<dyn TaskQueue>,
    id: String,
    live: broadcast::Receiver<TaskItem>,
    /// The seq of the next event to hand out.
    next: u64,
    /// Events read from the store, not handed out yet.
    backlog: std::collections::VecDeque<TaskItem>,
    ended: bool,
    /// The server's shutdown: the stream ends, so a drain never waits on it.
    closing: CancellationToken,
}

impl Follow {
    async fn next_event(mut self) -> Option<(TaskItem, Follow)> {
        loop {
            if self.ended {
                return None;
            }
            while let Some(event) = self.backlog.pop_front() {
                if event.value.seq() < self.next {
                    continue;
                }
                return Some(self.hand_out(event));
            }
            let received = tokio::select! {
                received = self.live.recv() => received,
                () = self.closing.cancelled() => return None,
            };
            match received {
                Ok(event) if event.value.seq() < self.next => {}
                Ok(event) if event.value.seq() == self.next => return Some(self.hand_out(event)),
                // A gap: what is missing is stored already.
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => self.catch_up(false).await,
                // The final event was published before this subscription
                // listened, or the channel was dropped: the store has it.
                Err(broadcast::error::RecvError::Closed) => self.catch_up(true).await,
            }
        }
    }

    fn hand_out(mut self, event: TaskItem) -> (TaskItem, Follow) {
        self.next = event.value.seq() + 1;
        self.ended = event.value.is_final();
        (event, self)
    }

    async fn catch_up(&mut self, closed: bool) {
        match self.queue.events(&self.id, self.next).await {
            Ok(events) => {
                if closed && events.is_empty() {
                    self.ended = true;
                }
                self.backlog.extend(events.into_iter().map(item));
            }
            Err(e) => {
                tracing::warn!(task_id = %self.id, error = %e.body.message, "task events could not be read; the stream ends");
                self.ended = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::*;
    use crate::serve::server_db::ServerDb;
    use crate::serve::tasks::queue::Claim;
    use crate::serve::tasks::sqlite_queue::SqliteQueue;

    /// An event the live channel never carried (here: never published)
    /// still reaches a subscriber, once, in seq order, from the store.
    #[tokio::test]
    async fn subscribers_get_every_event_once_in_order_even_when_one_is_missed() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let db = ServerDb::open(&dir.path().join("server.sqlite")).expect("a database");
        let queue: Arc<dyn TaskQueue> = Arc::new(SqliteQueue::open(db).expect("the queue"));
        let submission = serde_json::from_value(json!({"function": "f"})).expect("a task");
        let id = "tk_1".to_owned();
        queue
            .submit(id.clone(), submission, 3)
            .await
            .expect("submitted");
        let hub = TaskHub::default();
        let follow = |since| hub.subscribe(queue.clone(), CancellationToken::new(), &id, since);
        let events = follow(0).await.expect("subscribed");

        let claim = Claim {
            worker: "w".into(),
            functions: vec!["f".into()],
            max_tasks: 1,
            lease_for: Duration::from_secs(30),
        };
        let leased = queue.claim(claim).await.expect("claimed").events;
        assert_eq!(leased.len(), 1);
        for happened in queue.cancel(&id).await.expect("cancelled").events {
            hub.publish(happened.event);
        }
        let seqs: Vec<u64> = events.map(|item| item.value.seq()).collect().await;
        assert_eq!(seqs, [0, 1, 2]);

        // After the end, the store alone answers, from any seq.
        let late = follow(1).await.expect("subscribed");
        let seqs: Vec<u64> = late.map(|item| item.value.seq()).collect().await;
        assert_eq!(seqs, [1, 2]);
    }
}
