//! The phone-unbind application's pages: 我的解绑申请
//! (`/account/phone/unbind`), the form (`…/new`), 修改 and 删除 of an
//! application, its documents for the applicant, and the cancel link of
//! the notices (`/unbind/cancel/{id}`).
//!
//! A signed-in person reaches them as usual. A person whose password was
//! right but whose phone cannot receive the step-up code presses
//! 申请解绑手机号 on the step-up page, and the session turns into the
//! restricted "phone unreachable" state ([`Applicant::restricted`]):
//! these pages and sign-out are all it opens.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{FromRequest, FromRequestParts, Multipart, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use uuid::Uuid;

use crate::domain::PhoneNumber;
use crate::error::PageError;
use crate::extract::{ClientOrigin, CsrfForm};
use crate::i18n::Text;
use crate::pages::{Chrome, PageCtx, render, render_status};
use crate::routes;
use crate::service::documents;
use crate::service::review::{self, ReviewError};
use crate::service::unbind::{self, Entered, Field, Problem, Reason, UnbindData, UnbindError};
use crate::session::{Flash, WebSession};
use crate::state::AppState;
use crate::store::review::{Case, CaseState};
use crate::store::users::User;

/// Who may use the unbind pages: a signed-in person, or a session in the
/// restricted "phone unreachable" state. Anyone else goes to the login
/// page.
pub struct Applicant {
    pub user: User,
    /// The password was verified, the phone was not.
    pub restricted: bool,
    pub session: WebSession,
}

impl FromRequestParts<AppState> for Applicant {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let session = WebSession::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        if let Some((user, _)) = session
            .current_user(state)
            .await
            .map_err(IntoResponse::into_response)?
        {
            // Signed in: the pages have the signed-in top bar.
            if let Some(frame) = parts.extensions.get::<crate::frame::Frame>() {
                frame.signed_in_as(&user.username);
            }
            return Ok(Applicant {
                user,
                restricted: false,
                session,
            });
        }
        match session
            .phone_unreachable(state)
            .await
            .map_err(IntoResponse::into_response)?
        {
            Some(user) => Ok(Applicant {
                user,
                restricted: true,
                session,
            }),
            None => Err(crate::extract::to_login(parts)),
        }
    }
}

/// The step-up page's 申请解绑手机号: the pending sign-in becomes the
/// restricted state, and the form opens.
pub async fn enter(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    CsrfForm(_, session): CsrfForm<EmptyForm>,
) -> Result<Response, PageError> {
    if let Some((user, _)) = session.step_up_owed(&state).await?
        && session.enter_phone_unreachable(&state).await?
    {
        unbind::phone_unreachable(&state, &user, &origin).await?;
        return Ok(Redirect::to(routes::ACCOUNT_PHONE_UNBIND_NEW).into_response());
    }
    // No sign-in waiting for its code (it ran out): the login page.
    Ok(Redirect::to(routes::LOGIN).into_response())
}

#[derive(Deserialize)]
pub struct EmptyForm {}

/// The `{id}` of an application's URL; anything that is not an id (a
/// link cut short by an SMS app, say) is the page-not-found page.
pub struct CaseId(pub Uuid);

impl FromRequestParts<AppState> for CaseId {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| PageError::NotFound)?;
        Uuid::parse_str(&raw)
            .map(CaseId)
            .map_err(|_| PageError::NotFound)
    }
}

// ── my applications ──────────────────────────────────────────────────────

/// One application as its applicant sees it.
struct Row {
    id: Uuid,
    number: usize,
    state: String,
    reason: String,
    note: Option<String>,
    phones: String,
    organization: String,
    contact: Option<String>,
    applicant_note: Option<String>,
    /// Thumbnails: links to the documents of the current revision (none
    /// in the restricted state, which sees only how many there are).
    documents: Vec<String>,
    document_count: usize,
    changeable: bool,
    version: i64,
    /// Approved: when it takes effect.
    effective_at: Option<String>,
    awaiting: bool,
}

#[derive(Template)]
#[template(path = "account/unbind_list.html")]
struct ListPage {
    c: Chrome,
    restricted: bool,
    rows: Vec<Row>,
    can_apply: bool,
    notice: Option<String>,
}

fn document_url(case: Uuid, revision: i64, slot: i64) -> String {
    routes::ACCOUNT_PHONE_UNBIND_DOCUMENT
        .replace("{id}", &case.to_string())
        .replace("{revision}", &revision.to_string())
        .replace("{slot}", &slot.to_string())
}

