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
    /// Cache-relevant changes committed by this store (see `finish_change`).
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

/// A write's connection. PostgreSQL already lets concurrent commits share
/// one WAL flush, so each write is its own transaction on a pooled
/// connection.
pub(crate) struct Slot<'a> {
    conn: sqlx::pool::PoolConnection<Db>,
    _store: std::marker::PhantomData<&'a SqlStore>,
}

impl Slot<'_> {
    /// Starts the write's transaction.
    pub(crate) async fn begin(&mut self) -> Result<sqlx::Transaction<'_, Db>, sqlx::Error> {
        sqlx::Connection::begin(&mut *self.conn).await
    }

    /// After the transaction committed: it is durable already.
    pub(crate) async fn finish(self) -> Result<(), sqlx::Error> {
        Ok(())
    }
}

impl SqlStore {
    /// A connection for one write.
    pub(crate) async fn writer(&self) -> Result<Slot<'_>, sqlx::Error> {
        Ok(Slot {
            conn: self.write.acquire().await?,
            _store: std::marker::PhantomData,
        })
    }
}

// The shared SQL, compiled here against this engine's `Db`, `LOCK` and
// `SqlStore`; the other engine compiles the same files, on purpose (hence
// the allow, which covers the files `sql/mod.rs` declares too).
#[allow(clippy::duplicate_mod)]
#[path = "sql/mod.rs"]
mod sql;
