//! A password change ends what the old password started (ASVS 3.3.3):
//! after a self-service change, an admin reset (API, console, CLI) or
//! disabling the account, the account's refresh tokens no longer refresh,
//! its access tokens are inactive at introspection and refused at userinfo,
//! and its applications hear of it by back-channel logout. Only the session
//! where the owner changed the password keeps its tokens; enabling the
//! account again revives nothing.

use std::sync::{Arc, Mutex};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::admin_api::{Api, admin_token};
use crate::backchannel::{receiver, wait_for};
use crate::helpers::{Browser, PASSWORD, Rp, TestApp, query};
use crate::oidc::decode_payload;
use crate::oidc_rules::{authorize_url, redeem, token};

type Seen = Arc<Mutex<Vec<String>>>;

const USER: &str = "li@cnic.cn";
const NEW_PASSWORD: &str = "Brand-New-Pass-1";

/// What an application holds after a sign-in: the session it joined and
/// the tokens it got (the refresh token is replaced on every refresh).
pub(crate) struct Tokens {
    pub sid: String,
    pub access: String,
    pub refresh: String,
}

/// An account and a first-party application with a back-channel logout
/// endpoint; the logout tokens it receives are recorded.
async fn setup() -> (TestApp, Rp, Seen, uuid::Uuid) {
    let app = TestApp::spawn().await;
    let id = app.user(USER).await.id;
    let (url, seen) = receiver(0).await;
    let rp = app
        .rp_with("mail", |c| {
            c.first_party = true;
            c.backchannel_logout_uri = Some(url);
        })
        .await;
    (app, rp, seen, id)
}

