//! The reviewer's side of the review-case engine: who is let in, the
//! review queue, a case as a reviewer sees it, and the reviewer's actions,
//! which pass through here to [`super::review`] once the door is checked.
//! The console's review pages and the API's review operations both call
//! these, so both surfaces apply the same rules:
//!
//! * an active account with the reviewer role is let in;
//! * an administrator without it is told the role is missing (403): the
//!   administrator may know the review pages exist;
//! * anyone else finds nothing there (404), as for a case that does not
//!   exist, so the surface reveals nothing to them;
//! * nobody reviews their own application.

use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use super::audit::{Entry, Outcome};
use super::review::{self, Approval, Approved, ReviewError};
use super::unbind_case::UnbindData;
use super::{Actor, Origin};
use crate::domain::PhoneNumber;
use crate::state::AppState;
use crate::store::StoreError;
use crate::store::review::{Case, CaseEvent, CaseKind, CaseState};
use crate::store::reviewing::{DocumentInfo, QueueFilter, QueueRow};
use crate::store::users::{AccountStatus, User};

/// Pages beyond this are refused (and offsets cannot overflow).
pub const MAX_PAGE: i64 = 1_000_000;
pub const MAX_PER_PAGE: i64 = 200;

/// What the queue shows when no state is asked for: the cases waiting
/// for a reviewer.
pub const WAITING: [CaseState; 2] = [CaseState::Submitted, CaseState::InReview];

#[derive(Debug, thiserror::Error)]
pub enum ReviewingError {
    /// An administrator without the reviewer role.
    #[error("the reviewer role is required")]
    NotReviewer,
    /// Not a reviewer nor an administrator, or no such case (or document).
    #[error("no such case")]
    NotFound,
    /// The reviewer is the applicant.
    #[error("nobody reviews their own application")]
    OwnCase,
    /// A retrieval's approval names the account it is about.
    #[error("name the account the retrieval is about")]
    AccountRequired,
    /// No active account by the name given.
    #[error("no active account by that name")]
    NoAccount,
    #[error(transparent)]
    Review(ReviewError),
}

impl From<ReviewError> for ReviewingError {
    fn from(e: ReviewError) -> Self {
        match e {
            ReviewError::NotFound => ReviewingError::NotFound,
            other => ReviewingError::Review(other),
        }
    }
}

impl From<StoreError> for ReviewingError {
    fn from(e: StoreError) -> Self {
        ReviewError::from(e).into()
    }
}

impl ReviewingError {
    /// What to tell the reviewer, in the page's language.
    pub fn text(&self, t: &crate::i18n::Text) -> String {
        match self {
            ReviewingError::NotReviewer => t.review_not_reviewer.into(),
            ReviewingError::NotFound => t.review_not_found.into(),
            ReviewingError::OwnCase => t.reviewing_own_case.into(),
            ReviewingError::AccountRequired => t.retrieve_review_account_required.into(),
            ReviewingError::NoAccount => t.retrieve_review_no_account.into(),
            ReviewingError::Review(e) => e.text(t),
        }
    }
}

/// The door of every review page and operation (see the module's notes).
pub fn admit(user: &User) -> Result<(), ReviewingError> {
    if review::is_reviewer(user) {
        Ok(())
    } else if user.is_admin && user.status == AccountStatus::Active {
        Err(ReviewingError::NotReviewer)
    } else {
        Err(ReviewingError::NotFound)
    }
}

/// Whether a case is past its due date while still waiting for a
/// reviewer (a case with the applicant, or decided, is nobody's delay).
pub fn is_overdue(state: CaseState, due: Option<OffsetDateTime>, now: OffsetDateTime) -> bool {
    WAITING.contains(&state) && due.is_some_and(|d| d < now)
}

/// What a queue page is asked for.
#[derive(Debug, Clone, Default)]
pub struct QueueQuery {
    /// One state; `None`: the cases waiting for a reviewer ([`WAITING`]).
    pub state: Option<CaseState>,
    /// Only cases the reviewer claimed.
    pub claimed_by_me: bool,
    /// 1-based.
    pub page: i64,
    pub per_page: i64,
}

/// A case in the queue.
#[derive(Debug, Clone)]
pub struct QueueItem {
    pub row: QueueRow,
    pub overdue: bool,
    /// How many approvals are recorded (four eyes: 1 while a second is owed).
    pub approvals: usize,
}

#[derive(Debug, Clone)]
pub struct QueuePage {
    pub items: Vec<QueueItem>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
}

