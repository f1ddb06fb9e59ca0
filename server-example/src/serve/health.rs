//! `/healthz` (the process serves HTTP) and `/readyz` (the canvas store
//! answers), both without a key, for probes and load balancers.

use axum::Json;
use axum::extract::State;
use axum::routing::get;
use reelgraph::store::{CanvasStore, ListQuery};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::api_error::{ApiError, ApiResult};
use super::registry::{Registry, Route, Scope};
use super::state::{AppState, CANVAS_FILE};

/// The body of a health or readiness answer.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Health {
    /// `ok` (`/healthz`) or `ready` (`/readyz`).
    pub status: String,
}

pub fn register(routes: &mut Registry) {
    routes.add(
        Route::get("/healthz", "getHealth", "Whether the process serves HTTP")
            .tag("operations")
            .scope(Scope::Public)
            .response::<Health>(200, "The process is up: status `ok`"),
        get(healthz),
    );
    routes.add(
        Route::get(
            "/readyz",
            "getReadiness",
            "Whether the server can serve requests: its canvas store answers a query",
        )
        .tag("operations")
        .scope(Scope::Public)
        .response::<Health>(200, "Ready: status `ready` (else 503 `not_ready`)"),
        get(readyz),
    );
}

async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".to_owned(),
    })
}

/// Ready when the store answers a real query and its file is still in the
/// data directory: a server whose file was removed reads on from the open
/// file, but nothing it writes would survive a restart.
async fn readyz(State(state): State<AppState>) -> ApiResult<Json<Health>> {
    let file = state.config.data_dir.join(CANVAS_FILE);
    if !file.is_file() {
        return Err(not_ready(&format!(
            "the canvas database {} is gone",
            file.display()
        )));
    }
    if let Err(e) = state.canvases.store().list(&ListQuery::first(1)).await {
        return Err(not_ready(&format!("the canvas store did not answer: {e}")));
    }
    Ok(Json(Health {
        status: "ready".to_owned(),
    }))
}

fn not_ready(cause: &str) -> ApiError {
    tracing::warn!("not ready: {cause}");
    ApiError::new("not_ready", "the server is not ready").with_details(json!({ "cause": cause }))
}
