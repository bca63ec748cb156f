//! The device authorization grant (RFC 8628): the endpoint, the user-code
//! page in both languages, the browser flow behind it (sign-in, consent),
//! polling with authorization_pending / slow_down / access_denied /
//! expired_token, single use, and the browser binding of the callback.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Browser, PASSWORD, Rp, TestApp};
use crate::oidc_rules::token;

const GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

async fn setup(first_party: bool) -> (TestApp, Rp) {
    let app = TestApp::spawn_with(|c| c.oidc.device_clients = vec!["cli".into()]).await;
    app.user("li@cnic.cn").await;
    let rp = app
        .rp_with("cli", |c| {
            c.first_party = first_party;
            c.name = "实验数据工具".into();
        })
        .await;
    (app, rp)
}

async fn start(app: &TestApp, rp: &Rp, scope: &str) -> (StatusCode, Value) {
    let r = reqwest::Client::new()
        .post(format!("{}/device_authorization", app.base))
        .basic_auth(&rp.id, rp.secret.as_deref())
        .form(&[("scope", scope)])
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap())
}

async fn poll(app: &TestApp, rp: &Rp, device_code: &str) -> (StatusCode, Value) {
    token(
        app,
        rp,
        &[("grant_type", GRANT), ("device_code", device_code)],
    )
    .await
}

/// Types `user_code` on /device and confirms with `decision`; returns the
/// answer (for `allow`, the way to /authorize).
async fn decide(b: &Browser, user_code: &str, decision: &str) -> crate::helpers::Page {
    let entry = b.get(&format!("/device?user_code={user_code}")).await;
    assert_eq!(entry.status, StatusCode::OK);
    assert!(
        entry.has(&format!("value=\"{user_code}\"")),
        "{}",
        entry.body
    );
    let confirm = b
        .submit_page(&entry, "/device", &[("user_code", user_code)])
        .await;
    assert_eq!(confirm.status, StatusCode::OK, "{}", confirm.body);
    assert!(
        confirm.has("实验数据工具") && confirm.has(user_code),
        "{}",
        confirm.body
    );
    b.submit_page(
        &confirm,
        "/device",
        &[("user_code", user_code), ("decision", decision)],
    )
    .await
}

/// [`decide`], and for `allow` the browser flow behind it; returns the
/// last page.
async fn answer(b: &Browser, user_code: &str, decision: &str) -> crate::helpers::Page {
    let answered = decide(b, user_code, decision).await;
    if decision != "allow" {
        // Settled: the outcome has a GET URL of its own.
        return b.redirected(answered, "/device?done=denied").await;
    }
    let to = answered.location().expect("to /authorize").to_string();
    assert!(to.starts_with("/authorize?"), "{to}");
    let back = b.authorize_as(&to, "li@cnic.cn", PASSWORD, "allow").await;
    let path = back
        .strip_prefix(&b.base)
        .expect("our callback")
        .to_string();
    assert!(path.starts_with("/device/callback?"), "{path}");
    b.redirected(b.get(&path).await, "/device?done=approved")
        .await
}

