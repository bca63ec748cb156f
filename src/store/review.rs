//! Review cases (the phone-unbind application, later the organization-verified
//! retrieval), their append-only history and their encrypted documents.
//!
//! Every change of a case is one transaction: the case row (checked against
//! the version the caller read, so of two reviewers deciding at once exactly
//! one wins), its `case_events` row, any new documents and the audit entry.
//! Which changes are allowed is the service's business
//! (`service::review`); this module only writes them safely.

use serde_json::json;
use sqlx::FromRow;
use time::OffsetDateTime;
use uuid::Uuid;

use super::audit::{NewAuditEvent, insert_audit};
use super::{BeginWrite, Db, Store, StoreError, on_db};

/// What a case is about. Each kind has its own data and transition table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CaseKind {
    PhoneUnbind,
    /// The organization-verified password retrieval (密码索取).
    PasswordRetrieval,
}

impl CaseKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PhoneUnbind => "phone_unbind",
            Self::PasswordRetrieval => "password_retrieval",
        }
    }
}

impl TryFrom<String> for CaseKind {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        match value.as_str() {
            "phone_unbind" => Ok(Self::PhoneUnbind),
            "password_retrieval" => Ok(Self::PasswordRetrieval),
            other => Err(format!("unknown case kind {other:?}")),
        }
    }
}

/// Where a case stands. The allowed moves between them are the service's
/// transition table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CaseState {
    Submitted,
    InReview,
    Approved,
    AwaitingRebind,
    Completed,
    Rejected,
    Edited,
    Withdrawn,
    Cancelled,
    Expired,
    /// A retrieval whose form is in and whose stamped scans are not.
    AwaitingDocuments,
    /// An approved retrieval whose one-time code went out by SMS.
    AwaitingCompletion,
}

impl CaseState {
    pub const ALL: [CaseState; 12] = [
        Self::Submitted,
        Self::InReview,
        Self::Approved,
        Self::AwaitingRebind,
        Self::Completed,
        Self::Rejected,
        Self::Edited,
        Self::Withdrawn,
        Self::Cancelled,
        Self::Expired,
        Self::AwaitingDocuments,
        Self::AwaitingCompletion,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Submitted => "submitted",
            Self::InReview => "in_review",
            Self::Approved => "approved",
            Self::AwaitingRebind => "awaiting_rebind",
            Self::Completed => "completed",
            Self::Rejected => "rejected",
            Self::Edited => "edited",
            Self::Withdrawn => "withdrawn",
            Self::Cancelled => "cancelled",
            Self::Expired => "expired",
            Self::AwaitingDocuments => "awaiting_documents",
            Self::AwaitingCompletion => "awaiting_completion",
        }
    }

    /// Still open: it counts against "one open case per account and kind"
    /// (the partial unique index, last written by migration 0015, lists the same states).
    pub fn is_open(self) -> bool {
        !self.is_final()
    }

    /// Nothing follows.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Completed | Self::Withdrawn | Self::Cancelled | Self::Expired
        )
    }
}

impl TryFrom<String> for CaseState {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == value)
            .ok_or_else(|| format!("unknown case state {value:?}"))
    }
}

pub(super) const CASE_COLUMNS: &str = "id, kind, public_number, account_id, state, revision, version, data, \
    contact_phone, contact_email, consent_version, consent_at, submitted_at, due_at, claimed_by, \
    claimed_at, decided_at, approvals, effective_at, completed_at, purge_after, applicant_note, \
    internal_note, created_at, updated_at";

