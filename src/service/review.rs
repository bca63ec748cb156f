//! The review-case engine: a case that a person submits, reviewers decide,
//! and the system finishes. Built once for every kind (the phone-unbind
//! application first; the organization-verified retrieval later); each kind
//! brings its data and its transition table.
//!
//! ```text
//!  submitted ──claim──▶ in_review ──approve──▶ approved ──cooling-off──▶ awaiting_rebind ──bind──▶ completed
//!     │  ▲                  │                     │                          │
//!     │  └─resubmit─ edited ◀─edit─ rejected ◀────┘(reject)                  └──14 days──▶ expired
//!     └──edit──────────▲
//!  withdrawn: the applicant, while submitted / rejected / edited
//!  cancelled: the cancel link or the old phone, while the case is open
//! ```
//!
//! Every change is one transaction in the store (case row checked against
//! the version the caller read, the `case_events` line, the audit entry):
//! of two reviewers deciding at once exactly one wins and the other gets
//! [`ReviewError::Stale`].

use serde::{Deserialize, Serialize};
use serde_json::json;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::audit::{Entry, Outcome};
use super::documents::{self, DocumentError, DocumentKeys, Place, Sealed, UploadLimits};
use super::{Actor, Origin};
use crate::domain::{Email, PhoneNumber};
use crate::state::AppState;
use crate::store::StoreError;
use crate::store::review::{
    Case, CaseExtras, CaseKind, CaseState, NewCaseEvent, NewDocument, PhoneRelease,
};
use crate::store::users::{AccountStatus, User};

use CaseState::*;

/// The phone-unbind transition table (issue 14, point 5). Any pair not
/// listed is refused.
const PHONE_UNBIND: &[(CaseState, CaseState)] = &[
    (Submitted, InReview),
    (Submitted, Edited),
    (Submitted, Withdrawn),
    (Submitted, Cancelled),
    (InReview, Approved),
    (InReview, Rejected),
    (InReview, Cancelled),
    (Approved, AwaitingRebind),
    (Approved, Cancelled),
    (AwaitingRebind, Completed),
    (AwaitingRebind, Expired),
    (AwaitingRebind, Cancelled),
    (Rejected, Edited),
    (Rejected, Withdrawn),
    (Rejected, Cancelled),
    (Edited, Submitted),
    (Edited, Withdrawn),
    (Edited, Cancelled),
];

/// The password-retrieval transition table (issue 16): the form comes
/// first and the stamped scans later (`awaiting_documents`); a rejection
/// lets the person upload again (a new revision); an approval names the
/// account and, after the cooling-off period, sends the one-time code
/// (`awaiting_completion`).
const PASSWORD_RETRIEVAL: &[(CaseState, CaseState)] = &[
    (AwaitingDocuments, Submitted),
    (AwaitingDocuments, Expired),
    (Submitted, InReview),
    (InReview, Approved),
    (InReview, Rejected),
    (Approved, AwaitingCompletion),
    (AwaitingCompletion, Completed),
    (AwaitingCompletion, Expired),
    (Rejected, AwaitingDocuments),
    (Rejected, Expired),
];

/// Whether a case of `kind` may move from `from` to `to`.
pub fn allowed(kind: CaseKind, from: CaseState, to: CaseState) -> bool {
    let table = match kind {
        CaseKind::PhoneUnbind => PHONE_UNBIND,
        CaseKind::PasswordRetrieval => PASSWORD_RETRIEVAL,
    };
    table.contains(&(from, to))
}

/// The longest note (to the applicant, internal, or a cancel reason).
pub const MAX_NOTE_CHARS: usize = 500;

#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    /// No such case, or not one this person may see.
    #[error("no such case")]
    NotFound,
    /// Someone else changed the case since it was read.
    #[error("the case was changed by someone else; reload it")]
    Stale,
    #[error("a case cannot go from {from} to {to}")]
    NotAllowed {
        from: &'static str,
        to: &'static str,
    },
    #[error("there is already an open case of this kind for the account")]
    OpenCaseExists,
    #[error("a note for the applicant is required")]
    NoteRequired,
    #[error("a note is at most {MAX_NOTE_CHARS} characters")]
    NoteTooLong,
    #[error("consent to the processing of the documents is required")]
    ConsentRequired,
    /// Four eyes: the second approval must come from another reviewer.
    #[error("the second approval must come from another reviewer")]
    SameReviewer,
    /// A reviewer's own application: someone else decides it.
    #[error("nobody reviews their own application")]
    OwnCase,
    #[error("only a reviewer may do this")]
    NotReviewer,
    #[error(transparent)]
    Document(#[from] DocumentError),
    #[error("case data is not valid: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for ReviewError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Stale => ReviewError::Stale,
            StoreError::NotFound => ReviewError::NotFound,
            StoreError::Conflict(_) => ReviewError::OpenCaseExists,
            other => ReviewError::Store(other),
        }
    }
}

