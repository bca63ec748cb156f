//! One-time tickets: a random token handed out (in a mailed link, or kept
//! in a browser session) whose record lives in the ephemeral store under
//! the token's hash, so a leaked store reveals no usable token. Recovery
//! links, recovery proofs and e-mail confirmation links are tickets.
//!
//! A used or withdrawn ticket is also recorded as spent in the database
//! (by the same hash, until it would have expired): should the ephemeral
//! store give the record back (a failover to a replica that missed the
//! delete, a restore from a snapshot), the ticket still counts as gone.
//! Losing the ephemeral store only ends the tickets still out.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::crypto::{random, sha256_hex};
use crate::ephemeral::EphemeralError;
use crate::state::AppState;
use crate::store::StoreError;

/// Tokens longer than this are not ours (and are not hashed at all).
const MAX_TOKEN: usize = 128;

#[derive(Debug, thiserror::Error)]
pub enum TicketError {
    #[error("{0}")]
    Ephemeral(#[from] EphemeralError),
    #[error("{0}")]
    Store(#[from] StoreError),
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
) -> Result<Option<T>, TicketError> {
    if token.is_empty() || token.len() > MAX_TOKEN {
        return Ok(None);
    }
    let Some(raw) = state.ephemeral.get(&key(kind, token)).await? else {
        return Ok(None);
    };
    if state.store.ticket_spent(&fingerprint(token)).await? {
        return Ok(None);
    }
    Ok(serde_json::from_str(&raw).ok())
}

/// Records the ticket as spent until its record would expire; `false`
/// when there is no live record or it was spent already.
async fn spend(state: &AppState, kind: &str, token: &str) -> Result<bool, TicketError> {
    if token.is_empty() || token.len() > MAX_TOKEN {
        return Ok(false);
    }
    let Some(left) = state.ephemeral.ttl(&key(kind, token)).await? else {
        return Ok(false);
    };
    let left = i64::try_from(left.as_secs()).unwrap_or(i64::MAX);
    let until = state
        .clock
        .now()
        .unix_timestamp()
        .saturating_add(left)
        .saturating_add(1);
    Ok(state.store.spend_ticket(&fingerprint(token), until).await?)
}

/// Uses the ticket up; `false` when it was already gone (only one caller
/// can take it: the database decides).
pub async fn take(state: &AppState, kind: &str, token: &str) -> Result<bool, TicketError> {
    if !spend(state, kind, token).await? {
        return Ok(false);
    }
    Ok(state.ephemeral.take(&key(kind, token)).await?.is_some())
}

/// Withdraws a ticket.
pub async fn revoke(state: &AppState, kind: &str, token: &str) -> Result<(), TicketError> {
    spend(state, kind, token).await?;
    Ok(state.ephemeral.delete(&key(kind, token)).await?)
}

/// The absolute URL of `route` carrying `token`, for a mail.
pub fn link(state: &AppState, route: &str, token: &str) -> String {
    format!("{}{route}?token={token}", state.config.issuer())
}
