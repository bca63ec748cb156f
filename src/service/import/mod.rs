//! `tongxing import`: the accounts of the passport Tongxing replaces,
//! from JSON Lines or CSV ([`read`]), with their stored password hashes
//! ([`crate::crypto::legacy`]).
//!
//! ```text
//! file ─▶ lines ─▶ batch of BATCH lines ─▶ check each line (names, phones, e-mail,
//!                  organization, status, hash; duplicates in the file)
//!        ─▶ one transaction: read the batch's accounts and the owners of its
//!           phones and e-mails ─▶ per line: create | update | unchanged | refused
//!        ─▶ commit (a dry run: nothing written, rolled back) ─▶ next batch
//!        ─▶ one audit entry for the run (counts)
//! ```
//!
//! Nothing is hashed at import: a hash is stored as given and checked,
//! then replaced by argon2id, at the account's first sign-in.
//!
//! Rules (README "Importing existing accounts"):
//! * Accounts are matched by account name. A line creates the account or
//!   sets the fields it gives; an empty field leaves the account's value
//!   (an import never clears what the person or an administrator set).
//! * The same file twice gives the same state: the second run reports
//!   every line `unchanged`.
//! * A password hash is written to an existing account only while it has
//!   no password or still has the hash an earlier import wrote; once the
//!   person signed in (re-hashed) or a password was set, it is kept and
//!   the line says so.
//! * A refused line (bad value, unknown organization, a login phone or
//!   verified e-mail of another account, the same account, phone or
//!   e-mail twice in the file) is reported and the rest goes on.
//! * Audit: one `accounts.imported` entry per run with the counts, and one
//!   `account.imported` entry per *updated* account naming the fields
//!   changed (never values or hashes). Created accounts get none of their
//!   own: 100 000 of them would bury the log, and the run's entry counts
//!   them.

pub mod read;

use std::collections::HashMap;

use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

pub use read::{FIELDS, FileError, Format, Line, Reader, Record};

use super::audit::{Entry, Outcome};
use super::{Actor, Origin};
use crate::crypto::legacy;
use crate::domain::{AccountName, Email, InvalidValue, PhoneNumber, name_key};
use crate::state::AppState;
use crate::store::StoreError;
use crate::store::import::{ImportTx, ImportedAccount, ImportedChange, ImportedNew};
use crate::store::users::AccountStatus;

/// Lines per transaction.
pub const BATCH: usize = 1000;

/// What became of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LineResult {
    Created,
    Updated,
    Unchanged,
    Refused,
}

impl LineResult {
    pub fn as_str(self) -> &'static str {
        match self {
            LineResult::Created => "created",
            LineResult::Updated => "updated",
            LineResult::Unchanged => "unchanged",
            LineResult::Refused => "refused",
        }
    }
}

