//! What the console and the management API read: account search, the
//! dashboard figures, the audit log. (Changes go through `accounts`,
//! `clients` and the key ring, which audit them.)

use time::OffsetDateTime;
use uuid::Uuid;

use super::accounts::AccountError;
use super::organizations::AdminScope;
use crate::state::AppState;
use crate::store::StoreError;
use crate::store::audit::{AuditFilter, AuditRow};
use crate::store::users::{AccountStatus, User};

/// What an administrator does with an account. The system administrator
/// does all of it; an organization administrator what [`delegated`] says,
/// to the accounts its scope covers ([`AdminScope::covers`]).
///
/// [`delegated`]: AccountAction::delegated
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountAction {
    /// Search, and read one account.
    View,
    /// Demand a login phone binding at the next sign-in.
    RequirePhoneBinding,
    /// Set a new password (generated or given).
    ResetPassword,
    /// Lift the weak-password blocks.
    LiftBlocks,
    /// Create an account.
    Create,
    /// Change the profile, the organization or the roles.
    EditProfile,
    /// Disable or enable.
    ChangeStatus,
    /// Demand a password change at the next sign-in.
    ForcePasswordChange,
    /// End every session and revoke every token.
    RevokeSessions,
    /// Show the full phone numbers.
    RevealPhones,
}

impl AccountAction {
    /// What organization administrators may do too (所邮箱管理员: search,
    /// view, reset passwords, lift blocks, require phone binding).
    pub fn delegated(self) -> bool {
        matches!(
            self,
            AccountAction::View
                | AccountAction::RequirePhoneBinding
                | AccountAction::ResetPassword
                | AccountAction::LiftBlocks
        )
    }
}

/// Whether `scope` may do `action` at all (to the accounts it covers).
/// A refusal here is a missing right (403), not a missing account.
pub fn permits(scope: &AdminScope, action: AccountAction) -> bool {
    scope.is_all() || action.delegated()
}

/// The account `id` as `scope` may see it. An account outside the scope
/// is [`AccountError::NotFound`], exactly as an account that does not
/// exist, so an organization administrator learns nothing of others'
/// accounts. Every surface reads an account for an administrator here.
pub async fn account(state: &AppState, scope: &AdminScope, id: Uuid) -> Result<User, AccountError> {
    let user = super::accounts::by_id(state, id).await?;
    if !scope.covers(&user) {
        return Err(AccountError::NotFound);
    }
    Ok(user)
}

/// Pages beyond this are refused (and offsets cannot overflow).
pub const MAX_PAGE: i64 = 1_000_000;
pub const MAX_PER_PAGE: i64 = 200;

/// Accounts within `scope` matching `q` on page `page` (1-based) of
/// `per_page`, and the total.
pub async fn search_users(
    state: &AppState,
    scope: &AdminScope,
    q: &str,
    page: i64,
    per_page: i64,
) -> Result<(Vec<User>, i64), StoreError> {
    let page = page.clamp(1, MAX_PAGE);
    let per_page = per_page.clamp(1, MAX_PER_PAGE);
    let text: String = q.trim().chars().take(100).collect();
    state
        .store
        .search_users(
            &text,
            scope.organizations(),
            per_page,
            (page - 1) * per_page,
        )
        .await
}

/// The console's overview: the figures an operator looks at first.
pub struct Dashboard {
    pub total: i64,
    pub disabled: i64,
    /// Since midnight in `display.time_zone`.
    pub today: Today,
    /// Account identifiers locked now by wrong passwords.
    pub locked: i64,
    /// Review cases waiting for a reviewer (`reviewing::WAITING`).
    pub pending_cases: i64,
    /// When the signing key that has signed longest is due for rotation
    /// (`oidc.key_rotation_days` after it was made); `None` when not
    /// watched or there is no key yet.
    pub key_rotation_due: Option<OffsetDateTime>,
    /// The latest failures and account changes.
    pub events: Vec<AuditRow>,
}

/// Counts of today's audit entries.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Today {
    pub sign_ins: i64,
    pub failed_sign_ins: i64,
    /// Text messages that went out: codes and notices.
    pub sms_sent: i64,
}

/// The audit events that are a text message handed to the SMS provider.
const SMS_SENT: [&str; 3] = [
    "sms.code_sent",
    "sms.notice_sent",
    "sms.retrieval_code_sent",
];

impl Today {
    fn of(counts: &[(String, String, i64)]) -> Today {
        let mut today = Today::default();
        for (event, outcome, n) in counts {
            match (event.as_str(), outcome.as_str()) {
                ("login.success", _) => today.sign_ins += n,
                ("login.failure", _) => today.failed_sign_ins += n,
                (e, "success") if SMS_SENT.contains(&e) => today.sms_sent += n,
                _ => {}
            }
        }
        today
    }
}

