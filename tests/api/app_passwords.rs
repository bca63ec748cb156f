//! Application-specific passwords (应用独立密码): made on the account page
//! for an application marked `app_passwords_allowed`, shown once grouped,
//! checked by `service::app_passwords::authenticate` (what the LDAP bind
//! calls), limited, revoked by the owner, by administrators and with every
//! change that hands the account over anew, refused for disabled and
//! weak-password-blocked accounts.

use reqwest::StatusCode;
use serde_json::Value;
use tongxing::service::accounts::{self, NewAccount};
use tongxing::service::app_passwords::{self, AuthError};
use tongxing::service::{Actor, Origin};
use tongxing::store::users::{AccountStatus, User};

use crate::admin_api::{Api, admin_token};
use crate::helpers::{Browser, PASSWORD, Page, TestApp, code_in};

const MINUTE: std::time::Duration = std::time::Duration::from_secs(60);
const NEW_PASSWORD: &str = "Violet-Harbour-73!";

/// Mail takes application passwords, the wiki does not.
async fn apps(app: &TestApp) {
    app.rp_with("mail", |c| {
        c.first_party = true;
        c.name = "邮件系统".into();
        c.name_en = Some("Mail".into());
        c.app_passwords_allowed = true;
    })
    .await;
    app.rp_with("wiki", |c| c.first_party = true).await;
}

fn from(ip: &str) -> Origin {
    Origin {
        ip: Some(ip.into()),
        user_agent: None,
    }
}

/// Checks `secret` for `user` and `client` as the LDAP bind does.
async fn check(app: &TestApp, username: &str, client: &str, secret: &str) -> Result<(), AuthError> {
    let user = app.stored(username).await;
    app_passwords::authenticate(&app.state, &user, client, secret, &from("203.0.113.9"))
        .await
        .map(|_| ())
}

fn is_invalid(r: Result<(), AuthError>) -> bool {
    matches!(r, Err(AuthError::Invalid))
}

/// Signs `username` in and opens the application-passwords page.
async fn signed_in(app: &TestApp, username: &str) -> (Browser, Page) {
    let b = app.browser();
    b.login(username, PASSWORD).await;
    let page = b.get("/account/app-passwords").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    (b, page)
}

/// Makes one on the page: the page after the redirect, and the secret
/// shown there.
async fn create(b: &Browser, label: &str, client: &str) -> (Page, String) {
    let form = b.get("/account/app-passwords").await;
    let answer = b
        .submit_page(
            &form,
            "/account/app-passwords",
            &[("label", label), ("client_id", client)],
        )
        .await;
    let page = b.redirected(answer, "/account/app-passwords").await;
    let secret = page
        .body
        .split("<code id=\"secret\">")
        .nth(1)
        .and_then(|s| s.split("</code>").next())
        .unwrap_or_else(|| panic!("no secret shown: {}", page.body))
        .to_string();
    (page, secret)
}

/// Makes one through the service, for a sign-in that is recent now.
async fn create_directly(app: &TestApp, user: &User, label: &str) -> String {
    let now = app.state.clock.now().unix_timestamp();
    app_passwords::create(
        &app.state,
        user,
        now,
        "mail",
        label,
        &Origin::default(),
        tongxing::i18n::Lang::ZhCn,
    )
    .await
    .unwrap()
    .secret
    .grouped()
}

