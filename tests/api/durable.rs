//! What must survive the ephemeral store (Redis, or the process's memory):
//! after it loses its data, a revoked access token stays revoked, a
//! redeemed authorization code stays redeemed (its replay still revokes
//! the grant), and a used client assertion stays used. Each test works on
//! a node started after the loss ([`TestApp::spawn_node_after_ephemeral_loss`]),
//! with a control that is not affected. Records the store gives back (a
//! failover to a replica that missed a delete) are simulated by writing
//! them again: a redeemed code, a used e-mail confirmation link.

use reqwest::StatusCode;
use serde_json::{Value, json};
use tongxing::crypto::jws::{Alg, SigningKey};

use crate::helpers::{PASSWORD, Rp, TestApp, link_in, query};
use crate::oidc_rules::{authorize_url, redeem, token};

const USER: &str = "li@cnic.cn";

async fn setup() -> (TestApp, Rp) {
    let app = TestApp::spawn().await;
    app.user(USER).await;
    let rp = app.rp_with("mail", |c| c.first_party = true).await;
    (app, rp)
}

/// A fresh authorization code for `rp`, from a browser of its own.
async fn code(app: &TestApp, rp: &Rp) -> String {
    let back = app
        .browser()
        .authorize_as(&authorize_url(app, rp, ""), USER, PASSWORD, "allow")
        .await;
    query(&back)["code"].clone()
}

/// The access and refresh token a redeemed code gave.
async fn tokens(app: &TestApp, rp: &Rp, code: &str) -> (String, String) {
    let (status, body) = redeem(app, rp, code).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (
        body["access_token"].as_str().unwrap().to_string(),
        body["refresh_token"].as_str().unwrap().to_string(),
    )
}

