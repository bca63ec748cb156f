//! `/account/phone/{login,security}`: change a phone in three steps (a
//! code to the current number, then the new number and its code, done),
//! and `/account/phone/bind`: bind a login phone to an account that has
//! none, before anything else (完善个人实名信息). The flow's rules are in
//! [`crate::service::phone`]; these handlers draw its steps.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::domain::{PhoneKind, PhoneNumber};
use crate::error::PageError;
use crate::extract::{ClientOrigin, CsrfForm, CurrentUser};
use crate::i18n::Text;
use crate::pages::{Chrome, PageCtx, render};
use crate::routes;
use crate::service::codes::{self, Recipient};
use crate::service::phone::{self, BindingOwed, Change, PhoneError};
use crate::session::Flash;
use crate::state::AppState;
use crate::store::users::User;
use crate::urls::{local_url, safe_return_to};

/// The change page of one phone.
pub fn page_url(kind: PhoneKind) -> String {
    Urls::of(kind).page
}

/// The URLs of one kind's page and forms.
struct Urls {
    page: String,
    old_send: String,
    old: String,
    new_send: String,
    new: String,
}

impl Urls {
    fn of(kind: PhoneKind) -> Self {
        let at = |route: &str| route.replace("{kind}", kind.as_str());
        Self {
            page: at(routes::ACCOUNT_PHONE),
            old_send: at(routes::ACCOUNT_PHONE_OLD_SEND),
            old: at(routes::ACCOUNT_PHONE_OLD),
            new_send: at(routes::ACCOUNT_PHONE_NEW_SEND),
            new: at(routes::ACCOUNT_PHONE_NEW),
        }
    }
}

/// What the two number fields held, drawn again after a refusal.
struct Entered {
    country_code: String,
    national: String,
}

impl Default for Entered {
    fn default() -> Self {
        Self {
            country_code: format!("+{}", PhoneNumber::DEFAULT_COUNTRY_CODE),
            national: String::new(),
        }
    }
}

#[derive(Template)]
#[template(path = "account/phone.html")]
struct PhonePage {
    c: Chrome,
    title: &'static str,
    kind_is_login: bool,
    urls: Urls,
    step_old: bool,
    done: bool,
    /// The current number, masked.
    current: Option<String>,
    /// The new number a code went to, masked.
    new: Option<String>,
    country_code: String,
    national: String,
    notice: Option<String>,
    error: Option<String>,
    /// Seconds the send button stays disabled.
    wait: u64,
}

fn kind_of(segment: &str) -> Result<PhoneKind, PageError> {
    PhoneKind::from_segment(segment).ok_or(PageError::NotFound)
}

fn title(t: &Text, kind: PhoneKind, user: &User) -> &'static str {
    match (kind, user.phone(kind)) {
        (PhoneKind::Login, _) => t.phone_title_login,
        (PhoneKind::Security, Some(_)) => t.phone_title_security,
        (PhoneKind::Security, None) => t.phone_title_security_new,
    }
}

/// The change this session may go on with, or where the browser must go
/// first: binding a login phone (none to change), or the SMS step-up (a
/// session that has not proved the phone).
async fn change_for(
    state: &AppState,
    current: &CurrentUser,
    kind: PhoneKind,
) -> Result<Result<Change, Response>, PageError> {
    let user = &current.user;
    if user.login_phone.is_none() {
        return Ok(Err(
            Redirect::to(&bind_url(&Urls::of(kind).page)).into_response()
        ));
    }
    if let Some(go) = step_up_first(current, &Urls::of(kind).page).await? {
        return Ok(Err(go));
    }
    let held = current.session.phone_change().await?;
    let change = Change::resume(held, user, kind, state.clock.now().unix_timestamp());
    current.session.set_phone_change(&change).await?;
    Ok(Ok(change))
}

/// A session that has not proved the phone by SMS proves it first, coming
/// back to `here` (`None`: it has).
async fn step_up_first(current: &CurrentUser, here: &str) -> Result<Option<Response>, PageError> {
    if current.auth.amr.iter().any(|m| m == "sms") {
        return Ok(None);
    }
    current.session.owe_step_up(&current.user, here).await?;
    Ok(Some(Redirect::to(routes::STEP_UP).into_response()))
}

