//! The shared state every handler, service and CLI command works with.

use std::sync::Arc;

use crate::config::Config;
use crate::crypto::PasswordHasher;
use crate::domain::PasswordPolicy;
use crate::ephemeral::Ephemeral;
use crate::ports::clock::SharedClock;
use crate::service::keys::KeyRing;
use crate::store::Store;

/// Work that outlives the request that started it (back-channel logout
/// deliveries). Tracked so a CLI command or a shutting-down server can
/// wait for it instead of dropping it.
#[derive(Clone, Default)]
pub struct Background {
    tasks: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Background {
    pub fn spawn(&self, work: impl std::future::Future<Output = ()> + Send + 'static) {
        let mut tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        tasks.retain(|t| !t.is_finished());
        tasks.push(tokio::spawn(work));
    }

    /// Waits (at most `limit`) for the running tasks.
    pub async fn drain(&self, limit: std::time::Duration) {
        let tasks: Vec<_> =
            std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|p| p.into_inner()));
        let _ = tokio::time::timeout(limit, async {
            for t in tasks {
                let _ = t.await;
            }
        })
        .await;
    }
}

/// Cheap to clone: every part is reference-counted inside.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    pub ephemeral: Ephemeral,
    pub hasher: PasswordHasher,
    pub policy: Arc<PasswordPolicy>,
    pub keys: KeyRing,
    /// Recently read clients and their fetched key sets (see
    /// [`crate::service::clients::cache`]).
    pub clients: crate::service::clients::cache::ClientCache,
    pub background: Background,
    /// The audit log: writes (queued on a serving node) and reads.
    pub audit: crate::service::audit_writer::AuditWriter,
    /// The time: every service reads it here (tests advance it).
    pub clock: SharedClock,
    /// The attributes of every cookie set (`Secure` behind https).
    pub cookies: crate::cookies::CookiePolicy,
    /// The configured SMS sender.
    pub sms: Arc<dyn crate::ports::sms::SmsSender>,
    /// The configured mail sender.
    pub mail: Arc<dyn crate::ports::mail::MailSender>,
    pub captcha: crate::ports::captcha::Captcha,
    /// The device-cookie key, read from the database on first use.
    pub device_key: Arc<tokio::sync::OnceCell<Vec<u8>>>,
    /// This node's current DPoP nonce (see [`crate::service::dpop`]).
    pub dpop_nonces: Arc<crate::service::dpop::nonces::Nonces>,
    /// Outbound HTTP (back-channel logout, client JWK sets).
    pub http: reqwest::Client,
    /// Whether PostgreSQL and Redis answer, as this node last saw it.
    pub health: crate::outage::Health,
    /// The retrieval form's CJK font (checked at start, read on first use).
    pub form_fonts: Arc<crate::service::retrieval_form::FormFonts>,
    /// `display.time_zone`, parsed once: every time shown is in it.
    pub time_zone: jiff::tz::TimeZone,
}

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("database: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("redis: {0}")]
    Redis(#[from] crate::ephemeral::EphemeralError),
    #[error("password hashing: {0}")]
    Hash(#[from] crate::crypto::HashError),
    #[error("signing keys: {0}")]
    Keys(#[from] crate::service::keys::KeyError),
    #[error("mail: {0}")]
    Mail(#[from] crate::ports::mail::MailError),
    #[error("http client: {0}")]
    Http(#[from] reqwest::Error),
    #[error("retrieval.form_font: {0}")]
    FormFont(#[from] crate::service::retrieval_form::FontError),
    #[error("data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
}

impl AppState {
    /// Connects to the database (creating the data directory for SQLite),
    /// applies migrations and, with `with_redis`, connects to Redis. Every
    /// part that reads the time reads `clock`.
    pub async fn init(
        config: Config,
        with_redis: bool,
        clock: SharedClock,
    ) -> Result<Self, InitError> {
        if config.database_kind() == "sqlite" {
            std::fs::create_dir_all(&config.data_dir).map_err(|source| InitError::DataDir {
                path: config.data_dir.display().to_string(),
                source,
            })?;
        }
        let store = Store::connect(&config.database_url(), clock.clone(), &config.timeouts).await?;
        store.migrate().await?;
        // The numbering data loads on first use (about 0.4 s): pay it now,
        // off the async threads, rather than in someone's first request.
        if let Err(e) = tokio::task::spawn_blocking(crate::domain::PhoneNumber::warm).await {
            tracing::warn!(error = %e, "the phone numbering data did not load at start");
        }
        canonicalize_phones(&store).await?;
        complete_organization_keys(&store).await?;
        let ephemeral = match (&config.redis_url, with_redis) {
            (Some(url), true) => {
                Ephemeral::redis(url, &config.redis_prefix, clock.clone(), &config.timeouts).await?
            }
            _ => Ephemeral::memory(clock.clone()),
        };
        let hasher = PasswordHasher::new(&config.password_hash)?;
        let policy = Arc::new(PasswordPolicy::new(config.password_policy.clone()));
        let keys = KeyRing::init(store.clone(), &config, clock.clone()).await?;
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("tongxing/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let sms = crate::ports::sms::from_config(&config, http.clone(), clock.clone());
        let mail = crate::ports::mail::from_config(&config, clock.clone())?;
        let captcha = crate::ports::captcha::Captcha::new(
            config.captcha.provider,
            ephemeral.clone(),
            std::time::Duration::from_secs(config.captcha.ttl_secs),
            config.captcha.address_hourly_limit,
        );
        let cookies = crate::cookies::CookiePolicy::new(&config);
        let form_fonts = Arc::new(check_form_font(config.retrieval.form_font.clone()).await?);
        // Checked by `Config::validate`; UTC only for a config that skipped it.
        let time_zone = jiff::tz::TimeZone::get(&config.display.time_zone).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "display.time_zone: stating times in UTC");
            jiff::tz::TimeZone::UTC
        });
        Ok(Self {
            form_fonts,
            time_zone,
            config: Arc::new(config),
            cookies,
            ephemeral,
            hasher,
            policy,
            keys,
            http,
            clients: Default::default(),
            background: Background::default(),
            audit: crate::service::audit_writer::AuditWriter::direct(store.clone()),
            store,
            clock,
            sms,
            mail,
            captcha,
            device_key: Arc::default(),
            dpop_nonces: Arc::default(),
            health: crate::outage::Health::default(),
        })
    }
}

/// Checks the retrieval form's font off the async threads (`serve` says
/// when there is none: the rest of the passport works, forms cannot be
/// printed).
async fn check_form_font(
    configured: Option<std::path::PathBuf>,
) -> Result<crate::service::retrieval_form::FormFonts, InitError> {
    use crate::service::retrieval_form::FormFonts;
    let fonts = tokio::task::spawn_blocking(move || FormFonts::check(configured.as_deref()))
        .await
        .unwrap_or_else(|_| Ok(FormFonts::default()))?;
    if let Some(path) = fonts.path() {
        tracing::debug!(font = %path.display(), "retrieval form font");
    }
    Ok(fonts)
}

/// Rewrites the phones stored before numbers were validated against the
/// numbering plan into canonical E.164, once per database (see
/// [`Store::canonicalize_phones`]); what it could not read is logged.
async fn canonicalize_phones(store: &Store) -> Result<(), crate::store::StoreError> {
    use crate::domain::PhoneNumber;
    let report = store
        .canonicalize_phones(|p| PhoneNumber::parse(p).ok().map(|n| n.as_str().to_string()))
        .await?;
    if let Some(r) = report {
        tracing::info!(
            rewritten = r.rewritten,
            "stored phone numbers are canonical E.164 now"
        );
        if r.unreadable > 0 || r.clashes > 0 {
            tracing::warn!(
                unreadable = r.unreadable,
                clashes = r.clashes,
                "some stored phone numbers are not valid mobile numbers, or clash once canonical; they were left as they were"
            );
        }
    }
    Ok(())
}

/// Gives the organizations migration 0012 made from the accounts' free
/// text their name keys, once per database (see
/// [`Store::complete_organization_keys`]). Two nodes starting at once may
/// both try: the one that loses the race finds the work done on a retry.
async fn complete_organization_keys(store: &Store) -> Result<(), crate::store::StoreError> {
    let report = match store
        .complete_organization_keys(crate::domain::name_key)
        .await
    {
        Ok(r) => r,
        Err(e) if !e.is_unavailable() => {
            tracing::debug!(error = %e, "organization keys: retrying after a concurrent start");
            store
                .complete_organization_keys(crate::domain::name_key)
                .await?
        }
        Err(e) => return Err(e),
    };
    if let Some(r) = report {
        tracing::info!(
            keyed = r.keyed,
            merged = r.merged,
            "the organizations made from the accounts' free text are in the registry"
        );
    }
    Ok(())
}
