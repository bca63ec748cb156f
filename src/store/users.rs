//! Accounts.

use sqlx::FromRow;
use time::OffsetDateTime;
use uuid::Uuid;

use super::audit::{NewAuditEvent, audited_write, insert_audit};
use super::{BeginWrite, Store, StoreError, found, on_db};
use crate::domain::{PhoneKind, PhoneNumber, Role, Roles};

/// Lifecycle state of an account. Stored as text so later states (for
/// example "weak password, blocked until an admin resets it") need no
/// schema change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountStatus {
    Active,
    Disabled,
}

impl AccountStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Disabled => "disabled",
        }
    }
}

impl TryFrom<String> for AccountStatus {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        match value.as_str() {
            "active" => Ok(Self::Active),
            "disabled" => Ok(Self::Disabled),
            other => Err(format!("unknown account status {other:?}")),
        }
    }
}

#[derive(Clone, FromRow)]
pub struct User {
    pub id: Uuid,
    pub username: String,
    pub display_name: String,
    pub login_phone: Option<String>,
    pub security_phone: Option<String>,
    pub security_email: Option<String>,
    pub security_email_verified: bool,
    /// The organization of the registry the account belongs to.
    pub organization_id: Option<Uuid>,
    /// That organization's full name (read with the account).
    pub organization: Option<String>,
    pub is_admin: bool,
    #[sqlx(try_from = "String")]
    pub status: AccountStatus,
    pub status_reason: Option<String>,
    pub password_hash: String,
    pub password_changed_at: OffsetDateTime,
    pub session_epoch: i64,
    pub version: i64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub last_login_at: Option<OffsetDateTime>,
    pub must_change_password: bool,
    /// When the account last proved its phone by SMS.
    pub last_sms_at: Option<OffsetDateTime>,
    /// The next login must pass SMS step-up (set by a password reset).
    pub step_up_required: bool,
    /// A demand to bind a login phone (see [`PhoneBinding`]); read it with
    /// [`User::phone_binding`].
    #[sqlx(rename = "phone_binding")]
    pub phone_binding_raw: Option<String>,
    /// Roles beside the administrator's (see [`crate::domain::Role`]).
    #[sqlx(try_from = "String")]
    pub roles: Roles,
    /// The postal address (JSON of [`crate::domain::PostalAddress`]); read
    /// it with [`User::address`].
    #[sqlx(rename = "address")]
    pub address_raw: Option<String>,
    /// The account's language tag (`zh-CN`, `en`); read it with
    /// [`User::lang`].
    #[sqlx(rename = "lang")]
    pub lang_raw: Option<String>,
}

/// Why an account without a login phone must bind one, beyond the
/// deployment's policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhoneBinding {
    /// An administrator demanded it.
    Required,
    /// An approved unbind application removed the phone: binding a new
    /// one can never be skipped.
    AfterUnbind,
}

impl PhoneBinding {
    pub fn as_str(self) -> &'static str {
        match self {
            PhoneBinding::Required => "required",
            PhoneBinding::AfterUnbind => "after_unbind",
        }
    }
}

impl User {
    /// The account's language: the one its person last signed in with or
    /// chose while signed in (`None`: not known yet).
    pub fn lang(&self) -> Option<crate::i18n::Lang> {
        self.lang_raw
            .as_deref()
            .and_then(crate::i18n::Lang::from_tag)
    }

    /// The language a notice about this account is written in: the
    /// account's own, else `otherwise` (the language of whatever set the
    /// notice off).
    pub fn notice_lang(&self, otherwise: crate::i18n::Lang) -> crate::i18n::Lang {
        self.lang().unwrap_or(otherwise)
    }

    /// The demand to bind a login phone, if any (an unknown stored value
    /// is read as the stricter one).
    pub fn phone_binding(&self) -> Option<PhoneBinding> {
        match self.phone_binding_raw.as_deref()? {
            "required" => Some(PhoneBinding::Required),
            _ => Some(PhoneBinding::AfterUnbind),
        }
    }

    /// The postal address, if the account has one (a stored value that
    /// does not parse is logged and read as none).
    pub fn address(&self) -> Option<crate::domain::PostalAddress> {
        let raw = self.address_raw.as_deref()?;
        let parsed = crate::domain::PostalAddress::stored(raw);
        if parsed.is_none() {
            tracing::warn!(user = %self.id, "stored address does not parse");
        }
        parsed
    }

