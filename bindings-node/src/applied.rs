//! What an apply, undo or redo returns, converted when read.
//!
//! An apply of 100,000 ops returns 100,000 inverse ops and an event with
//! 100,000 ops (about 22 MB of JSON); writing and parsing them costs more
//! than the apply itself, so a big one stays native (`AppliedHandle`) and
//! `lib/canvas.js` converts its parts only when a caller reads them, as the
//! Python binding does. A small one crosses as JSON text, which
//! `lib/canvas.js` parses when first read: a native object per apply costs
//! a finalizer and a garbage-collector round, more than the text of a few
//! ops.

use napi::Either;
use napi_derive::napi;

use crate::convert::to_text;

/// Up to this many inverse ops an apply crosses as text.
const TEXT_OPS: usize = 64;

/// A small apply: the revision, and the core's `Applied` as JSON text.
#[napi(object)]
#[derive(Debug)]
pub struct AppliedText {
    pub revision: i64,
    pub text: String,
}

/// A big apply: the core's `Applied`, held by the object `lib/canvas.js`
/// returns until JavaScript lets go of it.
#[napi]
#[derive(Debug)]
pub struct AppliedHandle {
    inner: reelgraph::Applied,
}

/// The core's `Applied` as text or as a handle, by its size.
pub(crate) fn to_js(
    applied: reelgraph::Applied,
) -> napi::Result<Either<AppliedText, AppliedHandle>> {
    if applied.inverse.len() <= TEXT_OPS {
        Ok(Either::A(AppliedText {
            revision: revision(&applied),
            text: to_text(&applied)?,
        }))
    } else {
        Ok(Either::B(AppliedHandle { inner: applied }))
    }
}

fn revision(applied: &reelgraph::Applied) -> i64 {
    // Revisions count applies: far below 2^53, so a plain number.
    i64::try_from(applied.revision).unwrap_or(i64::MAX)
}

#[napi]
impl AppliedHandle {
    /// The canvas revision after the change.
    #[napi(getter)]
    pub fn revision(&self) -> i64 {
        revision(&self.inner)
    }

    /// The ops that undo the change, as JSON text.
    #[napi]
    pub fn inverse_json(&self) -> napi::Result<String> {
        to_text(&self.inner.inverse)
    }

    /// The change event, as JSON text.
    #[napi]
    pub fn event_json(&self) -> napi::Result<String> {
        to_text(&self.inner.event)
    }
}
