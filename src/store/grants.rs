//! Grants (one per authorization code redemption), their refresh-token
//! family, remembered consents, and the clients seen in a browser session.

use sqlx::FromRow;
use time::OffsetDateTime;
use uuid::Uuid;

use super::audit::{NewAuditEvent, insert_audit};
use super::{BeginWrite, Store, StoreError, on_db};

#[derive(Debug, Clone, FromRow)]
pub struct GrantRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub client_id: String,
    pub scope: String,
    pub sid: Option<String>,
    pub auth_time: i64,
    pub acr: Option<String>,
    pub amr: String,
    pub locale: Option<String>,
    pub created_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
    /// The `claims` request parameter the grant was made with (JSON).
    pub claims: Option<String>,
    /// The DPoP key (RFC 7638 thumbprint) the grant's refresh tokens are
    /// bound to: set for public clients that used DPoP (RFC 9449 §5).
    pub dpop_jkt: Option<String>,
}

#[derive(Debug, Clone, FromRow)]
pub struct RefreshRow {
    pub token_hash: String,
    pub grant_id: Uuid,
    pub expires_at: OffsetDateTime,
    pub used_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, FromRow)]
pub struct ConsentRow {
    pub client_id: String,
    pub scope: String,
    pub granted_at: OffsetDateTime,
}

const GRANT_COLUMNS: &str = "id, user_id, client_id, scope, sid, auth_time, acr, amr, locale, created_at, revoked_at, claims, dpop_jkt";

