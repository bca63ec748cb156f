//! Blocks per application (弱密码停用): one table of blocks (account,
//! client or `*`, reason, set and lifted by whom and when) and one
//! function, [`may_use`] (in `service::access`, a leaf module, so the token
//! code can ask it), that answers "may this account use this client now?"
//! for every surface.
//!
//! ```text
//! password sign-in ─▶ correct ─▶ weak_reasons (the policy of a password change:
//!                                length + classes, common list, zxcvbn)
//!     weak ─▶ block_weak: one transaction — a weak_password block for every
//!             client marked require_strong_password (none twice), their grants
//!             revoked, their browser sessions taken; a new password demanded;
//!             account.blocked audited
//!          ─▶ after the commit: back-channel logout to those clients, a notice
//!             e-mail naming the organization's administrators
//!          ─▶ the passport signs the person in and leads to the password change
//!
//! /authorize ─▶ may_use ─▶ blocked: a page naming the application and the
//!                          administrators, the way back gives access_denied
//! token (code, refresh) ─▶ may_use ─▶ invalid_grant
//! userinfo / introspection ─▶ may_use (in tokens::verify_access_token) ─▶ 401 / active:false
//!
//! lifted by: an administrator's reset (accounts::reset_password), the
//! administrator's "lift blocks" ([`lift`]), or — with
//! password_policy.self_service_lift — a strong password the person chose.
//! ```

use serde_json::json;
use uuid::Uuid;

use super::audit::{Entry, Outcome};
use super::mail::Letter;
use super::organizations::{AdminScope, OrgAdministrator};
use super::{Actor, Origin};
use crate::domain::{BlockReason, Email, PolicyViolation, SecretPassword};
use crate::i18n::Lang;
use crate::state::AppState;
use crate::store::StoreError;
use crate::store::blocks::{ActiveBlock, BlockFilter, BlockedAccount};
use crate::store::users::User;

pub use super::access::{UseError, may_use};

/// The account's own identifiers a password must not contain: its phone
/// numbers.
fn phones_of(user: &User) -> Vec<&str> {
    [&user.login_phone, &user.security_phone]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect()
}

/// The rules of the current policy `password` breaks for account
/// `username` with `phones` (empty: not weak): the same check a new
/// password goes through (length and character classes, the list of
/// common passwords, the strength estimate). Needs nothing but the
/// password and the account's identifiers, so an import can call it.
pub fn weak_reasons(
    state: &AppState,
    password: &SecretPassword,
    username: &str,
    phones: &[&str],
) -> Vec<PolicyViolation> {
    state.policy.check(password, username, phones)
}

/// [`weak_reasons`] for a stored account.
pub fn weak_reasons_of(
    state: &AppState,
    password: &SecretPassword,
    user: &User,
) -> Vec<PolicyViolation> {
    weak_reasons(state, password, &user.username, &phones_of(user))
}

/// What [`block_weak`] did.
#[derive(Debug, Default)]
pub struct WeakOutcome {
    /// The clients newly blocked.
    pub blocked: Vec<String>,
    /// Grants revoked with them.
    pub revoked_grants: u64,
}

