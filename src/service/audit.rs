//! Writing the audit log. Entries describe what happened to whom, by whom,
//! from where, and with what outcome — never a secret.

use serde_json::Value;
use uuid::Uuid;

use super::{Actor, Origin};
use crate::store::audit::NewAuditEvent;
use crate::store::users::User;
use crate::store::{Store, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
}

impl Outcome {
    /// The outcome of an attempt that ended in `result`.
    pub fn of<T, E>(result: &Result<T, E>) -> Self {
        if result.is_ok() {
            Outcome::Success
        } else {
            Outcome::Failure
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
        }
    }
}

/// One entry under construction: `Entry::new("login.success", Outcome::Success)
/// .actor(&actor).subject(&user).origin(&origin).detail(json!(…)).write(&store)`.
pub struct Entry(NewAuditEvent);

impl Entry {
    pub fn new(event: &'static str, outcome: Outcome) -> Self {
        Self(NewAuditEvent {
            event,
            outcome: outcome.as_str(),
            actor_id: None,
            actor: Actor::Anonymous.label(),
            subject_id: None,
            subject: None,
            ip: None,
            user_agent: None,
            detail: Value::Object(Default::default()),
        })
    }

    pub fn actor(mut self, actor: &Actor) -> Self {
        self.0.actor_id = actor.id();
        self.0.actor = actor.label();
        self
    }

    pub fn subject(mut self, user: &User) -> Self {
        self.0.subject_id = Some(user.id);
        self.0.subject = Some(user.username.clone());
        self
    }

    /// For attempts against an account that may not exist: the typed name.
    pub fn subject_name(mut self, id: Option<Uuid>, name: &str) -> Self {
        self.0.subject_id = id;
        self.0.subject = Some(name.chars().take(128).collect());
        self
    }

    pub fn origin(mut self, origin: &Origin) -> Self {
        self.0.ip = origin.ip.clone();
        self.0.user_agent = origin
            .user_agent
            .as_ref()
            .map(|ua| ua.chars().take(512).collect());
        self
    }

    pub fn detail(mut self, detail: Value) -> Self {
        self.0.detail = detail;
        self
    }

    pub async fn write(self, store: &Store) -> Result<(), StoreError> {
        store.append_audit(&self.finish()).await
    }

    /// The finished entry, for a store method that writes it in the same
    /// transaction as the change it describes.
    pub fn finish(self) -> NewAuditEvent {
        crate::metrics::event(self.0.event, self.0.outcome);
        tracing::info!(
            target: "audit",
            event = self.0.event,
            outcome = self.0.outcome,
            actor = %self.0.actor,
            subject = self.0.subject.as_deref().unwrap_or("-"),
            ip = self.0.ip.as_deref().unwrap_or("-"),
        );
        self.0
    }
}
