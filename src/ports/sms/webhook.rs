//! Webhook sender: `POST <url>` with `{"to","text","purpose"}` as JSON.
//! The receiver authenticates it by
//! `X-Tongxing-Signature: t=<unix time>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`
//! (the timestamp inside the MAC defeats replays of old requests).
//! Three attempts with backoff; 5xx and transport errors are retried.

use std::time::Duration;

use async_trait::async_trait;

use super::{SmsError, SmsMessage, SmsSender};

pub struct WebhookSender {
    http: reqwest::Client,
    url: String,
    /// Checked at boot (`sms.webhook_secret`); a sender built without one
    /// refuses to send rather than sign with an empty key.
    secret: Option<String>,
}

impl WebhookSender {
    pub fn new(http: reqwest::Client, url: String, secret: Option<String>) -> Self {
        Self { http, url, secret }
    }
}

/// The signature header value for `body` at unix time `t`.
pub fn signature(secret: &str, t: i64, body: &[u8]) -> String {
    let signed = [t.to_string().as_bytes(), b".", body].concat();
    format!(
        "t={t},v1={}",
        hex::encode(crate::crypto::hmac_sha256(secret.as_bytes(), &signed))
    )
}

#[async_trait]
impl SmsSender for WebhookSender {
    async fn send(&self, message: &SmsMessage) -> Result<(), SmsError> {
        let Some(secret) = self.secret.as_deref().filter(|s| !s.is_empty()) else {
            return Err(SmsError::Delivery(
                "no webhook secret is configured (sms.webhook_secret)".into(),
            ));
        };
        let body = serde_json::to_vec(message).map_err(|e| SmsError::Delivery(e.to_string()))?;
        let mut last = String::new();
        for attempt in 0..3u32 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(300 * 2u64.pow(attempt - 1))).await;
            }
            // Real time, not the injected clock: the gateway checks the
            // signed timestamp against its own clock (replay window).
            let t = time::OffsetDateTime::now_utc().unix_timestamp();
            let result = self
                .http
                .post(&self.url)
                .header("content-type", "application/json")
                .header("x-tongxing-signature", signature(secret, t, &body))
                .timeout(Duration::from_secs(5))
                .body(body.clone())
                .send()
                .await;
            match result {
                Ok(r) if r.status().is_success() => return Ok(()),
                Ok(r) if r.status().is_client_error() => {
                    return Err(SmsError::Delivery(format!(
                        "gateway refused: HTTP {}",
                        r.status().as_u16()
                    )));
                }
                Ok(r) => last = format!("HTTP {}", r.status().as_u16()),
                Err(e) => {
                    last = if e.is_timeout() {
                        "timeout".into()
                    } else {
                        "connection failed".into()
                    }
                }
            }
        }
        Err(SmsError::Delivery(format!(
            "gateway unreachable after 3 attempts ({last})"
        )))
    }

    fn name(&self) -> &'static str {
        "webhook"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_reference_vector() {
        // HMAC-SHA256("0123456789abcdef", "1700000000.{}") computed independently
        // (Python: hmac.new(b"0123456789abcdef", b"1700000000.{}", "sha256").hexdigest()).
        assert_eq!(
            signature("0123456789abcdef", 1_700_000_000, b"{}"),
            "t=1700000000,v1=e4f8e2ecae2295b2ddb2f0b5584c8275e226c0ebe9b3b819e70156bb67122e3e"
        );
    }

    fn message() -> SmsMessage {
        SmsMessage {
            to: "+8613312348347".into(),
            text: "123456".into(),
            purpose: super::super::SmsPurpose::Login,
            values: Vec::new(),
        }
    }

    #[tokio::test]
    async fn a_sender_without_a_secret_refuses_instead_of_signing_with_an_empty_key() {
        // Nothing listens on the discard port; a request would fail
        // differently (and only after its retries).
        for secret in [None, Some(String::new())] {
            let sender =
                WebhookSender::new(reqwest::Client::new(), "http://127.0.0.1:9/".into(), secret);
            let err = sender.send(&message()).await.unwrap_err();
            assert!(err.to_string().contains("sms.webhook_secret"), "{err}");
        }
    }
}
