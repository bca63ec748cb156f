//! Concurrent writers through the management API. On SQLite, a
//! transaction that reads before it writes used to fail at its first write
//! with "database is locked" whenever another connection had written in
//! between: a 500 for a change that had in fact been committed (the
//! password reset stored, its generated password lost, its back-channel
//! logout never sent). Every answer here must be a success, and every
//! change must be stored and take effect.

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::admin_api::admin_token;
use crate::backchannel::{receiver, wait_for};
use crate::helpers::TestApp;

/// Concurrent API clients, as in the report.
const CLIENTS: usize = 8;
/// Writes each client makes one after the other.
const ROUNDS: usize = 3;

/// One API call with an owned client, so it can run on its own task.
async fn call(
    base: String,
    token: String,
    method: &'static str,
    path: String,
    body: Value,
) -> (StatusCode, Value) {
    let r = reqwest::Client::new()
        .request(method.parse().unwrap(), format!("{base}{path}"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(json!(text)))
}

/// Runs one task per client and returns each one's answers, in order.
async fn concurrently<F, Fut>(f: F) -> Vec<Vec<(StatusCode, Value)>>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Vec<(StatusCode, Value)>> + Send + 'static,
{
    let mut set = JoinSet::new();
    for i in 0..CLIENTS {
        let fut = f(i);
        set.spawn(async move { (i, fut.await) });
    }
    let mut out = vec![Vec::new(); CLIENTS];
    while let Some(done) = set.join_next().await {
        let (i, answers) = done.unwrap();
        out[i] = answers;
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_admin_writes_all_succeed_and_all_are_stored() {
    let app = TestApp::spawn().await;
    let token = admin_token(&app).await;
    let (bc_url, bc_seen) = receiver(0).await;
    let portal = app
        .rp_with("portal", |c| c.backchannel_logout_uri = Some(bc_url))
        .await;

    // Accounts with generated passwords, created at once.
    let created = concurrently(|i| {
        let (base, token) = (app.base.clone(), token.clone());
        async move {
            vec![
                call(
                    base,
                    token,
                    "POST",
                    "/api/v1/users".into(),
                    json!({ "username": format!("c{i}@cnic.cn") }),
                )
                .await,
            ]
        }
    })
    .await;
    let mut ids = Vec::new();
    for answers in &created {
        let (status, body) = &answers[0];
        assert_eq!(*status, StatusCode::CREATED, "{body}");
        assert!(body["password"].is_string(), "{body}");
        ids.push(body["user"]["id"].as_str().unwrap().to_string());
    }

    // Each account takes part in a session at the portal, so each reset
    // below must end it with a back-channel logout.
    for (i, id) in ids.iter().enumerate() {
        app.state
            .store
            .add_rp_session(&format!("sid-{i}"), &portal.id, id.parse().unwrap())
            .await
            .unwrap();
    }

    // Every client resets its account's password and renames it, round
    // after round, while the others do the same: the generated password
    // of each answer is the one that counts.
    let resets = concurrently(|i| {
        let (base, token, id) = (app.base.clone(), token.clone(), ids[i].clone());
        async move {
            let mut answers = Vec::new();
            for round in 0..ROUNDS {
                answers.push(
                    call(
                        base.clone(),
                        token.clone(),
                        "POST",
                        format!("/api/v1/users/{id}/password"),
                        json!({}),
                    )
                    .await,
                );
                let (_, user) = call(
                    base.clone(),
                    token.clone(),
                    "GET",
                    format!("/api/v1/users/{id}"),
                    json!(null),
                )
                .await;
                answers.push(
                    call(
                        base.clone(),
                        token.clone(),
                        "PATCH",
                        format!("/api/v1/users/{id}"),
                        json!({ "version": user["version"], "display_name": format!("Client {i} round {round}") }),
                    )
                    .await,
                );
            }
            answers
        }
    })
    .await;
    let mut passwords = Vec::new();
    for answers in &resets {
        for (status, body) in answers {
            assert_eq!(*status, StatusCode::OK, "{body}");
        }
        let last_reset = &answers[2 * (ROUNDS - 1)].1;
        passwords.push(last_reset["password"].as_str().unwrap().to_string());
    }

    // Every change is stored: the last generated password signs in (and,
    // set by an administrator, leads to the password change), the last
    // name is kept, and every reset is in the audit log.
    for (i, password) in passwords.iter().enumerate() {
        let username = format!("c{i}@cnic.cn");
        assert_eq!(
            app.browser().login(&username, password).await.redirect(),
            (
                StatusCode::SEE_OTHER,
                Some("/account/password?return_to=%2Faccount")
            ),
            "{username} signs in with the password its last answer gave"
        );
        let user = app
            .state
            .store
            .user_by_username(&username)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            user.display_name,
            format!("Client {i} round {}", ROUNDS - 1)
        );
    }
    assert_eq!(
        app.audit("account.password_set").await.len(),
        CLIENTS * ROUNDS
    );
    assert_eq!(app.audit("account.updated").await.len(), CLIENTS * ROUNDS);

    // Every account's portal session ended with a back-channel logout.
    let bodies = wait_for(&bc_seen, CLIENTS).await;
    let mut sids: Vec<String> = bodies
        .iter()
        .map(|b| {
            let form: std::collections::HashMap<String, String> =
                url::form_urlencoded::parse(b.as_bytes())
                    .into_owned()
                    .collect();
            crate::oidc::decode_payload(&form["logout_token"])["sid"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    sids.sort();
    sids.dedup();
    let mut expected: Vec<String> = (0..CLIENTS).map(|i| format!("sid-{i}")).collect();
    expected.sort();
    assert_eq!(sids, expected);

    // Concurrent service-account work on clients: registrations with
    // generated secrets, and secret rotations; each secret answered is
    // the one that authenticates.
    let clients = concurrently(|i| {
        let (base, token) = (app.base.clone(), token.clone());
        async move {
            let mut answers = vec![
                call(
                    base.clone(),
                    token.clone(),
                    "POST",
                    "/api/v1/clients".into(),
                    json!({ "id": format!("app{i}"), "name": format!("App {i}"), "redirect_uris": ["https://rp.example.org/cb"] }),
                )
                .await,
            ];
            for _ in 0..ROUNDS {
                answers.push(
                    call(
                        base.clone(),
                        token.clone(),
                        "POST",
                        format!("/api/v1/clients/app{i}/secret"),
                        json!({}),
                    )
                    .await,
                );
            }
            answers
        }
    })
    .await;
    for (i, answers) in clients.iter().enumerate() {
        assert_eq!(answers[0].0, StatusCode::CREATED, "{}", answers[0].1);
        for (status, body) in &answers[1..] {
            assert_eq!(*status, StatusCode::OK, "{body}");
        }
        let secret = answers[ROUNDS].1["client_secret"].as_str().unwrap();
        let r = reqwest::Client::new()
            .post(format!("{}/token", app.base))
            .basic_auth(format!("app{i}"), Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        // Control for the secret: a wrong one is refused with 401, the
        // last one answered is accepted (any answer but 401).
        assert_ne!(r.status(), StatusCode::UNAUTHORIZED, "app{i}");
        let wrong = reqwest::Client::new()
            .post(format!("{}/token", app.base))
            .basic_auth(format!("app{i}"), Some("not-the-secret"))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    }
}
