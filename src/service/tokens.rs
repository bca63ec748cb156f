//! Authorization codes, grants and the tokens issued under them.
//!
//! * Codes are single-use random values kept (hashed) in ephemeral storage
//!   for `oidc.code_ttl_secs`. Redeeming one leaves a marker in the
//!   database; presenting it again revokes the grant it produced (RFC 6749
//!   §4.1.2, §10.5), even after the ephemeral store lost its data.
//! * A grant is the durable record of one authorization; refresh tokens
//!   form its family. A refresh token rotates on every use; presenting a
//!   used one revokes the whole grant (OAuth 2.0 Security BCP §4.14).
//! * Access tokens are JWTs per RFC 9068 (`typ: at+jwt`, RS256); they carry
//!   the grant id (`gid`) so revoking the grant also makes them inactive.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use super::clients::Client;
use super::keys::KeyError;
use crate::crypto::jws::{Alg, JwsError, Parsed};
use crate::crypto::{random, sha256_hex};
use crate::domain::Scope;
use crate::domain::claims::{ClaimsRequest, scope_of_claim};
use crate::ephemeral::EphemeralError;
use crate::state::AppState;
use crate::store::StoreError;
use crate::store::grants::GrantRow;
use crate::store::users::{AccountStatus, User};

pub use super::acr::{ACR_PASSWORD, ACR_SMS, ACR_VALUES};

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Ephemeral(#[from] EphemeralError),
    #[error("{0}")]
    Keys(#[from] KeyError),
    #[error("{0}")]
    Jws(#[from] JwsError),
    #[error("random: {0}")]
    Random(#[from] getrandom::Error),
    /// The token is not valid (bad signature, expired, revoked …).
    #[error("invalid token: {0}")]
    Invalid(&'static str),
}

/// Unix time by the application's clock (token claims and their checks).
fn now(state: &AppState) -> i64 {
    state.clock.now().unix_timestamp()
}

/// What an authorization code stands for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CodeRecord {
    pub client_id: String,
    pub redirect_uri: String,
    pub user_id: Uuid,
    pub scope: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub sid: String,
    pub auth_time: i64,
    pub acr: String,
    pub amr: Vec<String>,
    pub locale: String,
    /// The `claims` request parameter (JSON of
    /// [`crate::domain::claims::ClaimsRequest`]); codes issued before it
    /// existed have none.
    #[serde(default)]
    pub claims: Option<String>,
    /// The DPoP key the code is bound to (`dpop_jkt`, RFC 9449 §10).
    #[serde(default)]
    pub dpop_jkt: Option<String>,
}

fn code_key(code: &str) -> String {
    format!("authcode:{}", sha256_hex(code))
}

/// Stores a new code and returns it.
pub async fn issue_code(state: &AppState, record: &CodeRecord) -> Result<String, TokenError> {
    let code = random::token()?;
    let ttl = Duration::from_secs(state.config.oidc.code_ttl_secs);
    let value = serde_json::to_string(record).map_err(|_| TokenError::Invalid("code record"))?;
    state.ephemeral.set(&code_key(&code), &value, ttl).await?;
    Ok(code)
}

/// The end of a successful authorization: the code, the note that this
/// client joined the browser session (for back-channel logout), and the
/// audit entry — with the requested `acr_values` recorded for step-up.
pub async fn authorize(
    state: &AppState,
    user: &User,
    record: &CodeRecord,
    acr_values: Option<&str>,
) -> Result<String, TokenError> {
    state
        .store
        .add_rp_session(&record.sid, &record.client_id, user.id)
        .await?;
    let code = issue_code(state, record).await?;
    super::audit::Entry::new("authorize.code_issued", super::audit::Outcome::Success)
        .actor(&super::Actor::user(user))
        .subject(user)
        .detail(json!({ "client_id": record.client_id, "scope": record.scope, "acr": record.acr, "acr_values": acr_values }))
        .queue(&state.audit)
        .await?;
    Ok(code)
}

pub enum Redeemed {
    /// The code, and the id its grant must get (already recorded as the
    /// code's outcome, so a replay from now on can revoke it).
    Fresh(Box<CodeRecord>, Uuid),
    /// Already redeemed: the grant it produced (to be revoked).
    Replayed(Uuid),
    Unknown,
}

/// How long a redeemed code is remembered: well past its own lifetime.
fn used_ttl(state: &AppState) -> i64 {
    i64::try_from(state.config.oidc.code_ttl_secs.max(60).saturating_mul(10)).unwrap_or(i64::MAX)
}

/// Takes a code. The database records first that it is redeemed, naming
/// the grant it will produce, and only then is the pending code taken from
/// the ephemeral store: whatever that store loses or gets back (a flush, a
/// failover to a replica that missed the delete), a code is redeemed once,
/// and a replay, concurrent or later, finds the grant to revoke.
pub async fn take_code(state: &AppState, code: &str) -> Result<Redeemed, TokenError> {
    if code.len() > 512 {
        return Ok(Redeemed::Unknown);
    }
    let hash = sha256_hex(code);
    let replayed = |grant: Option<Uuid>| grant.map_or(Redeemed::Unknown, Redeemed::Replayed);
    // No pending code: a replay if the database knows it, else unknown
    // (no write for a made-up code).
    if state.ephemeral.get(&code_key(code)).await?.is_none() {
        return Ok(replayed(state.store.code_replayed(&hash).await?));
    }
    let grant_id = Uuid::now_v7();
    let expires = now(state).saturating_add(used_ttl(state));
    if !state.store.claim_code(&hash, grant_id, expires).await? {
        return Ok(replayed(state.store.code_replayed(&hash).await?));
    }
    let Some(value) = state.ephemeral.take(&code_key(code)).await? else {
        // It expired since it was read.
        state.store.unclaim_code(&hash, grant_id).await?;
        return Ok(Redeemed::Unknown);
    };
    let record = serde_json::from_str(&value).map_err(|_| TokenError::Invalid("code record"))?;
    Ok(Redeemed::Fresh(Box::new(record), grant_id))
}

/// Whether the code was presented again while its redemption ran.
pub async fn code_was_replayed(state: &AppState, code: &str) -> Result<bool, TokenError> {
    Ok(state.store.code_was_replayed(&sha256_hex(code)).await?)
}

/// RFC 7636 §4.6: BASE64URL(SHA256(verifier)) == challenge; verifier is
/// 43–128 unreserved characters.
pub fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    let ok_chars = verifier
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    if !(43..=128).contains(&verifier.len()) || !ok_chars {
        return false;
    }
    random::constant_time_eq(pkce_challenge(verifier).as_bytes(), challenge.as_bytes())
}

/// The S256 challenge of a PKCE verifier (RFC 7636 §4.2).
pub fn pkce_challenge(verifier: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(<sha2::Sha256 as sha2::Digest>::digest(verifier.as_bytes()))
}

/// The token response (RFC 6749 §5.1). Debug shows no token.
#[derive(Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    pub scope: String,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .field("id_token", &self.id_token.as_ref().map(|_| "[redacted]"))
            .finish_non_exhaustive()
    }
}

