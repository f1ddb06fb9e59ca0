//! The check in front of every route that is not `Scope::Public`, in this
//! order: who is calling (a bearer key, or a session cookie), whether the
//! caller is over its rate limit, whether a cookie request that changes
//! state passes the CSRF check, and whether the key holds the route's scope.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::csrf::{self, CsrfFailure};
use super::keys::{Lookup, Principal};
use super::rate_limit::{Caller, retry_after_secs};
use super::session;
use super::session_store::Session;
use crate::serve::api_error::ApiError;
use crate::serve::registry::Scope;
use crate::serve::state::AppState;

/// The check in front of one route: the state it looks keys up in and the
/// scope the route needs.
#[derive(Debug, Clone)]
pub struct Guard {
    pub state: AppState,
    pub scope: Scope,
}

/// The middleware of [`Guard`]: lets the request through to the handler,
/// with its [`Principal`] in the extensions, or answers 401, 403 or 429.
pub async fn require(
    State(guard): State<Arc<Guard>>,
    mut request: Request,
    next: Next,
) -> Response {
    let state = &guard.state;
    let principal = match identify(state, request.headers()).await {
        Ok(Identity::Key(principal)) => principal,
        Ok(Identity::Session(principal, session)) => {
            if csrf::is_state_changing(request.method())
                && let Err(failure) = csrf::check(
                    request.headers(),
                    &state.config.security.origin_policy(),
                    |token| session.csrf_matches(token),
                )
            {
                if let Err(limited) = limit(state, &Caller::Key(principal.key_id.clone())) {
                    return limited;
                }
                return csrf_failed(failure).into_response();
            }
            principal
        }
        Err(Refusal::Unauthorized(error)) => {
            // Without a valid key, the client's address pays.
            if let Err(limited) = limit(state, &Caller::Ip(client_ip(&request))) {
                return limited;
            }
            return unauthorized(error);
        }
        Err(Refusal::Error(error)) => return error.into_response(),
    };
    if let Err(limited) = limit(state, &Caller::Key(principal.key_id.clone())) {
        return limited;
    }
    if !principal.allows(guard.scope) {
        return forbidden(&principal, guard.scope).into_response();
    }
    request.extensions_mut().insert(principal);
    next.run(request).await
}

/// Who a request comes from.
enum Identity {
    /// `Authorization: Bearer <key>`.
    Key(Principal),
    /// The session cookie: CSRF rules apply.
    Session(Principal, Session),
}

enum Refusal {
    Unauthorized(ApiError),
    Error(ApiError),
}

impl From<ApiError> for Refusal {
    fn from(error: ApiError) -> Refusal {
        Refusal::Error(error)
    }
}

/// A bearer key wins over a cookie: a page cannot make a browser send one.
async fn identify(state: &AppState, headers: &HeaderMap) -> Result<Identity, Refusal> {
    if let Some(header) = headers.get(AUTHORIZATION) {
        let secret = bearer(header)
            .ok_or_else(|| refuse("the `Authorization` header is not `Bearer <key>`"))?;
        return match state.keys.authenticate(secret).await? {
            Lookup::Valid(principal) => Ok(Identity::Key(principal)),
            Lookup::Revoked => Err(refuse("the key was revoked: ask an admin for a new one")),
            Lookup::Unknown => Err(refuse("the key is not one of this server's")),
        };
    }
    let Some(id) = session::cookie(headers) else {
        return Err(refuse(
            "the request has no `Authorization: Bearer <key>` header and no session cookie",
        ));
    };
    match session::find(state, id).await? {
        Some((principal, session)) => Ok(Identity::Session(principal, session)),
        None => Err(refuse(
            "the session has ended or expired, or its key was revoked: start a new one with `POST /v1/session`",
        )),
    }
}

/// The key of an `Authorization: Bearer <key>` header.
pub fn bearer(header: &HeaderValue) -> Option<&str> {
    let value = header.to_str().ok()?;
    let (scheme, secret) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| secret.trim())
}

fn refuse(message: &str) -> Refusal {
    Refusal::Unauthorized(ApiError::new("unauthorized", message))
}

/// Takes one request from `caller`'s bucket, or answers 429.
pub fn limit(state: &AppState, caller: &Caller) -> Result<(), Response> {
    state.limits.check(caller).map_err(|wait| {
        let secs = retry_after_secs(wait);
        ApiError::new(
            "rate_limited",
            format!("too many requests: wait {secs} s before the next one"),
        )
        .with_details(json!({"retry_after": secs}))
        .into_response()
    })
}

/// The client's address, as the socket saw it (no proxy header is
/// trusted for it). In-process requests without one share a bucket.
pub fn client_ip(request: &Request) -> IpAddr {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED), |info| info.0.ip())
}

/// 401 with the challenge that says a bearer key is wanted.
pub fn unauthorized(error: ApiError) -> Response {
    let mut response = error.into_response();
    response
        .headers_mut()
        .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

fn forbidden(principal: &Principal, scope: Scope) -> ApiError {
    ApiError::new(
        "forbidden",
        format!(
            "key `{}` may not do this: the route needs the `{}` scope",
            principal.key_id,
            scope.as_str()
        ),
    )
    .with_details(json!({
        "required_scope": scope,
        "key_scopes": principal.scopes,
    }))
}

/// 403 `csrf_failed`, naming the reason.
pub fn csrf_failed(failure: CsrfFailure) -> ApiError {
    ApiError::new("csrf_failed", failure.message())
        .with_details(json!({"reason": failure.reason()}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_reads_the_scheme_in_any_case() {
        let key = HeaderValue::from_static("Bearer rg_abc");
        assert_eq!(bearer(&key), Some("rg_abc"));
        assert_eq!(
            bearer(&HeaderValue::from_static("bearer  rg_abc ")),
            Some("rg_abc")
        );
        assert_eq!(bearer(&HeaderValue::from_static("Basic dXNlcg==")), None);
        assert_eq!(bearer(&HeaderValue::from_static("rg_abc")), None);
    }
}
