//! Short-lived shared state: counters for rate limits, one-time codes,
//! anything with a TTL. In-process memory on the embedded default; Redis
//! when configured, so every node sees the same counters and codes.
//!
//! Expiry is judged by the injected [`Clock`] on both backends, so a test
//! that advances the clock sees the same thing on either. In memory each
//! entry keeps its expiry instant. In Redis each value is written as
//! `<expiry in Unix ms>|<value>` and a read compares that expiry with the
//! clock; the key's Redis TTL (the same length) is kept as garbage
//! collection. With the system clock both say the same (up to the nodes'
//! clock skew); a test clock only runs ahead of the real one, so Redis
//! never drops a record the clock still considers live. A value without
//! the prefix (written before expiry instants were kept) is read as live
//! and left to its TTL, as it was then.

pub mod rate_limit;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fred::prelude::{
    Builder, ClientLike, Config as RedisConfig, Expiration, KeysInterface, LuaInterface, Pool,
    SortedSetsInterface,
};

use crate::ports::clock::{Clock, SharedClock, unix_ms};

#[derive(Debug, thiserror::Error)]
pub enum EphemeralError {
    #[error("redis: {0}")]
    Redis(fred::error::Error),
    /// Redis did not answer within the command timeout or the connection
    /// is broken (see [`crate::outage`]): a 503, not a 500.
    #[error("redis unavailable: {0}")]
    Unavailable(fred::error::Error),
}

/// Every Redis error passes here: an outage is told apart from a refused
/// command by its kind, and noted for the current request.
impl From<fred::error::Error> for EphemeralError {
    fn from(e: fred::error::Error) -> Self {
        use fred::error::ErrorKind as K;
        match e.kind() {
            K::IO | K::Timeout | K::Canceled | K::Tls | K::Backpressure | K::Routing => {
                crate::outage::record(crate::outage::Dependency::Redis, &e);
                Self::Unavailable(e)
            }
            _ => Self::Redis(e),
        }
    }
}

impl EphemeralError {
    /// Whether this is Redis being out of reach.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

#[derive(Clone)]
pub enum Ephemeral {
    Memory(Arc<MemoryKv>),
    Redis {
        pool: Pool,
        prefix: Arc<str>,
        clock: SharedClock,
    },
}

// The scripts get the clock's time as ARGV[1] (Unix ms) and compare it with
// the expiry prefix of the stored value; a value without one is live.

/// Adds ARGV[4] to the counter KEYS[1] (0 when missing or expired) and
/// restarts its lifetime: expiry ARGV[2], Redis TTL ARGV[3] ms.
const ADD_SLIDING: &str = "local v = redis.call('GET', KEYS[1]) local n = 0 \
    if v then local e, rest = string.match(v, '^(%d+)|(.*)$') \
      if not e then n = tonumber(v) or 0 \
      elseif tonumber(e) > tonumber(ARGV[1]) then n = tonumber(rest) or 0 end end \
    n = n + tonumber(ARGV[4]) \
    redis.call('SET', KEYS[1], ARGV[2] .. '|' .. string.format('%d', n), 'PX', ARGV[3]) return n";

/// Sets KEYS[1] = ARGV[2] with TTL ARGV[3] ms unless a live value is there;
/// 1 when it was set.
const SET_NX: &str = "local v = redis.call('GET', KEYS[1]) \
    if v then local e = string.match(v, '^(%d+)|') \
      if (not e) or tonumber(e) > tonumber(ARGV[1]) then return 0 end end \
    redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1";

/// Like [`ADD_SLIDING`], but a live counter keeps its expiry (a fixed
/// window): adds ARGV[4]; a missing or expired counter starts with expiry
/// ARGV[2] and Redis TTL ARGV[3] ms.
const ADD_FIXED: &str = "local v = redis.call('GET', KEYS[1]) local n = 0 local e = nil \
    if v then local pe, rest = string.match(v, '^(%d+)|(.*)$') \
      if pe and tonumber(pe) > tonumber(ARGV[1]) then n = tonumber(rest) or 0 e = pe end end \
    n = n + tonumber(ARGV[4]) \
    if e then redis.call('SET', KEYS[1], e .. '|' .. string.format('%d', n), 'PX', \
        math.max(1, tonumber(e) - tonumber(ARGV[1]))) \
    else redis.call('SET', KEYS[1], ARGV[2] .. '|' .. string.format('%d', n), 'PX', ARGV[3]) end \
    return n";

/// Takes a slot (see [`Ephemeral::reserve`]). KEYS: the failure counter,
/// the lock, the slot set (a sorted set scored by expiry, Unix ms). ARGV:
/// now, free, member, the member's expiry, the set's Redis TTL (ms).
/// Returns {0, 0} taken, {1, ms left} locked, {2, 0} full.
const RESERVE: &str = "local now = tonumber(ARGV[1]) \
    local lv = redis.call('GET', KEYS[2]) \
    if lv then local e = string.match(lv, '^(%d+)|') \
      if not e then local p = redis.call('PTTL', KEYS[2]) if p > 0 then return {1, p} end \
      elseif tonumber(e) > now then return {1, tonumber(e) - now} end end \
    local f = 0 local fv = redis.call('GET', KEYS[1]) \
    if fv then local e, rest = string.match(fv, '^(%d+)|(.*)$') \
      if not e then f = tonumber(fv) or 0 \
      elseif tonumber(e) > now then f = tonumber(rest) or 0 end end \
    redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now) \
    local held = redis.call('ZCARD', KEYS[3]) \
    local allowed = math.max(tonumber(ARGV[2]) - f, 1) \
    if held >= allowed then return {2, 0} end \
    redis.call('ZADD', KEYS[3], ARGV[4], ARGV[3]) \
    redis.call('PEXPIRE', KEYS[3], ARGV[5]) return {0, 0}";

/// What [`Ephemeral::reserve`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reserve {
    /// The slot is held under the member's name.
    Taken,
    /// The subject is locked for this long.
    Locked(Duration),
    /// Every slot the subject may have is held by attempts in progress.
    Full,
}

