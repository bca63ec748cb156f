//! The append-only audit log. There is deliberately no update or delete
//! here, and database triggers refuse them too.

use serde::Serialize;
use sqlx::FromRow;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Store, StoreError, on_db};

#[derive(Debug, Clone, Serialize, FromRow)]
pub struct AuditRow {
    pub id: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub event: String,
    pub outcome: String,
    pub actor_id: Option<Uuid>,
    pub actor: String,
    pub subject_id: Option<Uuid>,
    pub subject: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub detail: String,
}

/// An entry to append. `detail` is a JSON object; callers must never put
/// secrets (passwords, codes, tokens) in it.
#[derive(Debug, Clone)]
pub struct NewAuditEvent {
    pub event: &'static str,
    pub outcome: &'static str,
    pub actor_id: Option<Uuid>,
    pub actor: String,
    pub subject_id: Option<Uuid>,
    pub subject: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub detail: serde_json::Value,
}

/// Which entries to read, newest first (oldest first with `after_id`).
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub subject_id: Option<Uuid>,
    pub event: Option<String>,
    pub since: Option<OffsetDateTime>,
    pub until: Option<OffsetDateTime>,
    /// Entries with an id below this (paging backwards).
    pub before_id: Option<i64>,
    /// Entries with an id above this, the oldest of them first (paging
    /// forwards, towards the newest).
    pub after_id: Option<i64>,
    /// Entries made by this actor (as the log names it: an account name,
    /// `client:<id>`, `cli:<user>`).
    pub actor: Option<String>,
    /// Only failures and account changes (the dashboard's "security events").
    pub security_only: bool,
    pub limit: i64,
}

/// Appends `$event` at time `$at` (the store's clock) using `$exec` (a pool
/// or an open transaction), so a change and its audit entry can commit
/// together.
macro_rules! insert_audit {
    ($exec:expr, $event:expr, $at:expr) => {{
        let e: &$crate::store::audit::NewAuditEvent = $event;
        sqlx::query(
            "INSERT INTO audit_events (at, event, outcome, actor_id, actor, subject_id, subject, ip, user_agent, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind($at)
        .bind(e.event)
        .bind(e.outcome)
        .bind(e.actor_id)
        .bind(&e.actor)
        .bind(e.subject_id)
        .bind(&e.subject)
        .bind(&e.ip)
        .bind(&e.user_agent)
        .bind(e.detail.to_string())
        .execute($exec)
        .await
        .map(|_| ())
    }};
}
pub(crate) use insert_audit;

/// Runs `$body` (statements on `$tx`, yielding a row count) and appends
/// `$audit`, in one transaction on whichever backend is configured.
macro_rules! audited_write {
    ($store:expr, $audit:expr, |$tx:ident| $body:expr) => {
        $crate::store::on_db!($store, pool => {
            let mut $tx = $crate::store::BeginWrite::begin_write(pool).await?;
            let n: u64 = $body;
            $crate::store::audit::insert_audit!(&mut *$tx, $audit, $store.now())?;
            $tx.commit().await?;
            n
        })
    };
}
pub(crate) use audited_write;

/// An entry as the audit writer queued it: stamped when it happened, not
/// when its batch is written.
#[derive(Debug, Clone)]
pub struct QueuedAuditEvent {
    pub at: OffsetDateTime,
    pub event: NewAuditEvent,
}

/// Rows per multi-row INSERT. A batch is written as a few statements of
/// these sizes (100 entries: 64 + 16 + 16 + 4), so only four statement
/// texts exist and each stays prepared in the connection's cache.
const CHUNKS: [usize; 4] = [64, 16, 4, 1];

/// `INSERT … VALUES (…), (…)` with `rows` rows, one text per size in
/// [`CHUNKS`], built once.
fn insert_rows_sql(rows: usize) -> &'static str {
    static TEXTS: std::sync::LazyLock<Vec<(usize, String)>> = std::sync::LazyLock::new(|| {
        CHUNKS
            .iter()
            .map(|&n| {
                let values: Vec<String> = (0..n)
                    .map(|r| {
                        let params: Vec<String> =
                            (1..=10).map(|c| format!("${}", r * 10 + c)).collect();
                        format!("({})", params.join(", "))
                    })
                    .collect();
                (
                    n,
                    format!(
                        "INSERT INTO audit_events (at, event, outcome, actor_id, actor, subject_id, subject, ip, user_agent, detail) VALUES {}",
                        values.join(", ")
                    ),
                )
            })
            .collect()
    });
    TEXTS
        .iter()
        .find(|(n, _)| *n == rows)
        .map(|(_, sql)| sql.as_str())
        .unwrap_or("")
}

