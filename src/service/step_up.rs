//! Risk-based SMS step-up.
//!
//! After a correct password, [`reasons_at_login`] decides whether the
//! phone must be proved too: an unknown device (its long-lived signed
//! device cookie was never verified for this account), an administrator,
//! too long since the last SMS verification, or a password reset just done.
//! Applications can demand it as well (a client registered with
//! `require_sms`, or `acr_values` asking for `urn:tongxing:acr:sms`); that
//! is checked at `/authorize`. The decision and its reasons are audited.

use serde_json::json;

use super::audit::{Entry, Outcome};
use super::codes::{self, Purpose, SendError, VerifyError};
use super::{Actor, Origin};
use crate::crypto::random;
use crate::domain::PhoneNumber;
use crate::i18n::Lang;
use crate::state::AppState;
use crate::store::StoreError;
use crate::store::users::User;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    UnknownDevice,
    Admin,
    Interval,
    PasswordReset,
    ClientRequires,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::UnknownDevice => "unknown_device",
            Reason::Admin => "admin",
            Reason::Interval => "interval",
            Reason::PasswordReset => "password_reset",
            Reason::ClientRequires => "client_requires",
        }
    }
}

/// The phone step-up codes go to: the security phone, else the login phone.
pub fn phone_of(user: &User) -> Option<PhoneNumber> {
    user.security_phone
        .as_deref()
        .or(user.login_phone.as_deref())
        .and_then(|p| PhoneNumber::parse(p).ok())
}

/// Length of the device-cookie key (HMAC-SHA256 wants at least the hash
/// size, RFC 2104 §3).
const DEVICE_KEY_LEN: usize = 32;

/// The key that signs device cookies: shared by all nodes through the
/// database, read once per process (not on every login).
///
/// A secret is never empty: when the random generator fails there is no
/// key and no sign-in decision, rather than a key everyone knows.
async fn device_key(state: &AppState) -> Result<&[u8], StoreError> {
    state
        .device_key
        .get_or_try_init(|| async {
            let fresh = random::bytes::<DEVICE_KEY_LEN>().map_err(no_key)?;
            let stored = state.store.server_secret("device-cookie", &fresh).await?;
            usable_key(stored)
        })
        .await
        .map(Vec::as_slice)
}

/// The stored device-cookie key, refused when it is too short to be one
/// (the store replaces an empty one left by an earlier version, so this
/// only refuses what no version wrote).
fn usable_key(key: Vec<u8>) -> Result<Vec<u8>, StoreError> {
    if key.len() < DEVICE_KEY_LEN {
        return Err(no_key(format!(
            "the stored device-cookie key has {} bytes, fewer than {DEVICE_KEY_LEN}",
            key.len()
        )));
    }
    Ok(key)
}

fn no_key(reason: impl std::fmt::Display) -> StoreError {
    StoreError::Db(sqlx::Error::Protocol(format!(
        "device-cookie key: {reason}"
    )))
}

fn mac(key: &[u8], id: &str) -> String {
    hex::encode(crate::crypto::hmac_sha256(key, id.as_bytes()))
}

/// The device a (signed) device cookie names, as the hash stored per
/// account; `None` for a missing or forged cookie.
async fn device_of(state: &AppState, cookie: Option<&str>) -> Result<Option<String>, StoreError> {
    let Some((id, sig)) = cookie.and_then(|c| c.split_once('.')) else {
        return Ok(None);
    };
    let key = device_key(state).await?;
    if id.len() != 43 || !random::constant_time_eq(mac(key, id).as_bytes(), sig.as_bytes()) {
        return Ok(None);
    }
    Ok(Some(crate::crypto::sha256_hex(id)))
}

/// A new device cookie value and the hash stored for it.
async fn new_device(state: &AppState) -> Result<(String, String), StoreError> {
    let key = device_key(state).await?;
    let id = random::token().map_err(|e| StoreError::Db(sqlx::Error::Protocol(e.to_string())))?;
    Ok((
        format!("{id}.{}", mac(key, &id)),
        crate::crypto::sha256_hex(&id),
    ))
}

/// After a correct password: the reasons this sign-in needs SMS as well
/// (empty: it does not), for the browser's device cookie; audited.
pub async fn decide(
    state: &AppState,
    user: &User,
    device_cookie: Option<&str>,
    origin: &Origin,
) -> Result<Vec<Reason>, StoreError> {
    let device = device_of(state, device_cookie).await?;
    let reasons = reasons_at_login(state, user, device.as_deref()).await?;
    record_decision(state, user, &reasons, origin).await?;
    Ok(reasons)
}