fn id_url(route: &str, id: Uuid) -> String {
    route.replace("{id}", &id.to_string())
}

async fn row(
    state: &AppState,
    t: &Text,
    number: usize,
    case: &Case,
    show_documents: bool,
) -> Result<Row, PageError> {
    let data = UnbindData::of(case).map_err(PageError::Internal)?;
    let stored: Vec<_> = state
        .store
        .case_documents(case.id, case.revision)
        .await?
        .into_iter()
        .filter(|d| d.purged_at.is_none())
        .collect();
    let document_count = stored.len();
    let documents = if show_documents {
        stored
            .into_iter()
            .map(|d| document_url(case.id, d.revision, d.slot))
            .collect()
    } else {
        Vec::new()
    };
    Ok(Row {
        id: case.id,
        number,
        state: (t.unbind_state)(case.state.as_str()),
        reason: (t.unbind_reason_label)(data.reason.as_str()),
        phones: data.masked().join(", "),
        note: data.note,
        organization: data.organization,
        contact: case.contact_phone.as_deref().map(PhoneNumber::masked),
        applicant_note: case.applicant_note.clone(),
        documents,
        document_count,
        changeable: matches!(
            case.state,
            CaseState::Submitted | CaseState::Rejected | CaseState::Edited
        ),
        version: case.version,
        effective_at: (case.state == CaseState::Approved)
            .then_some(case.effective_at)
            .flatten()
            .map(|at| t.at(at, &state.time_zone)),
        awaiting: case.state == CaseState::AwaitingRebind,
    })
}

async fn list_page(
    state: &AppState,
    ctx: &PageCtx,
    applicant: &Applicant,
    notice: Option<String>,
) -> Result<ListPage, PageError> {
    let t = ctx.t();
    let cases = unbind::cases(state, &applicant.user).await?;
    let total = cases.len();
    let mut rows = Vec::with_capacity(total);
    for (i, case) in cases.iter().enumerate() {
        rows.push(row(state, t, total - i, case, !applicant.restricted).await?);
    }
    let can_apply = !cases.iter().any(|c| c.state.is_open()) && has_phone(&applicant.user);
    Ok(ListPage {
        c: ctx.chrome_at(routes::ACCOUNT_PHONE_UNBIND).await?,
        restricted: applicant.restricted,
        rows,
        can_apply,
        notice,
    })
}

fn has_phone(user: &User) -> bool {
    user.login_phone.is_some() || user.security_phone.is_some()
}

pub async fn list(
    State(state): State<AppState>,
    ctx: PageCtx,
    applicant: Applicant,
) -> Result<Response, PageError> {
    let t = ctx.t();
    let notice = if applicant.session.take_flash(Flash::UnbindSubmitted).await? {
        Some(t.unbind_submitted.to_string())
    } else if applicant.session.take_flash(Flash::UnbindWithdrawn).await? {
        Some(t.unbind_withdrawn.to_string())
    } else {
        None
    };
    render(&list_page(&state, &ctx, &applicant, notice).await?)
}

// ── the form ─────────────────────────────────────────────────────────────

