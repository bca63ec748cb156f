//! The mail port: SMTP delivery to a local server the test starts (over
//! STARTTLS, implicit TLS and a plain local relay, with authentication and
//! pooled connections), a refused delivery, and the configuration checks.

use reqwest::StatusCode;
use tongxing::config::{Config, MailProvider, SmtpSecurity};
use tongxing::ports::mail::MailMessage;

use crate::helpers::{PASSWORD, TestApp};
use crate::smtp_server::{SmtpMode, SmtpServer};

const USER: &str = "passport";
const SECRET: &str = "mail-relay-secret";

fn smtp(server: &SmtpServer, security: SmtpSecurity, password: &str) -> impl FnOnce(&mut Config) {
    let (port, ca) = (server.port, server.ca_file());
    let password = password.to_string();
    move |c| {
        c.mail.provider = MailProvider::Smtp;
        c.mail.from = "通行证 <passport@example.org>".into();
        c.mail.smtp.host = "localhost".into();
        c.mail.smtp.port = Some(port);
        c.mail.smtp.security = security;
        c.mail.smtp.username = Some(USER.into());
        c.mail.smtp.password = Some(password);
        c.mail.smtp.ca_file = Some(ca);
    }
}

/// Signs `name` in and asks for a confirmation mail to `email`.
async fn ask_for_confirmation(app: &TestApp, name: &str, email: &str) -> crate::helpers::Page {
    app.user(name).await;
    let b = app.browser();
    assert_eq!(b.login(name, PASSWORD).await.location(), Some("/account"));
    b.submit(
        "/account/email",
        "/account/email",
        &[("email", email), ("password", PASSWORD)],
    )
    .await
}

#[tokio::test]
async fn mail_goes_out_over_starttls_with_authentication_on_pooled_connections() {
    let server = SmtpServer::start(SmtpMode::StartTls, Some((USER, SECRET))).await;
    let app = TestApp::spawn_with(smtp(&server, SmtpSecurity::Starttls, SECRET)).await;
    let sent = ask_for_confirmation(&app, "mailer", "mailer@example.org").await;
    assert_eq!(
        sent.location(),
        Some("/account/email?sent=1"),
        "{}",
        sent.body
    );
    let got = server.wait_for(1).await;
    let m = &got[0];
    assert!(m.tls, "sent only after STARTTLS");
    assert_eq!(m.auth_user.as_deref(), Some(USER));
    assert_eq!(m.from, "passport@example.org");
    assert_eq!(m.to, vec!["mailer@example.org".to_string()]);
    assert_eq!(m.subject(), "通行证：确认密保邮箱");
    let link = crate::helpers::link_in(&m.text());
    assert!(link.starts_with(&format!("{}/account/email/confirm?token=", app.base)));
    assert!(m.text().contains("mailer"));
    assert!(
        m.html().contains(&format!("href=\"{link}\"")),
        "{}",
        m.html()
    );
    assert!(m.html().contains("lang=\"zh-CN\""));
    assert!(app.outbox("mail").is_empty(), "not the development outbox");
    // The link from the real mail confirms the address.
    let b = app.browser();
    let page = b.get(link.strip_prefix(&app.base).unwrap()).await;
    let done = b
        .redirected(
            b.submit_page(&page, "/account/email/confirm", &[]).await,
            "/account/email/confirm",
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);

    // A second mail reuses the pooled connection.
    ask_for_confirmation(&app, "second", "second@example.org").await;
    server.wait_for(2).await;
    assert_eq!(server.connections(), 1, "one connection, reused");
    let audit = app.audit("mail.sent").await;
    assert_eq!(audit.len(), 2);
    assert!(
        audit
            .iter()
            .all(|a| a.outcome == "success" && a.detail.contains("\"sender\":\"smtp\""))
    );
}

