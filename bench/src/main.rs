//! `tongxing-bench`: builds and starts the real server, drives each hot
//! path at a fixed concurrency, and prints each as a ratio to the limit
//! that bounds it, measured in the same run (README: "Benchmark").
//!
//! The server runs pinned to one core and the load (and the limit
//! measurements) to another, so "per CPU-second of the server" compares
//! like with like on a noisy machine. Nothing here is a test: the numbers
//! are reported, never asserted.

mod limits;
mod load;
mod server;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use serde_json::json;

use load::{Deployment, Measured, Path as BenchPath, Worker};
use server::{Scratch, Served};

const PASSWORD: &str = "Bench-Passw0rd!x";
const REDIRECT_URI: &str = "http://127.0.0.1/bench-callback";

#[derive(Parser)]
#[command(about = "Benchmark the Tongxing server against the limits of this machine")]
struct Args {
    #[command(subcommand)]
    command: Option<Sub>,
    /// The tongxing binary to measure (default: `cargo build --release` of
    /// this workspace, then its target/release/tongxing).
    #[arg(long)]
    server: Option<PathBuf>,
    /// Concurrent requests per path.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Measured seconds per path (after one second of warm-up).
    #[arg(long, default_value_t = 8.0)]
    seconds: f64,
    /// Run on PostgreSQL: an administrative URL (the bench creates and
    /// drops its own database), e.g. postgres://postgres@127.0.0.1:5432/test.
    #[arg(long, requires = "redis")]
    postgres: Option<String>,
    /// Redis for sessions and counters (with --postgres).
    #[arg(long)]
    redis: Option<String>,
    /// After the run, add this many accounts and run the token paths again
    /// (the cost of data growth).
    #[arg(long, default_value_t = 0)]
    grow: u64,
    /// Only these paths (comma-separated: discovery, jwks,
    /// client_credentials, refresh, introspection, userinfo, login).
    #[arg(long, value_delimiter = ',')]
    paths: Vec<String>,
    /// Write the results as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// argon2id memory (KiB) and iterations of the server (as deployed).
    #[arg(long, default_value_t = 19456)]
    argon2_memory_kib: u32,
    #[arg(long, default_value_t = 2)]
    argon2_iterations: u32,
}

#[derive(Subcommand)]
enum Sub {
    /// The trivial handler: axum on tokio answering "hello" (the stack's own
    /// ceiling). Started by the bench itself.
    Hello {
        #[arg(long)]
        port: u16,
    },
}

fn main() -> Result<()> {
    let args = Args::parse();
    if let Some(Sub::Hello { port }) = args.command {
        return hello(port);
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pinned = cores >= 2;
    if pinned {
        // The load and the limit measurements on core 1; servers on core 0.
        server::pin_self(1)?;
    } else {
        eprintln!("one core only: server and load share it (ratios still compare)");
    }
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(run(args, pinned))
}

fn hello(port: u16) -> Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(async move {
            let app = axum::Router::new().route("/", axum::routing::get(|| async { "hello" }));
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
            axum::serve(listener, app).await?;
            Ok(())
        })
}

/// The workspace this bench belongs to.
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

fn build_server() -> Result<PathBuf> {
    eprintln!("building the server (cargo build --release --bin tongxing) …");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--release", "--bin", "tongxing", "-p", "tongxing"])
        .current_dir(workspace())
        .status()?;
    if !status.success() {
        bail!("cargo build failed");
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .map_or_else(|_| workspace().join("target"), PathBuf::from);
    Ok(target.join("release").join("tongxing"))
}

/// The machine, for the report.
fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    // Counted from /proc: this process is pinned to one of them.
    let cores = std::fs::read_to_string("/proc/cpuinfo")
        .map(|s| s.lines().filter(|l| l.starts_with("processor")).count())
        .unwrap_or(0);
    format!("{cpu}, {cores} cores")
}

struct Backend {
    env: Vec<(String, String)>,
    /// (administrative URL, database name) on PostgreSQL.
    postgres: Option<(String, String)>,
}

