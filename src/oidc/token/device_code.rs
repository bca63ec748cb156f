//! grant_type=urn:ietf:params:oauth:grant-type:device_code (RFC 8628
//! §3.4–3.5): the device polls; once the person approved, the code the
//! browser flow produced is redeemed as an authorization code is.

use super::authorization_code::{Presented, redeem};
use crate::oidc::errors::{ErrorCode, OAuthError};
use crate::oidc::params::Params;
use crate::service::clients::Client;
use crate::service::device::{self, DeviceError, Poll};
use crate::service::tokens::TokenResponse;
use crate::state::AppState;

pub async fn exchange(
    state: &AppState,
    client: &Client,
    params: &Params,
    jkt: Option<&str>,
) -> Result<TokenResponse, OAuthError> {
    if !device::allowed(state, client) {
        return Err(OAuthError::unauthorized_client(
            "this client may not use the device authorization grant",
        ));
    }
    let device_code = params
        .get("device_code")
        .ok_or_else(|| OAuthError::invalid_request("device_code is missing"))?;
    let poll = device::poll(state, client, device_code)
        .await
        .map_err(internal)?;
    match poll {
        Poll::Pending => Err(OAuthError::device(
            ErrorCode::AuthorizationPending,
            "the person has not answered yet",
        )),
        Poll::SlowDown => Err(OAuthError::device(
            ErrorCode::SlowDown,
            "polled sooner than the interval; wait 5 seconds longer between polls",
        )),
        Poll::Denied => Err(OAuthError::device(
            ErrorCode::AccessDenied,
            "the person denied the request",
        )),
        Poll::Expired => Err(OAuthError::device(
            ErrorCode::ExpiredToken,
            "the device code expired; start again",
        )),
        Poll::Invalid => Err(OAuthError::invalid_grant(
            "device_code is invalid, another client's, or already used",
        )),
        Poll::Approved { code, verifier } => {
            let callback = device::callback_uri(state);
            let presented = Presented {
                redirect_uri: Some(&callback),
                code_verifier: Some(&verifier),
                grant: device::GRANT_TYPE,
                jkt,
            };
            redeem(state, client, &code, &presented).await
        }
    }
}

fn internal(e: DeviceError) -> OAuthError {
    match e {
        DeviceError::Ephemeral(e) => e.into(),
        DeviceError::Store(e) => e.into(),
        other => OAuthError::server_error(other.to_string()),
    }
}
