//! The routes of `/v1/canvases`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header::{
    CONTENT_ENCODING, CONTENT_TYPE, ETAG, IF_MATCH, IF_NONE_MATCH, LOCATION, VARY,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post, put};
use reelgraph::store::{ListQuery, Page, VersionInfo};
use reelgraph::{Applied, CanvasDocument, Op};
use serde::{Deserialize, Serialize};

use super::Latest;
use crate::serve::api_error::{ApiError, ApiResult};
use crate::serve::content_coding::{self, Coding};
use crate::serve::etag;
use crate::serve::json::StrictJson;
use crate::serve::pagination::{self, CursorKind, PageQuery};
use crate::serve::query::StrictQuery;
use crate::serve::random::hex_token;
use crate::serve::registry::{Registry, Route, Scope};
use crate::serve::state::AppState;

const IF_MATCH_DOC: &str = "The revision the edit is based on: the canvas's `revision` or its ETag";

pub fn register(routes: &mut Registry) {
    routes.add(
        Route::get(
            "/v1/canvases",
            "listCanvases",
            "List canvases, ordered by id",
        )
        .query::<ListCanvases>()
        .response::<Page>(200, "A page of canvases; pass `next_cursor` for the next"),
        get(list),
    );
    routes.add(
        Route::post("/v1/canvases", "createCanvas", "Create an empty canvas")
            .scope(Scope::Write)
            .request::<NewCanvas>()
            .response::<CanvasDocument>(201, "The new canvas; `Location` says where it is"),
        post(create),
    );
    routes.add(
        Route::get(
            "/v1/canvases/{id}",
            "getCanvas",
            "Get a canvas's latest version",
        )
        .header(
            "If-None-Match",
            "An ETag of this canvas: 304 while it is current",
            false,
        )
        .response::<CanvasDocument>(200, "The canvas, with its ETag")
        .empty_response(304, "The canvas is still at the `If-None-Match` ETag"),
        get(get_canvas),
    );
    routes.add(
        Route::put(
            "/v1/canvases/{id}",
            "replaceCanvas",
            "Replace a canvas with a whole document",
        )
        .scope(Scope::Write)
        .header("If-Match", IF_MATCH_DOC, true)
        .request::<CanvasDocument>()
        .response::<CanvasDocument>(200, "The canvas as stored, at the next revision"),
        put(replace),
    );
    routes.add(
        Route::patch(
            "/v1/canvases/{id}",
            "patchCanvas",
            "Apply operations to a canvas, all or none",
        )
        .scope(Scope::Write)
        .header("If-Match", IF_MATCH_DOC, true)
        .request::<PatchCanvas>()
        .response::<Applied>(
            200,
            "The new revision, the inverse ops (undo) and the change event",
        ),
        patch(apply),
    );
    routes.add(
        Route::delete(
            "/v1/canvases/{id}",
            "deleteCanvas",
            "Delete a canvas and its history",
        )
        .scope(Scope::Write)
        .header(
            "If-Match",
            "Delete only while the canvas is at this revision",
            false,
        )
        .empty_response(204, "Deleted"),
        delete(remove),
    );
    routes.add(
        Route::get(
            "/v1/canvases/{id}/versions",
            "listCanvasVersions",
            "List a canvas's saved versions, newest first",
        )
        .query::<PageQuery>()
        .response::<VersionPage>(200, "A page of versions; pass `next_cursor` for the next"),
        get(versions),
    );
    routes.add(
        Route::get(
            "/v1/canvases/{id}/versions/{revision}",
            "getCanvasVersion",
            "Get one saved version of a canvas",
        )
        .response::<CanvasDocument>(200, "The canvas as it was at that revision"),
        get(version),
    );
}

/// The query of `GET /v1/canvases`.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListCanvases {
    /// The `next_cursor` of the previous page; left out for the first.
    #[serde(default)]
    pub cursor: Option<String>,
    /// How many canvases, 1 to 200 (default 50).
    #[serde(default)]
    #[schemars(with = "Option<u32>", range(min = 1, max = 200))]
    pub limit: Option<String>,
    /// Only canvases whose name starts with this.
    #[serde(default)]
    pub name: Option<String>,
}

