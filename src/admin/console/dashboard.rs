//! `/admin`: accounts at a glance and the latest security events.

use askama::Template;
use axum::extract::State;
use axum::response::Response;

use super::{AdminSession, AuditLine};
use crate::error::PageError;
use crate::pages::{Chrome, PageCtx, render};
use crate::state::AppState;
use crate::store::audit::AuditFilter;
use crate::store::users::AccountStatus;

#[derive(Template)]
#[template(path = "admin/dashboard.html")]
struct DashboardPage {
    c: Chrome,
    total: i64,
    disabled: i64,
    events: Vec<AuditLine>,
}

pub async fn show(
    State(state): State<AppState>,
    ctx: PageCtx,
    _admin: AdminSession,
) -> Result<Response, PageError> {
    let total = state.store.count_users().await?;
    let disabled = state
        .store
        .count_users_with_status(AccountStatus::Disabled)
        .await?;
    let rows = state
        .store
        .list_audit(&AuditFilter {
            limit: 200,
            ..AuditFilter::default()
        })
        .await?;
    // Security events: failures of any kind and account changes.
    let events = rows
        .into_iter()
        .filter(|r| {
            r.outcome == "failure"
                || r.event.starts_with("account.")
                || r.event.starts_with("login.lockout")
        })
        .take(20)
        .map(AuditLine::from)
        .collect();
    render(&DashboardPage {
        c: ctx.chrome().await?,
        total,
        disabled,
        events,
    })
}
