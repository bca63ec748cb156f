//! `/metrics`: off by default, behind a bearer token or on a separate
//! listener, and counters that move with the traffic they count.
//!
//! The counters are process-wide and tests run in parallel in one process,
//! so each assertion is on the growth this test caused (at least), never on
//! an absolute value.

use reqwest::StatusCode;
use tongxing::Config;
use tongxing::service::accounts::NewAccount;

use crate::helpers::{PASSWORD, TestApp};

const TOKEN: &str = "m3tr1cs-t0ken-for-tests-0123456789abcdef";

async fn scrape(url: &str, token: Option<&str>) -> (StatusCode, String, String) {
    let mut req = reqwest::Client::new().get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.unwrap();
    let status = r.status();
    let ctype = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, ctype, r.text().await.unwrap())
}

async fn page(app: &TestApp) -> String {
    let (status, _, body) = scrape(&format!("{}/metrics", app.base), Some(TOKEN)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// The value of one series (`name{labels}`), 0 when it is not there yet.
fn value(body: &str, series: &str) -> f64 {
    body.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| v.parse().unwrap())
        .unwrap_or(0.0)
}

fn with_token(c: &mut Config) {
    c.metrics.token = Some(TOKEN.into());
}

#[tokio::test]
async fn metrics_are_off_unless_configured() {
    let app = TestApp::spawn().await;
    let (status, _, _) = scrape(&format!("{}/metrics", app.base), Some(TOKEN)).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "no token, no listener: no metrics"
    );
    // The positive control: the same request once a token is configured.
    let on = TestApp::spawn_with(with_token).await;
    let (status, ctype, body) = scrape(&format!("{}/metrics", on.base), Some(TOKEN)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ctype, "text/plain; version=0.0.4; charset=utf-8");
    assert!(
        body.contains("# TYPE tongxing_http_requests_total counter"),
        "{body}"
    );
}

#[tokio::test]
async fn a_missing_or_wrong_token_is_refused() {
    let app = TestApp::spawn_with(with_token).await;
    let url = format!("{}/metrics", app.base);
    for token in [None, Some("wrong"), Some(&TOKEN[1..])] {
        let (status, _, body) = scrape(&url, token).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{token:?}");
        assert!(!body.contains("tongxing_"), "nothing is shown: {body}");
    }
    let (status, _, body) = scrape(&url, Some(TOKEN)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("tongxing_uptime_seconds"));
}

