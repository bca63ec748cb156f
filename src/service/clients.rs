//! The client registry: registering relying parties, their secrets, and
//! checking what a client may do.

use serde::Serialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use url::Url;

use super::audit::{Entry, Outcome};
use super::{Actor, Origin};
use crate::crypto::jws::Alg;
use crate::crypto::random;
use crate::domain::{InvalidValue, Scope};
use crate::state::AppState;
use crate::store::StoreError;
use crate::store::clients::ClientRow;

/// Scopes a client may ask for when registration does not say.
pub const DEFAULT_SCOPES: &str = "openid profile email phone offline_access";
/// Every scope Tongxing knows.
pub const KNOWN_SCOPES: &[&str] = &[
    "openid",
    "profile",
    "email",
    "phone",
    "offline_access",
    "admin",
];

/// How a client authenticates at the token endpoint (RFC 7591 §2 names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
    PrivateKeyJwt,
    None,
}

impl AuthMethod {
    pub const ALL: [AuthMethod; 4] = [
        Self::ClientSecretBasic,
        Self::ClientSecretPost,
        Self::PrivateKeyJwt,
        Self::None,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::PrivateKeyJwt => "private_key_jwt",
            Self::None => "none",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }

    pub fn uses_secret(self) -> bool {
        matches!(self, Self::ClientSecretBasic | Self::ClientSecretPost)
    }
}

/// A registered client, decoded.
#[derive(Debug, Clone, Serialize)]
pub struct Client {
    pub id: String,
    pub name: String,
    #[serde(skip)]
    pub secret_hash: Option<String>,
    pub token_auth_method: AuthMethod,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    pub first_party: bool,
    pub scopes: Vec<String>,
    pub id_token_alg: Alg,
    pub jwks_uri: Option<String>,
    #[serde(skip)]
    pub jwks: Option<Value>,
    pub version: i64,
    /// Sign-ins for this client always need SMS step-up.
    pub require_sms: bool,
}

impl Client {
    pub fn is_public(&self) -> bool {
        self.token_auth_method == AuthMethod::None
    }

    fn from_row(row: ClientRow) -> Result<Client, StoreError> {
        let list = |text: &str| serde_json::from_str::<Vec<String>>(text).unwrap_or_default();
        Ok(Client {
            token_auth_method: AuthMethod::parse(&row.token_auth_method)
                .unwrap_or(AuthMethod::ClientSecretBasic),
            redirect_uris: list(&row.redirect_uris),
            post_logout_redirect_uris: list(&row.post_logout_redirect_uris),
            scopes: row
                .scopes
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            id_token_alg: Alg::parse(&row.id_token_alg).unwrap_or(Alg::RS256),
            jwks: row
                .jwks
                .as_deref()
                .and_then(|j| serde_json::from_str(j).ok()),
            id: row.id,
            name: row.name,
            secret_hash: row.secret_hash,
            backchannel_logout_uri: row.backchannel_logout_uri,
            first_party: row.first_party,
            jwks_uri: row.jwks_uri,
            version: row.version,
            require_sms: row.require_sms,
        })
    }

    /// Checks a presented secret against the stored SHA-256 (constant time).
    pub fn secret_matches(&self, secret: &str) -> bool {
        match &self.secret_hash {
            Some(stored) => {
                random::constant_time_eq(hash_secret(secret).as_bytes(), stored.as_bytes())
            }
            None => false,
        }
    }

    pub fn json(&self) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        v["id_token_alg"] = json!(self.id_token_alg.as_str());
        v["token_auth_method"] = json!(self.token_auth_method.as_str());
        v["scopes"] = json!(self.scopes.join(" "));
        v["has_jwks"] = json!(self.jwks.is_some());
        v
    }
}

