//! The organization-verified password retrieval's pages (`/retrieve/…`):
//! anonymous, each step a GET that draws and a POST that acts through
//! [`crate::service::retrieval`]. The browser's session holds the form
//! waiting for its phone's code and then the case it may see (after the
//! form, or after the file authentication).

use std::collections::HashMap;
use std::time::Duration;

use askama::Template;
use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use uuid::Uuid;

use crate::error::PageError;
use crate::extract::CsrfForm;
use crate::i18n::Text;
use crate::pages::{Chrome, PageCtx, PasswordRuleLine, password_rules, render};
use crate::ports::captcha::CaptchaError;
use crate::routes;
use crate::service::documents::DocumentError;
use crate::service::retrieval::{
    self, CompleteError, Entered, Field, IdProblem, Pending, Problem, RegField, Registering,
    RetrievalData, RetrievalError, SLOT_FORM, SLOT_ID_CARD, SlotState,
};
use crate::session::WebSession;
use crate::state::AppState;
use crate::store::organizations::Organization;
use crate::store::review::{Case, CaseState};

fn problem_text(t: &Text, p: &Problem) -> String {
    match p {
        Problem::Required => t.retrieve_err_required.into(),
        Problem::TooLong(n) => (t.retrieve_err_too_long)(*n),
        Problem::Phone(e) => t.phone_error(*e).to_string(),
        Problem::Email => t.retrieve_err_email.into(),
        Problem::IdNumber(i) => match i {
            IdProblem::Length => t.retrieve_err_id_length,
            IdProblem::Characters => t.retrieve_err_id_characters,
            IdProblem::Province => t.retrieve_err_id_province,
            IdProblem::BirthDate => t.retrieve_err_id_birth_date,
            IdProblem::CheckCharacter => t.retrieve_err_id_check,
            IdProblem::PassportCharacters => t.retrieve_err_passport,
        }
        .into(),
    }
}

fn document_text(t: &Text, e: &DocumentError, max_bytes: usize) -> String {
    match e {
        DocumentError::Missing | DocumentError::Empty { .. } => t.retrieve_err_no_file.into(),
        DocumentError::TooLarge { .. } => (t.retrieve_err_too_large)(max_bytes.div_ceil(1024)),
        DocumentError::NotJpeg { .. } | DocumentError::Unreadable { .. } => {
            t.retrieve_err_not_jpeg.into()
        }
        DocumentError::TooManyPixels { .. } => t.retrieve_err_too_many_pixels.into(),
        other => crate::service::documents::text(other, t),
    }
}

fn internal(e: RetrievalError) -> PageError {
    match e {
        RetrievalError::Store(s) => s.into(),
        RetrievalError::Ephemeral(e) => e.into(),
        other => PageError::Internal(other.to_string()),
    }
}

// ── step 1: organizations ───────────────────────────────────────────────

struct OrgLine {
    full_name: String,
    aliases: String,
    url: String,
}

fn form_url(org: Uuid) -> String {
    format!("{}?org={org}", routes::RETRIEVE_FORM)
}

#[derive(Template)]
#[template(path = "account/retrieve_start.html")]
struct StartPage {
    c: Chrome,
    query: String,
    searched: bool,
    found: Vec<OrgLine>,
    error: Option<String>,
    reg: Registering,
    reg_errors: HashMap<&'static str, String>,
    captcha_id: String,
    captcha_image: Option<String>,
    existing: Option<OrgLine>,
}

impl StartPage {
    fn reg_error(&self, field: &str) -> Option<&String> {
        self.reg_errors.get(field)
    }
}

fn line(o: Organization) -> OrgLine {
    OrgLine {
        url: form_url(o.id),
        aliases: [
            o.short_name.clone().into_iter().collect::<Vec<_>>(),
            o.aliases.0.clone(),
        ]
        .concat()
        .join(" / "),
        full_name: o.full_name,
    }
}

async fn start_page(state: &AppState, ctx: &PageCtx, c: Chrome) -> Result<StartPage, PageError> {
    let ch = match state.captcha.challenge(ctx.origin.ip.as_deref()).await {
        Ok(ch) => ch,
        Err(CaptchaError::TooMany(retry_after)) => return Err(PageError::TooMany { retry_after }),
        Err(e) => return Err(PageError::Internal(e.to_string())),
    };
    Ok(StartPage {
        c,
        query: String::new(),
        searched: false,
        found: Vec::new(),
        error: None,
        reg: Registering {
            country_code: "+86".into(),
            ..Registering::default()
        },
        reg_errors: HashMap::new(),
        captcha_id: ch.id,
        captcha_image: ch.image,
        existing: None,
    })
}