/// A case as stored. `data` and `approvals` are JSON text (read them
/// through the service, which reports a broken value as corrupt).
/// `Debug` leaves out the personal data (contact, notes, kind data).
#[derive(Clone, FromRow)]
pub struct Case {
    pub id: Uuid,
    #[sqlx(try_from = "String")]
    pub kind: CaseKind,
    pub public_number: Option<String>,
    pub account_id: Option<Uuid>,
    #[sqlx(try_from = "String")]
    pub state: CaseState,
    pub revision: i64,
    pub version: i64,
    /// Kind-specific, non-sensitive data: a JSON object.
    pub data: String,
    /// E.164.
    pub contact_phone: Option<String>,
    pub contact_email: Option<String>,
    /// Which consent notice the applicant accepted, and when.
    pub consent_version: Option<String>,
    pub consent_at: Option<OffsetDateTime>,
    pub submitted_at: OffsetDateTime,
    pub due_at: Option<OffsetDateTime>,
    pub claimed_by: Option<Uuid>,
    pub claimed_at: Option<OffsetDateTime>,
    pub decided_at: Option<OffsetDateTime>,
    /// The deciding reviewer(s): a JSON list of `{"id", "name", "at"}`.
    pub approvals: String,
    /// When an approval takes effect (the end of the cooling-off period).
    pub effective_at: Option<OffsetDateTime>,
    pub completed_at: Option<OffsetDateTime>,
    /// When the documents are to be purged (set by a final state or a
    /// rejection; cleared by the purge).
    pub purge_after: Option<OffsetDateTime>,
    /// 审批备注: the reviewers' note to the applicant.
    pub applicant_note: Option<String>,
    /// Reviewers only.
    pub internal_note: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl std::fmt::Debug for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Case")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("state", &self.state)
            .field("revision", &self.revision)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// One line of a case's history.
#[derive(Debug, Clone, FromRow)]
pub struct CaseEvent {
    pub id: i64,
    pub case_id: Uuid,
    pub revision: i64,
    pub at: OffsetDateTime,
    pub event: String,
    pub actor_id: Option<Uuid>,
    pub actor: String,
    pub from_state: Option<String>,
    pub to_state: String,
    pub note: Option<String>,
    pub ip: Option<String>,
}

/// A history line to append (the case's id and revision are added).
#[derive(Debug, Clone)]
pub struct NewCaseEvent {
    pub event: &'static str,
    pub actor_id: Option<Uuid>,
    pub actor: String,
    pub from_state: Option<CaseState>,
    pub to_state: CaseState,
    pub note: Option<String>,
    pub ip: Option<String>,
}

/// The phones an unbind application takes off its account when it takes
/// effect (E.164, as they were at submission) — or, with `restore`, puts
/// back when an application in effect is cancelled or expires unfinished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneRelease {
    pub account_id: Uuid,
    pub login: Option<String>,
    pub security: Option<String>,
    /// Put the numbers back (each only where the account has none now and,
    /// for the login phone, no other account has taken it), settle the
    /// binding the unbind demanded, and end every session and token of the
    /// account (whoever signed in with the password alone meanwhile).
    pub restore: bool,
}

/// What else a change of a case writes in its transaction (the
/// retrieval's: an organization registered with the case becomes active;
/// the one-time retrieval code is stored, or spent).
#[derive(Default)]
pub struct CaseExtras {
    /// A pending organization to activate, with its audit entry.
    pub activate_organization: Option<(Uuid, NewAuditEvent)>,
    /// A retrieval code to store (replacing the case's earlier one).
    pub retrieval_code: Option<NewRetrievalCode>,
    /// Delete the case's retrieval code (the case completed or ended).
    pub drop_retrieval_code: bool,
}

/// A one-time retrieval code as stored: salt and salted SHA-256.
pub struct NewRetrievalCode {
    pub salt: String,
    pub code_hash: String,
    pub expires_at: OffsetDateTime,
}

/// An encrypted document to store with a change of its case.
#[derive(Clone)]
pub struct NewDocument {
    pub revision: i64,
    pub slot: i64,
    pub kek_id: String,
    pub wrapped_key: Vec<u8>,
    pub ciphertext: Vec<u8>,
    pub width: i64,
    pub height: i64,
    pub byte_len: i64,
}

/// A stored document; `wrapped_key` and `ciphertext` are `None` once purged.
#[derive(Clone, FromRow)]
pub struct StoredDocument {
    pub case_id: Uuid,
    pub revision: i64,
    pub slot: i64,
    pub kek_id: String,
    pub wrapped_key: Option<Vec<u8>>,
    pub ciphertext: Option<Vec<u8>>,
    pub width: i64,
    pub height: i64,
    pub byte_len: i64,
    pub created_at: OffsetDateTime,
    pub purged_at: Option<OffsetDateTime>,
}

impl std::fmt::Debug for StoredDocument {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredDocument")
            .field("case_id", &self.case_id)
            .field("revision", &self.revision)
            .field("slot", &self.slot)
            .field("kek_id", &self.kek_id)
            .field("purged", &self.purged_at.is_some())
            .finish_non_exhaustive()
    }
}

