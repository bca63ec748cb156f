//! The rules of a browser sign-in, apart from where the browser keeps it
//! (`crate::session`): whether a sign-in still holds, how long a sign-in
//! may wait for its SMS code, what happens to the session's earlier
//! sign-in when someone signs in, and the registry of sign-ins per account
//! (`/account/sessions`: list them, end one, end all others).
//!
//! A sign-in holds while the account is active with the same session
//! epoch, it is younger than `session.absolute_hours`, and its row in the
//! registry (`store::sign_ins`) is there. Ending a row therefore signs that
//! browser out at its next request, on whichever node serves it.

use std::time::Duration;

use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use super::audit::{Entry, Outcome};
use super::{Actor, Origin};
use crate::crypto::random;
use crate::domain::Device;
use crate::state::AppState;
use crate::store::StoreError;
use crate::store::sign_ins::{DeadBefore, NewSignIn, SignInRow};
use crate::store::users::{AccountStatus, User};

/// How long a sign-in may wait for its SMS code.
pub const STEP_UP_FOR: Duration = Duration::from_secs(600);

/// A sign-in's last activity is written when it is at least this old, so
/// a busy browser costs one write every few minutes, not one per request.
pub const TOUCH_EVERY_SECS: i64 = 300;

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("random: {0}")]
    Random(#[from] getrandom::Error),
}

/// The account a sign-in names, if the sign-in still holds: the account
/// exists, is active, and its session epoch has not moved since (a
/// password change, disabling or revocation moves it).
pub async fn holder(
    state: &AppState,
    user_id: Uuid,
    epoch: i64,
) -> Result<Option<User>, StoreError> {
    Ok(state
        .store
        .user_by_id(user_id)
        .await?
        .filter(|u| u.status == AccountStatus::Active && u.session_epoch == epoch))
}

/// A sign-in as the browser's session states it.
#[derive(Debug, Clone, Copy)]
pub struct Claim<'a> {
    pub user_id: Uuid,
    pub epoch: i64,
    pub sid: &'a str,
    /// Unix time of the authentication.
    pub auth_time: i64,
    /// Whether the sign-in was recorded in the registry when it was made
    /// (sessions signed in before the registry existed were not).
    pub listed: bool,
}

/// A sign-in that holds.
#[derive(Debug)]
pub struct Holding {
    pub user: User,
    /// The sign-in predates the registry and was recorded just now: the
    /// session should remember that it is listed.
    pub newly_listed: bool,
}

/// Rows that can no longer be live at `now`: older than the absolute
/// lifetime, or unused for longer than the idle time (plus the touch
/// interval, as the stored last activity lags by up to that much).
fn dead_before(state: &AppState, now: i64) -> DeadBefore {
    let session = &state.config.session;
    DeadBefore {
        signed_in_before: now - session.absolute().whole_seconds(),
        active_before: now - session.idle().whole_seconds() - TOUCH_EVERY_SECS,
    }
}

/// Whether the sign-in `claim` still holds, and for whom: the account is
/// active with the same epoch ([`holder`]), the sign-in is younger than
/// `session.absolute_hours` whatever its activity, and it has not been
/// ended (its registry row is there). Notes its activity every
/// [`TOUCH_EVERY_SECS`].
pub async fn sign_in_holds(
    state: &AppState,
    claim: Claim<'_>,
) -> Result<Option<Holding>, StoreError> {
    let now = state.clock.now().unix_timestamp();
    if now.saturating_sub(claim.auth_time) >= state.config.session.absolute().whole_seconds() {
        return Ok(None);
    }
    let Some(user) = holder(state, claim.user_id, claim.epoch).await? else {
        return Ok(None);
    };
    match state.store.sign_in_by_sid(claim.sid).await? {
        Some(row) if row.user_id == claim.user_id => {
            if now - row.last_active_at >= TOUCH_EVERY_SECS {
                state.store.touch_sign_in(claim.sid, now).await?;
            }
            Ok(Some(Holding {
                user,
                newly_listed: false,
            }))
        }
        Some(_) => Ok(None),
        // Ended (from the sessions page, by a sign-out elsewhere) …
        None if claim.listed => Ok(None),
        // … or made before the registry existed: recorded now, so an
        // upgrade signs nobody out (the device is not known).
        None => {
            let handle = random::token()
                .map_err(|e| StoreError::Db(sqlx::Error::Protocol(e.to_string())))?;
            state
                .store
                .record_sign_in(
                    &NewSignIn {
                        sid: claim.sid,
                        handle: &handle,
                        user_id: claim.user_id,
                        epoch: claim.epoch,
                        at: claim.auth_time,
                        ip: None,
                        user_agent: None,
                    },
                    dead_before(state, now),
                )
                .await?;
            state.store.touch_sign_in(claim.sid, now).await?;
            Ok(Some(Holding {
                user,
                newly_listed: true,
            }))
        }
    }
}

/// The `sid` (OIDC session id) a new sign-in of `user` gets in a browser
/// whose session so far was `previous`. Signing in again as the same
/// account keeps the sid, so relying parties that joined the session still
/// hear of its end — unless that sign-in was ended meanwhile (its sid is
/// spent); another account's session is ended first, back-channel logout
/// included.
pub async fn sid_for(
    state: &AppState,
    user: &User,
    previous: Option<Claim<'_>>,
    origin: &Origin,
) -> Result<String, SessionError> {
    match previous {
        Some(p) if p.user_id == user.id => {
            let live = !p.listed || state.store.sign_in_by_sid(p.sid).await?.is_some();
            if live {
                Ok(p.sid.to_string())
            } else {
                Ok(random::token()?)
            }
        }
        Some(p) => {
            if let Some(old) = state.store.user_by_id(p.user_id).await? {
                super::logout::end_session(state, &old, Some(p.sid), origin).await?;
            }
            Ok(random::token()?)
        }
        None => Ok(random::token()?),
    }
}

