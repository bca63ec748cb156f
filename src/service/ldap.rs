//! The LDAP interface's decisions: who a simple bind is, and what a search
//! sees. The listener (`src/ldap/`) speaks the protocol and maps these
//! outcomes to result codes; nothing here knows BER.
//!
//! ```text
//! bind DN ─▶ uid=<account>[,app=<client>],ou=people,<base> | mail=… | <e-mail>  (a person)
//!         ─▶ cn=<client>,ou=services,<base>                                    (an application)
//!
//! person ─▶ the client named (or ldap.default_client): ldap_bind off? ─▶ 49
//!        ─▶ client takes application passwords ─▶ application_password
//!           (service::app_passwords::authenticate under the sign-in's locks)
//!        ─▶ not one, and ldap_bind app_passwords ─▶ 49
//!        ─▶ not one, and ldap_bind password ─▶ login::verify_password
//!           (the web's locks, pool, audit)
//!        ─▶ disabled ─▶ 49 ; weak now ─▶ blocks::block_weak ; blocked for the
//!           client (access::may_use) ─▶ 49 ; a new password owed ─▶ 49 ;
//!           SMS demanded by the client ─▶ 49 ; else bound
//! service ─▶ the client's secret under the same locks, ldap_search ─▶ bound
//! ```
//!
//! Every bind writes `ldap.bind` with its source address, success or not.
//! A wrong password or an unknown account answers the same "invalid
//! credentials"; the account's state (disabled, blocked) is told only to
//! someone who knew its password, as on the login page.

use std::time::Duration;

use serde_json::json;
use uuid::Uuid;

use super::audit::{Entry, Outcome};
use super::login::{self, LoginError, Surface};
use super::{Actor, Origin};
use crate::config::LdapTelephone;
use crate::crypto::HashError;
use crate::domain::client::{Client, LdapBind};
use crate::domain::dn::Dn;
use crate::domain::{AccountName, PhoneNumber, SecretPassword};
use crate::state::AppState;
use crate::store::StoreError;
use crate::store::users::{AccountStatus, User};

/// Who a connection is bound as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Anonymous,
    /// A person, for one application.
    Person {
        user_id: Uuid,
        client_id: String,
        dn: String,
    },
    /// An application with its secret (may search when `ldap_search`).
    Service {
        client_id: String,
        dn: String,
    },
}

impl Principal {
    /// The authorization identity (`ldapwhoami`, RFC 4532): `dn:<dn>`, or
    /// empty when anonymous.
    pub fn authz_id(&self) -> String {
        match self {
            Principal::Anonymous => String::new(),
            Principal::Person { dn, .. } | Principal::Service { dn, .. } => format!("dn:{dn}"),
        }
    }
}

/// Why a bind failed. [`BindRefusal::message`] is the diagnostic message
/// the client gets with result code 49 (or the code the listener maps).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BindRefusal {
    /// Wrong password, unknown account, or an application that takes no
    /// LDAP binds: one answer for all.
    InvalidCredentials,
    /// Too many failures for the account or the address.
    Locked(Duration),
    /// The name is no DN of this directory.
    InvalidDn,
    /// A person's DN that names no application, and no default is set.
    NoApplication,
    Disabled,
    /// Blocked for the application (weak password, an administrator).
    Blocked {
        reason: String,
    },
    /// A new password is owed: the web sign-in leads to it.
    PasswordChangeOwed,
    /// The application demands SMS step-up, which a bind cannot do.
    StepUpRequired,
    /// The hashing pool is full: try again.
    Busy,
    /// The database or Redis is out of reach.
    Unavailable,
}

