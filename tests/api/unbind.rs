//! The phone-unbind application through the real server (issue 14): the
//! restricted session from the step-up page, the form and its refusals,
//! my applications with 修改 and 删除, the notices and the cancel link,
//! the cooling-off period, and the password-only sign-in that binds the
//! new number and completes the case.

use image::codecs::jpeg::JpegEncoder;
use image::{ImageEncoder, Rgb, RgbImage};
use reqwest::StatusCode;
use tongxing::service::Origin;
use tongxing::service::accounts::NewAccount;
use tongxing::service::review;
use tongxing::store::review::{Case, CaseKind, CaseState};
use tongxing::store::users::User;

use crate::helpers::{Browser, PASSWORD, Page, TestApp, code_in};
use crate::oidc_rules::authorize_url;

const OLD: &str = "+8613312348347";
const NEW: &str = "13912345678";
const MAIL: &str = "zhang@example.org";
const HOUR: std::time::Duration = std::time::Duration::from_secs(3600);

async fn spawn() -> TestApp {
    TestApp::spawn_with(|c| {
        c.step_up.enabled = true;
        c.step_up.unknown_device = true;
        c.sms.resend_secs = 0;
        c.key_encryption_key = Some(base64_key(7));
    })
    .await
}

fn base64_key(byte: u8) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode([byte; 32])
}

fn jpeg(w: u32, h: u32) -> Vec<u8> {
    let img = RgbImage::from_fn(w, h, |x, y| Rgb([(x * 7) as u8, (y * 3) as u8, 90]));
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, 90)
        .write_image(img.as_raw(), w, h, image::ExtendedColorType::Rgb8)
        .unwrap();
    out
}

fn png(w: u32, h: u32) -> Vec<u8> {
    let img = RgbImage::from_pixel(w, h, Rgb([9, 9, 9]));
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(img.as_raw(), w, h, image::ExtendedColorType::Rgb8)
        .unwrap();
    out
}

/// A small JPEG whose frame header declares a huge picture.
fn bomb() -> Vec<u8> {
    let mut out = jpeg(16, 16);
    let sof = out.windows(2).position(|p| p == [0xFF, 0xC0]).unwrap();
    out[sof + 5..sof + 7].copy_from_slice(&60_000u16.to_be_bytes());
    out[sof + 7..sof + 9].copy_from_slice(&60_000u16.to_be_bytes());
    out
}

/// A JPEG of more than 1 MiB (noise does not compress).
fn large_jpeg() -> Vec<u8> {
    let mut seed = 12345u32;
    let img = RgbImage::from_fn(700, 700, |_, _| {
        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
        let b = seed.to_be_bytes();
        Rgb([b[0], b[1], b[2]])
    });
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, 100)
        .write_image(img.as_raw(), 700, 700, image::ExtendedColorType::Rgb8)
        .unwrap();
    assert!(out.len() > 1024 * 1024, "{}", out.len());
    out
}

fn photo(bytes: Vec<u8>) -> (&'static str, &'static str, &'static str, Vec<u8>) {
    ("documents", "card.jpg", "image/jpeg", bytes)
}

/// Zhang: a login phone, a verified security e-mail.
async fn zhang(app: &TestApp) -> User {
    let user = app
        .user_with(NewAccount {
            username: "zhang@cnic.cn".into(),
            login_phone: Some(OLD.into()),
            ..NewAccount::default()
        })
        .await;
    app.verified_email(&user, MAIL).await;
    user
}

/// Signs in with the password (the step-up is owed on a new device) and
/// presses 申请解绑手机号: the form in the restricted state.
async fn restricted(b: &Browser) -> Page {
    let login = b.login("zhang@cnic.cn", PASSWORD).await;
    let step_up = b.redirected(login, "/login/sms").await;
    assert!(step_up.has("/login/sms/unreachable"), "{}", step_up.body);
    let answer = b.submit_page(&step_up, "/login/sms/unreachable", &[]).await;
    let form = b.redirected(answer, "/account/phone/unbind/new").await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.has("id=\"restricted\""), "{}", form.body);
    form
}

#[tokio::test]
async fn entering_the_restricted_state_is_audited() {
    let app = spawn().await;
    zhang(&app).await;
    assert!(app.audit("login.phone_unreachable").await.is_empty());
    restricted(&app.browser()).await;
    assert_eq!(app.audit("login.phone_unreachable").await.len(), 1);
}

fn fields<'a>(csrf: &'a str, overrides: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut all = vec![
        ("csrf", csrf),
        ("reason", "lost"),
        ("note", ""),
        ("unbind_login", "1"),
        ("organization", "计算机网络信息中心"),
        ("country_code", "+86"),
        ("number", "13700001111"),
        ("password", PASSWORD),
        ("consent", "1"),
    ];
    for (k, v) in overrides {
        all.retain(|(name, _)| name != k);
        if !v.is_empty() || *k == "note" {
            all.push((k, v));
        }
    }
    all
}

/// `user` applies from the restricted state with one photo: the browser
/// and the new case.
async fn applied(app: &TestApp, user: &User, photo_bytes: Vec<u8>) -> (Browser, Case) {
    let b = app.browser();
    let form = restricted(&b).await;
    let sent = b
        .post_multipart(
            "/account/phone/unbind/new",
            &fields(&form.csrf(), &[]),
            &[photo(photo_bytes)],
        )
        .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
    let case = cases(app, user).await.remove(0);
    (b, case)
}

