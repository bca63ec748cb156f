//! The audit writer: the hot paths' entries are queued and written in
//! batches off the request. Each test holds the writer's gathering window
//! at an hour, so what is queued stays queued until a reader, a full queue
//! or the shutdown moves it: nothing here depends on timing.

use tongxing::store::audit::{AuditFilter, AuditRow};

use reqwest::StatusCode;

use crate::helpers::{PASSWORD, TestApp};

const AN_HOUR_MS: u64 = 3_600_000;

async fn spawn(queue: usize) -> TestApp {
    TestApp::spawn_with(|c| {
        c.audit.queue = queue;
        c.audit.batch = 4096;
        c.audit.interval_ms = AN_HOUR_MS;
    })
    .await
}

async fn tokens(app: &TestApp, n: usize) {
    let rp = app.rp("shop").await;
    let client = reqwest::Client::new();
    for _ in 0..n {
        let r = client
            .post(format!("{}/token", app.base))
            .basic_auth(&rp.id, rp.secret.as_deref())
            .form(&[("grant_type", "client_credentials"), ("scope", "profile")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
}

/// The table as it is, without waiting for any writer.
async fn in_table(app: &TestApp, event: &str) -> Vec<AuditRow> {
    app.state
        .store
        .list_audit(&AuditFilter {
            event: Some(event.into()),
            limit: 1000,
            ..AuditFilter::default()
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn audit_entries_of_the_hot_paths_are_all_there_for_a_reader() {
    let app = spawn(4096).await;
    app.user("alice").await;
    tokens(&app, 20).await;
    let done = app.browser().login("alice", PASSWORD).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let refused = app.browser().login("alice", "Wrong-Password-1").await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);

    // Queued, not yet in the table (the window is an hour long) …
    assert!(in_table(&app, "token.issued").await.is_empty());
    assert!(in_table(&app, "login.success").await.is_empty());
    // 20 tokens, a sign-in with its step-up decision, a failed sign-in.
    assert_eq!(app.state.audit.state().queued, 23);
    // … and every reader sees them all: the admin API's and console's
    // listing, the dashboard's counts, the tests' helper.
    let listed = tongxing::service::admin::audit(
        &app.state,
        &AuditFilter {
            event: Some("token.issued".into()),
            limit: 1000,
            ..AuditFilter::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(listed.len(), 20);
    assert_eq!(app.state.audit.state().queued, 0);
    assert_eq!(in_table(&app, "token.issued").await.len(), 20);
    assert_eq!(app.audit("login.success").await.len(), 1);
    assert_eq!(app.audit("login.failure").await.len(), 1);
    // Written in one batch, in the order they were queued.
    let state = app.state.audit.state();
    assert_eq!(
        (state.batches, state.batched_entries, state.direct),
        (1, 23, 0)
    );
    let log = app.audit_log().await;
    let order: Vec<&str> = log.iter().rev().map(|r| r.event.as_str()).collect();
    let first_login = order.iter().position(|e| e.starts_with("login.")).unwrap();
    assert!(order[..first_login].contains(&"token.issued"));
    assert!(!order[first_login..].contains(&"token.issued"));

    // The dashboard's counts see entries still queued too.
    let done = app.browser().login("alice", PASSWORD).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(in_table(&app, "login.success").await.len(), 1);
    let dashboard = tongxing::service::admin::dashboard(&app.state)
        .await
        .unwrap();
    assert_eq!(dashboard.today.sign_ins, 2);
    assert_eq!(dashboard.today.failed_sign_ins, 1);
}

#[tokio::test]
async fn a_shutdown_writes_the_queued_audit_entries() {
    let mut app = spawn(4096).await;
    // A second node of the deployment reads the table after the first
    // one's pool is closed.
    let other = app.spawn_node().await;
    tokens(&app, 5).await;
    assert!(in_table(&other, "token.issued").await.is_empty());
    assert_eq!(app.state.audit.state().queued, 5);

    app.stop().await;
    assert_eq!(in_table(&other, "token.issued").await.len(), 5);
    // Entries after the shutdown are written by their caller.
    tongxing::service::audit::Entry::new("logout", tongxing::service::audit::Outcome::Success)
        .queue(&other.state.audit)
        .await
        .unwrap();
    let mut other = other;
    other.stop().await;
    let third = app.spawn_node().await;
    assert_eq!(in_table(&third, "logout").await.len(), 1);
}

#[tokio::test]
async fn a_full_audit_queue_writes_in_the_request() {
    let app = spawn(1).await;
    tokens(&app, 3).await;
    // The first waits in the queue; the queue full, the other two were
    // written by their requests.
    let state = app.state.audit.state();
    assert_eq!((state.queued, state.direct), (1, 2));
    assert_eq!(in_table(&app, "token.issued").await.len(), 2);
    assert_eq!(app.audit("token.issued").await.len(), 3);
    assert_eq!(app.state.audit.state().queued, 0);
}

#[tokio::test]
async fn a_failed_audit_batch_is_kept_and_tried_again() {
    let app = spawn(4096).await;
    tokens(&app, 3).await;
    // The database refuses new audit rows for a while.
    let refuse = |on: bool| {
        let sqlite = app.state.store.kind() == "sqlite";
        let statements: Vec<&str> = match (sqlite, on) {
            (true, true) => vec![
                "CREATE TRIGGER audit_test_refuse BEFORE INSERT ON audit_events \
                 BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
            ],
            (true, false) => vec!["DROP TRIGGER audit_test_refuse"],
            (false, true) => vec![
                "CREATE FUNCTION audit_test_refuse() RETURNS trigger LANGUAGE plpgsql AS \
                 $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$",
                "CREATE TRIGGER audit_test_refuse BEFORE INSERT ON audit_events \
                 FOR EACH ROW EXECUTE FUNCTION audit_test_refuse()",
            ],
            (false, false) => vec![
                "DROP TRIGGER audit_test_refuse ON audit_events",
                "DROP FUNCTION audit_test_refuse()",
            ],
        };
        let app = &app;
        async move {
            for sql in statements {
                app.sql(sql).await;
            }
        }
    };
    refuse(true).await;
    assert!(app.state.audit.flush().await.is_err());
    assert!(in_table(&app, "token.issued").await.is_empty());
    let state = app.state.audit.state();
    assert!(state.failures >= 1);
    assert_eq!(state.batched_entries, 0);
    let metrics = tongxing::metrics::render(&app.state).await;
    assert!(!metrics.contains("tongxing_audit_batches_total{result=\"failed\"} 0\n"));
    assert!(metrics.contains("tongxing_audit_batches_total{result=\"written\"} 0\n"));

    refuse(false).await;
    // A try that began before the trigger went may still fail; the one
    // after it cannot.
    if app.state.audit.flush().await.is_err() {
        app.state.audit.flush().await.unwrap();
    }
    assert_eq!(in_table(&app, "token.issued").await.len(), 3);
    let state = app.state.audit.state();
    assert_eq!(state.batched_entries, 3);
    let metrics = tongxing::metrics::render(&app.state).await;
    assert!(metrics.contains("tongxing_audit_batches_total{result=\"written\"} 1\n"));
}
