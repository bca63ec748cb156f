//! The load: a fixed number of concurrent workers, each repeating one
//! request of a path as fast as the server answers, for a fixed time.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use sha2::Digest;

/// A path the bench drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    Hello,
    Discovery,
    Jwks,
    ClientCredentials,
    Refresh,
    Introspection,
    Userinfo,
    Login,
}

impl Path {
    pub fn name(self) -> &'static str {
        match self {
            Self::Hello => "trivial handler",
            Self::Discovery => "discovery",
            Self::Jwks => "jwks",
            Self::ClientCredentials => "client_credentials",
            Self::Refresh => "refresh",
            Self::Introspection => "introspection",
            Self::Userinfo => "userinfo",
            Self::Login => "login",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        [
            Self::Discovery,
            Self::Jwks,
            Self::ClientCredentials,
            Self::Refresh,
            Self::Introspection,
            Self::Userinfo,
            Self::Login,
        ]
        .into_iter()
        .find(|p| p.name() == name)
    }
}

/// What the workers need to know about the deployment.
#[derive(Clone)]
pub struct Deployment {
    pub base: String,
    pub rp_id: String,
    pub rp_secret: String,
    pub cc_id: String,
    pub cc_secret: String,
    pub redirect_uri: String,
    pub password: String,
}

/// One worker's own state: the account it signs in as, its tokens.
pub struct Worker {
    client: reqwest::Client,
    d: Deployment,
    path: Path,
    username: String,
    access_token: String,
    refresh_token: String,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    refresh_token: Option<String>,
}

fn client() -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(256)
        .build()?)
}

/// The `name="…" value="…"` pairs of a page's hidden inputs, each name once.
fn hidden_fields(body: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for chunk in body.split("<input type=\"hidden\" name=\"").skip(1) {
        let Some((name, rest)) = chunk.split_once('"') else {
            continue;
        };
        let Some(value) = rest
            .strip_prefix(" value=\"")
            .and_then(|r| r.split_once('"'))
            .map(|(v, _)| v)
        else {
            continue;
        };
        let value = value
            .replace("&#34;", "\"")
            .replace("&#39;", "'")
            .replace("&#60;", "<")
            .replace("&#62;", ">")
            .replace("&#38;", "&")
            .replace("&amp;", "&");
        // The first form's fields: a page may repeat them in a second form.
        if !out.iter().any(|(seen, _)| seen == name) {
            out.push((name.to_string(), value));
        }
    }
    out
}

/// The `name=value` of each `Set-Cookie`, joined as a `Cookie` header.
fn cookies(answer: &reqwest::Response) -> String {
    answer
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .collect::<Vec<_>>()
        .join("; ")
}