#[derive(Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
}

/// Step 1: the search (`?q=`) and the registration form.
pub async fn start(
    State(state): State<AppState>,
    ctx: PageCtx,
    Query(q): Query<SearchQuery>,
) -> Result<Response, PageError> {
    let mut p = start_page(&state, &ctx, ctx.chrome().await?).await?;
    let query = q.q.trim().to_string();
    if !query.is_empty() {
        p.searched = true;
        match retrieval::search(&state, &query, &ctx.origin).await {
            Ok(found) => p.found = found.into_iter().map(line).collect(),
            Err(RetrievalError::TooMany(wait)) => {
                p.query = query;
                p.error = Some((ctx.t().retrieve_too_many)(wait));
                return super::refused(StatusCode::TOO_MANY_REQUESTS, &p, Some(wait));
            }
            Err(e) => return Err(internal(e)),
        }
    }
    p.query = query;
    render(&p)
}

#[derive(Deserialize)]
pub struct RegisterForm {
    #[serde(default)]
    full_name: String,
    #[serde(default)]
    contact_name: String,
    #[serde(default)]
    country_code: String,
    #[serde(default)]
    number: String,
    #[serde(default)]
    captcha_id: String,
    #[serde(default)]
    captcha: String,
}

pub async fn register(
    State(state): State<AppState>,
    ctx: PageCtx,
    CsrfForm(form, _): CsrfForm<RegisterForm>,
) -> Result<Response, PageError> {
    let reg = Registering {
        full_name: form.full_name,
        contact_name: form.contact_name,
        country_code: form.country_code,
        number: form.number,
        captcha_id: form.captcha_id,
        captcha: form.captcha,
    };
    let result = retrieval::register_organization(&state, &reg, &ctx.origin).await;
    let org = match result {
        Ok(org) => return Ok(Redirect::to(&form_url(org.id)).into_response()),
        Err(e) => e,
    };
    let t = ctx.t();
    let mut p = start_page(&state, &ctx, ctx.chrome_at(routes::RETRIEVE).await?).await?;
    let (status, wait) = match org {
        RetrievalError::RegFields(problems) => {
            for (field, problem) in &problems {
                let text = if *field == RegField::Captcha {
                    t.recover_captcha_wrong.to_string()
                } else {
                    problem_text(t, problem)
                };
                p.reg_errors.entry(field.name()).or_insert(text);
            }
            (StatusCode::UNPROCESSABLE_ENTITY, None)
        }
        RetrievalError::OrganizationExists(o)
            if o.status != crate::domain::OrganizationStatus::Inactive =>
        {
            p.existing = Some(line(*o));
            p.error = Some(t.retrieve_org_exists.into());
            (StatusCode::CONFLICT, None)
        }
        RetrievalError::OrganizationExists(_) => {
            p.error = Some(t.retrieve_org_inactive.into());
            (StatusCode::CONFLICT, None)
        }
        RetrievalError::TooMany(wait) => {
            p.error = Some((t.retrieve_too_many)(wait));
            (StatusCode::TOO_MANY_REQUESTS, Some(wait))
        }
        e => return Err(internal(e)),
    };
    p.reg = Registering {
        captcha_id: String::new(),
        captcha: String::new(),
        ..reg
    };
    super::refused(status, &p, wait)
}

// ── step 2: the form ────────────────────────────────────────────────────

#[derive(Template)]
#[template(path = "account/retrieve_form.html")]
struct FormPage {
    c: Chrome,
    action: String,
    organization: String,
    pending_org: bool,
    entered: Entered,
    errors: HashMap<&'static str, String>,
    general: Option<String>,
    reasons: Vec<(&'static str, &'static str)>,
    retention_days: u32,
    max_reason: usize,
}

impl FormPage {
    fn error(&self, field: &str) -> Option<&String> {
        self.errors.get(field)
    }
}