/// The report of one line (a line of the `--report` file).
#[derive(Debug, Clone, Serialize)]
pub struct LineReport {
    pub line: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    pub result: LineResult,
    /// Fields written to an existing account.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changed: Vec<&'static str>,
    /// Fields given but kept as they are, by the rules (the password).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub kept: Vec<&'static str>,
    /// The kind of password hash written (`none` for an account created
    /// without one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<&'static str>,
    /// Refused: the field at fault, if one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<&'static str>,
    /// Refused: why; kept: why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl LineReport {
    fn refused(
        line: usize,
        username: Option<String>,
        field: Option<&'static str>,
        reason: String,
    ) -> Self {
        LineReport {
            line,
            username,
            result: LineResult::Refused,
            changed: Vec::new(),
            kept: Vec::new(),
            password: None,
            field,
            reason: Some(reason),
        }
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub lines: usize,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub refused: usize,
}

impl Summary {
    fn count(&mut self, result: LineResult) {
        self.lines += 1;
        match result {
            LineResult::Created => self.created += 1,
            LineResult::Updated => self.updated += 1,
            LineResult::Unchanged => self.unchanged += 1,
            LineResult::Refused => self.refused += 1,
        }
    }
}

/// A line whose values are all valid.
struct Valid {
    line: usize,
    username: String,
    display_name: Option<String>,
    login_phone: Option<String>,
    security_phone: Option<String>,
    /// The address (as stored for its state) and whether it is verified.
    email: Option<(Email, bool)>,
    organization_id: Option<Uuid>,
    status: Option<(AccountStatus, Option<String>)>,
    hash: Option<(legacy::Kind, String)>,
}

/// A refusal: the field at fault (if one) and why.
type Refusal = (Option<&'static str>, String);

fn invalid(e: InvalidValue) -> Refusal {
    (Some(e.field), e.reason.to_string())
}

fn text(record: &Record, field: &'static str, max: usize) -> Result<Option<String>, Refusal> {
    match record.get(field) {
        None => Ok(None),
        Some(v) if v.chars().count() > max => {
            Err((Some(field), format!("is longer than {max} characters")))
        }
        Some(v) if v.chars().any(char::is_control) => {
            Err((Some(field), "must not contain control characters".into()))
        }
        Some(v) => Ok(Some(v.to_string())),
    }
}

fn phone(record: &Record, field: &'static str) -> Result<Option<String>, Refusal> {
    record
        .get(field)
        .map(|v| {
            PhoneNumber::parse(v)
                .map(|p| p.as_str().to_string())
                .map_err(|e| (Some(field), e.reason.to_string()))
        })
        .transpose()
}

/// An import run: what it has seen of the file so far, and its counts.
pub struct Importer<'a> {
    state: &'a AppState,
    dry_run: bool,
    actor: Actor,
    origin: Origin,
    /// Account names in the file so far, with their line.
    names: HashMap<String, usize>,
    /// Login phones and verified e-mails claimed by lines so far: (line, account).
    phones: HashMap<String, (usize, String)>,
    emails: HashMap<String, (usize, String)>,
    /// Owners as this run left them (a dry run writes nothing, and a batch
    /// reads the database before its own lines change it).
    phone_owner: HashMap<String, Option<String>>,
    email_owner: HashMap<String, Option<String>>,
    /// Organizations by name key: the id, or why not.
    organizations: HashMap<String, Result<Uuid, String>>,
    summary: Summary,
}

impl<'a> Importer<'a> {
    pub fn new(state: &'a AppState, dry_run: bool, actor: Actor, origin: Origin) -> Self {
        Importer {
            state,
            dry_run,
            actor,
            origin,
            names: HashMap::new(),
            phones: HashMap::new(),
            emails: HashMap::new(),
            phone_owner: HashMap::new(),
            email_owner: HashMap::new(),
            organizations: HashMap::new(),
            summary: Summary::default(),
        }
    }

    pub fn summary(&self) -> Summary {
        self.summary
    }

    /// Imports a batch of lines (at most [`BATCH`]) in one transaction.
    pub async fn batch(&mut self, lines: Vec<Line>) -> Result<Vec<LineReport>, StoreError> {
        let mut reports: Vec<Option<LineReport>> = Vec::with_capacity(lines.len());
        let mut valid = Vec::with_capacity(lines.len());
        for line in lines {
            match self.check(line).await? {
                Ok(v) => {
                    reports.push(None);
                    valid.push((reports.len() - 1, v));
                }
                Err(report) => reports.push(Some(report)),
            }
        }

        let mut tx = self.state.store.begin_import().await?;
        let names: Vec<String> = valid.iter().map(|(_, v)| v.username.clone()).collect();
        let existing: HashMap<String, ImportedAccount> = tx
            .accounts(&names)
            .await?
            .into_iter()
            .map(|a| (a.username.clone(), a))
            .collect();
        let phones: Vec<String> = valid
            .iter()
            .filter_map(|(_, v)| v.login_phone.clone())
            .filter(|p| !self.phone_owner.contains_key(p))
            .collect();
        for (phone, owner) in tx.login_phone_owners(&phones).await? {
            self.phone_owner.insert(phone, Some(owner));
        }
        let emails: Vec<String> = valid
            .iter()
            .filter_map(|(_, v)| match &v.email {
                Some((e, true)) => Some(e.normalized()),
                _ => None,
            })
            .filter(|e| !self.email_owner.contains_key(e))
            .collect();
        for (email, owner) in tx.verified_email_owners(&emails).await? {
            self.email_owner.insert(email, Some(owner));
        }

        let mut ended = Vec::new();
        for (slot, v) in valid {
            let account = existing.get(&v.username);
            let report = match self.apply(&mut tx, v, account).await? {
                Ok((report, end)) => {
                    if end && let Some(a) = account {
                        ended.push(a.id);
                    }
                    report
                }
                Err(report) => report,
            };
            reports[slot] = Some(report);
        }
        if self.dry_run {
            tx.rollback().await?;
        } else {
            tx.commit().await?;
            // Committed: the applications of accounts whose sessions ended
            // hear of it (best effort, as everywhere).
            for id in ended {
                super::logout::end_all_sessions_of(self.state, id).await;
            }
        }
        let reports: Vec<LineReport> = reports.into_iter().flatten().collect();
        for r in &reports {
            self.summary.count(r.result);
        }
        Ok(reports)
    }

