//! Blocks of an account for an application (`account_blocks`): set,
//! looked up, lifted and listed. The rules are in `service::blocks`.

use serde_json::json;
use sqlx::FromRow;
use time::OffsetDateTime;
use uuid::Uuid;

use super::audit::{NewAuditEvent, insert_audit};
use super::{BeginWrite, Store, StoreError, on_db};
use crate::domain::BlockReason;

/// An active block, as the one lookup answers it.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct ActiveBlock {
    /// The client it is for (`*`: every client).
    pub client_id: String,
    #[sqlx(try_from = "String")]
    pub reason: BlockReason,
}

/// A blocked account with one of its active blocks, as the lists show it.
#[derive(Debug, Clone, FromRow)]
pub struct BlockedAccount {
    pub id: i64,
    pub user_id: Uuid,
    pub username: String,
    pub display_name: String,
    pub organization: Option<String>,
    pub organization_id: Option<Uuid>,
    pub client_id: String,
    /// The client's name (none for `*` or a client since removed).
    pub client_name: Option<String>,
    #[sqlx(try_from = "String")]
    pub reason: BlockReason,
    pub created_at: OffsetDateTime,
    pub created_by: String,
}

/// Which blocked accounts to list, newest block first.
#[derive(Debug, Clone, Default)]
pub struct BlockFilter {
    /// Only blocks for this client (not `*` ones unless it is `*`).
    pub client_id: Option<String>,
    /// Only accounts of these organizations (an organization
    /// administrator's scope); `None`: all.
    pub within: Option<Vec<Uuid>>,
    pub limit: i64,
    pub offset: i64,
}

/// What setting blocks did.
#[derive(Debug, Default)]
pub struct BlocksSet {
    /// The clients newly blocked (already blocked ones are not repeated).
    pub clients: Vec<String>,
    /// The browser sessions (sid, client) those clients took part in, taken
    /// out for back-channel logout.
    pub rp_sessions: Vec<(String, String)>,
    /// Grants (with their refresh and access tokens) revoked.
    pub revoked_grants: u64,
}

/// Lifts the active blocks of account `$1` at `$2` by `$3` whose reason is
/// `$4` (every reason when NULL); returns the clients lifted.
pub(super) const LIFT_BLOCKS: &str = "UPDATE account_blocks SET lifted_at = $2, lifted_by = $3 \
     WHERE user_id = $1 AND lifted_at IS NULL AND ($4 IS NULL OR reason = $4) RETURNING client_id";

/// The audit entry of a lift, naming the clients lifted (only written when
/// there were any).
pub(super) fn unblock_audit(audit: &NewAuditEvent, lifted: &[String]) -> NewAuditEvent {
    let mut a = audit.clone();
    if let Some(detail) = a.detail.as_object_mut() {
        detail.insert("client_ids".into(), json!(lifted));
    }
    a
}

impl Store {
    /// The active block, if any, of `user_id` for `client_id` or for every
    /// client: one lookup in the `account_blocks_active` index.
    pub async fn active_block(
        &self,
        user_id: Uuid,
        client_id: &str,
    ) -> Result<Option<ActiveBlock>, StoreError> {
        Ok(on_db!(self, pool => sqlx::query_as::<_, ActiveBlock>(
            "SELECT client_id, reason FROM account_blocks \
             WHERE user_id = $1 AND client_id IN ($2, '*') AND lifted_at IS NULL \
             ORDER BY client_id, reason LIMIT 1",
        )
        .bind(user_id)
        .bind(client_id)
        .fetch_optional(pool)
        .await?))
    }

    /// The active blocks of an account.
    pub async fn active_blocks_of(&self, user_id: Uuid) -> Result<Vec<ActiveBlock>, StoreError> {
        Ok(on_db!(self, pool => sqlx::query_as::<_, ActiveBlock>(
            "SELECT client_id, reason FROM account_blocks \
             WHERE user_id = $1 AND lifted_at IS NULL ORDER BY client_id, reason",
        )
        .bind(user_id)
        .fetch_all(pool)
        .await?))
    }

