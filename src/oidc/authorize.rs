//! `/authorize` (OIDC Core §3.1.2, RFC 6749 §4.1, PKCE RFC 7636).
//!
//! ```text
//! params ─▶ client known? ─▶ redirect_uri registered? ──(no: error PAGE, never a redirect)
//!        ─▶ response_type / scope / PKCE / prompt / max_age … ──(bad: error REDIRECT)
//!        ─▶ signed in, fresh enough? ──no──▶ prompt=none: login_required
//!        │                                else /login?return_to=/authorize?…
//!        ─▶ consent needed? ──yes──▶ prompt=none: consent_required; else consent page
//!        ─▶ code ─▶ redirect_uri?code=…&state=…&iss=…
//! ```
//!
//! The checks run as an ordered list of small functions, so the order in
//! which errors are reported is the order read here.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use time::OffsetDateTime;
use url::Url;

use super::params::Params;
use crate::domain::Scope;
use crate::error::PageError;
use crate::extract::{ClientOrigin, CsrfForm, SessionAuth, session_user};
use crate::pages::{Chrome, PageCtx, render};
use crate::routes;
use crate::service::clients::{self, Client};
use crate::service::consents;
use crate::service::tokens::{self, ACR_PASSWORD, ACR_SMS, CodeRecord};
use crate::state::AppState;
use crate::store::users::User;

/// A validated authorization request.
struct AuthRequest {
    params: Params,
    client: Client,
    redirect_uri: String,
    state: Option<String>,
    scope: Scope,
    nonce: Option<String>,
    code_challenge: Option<String>,
    prompt: Vec<String>,
    max_age: Option<i64>,
}

/// Either we may not redirect (show a page), or the error goes back to the
/// client's verified redirect_uri (RFC 6749 §4.1.2.1).
enum Failure {
    Page(String),
    /// Our own failure: a generic error page, the cause only in the log.
    Error(PageError),
    Redirect {
        redirect_uri: String,
        state: Option<String>,
        error: &'static str,
        description: String,
    },
}

impl From<PageError> for Failure {
    fn from(e: PageError) -> Self {
        Failure::Error(e)
    }
}

fn redirect_with(base: &str, pairs: &[(&str, &str)]) -> Response {
    let mut url = match Url::parse(base) {
        Ok(u) => u,
        Err(_) => return PageError::BadClientRequest("redirect_uri".into()).into_response(),
    };
    url.query_pairs_mut().extend_pairs(pairs);
    Redirect::to(url.as_str()).into_response()
}

impl AuthRequest {
    fn fail(&self, error: &'static str, description: impl Into<String>) -> Failure {
        Failure::Redirect {
            redirect_uri: self.redirect_uri.clone(),
            state: self.state.clone(),
            error,
            description: description.into(),
        }
    }

    fn prompt(&self, value: &str) -> bool {
        self.prompt.iter().any(|p| p == value)
    }
}

// ── the ordered checks ────────────────────────────────────────────────

async fn check_client(state: &AppState, params: &Params) -> Result<Client, Failure> {
    let id = params
        .get("client_id")
        .ok_or_else(|| Failure::Page("client_id is missing".into()))?;
    clients::find_cached(state, id)
        .await
        .map_err(|e| Failure::from(PageError::from(e)))?
        .ok_or_else(|| Failure::Page("unknown client_id".into()))
}

/// Exact string match against the registered URIs (OAuth 2.0 Security BCP §4.1.3).
fn check_redirect_uri(client: &Client, params: &Params) -> Result<String, Failure> {
    let uri = params
        .get("redirect_uri")
        .ok_or_else(|| Failure::Page("redirect_uri is missing".into()))?;
    if client.redirect_uris.iter().any(|r| r == uri) {
        Ok(uri.to_string())
    } else {
        Err(Failure::Page(
            "redirect_uri is not registered for this client".into(),
        ))
    }
}

fn check_unsupported(req: &AuthRequest) -> Result<(), Failure> {
    if req.params.has("request") {
        return Err(req.fail("request_not_supported", "request objects are not supported"));
    }
    if req.params.has("request_uri") {
        return Err(req.fail("request_uri_not_supported", "request_uri is not supported"));
    }
    match req.params.get("response_mode") {
        None | Some("query") => Ok(()),
        Some(other) => Err(req.fail(
            "invalid_request",
            format!("response_mode {other} is not supported"),
        )),
    }
}

