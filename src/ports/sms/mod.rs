//! Sending SMS. `log` (development outbox) and `webhook` (a JSON POST to
//! the institution's own SMS gateway, HMAC-signed); vendor APIs plug in
//! behind the same trait.

pub mod aliyun;
mod log;
pub mod tencent;
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
    /// Template parameters for vendors that send registered templates
    /// (code first, then its validity in minutes); empty for a notice,
    /// which such vendors send with their notice template.
    #[serde(skip)]
    pub params: Vec<String>,
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
pub fn from_config(
    config: &Config,
    http: reqwest::Client,
    clock: crate::ports::clock::SharedClock,
) -> Arc<dyn SmsSender> {
    match config.sms.provider {
        SmsProvider::Log => Arc::new(log::OutboxSender::new(
            config.data_dir.join("outbox").join("sms.jsonl"),
            clock,
        )),
        SmsProvider::Webhook => Arc::new(webhook::WebhookSender::new(
            http,
            config.sms.webhook_url.clone().unwrap_or_default(),
            config.sms.webhook_secret.clone(),
        )),
        SmsProvider::Aliyun => {
            let a = &config.sms.aliyun;
            Arc::new(aliyun::AliyunSender {
                http,
                endpoint: a.endpoint.clone(),
                access_key_id: a.access_key_id.clone(),
                access_key_secret: a.access_key_secret.clone(),
                sign_name: a.sign_name.clone(),
                template_code: a.template_code.clone(),
                notice_template_code: a.notice_template_code.clone(),
            })
        }
        SmsProvider::Tencent => {
            let t = &config.sms.tencent;
            Arc::new(tencent::TencentSender {
                http,
                endpoint: t.endpoint.clone(),
                secret_id: t.secret_id.clone(),
                secret_key: t.secret_key.clone(),
                sdk_app_id: t.sdk_app_id.clone(),
                sign_name: t.sign_name.clone(),
                template_id: t.template_id.clone(),
                notice_template_id: t.notice_template_id.clone(),
                region: t.region.clone(),
            })
        }
    }
}
