//! One error body for every failure: `{"error": {code, message, hint, details}}`.
//!
//! A core error keeps its code, hint and details, and the core's error
//! table (`reelgraph::error_codes`) decides its status. Failures only the
//! server has use [`SERVER_CODES`], a table of the same shape with a hint
//! per code. To add a server-only code: add a row to `SERVER_CODES` and
//! make the error with `ApiError::new("your_code", message)`; a unit test
//! checks that every code used is in the table.

use axum::Json;
use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use reelgraph::ErrorBody;
use reelgraph::error_codes::Category;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// An error as the server answers it.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
}

/// The response body of every error: the core's [`ErrorBody`] under `error`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

/// One row of the server's own error table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ServerCode {
    pub code: &'static str,
    pub category: Category,
    pub http_status: u16,
    /// What to do next, sent as the error's `hint`.
    pub hint: &'static str,
}

/// The codes only the server answers with (the core's are in
/// `reelgraph::error_codes::ERROR_CODES`).
pub const SERVER_CODES: &[ServerCode] = &[
    ServerCode {
        code: "unauthorized",
        category: Category::InvalidInput,
        http_status: 401,
        hint: "send `Authorization: Bearer <key>` with a key that is not revoked; the admin key is printed at the server's first start",
    },
    ServerCode {
        code: "forbidden",
        category: Category::Refused,
        http_status: 403,
        hint: "use a key with the scope this route needs (`details.required_scope`), or ask an admin for one",
    },
    ServerCode {
        code: "csrf_failed",
        category: Category::Refused,
        http_status: 403,
        hint: "send the session's `csrf_token` as `X-CSRF-Token`, from a page of the server's own origin (or one named with --allowed-origin); or use `Authorization: Bearer` instead of the cookie",
    },
    ServerCode {
        code: "last_admin_key",
        category: Category::Conflict,
        http_status: 409,
        hint: "make another admin key first (`POST /v1/keys` with the `admin` scope, or `reelgraph keys create --scope admin`), then revoke this one",
    },
    ServerCode {
        code: "rate_limited",
        category: Category::Unavailable,
        http_status: 429,
        hint: "wait for the seconds in the `Retry-After` header, then send the request again",
    },
    ServerCode {
        code: "unsupported_media_type",
        category: Category::InvalidInput,
        http_status: 415,
        hint: "send the body as JSON with `Content-Type: application/json`",
    },
    ServerCode {
        code: "not_acceptable",
        category: Category::InvalidInput,
        http_status: 406,
        hint: "ask for one of the media types in `details.supported` with `Accept`, or name the format with `?format=`",
    },
    ServerCode {
        code: "payload_too_large",
        category: Category::InvalidInput,
        http_status: 413,
        hint: "send a smaller body; the server's limit is set with --body-limit (REELGRAPH_BODY_LIMIT)",
    },
    ServerCode {
        code: "unknown_field",
        category: Category::InvalidInput,
        http_status: 422,
        hint: "remove the field named in `details.field` or fix its spelling; the OpenAPI document at /v1/openapi.json lists the fields",
    },
    ServerCode {
        code: "invalid_body",
        category: Category::InvalidInput,
        http_status: 422,
        hint: "fix the field named in `details.path` to match the request schema in /v1/openapi.json",
    },
    ServerCode {
        code: "invalid_request",
        category: Category::InvalidInput,
        http_status: 400,
        hint: "check the path and query parameters against /v1/openapi.json",
    },
    ServerCode {
        code: "invalid_cursor",
        category: Category::InvalidInput,
        http_status: 400,
        hint: "pass the `next_cursor` of the previous page unchanged, or leave `cursor` out for the first page",
    },
    ServerCode {
        code: "precondition_required",
        category: Category::InvalidInput,
        http_status: 428,
        hint: "send `If-Match: <revision>` with the revision you edited (the canvas's `revision`, or its ETag)",
    },
    ServerCode {
        code: "route_not_found",
        category: Category::NotFound,
        http_status: 404,
        hint: "check the path; /v1/openapi.json lists every route",
    },
    ServerCode {
        code: "method_not_allowed",
        category: Category::InvalidInput,
        http_status: 405,
        hint: "use one of the methods in the `Allow` header; /v1/openapi.json lists every route",
    },
    ServerCode {
        code: "request_timeout",
        category: Category::Unavailable,
        http_status: 408,
        hint: "send the whole request sooner; the server's limit is set with --request-timeout (REELGRAPH_REQUEST_TIMEOUT)",
    },
    ServerCode {
        code: "unavailable",
        category: Category::Unavailable,
        http_status: 503,
        hint: "the server is starting or stopping, or overloaded: retry in a moment",
    },
    ServerCode {
        code: "run_finished",
        category: Category::Conflict,
        http_status: 409,
        hint: "the run ended before the cancel: read its report with GET /v1/runs/{id}",
    },
    ServerCode {
        code: "run_running",
        category: Category::Conflict,
        http_status: 409,
        hint: "follow GET /v1/runs/{id}/events (each node_completed carries the node's outputs), or ask again once the run ended",
    },
    ServerCode {
        code: "idempotency_conflict",
        category: Category::Conflict,
        http_status: 409,
        hint: "this idempotency key names a task of another function (`details.task_id`): use another key for this task",
    },
    ServerCode {
        code: "task_finished",
        category: Category::Conflict,
        http_status: 409,
        hint: "the task ended before this call: read it with GET /v1/tasks/{id}; a worker drops it and claims the next",
    },
    ServerCode {
        code: "lease_lost",
        category: Category::Conflict,
        http_status: 409,
        hint: "the lease expired and the task went to another worker: stop working on it, drop the result and claim again",
    },
    ServerCode {
        code: "lease_expired",
        category: Category::Conflict,
        http_status: 409,
        hint: "the lease ran out (heartbeat more often than the lease, `lease_ms`): stop working on the task and claim again",
    },
    ServerCode {
        code: "invalid_outputs",
        category: Category::InvalidInput,
        http_status: 422,
        hint: "a completion must name exactly the task's declared `outputs` (`details.missing`, `details.unexpected`); the attempt failed as `invalid_input`",
    },
    ServerCode {
        code: "invalid_path",
        category: Category::InvalidInput,
        http_status: 400,
        hint: "use a `path` from the run's outputs: relative, without `..`, `.`, backslashes or a leading `/`",
    },
    ServerCode {
        code: "not_ready",
        category: Category::Unavailable,
        http_status: 503,
        hint: "the server cannot reach its canvas store (`details.cause`): check the data directory and the log, then restart the server",
    },
    ServerCode {
        code: "upgrade_required",
        category: Category::InvalidInput,
        http_status: 426,
        hint: "open `/v1/ws` with a WebSocket client (`new WebSocket(url)` in a browser), not a plain HTTP request",
    },
    ServerCode {
        code: "unsupported_subprotocol",
        category: Category::InvalidInput,
        http_status: 400,
        hint: "offer `reelgraph.json.v1` or `reelgraph.msgpack.v1` in `Sec-WebSocket-Protocol`, or offer none for JSON",
    },
    ServerCode {
        code: "invalid_message",
        category: Category::InvalidInput,
        http_status: 400,
        hint: "send one message per frame: an object with a `type` and its fields, as JSON in a text frame (or MessagePack in a binary frame with `reelgraph.msgpack.v1`); see docs/server-websocket.md",
    },
    ServerCode {
        code: "unknown_message_type",
        category: Category::InvalidInput,
        http_status: 400,
        hint: "use one of the types in `details.known`: `subscribe`, `unsubscribe` or `apply`",
    },
    ServerCode {
        code: "too_slow",
        category: Category::Unavailable,
        http_status: 503,
        hint: "read frames as they come (or subscribe to less), then connect again and subscribe with `since` to get what you missed",
    },
    ServerCode {
        code: "too_many_subscriptions",
        category: Category::Refused,
        http_status: 429,
        hint: "unsubscribe from what you no longer follow, or open another connection; the server's limit is `--ws-max-subscriptions`",
    },
    ServerCode {
        code: "server_error",
        category: Category::Internal,
        http_status: 500,
        hint: "this is a bug in the server: report it with the `x-request-id` of the response",
    },
];

