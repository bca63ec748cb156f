//! Who may call the management API: a service account — a confidential
//! client registered with the `admin` scope — presenting an access token
//! it obtained by client_credentials with that scope ([`AdminAuth`]); and,
//! for the review operations only, a reviewer presenting their own access
//! token with the `review` scope ([`ReviewerAuth`]); for the account
//! operations organization administrators may do too, either a service
//! account or an organization administrator presenting their own access
//! token with the `org_admin` scope ([`ScopedAdmin`], which carries whose
//! accounts the caller looks after). Every call (allowed or refused) is
//! audited with the actor.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use serde_json::json;

use crate::domain::Scope;
use crate::error::ApiError;
use crate::extract::ClientOrigin;
use crate::service::admin::{self, AccountAction};
use crate::service::audit::{Entry, Outcome};
use crate::service::organizations::{self, AdminScope};
use crate::service::reviewing::{self, ReviewingError};
use crate::service::tokens::{self, TokenError, VerifiedAccess};
use crate::service::{Actor, Origin, clients};
use crate::state::AppState;
use crate::store::users::User;

/// An authorized API caller.
pub struct AdminAuth {
    pub actor: Actor,
    pub origin: Origin,
}

/// Refused calls audited per client address and minute; more are only
/// logged, so anonymous floods cannot fill the (append-only) audit log.
const AUDITED_REFUSALS_PER_MINUTE: i64 = 20;

async fn refuse(
    state: &AppState,
    parts: &Parts,
    origin: &Origin,
    why: &str,
    err: ApiError,
) -> ApiError {
    let key = format!("api-denied:{}", origin.ip.as_deref().unwrap_or("unknown"));
    match state
        .ephemeral
        .incr(&key, std::time::Duration::from_secs(60))
        .await
    {
        Ok(n) if n > AUDITED_REFUSALS_PER_MINUTE => {
            tracing::warn!(
                ip = origin.ip.as_deref().unwrap_or("-"),
                reason = why,
                "management API call refused (not audited: too many)"
            );
            return err;
        }
        Ok(_) => {}
        Err(e) => return ApiError::internal(e),
    }
    let entry = Entry::new("admin.api_denied", Outcome::Failure)
        .origin(origin)
        .detail(
            json!({ "method": parts.method.as_str(), "path": parts.uri.path(), "reason": why }),
        );
    if let Err(e) = entry.write(&state.store).await {
        return ApiError::internal(e);
    }
    err
}

/// The request's bearer token, verified (401 without a valid one).
async fn verified_token(
    parts: &Parts,
    state: &AppState,
    origin: &Origin,
) -> Result<VerifiedAccess, ApiError> {
    let token = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split_once(' ')
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                .map(|(_, t)| t)
        })
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let Some(token) = token else {
        return Err(refuse(
            state,
            parts,
            origin,
            "no token",
            ApiError::unauthorized("a Bearer access token is required"),
        )
        .await);
    };
    match tokens::verify_access_token(state, token).await {
        Ok(a) => Ok(a),
        Err(TokenError::Invalid(why)) => Err(refuse(
            state,
            parts,
            origin,
            why,
            ApiError::unauthorized("the access token is invalid, expired or revoked"),
        )
        .await),
        Err(e) => Err(ApiError::internal(e)),
    }
}

/// The token's scope, and whether its client is still registered with
/// `needed` (removing a client, or its scope, takes effect at once).
async fn scope_held(
    state: &AppState,
    access: &VerifiedAccess,
    needed: &str,
) -> Result<bool, ApiError> {
    let scope =
        Scope::parse(access.claims["scope"].as_str().unwrap_or_default()).unwrap_or_default();
    let client_id = access.claims["client_id"].as_str().unwrap_or_default();
    Ok(scope.contains(needed)
        && clients::find(state, client_id)
            .await
            .map_err(ApiError::from)?
            .is_some_and(|c| c.scopes.iter().any(|s| s == needed)))
}

async fn audit_call(
    state: &AppState,
    parts: &Parts,
    actor: &Actor,
    origin: &Origin,
) -> Result<(), ApiError> {
    Entry::new("admin.api_call", Outcome::Success)
        .actor(actor)
        .origin(origin)
        .detail(json!({ "method": parts.method.as_str(), "path": parts.uri.path() }))
        .write(&state.store)
        .await
        .map_err(ApiError::from)
}

impl FromRequestParts<AppState> for AdminAuth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Ok(ClientOrigin(origin)) = ClientOrigin::from_request_parts(parts, state).await;
        let access = verified_token(parts, state, &origin).await?;
        let actor = service_account(state, parts, &origin, &access).await?;
        Ok(AdminAuth { actor, origin })
    }
}