fn location(answer: &reqwest::Response) -> Option<String> {
    answer
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

impl Worker {
    /// A worker for `path`, signed in as `username` through the
    /// authorization code flow when the path needs tokens.
    pub async fn new(d: &Deployment, path: Path, username: &str) -> Result<Self> {
        let mut w = Self {
            client: client()?,
            d: d.clone(),
            path,
            username: username.to_string(),
            access_token: String::new(),
            refresh_token: String::new(),
        };
        if matches!(path, Path::Refresh | Path::Introspection | Path::Userinfo) {
            w.sign_in_code_flow().await?;
        }
        Ok(w)
    }

    /// The authorization code flow with PKCE as a browser and an
    /// application would do it, by hand (cookies carried explicitly).
    async fn sign_in_code_flow(&mut self) -> Result<()> {
        let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
        let browser = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_provider(jar)
            .build()?;
        let mut raw = [0u8; 32];
        getrandom::fill(&mut raw)?;
        let verifier = URL_SAFE_NO_PAD.encode(raw);
        let challenge = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
        let mut url = url::Url::parse(&format!("{}/authorize", self.d.base))?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.d.rp_id)
            .append_pair("redirect_uri", &self.d.redirect_uri)
            .append_pair("scope", "openid profile offline_access")
            .append_pair("state", "bench")
            .append_pair("nonce", "bench")
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        let mut next = url.to_string();
        let mut code = None;
        for _ in 0..8 {
            let answer = browser.get(&next).send().await?;
            if let Some(to) = location(&answer) {
                if to.starts_with(&self.d.redirect_uri) {
                    let to = url::Url::parse(&to)?;
                    code = to
                        .query_pairs()
                        .find(|(k, _)| k == "code")
                        .map(|(_, v)| v.into_owned());
                    break;
                }
                next = if to.starts_with('/') {
                    format!("{}{to}", self.d.base)
                } else {
                    to
                };
                continue;
            }
            let body = answer.text().await?;
            if !body.contains("action=\"/login\"") {
                bail!("the code flow stopped at a page that is not the sign-in form");
            }
            let mut form = hidden_fields(&body);
            form.push(("identifier".into(), self.username.clone()));
            form.push(("password".into(), self.d.password.clone()));
            let answer = browser
                .post(format!("{}/login", self.d.base))
                .form(&form)
                .send()
                .await?;
            next = match location(&answer) {
                Some(to) if to.starts_with('/') => format!("{}{to}", self.d.base),
                Some(to) => to,
                None => bail!("sign-in refused: {}", answer.status()),
            };
        }
        let code = code.context("no authorization code came back")?;
        let answer = self
            .client
            .post(format!("{}/token", self.d.base))
            .basic_auth(&self.d.rp_id, Some(&self.d.rp_secret))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", self.d.redirect_uri.as_str()),
                ("code_verifier", verifier.as_str()),
            ])
            .send()
            .await?;
        if !answer.status().is_success() {
            bail!(
                "code exchange: {} {}",
                answer.status(),
                answer.text().await?
            );
        }
        let tokens: TokenAnswer = answer.json().await?;
        self.access_token = tokens.access_token;
        self.refresh_token = tokens.refresh_token.context("no refresh token")?;
        Ok(())
    }

    /// One operation of the path; whether the server answered as expected.
    pub async fn once(&mut self) -> bool {
        self.try_once().await.unwrap_or(false)
    }

    async fn try_once(&mut self) -> Result<bool> {
        let base = &self.d.base;
        Ok(match self.path {
            Path::Hello => self.get_ok(&format!("{base}/")).await?,
            Path::Discovery => {
                self.get_ok(&format!("{base}/.well-known/openid-configuration"))
                    .await?
            }
            Path::Jwks => self.get_ok(&format!("{base}/jwks")).await?,
            Path::ClientCredentials => {
                let answer = self
                    .client
                    .post(format!("{base}/token"))
                    .basic_auth(&self.d.cc_id, Some(&self.d.cc_secret))
                    .form(&[("grant_type", "client_credentials")])
                    .send()
                    .await?;
                let ok = answer.status().is_success();
                answer.bytes().await?;
                ok
            }
            Path::Refresh => {
                let answer = self
                    .client
                    .post(format!("{base}/token"))
                    .basic_auth(&self.d.rp_id, Some(&self.d.rp_secret))
                    .form(&[
                        ("grant_type", "refresh_token"),
                        ("refresh_token", self.refresh_token.as_str()),
                    ])
                    .send()
                    .await?;
                if !answer.status().is_success() {
                    answer.bytes().await?;
                    return Ok(false);
                }
                let tokens: TokenAnswer = answer.json().await?;
                // Rotation: the next refresh uses the new token.
                match tokens.refresh_token {
                    Some(t) => {
                        self.refresh_token = t;
                        true
                    }
                    None => false,
                }
            }
            Path::Introspection => {
                let answer = self
                    .client
                    .post(format!("{base}/introspect"))
                    .basic_auth(&self.d.rp_id, Some(&self.d.rp_secret))
                    .form(&[("token", self.access_token.as_str())])
                    .send()
                    .await?;
                let ok = answer.status().is_success();
                let body = answer.bytes().await?;
                ok && body.windows(13).any(|w| w == b"\"active\":true")
            }
            Path::Userinfo => {
                let answer = self
                    .client
                    .get(format!("{base}/userinfo"))
                    .bearer_auth(&self.access_token)
                    .send()
                    .await?;
                let ok = answer.status().is_success();
                answer.bytes().await?;
                ok
            }
            Path::Login => {
                // A new visitor each time: the form, then the password.
                let form = self.client.get(format!("{base}/login")).send().await?;
                let cookie = cookies(&form);
                let mut fields = hidden_fields(&form.text().await?);
                fields.push(("identifier".into(), self.username.clone()));
                fields.push(("password".into(), self.d.password.clone()));
                let mut post = self.client.post(format!("{base}/login")).form(&fields);
                if !cookie.is_empty() {
                    post = post.header(reqwest::header::COOKIE, cookie);
                }
                let answer = post.send().await?;
                let ok = answer.status() == reqwest::StatusCode::SEE_OTHER
                    && location(&answer).as_deref() == Some("/account");
                answer.bytes().await?;
                ok
            }
        })
    }

    async fn get_ok(&self, url: &str) -> Result<bool> {
        let answer = self.client.get(url).send().await?;
        let ok = answer.status().is_success();
        answer.bytes().await?;
        Ok(ok)
    }
}

