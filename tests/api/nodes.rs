//! Several nodes of one deployment share sessions and rate limits. On the
//! embedded default the nodes share the SQLite file (sessions are in SQL);
//! with Redis configured, sessions and lockouts live in Redis.

use reqwest::StatusCode;

use crate::helpers::{PASSWORD, SIGN_IN_FIRST, TestApp};

#[tokio::test]
async fn a_session_started_on_one_node_works_on_another() {
    let a = TestApp::spawn().await;
    let b_node = a.spawn_node().await;
    a.user("node@cnic.cn").await;
    let browser = a.browser();
    assert_eq!(
        browser.login("node@cnic.cn", PASSWORD).await.redirect(),
        (StatusCode::SEE_OTHER, Some("/account"))
    );
    let on_b = browser.at(&b_node.base);
    let page = on_b.get("/account").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.has("node@cnic.cn"));
    // Logging out on B ends the session on A too.
    on_b.submit("/logout", "/logout", &[]).await;
    assert_eq!(browser.get("/account").await.redirect(), SIGN_IN_FIRST);
}

// In-process limits are per node by design on the embedded default; the
// Redis run of this suite checks the shared behaviour.
#[tokio::test]
#[ignore = "needs Redis: TONGXING_TEST_REDIS_URL"]
async fn lockouts_are_shared_between_nodes_with_redis() {
    let a = TestApp::spawn_with_redis().await;
    let b_node = a.spawn_node().await;
    a.user("shared@cnic.cn").await;
    let on_a = a.browser();
    for _ in 0..6 {
        on_a.login("shared@cnic.cn", "Wrong-password-1").await;
    }
    let on_b = b_node.browser();
    let page = on_b.login("shared@cnic.cn", PASSWORD).await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS);
    // The positive control: another account is not locked on B.
    a.user("free@cnic.cn").await;
    assert_eq!(
        on_b.login("free@cnic.cn", PASSWORD).await.redirect(),
        (StatusCode::SEE_OTHER, Some("/account"))
    );
}

// Codes live in process memory on the embedded single node.
#[tokio::test]
#[ignore = "needs Redis: TONGXING_TEST_REDIS_URL"]
async fn a_code_issued_on_one_node_is_redeemed_on_another() {
    let a = TestApp::spawn_with_redis().await;
    let b_node = a.spawn_node().await;
    a.user("code@cnic.cn").await;
    let rp = a.rp_with("mail", |c| c.first_party = true).await;
    let url = format!(
        "{}/authorize?response_type=code&client_id=mail&redirect_uri={}&scope=openid",
        a.base,
        url::form_urlencoded::byte_serialize(crate::helpers::REDIRECT.as_bytes())
            .collect::<String>()
    );
    let back = a
        .browser()
        .authorize_as(&url, "code@cnic.cn", PASSWORD, "allow")
        .await;
    let code = crate::helpers::query(&back)["code"].clone();
    let r = reqwest::Client::new()
        .post(format!("{}/token", b_node.base))
        .basic_auth(&rp.id, rp.secret.as_deref())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", crate::helpers::REDIRECT),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}
