//! Pushed authorization requests (RFC 9126) and signed request objects
//! (RFC 9101), through the real server with raw requests: what is pushed
//! or signed is what the browser's request is answered by, and what a
//! client demands of its own requests is enforced.

use reqwest::StatusCode;
use serde_json::{Value, json};
use tongxing::crypto::jws::{Alg, SigningKey};

use crate::helpers::{Browser, PASSWORD, REDIRECT, Rp, TestApp, query};
use crate::oidc_rules::{CHALLENGE, redeem};

/// The authorization request's parameters (before they are pushed or signed).
fn request(rp: &Rp, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut p: Vec<(String, String)> = [
        ("response_type", "code"),
        ("client_id", rp.id.as_str()),
        ("redirect_uri", REDIRECT),
        ("scope", "openid profile"),
        ("state", "s1"),
        ("nonce", "n1"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in extra {
        p.retain(|(name, _)| name != k);
        p.push((k.to_string(), v.to_string()));
    }
    p
}

/// Pushes `params` as `rp` (its secret by Basic): status and body.
async fn push(app: &TestApp, rp: &Rp, params: &[(String, String)]) -> (StatusCode, Value) {
    let r = reqwest::Client::new()
        .post(format!("{}/par", app.base))
        .basic_auth(&rp.id, rp.secret.as_deref())
        .form(params)
        .send()
        .await
        .unwrap();
    let status = r.status();
    assert_eq!(r.headers()["cache-control"], "no-store");
    (status, r.json().await.unwrap())
}

fn by_reference(app: &TestApp, rp: &Rp, request_uri: &str) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("client_id", &rp.id);
    q.append_pair("request_uri", request_uri);
    format!("{}/authorize?{}", app.base, q.finish())
}

async fn setup() -> (TestApp, Rp, Browser) {
    let app = TestApp::spawn().await;
    app.user("li@cnic.cn").await;
    let rp = app.rp_with("mail", |c| c.first_party = true).await;
    let b = app.browser();
    (app, rp, b)
}

#[tokio::test]
async fn a_pushed_request_is_answered_by_what_was_pushed_and_only_once() {
    let (app, rp, b) = setup().await;
    let (status, body) = push(&app, &rp, &request(&rp, &[])).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let uri = body["request_uri"].as_str().unwrap();
    assert!(uri.starts_with("urn:ietf:params:oauth:request_uri:"));
    assert_eq!(body["expires_in"], 90);

    // Parameters beside the reference are not the request: the pushed
    // state comes back, not the one added in the browser.
    let url = format!(
        "{}&state=forged&scope=openid%20admin",
        by_reference(&app, &rp, uri)
    );
    let back = b.authorize_as(&url, "li@cnic.cn", PASSWORD, "allow").await;
    let q = query(&back);
    assert!(back.starts_with(REDIRECT), "{back}");
    assert_eq!(q["state"], "s1");
    let (status, tokens) = redeem(&app, &rp, &q["code"]).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["scope"], "openid profile");

    // The code spent the request URI.
    let again = b.get(&by_reference(&app, &rp, uri)[app.base.len()..]).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert!(again.has("invalid_request_uri"), "{}", again.body);

    // Another client cannot use one, and one not used in time is gone.
    let other = app.rp_with("arp", |c| c.first_party = true).await;
    let (_, body) = push(&app, &rp, &request(&rp, &[])).await;
    let uri = body["request_uri"].as_str().unwrap().to_string();
    let stolen = b
        .get(&by_reference(&app, &other, &uri)[app.base.len()..])
        .await;
    assert_eq!(stolen.status, StatusCode::BAD_REQUEST);
    assert!(stolen.has("invalid_request_uri"));
    app.advance(std::time::Duration::from_secs(91));
    let late = b
        .get(&by_reference(&app, &rp, &uri)[app.base.len()..])
        .await;
    assert!(late.has("invalid_request_uri"), "{}", late.body);
    // The positive control: a fresh one goes on.
    let (_, body) = push(&app, &rp, &request(&rp, &[])).await;
    let fresh = b
        .get(&by_reference(&app, &rp, body["request_uri"].as_str().unwrap())[app.base.len()..])
        .await;
    assert_eq!(fresh.status, StatusCode::SEE_OTHER, "{}", fresh.body);
}