    /// Blocks `user_id` for each of `clients` with `reason`, in one
    /// transaction: a block already active is not set twice; the grants of
    /// every listed client are revoked (refresh and access tokens stop
    /// working) and its browser sessions are taken out (the caller sends
    /// back-channel logout after the commit). `force_change` also demands a
    /// new password at the next step of the account's sign-in.
    /// `audit` is given the clients newly blocked and says what to log
    /// (nothing when it returns `None`).
    pub async fn add_blocks(
        &self,
        user_id: Uuid,
        clients: &[String],
        reason: BlockReason,
        created_by: &str,
        force_change: bool,
        audit: impl FnOnce(&[String]) -> Option<NewAuditEvent>,
    ) -> Result<BlocksSet, StoreError> {
        let now = self.now();
        let revoke_reason = format!("account blocked: {reason}");
        on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let mut set = BlocksSet::default();
            for client in clients {
                let n = sqlx::query(
                    "INSERT INTO account_blocks (user_id, client_id, reason, created_at, created_by) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                )
                .bind(user_id)
                .bind(client)
                .bind(reason.as_str())
                .bind(now)
                .bind(created_by)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if n > 0 {
                    set.clients.push(client.clone());
                }
                set.revoked_grants += sqlx::query(
                    "UPDATE grants SET revoked_at = $3, revoked_reason = $4 \
                     WHERE user_id = $1 AND client_id = $2 AND revoked_at IS NULL",
                )
                .bind(user_id)
                .bind(client)
                .bind(now)
                .bind(&revoke_reason)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                let sids: Vec<String> = sqlx::query_scalar(
                    "DELETE FROM rp_sessions WHERE user_id = $1 AND client_id = $2 RETURNING sid",
                )
                .bind(user_id)
                .bind(client)
                .fetch_all(&mut *tx)
                .await?;
                set.rp_sessions
                    .extend(sids.into_iter().map(|sid| (sid, client.clone())));
            }
            if force_change {
                sqlx::query(
                    "UPDATE users SET must_change_password = TRUE, updated_at = $2, version = version + 1 \
                     WHERE id = $1 AND must_change_password = FALSE",
                )
                .bind(user_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            if let Some(entry) = audit(&set.clients) {
                insert_audit!(&mut *tx, &entry, now)?;
            }
            tx.commit().await?;
            Ok(set)
        })
    }

    /// Lifts the active blocks of `user_id` with `reason` (every reason
    /// when `None`), with `audit` (naming the clients lifted; written only
    /// when there were any). Returns the clients lifted.
    pub async fn lift_blocks(
        &self,
        user_id: Uuid,
        reason: Option<BlockReason>,
        lifted_by: &str,
        audit: &NewAuditEvent,
    ) -> Result<Vec<String>, StoreError> {
        let now = self.now();
        on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let mut lifted: Vec<String> = sqlx::query_scalar(LIFT_BLOCKS)
                .bind(user_id)
                .bind(now)
                .bind(lifted_by)
                .bind(reason.map(BlockReason::as_str))
                .fetch_all(&mut *tx)
                .await?;
            lifted.sort();
            lifted.dedup();
            if !lifted.is_empty() {
                insert_audit!(&mut *tx, &unblock_audit(audit, &lifted), now)?;
            }
            tx.commit().await?;
            Ok(lifted)
        })
    }

    /// Active blocks with their accounts, newest first, and how many there
    /// are in all.
    pub async fn list_blocks(
        &self,
        f: &BlockFilter,
    ) -> Result<(Vec<BlockedAccount>, i64), StoreError> {
        let scope = match f.within.as_deref() {
            None => "TRUE".to_string(),
            Some([]) => "FALSE".to_string(),
            // What `AdminScope::covers` says: the organizations' accounts
            // without administrative rights (as the account search).
            Some(ids) => format!(
                "u.organization_id IN ({}) AND NOT u.is_admin AND u.roles = ''",
                (0..ids.len())
                    .map(|i| format!("${}", i + 2))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let n = f.within.as_ref().map_or(0, Vec::len);
        let from = format!(
            "FROM account_blocks b JOIN users u ON u.id = b.user_id \
             WHERE b.lifted_at IS NULL AND ($1 IS NULL OR b.client_id = $1) AND {scope}"
        );
        let list_sql = format!(
            "SELECT b.id, b.user_id, u.username, u.display_name, \
             (SELECT o.full_name FROM organizations o WHERE o.id = u.organization_id) AS organization, \
             u.organization_id, b.client_id, (SELECT c.name FROM clients c WHERE c.id = b.client_id) AS client_name, \
             b.reason, b.created_at, b.created_by {from} \
             ORDER BY b.created_at DESC, b.id DESC LIMIT ${} OFFSET ${}",
            n + 2,
            n + 3
        );
        let count_sql = format!("SELECT COUNT(*) {from}");
        let ids = f.within.clone().unwrap_or_default();
        Ok(on_db!(self, pool => {
            let mut list = sqlx::query_as::<_, BlockedAccount>(&list_sql).bind(f.client_id.as_deref());
            let mut count = sqlx::query_scalar::<_, i64>(&count_sql).bind(f.client_id.as_deref());
            for id in &ids {
                list = list.bind(*id);
                count = count.bind(*id);
            }
            let rows = list.bind(f.limit).bind(f.offset).fetch_all(pool).await?;
            let total: i64 = count.fetch_one(pool).await?;
            (rows, total)
        }))
    }
}
