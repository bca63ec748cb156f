//! The organization-verified password retrieval through the real server
//! (issue 16): organization search and registration, the form and its
//! phone's code, the PDF, file authentication, the two uploads and the
//! submission, the reviewer naming the account, the SMS retrieval code and
//! the completion — and each refusal on its own.

use std::process::Command;

use image::codecs::jpeg::JpegEncoder;
use image::{ImageEncoder, Rgb, RgbImage};
use reqwest::StatusCode;
use tongxing::service::accounts::NewAccount;
use tongxing::store::review::{Case, CaseKind, CaseState};
use tongxing::store::users::User;

use crate::helpers::{Browser, PASSWORD, Page, TestApp, code_in};
use crate::retrieval_form::skipped;

const ORG: &str = "中国科学院计算机网络信息中心";
/// The phone of the form (the person's new number).
const FORM_PHONE: &str = "13700001111";
const NEW_PASSWORD: &str = "Tea-Kettle-Window-42";
const HOUR: std::time::Duration = std::time::Duration::from_secs(3600);
/// A valid resident ID number (GB 11643 check character X).
const ID: &str = "11010519491231002X";

async fn spawn() -> TestApp {
    TestApp::spawn_with(|c| {
        c.sms.resend_secs = 0;
        c.key_encryption_key = Some(base64_key(9));
    })
    .await
}

fn base64_key(byte: u8) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode([byte; 32])
}

