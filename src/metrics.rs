//! `/metrics`: the node's counters in the Prometheus text exposition
//! format (version 0.0.4).
//!
//! Counters live in one registry per process, written on the request path
//! with an atomic add (a read lock finds the series; only a series seen for
//! the first time takes the write lock). Gauges that describe the present
//! (pools, the hashing queue, open review cases, key age) are read when
//! the endpoint is scraped, never kept up to date on the request path.
//!
//! Labels are bounded: routes are the route table's patterns (an unknown
//! path is `unmatched`), events and providers are compile-time names.
//!
//! Access is by configuration ([`crate::config::MetricsConfig`]): a bearer
//! token on the main listener, or a separate listener; with neither the
//! path answers 404 like any unknown path.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::hash::Hash;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, RwLock};
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use subtle::ConstantTimeEq;

use crate::outage::Dependency;
use crate::state::AppState;

/// Upper bounds (seconds) of the latency histogram's buckets.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Series of one counter family, by label values.
struct Family<K>(RwLock<HashMap<K, AtomicU64>>);

impl<K: Eq + Hash + Clone + Ord> Family<K> {
    fn new() -> Self {
        Self(RwLock::new(HashMap::new()))
    }

    fn add(&self, key: &K, n: u64) {
        {
            let series = self.0.read().unwrap_or_else(|p| p.into_inner());
            if let Some(c) = series.get(key) {
                c.fetch_add(n, Ordering::Relaxed);
                return;
            }
        }
        let mut series = self.0.write().unwrap_or_else(|p| p.into_inner());
        series
            .entry(key.clone())
            .or_insert_with(|| AtomicU64::new(0))
            .fetch_add(n, Ordering::Relaxed);
    }

    /// Every series, sorted by labels (a stable page).
    fn snapshot(&self) -> Vec<(K, u64)> {
        let series = self.0.read().unwrap_or_else(|p| p.into_inner());
        let mut all: Vec<(K, u64)> = series
            .iter()
            .map(|(k, v)| (k.clone(), v.load(Ordering::Relaxed)))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }
}

