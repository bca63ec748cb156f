//! The strength meter of the new-password forms (`POST /password/check`):
//! its verdict is the server's, for the account the password is for, and
//! the asking is limited.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use tongxing::service::accounts::NewAccount;

use crate::helpers::{Browser, PASSWORD, Page, TestApp, link_in};

/// The meter's question, as the page's script asks it.
async fn ask(b: &Browser, form: &Page, password: &str, token: &str) -> (StatusCode, Value) {
    let csrf = form.csrf();
    let answer = b
        .post_form(
            "/password/check",
            &[("csrf", &csrf), ("new", password), ("token", token)],
        )
        .await;
    let json = serde_json::from_str(&answer.body).unwrap_or(Value::Null);
    (answer.status, json)
}

fn rule(verdict: &Value, name: &str) -> bool {
    verdict["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rule"] == name)
        .unwrap_or_else(|| panic!("no rule {name} in {verdict}"))["ok"]
        .as_bool()
        .unwrap()
}

#[tokio::test]
async fn the_meter_agrees_with_the_password_change() {
    let app = TestApp::spawn().await;
    app.user("wangwu").await;
    let b = app.browser();
    b.login("wangwu", PASSWORD).await;
    let form = b.get("/account/password").await;
    // The form lists the rules the meter ticks and carries the script.
    for code in [
        "length",
        "upper",
        "lower",
        "digit",
        "special",
        "personal",
        "guessable",
    ] {
        assert!(
            form.has(&format!("data-rule=\"{code}\"")),
            "{code}: {}",
            form.body
        );
    }
    assert!(form.has("data-check=\"/password/check\"") && form.has(tongxing::routes::STRENGTH_JS));
    assert!(form.has("至少10个字符") && form.has("两次输入的新密码不一致"));

    // An empty field: no level.
    let (status, empty) = ask(&b, &form, "", "").await;
    assert_eq!(status, StatusCode::OK, "{empty}");
    assert!(empty["level"].is_null() && empty["acceptable"] == false);

    // Password123! meets the character rules; the server refuses it as too
    // guessable, and so does the meter.
    let (_, common) = ask(&b, &form, "Password123!", "").await;
    assert_eq!(common["acceptable"], false, "{common}");
    assert_eq!(common["level"], "weak");
    assert!(rule(&common, "length") && rule(&common, "upper") && rule(&common, "special"));
    assert!(!rule(&common, "guessable"));
    let (_, named) = ask(&b, &form, "Wangwu-Harbour-73!", "").await;
    assert!(!rule(&named, "personal") && named["acceptable"] == false);

    // Each verdict is what submitting the same password meets.
    for (password, acceptable) in [
        ("Password123!", false),
        ("Wangwu-Harbour-73!", false),
        ("short", false),
        ("violet-harbour-73!", false),
        ("Violet-Harbour-73!", true),
    ] {
        let (_, verdict) = ask(&b, &form, password, "").await;
        assert_eq!(verdict["acceptable"], acceptable, "{password}: {verdict}");
        if acceptable {
            assert!(
                verdict["level"] == "medium" || verdict["level"] == "strong",
                "{verdict}"
            );
            assert!(
                verdict["rules"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|r| r["ok"] == true)
            );
        }
        let page = b.get("/account/password").await;
        let answer = b
            .submit_page(
                &page,
                "/account/password",
                &[
                    ("current", PASSWORD),
                    ("new", password),
                    ("repeat", password),
                ],
            )
            .await;
        if acceptable {
            assert_eq!(
                answer.location(),
                Some("/account/password?done=1"),
                "{password}: {}",
                answer.body
            );
        } else {
            assert_eq!(
                answer.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{password}: {}",
                answer.body
            );
        }
    }
    // The password checked is nowhere in the audit log.
    let rows = app.audit("account.password_changed").await;
    assert_eq!(rows.len(), 1);
    assert!(!format!("{rows:?}").contains("Violet-Harbour"));
}

