//! Application-specific passwords (`app_passwords`): created under a limit,
//! found by their MAC, touched on use, revoked one by one or all at once.
//! The rules are in `service::app_passwords`.

use serde_json::json;
use sqlx::FromRow;
use time::OffsetDateTime;
use uuid::Uuid;

use super::audit::{NewAuditEvent, insert_audit};
use super::{BeginWrite, Store, StoreError, on_db};

/// An application password as the lists show it (never its MAC).
#[derive(Debug, Clone, FromRow)]
pub struct AppPasswordRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub client_id: String,
    /// The client's names (read with the row).
    pub client_name: String,
    pub client_name_en: Option<String>,
    pub label: String,
    pub key_id: String,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
    pub last_used_ip: Option<String>,
    pub revoked_at: Option<OffsetDateTime>,
    pub revoked_reason: Option<String>,
}

/// A password to store: everything but the secret, which only its MAC
/// stands for.
#[derive(Debug, Clone)]
pub struct NewAppPassword {
    pub id: Uuid,
    pub user_id: Uuid,
    pub client_id: String,
    pub label: String,
    pub key_id: String,
    pub mac: String,
}

const COLUMNS: &str = "p.id, p.user_id, p.client_id, c.name AS client_name, c.name_en AS client_name_en, \
    p.label, p.key_id, p.created_at, p.last_used_at, p.last_used_ip, p.revoked_at, p.revoked_reason";

/// Revokes every active password of account `$1` at `$2` for reason `$3`;
/// run inside the transaction of the change that demands it (a password
/// reset or recovery, a completed review case).
pub(super) const REVOKE_ALL: &str = "UPDATE app_passwords SET revoked_at = $2, revoked_reason = $3 \
     WHERE user_id = $1 AND revoked_at IS NULL";

/// The audit entry of a revocation of all, naming how many went.
pub(super) fn revoked_all_audit(template: &NewAuditEvent, count: u64) -> NewAuditEvent {
    let mut a = template.clone();
    if let Some(detail) = a.detail.as_object_mut() {
        detail.insert("count".into(), json!(count));
    }
    a
}

/// What [`Store::insert_app_password`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    Created,
    /// The account already has this many active passwords.
    LimitReached,
}

impl Store {
    /// Stores a new password unless the account already has `max_active`
    /// active ones, with its audit entry, in one transaction. The account
    /// row is locked first (a no-op update), so two creations at once
    /// cannot both pass the count.
    pub async fn insert_app_password(
        &self,
        new: &NewAppPassword,
        max_active: i64,
        audit: &NewAuditEvent,
    ) -> Result<Inserted, StoreError> {
        let now = self.now();
        let result: Result<Inserted, sqlx::Error> = on_db!(self, pool => async {
            let mut tx = pool.begin_write().await?;
            sqlx::query("UPDATE users SET version = version WHERE id = $1")
                .bind(new.user_id)
                .execute(&mut *tx)
                .await?;
            let active: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM app_passwords WHERE user_id = $1 AND revoked_at IS NULL",
            )
            .bind(new.user_id)
            .fetch_one(&mut *tx)
            .await?;
            if active >= max_active {
                tx.rollback().await?;
                return Ok(Inserted::LimitReached);
            }
            sqlx::query(
                "INSERT INTO app_passwords (id, user_id, client_id, label, key_id, mac, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(new.id)
            .bind(new.user_id)
            .bind(&new.client_id)
            .bind(&new.label)
            .bind(&new.key_id)
            .bind(&new.mac)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            insert_audit!(&mut *tx, audit, now)?;
            tx.commit().await?;
            Ok(Inserted::Created)
        }.await);
        result
            .map_err(|e| StoreError::from_write(e, &["app_passwords", "mac"]).into_conflict("mac"))
    }

    /// The account's passwords, newest first: the active ones, or all.
    pub async fn app_passwords_of(
        &self,
        user_id: Uuid,
        include_revoked: bool,
    ) -> Result<Vec<AppPasswordRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM app_passwords p JOIN clients c ON c.id = p.client_id \
             WHERE p.user_id = $1 AND ($2 OR p.revoked_at IS NULL) ORDER BY p.created_at DESC, p.id"
        );
        Ok(
            on_db!(self, pool => sqlx::query_as::<_, AppPasswordRow>(&sql)
            .bind(user_id)
            .bind(include_revoked)
            .fetch_all(pool)
            .await?),
        )
    }

    /// The password whose MAC is one of `macs` (one per server key), active
    /// or not: one lookup in the unique index.
    pub async fn app_password_by_mac(
        &self,
        macs: &[String],
    ) -> Result<Option<AppPasswordRow>, StoreError> {
        if macs.is_empty() {
            return Ok(None);
        }
        let marks: Vec<String> = (1..=macs.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT {COLUMNS} FROM app_passwords p JOIN clients c ON c.id = p.client_id \
             WHERE p.mac IN ({}) LIMIT 1",
            marks.join(", ")
        );
        Ok(on_db!(self, pool => {
            let mut q = sqlx::query_as::<_, AppPasswordRow>(&sql);
            for m in macs {
                q = q.bind(m);
            }
            q.fetch_optional(pool).await?
        }))
    }

    /// Records a use of password `id` from `ip`.
    pub async fn touch_app_password(&self, id: Uuid, ip: Option<&str>) -> Result<(), StoreError> {
        let now = self.now();
        on_db!(self, pool => {
            sqlx::query(
                "UPDATE app_passwords SET last_used_at = $2, last_used_ip = $3 WHERE id = $1",
            )
            .bind(id)
            .bind(now)
            .bind(ip)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Revokes the active password `id` of account `user_id`, with its
    /// audit entry; `false` when there is no such active password.
    pub async fn revoke_app_password(
        &self,
        user_id: Uuid,
        id: Uuid,
        reason: &str,
        audit: &NewAuditEvent,
    ) -> Result<bool, StoreError> {
        let now = self.now();
        let n = on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let n = sqlx::query(
                "UPDATE app_passwords SET revoked_at = $3, revoked_reason = $4 \
                 WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL",
            )
            .bind(id)
            .bind(user_id)
            .bind(now)
            .bind(reason)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n > 0 {
                insert_audit!(&mut *tx, audit, now)?;
            }
            tx.commit().await?;
            n
        });
        Ok(n > 0)
    }

    /// Revokes every active password of the account; the audit entry (with
    /// the count) is written when there were any.
    pub async fn revoke_app_passwords(
        &self,
        user_id: Uuid,
        reason: &str,
        audit: &NewAuditEvent,
    ) -> Result<u64, StoreError> {
        let now = self.now();
        Ok(on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let n = sqlx::query(REVOKE_ALL)
                .bind(user_id)
                .bind(now)
                .bind(reason)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n > 0 {
                insert_audit!(&mut *tx, &revoked_all_audit(audit, n), now)?;
            }
            tx.commit().await?;
            n
        }))
    }

    /// The server secrets whose name starts with `prefix` (name, value).
    pub async fn server_secrets_named(
        &self,
        prefix: &str,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        Ok(on_db!(self, pool => sqlx::query_as::<_, (String, Vec<u8>)>(
            "SELECT name, value FROM server_secrets WHERE substr(name, 1, length($1)) = $1 ORDER BY name",
        )
        .bind(prefix)
        .fetch_all(pool)
        .await?))
    }
}
