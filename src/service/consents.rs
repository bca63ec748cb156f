//! Consents: which third-party applications a user allowed, for which
//! scopes. Remembered per user, client and scopes; withdrawable.

use serde_json::json;

use super::audit::{Entry, Outcome};
use super::clients::{self, Client};
use super::{Actor, Origin};
use crate::domain::Scope;
use crate::state::AppState;
use crate::store::StoreError;
use crate::store::users::User;

/// Whether the stored consent already covers `scope`.
pub async fn covers(
    state: &AppState,
    user: &User,
    client: &Client,
    scope: &Scope,
) -> Result<bool, StoreError> {
    Ok(match state.store.consent(user.id, &client.id).await? {
        Some(c) => {
            let granted: Vec<String> = c.scope.split(' ').map(str::to_string).collect();
            scope.is_subset_of(&granted)
        }
        None => false,
    })
}

pub async fn grant(
    state: &AppState,
    user: &User,
    client: &Client,
    scope: &Scope,
    origin: &Origin,
) -> Result<(), StoreError> {
    let audit = Entry::new("consent.granted", Outcome::Success)
        .actor(&Actor::user(user))
        .subject(user)
        .origin(origin)
        .detail(json!({ "client_id": client.id, "scope": scope.to_string() }))
        .finish();
    state
        .store
        .save_consent(user.id, &client.id, &scope.to_string(), &audit)
        .await
}

pub async fn deny(
    state: &AppState,
    user: &User,
    client: &Client,
    origin: &Origin,
) -> Result<(), StoreError> {
    Entry::new("consent.denied", Outcome::Failure)
        .actor(&Actor::user(user))
        .subject(user)
        .origin(origin)
        .detail(json!({ "client_id": client.id }))
        .write(&state.store)
        .await
}

/// Withdraws a consent; the grants made under it are revoked with it.
pub async fn withdraw(
    state: &AppState,
    user: &User,
    client_id: &str,
    origin: &Origin,
) -> Result<bool, StoreError> {
    let audit = Entry::new("consent.revoked", Outcome::Success)
        .actor(&Actor::user(user))
        .subject(user)
        .origin(origin)
        .detail(json!({ "client_id": client_id }))
        .finish();
    state.store.delete_consent(user.id, client_id, &audit).await
}

/// (application name, client id, "scopes · when") for the account page.
pub async fn list(
    state: &AppState,
    user: &User,
) -> Result<Vec<(String, String, String)>, StoreError> {
    use time::format_description::well_known::Rfc3339;
    let mut apps = Vec::new();
    for consent in state.store.consents(user.id).await? {
        let name = clients::find_cached(state, &consent.client_id)
            .await?
            .map(|c| c.name)
            .unwrap_or_else(|| consent.client_id.clone());
        let when = consent.granted_at.format(&Rfc3339).unwrap_or_default();
        apps.push((
            name,
            consent.client_id,
            format!("{} · {when}", consent.scope),
        ));
    }
    Ok(apps)
}