macro_rules! insert_event {
    ($exec:expr, $case:expr, $event:expr, $at:expr) => {{
        let c: &Case = $case;
        let e: &NewCaseEvent = $event;
        sqlx::query(
            "INSERT INTO case_events (case_id, revision, at, event, actor_id, actor, from_state, to_state, note, ip) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(c.id)
        .bind(c.revision)
        .bind($at)
        .bind(e.event)
        .bind(e.actor_id)
        .bind(&e.actor)
        .bind(e.from_state.map(CaseState::as_str))
        .bind(e.to_state.as_str())
        .bind(&e.note)
        .bind(&e.ip)
        .execute($exec)
        .await
        .map(|_| ())
    }};
}

pub(super) use insert_event;

macro_rules! insert_documents {
    ($exec:expr, $case_id:expr, $docs:expr, $at:expr) => {{
        let mut result: Result<(), sqlx::Error> = Ok(());
        for d in $docs {
            let d: &NewDocument = d;
            if let Err(e) = sqlx::query(
                "INSERT INTO case_documents (case_id, revision, slot, kek_id, wrapped_key, ciphertext, width, height, byte_len, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind($case_id)
            .bind(d.revision)
            .bind(d.slot)
            .bind(&d.kek_id)
            .bind(&d.wrapped_key)
            .bind(&d.ciphertext)
            .bind(d.width)
            .bind(d.height)
            .bind(d.byte_len)
            .bind($at)
            .execute(&mut *$exec)
            .await
            {
                result = Err(e);
                break;
            }
        }
        result
    }};
}

impl Store {
    /// Stores a new case with its documents, its first event and the audit
    /// entry. `Conflict("open_case")` when the account already has an open
    /// case of this kind (the partial unique index decides, so two
    /// submissions at once cannot both pass).
    pub async fn insert_case(
        &self,
        case: &Case,
        documents: &[NewDocument],
        event: &NewCaseEvent,
        audit: &NewAuditEvent,
    ) -> Result<(), StoreError> {
        let now = self.now();
        let sql = format!(
            "INSERT INTO review_cases ({CASE_COLUMNS}) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25)"
        );
        let result: Result<(), sqlx::Error> = on_db!(self, pool => async {
            let mut tx = pool.begin_write().await?;
            sqlx::query(&sql)
                .bind(case.id)
                .bind(case.kind.as_str())
                .bind(&case.public_number)
                .bind(case.account_id)
                .bind(case.state.as_str())
                .bind(case.revision)
                .bind(case.version)
                .bind(&case.data)
                .bind(&case.contact_phone)
                .bind(&case.contact_email)
                .bind(&case.consent_version)
                .bind(case.consent_at)
                .bind(case.submitted_at)
                .bind(case.due_at)
                .bind(case.claimed_by)
                .bind(case.claimed_at)
                .bind(case.decided_at)
                .bind(&case.approvals)
                .bind(case.effective_at)
                .bind(case.completed_at)
                .bind(case.purge_after)
                .bind(&case.applicant_note)
                .bind(&case.internal_note)
                .bind(case.created_at)
                .bind(case.updated_at)
                .execute(&mut *tx)
                .await?;
            insert_documents!(tx, case.id, documents, now)?;
            insert_event!(&mut *tx, case, event, now)?;
            insert_audit!(&mut *tx, audit, now)?;
            tx.commit().await?;
            Ok(())
        }.await);
        result.map_err(|e| StoreError::from_write(e, &["open_case"]).into_conflict("open_case"))
    }

    /// Writes `case` (every changeable column) if the stored version is
    /// still `read_version`, with new documents, the event and the audit
    /// entry, in one transaction. `Stale` when someone changed the case
    /// since it was read; `NotFound` when there is no such case.
    #[allow(clippy::too_many_arguments)]
    pub async fn update_case(
        &self,
        case: &Case,
        read_version: i64,
        documents: &[NewDocument],
        event: &NewCaseEvent,
        audit: Option<&NewAuditEvent>,
        release: Option<&PhoneRelease>,
        extras: &CaseExtras,
    ) -> Result<(), StoreError> {
        let now = self.now();
        let result: Result<u64, sqlx::Error> = on_db!(self, pool => async {
            let mut tx = pool.begin_write().await?;
            let n = sqlx::query(
                "UPDATE review_cases SET state = $3, revision = $4, version = version + 1, data = $5, \
                 contact_phone = $6, contact_email = $7, consent_version = $8, consent_at = $9, \
                 submitted_at = $10, due_at = $11, claimed_by = $12, claimed_at = $13, decided_at = $14, \
                 approvals = $15, effective_at = $16, completed_at = $17, purge_after = $18, \
                 applicant_note = $19, internal_note = $20, updated_at = $21, account_id = $22 \
                 WHERE id = $1 AND version = $2",
            )
            .bind(case.id)
            .bind(read_version)
            .bind(case.state.as_str())
            .bind(case.revision)
            .bind(&case.data)
            .bind(&case.contact_phone)
            .bind(&case.contact_email)
            .bind(&case.consent_version)
            .bind(case.consent_at)
            .bind(case.submitted_at)
            .bind(case.due_at)
            .bind(case.claimed_by)
            .bind(case.claimed_at)
            .bind(case.decided_at)
            .bind(&case.approvals)
            .bind(case.effective_at)
            .bind(case.completed_at)
            .bind(case.purge_after)
            .bind(&case.applicant_note)
            .bind(&case.internal_note)
            .bind(now)
            .bind(case.account_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 0 {
                tx.rollback().await?;
                return Ok(0);
            }
            insert_documents!(tx, case.id, documents, now)?;
            insert_event!(&mut *tx, case, event, now)?;
            if let Some(r) = release.filter(|r| r.restore) {
                let restored_login = "$2 IS NOT NULL AND login_phone IS NULL \
                     AND NOT EXISTS (SELECT 1 FROM users other WHERE other.login_phone = $2)";
                let sql = format!(
                    "UPDATE users SET \
                     phone_binding = CASE WHEN phone_binding = 'after_unbind' AND ({restored_login}) THEN NULL ELSE phone_binding END, \
                     login_phone = CASE WHEN {restored_login} THEN $2 ELSE login_phone END, \
                     security_phone = CASE WHEN $3 IS NOT NULL AND security_phone IS NULL THEN $3 ELSE security_phone END, \
                     session_epoch = session_epoch + 1, updated_at = $4, version = version + 1 WHERE id = $1"
                );
                sqlx::query(&sql)
                    .bind(r.account_id)
                    .bind(&r.login)
                    .bind(&r.security)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(super::users::REVOKE_GRANTS)
                    .bind(r.account_id)
                    .bind(now)
                    .bind("unbind application ended unfinished")
                    .bind(None::<&str>)
                    .execute(&mut *tx)
                    .await?;
            } else if let Some(r) = release {
                // Each number only if it is still the account's; without
                // its login phone the account must bind a new one.
                sqlx::query(
                    "UPDATE users SET \
                     phone_binding = CASE WHEN $2 IS NOT NULL AND login_phone = $2 THEN 'after_unbind' ELSE phone_binding END, \
                     login_phone = CASE WHEN $2 IS NOT NULL AND login_phone = $2 THEN NULL ELSE login_phone END, \
                     security_phone = CASE WHEN $3 IS NOT NULL AND security_phone = $3 THEN NULL ELSE security_phone END, \
                     updated_at = $4, version = version + 1 WHERE id = $1",
                )
                .bind(r.account_id)
                .bind(&r.login)
                .bind(&r.security)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            if let Some((org, org_audit)) = &extras.activate_organization {
                let changed = sqlx::query(
                    "UPDATE organizations SET status = 'active', version = version + 1, updated_at = $2 \
                     WHERE id = $1 AND status = 'pending'",
                )
                .bind(org)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if changed > 0 {
                    insert_audit!(&mut *tx, org_audit, now)?;
                }
            }
            if let Some(code) = &extras.retrieval_code {
                sqlx::query("DELETE FROM retrieval_codes WHERE case_id = $1")
                    .bind(case.id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "INSERT INTO retrieval_codes (case_id, salt, code_hash, expires_at, tries, created_at) \
                     VALUES ($1, $2, $3, $4, 0, $5)",
                )
                .bind(case.id)
                .bind(&code.salt)
                .bind(&code.code_hash)
                .bind(code.expires_at)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            } else if extras.drop_retrieval_code {
                sqlx::query("DELETE FROM retrieval_codes WHERE case_id = $1")
                    .bind(case.id)
                    .execute(&mut *tx)
                    .await?;
            }
            if let Some(audit) = audit {
                insert_audit!(&mut *tx, audit, now)?;
            }
            // A completed case gave the account back to its owner (a new
            // phone bound, a password retrieved): application passwords
            // made before are no proof of that owner, so none stays.
            if case.state == CaseState::Completed
                && let Some(account) = case.account_id
            {
                let reason = format!("{} completed", case.kind.as_str());
                let count = sqlx::query(super::app_passwords::REVOKE_ALL)
                    .bind(account)
                    .bind(now)
                    .bind(&reason)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if count > 0 {
                    let entry = NewAuditEvent {
                        event: "app_password.revoked_all",
                        outcome: "success",
                        actor_id: None,
                        actor: "system".into(),
                        subject_id: Some(account),
                        subject: None,
                        ip: None,
                        user_agent: None,
                        detail: json!({ "reason": reason, "count": count, "case_id": case.id }),
                    };
                    insert_audit!(&mut *tx, &entry, now)?;
                }
            }
            tx.commit().await?;
            Ok(n)
        }.await);
        match result.map_err(|e| StoreError::from_write(e, &["open_case"]))? {
            0 => match self.case_by_id(case.id).await? {
                Some(_) => Err(StoreError::Stale),
                None => Err(StoreError::NotFound),
            },
            _ => Ok(()),
        }
    }

    pub async fn case_by_id(&self, id: Uuid) -> Result<Option<Case>, StoreError> {
        let sql = format!("SELECT {CASE_COLUMNS} FROM review_cases WHERE id = $1");
        Ok(on_db!(self, pool => sqlx::query_as::<_, Case>(&sql)
            .bind(id)
            .fetch_optional(pool)
            .await?))
    }

    /// The cases of an account of one kind, newest first.
    pub async fn cases_of_account(
        &self,
        account_id: Uuid,
        kind: CaseKind,
    ) -> Result<Vec<Case>, StoreError> {
        let sql = format!(
            "SELECT {CASE_COLUMNS} FROM review_cases WHERE account_id = $1 AND kind = $2 \
             ORDER BY created_at DESC"
        );
        Ok(on_db!(self, pool => sqlx::query_as::<_, Case>(&sql)
            .bind(account_id)
            .bind(kind.as_str())
            .fetch_all(pool)
            .await?))
    }

    /// Cases of a kind in `state`, earliest due first (the review queue).
    pub async fn cases_in_state(
        &self,
        kind: CaseKind,
        state: CaseState,
        limit: i64,
    ) -> Result<Vec<Case>, StoreError> {
        let sql = format!(
            "SELECT {CASE_COLUMNS} FROM review_cases WHERE kind = $1 AND state = $2 \
             ORDER BY due_at, submitted_at LIMIT $3"
        );
        Ok(on_db!(self, pool => sqlx::query_as::<_, Case>(&sql)
            .bind(kind.as_str())
            .bind(state.as_str())
            .bind(limit.clamp(1, 1000))
            .fetch_all(pool)
            .await?))
    }

    /// How many cases there are of each kind in each open state (the
    /// metrics endpoint shows them): `(kind, state, count)`.
    pub async fn open_case_counts(&self) -> Result<Vec<(String, String, i64)>, StoreError> {
        // The open states are constants of this module, not input.
        let open: Vec<String> = CaseState::ALL
            .iter()
            .filter(|s| s.is_open())
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        let sql = format!(
            "SELECT kind, state, COUNT(*) FROM review_cases WHERE state IN ({}) \
             GROUP BY kind, state ORDER BY kind, state",
            open.join(", ")
        );
        Ok(
            on_db!(self, pool => sqlx::query_as::<_, (String, String, i64)>(&sql)
            .fetch_all(pool)
            .await?),
        )
    }

    /// Ids of cases in `state` whose `effective_at` is at or before `t`.
    pub async fn cases_effective_before(
        &self,
        state: CaseState,
        t: OffsetDateTime,
        limit: i64,
    ) -> Result<Vec<Uuid>, StoreError> {
        let cmp = match self.db {
            Db::Sqlite(_) => "julianday(effective_at) <= julianday($2)",
            Db::Postgres(_) => "effective_at <= $2",
        };
        let sql = format!(
            "SELECT id FROM review_cases WHERE state = $1 AND effective_at IS NOT NULL AND {cmp} \
             ORDER BY effective_at LIMIT $3"
        );
        let t = t.to_offset(time::UtcOffset::UTC);
        Ok(on_db!(self, pool => sqlx::query_scalar::<_, Uuid>(&sql)
            .bind(state.as_str())
            .bind(t)
            .bind(limit.clamp(1, 1000))
            .fetch_all(pool)
            .await?))
    }

    /// The history of a case, oldest first.
    pub async fn case_events(&self, case_id: Uuid) -> Result<Vec<CaseEvent>, StoreError> {
        Ok(on_db!(self, pool => sqlx::query_as::<_, CaseEvent>(
            "SELECT id, case_id, revision, at, event, actor_id, actor, from_state, to_state, note, ip \
             FROM case_events WHERE case_id = $1 ORDER BY id",
        )
        .bind(case_id)
        .fetch_all(pool)
        .await?))
    }

    /// Appends a history line that changes nothing else (an audited view,
    /// say) — no version check.
    pub async fn append_case_event(
        &self,
        case: &Case,
        event: &NewCaseEvent,
    ) -> Result<(), StoreError> {
        let now = self.now();
        on_db!(self, pool => insert_event!(pool, case, event, now)?);
        Ok(())
    }

    /// The documents of one revision of a case, by slot.
    pub async fn case_documents(
        &self,
        case_id: Uuid,
        revision: i64,
    ) -> Result<Vec<StoredDocument>, StoreError> {
        Ok(on_db!(self, pool => sqlx::query_as::<_, StoredDocument>(
            "SELECT case_id, revision, slot, kek_id, wrapped_key, ciphertext, width, height, byte_len, \
             created_at, purged_at FROM case_documents WHERE case_id = $1 AND revision = $2 ORDER BY slot",
        )
        .bind(case_id)
        .bind(revision)
        .fetch_all(pool)
        .await?))
    }

    /// Ids of cases whose documents are due to be purged at `now`.
    pub async fn cases_to_purge(
        &self,
        now: OffsetDateTime,
        limit: i64,
    ) -> Result<Vec<Uuid>, StoreError> {
        let cmp = match self.db {
            Db::Sqlite(_) => "julianday(purge_after) <= julianday($1)",
            Db::Postgres(_) => "purge_after <= $1",
        };
        let sql = format!(
            "SELECT id FROM review_cases WHERE purge_after IS NOT NULL AND {cmp} \
             ORDER BY purge_after LIMIT $2"
        );
        let now = now.to_offset(time::UtcOffset::UTC);
        Ok(on_db!(self, pool => sqlx::query_scalar::<_, Uuid>(&sql)
            .bind(now)
            .bind(limit.clamp(1, 1000))
            .fetch_all(pool)
            .await?))
    }

    /// Purges the documents of one case if it is (still) due: clears the
    /// bytes and wrapped keys of every document of a final or rejected
    /// case and of older revisions otherwise, clears `purge_after`, and
    /// writes the `purged` event and audit entry — in one transaction.
    /// The conditional update of `purge_after` is the claim: of several
    /// nodes purging at once exactly one does the work; the others get
    /// `Ok(None)`. Does not change the case's version (a purge is not a
    /// decision and must not make a reviewer's form stale). Returns how
    /// many documents were purged.
    pub async fn purge_case_documents(
        &self,
        case_id: Uuid,
        event: &NewCaseEvent,
        audit: &NewAuditEvent,
    ) -> Result<Option<u64>, StoreError> {
        let now = self.now();
        let utc = now.to_offset(time::UtcOffset::UTC);
        let cmp = match self.db {
            Db::Sqlite(_) => "julianday(purge_after) <= julianday($2)",
            Db::Postgres(_) => "purge_after <= $2",
        };
        let claim = format!(
            "UPDATE review_cases SET purge_after = NULL WHERE id = $1 AND purge_after IS NOT NULL AND {cmp}"
        );
        let all: Vec<&str> = CaseState::ALL
            .into_iter()
            .filter(|s| s.is_final() || matches!(*s, CaseState::Rejected | CaseState::Edited))
            .map(CaseState::as_str)
            .collect();
        let all = all
            .iter()
            .map(|s| format!("'{s}'"))
            .collect::<Vec<_>>()
            .join(", ");
        let purge = format!(
            "UPDATE case_documents SET wrapped_key = NULL, ciphertext = NULL, purged_at = $2 \
             WHERE case_id = $1 AND purged_at IS NULL AND (revision < $3 OR $4 IN ({all}))"
        );
        on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let claimed = sqlx::query(&claim)
                .bind(case_id)
                .bind(utc)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if claimed == 0 {
                tx.rollback().await?;
                return Ok(None);
            }
            let sql = format!("SELECT {CASE_COLUMNS} FROM review_cases WHERE id = $1");
            let case = sqlx::query_as::<_, Case>(&sql)
                .bind(case_id)
                .fetch_one(&mut *tx)
                .await?;
            let n = sqlx::query(&purge)
                .bind(case_id)
                .bind(now)
                .bind(case.revision)
                .bind(case.state.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n > 0 {
                let mut event = event.clone();
                event.from_state = Some(case.state);
                event.to_state = case.state;
                insert_event!(&mut *tx, &case, &event, now)?;
                insert_audit!(&mut *tx, audit, now)?;
            }
            tx.commit().await?;
            Ok(Some(n))
        })
    }
}
