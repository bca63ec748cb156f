//! A small relying application for the Tongxing passport, written the way
//! an application developer would: the `openidconnect` crate, the
//! authorization code flow with PKCE, RP-initiated logout, and back-channel
//! logout. `mail-demo` and `arp-demo` are two instances of it.
//!
//! Routes: `/` (who is signed in), `/login`, `/callback`, `/logout` (POST),
//! `/backchannel-logout` (POST, called by the passport).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    TokenResponse,
};
use serde::Deserialize;
use serde_json::Value;

/// Command-line and environment settings of a demo application.
#[derive(Debug, Clone, clap::Parser)]
pub struct Args {
    /// The passport's issuer URL.
    #[arg(long, env = "DEMO_ISSUER", default_value = "http://127.0.0.1:8080")]
    pub issuer: String,
    #[arg(long, env = "DEMO_CLIENT_ID")]
    pub client_id: Option<String>,
    /// The secret `tongxing client add-demo` printed.
    #[arg(long, env = "DEMO_CLIENT_SECRET")]
    pub client_secret: String,
    #[arg(long, env = "DEMO_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// The address browsers use for this application, when it differs from
    /// `http://<listen>` (its redirect URI is `<url>/callback`).
    #[arg(long, env = "DEMO_URL")]
    pub url: Option<String>,
}

/// What distinguishes one demo application from another.
#[derive(Debug, Clone)]
pub struct Config {
    /// Shown in the page title, e.g. "邮件系统 Mail".
    pub name: String,
    /// Prefix of the session cookie, so two demos on one host do not collide.
    pub cookie: String,
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// Public base URL; `http://<listen address>` when `None`.
    pub public_url: Option<String>,
}

type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Someone signed in to this application.
#[derive(Clone)]
struct SignedIn {
    claims: Value,
    id_token: String,
    sid: Option<String>,
    sub: String,
    since: Instant,
}

/// A sign-in under way: PKCE verifier and nonce, kept until the callback.
struct Pending {
    verifier: String,
    nonce: String,
    since: Instant,
}

/// Limits that keep the in-memory maps bounded.
const PENDING_FOR: Duration = Duration::from_secs(600);
const SESSION_FOR: Duration = Duration::from_secs(12 * 3600);
const MAX_ENTRIES: usize = 10_000;
/// Logout tokens must be this fresh (their `iat`), and each `jti` is
/// accepted once within this window.
const LOGOUT_TOKEN_WINDOW: Duration = Duration::from_secs(300);

struct Inner {
    config: Config,
    base: String,
    client: Client,
    http: reqwest::Client,
    end_session: Option<String>,
    issuer: String,
    jwks_uri: String,
    /// The passport's keys, fetched again (at most every 10 s) for an unknown kid.
    jwks: Mutex<Option<(Instant, jsonwebtoken::jwk::JwkSet)>>,
    /// state → sign-in under way.
    pending: Mutex<HashMap<String, Pending>>,
    /// session cookie → who is signed in.
    sessions: Mutex<HashMap<String, SignedIn>>,
    /// Logout-token `jti`s seen recently (replay protection).
    seen_jtis: Mutex<HashMap<String, Instant>>,
}

#[derive(Clone)]
struct AppState(Arc<Inner>);

pub struct Demo {
    listener: tokio::net::TcpListener,
    router: Router,
    url: String,
}

fn random() -> String {
    let mut b = [0u8; 24];
    // The OS generator does not fail on supported platforms; an all-zero
    // fallback would only make this demo's cookies guessable, so refuse.
    if getrandom::fill(&mut b).is_err() {
        std::process::abort();
    }
    hex::encode(b)
}

