//! The signing-key ring.
//!
//! Keys live in the database (private parts encrypted when a key-encryption
//! key is configured) and are parsed once into memory. Every node re-reads
//! the key table at most every `oidc.key_refresh_secs`, and at once when it
//! meets a `kid` it does not know, so a rotation made on one node or by the
//! CLI reaches all nodes without a restart. Only new kids are parsed.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::config::Config;
use crate::crypto::jws::{Alg, JwsError, SigningKey};
use crate::crypto::kek::{Kek, KekError};
use crate::ports::clock::SharedClock;
use crate::store::keys::KeyRow;
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Kek(#[from] KekError),
    #[error("signing key {0}: {1}")]
    Jws(String, JwsError),
    #[error("signing keys are stored encrypted; set key_encryption_key to start")]
    NeedKek,
    #[error("no active {0} signing key")]
    NoKey(&'static str),
}

struct Entry {
    key: Arc<SigningKey>,
    created_at: OffsetDateTime,
    retired_at: Option<OffsetDateTime>,
}

impl Entry {
    fn signs(&self, now: OffsetDateTime) -> bool {
        self.retired_at.is_none_or(|t| t > now)
    }
}

struct Loaded {
    keys: HashMap<String, Entry>,
    at: Instant,
    /// The JWK set as served, made on first request after each reload.
    jwks: RwLock<Option<JwksBody>>,
}

/// A serialized JWK set, good until the next retirement reorders it.
struct JwksBody {
    body: axum::body::Bytes,
    until: Option<OffsetDateTime>,
}

#[derive(Clone)]
pub struct KeyRing {
    store: Store,
    /// Activation and grace periods, and the refresh interval, follow it.
    clock: SharedClock,
    kek: Option<Arc<Kek>>,
    grace: Duration,
    refresh: Duration,
    activation: Duration,
    loaded: Arc<RwLock<Loaded>>,
    /// Last reload forced by an unknown `kid` (rate-limited: a forged kid
    /// must not cost a database read per request).
    forced: Arc<std::sync::Mutex<Option<Instant>>>,
}

/// Reloads forced by unknown kids happen at most this often per node.
const FORCED_RELOAD_EVERY: Duration = Duration::from_secs(5);

/// A key as `tongxing keys list` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct KeyInfo {
    pub kid: String,
    pub alg: String,
    pub encrypted: bool,
    pub status: &'static str,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub retired_at: Option<OffsetDateTime>,
}

fn new_kid(alg: Alg) -> String {
    format!(
        "{}-{}",
        alg.as_str().to_lowercase(),
        uuid::Uuid::now_v7().simple()
    )
}