fn check_response_type(req: &AuthRequest) -> Result<(), Failure> {
    match req.params.get("response_type") {
        Some("code") => Ok(()),
        Some(other) => Err(req.fail(
            "unsupported_response_type",
            format!("response_type {other} is not supported; use code"),
        )),
        None => Err(req.fail("invalid_request", "response_type is missing")),
    }
}

fn check_scope(req: &mut AuthRequest) -> Result<(), Failure> {
    let raw = req.params.get("scope").unwrap_or_default();
    let scope = Scope::parse(raw).map_err(|e| req.fail("invalid_scope", e.to_string()))?;
    if scope.is_empty() {
        return Err(req.fail("invalid_scope", "scope is missing"));
    }
    if !scope.is_subset_of(&req.client.scopes) {
        return Err(req.fail(
            "invalid_scope",
            "scope exceeds what this client may request",
        ));
    }
    if scope.contains("admin") {
        return Err(req.fail(
            "invalid_scope",
            "the admin scope is only available with client_credentials",
        ));
    }
    req.scope = scope;
    Ok(())
}

/// PKCE: S256 only (plain is refused); required for public clients.
fn check_pkce(req: &mut AuthRequest) -> Result<(), Failure> {
    let challenge = req.params.get("code_challenge");
    let method = req.params.get("code_challenge_method");
    match (challenge, method) {
        (None, Some(_)) => {
            return Err(req.fail(
                "invalid_request",
                "code_challenge_method without code_challenge",
            ));
        }
        (None, None) if req.client.is_public() => {
            return Err(req.fail(
                "invalid_request",
                "PKCE (code_challenge, S256) is required for public clients",
            ));
        }
        (None, None) => return Ok(()),
        (Some(_), Some("S256")) => {}
        (Some(_), None | Some("plain")) => {
            return Err(req.fail(
                "invalid_request",
                "code_challenge_method must be S256; plain is not allowed",
            ));
        }
        (Some(_), Some(_)) => {
            return Err(req.fail("invalid_request", "unsupported code_challenge_method"));
        }
    }
    let c = challenge.unwrap_or_default();
    if !(43..=128).contains(&c.len())
        || !c
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
    {
        return Err(req.fail("invalid_request", "code_challenge is malformed"));
    }
    req.code_challenge = Some(c.to_string());
    Ok(())
}

fn check_prompt(req: &mut AuthRequest) -> Result<(), Failure> {
    let prompt: Vec<String> = req
        .params
        .get("prompt")
        .unwrap_or_default()
        .split(' ')
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    if let Some(bad) = prompt
        .iter()
        .find(|p| !matches!(p.as_str(), "none" | "login" | "consent" | "select_account"))
    {
        return Err(req.fail("invalid_request", format!("unknown prompt value {bad}")));
    }
    if prompt.iter().any(|p| p == "none") && prompt.len() > 1 {
        return Err(req.fail(
            "invalid_request",
            "prompt=none cannot be combined with other values",
        ));
    }
    req.prompt = prompt;
    Ok(())
}

fn check_max_age(req: &mut AuthRequest) -> Result<(), Failure> {
    if let Some(v) = req.params.get("max_age") {
        let n: i64 =
            v.parse().ok().filter(|n| *n >= 0).ok_or_else(|| {
                req.fail("invalid_request", "max_age must be a non-negative integer")
            })?;
        req.max_age = Some(n);
    }
    Ok(())
}

fn check_nonce(req: &mut AuthRequest) -> Result<(), Failure> {
    if let Some(n) = req.params.get("nonce") {
        if n.len() > 512 {
            return Err(req.fail("invalid_request", "nonce is too long"));
        }
        req.nonce = Some(n.to_string());
    }
    if let Some(acr) = req.params.get("acr_values")
        && acr.len() > 512
    {
        return Err(req.fail("invalid_request", "acr_values is too long"));
    }
    Ok(())
}

