//! Durable state in SQL. This module is the only place that knows whether
//! the database is SQLite or PostgreSQL: every query is written once with
//! `$n` placeholders and portable types, and [`on_db!`] runs it on whichever
//! pool is configured.

pub mod app_passwords;
pub mod audit;
pub mod backup;
pub mod blocks;
pub mod calendar;
pub mod clients;
pub mod grants;
pub mod import;
pub mod keys;
pub mod organizations;
pub mod phones;
pub mod registration;
pub mod retrieval;
pub mod review;
pub mod reviewing;
pub mod sessions;
pub mod sign_ins;
pub mod spent;
pub mod users;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, Postgres};

use crate::ports::clock::SharedClock;
use sqlx::sqlite::{
    Sqlite, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};

#[derive(Clone)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs the same code against the configured pool. The body is compiled
/// once per backend, so a query that does not type-check on both fails the
/// build rather than a deployment.
macro_rules! on_db {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.db {
            $crate::store::Db::Sqlite($pool) => $body,
            $crate::store::Db::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_db;

/// How this module starts every transaction (they all write): `pool.begin_write()`
/// is refused by clippy (`clippy.toml`) so none can start another way.
///
/// SQLite: `BEGIN IMMEDIATE` takes the write lock at once, waiting for it
/// up to the busy timeout. A plain (deferred) `BEGIN` that reads first
/// takes the lock only at its first write, and cannot wait then: if another
/// connection holds the lock or has committed since the read, SQLite
/// answers SQLITE_BUSY ("database is locked") at once, without calling the
/// busy handler, because waiting could deadlock or would write over a
/// stale read (<https://www.sqlite.org/lang_transaction.html>,
/// <https://www.sqlite.org/wal.html> "Sometimes Queries Return
/// SQLITE_BUSY In WAL Mode"). Under concurrent writers that failed
/// changes outright, and failed the step after a committed change.
///
/// PostgreSQL: a plain `BEGIN`; its row locks wait by themselves.
pub(crate) trait BeginWrite {
    type Database: sqlx::Database;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Self::Database>, sqlx::Error>;
}

impl BeginWrite for SqlitePool {
    type Database = Sqlite;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Sqlite>, sqlx::Error> {
        self.begin_with("BEGIN IMMEDIATE").await
    }
}

impl BeginWrite for PgPool {
    type Database = Postgres;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Postgres>, sqlx::Error> {
        #[allow(clippy::disallowed_methods)] // the one place that may
        self.begin().await
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A unique value is already taken; the field says which.
    #[error("{0} is already in use")]
    Conflict(&'static str),
    /// The row changed since it was read (optimistic concurrency).
    #[error("the record was changed by someone else")]
    Stale,
    /// The change would leave no active administrator.
    #[error("the last active administrator cannot be demoted or disabled")]
    LastAdmin,
    /// A stored value that does not parse (an unknown auth method, a
    /// broken JSON list …): the read fails instead of guessing a default.
    #[error("corrupt record in {table} ({id}): {field} {reason}")]
    Corrupt {
        table: &'static str,
        id: String,
        field: &'static str,
        reason: String,
    },
    #[error("database error: {0}")]
    Db(sqlx::Error),
    /// The database did not answer in time or refused the connection
    /// (see [`crate::outage`]): a 503 on every surface, not a 500.
    #[error("database unavailable: {0}")]
    Unavailable(sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Every driver error passes here: an outage is told apart from a
/// failing statement by its kind, and noted for the current request.
impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if is_outage(&e) {
            crate::outage::record(crate::outage::Dependency::Database, &e);
            Self::Unavailable(e)
        } else {
            Self::Db(e)
        }
    }
}

/// Whether the error says the database is out of reach rather than that
/// a statement failed: no connection within the acquire timeout, a broken
/// or refused connection, or PostgreSQL's own "not now" answers —
/// SQLSTATE class 08 (connection exception), 53300 (too many
/// connections), 57P01–57P03 (shutting down, crashed, starting up) and
/// 57014 (cancelled: the statement timeout).
pub fn is_outage(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08")
                || matches!(&*code, "53300" | "57P01" | "57P02" | "57P03" | "57014")
        }),
        _ => false,
    }
}

impl StoreError {
    /// Whether this is the database being out of reach.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }

    /// Turns a unique-constraint violation into `Conflict(field)`; the field
    /// is found from the constraint (PostgreSQL) or message (SQLite).
    fn from_write(err: sqlx::Error, fields: &[&'static str]) -> Self {
        if let sqlx::Error::Database(db) = &err
            && db.is_unique_violation()
        {
            let text = format!("{} {}", db.constraint().unwrap_or_default(), db.message());
            let field = fields
                .iter()
                .find(|f| text.contains(*f))
                .copied()
                .unwrap_or("value");
            return Self::Conflict(field);
        }
        Self::from(err)
    }

    /// Names the conflicting field explicitly (for tables with one unique key).
    fn into_conflict(self, field: &'static str) -> Self {
        match self {
            Self::Conflict(_) => Self::Conflict(field),
            other => other,
        }
    }
}

/// `NotFound` when a write touched no row.
pub(crate) fn found(rows: u64) -> Result<(), StoreError> {
    if rows == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

#[derive(Clone)]
pub struct Store {
    db: Db,
    /// Stamps rows (`created_at`, audit `at` …) and decides what has
    /// expired: the application's clock, not the database server's.
    clock: SharedClock,
    /// The shared lock on `<database>.lock` of an embedded database, held
    /// while the pool lives: a restore refuses while any is held
    /// ([`backup::restore`]).
    _file_lock: Option<std::sync::Arc<std::fs::File>>,
}

impl Store {
    /// Opens the pool. Waiting for a connection is bounded by
    /// `database_acquire` (opening one included) and, on PostgreSQL, every
    /// statement by `database_statement`, so a database that stops
    /// answering costs a request a bounded wait, then a 503.
    pub async fn connect(
        url: &str,
        clock: SharedClock,
        timeouts: &crate::config::TimeoutsConfig,
    ) -> Result<Self, StoreError> {
        let acquire = timeouts.database_acquire();
        let mut file_lock = None;
        let db = if url.starts_with("sqlite:") {
            if let Some(file) = backup::sqlite_file(url)? {
                let held = backup::hold_shared(&file).map_err(|e| {
                    StoreError::Unavailable(sqlx::Error::Io(std::io::Error::new(
                        std::io::ErrorKind::WouldBlock,
                        e.to_string(),
                    )))
                })?;
                file_lock = Some(std::sync::Arc::new(held));
            }
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                // Deleted content is overwritten, not left in free pages:
                // a purged identity document is gone from the file.
                .pragma("secure_delete", "on");
            Db::Sqlite(
                SqlitePoolOptions::new()
                    .max_connections(8)
                    .acquire_timeout(acquire)
                    .connect_with(options)
                    .await?,
            )
        } else {
            let statement = timeouts.database_statement().as_millis().to_string();
            let options = PgConnectOptions::from_str(url)?
                .options([("statement_timeout", statement.as_str())]);
            Db::Postgres(
                PgPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(acquire)
                    .connect_with(options)
                    .await?,
            )
        };
        Ok(Self {
            db,
            clock,
            _file_lock: file_lock,
        })
    }

    /// The time by the application's clock.
    pub(crate) fn now(&self) -> time::OffsetDateTime {
        self.clock.now()
    }

    /// Applies pending migrations (idempotent; safe with several nodes —
    /// sqlx takes an advisory lock on PostgreSQL).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match &self.db {
            Db::Sqlite(pool) => sqlx::migrate!("migrations/sqlite").run(pool).await?,
            Db::Postgres(pool) => {
                // A migration may rightly run longer than a request's
                // statement timeout: its own connection has none, and is
                // closed afterwards instead of going back to the pool.
                let mut conn = pool.acquire().await?.detach();
                sqlx::query("SET statement_timeout = 0")
                    .execute(&mut conn)
                    .await?;
                let result = sqlx::migrate!("migrations/postgres").run(&mut conn).await;
                let _ = sqlx::Connection::close(conn).await;
                result?
            }
        }
        Ok(())
    }

    /// Cheap round-trip for `/readyz`.
    pub async fn ping(&self) -> Result<(), StoreError> {
        on_db!(self, pool => sqlx::query("SELECT 1").execute(pool).await?.rows_affected());
        Ok(())
    }

    /// The raw pool. Application code never uses this (queries belong in
    /// this module); it exists for tests that must reach under the API,
    /// such as proving the audit table refuses UPDATE.
    #[doc(hidden)]
    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn kind(&self) -> &'static str {
        match self.db {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    pub async fn close(&self) {
        on_db!(self, pool => pool.close().await);
    }

    /// The connection pool now: connections open, and how many of them
    /// are idle (the metrics endpoint shows them).
    pub fn pool_state(&self) -> (u32, usize) {
        on_db!(self, pool => (pool.size(), pool.num_idle()))
    }
}
