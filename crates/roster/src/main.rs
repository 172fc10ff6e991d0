//! The `roster` binary: configuration, start-up and shutdown.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use roster_app::config::{defaults, PoolSize};
use roster_app::sealing::KeyEncryptionKey;
use roster_app::{App, Config, EventsConfig, Secret, TrustedProxies};
use roster_core::events::RetrySchedule;
use roster_core::throttle::ThrottlePolicy;
use roster_http::Limits;
use roster_store::{ConnectOptions, SqliteSynchronous};
use tracing_subscriber::EnvFilter;

mod transfer;

/// Roster: the users of a commerce platform and what they may do.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log format: `json` (one object per line) or `text`.
    #[arg(long, env = "ROSTER_LOG_FORMAT", value_enum, default_value_t = LogFormat::Json, global = true)]
    log_format: LogFormat,
    /// Log filter, in `tracing` syntax (e.g. `info`, `roster=debug`).
    #[arg(long, env = "ROSTER_LOG", default_value = "info", global = true)]
    log: String,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP server (applies pending migrations first).
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate(DatabaseArgs),
    /// Manage the keys that sign access and auth tokens.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Import users from JSON lines or CSV (by extension; `-` reads JSON
    /// lines from standard input): each line a `/v1` user, plus an optional
    /// `password_hash` made by another system. A line matches a user by
    /// `external_id` (source `IMPORT` unless given), else by email, and
    /// updates the fields it gives; a re-run changes nothing. Refused lines
    /// are reported as `line <n>: <field>: <reason>`; the exit code is 1
    /// when any was refused. Works while a server runs on the database.
    Import(ImportArgs),
    /// Write a tenant's users as JSON lines (or CSV) that `roster import`
    /// reads back; no secrets unless `--with-password-hashes`.
    Export(ExportArgs),
}

#[derive(Debug, Args)]
struct ImportArgs {
    /// The tenant's uid.
    #[arg(long)]
    tenant: String,
    /// The file to import, or `-` for standard input.
    file: std::path::PathBuf,
    /// The file's format, when its extension does not say.
    #[arg(long, value_enum)]
    format: Option<transfer::Format>,
    /// Check every line and write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Write each refused line, as it was, to this file.
    #[arg(long)]
    rejects: Option<std::path::PathBuf>,
    #[command(flatten)]
    database: DatabaseArgs,
}

#[derive(Debug, Args)]
struct ExportArgs {
    /// The tenant's uid.
    #[arg(long)]
    tenant: String,
    /// JSON lines (default) or CSV with a header row.
    #[arg(long, value_enum, default_value_t = transfer::Format::Jsonl)]
    format: transfer::Format,
    /// Include each user's stored password hash (`password_hash`).
    #[arg(long)]
    with_password_hashes: bool,
    #[command(flatten)]
    database: DatabaseArgs,
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Add a new signing key and retire the current ones; they stay in the
    /// JWKS until the tokens they signed have expired.
    Rotate(RotateArgs),
}

#[derive(Debug, Args)]
struct RotateArgs {
    #[command(flatten)]
    keys: KeyArgs,
    #[command(flatten)]
    database: DatabaseArgs,
}

#[derive(Args)]
struct DatabaseArgs {
    /// `sqlite:<file>` (created if missing) or `postgres://user@host/db`.
    #[arg(
        long,
        env = "ROSTER_DATABASE_URL",
        default_value = "sqlite:roster.db",
        hide_env_values = true
    )]
    database_url: String,
    /// SQLite durability: FULL (an acknowledged write survives a machine
    /// crash), NORMAL (survives a process crash), OFF or EXTRA.
    #[arg(long, env = "ROSTER_SQLITE_SYNCHRONOUS", default_value_t = SqliteSynchronous::default(), value_parser = sqlite_synchronous)]
    sqlite_synchronous: SqliteSynchronous,
    /// The most database connections to hold open.
    #[arg(long, env = "ROSTER_MAX_CONNECTIONS", default_value_t = ConnectOptions::DEFAULT_MAX_CONNECTIONS, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    max_connections: u32,
}