async fn cases(app: &TestApp, user: &User) -> Vec<Case> {
    app.state
        .store
        .cases_of_account(user.id, CaseKind::PhoneUnbind)
        .await
        .unwrap()
}

async fn reviewer(app: &TestApp) -> User {
    let r = app
        .user_with(NewAccount {
            username: "reviewer@cnic.cn".into(),
            is_admin: true,
            ..NewAccount::default()
        })
        .await;
    grant_reviewer(app, &r).await
}

/// Makes an account a reviewer: the reviewer role.
async fn grant_reviewer(app: &TestApp, user: &User) -> User {
    tongxing::service::accounts::set_role(
        &app.state,
        &user.username,
        tongxing::domain::Role::Reviewer,
        true,
        &tongxing::service::Actor::System,
        &Origin::default(),
    )
    .await
    .unwrap()
    .0
}

fn origin() -> Origin {
    Origin::default()
}

async fn approve(app: &TestApp, case: &Case) -> Case {
    let r = reviewer(app).await;
    let c = review::claim(&app.state, &r, case.id, case.version, &origin())
        .await
        .unwrap();
    review::approve(&app.state, &r, c.id, c.version, &origin())
        .await
        .unwrap()
        .0
}

/// Mails to the security e-mail, by purpose.
fn mails(app: &TestApp, purpose: &str) -> Vec<serde_json::Value> {
    app.outbox("mail")
        .into_iter()
        .filter(|m| m["purpose"] == purpose && m["to"] == MAIL)
        .collect()
}

async fn mail_wait(app: &TestApp, purpose: &str) -> serde_json::Value {
    app.settle().await;
    mails(app, purpose)
        .pop()
        .unwrap_or_else(|| panic!("no {purpose} mail: {:?}", app.outbox("mail")))
}

