//! Issue 18's hosted pages: the signed-in top bar, the account overview,
//! branding on anonymous pages, the help page, the application named on
//! the login page, consent's account line and its switch, content-named
//! static files and the favicon, the step-up wording, and the confirmation
//! after a forced password change.

use reqwest::StatusCode;
use tongxing::config::Config;
use tongxing::service::accounts::NewAccount;

use crate::helpers::{PASSWORD, Page, TestApp, query};
use crate::oidc_rules::{authorize_url, redeem};

/// The ids of the top bar's links marked as the current page.
fn current_items(page: &Page) -> Vec<String> {
    page.body
        .split("<a id=\"")
        .skip(1)
        .filter(|tag| {
            tag.split('>')
                .next()
                .unwrap_or_default()
                .contains("aria-current=\"page\"")
        })
        .map(|tag| tag.split('"').next().unwrap_or_default().to_string())
        .collect()
}

/// The text of the page's `<main>` (without the header's language switch).
fn main_of(page: &Page) -> &str {
    let start = page.body.find("<main>").expect("a main element");
    let end = page.body.find("</main>").expect("the end of main");
    &page.body[start..end]
}

fn has_chinese(s: &str) -> bool {
    s.chars().any(|c| {
        ('\u{4e00}'..='\u{9fff}').contains(&c)
            || ('\u{3000}'..='\u{303f}').contains(&c)
            || ('\u{ff00}'..='\u{ffef}').contains(&c)
    })
}

#[tokio::test]
async fn the_top_bar_marks_the_area_of_every_signed_in_page() {
    let app = TestApp::spawn().await;
    app.user_with(NewAccount {
        username: "li@cnic.cn".into(),
        login_phone: Some("13812345678".into()),
        security_phone: Some("13312348347".into()),
        ..NewAccount::default()
    })
    .await;
    let b = app.browser();
    // Anonymous: the brand, help and the language, no account links.
    let login = b.get("/login").await;
    assert!(login.has("id=\"nav-help\" href=\"/help\"") && login.has("id=\"lang-switch\""));
    assert!(!login.has("id=\"nav-home\"") && !login.has("id=\"nav-account\""));
    assert!(current_items(&login).is_empty());
    b.login("li@cnic.cn", PASSWORD).await;
    for (path, item) in [
        ("/account", "nav-home"),
        ("/account/profile", "nav-profile"),
        ("/account/email", "nav-manage"),
        ("/account/phone/unbind", "nav-manage"),
        ("/account/password", "nav-security"),
        ("/account/app-passwords", "nav-security"),
        ("/account/sessions", "nav-security"),
        ("/account/apps", "nav-apps"),
        ("/help", "nav-help"),
    ] {
        let page = b.get(path).await;
        assert_eq!(
            page.status,
            StatusCode::OK,
            "{path}: {:?} {}",
            page.location(),
            page.body
        );
        assert!(
            page.has("<nav id=\"nav\" aria-label=\"账号导航\">")
                && page.has("<details class=\"nav-menu\">")
                && page.has("<summary>菜单</summary>")
                && page.has("id=\"nav-menu\""),
            "{path}: the labelled bar, a menu on a phone"
        );
        for (id, label) in [
            ("nav-home", "首页"),
            ("nav-profile", "个人资料"),
            ("nav-manage", "账号管理"),
            ("nav-security", "账号安全"),
            ("nav-apps", "应用列表"),
            ("nav-help", "帮助"),
        ] {
            assert!(
                page.has(&format!("id=\"{id}\"")) && page.has(&format!(">{label}</a>")),
                "{path}: {id}"
            );
        }
        assert!(
            page.has("id=\"nav-account\">li@cnic.cn<") && page.has("id=\"nav-sign-out\""),
            "{path}"
        );
        assert_eq!(current_items(&page), vec![item.to_string()], "{path}");
    }
    let en = b.get("/account/profile?lang=en").await;
    for label in [
        "Home",
        "Profile",
        "Account",
        "Security",
        "Applications",
        "Help",
        "Sign out",
    ] {
        assert!(en.has(&format!(">{label}<")), "{label}: {}", en.body);
    }
    assert!(en.has("aria-label=\"Account navigation\"") && en.has("<summary>Menu</summary>"));
    // The bar's sign-out is a real one (with the page's CSRF token).
    let out = b.submit_page(&en, "/logout", &[]).await;
    assert!(
        out.status.is_redirection() || out.status == StatusCode::OK,
        "{}",
        out.body
    );
    assert_ne!(b.get("/account").await.status, StatusCode::OK, "signed out");
}

