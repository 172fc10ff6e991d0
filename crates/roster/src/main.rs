//! The `roster` binary: configuration, start-up and shutdown.

use std::net::SocketAddr;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use roster_app::{App, Config, Secret};
use roster_core::throttle::ThrottlePolicy;
use roster_store::ConnectOptions;
use tracing_subscriber::EnvFilter;

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
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Add a new signing key and retire the current ones; they stay in the
    /// JWKS until the tokens they signed have expired.
    Rotate(DatabaseArgs),
}

#[derive(Debug, Args)]
struct DatabaseArgs {
    /// `sqlite:<file>` (created if missing) or `postgres://user@host/db`.
    #[arg(long, env = "ROSTER_DATABASE_URL", default_value = "sqlite:roster.db")]
    database_url: String,
    /// SQLite durability: FULL (an acknowledged write survives a machine
    /// crash), NORMAL (survives a process crash) or OFF.
    #[arg(long, env = "ROSTER_SQLITE_SYNCHRONOUS", default_value = "FULL", value_parser = ["FULL", "NORMAL", "OFF", "EXTRA"])]
    sqlite_synchronous: String,
    /// The most database connections to hold open.
    #[arg(long, env = "ROSTER_MAX_CONNECTIONS", default_value_t = 10)]
    max_connections: u32,
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
    #[arg(long, env = "ROSTER_ACCESS_TOKEN_TTL", default_value_t = 900)]
    access_token_ttl: i64,
    /// Lifetime of auth tokens (a global account's), in seconds.
    #[arg(long, env = "ROSTER_AUTH_TOKEN_TTL", default_value_t = 86_400)]
    auth_token_ttl: i64,
    /// How long an invitation can be accepted, in seconds.
    #[arg(long, env = "ROSTER_INVITATION_TTL", default_value_t = 604_800)]
    invitation_ttl: i64,
    /// Consecutive failed sign-ins of one login before it locks (for 1
    /// minute, doubling with each further failure, at most a day).
    #[arg(long, env = "ROSTER_LOGIN_MAX_FAILURES", default_value_t = 10)]
    login_max_failures: i64,
    /// Failed sign-ins one client address may make per minute.
    #[arg(long, env = "ROSTER_LOGIN_ADDRESS_LIMIT", default_value_t = 60)]
    login_address_limit: i64,
    #[command(flatten)]
    database: DatabaseArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Json,
    Text,
}

impl DatabaseArgs {
    fn options(&self) -> ConnectOptions {
        ConnectOptions {
            url: self.database_url.clone(),
            sqlite_synchronous: self.sqlite_synchronous.clone(),
            max_connections: self.max_connections,
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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let filter = EnvFilter::try_new(&cli.log).context("invalid log filter")?;
    let logs = tracing_subscriber::fmt().with_env_filter(filter);
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
        Command::Keys {
            command: KeysCommand::Rotate(db),
        } => {
            let store = roster_store::connect(&db.options()).await?;
            let kid = roster_app::tokens::rotate(store.as_ref(), chrono::Utc::now()).await?;
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
    let seconds = |name: &str, value: i64| {
        anyhow::ensure!(value > 0, "{name} must be a positive number of seconds");
        Ok(chrono::Duration::seconds(value))
    };
    let config = Config {
        admin_token: args.admin_token,
        access_token_ttl: seconds("ROSTER_ACCESS_TOKEN_TTL", args.access_token_ttl)?,
        auth_token_ttl: seconds("ROSTER_AUTH_TOKEN_TTL", args.auth_token_ttl)?,
        invitation_ttl: seconds("ROSTER_INVITATION_TTL", args.invitation_ttl)?,
        throttle: ThrottlePolicy {
            max_failures: args.login_max_failures.max(1),
            address_per_minute: args.login_address_limit.max(1),
        },
    };
    let app = roster_http::router(App::new(store, config));
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    tracing::info!(addr = %listener.local_addr()?, "roster is serving");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await?;
    tracing::info!("roster stopped");
    Ok(())
}

/// Resolves on SIGTERM or Ctrl-C; in-flight requests then drain.
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
    tracing::info!("shutting down: draining in-flight requests");
}
