//! Dynamic client registration (RFC 7591) and its management protocol
//! (RFC 7592), through the real server with raw HTTP requests: initial
//! access tokens from the management API and the CLI, the policy's
//! refusals with their RFC codes, the registration access token, and a
//! registered client completing the authorization code flow.

use std::time::Duration;

use openidconnect::core::CoreJwsSigningAlgorithm;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tongxing::config::Config;
use tongxing::crypto::jws::{Alg, SigningKey};

use crate::admin_api::{Api, admin_token};
use crate::helpers::{REDIRECT, Rp, TestApp};

/// Registration on, without the hourly cap (the cap has its own test).
fn enabled(c: &mut Config) {
    c.registration.enabled = true;
    c.registration.address_hourly_limit = 0;
}

/// An initial access token issued through the management API.
async fn issue(app: &TestApp, api: &Api<'_>, uses: u32, hours: u32) -> (String, Value) {
    let (status, body) = api
        .post(
            "/api/v1/registration-tokens",
            json!({ "uses": uses, "expires_in_hours": hours, "description": "test" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let _ = app;
    (
        body["initial_access_token"].as_str().unwrap().to_string(),
        body["token"].clone(),
    )
}

/// The answer to `method url` with an optional bearer token and JSON body.
async fn call(
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> (StatusCode, Value, reqwest::header::HeaderMap) {
    let mut req = reqwest::Client::new().request(method.parse().unwrap(), url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(b);
    }
    let r = req.send().await.unwrap();
    let (status, headers) = (r.status(), r.headers().clone());
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::Null),
        headers,
    )
}

async fn register(app: &TestApp, token: Option<&str>, meta: &Value) -> (StatusCode, Value) {
    let (status, body, headers) =
        call("POST", &format!("{}/register", app.base), token, Some(meta)).await;
    if status.is_success() || status == StatusCode::BAD_REQUEST {
        assert_eq!(
            headers.get("cache-control").unwrap(),
            "no-store",
            "{status} {body}"
        );
    }
    (status, body)
}

/// A refusal of the token: 401 with the Bearer challenge (RFC 6750 §3.1).
async fn assert_token_refused(app: &TestApp, token: Option<&str>, meta: &Value) {
    let (status, body, headers) =
        call("POST", &format!("{}/register", app.base), token, Some(meta)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"], "invalid_token");
    let challenge = headers.get("www-authenticate").unwrap().to_str().unwrap();
    assert!(
        challenge.starts_with("Bearer") && challenge.contains("error=\"invalid_token\""),
        "{challenge}"
    );
}

fn web_app() -> Value {
    json!({
        "client_name": "Registered wiki",
        "redirect_uris": [REDIRECT],
        "post_logout_redirect_uris": ["https://rp.example.org/bye"],
        "grant_types": ["authorization_code", "refresh_token"],
        "scope": "openid profile email phone offline_access",
    })
}

/// Whether `secret` authenticates `id` at the token endpoint: a bogus
/// code is `invalid_grant` for an authenticated client, `invalid_client`
/// otherwise.
async fn secret_works(app: &TestApp, id: &str, secret: &str) -> bool {
    let (status, body) = token_call(
        app,
        Some((id, secret)),
        &[
            ("grant_type", "authorization_code"),
            ("code", "bogus"),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    match body["error"].as_str() {
        Some("invalid_grant") => true,
        Some("invalid_client") => false,
        _ => panic!("{status} {body}"),
    }
}

async fn token_call(
    app: &TestApp,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> (StatusCode, Value) {
    let mut req = reqwest::Client::new().post(format!("{}/token", app.base));
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    let r = req.form(form).send().await.unwrap();
    (r.status(), r.json().await.unwrap())
}

#[tokio::test]
async fn registration_is_off_by_default_and_discovery_says_so() {
    let off = TestApp::spawn().await;
    let d: Value = reqwest::get(format!("{}/.well-known/openid-configuration", off.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(d.get("registration_endpoint").is_none());
    let (status, _) = register(&off, None, &web_app()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Positive control: switched on, the endpoint is published and answers.
    let on = TestApp::spawn_with(enabled).await;
    let d: Value = reqwest::get(format!("{}/.well-known/openid-configuration", on.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(d["registration_endpoint"], format!("{}/register", on.base));
    assert_token_refused(&on, None, &web_app()).await;
}

#[tokio::test]
async fn a_registered_client_may_require_dpop() {
    let app = TestApp::spawn_with(enabled).await;
    let token = admin_token(&app).await;
    let api = Api::new(&app, &token);
    let (initial, _) = issue(&app, &api, 1, 1).await;
    let meta = json!({
        "redirect_uris": [REDIRECT],
        "client_name": "DPoP app",
        "dpop_bound_access_tokens": true,
    });
    let (status, body) = register(&app, Some(&initial), &meta).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["dpop_bound_access_tokens"], true);
    let id = body["client_id"].as_str().unwrap();
    let secret = body["client_secret"].as_str().unwrap();
    let send = |proof: Option<String>| {
        let mut r = reqwest::Client::new()
            .post(format!("{}/token", app.base))
            .basic_auth(id, Some(secret))
            .form(&[("grant_type", "authorization_code"), ("code", "x")]);
        if let Some(p) = proof {
            r = r.header("DPoP", p);
        }
        r.send()
    };
    let refused: Value = send(None).await.unwrap().json().await.unwrap();
    assert_eq!(refused["error"], "invalid_dpop_proof", "{refused}");
    // With a proof the request goes on to the proof's own checks.
    let k = crate::dpop::key(Alg::ES256);
    let p = crate::dpop::proof(&app, &k, "POST", "/token", json!({}));
    let on: Value = send(Some(p)).await.unwrap().json().await.unwrap();
    assert_eq!(on["error"], "use_dpop_nonce", "{on}");
}

#[tokio::test]
async fn a_registered_client_completes_the_authorization_code_flow() {
    let app = TestApp::spawn_with(enabled).await;
    crate::oidc::user(&app).await;
    let admin = admin_token(&app).await;
    let api = Api::new(&app, &admin);
    let (initial, view) = issue(&app, &api, 1, 24).await;
    assert_eq!(view["uses_left"], 1);
    assert_eq!(view["status"], "active");

    let (status, reg) = register(&app, Some(&initial), &web_app()).await;
    assert_eq!(status, StatusCode::CREATED, "{reg}");
    let id = reg["client_id"].as_str().unwrap().to_string();
    assert!(id.len() >= 22, "{id}");
    assert_eq!(reg["client_name"], "Registered wiki");
    assert_eq!(reg["redirect_uris"], json!([REDIRECT]));
    assert_eq!(reg["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(
        reg["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(reg["response_types"], json!(["code"]));
    assert_eq!(reg["scope"], "openid profile email phone offline_access");
    assert_eq!(reg["client_secret_expires_at"], 0);
    assert!(reg["client_id_issued_at"].as_i64().unwrap() > 1_700_000_000);
    assert!(reg["client_secret"].as_str().unwrap().len() >= 43);
    assert!(reg["registration_access_token"].as_str().unwrap().len() >= 43);
    assert_eq!(
        reg["registration_client_uri"],
        format!("{}/register/{id}", app.base)
    );

    // The whole flow with the openidconnect crate: consent is asked
    // (a registered client is never first-party).
    let rp = Rp {
        id: id.clone(),
        secret: reg["client_secret"].as_str().map(str::to_string),
        redirect_uri: REDIRECT.into(),
    };
    crate::oidc::full_flow(&app, &rp, CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256).await;
    let consents = app.audit("consent.granted").await;
    assert_eq!(consents.len(), 1, "consent was asked");

    // Administrators see it as dynamically registered.
    let (status, client) = api.get(&format!("/api/v1/clients/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(client["registered_dynamically"], true);
    assert_eq!(client["first_party"], false);
    let (_, plain) = api.get("/api/v1/clients/ops-bot").await;
    assert_eq!(plain["registered_dynamically"], false, "control");
    let b = app.browser();
    b.login("admin", &app.admin_password).await;
    let page = b.get("/admin/clients").await;
    assert!(page.has(&format!("id=\"dynamic-{id}\"")), "{}", page.body);
    assert!(!page.has("id=\"dynamic-ops-bot\""));

    // The token's one use is spent.
    let (_, list) = api.get("/api/v1/registration-tokens").await;
    assert_eq!(list[0]["uses_left"], 0);
    assert_eq!(list[0]["status"], "used_up");
    assert!(list[0].get("initial_access_token").is_none());
    assert!(!list.to_string().contains(&initial), "never shown again");
}

#[tokio::test]
async fn initial_tokens_expire_are_used_up_once_and_can_be_revoked() {
    let app = TestApp::spawn_with(enabled).await;
    let admin = admin_token(&app).await;
    let api = Api::new(&app, &admin);

    // Two uses: two registrations, then refused.
    let (two, _) = issue(&app, &api, 2, 1).await;
    for _ in 0..2 {
        assert_eq!(
            register(&app, Some(&two), &web_app()).await.0,
            StatusCode::CREATED
        );
    }
    assert_token_refused(&app, Some(&two), &web_app()).await;

    // A refused registration does not spend a use.
    let (one, _) = issue(&app, &api, 1, 1).await;
    let bad = json!({ "redirect_uris": ["not a uri"] });
    assert_eq!(
        register(&app, Some(&one), &bad).await.1["error"],
        "invalid_redirect_uri"
    );
    let (status, _) = register(&app, Some(&one), &web_app()).await;
    assert_eq!(status, StatusCode::CREATED, "the use was still there");

    // Bad requests to issue are named.
    let (status, body) = api
        .post("/api/v1/registration-tokens", json!({ "uses": 0 }))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "uses");

    // Revocation: works before, refused after.
    let (revocable, view) = issue(&app, &api, 5, 1).await;
    assert_eq!(
        register(&app, Some(&revocable), &web_app()).await.0,
        StatusCode::CREATED
    );
    let path = format!(
        "/api/v1/registration-tokens/{}",
        view["id"].as_str().unwrap()
    );
    assert_eq!(
        api.call("DELETE", &path, None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_token_refused(&app, Some(&revocable), &web_app()).await;
    assert_eq!(
        api.call("DELETE", &path, None).await.0,
        StatusCode::NOT_FOUND,
        "revoked once"
    );

    // Expiry by the server's clock: valid just before, refused after.
    let (soon, soon_view) = issue(&app, &api, 5, 1).await;
    app.advance(Duration::from_secs(3590));
    assert_eq!(
        register(&app, Some(&soon), &web_app()).await.0,
        StatusCode::CREATED
    );
    app.advance(Duration::from_secs(20));
    assert_token_refused(&app, Some(&soon), &web_app()).await;
    // (The service account's API token has expired too by now: read the
    // list where the API reads it.)
    let now = app.state.clock.now().unix_timestamp();
    let list = tongxing::service::registration::tokens(&app.state)
        .await
        .unwrap();
    let soon_row = list
        .iter()
        .find(|t| soon_view["id"] == t.id.to_string())
        .unwrap();
    assert_eq!(soon_row.uses_left, 4);
    assert_eq!(
        tongxing::service::registration::token_status(soon_row, now),
        "expired"
    );

    // Unknown tokens and none at all.
    assert_token_refused(&app, Some("not-a-token"), &web_app()).await;
    assert_token_refused(&app, None, &web_app()).await;
}

#[tokio::test]
async fn the_last_use_cannot_be_spent_twice() {
    let app = TestApp::spawn_with(enabled).await;
    let admin = admin_token(&app).await;
    let api = Api::new(&app, &admin);
    let (last, _) = issue(&app, &api, 1, 1).await;
    let attempts = (0..8).map(|_| {
        let (app, last) = (&app, last.clone());
        async move { register(app, Some(&last), &web_app()).await.0 }
    });
    let statuses = futures_util::future::join_all(attempts).await;
    let created = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    assert_eq!((created, refused), (1, 7), "{statuses:?}");
    assert_eq!(app.audit("client.registered").await.len(), 1);
}

#[tokio::test]
async fn the_policy_refuses_with_the_rfc_7591_codes() {
    let app = TestApp::spawn_with(|c| {
        enabled(c);
        c.registration.redirect_hosts = vec!["rp.example.org".into(), "*.lab.example.org".into()];
    })
    .await;
    let admin = admin_token(&app).await;
    let api = Api::new(&app, &admin);
    let (token, _) = issue(&app, &api, 100, 1).await;
    let with = |change: Value| {
        let mut m = web_app();
        for (k, v) in change.as_object().unwrap() {
            m[k] = v.clone();
        }
        m
    };
    // Positive controls: the hosts the policy names.
    for uri in [REDIRECT, "https://x.lab.example.org/cb"] {
        let (status, body) =
            register(&app, Some(&token), &with(json!({ "redirect_uris": [uri] }))).await;
        assert_eq!(status, StatusCode::CREATED, "{uri}: {body}");
    }
    for (change, code) in [
        (
            json!({ "redirect_uris": ["https://evil.example.net/cb"] }),
            "invalid_redirect_uri",
        ),
        (
            json!({ "redirect_uris": ["https://lab.example.org/cb"] }),
            "invalid_redirect_uri",
        ),
        (
            json!({ "redirect_uris": ["http://rp.example.org/cb"] }),
            "invalid_redirect_uri",
        ),
        (json!({ "redirect_uris": [] }), "invalid_redirect_uri"),
        (
            json!({ "post_logout_redirect_uris": ["https://evil.example.net/"] }),
            "invalid_redirect_uri",
        ),
        (
            json!({ "scope": "openid admin" }),
            "invalid_client_metadata",
        ),
        (
            json!({ "scope": "openid review" }),
            "invalid_client_metadata",
        ),
        (
            json!({ "grant_types": ["client_credentials"], "scope": "profile" }),
            "invalid_client_metadata",
        ),
        (
            json!({ "grant_types": ["implicit"] }),
            "invalid_client_metadata",
        ),
        (
            json!({ "response_types": ["token"] }),
            "invalid_client_metadata",
        ),
        (
            json!({ "grant_types": ["authorization_code"] }),
            "invalid_client_metadata",
        ),
        (
            json!({ "token_endpoint_auth_method": "client_secret_jwt" }),
            "invalid_client_metadata",
        ),
        (
            json!({ "id_token_signed_response_alg": "none" }),
            "invalid_client_metadata",
        ),
        (
            json!({ "backchannel_logout_uri": "https://evil.example.net/bc" }),
            "invalid_client_metadata",
        ),
        (
            json!({ "software_statement": "eyJhbGciOiJSUzI1NiJ9.e30.c2ln" }),
            "invalid_software_statement",
        ),
    ] {
        let (status, body) = register(&app, Some(&token), &with(change.clone())).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some(code)),
            "{change}: {body}"
        );
        assert!(
            body["error_description"]
                .as_str()
                .is_some_and(|d| !d.is_empty())
        );
    }
    // The grant_types refusal above was for offline_access without
    // refresh_token; without offline_access it is fine.
    let (status, body) = register(
        &app,
        Some(&token),
        &with(json!({ "grant_types": ["authorization_code"], "scope": "openid profile" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // Unknown metadata is ignored (RFC 7591 §2), not refused.
    let (status, body) = register(
        &app,
        Some(&token),
        &with(json!({ "tos_uri": "https://rp.example.org/tos", "contacts": ["a@b.c"] })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // A body that is not JSON metadata.
    let r = reqwest::Client::new()
        .post(format!("{}/register", app.base))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{\"redirect_uris\": \"https://rp.example.org/cb\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "invalid_client_metadata"
    );
    // Without a token the policy is not even looked at.
    assert_token_refused(&app, None, &with(json!({ "scope": "openid admin" }))).await;
}

#[tokio::test]
async fn grant_types_are_enforced_at_the_token_endpoint() {
    let app = TestApp::spawn_with(|c| {
        enabled(c);
        c.registration.grant_types = vec![
            "authorization_code".into(),
            "refresh_token".into(),
            "client_credentials".into(),
        ];
    })
    .await;
    let admin = admin_token(&app).await;
    let api = Api::new(&app, &admin);
    let (token, _) = issue(&app, &api, 10, 1).await;
    // A service client: client_credentials only, no redirect URI.
    let (status, svc) = register(
        &app,
        Some(&token),
        &json!({ "client_name": "bot", "grant_types": ["client_credentials"], "scope": "profile" }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{svc}");
    assert_eq!(svc["response_types"], json!([]));
    let (id, secret) = (
        svc["client_id"].as_str().unwrap(),
        svc["client_secret"].as_str().unwrap(),
    );
    let (status, body) = token_call(
        &app,
        Some((id, secret)),
        &[("grant_type", "client_credentials"), ("scope", "profile")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // A code-flow client did not register client_credentials.
    let (_, web) = register(
        &app,
        Some(&token),
        &json!({ "redirect_uris": [REDIRECT], "scope": "openid profile" }),
    )
    .await;
    let (status, body) = token_call(
        &app,
        Some((
            web["client_id"].as_str().unwrap(),
            web["client_secret"].as_str().unwrap(),
        )),
        &[("grant_type", "client_credentials"), ("scope", "profile")],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unauthorized_client"))
    );
    // Nor refresh_token.
    let (status, body) = token_call(
        &app,
        Some((
            web["client_id"].as_str().unwrap(),
            web["client_secret"].as_str().unwrap(),
        )),
        &[("grant_type", "refresh_token"), ("refresh_token", "x")],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unauthorized_client"))
    );
    // A public client cannot register client_credentials.
    let (status, body) = register(
        &app,
        Some(&token),
        &json!({ "token_endpoint_auth_method": "none", "grant_types": ["client_credentials"], "scope": "profile" }),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_client_metadata"))
    );
}

#[tokio::test]
async fn open_registration_needs_no_token_and_is_refused_in_production() {
    let open = TestApp::spawn_with(|c| {
        enabled(c);
        c.registration.open = true;
    })
    .await;
    let (status, body) = register(&open, None, &web_app()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // Control: closed, the same request is refused.
    let closed = TestApp::spawn_with(enabled).await;
    assert_token_refused(&closed, None, &web_app()).await;

    let prod = [
        ("TONGXING_ENVIRONMENT", "production"),
        ("TONGXING_ISSUER", "https://id.example.org"),
        ("TONGXING_REGISTRATION__ENABLED", "true"),
    ];
    let refused = closed
        .cli_env(
            &["migrate"],
            None,
            &[&prod[..], &[("TONGXING_REGISTRATION__OPEN", "true")]].concat(),
        )
        .await;
    assert_eq!(refused.code, 6, "{refused:?}");
    assert!(
        refused.stderr.contains("registration.open"),
        "{}",
        refused.stderr
    );
    // Control: production without `open` is not refused for registration
    // (it still stops, for the development SMS outbox).
    let other = closed.cli_env(&["migrate"], None, &prod).await;
    assert!(!other.stderr.contains("registration"), "{}", other.stderr);
    assert!(other.stderr.contains("sms.provider"), "{}", other.stderr);
}

#[tokio::test]
async fn the_registration_access_token_manages_its_own_client_only() {
    let app = TestApp::spawn_with(enabled).await;
    let admin = admin_token(&app).await;
    let api = Api::new(&app, &admin);
    let (token, _) = issue(&app, &api, 10, 1).await;
    let (_, a) = register(&app, Some(&token), &web_app()).await;
    let (_, b) = register(&app, Some(&token), &web_app()).await;
    let a_uri = a["registration_client_uri"].as_str().unwrap();
    let a_token = a["registration_access_token"].as_str().unwrap();
    let b_token = b["registration_access_token"].as_str().unwrap();
    let a_id = a["client_id"].as_str().unwrap();
    let a_secret = a["client_secret"].as_str().unwrap();

    // Read.
    let (status, read, _) = call("GET", a_uri, Some(a_token), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read["client_id"], a_id);
    assert_eq!(read["redirect_uris"], json!([REDIRECT]));
    assert!(read.get("client_secret").is_none(), "not shown again");
    assert_eq!(
        read["registration_access_token"], a_token,
        "the token presented (RFC 7592 §3), not a new one"
    );
    // Another client's token, none, an unknown client, an admin's client:
    // one and the same refusal.
    let unknown = format!("{}/register/no-such-client", app.base);
    let admins = format!("{}/register/ops-bot", app.base);
    let mut refusals = Vec::new();
    for (uri, t) in [
        (a_uri, Some(b_token)),
        (a_uri, None),
        (a_uri, Some(token.as_str())),
        (unknown.as_str(), Some(a_token)),
        (admins.as_str(), Some(a_token)),
    ] {
        let (status, body, headers) = call("GET", uri, t, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{uri}");
        assert!(
            headers
                .get("www-authenticate")
                .unwrap()
                .to_str()
                .unwrap()
                .contains("invalid_token")
        );
        refusals.push(body);
    }
    assert!(refusals.windows(2).all(|w| w[0] == w[1]), "{refusals:?}");

    // Update: replaces the metadata; the secret stays.
    let mut change = web_app();
    change["client_id"] = json!(a_id);
    change["client_name"] = json!("Renamed");
    change["redirect_uris"] = json!(["https://rp.example.org/other"]);
    let (status, updated, _) = call("PUT", a_uri, Some(b_token), Some(&change)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{updated}");
    let (status, updated, _) = call("PUT", a_uri, Some(a_token), Some(&change)).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["client_name"], "Renamed");
    assert_eq!(
        updated["redirect_uris"],
        json!(["https://rp.example.org/other"])
    );
    assert!(updated.get("client_secret").is_none(), "the secret is kept");
    assert_eq!(updated["registration_access_token"], a_token);
    let stored = app.state.store.client(a_id).await.unwrap().unwrap();
    assert_eq!(stored.name, "Renamed");
    assert!(stored.secret_matches(a_secret));
    // Under the same policy, and naming itself.
    let mut bad = change.clone();
    bad["scope"] = json!("openid admin");
    let (status, body, _) = call("PUT", a_uri, Some(a_token), Some(&bad)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_client_metadata"))
    );
    let mut bad = change.clone();
    bad["client_id"] = json!(b["client_id"]);
    let (status, body, _) = call("PUT", a_uri, Some(a_token), Some(&bad)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_client_metadata"))
    );
    let mut bad = change.clone();
    bad["redirect_uris"] = json!(["http://rp.example.org/cb"]);
    let (status, body, _) = call("PUT", a_uri, Some(a_token), Some(&bad)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_redirect_uri"))
    );

    // Delete: another's token is refused; its own removes it.
    let (status, _, _) = call("DELETE", a_uri, Some(b_token), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(secret_works(&app, a_id, a_secret).await, "still there");
    let (status, _, _) = call("DELETE", a_uri, Some(a_token), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(!secret_works(&app, a_id, a_secret).await, "gone");
    assert!(app.state.store.client(a_id).await.unwrap().is_none());
    let (status, _, _) = call("GET", a_uri, Some(a_token), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = call(
        "GET",
        b["registration_client_uri"].as_str().unwrap(),
        Some(b_token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "the other client stays");
}

#[tokio::test]
async fn public_and_private_key_jwt_clients_register() {
    let app = TestApp::spawn_with(enabled).await;
    crate::oidc::user(&app).await;
    let admin = admin_token(&app).await;
    let api = Api::new(&app, &admin);
    let (token, _) = issue(&app, &api, 10, 1).await;

    // Public: no secret; the PKCE flow completes.
    let mut public = web_app();
    public["token_endpoint_auth_method"] = json!("none");
    let (status, reg) = register(&app, Some(&token), &public).await;
    assert_eq!(status, StatusCode::CREATED, "{reg}");
    assert!(reg.get("client_secret").is_none());
    assert!(reg.get("client_secret_expires_at").is_none());
    assert_eq!(reg["token_endpoint_auth_method"], "none");
    let rp = Rp {
        id: reg["client_id"].as_str().unwrap().into(),
        secret: None,
        redirect_uri: REDIRECT.into(),
    };
    crate::oidc::full_flow(&app, &rp, CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256).await;

    // private_key_jwt with inline keys: the client's assertion signed with
    // its key authenticates it, another key does not.
    let (key, _) = SigningKey::generate(Alg::ES256, "dcr-key".into()).unwrap();
    let meta = json!({
        "redirect_uris": [REDIRECT],
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks": { "keys": [key.public_jwk()] },
        "id_token_signed_response_alg": "ES256",
        "scope": "openid profile",
    });
    let (status, reg) = register(&app, Some(&token), &meta).await;
    assert_eq!(status, StatusCode::CREATED, "{reg}");
    assert!(reg.get("client_secret").is_none());
    assert_eq!(reg["jwks"]["keys"][0]["kid"], "dcr-key");
    assert_eq!(reg["id_token_signed_response_alg"], "ES256");
    let id = reg["client_id"].as_str().unwrap();
    let aud = format!("{}/token", app.base);
    let assertion = |key: &SigningKey, jti: &str| {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        key.sign(
            "JWT",
            &json!({ "iss": id, "sub": id, "aud": aud, "jti": jti, "iat": now, "exp": now + 60 }),
        )
        .unwrap()
    };
    let with_assertion = |a: String| {
        let app = &app;
        async move {
            token_call(
                app,
                None,
                &[
                    ("grant_type", "authorization_code"),
                    ("code", "bogus"),
                    ("redirect_uri", REDIRECT),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ),
                    ("client_assertion", a.as_str()),
                ],
            )
            .await
            .1["error"]
                .clone()
        }
    };
    assert_eq!(with_assertion(assertion(&key, "j1")).await, "invalid_grant");
    let (other, _) = SigningKey::generate(Alg::ES256, "dcr-key".into()).unwrap();
    assert_eq!(
        with_assertion(assertion(&other, "j2")).await,
        "invalid_client"
    );

    // Keys are required, and a jwks_uri must not point at this machine.
    let mut no_keys = meta.clone();
    no_keys.as_object_mut().unwrap().remove("jwks");
    let (status, body) = register(&app, Some(&token), &no_keys).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_client_metadata")),
        "{body}"
    );
    no_keys["jwks_uri"] = json!("https://127.0.0.1:8443/jwks");
    let (status, body) = register(&app, Some(&token), &no_keys).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_client_metadata")),
        "{body}"
    );
    no_keys["jwks_uri"] = json!("https://keys.rp.example.org/jwks");
    let (status, body) = register(&app, Some(&token), &no_keys).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // Request URIs (RFC 9101 §5.2) are fetched by the server: like the
    // jwks_uri, never one on this machine.
    let mut hosted = meta.clone();
    hosted["request_uris"] = json!(["https://127.0.0.1/req.jwt"]);
    let (status, body) = register(&app, Some(&token), &hosted).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("request_uris"),
        "{body}"
    );
    hosted["request_uris"] = json!(["https://rp.example.org/req.jwt"]);
    let (status, body) = register(&app, Some(&token), &hosted).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        body["request_uris"],
        json!(["https://rp.example.org/req.jwt"])
    );
}

#[tokio::test]
async fn registrations_per_address_are_capped_per_hour() {
    let app = TestApp::spawn_with(|c| {
        enabled(c);
        c.registration.address_hourly_limit = 2;
    })
    .await;
    let admin = admin_token(&app).await;
    let api = Api::new(&app, &admin);
    let (token, _) = issue(&app, &api, 10, 24).await;
    for _ in 0..2 {
        assert_eq!(
            register(&app, Some(&token), &web_app()).await.0,
            StatusCode::CREATED
        );
    }
    let r = reqwest::Client::new()
        .post(format!("{}/register", app.base))
        .bearer_auth(&token)
        .json(&web_app())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().get("retry-after").is_some());
    app.advance(Duration::from_secs(3601));
    assert_eq!(
        register(&app, Some(&token), &web_app()).await.0,
        StatusCode::CREATED,
        "a new hour"
    );
}

fn detail(row: &tongxing::store::audit::AuditRow) -> Value {
    serde_json::from_str(&row.detail).unwrap()
}

#[tokio::test]
async fn every_step_is_audited() {
    let app = TestApp::spawn_with(enabled).await;
    let admin = admin_token(&app).await;
    let api = Api::new(&app, &admin);
    let (token, view) = issue(&app, &api, 3, 1).await;
    let token_id = view["id"].as_str().unwrap().to_string();
    let (_, reg) = register(&app, Some(&token), &web_app()).await;
    let id = reg["client_id"].as_str().unwrap();
    let uri = reg["registration_client_uri"].as_str().unwrap();
    let rat = reg["registration_access_token"].as_str().unwrap();
    let mut change = web_app();
    change["client_id"] = json!(id);
    assert_eq!(
        call("PUT", uri, Some(rat), Some(&change)).await.0,
        StatusCode::OK
    );
    assert_eq!(
        call("DELETE", uri, Some(rat), None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api.call(
            "DELETE",
            &format!("/api/v1/registration-tokens/{token_id}"),
            None
        )
        .await
        .0,
        StatusCode::NO_CONTENT
    );

    let issued = app.audit("registration_token.issued").await;
    assert_eq!(issued.len(), 1);
    assert_eq!(issued[0].actor, "client:ops-bot");
    assert_eq!(detail(&issued[0])["token_id"], token_id.as_str());
    let registered = app.audit("client.registered").await;
    assert_eq!(registered.len(), 1);
    assert_eq!(detail(&registered[0])["client_id"], id);
    assert_eq!(
        detail(&registered[0])["initial_access_token"],
        token_id.as_str()
    );
    assert!(!registered[0].detail.contains(&token), "never the token");
    assert_eq!(app.audit("client.registration_updated").await.len(), 1);
    let deleted = app.audit("client.registration_deleted").await;
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0].actor, format!("client:{id}"));
    assert_eq!(app.audit("registration_token.revoked").await.len(), 1);
    // Control: an administrator's client is audited as before, not as
    // a registration.
    assert!(
        app.audit("client.created")
            .await
            .iter()
            .all(|e| detail(e)["client_id"] == "ops-bot")
    );
}

#[tokio::test]
async fn the_cli_issues_lists_and_revokes_initial_tokens() {
    let app = TestApp::spawn_with(enabled).await;
    let out = app
        .cli(
            &[
                "client",
                "issue-token",
                "--uses",
                "2",
                "--hours",
                "1",
                "--description",
                "MCP pilot",
                "--json",
            ],
            None,
        )
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    let issued = out.json();
    let token = issued["initial_access_token"].as_str().unwrap().to_string();
    let id = issued["token"]["id"].as_str().unwrap().to_string();
    assert_eq!(issued["token"]["uses_allowed"], 2);
    assert_eq!(
        register(&app, Some(&token), &web_app()).await.0,
        StatusCode::CREATED
    );

    let list = app.cli(&["client", "tokens", "--json"], None).await;
    assert_eq!(list.code, 0, "{list:?}");
    let list = list.json();
    assert_eq!(list[0]["id"], id.as_str());
    assert_eq!(list[0]["uses_left"], 1);
    assert_eq!(list[0]["description"], "MCP pilot");
    assert!(!list.to_string().contains(&token));
    let text = app.cli(&["client", "tokens"], None).await;
    assert!(
        text.stdout.contains(&id) && text.stdout.contains("active"),
        "{text:?}"
    );

    let revoked = app.cli(&["client", "revoke-token", &id], None).await;
    assert_eq!(revoked.code, 0, "{revoked:?}");
    assert_token_refused(&app, Some(&token), &web_app()).await;
    let again = app.cli(&["client", "revoke-token", &id], None).await;
    assert_eq!(again.code, 4, "{again:?}");
    let bad = app
        .cli(&["client", "issue-token", "--uses", "0"], None)
        .await;
    assert_eq!(bad.code, 3, "{bad:?}");
    assert_eq!(
        app.audit("registration_token.issued").await[0]
            .actor
            .split(':')
            .next(),
        Some("cli")
    );
}