impl ServerCode {
    /// The row of `code`, if the server has one.
    pub fn find(code: &str) -> Option<&'static ServerCode> {
        SERVER_CODES.iter().find(|row| row.code == code)
    }
}

impl ApiError {
    /// A server-only error; `code` must be a row of [`SERVER_CODES`] (an
    /// unknown code answers 500 `server_error`, and a unit test keeps every
    /// code used in the table).
    pub fn new(code: &'static str, message: impl Into<String>) -> ApiError {
        let row = ServerCode::find(code).unwrap_or(&SERVER_CODES[SERVER_CODES.len() - 1]);
        ApiError {
            status: StatusCode::from_u16(row.http_status)
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            body: ErrorBody {
                code: row.code.to_owned(),
                message: message.into(),
                hint: row.hint.to_owned(),
                details: json!({}),
            },
        }
    }

    /// The same error with these details (an object).
    pub fn with_details(mut self, details: Value) -> ApiError {
        self.body.details = details;
        self
    }

    /// The code, e.g. `not_found`.
    pub fn code(&self) -> &str {
        &self.body.code
    }

    /// The error a server-only status gets when something other than a
    /// handler (a layer, axum's router) answered it without a JSON body.
    pub fn for_status(status: StatusCode, message: String) -> ApiError {
        let code = match status.as_u16() {
            400 => "invalid_request",
            401 => "unauthorized",
            403 => "forbidden",
            404 => "route_not_found",
            405 => "method_not_allowed",
            408 => "request_timeout",
            413 => "payload_too_large",
            415 => "unsupported_media_type",
            429 => "rate_limited",
            503 | 504 => "unavailable",
            _ => "server_error",
        };
        let mut error = ApiError::new(code, message);
        error.status = status;
        error
    }
}

