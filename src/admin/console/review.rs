//! `/admin/review`: the review queue and a case's page for reviewers —
//! the account, the form, the documents (each `<img>` served by
//! [`document`], every view audited), the history, and the forms to claim,
//! note, approve and reject. Each form carries the case's version: of two
//! reviewers deciding at once one wins, the other sees the case as it is
//! now with a message saying so.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{Nav, Pager, ReviewerSession};
use crate::domain::PhoneNumber;
use crate::error::PageError;
use crate::extract::{ClientOrigin, CsrfForm};
use crate::i18n::Text;
use crate::pages::{Chrome, PageCtx, render, render_status};
use crate::routes;
use crate::service::review::{Approved, ReviewError};
use crate::service::reviewing::{self, CaseView, QueueQuery, ReviewingError};
use crate::state::AppState;
use crate::store::review::{CaseKind, CaseState};
use crate::store::users::AccountStatus;

const PAGE: i64 = 50;

/// A case's state in the page's language.
fn state_label(t: &Text, s: CaseState) -> &'static str {
    match s {
        CaseState::Submitted => t.review_state_submitted,
        CaseState::InReview => t.review_state_in_review,
        CaseState::Approved => t.review_state_approved,
        CaseState::AwaitingRebind => t.review_state_awaiting_rebind,
        CaseState::Completed => t.review_state_completed,
        CaseState::Rejected => t.review_state_rejected,
        CaseState::Edited => t.review_state_edited,
        CaseState::Withdrawn => t.review_state_withdrawn,
        CaseState::Cancelled => t.review_state_cancelled,
        CaseState::Expired => t.review_state_expired,
        CaseState::AwaitingDocuments => t.review_state_awaiting_documents,
        CaseState::AwaitingCompletion => t.review_state_awaiting_completion,
    }
}

fn kind_label(t: &Text, k: CaseKind) -> &'static str {
    match k {
        CaseKind::PhoneUnbind => t.review_kind_phone_unbind,
        CaseKind::PasswordRetrieval => t.review_kind_password_retrieval,
    }
}

/// A history line's event in the page's language (an event this page does
/// not know is shown by its name).
fn event_label(t: &Text, event: &str) -> String {
    match event {
        "submitted" => t.review_event_submitted,
        "resubmitted" => t.review_event_resubmitted,
        "claimed" => t.review_event_claimed,
        "internal_note" => t.review_event_internal_note,
        "approval" => t.review_event_approval,
        "approved" => t.review_event_approved,
        "rejected" => t.review_event_rejected,
        "edited" => t.review_event_edited,
        "withdrawn" => t.review_event_withdrawn,
        "cancelled" => t.review_event_cancelled,
        "effective" => t.review_event_effective,
        "expired" => t.review_event_expired,
        "completed" => t.review_event_completed,
        "purged" => t.review_event_purged,
        "created" => t.review_event_created,
        "uploaded" => t.review_event_uploaded,
        "reopened" => t.review_event_reopened,
        "code_sent" => t.review_event_code_sent,
        other => return other.to_string(),
    }
    .to_string()
}

/// A stored state name in the page's language.
fn state_name_label(t: &Text, name: &str) -> String {
    CaseState::try_from(name.to_string())
        .map(|s| state_label(t, s).to_string())
        .unwrap_or_else(|_| name.to_string())
}

