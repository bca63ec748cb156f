//! The working-day calendar: kept by administrators a year at a time on
//! the API and the command line, and counted with where a promise says
//! "within N working days".

use reqwest::StatusCode;
use serde_json::{Value, json};
use time::macros::{date, datetime};
use tongxing::service::calendar;

use crate::admin_api::{Api, admin_token};
use crate::helpers::TestApp;

fn spring_festival() -> Value {
    json!({ "days": [
        { "date": "2027-02-12", "kind": "holiday" },
        { "date": "2027-02-06", "kind": "workday", "note": "春节调休" },
        { "date": "2027-02-08", "kind": "holiday", "note": "春节" },
        { "date": "2027-02-09", "kind": "holiday", "note": "春节" },
        { "date": "2027-02-10", "kind": "holiday", "note": "春节" },
        { "date": "2027-02-11", "kind": "holiday", "note": "春节" },
    ]})
}

#[tokio::test]
async fn a_year_is_replaced_as_a_whole_and_counted_with() {
    let app = TestApp::spawn().await;
    let api = Api::new(&app, &admin_token(&app).await);

    let (status, empty) = api.call("GET", "/api/v1/calendar/2027", None).await;
    assert_eq!(status, StatusCode::OK, "{empty}");
    assert_eq!(empty["days"], json!([]));
    // Before: Friday evening in Beijing, one working day → end of Monday.
    let friday = datetime!(2027-02-05 10:00 UTC);
    let due = calendar::due_after_working_days(&app.state, friday, 1)
        .await
        .unwrap();
    assert_eq!(
        due,
        datetime!(2027-02-08 16:00 UTC),
        "end of Monday, +08:00"
    );

    let (status, stored) = api
        .call("PUT", "/api/v1/calendar/2027", Some(spring_festival()))
        .await;
    assert_eq!(status, StatusCode::OK, "{stored}");
    assert_eq!(stored["days"][0]["date"], "2027-02-06", "sorted by date");
    assert_eq!(stored["days"][0]["note"], "春节调休");
    assert_eq!(stored["days"].as_array().unwrap().len(), 6);
    let (_, read) = api.call("GET", "/api/v1/calendar/2027", None).await;
    assert_eq!(read, stored);

    // The adjusted Saturday is the next working day; after it the holiday
    // week and the weekend pass.
    let due = calendar::due_after_working_days(&app.state, friday, 1)
        .await
        .unwrap();
    assert_eq!(due, datetime!(2027-02-06 16:00 UTC));
    let day = calendar::nth_working_day_after(&app.state, datetime!(2027-02-06 02:00 UTC), 1)
        .await
        .unwrap();
    assert_eq!(day, date!(2027 - 02 - 15));
    let audit = app.audit("calendar.updated").await;
    assert_eq!(audit.len(), 1);
    assert!(
        audit[0].detail.contains("\"holidays\":5"),
        "{}",
        audit[0].detail
    );

    // Replacing the year drops what the new list does not have.
    let (status, _) = api
        .call(
            "PUT",
            "/api/v1/calendar/2027",
            Some(json!({ "days": [{ "date": "2027-10-01", "kind": "holiday", "note": "国庆" }] })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let due = calendar::due_after_working_days(&app.state, friday, 1)
        .await
        .unwrap();
    assert_eq!(due, datetime!(2027-02-08 16:00 UTC), "the 调休 is gone");
}

#[tokio::test]
async fn a_wrong_entry_is_named_and_nothing_is_written() {
    let app = TestApp::spawn().await;
    let api = Api::new(&app, &admin_token(&app).await);
    let (status, _) = api
        .call("PUT", "/api/v1/calendar/2027", Some(spring_festival()))
        .await;
    assert_eq!(status, StatusCode::OK);

    for (days, field, says) in [
        (
            json!([{ "date": "2027-10-01", "kind": "holiday" }, { "date": "2027-02-08", "kind": "workday" }]),
            "days[1]",
            "Saturday or Sunday",
        ),
        (
            json!([{ "date": "2028-01-01", "kind": "holiday" }]),
            "days[0]",
            "not in this year",
        ),
        (
            json!([{ "date": "2027-02-30", "kind": "holiday" }]),
            "days[0]",
            "not a date",
        ),
        (
            json!([{ "date": "2027-05-03", "kind": "vacation" }]),
            "days[0]",
            "holiday",
        ),
        (
            json!([{ "date": "2027-05-03", "kind": "holiday" }, { "date": "2027-05-03", "kind": "holiday" }]),
            "days[1]",
            "twice",
        ),
    ] {
        let (status, problem) = api
            .call(
                "PUT",
                "/api/v1/calendar/2027",
                Some(json!({ "days": days })),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert_eq!(problem["field"], field, "{problem}");
        assert!(
            problem["detail"].as_str().unwrap().contains(says),
            "{problem}"
        );
    }
    let (status, problem) = api.call("GET", "/api/v1/calendar/1999", None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["field"], "year");
    let (status, problem) = api.call("GET", "/api/v1/calendar/next", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(problem["field"], "year");
    let (status, problem) = api
        .call(
            "PUT",
            "/api/v1/calendar/2027",
            Some(json!({ "year": 2028, "days": [] })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["field"], "year");

    // Nothing of the refused lists was written.
    let (_, read) = api.call("GET", "/api/v1/calendar/2027", None).await;
    assert_eq!(read["days"].as_array().unwrap().len(), 6, "{read}");
    assert_eq!(app.audit("calendar.updated").await.len(), 1);

    // Without the admin token: refused.
    let (status, _) = Api::new(&app, "not-a-token")
        .call("GET", "/api/v1/calendar/2027", None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_command_line_reads_and_writes_the_text_form() {
    let app = TestApp::spawn().await;
    let text = "# 2027 春节\n2027-02-06 workday 春节调休\n\n2027-02-08 holiday 春节\n";
    let set = app.cli(&["calendar", "set", "2027", "-"], Some(text)).await;
    assert_eq!(set.code, 0, "{set:?}");
    assert!(set.stdout.contains("2 marked dates"), "{set:?}");
    let show = app.cli(&["calendar", "show", "2027"], None).await;
    assert_eq!(show.code, 0, "{show:?}");
    assert_eq!(
        show.stdout,
        "2027-02-06 workday 春节调休\n2027-02-08 holiday 春节\n"
    );

    let bad = app
        .cli(
            &["calendar", "set", "2027", "-"],
            Some("2027-02-06 workday\n2027-02-09 workday 周二\n"),
        )
        .await;
    assert_eq!(bad.code, 3, "{bad:?}");
    assert!(
        bad.stderr.contains("entry 2 (2027-02-09)") && bad.stderr.contains("Saturday or Sunday"),
        "{}",
        bad.stderr
    );
    let show = app.cli(&["calendar", "show", "2027"], None).await;
    assert!(
        show.stdout.contains("2027-02-08 holiday"),
        "unchanged: {show:?}"
    );
    let audit = app.audit("calendar.updated").await;
    assert_eq!(audit.len(), 1);
    assert!(audit[0].actor.starts_with("cli:"), "{}", audit[0].actor);
}

#[tokio::test]
async fn administrators_keep_the_calendar_in_the_console() {
    let app = TestApp::spawn().await;
    app.user("plain@cnic.cn").await;
    let plain = app.browser();
    plain.login("plain@cnic.cn", crate::helpers::PASSWORD).await;
    assert_eq!(
        plain.get("/admin/calendar").await.status,
        StatusCode::FORBIDDEN
    );

    let b = app.browser();
    b.login("admin", &app.admin_password).await;
    let empty = b.get("/admin/calendar?year=2027").await;
    assert_eq!(empty.status, StatusCode::OK);
    assert!(empty.has("工作日历 2027") && empty.has("id=\"no-exceptions\""));
    assert!(empty.has("今天之后的下一个工作日："), "{}", empty.body);
    assert!(b.get("/admin").await.has("id=\"nav-calendar\""));

    let saved = b
        .submit_page(
            &empty,
            "/admin/calendar",
            &[(
                "days",
                "2027-02-08 holiday 春节\n# 调休\n2027-02-06 workday 春节调休\n",
            )],
        )
        .await;
    assert_eq!(
        saved.redirect(),
        (StatusCode::SEE_OTHER, Some("/admin/calendar?year=2027"))
    );
    let page = b.get("/admin/calendar?year=2027").await;
    assert!(
        crate::helpers::without_labels(&page.body)
            .contains("<td>2027-02-06</td><td>周六</td><td>调休上班</td><td>春节调休</td>"),
        "{}",
        page.body
    );
    assert!(
        crate::helpers::without_labels(&page.body)
            .contains("<td>2027-02-08</td><td>周一</td><td>放假</td><td>春节</td>")
    );
    assert!(page.has("2027-02-06 workday 春节调休\n2027-02-08 holiday 春节\n"));

    // A wrong line: named in the page's language, the typed text kept,
    // nothing stored.
    let typed = "2027-02-08 holiday 春节\n2027-02-09 workday 周二\n";
    let refused = b
        .submit_page(&page, "/admin/calendar", &[("days", typed)])
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.has("第 2 项（2027-02-09）调休上班只能是周六或周日"),
        "{}",
        refused.body
    );
    assert!(refused.has("2027-02-09 workday 周二"));
    let en = b
        .submit_page(&page, "/admin/calendar?lang=en", &[("days", typed)])
        .await;
    assert!(en.has("Entry 2 (2027-02-09) is a weekday"), "{}", en.body);
    let after = b.get("/admin/calendar?year=2027&lang=en").await;
    assert!(after.has("Working days 2027") && after.has("Worked weekend day"));
    assert!(
        crate::helpers::without_labels(&after.body).contains("<td>2027-02-06</td><td>Sat</td>"),
        "unchanged"
    );
    assert_eq!(app.audit("calendar.updated").await.len(), 1);

    // Without the form's CSRF token: refused.
    let forged = b
        .post_form("/admin/calendar", &[("year", "2027"), ("days", "")])
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(app.audit("calendar.updated").await.len(), 1);
}