/// What one path did in its measured window.
#[derive(Debug, Clone, Default)]
pub struct Measured {
    pub ok: u64,
    pub errors: u64,
    pub seconds: f64,
    pub cpu_seconds: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

impl Measured {
    pub fn per_second(&self) -> f64 {
        self.ok as f64 / self.seconds.max(1e-9)
    }

    pub fn per_cpu_second(&self) -> f64 {
        self.ok as f64 / self.cpu_seconds.max(1e-9)
    }
}

/// Runs the workers for `warmup` (not counted) and then `window`, and
/// reads the server's CPU time around the window.
pub async fn drive(
    workers: Vec<Worker>,
    warmup: Duration,
    window: Duration,
    cpu: impl Fn() -> Result<f64>,
) -> Result<Measured> {
    let start = Instant::now();
    let measure_from = start + warmup;
    let until = measure_from + window;
    let mut tasks = tokio::task::JoinSet::new();
    for mut w in workers {
        tasks.spawn(async move {
            let mut latencies: Vec<u32> = Vec::with_capacity(1 << 14);
            let (mut ok, mut errors) = (0u64, 0u64);
            loop {
                let began = Instant::now();
                if began >= until {
                    break;
                }
                let good = w.once().await;
                let ended = Instant::now();
                if began >= measure_from && ended <= until {
                    if good {
                        ok += 1;
                        latencies.push(ended.duration_since(began).as_micros() as u32);
                    } else {
                        errors += 1;
                    }
                }
            }
            (ok, errors, latencies)
        });
    }
    tokio::time::sleep_until(measure_from.into()).await;
    let cpu_before = cpu()?;
    tokio::time::sleep_until(until.into()).await;
    let cpu_after = cpu()?;
    let mut m = Measured {
        seconds: window.as_secs_f64(),
        cpu_seconds: cpu_after - cpu_before,
        ..Measured::default()
    };
    let mut all = Vec::new();
    while let Some(done) = tasks.join_next().await {
        let (ok, errors, latencies) = done?;
        m.ok += ok;
        m.errors += errors;
        all.extend(latencies);
    }
    all.sort_unstable();
    let pick = |q: f64| -> f64 {
        if all.is_empty() {
            return 0.0;
        }
        let i = ((all.len() as f64 - 1.0) * q).round() as usize;
        all[i.min(all.len() - 1)] as f64 / 1000.0
    };
    m.p50_ms = pick(0.50);
    m.p99_ms = pick(0.99);
    Ok(m)
}
