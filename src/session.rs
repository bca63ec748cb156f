//! The one typed session of the hosted pages.
//!
//! Every key the browser session holds is private to this module and
//! reached through typed methods, so no page spells a key or guesses at
//! what another page stored.
//!
//! ```text
//!                  correct password,            code proved
//!  Anonymous ───── phone owed ──────▶ StepUpOwed ──────────▶ SignedIn
//!      │                                  │ (keeps an earlier sign-in,
//!      └──── correct password, nothing owed ──────────────▶ SignedIn
//!                                         │ 申请解绑手机号
//!                                         ▼
//!                                  PhoneUnreachable (the unbind pages only)
//! ```
//!
//! What a session has proved is one value, [`Stage`], stored under one
//! key: a state the next flows add (say "password verified, phone
//! unreachable", which may reach only the unbind-application pages) is one
//! more variant of [`Stage`], not a new set of keys. Beside it the session
//! holds the CSRF token, a recovery in progress, a login that an
//! authorization request still demands, and a one-shot notice for the next
//! page (post-redirect-get).
//!
//! The facts here are the browser's claims; [`WebSession::current_user`]
//! and [`WebSession::step_up_owed`] check them against the account (still
//! active, same session epoch) before anyone relies on them.

use std::sync::{Arc, Mutex};

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use serde::{Deserialize, Serialize};
use tower_sessions::{Expiry, Session};
use uuid::Uuid;

use crate::cookies::{self, CookiePolicy};
use crate::crypto::random;
use crate::error::PageError;
use crate::ports::clock::SharedClock;
use crate::service::Origin;
use crate::service::phone::Change;
use crate::service::recovery::Recovery;
use crate::service::sessions::{self, STEP_UP_FOR};
use crate::state::AppState;
use crate::store::users::User;

const AUTH: &str = "stage";
/// Keys of the shape before [`Stage`] (a sign-in and a pending step-up side
/// by side); read once and rewritten as a [`Stage`], so nobody is signed
/// out by an upgrade and their `sid` carries on.
const LEGACY_SIGNED_IN: &str = "auth";
const LEGACY_STEP_UP: &str = "step_up";
const CSRF: &str = "csrf";
const RECOVERY: &str = "recovery";
const REAUTH: &str = "authorize_reauth";
const FLASH: &str = "flash";
const DEVICE: &str = "device_authorization";
const SHOWN_ONCE: &str = "password_shown_once";
const PHONE_CHANGE: &str = "phone_change";
const PHONE_BIND: &str = "phone_bind";
const BINDING_SKIPPED: &str = "phone_binding_skipped";
const APP_PASSWORD_SHOWN: &str = "app_password_shown_once";
const RETRIEVAL_PENDING: &str = "retrieval_pending";
const RETRIEVAL_CASE: &str = "retrieval_case";

/// How long the restricted "phone unreachable" state lasts: time to fill
/// in the unbind application and take photos of the documents.
pub const UNREACHABLE_FOR: std::time::Duration = std::time::Duration::from_secs(60 * 60);

/// Idle lifetime of a session nobody has signed into yet.
const ANONYMOUS_IDLE: time::Duration = time::Duration::minutes(30);

/// What a signed-in session remembers about its sign-in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignedIn {
    pub user_id: Uuid,
    /// The account's session epoch at sign-in; bumping it ends the session.
    pub epoch: i64,
    /// Unix time of the authentication (OIDC `auth_time`).
    pub auth_time: i64,
    /// The same instant in milliseconds, to order a login against a
    /// request that demanded it within the same second.
    #[serde(default)]
    pub auth_ms: i64,
    /// Authentication methods used (RFC 8176 values: "pwd", "sms" …).
    pub amr: Vec<String>,
    /// Session id shown to relying parties (`sid` claim, back-channel
    /// logout). Unlike the cookie value it stays the same for the session.
    pub sid: String,
    /// Recorded in the registry of sign-ins at sign-in (`false`: signed in
    /// before the registry existed; recorded at its next request).
    #[serde(default)]
    pub listed: bool,
}

impl SignedIn {
    fn claim(&self) -> sessions::Claim<'_> {
        sessions::Claim {
            user_id: self.user_id,
            epoch: self.epoch,
            sid: &self.sid,
            auth_time: self.auth_time,
            listed: self.listed,
        }
    }
}

