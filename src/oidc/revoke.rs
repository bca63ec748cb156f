//! `/revoke` (RFC 7009). Revoking a refresh token revokes its whole grant
//! (family); revoking an access token makes it inactive until it expires.
//! The answer is 200 whether or not the token was known (§2.2).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::client_auth;
use super::errors::{OAuthError, no_store};
use crate::service::audit::{Entry, Outcome};
use crate::service::tokens::{self, TokenError};
use crate::state::AppState;

pub async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthError> {
    let (client, token) = client_auth::token_request(&state, &headers, &body).await?;
    let token = token.as_str();
    let mut revoked = None;
    if token.contains('.') {
        match tokens::verify_access_token(&state, token).await {
            Ok(claims) if claims["client_id"] == client.id.as_str() => {
                tokens::revoke_access_token(&state, &claims).await?;
                revoked = Some("access_token");
            }
            Ok(_) | Err(TokenError::Invalid(_)) => {}
            Err(e) => return Err(e.into()),
        }
    } else if let Some(row) = state
        .store
        .refresh_token(&tokens::sha256_hex(token))
        .await?
        && let Some(grant) = state.store.grant(row.grant_id).await?
        && grant.client_id == client.id
    {
        state
            .store
            .revoke_grant(grant.id, "revoked by the client")
            .await?;
        revoked = Some("refresh_token");
    }
    if let Some(kind) = revoked {
        Entry::new("token.revoked", Outcome::Success)
            .detail(json!({ "client_id": client.id, "token_type": kind }))
            .write(&state.store)
            .await?;
    }
    let mut r = StatusCode::OK.into_response();
    no_store(&mut r);
    Ok(r)
}