/// The page at the change's step, with everything the server knows.
async fn page(
    state: &AppState,
    c: Chrome,
    user: &User,
    change: &Change,
    entered: Entered,
) -> Result<PhonePage, PageError> {
    let kind = change.kind;
    let step_old = !change.old_proved(state.clock.now().unix_timestamp());
    let new = change.new_number.as_deref().and_then(PhoneNumber::stored);
    // The countdown of the visible send button: to the current number in
    // step 1, to the number a code last went to in step 2.
    let old = user.phone(kind);
    let to = match (step_old, &old, &new) {
        (true, Some(p), _) => Some(Recipient::Phone(p)),
        (false, _, Some(p)) => Some(Recipient::Unproved(p)),
        _ => None,
    };
    let wait = match to {
        Some(to) => codes::resend_wait(state, to).await?,
        None => std::time::Duration::ZERO,
    };
    Ok(PhonePage {
        title: title(c.t, kind, user),
        c,
        kind_is_login: kind == PhoneKind::Login,
        urls: Urls::of(kind),
        step_old,
        done: false,
        current: user.phone(kind).map(|p| PhoneNumber::masked(p.as_str())),
        new: (!step_old)
            .then_some(new)
            .flatten()
            .map(|p| PhoneNumber::masked(p.as_str())),
        country_code: entered.country_code,
        national: entered.national,
        notice: None,
        error: None,
        wait: super::countdown_secs(wait),
    })
}

#[derive(Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

pub async fn show(
    State(state): State<AppState>,
    ctx: PageCtx,
    current: CurrentUser,
    Path(segment): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Result<Response, PageError> {
    let kind = kind_of(&segment)?;
    if q.done.is_some() && ctx.session.flash_is(Flash::PhoneChanged).await? {
        let t = ctx.t();
        return render(&PhonePage {
            c: ctx.chrome().await?,
            title: title(t, kind, &current.user),
            kind_is_login: kind == PhoneKind::Login,
            urls: Urls::of(kind),
            step_old: false,
            done: true,
            current: None,
            new: None,
            country_code: String::new(),
            national: String::new(),
            notice: None,
            error: None,
            wait: 0,
        });
    }
    let change = match change_for(&state, &current, kind).await? {
        Ok(c) => c,
        Err(go) => return Ok(go),
    };
    let mut p = page(
        &state,
        ctx.chrome().await?,
        &current.user,
        &change,
        Entered::default(),
    )
    .await?;
    if ctx.session.take_flash(Flash::PhoneOldCodeSent).await? {
        p.notice = p
            .current
            .as_deref()
            .map(|to| (ctx.t().phone_code_sent_to)(to));
    }
    if ctx.session.take_flash(Flash::PhoneNewCodeSent).await? {
        p.notice = p.new.as_deref().map(|to| (ctx.t().phone_code_sent_to)(to));
    }
    render(&p)
}

/// A refusal of the flow: its status, its message, and a wait to announce.
fn refusal(
    t: &Text,
    e: PhoneError,
) -> Result<(StatusCode, String, Option<std::time::Duration>), PageError> {
    Ok(match e {
        PhoneError::Send(e) => return super::send_refusal(t, e),
        PhoneError::Verify(e) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            super::verify_refusal(t, e)?,
            None,
        ),
        PhoneError::OldNotProved | PhoneError::NoNewNumber => {
            (StatusCode::CONFLICT, t.phone_old_expired.to_string(), None)
        }
        PhoneError::SameNumber => (
            StatusCode::UNPROCESSABLE_ENTITY,
            t.phone_same.to_string(),
            None,
        ),
        PhoneError::Taken => (StatusCode::CONFLICT, t.phone_taken.to_string(), None),
        PhoneError::Changed => (
            StatusCode::CONFLICT,
            t.phone_changed_meanwhile.to_string(),
            None,
        ),
        PhoneError::AccountLimit(w) => (
            StatusCode::TOO_MANY_REQUESTS,
            (t.phone_account_limit)(w),
            Some(w),
        ),
        e @ (PhoneError::StepUpOwed
        | PhoneError::NothingToChange
        | PhoneError::NotNow
        | PhoneError::Store(_)
        | PhoneError::Ephemeral(_)) => return Err(PageError::Internal(e.to_string())),
    })
}

