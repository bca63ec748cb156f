//! `/account/password`: change the passport password (current password,
//! new password twice, the policy shown and enforced). Also where a user
//! lands when an administrator forced a password change.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::domain::SecretPassword;
use crate::error::PageError;
use crate::extract::{ClientOrigin, CsrfForm, CurrentUser};
use crate::pages::{Chrome, PageCtx, PasswordRuleLine, password_rules, render, render_status};
use crate::service::accounts::{self, AccountError, PasswordChangeError};
use crate::service::app_passwords;
use crate::state::AppState;
use crate::urls::{local_url, safe_return_to};

#[derive(Template)]
#[template(path = "account/password.html")]
struct PasswordPage {
    c: Chrome,
    forced: bool,
    /// The account is blocked for applications for a weak password.
    weak_blocked: bool,
    done: bool,
    errors: Vec<String>,
    return_to: String,
    min_length: usize,
    /// Active application passwords (the form asks whether to keep them).
    app_passwords: usize,
    rules: Vec<PasswordRuleLine>,
}

#[derive(Deserialize)]
pub struct PasswordQuery {
    return_to: Option<String>,
    done: Option<String>,
}

pub async fn show(
    State(state): State<AppState>,
    ctx: PageCtx,
    current: CurrentUser,
    Query(q): Query<PasswordQuery>,
) -> Result<Response, PageError> {
    render(&PasswordPage {
        c: ctx.chrome().await?,
        forced: current.user.must_change_password,
        weak_blocked: weak_blocked(&state, &current.user).await?,
        done: q.done.is_some(),
        errors: Vec::new(),
        return_to: safe_return_to(q.return_to.as_deref()),
        min_length: state.policy.min_length(),
        app_passwords: app_passwords::list(&state, &current.user).await?.len(),
        rules: password_rules(ctx.t(), &state.policy),
    })
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current: String,
    #[serde(default)]
    new: String,
    #[serde(default)]
    repeat: String,
    return_to: Option<String>,
    /// Present (checked): keep the application passwords. Absent, as by
    /// default: they are revoked with the change.
    keep_app_passwords: Option<String>,
}

pub async fn submit(
    State(state): State<AppState>,
    ctx: PageCtx,
    current: CurrentUser,
    ClientOrigin(origin): ClientOrigin,
    CsrfForm(form, session): CsrfForm<PasswordForm>,
) -> Result<Response, PageError> {
    let t = ctx.t();
    let return_to = safe_return_to(form.return_to.as_deref());
    let forced = current.user.must_change_password;
    let errors: Vec<String> = if form.new != form.repeat {
        vec![t.password_mismatch.into()]
    } else {
        let (old, new) = (
            SecretPassword::new(form.current),
            SecretPassword::new(form.new),
        );
        match accounts::change_own_password(
            &state,
            &current.user,
            &current.auth.sid,
            &old,
            &new,
            form.keep_app_passwords.is_some(),
            &origin,
        )
        .await
        {
            Ok(user) => {
                // The session goes on with the account's new epoch.
                session
                    .sign_in(&state, &user, current.auth.amr.clone(), &origin)
                    .await?;
                // The person sees that the change worked before going on
                // (after a forced change: to where they were going).
                let target = if forced {
                    local_url(
                        crate::routes::ACCOUNT_PASSWORD,
                        &[("done", "1"), ("return_to", &return_to)],
                    )
                } else {
                    format!("{}?done=1", crate::routes::ACCOUNT_PASSWORD)
                };
                return Ok(Redirect::to(&target).into_response());
            }
            Err(PasswordChangeError::WrongCurrent) => vec![t.password_wrong_current.into()],
            Err(PasswordChangeError::Locked(w)) => {
                vec![(t.login_locked)(w)]
            }
            Err(PasswordChangeError::Account(AccountError::WeakPassword(_, violations))) => {
                violations
                    .into_iter()
                    .map(|v| t.policy(v, state.policy.min_length()))
                    .collect()
            }
            Err(PasswordChangeError::Account(AccountError::Hash(e))) => return Err(e.into()),
            Err(PasswordChangeError::Account(e)) => return Err(PageError::Internal(e.to_string())),
        }
    };
    // The language switch leads to the page with its way back.
    let page_url = local_url(
        crate::routes::ACCOUNT_PASSWORD,
        &[("return_to", &return_to)],
    );
    render_status(
        StatusCode::UNPROCESSABLE_ENTITY,
        &PasswordPage {
            c: ctx.chrome_at(&page_url).await?,
            forced,
            weak_blocked: weak_blocked(&state, &current.user).await?,
            done: false,
            errors,
            return_to,
            min_length: state.policy.min_length(),
            app_passwords: app_passwords::list(&state, &current.user).await?.len(),
            rules: password_rules(t, &state.policy),
        },
    )
}

/// Whether the account has active weak-password blocks.
async fn weak_blocked(
    state: &AppState,
    user: &crate::store::users::User,
) -> Result<bool, PageError> {
    Ok(crate::service::blocks::of(state, user)
        .await?
        .iter()
        .any(|b| b.reason == crate::domain::BlockReason::WeakPassword))
}