fn form_page(state: &AppState, c: Chrome, org: &Organization, entered: Entered) -> FormPage {
    let t = c.t;
    FormPage {
        action: form_url(org.id),
        organization: org.full_name.clone(),
        pending_org: org.status == crate::domain::OrganizationStatus::Pending,
        entered,
        errors: HashMap::new(),
        general: None,
        reasons: vec![
            ("forgotten", t.retrieve_reason_forgotten),
            ("staff_change", t.retrieve_reason_staff_change),
            ("other", t.retrieve_reason_other),
        ],
        retention_days: state.config.review.retention_days,
        max_reason: retrieval::MAX_REASON_CHARS,
        c,
    }
}

#[derive(Deserialize)]
pub struct OrgQuery {
    #[serde(default)]
    org: String,
}

async fn org_of(state: &AppState, raw: &str) -> Result<Organization, PageError> {
    let id = Uuid::parse_str(raw.trim()).map_err(|_| PageError::NotFound)?;
    match retrieval::organization_for_form(state, id).await {
        Ok(o) => Ok(o),
        Err(RetrievalError::NoOrganization) => Err(PageError::NotFound),
        Err(e) => Err(internal(e)),
    }
}

pub async fn form(
    State(state): State<AppState>,
    ctx: PageCtx,
    Query(q): Query<OrgQuery>,
) -> Result<Response, PageError> {
    if q.org.trim().is_empty() {
        return Ok(Redirect::to(routes::RETRIEVE).into_response());
    }
    let org = org_of(&state, &q.org).await?;
    let entered = Entered {
        country_code: "+86".into(),
        ..Entered::default()
    };
    render(&form_page(&state, ctx.chrome().await?, &org, entered))
}

#[derive(Deserialize)]
pub struct FormFields {
    #[serde(default)]
    account: String,
    #[serde(default)]
    registered_name: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    id_type: String,
    #[serde(default)]
    id_number: String,
    #[serde(default)]
    country_code: String,
    #[serde(default)]
    number: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    reason_text: String,
    #[serde(default)]
    consent: String,
}

pub async fn submit_form(
    State(state): State<AppState>,
    ctx: PageCtx,
    Query(q): Query<OrgQuery>,
    CsrfForm(f, session): CsrfForm<FormFields>,
) -> Result<Response, PageError> {
    let org = org_of(&state, &q.org).await?;
    let entered = Entered {
        account: f.account,
        registered_name: f.registered_name,
        name: f.name,
        id_type: f.id_type,
        id_number: f.id_number,
        country_code: f.country_code,
        number: f.number,
        email: f.email,
        reason: f.reason,
        reason_text: f.reason_text,
        consent: !f.consent.is_empty(),
    };
    match retrieval::start(&state, org.id, &entered, &ctx.origin, ctx.lang).await {
        Ok(pending) => {
            session.set_retrieval_pending(&pending).await?;
            Ok(Redirect::to(routes::RETRIEVE_CONFIRM).into_response())
        }
        Err(e) => {
            let t = ctx.t();
            let mut p = form_page(
                &state,
                ctx.chrome_at(&form_url(org.id)).await?,
                &org,
                entered,
            );
            let (status, wait) = match e {
                RetrievalError::Fields(problems) => {
                    for (field, problem) in &problems {
                        p.errors
                            .entry(field.name())
                            .or_insert_with(|| problem_text(t, problem));
                    }
                    p.general = Some(t.retrieve_form_errors.into());
                    (StatusCode::UNPROCESSABLE_ENTITY, None)
                }
                RetrievalError::TooMany(wait) => {
                    p.general = Some((t.retrieve_too_many)(wait));
                    (StatusCode::TOO_MANY_REQUESTS, Some(wait))
                }
                RetrievalError::Send(s) => {
                    let (status, text, wait) = super::send_refusal(t, s)?;
                    p.errors.insert(Field::Phone.name(), text);
                    (status, wait)
                }
                other => return Err(internal(other)),
            };
            super::refused(status, &p, wait)
        }
    }
}

// ── the phone's code ────────────────────────────────────────────────────

#[derive(Template)]
#[template(path = "account/retrieve_confirm.html")]
struct ConfirmPage {
    c: Chrome,
    phone: String,
    wait: u64,
    notice: Option<String>,
    error: Option<String>,
}

