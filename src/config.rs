//! Configuration: an optional `tongxing.toml` with `TONGXING_*` environment
//! variables layered on top. Everything is validated here, at boot, so a bad
//! setting stops the server with a message that names the key instead of
//! failing later on the first request that needs it.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use url::Url;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Development,
    Production,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// The whole configuration. Field names are the keys of `tongxing.toml`;
/// the environment variable of a key is `TONGXING_` + the key in upper case,
/// with `__` between a section and its key (`TONGXING_SESSION__IDLE_MINUTES`).
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Socket address the HTTP server binds to.
    pub listen: SocketAddr,
    /// Public base URL; `http://<listen>` when not set.
    pub issuer: Option<String>,
    /// Directory for the SQLite database and the development outbox.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; SQLite under `data_dir` when not set.
    pub database_url: Option<String>,
    /// `redis://…`: sessions, rate limits and one-time codes go to Redis.
    pub redis_url: Option<String>,
    /// Prefix of every Redis key Tongxing writes (several deployments or
    /// test runs can share one Redis).
    pub redis_prefix: String,
    pub environment: Environment,
    pub log_format: LogFormat,
    /// Default tracing filter; `RUST_LOG` overrides it.
    pub log_level: String,
    /// Peers whose `X-Forwarded-For` header is believed (load balancers).
    pub trusted_proxies: Vec<IpAddr>,
    /// Create an `admin` account with a random password when there is no account.
    pub bootstrap_admin: bool,
    pub session: SessionConfig,
    pub password_hash: PasswordHashConfig,
    pub password_policy: PasswordPolicyConfig,
    pub login_limits: LoginLimitsConfig,
    pub oidc: OidcConfig,
    pub admin: AdminConfig,
    pub sms: SmsConfig,
    pub captcha: CaptchaConfig,
    pub step_up: StepUpConfig,
    pub phone: PhoneConfig,
    pub mail: MailConfig,
    pub timeouts: TimeoutsConfig,
    /// 32 random bytes in base64: private signing keys and the documents
    /// of review cases are stored encrypted with it (AES-256-GCM). Keep it
    /// outside the database. Required in production.
    pub key_encryption_key: Option<String>,
    pub review: ReviewConfig,
    pub retrieval: RetrievalConfig,
    pub calendar: CalendarConfig,
    pub app_passwords: AppPasswordsConfig,
    pub ldap: LdapConfig,
    pub display: DisplayConfig,
    pub branding: BrandingConfig,
    pub metrics: MetricsConfig,
    pub registration: RegistrationConfig,
    pub audit: AuditConfig,
}

/// The institution's name and logo in the header of the hosted pages.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BrandingConfig {
    /// The name in Chinese (pages in zh-CN).
    pub name_zh: String,
    /// The name in English (pages in English).
    pub name_en: String,
    /// The logo: a path on this site (`/…`) or an `https://` URL; unset,
    /// the passport's own mark.
    pub logo_uri: Option<String>,
}

impl Default for BrandingConfig {
    fn default() -> Self {
        Self {
            // The pages' own brand text (i18n `brand`).
            name_zh: "通行证".into(),
            name_en: "Passport".into(),
            logo_uri: None,
        }
    }
}

impl BrandingConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        for (key, name) in [("name_zh", &self.name_zh), ("name_en", &self.name_en)] {
            let length = name.trim().chars().count();
            if length == 0 || length > 64 || name.chars().any(char::is_control) {
                return Err(ConfigError(format!(
                    "branding.{key}: 1 to 64 characters, no control characters"
                )));
            }
        }
        if !english_only(&self.name_en) {
            return Err(ConfigError(
                "branding.name_en: the English name has no Chinese characters".into(),
            ));
        }
        if let Some(logo) = &self.logo_uri {
            let local = logo.starts_with('/') && !logo.starts_with("//") && !logo.contains('\\');
            let remote = url::Url::parse(logo)
                .map(|u| u.scheme() == "https" && u.host_str().is_some())
                .unwrap_or(false);
            if !(local || remote) || logo.chars().any(|c| c.is_control() || c.is_whitespace()) {
                return Err(ConfigError(format!(
                    "branding.logo_uri: {logo:?} is neither a path on this site (/…) nor an https:// URL"
                )));
            }
        }
        Ok(())
    }
}

/// No CJK ideographs (an English name must read as English).
fn english_only(s: &str) -> bool {
    !s.chars()
        .any(|c| ('\u{3000}'..='\u{9fff}').contains(&c) || ('\u{ff00}'..='\u{ffef}').contains(&c))
}

/// How the pages and notices show things.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DisplayConfig {
    /// The time zone (an IANA name such as `Asia/Shanghai`, or `UTC`)
    /// every time on the pages, in letters and SMS is stated in.
    pub time_zone: String,
}

impl Default for DisplayConfig {
    fn default() -> Self {
        Self {
            time_zone: "Asia/Shanghai".into(),
        }
    }
}

/// The Prometheus endpoint `/metrics`. Off unless `token` or `listen` is
/// set: with `token`, the main listener serves it to requests carrying
/// `Authorization: Bearer <token>`; with `listen`, a second listener
/// (meant for a private interface) serves it without a token, and the main
/// listener does not serve it at all.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// A separate address for `/metrics` only (`127.0.0.1:9100`).
    pub listen: Option<SocketAddr>,
    /// A bearer token of at least 32 characters for `/metrics` on the
    /// main listener.
    pub token: Option<String>,
}

/// The token is a secret: Debug says only whether it is set.
impl std::fmt::Debug for MetricsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsConfig")
            .field("listen", &self.listen)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// The audit writer of a serving node (see [`crate::service::audit_writer::AuditWriter`]):
/// entries of the hot paths wait in a bounded queue and are written in
/// batches, off the request.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditConfig {
    /// Entries that may wait to be written. When it is full, the request
    /// writes its entry itself (backpressure, never a drop); 0 writes
    /// every entry in its request.
    pub queue: usize,
    /// Entries written in one transaction at most.
    pub batch: usize,
    /// How long the writer gathers entries after the first of a batch
    /// before it writes them (a full batch or a reader does not wait).
    pub interval_ms: u64,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            queue: 4096,
            batch: 256,
            interval_ms: 5,
        }
    }
}

/// Dynamic client registration (RFC 7591 / RFC 7592): whether
/// `/register` answers, and what a client registered there may have.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegistrationConfig {
    /// `/register` answers (and discovery names it) only when on.
    pub enabled: bool,
    /// Registration without an initial access token: for tests only,
    /// refused in production.
    pub open: bool,
    /// The scopes a registered client may have; those it asks for must be
    /// among them, and it gets them all when it asks for none. Never
    /// `admin`, `review` or `org_admin` (the management API's).
    pub scopes: Vec<String>,
    /// The grant types a registered client may have (`authorization_code`,
    /// `refresh_token`, `client_credentials`).
    pub grant_types: Vec<String>,
    /// The hosts the URIs of a registered client may name: exact host
    /// names and `*.example.org` (any name under example.org). Empty: any
    /// host. Either way https, except for a loopback host.
    pub redirect_hosts: Vec<String>,
    /// Registration attempts one client address may make in an hour; 0:
    /// no limit.
    pub address_hourly_limit: u32,
}

