//! `/device`: where a person types the user code a device shows (RFC 8628
//! §3.3), confirms which application asks, and is sent through the
//! browser flow itself (sign-in, step-up, consent); `/device/callback`
//! takes that flow's answer for the device (service::device).

use std::time::Duration;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::error::PageError;
use crate::extract::{ClientOrigin, CsrfForm};
use crate::i18n::Lang;
use crate::pages::{Chrome, PageCtx, render};
use crate::service::clients;
use crate::service::device::{self, DeviceError};
use crate::state::AppState;

/// Wrong user codes a browser address may type per hour (a code has 20^8
/// values and lives minutes: guessing one takes far more).
const MISSES_PER_HOUR: i64 = 30;

#[derive(Template)]
#[template(path = "account/device.html")]
struct DevicePage {
    c: Chrome,
    /// `enter`, `confirm`, `done` or `denied`.
    step: &'static str,
    user_code: String,
    client_name: String,
    logo_uri: Option<String>,
    scopes: Vec<String>,
    error: Option<&'static str>,
}

impl DevicePage {
    fn new(c: Chrome, step: &'static str) -> Self {
        Self {
            c,
            step,
            user_code: String::new(),
            client_name: String::new(),
            logo_uri: None,
            scopes: Vec::new(),
            error: None,
        }
    }
}

fn internal(e: DeviceError) -> PageError {
    match e {
        DeviceError::Ephemeral(e) => e.into(),
        DeviceError::Store(e) => e.into(),
        other => PageError::Internal(other.to_string()),
    }
}

#[derive(Deserialize)]
pub struct ShowQuery {
    user_code: Option<String>,
    /// `approved` or `denied`: the outcome, after the answer that settled
    /// the request redirected here (so the page has a GET URL, and its
    /// language switch and a reload show the outcome again). It only
    /// chooses the words; nothing is settled by it.
    done: Option<String>,
}

/// Where the browser goes once the request is settled.
fn outcome_url(approved: bool) -> String {
    format!(
        "{}?done={}",
        crate::routes::DEVICE,
        if approved { "approved" } else { "denied" }
    )
}

pub async fn show(ctx: PageCtx, Query(q): Query<ShowQuery>) -> Result<Response, PageError> {
    let step = match q.done.as_deref() {
        Some("approved") => "done",
        Some("denied") => "denied",
        _ => "enter",
    };
    // The page's own URL, query included: the switch keeps the outcome.
    let mut page = DevicePage::new(ctx.chrome().await?, step);
    page.user_code = q.user_code.unwrap_or_default().chars().take(16).collect();
    render(&page)
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    user_code: String,
    /// `allow` or `deny` on the confirmation; absent on the first step.
    decision: Option<String>,
}

pub async fn submit(
    State(state): State<AppState>,
    ctx: PageCtx,
    ClientOrigin(origin): ClientOrigin,
    CsrfForm(form, _): CsrfForm<CodeForm>,
) -> Result<Response, PageError> {
    let t = ctx.t();
    let c = ctx.chrome_at(crate::routes::DEVICE).await?;
    let misses_key = format!(
        "device-missed:{}",
        origin.ip.as_deref().unwrap_or("unknown")
    );
    // Read as a counter (adding nothing): the window is the hour after
    // the last attempt.
    let misses = state
        .ephemeral
        .add(&misses_key, 0, Duration::from_secs(3600))
        .await?;
    if misses >= MISSES_PER_HOUR {
        let mut page = DevicePage::new(c, "enter");
        page.error = Some(t.device_too_many);
        return super::refused(
            StatusCode::TOO_MANY_REQUESTS,
            &page,
            Some(Duration::from_secs(3600)),
        );
    }
    let Some((handle, entry)) = device::find(&state, &form.user_code)
        .await
        .map_err(internal)?
    else {
        state
            .ephemeral
            .incr(&misses_key, Duration::from_secs(3600))
            .await?;
        let mut page = DevicePage::new(c, "enter");
        page.user_code = form.user_code.chars().take(16).collect();
        page.error = Some(t.device_bad_code);
        return super::refused(StatusCode::BAD_REQUEST, &page, None);
    };
    match form.decision.as_deref() {
        Some("allow") => {
            ctx.session.start_device(&handle).await?;
            Ok(Redirect::to(&device::authorize_url(&state, &handle, &entry)).into_response())
        }
        Some(_) => {
            device::settle(&state, &handle, None)
                .await
                .map_err(internal)?;
            Ok(Redirect::to(&outcome_url(false)).into_response())
        }
        None => {
            let client = clients::find_cached(&state, &entry.client_id)
                .await?
                .ok_or(PageError::NotFound)?;
            let mut page = DevicePage::new(c, "confirm");
            page.user_code = device::display(&entry.user_code);
            // A POST answer: its language switch posts the code again,
            // which draws this question in the other language.
            page.c.switch_post = vec![("user_code", page.user_code.clone())];
            page.client_name = client.display_name(ctx.lang == Lang::En).to_string();
            page.logo_uri = client.logo_uri.as_ref().map(|u| u.as_str().to_string());
            page.scopes = entry
                .scope
                .split(' ')
                .filter_map(|s| t.scope_words(s))
                .map(String::from)
                .collect();
            render(&page)
        }
    }
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// The end of the browser flow: accepted only in the browser that
/// confirmed the device (so nobody can push their own approval into a
/// device they do not hold), for a request still waiting.
pub async fn callback(
    State(state): State<AppState>,
    ctx: PageCtx,
    Query(q): Query<CallbackQuery>,
) -> Result<Response, PageError> {
    let t = ctx.t();
    let c = ctx.chrome_at(crate::routes::DEVICE).await?;
    let confirmed = ctx.session.take_device().await?;
    let handle = match (confirmed, q.state) {
        (Some(mine), Some(theirs)) if mine == theirs => mine,
        _ => {
            let mut page = DevicePage::new(c, "enter");
            page.error = Some(t.device_wrong_browser);
            return super::refused(StatusCode::BAD_REQUEST, &page, None);
        }
    };
    let code = q.code.filter(|_| q.error.is_none());
    let approving = code.is_some();
    if !device::settle(&state, &handle, code)
        .await
        .map_err(internal)?
        && approving
    {
        let mut page = DevicePage::new(c, "enter");
        page.error = Some(t.device_bad_code);
        return super::refused(StatusCode::BAD_REQUEST, &page, None);
    }
    Ok(Redirect::to(&outcome_url(approving)).into_response())
}