/// Client secrets are 256-bit random values, so a plain SHA-256 is enough
/// to store them (no slow hash on the token path — DESIGN.md).
pub fn hash_secret(secret: &str) -> String {
    crate::crypto::sha256_hex(secret)
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{0}")]
    Invalid(#[from] InvalidValue),
    #[error("{0}: {1}")]
    InvalidText(&'static str, String),
    #[error("client_id is already in use")]
    Conflict,
    #[error("no such client")]
    NotFound,
    #[error("the client was changed by someone else; read it again and retry")]
    Stale,
    #[error("{0}")]
    Store(StoreError),
    #[error("random generator: {0}")]
    Random(#[from] getrandom::Error),
}

impl From<StoreError> for ClientError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(_) => ClientError::Conflict,
            StoreError::NotFound => ClientError::NotFound,
            StoreError::Stale => ClientError::Stale,
            other => ClientError::Store(other),
        }
    }
}

/// Debug leaves the secret out.
#[derive(Default)]
pub struct NewClient {
    pub id: String,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    pub first_party: bool,
    /// Space-separated; [`DEFAULT_SCOPES`] when empty.
    pub scopes: Option<String>,
    pub id_token_alg: Option<String>,
    /// `None`: client_secret_basic for confidential, none for public.
    pub token_auth_method: Option<String>,
    pub public: bool,
    /// A given secret (otherwise one is generated when the method needs it).
    pub secret: Option<String>,
    pub jwks_uri: Option<String>,
    /// A JWK set (JSON text) for private_key_jwt.
    pub jwks: Option<String>,
    pub require_sms: bool,
}

impl std::fmt::Debug for NewClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewClient")
            .field("id", &self.id)
            .field("redirect_uris", &self.redirect_uris)
            .field("public", &self.public)
            .field("secret", &self.secret.as_ref().map(|_| "[redacted]"))
            .finish_non_exhaustive()
    }
}

/// Absolute http(s) URI without fragment (RFC 6749 §3.1.2); plain http only
/// for loopback hosts in production.
fn check_uri(field: &'static str, raw: &str, production: bool) -> Result<String, ClientError> {
    let bad = |why: &str| ClientError::InvalidText(field, format!("{raw:?} {why}"));
    let url = Url::parse(raw).map_err(|_| bad("is not an absolute URI"))?;
    if url.fragment().is_some() {
        return Err(bad("must not have a fragment"));
    }
    match url.scheme() {
        "https" => {}
        "http" => {
            let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
            if production && !loopback {
                return Err(bad("must use https in production"));
            }
        }
        _ => return Err(bad("must be http or https")),
    }
    if raw.len() > 2000 {
        return Err(bad("is too long"));
    }
    Ok(raw.to_string())
}

