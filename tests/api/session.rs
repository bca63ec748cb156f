//! The browser session: whenever it gains something (a correct password, a
//! recovery started or proved) its id and its CSRF token are new, so a
//! session planted in the browser beforehand can neither follow nor forge
//! the forms that come next.

use reqwest::StatusCode;
use tongxing::service::accounts::NewAccount;

use crate::helpers::{PASSWORD, TestApp, code_in};

#[tokio::test]
async fn a_csrf_token_from_before_a_recovery_cannot_set_the_password() {
    let app = TestApp::spawn().await;
    app.user_with(NewAccount {
        username: "wei".into(),
        login_phone: Some("13312348347".into()),
        ..NewAccount::default()
    })
    .await;
    let b = app.browser();
    let planted = b.get("/recover").await.csrf();
    let sent = app.recover_by(&b, "wei", "/recover/sms/send").await;
    assert_ne!(sent.csrf(), planted, "a new token when the recovery starts");
    let code = code_in(app.outbox_wait("sms", 1).await[0]["text"].as_str().unwrap());
    let proved = b
        .submit_page(&sent, "/recover/sms", &[("code", &code)])
        .await;
    assert_eq!(proved.location(), Some("/recover/password"));
    let form = b.get("/recover/password").await;
    assert_ne!(
        form.csrf(),
        sent.csrf(),
        "and another once the code is proved"
    );

    let new = "Violet-Harbour-74!";
    for stale in [planted.as_str(), sent.csrf().as_str()] {
        let forged = b
            .post_form(
                "/recover/password",
                &[("csrf", stale), ("new", new), ("repeat", new)],
            )
            .await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN, "{}", forged.body);
    }
    // Positive control: the form's own token sets the password.
    let done = b
        .submit_page(&form, "/recover/password", &[("new", new), ("repeat", new)])
        .await;
    assert_eq!(done.location(), Some("/recover/done"));
}

#[tokio::test]
async fn a_csrf_token_from_before_the_password_cannot_send_step_up_codes() {
    let app = TestApp::spawn_with(|c| {
        c.step_up.enabled = true;
        c.step_up.unknown_device = true;
    })
    .await;
    app.user_with(NewAccount {
        username: "sun@cnic.cn".into(),
        login_phone: Some("13312348347".into()),
        ..NewAccount::default()
    })
    .await;
    let b = app.browser();
    let planted = b.get("/login").await.csrf();
    assert_eq!(
        b.login("sun@cnic.cn", PASSWORD).await.location(),
        Some("/login/sms")
    );
    let page = b.get("/login/sms").await;
    assert_ne!(page.csrf(), planted);
    let forged = b.post_form("/login/sms/send", &[("csrf", &planted)]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(app.outbox("sms").is_empty(), "nothing was sent");
    // Positive control: the page's own token sends a code.
    let sent = b.submit_page(&page, "/login/sms/send", &[]).await;
    assert_eq!(sent.location(), Some("/login/sms"));
    assert_eq!(app.outbox("sms").len(), 1);
}