impl ReviewError {
    /// What to tell the person, in the page's language.
    pub fn text(&self, t: &crate::i18n::Text) -> String {
        match self {
            ReviewError::NotFound => t.review_not_found.into(),
            ReviewError::Stale => t.review_stale.into(),
            ReviewError::NotAllowed { .. } => t.review_not_allowed.into(),
            ReviewError::OpenCaseExists => t.review_open_case_exists.into(),
            ReviewError::NoteRequired => t.review_note_required.into(),
            ReviewError::NoteTooLong => (t.review_note_too_long)(MAX_NOTE_CHARS),
            ReviewError::ConsentRequired => t.review_consent_required.into(),
            ReviewError::SameReviewer => t.review_same_reviewer.into(),
            ReviewError::NotReviewer => t.review_not_reviewer.into(),
            ReviewError::OwnCase => t.review_own_case.into(),
            ReviewError::Document(d) => documents::text(d, t),
            ReviewError::Corrupt(_) | ReviewError::Store(_) => t.review_failed.into(),
        }
    }
}

/// One approval of a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    pub id: Uuid,
    pub name: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// The approvals recorded on a case.
pub fn approvals(case: &Case) -> Result<Vec<Approval>, ReviewError> {
    serde_json::from_str(&case.approvals)
        .map_err(|e| ReviewError::Corrupt(format!("approvals of {}: {e}", case.id)))
}

/// What an applicant submits.
pub struct Submission {
    pub kind: CaseKind,
    /// Kind-specific, non-sensitive data (the reason, which phones …).
    pub data: serde_json::Value,
    pub contact_phone: Option<PhoneNumber>,
    pub contact_email: Option<Email>,
    /// The version of the consent notice the applicant accepted; `None`
    /// when the box was not ticked.
    pub consent_version: Option<String>,
    /// 1 to 3 uploads, as received.
    pub documents: Vec<Vec<u8>>,
}

fn note(text: Option<&str>, required: bool) -> Result<Option<String>, ReviewError> {
    let text = text.map(str::trim).filter(|t| !t.is_empty());
    match text {
        None if required => Err(ReviewError::NoteRequired),
        None => Ok(None),
        Some(t) if t.chars().count() > MAX_NOTE_CHARS => Err(ReviewError::NoteTooLong),
        Some(t) => Ok(Some(t.to_string())),
    }
}

fn days(n: u32) -> Duration {
    Duration::days(i64::from(n))
}

/// Uploads decoded at once on this node.
static DECODES: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// Checks, cleans and encrypts the uploads for one revision (on the
/// blocking pool: decoding and re-encoding are CPU work).
pub(crate) async fn prepare_documents(
    state: &AppState,
    case_id: Uuid,
    revision: i64,
    files: Vec<Vec<u8>>,
) -> Result<Vec<NewDocument>, ReviewError> {
    prepare_documents_from(state, case_id, revision, 1, files).await
}

/// [`prepare_documents`] for slots `first_slot`, `first_slot + 1` …
pub(crate) async fn prepare_documents_from(
    state: &AppState,
    case_id: Uuid,
    revision: i64,
    first_slot: i64,
    files: Vec<Vec<u8>>,
) -> Result<Vec<NewDocument>, ReviewError> {
    let keys = DocumentKeys::from_config(&state.config);
    if !keys.can_seal() {
        return Err(DocumentError::NoKey.into());
    }
    let limits = UploadLimits::from_config(&state.config);
    // A decode of a large picture holds a few hundred MiB for a moment:
    // at most two at once per node, the others wait their turn.
    let Ok(_permit) = DECODES.acquire().await else {
        return Err(DocumentError::Encrypt.into());
    };
    let work = tokio::task::spawn_blocking(move || -> Result<Vec<NewDocument>, DocumentError> {
        let clean = documents::clean_all(&files, limits)?;
        clean
            .into_iter()
            .enumerate()
            .map(|(i, img)| {
                let slot = i as i64 + first_slot;
                let place = Place {
                    case_id,
                    revision,
                    slot,
                };
                let sealed = documents::seal(&keys, place, &img.jpeg)?;
                Ok(NewDocument {
                    revision,
                    slot,
                    kek_id: sealed.kek_id,
                    wrapped_key: sealed.wrapped_key,
                    ciphertext: sealed.ciphertext,
                    width: i64::from(img.width),
                    height: i64::from(img.height),
                    byte_len: img.jpeg.len() as i64,
                })
            })
            .collect()
    });
    match work.await {
        Ok(r) => Ok(r?),
        Err(_) => Err(DocumentError::Encrypt.into()),
    }
}

pub(crate) fn event(
    name: &'static str,
    actor: &Actor,
    origin: &Origin,
    from: Option<CaseState>,
    to: CaseState,
    note: Option<String>,
) -> NewCaseEvent {
    NewCaseEvent {
        event: name,
        actor_id: actor.id(),
        actor: actor.label(),
        from_state: from,
        to_state: to,
        note,
        ip: origin.ip.clone(),
    }
}