/// Registers a client. Returns it and the secret when one was generated.
pub async fn register(
    state: &AppState,
    input: NewClient,
    actor: &Actor,
    origin: &Origin,
) -> Result<(Client, Option<String>), ClientError> {
    let production = state.config.is_production();
    let id = input.id.trim().to_string();
    if id.is_empty()
        || id.len() > 128
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(ClientError::InvalidText(
            "client_id",
            "letters, digits, - _ . only (1–128)".into(),
        ));
    }
    let name = input.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ClientError::InvalidText(
            "name",
            "must have 1 to 100 characters".into(),
        ));
    }
    let method = match input.token_auth_method.as_deref() {
        Some(m) => AuthMethod::parse(m).ok_or_else(|| {
            ClientError::InvalidText("token_auth_method", format!("unknown method {m:?}"))
        })?,
        None if input.public => AuthMethod::None,
        None => AuthMethod::ClientSecretBasic,
    };
    if input.public != (method == AuthMethod::None) {
        return Err(ClientError::InvalidText(
            "token_auth_method",
            "public clients use none; confidential ones need another method".into(),
        ));
    }
    if input.redirect_uris.is_empty()
        && input
            .scopes
            .as_deref()
            .is_none_or(|s| s.split(' ').any(|x| x == "openid"))
    {
        return Err(ClientError::InvalidText(
            "redirect_uri",
            "at least one is required".into(),
        ));
    }
    let redirect_uris = input
        .redirect_uris
        .iter()
        .map(|u| check_uri("redirect_uri", u, production))
        .collect::<Result<Vec<_>, _>>()?;
    let post_logout = input
        .post_logout_redirect_uris
        .iter()
        .map(|u| check_uri("post_logout_redirect_uri", u, production))
        .collect::<Result<Vec<_>, _>>()?;
    let backchannel = input
        .backchannel_logout_uri
        .as_deref()
        .map(|u| check_uri("backchannel_logout_uri", u, production))
        .transpose()?;
    let scopes = Scope::parse(input.scopes.as_deref().unwrap_or(DEFAULT_SCOPES))?;
    if let Some(unknown) = scopes.iter().find(|s| !KNOWN_SCOPES.contains(s)) {
        return Err(ClientError::InvalidText(
            "scope",
            format!("unknown scope {unknown:?}"),
        ));
    }
    if input.public && scopes.contains("admin") {
        return Err(ClientError::InvalidText(
            "scope",
            "a public client cannot have the admin scope".into(),
        ));
    }
    let alg = match input.id_token_alg.as_deref() {
        Some(a) => Alg::parse(a).ok_or_else(|| {
            ClientError::InvalidText("id_token_alg", "RS256, ES256 or EdDSA".into())
        })?,
        None => Alg::RS256,
    };
    let jwks_uri = input
        .jwks_uri
        .as_deref()
        .map(|u| check_uri("jwks_uri", u, production))
        .transpose()?;
    let jwks = match &input.jwks {
        Some(text) => {
            let set: jsonwebtoken::jwk::JwkSet = serde_json::from_str(text)
                .map_err(|e| ClientError::InvalidText("jwks", format!("not a JWK set: {e}")))?;
            if set.keys.is_empty() {
                return Err(ClientError::InvalidText("jwks", "has no keys".into()));
            }
            Some(text.clone())
        }
        None => None,
    };
    if method == AuthMethod::PrivateKeyJwt && jwks.is_none() && jwks_uri.is_none() {
        return Err(ClientError::InvalidText(
            "jwks",
            "private_key_jwt needs --jwks-uri or --jwks-file".into(),
        ));
    }
    let (secret_hash, generated) = if method.uses_secret() {
        match input.secret {
            Some(s) if s.len() < 32 => {
                return Err(ClientError::InvalidText(
                    "secret",
                    "must have at least 32 characters".into(),
                ));
            }
            Some(s) => (Some(hash_secret(&s)), None),
            None => {
                let s = random::token()?;
                (Some(hash_secret(&s)), Some(s))
            }
        }
    } else {
        (None, None)
    };
    let now = OffsetDateTime::now_utc();
    let row = ClientRow {
        id,
        name,
        secret_hash,
        token_auth_method: method.as_str().into(),
        redirect_uris: json!(redirect_uris).to_string(),
        post_logout_redirect_uris: json!(post_logout).to_string(),
        backchannel_logout_uri: backchannel,
        first_party: input.first_party,
        scopes: scopes.to_string(),
        id_token_alg: alg.as_str().into(),
        jwks_uri,
        jwks,
        created_at: now,
        updated_at: now,
        version: 1,
        require_sms: input.require_sms,
    };
    let audit = Entry::new("client.created", Outcome::Success)
        .actor(actor)
        .origin(origin)
        .detail(json!({ "client_id": row.id, "token_auth_method": row.token_auth_method, "first_party": row.first_party }))
        .finish();
    state.store.insert_client(&row, &audit).await?;
    let client = Client::from_row(row)?;
    Ok((client, generated))
}

/// Registered clients are read on every protocol request; keep them for a
/// few seconds. A change made on this node invalidates its entry at once;
/// other nodes see it within [`CACHE_TTL`].
pub const CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(10);

/// How long a client's fetched `jwks_uri` key set is reused.
pub const JWKS_TTL: std::time::Duration = std::time::Duration::from_secs(300);
/// A key set younger than this is not fetched again for an unknown kid.
const JWKS_REFETCH_AFTER: std::time::Duration = std::time::Duration::from_secs(10);

type Timed<T> = std::sync::RwLock<std::collections::HashMap<String, (std::time::Instant, T)>>;

