//! Writing the audit log. Entries describe what happened to whom, by whom,
//! from where, and with what outcome — never a secret.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use time::OffsetDateTime;
use tokio::sync::{Notify, watch};
use uuid::Uuid;

use super::{Actor, Origin};
use crate::store::audit::{AuditFilter, AuditRow, NewAuditEvent, QueuedAuditEvent};
use crate::store::users::User;
use crate::store::{Store, StoreError};

/// Every kind of event the audit log holds. Each has words in both
/// languages (`Text::audit_events`), which the console shows instead of
/// the kind; a unit test below finds every kind the code writes and
/// holds it to this list.
pub const EVENT_KINDS: &[&str] = &[
    "account.blocked",
    "account.created",
    "account.disabled",
    "account.enabled",
    "account.imported",
    "account.password_change_failed",
    "account.password_change_forced",
    "account.password_changed",
    "account.password_recovered",
    "account.password_set",
    "account.phone_binding_required",
    "account.phones_viewed",
    "account.role_granted",
    "account.role_revoked",
    "account.sessions_revoked",
    "account.unblocked",
    "account.updated",
    "accounts.imported",
    "admin.api_call",
    "admin.api_denied",
    "app_password.created",
    "app_password.revoked",
    "app_password.revoked_all",
    "authorize.cancelled",
    "authorize.code_issued",
    "authorize.interaction",
    "backup.created",
    "backup.restored",
    "blocks.exported",
    "calendar.updated",
    "client.created",
    "client.registered",
    "client.registration_deleted",
    "client.registration_updated",
    "client.removed",
    "client.secret_rotated",
    "client.updated",
    "consent.denied",
    "consent.granted",
    "consent.revoked",
    "device.answered",
    "device.authorization_started",
    "keys.rotated",
    "ldap.bind",
    "login.failure",
    "login.lockout",
    "login.phone_unreachable",
    "login.step_up",
    "login.step_up_decision",
    "login.success",
    "login.throttled",
    "logout",
    "logout.backchannel",
    "mail.sent",
    "migrate",
    "organization.confirmed",
    "organization.created",
    "organization.imported",
    "organization.registered",
    "organization.registration_expired",
    "organization.updated",
    "phone.binding_skipped",
    "phone.bound",
    "phone.changed",
    "phone.code_refused",
    "recovery.captcha_failed",
    "recovery.code",
    "recovery.link_requested",
    "recovery.started",
    "registration_token.issued",
    "registration_token.revoked",
    "retrieval.authentication_failed",
    "retrieval.code_wrong",
    "retrieval.created",
    "retrieval.uploaded",
    "review.approval",
    "review.approved",
    "review.awaiting_documents",
    "review.cancelled",
    "review.case_viewed",
    "review.claimed",
    "review.code_sent",
    "review.completed",
    "review.document_viewed",
    "review.documents_purged",
    "review.edited",
    "review.effective",
    "review.expired",
    "review.note",
    "review.rejected",
    "review.submitted",
    "review.withdrawn",
    "security_email.confirmation_sent",
    "security_email.reauth_failed",
    "security_email.removed",
    "security_email.verified",
    "session.ended",
    "session.others_ended",
    "sms.code_dropped",
    "sms.code_sent",
    "sms.notice_sent",
    "sms.retrieval_code_sent",
    "token.code_replayed",
    "token.issued",
    "token.refresh_replayed",
    "token.revoked",
    "unbind.password_wrong",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
}

impl Outcome {
    /// The outcome of an attempt that ended in `result`.
    pub fn of<T, E>(result: &Result<T, E>) -> Self {
        if result.is_ok() {
            Outcome::Success
        } else {
            Outcome::Failure
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
        }
    }
}

/// One entry under construction: `Entry::new("login.success", Outcome::Success)
/// .actor(&actor).subject(&user).origin(&origin).detail(json!(…)).write(&store)`.
pub struct Entry(NewAuditEvent);

