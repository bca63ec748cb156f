//! Changing the login and the security phone, the guided binding of a
//! login phone, and the administrators' view of phones (issue 13).

use reqwest::StatusCode;
use tongxing::config::BindingPolicy;
use tongxing::service::accounts::NewAccount;

use crate::helpers::{Browser, PASSWORD, Page, TestApp, code_in, query};
use crate::oidc_rules::authorize_url;

const OLD: &str = "13312348347";
const NEW: &str = "13912345678";

/// An account with a login phone (and a verified security e-mail).
async fn zhang(app: &TestApp) -> tongxing::store::users::User {
    let user = app
        .user_with(NewAccount {
            username: "zhang@cnic.cn".into(),
            login_phone: Some(OLD.into()),
            ..NewAccount::default()
        })
        .await;
    app.verified_email(&user, "zhang@example.org").await;
    user
}

/// The code of the last SMS to `to` (E.164), and its purpose.
pub(crate) fn last_sms(app: &TestApp, to: &str) -> (String, String) {
    let sms = app.outbox("sms");
    let m = sms
        .iter()
        .rev()
        .find(|m| m["to"] == to)
        .unwrap_or_else(|| panic!("no SMS to {to}: {sms:?}"));
    (
        code_in(m["text"].as_str().unwrap()),
        m["purpose"].as_str().unwrap().to_string(),
    )
}

/// Signs in with the password and passes the SMS step-up the phone page
/// asks for; returns the phone page it comes back to.
async fn signed_in_with_sms(app: &TestApp, b: &Browser, kind: &str) -> Page {
    b.login("zhang@cnic.cn", PASSWORD).await;
    step_up_for(app, b, kind, "+8613312348347").await
}

/// In a session signed in with the password alone: opens the change page
/// of `kind`, passes the SMS step-up (the code goes to `phone`) it asks
/// for first, and returns the page it comes back to.
pub(crate) async fn step_up_for(app: &TestApp, b: &Browser, kind: &str, phone: &str) -> Page {
    let page_url = format!("/account/phone/{kind}");
    // A session that has not proved the phone proves it first.
    let first = b.get(&page_url).await;
    assert_eq!(
        first.redirect(),
        (StatusCode::SEE_OTHER, Some("/login/sms"))
    );
    let step_up = b.get("/login/sms").await;
    b.redirected(
        b.submit_page(&step_up, "/login/sms/send", &[]).await,
        "/login/sms",
    )
    .await;
    let (code, purpose) = last_sms(app, phone);
    assert_eq!(purpose, "login");
    let back = b
        .submit_page(&step_up, "/login/sms", &[("code", &code)])
        .await;
    b.redirected(back, &page_url).await
}

/// Step 1: a code to the current number, confirmed.
pub(crate) async fn prove_old(
    app: &TestApp,
    b: &Browser,
    page: &Page,
    kind: &str,
    to: &str,
) -> Page {
    let sent = b
        .redirected(
            b.submit_page(page, &format!("/account/phone/{kind}/old/send"), &[])
                .await,
            &format!("/account/phone/{kind}"),
        )
        .await;
    let (code, purpose) = last_sms(app, to);
    assert_eq!(purpose, "change_old");
    b.redirected(
        b.submit_page(
            &sent,
            &format!("/account/phone/{kind}/old"),
            &[("code", &code)],
        )
        .await,
        &format!("/account/phone/{kind}"),
    )
    .await
}

/// Step 2: the new number gets a code.
pub(crate) async fn send_new(b: &Browser, page: &Page, kind: &str, cc: &str, number: &str) -> Page {
    b.submit_page(
        page,
        &format!("/account/phone/{kind}/new/send"),
        &[("country_code", cc), ("number", number)],
    )
    .await
}

