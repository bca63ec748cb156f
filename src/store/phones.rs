//! The phones of an account: changing one (its owner, through the phone
//! pages), the demand to bind one, and the one-time rewrite of stored
//! numbers into canonical E.164.

use serde_json::json;
use uuid::Uuid;

use super::audit::{NewAuditEvent, insert_audit};
use super::users::{PhoneBinding, REVOKE_GRANTS};
use super::{BeginWrite, Store, StoreError, on_db};
use crate::domain::PhoneKind;

/// The name under which the E.164 rewrite is recorded as done.
const PHONES_E164: &str = "phones_e164";

fn column(kind: PhoneKind) -> &'static str {
    match kind {
        PhoneKind::Login => "login_phone",
        PhoneKind::Security => "security_phone",
    }
}

/// What the E.164 rewrite did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Canonicalized {
    /// Numbers rewritten into their canonical form.
    pub rewritten: u64,
    /// Numbers that are not valid mobile numbers, left as they were (an
    /// administrator should correct them; they cannot receive codes).
    pub unreadable: u64,
    /// Login phones whose canonical form is another account's login phone,
    /// left as they were.
    pub clashes: u64,
}

impl Store {
    /// Sets one phone of the account (an E.164 number its owner proved) if
    /// it still is `before`,
    /// ends every session of the account but `keep_sid`'s and revokes
    /// the others' tokens, all with the audit entry in one transaction.
    /// Binding a login phone settles a demand to bind one.
    /// `Conflict("login_phone")` when the number is another account's
    /// login phone.
    pub async fn set_phone(
        &self,
        id: Uuid,
        kind: PhoneKind,
        before: Option<&str>,
        phone: &str,
        keep_sid: Option<&str>,
        audit: &NewAuditEvent,
    ) -> Result<(), StoreError> {
        let now = self.now();
        let col = column(kind);
        let settles = kind == PhoneKind::Login;
        // Only over the number the change started from (`Stale` when another
        // session or an administrator changed it meanwhile).
        let sql = format!(
            "UPDATE users SET {col} = $2, updated_at = $3, \
             phone_binding = CASE WHEN $4 THEN NULL ELSE phone_binding END, \
             session_epoch = session_epoch + 1, version = version + 1 \
             WHERE id = $1 AND (({col} IS NULL AND $5 IS NULL) OR {col} = $5)"
        );
        let result: Result<u64, sqlx::Error> = on_db!(self, pool => async {
            let mut tx = pool.begin_write().await?;
            let n = sqlx::query(&sql)
                .bind(id)
                .bind(phone)
                .bind(now)
                .bind(settles)
                .bind(before)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n == 0 {
                tx.rollback().await?;
                return Ok(0);
            }
            sqlx::query(REVOKE_GRANTS)
                .bind(id)
                .bind(now)
                .bind("phone changed")
                .bind(keep_sid)
                .execute(&mut *tx)
                .await?;
            insert_audit!(&mut *tx, audit, now)?;
            tx.commit().await?;
            Ok(n)
        }.await);
        match result.map_err(|e| StoreError::from_write(e, &["login_phone"]))? {
            0 => match self.user_by_id(id).await? {
                Some(_) => Err(StoreError::Stale),
                None => Err(StoreError::NotFound),
            },
            _ => Ok(()),
        }
    }

    /// Sets or lifts the demand to bind a login phone, with its audit entry.
    pub async fn set_phone_binding(
        &self,
        id: Uuid,
        binding: Option<PhoneBinding>,
        audit: &NewAuditEvent,
    ) -> Result<(), StoreError> {
        let now = self.now();
        let n = on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let n = sqlx::query(
                "UPDATE users SET phone_binding = $2, updated_at = $3, version = version + 1 WHERE id = $1",
            )
            .bind(id)
            .bind(binding.map(PhoneBinding::as_str))
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
        super::found(n)
    }

    /// Rewrites every stored phone into the form `canonical` gives it
    /// (`None`: not a valid number, left as it is), once per database:
    /// the run is recorded, and a database that has it does nothing.
    /// Each account is rewritten in its own statement, so a clash of two
    /// login phones that turn out to be one number leaves the second as
    /// it was instead of failing the start.
    pub async fn canonicalize_phones(
        &self,
        canonical: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Canonicalized>, StoreError> {
        let done: Option<String> = on_db!(self, pool => sqlx::query_scalar("SELECT name FROM data_migrations WHERE name = $1")
            .bind(PHONES_E164)
            .fetch_optional(pool)
            .await?);
        if done.is_some() {
            return Ok(None);
        }
        let rows: Vec<(Uuid, Option<String>, Option<String>)> = on_db!(self, pool => sqlx::query_as(
            "SELECT id, login_phone, security_phone FROM users \
             WHERE login_phone IS NOT NULL OR security_phone IS NOT NULL",
        )
        .fetch_all(pool)
        .await?);
        let mut report = Canonicalized::default();
        for (id, login, security) in rows {
            for (kind, stored) in [(PhoneKind::Login, login), (PhoneKind::Security, security)] {
                let Some(stored) = stored else { continue };
                match canonical(&stored) {
                    None => report.unreadable += 1,
                    Some(c) if c == stored => {}
                    Some(c) => {
                        let sql = format!("UPDATE users SET {} = $2 WHERE id = $1", column(kind));
                        let written: Result<u64, sqlx::Error> = on_db!(self, pool => sqlx::query(&sql)
                            .bind(id)
                            .bind(&c)
                            .execute(pool)
                            .await
                            .map(|r| r.rows_affected()));
                        match written.map_err(|e| StoreError::from_write(e, &["login_phone"])) {
                            Ok(_) => report.rewritten += 1,
                            Err(StoreError::Conflict(_)) => report.clashes += 1,
                            Err(e) => return Err(e),
                        }
                    }
                }
            }
        }
        let detail = json!({
            "rewritten": report.rewritten,
            "unreadable": report.unreadable,
            "clashes": report.clashes,
        })
        .to_string();
        let now = self.now();
        on_db!(self, pool => sqlx::query(
            "INSERT INTO data_migrations (name, applied_at, detail) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(PHONES_E164)
        .bind(now)
        .bind(&detail)
        .execute(pool)
        .await?
        .rows_affected());
        Ok(Some(report))
    }
}
