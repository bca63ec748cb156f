//! Every page in the middle of a flow, in the browser: each is reached the
//! way a person reaches it (or by the shortest real setup: accounts,
//! clients, organizations and review cases made with the service
//! functions, codes read from the outbox), then checked by axe-core (zero
//! violations) and by the language switch (the same page, with the same
//! forms, in English, and back). The console's pages of one record, its
//! confirmation page, the console at a phone's width, and the top bar in a
//! browser without `::details-content` are here too.

use fantoccini::{Client, Locator};
use serde_json::{Value, json};
use tongxing::config::Config;
use tongxing::service::accounts::NewAccount;

use super::{
    Session, at, axe_source, axe_violations, click, click_language_switch, html_lang, script,
    sign_in, text_of, until, wanted,
};
use crate::helpers::{PASSWORD, TestApp, code_in, link_in};

/// The sign-in, account, recovery and consent steps
/// ([`every_step_of_the_sign_in_account_and_recovery_flows`]).
pub(super) const SIGN_IN_STEPS: &[&str] = &[
    "/login/sms",
    "/authorize",
    "/account/phone/{kind}",
    "/account/phone/bind",
    "/account/email/confirm",
    "/logout",
    "/recover/method",
    "/recover/sms",
    "/recover/email",
    "/recover/link",
    "/recover/password",
    "/recover/done",
];
/// The unbind application's and the retrieval's steps
/// ([`every_step_of_the_unbind_and_retrieval_flows`]).
pub(super) const CASE_STEPS: &[&str] = &[
    "/account/phone/unbind/new",
    "/account/phone/unbind",
    "/account/phone/unbind/{id}/edit",
    "/unbind/cancel/{id}",
    "/retrieve/form",
    "/retrieve/confirm",
    "/retrieve/case",
    "/retrieve/files",
    "/retrieve/upload",
    "/retrieve/complete",
];
/// The device's pages ([`every_step_of_the_device_flow`]): the code's
/// question (a POST answer) and the outcome, both at `/device`.
pub(super) const DEVICE_STEPS: &[&str] = &["/device"];
/// The console's pages of one record ([`every_console_page_of_one_record`]);
/// `/admin/users/{id}` is also drawn as the confirmation of a destructive
/// action (a POST answer).
pub(super) const RECORD_PAGES: &[&str] = &[
    "/admin/users/{id}",
    "/admin/organizations/{id}",
    "/admin/review/{id}",
];

/// Whether `path` is the route `pattern` (`{…}` is one segment).
fn matches(pattern: &str, path: &str) -> bool {
    let (p, a): (Vec<&str>, Vec<&str>) = (pattern.split('/').collect(), path.split('/').collect());
    p.len() == a.len()
        && p.iter()
            .zip(&a)
            .all(|(p, a)| p == a || (p.starts_with('{') && !a.is_empty()))
}

async fn path_now(c: &Client) -> String {
    c.current_url().await.unwrap().path().to_string()
}

/// The current page once its path is the route `pattern`.
async fn at_route(c: &Client, pattern: &str) {
    until(&format!("a page of {pattern}"), || async {
        let url = c.current_url().await.ok()?;
        let ready = script(c, "return document.readyState").await;
        (matches(pattern, url.path()) && ready == "complete").then_some(())
    })
    .await;
}

/// What kind of page this is, whatever its language: the forms of its
/// content (id and where each posts) and its headings' count.
async fn kind_of(c: &Client) -> Value {
    script(
        c,
        "return [Array.from(document.querySelectorAll('main form')).map(f =>
           (f.id || '') + ' ' + new URL(f.action, location.href).pathname + ' ' + f.method),
           Array.from(document.querySelectorAll('main button[id]')).map(b => b.id),
           document.querySelectorAll('main h1').length,
           document.querySelectorAll('main h2').length]",
    )
    .await
}

/// How much Chinese the page's content holds.
async fn cjk_in_main(c: &Client) -> usize {
    let text = script(c, "return document.querySelector('main').innerText").await;
    text.as_str()
        .unwrap_or_default()
        .chars()
        .filter(|ch| ('\u{4e00}'..='\u{9fff}').contains(ch))
        .count()
}