/// One latency histogram: counts per bucket (not cumulative; summed when
/// rendered), the sum in microseconds, the count.
struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    sum_micros: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    fn new() -> Self {
        Self {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_micros: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    fn observe(&self, seconds: f64) {
        if let Some(i) = BUCKETS.iter().position(|b| seconds <= *b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        // Saturating float-to-int conversion: a negative or absurd value
        // cannot wrap.
        let micros = (seconds * 1e6) as u64;
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }
}

/// Everything counted for one route pattern: its latency, and a request
/// counter per method and status (a handful each, so a short list).
struct RouteSeries {
    latency: Histogram,
    answers: RwLock<Vec<(&'static str, u16, AtomicU64)>>,
}

impl RouteSeries {
    fn new() -> Self {
        Self {
            latency: Histogram::new(),
            answers: RwLock::new(Vec::new()),
        }
    }

    fn count(&self, method: &'static str, status: u16) {
        {
            let answers = self.answers.read().unwrap_or_else(|p| p.into_inner());
            if let Some((_, _, n)) = answers
                .iter()
                .find(|(m, s, _)| *m == method && *s == status)
            {
                n.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
        let mut answers = self.answers.write().unwrap_or_else(|p| p.into_inner());
        match answers
            .iter()
            .find(|(m, s, _)| *m == method && *s == status)
        {
            Some((_, _, n)) => {
                n.fetch_add(1, Ordering::Relaxed);
            }
            None => answers.push((method, status, AtomicU64::new(1))),
        }
    }
}

type EventKey = (&'static str, &'static str);
type DeliveryKey = (&'static str, &'static str, &'static str);

struct Registry {
    started: Instant,
    /// By route pattern; looked up by `&str`, so a known route costs no
    /// allocation.
    routes: RwLock<HashMap<String, RouteSeries>>,
    events: Family<EventKey>,
    deliveries: Family<DeliveryKey>,
    tokens: Family<&'static str>,
}

static REGISTRY: LazyLock<Registry> = LazyLock::new(|| Registry {
    started: Instant::now(),
    routes: RwLock::new(HashMap::new()),
    events: Family::new(),
    deliveries: Family::new(),
    tokens: Family::new(),
});

/// An audit event was recorded (logins by outcome, step-ups, lockouts …
/// are all audit events; see [`crate::service::audit`]).
pub fn event(event: &'static str, outcome: &'static str) {
    REGISTRY.events.add(&(event, outcome), 1);
}

/// An SMS or a mail was handed to its provider (`sent`) or refused by it
/// (`failed`).
pub fn delivery(channel: &'static str, provider: &'static str, sent: bool) {
    let result = if sent { "sent" } else { "failed" };
    REGISTRY.deliveries.add(&(channel, provider, result), 1);
}

/// The token endpoint answered a grant with tokens.
pub fn token_issued(grant: &'static str) {
    REGISTRY.tokens.add(&grant, 1);
}

fn request_done(route: &str, method: &'static str, status: u16, seconds: f64) {
    {
        let routes = REGISTRY.routes.read().unwrap_or_else(|p| p.into_inner());
        if let Some(series) = routes.get(route) {
            series.count(method, status);
            series.latency.observe(seconds);
            return;
        }
    }
    let mut routes = REGISTRY.routes.write().unwrap_or_else(|p| p.into_inner());
    let series = routes
        .entry(route.to_owned())
        .or_insert_with(RouteSeries::new);
    series.count(method, status);
    series.latency.observe(seconds);
}

/// The method as a bounded label: the standard ones, else `other`.
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        _ => "other",
    }
}

/// Middleware counting every request by route pattern, method and status,
/// with its latency. Runs inside the router, where the matched route is
/// known.
pub async fn track(request: Request, next: Next) -> Response {
    // MatchedPath holds an Arc: cloning it allocates nothing.
    let route = request.extensions().get::<MatchedPath>().cloned();
    let method = method_label(request.method());
    let start = Instant::now();
    let response = next.run(request).await;
    request_done(
        route.as_ref().map_or("unmatched", |r| r.as_str()),
        method,
        response.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    response
}

/// Escapes a label value (text format: backslash, double quote, newline).
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn head(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// The page: the process-wide counters, then this node's present state.
pub async fn render(state: &AppState) -> String {
    let mut out = String::with_capacity(8 * 1024);
    counters(&mut out);
    present(state, &mut out).await;
    out
}

/// The process-wide counters (no await here: the locks are plain ones).
fn counters(out: &mut String) {
    let r = &*REGISTRY;

    head(
        out,
        "tongxing_http_requests_total",
        "counter",
        "HTTP requests answered, by route pattern, method and status.",
    );
    let routes = r.routes.read().unwrap_or_else(|p| p.into_inner());
    let mut names: Vec<&String> = routes.keys().collect();
    names.sort();
    for name in &names {
        let Some(series) = routes.get(*name) else {
            continue;
        };
        let mut answers: Vec<(&'static str, u16, u64)> = series
            .answers
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(m, s, n)| (*m, *s, n.load(Ordering::Relaxed)))
            .collect();
        answers.sort();
        let route = label(name);
        for (method, status, n) in answers {
            let _ = writeln!(
                out,
                "tongxing_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {n}"
            );
        }
    }

    head(
        out,
        "tongxing_http_request_duration_seconds",
        "histogram",
        "Time to answer an HTTP request, by route pattern.",
    );
    {
        for name in &names {
            let Some(series) = routes.get(*name) else {
                continue;
            };
            let h = &series.latency;
            let route = label(name);
            let mut cumulative = 0;
            for (bound, count) in BUCKETS.iter().zip(&h.buckets) {
                cumulative += count.load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "tongxing_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {cumulative}"
                );
            }
            let count = h.count.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "tongxing_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {count}"
            );
            let sum = h.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
            let _ = writeln!(
                out,
                "tongxing_http_request_duration_seconds_sum{{route=\"{route}\"}} {sum}"
            );
            let _ = writeln!(
                out,
                "tongxing_http_request_duration_seconds_count{{route=\"{route}\"}} {count}"
            );
        }
    }

    head(
        out,
        "tongxing_audit_events_total",
        "counter",
        "Security events recorded in the audit log, by event and outcome (login.success, login.failure, login.step_up, login.lockout …).",
    );
    for ((event, outcome), n) in r.events.snapshot() {
        let _ = writeln!(
            out,
            "tongxing_audit_events_total{{event=\"{event}\",outcome=\"{outcome}\"}} {n}"
        );
    }

    head(
        out,
        "tongxing_messages_total",
        "counter",
        "SMS and mail handed to their provider, by channel, provider and result.",
    );
    for ((channel, provider, result), n) in r.deliveries.snapshot() {
        let _ = writeln!(
            out,
            "tongxing_messages_total{{channel=\"{channel}\",provider=\"{provider}\",result=\"{result}\"}} {n}"
        );
    }

    head(
        out,
        "tongxing_tokens_issued_total",
        "counter",
        "Successful token responses, by grant type.",
    );
    for (grant, n) in r.tokens.snapshot() {
        let _ = writeln!(out, "tongxing_tokens_issued_total{{grant=\"{grant}\"}} {n}");
    }
}

/// This node now: pools, queues, cases, keys, the process.
async fn present(state: &AppState, out: &mut String) {
    let r = &*REGISTRY;
    let load = state.hasher.load();
    head(
        out,
        "tongxing_password_hashing",
        "gauge",
        "Password hashing now: hashes running, waiting for a slot, and the slots.",
    );
    let _ = writeln!(
        out,
        "tongxing_password_hashing{{state=\"running\"}} {}",
        load.running
    );
    let _ = writeln!(
        out,
        "tongxing_password_hashing{{state=\"queued\"}} {}",
        load.queued
    );
    let _ = writeln!(
        out,
        "tongxing_password_hashing{{state=\"slots\"}} {}",
        load.slots
    );

    let audit = state.audit.state();
    head(
        out,
        "tongxing_audit_queue",
        "gauge",
        "Audit entries waiting for this node's writer, and how many may wait.",
    );
    let _ = writeln!(
        out,
        "tongxing_audit_queue{{state=\"queued\"}} {}",
        audit.queued
    );
    let _ = writeln!(
        out,
        "tongxing_audit_queue{{state=\"capacity\"}} {}",
        audit.capacity
    );
    head(
        out,
        "tongxing_audit_writes_total",
        "counter",
        "Audit entries written by this node's writer in batches, and by their requests (queue full or closed).",
    );
    let _ = writeln!(
        out,
        "tongxing_audit_writes_total{{path=\"batched\"}} {}",
        audit.batched_entries
    );
    let _ = writeln!(
        out,
        "tongxing_audit_writes_total{{path=\"direct\"}} {}",
        audit.direct
    );
    head(
        out,
        "tongxing_audit_batches_total",
        "counter",
        "Batches of audit entries written, and batches that failed (each is kept and tried again).",
    );
    let _ = writeln!(
        out,
        "tongxing_audit_batches_total{{result=\"written\"}} {}",
        audit.batches
    );
    let _ = writeln!(
        out,
        "tongxing_audit_batches_total{{result=\"failed\"}} {}",
        audit.failures
    );

    let (size, idle) = state.store.pool_state();
    head(
        out,
        "tongxing_database_connections",
        "gauge",
        "Database pool connections open, and how many are idle.",
    );
    let backend = state.store.kind();
    let _ = writeln!(
        out,
        "tongxing_database_connections{{backend=\"{backend}\",state=\"open\"}} {size}"
    );
    let _ = writeln!(
        out,
        "tongxing_database_connections{{backend=\"{backend}\",state=\"idle\"}} {idle}"
    );

    if let Some((clients, connected)) = state.ephemeral.redis_pool_state() {
        head(
            out,
            "tongxing_redis_connections",
            "gauge",
            "Redis pool clients, and how many are connected.",
        );
        let _ = writeln!(
            out,
            "tongxing_redis_connections{{state=\"clients\"}} {clients}"
        );
        let _ = writeln!(
            out,
            "tongxing_redis_connections{{state=\"connected\"}} {connected}"
        );
    }

    head(
        out,
        "tongxing_dependency_up",
        "gauge",
        "Whether this node last found a dependency answering (1) or down (0).",
    );
    let mut dependencies = vec![Dependency::Database];
    if state.ephemeral.redis_pool().is_some() {
        dependencies.push(Dependency::Redis);
    }
    for d in dependencies {
        let up = u8::from(!state.health.is_down(d));
        let _ = writeln!(
            out,
            "tongxing_dependency_up{{dependency=\"{}\"}} {up}",
            d.as_str()
        );
    }

    // A database that does not answer must not cost the whole page: the
    // counters above still help then.
    if let Ok(counts) = state.store.open_case_counts().await {
        head(
            out,
            "tongxing_review_cases_open",
            "gauge",
            "Review cases not yet final, by kind and state.",
        );
        for (kind, case_state, n) in counts {
            let _ = writeln!(
                out,
                "tongxing_review_cases_open{{kind=\"{}\",state=\"{}\"}} {n}",
                label(&kind),
                label(&case_state)
            );
        }
    }

    head(
        out,
        "tongxing_signing_key_age_seconds",
        "gauge",
        "Age of the signing key in use, by algorithm.",
    );
    for (alg, age) in state.keys.signing_ages() {
        let _ = writeln!(
            out,
            "tongxing_signing_key_age_seconds{{alg=\"{alg}\"}} {}",
            age.as_secs()
        );
    }

    head(
        out,
        "tongxing_process_resident_memory_bytes",
        "gauge",
        "Resident memory of this process (VmRSS).",
    );
    let _ = writeln!(
        out,
        "tongxing_process_resident_memory_bytes {}",
        resident_bytes().unwrap_or(0)
    );
    head(
        out,
        "tongxing_uptime_seconds",
        "gauge",
        "Seconds since this process counted its first metric.",
    );
    let _ = writeln!(
        out,
        "tongxing_uptime_seconds {}",
        r.started.elapsed().as_secs()
    );
}

/// VmRSS from /proc (Linux); None elsewhere.
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn page(body: String) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

/// `/metrics` on the main listener: only with `metrics.token`, and only to
/// a request carrying it; otherwise 404, as if there were no such path.
pub async fn guarded(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(token) = state.config.metrics.token.as_deref() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if state.config.metrics.listen.is_some() {
        return StatusCode::NOT_FOUND.into_response();
    }
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !bool::from(presented.as_bytes().ct_eq(token.as_bytes())) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer realm=\"metrics\"")],
        )
            .into_response();
    }
    page(render(&state).await)
}

/// The router of the separate metrics listener (`metrics.listen`): this
/// one path, no token (the address is meant to be private).
pub fn router(state: AppState) -> Router {
    Router::new()
        .route(
            crate::routes::METRICS,
            get(|State(state): State<AppState>| async move { page(render(&state).await) }),
        )
        .with_state(state)
}

/// Binds the separate metrics listener when one is configured.
pub async fn bind(state: &AppState) -> Result<Option<tokio::net::TcpListener>, crate::BuildError> {
    let Some(addr) = state.config.metrics.listen else {
        return Ok(None);
    };
    tokio::net::TcpListener::bind(addr)
        .await
        .map(Some)
        .map_err(|source| crate::BuildError::Bind { addr, source })
}

/// The address the metrics listener got (tests bind port 0).
pub fn local_addr(listener: &Option<tokio::net::TcpListener>) -> Option<SocketAddr> {
    listener.as_ref().and_then(|l| l.local_addr().ok())
}
