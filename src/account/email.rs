//! `/account/email`: the security e-mail (密保邮箱) — shown, set or
//! changed (confirmed by a mailed link), removed. `/account/email/confirm`
//! is where the link leads; it needs no sign-in (the link is the proof),
//! and confirms with a button, since mail scanners open links too.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::domain::{Email, SecretPassword};
use crate::error::PageError;
use crate::extract::{CsrfForm, CurrentUser};
use crate::pages::{Chrome, PageCtx, render, render_status};
use crate::routes;
use crate::service::security_email::{self, EmailError};
use crate::session::Flash;
use crate::state::AppState;
use crate::store::users::User;
use crate::urls::local_url;

#[derive(Template)]
#[template(path = "account/email.html")]
struct EmailPage {
    c: Chrome,
    current: Option<String>,
    verified: bool,
    pending: Option<String>,
    notice: Option<String>,
    error: Option<String>,
    entered: String,
}

async fn page(
    state: &AppState,
    ctx: &PageCtx,
    user: &User,
    notice: Option<String>,
    error: Option<String>,
) -> Result<EmailPage, PageError> {
    let pending = security_email::pending(state, user)
        .await
        .map_err(|e| PageError::Internal(e.to_string()))?;
    Ok(EmailPage {
        c: ctx.chrome().await?,
        current: user.security_email.clone(),
        verified: user.security_email_verified,
        pending,
        notice,
        error,
        entered: String::new(),
    })
}

#[derive(Deserialize)]
pub struct EmailQuery {
    sent: Option<String>,
    removed: Option<String>,
}

pub async fn show(
    State(state): State<AppState>,
    ctx: PageCtx,
    current: CurrentUser,
    Query(q): Query<EmailQuery>,
) -> Result<Response, PageError> {
    let t = ctx.t();
    let notice = if q.sent.is_some() {
        Some(t.email_sent.to_string())
    } else if q.removed.is_some() {
        Some(t.email_removed.to_string())
    } else {
        None
    };
    render(&page(&state, &ctx, &current.user, notice, None).await?)
}

/// The message for a refused change, and its status.
fn refusal(t: &crate::i18n::Text, e: EmailError) -> Result<(StatusCode, String), PageError> {
    Ok(match e {
        EmailError::WrongPassword => (
            StatusCode::UNPROCESSABLE_ENTITY,
            t.password_wrong_current.into(),
        ),
        EmailError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, t.email_invalid.into()),
        EmailError::Unchanged => (StatusCode::UNPROCESSABLE_ENTITY, t.email_unchanged.into()),
        EmailError::Locked(w) => (StatusCode::TOO_MANY_REQUESTS, (t.login_locked)(w)),
        EmailError::TooSoon(w) => (StatusCode::TOO_MANY_REQUESTS, (t.step_up_wait)(w)),
        EmailError::Taken => (StatusCode::CONFLICT, t.email_taken.into()),
        EmailError::Delivery => (
            StatusCode::SERVICE_UNAVAILABLE,
            t.email_delivery_failed.into(),
        ),
        EmailError::InvalidLink => (StatusCode::GONE, t.email_invalid_link.into()),
        EmailError::Hash(e) => return Err(e.into()),
        EmailError::Internal(e) => return Err(PageError::Internal(e)),
    })
}

#[derive(Deserialize)]
pub struct ChangeForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

pub async fn change(
    State(state): State<AppState>,
    ctx: PageCtx,
    current: CurrentUser,
    CsrfForm(form, _): CsrfForm<ChangeForm>,
) -> Result<Response, PageError> {
    let result = security_email::request_change(
        &state,
        &current.user,
        &SecretPassword::new(form.password),
        &form.email,
        ctx.lang,
        &ctx.origin,
    )
    .await;
    let (status, message) = match result {
        Ok(()) => {
            return Ok(Redirect::to(&format!("{}?sent=1", routes::ACCOUNT_EMAIL)).into_response());
        }
        Err(e) => refusal(ctx.t(), e)?,
    };
    let mut p = page(&state, &ctx, &current.user, None, Some(message)).await?;
    p.entered = form.email.trim().chars().take(254).collect();
    render_status(status, &p)
}

#[derive(Deserialize)]
pub struct RemoveForm {
    #[serde(default)]
    password: String,
}

pub async fn remove(
    State(state): State<AppState>,
    ctx: PageCtx,
    current: CurrentUser,
    CsrfForm(form, _): CsrfForm<RemoveForm>,
) -> Result<Response, PageError> {
    let result = security_email::remove(
        &state,
        &current.user,
        &SecretPassword::new(form.password),
        ctx.lang,
        &ctx.origin,
    )
    .await;
    let (status, message) = match result {
        Ok(()) => {
            return Ok(
                Redirect::to(&format!("{}?removed=1", routes::ACCOUNT_EMAIL)).into_response(),
            );
        }
        Err(e) => refusal(ctx.t(), e)?,
    };
    render_status(
        status,
        &page(&state, &ctx, &current.user, None, Some(message)).await?,
    )
}

#[derive(Template)]
#[template(path = "account/email_confirm.html")]
struct ConfirmPage {
    c: Chrome,
    /// What the button confirms (account, masked address), while valid.
    pending: Option<(String, String)>,
    token: String,
    notice: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct ConfirmQuery {
    #[serde(default)]
    token: String,
}

pub async fn confirm_page(
    State(state): State<AppState>,
    ctx: PageCtx,
    Query(q): Query<ConfirmQuery>,
) -> Result<Response, PageError> {
    let c = ctx.chrome().await?;
    if q.token.is_empty() && ctx.session.flash_is(Flash::EmailConfirmed).await? {
        return render(&ConfirmPage {
            c,
            pending: None,
            token: String::new(),
            notice: Some(ctx.t().email_confirmed.to_string()),
            error: None,
        });
    }
    match security_email::check_link(&state, &q.token).await {
        Ok((user, email)) => render(&ConfirmPage {
            c,
            pending: Some((user.username, Email::masked(&email))),
            token: q.token,
            notice: None,
            error: None,
        }),
        Err(e) => {
            let (status, message) = refusal(ctx.t(), e)?;
            render_status(
                status,
                &ConfirmPage {
                    c,
                    pending: None,
                    token: String::new(),
                    notice: None,
                    error: Some(message),
                },
            )
        }
    }
}

#[derive(Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    token: String,
}

/// Confirms and shows that it did (post-redirect-get); a refusal is drawn
/// with the link's own page as the language switch's target.
pub async fn confirm(
    State(state): State<AppState>,
    ctx: PageCtx,
    CsrfForm(form, session): CsrfForm<ConfirmForm>,
) -> Result<Response, PageError> {
    let e = match security_email::confirm(&state, &form.token, ctx.lang, &ctx.origin).await {
        Ok(_) => {
            session.flash(Flash::EmailConfirmed).await?;
            return Ok(Redirect::to(routes::ACCOUNT_EMAIL_CONFIRM).into_response());
        }
        Err(e) => e,
    };
    let (status, message) = refusal(ctx.t(), e)?;
    let page = local_url(routes::ACCOUNT_EMAIL_CONFIRM, &[("token", &form.token)]);
    render_status(
        status,
        &ConfirmPage {
            c: ctx.chrome_at(&page).await?,
            pending: None,
            token: String::new(),
            notice: None,
            error: Some(message),
        },
    )
}