#[tokio::test]
async fn a_password_is_shown_once_grouped_and_signs_in_to_its_application_only() {
    let app = TestApp::spawn().await;
    apps(&app).await;
    let user = app.user("li@cnic.cn").await;
    app.verified_email(&user, "li@example.org").await;
    app.user("wang@cnic.cn").await;
    let (b, page) = signed_in(&app, "li@cnic.cn").await;
    // Only the marked application can be chosen.
    assert!(
        page.has("<option value=\"mail\">邮件系统</option>"),
        "{}",
        page.body
    );
    assert!(!page.has("<option value=\"wiki\""));
    assert!(page.has("id=\"no-app-passwords\""));

    let (shown, secret) = create(&b, "iPhone 邮件", "mail").await;
    // 16 letters without i, l and o, in four groups.
    let groups: Vec<&str> = secret.split(' ').collect();
    assert_eq!(groups.len(), 4, "{secret}");
    assert!(groups.iter().all(|g| g.len() == 4));
    assert!(
        secret
            .chars()
            .all(|c| c == ' ' || (c.is_ascii_lowercase() && !"ilo".contains(c))),
        "{secret}"
    );
    assert!(shown.has("iPhone 邮件") && shown.has("邮件系统"));
    assert!(shown.has("从未使用"));
    // Shown once: a reload lists it without the secret.
    let again = b.get("/account/app-passwords").await;
    assert!(!again.has(&secret) && !again.has("id=\"secret\""));
    assert!(again.has("iPhone 邮件"));
    // Stored as a MAC with its key id, never as the secret.
    let rows = app
        .state
        .store
        .app_passwords_of(user.id, false)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].key_id, "1");
    assert_eq!(app.audit("app_password.created").await.len(), 1);

    // With or without spaces, in either case; for its application only.
    assert!(check(&app, "li@cnic.cn", "mail", &secret).await.is_ok());
    assert!(
        check(&app, "li@cnic.cn", "mail", &secret.replace(' ', ""))
            .await
            .is_ok()
    );
    assert!(
        check(&app, "li@cnic.cn", "mail", &secret.to_uppercase())
            .await
            .is_ok()
    );
    assert!(is_invalid(check(&app, "li@cnic.cn", "wiki", &secret).await));
    assert!(is_invalid(
        check(&app, "wang@cnic.cn", "mail", &secret).await
    ));
    assert!(is_invalid(
        check(&app, "li@cnic.cn", "mail", PASSWORD).await
    ));
    let mut wrong = secret.replace(' ', "").into_bytes();
    wrong[0] = if wrong[0] == b'a' { b'b' } else { b'a' };
    assert!(is_invalid(
        check(
            &app,
            "li@cnic.cn",
            "mail",
            std::str::from_utf8(&wrong).unwrap()
        )
        .await
    ));

    // The last use shows in the list: the time and the masked address.
    let used = b.get("/account/app-passwords").await;
    assert!(
        used.has("203.0.113.*") && !used.has("203.0.113.9"),
        "{}",
        used.body
    );
    assert!(!used.has("从未使用"));
    let english = b.get("/account/app-passwords?lang=en").await;
    assert!(english.has("Application passwords") && english.has(">Mail<"));

    // The notice mail names it and the application.
    let mail = app.outbox_wait("mail", 1).await;
    let notice = mail
        .iter()
        .find(|m| m["purpose"] == "app_password_notice")
        .unwrap_or_else(|| panic!("{mail:?}"));
    assert_eq!(notice["to"], "li@example.org");
    let text = notice["text"].as_str().unwrap();
    assert!(
        text.contains("iPhone 邮件") && text.contains("邮件系统"),
        "{text}"
    );
    assert!(!text.contains(&secret) && !text.contains(&secret.replace(' ', "")));
}