#[tokio::test]
async fn the_login_phone_changes_in_three_steps_and_ends_every_other_session() {
    let app = TestApp::spawn_with(|c| c.sms.resend_secs = 0).await;
    let user = zhang(&app).await;
    // Another browser of the same account, signed in before the change.
    let other = app.browser();
    other.login("zhang@cnic.cn", PASSWORD).await;
    assert_eq!(other.get("/account").await.status, StatusCode::OK);

    let b = app.browser();
    let page = signed_in_with_sms(&app, &b, "login").await;
    // Step 1 shows the current number masked, with a send button.
    assert!(page.has("id=\"step-old\""), "{}", page.body);
    assert!(page.has("133****8347"));
    assert!(!page.has("13312348347"), "the full number is never shown");

    // A wrong code is refused and the page stays at step 1.
    let wrong = b
        .submit_page(&page, "/account/phone/login/old", &[("code", "000000")])
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong.has("id=\"step-old\""));
    // Skipping step 1 is not possible.
    let early = send_new(&b, &page, "login", "+86", NEW).await;
    assert_eq!(early.status, StatusCode::CONFLICT, "{}", early.body);
    assert!(early.has("id=\"step-old\""));
    assert!(last_sms(&app, "+8613312348347").1 != "change_new");

    let step2 = prove_old(&app, &b, &page, "login", "+8613312348347").await;
    assert!(step2.has("id=\"step-new\""), "{}", step2.body);
    // The country code is prefilled and required.
    assert!(step2.has("name=\"country_code\" value=\"+86\""));
    let sent = b
        .redirected(
            send_new(&b, &step2, "login", "+86", "139 1234 5678").await,
            "/account/phone/login",
        )
        .await;
    assert!(sent.has("139****5678"), "{}", sent.body);
    let (code, purpose) = last_sms(&app, "+8613912345678");
    assert_eq!(purpose, "change_new");

    // A wrong code at step 2 changes nothing.
    let wrong = b
        .submit_page(&sent, "/account/phone/login/new", &[("code", "000000")])
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        app.state
            .store
            .user_by_id(user.id)
            .await
            .unwrap()
            .unwrap()
            .login_phone
            .as_deref(),
        Some("+8613312348347")
    );

    let done = b
        .submit_page(&sent, "/account/phone/login/new", &[("code", &code)])
        .await;
    let done = b.redirected(done, "/account/phone/login?done=1").await;
    assert!(done.has("id=\"step-done\""), "{}", done.body);
    let stored = app.state.store.user_by_id(user.id).await.unwrap().unwrap();
    assert_eq!(stored.login_phone.as_deref(), Some("+8613912345678"));

    // This session goes on, still listed among the signed-in devices; the
    // other one has ended.
    let home = b.get("/account").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.has("139****5678"));
    let devices = b.get("/account/sessions").await;
    assert!(devices.has("id=\"this-device\""), "{}", devices.body);
    assert!(devices.has("id=\"no-others\""), "{}", devices.body);
    assert_eq!(
        other.get("/account").await.redirect().0,
        StatusCode::SEE_OTHER,
        "the other session was signed out"
    );
    // The new number signs in; the old one no longer does.
    let fresh = app.browser();
    assert_eq!(
        fresh.login(OLD, PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        fresh.login(NEW, PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );

    // Notices: an SMS to the old number, a mail to the security e-mail.
    app.settle().await;
    let notice = app
        .outbox("sms")
        .into_iter()
        .rev()
        .find(|m| m["purpose"] == "phone_changed_notice")
        .expect("a notice to the old number");
    assert_eq!(notice["to"], "+8613312348347");
    assert!(notice["text"].as_str().unwrap().contains("139****5678"));
    let mail = app.outbox_wait("mail", 1).await;
    let letter = mail
        .iter()
        .find(|m| m["purpose"] == "phone_changed_notice")
        .expect("a mail to the security e-mail");
    assert_eq!(letter["to"], "zhang@example.org");
    // Audited, masked.
    let audit = app.audit("phone.changed").await;
    assert_eq!(audit.len(), 1);
    assert!(audit[0].detail.contains("139****5678"));
    assert!(!audit[0].detail.contains("13912345678"));
}

#[tokio::test]
async fn the_new_number_is_checked_for_its_country_and_its_country_code() {
    let app = TestApp::spawn_with(|c| c.sms.resend_secs = 0).await;
    zhang(&app).await;
    let b = app.browser();
    let page = signed_in_with_sms(&app, &b, "login").await;
    let step2 = prove_old(&app, &b, &page, "login", "+8613312348347").await;
    let cases = [
        ("", NEW, "请填写国家/地区代码"),
        ("+86", "1331234834", "不是该国家/地区的有效号码"),
        ("+86", "010 6260 0000", "不是手机号码"),
        ("+44", "20 7946 0123", "不是手机号码"),
        ("+86", "+44 7400 123456", "不一致"),
        ("+8x", NEW, "1 至 3 位数字"),
    ];
    for (cc, number, message) in cases {
        let refused = send_new(&b, &step2, "login", cc, number).await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{cc} {number}"
        );
        assert!(refused.has(message), "{cc} {number}: {}", refused.body);
        // What was typed stays in the form.
        assert!(
            refused.has(&format!("name=\"number\" value=\"{number}\"")),
            "{number}"
        );
    }
    // Positive control: a UK mobile is a valid new number.
    let ok = send_new(&b, &step2, "login", "+44", "07400 123456").await;
    assert_eq!(
        ok.redirect(),
        (StatusCode::SEE_OTHER, Some("/account/phone/login"))
    );
    assert_eq!(last_sms(&app, "+447400123456").1, "change_new");
}

