//! `/account/app-passwords`: application-specific passwords (应用独立密码).
//! GET lists the active ones (name, application, created, last used with
//! a masked address) and, when the sign-in is recent enough, the form that
//! makes one; the new secret is shown once, grouped, on the page the form
//! leads to. POSTs make one, revoke one or all, or start the SMS step-up
//! that renews an old sign-in (back here afterwards).

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use uuid::Uuid;

use crate::error::{PageError, set_retry_after};
use crate::extract::{ClientOrigin, CsrfForm, CurrentUser};
use crate::i18n::Lang;
use crate::pages::{Chrome, PageCtx, render_status};
use crate::routes;
use crate::service::app_passwords::{self, AppPasswordError, MAX_ACTIVE};
use crate::session::Flash;
use crate::state::AppState;
use crate::urls::local_url;

/// One row of the list.
struct Row {
    id: Uuid,
    label: String,
    app: String,
    created: String,
    /// Time and masked address of the last use, if any.
    last_used: Option<(String, String)>,
}

/// An application one may be made for.
struct Choice {
    id: String,
    name: String,
}

#[derive(Template)]
#[template(path = "account/app_passwords.html")]
struct AppPasswordsPage {
    c: Chrome,
    rows: Vec<Row>,
    choices: Vec<Choice>,
    /// The sign-in is recent enough to make one.
    fresh: bool,
    /// The account has a login phone (the SMS step-up is possible).
    has_phone: bool,
    /// Where "sign in again" leads (back here afterwards).
    relogin: String,
    max: usize,
    /// The secret just made (grouped) and its name, shown this once.
    created: Option<(String, String)>,
    notice: Option<&'static str>,
    error: Option<String>,
    label: String,
}

async fn page(
    state: &AppState,
    ctx: &PageCtx,
    current: &CurrentUser,
    chrome: Chrome,
    error: Option<String>,
    label: String,
) -> Result<AppPasswordsPage, PageError> {
    let t = ctx.t();
    let english = ctx.lang == Lang::En;
    let rows = app_passwords::list(state, &current.user)
        .await?
        .into_iter()
        .map(|r| Row {
            last_used: app_passwords::last_used(&r).map(|(at, ip)| (chrome.at(at), ip)),
            app: match (&r.client_name_en, english) {
                (Some(n), true) => n.clone(),
                _ => r.client_name.clone(),
            },
            created: chrome.at(r.created_at),
            id: r.id,
            label: r.label,
        })
        .collect();
    let choices = app_passwords::allowed_clients(state)
        .await?
        .iter()
        .map(|c| Choice {
            id: c.id.clone(),
            name: c.display_name(english).to_string(),
        })
        .collect();
    let session = &current.session;
    let notice = if session.take_flash(Flash::AppPasswordRevoked).await? {
        Some(t.app_passwords_revoked)
    } else if session.take_flash(Flash::AppPasswordsRevoked).await? {
        Some(t.app_passwords_all_revoked)
    } else {
        None
    };
    Ok(AppPasswordsPage {
        c: chrome,
        rows,
        choices,
        fresh: app_passwords::is_fresh(state, current.auth.auth_time),
        has_phone: current.user.login_phone.is_some(),
        relogin: local_url(
            routes::LOGIN,
            &[("force", "1"), ("return_to", routes::ACCOUNT_APP_PASSWORDS)],
        ),
        max: usize::try_from(MAX_ACTIVE).unwrap_or(25),
        created: session.take_app_password_shown(current.user.id).await?,
        notice,
        error,
        label,
    })
}

pub async fn show(
    State(state): State<AppState>,
    ctx: PageCtx,
    current: CurrentUser,
) -> Result<Response, PageError> {
    let chrome = ctx.chrome().await?;
    let p = page(&state, &ctx, &current, chrome, None, String::new()).await?;
    render_status(StatusCode::OK, &p)
}

#[derive(Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    label: String,
    #[serde(default)]
    client_id: String,
}

