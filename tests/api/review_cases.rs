//! The review-case engine and the encrypted document store (the foundation
//! of the phone-unbind application), driven through the services of a
//! running server on either backend.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use image::codecs::jpeg::JpegEncoder;
use image::{ImageEncoder, Rgb, RgbImage};
use tongxing::Config;
use tongxing::service::Origin;
use tongxing::service::accounts::NewAccount;
use tongxing::service::documents::{self, DocumentError, DocumentKeys, Place, Sealed};
use tongxing::service::review::{self, Approved, ReviewError, Submission};
use tongxing::store::review::{Case, CaseKind, CaseState, StoredDocument};
use tongxing::store::users::User;

use crate::helpers::TestApp;

fn kek(byte: u8) -> String {
    STANDARD.encode([byte; 32])
}

async fn spawn() -> TestApp {
    spawn_with(|_| {}).await
}

async fn spawn_with(customize: impl FnOnce(&mut Config)) -> TestApp {
    TestApp::spawn_with(|c| {
        c.key_encryption_key = Some(kek(11));
        customize(c);
    })
    .await
}

fn jpeg(w: u32, h: u32) -> Vec<u8> {
    let img = RgbImage::from_fn(w, h, |x, y| Rgb([(x * 3) as u8, (y * 5) as u8, 120]));
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, 90)
        .write_image(img.as_raw(), w, h, image::ExtendedColorType::Rgb8)
        .unwrap();
    out
}

fn png(w: u32, h: u32) -> Vec<u8> {
    let img = RgbImage::from_pixel(w, h, Rgb([9, 9, 9]));
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(img.as_raw(), w, h, image::ExtendedColorType::Rgb8)
        .unwrap();
    out
}

/// `jpeg` with an EXIF block (orientation 6: turn 90° clockwise) that
/// carries a marker standing for camera and GPS data.
fn with_exif(jpeg: &[u8]) -> Vec<u8> {
    let mut tiff = b"MM\0\x2a\0\0\0\x08".to_vec();
    tiff.extend(2u16.to_be_bytes());
    tiff.extend(0x0112u16.to_be_bytes());
    tiff.extend(3u16.to_be_bytes());
    tiff.extend(1u32.to_be_bytes());
    tiff.extend(6u16.to_be_bytes());
    tiff.extend([0, 0]);
    let make = b"GPS-SECRET-CAM\0\0";
    tiff.extend(0x010Fu16.to_be_bytes());
    tiff.extend(2u16.to_be_bytes());
    tiff.extend((make.len() as u32).to_be_bytes());
    tiff.extend(38u32.to_be_bytes());
    tiff.extend(0u32.to_be_bytes());
    tiff.extend(make);
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend(tiff);
    let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
    out.extend(((app1.len() + 2) as u16).to_be_bytes());
    out.extend(app1);
    out.extend(&jpeg[2..]);
    out
}

/// A small JPEG whose frame header declares `w`×`h`.
fn declaring(jpeg: &[u8], w: u16, h: u16) -> Vec<u8> {
    let mut out = jpeg.to_vec();
    let sof = out
        .windows(2)
        .position(|p| p == [0xFF, 0xC0])
        .expect("a baseline frame header");
    out[sof + 5..sof + 7].copy_from_slice(&h.to_be_bytes());
    out[sof + 7..sof + 9].copy_from_slice(&w.to_be_bytes());
    out
}

fn submission(documents: Vec<Vec<u8>>) -> Submission {
    Submission {
        kind: CaseKind::PhoneUnbind,
        data: serde_json::json!({
            "reason": "lost",
            "login_phone": "+8613900139000",
            "organization": "Institute of Testing",
            "lang": "en",
            "cancel": "0"
        }),
        contact_phone: Some(tongxing::domain::PhoneNumber::parse("+8613800138000").unwrap()),
        contact_email: None,
        consent_version: Some("unbind-consent-1".into()),
        documents,
    }
}

fn origin() -> Origin {
    Origin {
        ip: Some("192.0.2.7".into()),
        user_agent: Some("test".into()),
    }
}

async fn reviewer(app: &TestApp, name: &str) -> User {
    app.user_with(NewAccount {
        username: name.into(),
        roles: tongxing::domain::Roles::new([tongxing::domain::Role::Reviewer]),
        ..NewAccount::default()
    })
    .await
}

async fn submit(app: &TestApp, who: &User) -> Case {
    review::submit(&app.state, who, submission(vec![jpeg(60, 40)]), &origin())
        .await
        .unwrap()
}