/// The body of `POST /v1/canvases`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCanvas {
    /// The canvas's id; a random one (`canvas_` and 16 hex digits) when left out.
    #[serde(default)]
    pub id: Option<String>,
    pub name: String,
}

/// The body of `PATCH /v1/canvases/{id}`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchCanvas {
    /// Applied in order, all or none.
    pub ops: Vec<Op>,
}

/// A page of a canvas's versions, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VersionPage {
    pub items: Vec<VersionInfo>,
    /// Pass this as the next query's cursor; none on the last page.
    pub next_cursor: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    StrictQuery(query): StrictQuery<ListCanvases>,
) -> ApiResult<Json<Page>> {
    let limit = pagination::limit(query.limit.as_deref())?;
    let cursor = match &query.cursor {
        Some(cursor) => Some(pagination::decode(CursorKind::Canvases, cursor)?),
        None => None,
    };
    let mut page = state
        .canvases
        .list(&ListQuery {
            cursor,
            limit: limit as usize,
            name_prefix: query.name.filter(|n| !n.is_empty()),
        })
        .await?;
    page.next_cursor = page
        .next_cursor
        .map(|last| pagination::encode(CursorKind::Canvases, &last));
    Ok(Json(page))
}

async fn create(
    State(state): State<AppState>,
    StrictJson(body): StrictJson<NewCanvas>,
) -> ApiResult<Response> {
    let id = match body.id {
        Some(id) => id,
        None => format!("canvas_{}", hex_token(8)?),
    };
    let latest = state.canvases.create(&id, &body.name).await?;
    let mut response = document(&latest);
    *response.status_mut() = StatusCode::CREATED;
    if let Ok(location) = HeaderValue::from_str(&format!("/v1/canvases/{}", encode_segment(&id))) {
        response.headers_mut().insert(LOCATION, location);
    }
    Ok(response)
}

async fn get_canvas(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let latest = state.canvases.get(&id).await?;
    if let Some(given) = headers.get(IF_NONE_MATCH).and_then(|v| v.to_str().ok())
        && etag::list_names(given, &latest.etag)
    {
        return Ok((StatusCode::NOT_MODIFIED, [(ETAG, etag_value(&latest))]).into_response());
    }
    if latest.json.len() >= content_coding::MIN_SIZE
        && let Some(coding) = content_coding::preferred(&headers)
    {
        return Ok(compressed_document(&latest, coding).await);
    }
    Ok(document(&latest))
}

async fn replace(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    StrictJson(doc): StrictJson<CanvasDocument>,
) -> ApiResult<Response> {
    let expected = required_revision(&headers)?;
    let latest = state.canvases.replace(&id, expected, doc).await?;
    Ok(document(&latest))
}

async fn apply(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    StrictJson(body): StrictJson<PatchCanvas>,
) -> ApiResult<Response> {
    let expected = required_revision(&headers)?;
    let edit = state.canvases.apply(&id, expected, body.ops).await?;
    Ok((
        [
            (CONTENT_TYPE, HeaderValue::from_static("application/json")),
            (ETAG, etag::value(&edit.etag)),
        ],
        edit.json,
    )
        .into_response())
}

