//! A connection's bounded queue of messages waiting for the next frame.
//! Publishers push without waiting; a push into a full queue marks the
//! client too slow, and the connection closes. The first message after a
//! drain asks the shared [`Window`](super::window::Window) to wake the
//! writer at the window's end.

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
    /// Woken at the end of the window after a message was queued.
    due: Arc<Notify>,
    /// Woken by an overflow.
    full: Notify,
}

/// What a push did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// The first message since the last drain: the writer is to be woken
    /// at the end of the window ([`Outbox::writer`]).
    First,
    /// Queued behind others; the writer is due already.
    Queued,
    /// The queue is full, or was: the client is too slow.
    Full,
}

impl Outbox {
    pub fn new(capacity: usize) -> Outbox {
        Outbox {
            queue: Mutex::new(VecDeque::new()),
            capacity: capacity.max(1),
            overflowed: AtomicBool::new(false),
            due: Arc::default(),
            full: Notify::new(),
        }
    }

    /// Queues `item`; `Full` when the queue is full (the client is too
    /// slow from now on) or was before.
    pub fn push(&self, item: Arc<dyn Outgoing>) -> Pushed {
        if self.overflowed.load(Ordering::Acquire) {
            return Pushed::Full;
        }
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        if queue.len() >= self.capacity {
            self.overflowed.store(true, Ordering::Release);
            drop(queue);
            self.full.notify_one();
            return Pushed::Full;
        }
        queue.push_back(item);
        if queue.len() == 1 {
            Pushed::First
        } else {
            Pushed::Queued
        }
    }

    /// What wakes the writer: for the window to notify.
    pub fn writer(&self) -> &Arc<Notify> {
        &self.due
    }

    /// Waits until the window with the queued messages ended (or the queue
    /// overflowed).
    pub async fn due(&self) {
        if self.is_too_slow() {
            return;
        }
        tokio::select! {
            () = self.due.notified() => {}
            () = self.full.notified() => {}
        }
    }

    /// Waits until the queue overflows.
    pub async fn overflow(&self) {
        while !self.is_too_slow() {
            self.full.notified().await;
        }
    }

    pub fn is_too_slow(&self) -> bool {
        self.overflowed.load(Ordering::Acquire)
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
        assert_eq!(outbox.push(item()), Pushed::First);
        assert_eq!(outbox.push(item()), Pushed::Queued);
        assert_eq!(outbox.push(item()), Pushed::Full);
        assert!(outbox.is_too_slow());
        assert_eq!(outbox.drain().len(), 2);
        // Too slow stays too slow: the connection is closing.
        assert_eq!(outbox.push(item()), Pushed::Full);
    }
}
