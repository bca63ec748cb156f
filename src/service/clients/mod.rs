//! The client registry: registering relying parties, their secrets, and
//! checking what a client may do. Registration and update build the same
//! domain values ([`crate::domain::client`]) through the same parsers here,
//! then check the same whole-client rules ([`check_client`]).

pub mod cache;

use serde_json::json;

use super::audit::{Entry, Outcome};
use super::{Actor, Origin};
use crate::domain::client::{
    ClientId, ClientSecret, EndpointUri, IdTokenAlg, LdapBind, RedirectUri,
};
use crate::domain::{InvalidValue, Scope};
use crate::state::AppState;
use crate::store::StoreError;

// Where the rest of the crate has always found them.
pub use crate::domain::client::{AuthMethod, Client};

/// Scopes a client may ask for when registration does not say.
pub const DEFAULT_SCOPES: &str = "openid profile email phone offline_access";
/// Every scope Tongxing knows (kept with the scope type, where the
/// configuration checks too).
pub use crate::domain::KNOWN_SCOPES;

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

/// A registration as given (CLI flags or API JSON), not yet parsed.
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
    /// Block accounts with a weak password for this client.
    pub require_strong_password: bool,
    /// The English name (`name` is the default, zh-CN one).
    pub name_en: Option<String>,
    /// The application list's description, zh-CN and English.
    pub description: Option<String>,
    pub description_en: Option<String>,
    pub logo_uri: Option<String>,
    pub home_uri: Option<String>,
    /// Show this first-party client in everyone's application list.
    pub show_in_app_list: bool,
    /// People may make application passwords for it.
    pub app_passwords_allowed: bool,
    /// `off` (the default), `password` or `app_passwords`.
    pub ldap_bind: Option<String>,
    /// May search the LDAP interface (bound with its secret).
    pub ldap_search: bool,
    /// Authorization requests only through the PAR endpoint (RFC 9126).
    pub require_pushed_authorization_requests: bool,
    /// Authorization requests only as signed request objects (RFC 9101);
    /// the client needs keys (`jwks` or `jwks_uri`).
    pub require_signed_request_object: bool,
    /// Tokens only bound to a DPoP key (RFC 9449).
    pub dpop_bound_access_tokens: bool,
    /// Where the client hosts signed request objects (RFC 9101 §5.2).
    pub request_uris: Vec<String>,
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

// ── the parsers registration and update share ─────────────────────────
//
// Each names the field as the management API's JSON does, so a problem
// document points at the input to fix, whichever way the value came in.

fn parse_name(raw: &str) -> Result<String, ClientError> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ClientError::InvalidText(
            "name",
            "must have 1 to 100 characters".into(),
        ));
    }
    Ok(name.to_string())
}

/// An optional name or description: trimmed, empty is none, at most
/// `max` characters on one line.
fn parse_text(
    field: &'static str,
    raw: Option<&str>,
    max: usize,
) -> Result<Option<String>, ClientError> {
    let Some(text) = raw.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if text.chars().count() > max || text.chars().any(char::is_control) {
        return Err(ClientError::InvalidText(
            field,
            format!("must have at most {max} characters on one line"),
        ));
    }
    Ok(Some(text.to_string()))
}

/// An optional logo or home page URI (empty is none).
fn parse_optional_endpoint(
    field: &'static str,
    raw: Option<&str>,
    production: bool,
) -> Result<Option<EndpointUri>, ClientError> {
    raw.map(str::trim)
        .filter(|u| !u.is_empty())
        .map(|u| parse_endpoint(field, u, production))
        .transpose()
}

fn parse_redirect_uris(
    field: &'static str,
    list: &[String],
    production: bool,
) -> Result<Vec<RedirectUri>, ClientError> {
    list.iter()
        .map(|u| {
            RedirectUri::parse(u, production)
                .map_err(|why| ClientError::InvalidText(field, format!("{u:?} {why}")))
        })
        .collect()
}

fn parse_endpoint(
    field: &'static str,
    raw: &str,
    production: bool,
) -> Result<EndpointUri, ClientError> {
    EndpointUri::parse(raw, production)
        .map_err(|why| ClientError::InvalidText(field, format!("{raw:?} {why}")))
}

/// Most request URIs one client may register.
const MAX_REQUEST_URIS: usize = 10;

fn parse_endpoints(
    field: &'static str,
    raw: &[String],
    production: bool,
) -> Result<Vec<EndpointUri>, ClientError> {
    raw.iter()
        .map(|u| parse_endpoint(field, u, production))
        .collect()
}

