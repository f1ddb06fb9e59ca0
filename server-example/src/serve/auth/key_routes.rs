//! The admin routes of API keys: `POST /v1/keys`, `GET /v1/keys`,
//! `DELETE /v1/keys/{id}`. They do what `reelgraph keys` does on a data
//! directory.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use serde::{Deserialize, Serialize};

use super::keys::{KeyInfo, Revoke};
use crate::serve::api_error::{ApiError, ApiResult};
use crate::serve::json::StrictJson;
use crate::serve::pagination::{self, CursorKind, PageQuery};
use crate::serve::query::StrictQuery;
use crate::serve::registry::{Registry, Route, Scope};
use crate::serve::state::AppState;

pub fn register(routes: &mut Registry) {
    routes.add(
        Route::post("/v1/keys", "createKey", "Create an API key")
            .scope(Scope::Admin)
            .request::<NewKey>()
            .response::<CreatedKey>(201, "The key: `key` is shown only in this answer"),
        post(create),
    );
    routes.add(
        Route::get(
            "/v1/keys",
            "listKeys",
            "List API keys, oldest first (never their secrets)",
        )
        .scope(Scope::Admin)
        .query::<PageQuery>()
        .response::<KeyPage>(200, "A page of keys; pass `next_cursor` for the next"),
        get(list),
    );
    routes.add(
        Route::delete(
            "/v1/keys/{id}",
            "revokeKey",
            "Revoke an API key and end its sessions",
        )
        .scope(Scope::Admin)
        .response::<KeyInfo>(200, "The key, revoked"),
        delete(revoke),
    );
}

/// The body of `POST /v1/keys`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    /// Who or what uses the key, for the list (1 to 100 characters).
    pub name: String,
    /// One or more of `read`, `write`, `run`, `admin`.
    pub scopes: Vec<Scope>,
}

/// A key just made: its secret, shown once, and what is stored.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CreatedKey {
    /// The secret, `rg_` and 64 hex digits: send it as `Authorization: Bearer`.
    pub key: String,
    #[serde(flatten)]
    pub info: KeyInfo,
}

/// A page of keys.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyPage {
    pub items: Vec<KeyInfo>,
    /// The cursor of the next page; none on the last.
    pub next_cursor: Option<String>,
}

/// The longest key name.
pub const MAX_NAME: usize = 100;

/// Checks a new key's name and scopes, as the route and the command line take them.
pub fn check_new_key(name: &str, scopes: &[Scope]) -> reelgraph::Result<()> {
    let length = name.chars().count();
    if name.trim().is_empty() || length > MAX_NAME {
        return Err(reelgraph::Error::InvalidField {
            field: "name",
            message: format!("a key's name has 1 to {MAX_NAME} characters, not {length}"),
        });
    }
    if scopes.is_empty() || scopes.contains(&Scope::Public) {
        return Err(reelgraph::Error::InvalidField {
            field: "scopes",
            message: "a key has one or more of the scopes `read`, `write`, `run`, `admin`"
                .to_owned(),
        });
    }
    Ok(())
}

async fn create(
    State(state): State<AppState>,
    StrictJson(body): StrictJson<NewKey>,
) -> ApiResult<(StatusCode, Json<CreatedKey>)> {
    check_new_key(&body.name, &body.scopes)?;
    let (info, key) = state.keys.create_async(body.name, body.scopes).await?;
    Ok((StatusCode::CREATED, Json(CreatedKey { key, info })))
}

async fn list(
    State(state): State<AppState>,
    StrictQuery(query): StrictQuery<PageQuery>,
) -> ApiResult<Json<KeyPage>> {
    let limit = pagination::limit(query.limit.as_deref())?;
    let after = match &query.cursor {
        Some(cursor) => Some(pagination::decode(CursorKind::Keys, cursor)?),
        None => None,
    };
    let (items, last) = state.keys.page(after, limit).await?;
    Ok(Json(KeyPage {
        items,
        next_cursor: last.map(|position| pagination::encode(CursorKind::Keys, &position)),
    }))
}

async fn revoke(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<KeyInfo>> {
    match state.keys.revoke_async(id.clone()).await? {
        Revoke::Revoked(info) => Ok(Json(info)),
        Revoke::NotFound => Err(reelgraph::Error::NotFound {
            kind: "api key",
            id,
        }
        .into()),
        Revoke::LastAdmin => Err(last_admin_key(&id)),
    }
}

/// 409 `last_admin_key`: nobody could manage keys after it.
pub fn last_admin_key(id: &str) -> ApiError {
    ApiError::new(
        "last_admin_key",
        format!(
            "key `{id}` is the last admin key that is not revoked: revoking it would leave nobody who can manage keys"
        ),
    )
}
