//! `/api/v1/review/cases`: the review queue, a case as a reviewer sees it,
//! its documents, and the reviewer's decisions (claim, internal note,
//! approve, reject). Called with a reviewer's own access token
//! ([`ReviewerAuth`]); each change takes the `version` the reviewer read,
//! and a case changed since is refused with 409 (`stale`).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

use super::auth::ReviewerAuth;
use super::{ApiJson, ApiQuery};
use crate::domain::PhoneNumber;
use crate::error::{ApiError, Problem};
use crate::service::documents::DocumentError;
use crate::service::review::{self, Approved, ReviewError};
use crate::service::reviewing::{self, QueueItem, QueueQuery, ReviewingError};
use crate::state::AppState;
use crate::store::review::{Case, CaseKind, CaseState};

/// Where a case stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReviewState {
    Submitted,
    InReview,
    Approved,
    AwaitingRebind,
    Completed,
    Rejected,
    Edited,
    Withdrawn,
    Cancelled,
    Expired,
    AwaitingDocuments,
    AwaitingCompletion,
}

impl From<CaseState> for ReviewState {
    fn from(s: CaseState) -> Self {
        match s {
            CaseState::Submitted => Self::Submitted,
            CaseState::InReview => Self::InReview,
            CaseState::Approved => Self::Approved,
            CaseState::AwaitingRebind => Self::AwaitingRebind,
            CaseState::Completed => Self::Completed,
            CaseState::Rejected => Self::Rejected,
            CaseState::Edited => Self::Edited,
            CaseState::Withdrawn => Self::Withdrawn,
            CaseState::Cancelled => Self::Cancelled,
            CaseState::Expired => Self::Expired,
            CaseState::AwaitingDocuments => Self::AwaitingDocuments,
            CaseState::AwaitingCompletion => Self::AwaitingCompletion,
        }
    }
}

impl From<ReviewState> for CaseState {
    fn from(s: ReviewState) -> Self {
        match s {
            ReviewState::Submitted => Self::Submitted,
            ReviewState::InReview => Self::InReview,
            ReviewState::Approved => Self::Approved,
            ReviewState::AwaitingRebind => Self::AwaitingRebind,
            ReviewState::Completed => Self::Completed,
            ReviewState::Rejected => Self::Rejected,
            ReviewState::Edited => Self::Edited,
            ReviewState::Withdrawn => Self::Withdrawn,
            ReviewState::Cancelled => Self::Cancelled,
            ReviewState::Expired => Self::Expired,
            ReviewState::AwaitingDocuments => Self::AwaitingDocuments,
            ReviewState::AwaitingCompletion => Self::AwaitingCompletion,
        }
    }
}

/// What a case is about.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReviewKind {
    PhoneUnbind,
    PasswordRetrieval,
}

impl From<CaseKind> for ReviewKind {
    fn from(k: CaseKind) -> Self {
        match k {
            CaseKind::PhoneUnbind => Self::PhoneUnbind,
            CaseKind::PasswordRetrieval => Self::PasswordRetrieval,
        }
    }
}

/// The `claimed` filter.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClaimedFilter {
    /// Only the cases the caller claimed.
    Me,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct QueueParams {
    /// Only cases in this state; without it, the cases waiting for a
    /// reviewer (`submitted` and `in_review`).
    #[param(inline)]
    pub state: Option<ReviewState>,
    /// `me`: only the cases the caller claimed.
    #[param(inline)]
    pub claimed: Option<ClaimedFilter>,
    /// 1-based page number (default 1).
    #[param(minimum = 1, maximum = 1_000_000)]
    pub page: Option<i64>,
    /// Page size (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub per_page: Option<i64>,
}

/// The applicant as the queue names them.
#[derive(Debug, Serialize, ToSchema)]
pub struct Applicant {
    pub id: uuid::Uuid,
    pub username: Option<String>,
    pub display_name: Option<String>,
    pub organization: Option<String>,
}

