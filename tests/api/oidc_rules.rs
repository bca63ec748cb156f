//! Every rule of the OIDC endpoints, one negative test each, over raw HTTP.

use reqwest::StatusCode;
use serde_json::Value;
use tongxing::crypto::jws::{Alg, SigningKey};

use crate::helpers::{Browser, PASSWORD, REDIRECT, Rp, SIGN_IN_FIRST, TestApp, query};
use crate::oidc::decode_payload;

pub(crate) const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub(crate) const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

pub(crate) fn authorize_url(app: &TestApp, rp: &Rp, extra: &str) -> String {
    format!(
        "{}/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid%20profile%20offline_access&state=s1&nonce=n1&code_challenge={CHALLENGE}&code_challenge_method=S256{extra}",
        app.base,
        rp.id,
        urlencode(&rp.redirect_uri)
    )
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn setup() -> (TestApp, Rp, Browser) {
    let app = TestApp::spawn().await;
    app.user("li@cnic.cn").await;
    let rp = app.rp_with("mail", |c| c.first_party = true).await;
    let b = app.browser();
    (app, rp, b)
}

async fn code(app: &TestApp, rp: &Rp, b: &Browser) -> String {
    let back = b
        .authorize_as(&authorize_url(app, rp, ""), "li@cnic.cn", PASSWORD, "allow")
        .await;
    query(&back)["code"].clone()
}

pub(crate) async fn token(app: &TestApp, rp: &Rp, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let r = reqwest::Client::new()
        .post(format!("{}/token", app.base))
        .basic_auth(&rp.id, rp.secret.as_deref())
        .form(form)
        .send()
        .await
        .unwrap();
    let status = r.status();
    assert_eq!(r.headers().get("cache-control").unwrap(), "no-store");
    (status, r.json().await.unwrap())
}

pub(crate) async fn redeem(app: &TestApp, rp: &Rp, code: &str) -> (StatusCode, Value) {
    token(
        app,
        rp,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
    )
    .await
}

async fn userinfo(app: &TestApp, access: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("{}/userinfo", app.base))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn unknown_client_or_unregistered_redirect_uri_shows_a_page_not_a_redirect() {
    let (app, rp, b) = setup().await;
    let evil = authorize_url(
        &app,
        &Rp {
            redirect_uri: "https://evil.example/cb".into(),
            ..rp.clone()
        },
        "",
    );
    let page = b.get(evil.strip_prefix(&app.base).unwrap()).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.location().is_none());
    assert!(page.has("redirect_uri is not registered"));
    assert!(page.has("应用发来的登录请求无效"));
    let unknown = authorize_url(
        &app,
        &Rp {
            id: "nope".into(),
            ..rp.clone()
        },
        "",
    );
    let page = b.get(unknown.strip_prefix(&app.base).unwrap()).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.has("unknown client_id"));
    // A repeated client_id cannot be verified: a page too (other repeated
    // parameters go to the verified redirect URI: oidc_exact).
    let dup =
        format!("{}&client_id={}", authorize_url(&app, &rp, ""), rp.id).replacen(&app.base, "", 1);
    let page = b.get(&dup).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.has("more than once"));
    // The positive control: the request as registered goes on to sign-in.
    let page = b
        .get(
            authorize_url(&app, &rp, "")
                .strip_prefix(&app.base)
                .unwrap(),
        )
        .await;
    assert!(
        page.location().is_some_and(|l| l.starts_with("/login?")),
        "{page:?}"
    );
}