impl Store {
    /// Creates a grant and, optionally, its first refresh token, atomically.
    pub async fn insert_grant(
        &self,
        g: &GrantRow,
        refresh: Option<(&str, OffsetDateTime)>,
    ) -> Result<(), StoreError> {
        on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query(
                "INSERT INTO grants (id, user_id, client_id, scope, sid, auth_time, acr, amr, locale, created_at, claims, dpop_jkt) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            )
            .bind(g.id)
            .bind(g.user_id)
            .bind(&g.client_id)
            .bind(&g.scope)
            .bind(&g.sid)
            .bind(g.auth_time)
            .bind(&g.acr)
            .bind(&g.amr)
            .bind(&g.locale)
            .bind(g.created_at)
            .bind(&g.claims)
            .bind(&g.dpop_jkt)
            .execute(&mut *tx)
            .await?;
            if let Some((hash, expires)) = refresh {
                sqlx::query("INSERT INTO refresh_tokens (token_hash, grant_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
                    .bind(hash)
                    .bind(g.id)
                    .bind(g.created_at)
                    .bind(expires)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Binds a grant's refresh tokens to a DPoP key, once (RFC 9449 §5).
    pub async fn bind_grant_to_key(&self, id: Uuid, jkt: &str) -> Result<(), StoreError> {
        on_db!(self, pool => sqlx::query(
            "UPDATE grants SET dpop_jkt = $2 WHERE id = $1 AND dpop_jkt IS NULL",
        )
        .bind(id)
        .bind(jkt)
        .execute(pool)
        .await?
        .rows_affected());
        Ok(())
    }

    pub async fn grant(&self, id: Uuid) -> Result<Option<GrantRow>, StoreError> {
        let sql = format!("SELECT {GRANT_COLUMNS} FROM grants WHERE id = $1");
        Ok(
            on_db!(self, pool => sqlx::query_as::<_, GrantRow>(&sql).bind(id).fetch_optional(pool).await?),
        )
    }

    /// Revokes a grant (and so every token issued under it). Returns
    /// whether it was active before.
    pub async fn revoke_grant(&self, id: Uuid, reason: &str) -> Result<bool, StoreError> {
        let now = self.now();
        let n = on_db!(self, pool => sqlx::query(
            "UPDATE grants SET revoked_at = $2, revoked_reason = $3 WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(id)
        .bind(now)
        .bind(reason)
        .execute(pool)
        .await?
        .rows_affected());
        Ok(n > 0)
    }

    /// Revokes every active grant of a user (sessions and tokens revoked).
    pub async fn revoke_user_grants(&self, user_id: Uuid, reason: &str) -> Result<u64, StoreError> {
        let now = self.now();
        Ok(on_db!(self, pool => sqlx::query(
            "UPDATE grants SET revoked_at = $2, revoked_reason = $3 WHERE user_id = $1 AND revoked_at IS NULL",
        )
        .bind(user_id)
        .bind(now)
        .bind(reason)
        .execute(pool)
        .await?
        .rows_affected()))
    }

    pub async fn refresh_token(&self, hash: &str) -> Result<Option<RefreshRow>, StoreError> {
        Ok(on_db!(self, pool => sqlx::query_as::<_, RefreshRow>(
            "SELECT token_hash, grant_id, expires_at, used_at FROM refresh_tokens WHERE token_hash = $1",
        )
        .bind(hash)
        .fetch_optional(pool)
        .await?))
    }

    /// Marks `old` used and stores `new` in one transaction. Returns false
    /// (and changes nothing) when `old` was already used — a replay.
    pub async fn rotate_refresh_token(
        &self,
        old: &str,
        new: &str,
        grant: Uuid,
        expires: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let now = self.now();
        on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let n = sqlx::query("UPDATE refresh_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL")
                .bind(old)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n == 0 {
                tx.rollback().await?;
                return Ok(false);
            }
            sqlx::query("INSERT INTO refresh_tokens (token_hash, grant_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
                .bind(new)
                .bind(grant)
                .bind(now)
                .bind(expires)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(true)
    }

    pub async fn consent(
        &self,
        user_id: Uuid,
        client_id: &str,
    ) -> Result<Option<ConsentRow>, StoreError> {
        Ok(on_db!(self, pool => sqlx::query_as::<_, ConsentRow>(
            "SELECT client_id, scope, granted_at FROM consents WHERE user_id = $1 AND client_id = $2",
        )
        .bind(user_id)
        .bind(client_id)
        .fetch_optional(pool)
        .await?))
    }

    pub async fn consents(&self, user_id: Uuid) -> Result<Vec<ConsentRow>, StoreError> {
        Ok(on_db!(self, pool => sqlx::query_as::<_, ConsentRow>(
            "SELECT client_id, scope, granted_at FROM consents WHERE user_id = $1 ORDER BY client_id",
        )
        .bind(user_id)
        .fetch_all(pool)
        .await?))
    }

    /// Records (or widens) a consent; the audit entry commits with it.
    pub async fn save_consent(
        &self,
        user_id: Uuid,
        client_id: &str,
        scope: &str,
        audit: &NewAuditEvent,
    ) -> Result<(), StoreError> {
        let now = self.now();
        on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query(
                "INSERT INTO consents (user_id, client_id, scope, granted_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (user_id, client_id) DO UPDATE SET scope = excluded.scope, granted_at = excluded.granted_at",
            )
            .bind(user_id)
            .bind(client_id)
            .bind(scope)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            insert_audit!(&mut *tx, audit, now)?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Withdraws a consent and revokes the grants made under it; the audit
    /// entry is written only when there was a consent, in the same
    /// transaction.
    /// Withdraws a consent: the consent goes, the grants made under it are
    /// revoked, and the browser sessions the client took part in are taken
    /// out (returned as sids, for back-channel logout after the commit),
    /// with the audit entry, in one transaction. `None` when there was no
    /// such consent (nothing is changed then).
    pub async fn delete_consent(
        &self,
        user_id: Uuid,
        client_id: &str,
        audit: &NewAuditEvent,
    ) -> Result<Option<Vec<String>>, StoreError> {
        let now = self.now();
        Ok(on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let n = sqlx::query("DELETE FROM consents WHERE user_id = $1 AND client_id = $2")
                .bind(user_id)
                .bind(client_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n == 0 {
                tx.rollback().await?;
                None
            } else {
                sqlx::query(
                    "UPDATE grants SET revoked_at = $3, revoked_reason = 'consent withdrawn' \
                     WHERE user_id = $1 AND client_id = $2 AND revoked_at IS NULL",
                )
                .bind(user_id)
                .bind(client_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                let sids: Vec<String> = sqlx::query_scalar(
                    "DELETE FROM rp_sessions WHERE user_id = $1 AND client_id = $2 RETURNING sid",
                )
                .bind(user_id)
                .bind(client_id)
                .fetch_all(&mut *tx)
                .await?;
                insert_audit!(&mut *tx, audit, now)?;
                tx.commit().await?;
                Some(sids)
            }
        }))
    }

    pub async fn add_rp_session(
        &self,
        sid: &str,
        client_id: &str,
        user_id: Uuid,
    ) -> Result<(), StoreError> {
        let now = self.now();
        on_db!(self, pool => sqlx::query(
            "INSERT INTO rp_sessions (sid, client_id, user_id, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (sid, client_id) DO NOTHING",
        )
        .bind(sid)
        .bind(client_id)
        .bind(user_id)
        .bind(now)
        .execute(pool)
        .await
        .map(|_| ())?);
        Ok(())
    }

    /// Removes and returns the clients that took part in a session.
    pub async fn take_rp_sessions(&self, sid: &str) -> Result<Vec<(String, Uuid)>, StoreError> {
        // One statement: a client joining the session meanwhile is either
        // returned (and told of the logout) or stays for the next one.
        Ok(on_db!(self, pool => sqlx::query_as(
            "DELETE FROM rp_sessions WHERE sid = $1 RETURNING client_id, user_id",
        )
        .bind(sid)
        .fetch_all(pool)
        .await?))
    }
}

impl Store {
    /// Removes and returns every (sid, client) of a user's sessions.
    pub async fn take_user_rp_sessions(
        &self,
        user_id: Uuid,
    ) -> Result<Vec<(String, String)>, StoreError> {
        // One statement, like `take_rp_sessions`.
        Ok(on_db!(self, pool => sqlx::query_as(
            "DELETE FROM rp_sessions WHERE user_id = $1 RETURNING sid, client_id",
        )
        .bind(user_id)
        .fetch_all(pool)
        .await?))
    }
}