fn jpeg(w: u32, h: u32, tint: u8) -> Vec<u8> {
    let img = RgbImage::from_fn(w, h, |x, y| Rgb([(x * 7) as u8, (y * 3) as u8, tint]));
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

/// A JPEG of more than 1 MiB (noise does not compress).
fn large_jpeg() -> Vec<u8> {
    let mut seed = 4242u32;
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

/// Zhang: the account the retrieval is about, with an old login phone
/// (not the form's) and a verified security e-mail.
async fn zhang(app: &TestApp) -> User {
    let org = app.org(ORG).await;
    let user = app
        .user_with(NewAccount {
            username: "zhang".into(),
            display_name: Some("张三".into()),
            organization: Some(org.full_name.clone()),
            login_phone: Some("+8613312348347".into()),
            ..NewAccount::default()
        })
        .await;
    app.verified_email(&user, "zhang@example.org").await;
    user
}

async fn reviewer(app: &TestApp) -> Browser {
    app.user_with(NewAccount {
        username: "rev".into(),
        roles: tongxing::domain::Roles::new([tongxing::domain::Role::Reviewer]),
        ..NewAccount::default()
    })
    .await;
    let b = app.browser();
    b.login("rev", PASSWORD).await;
    b
}

fn form_fields<'a>(csrf: &'a str, overrides: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut all = vec![
        ("csrf", csrf),
        ("account", ""),
        ("registered_name", ""),
        ("name", "张三"),
        ("id_type", "resident_card"),
        ("id_number", ID),
        ("country_code", "+86"),
        ("number", FORM_PHONE),
        ("email", ""),
        ("reason", "forgotten"),
        ("reason_text", ""),
        ("consent", "1"),
    ];
    for (k, v) in overrides {
        all.retain(|(name, _)| name != k);
        all.push((k, v));
    }
    all
}

/// Fills in the form for `org` with `overrides`: the answer.
async fn post_form(b: &Browser, org: uuid::Uuid, overrides: &[(&str, &str)]) -> Page {
    let url = format!("/retrieve/form?org={org}");
    let page = b.get(&url).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let csrf = page.csrf();
    b.post_form(&url, &form_fields(&csrf, overrides)).await
}

/// The last SMS to `e164`.
fn last_sms(app: &TestApp, e164: &str) -> String {
    app.outbox("sms")
        .into_iter()
        .rev()
        .find(|m| m["to"] == e164)
        .unwrap_or_else(|| panic!("no SMS to {e164}: {:?}", app.outbox("sms")))["text"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The form, confirmed by its code: the case page.
async fn new_case(app: &TestApp, b: &Browser, org: uuid::Uuid) -> (Case, Page) {
    let answer = post_form(b, org, &[]).await;
    let confirm = b.redirected(answer, "/retrieve/confirm").await;
    assert!(confirm.has("137****1111"), "{}", confirm.body);
    let code = code_in(&last_sms(app, "+8613700001111"));
    let answer = b
        .submit_page(&confirm, "/retrieve/confirm", &[("code", &code)])
        .await;
    let page = b.redirected(answer, "/retrieve/case").await;
    assert_eq!(page.status, StatusCode::OK);
    let cases = app
        .state
        .store
        .open_cases_of_kind(CaseKind::PasswordRetrieval, 100)
        .await
        .unwrap();
    let case = cases
        .into_iter()
        .max_by_key(|c| c.created_at)
        .expect("a retrieval case");
    (case, page)
}

async fn upload(b: &Browser, slot: i64, bytes: Vec<u8>) -> Page {
    let page = b.get("/retrieve/upload").await;
    let csrf = page.csrf();
    b.post_multipart(
        &format!("/retrieve/upload/{slot}"),
        &[("csrf", &csrf)],
        &[("file", "scan.jpg", "image/jpeg", bytes)],
    )
    .await
}

/// Both scans uploaded and the case submitted.
async fn uploaded_and_submitted(b: &Browser) -> Page {
    for (slot, tint) in [(1, 10), (2, 200)] {
        let answer = upload(b, slot, jpeg(64, 48, tint)).await;
        b.redirected(answer, "/retrieve/upload?done=uploaded").await;
    }
    let page = b.get("/retrieve/upload").await;
    let answer = b.submit_page(&page, "/retrieve/submit", &[]).await;
    b.redirected(answer, "/retrieve/upload?done=submitted")
        .await
}

async fn case_now(app: &TestApp, id: uuid::Uuid) -> Case {
    app.state.store.case_by_id(id).await.unwrap().unwrap()
}

/// The reviewer claims the case and approves it naming `account`.
async fn approve(app: &TestApp, rev: &Browser, case: &Case, account: &str) -> Page {
    let url = format!("/admin/review/{}", case.id);
    let page = rev.get(&url).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let version = case_now(app, case.id).await.version.to_string();
    let answer = rev
        .submit_page(&page, &url, &[("action", "claim"), ("version", &version)])
        .await;
    let page = rev.redirected(answer, &format!("{url}?done=claimed")).await;
    let version = case_now(app, case.id).await.version.to_string();
    rev.submit_page(
        &page,
        &url,
        &[
            ("action", "approve"),
            ("version", &version),
            ("account", account),
        ],
    )
    .await
}

/// A submitted, approved case: its number and the code from the SMS.
async fn approved(app: &TestApp) -> (Case, String, String) {
    zhang(app).await;
    let org = app.org(ORG).await;
    let b = app.browser();
    let (case, _) = new_case(app, &b, org.id).await;
    uploaded_and_submitted(&b).await;
    let rev = reviewer(app).await;
    let answer = approve(app, &rev, &case, "zhang").await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    let sms = app
        .outbox_wait("sms", 2)
        .await
        .into_iter()
        .rev()
        .find(|m| m["to"] == "+8613700001111" && m["purpose"] == "retrieval_code")
        .expect("the retrieval code by SMS");
    let code = code_in(sms["text"].as_str().unwrap());
    let number = case.public_number.clone().unwrap();
    (case, number, code)
}

async fn complete(b: &Browser, number: &str, code: &str, password: &str) -> Page {
    b.submit(
        "/retrieve/complete",
        "/retrieve/complete",
        &[
            ("number", number),
            ("code", code),
            ("new", password),
            ("repeat", password),
        ],
    )
    .await
}

#[tokio::test]
async fn the_whole_path_with_a_registered_organization() {
    let app = spawn().await;
    let user = zhang(&app).await;
    // Zhang's old sign-in, which the completion must end.
    let old = app.browser();
    old.login("zhang", PASSWORD).await;
    assert_eq!(old.get("/account").await.status, StatusCode::OK);

    // Step 1: the search finds approved organizations by name only.
    let b = app.browser();
    let found = b.get("/retrieve?q=计算机网络").await;
    assert!(found.has(ORG), "{}", found.body);
    let none = b.get("/retrieve?q=天文台").await;
    assert!(none.has("id=\"no-match\""), "{}", none.body);
    // Registering it: full name as on the seal, contact, captcha.
    let start = b.get("/retrieve").await;
    let captcha_id = start
        .hidden_fields()
        .into_iter()
        .find(|(k, _)| k == "captcha_id")
        .unwrap()
        .1;
    let answer = app
        .state
        .captcha
        .peek_answer(&captcha_id)
        .await
        .unwrap()
        .unwrap();
    let registered = b
        .submit_page(
            &start,
            "/retrieve/organizations",
            &[
                ("full_name", "中国科学院国家天文台"),
                ("contact_name", "李四"),
                ("country_code", "+86"),
                ("number", "13900002222"),
                ("captcha", &answer),
            ],
        )
        .await;
    assert_eq!(
        registered.status,
        StatusCode::SEE_OTHER,
        "{}",
        registered.body
    );
    let form_url = registered.location().unwrap().to_string();
    assert!(form_url.starts_with("/retrieve/form?org="));
    let pending = tongxing::service::organizations::resolve(&app.state, "中国科学院国家天文台")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        pending.status,
        tongxing::domain::OrganizationStatus::Pending
    );
    // A pending organization is not in the search before it is confirmed.
    assert!(
        !b.get("/retrieve?q=国家天文台")
            .await
            .has("中国科学院国家天文台")
    );
    assert_eq!(app.audit("organization.registered").await.len(), 1);

    // Step 2: the form, its phone confirmed by a code.
    let (case, page) = new_case(&app, &b, pending.id).await;
    assert_eq!(case.state, CaseState::AwaitingDocuments);
    let number = case.public_number.clone().unwrap();
    assert_eq!(number.len(), 16);
    assert!(tongxing::domain::CaseNumber::parse(&number).is_ok());
    // Step 3: the page names the number and what to do; the PDF downloads.
    let grouped = tongxing::domain::CaseNumber::parse(&number)
        .unwrap()
        .grouped();
    assert!(page.has(&grouped), "{}", page.body);
    assert!(page.has("/retrieve/case/form.pdf"));
    let started = std::time::Instant::now();
    let pdf = b
        .client
        .get(format!("{}/retrieve/case/form.pdf", app.base))
        .send()
        .await
        .unwrap();
    if pdf.status() == StatusCode::OK {
        assert_eq!(pdf.headers()["content-type"], "application/pdf");
        let bytes = pdf.bytes().await.unwrap();
        eprintln!(
            "retrieval PDF: {} bytes in {:?}",
            bytes.len(),
            started.elapsed()
        );
        assert!(bytes.starts_with(b"%PDF"));
        read_back(&bytes, &number);
    } else {
        // No CJK font on this machine: the page says the service is
        // unavailable rather than serving a broken file.
        assert_eq!(pdf.status(), StatusCode::SERVICE_UNAVAILABLE);
        skipped("retrieval PDF: no CJK font (apt-get install fonts-wqy-microhei)");
    }

    // Step 4: another browser, days later: the organization and the number.
    app.advance(HOUR * 48);
    let other = app.browser();
    let answer = other
        .submit(
            "/retrieve/files",
            "/retrieve/files",
            &[
                ("organization", "中国科学院国家天文台"),
                ("number", &number),
            ],
        )
        .await;
    let upload_page = other.redirected(answer, "/retrieve/upload").await;
    assert!(
        upload_page.has("/retrieve/samples/1"),
        "{}",
        upload_page.body
    );
    assert!(upload_page.has("/retrieve/samples/2"));
    assert_eq!(
        other.get("/retrieve/samples/1").await.status,
        StatusCode::OK
    );
    // Step 5: the two scans; one replaced; each viewable by its holder.
    uploaded_and_submitted(&other).await;
    let done = other.get("/retrieve/upload").await;
    assert!(done.has("id=\"result-due\""), "{}", done.body);
    assert_eq!(
        other.get("/retrieve/upload/1/image").await.status,
        StatusCode::OK
    );
    // Nobody else sees them.
    assert_eq!(
        app.browser().get("/retrieve/upload/1/image").await.status,
        StatusCode::NOT_FOUND
    );
    let submitted = case_now(&app, case.id).await;
    assert_eq!(submitted.state, CaseState::Submitted);
    assert!(submitted.due_at.is_some());

    // The reviewer sees the form, the scans and the accounts it may be
    // about (found by the name), and approves naming the account.
    let rev = reviewer(&app).await;
    let view = rev.get(&format!("/admin/review/{}", case.id)).await;
    assert!(view.has("id=\"matches\""), "{}", view.body);
    assert!(
        crate::helpers::without_labels(&view.body).contains("<td>zhang</td>"),
        "{}",
        view.body
    );
    assert!(
        view.has(ID),
        "the reviewer compares the full number with the card"
    );
    assert!(view.has(&format!("/admin/review/{}/documents/1/2", case.id)));
    // Approving without naming the account is refused.
    let version = case_now(&app, case.id).await.version.to_string();
    let claim = rev
        .submit_page(
            &view,
            &format!("/admin/review/{}", case.id),
            &[("action", "claim"), ("version", &version)],
        )
        .await;
    assert_eq!(claim.status, StatusCode::SEE_OTHER);
    let page = rev.get(&format!("/admin/review/{}", case.id)).await;
    let version = case_now(&app, case.id).await.version.to_string();
    let refused = rev
        .submit_page(
            &page,
            &format!("/admin/review/{}", case.id),
            &[
                ("action", "approve"),
                ("version", &version),
                ("account", ""),
            ],
        )
        .await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    let approved = rev
        .submit_page(
            &page,
            &format!("/admin/review/{}", case.id),
            &[
                ("action", "approve"),
                ("version", &version),
                ("account", "zhang"),
            ],
        )
        .await;
    assert_eq!(approved.status, StatusCode::SEE_OTHER, "{}", approved.body);
    let now = case_now(&app, case.id).await;
    assert_eq!(now.state, CaseState::AwaitingCompletion);
    assert_eq!(now.account_id, Some(user.id));
    // The organization registered with the case was confirmed with it.
    let confirmed = tongxing::service::organizations::by_id(&app.state, pending.id)
        .await
        .unwrap();
    assert_eq!(
        confirmed.status,
        tongxing::domain::OrganizationStatus::Active
    );

    // Step 6: the code by SMS to the form's phone, with the address.
    app.outbox_wait("sms", 2).await;
    let sms = last_sms(&app, "+8613700001111");
    assert!(sms.contains("/retrieve/complete"), "{sms}");
    let code = code_in(&sms);
    // The code is stored hashed only.
    let stored = app
        .state
        .store
        .retrieval_code(case.id)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(stored.code_hash, code);
    assert!(!stored.code_hash.contains(&code));
    let c = app.browser();
    let answer = complete(&c, &number, &code, NEW_PASSWORD).await;
    c.redirected(answer, "/retrieve/complete?done=1").await;
    assert_eq!(case_now(&app, case.id).await.state, CaseState::Completed);
    assert!(
        app.state
            .store
            .retrieval_code(case.id)
            .await
            .unwrap()
            .is_none()
    );
    // The new password signs in; the old one does not; the old session ended.
    let after = app.browser();
    let login = after.login("zhang", NEW_PASSWORD).await;
    assert_eq!(login.status, StatusCode::SEE_OTHER, "{}", login.body);
    let refused = app.browser().login("zhang", PASSWORD).await;
    assert_ne!(refused.location(), Some("/account"));
    assert_ne!(old.get("/account").await.status, StatusCode::OK);
    // The account's other channels heard of it: its old phone and its mail.
    let notice = app
        .outbox_wait("sms", 3)
        .await
        .into_iter()
        .find(|m| m["to"] == "+8613312348347")
        .expect("a notice to the account's own phone");
    assert!(notice["text"].as_str().unwrap().contains("zhang"));
    let mail = app.outbox_wait("mail", 1).await;
    assert!(
        mail.iter()
            .any(|m| m["to"] == "zhang@example.org" && m["purpose"] == "retrieval_completed"),
        "{mail:?}"
    );
    // A used code does not work twice.
    let again = complete(&app.browser(), &number, &code, "Another-Long-Pass-77").await;
    assert_eq!(again.status, StatusCode::NOT_FOUND, "{}", again.body);
}

/// The PDF read back by `pdftotext` (Chinese included) and its barcodes
/// decoded by `zbarimg` from a page rendered by `pdftoppm`.
fn read_back(pdf: &[u8], number: &str) {
    let tool = |name: &str| Command::new(name).arg("-v").output().is_ok();
    if !tool("pdftotext") || !tool("zbarimg") || !tool("pdftoppm") {
        return skipped("retrieval PDF read-back: needs poppler-utils and zbar-tools");
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("form.pdf");
    std::fs::write(&path, pdf).unwrap();
    let text = Command::new("pdftotext")
        .arg(&path)
        .arg("-")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("密码查询信息表"), "{text}");
    assert!(text.contains("中国科学院国家天文台"), "{text}");
    assert!(
        text.contains("110***********002X"),
        "the ID number masked: {text}"
    );
    assert!(!text.contains(ID));
    let png = dir.path().join("page");
    let out = Command::new("pdftoppm")
        .args(["-r", "200", "-png", "-singlefile"])
        .arg(&path)
        .arg(&png)
        .output()
        .unwrap();
    assert!(out.status.success());
    let decoded = Command::new("zbarimg")
        .args(["--quiet", "--raw"])
        .arg(dir.path().join("page.png"))
        .output()
        .unwrap();
    let decoded = String::from_utf8_lossy(&decoded.stdout);
    assert!(
        decoded.lines().filter(|l| l.trim() == number).count() >= 2,
        "both barcodes carry {number}: {decoded}"
    );
}

async fn form_error(field: &str, overrides: &[(&str, &str)]) -> Page {
    let app = spawn().await;
    let org = app.org(ORG).await;
    let b = app.browser();
    let answer = post_form(&b, org.id, overrides).await;
    assert_eq!(
        answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        answer.body
    );
    assert!(
        answer.has(&format!("id=\"{field}-error\"")),
        "{}",
        answer.body
    );
    // Nothing was sent and no case made.
    assert!(app.outbox("sms").is_empty());
    // Positive control: the same form with good values passes.
    let good = post_form(&b, org.id, &[]).await;
    assert_eq!(good.location(), Some("/retrieve/confirm"), "{}", good.body);
    answer
}

#[tokio::test]
async fn a_bad_id_checksum_is_refused_by_its_field() {
    let page = form_error("id_number", &[("id_number", "110105194912310021")]).await;
    assert!(page.has("校验位"), "{}", page.body);
}

#[tokio::test]
async fn an_impossible_birth_date_is_refused_by_its_field() {
    let page = form_error("id_number", &[("id_number", "11010519490231002X")]).await;
    assert!(page.has("出生日期"), "{}", page.body);
}

#[tokio::test]
async fn a_missing_required_field_is_named() {
    let page = form_error("name", &[("name", "")]).await;
    assert!(page.has(ID), "what was typed is kept");
}

#[tokio::test]
async fn other_needs_its_text_and_a_passport_is_only_flagged() {
    form_error("reason_text", &[("reason", "other"), ("reason_text", "")]).await;
    let app = spawn().await;
    let org = app.org(ORG).await;
    let b = app.browser();
    let odd = post_form(&b, org.id, &[("id_type", "passport"), ("id_number", "ABC")]).await;
    assert_eq!(odd.location(), Some("/retrieve/confirm"), "{}", odd.body);
}

async fn try_pair(b: &Browser, name: &str, number: &str) -> Page {
    b.submit(
        "/retrieve/files",
        "/retrieve/files",
        &[("organization", name), ("number", number)],
    )
    .await
}

#[tokio::test]
async fn a_wrong_organization_number_pair_is_not_found_and_rate_limited() {
    let app = spawn().await;
    let org = app.org(ORG).await;
    let b = app.browser();
    let (case, _) = new_case(&app, &b, org.id).await;
    let number = case.public_number.unwrap();
    let other = app.browser();
    // Right pair: the upload page of that case.
    let ok = try_pair(&other, ORG, &number).await;
    assert_eq!(ok.location(), Some("/retrieve/upload"));
    // A wrong organization, a wrong number: the same "not found".
    let wrong_org = try_pair(&other, "中国科学院天文台", &number).await;
    assert_eq!(wrong_org.status, StatusCode::NOT_FOUND);
    assert!(wrong_org.has("未找到对应的案件"), "{}", wrong_org.body);
    let other_number = tongxing::domain::CaseNumber::from_random(77).digits();
    let wrong_number = try_pair(&other, ORG, &other_number).await;
    assert_eq!(wrong_number.status, StatusCode::NOT_FOUND);
    assert_eq!(
        wrong_org.body.matches("alert").count(),
        wrong_number.body.matches("alert").count()
    );
    for _ in 0..8 {
        assert_eq!(
            try_pair(&other, ORG, &other_number).await.status,
            StatusCode::NOT_FOUND
        );
    }
    // The limit: even the right pair waits now.
    let limited = try_pair(&other, ORG, &number).await;
    assert_eq!(
        limited.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        limited.body
    );
    assert!(limited.header("retry-after").is_some());
    assert!(app.audit("retrieval.authentication_failed").await.len() >= 10);
    // After the window the right pair works again.
    app.advance(HOUR);
    assert_eq!(
        try_pair(&other, ORG, &number).await.location(),
        Some("/retrieve/upload")
    );
}

#[tokio::test]
async fn a_non_jpeg_and_a_file_over_1_mb_are_refused() {
    let app = spawn().await;
    let org = app.org(ORG).await;
    let b = app.browser();
    new_case(&app, &b, org.id).await;
    let renamed = upload(&b, 1, png(40, 40)).await;
    assert_eq!(
        renamed.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        renamed.body
    );
    assert!(renamed.has("JPEG"), "{}", renamed.body);
    let large = upload(&b, 2, large_jpeg()).await;
    assert_eq!(
        large.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        large.body
    );
    assert!(large.has("1024 KB"), "{}", large.body);
    // Positive control: a small JPEG goes up.
    let ok = upload(&b, 1, jpeg(50, 40, 1)).await;
    assert_eq!(ok.location(), Some("/retrieve/upload?done=uploaded"));
}

#[tokio::test]
async fn the_same_file_twice_and_a_second_submit_are_refused() {
    let app = spawn().await;
    let org = app.org(ORG).await;
    let b = app.browser();
    let (case, _) = new_case(&app, &b, org.id).await;
    let same = jpeg(64, 48, 33);
    assert_eq!(
        upload(&b, 1, same.clone()).await.status,
        StatusCode::SEE_OTHER
    );
    // Submitting with one slot empty is refused.
    let page = b.get("/retrieve/upload").await;
    assert!(!page.has("id=\"submit\""));
    let early = b.submit_page(&page, "/retrieve/submit", &[]).await;
    assert_eq!(
        early.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        early.body
    );
    let dup = upload(&b, 2, same).await;
    assert_eq!(dup.status, StatusCode::CONFLICT, "{}", dup.body);
    assert!(dup.has("请勿重复上传文件"), "{}", dup.body);
    // Replacing a slot with another picture works.
    assert_eq!(
        upload(&b, 1, jpeg(64, 48, 34)).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        upload(&b, 2, jpeg(64, 48, 35)).await.status,
        StatusCode::SEE_OTHER
    );
    let page = b.get("/retrieve/upload").await;
    let first = b.submit_page(&page, "/retrieve/submit", &[]).await;
    assert_eq!(first.location(), Some("/retrieve/upload?done=submitted"));
    let second = b.submit_page(&page, "/retrieve/submit", &[]).await;
    assert_eq!(second.status, StatusCode::CONFLICT, "{}", second.body);
    assert!(second.has("请勿重复提交"), "{}", second.body);
    let late = b
        .post_multipart(
            "/retrieve/upload/1",
            &[("csrf", &page.csrf())],
            &[("file", "scan.jpg", "image/jpeg", jpeg(64, 48, 36))],
        )
        .await;
    assert_eq!(late.status, StatusCode::CONFLICT);
    assert_eq!(case_now(&app, case.id).await.state, CaseState::Submitted);
}

#[tokio::test]
async fn a_rejected_case_takes_new_uploads() {
    let app = spawn().await;
    let org = app.org(ORG).await;
    let b = app.browser();
    let (case, _) = new_case(&app, &b, org.id).await;
    uploaded_and_submitted(&b).await;
    let rev = reviewer(&app).await;
    let url = format!("/admin/review/{}", case.id);
    let page = rev.get(&url).await;
    let v = case_now(&app, case.id).await.version.to_string();
    rev.submit_page(&page, &url, &[("action", "claim"), ("version", &v)])
        .await;
    let page = rev.get(&url).await;
    let v = case_now(&app, case.id).await.version.to_string();
    let rejected = rev
        .submit_page(
            &page,
            &url,
            &[
                ("action", "reject"),
                ("version", &v),
                ("note", "公章不清晰"),
            ],
        )
        .await;
    assert_eq!(rejected.status, StatusCode::SEE_OTHER, "{}", rejected.body);
    let sms = app.outbox_wait("sms", 2).await;
    assert!(
        sms.iter().any(|m| m["purpose"] == "retrieval_notice"),
        "{sms:?}"
    );
    let page = b.get("/retrieve/upload").await;
    assert!(page.has("公章不清晰"), "{}", page.body);
    uploaded_and_submitted(&b).await;
    let again = case_now(&app, case.id).await;
    assert_eq!((again.state, again.revision), (CaseState::Submitted, 2));
}

#[tokio::test]
async fn an_expired_code_is_refused() {
    let app = spawn().await;
    let (_, number, code) = approved(&app).await;
    app.advance(HOUR * 25);
    let late = complete(&app.browser(), &number, &code, NEW_PASSWORD).await;
    assert_eq!(late.status, StatusCode::GONE, "{}", late.body);
    assert!(late.has("索取码已过期"), "{}", late.body);
    // The password did not change.
    assert_eq!(
        app.browser().login("zhang", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn too_many_tries_use_the_code_up() {
    let app = spawn().await;
    let (_, number, code) = approved(&app).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let b = app.browser();
    for left in (1..5).rev() {
        let answer = complete(&b, &number, wrong, NEW_PASSWORD).await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            answer.body
        );
        assert!(answer.has(&left.to_string()), "{left}: {}", answer.body);
    }
    let fifth = complete(&b, &number, wrong, NEW_PASSWORD).await;
    assert_eq!(fifth.status, StatusCode::GONE, "{}", fifth.body);
    let right = complete(&b, &number, &code, NEW_PASSWORD).await;
    assert_eq!(right.status, StatusCode::GONE, "{}", right.body);
    assert!(right.has("尝试次数已用完"), "{}", right.body);
}

#[tokio::test]
async fn a_password_against_the_policy_is_refused_and_the_code_kept() {
    let app = spawn().await;
    let (case, number, code) = approved(&app).await;
    let b = app.browser();
    let weak = complete(&b, &number, &code, "12345678").await;
    assert_eq!(
        weak.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        weak.body
    );
    let differ = b
        .submit(
            "/retrieve/complete",
            "/retrieve/complete",
            &[
                ("number", &number),
                ("code", &code),
                ("new", NEW_PASSWORD),
                ("repeat", "Other-Thing-99"),
            ],
        )
        .await;
    assert_eq!(differ.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        case_now(&app, case.id).await.state,
        CaseState::AwaitingCompletion
    );
    // Positive control: a good password with the same code completes.
    let good = complete(&b, &number, &code, NEW_PASSWORD).await;
    assert_eq!(
        good.location(),
        Some("/retrieve/complete?done=1"),
        "{}",
        good.body
    );
}

#[tokio::test]
async fn a_cooling_off_period_notifies_first_and_sends_the_code_later() {
    let app = TestApp::spawn_with(|c| {
        c.sms.resend_secs = 0;
        c.key_encryption_key = Some(base64_key(9));
        c.retrieval.cooling_off_hours = 24;
    })
    .await;
    zhang(&app).await;
    let org = app.org(ORG).await;
    let b = app.browser();
    let (case, _) = new_case(&app, &b, org.id).await;
    uploaded_and_submitted(&b).await;
    let rev = reviewer(&app).await;
    assert_eq!(
        approve(&app, &rev, &case, "zhang").await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(case_now(&app, case.id).await.state, CaseState::Approved);
    // The account's own phone hears first; no code yet.
    let sms = app.outbox_wait("sms", 2).await;
    assert!(sms.iter().any(|m| m["to"] == "+8613312348347"), "{sms:?}");
    assert!(!sms.iter().any(|m| m["purpose"] == "retrieval_code"));
    app.advance(HOUR * 25);
    let swept = tongxing::service::retrieval::sweep(&app.state)
        .await
        .unwrap();
    assert_eq!(swept.codes_sent, 1);
    assert_eq!(
        case_now(&app, case.id).await.state,
        CaseState::AwaitingCompletion
    );
    let sms = app.outbox_wait("sms", 3).await;
    assert!(
        sms.iter().any(|m| m["purpose"] == "retrieval_code"),
        "{sms:?}"
    );
}

#[tokio::test]
async fn waiting_cases_and_unconfirmed_registrations_expire() {
    let app = spawn().await;
    let org = app.org(ORG).await;
    let b = app.browser();
    let (case, _) = new_case(&app, &b, org.id).await;
    let lonely = tongxing::service::organizations::create(
        &app.state,
        &tongxing::service::organizations::OrgInput {
            full_name: "无人认领的单位".into(),
            status: Some(tongxing::domain::OrganizationStatus::Pending),
            ..Default::default()
        },
        &tongxing::service::Actor::System,
        &tongxing::service::Origin::default(),
    )
    .await
    .unwrap();
    app.sql(
        "INSERT INTO organization_registrations (organization_id, contact_name, contact_phone, created_at) \
         SELECT id, 'x', '+8613900000000', created_at FROM organizations WHERE full_name = '无人认领的单位'",
    )
    .await;
    // Not yet.
    let early = tongxing::service::retrieval::sweep(&app.state)
        .await
        .unwrap();
    assert_eq!((early.expired, early.registrations_dropped), (0, 0));
    app.advance(HOUR * 24 * 31);
    let swept = tongxing::service::retrieval::sweep(&app.state)
        .await
        .unwrap();
    assert_eq!(swept.expired, 1);
    assert_eq!(swept.registrations_dropped, 1);
    assert_eq!(case_now(&app, case.id).await.state, CaseState::Expired);
    assert!(
        tongxing::service::organizations::by_id(&app.state, lonely.id)
            .await
            .is_err()
    );
    assert!(
        tongxing::service::organizations::by_id(&app.state, org.id)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn completion_revokes_application_passwords() {
    let app = spawn().await;
    app.rp_with("mail", |c| c.app_passwords_allowed = true)
        .await;
    let (case, number, code) = approved(&app).await;
    let user = app.stored("zhang").await;
    tongxing::service::app_passwords::create(
        &app.state,
        &user,
        app.state.clock.now().unix_timestamp(),
        "mail",
        "iPhone 邮件",
        &tongxing::service::Origin::default(),
        tongxing::i18n::Lang::ZhCn,
    )
    .await
    .unwrap();
    let active = |app: &TestApp| {
        let store = app.state.store.clone();
        async move { store.app_passwords_of(user.id, false).await.unwrap().len() }
    };
    assert_eq!(active(&app).await, 1, "the control: one is active");
    let answer = complete(&app.browser(), &number, &code, NEW_PASSWORD).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    assert_eq!(case_now(&app, case.id).await.state, CaseState::Completed);
    assert_eq!(active(&app).await, 0, "none survives the retrieval");
    assert!(!app.audit("app_password.revoked_all").await.is_empty());
}
