//! The development outbox: messages the log senders "deliver" become JSON
//! lines in `<data_dir>/outbox/<kind>.jsonl`, where a developer (or a test)
//! reads them. Refused in production by the configuration check.

use std::io::Write;
use std::path::PathBuf;

use super::clock::SharedClock;

pub struct Outbox {
    path: PathBuf,
    /// The `time` of each line is the server's time (the test clock in
    /// tests), like the audit log's.
    clock: SharedClock,
    /// Appends from concurrent requests must not interleave.
    lock: tokio::sync::Mutex<()>,
}

impl Outbox {
    pub fn new(path: PathBuf, clock: SharedClock) -> Self {
        Self {
            path,
            clock,
            lock: tokio::sync::Mutex::new(()),
        }
    }

    /// Appends `record` with a `time` member (RFC 3339) as one line.
    pub async fn append(&self, mut record: serde_json::Value) -> std::io::Result<()> {
        let time = self
            .clock
            .now()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        if let Some(object) = record.as_object_mut() {
            object.insert("time".into(), time.into());
        }
        let line = record.to_string();
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
        .map_err(std::io::Error::other)?
    }
}
