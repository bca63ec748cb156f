//! Text the database cannot store — `%00`, JSON `\u0000`, percent-encoded
//! bytes that are not UTF-8 — is refused where the request arrives, naming
//! the field, in each surface's terms: an error page, a problem document,
//! `invalid_request`. On PostgreSQL these reached a query and answered 500
//! (and a login with one went unaudited); the same tests run on SQLite and,
//! with `TONGXING_TEST_DATABASE_URL`, on PostgreSQL. Each refusal has its
//! control: the same request without the bad byte is served.

use reqwest::StatusCode;
use serde_json::Value;

use crate::admin_api::admin_token;
use crate::helpers::{Browser, PASSWORD, Page, REDIRECT, TestApp, query};

/// The hosted error page, naming `field`: status 400, in the page's language.
fn assert_field_page(page: &Page, field: &str, words: &str) {
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.body);
    assert!(
        page.header("content-type")
            .is_some_and(|c| c.starts_with("text/html")),
        "{:?}",
        page.headers
    );
    assert!(
        page.has(&format!("“{field}”")),
        "names {field}: {}",
        page.body
    );
    assert!(page.has(words), "{}", page.body);
}

const ZH: &str = "含有不允许的字符";
const EN: &str = "contains a character that is not allowed";

async fn signed_in_admin(app: &TestApp) -> Browser {
    let b = app.browser();
    let answer = b.login("admin", &app.admin_password).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    b
}