    /// Checks a line on its own and against the lines before it.
    async fn check(&mut self, line: Line) -> Result<Result<Valid, LineReport>, StoreError> {
        let number = line.number;
        let record = match line.record {
            Ok(r) => r,
            Err(reason) => return Ok(Err(LineReport::refused(number, None, None, reason))),
        };
        let Some(typed) = record.get("username") else {
            return Ok(Err(LineReport::refused(
                number,
                None,
                Some("username"),
                "is required".into(),
            )));
        };
        let username = match AccountName::parse(typed) {
            Ok(n) => n.as_str().to_string(),
            Err(e) => {
                return Ok(Err(LineReport::refused(
                    number,
                    Some(typed.chars().take(128).collect()),
                    Some(e.field),
                    e.reason.into(),
                )));
            }
        };
        let refuse = |(field, reason): Refusal| {
            Ok(Err(LineReport::refused(
                number,
                Some(username.clone()),
                field,
                reason,
            )))
        };
        if let Some(first) = self.names.get(&username) {
            return refuse((
                Some("username"),
                format!("the same account is on line {first} of the file"),
            ));
        }
        self.names.insert(username.clone(), number);
        let valid = match self.values(number, &username, &record).await? {
            Ok(v) => v,
            Err(r) => return refuse(r),
        };
        if let Some(p) = &valid.login_phone
            && let Some((line, other)) = self.phones.get(p)
        {
            return refuse((
                Some("login_phone"),
                format!("is the login phone of {other} on line {line} of the file"),
            ));
        }
        if let Some((e, true)) = &valid.email
            && let Some((line, other)) = self.emails.get(&e.normalized())
        {
            return refuse((
                Some("email"),
                format!("is the verified e-mail of {other} on line {line} of the file"),
            ));
        }
        if let Some(p) = &valid.login_phone {
            self.phones.insert(p.clone(), (number, username.clone()));
        }
        if let Some((e, true)) = &valid.email {
            self.emails
                .insert(e.normalized(), (number, username.clone()));
        }
        Ok(Ok(valid))
    }

    /// The values of a line, each checked on its own.
    async fn values(
        &mut self,
        line: usize,
        username: &str,
        record: &Record,
    ) -> Result<Result<Valid, Refusal>, StoreError> {
        let pure = || -> Result<Valid, Refusal> {
            let verified = match record.get("email_verified").map(str::to_ascii_lowercase) {
                None => None,
                Some(v) if matches!(v.as_str(), "true" | "1" | "yes") => Some(true),
                Some(v) if matches!(v.as_str(), "false" | "0" | "no") => Some(false),
                Some(_) => {
                    return Err((Some("email_verified"), "must be true or false".to_string()));
                }
            };
            let email = match record.get("email") {
                None if verified.is_some() => {
                    return Err((
                        Some("email_verified"),
                        "is given without an email".to_string(),
                    ));
                }
                None => None,
                Some(v) => Some((Email::parse(v).map_err(invalid)?, verified.unwrap_or(false))),
            };
            let reason = text(record, "status_reason", 500)?;
            let status = match (record.get("status").map(str::to_ascii_lowercase), reason) {
                (None, None) => None,
                (None, Some(_)) => {
                    return Err((
                        Some("status_reason"),
                        "is given without a status".to_string(),
                    ));
                }
                (Some(s), reason) => match s.as_str() {
                    "active" if reason.is_some() => {
                        return Err((
                            Some("status_reason"),
                            "only a disabled account has a reason".to_string(),
                        ));
                    }
                    "active" => Some((AccountStatus::Active, None)),
                    "disabled" => Some((AccountStatus::Disabled, reason)),
                    _ => {
                        return Err((Some("status"), "must be active or disabled".to_string()));
                    }
                },
            };
            let hash = record
                .get("password_hash")
                .map(legacy::import)
                .transpose()
                .map_err(|e| (Some("password_hash"), e.0.to_string()))?;
            Ok(Valid {
                line,
                username: username.to_string(),
                display_name: text(record, "display_name", 100)?,
                login_phone: phone(record, "login_phone")?,
                security_phone: phone(record, "security_phone")?,
                email,
                organization_id: None,
                status,
                hash,
            })
        };
        let mut valid = match pure() {
            Ok(v) => v,
            Err(r) => return Ok(Err(r)),
        };
        if let Some(name) = record.get("organization") {
            match self.organization(name).await? {
                Ok(id) => valid.organization_id = Some(id),
                Err(reason) => return Ok(Err((Some("organization"), reason))),
            }
        }
        Ok(Ok(valid))
    }