async fn case(app: &TestApp, id: uuid::Uuid) -> Case {
    app.state.store.case_by_id(id).await.unwrap().unwrap()
}

async fn docs(app: &TestApp, c: &Case, revision: i64) -> Vec<StoredDocument> {
    app.state
        .store
        .case_documents(c.id, revision)
        .await
        .unwrap()
}

async fn events(app: &TestApp, c: &Case) -> Vec<(String, Option<String>, String)> {
    app.state
        .store
        .case_events(c.id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.event, e.from_state, e.to_state))
        .collect()
}

/// Runs `sql` and returns the database's answer instead of panicking.
async fn try_sql(app: &TestApp, sql: &str) -> Result<u64, String> {
    match app.state.store.db() {
        tongxing::store::Db::Sqlite(p) => {
            sqlx::query(sql).execute(p).await.map(|r| r.rows_affected())
        }
        tongxing::store::Db::Postgres(p) => {
            sqlx::query(sql).execute(p).await.map(|r| r.rows_affected())
        }
    }
    .map_err(|e| e.to_string())
}

fn hours(h: u64) -> Duration {
    Duration::from_secs(h * 3600)
}

#[tokio::test]
async fn a_case_goes_the_whole_way_and_its_documents_are_purged() {
    let app = spawn().await;
    let alice = app.user("alice").await;
    let rev = reviewer(&app, "rev1").await;
    let c = submit(&app, &alice).await;
    assert_eq!(c.state, CaseState::Submitted);
    let due = c.due_at.unwrap() - c.submitted_at;
    assert_eq!(due, time::Duration::days(5), "due after review.due_days");

    let c = review::claim(&app.state, &rev, c.id, c.version, &origin())
        .await
        .unwrap();
    assert_eq!(c.state, CaseState::InReview);
    assert_eq!(c.claimed_by, Some(rev.id));
    let (c, outcome) = review::approve(&app.state, &rev, c.id, c.version, &origin())
        .await
        .unwrap();
    assert_eq!(outcome, Approved::Decided);
    assert_eq!(case(&app, c.id).await.state, CaseState::Approved);

    // Cooling-off: nothing moves before 72 h, then the case awaits rebinding.
    app.advance(hours(71));
    review::sweep(&app.state).await.unwrap();
    assert_eq!(case(&app, c.id).await.state, CaseState::Approved);
    app.advance(hours(2));
    let swept = review::sweep(&app.state).await.unwrap();
    assert_eq!(swept.effective, 1);
    let c = case(&app, c.id).await;
    assert_eq!(c.state, CaseState::AwaitingRebind);

    let c = review::complete(&app.state, c.id, c.version, &origin())
        .await
        .unwrap();
    assert_eq!(c.state, CaseState::Completed);
    assert!(c.completed_at.is_some());
    let stored = case(&app, c.id).await;
    assert!(stored.purge_after.is_some());

    // Retention: 7 days after the final state the bytes and keys go.
    app.advance(hours(24 * 7 - 1));
    assert_eq!(review::purge_due(&app.state).await.unwrap(), 0);
    assert!(
        docs(&app, &c, 1).await[0].ciphertext.is_some(),
        "kept until due"
    );
    app.advance(hours(2));
    assert_eq!(review::purge_due(&app.state).await.unwrap(), 1);
    let d = &docs(&app, &c, 1).await[0];
    assert!(d.ciphertext.is_none() && d.wrapped_key.is_none() && d.purged_at.is_some());
    assert!(matches!(
        review::document(&app.state, &alice, c.id, 1, 1, &origin()).await,
        Err(ReviewError::Document(DocumentError::Purged))
    ));
    // Purged once: a second run finds nothing.
    assert_eq!(review::purge_due(&app.state).await.unwrap(), 0);

    let history = events(&app, &c).await;
    let names: Vec<&str> = history.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(
        names,
        [
            "submitted",
            "claimed",
            "approved",
            "effective",
            "completed",
            "purged"
        ]
    );
    assert_eq!(history[2].1.as_deref(), Some("in_review"));
    assert_eq!(history[2].2, "approved");
    for event in [
        "review.submitted",
        "review.claimed",
        "review.approved",
        "review.effective",
        "review.completed",
        "review.documents_purged",
    ] {
        assert_eq!(app.audit(event).await.len(), 1, "{event}");
    }
    let approved = &app.audit("review.approved").await[0];
    assert_eq!(approved.actor, "rev1");
    assert_eq!(approved.subject_id, Some(alice.id));
}