impl Default for RegistrationConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            open: false,
            scopes: ["openid", "profile", "email", "phone", "offline_access"]
                .map(String::from)
                .to_vec(),
            grant_types: ["authorization_code", "refresh_token"]
                .map(String::from)
                .to_vec(),
            redirect_hosts: Vec::new(),
            address_hourly_limit: 20,
        }
    }
}

/// The grant types dynamic registration knows.
pub const REGISTRATION_GRANT_TYPES: [&str; 3] =
    ["authorization_code", "refresh_token", "client_credentials"];

/// Whether `host` (lower case) is named by `pattern`: equal, or under the
/// domain of a `*.domain` pattern (one or more labels more).
pub fn host_matches(pattern: &str, host: &str) -> bool {
    let pattern = pattern.to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        Some(domain) => host
            .strip_suffix(domain)
            .is_some_and(|rest| rest.len() > 1 && rest.ends_with('.')),
        None => pattern == host,
    }
}

impl RegistrationConfig {
    fn validate(&self, production: bool) -> Result<(), ConfigError> {
        if self.open && production {
            return Err(ConfigError(
                "registration.open: registration without an initial access token is for tests; production needs initial access tokens".into(),
            ));
        }
        for scope in &self.scopes {
            if matches!(scope.as_str(), "admin" | "review" | "org_admin") {
                return Err(ConfigError(format!(
                    "registration.scopes: {scope:?} is for the management API and never given to a registered client"
                )));
            }
            if !crate::domain::KNOWN_SCOPES.contains(&scope.as_str()) {
                return Err(ConfigError(format!(
                    "registration.scopes: {scope:?} is not a scope Tongxing knows"
                )));
            }
        }
        for grant in &self.grant_types {
            if !REGISTRATION_GRANT_TYPES.contains(&grant.as_str()) {
                return Err(ConfigError(format!(
                    "registration.grant_types: {grant:?} is not one of authorization_code, refresh_token, client_credentials"
                )));
            }
        }
        for pattern in &self.redirect_hosts {
            let name = pattern.strip_prefix("*.").unwrap_or(pattern);
            let valid = !name.is_empty()
                && name.len() <= 253
                && url::Host::parse(name).is_ok()
                && !name.contains(['*', '/', ':', '@']);
            if !valid {
                return Err(ConfigError(format!(
                    "registration.redirect_hosts: {pattern:?} is not a host name or a *.domain pattern"
                )));
            }
        }
        Ok(())
    }
}

/// Application-specific passwords.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AppPasswordsConfig {
    /// The id of the server key new application passwords are MAC'd
    /// with (the key itself is made on first use and shared by every node
    /// through the database). Setting a new id rotates: new passwords use
    /// the new key, and those made under earlier keys keep working until
    /// they are revoked.
    pub key_id: String,
}

impl Default for AppPasswordsConfig {
    fn default() -> Self {
        Self { key_id: "1".into() }
    }
}

/// What the LDAP interface shows of a telephone number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LdapTelephone {
    /// No `telephoneNumber` attribute.
    Absent,
    /// The login phone masked (`+86 138****1234`).
    Masked,
}

/// The read-only LDAP interface for mail servers and other legacy
/// applications (see `src/ldap/`, `service::ldap`). Off by default.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LdapConfig {
    pub enabled: bool,
    /// Plain LDAP, with StartTLS when a certificate is configured. Clients
    /// on other hosts than this one must use StartTLS before they bind or
    /// search; a non-loopback address therefore needs a certificate.
    pub listen: Option<SocketAddr>,
    /// LDAPS (TLS from the first byte); needs a certificate.
    pub listen_tls: Option<SocketAddr>,
    /// PEM certificate chain (leaf first) for LDAPS and StartTLS.
    pub certificate: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) of the certificate.
    pub private_key: Option<PathBuf>,
    /// The directory's suffix: people are `uid=<account>,ou=people,<base_dn>`.
    pub base_dn: String,
    /// The client a bind that names no application (`uid=…,ou=people,…` or
    /// a bare e-mail address) is for; unset, such binds are refused.
    pub default_client: Option<String>,
    /// `absent` (default) or `masked`.
    pub telephone: LdapTelephone,
    /// A connection idle this long is closed.
    pub idle_timeout_secs: u64,
    /// Connections served at once (more wait to be accepted).
    pub max_connections: usize,
    /// Entries one search returns at most (sizeLimitExceeded beyond).
    pub max_results: usize,
}

impl Default for LdapConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            listen: None,
            listen_tls: None,
            certificate: None,
            private_key: None,
            base_dn: "dc=example,dc=org".into(),
            default_client: None,
            telephone: LdapTelephone::Absent,
            idle_timeout_secs: 300,
            max_connections: 256,
            max_results: 500,
        }
    }
}

/// The working-day calendar.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CalendarConfig {
    /// The institution's offset from UTC (`+08:00`): which date an instant
    /// falls on, and when a working day ends.
    pub utc_offset: String,
}

impl Default for CalendarConfig {
    fn default() -> Self {
        Self {
            utc_offset: "+08:00".into(),
        }
    }
}

/// The organization-verified password retrieval.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetrievalConfig {
    /// The CJK font (`.ttf`, `.otf` or `.ttc`) the retrieval form is
    /// printed with. Unset: the first of Debian's `fonts-noto-cjk`,
    /// `fonts-wqy-microhei`, `fonts-wqy-zenhei` that is installed.
    pub form_font: Option<PathBuf>,
    /// After an approval, the retrieval code waits this many hours when
    /// the account has other channels (phones, a verified e-mail), which
    /// hear of it first. 0 (the default): the code goes out at once.
    pub cooling_off_hours: u32,
    /// The retrieval code is valid this many hours.
    pub code_hours: u32,
    /// A case waiting for its stamped scans (or for new ones after a
    /// rejection) expires after this many days without a change.
    pub documents_days: u32,
    /// An organization registered by the public and confirmed by nobody
    /// goes after this many days (when no open case names it).
    pub registration_days: u32,
    /// The result is promised within this many working days (the calendar).
    pub result_working_days: u32,
}

impl Default for RetrievalConfig {
    fn default() -> Self {
        Self {
            form_font: None,
            cooling_off_hours: 0,
            code_hours: 24,
            documents_days: 30,
            registration_days: 30,
            result_working_days: 1,
        }
    }
}

/// Review cases (the phone-unbind application) and their documents.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReviewConfig {
    /// A case is due this many days after it was submitted.
    pub due_days: u32,
    /// Two different reviewers must approve (四眼原则).
    pub four_eyes: bool,
    /// An approval takes effect after this many hours, during which the
    /// applicant's old phone or security e-mail can still cancel it.
    pub cooling_off_hours: u32,
    /// An approved case not finished by binding a new phone within this
    /// many days after it took effect expires.
    pub rebind_days: u32,
    /// Identity documents are purged this many days after the final state
    /// (or a rejection).
    pub retention_days: u32,
    /// Largest accepted upload, in bytes.
    pub max_document_bytes: usize,
    /// Largest accepted image, in pixels (width × height): a small file
    /// declaring a huge image (a decompression bomb) is refused before it
    /// is decoded.
    pub max_document_pixels: u64,
    /// Key-encryption keys taken out of service: documents they wrapped
    /// stay readable until purged; new documents use `key_encryption_key`.
    pub previous_key_encryption_keys: Vec<String>,
}

