//! The clock: every decision that depends on the time of day (expiry of
//! codes, tickets, tokens and locks; key activation; audit timestamps)
//! asks this port instead of the operating system, so tests can move time
//! forward instead of sleeping.
//!
//! Two readings are offered: [`Clock::now`], the wall-clock time in UTC,
//! for anything stored or shared between nodes (database rows, token
//! claims, expiry instants kept in Redis); and [`Clock::instant`], a
//! monotonic instant, for expiry kept inside this process only (the
//! in-memory ephemeral store, caches), which must not jump when the
//! operating system's clock is stepped.
//!
//! Left on the real clock on purpose: timestamps an outside party checks
//! against its own clock (SMS gateway request signatures), durations
//! measured for logs, and tokio timers (retry delays, timeouts).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use time::OffsetDateTime;

pub trait Clock: Send + Sync {
    /// The current time, in UTC.
    fn now(&self) -> OffsetDateTime;

    /// A monotonic instant that moves with [`Clock::now`].
    fn instant(&self) -> Instant;
}

/// How the clock is shared: [`crate::AppState`] holds one, the store, the
/// ephemeral store and the key ring read the same one.
pub type SharedClock = Arc<dyn Clock>;

/// The operating system's clock: what `serve`, the CLI and every
/// deployment use.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl SystemClock {
    pub fn shared() -> SharedClock {
        Arc::new(SystemClock)
    }
}

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    fn instant(&self) -> Instant {
        Instant::now()
    }
}

/// A clock for tests: the real time plus an offset that only
/// [`ManualClock::advance`] changes. It starts at the real time and keeps
/// running with it, so it is never behind the real clock: a Redis TTL
/// (which counts real time) never removes a record this clock still
/// considers live, and everything the server does between two steps of a
/// test takes as long as it really takes. A test moves past a limit by
/// advancing at least the limit, never by waiting.
#[derive(Debug, Default)]
pub struct ManualClock {
    /// Nanoseconds added to the real time.
    offset_nanos: AtomicU64,
}

impl ManualClock {
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let nanos = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        // fetch_update cannot fail with a closure that always returns Some.
        let _ = self
            .offset_nanos
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                Some(n.saturating_add(nanos))
            });
    }

    /// How far the clock has been moved in total.
    pub fn offset(&self) -> Duration {
        Duration::from_nanos(self.offset_nanos.load(Ordering::SeqCst))
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc() + self.offset()
    }

    fn instant(&self) -> Instant {
        let now = Instant::now();
        now.checked_add(self.offset()).unwrap_or(now)
    }
}

/// Milliseconds since the Unix epoch: how expiry instants are written
/// where several nodes read them (Redis).
pub fn unix_ms(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_when_advanced_and_never_runs_behind() {
        let clock = ManualClock::new();
        let real = OffsetDateTime::now_utc();
        let before = clock.now();
        assert!(before >= real);
        let instant = clock.instant();
        clock.advance(Duration::from_secs(3600));
        assert!(clock.now() - before >= time::Duration::hours(1));
        assert!(clock.instant().duration_since(instant) >= Duration::from_secs(3600));
        assert!(clock.now() >= OffsetDateTime::now_utc() + Duration::from_secs(3599));
        assert_eq!(clock.offset(), Duration::from_secs(3600));
        // The system clock has no offset: it is the control.
        let system = SystemClock;
        assert!(system.now() - OffsetDateTime::now_utc() < time::Duration::minutes(1));
    }
}
