//! `/logout`: GET asks for confirmation (a link alone must not sign anyone
//! out), POST with a CSRF token ends the session.

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::error::PageError;
use crate::extract::{ClientOrigin, CsrfForm, session_user_id, sign_out};
use crate::pages::{Chrome, PageCtx, render};
use crate::routes;
use crate::service::login::record_logout;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "account/logout.html")]
struct LogoutPage {
    c: Chrome,
    signed_in: bool,
}

pub async fn show(ctx: PageCtx) -> Result<Response, PageError> {
    let signed_in = session_user_id(&ctx.session).await?.is_some();
    render(&LogoutPage {
        c: ctx.chrome().await?,
        signed_in,
    })
}

#[derive(Deserialize)]
pub struct LogoutForm {}

pub async fn submit(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    CsrfForm(_, session): CsrfForm<LogoutForm>,
) -> Result<Response, PageError> {
    if let Some(id) = session_user_id(&session).await?
        && let Some(user) = state.store.user_by_id(id).await?
    {
        record_logout(&state, &user, &origin).await?;
    }
    sign_out(&session).await?;
    Ok(Redirect::to(routes::LOGOUT).into_response())
}
