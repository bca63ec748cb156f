//! The command line: `serve` (default), `migrate`, `user …`, `org …`,
//! `client …`, `keys …`.
//!
//! Exit codes are stable so scripts can rely on them:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | unexpected failure (database unreachable, I/O …) |
//! | 2 | usage error (unknown flag, missing argument) |
//! | 3 | invalid value (bad phone number, weak password …) |
//! | 4 | no such account or organization |
//! | 5 | already exists (account name or login phone taken; an organization's name or mail domain taken) |
//! | 6 | configuration error |

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serde_json::json;

use crate::config::Config;
use crate::crypto::jws::Alg;
use crate::domain::{OrganizationStatus, PhoneNumber, Role, Roles, SecretPassword};
use crate::ports::clock::SystemClock;
use crate::service::accounts::{self, AccountError, NewAccount};
use crate::service::audit::{Entry, Outcome};
use crate::service::clients::{self, Client, ClientError, ClientUpdate, NewClient};
use crate::service::org_import;
use crate::service::organizations::{self, OrgError, OrgInput};
use crate::service::registration;
use crate::service::{Actor, Origin};
use crate::state::AppState;
use crate::store::backup::{self, BackupError};
use crate::store::organizations::Organization;
use crate::store::users::{AccountStatus, User};
use crate::{App, telemetry};

