//! Changing the login or the security phone, and binding a login phone to
//! an account that has none (完善个人实名信息).
//!
//! ```text
//!  change:  step-up passed in this session
//!           ─▶ code to the current number ─▶ proved (lasts STEP_FOR)
//!           ─▶ new number ─▶ code to it ─▶ confirmed ─▶ stored, other
//!              sessions end, notices to the old number and the security e-mail
//!  bind:    no login phone after sign-in ─▶ number ─▶ code ─▶ stored
//! ```
//!
//! A security phone not set yet has no current number to prove: its change
//! starts at the new number. Where a change is between steps lives in the
//! browser session ([`Change`]); everything it claims is checked again
//! here, against the account and the clock.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use super::audit::{Entry, Outcome};
use super::codes::{self, Delivery, Purpose, Recipient, SendError, VerifyError};
use super::mail::{self, Letter};
use super::{Actor, Origin};
use crate::config::BindingPolicy;
use crate::domain::{PhoneKind, PhoneNumber};
use crate::ephemeral::EphemeralError;
use crate::i18n::Lang;
use crate::i18n::sms::Sms;
use crate::ports::sms::SmsPurpose;
use crate::state::AppState;
use crate::store::StoreError;
use crate::store::users::{PhoneBinding, User};

/// How long a proved current number lets the change go on.
pub const STEP_FOR: Duration = Duration::from_secs(600);

/// A phone change between its steps, as the browser session keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Change {
    pub user_id: Uuid,
    pub kind: PhoneKind,
    /// Unix seconds when the current number was proved (or the change of
    /// a phone not set yet began).
    #[serde(default)]
    pub old_proved_at: Option<i64>,
    /// The new number (E.164) a code was sent to.
    #[serde(default)]
    pub new_number: Option<String>,
}

impl Change {
    /// A change of `kind` for `user`, started `now` (Unix seconds). Only a
    /// security phone that is not set has nothing to prove first (a login
    /// phone that is not set is bound instead, see [`bind`]).
    pub fn begin(user: &User, kind: PhoneKind, now: i64) -> Self {
        let unset = kind == PhoneKind::Security && user.security_phone.is_none();
        Self {
            user_id: user.id,
            kind,
            old_proved_at: unset.then_some(now),
            new_number: None,
        }
    }

    /// The change the session holds, if it is this account's change of
    /// `kind` and can still go on; a new one otherwise (a change of a phone
    /// not set whose time ran out starts afresh rather than at a step 1
    /// that has nothing to prove).
    pub fn resume(held: Option<Change>, user: &User, kind: PhoneKind, now: i64) -> Self {
        match held {
            Some(c)
                if c.user_id == user.id
                    && c.kind == kind
                    && (c.old_proved(now)
                        || Self::begin(user, kind, now).old_proved_at.is_none()) =>
            {
                c
            }
            _ => Self::begin(user, kind, now),
        }
    }

