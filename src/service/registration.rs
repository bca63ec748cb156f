//! Dynamic client registration (RFC 7591) and its management protocol
//! (RFC 7592), and the initial access tokens administrators issue for it.
//!
//! ```text
//!  admin ──(API / CLI)──> initial access token (uses, expiry; SHA-256 stored)
//!  client ──POST /register + Bearer initial token──> policy ──> clients::build
//!         <── 201 client_id, client_secret, registration_access_token
//!  client ──GET/PUT/DELETE /register/{id} + Bearer registration token──>
//! ```
//!
//! A registered client is built by the same [`clients::build`] an
//! administrator's registration uses, so it is exactly a client an
//! administrator could register; the policy (`[registration]`) only
//! narrows what it may ask for. It is never first-party: consent is
//! always asked.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::audit::{Entry, Outcome};
use super::clients::{self, Client, ClientError, NewClient};
use super::{Actor, Origin};
use crate::config::{REGISTRATION_GRANT_TYPES, RegistrationConfig, host_matches};
use crate::crypto::{random, sha256_hex};
use crate::domain::client::AuthMethod;
use crate::domain::{InvalidValue, Scope};
use crate::ephemeral::EphemeralError;
use crate::state::AppState;
use crate::store::StoreError;
use crate::store::clients::Registered;
use crate::store::registration::{NewRegistrationToken, RegistrationToken};

const HOUR: Duration = Duration::from_secs(3600);
/// Most registrations one initial access token may allow.
pub const MAX_USES: u32 = 1000;
/// Longest an initial access token may stay valid (a year).
pub const MAX_HOURS: u32 = 24 * 366;

/// Client metadata as a registration or an update sends it (RFC 7591 §2,
/// OIDC Dynamic Client Registration §2, Back-Channel Logout §2.2,
/// RP-Initiated Logout §3.1). Members Tongxing does not know are ignored
/// (RFC 7591 §2: "MUST ignore any client metadata … that it does not
/// understand").
#[derive(Debug, Default, Deserialize)]
pub struct Metadata {
    pub redirect_uris: Option<Vec<String>>,
    pub client_name: Option<String>,
    pub token_endpoint_auth_method: Option<String>,
    pub grant_types: Option<Vec<String>>,
    pub response_types: Option<Vec<String>>,
    pub scope: Option<String>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    pub backchannel_logout_uri: Option<String>,
    pub logo_uri: Option<String>,
    pub client_uri: Option<String>,
    pub jwks_uri: Option<String>,
    pub jwks: Option<Value>,
    pub id_token_signed_response_alg: Option<String>,
    pub software_statement: Option<String>,
    /// RFC 9449 §5.2: tokens only bound to a DPoP key.
    pub dpop_bound_access_tokens: Option<bool>,
    /// Where the client hosts signed request objects (RFC 9101 §5.2).
    pub request_uris: Option<Vec<String>>,
    /// In an update (RFC 7592 §2.2): must be the client's own.
    pub client_id: Option<String>,
    /// In an update: when sent, must be the client's current secret.
    pub client_secret: Option<String>,
}