/// The pages checked by one test, by route.
#[derive(Default)]
struct Checked {
    routes: Vec<String>,
    report: Vec<String>,
}

impl Checked {
    /// Checks the current page, which must be of `route`: axe finds no
    /// violation, and the language switch gives the same page (same
    /// route, same forms and headings) in English, with far less Chinese
    /// in its content and `<html lang=en>`, and switches back.
    async fn page(&mut self, c: &Client, axe: &str, route: &str) {
        at_route(c, route).await;
        for v in axe_violations(c, axe).await {
            self.report.push(format!("{route}: {v}"));
        }
        assert_eq!(html_lang(c).await, "zh-CN", "{route}: Chinese first");
        let kind = kind_of(c).await;
        let chinese = cjk_in_main(c).await;
        let heading = text_of(c, "h1").await;
        click_language_switch(c).await;
        until(&format!("{route} in English"), || async {
            (html_lang(c).await == "en").then_some(())
        })
        .await;
        at_route(c, route).await;
        assert_eq!(kind_of(c).await, kind, "{route}: the same page in English");
        let english = cjk_in_main(c).await;
        assert!(
            chinese > 0 && english * 2 < chinese,
            "{route}: translated ({chinese} Chinese characters, {english} in English)"
        );
        // A heading in words is translated; one that is a name (an
        // account's, an organization's) stays.
        if heading
            .chars()
            .any(|ch| ('\u{4e00}'..='\u{9fff}').contains(&ch))
        {
            assert_ne!(text_of(c, "h1").await, heading, "{route}: the heading");
        }
        // An English page has its own axe run too (other words, other
        // lengths: contrast and names are checked again).
        for v in axe_violations(c, axe).await {
            self.report.push(format!("{route} (en): {v}"));
        }
        click_language_switch(c).await;
        until(&format!("{route} in Chinese again"), || async {
            (html_lang(c).await == "zh-CN").then_some(())
        })
        .await;
        at_route(c, route).await;
        assert_eq!(kind_of(c).await, kind, "{route}: the same page again");
        assert_eq!(text_of(c, "h1").await, heading, "{route}: back in Chinese");
        if !self.routes.iter().any(|r| r == route) {
            self.routes.push(route.to_string());
        }
    }

    /// Every route of `expected` was checked, and no violation was found.
    fn finish(mut self, expected: &[&str]) {
        let mut want: Vec<String> = expected.iter().map(|r| r.to_string()).collect();
        want.sort();
        self.routes.sort();
        assert_eq!(self.routes, want, "the pages checked");
        assert!(
            self.report.is_empty(),
            "axe-core found violations:\n{}",
            self.report.join("\n")
        );
    }
}

/// Fills the fields of the form at `form` (text, select, checkbox and
/// radio alike, by name) and submits it with `submitter` (a button's CSS
/// within the form, or the form's first submit button).
async fn submit_form(c: &Client, form: &str, fields: &[(&str, &str)], submitter: Option<&str>) {
    until(&format!("the form {form}"), || async {
        c.find(Locator::Css(form)).await.ok()
    })
    .await;
    let fields: Vec<Value> = fields.iter().map(|(k, v)| json!([k, v])).collect();
    c.execute(
        "const [css, fields, submitter] = arguments;
         const form = document.querySelector(css);
         for (const [name, value] of fields) {
           const els = Array.from(form.querySelectorAll('[name=\"' + name + '\"]'));
           if (els.length === 0) throw new Error('no field ' + name + ' in ' + css);
           for (const el of els) {
             if (el.type === 'checkbox') el.checked = value !== '';
             else if (el.type === 'radio') el.checked = el.value === value;
             else el.value = value;
           }
         }
         const button = submitter ? form.querySelector(submitter)
           : form.querySelector('button[type=submit], button:not([type])');
         form.requestSubmit(button);",
        vec![json!(form), json!(fields), json!(submitter)],
    )
    .await
    .unwrap();
}

