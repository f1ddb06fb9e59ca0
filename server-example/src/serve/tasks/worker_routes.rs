//! The routes of workers: claim tasks (long-poll), then heartbeat, report
//! progress, and complete or fail each under its lease. Thin handlers over
//! [`Tasks`](super::Tasks).

use axum::Json;
use axum::extract::{Path, State};
use axum::routing::post;
use reelgraph::remote::{
    ClaimRequest, Claimed, Completion, Failure, Heartbeat, LeaseState, ProgressReport, TaskRecord,
};

use crate::serve::api_error::ApiResult;
use crate::serve::json::StrictJson;
use crate::serve::registry::{Registry, Route, Scope};
use crate::serve::state::AppState;

pub fn register(routes: &mut Registry) {
    routes.add(
        Route::post(
            "/v1/workers/claim",
            "claimTasks",
            "Lease queued tasks of the worker's functions, waiting up to `wait_ms` for one",
        )
        .scope(Scope::Run)
        .request::<ClaimRequest>()
        .response::<Claimed>(
            200,
            "The tasks now leased to the worker; none when the wait ran out",
        ),
        post(claim),
    );
    routes.add(
        Route::post(
            "/v1/workers/leases/{lease}/heartbeat",
            "heartbeatLease",
            "Renew a lease; the answer says whether the task was cancelled",
        )
        .scope(Scope::Run)
        .request::<Heartbeat>()
        .response::<LeaseState>(200, "The lease, renewed; `cancel: true`: stop the task"),
        post(heartbeat),
    );
    routes.add(
        Route::post(
            "/v1/workers/leases/{lease}/progress",
            "reportLeaseProgress",
            "Report a task's progress (renews the lease)",
        )
        .scope(Scope::Run)
        .request::<ProgressReport>()
        .response::<LeaseState>(200, "The lease, renewed; `cancel: true`: stop the task"),
        post(progress),
    );
    routes.add(
        Route::post(
            "/v1/workers/leases/{lease}/complete",
            "completeLease",
            "Complete the task of a lease with its outputs",
        )
        .scope(Scope::Run)
        .request::<Completion>()
        .response::<TaskRecord>(200, "The task, completed"),
        post(complete),
    );
    routes.add(
        Route::post(
            "/v1/workers/leases/{lease}/fail",
            "failLease",
            "Fail the attempt of a lease (a retryable error requeues the task)",
        )
        .scope(Scope::Run)
        .request::<Failure>()
        .response::<TaskRecord>(200, "The task: requeued, failed, dead or cancelled"),
        post(fail),
    );
}

async fn claim(
    State(state): State<AppState>,
    StrictJson(request): StrictJson<ClaimRequest>,
) -> ApiResult<Json<Claimed>> {
    Ok(Json(state.tasks.claim(request).await?))
}

async fn heartbeat(
    State(state): State<AppState>,
    Path(lease): Path<String>,
    StrictJson(Heartbeat {}): StrictJson<Heartbeat>,
) -> ApiResult<Json<LeaseState>> {
    Ok(Json(state.tasks.heartbeat(&lease).await?))
}

async fn progress(
    State(state): State<AppState>,
    Path(lease): Path<String>,
    StrictJson(report): StrictJson<ProgressReport>,
) -> ApiResult<Json<LeaseState>> {
    Ok(Json(state.tasks.progress(&lease, report).await?))
}

async fn complete(
    State(state): State<AppState>,
    Path(lease): Path<String>,
    StrictJson(completion): StrictJson<Completion>,
) -> ApiResult<Json<TaskRecord>> {
    Ok(Json(state.tasks.complete(&lease, completion).await?))
}

async fn fail(
    State(state): State<AppState>,
    Path(lease): Path<String>,
    StrictJson(failure): StrictJson<Failure>,
) -> ApiResult<Json<TaskRecord>> {
    Ok(Json(state.tasks.fail(&lease, failure).await?))
}