/// A correct password whose sign-in waits for something more.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pending {
    pub user_id: Uuid,
    pub epoch: i64,
    /// Where the browser goes once the sign-in is complete.
    pub return_to: String,
    /// Unix time it began; it lasts [`STEP_UP_FOR`].
    pub since: i64,
    /// The sign-in this session had before (an application demanded SMS of
    /// a signed-in user, or another account is signing in): it stays in
    /// force until the new one completes.
    #[serde(default)]
    pub earlier: Option<SignedIn>,
}

/// What the session has proved, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
pub enum Stage {
    /// The password was right; the phone must be proved by SMS.
    StepUpOwed(Pending),
    /// Signed in.
    SignedIn(SignedIn),
    /// The password was right but the phone cannot receive the code: the
    /// session may reach only the phone-unbind application (its form and
    /// the person's applications) and sign out. No sign-in is in force,
    /// so nothing else — no account page, no authorization code — opens.
    PhoneUnreachable(Pending),
}

impl Stage {
    /// The sign-in in force, if any: a pending step-up keeps the earlier one.
    pub fn signed_in(&self) -> Option<&SignedIn> {
        match self {
            Stage::SignedIn(s) => Some(s),
            Stage::StepUpOwed(p) => p.earlier.as_ref(),
            Stage::PhoneUnreachable(_) => None,
        }
    }
}

/// A login an authorization request still demands (prompt=login, max_age).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Reauth {
    /// Hash of the request without the parameters that force the login.
    request: String,
    /// Unix milliseconds; the login must come after this.
    not_before: i64,
}

/// A password the console generated, kept from the form's answer until the
/// account's page shows it (once; it never travels in a URL).
#[derive(Serialize, Deserialize)]
struct ShownOnce {
    user_id: Uuid,
    password: String,
}

/// What a form that succeeded leaves for the page it redirects to
/// (post-redirect-get), which says it in its own language. A notice is
/// either shown once ([`WebSession::take_flash`]: "the code was sent"), or
/// is the content of a result page that may be reloaded or switched to the
/// other language ([`WebSession::flash_is`]: "the password was reset"); a
/// later notice replaces it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flash {
    /// A step-up code was sent.
    StepUpCodeSent,
    /// A recovery code was sent (if the account has a phone).
    RecoveryCodeSent,
    /// A recovery link was mailed (if the account has a verified e-mail).
    RecoveryMailSent,
    /// The recovery set the new password.
    PasswordRecovered,
    /// A security e-mail was confirmed by its link.
    EmailConfirmed,
    /// A phone change was confirmed (the change page's result).
    PhoneChanged,
    /// A code went to the current number of a phone change.
    PhoneOldCodeSent,
    /// A code went to the new number of a phone change, or to the number
    /// being bound.
    PhoneNewCodeSent,
    /// A phone-unbind application was submitted (or submitted again).
    UnbindSubmitted,
    /// A phone-unbind application was withdrawn.
    UnbindWithdrawn,
    /// An application password was revoked.
    AppPasswordRevoked,
    /// Every application password was revoked.
    AppPasswordsRevoked,
}

pub use crate::ports::clock::unix_ms;

/// The browser session of a hosted page (and the deployment's clock, by
/// which its times are written and judged), with the CSRF cookie of a
/// browser that has no stored session.
#[derive(Clone)]
pub struct WebSession(Session, SharedClock, Arc<CsrfCookie>);

impl FromRequestParts<AppState> for WebSession {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(|_| PageError::Internal("session layer missing".into()))?;
        let csrf = parts
            .extensions
            .get::<Arc<CsrfCookie>>()
            .cloned()
            .ok_or_else(|| PageError::Internal("CSRF cookie layer missing".into()))?;
        let web = WebSession(session, state.clock.clone(), csrf);
        // A stored session nobody is signed into (a recovery in progress,
        // a notice for the next page) is cheap to create: it lives
        // [`ANONYMOUS_IDLE`] unused; a sign-in the configured idle time.
        // Set on every request, as the layer saves the session on each.
        let idle = match web.auth().await? {
            Some(Stage::PhoneUnreachable(_)) => {
                UNREACHABLE_FOR.try_into().unwrap_or(ANONYMOUS_IDLE)
            }
            Some(stage) if stage.signed_in().is_some() => state.config.session.idle(),
            _ => ANONYMOUS_IDLE,
        };
        web.0.set_expiry(Some(Expiry::OnInactivity(idle)));
        Ok(web)
    }
}

