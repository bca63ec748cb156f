//! `/recover/...`: the forgotten-password pages. The flow and its
//! enumeration safety are described in [`crate::service::recovery`]; this
//! module keeps the recovery in the browser session and draws the steps.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::domain::SecretPassword;
use crate::error::PageError;
use crate::extract::CsrfForm;
use crate::pages::{Chrome, PageCtx, PasswordRuleLine, password_rules, render_status};
use crate::ports::captcha::CaptchaError;
use crate::routes;
use crate::service::recovery::{self, LinkSendError, Proof, Recovery, ResetError, StartError};
use crate::session::Flash;
use crate::state::AppState;
use crate::urls::local_url;

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
    rules: Vec<PasswordRuleLine>,
    /// Seconds the send button stays disabled.
    wait: u64,
}

impl RecoverPage {
    /// The page of `step`, drawn in answer to a GET of its own URL.
    async fn new(state: &AppState, ctx: &PageCtx, step: Step) -> Result<Self, PageError> {
        Self::with_chrome(state, ctx, ctx.chrome().await?, step).await
    }

    /// The page of `step`, drawn in answer to a refused form: its language
    /// switch leads to the step's own GET URL.
    async fn refused(
        state: &AppState,
        ctx: &PageCtx,
        step: Step,
        page: &str,
        error: impl Into<String>,
    ) -> Result<Self, PageError> {
        Ok(
            Self::with_chrome(state, ctx, ctx.chrome_at(page).await?, step)
                .await?
                .error(error),
        )
    }

