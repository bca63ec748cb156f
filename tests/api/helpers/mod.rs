//! Test harness: `TestApp` (a running server with its own database) and
//! its parts, one file each: `browser` (a cookie jar that submits the
//! hosted forms), `rp` (registered relying parties), `cli` (the binary
//! against the test's database), `messages` (the SMS and mail outboxes and
//! the flows that read them).

mod browser;
mod cli;
mod messages;
mod rp;

pub use browser::*;
pub use cli::CliOutput;
pub use messages::*;
pub use rp::*;

use std::path::PathBuf;
use std::sync::Arc;

use sqlx::Connection;
use tongxing::ports::clock::ManualClock;
use tongxing::service::accounts::{self, NewAccount};
use tongxing::service::organizations::{self, OrgInput};
use tongxing::service::{Actor, Origin};
use tongxing::store::audit::{AuditFilter, AuditRow};
use tongxing::store::organizations::Organization;
use tongxing::store::users::User;
use tongxing::{App, AppState, Config};

pub const PASSWORD: &str = "Correct-Horse-9";

/// A PostgreSQL database made for one test and dropped after it.
struct PgDatabase {
    admin_url: String,
    name: String,
}

impl PgDatabase {
    async fn create(admin_url: &str) -> (Self, String) {
        let name = format!("tongxing_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = sqlx::PgConnection::connect(admin_url)
            .await
            .expect("connect to TONGXING_TEST_DATABASE_URL");
        sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.ok();
        let mut url = url::Url::parse(admin_url).unwrap();
        url.set_path(&format!("/{name}"));
        (
            Self {
                admin_url: admin_url.to_string(),
                name,
            },
            url.to_string(),
        )
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop runs inside the test's runtime; use a thread with its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&admin_url).await {
                    let _ =
                        sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                            .execute(&mut conn)
                            .await;
                }
            });
        })
        .join();
    }
}

/// Storage shared by the nodes of one test (one "deployment"), and its
/// time: every node reads the same manual clock.
struct Shared {
    _data_dir: tempfile::TempDir,
    _pg: Option<PgDatabase>,
    clock: Arc<ManualClock>,
    /// The audit writer of every node started: a test reads the log after
    /// each has written what it queued (a node flushes only its own).
    audit_writers: std::sync::Mutex<Vec<tongxing::service::audit_writer::AuditWriter>>,
}

pub struct TestApp {
    pub base: String,
    pub state: AppState,
    pub config: Config,
    /// Password of the `admin` account created at first start.
    pub admin_password: String,
    /// The LDAP interface's plain (StartTLS) and LDAPS addresses, when on.
    pub ldap: Option<std::net::SocketAddr>,
    pub ldaps: Option<std::net::SocketAddr>,
    /// `http://<addr>` of the separate metrics listener, when configured.
    pub metrics_base: Option<String>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    /// The server task (`run_until`), awaited by [`TestApp::stop`].
    served: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    shared: Arc<Shared>,
}

