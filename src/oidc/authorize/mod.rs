//! `/authorize` (OIDC Core §3.1.2, RFC 6749 §4.1, PKCE RFC 7636).
//!
//! ```text
//! params ─▶ checks: client known? ─▶ redirect_uri registered? ──(no: error PAGE, never a redirect)
//!        ─▶ checks: repeated parameters / response_type / scope / PKCE / prompt / max_age /
//!                   claims / acr / id_token_hint … ──(bad: error REDIRECT)
//!        ─▶ interaction: the first named check that applies
//!             prompt_login · no_session · max_age · id_token_hint_mismatch · reauth_owed
//!                 ──▶ /login?return_to=/authorize?…
//!             blocked ──▶ a page naming the application and the administrators;
//!                         its way back gives access_denied (access::may_use)
//!             password_change_owed ──▶ /account/password
//!             phone_binding_owed ──▶ /account/phone/bind
//!             sms_required (service::acr) ──▶ /login/sms
//!             consent_missing ──▶ consent page (consent.rs)
//!           (with prompt=none each is an error REDIRECT instead: login_required,
//!            interaction_required, consent_required)
//!        ─▶ code ─▶ redirect_uri?code=…&state=…&iss=…
//! ```
//!
//! `checks` validates the parameters, `interaction` decides what the
//! browser must do first, `consent` draws and answers the consent page;
//! this module ties them together and answers.

pub(crate) mod checks;
pub mod consent;
pub mod interaction;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::json;
use time::OffsetDateTime;
use url::Url;

use super::params::Params;
use crate::domain::Scope;
use crate::domain::claims::ClaimsRequest;
use crate::error::PageError;
use crate::extract::to_password_change;
use crate::oidc::errors::ErrorCode;
use crate::pages::PageCtx;
use crate::routes;
use crate::service::acr::AcrRequest;
use crate::service::audit::{Entry, Outcome};
use crate::service::clients::Client;
use crate::service::tokens::{self, CodeRecord};
use crate::service::{Actor, access, blocks, consents, step_up};
use crate::session::{SignedIn, unix_ms};
use crate::state::AppState;
use crate::store::users::User;
use interaction::{Check, Facts, Interaction};

/// A validated authorization request.
pub struct AuthRequest {
    /// How it came (a kept request is referred to by its request URI).
    origin: checks::Origin,
    params: Params,
    client: Client,
    redirect_uri: String,
    state: Option<String>,
    scope: Scope,
    nonce: Option<String>,
    code_challenge: Option<String>,
    /// The DPoP key the code is bound to (RFC 9449 §10).
    dpop_jkt: Option<String>,
    prompt: Vec<String>,
    max_age: Option<i64>,
    /// The `claims` parameter, limited to what the client may ask for.
    claims: Option<ClaimsRequest>,
    /// What the request asks of the sign-in's class.
    acr: AcrRequest,
    /// The account an `id_token_hint` names.
    hint: Option<Hint>,
}

/// The account an `id_token_hint` names (OIDC Core §3.1.2.1).
pub struct Hint {
    sub: uuid::Uuid,
    /// Its account name, for the login page (`None`: the account is gone).
    username: Option<String>,
}