/// A page of the review queue, earliest due first.
pub async fn queue(
    state: &AppState,
    reviewer: &User,
    q: &QueueQuery,
) -> Result<QueuePage, ReviewingError> {
    admit(reviewer)?;
    let page = q.page.clamp(1, MAX_PAGE);
    let per_page = q.per_page.clamp(1, MAX_PER_PAGE);
    let one;
    let states: &[CaseState] = match q.state {
        Some(s) => {
            one = [s];
            &one
        }
        None => &WAITING,
    };
    let (rows, total) = state
        .store
        .review_queue(&QueueFilter {
            states,
            claimed_by: q.claimed_by_me.then_some(reviewer.id),
            limit: per_page,
            offset: (page - 1) * per_page,
        })
        .await?;
    let now = state.clock.now();
    let items = rows
        .into_iter()
        .map(|row| {
            let approvals = serde_json::from_str::<Vec<Approval>>(&row.approvals)
                .map(|a| a.len())
                .map_err(|e| ReviewError::Corrupt(format!("approvals of {}: {e}", row.id)))?;
            Ok(QueueItem {
                overdue: is_overdue(row.state, row.due_at, now),
                approvals,
                row,
            })
        })
        .collect::<Result<Vec<_>, ReviewingError>>()?;
    Ok(QueuePage {
        items,
        total,
        page,
        per_page,
    })
}

/// The application's form as a reviewer sees it (a JSON object): what
/// the applicant entered, the numbers to unbind masked like the account's
/// own, and nothing the system keeps for itself (the cancel link's hash).
pub fn form(case: &Case) -> Result<serde_json::Value, ReviewingError> {
    match case.kind {
        CaseKind::PasswordRetrieval => {
            let d = super::retrieval::RetrievalData::of(case).map_err(ReviewError::Corrupt)?;
            Ok(json!({
                "case_number": case.public_number,
                "organization": d.organization,
                "organization_id": d.organization_id,
                "organization_registered": d.organization_registered,
                "account": d.account,
                "registered_name": d.registered_name,
                "name": d.name,
                "id_type": d.id_type.as_str(),
                "id_number": d.id_number,
                "id_unusual": d.id_unusual,
                "reason": d.reason.as_str(),
                "reason_text": d.reason_text,
                "lang": d.lang,
            }))
        }
        CaseKind::PhoneUnbind => {
            let d = UnbindData::of(case).map_err(ReviewError::Corrupt)?;
            Ok(json!({
                "reason": d.reason,
                "note": d.note,
                "login_phone": d.login_phone.as_deref().map(PhoneNumber::masked),
                "security_phone": d.security_phone.as_deref().map(PhoneNumber::masked),
                "organization": d.organization,
                "lang": d.lang,
            }))
        }
    }
}

/// A case as a reviewer sees it.
#[derive(Debug, Clone)]
pub struct CaseView {
    pub case: Case,
    /// The application's form ([`form`]).
    pub form: serde_json::Value,
    pub overdue: bool,
    /// The applicant's account (`None` for a kind that may not know it).
    pub applicant: Option<User>,
    /// The name of the reviewer who claimed the case.
    pub claimed_by: Option<String>,
    pub approvals: Vec<Approval>,
    /// The history, oldest first.
    pub events: Vec<CaseEvent>,
    /// The documents of the current revision.
    pub documents: Vec<DocumentInfo>,
    /// A password retrieval: the accounts it may be about.
    pub matches: Vec<User>,
}

/// A case with its applicant, history and documents, for a reviewer.
/// The look is audited (`review.case_viewed`): the page shows the
/// applicant's contact phone in full and the form's personal data.
pub async fn case_view(
    state: &AppState,
    reviewer: &User,
    id: Uuid,
    origin: &Origin,
) -> Result<CaseView, ReviewingError> {
    admit(reviewer)?;
    let case = state
        .store
        .case_by_id(id)
        .await?
        .ok_or(ReviewingError::NotFound)?;
    let applicant = match case.account_id {
        Some(a) => state.store.user_by_id(a).await?,
        None => None,
    };
    let claimed_by = match case.claimed_by {
        Some(r) => state.store.user_by_id(r).await?.map(|u| u.username),
        None => None,
    };
    let approvals = review::approvals(&case)?;
    let form = form(&case)?;
    let events = state.store.case_events(case.id).await?;
    let documents = state
        .store
        .case_document_list(case.id, case.revision)
        .await?;
    let mut entry = Entry::new("review.case_viewed", Outcome::Success)
        .actor(&Actor::user(reviewer))
        .origin(origin)
        .detail(json!({ "case": case.id, "revision": case.revision }));
    if let Some(a) = &applicant {
        entry = entry.subject(a);
    }
    entry.write(&state.store).await?;
    let matches = if case.kind == CaseKind::PasswordRetrieval {
        super::retrieval::matching_accounts(state, &case)
            .await
            .map_err(|e| ReviewError::Corrupt(e.to_string()))?
    } else {
        Vec::new()
    };
    Ok(CaseView {
        matches,
        overdue: is_overdue(case.state, case.due_at, state.clock.now()),
        case,
        form,
        applicant,
        claimed_by,
        approvals,
        events,
        documents,
    })
}