async fn pending_of(state: &AppState, session: &WebSession) -> Result<Option<Pending>, PageError> {
    session
        .retrieval_pending(state.config.sms.code_ttl_secs)
        .await
}

async fn confirm_page(state: &AppState, c: Chrome, pending: &Pending) -> ConfirmPage {
    let wait = retrieval::resend_wait(state, pending).await;
    ConfirmPage {
        c,
        phone: pending.phone_masked(),
        wait: super::countdown_secs(wait),
        notice: None,
        error: None,
    }
}

pub async fn confirm_show(
    State(state): State<AppState>,
    ctx: PageCtx,
) -> Result<Response, PageError> {
    let Some(pending) = pending_of(&state, &ctx.session).await? else {
        return Ok(Redirect::to(routes::RETRIEVE).into_response());
    };
    let mut p = confirm_page(&state, ctx.chrome().await?, &pending).await;
    p.notice = Some((ctx.t().retrieve_code_sent)(&p.phone));
    render(&p)
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
}

pub async fn confirm(
    State(state): State<AppState>,
    ctx: PageCtx,
    CsrfForm(form, session): CsrfForm<CodeForm>,
) -> Result<Response, PageError> {
    let Some(pending) = pending_of(&state, &session).await? else {
        return Ok(Redirect::to(routes::RETRIEVE).into_response());
    };
    let t = ctx.t();
    let status = match retrieval::confirm(&state, &pending, &form.code, &ctx.origin).await {
        Ok(case) => {
            session.hold_retrieval_case(case.id).await?;
            return Ok(Redirect::to(routes::RETRIEVE_CASE).into_response());
        }
        Err(RetrievalError::WrongCode(left)) => {
            (StatusCode::UNPROCESSABLE_ENTITY, (t.step_up_wrong)(left))
        }
        Err(RetrievalError::NoCode) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            t.step_up_no_code.to_string(),
        ),
        Err(RetrievalError::NoOrganization) => {
            (StatusCode::CONFLICT, t.retrieve_org_gone.to_string())
        }
        Err(e) => return Err(internal(e)),
    };
    let mut p = confirm_page(
        &state,
        ctx.chrome_at(routes::RETRIEVE_CONFIRM).await?,
        &pending,
    )
    .await;
    p.error = Some(status.1);
    super::refused(status.0, &p, None)
}

pub async fn confirm_send(
    State(state): State<AppState>,
    ctx: PageCtx,
    CsrfForm(_, session): CsrfForm<EmptyForm>,
) -> Result<Response, PageError> {
    let Some(pending) = pending_of(&state, &session).await? else {
        return Ok(Redirect::to(routes::RETRIEVE).into_response());
    };
    let t = ctx.t();
    match retrieval::resend(&state, &pending, &ctx.origin, ctx.lang).await {
        Ok(()) => Ok(Redirect::to(routes::RETRIEVE_CONFIRM).into_response()),
        Err(RetrievalError::Send(s)) => {
            let (status, text, wait) = super::send_refusal(t, s)?;
            let mut p = confirm_page(
                &state,
                ctx.chrome_at(routes::RETRIEVE_CONFIRM).await?,
                &pending,
            )
            .await;
            p.error = Some(text);
            super::refused(status, &p, wait)
        }
        Err(e) => Err(internal(e)),
    }
}

#[derive(Deserialize)]
pub struct EmptyForm {}

// ── step 3: the case and its PDF ────────────────────────────────────────

/// The case this browser holds, or the file authentication page.
async fn held(state: &AppState, session: &WebSession) -> Result<Option<Case>, PageError> {
    let Some(id) = session.retrieval_case().await? else {
        return Ok(None);
    };
    match retrieval::case(state, id).await {
        Ok(c) => Ok(Some(c)),
        Err(RetrievalError::NotFound) => Ok(None),
        Err(e) => Err(internal(e)),
    }
}

#[derive(Template)]
#[template(path = "account/retrieve_case.html")]
struct CasePage {
    c: Chrome,
    number: String,
    organization: String,
    state: String,
    takes_uploads: bool,
}

fn grouped(case: &Case) -> String {
    case.public_number
        .as_deref()
        .and_then(|n| crate::domain::CaseNumber::parse(n).ok())
        .map(|n| n.grouped())
        .unwrap_or_default()
}