fn audit_name(to: CaseState) -> &'static str {
    match to {
        Submitted => "review.submitted",
        InReview => "review.claimed",
        Approved => "review.approved",
        AwaitingRebind => "review.effective",
        Completed => "review.completed",
        Rejected => "review.rejected",
        Edited => "review.edited",
        Withdrawn => "review.withdrawn",
        Cancelled => "review.cancelled",
        Expired => "review.expired",
        AwaitingDocuments => "review.awaiting_documents",
        AwaitingCompletion => "review.code_sent",
    }
}

pub(crate) fn audit(
    name: &'static str,
    case: &Case,
    actor: &Actor,
    origin: &Origin,
    from: Option<CaseState>,
) -> crate::store::audit::NewAuditEvent {
    let mut entry = Entry::new(name, Outcome::Success)
        .actor(actor)
        .origin(origin)
        .detail(json!({
            "case": case.id,
            "kind": case.kind.as_str(),
            "revision": case.revision,
            "from": from.map(CaseState::as_str),
            "to": case.state.as_str(),
        }));
    if let Some(account) = case.account_id {
        entry = entry.subject_name(Some(account), &account.to_string());
    }
    entry.finish()
}

/// Tells the applicant of a change of state, as the case's kind does.
async fn notify(state: &AppState, case: &Case, origin: &Origin) {
    match case.kind {
        CaseKind::PhoneUnbind => super::unbind_case::notify(state, case, origin).await,
        CaseKind::PasswordRetrieval => super::retrieval_case::notify(state, case, origin).await,
    }
}

/// Submits a new case for `applicant`. The documents are checked, cleaned
/// and encrypted first; the case, its documents, its first event and the
/// audit entry are then written in one transaction.
pub async fn submit(
    state: &AppState,
    applicant: &User,
    submission: Submission,
    origin: &Origin,
) -> Result<Case, ReviewError> {
    let consent = submission
        .consent_version
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .ok_or(ReviewError::ConsentRequired)?;
    if !submission.data.is_object() {
        return Err(ReviewError::Corrupt(
            "case data must be a JSON object".into(),
        ));
    }
    let id = Uuid::now_v7();
    let documents = prepare_documents(state, id, 1, submission.documents).await?;
    let now = state.clock.now();
    let case = Case {
        id,
        kind: submission.kind,
        public_number: None,
        account_id: Some(applicant.id),
        state: Submitted,
        revision: 1,
        version: 1,
        data: submission.data.to_string(),
        contact_phone: submission.contact_phone.map(|p| p.as_str().to_string()),
        contact_email: submission.contact_email.map(|e| e.normalized()),
        consent_version: Some(consent),
        consent_at: Some(now),
        submitted_at: now,
        due_at: Some(now + days(state.config.review.due_days)),
        claimed_by: None,
        claimed_at: None,
        decided_at: None,
        approvals: "[]".into(),
        effective_at: None,
        completed_at: None,
        purge_after: None,
        applicant_note: None,
        internal_note: None,
        created_at: now,
        updated_at: now,
    };
    let actor = Actor::user(applicant);
    let ev = event("submitted", &actor, origin, None, Submitted, None);
    let au = audit("review.submitted", &case, &actor, origin, None);
    state.store.insert_case(&case, &documents, &ev, &au).await?;
    Ok(case)
}

/// A case as its applicant may see it (`NotFound` for anyone else).
pub async fn case_for_applicant(
    state: &AppState,
    applicant: &User,
    id: Uuid,
) -> Result<Case, ReviewError> {
    match state.store.case_by_id(id).await? {
        Some(c) if c.account_id == Some(applicant.id) => Ok(c),
        _ => Err(ReviewError::NotFound),
    }
}

/// Whether `user` may review cases: an active account holding the
/// reviewer role. Being an administrator is not enough: the system
/// administrator reviews only when also given the role.
pub fn is_reviewer(user: &User) -> bool {
    user.has_role(crate::domain::Role::Reviewer) && user.status == AccountStatus::Active
}

fn require_reviewer(user: &User) -> Result<(), ReviewError> {
    if is_reviewer(user) {
        Ok(())
    } else {
        Err(ReviewError::NotReviewer)
    }
}

/// A reviewer acting on case `id`, which must not be their own
/// application (checked here, in the engine, whatever surface calls).
async fn require_reviewer_of(state: &AppState, user: &User, id: Uuid) -> Result<(), ReviewError> {
    require_reviewer(user)?;
    match state.store.case_by_id(id).await? {
        None => Err(ReviewError::NotFound),
        Some(c) if c.account_id == Some(user.id) => Err(ReviewError::OwnCase),
        Some(_) => Ok(()),
    }
}