/// Settings every test starts from: cheap hashing, fast enough to log in
/// dozens of times per test, everything else as shipped.
fn base_config(data_dir: PathBuf) -> Config {
    let mut config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir,
        ..Config::default()
    };
    config.password_hash.memory_kib = 1024;
    config.password_hash.iterations = 1;
    // Most tests sign in from fresh browsers as accounts without phones;
    // the step-up tests switch the risk rules on themselves.
    config.step_up.enabled = false;
    // Likewise they are not led to bind a phone; the phone tests ask for it.
    config.phone.binding = tongxing::config::BindingPolicy::Off;
    config
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(customize: impl FnOnce(&mut Config)) -> TestApp {
        let (config, shared) = Self::deployment(customize).await;
        Self::start(config, shared).await
    }

    /// Like [`TestApp::spawn`], after `prepare` has run on the (empty)
    /// database the server is to use, given its URL: to plant what an
    /// earlier release left before the server migrates it.
    pub async fn spawn_prepared<F, Fut>(prepare: F) -> TestApp
    where
        F: FnOnce(String) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        let (config, shared) = Self::deployment(|_| {}).await;
        prepare(config.database_url()).await;
        Self::start(config, shared).await
    }

    async fn deployment(customize: impl FnOnce(&mut Config)) -> (Config, Arc<Shared>) {
        let data_dir = tempfile::tempdir().unwrap();
        let mut config = base_config(data_dir.path().to_path_buf());
        let pg = match std::env::var("TONGXING_TEST_DATABASE_URL") {
            Ok(admin) if !admin.is_empty() => {
                let (db, url) = PgDatabase::create(&admin).await;
                config.database_url = Some(url);
                Some(db)
            }
            _ => None,
        };
        if let Ok(redis) = std::env::var("TONGXING_TEST_REDIS_URL")
            && !redis.is_empty()
        {
            config.redis_url = Some(redis);
            config.redis_prefix = format!("tongxing-test:{}:", uuid::Uuid::new_v4().simple());
        }
        customize(&mut config);
        let shared = Arc::new(Shared {
            _data_dir: data_dir,
            _pg: pg,
            clock: Arc::new(ManualClock::new()),
            audit_writers: Default::default(),
        });
        (config, shared)
    }

    /// For a test of what only Redis provides (state shared between the
    /// nodes of a deployment). Such a test is marked
    /// `#[ignore = "needs Redis: TONGXING_TEST_REDIS_URL"]`, so a bare
    /// `cargo test` lists it as ignored instead of passing it unchecked; the
    /// Redis run includes it (`cargo test -- --include-ignored`), and there
    /// it fails loudly when the variable is missing.
    pub async fn spawn_with_redis() -> TestApp {
        Self::spawn_with_redis_and(|_| {}).await
    }

    /// [`TestApp::spawn_with_redis`] with the settings adjusted.
    pub async fn spawn_with_redis_and(customize: impl FnOnce(&mut Config)) -> TestApp {
        if std::env::var("TONGXING_TEST_REDIS_URL").is_ok_and(|v| !v.is_empty()) {
            return Self::spawn_with(customize).await;
        }
        panic!(
            "this test needs Redis: set TONGXING_TEST_REDIS_URL \
             (e.g. redis://127.0.0.1:6379) and run `cargo test -- --include-ignored`"
        );
    }

    /// Another node of the same deployment: same database, same Redis.
    pub async fn spawn_node(&self) -> TestApp {
        Self::start(self.config.clone(), self.shared.clone()).await
    }

    async fn start(config: Config, shared: Arc<Shared>) -> TestApp {
        let app = App::build_with(config.clone(), shared.clock.clone())
            .await
            .expect("server starts");
        let addr = app.local_addr();
        let (ldap, ldaps) = app.ldap_addrs();
        let metrics_base = app.metrics_addr().map(|a| format!("http://{a}"));
        let state = app.state().clone();
        let config = (*state.config).clone();
        let admin_password = app.bootstrap_password.clone().unwrap_or_default();
        shared
            .audit_writers
            .lock()
            .unwrap()
            .push(state.audit.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let served = tokio::spawn(app.run_until(async {
            let _ = rx.await;
        }));
        TestApp {
            base: format!("http://{addr}"),
            state,
            config,
            admin_password,
            ldap,
            ldaps,
            metrics_base,
            shutdown: Some(tx),
            served: Some(served),
            shared,
        }
    }

    /// Shuts the node down as SIGTERM does and waits until it has ended
    /// (its queued audit entries written). The deployment's storage stays
    /// while another node or `self.state` holds it.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(served) = self.served.take() {
            served.await.unwrap().unwrap();
        }
    }

    /// Every node of the deployment writes what its audit writer queued.
    pub async fn flush_audit(&self) {
        let writers = self.shared.audit_writers.lock().unwrap().clone();
        for writer in writers {
            writer.flush().await.unwrap();
        }
    }

    /// The whole audit log (1000 entries at most), newest first, after
    /// every node has written what it queued.
    pub async fn audit_log(&self) -> Vec<AuditRow> {
        self.flush_audit().await;
        let filter = AuditFilter {
            limit: 1000,
            ..AuditFilter::default()
        };
        self.state.store.list_audit(&filter).await.unwrap()
    }

    /// Another node of the deployment after the ephemeral store lost all
    /// its data (a Redis flush, a restart without persistence): the same
    /// database, nothing of what was ephemeral. With Redis the test's keys
    /// are deleted; in memory the new node has a fresh store of its own,
    /// which is what a flush looks like to a server. Browser sessions go
    /// with it (with Redis they live there).
    pub async fn spawn_node_after_ephemeral_loss(&self) -> TestApp {
        if let Some(pool) = self.state.ephemeral.redis_pool() {
            use fred::prelude::LuaInterface;
            const FLUSH_PREFIX: &str = "local n = 0 \
                for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k) n = n + 1 end \
                return n";
            let pattern = format!("{}*", self.config.redis_prefix);
            let _deleted: i64 = pool
                .eval(FLUSH_PREFIX, Vec::<String>::new(), vec![pattern])
                .await
                .expect("delete the test's Redis keys");
        }
        Self::start(self.config.clone(), self.shared.clone()).await
    }

    /// Moves the deployment's clock forward: what expires after `by`
    /// has expired, on every node and either backend (instead of sleeping).
    /// The clock otherwise runs with the real time (see [`ManualClock`]).
    pub fn advance(&self, by: std::time::Duration) {
        self.shared.clock.advance(by);
    }

    /// Waits for the background work this node started so far (SMS and
    /// mail deliveries, their audit entries): afterwards a message that
    /// was not sent will not be sent.
    pub async fn settle(&self) {
        self.state
            .background
            .drain(std::time::Duration::from_secs(30))
            .await;
    }

    pub fn browser(&self) -> Browser {
        Browser::new(&self.base)
    }

    /// An ordinary account with [`PASSWORD`].
    pub async fn user(&self, username: &str) -> User {
        self.user_with(NewAccount {
            username: username.into(),
            ..NewAccount::default()
        })
        .await
    }

    pub async fn user_with(&self, mut input: NewAccount) -> User {
        // Accounts name a registered organization: register the one named.
        if let Some(name) = input.organization.as_deref() {
            self.org(name).await;
        }
        if input.password.is_none() {
            input.password = Some(tongxing::domain::SecretPassword::new(PASSWORD));
        }
        accounts::create(&self.state, input, &Actor::System, &Origin::default())
            .await
            .unwrap()
            .0
    }

    /// The registered organization with this name, registered (active,
    /// by the system) if no organization has it yet.
    pub async fn org(&self, name: &str) -> Organization {
        if let Some(org) = organizations::resolve(&self.state, name).await.unwrap() {
            return org;
        }
        self.org_with(OrgInput {
            full_name: name.into(),
            ..OrgInput::default()
        })
        .await
    }

    /// Registers an organization as given.
    pub async fn org_with(&self, input: OrgInput) -> Organization {
        organizations::create(&self.state, &input, &Actor::System, &Origin::default())
            .await
            .unwrap()
    }

    pub async fn audit(&self, event: &str) -> Vec<AuditRow> {
        let filter = AuditFilter {
            event: Some(event.into()),
            limit: 1000,
            ..AuditFilter::default()
        };
        self.flush_audit().await;
        self.state.store.list_audit(&filter).await.unwrap()
    }

    /// Runs `sql` on the test's database, under the store's API (to plant
    /// what an earlier release or an import may have left).
    pub async fn sql(&self, sql: &str) {
        match self.state.store.db() {
            tongxing::store::Db::Sqlite(p) => sqlx::query(sql).execute(p).await.map(|_| ()),
            tongxing::store::Db::Postgres(p) => sqlx::query(sql).execute(p).await.map(|_| ()),
        }
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// The account as stored now.
    pub async fn stored(&self, username: &str) -> User {
        self.state
            .store
            .user_by_username(username)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no account {username}"))
    }

    /// The database URL the server uses (for the CLI).
    pub fn database_url(&self) -> String {
        self.config.database_url()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