#[tokio::test]
async fn an_approval_not_followed_by_rebinding_expires() {
    let app = spawn().await;
    let alice = app.user("alice").await;
    let rev = reviewer(&app, "rev1").await;
    let c = submit(&app, &alice).await;
    let c = review::claim(&app.state, &rev, c.id, c.version, &origin())
        .await
        .unwrap();
    review::approve(&app.state, &rev, c.id, c.version, &origin())
        .await
        .unwrap();
    app.advance(hours(73));
    review::sweep(&app.state).await.unwrap();
    app.advance(hours(24 * 14 - 2));
    review::sweep(&app.state).await.unwrap();
    assert_eq!(case(&app, c.id).await.state, CaseState::AwaitingRebind);
    app.advance(hours(3));
    assert_eq!(review::sweep(&app.state).await.unwrap().expired, 1);
    let c = case(&app, c.id).await;
    assert_eq!(c.state, CaseState::Expired);
    // A final state frees the account for a new application.
    submit(&app, &alice).await;
}

#[tokio::test]
async fn reject_edit_and_resubmit_make_a_new_revision() {
    let app = spawn().await;
    let alice = app.user("alice").await;
    let rev = reviewer(&app, "rev1").await;
    let c = submit(&app, &alice).await;
    let c = review::claim(&app.state, &rev, c.id, c.version, &origin())
        .await
        .unwrap();
    assert!(matches!(
        review::reject(&app.state, &rev, c.id, c.version, "   ", &origin()).await,
        Err(ReviewError::NoteRequired)
    ));
    let c = review::reject(
        &app.state,
        &rev,
        c.id,
        c.version,
        "ID card unreadable",
        &origin(),
    )
    .await
    .unwrap();
    assert_eq!(c.state, CaseState::Rejected);
    assert_eq!(c.applicant_note.as_deref(), Some("ID card unreadable"));

    // Only the applicant edits.
    let bob = app.user("bob").await;
    assert!(matches!(
        review::edit(&app.state, &bob, c.id, c.version, &origin()).await,
        Err(ReviewError::NotFound)
    ));
    let c = review::edit(&app.state, &alice, c.id, c.version, &origin())
        .await
        .unwrap();
    assert_eq!(c.state, CaseState::Edited);
    let c = review::resubmit(
        &app.state,
        &alice,
        c.id,
        c.version,
        serde_json::json!({
            "reason": "other",
            "note": "new photo",
            "organization": "Institute of Testing",
            "lang": "en",
            "cancel": "0"
        }),
        None,
        vec![jpeg(50, 50), jpeg(30, 30)],
        &origin(),
    )
    .await
    .unwrap();
    assert_eq!((c.state, c.revision), (CaseState::Submitted, 2));
    assert!(c.claimed_by.is_none() && c.decided_at.is_none());
    assert_eq!(docs(&app, &c, 1).await.len(), 1, "the old revision stays");
    assert_eq!(docs(&app, &c, 2).await.len(), 2);

    // After the retention the rejected revision's documents go, the new
    // revision's stay.
    app.advance(hours(24 * 7 + 1));
    assert_eq!(review::purge_due(&app.state).await.unwrap(), 1);
    assert!(docs(&app, &c, 1).await[0].ciphertext.is_none());
    assert!(
        docs(&app, &c, 2)
            .await
            .iter()
            .all(|d| d.ciphertext.is_some())
    );
    let read = review::document(&app.state, &alice, c.id, 2, 2, &origin())
        .await
        .unwrap();
    assert!(read.starts_with(&[0xFF, 0xD8, 0xFF]));

    let names: Vec<String> = events(&app, &c).await.into_iter().map(|e| e.0).collect();
    assert_eq!(
        names,
        [
            "submitted",
            "claimed",
            "rejected",
            "edited",
            "resubmitted",
            "purged"
        ]
    );
    let all = app.state.store.case_events(c.id).await.unwrap();
    assert_eq!(all[2].note.as_deref(), Some("ID card unreadable"));
    assert_eq!((all[3].revision, all[4].revision), (1, 2));
}

