//! Hosted login, logout and the account page.

use reqwest::StatusCode;
use tongxing::service::accounts::NewAccount;

use crate::helpers::{PASSWORD, SIGN_IN_FIRST, TestApp};

const INVALID_ZH: &str = "账号或密码错误";

#[tokio::test]
async fn login_with_account_name_renews_the_session_and_shows_the_account() {
    let app = TestApp::spawn().await;
    app.user_with(NewAccount {
        username: "zhang@cnic.cn".into(),
        display_name: Some("张三".into()),
        login_phone: Some("13312348347".into()),
        security_email: Some("zhang.san@example.org".into()),
        organization: Some("计算机网络信息中心".into()),
        ..NewAccount::default()
    })
    .await;
    let b = app.browser();

    let form = b.get("/login").await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(
        b.cookie("tongxing_session").is_none(),
        "the login form stores no session"
    );

    let done = b.login("Zhang@CNIC.cn", PASSWORD).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.location(), Some("/account"));
    let before = b.cookie("tongxing_session").unwrap();
    // Signing in again (a forced login) renews the session id too.
    let again = b
        .submit(
            "/login?force=1",
            "/login",
            &[("identifier", "Zhang@CNIC.cn"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(again.status, StatusCode::SEE_OTHER, "{}", again.body);
    let after = b.cookie("tongxing_session").unwrap();
    assert_ne!(before, after, "the session id must change at login");

    let account = b.get("/account").await;
    assert_eq!(account.status, StatusCode::OK);
    assert!(account.has("zhang@cnic.cn"));
    assert!(account.has("张三"));
    assert!(account.has("133****8347"), "phones are masked");
    assert!(!account.has("13312348347"));
    assert!(account.has("z***@example.org"));
    assert!(account.has("未验证"), "security e-mail not yet verified");
    assert!(account.has("计算机网络信息中心"));

    let ok = app.audit("login.success").await;
    assert_eq!(ok.len(), 2, "both sign-ins");
    assert_eq!(ok[0].subject.as_deref(), Some("zhang@cnic.cn"));
    assert_eq!(ok[0].ip.as_deref(), Some("127.0.0.1"));
}

#[tokio::test]
async fn login_with_the_login_phone() {
    let app = TestApp::spawn().await;
    app.user_with(NewAccount {
        username: "li@cnic.cn".into(),
        login_phone: Some("+86 133 1234 8347".into()),
        ..NewAccount::default()
    })
    .await;
    let b = app.browser();
    let done = b.login("13312348347", PASSWORD).await;
    assert_eq!(
        done.redirect(),
        (StatusCode::SEE_OTHER, Some("/account")),
        "{}",
        done.body
    );
    assert!(b.get("/account").await.has("li@cnic.cn"));
}

#[tokio::test]
async fn wrong_password_and_unknown_account_get_the_same_answer() {
    let app = TestApp::spawn().await;
    app.user("wang@cnic.cn").await;
    let wrong = app
        .browser()
        .login("wang@cnic.cn", "Not-The-Password-1")
        .await;
    let unknown = app
        .browser()
        .login("nobody@cnic.cn", "Not-The-Password-1")
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.has(INVALID_ZH) && unknown.has(INVALID_ZH));
    // Same page apart from the per-session CSRF token and the echoed name.
    let strip =
        |p: &crate::helpers::Page, name: &str| p.body.replace(&p.csrf(), "").replace(name, "");
    assert_eq!(
        strip(&wrong, "wang@cnic.cn"),
        strip(&unknown, "nobody@cnic.cn")
    );
    let failures = app.audit("login.failure").await;
    assert_eq!(failures.len(), 2);
    assert!(
        failures
            .iter()
            .any(|f| f.detail.contains("unknown_account"))
    );
    assert!(failures.iter().any(|f| f.detail.contains("wrong_password")));
}

#[tokio::test]
async fn missing_fields_are_reported() {
    let app = TestApp::spawn().await;
    let page = app.browser().login("", "").await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.has("请输入账号和密码"));
}

