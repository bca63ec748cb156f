//! The security e-mail page: set, confirm by link, change (the old address
//! is told), remove, and the refusals.

use reqwest::StatusCode;

use crate::helpers::{Browser, PASSWORD, TestApp, link_in};

async fn signed_in(app: &TestApp, name: &str) -> Browser {
    app.user(name).await;
    let b = app.browser();
    assert_eq!(b.login(name, PASSWORD).await.location(), Some("/account"));
    b
}

async fn request(b: &Browser, email: &str, password: &str) -> crate::helpers::Page {
    b.submit(
        "/account/email",
        "/account/email",
        &[("email", email), ("password", password)],
    )
    .await
}

/// Follows the confirmation link of the last mail in a fresh browser (the
/// mail client's) and presses the button.
async fn confirm_last(app: &TestApp) -> crate::helpers::Page {
    let mail = app.outbox("mail");
    let last = mail.last().unwrap();
    assert_eq!(last["purpose"], "email_confirm");
    let link = link_in(last["text"].as_str().unwrap());
    let path = link.strip_prefix(&app.base).unwrap().to_string();
    let b = app.browser();
    let page = b.get(&path).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let answer = b.submit_page(&page, "/account/email/confirm", &[]).await;
    if answer.status != StatusCode::SEE_OTHER {
        return answer;
    }
    b.redirected(answer, "/account/email/confirm").await
}

#[tokio::test]
async fn set_confirm_change_and_remove_the_security_email() {
    let app = TestApp::spawn().await;
    let b = signed_in(&app, "lisi").await;
    let home = b.get("/account").await;
    assert!(home.has("href=\"/account/email\""));
    let page = b.get("/account/email").await;
    assert!(page.has("密保邮箱仅用于找回密码"));

    // Refusals: wrong password, bad address.
    let wrong = request(&b, "li@example.org", "not-my-password").await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong.has("当前密码不正确"));
    let bad = request(&b, "not an address", PASSWORD).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.has("邮箱地址格式不正确"));
    assert!(app.outbox("mail").is_empty());

    let sent = request(&b, "Li@Example.org", PASSWORD).await;
    assert_eq!(sent.location(), Some("/account/email?sent=1"));
    let page = b.get("/account/email?sent=1").await;
    assert!(page.has("确认邮件已发送") && page.has("id=\"pending\""));
    let mail = app.outbox("mail");
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0]["to"], "Li@example.org");
    assert!(
        mail[0]["subject"]
            .as_str()
            .unwrap()
            .contains("确认密保邮箱")
    );
    // Not used for recovery before it is confirmed.
    let user = app
        .state
        .store
        .user_by_username("lisi")
        .await
        .unwrap()
        .unwrap();
    assert!(user.security_email.is_none());
    assert!(
        app.state
            .store
            .user_by_security_email("li@example.org")
            .await
            .unwrap()
            .is_none()
    );
    // Another mail within the minute is refused.
    let again = request(&b, "li2@example.org", PASSWORD).await;
    assert_eq!(again.status, StatusCode::TOO_MANY_REQUESTS);

    let done = confirm_last(&app).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(done.has("密保邮箱已确认"));
    let home = b.get("/account").await;
    assert!(
        home.has("l***@example.org") && home.has("badge ok"),
        "{}",
        home.body
    );
    let found = app
        .state
        .store
        .user_by_security_email("li@example.org")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.username, "lisi");
    assert_eq!(app.audit("security_email.verified").await.len(), 1);
    // The same link works once.
    let link = link_in(app.outbox("mail")[0]["text"].as_str().unwrap());
    let reused = app
        .browser()
        .get(link.strip_prefix(&app.base).unwrap())
        .await;
    assert_eq!(reused.status, StatusCode::GONE);
    assert!(reused.has("确认链接无效"));
    // The same address again is not a change.
    let same = request(&b, "li@example.org", PASSWORD).await;
    assert_eq!(same.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Change: the old address stays until the new one is confirmed, then
    // hears that it no longer recovers the account.
    let recent = format!("email-confirm-recent:{}", user.id);
    app.state.ephemeral.delete(&recent).await.unwrap();
    let sent = request(&b, "new@example.org", PASSWORD).await;
    assert_eq!(sent.location(), Some("/account/email?sent=1"));
    let user = app
        .state
        .store
        .user_by_username("lisi")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user.security_email.as_deref(), Some("li@example.org"));
    assert!(user.security_email_verified);
    confirm_last(&app).await;
    let user = app
        .state
        .store
        .user_by_username("lisi")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user.security_email.as_deref(), Some("new@example.org"));
    let notice = app.outbox_wait("mail", 3).await;
    assert_eq!(notice[2]["to"], "li@example.org");
    assert_eq!(notice[2]["purpose"], "email_changed_notice");
    assert!(
        notice[2]["text"]
            .as_str()
            .unwrap()
            .contains("n***@example.org")
    );

    // Remove (with the password).
    let page = b.get("/account/email").await;
    let refused = b
        .submit_page(&page, "/account/email/remove", &[("password", "nope")])
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let removed = b
        .submit_page(&page, "/account/email/remove", &[("password", PASSWORD)])
        .await;
    assert_eq!(removed.location(), Some("/account/email?removed=1"));
    let user = app
        .state
        .store
        .user_by_username("lisi")
        .await
        .unwrap()
        .unwrap();
    assert!(user.security_email.is_none() && !user.security_email_verified);
    let notice = app.outbox_wait("mail", 4).await;
    assert_eq!(notice[3]["to"], "new@example.org");
    assert_eq!(app.audit("security_email.removed").await.len(), 1);
}