/// Lets a reviewer act on a case that is not their own application.
async fn may_act(state: &AppState, reviewer: &User, id: Uuid) -> Result<(), ReviewingError> {
    admit(reviewer)?;
    match state.store.case_by_id(id).await? {
        None => Err(ReviewingError::NotFound),
        Some(c) if c.account_id == Some(reviewer.id) => Err(ReviewingError::OwnCase),
        Some(_) => Ok(()),
    }
}

/// Claims the case (see [`review::claim`]).
pub async fn claim(
    state: &AppState,
    reviewer: &User,
    id: Uuid,
    read_version: i64,
    origin: &Origin,
) -> Result<Case, ReviewingError> {
    may_act(state, reviewer, id).await?;
    Ok(review::claim(state, reviewer, id, read_version, origin).await?)
}

/// Adds an internal note (see [`review::add_internal_note`]).
pub async fn add_note(
    state: &AppState,
    reviewer: &User,
    id: Uuid,
    read_version: i64,
    text: &str,
    origin: &Origin,
) -> Result<Case, ReviewingError> {
    may_act(state, reviewer, id).await?;
    Ok(review::add_internal_note(state, reviewer, id, read_version, text, origin).await?)
}

/// Approves the case, or records the first of two approvals (see
/// [`review::approve`]).
/// A retrieval's approval names the account (`account`, its account
/// name); other kinds know theirs.
pub async fn approve(
    state: &AppState,
    reviewer: &User,
    id: Uuid,
    read_version: i64,
    account: Option<&str>,
    origin: &Origin,
) -> Result<(Case, Approved), ReviewingError> {
    may_act(state, reviewer, id).await?;
    let kind = state
        .store
        .case_by_id(id)
        .await?
        .ok_or(ReviewingError::NotFound)?
        .kind;
    if kind != CaseKind::PasswordRetrieval {
        return Ok(review::approve(state, reviewer, id, read_version, origin).await?);
    }
    let account = account
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .ok_or(ReviewingError::AccountRequired)?;
    use super::retrieval::{ApproveError, RetrievalError};
    match super::retrieval::approve(state, reviewer, id, read_version, account, origin).await {
        Ok(r) => Ok(r),
        Err(ApproveError::NoAccount) => Err(ReviewingError::NoAccount),
        Err(ApproveError::Review(r)) => Err(r.into()),
        Err(ApproveError::Retrieval(RetrievalError::Review(r))) => Err(r.into()),
        Err(ApproveError::Retrieval(RetrievalError::Store(s))) => Err(s.into()),
        Err(ApproveError::Retrieval(RetrievalError::NotFound)) => Err(ReviewingError::NotFound),
        Err(ApproveError::Retrieval(e)) => Err(ReviewError::Corrupt(e.to_string()).into()),
    }
}

/// The accounts a retrieval may be about (by account name, name, phone),
/// for the reviewer to name one; empty for other kinds.
pub async fn matching_accounts(
    state: &AppState,
    reviewer: &User,
    case: &Case,
) -> Result<Vec<User>, ReviewingError> {
    admit(reviewer)?;
    if case.kind != CaseKind::PasswordRetrieval {
        return Ok(Vec::new());
    }
    super::retrieval::matching_accounts(state, case)
        .await
        .map_err(|e| ReviewError::Corrupt(e.to_string()).into())
}

/// Rejects the case with a note to the applicant (see [`review::reject`]).
pub async fn reject(
    state: &AppState,
    reviewer: &User,
    id: Uuid,
    read_version: i64,
    note_for_applicant: &str,
    origin: &Origin,
) -> Result<Case, ReviewingError> {
    may_act(state, reviewer, id).await?;
    Ok(review::reject(
        state,
        reviewer,
        id,
        read_version,
        note_for_applicant,
        origin,
    )
    .await?)
}

/// A document of the case, decrypted; every view is audited by
/// [`review::document`] before the bytes are handed out.
pub async fn document(
    state: &AppState,
    reviewer: &User,
    id: Uuid,
    revision: i64,
    slot: i64,
    origin: &Origin,
) -> Result<Vec<u8>, ReviewingError> {
    admit(reviewer)?;
    Ok(review::document(state, reviewer, id, revision, slot, origin).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overdue_only_while_waiting_for_a_reviewer() {
        let now = OffsetDateTime::UNIX_EPOCH + time::Duration::days(10);
        let past = Some(now - time::Duration::seconds(1));
        let future = Some(now + time::Duration::seconds(1));
        assert!(is_overdue(CaseState::Submitted, past, now));
        assert!(is_overdue(CaseState::InReview, past, now));
        assert!(!is_overdue(CaseState::InReview, future, now));
        assert!(!is_overdue(CaseState::Submitted, None, now));
        for s in [CaseState::Approved, CaseState::Rejected, CaseState::Edited] {
            assert!(!is_overdue(s, past, now), "{s:?}");
        }
    }
}
