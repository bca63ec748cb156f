//! The security e-mail (密保邮箱): an address that can receive recovery
//! links once its owner has proved it by a confirmation link.
//!
//! Setting or changing it asks for the current password, then mails a link
//! to the new address; until the link is followed the old address (if
//! any) stays in force. Confirming moves the account to the new address
//! and tells the old one. Removing it asks for the password as well.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use super::audit::{Entry, Outcome};
use super::mail::{self, Letter};
use super::tickets;
use super::{Actor, Origin};
use crate::crypto::HashError;
use crate::domain::{Email, InvalidValue, SecretPassword};
use crate::ephemeral::EphemeralError;
use crate::i18n::Lang;
use crate::state::AppState;
use crate::store::StoreError;
use crate::store::users::User;

/// Confirmation mails per account: one a minute.
const MAIL_INTERVAL: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum EmailError {
    #[error("the current password is not correct")]
    WrongPassword,
    /// Too many wrong passwords for the account (login limits).
    #[error("locked out for {0:?}")]
    Locked(Duration),
    #[error("{0}")]
    Invalid(#[from] InvalidValue),
    #[error("this address is already the account's security e-mail")]
    Unchanged,
    #[error("wait {0:?} before asking for another mail")]
    TooSoon(Duration),
    /// The confirmation link is unknown, expired or used.
    #[error("the confirmation link is not valid")]
    InvalidLink,
    /// Another account has verified this address.
    #[error("this address is the security e-mail of another account")]
    Taken,
    #[error("the mail could not be sent")]
    Delivery,
    #[error("{0}")]
    Hash(#[from] HashError),
    #[error("{0}")]
    Internal(String),
}

impl From<StoreError> for EmailError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(_) => EmailError::Taken,
            other => EmailError::Internal(other.to_string()),
        }
    }
}

impl From<EphemeralError> for EmailError {
    fn from(e: EphemeralError) -> Self {
        EmailError::Internal(e.to_string())
    }
}

impl From<tickets::TicketError> for EmailError {
    fn from(e: tickets::TicketError) -> Self {
        EmailError::Internal(e.to_string())
    }
}

/// What a confirmation link stands for (kept under the link's hash).
#[derive(Serialize, Deserialize)]
struct LinkRecord {
    user_id: Uuid,
    email: String,
}

/// The account's one outstanding request (kept per account): only the
/// newest link counts, removing the address or a new password ends it.
#[derive(Serialize, Deserialize)]
struct Pending {
    email: String,
    link_hash: String,
    password_stamp: i64,
}

/// Ticket kind of confirmation links.
const LINK: &str = "email-confirm";

fn pending_key(user: &User) -> String {
    format!("email-pending:{}", user.id)
}

/// The current password, checked again before a recovery channel changes.
async fn reauthenticate(
    state: &AppState,
    user: &User,
    password: &SecretPassword,
    origin: &Origin,
) -> Result<(), EmailError> {
    use super::login::{LoginError, reauthenticate};
    match reauthenticate(state, user, password).await {
        Ok(true) => return Ok(()),
        Ok(false) => {}
        Err(LoginError::Locked(wait)) => return Err(EmailError::Locked(wait)),
        Err(LoginError::Hash(e)) => return Err(e.into()),
        Err(e) => return Err(EmailError::Internal(e.to_string())),
    }
    Entry::new("security_email.reauth_failed", Outcome::Failure)
        .actor(&Actor::user(user))
        .subject(user)
        .origin(origin)
        .write(&state.store)
        .await?;
    Err(EmailError::WrongPassword)
}

async fn pending_record(state: &AppState, user: &User) -> Result<Option<Pending>, EmailError> {
    Ok(state
        .ephemeral
        .get(&pending_key(user))
        .await?
        .and_then(|raw| serde_json::from_str::<Pending>(&raw).ok())
        .filter(|p| p.password_stamp == user.password_stamp()))
}

/// The address waiting for confirmation, if a link is still out.
pub async fn pending(state: &AppState, user: &User) -> Result<Option<String>, EmailError> {
    Ok(pending_record(state, user).await?.map(|p| p.email))
}