#[derive(Default)]
pub struct ClientCache {
    entries: Timed<Client>,
    jwks: Timed<jsonwebtoken::jwk::JwkSet>,
}

impl ClientCache {
    fn get(&self, id: &str) -> Option<Client> {
        let map = self.entries.read().unwrap_or_else(|p| p.into_inner());
        map.get(id)
            .filter(|(at, _)| at.elapsed() < CACHE_TTL)
            .map(|(_, c)| c.clone())
    }

    fn put(&self, client: &Client) {
        let mut map = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if map.len() > 10_000 {
            map.retain(|_, (at, _)| at.elapsed() < CACHE_TTL);
        }
        map.insert(
            client.id.clone(),
            (std::time::Instant::now(), client.clone()),
        );
    }

    fn forget(&self, id: &str) {
        self.entries
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }

    /// A cached key set of `uri`; with `fresh`, only one fetched moments ago.
    pub fn cached_jwks(&self, uri: &str, fresh: bool) -> Option<jsonwebtoken::jwk::JwkSet> {
        let limit = if fresh { JWKS_REFETCH_AFTER } else { JWKS_TTL };
        let map = self.jwks.read().unwrap_or_else(|p| p.into_inner());
        map.get(uri)
            .filter(|(at, _)| at.elapsed() < limit)
            .map(|(_, set)| set.clone())
    }

    pub fn put_jwks(&self, uri: &str, set: &jsonwebtoken::jwk::JwkSet) {
        let mut map = self.jwks.write().unwrap_or_else(|p| p.into_inner());
        if map.len() > 1_000 {
            map.retain(|_, (at, _)| at.elapsed() < JWKS_TTL);
        }
        map.insert(uri.to_string(), (std::time::Instant::now(), set.clone()));
    }
}

/// The client as stored now. Client authentication always uses this, so a
/// rotated secret or a removed client stops working at once on every node.
pub async fn find(state: &AppState, id: &str) -> Result<Option<Client>, StoreError> {
    match state.store.client(id).await? {
        Some(row) => {
            let client = Client::from_row(row)?;
            state.clients.put(&client);
            Ok(Some(client))
        }
        None => {
            state.clients.forget(id);
            Ok(None)
        }
    }
}

/// The client, possibly as read up to [`CACHE_TTL`] ago: for the browser
/// flows (authorize, consent, logout), where a few seconds of staleness
/// in names and URIs is harmless — the code is only redeemed at the token
/// endpoint, which authenticates against the fresh record.
pub async fn find_cached(state: &AppState, id: &str) -> Result<Option<Client>, StoreError> {
    match state.clients.get(id) {
        Some(c) => Ok(Some(c)),
        None => find(state, id).await,
    }
}

pub async fn list(state: &AppState) -> Result<Vec<Client>, StoreError> {
    state
        .store
        .list_clients()
        .await?
        .into_iter()
        .map(Client::from_row)
        .collect()
}

pub async fn remove(
    state: &AppState,
    id: &str,
    actor: &Actor,
    origin: &Origin,
) -> Result<(), ClientError> {
    let audit = Entry::new("client.removed", Outcome::Success)
        .actor(actor)
        .origin(origin)
        .detail(json!({ "client_id": id }))
        .finish();
    state.store.delete_client(id, &audit).await?;
    state.clients.forget(id);
    Ok(())
}

/// A new secret for a confidential client; the old one stops working.
pub async fn rotate_secret(
    state: &AppState,
    id: &str,
    given: Option<String>,
    actor: &Actor,
    origin: &Origin,
) -> Result<Option<String>, ClientError> {
    let client = find(state, id).await?.ok_or(ClientError::NotFound)?;
    if !client.token_auth_method.uses_secret() {
        return Err(ClientError::InvalidText(
            "client",
            format!("uses {}, not a secret", client.token_auth_method.as_str()),
        ));
    }
    let (secret, generated) = match given {
        Some(s) if s.len() < 32 => {
            return Err(ClientError::InvalidText(
                "secret",
                "must have at least 32 characters".into(),
            ));
        }
        Some(s) => (s, None),
        None => {
            let s = random::token()?;
            (s.clone(), Some(s))
        }
    };
    let audit = Entry::new("client.secret_rotated", Outcome::Success)
        .actor(actor)
        .origin(origin)
        .detail(json!({ "client_id": id }))
        .finish();
    state
        .store
        .set_client_secret(id, &hash_secret(&secret), &audit)
        .await?;
    state.clients.forget(id);
    Ok(generated)
}

