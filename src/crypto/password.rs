//! argon2id password hashing, bounded.
//!
//! Hashing costs ~20 MiB and tens of milliseconds of one core. It runs on the
//! blocking pool behind a semaphore sized to the cores; a second semaphore
//! caps how many requests may wait. When both are full we answer "busy"
//! (HTTP 429 + Retry-After) instead of queueing without bound — a login
//! flood must not take the whole server down.
//!
//! Hashes are PHC strings (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`). We encode
//! them ourselves so hashing can reuse a memory buffer
//! (`hash_password_into_with_memory`), which is markedly faster than a fresh
//! 19 MiB allocation per hash.
//!
//! The buffers belong to the hashing slots ([`Memory`]), not to threads: a
//! hash takes a free one (or makes one) while it holds its slot, so there
//! are never more buffers than slots, however many threads the blocking
//! pool has used. Once hashing has been idle for [`RELEASE_AFTER`] they
//! are dropped, and the memory goes back to the system (allocations this
//! large are mapped pages, unmapped when freed): under a login load the
//! server grows by at most slots × argon2 memory, and returns to its idle
//! size afterwards.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use tokio::sync::Semaphore;

use crate::config::PasswordHashConfig;
use crate::crypto::random;
use crate::domain::SecretPassword;

const OUTPUT_LEN: usize = 32;
const SALT_LEN: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// Every hashing slot and waiting place is taken: try again shortly.
    #[error("password hashing is saturated")]
    Busy,
    #[error("password hashing failed: {0}")]
    Internal(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    pub ok: bool,
    /// The stored hash uses other parameters than configured: store a new one.
    pub needs_rehash: bool,
}

/// A moment's view of the hashing pool ([`PasswordHasher::load`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashLoad {
    pub running: usize,
    pub queued: usize,
    pub slots: usize,
}

#[derive(Clone)]
pub struct PasswordHasher {
    inner: Arc<Inner>,
}

struct Inner {
    params: Params,
    workers: Arc<Semaphore>,
    waiting: Arc<Semaphore>,
    /// The sizes the two semaphores were made with (for [`PasswordHasher::load`]).
    slots: usize,
    places: usize,
    /// A hash of a random password, verified when an account does not exist
    /// so both answers take the same time.
    dummy: String,
    memory: Arc<Memory>,
    /// How long hashing must be idle before the buffers are dropped.
    release_after: Duration,
}

/// How long hashing must be idle before its buffers are dropped: long
/// enough that a steady trickle of sign-ins keeps reusing them.
pub const RELEASE_AFTER: Duration = Duration::from_secs(2);

/// The argon2 working memory of the hashing slots (see the module text).
#[derive(Default)]
struct Memory {
    /// Buffers not in use now; with the ones in use, at most one per slot.
    free: Mutex<Vec<Vec<Block>>>,
    /// Counts finished hashes: a release planned after one of them is
    /// called off when another has finished since.
    finished: AtomicU64,
}

/// Blocks (1 KiB each) a buffer reserves at least: more than glibc's
/// largest dynamic mmap threshold (32 MiB). glibc raises that threshold to
/// the size of a mapped block once one is freed, and a later block of the
/// same size then comes from an arena that is never trimmed below twice
/// the threshold: the memory would stay with the process. A reservation
/// beyond 32 MiB is always mapped and never moves the threshold, so
/// dropping it unmaps it. Only the pages a hash touches (its `m`) count
/// towards resident memory; the rest is address space.
const RESERVED_BLOCKS: usize = 33 * 1024;

impl Memory {
    /// Runs `f` with a buffer of at least `params`' size, then keeps the
    /// buffer for the next hash.
    fn with<T>(&self, params: &Params, f: impl FnOnce(&mut [Block]) -> T) -> T {
        let need = params.block_count();
        let mut blocks = self
            .free
            .lock()
            .map(|mut free| free.pop())
            .unwrap_or_default()
            .unwrap_or_else(|| Vec::with_capacity(need.max(RESERVED_BLOCKS)));
        if blocks.len() < need {
            blocks.resize(need, Block::default());
        }
        let out = f(&mut blocks[..need]);
        if let Ok(mut free) = self.free.lock() {
            free.push(blocks);
        }
        out
    }

    /// How many buffers exist now (only while no hash runs is that all).
    fn held(&self) -> usize {
        self.free.lock().map(|f| f.len()).unwrap_or(0)
    }

