//! Logs: one JSON object a line on stderr (or plain text with
//! `--log-format text`), each line of a request carrying its request id.
//!
//! Requests are logged by method, route and status only: headers, query
//! strings and bodies never reach a log, so neither do keys nor cookies.

use std::time::Duration;

use axum::extract::MatchedPath;
use axum::http::{Request, Response};
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::trace::{MakeSpan, OnResponse, TraceLayer};
use tracing::Span;
use tracing_subscriber::EnvFilter;

use super::config::LogFormat;

/// The filter when `RUST_LOG` is not set: the server's own lines at info.
const DEFAULT_FILTER: &str = "info";

/// Installs the process's log subscriber. `RUST_LOG` (an `EnvFilter`
/// directive such as `info,reelgraph_server=debug`) chooses what is logged.
pub fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second init (in-process tests build many servers) keeps the first.
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Text => builder.with_ansi(false).try_init(),
    };
}

/// The request log layer: a span per request holding its id, method and
/// route, and one line when the response head goes out.
pub fn request_logs()
-> TraceLayer<SharedClassifier<ServerErrorsAsFailures>, RequestSpan, (), LogResponse> {
    TraceLayer::new_for_http()
        .make_span_with(RequestSpan)
        .on_request(())
        .on_response(LogResponse)
}

/// Makes the span of one request. The id is the `x-request-id` the request
/// id layer set (the client's, or a new one), so it must run inside that layer.
#[derive(Debug, Clone, Copy)]
pub struct RequestSpan;

impl<B> MakeSpan<B> for RequestSpan {
    fn make_span(&mut self, request: &Request<B>) -> Span {
        let request_id = request
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let route = request
            .extensions()
            .get::<MatchedPath>()
            .map_or("unmatched", MatchedPath::as_str);
        tracing::info_span!(
            "request",
            request_id,
            method = %request.method(),
            route,
        )
    }
}

/// Logs the status and latency of each response, in the request's span.
#[derive(Debug, Clone, Copy)]
pub struct LogResponse;

impl<B> OnResponse<B> for LogResponse {
    fn on_response(self, response: &Response<B>, latency: Duration, _span: &Span) {
        tracing::info!(
            status = response.status().as_u16(),
            latency_ms = latency.as_secs_f64() * 1000.0,
            "answered"
        );
    }
}
