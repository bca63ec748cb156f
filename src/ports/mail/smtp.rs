//! SMTP sender over lettre's pooled async transport.
//!
//! `tls`: TLS from the first byte (RFC 8314 §3.3); `starttls`: the plain
//! connection must be upgraded (RFC 3207) or nothing is sent; `none`: a
//! relay on this host. The server certificate is checked against the
//! public roots plus `ca_file`. Each message is multipart/alternative with
//! a text and an HTML part.

use std::time::Duration;

use async_trait::async_trait;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::{MailError, MailMessage, MailSender};
use crate::config::{MailConfig, SmtpSecurity};

pub struct SmtpSender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

fn failed(e: impl std::fmt::Display) -> MailError {
    MailError::Delivery(e.to_string())
}

impl SmtpSender {
    pub fn new(config: &MailConfig) -> Result<Self, MailError> {
        let s = &config.smtp;
        let tls = || -> Result<TlsParameters, MailError> {
            let mut params = TlsParameters::builder(s.host.clone());
            if let Some(path) = &s.ca_file {
                let pem =
                    std::fs::read(path).map_err(|e| failed(format!("{}: {e}", path.display())))?;
                params = params.add_root_certificate(Certificate::from_pem(&pem).map_err(failed)?);
            }
            params.build_rustls().map_err(failed)
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(s.host.as_str())
            .port(s.port())
            .timeout(Some(Duration::from_secs(s.timeout_secs)))
            .pool_config(PoolConfig::new().max_size(s.pool_size));
        builder = match s.security {
            SmtpSecurity::Tls => builder.tls(Tls::Wrapper(tls()?)),
            SmtpSecurity::Starttls => builder.tls(Tls::Required(tls()?)),
            SmtpSecurity::None => builder.tls(Tls::None),
        };
        if let (Some(user), Some(password)) = (&s.username, &s.password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(Self {
            transport: builder.build(),
            from: config.from.parse().map_err(failed)?,
        })
    }
}

#[async_trait]
impl MailSender for SmtpSender {
    async fn send(&self, m: &MailMessage) -> Result<(), MailError> {
        let to: Mailbox = m.to.parse().map_err(failed)?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(m.subject.clone())
            .multipart(
                MultiPart::alternative()
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_PLAIN)
                            .body(m.text.clone()),
                    )
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_HTML)
                            .body(m.html.clone()),
                    ),
            )
            .map_err(failed)?;
        self.transport.send(message).await.map_err(failed)?;
        tracing::info!(to = %crate::domain::Email::masked(&m.to), purpose = %m.purpose, "mail handed to the SMTP server");
        Ok(())
    }

    fn name(&self) -> &'static str {
        "smtp"
    }
}