/// Why a registration, or a read, update or deletion of one, was refused.
#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    /// `[registration] enabled = false`: there is no such endpoint.
    #[error("dynamic client registration is not enabled")]
    Disabled,
    /// A missing, unknown, expired, revoked or used-up initial access
    /// token, or a registration access token that is not this client's
    /// (RFC 6750 §3.1 `invalid_token`).
    #[error("the access token is missing, invalid, expired or used up")]
    TokenRefused,
    #[error("too many registrations from this address")]
    TooMany(Duration),
    /// RFC 7591 §3.2.2 `invalid_redirect_uri`.
    #[error("{0}")]
    InvalidRedirectUri(String),
    /// RFC 7591 §3.2.2 `invalid_client_metadata`.
    #[error("{0}")]
    InvalidMetadata(String),
    /// RFC 7591 §3.2.2 `invalid_software_statement`.
    #[error("software statements are not accepted")]
    SoftwareStatement,
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Ephemeral(#[from] EphemeralError),
    #[error("random generator: {0}")]
    Random(#[from] getrandom::Error),
}

impl From<ClientError> for RegistrationError {
    /// The shared validation's refusal, in RFC 7591's terms: a redirect
    /// URI is `invalid_redirect_uri`, everything else
    /// `invalid_client_metadata`, naming the member as RFC 7591 does.
    fn from(e: ClientError) -> Self {
        let (field, reason) = match e {
            ClientError::Invalid(InvalidValue { field, reason }) => (field, reason.to_string()),
            ClientError::InvalidText(field, reason) => (field, reason),
            ClientError::Store(e) => return Self::Store(e),
            ClientError::Random(e) => return Self::Random(e),
            ClientError::Conflict => return Self::Store(StoreError::Conflict("client_id")),
            ClientError::NotFound | ClientError::Stale => return Self::TokenRefused,
        };
        let member = match field {
            "name" => "client_name",
            "token_auth_method" => "token_endpoint_auth_method",
            "id_token_alg" => "id_token_signed_response_alg",
            "home_uri" => "client_uri",
            other => other,
        };
        let text = format!("{member}: {reason}");
        if matches!(member, "redirect_uris" | "post_logout_redirect_uris") {
            Self::InvalidRedirectUri(text)
        } else {
            Self::InvalidMetadata(text)
        }
    }
}

/// A registration as answered (RFC 7591 §3.2.1): the client as stored
/// and the values shown this once.
#[derive(Debug)]
pub struct Registration {
    pub client: Client,
    pub client_secret: Option<String>,
    pub registration_access_token: String,
    /// Unix seconds.
    pub issued_at: i64,
}

fn metadata_error(text: impl Into<String>) -> RegistrationError {
    RegistrationError::InvalidMetadata(text.into())
}

/// Whether a URI's host is allowed by `redirect_hosts` (empty: any).
fn host_allowed(policy: &RegistrationConfig, uri: &str) -> bool {
    if policy.redirect_hosts.is_empty() {
        return true;
    }
    let Some(host) = url::Url::parse(uri)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
    else {
        return false;
    };
    policy
        .redirect_hosts
        .iter()
        .any(|pattern| host_matches(pattern, &host))
}

/// A URI Tongxing itself calls (back-channel logout, `jwks_uri`,
/// `request_uris`): https
/// to a host name that is not this machine, whatever the environment, so a
/// registration cannot point the server at its own loopback services.
fn server_called(member: &str, uri: &str) -> Result<(), RegistrationError> {
    let url = url::Url::parse(uri)
        .map_err(|_| metadata_error(format!("{member}: is not an absolute URI")))?;
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback() || ip.is_unspecified(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback() || ip.is_unspecified(),
        None => true,
    };
    if url.scheme() != "https" || loopback {
        return Err(metadata_error(format!(
            "{member}: must be an https URI of another host"
        )));
    }
    Ok(())
}

/// The metadata, checked against the policy, as the registration the
/// shared validation takes, and the grant types it registers. Each rule
/// answers with the RFC 7591 §3.2.2 code for it.
fn apply_policy(
    policy: &RegistrationConfig,
    id: String,
    meta: Metadata,
) -> Result<(NewClient, Vec<String>), RegistrationError> {
    if meta.software_statement.is_some() {
        return Err(RegistrationError::SoftwareStatement);
    }
    // Grant types (RFC 7591 §2): authorization_code when none are named.
    let mut grants: Vec<String> = Vec::new();
    for g in meta
        .grant_types
        .unwrap_or_else(|| vec!["authorization_code".into()])
    {
        if !REGISTRATION_GRANT_TYPES.contains(&g.as_str()) {
            return Err(metadata_error(format!(
                "grant_types: {g:?} is not supported"
            )));
        }
        if !policy.grant_types.contains(&g) {
            return Err(metadata_error(format!(
                "grant_types: {g:?} is not allowed for registered clients"
            )));
        }
        if !grants.contains(&g) {
            grants.push(g);
        }
    }
    if grants.is_empty() {
        return Err(metadata_error("grant_types: name at least one"));
    }
    let code_flow = grants.iter().any(|g| g == "authorization_code");
    // Response types (RFC 7591 §2.1): `code` goes with authorization_code
    // and is the only one Tongxing has.
    let responses = meta.response_types.unwrap_or_else(|| {
        if code_flow {
            vec!["code".into()]
        } else {
            Vec::new()
        }
    });
    if let Some(r) = responses.iter().find(|r| *r != "code") {
        return Err(metadata_error(format!(
            "response_types: {r:?} is not supported (only code)"
        )));
    }
    if code_flow == responses.is_empty() {
        return Err(metadata_error(
            "response_types: code goes with the authorization_code grant type, and only with it",
        ));
    }
    // RFC 7591 §2: client_secret_basic when not named.
    let method = meta
        .token_endpoint_auth_method
        .as_deref()
        .unwrap_or("client_secret_basic");
    let method = AuthMethod::parse(method).map_err(|_| {
        metadata_error(format!(
            "token_endpoint_auth_method: {method:?} is not one of client_secret_basic, client_secret_post, private_key_jwt, none"
        ))
    })?;
    if method == AuthMethod::None && grants.iter().any(|g| g == "client_credentials") {
        return Err(metadata_error(
            "grant_types: a public client (none) cannot use client_credentials",
        ));
    }
    let refresh = grants.iter().any(|g| g == "refresh_token");
    let scopes: Vec<String> = match meta.scope.as_deref() {
        Some(text) => {
            let asked =
                Scope::parse(text).map_err(|e| metadata_error(format!("scope: {}", e.reason)))?;
            if let Some(s) = asked.iter().find(|s| !policy.scopes.iter().any(|p| p == s)) {
                return Err(metadata_error(format!(
                    "scope: {s:?} is not allowed for registered clients"
                )));
            }
            if asked.contains("offline_access") && !refresh {
                return Err(metadata_error(
                    "scope: offline_access needs the refresh_token grant type",
                ));
            }
            asked.iter().map(str::to_string).collect()
        }
        // Everything the policy allows that the grant types can use.
        None => policy
            .scopes
            .iter()
            .filter(|s| refresh || *s != "offline_access")
            .filter(|s| code_flow || !matches!(s.as_str(), "openid" | "offline_access"))
            .cloned()
            .collect(),
    };
    if scopes.is_empty() {
        return Err(metadata_error("scope: no scope is left to register"));
    }
    let redirect_uris = meta.redirect_uris.unwrap_or_default();
    if code_flow && redirect_uris.is_empty() {
        return Err(RegistrationError::InvalidRedirectUri(
            "redirect_uris: the authorization_code grant type needs at least one".into(),
        ));
    }
    let post_logout = meta.post_logout_redirect_uris.unwrap_or_default();
    for (member, uri) in redirect_uris
        .iter()
        .map(|u| ("redirect_uris", u))
        .chain(post_logout.iter().map(|u| ("post_logout_redirect_uris", u)))
    {
        if !host_allowed(policy, uri) {
            return Err(RegistrationError::InvalidRedirectUri(format!(
                "{member}: the host of {uri:?} is not allowed for registered clients"
            )));
        }
    }
    for (member, uri) in [
        ("backchannel_logout_uri", &meta.backchannel_logout_uri),
        ("jwks_uri", &meta.jwks_uri),
        ("logo_uri", &meta.logo_uri),
        ("client_uri", &meta.client_uri),
    ] {
        if let Some(uri) = uri {
            if !host_allowed(policy, uri) {
                return Err(metadata_error(format!(
                    "{member}: the host of {uri:?} is not allowed for registered clients"
                )));
            }
            if matches!(member, "backchannel_logout_uri" | "jwks_uri") {
                server_called(member, uri)?;
            }
        }
    }
    let request_uris = meta.request_uris.clone().unwrap_or_default();
    for uri in &request_uris {
        if !host_allowed(policy, uri) {
            return Err(metadata_error(format!(
                "request_uris: the host of {uri:?} is not allowed for registered clients"
            )));
        }
        server_called("request_uris", uri)?;
    }
    // RFC 7591 §2: "MUST NOT both be present in the same request".
    if meta.jwks.is_some() && meta.jwks_uri.is_some() {
        return Err(metadata_error("jwks and jwks_uri: send one of them"));
    }
    if method != AuthMethod::PrivateKeyJwt && (meta.jwks.is_some() || meta.jwks_uri.is_some()) {
        return Err(metadata_error(
            "jwks: keys are registered only with private_key_jwt",
        ));
    }
    let input = NewClient {
        name: meta.client_name.clone().unwrap_or_else(|| id.clone()),
        id,
        redirect_uris,
        post_logout_redirect_uris: post_logout,
        backchannel_logout_uri: meta.backchannel_logout_uri,
        first_party: false,
        scopes: Some(scopes.join(" ")),
        id_token_alg: meta.id_token_signed_response_alg,
        token_auth_method: Some(method.as_str().to_string()),
        public: method == AuthMethod::None,
        secret: None,
        jwks_uri: meta.jwks_uri,
        jwks: meta.jwks.map(|j| j.to_string()),
        logo_uri: meta.logo_uri,
        home_uri: meta.client_uri,
        dpop_bound_access_tokens: meta.dpop_bound_access_tokens.unwrap_or(false),
        request_uris,
        ..NewClient::default()
    };
    Ok((input, grants))
}

/// Counts a registration attempt of `origin`'s address in the hour.
async fn within_hourly_limit(state: &AppState, origin: &Origin) -> Result<(), RegistrationError> {
    let limit = state.config.registration.address_hourly_limit;
    if limit == 0 {
        return Ok(());
    }
    let key = format!("register-ip:{}", origin.ip.as_deref().unwrap_or("unknown"));
    if state.ephemeral.incr(&key, HOUR).await? > i64::from(limit) {
        let wait = state.ephemeral.ttl(&key).await?.unwrap_or(HOUR);
        return Err(RegistrationError::TooMany(wait));
    }
    Ok(())
}

/// Whether the token could allow a registration now.
fn usable(token: &RegistrationToken, now: i64) -> bool {
    token.revoked_at.is_none() && token.uses_left > 0 && token.expires_at > now
}

/// A registration let in: the endpoint is on, the address within its
/// hourly allowance, and the initial access token (if any) usable.
#[derive(Debug)]
pub struct Admission {
    /// The initial access token's hash and id (`None`: open registration).
    initial: Option<(String, Uuid)>,
    now: i64,
}

/// The checks before the metadata is read (RFC 7591 §3): a caller
/// without a usable initial access token learns nothing about the policy.
pub async fn admit(
    state: &AppState,
    initial_token: Option<&str>,
    origin: &Origin,
) -> Result<Admission, RegistrationError> {
    let policy = &state.config.registration;
    if !policy.enabled {
        return Err(RegistrationError::Disabled);
    }
    within_hourly_limit(state, origin).await?;
    let now = state.clock.now().unix_timestamp();
    let initial = match (initial_token, policy.open) {
        (Some(token), _) => {
            let hash = sha256_hex(token);
            match state.store.registration_token_by_hash(&hash).await? {
                Some(t) if usable(&t, now) => Some((hash, t.id)),
                _ => return Err(RegistrationError::TokenRefused),
            }
        }
        (None, true) => None,
        (None, false) => return Err(RegistrationError::TokenRefused),
    };
    Ok(Admission { initial, now })
}

/// `POST /register` (RFC 7591 §3): registers a client with the metadata,
/// spending one use of the admitted initial access token in the same
/// transaction (with `open` and no token, none).
pub async fn register(
    state: &AppState,
    admission: Admission,
    meta: Metadata,
    origin: &Origin,
) -> Result<Registration, RegistrationError> {
    let policy = &state.config.registration;
    let Admission { initial, now } = admission;
    // 128 random bits, URL-safe: a client id nobody can guess or choose.
    let id = random::token()?.chars().take(22).collect::<String>();
    let (input, grants) = apply_policy(policy, id, meta)?;
    let (mut client, client_secret) = clients::build(input, true)?;
    let registration_access_token = random::token()?;
    client.registered_dynamically = true;
    client.registration_token_hash = Some(sha256_hex(&registration_access_token));
    client.grant_types = Some(grants);
    let audit = Entry::new("client.registered", Outcome::Success)
        .origin(origin)
        .detail(json!({
            "client_id": client.id,
            "token_auth_method": client.token_auth_method.as_str(),
            "grant_types": client.grant_types,
            "scope": client.scopes.join(" "),
            "redirect_uris": client.redirect_uris,
            "initial_access_token": initial.as_ref().map(|(_, id)| id.to_string()),
        }))
        .finish();
    match state
        .store
        .insert_registered_client(&client, initial.as_ref().map(|(h, _)| h.as_str()), &audit)
        .await?
    {
        Registered::Stored => Ok(Registration {
            client,
            client_secret,
            registration_access_token,
            issued_at: now,
        }),
        // Spent by another registration since it was read.
        Registered::TokenRefused => Err(RegistrationError::TokenRefused),
    }
}

/// The dynamically registered client `id` if `token` is its registration
/// access token; any other case (no such client, an administrator's
/// client, another client's token) is the same refusal, so the answer
/// never tells whether the client exists (RFC 7592 §3).
pub async fn authorized(
    state: &AppState,
    id: &str,
    token: Option<&str>,
) -> Result<Client, RegistrationError> {
    if !state.config.registration.enabled {
        return Err(RegistrationError::Disabled);
    }
    let token = token.ok_or(RegistrationError::TokenRefused)?;
    match clients::find(state, id).await? {
        Some(c) if c.registered_dynamically && c.registration_token_matches(token) => Ok(c),
        _ => Err(RegistrationError::TokenRefused),
    }
}

/// `PUT /register/{id}` (RFC 7592 §2.2): replaces the client's metadata
/// under the same policy. The client id, the secret and the registration
/// access token stay; a secret is made (and returned) only when the
/// client moves to a secret method from one without a secret.
pub async fn update(
    state: &AppState,
    id: &str,
    token: Option<&str>,
    meta: Metadata,
    origin: &Origin,
) -> Result<(Client, Option<String>), RegistrationError> {
    let current = authorized(state, id, token).await?;
    if meta.client_id.as_deref() != Some(id) {
        return Err(metadata_error(
            "client_id: must be sent, and be this client's",
        ));
    }
    if let Some(secret) = &meta.client_secret
        && !current.secret_matches(secret)
    {
        return Err(metadata_error(
            "client_secret: is not this client's secret (it is not changed by an update)",
        ));
    }
    let (input, grants) = apply_policy(&state.config.registration, id.to_string(), meta)?;
    let (mut client, generated) = clients::build(input, true)?;
    let kept = client.token_auth_method.uses_secret() && current.secret_hash.is_some();
    if kept {
        client.secret_hash.clone_from(&current.secret_hash);
    }
    client.registered_dynamically = true;
    client.registration_token_hash = current.registration_token_hash.clone();
    client.grant_types = Some(grants);
    let audit = Entry::new("client.registration_updated", Outcome::Success)
        .actor(&Actor::Service {
            client_id: id.to_string(),
        })
        .origin(origin)
        .detail(json!({
            "client_id": id,
            "token_auth_method": client.token_auth_method.as_str(),
            "grant_types": client.grant_types,
            "scope": client.scopes.join(" "),
            "redirect_uris": client.redirect_uris,
        }))
        .finish();
    state
        .store
        .replace_client(&client, current.version, &audit)
        .await?;
    state.clients.forget(id);
    let stored = clients::find(state, id)
        .await?
        .ok_or(RegistrationError::TokenRefused)?;
    Ok((stored, if kept { None } else { generated }))
}

/// `DELETE /register/{id}` (RFC 7592 §2.3): removes the client with its
/// grants, tokens and consents.
pub async fn delete(
    state: &AppState,
    id: &str,
    token: Option<&str>,
    origin: &Origin,
) -> Result<(), RegistrationError> {
    authorized(state, id, token).await?;
    let audit = Entry::new("client.registration_deleted", Outcome::Success)
        .actor(&Actor::Service {
            client_id: id.to_string(),
        })
        .origin(origin)
        .detail(json!({ "client_id": id }))
        .finish();
    state.store.delete_client(id, &audit).await?;
    state.clients.forget(id);
    Ok(())
}

// ── initial access tokens ─────────────────────────────────────────────

/// What an administrator asks for.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    /// Registrations it allows (1 to [`MAX_USES`]).
    pub uses: u32,
    /// Hours it stays valid (1 to [`MAX_HOURS`]).
    pub hours: u32,
    /// What it is for, for the list (one line, at most 200 characters).
    pub description: Option<String>,
}