/// The CSRF token of a browser without a stored session (double submit):
/// it lives in a cookie of its own (`__Host-` behind https, so no other
/// host can plant one) and in the page's forms, and a form is accepted
/// when both agree. Nothing is stored on the server until a form needs it
/// (a correct password, a recovery started), so anonymous page views cost
/// no session. What the request brought, and a token minted for the answer.
#[derive(Debug, Default)]
pub struct CsrfCookie {
    sent: Option<String>,
    minted: Mutex<Option<String>>,
}

impl CsrfCookie {
    /// The browser's token, minting one (set on the answer) when it sent none.
    fn token(&self) -> Result<String, PageError> {
        if let Some(sent) = &self.sent {
            return Ok(sent.clone());
        }
        let mut minted = self.minted.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(t) = minted.as_ref() {
            return Ok(t.clone());
        }
        let fresh = random::token()?;
        *minted = Some(fresh.clone());
        Ok(fresh)
    }
}

/// Whether a cookie value has the shape of [`random::token`] (a planted
/// value of another shape is ignored, and a new token minted).
fn token_shaped(value: &str) -> bool {
    value.len() == 43
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Middleware of the hosted pages: reads the CSRF cookie for
/// [`WebSession`], and sets it on the answer when a page minted one.
pub async fn csrf_cookie(
    State(policy): State<CookiePolicy>,
    jar: CookieJar,
    mut req: Request,
    next: Next,
) -> Response {
    let sent = cookies::value(&jar, &policy.name(cookies::CSRF)).filter(|v| token_shaped(v));
    let holder = Arc::new(CsrfCookie {
        sent,
        minted: Mutex::default(),
    });
    req.extensions_mut().insert(holder.clone());
    let response = next.run(req).await;
    let minted = holder
        .minted
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take();
    match minted {
        Some(token) => (
            jar.add(policy.browser_session(cookies::CSRF, token)),
            response,
        )
            .into_response(),
        None => response,
    }
}

impl WebSession {
    // ── what the session has proved ────────────────────────────────────

    /// What the session has proved, unchecked (`None`: anonymous).
    pub async fn auth(&self) -> Result<Option<Stage>, PageError> {
        match self.read::<Stage>(AUTH).await? {
            Some(stage) => Ok(Some(stage)),
            None => self.upgrade().await,
        }
    }

    /// The sign-in in force, unchecked.
    async fn signed_in(&self) -> Result<Option<SignedIn>, PageError> {
        Ok(self
            .auth()
            .await?
            .as_ref()
            .and_then(Stage::signed_in)
            .cloned())
    }

    /// A value of the session; one that does not decode (written by a
    /// newer or older release) is dropped and logged, never an error page:
    /// otherwise its owner could not even reach the login or logout page.
    async fn read<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<T>, PageError> {
        match self.0.get::<serde_json::Value>(key).await? {
            None => Ok(None),
            Some(raw) => match serde_json::from_value(raw) {
                Ok(v) => Ok(Some(v)),
                Err(e) => {
                    tracing::warn!(key, error = %e, "dropping a session value that does not decode");
                    self.0.remove_value(key).await?;
                    Ok(None)
                }
            },
        }
    }

    /// Rewrites a session stored in the earlier shape as a [`Stage`].
    async fn upgrade(&self) -> Result<Option<Stage>, PageError> {
        #[derive(Deserialize)]
        struct LegacyStepUp {
            user_id: Uuid,
            epoch: i64,
            return_to: String,
            #[serde(default)]
            since: i64,
        }
        let signed_in = self.read::<SignedIn>(LEGACY_SIGNED_IN).await?;
        let step_up = self.read::<LegacyStepUp>(LEGACY_STEP_UP).await?;
        let stage = match (step_up, signed_in) {
            (Some(p), earlier) => Some(Stage::StepUpOwed(Pending {
                user_id: p.user_id,
                epoch: p.epoch,
                return_to: p.return_to,
                since: p.since,
                earlier,
            })),
            (None, Some(s)) => Some(Stage::SignedIn(s)),
            (None, None) => None,
        };
        if let Some(stage) = &stage {
            self.0.insert(AUTH, stage).await?;
            self.0.remove_value(LEGACY_SIGNED_IN).await?;
            self.0.remove_value(LEGACY_STEP_UP).await?;
        }
        Ok(stage)
    }

    /// The account this session is signed in as, without asking the
    /// database (cheap; for decisions that check the account later).
    pub async fn signed_in_id(&self) -> Result<Option<Uuid>, PageError> {
        Ok(self.signed_in().await?.map(|s| s.user_id))
    }

    /// The signed-in user, if the sign-in still holds
    /// ([`sessions::sign_in_holds`]: the account is active with the same
    /// session epoch, the sign-in is younger than the absolute lifetime,
    /// and it was not ended from the sessions page or elsewhere). A
    /// sign-in that no longer holds ends the whole session.
    pub async fn current_user(
        &self,
        state: &AppState,
    ) -> Result<Option<(User, SignedIn)>, PageError> {
        let Some(mut signed) = self.signed_in().await? else {
            return Ok(None);
        };
        match sessions::sign_in_holds(state, signed.claim()).await? {
            Some(held) => {
                if held.newly_listed {
                    signed.listed = true;
                    self.mark_listed().await?;
                }
                Ok(Some((held.user, signed)))
            }
            None => {
                self.sign_out().await?;
                Ok(None)
            }
        }
    }

    /// Remembers that the sign-in in force is in the registry.
    async fn mark_listed(&self) -> Result<(), PageError> {
        let stage = match self.auth().await? {
            Some(Stage::SignedIn(mut s)) => {
                s.listed = true;
                Stage::SignedIn(s)
            }
            Some(Stage::StepUpOwed(mut p)) => {
                if let Some(e) = p.earlier.as_mut() {
                    e.listed = true;
                }
                Stage::StepUpOwed(p)
            }
            Some(Stage::PhoneUnreachable(_)) | None => return Ok(()),
        };
        self.0.insert(AUTH, stage).await?;
        Ok(())
    }

    /// Starts a signed-in session: a new session id (against fixation), the
    /// sign-in facts, and a fresh CSRF token. Signing in again as the same
    /// account keeps the session's `sid`, so relying parties that joined it
    /// still hear of its end; a different account first ends the old
    /// session (back-channel logout included). A pending step-up is settled.
    pub async fn sign_in(
        &self,
        state: &AppState,
        user: &User,
        amr: Vec<String>,
        origin: &Origin,
    ) -> Result<(), PageError> {
        let previous = self.signed_in().await?;
        let sid = sessions::sid_for(state, user, previous.as_ref().map(SignedIn::claim), origin)
            .await
            .map_err(|e| PageError::Internal(e.to_string()))?;
        self.renew().await?;
        self.0
            .set_expiry(Some(Expiry::OnInactivity(state.config.session.idle())));
        let now = self.1.now();
        sessions::record(state, user, &sid, now.unix_timestamp(), origin)
            .await
            .map_err(|e| PageError::Internal(e.to_string()))?;
        let signed = SignedIn {
            user_id: user.id,
            epoch: user.session_epoch,
            auth_time: now.unix_timestamp(),
            auth_ms: unix_ms(now),
            amr,
            sid,
            listed: true,
        };
        // A phone change, binding or skipped binding belongs to the
        // sign-in it was made in.
        self.end_phone_change().await?;
        self.0.remove::<String>(BINDING_SKIPPED).await?;
        self.0.insert(AUTH, Stage::SignedIn(signed)).await?;
        Ok(())
    }

    /// A new session id and a new CSRF token, whenever the session gains
    /// something (a correct password, a recovery started or proved): a
    /// session planted in this browser beforehand (say, by a sibling
    /// subdomain) then knows neither, so it can neither follow nor forge a
    /// form of what comes next.
    async fn renew(&self) -> Result<(), PageError> {
        self.0.cycle_id().await?;
        self.0.insert(CSRF, random::token()?).await?;
        Ok(())
    }

    /// Parks a sign-in until the phone is proved. A correct password was
    /// given: the session is renewed, so a session planted before does not
    /// share what follows (the masked phone, sending codes).
    pub async fn owe_step_up(&self, user: &User, return_to: &str) -> Result<(), PageError> {
        let earlier = self.signed_in().await?;
        let pending = Pending {
            user_id: user.id,
            epoch: user.session_epoch,
            return_to: return_to.to_string(),
            since: self.1.now().unix_timestamp(),
            earlier,
        };
        self.renew().await?;
        self.0.insert(AUTH, Stage::StepUpOwed(pending)).await?;
        Ok(())
    }

    /// The sign-in waiting for its SMS code, if its account is still valid
    /// and it has not waited too long; otherwise it is dropped (an earlier
    /// sign-in stays).
    pub async fn step_up_owed(
        &self,
        state: &AppState,
    ) -> Result<Option<(User, Pending)>, PageError> {
        let Some(Stage::StepUpOwed(p)) = self.auth().await? else {
            return Ok(None);
        };
        let waited = self.1.now().unix_timestamp() - p.since;
        let in_time = u64::try_from(waited).is_ok_and(|w| w <= STEP_UP_FOR.as_secs());
        match sessions::holder(state, p.user_id, p.epoch).await? {
            Some(user) if in_time => Ok(Some((user, p))),
            _ => {
                self.restore(p.earlier).await?;
                Ok(None)
            }
        }
    }

    /// The sign-in waiting for its SMS code turns into the restricted
    /// state of a person whose phone does not receive it (the step-up
    /// page's 申请解绑手机号). `false` when no step-up was waiting.
    pub async fn enter_phone_unreachable(&self, state: &AppState) -> Result<bool, PageError> {
        let Some((_, p)) = self.step_up_owed(state).await? else {
            return Ok(false);
        };
        let restricted = Pending {
            since: self.1.now().unix_timestamp(),
            ..p
        };
        self.0
            .insert(AUTH, Stage::PhoneUnreachable(restricted))
            .await?;
        Ok(true)
    }

    /// The account of a session in the restricted "phone unreachable"
    /// state, while the account is still valid and the state is younger
    /// than [`UNREACHABLE_FOR`]; otherwise the state is dropped (an earlier
    /// sign-in comes back).
    pub async fn phone_unreachable(&self, state: &AppState) -> Result<Option<User>, PageError> {
        let Some(Stage::PhoneUnreachable(p)) = self.auth().await? else {
            return Ok(None);
        };
        let waited = self.1.now().unix_timestamp() - p.since;
        let in_time = u64::try_from(waited).is_ok_and(|w| w <= UNREACHABLE_FOR.as_secs());
        match sessions::holder(state, p.user_id, p.epoch).await? {
            Some(user) if in_time => Ok(Some(user)),
            _ => {
                self.restore(p.earlier).await?;
                Ok(None)
            }
        }
    }

    async fn restore(&self, earlier: Option<SignedIn>) -> Result<(), PageError> {
        match earlier {
            Some(s) => self.0.insert(AUTH, Stage::SignedIn(s)).await?,
            None => {
                self.0.remove::<Stage>(AUTH).await?;
            }
        }
        Ok(())
    }

    /// Ends the session entirely (store entry and cookie).
    pub async fn sign_out(&self) -> Result<(), PageError> {
        self.0.flush().await?;
        Ok(())
    }

    // ── CSRF ───────────────────────────────────────────────────────────

    /// The CSRF token for this browser's forms. A stored session keeps its
    /// own (created on first use; renewed whenever the session gains
    /// something). A browser without one gets the token of its CSRF cookie
    /// ([`CsrfCookie`]): drawing a page stores nothing.
    pub async fn csrf_token(&self) -> Result<String, PageError> {
        if let Some(token) = self.read::<String>(CSRF).await? {
            return Ok(token);
        }
        if self.0.is_empty().await {
            return self.2.token();
        }
        // A session stored for something harmless (a notice for the next
        // page) takes over the cookie's token, so forms drawn before stay
        // valid; what the session gains later renews it (`renew`).
        let token = match &self.2.sent {
            Some(sent) => sent.clone(),
            None => random::token()?,
        };
        self.0.insert(CSRF, token.clone()).await?;
        Ok(token)
    }

    /// Compares a submitted CSRF token (constant time) with the session's
    /// own, or, when the session has none, with the browser's CSRF cookie.
    pub async fn check_csrf(&self, submitted: &str) -> Result<(), PageError> {
        let expected = match self.read::<String>(CSRF).await? {
            Some(stored) => Some(stored),
            None => self.2.sent.clone(),
        };
        match expected {
            Some(expected)
                if random::constant_time_eq(expected.as_bytes(), submitted.as_bytes()) =>
            {
                Ok(())
            }
            _ => Err(PageError::Csrf),
        }
    }

    /// The sign-in goes on after its owner changed the account in this
    /// session (a new phone), which moved the account's epoch and ended
    /// every other session: same sign-in, the new epoch, and a renewed
    /// session id and CSRF token (the session's privileges changed). Its
    /// row in the registry of sign-ins moves to the new epoch with it.
    pub async fn carry_on(
        &self,
        state: &AppState,
        user: &User,
        origin: &Origin,
    ) -> Result<(), PageError> {
        let Some(mut signed) = self.signed_in().await? else {
            return Err(PageError::Internal("carry_on: not signed in".into()));
        };
        signed.epoch = user.session_epoch;
        sessions::record(state, user, &signed.sid, signed.auth_time, origin)
            .await
            .map_err(|e| PageError::Internal(e.to_string()))?;
        signed.listed = true;
        self.renew().await?;
        self.0.insert(AUTH, Stage::SignedIn(signed)).await?;
        Ok(())
    }

    // ── a phone change or binding in progress ──────────────────────────

    /// The phone change this session is doing (checked by the service).
    pub async fn phone_change(&self) -> Result<Option<Change>, PageError> {
        self.read::<Change>(PHONE_CHANGE).await
    }

    pub async fn set_phone_change(&self, change: &Change) -> Result<(), PageError> {
        self.0.insert(PHONE_CHANGE, change).await?;
        Ok(())
    }

    pub async fn end_phone_change(&self) -> Result<(), PageError> {
        self.0.remove::<Change>(PHONE_CHANGE).await?;
        self.0.remove::<String>(PHONE_BIND).await?;
        Ok(())
    }

    /// The number (E.164) a binding code was sent to.
    pub async fn phone_to_bind(&self) -> Result<Option<String>, PageError> {
        self.read::<String>(PHONE_BIND).await
    }

    pub async fn set_phone_to_bind(&self, number: &str) -> Result<(), PageError> {
        self.0.insert(PHONE_BIND, number).await?;
        Ok(())
    }

    /// Whether the person skipped a skippable phone binding in this
    /// sign-in (`sid`): asked again at the next sign-in.
    pub async fn binding_skipped(&self, sid: &str) -> Result<bool, PageError> {
        Ok(self.read::<String>(BINDING_SKIPPED).await?.as_deref() == Some(sid))
    }

    pub async fn skip_binding(&self, sid: &str) -> Result<(), PageError> {
        self.0.insert(BINDING_SKIPPED, sid).await?;
        Ok(())
    }

    // ── an organization-verified retrieval ─────────────────────────────

    /// The retrieval form waiting for its phone's code (it lives as long
    /// as the code: `sms.code_ttl_secs`).
    pub async fn retrieval_pending(
        &self,
        ttl_secs: u64,
    ) -> Result<Option<crate::service::retrieval::Pending>, PageError> {
        let now = self.1.now().unix_timestamp();
        let ttl = i64::try_from(ttl_secs).unwrap_or(i64::MAX);
        Ok(self
            .read::<crate::service::retrieval::Pending>(RETRIEVAL_PENDING)
            .await?
            .filter(|p| now - p.sent_at <= ttl))
    }

    /// Keeps a checked form whose code was sent, in a renewed session.
    pub async fn set_retrieval_pending(
        &self,
        pending: &crate::service::retrieval::Pending,
    ) -> Result<(), PageError> {
        self.renew().await?;
        self.0.insert(RETRIEVAL_PENDING, pending).await?;
        Ok(())
    }

    /// The retrieval case this browser holds (after the form, or after the
    /// file authentication): its PDF and upload pages open for it only.
    pub async fn retrieval_case(&self) -> Result<Option<Uuid>, PageError> {
        self.read::<Uuid>(RETRIEVAL_CASE).await
    }

    /// Holds `case` (and drops a pending form), in a renewed session.
    pub async fn hold_retrieval_case(&self, case: Uuid) -> Result<(), PageError> {
        self.renew().await?;
        self.0.remove_value(RETRIEVAL_PENDING).await?;
        self.0.insert(RETRIEVAL_CASE, case).await?;
        Ok(())
    }

    // ── a recovery in progress ─────────────────────────────────────────

    /// The recovery this browser is doing, while it is live.
    pub async fn recovery(&self) -> Result<Option<Recovery>, PageError> {
        let now = self.1.now();
        Ok(self
            .read::<Recovery>(RECOVERY)
            .await?
            .filter(|r| r.is_live_at(now)))
    }

    /// Stores the recovery's progress in a renewed session: a session
    /// planted in this browser must not follow a recovery that starts or
    /// proves the code, nor submit its password form.
    pub async fn advance_recovery(&self, recovery: &Recovery) -> Result<(), PageError> {
        self.renew().await?;
        self.0.insert(RECOVERY, recovery).await?;
        Ok(())
    }

    pub async fn end_recovery(&self) -> Result<(), PageError> {
        self.0.remove::<Recovery>(RECOVERY).await?;
        Ok(())
    }

    // ── a login an authorization request demands ───────────────────────

    /// When the authorization request `request` (a hash) demanded a fresh
    /// login: the login must come after the returned Unix milliseconds.
    pub async fn reauth_owed(&self, request: &str) -> Result<Option<i64>, PageError> {
        Ok(self
            .read::<Reauth>(REAUTH)
            .await?
            .filter(|r| r.request == request)
            .map(|r| r.not_before))
    }

    pub async fn owe_reauth(&self, request: String, not_before: i64) -> Result<(), PageError> {
        self.0
            .insert(
                REAUTH,
                Reauth {
                    request,
                    not_before,
                },
            )
            .await?;
        Ok(())
    }

    pub async fn settle_reauth(&self) -> Result<(), PageError> {
        self.0.remove::<Reauth>(REAUTH).await?;
        Ok(())
    }

    // ── device authorization ───────────────────────────────────────────

    /// Notes that this browser confirmed the device authorization `handle`
    /// (its callback is accepted only here: service::device).
    pub async fn start_device(&self, handle: &str) -> Result<(), PageError> {
        self.0.insert(DEVICE, handle.to_string()).await?;
        Ok(())
    }

    /// The device authorization this browser confirmed, taken.
    pub async fn take_device(&self) -> Result<Option<String>, PageError> {
        let handle = self.read::<String>(DEVICE).await?;
        if handle.is_some() {
            self.0.remove_value(DEVICE).await?;
        }
        Ok(handle)
    }

    // ── post-redirect-get ──────────────────────────────────────────────

    pub async fn flash(&self, notice: Flash) -> Result<(), PageError> {
        self.0.insert(FLASH, notice).await?;
        Ok(())
    }

    /// Whether `notice` is waiting, taking it (shown once). Another notice
    /// is left for its own page.
    pub async fn take_flash(&self, notice: Flash) -> Result<bool, PageError> {
        if self.flash_is(notice).await? {
            self.0.remove_value(FLASH).await?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Whether `notice` is the last one left (a result page shows it on
    /// every reload, until another notice replaces it).
    pub async fn flash_is(&self, notice: Flash) -> Result<bool, PageError> {
        Ok(self.read::<Flash>(FLASH).await? == Some(notice))
    }

    /// Keeps a generated password for the page of account `user_id`.
    pub async fn show_password_once(
        &self,
        user_id: Uuid,
        password: String,
    ) -> Result<(), PageError> {
        self.0
            .insert(SHOWN_ONCE, ShownOnce { user_id, password })
            .await?;
        Ok(())
    }

    /// Keeps a new application password (grouped) and its name for the
    /// next application-passwords page of account `user_id`.
    pub async fn show_app_password_once(
        &self,
        user_id: Uuid,
        grouped: String,
        label: String,
    ) -> Result<(), PageError> {
        self.0
            .insert(
                APP_PASSWORD_SHOWN,
                ShownOnce {
                    user_id,
                    password: format!("{grouped}\n{label}"),
                },
            )
            .await?;
        Ok(())
    }

    /// The new application password (grouped, name) waiting for the page
    /// of account `user_id`, taken: a reload does not show it again.
    pub async fn take_app_password_shown(
        &self,
        user_id: Uuid,
    ) -> Result<Option<(String, String)>, PageError> {
        match self.read::<ShownOnce>(APP_PASSWORD_SHOWN).await? {
            Some(once) if once.user_id == user_id => {
                self.0.remove_value(APP_PASSWORD_SHOWN).await?;
                Ok(once
                    .password
                    .split_once('\n')
                    .map(|(g, l)| (g.to_string(), l.to_string())))
            }
            _ => Ok(None),
        }
    }

    /// The generated password waiting for the page of account `user_id`,
    /// taken (a reload does not show it again).
    pub async fn take_password_shown_once(
        &self,
        user_id: Uuid,
    ) -> Result<Option<String>, PageError> {
        match self.read::<ShownOnce>(SHOWN_ONCE).await? {
            Some(once) if once.user_id == user_id => {
                self.0.remove_value(SHOWN_ONCE).await?;
                Ok(Some(once.password))
            }
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use tower_sessions::session::{Id, Record};
    use tower_sessions::session_store::{self, SessionStore};

    use super::*;
    use crate::ports::clock::SystemClock;

    /// A store that keeps nothing: the session's values live in memory.
    #[derive(Debug, Clone)]
    struct NoStore;

    #[async_trait::async_trait]
    impl SessionStore for NoStore {
        async fn save(&self, _: &Record) -> session_store::Result<()> {
            Ok(())
        }
        async fn load(&self, _: &Id) -> session_store::Result<Option<Record>> {
            Ok(None)
        }
        async fn delete(&self, _: &Id) -> session_store::Result<()> {
            Ok(())
        }
    }

    fn session() -> WebSession {
        WebSession(
            Session::new(None, Arc::new(NoStore), None),
            SystemClock::shared(),
            Arc::default(),
        )
    }

    fn signed_in(user: Uuid) -> Value {
        json!({ "user_id": user, "epoch": 3, "auth_time": 1, "auth_ms": 1000, "amr": ["pwd"], "sid": "the-sid" })
    }

    #[tokio::test]
    async fn a_sign_in_of_the_earlier_shape_is_kept_and_rewritten() {
        let s = session();
        let user = Uuid::new_v4();
        s.0.insert(LEGACY_SIGNED_IN, signed_in(user)).await.unwrap();
        match s.auth().await.unwrap() {
            Some(Stage::SignedIn(x)) => assert_eq!((x.user_id, x.sid.as_str()), (user, "the-sid")),
            other => panic!("{other:?}"),
        }
        assert!(s.0.get::<Value>(LEGACY_SIGNED_IN).await.unwrap().is_none());
        assert!(s.0.get::<Value>(AUTH).await.unwrap().is_some(), "rewritten");
        // Read again from the new shape.
        assert!(matches!(s.auth().await.unwrap(), Some(Stage::SignedIn(_))));
    }

    #[tokio::test]
    async fn a_pending_step_up_of_the_earlier_shape_keeps_the_earlier_sign_in() {
        let s = session();
        let (earlier, pending) = (Uuid::new_v4(), Uuid::new_v4());
        s.0.insert(LEGACY_SIGNED_IN, signed_in(earlier))
            .await
            .unwrap();
        s.0.insert(
            LEGACY_STEP_UP,
            json!({ "user_id": pending, "epoch": 1, "return_to": "/account", "since": 5 }),
        )
        .await
        .unwrap();
        match s.auth().await.unwrap() {
            Some(Stage::StepUpOwed(p)) => {
                assert_eq!(
                    (p.user_id, p.return_to.as_str(), p.since),
                    (pending, "/account", 5)
                );
                assert_eq!(p.earlier.map(|e| e.user_id), Some(earlier));
            }
            other => panic!("{other:?}"),
        }
        assert!(s.0.get::<Value>(LEGACY_STEP_UP).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_value_that_does_not_decode_is_dropped_not_an_error() {
        let s = session();
        s.0.insert(AUTH, json!({ "stage": "from_a_later_release" }))
            .await
            .unwrap();
        s.0.insert(FLASH, json!(42)).await.unwrap();
        assert!(s.auth().await.unwrap().is_none());
        assert!(!s.flash_is(Flash::StepUpCodeSent).await.unwrap());
        assert!(s.0.get::<Value>(AUTH).await.unwrap().is_none(), "dropped");
        // Control: a value that decodes is read.
        s.flash(Flash::StepUpCodeSent).await.unwrap();
        assert!(s.take_flash(Flash::StepUpCodeSent).await.unwrap());
        assert!(!s.take_flash(Flash::StepUpCodeSent).await.unwrap(), "once");
    }

    #[tokio::test]
    async fn a_notice_is_taken_only_by_its_own_page() {
        let s = session();
        s.flash(Flash::PasswordRecovered).await.unwrap();
        assert!(!s.take_flash(Flash::RecoveryCodeSent).await.unwrap());
        assert!(
            s.flash_is(Flash::PasswordRecovered).await.unwrap(),
            "left alone"
        );
        assert!(
            s.flash_is(Flash::PasswordRecovered).await.unwrap(),
            "and kept"
        );
    }
}
