//! Signing keys and compact JWS (RFC 7515) with aws-lc-rs.
//!
//! A key is parsed from its PKCS#8 form once, when it is loaded; signing a
//! token is then a single aws-lc-rs call (no re-parsing per token, unlike
//! `jsonwebtoken::encode`). RS256 is mandatory for OIDC ID tokens
//! (OIDC Core §15.1); ES256 and EdDSA (Ed25519) are offered per client.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    self, ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, ED25519, EcdsaKeyPair,
    Ed25519KeyPair, KeyPair, RsaKeyPair, RsaPublicKeyComponents, UnparsedPublicKey,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256, Sha512};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Alg {
    RS256,
    ES256,
    EdDSA,
}

impl Alg {
    pub const ALL: [Alg; 3] = [Alg::RS256, Alg::ES256, Alg::EdDSA];

    pub fn as_str(self) -> &'static str {
        match self {
            Alg::RS256 => "RS256",
            Alg::ES256 => "ES256",
            Alg::EdDSA => "EdDSA",
        }
    }

    pub fn parse(s: &str) -> Option<Alg> {
        Alg::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// Left half of the hash used by `alg` — `at_hash` (OIDC Core §3.1.3.6).
    /// EdDSA with Ed25519 uses SHA-512 (as the OpenID Foundation clarified).
    pub fn half_hash(self, input: &[u8]) -> String {
        let full = match self {
            Alg::RS256 | Alg::ES256 => Sha256::digest(input).to_vec(),
            Alg::EdDSA => Sha512::digest(input).to_vec(),
        };
        URL_SAFE_NO_PAD.encode(&full[..full.len() / 2])
    }
}

#[derive(Debug, thiserror::Error)]
pub enum JwsError {
    #[error("key generation or parsing failed")]
    Key,
    #[error("signing failed")]
    Sign,
    #[error("malformed token")]
    Malformed,
    #[error("unknown key")]
    UnknownKey,
    #[error("bad signature")]
    BadSignature,
}

enum Pair {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// A parsed private key with its id.
pub struct SigningKey {
    pub kid: String,
    pub alg: Alg,
    pair: Pair,
    public_jwk: Value,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

impl SigningKey {
    /// A new key; returns it and its PKCS#8 DER for storage.
    pub fn generate(alg: Alg, kid: String) -> Result<(SigningKey, Vec<u8>), JwsError> {
        let der = match alg {
            Alg::RS256 => {
                let pair = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| JwsError::Key)?;
                pair.as_der().map_err(|_| JwsError::Key)?.as_ref().to_vec()
            }
            Alg::ES256 => {
                EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                    .map_err(|_| JwsError::Key)?
                    .as_ref()
                    .to_vec()
            }
            Alg::EdDSA => Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
                .map_err(|_| JwsError::Key)?
                .as_ref()
                .to_vec(),
        };
        Ok((SigningKey::from_pkcs8(alg, kid, &der)?, der))
    }

    pub fn from_pkcs8(alg: Alg, kid: String, der: &[u8]) -> Result<SigningKey, JwsError> {
        let (pair, mut jwk) = match alg {
            Alg::RS256 => {
                let pair = RsaKeyPair::from_pkcs8(der).map_err(|_| JwsError::Key)?;
                let public = pair.public_key();
                let jwk = json!({
                    "kty": "RSA",
                    "n": b64(public.modulus().big_endian_without_leading_zero()),
                    "e": b64(public.exponent().big_endian_without_leading_zero()),
                });
                (Pair::Rsa(pair), jwk)
            }
            Alg::ES256 => {
                let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
                    .map_err(|_| JwsError::Key)?;
                // Uncompressed point: 0x04 ‖ x ‖ y.
                let point = pair.public_key().as_ref();
                if point.len() != 65 {
                    return Err(JwsError::Key);
                }
                let jwk = json!({ "kty": "EC", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..]) });
                (Pair::Ec(pair), jwk)
            }
            Alg::EdDSA => {
                let pair = Ed25519KeyPair::from_pkcs8(der).map_err(|_| JwsError::Key)?;
                let jwk =
                    json!({ "kty": "OKP", "crv": "Ed25519", "x": b64(pair.public_key().as_ref()) });
                (Pair::Ed(pair), jwk)
            }
        };
        jwk["kid"] = json!(kid);
        jwk["alg"] = json!(alg.as_str());
        jwk["use"] = json!("sig");
        Ok(SigningKey {
            kid,
            alg,
            pair,
            public_jwk: jwk,
        })
    }

    pub fn public_jwk(&self) -> &Value {
        &self.public_jwk
    }

    fn sign_bytes(&self, msg: &[u8]) -> Result<Vec<u8>, JwsError> {
        match &self.pair {
            Pair::Rsa(pair) => {
                let mut sig = vec![0u8; pair.public_modulus_len()];
                pair.sign(
                    &signature::RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    msg,
                    &mut sig,
                )
                .map_err(|_| JwsError::Sign)?;
                Ok(sig)
            }
            Pair::Ec(pair) => Ok(pair
                .sign(&SystemRandom::new(), msg)
                .map_err(|_| JwsError::Sign)?
                .as_ref()
                .to_vec()),
            Pair::Ed(pair) => Ok(pair.sign(msg).as_ref().to_vec()),
        }
    }

    /// Compact JWS of `claims` with the given `typ` header.
    pub fn sign(&self, typ: &str, claims: &Value) -> Result<String, JwsError> {
        let header = json!({ "alg": self.alg.as_str(), "kid": self.kid, "typ": typ });
        self.sign_with_header(&header, claims)
    }

    /// Compact JWS of `claims` under `header` as given (its `alg` is the
    /// signer's to set right).
    pub fn sign_with_header(&self, header: &Value, claims: &Value) -> Result<String, JwsError> {
        let mut out = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let sig = self.sign_bytes(out.as_bytes())?;
        out.push('.');
        out.push_str(&b64(&sig));
        Ok(out)
    }

    /// Checks a signature made by this key (our own tokens coming back).
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        // The public half comes straight from the parsed key pair: nothing
        // is decoded per verification.
        match &self.pair {
            Pair::Rsa(pair) => {
                let public = pair.public_key();
                RsaPublicKeyComponents {
                    n: public.modulus().big_endian_without_leading_zero(),
                    e: public.exponent().big_endian_without_leading_zero(),
                }
                .verify(&signature::RSA_PKCS1_2048_8192_SHA256, msg, sig)
                .is_ok()
            }
            Pair::Ec(pair) => {
                UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, pair.public_key().as_ref())
                    .verify(msg, sig)
                    .is_ok()
            }
            Pair::Ed(pair) => UnparsedPublicKey::new(&ED25519, pair.public_key().as_ref())
                .verify(msg, sig)
                .is_ok(),
        }
    }
}