impl BindRefusal {
    pub fn message(&self) -> String {
        match self {
            BindRefusal::InvalidCredentials => "invalid credentials".into(),
            BindRefusal::Locked(wait) => format!(
                "too many failed attempts: try again in {} seconds",
                wait.as_secs().max(1)
            ),
            BindRefusal::InvalidDn => "the bind name is no DN of this directory".into(),
            BindRefusal::NoApplication => {
                "the bind names no application: use uid=<account>,app=<client_id>,ou=people,<base>"
                    .into()
            }
            BindRefusal::Disabled => "the account is disabled".into(),
            BindRefusal::Blocked { reason } => format!(
                "the account is blocked for this application ({reason}): change the password on the passport's web pages"
            ),
            BindRefusal::PasswordChangeOwed => {
                "a new password is owed: sign in on the passport's web pages to set it".into()
            }
            BindRefusal::StepUpRequired => {
                "this application requires SMS verification, which LDAP cannot do".into()
            }
            BindRefusal::Busy => "busy: try again".into(),
            BindRefusal::Unavailable => "the passport's storage is unavailable".into(),
        }
    }

    /// The reason as audited.
    fn audited(&self) -> &'static str {
        match self {
            BindRefusal::InvalidCredentials => "invalid_credentials",
            BindRefusal::Locked(_) => "locked",
            BindRefusal::InvalidDn => "invalid_dn",
            BindRefusal::NoApplication => "no_application",
            BindRefusal::Disabled => "disabled",
            BindRefusal::Blocked { .. } => "blocked",
            BindRefusal::PasswordChangeOwed => "password_change_owed",
            BindRefusal::StepUpRequired => "step_up_required",
            BindRefusal::Busy => "busy",
            BindRefusal::Unavailable => "unavailable",
        }
    }
}

impl From<StoreError> for BindRefusal {
    fn from(e: StoreError) -> Self {
        tracing::warn!(error = %e, "ldap bind: store");
        BindRefusal::Unavailable
    }
}

impl From<LoginError> for BindRefusal {
    fn from(e: LoginError) -> Self {
        match e {
            LoginError::InvalidCredentials => BindRefusal::InvalidCredentials,
            LoginError::Locked(wait) => BindRefusal::Locked(wait),
            LoginError::Hash(HashError::Busy) => BindRefusal::Busy,
            other => {
                tracing::warn!(error = %other, "ldap bind");
                BindRefusal::Unavailable
            }
        }
    }
}

/// What a bind DN names.
#[derive(Debug, PartialEq, Eq)]
enum Target {
    Person {
        identifier: String,
        client: Option<String>,
    },
    Service {
        client: String,
    },
}

fn base_dn(state: &AppState) -> Dn {
    // Validated at start (config::validate_ldap).
    Dn::parse(&state.config.ldap.base_dn).unwrap_or(Dn::EMPTY)
}

fn target(state: &AppState, name: &str) -> Option<Target> {
    let name = name.trim();
    if !name.contains('=') {
        // A bare e-mail address (the account name of most people).
        return (name.contains('@') && AccountName::parse(name).is_ok()).then(|| Target::Person {
            identifier: name.to_string(),
            client: None,
        });
    }
    let dn = Dn::parse(name)?;
    let head = dn.below(&base_dn(state))?;
    let rdn = |i: usize| head.get(i).map(|(a, v)| (a.as_str(), v.as_str()));
    match (head.len(), rdn(0), rdn(1), rdn(2)) {
        (2, Some(("uid" | "mail", who)), Some(("ou", ou)), None)
            if ou.eq_ignore_ascii_case("people") =>
        {
            Some(Target::Person {
                identifier: who.to_string(),
                client: None,
            })
        }
        (3, Some(("uid" | "mail", who)), Some(("app", app)), Some(("ou", ou)))
            if ou.eq_ignore_ascii_case("people") =>
        {
            Some(Target::Person {
                identifier: who.to_string(),
                client: Some(app.to_string()),
            })
        }
        (2, Some(("cn", client)), Some(("ou", ou)), None)
            if ou.eq_ignore_ascii_case("services") =>
        {
            Some(Target::Service {
                client: client.to_string(),
            })
        }
        _ => None,
    }
}

/// The DN of an account's entry.
pub fn person_dn(state: &AppState, username: &str) -> String {
    Dn::join(&[("uid", username), ("ou", "people")], &base_dn(state))
}

fn service_dn(state: &AppState, client_id: &str) -> String {
    Dn::join(&[("cn", client_id), ("ou", "services")], &base_dn(state))
}

