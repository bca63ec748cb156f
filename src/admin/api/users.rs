//! `/api/v1/users`: search, read, create, update, disable/enable, password
//! reset, forced password change, revoking sessions.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

use super::auth::{AdminAuth, ScopedAdmin};
use super::{ApiJson, ApiQuery, OptionalJson, parse_id};
use crate::domain::{PhoneNumber, Role, Roles, SecretPassword};
use crate::error::{ApiError, Problem};
use crate::service::accounts::{self, NewAccount, ProfileInput};
use crate::service::admin;
use crate::state::AppState;
use crate::store::users::{AccountStatus, User};

/// An account as the API shows it (never the password hash).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: uuid::Uuid,
    pub username: String,
    pub display_name: String,
    /// Masked (`133****8347`); the full numbers are at
    /// `GET /api/v1/users/{id}/phones`, where every look is audited.
    pub login_phone: Option<String>,
    /// Masked, like `login_phone`.
    pub security_phone: Option<String>,
    /// A demand to bind a login phone at the next sign-in: `required` (an
    /// administrator's) or `after_unbind` (an approved unbind application).
    pub phone_binding: Option<String>,
    pub security_email: Option<String>,
    pub security_email_verified: bool,
    pub organization: Option<String>,
    /// The postal address released by the `address` scope (OIDC Core
    /// §5.1.1 members).
    #[schema(value_type = Option<Object>)]
    pub address: Option<serde_json::Value>,
    pub admin: bool,
    /// Roles beside the administrator's: `reviewer` decides review cases.
    pub roles: Vec<Role>,
    pub status: AccountState,
    pub status_reason: Option<String>,
    pub must_change_password: bool,
    /// Send it back with an update; a mismatch means someone else changed the account.
    pub version: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_login_at: Option<OffsetDateTime>,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        let phone_binding = u.phone_binding().map(|b| b.as_str().to_string());
        let address = u.address().map(|a| a.claim());
        UserView {
            id: u.id,
            username: u.username,
            display_name: u.display_name,
            login_phone: u.login_phone.as_deref().map(PhoneNumber::masked),
            security_phone: u.security_phone.as_deref().map(PhoneNumber::masked),
            phone_binding,
            security_email: u.security_email,
            security_email_verified: u.security_email_verified,
            organization: u.organization,
            address,
            admin: u.is_admin,
            roles: u.roles.iter().collect(),
            status: u.status.into(),
            status_reason: u.status_reason,
            must_change_password: u.must_change_password,
            version: u.version,
            created_at: u.created_at,
            updated_at: u.updated_at,
            last_login_at: u.last_login_at,
        }
    }
}

/// Whether the account may sign in.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AccountState {
    Active,
    Disabled,
}

impl From<AccountStatus> for AccountState {
    fn from(s: AccountStatus) -> Self {
        match s {
            AccountStatus::Active => AccountState::Active,
            AccountStatus::Disabled => AccountState::Disabled,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    /// Matches account name, display name, phones or organization (at most
    /// 100 characters; `%` and `_` match themselves).
    #[serde(default)]
    #[param(max_length = 100)]
    pub q: String,
    /// 1-based page number (default 1).
    #[param(minimum = 1, maximum = 1_000_000)]
    pub page: Option<i64>,
    /// Page size (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub per_page: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserPage {
    pub items: Vec<UserView>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
}

/// Accounts matching `q`. An organization administrator (own token,
/// scope `org_admin`) finds only the accounts it looks after: those of its
/// organizations without administrative rights.
#[utoipa::path(get, path = crate::routes::API_USERS, tag = "users", operation_id = "users_search", params(SearchQuery),
    responses((status = 200, description = "One page of matching accounts.", body = UserPage)))]
