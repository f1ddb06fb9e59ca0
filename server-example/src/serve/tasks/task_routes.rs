//! The routes of clients: submit, read, list, cancel tasks and follow their
//! events. Thin handlers over [`Tasks`](super::Tasks).

use std::convert::Infallible;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header::LOCATION;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::StreamExt;
use reelgraph::remote::{TaskRecord, TaskState, TaskSubmission};
use serde::{Deserialize, Serialize};

use super::queue::TaskFilter;
use crate::serve::api_error::{ApiError, ApiResult};
use crate::serve::json::StrictJson;
use crate::serve::pagination::{self, CursorKind};
use crate::serve::query::StrictQuery;
use crate::serve::registry::{Registry, Route, Scope};
use crate::serve::runs::sse::{self, After};
use crate::serve::state::AppState;

pub fn register(routes: &mut Registry) {
    routes.add(
        Route::post(
            "/v1/tasks",
            "submitTask",
            "Submit a task for a worker to do",
        )
        .scope(Scope::Run)
        .request::<TaskSubmission>()
        .response::<TaskRecord>(201, "The task, queued; `Location` is where to read it")
        .response::<TaskRecord>(
            200,
            "A task with this idempotency key and function exists: the task as it is now",
        ),
        post(submit),
    );
    routes.add(
        Route::get(
            "/v1/tasks",
            "listTasks",
            "List tasks, newest first (`state=dead`: the dead letters)",
        )
        .query::<ListTasks>()
        .response::<TaskPage>(200, "A page of tasks; pass `next_cursor` for the next"),
        get(list),
    );
    routes.add(
        Route::get(
            "/v1/tasks/{id}",
            "getTask",
            "Get a task: its state, attempts and result",
        )
        .response::<TaskRecord>(200, "The task"),
        get(get_task),
    );
    routes.add(
        Route::post("/v1/tasks/{id}/cancel", "cancelTask", "Cancel a task")
            .scope(Scope::Run)
            .response::<TaskRecord>(
                200,
                "Cancelled; a worker holding it is told at its next heartbeat",
            ),
        post(cancel),
    );
    routes.add(
        Route::get(
            "/v1/tasks/{id}/events",
            "taskEvents",
            "Follow a task's events (server-sent events)",
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
            "`id:` seq, `event:` type, `data:` the event's JSON; ends after the final event",
        ),
        get(events),
    );
}

/// The query of `GET /v1/tasks`.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListTasks {
    /// Only tasks in this state (`dead`: the dead-letter list).
    #[serde(default)]
    pub state: Option<TaskState>,
    /// Only tasks of this function.
    #[serde(default)]
    pub function: Option<String>,
    /// The `next_cursor` of the previous page; left out for the first.
    #[serde(default)]
    pub cursor: Option<String>,
    /// How many tasks, 1 to 200 (default 50).
    #[serde(default)]
    #[schemars(with = "Option<u32>", range(min = 1, max = 200))]
    pub limit: Option<String>,
}

/// A page of tasks, newest first.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct TaskPage {
    pub items: Vec<TaskRecord>,
    /// Pass this as the next query's cursor; none on the last page.
    pub next_cursor: Option<String>,
}

async fn submit(
    State(state): State<AppState>,
    StrictJson(task): StrictJson<TaskSubmission>,
) -> ApiResult<Response> {
    let submitted = state.tasks.submit_new(task).await?;
    if !submitted.created {
        return Ok(Json(submitted.record).into_response());
    }
    let location = format!("/v1/tasks/{}", submitted.record.id);
    Ok((
        StatusCode::CREATED,
        [(LOCATION, location)],
        Json(submitted.record),
    )
        .into_response())
}

async fn list(
    State(state): State<AppState>,
    StrictQuery(query): StrictQuery<ListTasks>,
) -> ApiResult<Json<TaskPage>> {
    let limit = pagination::limit(query.limit.as_deref())?;
    let before = match &query.cursor {
        Some(cursor) => {
            let position = pagination::decode(CursorKind::Tasks, cursor)?;
            Some(position.parse::<i64>().map_err(|_| {
                ApiError::new(
                    "invalid_cursor",
                    format!("`{cursor}` is not a cursor of this list"),
                )
            })?)
        }
        None => None,
    };
    let page = state
        .tasks
        .list(TaskFilter {
            state: query.state,
            function: query.function,
            before,
            limit,
        })
        .await?;
    Ok(Json(TaskPage {
        items: page.items,
        next_cursor: page
            .next
            .map(|seq| pagination::encode(CursorKind::Tasks, &seq.to_string())),
    }))
}

async fn get_task(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<TaskRecord>> {
    Ok(Json(state.tasks.get(&id).await?))
}

async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<TaskRecord>> {
    Ok(Json(state.tasks.cancel(&id).await?))
}

async fn events(
    State(state): State<AppState>,
    Path(id): Path<String>,
    StrictQuery(after): StrictQuery<After>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let from = sse::resume_from(&headers, after.after)?;
    let events = state
        .tasks
        .subscribe(&id, from)
        .await?
        .map(|event| Ok::<_, Infallible>(sse::event_of(event.seq(), &*event)));
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response())
}
