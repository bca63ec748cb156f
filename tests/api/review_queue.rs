//! The reviewer's side of the review cases: the reviewer role (CLI, API,
//! console), the queue and a case through the management API (with a
//! reviewer's own token) and the console, documents viewed and audited,
//! who is let in, races between reviewers, and four eyes.

use std::time::Duration;

use image::codecs::jpeg::JpegEncoder;
use image::{ImageEncoder, Rgb, RgbImage};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tongxing::Config;
use tongxing::domain::{PhoneNumber, Role, Roles};
use tongxing::service::Origin;
use tongxing::service::accounts::NewAccount;
use tongxing::service::review::{self, Submission};
use tongxing::store::review::{Case, CaseKind};
use tongxing::store::users::User;

use crate::admin_api::{Api, admin_token};
use crate::helpers::{Browser, PASSWORD, Page, REDIRECT, Rp, TestApp, query};

fn kek() -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode([7u8; 32])
}

async fn spawn() -> TestApp {
    spawn_with(|_| {}).await
}

pub(crate) async fn spawn_with(customize: impl FnOnce(&mut Config)) -> TestApp {
    TestApp::spawn_with(|c| {
        c.key_encryption_key = Some(kek());
        customize(c);
    })
    .await
}

/// The CLI against the test's deployment (which needs its key).
async fn cli(app: &TestApp, args: &[&str]) -> crate::helpers::CliOutput {
    app.cli_env(args, None, &[("TONGXING_KEY_ENCRYPTION_KEY", &kek())])
        .await
}

fn jpeg(w: u32, h: u32) -> Vec<u8> {
    let img = RgbImage::from_fn(w, h, |x, y| Rgb([(x * 3) as u8, (y * 5) as u8, 90]));
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, 90)
        .write_image(img.as_raw(), w, h, image::ExtendedColorType::Rgb8)
        .unwrap();
    out
}

fn origin() -> Origin {
    Origin {
        ip: Some("192.0.2.9".into()),
        user_agent: Some("test".into()),
    }
}

/// An account with the reviewer role (not an administrator).
async fn reviewer(app: &TestApp, name: &str) -> User {
    app.user_with(NewAccount {
        username: name.into(),
        roles: Roles::new([Role::Reviewer]),
        ..NewAccount::default()
    })
    .await
}

/// An applicant with a name, an organization and both phones.
pub(crate) async fn applicant(app: &TestApp, name: &str, n: u32) -> User {
    app.user_with(NewAccount {
        username: name.into(),
        display_name: Some(format!("张{n}")),
        organization: Some("计算机网络信息中心".into()),
        login_phone: Some(format!("1331234{:04}", 1000 + n)),
        security_phone: Some(format!("1390000{:04}", 2000 + n)),
        ..NewAccount::default()
    })
    .await
}

/// The form of an application to unbind `who`'s login phone, as the
/// application stores it (`service::unbind_case::UnbindData`).
fn unbind_data(who: &User, reason: &str) -> Value {
    json!({
        "reason": reason,
        "note": "丢在出租车上",
        "login_phone": who.login_phone,
        "organization": "计算机网络信息中心",
        "lang": "zh-CN",
        "cancel": "5d41402abc4b2a76b9719d911017c592-the-cancel-link-hash",
    })
}

pub(crate) async fn submit(app: &TestApp, who: &User) -> Case {
    review::submit(
        &app.state,
        who,
        Submission {
            kind: CaseKind::PhoneUnbind,
            data: unbind_data(who, "lost"),
            contact_phone: Some(PhoneNumber::parse("+8613800138000").unwrap()),
            contact_email: None,
            consent_version: Some("unbind-consent-1".into()),
            documents: vec![jpeg(64, 48), jpeg(30, 20)],
        },
        &origin(),
    )
    .await
    .unwrap()
}

async fn case(app: &TestApp, id: uuid::Uuid) -> Case {
    app.state.store.case_by_id(id).await.unwrap().unwrap()
}

/// The client a reviewer's tool signs in with: it may ask for `review`.
async fn desk(app: &TestApp) -> Rp {
    app.rp_with("review-desk", |c| {
        c.first_party = true;
        c.scopes = Some("openid review".into());
    })
    .await
}

/// An access token of `username` for `rp`, with `scope`, by the
/// authorization code flow in a fresh browser.
pub async fn user_token(app: &TestApp, rp: &Rp, username: &str, scope: &str) -> String {
    let url = format!(
        "{}/authorize?response_type=code&client_id={}&redirect_uri={}&scope={}",
        app.base,
        rp.id,
        url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>(),
        url::form_urlencoded::byte_serialize(scope.as_bytes()).collect::<String>(),
    );
    let back = app
        .browser()
        .authorize_as(&url, username, PASSWORD, "allow")
        .await;
    let tokens: Value = reqwest::Client::new()
        .post(format!("{}/token", app.base))
        .basic_auth(&rp.id, rp.secret.as_deref())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", query(&back)["code"].as_str()),
            ("redirect_uri", REDIRECT),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    tokens["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("{tokens}"))
        .to_string()
}

async fn review_token(app: &TestApp, rp: &Rp, username: &str) -> String {
    user_token(app, rp, username, "openid review").await
}

fn cases_path(id: uuid::Uuid) -> String {
    format!("/api/v1/review/cases/{id}")
}

/// The ids of a queue page, in order.
fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap_or_else(|| panic!("not a queue page: {page}"))
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect()
}

