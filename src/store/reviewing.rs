//! What reviewers read: the review queue (a page of cases with their
//! applicants, earliest due first) and the list of a revision's documents
//! without their bytes. Every change of a case is in `store::review`.

use sqlx::FromRow;
use time::OffsetDateTime;
use uuid::Uuid;

use super::review::{CaseKind, CaseState};
use super::{Db, Store, StoreError, on_db};

/// Which cases a queue page holds.
#[derive(Debug, Clone)]
pub struct QueueFilter<'a> {
    /// Cases in one of these states (at least one).
    pub states: &'a [CaseState],
    /// Only cases claimed by this reviewer.
    pub claimed_by: Option<Uuid>,
    pub limit: i64,
    pub offset: i64,
}

/// A case as the queue lists it, with the names that go with it.
/// `Debug` leaves out the names.
#[derive(Clone, FromRow)]
pub struct QueueRow {
    pub id: Uuid,
    #[sqlx(try_from = "String")]
    pub kind: CaseKind,
    #[sqlx(try_from = "String")]
    pub state: CaseState,
    pub revision: i64,
    pub version: i64,
    pub submitted_at: OffsetDateTime,
    pub due_at: Option<OffsetDateTime>,
    pub claimed_by: Option<Uuid>,
    pub claimed_at: Option<OffsetDateTime>,
    /// JSON list of `{"id", "name", "at"}` (see `service::review::approvals`).
    pub approvals: String,
    pub account_id: Option<Uuid>,
    pub applicant_username: Option<String>,
    pub applicant_display_name: Option<String>,
    pub applicant_organization: Option<String>,
    pub claimed_by_username: Option<String>,
}

impl std::fmt::Debug for QueueRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueueRow")
            .field("id", &self.id)
            .field("state", &self.state)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// A stored document's description, without key or bytes.
#[derive(Debug, Clone, FromRow)]
pub struct DocumentInfo {
    pub revision: i64,
    pub slot: i64,
    pub width: i64,
    pub height: i64,
    pub byte_len: i64,
    pub created_at: OffsetDateTime,
    pub purged_at: Option<OffsetDateTime>,
}

impl Store {
    /// One page of the review queue, earliest due first (cases without a
    /// due date last, then by submission), and how many cases match.
    pub async fn review_queue(
        &self,
        filter: &QueueFilter<'_>,
    ) -> Result<(Vec<QueueRow>, i64), StoreError> {
        // The states are our own names, never input: safe as literals.
        let states = filter
            .states
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect::<Vec<_>>()
            .join(", ");
        let states = if states.is_empty() {
            "NULL".to_string()
        } else {
            states
        };
        let claimed = if filter.claimed_by.is_some() {
            "AND c.claimed_by = $1"
        } else {
            "AND $1 IS NULL"
        };
        let order = match self.db {
            Db::Sqlite(_) => {
                "(c.due_at IS NULL), julianday(c.due_at), julianday(c.submitted_at), c.id"
            }
            Db::Postgres(_) => "(c.due_at IS NULL), c.due_at, c.submitted_at, c.id",
        };
        let filter_sql = format!("c.state IN ({states}) {claimed}");
        let list = format!(
            "SELECT c.id, c.kind, c.state, c.revision, c.version, c.submitted_at, c.due_at, \
             c.claimed_by, c.claimed_at, c.approvals, c.account_id, \
             u.username AS applicant_username, u.display_name AS applicant_display_name, \
             (SELECT o.full_name FROM organizations o WHERE o.id = u.organization_id) AS applicant_organization, r.username AS claimed_by_username \
             FROM review_cases c LEFT JOIN users u ON u.id = c.account_id \
             LEFT JOIN users r ON r.id = c.claimed_by \
             WHERE {filter_sql} ORDER BY {order} LIMIT $2 OFFSET $3"
        );
        let count = format!("SELECT COUNT(*) FROM review_cases c WHERE {filter_sql}");
        let limit = filter.limit.clamp(1, 1000);
        let offset = filter.offset.max(0);
        Ok(on_db!(self, pool => {
            let rows = sqlx::query_as::<_, QueueRow>(&list)
                .bind(filter.claimed_by)
                .bind(limit)
                .bind(offset)
                .fetch_all(pool)
                .await?;
            let total: i64 = sqlx::query_scalar(&count)
                .bind(filter.claimed_by)
                .fetch_one(pool)
                .await?;
            (rows, total)
        }))
    }

    /// The documents of one revision of a case, by slot, without key or
    /// bytes (a page listing them need not read megabytes).
    pub async fn case_document_list(
        &self,
        case_id: Uuid,
        revision: i64,
    ) -> Result<Vec<DocumentInfo>, StoreError> {
        Ok(on_db!(self, pool => sqlx::query_as::<_, DocumentInfo>(
            "SELECT revision, slot, width, height, byte_len, created_at, purged_at \
             FROM case_documents WHERE case_id = $1 AND revision = $2 ORDER BY slot",
        )
        .bind(case_id)
        .bind(revision)
        .fetch_all(pool)
        .await?))
    }
}