impl KeyRing {
    /// Loads the keys, creating one per algorithm on first start.
    pub async fn init(
        store: Store,
        config: &Config,
        clock: SharedClock,
    ) -> Result<KeyRing, KeyError> {
        let kek = match &config.key_encryption_key {
            Some(text) => Some(Arc::new(Kek::from_base64(text)?)),
            None => None,
        };
        let at = clock.instant();
        let ring = KeyRing {
            store,
            clock,
            kek,
            grace: Duration::from_secs(config.oidc.key_grace_hours * 3600),
            refresh: Duration::from_secs(config.oidc.key_refresh_secs),
            activation: Duration::from_secs(config.oidc.key_activation_secs),
            forced: Arc::default(),
            loaded: Arc::new(RwLock::new(Loaded {
                keys: HashMap::new(),
                at,
                jwks: RwLock::new(None),
            })),
        };
        ring.reload().await?;
        for alg in Alg::ALL {
            if ring.active(alg).is_none() {
                // Two nodes starting at once may both create one; both keys
                // are valid and the newest becomes current.
                ring.create(alg, false).await?;
            }
        }
        Ok(ring)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Loaded> {
        self.loaded.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The key that signs for `alg` now: the newest one published for at
    /// least the activation delay; when none is that old yet (a rotation
    /// soon after the first start), the oldest one — the key that was
    /// signing before.
    fn active(&self, alg: Alg) -> Option<Arc<SigningKey>> {
        let now = self.clock.now();
        let loaded = self.read();
        let mut candidates: Vec<&Entry> = loaded
            .keys
            .values()
            .filter(|e| e.key.alg == alg && e.signs(now))
            .collect();
        candidates.sort_by_key(|e| (e.created_at, e.key.kid.clone()));
        let published_since = now - self.activation;
        candidates
            .iter()
            .rev()
            .find(|e| e.created_at <= published_since)
            .or_else(|| candidates.first())
            .map(|e| e.key.clone())
    }

    /// The age of each signing key in use now, by algorithm (the metrics
    /// endpoint shows them; an operator alerts on an old one).
    pub fn signing_ages(&self) -> Vec<(&'static str, Duration)> {
        let now = self.clock.now();
        let mut ages: Vec<(&'static str, Duration)> = Alg::ALL
            .iter()
            .filter_map(|alg| {
                let key = self.active(*alg)?;
                let loaded = self.read();
                let created = loaded.keys.get(&key.kid)?.created_at;
                Some((
                    alg.as_str(),
                    (now - created).try_into().unwrap_or(Duration::ZERO),
                ))
            })
            .collect();
        ages.sort_by_key(|(alg, _)| *alg);
        ages
    }

    async fn create(&self, alg: Alg, rotate: bool) -> Result<String, KeyError> {
        let kid = new_kid(alg);
        let (_, der) =
            SigningKey::generate(alg, kid.clone()).map_err(|e| KeyError::Jws(kid.clone(), e))?;
        let (private_key, encrypted) = match &self.kek {
            Some(kek) => (kek.seal(&kid, &der)?, true),
            None => (der, false),
        };
        let row = KeyRow {
            kid: kid.clone(),
            alg: alg.as_str().into(),
            private_key,
            encrypted,
            created_at: self.clock.now(),
            retired_at: None,
        };
        if rotate {
            let retire_at = row.created_at + self.activation;
            self.store.rotate_key(&row, retire_at).await?;
        } else {
            self.store.insert_key(&row).await?;
        }
        self.reload().await?;
        Ok(kid)
    }

    /// Re-reads the key table; parses only keys not seen before.
    pub async fn reload(&self) -> Result<(), KeyError> {
        let since = self.clock.now() - self.grace;
        let rows = self.store.usable_keys(since).await?;
        let mut next = HashMap::new();
        for row in rows {
            let Some(alg) = Alg::parse(&row.alg) else {
                continue;
            };
            let known = self.read().keys.get(&row.kid).map(|e| e.key.clone());
            let key = match known {
                Some(k) => k,
                None => {
                    let der = match (row.encrypted, &self.kek) {
                        (true, Some(kek)) => kek.open(&row.kid, &row.private_key)?,
                        (true, None) => return Err(KeyError::NeedKek),
                        (false, _) => row.private_key.clone(),
                    };
                    Arc::new(
                        SigningKey::from_pkcs8(alg, row.kid.clone(), &der)
                            .map_err(|e| KeyError::Jws(row.kid.clone(), e))?,
                    )
                }
            };
            next.insert(
                row.kid.clone(),
                Entry {
                    key,
                    created_at: row.created_at,
                    retired_at: row.retired_at,
                },
            );
        }
        let mut loaded = self.loaded.write().unwrap_or_else(|p| p.into_inner());
        *loaded = Loaded {
            keys: next,
            at: self.clock.instant(),
            jwks: RwLock::new(None),
        };
        Ok(())
    }

    async fn refresh_if_stale(&self) -> Result<(), KeyError> {
        let now = self.clock.instant();
        let stale = now.saturating_duration_since(self.read().at) >= self.refresh;
        if stale {
            self.reload().await?;
        }
        Ok(())
    }

    /// The key to sign with for `alg`.
    pub async fn current(&self, alg: Alg) -> Result<Arc<SigningKey>, KeyError> {
        self.refresh_if_stale().await?;
        self.active(alg).ok_or(KeyError::NoKey(alg.as_str()))
    }

    /// A usable key (active or within its grace period) by id.
    pub async fn by_kid(&self, kid: &str) -> Result<Option<Arc<SigningKey>>, KeyError> {
        self.refresh_if_stale().await?;
        if let Some(e) = self.read().keys.get(kid) {
            return Ok(Some(e.key.clone()));
        }
        // Perhaps rotated elsewhere a moment ago; but a forged kid must not
        // make every request read the key table.
        let due = {
            let mut last = self.forced.lock().unwrap_or_else(|p| p.into_inner());
            let now = self.clock.instant();
            let due = last.is_none_or(|t| now.saturating_duration_since(t) >= FORCED_RELOAD_EVERY);
            if due {
                *last = Some(now);
            }
            due
        };
        if due {
            self.reload().await?;
        }
        Ok(self.read().keys.get(kid).map(|e| e.key.clone()))
    }

    /// The public JWK set (RFC 7517): current and recently retired keys.
    pub async fn jwks(&self) -> Result<Value, KeyError> {
        self.refresh_if_stale().await?;
        let loaded = self.read();
        let mut entries: Vec<&Entry> = loaded.keys.values().collect();
        let now = self.clock.now();
        entries.sort_by_key(|e| std::cmp::Reverse((e.signs(now), e.created_at)));
        let keys: Vec<Value> = entries.iter().map(|e| e.key.public_jwk().clone()).collect();
        Ok(json!({ "keys": keys }))
    }

    /// [`KeyRing::jwks`] serialized, as `/jwks` serves it: made once per
    /// reload (and again when a key's retirement reorders the set), not
    /// per request.
    pub async fn jwks_body(&self) -> Result<axum::body::Bytes, KeyError> {
        self.refresh_if_stale().await?;
        let now = self.clock.now();
        {
            let loaded = self.read();
            let cached = loaded.jwks.read().unwrap_or_else(|p| p.into_inner());
            if let Some(c) = cached.as_ref()
                && c.until.is_none_or(|t| now < t)
            {
                return Ok(c.body.clone());
            }
        }
        let set = self.jwks().await?;
        let body = axum::body::Bytes::from(set.to_string());
        let loaded = self.read();
        let until = loaded
            .keys
            .values()
            .filter_map(|e| e.retired_at)
            .filter(|t| *t > now)
            .min();
        *loaded.jwks.write().unwrap_or_else(|p| p.into_inner()) = Some(JwksBody {
            body: body.clone(),
            until,
        });
        Ok(body)
    }

    /// Creates a new current key for each given algorithm; the old ones are
    /// retired but stay published for the grace period.
    pub async fn rotate(&self, algs: &[Alg]) -> Result<Vec<String>, KeyError> {
        let mut kids = Vec::new();
        for alg in algs {
            kids.push(self.create(*alg, true).await?);
        }
        Ok(kids)
    }

    pub async fn list(&self) -> Result<Vec<KeyInfo>, KeyError> {
        let now = self.clock.now();
        let since = now - self.grace;
        let rows = self.store.all_keys().await?;
        // A key is "next" while an older key of its algorithm is still
        // retiring (it is published but does not sign yet).
        let retiring: Vec<String> = rows
            .iter()
            .filter(|r| r.retired_at.is_some_and(|t| t > now))
            .map(|r| r.alg.clone())
            .collect();
        Ok(rows
            .into_iter()
            .map(|r| KeyInfo {
                status: match r.retired_at {
                    None if retiring.contains(&r.alg) => "next",
                    None => "current",
                    Some(t) if t > now => "retiring",
                    Some(t) if t > since => "retired (published)",
                    Some(_) => "expired",
                },
                kid: r.kid,
                alg: r.alg,
                encrypted: r.encrypted,
                created_at: r.created_at,
                retired_at: r.retired_at,
            })
            .collect())
    }
}
