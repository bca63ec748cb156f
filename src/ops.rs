//! Health endpoints for load balancers and orchestrators, and the watch
//! over PostgreSQL and Redis (see [`crate::outage`]).

use std::time::Duration;

use axum::Json;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::outage::{self, Dependency};
use crate::state::AppState;

/// The longest `/readyz` waits for either dependency: a load balancer
/// learns at once that a node cannot serve, not after its own timeout.
pub const READY_BOUND: Duration = Duration::from_secs(1);

/// How often a dependency marked down is tried again (only then: nothing
/// is polled while everything answers).
pub const PROBE_INTERVAL: Duration = Duration::from_secs(1);

/// The process is up and serving HTTP.
pub async fn healthz() -> &'static str {
    "ok"
}

/// One bounded round-trip to `dependency`; the node's [`outage::Health`]
/// follows the answer (and logs a change).
pub async fn check(state: &AppState, dependency: Dependency) -> Result<(), String> {
    let result = match dependency {
        Dependency::Database => tokio::time::timeout(READY_BOUND, state.store.ping())
            .await
            .map_err(|_| format!("no answer within {READY_BOUND:?}"))
            .and_then(|r| r.map_err(|e| e.to_string())),
        Dependency::Redis => tokio::time::timeout(READY_BOUND, state.ephemeral.ping(READY_BOUND))
            .await
            .map_err(|_| format!("no answer within {READY_BOUND:?}"))
            .and_then(|r| r.map_err(|e| e.to_string())),
    };
    match &result {
        Ok(()) => {
            state.health.up(dependency);
        }
        Err(cause) => {
            state.health.down(dependency, cause);
        }
    }
    result
}

/// The node can do its work: the database and (when configured) Redis
/// answer within [`READY_BOUND`]. 503 otherwise, so a load balancer takes
/// the node out.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let with_redis = !matches!(state.ephemeral, crate::ephemeral::Ephemeral::Memory(_));
    let (database, redis) = tokio::join!(check(&state, Dependency::Database), async {
        if with_redis {
            Some(check(&state, Dependency::Redis).await)
        } else {
            None
        }
    });
    let word = |r: &Result<(), String>| if r.is_ok() { "ok" } else { "unreachable" };
    let ready = database.is_ok() && redis.as_ref().is_none_or(Result::is_ok);
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if ready { "ready" } else { "not ready" },
        "database": word(&database),
        "redis": redis.as_ref().map_or("not configured", word),
    });
    let mut response = (status, [("cache-control", "no-store")], Json(body)).into_response();
    if !ready {
        crate::error::set_retry_after(&mut response, outage::RETRY_AFTER);
    }
    response
}

/// Middleware around every request: scopes its outage record, and marks
/// the node's health down when the request met one (one log line per
/// change, however many requests meet it).
pub async fn track_outages(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let (response, met) = outage::scope(next.run(req)).await;
    if let Some((dependency, cause)) = met {
        state.health.down(dependency, &cause);
    }
    response
}

/// Tries every dependency marked down again each [`PROBE_INTERVAL`], so
/// its return is logged (and the node's health follows) even while no
/// request and no load balancer asks.
pub fn watch(state: AppState) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(PROBE_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            for dependency in state.health.down_now() {
                let _ = check(&state, dependency).await;
            }
        }
    });
}
