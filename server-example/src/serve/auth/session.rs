//! Browser sessions: `POST /v1/session` trades an API key for a session
//! cookie and a CSRF token, `DELETE /v1/session` ends the session. The
//! cookie is `HttpOnly` (no script reads it) and `SameSite=Strict` (no other
//! site's page sends it), and `Secure` when the server is reached over TLS.

use std::time::{Duration, UNIX_EPOCH};

use axum::Json;
use axum::body::to_bytes;
use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post};
use serde::{Deserialize, Serialize};

use super::csrf;
use super::guard::{self, bearer, csrf_failed, unauthorized};
use super::keys::{self, Lookup, Principal};
use super::rate_limit::Caller;
use super::session_store::{self, Session};
use crate::serve::api_error::ApiError;
use crate::serve::json;
use crate::serve::registry::{Registry, Route, Scope};
use crate::serve::state::AppState;

/// The session cookie's name.
pub const COOKIE_NAME: &str = "reelgraph_session";

pub fn register(routes: &mut Registry) {
    // Public: the key comes in the request itself, and the handlers check it.
    routes.add(
        Route::post(
            "/v1/session",
            "startSession",
            "Trade an API key for a browser session cookie",
        )
        .scope(Scope::Public)
        .request::<StartSession>()
        .header(
            "Authorization",
            "`Bearer <key>`, instead of the key in the body",
            false,
        )
        .response::<SessionStarted>(201, "The session; the cookie is in `Set-Cookie`"),
        post(start),
    );
    routes.add(
        Route::delete(
            "/v1/session",
            "endSession",
            "End the browser session of the cookie",
        )
        .scope(Scope::Public)
        .header("X-CSRF-Token", "The session's CSRF token", true)
        .empty_response(204, "The session ended; `Set-Cookie` clears the cookie"),
        delete(end),
    );
}

/// The body of `POST /v1/session` (or send the key as `Authorization: Bearer`).
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StartSession {
    /// An API key, `rg_` and 64 hex digits.
    pub key: String,
}

/// The answer of `POST /v1/session`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionStarted {
    /// Send it as `X-CSRF-Token` with every POST, PUT, PATCH and DELETE
    /// made with the cookie. Shown once; keep it in the page's memory.
    pub csrf_token: String,
    /// The key the session acts as.
    pub key_id: String,
    pub scopes: Vec<Scope>,
    /// When the session ends, RFC 3339.
    pub expires_at: String,
}

async fn start(State(state): State<AppState>, request: Request) -> Response {
    let ip = guard::client_ip(&request);
    let https = state
        .config
        .security
        .origin_policy()
        .is_https(request.headers());
    let secret = match presented_key(&state, request).await {
        Ok(secret) => secret,
        Err(error) => return error.into_response(),
    };
    let principal = match state.keys.authenticate(&secret).await {
        Ok(Lookup::Valid(principal)) => principal,
        Ok(Lookup::Revoked | Lookup::Unknown) => {
            if let Err(limited) = guard::limit(&state, &Caller::Ip(ip)) {
                return limited;
            }
            return unauthorized(ApiError::new(
                "unauthorized",
                "the key is not a valid key of this server: sessions are only made for keys that are not revoked",
            ));
        }
        Err(error) => return error.into_response(),
    };
    if let Err(limited) = guard::limit(&state, &Caller::Key(principal.key_id.clone())) {
        return limited;
    }
    let ttl = state.config.security.session_ttl;
    let key_id = principal.key_id.clone();
    let made = state
        .db
        .call(move |conn| session_store::create(conn, &key_id, ttl))
        .await;
    let made = match made {
        Ok(made) => made,
        Err(error) => return error.into_response(),
    };
    let expires_at = UNIX_EPOCH + Duration::from_secs(u64::try_from(made.expires_at).unwrap_or(0));
    let body = SessionStarted {
        csrf_token: made.csrf_token,
        key_id: principal.key_id,
        scopes: principal.scopes,
        expires_at: humantime::format_rfc3339_seconds(expires_at).to_string(),
    };
    let cookie = set_cookie(&made.id, ttl.as_secs(), https);
    (StatusCode::CREATED, [(SET_COOKIE, cookie)], Json(body)).into_response()
}

