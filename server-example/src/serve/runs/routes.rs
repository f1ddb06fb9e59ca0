//! The run routes, registered with their scopes and schemas: thin handlers
//! over [`Runs`](super::Runs).

use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::header::{CONTENT_TYPE, ETAG, LOCATION};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use reelgraph::exec::{RunOptions, RunState};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tower::ServiceExt;
use tower_http::services::ServeFile;

use super::folders::Refusal;
use super::records::RunFilter;
use super::sse::{self, After};
use super::view::{BatchRequest, BatchStarted, Explained, RunOutputs, RunSummary, RunView};
use crate::serve::api_error::{ApiError, ApiResult};
use crate::serve::etag;
use crate::serve::json::StrictJson;
use crate::serve::pagination::{self, CursorKind};
use crate::serve::query::StrictQuery;
use crate::serve::registry::{Registry, Route, Scope};
use crate::serve::state::AppState;

pub fn register(routes: &mut Registry) {
    routes.add(
        Route::post(
            "/v1/canvases/{id}/runs",
            "startRun",
            "Run the canvas's stored revision",
        )
        .scope(Scope::Run)
        .request::<RunOptions>()
        .response::<RunSummary>(202, "The run started; `Location` is where to follow it"),
        post(start),
    );
    routes.add(
        Route::post(
            "/v1/canvases/{id}/batches",
            "startBatch",
            "Run the canvas once per options, sharing one task cap",
        )
        .scope(Scope::Run)
        .request::<BatchRequest>()
        .response::<BatchStarted>(202, "The runs started, in the order of the request"),
        post(batch),
    );
    routes.add(
        Route::post(
            "/v1/canvases/{id}/explain",
            "explainRun",
            "Say why each node would run or hit the cache",
        )
        .request::<RunOptions>()
        .response::<Explained>(200, "One step per planned node, with its reason"),
        post(explain),
    );
    routes.add(
        Route::get("/v1/runs", "listRuns", "List runs, newest first")
            .query::<ListRuns>()
            .response::<RunPage>(200, "A page of runs; pass `next_cursor` for the next"),
        get(list),
    );
    routes.add(
        Route::get(
            "/v1/runs/{id}",
            "getRun",
            "Get a run: where it stands, and its report once it ended",
        )
        .header(
            "If-None-Match",
            "An ETag of this run's view: 304 while nothing changed",
            false,
        )
        .response::<RunView>(200, "The run, its snapshot and its report, with an ETag")
        .empty_response(304, "Nothing changed since the `If-None-Match` ETag"),
        get(get_run),
    );
    routes.add(
        Route::post("/v1/runs/{id}/cancel", "cancelRun", "Cancel a run")
            .scope(Scope::Run)
            .response::<RunView>(
                202,
                "Cancelling: running tasks are told, `run_cancelled` ends the events",
            ),
        post(cancel),
    );
    routes.add(
        Route::post(
            "/v1/runs/{id}/nodes/{node}/cancel",
            "cancelRunNode",
            "Cancel one node of a run",
        )
        .scope(Scope::Run)
        .response::<RunView>(
            202,
            "Cancelling the node: what needs it is skipped, the rest goes on",
        ),
        post(cancel_node),
    );
    routes.add(
        Route::get(
            "/v1/runs/{id}/events",
            "runEvents",
            "Follow a run's events (server-sent events)",
        )
        .query::<After>()
        .header(
            "Last-Event-ID",
            "The `id` (seq) of the last event received: the stream goes on after it",
            false,
        )
        .raw_response(
            200,
            "text/event-stream",
            "`id:` seq, `event:` type, `data:` the event's JSON",
        ),
        get(events),
    );
    routes.add(
        Route::get(
            "/v1/runs/{id}/outputs",
            "runOutputs",
            "Get the outputs of a run that ended, by node",
        )
        .response::<RunOutputs>(200, "The report's outputs, in plan order"),
        get(outputs),
    );
    routes.add(
        Route::get(
            "/v1/runs/{id}/files/{*path}",
            "runFile",
            "Download a file a run made or reused",
        )
        .raw_response(
            200,
            "application/octet-stream",
            "The file, with its content type",
        ),
        get(file),
    );
    routes.add(
        Route::get(
            "/v1/results/{*path}",
            "resultFile",
            "Download a file workers wrote into the results folder, by the path a task's outputs name",
        )
        .raw_response(
            200,
            "application/octet-stream",
            "The file, with its content type",
        ),
        get(result_file),
    );
}

