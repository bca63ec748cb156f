//! `/revoke` (RFC 7009): 200 whether or not the token was known (§2.2);
//! see [`crate::service::introspection::revoke`].

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::client_auth;
use super::errors::{OAuthError, no_store};
use crate::service::introspection;
use crate::state::AppState;

pub async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthError> {
    let (client, token) = client_auth::token_request(&state, &headers, &body).await?;
    introspection::revoke(&state, &client, &token).await?;
    let mut r = StatusCode::OK.into_response();
    no_store(&mut r);
    Ok(r)
}
