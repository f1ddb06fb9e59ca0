//! CORS for the origins of `--allowed-origin`: an editor served from
//! another origin (a dev server, say) may call the API from the browser with
//! the session cookie. Without the flag no CORS header is sent, so browsers
//! keep other origins' pages from reading any answer.

use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::csrf::CSRF_HEADER;

/// Adds the CORS layer to `router` when `allowed` names origins; an origin
/// that is not a valid header value is skipped (it could never match).
pub fn apply<S: Clone + Send + Sync + 'static>(router: Router<S>, allowed: &[String]) -> Router<S> {
    let origins: Vec<HeaderValue> = allowed
        .iter()
        .filter_map(|origin| HeaderValue::from_str(origin.trim_end_matches('/')).ok())
        .collect();
    if origins.is_empty() {
        return router;
    }
    let layer = CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_credentials(true)
        .allow_methods([
            Method::GET,
            Method::HEAD,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::IF_MATCH,
            header::IF_NONE_MATCH,
            HeaderName::from_static(CSRF_HEADER),
            HeaderName::from_static("last-event-id"),
        ])
        .expose_headers([
            header::ETAG,
            header::LOCATION,
            header::RETRY_AFTER,
            HeaderName::from_static("x-request-id"),
        ])
        .max_age(Duration::from_secs(600));
    router.layer(layer)
}
