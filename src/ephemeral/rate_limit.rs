//! Brute-force protection with growing delays.
//!
//! A subject (an account identifier, an IP address) may fail `free` times
//! within the window. Each failure beyond that locks the subject for
//! `base · 2^(n − free − 1)`, capped at `max`, so a guesser slows down
//! exponentially while a user who mistypes a few times never notices.
//! Counters live in [`Ephemeral`], hence in Redis when configured: every
//! node sees the same locks.

use std::time::Duration;

use super::{Ephemeral, EphemeralError};

#[derive(Debug, Clone)]
pub struct Backoff {
    pub scope: &'static str,
    pub free: u32,
    pub window: Duration,
    pub base: Duration,
    pub max: Duration,
}

impl Backoff {
    /// Subjects are hashed: keys stay short and carry no personal data.
    fn keys(&self, subject: &str) -> (String, String) {
        let id = &crate::crypto::sha256_hex(subject)[..32];
        (
            format!("fail:{}:{id}", self.scope),
            format!("lock:{}:{id}", self.scope),
        )
    }

    /// How long the subject is still locked out, if it is.
    pub async fn locked(
        &self,
        eph: &Ephemeral,
        subject: &str,
    ) -> Result<Option<Duration>, EphemeralError> {
        let (_, lock) = self.keys(subject);
        Ok(eph.ttl(&lock).await?.filter(|d| !d.is_zero()))
    }

    /// Counts an attempt *before* it is checked, so parallel guesses cannot
    /// slip past the limit; returns the lock it caused, if any (the attempt
    /// must then be refused unchecked). A successful attempt is taken back
    /// with [`Backoff::reset`] or [`Backoff::forgive`].
    pub async fn attempt(
        &self,
        eph: &Ephemeral,
        subject: &str,
    ) -> Result<Option<Duration>, EphemeralError> {
        let (fail, lock) = self.keys(subject);
        // The failure memory outlives the longest lock, so the delay keeps
        // growing across locks instead of starting over.
        let memory = self.window.max(self.max * 2);
        let n = eph.incr(&fail, memory).await?;
        let over = u32::try_from(n)
            .unwrap_or(u32::MAX)
            .saturating_sub(self.free);
        if over == 0 {
            return Ok(None);
        }
        let factor = 1u32.checked_shl(over - 1).unwrap_or(u32::MAX);
        let delay = self.base.saturating_mul(factor).min(self.max);
        // Never shorten a lock another (slower) request already set.
        let current = eph.ttl(&lock).await?.unwrap_or_default();
        if delay > current {
            eph.set(&lock, "1", delay).await?;
        }
        Ok(Some(delay.max(current)))
    }

    /// Takes one counted attempt back (it succeeded), without clearing
    /// the subject's other failures — for shared subjects such as an IP.
    pub async fn forgive(&self, eph: &Ephemeral, subject: &str) -> Result<(), EphemeralError> {
        let (fail, _) = self.keys(subject);
        let memory = self.window.max(self.max * 2);
        if eph.add(&fail, -1, memory).await? < 0 {
            eph.delete(&fail).await?;
        }
        Ok(())
    }

    /// A success forgets earlier failures.
    pub async fn reset(&self, eph: &Ephemeral, subject: &str) -> Result<(), EphemeralError> {
        let (fail, lock) = self.keys(subject);
        eph.delete(&fail).await?;
        eph.delete(&lock).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn delays_grow_and_are_capped() {
        let eph = Ephemeral::memory(crate::ports::clock::SystemClock::shared());
        let b = Backoff {
            scope: "t",
            free: 2,
            window: Duration::from_secs(60),
            base: Duration::from_secs(10),
            max: Duration::from_secs(25),
        };
        assert_eq!(b.attempt(&eph, "x").await.unwrap(), None);
        assert_eq!(b.attempt(&eph, "x").await.unwrap(), None);
        assert_eq!(b.locked(&eph, "x").await.unwrap(), None);
        assert_eq!(
            b.attempt(&eph, "x").await.unwrap(),
            Some(Duration::from_secs(10))
        );
        assert!(b.locked(&eph, "x").await.unwrap().is_some());
        assert_eq!(
            b.attempt(&eph, "x").await.unwrap(),
            Some(Duration::from_secs(20))
        );
        assert_eq!(
            b.attempt(&eph, "x").await.unwrap(),
            Some(Duration::from_secs(25))
        );
        assert_eq!(b.locked(&eph, "y").await.unwrap(), None);
        b.reset(&eph, "x").await.unwrap();
        assert_eq!(b.locked(&eph, "x").await.unwrap(), None);
    }
}
