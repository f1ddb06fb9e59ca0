//! A connection's bounded queue of messages waiting for the next frame.
//! Publishers push without waiting; a push into a full queue marks the
//! client too slow, and the connection closes.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::Notify;

use crate::serve::encoded::Outgoing;

#[derive(Debug)]
pub struct Outbox {
    queue: Mutex<VecDeque<Arc<dyn Outgoing>>>,
    capacity: usize,
    overflowed: AtomicBool,
    /// Woken by the first message after a drain, and by an overflow.
    ready: Notify,
}

impl Outbox {
    pub fn new(capacity: usize) -> Outbox {
        Outbox {
            queue: Mutex::new(VecDeque::new()),
            capacity: capacity.max(1),
            overflowed: AtomicBool::new(false),
            ready: Notify::new(),
        }
    }

    /// Queues `item`; false when the queue is full (the client is too slow
    /// from now on) or was before.
    pub fn push(&self, item: Arc<dyn Outgoing>) -> bool {
        if self.overflowed.load(Ordering::Acquire) {
            return false;
        }
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        if queue.len() >= self.capacity {
            self.overflowed.store(true, Ordering::Release);
            drop(queue);
            self.ready.notify_one();
            return false;
        }
        queue.push_back(item);
        let first = queue.len() == 1;
        drop(queue);
        if first {
            self.ready.notify_one();
        }
        true
    }

    /// Waits until something is queued (or the queue overflowed).
    pub async fn ready(&self) {
        if self.is_too_slow() || !self.is_empty() {
            return;
        }
        self.ready.notified().await;
    }

    /// Waits until the queue overflows.
    pub async fn overflow(&self) {
        while !self.is_too_slow() {
            self.ready.notified().await;
        }
    }

    pub fn is_too_slow(&self) -> bool {
        self.overflowed.load(Ordering::Acquire)
    }

    fn is_empty(&self) -> bool {
        self.queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty()
    }

    /// Everything queued, oldest first.
    pub fn drain(&self) -> Vec<Arc<dyn Outgoing>> {
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        queue.drain(..).collect()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::serve::encoded::Encoded;

    #[test]
    fn a_full_queue_marks_the_client_too_slow() {
        let outbox = Outbox::new(2);
        let item = || Arc::new(Encoded::new(json!(1))) as Arc<dyn Outgoing>;
        assert!(outbox.push(item()) && outbox.push(item()));
        assert!(!outbox.push(item()));
        assert!(outbox.is_too_slow());
        assert_eq!(outbox.drain().len(), 2);
        // Too slow stays too slow: the connection is closing.
        assert!(!outbox.push(item()));
    }
}