#[tokio::test]
async fn the_whole_path_from_the_step_up_page_to_the_new_number() {
    let app = spawn().await;
    let user = zhang(&app).await;
    // Another browser signed in before (it will be signed out at the end).
    let other = app.browser();
    let login = other.login("zhang@cnic.cn", PASSWORD).await;
    let step_up = other.redirected(login, "/login/sms").await;
    other
        .redirected(
            other.submit_page(&step_up, "/login/sms/send", &[]).await,
            "/login/sms",
        )
        .await;
    let code = code_in(app.outbox("sms").last().unwrap()["text"].as_str().unwrap());
    let done = other
        .submit_page(&step_up, "/login/sms", &[("code", &code)])
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(other.get("/account").await.status, StatusCode::OK);

    // 1. The step-up page's button: the restricted state and the form.
    let b = app.browser();
    let form = restricted(&b).await;
    assert!(form.has("133****8347"), "the login phone, masked");
    assert!(form.has("Personal Information") || form.has("个人信息保护法"));
    let csrf = form.csrf();

    // 2. The good form is accepted: the case, the notices with the cancel link.
    let sent = b
        .post_multipart(
            "/account/phone/unbind/new",
            &fields(&csrf, &[]),
            &[photo(jpeg(120, 80)), photo(jpeg(60, 90))],
        )
        .await;
    let list = b.redirected(sent, "/account/phone/unbind").await;
    assert!(list.has("id=\"notice\""), "{}", list.body);
    assert!(list.has("133****8347"));
    assert!(list.has("计算机网络信息中心"));
    assert!(list.has("手机丢失"));
    assert!(list.has("已提交"));
    let all = cases(&app, &user).await;
    assert_eq!(all.len(), 1);
    let case = all[0].clone();
    assert_eq!(case.state, CaseState::Submitted);
    assert_eq!(case.contact_phone.as_deref(), Some("+8613700001111"));
    assert_eq!(
        case.consent_version.as_deref(),
        Some(tongxing::service::unbind::CONSENT_VERSION)
    );
    // Someone who knows only the password does not see the documents:
    // no thumbnails and no document in the restricted state, only how
    // many there are (the signed-in owner sees them, below).
    let thumb = format!("/account/phone/unbind/{}/documents/1/1", case.id);
    assert!(!list.has(&thumb));
    assert!(list.has("class=\"doc-count\""));
    assert_eq!(b.get(&thumb).await.status, StatusCode::NOT_FOUND);
    // A notice to the number being unbound and to the security e-mail,
    // both with the cancel link.
    app.settle().await;
    let sms = app.outbox("sms");
    let notice = sms
        .iter()
        .rev()
        .find(|m| m["to"] == OLD && m["purpose"] == "unbind_notice")
        .expect("an SMS to the number being unbound");
    assert!(notice["text"].as_str().unwrap().contains("/unbind/cancel/"));
    let submitted = mail_wait(&app, "unbind_submitted").await;
    assert!(
        submitted["text"]
            .as_str()
            .unwrap()
            .contains(&format!("/unbind/cancel/{}", case.id))
    );

    // 3. The restricted state opens nothing else, no authorization code.
    assert_eq!(
        b.get("/account").await.redirect().1,
        Some("/login?return_to=%2Faccount")
    );
    assert_eq!(
        b.get("/account/sessions").await.status,
        StatusCode::SEE_OTHER
    );
    let rp = app.rp_with("mail", |c| c.first_party = true).await;
    let url = authorize_url(&app, &rp, "");
    let authorize = b.get(url.strip_prefix(&app.base).unwrap()).await;
    assert_eq!(authorize.status, StatusCode::SEE_OTHER);
    assert!(
        authorize
            .location()
            .unwrap_or_default()
            .starts_with("/login"),
        "no code in the restricted state, the login page: {:?}",
        authorize.location()
    );
    // The same request from a signed-in browser gets its code (the control).
    let back = other
        .client
        .get(&url)
        .send()
        .await
        .unwrap()
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    assert!(back.contains("code="), "{back}");
    // Its own pages stay open (the positive control).
    assert_eq!(b.get("/account/phone/unbind").await.status, StatusCode::OK);

    // 4. Review: approved; the decision goes out by mail.
    let approved = approve(&app, &case).await;
    assert_eq!(approved.state, CaseState::Approved);
    let mail = mail_wait(&app, "unbind_approved").await;
    assert!(
        mail["text"]
            .as_str()
            .unwrap()
            .contains("/account/phone/unbind")
    );
    let list = b.get("/account/phone/unbind").await;
    assert!(list.has("class=\"notice effective\""), "{}", list.body);

    // 5. Cooling-off: before its end nothing changes.
    review::sweep(&app.state).await.unwrap();
    assert_eq!(
        app.stored("zhang@cnic.cn").await.login_phone.as_deref(),
        Some(OLD)
    );
    app.advance(HOUR * 73);
    let swept = review::sweep(&app.state).await.unwrap();
    assert_eq!(swept.effective, 1);
    let now = app.stored("zhang@cnic.cn").await;
    assert_eq!(now.login_phone, None, "the number left the account");
    assert_eq!(now.phone_binding_raw.as_deref(), Some("after_unbind"));
    assert_eq!(cases(&app, &user).await[0].state, CaseState::AwaitingRebind);

    // 6. The next sign-in: the password alone, then the binding first.
    let fresh = app.browser();
    let login = fresh.login("zhang@cnic.cn", PASSWORD).await;
    assert_eq!(login.status, StatusCode::SEE_OTHER);
    assert_ne!(
        login.location(),
        Some("/login/sms"),
        "no step-up: {:?}",
        login.location()
    );
    let account = fresh.get("/account").await;
    assert_eq!(account.status, StatusCode::SEE_OTHER);
    assert!(
        account
            .location()
            .unwrap()
            .starts_with("/account/phone/bind")
    );
    let bind = fresh.get("/account/phone/bind?return_to=%2Faccount").await;
    let sent = fresh
        .submit_page(
            &bind,
            "/account/phone/bind/send",
            &[
                ("country_code", "+86"),
                ("number", NEW),
                ("return_to", "/account"),
            ],
        )
        .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER);
    let code = code_in(
        app.outbox("sms")
            .iter()
            .rev()
            .find(|m| m["to"] == "+8613912345678")
            .unwrap()["text"]
            .as_str()
            .unwrap(),
    );
    let page = fresh.get("/account/phone/bind?return_to=%2Faccount").await;
    let bound = fresh
        .submit_page(
            &page,
            "/account/phone/bind",
            &[("code", &code), ("return_to", "/account")],
        )
        .await;
    assert_eq!(bound.redirect(), (StatusCode::SEE_OTHER, Some("/account")));
    assert_eq!(fresh.get("/account").await.status, StatusCode::OK);
    // Signed in, the owner sees the thumbnails: real JPEGs.
    assert!(fresh.get("/account/phone/unbind").await.has(&thumb));
    let image = fresh
        .client
        .get(format!("{}{thumb}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(image.status(), StatusCode::OK);
    assert_eq!(image.headers()["content-type"], "image/jpeg");
    assert_eq!(&image.bytes().await.unwrap()[..2], &[0xFF, 0xD8]);

    // 7. Completed: the other sessions ended; notices to the new number and the mail.
    let done = cases(&app, &user).await.remove(0);
    assert_eq!(done.state, CaseState::Completed);
    assert!(done.purge_after.is_some());
    assert_eq!(other.get("/account").await.status, StatusCode::SEE_OTHER);
    app.settle().await;
    assert!(
        app.outbox("sms")
            .iter()
            .any(|m| m["to"] == "+8613912345678" && m["purpose"] == "unbind_notice"),
        "{:?}",
        app.outbox("sms")
    );
    mail_wait(&app, "unbind_completed").await;
    let now = app.stored("zhang@cnic.cn").await;
    assert_eq!(now.login_phone.as_deref(), Some("+8613912345678"));
    assert_eq!(now.phone_binding_raw, None);

    // 8. After the retention the documents are gone from the database.
    app.advance(HOUR * 24 * 8);
    review::sweep(&app.state).await.unwrap();
    let docs = app.state.store.case_documents(done.id, 1).await.unwrap();
    assert_eq!(docs.len(), 2);
    assert!(
        docs.iter()
            .all(|d| d.ciphertext.is_none() && d.wrapped_key.is_none())
    );
    let gone = review::document(&app.state, &user, done.id, 1, 1, &origin()).await;
    assert!(
        matches!(
            gone,
            Err(review::ReviewError::Document(
                tongxing::service::documents::DocumentError::Purged
            ))
        ),
        "{gone:?}"
    );
}

#[tokio::test]
async fn every_field_is_checked_and_a_refused_form_keeps_what_was_typed() {
    let app = spawn().await;
    let user = zhang(&app).await;
    let b = app.browser();
    let form = restricted(&b).await;
    let csrf = form.csrf();
    let good = || vec![photo(jpeg(40, 40))];
    let refused = |page: &Page, field: &str| {
        assert_eq!(
            page.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            page.body
        );
        assert!(
            page.has(&format!("id=\"{field}-error\"")),
            "{field}: {}",
            page.body
        );
    };
    // Nothing chosen, nothing typed: a message for every field.
    let empty = b
        .post_multipart(
            "/account/phone/unbind/new",
            &[("csrf", &csrf), ("country_code", "+86")],
            &[],
        )
        .await;
    for field in [
        "reason",
        "phones",
        "organization",
        "contact_phone",
        "password",
        "consent",
    ] {
        refused(&empty, field);
    }
    // "Other" needs a note; a note has at most 500 characters.
    let page = b
        .post_multipart(
            "/account/phone/unbind/new",
            &fields(&csrf, &[("reason", "other")]),
            &good(),
        )
        .await;
    refused(&page, "note");
    let long = "字".repeat(501);
    let page = b
        .post_multipart(
            "/account/phone/unbind/new",
            &fields(&csrf, &[("note", &long)]),
            &good(),
        )
        .await;
    refused(&page, "note");
    // The consent is separate and required; the typed values stay, the
    // password does not.
    let page = b
        .post_multipart(
            "/account/phone/unbind/new",
            &fields(
                &csrf,
                &[("consent", ""), ("organization", "Typed Institute")],
            ),
            &good(),
        )
        .await;
    refused(&page, "consent");
    assert!(page.has("value=\"Typed Institute\""));
    assert!(page.has("value=\"13700001111\""));
    assert!(!page.has(PASSWORD), "the password is not drawn again");
    // A contact number that is not one.
    let page = b
        .post_multipart(
            "/account/phone/unbind/new",
            &fields(&csrf, &[("number", "12")]),
            &good(),
        )
        .await;
    refused(&page, "contact_phone");
    // The wrong password.
    let page = b
        .post_multipart(
            "/account/phone/unbind/new",
            &fields(&csrf, &[("password", "not-the-password-1A")]),
            &good(),
        )
        .await;
    refused(&page, "password");
    // Documents: none, not a JPEG, a PNG named .jpg, over 1 MiB, a bomb, four.
    let page = b
        .post_multipart("/account/phone/unbind/new", &fields(&csrf, &[]), &[])
        .await;
    refused(&page, "documents");
    for bad in [
        b"not an image at all".to_vec(),
        png(30, 30),
        large_jpeg(),
        bomb(),
    ] {
        let page = b
            .post_multipart(
                "/account/phone/unbind/new",
                &fields(&csrf, &[]),
                &[photo(bad)],
            )
            .await;
        refused(&page, "documents");
    }
    let four: Vec<_> = (0..4).map(|_| photo(jpeg(20, 20))).collect();
    let page = b
        .post_multipart("/account/phone/unbind/new", &fields(&csrf, &[]), &four)
        .await;
    refused(&page, "documents");
    assert!(
        cases(&app, &user).await.is_empty(),
        "nothing refused was stored"
    );
    // A form without the CSRF token is refused before anything.
    let page = b
        .post_multipart("/account/phone/unbind/new", &fields("wrong", &[]), &good())
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    // The positive control: the same form, well filled, is accepted.
    let page = b
        .post_multipart("/account/phone/unbind/new", &fields(&csrf, &[]), &good())
        .await;
    assert_eq!(
        page.redirect(),
        (StatusCode::SEE_OTHER, Some("/account/phone/unbind"))
    );
    assert_eq!(cases(&app, &user).await.len(), 1);
    // One open application at a time: the form leads to it.
    let again = b.get("/account/phone/unbind/new").await;
    assert_eq!(
        again.redirect(),
        (StatusCode::SEE_OTHER, Some("/account/phone/unbind"))
    );
}

#[tokio::test]
async fn the_form_speaks_english_too() {
    let app = spawn().await;
    zhang(&app).await;
    let b = app.browser();
    let form = restricted(&b).await;
    let form_en = b.get("/account/phone/unbind/new?lang=en").await;
    assert!(form_en.has("Apply to unbind a phone"), "{}", form_en.body);
    assert!(form_en.has("Personal Information Protection Law"));
    let page = b
        .post_multipart(
            "/account/phone/unbind/new",
            &fields(&form.csrf(), &[("reason", "other"), ("consent", "")]),
            &[photo(png(10, 10))],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.has("Write a note when the reason is"), "{}", page.body);
    assert!(page.has("Tick the consent"));
    assert!(!page.has("请勾选"));
}

#[tokio::test]
async fn a_rejected_application_is_edited_and_submitted_again_or_deleted() {
    let app = spawn().await;
    let user = zhang(&app).await;
    let (b, case) = applied(&app, &user, jpeg(30, 30)).await;
    let r = reviewer(&app).await;
    let c = review::claim(&app.state, &r, case.id, case.version, &origin())
        .await
        .unwrap();
    review::reject(
        &app.state,
        &r,
        c.id,
        c.version,
        "照片看不清，请重新拍摄",
        &origin(),
    )
    .await
    .unwrap();
    let mail = mail_wait(&app, "unbind_rejected").await;
    assert!(mail["text"].as_str().unwrap().contains("照片看不清"));
    let list = b.get("/account/phone/unbind").await;
    assert!(list.has("照片看不清"), "审批备注 shown: {}", list.body);
    assert!(list.has("未通过"));
    // 修改: the form comes prefilled; the new revision goes back to review.
    let edit_url = format!("/account/phone/unbind/{}/edit", case.id);
    let edit = b.get(&edit_url).await;
    assert_eq!(edit.status, StatusCode::OK);
    assert!(edit.has("value=\"计算机网络信息中心\""));
    let version = hidden(&edit, "version");
    let sent = b
        .post_multipart(
            &edit_url,
            &fields(
                &edit.csrf(),
                &[
                    ("reason", "out_of_service"),
                    ("number", "13700002222"),
                    ("version", &version),
                ],
            ),
            &[photo(jpeg(50, 50)), photo(jpeg(51, 51))],
        )
        .await;
    assert_eq!(
        sent.redirect(),
        (StatusCode::SEE_OTHER, Some("/account/phone/unbind"))
    );
    let again = cases(&app, &user).await.remove(0);
    assert_eq!(again.state, CaseState::Submitted);
    assert_eq!(again.revision, 2);
    assert_eq!(again.contact_phone.as_deref(), Some("+8613700002222"));
    let events: Vec<String> = app
        .state
        .store
        .case_events(case.id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .collect();
    assert!(
        events.contains(&"rejected".to_string()) && events.contains(&"resubmitted".to_string())
    );
    // 删除: withdrawn, and the form opens again.
    let list = b.get("/account/phone/unbind").await;
    let withdraw = format!("/account/phone/unbind/{}/withdraw", case.id);
    let answer = b
        .submit_page(&list, &withdraw, &[("version", &again.version.to_string())])
        .await;
    b.redirected(answer, "/account/phone/unbind").await;
    assert_eq!(cases(&app, &user).await[0].state, CaseState::Withdrawn);
    assert_eq!(
        b.get("/account/phone/unbind/new").await.status,
        StatusCode::OK
    );
    // Another account sees none of it.
    app.user_with(NewAccount {
        username: "li@cnic.cn".into(),
        login_phone: Some("13600001111".into()),
        ..NewAccount::default()
    })
    .await;
    let li = app.browser();
    let login = li.login("li@cnic.cn", PASSWORD).await;
    let step_up = li.redirected(login, "/login/sms").await;
    li.submit_page(&step_up, "/login/sms/unreachable", &[])
        .await;
    assert_eq!(li.get(&edit_url).await.status, StatusCode::NOT_FOUND);
    let doc = format!("/account/phone/unbind/{}/documents/2/1", case.id);
    assert_eq!(li.get(&doc).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        b.get(&doc).await.status,
        StatusCode::NOT_FOUND,
        "restricted"
    );
    let own = review::document(&app.state, &user, case.id, 2, 1, &origin()).await;
    assert!(own.is_ok(), "the applicant's control: {own:?}");
}

#[tokio::test]
async fn the_cancel_link_cancels_even_an_approved_application() {
    let app = spawn().await;
    let user = zhang(&app).await;
    let (_, case) = applied(&app, &user, jpeg(30, 30)).await;
    approve(&app, &case).await;
    let mail = mail_wait(&app, "unbind_submitted").await;
    let link = cancel_link_in(mail["text"].as_str().unwrap());
    let path = link.strip_prefix(&app.base).unwrap().to_string();
    // A wrong token: nothing to cancel (the positive control follows).
    let wrong = format!("/unbind/cancel/{}?token=forged", case.id);
    assert_eq!(
        app.browser().get(&wrong).await.status,
        StatusCode::NOT_FOUND
    );
    // Following the link shows a button; it cancels nothing by itself.
    let owner = app.browser();
    let page = owner.get(&path).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.has("133****8347"));
    assert_eq!(cases(&app, &user).await[0].state, CaseState::Approved);
    let done = owner
        .submit_page(
            &page,
            &format!("/unbind/cancel/{}", case.id),
            &[("token", &query_token(&link))],
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(cases(&app, &user).await[0].state, CaseState::Cancelled);
    mail_wait(&app, "unbind_cancelled").await;
    // The cooling-off ends: nothing happens to the account.
    app.advance(HOUR * 80);
    review::sweep(&app.state).await.unwrap();
    assert_eq!(
        app.stored("zhang@cnic.cn").await.login_phone.as_deref(),
        Some(OLD)
    );
    // The link again: the application has ended.
    assert!(owner.get(&path).await.has("id=\"message\""));
}

/// The cancel link of a notice.
fn cancel_link_in(text: &str) -> String {
    let start = text.find("http").unwrap();
    text[start..]
        .split_whitespace()
        .find(|w| w.contains("/unbind/cancel/"))
        .map(|w| w.trim_end_matches(['。', '.', ')']).to_string())
        .or_else(|| {
            text.split_whitespace()
                .find(|w| w.contains("/unbind/cancel/"))
                .map(str::to_string)
        })
        .unwrap_or_else(|| panic!("no cancel link in {text}"))
}

/// The value of a page's hidden field `name`.
fn hidden(page: &Page, name: &str) -> String {
    page.hidden_fields()
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no hidden {name} in {}", page.body))
}

fn query_token(link: &str) -> String {
    crate::helpers::query(link)["token"].clone()
}

#[tokio::test]
async fn a_successful_sms_step_up_with_the_old_phone_cancels_the_application() {
    let app = spawn().await;
    let user = zhang(&app).await;
    let (_, case) = applied(&app, &user, jpeg(30, 30)).await;
    approve(&app, &case).await;
    // The owner signs in and receives the code on the old phone.
    let owner = app.browser();
    let login = owner.login("zhang@cnic.cn", PASSWORD).await;
    let step_up = owner.redirected(login, "/login/sms").await;
    owner
        .redirected(
            owner.submit_page(&step_up, "/login/sms/send", &[]).await,
            "/login/sms",
        )
        .await;
    let code = code_in(
        app.outbox("sms")
            .iter()
            .rev()
            .find(|m| m["purpose"] == "login")
            .unwrap()["text"]
            .as_str()
            .unwrap(),
    );
    // Still approved until the code is right (a wrong code changes nothing).
    owner
        .submit_page(&step_up, "/login/sms", &[("code", "000000")])
        .await;
    assert_eq!(cases(&app, &user).await[0].state, CaseState::Approved);
    let ok = owner
        .submit_page(&step_up, "/login/sms", &[("code", &code)])
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    assert_eq!(cases(&app, &user).await[0].state, CaseState::Cancelled);
    let events = app.state.store.case_events(case.id).await.unwrap();
    assert_eq!(
        events.last().unwrap().note.as_deref(),
        Some("phone proved by SMS")
    );
}

#[tokio::test]
async fn the_restricted_state_ends_and_sign_out_works() {
    let app = spawn().await;
    zhang(&app).await;
    let b = app.browser();
    restricted(&b).await;
    assert_eq!(b.get("/account/phone/unbind").await.status, StatusCode::OK);
    // An hour later the state has run out: the login page.
    app.advance(HOUR + std::time::Duration::from_secs(60));
    let page = b.get("/account/phone/unbind").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert!(page.location().unwrap().starts_with("/login"));
    // Signing out from the restricted state.
    let b = app.browser();
    let form = restricted(&b).await;
    let out = b.submit_page(&form, "/logout", &[]).await;
    assert!(out.status.is_redirection() || out.status == StatusCode::OK);
    let page = b.get("/account/phone/unbind").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn unbinding_only_the_security_phone_completes_when_it_takes_effect() {
    let app = spawn().await;
    let user = app
        .user_with(NewAccount {
            username: "zhang@cnic.cn".into(),
            login_phone: Some(OLD.into()),
            security_phone: Some("13800001234".into()),
            ..NewAccount::default()
        })
        .await;
    app.verified_email(&user, MAIL).await;
    // Signed in with the SMS (the code goes to the security phone).
    let b = app.browser();
    let login = b.login("zhang@cnic.cn", PASSWORD).await;
    let step_up = b.redirected(login, "/login/sms").await;
    b.redirected(
        b.submit_page(&step_up, "/login/sms/send", &[]).await,
        "/login/sms",
    )
    .await;
    let code = code_in(app.outbox("sms").last().unwrap()["text"].as_str().unwrap());
    b.submit_page(&step_up, "/login/sms", &[("code", &code)])
        .await;
    // The signed-in account page links to the applications.
    let account = b.get("/account").await;
    assert!(account.has("/account/phone/unbind"));
    let form = b.get("/account/phone/unbind/new").await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(!form.has("id=\"restricted\""), "signed in, not restricted");
    let sent = b
        .post_multipart(
            "/account/phone/unbind/new",
            &fields(
                &form.csrf(),
                &[("unbind_login", ""), ("unbind_security", "1")],
            ),
            &[photo(jpeg(30, 30))],
        )
        .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
    let case = cases(&app, &user).await.remove(0);
    // An application password made before works until the completion.
    app.rp_with("mail", |c| {
        c.first_party = true;
        c.app_passwords_allowed = true;
    })
    .await;
    let secret = tongxing::service::app_passwords::create(
        &app.state,
        &user,
        app.state.clock.now().unix_timestamp(),
        "mail",
        "phone mail",
        &origin(),
        tongxing::i18n::Lang::ZhCn,
    )
    .await
    .unwrap()
    .secret
    .grouped();
    let works = |user: User| {
        let (state, secret) = (app.state.clone(), secret.clone());
        async move {
            tongxing::service::app_passwords::authenticate(
                &state,
                &user,
                "mail",
                &secret,
                &origin(),
            )
            .await
            .is_ok()
        }
    };
    assert!(works(app.stored("zhang@cnic.cn").await).await);
    approve(&app, &case).await;
    assert!(
        works(app.stored("zhang@cnic.cn").await).await,
        "approval alone keeps it"
    );
    app.advance(HOUR * 73);
    review::sweep(&app.state).await.unwrap();
    let now = app.stored("zhang@cnic.cn").await;
    // The completion revoked it, in its own transaction, audited.
    assert!(!works(now.clone()).await);
    let revoked = app.audit("app_password.revoked_all").await;
    assert_eq!(revoked.len(), 1);
    assert!(
        revoked[0].detail.contains("phone_unbind completed"),
        "{}",
        revoked[0].detail
    );
    assert_eq!(now.security_phone, None);
    assert_eq!(
        now.login_phone.as_deref(),
        Some(OLD),
        "the login phone stays"
    );
    assert_eq!(now.phone_binding_raw, None, "nothing to bind");
    assert_eq!(cases(&app, &user).await[0].state, CaseState::Completed);
}

#[tokio::test]
async fn applications_are_limited_per_account_a_day() {
    let app = spawn().await;
    let user = zhang(&app).await;
    let b = app.browser();
    let form = restricted(&b).await;
    let csrf = form.csrf();
    // Ten refused uploads count (each was decoded) …
    for _ in 0..10 {
        let page = b
            .post_multipart(
                "/account/phone/unbind/new",
                &fields(&csrf, &[]),
                &[photo(png(8, 8))],
            )
            .await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    // … and the eleventh, even a good one, waits until tomorrow.
    let page = b
        .post_multipart(
            "/account/phone/unbind/new",
            &fields(&csrf, &[]),
            &[photo(jpeg(20, 20))],
        )
        .await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS, "{}", page.body);
    assert!(page.header("retry-after").is_some());
    assert!(cases(&app, &user).await.is_empty());
    // The next day it is accepted.
    app.advance(HOUR * 25);
    let b = app.browser();
    let form = restricted(&b).await;
    let page = b
        .post_multipart(
            "/account/phone/unbind/new",
            &fields(&form.csrf(), &[]),
            &[photo(jpeg(20, 20))],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
}

/// Whether `needle` occurs in the SQLite database's files.
fn on_disk(app: &TestApp, needle: &[u8]) -> bool {
    ["tongxing.db", "tongxing.db-wal"].iter().any(|f| {
        std::fs::read(app.config.data_dir.join(f))
            .map(|bytes| bytes.windows(needle.len()).any(|w| w == needle))
            .unwrap_or(false)
    })
}

#[tokio::test]
async fn a_purged_document_is_gone_from_the_database_file() {
    if std::env::var("TONGXING_TEST_DATABASE_URL").is_ok_and(|v| !v.is_empty()) {
        eprintln!("skipped: the file check is for the embedded SQLite database");
        return;
    }
    let app = spawn().await;
    let user = zhang(&app).await;
    let (b, case) = applied(&app, &user, jpeg(200, 200)).await;
    let stored = app
        .state
        .store
        .case_documents(case.id, 1)
        .await
        .unwrap()
        .remove(0);
    let ciphertext = stored.ciphertext.unwrap();
    let needle = &ciphertext[100..164];
    // The positive control: the encrypted bytes are in the file (and the
    // picture is not: only ciphertext is stored).
    app.sql("PRAGMA wal_checkpoint(TRUNCATE)").await;
    assert!(on_disk(&app, needle), "the stored ciphertext is found");
    let shown = review::document(&app.state, &user, case.id, 1, 1, &origin())
        .await
        .unwrap();
    assert!(
        !on_disk(&app, &shown[200..264]),
        "the JPEG itself is never stored"
    );
    // Withdrawn, the retention passes, the purge runs.
    let list = b.get("/account/phone/unbind").await;
    b.submit_page(
        &list,
        &format!("/account/phone/unbind/{}/withdraw", case.id),
        &[("version", &case.version.to_string())],
    )
    .await;
    app.advance(HOUR * 24 * 8);
    assert_eq!(review::sweep(&app.state).await.unwrap().purged, 1);
    app.sql("PRAGMA wal_checkpoint(TRUNCATE)").await;
    assert!(!on_disk(&app, needle), "the purged bytes are overwritten");
}

#[tokio::test]
async fn cancelling_an_application_in_effect_puts_the_number_back_and_ends_every_sign_in() {
    let app = spawn().await;
    let user = zhang(&app).await;
    let (_, case) = applied(&app, &user, jpeg(30, 30)).await;
    approve(&app, &case).await;
    app.advance(HOUR * 73);
    review::sweep(&app.state).await.unwrap();
    assert_eq!(app.stored("zhang@cnic.cn").await.login_phone, None);
    // Someone with the password signs in with it alone meanwhile.
    let intruder = app.browser();
    let login = intruder.login("zhang@cnic.cn", PASSWORD).await;
    assert_eq!(login.status, StatusCode::SEE_OTHER);
    assert_eq!(
        intruder.get("/account/phone/unbind").await.status,
        StatusCode::OK
    );
    // The owner follows the cancel link of the first notice.
    let mail = mail_wait(&app, "unbind_submitted").await;
    let link = cancel_link_in(mail["text"].as_str().unwrap());
    let owner = app.browser();
    let page = owner.get(link.strip_prefix(&app.base).unwrap()).await;
    let done = owner
        .submit_page(
            &page,
            &format!("/unbind/cancel/{}", case.id),
            &[("token", &query_token(&link))],
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(cases(&app, &user).await[0].state, CaseState::Cancelled);
    let now = app.stored("zhang@cnic.cn").await;
    assert_eq!(now.login_phone.as_deref(), Some(OLD), "the number is back");
    assert_eq!(now.phone_binding_raw, None);
    // The intruder's session is over.
    assert_eq!(
        intruder.get("/account/phone/unbind").await.status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn an_application_in_effect_not_finished_in_time_expires_and_puts_the_number_back() {
    let app = spawn().await;
    let user = zhang(&app).await;
    let (_, case) = applied(&app, &user, jpeg(30, 30)).await;
    approve(&app, &case).await;
    app.advance(HOUR * 73);
    review::sweep(&app.state).await.unwrap();
    assert_eq!(app.stored("zhang@cnic.cn").await.login_phone, None);
    // Before the 14 days nothing more happens (the control) …
    app.advance(HOUR * 24 * 13);
    review::sweep(&app.state).await.unwrap();
    assert_eq!(cases(&app, &user).await[0].state, CaseState::AwaitingRebind);
    // … after them the case expires and the account is as before.
    app.advance(HOUR * 24 * 2);
    let swept = review::sweep(&app.state).await.unwrap();
    assert_eq!(swept.expired, 1);
    assert_eq!(cases(&app, &user).await[0].state, CaseState::Expired);
    let now = app.stored("zhang@cnic.cn").await;
    assert_eq!(now.login_phone.as_deref(), Some(OLD));
    assert_eq!(now.phone_binding_raw, None);
    // The password alone no longer signs in: the step-up is owed again.
    let b = app.browser();
    let login = b.login("zhang@cnic.cn", PASSWORD).await;
    assert_eq!(login.location(), Some("/login/sms"));
}

#[tokio::test]
async fn an_upload_over_the_limit_gets_a_page_that_says_why() {
    let app = spawn().await;
    zhang(&app).await;
    let b = app.browser();
    let form = restricted(&b).await;
    let huge = vec![0xAB; 4 * 1024 * 1024];
    let page = b
        .post_multipart(
            "/account/phone/unbind/new",
            &fields(&form.csrf(), &[]),
            &[photo(huge)],
        )
        .await;
    assert_eq!(page.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(page.has("上传的内容太大"), "{}", page.body);
    assert!(page.has("1 MB"));
    // A mangled application id is the not-found page, not a raw error.
    let page = b.get("/unbind/cancel/not-an-id?token=x").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(page.has("<html"), "{}", page.body);
    let page = b.get("/account/phone/unbind/123/edit").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_edit_is_announced_to_every_number_with_a_cancel_link_of_its_own() {
    let app = spawn().await;
    let user = app
        .user_with(NewAccount {
            username: "zhang@cnic.cn".into(),
            login_phone: Some(OLD.into()),
            security_phone: Some("13800001234".into()),
            ..NewAccount::default()
        })
        .await;
    app.verified_email(&user, MAIL).await;
    let b = app.browser();
    let form = restricted(&b).await;
    b.post_multipart(
        "/account/phone/unbind/new",
        &fields(&form.csrf(), &[]),
        &[photo(jpeg(30, 30))],
    )
    .await;
    let case = cases(&app, &user).await.remove(0);
    app.settle().await;
    let to_security = |app: &TestApp| {
        app.outbox("sms")
            .into_iter()
            .filter(|m| m["to"] == "+8613800001234" && m["purpose"] == "unbind_notice")
            .count()
    };
    assert_eq!(
        to_security(&app),
        0,
        "the security phone was not applied for"
    );
    // 修改: the security phone is added.
    let edit_url = format!("/account/phone/unbind/{}/edit", case.id);
    let edit = b.get(&edit_url).await;
    let sent = b
        .post_multipart(
            &edit_url,
            &fields(
                &edit.csrf(),
                &[
                    ("unbind_security", "1"),
                    ("version", &hidden(&edit, "version")),
                ],
            ),
            &[photo(jpeg(40, 40))],
        )
        .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
    app.settle().await;
    assert_eq!(to_security(&app), 1, "the added number hears of it");
    let mails = mails(&app, "unbind_submitted");
    assert_eq!(mails.len(), 2, "a mail for each revision");
    // Both cancel links work: the second one here.
    let link = cancel_link_in(mails[1]["text"].as_str().unwrap());
    let first = cancel_link_in(mails[0]["text"].as_str().unwrap());
    assert_ne!(link, first);
    let owner = app.browser();
    assert_eq!(
        owner
            .get(first.strip_prefix(&app.base).unwrap())
            .await
            .status,
        StatusCode::OK
    );
    let page = owner.get(link.strip_prefix(&app.base).unwrap()).await;
    owner
        .submit_page(
            &page,
            &format!("/unbind/cancel/{}", case.id),
            &[("token", &query_token(&link))],
        )
        .await;
    assert_eq!(cases(&app, &user).await[0].state, CaseState::Cancelled);
}