/// What a change does to the case beside its state.
pub(crate) struct Change<'a> {
    pub(crate) case_id: Uuid,
    pub(crate) read_version: i64,
    pub(crate) to: CaseState,
    pub(crate) event: &'static str,
    pub(crate) note: Option<String>,
    pub(crate) actor: &'a Actor,
    pub(crate) origin: &'a Origin,
    /// What else the transaction writes (see [`CaseExtras`]).
    pub(crate) extras: CaseExtras,
}

/// Reads the case, checks the version and the transition table, lets
/// `apply` set the other fields, and writes it all in one transaction.
pub(crate) async fn change(
    state: &AppState,
    c: Change<'_>,
    apply: impl FnOnce(&mut Case, OffsetDateTime) -> Result<(), ReviewError>,
    documents: Option<Vec<Vec<u8>>>,
) -> Result<Case, ReviewError> {
    change_with(state, c, apply, documents.map(Documents::Raw)).await
}

/// The documents a change stores: as received (checked and encrypted on
/// the way), or already prepared before any state changed.
enum Documents {
    Raw(Vec<Vec<u8>>),
    Prepared(Vec<NewDocument>),
}

/// What a transition does to the account, in the same transaction: an
/// unbind application taking effect takes its numbers off; one in effect
/// that ends unfinished (cancelled, expired) puts them back.
fn effect_on_account(
    case: &Case,
    from: CaseState,
    to: CaseState,
) -> Result<Option<PhoneRelease>, ReviewError> {
    let restore = match (from, to) {
        (Approved, AwaitingRebind) => false,
        (AwaitingRebind, Cancelled | Expired) => true,
        _ => return Ok(None),
    };
    match case.kind {
        CaseKind::PhoneUnbind => {
            super::unbind_case::release(case, restore).map_err(ReviewError::Corrupt)
        }
        CaseKind::PasswordRetrieval => Ok(None),
    }
}

/// [`change`] with documents in either form, and the transition's effect
/// on the account ([`effect_on_account`]) in the same transaction.
async fn change_with(
    state: &AppState,
    c: Change<'_>,
    apply: impl FnOnce(&mut Case, OffsetDateTime) -> Result<(), ReviewError>,
    documents: Option<Documents>,
) -> Result<Case, ReviewError> {
    let mut case = state
        .store
        .case_by_id(c.case_id)
        .await?
        .ok_or(ReviewError::NotFound)?;
    if case.version != c.read_version {
        return Err(ReviewError::Stale);
    }
    let from = case.state;
    if from != c.to && !allowed(case.kind, from, c.to) {
        return Err(ReviewError::NotAllowed {
            from: from.as_str(),
            to: c.to.as_str(),
        });
    }
    let now = state.clock.now();
    let release = effect_on_account(&case, from, c.to)?;
    case.state = c.to;
    apply(&mut case, now)?;
    let new_docs = match documents {
        Some(Documents::Raw(files)) => {
            prepare_documents(state, case.id, case.revision, files).await?
        }
        Some(Documents::Prepared(docs)) => docs,
        None => Vec::new(),
    };
    let ev = event(c.event, c.actor, c.origin, Some(from), c.to, c.note);
    let name = if from == c.to {
        match c.event {
            "approval" => "review.approval",
            "claimed" => "review.claimed",
            _ => "review.note",
        }
    } else {
        audit_name(c.to)
    };
    let au = audit(name, &case, c.actor, c.origin, Some(from));
    state
        .store
        .update_case(
            &case,
            c.read_version,
            &new_docs,
            &ev,
            Some(&au),
            release.as_ref(),
            &c.extras,
        )
        .await?;
    case.version = c.read_version + 1;
    if from != c.to {
        notify(state, &case, c.origin).await;
    }
    Ok(case)
}

/// A reviewer takes the case (submitted → in review; or takes over a case
/// already in review).
pub async fn claim(
    state: &AppState,
    reviewer: &User,
    case_id: Uuid,
    read_version: i64,
    origin: &Origin,
) -> Result<Case, ReviewError> {
    require_reviewer_of(state, reviewer, case_id).await?;
    let actor = Actor::user(reviewer);
    let current = current_state(state, case_id, read_version).await?;
    let to = InReview;
    if current != Submitted && current != InReview {
        return Err(ReviewError::NotAllowed {
            from: current.as_str(),
            to: to.as_str(),
        });
    }
    let id = reviewer.id;
    change(
        state,
        Change {
            case_id,
            read_version,
            to,
            event: "claimed",
            note: None,
            actor: &actor,
            origin,
            extras: CaseExtras::default(),
        },
        move |case, now| {
            case.claimed_by = Some(id);
            case.claimed_at = Some(now);
            Ok(())
        },
        None,
    )
    .await
}

/// The case as read at `read_version`: `Stale` if it changed since (checked
/// before anything else, so whoever lost a race is told so, whatever the
/// winner did).
async fn read_at(state: &AppState, id: Uuid, read_version: i64) -> Result<Case, ReviewError> {
    let case = state
        .store
        .case_by_id(id)
        .await?
        .ok_or(ReviewError::NotFound)?;
    if case.version != read_version {
        return Err(ReviewError::Stale);
    }
    Ok(case)
}

