//! grant_type=refresh_token (RFC 6749 §6) with rotation and reuse detection.

use serde_json::json;

use crate::domain::Scope;
use crate::oidc::errors::OAuthError;
use crate::oidc::params::Params;
use crate::service::audit::{Entry, Outcome};
use crate::service::clients::Client;
use crate::service::tokens::{self, Refreshed, TokenResponse};
use crate::state::AppState;

pub async fn exchange(
    state: &AppState,
    client: &Client,
    params: &Params,
    jkt: Option<&str>,
) -> Result<TokenResponse, OAuthError> {
    let presented = params
        .get("refresh_token")
        .ok_or_else(|| OAuthError::invalid_request("refresh_token is missing"))?;
    let scope = match params.get("scope") {
        Some(s) => Some(Scope::parse(s).map_err(|e| OAuthError::invalid_scope(e.to_string()))?),
        None => None,
    };
    match tokens::refresh(state, client, presented, scope.as_ref(), jkt).await? {
        Refreshed::Ok(response) => Ok(response),
        Refreshed::Invalid(why) => Err(OAuthError::invalid_grant(why)),
        // RFC 6749 §6: the scope "MUST NOT include any scope not originally
        // granted"; §5.2 names the error for it.
        Refreshed::ScopeExceeded => Err(OAuthError::invalid_scope(
            "scope exceeds what the grant holds",
        )),
        Refreshed::Replayed => {
            Entry::new("token.refresh_replayed", Outcome::Failure)
                .detail(json!({ "client_id": client.id }))
                .write(&state.store)
                .await?;
            Err(OAuthError::invalid_grant(
                "refresh token was already used; the grant has been revoked",
            ))
        }
    }
}