/// A simple bind: `name` and `password` as sent (a non-empty password;
/// anonymous and unauthenticated binds are the listener's). Writes
/// `ldap.bind`, whatever the outcome.
pub async fn bind(
    state: &AppState,
    name: &str,
    password: &str,
    origin: &Origin,
) -> Result<Principal, BindRefusal> {
    let Some(target) = target(state, name) else {
        audit_bind(
            state,
            name,
            None,
            None,
            origin,
            Err(&BindRefusal::InvalidDn),
        )
        .await;
        return Err(BindRefusal::InvalidDn);
    };
    match target {
        Target::Person { identifier, client } => {
            let client = client.or_else(|| state.config.ldap.default_client.clone());
            let Some(client_id) = client else {
                audit_bind(
                    state,
                    name,
                    None,
                    None,
                    origin,
                    Err(&BindRefusal::NoApplication),
                )
                .await;
                return Err(BindRefusal::NoApplication);
            };
            let result = person(state, &identifier, &client_id, password, origin).await;
            let (user, outcome) = match result {
                Ok(user) => (Some(user), Ok(())),
                Err((user, refusal)) => (user, Err(refusal)),
            };
            audit_bind(
                state,
                name,
                user.as_ref(),
                Some(&client_id),
                origin,
                outcome.as_ref().map(|_| ()),
            )
            .await;
            outcome?;
            let user = user.ok_or(BindRefusal::Unavailable)?;
            Ok(Principal::Person {
                user_id: user.id,
                dn: person_dn(state, &user.username),
                client_id,
            })
        }
        Target::Service { client } => {
            let outcome = service(state, &client, password, origin).await;
            audit_bind(
                state,
                name,
                None,
                Some(&client),
                origin,
                outcome.as_ref().map(|_| ()),
            )
            .await;
            outcome?;
            Ok(Principal::Service {
                dn: service_dn(state, &client),
                client_id: client,
            })
        }
    }
}

/// A person's bind for `client_id`: the account when it may use the
/// application now; else the refusal (with the account when the password
/// was right, for the audit entry).
async fn person(
    state: &AppState,
    identifier: &str,
    client_id: &str,
    password: &str,
    origin: &Origin,
) -> Result<User, (Option<User>, BindRefusal)> {
    let refuse = |r: BindRefusal| (None, r);
    let client = super::clients::find_cached(state, client_id)
        .await
        .map_err(|e| refuse(e.into()))?;
    // An unknown application, or one that takes no binds: the same answer
    // as a wrong password (nothing about the application is revealed).
    let client = match client {
        Some(c) if c.ldap_bind != LdapBind::Off => c,
        _ => return Err(refuse(BindRefusal::InvalidCredentials)),
    };
    let password = SecretPassword::new(password);
    // An application password of this client is tried first where the
    // client takes one (it cannot be mistaken for the passport password:
    // only a password made for this account and this client matches);
    // where the client takes the passport password too, that is tried next.
    let by_app_password = if client.app_passwords_allowed {
        application_password(state, identifier, &client, &password, origin).await?
    } else {
        None
    };
    let via_app_password = by_app_password.is_some();
    let user = match (by_app_password, client.ldap_bind) {
        (Some(user), _) => user,
        (None, LdapBind::AppPasswords) => return Err(refuse(BindRefusal::InvalidCredentials)),
        (None, _) => {
            let verified =
                login::verify_password(state, identifier, &password, origin, Surface::Ldap)
                    .await
                    .map_err(|e| refuse(e.into()))?;
            login::upgrade_hash(state, &verified, &password)
                .await
                .map_err(|e| (Some(verified.user.clone()), e.into()))?;
            verified.user
        }
    };
    let with = |r: BindRefusal| (Some(user.clone()), r);
    if user.status != AccountStatus::Active {
        return Err(with(BindRefusal::Disabled));
    }
    // The password in hand against the current policy, as at the web
    // sign-in: a weak one blocks the applications that demand strong
    // passwords and demands a new one.
    let mut owes_password = user.must_change_password;
    if !via_app_password
        && client.ldap_bind == LdapBind::Password
        && !super::blocks::weak_reasons_of(state, &password, &user).is_empty()
    {
        super::blocks::block_weak(
            state,
            &user,
            &Actor::System,
            origin,
            crate::i18n::Lang::default(),
        )
        .await
        .map_err(|e| with(e.into()))?;
        owes_password = true;
    }
    match super::access::may_use(state, user.id, &client.id).await {
        Ok(()) => {}
        Err(super::access::UseError::Blocked(block)) => {
            return Err(with(BindRefusal::Blocked {
                reason: block.reason.to_string(),
            }));
        }
        Err(super::access::UseError::Store(e)) => return Err(with(e.into())),
    }
    if owes_password {
        return Err(with(BindRefusal::PasswordChangeOwed));
    }
    // An application password was made after a recent sign-in or SMS
    // step-up; the passport password alone cannot stand in for SMS.
    if client.require_sms && !via_app_password {
        return Err(with(BindRefusal::StepUpRequired));
    }
    Ok(user)
}