/// A case in the queue.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueEntry {
    pub id: uuid::Uuid,
    pub kind: ReviewKind,
    pub state: ReviewState,
    pub revision: i64,
    /// Send it back with a decision.
    pub version: i64,
    pub applicant: Option<Applicant>,
    #[serde(with = "time::serde::rfc3339")]
    pub submitted_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub due_at: Option<OffsetDateTime>,
    /// Past its due date while still waiting for a reviewer.
    pub overdue: bool,
    /// The account name of the reviewer who claimed it.
    pub claimed_by: Option<String>,
    /// How many approvals are recorded (with four eyes, 1 while a second
    /// reviewer's approval is owed).
    pub approvals: usize,
}

impl From<QueueItem> for QueueEntry {
    fn from(i: QueueItem) -> Self {
        let r = i.row;
        QueueEntry {
            id: r.id,
            kind: r.kind.into(),
            state: r.state.into(),
            revision: r.revision,
            version: r.version,
            applicant: r.account_id.map(|id| Applicant {
                id,
                username: r.applicant_username,
                display_name: r.applicant_display_name,
                organization: r.applicant_organization,
            }),
            submitted_at: r.submitted_at,
            due_at: r.due_at,
            overdue: i.overdue,
            claimed_by: r.claimed_by_username,
            approvals: i.approvals,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QueuePage {
    pub items: Vec<QueueEntry>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
}

/// The queue: earliest due first (cases without a due date last), overdue
/// cases marked.
#[utoipa::path(get, path = crate::routes::API_REVIEW_CASES, tag = "review", operation_id = "review_queue", params(QueueParams),
    responses((status = 200, description = "One page of the queue.", body = QueuePage),
        (status = 403, description = "A service account's token, a token without the `review` scope, or an administrator without the reviewer role.", body = Problem),
        (status = 404, description = "The caller is neither a reviewer nor an administrator: there is nothing here for them.", body = Problem)))]
pub async fn queue(
    State(state): State<AppState>,
    auth: ReviewerAuth,
    ApiQuery(q): ApiQuery<QueueParams>,
) -> Result<Json<QueuePage>, ApiError> {
    let per_page = q.per_page.unwrap_or(50);
    if !(1..=reviewing::MAX_PER_PAGE).contains(&per_page) {
        return Err(ApiError::invalid("per_page", "must be between 1 and 200"));
    }
    let page = q.page.unwrap_or(1);
    if !(1..=reviewing::MAX_PAGE).contains(&page) {
        return Err(ApiError::invalid("page", "must be between 1 and 1000000"));
    }
    let found = reviewing::queue(
        &state,
        &auth.user,
        &QueueQuery {
            state: q.state.map(CaseState::from),
            claimed_by_me: q.claimed.is_some(),
            page,
            per_page,
        },
    )
    .await
    .map_err(problem)?;
    Ok(Json(QueuePage {
        items: found.items.into_iter().map(QueueEntry::from).collect(),
        total: found.total,
        page: found.page,
        per_page: found.per_page,
    }))
}

/// The applicant's account (phones masked).
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseAccount {
    pub id: uuid::Uuid,
    pub username: String,
    /// The name the account carries (the person's real name).
    pub display_name: String,
    pub organization: Option<String>,
    /// Masked (`133****8347`).
    pub login_phone: Option<String>,
    /// Masked.
    pub security_phone: Option<String>,
    pub active: bool,
}

/// One approval.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApprovalView {
    /// The reviewer's account id and name.
    pub id: uuid::Uuid,
    pub name: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// One line of the case's history (append-only).
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseEventView {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub revision: i64,
    /// `submitted`, `claimed`, `internal_note`, `approval`, `approved`,
    /// `rejected`, `resubmitted`, `purged` …
    pub event: String,
    /// Who: an account name, `system`, …
    pub actor: String,
    pub from_state: Option<String>,
    pub to_state: String,
    pub note: Option<String>,
}

/// A document of the current revision.
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentView {
    pub revision: i64,
    pub slot: i64,
    pub width: i64,
    pub height: i64,
    /// Deleted after the retention period (only the record remains).
    pub purged: bool,
}

/// A case as a reviewer sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseView {
    pub id: uuid::Uuid,
    pub kind: ReviewKind,
    pub state: ReviewState,
    pub revision: i64,
    /// Send it back with a decision; a mismatch means someone else changed the case.
    pub version: i64,
    pub account: Option<CaseAccount>,
    /// The application form (kind-specific; phone unbind: `reason`,
    /// `note`, `login_phone` and `security_phone` — the numbers to unbind,
    /// masked —, `organization`, `lang`).
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    /// The applicant's own contact number, in full (E.164), to call them.
    pub contact_phone: Option<String>,
    pub contact_email: Option<String>,
    pub consent_version: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub consent_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub submitted_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub due_at: Option<OffsetDateTime>,
    pub overdue: bool,
    pub claimed_by: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub claimed_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub decided_at: Option<OffsetDateTime>,
    /// When an approval takes effect (the end of the cooling-off period).
    #[serde(with = "time::serde::rfc3339::option")]
    pub effective_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub completed_at: Option<OffsetDateTime>,
    /// 审批备注: the note the applicant sees.
    pub applicant_note: Option<String>,
    /// The latest internal note (reviewers only).
    pub internal_note: Option<String>,
    pub approvals: Vec<ApprovalView>,
    /// The history, oldest first.
    pub events: Vec<CaseEventView>,
    pub documents: Vec<DocumentView>,
}

