//! `/account/apps`: the applications the user consented to, with a way to
//! withdraw each consent (which also revokes that application's grants).

use askama::Template;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::error::PageError;
use crate::extract::{ClientOrigin, CsrfForm, CurrentUser};
use crate::pages::{Chrome, PageCtx, render};
use crate::service::consents;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "account/apps.html")]
struct AppsPage {
    c: Chrome,
    /// (name, client id, granted scopes and time)
    apps: Vec<(String, String, String)>,
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
    let apps = consents::list(&state, &current.user).await?;
    render(&AppsPage {
        c: ctx.chrome().await?,
        apps,
        revoked: q.revoked.is_some(),
    })
}

#[derive(Deserialize)]
pub struct RevokeForm {
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
