//! A registered relying application (OAuth 2.0 client) and the values it is
//! made of. Registration, update and the store all build these through the
//! `parse` functions here, so the rules cannot differ between the ways in.

use std::fmt;

use serde::{Serialize, Serializer};
use serde_json::{Value, json};
use url::Url;

use super::InvalidValue;
use crate::crypto::jws::Alg;
use crate::crypto::random;

/// A client identifier (RFC 6749 §2.2): 1–128 of `A-Z a-z 0-9 - _ .`, so it
/// is safe in URLs, logs, audit details and Basic credentials without
/// escaping. Surrounding spaces are dropped.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientId(String);

impl ClientId {
    pub fn parse(input: &str) -> Result<Self, InvalidValue> {
        let id = input.trim();
        if id.is_empty()
            || id.len() > 128
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(InvalidValue::new(
                "client_id",
                "letters, digits, - _ . only (1–128)",
            ));
        }
        Ok(Self(id.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a URI a client registers was refused; the caller names the field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UriRefused {
    #[error("is not an absolute URI")]
    NotAbsolute,
    #[error("must not have a fragment")]
    Fragment,
    #[error("must use https in production")]
    NotHttps,
    #[error("must be http or https")]
    Scheme,
    #[error("is too long")]
    TooLong,
}

/// The one rule for every URI a client registers (redirects, back-channel
/// logout, `jwks_uri`): an absolute http(s) URI without fragment, at most
/// 2000 bytes; in production plain http only for a loopback host.
fn web_uri(raw: &str, production: bool) -> Result<(), UriRefused> {
    // RFC 6749 §3.1.2: "The redirection endpoint URI MUST be an absolute
    // URI" and "MUST NOT include a fragment component".
    let url = Url::parse(raw).map_err(|_| UriRefused::NotAbsolute)?;
    if url.fragment().is_some() {
        return Err(UriRefused::Fragment);
    }
    match url.scheme() {
        // RFC 6749 §3.1.2.1 wants TLS for redirects. The exception is a
        // loopback host (RFC 8252 §7.3: native apps listen on the loopback
        // interface, and that traffic never leaves the machine).
        "https" => {}
        "http" => {
            // `localhost` is kept beside the IP literals RFC 8252 §7.3
            // names because registrations made before this rule use it.
            let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
            if production && !loopback {
                return Err(UriRefused::NotHttps);
            }
        }
        _ => return Err(UriRefused::Scheme),
    }
    if raw.len() > 2000 {
        return Err(UriRefused::TooLong);
    }
    Ok(())
}

/// A registered redirection endpoint (RFC 6749 §3.1.2), also used for
/// post-logout redirects (OIDC RP-Initiated Logout 1.0 §3.1 applies the
/// same rules). Kept exactly as registered: the authorization endpoint
/// compares by simple string comparison (RFC 6749 §3.1.2.3, Security BCP
/// RFC 9700 §4.1.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectUri(String);

impl RedirectUri {
    /// `production` refuses plain http to hosts other than loopback.
    pub fn parse(raw: &str, production: bool) -> Result<Self, UriRefused> {
        web_uri(raw, production)?;
        Ok(Self(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A URI Tongxing calls on the client's behalf: the back-channel logout
/// endpoint (OIDC Back-Channel Logout 1.0 §2.2) and the `jwks_uri`
/// (RFC 7591 §2). Same acceptance rule as [`RedirectUri`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointUri(String);

impl EndpointUri {
    pub fn parse(raw: &str, production: bool) -> Result<Self, UriRefused> {
        web_uri(raw, production)?;
        Ok(Self(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! uri_traits {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        /// Compares with a URI as a request sends it (exact match).
        impl PartialEq<str> for $t {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }
    )*};
}
uri_traits!(RedirectUri, EndpointUri);

/// A client secret (RFC 6749 §2.3.1) in clear: only when it is given or
/// generated, never stored (the store keeps [`ClientSecret::hash`]) and
/// never printed by Debug or Display.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientSecret(String);

impl ClientSecret {
    /// At least this many bytes: with printable characters, enough that
    /// guessing is hopeless, since the token endpoint checks secrets with
    /// a fast hash (see [`ClientSecret::hash`]).
    pub const MIN_LEN: usize = 32;

    pub fn parse(input: String) -> Result<Self, InvalidValue> {
        if input.len() < Self::MIN_LEN {
            return Err(InvalidValue::new(
                "secret",
                "must have at least 32 characters",
            ));
        }
        Ok(Self(input))
    }

    /// A fresh 256-bit random secret.
    pub fn generate() -> Result<Self, getrandom::Error> {
        Ok(Self(random::token()?))
    }

    /// The secret itself, to show once to whoever registered the client.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn into_exposed(self) -> String {
        self.0
    }

    /// How the secret is stored. Secrets are long random values, so a plain
    /// SHA-256 is enough (no slow hash on the token path — DESIGN.md).
    pub fn hash(&self) -> String {
        hash_secret(&self.0)
    }
}

fn hash_secret(secret: &str) -> String {
    crate::crypto::sha256_hex(secret)
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret([redacted])")
    }
}

impl fmt::Display for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// How a client authenticates at the token endpoint (the
/// `token_endpoint_auth_method` values of RFC 7591 §2; `private_key_jwt`
/// from OIDC Core §9 / RFC 7523).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
    PrivateKeyJwt,
    None,
}

impl AuthMethod {
    pub const ALL: [AuthMethod; 4] = [
        Self::ClientSecretBasic,
        Self::ClientSecretPost,
        Self::PrivateKeyJwt,
        Self::None,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::PrivateKeyJwt => "private_key_jwt",
            Self::None => "none",
        }
    }

    /// The registered name, exactly (RFC 7591 names are case-sensitive).
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or(InvalidValue::new(
                "token_auth_method",
                "client_secret_basic, client_secret_post, private_key_jwt or none",
            ))
    }

    pub fn uses_secret(self) -> bool {
        matches!(self, Self::ClientSecretBasic | Self::ClientSecretPost)
    }
}

/// Whether people may bind to the LDAP interface for this client, and
/// with what (`clients.ldap_bind`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum LdapBind {
    /// No LDAP bind names this client.
    #[default]
    Off,
    /// The passport password, and application passwords of this client.
    Password,
    /// Application passwords of this client only.
    AppPasswords,
}

impl LdapBind {
    pub const ALL: [LdapBind; 3] = [Self::Off, Self::Password, Self::AppPasswords];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Password => "password",
            Self::AppPasswords => "app_passwords",
        }
    }

    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str() == s.trim())
            .ok_or(InvalidValue::new(
                "ldap_bind",
                "off, password or app_passwords",
            ))
    }
}

