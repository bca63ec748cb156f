//! Forgotten password (`/recover`): by SMS code and by e-mail link, the
//! revocations and notices that follow, expiry and reuse, the answers that
//! must not reveal accounts, and the limits.

use reqwest::StatusCode;
use tongxing::service::accounts::NewAccount;
use tongxing::store::users::User;

use crate::helpers::{PASSWORD, Page, TestApp, code_in, link_in};
use crate::oidc_rules::{authorize_url, redeem, token};

const NEW_PASSWORD: &str = "Violet-Harbour-73!";
const PHONE: &str = "+8613800138000";

async fn account_with_phone_and_email(app: &TestApp, name: &str, email: &str) -> User {
    let user = app
        .user_with(NewAccount {
            username: name.into(),
            login_phone: Some(PHONE.into()),
            ..NewAccount::default()
        })
        .await;
    app.verified_email(&user, email).await;
    app.state.store.user_by_id(user.id).await.unwrap().unwrap()
}

/// The body without its CSRF tokens (which differ per session).
fn normalized(page: &Page) -> String {
    let mut out = String::new();
    let mut rest = page.body.as_str();
    let marker = "name=\"csrf\" value=\"";
    while let Some(i) = rest.find(marker) {
        out.push_str(&rest[..i + marker.len()]);
        rest = &rest[i + marker.len()..];
        rest = &rest[rest.find('"').unwrap()..];
    }
    out.push_str(rest);
    out
}

