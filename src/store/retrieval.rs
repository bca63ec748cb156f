//! The organization-verified password retrieval's own tables (migration
//! 0015): its one-time codes, the organizations the public registers, and
//! the lookups the flow needs beside the review-case engine's.

use sqlx::FromRow;
use time::OffsetDateTime;
use uuid::Uuid;

use super::audit::{NewAuditEvent, insert_audit};
use super::review::{
    CASE_COLUMNS, Case, CaseKind, CaseState, NewCaseEvent, NewDocument, insert_event,
};
use super::users::{COLUMNS as USER_COLUMNS, User};
use super::{BeginWrite, Db, Store, StoreError, on_db};

/// A stored retrieval code.
#[derive(Clone, FromRow)]
pub struct StoredCode {
    pub case_id: Uuid,
    pub salt: String,
    pub code_hash: String,
    pub expires_at: OffsetDateTime,
    pub tries: i64,
}

impl std::fmt::Debug for StoredCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredCode")
            .field("case_id", &self.case_id)
            .field("tries", &self.tries)
            .finish_non_exhaustive()
    }
}

/// Who registered a pending organization.
#[derive(Debug, Clone, FromRow)]
pub struct Registration {
    pub organization_id: Uuid,
    pub contact_name: String,
    pub contact_phone: String,
    pub created_at: OffsetDateTime,
}

impl Store {
    /// The case with this public number (a retrieval's case number).
    pub async fn case_by_public_number(&self, number: &str) -> Result<Option<Case>, StoreError> {
        let sql = format!("SELECT {CASE_COLUMNS} FROM review_cases WHERE public_number = $1");
        Ok(on_db!(self, pool => sqlx::query_as::<_, Case>(&sql)
            .bind(number)
            .fetch_optional(pool)
            .await?))
    }