impl Default for ReviewConfig {
    fn default() -> Self {
        Self {
            due_days: 5,
            four_eyes: false,
            cooling_off_hours: 72,
            rebind_days: 14,
            retention_days: 7,
            max_document_bytes: 1024 * 1024,
            max_document_pixels: 40_000_000,
            previous_key_encryption_keys: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmsProvider {
    /// Development: messages go to `<data_dir>/outbox/sms.jsonl`.
    Log,
    /// JSON POST to `webhook_url`, signed with HMAC-SHA256.
    Webhook,
    /// Alibaba Cloud SMS (SendSms).
    Aliyun,
    /// Tencent Cloud SMS (SendSms, TC3-HMAC-SHA256).
    Tencent,
}

/// What an SMS is for. Each code and notice names its purpose, and a
/// vendor that sends registered templates (Aliyun, Tencent) maps each
/// purpose to a template of its own: vendors approve one template per
/// purpose, with its wording fixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmsPurpose {
    /// The sign-in step-up code.
    Login,
    /// The password recovery code.
    Recovery,
    /// A phone change: the code to the current number.
    ChangeOld,
    /// A phone change: the code to the new number.
    ChangeNew,
    /// The guided binding of a phone.
    Bind,
    /// The phone-unbind application.
    Unbind,
    /// The retrieval form's phone, confirmed by a code.
    Retrieval,
    /// The one-time retrieval code of an approved retrieval (with the
    /// address of the completion page).
    RetrievalCode,
    /// Notices of a retrieval: a rejection to the form's phone; an
    /// approval waiting out its cooling-off period and the completion to
    /// the account's other phones.
    RetrievalNotice,
    /// Notice: the password was reset through the security e-mail.
    PasswordResetNotice,
    /// Notice (to the old number): the phone was changed.
    PhoneChangedNotice,
    /// Notice of a phone-unbind application: to the numbers being unbound
    /// at submission (with the cancel link), to the new number at the end.
    UnbindNotice,
}

impl SmsPurpose {
    pub const ALL: [SmsPurpose; 12] = [
        SmsPurpose::Login,
        SmsPurpose::Recovery,
        SmsPurpose::ChangeOld,
        SmsPurpose::ChangeNew,
        SmsPurpose::Bind,
        SmsPurpose::Unbind,
        SmsPurpose::Retrieval,
        SmsPurpose::RetrievalCode,
        SmsPurpose::RetrievalNotice,
        SmsPurpose::PasswordResetNotice,
        SmsPurpose::PhoneChangedNotice,
        SmsPurpose::UnbindNotice,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SmsPurpose::Login => "login",
            SmsPurpose::Recovery => "recovery",
            SmsPurpose::ChangeOld => "change_old",
            SmsPurpose::ChangeNew => "change_new",
            SmsPurpose::Bind => "bind",
            SmsPurpose::Unbind => "unbind",
            SmsPurpose::Retrieval => "retrieval",
            SmsPurpose::RetrievalCode => "retrieval_code",
            SmsPurpose::RetrievalNotice => "retrieval_notice",
            SmsPurpose::PasswordResetNotice => "password_reset_notice",
            SmsPurpose::PhoneChangedNotice => "phone_changed_notice",
            SmsPurpose::UnbindNotice => "unbind_notice",
        }
    }

    /// A one-time code (a verification template), not a notice.
    pub fn is_code(self) -> bool {
        !matches!(
            self,
            SmsPurpose::PasswordResetNotice
                | SmsPurpose::PhoneChangedNotice
                | SmsPurpose::UnbindNotice
                | SmsPurpose::RetrievalNotice
        )
    }

    /// The values a message of this purpose carries, which its vendor
    /// template may use as parameters.
    pub fn values(self) -> &'static [&'static str] {
        match self {
            SmsPurpose::PasswordResetNotice => &["account", "time"],
            SmsPurpose::PhoneChangedNotice => &["account", "phone", "time"],
            SmsPurpose::UnbindNotice => &["account", "link"],
            SmsPurpose::RetrievalCode => &["code", "hours", "link", "case"],
            SmsPurpose::RetrievalNotice => &["account", "time", "case", "link"],
            _ => &["code", "minutes"],
        }
    }
}

/// A vendor template for one purpose: its id and its parameters in order.
/// A parameter is the name of one of the purpose's values
/// ([`SmsPurpose::values`]); for Aliyun, whose templates name their
/// variables, `var=value` puts the value in `${var}` (plain `value` uses
/// the value's own name).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsTemplate {
    pub id: String,
    #[serde(default)]
    pub params: Vec<String>,
}

impl SmsTemplate {
    /// The (template variable, value name) pairs, in order.
    pub fn bindings(&self) -> impl Iterator<Item = (&str, &str)> {
        self.params.iter().map(|p| match p.split_once('=') {
            Some((var, value)) => (var.trim(), value.trim()),
            None => (p.trim(), p.trim()),
        })
    }
}

/// Checks a vendor's per-purpose templates: every parameter names a value
/// its purpose has.
fn validate_templates(
    vendor: &str,
    templates: &std::collections::BTreeMap<SmsPurpose, SmsTemplate>,
) -> Result<(), ConfigError> {
    for (purpose, template) in templates {
        let key = format!("sms.{vendor}.templates.{}", purpose.as_str());
        if template.id.trim().is_empty() {
            return Err(ConfigError(format!("{key}.id: a template id is required")));
        }
        for (var, value) in template.bindings() {
            if var.is_empty() || !purpose.values().contains(&value) {
                return Err(ConfigError(format!(
                    "{key}.params: `{value}` is not a value of this message; it has {}",
                    purpose.values().join(", ")
                )));
            }
        }
    }
    Ok(())
}

/// The phone pages: changing a phone, and the guided binding of a login
/// phone after sign-in.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PhoneConfig {
    /// Whether an account without a login phone must bind one after
    /// sign-in. An administrator's demand and an approved unbind
    /// application make it required whatever this says.
    pub binding: BindingPolicy,
    /// Codes the phone pages send for one account in a day (both numbers
    /// of a change and the binding together), besides the per-phone and
    /// per-address limits of every code.
    pub account_daily_codes: u32,
}

impl Default for PhoneConfig {
    fn default() -> Self {
        Self {
            binding: BindingPolicy::Required,
            account_daily_codes: 10,
        }
    }
}

/// The deployment's rule for accounts without a login phone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BindingPolicy {
    /// They bind one before anything else.
    Required,
    /// They are asked, and may skip it for the sign-in.
    Skippable,
    /// They are not asked.
    Off,
}

/// Alibaba Cloud SMS settings (the secret is never logged).
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AliyunSmsConfig {
    pub endpoint: String,
    pub access_key_id: String,
    pub access_key_secret: String,
    pub sign_name: String,
    /// A template with a `${code}` variable.
    pub template_code: String,
    /// A template without variables for security notices ("your password
    /// was reset …"); empty: such notices are not sent by SMS.
    pub notice_template_code: String,
    /// A template per purpose; a purpose without one uses `template_code`
    /// (codes) or `notice_template_code` (notices).
    pub templates: std::collections::BTreeMap<SmsPurpose, SmsTemplate>,
}

