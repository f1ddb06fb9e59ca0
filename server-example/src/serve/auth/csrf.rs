//! CSRF protection of cookie sessions. A browser attaches the session cookie
//! to any request to this server, even one a foreign page makes; so a
//! state-changing request made with the cookie must also carry the session's
//! CSRF token (which a foreign page cannot read) and come from an allowed
//! origin. Bearer requests need neither: no browser adds a bearer header on
//! its own.

use axum::http::{HeaderMap, Method, Uri, header};

/// How the origin of a request is judged.
#[derive(Debug, Clone, Default)]
pub struct OriginPolicy {
    /// `https` is this server's scheme (`--behind-tls`).
    pub behind_tls: bool,
    /// `X-Forwarded-Proto: https` from the proxy in front decides the scheme
    /// (`--trust-forwarded-proto`).
    pub trust_forwarded_proto: bool,
    /// Origins besides the server's own (`--allowed-origin`), as
    /// `scheme://host[:port]`.
    pub allowed: Vec<String>,
}

impl OriginPolicy {
    /// Whether the request arrived over TLS, as far as the server can tell.
    pub fn is_https(&self, headers: &HeaderMap) -> bool {
        self.behind_tls
            || (self.trust_forwarded_proto
                && headers
                    .get("x-forwarded-proto")
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.trim().eq_ignore_ascii_case("https")))
    }

    /// The server's own origin for this request, from its `Host` header.
    fn own_origin(&self, headers: &HeaderMap) -> Option<String> {
        let host = headers.get(header::HOST)?.to_str().ok()?;
        let scheme = if self.is_https(headers) {
            "https"
        } else {
            "http"
        };
        Some(format!("{scheme}://{}", host.to_ascii_lowercase()))
    }

    /// Whether `origin` is the server's own or an allowed one.
    fn allows(&self, origin: &str, headers: &HeaderMap) -> bool {
        let origin = origin.trim_end_matches('/').to_ascii_lowercase();
        self.own_origin(headers).as_deref() == Some(origin.as_str())
            || self
                .allowed
                .iter()
                .any(|allowed| allowed.trim_end_matches('/').eq_ignore_ascii_case(&origin))
    }
}

/// Why a cookie request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsrfFailure {
    /// No `X-CSRF-Token` header.
    MissingToken,
    /// A token that is not this session's.
    WrongToken,
    /// Neither `Origin` nor `Referer` says where the request comes from.
    MissingOrigin,
    /// It comes from a page of another origin.
    ForeignOrigin,
}

impl CsrfFailure {
    /// What went wrong and what to do, for the error body.
    pub fn message(self) -> &'static str {
        match self {
            CsrfFailure::MissingToken => {
                "a state-changing request with the session cookie needs the `X-CSRF-Token` header: send the `csrf_token` that `POST /v1/session` returned"
            }
            CsrfFailure::WrongToken => {
                "the `X-CSRF-Token` header is not this session's token: send the `csrf_token` that `POST /v1/session` returned for this cookie"
            }
            CsrfFailure::MissingOrigin => {
                "a state-changing request with the session cookie needs an `Origin` or `Referer` header: send it from a page of this server's origin"
            }
            CsrfFailure::ForeignOrigin => {
                "the request comes from another origin: send it from a page of this server's origin, or start the server with `--allowed-origin` naming that origin"
            }
        }
    }

    /// The stable reason, in the error's details.
    pub fn reason(self) -> &'static str {
        match self {
            CsrfFailure::MissingToken => "missing_token",
            CsrfFailure::WrongToken => "wrong_token",
            CsrfFailure::MissingOrigin => "missing_origin",
            CsrfFailure::ForeignOrigin => "foreign_origin",
        }
    }
}

