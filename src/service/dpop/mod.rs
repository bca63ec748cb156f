//! DPoP (RFC 9449): proofs of possession that bind access and refresh
//! tokens to a key the client holds.
//!
//! ```text
//!  client                                   Tongxing
//!  POST /token + DPoP: proof(htm, htu)  ->  verify → jkt (key thumbprint)
//!                                       <-  400 use_dpop_nonce + DPoP-Nonce
//!  POST /token + DPoP: proof(…, nonce)  ->  token with cnf.jkt, token_type DPoP
//!  GET /userinfo                            the proof's key must be cnf.jkt,
//!    Authorization: DPoP <token>        ->  its ath the token's hash
//!    DPoP: proof(htm, htu, ath, nonce)
//! ```
//!
//! * A proof is verified as §4.3 lists: one JWT of `typ` `dpop+jwt`, an
//!   asymmetric algorithm of [`ALGS`], a public `jwk` in the header that
//!   verifies the signature, `htm` and `htu` of this request, `iat` within
//!   `oidc.dpop_proof_max_age_secs` of now, `ath` when a token goes with
//!   it, the nonce when nonces are required, and a `jti` never seen before.
//! * `jti`s are remembered in the ephemeral store (Redis when there are
//!   several nodes, so every node sees them) for twice the accepted age.
//! * Nonces (§8) are random values kept in the ephemeral store for
//!   [`nonces::NONCE_TTL`]; each node hands out its current one and
//!   makes a new one every [`nonces::NONCE_FRESH`]. A nonce this node made is
//!   recognised without a round trip; another node's is found in the store.
//!   Should the store lose its data, the spent `jti`s go with it: a proof
//!   could then be replayed until its `iat` is too old, the same window as
//!   without nonces.

pub mod nonces;

use std::time::Duration;

