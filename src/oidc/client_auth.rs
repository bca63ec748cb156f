//! Client authentication at the token, introspection and revocation
//! endpoints (RFC 6749 §2.3; RFC 7523 §2.2 for private_key_jwt). Exactly
//! one method per request, and it must be the one the client registered —
//! except that a client with a secret may send it either way: Basic and
//! the form body carry the same secret (RFC 6749 §2.3.1 lets a server
//! take both), so refusing one only breaks libraries that prefer the
//! other. A `private_key_jwt` client must sign with its keys.

use axum::http::{HeaderMap, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use super::errors::{ErrorCode, OAuthError};
use super::params::Params;
use crate::crypto::jws::Parsed;
use crate::domain::client::{AuthMethod, Client};
use crate::routes;
use crate::service::clients;
use crate::state::AppState;

pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let bad = || OAuthError::invalid_client("malformed Basic credentials", true);
    let text = value.to_str().map_err(|_| bad())?;
    let Some(encoded) = text
        .strip_prefix("Basic ")
        .or_else(|| text.strip_prefix("basic "))
    else {
        return Err(OAuthError::invalid_request(
            "unsupported Authorization scheme",
        ));
    };
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).map_err(|_| bad())?)
        .map_err(|_| bad())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
    // RFC 6749 §2.3.1: both parts are form-urlencoded before joining.
    let decode = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    Ok(Some((
        decode(id).ok_or_else(bad)?,
        decode(secret).ok_or_else(bad)?,
    )))
}

/// Reads the form body of a back-channel request (token, introspection,
/// revocation), insisting on the form content type (RFC 6749 §4.1.3,
/// RFC 7662 §2.1, RFC 7009 §2.1). Here rather than in `token` so that the
/// endpoints depend on client authentication and not the other way round.
pub fn form_params(headers: &HeaderMap, body: &[u8]) -> Result<Params, OAuthError> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';').next().is_some_and(|m| {
                m.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
        });
    if !is_form {
        return Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    Params::parse(body).map_err(|e| OAuthError::invalid_request(e.to_string()))
}

