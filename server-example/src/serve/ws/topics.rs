//! Subscriptions: what `subscribe` starts for each [`Topic`]. Each one is a
//! task that pushes the topic's events into the connection's outbox until
//! it is unsubscribed, the topic ends, or the client is too slow; a run's
//! live followers share one [`RunFeed`](super::run_feed::RunFeed).
//!
//! To add a topic: a [`Topic`] variant and its arm in [`subscribe`] (a
//! function that checks access, answers `subscribed` and spawns the task).

use std::sync::Arc;

use futures_util::StreamExt;

use serde_json::Value;
use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinHandle;

use super::client::Client;
use super::messages::{ServerMessage, Topic};
use crate::serve::api_error::ApiResult;
use crate::serve::registry::Scope;
use crate::serve::runs::Events;

/// Starts following `id` on `topic` for `client`, after `since`. Answers
/// `subscribed` (or the error) in the outbox; returns the following task.
pub async fn subscribe(
    client: &Arc<Client>,
    topic: Topic,
    id: &str,
    since: Option<u64>,
    reference: Option<String>,
) -> ApiResult<JoinHandle<()>> {
    match topic {
        Topic::Canvas => canvas(client, id, since, reference).await,
        Topic::Run => run(client, id, since, reference).await,
        Topic::Task => task(client, id, since, reference).await,
    }
}

/// A canvas's changes after revision `since` (default: its revision now).
async fn canvas(
    client: &Arc<Client>,
    id: &str,
    since: Option<u64>,
    reference: Option<String>,
) -> ApiResult<JoinHandle<()>> {
    client.require(Scope::Read)?;
    let canvases = &client.state.canvases;
    let current = canvases.get(id).await?.revision;
    let since = since.unwrap_or(current);
    let mut joined = canvases.feed().join(id, since, current);
    client.send(ServerMessage::Subscribed {
        reference,
        topic: Topic::Canvas,
        id: id.to_owned(),
        revision: Some(current),
    });
    if joined.resync {
        client.send(resync(
            Topic::Canvas,
            id,
            "changes after the revision asked for are no longer kept: read the canvas again, then subscribe with its revision as `since`",
        ));
    }
    client.shared.presence.join(id, client);
    // Whatever was sent (or is older than `since`) is not sent again.
    let mut last = since;
    for change in joined.replay {
        last = change.revision.unwrap_or(last).max(last);
        client.push(change);
    }
    let client = client.clone();
    let id = id.to_owned();
    Ok(tokio::spawn(async move {
        loop {
            match joined.live.recv().await {
                Ok(change) => {
                    if change.revision.is_some_and(|r| r <= last) {
                        continue;
                    }
                    last = change.revision.unwrap_or(last);
                    if !client.push(change) {
                        return;
                    }
                }
                Err(RecvError::Lagged(_)) => {
                    let lagged = resync(
                        Topic::Canvas,
                        &id,
                        "the connection fell behind this canvas's changes: read the canvas again",
                    );
                    if !client.send(lagged) {
                        return;
                    }
                }
                // The canvas was deleted (its `canvas_deleted` went out).
                Err(RecvError::Closed) => return,
            }
        }
    }))
}

/// A run's events after `since` (default: all of them).
async fn run(
    client: &Arc<Client>,
    id: &str,
    since: Option<u64>,
    reference: Option<String>,
) -> ApiResult<JoinHandle<()>> {
    client.require(Scope::Read)?;
    let runs = &client.state.runs;
    let from = since.map_or(0, |seq| seq.saturating_add(1));
    let (events, behind) = match runs.events(id, from).await {
        Ok(events) => (events, false),
        // Older than the hub keeps: from the oldest it has, after a resync.
        Err(e) if e.code() == "seq_dropped" => {
            let oldest = e.body.details.get("oldest").and_then(Value::as_u64);
            (runs.events(id, oldest.unwrap_or(from)).await?, true)
        }
        Err(e) => return Err(e),
    };
    client.send(ServerMessage::Subscribed {
        reference,
        topic: Topic::Run,
        id: id.to_owned(),
        revision: None,
    });
    if behind {
        client.send(resync(
            Topic::Run,
            id,
            "the run's events after `since` are no longer kept: read the run (GET /v1/runs/{id}); the oldest kept events follow",
        ));
    }
    let feed = client.shared.run_feeds.of(id);
    let client = client.clone();
    let id = id.to_owned();
    Ok(tokio::spawn(async move {
        let mut subscription = match events {
            Events::Stored(events) => {
                for event in events {
                    if !client.push(feed.item(&event)) {
                        return;
                    }
                }
                return;
            }
            Events::Live(subscription) => subscription,
        };
        loop {
            // Caught up with the run's feed: it carries this client on.
            let runs = &client.state.runs;
            let joined = feed.join(&client, subscription.next_seq(), |seq| {
                runs.live_events(&id, seq)
            });
            if let Some(mut following) = joined {
                drop(subscription);
                following.until_let_go().await;
                return;
            }
            match subscription.next_batch().await {
                Ok(Some(batch)) => {
                    for event in batch.iter() {
                        if !client.push(feed.item(event)) {
                            return;
                        }
                    }
                }
                Ok(None) => return,
                Err(_) => {
                    client.send(run_fell_behind(&id));
                    return;
                }
            }
        }
    }))
}

/// What a follower of run `id` that fell behind its events is told.
pub(super) fn run_fell_behind(id: &str) -> ServerMessage {
    resync(
        Topic::Run,
        id,
        "the connection fell behind this run's events: read the run (GET /v1/runs/{id}) for where it stands",
    )
}

/// A task's events after `since` (default: all of them), replayed from the
/// queue and then live; the items are shared with every other follower.
async fn task(
    client: &Arc<Client>,
    id: &str,
    since: Option<u64>,
    reference: Option<String>,
) -> ApiResult<JoinHandle<()>> {
    client.require(Scope::Read)?;
    let from = since.map_or(0, |seq| seq.saturating_add(1));
    let mut events = client.state.tasks.subscribe_items(id, from).await?;
    client.send(ServerMessage::Subscribed {
        reference,
        topic: Topic::Task,
        id: id.to_owned(),
        revision: None,
    });
    let client = client.clone();
    Ok(tokio::spawn(async move {
        while let Some(event) = events.next().await {
            if !client.push(event) {
                return;
            }
        }
    }))
}

fn resync(topic: Topic, id: &str, message: &str) -> ServerMessage {
    ServerMessage::Resync {
        topic,
        id: id.to_owned(),
        message: message.to_owned(),
    }
}
