//! DPoP (RFC 9449) through the real server with raw requests: proofs are
//! checked as §4.3 lists, tokens are bound to the proof's key (`cnf.jkt`,
//! `token_type` DPoP), userinfo wants the proof with a bound token, a
//! public client's refresh tokens and a `dpop_jkt` code are bound, nonces
//! are required and handed out, and a client can require DPoP.

use reqwest::StatusCode;
use serde_json::{Value, json};
use tongxing::crypto::jws::{Alg, SigningKey};

use crate::helpers::{Browser, PASSWORD, REDIRECT, Rp, TestApp, query};
use crate::oidc::decode_payload;
use crate::oidc_rules::{VERIFIER, authorize_url};

pub(crate) fn key(alg: Alg) -> SigningKey {
    SigningKey::generate(alg, "dpop".into()).unwrap().0
}

/// The RFC 7638 thumbprint of a test key.
fn jkt(k: &SigningKey) -> String {
    tongxing::service::dpop::thumbprint(&serde_json::from_value(k.public_jwk().clone()).unwrap())
        .unwrap()
}

/// A proof by `k` for `htm` `path`; `claims` are added or replace the
/// defaults (a null removes one).
fn proof_with(
    app: &TestApp,
    k: &SigningKey,
    htm: &str,
    path: &str,
    claims: Value,
    header: Value,
) -> String {
    let mut c = json!({
        "jti": uuid::Uuid::new_v4().to_string(),
        "htm": htm,
        "htu": format!("{}{path}", app.config.issuer()),
        "iat": app.state.clock.now().unix_timestamp(),
    });
    for (name, value) in claims.as_object().unwrap() {
        if value.is_null() {
            c.as_object_mut().unwrap().remove(name);
        } else {
            c[name] = value.clone();
        }
    }
    let mut h = json!({ "typ": "dpop+jwt", "alg": k.alg.as_str(), "jwk": k.public_jwk() });
    for (name, value) in header.as_object().unwrap() {
        if value.is_null() {
            h.as_object_mut().unwrap().remove(name);
        } else {
            h[name] = value.clone();
        }
    }
    k.sign_with_header(&h, &c).unwrap()
}

pub(crate) fn proof(app: &TestApp, k: &SigningKey, htm: &str, path: &str, claims: Value) -> String {
    proof_with(app, k, htm, path, claims, json!({}))
}

struct Answer {
    status: StatusCode,
    body: Value,
    nonce: Option<String>,
    challenge: Vec<String>,
}

async fn answer(r: reqwest::Response) -> Answer {
    let status = r.status();
    let nonce = r
        .headers()
        .get("dpop-nonce")
        .map(|v| v.to_str().unwrap().to_string());
    let challenge = r
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    let text = r.text().await.unwrap();
    Answer {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        nonce,
        challenge,
    }
}

/// A token request as `rp` with the given proofs (each one DPoP header).
async fn token(app: &TestApp, rp: &Rp, form: &[(&str, &str)], proofs: &[&str]) -> Answer {
    let mut r = reqwest::Client::new().post(format!("{}/token", app.base));
    if let Some(secret) = &rp.secret {
        r = r.basic_auth(&rp.id, Some(secret));
    }
    for p in proofs {
        r = r.header("DPoP", *p);
    }
    answer(r.form(form).send().await.unwrap()).await
}

/// The server's current nonce, learnt as a client learns it (§8).
async fn nonce(app: &TestApp, rp: &Rp, k: &SigningKey) -> String {
    let p = proof(app, k, "POST", "/token", json!({}));
    let a = token(app, rp, &[("grant_type", "client_credentials")], &[&p]).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.body);
    assert_eq!(a.body["error"], "use_dpop_nonce");
    a.nonce.expect("a DPoP-Nonce header")
}

async fn userinfo(app: &TestApp, scheme: &str, access: &str, proofs: &[&str]) -> Answer {
    let mut r = reqwest::Client::new()
        .get(format!("{}/userinfo", app.base))
        .header("Authorization", format!("{scheme} {access}"));
    for p in proofs {
        r = r.header("DPoP", *p);
    }
    answer(r.send().await.unwrap()).await
}

