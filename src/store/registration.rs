//! Initial access tokens for dynamic client registration (RFC 7591 §3).
//! Spending one happens with the registration it allows
//! ([`Store::insert_registered_client`]); the rules are in
//! `service::registration`.

use sqlx::FromRow;
use time::OffsetDateTime;
use uuid::Uuid;

use super::audit::{NewAuditEvent, insert_audit};
use super::{BeginWrite, Store, StoreError, found, on_db};

/// An initial access token as lists show it (never its hash).
#[derive(Debug, Clone, FromRow)]
pub struct RegistrationToken {
    pub id: Uuid,
    pub description: Option<String>,
    pub uses_allowed: i64,
    pub uses_left: i64,
    /// Unix seconds, by the application's clock.
    pub expires_at: i64,
    pub created_at: OffsetDateTime,
    pub created_by: String,
    pub revoked_at: Option<OffsetDateTime>,
}

/// A token to store: its hash stands for the token itself.
#[derive(Debug, Clone)]
pub struct NewRegistrationToken {
    pub id: Uuid,
    pub token_hash: String,
    pub description: Option<String>,
    pub uses: i64,
    pub expires_at: i64,
    pub created_by: String,
}

const COLUMNS: &str =
    "id, description, uses_allowed, uses_left, expires_at, created_at, created_by, revoked_at";

impl Store {
    /// Stores a new initial access token with its audit entry.
    pub async fn insert_registration_token(
        &self,
        t: &NewRegistrationToken,
        audit: &NewAuditEvent,
    ) -> Result<(), StoreError> {
        let now = self.now();
        on_db!(self, pool => async {
            let mut tx = pool.begin_write().await?;
            sqlx::query(
                "INSERT INTO registration_tokens (id, token_hash, description, uses_allowed, uses_left, expires_at, created_at, created_by) \
                 VALUES ($1, $2, $3, $4, $4, $5, $6, $7)",
            )
            .bind(t.id)
            .bind(&t.token_hash)
            .bind(&t.description)
            .bind(t.uses)
            .bind(t.expires_at)
            .bind(now)
            .bind(&t.created_by)
            .execute(&mut *tx)
            .await?;
            insert_audit!(&mut *tx, audit, now)?;
            tx.commit().await
        }.await)
        .map_err(|e| StoreError::from_write(e, &["registration_tokens", "token_hash"]))
    }

    /// Every initial access token, newest first.
    pub async fn registration_tokens(&self) -> Result<Vec<RegistrationToken>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM registration_tokens ORDER BY created_at DESC, id");
        Ok(
            on_db!(self, pool => sqlx::query_as::<_, RegistrationToken>(&sql).fetch_all(pool).await?),
        )
    }

    /// The token with this hash, whatever its state.
    pub async fn registration_token_by_hash(
        &self,
        token_hash: &str,
    ) -> Result<Option<RegistrationToken>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM registration_tokens WHERE token_hash = $1");
        Ok(
            on_db!(self, pool => sqlx::query_as::<_, RegistrationToken>(&sql)
            .bind(token_hash)
            .fetch_optional(pool)
            .await?),
        )
    }

    /// Revokes a token that is not revoked yet; [`StoreError::NotFound`]
    /// when there is no such token or it was revoked before.
    pub async fn revoke_registration_token(
        &self,
        id: Uuid,
        audit: &NewAuditEvent,
    ) -> Result<(), StoreError> {
        let now = self.now();
        let n = on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let n = sqlx::query(
                "UPDATE registration_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
            )
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n > 0 {
                insert_audit!(&mut *tx, audit, now)?;
            }
            tx.commit().await?;
            n
        });
        found(n)
    }
}
