//! Security headers on every response. The API serves JSON and SVG, never
//! a page that should run scripts or sit in a frame, so the policy is the
//! strictest there is.

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use tower_http::set_header::SetResponseHeaderLayer;

/// Nothing loads, nothing frames the response (covers `X-Frame-Options`).
const CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// Adds the headers to every response of `router`; `hsts_max_age` (seconds)
/// adds `Strict-Transport-Security`, only for servers reached over TLS.
pub fn apply<S: Clone + Send + Sync + 'static>(
    router: Router<S>,
    hsts_max_age: Option<u64>,
) -> Router<S> {
    let fixed: [(HeaderName, &'static str); 4] = [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ];
    let mut router = fixed.into_iter().fold(router, |router, (name, value)| {
        router.layer(SetResponseHeaderLayer::overriding(
            name,
            HeaderValue::from_static(value),
        ))
    });
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
