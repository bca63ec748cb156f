//! `/api/v1/audit`: the audit log, newest first, filtered and paged.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

use super::auth::AdminAuth;
use super::{ApiQuery, parse_id};
use crate::error::ApiError;
use crate::service::admin;
use crate::state::AppState;
use crate::store::audit::{AuditFilter, AuditRow};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Entries about this account (its id).
    #[param(format = Uuid)]
    pub user: Option<String>,
    /// One event type, e.g. `login.failure`.
    pub event: Option<String>,
    /// RFC 3339; entries at or after.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[param(value_type = Option<String>, format = DateTime)]
    pub since: Option<OffsetDateTime>,
    /// RFC 3339; entries before.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[param(value_type = Option<String>, format = DateTime)]
    pub until: Option<OffsetDateTime>,
    /// Paging: entries with an id below this (from `next_before`).
    pub before: Option<i64>,
    /// Entries made by this actor (`admin`, `client:ops-bot`, `cli:root` …).
    pub actor: Option<String>,
    /// How many entries (default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    #[schema(value_type = [Object])]
    pub items: Vec<AuditRow>,
    /// Pass as `before` for the next page; absent on the last.
    pub next_before: Option<i64>,
}

#[utoipa::path(get, path = crate::routes::API_AUDIT, tag = "audit", operation_id = "audit_list", params(AuditQuery),
    responses((status = 200, description = "Entries, newest first.", body = AuditPage)))]
pub async fn list(
    State(state): State<AppState>,
    _admin: AdminAuth,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::invalid("limit", "must be between 1 and 500"));
    }
    let subject_id = match q.user.as_deref() {
        Some(u) => Some(
            parse_id(u)
                .map_err(|_| ApiError::invalid("user", "`user` must be an account id (a UUID)"))?,
        ),
        None => None,
    };
    let filter = AuditFilter {
        subject_id,
        event: q.event,
        since: q.since,
        until: q.until,
        before_id: q.before,
        after_id: None,
        actor: q.actor,
        security_only: false,
        limit,
    };
    let items = admin::audit(&state, &filter).await?;
    let next_before = (items.len() as i64 == limit)
        .then(|| items.last().map(|r| r.id))
        .flatten();
    Ok(Json(AuditPage { items, next_before }))
}