async fn introspect(app: &TestApp, rp: &Rp, token: &str) -> Value {
    reqwest::Client::new()
        .post(format!("{}/introspect", app.base))
        .basic_auth(&rp.id, rp.secret.as_deref())
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn setup() -> (TestApp, Rp, Browser) {
    let app = TestApp::spawn().await;
    app.user("li@cnic.cn").await;
    let rp = app
        .rp_with("mail", |c| {
            c.first_party = true;
            c.scopes = Some("openid profile offline_access".into());
        })
        .await;
    let b = app.browser();
    (app, rp, b)
}

async fn code(app: &TestApp, rp: &Rp, b: &Browser, extra: &str) -> String {
    let back = b
        .authorize_as(
            &authorize_url(app, rp, extra),
            "li@cnic.cn",
            PASSWORD,
            "allow",
        )
        .await;
    query(&back)
        .get("code")
        .cloned()
        .unwrap_or_else(|| panic!("no code: {back}"))
}

fn redeem_form(code: &str) -> Vec<(&'static str, String)> {
    vec![
        ("grant_type", "authorization_code".to_string()),
        ("code", code.to_string()),
        ("redirect_uri", REDIRECT.to_string()),
        ("code_verifier", VERIFIER.to_string()),
    ]
}

async fn redeem(app: &TestApp, rp: &Rp, code: &str, proofs: &[&str]) -> Answer {
    let form = redeem_form(code);
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    token(app, rp, &form, proofs).await
}

#[tokio::test]
async fn a_proof_binds_the_access_token_and_userinfo_wants_the_proof() {
    let (app, rp, b) = setup().await;
    let k = key(Alg::ES256);
    let code = code(&app, &rp, &b, "").await;

    // §8: without the server's nonce the proof is refused with one; the
    // code is not spent by that.
    let first = proof(&app, &k, "POST", "/token", json!({}));
    let refused = redeem(&app, &rp, &code, &[&first]).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_eq!(refused.body["error"], "use_dpop_nonce");
    let n = refused.nonce.clone().expect("DPoP-Nonce");
    let good = proof(&app, &k, "POST", "/token", json!({ "nonce": n }));
    let issued = redeem(&app, &rp, &code, &[&good]).await;
    assert_eq!(issued.status, StatusCode::OK, "{}", issued.body);
    assert_eq!(issued.body["token_type"], "DPoP");
    assert!(issued.nonce.is_some(), "a success offers the next nonce");
    let access = issued.body["access_token"].as_str().unwrap().to_string();
    let claims = decode_payload(&access);
    assert_eq!(claims["cnf"]["jkt"], jkt(&k));

    // Introspection names the key and the type (§6.2).
    let seen = introspect(&app, &rp, &access).await;
    assert_eq!(seen["active"], true);
    assert_eq!(seen["token_type"], "DPoP");
    assert_eq!(seen["cnf"]["jkt"], jkt(&k));

    // Userinfo: the proof by the token's key, with its hash and a nonce.
    let ath = tongxing::service::dpop::token_hash(&access);
    let n = issued.nonce.clone().unwrap();
    let p = proof(
        &app,
        &k,
        "GET",
        "/userinfo",
        json!({ "ath": ath, "nonce": n }),
    );
    let ok = userinfo(&app, "DPoP", &access, &[&p]).await;
    assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.challenge);
    assert!(ok.body["sub"].is_string());
    // The same proof again is a replay (§11.1).
    let again = userinfo(&app, "DPoP", &access, &[&p]).await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);
    assert!(
        again.challenge[0].starts_with("DPoP ")
            && again.challenge[0].contains("error=\"invalid_dpop_proof\""),
        "{:?}",
        again.challenge
    );
    assert!(again.challenge[0].contains("jti"), "{:?}", again.challenge);

    // §7.2: the bound token as a bearer token is refused, in the DPoP
    // scheme; with a proof and the Bearer scheme as well.
    let bearer = userinfo(&app, "Bearer", &access, &[]).await;
    assert_eq!(bearer.status, StatusCode::UNAUTHORIZED);
    assert!(
        bearer.challenge[0].starts_with("DPoP ")
            && bearer.challenge[0].contains("error=\"invalid_token\""),
        "{:?}",
        bearer.challenge
    );
    // A proof by another key, or without ath, or for another token.
    let other = key(Alg::EdDSA);
    for (p, why) in [
        (
            proof(
                &app,
                &other,
                "GET",
                "/userinfo",
                json!({ "ath": ath, "nonce": n }),
            ),
            "not made by the key",
        ),
        (
            proof(&app, &k, "GET", "/userinfo", json!({ "nonce": n })),
            "has no ath",
        ),
        (
            proof(
                &app,
                &k,
                "GET",
                "/userinfo",
                json!({ "ath": "x", "nonce": n }),
            ),
            "ath is not the hash",
        ),
        (
            proof(
                &app,
                &k,
                "POST",
                "/userinfo",
                json!({ "ath": ath, "nonce": n }),
            ),
            "htm must be GET",
        ),
    ] {
        let a = userinfo(&app, "DPoP", &access, &[&p]).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{why}");
        assert!(a.challenge[0].contains(why), "{why}: {:?}", a.challenge);
    }
    // A proof for another URI; and userinfo by POST, with its own proof.
    let p = proof(&app, &k, "GET", "/token", json!({ "ath": ath, "nonce": n }));
    let a = userinfo(&app, "DPoP", &access, &[&p]).await;
    assert!(a.challenge[0].contains("htu must be"), "{:?}", a.challenge);
    let p = proof(
        &app,
        &k,
        "POST",
        "/userinfo",
        json!({ "ath": ath, "nonce": n }),
    );
    let posted = answer(
        reqwest::Client::new()
            .post(format!("{}/userinfo", app.base))
            .header("Authorization", format!("DPoP {access}"))
            .header("DPoP", &p)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(posted.status, StatusCode::OK, "{:?}", posted.challenge);
    // A proof without the nonce: 401 use_dpop_nonce with one (§9).
    let p = proof(&app, &k, "GET", "/userinfo", json!({ "ath": ath }));
    let a = userinfo(&app, "DPoP", &access, &[&p]).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert!(
        a.challenge[0].contains("use_dpop_nonce"),
        "{:?}",
        a.challenge
    );
    assert!(a.nonce.is_some());

    // A request without a token hears both schemes and the algorithms.
    let none = answer(
        reqwest::get(format!("{}/userinfo", app.base))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert_eq!(none.challenge.len(), 2, "{:?}", none.challenge);
    assert!(none.challenge[1].starts_with("DPoP algs=\"ES256"));

    // An unbound token in the DPoP scheme is refused; as Bearer it works
    // (the positive control of the binding check).
    let code = self::code(&app, &rp, &b, "").await;
    let plain = redeem(&app, &rp, &code, &[]).await;
    assert_eq!(plain.body["token_type"], "Bearer");
    let plain = plain.body["access_token"].as_str().unwrap().to_string();
    assert!(decode_payload(&plain).get("cnf").is_none());
    let p = proof(
        &app,
        &k,
        "GET",
        "/userinfo",
        json!({ "ath": tongxing::service::dpop::token_hash(&plain), "nonce": n }),
    );
    let a = userinfo(&app, "DPoP", &plain, &[&p]).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert!(
        a.challenge[0].contains("not DPoP-bound"),
        "{:?}",
        a.challenge
    );
    assert_eq!(
        userinfo(&app, "Bearer", &plain, &[]).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn proofs_are_checked_as_rfc_9449_lists() {
    let (app, rp, _) = setup().await;
    let k = key(Alg::ES256);
    let n = nonce(&app, &rp, &k).await;
    let now = app.state.clock.now().unix_timestamp();
    let stranger = key(Alg::ES256);
    let rsa = key(Alg::RS256);
    let forged = {
        // Signed by another key than the one it shows.
        let p = proof(&app, &stranger, "POST", "/token", json!({ "nonce": n }));
        let header = json!({ "typ": "dpop+jwt", "alg": "ES256", "jwk": k.public_jwk() });
        let b64 = |v: &Value| {
            use base64::Engine;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
        };
        let parts: Vec<&str> = p.split('.').collect();
        format!("{}.{}.{}", b64(&header), parts[1], parts[2])
    };
    let mut relabelled = k.public_jwk().clone();
    relabelled["alg"] = json!("ES384");
    let mut private = k.public_jwk().clone();
    private["d"] = json!("AAAA");
    let cases: Vec<(String, &str)> = vec![
        (
            proof_with(
                &app,
                &k,
                "POST",
                "/token",
                json!({ "nonce": n }),
                json!({ "typ": "JWT" }),
            ),
            "typ must be dpop+jwt",
        ),
        (
            proof_with(
                &app,
                &k,
                "POST",
                "/token",
                json!({ "nonce": n }),
                json!({ "alg": "HS256" }),
            ),
            "alg must be one of",
        ),
        (
            proof_with(
                &app,
                &k,
                "POST",
                "/token",
                json!({ "nonce": n }),
                json!({ "jwk": null }),
            ),
            "has no jwk",
        ),
        (
            proof_with(
                &app,
                &k,
                "POST",
                "/token",
                json!({ "nonce": n }),
                json!({ "jwk": private }),
            ),
            "must not contain a private key",
        ),
        (forged, "signature does not verify"),
        (
            proof(&app, &k, "GET", "/token", json!({ "nonce": n })),
            "htm must be POST",
        ),
        (
            proof(&app, &k, "POST", "/userinfo", json!({ "nonce": n })),
            "htu must be",
        ),
        (
            proof(
                &app,
                &k,
                "POST",
                "/token",
                json!({ "nonce": n, "iat": now - 600 }),
            ),
            "iat must be within 60 seconds",
        ),
        (
            proof(
                &app,
                &k,
                "POST",
                "/token",
                json!({ "nonce": n, "iat": now + 600 }),
            ),
            "iat must be within 60 seconds",
        ),
        (
            proof(
                &app,
                &k,
                "POST",
                "/token",
                json!({ "nonce": n, "iat": i64::MIN + 10 }),
            ),
            "iat must be within 60 seconds",
        ),
        (
            proof(
                &app,
                &k,
                "POST",
                "/token",
                json!({ "nonce": n, "iat": -9.2e18 }),
            ),
            "iat must be within 60 seconds",
        ),
        (
            proof(
                &app,
                &k,
                "POST",
                "/token",
                json!({ "nonce": n, "jti": null }),
            ),
            "has no jti",
        ),
        (
            proof_with(
                &app,
                &k,
                "POST",
                "/token",
                json!({ "nonce": n }),
                json!({ "alg": "RS256" }),
            ),
            "not a key for RS256",
        ),
        (
            proof_with(
                &app,
                &k,
                "POST",
                "/token",
                json!({ "nonce": n }),
                json!({ "jwk": relabelled }),
            ),
            "not a key for ES256",
        ),
        (
            proof(&app, &k, "POST", "/token", json!({ "nonce": "made-up" })),
            "use_dpop_nonce",
        ),
    ];
    let cc = [("grant_type", "client_credentials")];
    for (p, why) in &cases {
        let a = token(&app, &rp, &cc, &[p]).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{why}: {}", a.body);
        let said = format!("{} {}", a.body["error"], a.body["error_description"]);
        if *why == "use_dpop_nonce" {
            assert_eq!(a.body["error"], "use_dpop_nonce");
        } else {
            assert_eq!(a.body["error"], "invalid_dpop_proof", "{why}: {said}");
            assert!(said.contains(why), "{why}: {said}");
        }
    }
    // Two DPoP headers (§4.3 step 1).
    let one = proof(&app, &k, "POST", "/token", json!({ "nonce": n }));
    let two = proof(&app, &k, "POST", "/token", json!({ "nonce": n }));
    let a = token(&app, &rp, &cc, &[&one, &two]).await;
    assert_eq!(a.body["error"], "invalid_dpop_proof", "{}", a.body);

    // The positive controls: good proofs by each kind of key, the htu
    // with a query and the scheme in capitals (§4.3 step 9), and an `iat`
    // near the edge of the accepted age (the test clock runs with real
    // time, so not at the very edge).
    let upper = app.config.issuer().replace("http://", "HTTP://");
    let now = app.state.clock.now().unix_timestamp();
    let capital = proof_with(
        &app,
        &k,
        "POST",
        "/token",
        json!({ "nonce": n }),
        json!({ "typ": "DPoP+JWT" }),
    );
    assert_eq!(
        token(&app, &rp, &cc, &[&capital]).await.status,
        StatusCode::OK
    );
    for (k, claims) in [
        (&k, json!({ "nonce": n })),
        (&rsa, json!({ "nonce": n, "iat": now - 50 })),
        (
            &key(Alg::EdDSA),
            json!({ "nonce": n, "htu": format!("{upper}/token?x=1") }),
        ),
    ] {
        let p = proof(&app, k, "POST", "/token", claims);
        let a = token(&app, &rp, &cc, &[&p]).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        assert_eq!(a.body["token_type"], "DPoP");
        assert_eq!(
            decode_payload(a.body["access_token"].as_str().unwrap())["cnf"]["jkt"],
            jkt(k)
        );
        // Once only.
        let again = token(&app, &rp, &cc, &[&p]).await;
        assert_eq!(again.body["error"], "invalid_dpop_proof");
    }
    // Without a proof the same request gets a bearer token.
    let plain = token(&app, &rp, &cc, &[]).await;
    assert_eq!(plain.body["token_type"], "Bearer", "{}", plain.body);

    // Nonces stay valid for five minutes (NONCE_TTL), then are refused.
    app.advance(std::time::Duration::from_secs(301));
    let late = proof(&app, &k, "POST", "/token", json!({ "nonce": n }));
    let a = token(&app, &rp, &cc, &[&late]).await;
    assert_eq!(a.body["error"], "use_dpop_nonce", "{}", a.body);
    let fresh = a.nonce.unwrap();
    assert_ne!(fresh, n);
    let p = proof(&app, &k, "POST", "/token", json!({ "nonce": fresh }));
    assert_eq!(token(&app, &rp, &cc, &[&p]).await.status, StatusCode::OK);
}

#[tokio::test]
async fn without_nonces_a_proof_needs_none() {
    let app = TestApp::spawn_with(|c| c.oidc.dpop_nonce = false).await;
    let rp = app.rp("svc").await;
    let k = key(Alg::ES256);
    let p = proof(&app, &k, "POST", "/token", json!({}));
    let a = token(&app, &rp, &[("grant_type", "client_credentials")], &[&p]).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body["token_type"], "DPoP");
    assert!(a.nonce.is_none());
}

async fn refresh_public(app: &TestApp, rp: &Rp, refresh: &str, proofs: &[&str]) -> Answer {
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh),
        ("client_id", rp.id.as_str()),
    ];
    token(app, rp, &form, proofs).await
}

