//! Client authentication gives a known client that got it wrong the same
//! answer as a client id that does not exist, so client ids cannot be
//! enumerated at `/token`, `/introspect` or `/revoke`.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::TestApp;

/// POSTs `form` to `path`, optionally with HTTP Basic credentials.
async fn post(
    app: &TestApp,
    path: &str,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> (StatusCode, Option<String>, Value) {
    let mut req = reqwest::Client::new().post(format!("{}{path}", app.base));
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    let r = req.form(form).send().await.unwrap();
    let challenge = r
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string());
    (r.status(), challenge, r.json().await.unwrap())
}

#[tokio::test]
async fn a_known_client_that_fails_is_answered_like_an_unknown_one() {
    let app = TestApp::spawn().await;
    let rp = app.rp("mail").await;
    let secret = rp.secret.clone().unwrap();
    let cc = [("grant_type", "client_credentials"), ("scope", "openid")];

    // Positive control: the right credentials get past authentication.
    let (status, _, body) = post(&app, "/token", Some(("mail", &secret)), &cc).await;
    assert_ne!(body["error"], "invalid_client", "{status} {body}");

    for path in ["/token", "/introspect", "/revoke"] {
        let form: Vec<(&str, &str)> = if path == "/token" {
            cc.to_vec()
        } else {
            vec![("token", "x")]
        };
        // Wrong secret (Basic), known and unknown client.
        let known = post(&app, path, Some(("mail", "wrong-secret")), &form).await;
        let unknown = post(&app, path, Some(("nobody", "wrong-secret")), &form).await;
        assert_eq!(known.0, StatusCode::UNAUTHORIZED, "{path}: {known:?}");
        assert_eq!(known, unknown, "{path}: Basic");
        // A method the client did not register (none, for a client with a
        // secret: either way of sending the secret is accepted), known and
        // unknown client.
        let mut as_none = form.clone();
        as_none.extend([("client_id", "mail")]);
        let known = post(&app, path, None, &as_none).await;
        let mut as_none = form.clone();
        as_none.extend([("client_id", "nobody")]);
        let unknown = post(&app, path, None, &as_none).await;
        assert_eq!(known.0, StatusCode::UNAUTHORIZED, "{path}: {known:?}");
        assert_eq!(known, unknown, "{path}: wrong method");
        assert_eq!(known.2["error"], "invalid_client");
    }
}
