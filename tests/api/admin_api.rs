//! The management API under /api/v1 with a service-account token.

use reqwest::StatusCode;
use serde_json::{Value, json};
use tongxing::service::accounts::NewAccount;

use crate::helpers::{PASSWORD, REDIRECT, SIGN_IN_FIRST, TestApp, query};

/// A service account (client with the admin scope) and its token.
pub async fn admin_token(app: &TestApp) -> String {
    let rp = app
        .rp_with("ops-bot", |c| c.scopes = Some("admin".into()))
        .await;
    client_token(app, &rp.id, rp.secret.as_deref().unwrap(), "admin").await
}

async fn client_token(app: &TestApp, id: &str, secret: &str, scope: &str) -> String {
    let r: Value = reqwest::Client::new()
        .post(format!("{}/token", app.base))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials"), ("scope", scope)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("{r}"))
        .to_string()
}

pub struct Api<'a> {
    app: &'a TestApp,
    token: Option<String>,
}

impl<'a> Api<'a> {
    pub fn new(app: &'a TestApp, token: &str) -> Self {
        Api {
            app,
            token: Some(token.to_string()),
        }
    }

    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut req = reqwest::Client::new()
            .request(method.parse().unwrap(), format!("{}{path}", self.app.base));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status();
        let ctype = r
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let text = r.text().await.unwrap();
        if status.is_client_error() || status.is_server_error() {
            assert_eq!(ctype, "application/problem+json", "{status} {text}");
        }
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// The bearer token it sends.
    pub fn token(&self) -> &str {
        self.token.as_deref().unwrap_or_default()
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call("GET", path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call("POST", path, Some(body)).await
    }
}

#[tokio::test]
async fn refusals_without_admin_rights() {
    let app = TestApp::spawn().await;
    let anonymous = Api {
        app: &app,
        token: None,
    };
    let (status, body) = anonymous.get("/api/v1/users").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["type"], "urn:tongxing:problem:unauthorized");
    assert_eq!(
        Api::new(&app, "garbage").get("/api/v1/users").await.0,
        StatusCode::UNAUTHORIZED
    );

    // A client without the admin scope.
    let plain = app
        .rp_with("reader", |c| c.scopes = Some("profile".into()))
        .await;
    let token = client_token(&app, &plain.id, plain.secret.as_deref().unwrap(), "profile").await;
    assert_eq!(
        Api::new(&app, &token).get("/api/v1/users").await.0,
        StatusCode::FORBIDDEN
    );

    // A user's access token, even an admin user's, is not a service account.
    let mail = app.rp_with("mail", |c| c.first_party = true).await;
    let url = format!(
        "{}/authorize?response_type=code&client_id=mail&redirect_uri={}&scope=openid",
        app.base,
        url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>()
    );
    let back = app
        .browser()
        .authorize_as(&url, "admin", &app.admin_password, "allow")
        .await;
    let tokens: Value = reqwest::Client::new()
        .post(format!("{}/token", app.base))
        .basic_auth(&mail.id, mail.secret.as_deref())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", query(&back)["code"].as_str()),
            ("redirect_uri", REDIRECT),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let user_token = tokens["access_token"].as_str().unwrap();
    assert_eq!(
        Api::new(&app, user_token).get("/api/v1/users").await.0,
        StatusCode::FORBIDDEN
    );

    // Removing the service account takes its rights away at once.
    let token = admin_token(&app).await;
    assert_eq!(
        Api::new(&app, &token).get("/api/v1/users").await.0,
        StatusCode::OK
    );
    app.cli(&["client", "remove", "ops-bot"], None).await;
    assert_eq!(
        Api::new(&app, &token).get("/api/v1/users").await.0,
        StatusCode::FORBIDDEN
    );
    assert!(app.audit("admin.api_denied").await.len() >= 5);
}