fn approval_views(list: Vec<review::Approval>) -> Vec<ApprovalView> {
    list.into_iter()
        .map(|a| ApprovalView {
            id: a.id,
            name: a.name,
            at: a.at,
        })
        .collect()
}

impl From<reviewing::CaseView> for CaseView {
    fn from(v: reviewing::CaseView) -> Self {
        let c = v.case;
        CaseView {
            id: c.id,
            kind: c.kind.into(),
            state: c.state.into(),
            revision: c.revision,
            version: c.version,
            account: v.applicant.map(|u| CaseAccount {
                id: u.id,
                login_phone: u.login_phone.as_deref().map(PhoneNumber::masked),
                security_phone: u.security_phone.as_deref().map(PhoneNumber::masked),
                active: u.status == crate::store::users::AccountStatus::Active,
                username: u.username,
                display_name: u.display_name,
                organization: u.organization,
            }),
            data: v.form,
            contact_phone: c.contact_phone,
            contact_email: c.contact_email,
            consent_version: c.consent_version,
            consent_at: c.consent_at,
            submitted_at: c.submitted_at,
            due_at: c.due_at,
            overdue: v.overdue,
            claimed_by: v.claimed_by,
            claimed_at: c.claimed_at,
            decided_at: c.decided_at,
            effective_at: c.effective_at,
            completed_at: c.completed_at,
            applicant_note: c.applicant_note,
            internal_note: c.internal_note,
            approvals: approval_views(v.approvals),
            events: v
                .events
                .into_iter()
                .map(|e| CaseEventView {
                    at: e.at,
                    revision: e.revision,
                    event: e.event,
                    actor: e.actor,
                    from_state: e.from_state,
                    to_state: e.to_state,
                    note: e.note,
                })
                .collect(),
            documents: v
                .documents
                .into_iter()
                .map(|d| DocumentView {
                    revision: d.revision,
                    slot: d.slot,
                    width: d.width,
                    height: d.height,
                    purged: d.purged_at.is_some(),
                })
                .collect(),
        }
    }
}

