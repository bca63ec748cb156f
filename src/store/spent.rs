//! Single-use and revocation facts that must survive the ephemeral store:
//! a revoked access token, a redeemed authorization code (and the grant it
//! produced), a used client-assertion `jti`, a used or withdrawn ticket. Redis or the in-process store
//! may lose its data (a flush, a restart, a failover to a lagging replica);
//! these facts then still hold, so a revoked token stays revoked and a spent
//! value stays spent.
//!
//! Each check is one primary-key lookup. Each row carries the Unix second
//! after which it no longer matters (the token, code or assertion has
//! expired by then). A write is one statement (no purge on the token
//! endpoint's path): an expired row in the way is taken over by the new one,
//! and [`Store::purge_spent`], run now and then by every node, deletes the
//! expired rows through the `expires_at` indexes, so the tables stay as
//! small as the live set.

use uuid::Uuid;

use super::{Store, StoreError, on_db};

/// The tables of spent facts, each with an `expires_at` column.
const SPENT_TABLES: [&str; 4] = [
    "revoked_access_tokens",
    "redeemed_codes",
    "used_client_assertions",
    "spent_tickets",
];

impl Store {
    fn spent_now(&self) -> i64 {
        self.now().unix_timestamp()
    }

    /// Records that the access token `jti` is revoked until `expires_at`
    /// (its own `exp`). Revoking it again changes nothing.
    pub async fn revoke_access_token(&self, jti: &str, expires_at: i64) -> Result<(), StoreError> {
        on_db!(self, pool => sqlx::query(
            "INSERT INTO revoked_access_tokens (jti, expires_at) VALUES ($1, $2) \
             ON CONFLICT (jti) DO NOTHING",
        )
        .bind(jti)
        .bind(expires_at)
        .execute(pool)
        .await?
        .rows_affected());
        Ok(())
    }

    /// Whether the access token `jti` was revoked.
    pub async fn access_token_revoked(&self, jti: &str) -> Result<bool, StoreError> {
        let row: Option<(i64,)> = on_db!(self, pool => sqlx::query_as(
            "SELECT expires_at FROM revoked_access_tokens WHERE jti = $1",
        )
        .bind(jti)
        .fetch_optional(pool)
        .await?);
        Ok(row.is_some())
    }

    /// Claims the authorization code with this hash for `grant_id`, the
    /// grant its redemption is about to create. `false` when the code was
    /// claimed before (a replay): nothing is changed then.
    pub async fn claim_code(
        &self,
        code_hash: &str,
        grant_id: Uuid,
        expires_at: i64,
    ) -> Result<bool, StoreError> {
        let now = self.spent_now();
        let n = on_db!(self, pool => sqlx::query(
            "INSERT INTO redeemed_codes (code_hash, grant_id, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (code_hash) DO UPDATE SET grant_id = excluded.grant_id, \
             expires_at = excluded.expires_at, replayed = FALSE \
             WHERE redeemed_codes.expires_at < $4",
        )
        .bind(code_hash)
        .bind(grant_id)
        .bind(expires_at)
        .bind(now)
        .execute(pool)
        .await?
        .rows_affected());
        Ok(n == 1)
    }

    /// Withdraws a claim that found no code to redeem (unknown or expired).
    pub async fn unclaim_code(&self, code_hash: &str, grant_id: Uuid) -> Result<(), StoreError> {
        on_db!(self, pool => sqlx::query(
            "DELETE FROM redeemed_codes WHERE code_hash = $1 AND grant_id = $2",
        )
        .bind(code_hash)
        .bind(grant_id)
        .execute(pool)
        .await?
        .rows_affected());
        Ok(())
    }

