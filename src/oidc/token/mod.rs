//! `POST /token` (RFC 6749 §3.2): authenticate the client, then one file
//! per grant type.

mod authorization_code;
mod client_credentials;
mod device_code;
mod refresh_token;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use super::errors::{ErrorCode, OAuthError, no_store};
use super::{client_auth, dpop};
use crate::service::tokens::TokenResponse;
use crate::state::AppState;

pub async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthError> {
    let params = client_auth::form_params(&headers, &body)?;
    let grant_type = params
        .get("grant_type")
        .ok_or_else(|| OAuthError::invalid_request("grant_type is missing"))?
        .to_string();
    let client = client_auth::authenticate(&state, &headers, &params).await?;
    // A dynamically registered client uses only the grant types it
    // registered (RFC 7591 §2); others are not limited this way.
    if !client.allows_grant(&grant_type) {
        return Err(OAuthError::unauthorized_client(format!(
            "this client did not register the grant type {grant_type}"
        )));
    }
    // RFC 9449 §5: a proof binds the tokens to its key.
    let proof = dpop::at_endpoint(&state, &headers, crate::routes::TOKEN).await?;
    if client.dpop_bound_access_tokens && proof.is_none() {
        return Err(OAuthError::bad_request(
            ErrorCode::InvalidDpopProof,
            "this client's tokens are bound to a DPoP key: send a DPoP proof",
        ));
    }
    let jkt = proof.as_ref().map(|p| p.jkt.as_str());
    let (grant, response) = match grant_type.as_str() {
        "authorization_code" => (
            "authorization_code",
            authorization_code::exchange(&state, &client, &params, jkt).await?,
        ),
        "refresh_token" => (
            "refresh_token",
            refresh_token::exchange(&state, &client, &params, jkt).await?,
        ),
        "client_credentials" => (
            "client_credentials",
            client_credentials::exchange(&state, &client, &params, jkt).await?,
        ),
        crate::service::device::GRANT_TYPE => (
            "device_code",
            device_code::exchange(&state, &client, &params, jkt).await?,
        ),
        other => {
            return Err(OAuthError::unsupported_grant_type(format!(
                "grant_type {other} is not supported"
            )));
        }
    };
    crate::metrics::token_issued(grant);
    let mut r = reply(response);
    if proof.is_some() {
        dpop::offer_nonce(&state, &mut r).await;
    }
    Ok(r)
}

/// `POST /device_authorization` (RFC 8628 §3.1–3.2): the client
/// authenticates as at the token endpoint; the answer is the device code,
/// the user code and where to type it.
pub async fn device_authorization(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthError> {
    use crate::service::device::{self, DeviceError};
    let params = client_auth::form_params(&headers, &body)?;
    let client = client_auth::authenticate(&state, &headers, &params).await?;
    let scope = crate::oidc::authorize::checks::requested_scope(
        &client,
        params.get("scope").unwrap_or("openid"),
    )
    .map_err(OAuthError::invalid_scope)?;
    let started = device::start(&state, &client, &scope)
        .await
        .map_err(|e| match e {
            DeviceError::NotAllowed => OAuthError::unauthorized_client(
                "this client may not use the device authorization grant",
            ),
            DeviceError::Ephemeral(e) => e.into(),
            DeviceError::Store(e) => e.into(),
            other => OAuthError::server_error(other),
        })?;
    let verification_uri = format!("{}{}", state.config.issuer(), crate::routes::DEVICE);
    let complete = format!("{verification_uri}?user_code={}", started.user_code);
    let mut r = Json(serde_json::json!({
        "device_code": started.device_code,
        "user_code": started.user_code,
        "verification_uri": verification_uri,
        "verification_uri_complete": complete,
        "expires_in": started.expires_in,
        "interval": started.interval,
    }))
    .into_response();
    no_store(&mut r);
    Ok(r)
}

fn reply(tokens: TokenResponse) -> Response {
    let mut r = Json(tokens).into_response();
    no_store(&mut r);
    r
}
