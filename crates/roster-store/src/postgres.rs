//! PostgreSQL: the production engine. Any number of Roster processes can
//! share one database; row locks serialise conflicting writes.

use sqlx::postgres::PgPoolOptions;

use crate::{ConnectError, ConnectOptions};

type Db = sqlx::Postgres;

/// Locks the rows a transaction reads before changing them; `NO KEY` lets
/// inserts that merely reference the row go on.
const LOCK: &str = " FOR NO KEY UPDATE";

/// The store on PostgreSQL.
pub struct SqlStore {
    read: sqlx::Pool<Db>,
    write: sqlx::Pool<Db>,
    /// Cache-relevant changes committed by this store (see `commit_change`).
    changes: std::sync::atomic::AtomicU64,
}

impl SqlStore {
    /// Connects and applies migrations.
    pub async fn connect(options: &ConnectOptions) -> Result<Self, ConnectError> {
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(2))
            .connect(&options.url)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(SqlStore {
            read: pool.clone(),
            write: pool,
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