#[tokio::test]
async fn the_overview_shows_phones_password_email_and_applications() {
    let app = TestApp::spawn().await;
    app.user_with(NewAccount {
        username: "bare@cnic.cn".into(),
        ..NewAccount::default()
    })
    .await;
    let full = app
        .user_with(NewAccount {
            username: "full@cnic.cn".into(),
            login_phone: Some("13812345678".into()),
            security_phone: Some("13312348347".into()),
            ..NewAccount::default()
        })
        .await;
    app.verified_email(&full, "full@example.org").await;

    let b = app.browser();
    b.login("bare@cnic.cn", PASSWORD).await;
    let bare = b.get("/account").await;
    assert!(bare.has("id=\"account-verified\">已验证<"), "{}", bare.body);
    assert!(
        bare.has("<a href=\"/account/email\" id=\"email-change\">设置</a>"),
        "{}",
        bare.body
    );
    assert!(bare.has("id=\"password-change\">更改密码</a>"));
    assert!(bare.has("仅用于实名验证，不能作为账号登录"));
    assert!(bare.has("id=\"no-apps\""), "no application listed yet");

    app.rp_with("mail", |c| {
        c.first_party = true;
        c.name = "邮件系统".into();
        c.name_en = Some("Mail".into());
        c.logo_uri = Some("https://mail.example.org/logo.png".into());
        c.home_uri = Some("https://mail.example.org/".into());
        c.show_in_app_list = true;
    })
    .await;
    let b = app.browser();
    b.login("full@cnic.cn", PASSWORD).await;
    let page = b.get("/account").await;
    assert!(
        page.has("<a href=\"/account/email\" id=\"email-change\">更改</a>"),
        "{}",
        page.body
    );
    assert!(
        page.has("id=\"login-phone-change\">更改</a>")
            && page.has("id=\"security-phone-change\">更改</a>")
    );
    assert!(page.has("138****5678") && page.has("133****8347"));
    assert!(!page.has("id=\"no-apps\""));
    assert!(page.has("id=\"app-mail\" href=\"https://mail.example.org/\""));
    assert!(
        page.has("src=\"https://mail.example.org/logo.png\"") && page.has("<span>邮件系统</span>")
    );
    // The security e-mail page: each password field under its own heading.
    let email = b.get("/account/email").await;
    assert!(
        email.has("<h2 id=\"change-heading\">更改</h2>")
            && email.has("<h2 id=\"remove-heading\">删除密保邮箱</h2>"),
        "{}",
        email.body
    );
    let en = b.get("/account?lang=en").await;
    assert!(en.has("<span>Mail</span>") && en.has(">Change password</a>") && en.has(">Change</a>"));
}

#[tokio::test]
async fn the_profile_shows_the_accounts_details_read_only() {
    let app = TestApp::spawn().await;
    app.user_with(NewAccount {
        username: "li@cnic.cn".into(),
        display_name: Some("李雷".into()),
        ..NewAccount::default()
    })
    .await;
    let b = app.browser();
    assert_ne!(
        b.get("/account/profile").await.status,
        StatusCode::OK,
        "signed in only"
    );
    b.login("li@cnic.cn", PASSWORD).await;
    let page = b.get("/account/profile").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.has("id=\"profile-username\">li@cnic.cn<") && page.has("id=\"profile-name\">李雷<")
    );
    assert!(!main_of(&page).contains("<form"), "read-only");
}