impl Default for AliyunSmsConfig {
    fn default() -> Self {
        Self {
            endpoint: "https://dysmsapi.aliyuncs.com".into(),
            access_key_id: String::new(),
            access_key_secret: String::new(),
            sign_name: String::new(),
            template_code: String::new(),
            notice_template_code: String::new(),
            templates: Default::default(),
        }
    }
}

/// Tencent Cloud SMS settings (the secret is never logged).
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TencentSmsConfig {
    pub endpoint: String,
    pub region: String,
    pub secret_id: String,
    pub secret_key: String,
    pub sdk_app_id: String,
    pub sign_name: String,
    /// A template with two parameters: the code and its minutes.
    pub template_id: String,
    /// A template without parameters for security notices; empty: such
    /// notices are not sent by SMS.
    pub notice_template_id: String,
    /// A template per purpose; a purpose without one uses `template_id`
    /// (codes) or `notice_template_id` (notices).
    pub templates: std::collections::BTreeMap<SmsPurpose, SmsTemplate>,
}

impl Default for TencentSmsConfig {
    fn default() -> Self {
        Self {
            endpoint: "https://sms.tencentcloudapi.com".into(),
            region: "ap-guangzhou".into(),
            secret_id: String::new(),
            secret_key: String::new(),
            sdk_app_id: String::new(),
            sign_name: String::new(),
            template_id: String::new(),
            notice_template_id: String::new(),
            templates: Default::default(),
        }
    }
}

/// SMS delivery and one-time codes.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmsConfig {
    pub provider: SmsProvider,
    pub webhook_url: Option<String>,
    /// Shared secret for the webhook signature (a secret: never logged).
    pub webhook_secret: Option<String>,
    pub code_ttl_secs: u64,
    pub max_attempts: u32,
    /// Minimum time between two codes to one phone.
    pub resend_secs: u64,
    /// Codes per phone per day.
    pub daily_limit: u32,
    /// Codes requested per client address per hour.
    pub ip_hourly_limit: u32,
    pub aliyun: AliyunSmsConfig,
    pub tencent: TencentSmsConfig,
}

impl Default for SmsConfig {
    fn default() -> Self {
        Self {
            provider: SmsProvider::Log,
            webhook_url: None,
            webhook_secret: None,
            code_ttl_secs: 300,
            max_attempts: 5,
            resend_secs: 60,
            daily_limit: 10,
            ip_hourly_limit: 30,
            aliyun: AliyunSmsConfig::default(),
            tencent: TencentSmsConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailProvider {
    /// Development: messages go to `<data_dir>/outbox/mail.jsonl`.
    Log,
    /// An SMTP server (the institution's mail system or a relay).
    Smtp,
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// TLS from the first byte (SMTPS, RFC 8314), port 465 by default.
    Tls,
    /// Plain connection upgraded with STARTTLS (RFC 3207), which must
    /// succeed; port 587 by default.
    Starttls,
    /// No encryption: only for a relay on the same host; port 25 by default.
    None,
}

/// SMTP delivery (the password is a secret: never logged).
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpConfig {
    pub host: String,
    /// 465, 587 or 25 by `security` when not set.
    pub port: Option<u16>,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Extra CA certificate(s), PEM, trusted besides the public roots (an
    /// internal mail server with a certificate from the institution's CA).
    pub ca_file: Option<PathBuf>,
    pub timeout_secs: u64,
    /// Connections kept open and reused.
    pub pool_size: u32,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        Self {
            host: String::new(),
            port: None,
            security: SmtpSecurity::Starttls,
            username: None,
            password: None,
            ca_file: None,
            timeout_secs: 10,
            pool_size: 4,
        }
    }
}

impl SmtpConfig {
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.security {
            SmtpSecurity::Tls => 465,
            SmtpSecurity::Starttls => 587,
            SmtpSecurity::None => 25,
        })
    }
}

/// Mail delivery and the links sent by mail.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailConfig {
    pub provider: MailProvider,
    /// The sender, `Name <address>` or an address.
    pub from: String,
    /// Minutes a password-recovery link stays valid.
    pub recovery_link_minutes: u64,
    /// Hours a security e-mail confirmation link stays valid.
    pub confirm_link_hours: u64,
    pub smtp: SmtpConfig,
}

impl Default for MailConfig {
    fn default() -> Self {
        Self {
            provider: MailProvider::Log,
            from: "通行证 <passport@localhost>".into(),
            recovery_link_minutes: 30,
            confirm_link_hours: 24,
            smtp: SmtpConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CaptchaProvider {
    /// A generated image, answer kept server-side.
    Image,
    /// No captcha (automated tests only; refused in production).
    None,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CaptchaConfig {
    pub provider: CaptchaProvider,
    pub ttl_secs: u64,
    /// Challenges one client address may draw in an hour (each costs an
    /// image to render); 0: no limit.
    pub address_hourly_limit: u32,
}

impl Default for CaptchaConfig {
    fn default() -> Self {
        Self {
            provider: CaptchaProvider::Image,
            ttl_secs: 300,
            address_hourly_limit: 300,
        }
    }
}

/// When a correct password is not enough and the phone must be proved by SMS.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StepUpConfig {
    /// Master switch of the risk rules below (clients that require SMS,
    /// `acr_values`, and the step-up owed after a password reset are
    /// always honoured).
    pub enabled: bool,
    /// A browser whose device cookie was never verified for the account.
    pub unknown_device: bool,
    /// Administrators always.
    pub admins: bool,
    /// Days since the account last proved its phone; 0 = no such rule.
    pub interval_days: u32,
}

impl Default for StepUpConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            unknown_device: true,
            admins: true,
            interval_days: 30,
        }
    }
}

/// The admin console.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// Console actions need a sign-in at most this many minutes old
    /// (fractions allowed).
    pub reauth_minutes: f64,
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self {
            reauth_minutes: 15.0,
        }
    }
}

/// Token lifetimes and key handling.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OidcConfig {
    pub access_token_ttl_secs: u64,
    pub id_token_ttl_secs: u64,
    pub refresh_token_ttl_days: u64,
    pub code_ttl_secs: u64,
    /// How long a rotated signing key stays in JWKS (and verifies tokens).
    pub key_grace_hours: u64,
    /// How often a node re-reads the key table to pick up rotations made
    /// by another node or the CLI.
    pub key_refresh_secs: u64,
    /// A new key is published at once but signs only after this long, so
    /// every node (and every JWKS cache, max-age 300 s) knows it before
    /// tokens signed with it appear. Default: refresh + 300 s.
    pub key_activation_secs: u64,
    /// The clients that may use the device authorization grant (RFC
    /// 8628), by client id; empty: none.
    pub device_clients: Vec<String>,
    /// How long a device code and its user code live.
    pub device_code_ttl_secs: u64,
    /// The polling interval a device is told to keep.
    pub device_interval_secs: u64,
    /// How many days a signing key should sign before it is rotated: the
    /// console's overview says when rotation is due (rotation itself is
    /// `tongxing keys rotate` or the API); 0 leaves it unwatched.
    pub key_rotation_days: u64,
    /// How long a pushed authorization request's `request_uri` waits for
    /// the browser (RFC 9126 `expires_in`); once the browser has come it
    /// lasts as long as a sign-in may take.
    pub par_ttl_secs: u64,
    /// Whether DPoP proofs at the token endpoint and userinfo must carry
    /// a nonce this server issued (RFC 9449 §8, §9): a proof made ahead
    /// of time, or by a client whose clock is wrong, then cannot be used.
    pub dpop_nonce: bool,
    /// How far a DPoP proof's `iat` may be from now, either way (RFC 9449
    /// §11.1); its `jti` is remembered twice as long.
    pub dpop_proof_max_age_secs: u64,
}