async fn current_state(
    state: &AppState,
    id: Uuid,
    read_version: i64,
) -> Result<CaseState, ReviewError> {
    Ok(read_at(state, id, read_version).await?.state)
}

/// A reviewer's internal note (kept on the case and in its history; the
/// applicant never sees it).
pub async fn add_internal_note(
    state: &AppState,
    reviewer: &User,
    case_id: Uuid,
    read_version: i64,
    text: &str,
    origin: &Origin,
) -> Result<Case, ReviewError> {
    require_reviewer_of(state, reviewer, case_id).await?;
    let text = note(Some(text), true)?;
    let actor = Actor::user(reviewer);
    let current = current_state(state, case_id, read_version).await?;
    let kept = text.clone();
    change(
        state,
        Change {
            case_id,
            read_version,
            to: current,
            event: "internal_note",
            note: text,
            actor: &actor,
            origin,
            extras: CaseExtras::default(),
        },
        move |case, _| {
            case.internal_note = kept;
            Ok(())
        },
        None,
    )
    .await
}

/// What an approval did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Approved {
    /// The case is approved; it takes effect after the cooling-off period.
    Decided,
    /// Four eyes: the first approval is recorded; another reviewer must
    /// approve too.
    NeedsSecond,
}

/// A reviewer approves a case in review. With `review.four_eyes` the
/// first approval only records itself; a second, different reviewer
/// decides.
pub async fn approve(
    state: &AppState,
    reviewer: &User,
    case_id: Uuid,
    read_version: i64,
    origin: &Origin,
) -> Result<(Case, Approved), ReviewError> {
    let terms = Terms {
        account: None,
        cooling: Duration::hours(i64::from(state.config.review.cooling_off_hours)),
        extras: CaseExtras::default(),
    };
    approve_on(state, reviewer, case_id, read_version, terms, origin).await
}

/// What a deciding approval sets beside the state: the account it names
/// (a retrieval learns it here), how long until it takes effect, and what
/// else its transaction writes.
pub(crate) struct Terms {
    pub(crate) account: Option<Uuid>,
    pub(crate) cooling: Duration,
    pub(crate) extras: CaseExtras,
}

/// [`approve`] on the given terms.
pub(crate) async fn approve_on(
    state: &AppState,
    reviewer: &User,
    case_id: Uuid,
    read_version: i64,
    terms: Terms,
    origin: &Origin,
) -> Result<(Case, Approved), ReviewError> {
    require_reviewer_of(state, reviewer, case_id).await?;
    if terms.account == Some(reviewer.id) {
        return Err(ReviewError::OwnCase);
    }
    let case = read_at(state, case_id, read_version).await?;
    if case.state != InReview {
        return Err(ReviewError::NotAllowed {
            from: case.state.as_str(),
            to: Approved.as_str(),
        });
    }
    let mut list = approvals(&case)?;
    if list.iter().any(|a| a.id == reviewer.id) {
        return Err(ReviewError::SameReviewer);
    }
    let needed = if state.config.review.four_eyes { 2 } else { 1 };
    let decided = list.len() + 1 >= needed;
    let (to, name, outcome) = if decided {
        (Approved, "approved", self::Approved::Decided)
    } else {
        (InReview, "approval", self::Approved::NeedsSecond)
    };
    let Terms {
        account,
        cooling,
        extras,
    } = terms;
    let extras = if decided {
        extras
    } else {
        CaseExtras::default()
    };
    let actor = Actor::user(reviewer);
    let (rid, rname) = (reviewer.id, reviewer.username.clone());
    let case = change(
        state,
        Change {
            case_id,
            read_version,
            to,
            event: name,
            note: None,
            actor: &actor,
            origin,
            extras,
        },
        move |case, now| {
            list.push(Approval {
                id: rid,
                name: rname,
                at: now,
            });
            case.approvals =
                serde_json::to_string(&list).map_err(|e| ReviewError::Corrupt(e.to_string()))?;
            if decided {
                case.decided_at = Some(now);
                case.effective_at = Some(now + cooling);
                if let Some(a) = account {
                    case.account_id = Some(a);
                }
            }
            Ok(())
        },
        None,
    )
    .await?;
    Ok((case, outcome))
}

