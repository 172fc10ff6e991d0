//! SQLite: the embedded default, one file, no set-up.
//!
//! Durability: WAL with `synchronous=FULL` by default, so an acknowledged
//! write survives a crash of the process or of the machine. Writes go through
//! a pool of one connection, so transactions never race for SQLite's single
//! write lock (no `SQLITE_BUSY` upgrades); reads use their own pool and run
//! alongside.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::{ConnectError, ConnectOptions};

type Db = sqlx::Sqlite;

/// SQLite serialises writers, so rows need no lock of their own.
const LOCK: &str = "";

/// The store on SQLite.
pub struct SqlStore {
    read: sqlx::Pool<Db>,
    write: sqlx::Pool<Db>,
    /// Cache-relevant changes committed by this store (see `commit_change`).
    changes: std::sync::atomic::AtomicU64,
}

impl SqlStore {
    /// Opens (creating if missing) the file and applies migrations.
    pub async fn connect(options: &ConnectOptions) -> Result<Self, ConnectError> {
        let synchronous = match options.sqlite_synchronous {
            crate::SqliteSynchronous::Off => SqliteSynchronous::Off,
            crate::SqliteSynchronous::Normal => SqliteSynchronous::Normal,
            crate::SqliteSynchronous::Full => SqliteSynchronous::Full,
            crate::SqliteSynchronous::Extra => SqliteSynchronous::Extra,
        };
        let connect = SqliteConnectOptions::from_str(&options.url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(synchronous)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(connect.clone())
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&write).await?;
        let read = SqlitePoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .connect_with(connect.read_only(true))
            .await?;
        Ok(SqlStore {
            read,
            write,
            changes: Default::default(),
        })
    }
}

// The shared SQL, compiled here against this engine's `Db`, `LOCK` and
// `SqlStore`; the other engine compiles the same files, on purpose (hence
// the allow, which covers the files `sql/mod.rs` declares too).
#[allow(clippy::duplicate_mod)]
#[path = "sql/mod.rs"]
mod sql;