#[derive(Debug, Parser)]
#[command(
    name = "tongxing",
    version,
    about = "Tongxing (通行): OpenID Connect identity provider"
)]
pub struct Cli {
    /// Configuration file (default: ./tongxing.toml when it exists).
    #[arg(long, global = true, value_name = "FILE", env = "TONGXING_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per process
pub enum Command {
    /// Run the server (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage the organization registry (单位).
    #[command(subcommand)]
    Org(OrgCommand),
    /// Manage relying applications (OIDC clients).
    #[command(subcommand)]
    Client(ClientCommand),
    /// Manage token signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Import the accounts of an earlier passport from JSON Lines or CSV,
    /// with their stored password hashes (README: "Importing existing
    /// accounts"). Idempotent; prints refused lines and the counts.
    Import {
        /// The file (JSON Lines or CSV with a header line, UTF-8).
        file: PathBuf,
        /// The file's format (default: from its extension, .jsonl or .csv).
        #[arg(long, value_parser = ["jsonl", "csv"])]
        format: Option<String>,
        /// Check every line and report what would happen; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Also write a JSON Lines report, one line per line of the file.
        #[arg(long, value_name = "FILE")]
        report: Option<PathBuf>,
    },
    /// The working-day calendar (holidays and worked weekend days).
    #[command(subcommand)]
    Calendar(CalendarCommand),
    /// Write a consistent copy of the embedded (SQLite) database to a new
    /// file while the server keeps running (README: "Backups").
    Backup {
        /// The copy to write (must not exist; created readable by its owner only).
        file: PathBuf,
    },
    /// Replace the embedded database by a backup, then migrate it. The
    /// server must be stopped; the replaced database is kept beside it as
    /// `<database>.before-restore-<time>`.
    Restore {
        /// A file written by `tongxing backup`.
        file: PathBuf,
    },
    /// Ask the server on this configuration's listen address whether it is
    /// up (`/healthz`): exit 0 if it is, 1 if not. For container
    /// health checks, where no HTTP client is installed.
    Health,
}

#[derive(Debug, Subcommand)]
pub enum CalendarCommand {
    /// Print a year's marked dates, one per line (`2027-02-08 holiday 春节`).
    Show { year: i32 },
    /// Replace a year's marked dates with those of FILE (`-`: standard
    /// input), in the form `show` prints; `#` starts a comment line.
    Set { year: i32, file: PathBuf },
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per process
pub enum ClientCommand {
    /// Register a client. A confidential client without --secret-stdin gets
    /// a generated secret, printed once.
    Add {
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: String,
        /// Allowed redirect URI (repeatable); matched exactly.
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<String>,
        /// A public client (no secret; PKCE required).
        #[arg(long, conflicts_with = "secret_stdin")]
        public: bool,
        /// Read the secret from the first line of standard input.
        #[arg(long)]
        secret_stdin: bool,
        #[arg(long = "post-logout-redirect-uri")]
        post_logout_redirect_uris: Vec<String>,
        #[arg(long)]
        backchannel_logout_uri: Option<String>,
        /// Trusted application of the institution: no consent page.
        #[arg(long)]
        first_party: bool,
        /// Allowed scopes, space-separated (default: openid profile email phone offline_access).
        #[arg(long)]
        scope: Option<String>,
        #[arg(long, value_parser = ["RS256", "ES256", "EdDSA"])]
        id_token_alg: Option<String>,
        #[arg(long, value_parser = ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"])]
        token_auth: Option<String>,
        #[arg(long, conflicts_with = "jwks_file")]
        jwks_uri: Option<String>,
        /// Sign-ins for this client always need SMS step-up.
        #[arg(long)]
        require_sms: bool,
        /// Accounts whose password the passport finds weak are blocked for
        /// this client until an administrator resets the password.
        #[arg(long)]
        require_strong_password: bool,
        /// LDAP binds naming this client: off (default), password (the
        /// passport password or an application password) or app_passwords
        /// (application passwords only).
        #[arg(long, value_parser = ["off", "password", "app_passwords"])]
        ldap_bind: Option<String>,
        /// The client, bound to the LDAP interface with its secret, may search.
        #[arg(long)]
        ldap_search: bool,
        /// Authorization requests only through the pushed authorization
        /// request endpoint (RFC 9126).
        #[arg(long)]
        require_par: bool,
        /// Authorization requests only as signed request objects (RFC 9101;
        /// needs --jwks-uri or --jwks-file).
        #[arg(long)]
        require_signed_request_object: bool,
        /// Tokens only bound to a DPoP key (RFC 9449): token requests
        /// without a DPoP proof are refused.
        #[arg(long)]
        require_dpop: bool,
        /// Where the client hosts signed request objects (RFC 9101;
        /// repeatable; needs --jwks-uri or --jwks-file).
        #[arg(long = "request-uri")]
        request_uris: Vec<String>,
        /// A JWK set file with the client's public keys (private_key_jwt).
        #[arg(long)]
        jwks_file: Option<PathBuf>,
        #[command(flatten)]
        listing: ListingArgs,
        /// Show this first-party client in everyone's application list.
        #[arg(long)]
        show_in_app_list: bool,
        /// People may make application passwords for this client.
        #[arg(long)]
        app_passwords_allowed: bool,
        #[arg(long)]
        json: bool,
    },
    /// List clients.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Register the three demo applications (clients/mail, clients/arp and
    /// clients/wiki; mail and ARP require strong passwords, the wiki does
    /// not); replaces earlier demo registrations.
    AddDemo {
        #[arg(long, default_value = "http://127.0.0.1:9001")]
        mail_url: String,
        #[arg(long, default_value = "http://127.0.0.1:9002")]
        arp_url: String,
        #[arg(long, default_value = "http://127.0.0.1:9003")]
        wiki_url: String,
        #[arg(long)]
        json: bool,
    },
    /// Change a client's flags (the rest through the management API).
    Update {
        id: String,
        /// Block accounts with weak passwords for this client: true or false.
        #[arg(long)]
        require_strong_password: Option<bool>,
        /// Sign-ins for this client always need SMS step-up: true or false.
        #[arg(long)]
        require_sms: Option<bool>,
        /// An empty value removes a name, description or URI.
        #[command(flatten)]
        listing: ListingArgs,
        /// Show it in everyone's application list: true or false.
        #[arg(long)]
        show_in_app_list: Option<bool>,
        /// People may make application passwords for it: true or false.
        #[arg(long)]
        app_passwords_allowed: Option<bool>,
        /// LDAP binds naming this client: off, password or app_passwords.
        #[arg(long, value_parser = ["off", "password", "app_passwords"])]
        ldap_bind: Option<String>,
        /// The client may search the LDAP interface: true or false.
        #[arg(long)]
        ldap_search: Option<bool>,
        /// Authorization requests only through the PAR endpoint: true or false.
        #[arg(long)]
        require_par: Option<bool>,
        /// Authorization requests only as signed request objects: true or false.
        #[arg(long)]
        require_signed_request_object: Option<bool>,
        /// Tokens only bound to a DPoP key (RFC 9449): true or false.
        #[arg(long)]
        require_dpop: Option<bool>,
        #[arg(long)]
        json: bool,
    },
    /// Show one client.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Remove a client with its grants, tokens and consents.
    Remove {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Replace a confidential client's secret (generated unless --secret-stdin).
    RotateSecret {
        id: String,
        #[arg(long)]
        secret_stdin: bool,
        #[arg(long)]
        json: bool,
    },
    /// Issue an initial access token for dynamic client registration
    /// (POST /register); printed once.
    IssueToken {
        /// How many clients it may register.
        #[arg(long, default_value_t = 1)]
        uses: u32,
        /// How many hours it stays valid.
        #[arg(long, default_value_t = 24)]
        hours: u32,
        /// What it is for (shown in the list).
        #[arg(long)]
        description: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List the initial access tokens (never the tokens themselves).
    Tokens {
        #[arg(long)]
        json: bool,
    },
    /// Revoke an initial access token (the clients it registered stay).
    RevokeToken {
        id: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List signing keys.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Create new signing keys; the old ones stay published for the grace period.
    Rotate {
        /// Only this algorithm (default: all).
        #[arg(long, value_parser = ["RS256", "ES256", "EdDSA"])]
        alg: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account. Without --password-stdin a strong password is
    /// generated and printed once.
    Add {
        #[arg(long)]
        username: String,
        #[arg(long)]
        display_name: Option<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        /// Login phone, E.164 (+86 assumed without a country code).
        #[arg(long)]
        phone: Option<String>,
        #[arg(long)]
        security_phone: Option<String>,
        /// Security e-mail (unverified until the user confirms it).
        #[arg(long)]
        email: Option<String>,
        /// The account's organization: the full name, short name or an
        /// alias of a registered one (`tongxing org add`).
        #[arg(long, visible_alias = "org")]
        organization: Option<String>,
        #[arg(long)]
        admin: bool,
        /// Give the account the reviewer role (decides review cases).
        #[arg(long)]
        reviewer: bool,
        #[arg(long)]
        json: bool,
    },
    /// Give an account a role (audited; its sessions end). `org_admin`
    /// names the organizations it is for with --organization.
    Grant {
        username: String,
        #[arg(value_parser = ["reviewer", "org_admin"])]
        role: String,
        /// For `org_admin`: an organization (full name, short name or
        /// alias) whose accounts it looks after; repeatable, required.
        #[arg(long = "organization")]
        organizations: Vec<String>,
    },
    /// Take a role away from an account (audited; its sessions end).
    /// `org_admin` with --organization: those organizations only (the role
    /// goes with the last one); without: all of them.
    Revoke {
        username: String,
        #[arg(value_parser = ["reviewer", "org_admin"])]
        role: String,
        #[arg(long = "organization")]
        organizations: Vec<String>,
    },
    /// List accounts.
    List {
        #[arg(long)]
        json: bool,
        #[arg(long, default_value_t = 1000)]
        limit: i64,
        #[arg(long, default_value_t = 0)]
        offset: i64,
    },
    /// Disable an account: it can no longer sign in and its sessions end.
    Disable {
        username: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Re-enable a disabled account.
    Enable { username: String },
    /// Set an account's password (ends its sessions).
    Passwd {
        username: String,
        #[arg(long, required = true)]
        password_stdin: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Register an organization.
    Add {
        /// The full name as on the organization's seal (unique).
        #[arg(long)]
        full_name: String,
        #[arg(long)]
        short_name: Option<String>,
        /// Another name it is known by (repeatable).
        #[arg(long = "alias")]
        aliases: Vec<String>,
        /// A mail domain of it, such as cnic.cn (repeatable).
        #[arg(long = "domain")]
        domains: Vec<String>,
        /// active (default), pending or inactive.
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List organizations, ordered by full name.
    List {
        /// Part of any name or mail domain.
        #[arg(long)]
        query: Option<String>,
        /// active, pending or inactive.
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 1000)]
        limit: i64,
        #[arg(long, default_value_t = 0)]
        offset: i64,
        #[arg(long)]
        json: bool,
    },
    /// Show one organization (by any of its names, or its id) with its
    /// number of accounts and its administrators.
    Show {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Change an organization (named by any of its names, or its id). An
    /// option given replaces that field; --alias and --domain replace the
    /// whole list.
    Update {
        name: String,
        #[arg(long)]
        full_name: Option<String>,
        /// An empty value clears it.
        #[arg(long)]
        short_name: Option<String>,
        #[arg(long = "alias", conflicts_with = "clear_aliases")]
        aliases: Vec<String>,
        /// Remove every alias.
        #[arg(long)]
        clear_aliases: bool,
        #[arg(long = "domain", conflicts_with = "clear_domains")]
        domains: Vec<String>,
        /// Remove every mail domain.
        #[arg(long)]
        clear_domains: bool,
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Import organizations from a CSV file (header
    /// full_name,short_name,aliases,mail_domains,status; aliases and
    /// domains separated by `;`). Prints what became of each line; exits 3
    /// when a line was refused (the others are imported all the same).
    Import {
        file: PathBuf,
        /// Check and report, writing nothing.
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Ok = 0,
    Failure = 1,
    Invalid = 3,
    NotFound = 4,
    Exists = 5,
    Config = 6,
    /// The database is in use (a restore while a server runs).
    InUse = 7,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        ExitCode::from(e as u8)
    }
}

fn fail(code: Exit, message: impl std::fmt::Display) -> Exit {
    eprintln!("error: {message}");
    code
}

fn client_exit(e: ClientError) -> Exit {
    let code = match &e {
        ClientError::Invalid(_) | ClientError::InvalidText(..) => Exit::Invalid,
        ClientError::NotFound => Exit::NotFound,
        ClientError::Conflict => Exit::Exists,
        _ => Exit::Failure,
    };
    fail(code, e)
}

fn account_exit(e: AccountError) -> Exit {
    let code = match &e {
        AccountError::Invalid(_)
        | AccountError::WeakPassword(..)
        | AccountError::Refused(..)
        | AccountError::UnknownOrganization(_)
        | AccountError::InactiveOrganization(..) => Exit::Invalid,
        AccountError::NotFound => Exit::NotFound,
        AccountError::Conflict(_) => Exit::Exists,
        _ => Exit::Failure,
    };
    fail(code, e)
}

/// Parses the command line and runs it.
pub async fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => return fail(Exit::Config, e).into(),
    };
    run(cli.command.unwrap_or(Command::Serve), config)
        .await
        .into()
}

pub async fn run(command: Command, config: Config) -> Exit {
    match command {
        Command::Serve => serve(config).await,
        Command::Migrate => {
            quiet_logs(&config);
            match AppState::init(config, false, SystemClock::shared()).await {
                Ok(state) => {
                    let entry = Entry::new("migrate", Outcome::Success)
                        .actor(&Actor::cli())
                        .origin(&Origin::cli());
                    if let Err(e) = entry.write(&state.store).await {
                        return fail(Exit::Failure, e);
                    }
                    println!("migrations applied");
                    Exit::Ok
                }
                Err(e) => fail(Exit::Failure, e),
            }
        }
        Command::Health => health(&config).await,
        Command::Restore { file } => {
            quiet_logs(&config);
            restore(config, &file).await
        }
        Command::User(_)
        | Command::Backup { .. }
        | Command::Org(_)
        | Command::Client(_)
        | Command::Keys(_)
        | Command::Calendar(_)
        | Command::Import { .. } => {
            quiet_logs(&config);
            let state = match AppState::init(config, false, SystemClock::shared()).await {
                Ok(s) => s,
                Err(e) => return fail(Exit::Failure, e),
            };
            let code = match command {
                Command::User(cmd) => user(&state, cmd).await,
                Command::Org(cmd) => org(&state, cmd).await,
                Command::Client(cmd) => client(&state, cmd).await,
                Command::Keys(cmd) => keys(&state, cmd).await,
                Command::Calendar(cmd) => calendar(&state, cmd).await,
                Command::Import {
                    file,
                    format,
                    dry_run,
                    report,
                } => import_accounts(&state, &file, format.as_deref(), dry_run, report).await,
                Command::Backup { file } => backup(&state, &file).await,
                Command::Serve | Command::Migrate | Command::Restore { .. } | Command::Health => {
                    Exit::Failure
                }
            };
            // Let started back-channel logouts finish (bounded).
            state
                .background
                .drain(std::time::Duration::from_secs(30))
                .await;
            state.store.close().await;
            code
        }
    }
}

/// GET `/healthz` on the listen address (a wildcard address is asked on
/// loopback), bounded by five seconds.
async fn health(config: &Config) -> Exit {
    let mut addr = config.listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    let url = format!("http://{addr}{}", crate::routes::HEALTHZ);
    let client = match reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(5))
        .build()
    {
        Ok(c) => c,
        Err(e) => return fail(Exit::Failure, e),
    };
    match client.get(&url).send().await {
        Ok(answer) if answer.status().is_success() => {
            println!("ok");
            Exit::Ok
        }
        Ok(answer) => fail(Exit::Failure, format!("{url} answered {}", answer.status())),
        Err(e) => fail(Exit::Failure, format!("{url}: {e}")),
    }
}

fn backup_exit(e: BackupError) -> Exit {
    let code = match &e {
        BackupError::Exists(_) => Exit::Exists,
        BackupError::InUse(_) => Exit::InUse,
        BackupError::NotSqlite | BackupError::NotABackup { .. } | BackupError::Newer { .. } => {
            Exit::Invalid
        }
        BackupError::Io { .. } | BackupError::Store(_) => Exit::Failure,
    };
    fail(code, e)
}

async fn backup(state: &AppState, file: &std::path::Path) -> Exit {
    let result = state.store.backup_into(file).await;
    let mut entry = Entry::new("backup.created", Outcome::of(&result))
        .actor(&Actor::cli())
        .origin(&Origin::cli());
    if let Ok(info) = &result {
        entry = entry.detail(json!({
            "file": file.display().to_string(),
            "bytes": info.bytes,
            "schema_version": info.schema_version,
        }));
    }
    if let Err(e) = entry.write(&state.store).await {
        return fail(Exit::Failure, e);
    }
    match result {
        Ok(info) => {
            println!(
                "backup written: {} ({} bytes, schema version {})",
                file.display(),
                info.bytes,
                info.schema_version
            );
            Exit::Ok
        }
        Err(e) => backup_exit(e),
    }
}

/// Puts the backup in place before anything opens the database, then
/// opens it as every command does (which applies newer migrations) and
/// records the restore in the restored audit log.
async fn restore(config: Config, file: &std::path::Path) -> Exit {
    let stamp = time::OffsetDateTime::now_utc()
        .format(&time::macros::format_description!(
            "[year][month][day]T[hour][minute][second]Z"
        ))
        .unwrap_or_else(|_| "unknown".into());
    let restored = match backup::restore(&config.database_url(), file, &stamp).await {
        Ok(r) => r,
        Err(e) => return backup_exit(e),
    };
    let state = match AppState::init(config, false, SystemClock::shared()).await {
        Ok(s) => s,
        Err(e) => return fail(Exit::Failure, e),
    };
    let entry = Entry::new("backup.restored", Outcome::Success)
        .actor(&Actor::cli())
        .origin(&Origin::cli())
        .detail(json!({
            "file": file.display().to_string(),
            "schema_version": restored.info.schema_version,
            "set_aside": restored.set_aside.as_ref().map(|p| p.display().to_string()),
        }));
    let code = match entry.write(&state.store).await {
        Ok(()) => {
            println!(
                "restored {} from {} (schema version {})",
                restored.database.display(),
                file.display(),
                restored.info.schema_version
            );
            if let Some(aside) = &restored.set_aside {
                println!("the replaced database is kept as {}", aside.display());
            }
            Exit::Ok
        }
        Err(e) => fail(Exit::Failure, e),
    };
    state.store.close().await;
    code
}

fn quiet_logs(config: &Config) {
    let mut c = config.clone();
    c.log_level = "warn".into();
    telemetry::init(&c);
}

async fn serve(config: Config) -> Exit {
    telemetry::init(&config);
    let production = config.is_production();
    let app = match App::build(config).await {
        Ok(app) => app,
        Err(e) => return fail(Exit::Failure, e),
    };
    if let Some(password) = &app.bootstrap_password {
        // Printed straight to the console, never through the logger, so it
        // does not end up in log files.
        println!();
        println!("  ┌──────────────────────────────────────────────────────────────");
        println!("  │ First start: created the administrator account.");
        println!("  │   account:  admin");
        println!("  │   password: {password}");
        println!("  │ This password is shown only now. Sign in and change it.");
        println!("  └──────────────────────────────────────────────────────────────");
        println!();
    }
    let issuer = app.state().config.issuer();
    tracing::info!(addr = %app.local_addr(), %issuer, production, database = app.state().store.kind(), ephemeral = app.state().ephemeral.kind(), "Tongxing listening");
    if let Some(addr) = app.metrics_addr() {
        tracing::info!(%addr, "metrics listening (/metrics only)");
    }
    if app.state().form_fonts.path().is_none() {
        tracing::warn!(
            "no CJK font for the retrieval form: install fonts-noto-cjk or fonts-wqy-microhei, or set retrieval.form_font"
        );
    }
    match app.run().await {
        Ok(()) => Exit::Ok,
        Err(e) => fail(Exit::Failure, e),
    }
}

fn read_line(what: &str) -> Result<String, Exit> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprintln!("{what} (input is echoed; prefer piping it in):");
    }
    let mut line = String::new();
    if let Err(e) = stdin.lock().read_line(&mut line) {
        return Err(fail(Exit::Failure, format!("reading standard input: {e}")));
    }
    let value = line.trim_end_matches(['\n', '\r']).to_string();
    if value.is_empty() {
        return Err(fail(
            Exit::Invalid,
            format!("{what}: standard input was empty"),
        ));
    }
    Ok(value)
}

fn read_password() -> Result<SecretPassword, Exit> {
    read_line("password").map(SecretPassword::new)
}

fn user_json(u: &User) -> serde_json::Value {
    json!({
        "id": u.id,
        "username": u.username,
        "display_name": u.display_name,
        "login_phone": u.login_phone,
        "security_phone": u.security_phone,
        "security_email": u.security_email,
        "security_email_verified": u.security_email_verified,
        "organization": u.organization,
        "admin": u.is_admin,
        "roles": u.roles.iter().map(Role::as_str).collect::<Vec<_>>(),
        "status": u.status.as_str(),
        "created_at": u.created_at.unix_timestamp(),
        "last_login_at": u.last_login_at.map(|t| t.unix_timestamp()),
    })
}

async fn user(state: &AppState, cmd: UserCommand) -> Exit {
    let (actor, origin) = (Actor::cli(), Origin::cli());
    match cmd {
        UserCommand::Add {
            username,
            display_name,
            password_stdin,
            phone,
            security_phone,
            email,
            organization,
            admin,
            reviewer,
            json,
        } => {
            let password = if password_stdin {
                match read_password() {
                    Ok(p) => Some(p),
                    Err(code) => return code,
                }
            } else {
                None
            };
            let input = NewAccount {
                username,
                display_name,
                login_phone: phone,
                security_phone,
                security_email: email,
                organization,
                is_admin: admin,
                roles: Roles::none().with(Role::Reviewer, reviewer),
                password,
            };
            match accounts::create(state, input, &actor, &origin).await {
                Ok((user, generated)) => {
                    if json {
                        let mut out = user_json(&user);
                        out["password"] = json!(generated);
                        println!("{out}");
                    } else {
                        println!("created account {} ({})", user.username, user.id);
                        if let Some(p) = generated {
                            println!("password: {p}");
                            println!("(shown only now)");
                        }
                    }
                    Exit::Ok
                }
                Err(e) => account_exit(e),
            }
        }
        UserCommand::List {
            json,
            limit,
            offset,
        } => match state
            .store
            .list_users(limit.clamp(1, 100_000), offset.max(0))
            .await
        {
            Ok(users) if json => {
                println!(
                    "{}",
                    serde_json::Value::Array(users.iter().map(user_json).collect())
                );
                Exit::Ok
            }
            Ok(users) => {
                println!(
                    "{:<32} {:<20} {:<14} {:<24} {:<15} STATUS",
                    "USERNAME", "NAME", "LOGIN PHONE", "ORGANIZATION", "ROLE"
                );
                for u in &users {
                    let mut roles: Vec<&str> = u.is_admin.then_some("admin").into_iter().collect();
                    roles.extend(u.roles.iter().map(Role::as_str));
                    if roles.is_empty() {
                        roles.push("user");
                    }
                    println!(
                        "{:<32} {:<20} {:<14} {:<24} {:<15} {}",
                        u.username,
                        u.display_name,
                        u.login_phone
                            .as_deref()
                            .map(PhoneNumber::masked)
                            .unwrap_or_else(|| "-".into()),
                        u.organization.as_deref().unwrap_or("-"),
                        roles.join(","),
                        u.status.as_str()
                    );
                }
                Exit::Ok
            }
            Err(e) => fail(Exit::Failure, e),
        },
        UserCommand::Grant {
            username,
            role,
            organizations,
        } if role == Role::OrgAdmin.as_str() => {
            change_org_admin(state, &username, &organizations, true, &actor, &origin).await
        }
        UserCommand::Revoke {
            username,
            role,
            organizations,
        } if role == Role::OrgAdmin.as_str() => {
            change_org_admin(state, &username, &organizations, false, &actor, &origin).await
        }
        UserCommand::Grant {
            role,
            organizations,
            ..
        }
        | UserCommand::Revoke {
            role,
            organizations,
            ..
        } if !organizations.is_empty() => fail(
            Exit::Invalid,
            format!(
                "--organization: the role {role} applies to every account, not to organizations"
            ),
        ),
        UserCommand::Grant { username, role, .. } => {
            change_role(state, &username, &role, true, &actor, &origin).await
        }
        UserCommand::Revoke { username, role, .. } => {
            change_role(state, &username, &role, false, &actor, &origin).await
        }
        UserCommand::Disable { username, reason } => {
            match accounts::set_status(
                state,
                &username,
                AccountStatus::Disabled,
                reason.as_deref(),
                &actor,
                &origin,
            )
            .await
            {
                Ok(u) => {
                    println!("disabled {}", u.username);
                    Exit::Ok
                }
                Err(e) => account_exit(e),
            }
        }
        UserCommand::Enable { username } => {
            match accounts::set_status(
                state,
                &username,
                AccountStatus::Active,
                None,
                &actor,
                &origin,
            )
            .await
            {
                Ok(u) => {
                    println!("enabled {}", u.username);
                    Exit::Ok
                }
                Err(e) => account_exit(e),
            }
        }
        UserCommand::Passwd { username, .. } => {
            let password = match read_password() {
                Ok(p) => p,
                Err(code) => return code,
            };
            match accounts::set_password(state, &username, &password, &actor, &origin).await {
                Ok(u) => {
                    println!(
                        "password changed for {}; its sessions have ended",
                        u.username
                    );
                    Exit::Ok
                }
                Err(e) => account_exit(e),
            }
        }
    }
}

/// `user grant` / `user revoke`.
async fn change_role(
    state: &AppState,
    username: &str,
    role: &str,
    grant: bool,
    actor: &Actor,
    origin: &Origin,
) -> Exit {
    let role = match Role::parse(role) {
        Ok(r) => r,
        Err(e) => return fail(Exit::Invalid, e),
    };
    match accounts::set_role(state, username, role, grant, actor, origin).await {
        Ok((u, changed)) => {
            let done = match (grant, changed) {
                (true, true) => "granted",
                (false, true) => "revoked",
                (true, false) => "already held",
                (false, false) => "not held",
            };
            println!("{}: role {role} {done}", u.username);
            Exit::Ok
        }
        Err(e) => account_exit(e),
    }
}

/// `user grant NAME org_admin --organization …` / `user revoke …`: the
/// account's administration of the organizations named (revoking without
/// any: of all of them).
async fn change_org_admin(
    state: &AppState,
    username: &str,
    names: &[String],
    grant: bool,
    actor: &Actor,
    origin: &Origin,
) -> Exit {
    if grant && names.is_empty() {
        return fail(
            Exit::Invalid,
            "--organization: name at least one organization the account is to administer",
        );
    }
    let user = match accounts::find(state, username).await {
        Ok(u) => u,
        Err(e) => return account_exit(e),
    };
    let mut orgs = Vec::new();
    for name in names {
        match organizations::resolve(state, name).await {
            Ok(Some(o)) => orgs.push(o),
            Ok(None) => {
                return fail(
                    Exit::NotFound,
                    format!("--organization: {name:?} is not a registered organization"),
                );
            }
            Err(e) => return fail(Exit::Failure, e),
        }
    }
    if !grant && names.is_empty() {
        orgs = match organizations::administered_by(state, &user).await {
            Ok(list) => list,
            Err(e) => return fail(Exit::Failure, e),
        };
    }
    for org in &orgs {
        let changed = if grant {
            organizations::assign_admin(state, org, &user, actor, origin).await
        } else {
            organizations::remove_admin(state, org, &user, actor, origin).await
        };
        let done = match (grant, changed) {
            (_, Err(e)) => return fail(Exit::Failure, e),
            (true, Ok(true)) => "granted",
            (false, Ok(true)) => "revoked",
            (true, Ok(false)) => "already held",
            (false, Ok(false)) => "not held",
        };
        println!(
            "{}: role org_admin for {} {done}",
            user.username, org.full_name
        );
    }
    if orgs.is_empty() {
        println!("{}: role org_admin not held", user.username);
    }
    Exit::Ok
}

fn org_exit(e: OrgError) -> Exit {
    let code = match &e {
        OrgError::Invalid(_) | OrgError::Stale => Exit::Invalid,
        OrgError::NameTaken { .. } | OrgError::DomainTaken { .. } | OrgError::Conflict(_) => {
            Exit::Exists
        }
        OrgError::NotFound => Exit::NotFound,
        OrgError::Store(_) => Exit::Failure,
    };
    fail(code, e)
}

fn org_json(o: &Organization) -> serde_json::Value {
    json!({
        "id": o.id,
        "full_name": o.full_name,
        "short_name": o.short_name,
        "aliases": o.aliases.0,
        "mail_domains": o.mail_domains.0,
        "status": o.status.as_str(),
        "version": o.version,
        "created_at": o.created_at.unix_timestamp(),
        "updated_at": o.updated_at.unix_timestamp(),
    })
}

fn parse_status(text: Option<&str>) -> Result<Option<OrganizationStatus>, Exit> {
    text.map(OrganizationStatus::parse)
        .transpose()
        .map_err(|e| fail(Exit::Invalid, e))
}

/// The organization named by any of its names, or its id.
async fn find_org(state: &AppState, name: &str) -> Result<Organization, Exit> {
    if let Ok(id) = uuid::Uuid::parse_str(name.trim()) {
        return organizations::by_id(state, id).await.map_err(org_exit);
    }
    match organizations::resolve(state, name).await {
        Ok(Some(o)) => Ok(o),
        Ok(None) => Err(fail(
            Exit::NotFound,
            format!("{name:?} is not a registered organization"),
        )),
        Err(e) => Err(fail(Exit::Failure, e)),
    }
}

async fn org(state: &AppState, cmd: OrgCommand) -> Exit {
    let (actor, origin) = (Actor::cli(), Origin::cli());
    match cmd {
        OrgCommand::Add {
            full_name,
            short_name,
            aliases,
            domains,
            status,
            json,
        } => {
            let status = match parse_status(status.as_deref()) {
                Ok(s) => s,
                Err(code) => return code,
            };
            let input = OrgInput {
                full_name,
                short_name,
                aliases,
                mail_domains: domains,
                status,
            };
            match organizations::create(state, &input, &actor, &origin).await {
                Ok(o) if json => {
                    println!("{}", org_json(&o));
                    Exit::Ok
                }
                Ok(o) => {
                    println!("registered organization {} ({})", o.full_name, o.id);
                    Exit::Ok
                }
                Err(e) => org_exit(e),
            }
        }
        OrgCommand::List {
            query,
            status,
            limit,
            offset,
            json,
        } => {
            let status = match parse_status(status.as_deref()) {
                Ok(s) => s,
                Err(code) => return code,
            };
            let query = query.unwrap_or_default();
            match organizations::list(state, &query, status, limit.clamp(1, 1000), offset.max(0))
                .await
            {
                Ok((list, _)) if json => {
                    println!(
                        "{}",
                        serde_json::Value::Array(list.iter().map(org_json).collect())
                    );
                    Exit::Ok
                }
                Ok((list, total)) => {
                    println!(
                        "{:<36} {:<10} {:<16} {:<24} FULL NAME",
                        "ID", "STATUS", "SHORT NAME", "MAIL DOMAINS"
                    );
                    for o in &list {
                        println!(
                            "{:<36} {:<10} {:<16} {:<24} {}",
                            o.id,
                            o.status.as_str(),
                            o.short_name.as_deref().unwrap_or("-"),
                            if o.mail_domains.0.is_empty() {
                                "-".to_string()
                            } else {
                                o.mail_domains.0.join(";")
                            },
                            o.full_name
                        );
                    }
                    println!("({} of {total})", list.len());
                    Exit::Ok
                }
                Err(e) => fail(Exit::Failure, e),
            }
        }
        OrgCommand::Show { name, json } => {
            let o = match find_org(state, &name).await {
                Ok(o) => o,
                Err(code) => return code,
            };
            let (members, admins) = match (
                organizations::member_count(state, &o).await,
                organizations::administrators(state, &o).await,
            ) {
                (Ok(m), Ok(a)) => (m, a),
                (Err(e), _) | (_, Err(e)) => return fail(Exit::Failure, e),
            };
            let admins: Vec<&str> = admins.iter().map(|u| u.username.as_str()).collect();
            if json {
                let mut v = org_json(&o);
                v["accounts"] = json!(members);
                v["administrators"] = json!(admins);
                println!("{v}");
            } else {
                println!("id:             {}", o.id);
                println!("full name:      {}", o.full_name);
                println!("short name:     {}", o.short_name.as_deref().unwrap_or("-"));
                println!("aliases:        {}", o.aliases.0.join("; "));
                println!("mail domains:   {}", o.mail_domains.0.join("; "));
                println!("status:         {}", o.status.as_str());
                println!("accounts:       {members}");
                println!("administrators: {}", admins.join(", "));
            }
            Exit::Ok
        }
        OrgCommand::Update {
            name,
            full_name,
            short_name,
            aliases,
            clear_aliases,
            domains,
            clear_domains,
            status,
            json,
        } => {
            let status = match parse_status(status.as_deref()) {
                Ok(s) => s,
                Err(code) => return code,
            };
            let o = match find_org(state, &name).await {
                Ok(o) => o,
                Err(code) => return code,
            };
            let mut input = OrgInput::of(&o);
            if let Some(v) = full_name {
                input.full_name = v;
            }
            if let Some(v) = short_name {
                input.short_name = Some(v);
            }
            if clear_aliases || !aliases.is_empty() {
                input.aliases = aliases;
            }
            if clear_domains || !domains.is_empty() {
                input.mail_domains = domains;
            }
            if status.is_some() {
                input.status = status;
            }
            match organizations::update(state, &o, o.version, &input, &actor, &origin).await {
                Ok((o, _)) if json => {
                    println!("{}", org_json(&o));
                    Exit::Ok
                }
                Ok((o, changed)) => {
                    if changed {
                        println!("updated organization {} ({})", o.full_name, o.id);
                    } else {
                        println!("organization {} unchanged", o.full_name);
                    }
                    Exit::Ok
                }
                Err(e) => org_exit(e),
            }
        }
        OrgCommand::Import {
            file,
            dry_run,
            json,
        } => {
            let bytes = match std::fs::read(&file) {
                Ok(b) => b,
                Err(e) => return fail(Exit::Failure, format!("{}: {e}", file.display())),
            };
            let parsed = match org_import::parse(&bytes) {
                Ok(p) => p,
                Err(e) => return fail(Exit::Invalid, format!("{}: {e}", file.display())),
            };
            let report = match org_import::import(state, parsed, dry_run, &actor, &origin).await {
                Ok(r) => r,
                Err(e) => return fail(Exit::Failure, e),
            };
            if json {
                println!("{}", serde_json::to_value(&report).unwrap_or_default());
            } else {
                for l in &report.lines {
                    match &l.reason {
                        Some(reason) => {
                            println!(
                                "line {}: {} {}: {reason}",
                                l.line,
                                l.outcome.as_str(),
                                l.full_name
                            )
                        }
                        None => println!("line {}: {} {}", l.line, l.outcome.as_str(), l.full_name),
                    }
                }
                println!(
                    "{}{} created, {} updated, {} unchanged, {} refused",
                    if dry_run {
                        "dry run (nothing written): "
                    } else {
                        ""
                    },
                    report.created,
                    report.updated,
                    report.unchanged,
                    report.refused
                );
            }
            if report.refused > 0 {
                Exit::Invalid
            } else {
                Exit::Ok
            }
        }
    }
}

/// How the application list shows a client.
#[derive(clap::Args, Debug, Default)]
pub struct ListingArgs {
    /// The name in English (the name given is the default, zh-CN one).
    #[arg(long)]
    name_en: Option<String>,
    /// What the application is for (zh-CN), shown in the application list.
    #[arg(long)]
    description: Option<String>,
    /// The description in English.
    #[arg(long)]
    description_en: Option<String>,
    /// The logo the application list shows (absolute http(s) URI).
    #[arg(long)]
    logo_uri: Option<String>,
    /// The page the application list's link opens.
    #[arg(long)]
    home_uri: Option<String>,
}

fn print_client(c: &Client, json: bool) {
    if json {
        println!("{}", c.json());
        return;
    }
    println!("client_id:      {}", c.id);
    println!("name:           {}", c.name);
    println!("auth method:    {}", c.token_auth_method.as_str());
    println!("first party:    {}", c.first_party);
    println!("require sms:    {}", c.require_sms);
    println!("strong passwd:  {}", c.require_strong_password);
    println!("in app list:    {}", c.show_in_app_list);
    println!("app passwords:  {}", c.app_passwords_allowed);
    if let Some(n) = &c.name_en {
        println!("name (en):      {n}");
    }
    if let Some(d) = &c.description {
        println!("description:    {d}");
    }
    if let Some(d) = &c.description_en {
        println!("descr. (en):    {d}");
    }
    if let Some(uri) = &c.logo_uri {
        println!("logo_uri:       {uri}");
    }
    if let Some(uri) = &c.home_uri {
        println!("home_uri:       {uri}");
    }
    if c.registered_dynamically {
        println!("registered by:  itself (dynamic registration)");
        if let Some(grants) = &c.grant_types {
            println!("grant types:    {}", grants.join(" "));
        }
    }
    println!("ldap bind:      {}", c.ldap_bind.as_str());
    println!("ldap search:    {}", c.ldap_search);
    println!(
        "require par:    {}",
        c.require_pushed_authorization_requests
    );
    println!("signed request: {}", c.require_signed_request_object);
    println!("require dpop:   {}", c.dpop_bound_access_tokens);
    for uri in &c.request_uris {
        println!("request_uri:    {uri}");
    }
    println!("scopes:         {}", c.scopes.join(" "));
    println!("id_token alg:   {}", c.id_token_alg.as_str());
    for uri in &c.redirect_uris {
        println!("redirect_uri:   {uri}");
    }
    for uri in &c.post_logout_redirect_uris {
        println!("post_logout:    {uri}");
    }
    if let Some(uri) = &c.backchannel_logout_uri {
        println!("backchannel:    {uri}");
    }
    if let Some(uri) = &c.jwks_uri {
        println!("jwks_uri:       {uri}");
    }
}

async fn client(state: &AppState, cmd: ClientCommand) -> Exit {
    let (actor, origin) = (Actor::cli(), Origin::cli());
    match cmd {
        ClientCommand::Add {
            id,
            name,
            redirect_uris,
            public,
            secret_stdin,
            post_logout_redirect_uris,
            backchannel_logout_uri,
            first_party,
            scope,
            id_token_alg,
            token_auth,
            jwks_uri,
            jwks_file,
            require_sms,
            require_strong_password,
            listing,
            show_in_app_list,
            app_passwords_allowed,
            ldap_bind,
            ldap_search,
            require_par,
            require_signed_request_object,
            require_dpop,
            request_uris,
            json,
        } => {
            let secret = if secret_stdin {
                match read_line("client secret") {
                    Ok(s) => Some(s),
                    Err(code) => return code,
                }
            } else {
                None
            };
            let jwks = match jwks_file {
                Some(path) => match std::fs::read_to_string(&path) {
                    Ok(text) => Some(text),
                    Err(e) => {
                        return fail(Exit::Invalid, format!("jwks_file {}: {e}", path.display()));
                    }
                },
                None => None,
            };
            let input = NewClient {
                id,
                name,
                redirect_uris,
                post_logout_redirect_uris,
                backchannel_logout_uri,
                first_party,
                scopes: scope,
                id_token_alg,
                token_auth_method: token_auth,
                public,
                secret,
                jwks_uri,
                jwks,
                require_sms,
                require_strong_password,
                name_en: listing.name_en,
                description: listing.description,
                description_en: listing.description_en,
                logo_uri: listing.logo_uri,
                home_uri: listing.home_uri,
                show_in_app_list,
                app_passwords_allowed,
                ldap_bind,
                ldap_search,
                require_pushed_authorization_requests: require_par,
                require_signed_request_object,
                dpop_bound_access_tokens: require_dpop,
                request_uris,
            };
            match clients::register(state, input, &actor, &origin).await {
                Ok((c, generated)) => {
                    if json {
                        let mut v = c.json();
                        v["client_secret"] = json!(generated);
                        println!("{v}");
                    } else {
                        println!("registered client {}", c.id);
                        print_client(&c, false);
                        if let Some(s) = generated {
                            println!("client_secret:  {s}");
                            println!("(shown only now)");
                        }
                    }
                    Exit::Ok
                }
                Err(e) => client_exit(e),
            }
        }
        ClientCommand::List { json } => match clients::list(state).await {
            Ok(list) if json => {
                println!(
                    "{}",
                    serde_json::Value::Array(list.iter().map(Client::json).collect())
                );
                Exit::Ok
            }
            Ok(list) => {
                println!(
                    "{:<24} {:<24} {:<20} {:<6} SCOPES",
                    "CLIENT_ID", "NAME", "AUTH", "1ST"
                );
                for c in &list {
                    println!(
                        "{:<24} {:<24} {:<20} {:<6} {}",
                        c.id,
                        c.name,
                        c.token_auth_method.as_str(),
                        if c.first_party { "yes" } else { "no" },
                        c.scopes.join(" ")
                    );
                }
                Exit::Ok
            }
            Err(e) => fail(Exit::Failure, e),
        },
        ClientCommand::AddDemo {
            mail_url,
            arp_url,
            wiki_url,
            json,
        } => {
            let mut registered = Vec::new();
            // Mail and ARP demand strong passwords, as in the institute;
            // the wiki shows an application that does not.
            // Each shows in the application list; mail takes application
            // passwords (IMAP and SMTP clients).
            for (id, name, url, package, strong, words) in [
                (
                    "mail-demo",
                    "邮件系统 Mail (demo)",
                    mail_url,
                    "mail-demo",
                    true,
                    ("Mail", "收发电子邮件", "Read and send e-mail"),
                ),
                (
                    "arp-demo",
                    "科研管理 ARP (demo)",
                    arp_url,
                    "arp-demo",
                    true,
                    ("ARP", "项目、经费与成果管理", "Projects, funds and results"),
                ),
                (
                    "wiki-demo",
                    "知识库 Wiki (demo)",
                    wiki_url,
                    "wiki-demo",
                    false,
                    ("Wiki", "共享的知识与文档", "Shared knowledge and documents"),
                ),
            ] {
                let base = url.trim_end_matches('/').to_string();
                match clients::remove(state, id, &actor, &origin).await {
                    Ok(()) | Err(ClientError::NotFound) => {}
                    Err(e) => return client_exit(e),
                }
                let input = NewClient {
                    id: id.into(),
                    name: name.into(),
                    redirect_uris: vec![format!("{base}/callback")],
                    post_logout_redirect_uris: vec![format!("{base}/")],
                    backchannel_logout_uri: Some(format!("{base}/backchannel-logout")),
                    first_party: true,
                    require_strong_password: strong,
                    name_en: Some(format!("{} (demo)", words.0)),
                    description: Some(words.1.into()),
                    description_en: Some(words.2.into()),
                    home_uri: Some(format!("{base}/")),
                    show_in_app_list: true,
                    app_passwords_allowed: id == "mail-demo",
                    ..NewClient::default()
                };
                match clients::register(state, input, &actor, &origin).await {
                    Ok((c, secret)) => {
                        registered.push((c, secret.unwrap_or_default(), base, package))
                    }
                    Err(e) => return client_exit(e),
                }
            }
            if json {
                let out: Vec<serde_json::Value> = registered
                    .iter()
                    .map(|(c, secret, base, _)| json!({ "client_id": c.id, "client_secret": secret, "url": base, "require_strong_password": c.require_strong_password }))
                    .collect();
                println!("{}", serde_json::Value::Array(out));
            } else {
                let issuer = state.config.issuer();
                for (c, secret, base, package) in &registered {
                    let strong = if c.require_strong_password {
                        ", requires strong passwords"
                    } else {
                        ""
                    };
                    println!("registered {} ({}) at {base}{strong}", c.id, c.name);
                    println!(
                        "  run: DEMO_ISSUER={issuer} cargo run -p {package} -- --client-secret {secret}"
                    );
                }
            }
            Exit::Ok
        }
        ClientCommand::Update {
            id,
            require_strong_password,
            require_sms,
            listing,
            show_in_app_list,
            app_passwords_allowed,
            ldap_bind,
            ldap_search,
            require_par,
            require_signed_request_object,
            require_dpop,
            json,
        } => {
            let client = match clients::find(state, &id).await {
                Ok(Some(c)) => c,
                Ok(None) => return fail(Exit::NotFound, "no such client"),
                Err(e) => return fail(Exit::Failure, e),
            };
            let change = ClientUpdate {
                require_strong_password,
                require_sms,
                name_en: listing.name_en.map(Some),
                description: listing.description.map(Some),
                description_en: listing.description_en.map(Some),
                logo_uri: listing.logo_uri.map(Some),
                home_uri: listing.home_uri.map(Some),
                show_in_app_list,
                app_passwords_allowed,
                ldap_bind,
                ldap_search,
                require_pushed_authorization_requests: require_par,
                require_signed_request_object,
                dpop_bound_access_tokens: require_dpop,
                ..ClientUpdate::default()
            };
            match clients::update(state, &id, client.version, change, &actor, &origin).await {
                Ok(c) => {
                    if !json {
                        println!("updated client {}", c.id);
                    }
                    print_client(&c, json);
                    Exit::Ok
                }
                Err(e) => client_exit(e),
            }
        }
        ClientCommand::Show { id, json } => match clients::find(state, &id).await {
            Ok(Some(c)) => {
                print_client(&c, json);
                Exit::Ok
            }
            Ok(None) => fail(Exit::NotFound, "no such client"),
            Err(e) => fail(Exit::Failure, e),
        },
        ClientCommand::Remove { id, json } => {
            match clients::remove(state, &id, &actor, &origin).await {
                Ok(()) => {
                    if json {
                        println!("{}", json!({ "client_id": id, "removed": true }));
                    } else {
                        println!("removed client {id}");
                    }
                    Exit::Ok
                }
                Err(e) => client_exit(e),
            }
        }
        ClientCommand::RotateSecret {
            id,
            secret_stdin,
            json,
        } => {
            let given = if secret_stdin {
                match read_line("client secret") {
                    Ok(s) => Some(s),
                    Err(code) => return code,
                }
            } else {
                None
            };
            match clients::rotate_secret(state, &id, given, &actor, &origin).await {
                Ok(generated) => {
                    if json {
                        println!("{}", json!({ "client_id": id, "client_secret": generated }));
                    } else {
                        println!("new secret for {id}");
                        if let Some(s) = generated {
                            println!("client_secret:  {s}");
                            println!("(shown only now)");
                        }
                    }
                    Exit::Ok
                }
                Err(e) => client_exit(e),
            }
        }
        ClientCommand::IssueToken {
            uses,
            hours,
            description,
            json,
        } => {
            let request = registration::TokenRequest {
                uses,
                hours,
                description,
            };
            match registration::issue_token(state, request, &actor, &origin).await {
                Ok(issued) => {
                    let now = state.clock.now().unix_timestamp();
                    let view = registration::token_json(&issued.token, now);
                    if json {
                        println!(
                            "{}",
                            json!({ "token": view, "initial_access_token": issued.secret })
                        );
                    } else {
                        println!("issued registration token {}", issued.token.id);
                        println!("uses:           {}", issued.token.uses_allowed);
                        println!(
                            "expires at:     {}",
                            view["expires_at"].as_str().unwrap_or("-")
                        );
                        println!("initial_access_token: {}", issued.secret);
                        println!("(shown only now)");
                    }
                    Exit::Ok
                }
                Err(e) => client_exit(e),
            }
        }
        ClientCommand::Tokens { json } => match registration::tokens(state).await {
            Ok(list) => {
                let now = state.clock.now().unix_timestamp();
                if json {
                    println!(
                        "{}",
                        serde_json::Value::Array(
                            list.iter()
                                .map(|t| registration::token_json(t, now))
                                .collect()
                        )
                    );
                } else {
                    for t in &list {
                        let v = registration::token_json(t, now);
                        println!(
                            "{}  {:8}  {}/{} left  expires {}  {}",
                            t.id,
                            registration::token_status(t, now),
                            t.uses_left,
                            t.uses_allowed,
                            v["expires_at"].as_str().unwrap_or("-"),
                            t.description.as_deref().unwrap_or("")
                        );
                    }
                }
                Exit::Ok
            }
            Err(e) => fail(Exit::Failure, e),
        },
        ClientCommand::RevokeToken { id, json } => {
            let Ok(uuid) = uuid::Uuid::parse_str(id.trim()) else {
                return fail(
                    Exit::Invalid,
                    "the token id is a UUID (see `client tokens`)",
                );
            };
            match registration::revoke_token(state, uuid, &actor, &origin).await {
                Ok(()) => {
                    if json {
                        println!("{}", json!({ "id": uuid, "revoked": true }));
                    } else {
                        println!("revoked registration token {uuid}");
                    }
                    Exit::Ok
                }
                Err(ClientError::NotFound) => {
                    fail(Exit::NotFound, "no such token, or it is revoked already")
                }
                Err(e) => client_exit(e),
            }
        }
    }
}

async fn calendar(state: &AppState, cmd: CalendarCommand) -> Exit {
    use crate::domain::calendar::{parse_lines, to_lines};
    use crate::service::calendar::{self, SetError};
    let refused = |e: SetError| match e {
        SetError::Store(e) => fail(Exit::Failure, e),
        e => fail(Exit::Invalid, e),
    };
    match cmd {
        CalendarCommand::Show { year } => match calendar::year(state, year).await {
            Ok(days) => {
                print!("{}", to_lines(&days));
                Exit::Ok
            }
            Err(e) => refused(e),
        },
        CalendarCommand::Set { year, file } => {
            let text = if file.as_os_str() == "-" {
                let mut text = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut text).map(|_| text)
            } else {
                std::fs::read_to_string(&file)
            };
            let text = match text {
                Ok(t) => t,
                Err(e) => return fail(Exit::Invalid, format!("{}: {e}", file.display())),
            };
            match calendar::set_year(
                state,
                year,
                parse_lines(&text),
                &Actor::cli(),
                &Origin::cli(),
            )
            .await
            {
                Ok(days) => {
                    println!("{year}: {} marked dates", days.len());
                    Exit::Ok
                }
                Err(e) => refused(e),
            }
        }
    }
}

async fn keys(state: &AppState, cmd: KeysCommand) -> Exit {
    match cmd {
        KeysCommand::List { json } => match state.keys.list().await {
            Ok(list) if json => {
                println!("{}", serde_json::to_value(&list).unwrap_or_default());
                Exit::Ok
            }
            Ok(list) => {
                println!(
                    "{:<44} {:<6} {:<20} {:<9} CREATED",
                    "KID", "ALG", "STATUS", "ENCRYPTED"
                );
                for k in &list {
                    println!(
                        "{:<44} {:<6} {:<20} {:<9} {}",
                        k.kid, k.alg, k.status, k.encrypted, k.created_at
                    );
                }
                Exit::Ok
            }
            Err(e) => fail(Exit::Failure, e),
        },
        KeysCommand::Rotate { alg, json } => {
            let algs: Vec<Alg> = match alg.as_deref().and_then(Alg::parse) {
                Some(a) => vec![a],
                None => Alg::ALL.to_vec(),
            };
            match state.keys.rotate(&algs).await {
                Ok(kids) => {
                    let entry = Entry::new("keys.rotated", Outcome::Success)
                        .actor(&Actor::cli())
                        .origin(&Origin::cli())
                        .detail(json!({ "kids": kids }));
                    if let Err(e) = entry.write(&state.store).await {
                        return fail(Exit::Failure, e);
                    }
                    if json {
                        println!("{}", json!({ "kids": kids }));
                    } else {
                        for kid in &kids {
                            println!("new signing key {kid}");
                        }
                    }
                    Exit::Ok
                }
                Err(e) => fail(Exit::Failure, e),
            }
        }
    }
}

/// `tongxing import FILE`: reads the file a batch at a time, prints every
/// refused line and the counts, and writes the per-line report if asked.
/// Exit 0: every line imported (or unchanged); 3: some lines refused (the
/// others are imported) or the file cannot be read as the format; 1: the
/// run stopped (database, I/O): what was committed stays, and running it
/// again is safe.
async fn import_accounts(
    state: &AppState,
    file: &std::path::Path,
    format: Option<&str>,
    dry_run: bool,
    report: Option<PathBuf>,
) -> Exit {
    use std::io::Write;

    use crate::service::import::{BATCH, FileError, Format, Importer, LineResult, Reader};

    let Some(format) = format
        .and_then(Format::parse)
        .or_else(|| Format::of_path(file))
    else {
        return fail(
            Exit::Invalid,
            format!(
                "{}: the name does not end in .jsonl or .csv; say which with --format jsonl|csv",
                file.display()
            ),
        );
    };
    let input = match std::fs::File::open(file) {
        Ok(f) => std::io::BufReader::with_capacity(1 << 16, f),
        Err(e) => return fail(Exit::Failure, format!("{}: {e}", file.display())),
    };
    let mut reader = match Reader::new(input, format) {
        Ok(r) => r,
        Err(FileError::Header(e)) => {
            return fail(Exit::Invalid, format!("{}: {e}", file.display()));
        }
        Err(e) => return fail(Exit::Failure, format!("{}: {e}", file.display())),
    };
    let mut report_out = match report {
        Some(path) => match std::fs::File::create(&path) {
            Ok(f) => Some((path, std::io::BufWriter::new(f))),
            Err(e) => return fail(Exit::Failure, format!("--report {}: {e}", path.display())),
        },
        None => None,
    };
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut importer = Importer::new(state, dry_run, Actor::cli(), Origin::cli());
    let mut stopped: Option<String> = None;
    loop {
        let mut lines = Vec::with_capacity(BATCH);
        while lines.len() < BATCH {
            match reader.next_line() {
                Ok(Some(line)) => lines.push(line),
                Ok(None) => break,
                Err(e) => {
                    stopped = Some(format!("reading {}: {e}", file.display()));
                    break;
                }
            }
        }
        if lines.is_empty() {
            break;
        }
        let reports = match importer.batch(lines).await {
            Ok(r) => r,
            Err(e) => {
                stopped = Some(e.to_string());
                break;
            }
        };
        for r in &reports {
            if r.result == LineResult::Refused {
                let field = r.field.map(|f| format!("{f}: ")).unwrap_or_default();
                println!(
                    "line {}: {}: refused: {field}{}",
                    r.line,
                    r.username.as_deref().unwrap_or("-"),
                    r.reason.as_deref().unwrap_or_default()
                );
            }
            if let Some((path, w)) = &mut report_out {
                let line = serde_json::to_string(r).unwrap_or_default();
                if let Err(e) = writeln!(w, "{line}") {
                    stopped = Some(format!("--report {}: {e}", path.display()));
                }
            }
        }
        if stopped.is_some() {
            break;
        }
    }
    if let Some((path, w)) = &mut report_out
        && let Err(e) = w.flush()
    {
        stopped.get_or_insert(format!("--report {}: {e}", path.display()));
    }
    let summary = match importer.finish(&name, format, stopped.is_none()).await {
        Ok(s) => s,
        Err(e) => return fail(Exit::Failure, e),
    };
    println!(
        "{}: {} lines: {} created, {} updated, {} unchanged, {} refused{}",
        file.display(),
        summary.lines,
        summary.created,
        summary.updated,
        summary.unchanged,
        summary.refused,
        if dry_run {
            " (dry run: nothing was written)"
        } else {
            ""
        }
    );
    if let Some(e) = stopped {
        return fail(
            Exit::Failure,
            format!(
                "the import stopped after {} lines: {e}; what was imported stays, and running it again is safe",
                summary.lines
            ),
        );
    }
    if summary.refused > 0 {
        Exit::Invalid
    } else {
        Exit::Ok
    }
}