/// A token just issued: the row, and the token itself, shown this once.
#[derive(Debug)]
pub struct IssuedToken {
    pub token: RegistrationToken,
    pub secret: String,
}

/// A token's state for the lists: `active`, `expired`, `used_up` or
/// `revoked`.
pub fn token_status(t: &RegistrationToken, now: i64) -> &'static str {
    if t.revoked_at.is_some() {
        "revoked"
    } else if t.uses_left <= 0 {
        "used_up"
    } else if t.expires_at <= now {
        "expired"
    } else {
        "active"
    }
}

/// A token as the API and the CLI show it (never the token or its hash).
pub fn token_json(t: &RegistrationToken, now: i64) -> Value {
    let at = |s: i64| {
        time::OffsetDateTime::from_unix_timestamp(s)
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
    };
    json!({
        "id": t.id,
        "description": t.description,
        "uses_allowed": t.uses_allowed,
        "uses_left": t.uses_left,
        "expires_at": at(t.expires_at),
        "created_at": t.created_at.format(&time::format_description::well_known::Rfc3339).ok(),
        "created_by": t.created_by,
        "revoked_at": t.revoked_at.and_then(|r| r.format(&time::format_description::well_known::Rfc3339).ok()),
        "status": token_status(t, now),
    })
}

/// Issues an initial access token.
pub async fn issue_token(
    state: &AppState,
    request: TokenRequest,
    actor: &Actor,
    origin: &Origin,
) -> Result<IssuedToken, ClientError> {
    if !(1..=MAX_USES).contains(&request.uses) {
        return Err(ClientError::InvalidText(
            "uses",
            format!("must be between 1 and {MAX_USES}"),
        ));
    }
    if !(1..=MAX_HOURS).contains(&request.hours) {
        return Err(ClientError::InvalidText(
            "hours",
            format!("must be between 1 and {MAX_HOURS}"),
        ));
    }
    let description = match request.description.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(d) if d.chars().count() > 200 || d.chars().any(char::is_control) => {
            return Err(ClientError::InvalidText(
                "description",
                "must have at most 200 characters on one line".into(),
            ));
        }
        Some(d) => Some(d.to_string()),
    };
    let secret = random::token()?;
    let now = state.clock.now().unix_timestamp();
    let new = NewRegistrationToken {
        id: Uuid::new_v4(),
        token_hash: sha256_hex(&secret),
        description,
        uses: i64::from(request.uses),
        expires_at: now + i64::from(request.hours) * 3600,
        created_by: actor.label(),
    };
    let audit = Entry::new("registration_token.issued", Outcome::Success)
        .actor(actor)
        .origin(origin)
        .detail(json!({ "token_id": new.id, "uses": new.uses, "expires_at": new.expires_at, "description": new.description }))
        .finish();
    state
        .store
        .insert_registration_token(&new, &audit)
        .await
        .map_err(ClientError::Store)?;
    let token = state
        .store
        .registration_tokens()
        .await
        .map_err(ClientError::Store)?
        .into_iter()
        .find(|t| t.id == new.id)
        .ok_or(ClientError::NotFound)?;
    Ok(IssuedToken { token, secret })
}

