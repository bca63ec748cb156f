//! `/recover/...`: the forgotten-password pages. The flow and its
//! enumeration safety are described in [`crate::service::recovery`]; this
//! module keeps the recovery in the browser session and draws the steps.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower_sessions::Session;

use crate::domain::SecretPassword;
use crate::error::PageError;
use crate::pages::{Chrome, PageCtx, render_status};
use crate::routes;
use crate::service::recovery::{self, LinkSendError, Proof, Recovery, ResetError, StartError};
use crate::state::AppState;

const RECOVERY_KEY: &str = "recovery";

/// The step a page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Identifier and captcha.
    Start,
    /// SMS code or e-mail link.
    Method,
    /// The code field (and the resend button).
    Code,
    /// "If the account has a verified security e-mail …".
    MailSent,
    /// The new password.
    Password,
    Done,
    /// The link or the recovery is no longer valid.
    Invalid,
}

#[derive(Template)]
#[template(path = "account/recover.html")]
struct RecoverPage {
    c: Chrome,
    step: Step,
    notice: Option<String>,
    errors: Vec<String>,
    identifier: String,
    captcha_id: String,
    captcha_image: Option<String>,
    /// A recovery link's token (the password step reached by e-mail).
    token: String,
    min_length: usize,
    /// Seconds the send button stays disabled.
    wait: u64,
}

impl RecoverPage {
    async fn new(state: &AppState, ctx: &PageCtx, step: Step) -> Result<Self, PageError> {
        let (captcha_id, captcha_image) = if step == Step::Start {
            let ch = state
                .captcha
                .challenge()
                .await
                .map_err(|e| PageError::Internal(e.to_string()))?;
            (ch.id, ch.image)
        } else {
            (String::new(), None)
        };
        Ok(Self {
            c: ctx.chrome().await?,
            step,
            notice: None,
            errors: Vec::new(),
            identifier: String::new(),
            captcha_id,
            captcha_image,
            token: String::new(),
            min_length: state.policy.min_length(),
            wait: 0,
        })
    }

    fn notice(mut self, text: impl Into<String>) -> Self {
        self.notice = Some(text.into());
        self
    }

    fn error(mut self, text: impl Into<String>) -> Self {
        self.errors.push(text.into());
        self
    }
}

async fn current(session: &Session) -> Result<Option<Recovery>, PageError> {
    Ok(session
        .get::<Recovery>(RECOVERY_KEY)
        .await?
        .filter(Recovery::is_live))
}

fn restart() -> Response {
    Redirect::to(routes::RECOVER).into_response()
}

pub async fn show(State(state): State<AppState>, ctx: PageCtx) -> Result<Response, PageError> {
    render_status(
        StatusCode::OK,
        &RecoverPage::new(&state, &ctx, Step::Start).await?,
    )
}

#[derive(Deserialize)]
pub struct StartForm {
    #[serde(default)]
    identifier: String,
    #[serde(default)]
    captcha_id: String,
    #[serde(default)]
    captcha: String,
}

pub async fn start(
    State(state): State<AppState>,
    ctx: PageCtx,
    crate::extract::CsrfForm(form, session): crate::extract::CsrfForm<StartForm>,
) -> Result<Response, PageError> {
    let t = ctx.t();
    let (status, message) = match recovery::start(
        &state,
        &form.identifier,
        &form.captcha_id,
        &form.captcha,
        &ctx.origin,
    )
    .await
    {
        Ok(r) => {
            // A new session id: a session planted in this browser (say, by
            // a sibling subdomain) must not follow the recovery.
            session.cycle_id().await?;
            session.insert(RECOVERY_KEY, &r).await?;
            return Ok(Redirect::to(routes::RECOVER_METHOD).into_response());
        }
        Err(StartError::Empty) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            t.recover_empty.to_string(),
        ),
        Err(StartError::Captcha) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            t.recover_captcha_wrong.to_string(),
        ),
        Err(StartError::TooMany(wait)) => {
            (StatusCode::TOO_MANY_REQUESTS, (t.recover_too_many)(wait))
        }
        Err(StartError::Internal(e)) => return Err(PageError::Internal(e)),
    };
    let mut page = RecoverPage::new(&state, &ctx, Step::Start)
        .await?
        .error(message);
    page.identifier = form.identifier.trim().chars().take(100).collect();
    render_status(status, &page)
}

/// A step of a live recovery, or back to the start.
async fn show_step(state: &AppState, ctx: &PageCtx, step: Step) -> Result<Response, PageError> {
    if current(&ctx.session).await?.is_none() {
        return Ok(restart());
    }
    render_status(StatusCode::OK, &RecoverPage::new(state, ctx, step).await?)
}

pub async fn method(State(state): State<AppState>, ctx: PageCtx) -> Result<Response, PageError> {
    show_step(&state, &ctx, Step::Method).await
}

#[derive(Deserialize)]
pub struct EmptyForm {}

pub async fn send_code(
    State(state): State<AppState>,
    ctx: PageCtx,
    crate::extract::CsrfForm(_, session): crate::extract::CsrfForm<EmptyForm>,
) -> Result<Response, PageError> {
    let Some(r) = current(&session).await? else {
        return Ok(restart());
    };
    let t = ctx.t();
    let page = RecoverPage::new(&state, &ctx, Step::Code).await?;
    let (status, page) = match recovery::send_code(&state, &r, &ctx.origin, ctx.lang).await {
        Ok(()) => {
            let mut p = page.notice(t.recover_code_sent);
            p.wait = state.config.sms.resend_secs;
            (StatusCode::OK, p)
        }
        Err(e) => {
            let (status, message, wait) = super::send_refusal(t, e)?;
            let mut p = page.error(message);
            p.wait = wait;
            (status, p)
        }
    };
    render_status(status, &page)
}

