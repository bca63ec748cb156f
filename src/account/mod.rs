//! The user's own pages: login, logout, account overview, password,
//! security e-mail, and recovery of a forgotten password.

use std::time::Duration;

use axum::http::StatusCode;
use axum::response::Response;

use axum::response::{IntoResponse, Redirect};

use crate::error::{PageError, set_retry_after};
use crate::extract::to_password_change;
use crate::i18n::Text;
use crate::pages::render_status;
use crate::service::Origin;
use crate::service::codes::{SendError, VerifyError};
use crate::service::login::LoginOutcome;
use crate::session::WebSession;
use crate::state::AppState;

pub mod app_passwords;
pub mod apps;
pub mod device;
pub mod email;
pub mod home;
pub mod login;
pub mod password;
pub mod password_check;
pub mod phone;
pub mod recover;
pub mod retrieve;
pub mod sessions;
pub mod step_up;
pub mod unbind;

/// How a page answers a one-time code that was not sent (step-up and
/// recovery alike): the status, the message, and the wait to state in
/// `Retry-After` when there is one.
pub(crate) fn send_refusal(
    t: &Text,
    e: SendError,
) -> Result<(StatusCode, String, Option<Duration>), PageError> {
    Ok(match e {
        SendError::TooSoon(w) => (StatusCode::TOO_MANY_REQUESTS, (t.step_up_wait)(w), Some(w)),
        SendError::DailyLimit | SendError::AddressLimit => (
            StatusCode::TOO_MANY_REQUESTS,
            t.step_up_limit.to_string(),
            None,
        ),
        SendError::NoPhone => (StatusCode::FORBIDDEN, t.step_up_no_phone.to_string(), None),
        SendError::Sms(e) => {
            tracing::error!(error = %e, "sending a one-time code failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                t.step_up_send_failed.to_string(),
                None,
            )
        }
        e => return Err(PageError::Internal(e.to_string())),
    })
}

/// A refused form drawn again with its status (and `Retry-After` when the
/// wait is known).
pub(crate) fn refused<T: askama::Template>(
    status: StatusCode,
    page: &T,
    retry_after: Option<Duration>,
) -> Result<Response, PageError> {
    let mut response = render_status(status, page)?;
    if let Some(wait) = retry_after {
        set_retry_after(&mut response, wait);
    }
    Ok(response)
}

/// Seconds for a send button's countdown, rounded up (0.4 s is a wait too).
pub(crate) fn countdown_secs(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

/// Signs the session in for a completed sign-in ([`LoginOutcome::SignedIn`]
/// or [`LoginOutcome::PasswordChangeOwed`]) and sends the browser on: to
/// the page it was for, or first to the password change an administrator
/// demanded. `None` for an outcome that does not sign in.
pub(crate) async fn sign_in(
    state: &AppState,
    session: &WebSession,
    outcome: &LoginOutcome,
    amr: Vec<String>,
    return_to: &str,
    origin: &Origin,
) -> Result<Option<Response>, PageError> {
    let (user, next) = match outcome {
        LoginOutcome::SignedIn(user) => (user, Redirect::to(return_to).into_response()),
        LoginOutcome::PasswordChangeOwed(user) => (user, to_password_change(return_to)),
        LoginOutcome::StepUpOwed { .. } | LoginOutcome::Blocked { .. } => return Ok(None),
    };
    session.sign_in(state, user, amr, origin).await?;
    Ok(Some(next))
}

/// The authorization request behind a `return_to`, if it is one: the page
/// then offers to cancel and go back to the application (which receives
/// `access_denied`).
pub(crate) fn cancellable(return_to: &str) -> Option<String> {
    return_to
        .strip_prefix(crate::routes::AUTHORIZE)
        .and_then(|rest| rest.strip_prefix('?'))
        .map(str::to_string)
}

/// The message for a code that was not accepted.
pub(crate) fn verify_refusal(t: &Text, e: VerifyError) -> Result<String, PageError> {
    match e {
        VerifyError::Wrong(left) => Ok((t.step_up_wrong)(left)),
        VerifyError::NoCode => Ok(t.step_up_no_code.to_string()),
        VerifyError::Internal(e) => Err(PageError::Internal(e)),
    }
}