/// A value read from Redis, judged against the clock.
#[derive(Debug, PartialEq, Eq)]
enum Stored<'a> {
    /// Live; `expires` (Unix ms) is `None` for a value without the prefix.
    Live {
        value: &'a str,
        expires: Option<i64>,
    },
    Expired,
}

fn encode(value: &str, expires: i64) -> String {
    format!("{expires}|{value}")
}

fn decode(raw: &str, now: i64) -> Stored<'_> {
    let header = raw
        .split_once('|')
        .filter(|(e, _)| !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|(e, v)| Some((e.parse::<i64>().ok()?, v)));
    match header {
        Some((expires, _)) if expires <= now => Stored::Expired,
        Some((expires, value)) => Stored::Live {
            value,
            expires: Some(expires),
        },
        None => Stored::Live {
            value: raw,
            expires: None,
        },
    }
}

fn live_value(raw: Option<String>, now: i64) -> Option<String> {
    match decode(raw.as_deref()?, now) {
        Stored::Live { value, .. } => Some(value.to_string()),
        Stored::Expired => None,
    }
}

fn millis(ttl: Duration) -> i64 {
    i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX)
}

/// The Redis TTL in ms: at least 1 (`PX 0` is an error; a value written
/// with a zero TTL is expired by its prefix already).
fn px(ttl: Duration) -> i64 {
    millis(ttl).max(1)
}

/// The clock's time and the expiry `ttl` from it, in Unix ms.
fn times(clock: &dyn Clock, ttl: Duration) -> (i64, i64) {
    let now = unix_ms(clock.now());
    (now, now.saturating_add(millis(ttl)))
}

impl Ephemeral {
    pub fn memory(clock: SharedClock) -> Self {
        Self::Memory(Arc::new(MemoryKv::new(clock)))
    }