fn parse_scopes(raw: &str) -> Result<Vec<String>, ClientError> {
    let scopes = Scope::parse(raw)?;
    if let Some(unknown) = scopes.iter().find(|s| !KNOWN_SCOPES.contains(s)) {
        return Err(ClientError::InvalidText(
            "scope",
            format!("unknown scope {unknown:?}"),
        ));
    }
    Ok(scopes.iter().map(str::to_string).collect())
}

/// The given secret, parsed, or a generated one; the second value is the
/// generated secret in clear, to show once.
fn secret_or_generate(
    given: Option<String>,
) -> Result<(ClientSecret, Option<String>), ClientError> {
    match given {
        Some(given) => Ok((ClientSecret::parse(given)?, None)),
        None => {
            let s = ClientSecret::generate()?;
            Ok((s.clone(), Some(s.into_exposed())))
        }
    }
}

/// The rules that involve more than one field, checked on the client as
/// it would be stored, after registration or after an update.
fn check_client(client: &Client) -> Result<(), ClientError> {
    let has = |scope: &str| client.scopes.iter().any(|s| s == scope);
    // An OpenID client is sent back to a redirect URI (OIDC Core §3.1.2.1);
    // without one only client_credentials is possible.
    if client.redirect_uris.is_empty() && has("openid") {
        return Err(ClientError::InvalidText(
            "redirect_uris",
            "at least one is required".into(),
        ));
    }
    if client.is_public() && has("admin") {
        return Err(ClientError::InvalidText(
            "scope",
            "a public client cannot have the admin scope".into(),
        ));
    }
    if client.token_auth_method == AuthMethod::PrivateKeyJwt
        && client.jwks.is_none()
        && client.jwks_uri.is_none()
    {
        return Err(ClientError::InvalidText(
            "jwks",
            "private_key_jwt needs --jwks-uri or --jwks-file".into(),
        ));
    }
    // Its request objects are verified with its keys.
    let keyless = client.jwks.is_none() && client.jwks_uri.is_none();
    if !client.request_uris.is_empty() && keyless {
        return Err(ClientError::InvalidText(
            "request_uris",
            "the request objects found there are verified with the client's keys: register jwks or jwks_uri"
                .into(),
        ));
    }
    if client.request_uris.len() > MAX_REQUEST_URIS {
        return Err(ClientError::InvalidText(
            "request_uris",
            format!("at most {MAX_REQUEST_URIS}"),
        ));
    }
    if client.require_signed_request_object && keyless {
        return Err(ClientError::InvalidText(
            "require_signed_request_object",
            "signed request objects are verified with the client's keys: register jwks or jwks_uri"
                .into(),
        ));
    }
    // An LDAP search binds with the client's secret.
    if client.ldap_search && !client.token_auth_method.uses_secret() {
        return Err(ClientError::InvalidText(
            "ldap_search",
            "an LDAP search binds with the client secret: only clients authenticating with a secret may search".into(),
        ));
    }
    Ok(())
}

