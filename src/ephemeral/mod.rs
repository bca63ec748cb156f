//! Short-lived shared state: counters for rate limits, one-time codes,
//! anything with a TTL. In-process memory on the embedded default; Redis
//! when configured, so every node sees the same counters and codes.

pub mod rate_limit;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fred::prelude::{
    Builder, ClientLike, Config as RedisConfig, Expiration, KeysInterface, LuaInterface, Pool,
};

#[derive(Debug, thiserror::Error)]
pub enum EphemeralError {
    #[error("redis: {0}")]
    Redis(#[from] fred::error::Error),
}

#[derive(Clone)]
pub enum Ephemeral {
    Memory(Arc<MemoryKv>),
    Redis { pool: Pool, prefix: Arc<str> },
}

/// GETDEL of KEYS[1]; when it existed, SET KEYS[2] = ARGV[1] with PX ARGV[2].
const TAKE_AND_MARK: &str = "local v = redis.call('GET', KEYS[1]) \
    if v then redis.call('DEL', KEYS[1]) redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2]) end return v";

/// Adds to a counter and (re)starts its time-to-live, atomically.
const ADD_SLIDING: &str = "local n = redis.call('INCRBY', KEYS[1], ARGV[2]) \
    redis.call('PEXPIRE', KEYS[1], ARGV[1]) return n";

impl Ephemeral {
    pub fn memory() -> Self {
        Self::Memory(Arc::new(MemoryKv::default()))
    }

    pub async fn redis(url: &str, prefix: &str) -> Result<Self, EphemeralError> {
        let config = RedisConfig::from_url(url)?;
        let pool = Builder::from_config(config)
            .with_connection_config(|c| {
                c.connection_timeout = Duration::from_secs(5);
                c.internal_command_timeout = Duration::from_secs(5);
            })
            .set_policy(fred::prelude::ReconnectPolicy::new_exponential(
                0, 100, 5_000, 2,
            ))
            .build_pool(4)?;
        pool.init().await?;
        Ok(Self::Redis {
            pool,
            prefix: prefix.into(),
        })
    }

