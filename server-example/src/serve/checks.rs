//! Questions about a stored canvas that change nothing: its validation
//! report, whether a wire may join two ports, and the tasks its nodes would
//! send. All take the `read` scope.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::http::header::ETAG;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use reelgraph::{Canvas, CanvasDocument, ErrorBody, PortRef, Quality, Report, TaskPreview};
use serde::{Deserialize, Serialize};

use super::api_error::ApiResult;
use super::canvases::Latest;
use super::etag;
use super::json::StrictJson;
use super::node_types;
use super::query::StrictQuery;
use super::registry::{Registry, Route};
use super::state::AppState;

pub fn register(routes: &mut Registry) {
    routes.add(
        Route::post(
            "/v1/canvases/{id}/validate",
            "validateCanvas",
            "Validate a canvas",
        )
        .response::<Report>(
            200,
            "The findings: errors first, then warnings, in canvas order",
        ),
        post(validate),
    );
    routes.add(
        Route::post(
            "/v1/canvases/{id}/can-connect",
            "canConnect",
            "Whether a wire from an output to an input would be accepted",
        )
        .request::<ConnectionQuery>()
        .response::<ConnectionAnswer>(200, "Allowed, or the error a `connect` op would get"),
        post(can_connect),
    );
    routes.add(
        Route::get(
            "/v1/canvases/{id}/task-previews",
            "getTaskPreviews",
            "The tasks the canvas's nodes would send to a function runner",
        )
        .query::<PreviewQuery>()
        .header(
            "If-None-Match",
            "An ETag of these previews: 304 while they are current",
            false,
        )
        .response::<TaskPreviews>(
            200,
            "One preview per node that has a task, in topological order",
        )
        .empty_response(304, "The previews are still at the `If-None-Match` ETag"),
        get(task_previews),
    );
}

/// The body of `POST /v1/canvases/{id}/can-connect`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectionQuery {
    /// The output the wire starts at.
    pub source: PortRef,
    /// The input it ends at.
    pub target: PortRef,
}

/// Whether a `connect` op would be accepted.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectionAnswer {
    pub allowed: bool,
    /// Why not: the error `connect` would get (`unknown_node`,
    /// `unknown_port`, `self_loop`, `type_mismatch`, `duplicate_edge`,
    /// `input_occupied`, `cycle`), with its hint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<ErrorBody>,
}

/// The query of `GET /v1/canvases/{id}/task-previews`.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewQuery {
    /// The quality tier (default `standard`).
    #[serde(default)]
    pub quality: Option<Quality>,
    /// Only this node's task (an error when it has none).
    #[serde(default)]
    pub node: Option<String>,
}

/// The task previews of a canvas at one quality tier.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskPreviews {
    pub quality: Quality,
    pub items: Vec<TaskPreview>,
}

async fn validate(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Report>> {
    let (canvas, _) = read_canvas(&state, &id).await?;
    Ok(Json(canvas.validate()))
}

async fn can_connect(
    State(state): State<AppState>,
    Path(id): Path<String>,
    StrictJson(query): StrictJson<ConnectionQuery>,
) -> ApiResult<Json<ConnectionAnswer>> {
    let (canvas, _) = read_canvas(&state, &id).await?;
    let refusal = canvas.can_connect(&query.source, &query.target).err();
    Ok(Json(ConnectionAnswer {
        allowed: refusal.is_none(),
        refusal: refusal.map(|e| e.to_body()),
    }))
}

async fn task_previews(
    State(state): State<AppState>,
    Path(id): Path<String>,
    StrictQuery(query): StrictQuery<PreviewQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let quality = query.quality.unwrap_or_default();
    let latest = state.canvases.get(&id).await?;
    // The previews follow from the canvas, the catalogue and the query.
    let tag = etag::of(
        &format!(
            "{}-{}",
            latest.revision,
            node_types::catalog_version(&state.catalog)
        ),
        format!(
            "{}|{}|{}",
            latest.etag,
            quality.as_str(),
            query.node.as_deref().unwrap_or("")
        )
        .as_bytes(),
    );
    if etag::matches(&headers, &tag) {
        return Ok(etag::not_modified(&tag));
    }
    let canvas = load(&state, &latest)?;
    let items = match &query.node {
        Some(node) => vec![canvas.task_preview(node, quality)?],
        None => canvas.task_previews(quality),
    };
    Ok((
        [(ETAG, etag::value(&tag))],
        Json(TaskPreviews { quality, items }),
    )
        .into_response())
}

/// The latest version of canvas `id`, loaded with the server's catalogue.
pub async fn read_canvas(state: &AppState, id: &str) -> ApiResult<(Canvas, Arc<Latest>)> {
    let latest = state.canvases.get(id).await?;
    let canvas = load(state, &latest)?;
    Ok((canvas, latest))
}

/// `latest` as a canvas of the server's catalogue.
pub fn load(state: &AppState, latest: &Latest) -> ApiResult<Canvas> {
    let doc = CanvasDocument::from_json(std::str::from_utf8(&latest.json).unwrap_or_default())?;
    Ok(state.canvases.load(doc)?)
}