/// A case after a decision: where it stands now.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseStatus {
    pub id: uuid::Uuid,
    pub state: ReviewState,
    pub revision: i64,
    /// The case's version now (send it with the next decision).
    pub version: i64,
    /// The account id of the reviewer who claimed it.
    pub claimed_by_id: Option<uuid::Uuid>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub decided_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub effective_at: Option<OffsetDateTime>,
    pub approvals: Vec<ApprovalView>,
}

impl CaseStatus {
    fn of(c: &Case) -> Result<Self, ApiError> {
        Ok(CaseStatus {
            id: c.id,
            state: c.state.into(),
            revision: c.revision,
            version: c.version,
            claimed_by_id: c.claimed_by,
            decided_at: c.decided_at,
            effective_at: c.effective_at,
            approvals: approval_views(review::approvals(c).map_err(ApiError::internal)?),
        })
    }
}

/// A case id from the path.
fn case_id(raw: &str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::parse_str(raw).map_err(|_| ApiError {
        field: Some("id".into()),
        ..ApiError::bad_request(
            "`id` must be a case id: a UUID such as 0190d2f4-5b7c-7e8a-9c4d-2f1e3a5b6c7d",
        )
    })
}

/// A revision or slot number from the path: a whole number from 1.
fn number(raw: &str, field: &'static str) -> Result<i64, ApiError> {
    raw.parse::<i64>()
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(|| ApiError {
            field: Some(field.into()),
            ..ApiError::bad_request(format!("`{field}` must be a whole number from 1"))
        })
}

/// A refusal of the review service as a problem document.
fn problem(e: ReviewingError) -> ApiError {
    let conflict = |detail: String| ApiError::new(StatusCode::CONFLICT, "conflict", detail);
    match e {
        ReviewingError::NotFound => ApiError::not_found("no such case"),
        ReviewingError::NotReviewer => ApiError::forbidden("the reviewer role is required"),
        ReviewingError::OwnCase => ApiError::forbidden("nobody reviews their own application"),
        ReviewingError::AccountRequired => ApiError::invalid(
            "account",
            "a retrieval's approval names the account (its account name)",
        ),
        ReviewingError::NoAccount => {
            ApiError::invalid("account", "no active account has this account name")
        }
        ReviewingError::Review(r) => match r {
            ReviewError::NotFound => ApiError::not_found("no such case"),
            ReviewError::Stale => ApiError {
                field: Some("version".into()),
                ..ApiError::new(
                    StatusCode::CONFLICT,
                    "stale",
                    "someone else changed the case first: read it again and decide on what it is now",
                )
            },
            ReviewError::NotAllowed { from, to } => ApiError {
                field: Some("state".into()),
                ..conflict(format!("a case that is {from} cannot become {to}"))
            },
            ReviewError::SameReviewer => conflict(
                "you have approved this case already: the second approval must come from another reviewer"
                    .into(),
            ),
            ReviewError::NoteRequired => ApiError::invalid("note", "must not be empty"),
            ReviewError::NoteTooLong => ApiError::invalid(
                "note",
                format!("has at most {} characters", review::MAX_NOTE_CHARS),
            ),
            ReviewError::NotReviewer => ApiError::forbidden("the reviewer role is required"),
            ReviewError::Document(DocumentError::Purged) => ApiError::new(
                StatusCode::GONE,
                "gone",
                "the document was deleted after the retention period",
            ),
            ReviewError::Store(s) => s.into(),
            other => ApiError::internal(other),
        },
    }
}

/// The case with its applicant's account, the form, the history and the
/// current revision's documents. Every call is audited (`review.case_viewed`).
#[utoipa::path(get, path = crate::routes::API_REVIEW_CASE, tag = "review", operation_id = "review_case",
    params(("id" = uuid::Uuid, Path, description = "The case id.")),
    responses((status = 200, description = "The case (the look is audited).", body = CaseView),
        (status = 403, description = "A service account's token, a token without the `review` scope, or an administrator without the reviewer role.", body = Problem),
        (status = 404, description = "No such case (or the caller is neither a reviewer nor an administrator).", body = Problem)))]
