//! `/admin`: accounts at a glance and the latest security events.

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
    let (total, disabled) = (d.total, d.disabled);
    let events = d
        .events
        .into_iter()
        .map(|r| AuditLine::of(r, ctx.t(), &ctx.tz))
        .collect();
    render(&DashboardPage {
        c: ctx.chrome().await?,
        nav: admin.nav(),
        total,
        disabled,
        events,
    })
}
