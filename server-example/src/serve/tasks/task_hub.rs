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

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use futures_util::stream::{self, BoxStream, StreamExt};
use reelgraph::remote::TaskEvent;
use tokio::sync::broadcast;

use super::queue::TaskQueue;
use crate::serve::api_error::ApiResult;

/// Events a live channel holds for a slow subscriber before it lags (and
/// catches up from the store).
const CHANNEL_CAPACITY: usize = 256;

/// Live channels of the tasks someone follows. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct TaskHub {
    channels: Arc<Mutex<HashMap<String, broadcast::Sender<Arc<TaskEvent>>>>>,
}

/// A subscription's events, in seq order; ends after the final event.
pub type TaskEvents = BoxStream<'static, Arc<TaskEvent>>;

impl TaskHub {
    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<String, broadcast::Sender<Arc<TaskEvent>>>> {
        self.channels.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Hands stored events to the task's subscribers. A final event closes
    /// the channel (its subscribers still get it).
    pub fn publish(&self, event: TaskEvent) {
        let mut channels = self.lock();
        let event = Arc::new(event);
        let id = event.task_id();
        let Some(sender) = channels.get(id) else {
            return;
        };
        // No receiver left is not an error: the channel goes below.
        let _ = sender.send(event.clone());
        if event.is_final() || sender.receiver_count() == 0 {
            channels.remove(id);
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
        id: &str,
        since: u64,
    ) -> ApiResult<TaskEvents> {
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
            backlog: stored.into_iter().map(Arc::new).collect(),
            ended: false,
        };
        Ok(stream::unfold(follow, Follow::next_event).boxed())
    }
}

/// Where a subscription stands.
struct Follow {
    queue: Arc<dyn TaskQueue>,
    id: String,
    live: broadcast::Receiver<Arc<TaskEvent>>,
    /// The seq of the next event to hand out.
    next: u64,
    /// Events read from the store, not handed out yet.
    backlog: std::collections::VecDeque<Arc<TaskEvent>>,
    ended: bool,
}

impl Follow {
    async fn next_event(mut self) -> Option<(Arc<TaskEvent>, Follow)> {
        loop {
            if self.ended {
                return None;
            }
            while let Some(event) = self.backlog.pop_front() {
                if event.seq() < self.next {
                    continue;
                }
                return Some(self.hand_out(event));
            }
            match self.live.recv().await {
                Ok(event) if event.seq() < self.next => {}
                Ok(event) if event.seq() == self.next => return Some(self.hand_out(event)),
                // A gap: what is missing is stored already.
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => self.catch_up(false).await,
                // The final event was published before this subscription
                // listened, or the channel was dropped: the store has it.
                Err(broadcast::error::RecvError::Closed) => self.catch_up(true).await,
            }
        }
    }

    fn hand_out(mut self, event: Arc<TaskEvent>) -> (Arc<TaskEvent>, Follow) {
        self.next = event.seq() + 1;
        self.ended = event.is_final();
        (event, self)
    }

    async fn catch_up(&mut self, closed: bool) {
        match self.queue.events(&self.id, self.next).await {
            Ok(events) => {
                if closed && events.is_empty() {
                    self.ended = true;
                }
                self.backlog.extend(events.into_iter().map(Arc::new));
            }
            Err(e) => {
                tracing::warn!(task_id = %self.id, error = %e.body.message, "task events could not be read; the stream ends");
                self.ended = true;
            }
        }
    }
}
