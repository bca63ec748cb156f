//! `/api/v1/keys`: signing keys.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::OptionalJson;
use super::auth::AdminAuth;
use crate::crypto::jws::Alg;
use crate::error::ApiError;
use crate::service::audit::{Entry, Outcome};
use crate::state::AppState;

#[utoipa::path(get, path = crate::routes::API_KEYS, tag = "keys", operation_id = "keys_list",
    responses((status = 200, description = "The signing keys, current and retired (public parts only).", body = [Object])))]
pub async fn list(
    State(state): State<AppState>,
    _admin: AdminAuth,
) -> Result<Json<serde_json::Value>, ApiError> {
    let keys = state.keys.list().await?;
    Ok(Json(
        serde_json::to_value(keys).map_err(ApiError::internal)?,
    ))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rotate {
    /// The algorithm whose key to replace; all when absent.
    pub alg: Option<Alg>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Rotated {
    pub kids: Vec<String>,
}

#[utoipa::path(post, path = crate::routes::API_KEYS_ROTATE, tag = "keys", operation_id = "keys_rotate", request_body = Rotate,
    responses((status = 200, description = "New keys made current; the old ones stay published for the grace period.", body = Rotated)))]
pub async fn rotate(
    State(state): State<AppState>,
    admin: AdminAuth,
    OptionalJson(body): OptionalJson<Rotate>,
) -> Result<Json<Rotated>, ApiError> {
    let algs = match body.alg {
        Some(a) => vec![a],
        None => Alg::ALL.to_vec(),
    };
    let kids = state.keys.rotate(&algs).await?;
    Entry::new("keys.rotated", Outcome::Success)
        .actor(&admin.actor)
        .origin(&admin.origin)
        .detail(json!({ "kids": kids }))
        .write(&state.store)
        .await?;
    Ok(Json(Rotated { kids }))
}
