//! A connection's sending half, shared by the batch window and the
//! connection's writer task.
//!
//! Why shared: at the end of a window the window sends each due frame
//! itself when the socket takes it at once, which is the usual case. Ten
//! thousand followers of a run then cost ten thousand writes, not ten
//! thousand task wake-ups and polls on top. The writer takes over whatever
//! the socket did not take at once (a full send buffer, the reader holding
//! the socket for a moment), and sends pings and the close.
//!
//! A frame's messages leave the outbox only while the sink is held, so
//! frames go out in the order their messages were queued, whoever sends
//! them.

use std::future::poll_fn;
use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError};
use std::task::{Context, Poll, Waker, ready};

use axum::extract::ws::{Message, WebSocket};
use futures_util::SinkExt;
use futures_util::stream::SplitSink;

type Sink = SplitSink<WebSocket, Message>;

#[derive(Debug)]
pub struct Sender {
    sink: Mutex<Sink>,
}

/// What [`Sender::try_send_frame`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tried {
    /// The frame went out, or there was none.
    Done,
    /// The socket could not take it at once: the writer is to send (or
    /// finish sending) it.
    HandOver,
}

impl Sender {
    pub fn new(sink: Sink) -> Sender {
        Sender {
            sink: Mutex::new(sink),
        }
    }

    /// Sends the frame `take` makes (`None`: nothing to send) if the socket
    /// takes it without waiting. `take` runs only once the sink can queue a
    /// frame; a frame it made stays queued in the sink when the socket
    /// would have to wait, and [`flush`](Sender::flush) sends it.
    pub fn try_send_frame(&self, take: impl FnOnce() -> Option<Message>) -> Tried {
        let mut sink = match self.sink.try_lock() {
            Ok(sink) => sink,
            Err(TryLockError::Poisoned(e)) => e.into_inner(),
            // The writer is sending: it takes this frame too.
            Err(TryLockError::WouldBlock) => return Tried::HandOver,
        };
        // Nothing waits on this context: a `Pending` hands the work over.
        let mut cx = Context::from_waker(Waker::noop());
        let mut take = Some(take);
        match queue_and_flush(&mut sink, &mut cx, &mut take) {
            Poll::Ready(Ok(())) => Tried::Done,
            // A broken connection: the writer finds out and ends it.
            Poll::Ready(Err(_)) | Poll::Pending => Tried::HandOver,
        }
    }

    /// Sends the frame `take` makes, and whatever the sink still holds;
    /// waits while the socket is full.
    pub async fn flush(&self, take: impl FnOnce() -> Option<Message>) -> Result<(), axum::Error> {
        let mut take = Some(take);
        poll_fn(|cx| queue_and_flush(&mut self.lock(), cx, &mut take)).await
    }

    /// Sends `message` (a ping, a last error, the close frame).
    pub async fn send(&self, message: Message) -> Result<(), axum::Error> {
        self.flush(|| Some(message)).await
    }

    /// Closes the sending half.
    pub async fn close(&self) -> Result<(), axum::Error> {
        poll_fn(|cx| self.lock().poll_close_unpin(cx)).await
    }

    fn lock(&self) -> MutexGuard<'_, Sink> {
        self.sink.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Queues the frame of `take` (once: it is `None` afterwards) when the sink
/// has room, then flushes.
fn queue_and_flush(
    sink: &mut Sink,
    cx: &mut Context<'_>,
    take: &mut Option<impl FnOnce() -> Option<Message>>,
) -> Poll<Result<(), axum::Error>> {
    if take.is_some() {
        ready!(sink.poll_ready_unpin(cx))?;
        if let Some(frame) = take.take().and_then(|take| take()) {
            sink.start_send_unpin(frame)?;
        }
    }
    sink.poll_flush_unpin(cx)
}
