//! A run's event stream, and how events go down its channel.

use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::sync::mpsc;

use super::event::RunEvent;

/// A run's events, in `seq` order. Ends after the run's last event.
#[derive(Debug)]
pub struct RunEvents {
    rx: mpsc::UnboundedReceiver<Sent>,
    /// The rest of a batch received.
    batch: std::vec::IntoIter<RunEvent>,
}

impl RunEvents {
    pub(super) fn new(rx: mpsc::UnboundedReceiver<Sent>) -> Self {
        RunEvents {
            rx,
            batch: Vec::new().into_iter(),
        }
    }

    pub async fn next(&mut self) -> Option<RunEvent> {
        std::future::poll_fn(|cx| self.poll_event(cx)).await
    }

    /// Events already sent, without waiting.
    pub fn try_next(&mut self) -> Option<RunEvent> {
        loop {
            if let Some(event) = self.batch.next() {
                return Some(event);
            }
            match self.rx.try_recv().ok()? {
                Sent::One(event) => return Some(event),
                Sent::Many(events) => self.batch = events.into_iter(),
            }
        }
    }

    fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<Option<RunEvent>> {
        loop {
            if let Some(event) = self.batch.next() {
                return Poll::Ready(Some(event));
            }
            match std::task::ready!(self.rx.poll_recv(cx)) {
                None => return Poll::Ready(None),
                Some(Sent::One(event)) => return Poll::Ready(Some(event)),
                Some(Sent::Many(events)) => self.batch = events.into_iter(),
            }
        }
    }
}

impl futures_core::Stream for RunEvents {
    type Item = RunEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<RunEvent>> {
        self.poll_event(cx)
    }
}

/// What goes down the event channel: events are held back while the
/// engine has more to do and sent together when it is about to wait (or
/// [`FLUSH_EVERY`] have gathered), so a consumer is woken once per batch
/// rather than once per event. Notes from tasks go at once.
#[derive(Debug)]
pub(super) enum Sent {
    One(RunEvent),
    Many(Vec<RunEvent>),
}

pub(super) type EventSender = mpsc::UnboundedSender<Sent>;

/// The most events held back before they are sent anyway.
pub(super) const FLUSH_EVERY: usize = 256;
