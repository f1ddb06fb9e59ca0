//! Security headers on every response. The API serves JSON and SVG, never
//! a page that should run scripts or sit in a frame, so the policy is the
//! strictest there is.

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use tower::ServiceBuilder;
use tower_http::set_header::SetResponseHeaderLayer;

/// Nothing loads, nothing frames the response (covers `X-Frame-Options`).
const CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// Adds the headers to every response of `router`; `hsts_max_age` (seconds)
/// adds `Strict-Transport-Security`, only for servers reached over TLS.
pub fn apply<S: Clone + Send + Sync + 'static>(
    router: Router<S>,
    hsts_max_age: Option<u64>,
) -> Router<S> {
    // One stack, so one level of boxed route (see `app`); the innermost
    // (last) sets its header first, as when they were added one by one.
    let fixed = |name: HeaderName, value: &'static str| {
        SetResponseHeaderLayer::overriding(name, HeaderValue::from_static(value))
    };
    let mut router = router.layer(
        ServiceBuilder::new()
            .layer(fixed(header::X_FRAME_OPTIONS, "DENY"))
            .layer(fixed(header::REFERRER_POLICY, "no-referrer"))
            .layer(fixed(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .layer(fixed(header::CONTENT_SECURITY_POLICY, CSP)),
    );
    if let Some(max_age) = hsts_max_age {
        let value = HeaderValue::from_str(&format!("max-age={max_age}; includeSubDomains"))
            .expect("a number makes a valid header value");
        router = router.layer(SetResponseHeaderLayer::overriding(
            header::STRICT_TRANSPORT_SECURITY,
            value,
        ));
    }
    router
}
