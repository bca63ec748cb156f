//! The clock port: the server reads the time from the clock a test holds,
//! so tests advance time instead of sleeping.

use std::time::Duration;

use time::OffsetDateTime;

use crate::helpers::TestApp;

#[tokio::test]
async fn rows_and_audit_entries_are_stamped_by_the_clock() {
    let app = TestApp::spawn().await;
    // Control: before the clock moves, stamps are the real time.
    let before = app.user("before@cnic.cn").await;
    assert!(before.created_at < OffsetDateTime::now_utc() + time::Duration::minutes(1));
    app.advance(Duration::from_secs(2 * 3600));
    let after = app.user("after@cnic.cn").await;
    let real = OffsetDateTime::now_utc();
    assert!(after.created_at > real + time::Duration::minutes(119));
    assert!(created_at(&app, "before@cnic.cn").await < real + time::Duration::minutes(1));
    assert!(created_at(&app, "after@cnic.cn").await > real + time::Duration::minutes(119));
}

/// When the `account.created` entry for `name` was written.
async fn created_at(app: &TestApp, name: &str) -> OffsetDateTime {
    app.audit("account.created")
        .await
        .into_iter()
        .find(|r| r.subject.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no account.created for {name}"))
        .at
}

#[tokio::test]
async fn every_node_of_a_deployment_reads_the_same_clock() {
    let app = TestApp::spawn().await;
    let other = app.spawn_node().await;
    app.advance(Duration::from_secs(3600));
    let real = OffsetDateTime::now_utc();
    for node in [&app, &other] {
        let now = node.state.clock.now();
        assert!(now > real + time::Duration::minutes(59), "{now}");
        assert!(now < real + time::Duration::minutes(61), "{now}");
    }
}
