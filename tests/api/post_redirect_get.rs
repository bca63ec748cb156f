//! Hosted pages follow post-redirect-get: a form that succeeds answers
//! with a redirect to a page that can be reloaded, switched to the other
//! language and reached with Back; a refused form is drawn again with the
//! whole state the server holds (the send button's countdown included).

use reqwest::StatusCode;
use tongxing::service::accounts::NewAccount;

use crate::helpers::{Browser, PASSWORD, Page, TestApp};

/// The seconds the send button waits, as the page draws it.
fn countdown(page: &Page) -> u64 {
    let marker = "data-wait=\"";
    let start = page
        .body
        .find(marker)
        .unwrap_or_else(|| panic!("no send button: {}", page.body))
        + marker.len();
    let end = page.body[start..].find('"').unwrap();
    page.body[start..start + end].parse().unwrap()
}

/// A code that is not the one last sent.
fn wrong_code(app: &TestApp) -> String {
    let sent = crate::helpers::code_in(app.outbox("sms").last().unwrap()["text"].as_str().unwrap());
    if sent == "000000" { "111111" } else { "000000" }.to_string()
}

async fn app_with_resend(secs: u64) -> TestApp {
    TestApp::spawn_with(move |c| {
        c.step_up.enabled = true;
        c.step_up.unknown_device = true;
        c.sms.resend_secs = secs;
    })
    .await
}

/// Signs in `name` (with a phone) up to the step-up page.
async fn at_step_up(app: &TestApp, name: &str) -> Browser {
    app.user_with(NewAccount {
        username: name.into(),
        login_phone: Some("13312348347".into()),
        ..NewAccount::default()
    })
    .await;
    let b = app.browser();
    assert_eq!(b.login(name, PASSWORD).await.location(), Some("/login/sms"));
    b
}

#[tokio::test]
async fn the_step_up_countdown_survives_a_wrong_code_and_a_reload() {
    let app = app_with_resend(60).await;
    let b = at_step_up(&app, "count@cnic.cn").await;
    let before = b.get("/login/sms").await;
    assert_eq!(
        countdown(&before),
        0,
        "no code sent yet: the button is free"
    );

    let sent = b
        .redirected(
            b.submit_page(&before, "/login/sms/send", &[]).await,
            "/login/sms",
        )
        .await;
    assert!((55..=60).contains(&countdown(&sent)), "{}", sent.body);
    assert!(sent.has("验证码已发送"), "the notice survives the redirect");

    let wrong = b
        .submit_page(&sent, "/login/sms", &[("code", &wrong_code(&app))])
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        countdown(&wrong) > 0,
        "the server still refuses to send, so the button waits: {}",
        wrong.body
    );
    let reload = b.get("/login/sms").await;
    assert!(countdown(&reload) > 0, "a plain reload waits too");
    assert!(!reload.has("验证码已发送"), "the notice is shown once");
}

#[tokio::test]
async fn the_recovery_countdown_survives_a_wrong_code_and_a_reload() {
    let app = app_with_resend(60).await;
    app.user_with(NewAccount {
        username: "zhou".into(),
        login_phone: Some("13312348347".into()),
        ..NewAccount::default()
    })
    .await;
    let b = app.browser();
    app.recover_start(&b, "zhou").await;
    let fresh = b.get("/recover/sms").await;
    assert_eq!(countdown(&fresh), 0, "nothing sent yet");
    let sent = app.recover_by(&b, "zhou", "/recover/sms/send").await;
    assert!(countdown(&sent) > 0, "{}", sent.body);
    app.outbox_wait("sms", 1).await;
    let wrong = b
        .submit_page(&sent, "/recover/sms", &[("code", &wrong_code(&app))])
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(countdown(&wrong) > 0, "{}", wrong.body);
    assert!(countdown(&b.get("/recover/sms").await) > 0);
}

#[tokio::test]
async fn answers_to_forms_have_a_get_url_for_the_language_switch() {
    let app = app_with_resend(60).await;
    let b = at_step_up(&app, "lang@cnic.cn").await;
    let page = b.get("/login/sms").await;
    let sent = b.submit_page(&page, "/login/sms/send", &[]).await;
    assert_eq!(
        sent.location(),
        Some("/login/sms"),
        "a redirect, not a page"
    );

    // A refused form is drawn again; its switch leads to the page's GET URL.
    let refused = b.submit_page(&page, "/login/sms/send", &[]).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = refused.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (55..=60).contains(&retry),
        "Retry-After states the wait: {retry}"
    );
    assert!(
        refused.has("href=\"/login/sms?lang=en\""),
        "{}",
        refused.body
    );
    let en = b.get("/login/sms?lang=en").await;
    assert_eq!(en.status, StatusCode::OK);
    assert!(en.has("Send code"), "{}", en.body);

    // A form-only address answers GET with its page, never with 405, and
    // takes the language along.
    for (action, page) in [
        ("/login/sms/send", "/login/sms"),
        ("/recover/sms/send", "/recover/sms"),
        ("/account/apps/revoke", "/account/apps"),
        ("/account/email/remove", "/account/email"),
    ] {
        let answer = b.get(&format!("{action}?lang=en")).await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{action}");
        assert_eq!(answer.location(), Some(page), "{action}");
    }
    assert_eq!(
        b.cookie("tongxing_lang").as_deref(),
        Some("en"),
        "the language chosen on the way is kept"
    );
    // Positive control: a page of its own answers its GET directly.
    assert_eq!(b.get("/login/sms/help").await.status, StatusCode::OK);
}

#[tokio::test]
async fn the_mail_sent_and_done_pages_of_recovery_are_get_pages() {
    let app = TestApp::spawn().await;
    let user = app.user("mailer").await;
    app.verified_email(&user, "mailer@example.org").await;
    let b = app.browser();
    let sent = app.recover_by(&b, "mailer", "/recover/email").await;
    assert!(sent.has("如果该账号有已验证的密保邮箱"), "{}", sent.body);
    // Reloading (or switching the language) shows the page again, in the
    // other language, without sending another mail.
    let en = b.get("/recover/email?lang=en").await;
    assert_eq!(en.status, StatusCode::OK);
    assert!(en.has("If the account has a verified"), "{}", en.body);
    assert_eq!(app.outbox_wait("mail", 1).await.len(), 1);

    // The end of a recovery is a page only for a browser that completed
    // one: this one did not, and goes to the login page.
    assert_eq!(
        b.get("/recover/done").await.location(),
        Some("/login"),
        "no recovery was completed in this browser"
    );
    let link = crate::helpers::link_in(app.outbox("mail")[0]["text"].as_str().unwrap());
    let form = b.get(link.strip_prefix(&app.base).unwrap()).await;
    let done = b
        .redirected(
            b.submit_page(
                &form,
                "/recover/password",
                &[
                    ("new", "Violet-Harbour-74!"),
                    ("repeat", "Violet-Harbour-74!"),
                ],
            )
            .await,
            "/recover/done",
        )
        .await;
    // (In English: the switch above set the language.)
    assert!(done.has("Your password was reset"), "{}", done.body);
    let zh = b.get("/recover/done?lang=zh-CN").await;
    assert!(zh.has("密码已重置"), "{}", zh.body);
    let en = b.get("/recover/done?lang=en").await;
    assert_eq!(
        en.status,
        StatusCode::OK,
        "the language switch keeps the page"
    );
    assert!(
        en.has("password has been reset") || en.has("reset"),
        "{}",
        en.body
    );
}
