//! Canvases in other formats: `GET /v1/canvases/{id}/export` in the format
//! the `Accept` header (or `?format=`) asks for, and
//! `POST /v1/canvases/import`, which reads the format its `Content-Type`
//! names and stores the result as a new canvas. `media_types` holds the
//! table of formats and media types.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::{ACCEPT, CONTENT_TYPE, ETAG, LOCATION, VARY};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use reelgraph::CanvasDocument;
use reelgraph::format::react_flow::{self, ReactFlow};
use reelgraph::format::{Imported, comfyui, import_any};
use reelgraph::render::{SvgOptions, to_dot, to_mermaid, to_svg};
use serde::Deserialize;
use serde_json::json;

use super::api_error::{ApiError, ApiResult};
use super::canvases::encode_segment;
use super::checks::load;
use super::etag;
use super::media_types::{self, Choice, ExportFormat, ImportFormat};
use super::node_types;
use super::query::StrictQuery;
use super::registry::{Registry, Route, Scope};
use super::state::AppState;

pub fn register(routes: &mut Registry) {
    let mut export_route = Route::get(
        "/v1/canvases/{id}/export",
        "exportCanvas",
        "A canvas in the format `Accept` or `?format=` asks for",
    )
    .query::<ExportQuery>()
    .header(
        "Accept",
        "The format's media type (see the docs' table); the native document by default",
        false,
    )
    .header(
        "If-None-Match",
        "An ETag of this export: 304 while it is current",
        false,
    )
    .response_as::<CanvasDocument>(
        200,
        media_types::NATIVE,
        "The canvas in the format asked for",
    )
    .response_as::<CanvasDocument>(
        200,
        media_types::JSON,
        "The native document, for `Accept: application/json`",
    )
    .response_as::<ReactFlow>(200, media_types::REACT_FLOW, "A React Flow object")
    .response_as::<serde_json::Map<String, serde_json::Value>>(
        200,
        media_types::COMFYUI_API,
        "A ComfyUI API prompt",
    );
    for format in [ExportFormat::Dot, ExportFormat::Mermaid, ExportFormat::Svg] {
        export_route =
            export_route.raw_response(200, format.content_type(), "A picture of the canvas");
    }
    routes.add(
        export_route.empty_response(304, "The export is still at the `If-None-Match` ETag"),
        get(export),
    );
    routes.add(
        Route::post(
            "/v1/canvases/import",
            "importCanvas",
            "Create a canvas from a document in any format",
        )
        .scope(Scope::Write)
        .query::<ImportQuery>()
        .request_as::<CanvasDocument>(media_types::NATIVE)
        .request_as::<ReactFlow>(media_types::REACT_FLOW)
        .request_as::<serde_json::Value>(media_types::COMFYUI_WORKFLOW)
        .request_as::<serde_json::Value>(media_types::COMFYUI_API)
        .request_as::<serde_json::Value>(media_types::JSON)
        .response::<Imported>(
            201,
            "The stored canvas and what the import had to say; `Location` says where it is",
        ),
        post(import),
    );
}

/// The query of `GET /v1/canvases/{id}/export`.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    /// The format, instead of `Accept` (for links): `native`, `react_flow`,
    /// `comfyui_api`, `dot`, `mermaid` or `svg`.
    #[serde(default)]
    pub format: Option<String>,
}

/// The query of `POST /v1/canvases/import`.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// The new canvas's id, instead of the one the document has.
    #[serde(default)]
    pub id: Option<String>,
    /// The new canvas's name, instead of the one the document has.
    #[serde(default)]
    pub name: Option<String>,
}

async fn export(
    State(state): State<AppState>,
    Path(id): Path<String>,
    StrictQuery(query): StrictQuery<ExportQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let choice = match query.format.as_deref() {
        Some(name) => {
            Choice::of(ExportFormat::from_name(name).ok_or_else(|| unknown_export_format(name))?)
        }
        None => media_types::negotiate(accept(&headers).as_deref())
            .ok_or_else(|| not_acceptable(&headers))?,
    };
    let format = choice.format;
    let latest = state.canvases.get(&id).await?;
    // An export follows from the canvas, the catalogue (titles, ports) and the format.
    let tag = etag::of(
        &format!(
            "{}-{}",
            latest.revision,
            node_types::catalog_version(&state.catalog)
        ),
        format!("{}|{}", latest.etag, format.name()).as_bytes(),
    );
    let vary = (VARY, HeaderValue::from_static("accept"));
    if etag::matches(&headers, &tag) {
        let mut response = etag::not_modified(&tag);
        response.headers_mut().insert(vary.0, vary.1);
        return Ok(response);
    }
    let body = match format {
        ExportFormat::Native => latest.json.clone(),
        other => Bytes::from(render(&load(&state, &latest)?, other)?),
    };
    Ok((
        [
            (CONTENT_TYPE, HeaderValue::from_static(choice.content_type)),
            (ETAG, etag::value(&tag)),
            vary,
        ],
        body,
    )
        .into_response())
}