/// A reviewer rejects a case in review, with a note to the applicant
/// (required). The documents of the revision are purged after the
/// retention period unless the applicant edits first (then the new
/// revision's documents are kept, the old ones still go).
pub async fn reject(
    state: &AppState,
    reviewer: &User,
    case_id: Uuid,
    read_version: i64,
    note_for_applicant: &str,
    origin: &Origin,
) -> Result<Case, ReviewError> {
    require_reviewer_of(state, reviewer, case_id).await?;
    let text = note(Some(note_for_applicant), true)?;
    let actor = Actor::user(reviewer);
    let retention = days(state.config.review.retention_days);
    let kept = text.clone();
    change(
        state,
        Change {
            case_id,
            read_version,
            to: Rejected,
            event: "rejected",
            note: text,
            actor: &actor,
            origin,
            extras: CaseExtras::default(),
        },
        move |case, now| {
            case.decided_at = Some(now);
            case.applicant_note = kept;
            case.approvals = "[]".into();
            case.purge_after = Some(now + retention);
            Ok(())
        },
        None,
    )
    .await
}

/// A final state: documents go after the retention period.
pub(crate) async fn finish(state: &AppState, c: Change<'_>) -> Result<Case, ReviewError> {
    let retention = days(state.config.review.retention_days);
    let to = c.to;
    change(
        state,
        c,
        move |case, now| {
            if to == Completed {
                case.completed_at = Some(now);
            }
            case.purge_after = Some(now + retention);
            Ok(())
        },
        None,
    )
    .await
}

/// The applicant deletes the application (while submitted, rejected or
/// being edited).
pub async fn withdraw(
    state: &AppState,
    applicant: &User,
    case_id: Uuid,
    read_version: i64,
    origin: &Origin,
) -> Result<Case, ReviewError> {
    case_for_applicant(state, applicant, case_id).await?;
    let actor = Actor::user(applicant);
    finish(
        state,
        Change {
            case_id,
            read_version,
            to: Withdrawn,
            event: "withdrawn",
            note: None,
            actor: &actor,
            origin,
            extras: CaseExtras::default(),
        },
    )
    .await
}

/// Cancels an open case: the cancel link sent to the old phone and
/// security e-mail, or a successful SMS step-up with the old phone. The
/// caller has established who may cancel; `actor` says who did.
pub async fn cancel(
    state: &AppState,
    actor: &Actor,
    case_id: Uuid,
    read_version: i64,
    reason: Option<&str>,
    origin: &Origin,
) -> Result<Case, ReviewError> {
    let reason = note(reason, false)?;
    finish(
        state,
        Change {
            case_id,
            read_version,
            to: Cancelled,
            event: "cancelled",
            note: reason,
            actor,
            origin,
            extras: CaseExtras::default(),
        },
    )
    .await
}

/// The applicant starts changing a submitted or rejected application.
pub async fn edit(
    state: &AppState,
    applicant: &User,
    case_id: Uuid,
    read_version: i64,
    origin: &Origin,
) -> Result<Case, ReviewError> {
    case_for_applicant(state, applicant, case_id).await?;
    let actor = Actor::user(applicant);
    change(
        state,
        Change {
            case_id,
            read_version,
            to: Edited,
            event: "edited",
            note: None,
            actor: &actor,
            origin,
            extras: CaseExtras::default(),
        },
        |_, _| Ok(()),
        None,
    )
    .await
}

/// The applicant submits the application again (修改), from submitted,
/// rejected or being edited: a new revision with new documents, reviewed
/// from the start. The documents are checked and encrypted before anything
/// changes, so a bad upload leaves the case as it was. The old revision
/// stays in the history (events and, until purged, documents); a reviewers'
/// note to the applicant belonged to it and goes.
#[allow(clippy::too_many_arguments)]
pub async fn resubmit(
    state: &AppState,
    applicant: &User,
    case_id: Uuid,
    read_version: i64,
    data: serde_json::Value,
    contact_phone: Option<PhoneNumber>,
    documents: Vec<Vec<u8>>,
    origin: &Origin,
) -> Result<Case, ReviewError> {
    let before = case_for_applicant(state, applicant, case_id).await?;
    if before.version != read_version {
        return Err(ReviewError::Stale);
    }
    if !matches!(before.state, Submitted | Rejected | Edited) {
        return Err(ReviewError::NotAllowed {
            from: before.state.as_str(),
            to: Submitted.as_str(),
        });
    }
    if !data.is_object() {
        return Err(ReviewError::Corrupt(
            "case data must be a JSON object".into(),
        ));
    }
    let revision = before.revision + 1;
    let prepared = prepare_documents(state, case_id, revision, documents).await?;
    let read_version = if before.state == Edited {
        read_version
    } else {
        edit(state, applicant, case_id, read_version, origin)
            .await?
            .version
    };
    let actor = Actor::user(applicant);
    let due = days(state.config.review.due_days);
    let retention = days(state.config.review.retention_days);
    change_with(
        state,
        Change {
            case_id,
            read_version,
            to: Submitted,
            event: "resubmitted",
            note: None,
            actor: &actor,
            origin,
            extras: CaseExtras::default(),
        },
        move |case, now| {
            case.revision = revision;
            case.data = data.to_string();
            if let Some(p) = contact_phone {
                case.contact_phone = Some(p.as_str().to_string());
            }
            case.consent_at = Some(now);
            case.submitted_at = now;
            case.due_at = Some(now + due);
            case.claimed_by = None;
            case.claimed_at = None;
            case.decided_at = None;
            case.approvals = "[]".into();
            case.applicant_note = None;
            // The old revision's documents go after the retention period
            // (counted from now if they were not due yet).
            case.purge_after = Some(case.purge_after.unwrap_or(now + retention));
            Ok(())
        },
        Some(Documents::Prepared(prepared)),
    )
    .await
}