    async fn with_chrome(
        state: &AppState,
        ctx: &PageCtx,
        c: Chrome,
        step: Step,
    ) -> Result<Self, PageError> {
        let (captcha_id, captcha_image) = if step == Step::Start {
            let ch = match state.captcha.challenge(ctx.origin.ip.as_deref()).await {
                Ok(ch) => ch,
                Err(CaptchaError::TooMany(retry_after)) => {
                    return Err(PageError::TooMany { retry_after });
                }
                Err(e) => return Err(PageError::Internal(e.to_string())),
            };
            (ch.id, ch.image)
        } else {
            (String::new(), None)
        };
        Ok(Self {
            c,
            step,
            notice: None,
            errors: Vec::new(),
            identifier: String::new(),
            captcha_id,
            captcha_image,
            token: String::new(),
            min_length: state.policy.min_length(),
            rules: password_rules(ctx.t(), &state.policy),
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
    CsrfForm(form, session): CsrfForm<StartForm>,
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
            session.advance_recovery(&r).await?;
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
    let mut page =
        RecoverPage::refused(&state, &ctx, Step::Start, routes::RECOVER, message).await?;
    page.identifier = form.identifier.trim().chars().take(100).collect();
    render_status(status, &page)
}

/// A step of a live recovery, or back to the start.
async fn show_step(state: &AppState, ctx: &PageCtx, step: Step) -> Result<Response, PageError> {
    if ctx.session.recovery().await?.is_none() {
        return Ok(restart());
    }
    render_status(StatusCode::OK, &RecoverPage::new(state, ctx, step).await?)
}

pub async fn method(State(state): State<AppState>, ctx: PageCtx) -> Result<Response, PageError> {
    show_step(&state, &ctx, Step::Method).await
}

#[derive(Deserialize)]
pub struct EmptyForm {}

/// Sends a code and goes to the code page (post-redirect-get); a refusal
/// is drawn on the code page with its status and the server's wait.
pub async fn send_code(
    State(state): State<AppState>,
    ctx: PageCtx,
    CsrfForm(_, session): CsrfForm<EmptyForm>,
) -> Result<Response, PageError> {
    let Some(r) = session.recovery().await? else {
        return Ok(restart());
    };
    let e = match recovery::send_code(&state, &r, &ctx.origin, ctx.lang).await {
        Ok(()) => {
            session.flash(Flash::RecoveryCodeSent).await?;
            return Ok(Redirect::to(routes::RECOVER_SMS).into_response());
        }
        Err(e) => e,
    };
    let (status, message, retry) = super::send_refusal(ctx.t(), e)?;
    let mut page =
        RecoverPage::refused(&state, &ctx, Step::Code, routes::RECOVER_SMS, message).await?;
    page.wait = wait_secs(&state, &r).await?;
    super::refused(status, &page, retry)
}

/// The countdown of the send button: the wait the server enforces now.
async fn wait_secs(state: &AppState, r: &Recovery) -> Result<u64, PageError> {
    Ok(super::countdown_secs(
        recovery::resend_wait(state, r).await?,
    ))
}

pub async fn code(State(state): State<AppState>, ctx: PageCtx) -> Result<Response, PageError> {
    let Some(r) = ctx.session.recovery().await? else {
        return Ok(restart());
    };
    let mut page = RecoverPage::new(&state, &ctx, Step::Code).await?;
    if ctx.session.take_flash(Flash::RecoveryCodeSent).await? {
        page = page.notice(ctx.t().recover_code_sent);
    }
    page.wait = wait_secs(&state, &r).await?;
    render_status(StatusCode::OK, &page)
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
}

pub async fn verify_code(
    State(state): State<AppState>,
    ctx: PageCtx,
    CsrfForm(form, session): CsrfForm<CodeForm>,
) -> Result<Response, PageError> {
    let Some(mut r) = session.recovery().await? else {
        return Ok(restart());
    };
    let error = match recovery::verify_code(&state, &mut r, &form.code, &ctx.origin).await {
        Ok(()) => {
            session.advance_recovery(&r).await?;
            return Ok(Redirect::to(routes::RECOVER_PASSWORD).into_response());
        }
        Err(e) => super::verify_refusal(ctx.t(), e)?,
    };
    let mut page =
        RecoverPage::refused(&state, &ctx, Step::Code, routes::RECOVER_SMS, error).await?;
    page.wait = wait_secs(&state, &r).await?;
    render_status(StatusCode::UNPROCESSABLE_ENTITY, &page)
}

/// Mails a link and shows that it went (post-redirect-get); a refusal is
/// drawn on the page of the ways.
pub async fn send_link(
    State(state): State<AppState>,
    ctx: PageCtx,
    CsrfForm(_, session): CsrfForm<EmptyForm>,
) -> Result<Response, PageError> {
    let Some(r) = session.recovery().await? else {
        return Ok(restart());
    };
    let t = ctx.t();
    let (message, retry) = match recovery::send_link(&state, &r, &ctx.origin, ctx.lang).await {
        Ok(()) => {
            session.flash(Flash::RecoveryMailSent).await?;
            return Ok(Redirect::to(routes::RECOVER_EMAIL).into_response());
        }
        Err(LinkSendError::TooSoon(w)) => ((t.step_up_wait)(w), Some(w)),
        Err(LinkSendError::DailyLimit) => (t.recover_mail_limit.to_string(), None),
        Err(LinkSendError::Internal(e)) => return Err(PageError::Internal(e)),
    };
    super::refused(
        StatusCode::TOO_MANY_REQUESTS,
        &RecoverPage::refused(&state, &ctx, Step::Method, routes::RECOVER_METHOD, message).await?,
        retry,
    )
}

/// "If the account has a verified security e-mail, a link was sent."
pub async fn mail_sent(State(state): State<AppState>, ctx: PageCtx) -> Result<Response, PageError> {
    if ctx.session.recovery().await?.is_none() {
        return Ok(restart());
    }
    let t = ctx.t();
    let mut page = RecoverPage::new(&state, &ctx, Step::MailSent).await?;
    if ctx.session.flash_is(Flash::RecoveryMailSent).await? {
        page = page.notice((t.recover_mail_sent)(std::time::Duration::from_secs(
            state.config.mail.recovery_link_minutes * 60,
        )));
    }
    render_status(StatusCode::OK, &page)
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
    if !ctx
        .session
        .recovery()
        .await?
        .is_some_and(|r| r.is_verified_at(state.clock.now()))
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
    CsrfForm(form, session): CsrfForm<PasswordForm>,
) -> Result<Response, PageError> {
    let t = ctx.t();
    let r = session.recovery().await?;
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
                session.end_recovery().await?;
                session.flash(Flash::PasswordRecovered).await?;
                return Ok(Redirect::to(routes::RECOVER_DONE).into_response());
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
    // A link's form comes back to the link (the token is in the form, not
    // in the session); a proved code's to the password step.
    let page_url = if form.token.is_empty() {
        routes::RECOVER_PASSWORD.to_string()
    } else {
        local_url(routes::RECOVER_LINK, &[("token", &form.token)])
    };
    let mut page = RecoverPage::with_chrome(
        &state,
        &ctx,
        ctx.chrome_at(&page_url).await?,
        Step::Password,
    )
    .await?;
    page.errors = errors;
    page.token = form.token;
    render_status(StatusCode::UNPROCESSABLE_ENTITY, &page)
}

/// The end of a recovery: the password is set. Shown after the reset, on a
/// reload and in the other language too; a browser that reset nothing is
/// sent to the login page.
pub async fn done(State(state): State<AppState>, ctx: PageCtx) -> Result<Response, PageError> {
    if !ctx.session.flash_is(Flash::PasswordRecovered).await? {
        return Ok(Redirect::to(routes::LOGIN).into_response());
    }
    render_status(
        StatusCode::OK,
        &RecoverPage::new(&state, &ctx, Step::Done)
            .await?
            .notice(ctx.t().recover_done),
    )
}
