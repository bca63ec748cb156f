//! This node's DPoP nonce (RFC 9449 §8), held apart from the proof checks
//! so the application state can own it (see [`super`] for the scheme).

use std::sync::Mutex;
use std::time::Duration;

use time::OffsetDateTime;

use crate::crypto::{random, sha256_hex};
use crate::ephemeral::{Ephemeral, EphemeralError};

/// How long a nonce is accepted after it was made.
pub const NONCE_TTL: Duration = Duration::from_secs(300);
/// How long a node hands out the same nonce before it makes a new one.
pub const NONCE_FRESH: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum NonceError {
    #[error("{0}")]
    Ephemeral(#[from] EphemeralError),
    #[error("random: {0}")]
    Random(#[from] getrandom::Error),
}

/// This node's current nonce and when it made it.
#[derive(Default)]
pub struct Nonces {
    current: Mutex<Option<(String, OffsetDateTime)>>,
}

fn key(nonce: &str) -> String {
    format!("dpop:nonce:{}", sha256_hex(nonce))
}

impl Nonces {
    fn mine(&self) -> Option<(String, OffsetDateTime)> {
        self.current.lock().ok().and_then(|c| c.clone())
    }

    /// The nonce to hand out at `now` (§8.1: in `DPoP-Nonce`): this node's
    /// current one, or a new one kept in the ephemeral store for every node.
    pub async fn current(
        &self,
        ephemeral: &Ephemeral,
        now: OffsetDateTime,
    ) -> Result<String, NonceError> {
        if let Some((n, made)) = self.mine()
            && made <= now
            && now - made < NONCE_FRESH
        {
            return Ok(n);
        }
        let n = random::token()?;
        ephemeral.set(&key(&n), "1", NONCE_TTL).await?;
        if let Ok(mut c) = self.current.lock() {
            *c = Some((n.clone(), now));
        }
        Ok(n)
    }

    /// Whether `nonce` is one this deployment handed out and still accepts:
    /// this node's own without a round trip, another node's from the store.
    pub async fn accepts(
        &self,
        ephemeral: &Ephemeral,
        now: OffsetDateTime,
        nonce: &str,
    ) -> Result<bool, EphemeralError> {
        let mine = self
            .mine()
            .is_some_and(|(n, made)| n == nonce && made <= now && now - made < NONCE_TTL);
        if mine {
            return Ok(true);
        }
        Ok(ephemeral.get(&key(nonce)).await?.is_some())
    }
}