impl From<reelgraph::Error> for ApiError {
    fn from(error: reelgraph::Error) -> ApiError {
        ApiError {
            status: StatusCode::from_u16(error.http_status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            body: error.to_body(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // An error that says when to come back says it in the header too.
        let retry_after = self.body.details.get("retry_after").and_then(Value::as_u64);
        let mut response = (self.status, Json(ErrorEnvelope { error: self.body })).into_response();
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(secs));
        }
        // Lets the layer that turns bare error responses into JSON see at
        // once that this one needs nothing.
        response.extensions_mut().insert(Answered);
        response
    }
}

/// Marks a response whose error body is already the JSON envelope.
#[derive(Debug, Clone, Copy)]
pub struct Answered;

/// What a handler returns.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `ApiError::new("code", ...)` under `src/serve/`, whoever wrote it.
    #[test]
    fn every_code_the_server_makes_is_in_its_table() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/serve");
        let mut dirs = vec![root];
        let mut seen = 0;
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).expect("src/serve is readable") {
                let path = entry.expect("a directory entry").path();
                if path.is_dir() {
                    dirs.push(path);
                    continue;
                }
                let text = std::fs::read_to_string(&path).expect("a source file");
                // Code, not comments (the docs show the call with a made-up code).
                let source: String = text
                    .lines()
                    .filter(|line| !line.trim_start().starts_with("//"))
                    .collect::<Vec<_>>()
                    .join("\n");
                let pattern = concat!("ApiError::new", "(");
                for (at, _) in source.match_indices(pattern) {
                    // rustfmt may put the code on the next line.
                    let rest = source[at + pattern.len()..].trim_start();
                    let Some(rest) = rest.strip_prefix('"') else {
                        continue;
                    };
                    let code = &rest[..rest.find('"').expect("a closing quote")];
                    assert!(
                        ServerCode::find(code).is_some(),
                        "`{code}` in {} has no row in SERVER_CODES",
                        path.display()
                    );
                    seen += 1;
                }
            }
        }
        assert!(
            seen > 5,
            "found only {seen} server errors: is the pattern still right?"
        );
    }

    #[test]
    fn server_codes_are_unique_and_not_the_cores() {
        for (i, row) in SERVER_CODES.iter().enumerate() {
            assert!(
                SERVER_CODES[..i].iter().all(|r| r.code != row.code),
                "{} twice",
                row.code
            );
            assert!(
                reelgraph::error_codes::ErrorCode::find(row.code).is_none(),
                "{} is already the core's",
                row.code
            );
            assert!((400..600).contains(&row.http_status));
        }
    }

    #[test]
    fn a_core_error_keeps_its_code_and_status() {
        let error = ApiError::from(reelgraph::Error::NotFound {
            kind: "canvas",
            id: "film".into(),
        });
        assert_eq!(error.status, StatusCode::NOT_FOUND);
        assert_eq!(error.code(), "not_found");
        assert!(!error.body.hint.is_empty());
    }
}