/// Builds a client from a registration, every value through the parsers
/// above and the whole through [`check_client`]; with a secret (hashed)
/// when its method uses one. Returns it and the secret when one was
/// generated. `production` applies the production rule to its URIs
/// (https, except for loopback hosts).
pub fn build(input: NewClient, production: bool) -> Result<(Client, Option<String>), ClientError> {
    let id = ClientId::parse(&input.id)?;
    let name = parse_name(&input.name)?;
    let method = match input.token_auth_method.as_deref() {
        Some(m) => AuthMethod::parse(m).map_err(|_| {
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
    let redirect_uris = parse_redirect_uris("redirect_uris", &input.redirect_uris, production)?;
    let post_logout = parse_redirect_uris(
        "post_logout_redirect_uris",
        &input.post_logout_redirect_uris,
        production,
    )?;
    let backchannel = input
        .backchannel_logout_uri
        .as_deref()
        .map(|u| parse_endpoint("backchannel_logout_uri", u, production))
        .transpose()?;
    let scopes = parse_scopes(input.scopes.as_deref().unwrap_or(DEFAULT_SCOPES))?;
    let alg = match input.id_token_alg.as_deref() {
        Some(a) => IdTokenAlg::parse(a)?,
        None => IdTokenAlg::DEFAULT,
    };
    let jwks_uri = input
        .jwks_uri
        .as_deref()
        .map(|u| parse_endpoint("jwks_uri", u, production))
        .transpose()?;
    let jwks = match &input.jwks {
        Some(text) => {
            // Said in the request's terms: serde's own words name the
            // library's types (`JwkSet`, `untagged enum …`).
            let set: jsonwebtoken::jwk::JwkSet =
                crate::serde_text::json_in(text.as_bytes(), Some("jwks")).map_err(|f| {
                    ClientError::InvalidText("jwks", format!("is not a JWK set: {}", f.detail))
                })?;
            if set.keys.is_empty() {
                return Err(ClientError::InvalidText("jwks", "has no keys".into()));
            }
            Some(set)
        }
        None => None,
    };
    let mut client = Client {
        id: id.into_string(),
        name,
        secret_hash: None,
        token_auth_method: method,
        redirect_uris,
        post_logout_redirect_uris: post_logout,
        backchannel_logout_uri: backchannel,
        first_party: input.first_party,
        scopes,
        id_token_alg: alg,
        jwks_uri,
        request_uris: parse_endpoints("request_uris", &input.request_uris, production)?,
        jwks,
        version: 1,
        require_sms: input.require_sms,
        require_strong_password: input.require_strong_password,
        name_en: parse_text("name_en", input.name_en.as_deref(), 100)?,
        description: parse_text("description", input.description.as_deref(), 300)?,
        description_en: parse_text("description_en", input.description_en.as_deref(), 300)?,
        logo_uri: parse_optional_endpoint("logo_uri", input.logo_uri.as_deref(), production)?,
        home_uri: parse_optional_endpoint("home_uri", input.home_uri.as_deref(), production)?,
        show_in_app_list: input.show_in_app_list,
        app_passwords_allowed: input.app_passwords_allowed,
        ldap_bind: match input.ldap_bind.as_deref() {
            Some(mode) => LdapBind::parse(mode)?,
            None => LdapBind::Off,
        },
        ldap_search: input.ldap_search,
        require_pushed_authorization_requests: input.require_pushed_authorization_requests,
        require_signed_request_object: input.require_signed_request_object,
        dpop_bound_access_tokens: input.dpop_bound_access_tokens,
        registered_dynamically: false,
        registration_token_hash: None,
        grant_types: None,
    };
    check_client(&client)?;
    let generated = if method.uses_secret() {
        let (secret, generated) = secret_or_generate(input.secret)?;
        client.secret_hash = Some(secret.hash());
        generated
    } else {
        None
    };
    Ok((client, generated))
}

/// Registers a client. Returns it and the secret when one was generated.
pub async fn register(
    state: &AppState,
    input: NewClient,
    actor: &Actor,
    origin: &Origin,
) -> Result<(Client, Option<String>), ClientError> {
    let (client, generated) = build(input, state.config.is_production())?;
    let method = client.token_auth_method;
    let now = state.clock.now();
    let audit = Entry::new("client.created", Outcome::Success)
        .actor(actor)
        .origin(origin)
        .detail(json!({ "client_id": client.id, "token_auth_method": method.as_str(), "first_party": client.first_party }))
        .finish();
    state.store.insert_client(&client, now, &audit).await?;
    Ok((client, generated))
}

/// The client as stored now. Client authentication always uses this, so a
/// rotated secret or a removed client stops working at once on every node.
pub async fn find(state: &AppState, id: &str) -> Result<Option<Client>, StoreError> {
    match state.store.client(id).await? {
        Some(client) => {
            state.clients.put(&client);
            Ok(Some(client))
        }
        None => {
            state.clients.forget(id);
            Ok(None)
        }
    }
}

/// The client, possibly as read up to [`cache::CLIENT_TTL`] ago: for the browser
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
    state.store.list_clients().await
}

/// Page `page` (from 1) of `per_page` clients in id order, and the total.
pub async fn page(
    state: &AppState,
    page: i64,
    per_page: i64,
) -> Result<(Vec<Client>, i64), StoreError> {
    let per_page = per_page.clamp(1, 200);
    let offset = (page.max(1) - 1).saturating_mul(per_page);
    state.store.page_clients(per_page, offset).await
}

/// The page (from 1) of `per_page` on which the client `id` is listed.
pub async fn page_of(state: &AppState, id: &str, per_page: i64) -> Result<i64, StoreError> {
    Ok(state.store.clients_before(id).await? / per_page.max(1) + 1)
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
    let (secret, generated) = secret_or_generate(given)?;
    let audit = Entry::new("client.secret_rotated", Outcome::Success)
        .actor(actor)
        .origin(origin)
        .detail(json!({ "client_id": id }))
        .finish();
    state
        .store
        .set_client_secret(id, &secret.hash(), &audit)
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
    pub require_strong_password: Option<bool>,
    /// `Some(None)` (or an empty text) removes it.
    pub name_en: Option<Option<String>>,
    pub description: Option<Option<String>>,
    pub description_en: Option<Option<String>>,
    pub logo_uri: Option<Option<String>>,
    pub home_uri: Option<Option<String>>,
    pub show_in_app_list: Option<bool>,
    pub app_passwords_allowed: Option<bool>,
    /// `off`, `password` or `app_passwords`.
    pub ldap_bind: Option<String>,
    pub ldap_search: Option<bool>,
    pub require_pushed_authorization_requests: Option<bool>,
    pub require_signed_request_object: Option<bool>,
    pub dpop_bound_access_tokens: Option<bool>,
    pub request_uris: Option<Vec<String>>,
}

/// Applies `change` to the client if it is still at `version`. Every
/// changed value goes through the parser registration uses, and the
/// result through the same [`check_client`].
pub async fn update(
    state: &AppState,
    id: &str,
    version: i64,
    change: ClientUpdate,
    actor: &Actor,
    origin: &Origin,
) -> Result<Client, ClientError> {
    let production = state.config.is_production();
    let mut client = state.store.client(id).await?.ok_or(ClientError::NotFound)?;
    let mut fields = Vec::new();
    if let Some(name) = change.name {
        client.name = parse_name(&name)?;
        fields.push("name");
    }
    if let Some(uris) = change.redirect_uris {
        client.redirect_uris = parse_redirect_uris("redirect_uris", &uris, production)?;
        fields.push("redirect_uris");
    }
    if let Some(uris) = change.request_uris {
        client.request_uris = parse_endpoints("request_uris", &uris, production)?;
        fields.push("request_uris");
    }
    if let Some(uris) = change.post_logout_redirect_uris {
        client.post_logout_redirect_uris =
            parse_redirect_uris("post_logout_redirect_uris", &uris, production)?;
        fields.push("post_logout_redirect_uris");
    }
    if let Some(uri) = change.backchannel_logout_uri {
        client.backchannel_logout_uri = uri
            .as_deref()
            .map(|u| parse_endpoint("backchannel_logout_uri", u, production))
            .transpose()?;
        fields.push("backchannel_logout_uri");
    }
    if let Some(fp) = change.first_party {
        client.first_party = fp;
        fields.push("first_party");
    }
    if let Some(scopes) = change.scopes {
        client.scopes = parse_scopes(&scopes)?;
        fields.push("scopes");
    }
    if let Some(r) = change.require_sms {
        client.require_sms = r;
        fields.push("require_sms");
    }
    if let Some(r) = change.require_strong_password {
        client.require_strong_password = r;
        fields.push("require_strong_password");
    }
    if let Some(v) = change.name_en {
        client.name_en = parse_text("name_en", v.as_deref(), 100)?;
        fields.push("name_en");
    }
    if let Some(v) = change.description {
        client.description = parse_text("description", v.as_deref(), 300)?;
        fields.push("description");
    }
    if let Some(v) = change.description_en {
        client.description_en = parse_text("description_en", v.as_deref(), 300)?;
        fields.push("description_en");
    }
    if let Some(v) = change.logo_uri {
        client.logo_uri = parse_optional_endpoint("logo_uri", v.as_deref(), production)?;
        fields.push("logo_uri");
    }
    if let Some(v) = change.home_uri {
        client.home_uri = parse_optional_endpoint("home_uri", v.as_deref(), production)?;
        fields.push("home_uri");
    }
    if let Some(v) = change.show_in_app_list {
        client.show_in_app_list = v;
        fields.push("show_in_app_list");
    }
    if let Some(v) = change.app_passwords_allowed {
        client.app_passwords_allowed = v;
        fields.push("app_passwords_allowed");
    }
    if let Some(mode) = change.ldap_bind {
        client.ldap_bind = LdapBind::parse(&mode)?;
        fields.push("ldap_bind");
    }
    if let Some(search) = change.ldap_search {
        client.ldap_search = search;
        fields.push("ldap_search");
    }
    if let Some(v) = change.require_pushed_authorization_requests {
        client.require_pushed_authorization_requests = v;
        fields.push("require_pushed_authorization_requests");
    }
    if let Some(v) = change.require_signed_request_object {
        client.require_signed_request_object = v;
        fields.push("require_signed_request_object");
    }
    if let Some(v) = change.dpop_bound_access_tokens {
        client.dpop_bound_access_tokens = v;
        fields.push("dpop_bound_access_tokens");
    }
    if let Some(alg) = change.id_token_alg {
        client.id_token_alg = IdTokenAlg::parse(&alg)?;
        fields.push("id_token_alg");
    }
    check_client(&client)?;
    let audit = Entry::new("client.updated", Outcome::Success)
        .actor(actor)
        .origin(origin)
        .detail(json!({ "client_id": id, "fields": fields }))
        .finish();
    state.store.update_client(&client, version, &audit).await?;
    state.clients.forget(id);
    find(state, id).await?.ok_or(ClientError::NotFound)
}