    /// Whether the account holds `role` (whatever its status).
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(role)
    }

    /// The stored number of one of the account's phones.
    pub fn phone(&self, kind: PhoneKind) -> Option<PhoneNumber> {
        match kind {
            PhoneKind::Login => self.login_phone.as_deref(),
            PhoneKind::Security => self.security_phone.as_deref(),
        }
        .and_then(PhoneNumber::stored)
    }

    /// When the password was last set, in microseconds (the precision both
    /// databases keep): one-time links remember it and die when it moves.
    pub fn password_stamp(&self) -> i64 {
        i64::try_from(self.password_changed_at.unix_timestamp_nanos() / 1000).unwrap_or(i64::MAX)
    }
}

/// The hash is a secret: keep it out of Debug output and logs.
impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("status", &self.status)
            .field("is_admin", &self.is_admin)
            .field("roles", &self.roles)
            .finish_non_exhaustive()
    }
}

pub struct NewUser {
    pub id: Uuid,
    pub username: String,
    pub display_name: String,
    pub login_phone: Option<String>,
    pub security_phone: Option<String>,
    pub security_email: Option<String>,
    pub organization_id: Option<Uuid>,
    pub is_admin: bool,
    pub roles: Roles,
    pub password_hash: String,
}

const UNIQUE_FIELDS: &[&str] = &["username", "login_phone"];
pub(super) const COLUMNS: &str = "id, username, display_name, login_phone, security_phone, security_email, \
    security_email_verified, organization_id, \
    (SELECT o.full_name FROM organizations o WHERE o.id = users.organization_id) AS organization, is_admin, status, status_reason, password_hash, \
    password_changed_at, session_epoch, version, created_at, updated_at, last_login_at, must_change_password, \
    last_sms_at, step_up_required, phone_binding, roles, address, lang";

/// Inside a transaction: fails when no active administrator would remain.
macro_rules! ensure_an_admin_remains {
    ($tx:expr) => {{
        let left: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM users WHERE is_admin = TRUE AND status = 'active'",
        )
        .fetch_one(&mut *$tx)
        .await?;
        left > 0
    }};
}

impl Store {
    /// Creates an account and its audit entries in one transaction.
    pub async fn insert_user(
        &self,
        new: &NewUser,
        audits: &[NewAuditEvent],
    ) -> Result<User, StoreError> {
        let now = self.now();
        let sql = format!(
            "INSERT INTO users (id, username, display_name, login_phone, security_phone, security_email, \
             organization_id, is_admin, password_hash, password_changed_at, created_at, updated_at, roles) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $10, $11) RETURNING {COLUMNS}"
        );
        let result: Result<User, sqlx::Error> = on_db!(self, pool => async {
            let mut tx = pool.begin_write().await?;
            let user = sqlx::query_as::<_, User>(&sql)
                .bind(new.id)
                .bind(&new.username)
                .bind(&new.display_name)
                .bind(&new.login_phone)
                .bind(&new.security_phone)
                .bind(&new.security_email)
                .bind(new.organization_id)
                .bind(new.is_admin)
                .bind(&new.password_hash)
                .bind(now)
                .bind(new.roles.to_stored())
                .fetch_one(&mut *tx)
                .await?;
            for audit in audits {
                insert_audit!(&mut *tx, audit, now)?;
            }
            tx.commit().await?;
            Ok(user)
        }.await);
        result.map_err(|e| StoreError::from_write(e, UNIQUE_FIELDS))
    }

    pub async fn user_by_id(&self, id: Uuid) -> Result<Option<User>, StoreError> {
        self.user_where("id = $1", id).await
    }

    pub async fn user_by_username(&self, username: &str) -> Result<Option<User>, StoreError> {
        self.user_where("username = $1", username.to_string()).await
    }

    pub async fn user_by_login_phone(&self, phone: &str) -> Result<Option<User>, StoreError> {
        self.user_where("login_phone = $1", phone.to_string()).await
    }