/// The approved case finished: the applicant bound a new phone.
pub async fn complete(
    state: &AppState,
    case_id: Uuid,
    read_version: i64,
    origin: &Origin,
) -> Result<Case, ReviewError> {
    finish(
        state,
        Change {
            case_id,
            read_version,
            to: Completed,
            event: "completed",
            note: None,
            actor: &Actor::System,
            origin,
            extras: CaseExtras::default(),
        },
    )
    .await
}

/// What a sweep did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Swept {
    /// Approvals whose cooling-off period ended (now awaiting rebind).
    pub effective: u64,
    /// Approved cases not finished in time.
    pub expired: u64,
    /// Cases whose documents were purged.
    pub purged: u64,
}

/// Moves cases on by time and purges documents that are due. Safe on
/// several nodes at once: each change is version-checked (a node that
/// loses simply skips the case) and each purge claims its case first.
pub async fn sweep(state: &AppState) -> Result<Swept, ReviewError> {
    let mut out = Swept::default();
    let now = state.clock.now();
    let origin = Origin::default();
    for id in state
        .store
        .cases_effective_before(Approved, now, 500)
        .await?
    {
        if let Some(case) = state.store.case_by_id(id).await?
            // A retrieval's approval takes effect by sending its code
            // (`retrieval::sweep`).
            && case.kind != CaseKind::PasswordRetrieval
        {
            match take_effect(state, &case, &origin).await {
                Ok(()) => out.effective += 1,
                Err(ReviewError::Stale | ReviewError::NotAllowed { .. }) => {}
                Err(e) => return Err(e),
            }
        }
    }
    let rebind = days(state.config.review.rebind_days);
    for id in state
        .store
        .cases_effective_before(AwaitingRebind, now - rebind, 500)
        .await?
    {
        if let Some(case) = state.store.case_by_id(id).await? {
            match finish(
                state,
                Change {
                    case_id: id,
                    read_version: case.version,
                    to: Expired,
                    event: "expired",
                    note: None,
                    actor: &Actor::System,
                    origin: &origin,
                    extras: CaseExtras::default(),
                },
            )
            .await
            {
                Ok(_) => out.expired += 1,
                Err(ReviewError::Stale | ReviewError::NotAllowed { .. }) => {}
                Err(e) => return Err(e),
            }
        }
    }
    out.purged = purge_due(state).await?;
    Ok(out)
}

/// An approval whose cooling-off period ended takes effect: the case
/// awaits the new phone and, in the same transaction, the numbers of the
/// application leave the account (each only if it is still the account's).
/// Without a login phone to bind again (only the security phone was
/// unbound) there is nothing to wait for: the case is completed.
async fn take_effect(state: &AppState, case: &Case, origin: &Origin) -> Result<(), ReviewError> {
    let rebind = match case.kind {
        CaseKind::PhoneUnbind => super::unbind_case::release(case, false)
            .map_err(ReviewError::Corrupt)?
            .is_some_and(|r| r.login.is_some()),
        CaseKind::PasswordRetrieval => return Ok(()),
    };
    let c = Change {
        case_id: case.id,
        read_version: case.version,
        to: AwaitingRebind,
        event: "effective",
        note: None,
        actor: &Actor::System,
        origin,
        extras: CaseExtras::default(),
    };
    let effective = change(state, c, |_, _| Ok(()), None).await?;
    if !rebind {
        complete(state, effective.id, effective.version, origin).await?;
    }
    Ok(())
}

/// Purges the documents (bytes and wrapped keys) of cases whose
/// `purge_after` has passed and writes a `purged` event for each. Returns
/// how many cases this node purged.
pub async fn purge_due(state: &AppState) -> Result<u64, ReviewError> {
    let mut purged = 0;
    let now = state.clock.now();
    for id in state.store.cases_to_purge(now, 500).await? {
        let Some(case) = state.store.case_by_id(id).await? else {
            continue;
        };
        let ev = event(
            "purged",
            &Actor::System,
            &Origin::default(),
            Some(case.state),
            case.state,
            None,
        );
        let au = audit(
            "review.documents_purged",
            &case,
            &Actor::System,
            &Origin::default(),
            Some(case.state),
        );
        if let Some(n) = state.store.purge_case_documents(id, &ev, &au).await?
            && n > 0
        {
            purged += 1;
        }
    }
    Ok(purged)
}

