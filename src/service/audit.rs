//! Writing the audit log. Entries describe what happened to whom, by whom,
//! from where, and with what outcome — never a secret.

use serde_json::Value;
use uuid::Uuid;

use super::audit_writer::AuditWriter;
use super::{Actor, Origin};
use crate::store::audit::NewAuditEvent;
use crate::store::users::User;
use crate::store::{Store, StoreError};

/// Every kind of event the audit log holds. Each has words in both
/// languages (`Text::audit_events`), which the console shows instead of
/// the kind; a unit test below finds every kind the code writes and
/// holds it to this list.
pub const EVENT_KINDS: &[&str] = &[
    "account.blocked",
    "account.created",
    "account.disabled",
    "account.enabled",
    "account.imported",
    "account.password_change_failed",
    "account.password_change_forced",
    "account.password_changed",
    "account.password_recovered",
    "account.password_set",
    "account.phone_binding_required",
    "account.phones_viewed",
    "account.role_granted",
    "account.role_revoked",
    "account.sessions_revoked",
    "account.unblocked",
    "account.updated",
    "accounts.imported",
    "admin.api_call",
    "admin.api_denied",
    "app_password.created",
    "app_password.revoked",
    "app_password.revoked_all",
    "authorize.cancelled",
    "authorize.code_issued",
    "authorize.interaction",
    "backup.created",
    "backup.restored",
    "blocks.exported",
    "calendar.updated",
    "client.created",
    "client.registered",
    "client.registration_deleted",
    "client.registration_updated",
    "client.removed",
    "client.secret_rotated",
    "client.updated",
    "consent.denied",
    "consent.granted",
    "consent.revoked",
    "device.answered",
    "device.authorization_started",
    "keys.rotated",
    "ldap.bind",
    "login.failure",
    "login.lockout",
    "login.phone_unreachable",
    "login.step_up",
    "login.step_up_decision",
    "login.success",
    "login.throttled",
    "logout",
    "logout.backchannel",
    "mail.sent",
    "migrate",
    "organization.confirmed",
    "organization.created",
    "organization.imported",
    "organization.registered",
    "organization.registration_expired",
    "organization.updated",
    "phone.binding_skipped",
    "phone.bound",
    "phone.changed",
    "phone.code_refused",
    "recovery.captcha_failed",
    "recovery.code",
    "recovery.link_requested",
    "recovery.started",
    "registration_token.issued",
    "registration_token.revoked",
    "retrieval.authentication_failed",
    "retrieval.code_wrong",
    "retrieval.created",
    "retrieval.uploaded",
    "review.approval",
    "review.approved",
    "review.awaiting_documents",
    "review.cancelled",
    "review.case_viewed",
    "review.claimed",
    "review.code_sent",
    "review.completed",
    "review.document_viewed",
    "review.documents_purged",
    "review.edited",
    "review.effective",
    "review.expired",
    "review.note",
    "review.rejected",
    "review.submitted",
    "review.withdrawn",
    "security_email.confirmation_sent",
    "security_email.reauth_failed",
    "security_email.removed",
    "security_email.verified",
    "session.ended",
    "session.others_ended",
    "sms.code_dropped",
    "sms.code_sent",
    "sms.notice_sent",
    "sms.retrieval_code_sent",
    "token.code_replayed",
    "token.issued",
    "token.refresh_replayed",
    "token.revoked",
    "unbind.password_wrong",
];

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

    /// Writes the entry now, in the caller's time (the CLI; entries that
    /// must be in the log before the caller goes on).
    pub async fn write(self, store: &Store) -> Result<(), StoreError> {
        store.append_audit(&self.finish()).await
    }

    /// Hands the entry to the node's [`AuditWriter`]: written in a batch
    /// within milliseconds, or now when the queue is full.
    pub async fn queue(self, audit: &AuditWriter) -> Result<(), StoreError> {
        audit.append(self.finish()).await
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

#[cfg(test)]
mod tests {
    use super::EVENT_KINDS;

    /// String literals of `src/` that have the shape of an event kind
    /// (`area.what`, or a bare `logout` / `migrate` passed to `Entry::new`).
    fn kinds_in(source: &str, areas: &[&str]) -> Vec<String> {
        let mut found = Vec::new();
        for (i, piece) in source.split('"').enumerate() {
            if i % 2 == 0 || piece.is_empty() || piece.len() > 60 {
                continue;
            }
            let Some((area, rest)) = piece.split_once('.') else {
                continue;
            };
            let word =
                |w: &str| !w.is_empty() && w.chars().all(|c| c.is_ascii_lowercase() || c == '_');
            if areas.contains(&area) && rest.split('.').all(word) {
                found.push(piece.to_string());
            }
        }
        found
    }

    fn sources(dir: &std::path::Path, out: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                out.push((path.display().to_string(), text));
            }
        }
    }

    /// Names that look like kinds but are not events: file names and
    /// configuration keys.
    const NOT_EVENTS: &[&str] = &[
        "mail.jsonl",
        "sms.jsonl",
        "sms.webhook_secret",
        "sms.tencentcloudapi.com",
    ];

    #[test]
    fn every_kind_written_is_listed() {
        let areas: Vec<&str> = EVENT_KINDS
            .iter()
            .filter_map(|k| k.split_once('.').map(|(a, _)| a))
            .collect();
        let mut files = Vec::new();
        sources(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut files,
        );
        let mut seen = 0;
        for (path, text) in &files {
            for kind in kinds_in(text, &areas) {
                if NOT_EVENTS.contains(&kind.as_str()) {
                    continue;
                }
                seen += 1;
                assert!(
                    EVENT_KINDS.contains(&kind.as_str()),
                    "{path} writes the audit event {kind:?}, missing from EVENT_KINDS"
                );
            }
            for bare in ["logout", "migrate"] {
                let call = format!("Entry::new(\"{bare}\"");
                if text.contains(&call) {
                    assert!(EVENT_KINDS.contains(&bare));
                }
            }
        }
        // The scan finds the kinds (it would pass vacuously if it did not).
        assert!(seen > 80, "only {seen} kinds found in the sources");
        assert!(kinds_in("x(\"login.failure\")", &areas) == ["login.failure"]);
    }

    #[test]
    fn every_kind_has_words_in_both_languages() {
        for t in [crate::i18n::Lang::ZhCn.text(), crate::i18n::Lang::En.text()] {
            for kind in EVENT_KINDS {
                let words = t.audit_event(kind);
                assert_ne!(&words, kind, "{kind} has no words in {}", t.html_lang);
            }
            for (kind, _) in t.audit_events {
                assert!(EVENT_KINDS.contains(kind), "{kind} is not an event kind");
            }
            assert_eq!(t.audit_events.len(), EVENT_KINDS.len());
        }
        let en = crate::i18n::Lang::En.text();
        assert_eq!(en.audit_event("login.failure"), "Sign-in failed");
        assert_eq!(en.audit_event("unknown.kind"), "unknown.kind");
    }
}
