//! Risk-based SMS step-up at login, rule by rule.

use reqwest::StatusCode;
use serde_json::Value;
use tongxing::config::Config;
use tongxing::service::accounts::NewAccount;

use crate::helpers::{Browser, PASSWORD, REDIRECT, SIGN_IN_FIRST, TestApp, query};

/// Step-up on, with only the rules a test names.
fn rules(unknown_device: bool, admins: bool, interval_days: u32) -> impl FnOnce(&mut Config) {
    move |c: &mut Config| {
        c.step_up.enabled = true;
        c.step_up.unknown_device = unknown_device;
        c.step_up.admins = admins;
        c.step_up.interval_days = interval_days;
        c.sms.resend_secs = 0;
    }
}

async fn user_with_phone(app: &TestApp, name: &str) {
    app.user_with(NewAccount {
        username: name.into(),
        security_phone: Some("13312348347".into()),
        ..NewAccount::default()
    })
    .await;
}

fn last_code(app: &TestApp) -> String {
    let text = app.outbox("sms").last().unwrap()["text"]
        .as_str()
        .unwrap()
        .to_string();
    text.chars()
        .filter(|c| c.is_ascii_digit())
        .take(6)
        .collect()
}

/// On the step-up page: send a code, read it from the outbox, enter it.
async fn pass(app: &TestApp, b: &Browser) -> crate::helpers::Page {
    let page = b.get("/login/sms").await;
    assert!(
        page.has("133****8347"),
        "the masked phone is shown: {}",
        page.body
    );
    let sent = b
        .redirected(
            b.submit_page(&page, "/login/sms/send", &[]).await,
            "/login/sms",
        )
        .await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.body);
    b.submit_page(&sent, "/login/sms", &[("code", &last_code(app))])
        .await
}

#[tokio::test]
async fn an_unknown_device_needs_sms_once() {
    let app = TestApp::spawn_with(rules(true, false, 0)).await;
    user_with_phone(&app, "dev@cnic.cn").await;
    let b = app.browser();
    let login = b.login("dev@cnic.cn", PASSWORD).await;
    assert_eq!(login.location(), Some("/login/sms"));
    assert_eq!(
        b.get("/account").await.redirect(),
        SIGN_IN_FIRST,
        "not signed in yet"
    );
    let done = pass(&app, &b).await;
    assert_eq!(done.location(), Some("/account"));
    assert!(
        done.header("set-cookie")
            .unwrap_or_default()
            .contains("tongxing_device=")
    );
    assert_eq!(b.get("/account").await.status, StatusCode::OK);
    // The same browser (device cookie) signs in with the password alone.
    b.submit("/logout", "/logout", &[]).await;
    assert_eq!(
        b.login("dev@cnic.cn", PASSWORD).await.location(),
        Some("/account")
    );
    // Another browser is another device.
    assert_eq!(
        app.browser()
            .login("dev@cnic.cn", PASSWORD)
            .await
            .location(),
        Some("/login/sms")
    );
    let decisions = app.audit("login.step_up_decision").await;
    assert!(
        decisions
            .iter()
            .any(|d| d.detail.contains("unknown_device"))
    );
    assert!(
        decisions
            .iter()
            .any(|d| d.detail.contains("\"required\":false"))
    );
}

#[tokio::test]
async fn administrators_always_and_others_by_interval() {
    let app = TestApp::spawn_with(rules(false, true, 30)).await;
    user_with_phone(&app, "boss@cnic.cn").await;
    let admin = app
        .state
        .store
        .user_by_username("boss@cnic.cn")
        .await
        .unwrap()
        .unwrap();
    let version = admin.version;
    let update = tongxing::service::accounts::ProfileInput {
        is_admin: Some(true),
        ..Default::default()
    };
    tongxing::service::accounts::update_profile(
        &app.state,
        &admin,
        version,
        update,
        &tongxing::service::Actor::System,
        &Default::default(),
    )
    .await
    .unwrap();
    user_with_phone(&app, "staff@cnic.cn").await;

    // Never verified by SMS: the interval rule asks once, then not again.
    let b = app.browser();
    assert_eq!(
        b.login("staff@cnic.cn", PASSWORD).await.location(),
        Some("/login/sms")
    );
    pass(&app, &b).await;
    assert_eq!(
        app.browser()
            .login("staff@cnic.cn", PASSWORD)
            .await
            .location(),
        Some("/account")
    );
    // The administrator every time.
    for _ in 0..2 {
        let b = app.browser();
        assert_eq!(
            b.login("boss@cnic.cn", PASSWORD).await.location(),
            Some("/login/sms")
        );
        pass(&app, &b).await;
    }
    let reasons: Vec<String> = app
        .audit("login.step_up_decision")
        .await
        .iter()
        .map(|d| d.detail.clone())
        .collect();
    assert!(reasons.iter().any(|d| d.contains("\"admin\"")));
    assert!(reasons.iter().any(|d| d.contains("\"interval\"")));
}

