//! What the resource-facing endpoints answer about tokens: userinfo
//! (OIDC Core §5.3), introspection (RFC 7662) and revocation (RFC 7009).
//! A client learns about, and may revoke, only tokens issued to itself.

use serde_json::{Map, Value, json};

use super::audit::{Entry, Outcome};
use super::clients::Client;
use super::tokens::{self, TokenError, user_claims};
use crate::domain::Scope;
use crate::state::AppState;

pub enum UserInfoError {
    /// Bad, expired or revoked token (RFC 6750 invalid_token).
    InvalidToken,
    /// A valid token without `openid`, or not for a user (insufficient_scope).
    InsufficientScope,
    /// A DPoP-bound token without a proof by its key, or a proof with a
    /// token not bound to its key (RFC 9449 §7.1, §7.2).
    Binding(&'static str),
    Internal(TokenError),
}

/// The claims `/userinfo` releases for this access token, presented with
/// a verified DPoP proof by the key `proof_key` or as a bearer token.
pub async fn userinfo(
    state: &AppState,
    token: &str,
    proof_key: Option<&str>,
) -> Result<Map<String, Value>, UserInfoError> {
    let access = match tokens::verify_access_token(state, token).await {
        Ok(a) => a,
        Err(TokenError::Invalid(_)) => return Err(UserInfoError::InvalidToken),
        Err(e) => return Err(UserInfoError::Internal(e)),
    };
    match (super::dpop::bound_key(&access.claims), proof_key) {
        (None, None) => {}
        (Some(bound), Some(key)) if bound == key => {}
        (Some(_), None) => {
            return Err(UserInfoError::Binding(
                "the access token is DPoP-bound: present it in the DPoP scheme with a proof",
            ));
        }
        (Some(_), Some(_)) => {
            return Err(UserInfoError::Binding(
                "the DPoP proof is not made by the key the access token is bound to",
            ));
        }
        (None, Some(_)) => {
            return Err(UserInfoError::Binding(
                "the access token is not DPoP-bound: present it in the Bearer scheme",
            ));
        }
    }
    let scope =
        Scope::parse(access.claims["scope"].as_str().unwrap_or_default()).unwrap_or_default();
    match access.user {
        Some((grant, user)) if scope.contains("openid") => {
            let named = tokens::claims_of(&grant).userinfo_names();
            Ok(user_claims(&user, &scope, &named, grant.locale.as_deref()))
        }
        _ => Err(UserInfoError::InsufficientScope),
    }
}

/// RFC 7662 answer for `token` as seen by `client`; `None` = inactive.
pub async fn introspect(
    state: &AppState,
    client: &Client,
    token: &str,
) -> Result<Option<Value>, TokenError> {
    if token.contains('.') {
        let access = match tokens::verify_access_token(state, token).await {
            Ok(a) => a,
            Err(TokenError::Invalid(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        if access.claims["client_id"] != client.id.as_str() {
            return Ok(None);
        }
        // RFC 9449 §6.2: a bound token's key, and its type.
        let token_type = match super::dpop::bound_key(&access.claims) {
            Some(_) => "DPoP",
            None => "Bearer",
        };
        let mut out = json!({ "active": true, "token_type": token_type });
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
            "cnf",
        ] {
            if let Some(v) = access.claims.get(k) {
                out[k] = v.clone();
            }
        }
        // Only user tokens name a user (a client id never maps to one).
        if let Some((_, user)) = &access.user {
            out["username"] = json!(user.username);
        }
        return Ok(Some(out));
    }
    let Some(row) = state
        .store
        .refresh_token(&crate::crypto::sha256_hex(token))
        .await?
    else {
        return Ok(None);
    };
    let Some(grant) = state.store.grant(row.grant_id).await? else {
        return Ok(None);
    };
    if grant.client_id != client.id
        || grant.revoked_at.is_some()
        || row.used_at.is_some()
        || row.expires_at <= state.clock.now()
    {
        return Ok(None);
    }
    match super::access::may_use(state, grant.user_id, &client.id).await {
        Ok(()) => {}
        Err(super::access::UseError::Blocked(_)) => return Ok(None),
        Err(super::access::UseError::Store(e)) => return Err(e.into()),
    }
    let username = state
        .store
        .user_by_id(grant.user_id)
        .await?
        .map(|u| u.username);
    let mut out = json!({
        "active": true,
        "token_type": "refresh_token",
        "scope": grant.scope,
        "client_id": grant.client_id,
        "sub": grant.user_id.to_string(),
        "username": username,
        "iss": state.config.issuer(),
        "exp": row.expires_at.unix_timestamp(),
        "iat": grant.created_at.unix_timestamp(),
    });
    if let Some(jkt) = &grant.dpop_jkt {
        out["cnf"] = json!({ "jkt": jkt });
    }
    Ok(Some(out))
}

/// Revokes `token` if it belongs to `client`: a refresh token takes its
/// whole grant (family) with it; an access token stops working at once.
/// Unknown tokens are ignored (RFC 7009 §2.2).
pub async fn revoke(state: &AppState, client: &Client, token: &str) -> Result<(), TokenError> {
    let mut revoked = None;
    if token.contains('.') {
        match tokens::verify_access_token(state, token).await {
            Ok(access) if access.claims["client_id"] == client.id.as_str() => {
                tokens::revoke_access_token(state, &access.claims).await?;
                revoked = Some("access_token");
            }
            Ok(_) | Err(TokenError::Invalid(_)) => {}
            Err(e) => return Err(e),
        }
    } else if let Some(row) = state
        .store
        .refresh_token(&crate::crypto::sha256_hex(token))
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
    Ok(())
}