/// A canvas in `format`. An export of the native document sends the stored
/// bytes instead, without loading the canvas.
fn render(canvas: &reelgraph::Canvas, format: ExportFormat) -> ApiResult<Vec<u8>> {
    let text = match format {
        ExportFormat::Native => canvas.to_json(),
        ExportFormat::ReactFlow => to_json(&react_flow::export_canvas(canvas))?,
        ExportFormat::ComfyuiApi => {
            let api = comfyui::export_api_prompt(canvas);
            if api.prompt.is_empty() {
                return Err(reelgraph::Error::EmptyPrompt {
                    canvas: canvas.id().to_owned(),
                }
                .into());
            }
            to_json(&api.prompt)?
        }
        ExportFormat::Dot => to_dot(canvas),
        ExportFormat::Mermaid => to_mermaid(canvas),
        ExportFormat::Svg => to_svg(canvas, &SvgOptions::default()),
    };
    Ok(text.into_bytes())
}

fn to_json(value: &impl serde::Serialize) -> ApiResult<String> {
    serde_json::to_string(value).map_err(|e| reelgraph::Error::from(e).into())
}

async fn import(
    State(state): State<AppState>,
    StrictQuery(query): StrictQuery<ImportQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let given = headers.get(CONTENT_TYPE).map(|v| v.to_str().unwrap_or("?"));
    let Some(format) = given.and_then(media_types::import_format) else {
        return Err(unsupported_import_type(given));
    };
    let format = match format {
        ImportFormat::Named(format) => Some(format),
        ImportFormat::Detect => None,
    };
    let text = std::str::from_utf8(&body)
        .map_err(|e| reelgraph::Error::InvalidJson {
            message: format!("the body is not UTF-8: {e}"),
        })?
        .to_owned();
    // Imports of large workflows take a while: off the async threads.
    let catalog = state.catalog.clone();
    let mut imported = tokio::task::spawn_blocking(move || import_any(&catalog, &text, format))
        .await
        .map_err(|e| ApiError::new("server_error", format!("the import did not finish: {e}")))??;
    if let Some(id) = query.id {
        imported.canvas.id = id;
    }
    if let Some(name) = query.name {
        imported.canvas.name = name;
    }
    let latest = state
        .canvases
        .create_document(imported.canvas.clone())
        .await?;
    imported.canvas =
        CanvasDocument::from_json(std::str::from_utf8(&latest.json).unwrap_or_default())?;
    let location = format!("/v1/canvases/{}", encode_segment(&imported.canvas.id));
    let mut response = (
        StatusCode::CREATED,
        [(ETAG, etag::value(&latest.etag))],
        Json(imported),
    )
        .into_response();
    if let Ok(location) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(LOCATION, location);
    }
    Ok(response)
}

/// Every `Accept` header of the request as one list; a value that is not
/// text accepts nothing.
fn accept(headers: &HeaderMap) -> Option<String> {
    let values: Vec<&str> = headers
        .get_all(ACCEPT)
        .iter()
        .map(|v| v.to_str().unwrap_or("invalid/invalid"))
        .collect();
    (!values.is_empty()).then(|| values.join(","))
}

fn unknown_export_format(name: &str) -> ApiError {
    reelgraph::Error::InvalidField {
        field: "format",
        message: format!(
            "`{}` is not an export format: use one of {}",
            name.chars().take(40).collect::<String>(),
            ExportFormat::ALL.map(ExportFormat::name).join(", ")
        ),
    }
    .into()
}

fn not_acceptable(headers: &HeaderMap) -> ApiError {
    let given = accept(headers).unwrap_or_default();
    ApiError::new(
        "not_acceptable",
        format!(
            "no export format is acceptable to `Accept: {}`",
            given.chars().take(200).collect::<String>()
        ),
    )
    .with_details(json!({
        "accept": given,
        "supported": ExportFormat::ALL.map(ExportFormat::media_type),
    }))
}

fn unsupported_import_type(given: Option<&str>) -> ApiError {
    let mut error = ApiError::new(
        "unsupported_media_type",
        match given {
            Some(given) => format!("no importer reads `{given}`"),
            None => "the request has no Content-Type; an import needs one".to_owned(),
        },
    )
    .with_details(json!({"found": given, "supported": media_types::IMPORT_TYPES}));
    error.body.hint = format!(
        "send the document with one of the media types {} (plain `application/json` tells the format from the content)",
        media_types::IMPORT_TYPES.join(", ")
    );
    error
}