#[tokio::test]
async fn a_refused_form_says_why() {
    let app = TestApp::spawn().await;
    apps(&app).await;
    app.user("li@cnic.cn").await;
    let (b, page) = signed_in(&app, "li@cnic.cn").await;
    let wiki = b
        .submit_page(
            &page,
            "/account/app-passwords",
            &[("label", "x"), ("client_id", "wiki")],
        )
        .await;
    assert_eq!(wiki.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wiki.has("请从列表中选择应用"), "{}", wiki.body);
    let unnamed = b
        .submit_page(
            &page,
            "/account/app-passwords",
            &[("label", "  "), ("client_id", "mail")],
        )
        .await;
    assert_eq!(unnamed.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(unnamed.has("1 至 64 个字符"));
    let long = "x".repeat(65);
    let too_long = b
        .submit_page(
            &page,
            "/account/app-passwords",
            &[("label", &long), ("client_id", "mail")],
        )
        .await;
    assert_eq!(too_long.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Without the CSRF token nothing is made.
    let forged = b
        .post_form(
            "/account/app-passwords",
            &[("label", "x"), ("client_id", "mail")],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(app.audit("app_password.created").await.is_empty());
    // Positive control: the same form with a name and the mail works.
    create(&b, "x", "mail").await;
    assert_eq!(app.audit("app_password.created").await.len(), 1);
}

#[tokio::test]
async fn at_most_twenty_five_are_active() {
    let app = TestApp::spawn().await;
    apps(&app).await;
    let user = app.user("li@cnic.cn").await;
    for i in 0..25 {
        // Ten an hour may be made (each sends a mail).
        if i > 0 && i % 10 == 0 {
            app.advance(MINUTE * 61);
        }
        create_directly(&app, &user, &format!("device {i}")).await;
    }
    let (b, page) = signed_in(&app, "li@cnic.cn").await;
    let refused = b
        .submit_page(
            &page,
            "/account/app-passwords",
            &[("label", "one more"), ("client_id", "mail")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(refused.has("已达上限"), "{}", refused.body);
    assert_eq!(
        app_passwords::list(&app.state, &user).await.unwrap().len(),
        25
    );
    // Revoking one makes room again.
    let id = app_passwords::list(&app.state, &user).await.unwrap()[0].id;
    b.redirected(
        b.submit_page(
            &page,
            "/account/app-passwords/revoke",
            &[("id", &id.to_string())],
        )
        .await,
        "/account/app-passwords",
    )
    .await;
    create(&b, "one more", "mail").await;
    assert_eq!(
        app_passwords::list(&app.state, &user).await.unwrap().len(),
        25
    );
}

#[tokio::test]
async fn too_many_made_in_an_hour_are_refused() {
    let app = TestApp::spawn().await;
    apps(&app).await;
    let user = app.user("li@cnic.cn").await;
    for i in 0..10 {
        create_directly(&app, &user, &format!("d{i}")).await;
    }
    let (b, page) = signed_in(&app, "li@cnic.cn").await;
    let refused = b
        .submit_page(
            &page,
            "/account/app-passwords",
            &[("label", "d10"), ("client_id", "mail")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.header("retry-after").is_some());
    app.advance(MINUTE * 61);
    let (b, _) = signed_in(&app, "li@cnic.cn").await;
    create(&b, "d10", "mail").await;
}

#[tokio::test]
async fn an_old_sign_in_is_renewed_by_sms_or_a_new_sign_in_first() {
    let app = TestApp::spawn().await;
    apps(&app).await;
    app.user_with(NewAccount {
        username: "li@cnic.cn".into(),
        login_phone: Some("13312348347".into()),
        ..NewAccount::default()
    })
    .await;
    app.user("wang@cnic.cn").await;
    let (b, page) = signed_in(&app, "li@cnic.cn").await;
    assert!(page.has("id=\"create-form\""));
    app.advance(MINUTE * 11);
    let stale = b.get("/account/app-passwords").await;
    assert!(stale.has("id=\"not-fresh\"") && !stale.has("id=\"create-form\""));
    assert!(
        stale.has("id=\"confirm-form\""),
        "a phone: the SMS way is offered"
    );
    // A form from before is refused now.
    let refused = b
        .submit_page(
            &page,
            "/account/app-passwords",
            &[("label", "x"), ("client_id", "mail")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(app.audit("app_password.created").await.is_empty());
    // The SMS step-up renews the sign-in and comes back here.
    let step_up = b
        .redirected(
            b.submit_page(&stale, "/account/app-passwords/confirm", &[])
                .await,
            "/login/sms",
        )
        .await;
    b.redirected(
        b.submit_page(&step_up, "/login/sms/send", &[]).await,
        "/login/sms",
    )
    .await;
    let sms = app.outbox_wait("sms", 1).await;
    let code = code_in(sms.last().unwrap()["text"].as_str().unwrap());
    let back = b
        .redirected(
            b.submit_page(&step_up, "/login/sms", &[("code", &code)])
                .await,
            "/account/app-passwords",
        )
        .await;
    assert!(back.has("id=\"create-form\""), "{}", back.body);
    create(&b, "after sms", "mail").await;

    // Without a phone: a new sign-in (the form is shown even when signed in).
    let (w, _) = signed_in(&app, "wang@cnic.cn").await;
    app.advance(MINUTE * 11);
    let stale = w.get("/account/app-passwords").await;
    assert!(stale.has("id=\"relogin\"") && !stale.has("id=\"confirm-form\""));
    let login = w
        .get("/login?force=1&return_to=%2Faccount%2Fapp-passwords")
        .await;
    assert!(login.has("action=\"/login\""));
    let again = w
        .submit_page(
            &login,
            "/login",
            &[("identifier", "wang@cnic.cn"), ("password", PASSWORD)],
        )
        .await;
    let back = w.redirected(again, "/account/app-passwords").await;
    assert!(back.has("id=\"create-form\""), "{}", back.body);
    create(&w, "after sign-in", "mail").await;
}

#[tokio::test]
async fn the_owner_revokes_one_or_all() {
    let app = TestApp::spawn().await;
    apps(&app).await;
    let user = app.user("li@cnic.cn").await;
    let other = app.user("wang@cnic.cn").await;
    let theirs = create_directly(&app, &other, "theirs").await;
    let (b, _) = signed_in(&app, "li@cnic.cn").await;
    let (_, first) = create(&b, "phone", "mail").await;
    let (page, second) = create(&b, "laptop", "mail").await;
    let rows = app_passwords::list(&app.state, &user).await.unwrap();
    let phone = rows.iter().find(|r| r.label == "phone").unwrap().id;
    // Another account's id changes nothing.
    let their_id = app_passwords::list(&app.state, &other).await.unwrap()[0].id;
    b.submit_page(
        &page,
        "/account/app-passwords/revoke",
        &[("id", &their_id.to_string())],
    )
    .await;
    assert!(check(&app, "wang@cnic.cn", "mail", &theirs).await.is_ok());
    let done = b
        .redirected(
            b.submit_page(
                &page,
                "/account/app-passwords/revoke",
                &[("id", &phone.to_string())],
            )
            .await,
            "/account/app-passwords",
        )
        .await;
    assert!(done.has("已撤销该应用独立密码"));
    assert!(is_invalid(check(&app, "li@cnic.cn", "mail", &first).await));
    assert!(check(&app, "li@cnic.cn", "mail", &second).await.is_ok());
    let all = b
        .redirected(
            b.submit_page(&done, "/account/app-passwords/revoke-all", &[])
                .await,
            "/account/app-passwords",
        )
        .await;
    assert!(all.has("已撤销全部应用独立密码") && all.has("id=\"no-app-passwords\""));
    assert!(is_invalid(check(&app, "li@cnic.cn", "mail", &second).await));
    assert!(check(&app, "wang@cnic.cn", "mail", &theirs).await.is_ok());
    assert_eq!(app.audit("app_password.revoked").await.len(), 1);
    let revoked_all = app.audit("app_password.revoked_all").await;
    assert_eq!(revoked_all.len(), 1);
    assert!(
        revoked_all[0].detail.contains("\"count\":1"),
        "{}",
        revoked_all[0].detail
    );
}

#[tokio::test]
async fn a_password_change_revokes_them_unless_the_person_keeps_them() {
    let app = TestApp::spawn().await;
    apps(&app).await;
    let user = app.user("li@cnic.cn").await;
    let kept = create_directly(&app, &user, "kept").await;
    let (b, _) = signed_in(&app, "li@cnic.cn").await;
    let form = b.get("/account/password").await;
    assert!(
        form.has("name=\"keep_app_passwords\"") && form.has("1 个"),
        "{}",
        form.body
    );
    assert!(!form.has("name=\"keep_app_passwords\" value=\"1\" checked"));
    // Kept when the person says so.
    b.submit_page(
        &form,
        "/account/password",
        &[
            ("current", PASSWORD),
            ("new", NEW_PASSWORD),
            ("repeat", NEW_PASSWORD),
            ("keep_app_passwords", "1"),
        ],
    )
    .await;
    assert!(check(&app, "li@cnic.cn", "mail", &kept).await.is_ok());
    // Revoked by default.
    let form = b.get("/account/password").await;
    let changed = b
        .submit_page(
            &form,
            "/account/password",
            &[
                ("current", NEW_PASSWORD),
                ("new", "Amber-Lantern-58?"),
                ("repeat", "Amber-Lantern-58?"),
            ],
        )
        .await;
    assert_eq!(changed.status, StatusCode::SEE_OTHER, "{}", changed.body);
    assert!(is_invalid(check(&app, "li@cnic.cn", "mail", &kept).await));
    let rows = app
        .state
        .store
        .app_passwords_of(user.id, true)
        .await
        .unwrap();
    assert_eq!(rows[0].revoked_reason.as_deref(), Some("password changed"));
    assert_eq!(app.audit("app_password.revoked_all").await.len(), 1);
}

#[tokio::test]
async fn a_reset_by_an_administrator_and_a_recovery_revoke_them() {
    let app = TestApp::spawn_with(|c| c.sms.resend_secs = 0).await;
    apps(&app).await;
    let user = app
        .user_with(NewAccount {
            username: "li@cnic.cn".into(),
            login_phone: Some("13312348347".into()),
            ..NewAccount::default()
        })
        .await;
    // The administrator's reset.
    let before = create_directly(&app, &user, "before reset").await;
    accounts::reset_password(&app.state, &user, None, &Actor::System, &Origin::default())
        .await
        .unwrap();
    assert!(is_invalid(check(&app, "li@cnic.cn", "mail", &before).await));
    let rows = app
        .state
        .store
        .app_passwords_of(user.id, true)
        .await
        .unwrap();
    assert_eq!(rows[0].revoked_reason.as_deref(), Some("password reset"));

    // A recovery by SMS code.
    let user = app.stored("li@cnic.cn").await;
    let before = create_directly(&app, &user, "before recovery").await;
    let b = app.browser();
    let sent = app.recover_by(&b, "li@cnic.cn", "/recover/sms/send").await;
    let sms = app.outbox_wait("sms", 1).await;
    let code = code_in(sms.last().unwrap()["text"].as_str().unwrap());
    let proved = b
        .submit_page(&sent, "/recover/sms", &[("code", &code)])
        .await;
    assert_eq!(proved.location(), Some("/recover/password"));
    let form = b.get("/recover/password").await;
    assert!(check(&app, "li@cnic.cn", "mail", &before).await.is_ok());
    let done = b
        .submit_page(
            &form,
            "/recover/password",
            &[("new", NEW_PASSWORD), ("repeat", NEW_PASSWORD)],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert!(is_invalid(check(&app, "li@cnic.cn", "mail", &before).await));
    let rows = app
        .state
        .store
        .app_passwords_of(user.id, true)
        .await
        .unwrap();
    let row = rows.iter().find(|r| r.label == "before recovery").unwrap();
    assert_eq!(row.revoked_reason.as_deref(), Some("password recovered"));
    assert_eq!(app.audit("app_password.revoked_all").await.len(), 2);
}

#[tokio::test]
async fn revoke_all_for_serves_the_other_flows() {
    let app = TestApp::spawn().await;
    apps(&app).await;
    let user = app.user("li@cnic.cn").await;
    let secret = create_directly(&app, &user, "x").await;
    let n = app_passwords::revoke_all_for(
        &app.state,
        user.id,
        app_passwords::Reason::PasswordRetrieved,
        &Actor::System,
        &Origin::default(),
    )
    .await
    .unwrap();
    assert_eq!(n, 1);
    assert!(is_invalid(check(&app, "li@cnic.cn", "mail", &secret).await));
    let rows = app
        .state
        .store
        .app_passwords_of(user.id, true)
        .await
        .unwrap();
    assert_eq!(
        rows[0].revoked_reason.as_deref(),
        Some("password retrieved")
    );
    // Nothing left: nothing revoked, nothing audited again.
    let again = app_passwords::revoke_all_for(
        &app.state,
        user.id,
        app_passwords::Reason::PasswordRetrieved,
        &Actor::System,
        &Origin::default(),
    )
    .await
    .unwrap();
    assert_eq!(again, 0);
    assert_eq!(app.audit("app_password.revoked_all").await.len(), 1);
}

#[tokio::test]
async fn disabled_and_weak_password_blocked_accounts_are_refused() {
    let app = TestApp::spawn().await;
    app.rp_with("mail", |c| {
        c.first_party = true;
        c.app_passwords_allowed = true;
        c.require_strong_password = true;
    })
    .await;
    let user = app.user("li@cnic.cn").await;
    let secret = create_directly(&app, &user, "x").await;
    assert!(check(&app, "li@cnic.cn", "mail", &secret).await.is_ok());
    accounts::change_status(
        &app.state,
        &user,
        AccountStatus::Disabled,
        Some("left"),
        &Actor::System,
        &Origin::default(),
    )
    .await
    .unwrap();
    assert!(matches!(
        check(&app, "li@cnic.cn", "mail", &secret).await,
        Err(AuthError::Disabled)
    ));
    // A wrong secret learns nothing of the state.
    assert!(is_invalid(
        check(&app, "li@cnic.cn", "mail", "abcd efgh jkmn pqrs").await
    ));
    let user = app.stored("li@cnic.cn").await;
    accounts::change_status(
        &app.state,
        &user,
        AccountStatus::Active,
        None,
        &Actor::System,
        &Origin::default(),
    )
    .await
    .unwrap();
    assert!(check(&app, "li@cnic.cn", "mail", &secret).await.is_ok());
    // Blocked for the mail for a weak password.
    let user = app.stored("li@cnic.cn").await;
    tongxing::service::blocks::block_weak(
        &app.state,
        &user,
        &Actor::System,
        &Origin::default(),
        tongxing::i18n::Lang::ZhCn,
    )
    .await
    .unwrap();
    assert!(matches!(
        check(&app, "li@cnic.cn", "mail", &secret).await,
        Err(AuthError::Blocked(_))
    ));
    // And none can be made for it meanwhile.
    let user = app.stored("li@cnic.cn").await;
    let now = app.state.clock.now().unix_timestamp();
    let refused = app_passwords::create(
        &app.state,
        &user,
        now,
        "mail",
        "y",
        &Origin::default(),
        tongxing::i18n::Lang::ZhCn,
    )
    .await;
    assert!(
        matches!(refused, Err(app_passwords::AppPasswordError::Blocked(_))),
        "{refused:?}"
    );
}

#[tokio::test]
async fn administrators_list_and_revoke_them() {
    let app = TestApp::spawn().await;
    apps(&app).await;
    let user = app.user("li@cnic.cn").await;
    let first = create_directly(&app, &user, "phone").await;
    let second = create_directly(&app, &user, "laptop").await;
    let token = admin_token(&app).await;
    let api = Api::new(&app, &token);
    let path = format!("/api/v1/users/{}/app-passwords", user.id);
    let (status, list) = api.call("GET", &path, None).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let list = list.as_array().unwrap().clone();
    assert_eq!(list.len(), 2);
    let text = Value::Array(list.clone()).to_string();
    assert!(!text.contains(&first.replace(' ', "")) && !text.contains("\"mac\""));
    assert_eq!(list[0]["client_id"], "mail");
    let phone = list.iter().find(|p| p["label"] == "phone").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, _) = api.call("DELETE", &format!("{path}/{phone}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, problem) = api.call("DELETE", &format!("{path}/{phone}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{problem}");
    let (status, problem) = api.call("DELETE", &format!("{path}/not-an-id"), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(problem["field"], "password_id", "{problem}");
    assert!(is_invalid(check(&app, "li@cnic.cn", "mail", &first).await));
    assert!(check(&app, "li@cnic.cn", "mail", &second).await.is_ok());
    let revoked = app.audit("app_password.revoked").await;
    assert_eq!(revoked[0].actor, "client:ops-bot");
    let (status, body) = api.call("DELETE", &path, None).await;
    assert_eq!(
        (status, body["revoked"].as_u64()),
        (StatusCode::OK, Some(1))
    );
    assert!(is_invalid(check(&app, "li@cnic.cn", "mail", &second).await));
    let (_, list) = api.call("GET", &path, None).await;
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|p| p["revoked_at"].is_string())
    );
    assert_eq!(list[0]["revoked_reason"], "revoked by an administrator");

    // The console lists them and revokes them too.
    let third = create_directly(&app, &user, "tablet").await;
    let b = app.browser();
    b.login("admin", &app.admin_password).await;
    let page = b.get(&format!("/admin/users/{}", user.id)).await;
    assert!(
        page.has("id=\"app-passwords\"") && page.has("tablet"),
        "{}",
        page.body
    );
    assert!(page.has("已撤销"), "revoked ones are listed as such");
    b.submit_page(
        &page,
        &format!("/admin/users/{}", user.id),
        &[("action", "app_passwords_revoke_all"), ("confirm", "1")],
    )
    .await;
    assert!(is_invalid(check(&app, "li@cnic.cn", "mail", &third).await));
    // Why each was revoked, in the page's language (stored in English).
    let page = b.get(&format!("/admin/users/{}", user.id)).await;
    assert!(page.has("已撤销（管理员撤销）"), "{}", page.body);
    // (The audit entries below keep the stored reason in their detail.)
    assert!(!page.has("（revoked by"));
    let en = b.get(&format!("/admin/users/{}?lang=en", user.id)).await;
    assert!(en.has("(revoked by an administrator)"));
}