    /// Drops the free buffers unless a hash finished after `seen`.
    fn release_unless_used_since(&self, seen: u64) {
        if self.finished.load(Ordering::SeqCst) == seen
            && let Ok(mut free) = self.free.lock()
        {
            free.clear();
            free.shrink_to_fit();
        }
    }
}

impl PasswordHasher {
    pub fn new(config: &PasswordHashConfig) -> Result<Self, HashError> {
        let params = Params::new(
            config.memory_kib,
            config.iterations,
            config.parallelism,
            Some(OUTPUT_LEN),
        )
        .map_err(|e| HashError::Internal(e.to_string()))?;
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        let workers = if config.max_concurrent == 0 {
            cores
        } else {
            config.max_concurrent
        };
        let dummy_pw = random::token().map_err(|e| HashError::Internal(e.to_string()))?;
        // Its buffer is dropped with this temporary pool: an idle server
        // holds none.
        let dummy = hash_blocking(&params, &Memory::default(), dummy_pw.as_bytes())?;
        Ok(Self {
            inner: Arc::new(Inner {
                params,
                workers: Arc::new(Semaphore::new(workers)),
                waiting: Arc::new(Semaphore::new(workers + config.max_waiting)),
                slots: workers,
                places: workers + config.max_waiting,
                dummy,
                memory: Arc::default(),
                release_after: RELEASE_AFTER,
            }),
        })
    }

    /// The same, with the buffers dropped after `idle` instead of
    /// [`RELEASE_AFTER`] (tests).
    pub fn with_release_after(
        config: &PasswordHashConfig,
        idle: Duration,
    ) -> Result<Self, HashError> {
        let mut hasher = Self::new(config)?;
        if let Some(inner) = Arc::get_mut(&mut hasher.inner) {
            inner.release_after = idle;
        }
        Ok(hasher)
    }

    /// How many argon2 buffers the hashing slots hold while no hash runs
    /// (the metrics endpoint shows it).
    pub fn buffers_held(&self) -> usize {
        self.inner.memory.held()
    }

    /// A new PHC hash with the configured parameters, of the password in
    /// Unicode NFKC form (ASVS V2.1: the same password typed on another
    /// keyboard or system, composed or decomposed, is the same password).
    pub async fn hash(&self, password: &SecretPassword) -> Result<String, HashError> {
        let params = self.inner.params.clone();
        let pw = normalized(password.expose()).into_bytes();
        let memory = self.inner.memory.clone();
        self.run(move || hash_blocking(&params, &memory, &pw)).await
    }

    /// Checks `password` against a stored PHC hash; with `None` (no such
    /// account) it checks against a dummy hash and always fails, taking the
    /// same time as a real check.
    pub async fn verify(
        &self,
        password: &SecretPassword,
        stored: Option<&str>,
    ) -> Result<Verified, HashError> {
        let exists = stored.is_some();
        let phc = stored.unwrap_or(&self.inner.dummy).to_string();
        let params = self.inner.params.clone();
        let dummy = self.inner.dummy.clone();
        let raw = password.expose().to_string();
        let memory = self.inner.memory.clone();
        let verified = self
            .run(move || {
                let memory = memory.as_ref();
                let nfkc = normalized(&raw);
                let verified = check_blocking(&params, memory, &dummy, nfkc.as_bytes(), &phc)?;
                if verified.ok || nfkc == raw {
                    return Ok(verified);
                }
                // A hash made before passwords were normalized (or by the
                // system accounts were imported from) holds the password
                // as typed then: accept it once more and re-hash.
                let legacy = check_blocking(&params, memory, &dummy, raw.as_bytes(), &phc)?;
                Ok(Verified {
                    ok: legacy.ok,
                    needs_rehash: legacy.needs_rehash || legacy.ok,
                })
            })
            .await?;
        Ok(Verified {
            ok: verified.ok && exists,
            needs_rehash: verified.needs_rehash,
        })
    }

