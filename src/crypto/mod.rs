//! Cryptographic building blocks: password hashing, random secrets.

pub mod jws;
pub mod kek;
pub mod legacy;
pub mod password;
pub mod random;

pub use password::{HashError, PasswordHasher, Verified};

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// Hex SHA-256 — how tokens, client secrets and codes are stored, and how
/// values become short opaque keys.
pub fn sha256_hex(data: impl AsRef<[u8]>) -> String {
    hex::encode(Sha256::digest(data.as_ref()))
}

/// HMAC-SHA256 (device cookies, the SMS webhook and vendor signatures).
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mut m) => {
            m.update(data);
            m.finalize().into_bytes().to_vec()
        }
        // HMAC takes keys of any length; this cannot happen.
        Err(_) => Vec::new(),
    }
}
