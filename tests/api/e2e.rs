//! End-to-end tests in a real browser: Debian's headless Chromium driven
//! through chromedriver (WebDriver) with fantoccini. Each test starts its
//! own chromedriver on a free port with its own profile directory, so the
//! tests run in parallel without meeting. `TONGXING_TEST_BROWSER=1` (set by
//! `.ci/run`) runs them; without it they say they skipped. axe-core is
//! found at `TONGXING_TEST_AXE`, else under `<target>/axe/`. A failing test
//! leaves a screenshot and the page's HTML in `<target>/browser-failures/`.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use tongxing::config::Config;
use tongxing::service::accounts::NewAccount;

use crate::helpers::{PASSWORD, TestApp};

/// Longest wait for anything the page is to show (generous: a slow,
/// shared machine must not fail a test).
const PATIENCE: Duration = Duration::from_secs(30);

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"))
}

/// Whether the browser tests are to run; says so when they skip.
fn wanted(test: &str) -> bool {
    if std::env::var("TONGXING_TEST_BROWSER").as_deref() == Ok("1") {
        return true;
    }
    let _ = writeln!(
        std::io::stderr(),
        "skipped: {test} (browser test; set TONGXING_TEST_BROWSER=1 with chromium and chromium-driver installed)"
    );
    false
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A chromedriver of one test and the browser session on it; the driver
/// (and with it the browser) ends when this is dropped.
struct Session {
    client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Session {
    async fn start(width: u32) -> Session {
        let chromedriver =
            std::env::var("TONGXING_TEST_CHROMEDRIVER").unwrap_or("/usr/bin/chromedriver".into());
        let chromium =
            std::env::var("TONGXING_TEST_CHROMIUM").unwrap_or("/usr/bin/chromium".into());
        let port = free_port();
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("TONGXING_TEST_BROWSER=1 but {chromedriver}: {e}"));
        let profile = tempfile::tempdir().unwrap();
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--no-first-run",
                    "--lang=zh-CN",
                    format!("--user-data-dir={}", profile.path().display()),
                    format!("--window-size={width},900"),
                ],
                "prefs": {"intl.accept_languages": "zh-CN,zh"},
            }),
        );
        let url = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        let client = loop {
            let mut builder =
                ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new());
            match builder.capabilities(caps.clone()).connect(&url).await {
                Ok(client) => break client,
                Err(e) if started.elapsed() > PATIENCE => {
                    panic!("no WebDriver session from {chromedriver}: {e}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        };
        Session {
            client,
            driver,
            _profile: profile,
        }
    }

    /// Runs `test` on this session; when it fails, keeps a screenshot and
    /// the page's HTML under `<target>/browser-failures/<name>.*`.
    async fn run<F, Fut>(self, name: &str, test: F)
    where
        F: FnOnce(Client) -> Fut,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let outcome = tokio::spawn(test(self.client.clone())).await;
        if let Err(failure) = outcome {
            let dir = target_dir().join("browser-failures");
            let _ = std::fs::create_dir_all(&dir);
            if let Ok(png) = self.client.screenshot().await {
                let _ = std::fs::write(dir.join(format!("{name}.png")), png);
            }
            if let Ok(html) = self.client.source().await {
                let _ = std::fs::write(dir.join(format!("{name}.html")), html);
            }
            let _ = writeln!(
                std::io::stderr(),
                "{name}: screenshot and HTML in {}",
                dir.display()
            );
            let _ = self.client.clone().close().await;
            std::panic::resume_unwind(failure.into_panic());
        }
        let _ = self.client.clone().close().await;
    }
}

/// Polls `check` until it gives `Some`, failing after [`PATIENCE`].
async fn until<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "waited {PATIENCE:?} for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn script(c: &Client, js: &str) -> Value {
    c.execute(js, vec![]).await.unwrap()
}

/// The current path once it is `path` (after a form's navigation).
async fn at(c: &Client, path: &str) {
    until(&format!("the page {path}"), || async {
        let url = c.current_url().await.ok()?;
        (url.path() == path).then_some(())
    })
    .await;
}

async fn text_of(c: &Client, css: &str) -> String {
    let el = until(&format!("element {css}"), || async {
        c.find(Locator::Css(css)).await.ok()
    })
    .await;
    el.text().await.unwrap()
}