/// The application-password check of a bind for `client`
/// ([`super::app_passwords::authenticate`]) under the sign-in's locks for
/// the identifier typed and for the address, so that guessing application
/// passwords over LDAP fills the same lock as guessing the password.
/// `Ok(None)`: not an application password of this account for this
/// client (counted as a failure where the client takes application
/// passwords only; else the passport password's check counts the bind).
async fn application_password(
    state: &AppState,
    identifier: &str,
    client: &Client,
    password: &SecretPassword,
    origin: &Origin,
) -> Result<Option<User>, (Option<User>, BindRefusal)> {
    use super::app_passwords::{AuthError, authenticate};
    let user = match login::Identifier::parse(identifier) {
        Some(id) => login::lookup(state, &id)
            .await
            .map_err(|e| (None, e.into()))?,
        None => None,
    };
    let mut verdict: Option<Result<(), BindRefusal>> = None;
    // Where the passport password is checked next (and counted there), a
    // wrong application password is not counted twice.
    let count_failure = client.ldap_bind == LdapBind::AppPasswords;
    let subject = login::account_subject(identifier);
    let right = login::guarded_check(state, &subject, origin, count_failure, async {
        let Some(user) = user.as_ref() else {
            return false;
        };
        match authenticate(state, user, &client.id, password.expose(), origin).await {
            Err(AuthError::Invalid) => false,
            Ok(_) => {
                verdict = Some(Ok(()));
                true
            }
            // The secret was right; the account's state decides.
            Err(AuthError::Disabled) => {
                verdict = Some(Err(BindRefusal::Disabled));
                true
            }
            Err(AuthError::Blocked(block)) => {
                verdict = Some(Err(BindRefusal::Blocked {
                    reason: block.reason.to_string(),
                }));
                true
            }
            // Not a guess: nothing to count.
            Err(AuthError::Store(e)) => {
                verdict = Some(Err(e.into()));
                true
            }
        }
    })
    .await
    .map_err(|e| (None, e.into()))?;
    match (right, verdict, user) {
        (true, Some(Ok(())), Some(user)) => Ok(Some(user)),
        (true, Some(Err(refusal)), user) => Err((user, refusal)),
        _ => Ok(None),
    }
}

/// An application's bind with its secret, under the same locks as a
/// password (per client and per address).
async fn service(
    state: &AppState,
    client_id: &str,
    secret: &str,
    origin: &Origin,
) -> Result<(), BindRefusal> {
    // Client authentication reads the current record (a rotated secret
    // stops working at once on every node).
    let client = super::clients::find(state, client_id).await?;
    let subject = format!("client:{client_id}");
    let ok = login::guarded_check(state, &subject, origin, true, async {
        client
            .as_ref()
            .is_some_and(|c| c.ldap_search && c.secret_matches(secret))
    })
    .await?;
    if ok {
        Ok(())
    } else {
        Err(BindRefusal::InvalidCredentials)
    }
}

