//! Authorization requests that arrive as more than a query string: signed
//! request objects (JAR, RFC 9101) and pushed authorization requests (PAR,
//! RFC 9126).
//!
//! ```text
//! POST /par  (client authenticated; plain parameters or `request`)
//!     ─▶ validated as /authorize would ─▶ kept under a request_uri
//!        (urn:ietf:params:oauth:request_uri:…, `oidc.par_ttl_secs`)
//! GET /authorize?client_id=…&request=<JWS>
//!     ─▶ verified with the client's keys ─▶ kept the same way
//! GET /authorize?client_id=…&request_uri=urn:…
//!     ─▶ the kept parameters, and only those (RFC 9101 §6.3)
//! GET /authorize?client_id=…&request_uri=https://client.example/req.jwt
//!     ─▶ only a URI the client registered (`request_uris`): fetched,
//!        then verified and kept as a request object by value
//! ```
//!
//! Once a browser has started on a kept request it lives as long as a
//! sign-in may take ([`INTERACTION`]): the login, step-up and consent pages
//! come back to `/authorize?client_id=…&request_uri=…`, so what the client
//! signed or pushed is what is answered, never parameters a browser could
//! edit. The issued code spends it. Entries live in the ephemeral store
//! (Redis when configured), named by the hash of the URI's random part.

use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::client_auth::{client_keys, pick};
use super::errors::ErrorCode;
use super::params::Params;
use crate::crypto::{random, sha256_hex};
use crate::domain::client::Client;
use crate::state::AppState;

/// What every request URI this server hands out starts with (RFC 9126 §2.2).
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// How long a kept request lives once a browser has started on it.
pub const INTERACTION: Duration = Duration::from_secs(30 * 60);

/// The algorithms a request object may be signed with (never `none`).
pub const SIGNING_ALGS: [&str; 3] = ["RS256", "ES256", "EdDSA"];

/// The longest a request object may be valid (`exp` − now), in seconds.
const MAX_LIFETIME: i64 = 3600;

/// Clock skew allowed on `exp` and `nbf` (seconds).
const LEEWAY: i64 = 30;

/// Claims of a request object that are about the object, not parameters.
const ENVELOPE: [&str; 5] = ["iss", "aud", "exp", "nbf", "iat"];

/// Why a request object or a request URI was refused, as the protocol
/// names it.
#[derive(Debug)]
pub struct Refused {
    pub code: ErrorCode,
    pub description: String,
}

impl Refused {
    fn object(why: impl Into<String>) -> Self {
        Refused {
            code: ErrorCode::InvalidRequestObject,
            description: format!("request object: {}", why.into()),
        }
    }

    fn uri(why: impl Into<String>) -> Self {
        Refused {
            code: ErrorCode::InvalidRequestUri,
            description: why.into(),
        }
    }

    fn server(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "request objects: internal error");
        Refused {
            code: ErrorCode::ServerError,
            description: "internal error".into(),
        }
    }
}

/// A kept authorization request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Kept {
    pub client_id: String,
    /// The authorization request's parameters, form-encoded.
    pub params: String,
    /// It came as a signed request object.
    pub signed: bool,
    /// It came through the pushed authorization request endpoint.
    pub via_par: bool,
    /// A browser has started on it (it then lives for [`INTERACTION`]).
    pub started: bool,
}

fn key_of(request_uri: &str) -> Option<String> {
    let handle = request_uri.strip_prefix(REQUEST_URI_PREFIX)?;
    (!handle.is_empty() && handle.len() <= 128).then(|| format!("par:{}", sha256_hex(handle)))
}

/// The most a hosted request object may weigh.
const MAX_OBJECT_BYTES: usize = 64 * 1024;

