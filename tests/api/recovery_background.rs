//! `/recover` answers do not wait for the SMS gateway or the mail server:
//! with a sender that blocks until released, the answer arrives first and
//! the message goes out after the release.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tongxing::config::{MailProvider, SmsProvider, SmtpSecurity};
use tongxing::service::accounts::NewAccount;

use crate::helpers::TestApp;
use crate::smtp_server::{SmtpMode, SmtpServer};

/// A generous guard against a hang (the answer never depends on it when
/// the code is right; it only turns "waits forever" into a failure).
const HANG: Duration = Duration::from_secs(60);

async fn account(app: &TestApp) {
    let user = app
        .user_with(NewAccount {
            username: "slow".into(),
            login_phone: Some("+8613800138000".into()),
            ..NewAccount::default()
        })
        .await;
    app.verified_email(&user, "slow@example.org").await;
}

#[tokio::test]
async fn the_code_answer_does_not_wait_for_the_sms_gateway() {
    let (release, released) = watch::channel(false);
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let gateway = axum::Router::new().route(
        "/sms",
        axum::routing::post(move || {
            let (mut released, seen) = (released.clone(), seen.clone());
            async move {
                seen.fetch_add(1, Ordering::SeqCst);
                let _ = released.wait_for(|r| *r).await;
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/sms", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, gateway).await });
    let app = TestApp::spawn_with(|c| {
        c.sms.provider = SmsProvider::Webhook;
        c.sms.webhook_url = Some(url);
        c.sms.webhook_secret = Some("a-shared-webhook-secret".into());
    })
    .await;
    account(&app).await;

    let b = app.browser();
    app.recover_start(&b, "slow").await;
    let method = b.get("/recover/method").await;
    let answer = tokio::time::timeout(HANG, b.submit_page(&method, "/recover/sms/send", &[]))
        .await
        .expect("the answer does not wait for the gateway");
    assert_eq!(answer.location(), Some("/recover/sms"), "{}", answer.body);
    // Answered while the gateway still holds the message: not yet sent.
    assert!(app.audit("sms.code_sent").await.is_empty());

    // Control: once the gateway answers, the code was sent, exactly once.
    release.send(true).unwrap();
    app.settle().await;
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let sent = app.audit("sms.code_sent").await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].outcome, "success");
}

/// Holds every connection until released, then passes it on to `to`.
async fn gate(to: u16, released: watch::Receiver<bool>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let mut released = released.clone();
            tokio::spawn(async move {
                let _ = released.wait_for(|r| *r).await;
                let mut server = TcpStream::connect(("127.0.0.1", to)).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            });
        }
    });
    port
}

#[tokio::test]
async fn the_mail_answer_does_not_wait_for_the_mail_server() {
    let server = SmtpServer::start(SmtpMode::Plain, None).await;
    let (release, released) = watch::channel(false);
    let port = gate(server.port, released).await;
    let app = TestApp::spawn_with(move |c| {
        c.mail.provider = MailProvider::Smtp;
        c.mail.smtp.host = "127.0.0.1".into();
        c.mail.smtp.port = Some(port);
        c.mail.smtp.security = SmtpSecurity::None;
    })
    .await;
    account(&app).await;

    let b = app.browser();
    app.recover_start(&b, "slow").await;
    let method = b.get("/recover/method").await;
    let answer = tokio::time::timeout(HANG, b.submit_page(&method, "/recover/email", &[]))
        .await
        .expect("the answer does not wait for the mail server");
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    assert_eq!(answer.location(), Some("/recover/email"));
    assert!(
        server.received().is_empty(),
        "the mail server is still held"
    );
    assert!(app.audit("mail.sent").await.is_empty());

    // Control: released, the link goes out, and it works.
    release.send(true).unwrap();
    let got = server.wait_for(1).await;
    assert!(got[0].text().contains("/recover/link"), "{}", got[0].text());
    app.settle().await;
    assert_eq!(app.audit("mail.sent").await.len(), 1);
}