#[tokio::test]
async fn no_verdict_without_an_account_or_the_forms_token() {
    let app = TestApp::spawn().await;
    app.user("zhaoliu").await;
    // An anonymous page's CSRF pair is valid, but the password is nobody's.
    let anonymous = app.browser();
    let login = anonymous.get("/login").await;
    let (status, body) = ask(&anonymous, &login, "Violet-Harbour-73!", "").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"], "no_account");
    // A recovery link's token that is not one.
    let (status, _) = ask(&anonymous, &login, "Violet-Harbour-73!", "forged").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // A signed-in browser without the form's token is refused.
    let b = app.browser();
    b.login("zhaoliu", PASSWORD).await;
    let refused = b
        .post_form(
            "/password/check",
            &[("csrf", "wrong"), ("new", "Violet-Harbour-73!")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    // Positive control: the same browser with its token gets a verdict.
    let form = b.get("/account/password").await;
    let (status, verdict) = ask(&b, &form, "Violet-Harbour-73!", "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(verdict["acceptable"], true);
}

#[tokio::test]
async fn the_recovery_forms_ask_for_the_account_being_recovered() {
    let app = TestApp::spawn().await;
    let user = app
        .user_with(NewAccount {
            username: "wangwu".into(),
            login_phone: Some("+8613800138000".into()),
            ..NewAccount::default()
        })
        .await;
    app.verified_email(&user, "wang@example.org").await;
    let b = app.browser();
    app.recover_by(&b, "wangwu", "/recover/email").await;
    let link = link_in(
        app.outbox_wait("mail", 1).await[0]["text"]
            .as_str()
            .unwrap(),
    );
    let form = b.get(link.strip_prefix(&app.base).unwrap()).await;
    assert!(form.has("data-check=\"/password/check\""), "{}", form.body);
    let token = crate::helpers::query(&link)["token"].clone();
    // The account's name and phone count, as they do on submit.
    let (status, named) = ask(&b, &form, "Wangwu-Harbour-73!", &token).await;
    assert_eq!(status, StatusCode::OK, "{named}");
    assert!(!rule(&named, "personal"));
    let (_, phone) = ask(&b, &form, "Vh!13800138000a", &token).await;
    assert!(!rule(&phone, "personal") && phone["acceptable"] == false);
    let (_, good) = ask(&b, &form, "Violet-Harbour-73!", &token).await;
    assert_eq!(good["acceptable"], true, "{good}");
    // Asking uses nothing up: the link still sets the password.
    let done = b
        .submit_page(
            &form,
            "/recover/password",
            &[
                ("new", "Violet-Harbour-73!"),
                ("repeat", "Violet-Harbour-73!"),
            ],
        )
        .await;
    assert_eq!(done.location(), Some("/recover/done"), "{}", done.body);
    // … and once used, the link gives no more verdicts.
    let (status, _) = ask(&b, &form, "Violet-Harbour-73!", &token).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn asking_is_limited_per_account() {
    let app = TestApp::spawn().await;
    app.user("sunqi").await;
    app.user("zhouba").await;
    let b = app.browser();
    b.login("sunqi", PASSWORD).await;
    let form = b.get("/account/password").await;
    for _ in 0..tongxing::service::password_check::PER_ACCOUNT {
        let (status, _) = ask(&b, &form, "Violet", "").await;
        assert_eq!(status, StatusCode::OK);
    }
    let csrf = form.csrf();
    let limited = b
        .post_form("/password/check", &[("csrf", &csrf), ("new", "Violet")])
        .await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.header("retry-after").is_some());
    assert!(limited.has("too_many_checks"));
    // Another account is not held by this one's count.
    let other = app.browser();
    other.login("zhouba", PASSWORD).await;
    let other_form = other.get("/account/password").await;
    assert_eq!(
        ask(&other, &other_form, "Violet", "").await.0,
        StatusCode::OK
    );
    // The window passes.
    app.advance(tongxing::service::password_check::WINDOW + Duration::from_secs(1));
    assert_eq!(ask(&b, &form, "Violet", "").await.0, StatusCode::OK);
}
