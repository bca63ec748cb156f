//! The device authorization grant (RFC 8628), for command-line tools and
//! lab instruments that cannot show a browser.
//!
//! ```text
//! device ─POST /device_authorization─▶ device_code, user_code (BCDF-GHJK), interval
//! person ─/device─▶ types the user code ─▶ confirms the application
//!        ─▶ /authorize (the browser flow itself: sign-in, step-up, blocks,
//!           consent), whose redirect URI is our own /device/callback and
//!           whose PKCE verifier only this entry knows
//!        ─▶ /device/callback: the code (or the error) is kept in the entry
//! device ─POST /token grant_type=…:device_code─▶ authorization_pending,
//!        slow_down, access_denied, expired_token, or the code redeemed
//!        exactly as an authorization code is (single use, replay revokes)
//! ```
//!
//! Entries live in the ephemeral store (Redis when configured): only the
//! hash of the device code names them, and the user code leads to that
//! hash until the person has answered.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::audit::{Entry, Outcome};
use super::clients::Client;
use crate::crypto::{random, sha256_hex};
use crate::domain::Scope;
use crate::ephemeral::EphemeralError;
use crate::routes;
use crate::state::AppState;

/// The `grant_type` of the token request (RFC 8628 §3.4).
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// Upper-case consonants: no vowels (no words spelt by chance), none that
/// look alike (RFC 8628 §6.1). 20^8 ≈ 2.6·10^10 codes.
const USER_CODE_ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";
const USER_CODE_LEN: usize = 8;
/// How much longer an expired entry is kept, so that polling it answers
/// `expired_token` rather than `invalid_grant`.
const EXPIRED_KEPT: Duration = Duration::from_secs(600);
/// What `slow_down` adds to the interval (RFC 8628 §3.5).
const SLOW_DOWN_STEP: u64 = 5;

#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error("this client may not use the device authorization grant")]
    NotAllowed,
    #[error(transparent)]
    Ephemeral(#[from] EphemeralError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("random source: {0}")]
    Random(#[from] getrandom::Error),
    #[error("no free user code after several draws")]
    NoUserCode,
    #[error("a device entry could not be read: {0}")]
    Corrupt(#[from] serde_json::Error),
}

/// Where the person's answer stands.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Status {
    Pending,
    /// The authorization code the browser flow produced.
    Approved {
        code: String,
    },
    Denied,
}

/// A device authorization in progress.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeviceEntry {
    pub client_id: String,
    pub scope: String,
    /// The user code, normalized (no dash).
    pub user_code: String,
    /// The PKCE verifier of the browser flow's code (never leaves here).
    verifier: String,
    /// Seconds the device waits between polls.
    pub interval: u64,
    /// Unix seconds after which the device code is expired.
    expires_at: i64,
    pub status: Status,
}

/// The answer of the device authorization endpoint.
pub struct Started {
    pub device_code: String,
    /// As the person reads it: `BCDF-GHJK`.
    pub user_code: String,
    pub expires_in: u64,
    pub interval: u64,
}

fn entry_key(handle: &str) -> String {
    format!("device:{handle}")
}

fn user_key(user_code: &str) -> String {
    format!("device-user:{user_code}")
}

/// The handle of a device code: its hash, which is all the store knows.
fn handle_of(device_code: &str) -> String {
    sha256_hex(device_code)
}

/// Whether `client` may use the grant (`oidc.device_clients`).
pub fn allowed(state: &AppState, client: &Client) -> bool {
    state
        .config
        .oidc
        .device_clients
        .iter()
        .any(|c| c == &client.id)
}

/// The user code as people read and type it: two groups of four.
pub fn display(user_code: &str) -> String {
    if user_code.len() == USER_CODE_LEN {
        format!("{}-{}", &user_code[..4], &user_code[4..])
    } else {
        user_code.to_string()
    }
}

/// A typed user code, forgiving case, spaces and dashes; `None` when it
/// cannot be one of ours.
pub fn normalize(input: &str) -> Option<String> {
    let code: String = input
        .chars()
        .filter(|c| !matches!(c, '-' | ' ' | '\u{3000}'))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (code.len() == USER_CODE_LEN && code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b)))
        .then_some(code)
}

