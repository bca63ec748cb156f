//! `/account/apps`: the application list (应用列表) — the institution's
//! own applications (name, logo, description, a link to open each) and
//! the third-party ones the person consented to (what they may read, in
//! words, and since when, in the institution's time), each withdrawable.
//! Withdrawing revokes the application's tokens and ends its sessions of
//! this account by back-channel logout.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::error::PageError;
use crate::extract::{ClientOrigin, CsrfForm, CurrentUser};
use crate::i18n::{Lang, local_when};
use crate::pages::{Chrome, PageCtx, render};
use crate::service::consents::{self, ListedApp};
use crate::state::AppState;

/// A consented application as the page shows it.
struct Consented {
    app: ListedApp,
    /// What it may read, in words.
    scopes: Vec<&'static str>,
    /// Since when, in the institution's time.
    since: String,
}

#[derive(Template)]
#[template(path = "account/apps.html")]
struct AppsPage {
    c: Chrome,
    first_party: Vec<ListedApp>,
    consented: Vec<Consented>,
    revoked: bool,
}

#[derive(Deserialize)]
pub struct AppsQuery {
    revoked: Option<String>,
}

pub async fn show(
    State(state): State<AppState>,
    ctx: PageCtx,
    current: CurrentUser,
    Query(q): Query<AppsQuery>,
) -> Result<Response, PageError> {
    let t = ctx.t();
    let (first_party, consents) =
        consents::app_list(&state, &current.user, ctx.lang == Lang::En).await?;
    let offset = crate::service::calendar::offset(&state);
    let consented = consents
        .into_iter()
        .map(|c| Consented {
            scopes: c.scopes.iter().filter_map(|s| t.scope_words(s)).collect(),
            since: local_when(c.granted_at, offset),
            app: c.app,
        })
        .collect();
    render(&AppsPage {
        c: ctx.chrome().await?,
        first_party,
        consented,
        revoked: q.revoked.is_some(),
    })
}

#[derive(Deserialize)]
pub struct RevokeForm {
    #[serde(default)]
    client_id: String,
}

pub async fn revoke(
    State(state): State<AppState>,
    current: CurrentUser,
    ClientOrigin(origin): ClientOrigin,
    CsrfForm(form, _): CsrfForm<RevokeForm>,
) -> Result<Response, PageError> {
    consents::withdraw(&state, &current.user, &form.client_id, &origin).await?;
    Ok(Redirect::to(&format!("{}?revoked=1", crate::routes::ACCOUNT_APPS)).into_response())
}