/// Whether this grant gets a refresh token: first-party clients always,
/// others only when `offline_access` was granted (OIDC Core §11).
pub fn wants_refresh(client: &Client, scope: &Scope) -> bool {
    client.first_party || scope.contains("offline_access")
}

async fn new_refresh(state: &AppState) -> Result<(String, String, OffsetDateTime), TokenError> {
    let token = random::token()?;
    let expires =
        state.clock.now() + time::Duration::days(state.config.oidc.refresh_token_ttl_days as i64);
    Ok((sha256_hex(&token), token, expires))
}

/// Creates the grant for a redeemed code and issues its tokens.
pub async fn grant_from_code(
    state: &AppState,
    client: &Client,
    user: &User,
    code: &CodeRecord,
    grant_id: Uuid,
    jkt: Option<&str>,
) -> Result<(GrantRow, TokenResponse), TokenError> {
    let scope = Scope::parse(&code.scope).map_err(|_| TokenError::Invalid("scope"))?;
    let grant = GrantRow {
        id: grant_id,
        user_id: user.id,
        client_id: client.id.clone(),
        scope: scope.to_string(),
        sid: Some(code.sid.clone()),
        auth_time: code.auth_time,
        acr: Some(code.acr.clone()),
        amr: json!(code.amr).to_string(),
        locale: Some(code.locale.clone()),
        created_at: state.clock.now(),
        revoked_at: None,
        claims: code.claims.clone(),
        // RFC 9449 §5: a public client's refresh tokens are bound to its
        // DPoP key (a confidential client's are bound to its credentials).
        dpop_jkt: jkt.filter(|_| client.is_public()).map(str::to_string),
    };
    let refresh = if wants_refresh(client, &scope) {
        Some(new_refresh(state).await?)
    } else {
        None
    };
    state
        .store
        .insert_grant(&grant, refresh.as_ref().map(|(h, _, e)| (h.as_str(), *e)))
        .await?;
    let issue = Issue {
        nonce: code.nonce.as_deref(),
        refresh_token: refresh.map(|(_, t, _)| t),
        jkt,
    };
    let response = tokens_for(state, client, user, &grant, &scope, issue).await?;
    Ok((grant, response))
}