#[tokio::test]
async fn a_public_clients_refresh_token_is_bound_to_its_key() {
    let app = TestApp::spawn().await;
    app.user("li@cnic.cn").await;
    let rp = app
        .rp_with("cli", |c| {
            c.first_party = true;
            c.public = true;
            c.scopes = Some("openid profile offline_access".into());
        })
        .await;
    let b = app.browser();
    let k = key(Alg::ES256);
    let n = {
        let p = proof(&app, &k, "POST", "/token", json!({}));
        let form = [("grant_type", "refresh_token"), ("client_id", "cli")];
        let a = token(&app, &rp, &form, &[&p]).await;
        assert_eq!(a.body["error"], "use_dpop_nonce", "{}", a.body);
        a.nonce.expect("nonce")
    };
    let code = code(&app, &rp, &b, "").await;
    let mut form = redeem_form(&code);
    form.push(("client_id", rp.id.clone()));
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let p = proof(&app, &k, "POST", "/token", json!({ "nonce": n }));
    let issued = token(&app, &rp, &form, &[&p]).await;
    assert_eq!(issued.status, StatusCode::OK, "{}", issued.body);
    let refresh = issued.body["refresh_token"].as_str().unwrap().to_string();
    // Without a proof, or with another key's: refused, and the token is
    // not spent by that.
    let a = refresh_public(&app, &rp, &refresh, &[]).await;
    assert_eq!(a.body["error"], "invalid_grant", "{}", a.body);
    assert!(
        a.body["error_description"]
            .as_str()
            .unwrap()
            .contains("DPoP")
    );
    let other = key(Alg::ES256);
    let p = proof(&app, &other, "POST", "/token", json!({ "nonce": n }));
    let a = refresh_public(&app, &rp, &refresh, &[&p]).await;
    assert_eq!(a.body["error"], "invalid_grant", "{}", a.body);
    // By its key: a new pair, the access token bound again.
    let p = proof(&app, &k, "POST", "/token", json!({ "nonce": n }));
    let a = refresh_public(&app, &rp, &refresh, &[&p]).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body["token_type"], "DPoP");
    assert_eq!(
        decode_payload(a.body["access_token"].as_str().unwrap())["cnf"]["jkt"],
        jkt(&k)
    );
    // The rotated token stays bound.
    let rotated = a.body["refresh_token"].as_str().unwrap().to_string();
    let a = refresh_public(&app, &rp, &rotated, &[]).await;
    assert_eq!(a.body["error"], "invalid_grant", "{}", a.body);
    // A used one revokes its family even without a proof (reuse detection
    // comes before the binding).
    let a = refresh_public(&app, &rp, &refresh, &[]).await;
    assert!(
        a.body["error_description"]
            .as_str()
            .unwrap()
            .contains("already used"),
        "{}",
        a.body
    );
    let p = proof(&app, &k, "POST", "/token", json!({ "nonce": n }));
    let a = refresh_public(&app, &rp, &rotated, &[&p]).await;
    assert_eq!(a.body["error"], "invalid_grant", "revoked: {}", a.body);

    // A family made without a proof is bound by the first refresh with one.
    let code = self::code(&app, &rp, &b, "").await;
    let mut form = redeem_form(&code);
    form.push(("client_id", rp.id.clone()));
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let unbound = token(&app, &rp, &form, &[]).await;
    assert_eq!(unbound.body["token_type"], "Bearer", "{}", unbound.body);
    let t = unbound.body["refresh_token"].as_str().unwrap();
    let p = proof(&app, &k, "POST", "/token", json!({ "nonce": n }));
    let a = refresh_public(&app, &rp, t, &[&p]).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let next = a.body["refresh_token"].as_str().unwrap();
    let a = refresh_public(&app, &rp, next, &[]).await;
    assert_eq!(a.body["error"], "invalid_grant", "now bound: {}", a.body);

    // A confidential client's refresh token is bound to its credentials,
    // not to the key (§5): refreshed without a proof, it is a bearer pair.
    let (app, conf, b) = setup().await;
    let code = self::code(&app, &conf, &b, "").await;
    let n = nonce(&app, &conf, &k).await;
    let p = proof(&app, &k, "POST", "/token", json!({ "nonce": n }));
    let issued = redeem(&app, &conf, &code, &[&p]).await;
    let refresh = issued.body["refresh_token"].as_str().unwrap();
    let a = token(
        &app,
        &conf,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
        &[],
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body["token_type"], "Bearer");
}

