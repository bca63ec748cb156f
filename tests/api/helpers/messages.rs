//! The development outboxes (SMS, mail) and the flows that read them.

use reqwest::StatusCode;
use tongxing::store::users::User;

use super::{Browser, Page, TestApp};

impl TestApp {
    /// What the development senders wrote to `<data_dir>/outbox/<kind>.jsonl`
    /// (`sms`, `mail`), one JSON object per message, oldest first.
    pub fn outbox(&self, kind: &str) -> Vec<serde_json::Value> {
        let path = self
            .config
            .data_dir
            .join("outbox")
            .join(format!("{kind}.jsonl"));
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

impl TestApp {
    /// Gives `user` a verified security e-mail (as a confirmed link would).
    pub async fn verified_email(&self, user: &User, email: &str) {
        let audit = tongxing::service::audit::Entry::new(
            "security_email.verified",
            tongxing::service::audit::Outcome::Success,
        )
        .subject(user)
        .finish();
        self.state
            .store
            .set_security_email(user.id, Some(&email.to_lowercase()), &audit)
            .await
            .unwrap();
    }

    /// Waits (up to 5 s) until the outbox holds at least `n` messages:
    /// some are delivered in the background.
    pub async fn outbox_wait(&self, kind: &str, n: usize) -> Vec<serde_json::Value> {
        for _ in 0..100 {
            let messages = self.outbox(kind);
            if messages.len() >= n {
                return messages;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!(
            "the {kind} outbox never held {n} messages: {:?}",
            self.outbox(kind)
        );
    }

    /// Opens `/recover` in `b` and answers its captcha for `identifier`.
    pub async fn recover_start(&self, b: &Browser, identifier: &str) -> Page {
        let page = b.get("/recover").await;
        assert_eq!(page.status, StatusCode::OK);
        let id = page
            .hidden_fields()
            .into_iter()
            .find(|(k, _)| k == "captcha_id")
            .map(|(_, v)| v)
            .expect("a captcha on the recovery page");
        let answer = self
            .state
            .captcha
            .peek_answer(&id)
            .await
            .unwrap()
            .expect("a live captcha");
        b.submit_page(
            &page,
            "/recover",
            &[("identifier", identifier), ("captcha", &answer)],
        )
        .await
    }
}

/// The six-digit code in a message text.
pub fn code_in(text: &str) -> String {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .unwrap_or_else(|| panic!("no code in {text}"))
        .to_string()
}

/// The first `http…` link in a message text.
pub fn link_in(text: &str) -> String {
    let start = text
        .find("http")
        .unwrap_or_else(|| panic!("no link in {text}"));
    text[start..].split_whitespace().next().unwrap().to_string()
}

impl TestApp {
    /// Starts a recovery for `identifier` in `b` and picks the way at
    /// `action` (`/recover/sms/send` or `/recover/email`).
    /// Returns the page the browser lands on: the code page or the
    /// mail-sent page after the redirect, or the refusal.
    pub async fn recover_by(&self, b: &Browser, identifier: &str, action: &str) -> Page {
        self.recover_start(b, identifier).await;
        let answer = b
            .submit_page(&b.get("/recover/method").await, action, &[])
            .await;
        if answer.status != StatusCode::SEE_OTHER {
            return answer;
        }
        let to = if action == "/recover/sms/send" {
            "/recover/sms"
        } else {
            "/recover/email"
        };
        b.redirected(answer, to).await
    }
}