/// Fetches the request object a client hosts at one of its registered
/// `request_uris` (RFC 9101 §5.2): a plain GET with the shared client's
/// timeout and without following redirects, a 200 answer of at most
/// [`MAX_OBJECT_BYTES`], read as the compact JWS it must be.
pub async fn fetch_object(state: &AppState, client: &Client, uri: &str) -> Result<String, Refused> {
    let failed = |why: &str| {
        tracing::warn!(client = %client.id, %uri, why, "fetching a request object failed");
        Refused::uri(format!(
            "the request object at request_uri could not be fetched: {why}"
        ))
    };
    let mut response = state
        .http
        .get(uri)
        .header("accept", "application/oauth-authz-req+jwt, application/jwt")
        .send()
        .await
        .map_err(|_| failed("no answer"))?;
    if response.status() != reqwest::StatusCode::OK {
        return Err(failed("the answer was not 200"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|_| failed("the answer broke off"))?
    {
        if body.len() + chunk.len() > MAX_OBJECT_BYTES {
            return Err(failed("the answer is too large"));
        }
        body.extend_from_slice(&chunk);
    }
    String::from_utf8(body)
        .map(|text| text.trim().to_string())
        .map_err(|_| failed("the answer is not text"))
}

/// Verifies a request object (RFC 9101 §6): signed with one of the
/// client's keys by an algorithm of [`SIGNING_ALGS`], `iss` the client,
/// `aud` our issuer, `exp` within the hour; its claims become the
/// request's parameters (objects such as `claims` as JSON text).
pub async fn verify_object(
    state: &AppState,
    client: &Client,
    jwt: &str,
) -> Result<Params, Refused> {
    let header = jsonwebtoken::decode_header(jwt).map_err(|_| Refused::object("malformed"))?;
    if !matches!(
        header.alg,
        Algorithm::RS256 | Algorithm::ES256 | Algorithm::EdDSA
    ) {
        return Err(Refused::object(format!(
            "alg must be one of {}",
            SIGNING_ALGS.join(", ")
        )));
    }
    if let Some(typ) = header.typ.as_deref()
        && !typ.eq_ignore_ascii_case("oauth-authz-req+jwt")
        && !typ.eq_ignore_ascii_case("jwt")
    {
        return Err(Refused::object("typ must be oauth-authz-req+jwt"));
    }
    let no_keys = |_| Refused::object("the client has no keys to verify it with");
    let mut keys = client_keys(state, client, false).await.map_err(no_keys)?;
    if pick(&keys, header.kid.as_deref()).is_none() {
        keys = client_keys(state, client, true).await.map_err(no_keys)?;
    }
    let jwk = pick(&keys, header.kid.as_deref())
        .ok_or_else(|| Refused::object("no key of the client matches its kid"))?;
    let key = DecodingKey::from_jwk(jwk).map_err(|_| Refused::object("unusable client key"))?;
    let issuer = state.config.issuer();
    let mut v = Validation::new(header.alg);
    v.set_audience(&[issuer.as_str()]);
    v.set_issuer(&[client.id.as_str()]);
    v.set_required_spec_claims(&["exp", "iss", "aud"]);
    // `exp` and `nbf` are judged by the application's clock below.
    v.validate_exp = false;
    v.validate_nbf = false;
    let claims = jsonwebtoken::decode::<Value>(jwt, &key, &v)
        .map_err(|e| match e.kind() {
            ErrorKind::InvalidSignature => Refused::object("the signature does not verify"),
            ErrorKind::InvalidIssuer => Refused::object("iss must be the client_id"),
            ErrorKind::InvalidAudience => Refused::object("aud must be the issuer"),
            ErrorKind::MissingRequiredClaim(c) => Refused::object(format!("{c} is missing")),
            _ => Refused::object(e.to_string()),
        })?
        .claims;
    let now = state.clock.now().unix_timestamp();
    let number = |name: &str| {
        claims[name]
            .as_i64()
            .or_else(|| claims[name].as_f64().map(|f| f as i64))
    };
    let exp = number("exp").ok_or_else(|| Refused::object("exp must be a number"))?;
    if exp < now - LEEWAY {
        return Err(Refused::object("it has expired"));
    }
    if exp - now > MAX_LIFETIME {
        return Err(Refused::object("exp is more than an hour away"));
    }
    if number("nbf").is_some_and(|nbf| nbf > now + LEEWAY) {
        return Err(Refused::object("it is not valid yet (nbf)"));
    }
    let Value::Object(map) = claims else {
        return Err(Refused::object("the claims are not an object"));
    };
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in &map {
        if ENVELOPE.contains(&name.as_str()) {
            continue;
        }
        if name == "request" || name == "request_uri" {
            return Err(Refused::object(format!("it must not contain {name}")));
        }
        if name == "client_id" {
            if value.as_str() != Some(client.id.as_str()) {
                return Err(Refused::object("its client_id is another client's"));
            }
            continue;
        }
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Null => continue,
            other => other.to_string(),
        };
        form.append_pair(name, &text);
    }
    form.append_pair("client_id", &client.id);
    Params::parse(form.finish().as_bytes()).map_err(|e| Refused::object(e.to_string()))
}

/// Keeps `params` for `client` and answers the request URI and how many
/// seconds it may wait for a browser. A request object by value is kept
/// already started.
pub async fn keep(
    state: &AppState,
    client: &Client,
    params: &Params,
    signed: bool,
    via_par: bool,
) -> Result<(String, u64), Refused> {
    let handle = random::token().map_err(Refused::server)?;
    let uri = format!("{REQUEST_URI_PREFIX}{handle}");
    let kept = Kept {
        client_id: client.id.clone(),
        // Never the client's credentials.
        params: params.encode_without(&[
            "client_secret",
            "client_assertion",
            "client_assertion_type",
        ]),
        signed,
        via_par,
        started: !via_par,
    };
    let ttl = if via_par {
        Duration::from_secs(state.config.oidc.par_ttl_secs)
    } else {
        INTERACTION
    };
    store(state, &uri, &kept, ttl).await?;
    Ok((uri, ttl.as_secs()))
}

async fn store(state: &AppState, uri: &str, kept: &Kept, ttl: Duration) -> Result<(), Refused> {
    let key = key_of(uri).ok_or_else(|| Refused::uri("malformed request_uri"))?;
    let text = serde_json::to_string(kept).map_err(Refused::server)?;
    state
        .ephemeral
        .set(&key, &text, ttl)
        .await
        .map_err(Refused::server)
}

/// The request kept under `request_uri` for `client`; the first time a
/// browser arrives with it, it starts living for [`INTERACTION`].
pub async fn resolve(
    state: &AppState,
    client: &Client,
    request_uri: &str,
) -> Result<Kept, Refused> {
    let gone = || Refused::uri("request_uri is unknown, expired or already used");
    let key = key_of(request_uri).ok_or_else(gone)?;
    let text = state
        .ephemeral
        .get(&key)
        .await
        .map_err(Refused::server)?
        .ok_or_else(gone)?;
    let mut kept: Kept = serde_json::from_str(&text).map_err(Refused::server)?;
    // Another client's URI is as unknown as one never made.
    if kept.client_id != client.id {
        return Err(gone());
    }
    if !kept.started {
        kept.started = true;
        store(state, request_uri, &kept, INTERACTION).await?;
    }
    Ok(kept)
}

/// Replaces the parameters kept under `request_uri` (after the login or
/// consent page answered `prompt` and `max_age`).
pub async fn rewrite(state: &AppState, request_uri: &str, params: String) -> Result<(), Refused> {
    let key = key_of(request_uri).ok_or_else(|| Refused::uri("malformed request_uri"))?;
    let Some(text) = state.ephemeral.get(&key).await.map_err(Refused::server)? else {
        return Ok(());
    };
    let mut kept: Kept = serde_json::from_str(&text).map_err(Refused::server)?;
    kept.params = params;
    store(state, request_uri, &kept, INTERACTION).await
}

/// The code was issued: the request URI is used up (RFC 9126 §4).
pub async fn spend(state: &AppState, request_uri: &str) -> Result<(), Refused> {
    if let Some(key) = key_of(request_uri) {
        state
            .ephemeral
            .delete(&key)
            .await
            .map_err(Refused::server)?;
    }
    Ok(())
}
