//! The messages of `/v1/ws`, tagged by `type` (snake_case).
//!
//! A client sends one [`ClientMessage`] per frame. The server sends frames
//! that are each an array of messages (one batch): [`ServerMessage`]s, run
//! events exactly as the core's `RunEvent`, and canvas changes as the
//! core's `Event` (`canvas_changed`) or a [`CanvasNotice`]. Field names are
//! the same in JSON and MessagePack.
//!
//! [`CanvasNotice`]: crate::serve::canvases::feed::CanvasNotice

use reelgraph::exec::RunEvent;
use reelgraph::{ErrorBody, Op};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::serve::api_error::ApiError;
use crate::serve::canvases::feed::CanvasChange;
use crate::serve::encoded::Format;

/// What a subscription follows. To add a topic: a variant here and its arm
/// in `topics::subscribe`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Topic {
    /// A canvas's changes; `seq` is the canvas revision.
    Canvas,
    /// A run's events; `seq` counts from 0 per run.
    Run,
    /// A task's events (the function-runner service's `TaskEvent`); `seq`
    /// counts from 0 per task.
    Task,
}

impl Topic {
    pub fn as_str(self) -> &'static str {
        match self {
            Topic::Canvas => "canvas",
            Topic::Run => "run",
            Topic::Task => "task",
        }
    }
}

/// What a client sends. `ref` is the client's own label, echoed in the
/// answer (`subscribed`, `applied`, `error`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMessage {
    /// Follow a canvas or a run. `since`: the last `seq` seen, to get what
    /// came after it (a run's events from the start, a canvas's changes
    /// from now, when left out).
    Subscribe {
        #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
        topic: Topic,
        id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since: Option<u64>,
    },
    /// Stop following.
    Unsubscribe {
        #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
        topic: Topic,
        id: String,
    },
    /// Apply `ops` to canvas `canvas` at `base_revision`, as `PATCH` does:
    /// all or none, and a stale base revision is a `conflict`, never merged.
    /// Needs the `write` scope.
    Apply {
        #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
        canvas: String,
        base_revision: u64,
        ops: Vec<Op>,
    },
}

/// The `type`s a client may send.
pub const CLIENT_TYPES: [&str; 3] = ["subscribe", "unsubscribe", "apply"];

/// What the server says about the connection itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ServerMessage {
    /// The subscription holds; its events follow. For a canvas, `revision`
    /// is the canvas's revision when it began.
    Subscribed {
        #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
        topic: Topic,
        id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        revision: Option<u64>,
    },
    Unsubscribed {
        #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
        topic: Topic,
        id: String,
    },
    /// An `apply` was stored: the canvas is at `revision`.
    Applied {
        #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
        canvas: String,
        revision: u64,
    },
    /// Events after the `seq` asked for are no longer kept, or the client
    /// fell behind: read the canvas (or run) again over HTTP, then
    /// subscribe with its revision (or last seq) as `since`.
    Resync {
        topic: Topic,
        id: String,
        message: String,
    },
    /// Who came to a canvas this connection follows, and who left, in one
    /// batch window. A new subscriber's first one lists every connection
    /// there, itself included.
    Presence {
        canvas: String,
        joined: Vec<PresenceEntry>,
        /// Connection ids.
        left: Vec<String>,
    },
    /// A message could not be handled; the connection stays usable unless
    /// the code is `too_slow`. `error` is the body of the server's HTTP errors.
    Error {
        #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
        error: ErrorBody,
    },
}

impl ServerMessage {
    pub fn error(reference: Option<String>, error: ApiError) -> ServerMessage {
        ServerMessage::Error {
            reference,
            error: error.body,
        }
    }
}

/// A connection on a canvas: its id and its key's name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PresenceEntry {
    pub connection: String,
    pub key: String,
}

/// Any element of a server frame, for the schema of the docs page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum ServerItem {
    Server(ServerMessage),
    Run(RunEvent),
    Canvas(CanvasChange),
}

/// The JSON Schemas of what a client sends and of any element of a
/// server frame (`make generate` writes them to `docs/server-websocket.json`).
pub fn schemas() -> Value {
    let (_, client) = reelgraph::schema::root::<ClientMessage>();
    let (_, server) = reelgraph::schema::root::<ServerItem>();
    json!({"ClientMessage": client, "ServerItem": server})
}

/// Reads one client frame. On failure: the error, with the client's `ref`
/// when the frame had one.
pub fn parse(format: Format, frame: &[u8]) -> Result<ClientMessage, (Option<String>, ApiError)> {
    let value: Value = match format {
        Format::Json => serde_json::from_slice(frame).map_err(|e| e.to_string()),
        Format::MsgPack => rmp_serde::from_slice(frame).map_err(|e| e.to_string()),
    }
    .map_err(|e| {
        let what = match format {
            Format::Json => "JSON (in a text frame)",
            Format::MsgPack => "MessagePack (in a binary frame)",
        };
        (
            None,
            ApiError::new("invalid_message", format!("the frame is not {what}: {e}")),
        )
    })?;
    let reference = value.get("ref").and_then(Value::as_str).map(str::to_owned);
    let kind = value.get("type").and_then(Value::as_str);
    match kind {
        Some(kind) if CLIENT_TYPES.contains(&kind) => {}
        Some(kind) => {
            let error = ApiError::new(
                "unknown_message_type",
                format!("there is no message type `{kind}`"),
            )
            .with_details(json!({"type": kind, "known": CLIENT_TYPES}));
            return Err((reference, error));
        }
        None => {
            let error = ApiError::new(
                "invalid_message",
                "a message is an object with a string `type`",
            )
            .with_details(json!({"known": CLIENT_TYPES}));
            return Err((reference, error));
        }
    }
    serde_json::from_value(value).map_err(|e| {
        let error = ApiError::new("invalid_message", format!("the message is not valid: {e}"));
        (reference, error)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_format_reads_the_same_message() {
        let message = ClientMessage::Subscribe {
            reference: Some("a".into()),
            topic: Topic::Run,
            id: "r1".into(),
            since: Some(3),
        };
        let json = serde_json::to_vec(&message).expect("JSON");
        let msgpack = rmp_serde::to_vec_named(&message).expect("MessagePack");
        assert_eq!(parse(Format::Json, &json).expect("JSON"), message);
        assert_eq!(
            parse(Format::MsgPack, &msgpack).expect("MessagePack"),
            message
        );
    }

    #[test]
    fn bad_frames_are_named() {
        let code = |format, frame: &[u8]| parse(format, frame).expect_err("refused").1.body.code;
        assert_eq!(code(Format::Json, b"{"), "invalid_message");
        assert_eq!(code(Format::MsgPack, &[0xc1]), "invalid_message");
        assert_eq!(code(Format::Json, b"[1]"), "invalid_message");
        assert_eq!(
            code(Format::Json, br#"{"type": "dance"}"#),
            "unknown_message_type"
        );
        assert_eq!(
            code(
                Format::Json,
                br#"{"type": "subscribe", "topic": "run", "id": "r", "x": 1}"#
            ),
            "invalid_message"
        );
        let (reference, _) =
            parse(Format::Json, br#"{"type": "nope", "ref": "q"}"#).expect_err("refused");
        assert_eq!(reference.as_deref(), Some("q"));
    }
}