    /// Connects the pool. Every command is bounded by
    /// `timeouts.redis_command`, time spent queued while the connection is
    /// re-established included, so a Redis that stops answering costs a
    /// request that bound, then a 503 — never a request that waits for
    /// Redis to come back. Connections are re-opened without end (at most
    /// a second apart), so requests recover by themselves when it is back.
    pub async fn redis(
        url: &str,
        prefix: &str,
        clock: SharedClock,
        timeouts: &crate::config::TimeoutsConfig,
    ) -> Result<Self, EphemeralError> {
        let config = RedisConfig::from_url(url)?;
        let command = timeouts.redis_command();
        let pool = Builder::from_config(config)
            .with_connection_config(|c| {
                c.connection_timeout = timeouts.redis_connect();
                c.internal_command_timeout = timeouts.redis_connect();
                // A command written when the connection broke is tried
                // once more on the new one, within the same bound.
                c.max_command_attempts = 2;
                // A connection that holds a reply back this long is closed
                // and re-opened (a stalled server or a half-open socket).
                c.unresponsive = fred::types::config::UnresponsiveConfig {
                    max_timeout: Some(command.saturating_mul(2)),
                    interval: (command / 2).max(Duration::from_millis(10)),
                };
            })
            .with_performance_config(|p| p.default_command_timeout = command)
            .set_policy(fred::prelude::ReconnectPolicy::new_exponential(
                0, 50, 1_000, 2,
            ))
            .build_pool(4)?;
        pool.init().await?;
        Ok(Self::Redis {
            pool,
            prefix: prefix.into(),
            clock,
        })
    }

    /// The Redis pool, shared with the session store.
    /// Redis pool clients and how many are connected now (None on the
    /// in-process store); the metrics endpoint shows them.
    pub fn redis_pool_state(&self) -> Option<(usize, usize)> {
        let pool = self.redis_pool()?;
        let clients = pool.clients();
        Some((
            clients.len(),
            clients.iter().filter(|c| c.is_connected()).count(),
        ))
    }

    pub fn redis_pool(&self) -> Option<&Pool> {
        match self {
            Self::Redis { pool, .. } => Some(pool),
            Self::Memory(_) => None,
        }
    }

    fn key(prefix: &str, key: &str) -> String {
        format!("{prefix}{key}")
    }

    /// Adds one to the counter and restarts its TTL; returns the new value.
    pub async fn incr(&self, key: &str, ttl: Duration) -> Result<i64, EphemeralError> {
        self.add(key, 1, ttl).await
    }

    /// Adds `delta` (may be negative) and restarts the TTL; returns the new value.
    pub async fn add(&self, key: &str, delta: i64, ttl: Duration) -> Result<i64, EphemeralError> {
        match self {
            Self::Memory(kv) => Ok(kv.add(key, delta, ttl)),
            Self::Redis {
                pool,
                prefix,
                clock,
            } => {
                let (now, expires) = times(clock.as_ref(), ttl);
                Ok(pool
                    .eval(
                        ADD_SLIDING,
                        vec![Self::key(prefix, key)],
                        vec![
                            now.to_string(),
                            expires.to_string(),
                            px(ttl).to_string(),
                            delta.to_string(),
                        ],
                    )
                    .await?)
            }
        }
    }

    /// Adds `delta` without moving a live counter's expiry (a fixed window
    /// of `ttl` from the first add); returns the new value.
    pub async fn add_fixed(
        &self,
        key: &str,
        delta: i64,
        ttl: Duration,
    ) -> Result<i64, EphemeralError> {
        match self {
            Self::Memory(kv) => Ok(kv.add_fixed(key, delta, ttl)),
            Self::Redis {
                pool,
                prefix,
                clock,
            } => {
                let (now, expires) = times(clock.as_ref(), ttl);
                Ok(pool
                    .eval(
                        ADD_FIXED,
                        vec![Self::key(prefix, key)],
                        vec![
                            now.to_string(),
                            expires.to_string(),
                            px(ttl).to_string(),
                            delta.to_string(),
                        ],
                    )
                    .await?)
            }
        }
    }

