//! The exactness rules of issue 19, each through the real server: max_age
//! by the millisecond, invalid_scope on a widening refresh, acr_values as a
//! voluntary preference list and the essential acr, id_token_hint,
//! repeated parameters, redirect_uri at the token endpoint, the `claims`
//! parameter, the `address` scope, both ways of sending a secret, and the
//! discovery document that says so.

use reqwest::StatusCode;
use serde_json::{Value, json};
use tongxing::service::accounts::NewAccount;

use crate::admin_api::{Api, admin_token};
use crate::helpers::{Browser, PASSWORD, REDIRECT, Rp, TestApp, query};
use crate::oidc::decode_payload;
use crate::oidc_rules::{authorize_url, redeem, token};

const ACR_PWD: &str = "urn:tongxing:acr:password";
const ACR_SMS: &str = "urn:tongxing:acr:sms";

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The path of an absolute URL of the app.
fn path(app: &TestApp, url: &str) -> String {
    url.replacen(&app.base, "", 1)
}

/// An authorization request with `scope` and extra parameters (PKCE as in
/// `oidc_rules`, so `redeem` fits).
fn url_with_scope(app: &TestApp, rp: &Rp, scope: &str, extra: &str) -> String {
    authorize_url(app, rp, extra).replace(
        "scope=openid%20profile%20offline_access",
        &format!("scope={}", enc(scope)),
    )
}

async fn setup() -> (TestApp, Rp) {
    let app = TestApp::spawn_with(|c| c.sms.resend_secs = 0).await;
    app.user("li@cnic.cn").await;
    app.user_with(NewAccount {
        username: "wang@cnic.cn".into(),
        security_phone: Some("13312348347".into()),
        ..NewAccount::default()
    })
    .await;
    let rp = app.rp_with("mail", |c| c.first_party = true).await;
    (app, rp)
}

/// Where a signed-in browser's request goes: the client with a code or an
/// error, or one of our pages.
async fn answer(app: &TestApp, b: &Browser, url: &str) -> String {
    let page = b.get(&path(app, url)).await;
    page.location()
        .unwrap_or_else(|| panic!("no redirect: {} {}", page.status, page.body))
        .to_string()
}

/// The code (or panics with the error) of a redirect to the client.
fn code_of(location: &str) -> String {
    let q = query(location);
    q.get("code")
        .unwrap_or_else(|| panic!("no code: {location}"))
        .clone()
}