/// Puts `files` (JPEG bytes) into the file field at `input`, as a person
/// choosing them does.
async fn attach(c: &Client, input: &str, files: &[Vec<u8>]) {
    use base64::Engine;
    let encoded: Vec<String> = files
        .iter()
        .map(|f| base64::engine::general_purpose::STANDARD.encode(f))
        .collect();
    c.execute(
        "const [css, files] = arguments;
         const dt = new DataTransfer();
         files.forEach((b64, i) => {
           const bytes = Uint8Array.from(atob(b64), ch => ch.charCodeAt(0));
           dt.items.add(new File([bytes], 'scan' + i + '.jpg', {type: 'image/jpeg'}));
         });
         document.querySelector(css).files = dt.files;",
        vec![json!(input), json!(encoded)],
    )
    .await
    .unwrap();
}

fn jpeg(w: u32, h: u32, tint: u8) -> Vec<u8> {
    use image::codecs::jpeg::JpegEncoder;
    use image::{ImageEncoder, Rgb, RgbImage};
    let img = RgbImage::from_fn(w, h, |x, y| Rgb([(x * 3) as u8, (y * 5) as u8, tint]));
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, 90)
        .write_image(img.as_raw(), w, h, image::ExtendedColorType::Rgb8)
        .unwrap();
    out
}

/// The code of the last SMS to `to` (E.164) with `purpose`, once sent.
async fn sms_to(app: &TestApp, to: &str, purpose: &str, after: usize) -> String {
    until(&format!("an SMS to {to} ({purpose})"), || async {
        let sms = app.outbox("sms");
        sms.iter()
            .skip(after)
            .rev()
            .find(|m| m["to"] == to && m["purpose"] == purpose)
            .map(|m| code_in(m["text"].as_str().unwrap()))
    })
    .await
}

/// The text of the last mail with `purpose`, once sent.
async fn mail_of(app: &TestApp, purpose: &str) -> String {
    until(&format!("a mail ({purpose})"), || async {
        app.outbox("mail")
            .into_iter()
            .rev()
            .find(|m| m["purpose"] == purpose)
            .map(|m| m["text"].as_str().unwrap().to_string())
    })
    .await
}

fn kek() -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode([5u8; 32])
}

fn flows_config(c: &mut Config) {
    c.step_up.enabled = true;
    c.step_up.unknown_device = true;
    c.sms.resend_secs = 0;
    c.key_encryption_key = Some(kek());
}

/// On the step-up page: the code sent, read from the outbox and entered.
async fn pass_step_up(c: &Client, app: &TestApp, to: &str) {
    at(c, "/login/sms").await;
    let before = app.outbox("sms").len();
    click(c, "#send").await;
    let code = sms_to(app, to, "login", before).await;
    submit_form(c, "form[action='/login/sms']", &[("code", &code)], None).await;
}

/// The recovery's first step for `identifier`, up to the method page.
async fn recovery_method(c: &Client, app: &TestApp, identifier: &str) {
    c.goto(&format!("{}/recover", app.base)).await.unwrap();
    super::start_recovery(c, &app.state, identifier).await;
}