    async fn user_where<T>(&self, condition: &str, value: T) -> Result<Option<User>, StoreError>
    where
        T: for<'q> sqlx::Encode<'q, sqlx::Sqlite>
            + sqlx::Type<sqlx::Sqlite>
            + for<'q> sqlx::Encode<'q, sqlx::Postgres>
            + sqlx::Type<sqlx::Postgres>
            + Send,
    {
        let sql = format!("SELECT {COLUMNS} FROM users WHERE {condition}");
        Ok(
            on_db!(self, pool => sqlx::query_as::<_, User>(&sql).bind(value).fetch_optional(pool).await?),
        )
    }

    /// The accounts that meet `condition` (which may end in an ORDER BY).
    pub(super) async fn users_where<T>(
        &self,
        condition: &str,
        value: T,
    ) -> Result<Vec<User>, StoreError>
    where
        T: for<'q> sqlx::Encode<'q, sqlx::Sqlite>
            + sqlx::Type<sqlx::Sqlite>
            + for<'q> sqlx::Encode<'q, sqlx::Postgres>
            + sqlx::Type<sqlx::Postgres>
            + Send,
    {
        let sql = format!("SELECT {COLUMNS} FROM users WHERE {condition}");
        Ok(on_db!(self, pool => sqlx::query_as::<_, User>(&sql).bind(value).fetch_all(pool).await?))
    }

    pub async fn count_users(&self) -> Result<i64, StoreError> {
        Ok(
            on_db!(self, pool => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM users").fetch_one(pool).await?),
        )
    }

    /// Accounts ordered by name, a page at a time.
    pub async fn list_users(&self, limit: i64, offset: i64) -> Result<Vec<User>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM users ORDER BY username LIMIT $1 OFFSET $2");
        Ok(
            on_db!(self, pool => sqlx::query_as::<_, User>(&sql).bind(limit).bind(offset).fetch_all(pool).await?),
        )
    }

    /// Stores a new password, ends every session of the account (its
    /// epoch moves on) and revokes its grants — every refresh and access
    /// token issued under the old password (ASVS 3.3.3) — except those of
    /// `effects.keep_sid`; what else changes with it is `effects`. All of
    /// it and the audit entry commit together.
    pub async fn set_password_hash(
        &self,
        id: Uuid,
        hash: &str,
        effects: PasswordEffects<'_>,
        audit: &NewAuditEvent,
    ) -> Result<(), StoreError> {
        let now = self.now();
        let n = audited_write!(self, audit, |tx| {
            let n = sqlx::query(
                "UPDATE users SET password_hash = $2, password_changed_at = $3, updated_at = $3, \
                 must_change_password = CASE WHEN $4 THEN FALSE WHEN $7 THEN TRUE ELSE must_change_password END, \
                 step_up_required = CASE WHEN $5 THEN TRUE ELSE step_up_required END, \
                 session_epoch = session_epoch + 1, version = version + 1 \
                 WHERE id = $1 AND ($6 IS NULL OR version = $6)",
            )
            .bind(id)
            .bind(hash)
            .bind(now)
            .bind(effects.clear_forced)
            .bind(effects.require_step_up)
            .bind(effects.expected_version)
            .bind(effects.set_forced)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 0 {
                // Nothing written: neither revocations nor an audit entry.
                tx.rollback().await?;
                return Err(StoreError::NotFound);
            }
            sqlx::query(REVOKE_GRANTS)
                .bind(id)
                .bind(now)
                .bind(effects.revoke_reason)
                .bind(effects.keep_sid)
                .execute(&mut *tx)
                .await?;
            if let Some(revoked) = effects.revoke_app_passwords {
                let count = sqlx::query(super::app_passwords::REVOKE_ALL)
                    .bind(id)
                    .bind(now)
                    .bind(effects.revoke_reason)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if count > 0 {
                    insert_audit!(
                        &mut *tx,
                        &super::app_passwords::revoked_all_audit(revoked, count),
                        now
                    )?;
                }
            }
            if let Some((lifted_by, unblocked)) = effects.lift_weak_blocks {
                let lifted: Vec<String> = sqlx::query_scalar(super::blocks::LIFT_BLOCKS)
                    .bind(id)
                    .bind(now)
                    .bind(lifted_by)
                    .bind(Some(crate::domain::BlockReason::WeakPassword.as_str()))
                    .fetch_all(&mut *tx)
                    .await?;
                if !lifted.is_empty() {
                    insert_audit!(
                        &mut *tx,
                        &super::blocks::unblock_audit(unblocked, &lifted),
                        now
                    )?;
                }
            }
            n
        });
        found(n)
    }