fn state_text(t: &Text, case: &Case) -> String {
    match case.state {
        CaseState::AwaitingDocuments => t.retrieve_state_documents,
        CaseState::Submitted | CaseState::InReview => t.retrieve_state_review,
        CaseState::Approved | CaseState::AwaitingCompletion => t.retrieve_state_approved,
        CaseState::Rejected => t.retrieve_state_rejected,
        CaseState::Completed => t.retrieve_state_completed,
        _ => t.retrieve_state_closed,
    }
    .to_string()
}

pub async fn case_page(State(state): State<AppState>, ctx: PageCtx) -> Result<Response, PageError> {
    let Some(case) = held(&state, &ctx.session).await? else {
        return Ok(Redirect::to(routes::RETRIEVE_FILES).into_response());
    };
    let data = RetrievalData::of(&case).map_err(PageError::Internal)?;
    let t = ctx.t();
    render(&CasePage {
        number: grouped(&case),
        organization: data.organization,
        state: state_text(t, &case),
        takes_uploads: retrieval::takes_uploads(&case),
        c: ctx.chrome().await?,
    })
}

pub async fn pdf(State(state): State<AppState>, ctx: PageCtx) -> Result<Response, PageError> {
    let Some(case) = held(&state, &ctx.session).await? else {
        return Err(PageError::NotFound);
    };
    match retrieval::sheet(&state, &case).await {
        Ok(bytes) => {
            let name = format!(
                "attachment; filename=\"retrieval-{}.pdf\"",
                case.public_number.as_deref().unwrap_or_default()
            );
            Ok((
                [
                    (
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/pdf"),
                    ),
                    (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
                    (
                        header::CONTENT_DISPOSITION,
                        HeaderValue::from_str(&name)
                            .map_err(|e| PageError::Internal(e.to_string()))?,
                    ),
                ],
                bytes,
            )
                .into_response())
        }
        Err(RetrievalError::Pdf(e)) => {
            tracing::error!(error = %e, "the retrieval form could not be made");
            Err(PageError::Unavailable)
        }
        Err(e) => Err(internal(e)),
    }
}

// ── step 4: file authentication ─────────────────────────────────────────

#[derive(Template)]
#[template(path = "account/retrieve_files.html")]
struct FilesPage {
    c: Chrome,
    organization: String,
    number: String,
    error: Option<String>,
}

pub async fn files_show(ctx: PageCtx) -> Result<Response, PageError> {
    render(&FilesPage {
        c: ctx.chrome().await?,
        organization: String::new(),
        number: String::new(),
        error: None,
    })
}

#[derive(Deserialize)]
pub struct FilesForm {
    #[serde(default)]
    organization: String,
    #[serde(default)]
    number: String,
}

pub async fn files(
    State(state): State<AppState>,
    ctx: PageCtx,
    CsrfForm(form, session): CsrfForm<FilesForm>,
) -> Result<Response, PageError> {
    let t = ctx.t();
    let (status, text, wait) = match retrieval::authenticate(
        &state,
        &form.organization,
        &form.number,
        &ctx.origin,
    )
    .await
    {
        Ok(case) => {
            session.hold_retrieval_case(case.id).await?;
            return Ok(Redirect::to(routes::RETRIEVE_UPLOAD).into_response());
        }
        Err(RetrievalError::NotFound) => (
            StatusCode::NOT_FOUND,
            t.retrieve_not_found.to_string(),
            None,
        ),
        Err(RetrievalError::TooMany(wait)) => (
            StatusCode::TOO_MANY_REQUESTS,
            (t.retrieve_too_many)(wait),
            Some(wait),
        ),
        Err(e) => return Err(internal(e)),
    };
    let p = FilesPage {
        c: ctx.chrome_at(routes::RETRIEVE_FILES).await?,
        organization: form.organization,
        number: form.number,
        error: Some(text),
    };
    super::refused(status, &p, wait)
}

// ── step 5: uploads ─────────────────────────────────────────────────────

struct SlotLine {
    slot: i64,
    label: &'static str,
    hint: &'static str,
    sample: String,
    action: String,
    image: Option<String>,
    uploaded: Option<String>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "account/retrieve_upload.html")]