/// Either we may not redirect (show a page), or the error goes back to the
/// client's verified redirect_uri (RFC 6749 §4.1.2.1).
pub(crate) enum Failure {
    Page(String),
    /// Our own failure: a generic error page, the cause only in the log.
    Error(PageError),
    Redirect {
        redirect_uri: String,
        state: Option<String>,
        error: ErrorCode,
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
    fn fail(&self, error: ErrorCode, description: impl Into<String>) -> Failure {
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

    /// This request as a URL of ours, without the parameters in `drop`
    /// (a kept request by its request URI: see [`Self::later`]).
    fn url_without(&self, drop: &[&str]) -> String {
        format!("{}?{}", routes::AUTHORIZE, self.reference(drop))
    }

    /// This request's parameters as a query, or for a kept request its
    /// client and request URI.
    fn reference(&self, drop: &[&str]) -> String {
        match &self.origin.kept {
            Some(uri) => url::form_urlencoded::Serializer::new(String::new())
                .append_pair("client_id", &self.client.id)
                .append_pair("request_uri", uri)
                .finish(),
            None => self.params.encode_without(drop),
        }
    }

    /// This request as a page will send it back, without `drop` (which
    /// the page answers): a kept request is kept without them from now on.
    async fn later(
        &self,
        state: &AppState,
        drop: &[&str],
        add: &[(&str, &str)],
    ) -> Result<String, PageError> {
        let mut params = self.params.encode_without(drop);
        for (k, v) in add {
            let pair = url::form_urlencoded::Serializer::new(String::new())
                .append_pair(k, v)
                .finish();
            params = if params.is_empty() {
                pair
            } else {
                format!("{params}&{pair}")
            };
        }
        match &self.origin.kept {
            Some(uri) => {
                crate::oidc::requests::rewrite(state, uri, params)
                    .await
                    .map_err(|e| PageError::Internal(e.description))?;
                Ok(self.reference(&[]))
            }
            None => Ok(params),
        }
    }

    /// What consent must cover: the scopes, and those of the claims asked
    /// for by name (OIDC Core §5.5).
    fn consent_scope(&self) -> Scope {
        let mut text = self.scope.to_string();
        for s in self.claims.iter().flat_map(ClaimsRequest::scopes) {
            if !self.scope.contains(s) {
                text.push(' ');
                text.push_str(s);
            }
        }
        Scope::parse(&text).unwrap_or_else(|_| self.scope.clone())
    }

    /// Identifies the request apart from the parameters that force a login.
    fn reauth_key(&self) -> String {
        crate::crypto::sha256_hex(self.params.encode_without(&["prompt", "max_age"]))
    }
}

// ── handlers ─────────────────────────────────────────────────────────

pub async fn get(
    State(state): State<AppState>,
    ctx: PageCtx,
    RawQuery(query): RawQuery,
) -> Response {
    let params = match Params::parse_lenient(query.unwrap_or_default().as_bytes()) {
        Ok(p) => p,
        Err(e) => return PageError::BadClientRequest(e.to_string()).into_response(),
    };
    match run(&state, &ctx, params).await {
        Ok(r) => r,
        Err(failure) => failure_response(&state, failure),
    }
}

/// A form POST from the application's site arrives without our SameSite=Lax
/// session cookie; answering 303 turns it into a top-level GET, which
/// carries the cookie, so a signed-in user is recognised.
pub async fn post(body: Bytes) -> Response {
    match Params::parse_lenient(&body) {
        Ok(p) => Redirect::to(&format!("{}?{}", routes::AUTHORIZE, p.encode_without(&[])))
            .into_response(),
        Err(e) => PageError::BadClientRequest(e.to_string()).into_response(),
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
                ("error", error.as_str()),
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

/// The signed-in user and what the checks need to know about the request.
struct Browser {
    /// The instant the request is judged at.
    now: OffsetDateTime,
    signed_in: Option<(User, SignedIn)>,
    reauth_key: String,
    reauth_owed: Option<i64>,
    binding_owed: bool,
    /// The signed-in account's block for this client, if any.
    blocked: Option<crate::store::blocks::ActiveBlock>,
}

impl Browser {
    async fn of(state: &AppState, ctx: &PageCtx, req: &AuthRequest) -> Result<Self, PageError> {
        let signed_in = ctx.session.current_user(state).await?;
        let reauth_key = req.reauth_key();
        let reauth_owed = ctx.session.reauth_owed(&reauth_key).await?;
        let binding_owed = match &signed_in {
            Some((user, auth)) => {
                crate::extract::binding_owed(state, &ctx.session, user, auth).await?
            }
            None => false,
        };
        let blocked = match &signed_in {
            Some((user, _)) => match access::may_use(state, user.id, &req.client.id).await {
                Ok(()) => None,
                Err(access::UseError::Blocked(b)) => Some(b),
                Err(access::UseError::Store(e)) => return Err(e.into()),
            },
            None => None,
        };
        Ok(Browser {
            now: state.clock.now(),
            signed_in,
            reauth_key,
            reauth_owed,
            binding_owed,
            blocked,
        })
    }

    fn facts<'a>(&'a self, req: &'a AuthRequest, consent_covered: Option<bool>) -> Facts<'a> {
        Facts {
            req,
            signed_in: self.signed_in.as_ref().map(|(u, a)| (u, a)),
            now_ms: unix_ms(self.now),
            reauth_owed: self.reauth_owed,
            binding_owed: self.binding_owed,
            blocked: self.blocked.is_some(),
            consent_covered,
        }
    }
}

async fn run(state: &AppState, ctx: &PageCtx, params: Params) -> Result<Response, Failure> {
    let req = checks::validate(state, params).await?;
    let browser = Browser::of(state, ctx, &req).await?;
    // Consent is the last check: it is looked up only when nothing before
    // it applies (the other checks need no database).
    let mut consent_covered = None;
    if interaction::decide(&browser.facts(&req, None)).is_none()
        && let Some((user, _)) = &browser.signed_in
        && !req.client.first_party
    {
        consent_covered = Some(
            consents::covers(state, user, &req.client, &req.consent_scope())
                .await
                .map_err(PageError::from)?,
        );
    }
    if let Some((check, interaction)) = interaction::decide(&browser.facts(&req, consent_covered)) {
        return interact(state, ctx, &req, &browser, check, interaction).await;
    }
    finish(state, ctx, &req, &browser).await
}

/// No interaction is owed: the code goes to the application.
async fn finish(
    state: &AppState,
    ctx: &PageCtx,
    req: &AuthRequest,
    browser: &Browser,
) -> Result<Response, Failure> {
    let Some((user, auth)) = &browser.signed_in else {
        // The checks send a browser without a sign-in to the login page.
        return Err(PageError::Internal("authorize: no sign-in after the checks".into()).into());
    };
    if browser.reauth_owed.is_some() {
        ctx.session.settle_reauth().await?;
    }
    issue(state, ctx, req, user, auth).await
}

/// Sends the browser where `check` says, or — with `prompt=none` — the
/// application the error for it. Audited when the account is known, except
/// a consent page shown (the answer is audited by the consent service).
async fn interact(
    state: &AppState,
    ctx: &PageCtx,
    req: &AuthRequest,
    browser: &Browser,
    check: &Check,
    interaction: Interaction,
) -> Result<Response, Failure> {
    let prompt_none = req.prompt("none");
    let asks_consent = interaction == Interaction::Consent && !prompt_none;
    if let Some((user, _)) = browser.signed_in.as_ref().filter(|_| !asks_consent) {
        let outcome = if prompt_none {
            Outcome::Failure
        } else {
            Outcome::Success
        };
        Entry::new("authorize.interaction", outcome)
            .actor(&Actor::user(user))
            .subject(user)
            .origin(&ctx.origin)
            .detail(json!({ "reason": check.name, "client_id": req.client.id, "prompt_none": prompt_none }))
            .queue(&state.audit)
            .await
            .map_err(PageError::from)?;
    }
    if prompt_none {
        return Err(req.fail(interaction.prompt_none_error(), check.description));
    }
    match (interaction, &browser.signed_in) {
        (Interaction::Login { fresh }, _) => {
            if fresh {
                ctx.session
                    .owe_reauth(browser.reauth_key.clone(), unix_ms(browser.now))
                    .await?;
            }
            Ok(to_login(state, req).await?)
        }
        (Interaction::Blocked, Some((user, _))) => {
            Ok(blocked_page(state, ctx, req, user, browser.blocked.as_ref()).await?)
        }
        (Interaction::ChangePassword, _) => Ok(to_password_change(&req.url_without(&[]))),
        (Interaction::BindPhone, _) => {
            Ok(Redirect::to(&crate::urls::phone_binding(&req.url_without(&[]))).into_response())
        }
        (Interaction::StepUp, Some((user, _))) => {
            step_up::record_decision(state, user, &[step_up::Reason::ClientRequires], &ctx.origin)
                .await
                .map_err(PageError::from)?;
            // Without a phone the step-up page says to bind one, and offers
            // the way back to the application (which then gets access_denied).
            ctx.session.owe_step_up(user, &req.url_without(&[])).await?;
            Ok(Redirect::to(routes::STEP_UP).into_response())
        }
        (Interaction::Consent, signed) => {
            Ok(consent::page(state, ctx, req, signed.as_ref().map(|(u, _)| u)).await?)
        }
        // Not reached: without a sign-in `no_session` applies first.
        (Interaction::StepUp | Interaction::Blocked, None) => Ok(to_login(state, req).await?),
    }
}

#[derive(askama::Template)]
#[template(path = "account/blocked.html")]
struct BlockedPage {
    c: crate::pages::Chrome,
    client_name: String,
    /// Blocked for a weak password (else by an administrator).
    weak: bool,
    /// Name and e-mail of each administrator of the account's organization.
    administrators: Vec<(String, Option<String>)>,
    helpdesk: Option<String>,
    /// The request, for the way back (`access_denied`).
    request: String,
}

/// The account may not use this client: a page (403) naming the
/// application and whom to contact, with the way back to the application.
async fn blocked_page(
    state: &AppState,
    ctx: &PageCtx,
    req: &AuthRequest,
    user: &User,
    block: Option<&crate::store::blocks::ActiveBlock>,
) -> Result<Response, PageError> {
    let contacts = blocks::contacts_of(state, user).await?;
    crate::pages::render_status(
        axum::http::StatusCode::FORBIDDEN,
        &BlockedPage {
            c: ctx.chrome().await?,
            client_name: req.client.name.clone(),
            weak: block.is_some_and(|b| b.reason == crate::domain::BlockReason::WeakPassword),
            administrators: contacts
                .administrators
                .into_iter()
                .map(|a| (a.display_name, a.email))
                .collect(),
            helpdesk: contacts.helpdesk,
            request: req.later(state, &["prompt", "max_age"], &[]).await?,
        },
    )
}

/// Whether SMS step-up can reach the account: it has a phone to send the
/// code to (the security phone, else the login phone).
fn can_step_up(user: &User) -> bool {
    user.security_phone.is_some() || user.login_phone.is_some()
}

/// Sends the browser to the login page; afterwards it comes back to this
/// request without the parameters that forced the login (so it does not loop).
async fn to_login(state: &AppState, req: &AuthRequest) -> Result<Response, PageError> {
    let consent: &[(&str, &str)] = if req.prompt("consent") {
        &[("prompt", "consent")]
    } else {
        &[]
    };
    let back = format!(
        "{}?{}",
        routes::AUTHORIZE,
        req.later(state, &["prompt", "max_age"], consent).await?
    );
    let mut login = url::form_urlencoded::Serializer::new(String::new());
    login.append_pair("return_to", &back);
    login.append_pair("force", "1");
    // The account an id_token_hint names comes before a login_hint.
    let hinted = req.hint.as_ref().and_then(|h| h.username.as_deref());
    if let Some(hint) = hinted.or(req.params.get("login_hint")) {
        login.append_pair("login_hint", hint);
    }
    if let Some(locales) = req.params.get("ui_locales") {
        login.append_pair("ui_locales", locales);
    }
    Ok(Redirect::to(&format!("{}?{}", routes::LOGIN, login.finish())).into_response())
}

async fn issue(
    state: &AppState,
    ctx: &PageCtx,
    req: &AuthRequest,
    user: &User,
    auth: &SignedIn,
) -> Result<Response, Failure> {
    let acr = req.acr.achieved(&auth.amr);
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
        claims: req.claims.as_ref().map(ClaimsRequest::to_json),
        dpop_jkt: req.dpop_jkt.clone(),
    };
    let code = tokens::authorize(state, user, &record, req.params.get("acr_values"))
        .await
        .map_err(|e| PageError::Internal(e.to_string()))?;
    if let Some(uri) = &req.origin.kept {
        crate::oidc::requests::spend(state, uri)
            .await
            .map_err(|e| PageError::Internal(e.description))?;
    }
    let issuer = state.config.issuer();
    let mut pairs = vec![("code", code.as_str()), ("iss", issuer.as_str())];
    if let Some(s) = &req.state {
        pairs.push(("state", s));
    }
    Ok(redirect_with(&req.redirect_uri, &pairs))
}