#[tokio::test]
async fn every_step_of_the_sign_in_account_and_recovery_flows() {
    if !wanted("every_step_of_the_sign_in_account_and_recovery_flows") {
        return;
    }
    let axe = axe_source();
    let app = TestApp::spawn_with(|c| {
        flows_config(c);
        c.phone.binding = tongxing::config::BindingPolicy::Required;
    })
    .await;
    let zhang = app
        .user_with(NewAccount {
            username: "zhang@cnic.cn".into(),
            login_phone: Some("13312348347".into()),
            ..NewAccount::default()
        })
        .await;
    app.verified_email(&zhang, "zhang@example.org").await;
    // No phone: the sign-in leads to the binding (`phone.binding`).
    app.user("wang@cnic.cn").await;
    let library = app
        .rp_with("library", |c| {
            c.name = "图书馆".into();
            c.first_party = false;
        })
        .await;
    let consent = crate::oidc_rules::authorize_url(&app, &library, "");
    let s = Session::start(1280).await;
    s.run("flows_sign_in", move |c| async move {
        let mut checked = Checked::default();
        let base = app.base.clone();
        // The step-up of a sign-in on a new device.
        sign_in(&c, &base, "zhang@cnic.cn", PASSWORD).await;
        checked.page(&c, &axe, "/login/sms").await;
        pass_step_up(&c, &app, "+8613312348347").await;
        at(&c, "/account").await;

        // Consent to an application of another party.
        c.goto(&consent).await.unwrap();
        text_of(&c, "#client-name").await;
        checked.page(&c, &axe, "/authorize").await;

        // Changing the login phone: each of its steps.
        c.goto(&format!("{base}/account/phone/login"))
            .await
            .unwrap();
        until("the phone page or its step-up", || async {
            let path = c.current_url().await.ok()?.path().to_string();
            (path == "/account/phone/login" || path == "/login/sms").then_some(())
        })
        .await;
        if path_now(&c).await == "/login/sms" {
            pass_step_up(&c, &app, "+8613312348347").await;
        }
        text_of(&c, "#step-old").await;
        checked.page(&c, &axe, "/account/phone/{kind}").await;
        let before = app.outbox("sms").len();
        submit_form(&c, "main form[action$='/old/send']", &[], None).await;
        let code = sms_to(&app, "+8613312348347", "change_old", before).await;
        checked.page(&c, &axe, "/account/phone/{kind}").await;
        submit_form(&c, "main form[action$='/old']", &[("code", &code)], None).await;
        text_of(&c, "#step-new").await;
        checked.page(&c, &axe, "/account/phone/{kind}").await;
        let before = app.outbox("sms").len();
        submit_form(
            &c,
            "main form[action$='/new/send']",
            &[("country_code", "+86"), ("number", "13912345678")],
            None,
        )
        .await;
        let code = sms_to(&app, "+8613912345678", "change_new", before).await;
        text_of(&c, "#confirm").await;
        checked.page(&c, &axe, "/account/phone/{kind}").await;
        submit_form(&c, "main form[action$='/new']", &[("code", &code)], None).await;
        text_of(&c, "#step-done").await;
        checked.page(&c, &axe, "/account/phone/{kind}").await;

        // A new security e-mail: the mailed link's page.
        c.goto(&format!("{base}/account/email")).await.unwrap();
        submit_form(
            &c,
            "#change",
            &[("email", "zhang.new@example.org"), ("password", PASSWORD)],
            None,
        )
        .await;
        let link = link_in(&mail_of(&app, "email_confirm").await);
        c.goto(&link).await.unwrap();
        checked.page(&c, &axe, "/account/email/confirm").await;
        submit_form(&c, "#confirm", &[], None).await;
        until("the address confirmed", || async {
            let stored = app.stored("zhang@cnic.cn").await.security_email;
            (stored.as_deref() == Some("zhang.new@example.org")).then_some(())
        })
        .await;
        text_of(&c, "#notice").await;
        checked.page(&c, &axe, "/account/email/confirm").await;

        // Signing out at the passport: the question, then the answer.
        c.goto(&format!("{base}/logout")).await.unwrap();
        checked.page(&c, &axe, "/logout").await;
        submit_form(&c, "main form[action='/logout']", &[], None).await;
        text_of(&c, "#logged-out").await;
        checked.page(&c, &axe, "/logout").await;
        c.delete_all_cookies().await.unwrap();

        // The recovery by e-mail: the method, the mail sent, the link's
        // page, done.
        recovery_method(&c, &app, "zhang@cnic.cn").await;
        checked.page(&c, &axe, "/recover/method").await;
        submit_form(&c, "#by-email", &[], None).await;
        checked.page(&c, &axe, "/recover/email").await;
        let link = link_in(&mail_of(&app, "recovery").await);
        c.goto(&link).await.unwrap();
        checked.page(&c, &axe, "/recover/link").await;
        let first = "Rx-Kettle-Window-417";
        submit_form(
            &c,
            "#password-form",
            &[("new", first), ("repeat", first)],
            None,
        )
        .await;
        checked.page(&c, &axe, "/recover/done").await;
        c.delete_all_cookies().await.unwrap();

        // The recovery by SMS: the code page and the password page.
        recovery_method(&c, &app, "zhang@cnic.cn").await;
        let before = app.outbox("sms").len();
        submit_form(&c, "#by-sms", &[], None).await;
        at(&c, "/recover/sms").await;
        let code = sms_to(&app, "+8613912345678", "recovery", before).await;
        checked.page(&c, &axe, "/recover/sms").await;
        submit_form(&c, "#code-form", &[("code", &code)], None).await;
        checked.page(&c, &axe, "/recover/password").await;
        c.delete_all_cookies().await.unwrap();

        // An account without a phone is led to bind one.
        sign_in(&c, &base, "wang@cnic.cn", PASSWORD).await;
        checked.page(&c, &axe, "/account/phone/bind").await;
        checked.finish(SIGN_IN_STEPS);
    })
    .await;
}

