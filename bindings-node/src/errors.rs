//! Errors crossing into JavaScript. A core error travels as its wire body
//! (`ErrorBody` plus the category) behind a marker in the message; `index.js`
//! turns it into a `ReelgraphError`. A wrong argument is `InvalidArg`, which
//! `index.js` throws as a `TypeError`.

use napi::Status;
use serde::Serialize;

/// The prefix `index.js` looks for; keep it in step with `lib/errors.js`.
const MARK: &str = "reelgraph-error:";

/// What `index.js` reads: the core's body, plus the category of the code.
#[derive(Serialize)]
struct Wire {
    #[serde(flatten)]
    body: reelgraph::ErrorBody,
    category: &'static str,
}

/// A core error as a napi error.
pub(crate) fn core_error(err: &reelgraph::Error) -> napi::Error {
    let wire = Wire {
        body: err.to_body(),
        category: err.category().as_str(),
    };
    match serde_json::to_string(&wire) {
        Ok(text) => napi::Error::new(Status::GenericFailure, format!("{MARK}{text}")),
        Err(e) => napi::Error::from_reason(format!("{err} (its details did not serialise: {e})")),
    }
}

/// A core result as a napi result.
pub(crate) fn js<T>(result: reelgraph::Result<T>) -> napi::Result<T> {
    result.map_err(|e| core_error(&e))
}

/// An argument of the wrong type; `index.js` throws it as a `TypeError`.
pub(crate) fn type_error(arg: &str, expected: &str, got: &str) -> napi::Error {
    napi::Error::new(
        Status::InvalidArg,
        format!("The \"{arg}\" argument must be {expected}, got {got}"),
    )
}

/// The core's error table, `[{code, category, http_status, when}]`, as JSON text.
#[napi_derive::napi]
pub fn error_table_json() -> napi::Result<String> {
    crate::convert::to_text(&reelgraph::error_codes::ERROR_CODES)
}