impl Entry {
    pub fn new(event: &'static str, outcome: Outcome) -> Self {
        Self(NewAuditEvent {
            event,
            outcome: outcome.as_str(),
            actor_id: None,
            actor: Actor::Anonymous.label(),
            subject_id: None,
            subject: None,
            ip: None,
            user_agent: None,
            detail: Value::Object(Default::default()),
        })
    }

    pub fn actor(mut self, actor: &Actor) -> Self {
        self.0.actor_id = actor.id();
        self.0.actor = actor.label();
        self
    }

    pub fn subject(mut self, user: &User) -> Self {
        self.0.subject_id = Some(user.id);
        self.0.subject = Some(user.username.clone());
        self
    }

    /// For attempts against an account that may not exist: the typed name.
    pub fn subject_name(mut self, id: Option<Uuid>, name: &str) -> Self {
        self.0.subject_id = id;
        self.0.subject = Some(name.chars().take(128).collect());
        self
    }

    pub fn origin(mut self, origin: &Origin) -> Self {
        self.0.ip = origin.ip.clone();
        self.0.user_agent = origin
            .user_agent
            .as_ref()
            .map(|ua| ua.chars().take(512).collect());
        self
    }

    pub fn detail(mut self, detail: Value) -> Self {
        self.0.detail = detail;
        self
    }

    /// Writes the entry now, in the caller's time (the CLI; entries that
    /// must be in the log before the caller goes on).
    pub async fn write(self, store: &Store) -> Result<(), StoreError> {
        store.append_audit(&self.finish()).await
    }

    /// Hands the entry to the node's [`AuditWriter`]: written in a batch
    /// within milliseconds, or now when the queue is full.
    pub async fn queue(self, audit: &AuditWriter) -> Result<(), StoreError> {
        audit.append(self.finish()).await
    }

    /// The finished entry, for a store method that writes it in the same
    /// transaction as the change it describes.
    pub fn finish(self) -> NewAuditEvent {
        crate::metrics::event(self.0.event, self.0.outcome);
        tracing::info!(
            target: "audit",
            event = self.0.event,
            outcome = self.0.outcome,
            actor = %self.0.actor,
            subject = self.0.subject.as_deref().unwrap_or("-"),
            ip = self.0.ip.as_deref().unwrap_or("-"),
        );
        self.0
    }
}

/// The audit log of one node: entries of the hot paths (tokens issued,
/// codes issued, sign-ins) are queued here and written by one background
/// task in batches — one transaction for many entries instead of one per
/// request, which on SQLite serialized every token request behind the
/// write lock. Entries that must commit with a change are still written
/// in that change's transaction (`audited_write!`), not here.
///
/// * Bounded: at most `audit.queue` entries wait. When the queue is full
///   the request writes its entry itself (backpressure); none is dropped.
/// * Read-your-writes: every reader goes through [`AuditWriter::list`] or
///   [`AuditWriter::counts_since`], which first wait until what this node
///   queued so far is written ([`AuditWriter::flush`]).
/// * A failed batch (database down) is kept and retried with backoff;
///   the queue behind it fills and requests fall back to writing
///   themselves, so the entries held here stay bounded (queue + batch).
/// * [`AuditWriter::close`] (graceful shutdown) writes everything queued
///   before it returns. A crash loses what was queued and not yet written:
///   the last few milliseconds' entries.
///
/// Writing directly ([`AuditWriter::direct`], the CLI) keeps no queue.
#[derive(Clone)]
pub struct AuditWriter {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    queue: Mutex<Queue>,
    capacity: usize,
    batch: usize,
    interval: Duration,
    /// The worker sleeps on this when the queue is empty.
    wake: Notify,
    /// Ends the worker's gathering window or retry wait early: a reader
    /// waits, a batch is full, or the node shuts down.
    urgent: Notify,
    progress: watch::Sender<Progress>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    stats: Stats,
}

#[derive(Default)]
struct Queue {
    entries: VecDeque<QueuedAuditEvent>,
    /// Entries ever queued (the sequence number of the newest).
    queued: u64,
    /// A reader waits: write without gathering.
    hurry: bool,
    closed: bool,
}