#[tokio::test]
async fn transitions_outside_the_table_are_refused() {
    let app = spawn().await;
    let alice = app.user("alice").await;
    let rev = reviewer(&app, "rev1").await;
    let c = submit(&app, &alice).await;
    // Approving before anyone claimed it: submitted -> approved is not an edge.
    assert!(matches!(
        review::approve(&app.state, &rev, c.id, c.version, &origin()).await,
        Err(ReviewError::NotAllowed { .. })
    ));
    assert!(matches!(
        review::complete(&app.state, c.id, c.version, &origin()).await,
        Err(ReviewError::NotAllowed { .. })
    ));
    let c = review::claim(&app.state, &rev, c.id, c.version, &origin())
        .await
        .unwrap();
    // The applicant cannot withdraw a case in review.
    assert!(matches!(
        review::withdraw(&app.state, &alice, c.id, c.version, &origin()).await,
        Err(ReviewError::NotAllowed { .. })
    ));
    // Cancelling is allowed while it is open …
    let c = review::cancel(
        &app.state,
        &tongxing::service::Actor::System,
        c.id,
        c.version,
        Some("cancel link"),
        &origin(),
    )
    .await
    .unwrap();
    assert_eq!(c.state, CaseState::Cancelled);
    // … and nothing leaves a final state.
    assert!(matches!(
        review::claim(&app.state, &rev, c.id, c.version, &origin()).await,
        Err(ReviewError::NotAllowed { .. })
    ));
    // Only reviewers review.
    let d = submit(&app, &alice).await;
    let bob = app.user("bob").await;
    assert!(matches!(
        review::claim(&app.state, &bob, d.id, d.version, &origin()).await,
        Err(ReviewError::NotReviewer)
    ));
    assert!(
        review::claim(&app.state, &rev, d.id, d.version, &origin())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn two_reviewers_deciding_at_once_one_wins() {
    let app = spawn().await;
    let r1 = reviewer(&app, "rev1").await;
    let r2 = reviewer(&app, "rev2").await;
    for round in 0..4 {
        let who = app.user(&format!("applicant{round}")).await;
        let c = submit(&app, &who).await;
        let c = review::claim(&app.state, &r1, c.id, c.version, &origin())
            .await
            .unwrap();
        let o = origin();
        let (a, b) = tokio::join!(
            review::approve(&app.state, &r1, c.id, c.version, &o),
            review::reject(&app.state, &r2, c.id, c.version, "no", &o),
        );
        let wins = usize::from(a.is_ok()) + usize::from(b.is_ok());
        assert_eq!(wins, 1, "round {round}: {a:?} {b:?}");
        let loser = if a.is_ok() { b.err() } else { a.err() };
        assert!(matches!(loser, Some(ReviewError::Stale)), "{loser:?}");
        let stored = case(&app, c.id).await;
        let decided = app.state.store.case_events(c.id).await.unwrap();
        assert_eq!(decided.len(), 3, "one decision in the history");
        assert_eq!(stored.version, c.version + 1);
    }
    // The database's own check, without the service's early one: two
    // writes of the same read version, the second is stale.
    let who = app.user("store").await;
    let c = submit(&app, &who).await;
    let mut first = c.clone();
    first.state = CaseState::InReview;
    let mut second = c.clone();
    second.state = CaseState::Withdrawn;
    let ev = |to| tongxing::store::review::NewCaseEvent {
        event: "test",
        actor_id: None,
        actor: "test".into(),
        from_state: Some(CaseState::Submitted),
        to_state: to,
        note: None,
        ip: None,
    };
    app.state
        .store
        .update_case(
            &first,
            c.version,
            &[],
            &ev(CaseState::InReview),
            None,
            None,
            &Default::default(),
        )
        .await
        .unwrap();
    assert!(matches!(
        app.state
            .store
            .update_case(
                &second,
                c.version,
                &[],
                &ev(CaseState::Withdrawn),
                None,
                None,
                &Default::default(),
            )
            .await,
        Err(tongxing::store::StoreError::Stale)
    ));
    assert_eq!(case(&app, c.id).await.state, CaseState::InReview);
    assert_eq!(app.state.store.case_events(c.id).await.unwrap().len(), 2);

    // The same pair, one after the other: the second read an old version.
    let who = app.user("late").await;
    let c = submit(&app, &who).await;
    let c = review::claim(&app.state, &r1, c.id, c.version, &origin())
        .await
        .unwrap();
    review::approve(&app.state, &r1, c.id, c.version, &origin())
        .await
        .unwrap();
    assert!(matches!(
        review::reject(&app.state, &r2, c.id, c.version, "no", &origin()).await,
        Err(ReviewError::Stale)
    ));
    // And the other way round: an approval after a rejection is told the
    // case changed (not that approving a rejected case is not allowed).
    let who = app.user("late2").await;
    let c = submit(&app, &who).await;
    let c = review::claim(&app.state, &r1, c.id, c.version, &origin())
        .await
        .unwrap();
    review::reject(&app.state, &r2, c.id, c.version, "no", &origin())
        .await
        .unwrap();
    assert!(matches!(
        review::approve(&app.state, &r1, c.id, c.version, &origin()).await,
        Err(ReviewError::Stale)
    ));
    assert!(matches!(
        review::claim(&app.state, &r1, c.id, c.version, &origin()).await,
        Err(ReviewError::Stale)
    ));
}

#[tokio::test]
async fn four_eyes_needs_a_second_different_reviewer() {
    let app = spawn_with(|c| c.review.four_eyes = true).await;
    let alice = app.user("alice").await;
    let r1 = reviewer(&app, "rev1").await;
    let r2 = reviewer(&app, "rev2").await;
    let c = submit(&app, &alice).await;
    let c = review::claim(&app.state, &r1, c.id, c.version, &origin())
        .await
        .unwrap();
    let (c, first) = review::approve(&app.state, &r1, c.id, c.version, &origin())
        .await
        .unwrap();
    assert_eq!(first, Approved::NeedsSecond);
    assert_eq!(c.state, CaseState::InReview);
    assert!(matches!(
        review::approve(&app.state, &r1, c.id, c.version, &origin()).await,
        Err(ReviewError::SameReviewer)
    ));
    let (c, second) = review::approve(&app.state, &r2, c.id, c.version, &origin())
        .await
        .unwrap();
    assert_eq!(second, Approved::Decided);
    assert_eq!(c.state, CaseState::Approved);
    let list = review::approvals(&case(&app, c.id).await).unwrap();
    assert_eq!(
        list.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(),
        ["rev1", "rev2"]
    );
    let names: Vec<String> = events(&app, &c).await.into_iter().map(|e| e.0).collect();
    assert_eq!(names, ["submitted", "claimed", "approval", "approved"]);
}

#[tokio::test]
async fn the_engine_lets_no_reviewer_decide_their_own_application() {
    let app = spawn().await;
    let own = reviewer(&app, "self@cnic.cn").await;
    let other = reviewer(&app, "other@cnic.cn").await;
    let c = submit(&app, &own).await;
    for result in [
        review::claim(&app.state, &own, c.id, c.version, &origin())
            .await
            .map(|_| ()),
        review::add_internal_note(&app.state, &own, c.id, c.version, "mine", &origin())
            .await
            .map(|_| ()),
    ] {
        assert!(matches!(result, Err(ReviewError::OwnCase)), "{result:?}");
    }
    // Another reviewer may (the positive control), and then the applicant
    // still cannot decide.
    let c = review::claim(&app.state, &other, c.id, c.version, &origin())
        .await
        .unwrap();
    let approve = review::approve(&app.state, &own, c.id, c.version, &origin()).await;
    assert!(matches!(approve, Err(ReviewError::OwnCase)), "{approve:?}");
    let reject = review::reject(&app.state, &own, c.id, c.version, "no", &origin()).await;
    assert!(matches!(reject, Err(ReviewError::OwnCase)), "{reject:?}");
    review::approve(&app.state, &other, c.id, c.version, &origin())
        .await
        .unwrap();
}

#[tokio::test]
async fn one_open_case_per_account() {
    let app = spawn().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let c = submit(&app, &alice).await;
    assert!(matches!(
        review::submit(&app.state, &alice, submission(vec![jpeg(8, 8)]), &origin()).await,
        Err(ReviewError::OpenCaseExists)
    ));
    // Another account may.
    submit(&app, &bob).await;
    // Two submissions at once: the database lets exactly one through.
    let carol = app.user("carol").await;
    let o = origin();
    let (a, b) = tokio::join!(
        review::submit(&app.state, &carol, submission(vec![jpeg(8, 8)]), &o),
        review::submit(&app.state, &carol, submission(vec![jpeg(9, 9)]), &o),
    );
    assert_eq!(
        usize::from(a.is_ok()) + usize::from(b.is_ok()),
        1,
        "{a:?} {b:?}"
    );
    assert_eq!(
        app.state
            .store
            .cases_of_account(carol.id, CaseKind::PhoneUnbind)
            .await
            .unwrap()
            .len(),
        1
    );
    // Once withdrawn, a new application is possible.
    review::withdraw(&app.state, &alice, c.id, c.version, &origin())
        .await
        .unwrap();
    submit(&app, &alice).await;
    // The refusal is worded for the person, in both languages.
    let e = ReviewError::OpenCaseExists;
    assert!(e.text(tongxing::i18n::Lang::ZhCn.text()).contains("申请"));
    assert!(
        e.text(tongxing::i18n::Lang::En.text())
            .contains("open application")
    );
}

#[tokio::test]
async fn case_events_are_append_only() {
    let app = spawn().await;
    let alice = app.user("alice").await;
    let c = submit(&app, &alice).await;
    let id = match app.state.store.db() {
        tongxing::store::Db::Sqlite(_) => format!("X'{}'", c.id.simple()),
        tongxing::store::Db::Postgres(_) => format!("'{}'", c.id),
    };
    let update = try_sql(
        &app,
        &format!("UPDATE case_events SET note = 'forged' WHERE case_id = {id}"),
    )
    .await;
    assert!(
        update.as_ref().is_err_and(|e| e.contains("append-only")),
        "{update:?}"
    );
    let delete = try_sql(
        &app,
        &format!("DELETE FROM case_events WHERE case_id = {id}"),
    )
    .await;
    assert!(
        delete.as_ref().is_err_and(|e| e.contains("append-only")),
        "{delete:?}"
    );
    // Control: the same statement shape changes the case row itself, and
    // the event is still there, unchanged.
    assert_eq!(
        try_sql(
            &app,
            &format!("UPDATE review_cases SET internal_note = 'ok' WHERE id = {id}")
        )
        .await,
        Ok(1)
    );
    let kept = app.state.store.case_events(c.id).await.unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].note, None);
}