pub async fn tokens(state: &AppState) -> Result<Vec<RegistrationToken>, StoreError> {
    state.store.registration_tokens().await
}

/// Revokes an initial access token: it allows no further registration
/// (the clients it allowed stay).
pub async fn revoke_token(
    state: &AppState,
    id: Uuid,
    actor: &Actor,
    origin: &Origin,
) -> Result<(), ClientError> {
    let audit = Entry::new("registration_token.revoked", Outcome::Success)
        .actor(actor)
        .origin(origin)
        .detail(json!({ "token_id": id }))
        .finish();
    state
        .store
        .revoke_registration_token(id, &audit)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ClientError::NotFound,
            other => ClientError::Store(other),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RegistrationConfig {
        RegistrationConfig {
            enabled: true,
            redirect_hosts: vec!["app.example.org".into(), "*.lab.example.org".into()],
            ..RegistrationConfig::default()
        }
    }

    fn meta(redirect: &str) -> Metadata {
        Metadata {
            redirect_uris: Some(vec![redirect.into()]),
            ..Metadata::default()
        }
    }

    #[test]
    fn defaults_follow_the_grant_types() {
        let (input, grants) =
            apply_policy(&policy(), "x".into(), meta("https://app.example.org/cb")).unwrap();
        assert_eq!(grants, ["authorization_code"]);
        assert_eq!(
            input.scopes.as_deref(),
            Some("openid profile email phone"),
            "no offline_access without the refresh_token grant"
        );
        assert_eq!(
            input.token_auth_method.as_deref(),
            Some("client_secret_basic")
        );
        assert!(!input.first_party);
    }

    #[test]
    fn hosts_are_matched_exactly_or_under_a_domain() {
        let p = policy();
        for good in [
            "https://app.example.org/cb",
            "https://x.lab.example.org/cb",
            "https://a.b.lab.example.org/cb",
        ] {
            assert!(host_allowed(&p, good), "{good}");
        }
        for bad in [
            "https://evil.example.org/cb",
            "https://lab.example.org/cb",
            "https://xlab.example.org/cb",
            "https://app.example.org.evil.net/cb",
        ] {
            assert!(!host_allowed(&p, bad), "{bad}");
        }
        assert!(host_allowed(
            &RegistrationConfig::default(),
            "https://any.example/cb"
        ));
    }

    #[test]
    fn refusals_carry_their_codes() {
        let p = policy();
        let redirect = |r: Result<_, RegistrationError>| {
            matches!(r, Err(RegistrationError::InvalidRedirectUri(_)))
        };
        let metadata = |r: Result<_, RegistrationError>| {
            matches!(r, Err(RegistrationError::InvalidMetadata(_)))
        };
        assert!(redirect(apply_policy(
            &p,
            "x".into(),
            meta("https://evil.example/cb")
        )));
        assert!(redirect(apply_policy(&p, "x".into(), Metadata::default())));
        let mut m = meta("https://app.example.org/cb");
        m.scope = Some("openid admin".into());
        assert!(metadata(apply_policy(&p, "x".into(), m)));
        let mut m = meta("https://app.example.org/cb");
        m.grant_types = Some(vec!["client_credentials".into()]);
        assert!(metadata(apply_policy(&p, "x".into(), m)));
        let mut m = meta("https://app.example.org/cb");
        m.response_types = Some(vec!["token".into()]);
        assert!(metadata(apply_policy(&p, "x".into(), m)));
        let mut m = meta("https://app.example.org/cb");
        m.software_statement = Some("eyJ…".into());
        assert!(matches!(
            apply_policy(&p, "x".into(), m),
            Err(RegistrationError::SoftwareStatement)
        ));
        let mut m = meta("https://app.example.org/cb");
        m.token_endpoint_auth_method = Some("private_key_jwt".into());
        m.jwks_uri = Some("https://127.0.0.1/jwks".into());
        assert!(metadata(apply_policy(
            &RegistrationConfig::default(),
            "x".into(),
            m
        )));
    }
}