/// Identifies and authenticates the calling client.
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    params: &Params,
) -> Result<Client, OAuthError> {
    let basic = basic_credentials(headers)?;
    let post_secret = params.get("client_secret");
    let assertion = params.get("client_assertion");
    let used = [basic.is_some(), post_secret.is_some(), assertion.is_some()]
        .iter()
        .filter(|b| **b)
        .count();
    if used > 1 {
        return Err(OAuthError::invalid_request(
            "more than one client authentication method used",
        ));
    }
    let is_basic = basic.is_some();
    let unknown = || OAuthError::invalid_client("client authentication failed", is_basic);

    let (method, client_id, secret) = if let Some((id, secret)) = basic {
        (AuthMethod::ClientSecretBasic, id, Some(secret))
    } else if let Some(secret) = post_secret {
        let id = params
            .get("client_id")
            .ok_or_else(|| OAuthError::invalid_request("client_id is missing"))?;
        (
            AuthMethod::ClientSecretPost,
            id.to_string(),
            Some(secret.to_string()),
        )
    } else if let Some(assertion) = assertion {
        if params.get("client_assertion_type") != Some(ASSERTION_TYPE) {
            return Err(OAuthError::invalid_request(
                "client_assertion_type must be jwt-bearer (RFC 7523)",
            ));
        }
        let parsed = Parsed::parse(assertion)
            .map_err(|_| OAuthError::invalid_client("malformed client assertion", false))?;
        let iss = parsed.claims["iss"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if let Some(id) = params.get("client_id")
            && id != iss
        {
            return Err(OAuthError::invalid_client(
                "client_id does not match the assertion",
                false,
            ));
        }
        (AuthMethod::PrivateKeyJwt, iss, None)
    } else {
        let id = params
            .get("client_id")
            .ok_or_else(|| OAuthError::invalid_client("client authentication is missing", false))?;
        (AuthMethod::None, id.to_string(), None)
    };

    // From Basic credentials or an assertion's `iss`, which the form check
    // of `Params` does not see; PostgreSQL cannot compare text with NUL.
    if client_id.contains('\0') {
        return Err(OAuthError::invalid_request(
            "client_id contains a NUL character",
        ));
    }
    let Some(client) = clients::find(state, &client_id).await? else {
        tracing::info!(client = %client_id, "client authentication failed: unknown client");
        return Err(unknown());
    };
    // Whatever went wrong with a known client, the answer is the one an
    // unknown client gets, so client ids cannot be enumerated; the reason
    // goes to the log for the operator.
    match check(state, &client, method, secret, assertion).await {
        Ok(()) => Ok(client),
        Err(Rejected::Shown(e)) => Err(e),
        // Our own failure or an outage is no verdict on the client: told as is.
        Err(Rejected::Hidden(e))
            if matches!(
                e.code,
                ErrorCode::ServerError | ErrorCode::TemporarilyUnavailable
            ) =>
        {
            Err(e)
        }
        Err(Rejected::Hidden(e)) => {
            tracing::info!(client = %client.id, reason = %e.description, "client authentication failed");
            Err(unknown())
        }
    }
}

/// Why a known client was refused, and who may hear it.
enum Rejected {
    /// Told to nobody (answered like an unknown client, logged): anyone
    /// could have sent it, and the reason would confirm the client exists.
    Hidden(OAuthError),
    /// Told to the sender: it proved to hold the client's key (a correctly
    /// signed assertion refused for its claims: expired, replayed …).
    Shown(OAuthError),
}

/// Whether `client` authenticated as it registered.
async fn check(
    state: &AppState,
    client: &Client,
    method: AuthMethod,
    secret: Option<String>,
    assertion: Option<&str>,
) -> Result<(), Rejected> {
    let both_secret = |m: AuthMethod| {
        matches!(
            m,
            AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost
        )
    };
    let same_kind = both_secret(client.token_auth_method) && both_secret(method);
    if client.token_auth_method != method && !same_kind {
        return Err(Rejected::Hidden(OAuthError::invalid_client(
            format!(
                "this client must authenticate with {}",
                client.token_auth_method.as_str()
            ),
            false,
        )));
    }
    match method {
        AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost => {
            if !secret.is_some_and(|s| client.secret_matches(&s)) {
                return Err(Rejected::Hidden(OAuthError::invalid_client(
                    "wrong secret",
                    false,
                )));
            }
        }
        AuthMethod::PrivateKeyJwt => {
            verify_assertion(state, client, assertion.unwrap_or_default()).await?;
        }
        AuthMethod::None => {}
    }
    Ok(())
}

/// The request of `/introspect` and `/revoke`: a form body from an
/// authenticated client with a `token` parameter.
pub async fn token_request(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Client, String), OAuthError> {
    let params = form_params(headers, body)?;
    let client = authenticate(state, headers, &params).await?;
    let token = params
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("token is missing"))?;
    Ok((client, token.to_string()))
}

/// The client's public keys: registered inline, or fetched from its
/// `jwks_uri` and cached for [`clients::cache::JWKS_TTL`]. With
/// `fresh`, a cached set older than a few seconds is fetched again (the
/// client may have just rotated its key).
pub(crate) async fn client_keys(
    state: &AppState,
    client: &Client,
    fresh: bool,
) -> Result<JwkSet, OAuthError> {
    if let Some(set) = &client.jwks {
        return Ok(set.clone());
    }
    let Some(uri) = &client.jwks_uri else {
        return Err(OAuthError::invalid_client("client has no keys", false));
    };
    if let Some(set) = state.clients.cached_jwks(uri.as_str(), fresh) {
        return Ok(set);
    }
    let response = state.http.get(uri.as_str()).send().await.map_err(|e| {
        tracing::warn!(client = %client.id, error = %e, "fetching client jwks_uri failed");
        OAuthError::invalid_client("client keys could not be fetched", false)
    })?;
    let set = response
        .json::<JwkSet>()
        .await
        .map_err(|_| OAuthError::invalid_client("client jwks_uri is not a JWK set", false))?;
    state.clients.put_jwks(uri.as_str(), &set);
    Ok(set)
}