/// A service account's token: no user in it (a user token never carries
/// admin rights here) and a client still registered with the `admin`
/// scope. The call is audited with the client as actor; anything else is
/// refused (403, audited).
async fn service_account(
    state: &AppState,
    parts: &Parts,
    origin: &Origin,
    access: &VerifiedAccess,
) -> Result<Actor, ApiError> {
    let allowed = access.user.is_none() && scope_held(state, access, "admin").await?;
    if !allowed {
        return Err(refuse(
            state,
            parts,
            origin,
            "not an admin token",
            ApiError::forbidden("this token does not carry admin rights"),
        )
        .await);
    }
    let client_id = access.claims["client_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let actor = Actor::Service { client_id };
    audit_call(state, parts, &actor, origin).await?;
    Ok(actor)
}

/// A reviewer calling a review operation with their own access token: a
/// token issued to them (authorization code) with the `review` scope, by a
/// client still registered with it. The account's role is read with the
/// token's account at every call, so revoking the role takes effect at
/// once. A service account is no reviewer (403); an administrator without
/// the role gets 403, any other account 404 (`service::reviewing::admit`).
pub struct ReviewerAuth {
    pub user: User,
    pub origin: Origin,
}

impl FromRequestParts<AppState> for ReviewerAuth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Ok(ClientOrigin(origin)) = ClientOrigin::from_request_parts(parts, state).await;
        let access = verified_token(parts, state, &origin).await?;
        let review_scope = scope_held(state, &access, "review").await?;
        let Some((_, user)) = access.user else {
            return Err(refuse(
                state,
                parts,
                &origin,
                "not a reviewer's token",
                ApiError::forbidden(
                    "review operations take a reviewer's own access token (scope `review`), \
                     not a service account's",
                ),
            )
            .await);
        };
        if !review_scope {
            return Err(refuse(
                state,
                parts,
                &origin,
                "no review scope",
                ApiError::forbidden("this token does not carry the `review` scope"),
            )
            .await);
        }
        if let Err(e) = reviewing::admit(&user) {
            let (why, err) = match e {
                ReviewingError::NotReviewer => (
                    "not a reviewer",
                    ApiError::forbidden("the reviewer role is required"),
                ),
                _ => ("not a reviewer", ApiError::not_found("no such record")),
            };
            let err = refuse(state, parts, &origin, why, err).await;
            return Err(err);
        }
        audit_call(state, parts, &Actor::user(&user), &origin).await?;
        Ok(ReviewerAuth { user, origin })
    }
}

/// A caller of the account operations organization administrators may do
/// too, with whose accounts it looks after: a service account's token
/// with the `admin` scope (every account), or an organization
/// administrator's own token (authorization code) with the `org_admin`
/// scope, by a client still registered with it (the accounts of the
/// organizations it administers, read at every call, so a role taken away
/// takes effect at once). Handlers read accounts through
/// [`ScopedAdmin::account`], which answers an account outside the scope
/// exactly as one that does not exist (404).
pub struct ScopedAdmin {
    pub actor: Actor,
    pub origin: Origin,
    pub scope: AdminScope,
}

impl ScopedAdmin {
    /// The account at path id `raw` if the caller looks after it; 404 (the
    /// body of a nonexistent account) if not.
    pub async fn account(&self, state: &AppState, raw: &str) -> Result<User, ApiError> {
        let id = super::parse_id(raw)?;
        Ok(admin::account(state, &self.scope, id).await?)
    }

    /// 403 for what this caller may not do at all.
    pub fn may(&self, action: AccountAction) -> Result<(), ApiError> {
        if admin::permits(&self.scope, action) {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                "organization administrators may not do this; it takes a service account's token",
            ))
        }
    }
}

impl FromRequestParts<AppState> for ScopedAdmin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Ok(ClientOrigin(origin)) = ClientOrigin::from_request_parts(parts, state).await;
        let access = verified_token(parts, state, &origin).await?;
        let Some((_, user)) = &access.user else {
            let actor = service_account(state, parts, &origin, &access).await?;
            return Ok(ScopedAdmin {
                actor,
                origin,
                scope: AdminScope::All,
            });
        };
        if !scope_held(state, &access, "org_admin").await? {
            return Err(refuse(
                state,
                parts,
                &origin,
                "no org_admin scope",
                ApiError::forbidden(
                    "this token carries neither a service account's admin rights nor the `org_admin` scope",
                ),
            )
            .await);
        }
        let Some(scope) = organizations::delegated_scope(state, user)
            .await
            .map_err(ApiError::from)?
        else {
            return Err(refuse(
                state,
                parts,
                &origin,
                "not an organization administrator",
                ApiError::forbidden("the org_admin role is required"),
            )
            .await);
        };
        let actor = Actor::user(user);
        audit_call(state, parts, &actor, &origin).await?;
        Ok(ScopedAdmin {
            actor,
            origin,
            scope,
        })
    }
}
