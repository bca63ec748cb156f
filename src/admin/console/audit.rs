//! `/admin/audit`: the audit log, filtered by event and account, paged.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;

use super::{AdminSession, AuditLine, Nav};
use crate::error::PageError;
use crate::pages::{Chrome, PageCtx, render};
use crate::service::admin;
use crate::state::AppState;
use crate::store::audit::AuditFilter;

const PAGE: i64 = 50;

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    c: Chrome,
    nav: Nav,
    event: String,
    user: String,
    lines: Vec<AuditLine>,
    older: Option<String>,
}

#[derive(Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    event: String,
    #[serde(default)]
    user: String,
    before: Option<i64>,
}

pub async fn show(
    State(state): State<AppState>,
    ctx: PageCtx,
    admin: AdminSession,
    Query(q): Query<AuditQuery>,
) -> Result<Response, PageError> {
    // The account filter takes an account name (what an admin knows).
    let subject_id = match q.user.trim() {
        "" => None,
        name => Some(
            state
                .store
                .user_by_username(&name.to_lowercase())
                .await?
                .map(|u| u.id)
                .unwrap_or_default(),
        ),
    };
    let filter = AuditFilter {
        subject_id,
        event: Some(q.event.trim().to_string()).filter(|e| !e.is_empty()),
        before_id: q.before,
        limit: PAGE,
        ..AuditFilter::default()
    };
    let rows = admin::audit(&state, &filter).await?;
    let older = (rows.len() as i64 == PAGE)
        .then(|| rows.last().map(|r| r.id))
        .flatten()
        .map(|id| {
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("event", &q.event)
                .append_pair("user", &q.user)
                .append_pair("before", &id.to_string())
                .finish()
        });
    render(&AuditPage {
        c: ctx.chrome().await?,
        nav: admin.nav(),
        event: q.event,
        user: q.user,
        lines: rows
            .into_iter()
            .map(|r| AuditLine::of(r, ctx.t(), &ctx.tz))
            .collect(),
        older,
    })
}