impl Default for OidcConfig {
    fn default() -> Self {
        Self {
            access_token_ttl_secs: 600,
            id_token_ttl_secs: 3600,
            refresh_token_ttl_days: 30,
            code_ttl_secs: 60,
            key_grace_hours: 48,
            key_refresh_secs: 30,
            key_activation_secs: 330,
            device_clients: Vec::new(),
            device_code_ttl_secs: 600,
            device_interval_secs: 5,
            key_rotation_days: 90,
            par_ttl_secs: 90,
            dpop_nonce: true,
            dpop_proof_max_age_secs: 60,
        }
    }
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionConfig {
    /// A signed-in session ends after this many minutes without a request.
    pub idle_minutes: u32,
    /// A sign-in ends this many hours after it was made, however active
    /// (fractions allowed).
    pub absolute_hours: f64,
    pub cookie_name: String,
}

/// argon2id parameters (OWASP defaults). Stored hashes made with other
/// parameters are re-computed at the next successful login.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordHashConfig {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
    /// Hashes computed at once; 0 = the number of CPU cores.
    pub max_concurrent: usize,
    /// Requests allowed to wait for a hashing slot before answering 429.
    pub max_waiting: usize,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordPolicyConfig {
    pub min_length: usize,
    /// The least strength (zxcvbn estimate) a new password must have.
    pub min_strength: crate::domain::Strength,
    pub require_upper: bool,
    pub require_lower: bool,
    pub require_digit: bool,
    pub require_special: bool,
    /// Whether a strong password the person chose themselves (a change or
    /// a recovery) lifts their weak-password blocks. Off: only an
    /// administrator's reset lifts them.
    pub self_service_lift: bool,
    /// Whom a person blocked for a weak password is told to contact when
    /// their organization names no administrator (the notice e-mail and
    /// the block page), e.g. `helpdesk@example.org, 010-1234-5678`.
    pub helpdesk: Option<String>,
}

/// Brute-force protection: the wrong password that reaches the free count
/// locks for `base_delay_secs`, each further one for twice as long, capped
/// at `max_delay_secs`. Only wrong passwords count: correct ones never do,
/// and attempts still being checked never lock anyone out.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoginLimitsConfig {
    /// Wrong passwords per account identifier before it locks; remembered
    /// `window_secs` (at least twice `max_delay_secs`) after the last one.
    pub account_free_failures: u32,
    /// Wrong passwords per client address (over all accounts) within a
    /// window of `window_secs` from the first, before the address locks.
    /// An address can be a NAT shared by thousands of users, all locked
    /// out together: the default leaves room for their typos and stops a
    /// single machine trying many accounts; each account keeps its own
    /// limit. See `trusted_proxies` for addresses behind a load balancer.
    pub ip_free_failures: u32,
    pub window_secs: u64,
    pub base_delay_secs: u64,
    pub max_delay_secs: u64,
}

impl SessionConfig {
    /// How long a sign-in lasts at most ([`Self::absolute_hours`]).
    pub fn absolute(&self) -> time::Duration {
        time::Duration::seconds_f64(self.absolute_hours * 3600.0)
    }

    /// How long a session lasts unused ([`Self::idle_minutes`]).
    pub fn idle(&self) -> time::Duration {
        time::Duration::minutes(i64::from(self.idle_minutes))
    }
}

/// How long the node waits for PostgreSQL and Redis before it answers 503
/// (see the README, "When Redis or PostgreSQL is down").
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TimeoutsConfig {
    /// Each Redis command, queued while reconnecting included.
    pub redis_command_ms: u64,
    /// Opening a Redis connection (TCP and TLS).
    pub redis_connect_ms: u64,
    /// Waiting for a database connection from the pool (opening one included).
    pub database_acquire_ms: u64,
    /// Each SQL statement on PostgreSQL (server-side `statement_timeout`).
    pub database_statement_ms: u64,
}

impl Default for TimeoutsConfig {
    fn default() -> Self {
        Self {
            redis_command_ms: 1000,
            redis_connect_ms: 1000,
            database_acquire_ms: 2000,
            database_statement_ms: 5000,
        }
    }
}

impl TimeoutsConfig {
    pub fn redis_command(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.redis_command_ms)
    }

    pub fn redis_connect(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.redis_connect_ms)
    }

    pub fn database_acquire(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.database_acquire_ms)
    }

    pub fn database_statement(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.database_statement_ms)
    }
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            idle_minutes: 480,
            absolute_hours: 168.0,
            cookie_name: "tongxing_session".into(),
        }
    }
}

impl Default for PasswordHashConfig {
    fn default() -> Self {
        Self {
            memory_kib: 19456,
            iterations: 2,
            parallelism: 1,
            max_concurrent: 0,
            max_waiting: 64,
        }
    }
}

impl Default for PasswordPolicyConfig {
    fn default() -> Self {
        Self {
            min_length: 10,
            min_strength: crate::domain::Strength::Medium,
            require_upper: true,
            require_lower: true,
            require_digit: true,
            require_special: true,
            self_service_lift: false,
            helpdesk: None,
        }
    }
}

impl Default for LoginLimitsConfig {
    fn default() -> Self {
        Self {
            account_free_failures: 5,
            ip_free_failures: 500,
            window_secs: 3600,
            base_delay_secs: 30,
            max_delay_secs: 3600,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            issuer: None,
            data_dir: PathBuf::from("./data"),
            database_url: None,
            redis_url: None,
            redis_prefix: "tongxing:".into(),
            environment: Environment::Development,
            log_format: LogFormat::Text,
            log_level: "info".into(),
            trusted_proxies: Vec::new(),
            bootstrap_admin: true,
            session: SessionConfig::default(),
            password_hash: PasswordHashConfig::default(),
            password_policy: PasswordPolicyConfig::default(),
            login_limits: LoginLimitsConfig::default(),
            oidc: OidcConfig::default(),
            admin: AdminConfig::default(),
            sms: SmsConfig::default(),
            captcha: CaptchaConfig::default(),
            step_up: StepUpConfig::default(),
            phone: PhoneConfig::default(),
            mail: MailConfig::default(),
            timeouts: TimeoutsConfig::default(),
            key_encryption_key: None,
            review: ReviewConfig::default(),
            retrieval: RetrievalConfig::default(),
            calendar: CalendarConfig::default(),
            app_passwords: AppPasswordsConfig::default(),
            ldap: LdapConfig::default(),
            display: DisplayConfig::default(),
            branding: BrandingConfig::default(),
            metrics: MetricsConfig::default(),
            registration: RegistrationConfig::default(),
            audit: AuditConfig::default(),
        }
    }
}

