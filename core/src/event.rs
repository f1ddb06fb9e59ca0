//! Events: one envelope for canvas, run and autosave events, the same in
//! every language and on every wire.
//!
//! Every event is a JSON object tagged by `type`, with `seq` (its place in
//! its subject's sequence), `ts` (when it happened, RFC 3339 in UTC with
//! milliseconds) and its subject's id (`canvas_id` or `run_id`). Durations
//! are whole milliseconds in fields ending in `_ms`. What `seq` counts
//! depends on the subject:
//!
//! | subject | `seq` |
//! |---|---|
//! | canvas ([`Event`]) | the canvas revision the change made: 1 for the first change of a new canvas, then one more per apply, gapless across saves and loads |
//! | run ([`RunEvent`](crate::exec::RunEvent)) | from 0 per run, gapless |
//! | autosave ([`AutosaveEvent`](crate::store::AutosaveEvent)) | from 0 per autosaver, gapless |
//!
//! Events deserialise too; a field that is not part of the event, or a
//! field of the wrong type, is refused.
//!
//! ```
//! use reelgraph::{Canvas, Catalog, Event, Op};
//! use serde_json::json;
//!
//! let mut canvas = Canvas::new(Catalog::builtin(), "reel", "Reel");
//! let applied = canvas.apply(vec![Op::add_node("s1", "shot", json!({"number": 1}))]).unwrap();
//! let json = serde_json::to_value(&applied.event).unwrap();
//! assert_eq!((json["type"].as_str(), json["seq"].as_u64()), (Some("canvas_changed"), Some(1)));
//! let back: Event = serde_json::from_value(json).unwrap();
//! assert_eq!(back, applied.event);
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ops::Op;

/// Something that happened to a canvas.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum Event {
    /// A canvas changed: `ops` replayed on revision `revision - 1` give revision `revision`.
    /// Ops carry the ids the canvas generated (e.g. edge ids). `seq` is the
    /// revision: a consumer that sees a jump missed a change and reloads. An
    /// apply of no ops changed nothing: its event has no ops and repeats the
    /// current revision, which a consumer may ignore.
    CanvasChanged {
        canvas_id: Arc<str>,
        seq: u64,
        revision: u64,
        ts: Timestamp,
        ops: Vec<Op>,
    },
}

/// A wall-clock instant, written as RFC 3339 in UTC with milliseconds
/// (`2026-01-01T12:00:00.000Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub SystemTime);

impl Timestamp {
    /// Now, to the millisecond: what the wire carries, so an event read
    /// back equals the one written.
    pub fn now() -> Self {
        let now = SystemTime::now();
        let ms = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let ms = u64::try_from(ms).unwrap_or(u64::MAX);
        Timestamp(SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(ms))
    }

    /// Reads an RFC 3339 timestamp in UTC (`Z` or `+00:00`).
    pub fn parse(text: &str) -> Option<Self> {
        humantime::parse_rfc3339(text).ok().map(Timestamp)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&humantime::format_rfc3339_millis(self.0), f)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Timestamp::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format_args!(
                "`{text}` is not an RFC 3339 timestamp in UTC, such as 2026-01-01T12:00:00.000Z"
            ))
        })
    }
}

#[cfg(feature = "schema")]
impl schemars::JsonSchema for Timestamp {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Timestamp".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "format": "date-time",
            "description": "RFC 3339 in UTC with milliseconds, such as 2026-01-01T12:00:00.000Z"
        })
    }
}