    /// How busy hashing is now: hashes running, hashes queued for a slot,
    /// and the number of slots (the metrics endpoint shows them).
    pub fn load(&self) -> HashLoad {
        let i = &self.inner;
        let admitted = i.places - i.waiting.available_permits().min(i.places);
        let running = i.slots - i.workers.available_permits().min(i.slots);
        HashLoad {
            running,
            queued: admitted.saturating_sub(running),
            slots: i.slots,
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, HashError> + Send + 'static,
    ) -> Result<T, HashError> {
        let place = self
            .inner
            .waiting
            .clone()
            .try_acquire_owned()
            .map_err(|_| HashError::Busy)?;
        let slot = self
            .inner
            .workers
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| HashError::Busy)?;
        // The permits move into the blocking task: if the request is dropped
        // (client gone), the hash still runs to its end and keeps its slot,
        // so disconnecting cannot push more hashes through than allowed.
        let result = tokio::task::spawn_blocking(move || {
            let result = work();
            drop((slot, place));
            result
        })
        .await
        .map_err(|e| HashError::Internal(e.to_string()))?;
        self.plan_release();
        result
    }

    /// After a hash: once every slot is free, drop the buffers if no hash
    /// finishes within `release_after`.
    fn plan_release(&self) {
        let i = &self.inner;
        let seen = i.memory.finished.fetch_add(1, Ordering::SeqCst) + 1;
        if i.workers.available_permits() < i.slots {
            // Another hash runs: the last one to finish plans the release.
            return;
        }
        let memory = i.memory.clone();
        let idle = i.release_after;
        tokio::spawn(async move {
            tokio::time::sleep(idle).await;
            memory.release_unless_used_since(seen);
        });
    }
}

/// The form a password is hashed in: Unicode NFKC.
fn normalized(password: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    password.nfkc().collect()
}

fn compute(
    params: &Params,
    memory: &Memory,
    password: &[u8],
    salt: &[u8],
) -> Result<[u8; OUTPUT_LEN], HashError> {
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut out = [0u8; OUTPUT_LEN];
    memory
        .with(params, |mem| {
            argon.hash_password_into_with_memory(password, salt, &mut out, mem)
        })
        .map_err(|e| HashError::Internal(e.to_string()))?;
    Ok(out)
}

fn hash_blocking(params: &Params, memory: &Memory, password: &[u8]) -> Result<String, HashError> {
    let salt = random::bytes::<SALT_LEN>().map_err(|e| HashError::Internal(e.to_string()))?;
    let out = compute(params, memory, password, &salt)?;
    Ok(format!(
        "$argon2id$v=19$m={},t={},p={}${}${}",
        params.m_cost(),
        params.t_cost(),
        params.p_cost(),
        STANDARD_NO_PAD.encode(salt),
        STANDARD_NO_PAD.encode(out)
    ))
}

struct Parsed {
    params: Params,
    salt: Vec<u8>,
    hash: Vec<u8>,
}