pub async fn code(State(state): State<AppState>, ctx: PageCtx) -> Result<Response, PageError> {
    show_step(&state, &ctx, Step::Code).await
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
}

pub async fn verify_code(
    State(state): State<AppState>,
    ctx: PageCtx,
    crate::extract::CsrfForm(form, session): crate::extract::CsrfForm<CodeForm>,
) -> Result<Response, PageError> {
    let Some(mut r) = current(&session).await? else {
        return Ok(restart());
    };
    let t = ctx.t();
    let error = match recovery::verify_code(&state, &mut r, &form.code, &ctx.origin).await {
        Ok(()) => {
            session.cycle_id().await?;
            session.insert(RECOVERY_KEY, &r).await?;
            return Ok(Redirect::to(routes::RECOVER_PASSWORD).into_response());
        }
        Err(e) => super::verify_refusal(t, e)?,
    };
    render_status(
        StatusCode::UNPROCESSABLE_ENTITY,
        &RecoverPage::new(&state, &ctx, Step::Code)
            .await?
            .error(error),
    )
}

pub async fn send_link(
    State(state): State<AppState>,
    ctx: PageCtx,
    crate::extract::CsrfForm(_, session): crate::extract::CsrfForm<EmptyForm>,
) -> Result<Response, PageError> {
    let Some(r) = current(&session).await? else {
        return Ok(restart());
    };
    let t = ctx.t();
    let (status, page) = match recovery::send_link(&state, &r, &ctx.origin, ctx.lang).await {
        Ok(()) => (
            StatusCode::OK,
            RecoverPage::new(&state, &ctx, Step::MailSent)
                .await?
                .notice((t.recover_mail_sent)(std::time::Duration::from_secs(
                    state.config.mail.recovery_link_minutes * 60,
                ))),
        ),
        Err(LinkSendError::TooSoon(w)) => (
            StatusCode::TOO_MANY_REQUESTS,
            RecoverPage::new(&state, &ctx, Step::Method)
                .await?
                .error((t.step_up_wait)(w)),
        ),
        Err(LinkSendError::DailyLimit) => (
            StatusCode::TOO_MANY_REQUESTS,
            RecoverPage::new(&state, &ctx, Step::Method)
                .await?
                .error(t.recover_mail_limit),
        ),
        Err(LinkSendError::Internal(e)) => return Err(PageError::Internal(e)),
    };
    render_status(status, &page)
}

#[derive(Deserialize)]
pub struct LinkQuery {
    #[serde(default)]
    token: String,
}

/// The link from the mail: the password form, if the link is still good.
pub async fn open_link(
    State(state): State<AppState>,
    ctx: PageCtx,
    Query(q): Query<LinkQuery>,
) -> Result<Response, PageError> {
    match recovery::check_link(&state, &q.token).await {
        Ok(_) => {
            let mut page = RecoverPage::new(&state, &ctx, Step::Password).await?;
            page.token = q.token;
            render_status(StatusCode::OK, &page)
        }
        Err(ResetError::Invalid) => invalid(&state, &ctx).await,
        Err(e) => Err(PageError::Internal(e.to_string())),
    }
}

async fn invalid(state: &AppState, ctx: &PageCtx) -> Result<Response, PageError> {
    render_status(
        StatusCode::GONE,
        &RecoverPage::new(state, ctx, Step::Invalid)
            .await?
            .error(ctx.t().recover_invalid),
    )
}

pub async fn password(State(state): State<AppState>, ctx: PageCtx) -> Result<Response, PageError> {
    if !current(&ctx.session)
        .await?
        .is_some_and(|r| r.is_verified())
    {
        return Ok(restart());
    }
    render_status(
        StatusCode::OK,
        &RecoverPage::new(&state, &ctx, Step::Password).await?,
    )
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    new: String,
    #[serde(default)]
    repeat: String,
    #[serde(default)]
    token: String,
}

pub async fn reset(
    State(state): State<AppState>,
    ctx: PageCtx,
    crate::extract::CsrfForm(form, session): crate::extract::CsrfForm<PasswordForm>,
) -> Result<Response, PageError> {
    let t = ctx.t();
    let r = current(&session).await?;
    let proof = if !form.token.is_empty() {
        Proof::Link(&form.token)
    } else if let Some(r) = &r {
        Proof::Code(r)
    } else {
        return Ok(restart());
    };
    let errors: Vec<String> = if form.new != form.repeat {
        vec![t.password_mismatch.into()]
    } else {
        match recovery::reset(
            &state,
            proof,
            &SecretPassword::new(form.new),
            &ctx.origin,
            ctx.lang,
        )
        .await
        {
            Ok(_) => {
                session.remove::<Recovery>(RECOVERY_KEY).await?;
                return render_status(
                    StatusCode::OK,
                    &RecoverPage::new(&state, &ctx, Step::Done)
                        .await?
                        .notice(t.recover_done),
                );
            }
            Err(ResetError::Weak(violations)) => violations
                .into_iter()
                .map(|v| t.policy(v, state.policy.min_length()))
                .collect(),
            Err(ResetError::Invalid) => return invalid(&state, &ctx).await,
            Err(ResetError::Hash(e)) => return Err(e.into()),
            Err(ResetError::Internal(e)) => return Err(PageError::Internal(e)),
        }
    };
    let mut page = RecoverPage::new(&state, &ctx, Step::Password).await?;
    page.errors = errors;
    page.token = form.token;
    render_status(StatusCode::UNPROCESSABLE_ENTITY, &page)
}