    /// The Redis pool, shared with the session store.
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
            Self::Redis { pool, prefix } => {
                let ms = ttl.as_millis().to_string();
                Ok(pool
                    .eval(
                        ADD_SLIDING,
                        vec![Self::key(prefix, key)],
                        vec![ms, delta.to_string()],
                    )
                    .await?)
            }
        }
    }

    /// Time left before the key expires; `None` when it does not exist.
    pub async fn ttl(&self, key: &str) -> Result<Option<Duration>, EphemeralError> {
        match self {
            Self::Memory(kv) => Ok(kv.ttl(key)),
            Self::Redis { pool, prefix } => {
                let ms: i64 = pool.pttl(Self::key(prefix, key)).await?;
                // -2: no such key; -1: no expiry (we never write those).
                Ok((ms >= 0).then(|| Duration::from_millis(ms.unsigned_abs())))
            }
        }
    }

    pub async fn set(&self, key: &str, value: &str, ttl: Duration) -> Result<(), EphemeralError> {
        match self {
            Self::Memory(kv) => kv.set(key, value, ttl),
            Self::Redis { pool, prefix } => {
                let ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
                pool.set::<(), _, _>(
                    Self::key(prefix, key),
                    value,
                    Some(Expiration::PX(ms)),
                    None,
                    false,
                )
                .await?;
            }
        }
        Ok(())
    }

    /// Stores the value only when the key does not exist; returns whether
    /// it was stored (single-use markers such as assertion `jti`s).
    pub async fn set_nx(
        &self,
        key: &str,
        value: &str,
        ttl: Duration,
    ) -> Result<bool, EphemeralError> {
        match self {
            Self::Memory(kv) => Ok(kv.set_nx(key, value, ttl)),
            Self::Redis { pool, prefix } => {
                let ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
                let set: Option<String> = pool
                    .set(
                        Self::key(prefix, key),
                        value,
                        Some(Expiration::PX(ms)),
                        Some(fred::types::SetOptions::NX),
                        false,
                    )
                    .await?;
                Ok(set.is_some())
            }
        }
    }

    pub async fn get(&self, key: &str) -> Result<Option<String>, EphemeralError> {
        match self {
            Self::Memory(kv) => Ok(kv.get(key)),
            Self::Redis { pool, prefix } => Ok(pool.get(Self::key(prefix, key)).await?),
        }
    }

    /// Reads and deletes in one step: a single-use value can be taken once.
    pub async fn take(&self, key: &str) -> Result<Option<String>, EphemeralError> {
        match self {
            Self::Memory(kv) => Ok(kv.take(key)),
            Self::Redis { pool, prefix } => Ok(pool.getdel(Self::key(prefix, key)).await?),
        }
    }

    pub async fn delete(&self, key: &str) -> Result<(), EphemeralError> {
        match self {
            Self::Memory(kv) => {
                kv.take(key);
            }
            Self::Redis { pool, prefix } => {
                pool.del::<(), _>(Self::key(prefix, key)).await?;
            }
        }
        Ok(())
    }

    /// Takes `key` and, if it existed, sets `marker` to `value` — one
    /// atomic step, so nothing can observe the key gone without the marker.
    pub async fn take_and_mark(
        &self,
        key: &str,
        marker: &str,
        value: &str,
        ttl: Duration,
    ) -> Result<Option<String>, EphemeralError> {
        match self {
            Self::Memory(kv) => Ok(kv.take_and_mark(key, marker, value, ttl)),
            Self::Redis { pool, prefix } => {
                let ms = ttl.as_millis().to_string();
                Ok(pool
                    .eval(
                        TAKE_AND_MARK,
                        vec![Self::key(prefix, key), Self::key(prefix, marker)],
                        vec![value.to_string(), ms],
                    )
                    .await?)
            }
        }
    }

    /// For `/readyz`.
    pub async fn ping(&self) -> Result<(), EphemeralError> {
        if let Self::Redis { pool, .. } = self {
            pool.ping::<()>(None).await?;
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

/// The in-process store: a map with expiry instants. Expired entries are
/// dropped when read and swept every few thousand writes, so memory stays
/// bounded by the live entries.
#[derive(Default)]
pub struct MemoryKv {
    map: Mutex<MemoryMap>,
}

#[derive(Default)]
struct MemoryMap {
    entries: HashMap<String, (String, Instant)>,
    writes: u64,
}

impl MemoryMap {
    fn live(&mut self, key: &str) -> Option<&mut (String, Instant)> {
        let now = Instant::now();
        if self.entries.get(key).is_some_and(|(_, exp)| *exp <= now) {
            self.entries.remove(key);
        }
        self.entries.get_mut(key)
    }

    fn wrote(&mut self) {
        self.writes += 1;
        if self.writes.is_multiple_of(4096) {
            let now = Instant::now();
            self.entries.retain(|_, (_, exp)| *exp > now);
        }
    }
}

impl MemoryKv {
    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryMap> {
        // A panic while holding the lock cannot leave the map inconsistent
        // (every operation is a single map call), so poisoning is ignored.
        self.map
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn add(&self, key: &str, delta: i64, ttl: Duration) -> i64 {
        let mut map = self.lock();
        let next = map
            .live(key)
            .and_then(|(v, _)| v.parse::<i64>().ok())
            .unwrap_or(0)
            + delta;
        map.entries
            .insert(key.to_string(), (next.to_string(), Instant::now() + ttl));
        map.wrote();
        next
    }

    fn ttl(&self, key: &str) -> Option<Duration> {
        let mut map = self.lock();
        map.live(key)
            .map(|(_, exp)| exp.saturating_duration_since(Instant::now()))
    }

    fn set(&self, key: &str, value: &str, ttl: Duration) {
        let mut map = self.lock();
        map.entries
            .insert(key.to_string(), (value.to_string(), Instant::now() + ttl));
        map.wrote();
    }

    fn set_nx(&self, key: &str, value: &str, ttl: Duration) -> bool {
        let mut map = self.lock();
        if map.live(key).is_some() {
            return false;
        }
        map.entries
            .insert(key.to_string(), (value.to_string(), Instant::now() + ttl));
        map.wrote();
        true
    }

    fn take_and_mark(&self, key: &str, marker: &str, value: &str, ttl: Duration) -> Option<String> {
        let mut map = self.lock();
        map.live(key)?;
        let taken = map.entries.remove(key).map(|(v, _)| v);
        map.entries.insert(
            marker.to_string(),
            (value.to_string(), Instant::now() + ttl),
        );
        map.wrote();
        taken
    }

    fn get(&self, key: &str) -> Option<String> {
        self.lock().live(key).map(|(v, _)| v.clone())
    }

    fn take(&self, key: &str) -> Option<String> {
        let mut map = self.lock();
        map.live(key)?;
        map.entries.remove(key).map(|(v, _)| v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_counters_codes_and_expiry() {
        let e = Ephemeral::memory();
        assert_eq!(e.incr("a", Duration::from_secs(60)).await.unwrap(), 1);
        assert_eq!(e.incr("a", Duration::from_secs(60)).await.unwrap(), 2);
        assert!(e.ttl("a").await.unwrap().unwrap() > Duration::from_secs(50));
        e.set("code", "123456", Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(e.take("code").await.unwrap().as_deref(), Some("123456"));
        assert_eq!(e.take("code").await.unwrap(), None);
        e.set("c2", "rec", Duration::from_secs(60)).await.unwrap();
        let t = Duration::from_secs(60);
        assert_eq!(
            e.take_and_mark("c2", "m2", "g", t)
                .await
                .unwrap()
                .as_deref(),
            Some("rec")
        );
        assert_eq!(e.get("m2").await.unwrap().as_deref(), Some("g"));
        assert_eq!(e.take_and_mark("c2", "m3", "g", t).await.unwrap(), None);
        assert_eq!(
            e.get("m3").await.unwrap(),
            None,
            "no marker when nothing was taken"
        );
        assert!(e.set_nx("once", "1", t).await.unwrap());
        assert!(!e.set_nx("once", "1", t).await.unwrap());
        e.set("gone", "x", Duration::ZERO).await.unwrap();
        assert_eq!(e.get("gone").await.unwrap(), None);
        assert_eq!(e.ttl("gone").await.unwrap(), None);
    }
}