    /// Takes one of a subject's slots for an attempt in progress, in one
    /// atomic step: refused while the `lock` key is live; otherwise a
    /// subject whose counter `fail` holds `f` may hold `max(free − f, 1)`
    /// slots in `slots` at once. A slot is a named member that lasts `ttl`
    /// at most (a node that dies mid-attempt frees it by expiry) and is
    /// given back with [`Ephemeral::release`].
    pub async fn reserve(
        &self,
        keys: SlotKeys<'_>,
        free: u32,
        member: &str,
        ttl: Duration,
    ) -> Result<Reserve, EphemeralError> {
        match self {
            Self::Memory(kv) => Ok(kv.reserve(keys, free, member, ttl)),
            Self::Redis {
                pool,
                prefix,
                clock,
            } => {
                let (now, expires) = times(clock.as_ref(), ttl);
                let (code, ms): (i64, i64) = pool
                    .eval(
                        RESERVE,
                        vec![
                            Self::key(prefix, keys.fail),
                            Self::key(prefix, keys.lock),
                            Self::key(prefix, keys.slots),
                        ],
                        vec![
                            now.to_string(),
                            free.to_string(),
                            member.to_string(),
                            expires.to_string(),
                            px(ttl).to_string(),
                        ],
                    )
                    .await?;
                Ok(match code {
                    0 => Reserve::Taken,
                    1 => Reserve::Locked(Duration::from_millis(ms.max(1).unsigned_abs())),
                    _ => Reserve::Full,
                })
            }
        }
    }

    /// Gives a slot taken with [`Ephemeral::reserve`] back.
    pub async fn release(&self, slots: &str, member: &str) -> Result<(), EphemeralError> {
        match self {
            Self::Memory(kv) => kv.release(slots, member),
            Self::Redis { pool, prefix, .. } => {
                pool.zrem::<(), _, _>(Self::key(prefix, slots), member.to_string())
                    .await?;
            }
        }
        Ok(())
    }

    /// Time left before the key expires; `None` when it does not exist.
    pub async fn ttl(&self, key: &str) -> Result<Option<Duration>, EphemeralError> {
        match self {
            Self::Memory(kv) => Ok(kv.ttl(key)),
            Self::Redis {
                pool,
                prefix,
                clock,
            } => {
                let key = Self::key(prefix, key);
                let raw: Option<String> = pool.get(&key).await?;
                let now = unix_ms(clock.now());
                match raw.as_deref().map(|r| decode(r, now)) {
                    None | Some(Stored::Expired) => Ok(None),
                    Some(Stored::Live {
                        expires: Some(e), ..
                    }) => Ok(Some(Duration::from_millis(
                        e.saturating_sub(now).unsigned_abs(),
                    ))),
                    Some(Stored::Live { expires: None, .. }) => {
                        let ms: i64 = pool.pttl(&key).await?;
                        // -2: no such key; -1: no expiry (we never write those).
                        Ok((ms >= 0).then(|| Duration::from_millis(ms.unsigned_abs())))
                    }
                }
            }
        }
    }

    pub async fn set(&self, key: &str, value: &str, ttl: Duration) -> Result<(), EphemeralError> {
        match self {
            Self::Memory(kv) => kv.set(key, value, ttl),
            Self::Redis {
                pool,
                prefix,
                clock,
            } => {
                let (_, expires) = times(clock.as_ref(), ttl);
                pool.set::<(), _, _>(
                    Self::key(prefix, key),
                    encode(value, expires),
                    Some(Expiration::PX(px(ttl))),
                    None,
                    false,
                )
                .await?;
            }
        }
        Ok(())
    }

    /// Stores the value only when the key does not exist; returns whether
    /// it was stored (one message per resend interval).
    pub async fn set_nx(
        &self,
        key: &str,
        value: &str,
        ttl: Duration,
    ) -> Result<bool, EphemeralError> {
        match self {
            Self::Memory(kv) => Ok(kv.set_nx(key, value, ttl)),
            Self::Redis {
                pool,
                prefix,
                clock,
            } => {
                let (now, expires) = times(clock.as_ref(), ttl);
                let set: i64 = pool
                    .eval(
                        SET_NX,
                        vec![Self::key(prefix, key)],
                        vec![now.to_string(), encode(value, expires), px(ttl).to_string()],
                    )
                    .await?;
                Ok(set == 1)
            }
        }
    }

