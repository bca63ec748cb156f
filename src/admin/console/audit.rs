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
    /// Every event kind with its words, for the filter.
    kinds: Vec<(&'static str, String)>,
    user: String,
    lines: Vec<AuditLine>,
    /// Links to the newest page and to the pages on either side.
    newest: Option<String>,
    newer: Option<String>,
    older: Option<String>,
}

#[derive(Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    event: String,
    #[serde(default)]
    user: String,
    before: Option<i64>,
    after: Option<i64>,
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
        limit: PAGE,
        ..AuditFilter::default()
    };
    let found = admin::audit_page(&state, filter, q.before, q.after).await?;
    let link = |bound: Option<(&str, i64)>| {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query
            .append_pair("event", &q.event)
            .append_pair("user", &q.user);
        if let Some((name, id)) = bound {
            query.append_pair(name, &id.to_string());
        }
        query.finish()
    };
    let newer = found.newer.map(|id| link(Some(("after", id))));
    let older = found.older.map(|id| link(Some(("before", id))));
    let newest = (q.before.is_some() || q.after.is_some()).then(|| link(None));
    let rows = found.rows;
    render(&AuditPage {
        c: ctx.chrome().await?,
        nav: admin.nav(),
        kinds: crate::service::audit::EVENT_KINDS
            .iter()
            .map(|k| (*k, ctx.t().audit_event(k)))
            .collect(),
        event: q.event,
        user: q.user,
        lines: rows
            .into_iter()
            .map(|r| AuditLine::of(r, ctx.t(), &ctx.tz))
            .collect(),
        newest,
        newer,
        older,
    })
}