struct UploadPage {
    c: Chrome,
    number: String,
    organization: String,
    state: String,
    slots: Vec<SlotLine>,
    takes_uploads: bool,
    can_submit: bool,
    submitted: bool,
    applicant_note: Option<String>,
    notice: Option<String>,
    error: Option<String>,
    max_kib: usize,
    /// When the result is due (submitted cases).
    due: Option<String>,
    result_days: usize,
}

fn slot_url(route: &str, slot: i64) -> String {
    route.replace("{slot}", &slot.to_string())
}

async fn upload_page(state: &AppState, c: Chrome, case: &Case) -> Result<UploadPage, PageError> {
    let t = c.t;
    let when = |at: time::OffsetDateTime| c.at(at);
    let data = RetrievalData::of(case).map_err(PageError::Internal)?;
    let takes = retrieval::takes_uploads(case);
    // After a rejection the slots start empty (a new revision).
    let slots: Vec<SlotState> = if case.state == CaseState::Rejected {
        Vec::new()
    } else {
        retrieval::slots(state, case).await.map_err(internal)?
    };
    let filled = |slot: i64| {
        slots
            .iter()
            .find(|s| s.slot == slot && s.uploaded.is_some() && !s.purged)
    };
    let lines = [
        (SLOT_FORM, t.retrieve_slot_form, t.retrieve_slot_form_hint),
        (SLOT_ID_CARD, t.retrieve_slot_id, t.retrieve_slot_id_hint),
    ]
    .into_iter()
    .map(|(slot, label, hint)| SlotLine {
        slot,
        label,
        hint,
        sample: slot_url(routes::RETRIEVE_SAMPLE, slot),
        action: slot_url(routes::RETRIEVE_UPLOAD_SLOT, slot),
        image: filled(slot).map(|_| slot_url(routes::RETRIEVE_UPLOAD_IMAGE, slot)),
        uploaded: filled(slot).and_then(|s| s.uploaded).map(when),
        error: None,
    })
    .collect::<Vec<_>>();
    let complete = lines.iter().all(|l| l.image.is_some());
    Ok(UploadPage {
        number: grouped(case),
        organization: data.organization,
        state: state_text(t, case),
        can_submit: case.state == CaseState::AwaitingDocuments && complete,
        submitted: matches!(case.state, CaseState::Submitted | CaseState::InReview),
        takes_uploads: takes,
        slots: lines,
        applicant_note: (case.state == CaseState::Rejected)
            .then(|| case.applicant_note.clone())
            .flatten(),
        notice: None,
        error: None,
        max_kib: state.config.review.max_document_bytes.div_ceil(1024),
        due: matches!(case.state, CaseState::Submitted | CaseState::InReview)
            .then_some(case.due_at)
            .flatten()
            .map(when),
        result_days: usize::try_from(state.config.retrieval.result_working_days).unwrap_or(1),
        c,
    })
}

#[derive(Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

pub async fn upload_show(
    State(state): State<AppState>,
    ctx: PageCtx,
    Query(q): Query<DoneQuery>,
) -> Result<Response, PageError> {
    let Some(case) = held(&state, &ctx.session).await? else {
        return Ok(Redirect::to(routes::RETRIEVE_FILES).into_response());
    };
    let mut p = upload_page(&state, ctx.chrome().await?, &case).await?;
    let t = ctx.t();
    p.notice = match q.done.as_deref() {
        Some("uploaded") => Some(t.retrieve_uploaded.to_string()),
        Some("submitted") => Some(t.retrieve_submitted.to_string()),
        _ => None,
    };
    if p.submitted && p.notice.is_none() {
        p.notice = Some(t.retrieve_submitted.to_string());
    }
    render(&p)
}

/// One file of the upload form (multipart), with the CSRF check.
pub struct OneFile {
    file: Option<Vec<u8>>,
    session: WebSession,
}

const MAX_PARTS: usize = 8;

