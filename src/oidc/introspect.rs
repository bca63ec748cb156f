//! `/introspect` (RFC 7662): client-authenticated. A client learns only
//! about tokens issued to itself; anything else is simply inactive.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::client_auth;
use super::errors::{OAuthError, no_store};
use crate::service::tokens::{self, TokenError};
use crate::state::AppState;

pub async fn introspect(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthError> {
    let (client, token) = client_auth::token_request(&state, &headers, &body).await?;
    let token = token.as_str();
    let answer = if token.contains('.') {
        access(&state, &client.id, token).await?
    } else {
        refresh(&state, &client.id, token).await?
    };
    let mut r = Json(answer.unwrap_or_else(|| json!({ "active": false }))).into_response();
    no_store(&mut r);
    Ok(r)
}

async fn access(
    state: &AppState,
    client_id: &str,
    token: &str,
) -> Result<Option<Value>, OAuthError> {
    let claims = match tokens::verify_access_token(state, token).await {
        Ok(c) => c,
        Err(TokenError::Invalid(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    if claims["client_id"] != client_id {
        return Ok(None);
    }
    let mut out = json!({ "active": true, "token_type": "Bearer" });
    for k in [
        "scope",
        "client_id",
        "sub",
        "aud",
        "iss",
        "exp",
        "iat",
        "jti",
        "auth_time",
        "acr",
        "sid",
    ] {
        if let Some(v) = claims.get(k) {
            out[k] = v.clone();
        }
    }
    if let Some(sub) = claims["sub"]
        .as_str()
        .and_then(|s| uuid::Uuid::parse_str(s).ok())
        && let Some(user) = state.store.user_by_id(sub).await?
    {
        out["username"] = json!(user.username);
    }
    Ok(Some(out))
}

async fn refresh(
    state: &AppState,
    client_id: &str,
    token: &str,
) -> Result<Option<Value>, OAuthError> {
    let Some(row) = state
        .store
        .refresh_token(&tokens::sha256_hex(token))
        .await?
    else {
        return Ok(None);
    };
    let Some(grant) = state.store.grant(row.grant_id).await? else {
        return Ok(None);
    };
    if grant.client_id != client_id
        || grant.revoked_at.is_some()
        || row.used_at.is_some()
        || row.expires_at <= OffsetDateTime::now_utc()
    {
        return Ok(None);
    }
    let username = state
        .store
        .user_by_id(grant.user_id)
        .await?
        .map(|u| u.username);
    Ok(Some(json!({
        "active": true,
        "token_type": "refresh_token",
        "scope": grant.scope,
        "client_id": grant.client_id,
        "sub": grant.user_id.to_string(),
        "username": username,
        "iss": state.config.issuer(),
        "exp": row.expires_at.unix_timestamp(),
        "iat": grant.created_at.unix_timestamp(),
    })))
}
