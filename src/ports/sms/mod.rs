//! Sending SMS. `log` (development outbox) and `webhook` (a JSON POST to
//! the institution's own SMS gateway, HMAC-signed); vendor APIs plug in
//! behind the same trait.

mod log;
mod webhook;

pub use webhook::signature as webhook_signature;

use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;

use crate::config::{Config, SmsProvider};

/// One message. `text` may contain a one-time code: a secret, so it is
/// never logged and Debug leaves it out.
#[derive(Clone, Serialize)]
pub struct SmsMessage {
    /// E.164.
    pub to: String,
    pub text: String,
    /// What the message is for (`login`, `recovery` …), for the gateway's
    /// statistics and the outbox.
    pub purpose: String,
}

impl std::fmt::Debug for SmsMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmsMessage")
            .field("to", &crate::domain::PhoneNumber::masked(&self.to))
            .field("purpose", &self.purpose)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SmsError {
    #[error("sms delivery failed: {0}")]
    Delivery(String),
}

#[async_trait]
pub trait SmsSender: Send + Sync {
    async fn send(&self, message: &SmsMessage) -> Result<(), SmsError>;
    fn name(&self) -> &'static str;
}

/// The sender the configuration names (validated at boot).
pub fn from_config(config: &Config, http: reqwest::Client) -> Arc<dyn SmsSender> {
    match config.sms.provider {
        SmsProvider::Log => Arc::new(log::OutboxSender::new(
            config.data_dir.join("outbox").join("sms.jsonl"),
        )),
        SmsProvider::Webhook => Arc::new(webhook::WebhookSender::new(
            http,
            config.sms.webhook_url.clone().unwrap_or_default(),
            config.sms.webhook_secret.clone().unwrap_or_default(),
        )),
    }
}
