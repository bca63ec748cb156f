//! The organization-verified password retrieval (密码索取, issue 16): for
//! a person who can use neither the phone nor the e-mail recovery.
//!
//! ```text
//!  1 organization search / registration (pending organization)
//!  2 the form → SMS code to the form's phone → case (awaiting_documents), 16-digit number
//!  3 the PDF (retrieval_form::render), printed, signed, stamped
//!  4 file authentication: organization full name + case number (rate-limited, "not found" only)
//!  5 two uploads (stamped form, ID card front) → submitted (due in one working day)
//!    reviewers: in_review → approved (naming the account) | rejected (note; upload again)
//!  6 approved ──cooling-off (0: none)──▶ awaiting_completion: the one-time code by SMS
//!    /retrieve/complete: case number + code + new password → completed
//! ```
//!
//! The case is a review case of kind `password_retrieval` (the engine in
//! [`super::review`] writes every transition with its event and audit
//! entry in one transaction); the documents are the engine's encrypted
//! documents; the code is stored hashed in `retrieval_codes`.

use serde::{Deserialize, Serialize};
use serde_json::json;
use std::time::Duration as StdDuration;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::audit::{Entry, Outcome};
use super::codes::{self, Delivery, Recipient};
use super::documents::{self, DocumentError, DocumentKeys, Place, Sealed};
pub use super::retrieval_case::{IdType, Reason, RetrievalData, reason_label};
use super::review::{self, Change, ReviewError, Terms};
use super::{Actor, Origin};
use crate::config::SmsPurpose;
use crate::crypto::random;
use crate::domain::{
    CaseNumber, ChineseIdNumber, Email, FullName, OrganizationStatus, PassportNumber, PhoneError,
    PhoneNumber, SecretPassword, name_key,
};
use crate::ephemeral::EphemeralError;
use crate::i18n::Lang;
use crate::i18n::sms::Sms;
use crate::state::AppState;
use crate::store::StoreError;
use crate::store::organizations::Organization;
use crate::store::review::{Case, CaseExtras, CaseKind, CaseState, NewRetrievalCode};
use crate::store::users::{AccountStatus, User};

/// The consent notice's version the form shows (PIPL Art. 29, 30).
pub const CONSENT_VERSION: &str = "retrieval-2026-12";
/// The slots of a case's uploads: the stamped form, the ID card's front.
pub const SLOT_FORM: i64 = 1;
pub const SLOT_ID_CARD: i64 = 2;
/// Tries of a retrieval code.
pub const CODE_TRIES: i64 = 5;
/// Longest free text (the reason for 其他).
pub const MAX_REASON_CHARS: usize = 200;
/// Longest name (applicant, registered name, contact person).
pub const MAX_NAME_CHARS: usize = 50;
/// Most organizations a search shows.
pub const SEARCH_LIMIT: i64 = 20;

const HOUR: StdDuration = StdDuration::from_secs(3600);
const DAY: StdDuration = StdDuration::from_secs(86_400);

/// Wrong organization/number pairs per address in a quarter of an hour,
/// and per case number in a day (many addresses guessing one number's
/// organization).
const AUTH_PER_ADDRESS: i64 = 10;
const AUTH_WINDOW: StdDuration = StdDuration::from_secs(900);
const AUTH_PER_NUMBER: i64 = 20;
/// Searches per address and minute; registrations and forms per day.
const SEARCH_PER_MINUTE: i64 = 60;
const REGISTER_PER_DAY: i64 = 5;
const FORMS_PER_DAY: i64 = 10;
/// Completion attempts per address in an hour.
const COMPLETE_PER_HOUR: i64 = 30;

/// The form as typed.
#[derive(Debug, Clone, Default)]
pub struct Entered {
    pub account: String,
    pub registered_name: String,
    pub name: String,
    pub id_type: String,
    pub id_number: String,
    pub country_code: String,
    pub number: String,
    pub email: String,
    pub reason: String,
    pub reason_text: String,
    pub consent: bool,
}

/// A field of the form (its input's name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    Account,
    RegisteredName,
    Name,
    IdType,
    IdNumber,
    Phone,
    Email,
    Reason,
    ReasonText,
    Consent,
}

impl Field {
    pub fn name(self) -> &'static str {
        match self {
            Field::Account => "account",
            Field::RegisteredName => "registered_name",
            Field::Name => "name",
            Field::IdType => "id_type",
            Field::IdNumber => "id_number",
            Field::Phone => "number",
            Field::Email => "email",
            Field::Reason => "reason",
            Field::ReasonText => "reason_text",
            Field::Consent => "consent",
        }
    }
}

/// What is wrong with a field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    Required,
    TooLong(usize),
    /// The identity number, with the reason from its parser.
    IdNumber(IdProblem),
    Phone(PhoneError),
    Email,
}

/// Why a resident identity number was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdProblem {
    Length,
    Characters,
    Province,
    BirthDate,
    CheckCharacter,
    /// A passport number with other characters than letters and digits.
    PassportCharacters,
}

/// The organization-registration form as typed.
#[derive(Debug, Clone, Default)]
pub struct Registering {
    pub full_name: String,
    pub contact_name: String,
    pub country_code: String,
    pub number: String,
    pub captcha_id: String,
    pub captcha: String,
}

/// A field of the registration form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegField {
    FullName,
    ContactName,
    Phone,
    Captcha,
}

