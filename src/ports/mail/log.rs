//! Development sender: each message becomes one JSON line in
//! `<data_dir>/outbox/mail.jsonl` (to, subject, text, html, purpose, time).
//! The log gets a line without the bodies (they hold one-time links).

use std::path::PathBuf;

use async_trait::async_trait;
use serde_json::json;

use super::{MailError, MailMessage, MailSender};
use crate::ports::clock::SharedClock;
use crate::ports::outbox::Outbox;

pub struct OutboxSender {
    outbox: Outbox,
}

impl OutboxSender {
    pub fn new(path: PathBuf, clock: SharedClock) -> Self {
        Self {
            outbox: Outbox::new(path, clock),
        }
    }
}

#[async_trait]
impl MailSender for OutboxSender {
    async fn send(&self, m: &MailMessage) -> Result<(), MailError> {
        self.outbox
            .append(json!({
                "to": m.to,
                "subject": m.subject,
                "text": m.text,
                "html": m.html,
                "purpose": m.purpose,
            }))
            .await
            .map_err(|e| MailError::Delivery(e.to_string()))?;
        tracing::info!(to = %crate::domain::Email::masked(&m.to), purpose = %m.purpose, "mail written to the development outbox");
        Ok(())
    }

    fn name(&self) -> &'static str {
        "log"
    }
}
