//! The phone-unbind application (申请解绑手机号): for a person who knows
//! the password but whose phone no longer receives SMS. This module is the
//! kind's own part of the review-case engine ([`super::review`]): the
//! form's fields and their checks, the data a case keeps, the notices at
//! every step, and what an approval does to the account.
//!
//! ```text
//!  form ──submit──▶ case (submitted)   notice to the numbers being unbound
//!                                      and the security e-mail, with a
//!                                      cancel link
//!  review ──approve──▶ approved ──cooling-off──▶ effective: the numbers
//!                                      are taken off the account; without
//!                                      a login phone the next sign-in is
//!                                      by password and binds a new one
//!  bind ──▶ completed                  (other sessions and tokens end)
//! ```
//!
//! Against takeover: a successful SMS step-up with a number being unbound
//! cancels the case while it has not taken effect, and so does the cancel
//! link at any point before completion.

use std::time::Duration;

use uuid::Uuid;

use super::codes;
use super::documents::DocumentError;
use super::login::{self, LoginError};
use super::mail::{self, Letter};
use super::review::{self, ReviewError, Submission};
pub use super::unbind_case::{Reason, UnbindData};
use super::unbind_case::{cancel_link, mailbox, my_applications};
use super::{Actor, Origin};
use crate::config::SmsPurpose;
use crate::crypto::{random, sha256_hex};
use crate::domain::PhoneError;
use crate::domain::{PhoneNumber, SecretPassword};
use crate::ephemeral::EphemeralError;
use crate::i18n::Lang;
use crate::i18n::sms::Sms;
use crate::state::AppState;
use crate::store::StoreError;
use crate::store::review::{Case, CaseKind, CaseState};
use crate::store::users::User;

/// The version of the consent notice for the identity documents; a case
/// records which one its applicant accepted.
pub const CONSENT_VERSION: &str = "unbind-documents-2026-12";
/// Longest note, in characters.
pub const MAX_NOTE_CHARS: usize = 500;
/// Longest organization name, in characters.
pub const MAX_ORGANIZATION_CHARS: usize = 100;
/// Applications (accepted or refused) per account and per address a day:
/// each one may decode three pictures.
const ACCOUNT_DAILY: i64 = 10;
const ADDRESS_DAILY: i64 = 30;
const DAY: Duration = Duration::from_secs(86_400);

/// The form as typed (everything but the password and the files), so a
/// refused form can be drawn again with it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entered {
    pub reason: String,
    pub note: String,
    pub login: bool,
    pub security: bool,
    pub organization: String,
    pub country_code: String,
    pub number: String,
    pub consent: bool,
}

/// A field of the form, for its own message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Reason,
    Note,
    Phones,
    Documents,
    Organization,
    ContactPhone,
    Password,
    Consent,
}

impl Field {
    /// The form input's name (and the id of its message on the page).
    pub fn name(self) -> &'static str {
        match self {
            Field::Reason => "reason",
            Field::Note => "note",
            Field::Phones => "phones",
            Field::Documents => "documents",
            Field::Organization => "organization",
            Field::ContactPhone => "contact_phone",
            Field::Password => "password",
            Field::Consent => "consent",
        }
    }
}

/// What is wrong with one field.
#[derive(Debug)]
pub enum Problem {
    ReasonMissing,
    NoteRequired,
    NoteTooLong,
    PhonesNone,
    PhoneNotBound,
    Documents(DocumentError),
    OrganizationMissing,
    OrganizationTooLong,
    ContactPhone(PhoneError),
    PasswordMissing,
    PasswordWrong,
    ConsentMissing,
}

