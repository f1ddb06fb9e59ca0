//! What an apply, undo or redo returns, kept native until JavaScript reads it.
//!
//! Writing an apply's inverse and event as JSON, and making a string and an
//! object of them, cost more than the core's apply of a few ops, and most
//! callers never read them (an editor's stream of small applies, a loop
//! building a canvas). So the canvas keeps each `Applied` under a number
//! `lib/canvas.js` chose and returns only the revision; the plain object
//! JavaScript gets converts `inverse` and `event` when they are first read,
//! and a `FinalizationRegistry` has the canvas forget the `Applied` once that
//! object is gone. No native object per apply: its finalizer and garbage
//! collector round cost more than the rest of a small apply.

use std::collections::HashMap;

use reelgraph::Applied;

use crate::convert::to_text;

/// The `Applied` of each apply whose object JavaScript may still read.
#[derive(Debug, Default)]
pub(crate) struct Kept {
    applied: HashMap<u64, Applied>,
}

impl Kept {
    /// Keeps `applied` under `serial`; returns its revision.
    pub(crate) fn keep(&mut self, serial: u64, applied: Applied) -> i64 {
        // Revisions count applies: far below 2^53, so a plain number.
        let revision = i64::try_from(applied.revision).unwrap_or(i64::MAX);
        self.applied.insert(serial, applied);
        revision
    }

    /// The ops that undo apply `serial`, as JSON text.
    pub(crate) fn inverse_json(&self, serial: u64) -> napi::Result<String> {
        to_text(&self.get(serial)?.inverse)
    }

    /// The change event of apply `serial`, as JSON text.
    pub(crate) fn event_json(&self, serial: u64) -> napi::Result<String> {
        to_text(&self.get(serial)?.event)
    }

    pub(crate) fn forget(&mut self, serial: u64) {
        self.applied.remove(&serial);
    }

    fn get(&self, serial: u64) -> napi::Result<&Applied> {
        // Only `lib/canvas.js` reads, and only what it has not let go of.
        self.applied.get(&serial).ok_or_else(|| {
            napi::Error::from_reason(format!(
                "apply {serial} is no longer kept; read `inverse` and `event` from the object apply returned"
            ))
        })
    }
}

/// A serial number as `lib/canvas.js` gives it (a whole number it counts up).
pub(crate) fn serial(value: f64) -> napi::Result<u64> {
    crate::executor::whole(value, "serial", 0.0).map(|n| n as u64)
}
