//! Test harness: `TestApp` (a running server), `Browser` (a cookie jar that
//! submits the hosted forms), the CLI runner and audit-log access.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use sqlx::Connection;
use tokio::io::AsyncWriteExt;
use tongxing::service::accounts::{self, NewAccount};
use tongxing::service::{Actor, Origin};
use tongxing::store::audit::{AuditFilter, AuditRow};
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

/// Storage shared by the nodes of one test (one "deployment").
struct Shared {
    _data_dir: tempfile::TempDir,
    _pg: Option<PgDatabase>,
}

pub struct TestApp {
    pub base: String,
    pub state: AppState,
    pub config: Config,
    /// Password of the `admin` account created at first start.
    pub admin_password: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
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
    config
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(customize: impl FnOnce(&mut Config)) -> TestApp {
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
        });
        Self::start(config, shared).await
    }

    /// Another node of the same deployment: same database, same Redis.
    pub async fn spawn_node(&self) -> TestApp {
        Self::start(self.config.clone(), self.shared.clone()).await
    }

    async fn start(config: Config, shared: Arc<Shared>) -> TestApp {
        let app = App::build(config.clone()).await.expect("server starts");
        let addr = app.local_addr();
        let state = app.state().clone();
        let config = (*state.config).clone();
        let admin_password = app.bootstrap_password.clone().unwrap_or_default();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(app.run_until(async {
            let _ = rx.await;
        }));
        TestApp {
            base: format!("http://{addr}"),
            state,
            config,
            admin_password,
            shutdown: Some(tx),
            shared,
        }
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
        if input.password.is_none() {
            input.password = Some(tongxing::domain::SecretPassword::new(PASSWORD));
        }
        accounts::create(&self.state, input, &Actor::System, &Origin::default())
            .await
            .unwrap()
            .0
    }

    pub async fn audit(&self, event: &str) -> Vec<AuditRow> {
        let filter = AuditFilter {
            event: Some(event.into()),
            limit: 1000,
            ..AuditFilter::default()
        };
        self.state.store.list_audit(&filter).await.unwrap()
    }

    /// The database URL the server uses (for the CLI).
    pub fn database_url(&self) -> String {
        self.config.database_url()
    }

    /// Runs the `tongxing` binary against this deployment's database.
    pub async fn cli(&self, args: &[&str], stdin: Option<&str>) -> CliOutput {
        self.cli_env(args, stdin, &[]).await
    }

    pub async fn cli_env(
        &self,
        args: &[&str],
        stdin: Option<&str>,
        env: &[(&str, &str)],
    ) -> CliOutput {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_tongxing"));
        cmd.args(args)
            .env("TONGXING_DATA_DIR", &self.config.data_dir)
            .env("TONGXING_DATABASE_URL", self.database_url())
            .env(
                "TONGXING_PASSWORD_HASH__MEMORY_KIB",
                self.config.password_hash.memory_kib.to_string(),
            )
            .env(
                "TONGXING_PASSWORD_HASH__ITERATIONS",
                self.config.password_hash.iterations.to_string(),
            )
            .env(
                "TONGXING_STEP_UP__ENABLED",
                self.config.step_up.enabled.to_string(),
            )
            .env("USER", "tester")
            .env_remove("TONGXING_REDIS_URL")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let mut input = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).await.unwrap();
        }
        drop(input);
        let out = child.wait_with_output().await.unwrap();
        CliOutput {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

#[derive(Debug)]
pub struct CliOutput {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl CliOutput {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.stdout))
    }
}

/// A browser: cookie jar on, redirects off (tests follow them explicitly).
pub struct Browser {
    pub client: reqwest::Client,
    pub base: String,
    jar: Arc<reqwest::cookie::Jar>,
}