async fn validate(state: &AppState, params: Params) -> Result<AuthRequest, Failure> {
    let client = check_client(state, &params).await?;
    let redirect_uri = check_redirect_uri(&client, &params)?;
    let mut req = AuthRequest {
        state: params.get("state").map(str::to_string),
        params,
        client,
        redirect_uri,
        scope: Scope::default(),
        nonce: None,
        code_challenge: None,
        prompt: Vec::new(),
        max_age: None,
    };
    check_unsupported(&req)?;
    check_response_type(&req)?;
    check_scope(&mut req)?;
    check_pkce(&mut req)?;
    check_prompt(&mut req)?;
    check_max_age(&mut req)?;
    check_nonce(&mut req)?;
    Ok(req)
}

// ── handlers ─────────────────────────────────────────────────────────

pub async fn get(
    State(state): State<AppState>,
    ctx: PageCtx,
    RawQuery(query): RawQuery,
) -> Response {
    let params = match Params::parse(query.unwrap_or_default().as_bytes()) {
        Ok(p) => p,
        Err(e) => return PageError::BadClientRequest(e.to_string()).into_response(),
    };
    respond(&state, &ctx, params).await
}

/// A form POST from the application's site arrives without our SameSite=Lax
/// session cookie; answering 303 turns it into a top-level GET, which
/// carries the cookie, so a signed-in user is recognised.
pub async fn post(body: Bytes) -> Response {
    match Params::parse(&body) {
        Ok(p) => Redirect::to(&format!("{}?{}", routes::AUTHORIZE, p.encode_without(&[])))
            .into_response(),
        Err(e) => PageError::BadClientRequest(e.to_string()).into_response(),
    }
}

async fn respond(state: &AppState, ctx: &PageCtx, params: Params) -> Response {
    match run(state, ctx, params).await {
        Ok(r) => r,
        Err(failure) => failure_response(state, failure),
    }
}

fn failure_response(state: &AppState, failure: Failure) -> Response {
    match failure {
        Failure::Page(detail) => PageError::BadClientRequest(detail).into_response(),
        Failure::Error(e) => e.into_response(),
        Failure::Redirect {
            redirect_uri,
            state: st,
            error,
            description,
        } => {
            let issuer = state.config.issuer();
            let mut pairs = vec![
                ("error", error),
                ("error_description", description.as_str()),
                ("iss", issuer.as_str()),
            ];
            if let Some(s) = &st {
                pairs.push(("state", s));
            }
            redirect_with(&redirect_uri, &pairs)
        }
    }
}

/// What must happen before any code is issued to this signed-in user,
/// checked on every path that can issue one (the request itself and the
/// consent form): a forced password change, and the SMS step-up an
/// application demands. `Ok(Some(page))`: go there first.
async fn gates(
    state: &AppState,
    ctx: &PageCtx,
    req: &AuthRequest,
    user: &User,
    auth: &SessionAuth,
) -> Result<Option<Response>, Failure> {
    if user.must_change_password {
        // OIDC Core §3.1.2.6: the user must act before a code can be issued.
        if req.prompt("none") {
            return Err(req.fail(
                "interaction_required",
                "the user must change the password first",
            ));
        }
        let back = format!("{}?{}", routes::AUTHORIZE, req.params.encode_without(&[]));
        return Ok(Some(crate::extract::to_password_change(&back)));
    }
    // The application demands a proved phone (registered `require_sms`, or
    // acr_values asking for the SMS level): step up first.
    let wants_sms = req.client.require_sms
        || req
            .params
            .get("acr_values")
            .is_some_and(|v| v.split(' ').any(|a| a == ACR_SMS));
    if wants_sms && !auth.amr.iter().any(|m| m == "sms") {
        if req.prompt("none") {
            return Err(req.fail("interaction_required", "SMS verification is required"));
        }
        crate::service::step_up::record_decision(
            state,
            user,
            &[crate::service::step_up::Reason::ClientRequires],
            &ctx.origin,
        )
        .await
        .map_err(PageError::from)?;
        // Without a phone the step-up page says to bind one, and offers the
        // way back to the application (which then gets access_denied).
        let back = format!("{}?{}", routes::AUTHORIZE, req.params.encode_without(&[]));
        crate::extract::begin_step_up(&ctx.session, user, &back).await?;
        return Ok(Some(Redirect::to(routes::STEP_UP).into_response()));
    }
    // A login this request demanded (prompt=login, max_age) must have happened.
    let pending: Option<Reauth> = ctx.session.get(REAUTH_KEY).await.map_err(PageError::from)?;
    if pending.is_some_and(|p| p.request == reauth_key(req) && auth.auth_ms <= p.not_before) {
        return Ok(Some(to_login(req)));
    }
    Ok(None)
}

