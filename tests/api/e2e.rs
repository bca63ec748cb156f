//! End-to-end tests in a real browser: Debian's headless Chromium driven
//! through chromedriver (WebDriver) with fantoccini. Each test starts its
//! own chromedriver on a free port with its own profile directory, so the
//! tests run in parallel without meeting. `TONGXING_TEST_BROWSER=1` (set by
//! `.ci/run`) runs them; without it they say they skipped. axe-core is
//! found at `TONGXING_TEST_AXE`, else under `<target>/axe/`. A failing test
//! leaves a screenshot and the page's HTML in `<target>/browser-failures/`.
//! `TONGXING_TEST_SCREENSHOTS=<dir>` keeps the README's screenshots there
//! (see [`screenshots_of_the_main_pages`]).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use tongxing::config::Config;
use tongxing::service::accounts::NewAccount;

use crate::helpers::{PASSWORD, TestApp};

mod flows;

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

/// How many SMS the test's outbox file holds.
fn sms_sent(outbox: &std::path::Path) -> usize {
    std::fs::read_to_string(outbox)
        .map(|text| text.lines().filter(|l| !l.trim().is_empty()).count())
        .unwrap_or(0)
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
        // The top bar is a closed menu here: its items are drawn once 菜单
        // opens it, not before.
        c.goto(&format!("{base}/account")).await.unwrap();
        at(&c, "/account").await;
        let drawn = async || {
            script(
                &c,
                "return document.getElementById('nav-home').checkVisibility()",
            )
            .await
                == true
        };
        assert!(!drawn().await, "the menu's items hidden while it is closed");
        c.find(Locator::Css(".nav-menu > summary"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        until("the menu's items drawn once it is open", || async {
            drawn().await.then_some(())
        })
        .await;
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

/// Replaces the text of the field at `css` as a person does: select all,
/// delete, type. Every key is an input event for the page's scripts (a
/// WebDriver "clear" is not).
async fn retype(c: &Client, css: &str, value: &str) {
    let el = c.find(Locator::Css(css)).await.unwrap();
    let erase: String = [
        Key::Control.into(),
        'a',
        Key::Null.into(),
        Key::Backspace.into(),
    ]
    .into_iter()
    .collect();
    el.send_keys(&erase).await.unwrap();
    if !value.is_empty() {
        el.send_keys(value).await.unwrap();
    }
}

/// What the new-password form shows: the meter's level (`""`, `weak`,
/// `medium`, `strong`), whether it calls the password acceptable, the
/// level's words, each rule's tick (`"true"`, `"false"`, or `""` for no
/// verdict) and the mismatch notice.
#[derive(Debug, Clone, PartialEq)]
struct MeterShows {
    shown: bool,
    level: String,
    acceptable: bool,
    words: String,
    rules: std::collections::BTreeMap<String, String>,
    mismatch: String,
}

async fn meter_shows(c: &Client) -> MeterShows {
    let v = script(
        c,
        "const m = document.getElementById('strength-meter');
         const rules = {};
         document.querySelectorAll('#password-rules li[data-rule]')
           .forEach(li => { rules[li.getAttribute('data-rule')] = li.getAttribute('data-ok'); });
         return { shown: !m.hidden, level: m.getAttribute('data-level'),
                  acceptable: m.getAttribute('data-acceptable') === 'true',
                  words: document.getElementById('strength-level').textContent,
                  rules: rules,
                  mismatch: document.getElementById('mismatch').textContent };",
    )
    .await;
    let text = |k: &str| v[k].as_str().unwrap_or_default().to_string();
    MeterShows {
        shown: v["shown"] == true,
        level: text("level"),
        acceptable: v["acceptable"] == true,
        words: text("words"),
        rules: v["rules"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, ok)| (k.clone(), ok.as_str().unwrap_or_default().to_string()))
            .collect(),
        mismatch: text("mismatch"),
    }
}

/// Types `password` into the new-password field and waits for the meter's
/// answer about it (for an empty field: none, at once).
async fn meter_verdict(c: &Client, password: &str) -> MeterShows {
    retype(c, "#new", password).await;
    if password.is_empty() {
        return until("the meter without a level", || async {
            let shows = meter_shows(c).await;
            shows.level.is_empty().then_some(shows)
        })
        .await;
    }
    until(&format!("the meter's verdict on {password:?}"), || async {
        let shows = meter_shows(c).await;
        (!shows.level.is_empty()).then_some(shows)
    })
    .await
}

/// The words of the zh-CN meter for a level.
fn level_words(level: &str) -> &'static str {
    let t = &tongxing::i18n::ZH_CN;
    match level {
        "weak" => t.strength_weak,
        "medium" => t.strength_medium,
        "strong" => t.strength_strong,
        _ => "",
    }
}

/// Submits the password-change form as it stands (the browser's own
/// checks of required and minimum length switched off, so the server
/// judges every candidate) and gives the server's answer: `Ok` when the
/// password was changed, else its error messages.
async fn submit_password_change(c: &Client) -> Result<(), String> {
    script(
        c,
        "document.querySelector('form[action=\"/account/password\"]').noValidate = true",
    )
    .await;
    c.find(Locator::Css(
        "form[action='/account/password'] button[type=submit]",
    ))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    until("the server's answer to the password change", || async {
        if c.find(Locator::Css("#changed")).await.is_ok() {
            return Some(Ok(()));
        }
        let errors = c.find(Locator::Css("#password-errors")).await.ok()?;
        Some(Err(errors.text().await.ok()?))
    })
    .await
}

/// The password-change page with the meter in a real browser: for each
/// candidate the meter's verdict (level, words, rule ticks) and the live
/// mismatch notice are read from the page, and the same candidate is then
/// submitted, so the server judges it. The meter never calls acceptable
/// what the server refuses; the last candidate changes the password, and
/// only the new one signs in afterwards.
#[tokio::test]
async fn the_password_meter_agrees_with_the_server_in_the_browser() {
    if !wanted("the_password_meter_agrees_with_the_server_in_the_browser") {
        return;
    }
    let app = TestApp::spawn().await;
    app.user("lihua").await;
    let s = Session::start(1280).await;
    let base = app.base.clone();
    // Long, random, every kind of character: acceptable to any policy.
    let strong = format!("Tx-{}-7!", uuid::Uuid::new_v4().simple());
    s.run("password_meter", move |c| async move {
        sign_in(&c, &base, "lihua", PASSWORD).await;
        at(&c, "/account").await;
        let t = &tongxing::i18n::ZH_CN;
        let rule_codes = [
            "length",
            "upper",
            "lower",
            "digit",
            "special",
            "personal",
            "guessable",
        ];
        // (candidate, what is typed into the repeat field)
        let candidates: Vec<(String, String)> = vec![
            (String::new(), String::new()),
            ("abc".into(), "abc".into()),
            ("Password123!".into(), "Password123!".into()),
            ("Lihua-Harbour-73!".into(), "Lihua-Harbour-73!".into()),
            (strong.clone(), format!("{strong}x")),
        ];
        let mut said_yes = 0;
        for (password, repeat) in &candidates {
            c.goto(&format!("{base}/account/password")).await.unwrap();
            at(&c, "/account/password").await;
            // The script is running (the meter is drawn) and says nothing yet.
            let fresh = meter_shows(&c).await;
            assert!(fresh.shown, "the meter is drawn: {fresh:?}");
            assert!(
                fresh.level.is_empty() && fresh.words.is_empty(),
                "{fresh:?}"
            );
            if password.is_empty() {
                // Control: a level shows for some text; emptied, it goes.
                let some = meter_verdict(&c, "abc").await;
                assert_eq!(some.level, "weak", "{some:?}");
            }
            let shows = meter_verdict(&c, password).await;
            assert_eq!(shows.words, level_words(&shows.level), "{shows:?}");
            if password.is_empty() {
                assert!(
                    shows.level.is_empty()
                        && shows.words.is_empty()
                        && !shows.acceptable
                        && shows.rules.values().all(String::is_empty),
                    "an empty field shows no level and no ticks: {shows:?}"
                );
            } else {
                assert!(
                    rule_codes.iter().all(|r| shows
                        .rules
                        .get(*r)
                        .is_some_and(|ok| ok == "true" || ok == "false")),
                    "every rule ticked or not: {shows:?}"
                );
                // An acceptable password meets every rule, and is never 弱.
                assert_eq!(
                    shows.acceptable,
                    shows.rules.values().all(|ok| ok == "true"),
                    "{password}: {shows:?}"
                );
                assert_eq!(shows.acceptable, shows.level != "weak", "{shows:?}");
            }
            match password.as_str() {
                "abc" => assert_eq!(shows.rules["length"], "false", "{shows:?}"),
                "Password123!" => {
                    // Every kind of character, long enough: what a naive
                    // meter calls 强. The server finds it too guessable.
                    for r in ["length", "upper", "lower", "digit", "special", "personal"] {
                        assert_eq!(shows.rules[r], "true", "{r}: {shows:?}");
                    }
                    assert_eq!(shows.rules["guessable"], "false", "{shows:?}");
                    assert_eq!(shows.level, "weak");
                    assert_eq!(shows.words, t.strength_weak);
                }
                "Lihua-Harbour-73!" => {
                    assert_eq!(shows.rules["personal"], "false", "{shows:?}")
                }
                _ => {}
            }
            // The repeat: the notice comes while typing, no submit needed.
            retype(&c, "#repeat", repeat).await;
            let differ = !repeat.is_empty() && repeat != password;
            let notice = until("the mismatch notice", || async {
                let shows = meter_shows(&c).await;
                (shows.mismatch.is_empty() != differ).then_some(shows.mismatch)
            })
            .await;
            if differ {
                assert_eq!(notice, t.password_mismatch);
            }
            // The server's verdict on the same form.
            fill(&c, "#current", PASSWORD).await;
            let answer = submit_password_change(&c).await;
            let page_says_yes = shows.acceptable && !differ;
            assert!(
                !(page_says_yes && answer.is_err()),
                "the page called {password:?} acceptable, the server refused it: {answer:?}"
            );
            assert!(answer.is_err(), "{password:?} is refused: {shows:?}");
            if differ {
                assert!(
                    answer
                        .as_ref()
                        .unwrap_err()
                        .contains(t.password_mismatch.trim_end_matches('。')),
                    "{answer:?}"
                );
            }
            if shows.acceptable {
                said_yes += 1;
            }
        }
        assert_eq!(said_yes, 1, "the meter accepted the strong password");

        // Positive control: the strong password with its repeat typed
        // wrong, then corrected (the notice goes), changes the password.
        c.goto(&format!("{base}/account/password")).await.unwrap();
        at(&c, "/account/password").await;
        let shows = meter_verdict(&c, &strong).await;
        assert!(shows.acceptable, "{shows:?}");
        assert!(
            shows.level == "medium" || shows.level == "strong",
            "{shows:?}"
        );
        retype(&c, "#repeat", &format!("{strong}x")).await;
        until("the mismatch notice", || async {
            (meter_shows(&c).await.mismatch == t.password_mismatch).then_some(())
        })
        .await;
        c.find(Locator::Css("#repeat"))
            .await
            .unwrap()
            .send_keys(&char::from(Key::Backspace).to_string())
            .await
            .unwrap();
        until("the mismatch notice gone", || async {
            meter_shows(&c).await.mismatch.is_empty().then_some(())
        })
        .await;
        fill(&c, "#current", PASSWORD).await;
        let answer = submit_password_change(&c).await;
        assert_eq!(answer, Ok(()), "the strong password is taken");
        c.delete_all_cookies().await.unwrap();
        sign_in(&c, &base, "lihua", PASSWORD).await;
        until("the old password refused", || async {
            c.find(Locator::Css("#login-error")).await.ok()
        })
        .await;
        sign_in(&c, &base, "lihua", &strong).await;
        at(&c, "/account").await;
    })
    .await;
}

/// Clicks the element at `css` (a link or a button).
async fn click(c: &Client, css: &str) {
    until(&format!("element {css}"), || async {
        c.find(Locator::Css(css)).await.ok()
    })
    .await
    .click()
    .await
    .unwrap();
}

/// Fills the recovery's first step: the identifier and the captcha's
/// answer (peeked from the server, as a person reads the picture).
async fn start_recovery(c: &Client, state: &tongxing::AppState, identifier: &str) {
    at(c, "/recover").await;
    let id = script(
        c,
        "return document.querySelector('input[name=captcha_id]').value",
    )
    .await;
    let answer = state
        .captcha
        .peek_answer(id.as_str().unwrap())
        .await
        .unwrap()
        .expect("a live captcha");
    fill(c, "#identifier", identifier).await;
    fill(c, "#captcha", &answer).await;
    click(c, "#start button[type=submit]").await;
    at(c, "/recover/method").await;
}

/// A forgotten password, recovered by SMS in the browser: the login page's
/// link, the recovery's first step, the method page, the code from the
/// SMS, the new password; then the new password signs in and the old one
/// (which signed in before) no longer does.
#[tokio::test]
async fn recovery_by_sms_in_the_browser() {
    if !wanted("recovery_by_sms_in_the_browser") {
        return;
    }
    let app = TestApp::spawn().await;
    app.user_with(NewAccount {
        username: "zhaoliu".into(),
        login_phone: Some("13800138000".into()),
        ..NewAccount::default()
    })
    .await;
    let s = Session::start(1280).await;
    let base = app.base.clone();
    let state = app.state.clone();
    let outbox = app.config.data_dir.join("outbox").join("sms.jsonl");
    let new_password = format!("Rx-{}-4?", uuid::Uuid::new_v4().simple());
    s.run("recovery_sms", move |c| async move {
        // Control: the old password signs in before the recovery.
        sign_in(&c, &base, "zhaoliu", PASSWORD).await;
        at(&c, "/account").await;
        c.delete_all_cookies().await.unwrap();

        c.goto(&format!("{base}/login")).await.unwrap();
        click(&c, "#recover-link").await;
        start_recovery(&c, &state, "zhaoliu").await;
        assert_eq!(sms_sent(&outbox), 0, "no SMS before it is asked for");
        click(&c, "#by-sms button[type=submit]").await;
        at(&c, "/recover/sms").await;
        let code = until("the recovery SMS in the outbox", || async {
            sms_code(&outbox)
        })
        .await;
        fill(&c, "#code", &code).await;
        click(&c, "#code-form button[type=submit]").await;
        at(&c, "/recover/password").await;
        // The meter works here too (the proved recovery is the account).
        let shows = meter_verdict(&c, &new_password).await;
        assert!(shows.acceptable, "{shows:?}");
        retype(&c, "#repeat", &new_password).await;
        click(&c, "#password-form button[type=submit]").await;
        at(&c, "/recover/done").await;
        click(&c, "#to-login").await;
        at(&c, "/login").await;

        sign_in(&c, &base, "zhaoliu", PASSWORD).await;
        let refused = text_of(&c, "#login-error").await;
        assert!(!refused.is_empty());
        assert_eq!(
            c.current_url().await.unwrap().path(),
            "/login",
            "the old password no longer signs in"
        );
        // The new password signs in; after a recovery the phone is
        // proved once more (by design: the password was set without it).
        sign_in(&c, &base, "zhaoliu", &new_password).await;
        at(&c, "/login/sms").await;
        let sent = sms_sent(&outbox);
        click(&c, "#send").await;
        let code = until("the sign-in's SMS in the outbox", || async {
            (sms_sent(&outbox) > sent)
                .then(|| sms_code(&outbox))
                .flatten()
        })
        .await;
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

/// The single sign-on between the two demo applications, and the single
/// logout, in the browser: signed in at mail (the passport asks for the
/// password), ARP signs in without a form; signing out at mail signs ARP
/// out by back-channel logout, and the passport asks for the password
/// again.
#[tokio::test]
async fn single_sign_on_and_single_logout_between_the_demo_apps_in_the_browser() {
    if !wanted("single_sign_on_and_single_logout_between_the_demo_apps_in_the_browser") {
        return;
    }
    let app = TestApp::spawn().await;
    app.user("sunqi").await;
    let (mail, arp) = crate::demo_apps::mail_and_arp(&app).await;
    let s = Session::start(1280).await;
    let base = app.base.clone();
    s.run("sso", move |c| async move {
        let passport = url::Url::parse(&base).unwrap();
        let on_passport = async |path: &str| {
            until(&format!("the passport's {path}"), || async {
                let url = c.current_url().await.ok()?;
                (url.port() == passport.port() && url.path() == path).then_some(())
            })
            .await
        };
        let demo_shows = async |demo: &str, id: &str| {
            until(&format!("{demo} showing #{id}"), || async {
                let url = c.current_url().await.ok()?;
                if !url.as_str().starts_with(demo) {
                    return None;
                }
                c.find(Locator::Css(&format!("#{id}")))
                    .await
                    .ok()?
                    .text()
                    .await
                    .ok()
            })
            .await
        };
        // Mail: not signed in; its sign-in leads to the passport's form.
        c.goto(&format!("{mail}/")).await.unwrap();
        demo_shows(&mail, "signed-out").await;
        click(&c, "#sign-in").await;
        on_passport("/login").await;
        assert!(
            text_of(&c, "#client-context").await.contains("邮件"),
            "the login page names the application"
        );
        fill(&c, "#identifier", "sunqi").await;
        fill(&c, "#password", PASSWORD).await;
        click(&c, "form[action='/login'] button[type=submit]").await;
        let who = demo_shows(&mail, "signed-in").await;
        assert!(who.contains("sunqi"), "{who}");

        // ARP: not signed in yet; its sign-in needs no form this time
        // (nothing is typed: arriving signed in is the proof).
        c.goto(&format!("{arp}/")).await.unwrap();
        demo_shows(&arp, "signed-out").await;
        click(&c, "#sign-in").await;
        let who = demo_shows(&arp, "signed-in").await;
        assert!(who.contains("sunqi"), "{who}");

        // Signed out at mail: mail, ARP (after reloading) and the passport
        // are all signed out.
        c.goto(&format!("{mail}/")).await.unwrap();
        demo_shows(&mail, "signed-in").await;
        click(&c, "form[action='/logout'] button[type=submit]").await;
        demo_shows(&mail, "signed-out").await;
        c.goto(&format!("{arp}/")).await.unwrap();
        until("ARP signed out by back-channel logout", || async {
            c.refresh().await.ok()?;
            let url = c.current_url().await.ok()?;
            (url.as_str().starts_with(&arp) && c.find(Locator::Css("#signed-out")).await.is_ok())
                .then_some(())
        })
        .await;
        click(&c, "#sign-in").await;
        on_passport("/login").await;
        c.find(Locator::Css("#identifier")).await.unwrap();
    })
    .await;
}

/// A screenshot of the whole current page (the window made as tall as the
/// page, 400 to 2000 px) at `width`: checked to be a PNG of that width,
/// and kept as `<dir>/<name>.png` when a directory is given.
async fn screenshot(c: &Client, dir: Option<&std::path::Path>, name: &str, width: u32) {
    // The page's fonts (Chinese ones included) are drawn before the picture.
    c.execute_async(
        "const done = arguments[arguments.length - 1]; document.fonts.ready.then(() => done(true));",
        vec![],
    )
    .await
    .unwrap();
    // Measured in a short window, so the height is the page's own.
    c.set_window_size(width, 600).await.unwrap();
    until(&format!("{name}: the window at {width} px"), || async {
        let inner = script(c, "return window.innerWidth").await;
        (inner.as_u64() == Some(u64::from(width))).then_some(())
    })
    .await;
    let sizes = script(
        c,
        "return [document.documentElement.scrollHeight, window.outerHeight - window.innerHeight]",
    )
    .await;
    let number = |v: &Value| u32::try_from(v.as_u64().unwrap()).unwrap();
    let (page, frame) = (number(&sizes[0]).clamp(400, 2000), number(&sizes[1]));
    c.set_window_size(width, page + frame).await.unwrap();
    until(&format!("{name}: the whole page in the window"), || async {
        let inner = script(c, "return window.innerHeight").await;
        (inner.as_u64() == Some(u64::from(page))).then_some(())
    })
    .await;
    let png = c.screenshot().await.unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{name}: a PNG");
    let drawn = u32::from_be_bytes(png[16..20].try_into().unwrap());
    assert_eq!(drawn, width, "{name}: the picture's width");
    if let Some(dir) = dir {
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }
}

/// The main pages in zh-CN, as the README shows them. With
/// `TONGXING_TEST_SCREENSHOTS=<dir>` the pictures are written there:
///
/// ```sh
/// TONGXING_TEST_BROWSER=1 TONGXING_TEST_SCREENSHOTS=docs/screenshots \
///     cargo test --test api -- e2e::screenshots_of_the_main_pages
/// ```
///
/// Without it the same pages are opened and photographed, and only the
/// pictures' form is checked.
#[tokio::test]
async fn screenshots_of_the_main_pages() {
    if !wanted("screenshots_of_the_main_pages") {
        return;
    }
    let dir = std::env::var_os("TONGXING_TEST_SCREENSHOTS").map(PathBuf::from);
    if let Some(dir) = &dir {
        std::fs::create_dir_all(dir).unwrap();
    }
    // The step-up page, from a passport that asks for it.
    let guarded = TestApp::spawn_with(step_up(60)).await;
    guarded
        .user_with(NewAccount {
            username: "zhangsan".into(),
            security_phone: Some("13312348347".into()),
            ..NewAccount::default()
        })
        .await;
    // Everything else: a passport with the demo applications, a person
    // with phones and a security e-mail, a few more accounts, and an
    // application that asks for consent.
    let app = TestApp::spawn().await;
    let person = app
        .user_with(NewAccount {
            username: "zhangsan".into(),
            display_name: Some("张三".into()),
            login_phone: Some("13800138000".into()),
            security_phone: Some("13312348347".into()),
            organization: Some("计算机网络信息中心".into()),
            ..NewAccount::default()
        })
        .await;
    app.verified_email(&person, "zhangsan@example.org").await;
    for (name, display) in [("lisi", "李四"), ("wangwu", "王五"), ("zhaoliu", "赵六")] {
        app.user_with(NewAccount {
            username: name.into(),
            display_name: Some(display.into()),
            ..NewAccount::default()
        })
        .await;
    }
    let out = app
        .cli(
            &[
                "client",
                "add-demo",
                "--mail-url",
                "https://mail.example.org",
                "--arp-url",
                "https://arp.example.org",
                "--wiki-url",
                "https://wiki.example.org",
            ],
            None,
        )
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    let library = app
        .rp_with("library", |c| {
            c.name = "图书馆".into();
            c.first_party = false;
        })
        .await;
    let rooms = app
        .rp_with("rooms", |c| {
            c.name = "会议室预订".into();
            c.first_party = false;
        })
        .await;
    let consent_url = crate::oidc_rules::authorize_url(&app, &library, "");
    let consented_url = crate::oidc_rules::authorize_url(&app, &rooms, "");
    let s = Session::start(1280).await;
    let (base, guarded_base) = (app.base.clone(), guarded.base.clone());
    let state = app.state.clone();
    let admin = app.admin_password.clone();
    s.run("screenshots", move |c| async move {
        let dir = dir.as_deref();
        c.goto(&format!("{base}/login")).await.unwrap();
        at(&c, "/login").await;
        screenshot(&c, dir, "login", 1280).await;

        c.goto(&format!("{base}/recover")).await.unwrap();
        start_recovery(&c, &state, "zhangsan").await;
        screenshot(&c, dir, "recover-method", 1280).await;
        c.delete_all_cookies().await.unwrap();

        sign_in(&c, &guarded_base, "zhangsan", PASSWORD).await;
        at(&c, "/login/sms").await;
        click(&c, "#send").await;
        until("the code sent", || async {
            let send = c.find(Locator::Css("#send")).await.ok()?;
            (send.prop("disabled").await.ok()?.as_deref() == Some("true")).then_some(())
        })
        .await;
        screenshot(&c, dir, "step-up", 1280).await;
        c.delete_all_cookies().await.unwrap();

        sign_in(&c, &base, "zhangsan", PASSWORD).await;
        at(&c, "/account").await;
        screenshot(&c, dir, "account", 1280).await;
        screenshot(&c, dir, "account-390", 390).await;
        // One third-party application consented to, for the list.
        c.goto(&consented_url).await.unwrap();
        click(&c, "button[name=decision][value=allow]").await;
        until("the consent given", || async {
            let url = c.current_url().await.ok()?;
            (url.host_str() == Some("rp.example.org")).then_some(())
        })
        .await;
        c.goto(&format!("{base}/account/apps")).await.unwrap();
        at(&c, "/account/apps").await;
        screenshot(&c, dir, "apps", 1280).await;
        c.goto(&format!("{base}/account/password")).await.unwrap();
        at(&c, "/account/password").await;
        // The meter on the password a naive meter calls strong.
        let shows = meter_verdict(&c, "Password123!").await;
        assert_eq!(shows.level, "weak", "{shows:?}");
        retype(&c, "#repeat", "Password123").await;
        until("the mismatch notice", || async {
            (!meter_shows(&c).await.mismatch.is_empty()).then_some(())
        })
        .await;
        screenshot(&c, dir, "password", 1280).await;
        c.goto(&consent_url).await.unwrap();
        text_of(&c, "#client-name").await;
        screenshot(&c, dir, "consent", 1280).await;
        c.delete_all_cookies().await.unwrap();

        sign_in(&c, &base, "admin", &admin).await;
        at(&c, "/account").await;
        c.goto(&format!("{base}/admin")).await.unwrap();
        at(&c, "/admin").await;
        screenshot(&c, dir, "admin", 1280).await;
        c.goto(&format!("{base}/admin/users")).await.unwrap();
        at(&c, "/admin/users").await;
        screenshot(&c, dir, "admin-users", 1280).await;
    })
    .await;
}

/// GET routes the browser tests do not open as a page, each with the
/// reason: none of them answers with a page a person reads and switches.
/// Every page (first steps in the lists above, the steps of the flows and
/// the console's pages of one record in [`flows`]) is opened, checked by
/// axe-core and switched between the languages. A new GET route must be
/// added to a list or here.
const NOT_OPENED: &[(&str, &str)] = &[
    ("HOME", "a redirect to the account"),
    (
        "DEVICE_CALLBACK",
        "a redirect: it settles the device's request and leads to /device?done=…, which is checked",
    ),
    ("COUNTDOWN_JS", "a script"),
    ("STRENGTH_JS", "a script"),
    ("STYLESHEET", "the stylesheet"),
    (
        "ACCOUNT_PHONE_OLD_SEND",
        "POST-only: a GET redirects to the phone page",
    ),
    (
        "ACCOUNT_PHONE_OLD",
        "POST-only: a GET redirects to the phone page",
    ),
    (
        "ACCOUNT_PHONE_NEW_SEND",
        "POST-only: a GET redirects to the phone page",
    ),
    (
        "ACCOUNT_PHONE_NEW",
        "POST-only: a GET redirects to the phone page",
    ),
    ("ACCOUNT_PHONE_UNBIND_DOCUMENT", "an uploaded image"),
    ("RETRIEVE_PDF", "a PDF download"),
    ("RETRIEVE_UPLOAD_IMAGE", "an uploaded image"),
    ("RETRIEVE_SAMPLE", "an image"),
    ("ADMIN_BLOCKS_CSV", "a CSV download"),
    ("ADMIN_REVIEW_DOCUMENT", "an uploaded image"),
    ("DISCOVERY", "JSON"),
    ("JWKS", "JSON"),
    ("USERINFO", "JSON"),
    (
        "REGISTER_CLIENT",
        "JSON (RFC 7592 client configuration, read with a registration access token)",
    ),
    ("HEALTHZ", "a probe"),
    ("READYZ", "a probe"),
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
        .chain(flows::SIGN_IN_STEPS)
        .chain(flows::CASE_STEPS)
        .chain(flows::DEVICE_STEPS)
        .chain(flows::RECORD_PAGES)
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