/// The query of `GET /v1/runs`.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListRuns {
    /// Only runs of this canvas.
    #[serde(default)]
    pub canvas_id: Option<String>,
    /// Only runs in this state.
    #[serde(default)]
    pub state: Option<RunState>,
    /// The `next_cursor` of the previous page; left out for the first.
    #[serde(default)]
    pub cursor: Option<String>,
    /// How many runs, 1 to 200 (default 50).
    #[serde(default)]
    #[schemars(with = "Option<u32>", range(min = 1, max = 200))]
    pub limit: Option<String>,
}

/// A page of runs, newest first.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct RunPage {
    pub items: Vec<RunSummary>,
    /// Pass this as the next query's cursor; none on the last page.
    pub next_cursor: Option<String>,
}

async fn start(
    State(state): State<AppState>,
    Path(canvas_id): Path<String>,
    StrictJson(options): StrictJson<RunOptions>,
) -> ApiResult<Response> {
    let run = state.runs.start(&canvas_id, options).await?;
    let location = format!("/v1/runs/{}", run.run_id);
    Ok((StatusCode::ACCEPTED, [(LOCATION, location)], Json(run)).into_response())
}

async fn batch(
    State(state): State<AppState>,
    Path(canvas_id): Path<String>,
    StrictJson(request): StrictJson<BatchRequest>,
) -> ApiResult<Response> {
    let runs = state.runs.batch(&canvas_id, request.runs).await?;
    Ok((StatusCode::ACCEPTED, Json(BatchStarted { runs })).into_response())
}

async fn explain(
    State(state): State<AppState>,
    Path(canvas_id): Path<String>,
    StrictJson(options): StrictJson<RunOptions>,
) -> ApiResult<Json<Explained>> {
    Ok(Json(state.runs.explain(&canvas_id, &options).await?))
}

async fn list(
    State(state): State<AppState>,
    StrictQuery(query): StrictQuery<ListRuns>,
) -> ApiResult<Json<RunPage>> {
    let limit = pagination::limit(query.limit.as_deref())?;
    let before = match &query.cursor {
        Some(cursor) => {
            let position = pagination::decode(CursorKind::Runs, cursor)?;
            Some(position.parse::<i64>().map_err(|_| {
                ApiError::new(
                    "invalid_cursor",
                    format!("`{cursor}` is not a cursor of this list"),
                )
            })?)
        }
        None => None,
    };
    let filter = RunFilter {
        canvas_id: query.canvas_id,
        state: query.state,
        before,
        limit,
    };
    let (items, next) = state.runs.list(filter).await?;
    Ok(Json(RunPage {
        items,
        next_cursor: next.map(|seq| pagination::encode(CursorKind::Runs, &seq.to_string())),
    }))
}