    pub async fn get(&self, key: &str) -> Result<Option<String>, EphemeralError> {
        match self {
            Self::Memory(kv) => Ok(kv.get(key)),
            Self::Redis {
                pool,
                prefix,
                clock,
            } => {
                let raw = pool.get(Self::key(prefix, key)).await?;
                Ok(live_value(raw, unix_ms(clock.now())))
            }
        }
    }

    /// Reads and deletes in one step: a single-use value can be taken once.
    pub async fn take(&self, key: &str) -> Result<Option<String>, EphemeralError> {
        match self {
            Self::Memory(kv) => Ok(kv.take(key)),
            Self::Redis {
                pool,
                prefix,
                clock,
            } => {
                let raw = pool.getdel(Self::key(prefix, key)).await?;
                Ok(live_value(raw, unix_ms(clock.now())))
            }
        }
    }

    pub async fn delete(&self, key: &str) -> Result<(), EphemeralError> {
        match self {
            Self::Memory(kv) => {
                kv.take(key);
            }
            Self::Redis { pool, prefix, .. } => {
                pool.del::<(), _>(Self::key(prefix, key)).await?;
            }
        }
        Ok(())
    }

    /// For `/readyz` and the probe: at most `bound`, and at once while the
    /// connection is down (fail fast: not queued until it is back).
    pub async fn ping(&self, bound: Duration) -> Result<(), EphemeralError> {
        if let Self::Redis { pool, .. } = self {
            let options = fred::types::config::Options {
                fail_fast: true,
                timeout: Some(bound),
                max_attempts: Some(1),
                ..Default::default()
            };
            pool.with_options(&options).ping::<()>(None).await?;
        }
        Ok(())
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Self::Memory(_) => "memory",
            Self::Redis { .. } => "redis",
        }
    }
}

/// The keys of one subject's slots: its failure counter, its lock, and
/// the set of slots held by its attempts in progress.
#[derive(Debug, Clone, Copy)]
pub struct SlotKeys<'a> {
    pub fail: &'a str,
    pub lock: &'a str,
    pub slots: &'a str,
}

/// The in-process store: a map with expiry instants (the clock's monotonic
/// [`Clock::instant`]). Expired entries are dropped when read and swept
/// every few thousand writes, so memory stays bounded by the live entries.
pub struct MemoryKv {
    map: Mutex<MemoryMap>,
    clock: SharedClock,
}

#[derive(Default)]
struct MemoryMap {
    entries: HashMap<String, (String, Instant)>,
    /// Slot sets: member names and their expiry instants.
    slots: HashMap<String, Vec<(String, Instant)>>,
    writes: u64,
}

impl MemoryMap {
    fn live(&mut self, key: &str, now: Instant) -> Option<&mut (String, Instant)> {
        if self.entries.get(key).is_some_and(|(_, exp)| *exp <= now) {
            self.entries.remove(key);
        }
        self.entries.get_mut(key)
    }

    fn wrote(&mut self, now: Instant) {
        self.writes += 1;
        if self.writes.is_multiple_of(4096) {
            self.entries.retain(|_, (_, exp)| *exp > now);
            self.slots.retain(|_, held| {
                held.retain(|(_, exp)| *exp > now);
                !held.is_empty()
            });
        }
    }

    fn put(&mut self, key: &str, value: String, now: Instant, ttl: Duration) {
        let expires = expiry(now, ttl);
        self.entries.insert(key.to_string(), (value, expires));
        self.wrote(now);
    }
}

/// `now + ttl`; a TTL beyond what an Instant can hold is a year (none is
/// that long).
fn expiry(now: Instant, ttl: Duration) -> Instant {
    now.checked_add(ttl)
        .or_else(|| now.checked_add(Duration::from_secs(86_400 * 365)))
        .unwrap_or(now)
}

impl MemoryKv {
    pub fn new(clock: SharedClock) -> Self {
        Self {
            map: Mutex::default(),
            clock,
        }
    }