#[tokio::test]
async fn implicit_tls_and_a_plain_local_relay() {
    let message = MailMessage {
        to: "dest@example.org".into(),
        subject: "Passport: test".into(),
        text: "text body".into(),
        html: "<p>html body</p>".into(),
        purpose: "test".into(),
    };
    let tls = SmtpServer::start(SmtpMode::ImplicitTls, Some((USER, SECRET))).await;
    let app = TestApp::spawn_with(smtp(&tls, SmtpSecurity::Tls, SECRET)).await;
    app.state.mail.send(&message).await.unwrap();
    let got = tls.wait_for(1).await;
    assert!(got[0].tls);
    assert_eq!(got[0].text().trim(), "text body");
    assert_eq!(got[0].html().trim(), "<p>html body</p>");

    let plain = SmtpServer::start(SmtpMode::Plain, None).await;
    let port = plain.port;
    let app = TestApp::spawn_with(move |c| {
        c.mail.provider = MailProvider::Smtp;
        c.mail.smtp.host = "127.0.0.1".into();
        c.mail.smtp.port = Some(port);
        c.mail.smtp.security = SmtpSecurity::None;
    })
    .await;
    app.state.mail.send(&message).await.unwrap();
    let got = plain.wait_for(1).await;
    assert!(!got[0].tls && got[0].auth_user.is_none());
}

#[tokio::test]
async fn a_refused_delivery_is_reported_and_audited() {
    let server = SmtpServer::start(SmtpMode::StartTls, Some((USER, SECRET))).await;
    let app = TestApp::spawn_with(smtp(&server, SmtpSecurity::Starttls, "wrong-secret")).await;
    let page = ask_for_confirmation(&app, "unlucky", "unlucky@example.org").await;
    assert_eq!(page.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(page.has("邮件发送失败"));
    assert!(server.received().is_empty());
    let audit = app.audit("mail.sent").await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].outcome, "failure");
    // The user may try again at once (no resend wait after a failure).
    let b = app.browser();
    b.login("unlucky", PASSWORD).await;
    let again = b
        .submit(
            "/account/email",
            "/account/email",
            &[("email", "unlucky@example.org"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(again.status, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn mail_settings_are_checked_at_start() {
    let app = TestApp::spawn().await;
    let prod = [
        ("TONGXING_ENVIRONMENT", "production"),
        ("TONGXING_ISSUER", "https://id.example.org"),
        ("TONGXING_SMS__PROVIDER", "webhook"),
        ("TONGXING_SMS__WEBHOOK_URL", "https://sms.example.org/send"),
        ("TONGXING_SMS__WEBHOOK_SECRET", "a-long-enough-secret"),
    ];
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (prod.to_vec(), "mail.provider"),
        (
            [prod.as_slice(), &[("TONGXING_MAIL__PROVIDER", "smtp")]].concat(),
            "mail.smtp.host",
        ),
        (
            [
                prod.as_slice(),
                &[
                    ("TONGXING_MAIL__PROVIDER", "smtp"),
                    ("TONGXING_MAIL__SMTP__HOST", "mail.example.org"),
                    ("TONGXING_MAIL__SMTP__SECURITY", "none"),
                ],
            ]
            .concat(),
            "mail.smtp.security",
        ),
        (
            vec![
                ("TONGXING_MAIL__PROVIDER", "smtp"),
                ("TONGXING_MAIL__SMTP__HOST", "mail.example.org"),
                ("TONGXING_MAIL__SMTP__CA_FILE", "/nonexistent/ca.pem"),
            ],
            "mail.smtp.ca_file",
        ),
        (
            vec![
                ("TONGXING_MAIL__PROVIDER", "smtp"),
                ("TONGXING_MAIL__SMTP__HOST", "mail.example.org"),
                ("TONGXING_MAIL__SMTP__USERNAME", "only-a-name"),
            ],
            "mail.smtp",
        ),
        (vec![("TONGXING_MAIL__FROM", "no address")], "mail.from"),
        (
            vec![("TONGXING_MAIL__SMTP__SECURITY", "ssl")],
            "mail.smtp.security",
        ),
    ];
    for (env, key) in cases {
        let out = app.cli_env(&["migrate"], None, &env).await;
        assert_eq!(out.code, 6, "{env:?}: {out:?}");
        assert!(
            out.stderr.to_lowercase().contains(key),
            "{key}: {}",
            out.stderr
        );
    }
    let ok = app
        .cli_env(
            &["migrate"],
            None,
            &[
                prod.as_slice(),
                &[
                    ("TONGXING_MAIL__PROVIDER", "smtp"),
                    ("TONGXING_MAIL__SMTP__HOST", "localhost"),
                    ("TONGXING_MAIL__SMTP__SECURITY", "none"),
                    // Production requires it (signing keys, case documents).
                    (
                        "TONGXING_KEY_ENCRYPTION_KEY",
                        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                    ),
                ],
            ]
            .concat(),
        )
        .await;
    assert_eq!(ok.code, 0, "a relay on this host is fine: {ok:?}");
}