/// The algorithm the client's ID tokens are signed with
/// (`id_token_signed_response_alg`, OIDC Dynamic Client Registration §2).
/// RS256 is the default every relying party must accept (OIDC Core §15.1);
/// ES256 and EdDSA on request. `none` and HMAC are never offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdTokenAlg(Alg);

impl IdTokenAlg {
    pub const DEFAULT: IdTokenAlg = IdTokenAlg(Alg::RS256);

    /// The JOSE name, exactly (RFC 7518 §3.1; `EdDSA` from RFC 8037 §3.1).
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        Alg::parse(s)
            .map(Self)
            .ok_or(InvalidValue::new("id_token_alg", "RS256, ES256 or EdDSA"))
    }

    /// The signing algorithm to pick the key with.
    pub fn alg(self) -> Alg {
        self.0
    }

    pub fn as_str(self) -> &'static str {
        self.0.as_str()
    }
}

impl Serialize for IdTokenAlg {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A registered client, every value parsed: what the store hands out and
/// what registration and update build before writing.
#[derive(Debug, Clone, Serialize)]
pub struct Client {
    /// Parsed as a [`ClientId`] on the way in; kept as text because tokens,
    /// codes and audit entries carry it as text.
    pub id: String,
    pub name: String,
    #[serde(skip)]
    pub secret_hash: Option<String>,
    pub token_auth_method: AuthMethod,
    pub redirect_uris: Vec<RedirectUri>,
    pub post_logout_redirect_uris: Vec<RedirectUri>,
    pub backchannel_logout_uri: Option<EndpointUri>,
    pub first_party: bool,
    pub scopes: Vec<String>,
    pub id_token_alg: IdTokenAlg,
    pub jwks_uri: Option<EndpointUri>,
    /// Where the client hosts signed request objects (RFC 9101 §5.2): the
    /// only request URIs of its own that are fetched.
    pub request_uris: Vec<EndpointUri>,
    /// Public keys registered inline (private_key_jwt, RFC 7523 §2.2).
    #[serde(skip)]
    pub jwks: Option<jsonwebtoken::jwk::JwkSet>,
    pub version: i64,
    /// Sign-ins for this client always need SMS step-up.
    pub require_sms: bool,
    /// Accounts whose password the passport found weak are blocked for
    /// this client until an administrator resets the password (see
    /// [`crate::service::blocks`]).
    pub require_strong_password: bool,
    /// The name in English (`name` is the default, zh-CN one).
    pub name_en: Option<String>,
    /// What the application is for, as the application list says it
    /// (zh-CN, and in English).
    pub description: Option<String>,
    pub description_en: Option<String>,
    /// The logo the application list shows (an absolute http(s) URI).
    pub logo_uri: Option<EndpointUri>,
    /// Where the application list's link opens the application.
    pub home_uri: Option<EndpointUri>,
    /// A first-party client appears in everyone's application list.
    pub show_in_app_list: bool,
    /// People may make application passwords for this client (mail
    /// clients that speak IMAP/SMTP, through the LDAP interface).
    pub app_passwords_allowed: bool,
    /// Binds to the LDAP interface naming this client (see `service::ldap`).
    pub ldap_bind: LdapBind,
    /// The client, bound to the LDAP interface with its secret, may search
    /// the accounts.
    pub ldap_search: bool,
    /// Its authorization requests must come through the pushed
    /// authorization request endpoint (RFC 9126 §5).
    pub require_pushed_authorization_requests: bool,
    /// Its authorization requests must be signed request objects (RFC 9101
    /// §10.5), by value or pushed.
    pub require_signed_request_object: bool,
    /// Its tokens must be bound to a DPoP key (RFC 9449 §5.2
    /// `dpop_bound_access_tokens`): a token request without a proof is
    /// refused.
    pub dpop_bound_access_tokens: bool,
    /// Registered by itself through `/register` (RFC 7591), not by an
    /// administrator: never first-party, and managed with its
    /// registration access token (RFC 7592).
    pub registered_dynamically: bool,
    /// The SHA-256 of the registration access token (dynamic clients only).
    #[serde(skip)]
    pub registration_token_hash: Option<String>,
    /// The grant types the client registered (RFC 7591 §2), the only ones
    /// the token endpoint accepts from it; `None` (clients an
    /// administrator registered): not limited this way.
    pub grant_types: Option<Vec<String>>,
}

impl Client {
    /// The name to show in `lang` (`en`: the English name when set).
    pub fn display_name(&self, english: bool) -> &str {
        match (&self.name_en, english) {
            (Some(n), true) => n,
            _ => &self.name,
        }
    }