    /// The map and the clock's instant, read under the lock.
    fn lock(&self) -> (std::sync::MutexGuard<'_, MemoryMap>, Instant) {
        // A panic while holding the lock cannot leave the map inconsistent
        // (every operation is a single map call), so poisoning is ignored.
        let map = self
            .map
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        (map, self.clock.instant())
    }

    fn add(&self, key: &str, delta: i64, ttl: Duration) -> i64 {
        let (mut map, now) = self.lock();
        let next = map
            .live(key, now)
            .and_then(|(v, _)| v.parse::<i64>().ok())
            .unwrap_or(0)
            + delta;
        map.put(key, next.to_string(), now, ttl);
        next
    }

    fn add_fixed(&self, key: &str, delta: i64, ttl: Duration) -> i64 {
        let (mut map, now) = self.lock();
        if let Some((v, _)) = map.live(key, now) {
            let next = v.parse::<i64>().unwrap_or(0) + delta;
            *v = next.to_string();
            return next;
        }
        map.put(key, delta.to_string(), now, ttl);
        delta
    }

    fn reserve(&self, keys: SlotKeys<'_>, free: u32, member: &str, ttl: Duration) -> Reserve {
        let (mut map, now) = self.lock();
        if let Some((_, exp)) = map.live(keys.lock, now) {
            return Reserve::Locked(exp.saturating_duration_since(now));
        }
        let failures = map
            .live(keys.fail, now)
            .and_then(|(v, _)| v.parse::<i64>().ok())
            .unwrap_or(0);
        let allowed = (i64::from(free) - failures).max(1);
        let held = map.slots.entry(keys.slots.to_string()).or_default();
        held.retain(|(_, exp)| *exp > now);
        if i64::try_from(held.len()).unwrap_or(i64::MAX) >= allowed {
            return Reserve::Full;
        }
        held.push((member.to_string(), expiry(now, ttl)));
        map.wrote(now);
        Reserve::Taken
    }

    fn release(&self, slots: &str, member: &str) {
        let (mut map, _) = self.lock();
        if let Some(held) = map.slots.get_mut(slots) {
            held.retain(|(m, _)| m != member);
            if held.is_empty() {
                map.slots.remove(slots);
            }
        }
    }

    fn ttl(&self, key: &str) -> Option<Duration> {
        let (mut map, now) = self.lock();
        map.live(key, now)
            .map(|(_, exp)| exp.saturating_duration_since(now))
    }

    fn set(&self, key: &str, value: &str, ttl: Duration) {
        let (mut map, now) = self.lock();
        map.put(key, value.to_string(), now, ttl);
    }

    fn set_nx(&self, key: &str, value: &str, ttl: Duration) -> bool {
        let (mut map, now) = self.lock();
        if map.live(key, now).is_some() {
            return false;
        }
        map.put(key, value.to_string(), now, ttl);
        true
    }

    fn get(&self, key: &str) -> Option<String> {
        let (mut map, now) = self.lock();
        map.live(key, now).map(|(v, _)| v.clone())
    }