/// Secrets (database and Redis URLs carry passwords) never reach logs.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("issuer", &self.issuer)
            .field("data_dir", &self.data_dir)
            .field("database", &self.database_kind())
            .field("redis", &self.redis_url.is_some())
            .field("environment", &self.environment)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// `TONGXING_*` variables that are not settings: the configuration file's
/// path, and everything the test harness and CI read (`TONGXING_TEST_*`,
/// `TONGXING_CI_*`). They are matched by prefix, so a harness variable added
/// later never turns into an unknown setting that stops the server.
fn is_setting(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key != "config" && !key.starts_with("test_") && !key.starts_with("ci_")
}

impl Config {
    fn validate_ldap(&self) -> Result<(), ConfigError> {
        let l = &self.ldap;
        if !l.enabled {
            return Ok(());
        }
        let err = |m: &str| Err(ConfigError(format!("ldap.{m}")));
        if l.listen.is_none() && l.listen_tls.is_none() {
            return err("enabled: needs ldap.listen or ldap.listen_tls");
        }
        if l.certificate.is_some() != l.private_key.is_some() {
            return err("certificate and ldap.private_key: give both or neither");
        }
        for (key, path) in [
            ("certificate", &l.certificate),
            ("private_key", &l.private_key),
        ] {
            if let Some(path) = path
                && !path.is_file()
            {
                return Err(ConfigError(format!(
                    "ldap.{key}: {} is not a file",
                    path.display()
                )));
            }
        }
        if l.listen_tls.is_some() && l.certificate.is_none() {
            return err("listen_tls: LDAPS needs ldap.certificate and ldap.private_key");
        }
        if let Some(addr) = l.listen
            && !addr.ip().is_loopback()
            && l.certificate.is_none()
        {
            return err(
                "listen: plain LDAP is served on loopback only; another address needs ldap.certificate for StartTLS",
            );
        }
        if crate::domain::dn::Dn::parse(&l.base_dn).is_none_or(|dn| dn.is_empty()) {
            return err("base_dn: a distinguished name such as dc=example,dc=org");
        }
        if l.idle_timeout_secs == 0 || l.max_connections == 0 || l.max_results == 0 {
            return err("idle_timeout_secs, max_connections and max_results: at least 1");
        }
        Ok(())
    }