fn psql(admin: &str, sql: &str) -> Result<String> {
    let out = Command::new("psql")
        .args(["-X", "-A", "-t", "-q", admin, "-c", sql])
        .stderr(Stdio::inherit())
        .output()
        .context("psql")?;
    if !out.status.success() {
        bail!("psql failed: {sql}");
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

impl Backend {
    /// Transactions committed or rolled back in the bench's database so far.
    fn transactions(&self) -> Result<Option<f64>> {
        let Some((admin, db)) = &self.postgres else {
            return Ok(None);
        };
        let n = psql(
            admin,
            &format!(
                "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = '{db}'"
            ),
        )?;
        Ok(Some(n.parse()?))
    }
}

/// The server's CLI, on the deployment's database.
fn cli(binary: &Path, env: &[(String, String)], args: &[&str], stdin: &str) -> Result<String> {
    use std::io::Write;
    let mut child = Command::new(binary)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    if let Some(mut input) = child.stdin.take() {
        input.write_all(stdin.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "tongxing {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn secret_of(out: &str) -> Result<String> {
    out.lines()
        .find_map(|l| l.strip_prefix("client_secret:"))
        .map(|s| s.trim().to_string())
        .context("no client_secret in the CLI's answer")
}

struct Row {
    path: BenchPath,
    m: Measured,
    /// (name of the limit, its value per CPU-second).
    limit: Option<(String, f64)>,
    transactions_per_request: Option<f64>,
}

impl Row {
    fn ratio(&self) -> Option<f64> {
        self.limit
            .as_ref()
            .map(|(_, l)| self.m.per_cpu_second() / l.max(1e-9))
    }
}

async fn measure_path(
    d: &Deployment,
    served: &Served,
    backend: &Backend,
    path: BenchPath,
    concurrency: usize,
    window: Duration,
) -> Result<(Measured, Option<f64>)> {
    let mut workers = Vec::with_capacity(concurrency);
    for i in 0..concurrency {
        workers.push(Worker::new(d, path, &format!("bench{i}")).await?);
    }
    let before = backend.transactions()?;
    let m = load::drive(workers, Duration::from_secs(1), window, || {
        served.cpu_seconds()
    })
    .await?;
    // PostgreSQL publishes a backend's counts within a second.
    let per_request = if let Some(before) = before {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let after = backend.transactions()?.unwrap_or(before);
        // The counts cover the warm-up second too: divide by every
        // request made, estimated from the measured rate.
        let requests = m.per_second() * (window.as_secs_f64() + 1.0);
        Some((after - before) / requests.max(1.0))
    } else {
        None
    };
    Ok((m, per_request))
}

async fn run(args: Args, pinned: bool) -> Result<()> {
    let binary = match &args.server {
        Some(b) => b.clone(),
        None => build_server()?,
    };
    let window = Duration::from_secs_f64(args.seconds.max(1.0));
    let server_core = pinned.then_some(0);
    let paths: Vec<BenchPath> = if args.paths.is_empty() {
        vec![
            BenchPath::Discovery,
            BenchPath::Jwks,
            BenchPath::ClientCredentials,
            BenchPath::Refresh,
            BenchPath::Introspection,
            BenchPath::Userinfo,
            BenchPath::Login,
        ]
    } else {
        args.paths
            .iter()
            .map(|p| BenchPath::parse(p).with_context(|| format!("unknown path {p}")))
            .collect::<Result<_>>()?
    };

    eprintln!("measuring the limits on this core …");
    let limit_time = Duration::from_secs(2);
    let rs256 = limits::rs256_per_second(limit_time)?;
    let es256 = limits::es256_per_second(limit_time)?;
    let eddsa = limits::eddsa_per_second(limit_time)?;
    let argon2 = limits::argon2_per_second(
        limit_time,
        args.argon2_memory_kib,
        args.argon2_iterations,
        1,
    )?;

    eprintln!("the trivial handler …");
    let scratch = Scratch::new("run")?;
    let hello_port = server::free_port()?;
    let me = std::env::current_exe()?;
    let hello_port_text = hello_port.to_string();
    let hello = Served::start(
        &me,
        &["hello", "--port", &hello_port_text],
        &[],
        server_core,
        hello_port,
        "/",
        &scratch.0.join("hello.log"),
    )
    .await?;
    let hello_d = Deployment {
        base: hello.base.clone(),
        rp_id: String::new(),
        rp_secret: String::new(),
        cc_id: String::new(),
        cc_secret: String::new(),
        redirect_uri: String::new(),
        password: String::new(),
    };
    let mut hello_workers = Vec::new();
    for _ in 0..args.concurrency {
        hello_workers.push(Worker::new(&hello_d, BenchPath::Hello, "").await?);
    }
    let trivial = load::drive(hello_workers, Duration::from_secs(1), window, || {
        hello.cpu_seconds()
    })
    .await?;
    hello.stop();

    // The deployment: embedded, or PostgreSQL + Redis.
    let port = server::free_port()?;
    let mut env: Vec<(String, String)> = vec![
        ("TONGXING_LISTEN".into(), format!("127.0.0.1:{port}")),
        (
            "TONGXING_DATA_DIR".into(),
            scratch.0.join("data").display().to_string(),
        ),
        ("TONGXING_LOG_LEVEL".into(), "warn".into()),
        ("TONGXING_BOOTSTRAP_ADMIN".into(), "false".into()),
        ("TONGXING_STEP_UP__ENABLED".into(), "false".into()),
        ("TONGXING_PHONE__BINDING".into(), "off".into()),
        (
            "TONGXING_PASSWORD_HASH__MEMORY_KIB".into(),
            args.argon2_memory_kib.to_string(),
        ),
        (
            "TONGXING_PASSWORD_HASH__ITERATIONS".into(),
            args.argon2_iterations.to_string(),
        ),
        // Every worker waits for a hashing slot rather than being told 429.
        (
            "TONGXING_PASSWORD_HASH__MAX_WAITING".into(),
            (args.concurrency * 2).to_string(),
        ),
    ];
    let mut backend = Backend {
        env: Vec::new(),
        postgres: None,
    };
    if let Some(admin) = &args.postgres {
        let db = format!("tongxing_bench_{}", std::process::id());
        psql(admin, &format!("CREATE DATABASE {db}"))?;
        let mut url = url::Url::parse(admin)?;
        url.set_path(&db);
        env.push(("TONGXING_DATABASE_URL".into(), url.to_string()));
        if let Some(redis) = &args.redis {
            env.push(("TONGXING_REDIS_URL".into(), redis.clone()));
            env.push((
                "TONGXING_REDIS_PREFIX".into(),
                format!("tongxing-bench-{}:", std::process::id()),
            ));
        }
        backend.postgres = Some((admin.clone(), db));
    }
    backend.env = env.clone();
    let result = measure_server(
        &args,
        &binary,
        &backend,
        &scratch,
        port,
        server_core,
        &paths,
        window,
    )
    .await;
    if let Some((admin, db)) = &backend.postgres {
        let _ = psql(admin, &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
    }
    let (rows, memory, growth) = result?;

    let limit_of = |path: BenchPath| -> Option<(String, f64)> {
        match path {
            BenchPath::ClientCredentials => Some(("RS256 signatures".into(), rs256)),
            BenchPath::Refresh => Some(("half the RS256 signatures".into(), rs256 / 2.0)),
            BenchPath::Discovery | BenchPath::Jwks => {
                Some(("trivial handler".into(), trivial.per_cpu_second()))
            }
            BenchPath::Login => Some(("argon2id hashes".into(), argon2)),
            BenchPath::Introspection | BenchPath::Userinfo => {
                Some(("target 40k/CPU-s".into(), 40_000.0))
            }
            BenchPath::Hello => None,
        }
    };
    let rows: Vec<Row> = rows
        .into_iter()
        .map(|(path, m, tx)| Row {
            path,
            limit: limit_of(path),
            m,
            transactions_per_request: tx,
        })
        .collect();

    let backend_name = if args.postgres.is_some() {
        "PostgreSQL + Redis"
    } else {
        "embedded SQLite"
    };
    let date = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    println!();
    println!(
        "Tongxing bench — {date} — {} — {backend_name} — c={} — {} s per path",
        machine(),
        args.concurrency,
        args.seconds
    );
    println!(
        "limits on one core: RS256 {rs256:.0}/s, ES256 {es256:.0}/s, EdDSA {eddsa:.0}/s, argon2id (m={} KiB, t={}) {argon2:.1}/s, trivial handler {:.0}/CPU-s",
        args.argon2_memory_kib,
        args.argon2_iterations,
        trivial.per_cpu_second()
    );
    println!();
    println!(
        "| path | req/s | req/CPU-s | p50 ms | p99 ms | errors | limit | ratio |{}",
        if args.postgres.is_some() {
            " xact/req |"
        } else {
            ""
        }
    );
    println!(
        "|---|---:|---:|---:|---:|---:|---|---:|{}",
        if args.postgres.is_some() { "---:|" } else { "" }
    );
    for r in &rows {
        let (limit, ratio) = match (&r.limit, r.ratio()) {
            (Some((name, value)), Some(ratio)) => {
                (format!("{name} {value:.0}"), format!("{ratio:.2}"))
            }
            _ => ("—".into(), "—".into()),
        };
        let tx = r
            .transactions_per_request
            .map(|t| format!(" {t:.2} |"))
            .unwrap_or_default();
        println!(
            "| {} | {:.0} | {:.0} | {:.2} | {:.2} | {} | {limit} | {ratio} |{tx}",
            r.path.name(),
            r.m.per_second(),
            r.m.per_cpu_second(),
            r.m.p50_ms,
            r.m.p99_ms,
            r.m.errors,
        );
    }
    println!();
    println!(
        "memory (VmRSS): idle {:.1} MiB, peak {:.1} MiB, after the login load {:.1} MiB",
        memory.idle_kib as f64 / 1024.0,
        memory.peak_kib as f64 / 1024.0,
        memory.after_kib as f64 / 1024.0
    );
    for (path, before, after) in &growth {
        println!(
            "growth +{} accounts: {} {:.0} → {:.0} req/CPU-s ({:+.1} %)",
            args.grow,
            path.name(),
            before,
            after,
            (after / before.max(1e-9) - 1.0) * 100.0
        );
    }
    let summary: Vec<String> = rows
        .iter()
        .map(|r| match r.ratio() {
            Some(ratio) => format!("{} {:.2}", r.path.name(), ratio),
            None => format!("{} {:.0}/CPU-s", r.path.name(), r.m.per_cpu_second()),
        })
        .collect();
    println!();
    println!(
        "summary ({backend_name}): {}; idle {:.1} MiB",
        summary.join(", "),
        memory.idle_kib as f64 / 1024.0
    );

    if let Some(file) = &args.json {
        let doc = json!({
            "date": date,
            "machine": machine(),
            "backend": backend_name,
            "concurrency": args.concurrency,
            "seconds": args.seconds,
            "limits": {
                "rs256_per_s": rs256,
                "es256_per_s": es256,
                "eddsa_per_s": eddsa,
                "argon2id_per_s": argon2,
                "argon2id": {"memory_kib": args.argon2_memory_kib, "iterations": args.argon2_iterations},
                "trivial_per_cpu_s": trivial.per_cpu_second(),
            },
            "paths": rows.iter().map(|r| json!({
                "path": r.path.name(),
                "per_s": r.m.per_second(),
                "per_cpu_s": r.m.per_cpu_second(),
                "p50_ms": r.m.p50_ms,
                "p99_ms": r.m.p99_ms,
                "ok": r.m.ok,
                "errors": r.m.errors,
                "limit": r.limit.as_ref().map(|(n, v)| json!({"name": n, "per_cpu_s": v})),
                "ratio": r.ratio(),
                "transactions_per_request": r.transactions_per_request,
            })).collect::<Vec<_>>(),
            "memory_kib": {"idle": memory.idle_kib, "peak": memory.peak_kib, "after_login": memory.after_kib},
            "growth": growth.iter().map(|(p, b, a)| json!({"path": p.name(), "accounts_added": args.grow, "before_per_cpu_s": b, "after_per_cpu_s": a})).collect::<Vec<_>>(),
        });
        std::fs::write(file, serde_json::to_string_pretty(&doc)?)?;
        eprintln!("written: {}", file.display());
    }
    Ok(())
}

#[derive(Default)]
struct Memory {
    idle_kib: u64,
    peak_kib: u64,
    after_kib: u64,
}

type Results = (
    Vec<(BenchPath, Measured, Option<f64>)>,
    Memory,
    Vec<(BenchPath, f64, f64)>,
);

#[allow(clippy::too_many_arguments)]
async fn measure_server(
    args: &Args,
    binary: &Path,
    backend: &Backend,
    scratch: &Scratch,
    port: u16,
    core: Option<usize>,
    paths: &[BenchPath],
    window: Duration,
) -> Result<Results> {
    eprintln!("starting the server …");
    let served = Served::start(
        binary,
        &["serve"],
        &backend.env,
        core,
        port,
        "/readyz",
        &scratch.0.join("server.log"),
    )
    .await?;
    let result = async {
        let env = &backend.env;
        let rp = cli(
            binary,
            env,
            &[
                "client",
                "add",
                "--id",
                "bench-rp",
                "--name",
                "Bench RP",
                "--first-party",
                "--redirect-uri",
                REDIRECT_URI,
                "--scope",
                "openid profile offline_access",
            ],
            "",
        )?;
        let cc = cli(
            binary,
            env,
            &[
                "client",
                "add",
                "--id",
                "bench-cc",
                "--name",
                "Bench service",
                "--scope",
                "profile",
            ],
            "",
        )?;
        let d = Deployment {
            base: served.base.clone(),
            rp_id: "bench-rp".into(),
            rp_secret: secret_of(&rp)?,
            cc_id: "bench-cc".into(),
            cc_secret: secret_of(&cc)?,
            redirect_uri: REDIRECT_URI.into(),
            password: PASSWORD.into(),
        };
        eprintln!("creating {} accounts …", args.concurrency);
        for i in 0..args.concurrency {
            let name = format!("bench{i}");
            cli(
                binary,
                env,
                &["user", "add", "--username", &name, "--password-stdin"],
                &format!("{PASSWORD}\n"),
            )?;
        }
        // Warm every path once (keys, caches, the phone metadata), then
        // let the server settle before reading its idle memory.
        for path in [
            BenchPath::Discovery,
            BenchPath::Jwks,
            BenchPath::ClientCredentials,
            BenchPath::Refresh,
            BenchPath::Introspection,
            BenchPath::Userinfo,
            BenchPath::Login,
        ] {
            let mut w = Worker::new(&d, path, "bench0").await?;
            if !w.once().await {
                bail!("warm-up: {} failed", path.name());
            }
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
        let mut memory = Memory {
            idle_kib: served.memory_kib()?.0,
            ..Memory::default()
        };

        let mut rows = Vec::new();
        for &path in paths {
            eprintln!("{} …", path.name());
            let (m, tx) =
                measure_path(&d, &served, backend, path, args.concurrency, window).await?;
            rows.push((path, m, tx));
        }
        let (_, peak) = served.memory_kib()?;
        memory.peak_kib = peak;
        tokio::time::sleep(Duration::from_secs(5)).await;
        memory.after_kib = served.memory_kib()?.0;

        let mut growth = Vec::new();
        if args.grow > 0 {
            eprintln!("adding {} accounts …", args.grow);
            let file = scratch.0.join("grow.jsonl");
            let mut lines = String::with_capacity(args.grow as usize * 40);
            for n in 0..args.grow {
                lines.push_str(&format!("{{\"username\":\"grown{n}@bench.example\"}}\n"));
            }
            std::fs::write(&file, lines)?;
            cli(binary, env, &["import", &file.display().to_string()], "")?;
            for (path, before, _) in &rows {
                if *path == BenchPath::Login {
                    continue;
                }
                let (m, _) =
                    measure_path(&d, &served, backend, *path, args.concurrency, window).await?;
                growth.push((*path, before.per_cpu_second(), m.per_cpu_second()));
            }
        }
        Ok((rows, memory, growth))
    }
    .await;
    served.stop();
    result
}