#[tokio::test]
async fn dpop_jkt_and_a_pushed_proof_bind_the_code() {
    let (app, rp, b) = setup().await;
    let k = key(Alg::ES256);
    let other = key(Alg::ES256);
    let n = nonce(&app, &rp, &k).await;

    // A malformed thumbprint is refused at the redirect URI.
    let back = b
        .authorize_as(
            &authorize_url(&app, &rp, "&dpop_jkt=short"),
            "li@cnic.cn",
            PASSWORD,
            "allow",
        )
        .await;
    assert_eq!(query(&back)["error"], "invalid_request", "{back}");

    // §10: a code asked for with dpop_jkt goes only with that key's proof.
    let bound = format!("&dpop_jkt={}", jkt(&k));
    let code = code(&app, &rp, &b, &bound).await;
    let wrong = proof(&app, &other, "POST", "/token", json!({ "nonce": n }));
    let a = redeem(&app, &rp, &code, &[&wrong]).await;
    assert_eq!(a.body["error"], "invalid_grant", "{}", a.body);
    assert!(
        a.body["error_description"]
            .as_str()
            .unwrap()
            .contains("dpop_jkt")
    );
    let code = self::code(&app, &rp, &b, &bound).await;
    let a = redeem(&app, &rp, &code, &[]).await;
    assert_eq!(a.body["error"], "invalid_grant", "{}", a.body);
    let code = self::code(&app, &rp, &b, &bound).await;
    let right = proof(&app, &k, "POST", "/token", json!({ "nonce": n }));
    let a = redeem(&app, &rp, &code, &[&right]).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);

    // §10.1: a proof with the pushed request binds the code as well.
    let push = |proofs: Vec<String>, extra: Vec<(&'static str, String)>| {
        let app = &app;
        let rp = &rp;
        async move {
            let mut form = vec![
                ("response_type", "code".to_string()),
                ("client_id", rp.id.clone()),
                ("redirect_uri", REDIRECT.to_string()),
                ("scope", "openid".to_string()),
                ("code_challenge", crate::oidc_rules::CHALLENGE.to_string()),
                ("code_challenge_method", "S256".to_string()),
            ];
            form.extend(extra);
            let mut r = reqwest::Client::new()
                .post(format!("{}/par", app.base))
                .basic_auth(&rp.id, rp.secret.as_deref());
            for p in &proofs {
                r = r.header("DPoP", p);
            }
            answer(r.form(&form).send().await.unwrap()).await
        }
    };
    let a = push(
        vec![proof(&app, &k, "POST", "/par", json!({ "nonce": n }))],
        vec![("dpop_jkt", jkt(&other))],
    )
    .await;
    assert_eq!(a.body["error"], "invalid_dpop_proof", "{}", a.body);
    let a = push(
        vec![proof(&app, &k, "POST", "/par", json!({ "nonce": n }))],
        vec![],
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    let uri = a.body["request_uri"].as_str().unwrap();
    let url = format!(
        "{}/authorize?client_id={}&request_uri={}",
        app.base,
        rp.id,
        url::form_urlencoded::byte_serialize(uri.as_bytes()).collect::<String>()
    );
    let back = b.authorize_as(&url, "li@cnic.cn", PASSWORD, "allow").await;
    let code = query(&back)["code"].clone();
    let a = redeem(
        &app,
        &rp,
        &code,
        &[&proof(
            &app,
            &other,
            "POST",
            "/token",
            json!({ "nonce": n }),
        )],
    )
    .await;
    assert_eq!(a.body["error"], "invalid_grant", "{}", a.body);
    // The positive control: pushed with a proof and a matching dpop_jkt,
    // redeemed with the key's proof.
    let a = push(
        vec![proof(&app, &k, "POST", "/par", json!({ "nonce": n }))],
        vec![("dpop_jkt", jkt(&k))],
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    assert!(a.nonce.is_some(), "the push offers the next nonce");
    let uri = a.body["request_uri"].as_str().unwrap();
    let url = format!(
        "{}/authorize?client_id={}&request_uri={}",
        app.base,
        rp.id,
        url::form_urlencoded::byte_serialize(uri.as_bytes()).collect::<String>()
    );
    let back = b.authorize_as(&url, "li@cnic.cn", PASSWORD, "allow").await;
    let code = query(&back)["code"].clone();
    let a = redeem(
        &app,
        &rp,
        &code,
        &[&proof(&app, &k, "POST", "/token", json!({ "nonce": n }))],
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body["token_type"], "DPoP");
}

#[tokio::test]
async fn a_client_can_require_dpop() {
    let app = TestApp::spawn().await;
    let rp = app
        .rp_with("svc", |c| c.dpop_bound_access_tokens = true)
        .await;
    let cc = [("grant_type", "client_credentials")];
    let a = token(&app, &rp, &cc, &[]).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.body["error"], "invalid_dpop_proof", "{}", a.body);
    let k = key(Alg::ES256);
    let n = nonce(&app, &rp, &k).await;
    let p = proof(&app, &k, "POST", "/token", json!({ "nonce": n }));
    assert_eq!(token(&app, &rp, &cc, &[&p]).await.status, StatusCode::OK);

    // The setting through the management API and the CLI.
    let admin = crate::admin_api::admin_token(&app).await;
    let api = crate::admin_api::Api::new(&app, &admin);
    let (status, created) = api
        .post(
            "/api/v1/clients",
            json!({ "id": "svc2", "name": "Svc 2", "redirect_uris": ["https://svc.example.org/cb"], "dpop_bound_access_tokens": true }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(
        created["client"]["dpop_bound_access_tokens"], true,
        "{created}"
    );
    let svc2 = Rp {
        id: "svc2".into(),
        secret: created["client_secret"].as_str().map(str::to_string),
        redirect_uri: String::new(),
    };
    let a = token(&app, &svc2, &cc, &[]).await;
    assert_eq!(a.body["error"], "invalid_dpop_proof", "{}", a.body);
    let (status, changed) = api
        .call(
            "PATCH",
            "/api/v1/clients/svc2",
            Some(json!({ "version": 1, "dpop_bound_access_tokens": false })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["dpop_bound_access_tokens"], false, "{changed}");
    let a = token(&app, &svc2, &cc, &[]).await;
    assert_eq!(
        a.body["token_type"], "Bearer",
        "no longer required: {}",
        a.body
    );
    let out = app
        .cli(
            &[
                "client",
                "update",
                "svc2",
                "--require-dpop",
                "true",
                "--json",
            ],
            None,
        )
        .await;
    assert_eq!(out.json()["dpop_bound_access_tokens"], true);
    let a = token(&app, &svc2, &cc, &[]).await;
    assert_eq!(
        a.body["error"], "invalid_dpop_proof",
        "required again: {}",
        a.body
    );
}

#[tokio::test]
async fn browser_clients_may_send_proofs_and_read_nonces() {
    let app = TestApp::spawn().await;
    let preflight = reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, format!("{}/token", app.base))
        .header("origin", "https://spa.example.org")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "dpop, content-type")
        .send()
        .await
        .unwrap();
    let allowed = preflight.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(allowed.contains("dpop"), "{allowed}");
    assert!(allowed.contains("content-type"), "{allowed}");
    let rp = app.rp("svc").await;
    let k = key(Alg::ES256);
    let p = proof(&app, &k, "POST", "/token", json!({}));
    let r = reqwest::Client::new()
        .post(format!("{}/token", app.base))
        .header("origin", "https://spa.example.org")
        .basic_auth(&rp.id, rp.secret.as_deref())
        .header("DPoP", &p)
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let exposed = r.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(exposed.contains("dpop-nonce"), "{exposed}");
    assert!(exposed.contains("www-authenticate"), "{exposed}");
    assert!(r.headers().contains_key("dpop-nonce"));
}

#[tokio::test]
async fn a_challenge_never_carries_a_quote_from_the_request() {
    let app = TestApp::spawn().await;
    let r = reqwest::Client::new()
        .post(format!("{}/userinfo", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("a%22b=1&a%22b=2")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let c = r.headers()["www-authenticate"].to_str().unwrap();
    // The description is there, with the quote replaced.
    assert!(c.contains("error=\"invalid_request\""), "{c}");
    assert!(c.contains("a?b"), "{c}");
    assert_eq!(c.matches('"').count(), 6, "{c}");
}

// Nonces and spent jtis live in process memory on the embedded single
// node; with Redis every node sees them.
#[tokio::test]
#[ignore = "needs Redis: TONGXING_TEST_REDIS_URL"]
async fn nonces_and_spent_proofs_are_shared_between_nodes_with_redis() {
    // Two nodes behind one name, as behind a load balancer.
    let a = TestApp::spawn_with_redis_and(|c| c.issuer = Some("http://id.test".into())).await;
    let b_node = a.spawn_node().await;
    let rp = a.rp("svc").await;
    let k = key(Alg::ES256);
    let n = nonce(&a, &rp, &k).await;
    let cc = [("grant_type", "client_credentials")];
    // The nonce node A made is good on node B.
    let p = proof(&b_node, &k, "POST", "/token", json!({ "nonce": n }));
    let on_b = token(&b_node, &rp, &cc, &[&p]).await;
    assert_eq!(on_b.status, StatusCode::OK, "{}", on_b.body);
    // The proof B accepted is spent on A too.
    let on_a = token(&a, &rp, &cc, &[&p]).await;
    assert_eq!(on_a.body["error"], "invalid_dpop_proof", "{}", on_a.body);
    assert!(
        on_a.body["error_description"]
            .as_str()
            .unwrap()
            .contains("jti")
    );
    // The positive control: a fresh proof on A.
    let p = proof(&a, &k, "POST", "/token", json!({ "nonce": n }));
    assert_eq!(token(&a, &rp, &cc, &[&p]).await.status, StatusCode::OK);
}
