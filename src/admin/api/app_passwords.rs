//! `/api/v1/users/{id}/app-passwords`: an account's application-specific
//! passwords, listed (never a secret or its MAC) and revoked, one or all,
//! by a system administrator's service account. Each revocation is audited
//! (`app_password.revoked`, `app_password.revoked_all`).

use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::auth::AdminAuth;
use super::parse_id;
use crate::error::ApiError;
use crate::service::{accounts, app_passwords};
use crate::state::AppState;

/// An application password as the API shows it.
#[derive(Serialize, ToSchema)]
pub struct AppPasswordView {
    pub id: uuid::Uuid,
    /// The name its owner gave it.
    pub label: String,
    /// The client it signs in to.
    pub client_id: String,
    pub client_name: String,
    /// The server key id its MAC was made with.
    pub key_id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
    /// The address of the last use, masked (`203.0.113.*`).
    pub last_used_from: Option<String>,
    /// Set when revoked; with the reason.
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
    pub revoked_reason: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct RevokedAppPasswords {
    /// How many active passwords were revoked.
    pub revoked: u64,
}

#[utoipa::path(get, path = crate::routes::API_USER_APP_PASSWORDS, tag = "app-passwords", operation_id = "users_app_passwords_list", params(("id" = uuid::Uuid, Path, description = "The account id.")),
    responses((status = 200, description = "The account's application passwords, newest first, revoked ones included (never a secret).", body = [AppPasswordView])))]
pub async fn list(
    State(state): State<AppState>,
    _admin: AdminAuth,
    Path(id): Path<String>,
) -> Result<Json<Vec<AppPasswordView>>, ApiError> {
    let user = accounts::by_id(&state, parse_id(&id)?).await?;
    let rows = app_passwords::history(&state, &user).await?;
    Ok(Json(
        rows.into_iter()
            .map(|r| AppPasswordView {
                last_used_from: r.last_used_ip.as_deref().map(app_passwords::masked_address),
                id: r.id,
                label: r.label,
                client_id: r.client_id,
                client_name: r.client_name,
                key_id: r.key_id,
                created_at: r.created_at,
                last_used_at: r.last_used_at,
                revoked_at: r.revoked_at,
                revoked_reason: r.revoked_reason,
            })
            .collect(),
    ))
}

#[utoipa::path(delete, path = crate::routes::API_USER_APP_PASSWORDS, tag = "app-passwords", operation_id = "users_app_passwords_revoke_all", params(("id" = uuid::Uuid, Path, description = "The account id.")),
    responses((status = 200, description = "Every active application password of the account revoked.", body = RevokedAppPasswords)))]
pub async fn revoke_all(
    State(state): State<AppState>,
    admin: AdminAuth,
    Path(id): Path<String>,
) -> Result<Json<RevokedAppPasswords>, ApiError> {
    let user = accounts::by_id(&state, parse_id(&id)?).await?;
    let revoked = app_passwords::revoke_all(&state, &user, &admin.actor, &admin.origin).await?;
    Ok(Json(RevokedAppPasswords { revoked }))
}

#[utoipa::path(delete, path = crate::routes::API_USER_APP_PASSWORD, tag = "app-passwords", operation_id = "users_app_passwords_revoke", params(("id" = uuid::Uuid, Path, description = "The account id."), ("password_id" = uuid::Uuid, Path, description = "The application password's id.")),
    responses((status = 204, description = "Revoked.")))]
pub async fn revoke(
    State(state): State<AppState>,
    admin: AdminAuth,
    Path((id, password_id)): Path<(String, String)>,
) -> Result<axum::http::StatusCode, ApiError> {
    let user = accounts::by_id(&state, parse_id(&id)?).await?;
    let password_id = uuid::Uuid::parse_str(&password_id).map_err(|_| ApiError {
        field: Some("password_id".into()),
        ..ApiError::bad_request("`password_id` must be an application password's id (a UUID)")
    })?;
    if app_passwords::revoke(&state, &user, password_id, &admin.actor, &admin.origin).await? {
        Ok(axum::http::StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(
            "no such active application password of this account",
        ))
    }
}