    fn take(&self, key: &str) -> Option<String> {
        let (mut map, now) = self.lock();
        map.live(key, now)?;
        map.entries.remove(key).map(|(v, _)| v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::clock::{ManualClock, SystemClock};

    #[tokio::test]
    async fn memory_counters_codes_and_expiry() {
        let e = Ephemeral::memory(SystemClock::shared());
        assert_eq!(e.incr("a", Duration::from_secs(60)).await.unwrap(), 1);
        assert_eq!(e.incr("a", Duration::from_secs(60)).await.unwrap(), 2);
        assert!(e.ttl("a").await.unwrap().unwrap() > Duration::from_secs(50));
        e.set("code", "123456", Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(e.take("code").await.unwrap().as_deref(), Some("123456"));
        assert_eq!(e.take("code").await.unwrap(), None);
        let t = Duration::from_secs(60);
        assert!(e.set_nx("once", "1", t).await.unwrap());
        assert!(!e.set_nx("once", "1", t).await.unwrap());
        e.set("gone", "x", Duration::ZERO).await.unwrap();
        assert_eq!(e.get("gone").await.unwrap(), None);
        assert_eq!(e.ttl("gone").await.unwrap(), None);
    }

    /// What every backend must do when the clock is advanced: each
    /// operation sees an entry live before its TTL and gone after it.
    async fn follows_the_clock(e: &Ephemeral, clock: &ManualClock) {
        let minute = Duration::from_secs(60);
        let half = Duration::from_secs(30);
        e.set("v", "x", minute).await.unwrap();
        e.set("t", "x", minute).await.unwrap();
        e.set("k", "code", minute).await.unwrap();
        assert_eq!(e.incr("n", minute).await.unwrap(), 1);
        assert!(e.set_nx("once", "1", minute).await.unwrap());
        clock.advance(half);
        // Still live half-way (the control for what follows).
        assert_eq!(e.get("v").await.unwrap().as_deref(), Some("x"));
        let left = e.ttl("t").await.unwrap().unwrap();
        assert!(left <= half && left > Duration::from_secs(20), "{left:?}");
        assert_eq!(e.incr("n", minute).await.unwrap(), 2, "counted on");
        assert!(!e.set_nx("once", "1", minute).await.unwrap());
        clock.advance(half + Duration::from_secs(1));
        assert_eq!(e.get("v").await.unwrap(), None);
        assert_eq!(e.take("v").await.unwrap(), None);
        assert_eq!(e.ttl("t").await.unwrap(), None);
        assert_eq!(e.take("k").await.unwrap(), None, "an expired code");
        assert!(e.set_nx("once", "1", minute).await.unwrap(), "free again");
        // The counter's TTL restarted on its second increment: live 30 s on.
        assert_eq!(e.incr("n", minute).await.unwrap(), 3);
        clock.advance(minute + Duration::from_secs(1));
        assert_eq!(e.incr("n", minute).await.unwrap(), 1, "started over");
        assert_eq!(e.add("n", -1, minute).await.unwrap(), 0);
    }

    /// Slots and fixed windows, the same on every backend.
    async fn slots_and_fixed_windows(e: &Ephemeral, clock: &ManualClock) {
        let minute = Duration::from_secs(60);
        let keys = SlotKeys {
            fail: "s-fail",
            lock: "s-lock",
            slots: "s-slots",
        };
        assert_eq!(
            e.reserve(keys, 2, "a", minute).await.unwrap(),
            Reserve::Taken
        );
        assert_eq!(
            e.reserve(keys, 2, "b", minute).await.unwrap(),
            Reserve::Taken
        );
        assert_eq!(
            e.reserve(keys, 2, "c", minute).await.unwrap(),
            Reserve::Full
        );
        e.release("s-slots", "a").await.unwrap();
        assert_eq!(
            e.reserve(keys, 2, "c", minute).await.unwrap(),
            Reserve::Taken
        );
        // One failure leaves one slot; "b" and "c" hold two already.
        e.incr("s-fail", minute).await.unwrap();
        e.release("s-slots", "b").await.unwrap();
        assert_eq!(
            e.reserve(keys, 2, "d", minute).await.unwrap(),
            Reserve::Full
        );
        e.release("s-slots", "c").await.unwrap();
        assert_eq!(
            e.reserve(keys, 2, "d", minute).await.unwrap(),
            Reserve::Taken
        );
        // Slots expire on their own (a node that died holding one).
        clock.advance(minute + Duration::from_secs(1));
        assert_eq!(
            e.reserve(keys, 2, "e", minute).await.unwrap(),
            Reserve::Taken
        );
        assert_eq!(
            e.reserve(keys, 2, "f", minute).await.unwrap(),
            Reserve::Taken
        );
        e.set("s-lock", "1", Duration::from_secs(30)).await.unwrap();
        match e.reserve(keys, 2, "g", minute).await.unwrap() {
            Reserve::Locked(d) => {
                assert!(d > Duration::from_secs(20) && d <= Duration::from_secs(30))
            }
            other => panic!("{other:?}"),
        }
        // A fixed window keeps its first expiry.
        assert_eq!(e.add_fixed("w", 1, minute).await.unwrap(), 1);
        clock.advance(Duration::from_secs(40));
        assert_eq!(e.add_fixed("w", 1, minute).await.unwrap(), 2);
        clock.advance(Duration::from_secs(21));
        assert_eq!(
            e.add_fixed("w", 1, minute).await.unwrap(),
            1,
            "started over"
        );
    }

    #[tokio::test]
    async fn memory_slots_and_fixed_windows() {
        let clock = Arc::new(ManualClock::new());
        let e = Ephemeral::memory(clock.clone());
        slots_and_fixed_windows(&e, &clock).await;
    }

    #[tokio::test]
    async fn redis_slots_and_fixed_windows() {
        let clock = Arc::new(ManualClock::new());
        let Some(e) = redis(clock.clone()).await else {
            return;
        };
        slots_and_fixed_windows(&e, &clock).await;
    }

    #[tokio::test]
    async fn memory_expiry_follows_the_clock() {
        let clock = Arc::new(ManualClock::new());
        let e = Ephemeral::memory(clock.clone());
        follows_the_clock(&e, &clock).await;
    }

    /// A Redis for these tests, when `TONGXING_TEST_REDIS_URL` names one.
    async fn redis(clock: SharedClock) -> Option<Ephemeral> {
        let url = std::env::var("TONGXING_TEST_REDIS_URL")
            .ok()
            .filter(|u| !u.is_empty());
        let Some(url) = url else {
            eprintln!("skipped: TONGXING_TEST_REDIS_URL is not set");
            return None;
        };
        let prefix = format!("tongxing-unit:{}:", uuid::Uuid::new_v4().simple());
        let timeouts = crate::config::TimeoutsConfig::default();
        Some(
            Ephemeral::redis(&url, &prefix, clock, &timeouts)
                .await
                .unwrap(),
        )
    }

    #[tokio::test]
    async fn redis_expiry_follows_the_clock() {
        let clock = Arc::new(ManualClock::new());
        let Some(e) = redis(clock.clone()).await else {
            return;
        };
        follows_the_clock(&e, &clock).await;
    }

    /// Real time on purpose: the Redis TTL itself, the garbage collection
    /// behind the clock's judgement, removes the key from Redis (the raw
    /// key is read, not through the clock).
    #[tokio::test]
    async fn redis_keys_carry_their_ttl() {
        let Some(e) = redis(SystemClock::shared()).await else {
            return;
        };
        let Ephemeral::Redis { pool, prefix, .. } = &e else {
            return;
        };
        let ttl = Duration::from_millis(200);
        e.set("gc", "x", ttl).await.unwrap();
        e.incr("gc-n", ttl).await.unwrap();
        assert!(e.set_nx("gc-once", "1", ttl).await.unwrap());
        let raw = |k: &str| {
            let key = format!("{prefix}{k}");
            async move { pool.pttl::<i64, _>(key).await.unwrap() }
        };
        for k in ["gc", "gc-n", "gc-once"] {
            let ms = raw(k).await;
            assert!(ms > 0 && ms <= 200, "{k}: {ms}");
        }
        // Redis compares its own clock when a key is read: after the TTL the
        // key is gone however long the sleep took.
        tokio::time::sleep(Duration::from_millis(300)).await;
        for k in ["gc", "gc-n", "gc-once"] {
            assert_eq!(raw(k).await, -2, "{k} is gone from Redis");
        }
    }

    #[test]
    fn stored_values_carry_their_expiry() {
        assert_eq!(
            decode(&encode("a|b", 2_000), 1_000),
            Stored::Live {
                value: "a|b",
                expires: Some(2_000)
            }
        );
        assert_eq!(decode(&encode("a", 2_000), 2_000), Stored::Expired);
        // Written before the prefix existed: live, left to the Redis TTL.
        for old in ["7", "{\"hash\":\"x|y\"}", "|x", "12a|x"] {
            assert_eq!(
                decode(old, i64::MAX),
                Stored::Live {
                    value: old,
                    expires: None
                }
            );
        }
    }
}
