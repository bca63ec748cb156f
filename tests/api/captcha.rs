//! The image captcha port.

use std::time::Duration;

use crate::helpers::TestApp;

#[tokio::test]
async fn an_image_challenge_is_answered_once() {
    let app = TestApp::spawn().await;
    let c = &app.state.captcha;
    let challenge = c.challenge().await.unwrap();
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

    let wrong = c.challenge().await.unwrap();
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
    let early = c.challenge().await.unwrap();
    let early_answer = c.peek_answer(&early.id).await.unwrap().unwrap();
    let late = c.challenge().await.unwrap();
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
    let challenge = app.state.captcha.challenge().await.unwrap();
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