/// The page drawn again after a refused form (its language switch leads
/// to the page itself).
async fn refused_page(
    state: &AppState,
    ctx: &PageCtx,
    current: &CurrentUser,
    kind: PhoneKind,
    entered: Entered,
    e: PhoneError,
) -> Result<Response, PageError> {
    let (session, user) = (&current.session, &current.user);
    // The change as it stands now (a refused step changed nothing, but an
    // expired proof starts over at step 1).
    if matches!(e, PhoneError::NothingToChange) {
        // The phone is gone meanwhile: the page knows where to go now.
        return Ok(Redirect::to(&Urls::of(kind).page).into_response());
    }
    let held = session.phone_change().await?;
    let change = Change::resume(held, user, kind, state.clock.now().unix_timestamp());
    let (status, message, retry) = refusal(ctx.t(), e)?;
    let mut p = page(
        state,
        ctx.chrome_at(&Urls::of(kind).page).await?,
        user,
        &change,
        entered,
    )
    .await?;
    p.error = Some(message);
    super::refused(status, &p, retry)
}

/// GET of a form's address: the page the form belongs to.
pub async fn to_page(Path(segment): Path<String>) -> Result<Response, PageError> {
    Ok(Redirect::to(&Urls::of(kind_of(&segment)?).page).into_response())
}

#[derive(Deserialize)]
pub struct Empty {}

pub async fn send_old(
    State(state): State<AppState>,
    ctx: PageCtx,
    current: CurrentUser,
    Path(segment): Path<String>,
    ClientOrigin(origin): ClientOrigin,
    CsrfForm(_, session): CsrfForm<Empty>,
) -> Result<Response, PageError> {
    let kind = kind_of(&segment)?;
    let change = match change_for(&state, &current, kind).await? {
        Ok(c) => c,
        Err(go) => return Ok(go),
    };
    match phone::send_old(&state, &current.user, &change, &origin, ctx.lang).await {
        Ok(()) => {
            session.flash(Flash::PhoneOldCodeSent).await?;
            Ok(Redirect::to(&Urls::of(kind).page).into_response())
        }
        Err(e) => refused_page(&state, &ctx, &current, kind, Entered::default(), e).await,
    }
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
}

pub async fn prove_old(
    State(state): State<AppState>,
    ctx: PageCtx,
    current: CurrentUser,
    Path(segment): Path<String>,
    ClientOrigin(origin): ClientOrigin,
    CsrfForm(form, session): CsrfForm<CodeForm>,
) -> Result<Response, PageError> {
    let kind = kind_of(&segment)?;
    let mut change = match change_for(&state, &current, kind).await? {
        Ok(c) => c,
        Err(go) => return Ok(go),
    };
    match phone::prove_old(&state, &current.user, &mut change, &form.code, &origin).await {
        Ok(()) => {
            session.set_phone_change(&change).await?;
            Ok(Redirect::to(&Urls::of(kind).page).into_response())
        }
        Err(e) => refused_page(&state, &ctx, &current, kind, Entered::default(), e).await,
    }
}

#[derive(Deserialize)]
pub struct NumberForm {
    #[serde(default)]
    country_code: String,
    #[serde(default)]
    number: String,
    #[serde(default)]
    return_to: Option<String>,
}

impl NumberForm {
    fn entered(&self) -> Entered {
        Entered {
            country_code: self.country_code.clone(),
            national: self.number.clone(),
        }
    }
}

pub async fn send_new(
    State(state): State<AppState>,
    ctx: PageCtx,
    current: CurrentUser,
    Path(segment): Path<String>,
    ClientOrigin(origin): ClientOrigin,
    CsrfForm(form, session): CsrfForm<NumberForm>,
) -> Result<Response, PageError> {
    let kind = kind_of(&segment)?;
    let mut change = match change_for(&state, &current, kind).await? {
        Ok(c) => c,
        Err(go) => return Ok(go),
    };
    let number = match PhoneNumber::parse_parts(&form.country_code, &form.number) {
        Ok(n) => n,
        Err(e) => {
            let mut p = page(
                &state,
                ctx.chrome_at(&Urls::of(kind).page).await?,
                &current.user,
                &change,
                form.entered(),
            )
            .await?;
            p.error = Some(ctx.t().phone_error(e).to_string());
            return super::refused(StatusCode::UNPROCESSABLE_ENTITY, &p, None);
        }
    };
    match phone::send_new(
        &state,
        &current.user,
        &mut change,
        &number,
        &origin,
        ctx.lang,
    )
    .await
    {
        Ok(()) => {
            session.set_phone_change(&change).await?;
            session.flash(Flash::PhoneNewCodeSent).await?;
            Ok(Redirect::to(&Urls::of(kind).page).into_response())
        }
        Err(e) => refused_page(&state, &ctx, &current, kind, form.entered(), e).await,
    }
}

