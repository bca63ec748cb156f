//! `/api/v1/blocks`: the accounts blocked for applications, and lifting
//! an account's blocks (`/api/v1/users/{id}/lift-blocks`). The password
//! reset that lifts weak-password blocks is `users::reset_password`.

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

use super::ApiQuery;
use super::auth::ScopedAdmin;
use crate::domain::BlockReason;
use crate::domain::client::ClientId;
use crate::error::ApiError;
use crate::service::admin::AccountAction;
use crate::service::blocks;
use crate::state::AppState;
use crate::store::blocks::BlockedAccount;

/// One active block of an account.
#[derive(Debug, Serialize, ToSchema)]
pub struct BlockView {
    pub user_id: uuid::Uuid,
    pub username: String,
    pub display_name: String,
    pub organization: Option<String>,
    /// The client the block is for; `*` for every client.
    pub client_id: String,
    /// The client's name (absent for `*` or a client since removed).
    pub client_name: Option<String>,
    pub reason: BlockReason,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Who set it, as the audit log names them (`system` for a weak
    /// password found at a sign-in).
    pub created_by: String,
}

impl From<BlockedAccount> for BlockView {
    fn from(b: BlockedAccount) -> Self {
        BlockView {
            user_id: b.user_id,
            username: b.username,
            display_name: b.display_name,
            organization: b.organization,
            client_id: b.client_id,
            client_name: b.client_name,
            reason: b.reason,
            created_at: b.created_at,
            created_by: b.created_by,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct BlockQuery {
    /// Only blocks for this client (`*`: the blocks for every client).
    #[param(max_length = 128)]
    pub client_id: Option<String>,
    /// 1-based page number (default 1).
    #[param(minimum = 1, maximum = 1_000_000)]
    pub page: Option<i64>,
    /// Page size (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub per_page: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BlockPage {
    pub items: Vec<BlockView>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
}

/// The client filter as typed: `*`, a client id, or nothing.
pub(crate) fn client_filter(typed: Option<&str>) -> Result<Option<String>, ApiError> {
    match typed.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(crate::domain::ALL_CLIENTS) => Ok(Some(crate::domain::ALL_CLIENTS.into())),
        Some(id) => ClientId::parse(id)
            .map(|c| Some(c.as_str().to_string()))
            .map_err(|v| ApiError::invalid("client_id", v.reason)),
    }
}

#[utoipa::path(get, path = crate::routes::API_BLOCKS, tag = "blocks", operation_id = "blocks_list", params(BlockQuery),
    responses((status = 200, description = "The active blocks of the accounts the caller looks after (an organization administrator: its organizations' accounts), newest first.", body = BlockPage)))]
pub async fn list(
    State(state): State<AppState>,
    admin: ScopedAdmin,
    ApiQuery(q): ApiQuery<BlockQuery>,
) -> Result<Json<BlockPage>, ApiError> {
    admin.may(AccountAction::View)?;
    let (page, per_page) = super::paging(q.page, q.per_page)?;
    let client = client_filter(q.client_id.as_deref())?;
    let (rows, total) = blocks::list(
        &state,
        &admin.scope,
        client.as_deref(),
        per_page,
        (page - 1) * per_page,
    )
    .await?;
    Ok(Json(BlockPage {
        items: rows.into_iter().map(BlockView::from).collect(),
        total,
        page,
        per_page,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Lifted {
    /// The clients whose blocks were lifted (`*`: the block for every client).
    pub client_ids: Vec<String>,
}

#[utoipa::path(post, path = crate::routes::API_USER_LIFT_BLOCKS, tag = "blocks", operation_id = "users_lift_blocks", params(("id" = uuid::Uuid, Path, description = "The account id.")),
    responses((status = 200, description = "The account's active blocks lifted (audited `account.unblocked`); the password stays as it is. A system administrator lifts every block; an organization administrator, within its scope (404 outside it), the weak-password blocks only.", body = Lifted)))]
pub async fn lift(
    State(state): State<AppState>,
    admin: ScopedAdmin,
    Path(id): Path<String>,
) -> Result<Json<Lifted>, ApiError> {
    admin.may(AccountAction::LiftBlocks)?;
    let user = admin.account(&state, &id).await?;
    let client_ids =
        blocks::lift_within(&state, &admin.scope, &user, &admin.actor, &admin.origin).await?;
    Ok(Json(Lifted { client_ids }))
}
