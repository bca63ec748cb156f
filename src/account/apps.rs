//! `/account/apps`: the applications the user consented to, with a way to
//! withdraw each consent (which also revokes that application's grants).

use askama::Template;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;
use time::format_description::well_known::Rfc3339;

use crate::error::PageError;
use crate::extract::{ClientOrigin, CsrfForm, CurrentUser};
use crate::pages::{Chrome, PageCtx, render};
use crate::service::audit::{Entry, Outcome};
use crate::service::clients;
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
    let mut apps = Vec::new();
    for consent in state.store.consents(current.user.id).await? {
        let name = clients::find_cached(&state, &consent.client_id)
            .await?
            .map(|c| c.name)
            .unwrap_or_else(|| consent.client_id.clone());
        let when = consent.granted_at.format(&Rfc3339).unwrap_or_default();
        apps.push((
            name,
            consent.client_id,
            format!("{} · {when}", consent.scope),
        ));
    }
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
    if state
        .store
        .delete_consent(current.user.id, &form.client_id)
        .await?
    {
        Entry::new("consent.revoked", Outcome::Success)
            .actor(&current.actor())
            .subject(&current.user)
            .origin(&origin)
            .detail(json!({ "client_id": form.client_id }))
            .write(&state.store)
            .await?;
    }
    Ok(Redirect::to(&format!("{}?revoked=1", crate::routes::ACCOUNT_APPS)).into_response())
}