pub async fn create(
    State(state): State<AppState>,
    ctx: PageCtx,
    current: CurrentUser,
    ClientOrigin(origin): ClientOrigin,
    CsrfForm(form, session): CsrfForm<CreateForm>,
) -> Result<Response, PageError> {
    let t = ctx.t();
    let result = app_passwords::create(
        &state,
        &current.user,
        current.auth.auth_time,
        &form.client_id,
        &form.label,
        &origin,
        ctx.lang,
    )
    .await;
    let (status, message, wait) = match result {
        Ok(created) => {
            session
                .show_app_password_once(
                    current.user.id,
                    created.secret.grouped(),
                    form.label.trim().to_string(),
                )
                .await?;
            return Ok(Redirect::to(routes::ACCOUNT_APP_PASSWORDS).into_response());
        }
        Err(AppPasswordError::NotFresh) => (
            StatusCode::FORBIDDEN,
            t.app_passwords_not_fresh.into(),
            None,
        ),
        Err(AppPasswordError::BadLabel) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            t.app_passwords_bad_label.into(),
            None,
        ),
        Err(AppPasswordError::NotAllowed) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            t.app_passwords_bad_app.into(),
            None,
        ),
        Err(AppPasswordError::LimitReached) => (
            StatusCode::CONFLICT,
            (t.app_passwords_limit)(usize::try_from(MAX_ACTIVE).unwrap_or(25)),
            None,
        ),
        Err(AppPasswordError::TooMany(wait)) => (
            StatusCode::TOO_MANY_REQUESTS,
            (t.error_too_many)(wait),
            Some(wait),
        ),
        Err(AppPasswordError::Disabled) => (StatusCode::FORBIDDEN, t.login_disabled.into(), None),
        Err(AppPasswordError::Blocked(_)) => {
            (StatusCode::FORBIDDEN, t.app_passwords_blocked.into(), None)
        }
        Err(AppPasswordError::Store(e)) => return Err(e.into()),
        Err(AppPasswordError::Ephemeral(e)) => return Err(e.into()),
        Err(AppPasswordError::Random(e)) => return Err(e.into()),
    };
    let chrome = ctx.chrome_at(routes::ACCOUNT_APP_PASSWORDS).await?;
    let p = page(&state, &ctx, &current, chrome, Some(message), form.label).await?;
    let mut response = render_status(status, &p)?;
    if let Some(wait) = wait {
        set_retry_after(&mut response, wait);
    }
    Ok(response)
}

#[derive(Deserialize)]
pub struct RevokeForm {
    #[serde(default)]
    id: String,
}

pub async fn revoke(
    State(state): State<AppState>,
    current: CurrentUser,
    ClientOrigin(origin): ClientOrigin,
    CsrfForm(form, session): CsrfForm<RevokeForm>,
) -> Result<Response, PageError> {
    let id = Uuid::parse_str(form.id.trim()).map_err(|_| PageError::BadRequest)?;
    // Another's id, or one already revoked, changes nothing: the list
    // shows what is left.
    if app_passwords::revoke(&state, &current.user, id, &current.actor(), &origin).await? {
        session.flash(Flash::AppPasswordRevoked).await?;
    }
    Ok(Redirect::to(routes::ACCOUNT_APP_PASSWORDS).into_response())
}

#[derive(Deserialize)]
pub struct EmptyForm {}

pub async fn revoke_all(
    State(state): State<AppState>,
    current: CurrentUser,
    ClientOrigin(origin): ClientOrigin,
    CsrfForm(_, session): CsrfForm<EmptyForm>,
) -> Result<Response, PageError> {
    app_passwords::revoke_all(&state, &current.user, &current.actor(), &origin).await?;
    session.flash(Flash::AppPasswordsRevoked).await?;
    Ok(Redirect::to(routes::ACCOUNT_APP_PASSWORDS).into_response())
}

/// The sign-in is too old to make a password: prove the phone by SMS (a
/// new sign-in), coming back to the list; without a login phone, sign in
/// again.
pub async fn confirm(
    current: CurrentUser,
    CsrfForm(_, session): CsrfForm<EmptyForm>,
) -> Result<Response, PageError> {
    if current.user.login_phone.is_none() {
        let to = local_url(
            routes::LOGIN,
            &[("force", "1"), ("return_to", routes::ACCOUNT_APP_PASSWORDS)],
        );
        return Ok(Redirect::to(&to).into_response());
    }
    session
        .owe_step_up(&current.user, routes::ACCOUNT_APP_PASSWORDS)
        .await?;
    Ok(Redirect::to(routes::STEP_UP).into_response())
}
