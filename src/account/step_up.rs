//! `/login/sms`: prove the phone after the password (SMS step-up). GET
//! shows the masked phone, a send button (with a countdown, and working
//! without JavaScript) and the code field; POST checks the code.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::domain::PhoneNumber;
use crate::error::PageError;
use crate::extract::{
    ClientOrigin, CsrfForm, PendingStepUp, cookie, end_step_up, pending_step_up, sign_in,
};
use crate::pages::{Chrome, PageCtx, render, render_status};
use crate::routes;
use crate::service::step_up::{self, DEVICE_COOKIE};
use crate::state::AppState;
use crate::store::users::User;

#[derive(Template)]
#[template(path = "account/step_up.html")]
struct StepUpPage {
    c: Chrome,
    phone: Option<String>,
    notice: Option<String>,
    error: Option<String>,
    /// Seconds the send button stays disabled.
    wait: u64,
    /// The application's request, when the user may go back to it.
    cancel: Option<String>,
}

fn page(
    c: Chrome,
    user: &User,
    pending: &PendingStepUp,
    notice: Option<String>,
    error: Option<String>,
    wait: u64,
) -> StepUpPage {
    StepUpPage {
        c,
        phone: step_up::phone_of(user).map(|p| PhoneNumber::masked(p.as_str())),
        notice,
        error,
        wait,
        cancel: pending
            .return_to
            .strip_prefix(routes::AUTHORIZE)
            .and_then(|r| r.strip_prefix('?'))
            .map(str::to_string),
    }
}

pub async fn show(State(state): State<AppState>, ctx: PageCtx) -> Result<Response, PageError> {
    let Some((user, pending)) = pending_step_up(&state, &ctx.session).await? else {
        return Ok(Redirect::to(routes::LOGIN).into_response());
    };
    let p = page(ctx.chrome().await?, &user, &pending, None, None, 0);
    if p.phone.is_none() {
        return render_status(StatusCode::FORBIDDEN, &p);
    }
    render(&p)
}

#[derive(Deserialize)]
pub struct SendForm {}

pub async fn send(
    State(state): State<AppState>,
    ctx: PageCtx,
    ClientOrigin(origin): ClientOrigin,
    CsrfForm(_, _): CsrfForm<SendForm>,
) -> Result<Response, PageError> {
    let Some((user, pending)) = pending_step_up(&state, &ctx.session).await? else {
        return Ok(Redirect::to(routes::LOGIN).into_response());
    };
    let t = ctx.t();
    let resend = state.config.sms.resend_secs;
    let (status, notice, error, wait) = match step_up::send(&state, &user, &origin, ctx.lang).await
    {
        Ok(()) => (
            StatusCode::OK,
            Some(t.step_up_sent.to_string()),
            None,
            resend,
        ),
        Err(e) => {
            let (status, message, wait) = super::send_refusal(t, e)?;
            (status, None, Some(message), wait)
        }
    };
    render_status(
        status,
        &page(ctx.chrome().await?, &user, &pending, notice, error, wait),
    )
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
}

pub async fn verify(
    State(state): State<AppState>,
    ctx: PageCtx,
    ClientOrigin(origin): ClientOrigin,
    headers: axum::http::HeaderMap,
    CsrfForm(form, session): CsrfForm<CodeForm>,
) -> Result<Response, PageError> {
    let Some((user, pending)) = pending_step_up(&state, &session).await? else {
        return Ok(Redirect::to(routes::LOGIN).into_response());
    };
    let t = ctx.t();
    let device_cookie = cookie(&headers, DEVICE_COOKIE);
    let mut new_cookie = None;
    let error =
        match step_up::complete(&state, &user, &form.code, device_cookie.as_deref(), &origin).await
        {
            Ok(c) => {
                new_cookie = c;
                None
            }
            Err(e) => Some(super::verify_refusal(t, e)?),
        };
    if let Some(error) = error {
        return render_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            &page(ctx.chrome().await?, &user, &pending, None, Some(error), 0),
        );
    }
    let user = state
        .store
        .user_by_id(user.id)
        .await?
        .ok_or(PageError::NotFound)?;
    end_step_up(&session).await?;
    sign_in(
        &state,
        &session,
        &user,
        vec!["pwd".into(), "sms".into()],
        &origin,
    )
    .await?;
    let mut response = Redirect::to(&pending.return_to).into_response();
    if let Some(value) = new_cookie {
        let secure = if state.config.secure_cookies() {
            "; Secure"
        } else {
            ""
        };
        let c = format!(
            "{DEVICE_COOKIE}={value}; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax{secure}"
        );
        if let Ok(v) = HeaderValue::from_str(&c) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    Ok(response)
}

#[derive(Template)]
#[template(path = "account/step_up_help.html")]
struct HelpPage {
    c: Chrome,
}

pub async fn help(ctx: PageCtx) -> Result<Response, PageError> {
    render(&HelpPage {
        c: ctx.chrome().await?,
    })
}