    /// The description to show (`en`: the English one, else the default).
    pub fn display_description(&self, english: bool) -> Option<&str> {
        match (&self.description_en, english) {
            (Some(d), true) => Some(d),
            _ => self.description.as_deref(),
        }
    }

    pub fn is_public(&self) -> bool {
        self.token_auth_method == AuthMethod::None
    }

    /// Whether the client may use the grant type `grant` (the
    /// `grant_type` value) at the token endpoint.
    pub fn allows_grant(&self, grant: &str) -> bool {
        self.grant_types
            .as_ref()
            .is_none_or(|list| list.iter().any(|g| g == grant))
    }

    /// Checks a presented registration access token against the stored
    /// SHA-256 (constant time); a client without one matches nothing.
    pub fn registration_token_matches(&self, token: &str) -> bool {
        match &self.registration_token_hash {
            Some(stored) => {
                random::constant_time_eq(hash_secret(token).as_bytes(), stored.as_bytes())
            }
            None => false,
        }
    }

    /// Checks a presented secret against the stored SHA-256 (constant time).
    pub fn secret_matches(&self, secret: &str) -> bool {
        match &self.secret_hash {
            Some(stored) => {
                random::constant_time_eq(hash_secret(secret).as_bytes(), stored.as_bytes())
            }
            None => false,
        }
    }