pub async fn search(
    State(state): State<AppState>,
    admin: ScopedAdmin,
    ApiQuery(q): ApiQuery<SearchQuery>,
) -> Result<Json<UserPage>, ApiError> {
    let (page, per_page) = super::paging(q.page, q.per_page)?;
    if q.q.chars().count() > 100 {
        return Err(ApiError::invalid("q", "is too long"));
    }
    let (users, total) = admin::search_users(&state, &admin.scope, &q.q, page, per_page).await?;
    Ok(Json(UserPage {
        items: users.into_iter().map(UserView::from).collect(),
        total,
        page,
        per_page,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// `name` or `name@domain`: letters, digits and `. _ - + @`; stored in
    /// lower case.
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = r"^[A-Za-z0-9_+]([A-Za-z0-9._+-]*[A-Za-z0-9_+])?(@[A-Za-z0-9_+-]+(\.[A-Za-z0-9_+-]+)+)?$",
        example = "zhang@cnic.cn"
    )]
    pub username: String,
    /// Defaults to the part of `username` before `@`.
    #[schema(max_length = 100)]
    pub display_name: Option<String>,
    /// The phone used to sign in and for SMS codes: an 11-digit mainland
    /// mobile number, or `+` and the country code (E.164).
    #[schema(example = "13812345678")]
    pub login_phone: Option<String>,
    /// A second phone for recovery (same form as `login_phone`).
    pub security_phone: Option<String>,
    /// An e-mail address for recovery.
    #[schema(max_length = 254, format = Email)]
    pub security_email: Option<String>,
    #[schema(max_length = 200)]
    pub organization: Option<String>,
    #[serde(default)]
    pub admin: bool,
    /// Roles to grant (each grant is audited).
    #[serde(default)]
    pub roles: Vec<Role>,
    /// Omit to have a strong password generated and returned once; a given
    /// one must satisfy the password policy.
    #[schema(max_length = 128, format = Password)]
    pub password: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedUser {
    pub user: UserView,
    /// Present only when it was generated; shown this once.
    pub password: Option<String>,
}

#[utoipa::path(post, path = crate::routes::API_USERS, tag = "users", operation_id = "users_create", request_body = CreateUser,
    responses((status = 201, description = "Created; a generated password is returned this once.", body = CreatedUser),
        (status = 409, body = Problem), (status = 429, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    admin: AdminAuth,
    ApiJson(body): ApiJson<CreateUser>,
) -> Result<(StatusCode, Json<CreatedUser>), ApiError> {
    let input = NewAccount {
        username: body.username,
        display_name: body.display_name,
        login_phone: body.login_phone,
        security_phone: body.security_phone,
        security_email: body.security_email,
        organization: body.organization,
        is_admin: body.admin,
        roles: Roles::new(body.roles),
        password: body.password.map(SecretPassword::new),
    };
    let (user, password) = accounts::create(&state, input, &admin.actor, &admin.origin).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedUser {
            user: user.into(),
            password,
        }),
    ))
}

/// One account. An organization administrator gets 404 for an account it
/// does not look after, the same answer as for an id nobody has.
#[utoipa::path(get, path = crate::routes::API_USER, tag = "users", operation_id = "users_get", params(("id" = uuid::Uuid, Path, description = "The account id.")),
    responses((status = 200, description = "The account.", body = UserView)))]
pub async fn get(
    State(state): State<AppState>,
    admin: ScopedAdmin,
    Path(id): Path<String>,
) -> Result<Json<UserView>, ApiError> {
    Ok(Json(admin.account(&state, &id).await?.into()))
}

/// Fields to change; an absent field stays, an empty string clears an
/// optional one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    /// The `version` the change is based on.
    pub version: i64,
    /// Must not be empty.
    #[schema(max_length = 100)]
    pub display_name: Option<String>,
    pub login_phone: Option<String>,
    pub security_phone: Option<String>,
    #[schema(max_length = 254)]
    pub security_email: Option<String>,
    #[schema(max_length = 200)]
    pub organization: Option<String>,
    /// The postal address released by the `address` scope: an object with
    /// `formatted`, `street_address`, `locality`, `region`, `postal_code`,
    /// `country` (strings, at least one); `""` removes it.
    #[schema(value_type = Option<Object>)]
    pub address: Option<serde_json::Value>,
    pub admin: Option<bool>,
    /// The whole set of roles the account is to hold (`[]` takes every
    /// role away); each grant and revocation is audited, and a change
    /// ends the account's sessions.
    pub roles: Option<Vec<Role>>,
}

#[utoipa::path(patch, path = crate::routes::API_USER, tag = "users", operation_id = "users_update", params(("id" = uuid::Uuid, Path, description = "The account id.")), request_body = UpdateUser,
    responses((status = 200, description = "The account as changed.", body = UserView), (status = 409, body = Problem)))]
pub async fn update(
    State(state): State<AppState>,
    admin: AdminAuth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateUser>,
) -> Result<Json<UserView>, ApiError> {
    let user = accounts::by_id(&state, parse_id(&id)?).await?;
    let input = ProfileInput {
        display_name: body.display_name,
        login_phone: body.login_phone,
        security_phone: body.security_phone,
        security_email: body.security_email,
        organization: body.organization,
        address: body.address,
        is_admin: body.admin,
        roles: body.roles.map(Roles::new),
    };
    let updated = accounts::update_profile(
        &state,
        &user,
        body.version,
        input,
        &admin.actor,
        &admin.origin,
    )
    .await?;
    Ok(Json(updated.into()))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusChange {
    /// Why (kept with the account and in the audit log).
    #[schema(max_length = 500)]
    pub reason: Option<String>,
}

async fn set_status(
    state: &AppState,
    admin: &AdminAuth,
    id: &str,
    status: AccountStatus,
    reason: Option<String>,
) -> Result<Json<UserView>, ApiError> {
    let user = accounts::by_id(state, parse_id(id)?).await?;
    accounts::change_status(
        state,
        &user,
        status,
        reason.as_deref(),
        &admin.actor,
        &admin.origin,
    )
    .await?;
    Ok(Json(accounts::by_id(state, user.id).await?.into()))
}

#[utoipa::path(post, path = crate::routes::API_USER_DISABLE, tag = "users", operation_id = "users_disable", params(("id" = uuid::Uuid, Path, description = "The account id.")), request_body = StatusChange,
    responses((status = 200, description = "The account, disabled; its sessions ended.", body = UserView), (status = 409, body = Problem)))]