#[tokio::test]
async fn disabled_account_is_told_so_only_with_the_right_password() {
    let app = TestApp::spawn().await;
    app.user("zhao@cnic.cn").await;
    let out = app
        .cli(
            &["user", "disable", "zhao@cnic.cn", "--reason", "left"],
            None,
        )
        .await;
    assert_eq!(out.code, 0, "{out:?}");

    let wrong = app
        .browser()
        .login("zhao@cnic.cn", "Wrong-password-1")
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(!wrong.has("停用"));

    let right = app.browser().login("zhao@cnic.cn", PASSWORD).await;
    assert_eq!(right.status, StatusCode::FORBIDDEN);
    assert!(right.has("该账号已被停用"));
    let b = app.browser();
    let en = b.get("/login?lang=en").await;
    assert_eq!(en.status, StatusCode::OK);
    let right_en = b.login("zhao@cnic.cn", PASSWORD).await;
    assert!(right_en.has("This account has been disabled"));
    let f = app.audit("login.failure").await;
    assert!(f.iter().any(|e| e.detail.contains("disabled")));
}

#[tokio::test]
async fn repeated_failures_lock_the_account_with_a_stated_wait() {
    let app = TestApp::spawn().await;
    app.user("sun@cnic.cn").await;
    let b = app.browser();
    // Five free failures (the default), the sixth locks.
    for i in 0..5 {
        let p = b.login("sun@cnic.cn", "Wrong-password-1").await;
        assert_eq!(p.status, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    // The fifth failure locked: the sixth attempt is refused unchecked.
    assert_eq!(app.audit("login.lockout").await.len(), 1);
    let sixth = b.login("sun@cnic.cn", "Wrong-password-1").await;
    assert_eq!(sixth.status, StatusCode::TOO_MANY_REQUESTS);

    // Now even the right password is refused, from any browser, with the wait.
    let locked = app.browser().login("sun@cnic.cn", PASSWORD).await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = locked.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=30).contains(&retry), "{retry}");
    assert!(locked.has("尝试次数过多"));
    assert!(locked.has("秒"), "the wait is stated");
    assert_eq!(app.audit("login.throttled").await.len(), 2);
    assert_eq!(
        app.audit("login.failure").await.len(),
        5,
        "only five passwords were checked"
    );
    assert!(app.audit("login.success").await.is_empty());

    // The lock follows the identifier as typed (case-insensitive).
    let other = app.browser().login("SUN@cnic.cn", PASSWORD).await;
    assert_eq!(other.status, StatusCode::TOO_MANY_REQUESTS);

    // Unknown accounts lock the same way: no enumeration through locks.
    for _ in 0..6 {
        b.login("ghost@cnic.cn", "Wrong-password-1").await;
    }
    assert_eq!(
        b.login("ghost@cnic.cn", "Wrong-password-1").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn delays_grow_with_each_further_failure() {
    let app = TestApp::spawn_with(|c| {
        c.login_limits.account_free_failures = 1;
        c.login_limits.base_delay_secs = 100;
    })
    .await;
    app.user("qian@cnic.cn").await;
    let b = app.browser();
    b.login("qian@cnic.cn", "Wrong-password-1").await; // locks for 100 s
    b.login("qian@cnic.cn", "Wrong-password-1").await;
    let first: u64 = b
        .login("qian@cnic.cn", PASSWORD)
        .await
        .header("retry-after")
        .unwrap()
        .parse()
        .unwrap();
    assert!((90..=100).contains(&first), "{first}");
    let locks = app.audit("login.lockout").await;
    assert!(
        locks[0].detail.contains("\"lock_secs\":100"),
        "{}",
        locks[0].detail
    );
}

#[tokio::test]
async fn many_accounts_from_one_address_lock_the_address() {
    let app = TestApp::spawn_with(|c| c.login_limits.ip_free_failures = 3).await;
    app.user("zhou@cnic.cn").await;
    let b = app.browser();
    for i in 0..4 {
        b.login(&format!("guess{i}@cnic.cn"), "Wrong-password-1")
            .await;
    }
    let page = b.login("zhou@cnic.cn", PASSWORD).await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS);
    let locks = app.audit("login.lockout").await;
    assert!(locks.iter().any(|l| l.detail.contains("\"scope\":\"ip\"")));
}

#[tokio::test]
async fn forms_without_the_right_csrf_token_are_refused() {
    let app = TestApp::spawn().await;
    app.user("wu@cnic.cn").await;
    let b = app.browser();
    b.get("/login").await;
    let missing = b
        .post_form(
            "/login",
            &[("identifier", "wu@cnic.cn"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(missing.status, StatusCode::FORBIDDEN);
    assert!(missing.has("页面已过期"));
    let wrong = b
        .post_form(
            "/login",
            &[
                ("csrf", "forged"),
                ("identifier", "wu@cnic.cn"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    // A token from another session does not work either.
    let other = app.browser().get("/login").await.csrf();
    let stolen = b
        .post_form(
            "/login",
            &[
                ("csrf", &other),
                ("identifier", "wu@cnic.cn"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(stolen.status, StatusCode::FORBIDDEN);
    assert_eq!(
        b.get("/account").await.redirect(),
        SIGN_IN_FIRST,
        "not signed in"
    );
    assert!(app.audit("login.success").await.is_empty());

    // Logout needs the token too: a POST without it is treated as an
    // application's logout request and only asks for confirmation; a wrong
    // token is refused.
    assert_eq!(
        b.login("wu@cnic.cn", PASSWORD).await.redirect(),
        (StatusCode::SEE_OTHER, Some("/account")),
        "the same fields with this session's token sign in"
    );
    assert_eq!(app.audit("login.success").await.len(), 1);
    let posted = b.post_form("/logout", &[]).await;
    assert_eq!(posted.status, StatusCode::SEE_OTHER);
    let asked = b.get(posted.location().unwrap()).await;
    assert_eq!(asked.status, StatusCode::OK);
    assert!(asked.has("确定要退出通行证吗"));
    assert_eq!(
        b.post_form("/logout", &[("csrf", "forged")]).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        b.get("/account").await.status,
        StatusCode::OK,
        "still signed in"
    );
}

#[tokio::test]
async fn account_page_requires_login_and_returns_there() {
    let app = TestApp::spawn().await;
    app.user("zheng@cnic.cn").await;
    let b = app.browser();
    let page = b.get("/account").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), Some("/login?return_to=%2Faccount"));
    let form = b.get(page.location().unwrap()).await;
    assert!(form.has("value=\"/account\""));
    let csrf = form.csrf();
    let done = b
        .post_form(
            "/login",
            &[
                ("csrf", &csrf),
                ("identifier", "zheng@cnic.cn"),
                ("password", PASSWORD),
                ("return_to", "//evil.example/"),
            ],
        )
        .await;
    assert_eq!(
        done.location(),
        Some("/account"),
        "off-site return_to is ignored"
    );
    // Signed in, the login page goes straight on.
    assert_eq!(
        b.get("/login").await.redirect(),
        (StatusCode::SEE_OTHER, Some("/account"))
    );
}

#[tokio::test]
async fn login_hint_prefills_the_form() {
    let app = TestApp::spawn().await;
    let page = app.browser().get("/login?login_hint=feng%40cnic.cn").await;
    assert!(page.has("value=\"feng@cnic.cn\""));
}

#[tokio::test]
async fn logout_asks_then_ends_the_session() {
    let app = TestApp::spawn().await;
    app.user("chen@cnic.cn").await;
    let b = app.browser();
    b.login("chen@cnic.cn", PASSWORD).await;
    let confirm = b.get("/logout").await;
    assert!(confirm.has("确定要退出通行证吗"));
    assert_eq!(
        b.get("/account").await.status,
        StatusCode::OK,
        "GET alone does not sign out"
    );
    let done = b.submit("/logout", "/logout", &[]).await;
    assert_eq!(done.redirect(), (StatusCode::SEE_OTHER, Some("/logout")));
    assert!(b.get("/logout").await.has("您已安全退出"));
    assert_eq!(b.get("/account").await.redirect(), SIGN_IN_FIRST);
    let events = app.audit("logout").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].actor, "chen@cnic.cn");
}

#[tokio::test]
async fn disabling_or_a_new_password_ends_existing_sessions() {
    let app = TestApp::spawn().await;
    app.user("han@cnic.cn").await;
    let b = app.browser();
    b.login("han@cnic.cn", PASSWORD).await;
    assert_eq!(b.get("/account").await.status, StatusCode::OK);
    let out = app
        .cli(
            &["user", "passwd", "han@cnic.cn", "--password-stdin"],
            Some("Another-Secret-7\n"),
        )
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        b.get("/account").await.redirect(),
        SIGN_IN_FIRST,
        "password change ends the session"
    );

    b.login("han@cnic.cn", "Another-Secret-7").await;
    assert_eq!(b.get("/account").await.status, StatusCode::OK);
    assert_eq!(
        app.cli(&["user", "disable", "han@cnic.cn"], None)
            .await
            .code,
        0
    );
    assert_eq!(
        b.get("/account").await.redirect(),
        SIGN_IN_FIRST,
        "disabling ends the session"
    );
}

#[tokio::test]
async fn stored_hashes_are_upgraded_when_parameters_change() {
    let app = TestApp::spawn().await;
    let user = app.user("yang@cnic.cn").await;
    assert!(user.password_hash.contains("m=1024,t=1,p=1"));
    let mut config = app.config.clone();
    config.password_hash.iterations = 2;
    config.bootstrap_admin = false;
    let stronger = {
        // A node started with new parameters, on the same database.
        let mut c = config.clone();
        c.listen = "127.0.0.1:0".parse().unwrap();
        let app2 = tongxing::App::build(c).await.unwrap();
        let state = app2.state().clone();
        let origin = tongxing::service::Origin::default();
        let pw = tongxing::domain::SecretPassword::new(PASSWORD);
        tongxing::service::login::password_login(
            &state,
            "yang@cnic.cn",
            &pw,
            None,
            &origin,
            tongxing::i18n::Lang::ZhCn,
        )
        .await
        .unwrap();
        // This node is not one of the test's: its queued entries are
        // written before the test reads them.
        state.audit.flush().await.unwrap();
        state
    };
    let after = stronger
        .store
        .user_by_username("yang@cnic.cn")
        .await
        .unwrap()
        .unwrap();
    assert!(
        after.password_hash.contains("m=1024,t=2,p=1"),
        "{}",
        after.password_hash
    );
    assert_eq!(
        after.session_epoch, user.session_epoch,
        "a re-hash does not end sessions"
    );
    assert!(
        app.audit("login.success").await[0]
            .detail
            .contains("\"rehashed\":true")
    );
}

#[tokio::test]
async fn the_first_start_admin_can_sign_in() {
    let app = TestApp::spawn().await;
    assert_eq!(app.admin_password.len(), 20);
    let b = app.browser();
    assert_eq!(
        b.login("admin", &app.admin_password).await.redirect(),
        (StatusCode::SEE_OTHER, Some("/account"))
    );
    let page = b.get("/account").await;
    assert!(page.has("管理员"), "shown as an administrator");
    let created = app.audit("account.created").await;
    let admin = created
        .iter()
        .find(|r| r.subject.as_deref() == Some("admin"))
        .unwrap();
    assert_eq!(admin.actor, "system");
}

#[tokio::test]
async fn parallel_guesses_cannot_pass_the_limit() {
    let app = TestApp::spawn().await;
    app.user("para@cnic.cn").await;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let b = app.browser();
        tasks.push(tokio::spawn(async move {
            b.login("para@cnic.cn", "Wrong-password-1").await.status
        }));
    }
    let mut checked = 0;
    for t in tasks {
        if t.await.unwrap() == StatusCode::UNAUTHORIZED {
            checked += 1;
        }
    }
    // Attempts in progress hold the account's slots: exactly the five free
    // guesses are checked, however the twenty interleave.
    assert_eq!(checked, 5, "{checked} passwords were checked");
    assert_eq!(app.audit("login.failure").await.len(), checked);
}

#[tokio::test]
async fn a_locked_phone_does_not_reveal_its_account() {
    let app = TestApp::spawn().await;
    app.user_with(NewAccount {
        username: "gao@cnic.cn".into(),
        login_phone: Some("13900001111".into()),
        ..NewAccount::default()
    })
    .await;
    let b = app.browser();
    for _ in 0..6 {
        b.login("gao@cnic.cn", "Wrong-password-1").await;
    }
    assert_eq!(
        app.browser().login("gao@cnic.cn", PASSWORD).await.status,
        StatusCode::TOO_MANY_REQUESTS,
        "the account name is locked"
    );
    // The phone of the locked account is not locked: locks do not link
    // identifiers to accounts.
    assert_eq!(
        app.browser()
            .login("13900001111", "Wrong-password-1")
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn changing_the_own_password() {
    let app = TestApp::spawn().await;
    app.user("pw@cnic.cn").await;
    let b = app.browser();
    b.login("pw@cnic.cn", PASSWORD).await;
    let other = app.browser();
    other.login("pw@cnic.cn", PASSWORD).await;
    let form = b.get("/account/password").await;
    assert!(form.has("通行证密码同时也是邮件系统的密码"));
    let wrong = b
        .submit_page(
            &form,
            "/account/password",
            &[
                ("current", "nope"),
                ("new", "Brand-New-Pass-1"),
                ("repeat", "Brand-New-Pass-1"),
            ],
        )
        .await;
    assert!(wrong.has("当前密码不正确"));
    let form = b.get("/account/password").await;
    let differ = b
        .submit_page(
            &form,
            "/account/password",
            &[
                ("current", PASSWORD),
                ("new", "Brand-New-Pass-1"),
                ("repeat", "Brand-New-Pass-2"),
            ],
        )
        .await;
    assert!(differ.has("两次输入的新密码不一致"));
    let form = b.get("/account/password").await;
    assert!(form.has("id=\"strength-meter\"") && form.has(tongxing::routes::STRENGTH_JS));
    let common = b
        .submit_page(
            &form,
            "/account/password",
            &[
                ("current", PASSWORD),
                ("new", "Password123!"),
                ("repeat", "Password123!"),
            ],
        )
        .await;
    assert!(
        common.has("密码太容易被猜到"),
        "the server estimates strength: {}",
        common.body
    );
    assert_eq!(b.get("/static/strength.js").await.status, StatusCode::OK);
    let form = b.get("/account/password?lang=en").await;
    let weak = b
        .submit_page(
            &form,
            "/account/password",
            &[("current", PASSWORD), ("new", "short"), ("repeat", "short")],
        )
        .await;
    assert!(
        weak.has("At least this many characters: 10") && weak.has("needs a digit"),
        "{}",
        weak.body
    );
    let form = b.get("/account/password").await;
    let ok = b
        .submit_page(
            &form,
            "/account/password",
            &[
                ("current", PASSWORD),
                ("new", "Brand-New-Pass-1"),
                ("repeat", "Brand-New-Pass-1"),
            ],
        )
        .await;
    assert_eq!(
        ok.redirect(),
        (StatusCode::SEE_OTHER, Some("/account/password?done=1"))
    );
    assert!(
        b.get(ok.location().unwrap())
            .await
            .has("Your password has been changed")
    );
    assert_eq!(
        b.get("/account").await.status,
        StatusCode::OK,
        "this session goes on"
    );
    assert_eq!(
        other.get("/account").await.redirect(),
        SIGN_IN_FIRST,
        "the other one ends"
    );
    assert_eq!(
        app.browser()
            .login("pw@cnic.cn", "Brand-New-Pass-1")
            .await
            .redirect(),
        (StatusCode::SEE_OTHER, Some("/account"))
    );
}