    /// The account whose *verified* security e-mail is `email` (verified
    /// addresses are stored normalised: see [`crate::domain::Email::normalized`]).
    pub async fn user_by_security_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        self.user_where(
            "security_email = $1 AND security_email_verified",
            email.to_string(),
        )
        .await
    }

    /// Sets (verified, from a confirmation link) or clears the security
    /// e-mail, with its audit entry. `Conflict("security_email")` when
    /// another account has verified the same address.
    pub async fn set_security_email(
        &self,
        id: Uuid,
        email: Option<&str>,
        audit: &NewAuditEvent,
    ) -> Result<(), StoreError> {
        let now = self.now();
        let result: Result<u64, sqlx::Error> = on_db!(self, pool => async {
            let mut tx = pool.begin_write().await?;
            let n = sqlx::query(
                "UPDATE users SET security_email = $2, security_email_verified = $3, updated_at = $4, \
                 version = version + 1 WHERE id = $1",
            )
            .bind(id)
            .bind(email)
            .bind(email.is_some())
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            insert_audit!(&mut *tx, audit, now)?;
            tx.commit().await?;
            Ok(n)
        }.await);
        found(result.map_err(|e| StoreError::from_write(e, &["security_email"]))?)
    }

    /// A transparent re-hash after a parameter change (same password, so
    /// sessions stay). Only applies if the stored hash is still `old`: a
    /// password changed meanwhile is never overwritten. Returns whether it applied.
    pub async fn upgrade_password_hash(
        &self,
        id: Uuid,
        old: &str,
        new: &str,
    ) -> Result<bool, StoreError> {
        let n = on_db!(self, pool => sqlx::query("UPDATE users SET password_hash = $3 WHERE id = $1 AND password_hash = $2")
            .bind(id)
            .bind(old)
            .bind(new)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(n > 0)
    }

    /// Sets the status; leaving `active` ends every session of the account
    /// and revokes every grant in the same transaction, so enabling it again
    /// brings no old token back.
    pub async fn set_user_status(
        &self,
        id: Uuid,
        status: AccountStatus,
        reason: Option<&str>,
        audit: &NewAuditEvent,
    ) -> Result<(), StoreError> {
        let now = self.now();
        let bump = i64::from(status != AccountStatus::Active);
        let done = on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let n = sqlx::query(
                "UPDATE users SET status = $2, status_reason = $3, updated_at = $4, \
                 session_epoch = session_epoch + $5, version = version + 1 WHERE id = $1",
            )
            .bind(id)
            .bind(status.as_str())
            .bind(reason)
            .bind(now)
            .bind(bump)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if status != AccountStatus::Active {
                sqlx::query(REVOKE_GRANTS)
                    .bind(id)
                    .bind(now)
                    .bind("account disabled")
                    .bind(None::<&str>)
                    .execute(&mut *tx)
                    .await?;
            }
            if !ensure_an_admin_remains!(tx) {
                tx.rollback().await?;
                return Err(StoreError::LastAdmin);
            }
            insert_audit!(&mut *tx, audit, now)?;
            tx.commit().await?;
            n
        });
        if done == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Records a sign-in at the store's clock, in language `lang` (which
    /// becomes the account's: see [`User::lang`]).
    pub async fn record_login(&self, id: Uuid, lang: crate::i18n::Lang) -> Result<(), StoreError> {
        let now = self.now();
        on_db!(self, pool => sqlx::query("UPDATE users SET last_login_at = $2, lang = $3 WHERE id = $1")
            .bind(id)
            .bind(now)
            .bind(lang.tag())
            .execute(pool)
            .await?
            .rows_affected());
        Ok(())
    }

    /// Makes `lang` the account's language (a signed-in person chose it);
    /// no write when it already is.
    pub async fn set_lang(&self, id: Uuid, lang: crate::i18n::Lang) -> Result<(), StoreError> {
        on_db!(self, pool => sqlx::query("UPDATE users SET lang = $2 WHERE id = $1 AND (lang IS NULL OR lang <> $2)")
            .bind(id)
            .bind(lang.tag())
            .execute(pool)
            .await?
            .rows_affected());
        Ok(())
    }
}

