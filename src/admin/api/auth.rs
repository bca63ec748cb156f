//! Who may call the management API: a service account — a confidential
//! client registered with the `admin` scope — presenting an access token
//! it obtained by client_credentials with that scope. Every call (allowed
//! or refused) is audited with the actor.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use serde_json::json;

use crate::domain::Scope;
use crate::error::ApiError;
use crate::extract::ClientOrigin;
use crate::service::audit::{Entry, Outcome};
use crate::service::tokens::{self, TokenError};
use crate::service::{Actor, Origin, clients};
use crate::state::AppState;

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

impl FromRequestParts<AppState> for AdminAuth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Ok(ClientOrigin(origin)) = ClientOrigin::from_request_parts(parts, state).await;
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
                &origin,
                "no token",
                ApiError::unauthorized("a Bearer access token is required"),
            )
            .await);
        };
        let access = match tokens::verify_access_token(state, token).await {
            Ok(a) => a,
            Err(TokenError::Invalid(why)) => {
                return Err(refuse(
                    state,
                    parts,
                    &origin,
                    why,
                    ApiError::unauthorized("the access token is invalid, expired or revoked"),
                )
                .await);
            }
            Err(e) => return Err(ApiError::internal(e)),
        };
        let scope =
            Scope::parse(access.claims["scope"].as_str().unwrap_or_default()).unwrap_or_default();
        let client_id = access.claims["client_id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        // A user token never carries admin rights here, and the client must
        // still be registered with the admin scope (removing a service
        // account, or its scope, takes effect at once).
        let allowed = access.user.is_none()
            && scope.contains("admin")
            && clients::find(state, &client_id)
                .await
                .map_err(ApiError::from)?
                .is_some_and(|c| c.scopes.iter().any(|s| s == "admin"));
        if !allowed {
            return Err(refuse(
                state,
                parts,
                &origin,
                "not an admin token",
                ApiError::forbidden("this token does not carry admin rights"),
            )
            .await);
        }
        let actor = Actor::Service { client_id };
        Entry::new("admin.api_call", Outcome::Success)
            .actor(&actor)
            .origin(&origin)
            .detail(json!({ "method": parts.method.as_str(), "path": parts.uri.path() }))
            .write(&state.store)
            .await
            .map_err(ApiError::from)?;
        Ok(AdminAuth { actor, origin })
    }
}