async fn id_token_claims(app: &TestApp, rp: &Rp, code: &str) -> (Value, Value) {
    let (status, tokens) = redeem(app, rp, code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    (decode_payload(tokens["id_token"].as_str().unwrap()), tokens)
}

async fn userinfo(app: &TestApp, access: &str) -> Value {
    let r = reqwest::Client::new()
        .get(format!("{}/userinfo", app.base))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

/// The step-up page: send a code, read it from the outbox, enter it.
async fn pass_sms(app: &TestApp, b: &Browser) -> crate::helpers::Page {
    let page = b.get("/login/sms").await;
    let sent = b.submit_page(&page, "/login/sms/send", &[]).await;
    assert_eq!(sent.location(), Some("/login/sms"), "{}", sent.body);
    let sent = b.get("/login/sms").await;
    let text = app.outbox("sms").last().unwrap()["text"]
        .as_str()
        .unwrap()
        .to_string();
    let code: String = text
        .chars()
        .filter(|c| c.is_ascii_digit())
        .take(6)
        .collect();
    b.submit_page(&sent, "/login/sms", &[("code", &code)]).await
}

#[tokio::test]
async fn max_age_zero_forces_a_new_sign_in_at_once() {
    let (app, rp) = setup().await;
    let b = app.browser();
    b.login("li@cnic.cn", PASSWORD).await;
    // Positive control: signed in a moment ago, a code comes back at once.
    let first = answer(&app, &b, &authorize_url(&app, &rp, "")).await;
    code_of(&first);
    // max_age=0 in the same second: a new sign-in, never a code.
    let again = answer(&app, &b, &authorize_url(&app, &rp, "&max_age=0")).await;
    assert!(again.starts_with("/login?"), "{again}");
    assert!(again.contains("force=1"), "{again}");
    let silent = answer(
        &app,
        &b,
        &authorize_url(&app, &rp, "&max_age=0&prompt=none"),
    )
    .await;
    assert_eq!(query(&silent)["error"], "login_required", "{silent}");
    // Signing in again satisfies it, once: the request comes back without
    // max_age and gets its code.
    let back = b
        .authorize_as(
            &authorize_url(&app, &rp, "&max_age=0"),
            "li@cnic.cn",
            PASSWORD,
            "allow",
        )
        .await;
    let (claims, _) = id_token_claims(&app, &rp, &code_of(&back)).await;
    assert!(claims["auth_time"].as_i64().is_some());
    // max_age=1 is judged by the millisecond, not by whole seconds.
    let fine = answer(&app, &b, &authorize_url(&app, &rp, "&max_age=1")).await;
    code_of(&fine);
    app.advance(std::time::Duration::from_millis(1500));
    let roomy = answer(&app, &b, &authorize_url(&app, &rp, "&max_age=3600")).await;
    code_of(&roomy);
    let late = answer(&app, &b, &authorize_url(&app, &rp, "&max_age=1")).await;
    assert!(late.starts_with("/login?"), "{late}");
}

#[tokio::test]
async fn a_refresh_asking_for_more_scope_is_invalid_scope() {
    let (app, rp) = setup().await;
    let b = app.browser();
    let back = b
        .authorize_as(
            &authorize_url(&app, &rp, ""),
            "li@cnic.cn",
            PASSWORD,
            "allow",
        )
        .await;
    let (status, tokens) = redeem(&app, &rp, &code_of(&back)).await;
    assert_eq!(status, StatusCode::OK);
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let (status, body) = token(
        &app,
        &rp,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("scope", "openid profile email"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_scope", "{body}");
    // The refused request spent nothing: the same token narrows the scope.
    let (status, body) = token(
        &app,
        &rp,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("scope", "openid"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["scope"], "openid");
}

#[tokio::test]
async fn acr_values_are_a_voluntary_preference_list() {
    let (app, rp) = setup().await;
    let prefer_sms = format!("&acr_values={}", enc(&format!("{ACR_SMS} {ACR_PWD}")));
    // No phone: the SMS class cannot be reached, the next one is taken.
    let b = app.browser();
    b.login("li@cnic.cn", PASSWORD).await;
    let back = answer(&app, &b, &authorize_url(&app, &rp, &prefer_sms)).await;
    let (claims, _) = id_token_claims(&app, &rp, &code_of(&back)).await;
    assert_eq!(claims["acr"], ACR_PWD);
    // With a phone the first preference is reachable: step-up first.
    let w = app.browser();
    assert_eq!(
        w.login("wang@cnic.cn", PASSWORD).await.location(),
        Some("/account")
    );
    let owed = answer(&app, &w, &authorize_url(&app, &rp, &prefer_sms)).await;
    assert_eq!(owed, "/login/sms");
    let done = pass_sms(&app, &w).await;
    let back = done.location().unwrap().to_string();
    assert!(back.starts_with("/authorize?"), "{back}");
    let back = answer(&app, &w, &format!("{}{back}", app.base)).await;
    let (claims, _) = id_token_claims(&app, &rp, &code_of(&back)).await;
    assert_eq!(claims["acr"], ACR_SMS);
    // A password preference first is met as it stands, and reported.
    let w2 = app.browser();
    w2.login("wang@cnic.cn", PASSWORD).await;
    let prefer_pwd = format!("&acr_values={}", enc(&format!("{ACR_PWD} {ACR_SMS}")));
    let back = answer(&app, &w2, &authorize_url(&app, &rp, &prefer_pwd)).await;
    let (claims, _) = id_token_claims(&app, &rp, &code_of(&back)).await;
    assert_eq!(claims["acr"], ACR_PWD);
}

#[tokio::test]
async fn an_essential_acr_must_be_met() {
    let (app, rp) = setup().await;
    let b = app.browser();
    b.login("li@cnic.cn", PASSWORD).await;
    let essential = |value: &str| {
        format!(
            "&claims={}",
            enc(&json!({"id_token": {"acr": {"essential": true, "values": [value]}}}).to_string())
        )
    };
    // Essential SMS without a phone is not passed over: step-up is owed
    // (the page then asks for a phone), and prompt=none cannot have it.
    let owed = answer(&app, &b, &authorize_url(&app, &rp, &essential(ACR_SMS))).await;
    assert_eq!(owed, "/login/sms");
    let silent = answer(
        &app,
        &b,
        &authorize_url(&app, &rp, &format!("{}&prompt=none", essential(ACR_SMS))),
    )
    .await;
    assert_eq!(query(&silent)["error"], "interaction_required", "{silent}");
    // A class nobody can meet fails the authentication.
    let never = answer(
        &app,
        &b,
        &authorize_url(&app, &rp, &essential("urn:other:gold")),
    )
    .await;
    let q = query(&never);
    assert_eq!(q["error"], "access_denied", "{never}");
    assert_eq!(q["state"], "s1");
    // Positive control: an essential password class is met as it stands.
    let fine = answer(&app, &b, &authorize_url(&app, &rp, &essential(ACR_PWD))).await;
    let (claims, _) = id_token_claims(&app, &rp, &code_of(&fine)).await;
    assert_eq!(claims["acr"], ACR_PWD);
}

#[tokio::test]
async fn id_token_hint_is_honoured() {
    let (app, rp) = setup().await;
    // An ID token of li.
    let li = app.browser();
    let back = li
        .authorize_as(
            &authorize_url(&app, &rp, ""),
            "li@cnic.cn",
            PASSWORD,
            "allow",
        )
        .await;
    let (li_claims, tokens) = id_token_claims(&app, &rp, &code_of(&back)).await;
    let hint = format!("&id_token_hint={}", tokens["id_token"].as_str().unwrap());
    // Positive control: li's own browser, prompt=none: a code.
    let same = answer(
        &app,
        &li,
        &authorize_url(&app, &rp, &format!("{hint}&prompt=none")),
    )
    .await;
    code_of(&same);
    // Wang's browser with li's hint: login_required silently …
    let w = app.browser();
    w.login("wang@cnic.cn", PASSWORD).await;
    let silent = answer(
        &app,
        &w,
        &authorize_url(&app, &rp, &format!("{hint}&prompt=none")),
    )
    .await;
    assert_eq!(query(&silent)["error"], "login_required", "{silent}");
    assert_eq!(query(&silent)["state"], "s1");
    // … and otherwise the login page, for li's account.
    let asked = answer(&app, &w, &authorize_url(&app, &rp, &hint)).await;
    assert!(asked.starts_with("/login?"), "{asked}");
    assert_eq!(
        query(&format!("http://x{asked}"))["login_hint"],
        "li@cnic.cn"
    );
    // Signing in there as li gives a code for li.
    let back = w
        .authorize_as(
            &authorize_url(&app, &rp, &hint),
            "li@cnic.cn",
            PASSWORD,
            "allow",
        )
        .await;
    let (claims, _) = id_token_claims(&app, &rp, &code_of(&back)).await;
    assert_eq!(claims["sub"], li_claims["sub"]);
    // A hint that is not our ID token.
    let forged = answer(
        &app,
        &li,
        &authorize_url(&app, &rp, "&id_token_hint=eyJhbGciOiJub25lIn0.e30."),
    )
    .await;
    assert_eq!(query(&forged)["error"], "invalid_request", "{forged}");
}

#[tokio::test]
async fn a_repeated_parameter_is_invalid_request_at_the_verified_redirect_uri() {
    let (app, rp) = setup().await;
    let b = app.browser();
    // Positive control.
    let ok = answer(&app, &b, &authorize_url(&app, &rp, "")).await;
    assert!(ok.starts_with("/login?"), "{ok}");
    let scope_twice = answer(&app, &b, &authorize_url(&app, &rp, "&scope=openid")).await;
    assert!(scope_twice.starts_with(REDIRECT), "{scope_twice}");
    let q = query(&scope_twice);
    assert_eq!(q["error"], "invalid_request");
    assert!(q["error_description"].contains("scope"), "{scope_twice}");
    assert_eq!(q["state"], "s1");
    // A repeated state is not echoed (neither value is surely the client's).
    let state_twice = answer(&app, &b, &authorize_url(&app, &rp, "&state=s2")).await;
    let q = query(&state_twice);
    assert_eq!(q["error"], "invalid_request");
    assert!(!q.contains_key("state"), "{state_twice}");
    // Through a POST too: the 303 keeps both values.
    let body = format!(
        "{}&prompt=none",
        authorize_url(&app, &rp, "&prompt=login")
            .split_once('?')
            .unwrap()
            .1
    );
    let posted = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{}/authorize", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    let to = posted.headers()["location"].to_str().unwrap().to_string();
    let q = query(&answer(&app, &b, &format!("{}{to}", app.base)).await);
    assert_eq!(q["error"], "invalid_request");
    // The client or the redirect URI repeated: they cannot be verified.
    for extra in [
        format!("&client_id={}", rp.id),
        format!("&redirect_uri={}", enc(REDIRECT)),
    ] {
        let page = b.get(&path(&app, &authorize_url(&app, &rp, &extra))).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{extra}");
        assert!(page.location().is_none());
        assert!(page.has("more than once"), "{}", page.body);
    }
}

#[tokio::test]
async fn the_token_request_must_carry_the_redirect_uri() {
    let (app, rp) = setup().await;
    let b = app.browser();
    b.login("li@cnic.cn", PASSWORD).await;
    let code = code_of(&answer(&app, &b, &authorize_url(&app, &rp, "")).await);
    let (status, body) = token(
        &app,
        &rp,
        &[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            (
                "code_verifier",
                "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
            ),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_request", "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("redirect_uri")
    );
    let code = code_of(&answer(&app, &b, &authorize_url(&app, &rp, "")).await);
    let (_, body) = token(
        &app,
        &rp,
        &[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", "https://rp.example.org/other"),
            (
                "code_verifier",
                "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
            ),
        ],
    )
    .await;
    assert_eq!(body["error"], "invalid_grant", "{body}");
    let code = code_of(&answer(&app, &b, &authorize_url(&app, &rp, "")).await);
    assert_eq!(redeem(&app, &rp, &code).await.0, StatusCode::OK);
}

#[tokio::test]
async fn the_claims_parameter_asks_for_claims_by_name() {
    let (app, rp) = setup().await;
    app.user_with(NewAccount {
        username: "zhao@cnic.cn".into(),
        display_name: Some("赵六".into()),
        login_phone: Some("13912345678".into()),
        ..NewAccount::default()
    })
    .await;
    let z = app.browser();
    z.login("zhao@cnic.cn", PASSWORD).await;
    let claims = json!({
        "id_token": {"phone_number": {"essential": true}, "nickname": null},
        "userinfo": {"email": null, "name": {"essential": false}}
    });
    let url = url_with_scope(
        &app,
        &rp,
        "openid",
        &format!("&claims={}", enc(&claims.to_string())),
    );
    let back = answer(&app, &z, &url).await;
    let (id, tokens) = id_token_claims(&app, &rp, &code_of(&back)).await;
    assert_eq!(id["phone_number"], "+8613912345678", "{id}");
    assert!(id.get("email").is_none(), "{id}");
    assert!(id.get("name").is_none(), "{id}");
    assert!(id.get("nickname").is_none(), "unknown claims are ignored");
    let info = userinfo(&app, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(info["email"], "zhao@cnic.cn", "{info}");
    assert_eq!(info["name"], "赵六");
    assert!(info.get("phone_number").is_none(), "{info}");
    // Positive control for the absence: scope openid alone gives only sub.
    let plain = answer(&app, &z, &url_with_scope(&app, &rp, "openid", "")).await;
    let (id, tokens) = id_token_claims(&app, &rp, &code_of(&plain)).await;
    assert!(id.get("phone_number").is_none());
    let info = userinfo(&app, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(
        info.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["sub"]
    );
    // The request survives a refresh: the new ID token has the claim too.
    let back = answer(&app, &z, &url).await;
    let (_, tokens) = id_token_claims(&app, &rp, &code_of(&back)).await;
    let (status, refreshed) = token(
        &app,
        &rp,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    let id = decode_payload(refreshed["id_token"].as_str().unwrap());
    assert_eq!(id["phone_number"], "+8613912345678", "{id}");
    // A claim whose scope the client may not ask for is not released.
    let narrow = app
        .rp_with("wiki", |c| {
            c.first_party = true;
            c.scopes = Some("openid profile".into());
        })
        .await;
    let url = url_with_scope(
        &app,
        &narrow,
        "openid",
        &format!("&claims={}", enc(&claims.to_string())),
    );
    let back = answer(&app, &z, &url).await;
    let (id, tokens) = id_token_claims(&app, &narrow, &code_of(&back)).await;
    assert!(id.get("phone_number").is_none(), "{id}");
    let info = userinfo(&app, tokens["access_token"].as_str().unwrap()).await;
    assert!(info.get("email").is_none(), "{info}");
    assert_eq!(info["name"], "赵六");
    // Malformed: invalid_request at the redirect URI.
    let bad = answer(&app, &z, &authorize_url(&app, &rp, "&claims=%7Bnope")).await;
    assert_eq!(query(&bad)["error"], "invalid_request", "{bad}");
    let bad = answer(
        &app,
        &z,
        &authorize_url(
            &app,
            &rp,
            &format!("&claims={}", enc(r#"{"userinfo":{"email":true}}"#)),
        ),
    )
    .await;
    assert_eq!(query(&bad)["error"], "invalid_request", "{bad}");
}

#[tokio::test]
async fn claims_asked_by_name_are_on_the_consent_page() {
    let (app, _) = setup().await;
    let third = app.rp("wiki").await;
    let b = app.browser();
    b.login("li@cnic.cn", PASSWORD).await;
    let claims = json!({"userinfo": {"email": null}}).to_string();
    let page = b
        .get(&path(
            &app,
            &url_with_scope(&app, &third, "openid", &format!("&claims={}", enc(&claims))),
        ))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.has("action=\"/authorize/consent\""));
    assert!(page.has("电子邮件地址"), "{}", page.body);
    // Positive control: without the claims request the e-mail is not asked.
    let page = b
        .get(&path(&app, &url_with_scope(&app, &third, "openid", "")))
        .await;
    assert!(page.has("action=\"/authorize/consent\""));
    assert!(!page.has("电子邮件地址"));
}

#[tokio::test]
async fn the_address_scope_releases_the_accounts_address() {
    let (app, _) = setup().await;
    let rp = app
        .rp_with("post", |c| {
            c.first_party = true;
            c.scopes = Some("openid profile address offline_access".into());
        })
        .await;
    let li = app.stored("li@cnic.cn").await;
    let api = Api::new(&app, &admin_token(&app).await);
    let address = json!({
        "street_address": "中关村南四街4号",
        "locality": "北京市海淀区",
        "postal_code": "100190",
        "country": "CN"
    });
    let (status, body) = api
        .call(
            "PATCH",
            &format!("/api/v1/users/{}", li.id),
            Some(json!({ "version": li.version, "address": {"street": "x"} })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "address");
    let (status, body) = api
        .call(
            "PATCH",
            &format!("/api/v1/users/{}", li.id),
            Some(json!({ "version": li.version, "address": address })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["address"], address);

    let b = app.browser();
    b.login("li@cnic.cn", PASSWORD).await;
    let back = answer(&app, &b, &url_with_scope(&app, &rp, "openid address", "")).await;
    let (id, tokens) = id_token_claims(&app, &rp, &code_of(&back)).await;
    assert_eq!(id["address"], address);
    let info = userinfo(&app, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(info["address"]["locality"], "北京市海淀区");
    // Without the scope, no address.
    let back = answer(&app, &b, &url_with_scope(&app, &rp, "openid profile", "")).await;
    let (id, _) = id_token_claims(&app, &rp, &code_of(&back)).await;
    assert!(id.get("address").is_none());
    // An account without an address gets none, with the scope.
    let w = app.browser();
    w.login("wang@cnic.cn", PASSWORD).await;
    let back = answer(&app, &w, &url_with_scope(&app, &rp, "openid address", "")).await;
    let (id, _) = id_token_claims(&app, &rp, &code_of(&back)).await;
    assert!(id.get("address").is_none(), "{id}");
    // The address scope is in discovery.
    let d: Value = reqwest::get(format!("{}/.well-known/openid-configuration", app.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        d["scopes_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("address"))
    );
}

/// `/introspect` answers 200 to an authenticated client, 401 otherwise.
async fn introspect(
    app: &TestApp,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> StatusCode {
    let mut req = reqwest::Client::new().post(format!("{}/introspect", app.base));
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    let mut all = vec![("token", "x")];
    all.extend_from_slice(form);
    req.form(&all).send().await.unwrap().status()
}

#[tokio::test]
async fn a_secret_may_be_sent_either_way_and_keys_must_be_used() {
    let app = TestApp::spawn().await;
    let basic = app.rp("basic").await;
    let post = app
        .rp_with("post", |c| {
            c.token_auth_method = Some("client_secret_post".into())
        })
        .await;
    for rp in [&basic, &post] {
        let secret = rp.secret.as_deref().unwrap();
        assert_eq!(
            introspect(&app, Some((&rp.id, secret)), &[]).await,
            StatusCode::OK
        );
        assert_eq!(
            introspect(
                &app,
                None,
                &[("client_id", &rp.id), ("client_secret", secret)]
            )
            .await,
            StatusCode::OK,
            "{}",
            rp.id
        );
        // A wrong secret either way is refused.
        assert_eq!(
            introspect(&app, Some((&rp.id, "wrong-secret")), &[]).await,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            introspect(
                &app,
                None,
                &[("client_id", &rp.id), ("client_secret", "wrong")]
            )
            .await,
            StatusCode::UNAUTHORIZED
        );
        // No secret at all (method none) is not a secret method.
        assert_eq!(
            introspect(&app, None, &[("client_id", &rp.id)]).await,
            StatusCode::UNAUTHORIZED
        );
    }
    // A private_key_jwt client cannot fall back to a secret.
    let (key, _) =
        tongxing::crypto::jws::SigningKey::generate(tongxing::crypto::jws::Alg::ES256, "k1".into())
            .unwrap();
    let jwt = app
        .rp_with("jwt", |c| {
            c.token_auth_method = Some("private_key_jwt".into());
            c.jwks = Some(json!({ "keys": [key.public_jwk()] }).to_string());
        })
        .await;
    assert_eq!(
        introspect(
            &app,
            Some((&jwt.id, "a-secret-it-never-had-0123456789abcdef")),
            &[]
        )
        .await,
        StatusCode::UNAUTHORIZED
    );
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let assertion = key
        .sign(
            "JWT",
            &json!({ "iss": jwt.id, "sub": jwt.id, "aud": format!("{}/token", app.base),
                     "jti": "j1", "iat": now, "exp": now + 60 }),
        )
        .unwrap();
    assert_eq!(
        introspect(
            &app,
            None,
            &[
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
                ),
                ("client_assertion", &assertion),
            ],
        )
        .await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn discovery_lists_exactly_what_is_supported() {
    let app = TestApp::spawn().await;
    let d: Value = reqwest::get(format!("{}/.well-known/openid-configuration", app.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(d["claims_parameter_supported"], true);
    assert_eq!(d["acr_values_supported"], json!([ACR_PWD, ACR_SMS]));
    // Request objects (RFC 9101) by value and by a request URI from the
    // PAR endpoint (RFC 9126); no others are fetched.
    assert_eq!(d["request_parameter_supported"], true);
    assert_eq!(d["request_uri_parameter_supported"], true);
    assert_eq!(d["require_request_uri_registration"], true);
    assert_eq!(
        d["request_object_signing_alg_values_supported"],
        json!(["RS256", "ES256", "EdDSA"])
    );
    assert_eq!(
        d["grant_types_supported"],
        json!([
            "authorization_code",
            "refresh_token",
            "client_credentials",
            "urn:ietf:params:oauth:grant-type:device_code"
        ])
    );
    assert_eq!(
        d["scopes_supported"],
        json!([
            "openid",
            "profile",
            "email",
            "phone",
            "address",
            "offline_access"
        ])
    );
    let claims: Vec<&str> = d["claims_supported"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    for c in [
        "sub",
        "acr",
        "auth_time",
        "email",
        "phone_number",
        "address",
        "organization",
    ] {
        assert!(claims.contains(&c), "{c}");
    }
    assert!(!claims.contains(&"nickname"));
    assert_eq!(
        d["token_endpoint_auth_methods_supported"],
        json!([
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt",
            "none"
        ])
    );
    // What is not supported is not claimed.
    // Dynamic registration is off by default (`[registration]`), and then
    // not named.
    assert!(d.get("registration_endpoint").is_none());
    // DPoP (RFC 9449 §5.1): asymmetric algorithms only.
    assert_eq!(
        d["dpop_signing_alg_values_supported"],
        json!(["ES256", "ES384", "EdDSA", "RS256", "PS256"])
    );
    let with_registration = TestApp::spawn_with(|c| c.registration.enabled = true).await;
    let r: Value = reqwest::get(format!(
        "{}/.well-known/openid-configuration",
        with_registration.base
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(
        r["registration_endpoint"],
        format!("{}/register", with_registration.base)
    );
    let mut same = r.clone();
    same.as_object_mut()
        .unwrap()
        .remove("registration_endpoint");
    let mut base = d.clone();
    for doc in [&mut same, &mut base] {
        for (_, v) in doc.as_object_mut().unwrap().iter_mut() {
            if let Some(s) = v.as_str() {
                *v = Value::String(
                    s.replace(&with_registration.base, "")
                        .replace(&app.base, ""),
                );
            }
        }
    }
    assert_eq!(same, base, "registration changes nothing else");
    assert_eq!(
        d["device_authorization_endpoint"],
        format!("{}/device_authorization", app.base)
    );
}
