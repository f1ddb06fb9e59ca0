//! Events as server-sent events (runs' and tasks'): `id:` is the event's
//! `seq`, `event:` its `type`, `data:` the core's event JSON. A client that
//! reconnects with `Last-Event-ID` (or asks `?after=`) gets what came after
//! that seq. Keep-alive comments hold idle connections open.

use std::convert::Infallible;

use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, KeepAliveStream, Sse};
use futures_util::stream::{self, BoxStream, StreamExt};
use reelgraph::exec::{RunEvent, Subscription};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::service::Events;
use crate::serve::api_error::{ApiError, ApiResult};

pub type EventStream = Sse<KeepAliveStream<BoxStream<'static, Result<Event, Infallible>>>>;

pub fn stream(events: Events) -> EventStream {
    let events = match events {
        Events::Live(subscription) => live(subscription),
        Events::Stored(events) => {
            stream::iter(events.into_iter().map(|e| Ok(sse_event(&e)))).boxed()
        }
    };
    Sse::new(events).keep_alive(KeepAlive::default())
}

/// Events as the hub publishes them, a batch per wake. A subscriber that
/// falls so far behind that the hub dropped its next event gets one
/// `event: error` with the `seq_dropped` error body, and the stream ends.
fn live(subscription: Subscription) -> BoxStream<'static, Result<Event, Infallible>> {
    stream::unfold(Some(subscription), |subscription| async move {
        let mut subscription = subscription?;
        match subscription.next_batch().await {
            Ok(Some(batch)) => {
                let events: Vec<_> = batch.iter().map(|e| Ok(sse_event(e))).collect();
                Some((stream::iter(events), Some(subscription)))
            }
            Ok(None) => None,
            Err(e) => {
                let body = serde_json::json!({ "error": e.to_body() });
                let event = Event::default().event("error").data(body.to_string());
                Some((stream::iter(vec![Ok(event)]), None))
            }
        }
    })
    .flatten()
    .boxed()
}

fn sse_event(event: &RunEvent) -> Event {
    event_of(event.seq, event)
}

/// One event of the core's (a run's, a task's) as an SSE event: `id:` its
/// seq, `event:` its `type`, `data:` its JSON.
pub fn event_of<E: Serialize>(seq: u64, event: &E) -> Event {
    // The core's serde is the one wire format; its `type` names the event.
    let value = serde_json::to_value(event).unwrap_or_default();
    let kind = value["type"].as_str().unwrap_or("event").to_owned();
    Event::default()
        .id(seq.to_string())
        .event(kind)
        .data(value.to_string())
}

/// The query of an SSE route (`GET /v1/runs/{id}/events`,
/// `GET /v1/tasks/{id}/events`).
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct After {
    /// The seq of the last event received, for clients that cannot send
    /// `Last-Event-ID` (the header wins when both are given).
    #[serde(default)]
    pub after: Option<u64>,
}

/// The seq a reconnecting client wants next: after the `Last-Event-ID`
/// header's seq, else after `?after=`, else from 0.
pub fn resume_from(headers: &HeaderMap, after: Option<u64>) -> ApiResult<u64> {
    let last_seen = match headers.get("last-event-id") {
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .ok_or_else(|| {
                    ApiError::new(
                        "invalid_request",
                        "`Last-Event-ID` is not the seq of an event: send the `id:` of the last event received",
                    )
                    .with_details(json!({"header": "Last-Event-ID"}))
                })?,
        ),
        None => after,
    };
    Ok(last_seen.map_or(0, |seq| seq.saturating_add(1)))
}