/// The account's password was found weak at a sign-in (imported accounts
/// included, at their first): blocks
/// it for every client marked `require_strong_password` (a block already
/// active is not set again) and demands a new password at its next
/// sign-in step, in one transaction with the audit entry
/// (`account.blocked`; the password and the rules it broke are not in it).
/// Those clients' grants are revoked in the same transaction; after the
/// commit they get back-channel logout for the account's sessions, and the
/// person a notice e-mail (in `lang`) naming their organization's
/// administrators — both in the background, never failing the caller.
pub async fn block_weak(
    state: &AppState,
    user: &User,
    actor: &Actor,
    origin: &Origin,
    lang: Lang,
) -> Result<WeakOutcome, StoreError> {
    let marked: Vec<(String, String)> = super::clients::list(state)
        .await?
        .into_iter()
        .filter(|c| c.require_strong_password)
        .map(|c| (c.id, c.name))
        .collect();
    let mut ids: Vec<String> = marked.iter().map(|(id, _)| id.clone()).collect();
    ids.sort();
    let already_forced = user.must_change_password;
    let set = state
        .store
        .add_blocks(
            user.id,
            &ids,
            BlockReason::WeakPassword,
            &actor.label(),
            true,
            |new| {
                if !new.is_empty() {
                    Some(
                        Entry::new("account.blocked", Outcome::Success)
                            .actor(actor)
                            .subject(user)
                            .origin(origin)
                            .detail(json!({
                                "reason": BlockReason::WeakPassword.as_str(),
                                "client_ids": new,
                                "password_change_required": true,
                            }))
                            .finish(),
                    )
                } else if !already_forced {
                    Some(
                        Entry::new("account.password_change_forced", Outcome::Success)
                            .actor(actor)
                            .subject(user)
                            .origin(origin)
                            .detail(json!({ "reason": BlockReason::WeakPassword.as_str() }))
                            .finish(),
                    )
                } else {
                    None
                }
            },
        )
        .await?;
    super::logout::notify_clients(state, user.id, set.rp_sessions);
    if !set.clients.is_empty() {
        let apps: Vec<String> = marked
            .iter()
            .filter(|(id, _)| set.clients.contains(id))
            .map(|(_, name)| name.clone())
            .collect();
        notify_blocked(state, user, apps, origin, lang).await;
    }
    Ok(WeakOutcome {
        blocked: set.clients,
        revoked_grants: set.revoked_grants,
    })
}

/// Whom a blocked person is told to contact.
#[derive(Debug, Clone, Default)]
pub struct Contacts {
    /// Their organization's administrators (name and e-mail).
    pub administrators: Vec<OrgAdministrator>,
    /// `password_policy.helpdesk`, for when no administrator is named.
    pub helpdesk: Option<String>,
}

/// The contacts of `user`: the administrators of their organization, and
/// the configured helpdesk.
pub async fn contacts_of(state: &AppState, user: &User) -> Result<Contacts, StoreError> {
    Ok(Contacts {
        administrators: super::organizations::administrators_of(state, user).await?,
        helpdesk: state.config.password_policy.helpdesk.clone(),
    })
}

/// Where the passport writes to the person: the verified security e-mail,
/// else the account name when it is a mail address.
fn mailbox_of(user: &User) -> Option<String> {
    match (&user.security_email, user.security_email_verified) {
        (Some(e), true) => Some(e.clone()),
        _ => Email::parse(&user.username)
            .ok()
            .map(|e| e.as_str().to_string()),
    }
}

async fn notify_blocked(
    state: &AppState,
    user: &User,
    apps: Vec<String>,
    origin: &Origin,
    lang: Lang,
) {
    let Some(to) = mailbox_of(user) else {
        return;
    };
    let contacts = match contacts_of(state, user).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "the administrators of a blocked account could not be read");
            Contacts {
                helpdesk: state.config.password_policy.helpdesk.clone(),
                ..Contacts::default()
            }
        }
    };
    let letter = Letter::Blocked {
        apps: apps.join(", "),
        administrators: contacts
            .administrators
            .into_iter()
            .map(|a| match a.email {
                Some(e) => format!("{} <{e}>", a.display_name),
                None => a.display_name,
            })
            .collect(),
        helpdesk: contacts.helpdesk,
    };
    super::mail::send_later(state, user.clone(), to, lang, letter, origin.clone());
}

/// Lifts the account's active blocks with `reason` (every reason when
/// `None`), audited `account.unblocked` (when there were any). Returns the
/// clients lifted.
pub async fn lift(
    state: &AppState,
    user: &User,
    reason: Option<BlockReason>,
    actor: &Actor,
    origin: &Origin,
) -> Result<Vec<String>, StoreError> {
    let audit = unblock_entry(user, reason, actor, origin);
    state
        .store
        .lift_blocks(user.id, reason, &actor.label(), &audit)
        .await
}

/// Lifts what an administrator with `scope` may lift: a system
/// administrator every block of the account; an organization
/// administrator its weak-password blocks only (a block a system
/// administrator set — `admin`, `compromised` — stays).
pub async fn lift_within(
    state: &AppState,
    scope: &AdminScope,
    user: &User,
    actor: &Actor,
    origin: &Origin,
) -> Result<Vec<String>, StoreError> {
    let reason = match scope {
        AdminScope::All => None,
        AdminScope::Organizations(_) => Some(BlockReason::WeakPassword),
    };
    lift(state, user, reason, actor, origin).await
}