/// The signing-key options `serve` and `keys rotate` share.
#[derive(Debug, Args)]
struct KeyArgs {
    /// Seals the token-signing keys and the webhook secrets in the
    /// database: base64 of 32 random bytes (`openssl rand -base64 32`).
    /// Unset: they are stored plain, with a warning at start. Once set,
    /// keep it: what it sealed does not open without it.
    #[arg(long, env = "ROSTER_KEY_ENCRYPTION_KEY", hide_env_values = true, value_parser = key_encryption_key)]
    key_encryption_key: Option<KeyEncryptionKey>,
}

/// A positive number of seconds, up to ten years.
fn seconds() -> clap::builder::RangedI64ValueParser<u32> {
    clap::value_parser!(u32).range(1..=315_360_000)
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "ROSTER_ADDR", default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// The platform operator's token (full access to every tenant). Unset:
    /// no admin access.
    #[arg(long, env = "ROSTER_ADMIN_TOKEN", hide_env_values = true, value_parser = parse_secret)]
    admin_token: Option<Secret>,
    /// Lifetime of access tokens (a tenant user's), in seconds.
    #[arg(long, env = "ROSTER_ACCESS_TOKEN_TTL", default_value_t = defaults::ACCESS_TOKEN_TTL_SECONDS, value_parser = seconds())]
    access_token_ttl: u32,
    /// Lifetime of auth tokens (a global account's), in seconds.
    #[arg(long, env = "ROSTER_AUTH_TOKEN_TTL", default_value_t = defaults::AUTH_TOKEN_TTL_SECONDS, value_parser = seconds())]
    auth_token_ttl: u32,
    /// How long an invitation can be accepted, in seconds.
    #[arg(long, env = "ROSTER_INVITATION_TTL", default_value_t = defaults::INVITATION_TTL_SECONDS, value_parser = seconds())]
    invitation_ttl: u32,
    /// Consecutive failed sign-ins of one login before it locks (for 1
    /// minute, doubling with each further failure, at most a day).
    #[arg(long, env = "ROSTER_LOGIN_MAX_FAILURES", default_value_t = defaults::LOGIN_MAX_FAILURES, value_parser = clap::value_parser!(u32).range(1..))]
    login_max_failures: u32,
    /// Failed sign-ins one client address may make per minute.
    #[arg(long, env = "ROSTER_LOGIN_ADDRESS_LIMIT", default_value_t = defaults::LOGIN_ADDRESS_LIMIT, value_parser = clap::value_parser!(u32).range(1..))]
    login_address_limit: u32,
    /// Reverse proxies whose `X-Forwarded-For` names the client (for
    /// sign-in throttling): comma-separated CIDR blocks or addresses, e.g.
    /// `10.0.0.0/8,::1`. Unset: the TCP peer is the client.
    #[arg(long, env = "ROSTER_TRUSTED_PROXIES", default_value = "", hide_default_value = true, value_parser = trusted_proxies)]
    trusted_proxies: TrustedProxies,
    /// How often to purge expired sessions, invitations (7 days after they
    /// expire) and stale sign-in throttles, in seconds.
    #[arg(long, env = "ROSTER_PURGE_INTERVAL", default_value_t = defaults::PURGE_INTERVAL_SECONDS, value_parser = seconds())]
    purge_interval: u32,
    /// A console sign-in ends after this many seconds without a request
    /// (and 12 hours after it began, however busy).
    #[arg(long, env = "ROSTER_CONSOLE_IDLE_TIMEOUT", default_value_t = defaults::CONSOLE_IDLE_TIMEOUT_SECONDS, value_parser = seconds())]
    console_idle_timeout: u32,
    /// The bound, in milliseconds, on how late another Roster process's
    /// change (a revocation, a role change) is honoured here: changes are
    /// pushed (PostgreSQL LISTEN/NOTIFY) and usually arrive at once; while
    /// the push is late or lost past this bound the cache is not used. This
    /// process's own changes: at once. 0: no cache, every request reads the
    /// database.
    #[arg(long, env = "ROSTER_CACHE_STALENESS_MS", default_value_t = defaults::CACHE_STALENESS_MS, value_parser = clap::value_parser!(u32).range(0..=60_000))]
    cache_staleness_ms: u32,
    /// Threads that check, hash and verify passwords (each keeps its 19 MiB
    /// of Argon2id memory from its first password on). Default: one per core.
    #[arg(long, env = "ROSTER_PASSWORD_WORKERS", value_parser = clap::value_parser!(u32).range(1..=256))]
    password_workers: Option<u32>,
    /// Password jobs that may wait for a worker; past that a sign-in or a
    /// password change answers 503 with `Retry-After` at once. Default: 16
    /// per worker.
    #[arg(long, env = "ROSTER_PASSWORD_QUEUE", value_parser = clap::value_parser!(u32).range(0..=65_536))]
    password_queue: Option<u32>,
    /// A request still running after this many seconds is cancelled (its
    /// transaction rolls back) and answers 503, or 408 when its body has not
    /// arrived.
    #[arg(long, env = "ROSTER_REQUEST_TIMEOUT", default_value_t = Limits::DEFAULT_REQUEST_TIMEOUT_SECONDS, value_parser = seconds())]
    request_timeout: u32,
    /// A connection that has not sent a whole request line and headers this
    /// many seconds after it opened, or after its last response, is closed.
    #[arg(long, env = "ROSTER_HEADER_TIMEOUT", default_value_t = Limits::DEFAULT_HEADER_TIMEOUT_SECONDS, value_parser = seconds())]
    header_timeout: u32,
    /// On SIGTERM or Ctrl-C, how many seconds accepted requests have to
    /// finish; what still runs then is cut.
    #[arg(long, env = "ROSTER_SHUTDOWN_TIMEOUT", default_value_t = Limits::DEFAULT_SHUTDOWN_TIMEOUT_SECONDS, value_parser = seconds())]
    shutdown_timeout: u32,
    /// Requests served at once; one more answers 503 with `Retry-After`.
    #[arg(long, env = "ROSTER_MAX_IN_FLIGHT", default_value_t = Limits::DEFAULT_MAX_IN_FLIGHT, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    max_in_flight: u32,
    #[command(flatten)]
    events: EventArgs,
    #[command(flatten)]
    keys: KeyArgs,
    #[command(flatten)]
    database: DatabaseArgs,
}