#[tokio::test]
async fn request_errors_go_back_to_the_verified_redirect_uri() {
    let (app, rp, b) = setup().await;
    let check = |url: String, error: &'static str| {
        let b = &b;
        let base = app.base.clone();
        async move {
            let page = b.get(url.strip_prefix(&base).unwrap()).await;
            assert_eq!(page.status, StatusCode::SEE_OTHER, "{url}: {}", page.body);
            let q = query(page.location().unwrap());
            assert_eq!(q["error"], error, "{url}");
            assert_eq!(q["state"], "s1");
            assert_eq!(q["iss"], base);
        }
    };
    check(
        authorize_url(&app, &rp, "").replace("response_type=code", "response_type=token"),
        "unsupported_response_type",
    )
    .await;
    check(
        authorize_url(&app, &rp, "")
            .replace("code_challenge_method=S256", "code_challenge_method=plain"),
        "invalid_request",
    )
    .await;
    check(
        authorize_url(&app, &rp, "").replace(
            "scope=openid%20profile%20offline_access",
            "scope=openid%20admin",
        ),
        "invalid_scope",
    )
    .await;
    check(
        authorize_url(&app, &rp, "").replace(
            "scope=openid%20profile%20offline_access",
            "scope=openid%20unknown",
        ),
        "invalid_scope",
    )
    .await;
    check(
        authorize_url(&app, &rp, "&prompt=none%20login"),
        "invalid_request",
    )
    .await;
    check(authorize_url(&app, &rp, "&max_age=-1"), "invalid_request").await;
    check(
        authorize_url(&app, &rp, "&request=eyJ"),
        "invalid_request_object",
    )
    .await;
    check(
        authorize_url(&app, &rp, "&response_mode=fragment"),
        "invalid_request",
    )
    .await;
    // prompt=none without a session.
    check(authorize_url(&app, &rp, "&prompt=none"), "login_required").await;
}

#[tokio::test]
async fn public_clients_must_use_pkce() {
    let app = TestApp::spawn().await;
    let rp = app.rp_with("spa", |c| c.public = true).await;
    let url = authorize_url(&app, &rp, "").replace(
        &format!("&code_challenge={CHALLENGE}&code_challenge_method=S256"),
        "",
    );
    let page = app
        .browser()
        .get(url.strip_prefix(&app.base).unwrap())
        .await;
    let q = query(page.location().unwrap());
    assert_eq!(q["error"], "invalid_request");
    assert!(q["error_description"].contains("PKCE"));
    // The positive control: with PKCE the same client goes on to sign-in.
    let page = app
        .browser()
        .get(
            authorize_url(&app, &rp, "")
                .strip_prefix(&app.base)
                .unwrap(),
        )
        .await;
    assert!(
        page.location().is_some_and(|l| l.starts_with("/login?")),
        "{page:?}"
    );
}

#[tokio::test]
async fn a_reused_code_fails_and_revokes_what_it_issued() {
    let (app, rp, b) = setup().await;
    let code = code(&app, &rp, &b).await;
    let (status, first) = redeem(&app, &rp, &code).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let access = first["access_token"].as_str().unwrap().to_string();
    assert_eq!(userinfo(&app, &access).await.status(), StatusCode::OK);
    let (status, second) = redeem(&app, &rp, &code).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(second["error"], "invalid_grant");
    let r = userinfo(&app, &access).await;
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "the first access token is revoked"
    );
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    let (status, _) = token(
        &app,
        &rp,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", first["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "and its refresh token");
    assert_eq!(app.audit("token.code_replayed").await.len(), 1);
}