async fn post(app: &TestApp, rp: &Rp, path: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let r = reqwest::Client::new()
        .post(format!("{}{path}", app.base))
        .basic_auth(&rp.id, rp.secret.as_deref())
        .form(form)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn active(app: &TestApp, rp: &Rp, token: &str) -> bool {
    let (status, body) = post(app, rp, "/introspect", &[("token", token)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["active"].as_bool().unwrap()
}

async fn userinfo(app: &TestApp, access: &str) -> StatusCode {
    reqwest::Client::new()
        .get(format!("{}/userinfo", app.base))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .status()
}

async fn refresh(app: &TestApp, rp: &Rp, refresh: &str) -> (StatusCode, Value) {
    token(
        app,
        rp,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .await
}

#[tokio::test]
async fn a_revoked_access_token_stays_revoked_when_the_ephemeral_store_is_lost() {
    let (app, rp) = setup().await;
    let c = code(&app, &rp).await;
    let (revoked, refresh_token) = tokens(&app, &rp, &c).await;
    // The control: another access token of the same grant, not revoked.
    let (status, body) = refresh(&app, &rp, &refresh_token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let kept = body["access_token"].as_str().unwrap().to_string();
    // And a client_credentials token, revoked (only its jti says so), with
    // its own control.
    let svc = app
        .rp_with("svc", |c| {
            c.scopes = Some("profile".into());
        })
        .await;
    let client_token = || async {
        let (status, body) = token(
            &app,
            &svc,
            &[("grant_type", "client_credentials"), ("scope", "profile")],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["access_token"].as_str().unwrap().to_string()
    };
    let (svc_revoked, svc_kept) = (client_token().await, client_token().await);

    for (client, t) in [(&rp, &revoked), (&svc, &svc_revoked)] {
        let (status, body) = post(&app, client, "/revoke", &[("token", t)]).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    assert!(!active(&app, &rp, &revoked).await);
    assert!(active(&app, &rp, &kept).await);

    let after = app.spawn_node_after_ephemeral_loss().await;
    assert!(
        !active(&after, &rp, &revoked).await,
        "a revoked token came back with the loss"
    );
    assert_eq!(userinfo(&after, &revoked).await, StatusCode::UNAUTHORIZED);
    assert!(!active(&after, &svc, &svc_revoked).await);
    // The controls: what was not revoked still works on the new node.
    assert!(active(&after, &rp, &kept).await);
    assert_eq!(userinfo(&after, &kept).await, StatusCode::OK);
    assert!(active(&after, &svc, &svc_kept).await);
}

#[tokio::test]
async fn a_code_replayed_after_the_ephemeral_store_is_lost_still_revokes_its_grant() {
    let (app, rp) = setup().await;
    let replayed = code(&app, &rp).await;
    let (access, refresh_token) = tokens(&app, &rp, &replayed).await;
    // The control: another grant, whose code is not replayed.
    let other = code(&app, &rp).await;
    let (other_access, _) = tokens(&app, &rp, &other).await;

    let after = app.spawn_node_after_ephemeral_loss().await;
    // Live before the replay: the loss alone changes nothing.
    assert!(active(&after, &rp, &access).await);
    let (status, body) = redeem(&after, &rp, &replayed).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(
        body["error_description"], "authorization code was already used",
        "the replay is recognised, not taken for an unknown code"
    );
    assert!(!active(&after, &rp, &access).await, "the grant is revoked");
    assert_eq!(userinfo(&after, &access).await, StatusCode::UNAUTHORIZED);
    let (status, body) = refresh(&after, &rp, &refresh_token).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(active(&after, &rp, &other_access).await);
    assert_eq!(userinfo(&after, &other_access).await, StatusCode::OK);
    assert_eq!(app.audit("token.code_replayed").await.len(), 1);
}

/// A failover to a replica that missed the delete brings a redeemed code's
/// record back into the ephemeral store: it is still redeemed once.
#[tokio::test]
async fn a_code_record_that_comes_back_is_not_redeemed_twice() {
    let (app, rp) = setup().await;
    let c = code(&app, &rp).await;
    let key = format!("authcode:{}", tongxing::crypto::sha256_hex(&c));
    let eph = &app.state.ephemeral;
    let record = eph.get(&key).await.unwrap().expect("the pending code");
    let (access, _) = tokens(&app, &rp, &c).await;
    assert_eq!(
        eph.get(&key).await.unwrap(),
        None,
        "taken by the redemption"
    );
    eph.set(&key, &record, std::time::Duration::from_secs(60))
        .await
        .unwrap();
    let (status, body) = redeem(&app, &rp, &c).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["error_description"],
        "authorization code was already used"
    );
    assert!(!active(&app, &rp, &access).await, "the grant is revoked");
    // The control: a code that was never redeemed is redeemed.
    let fresh = code(&app, &rp).await;
    let (fresh_access, _) = tokens(&app, &rp, &fresh).await;
    assert!(active(&app, &rp, &fresh_access).await);
}

fn assertion(app: &TestApp, key: &SigningKey, client: &str, jti: &str) -> String {
    let now = app.state.clock.now().unix_timestamp();
    let aud = format!("{}/token", app.config.issuer());
    key.sign(
        "JWT",
        &json!({ "iss": client, "sub": client, "aud": aud, "jti": jti, "iat": now, "exp": now + 60 }),
    )
    .unwrap()
}

async fn with_assertion(app: &TestApp, assertion: &str) -> (StatusCode, Value) {
    let r = reqwest::Client::new()
        .post(format!("{}/token", app.base))
        .form(&[
            ("grant_type", "client_credentials"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion),
            ("scope", "profile"),
        ])
        .send()
        .await
        .unwrap();
    (r.status(), r.json().await.unwrap())
}

#[tokio::test]
async fn a_used_client_assertion_stays_used_when_the_ephemeral_store_is_lost() {
    let app = TestApp::spawn().await;
    let (key, _) = SigningKey::generate(Alg::ES256, "client-key-1".into()).unwrap();
    let jwks = json!({ "keys": [key.public_jwk()] }).to_string();
    let rp = app
        .rp_with("jwt-client", |c| {
            c.token_auth_method = Some("private_key_jwt".into());
            c.jwks = Some(jwks);
            c.scopes = Some("profile".into());
        })
        .await;
    let used = assertion(&app, &key, &rp.id, "jti-1");
    let (status, body) = with_assertion(&app, &used).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let after = app.spawn_node_after_ephemeral_loss().await;
    let (status, body) = with_assertion(&after, &used).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(
        body["error_description"],
        "client assertion rejected: jti was already used"
    );
    // The control: a new jti from the same client is accepted there.
    let (status, body) = with_assertion(&after, &assertion(&after, &key, &rp.id, "jti-2")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Rows are kept while they matter and purged after: each table's insert
/// removes its expired rows.
#[tokio::test]
async fn spent_markers_are_purged_once_expired() {
    let app = TestApp::spawn().await;
    let rp = app.rp("mail").await;
    let store = &app.state.store;
    let now = || app.state.clock.now().unix_timestamp();
    let write = |n: &'static str, ttl: i64| {
        let t = now() + ttl;
        let client = rp.id.clone();
        async move {
            store.revoke_access_token(n, t).await.unwrap();
            assert!(store.claim_code(n, uuid::Uuid::now_v7(), t).await.unwrap());
            assert!(store.use_client_assertion(&client, n, t).await.unwrap());
            assert!(store.spend_ticket(n, t).await.unwrap());
        }
    };
    write("first", 10).await;
    write("second", 1000).await;
    // Live rows are all kept (the control for the purge below) …
    assert_eq!(store.spent_row_counts().await.unwrap(), [2, 2, 2, 2]);
    assert!(store.access_token_revoked("first").await.unwrap());
    assert!(
        !store
            .claim_code("first", uuid::Uuid::now_v7(), now() + 10)
            .await
            .unwrap()
    );
    assert!(store.code_replayed("first").await.unwrap().is_some());
    assert!(
        !store
            .use_client_assertion(&rp.id, "first", now() + 10)
            .await
            .unwrap()
    );
    app.advance(std::time::Duration::from_secs(60));
    // … an expired code marker no longer counts even before it is purged …
    assert_eq!(store.code_replayed("first").await.unwrap(), None);
    // … an expired marker in the way of a new one is taken over by it …
    assert!(
        store
            .use_client_assertion(&rp.id, "first", now() + 10)
            .await
            .unwrap()
    );
    app.advance(std::time::Duration::from_secs(60));
    // … and the periodic purge deletes what expired.
    assert_eq!(store.purge_spent().await.unwrap(), 4);
    write("third", 1000).await;
    assert_eq!(store.spent_row_counts().await.unwrap(), [2, 2, 2, 2]);
    assert!(!store.access_token_revoked("first").await.unwrap());
    assert!(store.access_token_revoked("second").await.unwrap());
    assert!(
        store
            .use_client_assertion(&rp.id, "first", now() + 10)
            .await
            .unwrap()
    );
}

/// Taking a user's (or a session's) applications for logout is one
/// statement: an application that joins meanwhile is either taken (and
/// told) or stays for the next take, never deleted untold. Writers and
/// takers run at once; every row added is taken exactly once.
#[tokio::test]
async fn taking_rp_sessions_loses_none_added_meanwhile() {
    const ROWS: usize = 120;
    let app = TestApp::spawn().await;
    let user = app.user(USER).await;
    let rp = app.rp("mail").await;
    let store = app.state.store.clone();
    let adding = {
        let (store, client) = (store.clone(), rp.id.clone());
        tokio::spawn(async move {
            for i in 0..ROWS {
                store
                    .add_rp_session(&format!("sid-{i}"), &client, user.id)
                    .await
                    .unwrap();
                tokio::task::yield_now().await;
            }
        })
    };
    let mut takers = Vec::new();
    for t in 0..3 {
        let store = store.clone();
        takers.push(tokio::spawn(async move {
            let mut taken = Vec::new();
            for round in 0..ROWS {
                // One taker takes by session, the others by account.
                if t == 0 {
                    let sid = format!("sid-{round}");
                    let rows = store.take_rp_sessions(&sid).await.unwrap();
                    taken.extend(rows.into_iter().map(|_| sid.clone()));
                } else {
                    let rows = store.take_user_rp_sessions(user.id).await.unwrap();
                    taken.extend(rows.into_iter().map(|(sid, _)| sid));
                }
                tokio::task::yield_now().await;
            }
            taken
        }));
    }
    adding.await.unwrap();
    let mut taken = Vec::new();
    for t in takers {
        taken.extend(t.await.unwrap());
    }
    let rest = store.take_user_rp_sessions(user.id).await.unwrap();
    taken.extend(rest.into_iter().map(|(sid, _)| sid));
    taken.sort();
    let mut expected: Vec<String> = (0..ROWS).map(|i| format!("sid-{i}")).collect();
    expected.sort();
    assert_eq!(taken, expected, "each added row taken exactly once");
}

/// A used confirmation link whose records come back into the ephemeral
/// store does not confirm its address again.
#[tokio::test]
async fn a_used_confirmation_link_that_comes_back_confirms_nothing() {
    let app = TestApp::spawn().await;
    let user = app.user("lisi").await;
    let b = app.browser();
    assert_eq!(b.login("lisi", PASSWORD).await.location(), Some("/account"));
    let sent = b
        .submit(
            "/account/email",
            "/account/email",
            &[("email", "li@example.org"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(sent.location(), Some("/account/email?sent=1"));
    let mail = app.outbox("mail");
    let link = link_in(mail.last().unwrap()["text"].as_str().unwrap());
    let path = link.strip_prefix(&app.base).unwrap().to_string();
    let token = query(&link)["token"].clone();
    // What the ephemeral store holds for the link, before it is used.
    let eph = &app.state.ephemeral;
    let keys = [
        format!("email-confirm:{}", tongxing::crypto::sha256_hex(&token)),
        format!("email-pending:{}", user.id),
    ];
    let mut saved = Vec::new();
    for k in &keys {
        saved.push(eph.get(k).await.unwrap().expect(k));
    }
    let follow = || async {
        let mail_client = app.browser();
        let page = mail_client.get(&path).await;
        if page.status != StatusCode::OK {
            return page;
        }
        mail_client
            .submit_page(&page, "/account/email/confirm", &[])
            .await
    };
    let verified = |u: tongxing::store::users::User| u.security_email_verified;
    let reload = || async { app.state.store.user_by_id(user.id).await.unwrap().unwrap() };
    // The control: the link confirms once.
    let first = follow().await;
    assert_eq!(first.status, StatusCode::SEE_OTHER, "{}", first.body);
    assert!(verified(reload().await));
    // The owner removes the address again.
    let audit = tongxing::service::audit::Entry::new(
        "security_email.removed",
        tongxing::service::audit::Outcome::Success,
    )
    .subject(&user)
    .finish();
    app.state
        .store
        .set_security_email(user.id, None, &audit)
        .await
        .unwrap();
    for (k, v) in keys.iter().zip(&saved) {
        eph.set(k, v, std::time::Duration::from_secs(3600))
            .await
            .unwrap();
    }
    let again = follow().await;
    assert_ne!(again.status, StatusCode::SEE_OTHER, "{}", again.body);
    let after = reload().await;
    assert!(
        !after.security_email_verified && after.security_email.is_none(),
        "the used link set the address again"
    );
}
