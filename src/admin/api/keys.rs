//! `/api/v1/keys`: signing keys.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::OptionalJson;
use super::auth::AdminAuth;
use crate::crypto::jws::Alg;
use crate::error::{ApiError, Problem};
use crate::service::audit::{Entry, Outcome};
use crate::state::AppState;

#[utoipa::path(get, path = crate::routes::API_KEYS, tag = "keys",
    responses((status = 200, body = [Object]), (status = 401, body = Problem)))]
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
    /// RS256, ES256 or EdDSA; all when absent.
    pub alg: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Rotated {
    pub kids: Vec<String>,
}

#[utoipa::path(post, path = crate::routes::API_KEYS_ROTATE, tag = "keys", request_body = Rotate,
    responses((status = 200, body = Rotated), (status = 422, body = Problem)))]
pub async fn rotate(
    State(state): State<AppState>,
    admin: AdminAuth,
    OptionalJson(body): OptionalJson<Rotate>,
) -> Result<Json<Rotated>, ApiError> {
    let algs = match body.alg.as_deref() {
        Some(a) => {
            vec![Alg::parse(a).ok_or_else(|| ApiError::invalid("alg", "RS256, ES256 or EdDSA"))?]
        }
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