/// Revokes the active grants of account `$1` at `$2` with reason `$3`,
/// except those of the browser session `$4` when it is not NULL (a grant
/// without a session is never kept).
pub(super) const REVOKE_GRANTS: &str = "UPDATE grants SET revoked_at = $2, revoked_reason = $3 \
     WHERE user_id = $1 AND revoked_at IS NULL AND ($4 IS NULL OR sid IS NULL OR sid <> $4)";

/// What a password write does besides storing the hash, ending the
/// account's sessions and revoking its grants.
#[derive(Debug, Clone, Copy)]
pub struct PasswordEffects<'a> {
    /// Settles a forced password change.
    pub clear_forced: bool,
    /// Demands a new password at the next sign-in (an administrator's
    /// reset); `clear_forced` wins when both are set.
    pub set_forced: bool,
    /// Lifts the account's weak-password blocks, by this actor (as the
    /// audit log names it), with this audit entry (written only when a
    /// block was lifted; the clients lifted are added to its detail).
    pub lift_weak_blocks: Option<(&'a str, &'a NewAuditEvent)>,
    /// The next login must prove the phone by SMS.
    pub require_step_up: bool,
    /// Why the grants (refresh and access tokens) are revoked.
    pub revoke_reason: &'static str,
    /// The browser session whose grants stay: the owner changed the
    /// password in it (ASVS 3.3.3 ends the *other* sessions).
    pub keep_sid: Option<&'a str>,
    /// Writes only if the account is still at this version (`NotFound`
    /// otherwise): a change made meanwhile is not overwritten.
    pub expected_version: Option<i64>,
    /// Revokes every application password of the account (reason:
    /// `revoke_reason`), with this audit entry (written only when there
    /// were any; the count is added to its detail).
    pub revoke_app_passwords: Option<&'a NewAuditEvent>,
}

/// Profile fields an admin may change; `None` leaves a field as it is,
/// `Some(None)` clears an optional one.
#[derive(Debug, Default, Clone)]
pub struct ProfileUpdate {
    pub display_name: Option<String>,
    pub login_phone: Option<Option<String>>,
    pub security_phone: Option<Option<String>>,
    pub security_email: Option<Option<String>>,
    pub organization_id: Option<Option<Uuid>>,
    /// The stored form of a [`crate::domain::PostalAddress`].
    pub address: Option<Option<String>>,
    pub is_admin: Option<bool>,
    pub roles: Option<Roles>,
}