#[tokio::test]
async fn every_step_of_the_unbind_and_retrieval_flows() {
    if !wanted("every_step_of_the_unbind_and_retrieval_flows") {
        return;
    }
    let axe = axe_source();
    let app = TestApp::spawn_with(flows_config).await;
    let org = app.org("中国科学院计算机网络信息中心").await;
    let zhang = app
        .user_with(NewAccount {
            username: "zhang".into(),
            display_name: Some("张三".into()),
            organization: Some(org.full_name.clone()),
            login_phone: Some("13312348347".into()),
            ..NewAccount::default()
        })
        .await;
    app.verified_email(&zhang, "zhang@example.org").await;
    let reviewer = app
        .user_with(NewAccount {
            username: "rev".into(),
            roles: tongxing::domain::Roles::new([tongxing::domain::Role::Reviewer]),
            ..NewAccount::default()
        })
        .await;
    let s = Session::start(1280).await;
    s.run("flows_cases", move |c| async move {
        let mut checked = Checked::default();
        let base = app.base.clone();
        let origin = tongxing::service::Origin::default();
        // The phone is lost: from the step-up page to the application.
        sign_in(&c, &base, "zhang", PASSWORD).await;
        at(&c, "/login/sms").await;
        submit_form(&c, "#unbind", &[], None).await;
        checked.page(&c, &axe, "/account/phone/unbind/new").await;
        attach(&c, "#documents", &[jpeg(64, 48, 30)]).await;
        submit_form(
            &c,
            "#unbind-form",
            &[
                ("reason", "lost"),
                ("unbind_login", "1"),
                ("organization", "计算机网络信息中心"),
                ("country_code", "+86"),
                ("number", "13700001111"),
                ("password", PASSWORD),
                ("consent", "1"),
            ],
            None,
        )
        .await;
        checked.page(&c, &axe, "/account/phone/unbind").await;
        // Rejected by a reviewer: the application is edited.
        let case = until("the unbind case", || async {
            app.state
                .store
                .open_cases_of_kind(tongxing::store::review::CaseKind::PhoneUnbind, 10)
                .await
                .ok()?
                .into_iter()
                .next()
        })
        .await;
        let claimed =
            tongxing::service::review::claim(&app.state, &reviewer, case.id, case.version, &origin)
                .await
                .unwrap();
        tongxing::service::review::reject(
            &app.state,
            &reviewer,
            claimed.id,
            claimed.version,
            "照片看不清，请重新拍摄",
            &origin,
        )
        .await
        .unwrap();
        c.goto(&format!("{base}/account/phone/unbind/{}/edit", case.id))
            .await
            .unwrap();
        checked
            .page(&c, &axe, "/account/phone/unbind/{id}/edit")
            .await;
        // The mailed cancel link.
        let mail = mail_of(&app, "unbind_submitted").await;
        let link = mail
            .split_whitespace()
            .find(|w| w.contains("/unbind/cancel/"))
            .map(|w| {
                let start = w.find("http").unwrap_or(0);
                w[start..].trim_end_matches(['。', '.', ')']).to_string()
            })
            .expect("the cancel link");
        c.delete_all_cookies().await.unwrap();
        c.goto(&link).await.unwrap();
        checked.page(&c, &axe, "/unbind/cancel/{id}").await;

        // The retrieval through the organization: the form, its code, the
        // case, the uploads; the page to find a case and the completion.
        c.goto(&format!("{base}/retrieve/form?org={}", org.id))
            .await
            .unwrap();
        checked.page(&c, &axe, "/retrieve/form").await;
        let before = app.outbox("sms").len();
        submit_form(
            &c,
            "#form",
            &[
                ("name", "张三"),
                ("id_type", "resident_card"),
                ("id_number", "11010519491231002X"),
                ("country_code", "+86"),
                ("number", "13700002222"),
                ("reason", "forgotten"),
                ("consent", "1"),
            ],
            None,
        )
        .await;
        checked.page(&c, &axe, "/retrieve/confirm").await;
        let code = sms_to(&app, "+8613700002222", "retrieval", before).await;
        submit_form(&c, "#code-form", &[("code", &code)], None).await;
        checked.page(&c, &axe, "/retrieve/case").await;
        click(&c, "#to-upload").await;
        checked.page(&c, &axe, "/retrieve/upload").await;
        attach(
            &c,
            "form[action='/retrieve/upload/1'] input[type=file]",
            &[jpeg(64, 48, 10)],
        )
        .await;
        submit_form(&c, "form[action='/retrieve/upload/1']", &[], None).await;
        until("the first scan uploaded", || async {
            let url = c.current_url().await.ok()?;
            (url.path() == "/retrieve/upload" && url.query().is_some()).then_some(())
        })
        .await;
        checked.page(&c, &axe, "/retrieve/upload").await;
        c.goto(&format!("{base}/retrieve/files")).await.unwrap();
        checked.page(&c, &axe, "/retrieve/files").await;
        c.goto(&format!("{base}/retrieve/complete")).await.unwrap();
        checked.page(&c, &axe, "/retrieve/complete").await;
        checked.finish(CASE_STEPS);
    })
    .await;
}