pub enum Refreshed {
    Ok(TokenResponse),
    /// Unknown, expired, revoked or for another client.
    Invalid(&'static str),
    /// A scope the grant does not hold was asked for (RFC 6749 §6, §5.2
    /// `invalid_scope`).
    ScopeExceeded,
    /// A used token came back: the family was revoked.
    Replayed,
}

/// Rotates a refresh token (RFC 6749 §6) and issues new tokens.
pub async fn refresh(
    state: &AppState,
    client: &Client,
    presented: &str,
    narrower: Option<&Scope>,
    jkt: Option<&str>,
) -> Result<Refreshed, TokenError> {
    let hash = sha256_hex(presented);
    let Some(row) = state.store.refresh_token(&hash).await? else {
        return Ok(Refreshed::Invalid("unknown refresh token"));
    };
    let Some(grant) = state.store.grant(row.grant_id).await? else {
        return Ok(Refreshed::Invalid("unknown refresh token"));
    };
    if grant.client_id != client.id {
        return Ok(Refreshed::Invalid(
            "refresh token was issued to another client",
        ));
    }
    if grant.revoked_at.is_some() {
        return Ok(Refreshed::Invalid("refresh token was revoked"));
    }
    if row.used_at.is_some() {
        state
            .store
            .revoke_grant(grant.id, "refresh token reused")
            .await?;
        return Ok(Refreshed::Replayed);
    }
    // RFC 9449 §5: only a proof by the key it is bound to. A public
    // client's first proof binds a family made without one.
    match (grant.dpop_jkt.as_deref(), jkt) {
        (Some(bound), presented) if presented != Some(bound) => {
            return Ok(Refreshed::Invalid(
                "the refresh token is bound to a DPoP key: send a proof made with that key",
            ));
        }
        (None, Some(key)) if client.is_public() => {
            state.store.bind_grant_to_key(grant.id, key).await?;
        }
        _ => {}
    }
    if row.expires_at <= state.clock.now() {
        return Ok(Refreshed::Invalid("refresh token expired"));
    }
    let Some(user) = state.store.user_by_id(grant.user_id).await? else {
        return Ok(Refreshed::Invalid("account no longer exists"));
    };
    if user.status != AccountStatus::Active {
        return Ok(Refreshed::Invalid("account is disabled"));
    }
    if let Err(e) = blocked_as(
        super::access::may_use(state, user.id, &client.id).await,
        TokenError::Invalid("the account is blocked for this application"),
    ) {
        return match e {
            TokenError::Invalid(why) => Ok(Refreshed::Invalid(why)),
            other => Err(other),
        };
    }
    let granted = Scope::parse(&grant.scope).map_err(|_| TokenError::Invalid("scope"))?;
    let scope = match narrower {
        Some(s) if !s.is_empty() => {
            let allowed: Vec<String> = granted.iter().map(str::to_string).collect();
            if !s.is_subset_of(&allowed) {
                return Ok(Refreshed::ScopeExceeded);
            }
            s.clone()
        }
        _ => granted,
    };
    let (new_hash, new_token, expires) = new_refresh(state).await?;
    if !state
        .store
        .rotate_refresh_token(&hash, &new_hash, grant.id, expires)
        .await?
    {
        // Lost a race with another use of the same token: that is a replay.
        state
            .store
            .revoke_grant(grant.id, "refresh token reused")
            .await?;
        return Ok(Refreshed::Replayed);
    }
    Ok(Refreshed::Ok(
        tokens_for(
            state,
            client,
            &user,
            &grant,
            &scope,
            Issue {
                nonce: None,
                refresh_token: Some(new_token),
                jkt,
            },
        )
        .await?,
    ))
}

/// The authentication methods a grant records (OIDC Core §2 `amr`). A
/// stored value that does not parse is an error, not "no methods".
fn amr_of(grant: &GrantRow) -> Result<Vec<String>, TokenError> {
    serde_json::from_str(&grant.amr)
        .map_err(|e| TokenError::Store(StoreError::Db(sqlx::Error::Decode(Box::new(e)))))
}

/// What goes with one issue of a grant's tokens besides the grant.
struct Issue<'a> {
    /// The authorization request's nonce, for the ID token.
    nonce: Option<&'a str>,
    /// The refresh token issued beside them.
    refresh_token: Option<String>,
    /// The DPoP key the access token is bound to.
    jkt: Option<&'a str>,
}