async fn run(state: &AppState, ctx: &PageCtx, params: Params) -> Result<Response, Failure> {
    let req = validate(state, params).await?;
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let signed_in = session_user(state, &ctx.session).await?;
    let fresh = match (&signed_in, req.max_age) {
        (Some((_, auth)), Some(max_age)) => now - auth.auth_time <= max_age,
        (Some(_), None) => true,
        (None, _) => false,
    };
    let forced = !fresh || req.prompt("login") || req.prompt("select_account");
    // The login page sends the browser back without prompt/max_age (so it
    // does not loop); the session remembers that this request demanded a
    // login at or after `not_before`, so the stripped URL cannot skip it.
    let key = reauth_key(&req);
    let pending: Option<Reauth> = ctx.session.get(REAUTH_KEY).await.map_err(PageError::from)?;
    let owed = pending.filter(|p| p.request == key).map(|p| p.not_before);
    let satisfied = |auth: &SessionAuth| owed.is_none_or(|t| auth.auth_ms > t);
    let must_login = forced || signed_in.as_ref().is_some_and(|(_, a)| !satisfied(a));
    let Some((user, auth)) = signed_in.filter(|_| !must_login) else {
        if req.prompt("none") {
            return Err(req.fail("login_required", "the user is not signed in"));
        }
        if forced {
            let reauth = Reauth {
                request: key,
                not_before: crate::extract::unix_ms(OffsetDateTime::now_utc()),
            };
            ctx.session
                .insert(REAUTH_KEY, reauth)
                .await
                .map_err(PageError::from)?;
        }
        return Ok(to_login(&req));
    };
    if let Some(detour) = gates(state, ctx, &req, &user, &auth).await? {
        return Ok(detour);
    }
    if owed.is_some() {
        ctx.session
            .remove::<Reauth>(REAUTH_KEY)
            .await
            .map_err(PageError::from)?;
    }
    if !req.client.first_party {
        let covered = consents::covers(state, &user, &req.client, &req.scope)
            .await
            .map_err(PageError::from)?;
        if !covered || req.prompt("consent") {
            if req.prompt("none") {
                return Err(req.fail(
                    "consent_required",
                    "the user has not consented to this client",
                ));
            }
            return Ok(consent_page(ctx, &req).await?);
        }
    }
    issue(state, ctx, &req, &user, &auth).await
}

const REAUTH_KEY: &str = "authorize_reauth";

/// A login an authorization request still requires (prompt=login, max_age).
#[derive(serde::Serialize, serde::Deserialize)]
struct Reauth {
    request: String,
    /// Unix milliseconds; the login must come after this.
    not_before: i64,
}

/// Identifies a request apart from the parameters that force the login.
fn reauth_key(req: &AuthRequest) -> String {
    crate::crypto::sha256_hex(req.params.encode_without(&["prompt", "max_age"]))
}

/// Sends the browser to the login page; afterwards it comes back to this
/// request without the parameters that forced the login (so it does not loop).
fn to_login(req: &AuthRequest) -> Response {
    let back = format!(
        "{}?{}",
        routes::AUTHORIZE,
        req.params.encode_without(&["prompt", "max_age"])
    );
    let keep: Vec<String> = req
        .prompt
        .iter()
        .filter(|p| p.as_str() == "consent")
        .cloned()
        .collect();
    let back = if keep.is_empty() {
        back
    } else {
        format!("{back}&prompt=consent")
    };
    let mut login = url::form_urlencoded::Serializer::new(String::new());
    login.append_pair("return_to", &back);
    login.append_pair("force", "1");
    if let Some(hint) = req.params.get("login_hint") {
        login.append_pair("login_hint", hint);
    }
    if let Some(locales) = req.params.get("ui_locales") {
        login.append_pair("ui_locales", locales);
    }
    Redirect::to(&format!("{}?{}", routes::LOGIN, login.finish())).into_response()
}