#[tokio::test]
async fn every_console_page_of_one_record() {
    if !wanted("every_console_page_of_one_record") {
        return;
    }
    let axe = axe_source();
    let app = crate::review_queue::spawn_with(|_| {}).await;
    let who = crate::review_queue::applicant(&app, "chen", 7).await;
    let case = crate::review_queue::submit(&app, &who).await;
    let org = app.org("Computer Network Information Center").await;
    let s = Session::start(1280).await;
    let admin = app.admin_password.clone();
    s.run("flows_console", move |c| async move {
        let mut checked = Checked::default();
        let base = app.base.clone();
        sign_in(&c, &base, "admin", &admin).await;
        at(&c, "/account").await;
        let user = format!("{base}/admin/users/{}", who.id);
        c.goto(&user).await.unwrap();
        checked.page(&c, &axe, "/admin/users/{id}").await;
        // A destructive action: the confirmation, a POST answer, whose
        // switch posts the question again.
        submit_form(
            &c,
            "form:has(input[name=action][value=disable])",
            &[("reason", "left the institute")],
            None,
        )
        .await;
        text_of(&c, "#confirm-question").await;
        checked.page(&c, &axe, "/admin/users/{id}").await;
        assert!(
            c.find(Locator::Css("#confirm-form")).await.is_ok(),
            "the confirmation after both switches"
        );
        // Nothing was done by asking (and switching the language).
        let status = app.stored("chen").await.status;
        assert_eq!(status.as_str(), "active");
        click(&c, "#confirm").await;
        until("the account disabled", || async {
            let now = app.stored("chen").await.status;
            (now.as_str() == "disabled").then_some(())
        })
        .await;
        c.goto(&format!("{base}/admin/organizations/{}", org.id))
            .await
            .unwrap();
        checked.page(&c, &axe, "/admin/organizations/{id}").await;
        c.goto(&format!("{base}/admin/review/{}", case.id))
            .await
            .unwrap();
        checked.page(&c, &axe, "/admin/review/{id}").await;
        checked.finish(RECORD_PAGES);
    })
    .await;
}