    /// Stores one document in its slot of the case's current revision,
    /// replacing what was there, if the case is still at `read_version`
    /// and in `state` (the check and the write are one transaction; the
    /// version does not move, so a reviewer's page does not go stale by
    /// an upload). `Stale` when the case changed meanwhile.
    pub async fn put_case_document(
        &self,
        case: &Case,
        read_version: i64,
        document: &NewDocument,
        event: &NewCaseEvent,
        audit: &NewAuditEvent,
    ) -> Result<(), StoreError> {
        let now = self.now();
        let changed: Result<u64, sqlx::Error> = on_db!(self, pool => async {
            let mut tx = pool.begin_write().await?;
            let n = sqlx::query(
                "UPDATE review_cases SET updated_at = $3 WHERE id = $1 AND version = $2 AND revision = $4 AND state = $5",
            )
            .bind(case.id)
            .bind(read_version)
            .bind(now)
            .bind(document.revision)
            .bind(case.state.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 0 {
                tx.rollback().await?;
                return Ok(0);
            }
            sqlx::query("DELETE FROM case_documents WHERE case_id = $1 AND revision = $2 AND slot = $3")
                .bind(case.id)
                .bind(document.revision)
                .bind(document.slot)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO case_documents (case_id, revision, slot, kek_id, wrapped_key, ciphertext, width, height, byte_len, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(case.id)
            .bind(document.revision)
            .bind(document.slot)
            .bind(&document.kek_id)
            .bind(&document.wrapped_key)
            .bind(&document.ciphertext)
            .bind(document.width)
            .bind(document.height)
            .bind(document.byte_len)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            insert_event!(&mut *tx, case, event, now)?;
            insert_audit!(&mut *tx, audit, now)?;
            tx.commit().await?;
            Ok(n)
        }.await);
        match changed? {
            0 => Err(StoreError::Stale),
            _ => Ok(()),
        }
    }

    /// The case's retrieval code, if one was issued and not spent.
    pub async fn retrieval_code(&self, case_id: Uuid) -> Result<Option<StoredCode>, StoreError> {
        Ok(on_db!(self, pool => sqlx::query_as::<_, StoredCode>(
            "SELECT case_id, salt, code_hash, expires_at, tries FROM retrieval_codes WHERE case_id = $1",
        )
        .bind(case_id)
        .fetch_optional(pool)
        .await?))
    }

    /// Counts one try of the case's code if fewer than `max` were made;
    /// `false` when the tries are used up (or there is no code). Counted
    /// before the comparison, so parallel guesses cannot exceed `max`.
    pub async fn count_retrieval_try(&self, case_id: Uuid, max: i64) -> Result<bool, StoreError> {
        let n = on_db!(self, pool => sqlx::query(
            "UPDATE retrieval_codes SET tries = tries + 1 WHERE case_id = $1 AND tries < $2",
        )
        .bind(case_id)
        .bind(max)
        .execute(pool)
        .await?
        .rows_affected());
        Ok(n > 0)
    }

    /// Accounts a retrieval may be about: by account name, by name, or by
    /// either phone (E.164), at most `limit`.
    pub async fn accounts_matching(
        &self,
        username: Option<&str>,
        display_name: Option<&str>,
        phone: Option<&str>,
        limit: i64,
    ) -> Result<Vec<User>, StoreError> {
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users WHERE ($1 IS NOT NULL AND username = $1) \
             OR ($2 IS NOT NULL AND display_name = $2) \
             OR ($3 IS NOT NULL AND (login_phone = $3 OR security_phone = $3)) \
             ORDER BY username LIMIT $4"
        );
        Ok(on_db!(self, pool => sqlx::query_as::<_, User>(&sql)
            .bind(username)
            .bind(display_name)
            .bind(phone)
            .bind(limit.clamp(1, 100))
            .fetch_all(pool)
            .await?))
    }

    /// Cases of `kind` in `state` last changed at or before `t` (the
    /// sweep's expiry of retrievals left waiting).
    pub async fn cases_idle_since(
        &self,
        kind: CaseKind,
        state: CaseState,
        t: OffsetDateTime,
        limit: i64,
    ) -> Result<Vec<Case>, StoreError> {
        let cmp = match self.db {
            Db::Sqlite(_) => "julianday(updated_at) <= julianday($3)",
            Db::Postgres(_) => "updated_at <= $3",
        };
        let sql = format!(
            "SELECT {CASE_COLUMNS} FROM review_cases WHERE kind = $1 AND state = $2 AND {cmp} \
             ORDER BY updated_at LIMIT $4"
        );
        let t = t.to_offset(time::UtcOffset::UTC);
        Ok(on_db!(self, pool => sqlx::query_as::<_, Case>(&sql)
            .bind(kind.as_str())
            .bind(state.as_str())
            .bind(t)
            .bind(limit.clamp(1, 1000))
            .fetch_all(pool)
            .await?))
    }

    /// Open cases of `kind` (for the organizations they name).
    pub async fn open_cases_of_kind(
        &self,
        kind: CaseKind,
        limit: i64,
    ) -> Result<Vec<Case>, StoreError> {
        let open: Vec<String> = CaseState::ALL
            .into_iter()
            .filter(|s| s.is_open())
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        let sql = format!(
            "SELECT {CASE_COLUMNS} FROM review_cases WHERE kind = $1 AND state IN ({}) LIMIT $2",
            open.join(", ")
        );
        Ok(on_db!(self, pool => sqlx::query_as::<_, Case>(&sql)
            .bind(kind.as_str())
            .bind(limit.clamp(1, 10_000))
            .fetch_all(pool)
            .await?))
    }

    /// The registration of a pending organization.
    pub async fn organization_registration(
        &self,
        organization_id: Uuid,
    ) -> Result<Option<Registration>, StoreError> {
        Ok(on_db!(self, pool => sqlx::query_as::<_, Registration>(
            "SELECT organization_id, contact_name, contact_phone, created_at \
             FROM organization_registrations WHERE organization_id = $1",
        )
        .bind(organization_id)
        .fetch_optional(pool)
        .await?))
    }

    /// Pending organizations registered at or before `t` that no account
    /// belongs to.
    pub async fn stale_registrations(&self, t: OffsetDateTime) -> Result<Vec<Uuid>, StoreError> {
        let cmp = match self.db {
            Db::Sqlite(_) => "julianday(r.created_at) <= julianday($1)",
            Db::Postgres(_) => "r.created_at <= $1",
        };
        let sql = format!(
            "SELECT r.organization_id FROM organization_registrations r \
             JOIN organizations o ON o.id = r.organization_id \
             WHERE o.status = 'pending' AND {cmp} \
             AND NOT EXISTS (SELECT 1 FROM users u WHERE u.organization_id = r.organization_id) \
             LIMIT 500"
        );
        let t = t.to_offset(time::UtcOffset::UTC);
        Ok(on_db!(self, pool => sqlx::query_scalar::<_, Uuid>(&sql)
            .bind(t)
            .fetch_all(pool)
            .await?))
    }

    /// Removes a pending organization nobody confirmed (its names, domains
    /// and registration go with it), if it is still pending and has no
    /// accounts; audited. `false` when it was not removed.
    pub async fn drop_pending_organization(
        &self,
        organization_id: Uuid,
        audit: &NewAuditEvent,
    ) -> Result<bool, StoreError> {
        let now = self.now();
        on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            for sql in [
                "DELETE FROM organization_registrations WHERE organization_id = $1",
                "DELETE FROM organization_names WHERE organization_id = $1",
                "DELETE FROM organization_domains WHERE organization_id = $1",
            ] {
                sqlx::query(sql).bind(organization_id).execute(&mut *tx).await?;
            }
            let n = sqlx::query(
                "DELETE FROM organizations WHERE id = $1 AND status = 'pending' \
                 AND NOT EXISTS (SELECT 1 FROM users u WHERE u.organization_id = $1) \
                 AND NOT EXISTS (SELECT 1 FROM organization_admins a WHERE a.organization_id = $1)",
            )
            .bind(organization_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 0 {
                tx.rollback().await?;
                return Ok(false);
            }
            insert_audit!(&mut *tx, audit, now)?;
            tx.commit().await?;
            Ok(true)
        })
    }
}
