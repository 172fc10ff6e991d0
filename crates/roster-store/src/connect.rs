//! Why a database cannot be opened, in words an operator can act on: the
//! PostgreSQL server's address or the SQLite file's path, and the reason,
//! never the URL's password.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::Connection;

use crate::ConnectError;

/// How long the first connection to PostgreSQL may take before the start
/// gives up (the pool alone would retry a refused connection for 30 s and
/// then report only that it timed out).
pub const POSTGRES_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Connects once to the PostgreSQL server `url` names, so that a server
/// that refuses, does not answer or turns the credentials down stops the
/// start at once, naming its address and the reason. The address, for
/// [`postgres_failure`].
pub(crate) async fn reach_postgres(url: &str) -> Result<String, ConnectError> {
    let options = PgConnectOptions::from_str(url).map_err(|e| ConnectError::Url(e.to_string()))?;
    let address = postgres_address(&options);
    let refused = |reason: String| ConnectError::Postgres {
        address: address.clone(),
        reason,
    };
    match tokio::time::timeout(
        POSTGRES_CONNECT_TIMEOUT,
        sqlx::PgConnection::connect_with(&options),
    )
    .await
    {
        Ok(Ok(connection)) => {
            let _ = connection.close().await;
            Ok(address)
        }
        Ok(Err(error)) => Err(refused(reason(&error))),
        Err(_) => Err(refused(format!(
            "no answer within {} s",
            POSTGRES_CONNECT_TIMEOUT.as_secs()
        ))),
    }
}

/// Why PostgreSQL at `address`, reached once, still did not open.
pub(crate) fn postgres_failure(address: String, error: ConnectError) -> ConnectError {
    match error {
        ConnectError::Open(e) => ConnectError::Postgres {
            address,
            reason: reason(&e),
        },
        other => other,
    }
}

/// `host:port` (brackets around an IPv6 address), or the socket directory.
fn postgres_address(options: &PgConnectOptions) -> String {
    if let Some(socket) = options.get_socket() {
        return format!("{} (port {})", socket.display(), options.get_port());
    }
    // The URL's host keeps an IPv6 address's brackets.
    let host = options.get_host();
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{}", options.get_port())
    } else {
        format!("{host}:{}", options.get_port())
    }
}

/// The SQLite file `url` names, as the start reports it.
pub(crate) fn sqlite_path(url: &str) -> String {
    match SqliteConnectOptions::from_str(url) {
        Ok(options) => options.get_filename().display().to_string(),
        Err(_) => url.trim_start_matches("sqlite:").to_string(),
    }
}

/// Why the SQLite file at `path` did not open: `error`, and what to check.
pub(crate) fn sqlite_failure(path: &str, error: ConnectError) -> ConnectError {
    let reason = match &error {
        ConnectError::Open(e) => reason(e),
        ConnectError::Migrate(e) => format!("cannot apply migrations: {e}"),
        other => other.to_string(),
    };
    let directory = Path::new(path)
        .parent()
        .filter(|d| !d.as_os_str().is_empty());
    let reason = match directory {
        Some(directory) if !directory.is_dir() => {
            format!(
                "{reason} (the directory {} does not exist)",
                directory.display()
            )
        }
        _ if reason.contains("unable to open database file") => format!(
            "{reason} (is it a file this user may read and write, in a directory it may write?)"
        ),
        _ => reason,
    };
    ConnectError::Sqlite {
        path: path.to_string(),
        reason,
    }
}

/// A database error as one short sentence: the server's or the operating
/// system's words, without sqlx's wrapping.
fn reason(error: &sqlx::Error) -> String {
    match error {
        sqlx::Error::Io(io) => match io.kind() {
            std::io::ErrorKind::ConnectionRefused => "connection refused".into(),
            std::io::ErrorKind::TimedOut => "the connection timed out".into(),
            _ => io.to_string(),
        },
        sqlx::Error::Database(db) => db.message().to_string(),
        sqlx::Error::Tls(tls) => format!("TLS failed: {tls}"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_name_host_and_port() {
        let address = |url: &str| postgres_address(&PgConnectOptions::from_str(url).unwrap());
        assert_eq!(
            address("postgres://u:pw@db.internal:6543/x"),
            "db.internal:6543"
        );
        assert_eq!(address("postgres://u@[::1]:5432/x"), "[::1]:5432");
    }

    #[tokio::test]
    async fn a_refused_server_is_named_at_once_without_the_password() {
        let started = std::time::Instant::now();
        let error = reach_postgres("postgres://roster:s3cret-pw@127.0.0.1:1/x")
            .await
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "cannot connect to PostgreSQL at 127.0.0.1:1: connection refused"
        );
        assert!(started.elapsed() < POSTGRES_CONNECT_TIMEOUT);
    }

    #[test]
    fn a_missing_directory_is_named() {
        let path = "/nonexistent-roster-dir/roster.db";
        let error = sqlite_failure(
            path,
            ConnectError::Open(sqlx::Error::Protocol("unable to open database file".into())),
        )
        .to_string();
        assert!(
            error
                .starts_with("cannot open the SQLite database /nonexistent-roster-dir/roster.db: "),
            "{error}"
        );
        assert!(
            error.contains("the directory /nonexistent-roster-dir does not exist"),
            "{error}"
        );
        assert_eq!(sqlite_path("sqlite:/tmp/x/roster.db"), "/tmp/x/roster.db");
    }
}