async fn remove(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    let expected = match headers.get(IF_MATCH) {
        Some(value) => Some(revision_of(value)?),
        None => None,
    };
    state.canvases.delete(&id, expected).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn versions(
    State(state): State<AppState>,
    Path(id): Path<String>,
    StrictQuery(query): StrictQuery<PageQuery>,
) -> ApiResult<Json<VersionPage>> {
    let limit = pagination::limit(query.limit.as_deref())? as usize;
    let before = match &query.cursor {
        Some(cursor) => {
            let position = pagination::decode(CursorKind::Versions, cursor)?;
            Some(position.parse::<u64>().map_err(|_| {
                ApiError::new(
                    "invalid_cursor",
                    format!("`{cursor}` is not a cursor of this list"),
                )
            })?)
        }
        None => None,
    };
    let history = state.canvases.history(&id).await?;
    let mut items: Vec<VersionInfo> = history
        .into_iter()
        .filter(|v| before.is_none_or(|b| v.revision < b))
        .take(limit + 1)
        .collect();
    let more = items.len() > limit;
    items.truncate(limit);
    let next_cursor = match items.last() {
        Some(last) if more => Some(pagination::encode(
            CursorKind::Versions,
            &last.revision.to_string(),
        )),
        _ => None,
    };
    Ok(Json(VersionPage { items, next_cursor }))
}

async fn version(
    State(state): State<AppState>,
    Path((id, revision)): Path<(String, String)>,
) -> ApiResult<Json<CanvasDocument>> {
    let Ok(revision) = revision.parse::<u64>() else {
        return Err(reelgraph::Error::NotFound {
            kind: "canvas version",
            id: format!("{id}@{revision}"),
        }
        .into());
    };
    Ok(Json(state.canvases.version(&id, revision).await?))
}

/// The latest version as a 200 with its ETag.
fn document(latest: &Arc<Latest>) -> Response {
    (
        [
            (CONTENT_TYPE, HeaderValue::from_static("application/json")),
            (ETAG, etag_value(latest)),
        ],
        latest.json.clone(),
    )
        .into_response()
}

/// The latest version compressed, with the headers the compression layer
/// gives a body it compresses (it leaves a response with a
/// `Content-Encoding` alone).
async fn compressed_document(latest: &Latest, coding: Coding) -> Response {
    (
        [
            (CONTENT_TYPE, HeaderValue::from_static("application/json")),
            (ETAG, etag_value(latest)),
            (VARY, HeaderValue::from_static("accept-encoding")),
            (CONTENT_ENCODING, HeaderValue::from_static(coding.token())),
        ],
        latest.compressed(coding).await,
    )
        .into_response()
}

fn etag_value(latest: &Latest) -> HeaderValue {
    HeaderValue::from_str(&latest.etag).unwrap_or_else(|_| HeaderValue::from_static("\"\""))
}

/// The revision of a required `If-Match`: 428 when it is missing.
fn required_revision(headers: &HeaderMap) -> ApiResult<u64> {
    match headers.get(IF_MATCH) {
        Some(value) => revision_of(value),
        None => Err(ApiError::new(
            "precondition_required",
            "this edit needs `If-Match: <revision>`, so that it cannot overwrite a change you have not seen",
        )),
    }
}

/// The revision an `If-Match` value names: `3`, `"3"` or an ETag `"3-..."`.
fn revision_of(value: &HeaderValue) -> ApiResult<u64> {
    let text = value.to_str().unwrap_or("").trim();
    let tag = text.trim_start_matches("W/").trim_matches('"');
    let number = tag.split('-').next().unwrap_or("");
    number.parse::<u64>().map_err(|_| {
        ApiError::new(
            "invalid_request",
            format!(
                "`If-Match: {text}` names no revision: send the canvas's `revision` or its ETag"
            ),
        )
    })
}

/// `id` as one path segment of a URL.
pub fn encode_segment(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for byte in id.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_takes_a_revision_or_an_etag() {
        let value = |text: &str| HeaderValue::from_str(text).expect("a header");
        assert_eq!(revision_of(&value("3")).expect("bare"), 3);
        assert_eq!(revision_of(&value("\"3\"")).expect("quoted"), 3);
        assert_eq!(revision_of(&value("\"12-ab12\"")).expect("etag"), 12);
        assert_eq!(revision_of(&value("W/\"12-ab12\"")).expect("weak"), 12);
        assert_eq!(
            revision_of(&value("*")).expect_err("star").code(),
            "invalid_request"
        );
        assert_eq!(
            revision_of(&value("-1")).expect_err("negative").code(),
            "invalid_request"
        );
    }

    #[test]
    fn ids_are_encoded_as_one_segment() {
        assert_eq!(encode_segment("a b/../c"), "a%20b%2F..%2Fc");
    }
}