fn parse_phc(phc: &str) -> Option<Parsed> {
    let mut parts = phc.split('$');
    let (Some(""), Some("argon2id"), Some("v=19"), Some(p), Some(salt), Some(hash), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let (mut m, mut t, mut par) = (None, None, None);
    for kv in p.split(',') {
        let (k, v) = kv.split_once('=')?;
        let v: u32 = v.parse().ok()?;
        match k {
            "m" => m = Some(v),
            "t" => t = Some(v),
            "p" => par = Some(v),
            _ => return None,
        }
    }
    let hash = STANDARD_NO_PAD.decode(hash).ok()?;
    let params = Params::new(m?, t?, par?, Some(hash.len())).ok()?;
    Some(Parsed {
        params,
        salt: STANDARD_NO_PAD.decode(salt).ok()?,
        hash,
    })
}

/// Checks `password` against a stored hash: one of ours, or one an
/// import brought ([`super::legacy`]), which is always to be replaced by
/// one of ours once it matched. Any other stored value never matches (an
/// account imported without a password holds [`super::legacy::NO_PASSWORD`]).
///
/// A stored hash that is not ours is checked after a check against the
/// dummy hash, so that an account with an imported (cheap) hash or none
/// takes no less time to answer than one without: timing tells no one
/// which accounts exist or came from the old system.
fn check_blocking(
    configured: &Params,
    memory: &Memory,
    dummy: &str,
    password: &[u8],
    stored: &str,
) -> Result<Verified, HashError> {
    if parse_phc(stored).is_some() {
        return verify_blocking(configured, memory, password, stored);
    }
    verify_blocking(configured, memory, password, dummy)?;
    Ok(Verified {
        ok: super::legacy::verify(stored, password).unwrap_or(false),
        needs_rehash: true,
    })
}

fn verify_blocking(
    configured: &Params,
    memory: &Memory,
    password: &[u8],
    phc: &str,
) -> Result<Verified, HashError> {
    let Some(parsed) = parse_phc(phc) else {
        // An unreadable stored hash can never match; say so instead of failing the request.
        return Ok(Verified {
            ok: false,
            needs_rehash: true,
        });
    };
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, parsed.params.clone());
    let mut out = vec![0u8; parsed.hash.len()];
    memory
        .with(&parsed.params, |mem| {
            argon.hash_password_into_with_memory(password, &parsed.salt, &mut out, mem)
        })
        .map_err(|e| HashError::Internal(e.to_string()))?;
    let ok = random::constant_time_eq(&out, &parsed.hash);
    let needs_rehash = parsed.params.m_cost() != configured.m_cost()
        || parsed.params.t_cost() != configured.t_cost()
        || parsed.params.p_cost() != configured.p_cost()
        || parsed.hash.len() != OUTPUT_LEN;
    Ok(Verified { ok, needs_rehash })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> PasswordHashConfig {
        PasswordHashConfig {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
            max_concurrent: 1,
            max_waiting: 0,
        }
    }

    /// Runs `n` hashes at once and waits for all of them.
    async fn hash_many(hasher: &PasswordHasher, n: usize) {
        let runs = (0..n).map(|i| {
            let hasher = hasher.clone();
            tokio::spawn(async move {
                let pw = SecretPassword::new(format!("Correct-Horse-{i}"));
                hasher.hash(&pw).await
            })
        });
        for run in runs.collect::<Vec<_>>() {
            run.await.unwrap().unwrap();
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn buffers_belong_to_the_slots_and_go_when_hashing_is_idle() {
        let config = PasswordHashConfig {
            max_concurrent: 2,
            max_waiting: 16,
            ..small()
        };
        // No buffer before the first hash (the dummy's was dropped).
        let hasher =
            PasswordHasher::with_release_after(&config, Duration::from_millis(20)).unwrap();
        assert_eq!(hasher.buffers_held(), 0);
        hash_many(&hasher, 12).await;
        // However many blocking threads ran them: one buffer per slot at most.
        let held = hasher.buffers_held();
        assert!((1..=2).contains(&held), "{held}");
        // Idle: dropped (waited for, not timed).
        let mut waited = 0;
        while hasher.buffers_held() > 0 && waited < 500 {
            tokio::time::sleep(Duration::from_millis(20)).await;
            waited += 1;
        }
        assert_eq!(hasher.buffers_held(), 0);

        // The positive control: kept while hashing is not idle long enough.
        let keeping =
            PasswordHasher::with_release_after(&config, Duration::from_secs(3600)).unwrap();
        hash_many(&keeping, 12).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        let held = keeping.buffers_held();
        assert!((1..=2).contains(&held), "{held}");
    }

    #[tokio::test]
    async fn a_password_is_the_same_composed_or_decomposed() {
        let hasher = PasswordHasher::new(&small()).unwrap();
        let nfc = SecretPassword::new("Caf\u{e9}-Harbour-7!");
        let nfd = SecretPassword::new("Cafe\u{301}-Harbour-7!");
        assert_ne!(nfc.expose(), nfd.expose());
        let phc = hasher.hash(&nfc).await.unwrap();
        assert!(hasher.verify(&nfd, Some(&phc)).await.unwrap().ok);
        assert!(hasher.verify(&nfc, Some(&phc)).await.unwrap().ok);
        // Compatibility forms too: full-width letters are the letters.
        let wide = SecretPassword::new("\u{ff23}af\u{e9}-Harbour-7!");
        assert!(hasher.verify(&wide, Some(&phc)).await.unwrap().ok);
        // Control: another password is still another password.
        let other = SecretPassword::new("Cafe-Harbour-7!");
        assert!(!hasher.verify(&other, Some(&phc)).await.unwrap().ok);
    }

    #[tokio::test]
    async fn a_hash_made_before_normalization_works_once_and_is_renewed() {
        let hasher = PasswordHasher::new(&small()).unwrap();
        let typed = "Cafe\u{301}-Harbour-7!";
        // What the earlier release stored: the bytes as typed.
        let params = hasher.inner.params.clone();
        let legacy = hash_blocking(&params, &Memory::default(), typed.as_bytes()).unwrap();
        let v = hasher
            .verify(&SecretPassword::new(typed), Some(&legacy))
            .await
            .unwrap();
        assert_eq!(
            v,
            Verified {
                ok: true,
                needs_rehash: true
            }
        );
        // The hash made anew matches without the fallback.
        let renewed = hasher.hash(&SecretPassword::new(typed)).await.unwrap();
        let v = hasher
            .verify(&SecretPassword::new(typed), Some(&renewed))
            .await
            .unwrap();
        assert_eq!(
            v,
            Verified {
                ok: true,
                needs_rehash: false
            }
        );
        assert!(
            !hasher
                .verify(&SecretPassword::new("Cafe-Harbour-7!"), Some(&legacy))
                .await
                .unwrap()
                .ok
        );
    }

    #[tokio::test]
    async fn hashes_verify_and_detect_parameter_changes() {
        let hasher = PasswordHasher::new(&small()).unwrap();
        let pw = SecretPassword::new("Correct-Horse-9");
        let phc = hasher.hash(&pw).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        let v = hasher.verify(&pw, Some(&phc)).await.unwrap();
        assert_eq!(
            v,
            Verified {
                ok: true,
                needs_rehash: false
            }
        );
        assert!(
            !hasher
                .verify(&SecretPassword::new("wrong"), Some(&phc))
                .await
                .unwrap()
                .ok
        );
        assert!(!hasher.verify(&pw, None).await.unwrap().ok);

        let stronger = PasswordHasher::new(&PasswordHashConfig {
            memory_kib: 128,
            ..small()
        })
        .unwrap();
        let v = stronger.verify(&pw, Some(&phc)).await.unwrap();
        assert_eq!(
            v,
            Verified {
                ok: true,
                needs_rehash: true
            }
        );
        assert!(!stronger.verify(&pw, Some("garbage")).await.unwrap().ok);
    }

    #[tokio::test]
    async fn saturated_hashing_answers_busy() {
        let hasher = PasswordHasher::new(&small()).unwrap();
        // One worker and no waiting place: hold the only place.
        let held = hasher.inner.waiting.clone().try_acquire_owned().unwrap();
        let pw = SecretPassword::new("Correct-Horse-9");
        assert!(matches!(hasher.hash(&pw).await, Err(HashError::Busy)));
        drop(held);
        assert!(hasher.hash(&pw).await.is_ok());
        // Busy becomes a 429 with Retry-After on the pages.
        use axum::response::IntoResponse;
        let response = crate::error::PageError::from(HashError::Busy).into_response();
        assert_eq!(response.status(), axum::http::StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()["retry-after"], "1");
    }

    #[tokio::test]
    async fn an_imported_hash_matches_once_and_asks_to_be_replaced() {
        let hasher = PasswordHasher::new(&small()).unwrap();
        // MD5-crypt of "Hello world!" (glibc's test vector).
        let imported = "$1$saltstri$YMyguxXMBpd2TEZ.vS/3q1";
        let v = hasher
            .verify(&SecretPassword::new("Hello world!"), Some(imported))
            .await
            .unwrap();
        assert_eq!(
            v,
            Verified {
                ok: true,
                needs_rehash: true
            }
        );
        assert!(
            !hasher
                .verify(&SecretPassword::new("Hello world?"), Some(imported))
                .await
                .unwrap()
                .ok
        );
        // An account imported without a password: nothing matches.
        for typed in ["", "!none", "Hello world!"] {
            assert!(
                !hasher
                    .verify(
                        &SecretPassword::new(typed),
                        Some(super::super::legacy::NO_PASSWORD)
                    )
                    .await
                    .unwrap()
                    .ok
            );
        }
    }

    #[test]
    fn matches_the_reference_encoding() {
        // A hash produced by the argon2 crate's own PHC encoder must verify.
        use argon2::password_hash::PasswordHasher as _;
        let params = Params::new(64, 1, 1, Some(32)).unwrap();
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        let reference = argon
            .hash_password_with_salt(b"pw", b"saltsaltsaltsalt")
            .unwrap()
            .to_string();
        assert!(
            verify_blocking(&params, &Memory::default(), b"pw", &reference)
                .unwrap()
                .ok
        );
    }
}