pub async fn case(
    State(state): State<AppState>,
    auth: ReviewerAuth,
    Path(id): Path<String>,
) -> Result<Json<CaseView>, ApiError> {
    let view = reviewing::case_view(&state, &auth.user, case_id(&id)?, &auth.origin)
        .await
        .map_err(problem)?;
    Ok(Json(view.into()))
}

/// The bytes of a JPEG image.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct Jpeg(pub Vec<u8>);

/// A document of the case as the JPEG the applicant's upload was cleaned
/// into. Every view is audited (`review.document_viewed`) before the bytes
/// are sent; nothing may cache them.
#[utoipa::path(get, path = crate::routes::API_REVIEW_CASE_DOCUMENT, tag = "review", operation_id = "review_document",
    params(("id" = uuid::Uuid, Path, description = "The case id."),
        ("revision" = i64, Path, minimum = 1, description = "The revision of the application."),
        ("slot" = i64, Path, minimum = 1, maximum = 3, description = "The document's slot (1 to 3).")),
    responses((status = 200, description = "The document (the view is audited).", content_type = "image/jpeg", body = inline(Jpeg)),
        (status = 403, description = "A service account's token, a token without the `review` scope, or an administrator without the reviewer role.", body = Problem),
        (status = 404, description = "No such case or document (or the caller is neither a reviewer nor an administrator).", body = Problem),
        (status = 410, description = "The document was deleted after the retention period.", body = Problem)))]
pub async fn document(
    State(state): State<AppState>,
    auth: ReviewerAuth,
    Path((id, revision, slot)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let id = case_id(&id)?;
    let revision = number(&revision, "revision")?;
    let slot = number(&slot, "slot")?;
    let jpeg = reviewing::document(&state, &auth.user, id, revision, slot, &auth.origin)
        .await
        .map_err(problem)?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/jpeg"),
            (header::CACHE_CONTROL, "no-store"),
            (header::CONTENT_DISPOSITION, "inline"),
        ],
        jpeg,
    )
        .into_response())
}

/// A decision that needs nothing but the version read.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// The case's `version` as the caller read it.
    pub version: i64,
}

/// An approval: the version read and, for a password retrieval, the
/// account it is about.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveDecision {
    /// The case's `version` as the caller read it.
    pub version: i64,
    /// A password retrieval's account, by account name (required for that
    /// kind; other kinds know their account).
    #[serde(default)]
    pub account: Option<String>,
}

/// A decision with a note.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteDecision {
    /// The case's `version` as the caller read it.
    pub version: i64,
    /// Must not be empty.
    #[schema(min_length = 1, max_length = 500)]
    pub note: String,
}

const DECISION_409: &str = "Someone else changed the case first (`stale`, `field`: `version`), the case is not in a state that allows this (`field`: `state`), or, for a second approval, the same reviewer approved already.";
const DECISION_403: &str = "A service account's token, a token without the `review` scope, an administrator without the reviewer role, or the caller's own application.";

/// Claims the case (from `submitted`, or takes over one `in_review`).
#[utoipa::path(post, path = crate::routes::API_REVIEW_CASE_CLAIM, tag = "review", operation_id = "review_claim",
    params(("id" = uuid::Uuid, Path, description = "The case id.")), request_body = Decision,
    responses((status = 200, description = "Claimed; the case is in review.", body = CaseStatus),
        (status = 403, description = DECISION_403, body = Problem),
        (status = 409, description = DECISION_409, body = Problem)))]
pub async fn claim(
    State(state): State<AppState>,
    auth: ReviewerAuth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Decision>,
) -> Result<Json<CaseStatus>, ApiError> {
    let case = reviewing::claim(
        &state,
        &auth.user,
        case_id(&id)?,
        body.version,
        &auth.origin,
    )
    .await
    .map_err(problem)?;
    Ok(Json(CaseStatus::of(&case)?))
}