/// How events go out: webhooks and NATS JetStream.
#[derive(Debug, Args)]
struct EventArgs {
    /// Seconds to wait before each retry of a failed webhook delivery,
    /// comma-separated; after the last, the delivery has failed and the
    /// webhook is disabled (with the reason) until PATCHed `enabled: true`.
    /// Each wait is jittered by up to a fifth either way.
    #[arg(long, env = "ROSTER_WEBHOOK_RETRY_SECONDS", default_value = defaults::WEBHOOK_RETRY_SECONDS, value_parser = retry_schedule)]
    webhook_retry_seconds: RetrySchedule,
    /// Let webhooks reach loopback, private and link-local addresses
    /// (refused by default, when a webhook is made and again at each
    /// delivery).
    #[arg(long, env = "ROSTER_WEBHOOK_ALLOW_PRIVATE", default_value = "false", action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new())]
    webhook_allow_private: bool,
    /// Seconds one webhook delivery attempt may take (connecting, sending,
    /// the answer's status).
    #[arg(long, env = "ROSTER_WEBHOOK_TIMEOUT", default_value_t = defaults::WEBHOOK_TIMEOUT_SECONDS, value_parser = clap::value_parser!(u32).range(1..=300))]
    webhook_timeout: u32,
    /// Deliveries in flight to one webhook at once, per process; a slow
    /// endpoint holds only its own.
    #[arg(long, env = "ROSTER_WEBHOOK_CONCURRENCY", default_value_t = defaults::WEBHOOK_CONCURRENCY, value_parser = clap::value_parser!(u32).range(1..=1_000))]
    webhook_concurrency: u32,
    /// NATS server (e.g. `nats://127.0.0.1:4222`): every event is also
    /// published to the JetStream stream `ROSTER` (created when missing) on
    /// `roster.<tenant uid>.<resource>.<action>`. Unset: no NATS.
    #[arg(long, env = "ROSTER_NATS_URL", hide_env_values = true, value_parser = parse_secret)]
    nats_url: Option<Secret>,
}