#[tokio::test]
async fn documents_are_encrypted_and_bound_to_their_case_and_slot() {
    let app = spawn().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let original = jpeg(60, 40);
    let a = review::submit(
        &app.state,
        &alice,
        submission(vec![original.clone(), jpeg(20, 20)]),
        &origin(),
    )
    .await
    .unwrap();
    let b = submit(&app, &bob).await;

    // What the applicant reads back is a JPEG of the same picture …
    let plain = review::document(&app.state, &alice, a.id, 1, 1, &origin())
        .await
        .unwrap();
    assert!(plain.starts_with(&[0xFF, 0xD8, 0xFF]));
    let decoded = image::load_from_memory_with_format(&plain, image::ImageFormat::Jpeg).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (60, 40));
    // … and what the database holds is not.
    let stored = &docs(&app, &a, 1).await[0];
    let ciphertext = stored.ciphertext.clone().unwrap();
    assert!(!ciphertext.starts_with(&[0xFF, 0xD8]));
    assert!(!ciphertext.windows(32).any(|w| w == &plain[..32]));
    assert!(!ciphertext.windows(32).any(|w| w == &original[..32]));
    assert_eq!(stored.byte_len as usize, plain.len());

    // A wrong key-encryption key cannot read it; the right one can.
    let sealed = Sealed {
        kek_id: stored.kek_id.clone(),
        wrapped_key: stored.wrapped_key.clone().unwrap(),
        ciphertext: ciphertext.clone(),
    };
    let place = Place {
        case_id: a.id,
        revision: 1,
        slot: 1,
    };
    let wrong = Config {
        key_encryption_key: Some(kek(12)),
        ..Config::default()
    };
    assert_eq!(
        documents::open(&DocumentKeys::from_config(&wrong), place, &sealed).unwrap_err(),
        DocumentError::Decrypt
    );
    assert_eq!(
        documents::open(
            &DocumentKeys::from_config(&app.state.config),
            place,
            &sealed
        )
        .unwrap(),
        plain
    );

    // Bob's own document reads before the move …
    assert!(
        review::document(&app.state, &bob, b.id, 1, 1, &origin())
            .await
            .is_ok()
    );
    // … then Alice's blob copied over it (bytes and wrapped key) does not
    // decrypt as Bob's, nor in another slot of Alice's own case.
    let (aid, bid) = match app.state.store.db() {
        tongxing::store::Db::Sqlite(_) => (
            format!("X'{}'", a.id.simple()),
            format!("X'{}'", b.id.simple()),
        ),
        tongxing::store::Db::Postgres(_) => (format!("'{}'", a.id), format!("'{}'", b.id)),
    };
    let copy = |to: &str, slot: i64| {
        format!(
            "UPDATE case_documents SET ciphertext = (SELECT ciphertext FROM case_documents WHERE case_id = {aid} AND slot = 1), \
             wrapped_key = (SELECT wrapped_key FROM case_documents WHERE case_id = {aid} AND slot = 1) \
             WHERE case_id = {to} AND slot = {slot}"
        )
    };
    assert_eq!(try_sql(&app, &copy(&bid, 1)).await, Ok(1));
    assert!(matches!(
        review::document(&app.state, &bob, b.id, 1, 1, &origin()).await,
        Err(ReviewError::Document(DocumentError::Decrypt))
    ));
    assert!(
        review::document(&app.state, &alice, a.id, 1, 2, &origin())
            .await
            .is_ok()
    );
    assert_eq!(try_sql(&app, &copy(&aid, 2)).await, Ok(1));
    assert!(matches!(
        review::document(&app.state, &alice, a.id, 1, 2, &origin()).await,
        Err(ReviewError::Document(DocumentError::Decrypt))
    ));
}

