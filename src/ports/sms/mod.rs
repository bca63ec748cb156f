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
    pub fn resolve(
        &self,
        message: &SmsMessage,
    ) -> Result<(String, Vec<(String, String)>), SmsError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn template(id: &str, params: &[&str]) -> SmsTemplate {
        SmsTemplate {
            id: id.into(),
            params: params.iter().map(|p| p.to_string()).collect(),
        }
    }

    fn message(purpose: SmsPurpose, values: &[(&'static str, &str)]) -> SmsMessage {
        SmsMessage {
            to: "+8613312348347".into(),
            text: String::new(),
            purpose,
            values: values.iter().map(|(n, v)| (*n, v.to_string())).collect(),
        }
    }

    fn vendor() -> VendorTemplates {
        VendorTemplates {
            by_purpose: [
                (
                    SmsPurpose::ChangeNew,
                    template("T_NEW", &["code", "minutes"]),
                ),
                (
                    SmsPurpose::PhoneChangedNotice,
                    template("T_CHANGED", &["name=account", "time"]),
                ),
            ]
            .into_iter()
            .collect(),
            code: template("T_CODE", &["code"]),
            notice: "T_NOTICE".into(),
        }
    }

    #[test]
    fn each_purpose_takes_its_own_template_and_parameters_in_order() {
        let v = vendor();
        let code = [("code", "123456"), ("minutes", "5")];
        assert_eq!(
            v.resolve(&message(SmsPurpose::ChangeNew, &code)).unwrap(),
            (
                "T_NEW".to_string(),
                vec![
                    ("code".to_string(), "123456".to_string()),
                    ("minutes".to_string(), "5".to_string())
                ]
            )
        );
        // A purpose without its own template falls back to the code one…
        assert_eq!(
            v.resolve(&message(SmsPurpose::Bind, &code)).unwrap(),
            (
                "T_CODE".to_string(),
                vec![("code".to_string(), "123456".to_string())]
            )
        );
        // …a notice to the notice template, without parameters.
        let reset = [("account", "zhang"), ("time", "2026-12-01 08:00 UTC")];
        assert_eq!(
            v.resolve(&message(SmsPurpose::PasswordResetNotice, &reset))
                .unwrap(),
            ("T_NOTICE".to_string(), vec![])
        );
        // A variable named in the template (Aliyun's `${name}`).
        let changed = [
            ("account", "zhang"),
            ("phone", "139****5678"),
            ("time", "2026-12-01 08:00 UTC"),
        ];
        assert_eq!(
            v.resolve(&message(SmsPurpose::PhoneChangedNotice, &changed))
                .unwrap()
                .1,
            vec![
                ("name".to_string(), "zhang".to_string()),
                ("time".to_string(), "2026-12-01 08:00 UTC".to_string())
            ]
        );
    }

    #[test]
    fn a_purpose_without_any_template_is_an_error_not_a_wrong_message() {
        let mut v = vendor();
        v.notice = String::new();
        let err = v
            .resolve(&message(SmsPurpose::PasswordResetNotice, &[]))
            .unwrap_err();
        assert!(err.to_string().contains("password_reset_notice"), "{err}");
        // Positive control: the same vendor sends codes.
        assert!(
            v.resolve(&message(SmsPurpose::Login, &[("code", "1")]))
                .is_ok()
        );
    }

    #[test]
    fn the_configuration_names_purposes_and_values_that_exist() {
        let parse = |toml: &str| -> Result<crate::config::Config, String> {
            use figment::Figment;
            use figment::providers::{Format, Serialized, Toml};
            let c: crate::config::Config =
                Figment::from(Serialized::defaults(crate::config::Config::default()))
                    .merge(Toml::string(toml))
                    .extract()
                    .map_err(|e| e.to_string())?;
            c.validate().map_err(|e| e.to_string())?;
            Ok(c)
        };
        let ok = parse(
            "[sms.tencent.templates.change_old]\nid = \"100001\"\nparams = [\"code\", \"minutes\"]\n",
        )
        .unwrap();
        assert_eq!(
            ok.sms.tencent.templates[&SmsPurpose::ChangeOld].id,
            "100001"
        );
        let unknown_purpose =
            parse("[sms.aliyun.templates.lottery]\nid = \"SMS_1\"\n").unwrap_err();
        assert!(unknown_purpose.contains("lottery"), "{unknown_purpose}");
        let unknown_value = parse(
            "[sms.aliyun.templates.login]\nid = \"SMS_1\"\nparams = [\"code\", \"password\"]\n",
        )
        .unwrap_err();
        assert!(
            unknown_value.contains("password") && unknown_value.contains("code, minutes"),
            "{unknown_value}"
        );
    }
}