#[tokio::test]
async fn a_pushed_request_survives_the_login_it_forces() {
    let (app, rp, b) = setup().await;
    b.login("li@cnic.cn", PASSWORD).await;
    let (_, body) = push(&app, &rp, &request(&rp, &[("prompt", "login")])).await;
    let uri = body["request_uri"].as_str().unwrap();
    // prompt=login sends the signed-in browser to the form once; after
    // it, the same request URI ends at the client with a code.
    let first = b.get(&by_reference(&app, &rp, uri)[app.base.len()..]).await;
    let to_login = first.location().unwrap().to_string();
    assert!(to_login.starts_with("/login?"), "{to_login}");
    let back = b
        .authorize_as(
            &format!("{}{to_login}", app.base),
            "li@cnic.cn",
            PASSWORD,
            "allow",
        )
        .await;
    assert!(query(&back).contains_key("code"), "{back}");
}

#[tokio::test]
async fn the_par_endpoint_checks_the_client_and_the_request_before_it_keeps_it() {
    let (app, rp, _) = setup().await;
    // Unauthenticated: invalid_client.
    let r = reqwest::Client::new()
        .post(format!("{}/par", app.base))
        .form(&request(&rp, &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let wrong = Rp {
        secret: Some("not the secret".into()),
        ..rp.clone()
    };
    assert_eq!(
        push(&app, &wrong, &request(&rp, &[])).await.0,
        StatusCode::UNAUTHORIZED
    );
    // What /authorize would refuse is refused now, in JSON.
    for (extra, error) in [
        (
            vec![("redirect_uri", "https://evil.example.org/cb")],
            "invalid_request",
        ),
        (
            vec![("response_type", "token")],
            "unsupported_response_type",
        ),
        (vec![("scope", "openid admin")], "invalid_scope"),
        (vec![("code_challenge_method", "plain")], "invalid_request"),
        (
            vec![("request_uri", "urn:ietf:params:oauth:request_uri:x")],
            "invalid_request",
        ),
    ] {
        let (status, body) = push(&app, &rp, &request(&rp, &extra)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{extra:?}: {body}");
        assert_eq!(body["error"], error, "{extra:?}: {body}");
    }
    // A client that authenticates in the body: the secret is not kept.
    let mut form = request(&rp, &[]);
    form.push(("client_secret".into(), rp.secret.clone().unwrap()));
    let r = reqwest::Client::new()
        .post(format!("{}/par", app.base))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn a_client_that_requires_pushed_requests_is_refused_a_plain_one() {
    let app = TestApp::spawn().await;
    app.user("li@cnic.cn").await;
    let rp = app
        .rp_with("strict", |c| {
            c.first_party = true;
            c.require_pushed_authorization_requests = true;
        })
        .await;
    let b = app.browser();
    b.login("li@cnic.cn", PASSWORD).await;
    let plain = crate::oidc_rules::authorize_url(&app, &rp, "");
    let refused = b.get(&plain[app.base.len()..]).await;
    let to = refused.location().unwrap_or_default().to_string();
    assert!(to.starts_with(REDIRECT), "{to}");
    assert_eq!(query(&to)["error"], "invalid_request");
    assert!(query(&to)["error_description"].contains("push"));
    // Pushed, it goes through.
    let (_, body) = push(&app, &rp, &request(&rp, &[])).await;
    let back = b
        .authorize_as(
            &by_reference(&app, &rp, body["request_uri"].as_str().unwrap()),
            "li@cnic.cn",
            PASSWORD,
            "allow",
        )
        .await;
    assert!(query(&back).contains_key("code"), "{back}");
}

/// A client with its own ES256 key (private_key_jwt), and the key.
async fn signing_client(app: &TestApp, id: &str, require_signed: bool) -> (Rp, SigningKey) {
    let (key, _) = SigningKey::generate(Alg::ES256, format!("{id}-key")).unwrap();
    let jwks = json!({ "keys": [key.public_jwk()] }).to_string();
    let rp = app
        .rp_with(id, |c| {
            c.token_auth_method = Some("private_key_jwt".into());
            c.jwks = Some(jwks);
            c.first_party = true;
            c.require_signed_request_object = require_signed;
        })
        .await;
    (rp, key)
}

/// The request as a request object signed by `key`, with `claims` over it.
fn signed(app: &TestApp, rp: &Rp, key: &SigningKey, claims: Value) -> String {
    let now = app.state.clock.now().unix_timestamp();
    let mut body = json!({ "iss": rp.id, "aud": app.state.config.issuer(), "exp": now + 300 });
    for (k, v) in request(rp, &[]) {
        body[k] = json!(v);
    }
    body["max_age"] = json!(3600);
    for (k, v) in claims.as_object().unwrap() {
        if v.is_null() {
            body.as_object_mut().unwrap().remove(k);
        } else {
            body[k] = v.clone();
        }
    }
    key.sign("oauth-authz-req+jwt", &body).unwrap()
}

fn by_value(rp: &Rp, jwt: &str) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("client_id", &rp.id);
    q.append_pair("request", jwt);
    format!("/authorize?{}", q.finish())
}

#[tokio::test]
async fn a_signed_request_object_is_verified_with_the_clients_keys() {
    let app = TestApp::spawn().await;
    app.user("li@cnic.cn").await;
    let (rp, key) = signing_client(&app, "signer", true).await;
    let b = app.browser();
    b.login("li@cnic.cn", PASSWORD).await;

    // A plain request from a client that requires signed ones: refused.
    let plain = crate::oidc_rules::authorize_url(&app, &rp, "");
    let refused = b.get(&plain[app.base.len()..]).await;
    assert_eq!(
        query(refused.location().unwrap())["error"],
        "invalid_request"
    );

    // Signed: it goes on to the client, with the object's state.
    let good = signed(&app, &rp, &key, json!({ "state": "from-the-object" }));
    let back = b
        .authorize_as(
            &format!("{}{}&state=forged", app.base, by_value(&rp, &good)),
            "li@cnic.cn",
            PASSWORD,
            "allow",
        )
        .await;
    assert_eq!(query(&back)["state"], "from-the-object", "{back}");

    let (other_key, _) = SigningKey::generate(Alg::ES256, "signer-key".into()).unwrap();
    let now = app.state.clock.now().unix_timestamp();
    for (why, jwt) in [
        ("another key", signed(&app, &rp, &other_key, json!({}))),
        (
            "wrong aud",
            signed(
                &app,
                &rp,
                &key,
                json!({ "aud": "https://other.example.org" }),
            ),
        ),
        (
            "wrong iss",
            signed(&app, &rp, &key, json!({ "iss": "someone" })),
        ),
        (
            "expired",
            signed(&app, &rp, &key, json!({ "exp": now - 120 })),
        ),
        (
            "too long",
            signed(&app, &rp, &key, json!({ "exp": now + 7200 })),
        ),
        ("no exp", signed(&app, &rp, &key, json!({ "exp": null }))),
        (
            "other client_id",
            signed(&app, &rp, &key, json!({ "client_id": "mail" })),
        ),
        (
            "nested request_uri",
            signed(&app, &rp, &key, json!({ "request_uri": "urn:x" })),
        ),
    ] {
        let page = b.get(&by_value(&rp, &jwt)).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{why}");
        assert!(page.has("invalid_request_object"), "{why}: {}", page.body);
    }
    // alg none is never accepted.
    use base64::Engine;
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let unsigned = format!(
        "{}.{}.",
        b64(&json!({ "alg": "none" })),
        b64(
            &json!({ "iss": rp.id, "aud": app.state.config.issuer(), "exp": now + 60, "client_id": rp.id })
        )
    );
    let page = b.get(&by_value(&rp, &unsigned)).await;
    assert!(page.has("invalid_request_object"), "{}", page.body);

    // Pushed as an object, it counts as signed too.
    let mut form = vec![
        ("client_id".to_string(), rp.id.clone()),
        ("request".to_string(), signed(&app, &rp, &key, json!({}))),
    ];
    let aud = format!("{}/token", app.base);
    let assertion = key
        .sign(
            "JWT",
            &json!({ "iss": rp.id, "sub": rp.id, "aud": aud, "jti": "par-1", "exp": now + 60 }),
        )
        .unwrap();
    form.push((
        "client_assertion_type".into(),
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
    ));
    form.push(("client_assertion".into(), assertion));
    let r = reqwest::Client::new()
        .post(format!("{}/par", app.base))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let body: Value = r.json().await.unwrap();
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("client_id", &rp.id);
    q.append_pair("request_uri", body["request_uri"].as_str().unwrap());
    let back = b
        .authorize_as(
            &format!("{}/authorize?{}", app.base, q.finish()),
            "li@cnic.cn",
            PASSWORD,
            "allow",
        )
        .await;
    assert!(query(&back).contains_key("code"), "{back}");
}

#[tokio::test]
async fn discovery_names_the_par_endpoint_and_the_request_object_algorithms() {
    let app = TestApp::spawn().await;
    let d: Value = reqwest::get(format!("{}/.well-known/openid-configuration", app.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        d["pushed_authorization_request_endpoint"],
        format!("{}/par", app.base)
    );
    assert_eq!(d["request_parameter_supported"], true);
    assert_eq!(d["request_uri_parameter_supported"], true);
    assert_eq!(d["require_request_uri_registration"], true);
    assert_eq!(d["require_pushed_authorization_requests"], false);
    let algs = d["request_object_signing_alg_values_supported"]
        .as_array()
        .unwrap();
    assert!(algs.iter().any(|a| a == "ES256"));
    assert!(!algs.iter().any(|a| a == "none"));
}

#[tokio::test]
async fn the_settings_are_set_through_the_api_and_the_cli() {
    let app = TestApp::spawn().await;
    let api = crate::admin_api::Api::new(&app, &crate::admin_api::admin_token(&app).await);
    let (status, created) = api
        .post(
            "/api/v1/clients",
            json!({ "id": "pushy", "name": "Pushy", "redirect_uris": [REDIRECT],
                    "require_pushed_authorization_requests": true }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(
        created["client"]["require_pushed_authorization_requests"],
        true
    );
    assert_eq!(created["client"]["require_signed_request_object"], false);
    // Signed requests are verified with the client's keys: none, refused.
    let (status, refused) = api
        .call(
            "PATCH",
            "/api/v1/clients/pushy",
            Some(json!({ "version": 1, "require_signed_request_object": true })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["field"], "require_signed_request_object");
    let (status, changed) = api
        .call(
            "PATCH",
            "/api/v1/clients/pushy",
            Some(json!({ "version": 1, "require_pushed_authorization_requests": false })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["require_pushed_authorization_requests"], false);

    let out = app
        .cli(
            &[
                "client",
                "update",
                "pushy",
                "--require-par",
                "true",
                "--json",
            ],
            None,
        )
        .await;
    assert_eq!(
        out.json()["require_pushed_authorization_requests"],
        true,
        "{out:?}"
    );
    assert!(
        app.state
            .store
            .client("pushy")
            .await
            .unwrap()
            .unwrap()
            .require_pushed_authorization_requests
    );
}

#[tokio::test]
async fn a_request_object_hosted_by_the_client_is_fetched_from_a_registered_uri() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let app = TestApp::spawn().await;
    app.user("li@cnic.cn").await;
    let (key, _) = SigningKey::generate(Alg::ES256, "host-key".into()).unwrap();
    let (stranger, _) = SigningKey::generate(Alg::ES256, "host-key".into()).unwrap();
    // The client's server: its object, one signed by another key, one
    // too large, and nothing (404) anywhere else.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = format!("http://{}", listener.local_addr().unwrap());
    let fetches = Arc::new(AtomicUsize::new(0));
    let objects: Arc<std::sync::Mutex<std::collections::HashMap<String, String>>> = Arc::default();
    let (served, counter) = (objects.clone(), fetches.clone());
    let server = axum::Router::new().route(
        "/{name}",
        axum::routing::get(
            move |axum::extract::Path(name): axum::extract::Path<String>| {
                counter.fetch_add(1, Ordering::SeqCst);
                let body = served.lock().unwrap().get(&name).cloned();
                async move {
                    match body {
                        Some(b) => (axum::http::StatusCode::OK, b),
                        None => (axum::http::StatusCode::NOT_FOUND, String::new()),
                    }
                }
            },
        ),
    );
    tokio::spawn(async move { axum::serve(listener, server).await });
    let uri = |name: &str| format!("{host}/{name}");
    let jwks = json!({ "keys": [key.public_jwk()] }).to_string();
    let registered = vec![
        uri("req.jwt"),
        uri("forged.jwt"),
        uri("big.jwt"),
        uri("gone.jwt"),
    ];
    let rp = app
        .rp_with("hosted", |c| {
            c.token_auth_method = Some("private_key_jwt".into());
            c.jwks = Some(jwks);
            c.first_party = true;
            c.request_uris = registered;
        })
        .await;
    {
        let mut o = objects.lock().unwrap();
        o.insert(
            "req.jwt".into(),
            signed(&app, &rp, &key, json!({ "state": "hosted" })),
        );
        o.insert("other.jwt".into(), signed(&app, &rp, &key, json!({})));
        o.insert("forged.jwt".into(), signed(&app, &rp, &stranger, json!({})));
        o.insert("big.jwt".into(), "x".repeat(70 * 1024));
    }
    let at = |u: &str| {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        q.append_pair("client_id", &rp.id);
        q.append_pair("request_uri", u);
        q.append_pair("redirect_uri", REDIRECT);
        format!("/authorize?{}", q.finish())
    };
    let b = app.browser();
    // A registered URI: fetched, verified, answered by the object.
    let back = b
        .authorize_as(
            &format!("{}{}", app.base, at(&uri("req.jwt"))),
            "li@cnic.cn",
            PASSWORD,
            "allow",
        )
        .await;
    assert_eq!(query(&back)["state"], "hosted", "{back}");
    assert!(query(&back).contains_key("code"));
    assert_eq!(fetches.load(Ordering::SeqCst), 1);

    // One the client did not register is not even fetched.
    let refused = b.get(&at(&uri("other.jwt"))).await;
    let q = query(refused.location().expect("to the redirect URI"));
    assert_eq!(q["error"], "invalid_request_uri", "{q:?}");
    assert_eq!(fetches.load(Ordering::SeqCst), 1, "not fetched");
    // Registered, but signed by another key, too large, or missing.
    for (name, error) in [
        ("forged.jwt", "invalid_request_object"),
        ("big.jwt", "invalid_request_uri"),
        ("gone.jwt", "invalid_request_uri"),
    ] {
        let refused = b.get(&at(&uri(name))).await;
        let q = query(refused.location().expect("to the redirect URI"));
        assert_eq!(q["error"], error, "{name}: {q:?}");
    }
    assert_eq!(fetches.load(Ordering::SeqCst), 4);

    // Request URIs need keys to verify what is found there.
    let keyless = tongxing::service::clients::register(
        &app.state,
        tongxing::service::clients::NewClient {
            id: "keyless".into(),
            name: "Keyless".into(),
            redirect_uris: vec![REDIRECT.into()],
            request_uris: vec![uri("req.jwt")],
            ..Default::default()
        },
        &tongxing::service::Actor::System,
        &tongxing::service::Origin::default(),
    )
    .await;
    assert!(
        matches!(
            &keyless,
            Err(tongxing::service::clients::ClientError::InvalidText(
                "request_uris",
                _
            ))
        ),
        "{keyless:?}"
    );
}
