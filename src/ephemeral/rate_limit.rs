//! Brute-force protection with growing delays, counting only wrong answers.
//!
//! A subject (an account identifier, a client address) may fail `free`
//! times; the failure that reaches `free` locks it for `base`, and each
//! further failure for `base · 2^(f − free)` (`f` the failures so far),
//! capped at `max`. A guesser slows down exponentially while a user who
//! mistypes a few times never notices. Counters live in [`Ephemeral`], hence
//! in Redis when configured: every node sees the same locks.
//!
//! # Attempts in progress
//!
//! A password is only known to be wrong once it was checked, and checking
//! takes a while (argon2). Two simple designs both fail:
//!
//! * Count every attempt *before* checking it, and take a correct one back
//!   afterwards: parallel guesses cannot slip past the limit, but correct
//!   passwords count while they are being checked — forty people behind
//!   one campus NAT signing in at 8 a.m., or six tabs of one person, were
//!   refused and locked out by attempts that were all right.
//! * Count only confirmed failures: correct passwords never count, but
//!   twenty guesses sent at once all see zero failures and all get checked.
//!
//! So attempts in progress are held apart from failures, as *slots*. Before
//! its password is checked an attempt takes one of the subject's slots, in
//! one atomic step with reading the subject's lock and failure count
//! ([`Ephemeral::reserve`]); a subject with `f` confirmed failures may hold
//! `max(free − f, 1)` slots at once. A wrong password turns its slot into a
//! failure (the count goes up *before* the slot is given back, so a guess is
//! always counted as one or the other, never neither); a correct one just
//! gives its slot back and leaves no trace. Hence:
//!
//! * at any moment, failures plus guesses in progress never exceed `free`
//!   (or one more after a lock ran out), however the requests interleave:
//!   the guesses checked before a lock are exactly `free`;
//! * a slot never locks anybody. An attempt that finds every slot taken is
//!   neither refused nor counted: it waits ([`admit`]) until one is given
//!   back — within milliseconds, as hashing is bounded — and then either
//!   proceeds or, if the attempts before it were wrong and locked the
//!   subject, is refused by that lock, which is exactly right. Only if no
//!   slot frees up for a long time (hashing saturated) does it give up,
//!   with "busy", not with a lock;
//! * correct passwords appear nowhere but in the slots they held for the
//!   duration of their check, so any number of them, in any order, all
//!   succeed (given the subject was not already locked by wrong ones).
//!
//! A slot expires on its own after [`SLOT_TTL`], so a node that dies in
//! the middle of a check cannot keep it forever; a request dropped in the
//! middle (the client went away) gives it back from [`Slot`]'s `Drop`.

use std::time::Duration;

use super::{Ephemeral, EphemeralError, Reserve, SlotKeys};

/// The longest an attempt may hold a slot (far beyond any check).
pub const SLOT_TTL: Duration = Duration::from_secs(60);

/// How the failure count forgets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Memory {
    /// Each failure restarts the memory (of `window`, at least twice
    /// `max`): the delays of one account keep growing across locks while
    /// someone keeps guessing.
    Sliding,
    /// The count starts over `window` after its first failure: a shared
    /// subject (the address of a NAT with thousands of users) is not held
    /// to typos made hours ago.
    Fixed,
}

#[derive(Debug, Clone)]
pub struct Backoff {
    pub scope: &'static str,
    pub free: u32,
    pub window: Duration,
    pub base: Duration,
    pub max: Duration,
    pub memory: Memory,
}

/// The ephemeral keys of one subject.
struct Keys {
    fail: String,
    lock: String,
    slots: String,
}

impl Keys {
    fn slot_keys(&self) -> SlotKeys<'_> {
        SlotKeys {
            fail: &self.fail,
            lock: &self.lock,
            slots: &self.slots,
        }
    }
}

/// One attempt in progress holding a slot of one subject. Settle it with
/// [`Backoff::failed`] or [`Backoff::succeeded`]; dropped unsettled (an
/// error, a request dropped mid-check), it gives the slot back in the
/// background, uncounted: whoever sent it never learnt the answer.
pub struct Slot {
    eph: Ephemeral,
    slots: String,
    member: String,
    open: bool,
}

impl Slot {
    async fn give_back(mut self) -> Result<(), EphemeralError> {
        self.open = false;
        self.eph.release(&self.slots, &self.member).await
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if !self.open {
            return;
        }
        let (eph, slots, member) = (
            self.eph.clone(),
            std::mem::take(&mut self.slots),
            std::mem::take(&mut self.member),
        );
        // Without a runtime (never, in the server) the slot expires instead.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(e) = eph.release(&slots, &member).await {
                    tracing::warn!(error = %e, "a rate-limit slot could not be given back; it expires");
                }
            });
        }
    }
}

/// What trying to take a slot found.
pub enum Gate {
    Open(Slot),
    Locked(Duration),
    Full,
}

impl Backoff {
    /// Subjects are hashed: keys stay short and carry no personal data.
    fn keys(&self, subject: &str) -> Keys {
        let id = &crate::crypto::sha256_hex(subject)[..32];
        Keys {
            fail: format!("fail:{}:{id}", self.scope),
            lock: format!("lock:{}:{id}", self.scope),
            slots: format!("slots:{}:{id}", self.scope),
        }
    }

