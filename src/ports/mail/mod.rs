//! Sending e-mail. `log` (development outbox `<data_dir>/outbox/mail.jsonl`)
//! and `smtp` (lettre: implicit TLS or STARTTLS, authentication, a pool of
//! reused connections). The messages themselves are composed by
//! [`crate::service::mail`].

mod log;
mod smtp;

use std::sync::Arc;

use async_trait::async_trait;

use crate::config::{Config, MailProvider};

/// One message, already rendered. The bodies carry one-time links — secrets
/// — so Debug shows neither them nor the full address.
#[derive(Clone)]
pub struct MailMessage {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// What the message is for (`recovery`, `email_confirm` …), for the
    /// outbox and the log.
    pub purpose: String,
}

impl std::fmt::Debug for MailMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailMessage")
            .field("to", &crate::domain::Email::masked(&self.to))
            .field("purpose", &self.purpose)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("mail delivery failed: {0}")]
    Delivery(String),
}

#[async_trait]
pub trait MailSender: Send + Sync {
    async fn send(&self, message: &MailMessage) -> Result<(), MailError>;
    fn name(&self) -> &'static str;
}

/// The sender the configuration names (validated at boot; a CA file that
/// vanished since is reported here).
pub fn from_config(
    config: &Config,
    clock: crate::ports::clock::SharedClock,
) -> Result<Arc<dyn MailSender>, MailError> {
    Ok(match config.mail.provider {
        MailProvider::Log => Arc::new(log::OutboxSender::new(
            config.data_dir.join("outbox").join("mail.jsonl"),
            clock,
        )),
        MailProvider::Smtp => Arc::new(smtp::SmtpSender::new(&config.mail)?),
    })
}
