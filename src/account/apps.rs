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
use crate::i18n::Lang;
use crate::pages::{Chrome, PageCtx, render};
use crate::service::consents::{self, ListedApp};
use crate::state::AppState;

/// A consented application as the page shows it.
struct Consented {
    app: ListedApp,
    /// What it may read, in words.
    scopes: Vec<String>,
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
    let c = ctx.chrome().await?;
    let (first_party, consents) =
        consents::app_list(&state, &current.user, ctx.lang == Lang::En).await?;
    let consented = consents
        .into_iter()
        .map(|a| Consented {
            // Scopes we do not define are shown as they are spelt.
            scopes: a
                .scopes
                .iter()
                .map(|s| c.t.scope_words(s).map_or_else(|| s.clone(), String::from))
                .collect(),
            since: c.at(a.granted_at),
            app: a.app,
        })
        .collect();
    render(&AppsPage {
        c,
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