async fn fill(c: &Client, css: &str, value: &str) {
    let el = c.find(Locator::Css(css)).await.unwrap();
    el.clear().await.unwrap();
    el.send_keys(value).await.unwrap();
}

async fn html_lang(c: &Client) -> String {
    script(c, "return document.documentElement.lang")
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
}

async fn sign_in(c: &Client, base: &str, user: &str, password: &str) {
    c.goto(&format!("{base}/login")).await.unwrap();
    fill(c, "#identifier", user).await;
    fill(c, "#password", password).await;
    c.find(Locator::Css("form[action='/login'] button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// The code in the last SMS of the test's outbox file, if any.
fn sms_code(outbox: &std::path::Path) -> Option<String> {
    let text = std::fs::read_to_string(outbox).ok()?;
    let last: Value = serde_json::from_str(text.lines().rfind(|l| !l.trim().is_empty())?).ok()?;
    Some(
        last["text"]
            .as_str()?
            .chars()
            .filter(|c| c.is_ascii_digit())
            .take(6)
            .collect(),
    )
}

fn step_up(resend_secs: u64) -> impl FnOnce(&mut Config) {
    move |c: &mut Config| {
        c.step_up.enabled = true;
        c.step_up.unknown_device = true;
        c.sms.resend_secs = resend_secs;
    }
}

#[tokio::test]
async fn login_with_sms_step_up_and_the_resend_countdown() {
    if !wanted("login_with_sms_step_up_and_the_resend_countdown") {
        return;
    }
    let app = TestApp::spawn_with(step_up(3)).await;
    app.user_with(NewAccount {
        username: "e2e@cnic.cn".into(),
        security_phone: Some("13312348347".into()),
        ..NewAccount::default()
    })
    .await;
    let s = Session::start(1280).await;
    let base = app.base.clone();
    let outbox = app.config.data_dir.join("outbox").join("sms.jsonl");
    s.run("step_up", move |c| async move {
        sign_in(&c, &base, "e2e@cnic.cn", PASSWORD).await;
        at(&c, "/login/sms").await;
        assert!(text_of(&c, "#phone").await.contains("133****8347"));
        c.find(Locator::Css("#send"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let code = until("the SMS in the outbox", || async { sms_code(&outbox) }).await;
        // A wrong code: the page comes back with the resend button counting
        // down (disabled, seconds shown), then enabled with its label alone.
        let wrong = if code == "000000" { "111111" } else { "000000" };
        fill(&c, "#code", wrong).await;
        c.find(Locator::Css("#code"))
            .await
            .unwrap()
            .send_keys("\n")
            .await
            .unwrap();
        until("the wrong code's error", || async {
            c.find(Locator::Css("#error")).await.ok()
        })
        .await;
        let label = until("the countdown on the send button", || async {
            let send = c.find(Locator::Css("#send")).await.ok()?;
            let text = send.text().await.ok()?;
            let disabled = send.prop("disabled").await.ok()?;
            (disabled.as_deref() == Some("true") && text.contains('(')).then_some(text)
        })
        .await;
        let plain = label.split(" (").next().unwrap().to_string();
        until("the send button enabled again", || async {
            let send = c.find(Locator::Css("#send")).await.ok()?;
            let disabled = send.prop("disabled").await.ok()?;
            let text = send.text().await.ok()?;
            (disabled.as_deref() != Some("true") && text == plain).then_some(())
        })
        .await;
        // The right code signs in.
        fill(&c, "#code", &code).await;
        c.find(Locator::Css("#code"))
            .await
            .unwrap()
            .send_keys("\n")
            .await
            .unwrap();
        at(&c, "/account").await;
    })
    .await;
}

/// zh-CN first; the switch gives English (text and `<html lang>` change),
/// and switching back gives zh-CN again.
/// Follows the page's language link. Clicked from script: on signed-in
/// pages the link sits in the top bar's <details> menu, which wide screens
/// show open through CSS, and chromedriver refuses a native click inside
/// a closed <details> even where the link is drawn.
async fn click_language_switch(c: &Client) {
    c.execute("document.getElementById('lang-switch').click()", vec![])
        .await
        .unwrap();
}

async fn switch_language(c: &Client, path: &str) {
    at(c, path).await;
    let lang_zh = html_lang(c).await;
    assert_eq!(lang_zh, "zh-CN", "{path}: Chinese by default");
    let heading = text_of(c, "h1").await;
    click_language_switch(c).await;
    until(&format!("{path} in English"), || async {
        (html_lang(c).await == "en").then_some(())
    })
    .await;
    at(c, path).await;
    let english = text_of(c, "h1").await;
    assert_ne!(english, heading, "{path}: the heading is translated");
    assert!(
        !english
            .chars()
            .any(|ch| ('\u{4e00}'..='\u{9fff}').contains(&ch)),
        "{path}: {english}"
    );
    click_language_switch(c).await;
    until(&format!("{path} in Chinese again"), || async {
        (html_lang(c).await == "zh-CN").then_some(())
    })
    .await;
    assert_eq!(text_of(c, "h1").await, heading, "{path}: back in Chinese");
}

#[tokio::test]
async fn the_language_switch_on_every_page() {
    if !wanted("the_language_switch_on_every_page") {
        return;
    }
    let app = TestApp::spawn().await;
    app.user("lang@cnic.cn").await;
    let s = Session::start(1280).await;
    let base = app.base.clone();
    let admin = app.admin_password.clone();
    s.run("language", move |c| async move {
        for path in ANONYMOUS {
            c.goto(&format!("{base}{path}")).await.unwrap();
            switch_language(&c, path).await;
        }
        sign_in(&c, &base, "lang@cnic.cn", PASSWORD).await;
        at(&c, "/account").await;
        for path in ACCOUNT {
            c.goto(&format!("{base}{path}")).await.unwrap();
            switch_language(&c, path).await;
        }
        c.delete_all_cookies().await.unwrap();
        sign_in(&c, &base, "admin", &admin).await;
        at(&c, "/account").await;
        for path in CONSOLE {
            c.goto(&format!("{base}{path}")).await.unwrap();
            switch_language(&c, path).await;
        }
    })
    .await;
}

/// The pages anyone sees (the first step of each flow).
const ANONYMOUS: &[&str] = &[
    "/login",
    "/recover",
    "/retrieve",
    "/login/sms/help",
    "/device",
    "/help",
];
/// The signed-in account's pages.
const ACCOUNT: &[&str] = &[
    "/account",
    "/account/apps",
    "/account/password",
    "/account/app-passwords",
    "/account/sessions",
    "/account/email",
    "/account/profile",
];
/// The console's pages (as the first administrator).
const CONSOLE: &[&str] = &[
    "/admin",
    "/admin/users",
    "/admin/clients",
    "/admin/organizations",
    "/admin/blocks",
    "/admin/audit",
    "/admin/calendar",
    "/admin/review",
];

#[tokio::test]
async fn the_account_pages_fit_a_phone() {
    if !wanted("the_account_pages_fit_a_phone") {
        return;
    }
    let app = TestApp::spawn().await;
    app.user("narrow@cnic.cn").await;
    let s = Session::start(390).await;
    let base = app.base.clone();
    s.run("phone_width", move |c| async move {
        c.set_window_size(390, 844).await.unwrap();
        let inner = script(&c, "return window.innerWidth").await;
        assert!(inner.as_u64().unwrap() <= 400, "a phone's width: {inner}");
        for (i, path) in ANONYMOUS.iter().chain(ACCOUNT).enumerate() {
            if i == ANONYMOUS.len() {
                sign_in(&c, &base, "narrow@cnic.cn", PASSWORD).await;
                at(&c, "/account").await;
            }
            c.goto(&format!("{base}{path}")).await.unwrap();
            at(&c, path).await;
            let widths = script(
                &c,
                "return [document.documentElement.scrollWidth, window.innerWidth]",
            )
            .await;
            let (scroll, inner) = (widths[0].as_u64().unwrap(), widths[1].as_u64().unwrap());
            assert!(
                scroll <= inner,
                "{path} scrolls sideways at 390 px: {scroll} > {inner}"
            );
        }
    })
    .await;
}

fn axe_source() -> String {
    let path = std::env::var_os("TONGXING_TEST_AXE")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("axe/node_modules/axe-core/axe.min.js"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "TONGXING_TEST_BROWSER=1 but no axe-core at {} ({e}); set TONGXING_TEST_AXE",
            path.display()
        )
    })
}

/// axe-core's violations on the current page, readable.
async fn axe_violations(c: &Client, axe: &str) -> Vec<String> {
    script(c, axe).await;
    let found = c
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document).then(r => done(r.violations.map(v =>
               v.id + ' (' + v.impact + '): ' + v.help + '\\n    ' +
               v.nodes.map(n => n.target.join(' ') + ' ' + n.html).join('\\n    '))),
               e => done(['axe failed: ' + e]));",
            vec![],
        )
        .await
        .unwrap();
    found
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn axe_finds_no_violation_on_any_page() {
    if !wanted("axe_finds_no_violation_on_any_page") {
        return;
    }
    let axe = axe_source();
    let app = TestApp::spawn().await;
    app.user("axe@cnic.cn").await;
    let s = Session::start(1280).await;
    let base = app.base.clone();
    let admin = app.admin_password.clone();
    s.run("axe", move |c| async move {
        let mut report = Vec::new();
        let mut checked = 0;
        let check = async |path: &str, report: &mut Vec<String>| {
            c.goto(&format!("{base}{path}")).await.unwrap();
            for v in axe_violations(&c, &axe).await {
                report.push(format!("{path}: {v}"));
            }
        };
        for path in ANONYMOUS.iter().chain(&["/no-such-page"]) {
            check(path, &mut report).await;
            checked += 1;
        }
        sign_in(&c, &base, "axe@cnic.cn", PASSWORD).await;
        at(&c, "/account").await;
        for path in ACCOUNT {
            check(path, &mut report).await;
            checked += 1;
        }
        c.delete_all_cookies().await.unwrap();
        sign_in(&c, &base, "admin", &admin).await;
        at(&c, "/account").await;
        for path in CONSOLE {
            check(path, &mut report).await;
            checked += 1;
        }
        assert!(checked > 15, "the pages were visited");
        assert!(
            report.is_empty(),
            "axe-core found violations:\n{}",
            report.join("\n")
        );
    })
    .await;
}

/// The positive control of the axe check: a page with a known violation
/// (an image without text) is reported.
#[tokio::test]
async fn axe_reports_a_known_violation() {
    if !wanted("axe_reports_a_known_violation") {
        return;
    }
    let axe = axe_source();
    let app = TestApp::spawn().await;
    let s = Session::start(1280).await;
    let base = app.base.clone();
    s.run("axe_control", move |c| async move {
        c.goto(&format!("{base}/login")).await.unwrap();
        script(
            &c,
            "const i = document.createElement('img'); i.src = '/static/tongxing.css'; document.querySelector('main').appendChild(i);",
        )
        .await;
        let found = axe_violations(&c, &axe).await;
        assert!(
            found.iter().any(|v| v.starts_with("image-alt")),
            "{found:?}"
        );
    })
    .await;
}

/// GET routes the browser tests do not open, each with the reason: not a
/// page, a step reached only in the middle of a flow, or a page of one
/// record. A new GET route must be added to a page list above or here.
const NOT_OPENED: &[(&str, &str)] = &[
    ("HOME", "redirects to the account"),
    (
        "DEVICE_CALLBACK",
        "the end of a device's browser flow (the device test opens it)",
    ),
    ("LOGOUT", "the RP-initiated logout endpoint"),
    (
        "STEP_UP",
        "a step of the sign-in (the step-up test opens it)",
    ),
    ("COUNTDOWN_JS", "script"),
    ("STRENGTH_JS", "script"),
    ("STYLESHEET", "stylesheet"),
    ("ACCOUNT_EMAIL_CONFIRM", "reached from a mailed link"),
    ("ACCOUNT_PHONE", "needs a phone kind in the path"),
    ("ACCOUNT_PHONE_OLD_SEND", "redirect to a step"),
    ("ACCOUNT_PHONE_OLD", "redirect to a step"),
    ("ACCOUNT_PHONE_NEW_SEND", "redirect to a step"),
    ("ACCOUNT_PHONE_NEW", "redirect to a step"),
    ("ACCOUNT_PHONE_BIND", "only while binding is asked for"),
    (
        "ACCOUNT_PHONE_UNBIND",
        "the person's applications (needs a phone)",
    ),
    ("ACCOUNT_PHONE_UNBIND_NEW", "needs a step-up in progress"),
    ("ACCOUNT_PHONE_UNBIND_EDIT", "one application"),
    ("ACCOUNT_PHONE_UNBIND_DOCUMENT", "an uploaded image"),
    ("UNBIND_CANCEL", "reached from a mailed link"),
    ("RETRIEVE_FORM", "a step of the retrieval"),
    ("RETRIEVE_CONFIRM", "a step of the retrieval"),
    ("RETRIEVE_CASE", "a step of the retrieval"),
    ("RETRIEVE_PDF", "a PDF"),
    ("RETRIEVE_FILES", "a step of the retrieval"),
    ("RETRIEVE_UPLOAD", "a step of the retrieval"),
    ("RETRIEVE_UPLOAD_IMAGE", "an uploaded image"),
    ("RETRIEVE_SAMPLE", "an image"),
    ("RETRIEVE_COMPLETE", "a step of the retrieval"),
    ("RECOVER_METHOD", "a step of the recovery"),
    ("RECOVER_SMS", "a step of the recovery"),
    ("RECOVER_EMAIL", "a step of the recovery"),
    ("RECOVER_LINK", "reached from a mailed link"),
    ("RECOVER_PASSWORD", "a step of the recovery"),
    ("RECOVER_DONE", "a step of the recovery"),
    ("AUTHORIZE", "the OIDC endpoint (shows the sign-in page)"),
    ("ADMIN_USER", "one account"),
    ("ADMIN_ORGANIZATION", "one organization"),
    ("ADMIN_BLOCKS_CSV", "a CSV file"),
    ("ADMIN_REVIEW_CASE", "one case"),
    ("ADMIN_REVIEW_DOCUMENT", "an uploaded image"),
    ("DISCOVERY", "JSON"),
    ("JWKS", "JSON"),
    ("USERINFO", "JSON"),
    ("HEALTHZ", "probe"),
    ("READYZ", "probe"),
    ("METRICS", "metrics"),
];

/// The route constants of `src/routes.rs` with their paths.
fn route_constants() -> std::collections::HashMap<String, String> {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/routes.rs")).unwrap();
    let mut found = std::collections::HashMap::new();
    for item in text.split("pub const ").skip(1) {
        let Some((name, rest)) = item.split_once(':') else {
            continue;
        };
        if let Some(value) = rest.split('"').nth(1) {
            found.insert(name.trim().to_string(), value.to_string());
        }
    }
    found
}

/// The constants named in `src/router.rs` by a `.route(NAME, get(…))`
/// whose GET is a handler of its own (not a `page_of` redirect).
fn get_routes() -> Vec<String> {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/router.rs")).unwrap();
    let mut names = Vec::new();
    for item in text.split(".route(").skip(1) {
        let Some((name, rest)) = item.split_once(',') else {
            continue;
        };
        let rest = rest.trim_start();
        let name = name.trim();
        if rest.starts_with("get(")
            && !rest.starts_with("get(page_of")
            && name.chars().all(|c| c.is_ascii_uppercase() || c == '_')
        {
            names.push(name.to_string());
        }
    }
    names
}

/// Every GET page of the router is opened by the browser tests or listed
/// in [`NOT_OPENED`] with a reason, so a new page is not forgotten.
#[test]
fn every_page_of_the_router_is_opened_or_excused() {
    let paths = route_constants();
    let routes = get_routes();
    assert!(
        routes.len() > 40 && routes.iter().any(|r| r == "ACCOUNT"),
        "the router's GET routes were read: {routes:?}"
    );
    let opened: Vec<&str> = ANONYMOUS
        .iter()
        .chain(ACCOUNT)
        .chain(CONSOLE)
        .copied()
        .collect();
    let mut forgotten = Vec::new();
    for name in &routes {
        let excused = NOT_OPENED.iter().any(|(n, _)| n == name);
        let path = paths.get(name).map(String::as_str);
        let visited = path.is_some_and(|p| opened.contains(&p));
        if !excused && !visited {
            forgotten.push(format!("{name} ({path:?})"));
        }
    }
    assert!(
        forgotten.is_empty(),
        "GET pages neither opened by tests/api/e2e.rs nor in NOT_OPENED: {forgotten:?}"
    );
    for path in &opened {
        assert!(
            paths.values().any(|p| p == path),
            "{path} is not a route constant"
        );
    }
}