#[tokio::test]
async fn another_accounts_login_phone_is_refused_at_the_last_step_without_saying_whose() {
    let app = TestApp::spawn_with(|c| c.sms.resend_secs = 0).await;
    let user = zhang(&app).await;
    app.user_with(NewAccount {
        username: "li@cnic.cn".into(),
        login_phone: Some(NEW.into()),
        ..NewAccount::default()
    })
    .await;
    let b = app.browser();
    let page = signed_in_with_sms(&app, &b, "login").await;
    let step2 = prove_old(&app, &b, &page, "login", "+8613312348347").await;
    // Sending is allowed (it tells nothing); the clash shows at the end.
    let sent = b
        .redirected(
            send_new(&b, &step2, "login", "+86", NEW).await,
            "/account/phone/login",
        )
        .await;
    let (code, _) = last_sms(&app, "+8613912345678");
    let refused = b
        .submit_page(&sent, "/account/phone/login/new", &[("code", &code)])
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert!(refused.has("该号码不能用作登录手机"));
    assert!(
        !refused.has("li@cnic.cn"),
        "whose number it is stays unsaid"
    );
    assert_eq!(
        app.state
            .store
            .user_by_id(user.id)
            .await
            .unwrap()
            .unwrap()
            .login_phone
            .as_deref(),
        Some("+8613312348347")
    );
    // Positive control: a free number goes through.
    let again = b.get("/account/phone/login").await;
    let sent = b
        .redirected(
            send_new(&b, &again, "login", "+86", "13700001111").await,
            "/account/phone/login",
        )
        .await;
    let (code, _) = last_sms(&app, "+8613700001111");
    let done = b
        .submit_page(&sent, "/account/phone/login/new", &[("code", &code)])
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
}