    /// Whether the current number is proved, and recently enough.
    pub fn old_proved(&self, now: i64) -> bool {
        self.old_proved_at.is_some_and(|at| {
            now >= at && u64::try_from(now - at).is_ok_and(|d| d < STEP_FOR.as_secs())
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PhoneError {
    /// The session has not passed the SMS step-up.
    #[error("the phone must be proved by SMS in this session first")]
    StepUpOwed,
    /// The account has no login phone to change: it binds one instead.
    #[error("the account has no login phone; bind one")]
    NothingToChange,
    /// The current number was not proved, or too long ago.
    #[error("the current number has not been proved (or the proof expired)")]
    OldNotProved,
    /// No code was sent to a new number in this change.
    #[error("no new number has been given")]
    NoNewNumber,
    #[error("the new number is the current one")]
    SameNumber,
    /// The number is another account's login phone (whose is not said).
    #[error("the number cannot be used as a login phone")]
    Taken,
    /// The account asked for its day's codes.
    #[error("too many codes for this account today")]
    AccountLimit(Duration),
    /// Binding is not owed, or not skippable; or the account has a login
    /// phone, so a binding cannot be demanded.
    #[error("not possible now")]
    NotNow,
    /// The phone was changed meanwhile (another session, an administrator).
    #[error("the phone was changed meanwhile")]
    Changed,
    #[error("{0}")]
    Send(#[from] SendError),
    #[error("{0}")]
    Verify(VerifyError),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Ephemeral(#[from] EphemeralError),
}

/// Counts a code the phone pages send for `user`, within
/// `phone.account_daily_codes`.
async fn count_code(state: &AppState, user: &User) -> Result<(), PhoneError> {
    let key = format!("phone-codes:{}", user.id);
    let day = Duration::from_secs(86_400);
    let n = state.ephemeral.incr(&key, day).await?;
    if n > i64::from(state.config.phone.account_daily_codes) {
        let wait = state.ephemeral.ttl(&key).await?.unwrap_or(day);
        return Err(PhoneError::AccountLimit(wait));
    }
    Ok(())
}

/// A code to a number not yet proved to be the account's (its own budget:
/// see [`Recipient::Unproved`]); the answer waits for the gateway.
async fn send_unproved(
    state: &AppState,
    purpose: Purpose,
    number: &PhoneNumber,
    origin: &Origin,
    lang: Lang,
) -> Result<(), SendError> {
    codes::send_to(
        state,
        purpose,
        Recipient::Unproved(number),
        origin,
        lang,
        Delivery::Wait,
    )
    .await
}

/// Step 1: a code to the current number.
pub async fn send_old(
    state: &AppState,
    user: &User,
    change: &Change,
    origin: &Origin,
    lang: Lang,
) -> Result<(), PhoneError> {
    let Some(phone) = user.phone(change.kind) else {
        return Err(PhoneError::NothingToChange);
    };
    count_code(state, user).await?;
    codes::send(state, Purpose::ChangeOld, &phone, origin, lang).await?;
    Ok(())
}

/// Step 1 confirmed: the code the current number received.
pub async fn prove_old(
    state: &AppState,
    user: &User,
    change: &mut Change,
    code: &str,
    origin: &Origin,
) -> Result<(), PhoneError> {
    let Some(phone) = user.phone(change.kind) else {
        return Err(PhoneError::NothingToChange);
    };
    let result = codes::verify(state, Purpose::ChangeOld, &phone, code).await;
    audit_code(state, user, change.kind, "old", &result, origin).await?;
    result.map_err(PhoneError::Verify)?;
    change.old_proved_at = Some(state.clock.now().unix_timestamp());
    change.new_number = None;
    Ok(())
}

/// Step 2: a code to the new number.
pub async fn send_new(
    state: &AppState,
    user: &User,
    change: &mut Change,
    number: &PhoneNumber,
    origin: &Origin,
    lang: Lang,
) -> Result<(), PhoneError> {
    if !change.old_proved(state.clock.now().unix_timestamp()) {
        return Err(PhoneError::OldNotProved);
    }
    if user.phone(change.kind).as_ref() == Some(number) {
        return Err(PhoneError::SameNumber);
    }
    count_code(state, user).await?;
    send_unproved(state, Purpose::ChangeNew, number, origin, lang).await?;
    change.new_number = Some(number.as_str().to_string());
    Ok(())
}

/// Step 2 confirmed: the new number's code. The number is stored, every
/// other session of the account ends (with its tokens), and notices go to
/// the old number and the security e-mail.
pub async fn confirm(
    state: &AppState,
    user: &User,
    change: &Change,
    code: &str,
    keep_sid: &str,
    origin: &Origin,
    lang: Lang,
) -> Result<User, PhoneError> {
    if !change.old_proved(state.clock.now().unix_timestamp()) {
        return Err(PhoneError::OldNotProved);
    }
    let Some(new) = change.new_number.as_deref().and_then(PhoneNumber::stored) else {
        return Err(PhoneError::NoNewNumber);
    };
    let result =
        codes::verify_for(state, Purpose::ChangeNew, Recipient::Unproved(&new), code).await;
    audit_code(state, user, change.kind, "new", &result, origin).await?;
    result.map_err(PhoneError::Verify)?;
    let old = user.phone(change.kind);
    let updated = store_phone(
        state,
        user,
        change.kind,
        &new,
        keep_sid,
        origin,
        "phone.changed",
    )
    .await?;
    notify(
        state,
        &updated,
        change.kind,
        old.as_ref(),
        &new,
        origin,
        lang,
    );
    Ok(updated)
}

/// Stores the proved number (one transaction with the revocations and the
/// audit entry) and ends the account's other sessions.
async fn store_phone(
    state: &AppState,
    user: &User,
    kind: PhoneKind,
    new: &PhoneNumber,
    keep_sid: &str,
    origin: &Origin,
    event: &'static str,
) -> Result<User, PhoneError> {
    let old = user.phone(kind);
    let audit = Entry::new(event, Outcome::Success)
        .actor(&Actor::user(user))
        .subject(user)
        .origin(origin)
        .detail(json!({
            "phone": kind.as_str(),
            "from": old.as_ref().map(|p| PhoneNumber::masked(p.as_str())),
            "to": PhoneNumber::masked(new.as_str()),
        }))
        .finish();
    let before = match kind {
        PhoneKind::Login => user.login_phone.as_deref(),
        PhoneKind::Security => user.security_phone.as_deref(),
    };
    match state
        .store
        .set_phone(user.id, kind, before, new.as_str(), Some(keep_sid), &audit)
        .await
    {
        Ok(()) => {}
        Err(StoreError::Stale) => return Err(PhoneError::Changed),
        Err(StoreError::Conflict(_)) => {
            Entry::new(event, Outcome::Failure)
                .actor(&Actor::user(user))
                .subject(user)
                .origin(origin)
                .detail(json!({ "phone": kind.as_str(), "reason": "taken" }))
                .write(&state.store)
                .await?;
            return Err(PhoneError::Taken);
        }
        Err(e) => return Err(e.into()),
    }
    super::logout::end_other_sessions(state, user, keep_sid).await;
    Ok(state
        .store
        .user_by_id(user.id)
        .await?
        .ok_or(StoreError::NotFound)?)
}

async fn audit_code(
    state: &AppState,
    user: &User,
    kind: PhoneKind,
    step: &str,
    result: &Result<(), VerifyError>,
    origin: &Origin,
) -> Result<(), StoreError> {
    if result.is_ok() {
        return Ok(());
    }
    Entry::new("phone.code_refused", Outcome::Failure)
        .actor(&Actor::user(user))
        .subject(user)
        .origin(origin)
        .detail(json!({ "phone": kind.as_str(), "step": step }))
        .write(&state.store)
        .await
}

/// The notices of a change: an SMS to the old number (someone who took
/// the account learns nothing from it, the owner learns everything) and
/// a mail to the verified security e-mail. Both in the background.
fn notify(
    state: &AppState,
    user: &User,
    kind: PhoneKind,
    old: Option<&PhoneNumber>,
    new: &PhoneNumber,
    origin: &Origin,
    lang: Lang,
) {
    let lang = user.notice_lang(lang);
    let now = state.clock.now();
    let at = lang.text().at(now, &state.time_zone);
    let masked = PhoneNumber::masked(new.as_str());
    let login = kind == PhoneKind::Login;
    if let Some(old) = old
        && let Some(message) = codes::notice(
            SmsPurpose::PhoneChangedNotice,
            old,
            &Sms::PhoneChanged {
                account: &user.username,
                login,
                phone: &masked,
                at: &at,
            },
            vec![
                ("account", user.username.clone()),
                ("phone", masked.clone()),
                ("time", at.clone()),
            ],
            lang,
        )
    {
        codes::deliver_later(
            state,
            message,
            "sms.notice_sent",
            Some(user.clone()),
            origin.clone(),
        );
    }
    if user.security_email_verified
        && let Some(email) = &user.security_email
    {
        mail::send_later(
            state,
            user.clone(),
            email.clone(),
            lang,
            Letter::PhoneChanged {
                login,
                to_masked: masked,
                at: now,
            },
            origin.clone(),
        );
    }
}

/// Whether an account must bind a login phone before anything else, and
/// whether it may skip that for this sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindingOwed {
    Required,
    Skippable,
}

/// The binding `user` owes: none with a login phone; otherwise as the
/// deployment's `phone.binding` says, except that an administrator's
/// demand and an approved unbind are always required.
pub fn binding_owed(state: &AppState, user: &User) -> Option<BindingOwed> {
    if user.login_phone.is_some() {
        return None;
    }
    match (user.phone_binding(), state.config.phone.binding) {
        (Some(_), _) | (None, BindingPolicy::Required) => Some(BindingOwed::Required),
        (None, BindingPolicy::Skippable) => Some(BindingOwed::Skippable),
        (None, BindingPolicy::Off) => None,
    }
}

/// Binding, step 1: a code to the number to bind.
pub async fn send_bind(
    state: &AppState,
    user: &User,
    number: &PhoneNumber,
    origin: &Origin,
    lang: Lang,
) -> Result<(), PhoneError> {
    if user.login_phone.is_some() {
        return Err(PhoneError::NotNow);
    }
    count_code(state, user).await?;
    send_unproved(state, Purpose::Bind, number, origin, lang).await?;
    Ok(())
}

/// Binding, step 2: the code proves the number, which becomes the login
/// phone. The account's other sessions end, as with a change.
pub async fn bind(
    state: &AppState,
    user: &User,
    number: &PhoneNumber,
    code: &str,
    keep_sid: &str,
    origin: &Origin,
) -> Result<User, PhoneError> {
    if user.login_phone.is_some() {
        return Err(PhoneError::NotNow);
    }
    let result = codes::verify_for(state, Purpose::Bind, Recipient::Unproved(number), code).await;
    audit_code(state, user, PhoneKind::Login, "bind", &result, origin).await?;
    result.map_err(PhoneError::Verify)?;
    let user = store_phone(
        state,
        user,
        PhoneKind::Login,
        number,
        keep_sid,
        origin,
        "phone.bound",
    )
    .await?;
    // An approved unbind application waited for this binding.
    if let Err(e) = super::unbind::rebound(state, &user, origin).await {
        tracing::warn!(error = %e, "an unbind application could not be completed");
    }
    Ok(user)
}

/// The person skips a skippable binding for this sign-in; audited.
pub async fn skip_binding(
    state: &AppState,
    user: &User,
    origin: &Origin,
) -> Result<(), PhoneError> {
    if binding_owed(state, user) != Some(BindingOwed::Skippable) {
        return Err(PhoneError::NotNow);
    }
    Entry::new("phone.binding_skipped", Outcome::Success)
        .actor(&Actor::user(user))
        .subject(user)
        .origin(origin)
        .write(&state.store)
        .await?;
    Ok(())
}

/// An administrator demands a login phone binding at the next sign-in
/// (it applies while the account has no login phone).
pub async fn require_binding(
    state: &AppState,
    user: &User,
    actor: &Actor,
    origin: &Origin,
) -> Result<(), PhoneError> {
    if user.login_phone.is_some() {
        // A demand that could only take effect later, unseen: refused.
        return Err(PhoneError::NotNow);
    }
    let audit = Entry::new("account.phone_binding_required", Outcome::Success)
        .actor(actor)
        .subject(user)
        .origin(origin)
        .finish();
    let keep = match user.phone_binding() {
        // An unbind's demand is the stricter one: keep it.
        Some(PhoneBinding::AfterUnbind) => PhoneBinding::AfterUnbind,
        _ => PhoneBinding::Required,
    };
    Ok(state
        .store
        .set_phone_binding(user.id, Some(keep), &audit)
        .await?)
}

/// The full numbers of an account's phones, for an administrator; each
/// look is audited.
pub async fn reveal(
    state: &AppState,
    user: &User,
    actor: &Actor,
    origin: &Origin,
) -> Result<(Option<String>, Option<String>), StoreError> {
    Entry::new("account.phones_viewed", Outcome::Success)
        .actor(actor)
        .subject(user)
        .origin(origin)
        .write(&state.store)
        .await?;
    Ok((user.login_phone.clone(), user.security_phone.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proof_of_the_current_number_lasts_its_time() {
        let mut c = Change {
            user_id: Uuid::nil(),
            kind: PhoneKind::Login,
            old_proved_at: None,
            new_number: None,
        };
        assert!(!c.old_proved(1_000));
        c.old_proved_at = Some(1_000);
        assert!(c.old_proved(1_000));
        assert!(c.old_proved(1_000 + 599));
        assert!(!c.old_proved(1_000 + 600));
        // A proof from the future (a session edited by hand) is none.
        assert!(!c.old_proved(999));
    }
}