/// What the worker has done, for readers waiting on it.
#[derive(Debug, Clone, Copy, Default)]
struct Progress {
    /// Queued entries written, counted from the first (they are written
    /// in queue order, so every entry up to this one is in the table).
    written: u64,
    /// Batches that failed so far.
    failures: u64,
    /// The worker has ended (shutdown); what it did not write is logged.
    stopped: bool,
}

#[derive(Default)]
struct Stats {
    batches: AtomicU64,
    batched_entries: AtomicU64,
    direct: AtomicU64,
    failures: AtomicU64,
}

/// The writer's counters and queue now (the metrics page shows them).
#[derive(Debug, Clone, Copy, Default)]
pub struct AuditWriterState {
    pub queued: usize,
    pub capacity: usize,
    /// Batches written, and the entries in them.
    pub batches: u64,
    pub batched_entries: u64,
    /// Entries written by their request: the queue was full, or closed.
    pub direct: u64,
    /// Batches that failed (each is retried).
    pub failures: u64,
}

/// The longest a failed batch waits before it is tried again.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Tries of the last batches at shutdown before the rest is reported lost.
const SHUTDOWN_TRIES: u32 = 3;

impl AuditWriter {
    /// No queue: every entry is written by its caller (the CLI, whose
    /// commands are done when the process ends).
    pub fn direct(store: Store) -> Self {
        Self::new(store, 0, 1, Duration::ZERO)
    }

    /// A writer with a background task (a serving node): at most
    /// `capacity` entries wait, written `batch` at most per transaction,
    /// gathered for `interval` after the first.
    pub fn spawn(store: Store, capacity: usize, batch: usize, interval: Duration) -> Self {
        let writer = Self::new(store, capacity, batch.max(1), interval);
        if capacity > 0 {
            let inner = writer.inner.clone();
            let task = tokio::spawn(run(inner));
            *writer.inner.task.lock().unwrap_or_else(|p| p.into_inner()) = Some(task);
        }
        writer
    }

    fn new(store: Store, capacity: usize, batch: usize, interval: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                queue: Mutex::new(Queue::default()),
                capacity,
                batch,
                interval,
                wake: Notify::new(),
                urgent: Notify::new(),
                progress: watch::Sender::new(Progress::default()),
                task: Mutex::new(None),
                stats: Stats::default(),
            }),
        }
    }

    /// Queues `event`, stamped now; writes it in the caller's time when the
    /// queue is full or closed (or there is none).
    pub async fn append(&self, event: NewAuditEvent) -> Result<(), StoreError> {
        let inner = &self.inner;
        let entry = QueuedAuditEvent {
            at: inner.store.now(),
            event,
        };
        let entry = {
            let mut q = inner.queue.lock().unwrap_or_else(|p| p.into_inner());
            if !q.closed && q.entries.len() < inner.capacity {
                q.entries.push_back(entry);
                q.queued += 1;
                let len = q.entries.len();
                drop(q);
                if len == 1 {
                    inner.wake.notify_one();
                }
                if len >= inner.batch {
                    inner.urgent.notify_one();
                }
                return Ok(());
            }
            entry
        };
        inner.stats.direct.fetch_add(1, Ordering::Relaxed);
        inner
            .store
            .append_audit_batch(std::slice::from_ref(&entry))
            .await
    }

    /// Waits until every entry this node queued before the call is in the
    /// table. Fails when the writer's attempt after the call fails (the
    /// entries stay queued and are retried) or the writer has stopped
    /// without writing them.
    pub async fn flush(&self) -> Result<(), StoreError> {
        let inner = &self.inner;
        let target = inner.queue.lock().unwrap_or_else(|p| p.into_inner()).queued;
        let mut progress = inner.progress.subscribe();
        let start = *progress.borrow_and_update();
        if start.written >= target {
            return Ok(());
        }
        inner.queue.lock().unwrap_or_else(|p| p.into_inner()).hurry = true;
        inner.urgent.notify_one();
        inner.wake.notify_one();
        loop {
            let now = *progress.borrow_and_update();
            if now.written >= target {
                return Ok(());
            }
            if now.failures > start.failures || now.stopped {
                return Err(behind(
                    "the audit entries queued on this node could not be written yet",
                ));
            }
            if progress.changed().await.is_err() {
                return Err(behind("the audit writer has stopped"));
            }
        }
    }

    /// Stops taking entries (later ones are written by their requests),
    /// writes what is queued and waits for the writer to end.
    pub async fn close(&self) {
        self.inner
            .queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .closed = true;
        self.inner.urgent.notify_one();
        self.inner.wake.notify_one();
        let task = self
            .inner
            .task
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }

    /// The audit log as `filter` selects it, this node's queue written first.
    pub async fn list(&self, filter: &AuditFilter) -> Result<Vec<AuditRow>, StoreError> {
        self.flush().await?;
        self.inner.store.list_audit(filter).await
    }

    /// Entries by event and outcome since `since`, this node's queue
    /// written first (see [`Store::audit_counts_since`]).
    pub async fn counts_since(
        &self,
        since: OffsetDateTime,
    ) -> Result<Vec<(String, String, i64)>, StoreError> {
        self.flush().await?;
        self.inner.store.audit_counts_since(since).await
    }

    pub fn state(&self) -> AuditWriterState {
        let s = &self.inner.stats;
        AuditWriterState {
            queued: self
                .inner
                .queue
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .entries
                .len(),
            capacity: self.inner.capacity,
            batches: s.batches.load(Ordering::Relaxed),
            batched_entries: s.batched_entries.load(Ordering::Relaxed),
            direct: s.direct.load(Ordering::Relaxed),
            failures: s.failures.load(Ordering::Relaxed),
        }
    }
}

