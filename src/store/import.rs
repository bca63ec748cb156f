//! Writing imported accounts (`tongxing import`), a batch of lines per
//! transaction: [`ImportTx`] holds one open write transaction and reads
//! and writes through it, so that the import service decides line by line
//! without knowing the backend. Each statement is written once and
//! prepared once per connection (sqlx caches it), whatever the number of
//! lines.

use sqlx::FromRow;
use sqlx::postgres::Postgres;
use sqlx::sqlite::Sqlite;
use time::OffsetDateTime;
use uuid::Uuid;

use super::audit::{NewAuditEvent, insert_audit};
use super::users::{AccountStatus, REVOKE_GRANTS};
use super::{BeginWrite, Db, Store, StoreError};

/// An account as the import compares it with a line of the file.
#[derive(Clone, FromRow)]
pub struct ImportedAccount {
    pub id: Uuid,
    pub username: String,
    pub display_name: String,
    pub login_phone: Option<String>,
    pub security_phone: Option<String>,
    pub security_email: Option<String>,
    pub security_email_verified: bool,
    pub organization_id: Option<Uuid>,
    pub is_admin: bool,
    #[sqlx(try_from = "String")]
    pub status: AccountStatus,
    pub status_reason: Option<String>,
    pub password_hash: String,
    /// The hash the last import wrote (see migration 0014).
    pub imported_password_hash: Option<String>,
    pub version: i64,
}

/// The hashes are secrets: kept out of Debug output.
impl std::fmt::Debug for ImportedAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportedAccount")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// A new account from a line of the file.
pub struct ImportedNew {
    pub id: Uuid,
    pub username: String,
    pub display_name: String,
    pub login_phone: Option<String>,
    pub security_phone: Option<String>,
    pub security_email: Option<String>,
    pub security_email_verified: bool,
    pub organization_id: Option<Uuid>,
    pub status: AccountStatus,
    pub status_reason: Option<String>,
    /// The stored hash (an imported one, or the no-password marker).
    pub password_hash: String,
    /// `Some` when `password_hash` is an imported hash.
    pub imported_password_hash: Option<String>,
}

/// What a line changes in an existing account; `None` keeps a field.
#[derive(Default)]
pub struct ImportedChange {
    pub display_name: Option<String>,
    pub login_phone: Option<String>,
    pub security_phone: Option<String>,
    /// The address and whether it is verified.
    pub security_email: Option<(String, bool)>,
    pub organization_id: Option<Uuid>,
    pub status: Option<(AccountStatus, Option<String>)>,
    /// A newly imported hash (written as the account's and as the imported one).
    pub password_hash: Option<String>,
    /// End the account's sessions and revoke its grants (a phone or the
    /// password changed, or the account is disabled).
    pub end_sessions: bool,
}

enum Tx {
    Sqlite(sqlx::Transaction<'static, Sqlite>),
    Postgres(sqlx::Transaction<'static, Postgres>),
}

macro_rules! on_tx {
    ($self:expr, $tx:ident => $body:expr) => {
        match &mut $self.tx {
            Tx::Sqlite($tx) => $body,
            Tx::Postgres($tx) => $body,
        }
    };
}

/// One open write transaction of an import.
pub struct ImportTx {
    tx: Tx,
    now: OffsetDateTime,
}

const ACCOUNT_COLUMNS: &str = "id, username, display_name, login_phone, security_phone, \
    security_email, security_email_verified, organization_id, is_admin, status, status_reason, \
    password_hash, imported_password_hash, version";

/// `$first, $first+1, …` for `n` values.
fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Store {
    /// Opens a write transaction for an import batch.
    pub async fn begin_import(&self) -> Result<ImportTx, StoreError> {
        let tx = match &self.db {
            Db::Sqlite(pool) => Tx::Sqlite(pool.begin_write().await?),
            Db::Postgres(pool) => Tx::Postgres(pool.begin_write().await?),
        };
        Ok(ImportTx {
            tx,
            now: self.now(),
        })
    }
}

impl ImportTx {
    /// The accounts with these names (at most a batch of them).
    pub async fn accounts(
        &mut self,
        usernames: &[String],
    ) -> Result<Vec<ImportedAccount>, StoreError> {
        if usernames.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {ACCOUNT_COLUMNS} FROM users WHERE username IN ({})",
            placeholders(1, usernames.len())
        );
        Ok(on_tx!(self, tx => {
            let mut q = sqlx::query_as::<_, ImportedAccount>(&sql);
            for u in usernames {
                q = q.bind(u);
            }
            q.fetch_all(&mut **tx).await?
        }))
    }

    /// (number, account name) of the accounts whose login phone is one of `phones`.
    pub async fn login_phone_owners(
        &mut self,
        phones: &[String],
    ) -> Result<Vec<(String, String)>, StoreError> {
        self.owners("login_phone", "TRUE", phones).await
    }

    /// (address, account name) of the accounts whose *verified* security
    /// e-mail is one of `emails`.
    pub async fn verified_email_owners(
        &mut self,
        emails: &[String],
    ) -> Result<Vec<(String, String)>, StoreError> {
        self.owners("security_email", "security_email_verified", emails)
            .await
    }

    async fn owners(
        &mut self,
        column: &str,
        condition: &str,
        values: &[String],
    ) -> Result<Vec<(String, String)>, StoreError> {
        if values.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {column}, username FROM users WHERE {condition} AND {column} IN ({})",
            placeholders(1, values.len())
        );
        Ok(on_tx!(self, tx => {
            let mut q = sqlx::query_as::<_, (String, String)>(&sql);
            for v in values {
                q = q.bind(v);
            }
            q.fetch_all(&mut **tx).await?
        }))
    }