#[derive(Debug)]
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    async fn from(resp: reqwest::Response) -> Page {
        Page {
            status: resp.status(),
            headers: resp.headers().clone(),
            body: resp.text().await.unwrap(),
        }
    }

    pub fn location(&self) -> Option<&str> {
        self.headers.get("location").and_then(|v| v.to_str().ok())
    }

    /// The CSRF token of the first form on the page.
    pub fn csrf(&self) -> String {
        let marker = "name=\"csrf\" value=\"";
        let start = self
            .body
            .find(marker)
            .unwrap_or_else(|| panic!("no CSRF field in:\n{}", self.body))
            + marker.len();
        let end = self.body[start..].find('"').unwrap();
        self.body[start..start + end].to_string()
    }

    pub fn has(&self, text: &str) -> bool {
        self.body.contains(text)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl Browser {
    pub fn new(base: &str) -> Browser {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let client = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Browser {
            client,
            base: base.to_string(),
            jar,
        }
    }

    /// The same cookie jar pointed at another node.
    pub fn at(&self, base: &str) -> Browser {
        Browser {
            client: self.client.clone(),
            base: base.to_string(),
            jar: self.jar.clone(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> Page {
        Page::from(self.client.get(self.url(path)).send().await.unwrap()).await
    }

    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Page {
        let mut req = self.client.get(self.url(path));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        Page::from(req.send().await.unwrap()).await
    }

    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        Page::from(
            self.client
                .post(self.url(path))
                .form(fields)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// Opens `page`, takes its CSRF token and posts `fields` to `action`.
    pub async fn submit(&self, page: &str, action: &str, fields: &[(&str, &str)]) -> Page {
        let csrf = self.get(page).await.csrf();
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_form(action, &all).await
    }

    pub async fn login(&self, identifier: &str, password: &str) -> Page {
        self.submit(
            "/login",
            "/login",
            &[("identifier", identifier), ("password", password)],
        )
        .await
    }

    /// The value of a cookie the jar would send to this node.
    pub fn cookie(&self, name: &str) -> Option<String> {
        use reqwest::cookie::CookieStore;
        let url = reqwest::Url::parse(&self.base).unwrap();
        let header = self.jar.cookies(&url)?;
        header.to_str().ok()?.split(';').find_map(|c| {
            let (k, v) = c.trim().split_once('=')?;
            (k == name).then(|| v.to_string())
        })
    }
}

/// Undoes askama's HTML escaping of attribute values.
pub fn unescape(s: &str) -> String {
    s.replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&#38;", "&")
        .replace("&amp;", "&")
}

impl Page {
    /// Every `<input type="hidden" name=… value=…>` of the page.
    pub fn hidden_fields(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for chunk in self.body.split("<input type=\"hidden\" name=\"").skip(1) {
            let Some((name, rest)) = chunk.split_once('"') else {
                continue;
            };
            let Some(value) = rest
                .strip_prefix(" value=\"")
                .and_then(|r| r.split_once('"'))
                .map(|(v, _)| v)
            else {
                continue;
            };
            out.push((name.to_string(), unescape(value)));
        }
        out
    }
}

/// A registered relying party, as a test uses it.
#[derive(Clone, Debug)]
pub struct Rp {
    pub id: String,
    pub secret: Option<String>,
    pub redirect_uri: String,
}

pub const REDIRECT: &str = "https://rp.example.org/callback";

impl TestApp {
    /// Registers a client; `customize` adjusts the registration.
    pub async fn rp_with(
        &self,
        id: &str,
        customize: impl FnOnce(&mut tongxing::service::clients::NewClient),
    ) -> Rp {
        let mut input = tongxing::service::clients::NewClient {
            id: id.into(),
            name: format!("App {id}"),
            redirect_uris: vec![REDIRECT.into()],
            post_logout_redirect_uris: vec!["https://rp.example.org/bye".into()],
            ..Default::default()
        };
        customize(&mut input);
        let redirect_uri = input.redirect_uris.first().cloned().unwrap_or_default();
        let (c, secret) = tongxing::service::clients::register(
            &self.state,
            input,
            &Actor::System,
            &Origin::default(),
        )
        .await
        .unwrap();
        Rp {
            id: c.id,
            secret,
            redirect_uri,
        }
    }

    pub async fn rp(&self, id: &str) -> Rp {
        self.rp_with(id, |_| {}).await
    }
}

impl Browser {
    /// Posts a page's form: its hidden fields plus `fields`.
    pub async fn submit_page(&self, page: &Page, action: &str, fields: &[(&str, &str)]) -> Page {
        // The first form's hidden fields (a page may hold several forms).
        let mut all: Vec<(String, String)> = Vec::new();
        for (k, v) in page.hidden_fields() {
            if !all.iter().any(|(seen, _)| *seen == k) {
                all.push((k, v));
            }
        }
        all.retain(|(k, _)| !fields.iter().any(|(f, _)| f == k));
        all.extend(fields.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Page::from(
            self.client
                .post(format!("{}{action}", self.base))
                .form(&all)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// Drives an authorization request through login (when asked) and
    /// consent (when shown, answering `decision`) and returns the final
    /// redirect to the client.
    pub async fn authorize_as(
        &self,
        url: &str,
        user: &str,
        password: &str,
        decision: &str,
    ) -> String {
        let path = url.strip_prefix(&self.base).unwrap_or(url).to_string();
        let mut page = self.get(&path).await;
        for _ in 0..6 {
            if page.status == StatusCode::OK && page.has("action=\"/authorize/consent\"") {
                page = self
                    .submit_page(&page, "/authorize/consent", &[("decision", decision)])
                    .await;
                continue;
            }
            if page.status == StatusCode::OK && page.has("action=\"/login\"") {
                page = self
                    .submit_page(
                        &page,
                        "/login",
                        &[("identifier", user), ("password", password)],
                    )
                    .await;
                continue;
            }
            let Some(location) = page.location().map(str::to_string) else {
                panic!("authorization stopped at {}: {}", page.status, page.body);
            };
            if !location.starts_with('/') {
                return location;
            }
            page = self.get(&location).await;
        }
        panic!("too many steps");
    }
}

/// Query parameters of a URL.
pub fn query(url: &str) -> std::collections::HashMap<String, String> {
    reqwest::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

impl TestApp {
    /// What the development senders wrote to `<data_dir>/outbox/<kind>.jsonl`
    /// (`sms`, `mail`), one JSON object per message, oldest first.
    pub fn outbox(&self, kind: &str) -> Vec<serde_json::Value> {
        let path = self
            .config
            .data_dir
            .join("outbox")
            .join(format!("{kind}.jsonl"));
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

impl TestApp {
    /// Gives `user` a verified security e-mail (as a confirmed link would).
    pub async fn verified_email(&self, user: &User, email: &str) {
        let audit = tongxing::service::audit::Entry::new(
            "security_email.verified",
            tongxing::service::audit::Outcome::Success,
        )
        .subject(user)
        .finish();
        self.state
            .store
            .set_security_email(user.id, Some(&email.to_lowercase()), &audit)
            .await
            .unwrap();
    }

    /// Waits (up to 5 s) until the outbox holds at least `n` messages:
    /// some are delivered in the background.
    pub async fn outbox_wait(&self, kind: &str, n: usize) -> Vec<serde_json::Value> {
        for _ in 0..100 {
            let messages = self.outbox(kind);
            if messages.len() >= n {
                return messages;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!(
            "the {kind} outbox never held {n} messages: {:?}",
            self.outbox(kind)
        );
    }

    /// Opens `/recover` in `b` and answers its captcha for `identifier`.
    pub async fn recover_start(&self, b: &Browser, identifier: &str) -> Page {
        let page = b.get("/recover").await;
        assert_eq!(page.status, StatusCode::OK);
        let id = page
            .hidden_fields()
            .into_iter()
            .find(|(k, _)| k == "captcha_id")
            .map(|(_, v)| v)
            .expect("a captcha on the recovery page");
        let answer = self
            .state
            .captcha
            .peek_answer(&id)
            .await
            .unwrap()
            .expect("a live captcha");
        b.submit_page(
            &page,
            "/recover",
            &[("identifier", identifier), ("captcha", &answer)],
        )
        .await
    }
}

/// The six-digit code in a message text.
pub fn code_in(text: &str) -> String {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .unwrap_or_else(|| panic!("no code in {text}"))
        .to_string()
}

/// The first `http…` link in a message text.
pub fn link_in(text: &str) -> String {
    let start = text
        .find("http")
        .unwrap_or_else(|| panic!("no link in {text}"));
    text[start..].split_whitespace().next().unwrap().to_string()
}

impl TestApp {
    /// Starts a recovery for `identifier` in `b` and picks the way at
    /// `action` (`/recover/sms/send` or `/recover/email`).
    pub async fn recover_by(&self, b: &Browser, identifier: &str, action: &str) -> Page {
        self.recover_start(b, identifier).await;
        b.submit_page(&b.get("/recover/method").await, action, &[])
            .await
    }
}