#[tokio::test]
async fn documents_are_readable_by_the_applicant_and_reviewers_only() {
    let app = spawn().await;
    let alice = app.user("alice").await;
    let mallory = app.user("mallory").await;
    let rev = reviewer(&app, "rev1").await;
    let c = submit(&app, &alice).await;
    assert!(matches!(
        review::document(&app.state, &mallory, c.id, 1, 1, &origin()).await,
        Err(ReviewError::NotFound)
    ));
    assert!(matches!(
        review::case_for_applicant(&app.state, &mallory, c.id).await,
        Err(ReviewError::NotFound)
    ));
    assert!(
        review::document(&app.state, &alice, c.id, 1, 1, &origin())
            .await
            .is_ok()
    );
    assert!(
        app.audit("review.document_viewed").await.is_empty(),
        "the applicant's own view"
    );
    assert!(
        review::document(&app.state, &rev, c.id, 1, 1, &origin())
            .await
            .is_ok()
    );
    let views = app.audit("review.document_viewed").await;
    assert_eq!(views.len(), 1);
    assert_eq!(views[0].actor, "rev1");
    assert_eq!(views[0].subject_id, Some(alice.id));
    assert_eq!(views[0].ip.as_deref(), Some("192.0.2.7"));
    // A slot that does not exist.
    assert!(matches!(
        review::document(&app.state, &rev, c.id, 1, 2, &origin()).await,
        Err(ReviewError::NotFound)
    ));
}

