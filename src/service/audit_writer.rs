//! The audit writer of a serving node: the hot paths' entries are queued
//! and written in batches by one task (see [`AuditWriter`]). The SQL is in
//! `store::audit`; what an entry holds is built in `service::audit`.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use time::OffsetDateTime;
use tokio::sync::{Notify, watch};

use crate::store::audit::{AuditFilter, AuditRow, NewAuditEvent, QueuedAuditEvent};
use crate::store::{Store, StoreError};

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
