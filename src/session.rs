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
//! ```
//!
//! What a session has proved is one value, [`AuthState`], stored under one
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

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tower_sessions::{Expiry, Session};
use uuid::Uuid;

use crate::crypto::random;
use crate::error::PageError;
use crate::service::Origin;
use crate::service::recovery::Recovery;
use crate::state::AppState;
use crate::store::users::{AccountStatus, User};

// A new name for the new shape: sessions stored before it read as anonymous.
const AUTH: &str = "stage";
const CSRF: &str = "csrf";
const RECOVERY: &str = "recovery";
const REAUTH: &str = "authorize_reauth";
const FLASH: &str = "flash";

/// Idle lifetime of a session nobody has signed into yet.
const ANONYMOUS_IDLE: time::Duration = time::Duration::minutes(30);
/// How long a sign-in may wait for its SMS code (seconds).
const STEP_UP_FOR: i64 = 600;

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
}

/// What the session has proved (not yet checked against the account).
#[derive(Debug, Clone)]
pub enum AuthState {
    Anonymous,
    StepUpOwed(Pending),
    SignedIn(SignedIn),
}

impl AuthState {
    /// The sign-in in force, if any: a pending step-up keeps the earlier one.
    pub fn signed_in(&self) -> Option<&SignedIn> {
        match self {
            AuthState::Anonymous => None,
            AuthState::SignedIn(s) => Some(s),
            AuthState::StepUpOwed(p) => p.earlier.as_ref(),
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

/// A one-shot notice for the page the browser is sent to next: a POST that
/// succeeded redirects (post-redirect-get) and the page says what happened,
/// in the language of the page that shows it.
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
}

pub fn unix_ms(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// The browser session of a hosted page.
#[derive(Clone)]
pub struct WebSession(Session);

impl FromRequestParts<AppState> for WebSession {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Session::from_request_parts(parts, state)
            .await
            .map(WebSession)
            .map_err(|_| PageError::Internal("session layer missing".into()))
    }
}

impl WebSession {
    // ── what the session has proved ────────────────────────────────────

    /// The stored state, unchecked.
    pub async fn auth(&self) -> Result<AuthState, PageError> {
        Ok(match self.0.get::<Stage>(AUTH).await? {
            None => AuthState::Anonymous,
            Some(Stage::SignedIn(s)) => AuthState::SignedIn(s),
            Some(Stage::StepUpOwed(p)) => AuthState::StepUpOwed(p),
        })
    }

    /// The account this session is signed in as, without asking the
    /// database (cheap; for decisions that check the account later).
    pub async fn signed_in_id(&self) -> Result<Option<Uuid>, PageError> {
        Ok(self.auth().await?.signed_in().map(|s| s.user_id))
    }

    /// The signed-in user, if the sign-in still holds: the account exists,
    /// is active, and its session epoch has not moved (password change,
    /// disabling, revocation). A sign-in that no longer holds ends the
    /// whole session.
    pub async fn current_user(
        &self,
        state: &AppState,
    ) -> Result<Option<(User, SignedIn)>, PageError> {
        let Some(signed) = self.auth().await?.signed_in().cloned() else {
            return Ok(None);
        };
        match state.store.user_by_id(signed.user_id).await? {
            Some(user)
                if user.status == AccountStatus::Active && user.session_epoch == signed.epoch =>
            {
                Ok(Some((user, signed)))
            }
            _ => {
                self.sign_out().await?;
                Ok(None)
            }
        }
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
        let previous = self.auth().await?.signed_in().cloned();
        let sid = match previous {
            Some(prev) if prev.user_id == user.id => prev.sid,
            Some(prev) => {
                if let Some(old) = state.store.user_by_id(prev.user_id).await? {
                    crate::service::logout::end_session(state, &old, Some(&prev.sid), origin)
                        .await?;
                }
                random::token()?
            }
            None => random::token()?,
        };
        self.0.cycle_id().await?;
        let idle = time::Duration::minutes(i64::from(state.config.session.idle_minutes));
        self.0.set_expiry(Some(Expiry::OnInactivity(idle)));
        let now = OffsetDateTime::now_utc();
        let signed = SignedIn {
            user_id: user.id,
            epoch: user.session_epoch,
            auth_time: now.unix_timestamp(),
            auth_ms: unix_ms(now),
            amr,
            sid,
        };
        self.0.insert(AUTH, Stage::SignedIn(signed)).await?;
        self.0.insert(CSRF, random::token()?).await?;
        Ok(())
    }

    /// Parks a sign-in until the phone is proved. The session id changes:
    /// a correct password was given, and a session id planted before must
    /// not share what follows (the masked phone, sending codes).
    pub async fn owe_step_up(&self, user: &User, return_to: &str) -> Result<(), PageError> {
        let earlier = self.auth().await?.signed_in().cloned();
        let pending = Pending {
            user_id: user.id,
            epoch: user.session_epoch,
            return_to: return_to.to_string(),
            since: OffsetDateTime::now_utc().unix_timestamp(),
            earlier,
        };
        self.0.cycle_id().await?;
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
        let AuthState::StepUpOwed(p) = self.auth().await? else {
            return Ok(None);
        };
        match state.store.user_by_id(p.user_id).await? {
            Some(user)
                if user.status == AccountStatus::Active
                    && user.session_epoch == p.epoch
                    && OffsetDateTime::now_utc().unix_timestamp() - p.since <= STEP_UP_FOR =>
            {
                Ok(Some((user, p)))
            }
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

    /// The CSRF token of this session, created on first use.
    pub async fn csrf_token(&self) -> Result<String, PageError> {
        if let Some(token) = self.0.get::<String>(CSRF).await? {
            return Ok(token);
        }
        let token = random::token()?;
        if matches!(self.auth().await?, AuthState::Anonymous) {
            // A session that only carries a CSRF token (a login form left
            // open) is cheap to create; keep it short-lived.
            self.0
                .set_expiry(Some(Expiry::OnInactivity(ANONYMOUS_IDLE)));
        }
        self.0.insert(CSRF, token.clone()).await?;
        Ok(token)
    }

    /// Compares a submitted CSRF token with the session's (constant time).
    pub async fn check_csrf(&self, submitted: &str) -> Result<(), PageError> {
        match self.0.get::<String>(CSRF).await? {
            Some(expected)
                if random::constant_time_eq(expected.as_bytes(), submitted.as_bytes()) =>
            {
                Ok(())
            }
            _ => Err(PageError::Csrf),
        }
    }

    // ── a recovery in progress ─────────────────────────────────────────

    /// The recovery this browser is doing, while it is live.
    pub async fn recovery(&self) -> Result<Option<Recovery>, PageError> {
        Ok(self
            .0
            .get::<Recovery>(RECOVERY)
            .await?
            .filter(Recovery::is_live))
    }

    /// Stores the recovery's progress under a new session id: a session
    /// planted in this browser (say, by a sibling subdomain) must not
    /// follow a recovery that starts or proves the code.
    pub async fn advance_recovery(&self, recovery: &Recovery) -> Result<(), PageError> {
        self.0.cycle_id().await?;
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
            .0
            .get::<Reauth>(REAUTH)
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

    // ── post-redirect-get ──────────────────────────────────────────────

    pub async fn flash(&self, notice: Flash) -> Result<(), PageError> {
        self.0.insert(FLASH, notice).await?;
        Ok(())
    }

    /// The notice left for this page, if any; it is shown once.
    pub async fn take_flash(&self) -> Result<Option<Flash>, PageError> {
        Ok(self.0.remove::<Flash>(FLASH).await?)
    }
}