#[tokio::test]
async fn anonymous_pages_carry_the_configured_branding() {
    let app = TestApp::spawn_with(|c| {
        c.branding.name_zh = "中国科学院某研究所".into();
        c.branding.name_en = "Institute of Examples".into();
        c.branding.logo_uri = Some("https://www.example.org/logo.svg".into());
    })
    .await;
    let b = app.browser();
    let zh = b.get("/login").await;
    assert!(
        zh.has("<span>中国科学院某研究所</span>")
            && zh.has("src=\"https://www.example.org/logo.svg\""),
        "{}",
        zh.body
    );
    assert!(zh.has("· 中国科学院某研究所</title>"));
    let en = b.get("/recover?lang=en").await;
    assert!(
        en.has("<span>Institute of Examples</span>") && !en.has("中国科学院某研究所"),
        "{}",
        en.body
    );
    // The error pages too (in the language chosen last).
    let missing = b.get("/no-such-page").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(
        missing.has("<span>Institute of Examples</span>"),
        "{}",
        missing.body
    );
    // Defaults: the passport's own name and mark.
    let plain = TestApp::spawn().await;
    let page = plain.browser().get("/login").await;
    assert!(
        page.has("<span>通行证</span>") && page.has("src=\"/static/favicon."),
        "{}",
        page.body
    );
}

#[test]
fn branding_is_validated() {
    let with = |f: fn(&mut Config)| {
        let mut c = Config::default();
        f(&mut c);
        c.validate().map_err(|e| e.to_string())
    };
    assert!(with(|_| {}).is_ok());
    assert!(with(|c| c.branding.logo_uri = Some("/static/logo.svg".into())).is_ok());
    assert!(with(|c| c.branding.logo_uri = Some("https://www.example.org/l.png".into())).is_ok());
    for (bad, key) in [
        (
            with(|c| c.branding.name_zh = "  ".into()),
            "branding.name_zh",
        ),
        (
            with(|c| c.branding.name_en = "x".repeat(65)),
            "branding.name_en",
        ),
        (
            with(|c| c.branding.name_en = "通行证".into()),
            "branding.name_en",
        ),
        (
            with(|c| c.branding.logo_uri = Some("javascript:alert(1)".into())),
            "branding.logo_uri",
        ),
        (
            with(|c| c.branding.logo_uri = Some("//evil.example/x.png".into())),
            "branding.logo_uri",
        ),
        (
            with(|c| c.branding.logo_uri = Some("http://www.example.org/l.png".into())),
            "branding.logo_uri",
        ),
    ] {
        let e = bad.expect_err(key);
        assert!(e.contains(key), "{e}");
    }
}

#[tokio::test]
async fn the_help_page_answers_in_both_languages_with_links_to_the_flows() {
    let app = TestApp::spawn().await;
    let b = app.browser();
    let zh = b.get("/help").await;
    assert_eq!(zh.status, StatusCode::OK);
    for text in [
        "忘记密码怎么办？",
        "收不到短信",
        "为什么登录时要输入短信验证码？",
        "邮件客户端",
        "密码过弱",
        "更换登录手机",
    ] {
        assert!(zh.has(text), "{text}");
    }
    for href in [
        "/recover",
        "/retrieve",
        "/account/phone/unbind",
        "/account/app-passwords",
        "/account/password",
        "/account/phone/login",
    ] {
        assert!(zh.has(&format!("<a href=\"{href}\">")), "{href}");
    }
    let en = b.get("/help?lang=en").await;
    assert!(en.has("I forgot my password") && en.has("application password"));
    assert!(!has_chinese(main_of(&en)), "{}", main_of(&en));
}

