//! The registry of browser sign-ins (`sign_ins`): one row per OIDC
//! session id, so a person can see where they are signed in and end a
//! sign-in on another device, and every node sees the end at once.
//! Times are Unix seconds (see the migration).

use sqlx::FromRow;
use uuid::Uuid;

use super::audit::{NewAuditEvent, insert_audit};
use super::{BeginWrite, Store, StoreError, on_db};

#[derive(Debug, Clone, FromRow)]
pub struct SignInRow {
    pub sid: String,
    /// What the sessions page names the row by (the sid itself is never
    /// shown: relying parties know it).
    pub handle: String,
    pub user_id: Uuid,
    pub epoch: i64,
    pub signed_in_at: i64,
    pub last_active_at: i64,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// A sign-in to record.
#[derive(Debug, Clone)]
pub struct NewSignIn<'a> {
    pub sid: &'a str,
    /// Used when the row is new; a sid signed into again keeps its handle.
    pub handle: &'a str,
    pub user_id: Uuid,
    pub epoch: i64,
    pub at: i64,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
}

/// Which rows are past their end, whatever their sessions say: signed in
/// before `signed_in_before`, or unused since before `active_before`.
#[derive(Debug, Clone, Copy)]
pub struct DeadBefore {
    pub signed_in_before: i64,
    pub active_before: i64,
}

const COLUMNS: &str = "sid, handle, user_id, epoch, signed_in_at, last_active_at, ip, user_agent";

impl Store {
    /// Records a sign-in (or a new sign-in of the same account under the
    /// same sid: its time, epoch and device are renewed), and forgets this
    /// account's rows that can no longer be live.
    pub async fn record_sign_in(
        &self,
        s: &NewSignIn<'_>,
        dead: DeadBefore,
    ) -> Result<(), StoreError> {
        on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query(
                "DELETE FROM sign_ins WHERE user_id = $1 AND sid <> $2 \
                 AND (epoch <> $3 OR signed_in_at < $4 OR last_active_at < $5)",
            )
            .bind(s.user_id)
            .bind(s.sid)
            .bind(s.epoch)
            .bind(dead.signed_in_before)
            .bind(dead.active_before)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO sign_ins (sid, handle, user_id, epoch, signed_in_at, last_active_at, ip, user_agent) \
                 VALUES ($1, $2, $3, $4, $5, $5, $6, $7) \
                 ON CONFLICT (sid) DO UPDATE SET user_id = $3, epoch = $4, signed_in_at = $5, \
                 last_active_at = $5, ip = $6, user_agent = $7",
            )
            .bind(s.sid)
            .bind(s.handle)
            .bind(s.user_id)
            .bind(s.epoch)
            .bind(s.at)
            .bind(s.ip)
            .bind(s.user_agent)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn sign_in_by_sid(&self, sid: &str) -> Result<Option<SignInRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM sign_ins WHERE sid = $1");
        Ok(on_db!(self, pool => sqlx::query_as::<_, SignInRow>(&sql)
            .bind(sid)
            .fetch_optional(pool)
            .await?))
    }

    /// The account's row named `handle` on the sessions page.
    pub async fn sign_in_by_handle(
        &self,
        user_id: Uuid,
        handle: &str,
    ) -> Result<Option<SignInRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM sign_ins WHERE user_id = $1 AND handle = $2");
        Ok(on_db!(self, pool => sqlx::query_as::<_, SignInRow>(&sql)
            .bind(user_id)
            .bind(handle)
            .fetch_optional(pool)
            .await?))
    }

    /// Notes activity on a sign-in (done every few minutes, not per request).
    pub async fn touch_sign_in(&self, sid: &str, at: i64) -> Result<(), StoreError> {
        on_db!(self, pool => sqlx::query("UPDATE sign_ins SET last_active_at = $2 WHERE sid = $1 AND last_active_at < $2")
            .bind(sid)
            .bind(at)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(())
    }

    /// The account's sign-ins of session epoch `epoch` that are not past
    /// `dead`, most recently active first.
    pub async fn live_sign_ins(
        &self,
        user_id: Uuid,
        epoch: i64,
        dead: DeadBefore,
    ) -> Result<Vec<SignInRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM sign_ins WHERE user_id = $1 AND epoch = $2 \
             AND signed_in_at >= $3 AND last_active_at >= $4 \
             ORDER BY last_active_at DESC, signed_in_at DESC"
        );
        Ok(on_db!(self, pool => sqlx::query_as::<_, SignInRow>(&sql)
            .bind(user_id)
            .bind(epoch)
            .bind(dead.signed_in_before)
            .bind(dead.active_before)
            .fetch_all(pool)
            .await?))
    }

    /// Ends the sign-in `sid` (a sign-out): its row goes.
    pub async fn delete_sign_in(&self, sid: &str) -> Result<(), StoreError> {
        on_db!(self, pool => sqlx::query("DELETE FROM sign_ins WHERE sid = $1")
            .bind(sid)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(())
    }

    /// Ends the account's sign-in `sid` with its audit entry, in one
    /// transaction. `false` (and no entry) when it had ended already.
    pub async fn end_sign_in(
        &self,
        user_id: Uuid,
        sid: &str,
        audit: &NewAuditEvent,
    ) -> Result<bool, StoreError> {
        let now = self.now();
        Ok(on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let n = sqlx::query("DELETE FROM sign_ins WHERE user_id = $1 AND sid = $2")
                .bind(user_id)
                .bind(sid)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n == 0 {
                tx.rollback().await?;
                false
            } else {
                insert_audit!(&mut *tx, audit, now)?;
                tx.commit().await?;
                true
            }
        }))
    }

    /// Ends every sign-in of the account but `keep_sid`, with the audit
    /// entry (its detail gains the count), in one transaction. Returns the
    /// sids ended.
    pub async fn end_other_sign_ins(
        &self,
        user_id: Uuid,
        keep_sid: &str,
        audit: &NewAuditEvent,
    ) -> Result<Vec<String>, StoreError> {
        let now = self.now();
        Ok(on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let sids: Vec<(String,)> =
                sqlx::query_as("SELECT sid FROM sign_ins WHERE user_id = $1 AND sid <> $2")
                    .bind(user_id)
                    .bind(keep_sid)
                    .fetch_all(&mut *tx)
                    .await?;
            sqlx::query("DELETE FROM sign_ins WHERE user_id = $1 AND sid <> $2")
                .bind(user_id)
                .bind(keep_sid)
                .execute(&mut *tx)
                .await?;
            let mut audit = audit.clone();
            if let Some(detail) = audit.detail.as_object_mut() {
                detail.insert("ended".into(), sids.len().into());
            }
            insert_audit!(&mut *tx, &audit, now)?;
            tx.commit().await?;
            sids.into_iter().map(|(sid,)| sid).collect()
        }))
    }

    /// Forgets every row past `dead` (housekeeping; their sessions have
    /// ended by then anyway). Returns how many.
    pub async fn sweep_sign_ins(&self, dead: DeadBefore) -> Result<u64, StoreError> {
        Ok(on_db!(self, pool => sqlx::query(
            "DELETE FROM sign_ins WHERE signed_in_at < $1 OR last_active_at < $2",
        )
        .bind(dead.signed_in_before)
        .bind(dead.active_before)
        .execute(pool)
        .await?
        .rows_affected()))
    }
}