#[tokio::test]
async fn expired_tokens_are_refused() {
    let app = TestApp::spawn().await;
    let ttl = std::time::Duration::from_secs(app.config.oidc.access_token_ttl_secs);
    let token = admin_token(&app).await;
    // Control: shortly before its end the token still works.
    app.advance(ttl - std::time::Duration::from_secs(15));
    assert_eq!(
        Api::new(&app, &token).get("/api/v1/users").await.0,
        StatusCode::OK
    );
    app.advance(std::time::Duration::from_secs(16));
    let (status, body) = Api::new(&app, &token).get("/api/v1/users").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body["detail"].as_str().unwrap().contains("expired"));
}

#[tokio::test]
async fn manage_users_end_to_end() {
    let app = TestApp::spawn().await;
    let token = admin_token(&app).await;
    let api = Api::new(&app, &token);
    app.org("物理所").await;

    let (status, created) = api
        .post("/api/v1/users", json!({ "username": "Wang@cnic.cn", "display_name": "王五", "login_phone": "13812345678", "organization": "物理所" }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let password = created["password"].as_str().unwrap().to_string();
    let id = created["user"]["id"].as_str().unwrap().to_string();
    assert_eq!(created["user"]["username"], "wang@cnic.cn");
    assert!(created["user"].get("password_hash").is_none());
    assert_eq!(
        app.browser()
            .login("wang@cnic.cn", &password)
            .await
            .redirect(),
        (StatusCode::SEE_OTHER, Some("/account"))
    );
    for i in 0..3 {
        app.user_with(NewAccount {
            username: format!("p{i}@cnic.cn"),
            organization: Some("物理所".into()),
            ..NewAccount::default()
        })
        .await;
    }

    // Validation names the field; duplicates conflict.
    let (status, bad) = api
        .post(
            "/api/v1/users",
            json!({ "username": "x@cnic.cn", "login_phone": "123" }),
        )
        .await;
    assert_eq!(
        (status, bad["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("login_phone"))
    );
    let (status, bad) = api
        .post(
            "/api/v1/users",
            json!({ "username": "y@cnic.cn", "password": "weak" }),
        )
        .await;
    assert_eq!(
        (status, bad["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("password"))
    );
    let (status, _) = api
        .post("/api/v1/users", json!({ "username": "wang@cnic.cn" }))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, body) = api
        .post(
            "/api/v1/users",
            json!({ "username": "z@cnic.cn", "nonsense": 1 }),
        )
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("nonsense"))
    );

    // Search by organization, name, phone; paging.
    let (_, page) = api
        .get("/api/v1/users?q=%E7%89%A9%E7%90%86%E6%89%80&per_page=2")
        .await;
    assert_eq!(page["total"], 4);
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let (_, page2) = api
        .get("/api/v1/users?q=%E7%89%A9%E7%90%86%E6%89%80&per_page=2&page=2")
        .await;
    assert_eq!(page2["items"].as_array().unwrap().len(), 2);
    assert_ne!(page["items"][0]["id"], page2["items"][0]["id"]);
    assert_eq!(
        api.get("/api/v1/users?q=%E7%8E%8B%E4%BA%94").await.1["total"],
        1,
        "by display name"
    );
    assert_eq!(
        api.get("/api/v1/users?q=1381234").await.1["total"],
        1,
        "by phone"
    );
    assert_eq!(
        api.get("/api/v1/users?per_page=0").await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    // Update with optimistic concurrency.
    let (_, user) = api.get(&format!("/api/v1/users/{id}")).await;
    let version = user["version"].as_i64().unwrap();
    let (status, updated) = api
        .call("PATCH", &format!("/api/v1/users/{id}"), Some(json!({ "version": version, "security_phone": "+44 7400 123456", "organization": "" })))
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    // Phones are shown masked; the full numbers are one audited call away.
    assert_eq!(updated["security_phone"], "+4474****3456");
    assert_eq!(updated["login_phone"], "138****5678");
    assert!(app.audit("account.phones_viewed").await.is_empty());
    let (status, phones) = api.get(&format!("/api/v1/users/{id}/phones")).await;
    assert_eq!(status, StatusCode::OK, "{phones}");
    assert_eq!(phones["security_phone"], "+447400123456");
    assert_eq!(phones["login_phone"], "+8613812345678");
    assert_eq!(app.audit("account.phones_viewed").await.len(), 1);
    assert_eq!(updated["organization"], Value::Null);
    let (status, stale) = api
        .call(
            "PATCH",
            &format!("/api/v1/users/{id}"),
            Some(json!({ "version": version, "display_name": "Other" })),
        )
        .await;
    assert_eq!(
        (status, stale["type"].as_str()),
        (StatusCode::CONFLICT, Some("urn:tongxing:problem:stale"))
    );
    assert_eq!(
        api.get(&format!("/api/v1/users/{id}")).await.1["display_name"],
        "王五",
        "nothing overwritten"
    );
    assert_eq!(
        api.get("/api/v1/users/00000000-0000-0000-0000-000000000000")
            .await
            .0,
        StatusCode::NOT_FOUND
    );

    // Disable and enable with a reason.
    let (_, disabled) = api
        .post(
            &format!("/api/v1/users/{id}/disable"),
            json!({ "reason": "left the institute" }),
        )
        .await;
    assert_eq!(disabled["status"], "disabled");
    assert_eq!(disabled["status_reason"], "left the institute");
    assert_eq!(
        app.browser().login("wang@cnic.cn", &password).await.status,
        StatusCode::FORBIDDEN
    );
    api.post(&format!("/api/v1/users/{id}/enable"), json!({}))
        .await;

    // Password reset: generated and returned once; the old one stops working.
    let b = app.browser();
    assert_eq!(
        b.login("wang@cnic.cn", &password).await.redirect(),
        (StatusCode::SEE_OTHER, Some("/account")),
        "the password works until it is reset"
    );
    let (_, reset) = api
        .post(&format!("/api/v1/users/{id}/password"), json!({}))
        .await;
    let new_password = reset["password"].as_str().unwrap().to_string();
    assert_eq!(
        b.get("/account").await.redirect(),
        SIGN_IN_FIRST,
        "sessions end"
    );
    assert_eq!(
        app.browser().login("wang@cnic.cn", &password).await.status,
        StatusCode::UNAUTHORIZED
    );
    let (status, given) = api
        .post(
            &format!("/api/v1/users/{id}/password"),
            json!({ "password": "Given-Secret-42" }),
        )
        .await;
    assert_eq!((status, &given["password"]), (StatusCode::OK, &Value::Null));
    let _ = new_password;

    // Forced change at next login.
    let (_, forced) = api
        .post(
            &format!("/api/v1/users/{id}/force-password-change"),
            json!({}),
        )
        .await;
    assert_eq!(forced["must_change_password"], true);
    let b = app.browser();
    let next = b.login("wang@cnic.cn", "Given-Secret-42").await;
    // A password an administrator set: the phone is proved first, even
    // with the risk rules off.
    assert_eq!(next.location(), Some("/login/sms"));
    let sent = b
        .redirected(
            b.submit_page(&b.get("/login/sms").await, "/login/sms/send", &[])
                .await,
            "/login/sms",
        )
        .await;
    let code = crate::helpers::code_in(app.outbox("sms").last().unwrap()["text"].as_str().unwrap());
    let next = b.submit_page(&sent, "/login/sms", &[("code", &code)]).await;
    // The phone proved, the owed password change comes next at once.
    assert!(
        next.location()
            .unwrap()
            .starts_with("/account/password?return_to=")
    );
    let form = b.get(next.location().unwrap()).await;
    assert!(form.has("管理员要求您在继续之前设置新密码"));
    let done = b
        .submit_page(
            &form,
            "/account/password",
            &[
                ("current", "Given-Secret-42"),
                ("new", "Changed-By-Me-7"),
                ("repeat", "Changed-By-Me-7"),
            ],
        )
        .await;
    // A confirmation first, leading on to where the person was going.
    assert_eq!(
        done.redirect(),
        (
            StatusCode::SEE_OTHER,
            Some("/account/password?done=1&return_to=%2Faccount")
        ),
        "{}",
        done.body
    );
    let confirmed = b.get(done.location().unwrap()).await;
    assert!(confirmed.has("id=\"changed\"") && confirmed.has("href=\"/account\" id=\"continue\""));
    assert_eq!(
        b.get("/account").await.status,
        StatusCode::OK,
        "the session goes on"
    );
    assert_eq!(
        api.get(&format!("/api/v1/users/{id}")).await.1["must_change_password"],
        false
    );

    // Revoke all sessions and tokens.
    let (_, revoked) = api
        .post(&format!("/api/v1/users/{id}/revoke-sessions"), json!({}))
        .await;
    assert!(revoked["revoked_grants"].is_number());
    assert_eq!(b.get("/account").await.redirect(), SIGN_IN_FIRST);

    // Every action is audited with the service account as actor.
    for event in [
        "account.created",
        "account.updated",
        "account.disabled",
        "account.enabled",
        "account.password_set",
        "account.password_change_forced",
        "account.sessions_revoked",
    ] {
        let rows = app.audit(event).await;
        assert!(rows.iter().any(|r| r.actor == "client:ops-bot"), "{event}");
    }
    assert!(
        app.audit("admin.api_call")
            .await
            .iter()
            .all(|r| r.actor == "client:ops-bot")
    );
}

#[tokio::test]
async fn manage_clients_keys_and_read_the_audit_log() {
    let app = TestApp::spawn().await;
    let token = admin_token(&app).await;
    let api = Api::new(&app, &token);
    let (status, created) = api.post("/api/v1/clients", json!({ "id": "wiki", "name": "Wiki", "redirect_uris": ["https://wiki.example.org/cb"] })).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert!(created["client_secret"].as_str().unwrap().len() >= 43);
    let (status, bad) = api
        .post(
            "/api/v1/clients",
            json!({ "id": "bad", "name": "Bad", "redirect_uris": ["ftp://x"] }),
        )
        .await;
    assert_eq!(
        (status, bad["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("redirect_uris"))
    );
    let (_, wiki) = api.get("/api/v1/clients/wiki").await;
    let version = wiki["version"].as_i64().unwrap();
    let (status, updated) = api
        .call(
            "PATCH",
            "/api/v1/clients/wiki",
            Some(json!({ "version": version, "name": "Team Wiki", "first_party": true })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["name"], "Team Wiki");
    assert_eq!(
        api.call(
            "PATCH",
            "/api/v1/clients/wiki",
            Some(json!({ "version": version, "name": "X" }))
        )
        .await
        .0,
        StatusCode::CONFLICT
    );
    let (_, secret) = api.post("/api/v1/clients/wiki/secret", json!({})).await;
    assert!(secret["client_secret"].is_string());
    assert_eq!(
        api.get("/api/v1/clients").await.1.as_array().unwrap().len(),
        2
    );
    assert_eq!(
        api.call("DELETE", "/api/v1/clients/wiki", None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api.get("/api/v1/clients/wiki").await.0,
        StatusCode::NOT_FOUND
    );

    let (_, keys) = api.get("/api/v1/keys").await;
    assert_eq!(keys.as_array().unwrap().len(), 3);
    let (_, rotated) = api
        .post("/api/v1/keys/rotate", json!({ "alg": "ES256" }))
        .await;
    assert_eq!(rotated["kids"].as_array().unwrap().len(), 1);
    assert_eq!(
        api.post("/api/v1/keys/rotate", json!({ "alg": "HS256" }))
            .await
            .0,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    // Audit log: by event, by user, time range, paging.
    let user = app.user("audited@cnic.cn").await;
    for _ in 0..3 {
        app.browser()
            .login("audited@cnic.cn", "Wrong-password-1")
            .await;
    }
    let (_, page) = api
        .get(&format!(
            "/api/v1/audit?user={}&event=login.failure&limit=2",
            user.id
        ))
        .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let before = page["next_before"].as_i64().unwrap();
    let (_, rest) = api
        .get(&format!(
            "/api/v1/audit?user={}&event=login.failure&limit=2&before={before}",
            user.id
        ))
        .await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    assert_eq!(rest["next_before"], Value::Null);
    let (_, future) = api.get("/api/v1/audit?since=2999-01-01T00:00:00Z").await;
    assert!(future["items"].as_array().unwrap().is_empty());
    let (_, past) = api.get("/api/v1/audit?until=2000-01-01T00:00:00Z").await;
    assert!(past["items"].as_array().unwrap().is_empty());
    assert_eq!(
        api.get("/api/v1/audit?since=yesterday").await.0,
        StatusCode::BAD_REQUEST
    );
    for event in [
        "client.created",
        "client.updated",
        "client.secret_rotated",
        "client.removed",
        "keys.rotated",
    ] {
        assert!(
            app.audit(event)
                .await
                .iter()
                .any(|r| r.actor == "client:ops-bot"),
            "{event}"
        );
    }
    let _ = PASSWORD;
}

#[tokio::test]
async fn the_openapi_document_covers_every_route() {
    let app = TestApp::spawn().await;
    let doc: Value = reqwest::get(format!("{}/api/openapi.json", app.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    // Every $ref resolves.
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.push(r.clone());
                }
                m.values().for_each(|x| refs(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    refs(&doc, &mut all);
    for r in &all {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("{r}"));
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "unresolved {r}"
        );
    }
    // Every documented operation is routed (answers JSON, not the HTML 404),
    // and every route under /api/v1 is documented.
    let token = admin_token(&app).await;
    let api = Api::new(&app, &token);
    let paths = doc["paths"].as_object().unwrap();
    let mut operations = 0;
    for (path, item) in paths {
        assert!(path.starts_with("/api/v1/"), "{path}");
        for method in item.as_object().unwrap().keys() {
            let concrete = path.replace("{id}", "00000000-0000-0000-0000-000000000000");
            let body = if method == "get" || method == "delete" {
                None
            } else {
                Some(json!({}))
            };
            let (status, _) = api.call(&method.to_uppercase(), &concrete, body).await;
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            operations += 1;
        }
    }
    let expected = [
        "/api/v1/users",
        "/api/v1/users/{id}",
        "/api/v1/users/{id}/disable",
        "/api/v1/users/{id}/enable",
        "/api/v1/users/{id}/password",
        "/api/v1/users/{id}/force-password-change",
        "/api/v1/users/{id}/revoke-sessions",
        "/api/v1/clients",
        "/api/v1/clients/{id}",
        "/api/v1/clients/{id}/secret",
        "/api/v1/keys",
        "/api/v1/keys/rotate",
        "/api/v1/audit",
        "/api/v1/users/{id}/phones",
        "/api/v1/users/{id}/require-phone-binding",
        "/api/v1/organizations",
        "/api/v1/organizations/{id}",
        "/api/v1/organizations/import",
        "/api/v1/users/{id}/lift-blocks",
        "/api/v1/users/{id}/app-passwords",
        "/api/v1/users/{id}/app-passwords/{password_id}",
        "/api/v1/blocks",
        "/api/v1/review/cases",
        "/api/v1/review/cases/{id}",
        "/api/v1/review/cases/{id}/documents/{revision}/{slot}",
        "/api/v1/review/cases/{id}/claim",
        "/api/v1/review/cases/{id}/notes",
        "/api/v1/review/cases/{id}/approve",
        "/api/v1/review/cases/{id}/reject",
        "/api/v1/registration-tokens",
        "/api/v1/registration-tokens/{id}",
    ];
    let documented: Vec<&String> = paths.keys().collect();
    for e in expected {
        assert!(
            documented.iter().any(|d| d.as_str() == e),
            "{e} missing from the document"
        );
    }
    assert_eq!(operations, 42);
}

#[tokio::test]
async fn the_administration_cannot_lock_itself_out() {
    let app = TestApp::spawn().await;
    let token = admin_token(&app).await;
    let api = Api::new(&app, &token);
    let admin = app
        .state
        .store
        .user_by_username("admin")
        .await
        .unwrap()
        .unwrap();
    // The only administrator can be neither disabled nor demoted.
    let (status, body) = api
        .post(&format!("/api/v1/users/{}/disable", admin.id), json!({}))
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (StatusCode::CONFLICT, Some("admin")),
        "{body}"
    );
    let (status, _) = api
        .call(
            "PATCH",
            &format!("/api/v1/users/{}", admin.id),
            Some(json!({ "version": admin.version, "admin": false })),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        app.browser()
            .login("admin", &app.admin_password)
            .await
            .redirect(),
        (StatusCode::SEE_OTHER, Some("/account")),
        "still usable"
    );

    // Promoting a signed-in user ends their session: privileges change only at a new sign-in.
    let user = app.user("promoted@cnic.cn").await;
    let b = app.browser();
    b.login("promoted@cnic.cn", PASSWORD).await;
    assert_eq!(b.get("/account").await.status, StatusCode::OK);
    let (_, now) = api.get(&format!("/api/v1/users/{}", user.id)).await;
    let (status, _) = api
        .call(
            "PATCH",
            &format!("/api/v1/users/{}", user.id),
            Some(json!({ "version": now["version"], "admin": true })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        b.get("/admin").await.redirect(),
        (StatusCode::SEE_OTHER, Some("/login?return_to=%2Fadmin")),
        "the old session is gone"
    );
    // With a second administrator, the first may be disabled.
    let (status, _) = api
        .post(&format!("/api/v1/users/{}/disable", admin.id), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn problems_for_every_kind_of_bad_request() {
    let app = TestApp::spawn().await;
    let token = admin_token(&app).await;
    let api = Api::new(&app, &token);
    let user = app.user("x@cnic.cn").await;
    let (status, body) = api.get("/api/v1/nothing-here").await;
    assert_eq!(
        (status, body["type"].as_str()),
        (
            StatusCode::NOT_FOUND,
            Some("urn:tongxing:problem:not-found")
        )
    );
    let (status, body) = api
        .call(
            "PATCH",
            &format!("/api/v1/users/{}", user.id),
            Some(json!({ "display_name": "No version" })),
        )
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("version")),
        "{body}"
    );
    let (status, body) = api
        .call(
            "PATCH",
            &format!("/api/v1/users/{}", user.id),
            Some(json!({ "version": 1, "admin": "yes" })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        api.get("/api/v1/users?page=9223372036854775807").await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    // Optional bodies may be left out.
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/users/{}/disable", app.base, user.id))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // Search treats % and _ literally.
    app.user("under_score@cnic.cn").await;
    assert_eq!(api.get("/api/v1/users?q=r_s").await.1["total"], 1);
    assert_eq!(api.get("/api/v1/users?q=%25").await.1["total"], 0);
}

#[tokio::test]
async fn audit_times_are_instants_whatever_the_offset() {
    let app = TestApp::spawn().await;
    let token = admin_token(&app).await;
    let api = Api::new(&app, &token);
    app.user("t@cnic.cn").await;
    let now = time::OffsetDateTime::now_utc();
    let fmt = |t: time::OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    let utc = fmt(now - time::Duration::minutes(5));
    let beijing = fmt((now - time::Duration::minutes(5)).to_offset(time::macros::offset!(+8)));
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let (_, a) = api
        .get(&format!(
            "/api/v1/audit?event=account.created&since={}",
            enc(&utc)
        ))
        .await;
    let (_, b) = api
        .get(&format!(
            "/api/v1/audit?event=account.created&since={}",
            enc(&beijing)
        ))
        .await;
    assert!(!a["items"].as_array().unwrap().is_empty());
    assert_eq!(
        a["items"], b["items"],
        "the same instant in +08:00 selects the same entries"
    );
    let (_, by_actor) = api.get("/api/v1/audit?actor=client%3Aops-bot").await;
    assert!(
        by_actor["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["actor"] == "client:ops-bot")
    );
    assert!(!by_actor["items"].as_array().unwrap().is_empty());
}