/// A raw GET with a bearer token: status, headers, bytes.
async fn fetch(
    app: &TestApp,
    token: &str,
    path: &str,
) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
    let r = reqwest::Client::new()
        .get(format!("{}{path}", app.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let (status, headers) = (r.status(), r.headers().clone());
    (status, headers, r.bytes().await.unwrap().to_vec())
}

fn hours(h: u64) -> Duration {
    Duration::from_secs(h * 3600)
}

#[tokio::test]
async fn the_queue_is_sorted_by_due_date_filtered_and_marks_overdue_cases() {
    let app = spawn().await;
    let rev = reviewer(&app, "rev@cnic.cn").await;
    let other = reviewer(&app, "rev2@cnic.cn").await;
    let (a, b, c) = (
        applicant(&app, "a@cnic.cn", 1).await,
        applicant(&app, "b@cnic.cn", 2).await,
        applicant(&app, "c@cnic.cn", 3).await,
    );
    // Submitted a day apart: due a day apart (review.due_days = 5).
    let ca = submit(&app, &a).await;
    app.advance(hours(24));
    let cb = submit(&app, &b).await;
    app.advance(hours(24));
    let cc = submit(&app, &c).await;
    let rp = desk(&app).await;
    let api = Api::new(&app, &review_token(&app, &rp, "rev@cnic.cn").await);

    let (status, page) = api.get("/api/v1/review/cases").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let (sa, sb, sc) = (ca.id.to_string(), cb.id.to_string(), cc.id.to_string());
    assert_eq!(ids(&page), [sa.as_str(), sb.as_str(), sc.as_str()]);
    assert_eq!(page["total"], 3);
    let first = &page["items"][0];
    assert_eq!(first["state"], "submitted");
    assert_eq!(first["kind"], "phone_unbind");
    assert_eq!(first["applicant"]["username"], "a@cnic.cn");
    assert_eq!(first["applicant"]["display_name"], "张1");
    assert_eq!(first["overdue"], false);

    // A rejected case submitted again is due later than the others: the
    // queue goes by due date, not by when a case was first made.
    let ca = review::claim(&app.state, &rev, ca.id, ca.version, &origin())
        .await
        .unwrap();
    let ca = review::reject(&app.state, &rev, ca.id, ca.version, "照片不清楚", &origin())
        .await
        .unwrap();
    app.advance(hours(1));
    let ca = review::edit(&app.state, &a, ca.id, ca.version, &origin())
        .await
        .unwrap();
    review::resubmit(
        &app.state,
        &a,
        ca.id,
        ca.version,
        unbind_data(&a, "other"),
        None,
        vec![jpeg(50, 50)],
        &origin(),
    )
    .await
    .unwrap();
    // (A token of the new time: the old one has expired meanwhile.)
    let api = Api::new(&app, &review_token(&app, &rp, "rev@cnic.cn").await);
    let (_, page) = api.get("/api/v1/review/cases").await;
    assert_eq!(ids(&page), [sb.as_str(), sc.as_str(), sa.as_str()]);

    // Filters: claimed by me, and by state.
    let cb = case(&app, cb.id).await;
    review::claim(&app.state, &rev, cb.id, cb.version, &origin())
        .await
        .unwrap();
    let cc = case(&app, cc.id).await;
    review::claim(&app.state, &other, cc.id, cc.version, &origin())
        .await
        .unwrap();
    let (_, mine) = api.get("/api/v1/review/cases?claimed=me").await;
    assert_eq!(ids(&mine), [sb.as_str()]);
    assert_eq!(mine["items"][0]["claimed_by"], "rev@cnic.cn");
    let (_, in_review) = api.get("/api/v1/review/cases?state=in_review").await;
    assert_eq!(ids(&in_review), [sb.as_str(), sc.as_str()]);
    let (_, submitted) = api.get("/api/v1/review/cases?state=submitted").await;
    assert_eq!(ids(&submitted), [sa.as_str()]);
    let (_, none) = api
        .get("/api/v1/review/cases?state=submitted&claimed=me")
        .await;
    assert_eq!(none["total"], 0);
    // A decided case leaves the default queue; asked for by its state it is there.
    let cb = case(&app, cb.id).await;
    review::approve(&app.state, &rev, cb.id, cb.version, &origin())
        .await
        .unwrap();
    let (_, page) = api.get("/api/v1/review/cases").await;
    assert_eq!(ids(&page), [sc.as_str(), sa.as_str()]);
    let (_, approved) = api.get("/api/v1/review/cases?state=approved").await;
    assert_eq!(ids(&approved), [sb.as_str()]);

    // Pages.
    let (_, p1) = api.get("/api/v1/review/cases?per_page=1").await;
    let (_, p2) = api.get("/api/v1/review/cases?per_page=1&page=2").await;
    assert_eq!((ids(&p1), ids(&p2)), (vec![sc.clone()], vec![sa.clone()]));
    assert_eq!(
        (p1["total"].clone(), p1["per_page"].clone()),
        (json!(2), json!(1))
    );

    // Overdue: c was due 5 days after its submission (t0 + 7 d); a,
    // resubmitted an hour after c was submitted, an hour later. Half an
    // hour past c's due date (the clock has reached t0 + 2 d 1 h):
    assert_eq!(page["items"][0]["overdue"], false);
    app.advance(hours(24 * 5 - 1) + Duration::from_secs(1800));
    // (A token of the new time: the old one has expired meanwhile.)
    let api = Api::new(&app, &review_token(&app, &rp, "rev@cnic.cn").await);
    let (_, page) = api.get("/api/v1/review/cases").await;
    assert_eq!(ids(&page), [sc.as_str(), sa.as_str()]);
    assert_eq!(
        (
            page["items"][0]["overdue"].clone(),
            page["items"][1]["overdue"].clone()
        ),
        (json!(true), json!(false))
    );
    // A decided case is nobody's delay.
    let (_, approved) = api.get("/api/v1/review/cases?state=approved").await;
    assert_eq!(approved["items"][0]["overdue"], false);

    // Filters the API does not know are refused, naming the parameter.
    let (status, body) = api.get("/api/v1/review/cases?state=lost").await;
    assert_eq!(
        (status, body["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("state"))
    );
    let (status, body) = api.get("/api/v1/review/cases?claimed=you").await;
    assert_eq!(
        (status, body["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("claimed"))
    );
    let (status, body) = api.get("/api/v1/review/cases?per_page=500").await;
    assert_eq!(
        (status, body["field"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("per_page"))
    );

    // The console shows the same queue, in the same order, overdue marked.
    let br = app.browser();
    br.login("rev@cnic.cn", PASSWORD).await;
    let queue = br.get("/admin/review").await;
    assert_eq!(queue.status, StatusCode::OK, "{}", queue.body);
    let (pc, pa) = (
        queue.body.find(&format!("/admin/review/{sc}")).unwrap(),
        queue.body.find(&format!("/admin/review/{sa}")).unwrap(),
    );
    assert!(pc < pa, "sorted by due date");
    assert!(!queue.has(&format!("/admin/review/{sb}")));
    assert_eq!(queue.body.matches("class=\"case overdue\"").count(), 1);
    assert!(queue.has("已逾期"));
    assert!(
        queue.has("class=\"scroll\""),
        "the table scrolls on a phone"
    );
    let mine = br.get("/admin/review?state=&claimed=me").await;
    assert!(!mine.has(&format!("/admin/review/{sc}")) && mine.has("queue-empty"));
    let approved = br.get("/admin/review?state=approved").await;
    assert!(approved.has(&format!("/admin/review/{sb}")));
    assert!(!approved.has(&format!("/admin/review/{sc}")));
    assert_eq!(
        br.get("/admin/review?state=lost").await.status,
        StatusCode::BAD_REQUEST
    );
    let en = br.get("/admin/review?lang=en").await;
    assert!(en.has("Overdue") && en.has("Review queue"));
}

#[tokio::test]
async fn a_reviewer_sees_the_account_the_form_documents_and_history() {
    let app = spawn().await;
    reviewer(&app, "rev@cnic.cn").await;
    let alice = applicant(&app, "alice@cnic.cn", 7).await;
    let c = submit(&app, &alice).await;
    let rp = desk(&app).await;
    let api = Api::new(&app, &review_token(&app, &rp, "rev@cnic.cn").await);
    let before = app.audit("review.case_viewed").await.len();

    let (status, v) = api.get(&cases_path(c.id)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["id"], c.id.to_string());
    assert_eq!(
        (v["state"].clone(), v["revision"].clone()),
        (json!("submitted"), json!(1))
    );
    assert_eq!(v["version"], c.version);
    let account = &v["account"];
    assert_eq!(account["username"], "alice@cnic.cn");
    assert_eq!(account["display_name"], "张7");
    assert_eq!(account["organization"], "计算机网络信息中心");
    // The account's phones masked; the contact phone, the applicant's own
    // number to call them on, in full.
    assert_eq!(account["login_phone"], "133****1007");
    assert_eq!(account["security_phone"], "139****2007");
    assert!(!v.to_string().contains("13312341007"));
    assert_eq!(v["contact_phone"], "+8613800138000");
    // The form: the numbers to unbind masked too, and nothing of what the
    // system keeps for itself (the cancel link's hash).
    assert_eq!(v["data"]["reason"], "lost");
    assert_eq!(v["data"]["note"], "丢在出租车上");
    assert_eq!(v["data"]["login_phone"], "133****1007");
    assert_eq!(v["data"]["security_phone"], Value::Null);
    assert_eq!(v["data"]["organization"], "计算机网络信息中心");
    assert!(v["data"].get("cancel").is_none());
    assert!(!v.to_string().contains("cancel-link-hash"));
    assert_eq!(v["consent_version"], "unbind-consent-1");
    let docs = v["documents"].as_array().unwrap();
    assert_eq!(docs.len(), 2);
    assert_eq!(
        (
            &docs[0]["slot"],
            &docs[0]["width"],
            &docs[0]["height"],
            &docs[0]["purged"]
        ),
        (&json!(1), &json!(64), &json!(48), &json!(false))
    );
    assert_eq!(docs[1]["width"], 30);
    assert_eq!(v["events"][0]["event"], "submitted");
    assert_eq!(v["events"][0]["actor"], "alice@cnic.cn");
    assert_eq!(v["events"][0]["to_state"], "submitted");
    assert_eq!(v["overdue"], false);
    // The look is audited, with the applicant as subject.
    let views = app.audit("review.case_viewed").await;
    assert_eq!(views.len(), before + 1);
    assert_eq!(views[0].actor, "rev@cnic.cn");
    assert_eq!(views[0].subject_id, Some(alice.id));

    // Unknown case: 404; a malformed id: 400 naming it.
    let (status, _) = api.get(&cases_path(uuid::Uuid::now_v7())).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = api.get("/api/v1/review/cases/nope").await;
    assert_eq!(
        (status, body["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("id"))
    );

    // The console's case page: the account (phones masked), the form,
    // the documents as images of a console route, the history.
    let b = app.browser();
    b.login("rev@cnic.cn", PASSWORD).await;
    let page = b.get(&format!("/admin/review/{}", c.id)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.has("id=\"account-name\">alice@cnic.cn<"));
    assert!(page.has("id=\"account-display-name\">张7<"));
    assert!(page.has("id=\"account-organization\">计算机网络信息中心<"));
    assert!(page.has("id=\"account-login-phone\">133****1007<"));
    assert!(page.has("id=\"account-security-phone\">139****2007<"));
    assert!(!page.has("13312341007") && !page.has("13900002007"));
    assert!(page.has("+8613800138000"));
    assert!(page.has("手机丢失") && page.has("丢在出租车上"));
    assert!(page.has("登录手机 133****1007"));
    assert!(!page.has("cancel-link-hash"));
    assert!(page.has(&format!(
        "<img src=\"/admin/review/{}/documents/1/1\"",
        c.id
    )));
    assert!(page.has(&format!(
        "<img src=\"/admin/review/{}/documents/1/2\"",
        c.id
    )));
    assert!(page.has("id=\"history\"") && page.has("提交"));
    assert!(page.has("name=\"version\" value=\"1\""));
    assert_eq!(page.header("cache-control"), Some("no-store"));
    let en = b.get(&format!("/admin/review/{}?lang=en", c.id)).await;
    assert!(en.has("Phone lost") && en.has("Contact phone") && en.has("Identity documents"));
    assert_eq!(app.audit("review.case_viewed").await.len(), before + 3);
    assert_eq!(
        b.get(&format!("/admin/review/{}", uuid::Uuid::now_v7()))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn every_document_view_is_audited_and_the_bytes_are_a_jpeg() {
    let app = spawn().await;
    reviewer(&app, "rev@cnic.cn").await;
    let alice = applicant(&app, "alice@cnic.cn", 1).await;
    let c = submit(&app, &alice).await;
    let rp = desk(&app).await;
    let token = review_token(&app, &rp, "rev@cnic.cn").await;
    assert!(app.audit("review.document_viewed").await.is_empty());

    let path = format!("{}/documents/1/1", cases_path(c.id));
    let (status, headers, bytes) = fetch(&app, &token, &path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "image/jpeg");
    assert_eq!(headers["cache-control"], "no-store");
    assert!(bytes.starts_with(&[0xFF, 0xD8, 0xFF]));
    let img = image::load_from_memory_with_format(&bytes, image::ImageFormat::Jpeg).unwrap();
    assert_eq!((img.width(), img.height()), (64, 48));
    let views = app.audit("review.document_viewed").await;
    assert_eq!(views.len(), 1);
    assert_eq!(views[0].actor, "rev@cnic.cn");
    assert_eq!(views[0].subject_id, Some(alice.id));
    let detail: Value = serde_json::from_str(&views[0].detail).unwrap();
    assert_eq!(detail, json!({ "case": c.id, "revision": 1, "slot": 1 }));
    // Each view is one more entry.
    fetch(&app, &token, &path).await;
    assert_eq!(app.audit("review.document_viewed").await.len(), 2);

    // No such slot or revision: 404 and no entry; a malformed one: 400.
    let (status, _, _) = fetch(&app, &token, &format!("{}/documents/1/3", cases_path(c.id))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = fetch(&app, &token, &format!("{}/documents/2/1", cases_path(c.id))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, body) =
        fetch(&app, &token, &format!("{}/documents/1/x", cases_path(c.id))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap()["field"],
        "slot"
    );
    assert_eq!(app.audit("review.document_viewed").await.len(), 2);

    // In the console, the <img> route: session-authenticated, audited, not cached.
    let b = app.browser();
    b.login("rev@cnic.cn", PASSWORD).await;
    let r = b
        .client
        .get(format!("{}/admin/review/{}/documents/1/2", app.base, c.id))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "image/jpeg");
    assert_eq!(r.headers()["cache-control"], "no-store");
    let bytes = r.bytes().await.unwrap();
    let img = image::load_from_memory_with_format(&bytes, image::ImageFormat::Jpeg).unwrap();
    assert_eq!((img.width(), img.height()), (30, 20));
    assert_eq!(app.audit("review.document_viewed").await.len(), 3);
    // Signed out, the route leads to the login page and shows nothing.
    let anonymous = app.browser();
    let r = anonymous
        .get(&format!("/admin/review/{}/documents/1/2", c.id))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(app.audit("review.document_viewed").await.len(), 3);

    // Purged after the retention period: the API says gone, the case
    // lists the document as purged.
    let c = case(&app, c.id).await;
    let rev = app.stored("rev@cnic.cn").await;
    let c = review::claim(&app.state, &rev, c.id, c.version, &origin())
        .await
        .unwrap();
    review::reject(&app.state, &rev, c.id, c.version, "不清楚", &origin())
        .await
        .unwrap();
    app.advance(hours(24 * 8));
    review::purge_due(&app.state).await.unwrap();
    let token = review_token(&app, &rp, "rev@cnic.cn").await;
    let (status, _, body) = fetch(&app, &token, &path).await;
    assert_eq!(
        status,
        StatusCode::GONE,
        "{}",
        String::from_utf8_lossy(&body)
    );
    let (_, v) = Api::new(&app, &token).get(&cases_path(c.id)).await;
    assert_eq!(v["documents"][0]["purged"], true);
    assert_eq!(app.audit("review.document_viewed").await.len(), 3);
}

#[tokio::test]
async fn who_may_use_the_review_api() {
    let app = spawn().await;
    reviewer(&app, "rev@cnic.cn").await;
    app.user_with(NewAccount {
        username: "boss@cnic.cn".into(),
        is_admin: true,
        ..NewAccount::default()
    })
    .await;
    let alice = applicant(&app, "alice@cnic.cn", 1).await;
    applicant(&app, "mallory@cnic.cn", 2).await;
    let c = submit(&app, &alice).await;
    let rp = desk(&app).await;
    let paths = [
        "/api/v1/review/cases".to_string(),
        cases_path(c.id),
        format!("{}/documents/1/1", cases_path(c.id)),
    ];

    // The positive control: a reviewer's own token.
    let token = review_token(&app, &rp, "rev@cnic.cn").await;
    let reviewer_api = Api::new(&app, &token);
    for p in &paths {
        let (status, headers, _) = fetch(&app, &token, p).await;
        assert_eq!(status, StatusCode::OK, "{p}");
        assert!(headers.get("www-authenticate").is_none());
    }
    // No token: 401.
    for p in &paths {
        let r = reqwest::get(format!("{}{p}", app.base)).await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{p}");
        assert_eq!(r.headers()["content-type"], "application/problem+json");
    }
    // An administrator without the reviewer role: 403, told why.
    let boss = Api::new(&app, &review_token(&app, &rp, "boss@cnic.cn").await);
    for p in &paths {
        let (status, body) = boss.get(p).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{p}");
        assert_eq!(body["detail"], "the reviewer role is required");
    }
    let (status, _) = boss
        .post(
            &format!("{}/claim", cases_path(c.id)),
            json!({ "version": c.version }),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Any other account, the applicant included: nothing there (404).
    for who in ["mallory@cnic.cn", "alice@cnic.cn"] {
        let other = Api::new(&app, &review_token(&app, &rp, who).await);
        for p in &paths {
            assert_eq!(other.get(p).await.0, StatusCode::NOT_FOUND, "{who} {p}");
        }
    }
    // A service account is no reviewer; a reviewer's token without the
    // review scope is not for this API.
    let service = Api::new(&app, &admin_token(&app).await);
    assert_eq!(service.get(&paths[0]).await.0, StatusCode::FORBIDDEN);
    let plain = Api::new(&app, &user_token(&app, &rp, "rev@cnic.cn", "openid").await);
    assert_eq!(plain.get(&paths[0]).await.0, StatusCode::FORBIDDEN);
    // The review token opens nothing else of the management API.
    assert_eq!(
        reviewer_api.get("/api/v1/users").await.0,
        StatusCode::FORBIDDEN
    );
    // And a service account cannot get the review scope at all.
    let bot = app
        .rp_with("bot", |c| c.scopes = Some("admin review".into()))
        .await;
    let r = reqwest::Client::new()
        .post(format!("{}/token", app.base))
        .basic_auth(&bot.id, bot.secret.as_deref())
        .form(&[("grant_type", "client_credentials"), ("scope", "review")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_scope");
    // Every refusal is in the audit log.
    assert!(app.audit("admin.api_denied").await.len() >= 12);
    assert!(!app.audit("admin.api_call").await.is_empty());

    // Taking the role away takes the rights away at the next call.
    assert_eq!(reviewer_api.get(&paths[0]).await.0, StatusCode::OK);
    let out = cli(&app, &["user", "revoke", "rev@cnic.cn", "reviewer"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(reviewer_api.get(&paths[0]).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn who_may_use_the_review_pages() {
    let app = spawn().await;
    reviewer(&app, "rev@cnic.cn").await;
    app.user("plain@cnic.cn").await;
    let alice = applicant(&app, "alice@cnic.cn", 1).await;
    let c = submit(&app, &alice).await;
    let case_page = format!("/admin/review/{}", c.id);
    let doc = format!("/admin/review/{}/documents/1/1", c.id);

    // Signed out: the login page first.
    let b = app.browser();
    assert_eq!(
        b.get("/admin/review").await.redirect(),
        (
            StatusCode::SEE_OTHER,
            Some("/login?return_to=%2Fadmin%2Freview")
        )
    );

    // The reviewer (not an administrator): the review pages and the
    // account page's link to them, nothing else of the console.
    b.login("rev@cnic.cn", PASSWORD).await;
    let home = b.get("/account").await;
    assert!(home.has("id=\"review-link\"") && !home.has("id=\"admin-link\""));
    let queue = b.get("/admin/review").await;
    assert_eq!(queue.status, StatusCode::OK);
    assert!(queue.has("id=\"nav-review\""));
    assert!(
        !queue.has("href=\"/admin/users\""),
        "no administration links"
    );
    assert_eq!(b.get(&case_page).await.status, StatusCode::OK);
    assert_eq!(b.get(&doc).await.status, StatusCode::OK);
    for p in ["/admin", "/admin/users", "/admin/clients", "/admin/audit"] {
        assert_eq!(b.get(p).await.status, StatusCode::FORBIDDEN, "{p}");
    }

    // The system administrator without the role: a 403 page that says why.
    let admin = app.browser();
    admin.login("admin", &app.admin_password).await;
    let denied = admin.get("/admin/review").await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    assert!(denied.has("只有审核人可以进行这一操作"));
    for p in [&case_page, &doc] {
        assert_eq!(admin.get(p).await.status, StatusCode::FORBIDDEN, "{p}");
    }
    let en = admin.get("/admin/review?lang=en").await;
    assert!(en.has("Only reviewers can do this."));
    let console = admin.get("/admin").await;
    assert!(!console.has("id=\"nav-review\""));
    // Nor may the administrator act on a case by posting the form.
    let csrf = admin.get("/account").await.csrf();
    let post = admin
        .post_form(
            &case_page,
            &[("csrf", &csrf), ("action", "claim"), ("version", "1")],
        )
        .await;
    assert_eq!(post.status, StatusCode::FORBIDDEN);

    // Anyone else finds nothing.
    let plain = app.browser();
    plain.login("plain@cnic.cn", PASSWORD).await;
    for p in ["/admin/review", case_page.as_str(), doc.as_str()] {
        assert_eq!(plain.get(p).await.status, StatusCode::NOT_FOUND, "{p}");
    }
    assert_eq!(case(&app, c.id).await.version, 1, "nothing changed");
    assert!(app.audit("review.document_viewed").await.len() == 1);
}

/// The case page's `version` field.
fn version_of(page: &Page) -> String {
    page.hidden_fields()
        .into_iter()
        .find(|(k, _)| k == "version")
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no version in {}", page.body))
}

async fn act(b: &Browser, page: &Page, path: &str, fields: &[(&str, &str)]) -> Page {
    let csrf = page.csrf();
    let version = version_of(page);
    let mut all = vec![("csrf", csrf.as_str()), ("version", version.as_str())];
    all.extend_from_slice(fields);
    b.post_form(path, &all).await
}

#[tokio::test]
async fn a_reviewer_claims_notes_rejects_and_approves_in_the_console() {
    let app = spawn().await;
    let rev = reviewer(&app, "rev@cnic.cn").await;
    let alice = applicant(&app, "alice@cnic.cn", 1).await;
    let bob = applicant(&app, "bob@cnic.cn", 2).await;
    let c = submit(&app, &alice).await;
    let b = app.browser();
    b.login("rev@cnic.cn", PASSWORD).await;
    let path = format!("/admin/review/{}", c.id);

    let page = b.get(&path).await;
    assert!(page.has("id=\"claim\"") && !page.has("id=\"approve\""));
    let page = b
        .redirected(
            act(&b, &page, &path, &[("action", "claim")]).await,
            &format!("{path}?done=claimed"),
        )
        .await;
    assert!(page.has("id=\"message\">您已认领这份申请"));
    assert!(page.has("id=\"state\">审核中<"));
    assert!(page.has("id=\"claimed-by\">rev@cnic.cn<"));
    assert_eq!(case(&app, c.id).await.claimed_by, Some(rev.id));

    let empty = act(&b, &page, &path, &[("action", "note"), ("note", "")]).await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(empty.has("请填写内部备注") && !empty.has("给申请人的审批备注。"));
    let page = b
        .redirected(
            act(
                &b,
                &page,
                &path,
                &[("action", "note"), ("note", "已电话联系申请人")],
            )
            .await,
            &format!("{path}?done=note"),
        )
        .await;
    assert!(page.has("id=\"internal-note\">已电话联系申请人<"));

    // Rejecting without a note to the applicant is refused, nothing changes.
    let refused = act(&b, &page, &path, &[("action", "reject"), ("note", "  ")]).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.has("请填写给申请人的审批备注"));
    assert!(refused.has("id=\"state\">审核中<"));
    let before = case(&app, c.id).await;
    assert_eq!(before.state.as_str(), "in_review");
    let page = b
        .redirected(
            act(
                &b,
                &refused,
                &path,
                &[("action", "reject"), ("note", "证件照片不清晰，请重新上传")],
            )
            .await,
            &format!("{path}?done=rejected"),
        )
        .await;
    assert!(page.has("id=\"state\">已驳回<"));
    assert!(page.has("id=\"applicant-note\">证件照片不清晰，请重新上传<"));
    assert!(!page.has("id=\"approve\""), "nothing to decide now");
    let c = case(&app, c.id).await;
    assert_eq!(
        c.applicant_note.as_deref(),
        Some("证件照片不清晰，请重新上传")
    );

    // Another case, approved.
    let c2 = submit(&app, &bob).await;
    let path2 = format!("/admin/review/{}", c2.id);
    let page = b.get(&path2).await;
    let page = b
        .redirected(
            act(&b, &page, &path2, &[("action", "claim")]).await,
            &format!("{path2}?done=claimed"),
        )
        .await;
    let page = b
        .redirected(
            act(&b, &page, &path2, &[("action", "approve")]).await,
            &format!("{path2}?done=approved"),
        )
        .await;
    assert!(page.has("id=\"state\">已批准（冷静期）<"));
    assert_eq!(case(&app, c2.id).await.state.as_str(), "approved");
    let history = page.body.split("id=\"history\"").nth(1).unwrap();
    assert!(history.contains("认领") && history.contains("批准"));
    // Each change is audited with the reviewer as actor.
    for event in [
        "review.claimed",
        "review.note",
        "review.rejected",
        "review.approved",
    ] {
        let rows = app.audit(event).await;
        assert!(!rows.is_empty(), "{event}");
        assert_eq!(rows[0].actor, "rev@cnic.cn", "{event}");
    }
    // A form without its version is a bad request.
    let csrf = page.csrf();
    let bad = b
        .post_form(
            &path2,
            &[("csrf", &csrf), ("action", "note"), ("note", "x")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_reviewer_who_lost_a_race_in_the_console_is_told_and_sees_the_case_now() {
    let app = spawn().await;
    let first = reviewer(&app, "rev1@cnic.cn").await;
    reviewer(&app, "rev2@cnic.cn").await;
    let alice = applicant(&app, "alice@cnic.cn", 1).await;
    let c = submit(&app, &alice).await;
    let c = review::claim(&app.state, &first, c.id, c.version, &origin())
        .await
        .unwrap();
    let path = format!("/admin/review/{}", c.id);
    let (b1, b2) = (app.browser(), app.browser());
    b1.login("rev1@cnic.cn", PASSWORD).await;
    b2.login("rev2@cnic.cn", PASSWORD).await;
    b2.get("/account?lang=en").await;
    let (p1, p2) = (b1.get(&path).await, b2.get(&path).await);
    assert_eq!(version_of(&p1), version_of(&p2));

    let won = act(&b1, &p1, &path, &[("action", "approve")]).await;
    assert_eq!(won.status, StatusCode::SEE_OTHER);
    let lost = act(
        &b2,
        &p2,
        &path,
        &[("action", "reject"), ("note", "too late")],
    )
    .await;
    assert_eq!(lost.status, StatusCode::CONFLICT);
    assert!(lost.has("Someone else changed this application before you submitted"));
    assert!(
        lost.has("id=\"state\">Approved (cooling-off)<"),
        "the case as it is now"
    );
    assert!(!lost.has("id=\"reject\""), "nothing left to decide");
    let c = case(&app, c.id).await;
    assert_eq!(c.state.as_str(), "approved");
    assert_eq!(c.applicant_note, None, "the loser's note went nowhere");
    // In Chinese too, and what was typed is kept for the next try.
    let b3 = app.browser();
    b3.login("rev2@cnic.cn", PASSWORD).await;
    let csrf = b3.get(&path).await.csrf();
    let lost = b3
        .post_form(
            &path,
            &[
                ("csrf", &csrf),
                ("version", &version_of(&p2)),
                ("action", "note"),
                ("note", "迟到"),
            ],
        )
        .await;
    assert_eq!(lost.status, StatusCode::CONFLICT);
    assert!(lost.has("已有其他人处理了这份申请"));
    assert!(lost.has("id=\"state\">已批准（冷静期）<"));
    assert!(lost.has(">迟到</textarea>"), "what was typed is kept");
}

#[tokio::test]
async fn claim_note_reject_and_approve_through_the_api() {
    let app = spawn().await;
    reviewer(&app, "rev@cnic.cn").await;
    let alice = applicant(&app, "alice@cnic.cn", 1).await;
    let bob = applicant(&app, "bob@cnic.cn", 2).await;
    let c = submit(&app, &alice).await;
    let rp = desk(&app).await;
    let api = Api::new(&app, &review_token(&app, &rp, "rev@cnic.cn").await);
    let base = cases_path(c.id);

    let (status, s) = api
        .post(&format!("{base}/claim"), json!({ "version": c.version }))
        .await;
    assert_eq!(status, StatusCode::OK, "{s}");
    assert_eq!(s["state"], "in_review");
    let v = s["version"].as_i64().unwrap();
    assert_eq!(v, c.version + 1);
    // The old version is stale now: 409 that says so.
    let (status, p) = api
        .post(
            &format!("{base}/notes"),
            json!({ "version": c.version, "note": "x" }),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(p["type"], "urn:tongxing:problem:stale");
    assert_eq!(p["field"], "version");
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("someone else changed the case first")
    );

    let (status, s) = api
        .post(
            &format!("{base}/notes"),
            json!({ "version": v, "note": "已电话核实" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{s}");
    let v = s["version"].as_i64().unwrap();
    // Reject needs a note: missing, empty or too long are refused.
    let (status, p) = api
        .post(&format!("{base}/reject"), json!({ "version": v }))
        .await;
    assert_eq!(
        (status, p["field"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("note"))
    );
    let (status, p) = api
        .post(
            &format!("{base}/reject"),
            json!({ "version": v, "note": "   " }),
        )
        .await;
    assert_eq!(
        (status, p["field"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("note"))
    );
    let (status, _) = api
        .post(
            &format!("{base}/reject"),
            json!({ "version": v, "note": "长".repeat(501) }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(case(&app, c.id).await.state.as_str(), "in_review");
    let (status, s) = api
        .post(
            &format!("{base}/reject"),
            json!({ "version": v, "note": "证件不清晰" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{s}");
    assert_eq!(s["state"], "rejected");
    let (_, view) = api.get(&base).await;
    assert_eq!(view["applicant_note"], "证件不清晰");
    assert_eq!(view["internal_note"], "已电话核实");
    let events: Vec<&str> = view["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        events,
        ["submitted", "claimed", "internal_note", "rejected"]
    );
    // Approving a rejected case: not in a state that allows it.
    let (status, p) = api
        .post(
            &format!("{base}/approve"),
            json!({ "version": s["version"] }),
        )
        .await;
    assert_eq!(
        (status, p["field"].clone()),
        (StatusCode::CONFLICT, json!("state"))
    );

    // Approve, on another case.
    let c2 = submit(&app, &bob).await;
    let base2 = cases_path(c2.id);
    let (_, s) = api
        .post(&format!("{base2}/claim"), json!({ "version": c2.version }))
        .await;
    let (status, r) = api
        .post(
            &format!("{base2}/approve"),
            json!({ "version": s["version"] }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(r["outcome"], "approved");
    assert_eq!(r["case"]["state"], "approved");
    assert!(r["case"]["effective_at"].is_string());
    assert_eq!(r["case"]["approvals"][0]["name"], "rev@cnic.cn");
    // Unknown case: 404; a body that is not what the operation takes: 422.
    let (status, _) = api
        .post(
            &format!("{}/claim", cases_path(uuid::Uuid::now_v7())),
            json!({ "version": 1 }),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, p) = api
        .post(&format!("{base2}/claim"), json!({ "versoin": 1 }))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
}

#[tokio::test]
async fn nobody_reviews_their_own_application() {
    let app = spawn().await;
    let rev = reviewer(&app, "rev@cnic.cn").await;
    reviewer(&app, "rev2@cnic.cn").await;
    let own = submit(&app, &rev).await;
    let rp = desk(&app).await;
    let api = Api::new(&app, &review_token(&app, &rp, "rev@cnic.cn").await);
    let (status, p) = api
        .post(
            &format!("{}/claim", cases_path(own.id)),
            json!({ "version": own.version }),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{p}");
    assert_eq!(case(&app, own.id).await.version, own.version);
    // Another reviewer may (the positive control).
    let other = Api::new(&app, &review_token(&app, &rp, "rev2@cnic.cn").await);
    let (status, _) = other
        .post(
            &format!("{}/claim", cases_path(own.id)),
            json!({ "version": own.version }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let b = app.browser();
    b.login("rev@cnic.cn", PASSWORD).await;
    let page = b.get(&format!("/admin/review/{}", own.id)).await;
    assert!(page.has("不能审核自己提交的申请") && !page.has("id=\"approve\""));
}

#[tokio::test]
async fn of_two_decisions_made_at_once_exactly_one_wins() {
    let app = spawn().await;
    let r1 = reviewer(&app, "rev1@cnic.cn").await;
    reviewer(&app, "rev2@cnic.cn").await;
    let rp = desk(&app).await;
    let a1 = Api::new(&app, &review_token(&app, &rp, "rev1@cnic.cn").await);
    let a2 = Api::new(&app, &review_token(&app, &rp, "rev2@cnic.cn").await);
    for (n, (first, second)) in [
        ("approve", "approve"),
        ("reject", "reject"),
        ("approve", "reject"),
    ]
    .into_iter()
    .enumerate()
    {
        let who = applicant(&app, &format!("p{n}@cnic.cn"), n as u32 + 10).await;
        let c = submit(&app, &who).await;
        let c = review::claim(&app.state, &r1, c.id, c.version, &origin())
            .await
            .unwrap();
        let body = json!({ "version": c.version, "note": "决定" });
        let one = |op: &str| format!("{}/{op}", cases_path(c.id));
        let strip = |op: &str, b: &Value| {
            if op == "approve" {
                json!({ "version": b["version"] })
            } else {
                b.clone()
            }
        };
        let (p1, p2) = (one(first), one(second));
        let (b1, b2) = (strip(first, &body), strip(second, &body));
        let ((s1, x1), (s2, x2)) = tokio::join!(a1.post(&p1, b1), a2.post(&p2, b2));
        let mut statuses = [s1, s2];
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::OK, StatusCode::CONFLICT],
            "{first}/{second}: {x1} {x2}"
        );
        let loser = if s1 == StatusCode::CONFLICT { x1 } else { x2 };
        assert_eq!(loser["type"], "urn:tongxing:problem:stale", "{loser}");
        let stored = case(&app, c.id).await;
        assert_eq!(stored.version, c.version + 1, "one change only");
        let decisions = app
            .state
            .store
            .case_events(c.id)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.event == "approved" || e.event == "rejected")
            .count();
        assert_eq!(decisions, 1);
    }
}

#[tokio::test]
async fn four_eyes_takes_two_different_reviewers() {
    let app = spawn_with(|c| c.review.four_eyes = true).await;
    reviewer(&app, "rev1@cnic.cn").await;
    reviewer(&app, "rev2@cnic.cn").await;
    let alice = applicant(&app, "alice@cnic.cn", 1).await;
    let c = submit(&app, &alice).await;
    let rp = desk(&app).await;
    let a1 = Api::new(&app, &review_token(&app, &rp, "rev1@cnic.cn").await);
    let a2 = Api::new(&app, &review_token(&app, &rp, "rev2@cnic.cn").await);
    let base = cases_path(c.id);
    let (_, s) = a1
        .post(&format!("{base}/claim"), json!({ "version": c.version }))
        .await;

    let (status, r) = a1
        .post(
            &format!("{base}/approve"),
            json!({ "version": s["version"] }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(r["outcome"], "second_approval_needed");
    assert!(r["detail"].as_str().unwrap().contains("second reviewer"));
    assert_eq!(r["case"]["state"], "in_review");
    let v = r["case"]["version"].clone();
    // The same reviewer twice: 409.
    let (status, p) = a1
        .post(&format!("{base}/approve"), json!({ "version": v }))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(p["detail"].as_str().unwrap().contains("another reviewer"));
    assert_eq!(case(&app, c.id).await.state.as_str(), "in_review");
    // The queue shows the approval recorded.
    let (_, q) = a2.get("/api/v1/review/cases?state=in_review").await;
    assert_eq!(q["items"][0]["approvals"], 1);
    // A second reviewer decides.
    let (status, r) = a2
        .post(&format!("{base}/approve"), json!({ "version": v }))
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(r["outcome"], "approved");
    assert_eq!(r["case"]["state"], "approved");
    let names: Vec<&str> = r["case"]["approvals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["rev1@cnic.cn", "rev2@cnic.cn"]);

    // In the console: the first approval says a second is owed.
    let c2 = submit(&app, &applicant(&app, "bob@cnic.cn", 2).await).await;
    let b = app.browser();
    b.login("rev1@cnic.cn", PASSWORD).await;
    let path = format!("/admin/review/{}", c2.id);
    let page = b.get(&path).await;
    let page = b
        .redirected(
            act(&b, &page, &path, &[("action", "claim")]).await,
            &format!("{path}?done=claimed"),
        )
        .await;
    assert!(page.has("id=\"four-eyes\""));
    let page = b
        .redirected(
            act(&b, &page, &path, &[("action", "approve")]).await,
            &format!("{path}?done=second"),
        )
        .await;
    assert!(page.has("还需另一位审核人批准"));
    let again = act(&b, &page, &path, &[("action", "approve")]).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert!(again.has("第二次批准须由另一位审核人作出"));
}

#[tokio::test]
async fn the_reviewer_role_is_granted_and_revoked_by_cli_api_and_console_and_audited() {
    let app = spawn().await;

    // CLI: at creation, then grant and revoke on an existing account.
    let out = cli(
        &app,
        &[
            "user",
            "add",
            "--username",
            "rev@cnic.cn",
            "--reviewer",
            "--json",
        ],
    )
    .await;
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.json()["roles"], json!(["reviewer"]));
    let rev = app.stored("rev@cnic.cn").await;
    assert!(rev.has_role(Role::Reviewer) && !rev.is_admin);
    let grants = app.audit("account.role_granted").await;
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0].actor, "cli:tester");
    assert_eq!(grants[0].subject_id, Some(rev.id));
    assert_eq!(
        serde_json::from_str::<Value>(&grants[0].detail).unwrap(),
        json!({ "role": "reviewer" })
    );

    app.user("zhou@cnic.cn").await;
    let out = cli(&app, &["user", "grant", "zhou@cnic.cn", "reviewer"]).await;
    assert_eq!(
        (out.code, out.stdout.trim()),
        (0, "zhou@cnic.cn: role reviewer granted")
    );
    assert!(app.stored("zhou@cnic.cn").await.has_role(Role::Reviewer));
    assert_eq!(app.audit("account.role_granted").await.len(), 2);
    // Granting a role held already changes and records nothing.
    let out = cli(&app, &["user", "grant", "zhou@cnic.cn", "reviewer"]).await;
    assert_eq!(
        (out.code, out.stdout.trim()),
        (0, "zhou@cnic.cn: role reviewer already held")
    );
    assert_eq!(app.audit("account.role_granted").await.len(), 2);
    let out = cli(&app, &["user", "revoke", "zhou@cnic.cn", "reviewer"]).await;
    assert_eq!(
        (out.code, out.stdout.trim()),
        (0, "zhou@cnic.cn: role reviewer revoked")
    );
    assert!(!app.stored("zhou@cnic.cn").await.has_role(Role::Reviewer));
    let revoked = app.audit("account.role_revoked").await;
    assert_eq!(
        (revoked.len(), revoked[0].actor.as_str()),
        (1, "cli:tester")
    );
    assert_eq!(
        cli(&app, &["user", "grant", "nobody@cnic.cn", "reviewer"])
            .await
            .code,
        4
    );
    assert_eq!(
        cli(&app, &["user", "grant", "zhou@cnic.cn", "pope"])
            .await
            .code,
        2
    );
    let list = cli(&app, &["user", "list", "--json"]).await.json();
    let zhou = list
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "zhou@cnic.cn")
        .unwrap();
    assert_eq!(zhou["roles"], json!([]));

    // API: UserView shows the roles; the update operation sets them.
    let api = Api::new(&app, &admin_token(&app).await);
    let zhou = app.stored("zhou@cnic.cn").await;
    let path = format!("/api/v1/users/{}", zhou.id);
    let (_, view) = api.get(&path).await;
    assert_eq!(view["roles"], json!([]));
    let (status, view) = api
        .call(
            "PATCH",
            &path,
            Some(json!({ "version": view["version"], "roles": ["reviewer"] })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["roles"], json!(["reviewer"]));
    let grants = app.audit("account.role_granted").await;
    assert_eq!(grants.len(), 3);
    assert_eq!(grants[0].actor, "client:ops-bot");
    let (status, p) = api
        .call(
            "PATCH",
            &path,
            Some(json!({ "version": view["version"], "roles": ["pope"] })),
        )
        .await;
    assert_eq!(
        (status, p["field"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("roles[0]"))
    );
    let (status, view) = api
        .call(
            "PATCH",
            &path,
            Some(json!({ "version": view["version"], "roles": [] })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(view["roles"], json!([]));
    assert_eq!(app.audit("account.role_revoked").await.len(), 2);
    // Other changes leave the roles alone.
    let (_, view) = api
        .call(
            "PATCH",
            &path,
            Some(json!({ "version": view["version"], "display_name": "周" })),
        )
        .await;
    assert_eq!(view["roles"], json!([]));
    assert_eq!(app.audit("account.role_revoked").await.len(), 2);
    let (status, created) = api
        .post(
            "/api/v1/users",
            json!({ "username": "wu@cnic.cn", "roles": ["reviewer"] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["user"]["roles"], json!(["reviewer"]));
    assert_eq!(app.audit("account.role_granted").await.len(), 4);

    // Console: the account page's checkbox.
    let b = app.browser();
    b.login("admin", &app.admin_password).await;
    let user_path = format!("/admin/users/{}", zhou.id);
    let page = b.get(&user_path).await;
    assert!(page.has("id=\"reviewer\"") && !page.has("id=\"role-reviewer\""));
    let fresh = app.stored("zhou@cnic.cn").await;
    let done = b
        .submit_page(
            &page,
            &user_path,
            &[
                ("action", "profile"),
                ("version", &fresh.version.to_string()),
                ("display_name", "周"),
                ("reviewer", "1"),
            ],
        )
        .await;
    let page = b.redirected(done, &format!("{user_path}?done=1")).await;
    assert!(page.has("id=\"role-reviewer\""));
    assert!(app.stored("zhou@cnic.cn").await.has_role(Role::Reviewer));
    let grants = app.audit("account.role_granted").await;
    assert_eq!((grants.len(), grants[0].actor.as_str()), (5, "admin"));
    // The new reviewer is signed out everywhere by the change and, signed
    // in again, finds the queue.
    let zb = app.browser();
    zb.login("zhou@cnic.cn", PASSWORD).await;
    assert_eq!(zb.get("/admin/review").await.status, StatusCode::OK);
}