async fn get_run(
    State(state): State<AppState>,
    Path(run_id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let view = state.runs.view(&run_id).await?;
    let body = serde_json::to_vec(&view)
        .map_err(|e| ApiError::new("server_error", format!("the run could not be written: {e}")))?;
    // A view changes while the run goes and never after it ended: the hash
    // of what it says is its ETag.
    let etag = etag::of("run", &body);
    if etag::matches(&headers, &etag) {
        return Ok(etag::not_modified(&etag));
    }
    Ok((
        [(CONTENT_TYPE, "application/json".to_owned()), (ETAG, etag)],
        body,
    )
        .into_response())
}

async fn cancel(State(state): State<AppState>, Path(run_id): Path<String>) -> ApiResult<Response> {
    if !state.runs.cancel(&run_id).await? {
        return Err(finished(&state, &run_id).await);
    }
    let view = state.runs.view(&run_id).await?;
    Ok((StatusCode::ACCEPTED, Json(view)).into_response())
}

async fn cancel_node(
    State(state): State<AppState>,
    Path((run_id, node)): Path<(String, String)>,
) -> ApiResult<Response> {
    if !state.runs.cancel_node(&run_id, &node).await? {
        return Err(finished(&state, &run_id).await);
    }
    let view = state.runs.view(&run_id).await?;
    Ok((StatusCode::ACCEPTED, Json(view)).into_response())
}

/// `run_finished`: the run ended, nothing is left to cancel.
async fn finished(state: &AppState, run_id: &str) -> ApiError {
    match state.runs.view(run_id).await {
        Ok(view) => ApiError::new(
            "run_finished",
            format!("run `{run_id}` has ended; there is nothing left to cancel"),
        )
        .with_details(json!({"run_id": run_id, "state": view.run.state})),
        Err(e) => e,
    }
}

async fn events(
    State(state): State<AppState>,
    Path(run_id): Path<String>,
    StrictQuery(after): StrictQuery<After>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let from = sse::resume_from(&headers, after.after)?;
    let events = state.runs.events(&run_id, from).await?;
    Ok(sse::stream(events).into_response())
}

async fn outputs(
    State(state): State<AppState>,
    Path(run_id): Path<String>,
) -> ApiResult<Json<RunOutputs>> {
    let view = state.runs.view(&run_id).await?;
    let Some(report) = view.report else {
        return Err(ApiError::new(
            "run_running",
            format!("run `{run_id}` has not ended; its outputs come with its report"),
        )
        .with_details(json!({"run_id": run_id, "state": view.run.state})));
    };
    Ok(Json(RunOutputs {
        run_id,
        state: view.run.state,
        outputs: report.outputs,
    }))
}

async fn file(
    State(state): State<AppState>,
    Path((run_id, path)): Path<(String, String)>,
    request: Request,
) -> ApiResult<Response> {
    state.runs.stored(&run_id).await?;
    let file = match state.runs.folders().resolve(&run_id, &path) {
        Ok(file) => file,
        Err(Refusal::Escapes) => {
            return Err(ApiError::new(
                "invalid_path",
                format!("`{path}` is not a path inside the run's folder"),
            )
            .with_details(json!({"run_id": run_id, "path": path})));
        }
        Err(Refusal::Missing) => return Err(no_file(path)),
    };
    serve_file(file, request).await
}

/// `GET /v1/results/{path}`: what `reelgraph run --remote` downloads.
async fn result_file(
    State(state): State<AppState>,
    Path(path): Path<String>,
    request: Request,
) -> ApiResult<Response> {
    let file = match state.runs.folders().resolve_result(&path) {
        Ok(file) => file,
        Err(Refusal::Escapes) => {
            return Err(ApiError::new(
                "invalid_path",
                format!("`{path}` is not a path inside the results folder"),
            )
            .with_details(json!({"path": path})));
        }
        Err(Refusal::Missing) => return Err(no_file(path)),
    };
    serve_file(file, request).await
}

fn no_file(path: String) -> ApiError {
    reelgraph::Error::NotFound {
        kind: "file",
        id: path,
    }
    .into()
}

async fn serve_file(file: std::path::PathBuf, request: Request) -> ApiResult<Response> {
    // tower-http streams it with its content type, ranges and
    // `Last-Modified`; the path was checked above, symlinks resolved.
    match ServeFile::new(file).oneshot(request).await {
        Ok(response) => Ok(response.into_response()),
        Err(e) => Err(ApiError::new(
            "unavailable",
            format!("the file could not be read: {e}"),
        )),
    }
}
