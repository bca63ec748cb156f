//! Development sender: each message becomes one JSON line in
//! `<data_dir>/outbox/sms.jsonl` (to, text, purpose, time). The log gets a
//! line without the text (it may hold a code).

use std::io::Write;
use std::path::PathBuf;

use async_trait::async_trait;
use serde_json::json;

use super::{SmsError, SmsMessage, SmsSender};

pub struct OutboxSender {
    path: PathBuf,
    /// Appends from concurrent requests must not interleave.
    lock: tokio::sync::Mutex<()>,
}

impl OutboxSender {
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            lock: tokio::sync::Mutex::new(()),
        }
    }
}

#[async_trait]
impl SmsSender for OutboxSender {
    async fn send(&self, message: &SmsMessage) -> Result<(), SmsError> {
        let time = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let line = json!({ "to": message.to, "text": message.text, "purpose": message.purpose, "time": time }).to_string();
        let _guard = self.lock.lock().await;
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)?;
            writeln!(file, "{line}")
        })
        .await
        .map_err(|e| SmsError::Delivery(e.to_string()))?
        .map_err(|e| SmsError::Delivery(e.to_string()))?;
        tracing::info!(to = %crate::domain::PhoneNumber::masked(&message.to), purpose = %message.purpose, "sms written to the development outbox");
        Ok(())
    }

    fn name(&self) -> &'static str {
        "log"
    }
}
