//! `/login`: the password form. GET renders, POST signs in.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use axum_extra::extract::CookieJar;

use crate::cookies;
use crate::domain::SecretPassword;
use crate::error::{PageError, set_retry_after};
use crate::extract::{ClientOrigin, CsrfForm};
use crate::pages::{Chrome, PageCtx, render, render_status};
use crate::routes;
use crate::service::login::{Block, LoginError, LoginOutcome, password_login};
use crate::state::AppState;
use crate::urls::{local_url, safe_return_to};

use super::cancellable;

#[derive(Template)]
#[template(path = "account/login.html")]
struct LoginPage {
    c: Chrome,
    identifier: String,
    return_to: String,
    error: Option<String>,
    /// When an application sent the user here: its authorization request,
    /// so the user can cancel and go back (the application then receives
    /// `access_denied`).
    cancel: Option<String>,
    /// The application that sent the user (named with its logo).
    app: Option<crate::service::consents::ListedApp>,
}

#[derive(Deserialize)]
pub struct LoginQuery {
    return_to: Option<String>,
    login_hint: Option<String>,
    /// Show the form even when signed in (prompt=login, max_age).
    force: Option<String>,
}

/// The application whose authorization request `return_to` is, if any.
async fn requesting_app(
    state: &AppState,
    ctx: &PageCtx,
    return_to: &str,
) -> Result<Option<crate::service::consents::ListedApp>, PageError> {
    let Some(request) = cancellable(return_to) else {
        return Ok(None);
    };
    Ok(
        crate::service::consents::requesting_app(
            state,
            &request,
            ctx.lang == crate::i18n::Lang::En,
        )
        .await?,
    )
}

pub async fn show(
    State(state): State<AppState>,
    ctx: PageCtx,
    Query(q): Query<LoginQuery>,
) -> Result<Response, PageError> {
    let return_to = safe_return_to(q.return_to.as_deref());
    if q.force.is_none() && ctx.session.signed_in_id().await?.is_some() {
        return Ok(Redirect::to(&return_to).into_response());
    }
    render(&LoginPage {
        c: ctx.chrome().await?,
        identifier: q.login_hint.unwrap_or_default().chars().take(128).collect(),
        cancel: cancellable(&return_to),
        app: requesting_app(&state, &ctx, &return_to).await?,
        return_to,
        error: None,
    })
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    identifier: String,
    #[serde(default)]
    password: String,
    return_to: Option<String>,
}

/// Checks the password and maps the service's [`LoginOutcome`] to a
/// response; a refused form is drawn again (its language switch leads to
/// the login page with the same `return_to`).
pub async fn submit(
    State(state): State<AppState>,
    ctx: PageCtx,
    ClientOrigin(origin): ClientOrigin,
    jar: CookieJar,
    CsrfForm(form, session): CsrfForm<LoginForm>,
) -> Result<Response, PageError> {
    let t = ctx.t();
    let return_to = safe_return_to(form.return_to.as_deref());
    let page_url = local_url(routes::LOGIN, &[("return_to", &return_to)]);
    let app = requesting_app(&state, &ctx, &return_to).await?;
    let again = |status: StatusCode, message: String, c: Chrome| {
        render_status(
            status,
            &LoginPage {
                c,
                identifier: form.identifier.chars().take(128).collect(),
                return_to: return_to.clone(),
                error: Some(message),
                cancel: cancellable(&return_to),
                app: app.clone(),
            },
        )
    };
    if form.identifier.trim().is_empty() || form.password.is_empty() {
        return again(
            StatusCode::UNPROCESSABLE_ENTITY,
            t.login_missing_fields.into(),
            ctx.chrome_at(&page_url).await?,
        );
    }
    let password = SecretPassword::new(form.password.clone());
    let device = state.cookies.value_or_plain(&jar, cookies::DEVICE);
    match password_login(
        &state,
        &form.identifier,
        &password,
        device.as_deref(),
        &origin,
        ctx.lang,
    )
    .await
    {
        Ok(outcome @ (LoginOutcome::SignedIn(_) | LoginOutcome::PasswordChangeOwed(_))) => {
            let amr = vec!["pwd".into()];
            super::sign_in(&state, &session, &outcome, amr, &return_to, &origin)
                .await?
                .ok_or_else(|| PageError::Internal("login: the outcome did not sign in".into()))
        }
        Ok(LoginOutcome::StepUpOwed { user, .. }) => {
            session.owe_step_up(&user, &return_to).await?;
            Ok(Redirect::to(routes::STEP_UP).into_response())
        }
        Ok(LoginOutcome::Blocked {
            reason: Block::Disabled,
            ..
        }) => again(
            StatusCode::FORBIDDEN,
            t.login_disabled.into(),
            ctx.chrome_at(&page_url).await?,
        ),
        Err(LoginError::InvalidCredentials) => again(
            StatusCode::UNAUTHORIZED,
            t.login_invalid.into(),
            ctx.chrome_at(&page_url).await?,
        ),
        Err(LoginError::Locked(wait)) => {
            let message = (t.login_locked)(wait);
            let mut response = again(
                StatusCode::TOO_MANY_REQUESTS,
                message,
                ctx.chrome_at(&page_url).await?,
            )?;
            set_retry_after(&mut response, wait);
            Ok(response)
        }
        Err(LoginError::Hash(e)) => Err(e.into()),
        Err(LoginError::Store(e)) => Err(e.into()),
        Err(LoginError::Ephemeral(e)) => Err(e.into()),
    }
}