#[tokio::test]
async fn a_password_reset_asks_at_the_next_login() {
    let app = TestApp::spawn_with(rules(false, false, 0)).await;
    user_with_phone(&app, "reset@cnic.cn").await;
    assert_eq!(
        app.browser()
            .login("reset@cnic.cn", PASSWORD)
            .await
            .location(),
        Some("/account")
    );
    let out = app
        .cli(
            &["user", "passwd", "reset@cnic.cn", "--password-stdin"],
            Some("Fresh-Secret-42\n"),
        )
        .await;
    assert_eq!(out.code, 0);
    let b = app.browser();
    assert_eq!(
        b.login("reset@cnic.cn", "Fresh-Secret-42").await.location(),
        Some("/login/sms")
    );
    pass(&app, &b).await;
    assert_eq!(
        app.browser()
            .login("reset@cnic.cn", "Fresh-Secret-42")
            .await
            .location(),
        Some("/account"),
        "once"
    );
    assert!(
        app.audit("login.step_up_decision")
            .await
            .iter()
            .any(|d| d.detail.contains("password_reset"))
    );
}

#[tokio::test]
async fn wrong_codes_and_resend_limits_on_the_page() {
    let app = TestApp::spawn_with(|c| {
        rules(true, false, 0)(c);
        c.sms.resend_secs = 60;
    })
    .await;
    user_with_phone(&app, "typo@cnic.cn").await;
    let b = app.browser();
    b.login("typo@cnic.cn", PASSWORD).await;
    let page = b.get("/login/sms").await;
    let sent = b
        .redirected(
            b.submit_page(&page, "/login/sms/send", &[]).await,
            "/login/sms",
        )
        .await;
    assert!(sent.has("data-wait=\"60\""), "the countdown starts");
    let again = b.submit_page(&sent, "/login/sms/send", &[]).await;
    assert_eq!(again.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(again.has("发送过于频繁"));
    let code = last_code(&app);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let miss = b
        .submit_page(&again, "/login/sms", &[("code", wrong)])
        .await;
    assert_eq!(miss.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(miss.has("验证码错误，还可以再试4次。"), "{}", miss.body);
    let ok = b.submit_page(&miss, "/login/sms", &[("code", &code)]).await;
    assert_eq!(ok.location(), Some("/account"));
    assert!(b.get("/login/sms/help").await.has("无法接收短信"));
}

async fn authorize(app: &TestApp, b: &Browser, client: &str, extra: &str) -> crate::helpers::Page {
    let url = format!(
        "/authorize?response_type=code&client_id={client}&redirect_uri={}&scope=openid&state=s{extra}",
        url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>()
    );
    let _ = app;
    b.get(&url).await
}

#[tokio::test]
async fn applications_can_demand_sms_and_get_acr_and_amr() {
    let app = TestApp::spawn().await; // risk rules off: only the application asks
    user_with_phone(&app, "sec@cnic.cn").await;
    let strict = app
        .rp_with("vpn", |c| {
            c.first_party = true;
            c.require_sms = true;
        })
        .await;
    let b = app.browser();
    assert_eq!(
        b.login("sec@cnic.cn", PASSWORD).await.location(),
        Some("/account")
    );
    let none = authorize(&app, &b, "vpn", "&prompt=none").await;
    assert_eq!(
        query(none.location().unwrap())["error"],
        "interaction_required"
    );
    let page = authorize(&app, &b, "vpn", "").await;
    assert_eq!(page.location(), Some("/login/sms"));
    let done = pass(&app, &b).await;
    let next = b.get(done.location().unwrap()).await;
    let code = query(next.location().unwrap())["code"].clone();
    let tokens: Value = reqwest::Client::new()
        .post(format!("{}/token", app.base))
        .basic_auth(&strict.id, strict.secret.as_deref())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let claims = crate::oidc::decode_payload(tokens["id_token"].as_str().unwrap());
    assert_eq!(claims["acr"], "urn:tongxing:acr:sms");
    assert_eq!(claims["amr"], serde_json::json!(["pwd", "sms"]));

    // acr_values asks for it too (here already satisfied in this session).
    let plain = app.rp_with("wiki", |c| c.first_party = true).await;
    let page = authorize(
        &app,
        &b,
        &plain.id,
        "&acr_values=urn%3Atongxing%3Aacr%3Asms",
    )
    .await;
    assert!(query(page.location().unwrap()).contains_key("code"));
    let fresh = app.browser();
    fresh.login("sec@cnic.cn", PASSWORD).await;
    let page = authorize(
        &app,
        &fresh,
        &plain.id,
        "&acr_values=urn%3Atongxing%3Aacr%3Asms",
    )
    .await;
    assert_eq!(page.location(), Some("/login/sms"));
    assert!(
        app.audit("login.step_up_decision")
            .await
            .iter()
            .any(|d| d.detail.contains("client_requires"))
    );
}

#[tokio::test]
async fn without_a_phone_step_up_cannot_pass() {
    let app = TestApp::spawn().await;
    app.user("nophone@cnic.cn").await;
    app.rp_with("vpn", |c| {
        c.first_party = true;
        c.require_sms = true;
    })
    .await;
    let b = app.browser();
    b.login("nophone@cnic.cn", PASSWORD).await;
    let page = authorize(&app, &b, "vpn", "").await;
    assert_eq!(page.location(), Some("/login/sms"));
    let stuck = b.get("/login/sms").await;
    assert_eq!(stuck.status, StatusCode::FORBIDDEN);
    assert!(
        stuck.has("未绑定手机号"),
        "the user is told to bind a phone"
    );
    // The way back: the application gets access_denied.
    let back = b.submit_page(&stuck, "/authorize/cancel", &[]).await;
    assert_eq!(query(back.location().unwrap())["error"], "access_denied");
}

#[tokio::test]
async fn the_consent_form_cannot_skip_a_required_step_up() {
    let app = TestApp::spawn().await;
    user_with_phone(&app, "skip@cnic.cn").await;
    app.rp_with("vpn", |c| c.require_sms = true).await; // third-party: has a consent page
    let b = app.browser();
    b.login("skip@cnic.cn", PASSWORD).await;
    // Post the consent form directly, never having passed the step-up.
    let csrf = b.get("/account").await.csrf();
    let request = format!(
        "response_type=code&client_id=vpn&redirect_uri={}&scope=openid&state=x",
        url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>()
    );
    let r = b
        .post_form(
            "/authorize/consent",
            &[
                ("csrf", &csrf),
                ("request", &request),
                ("decision", "allow"),
            ],
        )
        .await;
    assert_eq!(
        r.location(),
        Some("/login/sms"),
        "no code without the step-up"
    );
    assert!(app.audit("authorize.code_issued").await.is_empty());
    // The positive control: the same form, posted after the step-up, gets its code.
    pass(&app, &b).await;
    let csrf = b.get("/account").await.csrf();
    let r = b
        .post_form(
            "/authorize/consent",
            &[
                ("csrf", &csrf),
                ("request", &request),
                ("decision", "allow"),
            ],
        )
        .await;
    assert!(
        query(r.location().unwrap()).contains_key("code"),
        "{:?}",
        r.location()
    );
    assert_eq!(app.audit("authorize.code_issued").await.len(), 1);
}

#[tokio::test]
async fn parallel_code_guesses_stay_within_the_limit() {
    use tongxing::service::codes::{self, Purpose, VerifyError};
    let app = TestApp::spawn().await;
    let phone = tongxing::domain::PhoneNumber::parse("13312348347").unwrap();
    codes::send(
        &app.state,
        Purpose::Login,
        &phone,
        &Default::default(),
        tongxing::i18n::Lang::ZhCn,
    )
    .await
    .unwrap();
    let code = last_code(&app);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (state, phone) = (app.state.clone(), phone.clone());
        tasks.push(tokio::spawn(async move {
            codes::verify(&state, Purpose::Login, &phone, wrong).await
        }));
    }
    let mut checked = 0;
    for t in tasks {
        if matches!(t.await.unwrap(), Err(VerifyError::Wrong(_))) {
            checked += 1;
        }
    }
    // Tries are counted before comparing: exactly the four that leave a try
    // are answered as wrong guesses, however the twenty interleave; the
    // fifth ends the code.
    assert_eq!(checked, 4, "{checked} guesses were checked");
    assert_eq!(
        codes::verify(&app.state, Purpose::Login, &phone, &code).await,
        Err(VerifyError::NoCode)
    );
}

#[tokio::test]
async fn risk_rules_do_not_lock_out_accounts_without_a_phone() {
    let app = TestApp::spawn_with(rules(true, true, 30)).await;
    app.user("plain@cnic.cn").await;
    user_with_phone(&app, "other@cnic.cn").await;
    let b = app.browser();
    // A pending step-up of one account ...
    assert_eq!(
        b.login("other@cnic.cn", PASSWORD).await.location(),
        Some("/login/sms")
    );
    // ... does not survive a sign-in of another (shared browser).
    assert_eq!(
        b.login("plain@cnic.cn", PASSWORD).await.location(),
        Some("/account")
    );
    assert_eq!(b.get("/login/sms").await.location(), Some("/login"));
    assert!(
        app.audit("login.step_up_decision")
            .await
            .iter()
            .any(|d| d.detail.contains("\"no_phone\":true"))
    );
}

#[tokio::test]
async fn the_login_phone_serves_when_there_is_no_security_phone() {
    let app = TestApp::spawn_with(rules(true, false, 0)).await;
    app.user_with(NewAccount {
        username: "lp@cnic.cn".into(),
        login_phone: Some("13912345678".into()),
        ..NewAccount::default()
    })
    .await;
    let b = app.browser();
    assert_eq!(
        b.login("lp@cnic.cn", PASSWORD).await.location(),
        Some("/login/sms")
    );
    let page = b.get("/login/sms").await;
    assert!(page.has("139****5678"), "{}", page.body);
    let sent = b
        .redirected(
            b.submit_page(&page, "/login/sms/send", &[]).await,
            "/login/sms",
        )
        .await;
    assert_eq!(sent.status, StatusCode::OK);
    assert_eq!(app.outbox("sms").last().unwrap()["to"], "+8613912345678");
    let en = b.get("/login/sms?lang=en").await;
    assert!(en.has("SMS verification") && en.has("Your phone cannot receive SMS?"));
}

#[tokio::test]
async fn the_step_up_owed_after_a_reset_is_asked_with_the_rules_off() {
    // The harness default: risk rules off.
    let app = TestApp::spawn().await;
    user_with_phone(&app, "owed@cnic.cn").await;
    let out = app
        .cli(
            &["user", "passwd", "owed@cnic.cn", "--password-stdin"],
            Some("Fresh-Secret-42\n"),
        )
        .await;
    assert_eq!(out.code, 0);
    let b = app.browser();
    assert_eq!(
        b.login("owed@cnic.cn", "Fresh-Secret-42").await.location(),
        Some("/login/sms")
    );
    pass(&app, &b).await;
    assert_eq!(
        app.browser()
            .login("owed@cnic.cn", "Fresh-Secret-42")
            .await
            .location(),
        Some("/account"),
        "once"
    );
}

/// The device-cookie key as stored (`None`: not created yet).
async fn stored_device_key(app: &TestApp) -> Option<Vec<u8>> {
    let sql = "SELECT value FROM server_secrets WHERE name = 'device-cookie'";
    match app.state.store.db() {
        tongxing::store::Db::Sqlite(p) => sqlx::query_scalar(sql).fetch_optional(p).await,
        tongxing::store::Db::Postgres(p) => sqlx::query_scalar(sql).fetch_optional(p).await,
    }
    .unwrap()
}

#[tokio::test]
async fn an_empty_device_key_is_never_used_and_is_replaced() {
    let app = TestApp::spawn_with(rules(true, false, 0)).await;
    // What an earlier version stored for good when the random generator
    // failed at the first sign-in: an empty key.
    let plant = "INSERT INTO server_secrets (name, value) VALUES ('device-cookie', $1) \
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value";
    match app.state.store.db() {
        tongxing::store::Db::Sqlite(p) => sqlx::query(plant)
            .bind(Vec::<u8>::new())
            .execute(p)
            .await
            .map(|_| ()),
        tongxing::store::Db::Postgres(p) => sqlx::query(plant)
            .bind(Vec::<u8>::new())
            .execute(p)
            .await
            .map(|_| ()),
    }
    .unwrap();
    assert_eq!(stored_device_key(&app).await, Some(Vec::new()));

    user_with_phone(&app, "keyed@cnic.cn").await;
    let b = app.browser();
    assert_eq!(
        b.login("keyed@cnic.cn", PASSWORD).await.location(),
        Some("/login/sms")
    );
    assert_eq!(pass(&app, &b).await.location(), Some("/account"));
    let cookie = b.cookie(tongxing::cookies::DEVICE).unwrap();
    let (id, sig) = cookie.split_once('.').unwrap();
    let mac = |key: &[u8]| hex::encode(tongxing::crypto::hmac_sha256(key, id.as_bytes()));
    assert_ne!(
        sig,
        mac(b""),
        "signed with an empty key, which anyone can forge"
    );
    let key = stored_device_key(&app).await.unwrap();
    assert_eq!(key.len(), 32, "the empty key was replaced");
    // The positive control of the comparison: the cookie is signed with the key now stored.
    assert_eq!(sig, mac(&key));

    // The store never takes an empty value as a secret.
    let store = &app.state.store;
    assert!(store.server_secret("test-secret", &[]).await.is_err());
    assert_eq!(
        store.server_secret("test-secret", &[1; 32]).await.unwrap(),
        vec![1; 32]
    );
    assert_eq!(
        store.server_secret("test-secret", &[2; 32]).await.unwrap(),
        vec![1; 32],
        "created once, then kept"
    );
}