#[tokio::test]
async fn pkce_mismatch_and_wrong_redirect_uri_are_invalid_grant() {
    let (app, rp, b) = setup().await;
    let c = code(&app, &rp, &b).await;
    let (status, body) = token(
        &app,
        &rp,
        &[
            ("grant_type", "authorization_code"),
            ("code", &c),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &"x".repeat(43)),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    // The code is spent after a failed attempt.
    let (status, _) = redeem(&app, &rp, &c).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // The positive control: a code redeemed with the right verifier and
    // redirect_uri works.
    let (status, body) = redeem(&app, &rp, &code(&app, &rp, &b).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let c = code(&app, &rp, &b).await;
    let (status, body) = token(
        &app,
        &rp,
        &[
            ("grant_type", "authorization_code"),
            ("code", &c),
            ("redirect_uri", "https://rp.example.org/other"),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn expired_codes_are_refused() {
    let (app, rp, b) = setup().await;
    let ttl = std::time::Duration::from_secs(app.config.oidc.code_ttl_secs);
    // Control: shortly before its end a code is still good.
    let c = code(&app, &rp, &b).await;
    app.advance(ttl - std::time::Duration::from_secs(15));
    assert_eq!(redeem(&app, &rp, &c).await.0, StatusCode::OK);
    let c = code(&app, &rp, &b).await;
    app.advance(ttl + std::time::Duration::from_secs(1));
    let (status, body) = redeem(&app, &rp, &c).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test]
async fn refresh_tokens_expire() {
    let (app, rp, b) = setup().await;
    let ttl = std::time::Duration::from_secs(app.config.oidc.refresh_token_ttl_days * 86_400);
    let refresh = |r: String| {
        let (app, rp) = (&app, &rp);
        async move {
            token(
                app,
                rp,
                &[("grant_type", "refresh_token"), ("refresh_token", &r)],
            )
            .await
        }
    };
    let c = code(&app, &rp, &b).await;
    let (_, first) = redeem(&app, &rp, &c).await;
    // Control: an hour before its end a refresh token still works (and
    // its successor gets a full lifetime from now).
    app.advance(ttl - std::time::Duration::from_secs(3600));
    let (status, second) = refresh(first["refresh_token"].as_str().unwrap().into()).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    app.advance(ttl + std::time::Duration::from_secs(1));
    let (status, body) = refresh(second["refresh_token"].as_str().unwrap().into()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn refresh_token_reuse_revokes_the_family() {
    let (app, rp, b) = setup().await;
    let c = code(&app, &rp, &b).await;
    let (_, first) = redeem(&app, &rp, &c).await;
    let r1 = first["refresh_token"].as_str().unwrap().to_string();
    let (status, second) = token(
        &app,
        &rp,
        &[("grant_type", "refresh_token"), ("refresh_token", &r1)],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let r2 = second["refresh_token"].as_str().unwrap().to_string();
    let access2 = second["access_token"].as_str().unwrap().to_string();
    // r1 again: replay. The whole family dies, r2 and the access tokens too.
    let (status, body) = token(
        &app,
        &rp,
        &[("grant_type", "refresh_token"), ("refresh_token", &r1)],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (status, _) = token(
        &app,
        &rp,
        &[("grant_type", "refresh_token"), ("refresh_token", &r2)],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        userinfo(&app, &access2).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.audit("token.refresh_replayed").await.len(), 1);
    // Scope can be narrowed on refresh but not widened.
    let c = code(&app, &rp, &b).await;
    let (_, fresh) = redeem(&app, &rp, &c).await;
    let (status, narrowed) = token(
        &app,
        &rp,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", fresh["refresh_token"].as_str().unwrap()),
            ("scope", "openid"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{narrowed}");
    assert_eq!(narrowed["scope"], "openid");
    let rt = narrowed["refresh_token"].as_str().unwrap();
    let (status, body) = token(
        &app,
        &rp,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt),
            ("scope", "openid email"),
        ],
    )
    .await;
    // RFC 6749 §5.2: wider than granted is invalid_scope (oidc_exact).
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_scope"))
    );
}

#[tokio::test]
async fn client_authentication_rules() {
    let (app, rp, b) = setup().await;
    let c = code(&app, &rp, &b).await;
    let wrong = Rp {
        secret: Some("not-the-secret".into()),
        ..rp.clone()
    };
    let r = reqwest::Client::new()
        .post(format!("{}/token", app.base))
        .basic_auth(&wrong.id, wrong.secret.as_deref())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &c),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_client");
    // The positive control: the same request with the right secret.
    let (status, body) = redeem(&app, &rp, &c).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Registered for basic, tried without its secret (method none).
    let r = reqwest::Client::new()
        .post(format!("{}/token", app.base))
        .form(&[("grant_type", "client_credentials"), ("client_id", &rp.id)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // Not a form body.
    let r = reqwest::Client::new()
        .post(format!("{}/token", app.base))
        .json(&serde_json::json!({"grant_type": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_request");
    let (status, body) = token(&app, &rp, &[("grant_type", "password")]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unsupported_grant_type"))
    );
    let (status, body) = token(
        &app,
        &rp,
        &[
            ("grant_type", "client_credentials"),
            ("grant_type", "client_credentials"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
}

#[tokio::test]
async fn client_credentials_for_confidential_clients() {
    let (app, _, _) = setup().await;
    let svc = app
        .rp_with("svc", |c| c.scopes = Some("profile admin".into()))
        .await;
    let (status, body) = token(
        &app,
        &svc,
        &[("grant_type", "client_credentials"), ("scope", "admin")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("refresh_token").is_none() && body.get("id_token").is_none());
    let claims = decode_payload(body["access_token"].as_str().unwrap());
    assert_eq!(claims["sub"], "svc");
    assert_eq!(claims["scope"], "admin");
    let (status, body) = token(
        &app,
        &svc,
        &[("grant_type", "client_credentials"), ("scope", "email")],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_scope"))
    );
    let (status, body) = token(
        &app,
        &svc,
        &[("grant_type", "client_credentials"), ("scope", "openid")],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_scope"))
    );
    // A client token is not a user token: userinfo refuses it.
    let (_, body) = token(
        &app,
        &svc,
        &[("grant_type", "client_credentials"), ("scope", "profile")],
    )
    .await;
    assert_eq!(
        userinfo(&app, body["access_token"].as_str().unwrap())
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
}

fn assertion(key: &SigningKey, client: &str, aud: &str, jti: &str) -> String {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    key.sign("JWT", &serde_json::json!({ "iss": client, "sub": client, "aud": aud, "jti": jti, "iat": now, "exp": now + 60 })).unwrap()
}

#[tokio::test]
async fn private_key_jwt_and_replayed_jti() {
    let app = TestApp::spawn().await;
    let (key, _) = SigningKey::generate(Alg::ES256, "client-key-1".into()).unwrap();
    let jwks = serde_json::json!({ "keys": [key.public_jwk()] }).to_string();
    let rp = app
        .rp_with("jwt-client", |c| {
            c.token_auth_method = Some("private_key_jwt".into());
            c.jwks = Some(jwks);
            c.scopes = Some("profile".into());
        })
        .await;
    assert!(rp.secret.is_none());
    let aud = format!("{}/token", app.base);
    let a = assertion(&key, &rp.id, &aud, "jti-1");
    let send = |a: String| {
        let url = aud.clone();
        async move {
            reqwest::Client::new()
                .post(url)
                .form(&[
                    ("grant_type", "client_credentials"),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ),
                    ("client_assertion", a.as_str()),
                    ("scope", "profile"),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(send(a.clone()).await.status(), StatusCode::OK);
    let replay = send(a).await;
    assert_eq!(replay.status(), StatusCode::UNAUTHORIZED);
    assert!(
        replay.json::<Value>().await.unwrap()["error_description"]
            .as_str()
            .unwrap()
            .contains("jti")
    );
    // Wrong audience, and a key the client did not register.
    assert_eq!(
        send(assertion(
            &key,
            &rp.id,
            "https://other.example/token",
            "jti-2"
        ))
        .await
        .status(),
        StatusCode::UNAUTHORIZED
    );
    let (other, _) = SigningKey::generate(Alg::ES256, "client-key-1".into()).unwrap();
    assert_eq!(
        send(assertion(&other, &rp.id, &aud, "jti-3"))
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn client_assertions_expire_by_the_servers_clock() {
    let app = TestApp::spawn().await;
    let (key, _) = SigningKey::generate(Alg::ES256, "client-key-1".into()).unwrap();
    let jwks = serde_json::json!({ "keys": [key.public_jwk()] }).to_string();
    let rp = app
        .rp_with("jwt-client", |c| {
            c.token_auth_method = Some("private_key_jwt".into());
            c.jwks = Some(jwks);
            c.scopes = Some("profile".into());
        })
        .await;
    let aud = format!("{}/token", app.base);
    let send = |a: String| {
        let url = aud.clone();
        async move {
            reqwest::Client::new()
                .post(url)
                .form(&[
                    ("grant_type", "client_credentials"),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ),
                    ("client_assertion", a.as_str()),
                    ("scope", "profile"),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    // Valid for 60 s by the client's (real) clock, with 30 s of leeway.
    let control = send(assertion(&key, &rp.id, &aud, "jti-1")).await;
    assert_eq!(control.status(), StatusCode::OK);
    app.advance(std::time::Duration::from_secs(120));
    let late = send(assertion(&key, &rp.id, &aud, "jti-2")).await;
    assert_eq!(late.status(), StatusCode::UNAUTHORIZED);
    let body: Value = late.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("ExpiredSignature"),
        "{body}"
    );
}

#[tokio::test]
async fn rotated_keys_still_verify_during_the_grace_period() {
    let app = TestApp::spawn_with(|c| {
        c.oidc.key_refresh_secs = 0;
        c.oidc.key_activation_secs = 0;
    })
    .await;
    app.user("li@cnic.cn").await;
    let rp = app.rp_with("mail", |c| c.first_party = true).await;
    let b = app.browser();
    let c = code(&app, &rp, &b).await;
    let (_, before) = redeem(&app, &rp, &c).await;
    let old_access = before["access_token"].as_str().unwrap().to_string();
    let old_kid = crate::oidc::decode_header(before["id_token"].as_str().unwrap())["kid"]
        .as_str()
        .unwrap()
        .to_string();
    // The served set is made once and kept: fetched now, it must still
    // change with the rotation below.
    let primed = b.get("/jwks").await.body;
    assert!(primed.contains(&old_kid), "{primed}");

    let out = app
        .cli_env(
            &["keys", "rotate", "--json"],
            None,
            &[("TONGXING_OIDC__KEY_ACTIVATION_SECS", "0")],
        )
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    let kids: Vec<String> = serde_json::from_value(out.json()["kids"].clone()).unwrap();
    assert_eq!(kids.len(), 3);

    // The running node picks the rotation up without a restart.
    let jwks: Value = serde_json::from_str(&b.get("/jwks").await.body).unwrap();
    let published: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert!(
        published.contains(&old_kid.as_str()),
        "retired key still published"
    );
    for kid in &kids {
        assert!(published.contains(&kid.as_str()));
    }
    assert_eq!(
        userinfo(&app, &old_access).await.status(),
        StatusCode::OK,
        "old tokens still verify"
    );
    let c = code(&app, &rp, &b).await;
    let (_, after) = redeem(&app, &rp, &c).await;
    let new_kid = crate::oidc::decode_header(after["id_token"].as_str().unwrap())["kid"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(kids.contains(&new_kid), "new tokens use the new key");
    let list = app.cli(&["keys", "list", "--json"], None).await.json();
    let statuses: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses.iter().filter(|s| **s == "current").count(), 3);
    assert!(statuses.contains(&"retired (published)"));
}

#[tokio::test]
async fn userinfo_errors_follow_rfc_6750() {
    let app = TestApp::spawn().await;
    let r = reqwest::Client::new()
        .get(format!("{}/userinfo", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers()["www-authenticate"], "Bearer realm=\"tongxing\"");
    let r = userinfo(&app, "not.a.token").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("error=\"invalid_token\"")
    );
}

#[tokio::test]
async fn consent_is_remembered_and_can_be_withdrawn() {
    let app = TestApp::spawn().await;
    app.user("li@cnic.cn").await;
    let rp = app.rp("wiki").await;
    let b = app.browser();
    let url = authorize_url(&app, &rp, "");
    // Deny first: access_denied back to the app.
    let back = b.authorize_as(&url, "li@cnic.cn", PASSWORD, "deny").await;
    assert_eq!(query(&back)["error"], "access_denied");
    let back = b.authorize_as(&url, "li@cnic.cn", PASSWORD, "allow").await;
    assert!(query(&back).contains_key("code"));
    // Remembered: straight back with a code, even with prompt=none.
    let page = b
        .get(&format!("{}&prompt=none", url).replacen(&app.base, "", 1))
        .await;
    assert!(query(page.location().unwrap()).contains_key("code"));
    let (_, tokens) = redeem(&app, &rp, &query(&back)["code"]).await;
    let apps = b.get("/account/apps").await;
    assert!(apps.has("App wiki"));
    b.submit_page(&apps, "/account/apps/revoke", &[]).await;
    assert!(b.get("/account/apps").await.has("尚未授权任何应用"));
    let page = b
        .get(&format!("{}&prompt=none", url).replacen(&app.base, "", 1))
        .await;
    assert_eq!(query(page.location().unwrap())["error"], "consent_required");
    let (status, _) = token(
        &app,
        &rp,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "withdrawing consent revokes the grant"
    );
}

#[tokio::test]
async fn prompt_login_and_max_age_force_a_fresh_login() {
    let (app, rp, b) = setup().await;
    b.login("li@cnic.cn", PASSWORD).await;
    let page = b
        .get(&authorize_url(&app, &rp, "&prompt=login").replacen(&app.base, "", 1))
        .await;
    let login = page.location().unwrap().to_string();
    assert!(login.starts_with("/login?"), "{login}");
    let form = b.get(&login).await;
    assert!(
        form.has("action=\"/login\""),
        "the form is shown although signed in"
    );
    let back = b
        .submit_page(
            &form,
            "/login",
            &[("identifier", "li@cnic.cn"), ("password", PASSWORD)],
        )
        .await;
    let next = b.get(back.location().unwrap()).await;
    assert!(
        query(next.location().unwrap()).contains_key("code"),
        "no loop back to the login page"
    );
    // A recent enough login satisfies max_age without asking again.
    let page = b
        .get(&authorize_url(&app, &rp, "&max_age=3600&prompt=none").replacen(&app.base, "", 1))
        .await;
    assert!(query(page.location().unwrap()).contains_key("code"));
    // login_hint and ui_locales reach the login page.
    let fresh = app.browser();
    let page = fresh
        .get(
            &authorize_url(&app, &rp, "&login_hint=li%40cnic.cn&ui_locales=en")
                .replacen(&app.base, "", 1),
        )
        .await;
    let form = fresh.get(page.location().unwrap()).await;
    assert!(form.has("value=\"li@cnic.cn\""));
    assert!(form.has("Sign in to your passport"));
}

#[tokio::test]
async fn logout_without_a_valid_hint_asks_first() {
    let (_app, rp, b) = setup().await;
    b.login("li@cnic.cn", PASSWORD).await;
    let page = b.get(&format!("/logout?client_id={}&post_logout_redirect_uri=https%3A%2F%2Frp.example.org%2Fbye&state=z", rp.id)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.has("确定要退出通行证吗"));
    let done = b.submit_page(&page, "/logout", &[]).await;
    assert_eq!(done.location(), Some("https://rp.example.org/bye?state=z"));
    assert_eq!(b.get("/account").await.redirect(), SIGN_IN_FIRST);
    // An unregistered post_logout_redirect_uri is never followed.
    let page = b
        .get(&format!(
            "/logout?client_id={}&post_logout_redirect_uri=https%3A%2F%2Fevil.example%2F",
            rp.id
        ))
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.location().is_none());
}

#[tokio::test]
async fn authorize_by_post_and_refresh_only_with_offline_access() {
    let app = TestApp::spawn().await;
    app.user("li@cnic.cn").await;
    let rp = app.rp("wiki").await; // not first-party
    let b = app.browser();
    b.login("li@cnic.cn", PASSWORD).await;
    // OIDC Core §3.1.2.1: the request may come as a form POST.
    let page = b
        .post_form(
            "/authorize",
            &[
                ("response_type", "code"),
                ("client_id", &rp.id),
                ("redirect_uri", REDIRECT),
                ("scope", "openid profile"),
                ("state", "p1"),
                ("code_challenge", CHALLENGE),
                ("code_challenge_method", "S256"),
            ],
        )
        .await;
    // Answered with a 303 to the GET form, so the session cookie (SameSite=Lax)
    // comes along even when the form was posted from the application's site.
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let page = b.get(page.location().unwrap()).await;
    assert_eq!(page.status, StatusCode::OK, "consent page: {}", page.body);
    let done = b
        .submit_page(&page, "/authorize/consent", &[("decision", "allow")])
        .await;
    let q = query(done.location().unwrap());
    assert_eq!(q["state"], "p1");
    let (status, body) = redeem(&app, &rp, &q["code"]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.get("refresh_token").is_none(),
        "no offline_access, no refresh token for a third-party client"
    );
    assert!(body.get("id_token").is_some());
}

#[tokio::test]
async fn protocol_endpoints_allow_browser_clients() {
    let app = TestApp::spawn().await;
    let r = reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, format!("{}/token", app.base))
        .header("origin", "https://spa.example.org")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    let jwks = reqwest::Client::new()
        .get(format!("{}/jwks", app.base))
        .header("origin", "https://spa.example.org")
        .send()
        .await
        .unwrap();
    assert_eq!(jwks.headers()["access-control-allow-origin"], "*");
}

#[tokio::test]
async fn a_new_key_is_published_before_it_signs() {
    let app = TestApp::spawn_with(|c| c.oidc.key_refresh_secs = 0).await;
    app.user("li@cnic.cn").await;
    let rp = app.rp_with("mail", |c| c.first_party = true).await;
    let b = app.browser();
    let c = code(&app, &rp, &b).await;
    let (_, before) = redeem(&app, &rp, &c).await;
    let old_kid = crate::oidc::decode_header(before["id_token"].as_str().unwrap())["kid"].clone();
    let out = app
        .cli(&["keys", "rotate", "--alg", "RS256", "--json"], None)
        .await;
    let new_kid = out.json()["kids"][0].clone();
    let jwks: Value = serde_json::from_str(&b.get("/jwks").await.body).unwrap();
    assert!(
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["kid"] == new_kid),
        "published at once"
    );
    let c = code(&app, &rp, &b).await;
    let (_, after) = redeem(&app, &rp, &c).await;
    assert_eq!(
        crate::oidc::decode_header(after["id_token"].as_str().unwrap())["kid"],
        old_kid,
        "signing waits for the activation delay"
    );
    let list = app.cli(&["keys", "list", "--json"], None).await.json();
    let status = |kid: &Value| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|k| &k["kid"] == kid)
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(status(&new_kid), "next");
    assert_eq!(status(&old_kid), "retiring");
}

#[tokio::test]
async fn the_login_a_request_demands_cannot_be_skipped() {
    let (app, rp, b) = setup().await;
    b.login("li@cnic.cn", PASSWORD).await;
    let page = b
        .get(&authorize_url(&app, &rp, "&prompt=login").replacen(&app.base, "", 1))
        .await;
    let login = page.location().unwrap().to_string();
    // Instead of logging in, open the URL the login page would return to.
    let return_to = query(&format!("http://x{login}"))["return_to"].clone();
    assert!(!return_to.contains("prompt=login"));
    let skipped = b.get(&return_to).await;
    assert!(
        skipped.location().unwrap().starts_with("/login?"),
        "still owes a login: {:?}",
        skipped.location()
    );
    // Logging in settles it.
    let form = b.get(&login).await;
    let back = b
        .submit_page(
            &form,
            "/login",
            &[("identifier", "li@cnic.cn"), ("password", PASSWORD)],
        )
        .await;
    let done = b.get(back.location().unwrap()).await;
    assert!(query(done.location().unwrap()).contains_key("code"));
}

#[tokio::test]
async fn prompt_consent_select_account_and_acr_values() {
    let app = TestApp::spawn().await;
    app.user("li@cnic.cn").await;
    let rp = app.rp("wiki").await;
    let b = app.browser();
    let url = authorize_url(&app, &rp, "&acr_values=urn%3Atongxing%3Aacr%3Apassword");
    b.authorize_as(&url, "li@cnic.cn", PASSWORD, "allow").await;
    let issued = app.audit("authorize.code_issued").await;
    assert!(
        issued[0]
            .detail
            .contains("\"acr_values\":\"urn:tongxing:acr:password\""),
        "requested acr_values are recorded: {}",
        issued[0].detail
    );
    // Consent is remembered, but prompt=consent asks again.
    let page = b
        .get(&authorize_url(&app, &rp, "&prompt=consent").replacen(&app.base, "", 1))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.has("/authorize/consent"));
    // select_account shows the login form although signed in.
    let page = b
        .get(&authorize_url(&app, &rp, "&prompt=select_account").replacen(&app.base, "", 1))
        .await;
    assert!(page.location().unwrap().starts_with("/login?"));
    // ui_locales also picks the consent page's language.
    let page = b
        .get(&authorize_url(&app, &rp, "&prompt=consent&ui_locales=en").replacen(&app.base, "", 1))
        .await;
    assert!(page.has("Authorize access"));
}

#[tokio::test]
async fn oversized_parameters_are_refused() {
    let (app, rp, b) = setup().await;
    let long = "x".repeat(5000);
    let page = b
        .get(&authorize_url(&app, &rp, &format!("&nonce={long}")).replacen(&app.base, "", 1))
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.location().is_none());
    let (status, body) = token(
        &app,
        &rp,
        &[("grant_type", "authorization_code"), ("code", &long)],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
}

#[tokio::test]
async fn an_application_can_post_its_logout_request() {
    let (app, rp, b) = setup().await;
    let c = code(&app, &rp, &b).await;
    let (_, tokens) = redeem(&app, &rp, &c).await;
    // The application's page posts the form; the browser arrives without
    // our cookie (SameSite=Lax) and is sent on to the GET form.
    let cookieless = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let posted = cookieless
        .post(format!("{}/logout", app.base))
        .form(&[
            ("id_token_hint", tokens["id_token"].as_str().unwrap()),
            ("post_logout_redirect_uri", "https://rp.example.org/bye"),
            ("state", "st"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), StatusCode::SEE_OTHER);
    let next = posted.headers()["location"].to_str().unwrap().to_string();
    let done = b.get(&next).await;
    assert_eq!(done.location(), Some("https://rp.example.org/bye?state=st"));
    assert_eq!(
        b.get("/account").await.redirect(),
        SIGN_IN_FIRST,
        "signed out"
    );
}

#[tokio::test]
async fn tokens_of_other_clients_are_not_theirs_to_see_or_revoke() {
    let (app, rp, b) = setup().await;
    let other = app.rp("other").await;
    let c = code(&app, &rp, &b).await;
    let (_, tokens) = redeem(&app, &rp, &c).await;
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let call = |who: &Rp, path: &'static str, token: String| {
        let (base, who) = (app.base.clone(), who.clone());
        async move {
            reqwest::Client::new()
                .post(format!("{base}{path}"))
                .basic_auth(&who.id, who.secret.as_deref())
                .form(&[("token", token.as_str())])
                .send()
                .await
                .unwrap()
        }
    };
    for t in [access, refresh] {
        let intro: Value = call(&other, "/introspect", t.to_string())
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(intro["active"], false);
        assert_eq!(
            call(&other, "/revoke", t.to_string()).await.status(),
            StatusCode::OK
        );
    }
    assert_eq!(
        userinfo(&app, access).await.status(),
        StatusCode::OK,
        "another client's revoke did nothing"
    );
    let intro: Value = call(&rp, "/introspect", refresh.to_string())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(intro["active"], true);
    assert_eq!(intro["username"], "li@cnic.cn");
    // The owner revokes the access token: inactive at once.
    assert_eq!(
        call(&rp, "/revoke", access.to_string()).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        userinfo(&app, access).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let intro: Value = call(&rp, "/introspect", access.to_string())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(intro["active"], false);
}

#[tokio::test]
async fn expired_access_tokens_are_inactive() {
    let (app, rp, b) = setup().await;
    let ttl = std::time::Duration::from_secs(app.config.oidc.access_token_ttl_secs);
    let c = code(&app, &rp, &b).await;
    let (_, tokens) = redeem(&app, &rp, &c).await;
    let access = tokens["access_token"].as_str().unwrap();
    let introspect = || async {
        let intro: Value = reqwest::Client::new()
            .post(format!("{}/introspect", app.base))
            .basic_auth(&rp.id, rp.secret.as_deref())
            .form(&[("token", access)])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        intro["active"].clone()
    };
    // Control: shortly before its end the token still works.
    app.advance(ttl - std::time::Duration::from_secs(15));
    assert_eq!(userinfo(&app, access).await.status(), StatusCode::OK);
    assert_eq!(introspect().await, true);
    app.advance(std::time::Duration::from_secs(16));
    assert_eq!(
        userinfo(&app, access).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(introspect().await, false);
}

#[tokio::test]
async fn private_key_jwt_with_a_jwks_uri_is_fetched_once() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let app = TestApp::spawn().await;
    let (key, _) = SigningKey::generate(Alg::RS256, "rp-key".into()).unwrap();
    let body = serde_json::json!({ "keys": [key.public_jwk()] }).to_string();
    let fetches = Arc::new(AtomicUsize::new(0));
    let counter = fetches.clone();
    let server = axum::Router::new().route(
        "/jwks",
        axum::routing::get(move || {
            let body = body.clone();
            counter.fetch_add(1, Ordering::SeqCst);
            async move { body }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let jwks_uri = format!("http://{}/jwks", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, server).await });
    let rp = app
        .rp_with("remote-keys", |c| {
            c.token_auth_method = Some("private_key_jwt".into());
            c.jwks_uri = Some(jwks_uri);
            c.scopes = Some("profile".into());
        })
        .await;
    let aud = format!("{}/token", app.base);
    for jti in ["a", "b", "c"] {
        let r = reqwest::Client::new()
            .post(&aud)
            .form(&[
                ("grant_type", "client_credentials"),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                (
                    "client_assertion",
                    assertion(&key, &rp.id, &aud, jti).as_str(),
                ),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    assert_eq!(fetches.load(Ordering::SeqCst), 1, "the key set is cached");
}

#[tokio::test]
async fn a_forced_password_change_comes_before_any_code() {
    let (app, rp, b) = setup().await;
    b.login("li@cnic.cn", PASSWORD).await;
    let user = app
        .state
        .store
        .user_by_username("li@cnic.cn")
        .await
        .unwrap()
        .unwrap();
    tongxing::service::accounts::force_password_change(
        &app.state,
        &user,
        &tongxing::service::Actor::System,
        &Default::default(),
    )
    .await
    .unwrap();
    let page = b
        .get(&authorize_url(&app, &rp, "&prompt=none").replacen(&app.base, "", 1))
        .await;
    assert_eq!(
        query(page.location().unwrap())["error"],
        "interaction_required"
    );
    let page = b
        .get(&authorize_url(&app, &rp, "").replacen(&app.base, "", 1))
        .await;
    assert!(
        page.location()
            .unwrap()
            .starts_with("/account/password?return_to=%2Fauthorize")
    );
}