impl EventArgs {
    fn config(&self) -> EventsConfig {
        EventsConfig {
            retry: self.webhook_retry_seconds.clone(),
            allow_private: self.webhook_allow_private,
            timeout: Duration::from_secs(u64::from(self.webhook_timeout)),
            concurrency: self.webhook_concurrency as usize,
            nats_url: self.nats_url.clone(),
        }
    }
}

fn retry_schedule(value: &str) -> Result<RetrySchedule, String> {
    RetrySchedule::parse(value)
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Json,
    Text,
}

impl std::fmt::Debug for DatabaseArgs {
    /// `ConnectOptions`' (the URL's password hidden).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.options().fmt(f)
    }
}

impl DatabaseArgs {
    fn options(&self) -> ConnectOptions {
        ConnectOptions {
            url: self.database_url.clone(),
            sqlite_synchronous: self.sqlite_synchronous,
            max_connections: self.max_connections,
        }
    }
}

impl ServeArgs {
    /// The application's part of the configuration.
    fn config(&self) -> Config {
        let seconds = |s: u32| chrono::Duration::seconds(i64::from(s));
        Config {
            admin_token: self.admin_token.clone(),
            access_token_ttl: seconds(self.access_token_ttl),
            auth_token_ttl: seconds(self.auth_token_ttl),
            invitation_ttl: seconds(self.invitation_ttl),
            throttle: ThrottlePolicy {
                max_failures: i64::from(self.login_max_failures),
                address_per_minute: i64::from(self.login_address_limit),
            },
            trusted_proxies: self.trusted_proxies.clone(),
            key_encryption_key: self.keys.key_encryption_key.clone(),
            password_pool: self.password_pool(),
            cache_staleness: Duration::from_millis(u64::from(self.cache_staleness_ms)),
            events: self.events.config(),
            console_idle_timeout: seconds(self.console_idle_timeout),
        }
    }

    fn password_pool(&self) -> PoolSize {
        let pool = match self.password_workers {
            Some(workers) => PoolSize::for_workers(workers as usize),
            None => PoolSize::default(),
        };
        PoolSize {
            queue: self.password_queue.map_or(pool.queue, |q| q as usize),
            ..pool
        }
    }

    /// The HTTP layer's limits.
    fn limits(&self) -> Limits {
        let seconds = |s: u32| Duration::from_secs(u64::from(s));
        Limits {
            request_timeout: seconds(self.request_timeout),
            max_in_flight: self.max_in_flight as usize,
            header_timeout: seconds(self.header_timeout),
            shutdown_timeout: seconds(self.shutdown_timeout),
        }
    }
}

/// A secret from the command line or the environment; never printed.
fn parse_secret(value: &str) -> Result<Secret, String> {
    if value.is_empty() {
        return Err("must not be empty".into());
    }
    Ok(Secret::new(value))
}

fn sqlite_synchronous(value: &str) -> Result<SqliteSynchronous, String> {
    value.parse()
}

fn key_encryption_key(value: &str) -> Result<KeyEncryptionKey, String> {
    KeyEncryptionKey::parse(value)
}