/// Why this sign-in needs SMS too (empty: it does not).
async fn reasons_at_login(
    state: &AppState,
    user: &User,
    device: Option<&str>,
) -> Result<Vec<Reason>, StoreError> {
    let c = &state.config.step_up;
    let mut reasons = Vec::new();
    // A password set by someone else or through recovery is not a risk
    // guess: the next sign-in proves the phone even with the rules off.
    if user.step_up_required {
        reasons.push(Reason::PasswordReset);
    }
    if !c.enabled {
        return Ok(if phone_of(user).is_some() {
            reasons
        } else {
            Vec::new()
        });
    }
    // The risk rules need a phone to send to. An account without one is not
    // locked out by them (the decision is audited as `no_phone`); only an
    // application that demands SMS refuses it.
    if phone_of(user).is_none() {
        return Ok(Vec::new());
    }
    if c.unknown_device {
        let trusted = match device {
            Some(d) => state.store.device_is_trusted(user.id, d).await?,
            None => false,
        };
        if !trusted {
            reasons.push(Reason::UnknownDevice);
        }
    }
    if c.admins && user.is_admin {
        reasons.push(Reason::Admin);
    }
    if c.interval_days > 0 && phone_of(user).is_some() {
        let due = user.last_sms_at.is_none_or(|t| {
            state.clock.now() - t > time::Duration::days(i64::from(c.interval_days))
        });
        if due {
            reasons.push(Reason::Interval);
        }
    }
    Ok(reasons)
}

/// Audits the decision taken for a sign-in.
pub async fn record_decision(
    state: &AppState,
    user: &User,
    reasons: &[Reason],
    origin: &Origin,
) -> Result<(), StoreError> {
    let names: Vec<&str> = reasons.iter().map(|r| r.as_str()).collect();
    Entry::new("login.step_up_decision", Outcome::Success)
        .actor(&Actor::user(user))
        .subject(user)
        .origin(origin)
        .detail(json!({ "required": !reasons.is_empty(), "reasons": names, "no_phone": phone_of(user).is_none() }))
        .queue(&state.audit)
        .await
}

/// How long until the step-up page may send another code.
pub async fn resend_wait(
    state: &AppState,
    user: &User,
) -> Result<std::time::Duration, crate::ephemeral::EphemeralError> {
    match phone_of(user) {
        Some(phone) => codes::resend_wait(state, codes::Recipient::Phone(&phone)).await,
        None => Ok(std::time::Duration::ZERO),
    }
}

pub async fn send(
    state: &AppState,
    user: &User,
    origin: &Origin,
    lang: Lang,
) -> Result<(), SendError> {
    let Some(phone) = phone_of(user) else {
        return Err(SendError::NoPhone);
    };
    codes::send(state, Purpose::Login, &phone, origin, lang).await
}

/// Checks the code. On success the account's phone is proved now and the
/// browser becomes a known device; returns the account as it is now and a
/// new device cookie value when the browser had no valid one (the caller
/// sets it).
pub async fn complete(
    state: &AppState,
    user: &User,
    code: &str,
    device_cookie: Option<&str>,
    origin: &Origin,
) -> Result<(User, Option<String>), VerifyError> {
    let internal = |e: StoreError| VerifyError::Internal(e.to_string());
    let Some(phone) = phone_of(user) else {
        return Err(VerifyError::NoCode);
    };
    let result = codes::verify(state, Purpose::Login, &phone, code).await;
    let outcome = Outcome::of(&result);
    Entry::new("login.step_up", outcome)
        .actor(&Actor::user(user))
        .subject(user)
        .origin(origin)
        .queue(&state.audit)
        .await
        .map_err(internal)?;
    result?;
    let (device, new_cookie) = match device_of(state, device_cookie).await.map_err(internal)? {
        Some(d) => (d, None),
        None => {
            let (value, hash) = new_device(state).await.map_err(internal)?;
            (hash, Some(value))
        }
    };
    state
        .store
        .record_sms_verification(user.id, Some(&device))
        .await
        .map_err(internal)?;
    let now = state
        .store
        .user_by_id(user.id)
        .await
        .map_err(internal)?
        .ok_or_else(|| VerifyError::Internal("the account is gone".into()))?;
    Ok((now, new_cookie))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_or_short_device_key_is_refused() {
        // What an earlier version stored when the random generator failed.
        assert!(usable_key(Vec::new()).is_err());
        assert!(usable_key(vec![7; DEVICE_KEY_LEN - 1]).is_err());
        // The positive control: a key of the full length is used as stored.
        assert_eq!(
            usable_key(vec![7; DEVICE_KEY_LEN]).unwrap(),
            vec![7; DEVICE_KEY_LEN]
        );
    }
}