/// Records the sign-in `sid` of `user` made at `at` (Unix seconds) from
/// `origin`, in the registry.
pub async fn record(
    state: &AppState,
    user: &User,
    sid: &str,
    at: i64,
    origin: &Origin,
) -> Result<(), SessionError> {
    let handle = random::token()?;
    let user_agent: Option<String> = origin
        .user_agent
        .as_ref()
        .map(|ua| ua.chars().take(512).collect());
    state
        .store
        .record_sign_in(
            &NewSignIn {
                sid,
                handle: &handle,
                user_id: user.id,
                epoch: user.session_epoch,
                at,
                ip: origin.ip.as_deref(),
                user_agent: user_agent.as_deref(),
            },
            dead_before(state, at),
        )
        .await?;
    Ok(())
}

/// Forgets the registry rows of every account that can no longer be live
/// (their sessions have ended by time). Run now and then by each node.
pub async fn sweep(state: &AppState) -> Result<u64, StoreError> {
    let now = state.clock.now().unix_timestamp();
    state.store.sweep_sign_ins(dead_before(state, now)).await
}

/// One live sign-in of the account, as the sessions page shows it.
#[derive(Debug, Clone)]
pub struct SignInView {
    /// Names the sign-in in the page's forms.
    pub handle: String,
    pub device: Device,
    pub ip: Option<String>,
    pub signed_in_at: OffsetDateTime,
    pub last_active_at: OffsetDateTime,
    /// The sign-in of the browser asking.
    pub current: bool,
}

fn at(unix: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(unix).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// The account's live sign-ins, the asking browser's (`current_sid`) first.
/// Sign-ins of an earlier session epoch (ended by a password change or
/// reset, or by disabling) and those past their lifetime are not live.
pub async fn list(
    state: &AppState,
    user: &User,
    current_sid: &str,
) -> Result<Vec<SignInView>, StoreError> {
    let now = state.clock.now().unix_timestamp();
    let rows = state
        .store
        .live_sign_ins(user.id, user.session_epoch, dead_before(state, now))
        .await?;
    let mut views: Vec<SignInView> = rows
        .into_iter()
        .map(|r| SignInView {
            current: r.sid == current_sid,
            device: Device::from_user_agent(r.user_agent.as_deref()),
            signed_in_at: at(r.signed_in_at),
            last_active_at: at(r.last_active_at.max(r.signed_in_at)),
            handle: r.handle,
            ip: r.ip,
        })
        .collect();
    views.sort_by_key(|v| !v.current);
    Ok(views)
}

#[derive(Debug, thiserror::Error)]
pub enum EndError {
    /// No live sign-in of this account has that handle (ended already,
    /// or never this account's).
    #[error("no such sign-in")]
    NotFound,
    /// The asking browser's own sign-in: that is what signing out is for.
    #[error("the current sign-in")]
    Current,
    #[error("{0}")]
    Store(#[from] StoreError),
}

fn described(row: &SignInRow) -> serde_json::Value {
    let device = Device::from_user_agent(row.user_agent.as_deref());
    json!({
        "browser": device.browser,
        "os": device.os,
        "ip": row.ip,
        "signed_in_at": row.signed_in_at,
    })
}

/// Ends the account's sign-in `handle` (another browser): its row goes
/// with an audit entry, that browser is signed out at its next request,
/// and the applications of that session hear of it (back-channel logout).
pub async fn end_one(
    state: &AppState,
    user: &User,
    handle: &str,
    current_sid: &str,
    origin: &Origin,
) -> Result<(), EndError> {
    let Some(row) = state.store.sign_in_by_handle(user.id, handle).await? else {
        return Err(EndError::NotFound);
    };
    if row.sid == current_sid {
        return Err(EndError::Current);
    }
    let audit = Entry::new("session.ended", Outcome::Success)
        .actor(&Actor::user(user))
        .subject(user)
        .origin(origin)
        .detail(described(&row))
        .finish();
    if !state.store.end_sign_in(user.id, &row.sid, &audit).await? {
        return Err(EndError::NotFound);
    }
    super::logout::sign_ins_ended(state, vec![row.sid]).await;
    Ok(())
}

/// Ends every sign-in of the account but the asking browser's
/// (`current_sid`), with one audit entry; returns how many ended.
pub async fn end_others(
    state: &AppState,
    user: &User,
    current_sid: &str,
    origin: &Origin,
) -> Result<usize, StoreError> {
    let audit = Entry::new("session.others_ended", Outcome::Success)
        .actor(&Actor::user(user))
        .subject(user)
        .origin(origin)
        .finish();
    let sids = state
        .store
        .end_other_sign_ins(user.id, current_sid, &audit)
        .await?;
    let n = sids.len();
    super::logout::sign_ins_ended(state, sids).await;
    Ok(n)
}

/// When the account signed in before the sign-in made at `auth_time`
/// (the page's "上次登录"): the newest successful password sign-in but
/// one up to that moment, from the audit log — the newest is the current
/// sign-in's own.
pub async fn previous_sign_in(
    state: &AppState,
    user_id: Uuid,
    auth_time: i64,
) -> Result<Option<OffsetDateTime>, StoreError> {
    let until = OffsetDateTime::from_unix_timestamp(auth_time.saturating_add(1))
        .unwrap_or_else(|_| state.clock.now());
    let rows = state
        .audit
        .list(&crate::store::audit::AuditFilter {
            subject_id: Some(user_id),
            event: Some("login.success".into()),
            until: Some(until),
            limit: 2,
            ..Default::default()
        })
        .await?;
    Ok(rows.get(1).map(|r| r.at))
}