    /// A claimed code came back: marks it replayed and returns the grant
    /// its redemption made (to be revoked); `None` when it was never
    /// redeemed, or so long ago that the record is gone.
    pub async fn code_replayed(&self, code_hash: &str) -> Result<Option<Uuid>, StoreError> {
        let now = self.spent_now();
        Ok(on_db!(self, pool => sqlx::query_scalar::<_, Uuid>(
            "UPDATE redeemed_codes SET replayed = TRUE \
             WHERE code_hash = $1 AND expires_at >= $2 RETURNING grant_id",
        )
        .bind(code_hash)
        .bind(now)
        .fetch_optional(pool)
        .await?))
    }

    /// Whether the code was presented again after it was claimed.
    pub async fn code_was_replayed(&self, code_hash: &str) -> Result<bool, StoreError> {
        let row: Option<bool> = on_db!(self, pool => sqlx::query_scalar(
            "SELECT replayed FROM redeemed_codes WHERE code_hash = $1",
        )
        .bind(code_hash)
        .fetch_optional(pool)
        .await?);
        Ok(row.unwrap_or(false))
    }

    /// Records the client assertion `jti` of `client_id` as used until
    /// `expires_at`; `false` when it was used before (a replay). A row
    /// whose time is over no longer counts (it is purged first).
    pub async fn use_client_assertion(
        &self,
        client_id: &str,
        jti: &str,
        expires_at: i64,
    ) -> Result<bool, StoreError> {
        let now = self.spent_now();
        let n = on_db!(self, pool => sqlx::query(
            "INSERT INTO used_client_assertions (client_id, jti, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (client_id, jti) DO UPDATE SET expires_at = excluded.expires_at \
             WHERE used_client_assertions.expires_at < $4",
        )
        .bind(client_id)
        .bind(jti)
        .bind(expires_at)
        .bind(now)
        .execute(pool)
        .await?
        .rows_affected());
        Ok(n == 1)
    }

    /// Records the ticket with this fingerprint as used or withdrawn until
    /// `expires_at` (when it would have expired anyway); `false` when it was
    /// already (only one caller can use a ticket).
    pub async fn spend_ticket(
        &self,
        fingerprint: &str,
        expires_at: i64,
    ) -> Result<bool, StoreError> {
        let now = self.spent_now();
        let n = on_db!(self, pool => sqlx::query(
            "INSERT INTO spent_tickets (fingerprint, expires_at) VALUES ($1, $2) \
             ON CONFLICT (fingerprint) DO UPDATE SET expires_at = excluded.expires_at \
             WHERE spent_tickets.expires_at < $3",
        )
        .bind(fingerprint)
        .bind(expires_at)
        .bind(now)
        .execute(pool)
        .await?
        .rows_affected());
        Ok(n == 1)
    }

    /// Whether the ticket with this fingerprint was used or withdrawn.
    pub async fn ticket_spent(&self, fingerprint: &str) -> Result<bool, StoreError> {
        let row: Option<(i64,)> = on_db!(self, pool => sqlx::query_as(
            "SELECT expires_at FROM spent_tickets WHERE fingerprint = $1",
        )
        .bind(fingerprint)
        .fetch_optional(pool)
        .await?);
        Ok(row.is_some())
    }

    /// Deletes the rows whose time is over from the four tables; returns
    /// how many went. Safe on several nodes at once.
    pub async fn purge_spent(&self) -> Result<u64, StoreError> {
        let now = self.spent_now();
        let mut gone = 0;
        for table in SPENT_TABLES {
            let sql = format!("DELETE FROM {table} WHERE expires_at < $1");
            gone += on_db!(self, pool => sqlx::query(&sql).bind(now).execute(pool).await?.rows_affected());
        }
        Ok(gone)
    }

    /// How many rows the four tables hold (for tests of the purge).
    #[doc(hidden)]
    pub async fn spent_row_counts(&self) -> Result<[i64; 4], StoreError> {
        let mut out = [0; 4];
        for (slot, table) in out.iter_mut().zip(SPENT_TABLES) {
            let sql = format!("SELECT COUNT(*) FROM {table}");
            *slot = on_db!(self, pool => sqlx::query_scalar::<_, i64>(&sql).fetch_one(pool).await?);
        }
        Ok(out)
    }
}
