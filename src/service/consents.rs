//! Consents: which third-party applications a user allowed, for which
//! scopes. Remembered per user, client and scopes; withdrawable.

use serde_json::json;
use time::OffsetDateTime;

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

/// Withdraws a consent: the grants made under it are revoked, and the
/// application's sessions of this account end by back-channel logout
/// (after the commit, in the background). `false` when there was none.
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
    match state
        .store
        .delete_consent(user.id, client_id, &audit)
        .await?
    {
        Some(sids) => {
            super::logout::notify_clients(
                state,
                user.id,
                sids.into_iter()
                    .map(|sid| (sid, client_id.to_string()))
                    .collect(),
            );
            Ok(true)
        }
        None => Ok(false),
    }
}

/// An application as the application list shows it.
#[derive(Debug, Clone)]
pub struct ListedApp {
    pub client_id: String,
    pub name: String,
    pub description: Option<String>,
    pub logo_uri: Option<String>,
    pub home_uri: Option<String>,
}

impl ListedApp {
    fn of(client: &Client, english: bool) -> Self {
        Self {
            client_id: client.id.clone(),
            name: client.display_name(english).to_string(),
            description: client.display_description(english).map(str::to_string),
            logo_uri: client.logo_uri.as_ref().map(|u| u.to_string()),
            home_uri: client.home_uri.as_ref().map(|u| u.to_string()),
        }
    }
}

/// A third-party application the person consented to.
#[derive(Debug, Clone)]
pub struct ConsentedApp {
    pub app: ListedApp,
    /// The scopes granted, as the consent page names them.
    pub scopes: Vec<String>,
    pub granted_at: OffsetDateTime,
}

/// The application an authorization request (the query of `/authorize`)
/// comes from, as the login page names it; `None` when the request names
/// no registered client (the page then shows no application).
pub async fn requesting_app(
    state: &AppState,
    authorize_query: &str,
    english: bool,
) -> Result<Option<ListedApp>, StoreError> {
    let Some(client_id) = url::form_urlencoded::parse(authorize_query.as_bytes())
        .find(|(k, _)| k == "client_id")
        .map(|(_, v)| v.into_owned())
    else {
        return Ok(None);
    };
    Ok(clients::find_cached(state, &client_id)
        .await?
        .map(|c| ListedApp::of(&c, english)))
}

/// The application list (应用列表): the first-party applications marked
/// `show_in_app_list`, by name, and the third-party ones the person
/// consented to, with what they were granted; names and descriptions in
/// English when `english`.
pub async fn app_list(
    state: &AppState,
    user: &User,
    english: bool,
) -> Result<(Vec<ListedApp>, Vec<ConsentedApp>), StoreError> {
    let mut first: Vec<ListedApp> = clients::list(state)
        .await?
        .iter()
        .filter(|c| c.first_party && c.show_in_app_list)
        .map(|c| ListedApp::of(c, english))
        .collect();
    first.sort_by(|a, b| a.name.cmp(&b.name));
    let mut consented = Vec::new();
    for consent in state.store.consents(user.id).await? {
        let app = match clients::find_cached(state, &consent.client_id).await? {
            Some(c) => ListedApp::of(&c, english),
            None => continue,
        };
        consented.push(ConsentedApp {
            app,
            scopes: consent.scope.split(' ').map(str::to_string).collect(),
            granted_at: consent.granted_at,
        });
    }
    Ok((first, consented))
}