pub async fn confirm(
    State(state): State<AppState>,
    ctx: PageCtx,
    current: CurrentUser,
    Path(segment): Path<String>,
    ClientOrigin(origin): ClientOrigin,
    CsrfForm(form, session): CsrfForm<CodeForm>,
) -> Result<Response, PageError> {
    let kind = kind_of(&segment)?;
    let change = match change_for(&state, &current, kind).await? {
        Ok(c) => c,
        Err(go) => return Ok(go),
    };
    let result = phone::confirm(
        &state,
        &current.user,
        &change,
        &form.code,
        &current.auth.sid,
        &origin,
        ctx.lang,
    )
    .await;
    match result {
        Ok(user) => {
            session.carry_on(&state, &user, &origin).await?;
            session.end_phone_change().await?;
            session.flash(Flash::PhoneChanged).await?;
            let done = local_url(&Urls::of(kind).page, &[("done", "1")]);
            Ok(Redirect::to(&done).into_response())
        }
        Err(e) => refused_page(&state, &ctx, &current, kind, Entered::default(), e).await,
    }
}

// ── guided binding ───────────────────────────────────────────────────

use crate::urls::phone_binding as bind_url;

#[derive(Template)]
#[template(path = "account/phone_bind.html")]
struct BindPage {
    c: Chrome,
    return_to: String,
    skippable: bool,
    /// The application's request, when the person may go back to it.
    cancel: Option<String>,
    /// The number a code went to, masked.
    new: Option<String>,
    country_code: String,
    national: String,
    notice: Option<String>,
    error: Option<String>,
    wait: u64,
}

/// Where a binding request goes instead of the binding page: on, when the
/// account has a login phone; through the SMS step-up first, when the
/// account has a security phone the session has not proved (the bound
/// number will sign in and receive recovery codes).
async fn bind_first(current: &CurrentUser, return_to: &str) -> Result<Option<Response>, PageError> {
    if current.user.login_phone.is_some() {
        return Ok(Some(Redirect::to(return_to).into_response()));
    }
    if current.user.security_phone.is_some() {
        return step_up_first(current, &bind_url(return_to)).await;
    }
    Ok(None)
}

async fn bind_page(
    state: &AppState,
    c: Chrome,
    current: &CurrentUser,
    return_to: String,
    entered: Entered,
) -> Result<BindPage, PageError> {
    let new = current
        .session
        .phone_to_bind()
        .await?
        .as_deref()
        .and_then(PhoneNumber::stored);
    let wait = match &new {
        Some(p) => codes::resend_wait(state, Recipient::Unproved(p)).await?,
        None => std::time::Duration::ZERO,
    };
    Ok(BindPage {
        c,
        skippable: phone::binding_owed(state, &current.user) == Some(BindingOwed::Skippable),
        cancel: super::cancellable(&return_to),
        return_to,
        new: new.map(|p| PhoneNumber::masked(p.as_str())),
        country_code: entered.country_code,
        national: entered.national,
        notice: None,
        error: None,
        wait: super::countdown_secs(wait),
    })
}

/// The binding page drawn again after a refused form.
async fn bind_refused(
    state: &AppState,
    ctx: &PageCtx,
    current: &CurrentUser,
    return_to: String,
    entered: Entered,
    refusal: (StatusCode, String, Option<std::time::Duration>),
) -> Result<Response, PageError> {
    let (status, message, retry) = refusal;
    let chrome = ctx.chrome_at(&bind_url(&return_to)).await?;
    let mut p = bind_page(state, chrome, current, return_to, entered).await?;
    p.error = Some(message);
    super::refused(status, &p, retry)
}

#[derive(Deserialize)]
pub struct BindQuery {
    return_to: Option<String>,
}