/// Access token (+ ID token when `openid` was granted) for a user grant.
async fn tokens_for(
    state: &AppState,
    client: &Client,
    user: &User,
    grant: &GrantRow,
    scope: &Scope,
    issue: Issue<'_>,
) -> Result<TokenResponse, TokenError> {
    let Issue {
        nonce,
        refresh_token,
        jkt,
    } = issue;
    let amr = amr_of(grant)?;
    let mut extra = Map::new();
    extra.insert("gid".into(), json!(grant.id));
    extra.insert("auth_time".into(), json!(grant.auth_time));
    if let Some(acr) = &grant.acr {
        extra.insert("acr".into(), json!(acr));
    }
    extra.insert("amr".into(), json!(amr));
    if let Some(sid) = &grant.sid {
        extra.insert("sid".into(), json!(sid));
    }
    let (access_token, expires_in) =
        access_token(state, &client.id, &user.id.to_string(), scope, extra, jkt).await?;
    let id_token = if scope.contains("openid") {
        Some(id_token(state, client, user, grant, scope, nonce, &access_token).await?)
    } else {
        None
    };
    Ok(TokenResponse {
        access_token,
        token_type: token_type(jkt),
        expires_in,
        refresh_token,
        id_token,
        scope: scope.to_string(),
    })
}

/// Access token for the client itself (client_credentials, RFC 6749 §4.4).
pub async fn client_token(
    state: &AppState,
    client: &Client,
    scope: &Scope,
    jkt: Option<&str>,
) -> Result<TokenResponse, TokenError> {
    let (access_token, expires_in) =
        access_token(state, &client.id, &client.id, scope, Map::new(), jkt).await?;
    Ok(TokenResponse {
        access_token,
        token_type: token_type(jkt),
        expires_in,
        refresh_token: None,
        id_token: None,
        scope: scope.to_string(),
    })
}

/// The `token_type` of an answer (RFC 6749 §7.1): `DPoP` when the access
/// token is bound to the key `jkt` (RFC 9449 §5).
fn token_type(jkt: Option<&str>) -> &'static str {
    if jkt.is_some() { "DPoP" } else { "Bearer" }
}

/// An RFC 9068 JWT access token, RS256. `aud` is the client (the token is
/// for the client's own calls to Tongxing, e.g. userinfo). Bound to a DPoP
/// key, it names the key's thumbprint in `cnf.jkt` (RFC 9449 §6.1).
async fn access_token(
    state: &AppState,
    client_id: &str,
    sub: &str,
    scope: &Scope,
    extra: Map<String, Value>,
    jkt: Option<&str>,
) -> Result<(String, u64), TokenError> {
    let ttl = state.config.oidc.access_token_ttl_secs;
    let iat = now(state);
    let mut claims = json!({
        "iss": state.config.issuer(),
        "sub": sub,
        "aud": client_id,
        "client_id": client_id,
        "iat": iat,
        "exp": iat + ttl as i64,
        "jti": Uuid::new_v4().to_string(),
        "scope": scope.to_string(),
    });
    if let Value::Object(map) = &mut claims {
        map.extend(extra);
        if let Some(jkt) = jkt {
            map.insert("cnf".into(), json!({ "jkt": jkt }));
        }
    }
    let key = state.keys.current(Alg::RS256).await?;
    Ok((key.sign("at+jwt", &claims)?, ttl))
}