async fn issue(
    state: &AppState,
    ctx: &PageCtx,
    req: &AuthRequest,
    user: &User,
    auth: &SessionAuth,
) -> Result<Response, Failure> {
    let acr = if auth.amr.iter().any(|m| m == "sms") {
        ACR_SMS
    } else {
        ACR_PASSWORD
    };
    let record = CodeRecord {
        client_id: req.client.id.clone(),
        redirect_uri: req.redirect_uri.clone(),
        user_id: user.id,
        scope: req.scope.to_string(),
        nonce: req.nonce.clone(),
        code_challenge: req.code_challenge.clone(),
        sid: auth.sid.clone(),
        auth_time: auth.auth_time,
        acr: acr.into(),
        amr: auth.amr.clone(),
        locale: ctx.lang.tag().into(),
    };
    let code = tokens::authorize(state, user, &record, req.params.get("acr_values"))
        .await
        .map_err(|e| PageError::Internal(e.to_string()))?;
    let issuer = state.config.issuer();
    let mut pairs = vec![("code", code.as_str()), ("iss", issuer.as_str())];
    if let Some(s) = &req.state {
        pairs.push(("state", s));
    }
    Ok(redirect_with(&req.redirect_uri, &pairs))
}

// ── consent ──────────────────────────────────────────────────────────

#[derive(Template)]
#[template(path = "account/consent.html")]
struct ConsentPage {
    c: Chrome,
    client_name: String,
    scopes: Vec<&'static str>,
    request: String,
}

async fn consent_page(ctx: &PageCtx, req: &AuthRequest) -> Result<Response, PageError> {
    let t = ctx.t();
    let scopes = req
        .scope
        .iter()
        .filter_map(|s| match s {
            "openid" => Some(t.scope_openid),
            "profile" => Some(t.scope_profile),
            "email" => Some(t.scope_email),
            "phone" => Some(t.scope_phone),
            "offline_access" => Some(t.scope_offline_access),
            _ => None,
        })
        .collect();
    render(&ConsentPage {
        c: ctx.chrome().await?,
        client_name: req.client.name.clone(),
        scopes,
        request: req.params.encode_without(&["prompt"]),
    })
}

#[derive(Deserialize)]
pub struct ConsentForm {
    request: String,
    decision: String,
}

/// The consent form's answer: re-validates the original request, then
/// records the consent and issues a code, or reports access_denied.
pub async fn consent(
    State(state): State<AppState>,
    ctx: PageCtx,
    ClientOrigin(origin): ClientOrigin,
    CsrfForm(form, _): CsrfForm<ConsentForm>,
) -> Response {
    let params = match Params::parse(form.request.as_bytes()) {
        Ok(p) => p,
        Err(e) => return PageError::BadClientRequest(e.to_string()).into_response(),
    };
    let result = async {
        let req = validate(&state, params).await?;
        let Some((user, auth)) = session_user(&state, &ctx.session).await? else {
            return Ok(to_login(&req));
        };
        if let Some(detour) = gates(&state, &ctx, &req, &user, &auth).await? {
            return Ok(detour);
        }
        if form.decision != "allow" {
            consents::deny(&state, &user, &req.client, &origin)
                .await
                .map_err(PageError::from)?;
            return Err(req.fail("access_denied", "the user denied the request"));
        }
        consents::grant(&state, &user, &req.client, &req.scope, &origin)
            .await
            .map_err(PageError::from)?;
        issue(&state, &ctx, &req, &user, &auth).await
    }
    .await;
    match result {
        Ok(r) => r,
        Err(failure) => failure_response(&state, failure),
    }
}

#[derive(Deserialize)]
pub struct CancelForm {
    request: String,
}

/// The user gives up signing in (or may not: a disabled account): the
/// application gets `access_denied` at its verified redirect_uri.
pub async fn cancel(
    State(state): State<AppState>,
    ClientOrigin(origin): ClientOrigin,
    CsrfForm(form, _): CsrfForm<CancelForm>,
) -> Response {
    let params = match Params::parse(form.request.as_bytes()) {
        Ok(p) => p,
        Err(e) => return PageError::BadClientRequest(e.to_string()).into_response(),
    };
    let failure = match validate(&state, params).await {
        Ok(req) => {
            let entry = crate::service::audit::Entry::new(
                "authorize.cancelled",
                crate::service::audit::Outcome::Failure,
            )
            .origin(&origin)
            .detail(serde_json::json!({ "client_id": req.client.id }));
            if let Err(e) = entry.write(&state.store).await {
                return PageError::from(e).into_response();
            }
            req.fail("access_denied", "the user did not sign in")
        }
        Err(f) => f,
    };
    failure_response(&state, failure)
}
