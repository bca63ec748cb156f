//! When PostgreSQL or Redis stops answering: which dependency is down,
//! what the current request ran into, and one log line per change.
//!
//! A request that needs a dependency that is down fails within the
//! configured timeouts and answers 503 with `Retry-After` on its surface
//! (an HTML page, an OAuth JSON error, a problem document). Two records
//! carry the fact:
//!
//! * [`record`]: the store, the ephemeral state and the session store note
//!   here, where the typed driver error is classified, that the current
//!   request met an outage. Many service errors end up as a generic
//!   "internal" cause on their way to the handler; the surfaces' error
//!   types read this record, so such an answer still becomes their 503
//!   (and not a 500). The record is a task-local, scoped per request by
//!   the router ([`scope`]); outside a request (CLI, background work) it
//!   is a no-op.
//! * [`Health`]: per node, whether each dependency is down. Marked down by
//!   a request that met an outage, up (and down) by the probe and by
//!   `/readyz`; each change is logged once, not once per request.

use std::cell::RefCell;
use std::fmt::Display;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// A service the node needs to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dependency {
    Database,
    Redis,
}

impl Dependency {
    pub const ALL: [Dependency; 2] = [Dependency::Database, Dependency::Redis];

    pub fn as_str(self) -> &'static str {
        match self {
            Dependency::Database => "database",
            Dependency::Redis => "redis",
        }
    }

    fn index(self) -> usize {
        match self {
            Dependency::Database => 0,
            Dependency::Redis => 1,
        }
    }
}

impl Display for Dependency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a 503 asks the client to wait before trying again: long enough
/// for a restart of Redis or a PostgreSQL fail-over, short enough that a
/// user who retries by hand is not kept waiting.
pub const RETRY_AFTER: Duration = Duration::from_secs(5);

/// The dependency a request found down, and the driver's words for it.
pub type Met = (Dependency, String);

tokio::task_local! {
    static MET: RefCell<Option<Met>>;
}

/// Runs a request's future with an empty outage record; returns what it
/// met.
pub async fn scope<F: std::future::Future>(fut: F) -> (F::Output, Option<Met>) {
    MET.scope(RefCell::new(None), async move {
        let out = fut.await;
        let met = MET.try_with(|m| m.borrow_mut().take()).ok().flatten();
        (out, met)
    })
    .await
}

/// Notes that the current request met an outage of `dependency` (the
/// first one noted stays).
pub fn record(dependency: Dependency, cause: &dyn Display) {
    let _ = MET.try_with(|met| {
        let mut met = met.borrow_mut();
        if met.is_none() {
            *met = Some((dependency, cause.to_string()));
        }
    });
}

/// The outage the current request met, if any.
pub fn recorded() -> Option<Dependency> {
    MET.try_with(|m| m.borrow().as_ref().map(|(d, _)| *d))
        .ok()
        .flatten()
}

/// Which dependencies this node currently sees as down. Cheap to clone.
#[derive(Clone, Default)]
pub struct Health {
    down: Arc<[AtomicBool; 2]>,
}

impl Health {
    /// Marks `dependency` down; logs when it was up until now. Returns
    /// whether this was a change.
    pub fn down(&self, dependency: Dependency, cause: &dyn Display) -> bool {
        let changed = !self.down[dependency.index()].swap(true, Ordering::AcqRel);
        if changed {
            tracing::error!(
                dependency = dependency.as_str(),
                cause = %cause,
                "{dependency} is unavailable: requests that need it answer 503 until it is back"
            );
        }
        changed
    }

    /// Marks `dependency` up; logs when it was down until now. Returns
    /// whether this was a change.
    pub fn up(&self, dependency: Dependency) -> bool {
        let changed = self.down[dependency.index()].swap(false, Ordering::AcqRel);
        if changed {
            tracing::warn!(
                dependency = dependency.as_str(),
                "{dependency} is available again"
            );
        }
        changed
    }

    pub fn is_down(&self, dependency: Dependency) -> bool {
        self.down[dependency.index()].load(Ordering::Acquire)
    }

    /// The dependencies now marked down.
    pub fn down_now(&self) -> Vec<Dependency> {
        Dependency::ALL
            .into_iter()
            .filter(|d| self.is_down(*d))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_change_is_reported_once() {
        let h = Health::default();
        assert!(!h.is_down(Dependency::Redis));
        assert!(h.down(Dependency::Redis, &"refused"));
        assert!(!h.down(Dependency::Redis, &"refused"), "no second line");
        assert!(h.is_down(Dependency::Redis));
        assert!(!h.is_down(Dependency::Database), "the other one is up");
        assert_eq!(h.down_now(), vec![Dependency::Redis]);
        assert!(h.up(Dependency::Redis));
        assert!(!h.up(Dependency::Redis));
        assert!(h.down_now().is_empty());
    }

    #[tokio::test]
    async fn the_record_belongs_to_its_request() {
        let (seen, met) = scope(async {
            record(Dependency::Redis, &"timed out");
            recorded()
        })
        .await;
        assert_eq!(seen, Some(Dependency::Redis), "seen inside the request");
        assert_eq!(met, Some((Dependency::Redis, "timed out".to_string())));
        let ((), met) = scope(async {}).await;
        assert_eq!(met, None, "a new request starts clean");
        record(Dependency::Database, &"x"); // outside a request: nothing to note
        assert_eq!(recorded(), None);
        let ((), met) = scope(async {
            record(Dependency::Database, &"refused");
            record(Dependency::Redis, &"timed out");
        })
        .await;
        assert_eq!(
            met.map(|m| m.0),
            Some(Dependency::Database),
            "the first one stays"
        );
    }
}