/// A document of a case, decrypted, for `viewer`: the applicant, or a
/// reviewer (whose every view is audited). Anyone else gets `NotFound`,
/// as if there were no such case.
pub async fn document(
    state: &AppState,
    viewer: &User,
    case_id: Uuid,
    revision: i64,
    slot: i64,
    origin: &Origin,
) -> Result<Vec<u8>, ReviewError> {
    let case = state
        .store
        .case_by_id(case_id)
        .await?
        .ok_or(ReviewError::NotFound)?;
    let applicant = case.account_id == Some(viewer.id);
    if !applicant && !is_reviewer(viewer) {
        return Err(ReviewError::NotFound);
    }
    let stored = state
        .store
        .case_documents(case_id, revision)
        .await?
        .into_iter()
        .find(|d| d.slot == slot)
        .ok_or(ReviewError::NotFound)?;
    let (Some(wrapped_key), Some(ciphertext)) = (stored.wrapped_key, stored.ciphertext) else {
        return Err(DocumentError::Purged.into());
    };
    if !applicant {
        let actor = Actor::user(viewer);
        let mut entry = Entry::new("review.document_viewed", Outcome::Success)
            .actor(&actor)
            .origin(origin)
            .detail(json!({ "case": case.id, "revision": revision, "slot": slot }));
        if let Some(account) = case.account_id {
            entry = entry.subject_name(Some(account), &account.to_string());
        }
        // The view is recorded before the bytes are handed out: no record,
        // no document.
        entry.write(&state.store).await?;
    }
    let keys = DocumentKeys::from_config(&state.config);
    let place = Place {
        case_id,
        revision,
        slot,
    };
    let sealed = Sealed {
        kek_id: stored.kek_id,
        wrapped_key,
        ciphertext,
    };
    Ok(documents::open(&keys, place, &sealed)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_edge_is_allowed_and_every_other_pair_refused() {
        let mut allowed_count = 0;
        for from in CaseState::ALL {
            for to in CaseState::ALL {
                let listed = PHONE_UNBIND.contains(&(from, to));
                assert_eq!(
                    allowed(CaseKind::PhoneUnbind, from, to),
                    listed,
                    "{from:?} -> {to:?}"
                );
                if listed {
                    allowed_count += 1;
                    assert!(from.is_open(), "nothing leaves a final state: {from:?}");
                    assert_ne!(from, to);
                }
            }
        }
        assert_eq!(allowed_count, PHONE_UNBIND.len());
        assert_eq!(allowed_count, 18);
    }

    #[test]
    fn the_main_path_and_the_side_branches() {
        let k = CaseKind::PhoneUnbind;
        for (from, to) in [
            (Submitted, InReview),
            (InReview, Approved),
            (Approved, AwaitingRebind),
            (AwaitingRebind, Completed),
            (InReview, Rejected),
            (Rejected, Edited),
            (Edited, Submitted),
            (Submitted, Withdrawn),
            (AwaitingRebind, Expired),
            (Approved, Cancelled),
        ] {
            assert!(allowed(k, from, to), "{from:?} -> {to:?}");
        }
        for (from, to) in [
            (Submitted, Approved),
            (Approved, Completed),
            (InReview, Withdrawn),
            (Approved, Withdrawn),
            (Completed, Submitted),
            (Expired, AwaitingRebind),
            (Rejected, Approved),
            (Withdrawn, Edited),
        ] {
            assert!(!allowed(k, from, to), "{from:?} -> {to:?}");
        }
    }

    #[test]
    fn final_states_and_the_open_index_agree() {
        let open: Vec<&str> = CaseState::ALL
            .into_iter()
            .filter(|s| s.is_open())
            .map(CaseState::as_str)
            .collect();
        for dir in ["migrations/sqlite", "migrations/postgres"] {
            // The index was last written by migration 0015 (the retrieval's
            // two open states).
            let sql = std::fs::read_to_string(format!("{dir}/0015_retrieval.sql")).unwrap();
            let list = open
                .iter()
                .map(|s| format!("'{s}'"))
                .collect::<Vec<_>>()
                .join(", ");
            assert!(sql.contains(&format!("WHERE state IN ({list})")), "{dir}");
        }
        for s in CaseState::ALL {
            assert_eq!(CaseState::try_from(s.as_str().to_string()).unwrap(), s);
        }
        assert!(CaseState::try_from("nonsense".to_string()).is_err());
    }

    #[test]
    fn notes_are_trimmed_required_and_bounded() {
        assert!(matches!(
            note(Some("  "), true),
            Err(ReviewError::NoteRequired)
        ));
        assert_eq!(note(Some(" ok "), true).unwrap().as_deref(), Some("ok"));
        assert_eq!(note(None, false).unwrap(), None);
        let long = "字".repeat(MAX_NOTE_CHARS + 1);
        assert!(matches!(
            note(Some(&long), true),
            Err(ReviewError::NoteTooLong)
        ));
        assert!(note(Some(&long[..long.len() - 3]), true).is_ok());
    }
}