use jsonwebtoken::jwk::{Jwk, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use self::nonces::NonceError;
use crate::crypto::jws::Parsed;
use crate::crypto::sha256_hex;
use crate::ephemeral::EphemeralError;
use crate::state::AppState;

/// The proof algorithms accepted (published as
/// `dpop_signing_alg_values_supported`): asymmetric only (§4.2).
pub const ALGS: &[&str] = &["ES256", "ES384", "EdDSA", "RS256", "PS256"];

/// The JWT `typ` of a proof (§4.2).
const TYP: &str = "dpop+jwt";

#[derive(Debug, thiserror::Error)]
pub enum DpopError {
    /// The proof is not valid (§5 and §7.1 `invalid_dpop_proof`); the
    /// reason may be shown to the client.
    #[error("{0}")]
    Invalid(String),
    /// The proof lacks a current nonce (§8 `use_dpop_nonce`); the answer
    /// carries this one.
    #[error("a DPoP nonce is required")]
    UseNonce(String),
    #[error("{0}")]
    Ephemeral(#[from] EphemeralError),
    #[error("random: {0}")]
    Random(#[from] getrandom::Error),
}

impl From<NonceError> for DpopError {
    fn from(e: NonceError) -> Self {
        match e {
            NonceError::Ephemeral(e) => Self::Ephemeral(e),
            NonceError::Random(e) => Self::Random(e),
        }
    }
}

fn invalid(why: impl Into<String>) -> DpopError {
    DpopError::Invalid(why.into())
}

/// What the request a proof goes with looks like.
pub struct Expect<'a> {
    /// The HTTP method, as sent.
    pub method: &'a str,
    /// The endpoint's full URI, without query or fragment.
    pub uri: &'a str,
    /// The access token presented with the proof (resource requests).
    pub access_token: Option<&'a str>,
}

/// A verified proof: the thumbprint (RFC 7638, SHA-256) of its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    pub jkt: String,
}

/// The nonce to hand out now (§8.1: in `DPoP-Nonce`).
pub async fn nonce(state: &AppState) -> Result<String, DpopError> {
    Ok(state
        .dpop_nonces
        .current(&state.ephemeral, state.clock.now())
        .await?)
}

/// The key types and curves each algorithm is used with: a key must be
/// of its algorithm's kind (RFC 7518 §3.1, RFC 8037 §3.1), so that one key
/// has one thumbprint.
fn key_fits(alg: &str, jwk: &Value) -> bool {
    let (kty, crv) = (jwk["kty"].as_str(), jwk["crv"].as_str());
    match alg {
        "ES256" => kty == Some("EC") && crv == Some("P-256"),
        "ES384" => kty == Some("EC") && crv == Some("P-384"),
        "EdDSA" => kty == Some("OKP") && crv == Some("Ed25519"),
        "RS256" | "PS256" => kty == Some("RSA"),
        _ => false,
    }
}

/// The RFC 7638 SHA-256 thumbprint of a public key, as `cnf.jkt` and
/// `dpop_jkt` carry it.
pub fn thumbprint(jwk: &Jwk) -> Option<String> {
    jwk.thumbprint(ThumbprintHash::SHA256).ok()
}

/// Whether `text` has the shape of a SHA-256 thumbprint (43 base64url
/// characters): what `dpop_jkt` must be.
pub fn is_thumbprint(text: &str) -> bool {
    text.len() == 43
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// base64url(SHA-256(token)): a proof's `ath` (§4.2).
pub fn token_hash(token: &str) -> String {
    crate::service::tokens::pkce_challenge(token)
}

/// The same resource by RFC 3986 §6 normalisation (case of scheme and
/// host, default port), ignoring query and fragment (§4.3 step 9).
fn same_uri(htu: &str, expected: &str) -> bool {
    let (Ok(a), Ok(b)) = (url::Url::parse(htu), url::Url::parse(expected)) else {
        return false;
    };
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
        && a.path() == b.path()
        && a.username() == b.username()
        && a.password() == b.password()
}

/// Verifies a proof for this request (§4.3) and remembers its `jti`.
pub async fn verify(
    state: &AppState,
    proof: &str,
    expect: &Expect<'_>,
) -> Result<Proof, DpopError> {
    let parsed = Parsed::parse(proof).map_err(|_| invalid("the DPoP proof is not a JWT"))?;
    // A media type: compared without regard to case (RFC 7515 §4.1.9).
    if !parsed.typ().is_some_and(|t| t.eq_ignore_ascii_case(TYP)) {
        return Err(invalid("the DPoP proof's typ must be dpop+jwt"));
    }
    let alg = parsed.header["alg"].as_str().unwrap_or_default();
    if !ALGS.contains(&alg) {
        return Err(invalid(format!(
            "the DPoP proof's alg must be one of {}",
            ALGS.join(", ")
        )));
    }
    let raw_jwk = parsed
        .header
        .get("jwk")
        .filter(|j| j.is_object())
        .ok_or_else(|| invalid("the DPoP proof's header has no jwk"))?;
    // §4.3 step 7: the public key only. A private member means the client
    // sent its secret (the key is compromised); refuse it outright.
    if ["d", "p", "q", "dp", "dq", "qi", "k"]
        .iter()
        .any(|m| raw_jwk.get(m).is_some())
    {
        return Err(invalid(
            "the DPoP proof's jwk must not contain a private key",
        ));
    }
    if !key_fits(alg, raw_jwk) || raw_jwk.get("alg").is_some_and(|a| a.as_str() != Some(alg)) {
        return Err(invalid(format!(
            "the DPoP proof's jwk is not a key for {alg}"
        )));
    }
    let jwk: Jwk = serde_json::from_value(raw_jwk.clone())
        .map_err(|_| invalid("the DPoP proof's jwk is not a usable public key"))?;
    let key = DecodingKey::from_jwk(&jwk)
        .map_err(|_| invalid("the DPoP proof's jwk is not a usable public key"))?;
    let algorithm: Algorithm = alg
        .parse()
        .map_err(|_| invalid("the DPoP proof's alg is not supported"))?;
    let mut v = Validation::new(algorithm);
    v.validate_exp = false;
    v.validate_aud = false;
    v.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<Value>(proof, &key, &v)
        .map_err(|_| invalid("the DPoP proof's signature does not verify with its jwk"))?
        .claims;
    let jkt = thumbprint(&jwk).ok_or_else(|| invalid("the DPoP proof's jwk has no thumbprint"))?;

    let jti = claims["jti"]
        .as_str()
        .filter(|j| !j.is_empty() && j.len() <= 256)
        .ok_or_else(|| invalid("the DPoP proof has no jti"))?;
    if claims["htm"].as_str() != Some(expect.method) {
        return Err(invalid(format!(
            "the DPoP proof's htm must be {}",
            expect.method
        )));
    }
    if !claims["htu"]
        .as_str()
        .is_some_and(|htu| same_uri(htu, expect.uri))
    {
        return Err(invalid(format!(
            "the DPoP proof's htu must be {}",
            expect.uri
        )));
    }
    let max_age = state.config.oidc.dpop_proof_max_age_secs as i64;
    let iat = claims["iat"]
        .as_i64()
        .or_else(|| claims["iat"].as_f64().map(|f| f as i64))
        .ok_or_else(|| invalid("the DPoP proof has no iat"))?;
    let now = state.clock.now().unix_timestamp();
    if now.abs_diff(iat) > max_age.unsigned_abs() {
        return Err(invalid(format!(
            "the DPoP proof's iat must be within {max_age} seconds of the server's time"
        )));
    }
    match (expect.access_token, claims.get("ath")) {
        (Some(token), Some(ath)) if ath.as_str() == Some(token_hash(token).as_str()) => {}
        (Some(_), Some(_)) => {
            return Err(invalid(
                "the DPoP proof's ath is not the hash of this access token",
            ));
        }
        (Some(_), None) => return Err(invalid("the DPoP proof has no ath")),
        (None, _) => {}
    }
    if state.config.oidc.dpop_nonce {
        let current = match claims["nonce"].as_str() {
            Some(n) => {
                state
                    .dpop_nonces
                    .accepts(&state.ephemeral, state.clock.now(), n)
                    .await?
            }
            None => false,
        };
        if !current {
            return Err(DpopError::UseNonce(nonce(state).await?));
        }
    }
    // Last, so that a proof refused above can be sent again once mended
    // (a nonce added): only an accepted proof spends its jti.
    let key = format!("dpop:jti:{}", sha256_hex(format!("{jkt}\n{jti}")));
    // Past the last moment a proof could still be accepted (an `iat`
    // `max_age` ahead, judged `max_age` later), with a margin.
    let ttl = Duration::from_secs(2 * max_age.unsigned_abs() + 5);
    if !state.ephemeral.set_nx(&key, "1", ttl).await? {
        return Err(invalid("the DPoP proof's jti was already used"));
    }
    Ok(Proof { jkt })
}

/// The key a token is bound to (`cnf.jkt`, RFC 9449 §6.1), if any.
pub fn bound_key(claims: &Value) -> Option<&str> {
    claims.get("cnf").and_then(|c| c["jkt"].as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_compare_as_rfc_3986_normalises_them() {
        let t = "https://id.example.org/token";
        assert!(same_uri("https://id.example.org/token", t));
        assert!(same_uri("HTTPS://ID.example.org:443/token?x=1#f", t));
        assert!(!same_uri("https://id.example.org/token/", t));
        assert!(!same_uri("http://id.example.org/token", t));
        assert!(!same_uri("https://id.example.org:8443/token", t));
        assert!(!same_uri("https://other.example.org/token", t));
        assert!(!same_uri("not a uri", t));
    }

    #[test]
    fn a_thumbprint_is_43_base64url_characters() {
        assert!(is_thumbprint("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"));
        assert!(!is_thumbprint("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4"));
        assert!(!is_thumbprint(
            "0ZcOCORZNYy+DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
        ));
    }

    #[test]
    fn the_rfc_7638_example_thumbprint() {
        // RFC 7638 §3.1's RSA key and its thumbprint.
        let jwk: Jwk = serde_json::from_value(serde_json::json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        }))
        .expect("jwk");
        assert_eq!(
            thumbprint(&jwk).as_deref(),
            Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
        );
    }
}