impl Store {
    /// Accounts whose name, display name or phones contain `q`
    /// (case-insensitive), or whose organization has a name containing it
    /// (compared by name key), a page at a time, with the total count.
    /// `within`: only accounts of these organizations (an organization
    /// administrator's scope); `None`: all.
    pub async fn search_users(
        &self,
        q: &str,
        within: Option<&[Uuid]>,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<User>, i64), StoreError> {
        let like = |text: String| {
            format!(
                "%{}%",
                text.replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_")
            )
        };
        let pattern = like(q.to_lowercase());
        let key_pattern = like(crate::domain::name_key(q));
        let scope = match within {
            None => "TRUE".to_string(),
            Some([]) => "FALSE".to_string(),
            // What `AdminScope::covers` says: the organizations' accounts
            // without administrative rights.
            Some(ids) => format!(
                "organization_id IN ({}) AND NOT is_admin AND roles = ''",
                (0..ids.len())
                    .map(|i| format!("${}", i + 3))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let n = within.map_or(0, <[Uuid]>::len);
        let filter = format!(
            "($1 = '%%' OR LOWER(username) LIKE $1 ESCAPE '\\' OR LOWER(display_name) LIKE $1 ESCAPE '\\' \
             OR login_phone LIKE $1 ESCAPE '\\' OR security_phone LIKE $1 ESCAPE '\\' \
             OR EXISTS (SELECT 1 FROM organization_names n WHERE n.organization_id = users.organization_id \
                        AND n.name_key LIKE $2 ESCAPE '\\')) AND {scope}"
        );
        let list_sql = format!(
            "SELECT {COLUMNS} FROM users WHERE {filter} ORDER BY username LIMIT ${} OFFSET ${}",
            n + 3,
            n + 4
        );
        let count_sql = format!("SELECT COUNT(*) FROM users WHERE {filter}");
        let ids = within.unwrap_or_default();
        Ok(on_db!(self, pool => {
            let mut list = sqlx::query_as::<_, User>(&list_sql).bind(&pattern).bind(&key_pattern);
            let mut count = sqlx::query_scalar::<_, i64>(&count_sql).bind(&pattern).bind(&key_pattern);
            for id in ids {
                list = list.bind(*id);
                count = count.bind(*id);
            }
            let users = list.bind(limit).bind(offset).fetch_all(pool).await?;
            let total: i64 = count.fetch_one(pool).await?;
            (users, total)
        }))
    }

    pub async fn count_users_with_status(&self, status: AccountStatus) -> Result<i64, StoreError> {
        Ok(
            on_db!(self, pool => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM users WHERE status = $1")
            .bind(status.as_str())
            .fetch_one(pool)
            .await?),
        )
    }

    /// Applies `update` if the account is still at `version` (optimistic
    /// concurrency: two admins cannot silently overwrite each other);
    /// returns the updated account. The audit entries commit with it.
    pub async fn update_profile(
        &self,
        id: Uuid,
        version: i64,
        update: &ProfileUpdate,
        audits: &[NewAuditEvent],
    ) -> Result<User, StoreError> {
        let now = self.now();
        // Each column: keep ($n flag false) or set to the given value.
        let sql = format!(
            "UPDATE users SET \
             display_name = CASE WHEN $3 THEN $4 ELSE display_name END, \
             login_phone = CASE WHEN $5 THEN $6 ELSE login_phone END, \
             security_phone = CASE WHEN $7 THEN $8 ELSE security_phone END, \
             security_email = CASE WHEN $9 THEN $10 ELSE security_email END, \
             security_email_verified = CASE WHEN $9 THEN FALSE ELSE security_email_verified END, \
             organization_id = CASE WHEN $11 THEN $12 ELSE organization_id END, \
             is_admin = CASE WHEN $13 THEN $14 ELSE is_admin END, \
             roles = CASE WHEN $17 THEN $18 ELSE roles END, \
             address = CASE WHEN $19 THEN $20 ELSE address END, \
             phone_binding = CASE WHEN $5 AND $6 IS NOT NULL THEN NULL \
                 WHEN $5 AND login_phone IS NOT NULL THEN COALESCE(phone_binding, 'required') \
                 ELSE phone_binding END, \
             session_epoch = session_epoch + CASE WHEN ($13 AND is_admin <> $14) OR ($17 AND roles <> $18) OR $16 THEN 1 ELSE 0 END, \
             updated_at = $15, version = version + 1 \
             WHERE id = $1 AND version = $2 RETURNING {COLUMNS}"
        );
        let u = update;
        let result: Result<Result<Option<User>, StoreError>, sqlx::Error> = on_db!(self, pool => async {
            let mut tx = pool.begin_write().await?;
            // A phone that changes ends the account's sessions and tokens,
            // as when its owner changes it.
            let before: Option<(Option<String>, Option<String>)> =
                sqlx::query_as("SELECT login_phone, security_phone FROM users WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
            let phones_changed = before.is_some_and(|(login, security)| {
                u.login_phone.as_ref().is_some_and(|p| *p != login)
                    || u.security_phone.as_ref().is_some_and(|p| *p != security)
            });
            let user = sqlx::query_as::<_, User>(&sql)
                .bind(id)
                .bind(version)
                .bind(u.display_name.is_some())
                .bind(u.display_name.clone().unwrap_or_default())
                .bind(u.login_phone.is_some())
                .bind(u.login_phone.clone().flatten())
                .bind(u.security_phone.is_some())
                .bind(u.security_phone.clone().flatten())
                .bind(u.security_email.is_some())
                .bind(u.security_email.clone().flatten())
                .bind(u.organization_id.is_some())
                .bind(u.organization_id.flatten())
                .bind(u.is_admin.is_some())
                .bind(u.is_admin.unwrap_or(false))
                .bind(now)
                .bind(phones_changed)
                .bind(u.roles.is_some())
                .bind(u.roles.as_ref().map(Roles::to_stored).unwrap_or_default())
                .bind(u.address.is_some())
                .bind(u.address.clone().flatten())
                .fetch_optional(&mut *tx)
                .await?;
            if user.is_some() && phones_changed {
                sqlx::query(REVOKE_GRANTS)
                    .bind(id)
                    .bind(now)
                    .bind("phone changed by an administrator")
                    .bind(None::<&str>)
                    .execute(&mut *tx)
                    .await?;
            }
            if user.is_some() && !ensure_an_admin_remains!(tx) {
                tx.rollback().await?;
                return Ok(Err(StoreError::LastAdmin));
            }
            if user.is_some() {
                for audit in audits {
                    insert_audit!(&mut *tx, audit, now)?;
                }
            }
            tx.commit().await?;
            Ok(Ok(user))
        }.await);
        match result.map_err(|e| StoreError::from_write(e, UNIQUE_FIELDS))?? {
            Some(user) => Ok(user),
            None => match self.user_by_id(id).await? {
                Some(_) => Err(StoreError::Stale),
                None => Err(StoreError::NotFound),
            },
        }
    }

    /// Sets or clears the forced password change; audited in the same transaction.
    pub async fn set_must_change_password(
        &self,
        id: Uuid,
        value: bool,
        audit: Option<&NewAuditEvent>,
    ) -> Result<(), StoreError> {
        let n = on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let n = sqlx::query("UPDATE users SET must_change_password = $2, version = version + 1 WHERE id = $1")
                .bind(id)
                .bind(value)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if let Some(a) = audit {
                insert_audit!(&mut *tx, a, self.now())?;
            }
            tx.commit().await?;
            n
        });
        if n == 0 {
            Err(StoreError::NotFound)
        } else {
            Ok(())
        }
    }

    /// Ends every session (epoch moves on) and revokes every grant of the
    /// account, with the audit entry, in one transaction.
    pub async fn revoke_everything(
        &self,
        id: Uuid,
        audit: &NewAuditEvent,
    ) -> Result<u64, StoreError> {
        let now = self.now();
        let grants: u64;
        let n = audited_write!(self, audit, |tx| {
            let n = sqlx::query("UPDATE users SET session_epoch = session_epoch + 1, version = version + 1 WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            grants = sqlx::query(
                "UPDATE grants SET revoked_at = $2, revoked_reason = 'revoked by an administrator' WHERE user_id = $1 AND revoked_at IS NULL",
            )
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            n
        });
        found(n).map(|()| grants)
    }
}

impl Store {
    /// The account proved its phone on this device: remember both, and
    /// clear a pending step-up requirement.
    pub async fn record_sms_verification(
        &self,
        id: Uuid,
        device_hash: Option<&str>,
    ) -> Result<(), StoreError> {
        let now = self.now();
        on_db!(self, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query("UPDATE users SET last_sms_at = $2, step_up_required = FALSE WHERE id = $1")
                .bind(id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            if let Some(hash) = device_hash {
                sqlx::query(
                    "INSERT INTO trusted_devices (user_id, device_hash, verified_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (user_id, device_hash) DO UPDATE SET verified_at = excluded.verified_at",
                )
                .bind(id)
                .bind(hash)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn device_is_trusted(&self, id: Uuid, device_hash: &str) -> Result<bool, StoreError> {
        let n: i64 = on_db!(self, pool => sqlx::query_scalar("SELECT COUNT(*) FROM trusted_devices WHERE user_id = $1 AND device_hash = $2")
            .bind(id)
            .bind(device_hash)
            .fetch_one(pool)
            .await?);
        Ok(n > 0)
    }

    /// A secret shared by all nodes, created on first use from `fresh`.
    /// A secret is never empty: an empty `fresh` is refused, and an empty
    /// stored value (written by an earlier version whose random generator
    /// failed) is replaced, by whichever node comes first.
    pub async fn server_secret(&self, name: &str, fresh: &[u8]) -> Result<Vec<u8>, StoreError> {
        if fresh.is_empty() {
            return Err(StoreError::Db(sqlx::Error::InvalidArgument(format!(
                "server secret {name}: an empty value is no secret"
            ))));
        }
        Ok(on_db!(self, pool => {
            sqlx::query("INSERT INTO server_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value WHERE length(server_secrets.value) = 0")
                .bind(name)
                .bind(fresh)
                .execute(pool)
                .await?;
            sqlx::query_scalar::<_, Vec<u8>>("SELECT value FROM server_secrets WHERE name = $1").bind(name).fetch_one(pool).await?
        }))
    }
}