    /// How long the failure count is remembered.
    fn remembered(&self) -> Duration {
        match self.memory {
            // Outlives the longest lock, so the delay keeps growing across
            // locks instead of starting over.
            Memory::Sliding => self.window.max(self.max * 2),
            Memory::Fixed => self.window,
        }
    }

    /// How long the subject is still locked out, if it is.
    pub async fn locked(
        &self,
        eph: &Ephemeral,
        subject: &str,
    ) -> Result<Option<Duration>, EphemeralError> {
        Ok(eph
            .ttl(&self.keys(subject).lock)
            .await?
            .filter(|d| !d.is_zero()))
    }

    /// Tries once to take a slot for an attempt (see the module docs).
    pub async fn reserve(&self, eph: &Ephemeral, subject: &str) -> Result<Gate, EphemeralError> {
        let keys = self.keys(subject);
        let member = uuid::Uuid::new_v4().simple().to_string();
        Ok(
            match eph
                .reserve(keys.slot_keys(), self.free, &member, SLOT_TTL)
                .await?
            {
                Reserve::Taken => Gate::Open(Slot {
                    eph: eph.clone(),
                    slots: keys.slots,
                    member,
                    open: true,
                }),
                Reserve::Locked(d) => Gate::Locked(d),
                Reserve::Full => Gate::Full,
            },
        )
    }

    /// The attempt was wrong: its slot becomes a failure. Returns the lock
    /// this failure set, if it set one.
    pub async fn failed(
        &self,
        eph: &Ephemeral,
        subject: &str,
        slot: Slot,
    ) -> Result<Option<Duration>, EphemeralError> {
        let keys = self.keys(subject);
        // Counted, and the lock it causes set, before the slot is given
        // back: never neither, and an attempt waiting for this slot finds
        // the lock rather than a subject at its limit with no lock yet
        // (which would let it be checked as "one more after a lock").
        let memory = self.remembered();
        let n = match self.memory {
            Memory::Sliding => eph.incr(&keys.fail, memory).await?,
            Memory::Fixed => eph.add_fixed(&keys.fail, 1, memory).await?,
        };
        let failures = u32::try_from(n).unwrap_or(u32::MAX);
        if failures < self.free {
            slot.give_back().await?;
            return Ok(None);
        }
        let factor = 1u32.checked_shl(failures - self.free).unwrap_or(u32::MAX);
        let delay = self.base.saturating_mul(factor).min(self.max);
        // Never shorten a lock another (slower) request already set.
        let current = eph.ttl(&keys.lock).await?.unwrap_or_default();
        if delay > current {
            eph.set(&keys.lock, "1", delay).await?;
        }
        slot.give_back().await?;
        Ok(Some(delay.max(current)))
    }

    /// The attempt was right: its slot is given back, nothing counted.
    /// With `forget`, the subject's earlier failures go too (an account
    /// whose owner just proved the password; not a shared address).
    pub async fn succeeded(
        &self,
        eph: &Ephemeral,
        subject: &str,
        slot: Slot,
        forget: bool,
    ) -> Result<(), EphemeralError> {
        slot.give_back().await?;
        if forget {
            self.reset(eph, subject).await?;
        }
        Ok(())
    }

    /// Forgets the subject's failures and lock.
    pub async fn reset(&self, eph: &Ephemeral, subject: &str) -> Result<(), EphemeralError> {
        let keys = self.keys(subject);
        eph.delete(&keys.fail).await?;
        eph.delete(&keys.lock).await
    }
}

/// Whether an attempt may be checked.
pub enum Admission {
    /// One slot per subject, in the order given.
    Admitted(Vec<Slot>),
    /// A subject is locked for this long (the longest of the locks).
    Locked(Duration),
    /// No slot came free within the patience given: the server is
    /// saturated (no lock, nothing counted).
    Busy,
}

