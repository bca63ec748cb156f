//! Durable state in SQL. This module is the only place that knows whether
//! the database is SQLite or PostgreSQL: every query is written once with
//! `$n` placeholders and portable types, and [`on_db!`] runs it on whichever
//! pool is configured.

pub mod audit;
pub mod clients;
pub mod grants;
pub mod keys;
pub mod phones;
pub mod sessions;
pub mod sign_ins;
pub mod users;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions, Postgres};

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
    Db(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
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
        Self::Db(err)
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
}

impl Store {
    pub async fn connect(url: &str, clock: SharedClock) -> Result<Self, StoreError> {
        let db = if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true);
            Db::Sqlite(
                SqlitePoolOptions::new()
                    .max_connections(8)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(options)
                    .await?,
            )
        } else {
            Db::Postgres(
                PgPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect(url)
                    .await?,
            )
        };
        Ok(Self { db, clock })
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
            Db::Postgres(pool) => sqlx::migrate!("migrations/postgres").run(pool).await?,
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
}