pub async fn bind_show(
    State(state): State<AppState>,
    ctx: PageCtx,
    current: CurrentUser,
    Query(q): Query<BindQuery>,
) -> Result<Response, PageError> {
    let return_to = safe_return_to(q.return_to.as_deref());
    if let Some(go) = bind_first(&current, &return_to).await? {
        return Ok(go);
    }
    let mut p = bind_page(
        &state,
        ctx.chrome().await?,
        &current,
        return_to,
        Entered::default(),
    )
    .await?;
    if ctx.session.take_flash(Flash::PhoneNewCodeSent).await? {
        p.notice = p.new.as_deref().map(|to| (ctx.t().phone_code_sent_to)(to));
    }
    render(&p)
}

pub async fn bind_send(
    State(state): State<AppState>,
    ctx: PageCtx,
    current: CurrentUser,
    ClientOrigin(origin): ClientOrigin,
    CsrfForm(form, session): CsrfForm<NumberForm>,
) -> Result<Response, PageError> {
    let return_to = safe_return_to(form.return_to.as_deref());
    if let Some(go) = bind_first(&current, &return_to).await? {
        return Ok(go);
    }
    let number = match PhoneNumber::parse_parts(&form.country_code, &form.number) {
        Ok(n) => n,
        Err(e) => {
            let message = ctx.t().phone_error(e).to_string();
            let refusal = (StatusCode::UNPROCESSABLE_ENTITY, message, None);
            return bind_refused(&state, &ctx, &current, return_to, form.entered(), refusal).await;
        }
    };
    match phone::send_bind(&state, &current.user, &number, &origin, ctx.lang).await {
        Ok(()) => {
            session.set_phone_to_bind(number.as_str()).await?;
            session.flash(Flash::PhoneNewCodeSent).await?;
            Ok(Redirect::to(&bind_url(&return_to)).into_response())
        }
        Err(e) => {
            let refusal = refusal(ctx.t(), e)?;
            bind_refused(&state, &ctx, &current, return_to, form.entered(), refusal).await
        }
    }
}

#[derive(Deserialize)]
pub struct BindForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    return_to: Option<String>,
}

pub async fn bind(
    State(state): State<AppState>,
    ctx: PageCtx,
    current: CurrentUser,
    ClientOrigin(origin): ClientOrigin,
    CsrfForm(form, session): CsrfForm<BindForm>,
) -> Result<Response, PageError> {
    let return_to = safe_return_to(form.return_to.as_deref());
    if let Some(go) = bind_first(&current, &return_to).await? {
        return Ok(go);
    }
    let Some(number) = session
        .phone_to_bind()
        .await?
        .as_deref()
        .and_then(PhoneNumber::stored)
    else {
        // No code was sent in this session: start at the number.
        return Ok(Redirect::to(&bind_url(&return_to)).into_response());
    };
    let sid = &current.auth.sid;
    match phone::bind(&state, &current.user, &number, &form.code, sid, &origin).await {
        Ok(user) => {
            session.carry_on(&state, &user, &origin).await?;
            session.end_phone_change().await?;
            Ok(Redirect::to(&return_to).into_response())
        }
        Err(e) => {
            let refusal = refusal(ctx.t(), e)?;
            bind_refused(
                &state,
                &ctx,
                &current,
                return_to,
                Entered::default(),
                refusal,
            )
            .await
        }
    }
}

#[derive(Deserialize)]
pub struct SkipForm {
    #[serde(default)]
    return_to: Option<String>,
}

pub async fn bind_skip(
    State(state): State<AppState>,
    current: CurrentUser,
    ClientOrigin(origin): ClientOrigin,
    CsrfForm(form, session): CsrfForm<SkipForm>,
) -> Result<Response, PageError> {
    let return_to = safe_return_to(form.return_to.as_deref());
    match phone::skip_binding(&state, &current.user, &origin).await {
        Ok(()) => {
            session.skip_binding(&current.auth.sid).await?;
            Ok(Redirect::to(&return_to).into_response())
        }
        // Not skippable: the binding page again.
        Err(PhoneError::NotNow) => Ok(Redirect::to(&bind_url(&return_to)).into_response()),
        Err(e) => Err(PageError::Internal(e.to_string())),
    }
}