#[derive(Debug, thiserror::Error)]
pub enum UnbindError {
    /// The form was refused; one message per field.
    #[error("the form has {} problem(s)", .0.len())]
    Fields(Vec<(Field, Problem)>),
    /// Too many applications from this account or address today.
    #[error("too many applications; wait {0:?}")]
    TooMany(Duration),
    /// The account has neither phone: there is nothing to unbind.
    #[error("the account has no phone")]
    NoPhones,
    #[error("{0}")]
    Review(ReviewError),
    #[error("{0}")]
    Login(#[from] LoginError),
    #[error("{0}")]
    Ephemeral(#[from] EphemeralError),
    #[error("{0}")]
    Store(#[from] StoreError),
}

impl From<ReviewError> for UnbindError {
    fn from(e: ReviewError) -> Self {
        match e {
            ReviewError::Document(d) => {
                UnbindError::Fields(vec![(Field::Documents, Problem::Documents(d))])
            }
            ReviewError::ConsentRequired => {
                UnbindError::Fields(vec![(Field::Consent, Problem::ConsentMissing)])
            }
            other => UnbindError::Review(other),
        }
    }
}

/// The checked fields of a form, before the password and the files.
struct Checked {
    data: UnbindData,
    contact: PhoneNumber,
}

fn check(
    user: &User,
    entered: &Entered,
    password: &str,
    files: &[Vec<u8>],
    lang: Lang,
) -> Result<Checked, UnbindError> {
    let mut problems = Vec::new();
    let reason = Reason::parse(entered.reason.trim());
    if reason.is_none() {
        problems.push((Field::Reason, Problem::ReasonMissing));
    }
    let note = entered.note.trim();
    if note.chars().count() > MAX_NOTE_CHARS {
        problems.push((Field::Note, Problem::NoteTooLong));
    } else if note.is_empty() && reason == Some(Reason::Other) {
        problems.push((Field::Note, Problem::NoteRequired));
    }
    let login_phone = user.login_phone.clone().filter(|_| entered.login);
    let security_phone = user.security_phone.clone().filter(|_| entered.security);
    if !entered.login && !entered.security {
        problems.push((Field::Phones, Problem::PhonesNone));
    } else if (entered.login && login_phone.is_none())
        || (entered.security && security_phone.is_none())
    {
        problems.push((Field::Phones, Problem::PhoneNotBound));
    }
    let organization = entered.organization.trim();
    if organization.is_empty() {
        problems.push((Field::Organization, Problem::OrganizationMissing));
    } else if organization.chars().count() > MAX_ORGANIZATION_CHARS {
        problems.push((Field::Organization, Problem::OrganizationTooLong));
    }
    let contact = match PhoneNumber::parse_parts(&entered.country_code, &entered.number) {
        Ok(p) => Some(p),
        Err(e) => {
            problems.push((Field::ContactPhone, Problem::ContactPhone(e)));
            None
        }
    };
    if password.is_empty() {
        problems.push((Field::Password, Problem::PasswordMissing));
    }
    if files.is_empty() {
        problems.push((Field::Documents, Problem::Documents(DocumentError::Missing)));
    }
    if !entered.consent {
        problems.push((Field::Consent, Problem::ConsentMissing));
    }
    match (problems.is_empty(), reason, contact) {
        (true, Some(reason), Some(contact)) => Ok(Checked {
            data: UnbindData {
                reason,
                note: Some(note.to_string()).filter(|n| !n.is_empty()),
                login_phone,
                security_phone,
                organization: organization.to_string(),
                lang: lang.tag().to_string(),
                cancel: String::new(),
                cancel_more: Vec::new(),
            },
            contact,
        }),
        _ => Err(UnbindError::Fields(problems)),
    }
}

/// Counts an application against the daily budgets of the account and of
/// the address.
async fn count(state: &AppState, user: &User, origin: &Origin) -> Result<(), UnbindError> {
    let eph = &state.ephemeral;
    let mut keys = vec![(format!("unbind-apply:{}", user.id), ACCOUNT_DAILY)];
    if let Some(ip) = &origin.ip {
        keys.push((format!("unbind-apply-ip:{ip}"), ADDRESS_DAILY));
    }
    for (key, limit) in keys {
        if eph.incr(&key, DAY).await? > limit {
            return Err(UnbindError::TooMany(eph.ttl(&key).await?.unwrap_or(DAY)));
        }
    }
    Ok(())
}

/// The password typed again: counts against the account like a failed
/// sign-in.
async fn check_password(
    state: &AppState,
    user: &User,
    password: String,
    origin: &Origin,
) -> Result<(), UnbindError> {
    if login::reauthenticate(state, user, &SecretPassword::new(password)).await? {
        Ok(())
    } else {
        crate::service::audit::Entry::new(
            "unbind.password_wrong",
            crate::service::audit::Outcome::Failure,
        )
        .actor(&Actor::user(user))
        .subject(user)
        .origin(origin)
        .write(&state.store)
        .await?;
        Err(UnbindError::Fields(vec![(
            Field::Password,
            Problem::PasswordWrong,
        )]))
    }
}

/// The person said the phone does not receive the step-up code and the
/// session turned restricted: audited (`login.phone_unreachable`).
pub async fn phone_unreachable(
    state: &AppState,
    user: &User,
    origin: &Origin,
) -> Result<(), StoreError> {
    crate::service::audit::Entry::new(
        "login.phone_unreachable",
        crate::service::audit::Outcome::Success,
    )
    .actor(&Actor::user(user))
    .subject(user)
    .origin(origin)
    .write(&state.store)
    .await
}

/// The kind's data of an application.
fn data_of(case: &Case) -> Result<UnbindData, ReviewError> {
    UnbindData::of(case).map_err(ReviewError::Corrupt)
}

/// Whether `user` has an open application (one at a time).
pub async fn open_case(state: &AppState, user: &User) -> Result<Option<Case>, StoreError> {
    Ok(state
        .store
        .cases_of_account(user.id, CaseKind::PhoneUnbind)
        .await?
        .into_iter()
        .find(|c| c.state.is_open()))
}

/// The applications of `user`, newest first.
pub async fn cases(state: &AppState, user: &User) -> Result<Vec<Case>, StoreError> {
    state
        .store
        .cases_of_account(user.id, CaseKind::PhoneUnbind)
        .await
}

fn cancel_token() -> Result<(String, String), UnbindError> {
    let token =
        random::token().map_err(|e| UnbindError::Review(ReviewError::Corrupt(e.to_string())))?;
    let hash = sha256_hex(&token);
    Ok((token, hash))
}

/// Submits an application: checks every field, the password, the budget
/// and the documents, stores the case, and sends the notices (with the
/// cancel link) to the numbers being unbound and to the applicant's mail.
#[allow(clippy::too_many_arguments)]
pub async fn apply(
    state: &AppState,
    user: &User,
    entered: &Entered,
    password: String,
    files: Vec<Vec<u8>>,
    origin: &Origin,
    lang: Lang,
) -> Result<Case, UnbindError> {
    if user.login_phone.is_none() && user.security_phone.is_none() {
        return Err(UnbindError::NoPhones);
    }
    let mut checked = check(user, entered, &password, &files, lang)?;
    // Only what gets this far costs something (a password hash, decoding
    // the pictures): that is what the budget counts.
    count(state, user, origin).await?;
    check_password(state, user, password, origin).await?;
    let (token, hash) = cancel_token()?;
    checked.data.cancel = hash;
    let data = serde_json::to_value(&checked.data)
        .map_err(|e| UnbindError::Review(ReviewError::Corrupt(e.to_string())))?;
    let case = review::submit(
        state,
        user,
        Submission {
            kind: CaseKind::PhoneUnbind,
            data,
            contact_phone: Some(checked.contact),
            contact_email: None,
            consent_version: Some(CONSENT_VERSION.to_string()),
            documents: files,
        },
        origin,
    )
    .await?;
    notify_submitted(state, user, &case, &checked.data, &token, origin);
    Ok(case)
}

/// 修改: the applicant changes a submitted or rejected application, which
/// goes back to the reviewers as a new revision (the old one stays in its
/// history). The cancel link of the first notice keeps working.
#[allow(clippy::too_many_arguments)]
pub async fn revise(
    state: &AppState,
    user: &User,
    case_id: Uuid,
    read_version: i64,
    entered: &Entered,
    password: String,
    files: Vec<Vec<u8>>,
    origin: &Origin,
    lang: Lang,
) -> Result<Case, UnbindError> {
    let case = review::case_for_applicant(state, user, case_id).await?;
    if !matches!(
        case.state,
        CaseState::Submitted | CaseState::Rejected | CaseState::Edited
    ) {
        return Err(UnbindError::Review(ReviewError::NotAllowed {
            from: case.state.as_str(),
            to: CaseState::Edited.as_str(),
        }));
    }
    let before = data_of(&case)?;
    let mut checked = check(user, entered, &password, &files, lang)?;
    count(state, user, origin).await?;
    check_password(state, user, password, origin).await?;
    // A new revision is announced like the first one, with a cancel link
    // of its own (those sent before keep working): a number added by the
    // edit hears of it too.
    let (token, hash) = cancel_token()?;
    checked.data.cancel = before.cancel;
    checked.data.cancel_more = before.cancel_more;
    checked.data.cancel_more.push(hash);
    let data = serde_json::to_value(&checked.data)
        .map_err(|e| UnbindError::Review(ReviewError::Corrupt(e.to_string())))?;
    let revised = review::resubmit(
        state,
        user,
        case_id,
        read_version,
        data,
        Some(checked.contact),
        files,
        origin,
    )
    .await?;
    notify_submitted(state, user, &revised, &checked.data, &token, origin);
    Ok(revised)
}

/// 删除: the applicant withdraws a submitted or rejected application.
pub async fn withdraw(
    state: &AppState,
    user: &User,
    case_id: Uuid,
    read_version: i64,
    origin: &Origin,
) -> Result<Case, UnbindError> {
    Ok(review::withdraw(state, user, case_id, read_version, origin).await?)
}

/// The case a cancel link names, if the token is the link's.
pub async fn case_for_cancel_link(
    state: &AppState,
    case_id: Uuid,
    token: &str,
) -> Result<Option<Case>, UnbindError> {
    let Some(case) = state.store.case_by_id(case_id).await? else {
        return Ok(None);
    };
    if case.kind != CaseKind::PhoneUnbind || token.is_empty() || token.len() > 128 {
        return Ok(None);
    }
    let data = data_of(&case)?;
    let hash = sha256_hex(token);
    let known = std::iter::once(&data.cancel)
        .chain(&data.cancel_more)
        .fold(false, |found, h| {
            random::constant_time_eq(hash.as_bytes(), h.as_bytes()) | found
        });
    Ok(known.then_some(case))
}

/// How often a cancellation or completion the owner or the system asked
/// for is tried again when someone changed the case at the same moment (a
/// reviewer's claim or note, the sweep): the owner's cancel must not be
/// lost to a race.
const ATTEMPTS: usize = 5;

/// Moves the case to `to` as it is now: re-read and tried again while
/// someone else's change keeps making the read stale and the move is still
/// allowed. `Ok(None)` when the case is no longer in a state `from` accepts.
async fn settle_case(
    state: &AppState,
    case_id: Uuid,
    actor: &Actor,
    to: CaseState,
    from: impl Fn(CaseState) -> bool,
    note: Option<&str>,
    origin: &Origin,
) -> Result<Option<Case>, UnbindError> {
    for _ in 0..ATTEMPTS {
        let Some(case) = state.store.case_by_id(case_id).await? else {
            return Ok(None);
        };
        if !from(case.state) {
            return Ok(None);
        }
        let result = match to {
            CaseState::Completed => review::complete(state, case.id, case.version, origin).await,
            _ => review::cancel(state, actor, case.id, case.version, note, origin).await,
        };
        match result {
            Ok(c) => return Ok(Some(c)),
            Err(ReviewError::Stale) => continue,
            Err(ReviewError::NotAllowed { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
    Err(UnbindError::Review(ReviewError::Stale))
}

/// The cancel link was followed and confirmed: the case ends as
/// cancelled, if it is still open (before completion; an application in
/// effect gives the numbers back). Returns the case as it is afterwards.
pub async fn cancel_by_link(
    state: &AppState,
    case_id: Uuid,
    token: &str,
    origin: &Origin,
) -> Result<Option<Case>, UnbindError> {
    let Some(case) = case_for_cancel_link(state, case_id, token).await? else {
        return Ok(None);
    };
    let cancelled = settle_case(
        state,
        case.id,
        &Actor::System,
        CaseState::Cancelled,
        CaseState::is_open,
        Some("cancel link"),
        origin,
    )
    .await?;
    match cancelled {
        Some(c) => Ok(Some(c)),
        // Already final: show it as it is.
        None => Ok(state.store.case_by_id(case_id).await?),
    }
}

/// A successful SMS step-up proved `phone` still reaches its owner: an
/// application to unbind that number, not yet in effect, is cancelled.
pub async fn phone_proved(
    state: &AppState,
    user: &User,
    phone: &PhoneNumber,
    origin: &Origin,
) -> Result<Option<Case>, UnbindError> {
    let Some(case) = open_case(state, user).await? else {
        return Ok(None);
    };
    let data = data_of(&case)?;
    let covered = [&data.login_phone, &data.security_phone]
        .into_iter()
        .flatten()
        .any(|p| p == phone.as_str());
    if !covered {
        return Ok(None);
    }
    settle_case(
        state,
        case.id,
        &Actor::user(user),
        CaseState::Cancelled,
        |s| s.is_open() && s != CaseState::AwaitingRebind,
        Some("phone proved by SMS"),
        origin,
    )
    .await
}

/// The account bound a new login phone: its application awaiting that is
/// completed (the binding already ended the other sessions and tokens),
/// and the applicant is told.
pub async fn rebound(state: &AppState, user: &User, origin: &Origin) -> Result<(), UnbindError> {
    let Some(case) = open_case(state, user).await? else {
        return Ok(());
    };
    settle_case(
        state,
        case.id,
        &Actor::System,
        CaseState::Completed,
        |s| s == CaseState::AwaitingRebind,
        None,
        origin,
    )
    .await?;
    Ok(())
}

// ── notices ──────────────────────────────────────────────────────────────

/// At submission: an SMS to each number being unbound (its owner, if the
/// applicant is someone else, learns of it in time) and a mail, both with
/// the cancel link.
fn notify_submitted(
    state: &AppState,
    user: &User,
    case: &Case,
    data: &UnbindData,
    token: &str,
    origin: &Origin,
) {
    let lang = user.notice_lang(data.lang());
    let link = cancel_link(state, case.id, token);
    for number in [&data.login_phone, &data.security_phone]
        .into_iter()
        .flatten()
    {
        let Some(to) = PhoneNumber::stored(number) else {
            continue;
        };
        if let Some(message) = codes::notice(
            SmsPurpose::UnbindNotice,
            &to,
            &Sms::UnbindSubmitted {
                account: &user.username,
                link: &link,
            },
            vec![("account", user.username.clone()), ("link", link.clone())],
            lang,
        ) {
            codes::deliver_later(
                state,
                message,
                "sms.notice_sent",
                Some(user.clone()),
                origin.clone(),
            );
        }
    }
    if let Some(to) = mailbox(user) {
        mail::send_later(
            state,
            user.clone(),
            to,
            lang,
            Letter::UnbindSubmitted {
                phones: data.masked().join(", "),
                cancel_link: link,
                page: my_applications(state),
            },
            origin.clone(),
        );
    }
}