    /// The registered, active organization with this name (cached for the run).
    async fn organization(&mut self, name: &str) -> Result<Result<Uuid, String>, StoreError> {
        let key = name_key(name);
        if let Some(known) = self.organizations.get(&key) {
            return Ok(known.clone());
        }
        use super::organizations::{AccountOrgError, for_account};
        let found = match for_account(self.state, Some(name)).await {
            Ok(Some(id)) => Ok(id),
            Ok(None) => Err("is empty".to_string()),
            Err(AccountOrgError::Store(e)) => return Err(e),
            Err(e) => Err(e
                .to_string()
                .trim_start_matches("organization: ")
                .to_string()),
        };
        self.organizations.insert(key, found.clone());
        Ok(found)
    }

    /// The owner of a login phone (or verified e-mail) as this run left it.
    fn owner(map: &HashMap<String, Option<String>>, key: &str) -> Option<String> {
        map.get(key).cloned().flatten()
    }

    /// Creates or updates the line's account (a dry run writes nothing);
    /// `Ok` with whether the account's sessions end.
    async fn apply(
        &mut self,
        tx: &mut ImportTx,
        v: Valid,
        account: Option<&ImportedAccount>,
    ) -> Result<Result<(LineReport, bool), LineReport>, StoreError> {
        let refuse = |field: &'static str, reason: String| {
            Ok(Err(LineReport::refused(
                v.line,
                Some(v.username.clone()),
                Some(field),
                reason,
            )))
        };
        // The login phone and verified e-mail must not be another account's.
        if let Some(p) = &v.login_phone
            && let Some(other) = Self::owner(&self.phone_owner, p)
            && other != v.username
        {
            return refuse("login_phone", format!("is the login phone of {other}"));
        }
        let email_state = v.email.as_ref().map(|(e, verified)| {
            // A verified address stays verified when the file gives it again
            // unverified: the person confirmed it here.
            let kept_verified = !verified
                && account.is_some_and(|a| {
                    a.security_email_verified
                        && a.security_email.as_deref() == Some(e.normalized().as_str())
                });
            if *verified || kept_verified {
                (e.normalized(), true)
            } else {
                (e.as_str().to_string(), false)
            }
        });
        if let Some((e, true)) = &email_state
            && let Some(other) = Self::owner(&self.email_owner, e)
            && other != v.username
        {
            return refuse("email", format!("is the verified e-mail of {other}"));
        }

        let Some(a) = account else {
            return self.create(tx, v, email_state).await.map(Ok);
        };

        let mut change = ImportedChange::default();
        let mut changed = Vec::new();
        let mut kept = Vec::new();
        if let Some(name) = v.display_name.filter(|n| *n != a.display_name) {
            change.display_name = Some(name);
            changed.push("display_name");
        }
        if let Some(p) = v.login_phone.filter(|p| a.login_phone.as_ref() != Some(p)) {
            change.login_phone = Some(p);
            changed.push("login_phone");
        }
        if let Some(p) = v
            .security_phone
            .filter(|p| a.security_phone.as_ref() != Some(p))
        {
            change.security_phone = Some(p);
            changed.push("security_phone");
        }
        if let Some((e, verified)) = email_state.filter(|(e, verified)| {
            a.security_email.as_ref() != Some(e) || a.security_email_verified != *verified
        }) {
            change.security_email = Some((e, verified));
            changed.push("email");
        }
        if let Some(id) = v
            .organization_id
            .filter(|id| a.organization_id != Some(*id))
        {
            change.organization_id = Some(id);
            changed.push("organization");
        }
        if let Some((status, reason)) = v
            .status
            .filter(|(s, r)| *s != a.status || *r != a.status_reason)
        {
            if a.is_admin && status != AccountStatus::Active && a.status == AccountStatus::Active {
                return refuse(
                    "status",
                    "an administrator's account is not disabled by an import (use `tongxing user disable`)".into(),
                );
            }
            change.status = Some((status, reason));
            changed.push("status");
        }
        let mut password = None;
        if let Some((kind, hash)) = v.hash.filter(|(_, h)| *h != a.password_hash) {
            let untouched = a.password_hash == legacy::NO_PASSWORD
                || a.imported_password_hash.as_deref() == Some(a.password_hash.as_str());
            if untouched {
                change.password_hash = Some(hash);
                changed.push("password_hash");
                password = Some(kind.as_str());
            } else {
                kept.push("password_hash");
            }
        }
        let reason = (!kept.is_empty()).then(|| {
            "password_hash kept: the password was set or used since it was imported".to_string()
        });
        if changed.is_empty() {
            return Ok(Ok((
                LineReport {
                    line: v.line,
                    username: Some(v.username),
                    result: LineResult::Unchanged,
                    changed,
                    kept,
                    password: None,
                    field: None,
                    reason,
                },
                false,
            )));
        }
        let disabled = change
            .status
            .as_ref()
            .is_some_and(|(s, _)| *s != AccountStatus::Active)
            && a.status == AccountStatus::Active;
        change.end_sessions = change.login_phone.is_some()
            || change.security_phone.is_some()
            || change.password_hash.is_some()
            || disabled;
        if !self.dry_run {
            let audit = Entry::new("account.imported", Outcome::Success)
                .actor(&self.actor)
                .subject_name(Some(a.id), &a.username)
                .origin(&self.origin)
                .detail(json!({ "changed": changed, "kept": kept }))
                .finish();
            match tx.update(a.id, a.version, &change, &audit).await {
                Ok(()) => {}
                Err(StoreError::Stale) => {
                    return Ok(Err(LineReport::refused(
                        v.line,
                        Some(v.username),
                        None,
                        "the account changed while it was imported; run the import again".into(),
                    )));
                }
                Err(e) => return Err(e),
            }
        }
        if let Some(p) = &change.login_phone {
            if let Some(old) = &a.login_phone {
                self.phone_owner.insert(old.clone(), None);
            }
            self.phone_owner.insert(p.clone(), Some(v.username.clone()));
        }
        if let Some((e, verified)) = &change.security_email {
            if a.security_email_verified
                && let Some(old) = &a.security_email
            {
                self.email_owner.insert(old.clone(), None);
            }
            if *verified {
                self.email_owner.insert(e.clone(), Some(v.username.clone()));
            }
        }
        Ok(Ok((
            LineReport {
                line: v.line,
                username: Some(v.username),
                result: LineResult::Updated,
                changed,
                kept,
                password,
                field: None,
                reason,
            },
            change.end_sessions,
        )))
    }