#[tokio::test]
async fn a_proof_of_the_current_number_and_its_code_expire() {
    let app = TestApp::spawn_with(|c| c.sms.resend_secs = 0).await;
    zhang(&app).await;
    let b = app.browser();
    let page = signed_in_with_sms(&app, &b, "login").await;
    // An expired code (5 min) is no code.
    b.redirected(
        b.submit_page(&page, "/account/phone/login/old/send", &[])
            .await,
        "/account/phone/login",
    )
    .await;
    let (code, _) = last_sms(&app, "+8613312348347");
    app.advance(std::time::Duration::from_secs(301));
    let expired = b
        .submit_page(&page, "/account/phone/login/old", &[("code", &code)])
        .await;
    assert_eq!(expired.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(expired.has("id=\"step-old\""));
    // A proved current number lets the change go on for 10 minutes.
    let step2 = prove_old(&app, &b, &page, "login", "+8613312348347").await;
    assert!(step2.has("id=\"step-new\""));
    app.advance(std::time::Duration::from_secs(601));
    let late = send_new(&b, &step2, "login", "+86", NEW).await;
    assert_eq!(late.status, StatusCode::CONFLICT, "{}", late.body);
    assert!(late.has("id=\"step-old\""), "back to step 1");
}

#[tokio::test]
async fn the_security_phone_changes_the_same_way_and_never_signs_in() {
    let app = TestApp::spawn_with(|c| c.sms.resend_secs = 0).await;
    let user = zhang(&app).await;
    let b = app.browser();
    // Not set yet: the change starts at the new number.
    let page = signed_in_with_sms(&app, &b, "security").await;
    assert!(page.has("id=\"step-new\""), "{}", page.body);
    let sent = b
        .redirected(
            send_new(&b, &page, "security", "+86", "13800002222").await,
            "/account/phone/security",
        )
        .await;
    let (code, purpose) = last_sms(&app, "+8613800002222");
    assert_eq!(purpose, "change_new");
    let done = b
        .submit_page(&sent, "/account/phone/security/new", &[("code", &code)])
        .await;
    b.redirected(done, "/account/phone/security?done=1").await;
    let stored = app.state.store.user_by_id(user.id).await.unwrap().unwrap();
    assert_eq!(stored.security_phone.as_deref(), Some("+8613800002222"));
    // The account page shows both phones, verified, each with its link.
    let home = b.get("/account").await;
    assert!(
        home.has("138****2222") && home.has("133****8347"),
        "{}",
        home.body
    );
    assert!(home.has("id=\"login-phone-change\"") && home.has("id=\"security-phone-change\""));
    assert!(home.has("仅用于实名验证，不能作为账号登录"));
    // The security phone never signs in; the login phone does.
    let fresh = app.browser();
    assert_eq!(
        fresh.login("13800002222", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        fresh.login(OLD, PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    // Changing it again proves the current security phone first.
    let again = b.get("/account/phone/security").await;
    assert!(
        again.has("id=\"step-old\"") && again.has("138****2222"),
        "{}",
        again.body
    );
}

#[tokio::test]
async fn codes_per_account_are_limited() {
    let app = TestApp::spawn_with(|c| {
        c.sms.resend_secs = 0;
        c.phone.account_daily_codes = 2;
    })
    .await;
    zhang(&app).await;
    let b = app.browser();
    let page = signed_in_with_sms(&app, &b, "login").await;
    for _ in 0..2 {
        let ok = b
            .submit_page(&page, "/account/phone/login/old/send", &[])
            .await;
        assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    }
    let refused = b
        .submit_page(&page, "/account/phone/login/old/send", &[])
        .await;
    assert_eq!(
        refused.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        refused.body
    );
    assert!(refused.header("retry-after").is_some());
}

#[tokio::test]
async fn pages_in_english_too() {
    let app = TestApp::spawn_with(|c| c.sms.resend_secs = 0).await;
    zhang(&app).await;
    let b = app.browser();
    let page = signed_in_with_sms(&app, &b, "login").await;
    let en = b.get("/account/phone/login?lang=en").await;
    assert!(en.has("Step 1: prove the current number"), "{}", en.body);
    let step2 = prove_old(&app, &b, &page, "login", "+8613312348347").await;
    let refused = send_new(&b, &step2, "login", "+86", "010 6260 0000").await;
    assert!(refused.has("Not a mobile number"), "{}", refused.body);
}

/// An account without a login phone, on a deployment with `policy`.
async fn spawn_phoneless(policy: BindingPolicy) -> TestApp {
    let app = TestApp::spawn_with(|c| {
        c.sms.resend_secs = 0;
        c.phone.binding = policy;
    })
    .await;
    app.user("wang@cnic.cn").await;
    app
}

/// Binds `number` on the binding page `page` (in `b`), ending where it
/// goes next.
async fn bind(app: &TestApp, b: &Browser, page: &Page, number: &str, e164: &str) -> Page {
    let return_to = page
        .body
        .split("name=\"return_to\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .map(crate::helpers::unescape)
        .unwrap();
    let sent = b
        .submit_page(
            page,
            "/account/phone/bind/send",
            &[
                ("country_code", "+86"),
                ("number", number),
                ("return_to", &return_to),
            ],
        )
        .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
    let form = b.get(sent.location().unwrap()).await;
    let (code, purpose) = last_sms(app, e164);
    assert_eq!(purpose, "bind");
    b.submit_page(
        &form,
        "/account/phone/bind",
        &[("code", &code), ("return_to", &return_to)],
    )
    .await
}

#[tokio::test]
async fn an_account_without_a_phone_binds_one_before_an_application_gets_a_code() {
    let app = spawn_phoneless(BindingPolicy::Required).await;
    let mail = app.rp_with("mail", |c| c.first_party = true).await;
    let b = app.browser();
    b.login("wang@cnic.cn", PASSWORD).await;
    // prompt=none cannot bind: interaction_required.
    let silent = authorize_url(&app, &mail, "&prompt=none");
    let answer = b.get(&silent.replacen(&app.base, "", 1)).await;
    assert_eq!(
        query(answer.location().unwrap())
            .get("error")
            .map(String::as_str),
        Some("interaction_required")
    );
    // The account page leads to the binding first.
    let home = b.get("/account").await;
    assert_eq!(home.status, StatusCode::SEE_OTHER);
    assert!(
        home.location()
            .unwrap()
            .starts_with("/account/phone/bind?return_to=")
    );

    // An application's request goes through the binding, then on.
    let url = authorize_url(&app, &mail, "");
    let path = url.replacen(&app.base, "", 1);
    let first = b.get(&path).await;
    assert_eq!(first.status, StatusCode::SEE_OTHER);
    let to_bind = first.location().unwrap().to_string();
    assert!(
        to_bind.starts_with("/account/phone/bind?return_to=%2Fauthorize"),
        "{to_bind}"
    );
    let page = b.get(&to_bind).await;
    assert!(page.has("完善个人实名信息"), "{}", page.body);
    assert!(!page.has("id=\"skip\""), "required: no way to skip");
    let bound = bind(&app, &b, &page, NEW, "+8613912345678").await;
    assert_eq!(bound.status, StatusCode::SEE_OTHER, "{}", bound.body);
    let back = bound.location().unwrap();
    assert!(back.starts_with("/authorize?"), "{back}");
    let code = b.get(back).await;
    assert!(
        query(code.location().unwrap()).contains_key("code"),
        "the application gets its code now: {:?}",
        code.location()
    );
    let stored = app.stored("wang@cnic.cn").await;
    assert_eq!(stored.login_phone.as_deref(), Some("+8613912345678"));
    assert_eq!(app.audit("phone.bound").await.len(), 1);
}

#[tokio::test]
async fn a_skippable_binding_is_skipped_for_one_sign_in_but_never_after_an_administrators_demand() {
    let app = spawn_phoneless(BindingPolicy::Skippable).await;
    let b = app.browser();
    b.login("wang@cnic.cn", PASSWORD).await;
    let to_bind = b.get("/account").await;
    let page = b.get(to_bind.location().unwrap()).await;
    assert!(page.has("id=\"skip\""), "{}", page.body);
    let skipped = b
        .submit_page(
            &page,
            "/account/phone/bind/skip",
            &[("return_to", "/account")],
        )
        .await;
    assert_eq!(
        skipped.redirect(),
        (StatusCode::SEE_OTHER, Some("/account"))
    );
    assert_eq!(b.get("/account").await.status, StatusCode::OK, "skipped");
    // The next sign-in asks again.
    let again = app.browser();
    again.login("wang@cnic.cn", PASSWORD).await;
    assert_eq!(again.get("/account").await.status, StatusCode::SEE_OTHER);

    // An administrator's demand cannot be skipped.
    let user = app.stored("wang@cnic.cn").await;
    tongxing::service::phone::require_binding(
        &app.state,
        &user,
        &tongxing::service::Actor::System,
        &tongxing::service::Origin::default(),
    )
    .await
    .unwrap();
    let third = app.browser();
    third.login("wang@cnic.cn", PASSWORD).await;
    let to_bind = third.get("/account").await;
    let page = third.get(to_bind.location().unwrap()).await;
    assert!(!page.has("id=\"skip\""), "{}", page.body);
    let refused = third
        .submit_page(
            &page,
            "/account/phone/bind/skip",
            &[("return_to", "/account")],
        )
        .await;
    assert!(
        refused
            .location()
            .unwrap()
            .starts_with("/account/phone/bind")
    );
    assert_eq!(third.get("/account").await.status, StatusCode::SEE_OTHER);
    // Binding settles it.
    let bound = bind(&app, &third, &page, NEW, "+8613912345678").await;
    assert_eq!(bound.redirect(), (StatusCode::SEE_OTHER, Some("/account")));
    assert_eq!(third.get("/account").await.status, StatusCode::OK);
    assert!(
        app.stored("wang@cnic.cn").await.phone_binding().is_none(),
        "the demand is settled"
    );
}

#[tokio::test]
async fn with_binding_off_nobody_is_asked_unless_an_administrator_demands_it() {
    let app = spawn_phoneless(BindingPolicy::Off).await;
    let b = app.browser();
    b.login("wang@cnic.cn", PASSWORD).await;
    assert_eq!(b.get("/account").await.status, StatusCode::OK);
    let admin_token = crate::admin_api::admin_token(&app).await;
    let user = app.stored("wang@cnic.cn").await;
    let answer = reqwest::Client::new()
        .post(format!(
            "{}/api/v1/users/{}/require-phone-binding",
            app.base, user.id
        ))
        .bearer_auth(&admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let view: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(view["phone_binding"], "required");
    assert_eq!(app.audit("account.phone_binding_required").await.len(), 1);
    let next = app.browser();
    next.login("wang@cnic.cn", PASSWORD).await;
    let to_bind = next.get("/account").await;
    assert!(
        to_bind
            .location()
            .unwrap()
            .starts_with("/account/phone/bind")
    );
}

#[tokio::test]
async fn phones_stored_before_validation_are_rewritten_once_at_start() {
    let app = TestApp::spawn().await;
    let user = app.user("zhao@cnic.cn").await;
    // Numbers as an earlier release or an import may have stored them.
    app.sql(&format!(
            "UPDATE users SET login_phone = '008613312348347', security_phone = '+86 139-1234-5678' WHERE username = '{}'",
            user.username
        ))
        .await;
    app.sql("DELETE FROM data_migrations").await;
    // A node starting on this database rewrites them.
    let node = app.spawn_node().await;
    let stored = node.state.store.user_by_id(user.id).await.unwrap().unwrap();
    assert_eq!(stored.login_phone.as_deref(), Some("+8613312348347"));
    assert_eq!(stored.security_phone.as_deref(), Some("+8613912345678"));
    // Recorded: the next start does not run it again (positive control:
    // the same values rewritten by hand stay as they are now).
    node.sql(&format!(
        "UPDATE users SET security_phone = '+86 139-1234-5678' WHERE username = '{}'",
        user.username
    ))
    .await;
    let third = app.spawn_node().await;
    let kept = third
        .state
        .store
        .user_by_id(user.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.security_phone.as_deref(), Some("+86 139-1234-5678"));
}

#[tokio::test]
async fn a_security_phone_change_that_ran_out_of_time_starts_afresh() {
    let app = TestApp::spawn_with(|c| c.sms.resend_secs = 0).await;
    zhang(&app).await;
    let b = app.browser();
    let page = signed_in_with_sms(&app, &b, "security").await;
    assert!(page.has("id=\"step-new\""));
    app.advance(std::time::Duration::from_secs(601));
    // Not step 1 with nothing to prove: the new number again.
    let again = b.get("/account/phone/security").await;
    assert!(again.has("id=\"step-new\""), "{}", again.body);
    let sent = send_new(&b, &again, "security", "+86", "13800002222").await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
}

#[tokio::test]
async fn codes_to_a_number_being_proved_never_use_up_its_owners_codes() {
    let app = TestApp::spawn_with(|c| {
        c.sms.resend_secs = 0;
        c.sms.daily_limit = 2;
        c.phone.account_daily_codes = 50;
    })
    .await;
    zhang(&app).await;
    // The victim: NEW is their login phone.
    app.user_with(NewAccount {
        username: "li@cnic.cn".into(),
        login_phone: Some(NEW.into()),
        ..NewAccount::default()
    })
    .await;
    let b = app.browser();
    let page = signed_in_with_sms(&app, &b, "login").await;
    let step2 = prove_old(&app, &b, &page, "login", "+8613312348347").await;
    // The number's own budget for codes of others runs out…
    for _ in 0..2 {
        let sent = send_new(&b, &step2, "login", "+86", NEW).await;
        assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
    }
    let refused = send_new(&b, &step2, "login", "+86", NEW).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    // …while its owner still gets step-up codes.
    let owner = tongxing::domain::PhoneNumber::parse(NEW).unwrap();
    tongxing::service::codes::send(
        &app.state,
        tongxing::service::codes::Purpose::Login,
        &owner,
        &tongxing::service::Origin::default(),
        tongxing::i18n::Lang::ZhCn,
    )
    .await
    .expect("the owner's own code is not refused");
}

#[tokio::test]
async fn with_binding_off_a_phone_can_still_be_bound_from_the_account_page() {
    let app = spawn_phoneless(BindingPolicy::Off).await;
    let b = app.browser();
    b.login("wang@cnic.cn", PASSWORD).await;
    let home = b.get("/account").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.has("id=\"login-phone-bind\""));
    let page = b.get("/account/phone/bind?return_to=%2Faccount").await;
    assert_eq!(page.status, StatusCode::OK, "{:?}", page.location());
    assert!(
        !page.has("id=\"skip\""),
        "nothing to skip when nothing is owed"
    );
    // The change page of a login phone leads here, not in a loop.
    let change = b.get("/account/phone/login").await;
    assert!(
        change
            .location()
            .unwrap()
            .starts_with("/account/phone/bind")
    );
    let bound = bind(&app, &b, &page, NEW, "+8613912345678").await;
    assert_eq!(bound.redirect(), (StatusCode::SEE_OTHER, Some("/account")));
    // Bound: the binding page now sends the browser on.
    let after = b.get("/account/phone/bind?return_to=%2Faccount").await;
    assert_eq!(after.redirect(), (StatusCode::SEE_OTHER, Some("/account")));
}

#[tokio::test]
async fn binding_refuses_a_wrong_code_and_another_accounts_number() {
    let app = spawn_phoneless(BindingPolicy::Required).await;
    app.user_with(NewAccount {
        username: "li@cnic.cn".into(),
        login_phone: Some(NEW.into()),
        ..NewAccount::default()
    })
    .await;
    let b = app.browser();
    b.login("wang@cnic.cn", PASSWORD).await;
    let page = b.get("/account/phone/bind?return_to=%2Faccount").await;
    let sent = b
        .submit_page(
            &page,
            "/account/phone/bind/send",
            &[
                ("country_code", "+86"),
                ("number", NEW),
                ("return_to", "/account"),
            ],
        )
        .await;
    let form = b.get(sent.location().unwrap()).await;
    let wrong = b
        .submit_page(
            &form,
            "/account/phone/bind",
            &[("code", "000000"), ("return_to", "/account")],
        )
        .await;
    assert_eq!(
        wrong.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        wrong.body
    );
    let (code, _) = last_sms(&app, "+8613912345678");
    let taken = b
        .submit_page(
            &form,
            "/account/phone/bind",
            &[("code", &code), ("return_to", "/account")],
        )
        .await;
    assert_eq!(taken.status, StatusCode::CONFLICT, "{}", taken.body);
    assert!(taken.has("该号码不能用作登录手机") && !taken.has("li@cnic.cn"));
    assert_eq!(app.stored("wang@cnic.cn").await.login_phone, None);
    // A form without its CSRF token changes nothing either.
    let forged = b
        .post_form(
            "/account/phone/bind",
            &[("code", &code), ("return_to", "/account")],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    // Positive control: a free number binds.
    let again = b.get("/account/phone/bind?return_to=%2Faccount").await;
    let bound = bind(&app, &b, &again, "13700001111", "+8613700001111").await;
    assert_eq!(bound.redirect(), (StatusCode::SEE_OTHER, Some("/account")));
}

#[tokio::test]
async fn binding_a_login_phone_proves_the_security_phone_first() {
    let app = TestApp::spawn_with(|c| {
        c.sms.resend_secs = 0;
        c.phone.binding = BindingPolicy::Required;
    })
    .await;
    app.user_with(NewAccount {
        username: "zhou@cnic.cn".into(),
        security_phone: Some(OLD.into()),
        ..NewAccount::default()
    })
    .await;
    let b = app.browser();
    b.login("zhou@cnic.cn", PASSWORD).await;
    let led = b.get("/account").await;
    let to_bind = led.location().unwrap().to_string();
    let first = b.get(&to_bind).await;
    assert_eq!(
        first.redirect(),
        (StatusCode::SEE_OTHER, Some("/login/sms"))
    );
    let step_up = b.get("/login/sms").await;
    b.submit_page(&step_up, "/login/sms/send", &[]).await;
    let (code, _) = last_sms(&app, "+8613312348347");
    let back = b
        .submit_page(&step_up, "/login/sms", &[("code", &code)])
        .await;
    assert_eq!(
        back.redirect(),
        (StatusCode::SEE_OTHER, Some(to_bind.as_str()))
    );
    let page = b.get(&to_bind).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.has("id=\"bind-number\""));
}

#[tokio::test]
async fn a_binding_cannot_be_demanded_of_an_account_with_a_login_phone() {
    let app = TestApp::spawn().await;
    let user = zhang(&app).await;
    let token = crate::admin_api::admin_token(&app).await;
    let answer = reqwest::Client::new()
        .post(format!(
            "{}/api/v1/users/{}/require-phone-binding",
            app.base, user.id
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::CONFLICT);
    let problem: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(problem["field"], "login_phone");
    assert!(app.stored("zhang@cnic.cn").await.phone_binding().is_none());
}

#[tokio::test]
async fn a_phone_changed_meanwhile_is_not_overwritten() {
    let app = TestApp::spawn().await;
    let user = zhang(&app).await;
    let audit = || {
        tongxing::service::audit::Entry::new(
            "test.phone",
            tongxing::service::audit::Outcome::Success,
        )
        .finish()
    };
    let store = &app.state.store;
    let login = tongxing::domain::PhoneKind::Login;
    // The change began over a number that is no longer there.
    let stale = store
        .set_phone(
            user.id,
            login,
            Some("+8613700001111"),
            "+8613912345678",
            None,
            &audit(),
        )
        .await;
    assert!(
        matches!(stale, Err(tongxing::store::StoreError::Stale)),
        "{stale:?}"
    );
    assert_eq!(
        app.stored("zhang@cnic.cn").await.login_phone.as_deref(),
        Some("+8613312348347")
    );
    // Positive control: over the number it began with, it is written.
    store
        .set_phone(
            user.id,
            login,
            Some("+8613312348347"),
            "+8613912345678",
            None,
            &audit(),
        )
        .await
        .unwrap();
    assert_eq!(
        app.stored("zhang@cnic.cn").await.login_phone.as_deref(),
        Some("+8613912345678")
    );
}
