//! `/admin`: the overview: accounts, today's sign-ins, failures and text
//! messages, locked accounts, waiting review cases, when the signing key
//! is due for rotation, and the latest security events.

use askama::Template;
use axum::extract::State;
use axum::response::Response;

use axum::response::{IntoResponse, Redirect};

use super::{AuditLine, Nav, ScopedSession};
use crate::error::PageError;
use crate::pages::{Chrome, PageCtx, render};
use crate::service::admin;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "admin/dashboard.html")]
struct DashboardPage {
    c: Chrome,
    nav: Nav,
    total: i64,
    disabled: i64,
    today: admin::Today,
    locked: i64,
    pending_cases: i64,
    /// When the key rotation is due, in words; `None`: not watched.
    key_rotation: Option<String>,
    key_rotation_overdue: bool,
    events: Vec<AuditLine>,
}

pub async fn show(
    State(state): State<AppState>,
    ctx: PageCtx,
    admin: ScopedSession,
) -> Result<Response, PageError> {
    // An organization administrator's console is its accounts.
    if !admin.scope.is_all() {
        return Ok(Redirect::to(crate::routes::ADMIN_USERS).into_response());
    }
    let d = admin::dashboard(&state).await?;
    let now = state.clock.now();
    let events = d
        .events
        .into_iter()
        .map(|r| AuditLine::of(r, ctx.t(), &ctx.tz))
        .collect();
    render(&DashboardPage {
        c: ctx.chrome().await?,
        nav: admin.nav(),
        total: d.total,
        disabled: d.disabled,
        today: d.today,
        locked: d.locked,
        pending_cases: d.pending_cases,
        key_rotation: d.key_rotation_due.map(|t| ctx.t().at(t, &ctx.tz)),
        key_rotation_overdue: d.key_rotation_due.is_some_and(|t| t <= now),
        events,
    })
}