    async fn create(
        &mut self,
        tx: &mut ImportTx,
        v: Valid,
        email: Option<(String, bool)>,
    ) -> Result<(LineReport, bool), StoreError> {
        let display_name = v
            .display_name
            .unwrap_or_else(|| v.username.split('@').next().unwrap_or_default().to_string());
        let (status, status_reason) = v.status.unwrap_or((AccountStatus::Active, None));
        let (password, password_hash, imported) = match v.hash {
            Some((kind, hash)) => (kind.as_str(), hash.clone(), Some(hash)),
            None => ("none", legacy::NO_PASSWORD.to_string(), None),
        };
        let new = ImportedNew {
            id: Uuid::now_v7(),
            username: v.username.clone(),
            display_name,
            login_phone: v.login_phone.clone(),
            security_phone: v.security_phone,
            security_email: email.as_ref().map(|(e, _)| e.clone()),
            security_email_verified: email.as_ref().is_some_and(|(_, verified)| *verified),
            organization_id: v.organization_id,
            status,
            status_reason,
            password_hash,
            imported_password_hash: imported,
        };
        if !self.dry_run {
            tx.insert(&new).await?;
        }
        if let Some(p) = &v.login_phone {
            self.phone_owner.insert(p.clone(), Some(v.username.clone()));
        }
        if let Some((e, true)) = &email {
            self.email_owner.insert(e.clone(), Some(v.username.clone()));
        }
        Ok((
            LineReport {
                line: v.line,
                username: Some(v.username),
                result: LineResult::Created,
                changed: Vec::new(),
                kept: Vec::new(),
                password: Some(password),
                field: None,
                reason: None,
            },
            false,
        ))
    }

    /// Ends the run: one audit entry with its counts (none for a dry run,
    /// which writes nothing). `complete`: every line was read.
    pub async fn finish(
        self,
        file: &str,
        format: Format,
        complete: bool,
    ) -> Result<Summary, StoreError> {
        if !self.dry_run && self.summary.lines > 0 {
            let s = self.summary;
            let outcome = if complete {
                Outcome::Success
            } else {
                Outcome::Failure
            };
            Entry::new("accounts.imported", outcome)
                .actor(&self.actor)
                .origin(&self.origin)
                .detail(json!({
                    "file": file,
                    "format": format.as_str(),
                    "lines": s.lines,
                    "created": s.created,
                    "updated": s.updated,
                    "unchanged": s.unchanged,
                    "refused": s.refused,
                    "complete": complete,
                }))
                .write(&self.state.store)
                .await?;
        }
        Ok(self.summary)
    }
}
