//! `/admin/blocks`: the accounts blocked for applications, of the
//! organizations the administrator looks after (all for a system
//! administrator: `ScopedSession`), filtered by application,
//! and the same list as CSV (`/admin/blocks.csv`).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{Nav, ScopedSession};
use crate::error::PageError;
use crate::extract::ClientOrigin;
use crate::pages::{Chrome, PageCtx, render};
use crate::service::admin::AccountAction;
use crate::service::{blocks, clients};
use crate::state::AppState;
use crate::store::blocks::BlockedAccount;

/// Rows a page shows (the export holds up to [`blocks::MAX_EXPORT`]).
const PAGE: i64 = 200;

#[derive(Template)]
#[template(path = "admin/blocks.html")]
struct BlocksPage {
    c: Chrome,
    nav: Nav,
    /// The registered clients (id, name), for the filter.
    clients: Vec<(String, String)>,
    selected: Option<String>,
    rows: Vec<BlockedAccount>,
    total: usize,
    csv_url: String,
}

#[derive(Deserialize)]
pub struct BlocksQuery {
    client_id: Option<String>,
}

fn filter(q: &BlocksQuery) -> Result<Option<String>, PageError> {
    crate::admin::api::blocks::client_filter(q.client_id.as_deref())
        .map_err(|_| PageError::BadRequest)
}

pub async fn show(
    State(state): State<AppState>,
    ctx: PageCtx,
    admin: ScopedSession,
    Query(q): Query<BlocksQuery>,
) -> Result<Response, PageError> {
    admin.may(AccountAction::View)?;
    let selected = filter(&q)?;
    let (rows, total) = blocks::list(&state, &admin.scope, selected.as_deref(), PAGE, 0).await?;
    let clients = clients::list(&state)
        .await?
        .into_iter()
        .map(|c| (c.id, c.name))
        .collect();
    let csv_url = match &selected {
        Some(id) => crate::urls::local_url(crate::routes::ADMIN_BLOCKS_CSV, &[("client_id", id)]),
        None => crate::routes::ADMIN_BLOCKS_CSV.to_string(),
    };
    render(&BlocksPage {
        c: ctx.chrome().await?,
        nav: admin.nav(),
        clients,
        selected,
        rows,
        total: usize::try_from(total).unwrap_or_default(),
        csv_url,
    })
}

/// The list as a CSV file for Excel (UTF-8 with a byte-order mark, cells
/// that a spreadsheet would run as formulas defused).
pub async fn export(
    State(state): State<AppState>,
    ctx: PageCtx,
    admin: ScopedSession,
    ClientOrigin(origin): ClientOrigin,
    Query(q): Query<BlocksQuery>,
) -> Result<Response, PageError> {
    admin.may(AccountAction::View)?;
    let selected = filter(&q)?;
    let body = blocks::export(
        &state,
        &admin.scope,
        selected.as_deref(),
        ctx.lang,
        &admin.actor(),
        &origin,
    )
    .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"blocked-accounts.csv\"",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response())
}