#[tokio::test]
async fn recovery_by_sms_code_resets_the_password_and_revokes_everything() {
    let app = TestApp::spawn().await;
    let user = account_with_phone_and_email(&app, "wangwu", "wang@example.org").await;
    // A signed-in browser and an application holding tokens.
    let rp = app.rp_with("mail", |c| c.first_party = true).await;
    let signed_in = app.browser();
    let back = signed_in
        .authorize_as(&authorize_url(&app, &rp, ""), "wangwu", PASSWORD, "allow")
        .await;
    let (status, tokens) = redeem(&app, &rp, &crate::helpers::query(&back)["code"]).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let refresh = tokens["refresh_token"].as_str().unwrap().to_string();

    let b = app.browser();
    // The login page offers the way here.
    assert!(b.get("/login").await.has("href=\"/recover\""));
    // A wrong captcha answer is refused, and a new picture is shown.
    let page = b.get("/recover").await;
    let wrong = b
        .submit_page(
            &page,
            "/recover",
            &[("identifier", "wangwu"), ("captcha", "wrong")],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong.has("图片验证码错误") && wrong.has("value=\"wangwu\""));
    assert!(wrong.has("data:image/png;base64,"));
    assert_eq!(app.audit("recovery.captcha_failed").await.len(), 1);
    // Nothing was sent for it, and the recovery did not start.
    assert_eq!(b.get("/recover/method").await.location(), Some("/recover"));

    let started = app.recover_start(&b, PHONE).await;
    assert_eq!(started.status, StatusCode::SEE_OTHER);
    assert_eq!(started.location(), Some("/recover/method"));
    let method = b.get("/recover/method").await;
    assert!(method.has("action=\"/recover/sms/send\"") && method.has("action=\"/recover/email\""));
    // Each way has its hint with its own button, in its own form.
    let form = |id: &str| -> String {
        let start = method.body.find(&format!("id=\"{id}\"")).expect(id);
        let rest = &method.body[start..];
        rest[..rest.find("</form>").expect("form end")].to_string()
    };
    let (sms, email) = (form("by-sms"), form("by-email"));
    assert!(
        sms.contains("验证码将发送到该账号绑定的手机") && sms.contains("向绑定的手机发送验证码")
    );
    assert!(!sms.contains("只有已验证的密保邮箱"), "{sms}");
    assert!(email.contains("只有已验证的密保邮箱") && email.contains("向密保邮箱发送重置链接"));
    assert!(!email.contains("验证码将发送到"), "{email}");
    let sent = b
        .redirected(
            b.submit_page(&method, "/recover/sms/send", &[]).await,
            "/recover/sms",
        )
        .await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.body);
    assert!(sent.has("如果该账号绑定了手机"));
    let sms = app.outbox_wait("sms", 1).await;
    assert_eq!(sms[0]["to"], PHONE);
    assert_eq!(sms[0]["purpose"], "recovery");
    let code = code_in(sms[0]["text"].as_str().unwrap());

    // Without a proved code there is no password form.
    assert_eq!(
        b.get("/recover/password").await.location(),
        Some("/recover")
    );
    let wrong_code = if code == "000000" { "111111" } else { "000000" };
    let refused = b
        .submit_page(&sent, "/recover/sms", &[("code", wrong_code)])
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.has("验证码错误，还可以再试4次。"),
        "{}",
        refused.body
    );
    let proved = b
        .submit_page(&sent, "/recover/sms", &[("code", &code)])
        .await;
    assert_eq!(proved.location(), Some("/recover/password"));
    let form = b.get("/recover/password").await;
    assert!(form.has("id=\"strength-meter\"") && form.has("name=\"repeat\""));

    // The policy names each failed rule; a mismatch is caught.
    let weak = b
        .submit_page(
            &form,
            "/recover/password",
            &[("new", "wangwu12345"), ("repeat", "wangwu12345")],
        )
        .await;
    assert_eq!(weak.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        weak.has("大写字母") && weak.has("账号名称"),
        "{}",
        weak.body
    );
    let mismatch = b
        .submit_page(
            &form,
            "/recover/password",
            &[("new", NEW_PASSWORD), ("repeat", "Violet-Harbour-74!")],
        )
        .await;
    assert!(mismatch.has("两次输入的新密码不一致"));
    let done = b
        .redirected(
            b.submit_page(
                &form,
                "/recover/password",
                &[("new", NEW_PASSWORD), ("repeat", NEW_PASSWORD)],
            )
            .await,
            "/recover/done",
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(done.has("密码已重置"));

    // Used up: the same browser cannot set another password.
    assert_eq!(
        b.get("/recover/password").await.location(),
        Some("/recover")
    );
    // The code cannot be used again in a new recovery either.
    app.recover_start(&b, "wangwu").await;
    let reused = b
        .submit_page(
            &b.get("/recover/sms").await,
            "/recover/sms",
            &[("code", &code)],
        )
        .await;
    assert_eq!(reused.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Every session and token of the account is gone.
    let home = signed_in.get("/account").await;
    assert!(home.location().unwrap().starts_with("/login"));
    let (status, body) = token(
        &app,
        &rp,
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    let info = reqwest::Client::new()
        .get(format!("{}/userinfo", app.base))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(info.status(), StatusCode::UNAUTHORIZED);

    // The old password is gone; the new one works and asks for SMS first.
    let fresh = app.browser();
    assert_eq!(
        fresh.login("wangwu", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    let login = fresh.login("wangwu", NEW_PASSWORD).await;
    assert_eq!(login.location(), Some("/login/sms"), "{login:?}");

    // Audited, and the security e-mail heard of it.
    let recovered = app.audit("account.password_recovered").await;
    assert_eq!(recovered.len(), 1);
    assert!(recovered[0].detail.contains("\"via\":\"sms\""));
    assert_eq!(recovered[0].subject_id, Some(user.id));
    let mail = app.outbox_wait("mail", 1).await;
    assert_eq!(mail[0]["to"], "wang@example.org");
    assert_eq!(mail[0]["purpose"], "password_reset_notice");
    assert!(mail[0]["text"].as_str().unwrap().contains("wangwu"));
}

#[tokio::test]
async fn recovery_by_e_mail_link_works_once_and_tells_the_phone() {
    let app = TestApp::spawn().await;
    account_with_phone_and_email(&app, "zhaoliu", "Zhao.Liu@Example.org").await;
    let b = app.browser();
    // The security e-mail identifies the account, whatever the case.
    let started = app.recover_start(&b, "zhao.liu@EXAMPLE.ORG").await;
    assert_eq!(started.location(), Some("/recover/method"));
    let method = b.get("/recover/method").await;
    let sent = b
        .redirected(
            b.submit_page(&method, "/recover/email", &[]).await,
            "/recover/email",
        )
        .await;
    assert_eq!(sent.status, StatusCode::OK);
    assert!(sent.has("如果该账号有已验证的密保邮箱") && sent.has("30分"));
    let mail = app.outbox_wait("mail", 1).await;
    assert_eq!(mail[0]["to"], "zhao.liu@example.org");
    assert_eq!(mail[0]["purpose"], "recovery");
    let text = mail[0]["text"].as_str().unwrap();
    let link = link_in(text);
    assert!(link.starts_with(&format!("{}/recover/link?token=", app.base)));
    assert!(mail[0]["html"].as_str().unwrap().contains("href=\""));
    // A second mail within the minute is refused.
    let again = b.submit_page(&method, "/recover/email", &[]).await;
    assert_eq!(again.status, StatusCode::TOO_MANY_REQUESTS);

    // The link lasts as configured.
    let token_value = link.split("token=").nth(1).unwrap();
    let ttl = app
        .state
        .ephemeral
        .ttl(&format!(
            "recover-link:{}",
            tongxing::crypto::sha256_hex(token_value)
        ))
        .await
        .unwrap()
        .unwrap();
    assert!(
        ttl.as_secs() > 29 * 60 && ttl.as_secs() <= 30 * 60,
        "{ttl:?}"
    );

    // Opened in another browser (the mail client's): looking does not use it up.
    let other = app.browser();
    let path = link.strip_prefix(&app.base).unwrap();
    let form = other.get(path).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(other.get(path).await.has("name=\"token\""));
    let weak = other
        .submit_page(
            &form,
            "/recover/password",
            &[("new", "short"), ("repeat", "short")],
        )
        .await;
    assert_eq!(weak.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(weak.has("至少10个字符"), "{}", weak.body);
    let done = other
        .redirected(
            other
                .submit_page(
                    &form,
                    "/recover/password",
                    &[("new", NEW_PASSWORD), ("repeat", NEW_PASSWORD)],
                )
                .await,
            "/recover/done",
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    // Reused: refused, for the page and for the form.
    let reused = other.get(path).await;
    assert_eq!(reused.status, StatusCode::GONE);
    assert!(reused.has("已失效"));
    let replay = other
        .submit_page(
            &form,
            "/recover/password",
            &[
                ("new", "Another-Harbour-74!"),
                ("repeat", "Another-Harbour-74!"),
            ],
        )
        .await;
    assert_eq!(replay.status, StatusCode::GONE);
    let recovered = app.audit("account.password_recovered").await;
    assert_eq!(recovered.len(), 1);
    assert!(recovered[0].detail.contains("\"via\":\"email\""));
    // The phone heard of it.
    let sms = app.outbox_wait("sms", 1).await;
    assert_eq!(sms[0]["to"], PHONE);
    assert_eq!(sms[0]["purpose"], "password_reset_notice");
    assert!(sms[0]["text"].as_str().unwrap().contains("密保邮箱"));
    assert_eq!(app.audit("sms.notice_sent").await.len(), 1);
}

#[tokio::test]
async fn a_link_dies_with_the_password_it_was_for() {
    let app = TestApp::spawn().await;
    let user = account_with_phone_and_email(&app, "sunqi", "sun@example.org").await;
    let b = app.browser();
    app.recover_by(&b, "sunqi", "/recover/email").await;
    let link = link_in(
        app.outbox_wait("mail", 1).await[0]["text"]
            .as_str()
            .unwrap(),
    );
    let path = link.strip_prefix(&app.base).unwrap();
    // The positive control: until the password changes, the link opens its form.
    let form = b.get(path).await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    assert!(form.has("name=\"token\""));
    // The user remembers the password and changes it meanwhile.
    tongxing::service::accounts::reset_password(
        &app.state,
        &user,
        Some(tongxing::domain::SecretPassword::new(NEW_PASSWORD)),
        &tongxing::service::Actor::System,
        &tongxing::service::Origin::default(),
    )
    .await
    .unwrap();
    let page = b.get(path).await;
    assert_eq!(page.status, StatusCode::GONE);
    // The form opened before the change cannot set a password either.
    let late = b
        .submit_page(
            &form,
            "/recover/password",
            &[
                ("new", "Another-Harbour-74!"),
                ("repeat", "Another-Harbour-74!"),
            ],
        )
        .await;
    assert_eq!(late.status, StatusCode::GONE);
    assert_eq!(
        app.browser()
            .login("sunqi", "Another-Harbour-74!")
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.browser().login("sunqi", NEW_PASSWORD).await.redirect(),
        (StatusCode::SEE_OTHER, Some("/login/sms")),
        "the password the user set stays"
    );
    // Unknown and garbage tokens get the same page.
    for path in ["/recover/link?token=nope", "/recover/link"] {
        assert_eq!(b.get(path).await.status, StatusCode::GONE);
    }
}

#[tokio::test]
async fn expired_codes_are_refused() {
    let app = TestApp::spawn().await;
    let ttl = std::time::Duration::from_secs(app.config.sms.code_ttl_secs);
    account_with_phone_and_email(&app, "qianba", "qian@example.org").await;
    // Control (asked for by the phone: its own limits): shortly before its
    // end a code is still right.
    let b = app.browser();
    let sent = app.recover_by(&b, PHONE, "/recover/sms/send").await;
    let code = code_in(app.outbox_wait("sms", 1).await[0]["text"].as_str().unwrap());
    app.advance(ttl - std::time::Duration::from_secs(15));
    let proved = b
        .submit_page(&sent, "/recover/sms", &[("code", &code)])
        .await;
    assert_eq!(proved.location(), Some("/recover/password"));

    let b = app.browser();
    let sent = app.recover_by(&b, "qianba", "/recover/sms/send").await;
    let code = code_in(app.outbox_wait("sms", 2).await[1]["text"].as_str().unwrap());
    app.advance(ttl + std::time::Duration::from_secs(1));
    let late = b
        .submit_page(&sent, "/recover/sms", &[("code", &code)])
        .await;
    assert_eq!(late.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(late.has("验证码无效或已过期"));
    assert_eq!(
        b.get("/recover/password").await.location(),
        Some("/recover")
    );
}

/// Walks the flow for `identifier` and returns each page the user sees.
async fn walk(app: &TestApp, identifier: &str) -> Vec<Page> {
    let b = app.browser();
    let started = app.recover_start(&b, identifier).await;
    let method = b.get("/recover/method").await;
    let code = b
        .redirected(
            b.submit_page(&method, "/recover/sms/send", &[]).await,
            "/recover/sms",
        )
        .await;
    let wrong = b
        .submit_page(&code, "/recover/sms", &[("code", "123456")])
        .await;
    let mail = b
        .redirected(
            b.submit_page(&method, "/recover/email", &[]).await,
            "/recover/email",
        )
        .await;
    vec![started, method, code, wrong, mail]
}

#[tokio::test]
async fn the_answers_are_the_same_whether_or_not_the_account_exists() {
    let app = TestApp::spawn().await;
    account_with_phone_and_email(&app, "real", "real@example.org").await;
    app.user("nophone").await;
    // An address an administrator entered is not verified: no recovery.
    app.user_with(NewAccount {
        username: "unverified".into(),
        login_phone: Some("+8613700137000".into()),
        security_email: Some("unverified@example.org".into()),
        ..NewAccount::default()
    })
    .await;
    let disabled = app.user("gone").await;
    tongxing::service::accounts::change_status(
        &app.state,
        &disabled,
        tongxing::store::users::AccountStatus::Disabled,
        None,
        &tongxing::service::Actor::System,
        &tongxing::service::Origin::default(),
    )
    .await
    .unwrap();
    let real = walk(&app, "real").await;
    // Let the background deliveries land before counting.
    app.outbox_wait("sms", 1).await;
    app.outbox_wait("mail", 1).await;
    for identifier in [
        "nobody",
        "+8613900000000",
        "nobody@example.org",
        "nophone",
        "gone",
        "unverified@example.org",
    ] {
        let other = walk(&app, identifier).await;
        for (i, (a, b)) in real.iter().zip(&other).enumerate() {
            assert_eq!(a.status, b.status, "step {i} for {identifier}");
            assert_eq!(a.location(), b.location(), "step {i} for {identifier}");
            assert_eq!(normalized(a), normalized(b), "step {i} for {identifier}");
        }
    }
    app.settle().await;
    assert_eq!(
        app.outbox("sms").len(),
        1,
        "only the real account got a code"
    );
    assert_eq!(
        app.outbox("mail").len(),
        1,
        "only the real account got a mail"
    );
}

#[tokio::test]
async fn recovery_is_rate_limited() {
    let app = TestApp::spawn().await;
    account_with_phone_and_email(&app, "limited", "limited@example.org").await;
    // Per identifier: ten an hour.
    let b = app.browser();
    for _ in 0..10 {
        assert_eq!(
            app.recover_start(&b, "limited").await.redirect(),
            (StatusCode::SEE_OTHER, Some("/recover/method"))
        );
    }
    let over = app.recover_start(&b, "limited").await;
    assert_eq!(over.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(over.has("找回密码的尝试过于频繁"));
    // Per address: twenty an hour, whatever the identifier.
    for i in 0..9 {
        let page = app.recover_start(&b, &format!("someone{i}")).await;
        assert_eq!(
            page.redirect(),
            (StatusCode::SEE_OTHER, Some("/recover/method")),
            "{}",
            page.body
        );
    }
    assert_eq!(
        app.recover_start(&b, "someone-else").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Codes: one a minute, the same for every identifier.
    let app = TestApp::spawn().await;
    let b = app.browser();
    app.recover_start(&b, "unknown").await;
    let method = b.get("/recover/method").await;
    let first = b.submit_page(&method, "/recover/sms/send", &[]).await;
    assert_eq!(first.location(), Some("/recover/sms"));
    let again = b.submit_page(&method, "/recover/sms/send", &[]).await;
    assert_eq!(again.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(again.has("发送过于频繁"));
}

#[tokio::test]
async fn the_pages_speak_english_and_need_their_csrf_token() {
    let app = TestApp::spawn().await;
    let b = app.browser();
    let page = b.get("/recover?lang=en").await;
    assert!(page.has("Recover your password") && page.has("Characters in the picture"));
    let refused = b
        .post_form(
            "/recover",
            &[("identifier", "x"), ("captcha", "y"), ("csrf", "forged")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let empty = app.recover_start(&b, "  ").await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(empty.has("Enter an account name, phone number or security e-mail."));
    let started = app.recover_start(&b, "nobody").await;
    assert_eq!(
        started.redirect(),
        (StatusCode::SEE_OTHER, Some("/recover/method"))
    );
    let method = b.get("/recover/method").await;
    assert!(method.has("Send a code to the bound phone"));
}

#[tokio::test]
async fn a_recovered_account_is_not_left_locked_by_a_guesser() {
    let app = TestApp::spawn().await;
    account_with_phone_and_email(&app, "locked", "locked@example.org").await;
    let guesser = app.browser();
    for i in 0..6 {
        guesser.login("locked", &format!("guess-{i}")).await;
    }
    let b = app.browser();
    assert_eq!(
        b.login("locked", PASSWORD).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    app.recover_by(&b, "locked", "/recover/email").await;
    let link = link_in(
        app.outbox_wait("mail", 1).await[0]["text"]
            .as_str()
            .unwrap(),
    );
    let form = b.get(link.strip_prefix(&app.base).unwrap()).await;
    let done = b
        .redirected(
            b.submit_page(
                &form,
                "/recover/password",
                &[("new", NEW_PASSWORD), ("repeat", NEW_PASSWORD)],
            )
            .await,
            "/recover/done",
        )
        .await;
    assert_eq!(done.status, StatusCode::OK);
    let login = app.browser().login("locked", NEW_PASSWORD).await;
    assert_eq!(login.location(), Some("/login/sms"), "{login:?}");
}

#[tokio::test]
async fn every_policy_failure_is_named_on_the_recovery_form() {
    let app = TestApp::spawn().await;
    account_with_phone_and_email(&app, "wangwu", "wang@example.org").await;
    let b = app.browser();
    app.recover_by(&b, "wangwu", "/recover/email").await;
    let link = link_in(
        app.outbox_wait("mail", 1).await[0]["text"]
            .as_str()
            .unwrap(),
    );
    let form = b.get(link.strip_prefix(&app.base).unwrap()).await;
    let too_long = "Aa1!".repeat(33);
    for (password, reason) in [
        ("Ab1!", "至少10个字符"),
        (too_long.as_str(), "密码过长：最多 128 个字符。"),
        ("violet-harbour-73!", "密码须包含大写字母。"),
        ("VIOLET-HARBOUR-73!", "密码须包含小写字母。"),
        ("Violet-Harbour-xy!", "密码须包含数字。"),
        ("VioletHarbour73xy", "密码须包含特殊字符。"),
        ("Wangwu-Harbour-73!", "密码不得包含账号名称。"),
        ("Vh!13800138000a", "密码不得包含手机号。"),
        ("Password123!", "密码太容易被猜到"),
        ("Pe#5gz29ptzmSE", "该密码属于最常用的密码之一"),
    ] {
        let page = b
            .submit_page(
                &form,
                "/recover/password",
                &[("new", password), ("repeat", password)],
            )
            .await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "{password}");
        assert!(page.has(reason), "{password}: {}", page.body);
    }
    // Each refusal left the link usable.
    let done = b
        .redirected(
            b.submit_page(
                &form,
                "/recover/password",
                &[("new", NEW_PASSWORD), ("repeat", NEW_PASSWORD)],
            )
            .await,
            "/recover/done",
        )
        .await;
    assert_eq!(done.status, StatusCode::OK);
}

#[tokio::test]
async fn the_session_is_renewed_and_the_password_form_needs_a_proof() {
    let app = TestApp::spawn().await;
    account_with_phone_and_email(&app, "fixed", "fixed@example.org").await;
    let b = app.browser();
    let page = b.get("/recover").await;
    // Looking stores no session; the start stores a new one.
    let planted = b.cookie("tongxing_session");
    assert_eq!(planted, None);
    // Without a proof, posting a password does nothing.
    let skipped = b
        .submit_page(
            &page,
            "/recover/password",
            &[("new", NEW_PASSWORD), ("repeat", NEW_PASSWORD)],
        )
        .await;
    assert_eq!(skipped.location(), Some("/recover"));
    let forged = b
        .submit_page(
            &page,
            "/recover/password",
            &[
                ("new", NEW_PASSWORD),
                ("repeat", NEW_PASSWORD),
                ("token", "forged"),
            ],
        )
        .await;
    assert_eq!(forged.status, StatusCode::GONE);

    app.recover_start(&b, "fixed").await;
    let started = b.cookie("tongxing_session").unwrap();
    assert_ne!(
        planted.as_deref(),
        Some(started.as_str()),
        "a new session id at the start"
    );
    let sent = b
        .redirected(
            b.submit_page(&b.get("/recover/method").await, "/recover/sms/send", &[])
                .await,
            "/recover/sms",
        )
        .await;
    let code = code_in(app.outbox_wait("sms", 1).await[0]["text"].as_str().unwrap());
    b.submit_page(&sent, "/recover/sms", &[("code", &code)])
        .await;
    assert_ne!(
        started,
        b.cookie("tongxing_session").unwrap(),
        "and another once the code is proved"
    );
    // The earlier session id leads nowhere.
    let old = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/recover/password", app.base))
        .header("cookie", format!("tongxing_session={started}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        old.headers().get("location").unwrap().to_str().unwrap(),
        "/recover"
    );
    assert_eq!(
        b.get("/recover/password").await.status,
        StatusCode::OK,
        "the user's own browser goes on"
    );
    // The recovery SMS says what it is for.
    assert!(
        app.outbox("sms")[0]["text"]
            .as_str()
            .unwrap()
            .contains("找回通行证密码")
    );
}

#[tokio::test]
async fn limits_do_not_link_an_account_name_to_its_phone() {
    let app = TestApp::spawn().await;
    account_with_phone_and_email(&app, "linked", "linked@example.org").await;
    // A code asked for by name, then one by the same account's phone: the
    // second is not refused (which would show that the two belong together).
    for identifier in ["linked", PHONE] {
        let b = app.browser();
        let sent = app.recover_by(&b, identifier, "/recover/sms/send").await;
        assert_eq!(sent.status, StatusCode::OK, "{identifier}");
    }
    app.outbox_wait("sms", 2).await;
    // Recovery does not use up the phone's sign-in budget: a step-up code
    // can still be sent at once.
    let step_up = tongxing::service::codes::send(
        &app.state,
        tongxing::service::codes::Purpose::Login,
        &tongxing::domain::PhoneNumber::parse(PHONE).unwrap(),
        &tongxing::service::Origin::default(),
        tongxing::i18n::Lang::ZhCn,
    )
    .await;
    assert!(step_up.is_ok(), "{step_up:?}");
}

#[tokio::test]
async fn recovery_codes_to_a_phone_have_a_daily_budget_that_drops_silently() {
    let app = TestApp::spawn_with(|c| {
        c.sms.daily_limit = 1;
        c.sms.resend_secs = 0;
    })
    .await;
    account_with_phone_and_email(&app, "budget", "budget@example.org").await;
    for identifier in ["budget", PHONE] {
        let b = app.browser();
        let sent = app.recover_by(&b, identifier, "/recover/sms/send").await;
        assert_eq!(sent.status, StatusCode::OK, "{identifier}");
        assert!(sent.has("如果该账号绑定了手机"));
    }
    app.settle().await;
    assert_eq!(app.outbox("sms").len(), 1, "the second was dropped");
    assert_eq!(app.audit("sms.code_dropped").await.len(), 1);
}

#[tokio::test]
async fn spellings_of_one_phone_share_limits_and_guesses_per_phone_are_capped() {
    let app = TestApp::spawn().await;
    account_with_phone_and_email(&app, "spelled", "spelled@example.org").await;
    let send = |identifier: &'static str| {
        let app = &app;
        async move {
            let b = app.browser();
            let sent = app.recover_by(&b, identifier, "/recover/sms/send").await;
            (b, sent)
        }
    };
    // Ten wrong guesses at this phone's recovery codes, over two names for
    // it: after that even the right code is refused today.
    for identifier in ["spelled", "spelled@example.org"] {
        let (b, sent) = send(identifier).await;
        assert_eq!(sent.status, StatusCode::OK, "{identifier}");
        for _ in 0..5 {
            b.submit_page(&sent, "/recover/sms", &[("code", "000000")])
                .await;
        }
    }
    let (b, sent) = send("13800138000").await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.body);
    let sms = app.outbox_wait("sms", 3).await;
    let code = code_in(sms.last().unwrap()["text"].as_str().unwrap());
    let refused = b
        .submit_page(&sent, "/recover/sms", &[("code", &code)])
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        b.get("/recover/password").await.location(),
        Some("/recover")
    );
    // The positive control: the cap is this phone's; another account's
    // right code, sent and entered the same way, works.
    let other = app
        .user_with(NewAccount {
            username: "elsewhere".into(),
            login_phone: Some("+8613700137001".into()),
            ..NewAccount::default()
        })
        .await;
    app.verified_email(&other, "elsewhere@example.org").await;
    let b = app.browser();
    let sent = app.recover_by(&b, "elsewhere", "/recover/sms/send").await;
    let sms = app.outbox_wait("sms", 4).await;
    assert_eq!(sms[3]["to"], "+8613700137001");
    let code = code_in(sms[3]["text"].as_str().unwrap());
    let proved = b
        .submit_page(&sent, "/recover/sms", &[("code", &code)])
        .await;
    assert_eq!(proved.location(), Some("/recover/password"));
    // Other spellings are the same identifiers (and share their limits).
    for (identifier, same_as) in [("+86 138-0013-8000", "13800138000"), ("SPELLED", "spelled")] {
        let (_, again) = send(identifier).await;
        assert_eq!(
            again.status,
            StatusCode::TOO_MANY_REQUESTS,
            "{identifier} is {same_as}"
        );
    }
}
