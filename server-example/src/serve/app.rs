//! [`app`]: the whole HTTP API as one axum [`Router`], every route from the
//! registry and every layer around them. Tests call it in-process; `serve`
//! puts it on a socket.
//!
//! To plug a module in: register its routes in [`routes`] (one line), and
//! put a layer in the marked place of [`app`].

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderName, StatusCode};
use axum::middleware::{Next, from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tower::ServiceBuilder;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{DefaultPredicate, Predicate};
use tower_http::limit::{RequestBodyLimitLayer, ResponseBody};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;

use super::api_error::{Answered, ApiError};
use super::registry::Registry;
use super::state::AppState;
use super::{
    auth, canvases, checks, formats, health, logging, metrics, node_types, openapi, runs, tasks, ws,
};

/// The header that carries a request's id, echoed on its response.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Every route of the server, registered once.
pub fn routes(routes: &mut Registry) {
    canvases::register(routes);
    health::register(routes);
    metrics::register(routes);
    checks::register(routes);
    formats::register(routes);
    node_types::register(routes);
    runs::register(routes);
    tasks::register(routes);
    auth::register(routes);
    ws::register(routes);
}

/// Every route, `GET /v1/openapi.json` included, which answers with what
/// `document` holds once it is set.
pub fn registry(document: Arc<OnceLock<Bytes>>) -> Registry {
    let mut registry = Registry::new();
    openapi::register(&mut registry, document);
    routes(&mut registry);
    registry
}

/// The OpenAPI document of the server.
pub fn openapi_document() -> Value {
    openapi::document(registry(Arc::default()).routes())
}

/// The server's HTTP API.
pub fn app(state: AppState) -> Router {
    let document = Arc::new(OnceLock::new());
    let registry = registry(document.clone());
    let text = serde_json::to_vec(&openapi::document(registry.routes())).unwrap_or_default();
    let _ = document.set(Bytes::from(text));

    let limit = state.config.body_limit;
    let router = registry
        .into_router(&state)
        .fallback(|request: Request| async move {
            ApiError::new(
                "route_not_found",
                format!(
                    "there is no route {} {}",
                    request.method(),
                    request.uri().path()
                ),
            )
        });
    // Each `Router::layer` wraps every route in a boxed service, and a boxed
    // route clones everything below it on each call: layers added one by one
    // cost a clone per pair of layers per request. So the layers go on in
    // three stacks (outside in, the first listed first); the optional ones
    // (CORS, HSTS) add a level each only when configured.
    let router = router.layer(
        ServiceBuilder::new()
            // Every answer is counted and logged, errors and 404s too; both
            // run inside the request id layers so logs carry the id.
            .layer(logging::request_logs())
            .layer(from_fn_with_state(
                state.metrics.clone(),
                metrics::track_requests,
            ))
            .layer(
                CompressionLayer::new()
                    .gzip(true)
                    .br(true)
                    .compress_when(DefaultPredicate::new().and(not_switching_protocols)),
            )
            .layer(from_fn(json_errors))
            .layer(TimeoutLayer::with_status_code(
                StatusCode::REQUEST_TIMEOUT,
                state.config.request_timeout,
            ))
            // The timeout's 408 needs a body type with a default.
            .map_response(limited_into_response)
            .layer(RequestBodyLimitLayer::new(limit))
            .layer(DefaultBodyLimit::max(limit)),
    );
    let router = auth::cors::apply(router, &state.config.security.allowed_origins);
    auth::headers::apply(router, state.config.security.hsts_max_age)
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(PropagateRequestIdLayer::new(REQUEST_ID)),
        )
        .with_state(state)
}

fn limited_into_response(response: axum::http::Response<ResponseBody<Body>>) -> Response {
    response.into_response()
}

/// A WebSocket handshake's answer has no body to compress, and a
/// `Content-Encoding` on it would only confuse clients.
fn not_switching_protocols(
    status: StatusCode,
    _: axum::http::Version,
    _: &axum::http::HeaderMap,
    _: &axum::http::Extensions,
) -> bool {
    status != StatusCode::SWITCHING_PROTOCOLS
}

/// Gives an error response that something other than a handler made (a
/// layer's 408 or 413, axum's 405 or a path it could not read) the JSON
/// body every error has: no plain-text error leaves the server.
async fn json_errors(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error())
        || response.extensions().get::<Answered>().is_some()
    {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = to_bytes(body, 64 * 1024).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text).trim().to_owned();
    let message = match status {
        StatusCode::METHOD_NOT_ALLOWED => format!("{method} is not allowed on {path}"),
        StatusCode::REQUEST_TIMEOUT => "the request took longer than the server's limit".to_owned(),
        StatusCode::PAYLOAD_TOO_LARGE => "the request body is over the server's limit".to_owned(),
        _ if text.is_empty() => status.canonical_reason().unwrap_or("error").to_owned(),
        _ => text,
    };
    let mut answer = ApiError::for_status(status, message).into_response();
    for (name, value) in &parts.headers {
        if name != CONTENT_TYPE && name != CONTENT_LENGTH {
            answer.headers_mut().insert(name, value.clone());
        }
    }
    answer
}
