//! `/introspect` (RFC 7662): client-authenticated; see
//! [`crate::service::introspection::introspect`].

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::client_auth;
use super::errors::{OAuthError, no_store};
use crate::service::introspection;
use crate::state::AppState;

pub async fn introspect(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthError> {
    let (client, token) = client_auth::token_request(&state, &headers, &body).await?;
    let answer = introspection::introspect(&state, &client, &token).await?;
    let mut r = Json(answer.unwrap_or_else(|| json!({ "active": false }))).into_response();
    no_store(&mut r);
    Ok(r)
}
