//! Health endpoints for load balancers and orchestrators.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::state::AppState;

/// The process is up and serving HTTP.
pub async fn healthz() -> &'static str {
    "ok"
}

/// The node can do its work: the database and (when configured) Redis
/// answer. 503 otherwise, so a load balancer takes the node out.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let database = match state.store.ping().await {
        Ok(()) => "ok",
        Err(e) => {
            tracing::warn!(error = %e, "readiness: database unreachable");
            "unreachable"
        }
    };
    let redis = match (&state.ephemeral, state.ephemeral.ping().await) {
        (crate::ephemeral::Ephemeral::Memory(_), _) => "not configured",
        (_, Ok(())) => "ok",
        (_, Err(e)) => {
            tracing::warn!(error = %e, "readiness: redis unreachable");
            "unreachable"
        }
    };
    let ready = database == "ok" && redis != "unreachable";
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({ "status": if ready { "ready" } else { "not ready" }, "database": database, "redis": redis });
    (status, [("cache-control", "no-store")], Json(body)).into_response()
}