impl Demo {
    /// Discovers the passport and prepares the application on `listener`.
    pub async fn build(config: Config, listener: tokio::net::TcpListener) -> Result<Demo, String> {
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let base = config
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}"))
            .trim_end_matches('/')
            .to_string();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| e.to_string())?;
        let issuer = IssuerUrl::new(config.issuer.clone()).map_err(|e| format!("issuer: {e}"))?;
        let metadata = CoreProviderMetadata::discover_async(issuer, &http)
            .await
            .map_err(|e| format!("discovery failed: {e}"))?;
        // end_session_endpoint is not part of the crate's core metadata.
        let raw: Value = http
            .get(format!(
                "{}/.well-known/openid-configuration",
                config.issuer.trim_end_matches('/')
            ))
            .send()
            .await
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        let issuer_url = metadata.issuer().to_string();
        let jwks_uri = metadata.jwks_uri().to_string();
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(config.client_id.clone()),
            Some(ClientSecret::new(config.client_secret.clone())),
        )
        .set_redirect_uri(RedirectUrl::new(format!("{base}/callback")).map_err(|e| e.to_string())?);
        let state = AppState(Arc::new(Inner {
            end_session: raw["end_session_endpoint"].as_str().map(str::to_string),
            issuer: issuer_url.trim_end_matches('/').to_string(),
            jwks_uri,
            jwks: Mutex::default(),
            config,
            base: base.clone(),
            client,
            http,
            pending: Mutex::default(),
            sessions: Mutex::default(),
            seen_jtis: Mutex::default(),
        }));
        let router = Router::new()
            .route("/", get(home))
            .route("/login", get(login))
            .route("/callback", get(callback))
            .route("/logout", post(logout))
            .route("/backchannel-logout", post(backchannel_logout))
            .with_state(state);
        Ok(Demo {
            listener,
            router,
            url: base,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub async fn run(self) -> std::io::Result<()> {
        axum::serve(self.listener, self.router).await
    }
}

/// Runs a demo from its command line: the binaries' whole `main`.
pub async fn main(name: &str, default_client: &str, default_port: u16) -> std::process::ExitCode {
    use clap::Parser;
    let args = Args::parse();
    let listen = args
        .listen
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], default_port)));
    let config = Config {
        name: name.into(),
        cookie: default_client.replace('-', "_"),
        issuer: args.issuer,
        client_id: args.client_id.unwrap_or_else(|| default_client.into()),
        client_secret: args.client_secret,
        public_url: args.url,
    };
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on {listen}: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match Demo::build(config, listener).await {
        Ok(demo) => {
            println!("{name} is running at {}", demo.url());
            match demo.run().await {
                Ok(()) => std::process::ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e}");
                    std::process::ExitCode::FAILURE
                }
            }
        }
        Err(e) => {
            eprintln!(
                "error: {e} (is the passport running, and did you run `tongxing client add-demo`?)"
            );
            std::process::ExitCode::FAILURE
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn cookie_name(state: &AppState) -> String {
    format!("{}_session", state.0.config.cookie)
}

/// Every cookie this application sets, with its attributes decided here
/// once: HttpOnly (no script reads it), SameSite=Lax (sent on the
/// passport's top-level redirect back, not on cross-site posts), Secure when
/// the application is served over https, and the narrowest path that needs
/// it. The values are random lookup keys (a session id, the `state` of a
/// sign-in under way) that mean nothing without the server's own record, so
/// they need no signature.
fn cookie(base: &str, name: String, value: String, path: &'static str) -> Cookie<'static> {
    Cookie::build((name, value))
        .path(path)
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(base.starts_with("https://"))
        .build()
}

fn session_cookie(state: &AppState, id: String) -> Cookie<'static> {
    cookie(&state.0.base, cookie_name(state), id, "/")
}

fn session_of(state: &AppState, jar: &CookieJar) -> Option<(String, SignedIn)> {
    let id = jar.get(&cookie_name(state))?.value().to_string();
    let signed = lock(&state.0.sessions)
        .get(&id)
        .filter(|s| s.since.elapsed() < SESSION_FOR)
        .cloned()?;
    Some((id, signed))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn page(state: &AppState, body: &str) -> Html<String> {
    let name = escape(&state.0.config.name);
    Html(format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>{name}</title></head>\
         <body style=\"font-family: system-ui, sans-serif; max-width: 44rem; margin: 2rem auto;\"><h1>{name}</h1>{body}</body></html>"
    ))
}

async fn home(State(state): State<AppState>, jar: CookieJar) -> Html<String> {
    match session_of(&state, &jar) {
        Some((_, signed)) => {
            let rows: String = signed
                .claims
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| {
                            format!(
                                "<tr><th style=\"text-align:left\">{}</th><td>{}</td></tr>",
                                escape(k),
                                escape(&v.to_string())
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            page(
                &state,
                &format!(
                    "<p id=\"signed-in\">已登录 / Signed in as <strong>{}</strong></p>\
                     <table id=\"claims\">{rows}</table>\
                     <form method=\"post\" action=\"/logout\"><button type=\"submit\">退出 / Sign out</button></form>",
                    escape(
                        signed.claims["preferred_username"]
                            .as_str()
                            .unwrap_or(&signed.sub)
                    )
                ),
            )
        }
        None => page(
            &state,
            "<p id=\"signed-out\">未登录 / Not signed in.</p><p><a id=\"sign-in\" href=\"/login\">使用通行证登录 / Sign in with the passport</a></p>",
        ),
    }
}

/// Drops expired entries and, past the cap, the oldest ones.
fn prune<T>(map: &mut HashMap<String, T>, age: impl Fn(&T) -> Duration, limit: Duration) {
    map.retain(|_, v| age(v) < limit);
    while map.len() >= MAX_ENTRIES {
        let Some(oldest) = map
            .iter()
            .max_by_key(|(_, v)| age(v))
            .map(|(k, _)| k.clone())
        else {
            break;
        };
        map.remove(&oldest);
    }
}

fn state_cookie(state: &AppState) -> String {
    format!("{}_state", state.0.config.cookie)
}

/// Starts a sign-in. The `state` also goes into a short-lived cookie, so
/// the callback only completes in the browser that started it (no login
/// CSRF).
async fn login(State(state): State<AppState>, jar: CookieJar) -> Response {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = state
        .0
        .client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("phone".into()))
        .set_pkce_challenge(challenge)
        .url();
    {
        let mut pending = lock(&state.0.pending);
        prune(&mut pending, |p| p.since.elapsed(), PENDING_FOR);
        pending.insert(
            csrf.secret().clone(),
            Pending {
                verifier: verifier.secret().clone(),
                nonce: nonce.secret().clone(),
                since: Instant::now(),
            },
        );
    }
    let mut sent = cookie(
        &state.0.base,
        state_cookie(&state),
        csrf.secret().clone(),
        "/callback",
    );
    sent.set_max_age(PENDING_FOR.try_into().ok());
    (jar.add(sent), Redirect::to(url.as_str())).into_response()
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    /// RFC 9207: the passport names itself; checked against discovery.
    iss: Option<String>,
}

/// What an error from the passport means, in words a user understands.
pub fn explain(error: &str) -> &'static str {
    match error {
        "access_denied" => {
            "通行证拒绝了这次登录：您可能拒绝了授权，或者账号已被停用。请联系管理员。 / The passport refused the sign-in: you may have declined, or the account is disabled. Please contact an administrator."
        }
        "login_required" | "interaction_required" => {
            "需要先在通行证登录。 / You need to sign in to the passport first."
        }
        "consent_required" => "需要您在通行证同意授权。 / The passport needs your consent first.",
        "temporarily_unavailable" | "server_error" => {
            "通行证暂时不可用，请稍后再试。 / The passport is temporarily unavailable; please try again later."
        }
        _ => {
            "登录请求未被接受，请联系应用管理员。 / The sign-in request was not accepted; please contact the application's administrator."
        }
    }
}

fn failure(state: &AppState, status: StatusCode, code: &str) -> Response {
    let body = format!(
        "<p id=\"error\" data-code=\"{}\">{}</p><p><a href=\"/\">返回 / Back</a></p>",
        escape(code),
        escape(explain(code))
    );
    (status, page(state, &body)).into_response()
}

async fn callback(
    State(state): State<AppState>,
    jar: CookieJar,
    Query(q): Query<CallbackQuery>,
) -> Response {
    // The state must be one we issued, to this browser (its cookie), and the
    // response must come from our passport (RFC 9207 mix-up defence).
    let cookie_state = jar
        .get(&state_cookie(&state))
        .map(|c| c.value().to_string());
    let ours = q.state.is_some() && q.state == cookie_state;
    let pending = if ours {
        q.state
            .as_deref()
            .and_then(|s| lock(&state.0.pending).remove(s))
    } else {
        None
    };
    let Some(pending) = pending.filter(|p| p.since.elapsed() < PENDING_FOR) else {
        return failure(&state, StatusCode::BAD_REQUEST, "invalid_request");
    };
    if q.iss.as_deref().map(|i| i.trim_end_matches('/')) != Some(state.0.issuer.as_str()) {
        return failure(&state, StatusCode::BAD_REQUEST, "invalid_request");
    }
    if let Some(error) = q.error {
        return failure(&state, StatusCode::OK, &error);
    }
    let (Some(code), verifier, nonce) = (q.code, pending.verifier, pending.nonce) else {
        return failure(&state, StatusCode::BAD_REQUEST, "invalid_request");
    };
    let exchange = match state.0.client.exchange_code(AuthorizationCode::new(code)) {
        Ok(e) => e,
        Err(_) => return failure(&state, StatusCode::BAD_GATEWAY, "server_error"),
    };
    let tokens = match exchange
        .set_pkce_verifier(PkceCodeVerifier::new(verifier))
        .request_async(&state.0.http)
        .await
    {
        Ok(t) => t,
        Err(_) => return failure(&state, StatusCode::BAD_GATEWAY, "invalid_grant"),
    };
    let Some(id_token) = tokens.id_token() else {
        return failure(&state, StatusCode::BAD_GATEWAY, "server_error");
    };
    let verifier = state.0.client.id_token_verifier();
    let claims = match id_token.claims(&verifier, &Nonce::new(nonce)) {
        Ok(c) => c,
        Err(_) => return failure(&state, StatusCode::BAD_GATEWAY, "invalid_token"),
    };
    let sub = claims.subject().to_string();
    // Show every claim received (the signature was checked above).
    let raw = id_token.to_string();
    let payload = raw
        .split('.')
        .nth(1)
        .and_then(|p| {
            use base64::Engine;
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .ok()
        })
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .unwrap_or(Value::Null);
    let sid = payload["sid"].as_str().map(str::to_string);
    let id = random();
    {
        let mut sessions = lock(&state.0.sessions);
        prune(&mut sessions, |s| s.since.elapsed(), SESSION_FOR);
        sessions.insert(
            id.clone(),
            SignedIn {
                claims: payload,
                id_token: raw,
                sid,
                sub,
                since: Instant::now(),
            },
        );
    }
    let signed_in = session_cookie(&state, id);
    (jar.add(signed_in), Redirect::to("/")).into_response()
}

/// Ends the local session and sends the browser to the passport to end
/// its session too (RP-Initiated Logout 1.0).
async fn logout(State(state): State<AppState>, jar: CookieJar) -> Response {
    let Some((id, signed)) = session_of(&state, &jar) else {
        return Redirect::to("/").into_response();
    };
    lock(&state.0.sessions).remove(&id);
    // The removal carries the attributes the cookie was set with (same path).
    let jar = jar.remove(session_cookie(&state, String::new()));
    let target = match &state.0.end_session {
        Some(end) => match url::Url::parse(end) {
            Ok(mut u) => {
                u.query_pairs_mut()
                    .append_pair("id_token_hint", &signed.id_token)
                    .append_pair("post_logout_redirect_uri", &format!("{}/", state.0.base));
                u.to_string()
            }
            Err(_) => "/".into(),
        },
        None => "/".into(),
    };
    (jar, Redirect::to(&target)).into_response()
}

#[derive(Deserialize)]
struct LogoutTokenForm {
    logout_token: String,
}

/// OIDC Back-Channel Logout 1.0 §2.6: validate the logout token, then end
/// every local session it names (by `sid`, else by `sub`).
async fn backchannel_logout(
    State(state): State<AppState>,
    form: Result<Form<LogoutTokenForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    // §2.8: a request that cannot be processed gets 400.
    let token = match form {
        Ok(Form(f)) => f.logout_token,
        Err(_) => {
            return (
                StatusCode::BAD_REQUEST,
                axum::Json(serde_json::json!({ "error": "invalid_request" })),
            )
                .into_response();
        }
    };
    match validate_logout_token(&state, &token).await {
        Ok(claims) => {
            let sid = claims["sid"].as_str();
            let sub = claims["sub"].as_str();
            lock(&state.0.sessions).retain(|_, s| match sid {
                Some(sid) => s.sid.as_deref() != Some(sid),
                None => Some(s.sub.as_str()) != sub,
            });
            (StatusCode::OK, [(header::CACHE_CONTROL, "no-store")]).into_response()
        }
        Err(why) => (
            StatusCode::BAD_REQUEST,
            axum::Json(serde_json::json!({ "error": "invalid_request", "error_description": why })),
        )
            .into_response(),
    }
}

/// The passport's key with this id: from the cached set, or fetched again
/// (at most every 10 s) when the kid is unknown.
async fn passport_key(state: &AppState, kid: &str) -> Result<jsonwebtoken::jwk::Jwk, String> {
    use jsonwebtoken::jwk::JwkSet;
    let cached = lock(&state.0.jwks).clone();
    if let Some((_, set)) = &cached
        && let Some(k) = set.find(kid)
    {
        return Ok(k.clone());
    }
    if cached
        .as_ref()
        .is_some_and(|(at, _)| at.elapsed() < Duration::from_secs(10))
    {
        return Err("unknown key".into());
    }
    let set: JwkSet = state
        .0
        .http
        .get(&state.0.jwks_uri)
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let found = set.find(kid).cloned();
    *lock(&state.0.jwks) = Some((Instant::now(), set));
    found.ok_or_else(|| "unknown key".into())
}

/// Back-Channel Logout 1.0 §2.6: signature by the passport's RS256 key
/// (the algorithm this client registered), `typ` logout+jwt, iss, aud,
/// fresh iat and exp, the logout event, no nonce, a jti seen only once,
/// and a sid or sub.
async fn validate_logout_token(state: &AppState, token: &str) -> Result<Value, String> {
    use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
    let header = decode_header(token).map_err(|e| e.to_string())?;
    if header.alg != Algorithm::RS256 {
        return Err("unexpected algorithm".into());
    }
    if header.typ.as_deref() != Some("logout+jwt") {
        return Err("not a logout token (typ)".into());
    }
    let kid = header.kid.ok_or("no kid")?;
    let key =
        DecodingKey::from_jwk(&passport_key(state, &kid).await?).map_err(|e| e.to_string())?;
    let mut v = Validation::new(Algorithm::RS256);
    v.set_audience(&[state.0.config.client_id.as_str()]);
    v.set_issuer(&[state.0.issuer.as_str()]);
    v.set_required_spec_claims(&["iss", "aud", "exp"]);
    v.leeway = 30;
    let claims = decode::<Value>(token, &key, &v)
        .map_err(|e| e.to_string())?
        .claims;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let iat = claims["iat"].as_i64().ok_or("no iat")?;
    if (now - iat).unsigned_abs() > LOGOUT_TOKEN_WINDOW.as_secs() {
        return Err("iat is not recent".into());
    }
    if !claims["events"]["http://schemas.openid.net/event/backchannel-logout"].is_object() {
        return Err("not a logout token".into());
    }
    if claims.get("nonce").is_some() {
        return Err("a logout token must not have a nonce".into());
    }
    if claims["sid"].as_str().is_none() && claims["sub"].as_str().is_none() {
        return Err("neither sid nor sub".into());
    }
    let jti = claims["jti"].as_str().ok_or("no jti")?.to_string();
    let mut seen = lock(&state.0.seen_jtis);
    prune(&mut seen, |t| t.elapsed(), LOGOUT_TOKEN_WINDOW * 2);
    if seen.insert(jti, Instant::now()).is_some() {
        return Err("replayed logout token".into());
    }
    Ok(claims)
}