#[tokio::test]
async fn the_login_page_names_the_application_that_sent_the_person() {
    let app = TestApp::spawn().await;
    let rp = app
        .rp_with("mail", |c| {
            c.first_party = true;
            c.name = "邮件系统".into();
            c.name_en = Some("Mail".into());
            c.logo_uri = Some("https://mail.example.org/logo.png".into());
        })
        .await;
    let b = app.browser();
    let to_login = b
        .get(&authorize_url(&app, &rp, "").replacen(&app.base, "", 1))
        .await;
    let login_url = to_login.location().unwrap().to_string();
    assert!(login_url.starts_with("/login?"), "{login_url}");
    let zh = b.get(&login_url).await;
    assert!(
        zh.has("<span>登录以继续访问 邮件系统</span>"),
        "{}",
        zh.body
    );
    assert!(zh.has("id=\"client-logo\"") && zh.has("src=\"https://mail.example.org/logo.png\""));
    let en = b.get(&format!("{login_url}&lang=en")).await;
    assert!(
        en.has("Sign in to continue to Mail") && !en.has("邮件系统"),
        "{}",
        en.body
    );
    // A refused form keeps the context.
    let refused = b
        .submit_page(
            &zh,
            "/login",
            &[
                ("identifier", "nobody@cnic.cn"),
                ("password", "wrong-password"),
            ],
        )
        .await;
    assert!(
        refused.has("Sign in to continue to Mail"),
        "{}",
        refused.body
    );
    // Not sent by an application, or by one that is not registered: no name.
    let plain = b.get("/login").await;
    assert!(plain.has("id=\"login-form\"") || plain.has("action=\"/login\""));
    assert!(!plain.has("id=\"client-context\""));
    let unknown = b
        .get("/login?return_to=%2Fauthorize%3Fclient_id%3Dnobody%26response_type%3Dcode")
        .await;
    assert_eq!(unknown.status, StatusCode::OK);
    assert!(!unknown.has("id=\"client-context\""));
    // The show/hide button of the password field (shown by its script).
    assert!(
        zh.has("id=\"password-toggle\"")
            && zh.has("aria-pressed=\"false\"")
            && zh.has("aria-label=\"显示密码\"")
    );
    assert!(en.has("aria-label=\"Show password\""));
    assert!(zh.has("/static/password-toggle."));
}

#[tokio::test]
async fn consent_names_the_account_and_switching_gives_the_code_to_another() {
    let app = TestApp::spawn().await;
    app.user("li@cnic.cn").await;
    let wang = app.user("wang@cnic.cn").await;
    let rp = app.rp("wiki").await;
    let b = app.browser();
    b.login("li@cnic.cn", PASSWORD).await;
    let url = authorize_url(&app, &rp, "").replacen(&app.base, "", 1);
    let consent = b.get(&url).await;
    assert_eq!(consent.status, StatusCode::OK, "{}", consent.body);
    assert!(
        consent.has("id=\"consent-account\">当前登录账号：li@cnic.cn"),
        "{}",
        consent.body
    );
    assert!(
        consent.has("action=\"/authorize/switch\"") && consent.has("id=\"switch-account-button\"")
    );

    // Without the CSRF token nothing happens.
    let forged = b
        .post_form(
            "/authorize/switch",
            &[("csrf", "forged"), ("request", "client_id=wiki")],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(
        b.get("/account").await.status,
        StatusCode::OK,
        "still signed in"
    );

    let switched = b.submit_page(&consent, "/authorize/switch", &[]).await;
    let back = switched.location().unwrap().to_string();
    assert!(
        back.starts_with("/authorize?") && back.contains("client_id=wiki"),
        "{back}"
    );
    assert_ne!(b.get("/account").await.status, StatusCode::OK, "signed out");
    let to_client = b
        .authorize_as(&back, "wang@cnic.cn", PASSWORD, "allow")
        .await;
    let q = query(&to_client);
    assert_eq!(q["state"], "s1", "the same request: {to_client}");
    let (status, tokens) = redeem(&app, &rp, &q["code"]).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let userinfo: serde_json::Value = reqwest::Client::new()
        .get(format!("{}/userinfo", app.base))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(userinfo["sub"], wang.id.to_string(), "{userinfo}");
}

#[tokio::test]
async fn static_files_have_content_names_cached_for_a_year() {
    let app = TestApp::spawn().await;
    let b = app.browser();
    let login = b.get("/login").await;
    let href_of = |prefix: &str| {
        let start = login
            .body
            .find(prefix)
            .unwrap_or_else(|| panic!("{prefix}: {}", login.body));
        let rest = &login.body[start..];
        rest[..rest.find('"').unwrap()].to_string()
    };
    let css = href_of("/static/tongxing.");
    let icon = href_of("/static/favicon.");
    assert!(login.has(&format!(
        "<link rel=\"icon\" type=\"image/svg+xml\" href=\"{icon}\">"
    )));
    for (path, kind) in [(css.as_str(), "text/css"), (icon.as_str(), "image/svg+xml")] {
        let name = path.rsplit('/').next().unwrap();
        let hash = name.split('.').nth(1).unwrap();
        assert!(
            hash.len() == 12 && hash.chars().all(|c| c.is_ascii_hexdigit()),
            "{path}"
        );
        let answer = b.get(path).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}");
        assert!(answer.header("content-type").unwrap().starts_with(kind));
        assert_eq!(
            answer.header("cache-control"),
            Some("public, max-age=31536000, immutable"),
            "{path}"
        );
    }
    // The plain names keep working, cached briefly.
    for path in [
        "/static/tongxing.css",
        "/static/favicon.svg",
        "/static/strength.js",
        "/static/countdown.js",
    ] {
        let answer = b.get(path).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}");
        assert_eq!(
            answer.header("cache-control"),
            Some("public, max-age=3600"),
            "{path}"
        );
    }
    assert_eq!(
        b.get(&css).await.body,
        b.get("/static/tongxing.css").await.body
    );
    // A name with another hash is not served.
    assert_eq!(
        b.get("/static/tongxing.000000000000.css").await.status,
        StatusCode::NOT_FOUND
    );
    // The stylesheet makes a disabled button look disabled.
    assert!(b.get(&css).await.has("button:disabled"));
}

