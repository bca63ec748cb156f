//! What the console and the management API read: account search, the
//! dashboard figures, the audit log. (Changes go through `accounts`,
//! `clients` and the key ring, which audit them.)

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

pub struct Dashboard {
    pub total: i64,
    pub disabled: i64,
    /// The latest failures and account changes.
    pub events: Vec<AuditRow>,
}

pub async fn dashboard(state: &AppState) -> Result<Dashboard, StoreError> {
    Ok(Dashboard {
        total: state.store.count_users().await?,
        disabled: state
            .store
            .count_users_with_status(AccountStatus::Disabled)
            .await?,
        events: state
            .store
            .list_audit(&AuditFilter {
                security_only: true,
                limit: 20,
                ..AuditFilter::default()
            })
            .await?,
    })
}

pub async fn audit(state: &AppState, filter: &AuditFilter) -> Result<Vec<AuditRow>, StoreError> {
    state.store.list_audit(filter).await
}

/// An account by name, for filters typed by an admin.
pub async fn user_by_name(state: &AppState, name: &str) -> Result<Option<User>, StoreError> {
    state
        .store
        .user_by_username(&name.trim().to_lowercase())
        .await
}