impl Store {
    pub async fn append_audit(&self, e: &NewAuditEvent) -> Result<(), StoreError> {
        on_db!(self, pool => insert_audit!(pool, e, self.now())?);
        Ok(())
    }

    /// Appends `entries` in their order, in one transaction: all of them
    /// or (on an error) none.
    pub async fn append_audit_batch(&self, entries: &[QueuedAuditEvent]) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        on_db!(self, pool => {
            let mut tx = super::BeginWrite::begin_write(pool).await?;
            let mut rest = entries;
            while !rest.is_empty() {
                let n = CHUNKS.iter().copied().find(|&n| n <= rest.len()).unwrap_or(1);
                let (chunk, tail) = rest.split_at(n);
                let mut q = sqlx::query(insert_rows_sql(n));
                for QueuedAuditEvent { at, event: e } in chunk {
                    q = q
                        .bind(*at)
                        .bind(e.event)
                        .bind(e.outcome)
                        .bind(e.actor_id)
                        .bind(e.actor.as_str())
                        .bind(e.subject_id)
                        .bind(e.subject.as_deref())
                        .bind(e.ip.as_deref())
                        .bind(e.user_agent.as_deref())
                        .bind(e.detail.to_string());
                }
                q.execute(&mut *tx).await?;
                rest = tail;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn list_audit(&self, f: &AuditFilter) -> Result<Vec<AuditRow>, StoreError> {
        // Each optional filter is "($n IS NULL OR …)" so the SQL text and
        // its parameters stay the same whichever filters are set. Times are
        // compared as instants: SQLite keeps them as text, so it compares
        // julianday() values (text would mis-order other offsets and
        // fractional seconds); PostgreSQL has timestamptz.
        let (since, until) = match self.db {
            super::Db::Sqlite(_) => (
                "julianday(at) >= julianday($3)",
                "julianday(at) < julianday($4)",
            ),
            super::Db::Postgres(_) => ("at >= $3", "at < $4"),
        };
        let order = if f.after_id.is_some() { "ASC" } else { "DESC" };
        let sql = format!(
            "SELECT id, at, event, outcome, actor_id, actor, subject_id, subject, ip, user_agent, detail \
             FROM audit_events \
             WHERE ($1 IS NULL OR subject_id = $1) AND ($2 IS NULL OR event = $2) \
             AND ($3 IS NULL OR {since}) AND ($4 IS NULL OR {until}) AND ($5 IS NULL OR id < $5) \
             AND ($7 IS NULL OR actor = $7) AND ($8 = FALSE OR outcome = 'failure' OR event LIKE 'account.%') \
             AND ($9 IS NULL OR id > $9) ORDER BY id {order} LIMIT $6"
        );
        let utc = |t: Option<OffsetDateTime>| t.map(|t| t.to_offset(time::UtcOffset::UTC));
        Ok(on_db!(self, pool => sqlx::query_as::<_, AuditRow>(&sql)
            .bind(f.subject_id)
            .bind(&f.event)
            .bind(utc(f.since))
            .bind(utc(f.until))
            .bind(f.before_id)
            .bind(f.limit.clamp(1, 1000))
            .bind(&f.actor)
            .bind(f.security_only)
            .bind(f.after_id)
            .fetch_all(pool)
            .await?))
    }

    /// How many entries of each event and outcome were written at or after
    /// `since` (the dashboard's "today"): `(event, outcome, count)`.
    pub async fn audit_counts_since(
        &self,
        since: OffsetDateTime,
    ) -> Result<Vec<(String, String, i64)>, StoreError> {
        // SQLite keeps times as text: a bound one day earlier, compared as
        // text, lets the index on `at` narrow the rows whatever offset a
        // row was written with, and julianday() then compares instants.
        let exact = match self.db {
            super::Db::Sqlite(_) => "julianday(at) >= julianday($1)",
            super::Db::Postgres(_) => "at >= $1",
        };
        let sql = format!(
            "SELECT event, outcome, COUNT(*) FROM audit_events \
             WHERE at >= $2 AND {exact} GROUP BY event, outcome"
        );
        let since = since.to_offset(time::UtcOffset::UTC);
        let margin = since - time::Duration::days(1);
        Ok(
            on_db!(self, pool => sqlx::query_as::<_, (String, String, i64)>(&sql)
            .bind(since)
            .bind(margin)
            .fetch_all(pool)
            .await?),
        )
    }
}
