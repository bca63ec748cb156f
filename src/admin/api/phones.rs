//! `/api/v1/users/{id}/phones`: an account's full phone numbers (the
//! account itself shows them masked), each look audited; and the demand
//! that the account bind a login phone at its next sign-in.

use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::{AdminAuth, ScopedAdmin};
use super::parse_id;
use super::users::UserView;
use crate::error::ApiError;
use crate::service::phone::PhoneError;
use crate::service::{accounts, phone};
use crate::state::AppState;

/// An account's phones in full (E.164).
#[derive(Debug, Serialize, ToSchema)]
pub struct Phones {
    pub login_phone: Option<String>,
    pub security_phone: Option<String>,
}

/// The full numbers; every call is written to the audit log
/// (`account.phones_viewed`).
#[utoipa::path(get, path = crate::routes::API_USER_PHONES, tag = "users", operation_id = "users_phones", params(("id" = uuid::Uuid, Path, description = "The account id.")),
    responses((status = 200, description = "The full numbers (the look is audited).", body = Phones)))]
pub async fn phones(
    State(state): State<AppState>,
    admin: AdminAuth,
    Path(id): Path<String>,
) -> Result<Json<Phones>, ApiError> {
    let user = accounts::by_id(&state, parse_id(&id)?).await?;
    let (login_phone, security_phone) =
        phone::reveal(&state, &user, &admin.actor, &admin.origin).await?;
    Ok(Json(Phones {
        login_phone,
        security_phone,
    }))
}

/// The account must bind a login phone at its next sign-in, before any
/// application gets a code (it applies while the account has no login
/// phone: clear the login phone first to have a new one bound). Not
/// skippable. Also for an organization administrator, within its scope
/// (404 outside it).
#[utoipa::path(post, path = crate::routes::API_USER_REQUIRE_PHONE_BINDING, tag = "users", operation_id = "users_require_phone_binding", params(("id" = uuid::Uuid, Path, description = "The account id.")),
    responses((status = 200, description = "The account, owing a phone binding.", body = UserView),
        (status = 409, description = "The account has a login phone (`field`: `login_phone`).", body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn require_binding(
    State(state): State<AppState>,
    admin: ScopedAdmin,
    Path(id): Path<String>,
) -> Result<Json<UserView>, ApiError> {
    admin.may(crate::service::admin::AccountAction::RequirePhoneBinding)?;
    let user = admin.account(&state, &id).await?;
    match phone::require_binding(&state, &user, &admin.actor, &admin.origin).await {
        Ok(()) => {}
        Err(PhoneError::NotNow) => {
            return Err(ApiError::conflict(
                "login_phone",
                "the account has a login phone: clear it first to have a new one bound",
            ));
        }
        Err(PhoneError::Store(e)) => return Err(e.into()),
        Err(e) => return Err(ApiError::internal(e)),
    }
    Ok(Json(accounts::by_id(&state, user.id).await?.into()))
}