/// Midnight today in `tz`, for "today" figures.
pub fn start_of_day(now: OffsetDateTime, tz: &jiff::tz::TimeZone) -> OffsetDateTime {
    jiff::Timestamp::from_second(now.unix_timestamp())
        .ok()
        .and_then(|t| t.to_zoned(tz.clone()).start_of_day().ok())
        .and_then(|z| OffsetDateTime::from_unix_timestamp(z.timestamp().as_second()).ok())
        .unwrap_or(now)
}

pub async fn dashboard(state: &AppState) -> Result<Dashboard, StoreError> {
    let now = state.clock.now();
    let counts = state
        .audit
        .counts_since(start_of_day(now, &state.time_zone))
        .await?;
    let pending_cases = state
        .store
        .open_case_counts()
        .await?
        .iter()
        .filter(|(_, s, _)| super::reviewing::WAITING.iter().any(|w| w.as_str() == s))
        .map(|(_, _, n)| n)
        .sum();
    Ok(Dashboard {
        total: state.store.count_users().await?,
        disabled: state
            .store
            .count_users_with_status(AccountStatus::Disabled)
            .await?,
        today: Today::of(&counts),
        locked: locked_now(state, now).await?,
        pending_cases,
        key_rotation_due: key_rotation_due(state, now).await?,
        events: state
            .audit
            .list(&AuditFilter {
                security_only: true,
                limit: 20,
                ..AuditFilter::default()
            })
            .await?,
    })
}

/// Account identifiers whose lock has not run out: read from the lockout
/// entries of the longest lock's span, as each states its length (the
/// locks themselves live in the ephemeral store, by hashed key).
async fn locked_now(state: &AppState, now: OffsetDateTime) -> Result<i64, StoreError> {
    let longest = state.config.login_limits.max_delay_secs as i64;
    let rows = state
        .audit
        .list(&AuditFilter {
            event: Some("login.lockout".into()),
            since: Some(now - time::Duration::seconds(longest)),
            limit: 1000,
            ..AuditFilter::default()
        })
        .await?;
    let locked: std::collections::HashSet<String> = rows
        .into_iter()
        .filter_map(|r| {
            let detail: serde_json::Value = serde_json::from_str(&r.detail).ok()?;
            let secs = detail.get("lock_secs")?.as_i64()?;
            let ends = r.at + time::Duration::seconds(secs);
            (detail.get("scope")?.as_str()? == "account" && ends > now)
                .then(|| r.subject.unwrap_or_default())
        })
        .collect();
    Ok(locked.len() as i64)
}

/// When the oldest key still signing reaches `oidc.key_rotation_days`.
async fn key_rotation_due(
    state: &AppState,
    now: OffsetDateTime,
) -> Result<Option<OffsetDateTime>, StoreError> {
    let days = state.config.oidc.key_rotation_days;
    if days == 0 {
        return Ok(None);
    }
    // A key scheduled to retire (rotated, in its grace) no longer counts.
    let keys = state.store.usable_keys(now).await?;
    Ok(keys
        .iter()
        .filter(|k| k.retired_at.is_none())
        .map(|k| k.created_at + time::Duration::days(days as i64))
        .min())
}

pub async fn audit(state: &AppState, filter: &AuditFilter) -> Result<Vec<AuditRow>, StoreError> {
    state.audit.list(filter).await
}

/// One page of the audit log for a reader moving through it: the rows,
/// newest first, and the bounds of the pages on either side.
pub struct AuditPage {
    pub rows: Vec<AuditRow>,
    /// `after` of the next newer page (none: this is the newest).
    pub newer: Option<i64>,
    /// `before` of the next older page (none: nothing older).
    pub older: Option<i64>,
}

/// The page of `filter` (its `limit` rows) just older than `before` or,
/// with `after`, just newer than `after`; the newest page without either.
pub async fn audit_page(
    state: &AppState,
    filter: AuditFilter,
    before: Option<i64>,
    after: Option<i64>,
) -> Result<AuditPage, StoreError> {
    let limit = filter.limit.clamp(1, 999);
    let wanted = AuditFilter {
        before_id: if after.is_some() { None } else { before },
        after_id: after,
        // One more than shown tells whether there is more that way.
        limit: limit + 1,
        ..filter
    };
    let mut rows = state.audit.list(&wanted).await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    if after.is_some() {
        rows.reverse();
        // Came forwards from an older page: that one is still there.
        Ok(AuditPage {
            newer: more.then(|| rows.first().map(|r| r.id)).flatten(),
            older: rows.last().map(|r| r.id),
            rows,
        })
    } else {
        Ok(AuditPage {
            newer: before.and(rows.first().map(|r| r.id)),
            older: more.then(|| rows.last().map(|r| r.id)).flatten(),
            rows,
        })
    }
}

/// An account by name, for filters typed by an admin.
pub async fn user_by_name(state: &AppState, name: &str) -> Result<Option<User>, StoreError> {
    state
        .store
        .user_by_username(&name.trim().to_lowercase())
        .await
}