#[tokio::test]
async fn a_verified_address_belongs_to_one_account() {
    let app = TestApp::spawn().await;
    let first = app.user("first").await;
    app.verified_email(&first, "shared@example.org").await;
    let b = signed_in(&app, "second").await;
    let sent = request(&b, "Shared@example.org", PASSWORD).await;
    assert_eq!(sent.location(), Some("/account/email?sent=1"));
    let taken = confirm_last(&app).await;
    assert_eq!(taken.status, StatusCode::CONFLICT);
    assert!(taken.has("该邮箱已是其他账号的密保邮箱"));
    let second = app
        .state
        .store
        .user_by_username("second")
        .await
        .unwrap()
        .unwrap();
    assert!(second.security_email.is_none());
}

#[tokio::test]
async fn the_pages_need_a_sign_in_and_speak_english() {
    let app = TestApp::spawn().await;
    let anonymous = app.browser();
    let page = anonymous.get("/account/email").await;
    assert!(page.location().unwrap().starts_with("/login"));
    let bad = anonymous.get("/account/email/confirm?token=forged").await;
    assert_eq!(bad.status, StatusCode::GONE);
    let b = signed_in(&app, "english").await;
    let page = b.get("/account/email?lang=en").await;
    assert!(page.has("Security e-mail") && page.has("Send the confirmation mail"));
    let sent = request(&b, "en@example.org", PASSWORD).await;
    assert_eq!(sent.location(), Some("/account/email?sent=1"));
    let mail = app.outbox("mail");
    assert!(
        mail[0]["subject"]
            .as_str()
            .unwrap()
            .contains("confirm your security e-mail")
    );
}

#[tokio::test]
async fn password_guesses_through_a_session_meet_the_login_limits() {
    let app = TestApp::spawn().await;
    let b = signed_in(&app, "guessed").await;
    for i in 0..5 {
        let wrong = request(&b, "g@example.org", &format!("guess-{i}")).await;
        assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY, "guess {i}");
    }
    let locked = request(&b, "g@example.org", "guess-5").await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(locked.has("尝试次数过多"));
    // Even the right password waits now; so does the password page.
    let right = request(&b, "g@example.org", PASSWORD).await;
    assert_eq!(right.status, StatusCode::TOO_MANY_REQUESTS);
    let page = b
        .submit(
            "/account/password",
            "/account/password",
            &[
                ("current", PASSWORD),
                ("new", "Violet-Harbour-73!"),
                ("repeat", "Violet-Harbour-73!"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.has("尝试次数过多"));
    assert!(app.outbox("mail").is_empty());
}

#[tokio::test]
async fn only_the_newest_link_counts_and_removal_ends_it() {
    let app = TestApp::spawn().await;
    let b = signed_in(&app, "zhou").await;
    let user = app
        .state
        .store
        .user_by_username("zhou")
        .await
        .unwrap()
        .unwrap();
    let recent = format!("email-confirm-recent:{}", user.id);
    let link_of = |n: usize| {
        let mail = app.outbox("mail");
        link_in(mail[n]["text"].as_str().unwrap())
            .strip_prefix(&app.base)
            .unwrap()
            .to_string()
    };
    request(&b, "first@example.org", PASSWORD).await;
    app.state.ephemeral.delete(&recent).await.unwrap();
    request(&b, "second@example.org", PASSWORD).await;
    let other = app.browser();
    assert_eq!(
        other.get(&link_of(0)).await.status,
        StatusCode::GONE,
        "a newer request replaces the first link"
    );
    assert_eq!(other.get(&link_of(1)).await.status, StatusCode::OK);
    // Removing ends the outstanding request too.
    let page = b.get("/account/email").await;
    assert!(page.has("second@example.org"), "shown as waiting");
    app.state.ephemeral.delete(&recent).await.unwrap();
    request(&b, "third@example.org", PASSWORD).await;
    let page = b.get("/account/email").await;
    assert!(!page.has("id=\"remove\""), "nothing to remove yet");
    app.verified_email(&user, "kept@example.org").await;
    let page = b.get("/account/email").await;
    assert!(page.has("id=\"remove\""), "{}", page.body);
    assert_eq!(
        other.get(&link_of(2)).await.status,
        StatusCode::OK,
        "the third link works until the removal"
    );
    b.submit_page(&page, "/account/email/remove", &[("password", PASSWORD)])
        .await;
    assert_eq!(other.get(&link_of(2)).await.status, StatusCode::GONE);
    // A password change also ends it.
    app.state.ephemeral.delete(&recent).await.unwrap();
    request(&b, "fourth@example.org", PASSWORD).await;
    let confirmations: Vec<_> = app
        .outbox("mail")
        .into_iter()
        .filter(|m| m["purpose"] == "email_confirm")
        .collect();
    assert_eq!(confirmations.len(), 4);
    let fourth = link_in(confirmations[3]["text"].as_str().unwrap())
        .strip_prefix(&app.base)
        .unwrap()
        .to_string();
    assert_eq!(other.get(&fourth).await.status, StatusCode::OK);
    tongxing::service::accounts::reset_password(
        &app.state,
        &user,
        Some(tongxing::domain::SecretPassword::new("Violet-Harbour-73!")),
        &tongxing::service::Actor::System,
        &tongxing::service::Origin::default(),
    )
    .await
    .unwrap();
    assert_eq!(other.get(&fourth).await.status, StatusCode::GONE);
}