#[tokio::test]
async fn counters_follow_requests_logins_and_tokens() {
    let app = TestApp::spawn_with(with_token).await;
    let jwks = "tongxing_http_requests_total{route=\"/jwks\",method=\"GET\",status=\"200\"}";
    let jwks_latency = "tongxing_http_request_duration_seconds_count{route=\"/jwks\"}";
    let failures = "tongxing_audit_events_total{event=\"login.failure\",outcome=\"failure\"}";
    let successes = "tongxing_audit_events_total{event=\"login.success\",outcome=\"success\"}";
    let cc = "tongxing_tokens_issued_total{grant=\"client_credentials\"}";
    let before = page(&app).await;

    let http = reqwest::Client::new();
    for _ in 0..3 {
        let r = http.get(format!("{}/jwks", app.base)).send().await.unwrap();
        assert_eq!(r.status(), 200);
    }
    let lost = http
        .get(format!("{}/no-such-page-4711", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(lost.status(), 404);
    app.user("metrics@cnic.cn").await;
    let b = app.browser();
    b.login("metrics@cnic.cn", "not the password").await;
    app.browser().login("metrics@cnic.cn", PASSWORD).await;
    let rp = app
        .rp_with("metrics-bot", |c| c.scopes = Some("admin".into()))
        .await;
    let r = http
        .post(format!("{}/token", app.base))
        .basic_auth(&rp.id, rp.secret.as_deref())
        .form(&[("grant_type", "client_credentials"), ("scope", "admin")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // A refused grant issues nothing.
    let refused = http
        .post(format!("{}/token", app.base))
        .basic_auth(&rp.id, Some("wrong secret"))
        .form(&[("grant_type", "client_credentials"), ("scope", "admin")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);

    let after = page(&app).await;
    assert!(value(&after, jwks) >= value(&before, jwks) + 3.0, "{after}");
    assert!(value(&after, jwks_latency) >= value(&before, jwks_latency) + 3.0);
    assert!(value(&after, failures) >= value(&before, failures) + 1.0);
    assert!(value(&after, successes) >= value(&before, successes) + 1.0);
    assert!(value(&after, cc) >= value(&before, cc) + 1.0);
    assert!(
        value(
            &after,
            "tongxing_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"}"
        ) >= 1.0
    );
    // Series are labelled by route pattern: a raw path never becomes a
    // label (one series per typo would grow without end).
    assert!(!after.contains("no-such-page-4711"));
    assert!(after.contains("route=\"/jwks\""), "the positive control");
    // The present state of this node.
    assert!(value(&after, "tongxing_password_hashing{state=\"slots\"}") >= 1.0);
    assert!(after.contains("tongxing_signing_key_age_seconds{alg=\"RS256\"}"));
    let backend = app.state.store.kind();
    assert!(
        value(
            &after,
            &format!("tongxing_database_connections{{backend=\"{backend}\",state=\"open\"}}")
        ) >= 1.0,
        "{after}"
    );
    assert_eq!(
        value(&after, "tongxing_dependency_up{dependency=\"database\"}"),
        1.0
    );
    if app.config.redis_url.is_some() {
        assert!(value(&after, "tongxing_redis_connections{state=\"connected\"}") >= 1.0);
    } else {
        assert!(!after.contains("tongxing_redis_connections"));
    }
    assert!(value(&after, "tongxing_process_resident_memory_bytes") > 1e6);
}

#[tokio::test]
async fn sms_deliveries_are_counted_by_provider() {
    let app = TestApp::spawn_with(with_token).await;
    let sms = "tongxing_messages_total{channel=\"sms\",provider=\"log\",result=\"sent\"}";
    let before = value(&page(&app).await, sms);
    app.user_with(NewAccount {
        username: "sms-metrics".into(),
        login_phone: Some("+8613800138123".into()),
        ..NewAccount::default()
    })
    .await;
    let b = app.browser();
    app.recover_by(&b, "sms-metrics", "/recover/sms/send").await;
    app.outbox_wait("sms", 1).await;
    let after = value(&page(&app).await, sms);
    assert!(after >= before + 1.0, "{before} → {after}");
}

#[tokio::test]
async fn a_separate_listener_serves_only_metrics() {
    let app = TestApp::spawn_with(|c| {
        c.metrics.listen = Some("127.0.0.1:0".parse().unwrap());
        c.metrics.token = Some(TOKEN.into());
    })
    .await;
    let private = app
        .metrics_base
        .clone()
        .expect("the metrics listener is up");
    let (status, _, body) = scrape(&format!("{private}/metrics"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("tongxing_http_requests_total"));
    let (status, _, _) = scrape(&format!("{private}/healthz"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing else there");
    // With a separate listener the public one has no /metrics, token or not.
    let (status, _, _) = scrape(&format!("{}/metrics", app.base), Some(TOKEN)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(TestApp::spawn().await.metrics_base.is_none());
}

#[test]
fn a_short_token_is_refused_and_the_token_is_never_printed() {
    let mut config = Config::default();
    config.metrics.token = Some("short".into());
    let err = config.validate().unwrap_err();
    assert!(err.0.contains("metrics.token"), "{}", err.0);
    config.metrics.token = Some(TOKEN.into());
    config.validate().expect("a long token is fine");
    let shown = format!("{:?}", config.metrics);
    assert!(
        !shown.contains(TOKEN) && shown.contains("redacted"),
        "{shown}"
    );
}

/// Starts the real binary with `format` logs and tracing of each request
/// at debug level, asks `/healthz` with a request id, stops it, and
/// returns its log lines.
async fn logs_of_one_request(format: &str, request_id: &str) -> Vec<String> {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tongxing"))
        .arg("serve")
        .env("TONGXING_LISTEN", "127.0.0.1:0")
        .env("TONGXING_DATA_DIR", dir.path())
        .env("TONGXING_LOG_FORMAT", format)
        .env("TONGXING_PASSWORD_HASH__MEMORY_KIB", "1024")
        .env("RUST_LOG", "info,tower_http=debug")
        .env_remove("TONGXING_DATABASE_URL")
        .env_remove("TONGXING_REDIS_URL")
        .stdout(Stdio::null())
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
    let mut lines = Vec::new();
    let addr = loop {
        let line = rx
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("server logs its address");
        lines.push(line.clone());
        if let Some(i) = line.find("127.0.0.1:") {
            let rest = &line[i..];
            let end = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ':'))
                .unwrap_or(rest.len());
            if line.contains("listening") {
                break rest[..end].to_string();
            }
        }
    };
    let r = reqwest::Client::new()
        .get(format!("http://{addr}/healthz"))
        .header("x-request-id", request_id)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-request-id"], request_id, "the id comes back");
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    child.wait().unwrap();
    lines.extend(rx.try_iter());
    lines
}

#[tokio::test]
async fn log_lines_carry_the_request_id_and_no_colours_off_a_terminal() {
    let json = logs_of_one_request("json", "trace-me-4711").await;
    let traced: Vec<serde_json::Value> = json
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .filter(|v: &serde_json::Value| v["span"]["request_id"] == "trace-me-4711")
        .collect();
    assert!(!traced.is_empty(), "{json:#?}");
    assert!(traced.iter().all(|v| v["span"]["path"] == "/healthz"));

    let text = logs_of_one_request("text", "trace-me-4712").await;
    assert!(
        text.iter().any(|l| l.contains("request_id=trace-me-4712")),
        "{text:#?}"
    );
    // stderr is a pipe here: no escape codes, while the level is written.
    assert!(text.iter().any(|l| l.contains(" INFO ")), "{text:#?}");
    assert!(text.iter().all(|l| !l.contains('\u{1b}')), "{text:#?}");
}
