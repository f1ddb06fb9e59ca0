//! The messages of `/v1/ws` the fan-out clients send (the server's own
//! `ClientMessage`) and the part of each server message they read.

use std::time::UNIX_EPOCH;

use reelgraph::event::Timestamp;
use reelgraph_server::serve::ws::messages::{ClientMessage, Topic};
use serde::Deserialize;
use serde::de::IgnoredAny;

pub fn subscribe(topic: Topic, id: &str) -> ClientMessage {
    ClientMessage::Subscribe {
        reference: None,
        topic,
        id: id.to_owned(),
        since: None,
    }
}

/// One item of a server frame, as far as the clients look at it. Run
/// events are read for their `seq` and `ts` only: ten thousand clients
/// parse every event, on the same cores as the server.
#[derive(Debug)]
pub enum Item {
    Subscribed,
    /// `error` or `resync`: the client stops and reports it.
    Trouble(String),
    /// A run event: its `seq`, and its `ts` in milliseconds since the epoch.
    RunEvent {
        seq: u64,
        ts_ms: u64,
    },
    Other,
}

#[derive(Deserialize)]
struct Raw<'a> {
    #[serde(rename = "type", borrow)]
    kind: &'a str,
    run_id: Option<IgnoredAny>,
    seq: Option<u64>,
    ts: Option<Timestamp>,
    error: Option<serde_json::Value>,
    message: Option<String>,
}

impl<'de> Deserialize<'de> for Item {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Raw::deserialize(d)?;
        Ok(match (raw.kind, raw.run_id, raw.seq, raw.ts) {
            ("subscribed", ..) => Item::Subscribed,
            ("error", ..) => Item::Trouble(format!("error {}", raw.error.unwrap_or_default())),
            ("resync", ..) => Item::Trouble(format!("resync: {}", raw.message.unwrap_or_default())),
            (_, Some(_), Some(seq), Some(ts)) => Item::RunEvent {
                seq,
                ts_ms: ts
                    .0
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            },
            _ => Item::Other,
        })
    }
}