#[derive(Template)]
#[template(path = "account/unbind_form.html")]
struct FormPage {
    c: Chrome,
    restricted: bool,
    /// Where the form posts (new, or an application's edit).
    action: String,
    login_phone: Option<String>,
    security_phone: Option<String>,
    reasons: Vec<(&'static str, String)>,
    entered: Entered,
    /// Messages by field name.
    errors: HashMap<&'static str, String>,
    general: Option<String>,
    retention_days: u32,
    max_note: usize,
    /// The version of the application being edited.
    version: Option<i64>,
}

impl FormPage {
    fn error(&self, field: &str) -> Option<&String> {
        self.errors.get(field)
    }
}

fn form_page(
    state: &AppState,
    c: Chrome,
    applicant: &Applicant,
    action: String,
    entered: Entered,
) -> FormPage {
    let t = c.t;
    FormPage {
        restricted: applicant.restricted,
        action,
        login_phone: applicant
            .user
            .login_phone
            .as_deref()
            .map(PhoneNumber::masked),
        security_phone: applicant
            .user
            .security_phone
            .as_deref()
            .map(PhoneNumber::masked),
        reasons: Reason::ALL
            .into_iter()
            .map(|r| (r.as_str(), (t.unbind_reason_label)(r.as_str())))
            .collect(),
        entered,
        errors: HashMap::new(),
        general: None,
        retention_days: state.config.review.retention_days,
        max_note: unbind::MAX_NOTE_CHARS,
        version: None,
        c,
    }
}

fn fresh_entry() -> Entered {
    Entered {
        country_code: "+86".into(),
        ..Entered::default()
    }
}

pub async fn form(
    State(state): State<AppState>,
    ctx: PageCtx,
    applicant: Applicant,
) -> Result<Response, PageError> {
    if !has_phone(&applicant.user) {
        return Ok(Redirect::to(routes::ACCOUNT_PHONE_UNBIND).into_response());
    }
    if unbind::open_case(&state, &applicant.user).await?.is_some() {
        return Ok(Redirect::to(routes::ACCOUNT_PHONE_UNBIND).into_response());
    }
    let c = ctx.chrome().await?;
    let p = form_page(
        &state,
        c,
        &applicant,
        routes::ACCOUNT_PHONE_UNBIND_NEW.into(),
        fresh_entry(),
    );
    render(&p)
}

/// A multipart form (the application with its files) whose `csrf` field
/// matched the session's token. Text fields must be UTF-8 without NUL;
/// the files are the non-empty `documents` parts, as received.
pub struct UploadForm {
    fields: HashMap<String, String>,
    files: Vec<Vec<u8>>,
}

impl UploadForm {
    fn text(&self, name: &str) -> String {
        self.fields.get(name).cloned().unwrap_or_default()
    }

    fn ticked(&self, name: &str) -> bool {
        self.fields.get(name).is_some_and(|v| !v.is_empty())
    }

    fn entered(&self) -> Entered {
        Entered {
            reason: self.text("reason"),
            note: self.text("note"),
            login: self.ticked("unbind_login"),
            security: self.ticked("unbind_security"),
            organization: self.text("organization"),
            country_code: self.text("country_code"),
            number: self.text("number"),
            consent: self.ticked("consent"),
        }
    }
}

/// Longest text field accepted in the multipart form.
const MAX_TEXT_FIELD: usize = 8 * 1024;
/// Most parts: the form's fields and a few files.
const MAX_PARTS: usize = 32;

impl FromRequest<AppState> for UploadForm {
    type Rejection = PageError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let session = WebSession::from_request_parts(&mut parts, state).await?;
        let req = Request::from_parts(parts, body);
        let mut multipart = Multipart::from_request(req, state)
            .await
            .map_err(|_| PageError::BadRequest)?;
        let mut fields = HashMap::new();
        let mut files = Vec::new();
        let mut count = 0;
        let read_error = |e: axum::extract::multipart::MultipartError| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                PageError::UploadTooLarge {
                    mib: state.config.review.max_document_bytes.div_ceil(1024 * 1024),
                }
            } else {
                PageError::BadRequest
            }
        };
        while let Some(field) = multipart.next_field().await.map_err(read_error)? {
            count += 1;
            if count > MAX_PARTS {
                return Err(PageError::BadRequest);
            }
            let name = field.name().unwrap_or_default().to_string();
            let is_file = field.file_name().is_some();
            let bytes = field.bytes().await.map_err(read_error)?;
            if name == "documents" && is_file {
                // A file input left empty still sends an empty part.
                if !bytes.is_empty() {
                    files.push(bytes.to_vec());
                }
                continue;
            }
            if bytes.len() > MAX_TEXT_FIELD {
                return Err(PageError::InvalidField(name));
            }
            let text = match String::from_utf8(bytes.to_vec()) {
                Ok(t) if !t.contains('\0') => t,
                _ => return Err(PageError::InvalidField(name)),
            };
            fields.insert(name, text);
        }
        let csrf = fields.get("csrf").map(String::as_str).unwrap_or_default();
        session.check_csrf(csrf).await?;
        Ok(UploadForm { fields, files })
    }
}

