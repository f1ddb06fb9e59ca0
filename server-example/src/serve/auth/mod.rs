//! Who may call what: API keys ([`keys`]) and the check every route that is
//! not `Scope::Public` passes before its handler ([`require`]).
//!
//! The registry puts [`require`] in front of each route with the route's
//! scope. A request passes with `Authorization: Bearer <key>` of a key that
//! is not revoked and holds that scope; the handler then finds the
//! [`Principal`] in the request's extensions. No key, an unknown or a
//! revoked one: 401 `unauthorized` (with `WWW-Authenticate: Bearer`); a key
//! without the scope: 403 `forbidden`.

pub mod keys;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

pub use self::keys::{KeyInfo, KeyStore, Lookup, Principal};
use super::api_error::ApiError;
use super::registry::Scope;
use super::state::AppState;

/// The check in front of one route: the state it looks keys up in and the
/// scope the route needs.
#[derive(Debug, Clone)]
pub struct Guard {
    pub state: AppState,
    pub scope: Scope,
}

/// The middleware of [`Guard`]: lets the request through to the handler,
/// with its [`Principal`], or answers 401 or 403.
pub async fn require(
    State(guard): State<Arc<Guard>>,
    mut request: Request,
    next: Next,
) -> Response {
    let header = request.headers().get(AUTHORIZATION).cloned();
    match authorize(&guard, header).await {
        Ok(principal) => {
            request.extensions_mut().insert(principal);
            next.run(request).await
        }
        Err(error) => error.into_response(),
    }
}

async fn authorize(guard: &Guard, header: Option<HeaderValue>) -> Result<Principal, Refusal> {
    let Some(header) = header else {
        return Err(Refusal::unauthorized(
            "the request has no `Authorization` header",
        ));
    };
    let Some(secret) = header.to_str().ok().and_then(|v| {
        v.strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))
    }) else {
        return Err(Refusal::unauthorized(
            "the `Authorization` header is not `Bearer <key>`",
        ));
    };
    match guard
        .state
        .keys
        .authenticate(secret.trim())
        .await
        .map_err(Refusal::Error)?
    {
        Lookup::Valid(principal) if principal.allows(guard.scope) => Ok(principal),
        Lookup::Valid(principal) => Err(Refusal::Error(
            ApiError::new(
                "forbidden",
                format!(
                    "key `{}` may not do this: the route needs the `{}` scope",
                    principal.key_id,
                    guard.scope.as_str()
                ),
            )
            .with_details(json!({
                "required_scope": guard.scope,
                "key_scopes": principal.scopes,
            })),
        )),
        Lookup::Revoked => Err(Refusal::unauthorized("the key was revoked")),
        Lookup::Unknown => Err(Refusal::unauthorized("the key is not one of this server's")),
    }
}

/// Why a request did not pass.
enum Refusal {
    Unauthorized(ApiError),
    Error(ApiError),
}

impl Refusal {
    fn unauthorized(message: &str) -> Refusal {
        Refusal::Unauthorized(ApiError::new("unauthorized", message))
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::Unauthorized(error) => {
                let mut response = error.into_response();
                response
                    .headers_mut()
                    .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                response
            }
            Refusal::Error(error) => error.into_response(),
        }
    }
}