    /// The client as the management API and the CLI show it (no secret).
    pub fn json(&self) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        v["id_token_alg"] = json!(self.id_token_alg.as_str());
        v["token_auth_method"] = json!(self.token_auth_method.as_str());
        v["scopes"] = json!(self.scopes.join(" "));
        v["has_jwks"] = json!(self.jwks.is_some());
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids() {
        assert_eq!(
            ClientId::parse(" mail-2.demo_x ").unwrap().as_str(),
            "mail-2.demo_x"
        );
        assert!(ClientId::parse(&"a".repeat(128)).is_ok());
        for bad in ["", "  ", "bad id", "a/b", "a:b", "邮件", "a%20"] {
            let e = ClientId::parse(bad).unwrap_err();
            assert_eq!(e.field, "client_id", "{bad}");
        }
        assert!(ClientId::parse(&"a".repeat(129)).is_err());
    }

    #[test]
    fn redirect_uris_outside_production() {
        for good in [
            "https://mail.example.org/cb",
            "https://mail.example.org/cb?x=1",
            "http://mail.example.org/cb",
            "http://127.0.0.1:9000/cb",
        ] {
            assert_eq!(RedirectUri::parse(good, false).unwrap().as_str(), good);
        }
        assert_eq!(
            RedirectUri::parse("not a uri", false),
            Err(UriRefused::NotAbsolute)
        );
        assert_eq!(
            RedirectUri::parse("/relative/cb", false),
            Err(UriRefused::NotAbsolute)
        );
        assert_eq!(
            RedirectUri::parse("https://x.example/cb#frag", false),
            Err(UriRefused::Fragment)
        );
        assert_eq!(
            RedirectUri::parse("https://x.example/cb#", false),
            Err(UriRefused::Fragment),
            "an empty fragment is a fragment too"
        );
        assert_eq!(
            RedirectUri::parse("ftp://x.example/cb", false),
            Err(UriRefused::Scheme)
        );
        assert_eq!(
            RedirectUri::parse("com.example.app:/cb", false),
            Err(UriRefused::Scheme)
        );
        let long = format!("https://x.example/{}", "a".repeat(2000));
        assert_eq!(RedirectUri::parse(&long, false), Err(UriRefused::TooLong));
        let limit = format!("https://x.example/{}", "a".repeat(2000 - 18));
        assert_eq!(limit.len(), 2000);
        assert!(RedirectUri::parse(&limit, false).is_ok());
    }

    #[test]
    fn production_allows_plain_http_only_to_loopback() {
        for good in [
            "https://mail.example.org/cb",
            "http://127.0.0.1:9000/cb",
            "http://[::1]:9000/cb",
            "http://localhost:8080/cb",
            "http://LOCALHOST/cb",
        ] {
            assert!(RedirectUri::parse(good, true).is_ok(), "{good}");
        }
        for bad in [
            "http://mail.example.org/cb",
            "http://127.0.0.2/cb",
            "http://localhost.example.org/cb",
            "http://10.0.0.1/cb",
        ] {
            assert_eq!(
                RedirectUri::parse(bad, true),
                Err(UriRefused::NotHttps),
                "{bad}"
            );
            assert!(RedirectUri::parse(bad, false).is_ok(), "{bad}");
        }
        assert_eq!(
            EndpointUri::parse("http://bcl.example.org/", true),
            Err(UriRefused::NotHttps)
        );
        assert!(EndpointUri::parse("https://bcl.example.org/", true).is_ok());
    }

    #[test]
    fn uris_compare_exactly_as_registered() {
        let uri = RedirectUri::parse("https://x.example/cb", false).unwrap();
        assert!(uri == *"https://x.example/cb");
        assert!(uri != *"https://x.example/cb/");
        assert!(uri != *"HTTPS://x.example/cb");
        assert_eq!(json!(uri), json!("https://x.example/cb"));
    }

