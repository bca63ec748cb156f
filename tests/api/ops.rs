//! Health endpoints, security headers, the process lifecycle.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::helpers::TestApp;

#[tokio::test]
async fn health_and_readiness() {
    let app = TestApp::spawn().await;
    let b = app.browser();
    let health = b.get("/healthz").await;
    assert_eq!(health.status, 200);
    assert_eq!(health.body, "ok");
    let ready = b.get("/readyz").await;
    assert_eq!(ready.status, 200);
    let v: serde_json::Value = serde_json::from_str(&ready.body).unwrap();
    assert_eq!(v["status"], "ready");
    assert_eq!(v["database"], "ok");
    let expect_redis = if app.config.redis_url.is_some() {
        "ok"
    } else {
        "not configured"
    };
    assert_eq!(v["redis"], expect_redis);
    assert!(
        b.cookie("tongxing_session").is_none(),
        "probes create no sessions"
    );
    // The positive control: a sign-in does, in the same browser.
    app.user("li@cnic.cn").await;
    b.login("li@cnic.cn", crate::helpers::PASSWORD).await;
    assert!(b.cookie("tongxing_session").is_some());
}

#[tokio::test]
async fn pages_carry_security_headers_and_cookie_flags() {
    let app = TestApp::spawn().await;
    let page = app.browser().get("/login").await;
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(page.header("cache-control"), Some("no-store"));
    assert!(
        page.header("content-security-policy")
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    assert!(page.header("x-request-id").is_some());
    let cookie = page.header("set-cookie").unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "plain http issuer in tests");
    let css = app.browser().get("/static/tongxing.css").await;
    assert_eq!(css.status, 200);
    assert!(css.header("content-type").unwrap().starts_with("text/css"));
}

#[tokio::test]
async fn secure_cookies_behind_https() {
    let app = TestApp::spawn_with(|c| c.issuer = Some("https://passport.example.org".into())).await;
    let page = app.browser().get("/login").await;
    assert!(page.header("set-cookie").unwrap().contains("Secure"));
    assert_eq!(
        page.header("strict-transport-security"),
        Some("max-age=31536000"),
        "HSTS behind https"
    );
    // Control: a plain-http issuer (development) sends no HSTS.
    let plain = TestApp::spawn().await;
    let page = plain.browser().get("/login").await;
    assert!(page.header("strict-transport-security").is_none());
    assert!(!page.header("set-cookie").unwrap().contains("Secure"));
}

#[tokio::test]
async fn audit_log_is_append_only() {
    let app = TestApp::spawn().await;
    app.user("audit-only@cnic.cn").await;
    let db = app.state.store.db().clone();
    let (update, delete) = match &db {
        tongxing::store::Db::Sqlite(p) => (
            sqlx::query("UPDATE audit_events SET outcome = 'x'")
                .execute(p)
                .await
                .map(|_| ()),
            sqlx::query("DELETE FROM audit_events")
                .execute(p)
                .await
                .map(|_| ()),
        ),
        tongxing::store::Db::Postgres(p) => (
            sqlx::query("UPDATE audit_events SET outcome = 'x'")
                .execute(p)
                .await
                .map(|_| ()),
            sqlx::query("DELETE FROM audit_events")
                .execute(p)
                .await
                .map(|_| ()),
        ),
    };
    assert!(update.unwrap_err().to_string().contains("append-only"));
    assert!(delete.unwrap_err().to_string().contains("append-only"));
    assert_eq!(
        app.audit("account.created").await.len(),
        2,
        "admin and the new account"
    );
}