fn step_up_rules(c: &mut Config) {
    c.step_up.enabled = true;
    c.step_up.unknown_device = true;
}

#[tokio::test]
async fn the_step_up_page_says_a_code_was_sent_only_after_sending() {
    let app = TestApp::spawn_with(step_up_rules).await;
    app.user_with(NewAccount {
        username: "dev@cnic.cn".into(),
        security_phone: Some("13312348347".into()),
        ..NewAccount::default()
    })
    .await;
    let b = app.browser();
    assert_eq!(
        b.login("dev@cnic.cn", PASSWORD).await.location(),
        Some("/login/sms")
    );
    let before = b.get("/login/sms").await;
    assert!(
        before.has("点击“发送验证码”后，验证码将发送到以下手机"),
        "{}",
        before.body
    );
    assert!(!before.has("请输入发送到以下手机的验证码") && !before.has("验证码已发送"));
    let en = b.get("/login/sms?lang=en").await;
    assert!(
        en.has("it will be sent to") && !en.has("enter the code sent to"),
        "{}",
        en.body
    );
    let before = b.get("/login/sms?lang=zh-CN").await;
    let sent = b
        .redirected(
            b.submit_page(&before, "/login/sms/send", &[]).await,
            "/login/sms",
        )
        .await;
    assert!(
        sent.has("请输入发送到以下手机的验证码") && sent.has("验证码已发送"),
        "{}",
        sent.body
    );
    assert!(!sent.has("将发送到以下手机"));
    // Reloaded (the notice shown once): still says it was sent.
    let again = b.get("/login/sms").await;
    assert!(again.has("请输入发送到以下手机的验证码"), "{}", again.body);
}

#[tokio::test]
async fn a_forced_password_change_is_confirmed_before_going_on() {
    let app = TestApp::spawn().await;
    let user = app.user("li@cnic.cn").await;
    tongxing::service::accounts::force_password_change(
        &app.state,
        &user,
        &tongxing::service::Actor::System,
        &Default::default(),
    )
    .await
    .unwrap();
    let b = app.browser();
    b.login("li@cnic.cn", PASSWORD).await;
    let owed = b.get("/account/apps").await;
    let form_url = owed.location().unwrap().to_string();
    assert!(
        form_url.starts_with("/account/password?return_to="),
        "{form_url}"
    );
    let form = b.get(&form_url).await;
    assert!(form.has("id=\"forced\"") && form.has("id=\"new-password-toggle\""));
    let done = b
        .submit_page(
            &form,
            "/account/password",
            &[
                ("current", PASSWORD),
                ("new", "Changed-By-Me-7"),
                ("repeat", "Changed-By-Me-7"),
            ],
        )
        .await;
    let confirmation = b.get(done.location().unwrap()).await;
    assert!(confirmation.has("id=\"changed\""), "{}", confirmation.body);
    assert!(
        confirmation.has("href=\"/account/apps\" id=\"continue\""),
        "{}",
        confirmation.body
    );
    assert_eq!(
        b.get("/account/apps").await.status,
        StatusCode::OK,
        "nothing owed any more"
    );
}