fn problem_text(t: &Text, p: &Problem) -> String {
    match p {
        Problem::ReasonMissing => t.unbind_err_reason.into(),
        Problem::NoteRequired => t.unbind_err_note_required.into(),
        Problem::NoteTooLong => (t.unbind_err_note_too_long)(unbind::MAX_NOTE_CHARS),
        Problem::PhonesNone => t.unbind_err_phones_none.into(),
        Problem::PhoneNotBound => t.unbind_err_phone_not_bound.into(),
        Problem::Documents(d) => documents::text(d, t),
        Problem::OrganizationMissing => t.unbind_err_org_missing.into(),
        Problem::OrganizationTooLong => (t.unbind_err_org_too_long)(unbind::MAX_ORGANIZATION_CHARS),
        Problem::ContactPhone(e) => t.phone_error(*e).to_string(),
        Problem::PasswordMissing => t.unbind_err_password_missing.into(),
        Problem::PasswordWrong => t.unbind_err_password_wrong.into(),
        Problem::ConsentMissing => t.unbind_err_consent.into(),
    }
}

/// The form drawn again after a refusal, with what was typed (not the
/// password, not the files) and a message per field.
async fn refused_form(
    state: &AppState,
    ctx: &PageCtx,
    applicant: &Applicant,
    action: String,
    entered: Entered,
    e: UnbindError,
) -> Result<Response, PageError> {
    let t = ctx.t();
    let c = ctx.chrome_at(&action).await?;
    let mut p = form_page(state, c, applicant, action, entered);
    let (status, retry) = match e {
        UnbindError::Fields(problems) => {
            for (field, problem) in &problems {
                p.errors
                    .entry(field.name())
                    .or_insert_with(|| problem_text(t, problem));
            }
            p.general = Some(t.unbind_form_errors.into());
            (StatusCode::UNPROCESSABLE_ENTITY, None)
        }
        UnbindError::TooMany(wait) => {
            p.general = Some((t.unbind_too_many)(wait));
            (StatusCode::TOO_MANY_REQUESTS, Some(wait))
        }
        UnbindError::NoPhones => {
            p.general = Some(t.unbind_no_phones.into());
            (StatusCode::CONFLICT, None)
        }
        UnbindError::Review(ReviewError::OpenCaseExists) => {
            p.general = Some(t.unbind_open_exists.into());
            (StatusCode::CONFLICT, None)
        }
        UnbindError::Review(
            r @ (ReviewError::Stale | ReviewError::NotAllowed { .. } | ReviewError::NotFound),
        ) => {
            p.general = Some(r.text(t));
            (StatusCode::CONFLICT, None)
        }
        UnbindError::Login(crate::service::login::LoginError::Locked(wait)) => {
            p.errors
                .insert(Field::Password.name(), (t.login_locked)(wait));
            p.general = Some(t.unbind_form_errors.into());
            (StatusCode::TOO_MANY_REQUESTS, Some(wait))
        }
        UnbindError::Login(crate::service::login::LoginError::Hash(h)) => return Err(h.into()),
        UnbindError::Ephemeral(e) => return Err(e.into()),
        UnbindError::Store(e) => return Err(e.into()),
        other => return Err(PageError::Internal(other.to_string())),
    };
    super::refused(status, &p, retry)
}

/// The answer to a submitted form: my applications with a notice, or the
/// form again with what was wrong.
async fn answer(
    state: &AppState,
    ctx: &PageCtx,
    applicant: &Applicant,
    action: String,
    entered: Entered,
    result: Result<Case, UnbindError>,
) -> Result<Response, PageError> {
    match result {
        Ok(_) => {
            applicant.session.flash(Flash::UnbindSubmitted).await?;
            Ok(Redirect::to(routes::ACCOUNT_PHONE_UNBIND).into_response())
        }
        Err(e) => refused_form(state, ctx, applicant, action, entered, e).await,
    }
}

pub async fn submit(
    State(state): State<AppState>,
    ctx: PageCtx,
    applicant: Applicant,
    ClientOrigin(origin): ClientOrigin,
    form: UploadForm,
) -> Result<Response, PageError> {
    let entered = form.entered();
    let password = form.text("password");
    let action = routes::ACCOUNT_PHONE_UNBIND_NEW.to_string();
    let result = unbind::apply(
        &state,
        &applicant.user,
        &entered,
        password,
        form.files,
        &origin,
        ctx.lang,
    )
    .await;
    answer(&state, &ctx, &applicant, action, entered, result).await
}

