//! The per-node caches of registered clients and of the key sets fetched
//! from their `jwks_uri`: bounded TTL caches (moka) held by `AppState`.
//! Nothing here imports the state, so the state can hold it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use moka::sync::Cache;

use crate::domain::client::Client;

/// How long the browser flows may use a client read earlier. A change
/// made on this node invalidates its entry at once; other nodes see it
/// within this time.
pub const CLIENT_TTL: Duration = Duration::from_secs(10);
/// How long a client's fetched `jwks_uri` key set is reused.
pub const JWKS_TTL: Duration = Duration::from_secs(300);
/// A key set younger than this is not fetched again for an unknown kid, so
/// assertions naming made-up kids cannot make us hammer the client's server.
pub const JWKS_REFETCH_AFTER: Duration = Duration::from_secs(10);

/// Bounds: far more clients than an institution registers, so a full cache
/// only ever evicts entries that would have expired anyway.
const MAX_CLIENTS: u64 = 10_000;
const MAX_KEY_SETS: u64 = 1_000;

/// Cheap to clone: both caches are shared handles.
#[derive(Clone)]
pub struct ClientCache {
    clients: Cache<String, Client>,
    /// The key set with the time it was fetched (for [`JWKS_REFETCH_AFTER`]).
    /// Real time, like moka's own TTLs, not the application's clock: how
    /// fresh this node's copy is decides no expiry anyone relies on.
    jwks: Cache<String, (Instant, Arc<JwkSet>)>,
}

impl Default for ClientCache {
    fn default() -> Self {
        Self {
            clients: Cache::builder()
                .max_capacity(MAX_CLIENTS)
                .time_to_live(CLIENT_TTL)
                .build(),
            jwks: Cache::builder()
                .max_capacity(MAX_KEY_SETS)
                .time_to_live(JWKS_TTL)
                .build(),
        }
    }
}

impl ClientCache {
    pub fn get(&self, id: &str) -> Option<Client> {
        self.clients.get(id)
    }

    pub fn put(&self, client: &Client) {
        self.clients.insert(client.id.clone(), client.clone());
    }

    pub fn forget(&self, id: &str) {
        self.clients.invalidate(id);
    }

    /// A cached key set of `uri`; with `fresh`, only one fetched less than
    /// [`JWKS_REFETCH_AFTER`] ago.
    pub fn cached_jwks(&self, uri: &str, fresh: bool) -> Option<JwkSet> {
        let (at, set) = self.jwks.get(uri)?;
        (!fresh || at.elapsed() < JWKS_REFETCH_AFTER).then(|| (*set).clone())
    }

    pub fn put_jwks(&self, uri: &str, set: &JwkSet) {
        self.jwks
            .insert(uri.to_string(), (Instant::now(), Arc::new(set.clone())));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::client::{AuthMethod, IdTokenAlg};

    fn client(id: &str, name: &str) -> Client {
        Client {
            id: id.into(),
            name: name.into(),
            secret_hash: None,
            token_auth_method: AuthMethod::None,
            redirect_uris: vec![],
            post_logout_redirect_uris: vec![],
            backchannel_logout_uri: None,
            first_party: false,
            scopes: vec![],
            id_token_alg: IdTokenAlg::DEFAULT,
            jwks_uri: None,
            jwks: None,
            version: 1,
            require_sms: false,
            require_strong_password: false,
            name_en: None,
            description: None,
            description_en: None,
            logo_uri: None,
            home_uri: None,
            show_in_app_list: false,
            app_passwords_allowed: false,
            ldap_bind: crate::domain::client::LdapBind::Off,
            ldap_search: false,
            require_pushed_authorization_requests: false,
            require_signed_request_object: false,
            dpop_bound_access_tokens: false,
            request_uris: vec![],
            registered_dynamically: false,
            registration_token_hash: None,
            grant_types: None,
        }
    }

    #[test]
    fn clients_are_kept_replaced_and_forgotten() {
        let cache = ClientCache::default();
        assert!(cache.get("a").is_none());
        cache.put(&client("a", "A"));
        assert_eq!(cache.get("a").unwrap().name, "A");
        cache.put(&client("a", "A2"));
        assert_eq!(cache.get("a").unwrap().name, "A2");
        let shared = cache.clone();
        shared.forget("a");
        assert!(cache.get("a").is_none(), "clones share one cache");
    }

    #[test]
    fn key_sets_fresh_and_cached() {
        let cache = ClientCache::default();
        let set: JwkSet = serde_json::from_str(r#"{"keys":[]}"#).unwrap();
        assert!(cache.cached_jwks("https://k.example/jwks", false).is_none());
        cache.put_jwks("https://k.example/jwks", &set);
        assert!(cache.cached_jwks("https://k.example/jwks", false).is_some());
        assert!(
            cache.cached_jwks("https://k.example/jwks", true).is_some(),
            "just fetched counts as fresh"
        );
        assert!(
            cache
                .cached_jwks("https://other.example/jwks", false)
                .is_none()
        );
    }
}