#[tokio::test]
async fn bad_uploads_are_refused_and_store_nothing() {
    let app = spawn().await;
    let alice = app.user("alice").await;
    let good = jpeg(32, 32);
    let mut padded = good.clone();
    padded.resize(1024 * 1024 + 1, 0);
    let cases: Vec<(Vec<Vec<u8>>, DocumentError)> = vec![
        (
            vec![b"%PDF-1.4 not a picture".to_vec()],
            DocumentError::NotJpeg { slot: 1 },
        ),
        (
            vec![good.clone(), png(16, 16)],
            DocumentError::NotJpeg { slot: 2 },
        ),
        (
            vec![padded],
            DocumentError::TooLarge {
                slot: 1,
                max: 1024 * 1024,
            },
        ),
        (
            vec![declaring(&good, 60000, 60000)],
            DocumentError::TooManyPixels {
                slot: 1,
                width: 60000,
                height: 60000,
            },
        ),
        (vec![], DocumentError::Missing),
        (vec![good.clone(); 4], DocumentError::TooMany),
    ];
    for (files, expected) in cases {
        let got = review::submit(&app.state, &alice, submission(files), &origin()).await;
        match got {
            Err(ReviewError::Document(e)) => assert_eq!(e, expected),
            other => panic!("{expected:?}: {other:?}"),
        }
    }
    let mut no_consent = submission(vec![good.clone()]);
    no_consent.consent_version = None;
    assert!(matches!(
        review::submit(&app.state, &alice, no_consent, &origin()).await,
        Err(ReviewError::ConsentRequired)
    ));
    assert!(
        app.state
            .store
            .cases_of_account(alice.id, CaseKind::PhoneUnbind)
            .await
            .unwrap()
            .is_empty()
    );
    // Control: the good file itself, at the cap, three of them, and the
    // bomb's own picture with its true size, are accepted.
    let mut at_cap = good.clone();
    at_cap.resize(1024 * 1024, 0);
    let c = review::submit(
        &app.state,
        &alice,
        submission(vec![at_cap, declaring(&good, 32, 32), good]),
        &origin(),
    )
    .await
    .unwrap();
    assert_eq!(docs(&app, &c, 1).await.len(), 3);
}

