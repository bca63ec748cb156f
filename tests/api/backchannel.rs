//! Back-channel logout: ending a session sends a signed logout token to
//! every client that took part in it.

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::StatusCode as AxumStatus;
use axum::routing::post;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{PASSWORD, REDIRECT, TestApp, query};
use crate::oidc::{decode_header, decode_payload};

type Seen = Arc<Mutex<Vec<String>>>;

/// A relying party's back-channel endpoint that records what it receives.
/// The first `fail_first` deliveries get a 503, to exercise the retries.
pub async fn receiver(fail_first: usize) -> (String, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let failures = Arc::new(Mutex::new(fail_first));
    let app = axum::Router::new()
        .route(
            "/backchannel",
            post(|State((seen, failures)): State<(Seen, Arc<Mutex<usize>>)>, body: String| async move {
                let mut left = failures.lock().unwrap();
                if *left > 0 {
                    *left -= 1;
                    return AxumStatus::SERVICE_UNAVAILABLE;
                }
                seen.lock().unwrap().push(body);
                AxumStatus::OK
            }),
        )
        .with_state((seen.clone(), failures));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/backchannel", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

pub async fn wait_for(seen: &Arc<Mutex<Vec<String>>>, n: usize) -> Vec<String> {
    for _ in 0..200 {
        let got = seen.lock().unwrap().clone();
        if got.len() >= n {
            return got;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no back-channel logout arrived");
}

#[tokio::test]
async fn logout_notifies_every_client_of_the_session() {
    let app = TestApp::spawn().await;
    app.user("li@cnic.cn").await;
    let (mail_url, mail_seen) = receiver(0).await;
    let (arp_url, arp_seen) = receiver(2).await;
    let mail = app
        .rp_with("mail", |c| {
            c.first_party = true;
            c.backchannel_logout_uri = Some(mail_url);
        })
        .await;
    let arp = app
        .rp_with("arp", |c| {
            c.first_party = true;
            c.id_token_alg = Some("EdDSA".into());
            c.backchannel_logout_uri = Some(arp_url);
        })
        .await;
    let b = app.browser();
    let mut sid = String::new();
    for rp in [&mail, &arp] {
        let url = format!(
            "{}/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid&state=s",
            app.base,
            rp.id,
            url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>()
        );
        let back = b.authorize_as(&url, "li@cnic.cn", PASSWORD, "allow").await;
        let r = reqwest::Client::new()
            .post(format!("{}/token", app.base))
            .basic_auth(&rp.id, rp.secret.as_deref())
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", query(&back)["code"].as_str()),
                ("redirect_uri", REDIRECT),
            ])
            .send()
            .await
            .unwrap();
        let tokens: Value = r.json().await.unwrap();
        sid = decode_payload(tokens["id_token"].as_str().unwrap())["sid"]
            .as_str()
            .unwrap()
            .to_string();
    }
    // Signing out on the hosted page (no hint): confirm, then both apps hear of it.
    let confirm = b.get("/logout").await;
    let done = b.submit_page(&confirm, "/logout", &[]).await;
    assert_eq!(done.redirect(), (StatusCode::SEE_OTHER, Some("/logout")));

    for (seen, client, alg) in [(&mail_seen, "mail", "RS256"), (&arp_seen, "arp", "EdDSA")] {
        let bodies = wait_for(seen, 1).await;
        let form: std::collections::HashMap<String, String> =
            url::form_urlencoded::parse(bodies[0].as_bytes())
                .into_owned()
                .collect();
        let token = &form["logout_token"];
        let header = decode_header(token);
        assert_eq!(header["typ"], "logout+jwt");
        assert_eq!(header["alg"], alg);
        let claims = decode_payload(token);
        assert_eq!(claims["aud"], client);
        assert_eq!(claims["iss"], app.base);
        assert_eq!(claims["sid"], sid);
        assert!(claims["events"]["http://schemas.openid.net/event/backchannel-logout"].is_object());
        assert!(
            claims.get("nonce").is_none(),
            "a logout token never has a nonce"
        );
        assert!(claims["jti"].is_string() && claims["sub"].is_string());
        // The signature verifies against the published keys.
        let jwks: jsonwebtoken::jwk::JwkSet =
            serde_json::from_str(&app.browser().get("/jwks").await.body).unwrap();
        let jwk = jwks.find(header["kid"].as_str().unwrap()).unwrap();
        let mut v = jsonwebtoken::Validation::new(if alg == "RS256" {
            jsonwebtoken::Algorithm::RS256
        } else {
            jsonwebtoken::Algorithm::EdDSA
        });
        v.set_audience(&[client]);
        v.required_spec_claims.clear();
        jsonwebtoken::decode::<Value>(
            token,
            &jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap(),
            &v,
        )
        .unwrap();
    }
    // One audit entry per delivery; arp needed retries but succeeded.
    for _ in 0..100 {
        if app.audit("logout.backchannel").await.len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let deliveries = app.audit("logout.backchannel").await;
    assert_eq!(deliveries.len(), 2);
    assert!(deliveries.iter().all(|d| d.outcome == "success"));
}

async fn sign_into(
    app: &TestApp,
    b: &crate::helpers::Browser,
    rp: &crate::helpers::Rp,
    extra: &str,
) {
    let url = format!(
        "{}/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid{extra}",
        app.base,
        rp.id,
        url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>()
    );
    let back = b.authorize_as(&url, "li@cnic.cn", PASSWORD, "allow").await;
    assert!(query(&back).contains_key("code"), "{back}");
}

#[tokio::test]
async fn signing_in_again_keeps_the_session_for_its_clients() {
    let app = TestApp::spawn().await;
    app.user("li@cnic.cn").await;
    let (mail_url, mail_seen) = receiver(0).await;
    let (arp_url, arp_seen) = receiver(0).await;
    let mail = app
        .rp_with("mail", |c| {
            c.first_party = true;
            c.backchannel_logout_uri = Some(mail_url);
        })
        .await;
    let arp = app
        .rp_with("arp", |c| {
            c.first_party = true;
            c.backchannel_logout_uri = Some(arp_url);
        })
        .await;
    let b = app.browser();
    sign_into(&app, &b, &mail, "").await;
    // ARP asks for a fresh login: same account, so the same session goes on.
    sign_into(&app, &b, &arp, "&prompt=login").await;
    let confirm = b.get("/logout").await;
    b.submit_page(&confirm, "/logout", &[]).await;
    wait_for(&mail_seen, 1).await;
    wait_for(&arp_seen, 1).await;
}

#[tokio::test]
async fn disabling_an_account_notifies_its_clients() {
    let app = TestApp::spawn().await;
    app.user("li@cnic.cn").await;
    let (mail_url, mail_seen) = receiver(0).await;
    let mail = app
        .rp_with("mail", |c| {
            c.first_party = true;
            c.backchannel_logout_uri = Some(mail_url);
        })
        .await;
    let b = app.browser();
    sign_into(&app, &b, &mail, "").await;
    let out = app.cli(&["user", "disable", "li@cnic.cn"], None).await;
    assert_eq!(out.code, 0);
    // The CLI waits for the deliveries it started before it exits.
    let bodies = wait_for(&mail_seen, 1).await;
    assert!(bodies[0].starts_with("logout_token="));
}