pub async fn disable(
    State(state): State<AppState>,
    admin: AdminAuth,
    Path(id): Path<String>,
    OptionalJson(body): OptionalJson<StatusChange>,
) -> Result<Json<UserView>, ApiError> {
    set_status(&state, &admin, &id, AccountStatus::Disabled, body.reason).await
}

#[utoipa::path(post, path = crate::routes::API_USER_ENABLE, tag = "users", operation_id = "users_enable", params(("id" = uuid::Uuid, Path, description = "The account id.")), request_body = StatusChange,
    responses((status = 200, description = "The account, enabled.", body = UserView), (status = 409, body = Problem)))]
pub async fn enable(
    State(state): State<AppState>,
    admin: AdminAuth,
    Path(id): Path<String>,
    OptionalJson(body): OptionalJson<StatusChange>,
) -> Result<Json<UserView>, ApiError> {
    set_status(&state, &admin, &id, AccountStatus::Active, body.reason).await
}

#[derive(Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordReset {
    /// The new password; it must pass the password policy (422 with
    /// `field` `password` naming the rule it breaks). Omit to have a strong
    /// one generated and returned once.
    #[schema(max_length = 128, format = Password)]
    pub password: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct PasswordResult {
    /// The generated password, shown this once; absent when one was given.
    pub password: Option<String>,
}

/// Also for an organization administrator, within its scope (404
/// outside it).
#[utoipa::path(post, path = crate::routes::API_USER_PASSWORD, tag = "users", operation_id = "users_reset_password", params(("id" = uuid::Uuid, Path, description = "The account id.")), request_body = PasswordReset,
    responses((status = 200, description = "Set: the account's sessions ended and its tokens revoked, its weak-password blocks lifted, and a change demanded at its next sign-in.", body = PasswordResult), (status = 429, body = Problem)))]
pub async fn reset_password(
    State(state): State<AppState>,
    admin: ScopedAdmin,
    Path(id): Path<String>,
    OptionalJson(body): OptionalJson<PasswordReset>,
) -> Result<Json<PasswordResult>, ApiError> {
    admin.may(admin::AccountAction::ResetPassword)?;
    let user = admin.account(&state, &id).await?;
    let password = accounts::reset_password(
        &state,
        &user,
        body.password.map(SecretPassword::new),
        &admin.actor,
        &admin.origin,
    )
    .await?;
    Ok(Json(PasswordResult { password }))
}

#[utoipa::path(post, path = crate::routes::API_USER_FORCE_PASSWORD_CHANGE, tag = "users", operation_id = "users_force_password_change", params(("id" = uuid::Uuid, Path, description = "The account id.")),
    responses((status = 200, description = "The account; its next sign-in must set a new password.", body = UserView)))]
pub async fn force_password_change(
    State(state): State<AppState>,
    admin: AdminAuth,
    Path(id): Path<String>,
) -> Result<Json<UserView>, ApiError> {
    let user = accounts::by_id(&state, parse_id(&id)?).await?;
    accounts::force_password_change(&state, &user, &admin.actor, &admin.origin).await?;
    Ok(Json(accounts::by_id(&state, user.id).await?.into()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RevokeResult {
    /// How many grants (with their tokens) were revoked.
    pub revoked_grants: u64,
}

#[utoipa::path(post, path = crate::routes::API_USER_REVOKE_SESSIONS, tag = "users", operation_id = "users_revoke_sessions", params(("id" = uuid::Uuid, Path, description = "The account id.")),
    responses((status = 200, description = "Every session ended and every token revoked.", body = RevokeResult)))]
pub async fn revoke_sessions(
    State(state): State<AppState>,
    admin: AdminAuth,
    Path(id): Path<String>,
) -> Result<Json<RevokeResult>, ApiError> {
    let user = accounts::by_id(&state, parse_id(&id)?).await?;
    let revoked_grants =
        accounts::revoke_sessions(&state, &user, &admin.actor, &admin.origin).await?;
    Ok(Json(RevokeResult { revoked_grants }))
}