/// Claims about the user released for the granted scopes (OIDC Core §5.4)
/// and those asked for by name (`named`, the `claims` parameter §5.5,
/// already limited to scopes the client may ask for and consented to).
/// The `email` claim is the passport account itself when it is an address
/// (it is the institution's mailbox); the private security e-mail is never
/// released. `sub` is the stable account id, never a phone number.
pub fn user_claims(
    user: &User,
    scope: &Scope,
    named: &[String],
    locale: Option<&str>,
) -> Map<String, Value> {
    let mut all = Map::new();
    all.insert("name".into(), json!(user.display_name));
    all.insert("preferred_username".into(), json!(user.username));
    all.insert("locale".into(), json!(locale.unwrap_or("zh-CN")));
    if let Some(org) = &user.organization {
        all.insert("organization".into(), json!(org));
    }
    all.insert("updated_at".into(), json!(user.updated_at.unix_timestamp()));
    if user.username.contains('@') {
        all.insert("email".into(), json!(user.username));
        all.insert("email_verified".into(), json!(true));
    }
    if let Some(phone) = &user.login_phone {
        all.insert("phone_number".into(), json!(phone));
        all.insert("phone_number_verified".into(), json!(true));
    }
    if let Some(address) = user.address() {
        all.insert("address".into(), address.claim());
    }
    let mut c = Map::new();
    c.insert("sub".into(), json!(user.id.to_string()));
    for (name, value) in all {
        let by_scope = scope_of_claim(&name).is_some_and(|s| scope.contains(s));
        if by_scope || named.contains(&name) {
            c.insert(name, value);
        }
    }
    c
}

/// The claims request a grant was made with (none when it had none, or
/// when the stored text does not parse — it was written by us).
pub fn claims_of(grant: &GrantRow) -> ClaimsRequest {
    grant
        .claims
        .as_deref()
        .and_then(ClaimsRequest::from_json)
        .unwrap_or_default()
}

async fn id_token(
    state: &AppState,
    client: &Client,
    user: &User,
    grant: &GrantRow,
    scope: &Scope,
    nonce: Option<&str>,
    access_token: &str,
) -> Result<String, TokenError> {
    let key = state.keys.current(client.id_token_alg.alg()).await?;
    let iat = now(state);
    let named = claims_of(grant).id_token_names();
    let mut claims = user_claims(user, scope, &named, grant.locale.as_deref());
    let amr = amr_of(grant)?;
    claims.insert("iss".into(), json!(state.config.issuer()));
    claims.insert("aud".into(), json!(client.id));
    claims.insert("azp".into(), json!(client.id));
    claims.insert("iat".into(), json!(iat));
    claims.insert(
        "exp".into(),
        json!(iat + state.config.oidc.id_token_ttl_secs as i64),
    );
    claims.insert("auth_time".into(), json!(grant.auth_time));
    if let Some(n) = nonce {
        claims.insert("nonce".into(), json!(n));
    }
    if let Some(acr) = &grant.acr {
        claims.insert("acr".into(), json!(acr));
    }
    claims.insert("amr".into(), json!(amr));
    if let Some(sid) = &grant.sid {
        claims.insert("sid".into(), json!(sid));
    }
    claims.insert(
        "at_hash".into(),
        json!(key.alg.half_hash(access_token.as_bytes())),
    );
    Ok(key.sign("JWT", &Value::Object(claims))?)
}

/// Checks the signature of one of our own JWTs by its `kid` (current or
/// within the grace period) and the issuer; returns the claims.
pub async fn verify_own(state: &AppState, token: &str, typ: &str) -> Result<Value, TokenError> {
    let parsed = Parsed::parse(token).map_err(|_| TokenError::Invalid("malformed"))?;
    let kid = parsed.kid().ok_or(TokenError::Invalid("no kid"))?;
    let key = state
        .keys
        .by_kid(kid)
        .await?
        .ok_or(TokenError::Invalid("unknown key"))?;
    if parsed.header["alg"] != key.alg.as_str() || parsed.typ() != Some(typ) {
        return Err(TokenError::Invalid("wrong header"));
    }
    if !key.verify(parsed.signing_input.as_bytes(), &parsed.signature) {
        return Err(TokenError::Invalid("bad signature"));
    }
    if parsed.claims["iss"] != state.config.issuer() {
        return Err(TokenError::Invalid("wrong issuer"));
    }
    Ok(parsed.claims)
}

