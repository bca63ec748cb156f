//! `/login/sms`: prove the phone after the password (SMS step-up). GET
//! shows the masked phone, a send button (with a countdown, and working
//! without JavaScript) and the code field; POST checks the code.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use serde::Deserialize;

use crate::cookies;
use crate::domain::PhoneNumber;
use crate::error::PageError;
use crate::extract::{ClientOrigin, CsrfForm};
use crate::pages::{Chrome, PageCtx, render, render_status};
use crate::routes;
use crate::service::{login, step_up, unbind};
use crate::session::{Flash, Pending};
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
    /// A code has been sent in this step-up (the page says so only then).
    sent: bool,
    /// The application's request, when the user may go back to it.
    cancel: Option<String>,
}

impl StepUpPage {
    /// The page with everything the server knows: the masked phone, the
    /// wait before another code (whatever the last request was), and a
    /// notice left by the previous step.
    async fn new(
        state: &AppState,
        c: Chrome,
        user: &User,
        pending: &Pending,
    ) -> Result<Self, PageError> {
        let wait = step_up::resend_wait(state, user).await?;
        Ok(StepUpPage {
            c,
            phone: step_up::phone_of(user).map(|p| PhoneNumber::masked(p.as_str())),
            notice: None,
            error: None,
            wait: super::countdown_secs(wait),
            // A code sent recently still holds back the next one.
            sent: !wait.is_zero(),
            cancel: super::cancellable(&pending.return_to),
        })
    }
}

impl StepUpPage {
    /// The page drawn in answer to a refused form, with its error; the
    /// language switch leads to the page's own URL.
    async fn refused(
        state: &AppState,
        ctx: &PageCtx,
        user: &User,
        pending: &Pending,
        error: String,
    ) -> Result<Self, PageError> {
        let mut p = Self::new(state, ctx.chrome_at(routes::STEP_UP).await?, user, pending).await?;
        p.error = Some(error);
        Ok(p)
    }
}

pub async fn show(State(state): State<AppState>, ctx: PageCtx) -> Result<Response, PageError> {
    let Some((user, pending)) = ctx.session.step_up_owed(&state).await? else {
        return Ok(Redirect::to(routes::LOGIN).into_response());
    };
    let mut p = StepUpPage::new(&state, ctx.chrome().await?, &user, &pending).await?;
    if ctx.session.take_flash(Flash::StepUpCodeSent).await? {
        p.notice = Some(ctx.t().step_up_sent.to_string());
        p.sent = true;
    }
    if p.phone.is_none() {
        return render_status(StatusCode::FORBIDDEN, &p);
    }
    render(&p)
}

#[derive(Deserialize)]
pub struct SendForm {}

/// Sends a code and goes back to the page (post-redirect-get); a refusal
/// is drawn on the page with its status and the wait the server enforces.
pub async fn send(
    State(state): State<AppState>,
    ctx: PageCtx,
    ClientOrigin(origin): ClientOrigin,
    CsrfForm(_, session): CsrfForm<SendForm>,
) -> Result<Response, PageError> {
    let Some((user, pending)) = session.step_up_owed(&state).await? else {
        return Ok(Redirect::to(routes::LOGIN).into_response());
    };
    let e = match step_up::send(&state, &user, &origin, ctx.lang).await {
        Ok(()) => {
            session.flash(Flash::StepUpCodeSent).await?;
            return Ok(Redirect::to(routes::STEP_UP).into_response());
        }
        Err(e) => e,
    };
    let (status, message, retry) = super::send_refusal(ctx.t(), e)?;
    let p = StepUpPage::refused(&state, &ctx, &user, &pending, message).await?;
    super::refused(status, &p, retry)
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
    jar: CookieJar,
    CsrfForm(form, session): CsrfForm<CodeForm>,
) -> Result<Response, PageError> {
    let Some((user, pending)) = session.step_up_owed(&state).await? else {
        return Ok(Redirect::to(routes::LOGIN).into_response());
    };
    let device = state.cookies.value_or_plain(&jar, cookies::DEVICE);
    let proved = step_up::phone_of(&user);
    let (user, new_device) =
        match step_up::complete(&state, &user, &form.code, device.as_deref(), &origin).await {
            Ok(done) => done,
            Err(e) => {
                let error = super::verify_refusal(ctx.t(), e)?;
                let mut p = StepUpPage::refused(&state, &ctx, &user, &pending, error).await?;
                // A code was asked for (a wrong or spent one): say it was sent.
                p.sent = true;
                return render_status(StatusCode::UNPROCESSABLE_ENTITY, &p);
            }
        };
    // The phone still reaches its owner: an application to unbind it,
    // not yet in effect, is cancelled.
    if let Some(phone) = &proved
        && let Err(e) = unbind::phone_proved(&state, &user, phone, &origin).await
    {
        tracing::warn!(error = %e, "an unbind application could not be cancelled");
    }
    // The phone proved, the sign-in goes on as after a password alone.
    let outcome = login::completed(user);
    let amr = vec!["pwd".into(), "sms".into()];
    let next = super::sign_in(&state, &session, &outcome, amr, &pending.return_to, &origin)
        .await?
        .ok_or_else(|| PageError::Internal("step-up: the outcome did not sign in".into()))?;
    let jar = match new_device {
        Some(value) => jar.add(state.cookies.long_lived(cookies::DEVICE, value)),
        None => jar,
    };
    Ok((jar, next).into_response())
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
