//! `POST /token` (RFC 6749 §3.2): authenticate the client, then one file
//! per grant type.

mod authorization_code;
mod client_credentials;
mod refresh_token;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use super::client_auth;
use super::errors::{OAuthError, no_store};
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
    let (grant, response) = match grant_type.as_str() {
        "authorization_code" => (
            "authorization_code",
            authorization_code::exchange(&state, &client, &params).await?,
        ),
        "refresh_token" => (
            "refresh_token",
            refresh_token::exchange(&state, &client, &params).await?,
        ),
        "client_credentials" => (
            "client_credentials",
            client_credentials::exchange(&state, &client, &params).await?,
        ),
        other => {
            return Err(OAuthError::unsupported_grant_type(format!(
                "grant_type {other} is not supported"
            )));
        }
    };
    crate::metrics::token_issued(grant);
    Ok(reply(response))
}

fn reply(tokens: TokenResponse) -> Response {
    let mut r = Json(tokens).into_response();
    no_store(&mut r);
    r
}
