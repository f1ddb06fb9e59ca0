//! The messages of `/v1/ws` the fan-out clients send and read.

use reelgraph::event::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::UNIX_EPOCH;

/// `subscribe` (client to server).
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename = "subscribe")]
pub struct Subscribe {
    topic: &'static str,
    id: String,
}

pub fn subscribe_canvas(id: &str) -> Subscribe {
    Subscribe {
        topic: "canvas",
        id: id.to_owned(),
    }
}

pub fn subscribe_run(id: &str) -> Subscribe {
    Subscribe {
        topic: "run",
        id: id.to_owned(),
    }
}

/// One message of a server frame, as far as the clients look at it.
#[derive(Debug)]
pub enum Frame {
    Subscribed,
    Error(Value),
    /// A run event: its `seq`, and its `ts` in milliseconds since the epoch.
    RunEvent {
        seq: u64,
        ts_ms: u64,
    },
    Other,
}

#[derive(Deserialize)]
struct Raw {
    #[serde(rename = "type")]
    kind: String,
    run_id: Option<String>,
    seq: Option<u64>,
    ts: Option<Timestamp>,
    error: Option<Value>,
}

impl<'de> Deserialize<'de> for Frame {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Raw::deserialize(d)?;
        Ok(match (raw.kind.as_str(), raw.run_id, raw.seq, raw.ts) {
            ("subscribed", ..) => Frame::Subscribed,
            ("error", ..) => Frame::Error(raw.error.unwrap_or_default()),
            (_, Some(_), Some(seq), Some(ts)) => Frame::RunEvent {
                seq,
                ts_ms: ts
                    .0
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            },
            _ => Frame::Other,
        })
    }
}
