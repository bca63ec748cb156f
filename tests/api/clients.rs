//! Client registration rules shared by registration and update, and stored
//! clients that no longer parse.

use reqwest::StatusCode;
use serde_json::{Value, json};
use tongxing::service::clients;
use tongxing::store::{Db, StoreError};

use crate::admin_api::{Api, admin_token};
use crate::helpers::TestApp;

/// What a problem document says: status, field and detail.
fn answer((status, body): (StatusCode, Value)) -> (StatusCode, Value, Value) {
    (status, body["field"].clone(), body["detail"].clone())
}

/// Registration (POST) and update (PATCH) parse redirect URIs with one rule
/// and name the field as the JSON does, `redirect_uris`.
#[tokio::test]
async fn registration_and_update_answer_alike() {
    let app = TestApp::spawn().await;
    let token = admin_token(&app).await;
    let api = Api::new(&app, &token);
    let (status, created) = api
        .post(
            "/api/v1/clients",
            json!({ "id": "wiki", "name": "Wiki", "redirect_uris": ["https://wiki.example.org/cb"] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");

    let bad_lists = [
        json!(["not a uri"]),
        json!(["https://wiki.example.org/cb#frag"]),
        json!(["ftp://wiki.example.org/cb"]),
        json!(["https://wiki.example.org/cb", "/relative"]),
        // The client may ask for openid (the default scopes), so it needs one.
        json!([]),
    ];
    for (n, list) in bad_lists.iter().enumerate() {
        let registered = answer(
            api.post(
                "/api/v1/clients",
                json!({ "id": format!("new-{n}"), "name": "New", "redirect_uris": list }),
            )
            .await,
        );
        let version = api.get("/api/v1/clients/wiki").await.1["version"].clone();
        let updated = answer(
            api.call(
                "PATCH",
                "/api/v1/clients/wiki",
                Some(json!({ "version": version, "redirect_uris": list })),
            )
            .await,
        );
        assert_eq!(registered, updated, "{list}");
        assert_eq!(
            (registered.0, registered.1.as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("redirect_uris")),
            "{list}: {registered:?}"
        );
    }
    // The post-logout list is named by its JSON field on both paths too.
    let bad = json!(["https://wiki.example.org/bye#frag"]);
    let registered = answer(
        api.post(
            "/api/v1/clients",
            json!({ "id": "new-bye", "name": "New", "redirect_uris": ["https://wiki.example.org/cb"], "post_logout_redirect_uris": bad }),
        )
        .await,
    );
    let version = api.get("/api/v1/clients/wiki").await.1["version"].clone();
    let updated = answer(
        api.call(
            "PATCH",
            "/api/v1/clients/wiki",
            Some(json!({ "version": version, "post_logout_redirect_uris": bad })),
        )
        .await,
    );
    assert_eq!(registered, updated);
    assert_eq!(
        (registered.0, registered.1.as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("post_logout_redirect_uris")
        )
    );
    // Positive control: a good list passes both ways.
    let good = json!(["https://wiki.example.org/cb2"]);
    let (status, body) = api
        .post(
            "/api/v1/clients",
            json!({ "id": "new-good", "name": "New", "redirect_uris": good }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let version = api.get("/api/v1/clients/wiki").await.1["version"].clone();
    let (status, body) = api
        .call(
            "PATCH",
            "/api/v1/clients/wiki",
            Some(json!({ "version": version, "redirect_uris": good })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["redirect_uris"], good);
    let version = body["version"].clone();

    // Without openid no redirect URI is needed: both ways accept an empty
    // list (update used to refuse what registration allowed).
    let (status, body) = api
        .post(
            "/api/v1/clients",
            json!({ "id": "bot", "name": "Bot", "scopes": "profile", "redirect_uris": [] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = api
        .call(
            "PATCH",
            "/api/v1/clients/wiki",
            Some(json!({ "version": version, "scopes": "profile", "redirect_uris": [] })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["redirect_uris"], json!([]));
    // …and the rule holds on the result: asking for openid again needs one.
    let (status, body) = api
        .call(
            "PATCH",
            "/api/v1/clients/wiki",
            Some(json!({ "version": body["version"], "scopes": "openid profile" })),
        )
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("redirect_uris")),
        "{body}"
    );
}

async fn execute(app: &TestApp, sql: &str, id: &str) {
    match app.state.store.db() {
        Db::Sqlite(p) => sqlx::query(sql).bind(id).execute(p).await.map(|_| ()),
        Db::Postgres(p) => sqlx::query(sql).bind(id).execute(p).await.map(|_| ()),
    }
    .unwrap();
}

async fn client_credentials(app: &TestApp, id: &str, secret: &str) -> (StatusCode, Value) {
    let r = reqwest::Client::new()
        .post(format!("{}/token", app.base))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials"), ("scope", "profile")])
        .send()
        .await
        .unwrap();
    (r.status(), r.json().await.unwrap())
}

/// A stored value that does not parse is an error (500, logged), not a
/// default: an unknown auth method is not read as client_secret_basic, an
/// unknown algorithm not as RS256, a broken list not as an empty one.
#[tokio::test]
async fn a_corrupt_client_record_is_an_error_not_a_default() {
    let app = TestApp::spawn().await;
    let token = admin_token(&app).await;
    let api = Api::new(&app, &token);
    let corruptions = [
        (
            "token_auth_method",
            "UPDATE clients SET token_auth_method = 'client_secret_magic' WHERE id = $1",
        ),
        (
            "id_token_alg",
            "UPDATE clients SET id_token_alg = 'HS256' WHERE id = $1",
        ),
        (
            "redirect_uris",
            "UPDATE clients SET redirect_uris = 'not json' WHERE id = $1",
        ),
        (
            "post_logout_redirect_uris",
            "UPDATE clients SET post_logout_redirect_uris = '[\"ftp://x\"]' WHERE id = $1",
        ),
        (
            "backchannel_logout_uri",
            "UPDATE clients SET backchannel_logout_uri = 'nowhere' WHERE id = $1",
        ),
        ("jwks", "UPDATE clients SET jwks = '{' WHERE id = $1"),
    ];
    for (field, sql) in corruptions {
        let id = format!("c-{}", field.replace('_', "-"));
        let rp = app.rp(&id).await;
        let secret = rp.secret.unwrap();
        // Positive control: the client works before the damage.
        assert!(clients::find(&app.state, &id).await.unwrap().is_some());
        assert_eq!(
            client_credentials(&app, &id, &secret).await.0,
            StatusCode::OK
        );
        assert_eq!(
            api.get(&format!("/api/v1/clients/{id}")).await.0,
            StatusCode::OK
        );

        execute(&app, sql, &id).await;

        match clients::find(&app.state, &id).await {
            Err(StoreError::Corrupt {
                field: f, id: i, ..
            }) => {
                assert_eq!((f, i.as_str()), (field, id.as_str()));
            }
            other => panic!("{field}: {other:?}"),
        }
        let (status, body) = client_credentials(&app, &id, &secret).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::INTERNAL_SERVER_ERROR, Some("server_error")),
            "{field}: {body}"
        );
        let (status, body) = api.get(&format!("/api/v1/clients/{id}")).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{field}: {body}");
        assert!(
            !body.to_string().contains(field),
            "the cause goes to the log, not to the caller: {body}"
        );
    }
}