/// The header the CSRF token travels in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Whether `method` can change state (everything but GET, HEAD, OPTIONS).
pub fn is_state_changing(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Checks a state-changing request made with a session cookie.
/// `token_matches` compares the `X-CSRF-Token` value with the session's.
pub fn check(
    headers: &HeaderMap,
    policy: &OriginPolicy,
    token_matches: impl FnOnce(&str) -> bool,
) -> Result<(), CsrfFailure> {
    check_origin(headers, policy)?;
    let token = headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .ok_or(CsrfFailure::MissingToken)?;
    if token_matches(token) {
        Ok(())
    } else {
        Err(CsrfFailure::WrongToken)
    }
}

/// Checks only where a cookie request comes from (a WebSocket handshake,
/// which carries no token): the server's own origin or an allowed one.
pub fn check_origin(headers: &HeaderMap, policy: &OriginPolicy) -> Result<(), CsrfFailure> {
    let origin = request_origin(headers).ok_or(CsrfFailure::MissingOrigin)?;
    if policy.allows(&origin, headers) {
        Ok(())
    } else {
        Err(CsrfFailure::ForeignOrigin)
    }
}

/// `Origin`, or else the origin part of `Referer`. An opaque origin (`null`)
/// counts as none.
fn request_origin(headers: &HeaderMap) -> Option<String> {
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().ok()?;
        return (origin != "null").then(|| origin.to_owned());
    }
    let referer: Uri = headers.get(header::REFERER)?.to_str().ok()?.parse().ok()?;
    Some(format!(
        "{}://{}",
        referer.scheme_str()?,
        referer.authority()?
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn own_origin_with_the_right_token_passes() {
        let h = headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8080"),
            ("x-csrf-token", "t"),
        ]);
        assert_eq!(check(&h, &OriginPolicy::default(), |t| t == "t"), Ok(()));
    }

    #[test]
    fn each_failure_is_named() {
        let policy = OriginPolicy::default();
        let h = headers(&[("host", "a.test"), ("origin", "http://a.test")]);
        assert_eq!(check(&h, &policy, |_| true), Err(CsrfFailure::MissingToken));
        let h = headers(&[
            ("host", "a.test"),
            ("origin", "http://a.test"),
            ("x-csrf-token", "x"),
        ]);
        assert_eq!(
            check(&h, &policy, |t| t == "t"),
            Err(CsrfFailure::WrongToken)
        );
        let h = headers(&[("host", "a.test"), ("x-csrf-token", "t")]);
        assert_eq!(
            check(&h, &policy, |_| true),
            Err(CsrfFailure::MissingOrigin)
        );
        let h = headers(&[
            ("host", "a.test"),
            ("origin", "null"),
            ("x-csrf-token", "t"),
        ]);
        assert_eq!(
            check(&h, &policy, |_| true),
            Err(CsrfFailure::MissingOrigin)
        );
        let h = headers(&[
            ("host", "a.test"),
            ("origin", "http://evil.test"),
            ("x-csrf-token", "t"),
        ]);
        assert_eq!(
            check(&h, &policy, |_| true),
            Err(CsrfFailure::ForeignOrigin)
        );
        // Same host, other scheme: another origin.
        let h = headers(&[
            ("host", "a.test"),
            ("origin", "https://a.test"),
            ("x-csrf-token", "t"),
        ]);
        assert_eq!(
            check(&h, &policy, |_| true),
            Err(CsrfFailure::ForeignOrigin)
        );
    }

    #[test]
    fn referer_stands_in_for_a_missing_origin() {
        let h = headers(&[
            ("host", "a.test"),
            ("referer", "http://a.test/canvas/1?x=1"),
            ("x-csrf-token", "t"),
        ]);
        assert_eq!(check(&h, &OriginPolicy::default(), |_| true), Ok(()));
    }

    #[test]
    fn tls_and_allowed_origins_count() {
        let tls = OriginPolicy {
            behind_tls: true,
            ..OriginPolicy::default()
        };
        let h = headers(&[
            ("host", "a.test"),
            ("origin", "https://a.test"),
            ("x-csrf-token", "t"),
        ]);
        assert_eq!(check(&h, &tls, |_| true), Ok(()));

        let proxied = OriginPolicy {
            trust_forwarded_proto: true,
            ..OriginPolicy::default()
        };
        let h = headers(&[
            ("host", "a.test"),
            ("x-forwarded-proto", "https"),
            ("origin", "https://a.test"),
            ("x-csrf-token", "t"),
        ]);
        assert_eq!(check(&h, &proxied, |_| true), Ok(()));
        // Not trusted: the header is ignored.
        assert_eq!(
            check(&h, &OriginPolicy::default(), |_| true),
            Err(CsrfFailure::ForeignOrigin)
        );

        let editor = OriginPolicy {
            allowed: vec!["http://localhost:5173".into()],
            ..OriginPolicy::default()
        };
        let h = headers(&[
            ("host", "a.test"),
            ("origin", "http://localhost:5173"),
            ("x-csrf-token", "t"),
        ]);
        assert_eq!(check(&h, &editor, |_| true), Ok(()));
    }
}