/// Mails a confirmation link to `address` (the account's new security
/// e-mail once confirmed).
pub async fn request_change(
    state: &AppState,
    user: &User,
    password: &SecretPassword,
    address: &str,
    lang: Lang,
    origin: &Origin,
) -> Result<(), EmailError> {
    reauthenticate(state, user, password, origin).await?;
    let email = Email::parse(address)?;
    // What the mail system will accept, refused now rather than at sending.
    if email.as_str().parse::<lettre::Address>().is_err() {
        return Err(InvalidValue::new("email", "is not a valid e-mail address").into());
    }
    let normalized = email.normalized();
    if user.security_email_verified && user.security_email.as_deref() == Some(normalized.as_str()) {
        return Err(EmailError::Unchanged);
    }
    let eph = &state.ephemeral;
    let recent = format!("email-confirm-recent:{}", user.id);
    if !eph.set_nx(&recent, "1", MAIL_INTERVAL).await? {
        let wait = eph.ttl(&recent).await?.unwrap_or(MAIL_INTERVAL);
        return Err(EmailError::TooSoon(wait));
    }
    let hours = state.config.mail.confirm_link_hours;
    let ttl = Duration::from_secs(hours * 3600);
    let record = LinkRecord {
        user_id: user.id,
        email: normalized.clone(),
    };
    let token = tickets::issue(state, LINK, &record, ttl)
        .await
        .map_err(|e| EmailError::Internal(e.to_string()))?;
    let pending = Pending {
        email: normalized,
        link_hash: tickets::fingerprint(&token),
        password_stamp: user.password_stamp(),
    };
    let link = tickets::link(state, crate::routes::ACCOUNT_EMAIL_CONFIRM, &token);
    Entry::new("security_email.confirmation_sent", Outcome::Success)
        .actor(&Actor::user(user))
        .subject(user)
        .origin(origin)
        .detail(json!({ "email": Email::masked(email.as_str()) }))
        .write(&state.store)
        .await?;
    match mail::send(
        state,
        user,
        email.as_str(),
        lang,
        &Letter::ConfirmEmail { link, hours },
        origin,
    )
    .await
    {
        // Only a delivered link replaces the outstanding one.
        Ok(()) => {
            let pending =
                serde_json::to_string(&pending).map_err(|e| EmailError::Internal(e.to_string()))?;
            Ok(eph.set(&pending_key(user), &pending, ttl).await?)
        }
        Err(mail::SendError::Store(e)) => Err(e.into()),
        Err(e) => {
            tracing::warn!(error = %e, "the confirmation mail was not sent");
            // Let the user try again at once.
            eph.delete(&recent).await?;
            tickets::revoke(state, LINK, &token).await?;
            Err(EmailError::Delivery)
        }
    }
}

/// The account and address a confirmation link is for (not used up by
/// looking).
pub async fn check_link(state: &AppState, token: &str) -> Result<(User, String), EmailError> {
    let record: LinkRecord = tickets::read(state, LINK, token)
        .await?
        .ok_or(EmailError::InvalidLink)?;
    let user = super::accounts::active(state, record.user_id)
        .await?
        .ok_or(EmailError::InvalidLink)?;
    // Only the account's newest request, made with its current password.
    let current = pending_record(state, &user)
        .await?
        .is_some_and(|p| p.link_hash == tickets::fingerprint(token) && p.email == record.email);
    if !current {
        return Err(EmailError::InvalidLink);
    }
    Ok((user, record.email))
}

/// Follows a confirmation link: the address becomes the verified security
/// e-mail, and the previous verified one (if another) is told.
pub async fn confirm(
    state: &AppState,
    token: &str,
    lang: Lang,
    origin: &Origin,
) -> Result<(User, String), EmailError> {
    let (user, email) = check_link(state, token).await?;
    // The pending record is the single-use item: whoever takes it confirms.
    // A record that changed meanwhile (a newer request, removal, another
    // password) means this link no longer counts.
    let eph = &state.ephemeral;
    let Some(raw) = eph.take(&pending_key(&user)).await? else {
        return Err(EmailError::InvalidLink);
    };
    let still_this = serde_json::from_str::<Pending>(&raw)
        .is_ok_and(|p| p.link_hash == tickets::fingerprint(token) && p.email == email);
    if !still_this {
        // A newer request slipped in: put it back for its own link.
        let ttl = Duration::from_secs(state.config.mail.confirm_link_hours * 3600);
        eph.set(&pending_key(&user), &raw, ttl).await?;
        return Err(EmailError::InvalidLink);
    }
    tickets::revoke(state, LINK, token).await?;
    let audit = Entry::new("security_email.verified", Outcome::Success)
        .actor(&Actor::user(&user))
        .subject(&user)
        .origin(origin)
        .detail(json!({ "email": Email::masked(&email) }))
        .finish();
    state
        .store
        .set_security_email(user.id, Some(&email), &audit)
        .await?;
    tell_old_address(state, &user, Some(&email), lang, origin);
    Ok((user, email))
}

/// Removes the security e-mail (recovery by e-mail ends).
pub async fn remove(
    state: &AppState,
    user: &User,
    password: &SecretPassword,
    lang: Lang,
    origin: &Origin,
) -> Result<(), EmailError> {
    reauthenticate(state, user, password, origin).await?;
    let audit = Entry::new("security_email.removed", Outcome::Success)
        .actor(&Actor::user(user))
        .subject(user)
        .origin(origin)
        .finish();
    state
        .store
        .set_security_email(user.id, None, &audit)
        .await?;
    state.ephemeral.delete(&pending_key(user)).await?;
    tell_old_address(state, user, None, lang, origin);
    Ok(())
}

/// The verified address the account had before `user` was read is told
/// that it no longer recovers the account.
fn tell_old_address(state: &AppState, user: &User, new: Option<&str>, lang: Lang, origin: &Origin) {
    let Some(old) = user
        .security_email
        .as_deref()
        .filter(|_| user.security_email_verified)
    else {
        return;
    };
    if new.is_some_and(|n| n == old) {
        return;
    }
    mail::send_later(
        state,
        user.clone(),
        old.to_string(),
        lang,
        Letter::EmailChanged {
            to_masked: new.map(Email::masked),
        },
        origin.clone(),
    );
}
