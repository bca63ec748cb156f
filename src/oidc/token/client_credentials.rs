//! grant_type=client_credentials (RFC 6749 §4.4): confidential clients only.

use serde_json::json;

use crate::domain::Scope;
use crate::oidc::errors::OAuthError;
use crate::oidc::params::Params;
use crate::service::audit::{Entry, Outcome};
use crate::service::clients::Client;
use crate::service::tokens::{self, TokenResponse};
use crate::state::AppState;

pub async fn exchange(
    state: &AppState,
    client: &Client,
    params: &Params,
    jkt: Option<&str>,
) -> Result<TokenResponse, OAuthError> {
    if client.is_public() {
        return Err(OAuthError::unauthorized_client(
            "public clients cannot use client_credentials",
        ));
    }
    let scope = Scope::parse(params.get("scope").unwrap_or_default())
        .map_err(|e| OAuthError::invalid_scope(e.to_string()))?;
    // No user is involved, so user-related scopes make no sense here (a
    // review is a reviewer's own act: no service account reviews; nor is
    // a service account an organization's administrator).
    if let Some(s) = scope
        .iter()
        .find(|s| matches!(*s, "openid" | "offline_access" | "review" | "org_admin"))
    {
        return Err(OAuthError::invalid_scope(format!(
            "{s} is not available with client_credentials"
        )));
    }
    if !scope.is_subset_of(&client.scopes) {
        return Err(OAuthError::invalid_scope(
            "scope exceeds what the client is allowed",
        ));
    }
    let response = tokens::client_token(state, client, &scope, jkt).await?;
    Entry::new("token.issued", Outcome::Success)
        .detail(json!({ "client_id": client.id, "grant": "client_credentials", "scope": response.scope }))
        .queue(&state.audit)
        .await?;
    Ok(response)
}
