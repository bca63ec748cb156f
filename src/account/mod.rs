//! The user's own pages: login, logout, account overview, password,
//! security e-mail, and recovery of a forgotten password.

use axum::http::StatusCode;

use crate::error::PageError;
use crate::i18n::Text;
use crate::service::codes::{SendError, VerifyError};

pub mod apps;
pub mod email;
pub mod home;
pub mod login;
pub mod password;
pub mod recover;
pub mod step_up;

/// How a page answers a one-time code that was not sent (step-up and
/// recovery alike): the status, the message, and how many seconds the send
/// button stays disabled.
pub(crate) fn send_refusal(t: &Text, e: SendError) -> Result<(StatusCode, String, u64), PageError> {
    Ok(match e {
        SendError::TooSoon(w) => (
            StatusCode::TOO_MANY_REQUESTS,
            (t.step_up_wait)(w),
            w.as_secs(),
        ),
        SendError::DailyLimit | SendError::AddressLimit => (
            StatusCode::TOO_MANY_REQUESTS,
            t.step_up_limit.to_string(),
            0,
        ),
        SendError::NoPhone => (StatusCode::FORBIDDEN, t.step_up_no_phone.to_string(), 0),
        SendError::Sms(e) => {
            tracing::error!(error = %e, "sending a one-time code failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                t.step_up_send_failed.to_string(),
                0,
            )
        }
        e => return Err(PageError::Internal(e.to_string())),
    })
}

/// The message for a code that was not accepted.
pub(crate) fn verify_refusal(t: &Text, e: VerifyError) -> Result<String, PageError> {
    match e {
        VerifyError::Wrong(left) => Ok((t.step_up_wrong)(left)),
        VerifyError::NoCode => Ok(t.step_up_no_code.to_string()),
        VerifyError::Internal(e) => Err(PageError::Internal(e)),
    }
}