async fn audit_bind(
    state: &AppState,
    name: &str,
    user: Option<&User>,
    client_id: Option<&str>,
    origin: &Origin,
    outcome: Result<(), &BindRefusal>,
) {
    let mut entry = match outcome {
        Ok(()) => Entry::new("ldap.bind", Outcome::Success)
            .detail(json!({ "client_id": client_id, "name": name })),
        Err(refusal) => Entry::new("ldap.bind", Outcome::Failure)
            .detail(json!({ "client_id": client_id, "name": name, "reason": refusal.audited() })),
    }
    .origin(origin);
    entry = match user {
        Some(user) => entry.subject(user).actor(&Actor::user(user)),
        None => entry.subject_name(None, name),
    };
    if let Err(e) = entry.queue(&state.audit).await {
        tracing::warn!(error = %e, "the ldap.bind audit entry was not written");
    }
}

// ── search ────────────────────────────────────────────────────────────

/// A search filter (RFC 4511 §4.5.1.7), as far as the directory
/// evaluates it.
#[derive(Debug, Clone)]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    Equality(String, String),
    Present(String),
    Substring {
        attr: String,
        initial: Option<String>,
        any: Vec<String>,
        last: Option<String>,
    },
    GreaterOrEqual(String, String),
    LessOrEqual(String, String),
    /// What the directory does not evaluate (extensible matching): false.
    Undefined,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Base,
    OneLevel,
    Subtree,
}

#[derive(Debug)]
pub struct Search {
    pub base: String,
    pub scope: Scope,
    pub filter: Filter,
    /// Requested attributes (empty or `*`: all user attributes; `1.1`: none).
    pub attrs: Vec<String>,
    /// The client's size limit (0: none).
    pub size_limit: usize,
}

/// One entry: its DN and attributes (type, values).
#[derive(Debug, Clone)]
pub struct Found {
    pub dn: String,
    pub attributes: Vec<(String, Vec<String>)>,
}

#[derive(Debug)]
pub enum SearchRefusal {
    /// Not bound as an application allowed to search.
    NotAllowed,
    /// The base is not in this directory.
    NoSuchObject,
    /// More entries than the limit: these are the first ones.
    SizeLimit(Vec<Found>),
    Unavailable,
}

impl From<StoreError> for SearchRefusal {
    fn from(e: StoreError) -> Self {
        tracing::warn!(error = %e, "ldap search: store");
        SearchRefusal::Unavailable
    }
}

/// Where in the tree a search starts.
enum Base {
    /// The suffix or `ou=people` under it: every account.
    People,
    /// One account's entry.
    Account(String),
}

/// A search by `principal`: active accounts only, the attributes a mail
/// server needs. Only an application bound with its secret and allowed
/// `ldap_search` (checked again now: a change applies at once) may search.
pub async fn search(
    state: &AppState,
    principal: &Principal,
    query: &Search,
) -> Result<Vec<Found>, SearchRefusal> {
    let Principal::Service { client_id, .. } = principal else {
        return Err(SearchRefusal::NotAllowed);
    };
    match super::clients::find(state, client_id).await? {
        Some(c) if c.ldap_search => {}
        _ => return Err(SearchRefusal::NotAllowed),
    }
    let suffix = base_dn(state);
    let dn = Dn::parse(&query.base).ok_or(SearchRefusal::NoSuchObject)?;
    let head = dn.below(&suffix).ok_or(SearchRefusal::NoSuchObject)?;
    let base = match head {
        [] => Base::People,
        [(ou, people)] if ou == "ou" && people.eq_ignore_ascii_case("people") => Base::People,
        [(uid, who), (ou, people)]
            if uid == "uid" && ou == "ou" && people.eq_ignore_ascii_case("people") =>
        {
            Base::Account(who.clone())
        }
        _ => return Err(SearchRefusal::NoSuchObject),
    };
    let limit = match query.size_limit {
        0 => state.config.ldap.max_results,
        n => n.min(state.config.ldap.max_results),
    };
    let candidates: Vec<User> = match &base {
        // The entries below are one level under the suffix's ou=people;
        // a base-scope search of a container finds no account.
        Base::People if query.scope == Scope::Base => Vec::new(),
        Base::Account(who) => match AccountName::parse(who) {
            Ok(name) => state
                .store
                .user_by_username(name.as_str())
                .await?
                .into_iter()
                .collect(),
            Err(_) => return Err(SearchRefusal::NoSuchObject),
        },
        Base::People => match pinned_account(&query.filter) {
            Some(name) => match AccountName::parse(&name) {
                Ok(name) => state
                    .store
                    .user_by_username(name.as_str())
                    .await?
                    .into_iter()
                    .collect(),
                Err(_) => Vec::new(),
            },
            None => {
                let n = i64::try_from(state.config.ldap.max_results + 1).unwrap_or(i64::MAX);
                state.store.list_users(n, 0).await?
            }
        },
    };
    if let Base::Account(_) = base
        && candidates.is_empty()
    {
        return Err(SearchRefusal::NoSuchObject);
    }
    let mut found = Vec::new();
    for user in candidates
        .iter()
        .filter(|u| u.status == AccountStatus::Active)
    {
        let attrs = attributes(state, user);
        if !matches(&query.filter, &attrs) {
            continue;
        }
        if found.len() == limit {
            return Err(SearchRefusal::SizeLimit(found));
        }
        found.push(Found {
            dn: person_dn(state, &user.username),
            attributes: select(attrs, &query.attrs),
        });
    }
    Ok(found)
}