impl RegField {
    pub fn name(self) -> &'static str {
        match self {
            RegField::FullName => "full_name",
            RegField::ContactName => "contact_name",
            RegField::Phone => "number",
            RegField::Captcha => "captcha",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RetrievalError {
    #[error("the form has errors")]
    Fields(Vec<(Field, Problem)>),
    #[error("the registration has errors")]
    RegFields(Vec<(RegField, Problem)>),
    /// The organization is registered already (under this name); choose it.
    #[error("the organization is registered already")]
    OrganizationExists(Box<Organization>),
    #[error("too many attempts; wait {0:?}")]
    TooMany(StdDuration),
    /// No such organization (or not one a form may name).
    #[error("no such organization")]
    NoOrganization,
    /// File authentication or completion: no case with that pair.
    #[error("not found")]
    NotFound,
    /// The phone confirmation failed.
    #[error("wrong code")]
    WrongCode(u32),
    #[error("no valid code")]
    NoCode,
    #[error("code could not be sent: {0}")]
    Send(codes::SendError),
    /// The case is not waiting for uploads (submitted, decided …).
    #[error("the case does not take uploads now")]
    NotUploading,
    /// Both documents are needed before submitting.
    #[error("both documents are needed")]
    Incomplete,
    /// Submitted already: 请勿重复提交.
    #[error("the case was submitted already")]
    AlreadySubmitted,
    /// The same file again (in either slot): 请勿重复上传文件.
    #[error("the same file was uploaded already")]
    Duplicate,
    #[error("no such slot")]
    NoSlot,
    #[error(transparent)]
    Document(#[from] DocumentError),
    #[error(transparent)]
    Review(ReviewError),
    #[error("no PDF can be made: {0}")]
    Pdf(String),
    #[error("{0}")]
    Ephemeral(#[from] EphemeralError),
    #[error("{0}")]
    Store(StoreError),
    #[error("{0}")]
    Corrupt(String),
}

impl From<StoreError> for RetrievalError {
    fn from(e: StoreError) -> Self {
        RetrievalError::Store(e)
    }
}

impl From<ReviewError> for RetrievalError {
    fn from(e: ReviewError) -> Self {
        match e {
            ReviewError::Document(d) => RetrievalError::Document(d),
            ReviewError::Store(s) => RetrievalError::Store(s),
            other => RetrievalError::Review(other),
        }
    }
}

/// Counts one attempt against `limit` in a fixed window; the wait when
/// the limit is passed.
async fn budget(
    state: &AppState,
    key: &str,
    limit: i64,
    window: StdDuration,
) -> Result<(), RetrievalError> {
    let eph = &state.ephemeral;
    if eph.incr(key, window).await? > limit {
        return Err(RetrievalError::TooMany(
            eph.ttl(key).await?.unwrap_or(window),
        ));
    }
    Ok(())
}

/// Whether an attempt under `key` would pass `limit` already (without
/// counting it).
async fn over(
    state: &AppState,
    key: &str,
    limit: i64,
) -> Result<Option<StdDuration>, RetrievalError> {
    let eph = &state.ephemeral;
    let n = eph
        .get(key)
        .await?
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(0);
    if n >= limit {
        Ok(Some(eph.ttl(key).await?.unwrap_or(AUTH_WINDOW)))
    } else {
        Ok(None)
    }
}

fn address(origin: &Origin) -> &str {
    origin.ip.as_deref().unwrap_or("unknown")
}

// ── step 1: organizations ───────────────────────────────────────────────

/// Approved (active) organizations one of whose names contains `query`.
pub async fn search(
    state: &AppState,
    query: &str,
    origin: &Origin,
) -> Result<Vec<Organization>, RetrievalError> {
    if name_key(query).is_empty() {
        return Ok(Vec::new());
    }
    budget(
        state,
        &format!("retrieve-search:{}", address(origin)),
        SEARCH_PER_MINUTE,
        StdDuration::from_secs(60),
    )
    .await?;
    Ok(super::organizations::list(
        state,
        query,
        Some(OrganizationStatus::Active),
        SEARCH_LIMIT,
        0,
    )
    .await?
    .0)
}

/// The organization a form may name: an active one, or one registered
/// by the public and not yet confirmed (pending).
pub async fn organization_for_form(
    state: &AppState,
    id: Uuid,
) -> Result<Organization, RetrievalError> {
    match state.store.organization_by_id(id).await? {
        Some(o) if o.status != OrganizationStatus::Inactive => Ok(o),
        _ => Err(RetrievalError::NoOrganization),
    }
}

fn name_field(text: &str, max: usize) -> Result<String, Problem> {
    let t = text.trim();
    if t.is_empty() {
        Err(Problem::Required)
    } else if t.chars().count() > max {
        Err(Problem::TooLong(max))
    } else {
        Ok(t.to_string())
    }
}

/// Registers an organization that is not in the registry (full name as on
/// its seal, contact person and phone), as pending: it can be named by a
/// retrieval at once, and is confirmed with the case by its reviewer or on
/// its own by an administrator. Captcha and a daily budget per address.
pub async fn register_organization(
    state: &AppState,
    r: &Registering,
    origin: &Origin,
) -> Result<Organization, RetrievalError> {
    let captcha_ok = state
        .captcha
        .check(&r.captcha_id, &r.captcha)
        .await
        .map_err(|e| match e {
            crate::ports::captcha::CaptchaError::Ephemeral(e) => RetrievalError::Ephemeral(e),
            crate::ports::captcha::CaptchaError::TooMany(w) => RetrievalError::TooMany(w),
            other => RetrievalError::Corrupt(other.to_string()),
        })?;
    let mut problems = Vec::new();
    if !captcha_ok {
        problems.push((RegField::Captcha, Problem::Required));
    }
    let full = match FullName::parse(&r.full_name) {
        Ok(f) => Some(f),
        Err(_) if r.full_name.trim().is_empty() => {
            problems.push((RegField::FullName, Problem::Required));
            None
        }
        Err(_) => {
            problems.push((
                RegField::FullName,
                Problem::TooLong(crate::domain::organization::MAX_NAME_CHARS),
            ));
            None
        }
    };
    let contact = name_field(&r.contact_name, MAX_NAME_CHARS)
        .map_err(|p| problems.push((RegField::ContactName, p)))
        .ok();
    let phone = PhoneNumber::parse_parts(&r.country_code, &r.number)
        .map_err(|e| problems.push((RegField::Phone, Problem::Phone(e))))
        .ok();
    let (Some(full), Some(contact), Some(phone), true) =
        (full, contact, phone, problems.is_empty())
    else {
        return Err(RetrievalError::RegFields(problems));
    };
    if let Some(existing) = super::organizations::resolve(state, full.as_str()).await? {
        return Err(RetrievalError::OrganizationExists(Box::new(existing)));
    }
    budget(
        state,
        &format!("retrieve-register:{}", address(origin)),
        REGISTER_PER_DAY,
        DAY,
    )
    .await?;
    let input = super::organizations::OrgInput {
        full_name: full.as_str().to_string(),
        status: Some(OrganizationStatus::Pending),
        ..Default::default()
    };
    let rec =
        super::organizations::record(&input).map_err(|e| RetrievalError::Corrupt(e.to_string()))?;
    let id = Uuid::now_v7();
    let audit = Entry::new("organization.registered", Outcome::Success)
        .actor(&Actor::Anonymous)
        .origin(origin)
        .detail(json!({
            "organization_id": id,
            "full_name": rec.full_name,
            "contact_name": contact,
            "contact_phone": PhoneNumber::masked(phone.as_str()),
        }))
        .finish();
    match state
        .store
        .insert_organization_with(id, &rec, Some((&contact, phone.as_str())), &[audit])
        .await
    {
        Ok(org) => Ok(org),
        // Registered by someone else at this moment: choose it.
        Err(StoreError::Conflict(_)) => {
            match super::organizations::resolve(state, full.as_str()).await? {
                Some(o) => Err(RetrievalError::OrganizationExists(Box::new(o))),
                None => Err(RetrievalError::NoOrganization),
            }
        }
        Err(e) => Err(e.into()),
    }
}

// ── step 2: the form ────────────────────────────────────────────────────

/// A checked form, waiting for its phone to be confirmed (kept in the
/// browser's session; the identity number is why `Debug` says little).
#[derive(Clone, Serialize, Deserialize)]
pub struct Pending {
    pub data: RetrievalData,
    /// E.164.
    pub phone: String,
    pub email: Option<String>,
    /// Unix seconds of the SMS; the pending form lives as long as its code.
    pub sent_at: i64,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("phone", &PhoneNumber::masked(&self.phone))
            .finish_non_exhaustive()
    }
}

impl Pending {
    pub fn phone_masked(&self) -> String {
        PhoneNumber::masked(&self.phone)
    }
}

fn id_problem(reason: &str) -> IdProblem {
    if reason.contains("18 characters") {
        IdProblem::Length
    } else if reason.contains("province") {
        IdProblem::Province
    } else if reason.contains("birth date") {
        IdProblem::BirthDate
    } else if reason.contains("check character") {
        IdProblem::CheckCharacter
    } else {
        IdProblem::Characters
    }
}

/// Checks every field, each with its own problem.
pub fn check(
    state: &AppState,
    org: &Organization,
    e: &Entered,
    lang: Lang,
) -> Result<(RetrievalData, PhoneNumber, Option<Email>), RetrievalError> {
    let mut problems: Vec<(Field, Problem)> = Vec::new();
    let optional = |text: &str, field: Field, problems: &mut Vec<(Field, Problem)>| {
        let t = text.trim();
        if t.is_empty() {
            None
        } else if t.chars().count() > MAX_NAME_CHARS.max(64) {
            problems.push((field, Problem::TooLong(MAX_NAME_CHARS.max(64))));
            None
        } else {
            Some(t.to_string())
        }
    };
    let account = optional(&e.account, Field::Account, &mut problems);
    let registered_name = optional(&e.registered_name, Field::RegisteredName, &mut problems);
    let name = name_field(&e.name, MAX_NAME_CHARS)
        .map_err(|p| problems.push((Field::Name, p)))
        .ok();
    let id_type = IdType::parse(e.id_type.trim());
    if id_type.is_none() {
        problems.push((Field::IdType, Problem::Required));
    }
    let today =
        crate::domain::calendar::local_date(state.clock.now(), super::calendar::offset(state));
    let mut id_unusual = false;
    let id_number = if e.id_number.trim().is_empty() {
        problems.push((Field::IdNumber, Problem::Required));
        None
    } else {
        match id_type {
            Some(IdType::ResidentCard) => match ChineseIdNumber::parse(&e.id_number, today) {
                Ok(n) => Some(n.as_str().to_string()),
                Err(v) => {
                    problems.push((Field::IdNumber, Problem::IdNumber(id_problem(v.reason))));
                    None
                }
            },
            Some(IdType::Passport) => match PassportNumber::parse(&e.id_number) {
                Ok(n) => {
                    id_unusual = n.unusual;
                    Some(n.as_str().to_string())
                }
                Err(_) => {
                    problems.push((
                        Field::IdNumber,
                        Problem::IdNumber(IdProblem::PassportCharacters),
                    ));
                    None
                }
            },
            None => None,
        }
    };
    let phone = PhoneNumber::parse_parts(&e.country_code, &e.number)
        .map_err(|p| problems.push((Field::Phone, Problem::Phone(p))))
        .ok();
    let email = if e.email.trim().is_empty() {
        None
    } else {
        match Email::parse(&e.email) {
            Ok(m) => Some(m),
            Err(_) => {
                problems.push((Field::Email, Problem::Email));
                None
            }
        }
    };
    let reason = Reason::parse(e.reason.trim());
    if reason.is_none() {
        problems.push((Field::Reason, Problem::Required));
    }
    let reason_text = match name_field(&e.reason_text, MAX_REASON_CHARS) {
        Ok(t) => Some(t),
        Err(Problem::Required) if reason == Some(Reason::Other) => {
            problems.push((Field::ReasonText, Problem::Required));
            None
        }
        Err(Problem::Required) => None,
        Err(p) => {
            problems.push((Field::ReasonText, p));
            None
        }
    };
    if !e.consent {
        problems.push((Field::Consent, Problem::Required));
    }
    match (name, id_type, id_number, phone, reason) {
        (Some(name), Some(id_type), Some(id_number), Some(phone), Some(reason))
            if problems.is_empty() =>
        {
            Ok((
                RetrievalData {
                    organization_id: org.id,
                    organization: org.full_name.clone(),
                    organization_registered: org.status == OrganizationStatus::Pending,
                    account,
                    registered_name,
                    name,
                    id_type,
                    id_number,
                    id_unusual,
                    reason,
                    reason_text,
                    lang: lang.tag().to_string(),
                },
                phone,
                email,
            ))
        }
        _ => Err(RetrievalError::Fields(problems)),
    }
}

/// Checks the form and sends a code to its phone (the result of the case
/// will go there, so it is proved now). Within a daily budget per address.
pub async fn start(
    state: &AppState,
    org_id: Uuid,
    entered: &Entered,
    origin: &Origin,
    lang: Lang,
) -> Result<Pending, RetrievalError> {
    let org = organization_for_form(state, org_id).await?;
    let (data, phone, email) = check(state, &org, entered, lang)?;
    budget(
        state,
        &format!("retrieve-form:{}", address(origin)),
        FORMS_PER_DAY,
        DAY,
    )
    .await?;
    codes::send_to(
        state,
        codes::Purpose::Retrieval,
        Recipient::Unproved(&phone),
        origin,
        lang,
        Delivery::Wait,
    )
    .await
    .map_err(RetrievalError::Send)?;
    Ok(Pending {
        data,
        phone: phone.as_str().to_string(),
        email: email.map(|e| e.normalized()),
        sent_at: state.clock.now().unix_timestamp(),
    })
}

/// Sends the form's code again (within the code service's limits).
pub async fn resend(
    state: &AppState,
    pending: &Pending,
    origin: &Origin,
    lang: Lang,
) -> Result<(), RetrievalError> {
    let phone = PhoneNumber::stored(&pending.phone)
        .ok_or_else(|| RetrievalError::Corrupt("pending phone".into()))?;
    codes::send_to(
        state,
        codes::Purpose::Retrieval,
        Recipient::Unproved(&phone),
        origin,
        lang,
        Delivery::Wait,
    )
    .await
    .map_err(RetrievalError::Send)
}

/// How long until another code may go to the pending form's phone.
pub async fn resend_wait(state: &AppState, pending: &Pending) -> StdDuration {
    match PhoneNumber::stored(&pending.phone) {
        Some(p) => codes::resend_wait(state, Recipient::Unproved(&p))
            .await
            .unwrap_or_default(),
        None => StdDuration::ZERO,
    }
}

/// A new case number not in use yet.
async fn new_number(state: &AppState) -> Result<CaseNumber, RetrievalError> {
    for _ in 0..8 {
        let n = CaseNumber::from_random(u64::from_le_bytes(
            random::bytes::<8>().map_err(|e| RetrievalError::Corrupt(e.to_string()))?,
        ));
        if state
            .store
            .case_by_public_number(&n.digits())
            .await?
            .is_none()
        {
            return Ok(n);
        }
    }
    Err(RetrievalError::Corrupt("no free case number".into()))
}

/// The phone is confirmed by its code: the case is created, waiting for
/// its documents, with its 16-digit number.
pub async fn confirm(
    state: &AppState,
    pending: &Pending,
    code: &str,
    origin: &Origin,
) -> Result<Case, RetrievalError> {
    let phone = PhoneNumber::stored(&pending.phone)
        .ok_or_else(|| RetrievalError::Corrupt("pending phone".into()))?;
    match codes::verify_for(
        state,
        codes::Purpose::Retrieval,
        Recipient::Unproved(&phone),
        code,
    )
    .await
    {
        Ok(()) => {}
        Err(codes::VerifyError::Wrong(left)) => return Err(RetrievalError::WrongCode(left)),
        Err(codes::VerifyError::NoCode) => return Err(RetrievalError::NoCode),
        Err(codes::VerifyError::Internal(e)) => return Err(RetrievalError::Corrupt(e)),
    }
    // The organization may have changed meanwhile (a registration dropped).
    let org = organization_for_form(state, pending.data.organization_id).await?;
    let number = new_number(state).await?;
    let now = state.clock.now();
    let mut data = pending.data.clone();
    data.organization = org.full_name.clone();
    data.organization_registered = org.status == OrganizationStatus::Pending;
    let case = Case {
        id: Uuid::now_v7(),
        kind: CaseKind::PasswordRetrieval,
        public_number: Some(number.digits()),
        account_id: None,
        state: CaseState::AwaitingDocuments,
        revision: 1,
        version: 1,
        data: serde_json::to_string(&data).map_err(|e| RetrievalError::Corrupt(e.to_string()))?,
        contact_phone: Some(phone.as_str().to_string()),
        contact_email: pending.email.clone(),
        consent_version: Some(CONSENT_VERSION.into()),
        consent_at: Some(now),
        submitted_at: now,
        due_at: None,
        claimed_by: None,
        claimed_at: None,
        decided_at: None,
        approvals: "[]".into(),
        effective_at: None,
        completed_at: None,
        // The form's data goes with the case; nothing is uploaded yet.
        purge_after: None,
        applicant_note: None,
        internal_note: None,
        created_at: now,
        updated_at: now,
    };
    let actor = Actor::Anonymous;
    let ev = review::event(
        "created",
        &actor,
        origin,
        None,
        CaseState::AwaitingDocuments,
        None,
    );
    let au = review::audit("retrieval.created", &case, &actor, origin, None);
    state.store.insert_case(&case, &[], &ev, &au).await?;
    Ok(case)
}

// ── step 3: the PDF ─────────────────────────────────────────────────────

/// The case's form as a one-page A4 PDF, in the case's language (the
/// font is parsed once per process; rendering runs on the blocking pool).
pub async fn sheet(state: &AppState, case: &Case) -> Result<Vec<u8>, RetrievalError> {
    let data = RetrievalData::of(case).map_err(RetrievalError::Corrupt)?;
    let number = CaseNumber::parse(case.public_number.as_deref().unwrap_or_default())
        .map_err(|e| RetrievalError::Corrupt(e.to_string()))?;
    let lang = data.lang();
    let t = lang.text();
    let mut rows = vec![(
        t.retrieve_organization.to_string(),
        data.organization.clone(),
    )];
    if let Some(a) = &data.account {
        rows.push((t.retrieve_account.to_string(), a.clone()));
    }
    if let Some(n) = &data.registered_name {
        rows.push((t.retrieve_registered_name.to_string(), n.clone()));
    }
    rows.push((t.retrieve_name.to_string(), data.name.clone()));
    rows.push((
        t.retrieve_id_type.to_string(),
        match data.id_type {
            IdType::ResidentCard => t.retrieve_id_resident,
            IdType::Passport => t.retrieve_id_passport,
        }
        .to_string(),
    ));
    rows.push((t.retrieve_id_number.to_string(), data.id_masked()));
    rows.push((
        t.retrieve_phone.to_string(),
        case.contact_phone
            .as_deref()
            .map(PhoneNumber::masked)
            .unwrap_or_default(),
    ));
    if let Some(m) = &case.contact_email {
        rows.push((t.retrieve_email.to_string(), m.clone()));
    }
    let reason = reason_label(t, data.reason);
    rows.push((
        t.retrieve_reason.to_string(),
        match &data.reason_text {
            Some(text) => format!("{reason}{}{text}", t.retrieve_reason_sep),
            None => reason.to_string(),
        },
    ));
    let date = crate::domain::calendar::local_date(case.created_at, super::calendar::offset(state));
    let sheet = super::retrieval_form::RetrievalSheet {
        title: t.retrieve_sheet_title.into(),
        case_number: number,
        case_label: t.retrieve_case_number.into(),
        rows,
        signature_label: t.retrieve_sheet_signature.into(),
        date_label: t.retrieve_sheet_date.into(),
        seal_label: t.retrieve_sheet_seal.into(),
        filled_on: (t.retrieve_sheet_filled_on)(&crate::domain::calendar::format_date(date)),
        instructions: vec![
            t.retrieve_next_print.into(),
            t.retrieve_next_scan.into(),
            t.retrieve_next_return.into(),
        ],
    };
    let fonts = state.form_fonts.clone();
    tokio::task::spawn_blocking(move || {
        let font = fonts.get().map_err(RetrievalError::Pdf)?;
        super::retrieval_form::render(&sheet, font).map_err(|e| RetrievalError::Pdf(e.to_string()))
    })
    .await
    .map_err(|e| RetrievalError::Pdf(e.to_string()))?
}

// ── step 4: file authentication ─────────────────────────────────────────

/// The organization's full name and the case number, which must match
/// exactly: the case, whatever its state. Anything else is "not found"
/// (and counts against the address and the number).
pub async fn authenticate(
    state: &AppState,
    full_name: &str,
    number: &str,
    origin: &Origin,
) -> Result<Case, RetrievalError> {
    let by_address = format!("retrieve-auth:{}", address(origin));
    if let Some(wait) = over(state, &by_address, AUTH_PER_ADDRESS).await? {
        return Err(RetrievalError::TooMany(wait));
    }
    let parsed = CaseNumber::parse(number).ok();
    let by_number = parsed.map(|n| format!("retrieve-auth-number:{}", n.digits()));
    if let Some(key) = &by_number
        && let Some(wait) = over(state, key, AUTH_PER_NUMBER).await?
    {
        return Err(RetrievalError::TooMany(wait));
    }
    let found = match parsed {
        Some(n) => state.store.case_by_public_number(&n.digits()).await?,
        None => None,
    };
    let matches = found.filter(|case| {
        case.kind == CaseKind::PasswordRetrieval
            && RetrievalData::of(case).is_ok_and(|d| {
                d.organization.trim() == full_name.trim() && !full_name.trim().is_empty()
            })
    });
    match matches {
        Some(case) => Ok(case),
        None => {
            budget(state, &by_address, i64::MAX, AUTH_WINDOW).await?;
            if let Some(key) = &by_number {
                budget(state, key, i64::MAX, DAY).await?;
            }
            Entry::new("retrieval.authentication_failed", Outcome::Failure)
                .actor(&Actor::Anonymous)
                .origin(origin)
                .write(&state.store)
                .await?;
            Err(RetrievalError::NotFound)
        }
    }
}

/// A retrieval case by id (the browser's session holds the id after the
/// form or the file authentication).
pub async fn case(state: &AppState, id: Uuid) -> Result<Case, RetrievalError> {
    match state.store.case_by_id(id).await? {
        Some(c) if c.kind == CaseKind::PasswordRetrieval => Ok(c),
        _ => Err(RetrievalError::NotFound),
    }
}

// ── step 5: uploads ─────────────────────────────────────────────────────

/// What a slot holds in the case's current revision.
#[derive(Debug, Clone)]
pub struct SlotState {
    pub slot: i64,
    pub uploaded: Option<OffsetDateTime>,
    pub width: i64,
    pub height: i64,
    pub purged: bool,
}

/// The two slots of the case's current revision.
pub async fn slots(state: &AppState, case: &Case) -> Result<Vec<SlotState>, RetrievalError> {
    let docs = state.store.case_documents(case.id, case.revision).await?;
    Ok([SLOT_FORM, SLOT_ID_CARD]
        .into_iter()
        .map(|slot| match docs.iter().find(|d| d.slot == slot) {
            Some(d) => SlotState {
                slot,
                uploaded: Some(d.created_at),
                width: d.width,
                height: d.height,
                purged: d.purged_at.is_some(),
            },
            None => SlotState {
                slot,
                uploaded: None,
                width: 0,
                height: 0,
                purged: false,
            },
        })
        .collect())
}

/// Whether the case takes uploads now (waiting for documents, or rejected:
/// the person uploads again).
pub fn takes_uploads(case: &Case) -> bool {
    matches!(
        case.state,
        CaseState::AwaitingDocuments | CaseState::Rejected
    )
}

fn open_document(
    keys: &DocumentKeys,
    case: &Case,
    revision: i64,
    d: crate::store::review::StoredDocument,
) -> Result<Option<Vec<u8>>, DocumentError> {
    let (Some(wrapped_key), Some(ciphertext)) = (d.wrapped_key, d.ciphertext) else {
        return Ok(None);
    };
    documents::open(
        keys,
        Place {
            case_id: case.id,
            revision,
            slot: d.slot,
        },
        &Sealed {
            kek_id: d.kek_id,
            wrapped_key,
            ciphertext,
        },
    )
    .map(Some)
}

/// Uploads (or replaces) one slot's scan: checked, cleaned and encrypted
/// like the unbind documents. The same picture as either slot holds is
/// refused (请勿重复上传文件). After a rejection the first upload starts
/// a new revision.
pub async fn upload(
    state: &AppState,
    case_id: Uuid,
    slot: i64,
    bytes: Vec<u8>,
    origin: &Origin,
) -> Result<Case, RetrievalError> {
    if slot != SLOT_FORM && slot != SLOT_ID_CARD {
        return Err(RetrievalError::NoSlot);
    }
    let mut case = case(state, case_id).await?;
    if !takes_uploads(&case) {
        return Err(
            if case.state == CaseState::Submitted || case.state == CaseState::InReview {
                RetrievalError::AlreadySubmitted
            } else {
                RetrievalError::NotUploading
            },
        );
    }
    let revision = if case.state == CaseState::Rejected {
        case.revision + 1
    } else {
        case.revision
    };
    let mut prepared =
        review::prepare_documents_from(state, case.id, revision, slot, vec![bytes]).await?;
    let Some(doc) = prepared.pop() else {
        return Err(DocumentError::Missing.into());
    };
    // The picture as stored (re-encoded from its pixels), to compare with
    // what the slots hold.
    let keys = DocumentKeys::from_config(&state.config);
    let plain = documents::open(
        &keys,
        Place {
            case_id: case.id,
            revision,
            slot,
        },
        &Sealed {
            kek_id: doc.kek_id.clone(),
            wrapped_key: doc.wrapped_key.clone(),
            ciphertext: doc.ciphertext.clone(),
        },
    )?;
    if case.state == CaseState::AwaitingDocuments {
        for other in state.store.case_documents(case.id, revision).await? {
            if let Some(existing) = open_document(&keys, &case, revision, other)?
                && existing == plain
            {
                return Err(RetrievalError::Duplicate);
            }
        }
    }
    if case.state == CaseState::Rejected {
        // Upload again: a new revision, waiting for its documents.
        case = review::change(
            state,
            Change {
                case_id: case.id,
                read_version: case.version,
                to: CaseState::AwaitingDocuments,
                event: "reopened",
                note: None,
                actor: &Actor::Anonymous,
                origin,
                extras: CaseExtras::default(),
            },
            move |c, _| {
                c.revision = revision;
                c.claimed_by = None;
                c.claimed_at = None;
                c.approvals = "[]".into();
                Ok(())
            },
            None,
        )
        .await?;
    }
    let actor = Actor::Anonymous;
    let ev = review::event(
        "uploaded",
        &actor,
        origin,
        Some(case.state),
        case.state,
        None,
    );
    let mut au = review::audit(
        "retrieval.uploaded",
        &case,
        &actor,
        origin,
        Some(case.state),
    );
    au.detail = json!({ "case": case.id, "revision": revision, "slot": slot });
    match state
        .store
        .put_case_document(&case, case.version, &doc, &ev, &au)
        .await
    {
        Ok(()) => Ok(case),
        Err(StoreError::Stale) => Err(RetrievalError::NotUploading),
        Err(e) => Err(e.into()),
    }
}

/// A scan of the case's current revision, for the browser that holds the
/// case (view own).
pub async fn own_document(
    state: &AppState,
    case_id: Uuid,
    slot: i64,
) -> Result<Vec<u8>, RetrievalError> {
    let case = case(state, case_id).await?;
    let keys = DocumentKeys::from_config(&state.config);
    let doc = state
        .store
        .case_documents(case.id, case.revision)
        .await?
        .into_iter()
        .find(|d| d.slot == slot)
        .ok_or(RetrievalError::NotFound)?;
    open_document(&keys, &case, case.revision, doc)?.ok_or(RetrievalError::NotFound)
}

/// Both scans are there: the case goes to the reviewers, due within
/// `retrieval.result_working_days` working days by the calendar.
pub async fn submit(
    state: &AppState,
    case_id: Uuid,
    origin: &Origin,
) -> Result<Case, RetrievalError> {
    let case = case(state, case_id).await?;
    match case.state {
        CaseState::AwaitingDocuments => {}
        CaseState::Submitted | CaseState::InReview => return Err(RetrievalError::AlreadySubmitted),
        _ => return Err(RetrievalError::NotUploading),
    }
    let s = slots(state, &case).await?;
    if s.iter().any(|s| s.uploaded.is_none() || s.purged) {
        return Err(RetrievalError::Incomplete);
    }
    let due = super::calendar::due_after_working_days(
        state,
        state.clock.now(),
        state.config.retrieval.result_working_days,
    )
    .await?;
    let result = review::change(
        state,
        Change {
            case_id,
            read_version: case.version,
            to: CaseState::Submitted,
            event: if case.revision > 1 {
                "resubmitted"
            } else {
                "submitted"
            },
            note: None,
            actor: &Actor::Anonymous,
            origin,
            extras: CaseExtras::default(),
        },
        move |c, now| {
            c.submitted_at = now;
            c.due_at = Some(due);
            c.applicant_note = None;
            Ok(())
        },
        None,
    )
    .await;
    match result {
        Ok(c) => Ok(c),
        // Two submits at once: the other one went through.
        Err(ReviewError::Stale | ReviewError::NotAllowed { .. }) => {
            Err(RetrievalError::AlreadySubmitted)
        }
        Err(e) => Err(e.into()),
    }
}

// ── reviewers ───────────────────────────────────────────────────────────

/// The accounts the case may be about: by the account name, the name
/// (given or registered), or the form's phone.
pub async fn matching_accounts(state: &AppState, case: &Case) -> Result<Vec<User>, RetrievalError> {
    let data = RetrievalData::of(case).map_err(RetrievalError::Corrupt)?;
    let mut found = state
        .store
        .accounts_matching(
            data.account.as_deref(),
            Some(&data.name),
            case.contact_phone.as_deref(),
            20,
        )
        .await?;
    if let Some(n) = &data.registered_name
        && n != &data.name
    {
        for u in state
            .store
            .accounts_matching(None, Some(n), None, 20)
            .await?
        {
            if !found.iter().any(|f| f.id == u.id) {
                found.push(u);
            }
        }
    }
    Ok(found)
}

/// Why a reviewer's approval was refused beside the engine's reasons.
#[derive(Debug, thiserror::Error)]
pub enum ApproveError {
    /// No active account by that name.
    #[error("no active account by that name")]
    NoAccount,
    #[error(transparent)]
    Review(#[from] ReviewError),
    #[error(transparent)]
    Retrieval(#[from] RetrievalError),
}

/// Whether the account has another way to hear of the retrieval than the
/// form's phone: a login or security phone that is not it, or a verified
/// security e-mail.
fn other_channels(user: &User, form_phone: Option<&str>) -> bool {
    let phones = [&user.login_phone, &user.security_phone]
        .into_iter()
        .flatten()
        .any(|p| Some(p.as_str()) != form_phone);
    phones || (user.security_email.is_some() && user.security_email_verified)
}

/// A reviewer approves a retrieval, naming the account by its account
/// name. A pending organization the case names becomes active in the same
/// transaction. With `retrieval.cooling_off_hours` and other channels of
/// the account, the code waits that long (the channels hear of it first);
/// otherwise it goes out now.
pub async fn approve(
    state: &AppState,
    reviewer: &User,
    case_id: Uuid,
    read_version: i64,
    account_name: &str,
    origin: &Origin,
) -> Result<(Case, review::Approved), ApproveError> {
    let case = case(state, case_id).await?;
    if case.kind != CaseKind::PasswordRetrieval {
        return Err(RetrievalError::NotFound.into());
    }
    let account = match state.store.user_by_username(account_name.trim()).await {
        Ok(Some(u)) if u.status == AccountStatus::Active => u,
        Ok(_) => return Err(ApproveError::NoAccount),
        Err(e) => return Err(RetrievalError::from(e).into()),
    };
    let data = RetrievalData::of(&case).map_err(RetrievalError::Corrupt)?;
    let mut extras = CaseExtras::default();
    if let Ok(org) = super::organizations::by_id(state, data.organization_id).await
        && org.status == OrganizationStatus::Pending
    {
        let audit = Entry::new("organization.confirmed", Outcome::Success)
            .actor(&Actor::user(reviewer))
            .origin(origin)
            .detail(
                json!({ "organization_id": org.id, "full_name": org.full_name, "case": case.id }),
            )
            .finish();
        extras.activate_organization = Some((org.id, audit));
    }
    let hours = state.config.retrieval.cooling_off_hours;
    let cooling = if hours > 0 && other_channels(&account, case.contact_phone.as_deref()) {
        Duration::hours(i64::from(hours))
    } else {
        Duration::ZERO
    };
    let (approved, outcome) = review::approve_on(
        state,
        reviewer,
        case_id,
        read_version,
        Terms {
            account: Some(account.id),
            cooling,
            extras,
        },
        origin,
    )
    .await?;
    if outcome == review::Approved::Decided
        && approved
            .effective_at
            .is_some_and(|t| t <= state.clock.now())
    {
        let sent = issue_code(state, &approved, origin).await?;
        return Ok((sent, outcome));
    }
    Ok((approved, outcome))
}

fn code_hash(salt: &str, code: &str) -> String {
    crate::crypto::sha256_hex(format!("{salt}:{code}"))
}

/// The approval takes effect: a fresh one-time code is stored (hashed) with
/// the move to `awaiting_completion`, in one transaction, and then goes by
/// SMS to the form's phone with the address of the completion page.
async fn issue_code(
    state: &AppState,
    case: &Case,
    origin: &Origin,
) -> Result<Case, RetrievalError> {
    let [a, b, c, d] = random::bytes::<4>().map_err(|e| RetrievalError::Corrupt(e.to_string()))?;
    let code = format!("{:06}", u32::from_le_bytes([a, b, c, d]) % 1_000_000);
    let salt = random::token().map_err(|e| RetrievalError::Corrupt(e.to_string()))?;
    let hours = state.config.retrieval.code_hours;
    let expires_at = state.clock.now() + Duration::hours(i64::from(hours));
    let extras = CaseExtras {
        retrieval_code: Some(NewRetrievalCode {
            code_hash: code_hash(&salt, &code),
            salt,
            expires_at,
        }),
        ..CaseExtras::default()
    };
    let moved = review::change(
        state,
        Change {
            case_id: case.id,
            read_version: case.version,
            to: CaseState::AwaitingCompletion,
            event: "code_sent",
            note: None,
            actor: &Actor::System,
            origin,
            extras,
        },
        |_, _| Ok(()),
        None,
    )
    .await?;
    let data = RetrievalData::of(&moved).map_err(RetrievalError::Corrupt)?;
    if let Some(phone) = moved.contact_phone.as_deref().and_then(PhoneNumber::stored) {
        let link = complete_link(state);
        let number = moved.public_number.clone().unwrap_or_default();
        let sms = Sms::RetrievalApproved {
            code: &code,
            hours: u64::from(hours),
            link: &link,
        };
        if let Some(message) = codes::notice(
            SmsPurpose::RetrievalCode,
            &phone,
            &sms,
            vec![
                ("code", code.clone()),
                ("hours", hours.to_string()),
                ("link", link.clone()),
                ("case", number),
            ],
            data.lang(),
        ) {
            codes::deliver_later(
                state,
                message,
                "sms.retrieval_code_sent",
                None,
                origin.clone(),
            );
        }
    }
    Ok(moved)
}

/// The address of the completion page.
pub fn complete_link(state: &AppState) -> String {
    format!(
        "{}{}",
        state.config.issuer(),
        crate::routes::RETRIEVE_COMPLETE
    )
}

// ── step 6: completion ──────────────────────────────────────────────────

/// Why a completion was refused.
#[derive(Debug, thiserror::Error)]
pub enum CompleteError {
    /// No case waiting for completion with that number (or a wrong number).
    #[error("no such case")]
    NotFound,
    #[error("the code is wrong ({0} tries left)")]
    WrongCode(i64),
    #[error("the code has expired")]
    Expired,
    #[error("the code's tries are used up")]
    TooManyTries,
    #[error("the passwords differ")]
    Mismatch,
    #[error("the password is missing")]
    PasswordMissing,
    #[error("{0}")]
    Weak(String),
    #[error("too many attempts; wait {0:?}")]
    TooMany(StdDuration),
    #[error("{0}")]
    Internal(String),
}

impl From<StoreError> for CompleteError {
    fn from(e: StoreError) -> Self {
        CompleteError::Internal(e.to_string())
    }
}

impl From<EphemeralError> for CompleteError {
    fn from(e: EphemeralError) -> Self {
        CompleteError::Internal(e.to_string())
    }
}

/// The case number, the one-time code and the new password (twice): the
/// password is set under the policy, weak-password blocks are lifted,
/// every session, refresh token and application password of the account
/// ends, the case completes (the code is spent), and the account's other
/// channels hear of it.
pub async fn complete(
    state: &AppState,
    number: &str,
    code: &str,
    password: &str,
    again: &str,
    origin: &Origin,
) -> Result<User, CompleteError> {
    let key = format!("retrieve-complete:{}", address(origin));
    if state.ephemeral.incr(&key, HOUR).await? > COMPLETE_PER_HOUR {
        return Err(CompleteError::TooMany(
            state.ephemeral.ttl(&key).await?.unwrap_or(HOUR),
        ));
    }
    let case = match CaseNumber::parse(number) {
        Ok(n) => state.store.case_by_public_number(&n.digits()).await?,
        Err(_) => None,
    };
    let Some(case) = case.filter(|c| c.kind == CaseKind::PasswordRetrieval) else {
        return Err(CompleteError::NotFound);
    };
    let (Some(account), CaseState::AwaitingCompletion) = (case.account_id, case.state) else {
        return Err(match case.state {
            CaseState::Expired => CompleteError::Expired,
            _ => CompleteError::NotFound,
        });
    };
    let Some(stored) = state.store.retrieval_code(case.id).await? else {
        return Err(CompleteError::NotFound);
    };
    if stored.expires_at <= state.clock.now() {
        return Err(CompleteError::Expired);
    }
    if !state.store.count_retrieval_try(case.id, CODE_TRIES).await? {
        return Err(CompleteError::TooManyTries);
    }
    let given = code.trim();
    let right = given.len() == 6
        && given.bytes().all(|b| b.is_ascii_digit())
        && random::constant_time_eq(
            code_hash(&stored.salt, given).as_bytes(),
            stored.code_hash.as_bytes(),
        );
    let actor = Actor::Anonymous;
    if !right {
        let left = (CODE_TRIES - stored.tries - 1).max(0);
        Entry::new("retrieval.code_wrong", Outcome::Failure)
            .actor(&actor)
            .origin(origin)
            .detail(json!({ "case": case.id, "tries_left": left }))
            .write(&state.store)
            .await?;
        return Err(if left == 0 {
            CompleteError::TooManyTries
        } else {
            CompleteError::WrongCode(left)
        });
    }
    if password.is_empty() {
        return Err(CompleteError::PasswordMissing);
    }
    if password != again {
        return Err(CompleteError::Mismatch);
    }
    let user = state
        .store
        .user_by_id(account)
        .await?
        .ok_or(CompleteError::NotFound)?;
    let secret = SecretPassword::new(password.to_string());
    match super::accounts::set_password(state, &user.username, &secret, &actor, origin).await {
        Ok(_) => {}
        Err(super::accounts::AccountError::WeakPassword(explain, _)) => {
            return Err(CompleteError::Weak(explain));
        }
        Err(e) => return Err(CompleteError::Internal(e.to_string())),
    }
    let finished = review::finish(
        state,
        Change {
            case_id: case.id,
            read_version: case.version,
            to: CaseState::Completed,
            event: "completed",
            note: None,
            actor: &actor,
            origin,
            extras: CaseExtras {
                drop_retrieval_code: true,
                ..CaseExtras::default()
            },
        },
    )
    .await;
    if let Err(e) = finished {
        tracing::warn!(error = %e, case = %case.id, "a completed retrieval could not be closed");
    }
    Ok(user)
}

// ── time ────────────────────────────────────────────────────────────────

/// What a sweep of retrievals did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Swept {
    /// Approvals whose cooling-off ended: their codes went out.
    pub codes_sent: u64,
    /// Cases left waiting (for documents, after a rejection, or for
    /// completion past the code's validity) that expired.
    pub expired: u64,
    /// Pending organizations nobody confirmed, removed.
    pub registrations_dropped: u64,
}

/// Moves retrievals on by time. Safe on several nodes: each change is
/// version-checked and a node that loses skips the case.
pub async fn sweep(state: &AppState) -> Result<Swept, RetrievalError> {
    let mut out = Swept::default();
    let now = state.clock.now();
    let origin = Origin::default();
    for id in state
        .store
        .cases_effective_before(CaseState::Approved, now, 500)
        .await?
    {
        if let Some(case) = state.store.case_by_id(id).await?
            && case.kind == CaseKind::PasswordRetrieval
        {
            match issue_code(state, &case, &origin).await {
                Ok(_) => out.codes_sent += 1,
                Err(RetrievalError::Review(
                    ReviewError::Stale | ReviewError::NotAllowed { .. },
                )) => {}
                Err(e) => return Err(e),
            }
        }
    }
    let waits = [
        (
            CaseState::AwaitingDocuments,
            Duration::days(i64::from(state.config.retrieval.documents_days)),
        ),
        (
            CaseState::Rejected,
            Duration::days(i64::from(state.config.retrieval.documents_days)),
        ),
        (
            CaseState::AwaitingCompletion,
            Duration::hours(i64::from(state.config.retrieval.code_hours)),
        ),
    ];
    for (waiting, for_how_long) in waits {
        for case in state
            .store
            .cases_idle_since(
                CaseKind::PasswordRetrieval,
                waiting,
                now - for_how_long,
                500,
            )
            .await?
        {
            let r = review::finish(
                state,
                Change {
                    case_id: case.id,
                    read_version: case.version,
                    to: CaseState::Expired,
                    event: "expired",
                    note: None,
                    actor: &Actor::System,
                    origin: &origin,
                    extras: CaseExtras {
                        drop_retrieval_code: true,
                        ..CaseExtras::default()
                    },
                },
            )
            .await;
            match r {
                Ok(_) => out.expired += 1,
                Err(ReviewError::Stale | ReviewError::NotAllowed { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    let registration = Duration::days(i64::from(state.config.retrieval.registration_days));
    let stale = state.store.stale_registrations(now - registration).await?;
    if !stale.is_empty() {
        let named: Vec<Uuid> = state
            .store
            .open_cases_of_kind(CaseKind::PasswordRetrieval, 10_000)
            .await?
            .iter()
            .filter_map(|c| RetrievalData::of(c).ok().map(|d| d.organization_id))
            .collect();
        for org in stale.into_iter().filter(|o| !named.contains(o)) {
            let audit = Entry::new("organization.registration_expired", Outcome::Success)
                .actor(&Actor::System)
                .detail(json!({ "organization_id": org }))
                .finish();
            if state.store.drop_pending_organization(org, &audit).await? {
                out.registrations_dropped += 1;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_retrieval_table_has_its_path_and_nothing_from_a_final_state() {
        use CaseState::*;
        let k = CaseKind::PasswordRetrieval;
        for (from, to) in [
            (AwaitingDocuments, Submitted),
            (Submitted, InReview),
            (InReview, Approved),
            (Approved, AwaitingCompletion),
            (AwaitingCompletion, Completed),
            (InReview, Rejected),
            (Rejected, AwaitingDocuments),
            (AwaitingCompletion, Expired),
        ] {
            assert!(review::allowed(k, from, to), "{from:?} -> {to:?}");
        }
        for (from, to) in [
            (AwaitingDocuments, Approved),
            (Submitted, Approved),
            (Approved, Completed),
            (Completed, AwaitingDocuments),
            (Expired, Submitted),
            (AwaitingRebind, Completed),
        ] {
            assert!(!review::allowed(k, from, to), "{from:?} -> {to:?}");
        }
        for from in CaseState::ALL.into_iter().filter(|s| s.is_final()) {
            for to in CaseState::ALL {
                assert!(!review::allowed(k, from, to));
            }
        }
    }

    #[test]
    fn id_problems_are_named_by_the_parser_reason() {
        let today = time::macros::date!(2026 - 12 - 01);
        let reason = |s: &str| id_problem(ChineseIdNumber::parse(s, today).unwrap_err().reason);
        assert_eq!(reason("11010519491231002"), IdProblem::Length);
        assert_eq!(reason("11010519491231002Y"), IdProblem::Characters);
        assert_eq!(reason("99010519491231002X"), IdProblem::Province);
        assert_eq!(reason("11010519491331002X"), IdProblem::BirthDate);
        assert_eq!(reason("110105194912310021"), IdProblem::CheckCharacter);
        assert!(ChineseIdNumber::parse("11010519491231002X", today).is_ok());
    }
}
