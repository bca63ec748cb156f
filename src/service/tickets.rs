//! One-time tickets: a random token handed out (in a mailed link, or kept
//! in a browser session) whose record lives in the ephemeral store under
//! the token's hash, so a leaked store reveals no usable token. Recovery
//! links, recovery proofs and e-mail confirmation links are tickets.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::crypto::{random, sha256_hex};
use crate::ephemeral::EphemeralError;
use crate::state::AppState;

/// Tokens longer than this are not ours (and are not hashed at all).
const MAX_TOKEN: usize = 128;

#[derive(Debug, thiserror::Error)]
pub enum TicketError {
    #[error("{0}")]
    Ephemeral(#[from] EphemeralError),
    #[error("random: {0}")]
    Random(#[from] getrandom::Error),
    /// The record could not be written (a ticket is never stored empty).
    #[error("ticket record: {0}")]
    Record(#[from] serde_json::Error),
}

fn key(kind: &str, token: &str) -> String {
    format!("{kind}:{}", sha256_hex(token))
}

/// The hash a ticket's record is kept under (to remember which ticket is
/// the current one).
pub fn fingerprint(token: &str) -> String {
    sha256_hex(token)
}

/// Issues a ticket of `kind` for `record`, valid for `ttl`; returns the token.
pub async fn issue<T: Serialize>(
    state: &AppState,
    kind: &str,
    record: &T,
    ttl: Duration,
) -> Result<String, TicketError> {
    let token = random::token()?;
    let value = serde_json::to_string(record)?;
    state.ephemeral.set(&key(kind, &token), &value, ttl).await?;
    Ok(token)
}

/// The record of a live ticket (not used up by reading).
pub async fn read<T: DeserializeOwned>(
    state: &AppState,
    kind: &str,
    token: &str,
) -> Result<Option<T>, EphemeralError> {
    if token.is_empty() || token.len() > MAX_TOKEN {
        return Ok(None);
    }
    Ok(state
        .ephemeral
        .get(&key(kind, token))
        .await?
        .and_then(|raw| serde_json::from_str(&raw).ok()))
}

/// Uses the ticket up; `false` when it was already gone (only one caller
/// can take it).
pub async fn take(state: &AppState, kind: &str, token: &str) -> Result<bool, EphemeralError> {
    Ok(state.ephemeral.take(&key(kind, token)).await?.is_some())
}

/// Withdraws a ticket.
pub async fn revoke(state: &AppState, kind: &str, token: &str) -> Result<(), EphemeralError> {
    state.ephemeral.delete(&key(kind, token)).await
}

/// The absolute URL of `route` carrying `token`, for a mail.
pub fn link(state: &AppState, route: &str, token: &str) -> String {
    format!("{}{route}?token={token}", state.config.issuer())
}