/// The upload pages' answer to a body over their limit: the error page
/// in the person's language, saying how large an image may be (not the
/// bare 413 of the limit layer).
pub async fn too_large_as_page(
    State(max_document_bytes): State<usize>,
    req: Request,
    next: axum::middleware::Next,
) -> Response {
    let response = next.run(req).await;
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE
        && response
            .extensions()
            .get::<crate::error::ErrorPage>()
            .is_none()
    {
        return PageError::UploadTooLarge {
            mib: max_document_bytes.div_ceil(1024 * 1024),
        }
        .into_response();
    }
    response
}

// ── 修改 and 删除 ────────────────────────────────────────────────────────

fn entered_of(case: &Case) -> Result<Entered, PageError> {
    let data = UnbindData::of(case).map_err(PageError::Internal)?;
    let (country_code, number) = case
        .contact_phone
        .as_deref()
        .and_then(PhoneNumber::stored)
        .map(|p| (format!("+{}", p.country_code()), p.national().to_string()))
        .unwrap_or_else(|| ("+86".into(), String::new()));
    Ok(Entered {
        reason: data.reason.as_str().into(),
        note: data.note.unwrap_or_default(),
        login: data.login_phone.is_some(),
        security: data.security_phone.is_some(),
        organization: data.organization,
        country_code,
        number,
        consent: false,
    })
}

async fn own_case(state: &AppState, applicant: &Applicant, id: Uuid) -> Result<Case, PageError> {
    match review::case_for_applicant(state, &applicant.user, id).await {
        Ok(c) if c.kind == crate::store::review::CaseKind::PhoneUnbind => Ok(c),
        Ok(_) | Err(ReviewError::NotFound) => Err(PageError::NotFound),
        Err(e) => Err(PageError::Internal(e.to_string())),
    }
}

pub async fn edit_form(
    State(state): State<AppState>,
    ctx: PageCtx,
    applicant: Applicant,
    CaseId(id): CaseId,
) -> Result<Response, PageError> {
    let case = own_case(&state, &applicant, id).await?;
    if !matches!(
        case.state,
        CaseState::Submitted | CaseState::Rejected | CaseState::Edited
    ) {
        return Ok(Redirect::to(routes::ACCOUNT_PHONE_UNBIND).into_response());
    }
    let c = ctx.chrome().await?;
    let mut p = form_page(
        &state,
        c,
        &applicant,
        id_url(routes::ACCOUNT_PHONE_UNBIND_EDIT, id),
        entered_of(&case)?,
    );
    p.general = case.applicant_note.clone();
    p.version = Some(case.version);
    render(&p)
}

pub async fn edit(
    State(state): State<AppState>,
    ctx: PageCtx,
    applicant: Applicant,
    ClientOrigin(origin): ClientOrigin,
    CaseId(id): CaseId,
    form: UploadForm,
) -> Result<Response, PageError> {
    own_case(&state, &applicant, id).await?;
    let entered = form.entered();
    let password = form.text("password");
    let action = id_url(routes::ACCOUNT_PHONE_UNBIND_EDIT, id);
    // A missing or mangled version counts as stale, never as "the latest".
    let version = form.text("version").parse::<i64>().unwrap_or(-1);
    let result = unbind::revise(
        &state,
        &applicant.user,
        id,
        version,
        &entered,
        password,
        form.files,
        &origin,
        ctx.lang,
    )
    .await;
    answer(&state, &ctx, &applicant, action, entered, result).await
}

#[derive(Deserialize)]
pub struct VersionForm {
    #[serde(default)]
    version: i64,
}

pub async fn withdraw(
    State(state): State<AppState>,
    ctx: PageCtx,
    applicant: Applicant,
    ClientOrigin(origin): ClientOrigin,
    CaseId(id): CaseId,
    CsrfForm(form, session): CsrfForm<VersionForm>,
) -> Result<Response, PageError> {
    own_case(&state, &applicant, id).await?;
    match unbind::withdraw(&state, &applicant.user, id, form.version, &origin).await {
        Ok(_) => {
            session.flash(Flash::UnbindWithdrawn).await?;
            Ok(Redirect::to(routes::ACCOUNT_PHONE_UNBIND).into_response())
        }
        Err(UnbindError::Review(r @ (ReviewError::Stale | ReviewError::NotAllowed { .. }))) => {
            let p = list_page(&state, &ctx, &applicant, None).await?;
            let mut p = p;
            p.notice = Some(r.text(ctx.t()));
            render_status(StatusCode::CONFLICT, &p)
        }
        Err(e) => Err(PageError::Internal(e.to_string())),
    }
}