    /// Creates an account.
    pub async fn insert(&mut self, new: &ImportedNew) -> Result<(), StoreError> {
        let now = self.now;
        let result: Result<(), sqlx::Error> = on_tx!(self, tx => {
            sqlx::query(
                "INSERT INTO users (id, username, display_name, login_phone, security_phone, \
                 security_email, security_email_verified, organization_id, status, status_reason, \
                 password_hash, imported_password_hash, password_changed_at, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $13)",
            )
            .bind(new.id)
            .bind(&new.username)
            .bind(&new.display_name)
            .bind(&new.login_phone)
            .bind(&new.security_phone)
            .bind(&new.security_email)
            .bind(new.security_email_verified)
            .bind(new.organization_id)
            .bind(new.status.as_str())
            .bind(&new.status_reason)
            .bind(&new.password_hash)
            .bind(&new.imported_password_hash)
            .bind(now)
            .execute(&mut **tx)
            .await
            .map(|_| ())
        });
        result
            .map_err(|e| StoreError::from_write(e, &["username", "login_phone", "security_email"]))
    }

    /// Applies `change` to the account `id` if it is still at `version`
    /// (`Stale` otherwise), with its audit entry; ending its sessions
    /// revokes its grants too.
    pub async fn update(
        &mut self,
        id: Uuid,
        version: i64,
        change: &ImportedChange,
        audit: &NewAuditEvent,
    ) -> Result<(), StoreError> {
        let now = self.now;
        let c = change;
        let result: Result<u64, sqlx::Error> = on_tx!(self, tx => async {
            let n = sqlx::query(
                "UPDATE users SET \
                 display_name = CASE WHEN $3 THEN $4 ELSE display_name END, \
                 login_phone = CASE WHEN $5 THEN $6 ELSE login_phone END, \
                 phone_binding = CASE WHEN $5 THEN NULL ELSE phone_binding END, \
                 security_phone = CASE WHEN $7 THEN $8 ELSE security_phone END, \
                 security_email = CASE WHEN $9 THEN $10 ELSE security_email END, \
                 security_email_verified = CASE WHEN $9 THEN $11 ELSE security_email_verified END, \
                 organization_id = CASE WHEN $12 THEN $13 ELSE organization_id END, \
                 status = CASE WHEN $14 THEN $15 ELSE status END, \
                 status_reason = CASE WHEN $14 THEN $16 ELSE status_reason END, \
                 password_hash = CASE WHEN $17 THEN $18 ELSE password_hash END, \
                 imported_password_hash = CASE WHEN $17 THEN $18 ELSE imported_password_hash END, \
                 password_changed_at = CASE WHEN $17 THEN $19 ELSE password_changed_at END, \
                 session_epoch = session_epoch + CASE WHEN $20 THEN 1 ELSE 0 END, \
                 updated_at = $19, version = version + 1 \
                 WHERE id = $1 AND version = $2",
            )
            .bind(id)
            .bind(version)
            .bind(c.display_name.is_some())
            .bind(c.display_name.clone().unwrap_or_default())
            .bind(c.login_phone.is_some())
            .bind(c.login_phone.clone())
            .bind(c.security_phone.is_some())
            .bind(c.security_phone.clone())
            .bind(c.security_email.is_some())
            .bind(c.security_email.as_ref().map(|(e, _)| e.clone()))
            .bind(c.security_email.as_ref().is_some_and(|(_, v)| *v))
            .bind(c.organization_id.is_some())
            .bind(c.organization_id)
            .bind(c.status.is_some())
            .bind(c.status.as_ref().map_or("active", |(s, _)| s.as_str()))
            .bind(c.status.as_ref().and_then(|(_, r)| r.clone()))
            .bind(c.password_hash.is_some())
            .bind(c.password_hash.clone().unwrap_or_default())
            .bind(now)
            .bind(c.end_sessions)
            .execute(&mut **tx)
            .await?
            .rows_affected();
            if n == 0 {
                return Ok(0);
            }
            if c.end_sessions {
                sqlx::query(REVOKE_GRANTS)
                    .bind(id)
                    .bind(now)
                    .bind("changed by an import")
                    .bind(None::<&str>)
                    .execute(&mut **tx)
                    .await?;
            }
            insert_audit!(&mut **tx, audit, now)?;
            Ok(n)
        }.await);
        match result.map_err(|e| {
            StoreError::from_write(e, &["username", "login_phone", "security_email"])
        })? {
            0 => Err(StoreError::Stale),
            _ => Ok(()),
        }
    }

    /// Appends an audit entry in this transaction.
    pub async fn audit(&mut self, audit: &NewAuditEvent) -> Result<(), StoreError> {
        let now = self.now;
        on_tx!(self, tx => insert_audit!(&mut **tx, audit, now)?);
        Ok(())
    }

    pub async fn commit(self) -> Result<(), StoreError> {
        match self.tx {
            Tx::Sqlite(tx) => tx.commit().await?,
            Tx::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }

    /// Undoes everything of this transaction (a dry run ends so).
    pub async fn rollback(self) -> Result<(), StoreError> {
        match self.tx {
            Tx::Sqlite(tx) => tx.rollback().await?,
            Tx::Postgres(tx) => tx.rollback().await?,
        }
        Ok(())
    }
}