/// Changes to a client; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct ClientUpdate {
    pub name: Option<String>,
    pub redirect_uris: Option<Vec<String>>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// `Some(None)` removes it.
    pub backchannel_logout_uri: Option<Option<String>>,
    pub first_party: Option<bool>,
    pub scopes: Option<String>,
    pub id_token_alg: Option<String>,
    pub require_sms: Option<bool>,
}

/// Applies `change` to the client if it is still at `version`.
pub async fn update(
    state: &AppState,
    id: &str,
    version: i64,
    change: ClientUpdate,
    actor: &Actor,
    origin: &Origin,
) -> Result<Client, ClientError> {
    let production = state.config.is_production();
    let mut row = state.store.client(id).await?.ok_or(ClientError::NotFound)?;
    let mut fields = Vec::new();
    if let Some(name) = change.name {
        let name = name.trim().to_string();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(ClientError::InvalidText(
                "name",
                "must have 1 to 100 characters".into(),
            ));
        }
        row.name = name;
        fields.push("name");
    }
    if let Some(uris) = change.redirect_uris {
        if uris.is_empty() {
            return Err(ClientError::InvalidText(
                "redirect_uris",
                "at least one is required".into(),
            ));
        }
        let checked = uris
            .iter()
            .map(|u| check_uri("redirect_uri", u, production))
            .collect::<Result<Vec<_>, _>>()?;
        row.redirect_uris = json!(checked).to_string();
        fields.push("redirect_uris");
    }
    if let Some(uris) = change.post_logout_redirect_uris {
        let checked = uris
            .iter()
            .map(|u| check_uri("post_logout_redirect_uri", u, production))
            .collect::<Result<Vec<_>, _>>()?;
        row.post_logout_redirect_uris = json!(checked).to_string();
        fields.push("post_logout_redirect_uris");
    }
    if let Some(uri) = change.backchannel_logout_uri {
        row.backchannel_logout_uri = uri
            .as_deref()
            .map(|u| check_uri("backchannel_logout_uri", u, production))
            .transpose()?;
        fields.push("backchannel_logout_uri");
    }
    if let Some(fp) = change.first_party {
        row.first_party = fp;
        fields.push("first_party");
    }
    if let Some(scopes) = change.scopes {
        let scopes = Scope::parse(&scopes)?;
        if let Some(unknown) = scopes.iter().find(|s| !KNOWN_SCOPES.contains(s)) {
            return Err(ClientError::InvalidText(
                "scope",
                format!("unknown scope {unknown:?}"),
            ));
        }
        if row.token_auth_method == AuthMethod::None.as_str() && scopes.contains("admin") {
            return Err(ClientError::InvalidText(
                "scope",
                "a public client cannot have the admin scope".into(),
            ));
        }
        row.scopes = scopes.to_string();
        fields.push("scopes");
    }
    if let Some(r) = change.require_sms {
        row.require_sms = r;
        fields.push("require_sms");
    }
    if let Some(alg) = change.id_token_alg {
        row.id_token_alg = Alg::parse(&alg)
            .ok_or_else(|| {
                ClientError::InvalidText("id_token_alg", "RS256, ES256 or EdDSA".into())
            })?
            .as_str()
            .into();
        fields.push("id_token_alg");
    }
    let audit = Entry::new("client.updated", Outcome::Success)
        .actor(actor)
        .origin(origin)
        .detail(json!({ "client_id": id, "fields": fields }))
        .finish();
    state.store.update_client(&row, version, &audit).await?;
    state.clients.forget(id);
    find(state, id).await?.ok_or(ClientError::NotFound)
}