#[derive(Deserialize)]
pub struct DocumentPath {
    id: String,
    revision: String,
    slot: String,
}

/// A document of one's own application (the thumbnails of the list).
pub async fn document(
    State(state): State<AppState>,
    applicant: Applicant,
    ClientOrigin(origin): ClientOrigin,
    Path(p): Path<DocumentPath>,
) -> Result<Response, PageError> {
    let (Ok(id), Ok(revision), Ok(slot)) = (
        Uuid::parse_str(&p.id),
        p.revision.parse::<i64>(),
        p.slot.parse::<i64>(),
    ) else {
        return Err(PageError::NotFound);
    };
    // Someone who knows only the password does not get to see the
    // owner's identity documents: the restricted state sees none.
    if applicant.restricted {
        return Err(PageError::NotFound);
    }
    own_case(&state, &applicant, id).await?;
    match review::document(&state, &applicant.user, id, revision, slot, &origin).await {
        Ok(jpeg) => Ok((
            [
                (header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg")),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
            jpeg,
        )
            .into_response()),
        Err(ReviewError::NotFound | ReviewError::Document(documents::DocumentError::Purged)) => {
            Err(PageError::NotFound)
        }
        Err(e) => Err(PageError::Internal(e.to_string())),
    }
}

// ── the cancel link ──────────────────────────────────────────────────────

#[derive(Template)]
#[template(path = "account/unbind_cancel.html")]
struct CancelPage {
    c: Chrome,
    /// The form, while there is something to cancel.
    form: Option<(String, String)>,
    phones: String,
    message: Option<String>,
}

#[derive(Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
}

/// The link shows what it cancels and a button (a mail scanner that
/// follows links must not cancel anything).
pub async fn cancel_show(
    State(state): State<AppState>,
    ctx: PageCtx,
    CaseId(id): CaseId,
    Query(q): Query<TokenQuery>,
) -> Result<Response, PageError> {
    let t = ctx.t();
    let case = unbind::case_for_cancel_link(&state, id, &q.token)
        .await
        .map_err(|e| PageError::Internal(e.to_string()))?;
    let c = ctx.chrome().await?;
    let Some(case) = case else {
        let p = CancelPage {
            c,
            form: None,
            phones: String::new(),
            message: Some(t.unbind_cancel_invalid.into()),
        };
        return render_status(StatusCode::NOT_FOUND, &p);
    };
    let data = UnbindData::of(&case).map_err(PageError::Internal)?;
    let open = case.state.is_open();
    render(&CancelPage {
        c,
        form: open.then(|| (id_url(routes::UNBIND_CANCEL, id), q.token.clone())),
        phones: data.masked().join(", "),
        message: (!open).then(|| t.unbind_cancel_closed.to_string()),
    })
}

#[derive(Deserialize)]
pub struct CancelForm {
    #[serde(default)]
    token: String,
}

pub async fn cancel(
    State(state): State<AppState>,
    ctx: PageCtx,
    ClientOrigin(origin): ClientOrigin,
    CaseId(id): CaseId,
    CsrfForm(form, _): CsrfForm<CancelForm>,
) -> Result<Response, PageError> {
    let t = ctx.t();
    let result = unbind::cancel_by_link(&state, id, &form.token, &origin).await;
    let c = ctx.chrome().await?;
    let (status, message, phones) = match result {
        Ok(Some(case)) => {
            let phones = UnbindData::of(&case)
                .map(|d| d.masked().join(", "))
                .unwrap_or_default();
            if case.state == CaseState::Cancelled {
                (StatusCode::OK, t.unbind_cancelled, phones)
            } else {
                (StatusCode::CONFLICT, t.unbind_cancel_closed, phones)
            }
        }
        Ok(None) => (
            StatusCode::NOT_FOUND,
            t.unbind_cancel_invalid,
            String::new(),
        ),
        Err(UnbindError::Review(ReviewError::Stale | ReviewError::NotAllowed { .. })) => {
            (StatusCode::CONFLICT, t.unbind_cancel_closed, String::new())
        }
        Err(UnbindError::Store(e)) => return Err(e.into()),
        Err(e) => return Err(PageError::Internal(e.to_string())),
    };
    render_status(
        status,
        &CancelPage {
            c,
            form: None,
            phones,
            message: Some(message.to_string()),
        },
    )
}
