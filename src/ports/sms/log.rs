//! Development sender: each message becomes one JSON line in
//! `<data_dir>/outbox/sms.jsonl` (to, text, purpose, time). The log gets a
//! line without the text (it may hold a code).

use std::path::PathBuf;

use async_trait::async_trait;
use serde_json::json;

use super::{SmsError, SmsMessage, SmsSender};
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
impl SmsSender for OutboxSender {
    async fn send(&self, message: &SmsMessage) -> Result<(), SmsError> {
        self.outbox
            .append(json!({ "to": message.to, "text": message.text, "purpose": message.purpose }))
            .await
            .map_err(|e| SmsError::Delivery(e.to_string()))?;
        tracing::info!(to = %crate::domain::PhoneNumber::masked(&message.to), purpose = message.purpose.as_str(), "sms written to the development outbox");
        Ok(())
    }

    fn name(&self) -> &'static str {
        "log"
    }
}
