//! `POST /password/check`: the strength meter's question, answered by the
//! server's own policy (see `service::password_check`). The form fields
//! are the password forms' own (`csrf`, `new`, and `token` on a recovery
//! link's form), so the CSRF check is the forms' one; the answer is JSON
//! for the page's script. Who the password is for comes from the session
//! (signed in, or a recovery whose code was proved) or the recovery link.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use crate::domain::SecretPassword;
use crate::error::{PageError, set_retry_after};
use crate::extract::{ClientOrigin, CsrfForm};
use crate::service::password_check::{self, CheckError};
use crate::service::recovery::{self, Proof, ResetError};
use crate::state::AppState;

#[derive(Deserialize)]
pub struct CheckForm {
    #[serde(default)]
    new: String,
    #[serde(default)]
    token: String,
}

fn refusal(status: StatusCode, error: &str) -> Response {
    (status, Json(json!({ "error": error }))).into_response()
}

pub async fn check(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    CsrfForm(form, session): CsrfForm<CheckForm>,
) -> Result<Response, PageError> {
    let user = if let Some((user, _)) = session.current_user(&state).await? {
        Some(user)
    } else {
        let recovering = session.recovery().await?;
        let proof = if !form.token.is_empty() {
            Some(Proof::Link(&form.token))
        } else {
            recovering.as_ref().map(Proof::Code)
        };
        match proof {
            Some(proof) => match recovery::account_of(&state, &proof).await {
                Ok(user) => Some(user),
                Err(ResetError::Invalid) => None,
                Err(e) => return Err(PageError::Internal(e.to_string())),
            },
            None => None,
        }
    };
    let Some(user) = user else {
        // Nobody whose password this could be: no verdict (and no hint of
        // any account).
        return Ok(refusal(StatusCode::FORBIDDEN, "no_account"));
    };
    match password_check::check(
        &state,
        &user,
        origin.ip.as_deref(),
        SecretPassword::new(form.new),
    )
    .await
    {
        Ok(verdict) => Ok(Json(verdict).into_response()),
        Err(CheckError::Limited(wait)) => {
            let mut response = refusal(StatusCode::TOO_MANY_REQUESTS, "too_many_checks");
            set_retry_after(&mut response, wait);
            Ok(response)
        }
        Err(e) => Err(PageError::Internal(e.to_string())),
    }
}