/// Adds an internal note (the applicant never sees it).
#[utoipa::path(post, path = crate::routes::API_REVIEW_CASE_NOTES, tag = "review", operation_id = "review_note",
    params(("id" = uuid::Uuid, Path, description = "The case id.")), request_body = NoteDecision,
    responses((status = 200, description = "The note is in the case's history.", body = CaseStatus),
        (status = 403, description = DECISION_403, body = Problem),
        (status = 409, description = DECISION_409, body = Problem)))]
pub async fn note(
    State(state): State<AppState>,
    auth: ReviewerAuth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NoteDecision>,
) -> Result<Json<CaseStatus>, ApiError> {
    let case = reviewing::add_note(
        &state,
        &auth.user,
        case_id(&id)?,
        body.version,
        &body.note,
        &auth.origin,
    )
    .await
    .map_err(problem)?;
    Ok(Json(CaseStatus::of(&case)?))
}

/// What an approval did.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalOutcome {
    /// The case is approved; it takes effect after the cooling-off period.
    Approved,
    /// Four eyes: this approval is recorded and a second reviewer must
    /// approve too.
    SecondApprovalNeeded,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApprovalResult {
    pub outcome: ApprovalOutcome,
    /// The outcome in words.
    pub detail: String,
    pub case: CaseStatus,
}

/// Approves a case in review. With four eyes (`review.four_eyes`) the
/// first approval is recorded and answers that a second reviewer must
/// approve; the second, by another reviewer, decides.
#[utoipa::path(post, path = crate::routes::API_REVIEW_CASE_APPROVE, tag = "review", operation_id = "review_approve",
    params(("id" = uuid::Uuid, Path, description = "The case id.")), request_body = ApproveDecision,
    responses((status = 200, description = "Approved, or (four eyes) the first approval recorded.", body = ApprovalResult),
        (status = 403, description = DECISION_403, body = Problem),
        (status = 409, description = DECISION_409, body = Problem)))]
pub async fn approve(
    State(state): State<AppState>,
    auth: ReviewerAuth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ApproveDecision>,
) -> Result<Json<ApprovalResult>, ApiError> {
    let (case, outcome) = reviewing::approve(
        &state,
        &auth.user,
        case_id(&id)?,
        body.version,
        body.account.as_deref(),
        &auth.origin,
    )
    .await
    .map_err(problem)?;
    let (outcome, detail) = match outcome {
        Approved::Decided => (
            ApprovalOutcome::Approved,
            "approved; it takes effect after the cooling-off period",
        ),
        Approved::NeedsSecond => (
            ApprovalOutcome::SecondApprovalNeeded,
            "your approval is recorded; a second reviewer must approve too",
        ),
    };
    Ok(Json(ApprovalResult {
        outcome,
        detail: detail.into(),
        case: CaseStatus::of(&case)?,
    }))
}

/// Rejects a case in review with a note to the applicant (required).
#[utoipa::path(post, path = crate::routes::API_REVIEW_CASE_REJECT, tag = "review", operation_id = "review_reject",
    params(("id" = uuid::Uuid, Path, description = "The case id.")), request_body = NoteDecision,
    responses((status = 200, description = "Rejected; the applicant sees the note.", body = CaseStatus),
        (status = 403, description = DECISION_403, body = Problem),
        (status = 409, description = DECISION_409, body = Problem)))]
pub async fn reject(
    State(state): State<AppState>,
    auth: ReviewerAuth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NoteDecision>,
) -> Result<Json<CaseStatus>, ApiError> {
    let case = reviewing::reject(
        &state,
        &auth.user,
        case_id(&id)?,
        body.version,
        &body.note,
        &auth.origin,
    )
    .await
    .map_err(problem)?;
    Ok(Json(CaseStatus::of(&case)?))
}