    /// Reads the file (when given or when `./tongxing.toml` exists) and the
    /// environment, then validates.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(path) if !path.exists() => {
                return Err(ConfigError(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            Some(path) => figment = figment.merge(Toml::file_exact(path)),
            None => figment = figment.merge(Toml::file("tongxing.toml")),
        }
        let env = Env::prefixed("TONGXING_")
            .split("__")
            .filter(|key| is_setting(key.as_str()));
        let config: Config = figment
            .merge(env)
            .extract()
            .map_err(|e| ConfigError(format!("invalid configuration: {e}")))?;
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.audit.batch == 0 || self.audit.batch > 4096 {
            return Err(ConfigError("audit.batch: between 1 and 4096".into()));
        }
        if !(60..=3600).contains(&self.oidc.device_code_ttl_secs) {
            return Err(ConfigError(
                "oidc.device_code_ttl_secs: between 60 and 3600".into(),
            ));
        }
        if !(10..=600).contains(&self.oidc.par_ttl_secs) {
            return Err(ConfigError("oidc.par_ttl_secs: between 10 and 600".into()));
        }
        if !(5..=600).contains(&self.oidc.dpop_proof_max_age_secs) {
            return Err(ConfigError(
                "oidc.dpop_proof_max_age_secs: between 5 and 600".into(),
            ));
        }
        if self.oidc.key_rotation_days > 3650 {
            return Err(ConfigError(
                "oidc.key_rotation_days: at most 3650 (0: not watched)".into(),
            ));
        }
        if !(1..=60).contains(&self.oidc.device_interval_secs) {
            return Err(ConfigError(
                "oidc.device_interval_secs: between 1 and 60".into(),
            ));
        }
        let kid = &self.app_passwords.key_id;
        if kid.is_empty()
            || kid.len() > 32
            || !kid
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(ConfigError(
                "app_passwords.key_id: 1 to 32 letters, digits, - _ or .".into(),
            ));
        }
        self.validate_ldap()?;
        self.branding.validate()?;
        self.registration
            .validate(self.environment == Environment::Production)?;
        if jiff::tz::TimeZone::get(&self.display.time_zone).is_err() {
            return Err(ConfigError(format!(
                "display.time_zone: {:?} is not a time zone name such as Asia/Shanghai or UTC",
                self.display.time_zone
            )));
        }
        if let Some(token) = &self.metrics.token
            && token.chars().count() < 32
        {
            return Err(ConfigError(
                "metrics.token: at least 32 characters (a random string, e.g. openssl rand -hex 24)"
                    .into(),
            ));
        }
        if self.metrics.listen.is_some() && self.metrics.listen == Some(self.listen) {
            return Err(ConfigError(
                "metrics.listen: must differ from listen (it is a separate listener)".into(),
            ));
        }
        if crate::domain::calendar::parse_offset(&self.calendar.utc_offset).is_none() {
            return Err(ConfigError(
                "calendar.utc_offset: an offset from UTC such as +08:00".into(),
            ));
        }
        if let Some(font) = &self.retrieval.form_font
            && !font.is_file()
        {
            return Err(ConfigError(format!(
                "retrieval.form_font: {} is not a file (install fonts-noto-cjk or fonts-wqy-microhei and name its .ttc)",
                font.display()
            )));
        }
        let issuer = self.issuer_url()?;
        if self.environment == Environment::Production && issuer.scheme() != "https" {
            return Err(ConfigError(
                "issuer: environment = \"production\" requires an https issuer".into(),
            ));
        }
        if let Some(url) = &self.database_url
            && !(url.starts_with("sqlite:")
                || url.starts_with("postgres://")
                || url.starts_with("postgresql://"))
        {
            return Err(ConfigError(
                "database_url: must start with sqlite:, postgres:// or postgresql://".into(),
            ));
        }
        if let Some(url) = &self.redis_url
            && !(url.starts_with("redis://") || url.starts_with("rediss://"))
        {
            return Err(ConfigError(
                "redis_url: must start with redis:// or rediss://".into(),
            ));
        }
        let h = &self.password_hash;
        if h.memory_kib < 8 * h.parallelism.max(1) || h.iterations == 0 || h.parallelism == 0 {
            return Err(ConfigError(
                "password_hash: memory_kib must be at least 8 × parallelism; iterations and parallelism at least 1".into(),
            ));
        }
        if self.session.idle_minutes == 0 {
            return Err(ConfigError(
                "session.idle_minutes: must be at least 1".into(),
            ));
        }
        let absolute = self.session.absolute_hours;
        if !absolute.is_finite() || absolute * 60.0 < f64::from(self.session.idle_minutes) {
            return Err(ConfigError(
                "session.absolute_hours: must be a number of hours no shorter than session.idle_minutes".into(),
            ));
        }
        if absolute > 24.0 * 366.0 {
            return Err(ConfigError(
                "session.absolute_hours: at most a year (8784 hours)".into(),
            ));
        }
        if self.session.cookie_name.is_empty()
            || !self
                .session
                .cookie_name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(ConfigError(
                "session.cookie_name: letters, digits, '_' and '-' only".into(),
            ));
        }
        let l = &self.login_limits;
        if l.account_free_failures == 0
            || l.ip_free_failures == 0
            || l.window_secs == 0
            || l.base_delay_secs == 0
            || l.max_delay_secs < l.base_delay_secs
        {
            return Err(ConfigError(
                "login_limits: failure counts, window and base delay must be at least 1, max_delay_secs ≥ base_delay_secs".into(),
            ));
        }
        let o = &self.oidc;
        if o.access_token_ttl_secs == 0
            || o.id_token_ttl_secs == 0
            || o.refresh_token_ttl_days == 0
            || o.code_ttl_secs == 0
            || o.code_ttl_secs > 600
        {
            return Err(ConfigError(
                "oidc: token lifetimes must be at least 1; code_ttl_secs at most 600 (RFC 6749 §4.1.2)".into(),
            ));
        }
        if o.key_grace_hours * 3600 < o.id_token_ttl_secs.max(o.access_token_ttl_secs) {
            return Err(ConfigError(
                "oidc.key_grace_hours: must outlast the longest token lifetime".into(),
            ));
        }
        if !(self.admin.reauth_minutes > 0.0 && self.admin.reauth_minutes <= 24.0 * 60.0) {
            return Err(ConfigError(
                "admin.reauth_minutes: must be more than 0 and at most 1440".into(),
            ));
        }
        if self.environment == Environment::Production
            && self.captcha.provider == CaptchaProvider::None
        {
            return Err(ConfigError("captcha.provider: \"none\" (no captcha) is for automated tests; production needs \"image\"".into()));
        }
        let t = &self.timeouts;
        for (key, ms) in [
            ("redis_command_ms", t.redis_command_ms),
            ("redis_connect_ms", t.redis_connect_ms),
            ("database_acquire_ms", t.database_acquire_ms),
            ("database_statement_ms", t.database_statement_ms),
        ] {
            if !(10..=600_000).contains(&ms) {
                return Err(ConfigError(format!(
                    "timeouts.{key}: must be between 10 and 600000 (milliseconds)"
                )));
            }
        }
        if self.captcha.ttl_secs == 0 {
            return Err(ConfigError("captcha.ttl_secs: must be at least 1".into()));
        }
        let sms = &self.sms;
        if self.environment == Environment::Production && sms.provider == SmsProvider::Log {
            return Err(ConfigError(
                "sms.provider: the log (outbox) sender is for development; production needs a real provider".into(),
            ));
        }
        if sms.provider == SmsProvider::Webhook {
            let url_ok = sms.webhook_url.as_deref().is_some_and(|u| {
                Url::parse(u).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
            });
            if !url_ok {
                return Err(ConfigError(
                    "sms.webhook_url: an http(s) URL is required for the webhook provider".into(),
                ));
            }
            if sms.webhook_secret.as_deref().is_none_or(|s| s.len() < 16) {
                return Err(ConfigError(
                    "sms.webhook_secret: at least 16 characters are required".into(),
                ));
            }
        }
        if sms.provider == SmsProvider::Aliyun {
            let a = &sms.aliyun;
            if [
                &a.access_key_id,
                &a.access_key_secret,
                &a.sign_name,
                &a.template_code,
            ]
            .iter()
            .any(|v| v.is_empty())
            {
                return Err(ConfigError("sms.aliyun: access_key_id, access_key_secret, sign_name and template_code are required".into()));
            }
        }
        if sms.provider == SmsProvider::Tencent {
            let t = &sms.tencent;
            if [
                &t.secret_id,
                &t.secret_key,
                &t.sdk_app_id,
                &t.sign_name,
                &t.template_id,
            ]
            .iter()
            .any(|v| v.is_empty())
            {
                return Err(ConfigError("sms.tencent: secret_id, secret_key, sdk_app_id, sign_name and template_id are required".into()));
            }
        }
        validate_templates("aliyun", &sms.aliyun.templates)?;
        validate_templates("tencent", &sms.tencent.templates)?;
        if sms.code_ttl_secs == 0
            || sms.max_attempts == 0
            || sms.daily_limit == 0
            || sms.ip_hourly_limit == 0
        {
            return Err(ConfigError("sms: code_ttl_secs, max_attempts, daily_limit and ip_hourly_limit must be at least 1".into()));
        }
        self.validate_mail()?;
        if let Some(kek) = &self.key_encryption_key {
            crate::crypto::kek::Kek::from_base64(kek).map_err(|e| ConfigError(e.to_string()))?;
        }
        self.validate_review()?;
        if self.password_policy.min_length < 8 || self.password_policy.min_length > 128 {
            return Err(ConfigError(
                "password_policy.min_length: must be between 8 and 128".into(),
            ));
        }
        if let Some(h) = &self.password_policy.helpdesk
            && (h.trim().is_empty() || h.chars().count() > 200 || h.chars().any(char::is_control))
        {
            return Err(ConfigError(
                "password_policy.helpdesk: must be 1 to 200 characters on one line".into(),
            ));
        }
        Ok(())
    }

    fn validate_review(&self) -> Result<(), ConfigError> {
        let r = &self.review;
        for old in &r.previous_key_encryption_keys {
            crate::crypto::kek::Kek::from_base64(old).map_err(|_| {
                ConfigError(
                    "review.previous_key_encryption_keys: each must be 32 bytes in base64".into(),
                )
            })?;
        }
        if !r.previous_key_encryption_keys.is_empty() && self.key_encryption_key.is_none() {
            return Err(ConfigError(
                "review.previous_key_encryption_keys: set key_encryption_key (the current key) too"
                    .into(),
            ));
        }
        if r.due_days == 0 || r.due_days > 365 {
            return Err(ConfigError(
                "review.due_days: must be between 1 and 365".into(),
            ));
        }
        if r.cooling_off_hours > 24 * 30 {
            return Err(ConfigError("review.cooling_off_hours: at most 720".into()));
        }
        if r.rebind_days == 0 || r.rebind_days > 365 {
            return Err(ConfigError(
                "review.rebind_days: must be between 1 and 365".into(),
            ));
        }
        if r.retention_days > 3650 {
            return Err(ConfigError("review.retention_days: at most 3650".into()));
        }
        if !(1024..=32 * 1024 * 1024).contains(&r.max_document_bytes) {
            return Err(ConfigError(
                "review.max_document_bytes: must be between 1024 and 33554432".into(),
            ));
        }
        if !(1_000_000..=100_000_000).contains(&r.max_document_pixels) {
            return Err(ConfigError(
                "review.max_document_pixels: must be between 1000000 and 100000000".into(),
            ));
        }
        if self.environment == Environment::Production && self.key_encryption_key.is_none() {
            return Err(ConfigError(
                "key_encryption_key: required in production (signing keys and identity documents are encrypted with it)".into(),
            ));
        }
        Ok(())
    }

    fn validate_mail(&self) -> Result<(), ConfigError> {
        let m = &self.mail;
        if self.environment == Environment::Production && m.provider == MailProvider::Log {
            return Err(ConfigError(
                "mail.provider: the log (outbox) sender is for development; production needs \"smtp\"".into(),
            ));
        }
        if m.from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(ConfigError(
                "mail.from: must be an address or \"Name <address>\"".into(),
            ));
        }
        if m.recovery_link_minutes == 0 || m.recovery_link_minutes > 24 * 60 {
            return Err(ConfigError(
                "mail.recovery_link_minutes: must be between 1 and 1440".into(),
            ));
        }
        if m.confirm_link_hours == 0 || m.confirm_link_hours > 24 * 7 {
            return Err(ConfigError(
                "mail.confirm_link_hours: must be between 1 and 168".into(),
            ));
        }
        if m.provider != MailProvider::Smtp {
            return Ok(());
        }
        let s = &m.smtp;
        if s.host.trim().is_empty() {
            return Err(ConfigError(
                "mail.smtp.host: required for the smtp provider".into(),
            ));
        }
        let local = matches!(s.host.as_str(), "localhost" | "127.0.0.1" | "::1");
        if self.environment == Environment::Production && s.security == SmtpSecurity::None && !local
        {
            return Err(ConfigError(
                "mail.smtp.security: \"none\" (no encryption) is only allowed to a relay on this host in production".into(),
            ));
        }
        if s.username.is_some() != s.password.is_some() {
            return Err(ConfigError(
                "mail.smtp: username and password go together".into(),
            ));
        }
        if s.timeout_secs == 0 || s.pool_size == 0 {
            return Err(ConfigError(
                "mail.smtp: timeout_secs and pool_size must be at least 1".into(),
            ));
        }
        if let Some(path) = &s.ca_file {
            let pem = std::fs::read(path)
                .map_err(|e| ConfigError(format!("mail.smtp.ca_file: {}: {e}", path.display())))?;
            lettre::transport::smtp::client::Certificate::from_pem(&pem).map_err(|_| {
                ConfigError(format!(
                    "mail.smtp.ca_file: {} holds no PEM certificate",
                    path.display()
                ))
            })?;
        }
        Ok(())
    }

    /// The issuer as a URL without a trailing slash in its path.
    pub fn issuer_url(&self) -> Result<Url, ConfigError> {
        let raw = match &self.issuer {
            Some(issuer) => issuer.clone(),
            None => format!("http://{}", self.listen),
        };
        let url = Url::parse(&raw).map_err(|e| ConfigError(format!("issuer: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(ConfigError(
                "issuer: must be an http(s) URL with a host".into(),
            ));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(ConfigError(
                "issuer: must not have a query or fragment (OpenID Connect Discovery 1.0 §3)"
                    .into(),
            ));
        }
        Ok(url)
    }

    /// The issuer string as it appears in tokens and discovery.
    pub fn issuer(&self) -> String {
        match self.issuer_url() {
            Ok(url) => url.as_str().trim_end_matches('/').to_string(),
            Err(_) => format!("http://{}", self.listen),
        }
    }

    pub fn secure_cookies(&self) -> bool {
        self.issuer().starts_with("https://")
    }

    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("tongxing.db").display()
            ),
        }
    }

    pub fn database_kind(&self) -> &'static str {
        if self.database_url().starts_with("sqlite:") {
            "sqlite"
        } else {
            "postgres"
        }
    }

    pub fn is_production(&self) -> bool {
        self.environment == Environment::Production
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_are_bounded_and_named_when_refused() {
        let mut c = Config::default();
        assert!(c.validate().is_ok(), "the defaults are valid");
        assert_eq!(c.timeouts.redis_command().as_millis(), 1000);
        assert_eq!(c.timeouts.database_acquire().as_millis(), 2000);
        assert_eq!(c.timeouts.database_statement().as_millis(), 5000);
        c.timeouts.redis_command_ms = 0;
        let e = c.validate().unwrap_err().0;
        assert!(e.contains("timeouts.redis_command_ms"), "{e}");
        c.timeouts.redis_command_ms = 1000;
        c.timeouts.database_statement_ms = 3_600_000;
        let e = c.validate().unwrap_err().0;
        assert!(e.contains("timeouts.database_statement_ms"), "{e}");
    }

    #[test]
    fn registration_policy_is_checked_and_open_is_refused_in_production() {
        let mut c = Config::default();
        assert!(
            !c.registration.enabled && !c.registration.open,
            "off by default"
        );
        c.registration.open = true;
        assert!(c.validate().is_ok(), "open is allowed outside production");
        c.environment = Environment::Production;
        let e = c.registration.validate(true).unwrap_err().0;
        assert!(e.contains("registration.open"), "{e}");
        c.registration.open = false;
        assert!(c.registration.validate(true).is_ok(), "control");
        for scope in ["admin", "review", "org_admin", "nonsense"] {
            c.registration.scopes = vec!["openid".into(), scope.into()];
            let e = c.registration.validate(true).unwrap_err().0;
            assert!(e.contains("registration.scopes"), "{scope}: {e}");
        }
        c.registration.scopes = vec!["openid".into()];
        c.registration.grant_types = vec!["implicit".into()];
        assert!(c.registration.validate(true).is_err());
        c.registration.grant_types = vec!["client_credentials".into()];
        assert!(c.registration.validate(true).is_ok());
        for bad in ["", "*.", "a/b", "x.*.org", "user@host"] {
            c.registration.redirect_hosts = vec![bad.into()];
            let e = c.registration.validate(true).unwrap_err().0;
            assert!(e.contains("registration.redirect_hosts"), "{bad:?}: {e}");
        }
        c.registration.redirect_hosts = vec!["app.example.org".into(), "*.lab.example.org".into()];
        assert!(c.registration.validate(true).is_ok());
        assert!(host_matches("*.lab.example.org", "a.lab.example.org"));
        assert!(!host_matches("*.lab.example.org", "lab.example.org"));
        assert!(!host_matches("*.lab.example.org", "alab.example.org"));
        assert!(host_matches("App.Example.org", "app.example.org"));
    }

    #[test]
    fn the_helpdesk_is_one_short_line() {
        let mut c = Config::default();
        assert!(!c.password_policy.self_service_lift, "off by default");
        c.password_policy.helpdesk = Some("helpdesk@cnic.cn, 010-5881-2000".into());
        assert!(c.validate().is_ok());
        for bad in ["", "  ", "two\nlines", &"x".repeat(201)] {
            c.password_policy.helpdesk = Some(bad.to_string());
            let e = c.validate().unwrap_err().0;
            assert!(e.contains("password_policy.helpdesk"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn harness_variables_are_not_settings() {
        // The harness's and CI's variables are skipped whatever follows the prefix
        for key in ["test_tools", "TEST_FORM_OUT", "ci_admin_token", "config"] {
            assert!(!is_setting(key), "{key}");
        }
        // and real settings, including ones that merely contain the words, are kept.
        for key in ["listen", "session__idle_minutes", "contest", "oidc__ci"] {
            assert!(is_setting(key), "{key}");
        }
    }
}