#[tokio::test]
async fn exif_and_gps_are_gone_and_the_picture_is_upright() {
    let app = spawn().await;
    let alice = app.user("alice").await;
    let tagged = with_exif(&jpeg(60, 40));
    assert!(tagged.windows(14).any(|w| w == b"GPS-SECRET-CAM"));
    let c = review::submit(&app.state, &alice, submission(vec![tagged]), &origin())
        .await
        .unwrap();
    let plain = review::document(&app.state, &alice, c.id, 1, 1, &origin())
        .await
        .unwrap();
    assert!(!plain.windows(14).any(|w| w == b"GPS-SECRET-CAM"));
    assert!(!plain.windows(4).any(|w| w == b"Exif"));
    let decoded = image::load_from_memory_with_format(&plain, image::ImageFormat::Jpeg).unwrap();
    assert_eq!(
        (decoded.width(), decoded.height()),
        (40, 60),
        "turned upright"
    );
    let meta = &docs(&app, &c, 1).await[0];
    assert_eq!((meta.width, meta.height), (40, 60));
}

#[tokio::test]
async fn without_a_key_encryption_key_documents_are_refused() {
    let app = TestApp::spawn().await;
    assert!(app.config.key_encryption_key.is_none());
    let alice = app.user("alice").await;
    assert!(matches!(
        review::submit(&app.state, &alice, submission(vec![jpeg(8, 8)]), &origin()).await,
        Err(ReviewError::Document(DocumentError::NoKey))
    ));
    assert!(
        app.state
            .store
            .cases_of_account(alice.id, CaseKind::PhoneUnbind)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_rotated_key_still_opens_what_it_wrapped() {
    let app = spawn().await;
    let alice = app.user("alice").await;
    let c = submit(&app, &alice).await;
    let stored = &docs(&app, &c, 1).await[0];
    let sealed = Sealed {
        kek_id: stored.kek_id.clone(),
        wrapped_key: stored.wrapped_key.clone().unwrap(),
        ciphertext: stored.ciphertext.clone().unwrap(),
    };
    let place = Place {
        case_id: c.id,
        revision: 1,
        slot: 1,
    };
    let mut rotated = (*app.state.config).clone();
    rotated.key_encryption_key = Some(kek(13));
    assert!(documents::open(&DocumentKeys::from_config(&rotated), place, &sealed).is_err());
    rotated.review.previous_key_encryption_keys = vec![kek(11)];
    rotated.validate().unwrap();
    assert!(documents::open(&DocumentKeys::from_config(&rotated), place, &sealed).is_ok());
}

#[tokio::test]
async fn several_nodes_purge_a_case_once() {
    let app = spawn().await;
    let other = app.spawn_node().await;
    let alice = app.user("alice").await;
    let c = submit(&app, &alice).await;
    review::withdraw(&app.state, &alice, c.id, c.version, &origin())
        .await
        .unwrap();
    app.advance(hours(24 * 7 + 1));
    let (a, b) = tokio::join!(
        review::purge_due(&app.state),
        review::purge_due(&other.state)
    );
    assert_eq!(a.unwrap() + b.unwrap(), 1);
    let purged = events(&app, &c)
        .await
        .into_iter()
        .filter(|e| e.0 == "purged")
        .count();
    assert_eq!(purged, 1);
    assert!(docs(&app, &c, 1).await[0].ciphertext.is_none());
}

#[tokio::test]
async fn production_requires_a_key_encryption_key() {
    let app = TestApp::spawn().await;
    let prod = [
        ("TONGXING_ENVIRONMENT", "production"),
        ("TONGXING_ISSUER", "https://id.example.org"),
        ("TONGXING_SMS__PROVIDER", "webhook"),
        ("TONGXING_SMS__WEBHOOK_URL", "https://sms.example.org/send"),
        ("TONGXING_SMS__WEBHOOK_SECRET", "a-long-enough-secret"),
        ("TONGXING_MAIL__PROVIDER", "smtp"),
        ("TONGXING_MAIL__SMTP__HOST", "mail.example.org"),
    ];
    let without = app.cli_env(&["keys", "list"], None, &prod).await;
    assert_eq!(without.code, 6, "{without:?}");
    assert!(
        without.stderr.contains("key_encryption_key"),
        "{}",
        without.stderr
    );
    let key = kek(11);
    let with = app
        .cli_env(
            &["keys", "list"],
            None,
            &[
                prod.as_slice(),
                &[("TONGXING_KEY_ENCRYPTION_KEY", key.as_str())],
            ]
            .concat(),
        )
        .await;
    assert_ne!(with.code, 6, "the configuration passes: {with:?}");
    assert!(
        !with.stderr.contains("key_encryption_key"),
        "{}",
        with.stderr
    );
}