/// A compact JWS split into its parts (signature not yet checked).
pub struct Parsed {
    pub header: Value,
    pub claims: Value,
    pub signing_input: String,
    pub signature: Vec<u8>,
}

impl Parsed {
    pub fn parse(token: &str) -> Result<Parsed, JwsError> {
        if token.len() > 16 * 1024 {
            return Err(JwsError::Malformed);
        }
        let mut parts = token.split('.');
        let (Some(h), Some(c), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwsError::Malformed);
        };
        let decode = |p: &str| URL_SAFE_NO_PAD.decode(p).map_err(|_| JwsError::Malformed);
        let header: Value = serde_json::from_slice(&decode(h)?).map_err(|_| JwsError::Malformed)?;
        let claims: Value = serde_json::from_slice(&decode(c)?).map_err(|_| JwsError::Malformed)?;
        if !header.is_object() || !claims.is_object() {
            return Err(JwsError::Malformed);
        }
        Ok(Parsed {
            header,
            claims,
            signing_input: format!("{h}.{c}"),
            signature: decode(s)?,
        })
    }

    pub fn kid(&self) -> Option<&str> {
        self.header["kid"].as_str()
    }

    pub fn typ(&self) -> Option<&str> {
        self.header["typ"].as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_and_verify_each_algorithm() {
        for alg in Alg::ALL {
            let (key, der) = SigningKey::generate(alg, format!("k-{}", alg.as_str())).unwrap();
            let reloaded = SigningKey::from_pkcs8(alg, key.kid.clone(), &der).unwrap();
            let token = reloaded.sign("JWT", &json!({ "sub": "x" })).unwrap();
            let parsed = Parsed::parse(&token).unwrap();
            assert_eq!(parsed.kid(), Some(key.kid.as_str()));
            assert_eq!(parsed.header["alg"], alg.as_str());
            assert!(key.verify(parsed.signing_input.as_bytes(), &parsed.signature));
            assert!(!key.verify(b"other", &parsed.signature));
            // The JWK must be usable by a standard library.
            let jwk: jsonwebtoken::jwk::Jwk =
                serde_json::from_value(key.public_jwk().clone()).unwrap();
            let decoding = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
            let mut v = jsonwebtoken::Validation::new(match alg {
                Alg::RS256 => jsonwebtoken::Algorithm::RS256,
                Alg::ES256 => jsonwebtoken::Algorithm::ES256,
                Alg::EdDSA => jsonwebtoken::Algorithm::EdDSA,
            });
            v.required_spec_claims.clear();
            v.validate_exp = false;
            jsonwebtoken::decode::<Value>(&token, &decoding, &v).unwrap();
        }
    }

    #[test]
    fn at_hash_uses_the_algorithms_hash() {
        // OIDC Core §3.1.3.6: base64url of the left half of the hash.
        assert_eq!(Alg::RS256.half_hash(b"abc").len(), 22);
        assert_eq!(Alg::EdDSA.half_hash(b"abc").len(), 43);
    }
}
