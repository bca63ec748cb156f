//! The session store behind tower-sessions: the SQL database on the
//! embedded default, Redis when configured. One enum, so the session layer
//! has a single concrete type whatever the deployment; it lives in
//! `store/` because it must know SQLite from PostgreSQL.

use std::time::Duration;

use async_trait::async_trait;
use fred::prelude::Pool;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion, SessionStore};
use tower_sessions_redis_store::RedisStore;
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

use super::{Db, Store, StoreError};
use crate::outage::Dependency;

#[derive(Debug, Clone)]
pub enum SessionBackend {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
    Redis(RedisStore<Pool>),
}

impl SessionBackend {
    /// Picks Redis when a pool is given, else the SQL database; creates the
    /// session table when needed and starts the sweep of expired rows.
    pub async fn new(store: &Store, redis: Option<&Pool>) -> Result<Self, StoreError> {
        if let Some(pool) = redis {
            // Redis expires session keys by itself.
            return Ok(Self::Redis(RedisStore::new(pool.clone())));
        }
        let backend = match store.db() {
            Db::Sqlite(pool) => {
                let s = SqliteStore::new(pool.clone());
                s.migrate().await?;
                Self::Sqlite(s)
            }
            Db::Postgres(pool) => {
                let s = PostgresStore::new(pool.clone());
                s.migrate().await?;
                Self::Postgres(s)
            }
        };
        let sweeper = backend.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(300));
            loop {
                tick.tick().await;
                if let Err(e) = sweeper.delete_expired().await {
                    tracing::warn!(error = %e, "deleting expired sessions failed");
                }
            }
        });
        Ok(backend)
    }

    async fn delete_expired(&self) -> session_store::Result<()> {
        match self {
            Self::Sqlite(s) => s.delete_expired().await,
            Self::Postgres(s) => s.delete_expired().await,
            Self::Redis(_) => Ok(()),
        }
    }
}

/// Runs the call on the configured store. A `Backend` error means its
/// storage failed — the store's statements and commands are fixed, so what
/// fails is reaching PostgreSQL, SQLite or Redis, not a request — and is
/// noted as an outage of that dependency for the current request (see
/// [`crate::outage`]): the session layer's bare 500 and a page's session
/// error both become the 503 page.
macro_rules! each {
    ($self:expr, $s:ident => $body:expr) => {{
        let (dependency, result) = match $self {
            SessionBackend::Sqlite($s) => (Dependency::Database, $body),
            SessionBackend::Postgres($s) => (Dependency::Database, $body),
            SessionBackend::Redis($s) => (Dependency::Redis, $body),
        };
        if let Err(session_store::Error::Backend(cause)) = &result {
            tracing::debug!(%cause, "session store failed");
            crate::outage::record(dependency, cause);
        }
        result
    }};
}

#[async_trait]
impl SessionStore for SessionBackend {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        each!(self, s => s.create(record).await)
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        each!(self, s => s.save(record).await)
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        each!(self, s => s.load(id).await)
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        each!(self, s => s.delete(id).await)
    }
}
