//! Login limits behind shared addresses: correct passwords never count,
//! attempts in progress never lock anyone out, parallel guesses still stop
//! at the limits, and the client address behind trusted proxies.

use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::{Browser, PASSWORD, TestApp};

/// Sends one login per `(browser, identifier, password)` at once and
/// returns the answers' statuses in the same order.
async fn all_at_once(logins: Vec<(Browser, String, &'static str)>) -> Vec<StatusCode> {
    let tasks: Vec<_> = logins
        .into_iter()
        .map(|(b, id, pw)| tokio::spawn(async move { b.login(&id, pw).await.status }))
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

fn count(statuses: &[StatusCode], status: StatusCode) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

/// The campus NAT at 8 a.m.: forty people, forty accounts, one address,
/// all at once — with an address limit far below forty, so every attempt
/// still being checked would have locked the address if it counted.
#[tokio::test]
async fn many_concurrent_correct_logins_from_one_address_all_succeed() {
    let app = TestApp::spawn_with(|c| c.login_limits.ip_free_failures = 3).await;
    let mut logins = Vec::new();
    for i in 0..40 {
        let name = format!("nat{i}@cnic.cn");
        app.user(&name).await;
        logins.push((app.browser(), name, PASSWORD));
    }
    let statuses = all_at_once(logins).await;
    assert_eq!(
        count(&statuses, StatusCode::SEE_OTHER),
        40,
        "every correct login signs in: {statuses:?}"
    );
    assert_eq!(app.audit("login.success").await.len(), 40);
    assert!(app.audit("login.lockout").await.is_empty());
    assert!(app.audit("login.throttled").await.is_empty());

    // Control: the address limit is live — three wrong passwords from the
    // same address lock it, for the right password too.
    let b = app.browser();
    for i in 0..3 {
        let p = b
            .login(&format!("nat{i}@cnic.cn"), "Wrong-password-1")
            .await;
        assert_eq!(p.status, StatusCode::UNAUTHORIZED);
    }
    let locked = b.login("nat39@cnic.cn", PASSWORD).await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
    let locks = app.audit("login.lockout").await;
    assert!(locks.iter().any(|l| l.detail.contains("\"scope\":\"ip\"")));
}

/// The same with the shipped defaults: the default address limit is made
/// for a NAT of thousands, and forty sign-ins are nothing to it.
#[tokio::test]
async fn the_default_address_limit_leaves_room_for_a_nat() {
    let app = TestApp::spawn().await;
    assert!(
        app.config.login_limits.ip_free_failures >= 100,
        "a NAT's typos must not lock thousands of users out"
    );
    let mut logins = Vec::new();
    for i in 0..40 {
        let name = format!("campus{i}@cnic.cn");
        app.user(&name).await;
        // Every fourth person mistypes first.
        if i % 4 == 0 {
            logins.push((app.browser(), name.clone(), "Wrong-password-1"));
        }
        logins.push((app.browser(), name, PASSWORD));
    }
    let statuses = all_at_once(logins).await;
    assert_eq!(count(&statuses, StatusCode::SEE_OTHER), 40, "{statuses:?}");
    assert_eq!(
        count(&statuses, StatusCode::UNAUTHORIZED),
        10,
        "{statuses:?}"
    );
    assert!(app.audit("login.lockout").await.is_empty());
}

/// Six tabs (here twelve) of one person at once: more than the account's
/// five free failures, all correct, all signed in.
#[tokio::test]
async fn concurrent_correct_logins_of_one_account_all_succeed() {
    let app = TestApp::spawn().await;
    app.user("tabs@cnic.cn").await;
    let logins = (0..12)
        .map(|_| (app.browser(), "tabs@cnic.cn".to_string(), PASSWORD))
        .collect();
    let statuses = all_at_once(logins).await;
    assert_eq!(count(&statuses, StatusCode::SEE_OTHER), 12, "{statuses:?}");
    assert_eq!(app.audit("login.success").await.len(), 12);
    assert!(app.audit("login.lockout").await.is_empty());

    // Control: the account limit is live.
    let b = app.browser();
    for _ in 0..5 {
        let p = b.login("tabs@cnic.cn", "Wrong-password-1").await;
        assert_eq!(p.status, StatusCode::UNAUTHORIZED);
    }
    let locked = app.browser().login("tabs@cnic.cn", PASSWORD).await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
}

/// Wrong guesses at many accounts from one address, all at once: exactly
/// the address's free failures are checked, the rest are refused.
#[tokio::test]
async fn parallel_guesses_from_one_address_stop_at_the_address_limit() {
    let app = TestApp::spawn_with(|c| c.login_limits.ip_free_failures = 4).await;
    let logins = (0..20)
        .map(|i| {
            (
                app.browser(),
                format!("spray{i}@cnic.cn"),
                "Wrong-password-1",
            )
        })
        .collect();
    let statuses = all_at_once(logins).await;
    assert_eq!(
        count(&statuses, StatusCode::UNAUTHORIZED),
        4,
        "{statuses:?}"
    );
    assert_eq!(
        count(&statuses, StatusCode::TOO_MANY_REQUESTS),
        16,
        "{statuses:?}"
    );
    assert_eq!(app.audit("login.failure").await.len(), 4);
}

/// Guesses and correct logins of one account mixed, all at once: the
/// guesses checked never exceed the free failures, whatever the order.
#[tokio::test]
async fn mixed_parallel_attempts_check_at_most_the_free_guesses() {
    let app = TestApp::spawn().await;
    app.user("mixed@cnic.cn").await;
    let logins = (0..24)
        .map(|i| {
            let pw = if i % 3 == 0 {
                PASSWORD
            } else {
                "Wrong-password-1"
            };
            (app.browser(), "mixed@cnic.cn".to_string(), pw)
        })
        .collect();
    let statuses = all_at_once(logins).await;
    let failures = app.audit("login.failure").await.len();
    assert_eq!(count(&statuses, StatusCode::UNAUTHORIZED), failures);
    // A correct login forgets the account's failures, so up to five per
    // stretch between successes; never more than five after the last one.
    assert!(failures >= 5, "{statuses:?}");
    let successes = count(&statuses, StatusCode::SEE_OTHER);
    assert!(failures <= 5 * (successes + 1), "{statuses:?}");
    assert_eq!(
        statuses.len(),
        failures + successes + count(&statuses, StatusCode::TOO_MANY_REQUESTS),
        "nothing but signed in, wrong or locked: {statuses:?}"
    );
}

/// After a lock runs out the right password signs in (it never counted),
/// and a wrong one is checked and locks twice as long.
#[tokio::test]
async fn after_a_lock_one_more_try_is_checked() {
    let app = TestApp::spawn_with(|c| c.login_limits.account_free_failures = 2).await;
    app.user("later@cnic.cn").await;
    let b = app.browser();
    for _ in 0..2 {
        b.login("later@cnic.cn", "Wrong-password-1").await;
    }
    assert_eq!(
        b.login("later@cnic.cn", PASSWORD).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    app.advance(Duration::from_secs(31));
    let wrong = b.login("later@cnic.cn", "Wrong-password-1").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "checked again");
    let locks = app.audit("login.lockout").await;
    assert_eq!(locks.len(), 2, "{locks:?}");
    assert!(
        locks.iter().any(|l| l.detail.contains("\"lock_secs\":60")),
        "{locks:?}"
    );
    let retry: u64 = b
        .login("later@cnic.cn", PASSWORD)
        .await
        .header("retry-after")
        .unwrap()
        .parse()
        .unwrap();
    assert!((31..=60).contains(&retry), "{retry}");
    app.advance(Duration::from_secs(61));
    let right = b.login("later@cnic.cn", PASSWORD).await;
    assert_eq!(right.status, StatusCode::SEE_OTHER, "{}", right.body);
    // The success forgot the failures: two free ones again.
    let again = app.browser();
    assert_eq!(
        again
            .login("later@cnic.cn", "Wrong-password-1")
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        again.login("later@cnic.cn", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
}

/// Behind a trusted proxy the address in `X-Forwarded-For` is the one
/// limited and audited; from anyone else the header is ignored.
#[tokio::test]
async fn trusted_proxies_name_the_client_address() {
    let app = TestApp::spawn_with(|c| {
        c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        c.login_limits.ip_free_failures = 2;
    })
    .await;
    app.user("proxy@cnic.cn").await;
    let guesser = Browser::forwarded_for(&app.base, "203.0.113.7");
    for i in 0..2 {
        let p = guesser
            .login(&format!("nobody{i}@cnic.cn"), "Wrong-password-1")
            .await;
        assert_eq!(p.status, StatusCode::UNAUTHORIZED);
    }
    let failures = app.audit("login.failure").await;
    assert!(
        failures
            .iter()
            .all(|f| f.ip.as_deref() == Some("203.0.113.7")),
        "{failures:?}"
    );
    // That address is locked …
    let locked = guesser.login("proxy@cnic.cn", PASSWORD).await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
    // … another behind the same proxy is not (a forged entry further left
    // changes nothing: the proxy's own entry is the right-most).
    let other = Browser::forwarded_for(&app.base, "203.0.113.7, 198.51.100.20");
    let ok = other.login("proxy@cnic.cn", PASSWORD).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    let success = app.audit("login.success").await;
    assert_eq!(success[0].ip.as_deref(), Some("198.51.100.20"));
}

#[tokio::test]
async fn forwarded_for_is_ignored_without_trusted_proxies() {
    let app = TestApp::spawn_with(|c| c.login_limits.ip_free_failures = 2).await;
    app.user("direct@cnic.cn").await;
    for (i, from) in ["203.0.113.1", "203.0.113.2"].into_iter().enumerate() {
        let p = Browser::forwarded_for(&app.base, from)
            .login(&format!("nobody{i}@cnic.cn"), "Wrong-password-1")
            .await;
        assert_eq!(p.status, StatusCode::UNAUTHORIZED);
    }
    // Both guesses came from 127.0.0.1, whatever the header said.
    let failures = app.audit("login.failure").await;
    assert!(
        failures
            .iter()
            .all(|f| f.ip.as_deref() == Some("127.0.0.1")),
        "{failures:?}"
    );
    let fresh = Browser::forwarded_for(&app.base, "198.51.100.20");
    assert_eq!(
        fresh.login("direct@cnic.cn", PASSWORD).await.status,
        StatusCode::TOO_MANY_REQUESTS,
        "a forged header does not escape the address lock"
    );
}
