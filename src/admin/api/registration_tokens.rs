//! `/api/v1/registration-tokens`: the initial access tokens of dynamic
//! client registration (RFC 7591 §3). Issued with a number of uses and an
//! expiry, shown once (only a SHA-256 is stored), listed (never the token)
//! and revoked. Each issue and revocation is audited
//! (`registration_token.issued`, `registration_token.revoked`).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::ApiJson;
use super::auth::AdminAuth;
use crate::error::{ApiError, Problem};
use crate::service::clients::ClientError;
use crate::service::registration::{self, TokenRequest};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueRegistrationToken {
    /// How many clients it may register; 1 when absent.
    #[schema(minimum = 1, maximum = 1000)]
    pub uses: Option<u32>,
    /// How many hours it stays valid; 24 when absent.
    #[schema(minimum = 1, maximum = 8784)]
    pub expires_in_hours: Option<u32>,
    /// What it is for (shown in the list).
    #[schema(max_length = 200)]
    pub description: Option<String>,
}

/// An initial access token as the API shows it (never the token).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct RegistrationTokenView {
    id: uuid::Uuid,
    description: Option<String>,
    uses_allowed: i64,
    uses_left: i64,
    /// RFC 3339.
    expires_at: String,
    created_at: String,
    /// Who issued it.
    created_by: String,
    revoked_at: Option<String>,
    /// `active`, `expired`, `used_up` or `revoked`.
    status: String,
}

#[derive(Serialize, ToSchema)]
pub struct IssuedRegistrationToken {
    #[schema(value_type = RegistrationTokenView)]
    pub token: Value,
    /// The initial access token, shown this once: the Bearer token of
    /// `POST /register`.
    pub initial_access_token: String,
}

#[utoipa::path(get, path = crate::routes::API_REGISTRATION_TOKENS, tag = "clients", operation_id = "registration_tokens_list",
    responses((status = 200, description = "Every initial access token, newest first, used up, expired and revoked ones included (never the token).", body = [RegistrationTokenView])))]
pub async fn list(
    State(state): State<AppState>,
    _admin: AdminAuth,
) -> Result<Json<Vec<Value>>, ApiError> {
    let now = state.clock.now().unix_timestamp();
    Ok(Json(
        registration::tokens(&state)
            .await?
            .iter()
            .map(|t| registration::token_json(t, now))
            .collect(),
    ))
}

#[utoipa::path(post, path = crate::routes::API_REGISTRATION_TOKENS, tag = "clients", operation_id = "registration_tokens_issue", request_body = IssueRegistrationToken,
    responses((status = 201, description = "Issued; the token is returned this once.", body = IssuedRegistrationToken)))]
pub async fn issue(
    State(state): State<AppState>,
    admin: AdminAuth,
    ApiJson(body): ApiJson<IssueRegistrationToken>,
) -> Result<(StatusCode, Json<IssuedRegistrationToken>), ApiError> {
    let request = TokenRequest {
        uses: body.uses.unwrap_or(1),
        hours: body.expires_in_hours.unwrap_or(24),
        description: body.description,
    };
    let issued = registration::issue_token(&state, request, &admin.actor, &admin.origin)
        .await
        .map_err(|e| match e {
            ClientError::InvalidText("hours", text) => ApiError::invalid("expires_in_hours", text),
            other => other.into(),
        })?;
    let now = state.clock.now().unix_timestamp();
    Ok((
        StatusCode::CREATED,
        Json(IssuedRegistrationToken {
            token: registration::token_json(&issued.token, now),
            initial_access_token: issued.secret,
        }),
    ))
}

#[utoipa::path(delete, path = crate::routes::API_REGISTRATION_TOKEN, tag = "clients", operation_id = "registration_tokens_revoke", params(("id" = uuid::Uuid, Path, description = "The token's id.")),
    responses((status = 204, description = "Revoked: it registers no further client (those it registered stay)."), (status = 404, body = Problem)))]
pub async fn revoke(
    State(state): State<AppState>,
    admin: AdminAuth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = uuid::Uuid::parse_str(&id).map_err(|_| ApiError {
        field: Some("id".into()),
        ..ApiError::bad_request("`id` must be a token id (a UUID)")
    })?;
    registration::revoke_token(&state, id, &admin.actor, &admin.origin)
        .await
        .map_err(|e| match e {
            ClientError::NotFound => ApiError::not_found("no such token, or it is revoked already"),
            other => other.into(),
        })?;
    Ok(StatusCode::NO_CONTENT)
}