/// Takes a slot of every subject for one attempt, waiting while all of a
/// subject's slots are held by attempts in progress (never refusing for
/// that), for at most `patience`. Slots are taken all or none: when one
/// subject is full the others' slots are given back while waiting, so no
/// attempt sits on a slot another could use.
pub async fn admit(
    eph: &Ephemeral,
    subjects: &[(&Backoff, &str)],
    patience: Duration,
) -> Result<Admission, EphemeralError> {
    let deadline = tokio::time::Instant::now() + patience;
    let mut pause = Duration::from_millis(2);
    loop {
        let mut held = Vec::with_capacity(subjects.len());
        let mut full = false;
        for (backoff, subject) in subjects {
            match backoff.reserve(eph, subject).await? {
                Gate::Open(slot) => held.push(slot),
                Gate::Locked(_) => {
                    for slot in held {
                        slot.give_back().await?;
                    }
                    // The longest lock among the subjects is the real wait.
                    let mut wait = Duration::ZERO;
                    for (b, s) in subjects {
                        wait = wait.max(b.locked(eph, s).await?.unwrap_or_default());
                    }
                    return Ok(Admission::Locked(wait.max(Duration::from_secs(1))));
                }
                Gate::Full => {
                    full = true;
                    break;
                }
            }
        }
        if !full {
            return Ok(Admission::Admitted(held));
        }
        for slot in held {
            slot.give_back().await?;
        }
        if tokio::time::Instant::now() + pause > deadline {
            return Ok(Admission::Busy);
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backoff(memory: Memory) -> Backoff {
        Backoff {
            scope: "t",
            free: 2,
            window: Duration::from_secs(60),
            base: Duration::from_secs(10),
            max: Duration::from_secs(25),
            memory,
        }
    }

    async fn fail(b: &Backoff, eph: &Ephemeral, s: &str) -> Option<Duration> {
        let Gate::Open(slot) = b.reserve(eph, s).await.unwrap() else {
            panic!("no slot");
        };
        b.failed(eph, s, slot).await.unwrap()
    }

    #[tokio::test]
    async fn delays_grow_and_are_capped() {
        let clock = std::sync::Arc::new(crate::ports::clock::ManualClock::new());
        let eph = Ephemeral::memory(clock.clone());
        let b = backoff(Memory::Sliding);
        assert_eq!(fail(&b, &eph, "x").await, None);
        assert_eq!(b.locked(&eph, "x").await.unwrap(), None);
        assert_eq!(fail(&b, &eph, "x").await, Some(Duration::from_secs(10)));
        assert!(b.locked(&eph, "x").await.unwrap().is_some());
        assert!(matches!(
            b.reserve(&eph, "x").await.unwrap(),
            Gate::Locked(_)
        ));
        // After the lock one more try; wrong, it locks twice as long.
        clock.advance(Duration::from_secs(11));
        assert_eq!(fail(&b, &eph, "x").await, Some(Duration::from_secs(20)));
        clock.advance(Duration::from_secs(21));
        assert_eq!(fail(&b, &eph, "x").await, Some(Duration::from_secs(25)));
        assert_eq!(b.locked(&eph, "y").await.unwrap(), None);
        b.reset(&eph, "x").await.unwrap();
        assert_eq!(b.locked(&eph, "x").await.unwrap(), None);
    }

    #[tokio::test]
    async fn slots_never_count_and_bound_the_guesses_in_progress() {
        let eph = Ephemeral::memory(crate::ports::clock::SystemClock::shared());
        let b = backoff(Memory::Sliding);
        // Two slots (free = 2), the third attempt finds them taken.
        let Gate::Open(one) = b.reserve(&eph, "x").await.unwrap() else {
            panic!()
        };
        let Gate::Open(two) = b.reserve(&eph, "x").await.unwrap() else {
            panic!()
        };
        assert!(matches!(b.reserve(&eph, "x").await.unwrap(), Gate::Full));
        // A correct one gives its slot back and counts nothing.
        b.succeeded(&eph, "x", one, false).await.unwrap();
        let Gate::Open(three) = b.reserve(&eph, "x").await.unwrap() else {
            panic!("the slot came back")
        };
        // A wrong one leaves one failure: one slot remains for the subject.
        assert_eq!(b.failed(&eph, "x", two).await.unwrap(), None);
        assert!(matches!(b.reserve(&eph, "x").await.unwrap(), Gate::Full));
        b.succeeded(&eph, "x", three, false).await.unwrap();
        let Gate::Open(four) = b.reserve(&eph, "x").await.unwrap() else {
            panic!()
        };
        assert!(b.failed(&eph, "x", four).await.unwrap().is_some());
        // Dropped unsettled: given back in the background, uncounted.
        let Gate::Open(five) = b.reserve(&eph, "y").await.unwrap() else {
            panic!()
        };
        let Gate::Open(six) = b.reserve(&eph, "y").await.unwrap() else {
            panic!()
        };
        drop((five, six));
        let mut back = false;
        for _ in 0..100 {
            if let Gate::Open(s) = b.reserve(&eph, "y").await.unwrap() {
                b.succeeded(&eph, "y", s, false).await.unwrap();
                back = true;
                break;
            }
            tokio::task::yield_now().await;
        }
        assert!(back, "dropped slots come back");
        assert_eq!(b.locked(&eph, "y").await.unwrap(), None);
    }

    #[tokio::test]
    async fn fixed_memory_starts_over_after_the_window() {
        let clock = std::sync::Arc::new(crate::ports::clock::ManualClock::new());
        let eph = Ephemeral::memory(clock.clone());
        let b = Backoff {
            free: 3,
            ..backoff(Memory::Fixed)
        };
        assert_eq!(fail(&b, &eph, "ip").await, None);
        clock.advance(Duration::from_secs(50));
        assert_eq!(fail(&b, &eph, "ip").await, None);
        // The window counts from the first failure: 61 s after it the
        // count starts over (a sliding memory would hold two failures).
        clock.advance(Duration::from_secs(11));
        assert_eq!(fail(&b, &eph, "ip").await, None);
        assert_eq!(fail(&b, &eph, "ip").await, None);
        assert!(fail(&b, &eph, "ip").await.is_some(), "the third locks");
    }
}