pub(crate) fn pick<'a>(keys: &'a JwkSet, kid: Option<&str>) -> Option<&'a jsonwebtoken::jwk::Jwk> {
    match kid {
        Some(kid) => keys.find(kid),
        None if keys.keys.len() == 1 => keys.keys.first(),
        None => None,
    }
}

/// Clock skew allowed on an assertion's `exp` (seconds).
const ASSERTION_LEEWAY: i64 = 30;

/// RFC 7523 §3: iss = sub = client_id, aud = our token endpoint (or the
/// issuer), exp required, jti single use, signed by one of the client's keys.
async fn verify_assertion(
    state: &AppState,
    client: &Client,
    assertion: &str,
) -> Result<(), Rejected> {
    let reason =
        |why: &str| OAuthError::invalid_client(format!("client assertion rejected: {why}"), false);
    // Until the signature is verified, the reason is not the sender's to hear.
    let fail = |why: &str| Rejected::Hidden(reason(why));
    let shown = |why: &str| Rejected::Shown(reason(why));
    let header = jsonwebtoken::decode_header(assertion).map_err(|_| fail("malformed header"))?;
    if !matches!(
        header.alg,
        Algorithm::RS256 | Algorithm::ES256 | Algorithm::EdDSA
    ) {
        return Err(fail("algorithm not accepted"));
    }
    let mut keys = client_keys(state, client, false)
        .await
        .map_err(Rejected::Hidden)?;
    if pick(&keys, header.kid.as_deref()).is_none() {
        keys = client_keys(state, client, true)
            .await
            .map_err(Rejected::Hidden)?;
    }
    let jwk = pick(&keys, header.kid.as_deref()).ok_or_else(|| fail("no matching key"))?;
    let key = DecodingKey::from_jwk(jwk).map_err(|_| fail("unusable key"))?;
    let issuer = state.config.issuer();
    let mut v = Validation::new(header.alg);
    v.set_audience(&[format!("{issuer}{}", routes::TOKEN), issuer.clone()]);
    v.set_issuer(&[client.id.as_str()]);
    v.sub = Some(client.id.clone());
    v.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    // jsonwebtoken would judge `exp` by the system clock: it is checked
    // below by the application's, with the same rule and leeway.
    v.validate_exp = false;
    // jsonwebtoken verifies the signature before it reads the claims: a
    // claim error means the signature was good.
    let data = jsonwebtoken::decode::<Value>(assertion, &key, &v).map_err(|e| match e.kind() {
        ErrorKind::MissingRequiredClaim(_)
        | ErrorKind::InvalidIssuer
        | ErrorKind::InvalidAudience
        | ErrorKind::InvalidSubject
        | ErrorKind::ImmatureSignature => shown(&e.to_string()),
        _ => fail(&e.to_string()),
    })?;
    let claims = data.claims;
    let now = state.clock.now().unix_timestamp();
    // Present and numeric: the required-claims check above refused others.
    let exp = claims["exp"]
        .as_i64()
        .or_else(|| claims["exp"].as_f64().map(|f| f as i64))
        .unwrap_or(now);
    if exp < now - ASSERTION_LEEWAY {
        let expired = jsonwebtoken::errors::Error::from(ErrorKind::ExpiredSignature);
        return Err(shown(&expired.to_string()));
    }
    let jti = claims["jti"]
        .as_str()
        .filter(|j| !j.is_empty() && j.len() <= 256)
        .ok_or_else(|| shown("jti is missing"))?;
    if exp - now > 3600 {
        return Err(shown("exp is too far in the future"));
    }
    // Remembered in the database until the assertion is refused as expired
    // anyway: losing the ephemeral store must not allow a replay.
    let fresh = state
        .store
        .use_client_assertion(&client.id, jti, exp + ASSERTION_LEEWAY + 60)
        .await
        .map_err(|e| Rejected::Hidden(OAuthError::from(e)))?;
    if !fresh {
        return Err(shown("jti was already used"));
    }
    Ok(())
}