/// The key of the `Authorization` header, or else of the JSON body.
async fn presented_key(state: &AppState, request: Request) -> Result<String, ApiError> {
    if let Some(header) = request.headers().get(AUTHORIZATION) {
        return bearer(header).map(str::to_owned).ok_or_else(|| {
            ApiError::new(
                "unauthorized",
                "the `Authorization` header is not `Bearer <key>`",
            )
        });
    }
    json::check_content_type(request.headers())?;
    let bytes = to_bytes(request.into_body(), state.config.body_limit)
        .await
        .map_err(|_| {
            ApiError::new(
                "payload_too_large",
                "the request body is over the server's limit",
            )
        })?;
    json::parse::<StartSession>(&bytes).map(|body| body.key)
}

async fn end(State(state): State<AppState>, request: Request) -> Response {
    let https = state
        .config
        .security
        .origin_policy()
        .is_https(request.headers());
    let cleared = [(SET_COOKIE, set_cookie("", 0, https))];
    let Some(id) = cookie(request.headers()).map(str::to_owned) else {
        return unauthorized(ApiError::new(
            "unauthorized",
            "the request has no session cookie: there is no session to end",
        ));
    };
    let found = match find(&state, &id).await {
        Ok(found) => found,
        Err(error) => return error.into_response(),
    };
    let Some((principal, session)) = found else {
        // Ended or expired already: the cookie goes all the same.
        return (StatusCode::NO_CONTENT, cleared).into_response();
    };
    if let Err(limited) = guard::limit(&state, &Caller::Key(principal.key_id)) {
        return limited;
    }
    let policy = state.config.security.origin_policy();
    if let Err(failure) = csrf::check(request.headers(), &policy, |t| session.csrf_matches(t)) {
        return csrf_failed(failure).into_response();
    }
    match state
        .db
        .call(move |conn| session_store::delete(conn, &id))
        .await
    {
        Ok(()) => (StatusCode::NO_CONTENT, cleared).into_response(),
        Err(error) => error.into_response(),
    }
}

/// The live session `id` and the key it acts as; none once it ended,
/// expired or its key was revoked.
pub async fn find(state: &AppState, id: &str) -> Result<Option<(Principal, Session)>, ApiError> {
    let id = id.to_owned();
    state
        .db
        .call(move |conn| {
            let Some(session) = session_store::find(conn, &id)? else {
                return Ok(None);
            };
            Ok(match keys::find_by_id(conn, &session.key_id)? {
                Lookup::Valid(principal) => Some((principal, session)),
                Lookup::Revoked | Lookup::Unknown => None,
            })
        })
        .await
}

/// The session id of the request's cookie, if it has one.
pub fn cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.trim_matches('"'))
        .filter(|value| !value.is_empty())
}

/// The `Set-Cookie` value of a session; `max_age` 0 clears the cookie.
fn set_cookie(id: &str, max_age: u64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{COOKIE_NAME}={id}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("reelgraph_session=; Path=/; Max-Age=0"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(
            COOKIE,
            HeaderValue::from_static("theme=dark; reelgraph_session=abc"),
        );
        assert_eq!(cookie(&headers), Some("abc"));
        let mut headers = HeaderMap::new();
        headers.append(COOKIE, HeaderValue::from_static("theme=dark"));
        headers.append(COOKIE, HeaderValue::from_static("reelgraph_session=def"));
        assert_eq!(cookie(&headers), Some("def"));
        let mut headers = HeaderMap::new();
        headers.append(COOKIE, HeaderValue::from_static("reelgraph_session="));
        assert_eq!(cookie(&headers), None);
    }

    #[test]
    fn the_cookie_is_http_only_and_strict_and_secure_over_tls() {
        let plain = set_cookie("abc", 60, false);
        assert_eq!(
            plain,
            "reelgraph_session=abc; Path=/; Max-Age=60; HttpOnly; SameSite=Strict"
        );
        assert!(
            set_cookie("abc", 60, true)
                .to_str()
                .expect("ascii")
                .ends_with("; Secure")
        );
    }
}