/// The application form's lines (label, value) in the page's language,
/// from the reviewer's view of it (`service::reviewing::form`).
fn form_lines(t: &Text, kind: CaseKind, form: &serde_json::Value) -> Vec<(String, String)> {
    let text = |k: &str| {
        form[k]
            .as_str()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let mut lines = Vec::new();
    match kind {
        CaseKind::PasswordRetrieval => {
            let push = |lines: &mut Vec<(String, String)>, label: &str, key: &str| {
                if let Some(v) = text(key) {
                    lines.push((label.to_string(), v));
                }
            };
            push(&mut lines, t.retrieve_case_number, "case_number");
            push(&mut lines, t.retrieve_organization, "organization");
            if form["organization_registered"].as_bool() == Some(true) {
                lines.push((
                    t.retrieve_organization.to_string(),
                    t.retrieve_review_org_pending.to_string(),
                ));
            }
            push(&mut lines, t.retrieve_account, "account");
            push(&mut lines, t.retrieve_registered_name, "registered_name");
            push(&mut lines, t.retrieve_name, "name");
            let id_type = match form["id_type"].as_str() {
                Some("passport") => t.retrieve_id_passport,
                _ => t.retrieve_id_resident,
            };
            lines.push((t.retrieve_id_type.to_string(), id_type.to_string()));
            push(&mut lines, t.retrieve_id_number, "id_number");
            if form["id_unusual"].as_bool() == Some(true) {
                lines.push((
                    t.retrieve_id_number.to_string(),
                    t.retrieve_review_passport_unusual.to_string(),
                ));
            }
            if let Some(r) =
                text("reason").and_then(|r| crate::service::retrieval::Reason::parse(&r))
            {
                lines.push((
                    t.retrieve_reason.to_string(),
                    crate::service::retrieval::reason_label(t, r).to_string(),
                ));
            }
            push(&mut lines, t.retrieve_reason_text, "reason_text");
        }
        CaseKind::PhoneUnbind => {
            if let Some(r) = text("reason") {
                lines.push((t.unbind_reason.to_string(), (t.unbind_reason_label)(&r)));
            }
            if let Some(n) = text("note") {
                lines.push((t.unbind_note.to_string(), n));
            }
            let phones: Vec<String> = [
                ("login_phone", t.login_phone),
                ("security_phone", t.security_phone),
            ]
            .into_iter()
            .filter_map(|(k, label)| text(k).map(|p| format!("{label} {p}")))
            .collect();
            lines.push((
                t.unbind_phones.to_string(),
                phones.join(t.review_list_separator),
            ));
            if let Some(o) = text("organization") {
                lines.push((t.unbind_organization.to_string(), o));
            }
        }
    }
    lines
}

fn case_url(id: uuid::Uuid) -> String {
    routes::ADMIN_REVIEW_CASE.replace("{id}", &id.to_string())
}

fn document_url(id: uuid::Uuid, revision: i64, slot: i64) -> String {
    routes::ADMIN_REVIEW_DOCUMENT
        .replace("{id}", &id.to_string())
        .replace("{revision}", &revision.to_string())
        .replace("{slot}", &slot.to_string())
}

struct QueueLine {
    url: String,
    applicant: String,
    username: String,
    organization: String,
    kind: &'static str,
    state: &'static str,
    submitted: String,
    due: String,
    overdue: bool,
    claimed_by: String,
    /// How many approvals, when there are any.
    approvals: Option<String>,
}

/// A choice of the state filter.
struct StateChoice {
    value: &'static str,
    label: &'static str,
    selected: bool,
}

#[derive(Template)]
#[template(path = "admin/review_queue.html")]
struct QueuePage {
    c: Chrome,
    nav: Nav,
    states: Vec<StateChoice>,
    claimed_by_me: bool,
    lines: Vec<QueueLine>,
    pager: Pager,
}

#[derive(Deserialize)]
pub struct QueueParams {
    #[serde(default)]
    state: String,
    #[serde(default)]
    claimed: String,
    page: Option<i64>,
}

pub async fn queue(
    State(state): State<AppState>,
    ctx: PageCtx,
    reviewer: ReviewerSession,
    Query(q): Query<QueueParams>,
) -> Result<Response, PageError> {
    let t = ctx.t();
    let wanted = match q.state.trim() {
        "" => None,
        name => Some(CaseState::try_from(name.to_string()).map_err(|_| PageError::BadRequest)?),
    };
    let claimed_by_me = match q.claimed.trim() {
        "" => false,
        "me" => true,
        _ => return Err(PageError::BadRequest),
    };
    let page = q.page.unwrap_or(1).clamp(1, reviewing::MAX_PAGE);
    let found = reviewing::queue(
        &state,
        &reviewer.current.user,
        &QueueQuery {
            state: wanted,
            claimed_by_me,
            page,
            per_page: PAGE,
        },
    )
    .await
    .map_err(page_error)?;
    let tz = state.time_zone.clone();
    let when = |x: time::OffsetDateTime| t.at(x, &tz);
    let lines = found
        .items
        .into_iter()
        .map(|i| QueueLine {
            url: case_url(i.row.id),
            applicant: i.row.applicant_display_name.unwrap_or_default(),
            username: i.row.applicant_username.unwrap_or_default(),
            organization: i.row.applicant_organization.unwrap_or_default(),
            kind: kind_label(t, i.row.kind),
            state: state_label(t, i.row.state),
            submitted: when(i.row.submitted_at),
            due: i.row.due_at.map(when).unwrap_or_default(),
            overdue: i.overdue,
            claimed_by: i.row.claimed_by_username.unwrap_or_default(),
            approvals: (i.approvals > 0).then(|| (t.review_approvals_count)(i.approvals)),
        })
        .collect();
    let pager = Pager::new(
        page,
        PAGE,
        found.total,
        &[
            ("state", wanted.map_or("", |s| s.as_str())),
            ("claimed", if claimed_by_me { "me" } else { "" }),
        ],
    );
    let mut states = vec![StateChoice {
        value: "",
        label: t.review_filter_waiting,
        selected: wanted.is_none(),
    }];
    states.extend(CaseState::ALL.into_iter().map(|s| StateChoice {
        value: s.as_str(),
        label: state_label(t, s),
        selected: wanted == Some(s),
    }));
    render(&QueuePage {
        c: ctx.chrome().await?,
        nav: reviewer.nav(),
        states,
        claimed_by_me,
        lines,
        pager,
    })
}

struct AccountLines {
    username: String,
    display_name: String,
    organization: Option<String>,
    login_phone: Option<String>,
    security_phone: Option<String>,
    active: bool,
}

struct DocumentLine {
    url: String,
    label: String,
    width: i64,
    height: i64,
    purged: bool,
}

struct EventLine {
    at: String,
    event: String,
    actor: String,
    change: String,
    note: String,
}

#[derive(Template)]
#[template(path = "admin/review_case.html")]
struct CasePage {
    c: Chrome,
    nav: Nav,
    action: String,
    id: String,
    kind: &'static str,
    state: &'static str,
    revision: i64,
    version: i64,
    submitted: String,
    due: String,
    overdue: bool,
    claimed_by: Option<String>,
    decided: Option<String>,
    effective: Option<String>,
    account: Option<AccountLines>,
    form: Vec<(String, String)>,
    contact_phone: Option<String>,
    contact_email: Option<String>,
    consent: Option<String>,
    applicant_note: Option<String>,
    internal_note: Option<String>,
    documents: Vec<DocumentLine>,
    approvals: Vec<(String, String)>,
    events: Vec<EventLine>,
    /// Claim (or take over from another reviewer).
    can_claim: bool,
    claimed_by_other: bool,
    can_decide: bool,
    four_eyes: bool,
    own_case: bool,
    message: Option<String>,
    error: Option<String>,
    /// What was typed into a refused form (kept for the next try).
    note_typed: String,
    reject_typed: String,
    /// A password retrieval: the approval names the account.
    retrieval: bool,
    /// The accounts a retrieval may be about.
    matches: Vec<AccountLines>,
    account_typed: String,
}

fn case_page(
    state: &AppState,
    c: Chrome,
    nav: Nav,
    reviewer_id: uuid::Uuid,
    v: CaseView,
) -> CasePage {
    let t = c.t;
    let tz = c.tz.clone();
    let when = |x: time::OffsetDateTime| t.at(x, &tz);
    let case = &v.case;
    let account = v.applicant.as_ref().map(account_lines);
    let waiting = matches!(case.state, CaseState::Submitted | CaseState::InReview);
    let own_case = case.account_id == Some(reviewer_id);
    CasePage {
        action: case_url(case.id),
        id: case.id.to_string(),
        kind: kind_label(t, case.kind),
        state: state_label(t, case.state),
        revision: case.revision,
        version: case.version,
        submitted: when(case.submitted_at),
        due: case.due_at.map(when).unwrap_or_default(),
        overdue: v.overdue,
        claimed_by: v.claimed_by.clone(),
        decided: case.decided_at.map(when),
        effective: case.effective_at.map(when),
        account,
        form: form_lines(t, case.kind, &v.form),
        contact_phone: case.contact_phone.clone(),
        contact_email: case.contact_email.clone(),
        consent: case.consent_at.map(|at| {
            format!(
                "{} ({})",
                when(at),
                case.consent_version.as_deref().unwrap_or_default()
            )
        }),
        applicant_note: case.applicant_note.clone(),
        internal_note: case.internal_note.clone(),
        documents: v
            .documents
            .iter()
            .map(|d| DocumentLine {
                url: document_url(case.id, d.revision, d.slot),
                label: match (case.kind, d.slot) {
                    (CaseKind::PasswordRetrieval, 1) => t.retrieve_slot_form.to_string(),
                    (CaseKind::PasswordRetrieval, _) => t.retrieve_slot_id.to_string(),
                    _ => (t.unbind_document_alt)(usize::try_from(d.slot).unwrap_or_default()),
                },
                width: d.width,
                height: d.height,
                purged: d.purged_at.is_some(),
            })
            .collect(),
        approvals: v
            .approvals
            .iter()
            .map(|a| (a.name.clone(), when(a.at)))
            .collect(),
        events: v
            .events
            .iter()
            .map(|e| EventLine {
                at: when(e.at),
                event: event_label(t, &e.event),
                actor: e.actor.clone(),
                change: match &e.from_state {
                    Some(from) if *from != e.to_state => format!(
                        "{} → {}",
                        state_name_label(t, from),
                        state_name_label(t, &e.to_state)
                    ),
                    Some(_) => String::new(),
                    None => state_name_label(t, &e.to_state),
                },
                note: e.note.clone().unwrap_or_default(),
            })
            .collect(),
        can_claim: waiting && case.claimed_by != Some(reviewer_id) && !own_case,
        claimed_by_other: case.claimed_by.is_some_and(|r| r != reviewer_id),
        can_decide: case.state == CaseState::InReview && !own_case,
        four_eyes: state.config.review.four_eyes,
        own_case,
        message: None,
        error: None,
        note_typed: String::new(),
        reject_typed: String::new(),
        retrieval: case.kind == CaseKind::PasswordRetrieval,
        matches: v.matches.iter().map(account_lines).collect(),
        account_typed: String::new(),
        c,
        nav,
    }
}

fn account_lines(u: &crate::store::users::User) -> AccountLines {
    AccountLines {
        username: u.username.clone(),
        display_name: u.display_name.clone(),
        organization: u.organization.clone(),
        login_phone: u.login_phone.as_deref().map(PhoneNumber::masked),
        security_phone: u.security_phone.as_deref().map(PhoneNumber::masked),
        active: u.status == AccountStatus::Active,
    }
}

fn page_error(e: ReviewingError) -> PageError {
    match e {
        ReviewingError::NotFound => PageError::NotFound,
        ReviewingError::NotReviewer => PageError::NotReviewer,
        other => PageError::Internal(other.to_string()),
    }
}

async fn load(
    state: &AppState,
    ctx: &PageCtx,
    reviewer: &ReviewerSession,
    id: &str,
) -> Result<CasePage, PageError> {
    let id = uuid::Uuid::parse_str(id).map_err(|_| PageError::NotFound)?;
    let user = &reviewer.current.user;
    let view = reviewing::case_view(state, user, id, &ctx.origin)
        .await
        .map_err(page_error)?;
    let chrome = ctx.chrome_at(&case_url(id)).await?;
    Ok(case_page(state, chrome, reviewer.nav(), user.id, view))
}

#[derive(Deserialize)]
pub struct CaseQuery {
    done: Option<String>,
}

pub async fn case(
    State(state): State<AppState>,
    ctx: PageCtx,
    reviewer: ReviewerSession,
    Path(id): Path<String>,
    Query(q): Query<CaseQuery>,
) -> Result<Response, PageError> {
    let mut page = load(&state, &ctx, &reviewer, &id).await?;
    let t = ctx.t();
    page.message = q.done.as_deref().and_then(|d| match d {
        "claimed" => Some(t.review_done_claimed.to_string()),
        "note" => Some(t.review_done_note.to_string()),
        "approved" => Some(t.review_done_approved.to_string()),
        "second" => Some(t.review_done_first_approval.to_string()),
        "rejected" => Some(t.review_done_rejected.to_string()),
        _ => None,
    });
    render(&page)
}

/// Every form of the case page posts here with its `action` and the
/// `version` the page showed.
#[derive(Deserialize)]
pub struct ActionForm {
    action: String,
    version: Option<i64>,
    note: Option<String>,
    account: Option<String>,
}

pub async fn act(
    State(state): State<AppState>,
    ctx: PageCtx,
    reviewer: ReviewerSession,
    ClientOrigin(origin): ClientOrigin,
    Path(raw_id): Path<String>,
    CsrfForm(form, _): CsrfForm<ActionForm>,
) -> Result<Response, PageError> {
    let id = uuid::Uuid::parse_str(&raw_id).map_err(|_| PageError::NotFound)?;
    let version = form.version.ok_or(PageError::BadRequest)?;
    let user = &reviewer.current.user;
    let note = form.note.clone().unwrap_or_default();
    let done: Result<&str, ReviewingError> = match form.action.as_str() {
        "claim" => reviewing::claim(&state, user, id, version, &origin)
            .await
            .map(|_| "claimed"),
        "note" => reviewing::add_note(&state, user, id, version, &note, &origin)
            .await
            .map(|_| "note"),
        "approve" => {
            reviewing::approve(&state, user, id, version, form.account.as_deref(), &origin)
                .await
                .map(|(_, outcome)| match outcome {
                    Approved::Decided => "approved",
                    Approved::NeedsSecond => "second",
                })
        }
        "reject" => reviewing::reject(&state, user, id, version, &note, &origin)
            .await
            .map(|_| "rejected"),
        _ => return Err(PageError::BadRequest),
    };
    let e = match done {
        Ok(flag) => {
            return Ok(Redirect::to(&format!("{}?done={flag}", case_url(id))).into_response());
        }
        Err(e) => e,
    };
    let t = ctx.t();
    let (status, message) = match &e {
        ReviewingError::NotFound | ReviewingError::NotReviewer => return Err(page_error(e)),
        ReviewingError::OwnCase => (StatusCode::FORBIDDEN, e.text(t)),
        ReviewingError::Review(ReviewError::Stale) => {
            (StatusCode::CONFLICT, t.review_lost_race.to_string())
        }
        ReviewingError::Review(ReviewError::NotAllowed { .. } | ReviewError::SameReviewer) => {
            (StatusCode::CONFLICT, e.text(t))
        }
        // The engine's words are for the note to the applicant.
        ReviewingError::Review(ReviewError::NoteRequired) if form.action == "note" => (
            StatusCode::UNPROCESSABLE_ENTITY,
            t.review_internal_note_required.to_string(),
        ),
        ReviewingError::Review(ReviewError::NoteRequired | ReviewError::NoteTooLong) => {
            (StatusCode::UNPROCESSABLE_ENTITY, e.text(t))
        }
        ReviewingError::AccountRequired | ReviewingError::NoAccount => {
            (StatusCode::UNPROCESSABLE_ENTITY, e.text(t))
        }
        ReviewingError::Review(ReviewError::Store(s)) if s.is_unavailable() => {
            return Err(PageError::Unavailable);
        }
        _ => return Err(page_error(e)),
    };
    // The case as it is now, with what went wrong and what was typed.
    let mut page = load(&state, &ctx, &reviewer, &raw_id).await?;
    page.error = Some(message);
    match form.action.as_str() {
        "note" => page.note_typed = note,
        "reject" => page.reject_typed = note,
        "approve" => page.account_typed = form.account.clone().unwrap_or_default(),
        _ => {}
    }
    render_status(status, &page)
}

/// A document of a case as a JPEG, for the case page's `<img>`: every
/// view is audited before the bytes go out, and nothing is cached.
pub async fn document(
    State(state): State<AppState>,
    ctx: PageCtx,
    reviewer: ReviewerSession,
    Path((id, revision, slot)): Path<(String, String, String)>,
) -> Result<Response, PageError> {
    let id = uuid::Uuid::parse_str(&id).map_err(|_| PageError::NotFound)?;
    let revision: i64 = revision.parse().map_err(|_| PageError::NotFound)?;
    let slot: i64 = slot.parse().map_err(|_| PageError::NotFound)?;
    match reviewing::document(
        &state,
        &reviewer.current.user,
        id,
        revision,
        slot,
        &ctx.origin,
    )
    .await
    {
        Ok(jpeg) => Ok((
            [
                (header::CONTENT_TYPE, "image/jpeg"),
                (header::CACHE_CONTROL, "no-store"),
                (header::CONTENT_DISPOSITION, "inline"),
            ],
            jpeg,
        )
            .into_response()),
        // Purged after the retention period: there is nothing to show.
        Err(ReviewingError::Review(ReviewError::Document(
            crate::service::documents::DocumentError::Purged,
        ))) => Err(PageError::NotFound),
        Err(e) => Err(page_error(e)),
    }
}
