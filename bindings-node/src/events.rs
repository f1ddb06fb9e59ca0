//! Run events to JavaScript, both ways the core offers them: a run's own
//! stream, which loses nothing, feeds an `onEvent` callback; the run hub's
//! replay feeds `for await (const e of run.events())`, which may start late
//! and, like every hub subscriber, is dropped (`seq_dropped`) rather than
//! slow the run when it falls too far behind. Events cross as JSON arrays
//! written by the core's serde, one array per batch.

use std::sync::Arc;

use napi::bindgen_prelude::{Function, Unknown};
use napi::threadsafe_function::{
    ThreadsafeFunction, ThreadsafeFunctionCallMode, UnknownReturnValue,
};
use napi::{Status, ValueType};
use napi_derive::napi;
use reelgraph::exec::{RunEvent, RunEvents, Subscription};

use crate::convert::{describe, to_text};
use crate::errors::{js, type_error};

/// `lib/run.js`'s wrapper around the user's `onEvent`: it gets a JSON array
/// of events, or `null` as a marker that everything before was delivered.
/// Strong, so the process waits for the events of a run it started.
pub(crate) type EventCallback =
    ThreadsafeFunction<Option<String>, UnknownReturnValue, Option<String>, Status, false>;

/// The `onEvent` argument as a callback, or `None` when it is absent.
pub(crate) fn event_callback(value: Option<Unknown<'_>>) -> napi::Result<Option<EventCallback>> {
    let Some(value) = value else { return Ok(None) };
    match value.get_type()? {
        ValueType::Undefined | ValueType::Null => Ok(None),
        ValueType::Function => {
            // SAFETY: checked to be a function of this env just above.
            let f: Function<'_, Option<String>, UnknownReturnValue> = unsafe { value.cast()? };
            Ok(Some(f.build_threadsafe_function().build()?))
        }
        other => Err(type_error("onEvent", "a function", describe(other))),
    }
}

/// Sends every event of `events` to `callback`, in batches of what is ready,
/// and returns once the callback has seen the last one.
pub(crate) async fn pump(mut events: RunEvents, callback: EventCallback) {
    let mut batch: Vec<RunEvent> = Vec::new();
    while let Some(event) = events.next().await {
        batch.push(event);
        while let Some(more) = events.try_next() {
            batch.push(more);
        }
        if let Ok(text) = to_text(&batch) {
            callback.call(Some(text), ThreadsafeFunctionCallMode::NonBlocking);
        }
        batch.clear();
    }
    // Calls are delivered in order: when the marker is answered, so are the events.
    let _ = callback.call_async(None).await;
}

/// A reader of one run's events from the run hub: `lib/run.js` makes it an
/// async iterator.
#[napi]
pub struct RunEventStream {
    subscription: Arc<tokio::sync::Mutex<Subscription>>,
}

impl std::fmt::Debug for RunEventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RunEventStream")
    }
}

impl RunEventStream {
    pub(crate) fn new(subscription: Subscription) -> Self {
        RunEventStream {
            subscription: Arc::new(tokio::sync::Mutex::new(subscription)),
        }
    }
}

#[napi]
impl RunEventStream {
    /// The next events as a JSON array, waiting until there are some; `null`
    /// after the run's last event.
    #[napi]
    pub async fn next_batch(&self) -> napi::Result<Option<String>> {
        let mut subscription = self.subscription.lock().await;
        match js(subscription.next_batch().await)? {
            Some(batch) => {
                let events: Vec<&RunEvent> = batch.iter().collect();
                to_text(&events).map(Some)
            }
            None => Ok(None),
        }
    }
}