/// The real binary: first start prints the admin password once (stdout,
/// not the log), JSON logs, `/healthz`, and a clean exit on SIGTERM.
#[tokio::test]
async fn serve_first_start_json_logs_and_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tongxing"))
        .arg("serve")
        .env("TONGXING_LISTEN", "127.0.0.1:0")
        .env("TONGXING_DATA_DIR", dir.path())
        .env("TONGXING_LOG_FORMAT", "json")
        .env("TONGXING_PASSWORD_HASH__MEMORY_KIB", "1024")
        .env_remove("TONGXING_DATABASE_URL")
        .env_remove("TONGXING_REDIS_URL")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut logs = Vec::new();
    let addr = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("server logs its address");
        let v: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        logs.push(line.clone());
        if v["message"] == "Tongxing listening" {
            break v["addr"].as_str().unwrap().to_string();
        }
    };
    assert!(
        dir.path().join("tongxing.db").exists(),
        "SQLite database created in the data dir"
    );
    let health = reqwest::get(format!("http://{addr}/healthz"))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "clean exit on SIGTERM");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let password = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("│   password: "))
        .expect("admin password printed")
        .to_string();
    assert_eq!(password.len(), 20);
    logs.extend(rx.try_iter());
    assert!(
        logs.iter().all(|l| !l.contains(&password)),
        "the password is not in the log"
    );
    assert!(logs.iter().any(|l| l.contains("shutdown signal received")));

    // Second start: no new admin, no password printed.
    let mut again = Command::new(env!("CARGO_BIN_EXE_tongxing"))
        .arg("serve")
        .env("TONGXING_LISTEN", "127.0.0.1:0")
        .env("TONGXING_DATA_DIR", dir.path())
        .env("TONGXING_LOG_FORMAT", "json")
        .env_remove("TONGXING_DATABASE_URL")
        .env_remove("TONGXING_REDIS_URL")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = again.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines().map_while(Result::ok);
    assert!(lines.any(|l| l.contains("Tongxing listening")));
    Command::new("kill")
        .args(["-TERM", &again.id().to_string()])
        .status()
        .unwrap();
    let out = again.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !stdout.contains("password"),
        "printed only on the first start: {stdout}"
    );
    let users = Command::new(env!("CARGO_BIN_EXE_tongxing"))
        .args(["user", "list", "--json"])
        .env("TONGXING_DATA_DIR", dir.path())
        .env_remove("TONGXING_DATABASE_URL")
        .output()
        .unwrap();
    let users: serde_json::Value = serde_json::from_slice(&users.stdout).unwrap();
    assert_eq!(users.as_array().unwrap().len(), 1);
    assert_eq!(users[0]["username"], "admin");
}

#[tokio::test]
async fn readiness_fails_when_the_database_is_gone() {
    let app = TestApp::spawn().await;
    app.state.store.close().await;
    let ready = app.browser().get("/readyz").await;
    assert_eq!(ready.status, 503);
    let v: serde_json::Value = serde_json::from_str(&ready.body).unwrap();
    assert_eq!(v["database"], "unreachable");
    assert_eq!(
        app.browser().get("/healthz").await.status,
        200,
        "the process is still up"
    );
}

#[tokio::test]
async fn the_outbox_starts_empty() {
    // The development SMS and mail senders (later features) write here;
    // nothing has been sent by a fresh server.
    let app = TestApp::spawn().await;
    assert!(app.outbox("sms").is_empty());
    assert!(app.outbox("mail").is_empty());
    // The positive control: what is sent is read back.
    let phone = tongxing::domain::PhoneNumber::parse("13312348347").unwrap();
    tongxing::service::codes::send(
        &app.state,
        tongxing::service::codes::Purpose::Login,
        &phone,
        &tongxing::service::Origin::default(),
        tongxing::i18n::Lang::ZhCn,
    )
    .await
    .unwrap();
    assert_eq!(app.outbox("sms").len(), 1);
}

#[tokio::test]
async fn the_health_command_asks_the_server_on_the_listen_address() {
    let app = TestApp::spawn().await;
    let addr = app.base.trim_start_matches("http://").to_string();
    let up = app
        .cli_env(&["health"], None, &[("TONGXING_LISTEN", &addr)])
        .await;
    assert_eq!(up.code, 0, "{up:?}");
    assert_eq!(up.stdout.trim(), "ok");

    // A port nothing listens on: the check fails, naming what it asked.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let wildcard = format!("0.0.0.0:{port}");
    let down = app
        .cli_env(&["health"], None, &[("TONGXING_LISTEN", &wildcard)])
        .await;
    assert_eq!(down.code, 1, "{down:?}");
    assert!(
        down.stderr
            .contains(&format!("http://127.0.0.1:{port}/healthz")),
        "{down:?}"
    );
}