impl FromRequest<AppState> for OneFile {
    type Rejection = PageError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        use axum::extract::FromRequestParts;
        let (mut parts, body) = req.into_parts();
        let session = WebSession::from_request_parts(&mut parts, state).await?;
        let req = Request::from_parts(parts, body);
        let mut multipart = Multipart::from_request(req, state)
            .await
            .map_err(|_| PageError::BadRequest)?;
        let too_large = || PageError::UploadTooLarge {
            mib: state.config.review.max_document_bytes.div_ceil(1024 * 1024),
        };
        let read_error = |e: axum::extract::multipart::MultipartError| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                too_large()
            } else {
                PageError::BadRequest
            }
        };
        let mut csrf = String::new();
        let mut file = None;
        let mut count = 0;
        while let Some(field) = multipart.next_field().await.map_err(read_error)? {
            count += 1;
            if count > MAX_PARTS {
                return Err(PageError::BadRequest);
            }
            let name = field.name().unwrap_or_default().to_string();
            let bytes = field.bytes().await.map_err(read_error)?;
            match name.as_str() {
                "file" if !bytes.is_empty() => file = Some(bytes.to_vec()),
                "csrf" => {
                    csrf = String::from_utf8(bytes.to_vec())
                        .map_err(|_| PageError::InvalidField(name))?
                }
                _ => {}
            }
        }
        session.check_csrf(&csrf).await?;
        Ok(OneFile { file, session })
    }
}

fn slot_of(raw: &str) -> Result<i64, PageError> {
    match raw.parse::<i64>() {
        Ok(s) if s == SLOT_FORM || s == SLOT_ID_CARD => Ok(s),
        _ => Err(PageError::NotFound),
    }
}

pub async fn upload(
    State(state): State<AppState>,
    ctx: PageCtx,
    Path(raw): Path<String>,
    form: OneFile,
) -> Result<Response, PageError> {
    let slot = slot_of(&raw)?;
    let Some(case) = held(&state, &form.session).await? else {
        return Ok(Redirect::to(routes::RETRIEVE_FILES).into_response());
    };
    let t = ctx.t();
    let max = state.config.review.max_document_bytes;
    let result = match form.file {
        Some(bytes) => retrieval::upload(&state, case.id, slot, bytes, &ctx.origin).await,
        None => Err(RetrievalError::Document(DocumentError::Missing)),
    };
    let (status, text) = match result {
        Ok(_) => {
            return Ok(
                Redirect::to(&format!("{}?done=uploaded", routes::RETRIEVE_UPLOAD)).into_response(),
            );
        }
        Err(RetrievalError::Document(DocumentError::NoKey)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            t.review_doc_unavailable.to_string(),
        ),
        Err(RetrievalError::Document(d)) => {
            (StatusCode::UNPROCESSABLE_ENTITY, document_text(t, &d, max))
        }
        Err(RetrievalError::Duplicate) => (StatusCode::CONFLICT, t.retrieve_duplicate.to_string()),
        Err(RetrievalError::AlreadySubmitted) => (
            StatusCode::CONFLICT,
            t.retrieve_already_submitted.to_string(),
        ),
        Err(RetrievalError::NotUploading) => {
            (StatusCode::CONFLICT, t.retrieve_not_uploading.to_string())
        }
        Err(e) => return Err(internal(e)),
    };
    let case = retrieval::case(&state, case.id).await.map_err(internal)?;
    let mut p = upload_page(&state, ctx.chrome_at(routes::RETRIEVE_UPLOAD).await?, &case).await?;
    if let Some(l) = p.slots.iter_mut().find(|l| l.slot == slot) {
        l.error = Some(text.clone());
    }
    p.error = Some(text);
    super::refused(status, &p, None)
}

