//! `/account/sessions`: where the account is signed in (device, address,
//! when it signed in, when it was last active, "this device"), with a way
//! to sign out one other device or all other devices (ASVS 3.3.4).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::error::PageError;
use crate::extract::{ClientOrigin, CsrfForm, CurrentUser};
use crate::pages::{Chrome, PageCtx, render, render_status};
use crate::routes;
use crate::service::sessions::{self, EndError, SignInView};
use crate::state::AppState;

/// One row of the page, in words.
struct Row {
    handle: String,
    device: String,
    address: String,
    signed_in_at: String,
    last_active_at: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "account/sessions.html")]
struct SessionsPage {
    c: Chrome,
    rows: Vec<Row>,
    others: bool,
    notice: Option<&'static str>,
    error: Option<&'static str>,
}

#[derive(Deserialize)]
pub struct SessionsQuery {
    done: Option<String>,
}

async fn page(
    state: &AppState,
    ctx: &PageCtx,
    current: &CurrentUser,
    chrome: Chrome,
    notice: Option<&'static str>,
    error: Option<&'static str>,
) -> Result<SessionsPage, PageError> {
    let t = ctx.t();
    let views = sessions::list(state, &current.user, &current.auth.sid).await?;
    let rows: Vec<Row> = views
        .into_iter()
        .map(|v: SignInView| Row {
            device: (t.sessions_device)(v.device.browser, v.device.os),
            address: v
                .ip
                .unwrap_or_else(|| t.sessions_unknown_address.to_string()),
            signed_in_at: t.at(v.signed_in_at, &state.time_zone),
            last_active_at: t.at(v.last_active_at, &state.time_zone),
            current: v.current,
            handle: v.handle,
        })
        .collect();
    Ok(SessionsPage {
        c: chrome,
        others: rows.iter().any(|r| !r.current),
        rows,
        notice,
        error,
    })
}

pub async fn show(
    State(state): State<AppState>,
    ctx: PageCtx,
    current: CurrentUser,
    Query(q): Query<SessionsQuery>,
) -> Result<Response, PageError> {
    let t = ctx.t();
    let notice = match q.done.as_deref() {
        Some("one") => Some(t.sessions_ended),
        Some("others") => Some(t.sessions_others_ended),
        _ => None,
    };
    let chrome = ctx.chrome().await?;
    render(&page(&state, &ctx, &current, chrome, notice, None).await?)
}

#[derive(Deserialize)]
pub struct EndForm {
    #[serde(default)]
    session: String,
}

/// "Sign out this device" for another device of the account.
pub async fn end(
    State(state): State<AppState>,
    ctx: PageCtx,
    current: CurrentUser,
    ClientOrigin(origin): ClientOrigin,
    CsrfForm(form, _): CsrfForm<EndForm>,
) -> Result<Response, PageError> {
    let t = ctx.t();
    let (status, error) = match sessions::end_one(
        &state,
        &current.user,
        &form.session,
        &current.auth.sid,
        &origin,
    )
    .await
    {
        Ok(()) => {
            return Ok(
                Redirect::to(&format!("{}?done=one", routes::ACCOUNT_SESSIONS)).into_response(),
            );
        }
        Err(EndError::NotFound) => (StatusCode::NOT_FOUND, t.sessions_not_found),
        Err(EndError::Current) => (StatusCode::UNPROCESSABLE_ENTITY, t.sessions_is_current),
        Err(EndError::Store(e)) => return Err(e.into()),
    };
    let chrome = ctx.chrome_at(routes::ACCOUNT_SESSIONS).await?;
    render_status(
        status,
        &page(&state, &ctx, &current, chrome, None, Some(error)).await?,
    )
}

/// "Sign out all other devices".
pub async fn end_others(
    State(state): State<AppState>,
    current: CurrentUser,
    ClientOrigin(origin): ClientOrigin,
    CsrfForm(_, _): CsrfForm<EndOthersForm>,
) -> Result<Response, PageError> {
    sessions::end_others(&state, &current.user, &current.auth.sid, &origin).await?;
    Ok(Redirect::to(&format!("{}?done=others", routes::ACCOUNT_SESSIONS)).into_response())
}

#[derive(Deserialize)]
pub struct EndOthersForm {}