    #[test]
    fn secrets_are_long_and_never_shown() {
        let short = "s".repeat(31);
        assert_eq!(
            ClientSecret::parse(short).unwrap_err(),
            InvalidValue::new("secret", "must have at least 32 characters")
        );
        let given = ClientSecret::parse("a-very-long-secret-given-by-the-operator".into()).unwrap();
        assert_eq!(given.expose(), "a-very-long-secret-given-by-the-operator");
        assert!(!format!("{given:?} {given}").contains("very-long"));
        let generated = ClientSecret::generate().unwrap();
        assert!(generated.expose().len() >= 43, "256 bits in base64url");
        assert_ne!(generated, ClientSecret::generate().unwrap());

        let client = Client {
            secret_hash: Some(given.hash()),
            ..sample()
        };
        assert!(client.secret_matches(given.expose()));
        assert!(!client.secret_matches(generated.expose()));
        assert!(
            !sample().secret_matches(given.expose()),
            "no hash, no match"
        );
        assert_ne!(given.hash(), given.expose());
    }

    #[test]
    fn auth_methods() {
        for m in AuthMethod::ALL {
            assert_eq!(AuthMethod::parse(m.as_str()), Ok(m));
            assert_eq!(json!(m), json!(m.as_str()));
        }
        for bad in ["", "client_secret_jwt", "Client_Secret_Basic", "basic"] {
            assert_eq!(
                AuthMethod::parse(bad).unwrap_err().field,
                "token_auth_method",
                "{bad}"
            );
        }
        assert!(AuthMethod::ClientSecretPost.uses_secret());
        assert!(!AuthMethod::PrivateKeyJwt.uses_secret());
        assert!(!AuthMethod::None.uses_secret());
    }

    #[test]
    fn id_token_algs() {
        for (name, alg) in [
            ("RS256", Alg::RS256),
            ("ES256", Alg::ES256),
            ("EdDSA", Alg::EdDSA),
        ] {
            let parsed = IdTokenAlg::parse(name).unwrap();
            assert_eq!(parsed.alg(), alg);
            assert_eq!(parsed.as_str(), name);
        }
        for bad in ["", "none", "HS256", "rs256", "PS256", "Ed25519"] {
            assert_eq!(IdTokenAlg::parse(bad).unwrap_err().field, "id_token_alg");
        }
        assert_eq!(IdTokenAlg::DEFAULT.as_str(), "RS256");
    }

    #[test]
    fn json_view() {
        let v = sample().json();
        assert_eq!(v["id"], "wiki");
        assert_eq!(v["token_auth_method"], "client_secret_basic");
        assert_eq!(v["id_token_alg"], "ES256");
        assert_eq!(v["redirect_uris"], json!(["https://wiki.example.org/cb"]));
        assert_eq!(v["scopes"], "openid profile");
        assert_eq!(v["has_jwks"], false);
        assert!(v.get("secret_hash").is_none());
        assert!(v.get("registration_token_hash").is_none());
        assert_eq!(v["registered_dynamically"], false);
        assert_eq!(v["grant_types"], Value::Null);
    }

    fn sample() -> Client {
        Client {
            id: "wiki".into(),
            name: "Wiki".into(),
            secret_hash: None,
            token_auth_method: AuthMethod::ClientSecretBasic,
            redirect_uris: vec![RedirectUri::parse("https://wiki.example.org/cb", true).unwrap()],
            post_logout_redirect_uris: vec![],
            backchannel_logout_uri: None,
            first_party: false,
            scopes: vec!["openid".into(), "profile".into()],
            id_token_alg: IdTokenAlg::parse("ES256").unwrap(),
            jwks_uri: None,
            request_uris: vec![],
            jwks: None,
            version: 1,
            require_sms: false,
            require_strong_password: false,
            name_en: None,
            description: None,
            description_en: None,
            logo_uri: None,
            home_uri: None,
            show_in_app_list: false,
            app_passwords_allowed: false,
            ldap_bind: LdapBind::Off,
            ldap_search: false,
            require_pushed_authorization_requests: false,
            require_signed_request_object: false,
            dpop_bound_access_tokens: false,
            registered_dynamically: false,
            registration_token_hash: None,
            grant_types: None,
        }
    }
}