#[tokio::test]
async fn a_device_gets_tokens_once_the_person_approves() {
    let (app, rp) = setup(true).await;
    let (status, started) = start(&app, &rp, "openid profile offline_access").await;
    assert_eq!(status, StatusCode::OK, "{started}");
    let device_code = started["device_code"].as_str().unwrap();
    let user_code = started["user_code"].as_str().unwrap();
    assert_eq!(user_code.len(), 9);
    assert_eq!(started["verification_uri"], format!("{}/device", app.base));
    assert_eq!(
        started["verification_uri_complete"],
        format!("{}/device?user_code={user_code}", app.base)
    );
    assert_eq!(started["expires_in"], 600);
    assert_eq!(started["interval"], 5);

    // Before the person answers: pending; polled too fast: slow_down.
    let (status, e) = poll(&app, &rp, device_code).await;
    assert_eq!(
        (status, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("authorization_pending"))
    );
    let (_, e) = poll(&app, &rp, device_code).await;
    assert_eq!(e["error"], "slow_down");

    let b = app.browser();
    let done = answer(&b, user_code, "allow").await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(done.has("id=\"device-done\""), "{}", done.body);
    // The user code is spent.
    let again = b.post_form("/device", &[("user_code", user_code)]).await;
    assert_ne!(again.status, StatusCode::OK);

    // slow_down added 5 s to the interval: 10 s later the device gets in.
    app.advance(Duration::from_secs(11));
    let (status, tokens) = poll(&app, &rp, device_code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert!(tokens["access_token"].is_string() && tokens["id_token"].is_string());
    assert!(tokens["refresh_token"].is_string());
    let me: Value = reqwest::Client::new()
        .get(format!("{}/userinfo", app.base))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["preferred_username"], "li@cnic.cn", "{me}");
    let issued = app.audit("token.issued").await;
    assert!(issued[0].detail.contains(GRANT), "{}", issued[0].detail);

    // Redeemed once.
    app.advance(Duration::from_secs(11));
    let (status, e) = poll(&app, &rp, device_code).await;
    assert_eq!(
        (status, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn a_third_party_device_asks_consent_and_a_refusal_is_access_denied() {
    let (app, rp) = setup(false).await;
    // Consent is asked in the browser flow (authorize_as answers "allow").
    let (_, started) = start(&app, &rp, "openid profile").await;
    let done = answer(
        &app.browser(),
        started["user_code"].as_str().unwrap(),
        "allow",
    )
    .await;
    assert!(done.has("id=\"device-done\""), "{}", done.body);
    assert_eq!(app.audit("consent.granted").await.len(), 1);

    // Denied on the confirmation page: the device hears access_denied.
    let (_, started) = start(&app, &rp, "openid").await;
    let device_code = started["device_code"].as_str().unwrap();
    let denied = answer(
        &app.browser(),
        started["user_code"].as_str().unwrap(),
        "deny",
    )
    .await;
    assert!(denied.has("id=\"device-denied\""), "{}", denied.body);
    let (status, e) = poll(&app, &rp, device_code).await;
    assert_eq!(
        (status, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("access_denied"))
    );
}

#[tokio::test]
async fn codes_expire_and_bad_ones_are_named() {
    let (app, rp) = setup(true).await;
    let (_, started) = start(&app, &rp, "openid").await;
    let device_code = started["device_code"].as_str().unwrap();
    let user_code = started["user_code"].as_str().unwrap();
    let b = app.browser();

    // A code typed wrong: a page saying so, in both languages.
    let entry = b.get("/device").await;
    let wrong = b
        .submit_page(&entry, "/device", &[("user_code", "BCDF-GHJK")])
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert!(wrong.has("该用户码无效"), "{}", wrong.body);
    let entry = b.get("/device?lang=en").await;
    assert!(
        entry.has("Enter the code shown on your device"),
        "{}",
        entry.body
    );
    let wrong = b
        .submit_page(&entry, "/device", &[("user_code", "nonsense")])
        .await;
    assert!(wrong.has("This code is not valid"), "{}", wrong.body);
    // The right one, typed in lower case without the dash, is found.
    let entry = b.get("/device?lang=zh-CN").await;
    let typed = user_code.replace('-', "").to_lowercase();
    let confirm = b
        .submit_page(&entry, "/device", &[("user_code", &typed)])
        .await;
    assert_eq!(confirm.status, StatusCode::OK, "{}", confirm.body);

    // Ten minutes on: expired for the device and for the page.
    app.advance(Duration::from_secs(601));
    let (status, e) = poll(&app, &rp, device_code).await;
    assert_eq!(
        (status, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("expired_token"))
    );
    let late = b
        .submit_page(&entry, "/device", &[("user_code", user_code)])
        .await;
    assert_eq!(late.status, StatusCode::BAD_REQUEST);
    // A made-up device code is invalid_grant; a missing one invalid_request.
    let (_, e) = poll(&app, &rp, "made-up").await;
    assert_eq!(e["error"], "invalid_grant");
    let (_, e) = token(&app, &rp, &[("grant_type", GRANT)]).await;
    assert_eq!(e["error"], "invalid_request");
}

#[tokio::test]
async fn only_allowed_clients_and_only_the_confirming_browser() {
    let (app, rp) = setup(true).await;
    // A client not in oidc.device_clients may not start or poll.
    let other = app.rp_with("web", |c| c.first_party = true).await;
    let (status, e) = start(&app, &other, "openid").await;
    assert_eq!(
        (status, e["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unauthorized_client"))
    );
    let (_, e) = poll(&app, &other, "whatever").await;
    assert_eq!(e["error"], "unauthorized_client");
    // A scope beyond the client's is invalid_scope.
    let (_, e) = start(&app, &rp, "openid admin").await;
    assert_eq!(e["error"], "invalid_scope");
    // The allowed client's device code is not another client's to poll.
    let (_, started) = start(&app, &rp, "openid").await;
    let device_code = started["device_code"].as_str().unwrap();
    let user_code = started["user_code"].as_str().unwrap();

    // The browser flow's answer counts only in the browser that confirmed:
    // a callback replayed in another browser is refused and changes nothing.
    let b = app.browser();
    let entry = b.get(&format!("/device?user_code={user_code}")).await;
    let confirm = b
        .submit_page(&entry, "/device", &[("user_code", user_code)])
        .await;
    let to = b
        .submit_page(
            &confirm,
            "/device",
            &[("user_code", user_code), ("decision", "allow")],
        )
        .await
        .location()
        .unwrap()
        .to_string();
    let back = b.authorize_as(&to, "li@cnic.cn", PASSWORD, "allow").await;
    let path = back.strip_prefix(&b.base).unwrap().to_string();
    let stranger = app.browser();
    let refused = stranger.get(&path).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.has("不是在此浏览器中确认的"), "{}", refused.body);
    let (_, e) = poll(&app, &rp, device_code).await;
    assert_eq!(e["error"], "authorization_pending");
    // The confirming browser's callback approves.
    let done = b
        .redirected(b.get(&path).await, "/device?done=approved")
        .await;
    assert!(done.has("id=\"device-done\""), "{}", done.body);
    app.advance(Duration::from_secs(6));
    let (status, _) = poll(&app, &rp, device_code).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn discovery_names_the_endpoint_and_the_grant() {
    let (app, _) = setup(true).await;
    let d: Value = reqwest::get(format!("{}/.well-known/openid-configuration", app.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        d["device_authorization_endpoint"],
        format!("{}/device_authorization", app.base)
    );
    assert!(
        d["grant_types_supported"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g == GRANT)
    );
}

#[tokio::test]
async fn guessing_user_codes_is_limited_per_address() {
    let (app, rp) = setup(true).await;
    let (_, started) = start(&app, &rp, "openid").await;
    let user_code = started["user_code"].as_str().unwrap();
    let b = app.browser();
    let entry = b.get("/device").await;
    // A right code before the limit: found (the control).
    let found = b
        .submit_page(&entry, "/device", &[("user_code", user_code)])
        .await;
    assert_eq!(found.status, StatusCode::OK);
    for _ in 0..30 {
        let wrong = b
            .submit_page(&entry, "/device", &[("user_code", "BCDF-GHJK")])
            .await;
        assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    }
    // After 30 wrong ones even the right code waits, with Retry-After.
    let limited = b
        .submit_page(&entry, "/device", &[("user_code", user_code)])
        .await;
    assert_eq!(
        limited.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        limited.body
    );
    assert!(limited.has("次数过多"), "{}", limited.body);
}

#[tokio::test]
async fn a_device_meets_the_same_step_up_as_the_browser_flow() {
    // The tool demands SMS: the person approving it passes the step-up
    // in the browser, and the device's tokens carry the class it earned.
    let app = TestApp::spawn_with(|c| {
        c.oidc.device_clients = vec!["cli".into()];
        c.sms.resend_secs = 0;
    })
    .await;
    app.user_with(tongxing::service::accounts::NewAccount {
        username: "li@cnic.cn".into(),
        security_phone: Some("13312348347".into()),
        ..Default::default()
    })
    .await;
    let rp = app
        .rp_with("cli", |c| {
            c.first_party = true;
            c.require_sms = true;
            c.name = "实验数据工具".into();
        })
        .await;
    let (_, started) = start(&app, &rp, "openid").await;
    let device_code = started["device_code"].as_str().unwrap();
    let user_code = started["user_code"].as_str().unwrap();
    let b = app.browser();
    let answered = decide(&b, user_code, "allow").await;
    let to = answered.location().expect("to /authorize").to_string();
    let login = b.get(&to).await;
    let login = if login.status == StatusCode::OK {
        login
    } else {
        b.get(login.location().expect("to the login page")).await
    };
    let after = b
        .submit_page(
            &login,
            "/login",
            &[("identifier", "li@cnic.cn"), ("password", PASSWORD)],
        )
        .await;
    // Signed in by password only: back at the authorization, the step-up
    // is owed before any code.
    let back = after.location().expect("back to /authorize").to_string();
    assert!(back.starts_with("/authorize?"), "{back}");
    let owed = b.get(&back).await;
    assert_eq!(owed.location(), Some("/login/sms"), "{}", owed.body);
    let (_, pending) = poll(&app, &rp, device_code).await;
    assert_eq!(pending["error"], "authorization_pending");
    let page = b.get("/login/sms").await;
    let sent = b
        .redirected(
            b.submit_page(&page, "/login/sms/send", &[]).await,
            "/login/sms",
        )
        .await;
    let text = app.outbox("sms").last().unwrap()["text"]
        .as_str()
        .unwrap()
        .to_string();
    let code: String = text.chars().filter(char::is_ascii_digit).take(6).collect();
    let mut page = b.submit_page(&sent, "/login/sms", &[("code", &code)]).await;
    // Back to the authorization, then our callback, then the outcome.
    for _ in 0..4 {
        let Some(next) = page.location().map(str::to_string) else {
            break;
        };
        let path = next.strip_prefix(&b.base).unwrap_or(&next).to_string();
        if path.starts_with("/device?done=") {
            break;
        }
        page = b.get(&path).await;
    }
    assert_eq!(
        page.location(),
        Some("/device?done=approved"),
        "{}",
        page.body
    );
    app.advance(Duration::from_secs(6));
    let (status, tokens) = poll(&app, &rp, device_code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let claims = crate::oidc::decode_payload(tokens["id_token"].as_str().unwrap());
    assert_eq!(claims["acr"], "urn:tongxing:acr:sms");
    assert_eq!(claims["amr"], serde_json::json!(["pwd", "sms"]));
}