/// A reader could not be shown what this node queued: answered like a
/// database outage (503), which is what it nearly always is.
fn behind(why: &str) -> StoreError {
    StoreError::Unavailable(sqlx::Error::Protocol(why.into()))
}

/// The writer: gathers a batch, writes it in one transaction, and keeps
/// a failed batch to try again.
async fn run(inner: Arc<Inner>) {
    let mut batch: Vec<QueuedAuditEvent> = Vec::with_capacity(inner.batch);
    let mut backoff = Duration::from_millis(50);
    let mut shutdown_tries = 0;
    loop {
        if batch.is_empty() {
            // Wait for the first entry (or the end).
            loop {
                let ready = {
                    let q = inner.queue.lock().unwrap_or_else(|p| p.into_inner());
                    !q.entries.is_empty() || q.closed
                };
                if ready {
                    break;
                }
                inner.wake.notified().await;
            }
            // Gather more for a moment, unless there is reason not to.
            let wait = {
                let q = inner.queue.lock().unwrap_or_else(|p| p.into_inner());
                !(q.closed || q.hurry || q.entries.len() >= inner.batch)
            };
            if wait {
                let _ = tokio::time::timeout(inner.interval, inner.urgent.notified()).await;
            }
            let done = {
                let mut q = inner.queue.lock().unwrap_or_else(|p| p.into_inner());
                let n = q.entries.len().min(inner.batch);
                batch.extend(q.entries.drain(..n));
                if q.entries.is_empty() {
                    q.hurry = false;
                }
                batch.is_empty() && q.closed
            };
            if done {
                break;
            }
        }
        match inner.store.append_audit_batch(&batch).await {
            Ok(()) => {
                let n = batch.len() as u64;
                inner.stats.batches.fetch_add(1, Ordering::Relaxed);
                inner.stats.batched_entries.fetch_add(n, Ordering::Relaxed);
                inner.progress.send_modify(|p| p.written += n);
                batch.clear();
                backoff = Duration::from_millis(50);
            }
            Err(e) => {
                inner.stats.failures.fetch_add(1, Ordering::Relaxed);
                inner.progress.send_modify(|p| p.failures += 1);
                // The error names the database's complaint, never an
                // entry's content.
                tracing::warn!(
                    error = %e,
                    entries = batch.len(),
                    "writing a batch of audit entries failed; keeping it to try again"
                );
                let closed = inner.queue.lock().unwrap_or_else(|p| p.into_inner()).closed;
                if closed {
                    shutdown_tries += 1;
                    if shutdown_tries >= SHUTDOWN_TRIES {
                        break;
                    }
                }
                // A waiting reader or the shutdown tries again at once.
                let _ = tokio::time::timeout(backoff, inner.urgent.notified()).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
    let lost = batch.len() + {
        let q = inner.queue.lock().unwrap_or_else(|p| p.into_inner());
        q.entries.len()
    };
    if lost > 0 {
        tracing::error!(
            entries = lost,
            "audit entries could not be written before shutdown and are lost"
        );
    }
    inner.progress.send_modify(|p| p.stopped = true);
}

#[cfg(test)]
mod tests {
    use super::EVENT_KINDS;

    /// String literals of `src/` that have the shape of an event kind
    /// (`area.what`, or a bare `logout` / `migrate` passed to `Entry::new`).
    fn kinds_in(source: &str, areas: &[&str]) -> Vec<String> {
        let mut found = Vec::new();
        for (i, piece) in source.split('"').enumerate() {
            if i % 2 == 0 || piece.is_empty() || piece.len() > 60 {
                continue;
            }
            let Some((area, rest)) = piece.split_once('.') else {
                continue;
            };
            let word =
                |w: &str| !w.is_empty() && w.chars().all(|c| c.is_ascii_lowercase() || c == '_');
            if areas.contains(&area) && rest.split('.').all(word) {
                found.push(piece.to_string());
            }
        }
        found
    }

    fn sources(dir: &std::path::Path, out: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                out.push((path.display().to_string(), text));
            }
        }
    }

    /// Names that look like kinds but are not events: file names and
    /// configuration keys.
    const NOT_EVENTS: &[&str] = &[
        "mail.jsonl",
        "sms.jsonl",
        "sms.webhook_secret",
        "sms.tencentcloudapi.com",
    ];

    #[test]
    fn every_kind_written_is_listed() {
        let areas: Vec<&str> = EVENT_KINDS
            .iter()
            .filter_map(|k| k.split_once('.').map(|(a, _)| a))
            .collect();
        let mut files = Vec::new();
        sources(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut files,
        );
        let mut seen = 0;
        for (path, text) in &files {
            for kind in kinds_in(text, &areas) {
                if NOT_EVENTS.contains(&kind.as_str()) {
                    continue;
                }
                seen += 1;
                assert!(
                    EVENT_KINDS.contains(&kind.as_str()),
                    "{path} writes the audit event {kind:?}, missing from EVENT_KINDS"
                );
            }
            for bare in ["logout", "migrate"] {
                let call = format!("Entry::new(\"{bare}\"");
                if text.contains(&call) {
                    assert!(EVENT_KINDS.contains(&bare));
                }
            }
        }
        // The scan finds the kinds (it would pass vacuously if it did not).
        assert!(seen > 80, "only {seen} kinds found in the sources");
        assert!(kinds_in("x(\"login.failure\")", &areas) == ["login.failure"]);
    }

    #[test]
    fn every_kind_has_words_in_both_languages() {
        for t in [crate::i18n::Lang::ZhCn.text(), crate::i18n::Lang::En.text()] {
            for kind in EVENT_KINDS {
                let words = t.audit_event(kind);
                assert_ne!(&words, kind, "{kind} has no words in {}", t.html_lang);
            }
            for (kind, _) in t.audit_events {
                assert!(EVENT_KINDS.contains(kind), "{kind} is not an event kind");
            }
            assert_eq!(t.audit_events.len(), EVENT_KINDS.len());
        }
        let en = crate::i18n::Lang::En.text();
        assert_eq!(en.audit_event("login.failure"), "Sign-in failed");
        assert_eq!(en.audit_event("unknown.kind"), "unknown.kind");
    }
}