/// A verified access token, with the grant and account it speaks for
/// (user tokens only), loaded once for the caller.
pub struct VerifiedAccess {
    pub claims: Value,
    pub user: Option<(GrantRow, User)>,
}

/// A valid access token: signature, expiry, not revoked, and — for user
/// tokens — grant still active and account still enabled.
pub async fn verify_access_token(
    state: &AppState,
    token: &str,
) -> Result<VerifiedAccess, TokenError> {
    let claims = verify_own(state, token, "at+jwt").await?;
    let exp = claims["exp"]
        .as_i64()
        .ok_or(TokenError::Invalid("no exp"))?;
    if exp <= now(state) {
        return Err(TokenError::Invalid("expired"));
    }
    let jti = claims["jti"]
        .as_str()
        .ok_or(TokenError::Invalid("no jti"))?;
    if state.store.access_token_revoked(jti).await? {
        return Err(TokenError::Invalid("revoked"));
    }
    let Some(gid) = claims["gid"].as_str() else {
        return Ok(VerifiedAccess { claims, user: None });
    };
    let gid = Uuid::parse_str(gid).map_err(|_| TokenError::Invalid("bad gid"))?;
    let grant = state
        .store
        .grant(gid)
        .await?
        .ok_or(TokenError::Invalid("grant gone"))?;
    if grant.revoked_at.is_some() {
        return Err(TokenError::Invalid("revoked"));
    }
    let user = state
        .store
        .user_by_id(grant.user_id)
        .await?
        .ok_or(TokenError::Invalid("account gone"))?;
    if user.status != AccountStatus::Active {
        return Err(TokenError::Invalid("account disabled"));
    }
    // Userinfo (401) and introspection (active: false) answer a block here.
    blocked_as(
        super::access::may_use(state, user.id, &grant.client_id).await,
        TokenError::Invalid("account blocked for this client"),
    )?;
    Ok(VerifiedAccess {
        claims,
        user: Some((grant, user)),
    })
}

/// The answer of [`super::access::may_use`] as a token error: `blocked`
/// for a block, a store error as it is.
pub fn blocked_as(
    answer: Result<(), super::access::UseError>,
    blocked: TokenError,
) -> Result<(), TokenError> {
    match answer {
        Ok(()) => Ok(()),
        Err(super::access::UseError::Blocked(_)) => Err(blocked),
        Err(super::access::UseError::Store(e)) => Err(TokenError::Store(e)),
    }
}

/// Revokes one access token until it would have expired anyway.
pub async fn revoke_access_token(state: &AppState, claims: &Value) -> Result<(), TokenError> {
    let (Some(jti), Some(exp)) = (claims["jti"].as_str(), claims["exp"].as_i64()) else {
        return Ok(());
    };
    // Kept in the database, not the ephemeral store: losing that store
    // must not bring the token back.
    state.store.revoke_access_token(jti, exp).await?;
    Ok(())
}

/// A logout token (OIDC Back-Channel Logout 1.0 §2.4).
pub async fn logout_token(
    state: &AppState,
    client: &Client,
    sub: Uuid,
    sid: &str,
) -> Result<String, TokenError> {
    let key = state.keys.current(client.id_token_alg.alg()).await?;
    let iat = now(state);
    let claims = json!({
        "iss": state.config.issuer(),
        "aud": client.id,
        "iat": iat,
        "exp": iat + 120,
        "jti": Uuid::new_v4().to_string(),
        "sub": sub.to_string(),
        "sid": sid,
        "events": { "http://schemas.openid.net/event/backchannel-logout": {} },
    });
    Ok(key.sign("logout+jwt", &claims)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_reference_vector() {
        // RFC 7636 Appendix B.
        assert!(pkce_matches(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
        assert!(!pkce_matches(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXj",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
        assert!(!pkce_matches("short", "x"));
    }
}