/// Posts a raw URL-encoded body (reqwest's `form` would encode the `%`).
async fn post_raw(b: &Browser, path: &str, body: String) -> Page {
    let r = b
        .client
        .post(format!("{}{path}", b.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let headers = r.headers().clone();
    Page {
        status,
        headers,
        body: r.text().await.unwrap(),
    }
}

#[tokio::test]
async fn hosted_pages_refuse_nul_naming_the_field() {
    let app = TestApp::spawn().await;
    app.user("alice").await;

    // GET queries: the login page's return_to, in both languages.
    let b = app.browser();
    assert_field_page(
        &b.get("/login?return_to=%2Faccount%00").await,
        "return_to",
        ZH,
    );
    assert_eq!(
        b.get("/login?return_to=%2Faccount").await.status,
        StatusCode::OK
    );

    // The password-recovery form.
    let csrf = b.get("/recover").await.csrf();
    assert_field_page(
        &post_raw(&b, "/recover", format!("csrf={csrf}&identifier=al%00ice")).await,
        "identifier",
        ZH,
    );
    // Control: served, and refused for what it lacks (the image captcha).
    let control = post_raw(&b, "/recover", format!("csrf={csrf}&identifier=alice")).await;
    assert_eq!(
        control.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        control.body
    );
    assert!(control.has("图片验证码"), "{}", control.body);

    // The administrator's user search.
    let admin = signed_in_admin(&app).await;
    assert_field_page(&admin.get("/admin/users?q=al%00").await, "q", ZH);
    let found = admin.get("/admin/users?q=al").await;
    assert_eq!(found.status, StatusCode::OK);
    assert!(found.has("alice"));

    // The same page in English (the switch is remembered by this browser).
    assert_field_page(
        &b.get("/login?lang=en&return_to=%2Faccount%00").await,
        "return_to",
        EN,
    );
}

#[tokio::test]
async fn a_login_with_nul_is_refused_before_it_is_counted_or_audited() {
    let app = TestApp::spawn().await;
    app.user("alice").await;
    let b = app.browser();
    let csrf = b.get("/login").await.csrf();

    let refused = post_raw(
        &b,
        "/login",
        format!("csrf={csrf}&identifier=alice%00&password=wrong"),
    )
    .await;
    assert_field_page(&refused, "identifier", ZH);
    let refused = post_raw(
        &b,
        "/login",
        format!("csrf={csrf}&identifier=alice&password=x%00"),
    )
    .await;
    assert_field_page(&refused, "password", ZH);
    assert!(app.audit("login.failure").await.is_empty());

    // Control: the same wrong password without the NUL is a failed login,
    // audited; the right one signs in.
    let wrong = post_raw(
        &b,
        "/login",
        format!("csrf={csrf}&identifier=alice&password=wrong"),
    )
    .await;
    assert_ne!(wrong.status, StatusCode::BAD_REQUEST, "{}", wrong.body);
    assert_eq!(app.audit("login.failure").await.len(), 1);
    let right = b.login("alice", PASSWORD).await;
    assert_eq!(right.status, StatusCode::SEE_OTHER, "{}", right.body);
}

#[tokio::test]
async fn bytes_that_are_not_utf8_are_refused_like_nul() {
    let app = TestApp::spawn().await;
    let b = app.browser();
    let csrf = b.get("/login").await.csrf();
    let refused = post_raw(
        &b,
        "/login",
        format!("csrf={csrf}&identifier=al%FFice&password=wrong"),
    )
    .await;
    assert_field_page(&refused, "identifier", ZH);
    // Control: UTF-8 outside ASCII is text like any other.
    let served = post_raw(
        &b,
        "/login",
        format!("csrf={csrf}&identifier=%E7%8E%8B&password=wrong"),
    )
    .await;
    assert_ne!(served.status, StatusCode::BAD_REQUEST, "{}", served.body);
    assert!(!served.status.is_server_error());
    assert_eq!(app.audit("login.failure").await.len(), 1);
}

#[tokio::test]
async fn authorize_pages_until_the_client_is_verified_then_redirects() {
    let app = TestApp::spawn().await;
    let rp = app.rp("shop").await;
    let b = app.browser();
    let base = format!(
        "/authorize?response_type=code&scope=openid&redirect_uri={}&state=s1&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256",
        urlencoding(REDIRECT)
    );

    // An unverifiable client: the error page, never a redirect.
    let page = b.get(&format!("{base}&client_id=sh%00op")).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.body);
    assert!(page.location().is_none());
    assert!(
        page.has("client_id contains a NUL character"),
        "{}",
        page.body
    );

    // A verified client and redirect URI: invalid_request sent back there.
    let answer = b
        .get(&format!("{base}&client_id={}&nonce=n%00", rp.id))
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    let location = answer.location().unwrap();
    assert!(location.starts_with(REDIRECT), "{location}");
    let q = query(location);
    assert_eq!(q["error"], "invalid_request");
    assert!(q["error_description"].contains("nonce"), "{q:?}");
    assert_eq!(q["state"], "s1");

    // Control: without the NUL the request goes on to the login page.
    let answer = b.get(&format!("{base}&client_id={}&nonce=n", rp.id)).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    assert!(
        answer.location().unwrap().starts_with("/login"),
        "{answer:?}"
    );
}

fn urlencoding(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn logout_names_the_parameter() {
    let app = TestApp::spawn().await;
    let rp = app.rp("shop").await;
    let b = app.browser();
    let page = b.get("/logout?client_id=sh%00op").await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.body);
    assert!(page.has("client_id"), "{}", page.body);
    // Control: not signed in, the request is served (sent on its way).
    let control = b.get(&format!("/logout?client_id={}", rp.id)).await;
    assert_eq!(control.status, StatusCode::SEE_OTHER, "{}", control.body);
}

/// A back-channel request; the JSON answer.
async fn backchannel(
    app: &TestApp,
    path: &str,
    basic: Option<(&str, &str)>,
    body: &str,
) -> (StatusCode, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("{}{path}", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_string());
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    let r = req.send().await.unwrap();
    (r.status(), r.json().await.unwrap())
}

fn assert_invalid_request(answer: &(StatusCode, Value), parameter: &str) {
    assert_eq!(answer.0, StatusCode::BAD_REQUEST, "{}", answer.1);
    assert_eq!(answer.1["error"], "invalid_request", "{}", answer.1);
    assert!(
        answer.1["error_description"]
            .as_str()
            .is_some_and(|d| d.contains(parameter)),
        "names {parameter}: {}",
        answer.1
    );
}

#[tokio::test]
async fn protocol_endpoints_answer_invalid_request() {
    let app = TestApp::spawn().await;
    let rp = app.rp("shop").await;
    let secret = rp.secret.as_deref().unwrap();

    // /token: client_id in the form, and in Basic credentials.
    let form = "grant_type=client_credentials&client_id=sh%00op&client_secret=x";
    assert_invalid_request(&backchannel(&app, "/token", None, form).await, "client_id");
    assert_invalid_request(
        &backchannel(
            &app,
            "/token",
            Some(("sh\0op", secret)),
            "grant_type=client_credentials",
        )
        .await,
        "client_id",
    );
    // Control: the unknown client without the NUL is an authentication failure.
    let control = backchannel(
        &app,
        "/token",
        None,
        "grant_type=client_credentials&client_id=shop2&client_secret=x",
    )
    .await;
    assert_eq!(control.1["error"], "invalid_client", "{}", control.1);

    // /introspect and /revoke: the token.
    for path in ["/introspect", "/revoke"] {
        assert_invalid_request(
            &backchannel(&app, path, Some((&rp.id, secret)), "token=ab%00c").await,
            "token",
        );
        let control = reqwest::Client::new()
            .post(format!("{}{path}", app.base))
            .basic_auth(&rp.id, Some(secret))
            .form(&[("token", "abc")])
            .send()
            .await
            .unwrap();
        assert_eq!(control.status(), StatusCode::OK, "{path}");
    }
}

#[tokio::test]
async fn the_management_api_answers_problems_with_the_field() {
    let app = TestApp::spawn().await;
    let token = admin_token(&app).await;
    let http = reqwest::Client::new();
    let send = |req: reqwest::RequestBuilder| async {
        let r = req.bearer_auth(&token).send().await.unwrap();
        let status = r.status();
        let ctype = r
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string());
        (status, ctype, r.json::<Value>().await.unwrap())
    };
    let problem = |answer: &(StatusCode, Option<String>, Value), field: &str| {
        assert_eq!(answer.0, StatusCode::UNPROCESSABLE_ENTITY, "{}", answer.2);
        assert_eq!(answer.1.as_deref(), Some("application/problem+json"));
        assert_eq!(answer.2["field"], field, "{}", answer.2);
    };

    // The search query.
    let users = format!("{}/api/v1/users", app.base);
    problem(&send(http.get(format!("{users}?q=a%00"))).await, "q");
    assert_eq!(
        send(http.get(format!("{users}?q=a"))).await.0,
        StatusCode::OK
    );

    // A JSON body with \u0000, at the top and nested.
    let raw = |body: &'static str| {
        http.post(&users)
            .header("content-type", "application/json")
            .body(body)
    };
    problem(&send(raw(r#"{"username":"bo\u0000b"}"#)).await, "username");
    problem(
        &send(raw(r#"{"username":"bob","display_name":"B\u0000"}"#)).await,
        "display_name",
    );
    // A lone surrogate never becomes text: a syntax error, 400.
    let surrogate = send(raw(r#"{"username":"\ud800"}"#)).await;
    assert_eq!(surrogate.0, StatusCode::BAD_REQUEST, "{}", surrogate.2);
    assert_eq!(surrogate.1.as_deref(), Some("application/problem+json"));
    // Control.
    let created = send(raw(r#"{"username":"bob","display_name":"B"}"#)).await;
    assert_eq!(created.0, StatusCode::CREATED, "{}", created.2);

    // The audit query.
    let audit = format!("{}/api/v1/audit", app.base);
    problem(
        &send(http.get(format!("{audit}?event=login%00"))).await,
        "event",
    );
    assert_eq!(
        send(http.get(format!("{audit}?event=login"))).await.0,
        StatusCode::OK
    );
}
