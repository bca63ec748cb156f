//! The admin console in the browser.

use reqwest::StatusCode;
use tongxing::service::accounts::NewAccount;

use crate::helpers::{PASSWORD, TestApp};

#[tokio::test]
async fn only_administrators_get_in() {
    let app = TestApp::spawn().await;
    app.user("plain@cnic.cn").await;
    let b = app.browser();
    assert_eq!(
        b.get("/admin").await.redirect(),
        (StatusCode::SEE_OTHER, Some("/login?return_to=%2Fadmin")),
        "sign in first"
    );
    b.login("plain@cnic.cn", PASSWORD).await;
    let page = b.get("/admin").await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(page.has("只有管理员可以访问管理控制台"));
    assert_eq!(b.get("/admin/users").await.status, StatusCode::FORBIDDEN);
    assert!(!b.get("/account").await.has("admin-link"));
}

#[tokio::test]
async fn an_administrator_manages_accounts_in_the_console() {
    let app = TestApp::spawn().await;
    let target = app
        .user_with(NewAccount {
            username: "zhao@cnic.cn".into(),
            organization: Some("化学所".into()),
            ..NewAccount::default()
        })
        .await;
    let b = app.browser();
    b.login("admin", &app.admin_password).await;
    assert!(b.get("/account").await.has("admin-link"));

    let dash = b.get("/admin").await;
    assert_eq!(dash.status, StatusCode::OK);
    assert!(dash.has("id=\"users-total\">2<"));
    let en = b.get("/admin?lang=en").await;
    assert!(en.has("Admin console") && en.has("Recent security events"));
    b.get("/admin?lang=zh-CN").await;

    let found = b.get("/admin/users?q=%E5%8C%96%E5%AD%A6").await;
    assert!(found.has("zhao@cnic.cn"));
    assert!(!found.has(">admin<"));
    let path = format!("/admin/users/{}", target.id);
    let detail = b.get(&path).await;
    assert!(detail.has("id=\"username\">zhao@cnic.cn"));

    // Profile edit, then a stale form is refused without overwriting.
    let done = b
        .submit_page(
            &detail,
            &path,
            &[
                ("action", "profile"),
                ("display_name", "赵六"),
                ("login_phone", "13700001111"),
            ],
        )
        .await;
    assert_eq!(
        done.redirect(),
        (
            StatusCode::SEE_OTHER,
            Some(format!("{path}?done=1").as_str())
        ),
        "{}",
        done.body
    );
    let stale = b
        .submit_page(
            &detail,
            &path,
            &[("action", "profile"), ("display_name", "Overwritten")],
        )
        .await;
    assert_eq!(stale.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(stale.has("该账号已被他人修改"));
    let now = app
        .state
        .store
        .user_by_id(target.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(now.display_name, "赵六");
    assert_eq!(now.login_phone.as_deref(), Some("+8613700001111"));
    let detail = b.get(&path).await;
    let bad = b
        .submit_page(
            &detail,
            &path,
            &[("action", "profile"), ("login_phone", "12")],
        )
        .await;
    assert!(bad.has("login_phone"), "the field is named");

    // Disable with a reason, enable, reset (generated, shown once), force, revoke.
    assert_eq!(
        app.browser()
            .login("zhao@cnic.cn", PASSWORD)
            .await
            .redirect(),
        (StatusCode::SEE_OTHER, Some("/account")),
        "usable until disabled"
    );
    let page = b.get(&path).await;
    b.submit_page(
        &page,
        &path,
        &[("action", "disable"), ("confirm", "1"), ("reason", "调离")],
    )
    .await;
    assert_eq!(
        app.browser().login("zhao@cnic.cn", PASSWORD).await.status,
        StatusCode::FORBIDDEN
    );
    let page = b.get(&path).await;
    assert!(page.has("调离"));
    b.submit_page(&page, &path, &[("action", "enable")]).await;
    let page = b.get(&path).await;
    let reset = b
        .submit_page(
            &page,
            &path,
            &[("action", "password"), ("confirm", "1"), ("password", "")],
        )
        .await;
    let done_url = format!("{path}?done=1");
    let reset = b.redirected(reset, &done_url).await;
    assert_eq!(reset.status, StatusCode::OK);
    assert!(
        !b.get(&done_url).await.has("id=\"generated\""),
        "a reload does not show the password again"
    );
    let marker = "id=\"generated\">";
    let start = reset.body.find(marker).unwrap();
    let code_start = reset.body[start..].find("<code>").unwrap() + start + 6;
    let code_end = reset.body[code_start..].find("</code>").unwrap() + code_start;
    let generated = crate::helpers::unescape(&reset.body[code_start..code_end]);
    assert_eq!(
        app.browser()
            .login("zhao@cnic.cn", &generated)
            .await
            .redirect(),
        (StatusCode::SEE_OTHER, Some("/login/sms")),
        "the generated password signs in (and, set by someone else, asks for the phone)"
    );
    assert!(!b.get(&path).await.has(&generated), "shown only once");
    let page = b.get(&path).await;
    b.submit_page(&page, &path, &[("action", "force")]).await;
    assert!(
        app.state
            .store
            .user_by_id(target.id)
            .await
            .unwrap()
            .unwrap()
            .must_change_password
    );
    let page = b.get(&path).await;
    b.submit_page(&page, &path, &[("action", "revoke"), ("confirm", "1")])
        .await;

    for event in [
        "account.updated",
        "account.disabled",
        "account.enabled",
        "account.password_set",
        "account.password_change_forced",
        "account.sessions_revoked",
    ] {
        assert!(
            app.audit(event).await.iter().any(|r| r.actor == "admin"),
            "{event}"
        );
    }
    // Actions need the CSRF token.
    let forged = b
        .post_form(&path, &[("action", "disable"), ("confirm", "1")])
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);

    let clients = b.get("/admin/clients").await;
    assert_eq!(clients.status, StatusCode::OK);
    let audit = b.get("/admin/audit?event=account.disabled").await;
    assert!(
        audit.has("data-kind=\"account.disabled\">停用账号<")
            && !audit.has("data-kind=\"login.success\"")
    );
    assert!(
        b.get("/admin/audit")
            .await
            .has("data-kind=\"login.success\">登录成功<"),
        "unfiltered, the sign-ins are there"
    );
    let by_user = b.get("/admin/audit?user=zhao%40cnic.cn").await;
    assert!(by_user.has("data-kind=\"account.updated\">修改账号资料<"));
}

#[tokio::test]
async fn console_actions_need_a_recent_sign_in() {
    let app = TestApp::spawn_with(|c| c.admin.reauth_minutes = 15.0).await;
    let b = app.browser();
    b.login("admin", &app.admin_password).await;
    assert_eq!(b.get("/admin").await.status, StatusCode::OK);
    app.advance(std::time::Duration::from_secs(14 * 60));
    assert_eq!(
        b.get("/admin/users").await.status,
        StatusCode::OK,
        "recent enough a minute before the limit"
    );
    app.advance(std::time::Duration::from_secs(61));
    let page = b.get("/admin/users").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let login = page.location().unwrap().to_string();
    assert!(login.starts_with("/login?force=1"), "{login}");
    let form = b.get(&login).await;
    assert!(form.has("value=\"admin\""), "the account is pre-filled");
    let back = b
        .submit_page(
            &form,
            "/login",
            &[("identifier", "admin"), ("password", &app.admin_password)],
        )
        .await;
    assert_eq!(back.location(), Some("/admin/users"));
    assert_eq!(b.get("/admin/users").await.status, StatusCode::OK);
}

#[tokio::test]
async fn an_administrator_cannot_demote_or_disable_themselves() {
    let app = TestApp::spawn().await;
    let b = app.browser();
    b.login("admin", &app.admin_password).await;
    let me = app
        .state
        .store
        .user_by_username("admin")
        .await
        .unwrap()
        .unwrap();
    let path = format!("/admin/users/{}", me.id);
    let page = b.get(&path).await;
    // The profile form without the admin box ticked.
    let refused = b
        .submit_page(
            &page,
            &path,
            &[("action", "profile"), ("display_name", "Boss")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.has("admin: you cannot remove your own administrator role"));
    assert!(
        refused.has("不能撤销自己的管理员角色"),
        "and in the page's language"
    );
    let page = b.get(&path).await;
    let refused = b
        .submit_page(&page, &path, &[("action", "disable"), ("confirm", "1")])
        .await;
    assert!(refused.has("you cannot disable your own account"));
    assert_eq!(
        b.get("/admin").await.status,
        StatusCode::OK,
        "still an administrator"
    );
}

#[tokio::test]
async fn an_administrator_creates_an_account_in_the_console() {
    let app = TestApp::spawn().await;
    app.org("CNIC").await;
    let b = app.browser();
    b.login("admin", &app.admin_password).await;
    let page = b.get("/admin/users").await;
    let created = b
        .submit_page(
            &page,
            "/admin/users",
            &[
                ("username", "new@cnic.cn"),
                ("display_name", "新人"),
                ("organization", "CNIC"),
            ],
        )
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let to = created.location().unwrap().to_string();
    assert!(
        to.starts_with("/admin/users/") && to.ends_with("?done=1"),
        "{to}"
    );
    let created = b.get(&to).await;
    assert!(created.has("id=\"generated\""), "{}", created.body);
    assert!(
        !b.get(&to).await.has("id=\"generated\""),
        "shown once: a reload does not show it again"
    );
    let start = created.body.find("<code>").unwrap() + 6;
    let end = created.body[start..].find("</code>").unwrap() + start;
    let password = crate::helpers::unescape(&created.body[start..end]);
    assert_eq!(
        app.browser()
            .login("new@cnic.cn", &password)
            .await
            .redirect(),
        (StatusCode::SEE_OTHER, Some("/account"))
    );
    let page = b.get("/admin/users").await;
    let dup = b
        .submit_page(&page, "/admin/users", &[("username", "new@cnic.cn")])
        .await;
    assert_eq!(dup.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(dup.has("username: already in use"));
    assert!(
        app.audit("account.created")
            .await
            .iter()
            .any(|r| r.actor == "admin")
    );
}

#[tokio::test]
async fn the_console_shows_phones_masked_reveals_them_audited_and_demands_a_binding() {
    let app = TestApp::spawn().await;
    let target = app
        .user_with(NewAccount {
            username: "qian@cnic.cn".into(),
            login_phone: Some("13312348347".into()),
            security_phone: Some("13912345678".into()),
            ..NewAccount::default()
        })
        .await;
    let b = app.browser();
    b.login("admin", &app.admin_password).await;
    let path = format!("/admin/users/{}", target.id);
    let detail = b.get(&path).await;
    assert!(detail.has("133****8347") && detail.has("139****5678"));
    assert!(
        !detail.has("13312348347") && !detail.has("13912345678"),
        "masked: {}",
        detail.body
    );
    // One click shows the full numbers, and the look is audited.
    assert!(app.audit("account.phones_viewed").await.is_empty());
    let full = b.submit_page(&detail, &path, &[("action", "phones")]).await;
    assert_eq!(full.status, StatusCode::OK);
    assert!(full.has("+8613312348347") && full.has("+8613912345678"));
    assert_eq!(app.audit("account.phones_viewed").await.len(), 1);
    // An empty phone field keeps the number; "clear" removes it.
    let kept = b
        .submit_page(
            &detail,
            &path,
            &[("action", "profile"), ("display_name", "钱七")],
        )
        .await;
    assert_eq!(kept.status, StatusCode::SEE_OTHER, "{}", kept.body);
    assert_eq!(
        app.stored("qian@cnic.cn").await.login_phone.as_deref(),
        Some("+8613312348347")
    );
    let detail = b.get(&path).await;
    let cleared = b
        .submit_page(
            &detail,
            &path,
            &[
                ("action", "profile"),
                ("display_name", "钱七"),
                ("clear_login_phone", "1"),
            ],
        )
        .await;
    assert_eq!(cleared.status, StatusCode::SEE_OTHER, "{}", cleared.body);
    assert_eq!(app.stored("qian@cnic.cn").await.login_phone, None);
    // Removing the login phone makes a binding owed at the next sign-in,
    // never skippable (the account had a phone).
    let detail = b.get(&path).await;
    assert!(detail.has("id=\"binding-owed\""), "{}", detail.body);
    assert!(!detail.has("id=\"require-binding\""));
    let person = app.browser();
    person.login("qian@cnic.cn", PASSWORD).await;
    let led = person.get("/account").await;
    assert!(led.location().unwrap().starts_with("/account/phone/bind"));

    // An account that never had a phone: the binding is demanded by hand.
    let sun = app.user("sun@cnic.cn").await;
    let path = format!("/admin/users/{}", sun.id);
    let detail = b.get(&path).await;
    assert!(!detail.has("id=\"binding-owed\""));
    let demanded = b
        .submit_page(&detail, &path, &[("action", "require_binding")])
        .await;
    assert_eq!(demanded.status, StatusCode::SEE_OTHER);
    assert!(b.get(&path).await.has("id=\"binding-owed\""));
    let person = app.browser();
    person.login("sun@cnic.cn", PASSWORD).await;
    let led = person.get("/account").await;
    assert!(led.location().unwrap().starts_with("/account/phone/bind"));
}