/// An account name the filter requires (`uid=` or `mail=` at the top or
/// in an AND): read that one account instead of listing.
fn pinned_account(filter: &Filter) -> Option<String> {
    match filter {
        Filter::Equality(attr, value)
            if attr.eq_ignore_ascii_case("uid") || attr.eq_ignore_ascii_case("mail") =>
        {
            Some(value.clone())
        }
        Filter::And(parts) => parts.iter().find_map(pinned_account),
        _ => None,
    }
}

/// Every attribute of an account's entry, user and operational.
fn attributes(state: &AppState, user: &User) -> Vec<(String, Vec<String>)> {
    let name = if user.display_name.trim().is_empty() {
        user.username.clone()
    } else {
        user.display_name.clone()
    };
    let mut attrs = vec![
        (
            "objectClass".to_string(),
            ["top", "person", "organizationalPerson", "inetOrgPerson"]
                .map(String::from)
                .to_vec(),
        ),
        ("uid".into(), vec![user.username.clone()]),
        ("cn".into(), vec![name.clone()]),
        ("sn".into(), vec![name.clone()]),
        ("displayName".into(), vec![name]),
    ];
    if user.username.contains('@') {
        attrs.push(("mail".into(), vec![user.username.clone()]));
    }
    if state.config.ldap.telephone == LdapTelephone::Masked
        && let Some(phone) = &user.login_phone
    {
        attrs.push(("telephoneNumber".into(), vec![PhoneNumber::masked(phone)]));
    }
    if let Some(org) = &user.organization {
        attrs.push((
            "memberOf".into(),
            vec![Dn::join(
                &[("cn", org.as_str()), ("ou", "organizations")],
                &base_dn(state),
            )],
        ));
    }
    attrs.push(("entryUUID".into(), vec![user.id.to_string()]));
    attrs
}

const OPERATIONAL: &[&str] = &["entryuuid"];

/// The requested attributes (RFC 4511 §4.5.1.8): none named or `*`: the
/// user attributes; `+`: the operational ones; `1.1`: none.
fn select(attrs: Vec<(String, Vec<String>)>, wanted: &[String]) -> Vec<(String, Vec<String>)> {
    let wanted: Vec<String> = wanted.iter().map(|a| a.to_ascii_lowercase()).collect();
    let all_user = wanted.is_empty() || wanted.iter().any(|w| w == "*");
    let all_operational = wanted.iter().any(|w| w == "+");
    attrs
        .into_iter()
        .filter(|(name, _)| {
            let lower = name.to_ascii_lowercase();
            let operational = OPERATIONAL.contains(&lower.as_str());
            wanted.contains(&lower)
                || (operational && all_operational)
                || (!operational && all_user && !wanted.iter().any(|w| w == "1.1"))
        })
        .collect()
}

