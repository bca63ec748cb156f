//! The image captcha port.

use std::time::Duration;

use crate::helpers::TestApp;

#[tokio::test]
async fn an_image_challenge_is_answered_once() {
    let app = TestApp::spawn().await;
    let c = &app.state.captcha;
    let challenge = c.challenge(None).await.unwrap();
    let image = challenge.image.unwrap();
    assert!(image.starts_with("data:image/png;base64,"));
    use base64::Engine;
    let png = base64::engine::general_purpose::STANDARD
        .decode(image.trim_start_matches("data:image/png;base64,"))
        .unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let answer = c.peek_answer(&challenge.id).await.unwrap().unwrap();
    assert_eq!(answer.len(), 5);
    assert!(
        c.check(&challenge.id, &answer.to_uppercase())
            .await
            .unwrap(),
        "case does not matter"
    );
    assert!(
        !c.check(&challenge.id, &answer).await.unwrap(),
        "single use"
    );

    let wrong = c.challenge(None).await.unwrap();
    let answer = c.peek_answer(&wrong.id).await.unwrap().unwrap();
    assert!(!c.check(&wrong.id, "nope!").await.unwrap());
    assert!(
        !c.check(&wrong.id, &answer).await.unwrap(),
        "a wrong answer uses the challenge up"
    );
    assert!(!c.check("unknown", "x").await.unwrap());
}

#[tokio::test]
async fn challenges_expire() {
    let app = TestApp::spawn().await;
    let ttl = Duration::from_secs(app.config.captcha.ttl_secs);
    let c = &app.state.captcha;
    let early = c.challenge(None).await.unwrap();
    let early_answer = c.peek_answer(&early.id).await.unwrap().unwrap();
    let late = c.challenge(None).await.unwrap();
    let late_answer = c.peek_answer(&late.id).await.unwrap().unwrap();
    // Control: shortly before its end a challenge is still answerable.
    app.advance(ttl - Duration::from_secs(15));
    assert!(c.check(&early.id, &early_answer).await.unwrap());
    app.advance(Duration::from_secs(16));
    assert!(!c.check(&late.id, &late_answer).await.unwrap());
}

#[tokio::test]
async fn the_test_mode_accepts_anything_and_is_refused_in_production() {
    let app =
        TestApp::spawn_with(|c| c.captcha.provider = tongxing::config::CaptchaProvider::None).await;
    let challenge = app.state.captcha.challenge(None).await.unwrap();
    assert!(challenge.image.is_none());
    assert!(
        app.state
            .captcha
            .check(&challenge.id, "whatever")
            .await
            .unwrap()
    );
    let out = app
        .cli_env(
            &["migrate"],
            None,
            &[
                ("TONGXING_ENVIRONMENT", "production"),
                ("TONGXING_ISSUER", "https://id.example.org"),
                ("TONGXING_SMS__PROVIDER", "webhook"),
                ("TONGXING_SMS__WEBHOOK_URL", "https://sms.example.org/send"),
                ("TONGXING_SMS__WEBHOOK_SECRET", "a-long-enough-secret"),
                ("TONGXING_CAPTCHA__PROVIDER", "none"),
            ],
        )
        .await;
    assert_eq!(out.code, 6);
    assert!(out.stderr.contains("captcha.provider"), "{}", out.stderr);
}

#[tokio::test]
async fn each_address_draws_a_bounded_number_of_challenges() {
    let app = TestApp::spawn_with(|c| c.captcha.address_hourly_limit = 3).await;
    let b = app.browser();
    for n in 1..=3 {
        let page = b.get("/recover").await;
        assert_eq!(page.status, reqwest::StatusCode::OK, "challenge {n}");
        assert!(page.has("captcha-image"), "challenge {n} has its image");
    }
    let refused = b.get("/recover").await;
    assert_eq!(refused.status, reqwest::StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((3500..=3600).contains(&wait), "{wait}");
    // Another address still draws (the port, asked directly).
    assert!(
        app.state
            .captcha
            .challenge(Some("198.51.100.9"))
            .await
            .is_ok()
    );
    // And the limit is per address: this one is out.
    assert!(
        app.state
            .captcha
            .challenge(Some("127.0.0.1"))
            .await
            .is_err()
    );
}
