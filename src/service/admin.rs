//! What the console and the management API read: account search, the
//! dashboard figures, the audit log. (Changes go through `accounts`,
//! `clients` and the key ring, which audit them.)

use super::organizations::AdminScope;
use crate::state::AppState;
use crate::store::StoreError;
use crate::store::audit::{AuditFilter, AuditRow};
use crate::store::users::{AccountStatus, User};

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