fn trusted_proxies(value: &str) -> Result<TrustedProxies, String> {
    TrustedProxies::parse(value)
}

/// Parses the command line and environment. A refused value names the
/// variable it came from, when it came from one (clap names only the flag),
/// and a refused secret is not echoed.
fn parse_cli() -> Cli {
    Cli::try_parse().unwrap_or_else(|error| {
        let Some(arg) = refused_arg(&error) else {
            error.exit()
        };
        let long = arg.get_long().unwrap_or_default();
        if arg.is_hide_env_values_set() {
            let reason = std::error::Error::source(&error)
                .map(|e| e.to_string())
                .unwrap_or_else(|| "invalid".into());
            eprintln!("error: invalid value for '--{long}': {reason}");
        } else {
            let _ = error.print();
        }
        let on_command_line = std::env::args().any(|a| {
            a.strip_prefix("--")
                .is_some_and(|a| a == long || a.starts_with(&format!("{long}=")))
        });
        if let Some(variable) = arg.get_env().filter(|_| !on_command_line) {
            if std::env::var_os(variable).is_some() {
                eprintln!(
                    "note: the value came from the environment variable {}",
                    variable.to_string_lossy()
                );
            }
        }
        std::process::exit(2)
    })
}

/// The argument whose value `error` refused, if it refused one.
fn refused_arg(error: &clap::Error) -> Option<clap::Arg> {
    use clap::error::{ContextKind, ContextValue};
    let ContextValue::String(arg) = error.get(ContextKind::InvalidArg)? else {
        return None;
    };
    let long = arg.split_whitespace().next()?.strip_prefix("--")?;
    let command = Cli::command();
    let mut commands = vec![&command];
    commands.extend(command.get_subcommands());
    commands.extend(command.get_subcommands().flat_map(|c| c.get_subcommands()));
    let found = commands
        .iter()
        .flat_map(|c| c.get_arguments())
        .find(|a| a.get_long() == Some(long))
        .cloned();
    found
}

/// Runs the command. A failure prints one line to stderr, `error: ` and
/// what failed with its causes (no backtrace, no `Debug` dump), and exits
/// with 1; a refused setting exits with 2 (see [`parse_cli`]).
/// mimalloc rather than glibc's allocator: glibc gives each thread that
/// allocates an arena of its own (up to eight per core) and keeps what is
/// freed in them, so a server whose rows are made on sqlx's worker threads
/// and freed on tokio's grows with every load it has seen; mimalloc hands
/// freed pages back to the system. Measured in `docs/benchmarks.md`,
/// "Fifth round".
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run(parse_cli()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", one_line(&error));
            std::process::ExitCode::FAILURE
        }
    }
}

