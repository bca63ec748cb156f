//! Encryption of private signing keys at rest with a key-encryption key
//! (`TONGXING_KEY_ENCRYPTION_KEY`, 32 random bytes in base64): AES-256-GCM,
//! stored as nonce ‖ ciphertext ‖ tag, with the key id as associated data
//! so a ciphertext cannot be moved to another row.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::random;

pub struct Kek(LessSafeKey, String);

#[derive(Debug, thiserror::Error)]
pub enum KekError {
    #[error("key_encryption_key: must be 32 bytes in base64")]
    BadKey,
    #[error("a private key could not be decrypted (wrong key_encryption_key?)")]
    Decrypt,
    #[error("encryption failed")]
    Encrypt,
}

impl Kek {
    pub fn from_base64(text: &str) -> Result<Kek, KekError> {
        let bytes = STANDARD.decode(text.trim()).map_err(|_| KekError::BadKey)?;
        if bytes.len() != 32 {
            return Err(KekError::BadKey);
        }
        let key = UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| KekError::BadKey)?;
        // A fingerprint, not the key: names which key wrapped a value, so
        // a rotated-out key can still be found for what it wrapped.
        let id = super::sha256_hex([b"tongxing-kek-id:".as_slice(), &bytes].concat());
        Ok(Kek(LessSafeKey::new(key), format!("kek-{}", &id[..16])))
    }

    /// The key's id: a fingerprint of the key (stored beside what it
    /// wrapped, to pick the right key after a rotation).
    pub fn id(&self) -> &str {
        &self.1
    }

    pub fn seal(&self, kid: &str, plain: &[u8]) -> Result<Vec<u8>, KekError> {
        let nonce_bytes = random::bytes::<NONCE_LEN>().map_err(|_| KekError::Encrypt)?;
        let mut data = plain.to_vec();
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(kid.as_bytes()),
                &mut data,
            )
            .map_err(|_| KekError::Encrypt)?;
        let mut out = nonce_bytes.to_vec();
        out.extend(data);
        Ok(out)
    }

    pub fn open(&self, kid: &str, sealed: &[u8]) -> Result<Vec<u8>, KekError> {
        if sealed.len() < NONCE_LEN {
            return Err(KekError::Decrypt);
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| KekError::Decrypt)?;
        let mut data = body.to_vec();
        let plain = self
            .0
            .open_in_place(nonce, Aad::from(kid.as_bytes()), &mut data)
            .map_err(|_| KekError::Decrypt)?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_binding_to_the_key_id() {
        let kek = Kek::from_base64(&STANDARD.encode([7u8; 32])).unwrap();
        let sealed = kek.seal("k1", b"secret").unwrap();
        assert_eq!(kek.open("k1", &sealed).unwrap(), b"secret");
        assert!(kek.open("k2", &sealed).is_err());
        assert!(Kek::from_base64("short").is_err());
        let other = Kek::from_base64(&STANDARD.encode([8u8; 32])).unwrap();
        assert!(kek.id().starts_with("kek-") && kek.id().len() == 20);
        assert_ne!(kek.id(), other.id());
        assert!(other.open("k1", &sealed).is_err());
    }
}