/// The console at 390 px: no page scrolls sideways, and every table of
/// the console is a card per row, each cell named by its column.
#[tokio::test]
async fn the_console_fits_a_phone() {
    if !wanted("the_console_fits_a_phone") {
        return;
    }
    let app = crate::review_queue::spawn_with(|_| {}).await;
    let who = crate::review_queue::applicant(&app, "chen", 7).await;
    crate::review_queue::submit(&app, &who).await;
    app.org("中国科学院计算机网络信息中心").await;
    app.rp_with("library", |c| c.name = "图书馆".into()).await;
    let s = Session::start(390).await;
    let admin = app.admin_password.clone();
    s.run("console_phone_width", move |c| async move {
        let base = app.base.clone();
        c.set_window_size(390, 844).await.unwrap();
        let inner = script(&c, "return window.innerWidth").await;
        assert!(inner.as_u64().unwrap() <= 400, "a phone's width: {inner}");
        // A failed sign-in and a block, for the audit and the blocks.
        sign_in(&c, &base, "chen", "wrong-password").await;
        text_of(&c, "#login-error").await;
        sign_in(&c, &base, "admin", &admin).await;
        at(&c, "/account").await;
        let pages = [
            "/admin".to_string(),
            "/admin/users".to_string(),
            format!("/admin/users/{}", who.id),
            "/admin/clients".to_string(),
            "/admin/audit".to_string(),
            "/admin/organizations".to_string(),
            "/admin/blocks".to_string(),
            "/admin/calendar".to_string(),
            "/admin/review".to_string(),
        ];
        let mut tables = 0;
        for path in &pages {
            c.goto(&format!("{base}{path}")).await.unwrap();
            at(&c, path).await;
            let widths = script(
                &c,
                "return [document.documentElement.scrollWidth, window.innerWidth]",
            )
            .await;
            let (scroll, inner) = (widths[0].as_u64().unwrap(), widths[1].as_u64().unwrap());
            assert!(
                scroll <= inner,
                "{path} scrolls sideways at 390 px: {scroll} > {inner}"
            );
            // Each table with rows: a card per row (rows drawn as blocks
            // with a border), its header hidden, each cell labelled.
            let found = script(
                &c,
                "return Array.from(document.querySelectorAll('main table')).map(t => {
                   const rows = Array.from(t.querySelectorAll('tbody tr'));
                   const cells = Array.from(t.querySelectorAll('tbody td'));
                   const head = t.querySelector('thead');
                   return {
                     cards: t.classList.contains('cards'),
                     rows: rows.length,
                     blocks: rows.every(r => getComputedStyle(r).display === 'block'
                       && getComputedStyle(r).borderTopStyle !== 'none'),
                     head_hidden: !head || head.getBoundingClientRect().height <= 1,
                     unlabelled: cells.filter(td => !td.hasAttribute('data-label')
                       || (td.dataset.label !== '' && getComputedStyle(td, '::before').content
                             .replace(/\"/g, '') !== td.dataset.label)).map(td => td.outerHTML.slice(0, 80)),
                     fits: t.getBoundingClientRect().right <= window.innerWidth,
                   };
                 })",
            )
            .await;
            for t in found.as_array().unwrap() {
                if t["rows"].as_u64() == Some(0) {
                    continue;
                }
                tables += 1;
                assert_eq!(t["cards"], true, "{path}: a table of cards: {t}");
                assert_eq!(t["blocks"], true, "{path}: each row a card: {t}");
                assert_eq!(t["head_hidden"], true, "{path}: the header hidden: {t}");
                assert_eq!(t["unlabelled"], json!([]), "{path}: cells labelled: {t}");
                assert_eq!(t["fits"], true, "{path}: the table fits: {t}");
            }
        }
        // The positive control: the tables with rows were seen (users,
        // clients, audit, organizations, review queue at least).
        assert!(tables >= 5, "tables with rows checked: {tables}");
        // At full width the same tables are tables again.
        c.set_window_size(1280, 900).await.unwrap();
        until("the window at full width", || async {
            let inner = script(&c, "return window.innerWidth").await;
            (inner.as_u64()? > 1000).then_some(())
        })
        .await;
        c.goto(&format!("{base}/admin/users")).await.unwrap();
        at(&c, "/admin/users").await;
        let row = script(
            &c,
            "return getComputedStyle(document.querySelector('main table tbody tr')).display",
        )
        .await;
        assert_eq!(row, "table-row", "a table at full width");
    })
    .await;
}

/// The signed-in top bar in a browser without `::details-content`
/// (simulated in Chromium: the stylesheet's `@supports` condition names a
/// selector no browser knows): at full width 菜单 is shown and opens the
/// links, where Chromium itself shows them without it.
#[tokio::test]
async fn the_top_bar_works_without_details_content() {
    if !wanted("the_top_bar_works_without_details_content") {
        return;
    }
    let app = TestApp::spawn().await;
    app.user("old@cnic.cn").await;
    let s = Session::start(1280).await;
    s.run("top_bar_fallback", move |c| async move {
        let base = app.base.clone();
        sign_in(&c, &base, "old@cnic.cn", PASSWORD).await;
        at(&c, "/account").await;
        let visible = async |css: &str| {
            script(
                &c,
                &format!("return document.querySelector('{css}').checkVisibility()"),
            )
            .await
                == true
        };
        // Chromium knows the selector: a row of links, no 菜单.
        assert_eq!(
            script(&c, "return CSS.supports('selector(::details-content)')").await,
            true
        );
        assert!(visible("#nav-home").await, "the links drawn");
        assert!(!visible(".nav-menu > summary").await, "菜单 hidden");
        // The same stylesheet as an older browser reads it.
        c.execute_async(
            "const done = arguments[arguments.length - 1];
             const link = document.querySelector('link[rel=stylesheet]');
             fetch(link.href).then(r => r.text()).then(css => {
               const style = document.createElement('style');
               style.textContent = css.replaceAll('selector(::details-content)', 'selector(::no-such-part)');
               link.remove();
               document.head.appendChild(style);
               done(css.includes('selector(::details-content)'));
             });",
            vec![],
        )
        .await
        .map(|replaced| assert_eq!(replaced, true, "the condition is in the stylesheet"))
        .unwrap();
        until("菜单 shown", || async {
            visible(".nav-menu > summary").await.then_some(())
        })
        .await;
        assert!(!visible("#nav-home").await, "closed until opened");
        click(&c, ".nav-menu > summary").await;
        until("the links drawn once 菜单 opens", || async {
            visible("#nav-home").await.then_some(())
        })
        .await;
        click(&c, "#nav-security").await;
        until("a link followed", || async {
            (path_now(&c).await != "/account").then_some(())
        })
        .await;
    })
    .await;
}

/// A device's code typed in the browser: the question (drawn in answer to
/// the code's POST; its switch posts the code again), allowed and denied,
/// and the outcome (a GET page after the callback's redirect).
#[tokio::test]
async fn every_step_of_the_device_flow() {
    if !wanted("every_step_of_the_device_flow") {
        return;
    }
    let axe = axe_source();
    let app = TestApp::spawn_with(|c| c.oidc.device_clients = vec!["cli".into()]).await;
    app.user("li@cnic.cn").await;
    let rp = app
        .rp_with("cli", |c| {
            c.first_party = true;
            c.name = "实验数据工具".into();
        })
        .await;
    let start = async || {
        let r = reqwest::Client::new()
            .post(format!("{}/device_authorization", app.base))
            .basic_auth(&rp.id, rp.secret.as_deref())
            .form(&[("scope", "openid profile")])
            .send()
            .await
            .unwrap();
        let started: Value = r.json().await.unwrap();
        started["user_code"].as_str().unwrap().to_string()
    };
    let (allowed, denied) = (start().await, start().await);
    let s = Session::start(1280).await;
    let base = app.base.clone();
    s.run("flows_device", move |c| async move {
        let mut checked = Checked::default();
        sign_in(&c, &base, "li@cnic.cn", PASSWORD).await;
        at(&c, "/account").await;
        for (code, decision) in [(&allowed, "allow"), (&denied, "deny")] {
            c.goto(&format!("{base}/device")).await.unwrap();
            submit_form(
                &c,
                "main form[action='/device']",
                &[("user_code", code)],
                None,
            )
            .await;
            text_of(&c, "#device-code").await;
            checked.page(&c, &axe, "/device").await;
            assert!(
                text_of(&c, "#device-code").await.len() >= 8,
                "the question after both switches"
            );
            click(&c, &format!("#device-{decision}")).await;
            let outcome = if decision == "allow" {
                "done"
            } else {
                "denied"
            };
            until(&format!("the outcome {outcome}"), || async {
                let url = c.current_url().await.ok()?;
                (url.path() == "/device"
                    && url.query()
                        == Some(&format!(
                            "done={}",
                            if decision == "allow" {
                                "approved"
                            } else {
                                "denied"
                            }
                        )))
                .then_some(())
            })
            .await;
            text_of(&c, &format!("#device-{outcome}")).await;
            checked.page(&c, &axe, "/device").await;
            text_of(&c, &format!("#device-{outcome}")).await;
        }
        checked.finish(DEVICE_STEPS);
    })
    .await;
}
