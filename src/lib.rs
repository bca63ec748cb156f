//! Tongxing (通行): an OpenID Connect identity provider for an
//! institution's unified account.
//!
//! [`App::build`] turns a [`Config`] into a bound, ready server; `main` and
//! the integration tests both start it this way.

pub mod account;
pub mod admin;
pub mod assets;
pub mod cli;
pub mod config;
pub mod cookies;
pub mod crypto;
pub mod domain;
pub mod ephemeral;
pub mod error;
pub mod extract;
pub mod frame;
pub mod i18n;
pub mod input;
pub mod ldap;
pub mod metrics;
pub mod oidc;
pub mod ops;
pub mod outage;
pub mod pages;
pub mod ports;
pub mod router;
pub mod routes;
pub mod serde_text;
pub mod service;
pub mod session;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod urls;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;

pub use config::Config;
pub use state::AppState;
use store::sessions::SessionBackend;

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("{0}")]
    Init(#[from] state::InitError),
    #[error("sessions: {0}")]
    Sessions(#[from] store::StoreError),
    #[error("first-start admin account: {0}")]
    Bootstrap(#[from] service::accounts::AccountError),
    #[error("{0}")]
    Ldap(#[from] ldap::LdapError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

pub struct App {
    state: AppState,
    router: Router,
    listener: TcpListener,
    /// The LDAP interface, bound (when `ldap.enabled`), served by `run`.
    ldap: Option<ldap::Listeners>,
    /// The separate `/metrics` listener, when `metrics.listen` is set.
    metrics_listener: Option<TcpListener>,
    /// The password of the `admin` account created on this start, if one
    /// was: shown once on the console, never logged.
    pub bootstrap_password: Option<String>,
}

impl App {
    /// Connects to the database (and Redis), migrates, creates the first
    /// admin on a fresh installation, and binds the listener.
    pub async fn build(config: Config) -> Result<App, BuildError> {
        Self::build_with(config, ports::clock::SystemClock::shared()).await
    }

    /// [`App::build`] with the given clock (tests pass a
    /// [`ports::clock::ManualClock`] and advance it).
    pub async fn build_with(
        mut config: Config,
        clock: ports::clock::SharedClock,
    ) -> Result<App, BuildError> {
        let listen = config.listen;
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|source| BuildError::Bind {
                addr: listen,
                source,
            })?;
        if config.issuer.is_none() {
            // Without a configured issuer the server is its own issuer, at
            // the address it actually got (port 0 picks a free one).
            if let Ok(addr) = listener.local_addr() {
                config.issuer = Some(format!("http://{addr}"));
            }
        }
        // Bound before anything is written, so a taken port or a bad
        // certificate stops the start cleanly.
        let ldap = ldap::Listeners::bind(&config.ldap).await?;
        let mut state = AppState::init(config, true, clock).await?;
        // A serving node queues the hot paths' audit entries and writes
        // them in batches; `run_until` writes what is left at shutdown.
        let audit = &state.config.audit;
        state.audit = service::audit_writer::AuditWriter::spawn(
            state.store.clone(),
            audit.queue,
            audit.batch,
            Duration::from_millis(audit.interval_ms),
        );
        let bootstrap_password = if state.config.bootstrap_admin {
            service::accounts::bootstrap_admin(&state).await?
        } else {
            None
        };
        let sessions = SessionBackend::new(&state.store, state.ephemeral.redis_pool()).await?;
        // Registry rows of sign-ins that ended by time, and spent markers
        // whose time is over, go now and then (each node; deleting twice is
        // harmless).
        let sweeper = state.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(600));
            loop {
                tick.tick().await;
                if let Err(e) = service::sessions::sweep(&sweeper).await {
                    tracing::warn!(error = %e, "forgetting ended sign-ins failed");
                }
                // Spent facts (revoked tokens, redeemed codes …) whose time
                // is over: purged here rather than on the token endpoint.
                if let Err(e) = sweeper.store.purge_spent().await {
                    tracing::warn!(error = %e, "purging expired spent markers failed");
                }
            }
        });
        // Review cases move on by time (cooling-off over, rebinding not done
        // in time) and their documents are purged after the retention
        // period. Safe on several nodes: each change is version-checked and
        // each purge claims its case first.
        let reviews = state.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(300));
            loop {
                tick.tick().await;
                if let Err(e) = service::review::sweep(&reviews).await {
                    tracing::warn!(error = %e, "the review-case sweep failed");
                }
                // Retrievals: codes after the cooling-off, expiry of cases
                // left waiting, unconfirmed organization registrations.
                if let Err(e) = service::retrieval::sweep(&reviews).await {
                    tracing::warn!(error = %e, "the retrieval sweep failed");
                }
            }
        });
        let router = router::build(state.clone(), sessions);
        let metrics_listener = metrics::bind(&state).await?;
        ops::watch(state.clone());
        Ok(App {
            state,
            router,
            listener,
            ldap,
            metrics_listener,
            bootstrap_password,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or(self.state.config.listen)
    }

    pub fn port(&self) -> u16 {
        self.local_addr().port()
    }

    /// The LDAP interface's plain (StartTLS) and LDAPS addresses, when on.
    pub fn ldap_addrs(&self) -> (Option<SocketAddr>, Option<SocketAddr>) {
        self.ldap
            .as_ref()
            .map(ldap::Listeners::addrs)
            .unwrap_or((None, None))
    }

    /// Where the separate metrics listener listens, if there is one.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        metrics::local_addr(&self.metrics_listener)
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until SIGTERM or Ctrl-C, then finishes in-flight requests.
    pub async fn run(self) -> std::io::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    pub async fn run_until(
        self,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let App {
            state,
            router,
            listener,
            ldap,
            metrics_listener,
            ..
        } = self;
        let ldap_tasks = ldap.map(|l| l.spawn(state.clone())).unwrap_or_default();
        // The metrics listener lives as long as the server; it has nothing
        // in flight worth waiting for at shutdown.
        let metrics_task = metrics_listener.map(|l| {
            let app = metrics::router(state.clone());
            tokio::spawn(async move {
                if let Err(e) = axum::serve(l, app).await {
                    tracing::warn!(error = %e, "the metrics listener stopped");
                }
            })
        });
        let served = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(signal)
        .await;
        // LDAP connections end with the HTTP server (binds are short).
        for task in ldap_tasks {
            task.abort();
        }
        if let Some(task) = metrics_task {
            task.abort();
        }
        // In-flight requests are done: what they queued for the audit log
        // is written before the pool closes (also when serving failed).
        state.audit.close().await;
        served?;
        state.store.close().await;
        Ok(())
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
    // Give in-flight requests a bounded time; axum waits for them.
    tokio::spawn(async {
        tokio::time::sleep(Duration::from_secs(30)).await;
        tracing::warn!("graceful shutdown took longer than 30 s; exiting");
        std::process::exit(1);
    });
}
