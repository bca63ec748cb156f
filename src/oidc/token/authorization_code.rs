//! grant_type=authorization_code (RFC 6749 §4.1.3, PKCE RFC 7636 §4.6).

use serde_json::json;

use crate::oidc::errors::OAuthError;
use crate::oidc::params::Params;
use crate::service::access::{self, UseError};
use crate::service::audit::{Entry, Outcome};
use crate::service::clients::Client;
use crate::service::tokens::{self, Redeemed, TokenResponse};
use crate::state::AppState;
use crate::store::users::AccountStatus;

/// What the token request presents beside the code.
pub(super) struct Presented<'a> {
    pub redirect_uri: Option<&'a str>,
    pub code_verifier: Option<&'a str>,
    /// The grant, as audited: `authorization_code`, or the device grant
    /// whose browser flow produced the code.
    pub grant: &'static str,
    /// The DPoP key of the request's proof (RFC 9449 §5).
    pub jkt: Option<&'a str>,
}

pub async fn exchange(
    state: &AppState,
    client: &Client,
    params: &Params,
    jkt: Option<&str>,
) -> Result<TokenResponse, OAuthError> {
    let code = params
        .get("code")
        .ok_or_else(|| OAuthError::invalid_request("code is missing"))?;
    let presented = Presented {
        redirect_uri: params.get("redirect_uri"),
        code_verifier: params.get("code_verifier"),
        grant: "authorization_code",
        jkt,
    };
    redeem(state, client, code, &presented).await
}

/// Redeems an authorization code: once, for the client it was issued to,
/// with the redirect URI and PKCE verifier of its request.
pub(super) async fn redeem(
    state: &AppState,
    client: &Client,
    code: &str,
    presented: &Presented<'_>,
) -> Result<TokenResponse, OAuthError> {
    let (record, grant_id) = match tokens::take_code(state, code).await? {
        Redeemed::Fresh(record, grant_id) => (record, grant_id),
        Redeemed::Replayed(grant) => {
            // RFC 6749 §4.1.2: a reused code revokes what it produced.
            state
                .store
                .revoke_grant(grant, "authorization code reused")
                .await?;
            Entry::new("token.code_replayed", Outcome::Failure)
                .detail(json!({ "client_id": client.id, "grant_id": grant }))
                .write(&state.store)
                .await?;
            return Err(OAuthError::invalid_grant(
                "authorization code was already used",
            ));
        }
        Redeemed::Unknown => {
            return Err(OAuthError::invalid_grant(
                "authorization code is invalid or expired",
            ));
        }
    };
    // From here on the code is spent, whatever happens; its marker already
    // names `grant_id`, so a replay revokes the grant even if we fail below.
    check_and_issue(state, client, presented, code, &record, grant_id).await
}

async fn check_and_issue(
    state: &AppState,
    client: &Client,
    presented: &Presented<'_>,
    code: &str,
    record: &tokens::CodeRecord,
    grant_id: uuid::Uuid,
) -> Result<TokenResponse, OAuthError> {
    if record.client_id != client.id {
        return Err(OAuthError::invalid_grant(
            "authorization code was issued to another client",
        ));
    }
    // RFC 6749 §4.1.3: required when the authorization request carried
    // it (ours always do), and then identical. Missing is a malformed
    // request (§5.2 invalid_request); different, a grant that does not fit.
    match presented.redirect_uri {
        None => {
            return Err(OAuthError::invalid_request(
                "redirect_uri is missing; the authorization request carried one",
            ));
        }
        Some(uri) if uri != record.redirect_uri => {
            return Err(OAuthError::invalid_grant(
                "redirect_uri does not match the authorization request",
            ));
        }
        Some(_) => {}
    }
    match (&record.code_challenge, presented.code_verifier) {
        (Some(challenge), Some(verifier)) => {
            if !tokens::pkce_matches(verifier, challenge) {
                return Err(OAuthError::invalid_grant(
                    "code_verifier does not match the code_challenge",
                ));
            }
        }
        (Some(_), None) => return Err(OAuthError::invalid_grant("code_verifier is missing")),
        (None, Some(_)) => {
            return Err(OAuthError::invalid_grant(
                "no code_challenge was sent for this code",
            ));
        }
        (None, None) => {}
    }
    // RFC 9449 §10: a code requested with `dpop_jkt` goes only with a
    // proof by that key.
    if let Some(bound) = record.dpop_jkt.as_deref()
        && presented.jkt != Some(bound)
    {
        return Err(OAuthError::invalid_grant(
            "the authorization code is bound to a DPoP key (dpop_jkt): send a proof made with that key",
        ));
    }
    let user = state
        .store
        .user_by_id(record.user_id)
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("account no longer exists"))?;
    if user.status != AccountStatus::Active {
        return Err(OAuthError::invalid_grant("account is disabled"));
    }
    // A block that appeared since the code was issued.
    match access::may_use(state, user.id, &client.id).await {
        Ok(()) => {}
        Err(UseError::Blocked(_)) => {
            return Err(OAuthError::invalid_grant(
                "the account is blocked for this application",
            ));
        }
        Err(UseError::Store(e)) => return Err(e.into()),
    }
    let (grant, response) =
        tokens::grant_from_code(state, client, &user, record, grant_id, presented.jkt).await?;
    if tokens::code_was_replayed(state, code).await? {
        // Replayed while we were issuing: what we just made dies with it.
        state
            .store
            .revoke_grant(grant.id, "authorization code reused")
            .await?;
        return Err(OAuthError::invalid_grant(
            "authorization code was already used",
        ));
    }
    Entry::new("token.issued", Outcome::Success)
        .subject(&user)
        .detail(json!({ "client_id": client.id, "grant": presented.grant, "grant_id": grant.id, "scope": grant.scope }))
        .queue(&state.audit)
        .await?;
    Ok(response)
}