/// An error and its causes on one line, `outer: cause: root`, leaving out a
/// cause its outer message already quotes.
fn one_line(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(&cli.log).context("invalid log filter")?;
    // Import and export write their report and data on standard output:
    // their logs go to standard error.
    let to_stderr = matches!(cli.command, Command::Import(_) | Command::Export(_));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(move || -> Box<dyn std::io::Write> {
            if to_stderr {
                Box::new(std::io::stderr())
            } else {
                Box::new(std::io::stdout())
            }
        });
    match cli.log_format {
        LogFormat::Json => logs.json().flatten_event(true).init(),
        LogFormat::Text => logs.init(),
    }
    match cli.command {
        Command::Migrate(db) => {
            roster_store::connect(&db.options()).await?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::Serve(args) => serve(args).await,
        Command::Import(args) => {
            let store = roster_store::connect(&args.database.options()).await?;
            let app = App::new(store, Config::default());
            let summary = transfer::import(
                &app,
                &args.tenant,
                &args.file,
                args.format,
                args.dry_run,
                args.rejects.as_ref(),
            )
            .await?;
            if summary.rejected > 0 {
                anyhow::bail!("{} lines were refused", summary.rejected);
            }
            Ok(())
        }
        Command::Export(args) => {
            let store = roster_store::connect(&args.database.options()).await?;
            let app = App::new(store, Config::default());
            let written =
                transfer::export(&app, &args.tenant, args.format, args.with_password_hashes)
                    .await?;
            tracing::info!(users = written, "export written");
            Ok(())
        }
        Command::Keys {
            command: KeysCommand::Rotate(args),
        } => {
            let store = roster_store::connect(&args.database.options()).await?;
            let kek = args.keys.key_encryption_key.as_ref();
            let kid = roster_app::tokens::rotate(store.as_ref(), kek, chrono::Utc::now())
                .await
                .context("cannot rotate the signing keys (is ROSTER_KEY_ENCRYPTION_KEY right?)")?;
            tracing::info!(kid = %kid, "signing key rotated");
            println!("{kid}");
            Ok(())
        }
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let store = roster_store::connect(&args.database.options()).await?;
    if args.admin_token.is_none() {
        tracing::warn!(
            "ROSTER_ADMIN_TOKEN is not set: the admin API (tenants, accounts) is disabled"
        );
    }
    if args.keys.key_encryption_key.is_none() {
        tracing::warn!(
            "ROSTER_KEY_ENCRYPTION_KEY is not set: token-signing keys and webhook secrets are \
             stored unencrypted in the database"
        );
    }
    let app = App::new(store, args.config());
    app.prepare_signing_keys()
        .await
        .context("cannot load the token-signing keys (is ROSTER_KEY_ENCRYPTION_KEY right?)")?;
    let purge = tokio::spawn(
        app.clone()
            .purge_every(Duration::from_secs(u64::from(args.purge_interval))),
    );
    let dispatch = tokio::spawn(app.dispatcher().run());
    let publish = tokio::spawn(app.clone().publish_to_nats());
    let limits = args.limits();
    let router = roster_http::router_with_limits(app, limits);
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    tracing::info!(addr = %listener.local_addr()?, "roster is serving");
    let stopped = roster_http::serve(listener, router, limits, shutdown_signal()).await;
    purge.abort();
    // Deliveries cut short here are claimed again after their lease.
    dispatch.abort();
    publish.abort();
    match stopped {
        roster_http::Stopped::Drained => tracing::info!("roster stopped"),
        roster_http::Stopped::CutShort { connections } => tracing::warn!(
            connections,
            "roster stopped: ROSTER_SHUTDOWN_TIMEOUT passed with connections still open; \
             their requests are cut"
        ),
    }
    Ok(())
}

/// Resolves on SIGTERM or Ctrl-C; accepted requests then drain.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: no new connections; draining accepted requests");
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "admin-token-do-not-print";
    const KEK: &str = "c2VjcmV0LWtleS1lbmNyeXB0aW9uLWtleS0zMmJ5dGU=";
    const DB_PASSWORD: &str = "db-password-do-not-print";

    fn serve_args(args: &[&str]) -> ServeArgs {
        let mut all = vec!["roster", "serve"];
        all.extend_from_slice(args);
        match Cli::try_parse_from(all).unwrap().command {
            Command::Serve(args) => args,
            other => panic!("not serve: {other:?}"),
        }
    }

    #[test]
    fn an_error_and_its_causes_read_as_one_line() {
        let root = std::io::Error::new(std::io::ErrorKind::AddrInUse, "address in use");
        let error = anyhow::Error::new(root).context("cannot listen on 127.0.0.1:8080");
        assert_eq!(
            one_line(&error),
            "cannot listen on 127.0.0.1:8080: address in use"
        );
        let quoted =
            anyhow::anyhow!("cannot open the database: disk\nfull").context("cannot start");
        assert_eq!(
            one_line(&quoted),
            "cannot start: cannot open the database: disk full"
        );
    }

    #[test]
    fn no_secret_shows_in_debug_output() {
        let url = format!("postgres://roster:{DB_PASSWORD}@db.internal/roster");
        let args = serve_args(&[
            "--admin-token",
            TOKEN,
            "--key-encryption-key",
            KEK,
            "--database-url",
            &url,
            "--nats-url",
            &format!("nats://roster:{DB_PASSWORD}@nats.internal:4222"),
        ]);
        let config = args.config();
        let key = roster_app::tokens::generate_key(chrono::Utc::now());
        let shown = format!(
            "{args:?}\n{config:?}\n{:?}\n{key:?}",
            args.database.options()
        );
        for secret in [TOKEN, KEK, DB_PASSWORD, key.private_key.as_str()] {
            assert!(!shown.contains(secret), "{secret} shows in:\n{shown}");
        }
        assert!(shown.contains("<redacted>"));
        assert!(config.key_encryption_key.is_some() && config.admin_token.is_some());
    }

    #[test]
    fn defaults_are_the_applications() {
        let config = serve_args(&[]).config();
        let defaults = Config::default();
        assert_eq!(config.access_token_ttl, defaults.access_token_ttl);
        assert_eq!(config.auth_token_ttl, defaults.auth_token_ttl);
        assert_eq!(config.invitation_ttl, defaults.invitation_ttl);
        assert_eq!(config.throttle, defaults.throttle);
        assert_eq!(config.trusted_proxies, defaults.trusted_proxies);
        assert_eq!(config.cache_staleness, defaults.cache_staleness);
        assert_eq!(config.console_idle_timeout, defaults.console_idle_timeout);
        let args = serve_args(&[]);
        assert_eq!(args.limits(), Limits::default());
        assert_eq!(args.database.sqlite_synchronous, SqliteSynchronous::Full);
        assert_eq!(args.purge_interval, defaults::PURGE_INTERVAL_SECONDS);
        let (events, expected) = (config.events, EventsConfig::default());
        assert_eq!(events.retry, expected.retry);
        assert_eq!(events.allow_private, expected.allow_private);
        assert_eq!(events.timeout, expected.timeout);
        assert_eq!(events.concurrency, expected.concurrency);
        assert!(events.nats_url.is_none());
    }

    #[test]
    fn closed_sets_and_ranges_are_refused_not_defaulted() {
        for bad in [
            &["--sqlite-synchronous", "fulll"][..],
            &["--access-token-ttl", "0"],
            &["--access-token-ttl=-5"],
            &["--trusted-proxies", "10.0.0.0/8,not-an-address"],
            &["--key-encryption-key", "dG9vLXNob3J0"],
            &["--max-connections", "0"],
            &["--header-timeout", "0"],
            &["--shutdown-timeout=-1"],
            &["--webhook-retry-seconds", "5,0"],
            &["--webhook-retry-seconds", "soon"],
            &["--webhook-allow-private", "maybe"],
            &["--webhook-concurrency", "0"],
        ] {
            let mut all = vec!["roster", "serve"];
            all.extend_from_slice(bad);
            let error = Cli::try_parse_from(all).unwrap_err();
            assert_eq!(
                error.kind(),
                clap::error::ErrorKind::ValueValidation,
                "{bad:?}"
            );
            let arg = refused_arg(&error).expect("names the argument");
            let flag = bad[0].split('=').next().unwrap();
            assert_eq!(Some(&flag[2..]), arg.get_long(), "{bad:?}");
        }
        let args = serve_args(&[
            "--sqlite-synchronous",
            "normal",
            "--trusted-proxies",
            "10.0.0.0/8",
        ]);
        assert_eq!(args.database.sqlite_synchronous, SqliteSynchronous::Normal);
        assert!(args.trusted_proxies.trusts("10.1.2.3".parse().unwrap()));
        let args = serve_args(&[
            "--webhook-retry-seconds",
            "1,2",
            "--webhook-allow-private",
            "true",
        ]);
        let events = args.config().events;
        assert_eq!(events.retry, RetrySchedule::parse("1,2").unwrap());
        assert!(events.allow_private);
    }
}