/// Our own redirect URI of the browser flow a device authorization runs.
pub fn callback_uri(state: &AppState) -> String {
    format!("{}{}", state.config.issuer(), routes::DEVICE_CALLBACK)
}

fn now(state: &AppState) -> i64 {
    state.clock.now().unix_timestamp()
}

/// Starts a device authorization for `client` and `scope` (checked by the
/// caller as an authorization request's scope is).
pub async fn start(
    state: &AppState,
    client: &Client,
    scope: &Scope,
) -> Result<Started, DeviceError> {
    if !allowed(state, client) {
        return Err(DeviceError::NotAllowed);
    }
    let c = &state.config.oidc;
    let device_code = random::token()?;
    let handle = handle_of(&device_code);
    let life = Duration::from_secs(c.device_code_ttl_secs);
    // A user code names one entry at a time: draw again on a collision.
    let mut user_code = random::from_alphabet(USER_CODE_ALPHABET, USER_CODE_LEN)?;
    let mut tries = 0;
    while !state
        .ephemeral
        .set_nx(&user_key(&user_code), &handle, life)
        .await?
    {
        tries += 1;
        if tries > 5 {
            return Err(DeviceError::NoUserCode);
        }
        user_code = random::from_alphabet(USER_CODE_ALPHABET, USER_CODE_LEN)?;
    }
    let entry = DeviceEntry {
        client_id: client.id.clone(),
        scope: scope.to_string(),
        user_code: user_code.clone(),
        verifier: random::token()?,
        interval: c.device_interval_secs,
        expires_at: now(state).saturating_add(i64::try_from(c.device_code_ttl_secs).unwrap_or(0)),
        status: Status::Pending,
    };
    state
        .ephemeral
        .set(
            &entry_key(&handle),
            &serde_json::to_string(&entry)?,
            life + EXPIRED_KEPT,
        )
        .await?;
    Entry::new("device.authorization_started", Outcome::Success)
        .detail(json!({ "client_id": client.id, "scope": entry.scope }))
        .write(&state.store)
        .await?;
    Ok(Started {
        device_code,
        user_code: display(&user_code),
        expires_in: c.device_code_ttl_secs,
        interval: c.device_interval_secs,
    })
}

async fn read(state: &AppState, handle: &str) -> Result<Option<DeviceEntry>, DeviceError> {
    match state.ephemeral.get(&entry_key(handle)).await? {
        Some(v) => Ok(Some(serde_json::from_str(&v)?)),
        None => Ok(None),
    }
}

/// Writes `entry` back for the rest of its life.
async fn write(state: &AppState, handle: &str, entry: &DeviceEntry) -> Result<(), DeviceError> {
    let key = entry_key(handle);
    let left = state
        .ephemeral
        .ttl(&key)
        .await?
        .unwrap_or(EXPIRED_KEPT)
        .max(Duration::from_secs(1));
    state
        .ephemeral
        .set(&key, &serde_json::to_string(entry)?, left)
        .await?;
    Ok(())
}

/// The pending authorization a typed user code names: its handle and
/// entry (`None`: no such code, expired, or already answered).
pub async fn find(
    state: &AppState,
    typed: &str,
) -> Result<Option<(String, DeviceEntry)>, DeviceError> {
    let Some(code) = normalize(typed) else {
        return Ok(None);
    };
    let Some(handle) = state.ephemeral.get(&user_key(&code)).await? else {
        return Ok(None);
    };
    Ok(read(state, &handle)
        .await?
        .filter(|e| e.status == Status::Pending && e.expires_at > now(state) && e.user_code == code)
        .map(|e| (handle, e)))
}

/// The browser flow's authorization request for the entry `handle`: our
/// callback as redirect URI, the handle as `state`, and the S256 challenge
/// of the entry's verifier.
pub fn authorize_url(state: &AppState, handle: &str, entry: &DeviceEntry) -> String {
    let challenge = super::tokens::pkce_challenge(&entry.verifier);
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", &entry.client_id)
        .append_pair("response_type", "code")
        .append_pair("redirect_uri", &callback_uri(state))
        .append_pair("scope", &entry.scope)
        .append_pair("state", handle)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .finish();
    format!("{}?{query}", routes::AUTHORIZE)
}