fn values<'a>(attrs: &'a [(String, Vec<String>)], attr: &str) -> impl Iterator<Item = &'a String> {
    attrs
        .iter()
        .filter(move |(name, _)| name.eq_ignore_ascii_case(attr))
        .flat_map(|(_, v)| v)
}

/// Case-insensitive matching, as the directory's attributes are all
/// `caseIgnoreMatch` strings (objectClass, uid, mail, cn …).
fn matches(filter: &Filter, attrs: &[(String, Vec<String>)]) -> bool {
    let lower = |s: &str| s.to_lowercase();
    match filter {
        Filter::And(parts) => parts.iter().all(|f| matches(f, attrs)),
        Filter::Or(parts) => parts.iter().any(|f| matches(f, attrs)),
        Filter::Not(inner) => !matches(inner, attrs),
        Filter::Equality(attr, value) => values(attrs, attr).any(|v| lower(v) == lower(value)),
        Filter::Present(attr) => {
            attr.eq_ignore_ascii_case("objectClass") || values(attrs, attr).next().is_some()
        }
        Filter::Substring {
            attr,
            initial,
            any,
            last,
        } => values(attrs, attr).any(|v| {
            let v = lower(v);
            let mut rest = v.as_str();
            if let Some(i) = initial {
                match rest.strip_prefix(lower(i).as_str()) {
                    Some(r) => rest = r,
                    None => return false,
                }
            }
            for part in any {
                let part = lower(part);
                match rest.find(part.as_str()) {
                    Some(at) => rest = &rest[at + part.len()..],
                    None => return false,
                }
            }
            last.as_ref()
                .is_none_or(|l| rest.ends_with(lower(l).as_str()))
        }),
        Filter::GreaterOrEqual(attr, value) => {
            values(attrs, attr).any(|v| lower(v) >= lower(value))
        }
        Filter::LessOrEqual(attr, value) => values(attrs, attr).any(|v| lower(v) <= lower(value)),
        Filter::Undefined => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Vec<(String, Vec<String>)> {
        vec![
            ("objectClass".into(), vec!["inetOrgPerson".into()]),
            ("uid".into(), vec!["alice@example.org".into()]),
            ("cn".into(), vec!["Alice Liddell".into()]),
            ("entryUUID".into(), vec!["x".into()]),
        ]
    }

    #[test]
    fn filters_match_like_a_directory() {
        let e = entry();
        let eq = |a: &str, v: &str| Filter::Equality(a.into(), v.into());
        assert!(matches(&eq("UID", "Alice@Example.org"), &e));
        assert!(!matches(&eq("uid", "bob@example.org"), &e));
        assert!(matches(
            &Filter::And(vec![
                eq("objectclass", "inetorgperson"),
                Filter::Present("cn".into())
            ]),
            &e
        ));
        assert!(!matches(
            &Filter::Not(Box::new(Filter::Present("uid".into()))),
            &e
        ));
        let sub = Filter::Substring {
            attr: "cn".into(),
            initial: Some("ali".into()),
            any: vec!["e l".into()],
            last: Some("dell".into()),
        };
        assert!(matches(&sub, &e));
        assert!(!matches(&Filter::Undefined, &e));
        assert_eq!(
            pinned_account(&Filter::And(vec![
                Filter::Present("x".into()),
                eq("mail", "a@b.c")
            ])),
            Some("a@b.c".into())
        );
    }

    #[test]
    fn attributes_are_selected_as_asked() {
        let names = |w: &[&str]| -> Vec<String> {
            select(
                entry(),
                &w.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            )
            .into_iter()
            .map(|(n, _)| n)
            .collect()
        };
        assert_eq!(names(&[]), ["objectClass", "uid", "cn"]);
        assert_eq!(names(&["uid", "ENTRYUUID"]), ["uid", "entryUUID"]);
        assert_eq!(names(&["*", "+"]).len(), 4);
        assert!(names(&["1.1"]).is_empty());
    }
}