pub async fn image(
    State(state): State<AppState>,
    ctx: PageCtx,
    Path(raw): Path<String>,
) -> Result<Response, PageError> {
    let slot = slot_of(&raw)?;
    let Some(case) = held(&state, &ctx.session).await? else {
        return Err(PageError::NotFound);
    };
    match retrieval::own_document(&state, case.id, slot).await {
        Ok(jpeg) => Ok((
            [
                (header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg")),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
            jpeg,
        )
            .into_response()),
        Err(RetrievalError::NotFound | RetrievalError::Document(DocumentError::Purged)) => {
            Err(PageError::NotFound)
        }
        Err(e) => Err(internal(e)),
    }
}

pub async fn sample(Path(raw): Path<String>) -> Result<Response, PageError> {
    match raw.as_str() {
        "1" => Ok(crate::assets::retrieval_sample_form()),
        "2" => Ok(crate::assets::retrieval_sample_id_card()),
        _ => Err(PageError::NotFound),
    }
}

pub async fn submit(
    State(state): State<AppState>,
    ctx: PageCtx,
    CsrfForm(_, session): CsrfForm<EmptyForm>,
) -> Result<Response, PageError> {
    let Some(case) = held(&state, &session).await? else {
        return Ok(Redirect::to(routes::RETRIEVE_FILES).into_response());
    };
    let t = ctx.t();
    let (status, text) = match retrieval::submit(&state, case.id, &ctx.origin).await {
        Ok(_) => {
            return Ok(
                Redirect::to(&format!("{}?done=submitted", routes::RETRIEVE_UPLOAD))
                    .into_response(),
            );
        }
        Err(RetrievalError::AlreadySubmitted) => (
            StatusCode::CONFLICT,
            t.retrieve_already_submitted.to_string(),
        ),
        Err(RetrievalError::Incomplete) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            t.retrieve_incomplete.to_string(),
        ),
        Err(RetrievalError::NotUploading) => {
            (StatusCode::CONFLICT, t.retrieve_not_uploading.to_string())
        }
        Err(e) => return Err(internal(e)),
    };
    let case = retrieval::case(&state, case.id).await.map_err(internal)?;
    let mut p = upload_page(&state, ctx.chrome_at(routes::RETRIEVE_UPLOAD).await?, &case).await?;
    p.error = Some(text);
    super::refused(status, &p, None)
}

// ── step 6: completion ──────────────────────────────────────────────────

#[derive(Template)]
#[template(path = "account/retrieve_complete.html")]
struct CompletePage {
    c: Chrome,
    number: String,
    min_length: usize,
    rules: Vec<PasswordRuleLine>,
    error: Option<String>,
    done: bool,
}

pub async fn complete_show(
    State(state): State<AppState>,
    ctx: PageCtx,
    Query(q): Query<DoneQuery>,
) -> Result<Response, PageError> {
    render(&CompletePage {
        c: ctx.chrome().await?,
        number: String::new(),
        min_length: state.policy.min_length(),
        rules: password_rules(ctx.t(), &state.policy),
        error: None,
        done: q.done.as_deref() == Some("1"),
    })
}

#[derive(Deserialize)]
pub struct CompleteForm {
    #[serde(default)]
    number: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    new: String,
    #[serde(default)]
    repeat: String,
}

pub async fn complete(
    State(state): State<AppState>,
    ctx: PageCtx,
    CsrfForm(form, _): CsrfForm<CompleteForm>,
) -> Result<Response, PageError> {
    let t = ctx.t();
    let result = retrieval::complete(
        &state,
        &form.number,
        &form.code,
        &form.new,
        &form.repeat,
        &ctx.origin,
    )
    .await;
    let (status, text, wait): (StatusCode, String, Option<Duration>) = match result {
        Ok(_) => {
            return Ok(
                Redirect::to(&format!("{}?done=1", routes::RETRIEVE_COMPLETE)).into_response(),
            );
        }
        Err(CompleteError::NotFound) => (
            StatusCode::NOT_FOUND,
            t.retrieve_complete_not_found.into(),
            None,
        ),
        Err(CompleteError::WrongCode(left)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            (t.step_up_wrong)(u32::try_from(left).unwrap_or(0)),
            None,
        ),
        Err(CompleteError::Expired) => (StatusCode::GONE, t.retrieve_code_expired.into(), None),
        Err(CompleteError::TooManyTries) => {
            (StatusCode::GONE, t.retrieve_code_used_up.into(), None)
        }
        Err(CompleteError::Mismatch) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            t.password_mismatch.into(),
            None,
        ),
        Err(CompleteError::PasswordMissing) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            t.retrieve_err_required.into(),
            None,
        ),
        Err(CompleteError::Weak(explain)) => (StatusCode::UNPROCESSABLE_ENTITY, explain, None),
        Err(CompleteError::TooMany(wait)) => (
            StatusCode::TOO_MANY_REQUESTS,
            (t.retrieve_too_many)(wait),
            Some(wait),
        ),
        Err(CompleteError::Internal(e)) => return Err(PageError::Internal(e)),
    };
    let p = CompletePage {
        c: ctx.chrome_at(routes::RETRIEVE_COMPLETE).await?,
        number: form.number,
        min_length: state.policy.min_length(),
        rules: password_rules(ctx.t(), &state.policy),
        error: Some(text),
        done: false,
    };
    super::refused(status, &p, wait)
}