/// The person's answer for entry `handle`: the code the browser flow gave,
/// or a refusal. The user code is spent either way. `false` when there is
/// nothing pending to answer (expired, or answered before).
pub async fn settle(
    state: &AppState,
    handle: &str,
    code: Option<String>,
) -> Result<bool, DeviceError> {
    let Some(mut entry) = read(state, handle).await? else {
        return Ok(false);
    };
    if entry.status != Status::Pending || entry.expires_at <= now(state) {
        return Ok(false);
    }
    state.ephemeral.delete(&user_key(&entry.user_code)).await?;
    let approved = code.is_some();
    entry.status = match code {
        Some(code) => Status::Approved { code },
        None => Status::Denied,
    };
    write(state, handle, &entry).await?;
    let outcome = if approved {
        Outcome::Success
    } else {
        Outcome::Failure
    };
    Entry::new("device.answered", outcome)
        .detail(json!({ "client_id": entry.client_id, "approved": approved }))
        .write(&state.store)
        .await?;
    Ok(approved)
}

/// What a poll of the token endpoint finds (RFC 8628 §3.5).
#[derive(Debug, PartialEq, Eq)]
pub enum Poll {
    /// Not answered yet.
    Pending,
    /// Polled sooner than the interval; the interval grows.
    SlowDown,
    Denied,
    Expired,
    /// Unknown, another client's, or already redeemed.
    Invalid,
    /// Approved: the code to redeem and its PKCE verifier (the entry is
    /// gone: a device code is redeemed once).
    Approved {
        code: String,
        verifier: String,
    },
}

/// A poll by `client` with `device_code`.
pub async fn poll(
    state: &AppState,
    client: &Client,
    device_code: &str,
) -> Result<Poll, DeviceError> {
    if device_code.len() > 512 {
        return Ok(Poll::Invalid);
    }
    let handle = handle_of(device_code);
    let Some(mut entry) = read(state, &handle).await? else {
        return Ok(Poll::Invalid);
    };
    if entry.client_id != client.id {
        return Ok(Poll::Invalid);
    }
    if entry.expires_at <= now(state) {
        return Ok(Poll::Expired);
    }
    // One poll per interval: a faster one is told to slow down, and the
    // interval it must keep to from now on grows.
    let paced = state
        .ephemeral
        .set_nx(
            &format!("device-poll:{handle}"),
            "1",
            Duration::from_secs(entry.interval),
        )
        .await?;
    if !paced {
        entry.interval += SLOW_DOWN_STEP;
        write(state, &handle, &entry).await?;
        return Ok(Poll::SlowDown);
    }
    match entry.status {
        Status::Pending => Ok(Poll::Pending),
        Status::Denied => {
            state.ephemeral.delete(&entry_key(&handle)).await?;
            Ok(Poll::Denied)
        }
        Status::Approved { .. } => {
            // Taken, so that two polls at once redeem it once.
            let Some(taken) = state.ephemeral.take(&entry_key(&handle)).await? else {
                return Ok(Poll::Invalid);
            };
            let taken: DeviceEntry = serde_json::from_str(&taken)?;
            match taken.status {
                Status::Approved { code } => Ok(Poll::Approved {
                    code,
                    verifier: taken.verifier,
                }),
                _ => Ok(Poll::Invalid),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes_are_typed_forgivingly() {
        assert_eq!(normalize("bcdf-ghjk").as_deref(), Some("BCDFGHJK"));
        assert_eq!(normalize(" BCDF GHJK ").as_deref(), Some("BCDFGHJK"));
        assert_eq!(normalize("BCDF-GHJ"), None);
        // Vowels and digits are never in a user code.
        assert_eq!(normalize("ABCD-EFGH"), None);
        assert_eq!(normalize("BCDF-GHJ1"), None);
        assert_eq!(display("BCDFGHJK"), "BCDF-GHJK");
    }

    #[test]
    fn drawn_user_codes_use_the_alphabet() {
        for _ in 0..100 {
            let code = random::from_alphabet(USER_CODE_ALPHABET, USER_CODE_LEN).unwrap();
            assert_eq!(normalize(&code).as_deref(), Some(code.as_str()));
        }
    }
}
