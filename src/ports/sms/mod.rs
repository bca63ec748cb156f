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

pub use crate::config::SmsPurpose;
use crate::config::{Config, SmsProvider, SmsTemplate};

/// One message. `text` may contain a one-time code: a secret, so it is
/// never logged and Debug leaves it out.
#[derive(Clone, Serialize)]
pub struct SmsMessage {
    /// E.164.
    pub to: String,
    pub text: String,
    /// What the message is for (`login`, `change_new` …): the gateway's
    /// statistics, the outbox, and the vendor template that carries it.
    pub purpose: SmsPurpose,
    /// The values of the message by name (`code`, `minutes`, `account`,
    /// `phone`, `time`: see [`SmsPurpose::values`]), for vendors that
    /// send registered templates with parameters.
    #[serde(skip)]
    pub values: Vec<(&'static str, String)>,
}

impl SmsMessage {
    /// The value named `name`, if the message has it.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A vendor's templates: one per purpose where configured, else the
/// general code template (for codes) or notice template (for notices).
pub struct VendorTemplates {
    pub by_purpose: std::collections::BTreeMap<SmsPurpose, SmsTemplate>,
    /// The code template of configurations without per-purpose templates,
    /// with its parameters.
    pub code: SmsTemplate,
    /// The notice template (no parameters); empty id: none.
    pub notice: String,
}

impl VendorTemplates {
    /// The template id for `message` and its (variable, value) pairs in
    /// order; an error names the purpose that has no template.
    pub fn resolve(&self, message: &SmsMessage) -> Result<(String, Vec<(String, String)>), SmsError> {
        let fallback;
        let template = match self.by_purpose.get(&message.purpose) {
            Some(t) => t,
            None if message.purpose.is_code() => &self.code,
            None => {
                fallback = SmsTemplate {
                    id: self.notice.clone(),
                    params: Vec::new(),
                };
                &fallback
            }
        };
        if template.id.is_empty() {
            return Err(SmsError::Delivery(format!(
                "no template is configured for {} messages",
                message.purpose.as_str()
            )));
        }
        let mut bound = Vec::new();
        for (var, value) in template.bindings() {
            let v = message.value(value).ok_or_else(|| {
                SmsError::Delivery(format!(
                    "the {} template asks for `{value}`, which the message does not have",
                    message.purpose.as_str()
                ))
            })?;
            bound.push((var.to_string(), v.to_string()));
        }
        Ok((template.id.clone(), bound))
    }
}

impl std::fmt::Debug for SmsMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmsMessage")
            .field("to", &crate::domain::PhoneNumber::masked(&self.to))
            .field("purpose", &self.purpose.as_str())
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
                templates: VendorTemplates {
                    by_purpose: a.templates.clone(),
                    code: SmsTemplate {
                        id: a.template_code.clone(),
                        params: vec!["code".into()],
                    },
                    notice: a.notice_template_code.clone(),
                },
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
                templates: VendorTemplates {
                    by_purpose: t.templates.clone(),
                    code: SmsTemplate {
                        id: t.template_id.clone(),
                        params: vec!["code".into(), "minutes".into()],
                    },
                    notice: t.notice_template_id.clone(),
                },
                region: t.region.clone(),
            })
        }
    }
}