/// The audit entry of lifting `user`'s blocks with `reason` (the store
/// adds the clients lifted).
pub fn unblock_entry(
    user: &User,
    reason: Option<BlockReason>,
    actor: &Actor,
    origin: &Origin,
) -> crate::store::audit::NewAuditEvent {
    Entry::new("account.unblocked", Outcome::Success)
        .actor(actor)
        .subject(user)
        .origin(origin)
        .detail(json!({ "reason": reason.map(BlockReason::as_str) }))
        .finish()
}

/// The active blocks of an account.
pub async fn of(state: &AppState, user: &User) -> Result<Vec<ActiveBlock>, StoreError> {
    state.store.active_blocks_of(user.id).await
}

/// The most rows a list or an export holds.
pub const MAX_EXPORT: i64 = 10_000;

/// The blocked accounts `scope` looks after, newest block first; only
/// blocks for `client_id` when given. With the total.
pub async fn list(
    state: &AppState,
    scope: &AdminScope,
    client_id: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<BlockedAccount>, i64), StoreError> {
    state
        .store
        .list_blocks(&BlockFilter {
            client_id: client_id.map(str::to_string),
            within: scope.organizations().map(<[Uuid]>::to_vec),
            limit,
            offset,
        })
        .await
}

/// The CSV export of [`list`] (at most [`MAX_EXPORT`] rows), audited
/// `blocks.exported` with the filter and the number of rows (a bulk
/// export of personal data is on the record; its contents are not).
pub async fn export(
    state: &AppState,
    scope: &AdminScope,
    client_id: Option<&str>,
    lang: Lang,
    actor: &Actor,
    origin: &Origin,
) -> Result<String, StoreError> {
    let (rows, _) = list(state, scope, client_id, MAX_EXPORT, 0).await?;
    Entry::new("blocks.exported", Outcome::Success)
        .actor(actor)
        .origin(origin)
        .detail(json!({ "client_id": client_id, "rows": rows.len() }))
        .write(&state.store)
        .await?;
    Ok(csv(&rows, lang))
}

/// One CSV cell: quoted when it holds a quote, comma or line break
/// (RFC 4180), and a leading `=`, `+`, `-`, `@` (or tab / carriage return)
/// defused with `'` so a spreadsheet does not run it as a formula (OWASP
/// "CSV injection").
pub fn csv_cell(value: &str) -> String {
    let defused = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_string()
    };
    if defused.contains(['"', ',', '\n', '\r']) {
        format!("\"{}\"", defused.replace('"', "\"\""))
    } else {
        defused
    }
}

/// The blocked accounts as CSV for Excel: UTF-8 with a byte-order mark,
/// CRLF line ends, a header row in `lang`.
pub fn csv(rows: &[BlockedAccount], lang: Lang) -> String {
    let t = lang.text();
    let mut out = String::from("\u{feff}");
    let header = [
        t.blocks_col_account,
        t.blocks_col_name,
        t.blocks_col_organization,
        t.blocks_col_application,
        t.blocks_col_reason,
        t.blocks_col_since,
        t.blocks_col_by,
    ];
    out.push_str(
        &header
            .iter()
            .map(|h| csv_cell(h))
            .collect::<Vec<_>>()
            .join(","),
    );
    out.push_str("\r\n");
    for r in rows {
        let app = match &r.client_name {
            Some(name) => format!("{name} ({})", r.client_id),
            None => r.client_id.clone(),
        };
        let cells = [
            r.username.clone(),
            r.display_name.clone(),
            r.organization.clone().unwrap_or_default(),
            app,
            t.block_reason(r.reason).to_string(),
            crate::i18n::when(r.created_at),
            r.created_by.clone(),
        ];
        out.push_str(
            &cells
                .iter()
                .map(|c| csv_cell(c))
                .collect::<Vec<_>>()
                .join(","),
        );
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_and_defused() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("王五"), "王五");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("two\nlines"), "\"two\nlines\"");
        for risky in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx"] {
            assert_eq!(csv_cell(risky), format!("'{risky}"), "{risky}");
        }
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        // Control: the characters are harmless inside a value.
        assert_eq!(csv_cell("a=b-c"), "a=b-c");
    }
}