/// Signs in with `b` (a session of its own) and redeems the code.
pub(crate) async fn sign_in(app: &TestApp, rp: &Rp, b: &Browser, password: &str) -> Tokens {
    let back = b
        .authorize_as(&authorize_url(app, rp, ""), USER, password, "allow")
        .await;
    let (status, body) = redeem(app, rp, &query(&back)["code"]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    Tokens {
        sid: decode_payload(body["id_token"].as_str().unwrap())["sid"]
            .as_str()
            .unwrap()
            .to_string(),
        access: body["access_token"].as_str().unwrap().to_string(),
        refresh: body["refresh_token"].as_str().unwrap().to_string(),
    }
}

pub(crate) async fn introspect(app: &TestApp, rp: &Rp, token: &str) -> Value {
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

async fn userinfo(app: &TestApp, access: &str) -> StatusCode {
    reqwest::Client::new()
        .get(format!("{}/userinfo", app.base))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .status()
}

/// The tokens work: userinfo answers, both introspect as active, and the
/// refresh token refreshes (its successors replace them in `t`).
pub(crate) async fn assert_live(app: &TestApp, rp: &Rp, t: &mut Tokens, what: &str) {
    assert_eq!(userinfo(app, &t.access).await, StatusCode::OK, "{what}");
    assert_eq!(
        introspect(app, rp, &t.access).await["active"],
        true,
        "{what}"
    );
    assert_eq!(
        introspect(app, rp, &t.refresh).await["active"],
        true,
        "{what}"
    );
    let (status, body) = token(
        app,
        rp,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &t.refresh),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{what}: {body}");
    t.access = body["access_token"].as_str().unwrap().to_string();
    t.refresh = body["refresh_token"].as_str().unwrap().to_string();
    assert_eq!(userinfo(app, &t.access).await, StatusCode::OK, "{what}");
}

/// The tokens are dead: userinfo says invalid_token, introspection says
/// inactive, and refreshing is invalid_grant.
async fn assert_revoked(app: &TestApp, rp: &Rp, t: &Tokens, what: &str) {
    assert_eq!(
        userinfo(app, &t.access).await,
        StatusCode::UNAUTHORIZED,
        "{what}: userinfo"
    );
    assert_eq!(
        introspect(app, rp, &t.access).await,
        json!({ "active": false }),
        "{what}: access token"
    );
    assert_eq!(
        introspect(app, rp, &t.refresh).await,
        json!({ "active": false }),
        "{what}: refresh token"
    );
    let (status, body) = token(
        app,
        rp,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &t.refresh),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "{what}: refresh"
    );
}

/// The sessions named in the logout tokens received once this node's
/// background work is done, after at least `n` arrived.
async fn logged_out(app: &TestApp, seen: &Seen, n: usize) -> Vec<String> {
    app.settle().await;
    wait_for(seen, n).await;
    seen.lock()
        .unwrap()
        .iter()
        .map(|body| {
            let form: std::collections::HashMap<String, String> =
                url::form_urlencoded::parse(body.as_bytes())
                    .into_owned()
                    .collect();
            decode_payload(&form["logout_token"])["sid"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

#[tokio::test]
async fn changing_ones_own_password_ends_the_other_sessions_tokens_only() {
    let (app, rp, seen, _) = setup().await;
    let here = app.browser();
    let elsewhere = app.browser();
    let mut current = sign_in(&app, &rp, &here, PASSWORD).await;
    let mut other = sign_in(&app, &rp, &elsewhere, PASSWORD).await;
    assert_ne!(current.sid, other.sid, "two sessions");
    assert_live(&app, &rp, &mut current, "this session before").await;
    assert_live(&app, &rp, &mut other, "the other session before").await;

    let form = here.get("/account/password").await;
    let done = here
        .submit_page(
            &form,
            "/account/password",
            &[
                ("current", PASSWORD),
                ("new", NEW_PASSWORD),
                ("repeat", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(
        done.redirect(),
        (StatusCode::SEE_OTHER, Some("/account/password?done=1"))
    );

    assert_revoked(&app, &rp, &other, "the other session").await;
    // The session where the password was changed goes on, tokens and all.
    assert_live(&app, &rp, &mut current, "this session after").await;
    assert_eq!(
        logged_out(&app, &seen, 1).await,
        vec![other.sid.clone()],
        "only the other session's application is told"
    );
}

#[tokio::test]
async fn an_admin_api_reset_revokes_every_token() {
    let (app, rp, seen, id) = setup().await;
    let mut t = sign_in(&app, &rp, &app.browser(), PASSWORD).await;
    assert_live(&app, &rp, &mut t, "before").await;
    let api = Api::new(&app, &admin_token(&app).await);
    let (status, body) = api
        .post(&format!("/api/v1/users/{id}/password"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_revoked(&app, &rp, &t, "after an API reset").await;
    assert_eq!(logged_out(&app, &seen, 1).await, vec![t.sid]);
}

#[tokio::test]
async fn a_console_reset_revokes_every_token() {
    let (app, rp, seen, id) = setup().await;
    let mut t = sign_in(&app, &rp, &app.browser(), PASSWORD).await;
    assert_live(&app, &rp, &mut t, "before").await;
    let admin = app.browser();
    admin.login("admin", &app.admin_password).await;
    let path = format!("/admin/users/{id}");
    let page = admin.get(&path).await;
    let reset = admin
        .submit_page(
            &page,
            &path,
            &[("action", "password"), ("confirm", "1"), ("password", "")],
        )
        .await;
    assert_eq!(
        reset.redirect(),
        (
            StatusCode::SEE_OTHER,
            Some(format!("{path}?done=1").as_str())
        )
    );
    assert_revoked(&app, &rp, &t, "after a console reset").await;
    assert_eq!(logged_out(&app, &seen, 1).await, vec![t.sid]);
}

#[tokio::test]
async fn the_cli_passwd_revokes_every_token() {
    let (app, rp, seen, _) = setup().await;
    let mut t = sign_in(&app, &rp, &app.browser(), PASSWORD).await;
    assert_live(&app, &rp, &mut t, "before").await;
    let out = app
        .cli(
            &["user", "passwd", USER, "--password-stdin"],
            Some(&format!("{NEW_PASSWORD}\n")),
        )
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    assert_revoked(&app, &rp, &t, "after user passwd").await;
    // The CLI waits for the deliveries it started before it exits.
    assert_eq!(logged_out(&app, &seen, 1).await, vec![t.sid]);
}

#[tokio::test]
async fn disabling_revokes_every_token_and_enabling_revives_none() {
    let (app, rp, seen, id) = setup().await;
    let mut t = sign_in(&app, &rp, &app.browser(), PASSWORD).await;
    assert_live(&app, &rp, &mut t, "before").await;
    let api = Api::new(&app, &admin_token(&app).await);
    let (status, _) = api
        .post(&format!("/api/v1/users/{id}/disable"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_revoked(&app, &rp, &t, "while disabled").await;
    assert_eq!(logged_out(&app, &seen, 1).await, vec![t.sid.clone()]);

    let (status, _) = api
        .post(&format!("/api/v1/users/{id}/enable"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_revoked(&app, &rp, &t, "enabled again").await;
    // Enabled for real: a new sign-in gets tokens that work.
    let mut fresh = sign_in(&app, &rp, &app.browser(), PASSWORD).await;
    assert_live(&app, &rp, &mut fresh, "a new sign-in").await;
}

#[tokio::test]
async fn changing_ones_own_phone_ends_the_other_sessions_tokens_only() {
    use crate::phones::{last_sms, prove_old, send_new, step_up_for};
    let (app, rp, seen, id) = setup().await;
    let user = app.state.store.user_by_id(id).await.unwrap().unwrap();
    let audit = tongxing::service::audit::Entry::new(
        "test.phone",
        tongxing::service::audit::Outcome::Success,
    )
    .finish();
    app.state
        .store
        .set_phone(
            user.id,
            tongxing::domain::PhoneKind::Login,
            None,
            "+8613312348347",
            None,
            &audit,
        )
        .await
        .unwrap();
    let here = app.browser();
    let elsewhere = app.browser();
    let mut current = sign_in(&app, &rp, &here, PASSWORD).await;
    let mut other = sign_in(&app, &rp, &elsewhere, PASSWORD).await;
    assert_live(&app, &rp, &mut current, "this session before").await;
    assert_live(&app, &rp, &mut other, "the other session before").await;

    let page = step_up_for(&app, &here, "login", "+8613312348347").await;
    app.advance(std::time::Duration::from_secs(61));
    let step2 = prove_old(&app, &here, &page, "login", "+8613312348347").await;
    app.advance(std::time::Duration::from_secs(61));
    let sent = here
        .redirected(
            send_new(&here, &step2, "login", "+86", "13912345678").await,
            "/account/phone/login",
        )
        .await;
    let (code, _) = last_sms(&app, "+8613912345678");
    let done = here
        .submit_page(&sent, "/account/phone/login/new", &[("code", &code)])
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);

    assert_revoked(&app, &rp, &other, "the other session").await;
    assert_live(&app, &rp, &mut current, "the session that changed it").await;
    assert_eq!(logged_out(&app, &seen, 1).await, [other.sid.clone()]);
}

#[tokio::test]
async fn an_administrator_changing_a_phone_ends_every_session_and_its_tokens() {
    let (app, rp, seen, id) = setup().await;
    let b = app.browser();
    let mut t = sign_in(&app, &rp, &b, PASSWORD).await;
    assert_live(&app, &rp, &mut t, "before").await;
    let token = admin_token(&app).await;
    let api = Api::new(&app, &token);
    let (_, user) = api.get(&format!("/api/v1/users/{id}")).await;
    // Positive control: a change of another field ends nothing.
    let (status, user) = api
        .call(
            "PATCH",
            &format!("/api/v1/users/{id}"),
            Some(json!({ "version": user["version"], "display_name": "李四" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{user}");
    assert_live(&app, &rp, &mut t, "after a name change").await;
    let (status, body) = api
        .call(
            "PATCH",
            &format!("/api/v1/users/{id}"),
            Some(json!({ "version": user["version"], "security_phone": "13912345678" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_revoked(&app, &rp, &t, "after a phone change").await;
    assert_eq!(logged_out(&app, &seen, 1).await, [t.sid.clone()]);
}
