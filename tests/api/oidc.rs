//! The full OpenID Connect flow with the `openidconnect` crate as the
//! relying party: discovery → authorize → login form → consent → code →
//! tokens → ID token validation (JWKS signature, nonce, at_hash) →
//! userinfo → refresh → introspect → revoke → logout.

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata,
    CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IntrospectionUrl,
    IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope,
    TokenIntrospectionResponse, TokenResponse,
};
use reqwest::StatusCode;
use tongxing::service::accounts::NewAccount;

use crate::helpers::{PASSWORD, Rp, SIGN_IN_FIRST, TestApp, query};

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub async fn user(app: &TestApp) {
    app.user_with(NewAccount {
        username: "zhang@cnic.cn".into(),
        display_name: Some("张三".into()),
        login_phone: Some("13312348347".into()),
        organization: Some("CNIC".into()),
        ..NewAccount::default()
    })
    .await;
}

/// Runs the whole flow for one client and signing algorithm.
pub async fn full_flow(app: &TestApp, rp: &Rp, alg: CoreJwsSigningAlgorithm) {
    let http = http();
    let issuer = IssuerUrl::new(app.base.clone()).unwrap();
    let meta = CoreProviderMetadata::discover_async(issuer, &http)
        .await
        .expect("discovery");
    let client = CoreClient::from_provider_metadata(
        meta,
        ClientId::new(rp.id.clone()),
        rp.secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(RedirectUrl::new(rp.redirect_uri.clone()).unwrap())
    .set_introspection_url(IntrospectionUrl::new(format!("{}/introspect", app.base)).unwrap());

    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("phone".into()))
        .add_scope(Scope::new("offline_access".into()))
        .set_pkce_challenge(challenge)
        .url();

    let browser = app.browser();
    let back = browser
        .authorize_as(url.as_str(), "zhang@cnic.cn", PASSWORD, "allow")
        .await;
    assert!(back.starts_with(&rp.redirect_uri), "{back}");
    let q = query(&back);
    assert_eq!(q["state"], *csrf.secret());
    assert_eq!(q["iss"], app.base, "RFC 9207 iss parameter");

    let token = client
        .exchange_code(AuthorizationCode::new(q["code"].clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("token");
    let id_token = token.id_token().expect("id_token");
    let id_verifier = client
        .id_token_verifier()
        .set_allowed_algs(vec![alg.clone()]);
    let claims = id_token
        .claims(&id_verifier, &nonce)
        .expect("valid id_token");
    assert_eq!(id_token.signing_alg().unwrap(), &alg);
    let expected = AccessTokenHash::from_token(
        token.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&id_verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&expected), "at_hash");
    assert!(claims.auth_time().is_some());
    assert_eq!(
        claims.preferred_username().unwrap().as_str(),
        "zhang@cnic.cn"
    );
    assert_eq!(claims.email().unwrap().as_str(), "zhang@cnic.cn");
    assert_eq!(claims.phone_number().unwrap().as_str(), "+8613312348347");
    assert_eq!(
        claims.auth_context_ref().unwrap().as_str(),
        "urn:tongxing:acr:password"
    );
    assert_eq!(claims.auth_method_refs().unwrap()[0].as_str(), "pwd");
    let sub = claims.subject().as_str().to_string();
    assert!(
        !sub.contains("13312348347"),
        "sub is never the phone number"
    );
    // Extra claims the crate does not model: sid and organization.
    let raw = decode_payload(&id_token.to_string());
    assert!(raw["sid"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(raw["organization"], "CNIC");

    // The access token is an RFC 9068 JWT.
    let at_header = decode_header(token.access_token().secret());
    assert_eq!(at_header["typ"], "at+jwt");

    let info: CoreUserInfoClaims = client
        .user_info(token.access_token().clone(), None)
        .unwrap()
        .request_async(&http)
        .await
        .expect("userinfo");
    assert_eq!(info.subject().as_str(), sub);
    assert_eq!(info.name().unwrap().get(None).unwrap().as_str(), "张三");

    let refresh = token
        .refresh_token()
        .expect("offline_access gives a refresh token")
        .clone();
    let refreshed = client
        .exchange_refresh_token(&refresh)
        .unwrap()
        .request_async(&http)
        .await
        .expect("refresh");
    let new_refresh = refreshed.refresh_token().expect("rotated").clone();
    assert_ne!(new_refresh.secret(), refresh.secret());
    assert!(refreshed.id_token().is_some());

    let intro = client
        .introspect(refreshed.access_token())
        .request_async(&http)
        .await
        .expect("introspect");
    assert!(intro.active());
    assert_eq!(intro.sub(), Some(sub.as_str()));

    // The oauth2 crate refuses to revoke over plain http (RFC 7009 wants
    // TLS), so this one call is made by hand.
    let mut form = vec![("token", new_refresh.secret().clone())];
    let mut req = http.post(format!("{}/revoke", app.base));
    match &rp.secret {
        Some(secret) => req = req.basic_auth(&rp.id, Some(secret)),
        None => form.push(("client_id", rp.id.clone())),
    }
    let revoked = req.form(&form).send().await.unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);
    let after = client
        .exchange_refresh_token(&new_refresh)
        .unwrap()
        .request_async(&http)
        .await;
    assert!(after.is_err(), "revoked refresh token no longer works");
    let intro = client
        .introspect(refreshed.access_token())
        .request_async(&http)
        .await
        .expect("introspect");
    assert!(
        !intro.active(),
        "revoking the refresh token revokes its family"
    );

    // RP-initiated logout with the hint: no confirmation, back to the app.
    let logout = format!(
        "/logout?id_token_hint={}&post_logout_redirect_uri={}&state=bye123",
        id_token, "https%3A%2F%2Frp.example.org%2Fbye"
    );
    let page = browser.get(&logout).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(
        page.location(),
        Some("https://rp.example.org/bye?state=bye123")
    );
    assert_eq!(
        browser.get("/account").await.redirect(),
        SIGN_IN_FIRST,
        "signed out"
    );
}

pub fn decode_payload(jwt: &str) -> serde_json::Value {
    use base64::Engine;
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap(),
    )
    .unwrap()
}

pub fn decode_header(jwt: &str) -> serde_json::Value {
    use base64::Engine;
    let part = jwt.split('.').next().unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn confidential_client_rs256() {
    let app = TestApp::spawn().await;
    user(&app).await;
    let rp = app.rp("mail").await;
    full_flow(&app, &rp, CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256).await;
    assert_eq!(app.audit("consent.granted").await.len(), 1);
}

#[tokio::test]
async fn public_client_with_pkce_es256() {
    let app = TestApp::spawn().await;
    user(&app).await;
    let rp = app
        .rp_with("spa", |c| {
            c.public = true;
            c.id_token_alg = Some("ES256".into());
        })
        .await;
    assert!(rp.secret.is_none());
    full_flow(&app, &rp, CoreJwsSigningAlgorithm::EcdsaP256Sha256).await;
}

#[tokio::test]
async fn client_secret_post_eddsa() {
    let app = TestApp::spawn().await;
    user(&app).await;
    let rp = app
        .rp_with("arp", |c| {
            c.token_auth_method = Some("client_secret_post".into());
            c.id_token_alg = Some("EdDSA".into());
            c.first_party = true;
        })
        .await;
    // openidconnect uses Basic by default; switch to post.
    let http = http();
    let meta =
        CoreProviderMetadata::discover_async(IssuerUrl::new(app.base.clone()).unwrap(), &http)
            .await
            .unwrap();
    let client = CoreClient::from_provider_metadata(
        meta,
        ClientId::new(rp.id.clone()),
        rp.secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(RedirectUrl::new(rp.redirect_uri.clone()).unwrap())
    .set_auth_type(openidconnect::AuthType::RequestBody);
    let (url, _csrf, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .url();
    let back = app
        .browser()
        .authorize_as(url.as_str(), "zhang@cnic.cn", PASSWORD, "allow")
        .await;
    assert!(
        app.audit("consent.granted").await.is_empty(),
        "first-party clients skip consent"
    );
    let token = client
        .exchange_code(AuthorizationCode::new(query(&back)["code"].clone()))
        .unwrap()
        .request_async(&http)
        .await
        .unwrap();
    let id_token = token.id_token().unwrap();
    let v = client
        .id_token_verifier()
        .set_allowed_algs(vec![CoreJwsSigningAlgorithm::EdDsa]);
    id_token
        .claims(&v, &nonce)
        .expect("EdDSA id_token verifies");
    assert!(
        token.refresh_token().is_some(),
        "first-party clients get refresh tokens without offline_access"
    );
}

#[tokio::test]
async fn discovery_document_matches_the_routes() {
    let app = TestApp::spawn().await;
    let page = app.browser().get("/.well-known/openid-configuration").await;
    assert_eq!(page.status, StatusCode::OK);
    let d: serde_json::Value = serde_json::from_str(&page.body).unwrap();
    assert_eq!(d["issuer"], app.base);
    for (key, path) in [
        ("authorization_endpoint", "/authorize"),
        ("token_endpoint", "/token"),
        ("userinfo_endpoint", "/userinfo"),
        ("jwks_uri", "/jwks"),
        ("end_session_endpoint", "/logout"),
        ("introspection_endpoint", "/introspect"),
        ("revocation_endpoint", "/revoke"),
    ] {
        assert_eq!(d[key], format!("{}{path}", app.base), "{key}");
    }
    assert_eq!(
        d["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(d["backchannel_logout_supported"], true);
    assert_eq!(d["backchannel_logout_session_supported"], true);
    assert!(
        d["claims_supported"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "organization")
    );
    assert!(d["acr_values_supported"].as_array().unwrap().len() >= 2);
    let jwks = app.browser().get("/jwks").await;
    assert!(jwks.header("cache-control").unwrap().contains("max-age"));
    let keys: serde_json::Value = serde_json::from_str(&jwks.body).unwrap();
    let algs: Vec<&str> = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["alg"].as_str().unwrap())
        .collect();
    for alg in ["RS256", "ES256", "EdDSA"] {
        assert!(algs.contains(&alg), "{alg}");
    }
    assert!(keys.to_string().find("\"d\"").is_none(), "no private parts");
}

#[tokio::test]
async fn confidential_client_eddsa_full_flow() {
    let app = TestApp::spawn().await;
    user(&app).await;
    let rp = app
        .rp_with("arp", |c| c.id_token_alg = Some("EdDSA".into()))
        .await;
    full_flow(&app, &rp, CoreJwsSigningAlgorithm::EdDsa).await;
}
