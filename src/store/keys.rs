//! Signing keys (private parts possibly encrypted by the caller).

use sqlx::FromRow;
use time::OffsetDateTime;

use super::{BeginWrite, Store, StoreError, on_db};

#[derive(Clone, FromRow)]
pub struct KeyRow {
    pub kid: String,
    pub alg: String,
    pub private_key: Vec<u8>,
    pub encrypted: bool,
    pub created_at: OffsetDateTime,
    pub retired_at: Option<OffsetDateTime>,
}

impl Store {
    pub async fn insert_key(&self, k: &KeyRow) -> Result<(), StoreError> {
        on_db!(self, pool => sqlx::query(
            "INSERT INTO signing_keys (kid, alg, private_key, encrypted, created_at, retired_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&k.kid)
        .bind(&k.alg)
        .bind(&k.private_key)
        .bind(k.encrypted)
        .bind(k.created_at)
        .bind(k.retired_at)
        .execute(pool)
        .await
        .map(|_| ())?);
        Ok(())
    }

    /// Keys still usable: active ones and those retired after `retired_since`.
    pub async fn usable_keys(
        &self,
        retired_since: OffsetDateTime,
    ) -> Result<Vec<KeyRow>, StoreError> {
        Ok(on_db!(self, pool => sqlx::query_as::<_, KeyRow>(
            "SELECT kid, alg, private_key, encrypted, created_at, retired_at FROM signing_keys \
             WHERE retired_at IS NULL OR retired_at > $1 ORDER BY created_at DESC, kid",
        )
        .bind(retired_since)
        .fetch_all(pool)
        .await?))
    }

    pub async fn all_keys(&self) -> Result<Vec<KeyRow>, StoreError> {
        Ok(on_db!(self, pool => sqlx::query_as::<_, KeyRow>(
            "SELECT kid, alg, private_key, encrypted, created_at, retired_at FROM signing_keys ORDER BY created_at DESC, kid",
        )
        .fetch_all(pool)
        .await?))
    }

    /// Adds `new` and schedules every other active key of its algorithm to
    /// retire at `retire_at`, in one transaction.
    pub async fn rotate_key(
        &self,
        new: &KeyRow,
        retire_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query("UPDATE signing_keys SET retired_at = $2 WHERE alg = $1 AND retired_at IS NULL")
                .bind(&new.alg)
                .bind(retire_at)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO signing_keys (kid, alg, private_key, encrypted, created_at, retired_at) VALUES ($1, $2, $3, $4, $5, NULL)",
            )
            .bind(&new.kid)
            .bind(&new.alg)
            .bind(&new.private_key)
            .bind(new.encrypted)
            .bind(new.created_at)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(())
    }
}
